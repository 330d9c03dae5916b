// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * From probe events to trace events. Each probe event becomes one self-contained group:
 *
 *   VM_BIND return  on the calling thread's track: the "VM_BIND" slice (vm, nr_ops,
 *                   queue_id, pages_counted, ret, ops) with the "throttle wait" slice nested
 *                   if it slept and a "wait interrupted" instant; on its VM: threads-waiting
 *                   and in_flight counter values; a flow to the job it queued.
 *   VM_BIND ops     (records sent at the call's entry) nothing yet: held per thread until
 *                   the call's return, which writes them as its "ops" argument.
 *   job free        on its VM: in_flight before and after the sub, the "job" slice (bind
 *                   return to free, with counted/used/unused) ending the flow, a "drift"
 *                   instant when the job leaves in_flight off.
 *
 * A VM's jobs overlap, so they go on lanes: sibling tracks of one name under the process,
 * which the Perfetto UI shows as one track. A job is written whole at its free, on the
 * first lane free over its lifetime: every track's slices nest, whatever the order of the
 * writes, and each group is whole on its own (a file cut anywhere between groups is valid;
 * the flight recorder can start a trace at any event).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *const name_strs[TN_COUNT_] = {
	[TN_VM_BIND] = "VM_BIND",
	[TN_WAIT] = "throttle wait",
	[TN_WAIT_INTR] = "wait interrupted",
	[TN_JOB] = "job",
	[TN_JOB_FREED_IOCTL] = "job freed in VM_BIND",
	[TN_JOB_FREED] = "job freed",
	[TN_DRIFT] = "drift",
	[TN_RECORDING] = "msmvm-trace recording",
	[TN_LOST] = "events lost",
	[TN_STATS] = "msmvm-trace stats",
};

static const char *const key_strs[TK_HEALTH_] = {
	[TK_VM] = "vm", [TK_NR_OPS] = "nr_ops", [TK_QUEUE_ID] = "queue_id",
	[TK_PAGES_COUNTED] = "pages_counted", [TK_RET] = "ret", [TK_COUNTED] = "counted",
	[TK_USED] = "used", [TK_UNUSED] = "unused", [TK_DRIFT] = "drift",
	[TK_VM_DRIFT] = "vm_drift", [TK_TARGET] = "target", [TK_PLAN] = "plan",
	[TK_REASON] = "reason", [TK_ARCH] = "arch", [TK_VERSION] = "version",
	[TK_DROPPED] = "dropped", [TK_DROPPED_TOTAL] = "dropped_total",
	[TK_EVENTS] = "events_recorded", [TK_OPS] = "ops", [TK_OPS_INCOMPLETE] = "ops_incomplete",
	[TK_THROTTLE_LIMIT] = "throttle_limit", [TK_OPS_RECORDED] = "ops_recorded",
	[TK_THROTTLE_AT] = "throttle_at_ns",
};

const char *tr_name_str(int name)
{
	return name > TN_NONE && name < TN_COUNT_ ? name_strs[name] : "?";
}

const char *tr_key_str(int key)
{
	if (key > TK_NONE && key < TK_HEALTH_)
		return key_strs[key];
	if (key >= TK_HEALTH_ && key < TK_COUNT_)
		return msmvm_health_name(key - TK_HEALTH_);
	return "?";
}

int tr_name_lookup(const char *s)
{
	for (int i = TN_NONE + 1; i < TN_COUNT_; i++)
		if (!strcmp(s, name_strs[i]))
			return i;
	return TN_NONE;
}

int tr_key_lookup(const char *s)
{
	for (int i = TK_NONE + 1; i < TK_COUNT_; i++)
		if (!strcmp(s, tr_key_str(i)))
			return i;
	return TK_NONE;
}

struct tb_proc {
	uint64_t uuid;
	char comm[MSMVM_COMM_LEN];
};

struct tb_thread {
	uint64_t uuid;
	char comm[MSMVM_COMM_LEN];
};

struct tb_lane {
	uint64_t uuid, last_end;
	bool open;		/* holds a job still in flight at the end (no end written) */
};

struct tb_vm {
	uint32_t pid;
	uint64_t addr, proc_uuid;
	uint64_t inflight_uuid, waiting_uuid;
	struct tb_lane *lanes;
	int nlanes;
	int64_t drift;
	char label[40];		/* "VM 0x…": the reader finds the VM's address here */
};

/*
 * The ops records of a call still inside msm_ioctl_vm_bind (keyed by tid): the records
 * come at the call's entry, its bind event at its return.
 */
struct tb_op {
	uint64_t iova, range;
	uint32_t kind;
};

struct tb_pending {
	uint32_t pid, nr_ops, cap;
	uint64_t call;		/* the call's entry time: its bind's start_ns */
	uint32_t next;		/* where the next record should start */
	uint32_t got;		/* ops received */
	bool gap;		/* a record missing or short: the list is incomplete */
	uint64_t used;		/* last touched, for eviction */
	struct tb_op op[];
};

/* Calls in progress whose ops are held: past this, the least recently touched goes. */
#define PENDING_MAX 1024

/*
 * A queued job whose free is still to come. A job's address is reused as soon as it is
 * freed, before that free's event leaves (at the free's return): a later call's job can
 * queue at the same address ahead of it. So each address holds its jobs, newest first.
 */
struct tb_job {
	uint64_t flow, start, vm;
	uint64_t added;		/* when it was counted (or its call's entry): later frees may be its */
	uint32_t count;
	struct tb_job *older;	/* the address's previous job, its free still to come */
};

/* Jobs kept per address: more are older ones whose frees were lost. */
#define JOBS_PER_ADDRESS 4
/*
 * Once events were lost, an address may hold a job whose free was lost: a free with no
 * start is then taken as a job's only if it came at most this long after the job's return
 * (it entered before the return probe took the job; that probe can be preempted, so
 * without losses there is no bound: every job listed still has its free to come).
 */
#define FREE_IN_RETURN_NS 1000000ULL

struct tr_build {
	struct tr_backend *ops;
	void *be;
	uint64_t t0, next_uuid, flow_seq, recorder, last_clock;
	struct tr_map procs, threads, vms, jobs;
	struct tr_map early;	/* frees seen before their bind returned: held for the flow */
	struct tr_map pending;	/* tid -> struct tb_pending: ops of calls in progress */
	uint64_t pending_clock;
	bool lossy;		/* events were lost: the jobs listed may be ones whose frees were */
	bool ops_on;		/* the header said the binds carry their ops */
	char *opstr;		/* the "ops" argument being written */
	size_t opscap;
};

#define EARLY_MAX 4096

struct tr_build *tr_build_new(struct tr_backend *ops, void *be, uint64_t t0_ns)
{
	struct tr_build *tb = calloc(1, sizeof(*tb));

	if (!tb)
		return NULL;
	tb->ops = ops;
	tb->be = be;
	tb->t0 = t0_ns;
	tb->next_uuid = 1;
	return tb;
}

static void free_jobs(void *p)
{
	for (struct tb_job *j = p, *next; j; j = next) {
		next = j->older;
		free(j);
	}
}

static void free_vm(void *p)
{
	struct tb_vm *vm = p;

	free(vm->lanes);
	free(vm);
}

void tr_build_free(struct tr_build *tb)
{
	if (!tb)
		return;
	tr_map_free(&tb->procs, free);
	tr_map_free(&tb->threads, free);
	tr_map_free(&tb->vms, free_vm);
	tr_map_free(&tb->jobs, free_jobs);
	tr_map_free(&tb->early, free);
	tr_map_free(&tb->pending, free);
	free(tb->opstr);
	free(tb);
}

/* ---- trace events ---- */

static void ev_init(struct tr_ev *x, enum tr_ev_type type, uint64_t track, uint64_t ts, int name)
{
	x->type = type;
	x->track = track;
	x->ts = ts;
	x->name = name;
	x->value = 0;
	x->flow_out = x->flow_in = 0;
	x->extra_track = 0;
	x->extra_value = 0;
	x->home = 0;
	x->nargs = 0;
}

static void arg_u(struct tr_ev *x, int key, uint64_t v)
{
	x->args[x->nargs++] = (struct tr_arg){ .key = (uint16_t)key, .type = TA_UINT, .u = v };
}

static void arg_i(struct tr_ev *x, int key, int64_t v)
{
	x->args[x->nargs++] = (struct tr_arg){ .key = (uint16_t)key, .type = TA_INT, .i = v };
}

static void arg_p(struct tr_ev *x, int key, uint64_t v)
{
	x->args[x->nargs++] = (struct tr_arg){ .key = (uint16_t)key, .type = TA_PTR, .u = v };
}

static void arg_s(struct tr_ev *x, int key, const char *s)
{
	x->args[x->nargs++] = (struct tr_arg){ .key = (uint16_t)key, .type = TA_STR, .s = s };
}

static void emit(struct tr_build *tb, struct tr_buf *b, const struct tr_ev *x)
{
	tb->ops->event(tb->be, b, x);
}

/* A counter value, carried by the sequence of `home` (the thread or lane it was read for). */
static void counter_ev(struct tr_ev *x, uint64_t track, uint64_t ts, int64_t value, uint64_t home)
{
	ev_init(x, TE_COUNTER, track, ts, TN_NONE);
	x->value = value;
	x->home = home;
}

static void counter(struct tr_build *tb, struct tr_buf *b, uint64_t track, uint64_t ts,
		    int64_t value, uint64_t home)
{
	struct tr_ev x;

	counter_ev(&x, track, ts, value, home);
	emit(tb, b, &x);
}

/* ---- tracks, each described before its first use ---- */

static uint64_t new_track(struct tr_build *tb, struct tr_buf *b, enum tr_track_kind kind,
			  uint64_t parent, uint32_t pid, uint32_t tid, const char *name)
{
	struct tr_track t = { .uuid = tb->next_uuid++, .parent = parent, .kind = kind,
			      .pid = pid, .tid = tid };

	snprintf(t.name, sizeof(t.name), "%s", name ? name : "");
	tb->ops->track(tb->be, b, &t);
	return t.uuid;
}

static void comm_copy(char *dst, const char *comm)
{
	memset(dst, 0, MSMVM_COMM_LEN);
	if (comm)
		memcpy(dst, comm, MSMVM_COMM_LEN - 1);
}

static struct tb_proc *get_proc(struct tr_build *tb, struct tr_buf *b, uint32_t pid,
				const char *comm)
{
	struct tb_proc *p = tr_map_get(&tb->procs, pid, 0);
	struct tr_track t = { .kind = TT_PROCESS, .pid = pid };

	if (p && (p->comm[0] || !comm || !comm[0]))
		return p;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || tr_map_put(&tb->procs, pid, 0, p)) {
			free(p);
			return NULL;
		}
		p->uuid = tb->next_uuid++;
	}
	comm_copy(p->comm, comm);	/* named now (again, when first seen without a name) */
	t.uuid = p->uuid;
	memcpy(t.name, p->comm, MSMVM_COMM_LEN);
	tb->ops->track(tb->be, b, &t);
	return p;
}

