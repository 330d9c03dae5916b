// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reading the in-kernel aggregates into plain structs. Nothing per event happens in user
 * space: a snapshot walks the usage map (a VM as used by a process) and folds its entries
 * into VMs and processes, then the stall gauges.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

/*
 * The table as data. Counters are read and written as 64-bit words at their offset: the
 * _Generic (no default) refuses any type but __u64 and __s64 at compile time.
 */
#define COUNTER_DESC_(name_, type, kind_, prom_, help_) {				\
	.name = #name_,									\
	.offset = COUNTER_OFFSET_##kind_(name_),					\
	.kind = MSMVM_COUNTER_##kind_,							\
	.is_signed = _Generic((type)0, __s64: true, __u64: false),			\
	.prom = prom_,									\
	.help = help_,									\
},
#define COUNTER_OFFSET_TOTAL(name) offsetof(struct msmvm_counters, name)
#define COUNTER_OFFSET_MAX(name) offsetof(struct msmvm_counters, name)
#define COUNTER_OFFSET_LEVEL(name) offsetof(struct msmvm_counters, name)
#define COUNTER_OFFSET_DRIFT(name) offsetof(struct msmvm_counters, name)
#define COUNTER_OFFSET_OVERCOUNT(name) 0

const struct msmvm_counter_desc msmvm_counter_table[MSMVM_NCOUNTERS] = {
	MSMVM_COUNTER_TABLE(COUNTER_DESC_)
};

static uint64_t *counter_at(struct msmvm_counters *c, const struct msmvm_counter_desc *d)
{
	return (uint64_t *)((char *)c + d->offset);
}

static uint64_t counter_get(const struct msmvm_counters *c, const struct msmvm_counter_desc *d)
{
	return *(const uint64_t *)((const char *)c + d->offset);
}

int64_t msmvm_counter_value(const struct msmvm_counters *c, int i)
{
	const struct msmvm_counter_desc *d;

	if (i < 0 || i >= MSMVM_NCOUNTERS)
		return 0;
	d = &msmvm_counter_table[i];
	if (d->kind == MSMVM_COUNTER_OVERCOUNT)
		return (int64_t)(c->pages_counted - c->pages_used);
	return (int64_t)counter_get(c, d);
}

void msmvm_counters_delta(struct msmvm_counters *d, const struct msmvm_counters *now,
			  const struct msmvm_counters *prev)
{
	*d = *now;
	for (int i = 0; i < MSMVM_NCOUNTERS; i++) {
		const struct msmvm_counter_desc *k = &msmvm_counter_table[i];

		if (k->kind == MSMVM_COUNTER_TOTAL || k->kind == MSMVM_COUNTER_DRIFT)
			*counter_at(d, k) -= counter_get(prev, k);
	}
}

const char *msmvm_hist_name(int id)
{
	static const char *const names[MSMVM_HIST_COUNT_] = {
		[MSMVM_HIST_WAIT_NS] = "wait_ns",
		[MSMVM_HIST_IOCTL_NS] = "ioctl_ns",
		[MSMVM_HIST_PAGES_PER_BIND] = "pages_per_bind",
		[MSMVM_HIST_OVERCOUNT_PAGES] = "overcount_pages",
		[MSMVM_HIST_OVERCOUNT_PCT] = "overcount_pct",
	};
	return id >= 0 && id < MSMVM_HIST_COUNT_ ? names[id] : "?";
}

const char *msmvm_health_name(int id)
{
	static const char *const names[MSMVM_H_COUNT_] = {
		[MSMVM_H_THREAD_STATE_MISSING] = "thread_state_missing",
		[MSMVM_H_JOB_STATE_MISSING] = "job_state_missing",
		[MSMVM_H_MAP_UPDATE_FAILED] = "map_update_failed",
		[MSMVM_H_RINGBUF_DROPS] = "ringbuf_drops",
		[MSMVM_H_EVENTS] = "events",
	};
	return id >= 0 && id < MSMVM_H_COUNT_ ? names[id] : "?";
}

