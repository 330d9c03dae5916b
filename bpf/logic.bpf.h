/* SPDX-License-Identifier: GPL-2.0 */
/*
 * msmvm's probes on the msm VM_BIND path, written once: in-kernel aggregation per VM and per
 * process (counters and log2 histograms), and an optional event stream. The wrappers
 * (bpf/msmvm_{kprobe,uprobe,test}.bpf.c) only say how each program is attached and pass its
 * arguments to the handler here; libmsmvm's attach plan decides where each program goes.
 *
 * Hooks (docs/driver.md has the driver's side, "What the probes read"):
 *   msm_ioctl_vm_bind       entry/return  who, which VM, nr_ops, queue, latency, errors
 *   vm_bind_prealloc_count  entry/return  pages counted, did it sleep (nvcsw), wait time,
 *                                         -ERESTARTSYS, in_flight after the add
 *   msm_vma_job_free        entry/return  pages used, overcount, drift, in_flight
 * With emit_ops set, the ioctl's entry also sends the call's ops (kind, iova, range) as
 * MSMVM_EV_OPS records, for traces that replay the binds (msmvm-tune).
 * Fallback plan, when vm_bind_prealloc_count is inlined: prepare_to_wait_event/finish_wait
 * on the VM's prealloc_throttle.wait for threads inside the ioctl give the wait, and
 * msm_iommu_pagetable_prealloc_allocate (which runs only after wait + add) gives the count.
 *
 * Handlers take the hook's arguments as plain values, entry and return apart: a return
 * handler takes only the return value, since a kretprobe has nothing else. An fexit, which
 * sees the arguments and the return value together, calls the return handler with the
 * return value (and an fentry the entry handler); where one function's entry and return
 * can be seen at once (prepare_to_wait_event) a combined handler does both on one lookup.
 * Every handler returns the program's return value (0).
 */
#ifndef MSMVM_BPF_LOGIC_H
#define MSMVM_BPF_LOGIC_H

#include "msmvm_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "msmvm/abi.h"
#include "flavor.h"
#include "maps.bpf.h"
#include "stats.bpf.h"
#include "events.bpf.h"
#include "ops_walk.bpf.h"

/*
 * The task is kernel memory in every flavor: a plain load through its BTF pointer, but in a
 * dry run against another kernel's BTF (the verifier checks loads against this kernel's
 * types: there the field is read; config is read-only, so the branch not taken is not
 * even verified).
 */
static __always_inline __u64 current_nvcsw(void)
{
	if (config.native_btf) {
		struct task_struct *task = bpf_get_current_task_btf();

		return task->nvcsw;
	} else {
		struct task_struct *task = (void *)bpf_get_current_task();

		return BPF_CORE_READ(task, nvcsw);
	}
}

static __always_inline __s64 read_in_flight(__u64 vm)
{
	struct msm_gem_vm *v = (void *)vm;

	return DRV_READ(v, prealloc_throttle.in_flight.counter);
}

/*
 * A job's vm, prealloc.count and prealloc.ptr, as the free reads them: one read of the bytes
 * that span them when the target lays them out within 64 bytes (every layout known: the
 * offsets are CO-RE's, so the test is decided at load), three reads otherwise.
 */
#define JOB_SPAN_MAX 64

static __always_inline void read_job_free_fields(struct msm_vm_bind_job *job, __u64 *vm,
						 __u32 *count, __u32 *used)
{
	__u32 o_vm = bpf_core_field_offset(job->vm);
	__u32 o_count = bpf_core_field_offset(job->prealloc.count);
	__u32 o_used = bpf_core_field_offset(job->prealloc.ptr);
	__u32 lo = o_vm, hi = o_vm + 8;
	__u8 buf[JOB_SPAN_MAX];

	lo = o_count < lo ? o_count : lo;
	lo = o_used < lo ? o_used : lo;
	hi = o_count + 4 > hi ? o_count + 4 : hi;
	hi = o_used + 4 > hi ? o_used + 4 : hi;
	if (bpf_core_field_size(job->vm) == 8 && bpf_core_field_size(job->prealloc.count) == 4 &&
	    bpf_core_field_size(job->prealloc.ptr) == 4 && hi - lo <= JOB_SPAN_MAX &&
	    !DRV_READ_BYTES(buf, hi - lo, (void *)job + lo)) {
		__builtin_memcpy(vm, &buf[o_vm - lo], 8);
		__builtin_memcpy(count, &buf[o_count - lo], 4);
		__builtin_memcpy(used, &buf[o_used - lo], 4);
		return;
	}
	*vm = (__u64)DRV_READ(job, vm);
	*count = DRV_READ(job, prealloc.count);
	*used = DRV_READ(job, prealloc.ptr);
}

