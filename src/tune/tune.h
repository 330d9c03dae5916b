/* SPDX-License-Identifier: GPL-2.0 */
/*
 * msmvm-tune's engine: a recorded (or generated) VM_BIND workload replayed, as a discrete
 * event simulation, through the throttle's rule and the driver's own rules (src/driver/: the
 * count, vm_bind_count_ops; the page tables, msm_iommu.c; a job's run and free), at another
 * throttle limit.
 *
 * What is kept from the recording, per bind: the thread's think time (its previous return to
 * this call's entry), the ioctl's own time outside the throttle, and its job's service time on
 * the VM's scheduler (free minus the later of its push and the previous job's free: one job at
 * a time per VM, in push order). What is replayed: when each call passes the throttle, given
 * in_flight at that limit; hence when jobs are pushed, run and freed, and what the page tables
 * hold at each count.
 */
#ifndef MSMVM_TUNE_TUNE_H
#define MSMVM_TUNE_TUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "msmvm/workload.h"
#include "workload_gen.h"

/* Per bind, derived from the workload (tune_timing_from_workload) or given (synthetic). */
struct tune_timing {
	uint64_t think_ns;	/* previous return of the same thread to this entry; first call:
				 * its entry, from the workload's start */
	uint64_t pre_ns;	/* entry to the throttle check */
	uint64_t post_ns;	/* the throttle passed to the return (allocation, push) */
	uint64_t service_ns;	/* the job on its VM's scheduler */
	uint64_t intr_ns;	/* interrupted call: how long it slept before the signal */
	uint64_t wake_ns;	/* a call that slept: the free that woke it to its pass (its own
				 * wake-up latency, kept when it sleeps in the replay); 0: the mean */
};

/* The wake-up latency when nothing measures it: a futex wake-up on an idle core (the model). */
#define TUNE_WAKE_DEFAULT_NS 20000ULL

struct tune_timing_info {
	uint64_t wake_ns;		/* free to a woken waiter's pass: the mean over the trace */
	uint64_t service_median_ns;
	uint64_t wakes_measured;	/* waits the wake-up latency was measured on */
	uint64_t services_estimated;	/* jobs whose free the trace lacks: median used */
};

/*
 * Derive the timings of every bind of wl (timing: wl->nbinds entries). job_cost_ns > 0
 * replaces every service time with that (--job-cost USEC). 0 or -ENOMEM.
 */
int tune_timing_from_workload(const struct msmvm_workload *wl, int64_t job_cost_ns,
			      struct tune_timing *timing, struct tune_timing_info *info);

enum tune_count_rule {
	TUNE_COUNT_DRIVER,	/* the driver's worst case: the count recorded (vm_bind_count_ops) */
	TUNE_COUNT_EXACT,	/* tables the page table lacks at the count */
};

struct tune_result {
	uint32_t limit;
	enum tune_count_rule rule;
	uint64_t binds, jobs;
	uint64_t peak_pages;		/* preallocated pages in flight, all VMs together */
	double mean_pages;		/* time-weighted over the replay */
	uint64_t waits;			/* calls that slept in the throttle */
	uint64_t interrupted;
	uint64_t wait_ns_total;		/* the stall: sum of the waits */
	uint64_t wait_ns_p99;		/* over the waits */
	uint64_t wait_ns_max;
	uint64_t span_ns;		/* first entry to the last return or free */
	uint64_t pages_counted;
	uint64_t pages_used;		/* tables the jobs took when they ran */
	uint64_t count_mismatches;	/* driver rule: recount of the ops != recorded count */
	uint64_t undercounts;		/* a job ran out of preallocated pages (a bug) */
	uint64_t binds_without_ops;	/* replayed with the recorded count, no page tables */
};

/* Replay wl at `limit` with `rule`. 0, or -ENOMEM. */
int tune_replay(const struct msmvm_workload *wl, const struct tune_timing *timing,
		const struct tune_timing_info *tinfo, uint32_t limit, enum tune_count_rule rule,
		struct tune_result *out);

/*
 * The same, for many replays of one workload: what does not depend on the limit or the rule
 * (lookup_op, the driver's recount, the tables the workload can install per VM) is worked
 * out once by tune_prepare() (NULL on ENOMEM) and shared, read-only, by concurrent replays.
 * prep NULL: no shortcut, every job's ops counted and run on the page table as the driver
 * does (the same results, slower; for tests). -EINVAL: prep is another workload's.
 */
struct tune_prep;
struct tune_prep *tune_prepare(const struct msmvm_workload *wl);
void tune_prep_free(struct tune_prep *prep);
int tune_replay_prepared(const struct msmvm_workload *wl, const struct tune_timing *timing,
			 const struct tune_timing_info *tinfo, const struct tune_prep *prep,
			 uint32_t limit, enum tune_count_rule rule, struct tune_result *out);

/* A synthetic workload from the model's generators, as `msmvm-sim run` would issue it. */
struct tune_synth {
	enum workload_kind kind;
	unsigned int procs;		/* one VM and one queue thread each */
	unsigned int binds;		/* per process */
	double rate;			/* binds/s per process; 0: back to back */
	int job_cost_us;		/* -1: the model's default for the workload */
	unsigned int op_cost_us;
	uint64_t seed;
	uint64_t ioctl_ns;		/* the call's own time */
};

int tune_synth_workload(const struct tune_synth *s, struct msmvm_workload *wl,
			struct tune_timing **timing, struct tune_timing_info *info);

/*
 * 100 * part / whole with one decimal, as printed: never "100.0" unless part == whole, never
 * "0.0" unless part is 0 (">99.9", "<0.1" instead), so that 4106 pages used of millions is not
 * "100% never used". whole 0: "0.0". Returns buf.
 */
const char *tune_share(char *buf, size_t size, uint64_t part, uint64_t whole);

#endif
