// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-tune's engine (src/tune/tune.c) on workloads small enough to work out by hand:
 * the expected waits, stall, peak and mean below are derived in the comments from the
 * throttle's rule, not taken from a run of the code.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tune.h"

#define US 1000ULL
#define MS 1000000ULL

struct wl_builder {
	struct msmvm_workload wl;
	struct tune_timing timing[64];
	struct tune_timing_info tinfo;
};

static void wl_init(struct wl_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->wl.binds = calloc(64, sizeof(*b->wl.binds));
	b->wl.ops = calloc(256, sizeof(*b->wl.ops));
}

static void wl_fini(struct wl_builder *b)
{
	free(b->wl.binds);
	free(b->wl.ops);
}

/* One call of thread `tid` (its process and VM: pid), counted `count` pages, with ops. */
static struct msmvm_wl_bind *add_bind(struct wl_builder *b, uint32_t pid, uint32_t tid,
				      uint32_t count, uint64_t think, uint64_t service,
				      const struct msmvm_wl_op *ops, unsigned int nops)
{
	size_t k = b->wl.nbinds++;
	struct msmvm_wl_bind *x = &b->wl.binds[k];

	*x = (struct msmvm_wl_bind){ .pid = pid, .tid = tid, .vm = 0x1000, .counted = true,
				     .count = count, .nr_ops = nops, .ops_known = nops > 0,
				     .ops_first = b->wl.nops };
	if (nops)
		memcpy(&b->wl.ops[b->wl.nops], ops, nops * sizeof(*ops));
	b->wl.nops += nops;
	b->timing[k] = (struct tune_timing){ .think_ns = think, .service_ns = service };
	return x;
}

static struct tune_result replay(struct wl_builder *b, uint32_t limit, enum tune_count_rule rule)
{
	struct tune_result r;

	CHECK_EQ(tune_replay(&b->wl, b->timing, &b->tinfo, limit, rule, &r), 0);
	return r;
}

/*
 * One thread, back to back, three jobs of 1000 pages, service S each, limit 1024.
 * t=0: call 1 sees 0 <= 1024, adds (1000); call 2 sees 1000, adds (2000); call 3 sees
 * 2000 > 1024 and sleeps. Job 1 frees at S (in_flight 1000): call 3 passes (2000).
 * Job 2 frees at 2S (1000), job 3 at 3S (0). One wait of S; peak 2000; mean over [0, 3S]:
 * (2000 S + 2000 S + 1000 S) / 3S = 1666.67.
 */
TEST(throttle_by_hand)
{
	struct wl_builder b;
	struct tune_result r;

	wl_init(&b);
	for (int i = 0; i < 3; i++)
		add_bind(&b, 1, 1, 1000, 0, 10 * MS, NULL, 0);
	r = replay(&b, 1024, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.binds, 3);
	CHECK_EQ(r.jobs, 3);
	CHECK_EQ(r.waits, 1);
	CHECK_EQ(r.wait_ns_total, 10 * MS);
	CHECK_EQ(r.wait_ns_max, 10 * MS);
	CHECK_EQ(r.peak_pages, 2000);
	CHECK_EQ(r.span_ns, 30 * MS);
	CHECK(r.mean_pages > 1666.6 && r.mean_pages < 1666.7);
	CHECK_EQ(r.pages_counted, 3000);

	/* limit 2000: call 3 sees 2000 <= 2000 and passes; no wait; peak 3000 */
	r = replay(&b, 2000, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.waits, 0);
	CHECK_EQ(r.peak_pages, 3000);

	/* limit 999: call 2 already sees 1000 > 999: sleeps until job 1 frees (S), passes at
	 * 0 pages; call 3 (back to back after call 2's return at S) sees 1000 > 999, sleeps until
	 * job 2 frees at 2S: two waits of S each; peak 1000. */
	r = replay(&b, 999, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.waits, 2);
	CHECK_EQ(r.wait_ns_total, 20 * MS);
	CHECK_EQ(r.peak_pages, 1000);
	wl_fini(&b);
}

/*
 * The wake-up latency delays every pass after a free, and the ioctl's own time splits
 * around the check: call 3 checks at pre (1 ms), passes at S + wake (10 + 0.5 ms).
 */
