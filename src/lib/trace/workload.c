// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A trace written by msmvm-trace back into a workload (msmvm/workload.h): the binds with
 * their ops, timing and jobs, for msmvm-tune to replay through the model's throttle.
 *
 * Read through the same reader as msmvm-stat --replay (tr_read_file): a "VM_BIND" slice on
 * a thread track is a call (vm, nr_ops, queue_id, pages_counted, ret, ops), its nested
 * "throttle wait" slice the wait, a "wait interrupted" instant an interrupted one; on a
 * VM's lanes, a "job" slice ends at its free (used) and is tied to its call by the flow,
 * as are "job freed" instants; "job freed in VM_BIND" (never a flow: the ioctl's error
 * path) goes to the failed call of that VM around it. The header gives the limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msmvm/workload.h"
#include "internal.h"

#define STACK_MAX 8
/* A failed call's "job freed in VM_BIND": the calls looked at, back from its time. */
#define IOCTL_FREE_LOOKBACK 256

struct wl_open {
	int name;
	size_t bind;		/* VM_BIND: its index + 1; 0: none */
};

struct wl_track {
	struct tr_track t;
	struct wl_open stack[STACK_MAX];	/* thread tracks: open slices */
	int depth, lost;			/* lost: begins past STACK_MAX, still open */
	uint64_t job_flow;			/* lanes: the job begun last, still open */
	bool job_open;
};

struct wl_bind {
	struct msmvm_wl_bind b;
	size_t nops;		/* ops parsed into wl->ops at b.ops_first */
	bool ended;		/* its slice ended: a whole call */
	uint64_t order;		/* file order, to sort ties */
};

struct wl_ifree {
	uint32_t pid;
	uint64_t vm, ts;
	uint32_t used;
};

struct wl_comm {
	char comm[MSMVM_COMM_LEN];
	uint64_t ts;		/* thread names: the latest call's */
	bool from_process;	/* the process track's own name: preferred */
};

struct wl_state {
	struct tr_map tracks;	/* uuid -> struct wl_track */
	struct tr_map flows;	/* flow id -> bind index + 1 (as a pointer) */
	struct tr_map comms;	/* pid -> struct wl_comm */
	struct wl_bind *binds;
	size_t nbinds, capbinds;
	struct msmvm_wl_op *ops;
	size_t nops, capops;
	struct wl_ifree *ifrees;
	size_t nifrees, capifrees;
	uint64_t frees, frees_without_bind;
	struct msmvm_trace_info *info;
	uint64_t t_start, t_last, t_end;
	uint32_t limit;
	bool have_start, oom;
};

/* Grow an array to hold one more element; false (and oom) when it cannot. */
static bool grow(struct wl_state *w, void **p, size_t *cap, size_t n, size_t size)
{
	void *np;
	size_t nc;

	if (n < *cap)
		return true;
	nc = *cap ? *cap * 2 : 256;
	np = realloc(*p, nc * size);
	if (!np) {
		w->oom = true;
		return false;
	}
	*p = np;
	*cap = nc;
	return true;
}

static void set_comm(struct wl_state *w, uint32_t pid, const char *name, uint64_t ts,
		     bool from_process)
{
	struct wl_comm *c = tr_map_get(&w->comms, pid, 0);

	if (!name[0])
		return;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c || tr_map_put(&w->comms, pid, 0, c)) {
			free(c);
			w->oom = true;
			return;
		}
	} else if (c->from_process && !from_process) {
		return;
	} else if (!from_process && ts < c->ts) {
		return;
	}
	snprintf(c->comm, sizeof(c->comm), "%s", name);
	tr_utf8_fix(c->comm, sizeof(c->comm));
	c->ts = ts;
	c->from_process = from_process;
}

