// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-trace's files, without probes: event streams built here (a fixed scene and random
 * ones) are written through libmsmvm, decoded by protoc against tests/trace.proto and
 * checked as trace_processor would read them (trace_check.h), then replayed; the replay must
 * give the totals computed here straight from the events. Also: files cut at every byte,
 * the size limit, drop marks, the flight recorder's window, the JSON format, write errors.
 *
 * Run with arguments, it is the checker the end-to-end scripts use:
 *   test_trace check [--allow-open] [--trace TRACE] FILE.txt
 *                                               protoc's text of a trace -> one JSON line
 *                                               (with TRACE, its bytes: checksums held to them)
 *   test_trace complete FILE                    bytes of whole packets at the file's start
 *   test_trace workload FILE                    the workload it loads to (JSON)
 *   test_trace flips FILE DIR POS...            DIR/POS.BIT: FILE with one bit flipped
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "msmvm/alert.h"
#include "msmvm/trace.h"
#include "msmvm/workload.h"
#include "trace_check.h"
#include "trace/internal.h"

static char tmpdir[64];

/* One path per name in a private directory, valid until cleanup(). */
static const char *tmp_path(const char *name)
{
	static char paths[32][256];
	static int n;

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/msmvm-test-trace-XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
	}
	for (int i = 0; i < n; i++)
		if (!strcmp(strrchr(paths[i], '/') + 1, name))
			return paths[i];
	if (n == 32)
		abort();
	snprintf(paths[n], sizeof(paths[0]), "%s/%s", tmpdir, name);
	return paths[n++];
}

static void cleanup(void)
{
	char cmd[128];

	if (tmpdir[0] && getenv("TEST_KEEP")) {	/* to look at the files */
		fprintf(stderr, "# kept %s\n", tmpdir);
	} else if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd))
			fprintf(stderr, "# could not remove %s\n", tmpdir);
	}
}

static char *slurp(const char *path, long long *len)
{
	FILE *f = fopen(path, "rb");
	char *d;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	d = malloc((size_t)n + 1);
	if (fread(d, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	d[n] = 0;
	fclose(f);
	if (len)
		*len = n;
	return d;
}

static bool have_protoc(void)
{
	return system("protoc --version >/dev/null 2>&1") == 0;
}

/* protoc's text of a trace (NULL, with a failed check, if protoc refuses it). */
static struct tnode *decode(const char *trace)
{
	char cmd[1024], err[256];
	const char *txt = tmp_path("decoded.txt");
	struct tnode *root;
	char *text;

	snprintf(cmd, sizeof(cmd), "protoc --decode=perfetto.protos.Trace -I tests "
		 "tests/trace.proto < '%s' > '%s' 2>&1", trace, txt);
	if (system(cmd)) {
		text = slurp(txt, NULL);
		FAILF("protoc cannot decode %s: %.300s", trace, text ? text : "");
		free(text);
		return NULL;
	}
	text = slurp(txt, NULL);
	root = text ? tnode_parse(text, err, sizeof(err)) : NULL;
	if (!root)
		FAILF("protoc's text does not parse: %s", err);
	free(text);
	return root;
}

/* The checks of trace_check.h, its checksums included; a file the recorder closed (not
 * `cut`) ends with its final checksum. */
static bool check_trace(const char *trace, bool allow_open, bool cut, struct tc_result *r)
{
	struct tnode *root = decode(trace);
	long long len;
	char *data;

	if (!root)
		return false;
	tc_check(root, allow_open, r);
	data = slurp(trace, &len);
	if (data)
		tc_check_checksums(root, (unsigned char *)data, len, r);
	else
		tc_error(r, "cannot read it back");
	if (!cut && !r->sealed)
		tc_error(r, "does not end with a checksum packet (%lld bytes after the last one)",
			 r->uncovered);
	free(data);
	tnode_free(root);
	for (int i = 0; i < r->errors && i < TC_MAX_ERRORS; i++)
		FAILF("%s: %s", trace, r->msgs[i]);
	return r->errors == 0;
}

static bool check_file(const char *trace, bool allow_open, struct tc_result *r)
{
	return check_trace(trace, allow_open, false, r);
}

/* ---- building events ---- */

#define MAXEV 20000

struct stream {
	struct msmvm_event ev[MAXEV];
	int n;
};

static struct msmvm_event *bind_ev(struct stream *s, uint32_t pid, uint32_t tid, const char *comm,
				   uint64_t vm, uint64_t start, uint64_t ret_ts, int ret)
{
	struct msmvm_event *e = &s->ev[s->n++];

	memset(e, 0, sizeof(*e));
	e->type = MSMVM_EV_BIND;
	e->pid = pid;
	e->tid = tid;
	snprintf(e->comm, sizeof(e->comm), "%s", comm);
	e->vm = vm;
	e->start_ns = start;
	e->ts_ns = ret_ts;
	e->ret = ret;
	return e;
}

static void counted(struct msmvm_event *e, uint64_t job, uint32_t count, uint64_t add_ns,
		    int64_t in_flight)
{
	e->counted = 1;
	e->job = job;
	e->count = count;
	e->add_ns = add_ns;
	e->in_flight = in_flight;
}

static void waited(struct msmvm_event *e, uint64_t ws, uint64_t we, bool slept, bool intr,
		   int win, int wout)
{
	e->wait_start_ns = ws;
	e->wait_end_ns = we;
	e->slept = slept;
	e->wait_ns = slept ? we - ws : 0;
	e->interrupted = intr;
	e->waiting_in = win;
	e->waiting_out = wout;
}

static struct msmvm_event *free_ev(struct stream *s, uint32_t pid, uint64_t vm, uint64_t job,
				   uint64_t start, uint64_t ts, uint32_t count, uint32_t used,
				   int64_t before, int64_t after, int64_t drift, bool in_ioctl)
{
	struct msmvm_event *e = &s->ev[s->n++];

	memset(e, 0, sizeof(*e));
	e->type = MSMVM_EV_FREE;
	e->pid = pid;
	e->tid = 9999;
	e->vm = vm;
	e->job = job;
	e->start_ns = start;
	e->ts_ns = ts;
	e->end_ns = ts + 50;
	e->count = count;
	e->used = used;
	e->in_flight = before;
	e->in_flight_after = after;
	e->drift = drift;
	e->in_ioctl = in_ioctl;
	return e;
}

/*
 * What the trace must replay to, counted here straight from the events with the trace's
 * documented mapping (counter values at the add, before and after each sub).
 */
struct expect_vm {
	uint32_t pid;
	uint64_t vm;
	struct msmvm_counters c;
	uint64_t inflight_ts;
	bool seen;
};

struct expect {
	struct expect_vm vms[64];
	int nvms;
	struct msmvm_counters total;
	long long binds, waits, intr, frees, jobs, drift_instants;
};

static struct expect_vm *evm(struct expect *x, uint32_t pid, uint64_t vm)
{
	for (int i = 0; i < x->nvms; i++)
		if (x->vms[i].pid == pid && x->vms[i].vm == vm)
			return &x->vms[i];
	x->vms[x->nvms] = (struct expect_vm){ .pid = pid, .vm = vm };
	return &x->vms[x->nvms++];
}

static void point(struct expect_vm *v, uint64_t ts, int64_t value)
{
	if (value > v->c.peak_in_flight)
		v->c.peak_in_flight = value;
	if (!v->seen || ts >= v->inflight_ts) {
		v->c.in_flight = value;
		v->inflight_ts = ts;
		v->seen = true;
	}
}

static void expect_of(const struct stream *s, struct expect *x)
{
	memset(x, 0, sizeof(*x));
	for (int i = 0; i < s->n; i++) {
		const struct msmvm_event *e = &s->ev[i];
		struct expect_vm *v = evm(x, e->pid, e->vm);

		if (e->type == MSMVM_EV_BIND) {
			v->c.binds++;
			v->c.ops += e->nr_ops;
			v->c.errors += e->ret < 0;
			if (e->counted) {
				v->c.pages_counted += e->count;
				point(v, e->add_ns, e->in_flight);
			}
			if (e->slept) {
				v->c.waits++;
				v->c.wait_ns_total += e->wait_ns;
				if (e->wait_ns > v->c.wait_ns_max)
					v->c.wait_ns_max = e->wait_ns;
			}
			v->c.interrupted_waits += e->interrupted;
		} else {
			point(v, e->ts_ns, e->in_flight);
			v->c.pages_used += e->used;
			v->c.drift += e->drift;
			point(v, e->end_ns, e->in_flight_after);
			x->frees++;
			x->jobs += e->start_ns != 0;
			x->drift_instants += e->drift != 0;
		}
	}
	/*
	 * The totals, summed here field by field rather than through the counter table: an
	 * oracle of its own, so a wrong kind in the table (a maximum summed, a total maxed)
	 * shows as a mismatch with the replay.
	 */
	for (int i = 0; i < x->nvms; i++) {
		const struct msmvm_counters *c = &x->vms[i].c;

		x->total.binds += c->binds;
		x->total.ops += c->ops;
		x->total.errors += c->errors;
		x->total.pages_counted += c->pages_counted;
		x->total.pages_used += c->pages_used;
		x->total.waits += c->waits;
		x->total.interrupted_waits += c->interrupted_waits;
		x->total.wait_ns_total += c->wait_ns_total;
		x->total.drift += c->drift;
		x->total.in_flight += c->in_flight;
		if (c->wait_ns_max > x->total.wait_ns_max)
			x->total.wait_ns_max = c->wait_ns_max;
		if (c->peak_in_flight > x->total.peak_in_flight)
			x->total.peak_in_flight = c->peak_in_flight;
	}
	x->binds = (long long)x->total.binds;
	x->waits = (long long)x->total.waits;
	x->intr = (long long)x->total.interrupted_waits;
}

static void check_counters(const char *where, const struct msmvm_counters *got,
			   const struct msmvm_counters *want)
{
	for (int i = 0; i < MSMVM_NCOUNTERS; i++)
		if (msmvm_counter_value(got, i) != msmvm_counter_value(want, i))
			FAILF("%s %s: replay %lld, events %lld", where, msmvm_counter_table[i].name,
			      (long long)msmvm_counter_value(got, i),
			      (long long)msmvm_counter_value(want, i));
}

static int write_trace(const char *path, const struct stream *s, enum msmvm_trace_format fmt,
		       uint64_t max_bytes, struct msmvm_trace_stats *st)
{
	struct msmvm_trace_opts o = { .format = fmt, .max_bytes = max_bytes, .t0_ns = 1000 };
	static const struct msmvm_plan plan = { .kind = MSMVM_PLAN_DIRECT, .target = "test scene",
						.reason = "built by test_trace", .arch = "x86" };
	uint64_t health[MSMVM_H_COUNT_] = { [MSMVM_H_EVENTS] = 7 };
	struct msmvm_trace *t;
	struct msmvm_err err;
	int ret = 0;

	o.plan = &plan;
	if (msmvm_trace_create(path, &o, &t, &err)) {
		FAILF("create %s: %s", path, err.msg);
		return -1;
	}
	for (int i = 0; i < s->n && !ret; i++)
		ret = msmvm_trace_add(t, &s->ev[i]);
	if (msmvm_trace_close(t, health, st, &err)) {
		FAILF("close %s: %s", path, err.msg);
		return -1;
	}
	return ret;
}

/* A fixed scene: two processes, the same VM address in both, every kind of call and free. */
static void scene(struct stream *s)
{
	struct msmvm_event *e;
	const uint64_t A = 0x55aa00001000ULL;

	s->n = 0;
	/* a bind that waits, then its job, which overlaps the next one */
	e = bind_ev(s, 100, 101, "app", A, 2000, 9000, 0);
	e->nr_ops = 3;
	e->queue_id = 1;
	waited(e, 2100, 8000, true, false, 1, 0);
	counted(e, 0x1000, 9, 8000, 1033);
	e = bind_ev(s, 100, 102, "app-worker", A, 3000, 9500, 0);
	e->nr_ops = 1;
	counted(e, 0x2000, 3, 9400, 1036);
	free_ev(s, 100, A, 0x1000, 9000, 12000, 9, 4, 1036, 1027, 0, false);
	/* a bad op: no count */
	e = bind_ev(s, 100, 101, "app", A, 12500, 12600, -22);
	e->nr_ops = 2;
	/* interrupted: its job freed in the ioctl first (count never added: drift -3) */
	free_ev(s, 100, A, 0x3000, 0, 13500, 3, 0, 1027, 1024, -3, true);
	e = bind_ev(s, 100, 102, "app-worker", A, 13000, 14000, -512);
	e->nr_ops = 1;
	waited(e, 13100, 13400, true, true, 1, 0);
	free_ev(s, 100, A, 0x2000, 9500, 15000, 3, 1, 1024, 1021, 0, false);
	/* the scheduler frees a job before its VM_BIND returns: the free comes first */
	free_ev(s, 100, A, 0x5000, 0, 16500, 6, 6, 1027, 1021, 0, false);
	e = bind_ev(s, 100, 101, "app", A, 16000, 17000, 0);
	e->nr_ops = 2;
	counted(e, 0x5000, 6, 16400, 1027);
	/* another process, the same VM address: another VM; a failed allocation (drift +5) */
	e = bind_ev(s, 200, 201, "game", A, 18000, 19000, -12);
	e->nr_ops = 4;
	counted(e, 0x6000, 5, 18500, 5);
	free_ev(s, 200, A, 0x6000, 0, 18800, 0, 0, 5, 5, 5, true);
	/* a job still in flight at the end */
	e = bind_ev(s, 200, 201, "game", A, 20000, 21000, 0);
	e->nr_ops = 1;
	counted(e, 0x7000, 3, 20500, 8);
}

TEST(scene_decodes_and_holds_trace_processors_invariants)
{
	static struct stream s;
	struct msmvm_trace_stats st;
	struct tc_result r;
	const char *path = tmp_path("scene.perfetto-trace");

	if (!have_protoc())
		SKIP("protoc is not installed");
	scene(&s);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, &st))
		return;
	CHECK_EQ(st.events, s.n);
	if (!check_file(path, true, &r))
		return;
	CHECK_EQ(tc_get(r.slices, r.nslices, "VM_BIND"), 7);
	CHECK_EQ(tc_get(r.slices, r.nslices, "throttle wait"), 2);
	CHECK_EQ(tc_get(r.slices, r.nslices, "job"), 2);	/* the ones with a lifetime */
	CHECK_EQ(tc_get(r.instants, r.ninstants, "wait interrupted"), 1);
	CHECK_EQ(tc_get(r.instants, r.ninstants, "job freed in VM_BIND"), 2);
	CHECK_EQ(tc_get(r.instants, r.ninstants, "job freed"), 1);
	CHECK_EQ(tc_get(r.instants, r.ninstants, "drift"), 2);
	CHECK_EQ(r.open_slices, 1);			/* the job in flight at the end */
	CHECK_EQ(r.flows, 4);				/* 4 jobs queued: 3 freed + 1 in flight */
	CHECK(r.has_stats);
	CHECK_EQ(tc_get(r.stats, r.nstats, "events_recorded"), s.n);
	CHECK_EQ(tc_get(r.stats, r.nstats, "events"), 7);	/* the probes' health, as given */
	CHECK_EQ(r.loss_marks, 0);
	CHECK_EQ(st.trace_events, r.track_events);
	CHECK_EQ(st.bytes, (long long)({ struct stat sb; stat(path, &sb) ? -1 : sb.st_size; }));
}