/* Totals, levels and drift add up, the maxima merge by maximum (see MSMVM_COUNTER_TABLE). */
void msmvm_stats_merge(struct msmvm_stats *into, const struct msmvm_stats *from)
{
	struct msmvm_counters *a = &into->c;
	const struct msmvm_counters *b = &from->c;

	for (int i = 0; i < MSMVM_NCOUNTERS; i++) {
		const struct msmvm_counter_desc *d = &msmvm_counter_table[i];
		uint64_t *x = counter_at(a, d), y = counter_get(b, d);

		switch (d->kind) {
		case MSMVM_COUNTER_MAX:
			if (d->is_signed ? (int64_t)y > (int64_t)*x : y > *x)
				*x = y;
			break;
		case MSMVM_COUNTER_TOTAL:
		case MSMVM_COUNTER_LEVEL:
		case MSMVM_COUNTER_DRIFT:
			/* wrapping, not signed overflow (a crafted trace can hold any values) */
			*x += y;
			break;
		case MSMVM_COUNTER_OVERCOUNT:
			break;
		}
	}
	for (int i = 0; i < MSMVM_ERR_SLOTS_; i++)
		a->errno_counts[i] += b->errno_counts[i];
	for (int h = 0; h < MSMVM_HIST_COUNT_; h++)
		for (int i = 0; i < MSMVM_HIST_SLOTS; i++)
			into->hist[h].slots[i] += from->hist[h].slots[i];
	if (from->last_seen_ns > into->last_seen_ns)
		into->last_seen_ns = from->last_seen_ns;
}

/* The upper bound of the log2 bucket holding the p-th percentile (0 < p <= 1). */
uint64_t msmvm_hist_percentile(const struct msmvm_hist *h, double p)
{
	uint64_t total = 0, seen = 0, want;

	for (int i = 0; i < MSMVM_HIST_SLOTS; i++)
		total += h->slots[i];
	if (!total)
		return 0;
	want = (uint64_t)(p * (double)total + 0.999999);
	if (want < 1)
		want = 1;
	for (int i = 0; i < MSMVM_HIST_SLOTS; i++) {
		seen += h->slots[i];
		if (seen >= want)
			return i ? (1ULL << i) - 1 : 0;
	}
	return UINT64_MAX;
}

/*
 * Each process's VMs (vm_index), and its gauges from them: in_flight adds up, the peak is
 * the highest. Then the totals, over the processes. 0, or -ENOMEM.
 */
int snapshot_fold_procs(struct msmvm_snapshot *out)
{
	for (int i = 0; i < out->nprocs; i++) {
		struct msmvm_proc_snap *p = &out->procs[i];

		p->s.c.in_flight = 0;
		p->s.c.peak_in_flight = 0;
		p->nvms = 0;
		p->vm_index = calloc((size_t)out->nvms + 1, sizeof(int));
		if (!p->vm_index)
			return -ENOMEM;
		for (int j = 0; j < out->nvms; j++) {
			const struct msmvm_vm_snap *v = &out->vms[j];

			if (v->owner_tgid != p->tgid)
				continue;
			p->vm_index[p->nvms++] = j;
			p->s.c.in_flight += v->s.c.in_flight;
			if (v->s.c.peak_in_flight > p->s.c.peak_in_flight)
				p->s.c.peak_in_flight = v->s.c.peak_in_flight;
		}
		msmvm_stats_merge(&out->totals, &p->s);
	}
	return 0;
}

static int cmp_tgid(const void *a, const void *b)
{
	const struct msmvm_proc_snap *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* Waits in progress: the small "waiting" map, one entry per thread in the throttle. */
static int snapshot_waiters(struct msmvm *m, struct msmvm_snapshot *out, struct msmvm_err *err)
{
	int fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_waiting);
	__u32 key, *prev = NULL;
	int cap = 16;

	if (fd < 0)
		return 0;
	out->waiters = calloc((size_t)cap, sizeof(*out->waiters));
	out->waiter_tids = calloc((size_t)cap, sizeof(*out->waiter_tids));
	while (out->waiters && out->waiter_tids && !bpf_map_get_next_key(fd, prev, &key)) {
		if (out->nwaiters == cap) {
			void *a = realloc(out->waiters, (size_t)cap * 2 * sizeof(*out->waiters));
			void *b = a ? realloc(out->waiter_tids,
					      (size_t)cap * 2 * sizeof(*out->waiter_tids)) : NULL;

			if (a)
				out->waiters = a;
			if (!a || !b)
				break;
			out->waiter_tids = b;
			cap *= 2;
		}
		if (!bpf_map_lookup_elem(fd, &key, &out->waiters[out->nwaiters]))
			out->waiter_tids[out->nwaiters++] = key;
		prev = &key;
	}
	if (!out->waiters || !out->waiter_tids) {
		msmvm_snapshot_free(out);
		return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	}
	return 0;
}

