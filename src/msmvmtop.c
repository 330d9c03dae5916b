// SPDX-License-Identifier: GPL-2.0
/*
 * msmvmtop: a live, top-like view of the msm VM_BIND throttle. It only reads the in-kernel
 * aggregates once per interval (no per-event work in user space) and draws them: per VM an
 * in_flight gauge with its history, per process rates and wait percentiles, a detail view.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <ncurses.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msmvm/frame.h"
#include "msmvm/cli.h"
#include "msmvm/command.h"
#include "msmvm/numbers.h"
#include "version.h"
#include "msmvm/driver_watch.h"
#include "msmvm/msmvm.h"
#include "msmvm/report.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define PAGE_KIB 4

enum col {
	COL_PID, COL_COMM, COL_VMS, COL_BINDS, COL_OPS, COL_PAGES, COL_INFLIGHT, COL_WAITS,
	COL_P50, COL_P99, COL_MAX, COL_OVER, COL_INTR, COL_ERR, COL_COUNT_
};

static const struct {
	const char *name;
	int width;
} cols[COL_COUNT_] = {
	[COL_PID] = { "PID", 8 },	  [COL_COMM] = { "COMM", 16 },	[COL_VMS] = { "VMS", 4 },
	[COL_BINDS] = { "BINDS/s", 8 },	  [COL_OPS] = { "OPS/s", 9 },	[COL_PAGES] = { "PAGES/s", 9 },
	[COL_INFLIGHT] = { "IN_FLIGHT", 10 }, [COL_WAITS] = { "WAITS/s", 8 },
	[COL_P50] = { "WAIT_P50", 9 },	  [COL_P99] = { "WAIT_P99", 9 }, [COL_MAX] = { "WAIT_MAX", 9 },
	[COL_OVER] = { "OVER%", 6 },	  [COL_INTR] = { "INTR", 6 },	[COL_ERR] = { "ERR", 6 },
};

static struct env {
	struct msmvm_opts o;
	double interval;
	bool batch, json, no_color;
	long frames;		/* batch/json: frames to print, 0 = until stopped */
	int64_t limit;
} env = { .o = { .target = MSMVM_TARGET_KERNEL }, .interval = 1.0, .limit = 1024 };

/* What the user has chosen on screen. */
static struct ui {
	enum col sort;
	bool reverse;	/* ascending instead of the default descending */
	bool paused, detail, help;
	int selected;	/* row index in the sorted table */
	int hscroll;	/* columns after COMM scrolled out to the left (←/→) */
	uint32_t selected_pid;
	uint32_t filter_pid;
	bool color, unicode;
	char cmd_status[160];	/* the command's end, on the status line until q */
} ui = { .sort = COL_BINDS };

static volatile sig_atomic_t exiting;
/* --sim with no row and no model running: the empty state says how to start one */
static char sim_hint[512];

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

const char *argp_program_version = "msmvmtop " MSMVM_VERSION;
const char *argp_program_bug_address = "the msmvm issue tracker";
static const char doc[] =
	"A live view of the msm driver's VM_BIND page-table preallocation throttle.\n"
	"\n"
	"USAGE: msmvmtop [OPTION...] [-- CMD [ARG...]]\n"
	"\n"
	"Per VM: in_flight preallocated pages against the throttle's limit (gauge, pages and "
	"MiB), its peak and a one-minute history, binds/s, pages/s, threads waiting now, the "
	"stall share (the fraction of the last interval with at least one thread of that VM in "
	"the throttle, like PSI's \"some\") and accounting drift. Per process: BINDS/s, OPS/s, "
	"PAGES/s (preallocated), IN_FLIGHT, WAITS/s, WAIT_P50/P99 over the interval and "
	"WAIT_MAX overall, OVER% (pages preallocated but never used), INTR (interrupted waits) "
	"and ERR. Percentiles come from log2 histograms: they are the upper bound of the "
	"bucket the percentile falls in, so they are exact only to a factor of two.\n"
	"\n"
	"KEYS: q quit, h or ? help, up/down or j/k select, left/right scroll the "
	"columns, Enter detail view (histograms), s or > next sort column, < previous, "
	"r reverse, Space pause, + and - interval, p filter processes and their VMs by "
	"pid (empty: all).\n"
	"\n"
	"EXAMPLES:\n"
	"    sudo msmvmtop                   # the running kernel's msm driver\n"
	"    sudo msmvmtop --sim             # the msmvm-sim model (with msmvm-sim run)\n"
	"    sudo msmvmtop -b -n 5 -d 2      # five plain-text frames, 2 s apart\n"
	"    sudo msmvmtop --json --sim      # one JSON object per interval\n"
	"\n"
	"When the driver's module is unloaded (rmmod), msmvmtop says so on stderr (\"driver "
	"module NAME was unloaded; stopping\"), restores the terminal and prints its last "
	"state as a text frame (-b: one last frame; --json: one last object), counted up to "
	"the unload.\n"
	"\n"
	MSMVM_CLI_COMMAND_DOC
	"Batch and --json end with CMD (a last frame); the dashboard stays, its status "
	"line saying how CMD ended, until q (q while CMD runs stops it). In the "
	"dashboard CMD's output lands on the screen: redirect it.\n"
	"\n"
	"Exit status: 0 success, the driver's unload included; 1 runtime error (no driver, "
	"no BTF, missing capability, attach failure); 2 bad usage.\n"
	"\n"
	"OPTIONS:";

enum { OPT_JSON = 0x100, OPT_LIMIT };