static struct tb_thread *get_thread(struct tr_build *tb, struct tr_buf *b, struct tb_proc *p,
				    uint32_t pid, uint32_t tid, const char *comm)
{
	struct tb_thread *t = tr_map_get(&tb->threads, pid, tid);
	char name[MSMVM_COMM_LEN];

	comm_copy(name, comm);
	if (t && !memcmp(t->comm, name, sizeof(name)))
		return t;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || tr_map_put(&tb->threads, pid, tid, t)) {
			free(t);
			return NULL;
		}
		t->uuid = tb->next_uuid++;
	}
	memcpy(t->comm, name, sizeof(name));	/* renamed threads are described again */
	{
		struct tr_track d = { .uuid = t->uuid, .parent = p->uuid, .kind = TT_THREAD,
				      .pid = pid, .tid = tid };

		memcpy(d.name, name, sizeof(name));
		tb->ops->track(tb->be, b, &d);
	}
	return t;
}

static struct tb_vm *get_vm(struct tr_build *tb, struct tb_proc *p, uint32_t pid, uint64_t addr)
{
	struct tb_vm *vm = tr_map_get(&tb->vms, pid, addr);

	if (vm)
		return vm;
	vm = calloc(1, sizeof(*vm));
	if (!vm || tr_map_put(&tb->vms, pid, addr, vm)) {
		free(vm);
		return NULL;
	}
	vm->pid = pid;
	vm->addr = addr;
	vm->proc_uuid = p->uuid;
	snprintf(vm->label, sizeof(vm->label), "VM 0x%" PRIx64, addr);
	return vm;
}

