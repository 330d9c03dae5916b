// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A trace back into msmvm-stat's counters and histograms, counted as the probes count them
 * live: a VM_BIND slice is a call (its args: nr_ops, pages_counted, ret; its length: the
 * ioctl time), a "throttle wait" slice a wait, a "wait interrupted" instant an
 * interrupted one, a job's end (or a "job freed" instant) a free with its counted/used
 * pages, a "drift" instant a job's drift; in_flight's counter gives the peak and, by its
 * latest value, in_flight.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STACK_MAX 8

struct rp_open {
	int name;
	uint64_t ts, vm;
};

struct rp_track {
	struct tr_track t;
	struct rp_open stack[STACK_MAX];	/* thread tracks: open slices */
	int depth;
	bool is_inflight;			/* counter tracks: "… in_flight pages" */
};

struct rp_vm {
	uint32_t pid;
	uint64_t addr;
	struct msmvm_stats s;
	uint64_t in_flight_ts;
	bool seen_in_flight;
};

struct rp_proc {
	uint32_t pid;
	char comm[MSMVM_COMM_LEN];
	uint64_t comm_ts;
};

struct rp {
	uint32_t filter;
	struct tr_map tracks, vms, procs;
	struct msmvm_trace_info *info;
	uint64_t t_start, t_last;
	bool have_start, oom;
};

static uint32_t log2_slot(uint64_t v)
{
	uint32_t r = 0;

	while (v) {
		r++;
		v >>= 1;
	}
	return r < MSMVM_HIST_SLOTS ? r : MSMVM_HIST_SLOTS - 1;
}

static void hist_add(struct msmvm_stats *s, int h, uint64_t v)
{
	s->hist[h].slots[log2_slot(v)]++;
}

static uint32_t errno_slot(int64_t ret)
{
	/* a crafted file can hold any value: only -4095..-1 are errno values */
	return ret < -4095 || ret >= 0 ? MSMVM_ERR_OTHER : msmvm_errno_slot((int)ret);
}

static void *get_or_new(struct rp *r, struct tr_map *m, uint64_t k1, uint64_t k2, size_t size)
{
	void *v = tr_map_get(m, k1, k2);

	if (v)
		return v;
	v = calloc(1, size);
	if (!v || tr_map_put(m, k1, k2, v)) {
		free(v);
		r->oom = true;
		return NULL;
	}
	return v;
}

static struct rp_vm *get_vm(struct rp *r, uint32_t pid, uint64_t addr)
{
	struct rp_vm *vm;

	if (r->filter && pid != r->filter)
		return NULL;
	vm = get_or_new(r, &r->vms, pid, addr, sizeof(*vm));
	if (vm) {
		vm->pid = pid;
		vm->addr = addr;
		vm->s.owner_tgid = pid;
		get_or_new(r, &r->procs, pid, 0, sizeof(struct rp_proc));
	}
	return vm;
}

/* A VM's own tracks (lanes, counters) are named "VM 0x… …", under its process's track. */
static struct rp_vm *vm_of_track(struct rp *r, const struct rp_track *t)
{
	const struct rp_track *parent = tr_map_get(&r->tracks, t->t.parent, 0);
	unsigned long long addr;

	if (!parent || parent->t.kind != TT_PROCESS || sscanf(t->t.name, "VM 0x%llx", &addr) != 1)
		return NULL;
	return get_vm(r, parent->t.pid, addr);
}

static void on_track(void *ctx, const struct tr_track *t)
{
	struct rp *r = ctx;
	struct rp_track *rt = get_or_new(r, &r->tracks, t->uuid, 0, sizeof(*rt));
	size_t n = strlen(t->name);
	static const char suffix[] = " in_flight pages";

	if (!rt)
		return;
	rt->t = *t;	/* described again: a new name, same slices */
	rt->is_inflight = t->kind == TT_COUNTER && n >= sizeof(suffix) - 1 &&
			  !strcmp(t->name + n - (sizeof(suffix) - 1), suffix);
}

static void count_free(struct rp *r, struct rp_vm *vm, const struct tr_ev *e)
{
	int64_t counted = tr_ev_num(e, TK_COUNTED, 0), used = tr_ev_num(e, TK_USED, 0);
	/* in uint64_t: any values a file holds, without signed overflow */
	uint64_t over = (uint64_t)counted - (uint64_t)used;

	vm->s.c.pages_used += (uint64_t)used;
	if (counted > 0) {
		hist_add(&vm->s, MSMVM_HIST_OVERCOUNT_PAGES, over);
		hist_add(&vm->s, MSMVM_HIST_OVERCOUNT_PCT, over * 100 / (uint64_t)counted);
	}
	r->info->events++;
}

