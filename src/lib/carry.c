// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Figures across the driver going away and coming back (see msmvm/alert.h): the carry is a
 * snapshot of everything earlier attachments counted, kept sorted by key; a view adds the
 * live snapshot to it, merging the same VM (address, scope) and the same process (tgid).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "msmvm/alert.h"

struct msmvm_carry {
	int nvms, nprocs;
	struct msmvm_vm_snap *vms;	/* sorted by (vm, scope) */
	struct msmvm_proc_snap *procs;	/* sorted by tgid; no vm_index */
	uint64_t health[MSMVM_H_COUNT_];
	uint64_t folds;
};

struct msmvm_carry *msmvm_carry_new(void)
{
	return calloc(1, sizeof(struct msmvm_carry));
}

void msmvm_carry_free(struct msmvm_carry *c)
{
	if (!c)
		return;
	free(c->vms);
	free(c->procs);
	free(c);
}

bool msmvm_carry_empty(const struct msmvm_carry *c)
{
	return !c->folds;
}

uint64_t msmvm_carry_folds(const struct msmvm_carry *c)
{
	return c->folds;
}

static int cmp_vm(const void *a, const void *b)
{
	const struct msmvm_vm_snap *x = a, *y = b;

	if (x->vm != y->vm)
		return x->vm < y->vm ? -1 : 1;
	return x->scope < y->scope ? -1 : x->scope > y->scope;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct msmvm_proc_snap *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* Everything of `from` that is not counters and histograms: waits now, stall, owner. */
static void add_stats(struct msmvm_stats *into, const struct msmvm_stats *from)
{
	msmvm_stats_merge(into, from);
	into->waiters += from->waiters;
	into->stall_ns_total += from->stall_ns_total;
	if (from->waiters > 0)
		into->stall_start_ns = from->stall_start_ns;
	if (from->last_free_ns > into->last_free_ns)
		into->last_free_ns = from->last_free_ns;
	if (from->owner_tgid)
		into->owner_tgid = from->owner_tgid;
	if (from->comm[0])
		memcpy(into->comm, from->comm, sizeof(into->comm));
}

/*
 * What a gone module's VM or process still says: its counts, histograms and maxima; its
 * gauges (in_flight, drift) and waits read 0, its stall is closed.
 */
static void retire(struct msmvm_stats *s, uint64_t stall_ns)
{
	for (int i = 0; i < MSMVM_NCOUNTERS; i++) {
		const struct msmvm_counter_desc *d = &msmvm_counter_table[i];

		if (d->kind == MSMVM_COUNTER_LEVEL || d->kind == MSMVM_COUNTER_DRIFT)
			*(uint64_t *)((char *)&s->c + d->offset) = 0;
	}
	s->waiters = 0;
	s->stall_start_ns = 0;
	s->stall_ns_total = stall_ns;
}

static int cmp_vm_age(const void *a, const void *b)
{
	const struct msmvm_vm_snap *x = a, *y = b;

	return x->s.last_seen_ns < y->s.last_seen_ns ? -1 : x->s.last_seen_ns > y->s.last_seen_ns;
}

static int cmp_proc_age(const void *a, const void *b)
{
	const struct msmvm_proc_snap *x = a, *y = b;

	return x->s.last_seen_ns < y->s.last_seen_ns ? -1 : x->s.last_seen_ns > y->s.last_seen_ns;
}

/* Sorted entries with equal keys merged into the first: the new count. */
static int merge_vms(struct msmvm_vm_snap *v, int n)
{
	int out = 0;

	for (int i = 0; i < n; i++) {
		if (out && !cmp_vm(&v[out - 1], &v[i])) {
			add_stats(&v[out - 1].s, &v[i].s);
			v[out - 1].stall_ns += v[i].stall_ns;
			if (v[i].owner_tgid)
				v[out - 1].owner_tgid = v[i].owner_tgid;
		} else {
			v[out++] = v[i];
		}
	}
	return out;
}

static int merge_procs(struct msmvm_proc_snap *p, int n)
{
	int out = 0;

	for (int i = 0; i < n; i++) {
		if (out && p[out - 1].tgid == p[i].tgid) {
			add_stats(&p[out - 1].s, &p[i].s);
			p[out - 1].stall_ns += p[i].stall_ns;
			if (p[i].comm[0])
				memcpy(p[out - 1].comm, p[i].comm, sizeof(p[i].comm));
		} else {
			p[out++] = p[i];
		}
	}
	return out;
}

/*
 * Over MSMVM_CARRY_MAX: the least recently active go into the (vm 0) / (pid 0) entry, which
 * sorts first and is never itself folded away. Sums over every series stay what they were.
 */
static int cap_vms(struct msmvm_vm_snap *v, int n)
{
	int agg = n && v[0].vm == 0 && v[0].scope == 0, excess;

	if (n <= MSMVM_CARRY_MAX)
		return n;
	if (!agg) {	/* room for the aggregate first: v has n + 1 slots (see the callers) */
		memmove(&v[1], &v[0], (size_t)n * sizeof(*v));
		memset(&v[0], 0, sizeof(*v));
		snprintf(v[0].s.comm, sizeof(v[0].s.comm), "(gone)");
		n++;
	}
	excess = n - MSMVM_CARRY_MAX;
	qsort(&v[1], (size_t)n - 1, sizeof(*v), cmp_vm_age);
	for (int i = 1; i <= excess; i++) {
		uint64_t seen = v[0].s.last_seen_ns;

		add_stats(&v[0].s, &v[i].s);
		v[0].stall_ns += v[i].stall_ns;
		v[0].owner_tgid = v[0].s.owner_tgid = 0;
		v[0].s.last_seen_ns = seen > v[i].s.last_seen_ns ? seen : v[i].s.last_seen_ns;
	}
	memmove(&v[1], &v[1 + excess], (size_t)(n - 1 - excess) * sizeof(*v));
	n -= excess;
	qsort(v, (size_t)n, sizeof(*v), cmp_vm);
	return n;
}

static int cap_procs(struct msmvm_proc_snap *p, int n)
{
	int agg = n && p[0].tgid == 0, excess;

	if (n <= MSMVM_CARRY_MAX)
		return n;
	if (!agg) {
		memmove(&p[1], &p[0], (size_t)n * sizeof(*p));
		memset(&p[0], 0, sizeof(*p));
		snprintf(p[0].comm, sizeof(p[0].comm), "(gone)");
		n++;
	}
	excess = n - MSMVM_CARRY_MAX;
	qsort(&p[1], (size_t)n - 1, sizeof(*p), cmp_proc_age);
	for (int i = 1; i <= excess; i++) {
		add_stats(&p[0].s, &p[i].s);
		p[0].stall_ns += p[i].stall_ns;
		snprintf(p[0].comm, sizeof(p[0].comm), "(gone)");
		memcpy(p[0].s.comm, p[0].comm, sizeof(p[0].comm));
	}
	memmove(&p[1], &p[1 + excess], (size_t)(n - 1 - excess) * sizeof(*p));
	n -= excess;
	qsort(p, (size_t)n, sizeof(*p), cmp_proc);
	return n;
}

int msmvm_carry_fold(struct msmvm_carry *c, const struct msmvm_snapshot *f)
{
	/* + 1: room for the aggregate entry the cap may add */
	struct msmvm_vm_snap *v = calloc((size_t)c->nvms + (size_t)f->nvms + 1, sizeof(*v));
	struct msmvm_proc_snap *p = calloc((size_t)c->nprocs + (size_t)f->nprocs + 1, sizeof(*p));
	int nv = c->nvms, np = c->nprocs;

	if (!v || !p) {
		free(v);
		free(p);
		return -ENOMEM;
	}
	if (nv)
		memcpy(v, c->vms, (size_t)nv * sizeof(*v));
	for (int i = 0; i < f->nvms; i++) {
		v[nv] = f->vms[i];
		retire(&v[nv].s, f->vms[i].stall_ns);
		nv++;
	}
	qsort(v, (size_t)nv, sizeof(*v), cmp_vm);
	nv = cap_vms(v, merge_vms(v, nv));

	if (np)
		memcpy(p, c->procs, (size_t)np * sizeof(*p));
	for (int i = 0; i < f->nprocs; i++) {
		p[np] = f->procs[i];
		p[np].vm_index = NULL;
		p[np].nvms = 0;
		retire(&p[np].s, f->procs[i].stall_ns);
		np++;
	}
	qsort(p, (size_t)np, sizeof(*p), cmp_proc);
	np = cap_procs(p, merge_procs(p, np));

	free(c->vms);
	free(c->procs);
	c->vms = v;
	c->nvms = nv;
	c->procs = p;
	c->nprocs = np;
	for (int h = 0; h < MSMVM_H_COUNT_; h++)
		c->health[h] += f->health[h];
	c->folds++;
	return 0;
}

int msmvm_carry_view(const struct msmvm_carry *c, const struct msmvm_snapshot *live,
		     uint64_t ts_ns, struct msmvm_snapshot *out)
{
	int lv = live ? live->nvms : 0, lp = live ? live->nprocs : 0;
	int nv = c->nvms, np = c->nprocs;

	memset(out, 0, sizeof(*out));
	out->ts_ns = live ? live->ts_ns : ts_ns;
	out->vms = calloc((size_t)nv + (size_t)lv + 1, sizeof(*out->vms));
	out->procs = calloc((size_t)np + (size_t)lp + 1, sizeof(*out->procs));
	if (!out->vms || !out->procs)
		goto nomem;
	if (nv)
		memcpy(out->vms, c->vms, (size_t)nv * sizeof(*out->vms));
	for (int i = 0; i < lv; i++) {
		const struct msmvm_vm_snap *l = &live->vms[i];
		struct msmvm_vm_snap *o = bsearch(l, out->vms, (size_t)c->nvms, sizeof(*l), cmp_vm);

		if (!o) {
			out->vms[nv++] = *l;
			continue;
		}
		add_stats(&o->s, &l->s);
		o->stall_ns += l->stall_ns;
		o->owner_tgid = l->owner_tgid;
	}
	out->nvms = nv;

	if (np)
		memcpy(out->procs, c->procs, (size_t)np * sizeof(*out->procs));
	for (int i = 0; i < lp; i++) {
		const struct msmvm_proc_snap *l = &live->procs[i];
		struct msmvm_proc_snap *o = bsearch(l, out->procs, (size_t)c->nprocs, sizeof(*l),
						    cmp_proc);

		if (!o) {
			o = &out->procs[np++];
			*o = *l;
		} else {
			add_stats(&o->s, &l->s);
			o->stall_ns += l->stall_ns;
			memcpy(o->comm, l->comm, sizeof(o->comm));
		}
		o->vm_index = NULL;
		o->nvms = 0;
	}
	out->nprocs = np;
	qsort(out->procs, (size_t)np, sizeof(*out->procs), cmp_proc);

	/* as msmvm_snapshot: a process's gauges from its VMs, the totals from the processes */
	if (snapshot_fold_procs(out))
		goto nomem;
	for (int h = 0; h < MSMVM_H_COUNT_; h++)
		out->health[h] = c->health[h] + (live ? live->health[h] : 0);
	if (live && live->nwaiters) {
		out->waiters = calloc((size_t)live->nwaiters, sizeof(*out->waiters));
		out->waiter_tids = calloc((size_t)live->nwaiters, sizeof(*out->waiter_tids));
		if (!out->waiters || !out->waiter_tids)
			goto nomem;
		memcpy(out->waiters, live->waiters, (size_t)live->nwaiters * sizeof(*out->waiters));
		memcpy(out->waiter_tids, live->waiter_tids,
		       (size_t)live->nwaiters * sizeof(*out->waiter_tids));
		out->nwaiters = live->nwaiters;
	}
	return 0;
nomem:
	msmvm_snapshot_free(out);
	return -ENOMEM;
}