static uint64_t vm_counter(struct tr_build *tb, struct tr_buf *b, struct tb_vm *vm,
			   uint64_t *uuid, const char *what)
{
	char name[80];

	if (!*uuid) {
		snprintf(name, sizeof(name), "%s %s", vm->label, what);
		*uuid = new_track(tb, b, TT_COUNTER, vm->proc_uuid, vm->pid, 0, name);
	}
	return *uuid;
}

static struct tb_lane *add_lane(struct tr_build *tb, struct tr_buf *b, struct tb_vm *vm)
{
	/* described first: a lane's events carry its values (frees read it as they end a job) */
	uint64_t inflight = vm_counter(tb, b, vm, &vm->inflight_uuid, "in_flight pages");
	struct tb_lane *l = realloc(vm->lanes, (size_t)(vm->nlanes + 1) * sizeof(*l));
	struct tr_track t = { .uuid = tb->next_uuid++, .parent = vm->proc_uuid, .kind = TT_LANE,
			      .pid = vm->pid, .counter = inflight };

	if (!l)
		return NULL;
	vm->lanes = l;
	l = &vm->lanes[vm->nlanes++];
	snprintf(t.name, sizeof(t.name), "%s jobs", vm->label);
	tb->ops->track(tb->be, b, &t);
	*l = (struct tb_lane){ .uuid = t.uuid };
	return l;
}

