/* SPDX-License-Identifier: GPL-2.0 */
/*
 * msmvm-sim run: the options and per-process results both runs share (the model's in
 * sim_main.c, the kernel twin's in kernel_run.c), and the summary JSON they both print
 * (summary.c): one shape, whichever driver produced the figures.
 */
#ifndef MSMVM_SIM_RUN_H
#define MSMVM_SIM_RUN_H

#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "msm_drv.h"
#include "workload_gen.h"

#define MAX_PROCS 64
#define MAX_VMS 16

#define EXIT_USAGE 2

struct sim_opts {
	enum workload_kind workload;
	unsigned int procs, vms, queues;
	double rate;		/* binds/s per process, 0 = as fast as possible */
	double duration;	/* seconds, 0 = use binds */
	u64 binds;		/* per process */
	int job_cost_us;	/* -1 = the workload's default */
	u64 seed;
	const char *summary_path;
	const char *log_path;
	double wedge_timeout;
	double burst_every;	/* seconds between storm bursts, 0 = none */
	double burst_len;	/* seconds each burst lasts */
	const char *comm;	/* process name prefix (default: the workload's) */
	double sched_hang_after;	/* seconds, 0 = never */
	bool kernel;		/* --kernel: real ioctls on the msm_kmodel twin */
	const char *kmodel_path;	/* --kmodel: the .ko to insmod if it is not loaded */
};

/* Filled by each workload process in shared memory, read by the parent. */
struct vm_result {
	struct msm_vm_truth truth;
	int in_flight;
	bool wedged;
	u64 addr;	/* the msm_gem_vm's address (in its process, or the kernel's): what a probe sees */
	u64 tables;
	u64 serial;	/* --kernel: the VM's serial in the twin's debugfs "vms" */
};

struct proc_result {
	pid_t pid;
	char comm[16];
	unsigned int nvms;
	bool done;
	bool log_failed;	/* --log: a write failed or was short; the process stopped logging */
	int log_errno;		/* ... its errno; 0: a short write, log_written of log_len bytes */
	u32 log_written, log_len;
	u64 run_delay_ns;	/* of its queue threads: see thread_run_delay_ns() */
	struct vm_result vm[MAX_VMS];
};

/*
 * In a workload process just forked from `parent`: the parent's death sends it SIGTERM, the
 * stop the parent would have forwarded (it stops binding, drains its jobs and exits: nothing
 * else of it outlives it, its memory, shared results and files go with it), so that a
 * SIGKILLed msmvm-sim run leaves no process binding on. false: the parent is gone already
 * (it died before prctl, and no signal will come), or prctl failed: the caller exits.
 */
static inline bool sim_follow_parent(pid_t parent)
{
	return !prctl(PR_SET_PDEATHSIG, SIGTERM) && getppid() == parent;
}

/* summary.c */
json_object *sim_summary_json(unsigned int limit, enum workload_kind workload, u64 seed,
			      const struct proc_result *res, unsigned int nprocs);
int sim_summary_write(FILE *f, const char *path, json_object *root);
u64 thread_run_delay_ns(void);

#endif