static void on_thread_event(struct rp *r, struct rp_track *t, const struct tr_ev *e)
{
	struct rp_proc *p;
	struct rp_vm *vm;
	struct rp_open top;

	if (r->filter && t->t.pid != r->filter)
		return;
	switch (e->type) {
	case TE_BEGIN:
		if (t->depth == STACK_MAX)
			return;
		top = (struct rp_open){ e->name, e->ts, t->depth ? t->stack[0].vm : 0 };
		if (e->name == TN_VM_BIND) {
			int64_t ret = tr_ev_num(e, TK_RET, 0);
			const struct tr_arg *pages = tr_ev_arg(e, TK_PAGES_COUNTED);

			top.vm = (uint64_t)tr_ev_num(e, TK_VM, 0);
			vm = get_vm(r, t->t.pid, top.vm);
			if (!vm)
				return;
			vm->s.c.binds++;
			vm->s.c.ops += (uint64_t)tr_ev_num(e, TK_NR_OPS, 0);
			if (ret < 0) {
				vm->s.c.errors++;
				vm->s.c.errno_counts[errno_slot(ret)]++;
			}
			if (pages) {
				vm->s.c.pages_counted += pages->u;
				hist_add(&vm->s, MSMVM_HIST_PAGES_PER_BIND, pages->u);
			}
			vm->s.last_seen_ns = e->ts;
			r->info->events++;
			/* the process's name: its thread's at its latest call, as live */
			p = tr_map_get(&r->procs, t->t.pid, 0);
			if (p && e->ts >= p->comm_ts) {
				memcpy(p->comm, t->t.name, MSMVM_COMM_LEN - 1);
				p->comm_ts = e->ts;
			}
		}
		t->stack[t->depth++] = top;
		break;
	case TE_END:
		if (!t->depth)
			return;
		top = t->stack[--t->depth];
		vm = get_vm(r, t->t.pid, top.vm);
		if (!vm)
			return;
		if (top.name == TN_VM_BIND) {
			hist_add(&vm->s, MSMVM_HIST_IOCTL_NS, e->ts - top.ts);
		} else if (top.name == TN_WAIT) {
			uint64_t d = e->ts - top.ts;

			vm->s.c.waits++;
			vm->s.c.wait_ns_total += d;
			if (d > vm->s.c.wait_ns_max)
				vm->s.c.wait_ns_max = d;
			hist_add(&vm->s, MSMVM_HIST_WAIT_NS, d);
		}
		break;
	case TE_INSTANT:
		if (e->name == TN_WAIT_INTR && t->depth && (vm = get_vm(r, t->t.pid, t->stack[0].vm)))
			vm->s.c.interrupted_waits++;
		break;
	default:
		break;
	}
}

static void on_vm_event(struct rp *r, struct rp_track *t, const struct tr_ev *e)
{
	struct rp_vm *vm = vm_of_track(r, t);

	if (!vm)
		return;
	if (t->t.kind == TT_COUNTER) {
		if (!t->is_inflight || e->type != TE_COUNTER)
			return;
		if (e->value > vm->s.c.peak_in_flight)
			vm->s.c.peak_in_flight = e->value;
		if (!vm->seen_in_flight || e->ts >= vm->in_flight_ts) {
			vm->s.c.in_flight = e->value;
			vm->in_flight_ts = e->ts;
			vm->seen_in_flight = true;
		}
		return;
	}
	if ((e->type == TE_END && tr_ev_arg(e, TK_USED)) ||
	    (e->type == TE_INSTANT && (e->name == TN_JOB_FREED || e->name == TN_JOB_FREED_IOCTL)))
		count_free(r, vm, e);
	else if (e->type == TE_INSTANT && e->name == TN_DRIFT)
		vm->s.c.drift = (int64_t)((uint64_t)vm->s.c.drift +
					  (uint64_t)tr_ev_num(e, TK_DRIFT, 0));	/* wraps */
}

static void on_global_event(struct rp *r, const struct tr_ev *e)
{
	switch (tr_info_from_event(r->info, e)) {
	case TN_RECORDING:
		r->t_start = e->ts;
		r->have_start = true;
		break;
	case TN_STATS:
		r->t_last = e->ts;
		break;
	}
}

