// SPDX-License-Identifier: GPL-2.0
/*
 * The driver going away, without a kernel: the module watch against a fake sysfs tree
 * (rmmod and insmod as a directory going and coming back), and msmvm-alert's carry, which
 * keeps exported counters monotonic across a detach and a re-attach. The expected figures
 * are the sums of the attachments' own counts, written out by hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "msmvm/alert.h"
#include "msmvm/driver_watch.h"

/* ------------------------------------------------------------------ fake sysfs */

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A shell command; every %s is the fake root. */
static void sh(const char *fmt)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), fmt, root, root);
	if (system(cmd))
		FAILF("command failed: %s", cmd);
}

static void fake_sysfs(void)
{
	snprintf(root, sizeof(root), "/tmp/msmvm-unload-XXXXXX");
	if (!mkdtemp(root))
		FAILF("mkdtemp: %s", strerror(errno));
	sh("mkdir -p %s/module/fakemod %s/kernel/btf");
	put("module/fakemod/initstate", "live\n");
	put("kernel/btf/fakemod", "");
}

static void fake_cleanup(void)
{
	sh("rm -rf %s");
}

TEST(watch_sees_rmmod)
{
	struct msmvm_driver_watch w;

	fake_sysfs();
	CHECK_EQ(msmvm_driver_watch_init(&w, root, "fakemod"), 0);
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_LOADED);
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_LOADED);
	CHECK(!strcmp(msmvm_driver_watch_module(&w), "fakemod"));
	/* rmmod: the directory goes */
	sh("mv %s/module/fakemod %s/module/fakemod.gone");
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_UNLOADED);
	fake_cleanup();
}

TEST(watch_sees_a_reload_between_polls)
{
	struct msmvm_driver_watch w;

	fake_sysfs();
	CHECK_EQ(msmvm_driver_watch_init(&w, root, "fakemod"), 0);
	/* unloaded and loaded again before the next poll: another directory (the old one
	 * kept aside so that its inode number cannot be given to the new one) */
	sh("mv %s/module/fakemod %s/module/fakemod.gone");
	sh("mkdir %s/module/fakemod");
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_UNLOADED);
	/* a watch started on the new instance sees it loaded */
	CHECK_EQ(msmvm_driver_watch_init(&w, root, "fakemod"), 0);
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_LOADED);
	fake_cleanup();
}

TEST(watch_of_an_absent_module_says_unloaded)
{
	struct msmvm_driver_watch w;

	fake_sysfs();
	CHECK_EQ(msmvm_driver_watch_init(&w, root, "othermod"), -ENOENT);
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_UNLOADED);
	/* it appearing later changes nothing: it is not the instance attached to */
	sh("mkdir %s/module/othermod");
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_UNLOADED);
	CHECK_EQ(msmvm_driver_watch_init(&w, root, "../module"), -EINVAL);
	CHECK_EQ(msmvm_driver_watch_init(&w, root, ""), -EINVAL);
	fake_cleanup();
}

TEST(watch_inactive_is_always_loaded)
{
	struct msmvm_driver_watch w;

	memset(&w, 0, sizeof(w));
	CHECK_EQ(msmvm_driver_watch_poll(&w), MSMVM_DRIVER_LOADED);
	CHECK(!strcmp(msmvm_driver_watch_module(&w), "msm"));
}

TEST(ready_wants_live_and_btf)
{
	fake_sysfs();
	CHECK(msmvm_driver_ready(root, "fakemod"));
	put("module/fakemod/initstate", "coming\n");
	CHECK(!msmvm_driver_ready(root, "fakemod"));
	put("module/fakemod/initstate", "going\n");
	CHECK(!msmvm_driver_ready(root, "fakemod"));
	put("module/fakemod/initstate", "live\n");
	sh("rm %s/kernel/btf/fakemod");
	CHECK(!msmvm_driver_ready(root, "fakemod"));
	put("kernel/btf/fakemod", "");
	CHECK(msmvm_driver_ready(root, "fakemod"));
	CHECK(!msmvm_driver_ready(root, "nomod"));
	CHECK(!msmvm_driver_ready(root, "../x"));
	fake_cleanup();
}

/* ------------------------------------------------------------------ the carry */

struct vm_spec {
	uint64_t vm;
	uint32_t owner;
	uint64_t binds, pages;
	int64_t in_flight, drift, peak;
	uint64_t stall_ns;
};