/*
 * A job's vm and nr_ops, as the count's entry reads them (nr_ops is the call's: every op is
 * looked up before the count): one read when they lie within 64 bytes, two otherwise.
 */
static __always_inline void read_job_count_fields(struct msm_vm_bind_job *job, __u64 *vm,
						  __u32 *nr_ops)
{
	__u32 o_vm = bpf_core_field_offset(job->vm);
	__u32 o_ops = bpf_core_field_offset(job->nr_ops);
	__u32 lo = o_vm < o_ops ? o_vm : o_ops;
	__u32 hi = o_vm + 8 > o_ops + 4 ? o_vm + 8 : o_ops + 4;
	__u8 buf[JOB_SPAN_MAX];

	if (bpf_core_field_size(job->vm) == 8 && bpf_core_field_size(job->nr_ops) == 4 &&
	    hi - lo <= JOB_SPAN_MAX && !DRV_READ_BYTES(buf, hi - lo, (void *)job + lo)) {
		__builtin_memcpy(vm, &buf[o_vm - lo], 8);
		__builtin_memcpy(nr_ops, &buf[o_ops - lo], 4);
		return;
	}
	*vm = (__u64)DRV_READ(job, vm);
	*nr_ops = DRV_READ(job, nr_ops);
}

static const struct thread_state zero_thread_state;

/*
 * This thread's state; created (zeroed) by the ioctl's entry and a job free's entry only.
 * Its task storage, or (if that could not be made) its entry in threads_spill. Looking up
 * storage that exists never fails; only making it can.
 */
static __always_inline struct thread_state *thread_get(bool create)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct thread_state *st = bpf_task_storage_get(&threads, task, 0,
						       create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	__u32 tid;

	if (st)
		return st;
	tid = (__u32)bpf_get_current_pid_tgid();
	st = bpf_map_lookup_elem(&threads_spill, &tid);
	if (st || !create)
		return st;
	bpf_map_update_elem(&threads_spill, &tid, &zero_thread_state, BPF_NOEXIST);
	return bpf_map_lookup_elem(&threads_spill, &tid);
}

/* The call's VM: read through its file when no hook named it (it failed before counting). */
static __always_inline __u64 call_vm(struct thread_state *st)
{
	if (!st->call.vm && st->call.file) {
		struct drm_file *file = (void *)st->call.file;
		struct msm_context *mctx = DRV_READ(file, driver_priv);

		st->call.vm = (__u64)DRV_READ(mctx, vm);
	}
	return st->call.vm;
}

/* ---- what a call's thread state goes through ---- */

/*
 * The waiters gauges of the VM and of the process and, from their 0 -> 1 and 1 -> 0 edges,
 * their stall times (a process's is the union of its threads' waits, PSI's "some").
 */
