/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Accounting: the health counters, the stats of a VM as used by a process (found or
 * created: one lookup per program, for the VM and the process at once), their named
 * updates, and the stall gauges.
 */
#ifndef MSMVM_BPF_STATS_H
#define MSMVM_BPF_STATS_H

static const struct msmvm_stats zero_stats;

static __always_inline void health_inc(__u32 id)
{
	__u64 *v = bpf_map_lookup_elem(&health, &id);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* ---- the open-addressed tables: jobs and vm_gauges (maps.bpf.h, abi.h) ---- */

#define JOB_SLOT_MASK ((1U << JOB_SLOTS_LOG2) - 1)
#define VM_GAUGE_SLOT_MASK ((1U << MSMVM_VM_GAUGE_SLOTS_LOG2) - 1)

/* A job's record, claimed if `claim` and not there; NULL: none (or the table is full). */
static __always_inline struct job_slot *job_slot_get(__u64 job, __u32 scope, bool claim)
{
	__u32 h = msmvm_slot_hash(job, scope, JOB_SLOTS_LOG2);

	for (__u32 i = 0; i < MSMVM_TABLE_PROBES; i++) {
		__u32 idx = (h + i) & JOB_SLOT_MASK;
		struct job_slot *j = bpf_map_lookup_elem(&jobs, &idx);

		if (!j)
			continue;
		if (j->job == job && j->scope == scope)
			return j;
		/* the job's own count is the only claimant of its record: no race on scope */
		if (claim && !j->job && __sync_val_compare_and_swap(&j->job, 0, job) == 0) {
			j->scope = scope;
			return j;
		}
	}
	if (claim)
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	return NULL;
}

/* A VM's gauges, claimed if not there; NULL: VM 0, or the table is full. */
static __always_inline struct msmvm_vm_gauge *vm_gauge_get(__u64 vm, __u32 scope)
{
	__u32 h = msmvm_slot_hash(vm, scope, MSMVM_VM_GAUGE_SLOTS_LOG2);

	if (!vm)
		return NULL;
	for (__u32 i = 0; i < MSMVM_TABLE_PROBES; i++) {
		__u32 idx = (h + i) & VM_GAUGE_SLOT_MASK;
		struct msmvm_vm_gauge *g = bpf_map_lookup_elem(&vm_gauges, &idx);

		if (!g)
			continue;
		if (g->vm == vm && g->ready && g->scope == scope)
			return g;
		if (!g->vm && __sync_val_compare_and_swap(&g->vm, 0, vm) == 0) {
			g->scope = scope;
			asm volatile("" ::: "memory");	/* scope before ready (a reader that
							 * sees them apart claims a second slot) */
			g->ready = 1;
			return g;
		}
	}
	health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	return NULL;
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0, shift;

	if (!v)
		return 0;
	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r = shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	r += 1;		/* slot i holds [2^(i-1), 2^i) */
	return r < MSMVM_HIST_SLOTS ? r : MSMVM_HIST_SLOTS - 1;
}

static __always_inline void hist_add(struct msmvm_stats *s, __u32 h, __u64 v)
{
	__u32 slot = log2_slot(v);

	if (h < MSMVM_HIST_COUNT_ && slot < MSMVM_HIST_SLOTS)
		__sync_fetch_and_add(&s->hist[h].slots[slot], 1);
}

static __always_inline void max_u64(__u64 *slot, __u64 v)
{
	__u64 cur = *slot;

	/* a few tries are plenty: a lost race only happens against a concurrent larger value */
	for (int i = 0; i < 4 && v > cur; i++) {
		__u64 old = __sync_val_compare_and_swap(slot, cur, v);

		if (old == cur)
			break;
		cur = old;
	}
}

static __always_inline void max_s64(__s64 *slot, __s64 v)
{
	__s64 cur = *slot;

	for (int i = 0; i < 4 && v > cur; i++) {
		__s64 old = __sync_val_compare_and_swap(slot, cur, v);

		if (old == cur)
			break;
		cur = old;
	}
}

/* A VM as used by a process: its stats, created if new and `create`. */
static __always_inline struct msmvm_stats *usage_get(__u64 vm, __u32 tgid, bool create)
{
	struct msmvm_usage_key key = { .vm = vm, .scope = VM_SCOPE(tgid), .tgid = tgid };
	struct msmvm_stats *s = bpf_map_lookup_elem(&usage, &key);
	struct msmvm_vm_key vk = { .vm = vm, .scope = key.scope };

	if (s || !create)
		return s;
	bpf_map_update_elem(&usage, &key, &zero_stats, BPF_NOEXIST);	/* EEXIST: another CPU won */
	s = bpf_map_lookup_elem(&usage, &key);
	if (!s)
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	/* a new user of the VM: the owner of its frees we did not see bound */
	bpf_map_update_elem(&vm_owner, &vk, &tgid, BPF_ANY);
	return s;
}

/* ---- the updates ---- */

/* A VM_BIND call returned. */
static __always_inline void stats_add_bind(struct msmvm_stats *s, __u32 nr_ops, int ret,
					   __u64 ioctl_ns, __u64 now)
{
	__sync_fetch_and_add(&s->c.binds, 1);
	__sync_fetch_and_add(&s->c.ops, nr_ops);
	if (ret < 0) {
		__u32 e = msmvm_errno_slot(ret);

		__sync_fetch_and_add(&s->c.errors, 1);
		if (e < MSMVM_ERR_SLOTS_)
			__sync_fetch_and_add(&s->c.errno_counts[e], 1);
	}
	hist_add(s, MSMVM_HIST_IOCTL_NS, ioctl_ns);
	s->last_seen_ns = now;
}

/* A wait in the throttle that slept. */
static __always_inline void stats_add_wait(struct msmvm_stats *s, __u64 wait_ns)
{
	__sync_fetch_and_add(&s->c.waits, 1);
	__sync_fetch_and_add(&s->c.wait_ns_total, wait_ns);
	max_u64(&s->c.wait_ns_max, wait_ns);
	hist_add(s, MSMVM_HIST_WAIT_NS, wait_ns);
}

/* Pages added to in_flight by one bind. */
static __always_inline void stats_add_counted(struct msmvm_stats *s, __u32 count)
{
	__sync_fetch_and_add(&s->c.pages_counted, count);
	hist_add(s, MSMVM_HIST_PAGES_PER_BIND, count);
}

/* A job freed: pages used, its drift, its overcount (of a job that counted any). */
static __always_inline void stats_add_free(struct msmvm_stats *s, __u32 count, __u32 used,
					   __s64 drift)
{
	__sync_fetch_and_add(&s->c.pages_used, used);
	if (drift)
		__sync_fetch_and_add((__u64 *)&s->c.drift, (__u64)drift);
	if (count) {
		hist_add(s, MSMVM_HIST_OVERCOUNT_PAGES, count - used);
		hist_add(s, MSMVM_HIST_OVERCOUNT_PCT, (__u64)(count - used) * 100 / count);
	}
}

/* ---- the stall gauges: a VM's and a process's, on waits only ---- */

static const struct msmvm_stall zero_stall;

static __always_inline struct msmvm_stall *stall_get(__u64 vm, __u32 scope, __u32 tgid)
{
	struct msmvm_usage_key key = { .vm = vm, .scope = scope, .tgid = tgid };
	struct msmvm_stall *g = bpf_map_lookup_elem(&stalls, &key);

	if (g)
		return g;
	bpf_map_update_elem(&stalls, &key, &zero_stall, BPF_NOEXIST);
	g = bpf_map_lookup_elem(&stalls, &key);
	if (!g)
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	return g;
}

/*
 * Threads in the throttle now, and the time with at least one there, from the gauge's
 * 0 -> 1 and 1 -> 0 edges. Each returns the gauge before.
 */
static __always_inline __s64 gauge_enter(struct msmvm_stall *g, __u64 now)
{
	__s64 w = __sync_fetch_and_add(&g->waiters, 1);

	if (w == 0)
		g->stall_start_ns = now;
	return w;
}

static __always_inline __s64 gauge_exit(struct msmvm_stall *g, __u64 now)
{
	__u64 start = g->stall_start_ns;
	__s64 w = __sync_fetch_and_add(&g->waiters, -1);

	if (w == 1 && start && now > start)
		__sync_fetch_and_add(&g->stall_ns_total, now - start);
	return w;
}

#endif
