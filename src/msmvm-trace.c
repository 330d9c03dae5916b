// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-trace: record the msm VM_BIND path to a Perfetto trace (or Chrome JSON), live or
 * as a flight recorder that keeps the last seconds and writes them on demand.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msmvm/cli.h"
#include "msmvm/numbers.h"
#include "version.h"
#include "msmvm/driver_watch.h"
#include "msmvm/msmvm.h"
#include "msmvm/trace.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static struct env {
	struct msmvm_opts o;
	const char *output;
	double duration;	/* seconds, 0: until Ctrl-C */
	double ring;		/* flight recorder window, seconds; 0: record everything */
	uint64_t max_bytes;
	enum msmvm_trace_format format;
	bool no_ops;
	int compress;		/* 1 --compress, 0 --no-compress, -1 neither: without the ops */
} env = { .o = { .target = MSMVM_TARGET_KERNEL, .events = true, .throttle_limit = 1024 },
	  .no_ops = false, .compress = -1 };

static volatile sig_atomic_t exiting, dump_requested;

static void on_signal(int sig)
{
	/* SIGUSR1 is the flight recorder's "write now"; without --ring it ends, as the rest */
	if (sig == SIGUSR1 && env.ring)
		dump_requested++;
	else
		exiting = 1;
}

const char *argp_program_version = "msmvm-trace " MSMVM_VERSION;
const char *argp_program_bug_address = "the msmvm issue tracker";
static const char doc[] =
	"Record the msm driver's VM_BIND calls, throttle waits and page-table jobs\n"
	"to a trace that ui.perfetto.dev opens.\n"
	"\n"
	"USAGE: msmvm-trace [OPTION...] -o FILE [-- CMD [ARG...]]\n"
	"\n"
	"Records until the duration, the size limit, Ctrl-C, SIGTERM, SIGHUP,\n"
	"SIGPIPE, SIGUSR1 (without --ring) or the driver's module being\n"
	"unloaded (rmmod: said on stderr), then closes FILE\n"
	"and prints a one-line summary on stderr. FILE is a Perfetto\n"
	"protobuf trace written in whole packets (compressed as Perfetto's own\n"
	"service does unless the ops are recorded; --compress, --no-compress): it\n"
	"is valid at every moment, and a recorder that is killed, or that fills the\n"
	"disk, leaves a file that opens up to its last whole packet.\n"
	"\n"
	"In the trace, per process and per thread that issued VM_BINDs:\n"
	"  - a 'VM_BIND' slice per call on the calling thread (vm, nr_ops,\n"
	"    queue_id, pages_counted, ret, and its ops as msmvm-sim count takes\n"
	"    them), a nested 'throttle wait' slice when it slept, a 'wait\n"
	"    interrupted' instant when it returned -ERESTARTSYS;\n"
	"  - per VM, 'VM 0x... jobs': each job from its VM_BIND's return to its\n"
	"    free (counted, used, unused pages), with a flow from the VM_BIND that\n"
	"    queued it, and 'drift' instants; counters 'VM 0x... in_flight pages'\n"
	"    and 'VM 0x... threads waiting'.\n"
	"Events the kernel's ring buffer had to drop are marked where they were\n"
	"lost, counted in the final 'msmvm-trace stats' instant and on stderr.\n"
	"\n"
	"Each call's ops (kind, iova, range) are read at its entry and written as\n"
	"its 'ops' argument ('ops_incomplete' when records were lost, or past\n"
	"1024 ops): one more ring-buffer event per 8 ops. --no-ops leaves them out.\n"
	"\n"
	"With --ring SECS nothing is written while recording: the last SECS\n"
	"seconds are kept in memory and written to FILE-N.EXT (N = 1, 2, ...) on\n"
	"each SIGUSR1, and to FILE at the end. The flight recorder records no ops.\n"
	"\n"
	MSMVM_CLI_COMMAND_DOC
	"With -d, CMD is stopped when the duration is up, and recorded until it ends.\n"
	"\n"
	"OPTIONS:";
