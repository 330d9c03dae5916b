// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus text exposition (format 0.0.4) of a snapshot: per-VM counters, gauges and
 * histograms, labelled vm, pid and comm; stall totals and averages; alert counts. Written
 * by hand: the format is a few lines of text, and Debian has no C client library for it.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "msmvm/alert.h"

struct buf {
	FILE *f;
	char *data;
	size_t len;
};

/* A label value with \, " and newline escaped, as the format requires. */
static void escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct vm_labels {
	uint64_t vm;
	uint32_t pid;
	const char *comm;
};

static void labels(FILE *f, const struct vm_labels *l, const char *extra_k, const char *extra_v)
{
	if (l->vm == MSMVM_VM_EXITED)	/* what forgotten processes counted (forget.c) */
		fprintf(f, "{vm=\"exited\",pid=\"%u\",comm=\"", l->pid);
	else
		fprintf(f, "{vm=\"0x%" PRIx64 "\",pid=\"%u\",comm=\"", l->vm, l->pid);
	escaped(f, l->comm);
	fputc('"', f);
	if (extra_k)
		fprintf(f, ",%s=\"%s\"", extra_k, extra_v);
	fputc('}', f);
}

static const char *comm_of(const struct msmvm_snapshot *s, uint32_t tgid)
{
	for (int i = 0; i < s->nprocs; i++)
		if (s->procs[i].tgid == tgid)
			return s->procs[i].comm;
	return "";
}

/* Cumulative buckets from log2 slots: slot i holds [2^(i-1), 2^i), so le = 2^i - 1. */
static void histogram(FILE *f, const char *name, const struct vm_labels *l,
		      const struct msmvm_hist *h, int lo, int hi, double scale, double sum)
{
	uint64_t cum = 0, total = 0;
	char le[32];

	for (int i = 0; i < MSMVM_HIST_SLOTS; i++)
		total += h->slots[i];
	for (int i = 0; i < MSMVM_HIST_SLOTS; i++) {
		cum += h->slots[i];
		if (i < lo || i > hi)
			continue;
		snprintf(le, sizeof(le), "%.9g", (double)((1ULL << i) - 1) * scale);
		fprintf(f, "%s_bucket", name);
		labels(f, l, "le", le);
		fprintf(f, " %" PRIu64 "\n", cum);
	}
	fprintf(f, "%s_bucket", name);
	labels(f, l, "le", "+Inf");
	fprintf(f, " %" PRIu64 "\n%s_sum", total, name);
	labels(f, l, NULL, NULL);
	fprintf(f, " %.9g\n%s_count", sum, name);
	labels(f, l, NULL, NULL);
	fprintf(f, " %" PRIu64 "\n", total);
}

/* One counter of the table, per VM. */
static void counter_family(FILE *f, const struct msmvm_snapshot *s, int c, const char *type)
{
	const struct msmvm_counter_desc *d = &msmvm_counter_table[c];

	family(f, d->prom, type, d->help);
	for (int i = 0; i < s->nvms; i++) {
		const struct msmvm_vm_snap *v = &s->vms[i];
		struct vm_labels l = { v->vm, v->owner_tgid, comm_of(s, v->owner_tgid) };

		fputs(d->prom, f);
		labels(f, &l, NULL, NULL);
		fprintf(f, " %" PRId64 "\n", msmvm_counter_value(&v->s.c, c));
	}
}

char *msmvm_prometheus_text(const struct msmvm_snapshot *s, const struct msmvm_alert_engine *e,
			    size_t *len)
{
	return msmvm_prometheus_text_driver(s, e, NULL, len);
}