static __always_inline void waiter_enter(struct thread_state *st, __u32 tgid, __u64 now)
{
	struct msmvm_waiter wt = { .vm = st->call.vm, .start_ns = now, .tgid = tgid,
				   .scope = VM_SCOPE(tgid) };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct msmvm_stall *vg, *pg;
	__s64 w;

	if (st->call.is_waiter)
		return;
	vg = stall_get(st->call.vm, VM_SCOPE(tgid), 0);
	if (!vg)
		return;
	st->call.is_waiter = 1;
	w = gauge_enter(vg, now);
	pg = stall_get(0, 0, tgid);
	if (pg)
		gauge_enter(pg, now);
	/* waits in progress, for alerts on a wait that is still going on */
	if (bpf_map_update_elem(&waiting, &tid, &wt, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	if (config.emit_events)
		st->event.waiting_in = (__s32)w + 1;
}

static __always_inline void waiter_exit(struct thread_state *st, __u32 tgid, __u64 now)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct msmvm_stall *vg, *pg;
	__s64 w;

	if (!st->call.is_waiter)
		return;
	st->call.is_waiter = 0;
	bpf_map_delete_elem(&waiting, &tid);
	pg = stall_get(0, 0, tgid);
	if (pg)
		gauge_exit(pg, now);
	vg = stall_get(st->call.vm, VM_SCOPE(tgid), 0);
	if (!vg)
		return;
	w = gauge_exit(vg, now);
	if (config.emit_events)
		st->event.waiting_out = (__s32)w - 1;
}

/*
 * A wait has ended at `now` (direct: the count returned; fallback: finish_wait, or the ioctl
 * returned after a signal); it slept if the task's nvcsw moved. Its start, if the entry did
 * not take one (in_flight was under the limit then, and a racing add sent it to sleep all
 * the same), is the ioctl's entry. Kept in the thread state: the ioctl's return books it.
 */
static __always_inline void account_wait(struct thread_state *st, __u64 now, __u64 nvcsw,
					 int interrupted)
{
	__u64 start = st->call.wait_start_ts ? st->call.wait_start_ts : st->call.ioctl_ts;

	st->call.slept = nvcsw != st->call.wait_start_nvcsw;
	st->call.interrupted = interrupted;
	if (config.emit_events)
		st->event.wait_end_ts = now;
	if (st->call.slept)
		st->call.wait_ns = now - start;
}

/*
 * Pages were added to in_flight (direct: count returned 0; fallback: allocate entry): the
 * job's record for its free, the VM's gauges now (their order matters); the counters wait
 * for the ioctl's return.
 */
static __always_inline void account_counted(struct thread_state *st, __u32 tgid, __u64 job,
					    __u32 count)
{
	/* first: the closer to the add, the fewer frees between them (the peak is sampled) */
	__s64 in_flight = read_in_flight(st->call.vm);
	struct job_slot *j = job_slot_get(job, VM_SCOPE(tgid), true);
	struct msmvm_vm_gauge *g = vm_gauge_get(st->call.vm, VM_SCOPE(tgid));

	st->call.counted = 1;
	st->call.count = count;
	st->call.job = job;
	st->call.in_flight = in_flight;
	if (config.emit_events)
		st->event.add_ts = bpf_ktime_get_ns();
	if (j) {
		j->added = count;
		j->tgid = tgid;
		j->bind_ret_ts = 0;
	}
	if (g) {
		max_s64(&g->peak_in_flight, in_flight);
		g->in_flight = in_flight;
	}
}

/* The wait starts (direct: the count's entry; fallback: the first prepare_to_wait_event). */
static __always_inline void wait_start(struct thread_state *st, __u64 now)
{
	st->call.wait_start_ts = now;
	st->call.wait_start_nvcsw = current_nvcsw();
}

/* Fallback: a prepare_to_wait_event begins; the first on our queue starts the wait. */
static __always_inline void fallback_prepare_begin(struct thread_state *st, __u32 tgid,
						   struct wait_queue_head *wq_head)
{
	st->fallback.prepare_ours = (__u64)wq_head == st->fallback.wq;
	if (st->fallback.prepare_ours && !st->fallback.waiting) {
		st->fallback.waiting = 1;
		wait_start(st, bpf_ktime_get_ns());
		waiter_enter(st, tgid, st->call.wait_start_ts);
	}
}

/*
 * Fallback: a prepare_to_wait_event returned. -ERESTARTSYS: a signal is pending and the
 * entry was dequeued. The wait is interrupted only if the condition does not hold now; if
 * it does, finish_wait() still runs. So note the time here and decide at finish_wait() or
 * at the ioctl's return.
 */
static __always_inline void fallback_prepare_end(struct thread_state *st, long ret)
{
	if (st->fallback.prepare_ours && st->fallback.waiting && ret == -MSMVM_ERESTARTSYS) {
		st->fallback.intr_pending = 1;
		st->fallback.intr_ts = bpf_ktime_get_ns();
		st->fallback.intr_nvcsw = current_nvcsw();
	}
}

/* ---- the handlers: one per program ---- */

/* Does this process count: -p's one process, a command's tree (watched), or every one. */
static __always_inline bool tgid_watched(__u32 tgid)
{
	if (config.filter_tree)
		return bpf_map_lookup_elem(&watched, &tgid) != NULL;
	return !config.filter_tgid || tgid == config.filter_tgid;
}

static __always_inline int handle_ioctl_entry(void *data, struct drm_file *file)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct msmvm_uapi_vm_bind args = {};
	struct thread_state *st;

	if (!tgid_watched(tgid))
		return 0;
	st = thread_get(true);
	if (!st) {
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
		return 0;
	}
	/* a new call: everything but a job free this thread may be in (its error path) */
	__builtin_memset(&st->call, 0, sizeof(st->call));
	__builtin_memset(&st->event, 0, sizeof(st->event));
	__builtin_memset(&st->fallback, 0, sizeof(st->fallback));
	st->call.active = 1;
	st->call.ioctl_ts = bpf_ktime_get_ns();
	st->call.file = (__u64)file;
	st->call.data = (__u64)data;
	/*
	 * The arguments are read here only for events (the queue id, the ops) and in the
	 * fallback plan (no hook sees the job before its count); otherwise the count's entry
	 * takes nr_ops from the job, in the read that gets its VM, and a call that never gets
	 * there reads them at its return.
	 */
	if (config.emit_events || config.hook_plan == MSMVM_PLAN_FALLBACK) {
		ARGS_READ(&args, sizeof(args), data);
		st->call.nr_ops = args.nr_ops;
		st->call.queue_id = args.queue_id;
		st->call.args_read = 1;
	}
	if (config.hook_plan == MSMVM_PLAN_FALLBACK) {
		/* the wait is recognised by its queue: the VM is needed from here on */
		struct msm_gem_vm *vm = (void *)call_vm(st);

		st->fallback.wq = (__u64)__builtin_preserve_access_index(&vm->prealloc_throttle.wait);
	}
	if (config.emit_events && config.emit_ops)	/* keyed by the entry time: the bind's start_ns */
		emit_call_ops(data, args.nr_ops, tgid, tid, st->call.ioctl_ts);
	return 0;
}