static const char doc_after[] =
	"EXAMPLES:\n"
	"  sudo msmvm-trace -o vmbind.perfetto-trace -d 10   # ten seconds\n"
	"  sudo msmvm-trace -o app.perfetto-trace -p 1234    # one process\n"
	"  sudo msmvm-trace --ring 5 -o stall.perfetto-trace &\n"
	"  kill -USR1 %1                     # writes stall-1.perfetto-trace\n"
	"  sudo msmvm-trace --sim -d 5 -o model.perfetto-trace   # the model\n"
	"  sudo msmvm-trace --sim --limit 2048 -o m.perfetto-trace  # msmvm-sim run --limit 2048\n"
	"  msmvm-stat --replay vmbind.perfetto-trace   # totals, histograms\n"
	"Open FILE at https://ui.perfetto.dev (Open trace file): the UI reads it\n"
	"in the browser.\n"
	"\n"
	"EXIT STATUS: 0 success (the size limit or the driver's unload ending the\n"
	"recording included: FILE then holds every event up to the unload);\n"
	"1 runtime error (no driver, missing capability, load or attach failure,\n"
	"FILE cannot be written, the disk is full: what was written stays valid);\n"
	"2 bad usage.\n";

enum { OPT_RING = 0x100, OPT_FORMAT, OPT_MAX_SIZE, OPT_NO_OPS, OPT_LIMIT, OPT_NO_COMPRESS,
       OPT_COMPRESS };

static const struct argp_option opts[] = {
	{ "output", 'o', "FILE", 0, "The trace file (required; replaced if it exists)", 0 },
	{ "duration", 'd', "SECS", 0, "Stop after SECS seconds", 0 },
	{ "max-size", OPT_MAX_SIZE, "MB", 0,
	  "Stop when FILE would grow past MB MiB (fractions allowed); with --ring, also the "
	  "memory the window may use (default 256)", 0 },
	{ "ring", OPT_RING, "SECS", 0,
	  "Flight recorder: keep the last SECS seconds in memory; write them on SIGUSR1 and "
	  "at the end (without the calls' ops)", 0 },
	{ "no-ops", OPT_NO_OPS, NULL, 0,
	  "Leave out each call's ops (recorded by default: one more event per 8 ops)", 0 },
	{ "compress", OPT_COMPRESS, NULL, 0,
	  "Compress the packets also when the ops are recorded (by default only without "
	  "them: the ops' addresses compress 2 to 1 for twice the recorder's CPU)", 0 },
	{ "no-compress", OPT_NO_COMPRESS, NULL, 0,
	  "Never compress the packets (compressed by default when the ops are not "
	  "recorded, as Perfetto's COMPRESSION_TYPE_DEFLATE: about 3 times smaller); for "
	  "tools that decode the protobuf but do not inflate it, such as protoc", 0 },
	{ "limit", OPT_LIMIT, "PAGES", 0,
	  "The throttle's limit, written in the header for replays (default 1024; the "
	  "model's --limit)", 0 },
	{ "format", OPT_FORMAT, "perfetto|json", 0,
	  "perfetto (default): Perfetto protobuf; json: Chrome JSON trace (no flows)", 0 },
	{ "buffer-size", 'b', "KB", 0,
	  "The kernel ring buffer for events: a power of two, at least the page size "
	  "(default 4096 KB)", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};


static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	double v;
	uint64_t l;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case 'o':
		if (!*arg)
			argp_error(state, "empty FILE");
		/* the file is cut back to its last whole packet on a write error: it needs a file */
		if (!strcmp(arg, "-"))
			argp_error(state, "-o -: msmvm-trace writes a file, not standard output (on a "
					  "write error it cuts the file back to its last whole packet); "
					  "give a file name");
		env.output = arg;
		break;
	case 'd':
		if (msmvm_parse_decimal(arg, 0.001, 1e7, &env.duration))
			argp_error(state, "invalid duration '%s' (seconds: a decimal number from "
					  "0.001 to 10000000)", arg);
		break;
	case OPT_MAX_SIZE:
		if (msmvm_parse_decimal(arg, 0.004, 1e7, &v))
			argp_error(state, "invalid --max-size '%s' (MiB: a decimal number from "
					  "0.004 to 10000000)", arg);
		env.max_bytes = (uint64_t)(v * 1048576.0);
		break;
	case OPT_RING:
		if (msmvm_parse_decimal(arg, 0.001, 86400, &env.ring))
			argp_error(state, "invalid --ring '%s' (seconds: a decimal number from "
					  "0.001 to 86400)", arg);
		break;
	case OPT_NO_OPS:
		env.no_ops = true;
		break;
	case OPT_NO_COMPRESS:
		env.compress = 0;
		break;
	case OPT_COMPRESS:
		env.compress = 1;
		break;
	case OPT_LIMIT:
		if (msmvm_parse_uint(arg, 1, MSMVM_LIMIT_MAX, &l))
			argp_error(state, "invalid --limit '%s' (pages: a whole number from 1 to "
					  "%u)", arg, MSMVM_LIMIT_MAX);
		env.o.throttle_limit = (int64_t)l;
		break;
	case OPT_FORMAT:
		if (!strcmp(arg, "perfetto"))
			env.format = MSMVM_TRACE_PERFETTO;
		else if (!strcmp(arg, "json"))
			env.format = MSMVM_TRACE_JSON;
		else
			argp_error(state, "invalid --format '%s' (perfetto or json)", arg);
		break;
	case 'b':
		if (msmvm_parse_uint(arg, (uint64_t)getpagesize() / 1024, 1u << 21, &l) ||
		    (l & (l - 1)))
			argp_error(state, "invalid --buffer-size '%s' (KB: a power of two from %d "
					  "to 2097152)", arg, getpagesize() / 1024);
		env.o.ringbuf_bytes = (uint32_t)(l * 1024);
		break;
	case ARGP_KEY_ARG:
		if (msmvm_cli_command_arg(state))
			return ARGP_ERR_UNKNOWN;	/* the command's (cli.c) */
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (!env.output)
			argp_error(state, "-o FILE is required");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* What the event callback feeds, and what stopped it. */
static struct rec {
	struct msmvm_trace *trace;
	struct msmvm_trace_ring *ring;
	int stop;		/* 1: size limit; < 0: write error (-errno) */
	uint64_t ops_records;	/* MSMVM_EV_OPS events among those recorded */
} rec;

static int on_event(void *ctx, const struct msmvm_event *e)
{
	int ret;

	(void)ctx;
	if (rec.stop)
		return 0;
	if (rec.ring) {
		if (msmvm_trace_ring_add(rec.ring, e))
			rec.stop = -ENOMEM;
		return 0;
	}
	ret = msmvm_trace_add(rec.trace, e);
	if (ret)
		rec.stop = ret;
	else if (e->type == MSMVM_EV_OPS)
		rec.ops_records++;
	return 0;
}

/* FILE-N.EXT for the Nth dump (the extension is what follows the name's last dot). */
static void dump_path(char *out, size_t size, const char *path, unsigned n)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

	if (dot && (!slash || dot > slash + 1))
		snprintf(out, size, "%.*s-%u%s", (int)(dot - path), path, n, dot);
	else
		snprintf(out, size, "%s-%u", path, n);
}

