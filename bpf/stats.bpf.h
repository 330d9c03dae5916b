/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Accounting: the health counters, the per-VM and per-process stats (found or created), and
 * their named updates. An update that both the VM and the process get goes through a
 * struct stats_pair; either side may be missing (a full map), and is then skipped.
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

static __always_inline struct msmvm_stats *stats_get(void *map, const void *key)
{
	struct msmvm_stats *s = bpf_map_lookup_elem(map, key);

	if (s)
		return s;
	bpf_map_update_elem(map, key, &zero_stats, BPF_NOEXIST);	/* EEXIST: another CPU won */
	s = bpf_map_lookup_elem(map, key);
	if (!s)
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	return s;
}

static __always_inline struct msmvm_stats *vm_stats_get(__u64 vm, __u32 tgid)
{
	struct msmvm_vm_key key = { .vm = vm, .scope = VM_SCOPE(tgid) };

	return stats_get(&vm_stats, &key);
}

static __always_inline struct msmvm_stats *proc_stats_get(__u32 tgid)
{
	return stats_get(&proc_stats, &tgid);
}

/* ---- one side's updates ---- */

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

static __always_inline void stats_add_interrupted_wait(struct msmvm_stats *s)
{
	__sync_fetch_and_add(&s->c.interrupted_waits, 1);
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

/*
 * A stall gauge (VM or process): threads in the throttle now, and the time with at least
 * one there, from the gauge's 0 -> 1 and 1 -> 0 edges. Each returns the gauge before.
 */
static __always_inline __s64 gauge_enter(struct msmvm_stats *s, __u64 now)
{
	__s64 w = __sync_fetch_and_add(&s->waiters, 1);

	if (w == 0)
		s->stall_start_ns = now;
	return w;
}

static __always_inline __s64 gauge_exit(struct msmvm_stats *s, __u64 now)
{
	__u64 start = s->stall_start_ns;
	__s64 w = __sync_fetch_and_add(&s->waiters, -1);

	if (w == 1 && start && now > start)
		__sync_fetch_and_add(&s->stall_ns_total, now - start);
	return w;
}

/* ---- both sides: the VM's stats and its process's get the same update ---- */

struct stats_pair {
	struct msmvm_stats *vm;
	struct msmvm_stats *proc;
};

/* The VM's stats, then the process's, created if new. */
static __always_inline struct stats_pair stats_pair_get(__u64 vm, __u32 tgid)
{
	struct stats_pair both = { .vm = vm_stats_get(vm, tgid) };

	both.proc = proc_stats_get(tgid);
	return both;
}

static __always_inline void pair_add_bind(struct stats_pair both, __u32 nr_ops, int ret,
					  __u64 ioctl_ns, __u64 now)
{
	if (both.vm)
		stats_add_bind(both.vm, nr_ops, ret, ioctl_ns, now);
	if (both.proc)
		stats_add_bind(both.proc, nr_ops, ret, ioctl_ns, now);
}

static __always_inline void pair_add_wait(struct stats_pair both, __u64 wait_ns)
{
	if (both.vm)
		stats_add_wait(both.vm, wait_ns);
	if (both.proc)
		stats_add_wait(both.proc, wait_ns);
}

static __always_inline void pair_add_interrupted_wait(struct stats_pair both)
{
	if (both.vm)
		stats_add_interrupted_wait(both.vm);
	if (both.proc)
		stats_add_interrupted_wait(both.proc);
}

static __always_inline void pair_add_counted(struct stats_pair both, __u32 count)
{
	if (both.vm)
		stats_add_counted(both.vm, count);
	if (both.proc)
		stats_add_counted(both.proc, count);
}

static __always_inline void pair_add_free(struct stats_pair both, __u32 count, __u32 used,
					  __s64 drift)
{
	if (both.vm)
		stats_add_free(both.vm, count, used, drift);
	if (both.proc)
		stats_add_free(both.proc, count, used, drift);
}

#endif
