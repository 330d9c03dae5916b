// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Frames: rates, interval percentiles and stall shares from two snapshots. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "msmvm/frame.h"
#include "msmvm/report.h"

struct history_entry {
	uint64_t vm;
	uint32_t scope;
	int n;
	int64_t v[MSMVM_HISTORY];
};

struct msmvm_history {
	int n, cap;
	struct history_entry *e;
};

struct msmvm_history *msmvm_history_new(void)
{
	return calloc(1, sizeof(struct msmvm_history));
}

void msmvm_history_free(struct msmvm_history *h)
{
	if (h)
		free(h->e);
	free(h);
}

static struct history_entry *history_get(struct msmvm_history *h, uint64_t vm, uint32_t scope)
{
	for (int i = 0; i < h->n; i++)
		if (h->e[i].vm == vm && h->e[i].scope == scope)
			return &h->e[i];
	if (h->n == h->cap) {
		int cap = h->cap ? h->cap * 2 : 16;
		void *n = realloc(h->e, (size_t)cap * sizeof(*h->e));

		if (!n)
			return NULL;
		h->e = n;
		h->cap = cap;
	}
	memset(&h->e[h->n], 0, sizeof(h->e[0]));
	h->e[h->n].vm = vm;
	h->e[h->n].scope = scope;
	return &h->e[h->n++];
}

static void history_push(struct history_entry *e, int64_t v)
{
	if (e->n == MSMVM_HISTORY) {
		memmove(e->v, e->v + 1, sizeof(e->v[0]) * (MSMVM_HISTORY - 1));
		e->n--;
	}
	e->v[e->n++] = v;
}

static const struct msmvm_vm_snap *find_vm(const struct msmvm_snapshot *s, uint64_t vm,
					   uint32_t scope)
{
	for (int i = 0; s && i < s->nvms; i++)
		if (s->vms[i].vm == vm && s->vms[i].scope == scope)
			return &s->vms[i];
	return NULL;
}

static const struct msmvm_proc_snap *find_proc(const struct msmvm_snapshot *s, uint32_t tgid)
{
	for (int i = 0; s && i < s->nprocs; i++)
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	return NULL;
}

static double rate(uint64_t now, uint64_t before, double secs)
{
	return secs > 0 && now >= before ? (double)(now - before) / secs : 0;
}

const char *msmvm_vm_short_id(const struct msmvm_vm_row *r, char *buf, size_t size)
{
	if (r->vm == MSMVM_VM_EXITED)
		snprintf(buf, size, "exited");
	else
		snprintf(buf, size, "%u:%06" PRIx64, r->owner_tgid, r->vm & 0xffffff);
	return buf;
}

int msmvm_frame_build(struct msmvm_frame *f, struct msmvm_snapshot *now,
		      const struct msmvm_snapshot *prev, uint64_t since_ns,
		      struct msmvm_history *hist)
{
	static const struct msmvm_vm_snap no_vm;
	static const struct msmvm_proc_snap no_proc;
	uint64_t from;
	double secs;

	memset(f, 0, sizeof(*f));
	f->snap = *now;
	memset(now, 0, sizeof(*now));	/* the frame owns it now */
	/*
	 * The rates are over [from, now]. A process or VM missing from `prev` appeared after
	 * it (it had no counts then), so its counts so far are all this interval's; without
	 * `prev`, counting began at since_ns (the probes' attach), so they are all since then.
	 */
	from = prev ? prev->ts_ns : since_ns;
	secs = from && f->snap.ts_ns > from ? (double)(f->snap.ts_ns - from) / 1e9 : 0;
	f->interval_s = secs;
	f->vms = calloc((size_t)f->snap.nvms + 1, sizeof(*f->vms));
	f->procs = calloc((size_t)f->snap.nprocs + 1, sizeof(*f->procs));
	if (!f->vms || !f->procs)
		return -1;