/* The VM's first lane: its instants go there. */
static uint64_t lane0(struct tr_build *tb, struct tr_buf *b, struct tb_vm *vm)
{
	if (!vm->nlanes && !add_lane(tb, b, vm))
		return 0;
	return vm->lanes[0].uuid;
}

/* A lane with nothing on it after `start`: every earlier job there ended by then. */
static uint64_t lane_for(struct tr_build *tb, struct tr_buf *b, struct tb_vm *vm,
			 uint64_t start, uint64_t end, bool open)
{
	struct tb_lane *l = NULL;

	for (int i = 0; i < vm->nlanes && !l; i++)
		if (!vm->lanes[i].open && vm->lanes[i].last_end <= start)
			l = &vm->lanes[i];
	if (!l && !(l = add_lane(tb, b, vm)))
		return 0;
	if (end > l->last_end)
		l->last_end = end;
	l->open = open;
	return l->uuid;
}

/* (unused pages: counted - used, left to readers) */
static void free_args(struct tr_ev *x, const struct msmvm_event *e)
{
	arg_u(x, TK_COUNTED, e->count);
	arg_u(x, TK_USED, e->used);
}

/*
 * A free with no lifetime to draw: an instant on the VM (flow: from its VM_BIND, if known);
 * with_inflight: it also carries in_flight as the free read it before its sub.
 */
static bool job_freed_ev(struct tr_build *tb, struct tr_buf *b, const struct msmvm_event *e,
			 uint64_t flow, bool with_inflight, struct tr_ev *x)
{
	struct tb_proc *p = get_proc(tb, b, e->pid, NULL);
	struct tb_vm *vm = p ? get_vm(tb, p, e->pid, e->vm) : NULL;

	if (!vm)
		return false;
	ev_init(x, TE_INSTANT, lane0(tb, b, vm), e->ts_ns,
		e->in_ioctl ? TN_JOB_FREED_IOCTL : TN_JOB_FREED);
	free_args(x, e);
	x->flow_in = flow;
	if (with_inflight) {
		x->extra_track = vm->inflight_uuid;
		x->extra_value = e->in_flight;
	}
	return true;
}

static void job_freed(struct tr_build *tb, struct tr_buf *b, const struct msmvm_event *e,
		      uint64_t flow, bool with_inflight)
{
	struct tr_ev x;

	if (job_freed_ev(tb, b, e, flow, with_inflight, &x))
		emit(tb, b, &x);
}

static void flush_early(struct tr_build *tb, struct tr_buf *b)
{
	for (size_t i = 0; i < tb->early.cap; i++)
		if (tb->early.e[i].used)
			job_freed(tb, b, tb->early.e[i].v, 0, false);
	tr_map_free(&tb->early, free);
}

/* ---- ops: held from the call's entry to its return ---- */

static void pending_evict_one(struct tr_build *tb)
{
	struct tr_map_ent *old = NULL;

	for (size_t i = 0; i < tb->pending.cap; i++) {
		struct tr_map_ent *me = &tb->pending.e[i];

		if (me->used && (!old || ((struct tb_pending *)me->v)->used <
						 ((struct tb_pending *)old->v)->used))
			old = me;
	}
	if (old)
		free(tr_map_del(&tb->pending, old->k1, old->k2));
}

static void ops_event(struct tr_build *tb, const struct msmvm_event *ev)
{
	struct msmvm_ops_event o;
	struct tb_pending *p;
	uint32_t n;

	memcpy(&o, ev, sizeof(o));
	p = tr_map_get(&tb->pending, o.tid, 0);
	if (p && (p->pid != o.pid || p->call != o.ts_ns || p->nr_ops != o.nr_ops)) {
		/* another call of this thread: the earlier one's bind event was lost */
		free(tr_map_del(&tb->pending, o.tid, 0));
		p = NULL;
	}
	if (!p) {
		uint32_t cap = o.nr_ops < MSMVM_OPS_MAX ? o.nr_ops : MSMVM_OPS_MAX;

		if (tb->pending.n >= PENDING_MAX)
			pending_evict_one(tb);
		p = calloc(1, sizeof(*p) + (size_t)cap * sizeof(p->op[0]));
		if (!p)
			return;	/* the bind then says its ops are incomplete */
		p->pid = o.pid;
		p->nr_ops = o.nr_ops;
		p->cap = cap;
		p->call = o.ts_ns;
		if (tr_map_put(&tb->pending, o.tid, 0, p)) {
			free(p);
			return;
		}
	}
	p->used = ++tb->pending_clock;
	n = o.n < MSMVM_OPS_PER_EVENT ? o.n : MSMVM_OPS_PER_EVENT;
	if (o.first != p->next || (n < MSMVM_OPS_PER_EVENT && o.first + n < p->cap))
		p->gap = true;	/* a record before this one was lost, or this one is short */
	for (uint32_t i = 0; i < n && (uint32_t)o.first + i < p->cap; i++)
		p->op[o.first + i] = (struct tb_op){ o.ops[i].iova, o.ops[i].range,
						     msmvm_ops_kind(&o, i) };
	p->got += n;
	p->next = (uint32_t)o.first + n;
}