/* Room for one more element in a doubling array: 0, or -ENOMEM (the array is kept). */
static int grow(void **arr, int n, int *cap, size_t size)
{
	void *a;

	if (n < *cap)
		return 0;
	a = realloc(*arr, (size_t)*cap * 2 * size);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap *= 2;
	return 0;
}

static struct msmvm_vm_snap *vm_find(struct msmvm_snapshot *out, __u64 vm, __u32 scope)
{
	for (int i = 0; i < out->nvms; i++)
		if (out->vms[i].vm == vm && out->vms[i].scope == scope)
			return &out->vms[i];
	return NULL;
}

static struct msmvm_proc_snap *proc_find(struct msmvm_snapshot *out, __u32 tgid)
{
	for (int i = 0; i < out->nprocs; i++)
		if (out->procs[i].tgid == tgid)
			return &out->procs[i];
	return NULL;
}

/* The VM's snapshot, added (zeroed) if new; NULL: out of memory. */
static struct msmvm_vm_snap *vm_add(struct msmvm_snapshot *out, int *cap, __u64 vm, __u32 scope)
{
	struct msmvm_vm_snap *v = vm_find(out, vm, scope);

	if (v)
		return v;
	if (grow((void **)&out->vms, out->nvms, cap, sizeof(*out->vms)))
		return NULL;
	v = &out->vms[out->nvms++];
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->scope = scope;
	return v;
}

static struct msmvm_proc_snap *proc_add(struct msmvm_snapshot *out, int *cap, __u32 tgid)
{
	struct msmvm_proc_snap *p = proc_find(out, tgid);

	if (p)
		return p;
	if (grow((void **)&out->procs, out->nprocs, cap, sizeof(*out->procs)))
		return NULL;
	p = &out->procs[out->nprocs++];
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	return p;
}

/* One entry of the usage map (a VM as used by a process) into its VM and its process. */
static int fold_usage(struct msmvm_snapshot *out, int *vcap, int *pcap,
		      const struct msmvm_usage_key *k, const struct msmvm_stats *s)
{
	int nvms = out->nvms;
	struct msmvm_vm_snap *v = vm_add(out, vcap, k->vm, k->scope);
	struct msmvm_proc_snap *p;

	if (!v)
		return -ENOMEM;
	if (out->nvms > nvms) {		/* new */
		v->s = *s;
		v->s.owner_tgid = k->tgid;
	} else {
		bool newer = s->last_seen_ns >= v->s.last_seen_ns;

		msmvm_stats_merge(&v->s, s);
		if (newer)	/* the process that last issued a VM_BIND on it */
			v->s.owner_tgid = k->tgid;
	}
	v->owner_tgid = v->s.owner_tgid;

	p = proc_add(out, pcap, k->tgid);
	if (!p)
		return -ENOMEM;
	msmvm_stats_merge(&p->s, s);
	if (!p->comm[0] && s->comm[0]) {
		memcpy(p->comm, s->comm, sizeof(p->comm));
		p->comm[MSMVM_COMM_LEN - 1] = 0;
		memcpy(p->s.comm, p->comm, sizeof(p->s.comm));
	}
	return 0;
}

/*
 * The stall gauges: a VM's (tgid 0) and a process's (vm 0), with the open period to now. A
 * gauge can come before any counter of its VM (a first call, still waiting): its VM or
 * process is added then, with nothing counted.
 */
