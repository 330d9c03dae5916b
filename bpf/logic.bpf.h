/* SPDX-License-Identifier: GPL-2.0 */
/*
 * msmvm's probes on the msm VM_BIND path, written once: in-kernel aggregation per VM and per
 * process (counters and log2 histograms), and an optional event stream. The wrappers
 * (bpf/msmvm_{kprobe,uprobe,test}.bpf.c) only say how each program is attached and pass its
 * arguments to the handler here; libmsmvm's attach plan decides where each program goes.
 *
 * Hooks (see ../shared/docs/msm-vm-bind.md for the driver side):
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

static __always_inline __u64 current_nvcsw(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	return BPF_CORE_READ(task, nvcsw);	/* the task is kernel memory in every flavor */
}

static __always_inline __s64 read_in_flight(__u64 vm)
{
	struct msm_gem_vm *v = (void *)vm;

	return DRV_READ(v, prealloc_throttle.in_flight.counter);
}

/* ---- what a call's thread state goes through ---- */

/*
 * The waiters gauges of the VM and of the process and, from their 0 -> 1 and 1 -> 0 edges,
 * their stall times (a process's is the union of its threads' waits, PSI's "some").
 */
static __always_inline void waiter_enter(struct thread_state *st, __u32 tgid, __u64 now)
{
	struct msmvm_stats *vs = vm_stats_get(st->call.vm, tgid);
	struct msmvm_waiter wt = { .vm = st->call.vm, .start_ns = now, .tgid = tgid,
				   .scope = VM_SCOPE(tgid) };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct msmvm_stats *ps;
	__s64 w;

	if (!vs || st->call.is_waiter)
		return;
	st->call.is_waiter = 1;
	w = gauge_enter(vs, now);
	ps = proc_stats_get(tgid);
	if (ps)
		gauge_enter(ps, now);
	/* waits in progress, for alerts on a wait that is still going on */
	if (bpf_map_update_elem(&waiting, &tid, &wt, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	if (config.emit_events)
		st->event.waiting_in = (__s32)w + 1;
}

static __always_inline void waiter_exit(struct thread_state *st, __u32 tgid, __u64 now)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct msmvm_stats *vs, *ps;
	__s64 w;

	if (!st->call.is_waiter)
		return;
	st->call.is_waiter = 0;
	bpf_map_delete_elem(&waiting, &tid);
	ps = proc_stats_get(tgid);
	if (ps)
		gauge_exit(ps, now);
	vs = vm_stats_get(st->call.vm, tgid);
	if (!vs)
		return;
	w = gauge_exit(vs, now);
	if (config.emit_events)
		st->event.waiting_out = (__s32)w - 1;
}

/*
 * A wait has ended at `now`, with the task's nvcsw then (direct: the count returned;
 * fallback: finish_wait, or the ioctl returned after a signal).
 */
static __always_inline void account_wait(struct thread_state *st, __u32 tgid, __u64 now,
					 __u64 nvcsw, int interrupted)
{
	__u64 wait_ns = now - st->call.wait_start_ts;
	struct stats_pair both = stats_pair_get(st->call.vm, tgid);

	st->call.slept = nvcsw != st->call.wait_start_nvcsw;
	if (config.emit_events) {
		st->event.wait_end_ts = now;
		st->event.interrupted = interrupted;
	}
	if (st->call.slept) {
		st->call.wait_ns = wait_ns;
		pair_add_wait(both, wait_ns);
	}
	if (interrupted)
		pair_add_interrupted_wait(both);
}

/* Pages were added to in_flight (direct: count returned 0; fallback: allocate entry). */
static __always_inline void account_counted(struct thread_state *st, __u32 tgid, __u64 job,
					    __u32 count)
{
	struct stats_pair both = stats_pair_get(st->call.vm, tgid);
	struct job_key jk = { .job = job, .scope = VM_SCOPE(tgid) };
	struct job_state js = { .added = count, .tgid = tgid };
	__s64 in_flight = read_in_flight(st->call.vm);

	st->call.counted = 1;
	st->call.count = count;
	st->call.job = job;
	st->call.in_flight = in_flight;
	if (config.emit_events)
		st->event.add_ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&jobs, &jk, &js, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	pair_add_counted(both, count);
	if (both.vm) {
		max_s64(&both.vm->c.peak_in_flight, in_flight);
		both.vm->c.in_flight = in_flight;
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

static __always_inline int handle_ioctl_entry(void *data, struct drm_file *file)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct msmvm_uapi_vm_bind args = {};
	struct thread_state st = {};
	struct msmvm_stats *vs;
	struct msm_context *mctx;
	struct msm_gem_vm *vm;

	if (config.filter_tgid && tgid != config.filter_tgid)
		return 0;
	mctx = DRV_READ(file, driver_priv);
	vm = (void *)DRV_READ(mctx, vm);
	ARGS_READ(&args, sizeof(args), data);
	st.call.ioctl_ts = bpf_ktime_get_ns();
	st.call.vm = (__u64)vm;
	st.call.nr_ops = args.nr_ops;
	st.call.queue_id = args.queue_id;
	st.fallback.wq = (__u64)__builtin_preserve_access_index(&vm->prealloc_throttle.wait);
	if (bpf_map_update_elem(&threads, &tid, &st, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	/* the VM's owner, known before anything of this call can be freed */
	vs = vm_stats_get(st.call.vm, tgid);
	if (vs)
		vs->owner_tgid = tgid;
	if (config.emit_events && config.emit_ops)	/* keyed by the entry time: the bind's start_ns */
		emit_call_ops(data, args.nr_ops, tgid, tid, st.call.ioctl_ts);
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
	e->interrupted = st->event.interrupted;
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
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);
	__u64 now = bpf_ktime_get_ns();
	struct stats_pair both;

	if (!st) {
		if (!config.filter_tgid || tgid == config.filter_tgid)
			health_inc(MSMVM_H_THREAD_STATE_MISSING);
		return 0;
	}
	if (st->fallback.waiting && st->fallback.intr_pending) {
		/* fallback: the signal ended the wait (no finish_wait came): interrupted */
		account_wait(st, tgid, st->fallback.intr_ts, st->fallback.intr_nvcsw, 1);
		st->fallback.waiting = 0;
	}
	waiter_exit(st, tgid, now);	/* the call is over: it waits no more */
	both = stats_pair_get(st->call.vm, tgid);
	pair_add_bind(both, st->call.nr_ops, ret, now - st->call.ioctl_ts, now);
	if (both.vm)
		both.vm->c.in_flight = read_in_flight(st->call.vm);
	if (both.proc)
		bpf_get_current_comm(both.proc->comm, sizeof(both.proc->comm));

	if (ret == 0 && st->call.counted) {	/* the job is queued: its lifetime starts now */
		struct job_key jk = { .job = st->call.job, .scope = VM_SCOPE(tgid) };
		struct job_state *js = bpf_map_lookup_elem(&jobs, &jk);

		if (js)
			js->bind_ret_ts = now;
	}
	if (config.emit_events)
		emit_bind_event(st, tgid, tid, ret, now);
	bpf_map_delete_elem(&threads, &tid);
	return 0;
}

/* ---- direct plan: vm_bind_prealloc_count ---- */

static __always_inline int handle_prealloc_count_entry(struct msm_vm_bind_job *job)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);
	struct job_key jk = { .job = (__u64)job, .scope = VM_SCOPE(tgid) };
	struct job_state js = { .tgid = tgid };

	if (!st)
		return 0;	/* filtered out, or the ioctl began before we attached */
	/* known from here on: a free without an add (interrupted wait) is not "missing" */
	if (bpf_map_update_elem(&jobs, &jk, &js, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	st->call.job = (__u64)job;
	wait_start(st, bpf_ktime_get_ns());
	/* over the limit now: this call is headed for the throttle's sleep */
	if (read_in_flight(st->call.vm) > config.throttle_limit)
		waiter_enter(st, tgid, st->call.wait_start_ts);
	return 0;
}

/* The job is the entry's (a kretprobe has only ret; an fexit passes its ret alone). */
static __always_inline int handle_prealloc_count_return(int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);
	struct msm_vm_bind_job *job;

	if (!st || !st->call.job)
		return 0;
	waiter_exit(st, tgid, bpf_ktime_get_ns());
	account_wait(st, tgid, bpf_ktime_get_ns(), current_nvcsw(), ret == -MSMVM_ERESTARTSYS);
	if (ret == 0) {
		job = (void *)st->call.job;
		account_counted(st, tgid, st->call.job, DRV_READ(job, prealloc.count));
	}
	return 0;
}

/* ---- fallback plan: the wait queue, and the allocation that follows the add ---- */

static __always_inline int handle_prepare_to_wait_entry(struct wait_queue_head *wq_head)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);

	if (st)
		fallback_prepare_begin(st, tgid, wq_head);
	return 0;
}

