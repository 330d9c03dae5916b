// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-stat: counters and log2 histograms of the msm VM_BIND page-table preallocation
 * and its throttle, per interval and in total.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "msmvm/cli.h"
#include "msmvm/command.h"
#include "version.h"
#include "msmvm/driver_watch.h"
#include "msmvm/msmvm.h"
#include "msmvm/numbers.h"
#include "msmvm/report.h"
#include "msmvm/trace.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static struct env {
	struct msmvm_opts o;
	bool per_process;
	bool json;
	double duration;	/* seconds, 0: until Ctrl-C (or count intervals) */
	double interval;	/* seconds, 0: only the final report */
	long count;		/* intervals, 0: unlimited */
	const char *replay;	/* a trace to recount instead of probing */
	unsigned int replay_flags;	/* MSMVM_TRACE_READ_IGNORE_DAMAGE */
} env = { .o = { .target = MSMVM_TARGET_KERNEL } };

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

const char *argp_program_version = "msmvm-stat " MSMVM_VERSION;
const char *argp_program_bug_address = "the msmvm issue tracker";
static const char doc[] =
	"Summarize the msm driver's VM_BIND page-table preallocation and its throttle.\n"
	"\n"
	"Counts VM_BINDs, pages preallocated (counted) and really used, throttle waits and "
	"their latency, interrupted waits and accounting drift, per VM and per process, "
	"aggregated in the kernel. Prints per INTERVAL seconds (COUNT times) and a total at "
	"the end (also on Ctrl-C, SIGTERM, SIGHUP, SIGUSR1 or SIGPIPE).\n"
	"\n"
	"USAGE: msmvm-stat [OPTION...] [INTERVAL [COUNT]] [-- CMD [ARG...]]\n"
	"\n"
	"EXAMPLES:\n"
	"    sudo msmvm-stat                 # until Ctrl-C, then totals and histograms\n"
	"    sudo msmvm-stat 1 10            # every second, ten times\n"
	"    sudo msmvm-stat -P -p 1234      # one process, per-process table\n"
	"    sudo msmvm-stat --sim -d 5 --json   # the msmvm-sim model, 5 s, JSON\n"
	"    xz -dk tests/fixtures/btf/debian-7.2.13-arm64.btf.xz\n"
	"    msmvm-stat --dry-run --btf tests/fixtures/btf/debian-7.2.13-arm64.btf\n"
	"                                    # verify the probes against another kernel\n"
	"    msmvm-stat --replay vmbind.perfetto-trace --json\n"
	"                                    # the same report from an msmvm-trace file\n"
	"\n"
	"Counters (named as in msmvm-sim's summary): binds, ops, errors, pages_counted, "
	"pages_used, pages_overcount, waits, interrupted_waits, wait_ns_total, wait_ns_max, "
	"peak_in_flight, in_flight, drift. Percentiles come from log2 histograms: a p99 of "
	"'<= 2^k' means the bucket's upper bound.\n"
	"\n"
	"The interval lines come under a legend line ('#'): rates over the interval, "
	"then in_flight and drift summed over all VMs, and peak/VM, the highest "
	"in_flight one VM reached. JSON intervals carry time (wall clock), elapsed_s "
	"(monotonic), deltas and gauges apart, and with -P each process and VM "
	"(docs/msmvm-stat.md has the schema).\n"
	"\n"
	"When the driver's module is unloaded (rmmod) while msmvm-stat runs, it says so on "
	"stderr (\"driver module NAME was unloaded; stopping\") and ends as on Ctrl-C: the "
	"final report (text or --json) holds everything counted up to the unload.\n"
	"\n"
	"--replay verifies the trace's checksums: a damaged byte range is said (\"FILE: "
	"bytes A..B are damaged\") and fails the replay, unless --ignore-damage is given.\n"
	"\n"
	MSMVM_CLI_COMMAND_DOC
	"With --json, the final object holds the command's argv, pid, exit_status "
	"and signal (under \"command\").\n"
	"\n"
	"Exit status: 0 success, the driver's unload included (the counts are "
	"complete), and a reader of stdout that went away (| head: nothing said); "
	"1 runtime error (no driver, no BTF, missing capability, load or attach "
	"failure, stdout not writable, a damaged trace); 2 bad usage.\n"
	"\n"
	"OPTIONS:";