static int fold_stalls(struct msmvm_snapshot *out, int *vcap, int *pcap, int fd)
{
	struct msmvm_usage_key k, *prev = NULL;
	struct msmvm_stall g;

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		struct msmvm_stats *s;
		uint64_t *into;

		prev = &k;
		out->stalls_entries++;
		if (bpf_map_lookup_elem(fd, &k, &g))
			continue;
		if (k.tgid == 0) {
			struct msmvm_vm_snap *v = vm_add(out, vcap, k.vm, k.scope);

			if (!v)
				return -ENOMEM;
			s = &v->s, into = &v->stall_ns;
		} else {
			struct msmvm_proc_snap *p = proc_add(out, pcap, k.tgid);

			if (!p)
				return -ENOMEM;
			s = &p->s, into = &p->stall_ns;
		}
		s->waiters = g.waiters;
		s->stall_ns_total = g.stall_ns_total;
		s->stall_start_ns = g.stall_start_ns;
		*into = g.stall_ns_total;
		if (g.waiters > 0 && g.stall_start_ns && g.stall_start_ns < out->ts_ns)
			*into += out->ts_ns - g.stall_start_ns;
	}
	return 0;
}

#define GAUGE_SLOTS (1U << MSMVM_VM_GAUGE_SLOTS_LOG2)
#define GAUGE_BYTES (GAUGE_SLOTS * sizeof(struct msmvm_vm_gauge))

void msmvm_gauges_unmap(struct msmvm *m)
{
	if (m->gauges)
		munmap((void *)m->gauges, GAUGE_BYTES);
	m->gauges = NULL;
	free(m->gauges_seen);
	m->gauges_seen = NULL;
}

/*
 * The VMs' gauges (in_flight, peak, frees), read in place. A VM's slot is the first of its
 * probe sequence, as the programs find it; a second one (two first claims at once) only adds
 * its peak. The programs count frees without reading a clock: the time of a VM's last free
 * is that of the first snapshot that saw its count move (as fine as the snapshots are
 * frequent: msmvm-alert's wedge check is in seconds).
 */
static int fold_gauges(struct msmvm *m, struct msmvm_snapshot *out, int *vcap)
{
	int fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_vm_gauges);

	if (!m->gauges) {
		void *p = fd < 0 ? MAP_FAILED
				 : mmap(NULL, GAUGE_BYTES, PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED)
			return -errno;
		m->gauges = p;
		m->gauges_seen = calloc(GAUGE_SLOTS, sizeof(*m->gauges_seen));
		if (!m->gauges_seen)
			return -ENOMEM;
	}
	for (__u32 i = 0; i < GAUGE_SLOTS; i++) {
		const volatile struct msmvm_vm_gauge *g = &m->gauges[i];
		__u64 vm = g->vm;
		__u32 scope = g->scope, h;
		struct msmvm_vm_snap *v;
		bool first = false;

		if (!vm || !g->ready)
			continue;
		h = msmvm_slot_hash(vm, scope, MSMVM_VM_GAUGE_SLOTS_LOG2);
		for (__u32 k = 0; k < MSMVM_TABLE_PROBES; k++) {
			const volatile struct msmvm_vm_gauge *o = &m->gauges[(h + k) & (GAUGE_SLOTS - 1)];

			if (o->vm == vm && o->ready && o->scope == scope) {
				first = o == g;
				break;
			}
		}
		v = vm_add(out, vcap, vm, scope);
		if (!v)
			return -ENOMEM;
		if (g->peak_in_flight > v->s.c.peak_in_flight)
			v->s.c.peak_in_flight = g->peak_in_flight;
		if (first) {
			struct msmvm_gauge_seen *seen = &m->gauges_seen[i];
			__u64 frees = g->frees;

			if (seen->vm != vm) {	/* the slot's first sight of this VM */
				seen->vm = vm;
				seen->frees = 0;
				seen->moved_ns = 0;
			}
			if (frees != seen->frees) {
				seen->frees = frees;
				seen->moved_ns = out->ts_ns;
			}
			v->s.c.in_flight = g->in_flight;
			v->s.last_free_ns = seen->moved_ns;
		}
	}
	return 0;
}

const char *msmvm_vm_name(uint64_t vm, char *buf, size_t size)
{
	if (vm == MSMVM_VM_EXITED)
		snprintf(buf, size, "exited");
	else
		snprintf(buf, size, "0x%" PRIx64, vm);
	return buf;
}

static uint32_t map_max_entries(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.max_entries : 0;
}