static void on_track(void *ctx, const struct tr_track *t)
{
	struct wl_state *w = ctx;
	struct wl_track *wt = tr_map_get(&w->tracks, t->uuid, 0);

	if (!wt) {
		wt = calloc(1, sizeof(*wt));
		if (!wt || tr_map_put(&w->tracks, t->uuid, 0, wt)) {
			free(wt);
			w->oom = true;
			return;
		}
	}
	wt->t = *t;	/* described again: a new name, the same slices */
	if (t->kind == TT_PROCESS)
		set_comm(w, t->pid, t->name, 0, true);
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * A hex number of pages at *p (no sign); *p moves past it. What strtoull(p, &end, 16) takes
 * after a hex digit, "0x" included, by hand: millions of ops in a storm trace, and strtoull
 * was most of the time spent reading them.
 */
static int parse_pages(const char **p, uint64_t *bytes)
{
	const char *s = *p;
	uint64_t v = 0;
	int d;

	if (hex_digit(*s) < 0)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hex_digit(s[2]) >= 0)
		s += 2;
	for (; (d = hex_digit(*s)) >= 0; s++) {
		if (v > (UINT64_MAX - (uint64_t)d) / 16)
			return -1;	/* strtoull: ERANGE */
		v = v * 16 + (uint64_t)d;
	}
	if (v > UINT64_MAX / TR_OP_PAGE)
		return -1;
	*bytes = v * TR_OP_PAGE;
	*p = s;
	return 0;
}

/*
 * One op at *s (up to a space or the end); *s moves past it. The short form: M (map),
 * U (unmap) or N (MAP_NULL), the first page in hex, "+PAGES" when not 1; the long one
 * "KIND:IOVA:RANGE" as msmvm-sim count takes it.
 */
static int parse_op(const char **s, struct msmvm_wl_op *op)
{
	static const char letters[] = "UMN";	/* by kind: 0 unmap, 1 map, 2 null */
	const char *p = *s, *c;
	const char *letter = **s ? strchr(letters, **s) : NULL;
	unsigned long long v[2];
	char *end;

	if (letter) {
		op->kind = (uint32_t)(letter - letters);
		p++;
		op->range = TR_OP_PAGE;
		if (parse_pages(&p, &op->iova))
			return -1;
		if (*p == '+' && (p++, parse_pages(&p, &op->range)))
			return -1;
		if (*p != ' ' && *p)
			return -1;
		op->pad = 0;
		*s = p;
		return 0;
	}
	c = strchr(p, ':');
	if (!c)
		return -1;
	if (c - p == 3 && !memcmp(p, "map", 3))
		op->kind = 1;
	else if (c - p == 4 && !memcmp(p, "null", 4))
		op->kind = 2;
	else if (c - p == 5 && !memcmp(p, "unmap", 5))
		op->kind = 0;
	else if (c - p > 2 && c - p <= 12 && !memcmp(p, "op", 2) && p[2] >= '0' && p[2] <= '9') {
		unsigned long k = strtoul(p + 2, &end, 10);

		if (end != c || k > UINT32_MAX)
			return -1;
		op->kind = (uint32_t)k;
	} else {
		return -1;
	}
	p = c + 1;
	for (int i = 0; i < 2; i++) {
		if (*p < '0' || *p > '9')	/* strtoull would take spaces and signs */
			return -1;
		errno = 0;
		v[i] = strtoull(p, &end, 0);
		if (errno || end == p || (i == 0 && *end != ':') ||
		    (i == 1 && *end != ' ' && *end))
			return -1;
		p = i == 0 ? end + 1 : end;
	}
	op->iova = v[0];
	op->range = v[1];
	op->pad = 0;
	*s = p;
	return 0;
}

/* The "ops" argument into wl->ops: true when it holds exactly nr_ops ops. */
static bool parse_ops(struct wl_state *w, const char *s, uint32_t nr_ops, size_t *first)
{
	size_t n0 = w->nops;

	*first = n0;
	while (*s) {
		struct msmvm_wl_op op;

		if (w->nops - n0 >= nr_ops || parse_op(&s, &op))
			goto bad;
		if (!grow(w, (void **)&w->ops, &w->capops, w->nops, sizeof(op)))
			goto bad;
		w->ops[w->nops++] = op;
		if (*s == ' ' && s[1])
			s++;
		else if (*s)
			goto bad;
	}
	if (w->nops - n0 == nr_ops)
		return true;
bad:
	w->nops = n0;
	return false;
}