	for (int i = 0; i < f->snap.nvms; i++) {
		const struct msmvm_vm_snap *v = &f->snap.vms[i];
		const struct msmvm_vm_snap *pv = find_vm(prev, v->vm, v->scope);
		const struct msmvm_proc_snap *owner = find_proc(&f->snap, v->owner_tgid);
		struct msmvm_vm_row *r = &f->vms[f->nvms++];
		struct history_entry *he = hist ? history_get(hist, v->vm, v->scope) : NULL;

		if (!pv)	/* appeared since: nothing counted then */
			pv = &no_vm;
		r->vm = v->vm;
		r->scope = v->scope;
		r->owner_tgid = v->owner_tgid;
		if (owner)
			memcpy(r->comm, owner->comm, sizeof(r->comm));
		r->in_flight = v->s.c.in_flight;
		r->peak_in_flight = v->s.c.peak_in_flight;
		r->drift = v->s.c.drift;
		r->waiters = v->s.waiters;
		r->s = &v->s;
		/* the "(exited)" row grows when processes are forgotten: that is not a rate */
		if (v->vm != MSMVM_VM_EXITED) {
			r->binds_s = rate(v->s.c.binds, pv->s.c.binds, secs);
			r->pages_s = rate(v->s.c.pages_counted, pv->s.c.pages_counted, secs);
			if (secs > 0 && v->stall_ns >= pv->stall_ns)
				r->stall_share = (double)(v->stall_ns - pv->stall_ns) / 1e9 / secs;
		}
		if (r->stall_share > 1)
			r->stall_share = 1;	/* edges read a moment apart */
		if (he) {
			history_push(he, r->in_flight);
			r->nhist = he->n;
			memcpy(r->history, he->v, sizeof(he->v[0]) * (size_t)he->n);
		}
		f->binds_s += r->binds_s;
		f->pages_s += r->pages_s;
	}

	for (int i = 0; i < f->snap.nprocs; i++) {
		const struct msmvm_proc_snap *p = &f->snap.procs[i];
		const struct msmvm_proc_snap *pp = find_proc(prev, p->tgid);
		struct msmvm_proc_row *r = &f->procs[f->nprocs++];
		const struct msmvm_counters *c = &p->s.c;
		struct msmvm_hist wait = p->s.hist[MSMVM_HIST_WAIT_NS];

		if (!pp)
			pp = &no_proc;
		r->tgid = p->tgid;
		memcpy(r->comm, p->comm, sizeof(r->comm));
		r->nvms = p->nvms;
		r->in_flight = c->in_flight;
		r->wait_max_ns = c->wait_ns_max;
		r->interrupted_waits = c->interrupted_waits;
		r->errors = c->errors;
		r->overcount_pct = c->pages_counted
			? 100.0 * (double)((int64_t)c->pages_counted - (int64_t)c->pages_used) /
				  (double)c->pages_counted
			: 0;
		r->s = &p->s;
		if (p->tgid) {	/* tgid 0: the exited processes' row, no rate */
			r->binds_s = rate(c->binds, pp->s.c.binds, secs);
			r->ops_s = rate(c->ops, pp->s.c.ops, secs);
			r->pages_s = rate(c->pages_counted, pp->s.c.pages_counted, secs);
			r->waits_s = rate(c->waits, pp->s.c.waits, secs);
			for (int b = 0; b < MSMVM_HIST_SLOTS; b++)	/* this interval's waits */
				wait.slots[b] -= pp->s.hist[MSMVM_HIST_WAIT_NS].slots[b];
		}
		/* a bucket's upper bound, but never above the largest wait seen */
		r->wait_p50_ns = msmvm_hist_percentile(&wait, 0.50);
		r->wait_p99_ns = msmvm_hist_percentile(&wait, 0.99);
		if (r->wait_p50_ns > r->wait_max_ns)
			r->wait_p50_ns = r->wait_max_ns;
		if (r->wait_p99_ns > r->wait_max_ns)
			r->wait_p99_ns = r->wait_max_ns;
	}
	/* the history of a VM no longer there (forgotten) goes */
	for (int i = 0; hist && i < hist->n;) {
		if (find_vm(&f->snap, hist->e[i].vm, hist->e[i].scope))
			i++;
		else
			hist->e[i] = hist->e[--hist->n];
	}
	return 0;
}

void msmvm_frame_free(struct msmvm_frame *f)
{
	free(f->vms);
	free(f->procs);
	msmvm_snapshot_free(&f->snap);
	memset(f, 0, sizeof(*f));
}

