/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A VM_BIND workload as data: every bind with its ops, timing, process and job, read back
 * from a trace (msmvm_trace_load_workload) or generated from a model workload. msmvm-tune
 * replays it through the model's throttle at other limits.
 */
#ifndef MSMVM_WORKLOAD_H
#define MSMVM_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msmvm/msmvm.h"
#include "msmvm/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One drm_msm_vm_bind_op, as far as the page tables care. */
struct msmvm_wl_op {
	uint64_t iova;
	uint64_t range;
	uint32_t kind;		/* MSM_VM_BIND_OP_UNMAP 0, MAP 1, MAP_NULL 2 */
	uint32_t pad;
};

/* One msm_ioctl_vm_bind call and, if it queued one, its job. Times: CLOCK_MONOTONIC ns. */
struct msmvm_wl_bind {
	uint32_t pid, tid;
	uint32_t queue_id;
	uint32_t nr_ops;	/* as the call said */
	uint64_t vm;		/* the VM's address: the key the throttle is per */
	uint64_t entry_ns;	/* ioctl entry */
	uint64_t return_ns;	/* ioctl return */
	uint64_t wait_start_ns;	/* the throttle: entered (0: not known) */
	uint64_t wait_end_ns;	/* ... and left */
	bool slept;		/* waited in the throttle */
	bool counted;		/* its count was added to in_flight (a job was queued) */
	bool interrupted;	/* -ERESTARTSYS from the throttle */
	bool ops_known;		/* ops[ops_first ..+ nr_ops] hold all of this call's ops */
	int32_t ret;
	uint32_t count;		/* pages counted (the driver's rule) */
	size_t ops_first;	/* index into msmvm_workload.ops */
	uint64_t free_ns;	/* its job's msm_vma_job_free, 0: not seen (still in flight) */
	uint32_t used;		/* pages the job took from its preallocation (at free) */
};

struct msmvm_wl_proc {
	uint32_t pid;
	char comm[16];
};

struct msmvm_workload {
	struct msmvm_wl_bind *binds;	/* ordered by entry_ns */
	size_t nbinds;
	struct msmvm_wl_op *ops;
	size_t nops;
	struct msmvm_wl_proc *procs;
	size_t nprocs;
	uint64_t start_ns, end_ns;	/* the recording's span */
	uint32_t limit;			/* the throttle limit in force when recorded (0: unknown) */
	uint64_t binds_without_ops;	/* binds whose ops the trace lacks (not recorded, dropped) */
	uint64_t frees_without_bind;	/* frees whose bind the trace lacks (before the start) */
};

/*
 * Read a trace written by msmvm-trace into *wl. A truncated trace gives its complete prefix
 * (info->truncated says so); a file that is not such a trace is an error (MSMVM_E_RUNTIME,
 * with the reason and where).
 */
int msmvm_trace_load_workload(const char *path, struct msmvm_workload *wl,
			      struct msmvm_trace_info *info, struct msmvm_err *err);
/* The same with flags: MSMVM_TRACE_READ_IGNORE_DAMAGE (msmvm/trace.h). */
int msmvm_trace_load_workload_ex(const char *path, unsigned int flags, struct msmvm_workload *wl,
				 struct msmvm_trace_info *info, struct msmvm_err *err);
void msmvm_workload_free(struct msmvm_workload *wl);

#ifdef __cplusplus
}
#endif
#endif