static const struct argp_option opts[] = {
	{ "delay", 'd', "SECS", 0, "Interval between frames (default 1)", 0 },
	{ "batch", 'b', NULL, 0, "Plain-text frames on stdout, no screen handling", 0 },
	{ "iterations", 'n', "N", 0, "Batch or JSON: stop after N frames", 0 },
	{ "json", OPT_JSON, NULL, 0, "One JSON object per interval on stdout", 0 },
	{ "no-color", 'C', NULL, 0, "No colours (also when NO_COLOR is set)", 0 },
	{ "limit", OPT_LIMIT, "PAGES", 0,
	  "The throttle's limit, for the gauge and the waiters (default 1024; the model's "
	  "--limit)", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	double d;
	uint64_t v;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case 'd':
		if (msmvm_parse_decimal(arg, 0.1, 3600, &d))
			argp_error(state, "invalid interval '%s' (seconds: a decimal number from 0.1 "
					  "to 3600)", arg);
		env.interval = d;
		break;
	case 'b':
		env.batch = true;
		break;
	case 'n':
		if (msmvm_parse_uint(arg, 1, INT_MAX, &v))
			argp_error(state, "invalid frame count '%s' (a whole number from 1 to %d)",
				   arg, INT_MAX);
		env.frames = (long)v;
		break;
	case OPT_JSON:
		env.json = true;
		break;
	case 'C':
		env.no_color = true;
		break;
	case OPT_LIMIT:
		if (msmvm_parse_uint(arg, 1, MSMVM_LIMIT_MAX, &v))
			argp_error(state, "invalid --limit '%s' (pages: a whole number from 1 to %u)",
				   arg, MSMVM_LIMIT_MAX);
		env.limit = (int64_t)v;
		break;
	case ARGP_KEY_ARG:
		if (msmvm_cli_command_arg(state))
			return ARGP_ERR_UNKNOWN;	/* the command's (cli.c) */
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (env.frames && !env.batch && !env.json)
			argp_error(state, "-n goes with -b or --json");
		if (env.batch && env.json)
			argp_error(state, "-b and --json do not go together");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ------------------------------------------------------------------ table */

static double col_value(const struct msmvm_proc_row *r, enum col c)
{
	switch (c) {
	case COL_PID: return r->tgid;
	case COL_VMS: return r->nvms;
	case COL_BINDS: return r->binds_s;
	case COL_OPS: return r->ops_s;
	case COL_PAGES: return r->pages_s;
	case COL_INFLIGHT: return (double)r->in_flight;
	case COL_WAITS: return r->waits_s;
	case COL_P50: return (double)r->wait_p50_ns;
	case COL_P99: return (double)r->wait_p99_ns;
	case COL_MAX: return (double)r->wait_max_ns;
	case COL_OVER: return r->overcount_pct;
	case COL_INTR: return (double)r->interrupted_waits;
	case COL_ERR: return (double)r->errors;
	default: return 0;
	}
}

static int cmp_rows(const void *a, const void *b)
{
	const struct msmvm_proc_row *x = a, *y = b;
	int r;

	if (ui.sort == COL_COMM) {
		r = strcmp(x->comm, y->comm);
	} else {
		double vx = col_value(x, ui.sort), vy = col_value(y, ui.sort);

		r = vx < vy ? -1 : vx > vy;
	}
	if (!r)	/* stable order for equal keys */
		r = x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
	return ui.reverse ? r : -r;	/* descending by default, like top */
}

/* Rows shown: filtered and sorted. Returns the count; rows point into the frame. */
static int table_rows(const struct msmvm_frame *f, struct msmvm_proc_row *out)
{
	int n = 0;

	for (int i = 0; i < f->nprocs; i++)
		if (!ui.filter_pid || f->procs[i].tgid == ui.filter_pid)
			out[n++] = f->procs[i];
	qsort(out, (size_t)n, sizeof(*out), cmp_rows);
	return n;
}

static void fmt_ns(char *buf, size_t sz, uint64_t ns)
{
	if (!ns)
		snprintf(buf, sz, "-");
	else if (ns < 1000000)
		snprintf(buf, sz, "%.0fus", (double)ns / 1e3);
	else if (ns < 10000000000ULL)
		snprintf(buf, sz, "%.1fms", (double)ns / 1e6);
	else
		snprintf(buf, sz, "%.1fs", (double)ns / 1e9);
}

static void fmt_cell(char *buf, size_t sz, const struct msmvm_proc_row *r, enum col c)
{
	switch (c) {
	case COL_PID: snprintf(buf, sz, "%u", r->tgid); break;
	case COL_COMM: snprintf(buf, sz, "%s", r->comm); break;
	case COL_VMS: snprintf(buf, sz, "%d", r->nvms); break;
	case COL_BINDS: snprintf(buf, sz, "%.0f", r->binds_s); break;
	case COL_OPS: snprintf(buf, sz, "%.0f", r->ops_s); break;
	case COL_PAGES: snprintf(buf, sz, "%.0f", r->pages_s); break;
	case COL_INFLIGHT: snprintf(buf, sz, "%" PRId64, r->in_flight); break;
	case COL_WAITS: snprintf(buf, sz, "%.0f", r->waits_s); break;
	case COL_P50: fmt_ns(buf, sz, r->wait_p50_ns); break;
	case COL_P99: fmt_ns(buf, sz, r->wait_p99_ns); break;
	case COL_MAX: fmt_ns(buf, sz, r->wait_max_ns); break;
	case COL_OVER: msmvm_frame_share(buf, sz, r->overcount_pct); break;
	case COL_INTR: snprintf(buf, sz, "%" PRIu64, r->interrupted_waits); break;
	case COL_ERR: snprintf(buf, sz, "%" PRIu64, r->errors); break;
	default: buf[0] = 0;
	}
}

/*
 * The columns on screen, left to right, each whole (a header is never cut). PID, the sort
 * column and COMM (narrowed down to 5 if need be) come first; the others follow in their
 * order from the horizontal scroll position (ui.hscroll, an index into the columns after
 * COMM) as long as they fit. The sort column stays in its place when that is in view, else
 * it is pinned on the side it lies on.
 */
struct layout {
	int n;
	enum col c[COL_COUNT_];
	int w[COL_COUNT_];
	int hidden_left, hidden_right;	/* scrollable columns out of view */
};

#define COL_SCROLL0 (COL_COMM + 1)	/* the first scrollable column */

static void layout_all(struct layout *L)
{
	memset(L, 0, sizeof(*L));
	for (int c = 0; c < COL_COUNT_; c++) {
		L->c[L->n] = (enum col)c;
		L->w[L->n++] = cols[c].width;
	}
}

static void layout_fit(struct layout *L, int width)
{
	enum col sort = ui.sort;
	bool sort_scrolls = sort >= COL_SCROLL0;
	int avail = width + 1;	/* each column takes its width and a space; the last one's may go */
	int comm_w, first = COL_SCROLL0 + ui.hscroll, last = first - 1;

	memset(L, 0, sizeof(*L));
	avail -= cols[COL_PID].width + 1;
	if (sort_scrolls)
		avail -= cols[sort].width + 1;
	comm_w = avail - 1 < cols[COL_COMM].width ? avail - 1 : cols[COL_COMM].width;
	if (comm_w < 5)
		comm_w = 5;	/* "COMM*" */
	avail -= comm_w + 1;
	for (int c = first; c < COL_COUNT_; c++) {
		if (c == (int)sort) {	/* counted above */
			last = c;
			continue;
		}
		if (cols[c].width + 1 > avail)
			break;
		avail -= cols[c].width + 1;
		last = c;
	}

	L->c[L->n] = COL_PID, L->w[L->n++] = cols[COL_PID].width;
	L->c[L->n] = COL_COMM, L->w[L->n++] = comm_w;
	if (sort_scrolls && (int)sort < first)
		L->c[L->n] = sort, L->w[L->n++] = cols[sort].width;
	for (int c = first; c <= last; c++)
		L->c[L->n] = (enum col)c, L->w[L->n++] = cols[c].width;
	if (sort_scrolls && (int)sort > last)
		L->c[L->n] = sort, L->w[L->n++] = cols[sort].width;
	L->hidden_left = first - COL_SCROLL0 - (sort_scrolls && (int)sort < first);
	L->hidden_right = COL_COUNT_ - 1 - last - (sort_scrolls && (int)sort > last);
}

/* One table line (header when r is NULL) into buf, at most `width` columns. */
static void table_line(char *buf, size_t sz, const struct msmvm_proc_row *r,
		       const struct layout *L, int width)
{
	size_t len = 0;

	buf[0] = 0;
	for (int i = 0; i < L->n && (int)len < width; i++) {
		enum col c = L->c[i];
		char cell[64];

		if (r) {
			fmt_cell(cell, sizeof(cell), r, c);
		} else {
			snprintf(cell, sizeof(cell), "%s%s", cols[c].name, c == ui.sort ? "*" : "");
		}
		len += (size_t)snprintf(buf + len, sz - len, c == COL_COMM ? "%-*.*s " : "%*.*s ",
					L->w[i], L->w[i], cell);
		if (len >= sz)
			len = sz - 1;
	}
	if ((int)strlen(buf) > width)
		buf[width] = 0;
}

/* ------------------------------------------------------------------ VM header */

static const char *const spark_utf8[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
static const char spark_ascii[] = "_.-~=+*#";

static void sparkline(char *buf, size_t sz, const struct msmvm_vm_row *v, int width)
{
	int64_t max = env.limit;
	size_t len = 0;
	int start = v->nhist > width ? v->nhist - width : 0;

	buf[0] = 0;
	for (int i = 0; i < v->nhist; i++)
		if (v->history[i] > max)
			max = v->history[i];
	for (int i = start; i < v->nhist && len + 4 < sz; i++) {
		int64_t x = v->history[i] < 0 ? 0 : v->history[i];
		int lvl = max ? (int)(x * 7 / max) : 0;

		if (ui.unicode)
			len += (size_t)snprintf(buf + len, sz - len, "%s", spark_utf8[lvl]);
		else
			buf[len++] = spark_ascii[lvl], buf[len] = 0;
	}
}

static int cmp_vm_busy(const void *a, const void *b)
{
	const struct msmvm_vm_row *x = a, *y = b;

	if (x->in_flight != y->in_flight)
		return x->in_flight < y->in_flight ? 1 : -1;
	return x->binds_s < y->binds_s ? 1 : x->binds_s > y->binds_s ? -1 : 0;
}

/* "VM 4148:6ef550 sparse-0  [#####.....] 812/1024pg 3.2MiB peak 1190" */
static void vm_gauge_line(char *buf, size_t sz, const struct msmvm_vm_row *v, int width,
			  int *fill, int *barw)
{
	char head[96], tail[128], id[32];
	int64_t shown = v->in_flight < 0 ? 0 : v->in_flight;

	/* owner:address, as the model's VMs share one address in their own processes */
	snprintf(head, sizeof(head), "VM %-14s %-10.10s ", msmvm_vm_short_id(v, id, sizeof(id)),
		 v->comm);
	snprintf(tail, sizeof(tail), " %" PRId64 "/%" PRId64 "pg %.1fMiB peak %" PRId64, v->in_flight,
		 env.limit, (double)v->in_flight * PAGE_KIB / 1024, v->peak_in_flight);
	*barw = width - (int)strlen(head) - (int)strlen(tail) - 2;
	if (*barw > 40)
		*barw = 40;
	if (*barw < 4)
		*barw = 0;
	*fill = *barw ? (int)((shown > env.limit ? env.limit : shown) * *barw / env.limit) : 0;
	snprintf(buf, sz, "%s", head);
	if (*barw) {
		size_t len = strlen(buf);

		buf[len++] = '[';
		for (int i = 0; i < *barw && len + 2 < sz; i++)
			buf[len++] = i < *fill ? '#' : '.';
		buf[len++] = ']';
		buf[len] = 0;
	}
	strncat(buf, tail, sz - strlen(buf) - 1);
	if ((int)strlen(buf) > width)
		buf[width] = 0;
}

static void vm_rates_line(char *buf, size_t sz, const struct msmvm_vm_row *v)
{
	snprintf(buf, sz, "binds/s %.0f pages/s %.0f waiting %" PRId64 " stall %.0f%% drift %+" PRId64,
		 v->binds_s, v->pages_s, v->waiters, v->stall_share * 100, v->drift);
}

/* ------------------------------------------------------------------ batch output */

static void print_batch_frame(const struct msmvm_frame *f, const struct msmvm_plan *plan)
{
	struct msmvm_proc_row *rows = calloc((size_t)f->nprocs + 1, sizeof(*rows));
	struct msmvm_vm_row *vms = calloc((size_t)f->nvms + 1, sizeof(*vms));
	char line[512], spark[512];
	time_t t = time(NULL);
	struct layout all;
	char tbuf[16];
	int fill, barw, n;

	if (!rows || !vms)
		goto out;
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&t));
	printf("msmvmtop %s  %s (%s hooks)  binds/s %.0f  pages/s %.0f  drops %" PRIu64
	       "  interval %.3fs\n", tbuf, plan->target,
	       plan->kind == MSMVM_PLAN_DIRECT ? "direct" : "fallback", f->binds_s, f->pages_s,
	       f->snap.health[MSMVM_H_RINGBUF_DROPS], f->interval_s);
	memcpy(vms, f->vms, sizeof(*vms) * (size_t)f->nvms);
	qsort(vms, (size_t)f->nvms, sizeof(*vms), cmp_vm_busy);
	for (int i = 0; i < f->nvms; i++) {
		vm_gauge_line(line, sizeof(line), &vms[i], 100, &fill, &barw);
		sparkline(spark, sizeof(spark), &vms[i], 30);
		printf("%s\n", line);
		vm_rates_line(line, sizeof(line), &vms[i]);
		printf("    %s  %s\n", line, spark);
	}
	printf("totals:");
	for (int i = 0; i < MSMVM_NCOUNTERS; i++)
		printf(" %s %" PRId64, msmvm_counter_table[i].name,
		       msmvm_counter_value(&f->snap.totals.c, i));
	printf("\n");
	n = table_rows(f, rows);
	layout_all(&all);
	table_line(line, sizeof(line), NULL, &all, 200);
	printf("%s\n", line);
	for (int i = 0; i < n; i++) {
		table_line(line, sizeof(line), &rows[i], &all, 200);
		printf("%s\n", line);
	}
	printf("\n");
	fflush(stdout);
out:
	free(rows);
	free(vms);
}

static void print_json_frame(const struct msmvm_frame *f, const struct msmvm_plan *plan)
{
	json_object *o = msmvm_frame_json(f, plan);

	/* one whole line per frame, flushed: a reader cut off by SIGTERM never sees half */
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

/* ------------------------------------------------------------------ screen */

enum { PAIR_OK = 1, PAIR_WARN, PAIR_BAD, PAIR_HEAD, PAIR_SEL };

static void ui_attr_on(int pair, int extra)
{
	if (ui.color)
		attron(COLOR_PAIR(pair) | extra);
	else
		attron(extra | (pair == PAIR_HEAD || pair == PAIR_SEL ? A_REVERSE : 0) |
		       (pair == PAIR_BAD ? A_BOLD : 0));
}

static void ui_attr_off(int pair, int extra)
{
	if (ui.color)
		attroff(COLOR_PAIR(pair) | extra);
	else
		attroff(extra | A_REVERSE | A_BOLD);
}

static void draw_hist(int y, int x, int h, int w, const char *title,
		      const struct msmvm_hist *hist, const char *unit)
{
	uint64_t max = 0;
	int first = -1, last = -1, rows;

	mvprintw(y++, x, "%-*.*s", w, w, title);
	h--;
	for (int i = 0; i < MSMVM_HIST_SLOTS; i++)
		if (hist->slots[i]) {
			if (first < 0)
				first = i;
			last = i;
			if (hist->slots[i] > max)
				max = hist->slots[i];
		}
	if (last < 0) {
		mvprintw(y, x, "  (no samples yet)");
		return;
	}
	rows = last - first + 1;
	if (rows > h)
		first = last - h + 1;
	for (int i = first; i <= last && y < LINES - 1; i++, y++) {
		uint64_t hi = i ? (1ULL << i) - 1 : 0;
		char label[24];
		int barw = w - 24, n;

		if (!strcmp(unit, "ns"))
			fmt_ns(label, sizeof(label), hi ? hi : 1);
		else
			snprintf(label, sizeof(label), "%" PRIu64, hi);
		mvprintw(y, x, "<=%8s %8" PRIu64 " ", label, (uint64_t)hist->slots[i]);
		n = barw > 0 ? (int)(hist->slots[i] * (uint64_t)barw / max) : 0;
		ui_attr_on(PAIR_OK, 0);
		for (int k = 0; k < n; k++)
			addch(ui.unicode ? ACS_CKBOARD : '#');
		ui_attr_off(PAIR_OK, 0);
	}
}

static void draw_help(void)
{
	static const char *const lines[] = {
		"msmvmtop keys",
		"",
		"  q          quit",
		"  h, ?       this help (any key closes it)",
		"  j/k, up/down  select a process",
		"  left/right scroll the process columns (PID, COMM and the sort",
		"             column stay)",
		"  Enter      detail view: wait latency and overcount histograms",
		"  s, >       sort by the next column;  <  the previous one",
		"  r          reverse the sort",
		"  Space      pause / resume",
		"  + / -      longer / shorter interval",
		"  p          filter processes and their VMs by pid (empty: all)",
		"",
		"WAIT_P50/P99 are log2-bucket upper bounds over the last interval;",
		"WAIT_MAX, OVER%, INTR and ERR are since start. stall = share of the",
		"interval with a thread of that VM in the throttle (PSI 'some').",
		"VM ids are OWNER_PID:the address's last 6 hex digits.",
	};
	int n = (int)(sizeof(lines) / sizeof(lines[0]));

	for (int i = 0; i < n && i + 1 < LINES - 1; i++)
		mvprintw(i + 1, 2, "%.*s", COLS - 4, lines[i]);
}

/* Once the command has ended, the status line says how, in place of the target, until q. */
static void note_command_end(void)
{
	char how[64];

	if (ui.cmd_status[0] || !msmvm_cli_command_exited())
		return;
	msmvm_command_describe(msmvm_cli_command(), how, sizeof(how));
	snprintf(ui.cmd_status, sizeof(ui.cmd_status), "%s %s", msmvm_cli_command()->argv[0], how);
}

static void draw_status(const struct msmvm_frame *f, const struct msmvm_plan *plan)
{
	char line[1024];

	snprintf(line, sizeof(line), " %s | %s hooks | drops %" PRIu64 " | missed %" PRIu64
		 " | q quit h help",
		 ui.cmd_status[0] ? ui.cmd_status : plan->target,
		 plan->kind == MSMVM_PLAN_DIRECT ? "direct" : "fallback",
		 f ? f->snap.health[MSMVM_H_RINGBUF_DROPS] : 0,
		 f ? f->snap.health[MSMVM_H_THREAD_STATE_MISSING] +
			 f->snap.health[MSMVM_H_JOB_STATE_MISSING] +
			 f->snap.health[MSMVM_H_MAP_UPDATE_FAILED] : 0);
	ui_attr_on(PAIR_HEAD, 0);
	mvprintw(LINES - 1, 0, "%-*.*s", COLS, COLS, line);
	ui_attr_off(PAIR_HEAD, 0);
}

/* The title: what is shown; on its right, the columns scrolled out of view, if any. */
static void draw_title(const struct msmvm_frame *f, const struct layout *L)
{
	char line[512], more[64] = "";
	int w = COLS;

	if (L && (L->hidden_left || L->hidden_right)) {
		snprintf(more, sizeof(more), " %s%d %s%d cols ", ui.unicode ? "←" : "<",
			 L->hidden_left, ui.unicode ? "→" : ">", L->hidden_right);
		w -= (int)strlen(more) - (ui.unicode ? 4 : 0);	/* the arrows take 3 bytes, 1 column */
		if (w < 0)
			w = 0;
	}
	/* two spaces between fields where they fit, one where not (80 columns and the marker) */
	for (int sep = 2; sep >= 1; sep--) {
		const char *g = sep == 2 ? "  " : " ";

		snprintf(line, sizeof(line), " msmvmtop%severy %.2gs%sbinds/s %.0f%spages/s %.0f%ssort %s %s%s%s",
			 g, env.interval, g, f ? f->binds_s : 0, g, f ? f->pages_s : 0, g,
			 cols[ui.sort].name, ui.reverse ? "asc" : "desc",
			 ui.paused ? " [paused]" : "", ui.filter_pid ? " [pid filter]" : "");
		if ((int)strlen(line) <= w)
			break;
	}
	ui_attr_on(PAIR_HEAD, A_BOLD);
	mvprintw(0, 0, "%-*.*s", COLS, COLS, "");
	mvprintw(0, 0, "%-*.*s", w, w, line);
	if (more[0] && w > 0)
		mvprintw(0, w, "%s", more);
	ui_attr_off(PAIR_HEAD, A_BOLD);
}

/* f NULL: the first interval is not over yet. */
static void draw(const struct msmvm_frame *f, const struct msmvm_plan *plan)
{
	struct msmvm_proc_row *rows = NULL;
	struct msmvm_vm_row *vms = NULL;
	struct layout L;
	char line[1024];
	int y = 1, n, nvms = 0, vms_shown, two_line, table_rows_avail, detail_h = 0;

	erase();
	layout_fit(&L, COLS);
	if (ui.help) {	/* on a clean screen: nothing of the view beneath */
		draw_title(f, NULL);
		draw_help();
		draw_status(f, plan);
		goto out;
	}
	if (!f) {
		draw_title(NULL, &L);
		mvprintw(y, 0, "%.*s", COLS, "(counting the first interval)");
		draw_status(NULL, plan);
		goto out;
	}
	rows = calloc((size_t)f->nprocs + 1, sizeof(*rows));
	vms = calloc((size_t)f->nvms + 1, sizeof(*vms));
	if (!rows || !vms)
		goto out;
	n = table_rows(f, rows);
	if (ui.selected_pid) {	/* keep the selection on the same process across frames */
		for (int i = 0; i < n; i++)
			if (rows[i].tgid == ui.selected_pid)
				ui.selected = i;
	}
	if (ui.selected >= n)
		ui.selected = n ? n - 1 : 0;
	if (n)
		ui.selected_pid = rows[ui.selected].tgid;
	draw_title(f, &L);

	/*
	 * Space: title, status, table header and every process row come first; then the
	 * detail view when asked for (at least 8 lines); then the VM gauges, two lines each
	 * (with the sparkline) where they fit, else one line each, else a count. The pid
	 * filter keeps the VMs of the processes it keeps.
	 */
	for (int i = 0; i < f->nvms; i++)
		if (!ui.filter_pid || f->vms[i].owner_tgid == ui.filter_pid)
			vms[nvms++] = f->vms[i];
	qsort(vms, (size_t)nvms, sizeof(*vms), cmp_vm_busy);
	{
		int spare = LINES - 3 - (n ? n : 1);
		int want = nvms;

		if (ui.detail && n && spare >= 8) {
			detail_h = spare - 2 * want - 1 >= 12 ? spare - 2 * want - 1 : 8;
			if (detail_h > 16)
				detail_h = 16;
			spare -= detail_h;
		}
		two_line = spare >= 2 * want;
		vms_shown = two_line ? want : spare >= want ? want : spare - 1;
		if (vms_shown < 0)
			vms_shown = 0;
	}
	for (int i = 0; i < vms_shown; i++) {
		int fill, barw;
		const struct msmvm_vm_row *v = &vms[i];

		vm_gauge_line(line, sizeof(line), v, COLS, &fill, &barw);
		mvprintw(y, 0, "%s", line);
		if (barw) {	/* colour the filled part of the bar */
			int x0 = (int)(strchr(line, '[') - line) + 1;
			int pair = v->in_flight > env.limit ? PAIR_BAD
				   : v->in_flight > env.limit * 3 / 4 ? PAIR_WARN : PAIR_OK;

			ui_attr_on(pair, A_BOLD);
			for (int k = 0; k < fill && x0 + k < COLS; k++)
				mvaddch(y, x0 + k, ui.unicode ? ACS_CKBOARD : '#');
			ui_attr_off(pair, A_BOLD);
		}
		y++;
		if (two_line) {
			char spark[512];

			vm_rates_line(line, sizeof(line), v);
			mvprintw(y, 0, "    %.*s", COLS - 4, line);
			if (v->drift) {	/* drift is a bug in the accounting: make it stand out */
				char *d = strstr(line, "drift");

				ui_attr_on(PAIR_BAD, A_BOLD);
				if (d && 4 + (d - line) < COLS)
					mvprintw(y, 4 + (int)(d - line), "%.*s", COLS - 4 - (int)(d - line),
						 d);
				ui_attr_off(PAIR_BAD, A_BOLD);
			}
			sparkline(spark, sizeof(spark), v, COLS - (int)strlen(line) - 7);
			if ((int)strlen(line) + 6 < COLS)
				mvprintw(y, (int)strlen(line) + 6, "%s", spark);
			y++;
		}
	}
	if (vms_shown < nvms && y < LINES - 3)
		mvprintw(y++, 0, "... and %d more VMs", nvms - vms_shown);

	/* process table */
	table_line(line, sizeof(line), NULL, &L, COLS);
	ui_attr_on(PAIR_HEAD, 0);
	mvprintw(y++, 0, "%-*.*s", COLS, COLS, line);
	ui_attr_off(PAIR_HEAD, 0);
	table_rows_avail = LINES - 1 - y - detail_h;
	{
		int first = ui.selected >= table_rows_avail ? ui.selected - table_rows_avail + 1 : 0;

		for (int i = first; i < n && y < LINES - 1 - detail_h; i++) {
			table_line(line, sizeof(line), &rows[i], &L, COLS);
			if (i == ui.selected)
				ui_attr_on(PAIR_SEL, 0);
			mvprintw(y++, 0, "%-*.*s", COLS, COLS, line);
			if (i == ui.selected)
				ui_attr_off(PAIR_SEL, 0);
		}
		if (!n)
			mvprintw(y++, 0, "(no VM_BIND yet%s)", ui.filter_pid ? " from this pid" : "");
		for (const char *h = sim_hint; !n && *h && y < LINES - 1 - detail_h; h += strnlen(h, COLS))
			mvprintw(y++, 0, "%.*s", COLS, h);
	}
	if (detail_h) {
		const struct msmvm_proc_row *r = &rows[ui.selected];
		int w = COLS / 2 - 1, yy = LINES - 1 - detail_h;
		char title[128], share[8];

		snprintf(title, sizeof(title), "wait latency, %u %s (since start)", r->tgid, r->comm);
		draw_hist(yy, 0, detail_h, w, title, &r->s->hist[MSMVM_HIST_WAIT_NS], "ns");
		msmvm_frame_share(share, sizeof(share), r->overcount_pct);
		snprintf(title, sizeof(title), "overcount per job, pages (%s%% unused)", share);
		draw_hist(yy, w + 2, detail_h, w, title, &r->s->hist[MSMVM_HIST_OVERCOUNT_PAGES],
			  "pages");
	} else if (ui.detail && !n) {
		mvprintw(LINES - 2, 0, "%.*s", COLS,
			 "(detail view: no process to show yet; it opens once one binds)");
	} else if (ui.detail) {
		mvprintw(LINES - 2, 0, "%.*s", COLS, "(terminal too small for the detail view)");
	}
	draw_status(f, plan);
out:
	refresh();
	free(rows);
	free(vms);
}

/* Read a pid on the status line; empty clears the filter. */
static void prompt_pid(void)
{
	char buf[16] = { 0 };
	char *end;
	long v;

	move(LINES - 1, 0);
	clrtoeol();
	mvprintw(LINES - 1, 0, "filter by pid (Enter: all): ");
	echo();
	nocbreak();
	cbreak();
	timeout(-1);
	getnstr(buf, sizeof(buf) - 1);
	noecho();
	v = strtol(buf, &end, 10);
	ui.filter_pid = buf[0] && !*end && v > 0 ? (uint32_t)v : 0;
	ui.selected = 0;
	ui.selected_pid = 0;
}

/* Returns true when the key changed the view. */
static bool handle_key(int ch, int nrows)
{
	static const double steps[] = { 0.25, 0.5, 1, 2, 5, 10 };
	int nsteps = (int)(sizeof(steps) / sizeof(steps[0]));

	if (ui.help && ch != ERR) {
		ui.help = false;
		return true;
	}
	switch (ch) {
	case 'q': case 'Q':
		exiting = 1;
		return false;
	case 'h': case '?':
		ui.help = true;
		return true;
	case KEY_DOWN: case 'j':
		if (ui.selected + 1 < nrows)
			ui.selected++;
		ui.selected_pid = 0;
		return true;
	case KEY_UP: case 'k':
		if (ui.selected > 0)
			ui.selected--;
		ui.selected_pid = 0;
		return true;
	case KEY_RIGHT: case KEY_LEFT: {
		struct layout L;

		layout_fit(&L, COLS);
		if (ch == KEY_RIGHT && L.hidden_right)
			ui.hscroll++;
		if (ch == KEY_LEFT && ui.hscroll > 0)
			ui.hscroll--;
		return true;
	}
	case '\n': case KEY_ENTER: case '\r':
		ui.detail = !ui.detail;
		return true;
	case 's': case '>':
		ui.sort = (enum col)((ui.sort + 1) % COL_COUNT_);
		return true;
	case '<':
		ui.sort = (enum col)((ui.sort + COL_COUNT_ - 1) % COL_COUNT_);
		return true;
	case 'r':
		ui.reverse = !ui.reverse;
		return true;
	case ' ':
		ui.paused = !ui.paused;
		return true;
	case '+': case '-': {
		int i = 0;

		while (i < nsteps - 1 && steps[i] < env.interval)
			i++;
		if (ch == '+' && steps[i] <= env.interval && i < nsteps - 1)
			i++;
		if (ch == '-' && i > 0)
			i--;
		env.interval = steps[i];
		return true;
	}
	case 'p':
		prompt_pid();
		return true;
	case KEY_RESIZE:
		return true;
	default:
		return false;
	}
}

static void screen_init(void)
{
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	ui.color = !env.no_color && !getenv("NO_COLOR") && has_colors();
	if (ui.color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_OK, COLOR_GREEN, -1);
		init_pair(PAIR_WARN, COLOR_YELLOW, -1);
		init_pair(PAIR_BAD, COLOR_RED, -1);
		init_pair(PAIR_HEAD, COLOR_BLACK, COLOR_CYAN);
		init_pair(PAIR_SEL, COLOR_BLACK, COLOR_WHITE);
	}
}

/*
 * Before attaching: a terminal ncurses can draw on. TERM=dumb (Emacs shells, some CI
 * consoles) cannot place a cursor: plain-text frames instead, said once. No TERM, or one
 * without a terminfo entry: ncurses would only say "Error opening terminal".
 */
static int check_terminal(void)
{
	const char *term = getenv("TERM");
	SCREEN *sc;
	FILE *null;

	if (term && !strcmp(term, "dumb")) {
		fprintf(stderr, "msmvmtop: TERM=dumb cannot draw the dashboard: printing text "
				"frames (-b) instead\n");
		env.batch = true;
		return 0;
	}
	if (!term || !*term) {
		fprintf(stderr, "msmvmtop: TERM is not set, so the dashboard cannot be drawn: set "
				"it (e.g. TERM=xterm-256color), or use -b (text frames) or --json\n");
		return -1;
	}
	/* newterm() returns NULL where initscr() would exit; drawn on /dev/null, not the tty */
	null = fopen("/dev/null", "we");
	sc = null ? newterm(NULL, null, stdin) : NULL;
	if (sc) {
		endwin();
		delscreen(sc);
	}
	if (null)
		fclose(null);
	if (!sc) {
		fprintf(stderr, "msmvmtop: the terminal type '%s' (TERM) has no terminfo entry: "
				"set TERM to one that does (e.g. xterm-256color), or use -b (text "
				"frames) or --json\n", term);
		return -1;
	}
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
	struct msmvm_frame cur = { 0 }, prev = { 0 };
	struct msmvm_history *hist = msmvm_history_new();
	struct msmvm_driver_watch watch;
	struct msmvm_snapshot snap;
	struct msmvm *m = NULL;
	struct msmvm_err err;
	bool have_prev = false, screen = false, unloaded = false, cmd_done = false;
	uint64_t t_start, t_next;
	long frames = 0;
	int ret = 0;

	setlocale(LC_ALL, "");
	ui.unicode = MB_CUR_MAX > 1;
	argp_err_exit_status = EXIT_USAGE;
	msmvm_cli_bind(&env.o);
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);	/* until attached: a reader gone is EPIPE, not death */
	env.o.throttle_limit = env.limit;
	if (!env.batch && !env.json && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "msmvmtop: not a terminal: use -b (text) or --json\n");
		return EXIT_USAGE;
	}
	if (!env.batch && !env.json && check_terminal())
		return EXIT_USAGE;

	if (msmvm_cli_command_prepare("msmvmtop"))
		return EXIT_RUNTIME;
	if (msmvm_open(&env.o, &m, &err) || msmvm_load(m, &err) || msmvm_attach(m, &err)) {
		fprintf(stderr, "msmvmtop: %s\n", err.msg);
		msmvm_close(m);
		msmvm_history_free(hist);
		return err.kind == MSMVM_E_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
	}
	t_start = msmvm_now_ns();	/* the probes count from here */
	msmvm_driver_watch_start(&watch, m);	/* gone already: the first poll says so */
	/* before initscr(): ncurses then leaves them to us, and endwin() below restores the tty */
	msmvm_cli_catch_signals(on_signal);
	if (msmvm_cli_command_start(m, "msmvmtop")) {
		msmvm_close(m);
		msmvm_history_free(hist);
		return EXIT_RUNTIME;
	}
	if (!env.batch && !env.json) {
		screen_init();
		screen = true;
	}

	/*
	 * The first frame comes an interval after the attach (on the screen at most a second),
	 * its rates over that time: the probes count from the attach on. The command's exit
	 * ends batch and JSON at once, with a last frame (said on stderr); the dashboard
	 * stays, its status line saying so, until q (said on stderr too once the screen is
	 * restored).
	 */
	t_next = t_start + (uint64_t)((screen && env.interval > 1 ? 1 : env.interval) * 1e9);
	while (!exiting && !unloaded) {
		do {
			/* rmmod: checked at least every 250 ms, whatever the interval */
			if (msmvm_driver_watch_poll(&watch) == MSMVM_DRIVER_UNLOADED) {
				unloaded = true;
				break;
			}
			if (screen) {
				int64_t wait_ms = ((int64_t)t_next - (int64_t)msmvm_now_ns()) / 1000000;

				/* draw, then wait for a key until the next frame is due */
				draw(have_prev ? &prev : NULL, msmvm_get_plan(m));
				timeout(wait_ms > 250 ? 250 : wait_ms > 0 ? (int)wait_ms : 0);
				handle_key(getch(), prev.nprocs);
				note_command_end();
			} else if ((cmd_done = msmvm_cli_command_exited())) {
				break;
			} else {
				struct timespec nap = { 0, 20 * 1000000 };

				nanosleep(&nap, NULL);
			}
		} while (!exiting && msmvm_now_ns() < t_next);
		if (exiting || unloaded || cmd_done)
			break;

		if (!ui.paused || !have_prev) {
			if (msmvm_snapshot(m, &snap, &err)) {
				ret = EXIT_RUNTIME;
				break;
			}
			msmvm_frame_build(&cur, &snap, have_prev ? &prev.snap : NULL, t_start, hist);
			if (have_prev)
				msmvm_frame_free(&prev);
			prev = cur;
			have_prev = true;
		}
		sim_hint[0] = 0;	/* sim_presence.c */
		if (screen && !prev.nprocs && msmvm_sim_running(m) == 0)
			msmvm_sim_hint(m, true, sim_hint, sizeof(sim_hint));
		if (env.json)
			print_json_frame(&prev, msmvm_get_plan(m));
		else if (env.batch)
			print_batch_frame(&prev, msmvm_get_plan(m));
		if ((env.json || env.batch) && env.frames && ++frames >= env.frames)
			break;
		t_next = msmvm_now_ns() + (uint64_t)(env.interval * 1e9);
	}
	if (screen)
		endwin();
	msmvm_cli_command_end("msmvmtop");	/* stopped and waited for if still running */
	if (unloaded)
		fprintf(stderr, "msmvmtop: driver module %s was unloaded; stopping (last state "
				"below, counted up to the unload)\n", msmvm_driver_watch_module(&watch));
	/*
	 * Batch/JSON cut short by a signal (SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE: a reader
	 * gone never sees it), or any mode ended by the driver's unload: one last
	 * frame, so nothing seen is lost (after the screen is restored: text on the terminal).
	 */
	if (((env.json || env.batch) && (exiting || cmd_done)) || unloaded) {
		if (msmvm_snapshot(m, &snap, &err) == 0) {
			msmvm_frame_build(&cur, &snap, have_prev ? &prev.snap : NULL, t_start, hist);
			if (env.json)
				print_json_frame(&cur, msmvm_get_plan(m));
			else
				print_batch_frame(&cur, msmvm_get_plan(m));
			msmvm_frame_free(&cur);
		} else if (!ret) {
			ret = EXIT_RUNTIME;
		}
	}
	if (ret)
		fprintf(stderr, "msmvmtop: %s\n", err.msg);
	/* batch, JSON: said once, at the end; not to a reader gone (| head) */
	else if (!screen && !msmvm_sim_seen(m, NULL) && !msmvm_cli_stdout_reader_gone())
		fprintf(stderr, "msmvmtop: %s\n", msmvm_sim_hint(m, false, sim_hint, sizeof(sim_hint)));
	if (have_prev)
		msmvm_frame_free(&prev);
	msmvm_history_free(hist);
	msmvm_close(m);
	if (msmvm_cli_stdout_end("msmvmtop") && !ret)
		ret = EXIT_RUNTIME;
	return ret;
}
