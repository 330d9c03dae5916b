// SPDX-License-Identifier: GPL-2.0
/* A queue thread's VM_BINDs in msmvm-sim run (bind_stream.h). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bind_stream.h"

u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

int bind_stream_init(struct bind_stream *bs, const struct sim_opts *o, unsigned int index,
		     unsigned int t, u32 queue_id, u64 start_ns)
{
	unsigned int nthreads = o->vms * o->queues;
	u64 seed = o->seed * 0x100000001b3ULL + index * 7919ULL + t * 104729ULL + 1;
	u64 base = 0, size = 0;

	memset(bs, 0, sizeof(*bs));
	bs->ops = calloc(WL_MAX_OPS, sizeof(*bs->ops));
	if (!bs->ops)
		return -1;
	bs->opts = o;
	bs->queue_id = queue_id;
	bs->seed = seed;
	if (!o->duration)
		bs->quota = o->binds / nthreads + (t < o->binds % nthreads);
	else
		bs->deadline_ns = start_ns + (u64)(o->duration * 1e9);
	bs->interval_ns = o->rate > 0 ? 1e9 * nthreads / o->rate : 0;
	bs->start_ns = start_ns;
	bs->next_ns = mono_ns();
	/* cmd_run() checked that every queue has a window */
	workload_window(queue_id, o->queues, ADRENO_VM_START, msm_model.vm_size, &base, &size);
	workload_init(&bs->wl, o->workload, seed, base, size);
	return 0;
}

bool bind_stream_next(struct bind_stream *bs, struct drm_msm_vm_bind *args,
		      volatile sig_atomic_t *stop)
{
	const struct sim_opts *o = bs->opts;
	unsigned int n;

	if (*stop || (bs->quota && bs->issued >= bs->quota) ||
	    (bs->deadline_ns && mono_ns() >= bs->deadline_ns))
		return false;
	if (bs->interval_ns > 0) {
		struct timespec ts;

		bs->next_ns += (u64)bs->interval_ns;
		ts.tv_sec = (time_t)(bs->next_ns / 1000000000ULL);
		ts.tv_nsec = (long)(bs->next_ns % 1000000000ULL);
		/* a signal meant for a throttle sleep (a late one) may land here: sleep on */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !*stop)
			;
		if (*stop)
			return false;
	}
	/* periodic storm bursts on top of the workload (the demo's stalls) */
	if (o->burst_every > 0) {
		double t = (double)(mono_ns() - bs->start_ns) / 1e9;

		bs->wl.kind = fmod(t, o->burst_every) >= o->burst_every - o->burst_len ? WL_STORM
										    : o->workload;
	}
	n = workload_next(&bs->wl, bs->ops);
	memset(args, 0, sizeof(*args));
	args->nr_ops = n;
	args->queue_id = bs->queue_id;
	if (n == 1)
		args->op = bs->ops[0];
	else
		args->ops = (u64)(uintptr_t)bs->ops;
	bs->issued++;
	return true;
}

void bind_stream_fini(struct bind_stream *bs)
{
	free(bs->ops);
	bs->ops = NULL;
}