static __always_inline int handle_prepare_to_wait_return(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);

	if (st)
		fallback_prepare_end(st, ret);
	return 0;
}

static __always_inline int handle_finish_wait_entry(struct wait_queue_head *wq_head)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);

	if (st && st->fallback.waiting && (__u64)wq_head == st->fallback.wq) {
		waiter_exit(st, tgid, bpf_ktime_get_ns());
		account_wait(st, tgid, bpf_ktime_get_ns(), current_nvcsw(), 0);
		st->fallback.waiting = 0;
		st->fallback.intr_pending = 0;
	}
	return 0;
}

static __always_inline int handle_prealloc_allocate_entry(struct msm_mmu_prealloc *p)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);
	__u64 job;

	if (!st)
		return 0;
	/* container_of(p, struct msm_vm_bind_job, prealloc), with the target's offset */
	job = (__u64)p - bpf_core_field_offset(struct msm_vm_bind_job, prealloc);
	account_counted(st, tgid, job, DRV_READ(p, count));
	return 0;
}

/* ---- job free: on the scheduler's thread, or in the ioctl on its error paths ---- */

/* The free's event, held in pending_frees until the return adds in_flight after the sub. */
static __always_inline void hold_free_event(__u32 tid, __u32 owner, __u64 now, __u64 bind_ret_ts,
					    __u64 vm, __u64 job, __s64 in_flight, __u32 count,
					    __u32 used, __s64 drift)
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
	e->in_ioctl = bpf_map_lookup_elem(&threads, &tid) ? 1 : 0;
}