static size_t put_hex(char *p, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0;

	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static size_t put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return n;
}

/*
 * One op, at most 48 bytes. Whole pages of a known kind in the short form: the kind's
 * letter (M map, U unmap, N MAP_NULL), the first page in hex, "+PAGES" in hex when not 1
 * ("M39231c", "U335121+10"); anything else as msmvm-sim count takes it
 * ("map:0x39231c800:0x1000", "op7:0x1000:0x1000").
 */
static size_t put_op(char *p, const struct tb_op *op)
{
	static const char *const words[3] = { "unmap", "map", "null" };
	static const char letters[3] = { 'U', 'M', 'N' };
	size_t n = 0;

	if (op->kind < 3 && op->range && !(op->iova & (TR_OP_PAGE - 1)) &&
	    !(op->range & (TR_OP_PAGE - 1))) {
		p[n++] = letters[op->kind];
		n += put_hex(p + n, op->iova / TR_OP_PAGE);
		if (op->range != TR_OP_PAGE) {
			p[n++] = '+';
			n += put_hex(p + n, op->range / TR_OP_PAGE);
		}
		return n;
	}
	if (op->kind < 3) {
		n += put_str(p, words[op->kind]);
	} else {
		p[n++] = 'o';
		p[n++] = 'p';
		n += (size_t)snprintf(p + n, 12, "%u", op->kind);
	}
	n += put_str(p + n, ":0x");
	n += put_hex(p + n, op->iova);
	n += put_str(p + n, ":0x");
	n += put_hex(p + n, op->range);
	return n;
}

/* The ops, space separated, in the call's order (put_op), or NULL (OOM). */
static const char *ops_string(struct tr_build *tb, const struct tb_pending *p)
{
	size_t need = (p ? p->cap : 0) * 49 + 1, len = 0;

	if (need > tb->opscap) {
		char *s = realloc(tb->opstr, need);

		if (!s)
			return NULL;
		tb->opstr = s;
		tb->opscap = need;
	}
	for (uint32_t i = 0; p && i < p->cap; i++) {
		if (i)
			tb->opstr[len++] = ' ';
		len += put_op(tb->opstr + len, &p->op[i]);
	}
	tb->opstr[len] = 0;
	return tb->opstr;
}

/*
 * The bind's "ops" argument: all of its ops, or "ops_incomplete" with what was recorded
 * when a record was lost (never a partial list). Nothing when ops were not recorded.
 */