TEST(wake_latency_and_ioctl_time)
{
	struct wl_builder b;
	struct tune_result r;

	wl_init(&b);
	for (int i = 0; i < 3; i++) {
		add_bind(&b, 1, 1, 1000, 0, 10 * MS, NULL, 0);
		b.timing[i].pre_ns = 1 * MS;
		b.timing[i].post_ns = 0;
	}
	b.tinfo.wake_ns = 500 * US;
	/* call 1 checks at 1 ms, returns at 1 ms; job 1 runs 1..11 ms. call 2 checks at 2 ms
	 * (1000 <= 1024), call 3 at 3 ms sees 2000: sleeps until 11 + 0.5 ms: 8.5 ms. */
	r = replay(&b, 1024, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.waits, 1);
	CHECK_EQ(r.wait_ns_total, 8500 * US);
	wl_fini(&b);
}

/*
 * Two threads on two VMs do not throttle each other: each VM has its own in_flight.
 * The peak is over all VMs together: 2 x 1000.
 */
TEST(vms_are_separate)
{
	struct wl_builder b;
	struct tune_result r;

	wl_init(&b);
	add_bind(&b, 1, 1, 1000, 0, 10 * MS, NULL, 0);
	add_bind(&b, 2, 2, 1000, 0, 10 * MS, NULL, 0);
	add_bind(&b, 1, 1, 1000, 0, 10 * MS, NULL, 0);
	add_bind(&b, 2, 2, 1000, 0, 10 * MS, NULL, 0);
	r = replay(&b, 1000, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.waits, 0);
	CHECK_EQ(r.peak_pages, 4000);
	r = replay(&b, 999, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.waits, 2);	/* each second call waits for its own VM's first job */
	CHECK_EQ(r.wait_ns_total, 20 * MS);
	wl_fini(&b);
}

/*
 * The exact count sees the page table as the jobs left it. A 4 KiB map at 4 GiB lacks its L1,
 * L2 and L3 tables (3 pages, as the driver counts it too). A second map in the same 2 MiB
 * block, counted while the first job is still queued, still lacks all three; counted after
 * the first job ran (think time past its free) it lacks none, and a map in the next 1 GiB
 * lacks only its L2 and L3 tables.
 */
TEST(exact_count_follows_the_page_table)
{
	static const struct msmvm_wl_op a = { 1ULL << 32, 4096, MSM_VM_BIND_OP_MAP, 0 };
	static const struct msmvm_wl_op b2 = { (1ULL << 32) + 4096, 4096, MSM_VM_BIND_OP_MAP, 0 };
	static const struct msmvm_wl_op c = { (1ULL << 32) + (1ULL << 30), 4096,
					      MSM_VM_BIND_OP_MAP, 0 };
	struct wl_builder b;
	struct tune_result r;

	wl_init(&b);
	add_bind(&b, 1, 1, 3, 0, 1 * MS, &a, 1);
	add_bind(&b, 1, 1, 3, 0, 1 * MS, &b2, 1);
	r = replay(&b, 1024, TUNE_COUNT_EXACT);
	CHECK_EQ(r.pages_counted, 6);	/* both counted before job 1 ran */
	CHECK_EQ(r.pages_used, 3);	/* job 2 found the tables job 1 installed */
	r = replay(&b, 1024, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.pages_counted, 6);
	CHECK_EQ(r.pages_used, 3);
	CHECK_EQ(r.count_mismatches, 0);	/* the recorded 3 is what vm_bind_count_ops says */
	wl_fini(&b);

	wl_init(&b);
	add_bind(&b, 1, 1, 3, 0, 1 * MS, &a, 1);
	add_bind(&b, 1, 1, 3, 5 * MS, 1 * MS, &b2, 1);	/* after job 1's free */
	add_bind(&b, 1, 1, 3, 5 * MS, 1 * MS, &c, 1);
	r = replay(&b, 1024, TUNE_COUNT_EXACT);
	CHECK_EQ(r.pages_counted, 3 + 0 + 2);
	CHECK_EQ(r.pages_used, 3 + 0 + 2);
	CHECK_EQ(r.undercounts, 0);
	r = replay(&b, 1024, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.pages_counted, 9);
	CHECK_EQ(r.pages_used, 5);
	wl_fini(&b);
}