/* The daemon's attachment to the driver's module: is it attached, how often it went away. */
static void driver_families(FILE *f, const struct msmvm_prom_driver *d)
{
	static const struct {
		const char *name, *type, *help;
	} fams[3] = {
		{ "msmvm_driver_attached", "gauge",
		  "1 while the probes are attached to the driver's module; 0 once it was unloaded, "
		  "until it is loaded again and re-attached." },
		{ "msmvm_driver_detaches_total", "counter",
		  "Unloads of the driver's module seen while attached: the counters then keep "
		  "what was counted before." },
		{ "msmvm_driver_attaches_total", "counter",
		  "Attachments to the driver's module: the first, then one per re-attach." },
	};
	const uint64_t v[3] = { d->attached, d->detaches, d->attaches };

	for (int i = 0; i < 3; i++) {
		family(f, fams[i].name, fams[i].type, fams[i].help);
		fprintf(f, "%s{module=\"", fams[i].name);
		escaped(f, d->module ? d->module : "");
		fprintf(f, "\"} %" PRIu64 "\n", v[i]);
	}
}

char *msmvm_prometheus_text_driver(const struct msmvm_snapshot *s,
				   const struct msmvm_alert_engine *e,
				   const struct msmvm_prom_driver *d, size_t *len)
{
	/*
	 * The counters' families: the totals as counters, then as gauges the level, the
	 * maxima and the drift (in_flight before its peak), the counters with a metric only.
	 */
	static const struct {
		enum msmvm_counter_kind kind;
		const char *type;
	} families[] = {
		{ MSMVM_COUNTER_TOTAL, "counter" },
		{ MSMVM_COUNTER_LEVEL, "gauge" },
		{ MSMVM_COUNTER_MAX, "gauge" },
		{ MSMVM_COUNTER_DRIFT, "gauge" },
	};
	struct msmvm_stall_info *info = NULL;
	int ninfo = e ? msmvm_alert_engine_stall(e, &info) : 0;
	char *data = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&data, &size);

	if (!f)
		return NULL;
	for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++)
		for (int c = 0; c < MSMVM_NCOUNTERS; c++)
			if (msmvm_counter_table[c].kind == families[k].kind &&
			    msmvm_counter_table[c].prom)
				counter_family(f, s, c, families[k].type);
	family(f, "msmvm_waiters", "gauge", "Threads in the throttle now.");
	for (int i = 0; i < s->nvms; i++) {
		const struct msmvm_vm_snap *v = &s->vms[i];
		struct vm_labels l = { v->vm, v->owner_tgid, comm_of(s, v->owner_tgid) };

		fputs("msmvm_waiters", f);
		labels(f, &l, NULL, NULL);
		fprintf(f, " %" PRId64 "\n", (int64_t)v->s.waiters);
	}
	family(f, "msmvm_stall_seconds_total", "counter",
	       "Time with at least one thread of the VM in the throttle (PSI 'some').");
	for (int i = 0; i < s->nvms; i++) {
		const struct msmvm_vm_snap *v = &s->vms[i];
		struct vm_labels l = { v->vm, v->owner_tgid, comm_of(s, v->owner_tgid) };

		fputs("msmvm_stall_seconds_total", f);
		labels(f, &l, NULL, NULL);
		fprintf(f, " %.9g\n", (double)v->stall_ns / 1e9);
	}
	family(f, "msmvm_stall_avg_ratio", "gauge",
	       "Share of time stalled, running average over the window (like PSI avg10/60/300).");
	for (int i = 0; i < ninfo; i++) {
		struct vm_labels l = { info[i].vm, info[i].owner_tgid, comm_of(s, info[i].owner_tgid) };
		const double avg[3] = { info[i].avg10, info[i].avg60, info[i].avg300 };
		static const char *const win[3] = { "10s", "60s", "300s" };

		if (info[i].process)
			continue;
		for (int w = 0; w < 3; w++) {
			fputs("msmvm_stall_avg_ratio", f);
			labels(f, &l, "window", win[w]);
			fprintf(f, " %.6f\n", avg[w] / 100);
		}
	}
	family(f, "msmvm_process_stall_seconds_total", "counter",
	       "Time with at least one thread of the process in the throttle (PSI 'some').");
	for (int i = 0; i < s->nprocs; i++) {
		fprintf(f, "msmvm_process_stall_seconds_total{pid=\"%u\",comm=\"", s->procs[i].tgid);
		escaped(f, s->procs[i].comm);
		fprintf(f, "\"} %.9g\n", (double)s->procs[i].stall_ns / 1e9);
	}
	family(f, "msmvm_process_stall_avg_ratio", "gauge",
	       "A process's share of time stalled, running average over the window.");
	for (int i = 0; i < ninfo; i++) {
		const double avg[3] = { info[i].avg10, info[i].avg60, info[i].avg300 };
		static const char *const win[3] = { "10s", "60s", "300s" };

		if (!info[i].process)
			continue;
		for (int w = 0; w < 3; w++) {
			fprintf(f, "msmvm_process_stall_avg_ratio{pid=\"%u\",comm=\"", info[i].owner_tgid);
			escaped(f, comm_of(s, info[i].owner_tgid));
			fprintf(f, "\",window=\"%s\"} %.6f\n", win[w], avg[w] / 100);
		}
	}
	family(f, "msmvm_wait_seconds", "histogram",
	       "Time VM_BINDs slept in the throttle (log2 buckets).");
	for (int i = 0; i < s->nvms; i++) {
		const struct msmvm_vm_snap *v = &s->vms[i];
		struct vm_labels l = { v->vm, v->owner_tgid, comm_of(s, v->owner_tgid) };

		histogram(f, "msmvm_wait_seconds", &l, &v->s.hist[MSMVM_HIST_WAIT_NS], 10, 36, 1e-9,
			  (double)v->s.c.wait_ns_total / 1e9);
	}
	family(f, "msmvm_bind_pages", "histogram",
	       "Page-table pages preallocated per VM_BIND (log2 buckets).");
	for (int i = 0; i < s->nvms; i++) {
		const struct msmvm_vm_snap *v = &s->vms[i];
		struct vm_labels l = { v->vm, v->owner_tgid, comm_of(s, v->owner_tgid) };

		histogram(f, "msmvm_bind_pages", &l, &v->s.hist[MSMVM_HIST_PAGES_PER_BIND], 0, 20, 1,
			  (double)v->s.c.pages_counted);
	}
	if (e) {
		static const char *const trig[] = { "stall", "wait-max", "wedge", "drift", "waste" };

		family(f, "msmvm_alerts_total", "counter", "Alerts fired, by trigger.");
		for (int t = 0; t < 5; t++)
			fprintf(f, "msmvm_alerts_total{trigger=\"%s\"} %" PRIu64 "\n", trig[t],
				msmvm_alert_engine_fired(e, trig[t]));
	}
	if (d)
		driver_families(f, d);
	family(f, "msmvm_map_entries", "gauge",
	       "Entries in the probes' per-VM-and-process maps (at max_entries, new processes are "
	       "not counted: msmvm_probe_health_total{counter=\"map_update_failed\"}).");
	fprintf(f, "msmvm_map_entries{map=\"usage\"} %u\n", s->usage_entries);
	fprintf(f, "msmvm_map_entries{map=\"stalls\"} %u\n", s->stalls_entries);
	family(f, "msmvm_map_max_entries", "gauge", "The capacity of those maps.");
	fprintf(f, "msmvm_map_max_entries{map=\"usage\"} %u\n", s->usage_max_entries);
	fprintf(f, "msmvm_map_max_entries{map=\"stalls\"} %u\n", s->stalls_max_entries);
	family(f, "msmvm_forgotten_processes_total", "counter",
	       "Exited processes whose series left: their counts go on in the vm=\"exited\" ones.");
	fprintf(f, "msmvm_forgotten_processes_total %" PRIu64 "\n", s->forgotten_procs);
	family(f, "msmvm_forgotten_vms_total", "counter",
	       "Their VMs, likewise.");
	fprintf(f, "msmvm_forgotten_vms_total %" PRIu64 "\n", s->forgotten_vms);
	family(f, "msmvm_probe_health_total", "counter",
	       "The probes' own misses: non-zero means some events were not counted.");
	for (int h = 0; h < MSMVM_H_COUNT_; h++)
		fprintf(f, "msmvm_probe_health_total{counter=\"%s\"} %" PRIu64 "\n",
			msmvm_health_name(h), s->health[h]);
	if (fclose(f)) {
		free(data);
		return NULL;
	}
	*len = size;
	return data;
}
