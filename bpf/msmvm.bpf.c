// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm's probes on the msm VM_BIND path: in-kernel aggregation per VM and per process
 * (counters and log2 histograms), and an optional event stream.
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
 */
#include "msmvm_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "msmvm/abi.h"
#include "flavor.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile struct msmvm_bpf_config config = MSMVM_BPF_CONFIG_DEFAULT;

/* Per thread: what the current VM_BIND call has done so far. */
struct thread_state {
	__u64 ioctl_ts;
	__u64 vm;
	__u64 wq;		/* &vm->prealloc_throttle.wait (fallback) */
	__u64 job;
	__u64 count_ts;		/* vm_bind_prealloc_count entry, or first prepare_to_wait_event */
	__u64 nvcsw;
	__u64 wait_ns;
	__s64 in_flight;
	__u32 nr_ops;
	__u32 queue_id;
	__u32 count;
	__u8 counted;
	__u8 slept;
	__u8 waiting;		/* fallback: between first prepare_to_wait_event and the end */
	__u8 prepare_ours;	/* fallback: the prepare_to_wait_event in progress is on our wq */
	__u8 intr_pending;	/* fallback: prepare_to_wait_event saw a signal */
	__u8 is_waiter;		/* counted in the VM's waiters gauge */
	__u64 intr_ts;		/* fallback: when, and the nvcsw then */
	__u64 intr_nvcsw;
	/* for the event only */
	__u64 wait_end_ts;
	__u64 add_ts;
	__s32 waiting_in;	/* the waiters gauge after this thread joined / left it */
	__s32 waiting_out;
	__u8 interrupted;
};

/* Per job: what it added to in_flight, for drift; when its bind returned, for lifetime. */
struct job_key {
	__u64 job;
	__u32 scope;
	__u32 pad;
};

struct job_state {
	__u64 bind_ret_ts;
	__u32 added;
	__u32 tgid;
};