/* A recorded count that the ops do not give is reported, and the recording wins. */
TEST(count_mismatch_is_reported)
{
	static const struct msmvm_wl_op a = { 1ULL << 32, 4096, MSM_VM_BIND_OP_MAP, 0 };
	struct wl_builder b;
	struct tune_result r;

	wl_init(&b);
	add_bind(&b, 1, 1, 7, 0, 1 * MS, &a, 1);
	r = replay(&b, 1024, TUNE_COUNT_DRIVER);
	CHECK_EQ(r.count_mismatches, 1);
	CHECK_EQ(r.pages_counted, 7);
	wl_fini(&b);
}

/*
 * Timings from a recording: think = entry - the thread's previous return; the ioctl's time
 * outside the throttle split at the check; service = free - max(push, previous free).
 */
TEST(timing_from_a_recording)
{
	struct msmvm_wl_bind binds[3] = {
		{ .pid = 1, .tid = 1, .vm = 0x1000, .counted = true, .count = 1000,
		  .entry_ns = 100 * US, .wait_start_ns = 110 * US, .wait_end_ns = 120 * US,
		  .return_ns = 150 * US, .free_ns = 1150 * US },
		{ .pid = 1, .tid = 1, .vm = 0x1000, .counted = true, .count = 1000, .slept = true,
		  .entry_ns = 200 * US, .wait_start_ns = 210 * US, .wait_end_ns = 1200 * US,
		  .return_ns = 1230 * US, .free_ns = 2150 * US },
		{ .pid = 1, .tid = 1, .vm = 0x1000, .ret = -4, .interrupted = true, .slept = true,
		  .entry_ns = 1300 * US, .wait_start_ns = 1305 * US, .wait_end_ns = 1800 * US,
		  .return_ns = 1810 * US },
	};
	struct msmvm_workload wl = { .binds = binds, .nbinds = 3, .start_ns = 0 };
	struct tune_timing t[3];
	struct tune_timing_info info;

	CHECK_EQ(tune_timing_from_workload(&wl, 0, t, &info), 0);
	CHECK_EQ(t[0].think_ns, 100 * US);
	CHECK_EQ(t[0].pre_ns, 10 * US);
	CHECK_EQ(t[0].post_ns, 40 * US);	/* not slept: the throttle's time is the call's */
	CHECK_EQ(t[1].think_ns, 50 * US);
	CHECK_EQ(t[1].pre_ns, 10 * US);
	CHECK_EQ(t[1].post_ns, 30 * US);
	CHECK_EQ(t[0].service_ns, 1000 * US);		/* 1150 - 150 */
	CHECK_EQ(t[1].service_ns, 920 * US);		/* 2150 - max(1230, 1150) */
	CHECK_EQ(t[2].think_ns, 70 * US);
	CHECK_EQ(t[2].intr_ns, 495 * US);
	CHECK_EQ(info.wake_ns, 50 * US);		/* 1200 - 1150 */
	CHECK_EQ(info.wakes_measured, 1);
	CHECK_EQ(tune_timing_from_workload(&wl, 7 * MS, t, &info), 0);
	CHECK_EQ(t[0].service_ns, 7 * MS);
}

/* Synthetic workloads: a limit above any possible in_flight never waits; the peak never
 * shrinks as the limit grows; the exact count never preallocates more than the driver. */
