/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A frame: what changed between two snapshots, per process and per VM (rates, interval
 * percentiles, stall share), plus the cumulative counters. Dashboards and daemons read
 * frames; nothing here touches the probes.
 */
#ifndef MSMVM_FRAME_H
#define MSMVM_FRAME_H

#include <json-c/json.h>

#include "msmvm/msmvm.h"

#define MSMVM_HISTORY 60	/* in_flight samples kept per VM (a minute at 1 s) */

struct msmvm_vm_row {
	uint64_t vm;
	uint32_t scope, owner_tgid;
	char comm[MSMVM_COMM_LEN];
	int64_t in_flight, peak_in_flight, drift, waiters;
	double binds_s, pages_s;
	double stall_share;		/* fraction of the interval with a thread waiting */
	const struct msmvm_stats *s;	/* cumulative, from the newer snapshot */
	int nhist;			/* samples in history, oldest first */
	int64_t history[MSMVM_HISTORY];
};

struct msmvm_proc_row {
	uint32_t tgid;
	char comm[MSMVM_COMM_LEN];
	int nvms;
	double binds_s, ops_s, pages_s, waits_s;
	int64_t in_flight;
	uint64_t wait_p50_ns, wait_p99_ns;	/* log2 bucket upper bounds, over the interval */
	uint64_t wait_max_ns;			/* cumulative */
	double overcount_pct;			/* cumulative: 100 * overcount / counted */
	uint64_t interrupted_waits, errors;	/* cumulative */
	const struct msmvm_stats *s;		/* cumulative */
};

struct msmvm_frame {
	double interval_s;
	struct msmvm_snapshot snap;	/* the newer snapshot, owned by the frame */
	int nvms, nprocs;
	struct msmvm_vm_row *vms;
	struct msmvm_proc_row *procs;
	double binds_s, pages_s;
};

/* In_flight histories, kept across frames. */
struct msmvm_history;
struct msmvm_history *msmvm_history_new(void);
void msmvm_history_free(struct msmvm_history *h);

/*
 * Build a frame from `now` (taken over: the frame owns it) and the previous snapshot.
 * Rates are over the time since `prev`; a process or VM not in `prev` appeared since, so
 * all its counts are the interval's. For the first frame (prev NULL) they are over the
 * time since since_ns (CLOCK_MONOTONIC, when counting began; 0: rates are zero).
 * Records in_flight into `hist`.
 */
int msmvm_frame_build(struct msmvm_frame *f, struct msmvm_snapshot *now,
		      const struct msmvm_snapshot *prev, uint64_t since_ns,
		      struct msmvm_history *hist);
void msmvm_frame_free(struct msmvm_frame *f);
/* A VM's id across processes: "PID:xxxxxx", owner and low 24 bits of the address. */
/*
 * A percentage as a whole number that never rounds to a bound it is not at: 99.6 % of pages
 * unused is ">99", not "100" (which would read "none used"), 0.3 % is "<1". Returns buf.
 */
const char *msmvm_frame_share(char *buf, size_t size, double pct);
const char *msmvm_vm_short_id(const struct msmvm_vm_row *r, char *buf, size_t size);
json_object *msmvm_frame_json(const struct msmvm_frame *f, const struct msmvm_plan *plan);

#endif