struct free_state {
	struct msmvm_vm_key vm;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct msmvm_vm_key);
	__type(value, struct msmvm_stats);
} vm_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct msmvm_stats);
} proc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct job_key);
	__type(value, struct job_state);
} jobs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct free_state);
} frees SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MSMVM_H_COUNT_);
	__type(key, __u32);
	__type(value, __u64);
} health SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/* A free's event between its entry and its return (events only: shrunk otherwise). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct msmvm_event);
} pending_frees SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct msmvm_waiter);
} waiting SEC(".maps");

static const struct msmvm_stats zero_stats;
static const struct msmvm_event zero_event;

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

/* An event to fill, or NULL (counted as a drop) when the ring buffer is full. */
static __always_inline struct msmvm_event *event_reserve(__u32 type)
{
	struct msmvm_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		health_inc(MSMVM_H_RINGBUF_DROPS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	return e;
}

static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= config.wakeup_bytes
		       ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Batched wakeups: the reader is woken only once wakeup_bytes are pending. */
static __always_inline void event_submit(struct msmvm_event *e)
{
	health_inc(MSMVM_H_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flag());
}

/* An event built in a map value (a free's, completed at its return). */
static __always_inline void event_output(struct msmvm_event *e)
{
	if (bpf_ringbuf_output(&events, e, sizeof(*e), wakeup_flag())) {
		health_inc(MSMVM_H_RINGBUF_DROPS);
		return;
	}
	health_inc(MSMVM_H_EVENTS);
}

/*
 * UAPI: struct drm_msm_vm_bind_op (40 bytes), inline at offset 48 of struct drm_msm_vm_bind
 * when nr_ops == 1, else an array at the user pointer stored there. Fixed ABI, fixed offsets.
 */
struct msmvm_uapi_vm_bind_op {
	__u32 op;
	__u32 handle;
	__u64 obj_offset;
	__u64 iova;
	__u64 range;
	__u32 flags;
	__u32 pad;
};

#define MSMVM_UAPI_OPS_OFFSET 48

struct ops_walk {
	void *data;		/* the argument struct (the inline op) */
	__u64 uops;		/* nr_ops > 1: the user array */
	__u64 entry_ts;
	__u32 pid, tid, nr_ops;
};

/*
 * One MSMVM_EV_OPS record: ops [idx * 8, idx * 8 + 8) of the call (a bpf_loop callback).
 * A full ring buffer drops this record (counted as every other drop) and the next one is
 * tried all the same; a failed read of user memory ends the record short and the walk.
 */
static long ops_record(__u32 idx, void *ctx)
{
	struct ops_walk *w = ctx;
	__u32 first = idx * MSMVM_OPS_PER_EVENT, n = 0;
	struct msmvm_ops_event *e;
	int stop = 0;

	if (first >= w->nr_ops || first >= MSMVM_OPS_MAX)
		return 1;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		health_inc(MSMVM_H_RINGBUF_DROPS);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = MSMVM_EV_OPS;
	e->pid = w->pid;
	e->tid = w->tid;
	e->nr_ops = w->nr_ops;
	e->ts_ns = w->entry_ts;
	e->first = (__u16)first;
	for (int i = 0; i < MSMVM_OPS_PER_EVENT; i++) {
		struct msmvm_uapi_vm_bind_op op;
		long err;

		if (first + i >= w->nr_ops)
			break;
		if (w->nr_ops == 1)
			err = ARGS_READ(&op, sizeof(op), w->data + MSMVM_UAPI_OPS_OFFSET);
		else	/* copy_from_user's source: user memory in every flavor */
			err = bpf_probe_read_user(&op, sizeof(op),
						  (void *)(w->uops + (__u64)(first + i) * sizeof(op)));
		if (err) {
			stop = 1;
			break;
		}
		e->kinds |= (op.op < MSMVM_OP_KIND_OTHER ? op.op : MSMVM_OP_KIND_OTHER) << (4 * i);
		e->ops[i].iova = op.iova;
		e->ops[i].range = op.range;
		n++;
	}
	e->n = (__u8)n;
	health_inc(MSMVM_H_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flag());
	return stop;
}

/* The call's ops, 8 per record, the first MSMVM_OPS_MAX of them. */
static __always_inline void emit_call_ops(void *data, __u32 nr_ops, __u32 tgid, __u32 tid,
					  __u64 entry_ts)
{
	struct ops_walk w = { .data = data, .entry_ts = entry_ts, .pid = tgid, .tid = tid,
			      .nr_ops = nr_ops };
	__u32 n = nr_ops < MSMVM_OPS_MAX ? nr_ops : MSMVM_OPS_MAX;

	if (!n)
		return;
	if (nr_ops > 1 && ARGS_READ(&w.uops, sizeof(w.uops), data + MSMVM_UAPI_OPS_OFFSET))
		return;	/* no record: the reader sees this call's ops as missing */
	bpf_loop((n + MSMVM_OPS_PER_EVENT - 1) / MSMVM_OPS_PER_EVENT, ops_record, &w, 0);
}

/* A stall gauge (VM or process): time with at least one waiter, from the gauge's edges. */
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

/*
 * The waiters gauges of the VM and of the process and, from their 0 -> 1 and 1 -> 0 edges,
 * their stall times (a process's is the union of its threads' waits, PSI's "some").
 */
static __always_inline void waiter_enter(struct thread_state *st, __u32 tgid, __u64 now)
{
	struct msmvm_stats *vs = vm_stats_get(st->vm, tgid);
	struct msmvm_waiter wt = { .vm = st->vm, .start_ns = now, .tgid = tgid,
				   .scope = VM_SCOPE(tgid) };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__s64 w;

	struct msmvm_stats *ps;

	if (!vs || st->is_waiter)
		return;
	st->is_waiter = 1;
	w = gauge_enter(vs, now);
	ps = proc_stats_get(tgid);
	if (ps)
		gauge_enter(ps, now);
	/* waits in progress, for alerts on a wait that is still going on */
	if (bpf_map_update_elem(&waiting, &tid, &wt, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	if (config.emit_events)
		st->waiting_in = (__s32)w + 1;
}

static __always_inline void waiter_exit(struct thread_state *st, __u32 tgid, __u64 now)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct msmvm_stats *vs, *ps;
	__s64 w;

	if (!st->is_waiter)
		return;
	st->is_waiter = 0;
	bpf_map_delete_elem(&waiting, &tid);
	ps = proc_stats_get(tgid);
	if (ps)
		gauge_exit(ps, now);
	vs = vm_stats_get(st->vm, tgid);
	if (!vs)
		return;
	w = gauge_exit(vs, now);
	if (config.emit_events)
		st->waiting_out = (__s32)w - 1;
}

/* Both the VM's and the process's stats get the same update. */
#define FOR_BOTH(vs, ps, stmt)                          \
	do {                                            \
		struct msmvm_stats *_s;                 \
		if ((_s = (vs))) { stmt; }              \
		if ((_s = (ps))) { stmt; }              \
	} while (0)

/*
 * A wait has ended at `now`, with the task's nvcsw then (direct: the count returned;
 * fallback: finish_wait, or the ioctl returned after a signal).
 */
static __always_inline void account_wait(struct thread_state *st, __u32 tgid, __u64 now,
					 __u64 nvcsw, int interrupted)
{
	__u64 wait_ns = now - st->count_ts;
	struct msmvm_stats *vs = vm_stats_get(st->vm, tgid), *ps = proc_stats_get(tgid);

	st->slept = nvcsw != st->nvcsw;
	if (config.emit_events) {
		st->wait_end_ts = now;
		st->interrupted = interrupted;
	}
	if (st->slept) {
		st->wait_ns = wait_ns;
		FOR_BOTH(vs, ps, {
			__sync_fetch_and_add(&_s->c.waits, 1);
			__sync_fetch_and_add(&_s->c.wait_ns_total, wait_ns);
			max_u64(&_s->c.wait_ns_max, wait_ns);
			hist_add(_s, MSMVM_HIST_WAIT_NS, wait_ns);
		});
	}
	if (interrupted)
		FOR_BOTH(vs, ps, __sync_fetch_and_add(&_s->c.interrupted_waits, 1));
}

/* Pages were added to in_flight (direct: count returned 0; fallback: allocate entry). */
static __always_inline void account_counted(struct thread_state *st, __u32 tgid, __u64 job,
					    __u32 count)
{
	struct msmvm_stats *vs = vm_stats_get(st->vm, tgid), *ps = proc_stats_get(tgid);
	struct job_key jk = { .job = job, .scope = VM_SCOPE(tgid) };
	struct job_state js = { .added = count, .tgid = tgid };
	__s64 in_flight = read_in_flight(st->vm);

	st->counted = 1;
	st->count = count;
	st->job = job;
	st->in_flight = in_flight;
	if (config.emit_events)
		st->add_ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&jobs, &jk, &js, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	FOR_BOTH(vs, ps, {
		__sync_fetch_and_add(&_s->c.pages_counted, count);
		hist_add(_s, MSMVM_HIST_PAGES_PER_BIND, count);
	});
	if (vs) {
		max_s64(&vs->c.peak_in_flight, in_flight);
		vs->c.in_flight = in_flight;
	}
}

HOOK_ENTRY(ioctl_vm_bind_entry, void *dev, void *data, struct drm_file *file)
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
	st.ioctl_ts = bpf_ktime_get_ns();
	st.vm = (__u64)vm;
	st.wq = (__u64)__builtin_preserve_access_index(&vm->prealloc_throttle.wait);
	st.nr_ops = args.nr_ops;
	st.queue_id = args.queue_id;
	if (bpf_map_update_elem(&threads, &tid, &st, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);
	/* the VM's owner, known before anything of this call can be freed */
	vs = vm_stats_get(st.vm, tgid);
	if (vs)
		vs->owner_tgid = tgid;
	if (config.emit_events && config.emit_ops)	/* keyed by the entry time: the bind's start_ns */
		emit_call_ops(data, args.nr_ops, tgid, tid, st.ioctl_ts);
	return 0;
}

HOOK_RETURN(ioctl_vm_bind_return, int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);
	struct msmvm_stats *vs, *ps;
	__u64 now = bpf_ktime_get_ns();

	if (!st) {
		if (!config.filter_tgid || tgid == config.filter_tgid)
			health_inc(MSMVM_H_THREAD_STATE_MISSING);
		return 0;
	}
	if (st->waiting && st->intr_pending) {
		/* fallback: the signal ended the wait (no finish_wait came): interrupted */
		account_wait(st, tgid, st->intr_ts, st->intr_nvcsw, 1);
		st->waiting = 0;
	}
	waiter_exit(st, tgid, now);	/* the call is over: it waits no more */
	vs = vm_stats_get(st->vm, tgid);
	ps = proc_stats_get(tgid);
	FOR_BOTH(vs, ps, {
		__sync_fetch_and_add(&_s->c.binds, 1);
		__sync_fetch_and_add(&_s->c.ops, st->nr_ops);
		if (ret < 0) {
			__u32 e = msmvm_errno_slot(ret);

			__sync_fetch_and_add(&_s->c.errors, 1);
			if (e < MSMVM_ERR_SLOTS_)
				__sync_fetch_and_add(&_s->c.errno_counts[e], 1);
		}
		hist_add(_s, MSMVM_HIST_IOCTL_NS, now - st->ioctl_ts);
		_s->last_seen_ns = now;
	});
	if (vs)
		vs->c.in_flight = read_in_flight(st->vm);
	if (ps)
		bpf_get_current_comm(ps->comm, sizeof(ps->comm));

	if (ret == 0 && st->counted) {	/* the job is queued: its lifetime starts now */
		struct job_key jk = { .job = st->job, .scope = VM_SCOPE(tgid) };
		struct job_state *js = bpf_map_lookup_elem(&jobs, &jk);

		if (js)
			js->bind_ret_ts = now;
	}

	if (config.emit_events) {
		struct msmvm_event *e = event_reserve(MSMVM_EV_BIND);

		if (e) {
			e->pid = tgid;
			e->tid = tid;
			e->ret = ret;
			e->ts_ns = now;
			e->start_ns = st->ioctl_ts;
			e->vm = st->vm;
			e->job = st->job;
			e->wait_ns = st->wait_ns;
			e->in_flight = st->in_flight;
			e->nr_ops = st->nr_ops;
			e->queue_id = st->queue_id;
			e->count = st->count;
			e->slept = st->slept;
			e->counted = st->counted;
			e->interrupted = st->interrupted;
			e->wait_start_ns = st->count_ts;
			e->wait_end_ns = st->wait_end_ts;
			e->add_ns = st->add_ts;
			e->waiting_in = st->waiting_in;
			e->waiting_out = st->waiting_out;
			bpf_get_current_comm(e->comm, sizeof(e->comm));
			event_submit(e);
		}
	}
	bpf_map_delete_elem(&threads, &tid);
	return 0;
}

/* ---- direct plan: vm_bind_prealloc_count ---- */

HOOK_ENTRY(prealloc_count_entry, struct msm_vm_bind_job *job)
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
	st->job = (__u64)job;
	st->count_ts = bpf_ktime_get_ns();
	st->nvcsw = current_nvcsw();
	/* over the limit now: this call is headed for the throttle's sleep */
	if (read_in_flight(st->vm) > config.throttle_limit)
		waiter_enter(st, tgid, st->count_ts);
	return 0;
}