/* The bind's event, from the call's thread state. */
static __always_inline void emit_bind_event(const struct thread_state *st, __u32 tgid,
					    __u32 tid, int ret, __u64 now)
{
	struct msmvm_event *e = event_reserve(MSMVM_EV_BIND);

	if (!e)
		return;
	e->pid = tgid;
	e->tid = tid;
	e->count = st->call.count;
	e->ts_ns = now;
	e->start_ns = st->call.ioctl_ts;
	e->vm = st->call.vm;
	e->job = st->call.job;
	e->in_flight = st->call.in_flight;
	e->ret = ret;
	e->nr_ops = st->call.nr_ops;
	e->queue_id = st->call.queue_id;
	e->wait_ns = st->call.wait_ns;
	e->slept = st->call.slept;
	e->counted = st->call.counted;
	e->interrupted = st->call.interrupted;
	e->wait_start_ns = st->call.wait_start_ts;
	e->wait_end_ns = st->event.wait_end_ts;
	e->add_ns = st->event.add_ts;
	e->waiting_in = st->event.waiting_in;
	e->waiting_out = st->event.waiting_out;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	event_submit(e);
}

static __always_inline int handle_ioctl_return(int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = thread_get(false);
	__u64 now, vm;
	struct msmvm_stats *s;

	if (!st || !st->call.active) {
		if (tgid_watched(tgid))
			health_inc(MSMVM_H_THREAD_STATE_MISSING);
		return 0;
	}
	now = bpf_ktime_get_ns();
	vm = call_vm(st);
	if (!st->call.args_read && !st->call.job) {	/* it failed before its count */
		struct msmvm_uapi_vm_bind args = {};

		ARGS_READ(&args, sizeof(args), (void *)st->call.data);
		st->call.nr_ops = args.nr_ops;
	}
	if (st->fallback.waiting && st->fallback.intr_pending) {
		/* fallback: the signal ended the wait (no finish_wait came): interrupted */
		account_wait(st, st->fallback.intr_ts, st->fallback.intr_nvcsw, 1);
		st->fallback.waiting = 0;
	}
	waiter_exit(st, tgid, now);	/* the call is over: it waits no more */
	/* the whole call's counters, the VM's and the process's, in one entry */
	s = usage_get(vm, tgid, true);
	if (s) {
		stats_add_bind(s, st->call.nr_ops, ret, now - st->call.ioctl_ts, now);
		if (st->call.slept)
			stats_add_wait(s, st->call.wait_ns);
		if (st->call.interrupted)
			__sync_fetch_and_add(&s->c.interrupted_waits, 1);
		if (st->call.counted)
			stats_add_counted(s, st->call.count);
		if (!s->comm[0])	/* a free on the scheduler's thread may have made the entry */
			bpf_get_current_comm(s->comm, sizeof(s->comm));
	}
	if (config.emit_events) {
		if (ret == 0 && st->call.counted) {	/* the job is queued: its lifetime starts now */
			struct job_slot *j = job_slot_get(st->call.job, VM_SCOPE(tgid), false);

			if (j)
				j->bind_ret_ts = now;
		}
		emit_bind_event(st, tgid, tid, ret, now);
	}
	st->call.active = 0;
	return 0;
}