static struct wl_bind *bind_of_flow(struct wl_state *w, uint64_t flow)
{
	uintptr_t i = flow ? (uintptr_t)tr_map_get(&w->flows, flow, 0) : 0;

	return i && i <= w->nbinds ? &w->binds[i - 1] : NULL;
}

static void bind_begin(struct wl_state *w, struct wl_track *t, const struct tr_ev *e,
		       struct wl_open *top)
{
	const struct tr_arg *pages = tr_ev_arg(e, TK_PAGES_COUNTED), *ops = tr_ev_arg(e, TK_OPS);
	struct wl_bind *wb;

	if (!grow(w, (void **)&w->binds, &w->capbinds, w->nbinds, sizeof(*w->binds)))
		return;
	wb = &w->binds[w->nbinds];
	memset(wb, 0, sizeof(*wb));
	wb->order = w->nbinds;
	wb->b.pid = t->t.pid;
	wb->b.tid = t->t.tid;
	wb->b.vm = (uint64_t)tr_ev_num(e, TK_VM, 0);
	wb->b.nr_ops = (uint32_t)tr_ev_num(e, TK_NR_OPS, 0);
	wb->b.queue_id = (uint32_t)tr_ev_num(e, TK_QUEUE_ID, 0);
	wb->b.ret = (int32_t)tr_ev_num(e, TK_RET, 0);
	wb->b.entry_ns = e->ts;
	if (tr_ev_arg(e, TK_THROTTLE_AT)) {	/* did not sleep: its check, without a wait slice */
		wb->b.wait_start_ns = e->ts + (uint64_t)tr_ev_num(e, TK_THROTTLE_AT, 0);
		wb->b.wait_end_ns = wb->b.wait_start_ns;
	}
	if (pages && pages->type != TA_STR) {
		wb->b.counted = true;
		wb->b.count = (uint32_t)pages->u;
	}
	wb->b.ops_first = w->nops;
	if (ops && ops->type == TA_STR && !tr_ev_arg(e, TK_OPS_INCOMPLETE) &&
	    parse_ops(w, ops->s, wb->b.nr_ops, &wb->b.ops_first)) {
		wb->b.ops_known = true;
		wb->nops = wb->b.nr_ops;
	}
	w->nbinds++;
	top->bind = w->nbinds;
	if (e->flow_out && tr_map_put(&w->flows, e->flow_out, 0, (void *)(uintptr_t)w->nbinds))
		w->oom = true;
	set_comm(w, t->t.pid, t->t.name, e->ts, false);
}

static void on_thread_event(struct wl_state *w, struct wl_track *t, const struct tr_ev *e)
{
	struct wl_open top = { .name = e->name };
	struct wl_bind *wb;

	switch (e->type) {
	case TE_BEGIN:
		if (t->depth == STACK_MAX) {
			t->lost++;
			return;
		}
		if (e->name == TN_VM_BIND && t->depth == 0) {
			bind_begin(w, t, e, &top);
		} else if (e->name == TN_WAIT && t->depth == 1 && t->stack[0].bind) {
			wb = &w->binds[t->stack[0].bind - 1];
			wb->b.wait_start_ns = e->ts;
			wb->b.slept = true;
		}
		t->stack[t->depth++] = top;
		break;
	case TE_END:
		if (t->lost) {
			t->lost--;
			return;
		}
		if (!t->depth)
			return;
		top = t->stack[--t->depth];
		if (top.bind && t->depth == 0) {
			wb = &w->binds[top.bind - 1];
			wb->b.return_ns = e->ts;
			wb->ended = true;
		} else if (top.name == TN_WAIT && t->depth == 1 && t->stack[0].bind) {
			w->binds[t->stack[0].bind - 1].b.wait_end_ns = e->ts;
		}
		break;
	case TE_INSTANT:
		if (e->name == TN_WAIT_INTR && t->depth && t->stack[0].bind)
			w->binds[t->stack[0].bind - 1].b.interrupted = true;
		break;
	default:
		break;
	}
}