TEST(synthetic_limits_behave)
{
	struct tune_synth sy = { .kind = WL_MIXED, .procs = 2, .binds = 200, .job_cost_us = -1,
				 .seed = 3, .ioctl_ns = 5000 };
	struct msmvm_workload wl;
	struct tune_timing *timing;
	struct tune_timing_info info;
	uint64_t prev_peak = 0, total_counted = 0;
	static const uint32_t limits[] = { 128, 512, 1024, 4096 };
	struct tune_result r, e;

	CHECK_EQ(tune_synth_workload(&sy, &wl, &timing, &info), 0);
	CHECK_EQ(wl.nbinds, 400);
	for (size_t k = 0; k < wl.nbinds; k++)
		total_counted += wl.binds[k].count;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		CHECK_EQ(tune_replay(&wl, timing, &info, limits[i], TUNE_COUNT_DRIVER, &r), 0);
		CHECK_EQ(tune_replay(&wl, timing, &info, limits[i], TUNE_COUNT_EXACT, &e), 0);
		CHECK(r.peak_pages >= prev_peak);
		prev_peak = r.peak_pages;
		CHECK_EQ(r.pages_counted, total_counted);
		CHECK_LE(e.pages_counted, r.pages_counted);
		CHECK_EQ(e.undercounts, 0);
		CHECK_EQ(r.undercounts, 0);
		CHECK_EQ(r.count_mismatches, 0);
	}
	/* beyond the whole workload's count nothing can wait */
	CHECK_EQ(tune_replay(&wl, timing, &info, (uint32_t)total_counted, TUNE_COUNT_DRIVER, &r), 0);
	CHECK_EQ(r.waits, 0);
	free(wl.binds), free(wl.ops), free(wl.procs), free(timing);
}

/* Every field of two results equal (the mean too: the same sums in the same order). */
static void check_same_result(const struct tune_result *a, const struct tune_result *b)
{
	CHECK_EQ(a->binds, b->binds);
	CHECK_EQ(a->jobs, b->jobs);
	CHECK_EQ(a->peak_pages, b->peak_pages);
	CHECK(a->mean_pages == b->mean_pages);
	CHECK_EQ(a->waits, b->waits);
	CHECK_EQ(a->interrupted, b->interrupted);
	CHECK_EQ(a->wait_ns_total, b->wait_ns_total);
	CHECK_EQ(a->wait_ns_p99, b->wait_ns_p99);
	CHECK_EQ(a->wait_ns_max, b->wait_ns_max);
	CHECK_EQ(a->span_ns, b->span_ns);
	CHECK_EQ(a->pages_counted, b->pages_counted);
	CHECK_EQ(a->pages_used, b->pages_used);
	CHECK_EQ(a->count_mismatches, b->count_mismatches);
	CHECK_EQ(a->undercounts, b->undercounts);
	CHECK_EQ(a->binds_without_ops, b->binds_without_ops);
}

/*
 * The shortcuts of a prepared replay (tune_prepare: a VM whose page table has every table
 * its workload can install needs no ops built, counted or run; a job that installs no table
 * is not run) change nothing: against the full replay, where every job's ops are counted
 * and run on the page table as the driver does, for every generator and rule, at limits that
 * stall a lot, a little and not at all.
 */
TEST(prepared_replay_is_the_full_replay)
{
	static const enum workload_kind kinds[] = { WL_SPARSE, WL_CONTIGUOUS, WL_MIXED,
						    WL_UNMAP_HEAVY, WL_STORM };
	static const uint32_t limits[] = { 128, 1024, 8192 };

	for (size_t w = 0; w < sizeof(kinds) / sizeof(kinds[0]); w++) {
		struct tune_synth sy = { .kind = kinds[w], .procs = 2,
					 .binds = kinds[w] == WL_STORM ? 60 : 150,
					 .job_cost_us = -1, .seed = 5, .ioctl_ns = 5000 };
		struct msmvm_workload wl;
		struct tune_timing *timing;
		struct tune_timing_info info;
		struct tune_prep *prep;

		CHECK_EQ(tune_synth_workload(&sy, &wl, &timing, &info), 0);
		prep = tune_prepare(&wl);
		CHECK(prep != NULL);
		for (size_t i = 0; prep && i < sizeof(limits) / sizeof(limits[0]); i++)
			for (int rule = TUNE_COUNT_DRIVER; rule <= TUNE_COUNT_EXACT; rule++) {
				struct tune_result full, fast;

				CHECK_EQ(tune_replay_prepared(&wl, timing, &info, NULL, limits[i],
							      rule, &full), 0);
				CHECK_EQ(tune_replay_prepared(&wl, timing, &info, prep, limits[i],
							      rule, &fast), 0);
				check_same_result(&fast, &full);
				CHECK(full.pages_used > 0);	/* tables were installed */
			}
		tune_prep_free(prep);
		free(wl.binds), free(wl.ops), free(wl.procs), free(timing);
	}
}