/* ---- direct plan: vm_bind_prealloc_count ---- */

static __always_inline int handle_prealloc_count_entry(struct msm_vm_bind_job *job)
{
	struct thread_state *st = thread_get(false);

	__u32 nr_ops;

	if (!st || !st->call.active)
		return 0;	/* filtered out, or the ioctl began before we attached */
	read_job_count_fields(job, &st->call.vm, &nr_ops);
	if (!st->call.args_read)
		st->call.nr_ops = nr_ops;
	st->call.job = (__u64)job;
	st->call.wait_start_nvcsw = current_nvcsw();
	/*
	 * Over the limit now: this call is headed for the throttle's sleep, and its wait is
	 * timed from here. Under it (nearly every call), no clock is read: the wait, if a
	 * racing add makes one, is timed from the ioctl's entry.
	 */
	if (read_in_flight(st->call.vm) > config.throttle_limit) {
		st->call.wait_start_ts = bpf_ktime_get_ns();
		waiter_enter(st, bpf_get_current_pid_tgid() >> 32, st->call.wait_start_ts);
	} else if (config.emit_events) {
		st->call.wait_start_ts = bpf_ktime_get_ns();	/* the trace draws every count */
	}
	return 0;
}

/* The job is the entry's (a kretprobe has only ret; an fexit passes its ret alone). */
static __always_inline int handle_prealloc_count_return(int ret)
{
	struct thread_state *st = thread_get(false);
	struct msm_vm_bind_job *job;
	__u64 nvcsw, now = 0;
	__u32 tgid;

	if (!st || !st->call.active || !st->call.job)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	nvcsw = current_nvcsw();
	/* the clock only when a wait is to be timed or drawn */
	if (nvcsw != st->call.wait_start_nvcsw || st->call.is_waiter || config.emit_events)
		now = bpf_ktime_get_ns();
	waiter_exit(st, tgid, now);
	account_wait(st, now, nvcsw, ret == -MSMVM_ERESTARTSYS);
	if (ret == 0) {
		job = (void *)st->call.job;
		account_counted(st, tgid, st->call.job, DRV_READ(job, prealloc.count));
	}
	return 0;
}

/* ---- fallback plan: the wait queue, and the allocation that follows the add ---- */

static __always_inline int handle_prepare_to_wait_entry(struct wait_queue_head *wq_head)
{
	struct thread_state *st = thread_get(false);

	if (st && st->call.active)
		fallback_prepare_begin(st, bpf_get_current_pid_tgid() >> 32, wq_head);
	return 0;
}

static __always_inline int handle_prepare_to_wait_return(long ret)
{
	struct thread_state *st = thread_get(false);

	if (st && st->call.active)
		fallback_prepare_end(st, ret);
	return 0;
}