static __always_inline int handle_job_free_entry(struct msm_vm_bind_job *job)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	__u64 vm = (__u64)DRV_READ(job, vm);
	__u32 count = DRV_READ(job, prealloc.count);
	__u32 used = DRV_READ(job, prealloc.ptr);
	struct job_key jk = { .job = (__u64)job, .scope = VM_SCOPE(tgid) };
	struct msmvm_vm_key vk = { .vm = vm, .scope = VM_SCOPE(tgid) };
	struct free_state fs = { .vm = vk };
	struct job_state *js = bpf_map_lookup_elem(&jobs, &jk);
	/* no stats created here: a VM no traced process has used (or filtered out) is skipped */
	struct stats_pair both = { .vm = bpf_map_lookup_elem(&vm_stats, &vk) };
	__u32 added = js ? js->added : 0;
	__u64 bind_ret_ts = js ? js->bind_ret_ts : 0;
	__u64 now = bpf_ktime_get_ns();
	__s64 drift = (__s64)added - (__s64)count;
	__s64 in_flight = read_in_flight(vm);
	__u32 owner;

	if (!both.vm)
		return 0;
	owner = both.vm->owner_tgid;
	both.proc = proc_stats_get(owner);
	/*
	 * A job we never saw: freed on the scheduler's thread with no record means it was
	 * counted before we attached (or its record was evicted): its drift is unknown, so
	 * none is booked. Freed inside a traced ioctl, it is that call's job (an interrupted
	 * or failed one, which the fallback hooks cannot name earlier): nothing was added.
	 */
	if (!js && !bpf_map_lookup_elem(&threads, &tid)) {
		if (count)
			health_inc(MSMVM_H_JOB_STATE_MISSING);
		drift = 0;
	}
	pair_add_free(both, count, used, drift);
	max_s64(&both.vm->c.peak_in_flight, in_flight);	/* the value before this job's sub */
	both.vm->last_free_ns = now;
	if (js)
		bpf_map_delete_elem(&jobs, &jk);
	if (bpf_map_update_elem(&frees, &tid, &fs, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	/* the event leaves at the return, once in_flight after the sub is known */
	if (config.emit_events)
		hold_free_event(tid, owner, now, bind_ret_ts, vm, (__u64)job, in_flight, count,
				used, drift);
	return 0;
}

static __always_inline int handle_job_free_return(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct free_state *fs = bpf_map_lookup_elem(&frees, &tid);
	struct msmvm_stats *vs;
	__s64 in_flight;

	if (!fs)
		return 0;
	vs = bpf_map_lookup_elem(&vm_stats, &fs->vm);
	in_flight = read_in_flight(fs->vm.vm);	/* after the sub */
	if (vs)
		vs->c.in_flight = in_flight;
	bpf_map_delete_elem(&frees, &tid);
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