static int health_now(struct msmvm *m, uint64_t *health)
{
	struct msmvm_snapshot s;
	struct msmvm_err err;

	if (msmvm_snapshot(m, &s, &err)) {
		fprintf(stderr, "msmvm-trace: %s\n", err.msg);
		return -1;
	}
	memcpy(health, s.health, sizeof(s.health));
	msmvm_snapshot_free(&s);
	return 0;
}

static void summary(const char *path, const struct msmvm_trace_stats *st, double secs)
{
	fprintf(stderr, "msmvm-trace: %s: %" PRIu64 " events, %" PRIu64 " dropped, %" PRIu64
		" bytes (%.1f per event, %" PRIu64 " trace events) in %.1f s", path, st->events,
		st->dropped, st->bytes, st->events ? (double)st->bytes / (double)st->events : 0.0,
		st->trace_events, secs);
	if (st->packet_bytes > st->bytes)	/* compressed */
		fprintf(stderr, "; %" PRIu64 " bytes of packets before compression (%.1f per "
			"event)", st->packet_bytes,
			st->events ? (double)st->packet_bytes / (double)st->events : 0.0);
	if (rec.ops_records)	/* they are events too, written with their call */
		fprintf(stderr, "; %" PRIu64 " of the events are ops records", rec.ops_records);
	fputc('\n', stderr);
}