TEST(scene_replays_to_its_totals)
{
	static struct stream s;
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	struct expect x;
	const char *path = tmp_path("scene2.perfetto-trace");

	scene(&s);
	expect_of(&s, &x);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	if (msmvm_trace_replay(path, 0, &snap, &info, &err)) {
		FAILF("replay: %s", err.msg);
		return;
	}
	check_counters("totals", &snap.totals.c, &x.total);
	CHECK_EQ(snap.nprocs, 2);
	CHECK_EQ(snap.nvms, 2);
	for (int i = 0; i < snap.nvms; i++) {
		struct expect_vm *v = evm(&x, snap.vms[i].owner_tgid, snap.vms[i].vm);

		check_counters("vm", &snap.vms[i].s.c, &v->c);
	}
	CHECK_EQ(x.total.drift, 2);
	CHECK_EQ(snap.totals.c.errno_counts[MSMVM_ERR_EINVAL], 1);
	CHECK_EQ(snap.totals.c.errno_counts[MSMVM_ERR_RESTART], 1);
	CHECK_EQ(snap.totals.c.errno_counts[MSMVM_ERR_ENOMEM], 1);
	/* histograms: pages per bind 9, 3, 6, 5, 3; overcount of the freed jobs with pages */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_PAGES_PER_BIND].slots[4], 1);	/* 9 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_PAGES_PER_BIND].slots[3], 2);	/* 6, 5 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_PAGES_PER_BIND].slots[2], 2);	/* 3, 3 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_WAIT_NS].slots[13], 1);		/* 5900 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_WAIT_NS].slots[9], 1);		/* 300 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_IOCTL_NS].slots[13], 2);		/* 7000, 6500 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_OVERCOUNT_PAGES].slots[3], 1);	/* 9-4 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_OVERCOUNT_PAGES].slots[2], 2);	/* 3-0, 3-1 */
	CHECK_EQ(snap.totals.hist[MSMVM_HIST_OVERCOUNT_PAGES].slots[0], 1);	/* 6-6 */
	for (int i = 0; i < snap.nprocs; i++)
		CHECK(!strcmp(snap.procs[i].comm, snap.procs[i].tgid == 100 ? "app" : "game"));
	CHECK(info.finished);
	CHECK(!info.truncated);
	CHECK_EQ(info.events, s.n);
	CHECK(!strcmp(info.plan.target, "test scene"));
	CHECK_EQ(info.health[MSMVM_H_EVENTS], 7);
	msmvm_snapshot_free(&snap);

	/* -p: one process only */
	if (msmvm_trace_replay(path, 200, &snap, &info, &err) == 0) {
		CHECK_EQ(snap.nprocs, 1);
		CHECK_EQ(snap.totals.c.binds, 2);
		CHECK_EQ(snap.totals.c.drift, 5);
		msmvm_snapshot_free(&snap);
	}
}

/* ---- random streams: many threads and VMs, jobs overlapping at random ---- */

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return n ? (rng_state >> 33) % n : 0;
}

struct pending_job {
	uint32_t pid;
	uint64_t vm, job, bind_ret;
	uint32_t count;
};

static void random_stream(struct stream *s, uint64_t seed, int nevents)
{
	struct pending_job jobs[512];
	uint64_t thread_free_at[8] = { 0 }, t = 1000000, next_job = 0x10000;
	int njobs = 0;
	int64_t inflight = 0;

	rng_state = seed;
	s->n = 0;
	while (s->n < nevents - 2) {
		unsigned th = (unsigned)rnd(8);
		uint32_t pid = 1000 + th / 3, tid = 2000 + th;
		uint64_t vm = 0x7f0000000000ULL + (th % 2) * 0x1000;

		t += 1 + rnd(5000);
		if (rnd(3) && njobs) {		/* a job is freed */
			int k = rnd(4) ? 0 : (int)rnd((uint64_t)njobs);
			struct pending_job j = jobs[k];
			uint32_t used = (uint32_t)rnd(j.count + 1);

			memmove(&jobs[k], &jobs[k + 1], (size_t)(njobs - k - 1) * sizeof(jobs[0]));
			njobs--;
			free_ev(s, j.pid, j.vm, j.job, j.bind_ret, t, j.count, used, inflight,
				inflight - j.count, rnd(20) ? 0 : (int64_t)rnd(7) - 3, false);
			inflight -= j.count;
		} else {			/* a VM_BIND returns */
			uint64_t start = t - rnd(3000), ws, we;
			struct msmvm_event *e;
			int kind = (int)rnd(10);
			char comm[16];

			if (start <= thread_free_at[th])
				start = thread_free_at[th] + 1;
			if (start >= t)
				t = start + 10;
			snprintf(comm, sizeof(comm), "proc%u", pid);
			ws = start + rnd(t - start);
			we = ws + rnd(t - ws);
			if (kind == 0) {	/* interrupted, freed inside */
				free_ev(s, pid, vm, next_job, 0, we, 5, 0, inflight, inflight - 5, -5,
					true);
				inflight -= 5;
			}
			e = bind_ev(s, pid, tid, comm, vm, start, t,
				    kind == 0 ? -512 : kind == 1 ? -22 : 0);
			e->nr_ops = (uint32_t)rnd(300);
			e->queue_id = th;
			if (kind == 0) {
				waited(e, ws, we, rnd(2), true, 1 + (int)rnd(3), (int)rnd(3));
			} else if (kind >= 2) {
				uint32_t count = (uint32_t)rnd(1500);

				inflight += count;
				waited(e, ws, we, kind >= 6, false, kind >= 6 ? 1 + (int)rnd(3) : 0,
				       (int)rnd(3));
				counted(e, next_job, count, we, inflight);
				if (njobs < 512)
					jobs[njobs++] = (struct pending_job){ pid, vm, next_job, t, count };
			}
			thread_free_at[th] = t;
			next_job += 0x100;
		}
	}
}

/*
 * The counter table is the outputs' contract: its order is the order of every text, JSON
 * and Prometheus listing, and its kinds say how counters combine. Values with the top bit
 * set tell a signed maximum from an unsigned one.
 */
TEST(the_counter_table_keeps_the_summary_order_and_combines_by_kind)
{
	static const char *const order[] = {
		"binds", "ops", "errors", "pages_counted", "pages_used", "pages_overcount", "waits",
		"interrupted_waits", "wait_ns_total", "wait_ns_max", "peak_in_flight", "in_flight",
		"drift",
	};
	static const char *const families[] = {
		"msmvm_binds_total counter", "msmvm_ops_total counter", "msmvm_errors_total counter",
		"msmvm_pages_counted_total counter", "msmvm_pages_used_total counter",
		"msmvm_waits_total counter", "msmvm_interrupted_waits_total counter",
		"msmvm_in_flight_pages gauge", "msmvm_peak_in_flight_pages gauge",
		"msmvm_drift_pages gauge", "msmvm_waiters gauge",
	};
	struct msmvm_stats a = { 0 }, b = { 0 };
	struct msmvm_counters d;
	struct msmvm_vm_snap vm = { .vm = 0x1000, .owner_tgid = 7 };
	struct msmvm_snapshot snap = { .nvms = 1, .vms = &vm };
	size_t len, nfam = 0;
	char *text, *line;

	CHECK_EQ(MSMVM_NCOUNTERS, sizeof(order) / sizeof(order[0]));
	for (int i = 0; i < MSMVM_NCOUNTERS && i < (int)(sizeof(order) / sizeof(order[0])); i++)
		if (strcmp(msmvm_counter_table[i].name, order[i]))
			FAILF("counter %d is %s, the outputs list %s", i,
			      msmvm_counter_table[i].name, order[i]);

	a.c.binds = 3;
	a.c.pages_counted = 10;
	a.c.pages_used = 4;
	a.c.wait_ns_max = 5;
	a.c.peak_in_flight = -1;
	a.c.in_flight = 2;
	a.c.drift = -3;
	a.c.errno_counts[MSMVM_ERR_ENOMEM] = 1;
	b.c.binds = 4;
	b.c.pages_counted = 1;
	b.c.wait_ns_max = 1ULL << 63;
	b.c.peak_in_flight = INT64_MIN;
	b.c.in_flight = 5;
	b.c.drift = 1;
	b.c.errno_counts[MSMVM_ERR_ENOMEM] = 2;
	msmvm_stats_merge(&a, &b);
	CHECK_EQ(a.c.binds, 7);
	CHECK_EQ(msmvm_counter_value(&a.c, MSMVM_CTR_pages_overcount), 7);
	CHECK(a.c.wait_ns_max == 1ULL << 63);		/* unsigned */
	CHECK_EQ(a.c.peak_in_flight, -1);		/* signed */
	CHECK_EQ(a.c.in_flight, 7);
	CHECK_EQ(a.c.drift, -2);
	CHECK_EQ(a.c.errno_counts[MSMVM_ERR_ENOMEM], 3);

	msmvm_counters_delta(&d, &a.c, &b.c);		/* totals and drift: a - b */
	CHECK_EQ(d.binds, 3);
	CHECK_EQ(d.pages_counted, 10);
	CHECK_EQ(d.drift, -3);
	CHECK(d.wait_ns_max == 1ULL << 63);		/* the rest as they are */
	CHECK_EQ(d.peak_in_flight, -1);
	CHECK_EQ(d.in_flight, 7);

	/* Prometheus: the families in the order they always had, TYPE as the kind says */
	text = msmvm_prometheus_text(&snap, NULL, &len);
	CHECK(text != NULL);
	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, "# TYPE ", 7) || nfam >= sizeof(families) / sizeof(families[0]))
			continue;
		if (strncmp(line + 7, families[nfam], strlen(families[nfam])))
			FAILF("family %zu: %.*s, expected %s", nfam, (int)strcspn(line + 7, "\n"),
			      line + 7, families[nfam]);
		nfam++;
	}
	CHECK_EQ(nfam, sizeof(families) / sizeof(families[0]));
	free(text);
}

