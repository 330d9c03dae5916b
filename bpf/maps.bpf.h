/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The probes' state: the settings, the maps and their values, the layout global. Names are
 * the loader's contract (libmsmvm finds every map and global by name, in every flavor).
 */
#ifndef MSMVM_BPF_MAPS_H
#define MSMVM_BPF_MAPS_H

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile struct msmvm_bpf_config config = MSMVM_BPF_CONFIG_DEFAULT;

/*
 * Per thread (task-local storage: found without a hash, gone with the task): what the
 * current VM_BIND call has done so far, grouped by what reads it, and what a job free on this
 * thread hands from its entry to its return. No field serves the direct plan alone: its wait
 * starts and ends where the fallback's does, in `call`.
 */
struct thread_state {
	struct {		/* every plan: the call, its wait, its count */
		__u8 active;		/* between the ioctl's entry and its return */
		__u8 counted;
		__u8 slept;
		__u8 is_waiter;		/* counted in the VM's waiters gauge */
		__u8 interrupted;
		__u8 args_read;		/* nr_ops and queue_id are the argument struct's */
		__u8 pad[2];
		__u64 ioctl_ts;
		__u64 data;		/* the argument struct: read at the return if no job came */
		__u64 file;		/* the ioctl's drm_file: its VM, if no hook named the VM */
		__u64 vm;		/* 0 until a hook names it */
		__u32 nr_ops;
		__u32 queue_id;
		__u64 job;
		__u64 wait_start_ts;	/* 0: not taken (in_flight was under the limit at entry) */
		__u64 wait_start_nvcsw;	/* the task's nvcsw then: did the wait sleep */
		__u64 wait_ns;		/* the wait, if it slept */
		__s64 in_flight;	/* after the add */
		__u32 count;
		__u32 pad2;
	} call;
	struct {		/* only for the bind's event (config.emit_events) */
		__u64 wait_end_ts;
		__u64 add_ts;
		__s32 waiting_in;	/* the waiters gauge after this thread joined / left it */
		__s32 waiting_out;
	} event;
	struct {		/* fallback plan: the wait seen on the VM's wait queue */
		__u64 intr_ts;		/* prepare_to_wait_event saw a signal: when, */
		__u64 intr_nvcsw;	/* and the nvcsw then */
		__u8 waiting;		/* between the first prepare_to_wait_event and the end */
		__u8 prepare_ours;	/* the prepare_to_wait_event in progress is on our wq */
		__u8 intr_pending;	/* a signal was seen; finish_wait or the return decides */
		__u8 pad[5];
		__u64 wq;		/* &vm->prealloc_throttle.wait */
	} fallback;
	struct {		/* a job free in progress on this thread: entry -> return */
		struct msmvm_usage_key usage;	/* the stats its in_flight after the sub goes to */
		__u8 pending;
		__u8 pad[7];
	} free;
};

/*
 * Per job: what it added to in_flight, for drift, and who bound it; when its bind returned.
 * An array searched by open addressing (msmvm_slot_hash, MSMVM_TABLE_PROBES slots), as
 * vm_gauges: claimed at the count by a compare-and-swap of `job` from 0, given back at the
 * free by storing 0. A lookup reads every probe slot (a given-back slot may sit before the
 * one it wants).
 */
#define JOB_SLOTS_LOG2 16

struct job_slot {
	__u64 job;		/* 0: free */
	__u32 scope;
	__u32 added;
	__u32 tgid;
	__u32 pad;
	__u64 bind_ret_ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << JOB_SLOTS_LOG2);
	__type(key, __u32);
	__type(value, struct job_slot);
} jobs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);	/* libmsmvm reads it in place */
	__uint(max_entries, 1 << MSMVM_VM_GAUGE_SLOTS_LOG2);
	__type(key, __u32);
	__type(value, struct msmvm_vm_gauge);
} vm_gauges SEC(".maps");

/*
 * Counters and histograms, per VM and process (struct msmvm_usage_key). Preallocated: an
 * entry made as it is needed can fail in a kprobe (the allocator's per-CPU cache is refilled
 * later), and a per-CPU map preallocated for every CPU of a large machine is too big; a
 * plain hash with atomic adds measured no slower here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct msmvm_usage_key);
	__type(value, struct msmvm_stats);
} usage SEC(".maps");

/* The waiters gauges and stall times: a VM's (tgid 0), a process's (vm 0); touched on waits. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct msmvm_usage_key);
	__type(value, struct msmvm_stall);
} stalls SEC(".maps");

/* A VM's last new user, for a free of a job we never saw bound. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct msmvm_vm_key);
	__type(value, __u32);
} vm_owner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/*
 * A thread whose storage could not be made: the kernel refuses to make task storage while
 * another program holds the per-CPU storage lock (before 6.15, a preempted fentry program of
 * any tool can). Its state lives here, keyed by tid, until its storage is made by a later
 * call; `threads` is looked at first, so a thread's state is in one place at a time.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct thread_state);
} threads_spill SEC(".maps");

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

/*
 * config.filter_tree: the watched processes (tgid -> 1). Not emptied when one exits: a
 * command's tree lives as long as the session, and a reused pid within it is unlikely.
 * Allocated as used (a tree is a few processes; the loader sizes it to 1 when unused).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u8);
} watched SEC(".maps");

/*
 * The offsets CO-RE resolved for this target, for `msmvm-stat --dry-run` and the tests:
 * written by report_layout, run once with BPF_PROG_TEST_RUN after load, whatever the flavor.
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

#endif