static void ops_arg(struct tr_build *tb, struct tr_ev *x, const struct msmvm_event *e,
		    char *why, size_t whysize)
{
	struct tb_pending *p = tr_map_del(&tb->pending, e->tid, 0);
	const char *s = NULL;

	if (p && (p->pid != e->pid || p->call != e->start_ns)) {
		free(p);	/* an earlier call's, whose bind was lost */
		p = NULL;
	}
	if (!p && !tb->ops_on)
		return;
	if (p ? !p->gap && p->nr_ops == e->nr_ops && p->next == e->nr_ops && p->got == p->cap
	      : e->nr_ops == 0)
		s = ops_string(tb, p);
	if (s) {
		arg_s(x, TK_OPS, s);
	} else {
		snprintf(why, whysize, "%u of %u ops recorded%s", p ? p->got : 0, e->nr_ops,
			 e->nr_ops > MSMVM_OPS_MAX ? " (the probes stop at 1024)"
						   : " (records lost)");
		arg_s(x, TK_OPS_INCOMPLETE, why);
	}
	free(p);
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void bind_event(struct tr_build *tb, struct tr_buf *b, const struct msmvm_event *e)
{
	struct tb_proc *p = get_proc(tb, b, e->pid, e->comm);
	struct tb_thread *t = p ? get_thread(tb, b, p, e->pid, e->tid, e->comm) : NULL;
	struct tb_vm *vm = p ? get_vm(tb, p, e->pid, e->vm) : NULL;
	struct msmvm_event *early = NULL;
	uint64_t flow = 0, start = e->start_ns <= e->ts_ns ? e->start_ns : e->ts_ns;
	uint64_t ws = clamp(e->wait_start_ns, start, e->ts_ns);
	uint64_t we = clamp(e->wait_end_ns, ws, e->ts_ns);
	struct tr_ev xs[10], *x;	/* at most 8: a call that slept, a free during it */
	int order[10], n = 0;
	char why[96];

	if (!t || !vm) {
		free(tr_map_del(&tb->pending, e->tid, 0));
		return;
	}
	if (e->ret == 0 && e->counted && e->job) {	/* it queued a job: a flow to it */
		flow = ++tb->flow_seq;
		/*
		 * A free held for this job address is this call's only if it came after the
		 * call's entry: the address is reused as soon as it is freed, and the call that
		 * freed it may return after a later call with the same job returned (or its
		 * event was lost); the earlier free is then another call's.
		 */
		early = tr_map_get(&tb->early, e->pid, e->job);
		/*
		 * (A free that knew this return's time, on another CPU, may have taken its
		 * place in the ring buffer before this event did: it names the return.)
		 */
		if (early && (early->start_ns ? early->start_ns == e->ts_ns
					      : early->ts_ns >= e->start_ns))
			tr_map_del(&tb->early, e->pid, e->job);
		else
			early = NULL;
		if (!early) {
			struct tb_job *j = malloc(sizeof(*j));

			if (j) {
				struct tb_job *o;
				int n = 1;

				*j = (struct tb_job){ .flow = flow, .start = e->ts_ns, .vm = e->vm,
						      .added = e->add_ns ? e->add_ns : e->start_ns,
						      .count = e->count,
						      .older = tr_map_del(&tb->jobs, e->pid, e->job) };
				for (o = j; o->older && ++n < JOBS_PER_ADDRESS; o = o->older)
					;
				free_jobs(o->older);
				o->older = NULL;
				if (tr_map_put(&tb->jobs, e->pid, e->job, j))
					free_jobs(j);
			}
		}
	}
	/* the call's events, written in time order: its thread's sequence counts in deltas */
	x = &xs[n++];
	ev_init(x, TE_BEGIN, t->uuid, start, TN_VM_BIND);
	arg_p(x, TK_VM, e->vm);
	arg_u(x, TK_NR_OPS, e->nr_ops);
	if (e->queue_id)	/* 0 and ret 0: left out, readers take them as 0 */
		arg_u(x, TK_QUEUE_ID, e->queue_id);
	if (e->counted)
		arg_u(x, TK_PAGES_COUNTED, e->count);
	if (e->ret)
		arg_i(x, TK_RET, e->ret);
	/* a call that slept has its wait slice; for the others, where the throttle was (replays) */
	if (!e->slept && e->wait_start_ns)
		arg_u(x, TK_THROTTLE_AT, ws - start);
	ops_arg(tb, x, e, why, sizeof(why));
	x->flow_out = flow;
	if (e->slept) {
		ev_init(&xs[n++], TE_BEGIN, t->uuid, ws, TN_WAIT);
		ev_init(&xs[n++], TE_END, t->uuid, we, TN_NONE);
	}
	if (e->interrupted)
		ev_init(&xs[n++], TE_INSTANT, t->uuid, we, TN_WAIT_INTR);
	if (e->waiting_in > 0) {	/* it joined the VM's waiters, then left */
		uint64_t w = vm_counter(tb, b, vm, &vm->waiting_uuid, "threads waiting");

		counter_ev(&xs[n++], w, ws, e->waiting_in, t->uuid);
		counter_ev(&xs[n++], w, we, e->waiting_out, t->uuid);
	}
	if (e->counted)
		counter_ev(&xs[n++], vm_counter(tb, b, vm, &vm->inflight_uuid, "in_flight pages"),
			   e->add_ns ? clamp(e->add_ns, start, e->ts_ns) : we, e->in_flight, t->uuid);
	/* a free that came before this return, during the call: in the call's time order */
	if (early && !early->start_ns && job_freed_ev(tb, b, early, flow, false, &xs[n]))
		xs[n++].home = t->uuid;
	ev_init(&xs[n++], TE_END, t->uuid, e->ts_ns, TN_NONE);
	/* stable: at equal times, the order above (the slice's end last) */
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && xs[order[j - 1]].ts > xs[order[j]].ts; j--) {
			int k = order[j];

			order[j] = order[j - 1];
			order[j - 1] = k;
		}
	for (int i = 0; i < n; i++)
		emit(tb, b, &xs[order[i]]);
	if (early && early->start_ns) {
		/*
		 * A free that named this return but reached the ring buffer first: the job whole,
		 * on a lane, from this return to its free (its in_flight readings were drawn when
		 * it came)
		 */
		uint64_t end = early->end_ns > early->ts_ns ? early->end_ns : early->ts_ns;
		uint64_t lane = lane_for(tb, b, vm, early->start_ns, end, false);
		struct tr_ev y;

		ev_init(&y, TE_BEGIN, lane, early->start_ns, TN_JOB);
		y.flow_in = flow;
		emit(tb, b, &y);
		ev_init(&y, TE_END, lane, early->ts_ns, TN_NONE);
		free_args(&y, early);
		emit(tb, b, &y);
	}
	free(early);
}

