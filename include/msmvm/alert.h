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
	int max_flight_files;
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
	uint32_t pid, tid;
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

/* Prometheus text exposition of a snapshot and the engine's stall figures. */
char *msmvm_prometheus_text(const struct msmvm_snapshot *s, const struct msmvm_alert_engine *e,
			    size_t *len);

#endif
