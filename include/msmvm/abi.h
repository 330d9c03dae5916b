/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI between msmvm's BPF programs and libmsmvm: map keys and values, histogram
 * layout, ring-buffer events. Included by both sides; only fixed-size types.
 */
#ifndef MSMVM_ABI_H
#define MSMVM_ABI_H

#include <linux/types.h>

#define MSMVM_HIST_SLOTS 40		/* log2 buckets: slot i holds values in [2^(i-1), 2^i) */
#define MSMVM_COMM_LEN 16

/*
 * The errno values the ioctl returns that msmvm tells apart (asm-generic numbers, the same
 * on arm64 and x86): BPF code has no <errno.h>, and C code must agree with it.
 */
enum msmvm_errno {
	MSMVM_ENOENT = 2,
	MSMVM_EINTR = 4,
	MSMVM_ENOMEM = 12,
	MSMVM_EFAULT = 14,
	MSMVM_EINVAL = 22,
	MSMVM_EPIPE = 32,
	MSMVM_ERESTARTSYS = 512,	/* kernel-internal: an interrupted wait, restarted or EINTR */
};

/* Errors are counted by kind: errno_counts[slot]. */
enum msmvm_errno_slot {
	MSMVM_ERR_EINVAL, MSMVM_ERR_ENOENT, MSMVM_ERR_ENOMEM, MSMVM_ERR_EPIPE,
	MSMVM_ERR_RESTART, MSMVM_ERR_EFAULT, MSMVM_ERR_OTHER, MSMVM_ERR_SLOTS_,
};

/* The slot of an ioctl's negative return value (EINTR and -ERESTARTSYS share one). */
static inline __attribute__((always_inline)) __u32 msmvm_errno_slot(int ret)
{
	switch (-ret) {
	case MSMVM_EINVAL: return MSMVM_ERR_EINVAL;
	case MSMVM_ENOENT: return MSMVM_ERR_ENOENT;
	case MSMVM_ENOMEM: return MSMVM_ERR_ENOMEM;
	case MSMVM_EPIPE: return MSMVM_ERR_EPIPE;
	case MSMVM_EINTR:
	case MSMVM_ERESTARTSYS: return MSMVM_ERR_RESTART;
	case MSMVM_EFAULT: return MSMVM_ERR_EFAULT;
	default: return MSMVM_ERR_OTHER;
	}
}

/* Histograms kept per VM and per process. */
enum msmvm_hist_id {
	MSMVM_HIST_WAIT_NS,		/* time in the throttle, calls that slept */
	MSMVM_HIST_IOCTL_NS,		/* msm_ioctl_vm_bind latency, every call */
	MSMVM_HIST_PAGES_PER_BIND,	/* pages counted, successful counts */
	MSMVM_HIST_OVERCOUNT_PAGES,	/* count - ptr at free, jobs with count > 0 */
	MSMVM_HIST_OVERCOUNT_PCT,	/* 100 * (count - ptr) / count at free, jobs with count > 0 */
	MSMVM_HIST_COUNT_,
};

struct msmvm_hist {
	__u64 slots[MSMVM_HIST_SLOTS];
};

/*
 * The counters, one table, named as in msmvm-sim's summary and listed in its order:
 * X(name, C type, kind, Prometheus metric or 0, help). It makes struct msmvm_counters'
 * fields (the BPF programs read them by name) and libmsmvm's msmvm_counter_table, through
 * which snapshots merge, JSON and Prometheus print and the tests compare.
 * Kinds (enum msmvm_counter_kind, without the prefix):
 *   TOTAL	counts events: sums across VMs and processes, an interval shows its difference
 *   MAX	the highest value seen: merges by maximum, an interval shows it as it is
 *   LEVEL	the last value a probe read (in_flight): sums across VMs, shown as it is
 *   DRIFT	a signed sum over freed jobs (pages added - pages subtracted): sums, differences
 *   OVERCOUNT	derived, not stored: pages_counted - pages_used
 */