TEST(random_streams_hold_the_invariants_and_replay_exactly)
{
	static struct stream s;
	const char *path = tmp_path("random.perfetto-trace");
	bool protoc = have_protoc();

	for (uint64_t seed = 1; seed <= 12; seed++) {
		struct msmvm_trace_info info;
		struct msmvm_snapshot snap;
		struct msmvm_err err;
		struct tc_result r;
		struct expect x;
		int before = harness_failed_checks;

		random_stream(&s, seed, 3000);
		expect_of(&s, &x);
		if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
			return;
		if (protoc && check_file(path, true, &r)) {
			CHECK_EQ(tc_get(r.slices, r.nslices, "VM_BIND"), x.binds);
			CHECK_EQ(tc_get(r.slices, r.nslices, "throttle wait"), x.waits);
			CHECK_EQ(tc_get(r.instants, r.ninstants, "wait interrupted"), x.intr);
			CHECK_EQ(tc_get(r.slices, r.nslices, "job") + r.open_slices, x.jobs + r.open_slices);
			CHECK_EQ(tc_get(r.instants, r.ninstants, "drift"), x.drift_instants);
		}
		if (msmvm_trace_replay(path, 0, &snap, &info, &err)) {
			FAILF("replay: %s", err.msg);
			return;
		}
		check_counters("totals", &snap.totals.c, &x.total);
		CHECK_EQ(snap.nvms, x.nvms);
		for (int i = 0; i < snap.nvms; i++)
			check_counters("vm", &snap.vms[i].s.c,
				       &evm(&x, snap.vms[i].owner_tgid, snap.vms[i].vm)->c);
		CHECK_EQ(info.events, s.n);
		msmvm_snapshot_free(&snap);
		if (harness_failed_checks != before) {
			printf("#   seed %llu\n", (unsigned long long)seed);
			return;
		}
	}
}

/* ---- files cut short ---- */

/* Where the last checksum packet wholly in the first n bytes of d ends (0: none). */
static long long ck_end_before(const unsigned char *d, long long n)
{
	long long off = 0, end, body, last = 0;

	while ((end = tc_packet_end(d, n, off, &body)) >= 0) {
		/* TracePacket { 10: 1, 777: {...} }: 50 01 ca 30 */
		if (end - body >= 4 && !memcmp(d + body, "\x50\x01\xca\x30", 4))
			last = end;
		off = end;
	}
	return last;
}

TEST(a_file_cut_anywhere_reads_up_to_its_last_whole_packet)
{
	static struct stream s;
	const char *path = tmp_path("whole.perfetto-trace"), *cut = tmp_path("cut.perfetto-trace");
	long long len, last_prefix = -1, tried = 0, stats_end;
	unsigned char *data;

	scene(&s);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	data = (unsigned char *)slurp(path, &len);
	stats_end = tc_complete_prefix(data, len - 1);	/* the final checksum's start */
	for (long long n = 0; n <= len; n += n + 1 >= stats_end && n < len ? 1 : 1 + n / 40) {
		long long prefix = tc_complete_prefix(data, n), ck_end = ck_end_before(data, n);
		struct msmvm_trace_info info;
		struct msmvm_snapshot snap;
		struct msmvm_err err;
		FILE *f = fopen(cut, "wb");

		fwrite(data, 1, (size_t)n, f);
		fclose(f);
		tried++;
		if (msmvm_trace_replay(cut, 0, &snap, &info, &err)) {
			/* only a file without its header is refused */
			if (!strstr(err.msg, "no recording header"))
				FAILF("cut at %lld: %s", n, err.msg);
			continue;
		}
		CHECK_EQ(info.truncated, prefix != n);
		CHECK_EQ(info.bytes, prefix);
		/* the final stats, then the final checksum */
		CHECK_EQ(info.finished, n >= stats_end);
		CHECK_EQ(info.damaged, 0);
		CHECK_EQ(info.unverified, n == len || !ck_end ? 0 : (uint64_t)(n - ck_end));
		msmvm_snapshot_free(&snap);
		if (have_protoc() && prefix != last_prefix && n > len / 2) {
			struct tc_result r;

			f = fopen(cut, "wb");
			fwrite(data, 1, (size_t)prefix, f);
			fclose(f);
			check_trace(cut, true, true, &r);
			last_prefix = prefix;
		}
	}
	CHECK(tried > 40);
	free(data);
}

TEST(the_size_limit_leaves_a_whole_file_with_its_stats)
{
	static struct stream s;
	const char *path = tmp_path("limited.perfetto-trace");
	struct msmvm_trace_stats st;
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	struct tc_result r;
	struct stat sb;
	int ret;

	random_stream(&s, 99, 3000);
	ret = write_trace(path, &s, MSMVM_TRACE_PERFETTO, 20000, &st);
	CHECK_EQ(ret, 1);
	if (stat(path, &sb))
		return;
	CHECK_LE(sb.st_size, 20000 + 1024);	/* the stats may pass the limit, by little */
	CHECK(st.events > 0 && st.events < (uint64_t)s.n);
	if (have_protoc() && check_file(path, false, &r)) {
		CHECK(r.has_stats);
		CHECK_EQ(tc_get(r.stats, r.nstats, "events_recorded"), st.events);
	}
	if (msmvm_trace_replay(path, 0, &snap, &info, &err) == 0) {
		CHECK(info.finished);
		CHECK_EQ(info.events, st.events);
		msmvm_snapshot_free(&snap);
	}
}

TEST(drops_are_marked_where_seen_and_counted_at_the_end)
{
	static struct stream s;
	const char *path = tmp_path("drops.perfetto-trace");
	struct msmvm_trace_opts o = { .t0_ns = 1000 };
	uint64_t health[MSMVM_H_COUNT_] = { [MSMVM_H_RINGBUF_DROPS] = 12 };
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_trace *t;
	struct msmvm_err err;
	struct tc_result r;

	scene(&s);
	if (msmvm_trace_create(path, &o, &t, &err)) {
		FAILF("%s", err.msg);
		return;
	}
	for (int i = 0; i < s.n; i++) {
		if (i == 3)
			msmvm_trace_dropped(t, 5);
		if (i == 8)
			msmvm_trace_dropped(t, 9);
		msmvm_trace_add(t, &s.ev[i]);
	}
	msmvm_trace_dropped(t, 9);	/* no news: no mark */
	if (msmvm_trace_close(t, health, NULL, &err)) {
		FAILF("%s", err.msg);
		return;
	}
	if (have_protoc() && check_file(path, true, &r)) {
		CHECK_EQ(r.loss_marks, 2);
		CHECK_EQ(tc_get(r.instants, r.ninstants, "events lost"), 2);
		CHECK_EQ(tc_get(r.stats, r.nstats, "dropped_total"), 12);
		CHECK_EQ(tc_get(r.stats, r.nstats, "ringbuf_drops"), 12);
	}
	if (msmvm_trace_replay(path, 0, &snap, &info, &err) == 0) {
		CHECK_EQ(info.dropped, 12);
		CHECK_EQ(info.loss_marks, 2);
		CHECK_EQ(snap.health[MSMVM_H_RINGBUF_DROPS], 12);
		msmvm_snapshot_free(&snap);
	}
}

TEST(the_flight_recorder_writes_its_window)
{
	static struct stream s;
	const char *path = tmp_path("ring.perfetto-trace");
	struct msmvm_trace_opts o = { .t0_ns = 1000 };
	struct msmvm_trace_ring *ring = msmvm_trace_ring_new(2000000ULL, 0);
	struct msmvm_trace_stats st;
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	struct tc_result r;
	uint64_t now, in_window = 0;
	static struct stream win;

	random_stream(&s, 7, 3000);
	for (int i = 0; i < s.n; i++)
		msmvm_trace_ring_add(ring, &s.ev[i]);
	now = s.ev[s.n - 1].ts_ns;
	win.n = 0;
	for (int i = 0; i < s.n; i++)
		if (s.ev[i].ts_ns + 2000000ULL >= now) {
			in_window++;
			win.ev[win.n++] = s.ev[i];
		}
	CHECK(in_window > 100 && in_window < (uint64_t)s.n);
	if (msmvm_trace_ring_dump(ring, now, path, &o, NULL, &st, &err)) {
		FAILF("%s", err.msg);
		msmvm_trace_ring_free(ring);
		return;
	}
	CHECK_EQ(st.events, in_window);
	if (have_protoc())
		check_file(path, true, &r);
	if (msmvm_trace_replay(path, 0, &snap, &info, &err) == 0) {
		struct expect x;

		expect_of(&win, &x);
		check_counters("window", &snap.totals.c, &x.total);
		msmvm_snapshot_free(&snap);
	}
	/* a dump later: the window moved on, nothing is left in it */
	if (msmvm_trace_ring_dump(ring, now + 1000000000ULL, path, &o, NULL, &st, &err) == 0)
		CHECK_EQ(st.events, 0);
	msmvm_trace_ring_free(ring);
}

/* ---- the flight recorder's memory: chunks, freed as the window moves on ---- */

#define RW_WINDOW 1000000ULL		/* 1 ms */
#define RW_MAX 60000

/* Bind number i of a recorder test: its number in queue_id, a slice ending at ts. */
static void rw_event(struct msmvm_event *e, uint32_t i, uint64_t ts)
{
	memset(e, 0, sizeof(*e));
	e->type = MSMVM_EV_BIND;
	e->pid = 77;
	e->tid = 78;
	snprintf(e->comm, sizeof(e->comm), "window");
	e->vm = 0x7f0000001000ULL;
	e->start_ns = ts - 10;
	e->ts_ns = ts;
	e->nr_ops = 1;
	e->queue_id = i;
}

/* What a dump holds, read back: the VM_BIND slices' numbers and start times. */
struct rw_read {
	uint32_t n, bad;
	uint32_t *ids;
	uint64_t *starts;
};

static void rw_on_event(void *ctx, const struct tr_ev *e)
{
	struct rw_read *rd = ctx;

	if (e->type != TE_BEGIN || e->name != TN_VM_BIND)
		return;
	for (int a = 0; a < e->nargs; a++)
		if (e->args[a].key == TK_QUEUE_ID) {
			if (rd->n == RW_MAX) {
				rd->bad++;
				return;
			}
			rd->ids[rd->n] = (uint32_t)e->args[a].u;
			rd->starts[rd->n++] = e->ts;
			return;
		}
	rd->bad++;
}

