/* SPDX-License-Identifier: GPL-2.0 */
/* Workload shapes for msmvm-sim: what a Vulkan driver's VM_BINDs look like. */
#ifndef MSMVM_SIM_WORKLOAD_H
#define MSMVM_SIM_WORKLOAD_H

#include "msm_drv.h"

enum workload_kind {
	WL_SPARSE,	/* many tiny unsorted 4 KiB maps: the throttle patch's case */
	WL_CONTIGUOUS,	/* few large contiguous maps */
	WL_MIXED,	/* a mix of the others */
	WL_UNMAP_HEAVY,	/* mostly unmaps: count-0 jobs */
	WL_STORM,	/* huge sparse binds: the throttle stalls for long */
	WL_COUNT_
};

extern const char *const workload_names[WL_COUNT_];
int workload_parse(const char *name, enum workload_kind *out);

#define WL_MAX_OPS 1024
#define WL_BO_HANDLE 1
#define WL_BO_SIZE (1ULL << 30)

struct workload_state {
	enum workload_kind kind;
	u64 rng;
	u64 va_base;	/* this thread's 4 GiB window */
	u64 va_size;
	u64 cursor;	/* next address for contiguous maps */
};

void workload_init(struct workload_state *st, enum workload_kind kind, u64 seed, u64 va_base);
/* Fills ops[] for the next VM_BIND; returns how many. */
unsigned int workload_next(struct workload_state *st, struct drm_msm_vm_bind_op *ops);

#endif