enum {
	OPT_DRY_RUN = 0x100, OPT_BTF, OPT_ARCH, OPT_REPLAY, OPT_IGNORE_DAMAGE,
};

static const struct argp_option opts[] = {
	{ "per-process", 'P', NULL, 0, "A table per process (and VM) each interval", 0 },
	{ "json", 'j', NULL, 0, "JSON objects, one per line: per interval and final", 0 },
	{ "duration", 'd', "SECS", 0, "Stop after SECS seconds", 0 },
	{ "dry-run", OPT_DRY_RUN, NULL, 0,
	  "Resolve CO-RE and load every program into the verifier, print the plan and the "
	  "relocated offsets, do not attach", 0 },
	{ "btf", OPT_BTF, "FILE", 0,
	  "With --dry-run: one BTF file (vmlinux and msm types merged) of another kernel", 0 },
	{ "arch", OPT_ARCH, "arm64|x86", 0,
	  "With --dry-run: the kernel's architecture (default: the BTF's own)", 0 },
	{ "replay", OPT_REPLAY, "FILE", 0,
	  "Print the final report (text, --json, -P, -p) from a trace msmvm-trace wrote, "
	  "counted as the probes count live; needs no privileges", 0 },
	{ "ignore-damage", OPT_IGNORE_DAMAGE, NULL, 0,
	  "With --replay: read on past byte ranges whose checksum does not match (a warning "
	  "each; their counts may be wrong) instead of failing", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static int parse_secs(const char *s, double *out)
{
	return msmvm_parse_decimal(s, 0.001, 1e7, out);
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	static int pos;
	uint64_t v;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case 'P':
		env.per_process = true;
		break;
	case 'j':
		env.json = true;
		break;
	case 'd':
		if (parse_secs(arg, &env.duration))
			argp_error(state, "invalid duration '%s' (seconds: a decimal number from "
					  "0.001 to 10000000)", arg);
		break;
	case OPT_DRY_RUN:
		env.o.dry_run = true;
		break;
	case OPT_BTF:
		env.o.btf_path = arg;
		break;
	case OPT_ARCH:
		if (strcmp(arg, "arm64") && strcmp(arg, "x86"))
			argp_error(state, "invalid --arch '%s' (arm64 or x86)", arg);
		env.o.arch = arg;
		break;
	case OPT_REPLAY:
		env.replay = arg;
		break;
	case OPT_IGNORE_DAMAGE:
		env.replay_flags |= MSMVM_TRACE_READ_IGNORE_DAMAGE;
		break;
	case ARGP_KEY_ARG:
		if (msmvm_cli_command_arg(state))
			return ARGP_ERR_UNKNOWN;	/* the command's (cli.c) */
		if (pos == 0) {
			if (parse_secs(arg, &env.interval))
				argp_error(state, "invalid interval '%s' (seconds: a decimal number "
						  "from 0.001 to 10000000)", arg);
		} else if (pos == 1) {
			if (msmvm_parse_uint(arg, 1, INT_MAX, &v))
				argp_error(state, "invalid count '%s' (a whole number from 1 to %d)",
					   arg, INT_MAX);
			env.count = (long)v;
		} else {
			argp_error(state, "unexpected argument '%s'", arg);
		}
		pos++;
		break;
	case ARGP_KEY_END:
		if (env.o.btf_path && !env.o.dry_run)
			argp_error(state, "--btf only goes with --dry-run (the running kernel's BTF "
					  "is used otherwise)");
		if (env.o.arch && !env.o.dry_run)
			argp_error(state, "--arch only goes with --dry-run");
		if (env.o.btf_path && env.o.target == MSMVM_TARGET_SIM)
			argp_error(state, "--btf and --sim do not go together");
		if (env.replay && (env.o.target == MSMVM_TARGET_SIM || env.o.dry_run ||
				   env.o.hooks != MSMVM_HOOKS_AUTO || env.o.attach != MSMVM_ATTACH_AUTO ||
				   env.duration || env.interval))
			argp_error(state, "--replay reads a trace: no --sim, --dry-run, --hooks, "
					  "--attach, -d or INTERVAL with it");
		if (env.replay_flags && !env.replay)
			argp_error(state, "--ignore-damage only goes with --replay");
		if (msmvm_cli_command() && (env.replay || env.o.dry_run))
			argp_error(state, "a command (-c or --) is run and watched live: not with "
					  "--replay or --dry-run");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static void print_plan_text(const struct msmvm_plan *p, FILE *f)
{
	fprintf(f, "target: %s (%s)\nplan:   %s\n", p->target, p->arch, p->reason);
	if (p->attach_reason[0])
		fprintf(f, "attach: %s\n", p->attach_reason);
	for (int i = 0; i < p->nprobes; i++)
		fprintf(f, "  %-30s %-38s %s\n", p->probes[i].program, p->probes[i].function,
			p->probes[i].attach ? p->probes[i].attach
			: p->probes[i].retprobe ? "(return)" : "");
}

static json_object *plan_json(const struct msmvm_plan *p)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "target", json_object_new_string(p->target));
	json_object_object_add(o, "arch", json_object_new_string(p->arch));
	json_object_object_add(o, "kind", json_object_new_string(p->kind == MSMVM_PLAN_DIRECT
									 ? "direct" : "fallback"));
	json_object_object_add(o, "reason", json_object_new_string(p->reason));
	if (p->attach)
		json_object_object_add(o, "attach", json_object_new_string(p->attach));
	json_object_object_add(o, "attach_reason", json_object_new_string(p->attach_reason));
	for (int i = 0; i < p->nprobes; i++) {
		json_object *h = json_object_new_object();

		json_object_object_add(h, "program", json_object_new_string(p->probes[i].program));
		json_object_object_add(h, "function", json_object_new_string(p->probes[i].function));
		json_object_object_add(h, "return", json_object_new_boolean(p->probes[i].retprobe));
		if (p->probes[i].attach)
			json_object_object_add(h, "attach",
					       json_object_new_string(p->probes[i].attach));
		json_object_array_add(a, h);
	}
	json_object_object_add(o, "probes", a);
	return o;
}

static int dry_run(struct msmvm *m)
{
	struct msmvm_layout l;
	struct msmvm_err err;
	const struct msmvm_plan *p = msmvm_get_plan(m);

	if (msmvm_get_layout(m, &l, &err)) {
		fprintf(stderr, "msmvm-stat: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	if (env.json) {
		json_object *o = json_object_new_object(), *lo = json_object_new_object();

#define LAYOUT(f) json_object_object_add(lo, #f, json_object_new_int64(l.f))
		LAYOUT(drm_file_driver_priv);
		LAYOUT(msm_context_vm);
		LAYOUT(msm_gem_vm_prealloc_throttle);
		LAYOUT(msm_gem_vm_in_flight);
		LAYOUT(msm_vm_bind_job_vm);
		LAYOUT(msm_vm_bind_job_prealloc);
		LAYOUT(msm_vm_bind_job_nr_ops);
		LAYOUT(msm_mmu_prealloc_count);
		LAYOUT(msm_mmu_prealloc_ptr);
		LAYOUT(task_struct_nvcsw);
#undef LAYOUT
		json_object_object_add(o, "type", json_object_new_string("dry-run"));
		json_object_object_add(o, "verified", json_object_new_boolean(1));
		json_object_object_add(o, "plan", plan_json(p));
		json_object_object_add(o, "layout", lo);
		print_json(o);
	} else {
		print_plan_text(p, stdout);
		printf("verified: all %d programs loaded into the verifier\n", p->nprobes);
		printf("relocated offsets (bytes):\n"
		       "  drm_file.driver_priv                       %" PRId64 "\n"
		       "  msm_context.vm                             %" PRId64 "\n"
		       "  msm_gem_vm.prealloc_throttle               %" PRId64 "\n"
		       "  msm_gem_vm.prealloc_throttle.in_flight     %" PRId64 "\n"
		       "  msm_vm_bind_job.vm / .prealloc / .nr_ops   %" PRId64 " / %" PRId64 " / %" PRId64 "\n"
		       "  msm_mmu_prealloc.count / .ptr              %" PRId64 " / %" PRId64 "\n"
		       "  task_struct.nvcsw                          %" PRId64 "\n",
		       l.drm_file_driver_priv, l.msm_context_vm, l.msm_gem_vm_prealloc_throttle,
		       l.msm_gem_vm_in_flight, l.msm_vm_bind_job_vm, l.msm_vm_bind_job_prealloc,
		       l.msm_vm_bind_job_nr_ops, l.msm_mmu_prealloc_count, l.msm_mmu_prealloc_ptr,
		       l.task_struct_nvcsw);
	}
	return 0;
}

static void print_proc_table(const struct msmvm_snapshot *s)
{
	printf("  %-8s %-16s %8s %9s %8s %7s %6s %10s %6s\n", "PID", "COMM", "BINDS",
	       "PAGES", "USED", "WAITS", "INTR", "WAIT_P99", "DRIFT");
	for (int i = 0; i < s->nprocs; i++) {
		const struct msmvm_proc_snap *p = &s->procs[i];

		printf("  %-8u %-16s %8" PRIu64 " %9" PRIu64 " %8" PRIu64 " %7" PRIu64
		       " %6" PRIu64 " %8.2fms %+6" PRId64 "\n",
		       p->tgid, p->comm, (uint64_t)p->s.c.binds, (uint64_t)p->s.c.pages_counted,
		       (uint64_t)p->s.c.pages_used, (uint64_t)p->s.c.waits,
		       (uint64_t)p->s.c.interrupted_waits,
		       msmvm_hist_percentile(&p->s.hist[MSMVM_HIST_WAIT_NS], 0.99) / 1e6,
		       (int64_t)p->s.c.drift);
	}
}

/* Said once above the interval lines, as vmstat's header: what each number is. */
static void print_interval_legend(void)
{
	printf("# per second over the interval: binds/s (VM_BIND calls), ops/s, pages/s "
	       "(preallocated), used/s (pages jobs used), waits/s (calls that slept in the "
	       "throttle), wait ms/s (time slept, all threads); at the interval's end: in_flight "
	       "(pages, summed over all VMs), peak/VM (the highest in_flight one VM reached "
	       "since the start), drift (pages, summed over all VMs)\n");
}

static void print_interval_text(const struct msmvm_snapshot *s, const struct msmvm_counters *d,
				double secs)
{
	char tbuf[16];
	time_t t = time(NULL);

	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&t));
	printf("%-8s binds/s %8.0f  ops/s %9.0f  pages/s %9.0f  used/s %7.0f  waits/s %6.0f  "
	       "wait %7.2f ms/s  in_flight %6" PRId64 " (all VMs)  peak/VM %6" PRId64
	       "  drift %+" PRId64 " (all VMs)\n",
	       tbuf, (double)d->binds / secs, (double)d->ops / secs,
	       (double)d->pages_counted / secs, (double)d->pages_used / secs,
	       (double)d->waits / secs, (double)d->wait_ns_total / 1e6 / secs, (int64_t)s->totals.c.in_flight,
	       (int64_t)s->totals.c.peak_in_flight, (int64_t)s->totals.c.drift);
	if (env.per_process)
		print_proc_table(s);
	fflush(stdout);
}