/*
 * Dump at now and check the file holds exactly the events pushed (ts[0..pushed-1]) whose
 * time is within the window before now: each once, none other, at its time.
 */
static void rw_check_dump(struct msmvm_trace_ring *ring, const uint64_t *ts, uint32_t pushed,
			  uint64_t window, uint64_t now, const char *what)
{
	static uint32_t ids[RW_MAX];
	static uint64_t starts[RW_MAX];
	static uint8_t seen[RW_MAX];
	const char *path = tmp_path("window.perfetto-trace");
	struct msmvm_trace_opts o = { .t0_ns = 1000 };
	struct rw_read rd = { .ids = ids, .starts = starts };
	struct tr_reader_cb cb = { .ctx = &rd, .event = rw_on_event };
	struct msmvm_trace_stats st;
	struct tr_read_info ri;
	struct msmvm_err err;
	uint32_t want = 0, got = 0;

	if (msmvm_trace_ring_dump(ring, now, path, &o, NULL, &st, &err)) {
		FAILF("%s: dump: %s", what, err.msg);
		return;
	}
	if (tr_read_file(path, 0, &cb, &ri, &err)) {
		FAILF("%s: reading the dump: %s", what, err.msg);
		return;
	}
	memset(seen, 0, sizeof(seen));
	for (uint32_t k = 0; k < rd.n; k++) {
		uint32_t i = rd.ids[k];

		if (i >= pushed) {
			FAILF("%s: the dump holds event %u, never pushed", what, i);
			return;
		}
		if (seen[i]++) {
			FAILF("%s: event %u is in the dump twice", what, i);
			return;
		}
		if (ts[i] + window < now) {
			FAILF("%s: event %u (ts %" PRIu64 ") is older than the window before %" PRIu64,
			      what, i, ts[i], now);
			return;
		}
		if (rd.starts[k] != ts[i] - 10) {
			FAILF("%s: event %u starts at %" PRIu64 ", pushed at %" PRIu64, what, i,
			      rd.starts[k], ts[i] - 10);
			return;
		}
	}
	for (uint32_t i = 0; i < pushed; i++)
		if (ts[i] + window >= now) {
			want++;
			got += seen[i];
			if (!seen[i] && want - got == 1)
				FAILF("%s: event %u (ts %" PRIu64 ") is in the window but not in the dump",
				      what, i, ts[i]);
		}
	CHECK_EQ(rd.bad, 0);
	CHECK_EQ(rd.n, want);
	CHECK_EQ(st.events, want);
	CHECK(!ri.truncated);
}

/* Chunks the events of a window need at most, with one part-used at either end and a spare. */
static uint64_t rw_bound(uint64_t events)
{
	uint64_t per = (TR_RING_CHUNK_BYTES - 256) / sizeof(struct msmvm_event);

	return ((events + per - 1) / per + 3) * TR_RING_CHUNK_BYTES;
}

TEST(the_flight_recorder_keeps_the_last_window_in_bounded_memory)
{
	/* 30 windows: 1000 events a window, a burst of 10000 a window in windows 10 and 11 */
	static uint64_t ts[RW_MAX];
	struct msmvm_trace_ring *ring = msmvm_trace_ring_new(RW_WINDOW, 0);
	struct msmvm_event e;
	uint64_t t = 5000000, peak = 0, peak_quiet = 0, lo = 0;
	uint32_t n = 0;
	bool dumped_burst = false;

	if (!ring) {
		FAILF("msmvm_trace_ring_new");
		return;
	}
	while (t < 5000000 + 30 * RW_WINDOW && n < RW_MAX) {
		uint64_t w = (t - 5000000) / RW_WINDOW, bytes, in_window;

		rw_event(&e, n, t);
		ts[n++] = t;
		if (msmvm_trace_ring_add(ring, &e)) {
			FAILF("msmvm_trace_ring_add: event %u", n - 1);
			break;
		}
		while (ts[lo] + RW_WINDOW < t)
			lo++;
		in_window = n - lo;
		/* the recorder holds exactly what the window holds */
		if (msmvm_trace_ring_count(ring) != in_window) {
			FAILF("after event %u: %" PRIu64 " events kept, %" PRIu64 " in the window",
			      n - 1, msmvm_trace_ring_count(ring), in_window);
			break;
		}
		bytes = tr_ring_bytes(ring);
		if (bytes > rw_bound(in_window)) {
			FAILF("after event %u: %" PRIu64 " bytes for %" PRIu64 " events", n - 1,
			      bytes, in_window);
			break;
		}
		if (bytes > peak)
			peak = bytes;
		if (w >= 14 && bytes > peak_quiet)	/* the burst left the window 2 ago */
			peak_quiet = bytes;
		if (w == 11 && !dumped_burst && t - 5000000 >= 11 * RW_WINDOW + RW_WINDOW / 2) {
			rw_check_dump(ring, ts, n, RW_WINDOW, t, "in the burst");
			dumped_burst = true;
		}
		t += w == 10 || w == 11 ? 100 : 1000;
	}
	CHECK(n > 45000);
	CHECK(dumped_burst);
	/* the burst raised the memory, and it came back down once the burst left the window */
	CHECK(peak >= 10000 * sizeof(struct msmvm_event));
	CHECK(peak_quiet > 0);
	CHECK_LE(peak_quiet, rw_bound(1001));
	CHECK(peak_quiet * 2 < peak);
	rw_check_dump(ring, ts, n, RW_WINDOW, ts[n - 1], "at the end");
	rw_check_dump(ring, ts, n, RW_WINDOW, ts[n - 1] + RW_WINDOW / 3, "a third of a window on");
	rw_check_dump(ring, ts, n, RW_WINDOW, ts[n - 1] + 2 * RW_WINDOW, "two windows on");
	/* pushing after a pause: the whole window goes, and its memory with it */
	rw_event(&e, n, ts[n - 1] + 10 * RW_WINDOW);
	ts[n++] = e.ts_ns;
	CHECK_EQ(msmvm_trace_ring_add(ring, &e), 0);
	CHECK_EQ(msmvm_trace_ring_count(ring), 1);
	CHECK_LE(tr_ring_bytes(ring), 2 * TR_RING_CHUNK_BYTES);
	rw_check_dump(ring, ts, n, RW_WINDOW, e.ts_ns, "after a pause");
	msmvm_trace_ring_free(ring);
}

TEST(the_flight_recorder_keeps_to_its_memory_limit)
{
	static uint64_t ts[RW_MAX];
	const uint64_t limit = 1 << 20;
	uint64_t per = (TR_RING_CHUNK_BYTES - 256) / sizeof(struct msmvm_event);
	struct msmvm_trace_ring *ring = msmvm_trace_ring_new(60000000000ULL, limit);
	struct msmvm_event e;
	uint64_t kept;
	uint32_t n;

	if (!ring) {
		FAILF("msmvm_trace_ring_new");
		return;
	}
	/* 20000 events in the window, 3.2 MB of them: the newest that fit in 1 MiB stay */
	for (n = 0; n < 20000; n++) {
		rw_event(&e, n, 1000000 + (uint64_t)n * 1000);
		ts[n] = e.ts_ns;
		if (msmvm_trace_ring_add(ring, &e)) {
			FAILF("msmvm_trace_ring_add: event %u", n);
			break;
		}
		if (tr_ring_bytes(ring) > limit) {
			FAILF("after event %u: %" PRIu64 " bytes, over the limit", n,
			      tr_ring_bytes(ring));
			break;
		}
	}
	kept = msmvm_trace_ring_count(ring);
	/* all but a chunk's worth of what fits */
	CHECK(kept >= (limit / TR_RING_CHUNK_BYTES - 1) * per);
	CHECK_LE(kept, limit / sizeof(struct msmvm_event));
	/* the dump holds the newest kept events, exactly: those from ts[n - kept] on */
	rw_check_dump(ring, ts, n, ts[n - 1] - ts[n - kept], ts[n - 1], "at the limit");
	msmvm_trace_ring_free(ring);

	/* a limit below 1024 events: 1024 at least are kept */
	ring = msmvm_trace_ring_new(60000000000ULL, 1);
	for (n = 0; ring && n < 5000; n++) {
		rw_event(&e, n, 1000000 + (uint64_t)n * 1000);
		CHECK_EQ(msmvm_trace_ring_add(ring, &e), 0);
	}
	if (ring) {
		CHECK(msmvm_trace_ring_count(ring) >= 1024);
		CHECK_LE(tr_ring_bytes(ring), 512 << 10);
	}
	msmvm_trace_ring_free(ring);
}

TEST(json_format_is_chrome_json)
{
	static struct stream s;
	const char *path = tmp_path("scene.json");
	json_object *root, *ev;
	long long len, begins = 0, ends = 0, vm_binds = 0, counters = 0;
	char *text;

	scene(&s);
	if (write_trace(path, &s, MSMVM_TRACE_JSON, 0, NULL))
		return;
	text = slurp(path, &len);
	root = json_tokener_parse(text);
	CHECK(root && json_object_is_type(root, json_type_array));
	for (size_t i = 0; root && i < json_object_array_length(root); i++) {
		json_object *ph, *name;

		ev = json_object_array_get_idx(root, i);
		if (!json_object_object_get_ex(ev, "ph", &ph))
			continue;
		begins += !strcmp(json_object_get_string(ph), "B");
		ends += !strcmp(json_object_get_string(ph), "E");
		counters += !strcmp(json_object_get_string(ph), "C");
		if (!strcmp(json_object_get_string(ph), "B") &&
		    json_object_object_get_ex(ev, "name", &name) &&
		    !strcmp(json_object_get_string(name), "VM_BIND"))
			vm_binds++;
	}
	CHECK_EQ(vm_binds, 7);
	CHECK_EQ(begins, 9);	/* 7 calls, 2 waits */
	CHECK_EQ(begins, ends);
	CHECK(counters > 0);
	json_object_put(root);
	/* cut short (no closing bracket), as the format allows: still an array once closed */
	{
		char *end = strstr(text, "{\"ph\":\"M\",\"name\":\"trace_end\"");

		if (end) {
			strcpy(end, "{}]");
			root = json_tokener_parse(text);
			CHECK(root != NULL);
			json_object_put(root);
		} else {
			FAILF("no trailer in the JSON trace");
		}
	}
	free(text);
}

TEST(write_errors_are_reported_and_leave_nothing_half_written)
{
	struct msmvm_trace_opts o = { 0 };
	struct msmvm_trace *t;
	struct msmvm_err err;

	CHECK(msmvm_trace_create("/nonexistent-dir/x.perfetto-trace", &o, &t, &err) != 0);
	CHECK(strstr(err.msg, "cannot create /nonexistent-dir/x.perfetto-trace"));
	CHECK(msmvm_trace_create("/dev/full", &o, &t, &err) != 0);
	CHECK(strstr(err.msg, "No space left on device"));
}

/* ---- checksums: damage is found, said, and read through only when asked ---- */

/* Valid UTF-8, as glibc's iconv judges it (not msmvm's own check). */
static bool valid_utf8(const char *s)
{
	iconv_t cd = iconv_open("UTF-8", "UTF-8");
	char out[1024], *ip = (char *)s, *op = out;
	size_t in = strlen(s), room = sizeof(out);
	bool ok;

	if (cd == (iconv_t)-1)
		return false;
	ok = iconv(cd, &ip, &in, &op, &room) != (size_t)-1 && !in;
	iconv_close(cd);
	return ok;
}

/* Two replays give the same report: every counter, histogram, name and what the header and
 * the final stats say. */