/* A job's free: its call's free time and used pages, through the flow. */
static void job_free(struct wl_state *w, uint64_t flow, const struct tr_ev *e)
{
	struct wl_bind *wb = bind_of_flow(w, flow);

	if (!wb || wb->b.free_ns) {
		w->frees_without_bind++;
		return;
	}
	wb->b.free_ns = e->ts;
	wb->b.used = (uint32_t)tr_ev_num(e, TK_USED, 0);
}

static void on_lane_event(struct wl_state *w, struct wl_track *t, const struct tr_ev *e)
{
	const struct wl_track *parent;
	unsigned long long vm;

	if (e->type == TE_BEGIN && e->name == TN_JOB) {
		t->job_flow = e->flow_in;
		t->job_open = true;
	} else if (e->type == TE_END && t->job_open) {
		t->job_open = false;
		w->frees++;
		job_free(w, t->job_flow, e);
	} else if (e->type == TE_INSTANT && e->name == TN_JOB_FREED) {
		w->frees++;
		job_free(w, e->flow_in, e);
	} else if (e->type == TE_INSTANT && e->name == TN_JOB_FREED_IOCTL) {
		w->frees++;
		/* a failed call's job: which one is said by the VM (the lane's name) and time */
		parent = tr_map_get(&w->tracks, t->t.parent, 0);
		if (!parent || parent->t.kind != TT_PROCESS ||
		    sscanf(t->t.name, "VM 0x%llx", &vm) != 1)
			return;
		if (!grow(w, (void **)&w->ifrees, &w->capifrees, w->nifrees, sizeof(*w->ifrees)))
			return;
		w->ifrees[w->nifrees++] = (struct wl_ifree){
			parent->t.pid, vm, e->ts, (uint32_t)tr_ev_num(e, TK_USED, 0) };
	}
}

static void on_global_event(struct wl_state *w, const struct tr_ev *e)
{
	switch (tr_info_from_event(w->info, e)) {
	case TN_RECORDING:
		w->t_start = e->ts;
		w->have_start = true;
		w->limit = (uint32_t)w->info->plan.throttle_limit;
		break;
	case TN_STATS:
		w->t_end = e->ts;
		break;
	}
}

static void on_event(void *ctx, const struct tr_ev *e)
{
	struct wl_state *w = ctx;
	struct wl_track *t = tr_map_get(&w->tracks, e->track, 0);

	if (!t || w->oom)
		return;
	if (e->ts > w->t_last)
		w->t_last = e->ts;
	switch (t->t.kind) {
	case TT_THREAD:
		on_thread_event(w, t, e);
		break;
	case TT_LANE:
		on_lane_event(w, t, e);
		break;
	case TT_GLOBAL:
		on_global_event(w, e);
		break;
	default:
		break;
	}
}

static void on_dropped(void *ctx)
{
	struct wl_state *w = ctx;

	w->info->loss_marks++;
}