/*
 * The same by hand, for what the generators never make, on calls after their VM has every
 * table (the map of bind 1 is all the workload installs): an op that lookup_op refuses (the
 * call is replayed as recorded, without ops), a recorded count the ops do not give, a call
 * that failed after its count (its job is freed unrun) and one interrupted in the throttle.
 */
TEST(prepared_replay_is_the_full_replay_by_hand)
{
	static const struct msmvm_wl_op map = { 1ULL << 32, 4096, MSM_VM_BIND_OP_MAP, 0 };
	static const struct msmvm_wl_op odd = { (1ULL << 32) + 1, 4096, MSM_VM_BIND_OP_MAP, 0 };
	static const struct msmvm_wl_op unmap = { 1ULL << 32, 4096, MSM_VM_BIND_OP_UNMAP, 0 };
	struct wl_builder b;
	struct tune_prep *prep;
	struct msmvm_wl_bind *x;

	wl_init(&b);
	add_bind(&b, 1, 1, 3, 0, 1 * MS, &map, 1);
	add_bind(&b, 1, 1, 3, 5 * MS, 1 * MS, &map, 1);	/* after job 1's free: complete */
	add_bind(&b, 1, 1, 3, 5 * MS, 1 * MS, &odd, 1);	/* lookup_op refuses it */
	add_bind(&b, 1, 1, 7, 5 * MS, 1 * MS, &map, 1);	/* recorded 7, the ops give 3 */
	x = add_bind(&b, 1, 1, 3, 5 * MS, 1 * MS, &map, 1);
	x->ret = -12;					/* failed after its count */
	x = add_bind(&b, 1, 1, 0, 5 * MS, 1 * MS, &map, 1);
	x->counted = false, x->interrupted = true, x->ret = -4;
	add_bind(&b, 1, 1, 3, 5 * MS, 1 * MS, &unmap, 1);	/* counts nothing */
	prep = tune_prepare(&b.wl);
	CHECK(prep != NULL);
	for (int rule = TUNE_COUNT_DRIVER; prep && rule <= TUNE_COUNT_EXACT; rule++) {
		struct tune_result full, fast;

		CHECK_EQ(tune_replay_prepared(&b.wl, b.timing, &b.tinfo, NULL, 1024, rule, &full), 0);
		CHECK_EQ(tune_replay_prepared(&b.wl, b.timing, &b.tinfo, prep, 1024, rule, &fast), 0);
		check_same_result(&fast, &full);
		CHECK_EQ(fast.binds_without_ops, 1);
		CHECK_EQ(fast.pages_used, 3);
		CHECK_EQ(fast.count_mismatches, rule == TUNE_COUNT_DRIVER ? 2 : 0);
	}
	tune_prep_free(prep);
	wl_fini(&b);
}

/* Shares as printed: one decimal, and never a false 100 % or 0 %. */
TEST(share_is_never_rounded_to_all_or_nothing)
{
	char b[16];

	CHECK_STR(tune_share(b, sizeof(b), 0, 0), "0.0");
	CHECK_STR(tune_share(b, sizeof(b), 0, 4106), "0.0");
	CHECK_STR(tune_share(b, sizeof(b), 4106, 4106), "100.0");
	CHECK_STR(tune_share(b, sizeof(b), 203296, 207402), "98.0");	/* 98.020... */
	CHECK_STR(tune_share(b, sizeof(b), 1998, 2000), "99.9");
	/* 4106 used of 4 million counted: 99.897 % unused, "99.9"; of 40 million, 99.9897 % */
	CHECK_STR(tune_share(b, sizeof(b), 4000000 - 4106, 4000000), "99.9");
	CHECK_STR(tune_share(b, sizeof(b), 40000000 - 4106, 40000000), ">99.9");
	CHECK_STR(tune_share(b, sizeof(b), 1999, 2000), ">99.9");	/* 99.95: not 100.0 */
	CHECK_STR(tune_share(b, sizeof(b), 1, 2001), "<0.1");	/* 0.049975 */
	CHECK_STR(tune_share(b, sizeof(b), 1, 1000), "0.1");
}

int main(void)
{
	return harness_main();
}