static bool same_replay(const struct msmvm_snapshot *a, const struct msmvm_trace_info *ia,
			const struct msmvm_snapshot *b, const struct msmvm_trace_info *ib)
{
	if (memcmp(&a->totals, &b->totals, sizeof(a->totals)) || a->nvms != b->nvms ||
	    a->nprocs != b->nprocs || memcmp(a->health, b->health, sizeof(a->health)) ||
	    a->ts_ns != b->ts_ns)
		return false;
	for (int i = 0; i < a->nvms; i++)
		if (a->vms[i].vm != b->vms[i].vm || a->vms[i].owner_tgid != b->vms[i].owner_tgid ||
		    memcmp(&a->vms[i].s, &b->vms[i].s, sizeof(a->vms[i].s)))
			return false;
	for (int i = 0; i < a->nprocs; i++)
		if (a->procs[i].tgid != b->procs[i].tgid || strcmp(a->procs[i].comm, b->procs[i].comm))
			return false;
	return ia->finished == ib->finished && ia->truncated == ib->truncated &&
	       ia->dropped == ib->dropped && ia->events == ib->events &&
	       ia->duration_s == ib->duration_s && ia->loss_marks == ib->loss_marks &&
	       !strcmp(ia->plan.target, ib->plan.target) && !strcmp(ia->plan.reason, ib->plan.reason) &&
	       !strcmp(ia->plan.arch, ib->plan.arch) && ia->plan.kind == ib->plan.kind &&
	       ia->plan.throttle_limit == ib->plan.throttle_limit &&
	       ia->plan.emit_ops == ib->plan.emit_ops;
}

struct sweep {
	const char *path;
	const unsigned char *data;
	long long len;
	struct msmvm_snapshot base;
	struct msmvm_trace_info bi;
	long long flips, found, harmless, failures;
};

/*
 * One bit of the file flipped: the replay fails, saying which bytes are damaged (the
 * flipped one among them), or gives the very same report; told to read on, it gives a
 * report in valid UTF-8, with the damage listed.
 */
static void sweep_flip(struct sweep *w, long long pos, int bit, bool read_on)
{
	unsigned char *d = malloc((size_t)w->len);
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_err err = { 0 };
	unsigned long long a, b;
	const char *at;
	FILE *f;
	bool failed;
	int before = harness_failed_checks;

	memcpy(d, w->data, (size_t)w->len);
	d[pos] ^= (unsigned char)(1 << bit);
	f = fopen(w->path, "wb");
	fwrite(d, 1, (size_t)w->len, f);
	fclose(f);
	free(d);
	w->flips++;
	failed = msmvm_trace_replay_ex(w->path, 0, 0, &snap, &info, &err) != 0;
	if (failed) {
		at = strstr(err.msg, ": bytes ");
		if (err.code != -EBADMSG || !at || !strstr(err.msg, " are damaged (") ||
		    sscanf(at, ": bytes %llu..%llu", &a, &b) != 2)
			FAILF("byte %lld bit %d: not said as damage: %s", pos, bit, err.msg);
		else if ((long long)a > pos || (long long)b < pos)
			FAILF("byte %lld bit %d: said elsewhere: %s", pos, bit, err.msg);
		else
			w->found++;
	} else {
		if (!same_replay(&snap, &info, &w->base, &w->bi))
			FAILF("byte %lld bit %d: the report changed, and nothing was said", pos, bit);
		else
			w->harmless++;
		msmvm_snapshot_free(&snap);
	}
	if (!read_on) {
		/* not asked */
	} else if (msmvm_trace_replay_ex(w->path, 0, MSMVM_TRACE_READ_IGNORE_DAMAGE, &snap, &info,
					 &err)) {
		/* a header gone, say: an error of its own, never the damage */
		if (err.code == -EBADMSG)
			FAILF("byte %lld bit %d: told to read on, still: %s", pos, bit, err.msg);
	} else {
		if ((info.damaged > 0) != failed)
			FAILF("byte %lld bit %d: %llu damaged ranges read through, the replay %s",
			      pos, bit, (unsigned long long)info.damaged, failed ? "failed" : "did not");
		if (!valid_utf8(info.plan.target) || !valid_utf8(info.plan.reason) ||
		    !valid_utf8(info.plan.arch))
			FAILF("byte %lld bit %d: the plan's strings are not valid UTF-8", pos, bit);
		for (int i = 0; i < snap.nprocs; i++)
			if (!valid_utf8(snap.procs[i].comm) || !valid_utf8(snap.procs[i].s.comm))
				FAILF("byte %lld bit %d: comm of %u is not valid UTF-8", pos, bit,
				      snap.procs[i].tgid);
		msmvm_snapshot_free(&snap);
	}
	if (harness_failed_checks != before)
		w->failures++;
}

static bool sweep_begin(struct sweep *w, const char *src, const char *flipped)
{
	struct msmvm_err err;

	memset(w, 0, sizeof(*w));
	w->path = flipped;
	w->data = (unsigned char *)slurp(src, &w->len);
	if (!w->data || msmvm_trace_replay(src, 0, &w->base, &w->bi, &err)) {
		FAILF("%s does not replay: %s", src, w->data ? err.msg : "unreadable");
		free((void *)w->data);
		return false;
	}
	CHECK(w->bi.checksummed && !w->bi.damaged && !w->bi.unverified && w->bi.finished);
	return true;
}

static void sweep_end(struct sweep *w, const char *what)
{
	printf("# %s: %lld bytes, %lld flips: %lld found, %lld harmless (the same report)\n",
	       what, w->len, w->flips, w->found, w->harmless);
	CHECK_EQ(w->found + w->harmless + w->failures, w->flips);
	msmvm_snapshot_free(&w->base);
	free((void *)w->data);
}

/*
 * Every byte of the scene's file, three bits of each (read on past the damage: the top
 * bit, which makes bytes that are not UTF-8), and a sample of a longer recording's bytes
 * (with checksums inside), every bit of them. TRACE_DAMAGE_FULL=1: every bit of both.
 */
TEST(every_flipped_bit_is_said_or_changes_nothing)
{
	static struct stream s;
	const char *path = tmp_path("flip-src.perfetto-trace"), *flipped = tmp_path("flip.perfetto-trace");
	struct msmvm_trace_opts o = { .t0_ns = 1000 };
	static const struct msmvm_plan plan = { .kind = MSMVM_PLAN_DIRECT, .target = "test sweep",
						.reason = "built by test_trace", .arch = "x86" };
	bool full = getenv("TRACE_DAMAGE_FULL") && !strcmp(getenv("TRACE_DAMAGE_FULL"), "1");
	struct msmvm_trace *t;
	struct msmvm_err err;
	struct tc_result r;
	struct sweep w;

	scene(&s);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL) || !sweep_begin(&w, path, flipped))
		return;
	for (long long pos = 0; pos < w.len && w.failures < 10; pos++)
		for (int bit = 0; bit < 8; bit++)
			if (full || bit == 0 || bit == 7 || bit == (pos % 6) + 1)
				sweep_flip(&w, pos, bit, full || bit == 7);
	sweep_end(&w, full ? "scene" : "scene (3 bits a byte; TRACE_DAMAGE_FULL=1: all)");

	/* a longer recording, written as msmvm-trace does (a flush now and then): checksums
	 * inside it; a sample of its bytes, every bit of them */
	random_stream(&s, 5, full ? 1500 : 150);
	o.plan = &plan;
	if (msmvm_trace_create(path, &o, &t, &err)) {
		FAILF("%s", err.msg);
		return;
	}
	for (int i = 0; i < s.n; i++) {
		msmvm_trace_add(t, &s.ev[i]);
		if (i % 10 == 9)
			msmvm_trace_flush(t);
	}
	if (msmvm_trace_close(t, NULL, NULL, &err)) {
		FAILF("%s", err.msg);
		return;
	}
	if (have_protoc() && check_file(path, true, &r))
		CHECK(r.checksums > 3);
	if (!sweep_begin(&w, path, flipped))
		return;
	for (long long pos = 0; pos < w.len && w.failures < 10; pos += full ? 1 : 1 + w.len / 150)
		for (int bit = 0; bit < 8; bit++)
			sweep_flip(&w, pos, bit, true);
	for (long long pos = w.len - 40; !full && pos < w.len && w.failures < 10; pos++)
		for (int bit = 0; bit < 8; bit++)	/* the final stats and checksum */
			sweep_flip(&w, pos, bit, true);
	sweep_end(&w, full ? "recording" : "recording (sampled; TRACE_DAMAGE_FULL=1: all)");
}

/* The file without its checksum packets, as msmvm-trace wrote it before they existed. */
static long long strip_checksums(const unsigned char *d, long long n, unsigned char *out)
{
	long long off = 0, end, body, o = 0;

	while ((end = tc_packet_end(d, n, off, &body)) >= 0) {
		if (!(end - body >= 4 && !memcmp(d + body, "\x50\x01\xca\x30", 4))) {
			memcpy(out + o, d + off, (size_t)(end - off));
			o += end - off;
		}
		off = end;
	}
	return o;
}

TEST(files_without_checksums_or_their_last_one_still_load)
{
	static struct stream s;
	const char *path = tmp_path("cks.perfetto-trace"), *old = tmp_path("old.perfetto-trace");
	struct msmvm_trace_info info, oi;
	struct msmvm_snapshot snap, os;
	struct msmvm_workload wl;
	struct msmvm_err err;
	long long len, n, last;
	unsigned char *data, *out;
	FILE *f;

	scene(&s);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	data = (unsigned char *)slurp(path, &len);
	out = malloc((size_t)len);
	n = strip_checksums(data, len, out);
	CHECK(n < len);
	f = fopen(old, "wb");
	fwrite(out, 1, (size_t)n, f);
	fclose(f);
	if (msmvm_trace_replay(path, 0, &snap, &info, &err) ||
	    msmvm_trace_replay(old, 0, &os, &oi, &err)) {
		FAILF("%s", err.msg);
		goto out;
	}
	CHECK(info.checksummed && info.checksums == 2 && !info.damaged);
	CHECK(!oi.checksummed && !oi.checksums && !oi.damaged && !oi.unverified);
	CHECK(same_replay(&snap, &info, &os, &oi));
	msmvm_snapshot_free(&os);
	if (msmvm_trace_load_workload(old, &wl, &oi, &err))
		FAILF("%s", err.msg);
	else
		msmvm_workload_free(&wl);

	/* the final checksum missing (a full disk at the close cut the file back before it):
	 * whole, finished, its last bytes not verified; not damage */
	last = tc_complete_prefix(data, len - 1);
	f = fopen(old, "wb");
	fwrite(data, 1, (size_t)last, f);
	fclose(f);
	if (msmvm_trace_replay(old, 0, &os, &oi, &err)) {
		FAILF("%s", err.msg);
	} else {
		CHECK(oi.checksummed && oi.finished && !oi.truncated && !oi.damaged);
		CHECK_EQ(oi.unverified, last - ck_end_before(data, last));
		CHECK(same_replay(&snap, &info, &os, &oi));
		msmvm_snapshot_free(&os);
	}
	msmvm_snapshot_free(&snap);
out:
	free(out);
	free(data);
}