#define MSMVM_COUNTER_TABLE(X)								\
	X(binds, __u64, TOTAL, "msmvm_binds_total",					\
	  "DRM_IOCTL_MSM_VM_BIND calls.")						\
	X(ops, __u64, TOTAL, "msmvm_ops_total",						\
	  "VM_BIND ops submitted.")							\
	X(errors, __u64, TOTAL, "msmvm_errors_total",					\
	  "VM_BIND calls that failed (interrupted ones included).")			\
	X(pages_counted, __u64, TOTAL, "msmvm_pages_counted_total",			\
	  "Page-table pages preallocated (added to in_flight).")			\
	X(pages_used, __u64, TOTAL, "msmvm_pages_used_total",				\
	  "Preallocated pages really used by jobs.")					\
	X(pages_overcount, __u64, OVERCOUNT, 0,						\
	  "Preallocated pages never used (pages_counted - pages_used).")		\
	X(waits, __u64, TOTAL, "msmvm_waits_total",					\
	  "VM_BINDs that slept in the throttle.")					\
	X(interrupted_waits, __u64, TOTAL, "msmvm_interrupted_waits_total",		\
	  "Throttle waits ended by a signal.")						\
	X(wait_ns_total, __u64, TOTAL, 0,	/* Prometheus: msmvm_wait_seconds' sum */	\
	  "Time VM_BINDs slept in the throttle, ns.")					\
	X(wait_ns_max, __u64, MAX, 0,							\
	  "The longest sleep in the throttle, ns.")					\
	X(peak_in_flight, __s64, MAX, "msmvm_peak_in_flight_pages",			\
	  "Highest in_flight seen after an add.")					\
	X(in_flight, __s64, LEVEL, "msmvm_in_flight_pages",				\
	  "Preallocated pages in flight (the throttle's counter).")			\
	X(drift, __s64, DRIFT, "msmvm_drift_pages",					\
	  "Accounting drift: pages added minus pages subtracted.")

enum msmvm_counter_kind {
	MSMVM_COUNTER_TOTAL,
	MSMVM_COUNTER_MAX,
	MSMVM_COUNTER_LEVEL,
	MSMVM_COUNTER_DRIFT,
	MSMVM_COUNTER_OVERCOUNT,
};

/* The counters' indices in the table (and in every output): MSMVM_CTR_binds, ... */
#define MSMVM_COUNTER_ID_(name, type, kind, prom, help) MSMVM_CTR_##name,
enum msmvm_counter_id {
	MSMVM_COUNTER_TABLE(MSMVM_COUNTER_ID_)
	MSMVM_NCOUNTERS
};
#undef MSMVM_COUNTER_ID_

/* A field per stored counter; a derived one has none. */
#define MSMVM_COUNTER_FIELD_TOTAL(type, name) type name;
#define MSMVM_COUNTER_FIELD_MAX(type, name) type name;
#define MSMVM_COUNTER_FIELD_LEVEL(type, name) type name;
#define MSMVM_COUNTER_FIELD_DRIFT(type, name) type name;
#define MSMVM_COUNTER_FIELD_OVERCOUNT(type, name)
#define MSMVM_COUNTER_FIELD_(name, type, kind, prom, help) MSMVM_COUNTER_FIELD_##kind(type, name)

struct msmvm_counters {
	MSMVM_COUNTER_TABLE(MSMVM_COUNTER_FIELD_)
	__u64 errno_counts[MSMVM_ERR_SLOTS_];	/* by enum msmvm_errno_slot */
};

struct msmvm_stats {
	struct msmvm_counters c;
	struct msmvm_hist hist[MSMVM_HIST_COUNT_];
	/*
	 * Threads in the throttle now, and the time with at least one there (PSI's "some"),
	 * per VM and per process. Direct hooks: a thread counts from vm_bind_prealloc_count's entry if
	 * in_flight was above throttle_limit then, to its return; fallback: from the first
	 * prepare_to_wait_event on the VM's queue to the end of the wait.
	 */
	__s64 waiters;
	__u64 stall_ns_total;		/* closed stall periods */
	__u64 stall_start_ns;		/* start of the open one, when waiters > 0 */
	__u64 last_free_ns;		/* VM: the first snapshot that saw its last job free (wedges) */
	__u64 last_seen_ns;
	__u32 owner_tgid;		/* VM stats: the process that last issued a VM_BIND on it */
	__u32 pad;
	char comm[MSMVM_COMM_LEN];	/* process stats: its comm */
};

/* A thread in the throttle now (map "waiting", keyed by tid): waits in progress. */
struct msmvm_waiter {
	__u64 vm;
	__u64 start_ns;
	__u32 tgid;
	__u32 scope;
};

/* A VM: its address, scoped by tgid where addresses are per process (the model). */
struct msmvm_vm_key {
	__u64 vm;
	__u32 scope;
	__u32 pad;
};

/*
 * The stats map's key: a VM as used by one process. One entry takes every update of a call,
 * for its VM and its process at once; libmsmvm folds the entries into per-VM and
 * per-process figures. The stall gauges use the same key with tgid 0 (a VM's) or vm 0 and
 * scope 0 (a process's).
 */
struct msmvm_usage_key {
	__u64 vm;
	__u32 scope;
	__u32 tgid;
};