json_object *msmvm_frame_json(const struct msmvm_frame *f, const struct msmvm_plan *plan)
{
	json_object *o = json_object_new_object(), *vms = json_object_new_array();
	json_object *procs = json_object_new_array();

	json_object_object_add(o, "type", json_object_new_string("frame"));
	json_object_object_add(o, "ts_ns", json_object_new_uint64(f->snap.ts_ns));
	json_object_object_add(o, "interval_s", json_object_new_double(f->interval_s));
	if (plan) {
		json_object_object_add(o, "target", json_object_new_string(plan->target));
		json_object_object_add(o, "plan", json_object_new_string(
				plan->kind == MSMVM_PLAN_DIRECT ? "direct" : "fallback"));
	}
	json_object_object_add(o, "binds_s", json_object_new_double(f->binds_s));
	json_object_object_add(o, "pages_s", json_object_new_double(f->pages_s));
	json_object_object_add(o, "totals", msmvm_counters_json(&f->snap.totals.c));
	for (int i = 0; i < f->nvms; i++) {
		const struct msmvm_vm_row *r = &f->vms[i];
		json_object *v = json_object_new_object();
		char addr[32];

		msmvm_vm_name(r->vm, addr, sizeof(addr));
		json_object_object_add(v, "addr", json_object_new_string(addr));
		json_object_object_add(v, "id", json_object_new_string(
				msmvm_vm_short_id(r, addr, sizeof(addr))));
		json_object_object_add(v, "pid", json_object_new_int64(r->owner_tgid));
		json_object_object_add(v, "comm", json_object_new_string(r->comm));
		json_object_object_add(v, "in_flight", json_object_new_int64(r->in_flight));
		json_object_object_add(v, "peak_in_flight", json_object_new_int64(r->peak_in_flight));
		json_object_object_add(v, "waiters", json_object_new_int64(r->waiters));
		json_object_object_add(v, "stall_share", json_object_new_double(r->stall_share));
		json_object_object_add(v, "drift", json_object_new_int64(r->drift));
		json_object_object_add(v, "binds_s", json_object_new_double(r->binds_s));
		json_object_object_add(v, "pages_s", json_object_new_double(r->pages_s));
		json_object_object_add(v, "totals", msmvm_counters_json(&r->s->c));
		json_object_array_add(vms, v);
	}
	json_object_object_add(o, "vms", vms);
	for (int i = 0; i < f->nprocs; i++) {
		const struct msmvm_proc_row *r = &f->procs[i];
		json_object *p = json_object_new_object();

		json_object_object_add(p, "pid", json_object_new_int64(r->tgid));
		json_object_object_add(p, "comm", json_object_new_string(r->comm));
		json_object_object_add(p, "vms", json_object_new_int(r->nvms));
		json_object_object_add(p, "binds_s", json_object_new_double(r->binds_s));
		json_object_object_add(p, "ops_s", json_object_new_double(r->ops_s));
		json_object_object_add(p, "pages_s", json_object_new_double(r->pages_s));
		json_object_object_add(p, "in_flight", json_object_new_int64(r->in_flight));
		json_object_object_add(p, "waits_s", json_object_new_double(r->waits_s));
		json_object_object_add(p, "wait_p50_ns", json_object_new_uint64(r->wait_p50_ns));
		json_object_object_add(p, "wait_p99_ns", json_object_new_uint64(r->wait_p99_ns));
		json_object_object_add(p, "wait_max_ns", json_object_new_uint64(r->wait_max_ns));
		json_object_object_add(p, "overcount_pct", json_object_new_double(r->overcount_pct));
		json_object_object_add(p, "totals", msmvm_counters_json(&r->s->c));
		json_object_array_add(procs, p);
	}
	json_object_object_add(o, "processes", procs);
	json_object_object_add(o, "health", msmvm_health_json(f->snap.health));
	return o;
}

const char *msmvm_frame_share(char *buf, size_t size, double pct)
{
	if (pct >= 99.5 && pct < 100)
		snprintf(buf, size, ">99");
	else if (pct > 0 && pct <= 0.5)
		snprintf(buf, size, "<1");
	else
		snprintf(buf, size, "%.0f", pct);
	return buf;
}