/* A snapshot of VMs (procs made from their owners), as msmvm_snapshot would give. */
static void make_snap(struct msmvm_snapshot *s, const struct vm_spec *v, int n, uint64_t ts)
{
	memset(s, 0, sizeof(*s));
	s->ts_ns = ts;
	s->vms = calloc((size_t)n + 1, sizeof(*s->vms));
	s->procs = calloc((size_t)n + 1, sizeof(*s->procs));
	for (int i = 0; i < n; i++) {
		struct msmvm_vm_snap *x = &s->vms[s->nvms++];
		struct msmvm_proc_snap *p = NULL;

		x->vm = v[i].vm;
		x->owner_tgid = x->s.owner_tgid = v[i].owner;
		x->s.c.binds = v[i].binds;
		x->s.c.pages_counted = v[i].pages;
		x->s.c.in_flight = v[i].in_flight;
		x->s.c.drift = v[i].drift;
		x->s.c.peak_in_flight = v[i].peak;
		x->s.hist[MSMVM_HIST_PAGES_PER_BIND].slots[2] = v[i].binds;
		x->stall_ns = x->s.stall_ns_total = v[i].stall_ns;
		x->s.last_seen_ns = ts - 1000 + (uint64_t)i;
		for (int k = 0; k < s->nprocs; k++)
			if (s->procs[k].tgid == v[i].owner)
				p = &s->procs[k];
		if (!p) {
			p = &s->procs[s->nprocs++];
			p->tgid = v[i].owner;
			snprintf(p->comm, sizeof(p->comm), "proc-%u", v[i].owner);
			memcpy(p->s.comm, p->comm, sizeof(p->comm));
		}
		p->s.c.binds += v[i].binds;
		p->s.c.pages_counted += v[i].pages;
		p->s.c.drift += v[i].drift;
		p->stall_ns += v[i].stall_ns;
		p->s.last_seen_ns = x->s.last_seen_ns;
	}
	for (int k = 0; k < s->nprocs; k++)
		msmvm_stats_merge(&s->totals, &s->procs[k].s);
	s->health[MSMVM_H_EVENTS] = 5;
}

static const struct msmvm_vm_snap *find_vm(const struct msmvm_snapshot *s, uint64_t vm)
{
	for (int i = 0; i < s->nvms; i++)
		if (s->vms[i].vm == vm)
			return &s->vms[i];
	return NULL;
}

/* The sum over every series of a Prometheus family, as a sum() over it would be. */
static double prom_sum(const char *text, const char *family)
{
	size_t n = strlen(family);
	double sum = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, family, n) && l[n] == '{') {
			const char *sp = strstr(l, "} ");

			if (sp)
				sum += strtod(sp + 2, NULL);
		}
	return sum;
}