/* The "(exited)" row: what forget.c took out of the maps, as a VM and its process. */
static int add_exited(struct msmvm *m, struct msmvm_snapshot *out, int *vcap, int *pcap)
{
	const struct msmvm_forgotten *f = m->forgotten;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;

	if (!f || !f->entries)
		return 0;
	v = vm_add(out, vcap, MSMVM_VM_EXITED, 0);
	if (!v)
		return -ENOMEM;
	msmvm_stats_merge(&v->s, &f->s);
	v->s.c.peak_in_flight = f->s.c.peak_in_flight;
	v->stall_ns += f->vm_stall_ns;
	v->s.stall_ns_total += f->vm_stall_ns;
	v->owner_tgid = v->s.owner_tgid = 0;
	p = proc_add(out, pcap, 0);
	if (!p)
		return -ENOMEM;
	msmvm_stats_merge(&p->s, &f->s);
	snprintf(p->comm, sizeof(p->comm), "%s", MSMVM_EXITED_COMM);
	memcpy(p->s.comm, p->comm, sizeof(p->s.comm));
	p->stall_ns += f->proc_stall_ns;
	p->s.stall_ns_total += f->proc_stall_ns;
	out->forgotten_procs = f->procs;
	out->forgotten_vms = f->vms;
	return 0;
}

int msmvm_snapshot(struct msmvm *m, struct msmvm_snapshot *out, struct msmvm_err *err)
{
	int usage_fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_usage);
	int stalls_fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_stalls);
	int health_fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_health);
	struct msmvm_usage_key k, *prev = NULL;
	struct msmvm_stats *s;
	struct timespec ts;
	int vcap = 4, pcap = 4, ret;
	bool oom;

	memset(out, 0, sizeof(*out));
	if (usage_fd < 0 || stalls_fd < 0 || health_fd < 0)
		return msmvm_fail(err, MSMVM_E_USAGE, EINVAL, "snapshot before load");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	out->ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;

	/*
	 * Start small and double: a snapshot is taken up to 10 times a second (msmvm-alert), and
	 * large arrays freed and taken again each time make the heap's high-water mark creep.
	 */
	out->vms = calloc((size_t)vcap, sizeof(*out->vms));
	out->procs = calloc((size_t)pcap, sizeof(*out->procs));
	s = malloc(sizeof(*s));
	oom = !out->vms || !out->procs || !s;
	while (!oom && !bpf_map_get_next_key(usage_fd, prev, &k)) {
		prev = &k;
		out->usage_entries++;
		if (bpf_map_lookup_elem(usage_fd, &k, s))
			continue;	/* forgotten since (forget.c) */
		oom = fold_usage(out, &vcap, &pcap, &k, s) != 0;
	}
	free(s);
	if (!oom)
		oom = fold_stalls(out, &vcap, &pcap, stalls_fd) != 0;
	if (!oom)
		oom = add_exited(m, out, &vcap, &pcap) != 0;
	out->usage_max_entries = map_max_entries(usage_fd);
	out->stalls_max_entries = map_max_entries(stalls_fd);
	if (!oom && fold_gauges(m, out, &vcap)) {
		int e = errno;

		msmvm_snapshot_free(out);
		return msmvm_fail(err, MSMVM_E_RUNTIME, e, "cannot read the VMs' gauges: %s",
				  strerror(e));
	}
	if (oom) {
		msmvm_snapshot_free(out);
		return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	}
	qsort(out->procs, (size_t)out->nprocs, sizeof(*out->procs), cmp_tgid);

	if (snapshot_fold_procs(out)) {
		msmvm_snapshot_free(out);
		return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	}
	for (__u32 i = 0; i < MSMVM_H_COUNT_; i++)
		bpf_map_lookup_elem(health_fd, &i, &out->health[i]);
	ret = snapshot_waiters(m, out, err);
	if (ret)
		return ret;
	/* after this snapshot is whole: what it forgets shows in the next one's "(exited)" row */
	if (forget_exited(m, out) == -ENOMEM) {
		msmvm_snapshot_free(out);
		return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	}
	return 0;
}

void msmvm_snapshot_free(struct msmvm_snapshot *s)
{
	for (int i = 0; s->procs && i < s->nprocs; i++)
		free(s->procs[i].vm_index);
	free(s->vms);
	free(s->procs);
	free(s->waiters);
	free(s->waiter_tids);
	memset(s, 0, sizeof(*s));
}
