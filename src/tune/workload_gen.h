/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The model's workload generators: what a Vulkan driver's VM_BINDs look like, as op
 * streams that depend only on a seed. msmvm-sim run issues them; msmvm-tune --workload
 * replays the same streams. (The recorded workload, as data, is include/msmvm/workload.h.)
 */
#ifndef MSMVM_TUNE_WORKLOAD_GEN_H
#define MSMVM_TUNE_WORKLOAD_GEN_H

#include "compat.h"	/* src/driver */
#include "msm_drm.h"

/* small deterministic PRNG shared by workloads and the model's fault injection */
static inline u64 msm_rng_next(u64 *s)
{
	/* splitmix64: tiny, seedable, good enough for workload shapes */
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline bool msm_rng_chance(u64 *s, double p)
{
	if (p <= 0)
		return false;
	return (double)(msm_rng_next(s) >> 11) / (double)(1ULL << 53) < p;
}

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
	u64 va_base;	/* this thread's window (workload_window) */
	u64 va_size;
	u64 cursor;	/* next address for contiguous maps */
};

void workload_init(struct workload_state *st, enum workload_kind kind, u64 seed, u64 va_base,
		   u64 va_size);
/* The smallest window a queue gets: the VM size divided by the queues must reach it. */
#define WL_MIN_WINDOW (4 * SZ_2M)
/* Queue queue_id's (1..nqueues) VA window inside the VM: 0, or -1 if the VM is too small. */
int workload_window(u32 queue_id, u32 nqueues, u64 vm_start, u64 vm_size, u64 *base, u64 *size);
/* Fills ops[] for the next VM_BIND; returns how many. */
unsigned int workload_next(struct workload_state *st, struct drm_msm_vm_bind_op *ops);

#endif