/* An fexit sees prepare_to_wait_event's queue and its return at once: both, one lookup. */
static __always_inline int handle_prepare_to_wait(struct wait_queue_head *wq_head, long ret)
{
	struct thread_state *st = thread_get(false);

	if (st && st->call.active) {
		fallback_prepare_begin(st, bpf_get_current_pid_tgid() >> 32, wq_head);
		fallback_prepare_end(st, ret);
	}
	return 0;
}

static __always_inline int handle_finish_wait_entry(struct wait_queue_head *wq_head)
{
	struct thread_state *st = thread_get(false);
	__u32 tgid;
	__u64 now;

	if (st && st->call.active && st->fallback.waiting && (__u64)wq_head == st->fallback.wq) {
		tgid = bpf_get_current_pid_tgid() >> 32;
		now = bpf_ktime_get_ns();
		waiter_exit(st, tgid, now);
		account_wait(st, now, current_nvcsw(), 0);
		st->fallback.waiting = 0;
		st->fallback.intr_pending = 0;
	}
	return 0;
}

static __always_inline int handle_prealloc_allocate_entry(struct msm_mmu_prealloc *p)
{
	struct thread_state *st = thread_get(false);
	__u32 tgid;
	__u64 job;

	if (!st || !st->call.active)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	/* container_of(p, struct msm_vm_bind_job, prealloc), with the target's offset */
	job = (__u64)p - bpf_core_field_offset(struct msm_vm_bind_job, prealloc);
	account_counted(st, tgid, job, DRV_READ(p, count));
	return 0;
}

/* ---- job free: on the scheduler's thread, or in the ioctl on its error paths ---- */

/* The free's event, held in pending_frees until the return adds in_flight after the sub. */
static __always_inline void hold_free_event(__u32 tid, __u32 owner, __u64 now, __u64 bind_ret_ts,
					    __u64 vm, __u64 job, __s64 in_flight, __u32 count,
					    __u32 used, __s64 drift, __u8 in_ioctl)
{
	struct msmvm_event *e;

	if (bpf_map_update_elem(&pending_frees, &tid, &zero_event, BPF_ANY))
		return;
	e = bpf_map_lookup_elem(&pending_frees, &tid);
	if (!e)
		return;
	e->type = MSMVM_EV_FREE;
	e->pid = owner;
	e->tid = tid;
	e->ts_ns = now;
	e->start_ns = bind_ret_ts;
	e->vm = vm;
	e->job = job;
	e->in_flight = in_flight;
	e->count = count;
	e->used = used;
	e->drift = drift;
	e->in_ioctl = in_ioctl;
}

static __always_inline int handle_job_free_entry(struct msm_vm_bind_job *job)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct job_slot *j = job_slot_get((__u64)job, VM_SCOPE(tgid), false);
	struct msmvm_vm_gauge *g;
	struct thread_state *st;
	struct msmvm_stats *s;
	__u64 bind_ret_ts = 0, vm;
	__u32 count, used, owner;
	__s64 in_flight, drift;
	__u8 in_ioctl = 0;

	read_job_free_fields(job, &vm, &count, &used);
	in_flight = read_in_flight(vm);
	st = thread_get(true);
	in_ioctl = st && st->call.active;
	if (j) {
		owner = j->tgid;
		drift = (__s64)j->added - (__s64)count;
		bind_ret_ts = j->bind_ret_ts;
		asm volatile("" ::: "memory");	/* read before it is given back */
		j->job = 0;
	} else if (in_ioctl) {
		/*
		 * Freed inside a traced ioctl: that call's job (an interrupted or failed one, which
		 * the fallback hooks cannot name earlier): nothing was added.
		 */
		owner = tgid;
		drift = -(__s64)count;
	} else {
		/*
		 * A job we never saw: freed on the scheduler's thread with no record, it was
		 * counted before we attached (or its record was evicted): its drift is unknown,
		 * so none is booked. Its VM is booked to the VM's last new user, if we know one.
		 */
		struct msmvm_vm_key vk = { .vm = vm, .scope = VM_SCOPE(tgid) };
		__u32 *o = bpf_map_lookup_elem(&vm_owner, &vk);

		if (!o)
			return 0;	/* a VM no traced process has used (or filtered out) */
		owner = *o;
		drift = 0;
		if (count)
			health_inc(MSMVM_H_JOB_STATE_MISSING);
	}
	s = usage_get(vm, owner, true);
	if (!s)
		return 0;
	stats_add_free(s, count, used, drift);
	g = vm_gauge_get(vm, VM_SCOPE(owner));
	if (g) {
		max_s64(&g->peak_in_flight, in_flight);	/* the value before this job's sub */
		__sync_fetch_and_add(&g->frees, 1);	/* libmsmvm times it: no clock here */
	}
	if (st) {	/* for the return: where in_flight after the sub goes */
		st->free.usage.vm = vm;
		st->free.usage.scope = VM_SCOPE(owner);
		st->free.usage.tgid = owner;
		st->free.pending = 1;
	}
	/* the event leaves at the return, once in_flight after the sub is known */
	if (config.emit_events)
		hold_free_event(tid, owner, bpf_ktime_get_ns(), bind_ret_ts, vm, (__u64)job,
				in_flight, count, used, drift, in_ioctl);
	return 0;
}