TEST(carry_keeps_counters_monotonic_across_a_reattach)
{
	/* attachment 1, twice (counts grow), then unloaded */
	const struct vm_spec a1[] = {
		{ 0x1000, 100, 10, 30, 6, 2, 9, 1000 },
		{ 0x2000, 101, 7, 21, 0, 0, 3, 0 },
	};
	const struct vm_spec a2[] = {
		{ 0x1000, 100, 14, 42, 3, 2, 9, 1500 },
		{ 0x2000, 101, 9, 27, 1, 0, 4, 0 },
	};
	/* attachment 2 from zero: a VM at a reused address, a new one, the same pid 100 */
	const struct vm_spec b1[] = {
		{ 0x1000, 100, 3, 9, 4, 0, 5, 200 },
		{ 0x3000, 102, 5, 15, 2, 1, 2, 0 },
	};
	struct msmvm_carry *c = msmvm_carry_new();
	struct msmvm_snapshot s, view;
	const struct msmvm_vm_snap *v;
	uint64_t last_binds = 0, last_pages = 0, last_stall = 0;
	struct msmvm_prom_driver d = { .module = "fakemod", .attached = true, .attaches = 2,
				       .detaches = 1 };
	char *text;
	size_t len;

	CHECK(c && msmvm_carry_empty(c));
	/* attached: the view is the live snapshot itself */
	make_snap(&s, a1, 2, 1000000);
	CHECK_EQ(msmvm_carry_view(c, &s, 0, &view), 0);
	CHECK_EQ(view.totals.c.binds, 17);
	last_binds = view.totals.c.binds;
	msmvm_snapshot_free(&view);
	msmvm_snapshot_free(&s);

	/* the unload: the last snapshot, read after it, goes into the carry */
	make_snap(&s, a2, 2, 2000000);
	CHECK_EQ(msmvm_carry_fold(c, &s), 0);
	msmvm_snapshot_free(&s);
	CHECK(!msmvm_carry_empty(c));
	CHECK_EQ(msmvm_carry_folds(c), 1);

	/* detached: the carry alone; counts as at the unload, the gauges of the gone at 0 */
	CHECK_EQ(msmvm_carry_view(c, NULL, 3000000, &view), 0);
	CHECK_EQ(view.ts_ns, 3000000);
	CHECK_EQ(view.totals.c.binds, 23);
	CHECK_EQ(view.totals.c.pages_counted, 69);
	CHECK_EQ(view.totals.c.in_flight, 0);
	CHECK_EQ(view.totals.c.drift, 0);
	CHECK_EQ(view.totals.c.peak_in_flight, 9);
	CHECK_EQ(view.nwaiters, 0);
	CHECK_EQ(view.health[MSMVM_H_EVENTS], 5);
	v = find_vm(&view, 0x1000);
	CHECK(v && v->stall_ns == 1500 && v->s.c.in_flight == 0 && v->s.waiters == 0);
	CHECK(view.totals.c.binds >= last_binds);
	last_binds = view.totals.c.binds;
	last_pages = view.totals.c.pages_counted;
	last_stall = v ? v->stall_ns : 0;
	text = msmvm_prometheus_text_driver(&view, NULL, &d, &len);
	CHECK(text && prom_sum(text, "msmvm_binds_total") == 23);
	free(text);
	msmvm_snapshot_free(&view);

	/* re-attached: before + after, per VM and in total */
	make_snap(&s, b1, 2, 4000000);
	CHECK_EQ(msmvm_carry_view(c, &s, 0, &view), 0);
	CHECK_EQ(view.ts_ns, 4000000);
	CHECK_EQ(view.totals.c.binds, 23 + 8);
	CHECK_EQ(view.totals.c.pages_counted, 69 + 24);
	CHECK_EQ(view.totals.c.in_flight, 6);	/* live gauges only */
	CHECK_EQ(view.totals.c.drift, 1);
	CHECK_EQ(view.nvms, 3);
	CHECK_EQ(view.nprocs, 3);
	CHECK_EQ(view.health[MSMVM_H_EVENTS], 10);
	v = find_vm(&view, 0x1000);
	CHECK(v && v->s.c.binds == 17 && v->s.c.in_flight == 4 && v->stall_ns == 1700 &&
	      v->s.hist[MSMVM_HIST_PAGES_PER_BIND].slots[2] == 17);
	CHECK(v && v->stall_ns >= last_stall);
	v = find_vm(&view, 0x2000);
	CHECK(v && v->s.c.binds == 9 && v->s.c.in_flight == 0);
	v = find_vm(&view, 0x3000);
	CHECK(v && v->s.c.binds == 5 && v->s.c.in_flight == 2);
	CHECK(view.totals.c.binds >= last_binds && view.totals.c.pages_counted >= last_pages);
	for (int i = 0; i < view.nprocs; i++) {
		const struct msmvm_proc_snap *p = &view.procs[i];

		if (i)
			CHECK(view.procs[i - 1].tgid < p->tgid);
		if (p->tgid == 100)
			CHECK(p->s.c.binds == 17 && p->nvms == 1 && p->s.c.in_flight == 4 &&
			      p->stall_ns == 1700);
		if (p->tgid == 101)
			CHECK(p->s.c.binds == 9 && p->nvms == 1 && p->s.c.in_flight == 0);
	}
	text = msmvm_prometheus_text_driver(&view, NULL, &d, &len);
	CHECK(text && prom_sum(text, "msmvm_binds_total") == 31);
	CHECK(text && prom_sum(text, "msmvm_in_flight_pages") == 6);
	CHECK(text && strstr(text, "msmvm_driver_attached{module=\"fakemod\"} 1\n"));
	CHECK(text && strstr(text, "msmvm_driver_detaches_total{module=\"fakemod\"} 1\n"));
	CHECK(text && strstr(text, "msmvm_driver_attaches_total{module=\"fakemod\"} 2\n"));
	free(text);
	msmvm_snapshot_free(&view);
	msmvm_snapshot_free(&s);

	/* a second unload: both attachments' final counts */
	make_snap(&s, b1, 2, 5000000);
	CHECK_EQ(msmvm_carry_fold(c, &s), 0);
	msmvm_snapshot_free(&s);
	CHECK_EQ(msmvm_carry_view(c, NULL, 6000000, &view), 0);
	CHECK_EQ(view.totals.c.binds, 31);
	CHECK_EQ(view.totals.c.in_flight, 0);
	CHECK_EQ(msmvm_carry_folds(c), 2);
	msmvm_snapshot_free(&view);
	msmvm_carry_free(c);
}

TEST(carry_bounded_and_sums_kept)
{
	int n = MSMVM_CARRY_MAX + 10;
	struct vm_spec *v = calloc((size_t)n, sizeof(*v));
	struct msmvm_carry *c = msmvm_carry_new();
	struct msmvm_snapshot s, view;
	const struct msmvm_vm_snap *agg;
	uint64_t want = 0;

	for (int i = 0; i < n; i++) {
		v[i] = (struct vm_spec){ .vm = 0x10000 + (uint64_t)i * 0x1000,
					 .owner = 1000 + (uint32_t)i, .binds = (uint64_t)i + 1 };
		want += (uint64_t)i + 1;
	}
	make_snap(&s, v, n, 1ULL << 40);
	CHECK_EQ(msmvm_carry_fold(c, &s), 0);
	msmvm_snapshot_free(&s);
	CHECK_EQ(msmvm_carry_view(c, NULL, 1, &view), 0);
	CHECK_EQ(view.nvms, MSMVM_CARRY_MAX);
	CHECK_EQ(view.nprocs, MSMVM_CARRY_MAX);
	CHECK_EQ(view.totals.c.binds, want);
	agg = find_vm(&view, 0);
	/* 11 folded into it: the 10 over and one for its own room, the least recently seen */
	CHECK(agg && agg->s.c.binds == 66 && agg->owner_tgid == 0);
	CHECK(view.procs[0].tgid == 0 && !strcmp(view.procs[0].comm, "(gone)") &&
	      view.procs[0].s.c.binds == 66);
	msmvm_snapshot_free(&view);
	free(v);
	msmvm_carry_free(c);
}

int main(void)
{
	return harness_main();
}
