/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stall accounting (PSI-style) and alert triggers over snapshots, and the settings that
 * drive them, from command-line options or a `key = value` config file.
 */
#ifndef MSMVM_ALERT_H
#define MSMVM_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "msmvm/msmvm.h"

struct msmvm_alert_cfg {
	double stall_ms, stall_window_ms;	/* --stall STALL_MS/WINDOW_MS (0: off) */
	double wait_max_ms;			/* --wait-max MS */
	double wedge_s;				/* --wedge SECS */
	int64_t drift_pages;			/* --drift PAGES (-1: off) */
	double waste_mib, waste_window_s;	/* --waste MIB/WINDOW */
	double interval_s;			/* sampling period */
	int64_t limit;				/* the throttle's limit (pages) */
	bool json, syslog;
	char exec[1024];			/* program and arguments, split on blanks */
	double exec_timeout_s;
	char textfile[1024];
	char listen[128];			/* ADDR:PORT */
	char flight_dir[1024];
	double ring_s;
	double forget_after_s;		/* exited processes leave the maps and /metrics */
	int max_flight_files;
	bool keep_caps;				/* do not drop capabilities after attaching */
	bool no_reattach;			/* drop them all; never re-attach */
};

void msmvm_alert_cfg_defaults(struct msmvm_alert_cfg *c);
/* One setting by name (the long option's name, or the config key with '_' for '-'). */
int msmvm_alert_cfg_set(struct msmvm_alert_cfg *c, const char *key, const char *value,
			char *err, size_t errlen);
/* A config file: errors name FILE:LINE. */
int msmvm_alert_cfg_load(struct msmvm_alert_cfg *c, const char *path, char *err, size_t errlen);
bool msmvm_alert_cfg_any_trigger(const struct msmvm_alert_cfg *c);

struct msmvm_alert {
	const char *trigger;		/* "stall", "wait-max", "wedge", "drift", "waste" */
	uint64_t ts_ns;			/* CLOCK_MONOTONIC */
	uint64_t vm;
	uint32_t pid, tid;		/* tid: wait-max's thread, wedge's longest waiter; else 0 */
	char comm[MSMVM_COMM_LEN];
	double value, threshold;	/* in `unit` */
	const char *unit;
	double window_s;
	int64_t in_flight, waiters, drift;
	char text[512];			/* one line, for people */
};

/* PSI-style stall figures per VM, and per process (vm 0), kept by the engine. */
struct msmvm_stall_info {
	bool process;
	uint64_t vm;
	uint32_t scope, owner_tgid;
	uint64_t total_ns;
	double avg10, avg60, avg300;	/* percent of time with a thread waiting */
};

struct msmvm_alert_engine;
typedef void (*msmvm_alert_fn)(void *ctx, const struct msmvm_alert *a);

struct msmvm_alert_engine *msmvm_alert_engine_new(const struct msmvm_alert_cfg *cfg);
void msmvm_alert_engine_set_cfg(struct msmvm_alert_engine *e, const struct msmvm_alert_cfg *cfg);
void msmvm_alert_engine_free(struct msmvm_alert_engine *e);
/* Evaluate every trigger on a new snapshot; fn is called once per alert fired. */
int msmvm_alert_engine_tick(struct msmvm_alert_engine *e, const struct msmvm_snapshot *s,
			    msmvm_alert_fn fn, void *ctx);
int msmvm_alert_engine_stall(const struct msmvm_alert_engine *e, struct msmvm_stall_info **out);
uint64_t msmvm_alert_engine_fired(const struct msmvm_alert_engine *e, const char *trigger);

/*
 * Figures across the driver going away and coming back (msmvm-alert re-attaches to a module
 * loaded again: new maps, counting from zero). The carry holds what earlier attachments
 * counted; a view is the carry plus the live snapshot, so that exported counters never go
 * down: counter = everything before the unloads + the new attachment's count. Per VM (by
 * address and scope) and per process (by tgid), as the snapshot: a VM or process seen again
 * adds up, one of a gone module keeps its final counts. The gauges of the gone (in_flight,
 * drift, waiters) read 0: a gone module holds nothing now. At most MSMVM_CARRY_MAX VMs and
 * processes each are kept apart; beyond, the least recently active are folded into one
 * series (vm 0, pid 0, comm "(gone)"), so that sums still never go down.
 */
#define MSMVM_CARRY_MAX 4096

struct msmvm_carry;
struct msmvm_carry *msmvm_carry_new(void);
void msmvm_carry_free(struct msmvm_carry *c);
/* Take in the last snapshot of an attachment that ended (its maps read after the unload). */
int msmvm_carry_fold(struct msmvm_carry *c, const struct msmvm_snapshot *final);
bool msmvm_carry_empty(const struct msmvm_carry *c);
uint64_t msmvm_carry_folds(const struct msmvm_carry *c);	/* attachments folded in */
/*
 * Into out (free with msmvm_snapshot_free): the carry plus `live` (NULL while detached:
 * the carry alone, at time ts_ns). Live waits and the open stall period come from live.
 */
int msmvm_carry_view(const struct msmvm_carry *c, const struct msmvm_snapshot *live,
		     uint64_t ts_ns, struct msmvm_snapshot *out);

/* Prometheus text exposition of a snapshot and the engine's stall figures. */
char *msmvm_prometheus_text(const struct msmvm_snapshot *s, const struct msmvm_alert_engine *e,
			    size_t *len);

/* The daemon's view of the driver, exported with the metrics when given. */
struct msmvm_prom_driver {
	const char *module;
	bool attached;			/* msmvm_driver_attached */
	uint64_t detaches;		/* msmvm_driver_detaches_total: unloads seen */
	uint64_t attaches;		/* msmvm_driver_attaches_total: start-up and re-attaches */
};
char *msmvm_prometheus_text_driver(const struct msmvm_snapshot *s,
				   const struct msmvm_alert_engine *e,
				   const struct msmvm_prom_driver *d, size_t *len);

#endif