/* "time": the wall clock (CLOCK_REALTIME) in RFC 3339, UTC, to the millisecond */
static void add_time(json_object *o)
{
	struct timespec now;
	char tbuf[40], t[64];

	clock_gettime(CLOCK_REALTIME, &now);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", gmtime(&now.tv_sec));
	snprintf(t, sizeof(t), "%s.%03ldZ", tbuf, now.tv_nsec / 1000000);
	json_object_object_add(o, "time", json_object_new_string(t));
}

static const struct msmvm_proc_snap *find_proc(const struct msmvm_snapshot *s, uint32_t tgid)
{
	for (int i = 0; s && i < s->nprocs; i++)
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	return NULL;
}

static const struct msmvm_vm_snap *find_vm(const struct msmvm_snapshot *s,
					   const struct msmvm_vm_snap *v)
{
	for (int i = 0; s && i < s->nvms; i++)
		if (s->vms[i].vm == v->vm && s->vms[i].scope == v->scope)
			return &s->vms[i];
	return NULL;
}

/* -P: each process's and VM's deltas (against prev, the last interval's snapshot) and gauges */
static json_object *interval_procs_json(const struct msmvm_snapshot *s,
					const struct msmvm_snapshot *prev)
{
	static const struct msmvm_counters zero;
	json_object *procs = json_object_new_array();

	for (int i = 0; i < s->nprocs; i++) {
		const struct msmvm_proc_snap *p = &s->procs[i], *pp = find_proc(prev, p->tgid);
		json_object *po = json_object_new_object(), *vms = json_object_new_array();

		json_object_object_add(po, "pid", json_object_new_int64(p->tgid));
		json_object_object_add(po, "comm", json_object_new_string(p->comm));
		msmvm_interval_json(po, &p->s.c, pp ? &pp->s.c : &zero);
		for (int j = 0; j < p->nvms; j++) {
			const struct msmvm_vm_snap *v = &s->vms[p->vm_index[j]], *pv = find_vm(prev, v);
			json_object *vo = json_object_new_object();
			char addr[32];

			msmvm_vm_name(v->vm, addr, sizeof(addr));
			json_object_object_add(vo, "addr", json_object_new_string(addr));
			msmvm_interval_json(vo, &v->s.c, pv ? &pv->s.c : &zero);
			json_object_array_add(vms, vo);
		}
		json_object_object_add(po, "vms", vms);
		json_object_array_add(procs, po);
	}
	return procs;
}