TEST(strings_from_a_file_become_valid_utf8)
{
	static const struct {
		const char *in, *out;
		size_t cap;
	} cases[] = {
		{ "plain", "plain", 16 },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 32 },
		{ "model\xa0/x", "model\xef\xbf\xbd/x", 32 },
		{ "ab\xe2\x82", "ab\xef\xbf\xbd\xef\xbf\xbd", 32 },		/* cut short */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", 32 },			/* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 32 },	/* a surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 32 },
		{ "\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd", 32 },
		/* a comm of 15 bytes: what does not fit goes, at a character's end */
		{ "app\xa0\xa0\xa0\xa0\xa0", "app\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 16 },
		{ "abcdefghijklm\xc3\xa9", "abcdefghijklm\xc3\xa9", 16 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		tr_utf8_fix(buf, cases[i].cap);
		if (strcmp(buf, cases[i].out))
			FAILF("case %zu: got \"%s\"", i, buf);
		CHECK(valid_utf8(buf));
		CHECK(strlen(buf) < cases[i].cap);
	}
}

TEST(replay_refuses_what_is_not_an_msmvm_trace)
{
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	const char *p = tmp_path("not-a-trace");
	FILE *f = fopen(p, "w");

	fputs("[{\"ph\":\"B\"}]\n", f);
	fclose(f);
	CHECK(msmvm_trace_replay(p, 0, &snap, &info, &err) != 0);
	CHECK(strstr(err.msg, "is a JSON trace"));
	CHECK(msmvm_trace_replay("/nonexistent", 0, &snap, &info, &err) != 0);
	CHECK(strstr(err.msg, "cannot open /nonexistent"));
	f = fopen(p, "w");
	fclose(f);
	CHECK(msmvm_trace_replay(p, 0, &snap, &info, &err) != 0);
	CHECK(strstr(err.msg, "no recording header"));
	/* a well-formed packet holding garbage */
	f = fopen(p, "w");
	fwrite("\x0a\x03\xff\xff\xff", 1, 5, f);
	fclose(f);
	CHECK(msmvm_trace_replay(p, 0, &snap, &info, &err) != 0);
	CHECK(strstr(err.msg, "corrupt packet"));
}

/* Lengths of nested messages: one byte reserved, moved when it takes more. */
TEST(varints_and_nested_lengths)
{
	static const size_t sizes[] = { 0, 1, 127, 128, 300, 16383, 16384, 100000, 2100000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct tr_buf b = { 0 };
		const uint8_t *p, *end;
		uint64_t tag = 0, len = 0;
		size_t m = pb_begin(&b, 11);
		char *fill = calloc(1, sizes[i] + 1);

		memset(fill, 'x', sizes[i]);
		tr_buf_put(&b, fill, sizes[i]);
		pb_end(&b, m);
		p = b.p;
		end = b.p + b.len;
		CHECK(pb_read_varint(&p, end, &tag) == 0 && tag == (11 << 3 | 2));
		CHECK(pb_read_varint(&p, end, &len) == 0 && len == sizes[i]);
		CHECK_EQ(end - p, (long long)sizes[i]);
		CHECK(sizes[i] == 0 || (p[0] == 'x' && p[sizes[i] - 1] == 'x'));
		free(fill);
		free(b.p);
	}
}

/* ---- the calls' ops: records at entry, the "ops" argument at return, read back ---- */

static void ops_ev(struct stream *s, uint32_t pid, uint32_t tid, uint64_t entry, uint32_t nr_ops,
		   uint32_t first, uint32_t n, const struct msmvm_wl_op *ops)
{
	struct msmvm_ops_event o = { .type = MSMVM_EV_OPS, .pid = pid, .tid = tid,
				     .nr_ops = nr_ops, .ts_ns = entry, .first = (uint16_t)first,
				     .n = (uint8_t)n };

	for (uint32_t i = 0; i < n; i++) {
		o.kinds |= (ops[first + i].kind < 15 ? ops[first + i].kind : 15) << (4 * i);
		o.ops[i].iova = ops[first + i].iova;
		o.ops[i].range = ops[first + i].range;
	}
	memcpy(&s->ev[s->n++], &o, sizeof(o));
}

/* A call's records as the probes send them, but the one numbered `lost` (-1: none). */
static void call_ops(struct stream *s, uint32_t pid, uint32_t tid, uint64_t entry,
		     uint32_t nr_ops, const struct msmvm_wl_op *ops, int lost)
{
	uint32_t max = nr_ops < MSMVM_OPS_MAX ? nr_ops : MSMVM_OPS_MAX;

	for (uint32_t first = 0, r = 0; first < max; first += 8, r++)
		if ((int)r != lost)
			ops_ev(s, pid, tid, entry, nr_ops, first, max - first < 8 ? max - first : 8,
			       ops);
}

static struct msmvm_wl_op scene_ops[2048];

static void scene_ops_init(void)
{
	for (uint32_t i = 0; i < 2048; i++)
		scene_ops[i] = (struct msmvm_wl_op){ .iova = 0x100000000ULL + (uint64_t)i * 0x200000,
						     .range = 0x1000ULL << (i % 4), .kind = i % 3 };
}

/*
 * One process, six threads: whole lists, a lost record, a lost bind (its records then
 * replaced by the thread's next call's), more ops than the probes take, no ops, no
 * records at all, an op of no known kind.
 */
static void ops_scene(struct stream *s)
{
	const uint64_t A = 0x55aa00002000ULL;
	struct msmvm_event *e;
	struct msmvm_wl_op odd = { .iova = 0x200000000ULL, .range = 0x3000, .kind = 7 };

	scene_ops_init();
	s->n = 0;
	call_ops(s, 300, 301, 2000, 3, scene_ops, -1);			/* A: whole */
	call_ops(s, 300, 302, 2500, 20, scene_ops, -1);			/* B: whole, 3 records */
	e = bind_ev(s, 300, 301, "opsapp", A, 2000, 3000, 0);
	e->nr_ops = 3;
	counted(e, 0x1000, 9, 2900, 9);
	e = bind_ev(s, 300, 302, "opsapp-2", A, 2500, 4000, 0);
	e->nr_ops = 20;
	counted(e, 0x2000, 10, 3900, 19);
	free_ev(s, 300, A, 0x1000, 3000, 5000, 9, 4, 19, 10, 0, false);
	call_ops(s, 300, 301, 6000, 20, scene_ops, 1);			/* C: a record lost */
	e = bind_ev(s, 300, 301, "opsapp", A, 6000, 6500, -22);
	e->nr_ops = 20;
	call_ops(s, 300, 303, 7000, 5, scene_ops, -1);			/* D: its bind lost */
	call_ops(s, 300, 303, 8000, 1, scene_ops + 5, -1);		/* E: whole, 1 op */
	e = bind_ev(s, 300, 303, "opsapp-3", A, 8000, 8200, 0);
	e->nr_ops = 1;
	call_ops(s, 300, 304, 9000, 2000, scene_ops, -1);		/* F: over 1024 */
	e = bind_ev(s, 300, 304, "opsapp-4", A, 9000, 9900, -22);
	e->nr_ops = 2000;
	e = bind_ev(s, 300, 301, "opsapp", A, 9500, 9600, -22);	/* G: no ops */
	e->nr_ops = 0;
	e = bind_ev(s, 300, 305, "opsapp-5", A, 9700, 9800, 0);	/* H: records all lost */
	e->nr_ops = 4;
	call_ops(s, 300, 306, 10000, 1, &odd, -1);			/* I: kind 7, slept */
	e = bind_ev(s, 300, 306, "opsapp-6", A, 10000, 11000, -22);
	e->nr_ops = 1;
	waited(e, 10100, 10500, true, false, 1, 0);
}

static int write_ops_trace(const char *path, const struct stream *s, enum msmvm_trace_format fmt)
{
	struct msmvm_trace_opts o = { .format = fmt, .t0_ns = 1000 };
	static const struct msmvm_plan plan = { .kind = MSMVM_PLAN_DIRECT, .target = "ops scene",
						.arch = "x86", .throttle_limit = 2048,
						.emit_ops = true };
	struct msmvm_trace *t;
	struct msmvm_err err;

	o.plan = &plan;
	if (msmvm_trace_create(path, &o, &t, &err)) {
		FAILF("create %s: %s", path, err.msg);
		return -1;
	}
	for (int i = 0; i < s->n; i++)
		msmvm_trace_add(t, &s->ev[i]);
	if (msmvm_trace_close(t, NULL, NULL, &err)) {
		FAILF("close %s: %s", path, err.msg);
		return -1;
	}
	return 0;
}

static bool ops_equal(const struct msmvm_workload *wl, const struct msmvm_wl_bind *b,
		      const struct msmvm_wl_op *want)
{
	for (uint32_t i = 0; i < b->nr_ops; i++) {
		const struct msmvm_wl_op *o = &wl->ops[b->ops_first + i];

		if (o->iova != want[i].iova || o->range != want[i].range || o->kind != want[i].kind)
			return false;
	}
	return true;
}

TEST(ops_records_become_each_calls_ops_and_load_back)
{
	static struct stream s;
	const char *path = tmp_path("ops.perfetto-trace");
	struct msmvm_trace_info info;
	struct msmvm_workload wl;
	struct msmvm_err err;
	struct tc_result r;

	ops_scene(&s);
	if (write_ops_trace(path, &s, MSMVM_TRACE_PERFETTO))
		return;
	if (have_protoc() && check_file(path, true, &r))
		CHECK_EQ(tc_get(r.slices, r.nslices, "VM_BIND"), 8);
	if (msmvm_trace_load_workload(path, &wl, &info, &err)) {
		FAILF("load: %s", err.msg);
		return;
	}
	CHECK_EQ(wl.nbinds, 8);
	CHECK_EQ(wl.limit, 2048);
	CHECK_EQ(info.plan.throttle_limit, 2048);
	CHECK(info.plan.emit_ops);
	CHECK(info.finished && !info.truncated);
	CHECK_EQ(wl.binds_without_ops, 3);	/* C (lost record), F (> 1024), H (none) */
	CHECK_EQ(wl.nops, 3 + 20 + 1 + 0 + 1);
	CHECK_EQ(wl.frees_without_bind, 0);
	CHECK_EQ(wl.nprocs, 1);
	if (wl.nprocs == 1) {
		CHECK_EQ(wl.procs[0].pid, 300);
		CHECK(!strcmp(wl.procs[0].comm, "opsapp"));	/* its process track's name */
	}
	CHECK_EQ(wl.start_ns, 1000);
	for (size_t i = 1; i < wl.nbinds; i++)
		CHECK(wl.binds[i - 1].entry_ns <= wl.binds[i].entry_ns);
	if (wl.nbinds == 8) {
		const struct msmvm_wl_bind *b = wl.binds;
		static const uint32_t tids[8] = { 301, 302, 301, 303, 304, 301, 305, 306 };
		static const bool known[8] = { 1, 1, 0, 1, 0, 1, 0, 1 };

		for (int i = 0; i < 8; i++) {
			CHECK_EQ(b[i].tid, tids[i]);
			CHECK_EQ(b[i].ops_known, known[i]);
			CHECK_EQ(b[i].pid, 300);
			CHECK(b[i].ops_first <= wl.nops);
		}
		CHECK(ops_equal(&wl, &b[0], scene_ops));
		CHECK(ops_equal(&wl, &b[1], scene_ops));
		CHECK(ops_equal(&wl, &b[3], scene_ops + 5));
		CHECK_EQ(b[7].nr_ops, 1);
		if (b[7].ops_known) {
			CHECK_EQ(wl.ops[b[7].ops_first].kind, 7);
			CHECK_EQ(wl.ops[b[7].ops_first].range, 0x3000);
		}
		/* A: counted, its job freed at 5000 with 4 pages used (through the flow) */
		CHECK(b[0].counted && b[0].count == 9);
		CHECK_EQ(b[0].entry_ns, 2000);
		CHECK_EQ(b[0].return_ns, 3000);
		CHECK_EQ(b[0].free_ns, 5000);
		CHECK_EQ(b[0].used, 4);
		CHECK_EQ(b[0].vm, 0x55aa00002000ULL);
		/* B: its job still in flight at the end */
		CHECK(b[1].counted && b[1].count == 10 && b[1].free_ns == 0);
		CHECK_EQ(b[2].ret, -22);
		CHECK(!b[2].counted);
		/* I: slept 10100..10500 */
		CHECK(b[7].slept && !b[7].interrupted);
		CHECK_EQ(b[7].wait_start_ns, 10100);
		CHECK_EQ(b[7].wait_end_ns, 10500);
	}
	msmvm_workload_free(&wl);

	/* the same in Chrome JSON: the ops argument, and the incomplete ones said so */
	{
		const char *jp = tmp_path("ops.json");
		char *text;

		if (write_ops_trace(jp, &s, MSMVM_TRACE_JSON))
			return;
		text = slurp(jp, NULL);
		/* whole pages of a known kind in the short form: kind letter, page, +pages */
		CHECK(text && strstr(text, "\"ops\":\"U100000 M100200+2 N100400+4\""));
		CHECK(text && strstr(text, "\"ops_incomplete\":\"12 of 20 ops recorded (records lost)\""));
		CHECK(text && strstr(text, "\"ops_incomplete\":\"1024 of 2000 ops recorded (the probes stop at 1024)\""));
		CHECK(text && strstr(text, "\"ops\":\"op7:0x200000000:0x3000\""));
		{
			json_object *root = text ? json_tokener_parse(text) : NULL;

			CHECK(root != NULL);
			json_object_put(root);
		}
		free(text);
	}
}

TEST(ops_without_the_header_flag_and_with_ops_off)
{
	static struct stream s;
	const char *path = tmp_path("noops.perfetto-trace");
	struct msmvm_workload wl;
	struct msmvm_err err;

	/* the scene's binds, without their records and written without ops: no ops anywhere */
	ops_scene(&s);
	{
		int j = 0;

		for (int i = 0; i < s.n; i++)
			if (s.ev[i].type != MSMVM_EV_OPS)
				s.ev[j++] = s.ev[i];
		s.n = j;
	}
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	if (msmvm_trace_load_workload(path, &wl, NULL, &err)) {
		FAILF("load: %s", err.msg);
		return;
	}
	CHECK_EQ(wl.nbinds, 8);
	CHECK_EQ(wl.binds_without_ops, 8);
	CHECK_EQ(wl.nops, 0);
	CHECK_EQ(wl.limit, 0);	/* not in the header: unknown */
	msmvm_workload_free(&wl);
}

/* Threads that never return: what is held for them stays bounded, the others go on. */
TEST(ops_of_calls_that_never_return_are_bounded)
{
	static struct stream s;
	const char *path = tmp_path("pending.perfetto-trace");
	struct msmvm_workload wl;
	struct msmvm_err err;
	struct msmvm_event *e;

	scene_ops_init();
	s.n = 0;
	for (uint32_t t = 0; t < 3000; t++)	/* 3000 threads enter, none returns */
		call_ops(&s, 400, 5000 + t, 1000 + t, 3, scene_ops, -1);
	call_ops(&s, 400, 401, 9000, 3, scene_ops + 8, -1);
	e = bind_ev(&s, 400, 401, "late", 0x1000, 9000, 9100, 0);
	e->nr_ops = 3;
	if (write_ops_trace(path, &s, MSMVM_TRACE_PERFETTO))
		return;
	if (msmvm_trace_load_workload(path, &wl, NULL, &err)) {
		FAILF("load: %s", err.msg);
		return;
	}
	CHECK_EQ(wl.nbinds, 1);
	CHECK_EQ(wl.binds_without_ops, 0);
	if (wl.nbinds == 1)
		CHECK(ops_equal(&wl, &wl.binds[0], scene_ops + 8));
	msmvm_workload_free(&wl);
}

TEST(a_workload_cut_anywhere_loads_its_whole_prefix)
{
	static struct stream s;
	const char *path = tmp_path("opswhole.perfetto-trace");
	const char *cut = tmp_path("opscut.perfetto-trace");
	struct msmvm_workload full, wl;
	struct msmvm_trace_info info;
	struct msmvm_err err;
	long long len, tried = 0;
	unsigned char *data;
	size_t last = 0;

	ops_scene(&s);
	if (write_ops_trace(path, &s, MSMVM_TRACE_PERFETTO) ||
	    msmvm_trace_load_workload(path, &full, NULL, &err))
		return;
	data = (unsigned char *)slurp(path, &len);
	for (long long n = 0; n <= len; n += 1 + n / 60) {
		long long prefix = tc_complete_prefix(data, n);
		FILE *f = fopen(cut, "wb");

		fwrite(data, 1, (size_t)n, f);
		fclose(f);
		tried++;
		if (msmvm_trace_load_workload(cut, &wl, &info, &err)) {
			if (!strstr(err.msg, "no recording header"))
				FAILF("cut at %lld: %s", n, err.msg);
			continue;
		}
		CHECK_EQ(info.truncated, prefix != n);
		CHECK_EQ(info.bytes, prefix);
		CHECK(wl.nbinds >= last && wl.nbinds <= full.nbinds);
		last = wl.nbinds;
		/* every call it has is whole: the same as in the whole file */
		for (size_t i = 0; i < wl.nbinds; i++) {
			const struct msmvm_wl_bind *b = &wl.binds[i];
			const struct msmvm_wl_bind *fb = NULL;

			for (size_t j = 0; j < full.nbinds && !fb; j++)
				if (full.binds[j].entry_ns == b->entry_ns && full.binds[j].tid == b->tid)
					fb = &full.binds[j];
			CHECK(fb != NULL);
			if (!fb)
				continue;
			CHECK_EQ(b->return_ns, fb->return_ns);
			CHECK_EQ(b->ops_known, fb->ops_known);
			if (b->ops_known && fb->ops_known)
				CHECK(ops_equal(&wl, b, &full.ops[fb->ops_first]));
		}
		msmvm_workload_free(&wl);
	}
	CHECK_EQ(last, full.nbinds);
	CHECK(tried > 40);
	msmvm_workload_free(&full);
	free(data);
}

/*
 * A job address is reused as soon as it is freed: a call whose job the scheduler freed
 * before the call's return was seen (held as an early free) may return after a later call
 * with the same job address. The early free is the first call's, not the later one's (a
 * flow that ends before it starts, for trace_processor); and a free is tied only to the
 * call whose return it names.
 */
TEST(a_reused_job_address_never_ties_a_free_to_another_call)
{
	static struct stream s;
	const char *path = tmp_path("reuse.perfetto-trace");
	const uint64_t A = 0x55aa00003000ULL, X = 0x9000;
	struct msmvm_workload wl;
	struct msmvm_err err;
	struct msmvm_event *e;
	struct tc_result r;

	s.n = 0;
	free_ev(&s, 100, A, X, 0, 1500, 3, 1, 3, 0, 0, false);	/* call 1's job, early */
	e = bind_ev(&s, 100, 102, "app", A, 1600, 1800, 0);		/* call 2 reuses X */
	counted(e, X, 6, 1700, 6);
	e = bind_ev(&s, 100, 101, "app", A, 1000, 1400, 0);		/* call 1, seen late */
	counted(e, X, 3, 1300, 3);
	free_ev(&s, 100, A, X, 1800, 2500, 6, 2, 6, 0, 0, false);	/* call 2's job */
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	if (have_protoc() && check_file(path, true, &r)) {
		CHECK_EQ(r.flows, 2);
		CHECK_EQ(r.open_slices, 0);
	}
	if (msmvm_trace_load_workload(path, &wl, NULL, &err)) {
		FAILF("load: %s", err.msg);
		return;
	}
	CHECK_EQ(wl.nbinds, 2);
	if (wl.nbinds == 2) {
		CHECK_EQ(wl.binds[0].tid, 101);
		CHECK_EQ(wl.binds[0].free_ns, 1500);
		CHECK_EQ(wl.binds[0].used, 1);
		CHECK_EQ(wl.binds[1].free_ns, 2500);
		CHECK_EQ(wl.binds[1].used, 2);
	}
	CHECK_EQ(wl.frees_without_bind, 0);
	msmvm_workload_free(&wl);
}

/*
 * The free of a job, on another CPU, can take its place in the ring buffer before the event
 * of the VM_BIND return it names (its probe read the return's time already): seen in the
 * guest with fentry. The free waits for that return, which draws the job whole with its
 * flow: nothing left in flight (a "job" slice that never ends), the free tied to its call.
 */
TEST(a_free_ahead_of_its_bind_in_the_ring_leaves_nothing_in_flight)
{
	static struct stream s;
	const char *path = tmp_path("ahead.perfetto-trace");
	const uint64_t A = 0x55aa00004000ULL, X = 0xa000, Y = 0xb000;
	struct msmvm_workload wl;
	struct msmvm_err err;
	struct msmvm_event *e;
	struct tc_result r;

	s.n = 0;
	free_ev(&s, 100, A, X, 1400, 1500, 3, 1, 3, 0, 0, false);	/* names the return at 1400 */
	e = bind_ev(&s, 100, 101, "app", A, 1000, 1400, 0);		/* which comes after it */
	counted(e, X, 3, 1300, 3);
	e = bind_ev(&s, 100, 101, "app", A, 2000, 2400, 0);		/* an ordinary one */
	counted(e, Y, 6, 2300, 6);
	free_ev(&s, 100, A, Y, 2400, 2600, 6, 2, 6, 0, 0, false);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	if (have_protoc() && check_file(path, false, &r)) {
		CHECK_EQ(r.open_slices, 0);
		CHECK_EQ(r.flows, 2);
	}
	if (msmvm_trace_load_workload(path, &wl, NULL, &err)) {
		FAILF("load: %s", err.msg);
		return;
	}
	CHECK_EQ(wl.nbinds, 2);
	if (wl.nbinds == 2) {
		CHECK_EQ(wl.binds[0].free_ns, 1500);
		CHECK_EQ(wl.binds[0].used, 1);
	}
	CHECK_EQ(wl.frees_without_bind, 0);
	msmvm_workload_free(&wl);
}

/*
 * With no time in the scheduler, a job can be freed while its call is still returning: the
 * free's probe runs before the return probe gives the job its start (start_ns 0), but the
 * free's event leaves at the free's return, after the call's event. Each such free is counted
 * once, tied to its call, even when the address was queued again before the free's event
 * left; so is one whose bind is never seen, even when the next job at the same address is
 * freed the same way.
 */
TEST(a_free_inside_its_call_after_its_bind_in_the_ring_is_counted)
{
	static struct stream s;
	const char *path = tmp_path("inside.perfetto-trace");
	const uint64_t A = 0x55aa00005000ULL, X = 0xc000;
	struct msmvm_trace_info info;
	struct msmvm_snapshot snap;
	struct msmvm_workload wl;
	struct msmvm_err err;
	struct msmvm_event *e;

	s.n = 0;
	for (uint64_t k = 0; k < 3; k++) {	/* three calls, one job address */
		uint64_t t = 1000 + 1000 * k;

		e = bind_ev(&s, 100, 101, "app", A, t, t + 400, 0);
		counted(e, X, 10, t + 300, 10);
		free_ev(&s, 100, A, X, 0, t + 350, 10, 1 + (uint32_t)k, 10, 0, 0, false);
	}
	/*
	 * The address freed, and queued again by the next call, before that free's event
	 * left (its thread preempted between the kfree and the return probe): the late free
	 * is the first call's, the next one the second's.
	 */
	e = bind_ev(&s, 100, 101, "app", A, 5000, 5400, 0);
	counted(e, X, 10, 5300, 10);
	e = bind_ev(&s, 100, 101, "app", A, 5500, 5700, 0);
	counted(e, X, 10, 5600, 10);
	free_ev(&s, 100, A, X, 0, 5350, 10, 11, 10, 0, 0, false);
	free_ev(&s, 100, A, X, 5700, 5800, 10, 13, 10, 0, 0, false);
	/* a free whose bind came before we attached, then another at its address: both count */
	free_ev(&s, 100, A, 0xd000, 0, 6100, 4, 5, 4, 0, 0, false);
	free_ev(&s, 100, A, 0xd000, 0, 6200, 4, 7, 4, 0, 0, false);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	if (msmvm_trace_replay(path, 0, &snap, &info, &err)) {
		FAILF("replay: %s", err.msg);
		return;
	}
	CHECK_EQ(snap.totals.c.binds, 5);
	CHECK_EQ(snap.totals.c.pages_counted, 50);
	CHECK_EQ(snap.totals.c.pages_used, 1 + 2 + 3 + 11 + 13 + 5 + 7);
	msmvm_snapshot_free(&snap);
	if (msmvm_trace_load_workload(path, &wl, NULL, &err)) {
		FAILF("load: %s", err.msg);
		return;
	}
	CHECK_EQ(wl.nbinds, 5);
	for (size_t i = 0; i < wl.nbinds && i < 3; i++) {
		CHECK_EQ(wl.binds[i].free_ns, 1350 + 1000 * i);
		CHECK_EQ(wl.binds[i].used, 1 + i);
	}
	if (wl.nbinds == 5) {
		CHECK_EQ(wl.binds[3].free_ns, 5350);
		CHECK_EQ(wl.binds[3].used, 11);
		CHECK_EQ(wl.binds[4].free_ns, 5800);
		CHECK_EQ(wl.binds[4].used, 13);
	}
	CHECK_EQ(wl.frees_without_bind, 2);	/* the two whose binds came before we attached */
	msmvm_workload_free(&wl);

	/*
	 * After a loss: a job whose free was lost, then (2 ms on) its address's next job freed
	 * ahead of its bind. The free is the next job's, not the one left over.
	 */
	{
		struct msmvm_trace_opts o = { .format = MSMVM_TRACE_PERFETTO, .t0_ns = 1000 };
		struct msmvm_trace *t;

		s.n = 0;
		e = bind_ev(&s, 100, 101, "app", A, 7000, 7400, 0);
		counted(e, 0xe000, 10, 7300, 10);
		free_ev(&s, 100, A, 0xe000, 0, 2009350, 10, 17, 10, 0, 0, false);
		e = bind_ev(&s, 100, 101, "app", A, 2009000, 2009400, 0);
		counted(e, 0xe000, 10, 2009300, 10);
		if (msmvm_trace_create(path, &o, &t, &err)) {
			FAILF("create: %s", err.msg);
			return;
		}
		msmvm_trace_add(t, &s.ev[0]);
		msmvm_trace_dropped(t, 1);	/* the first job's free */
		msmvm_trace_add(t, &s.ev[1]);
		msmvm_trace_add(t, &s.ev[2]);
		if (msmvm_trace_close(t, NULL, NULL, &err)) {
			FAILF("close: %s", err.msg);
			return;
		}
		if (msmvm_trace_load_workload(path, &wl, NULL, &err)) {
			FAILF("load: %s", err.msg);
			return;
		}
		CHECK_EQ(wl.nbinds, 2);
		if (wl.nbinds == 2) {
			CHECK_EQ(wl.binds[0].free_ns, 0);	/* its free lost */
			CHECK_EQ(wl.binds[1].free_ns, 2009350);
			CHECK_EQ(wl.binds[1].used, 17);
		}
		msmvm_workload_free(&wl);
	}
}

/* `test_trace workload FILE`: the workload a trace loads to, as JSON, for the scripts. */
static int cmd_workload(const char *path)
{
	struct msmvm_trace_info info;
	struct msmvm_workload wl;
	struct msmvm_err err;
	json_object *o, *binds, *procs;

	if (msmvm_trace_load_workload(path, &wl, &info, &err)) {
		fprintf(stderr, "test_trace workload: %s\n", err.msg);
		return 1;
	}
	o = json_object_new_object();
	binds = json_object_new_array();
	procs = json_object_new_array();
	json_object_object_add(o, "nbinds", json_object_new_int64((int64_t)wl.nbinds));
	json_object_object_add(o, "nops", json_object_new_int64((int64_t)wl.nops));
	json_object_object_add(o, "binds_without_ops",
			       json_object_new_int64((int64_t)wl.binds_without_ops));
	json_object_object_add(o, "frees_without_bind",
			       json_object_new_int64((int64_t)wl.frees_without_bind));
	json_object_object_add(o, "limit", json_object_new_int64(wl.limit));
	json_object_object_add(o, "start_ns", json_object_new_int64((int64_t)wl.start_ns));
	json_object_object_add(o, "end_ns", json_object_new_int64((int64_t)wl.end_ns));
	json_object_object_add(o, "truncated", json_object_new_boolean(info.truncated));
	json_object_object_add(o, "finished", json_object_new_boolean(info.finished));
	for (size_t i = 0; i < wl.nprocs; i++) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "pid", json_object_new_int64(wl.procs[i].pid));
		json_object_object_add(p, "comm", json_object_new_string(wl.procs[i].comm));
		json_object_array_add(procs, p);
	}
	for (size_t i = 0; i < wl.nbinds; i++) {
		const struct msmvm_wl_bind *b = &wl.binds[i];
		json_object *j = json_object_new_object();

		json_object_object_add(j, "pid", json_object_new_int64(b->pid));
		json_object_object_add(j, "tid", json_object_new_int64(b->tid));
		json_object_object_add(j, "vm", json_object_new_int64((int64_t)b->vm));
		json_object_object_add(j, "entry_ns", json_object_new_int64((int64_t)b->entry_ns));
		json_object_object_add(j, "return_ns", json_object_new_int64((int64_t)b->return_ns));
		json_object_object_add(j, "wait_start_ns", json_object_new_int64((int64_t)b->wait_start_ns));
		json_object_object_add(j, "wait_end_ns", json_object_new_int64((int64_t)b->wait_end_ns));
		json_object_object_add(j, "slept", json_object_new_boolean(b->slept));
		json_object_object_add(j, "counted", json_object_new_boolean(b->counted));
		json_object_object_add(j, "interrupted", json_object_new_boolean(b->interrupted));
		json_object_object_add(j, "ret", json_object_new_int(b->ret));
		json_object_object_add(j, "count", json_object_new_int64(b->count));
		json_object_object_add(j, "nr_ops", json_object_new_int64(b->nr_ops));
		json_object_object_add(j, "queue_id", json_object_new_int64(b->queue_id));
		json_object_object_add(j, "free_ns", json_object_new_int64((int64_t)b->free_ns));
		json_object_object_add(j, "used", json_object_new_int64(b->used));
		json_object_object_add(j, "ops_known", json_object_new_boolean(b->ops_known));
		if (b->ops_known) {
			/* back in msmvm-sim count's syntax, as the model logs them */
			static const char *const kinds[] = { "unmap", "map", "null" };
			size_t cap = (size_t)b->nr_ops * 56 + 1, len = 0;
			char *str = malloc(cap);

			str[0] = 0;
			for (uint32_t k = 0; k < b->nr_ops; k++) {
				const struct msmvm_wl_op *op = &wl.ops[b->ops_first + k];
				char kind[16];

				if (op->kind < 3)
					snprintf(kind, sizeof(kind), "%s", kinds[op->kind]);
				else
					snprintf(kind, sizeof(kind), "op%u", op->kind);
				len += (size_t)snprintf(str + len, cap - len, "%s%s:0x%" PRIx64 ":0x%" PRIx64,
							k ? " " : "", kind, op->iova, op->range);
			}
			json_object_object_add(j, "ops", json_object_new_string(str));
			free(str);
		}
		json_object_array_add(binds, j);
	}
	json_object_object_add(o, "procs", procs);
	json_object_object_add(o, "binds", binds);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	msmvm_workload_free(&wl);
	return 0;
}