HOOK_RETURN(prealloc_count_return, int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);
	struct msm_vm_bind_job *job;

	if (!st || !st->job)
		return 0;
	waiter_exit(st, tgid, bpf_ktime_get_ns());
	account_wait(st, tgid, bpf_ktime_get_ns(), current_nvcsw(), ret == -MSMVM_ERESTARTSYS);
	if (ret == 0) {
		job = (void *)st->job;
		account_counted(st, tgid, st->job, DRV_READ(job, prealloc.count));
	}
	return 0;
}

/* ---- fallback plan: the wait queue, and the allocation that follows the add ---- */

HOOK_ENTRY(prepare_to_wait_event_entry, struct wait_queue_head *wq_head)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);

	if (!st)
		return 0;
	st->prepare_ours = (__u64)wq_head == st->wq;
	if (st->prepare_ours && !st->waiting) {
		st->waiting = 1;
		st->count_ts = bpf_ktime_get_ns();
		st->nvcsw = current_nvcsw();
		waiter_enter(st, tgid, st->count_ts);
	}
	return 0;
}

HOOK_RETURN(prepare_to_wait_event_return, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);

	/*
	 * -ERESTARTSYS: a signal is pending and the entry was dequeued. The wait is interrupted
	 * only if the condition does not hold now; if it does, finish_wait() still runs. So
	 * note the time here and decide at finish_wait() or at the ioctl's return.
	 */
	if (st && st->prepare_ours && st->waiting && ret == -MSMVM_ERESTARTSYS) {
		st->intr_pending = 1;
		st->intr_ts = bpf_ktime_get_ns();
		st->intr_nvcsw = current_nvcsw();
	}
	return 0;
}