static json_object *final_json(const struct msmvm_snapshot *s, const struct msmvm_plan *plan,
			       double secs)
{
	json_object *o = json_object_new_object(), *procs = json_object_new_array();
	json_object *h = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("final"));
	/* a replay's report is the file's: the same whenever it is made */
	if (env.replay)
		json_object_object_add(o, "time", NULL);
	else
		add_time(o);
	json_object_object_add(o, "duration_s", json_object_new_double(secs));
	json_object_object_add(o, "plan", plan_json(plan));
	json_object_object_add(o, "totals", msmvm_counters_json(&s->totals.c));
	for (int i = 0; i < MSMVM_HIST_COUNT_; i++)
		json_object_object_add(h, msmvm_hist_name(i), msmvm_hist_json(&s->totals.hist[i]));
	json_object_object_add(o, "histograms", h);
	for (int i = 0; i < s->nprocs; i++) {
		const struct msmvm_proc_snap *p = &s->procs[i];
		json_object *po = json_object_new_object(), *vms = json_object_new_array();

		json_object_object_add(po, "pid", json_object_new_int64(p->tgid));
		json_object_object_add(po, "comm", json_object_new_string(p->comm));
		json_object_object_add(po, "totals", msmvm_counters_json(&p->s.c));
		for (int j = 0; j < p->nvms; j++) {
			const struct msmvm_vm_snap *v = &s->vms[p->vm_index[j]];
			json_object *vo = msmvm_stats_json(&v->s);
			char addr[32];

			msmvm_vm_name(v->vm, addr, sizeof(addr));
			json_object_object_add(vo, "addr", json_object_new_string(addr));
			json_object_array_add(vms, vo);
		}
		json_object_object_add(po, "vms", vms);
		json_object_array_add(procs, po);
	}
	json_object_object_add(o, "processes", procs);
	json_object_object_add(o, "health", msmvm_health_json(s->health));
	json_object_object_add(o, "replay", NULL);	/* --replay: what was read of the file */
	if (msmvm_cli_command())
		json_object_object_add(o, "command", msmvm_command_json(msmvm_cli_command()));
	return o;
}

