/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One queue thread's VM_BINDs in `msmvm-sim run`, whichever driver takes them (the model's
 * msm_ioctl_vm_bind() or the twin's ioctl): the workload's ops from the thread's seed, in its
 * queue's VA window, paced by --rate, with --burst-every storms, until --binds or --duration
 * is reached. The model and `--kernel` issue the same streams because both use this.
 */
#ifndef MSMVM_SIM_BIND_STREAM_H
#define MSMVM_SIM_BIND_STREAM_H

#include <signal.h>

#include "sim_run.h"

struct bind_stream {
	const struct sim_opts *opts;
	struct workload_state wl;
	struct drm_msm_vm_bind_op *ops;	/* WL_MAX_OPS, what args.ops points to */
	u32 queue_id;
	u64 seed;		/* the thread's: its ops, and the model's fault injection */
	u64 quota;		/* binds to issue (0 with --duration) */
	u64 issued;
	u64 deadline_ns;	/* 0 without --duration */
	u64 start_ns;		/* the process's start: bursts are timed from it */
	u64 next_ns;		/* pacing */
	double interval_ns;	/* 0: as fast as possible */
};

/*
 * Thread t (0-based, over the process's VMs x queues) of workload process `index`, issuing on
 * queue queue_id (1-based). 0, or -1 out of memory.
 */
int bind_stream_init(struct bind_stream *bs, const struct sim_opts *o, unsigned int index,
		     unsigned int t, u32 queue_id, u64 start_ns);
/*
 * The next VM_BIND's arguments in *args, after the pacing sleep: true, or false when the
 * stream has ended (quota, deadline, or *stop set). Counts the bind as issued.
 */
bool bind_stream_next(struct bind_stream *bs, struct drm_msm_vm_bind *args,
		      volatile sig_atomic_t *stop);
void bind_stream_fini(struct bind_stream *bs);

u64 mono_ns(void);	/* CLOCK_MONOTONIC in ns */

#endif