/* `test_trace flips FILE DIR POS...`: DIR/POS.BIT, FILE with that bit flipped, 8 per POS. */
static int cmd_flips(int argc, char **argv)
{
	long long len;
	unsigned char *d = (unsigned char *)slurp(argv[2], &len);

	if (!d) {
		fprintf(stderr, "test_trace flips: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		char *end;
		long long pos = strtoll(argv[i], &end, 10);

		if (*end || pos < 0 || pos >= len) {
			fprintf(stderr, "test_trace flips: %s has no byte '%s'\n", argv[2], argv[i]);
			free(d);
			return 2;
		}
		for (int bit = 0; bit < 8; bit++) {
			char out[4096];
			FILE *f;

			snprintf(out, sizeof(out), "%s/%lld.%d", argv[3], pos, bit);
			d[pos] ^= (unsigned char)(1 << bit);
			f = fopen(out, "wb");
			if (!f || fwrite(d, 1, (size_t)len, f) != (size_t)len || fclose(f)) {
				fprintf(stderr, "test_trace flips: %s: %s\n", out, strerror(errno));
				free(d);
				return 2;
			}
			d[pos] ^= (unsigned char)(1 << bit);
		}
	}
	free(d);
	return 0;
}

/* ---- the checker, for the end-to-end scripts ---- */

static int cmd_check(int argc, char **argv)
{
	bool allow_open = false;
	const char *path = argv[argc - 1], *trace = NULL;
	char err[256], *text = slurp(path, NULL);
	struct tnode *root = text ? tnode_parse(text, err, sizeof(err)) : NULL;
	struct tc_result r;
	json_object *o, *sl, *in, *stats;

	for (int i = 2; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--allow-open"))
			allow_open = true;
		else if (!strcmp(argv[i], "--trace") && i + 1 < argc - 1)
			trace = argv[++i];
	}
	if (!root) {
		fprintf(stderr, "test_trace check: %s: %s\n", path, text ? err : strerror(errno));
		return 2;
	}
	tc_check(root, allow_open, &r);
	if (trace) {	/* its checksums, against the bytes protoc decoded */
		long long len;
		char *data = slurp(trace, &len);

		if (!data) {
			fprintf(stderr, "test_trace check: %s: %s\n", trace, strerror(errno));
			return 2;
		}
		tc_check_checksums(root, (unsigned char *)data, len, &r);
		free(data);
	}
	o = json_object_new_object();
	sl = json_object_new_object();
	in = json_object_new_object();
	stats = json_object_new_object();
	for (int i = 0; i < r.nslices; i++)
		json_object_object_add(sl, r.slices[i].name, json_object_new_int64(r.slices[i].n));
	for (int i = 0; i < r.ninstants; i++)
		json_object_object_add(in, r.instants[i].name, json_object_new_int64(r.instants[i].n));
	for (int i = 0; i < r.nstats; i++)
		json_object_object_add(stats, r.stats[i].name, json_object_new_int64(r.stats[i].n));
	json_object_object_add(o, "errors", json_object_new_int(r.errors));
	json_object_object_add(o, "packets", json_object_new_int64(r.packets));
	json_object_object_add(o, "compressed", json_object_new_int64(r.compressed));
	json_object_object_add(o, "track_events", json_object_new_int64(r.track_events));
	json_object_object_add(o, "descriptors", json_object_new_int64(r.descriptors));
	json_object_object_add(o, "counters", json_object_new_int64(r.counters));
	json_object_object_add(o, "loss_marks", json_object_new_int64(r.loss_marks));
	json_object_object_add(o, "flows", json_object_new_int64(r.flows));
	json_object_object_add(o, "open_slices", json_object_new_int64(r.open_slices));
	json_object_object_add(o, "span_ns", json_object_new_int64(r.ts_max - r.ts_min));
	json_object_object_add(o, "slices", sl);
	json_object_object_add(o, "instants", in);
	if (trace) {
		json_object_object_add(o, "checksums", json_object_new_int64(r.checksums));
		json_object_object_add(o, "uncovered", json_object_new_int64(r.uncovered));
		json_object_object_add(o, "sealed", json_object_new_boolean(r.sealed));
	}
	if (r.has_stats)
		json_object_object_add(o, "stats", stats);
	else
		json_object_put(stats);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	for (int i = 0; i < r.errors && i < TC_MAX_ERRORS; i++)
		fprintf(stderr, "%s\n", r.msgs[i]);
	json_object_put(o);
	tnode_free(root);
	free(text);
	return r.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc >= 3 && !strcmp(argv[1], "check"))
		return cmd_check(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "workload"))
		return cmd_workload(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "flips"))
		return cmd_flips(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "complete")) {
		long long len;
		char *d = slurp(argv[2], &len);

		if (!d) {
			fprintf(stderr, "test_trace complete: %s: %s\n", argv[2], strerror(errno));
			return 2;
		}
		printf("%lld\n", tc_complete_prefix((unsigned char *)d, len));
		free(d);
		return 0;
	}
	ret = harness_main();
	cleanup();
	return ret;
}