/*
 * The queued job a free ends, taken from its address's list: the one whose return the free
 * names, or, for a free that came before its call's return probe (no start), the latest
 * counted before the free (after losses, returned about when it came). The address's jobs
 * older than it were freed before it was allocated: their frees were lost, and they go.
 * NULL when none is the free's.
 */
static struct tb_job *take_job(struct tr_build *tb, const struct msmvm_event *e)
{
	struct tb_job *head = tr_map_get(&tb->jobs, e->pid, e->job), *j, *prev = NULL;

	if (e->in_ioctl)	/* an error path's job: never queued */
		return NULL;
	for (j = head; j; prev = j, j = j->older)
		if (e->start_ns ? j->start == e->start_ns
				: j->added <= e->ts_ns &&
					  (!tb->lossy || e->ts_ns <= j->start + FREE_IN_RETURN_NS))
			break;
	if (!j)
		return NULL;
	if (prev)
		prev->older = NULL;
	else
		tr_map_del(&tb->jobs, e->pid, e->job);
	free_jobs(j->older);
	j->older = NULL;
	return j;
}

static void free_event(struct tr_build *tb, struct tr_buf *b, const struct msmvm_event *e)
{
	struct tb_proc *p = get_proc(tb, b, e->pid, NULL);
	struct tb_vm *vm = p ? get_vm(tb, p, e->pid, e->vm) : NULL;
	struct tb_job *job;
	bool during_call;
	uint64_t inflight, home, end = e->end_ns > e->ts_ns ? e->end_ns : e->ts_ns;
	struct tr_ev x;

	if (!vm)
		return;
	inflight = vm_counter(tb, b, vm, &vm->inflight_uuid, "in_flight pages");
	home = lane0(tb, b, vm);
	job = take_job(tb, e);
	/*
	 * Freed inside its call, before the call's return probe could give the job its start,
	 * yet put in the ring buffer after the call's event (a free's event leaves at its
	 * return): its bind came first, and nothing else will claim it.
	 */
	during_call = job && !e->start_ns;
	if (job && e->start_ns && e->start_ns <= e->ts_ns) {
		/* the lane is busy up to the sub's end: its sequence counts in deltas */
		uint64_t lane = lane_for(tb, b, vm, e->start_ns, end, false);

		home = lane;
		ev_init(&x, TE_BEGIN, lane, e->start_ns, TN_JOB);
		x.flow_in = job->flow;
		emit(tb, b, &x);
		ev_init(&x, TE_END, lane, e->ts_ns, TN_NONE);
		free_args(&x, e);	/* merged with the begin's by readers */
		x.extra_track = inflight;	/* in_flight before the sub */
		x.extra_value = e->in_flight;
		emit(tb, b, &x);
	} else if (e->in_ioctl) {
		job_freed(tb, b, e, 0, true);
	} else if (during_call) {
		job_freed(tb, b, e, job->flow, true);
	} else {
		/* freed before its VM_BIND returned, or before its event came (or bound before
		 * we started): the bind, if it comes, draws it with the flow */
		struct msmvm_event *copy = malloc(sizeof(*copy));

		counter(tb, b, inflight, e->ts_ns, e->in_flight, home);	/* before the sub */
		if (tb->early.n >= EARLY_MAX)
			flush_early(tb, b);
		if (copy) {
			struct msmvm_event *older = tr_map_del(&tb->early, e->pid, e->job);

			*copy = *e;
			if (older) {	/* its bind never claimed it: drawn now, never dropped */
				job_freed(tb, b, older, 0, false);
				free(older);
			}
			if (tr_map_put(&tb->early, e->pid, e->job, copy)) {
				job_freed(tb, b, e, 0, false);
				free(copy);
			}
		} else {
			job_freed(tb, b, e, 0, false);
		}
	}
	if (e->drift) {
		vm->drift += e->drift;
		ev_init(&x, TE_INSTANT, lane0(tb, b, vm), e->ts_ns, TN_DRIFT);
		arg_i(&x, TK_DRIFT, e->drift);
		arg_i(&x, TK_VM_DRIFT, vm->drift);
		emit(tb, b, &x);
	}
	counter(tb, b, inflight, end, e->in_flight_after, home);
	free(job);
}