HOOK_ENTRY(finish_wait_entry, struct wait_queue_head *wq_head)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	struct thread_state *st = bpf_map_lookup_elem(&threads, &tid);

	if (st && st->waiting && (__u64)wq_head == st->wq) {
		waiter_exit(st, tgid, bpf_ktime_get_ns());
		account_wait(st, tgid, bpf_ktime_get_ns(), current_nvcsw(), 0);
		st->waiting = 0;
		st->intr_pending = 0;
	}
	return 0;
}

HOOK_ENTRY(prealloc_allocate_entry, void *mmu, struct msm_mmu_prealloc *p)
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

HOOK_ENTRY(job_free_entry, struct msm_vm_bind_job *job)
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
	struct msmvm_stats *vs = bpf_map_lookup_elem(&vm_stats, &vk), *ps = NULL;
	__u32 added = js ? js->added : 0;
	__u64 bind_ret_ts = js ? js->bind_ret_ts : 0;
	__u64 now = bpf_ktime_get_ns();
	__s64 drift = (__s64)added - (__s64)count;
	__s64 in_flight = read_in_flight(vm);
	__u32 owner;

	if (!vs)
		return 0;	/* a VM no traced process has used (or filtered out) */
	owner = vs->owner_tgid;
	ps = proc_stats_get(owner);
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
	FOR_BOTH(vs, ps, {
		__sync_fetch_and_add(&_s->c.pages_used, used);
		if (drift)
			__sync_fetch_and_add((__u64 *)&_s->c.drift, (__u64)drift);
		if (count) {
			hist_add(_s, MSMVM_HIST_OVERCOUNT_PAGES, count - used);
			hist_add(_s, MSMVM_HIST_OVERCOUNT_PCT, (__u64)(count - used) * 100 / count);
		}
	});
	max_s64(&vs->c.peak_in_flight, in_flight);	/* the value before this job's sub */
	vs->last_free_ns = now;
	if (js)
		bpf_map_delete_elem(&jobs, &jk);
	if (bpf_map_update_elem(&frees, &tid, &fs, BPF_ANY))
		health_inc(MSMVM_H_MAP_UPDATE_FAILED);

	/* the event leaves at the return, once in_flight after the sub is known */
	if (config.emit_events && !bpf_map_update_elem(&pending_frees, &tid, &zero_event, BPF_ANY)) {
		struct msmvm_event *e = bpf_map_lookup_elem(&pending_frees, &tid);

		if (e) {
			e->type = MSMVM_EV_FREE;
			e->pid = owner;
			e->tid = tid;
			e->ts_ns = now;
			e->start_ns = bind_ret_ts;
			e->vm = vm;
			e->job = (__u64)job;
			e->in_flight = in_flight;
			e->count = count;
			e->used = used;
			e->drift = drift;
			e->in_ioctl = bpf_map_lookup_elem(&threads, &tid) ? 1 : 0;
		}
	}
	return 0;
}

HOOK_RETURN(job_free_return)
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
		}
	}
	return 0;
}

/*
 * The offsets CO-RE resolved for this target, for `msmvm-stat --dry-run` and the tests:
 * run once with BPF_PROG_TEST_RUN after load, whatever the flavor.
 */
struct {
	__s64 drm_file_driver_priv;
	__s64 msm_context_vm;
	__s64 msm_gem_vm_prealloc_throttle;
	__s64 msm_gem_vm_in_flight;
	__s64 msm_vm_bind_job_vm;
	__s64 msm_vm_bind_job_prealloc;
	__s64 msm_vm_bind_job_nr_ops;
	__s64 msm_mmu_prealloc_count;
	__s64 msm_mmu_prealloc_ptr;
	__s64 task_struct_nvcsw;
} layout;

SEC("raw_tp")
int report_layout(void *ctx)
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