static void on_event(void *ctx, const struct tr_ev *e)
{
	struct rp *r = ctx;
	struct rp_track *t = tr_map_get(&r->tracks, e->track, 0);

	if (!t)
		return;
	if (!r->info->finished && e->ts > r->t_last)
		r->t_last = e->ts;
	switch (t->t.kind) {
	case TT_THREAD:
		on_thread_event(r, t, e);
		break;
	case TT_LANE:
	case TT_COUNTER:
		on_vm_event(r, t, e);
		break;
	case TT_GLOBAL:
		on_global_event(r, e);
		break;
	default:
		break;
	}
}

static void on_dropped(void *ctx)
{
	struct rp *r = ctx;

	r->info->loss_marks++;
}

static int cmp_vm(const void *a, const void *b)
{
	const struct msmvm_vm_snap *x = a, *y = b;

	if (x->owner_tgid != y->owner_tgid)
		return x->owner_tgid < y->owner_tgid ? -1 : 1;
	return x->vm < y->vm ? -1 : x->vm > y->vm;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct msmvm_proc_snap *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* The snapshot msmvm_snapshot() builds live: VMs, processes over their VMs, totals. */
static int build_snapshot(struct rp *r, struct msmvm_snapshot *out)
{
	size_t nv = 0, np = 0;

	out->vms = calloc(r->vms.n + 1, sizeof(*out->vms));
	out->procs = calloc(r->procs.n + 1, sizeof(*out->procs));
	if (!out->vms || !out->procs)
		return -ENOMEM;
	for (size_t i = 0; i < r->vms.cap; i++) {
		const struct rp_vm *vm = r->vms.e[i].v;

		if (!r->vms.e[i].used)
			continue;
		out->vms[nv] = (struct msmvm_vm_snap){ .vm = vm->addr, .scope = vm->pid,
						       .owner_tgid = vm->pid, .s = vm->s };
		nv++;
	}
	qsort(out->vms, nv, sizeof(*out->vms), cmp_vm);
	out->nvms = (int)nv;
	for (size_t i = 0; i < r->procs.cap; i++) {
		const struct rp_proc *p = r->procs.e[i].v;

		if (!r->procs.e[i].used)
			continue;
		out->procs[np].tgid = (uint32_t)r->procs.e[i].k1;
		memcpy(out->procs[np].comm, p->comm, MSMVM_COMM_LEN);
		tr_utf8_fix(out->procs[np].comm, MSMVM_COMM_LEN);	/* cut to 15 bytes anywhere */
		np++;
	}
	qsort(out->procs, np, sizeof(*out->procs), cmp_proc);
	out->nprocs = (int)np;
	for (int i = 0; i < out->nprocs; i++) {
		struct msmvm_proc_snap *p = &out->procs[i];

		p->vm_index = calloc((size_t)out->nvms + 1, sizeof(int));
		if (!p->vm_index)
			return -ENOMEM;
		memcpy(p->s.comm, p->comm, MSMVM_COMM_LEN);
		for (int j = 0; j < out->nvms; j++) {
			if (out->vms[j].owner_tgid != p->tgid)
				continue;
			p->vm_index[p->nvms++] = j;
			msmvm_stats_merge(&p->s, &out->vms[j].s);
		}
		msmvm_stats_merge(&out->totals, &p->s);
	}
	return 0;
}

int msmvm_trace_replay(const char *path, uint32_t filter_pid, struct msmvm_snapshot *out,
		       struct msmvm_trace_info *info, struct msmvm_err *err)
{
	return msmvm_trace_replay_ex(path, filter_pid, 0, out, info, err);
}

int msmvm_trace_replay_ex(const char *path, uint32_t filter_pid, unsigned int flags,
			  struct msmvm_snapshot *out, struct msmvm_trace_info *info,
			  struct msmvm_err *err)
{
	struct rp r = { .filter = filter_pid, .info = info };
	struct tr_reader_cb cb = { .ctx = &r, .track = on_track, .event = on_event,
				   .dropped = on_dropped };
	struct tr_read_info ri;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(info, 0, sizeof(*info));
	ret = tr_read_file(path, flags, &cb, &ri, err);
	if (!ret && !r.have_start)
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, EINVAL,
				 "%s was not written by msmvm-trace (no recording header)", path);
	if (!ret && r.oom)
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	if (!ret && build_snapshot(&r, out)) {
		msmvm_snapshot_free(out);
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	}
	if (!ret) {
		tr_read_info_copy(info, &ri);
		info->duration_s = r.t_last > r.t_start ? (double)(r.t_last - r.t_start) / 1e9 : 0;
		memcpy(out->health, info->health, sizeof(out->health));
		out->ts_ns = r.t_last;
	}
	tr_map_free(&r.tracks, free);
	tr_map_free(&r.vms, free);
	tr_map_free(&r.procs, free);
	return ret;
}