static void now_clocks(uint64_t *mono, uint64_t *boot)
{
	struct timespec a, c, d;

	/* boottime between two monotonic readings: the pair agrees to their gap */
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_BOOTTIME, &c);
	clock_gettime(CLOCK_MONOTONIC, &d);
	*mono = ((uint64_t)a.tv_sec * 1000000000ULL + (uint64_t)a.tv_nsec +
		 (uint64_t)d.tv_sec * 1000000000ULL + (uint64_t)d.tv_nsec) / 2;
	*boot = (uint64_t)c.tv_sec * 1000000000ULL + (uint64_t)c.tv_nsec;
}

void tr_build_begin(struct tr_build *tb, struct tr_buf *b, const struct msmvm_plan *plan)
{
	struct tr_header h = { .t0_ns = tb->t0, .plan = plan };
	struct tr_ev x;

	tb->ops_on = plan && plan->emit_ops;
	now_clocks(&h.mono_ns, &h.boot_ns);
	tb->last_clock = h.mono_ns;
	tb->ops->header(tb->be, b, &h);
	tb->recorder = new_track(tb, b, TT_GLOBAL, 0, 0, 0, "msmvm-trace");
	ev_init(&x, TE_INSTANT, tb->recorder, tb->t0, TN_RECORDING);
	arg_s(&x, TK_VERSION, "msmvm-trace 0.1");
	if (plan) {
		arg_s(&x, TK_TARGET, plan->target);
		arg_s(&x, TK_PLAN, plan->kind == MSMVM_PLAN_DIRECT ? "direct" : "fallback");
		arg_s(&x, TK_REASON, plan->reason);
		arg_s(&x, TK_ARCH, plan->arch);
		if (plan->throttle_limit > 0)
			arg_u(&x, TK_THROTTLE_LIMIT, (uint64_t)plan->throttle_limit);
		arg_u(&x, TK_OPS_RECORDED, plan->emit_ops);
	}
	emit(tb, b, &x);
}

void tr_build_event(struct tr_build *tb, struct tr_buf *b, const struct msmvm_event *e)
{
	/* a fresh clock pair now and then: a suspend moves BOOTTIME against MONOTONIC */
	if (e->ts_ns > tb->last_clock + 10000000000ULL) {
		uint64_t mono, boot;

		now_clocks(&mono, &boot);
		tb->ops->clock(tb->be, b, mono, boot);
		tb->last_clock = e->ts_ns > mono ? e->ts_ns : mono;
	}
	if (e->type == MSMVM_EV_OPS)
		ops_event(tb, e);
	else if (e->type == MSMVM_EV_BIND)
		bind_event(tb, b, e);
	else if (e->type == MSMVM_EV_FREE)
		free_event(tb, b, e);
	else if (e->type == TR_EV_LOST)
		tr_build_lost(tb, b, e->ts_ns, e->job, e->vm);
}

void tr_build_lost(struct tr_build *tb, struct tr_buf *b, uint64_t ts, uint64_t lost,
		   uint64_t total)
{
	struct tr_ev x;

	tb->lossy = true;
	tb->ops->restart(tb->be, true);
	ev_init(&x, TE_INSTANT, tb->recorder, ts, TN_LOST);
	arg_u(&x, TK_DROPPED, lost);
	arg_u(&x, TK_DROPPED_TOTAL, total);
	emit(tb, b, &x);
}

void tr_build_finish_jobs(struct tr_build *tb, struct tr_buf *b)
{
	struct tr_ev x;

	flush_early(tb, b);
	/* jobs still in flight: begun, never ended (what a stall waits for) */
	for (size_t i = 0; i < tb->jobs.cap; i++) {
		struct tr_map_ent *me = &tb->jobs.e[i];

		if (!me->used)
			continue;
		for (struct tb_job *j = me->v; j; j = j->older) {
			struct tb_proc *p = get_proc(tb, b, (uint32_t)me->k1, NULL);
			struct tb_vm *vm = p ? get_vm(tb, p, (uint32_t)me->k1, j->vm) : NULL;

			if (!vm)
				continue;
			ev_init(&x, TE_BEGIN, lane_for(tb, b, vm, j->start, j->start, true), j->start,
				TN_JOB);
			arg_u(&x, TK_COUNTED, j->count);
			x.flow_in = j->flow;
			emit(tb, b, &x);
		}
	}
}

void tr_build_stats(struct tr_build *tb, struct tr_buf *b, uint64_t ts, uint64_t events,
		    uint64_t dropped, const uint64_t *health)
{
	struct tr_ev x;

	ev_init(&x, TE_INSTANT, tb->recorder, ts, TN_STATS);
	arg_u(&x, TK_EVENTS, events);
	arg_u(&x, TK_DROPPED_TOTAL, dropped);
	for (int i = 0; health && i < MSMVM_H_COUNT_; i++)
		arg_u(&x, TK_HEALTH_ + i, health[i]);
	emit(tb, b, &x);
	tb->ops->trailer(tb->be, b);
}