static int cmp_bind(const void *a, const void *b)
{
	const struct wl_bind *x = a, *y = b;

	if (x->b.entry_ns != y->b.entry_ns)
		return x->b.entry_ns < y->b.entry_ns ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct msmvm_wl_proc *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Whole calls only, ordered by entry; each failed call's in-ioctl free; procs; ops. */
static int build(struct wl_state *w, struct msmvm_workload *wl)
{
	struct tr_map pids = { 0 };
	size_t n = 0, nops = 0;

	for (size_t i = 0; i < w->nbinds; i++)
		if (w->binds[i].ended) {
			w->binds[n++] = w->binds[i];
			nops += w->binds[i].nops;
		}
	w->nbinds = n;
	if (n)
		qsort(w->binds, n, sizeof(*w->binds), cmp_bind);
	for (size_t k = 0; k < w->nifrees; k++) {
		const struct wl_ifree *f = &w->ifrees[k];
		size_t lo = 0, hi = n;

		while (lo < hi) {	/* the first call that entered after the free */
			size_t mid = lo + (hi - lo) / 2;

			if (w->binds[mid].b.entry_ns <= f->ts)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t j = lo, seen = 0; j-- > 0 && seen < IOCTL_FREE_LOOKBACK; seen++) {
			struct msmvm_wl_bind *b = &w->binds[j].b;

			if (b->pid == f->pid && b->vm == f->vm && b->ret < 0 && !b->free_ns &&
			    b->return_ns >= f->ts) {
				b->free_ns = f->ts;
				b->used = f->used;
				break;
			}
		}
	}

	wl->binds = calloc(n + 1, sizeof(*wl->binds));
	wl->ops = calloc(nops + 1, sizeof(*wl->ops));
	if (!wl->binds || !wl->ops)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct msmvm_wl_bind *b = &wl->binds[i];

		*b = w->binds[i].b;
		if (w->binds[i].nops)
			memcpy(&wl->ops[wl->nops], &w->ops[b->ops_first],
			       w->binds[i].nops * sizeof(*wl->ops));
		b->ops_first = wl->nops;
		wl->nops += w->binds[i].nops;
		if (!b->ops_known)
			wl->binds_without_ops++;
		if (!tr_map_get(&pids, b->pid, 0) && tr_map_put(&pids, b->pid, 0, (void *)1)) {
			tr_map_free(&pids, NULL);
			return -ENOMEM;
		}
	}
	wl->nbinds = n;
	wl->procs = calloc(pids.n + 1, sizeof(*wl->procs));
	if (!wl->procs) {
		tr_map_free(&pids, NULL);
		return -ENOMEM;
	}
	for (size_t i = 0; i < pids.cap; i++) {
		const struct wl_comm *c;
		struct msmvm_wl_proc *p;

		if (!pids.e[i].used)
			continue;
		p = &wl->procs[wl->nprocs++];
		p->pid = (uint32_t)pids.e[i].k1;
		c = tr_map_get(&w->comms, p->pid, 0);
		if (c)
			memcpy(p->comm, c->comm, sizeof(p->comm));
	}
	tr_map_free(&pids, NULL);
	qsort(wl->procs, wl->nprocs, sizeof(*wl->procs), cmp_proc);
	wl->start_ns = w->t_start;
	wl->end_ns = w->t_end ? w->t_end : w->t_last;
	wl->limit = w->limit;
	wl->frees_without_bind = w->frees_without_bind;
	return 0;
}

void msmvm_workload_free(struct msmvm_workload *wl)
{
	if (!wl)
		return;
	free(wl->binds);
	free(wl->ops);
	free(wl->procs);
	memset(wl, 0, sizeof(*wl));
}

int msmvm_trace_load_workload(const char *path, struct msmvm_workload *wl,
			      struct msmvm_trace_info *info, struct msmvm_err *err)
{
	return msmvm_trace_load_workload_ex(path, 0, wl, info, err);
}

int msmvm_trace_load_workload_ex(const char *path, unsigned int flags, struct msmvm_workload *wl,
				 struct msmvm_trace_info *info, struct msmvm_err *err)
{
	struct msmvm_trace_info scratch;
	struct wl_state w = { 0 };
	struct tr_reader_cb cb = { .ctx = &w, .track = on_track, .event = on_event,
				   .dropped = on_dropped };
	struct tr_read_info ri;
	int ret;

	if (!info)
		info = &scratch;
	memset(wl, 0, sizeof(*wl));
	memset(info, 0, sizeof(*info));
	w.info = info;
	ret = tr_read_file(path, flags, &cb, &ri, err);
	if (!ret && !w.have_start)
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, EINVAL,
				 "%s was not written by msmvm-trace (no recording header)", path);
	if (!ret && w.oom)
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	if (!ret && build(&w, wl)) {
		msmvm_workload_free(wl);
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	}
	if (!ret) {
		tr_read_info_copy(info, &ri);
		info->events = wl->nbinds + w.frees;
		info->duration_s = wl->end_ns > wl->start_ns
					   ? (double)(wl->end_ns - wl->start_ns) / 1e9 : 0;
	} else {
		msmvm_workload_free(wl);
	}
	tr_map_free(&w.tracks, free);
	tr_map_free(&w.flows, NULL);
	tr_map_free(&w.comms, free);
	free(w.binds);
	free(w.ops);
	free(w.ifrees);
	return ret;
}