static __always_inline int handle_job_free_return(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct thread_state *st = thread_get(false);
	struct msmvm_vm_gauge *g;
	__s64 in_flight;

	if (!st || !st->free.pending)
		return 0;
	st->free.pending = 0;
	in_flight = read_in_flight(st->free.usage.vm);	/* after the sub */
	g = vm_gauge_get(st->free.usage.vm, st->free.usage.scope);
	if (g)
		g->in_flight = in_flight;
	if (config.emit_events) {
		struct msmvm_event *e = bpf_map_lookup_elem(&pending_frees, &tid);

		if (e) {
			e->end_ns = bpf_ktime_get_ns();
			e->in_flight_after = in_flight;
			event_output(e);
			bpf_map_delete_elem(&pending_frees, &tid);
		} else {
			/* not held (no room at the entry, or evicted since): lost, and said so */
			health_inc(MSMVM_H_RINGBUF_DROPS);
		}
	}
	return 0;
}

/* ---- a command's process tree (config.filter_tree): sched_process_fork ---- */

/*
 * A fork of a watched process is watched from its first instruction on: the tracepoint
 * fires in the parent before the child can run. A new thread (same tgid) changes nothing.
 */
static __always_inline int handle_process_fork(__u32 parent_tgid, __u32 child_tgid)
{
	__u8 one = 1;

	if (!config.filter_tree || parent_tgid == child_tgid ||
	    !bpf_map_lookup_elem(&watched, &parent_tgid))
		return 0;
	if (bpf_map_update_elem(&watched, &child_tgid, &one, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	return 0;
}

/* ---- the layout CO-RE resolved (a raw_tp in every flavor, run once after load) ---- */

static __always_inline int handle_report_layout(void)
{
	struct msm_gem_vm *vm = 0;

	layout.drm_file_driver_priv = bpf_core_field_offset(struct drm_file, driver_priv);
	layout.msm_context_vm = bpf_core_field_offset(struct msm_context, vm);
	layout.msm_gem_vm_prealloc_throttle = bpf_core_field_offset(struct msm_gem_vm,
								     prealloc_throttle);
	layout.msm_gem_vm_in_flight =
		(__s64)(unsigned long)__builtin_preserve_access_index(&vm->prealloc_throttle.in_flight);
	layout.msm_vm_bind_job_vm = bpf_core_field_offset(struct msm_vm_bind_job, vm);
	layout.msm_vm_bind_job_prealloc = bpf_core_field_offset(struct msm_vm_bind_job, prealloc);
	layout.msm_vm_bind_job_nr_ops = bpf_core_field_offset(struct msm_vm_bind_job, nr_ops);
	layout.msm_mmu_prealloc_count = bpf_core_field_offset(struct msm_mmu_prealloc, count);
	layout.msm_mmu_prealloc_ptr = bpf_core_field_offset(struct msm_mmu_prealloc, ptr);
	layout.task_struct_nvcsw = bpf_core_field_offset(struct task_struct, nvcsw);
	return 0;
}

#endif