/*
 * A VM's in_flight as the probes last read it, its peak, and its job frees: one slot per
 * VM in the array map "vm_gauges", found by open addressing from msmvm_slot_hash() (an array
 * lookup the verifier inlines: no helper call). A slot is claimed by a compare-and-swap of
 * `vm` from 0, then `scope`, then `ready`. Two first claims of one VM at once can leave it
 * two slots; every later lookup takes the first in probe order, and so does libmsmvm (the
 * peak is the highest of both).
 */
#define MSMVM_VM_GAUGE_SLOTS_LOG2 12
#define MSMVM_TABLE_PROBES 8

struct msmvm_vm_gauge {
	__u64 vm;		/* 0: a free slot */
	__u32 scope;
	__u32 ready;		/* vm and scope are written */
	__s64 in_flight;
	__s64 peak_in_flight;
	__u64 frees;		/* jobs freed: libmsmvm notes when this moves (wedge detection) */
};

/* Where the probes of a key start in a table of 2^bits slots (then the next ones, in turn). */
static inline __attribute__((always_inline)) __u32 msmvm_slot_hash(__u64 key, __u32 scope,
								   __u32 bits)
{
	__u64 h = (key ^ ((__u64)scope << 32 | scope)) * 0x9E3779B97F4A7C15ULL;

	return (__u32)(h >> (64 - bits));
}

/* Threads in the throttle now, and the time with at least one there (PSI's "some"). */
struct msmvm_stall {
	__s64 waiters;
	__u64 stall_ns_total;		/* closed stall periods */
	__u64 stall_start_ns;		/* start of the open one, when waiters > 0 */
};

/* Health of the probes themselves: never silent. */
enum msmvm_health_id {
	MSMVM_H_THREAD_STATE_MISSING,	/* a return without its entry (LRU eviction, attach mid-call) */
	MSMVM_H_JOB_STATE_MISSING,	/* a free of a counted job we never saw counted */
	MSMVM_H_MAP_UPDATE_FAILED,	/* a map was full */
	MSMVM_H_RINGBUF_DROPS,		/* events lost: ring buffer full */
	MSMVM_H_EVENTS,			/* events emitted */
	MSMVM_H_COUNT_,
};

/* Events, only when a consumer asks (trace, alerts). */
enum msmvm_event_type {
	MSMVM_EV_BIND = 1,	/* msm_ioctl_vm_bind returned */
	MSMVM_EV_FREE = 2,	/* msm_vma_job_free ran */
	MSMVM_EV_OPS = 3,	/* msm_ioctl_vm_bind entry: up to 8 of its ops (struct msmvm_ops_event) */
};

/*
 * One event per msm_ioctl_vm_bind return and per msm_vma_job_free. It carries everything a
 * trace needs to draw the call and to recount msmvm-stat's counters and histograms from it.
 * Fields are grouped by the events that fill them (anonymous structs: read as e->field);
 * a field of the other type's group is 0.
 */
struct msmvm_event {
	struct {		/* every event */
		__u32 type;
		__u32 pid;		/* tgid (free: the VM's owner) */
		__u32 tid;
		__u32 count;		/* bind: pages counted; free: prealloc.count */
		__u64 ts_ns;		/* CLOCK_MONOTONIC: return (bind) or entry (free) */
		__u64 start_ns;		/* bind: ioctl entry; free: the bind's return, 0 if unknown */
		__u64 vm;
		__u64 job;
		__s64 in_flight;	/* bind: after the add; free: before the sub */
	};
	struct {		/* MSMVM_EV_BIND */
		__s32 ret;		/* the ioctl's return value */
		__u32 nr_ops;
		__u32 queue_id;
		__s32 waiting_in;	/* threads in the VM's throttle once this one entered */
		__s32 waiting_out;	/* ... and once it left */
		__u8 slept;
		__u8 counted;		/* the count was added to in_flight */
		__u8 interrupted;	/* the throttle returned -ERESTARTSYS */
		__u8 pad_bind;
		__u64 wait_ns;		/* throttle wait if it slept */
		/* the throttle (direct: vm_bind_prealloc_count; fallback: first
		 * prepare_to_wait_event to finish_wait), 0 if never reached; wait_ns is end - start */
		__u64 wait_start_ns;
		__u64 wait_end_ns;
		__u64 add_ns;		/* when in_flight was read after the add */
		char comm[MSMVM_COMM_LEN];
	};
	struct {		/* MSMVM_EV_FREE */
		__u32 used;		/* prealloc.ptr */
		__u8 in_ioctl;		/* ran inside a VM_BIND call (its error path) */
		__u8 pad_free[3];
		__u64 end_ns;		/* msm_vma_job_free's return */
		__s64 in_flight_after;	/* read at that return, after the sub */
		__s64 drift;		/* pages this job added - pages its free subtracts */
	};
};

