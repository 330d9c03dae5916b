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
 * Per thread: what the current VM_BIND call has done so far, grouped by what reads it. No
 * field serves the direct plan alone: its wait starts and ends where the fallback's does,
 * in `call`. The ioctl's entry writes the first four fields and the last one: at the ends,
 * where the compiler leaves them out of zeroing the rest.
 */
struct thread_state {
	struct {		/* every plan: the call, its wait, its count */
		__u64 ioctl_ts;
		__u64 vm;
		__u32 nr_ops;
		__u32 queue_id;
		__u64 job;
		__u64 wait_start_ts;	/* vm_bind_prealloc_count entry, or first prepare_to_wait_event */
		__u64 wait_start_nvcsw;	/* the task's nvcsw then: did the wait sleep */
		__u64 wait_ns;		/* the wait, if it slept */
		__s64 in_flight;	/* after the add */
		__u32 count;
		__u8 counted;
		__u8 slept;
		__u8 is_waiter;		/* counted in the VM's waiters gauge */
	} call;
	struct {		/* only for the bind's event (config.emit_events) */
		__u64 wait_end_ts;
		__u64 add_ts;
		__s32 waiting_in;	/* the waiters gauge after this thread joined / left it */
		__s32 waiting_out;
		__u8 interrupted;
	} event;
	struct {		/* fallback plan: the wait seen on the VM's wait queue */
		__u64 intr_ts;		/* prepare_to_wait_event saw a signal: when, */
		__u64 intr_nvcsw;	/* and the nvcsw then */
		__u8 waiting;		/* between the first prepare_to_wait_event and the end */
		__u8 prepare_ours;	/* the prepare_to_wait_event in progress is on our wq */
		__u8 intr_pending;	/* a signal was seen; finish_wait or the return decides */
		__u64 wq;		/* &vm->prealloc_throttle.wait */
	} fallback;
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

/* A free between its entry and its return: the VM whose in_flight the return reads. */
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