static int ring_dump(struct msmvm *m, const char *path, const struct msmvm_trace_opts *to,
		     double secs)
{
	uint64_t health[MSMVM_H_COUNT_];
	struct msmvm_trace_stats st;
	struct msmvm_err err;

	if (health_now(m, health))
		return -1;
	msmvm_trace_ring_dropped(rec.ring, health[MSMVM_H_RINGBUF_DROPS], msmvm_now_ns());
	if (msmvm_trace_ring_dump(rec.ring, msmvm_now_ns(), path, to, health, &st, &err)) {
		fprintf(stderr, "msmvm-trace: %s\n", err.msg);
		return -1;
	}
	summary(path, &st, secs);
	return 0;
}

static const struct argp_child argp_children[] = {
	{ &msmvm_target_argp, 0, "Target:", 1 },
	{},
};

int main(int argc, char **argv)
{
	struct argp argp = { .options = opts, .parser = parse_arg,
					    .children = argp_children };
	struct msmvm_trace_opts to = { 0 };
	struct msmvm_trace_stats st = { 0 };
	struct msmvm_driver_watch watch;
	uint64_t health[MSMVM_H_COUNT_] = { 0 }, t_start, t_end = 0, t_health = 0;
	uint64_t dropped_seen = 0;
	struct msmvm *m = NULL;
	struct msmvm_err err;
	unsigned dumps = 0;
	char *full_doc;
	int ret = 0;

	if (asprintf(&full_doc, "%s\v%s", doc, doc_after) < 0)
		return EXIT_RUNTIME;
	argp.doc = full_doc;	/* argp prints what follows \v after the options */
	argp_err_exit_status = EXIT_USAGE;
	msmvm_cli_bind(&env.o);
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	if (msmvm_cli_command_prepare("msmvm-trace"))
		return EXIT_RUNTIME;

	/* the flight recorder keeps no ops: a window would start inside calls anyway */
	env.o.emit_ops = !env.no_ops && !env.ring;
	to.format = env.format;
	to.max_bytes = env.max_bytes;
	/* the ops' text is mostly addresses: half the size for twice the recorder's CPU */
	to.uncompressed = env.compress == 0 || (env.compress < 0 && env.o.emit_ops);
	to.t0_ns = msmvm_now_ns();	/* before attaching: no event is older */
	if (msmvm_open(&env.o, &m, &err) || msmvm_load(m, &err)) {
		fprintf(stderr, "msmvm-trace: %s\n", err.msg);
		msmvm_close(m);
		return err.kind == MSMVM_E_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
	}
	to.plan = msmvm_get_plan(m);

	/* FILE first: an unwritable path fails before anything is attached */
	if (msmvm_trace_create(env.output, &to, &rec.trace, &err)) {
		fprintf(stderr, "msmvm-trace: %s\n", err.msg);
		msmvm_close(m);
		return EXIT_RUNTIME;
	}
	if (env.ring) {
		/* a valid, empty trace until the first dump replaces it */
		if (msmvm_trace_close(rec.trace, NULL, NULL, &err)) {
			fprintf(stderr, "msmvm-trace: %s\n", err.msg);
			msmvm_close(m);
			return EXIT_RUNTIME;
		}
		rec.trace = NULL;
		rec.ring = msmvm_trace_ring_new((uint64_t)(env.ring * 1e9),
						env.max_bytes ? env.max_bytes : 256ULL << 20);
		if (!rec.ring) {
			fprintf(stderr, "msmvm-trace: out of memory\n");
			msmvm_close(m);
			return EXIT_RUNTIME;
		}
	}
	if (msmvm_events_subscribe(m, on_event, NULL, &err) || msmvm_attach(m, &err)) {
		fprintf(stderr, "msmvm-trace: %s\n", err.msg);
		if (rec.trace)
			msmvm_trace_close(rec.trace, NULL, NULL, &err);
		msmvm_trace_ring_free(rec.ring);
		msmvm_close(m);
		return EXIT_RUNTIME;
	}
	msmvm_driver_watch_start(&watch, m);	/* gone already: the first poll says so */
	msmvm_cli_catch_signals(on_signal);
	if (msmvm_cli_command_start(m, "msmvm-trace"))
		exiting = ret = EXIT_RUNTIME;	/* the file is closed whole, below */

	t_start = msmvm_now_ns();
	fprintf(stderr, "msmvm-trace: attached %d probes to %s (%s); recording to %s%s; "
		"Ctrl-C to end.\n", msmvm_get_plan(m)->nprobes, msmvm_get_plan(m)->target,
		msmvm_get_plan(m)->kind == MSMVM_PLAN_DIRECT ? "direct" : "fallback", env.output,
		env.ring ? " (flight recorder: SIGUSR1 writes the last seconds)" : "");
	if (env.duration)
		t_end = t_start + (uint64_t)(env.duration * 1e9);

	while (msmvm_cli_go_on("msmvm-trace", exiting) && !rec.stop) {
		int n = msmvm_events_poll(m, 100);
		uint64_t now = msmvm_now_ns();

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "msmvm-trace: reading events: %s\n", strerror(-n));
			ret = EXIT_RUNTIME;
			break;
		}
		/* drops: marked in the trace where they were seen, and said on stderr */
		if (now >= t_health + 250000000ULL) {
			t_health = now;
			if (health_now(m, health) == 0 &&
			    health[MSMVM_H_RINGBUF_DROPS] > dropped_seen) {
				fprintf(stderr, "msmvm-trace: %" PRIu64 " events lost: the ring buffer "
					"was full (see --buffer-size)\n",
					health[MSMVM_H_RINGBUF_DROPS] - dropped_seen);
				dropped_seen = health[MSMVM_H_RINGBUF_DROPS];
				if (rec.ring)
					msmvm_trace_ring_dropped(rec.ring, dropped_seen, now);
				else if ((n = msmvm_trace_dropped(rec.trace, dropped_seen)) < 0)
					rec.stop = n;
			}
		}
		if (rec.trace && !rec.stop && (n = msmvm_trace_flush(rec.trace)) < 0)
			rec.stop = n;
		if (dump_requested && rec.ring) {
			char path[4096];

			dump_requested = 0;
			dump_path(path, sizeof(path), env.output, ++dumps);
			if (ring_dump(m, path, &to, (double)(msmvm_now_ns() - t_start) / 1e9))
				ret = EXIT_RUNTIME;
		}
		dump_requested = 0;
		if (t_end && now >= t_end)
			exiting = 1;	/* a command is stopped, and recorded until it ends */
		/* rmmod: nothing more can come; end as on Ctrl-C (the drain below keeps the rest) */
		if (msmvm_driver_watch_poll(&watch) == MSMVM_DRIVER_UNLOADED) {
			fprintf(stderr, "msmvm-trace: driver module %s was unloaded; stopping (%s "
					"holds every event up to the unload)\n",
				msmvm_driver_watch_module(&watch), env.output);
			break;
		}
	}
	msmvm_cli_command_end("msmvm-trace");
	/* what is in the ring buffer now was recorded too */
	for (int i = 0; i < 64 && !rec.stop && msmvm_events_poll(m, 0) > 0; i++)
		;
	if (health_now(m, health))
		ret = EXIT_RUNTIME;

	if (rec.ring) {
		msmvm_trace_ring_dropped(rec.ring, health[MSMVM_H_RINGBUF_DROPS], msmvm_now_ns());
		if (rec.stop == -ENOMEM)
			fprintf(stderr, "msmvm-trace: out of memory: the window stopped growing\n");
		if (ring_dump(m, env.output, &to, (double)(msmvm_now_ns() - t_start) / 1e9))
			ret = EXIT_RUNTIME;
		msmvm_trace_ring_free(rec.ring);
	} else {
		if (rec.stop == 1)
			fprintf(stderr, "msmvm-trace: %s reached --max-size: recording stopped\n",
				env.output);
		msmvm_trace_dropped(rec.trace, health[MSMVM_H_RINGBUF_DROPS]);
		if (msmvm_trace_close(rec.trace, health, &st, &err)) {
			fprintf(stderr, "msmvm-trace: %s\n", err.msg);
			ret = EXIT_RUNTIME;
		} else {
			summary(env.output, &st, (double)(msmvm_now_ns() - t_start) / 1e9);
		}
	}
	if (health[MSMVM_H_RINGBUF_DROPS])
		fprintf(stderr, "msmvm-trace: warning: %" PRIu64 " events were lost (ring buffer "
			"full); the trace marks where: use a larger --buffer-size\n",
			health[MSMVM_H_RINGBUF_DROPS]);
	if (!msmvm_sim_seen(m, NULL)) {		/* an empty trace from no model at all: say so */
		char hint[512];

		fprintf(stderr, "msmvm-trace: %s\n", msmvm_sim_hint(m, false, hint, sizeof(hint)));
	}
	msmvm_close(m);
	free(full_doc);
	return ret;
}