/*
 * The ops of one msm_ioctl_vm_bind call, read at its entry when the loader asks (emit_ops):
 * ceil(nr_ops / 8) records, in order, of at most MSMVM_OPS_PER_EVENT ops each, for the first
 * MSMVM_OPS_MAX ops (a call with more is recorded short: its reader sees it incomplete).
 * The same size as struct msmvm_event (the ring buffer and its consumers assume one size),
 * with type, pid, tid and ts_ns where msmvm_event has them: a consumer that sees
 * type == MSMVM_EV_OPS copies the event into this struct.
 */
#define MSMVM_OPS_PER_EVENT 8
#define MSMVM_OPS_MAX 1024		/* the model's WL_MAX_OPS; beyond, the probes stop */
#define MSMVM_OP_KIND_OTHER 15		/* a kind of 15 or more (the driver refuses it) */

struct msmvm_op_range {
	__u64 iova;
	__u64 range;
};

struct msmvm_ops_event {
	__u32 type;		/* MSMVM_EV_OPS */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 nr_ops;		/* the call's, as it said (all of them, not this record's) */
	__u64 ts_ns;		/* the call's entry: its bind event's start_ns (the key) */
	__u16 first;		/* index of ops[0] among the call's ops */
	__u8 n;			/* ops in this record, <= 8 (fewer: a read of user memory failed) */
	__u8 pad;
	__u32 kinds;		/* op i's kind in bits 4i..4i+3: UNMAP 0, MAP 1, MAP_NULL 2 */
	struct msmvm_op_range ops[MSMVM_OPS_PER_EVENT];
};

#ifndef __cplusplus
_Static_assert(sizeof(struct msmvm_ops_event) == sizeof(struct msmvm_event),
	       "an ops record is one ring-buffer event");
_Static_assert(sizeof(struct msmvm_event) == 160, "consumers assume 160-byte events");
_Static_assert(__builtin_offsetof(struct msmvm_ops_event, type) ==
	       __builtin_offsetof(struct msmvm_event, type) &&
	       __builtin_offsetof(struct msmvm_ops_event, pid) ==
	       __builtin_offsetof(struct msmvm_event, pid) &&
	       __builtin_offsetof(struct msmvm_ops_event, tid) ==
	       __builtin_offsetof(struct msmvm_event, tid), "type, pid, tid where every event has them");
_Static_assert(__builtin_offsetof(struct msmvm_ops_event, ts_ns) ==
	       __builtin_offsetof(struct msmvm_event, ts_ns), "ts_ns where every event has it");
#endif

static inline unsigned int msmvm_ops_kind(const struct msmvm_ops_event *e, unsigned int i)
{
	return (e->kinds >> (4 * (i % MSMVM_OPS_PER_EVENT))) & 0xf;
}

/* How the probes find the throttle (set by the loader before load). */
enum msmvm_hook_plan {
	MSMVM_PLAN_DIRECT = 0,		/* vm_bind_prealloc_count entry/return */
	MSMVM_PLAN_FALLBACK = 1,	/* prepare_to_wait_event/finish_wait + prealloc_allocate */
};

/*
 * The programs' settings: one `const volatile` struct in .rodata, written by the loader
 * before load (the verifier then drops the branches a setting turns off).
 */
struct msmvm_bpf_config {
	__u32 hook_plan;		/* enum msmvm_hook_plan */
	__u32 filter_tgid;		/* 0: every process */
	__s64 throttle_limit;		/* the driver's 1024; the model's --limit */
	__u64 wakeup_bytes;		/* batch ring-buffer wakeups: wake once this much is pending */
	__u8 emit_events;		/* only trace/alert consumers pay for events */
	__u8 emit_ops;			/* with emit_events: each call's ops, at entry */
	/*
	 * The programs run on the kernel their CO-RE target describes (not a dry run against
	 * another kernel's BTF): the task's fields are plain loads through its BTF pointer.
	 */
	__u8 native_btf;
	/*
	 * Only the processes in the `watched` map (a command's tree: its first process put there
	 * by the loader, each fork of a watched process added by process_fork); filter_tgid unused.
	 */
	__u8 filter_tree;
	__u8 pad[4];
};

#define MSMVM_BPF_CONFIG_DEFAULT {					\
	.hook_plan = MSMVM_PLAN_DIRECT, .throttle_limit = 1024,		\
	.wakeup_bytes = 64 * 1024,					\
}

#endif
