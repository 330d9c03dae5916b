// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-trace's files, without probes: event streams built here (a fixed scene and random
 * ones) are written through libmsmvm, decoded by protoc against tests/trace.proto and
 * checked as trace_processor would read them (trace_check.h), then replayed; the replay must
 * give the totals computed here straight from the events. Also: files cut at every byte,
 * the size limit, drop marks, the flight recorder's window, the JSON format, write errors.
 *
 * Run with arguments, it is the checker the end-to-end scripts use:
 *   test_trace check [--allow-open] FILE.txt   protoc's text of a trace -> one JSON line
 *   test_trace complete FILE                    bytes of whole packets at the file's start
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "msmvm/trace.h"
#include "trace_check.h"
#include "trace_internal.h"

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

	if (tmpdir[0]) {
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

static bool check_file(const char *trace, bool allow_open, struct tc_result *r)
{
	struct tnode *root = decode(trace);

	if (!root)
		return false;
	tc_check(root, allow_open, r);
	tnode_free(root);
	for (int i = 0; i < r->errors && i < TC_MAX_ERRORS; i++)
		FAILF("%s: %s", trace, r->msgs[i]);
	return r->errors == 0;
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
	e->ret = (int32_t)drift;
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
			FAILF("%s %s: replay %lld, events %lld", where, msmvm_counter_names[i],
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

TEST(a_file_cut_anywhere_reads_up_to_its_last_whole_packet)
{
	static struct stream s;
	const char *path = tmp_path("whole.perfetto-trace"), *cut = tmp_path("cut.perfetto-trace");
	long long len, last_prefix = -1, tried = 0;
	unsigned char *data;

	scene(&s);
	if (write_trace(path, &s, MSMVM_TRACE_PERFETTO, 0, NULL))
		return;
	data = (unsigned char *)slurp(path, &len);
	for (long long n = 0; n <= len; n += 1 + n / 40) {
		long long prefix = tc_complete_prefix(data, n);
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
		CHECK_EQ(info.finished, n == len);
		msmvm_snapshot_free(&snap);
		if (have_protoc() && prefix != last_prefix && n > len / 2) {
			struct tc_result r;

			f = fopen(cut, "wb");
			fwrite(data, 1, (size_t)prefix, f);
			fclose(f);
			check_file(cut, true, &r);
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
	CHECK(strstr(err.msg, "not a Perfetto protobuf trace"));
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

/* ---- the checker, for the end-to-end scripts ---- */

static int cmd_check(int argc, char **argv)
{
	bool allow_open = argc > 3 && !strcmp(argv[2], "--allow-open");
	const char *path = argv[argc - 1];
	char err[256], *text = slurp(path, NULL);
	struct tnode *root = text ? tnode_parse(text, err, sizeof(err)) : NULL;
	struct tc_result r;
	json_object *o, *sl, *in, *stats;

	if (!root) {
		fprintf(stderr, "test_trace check: %s: %s\n", path, text ? err : strerror(errno));
		return 2;
	}
	tc_check(root, allow_open, &r);
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
	json_object_object_add(o, "track_events", json_object_new_int64(r.track_events));
	json_object_object_add(o, "descriptors", json_object_new_int64(r.descriptors));
	json_object_object_add(o, "counters", json_object_new_int64(r.counters));
	json_object_object_add(o, "loss_marks", json_object_new_int64(r.loss_marks));
	json_object_object_add(o, "flows", json_object_new_int64(r.flows));
	json_object_object_add(o, "open_slices", json_object_new_int64(r.open_slices));
	json_object_object_add(o, "span_ns", json_object_new_int64(r.ts_max - r.ts_min));
	json_object_object_add(o, "slices", sl);
	json_object_object_add(o, "instants", in);
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