static void print_final_text(const struct msmvm_snapshot *s, double secs)
{
	static const char *const units[MSMVM_HIST_COUNT_] = {
		"nsecs", "nsecs", "pages", "pages", "percent",
	};

	printf("\nTotals over %.1f s:\n", secs);
	for (int i = 0; i < MSMVM_NCOUNTERS; i++)
		printf("  %-18s %" PRId64 "\n", msmvm_counter_table[i].name,
		       msmvm_counter_value(&s->totals.c, i));
	for (int h = 0; h < MSMVM_HIST_COUNT_; h++) {
		printf("\n%s:\n", msmvm_hist_name(h));
		msmvm_print_hist(stdout, &s->totals.hist[h], units[h]);
	}
	if (s->health[MSMVM_H_THREAD_STATE_MISSING] || s->health[MSMVM_H_JOB_STATE_MISSING] ||
	    s->health[MSMVM_H_MAP_UPDATE_FAILED] || s->health[MSMVM_H_RINGBUF_DROPS]) {
		printf("\nprobe health (non-zero means some events were not counted):\n");
		for (int i = 0; i < MSMVM_H_COUNT_; i++)
			printf("  %-22s %" PRIu64 "\n", msmvm_health_name(i), s->health[i]);
	}
}

/* The final report, from a trace instead of the probes. */
static int replay(void)
{
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	struct stat sb;

	if (msmvm_trace_replay_ex(env.replay, env.o.filter_pid, env.replay_flags, &snap, &info,
				  &err)) {
		fprintf(stderr, "msmvm-stat: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	for (uint64_t i = 0; i < info.damaged && i < MSMVM_TRACE_DAMAGE_MAX; i++)
		fprintf(stderr, "msmvm-stat: warning: %s: bytes %" PRIu64 "..%" PRIu64 " are damaged "
				"(%s): read on (--ignore-damage), counts may be wrong\n", env.replay,
			info.damage[i].from, info.damage[i].to - 1, info.damage[i].why);
	if (info.damaged > MSMVM_TRACE_DAMAGE_MAX)
		fprintf(stderr, "msmvm-stat: warning: %s: %" PRIu64 " damaged ranges in all\n",
			env.replay, info.damaged);
	if (!info.checksummed)
		fprintf(stderr, "msmvm-stat: note: %s has no checksums (written before msmvm-trace "
				"had them): damage in it cannot be found\n", env.replay);
	if (info.truncated)
		fprintf(stderr, "msmvm-stat: %s ends inside a packet (its recorder was stopped "
				"hard): read up to its last whole packet\n", env.replay);
	else if (!info.finished)
		fprintf(stderr, "msmvm-stat: %s has no final stats: its recorder did not close "
				"it\n", env.replay);
	if (info.dropped)
		fprintf(stderr, "msmvm-stat: warning: %" PRIu64 " events were lost while "
				"recording: counts are incomplete\n", info.dropped);
	if (stat(env.replay, &sb))
		sb.st_size = (off_t)info.bytes;
	if (env.json) {
		json_object *o = final_json(&snap, &info.plan, info.duration_s);
		json_object *r = json_object_new_object();

		json_object_object_add(r, "bytes", json_object_new_uint64((uint64_t)sb.st_size));
		json_object_object_add(r, "bytes_read", json_object_new_uint64(info.bytes));
		json_object_object_add(r, "truncated", json_object_new_boolean(info.truncated));
		json_object_object_add(r, "finished", json_object_new_boolean(info.finished));
		json_object_object_add(r, "checksummed", json_object_new_boolean(info.checksummed));
		json_object_object_add(r, "unverified_bytes", json_object_new_uint64(info.unverified));
		json_object_object_add(r, "damaged_ranges", json_object_new_uint64(info.damaged));
		json_object_object_add(r, "dropped_events", json_object_new_uint64(info.dropped));
		json_object_object_add(o, "replay", r);
		print_json(o);
	} else {
		if (env.per_process) {
			printf("From %s (%s):\n", env.replay, info.plan.target);
			print_proc_table(&snap);
		}
		print_final_text(&snap, info.duration_s);
		/* said on stdout too: a report read alone must not pass for a whole recording */
		if (info.truncated)
			printf("\nreplay: %s is truncated: read %" PRIu64 " of its %" PRIu64 " bytes "
			       "(up to its last whole packet); the counts stop there\n", env.replay,
			       info.bytes, (uint64_t)sb.st_size);
		else if (!info.finished)
			printf("\nreplay: %s has no final stats (its recorder did not close it): "
			       "read %" PRIu64 " of its %" PRIu64 " bytes\n", env.replay, info.bytes,
			       (uint64_t)sb.st_size);
		if (info.dropped)
			printf("replay: %" PRIu64 " events were lost while recording: counts are "
			       "incomplete\n", info.dropped);
	}
	msmvm_snapshot_free(&snap);
	return 0;
}

static const struct argp_child argp_children[] = {
	{ &msmvm_target_argp, 0, "Target:", 1 },
	{},
};

int main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					    .children = argp_children };
	struct msmvm_counters prev = { 0 };
	struct msmvm_driver_watch watch;
	struct msmvm_snapshot snap;
	struct msmvm *m = NULL;
	struct msmvm_err err;
	uint64_t t_open, t_start, t_next, t_end = 0;
	struct msmvm_snapshot prev_snap;
	bool have_prev = false, legend_said = false;
	long intervals = 0;
	int ret;

	argp_err_exit_status = EXIT_USAGE;
	msmvm_cli_bind(&env.o);
	ret = argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (ret)
		return EXIT_USAGE;
	/* until the probes run: a reader gone is EPIPE, said by msmvm_cli_stdout_end() */
	signal(SIGPIPE, SIG_IGN);
	if (env.replay) {
		ret = replay();
		return ret ? ret : msmvm_cli_stdout_end("msmvm-stat");
	}

	if (msmvm_cli_command_prepare("msmvm-stat"))
		return EXIT_RUNTIME;
	t_open = msmvm_now_ns();
	if (msmvm_open(&env.o, &m, &err) || msmvm_load(m, &err)) {
		fprintf(stderr, "msmvm-stat: %s\n", err.msg);
		msmvm_close(m);
		return err.kind == MSMVM_E_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (env.o.dry_run) {
		ret = dry_run(m);
		msmvm_close(m);
		return ret ? ret : msmvm_cli_stdout_end("msmvm-stat");
	}
	if (msmvm_attach(m, &err)) {
		fprintf(stderr, "msmvm-stat: %s\n", err.msg);
		msmvm_close(m);
		return EXIT_RUNTIME;
	}
	msmvm_driver_watch_start(&watch, m);	/* gone already: the first poll says so */
	msmvm_cli_catch_signals(on_signal);
	if (msmvm_cli_command_start(m, "msmvm-stat")) {
		msmvm_close(m);
		return EXIT_RUNTIME;
	}

	t_start = msmvm_now_ns();
	fprintf(stderr, "msmvm-stat: attached %d probes to %s (%s) in %.1f ms; Ctrl-C to end.\n",
		msmvm_get_plan(m)->nprobes, msmvm_get_plan(m)->target,
		msmvm_get_plan(m)->kind == MSMVM_PLAN_DIRECT ? "direct" : "fallback",
		(double)(t_start - t_open) / 1e6);
	if (env.duration)
		t_end = t_start + (uint64_t)(env.duration * 1e9);
	t_next = env.interval ? t_start + (uint64_t)(env.interval * 1e9) : 0;

	while (msmvm_cli_go_on("msmvm-stat", exiting)) {
		uint64_t now = msmvm_now_ns();
		struct timespec nap = { 0, 50 * 1000000 };

		if (t_end && now >= t_end)
			break;
		/* rmmod: the probes see nothing more; what they counted is final */
		if (msmvm_driver_watch_poll(&watch) == MSMVM_DRIVER_UNLOADED) {
			fprintf(stderr, "msmvm-stat: driver module %s was unloaded; stopping (the "
					"report holds every count up to the unload)\n",
				msmvm_driver_watch_module(&watch));
			break;
		}
		if (t_next && now >= t_next) {
			struct msmvm_counters d;
			double secs = env.interval;

			if (msmvm_snapshot(m, &snap, &err)) {
				fprintf(stderr, "msmvm-stat: %s\n", err.msg);
				break;
			}
			msmvm_counters_delta(&d, &snap.totals.c, &prev);
			if (env.json) {
				json_object *o = json_object_new_object();
				char el[32];

				json_object_object_add(o, "type", json_object_new_string("interval"));
				add_time(o);
				snprintf(el, sizeof(el), "%.3f", (double)(now - t_start) / 1e9);
				json_object_object_add(o, "elapsed_s", json_object_new_double_s(
					(double)(now - t_start) / 1e9, el));
				json_object_object_add(o, "interval_s", json_object_new_double(secs));
				msmvm_interval_json(o, &snap.totals.c, &prev);
				if (env.per_process)
					json_object_object_add(o, "processes", interval_procs_json(
						&snap, have_prev ? &prev_snap : NULL));
				print_json(o);
			} else {
				if (!legend_said)
					print_interval_legend();
				legend_said = true;
				print_interval_text(&snap, &d, secs);
			}
			prev = snap.totals.c;
			/* kept for -P's per-process deltas in the next interval */
			if (have_prev)
				msmvm_snapshot_free(&prev_snap);
			prev_snap = snap;
			have_prev = true;
			t_next += (uint64_t)(env.interval * 1e9);
			if (env.count && ++intervals >= env.count)
				break;
		}
		nanosleep(&nap, NULL);
	}

	if (have_prev)
		msmvm_snapshot_free(&prev_snap);
	/*
	 * Final report: Ctrl-C, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE (a reader gone: then it is
	 * not seen, and no error), duration, count, the driver's unload or the command's
	 * exit all end here; a command still running is stopped and waited for first.
	 */
	msmvm_cli_command_end("msmvm-stat");
	ret = 0;
	if (msmvm_snapshot(m, &snap, &err)) {
		fprintf(stderr, "msmvm-stat: %s\n", err.msg);
		ret = EXIT_RUNTIME;
	} else {
		double secs = (double)(msmvm_now_ns() - t_start) / 1e9;
		char hint[512];

		if (env.json)
			print_json(final_json(&snap, msmvm_get_plan(m), secs));
		else
			print_final_text(&snap, secs);
		if (snap.health[MSMVM_H_MAP_UPDATE_FAILED] || snap.health[MSMVM_H_RINGBUF_DROPS])
			fprintf(stderr, "msmvm-stat: warning: %" PRIu64 " map updates failed, %" PRIu64
					" events dropped: counts are incomplete\n",
				snap.health[MSMVM_H_MAP_UPDATE_FAILED],
				snap.health[MSMVM_H_RINGBUF_DROPS]);
		/* zeros from no model at all: say so (unless the reader is gone: | head) */
		if (!msmvm_sim_seen(m, &snap) && !msmvm_cli_stdout_reader_gone())
			fprintf(stderr, "msmvm-stat: %s\n", msmvm_sim_hint(m, false, hint, sizeof(hint)));
		msmvm_snapshot_free(&snap);
	}
	msmvm_close(m);
	if (msmvm_cli_stdout_end("msmvm-stat") && !ret)
		ret = EXIT_RUNTIME;
	return ret;
}
