// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 1: the probes' logic, without attaching anything. The test flavor of the BPF
 * programs (raw_tp) is loaded with CO-RE against the model's BTF and driven with
 * BPF_PROG_TEST_RUN, hook by hook, with the arguments a real call would pass, on model
 * structs built here. Expected values come from the scenario the test builds.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "harness.h"
#include "model_util.h"
#include "msmvm/msmvm.h"
#include "objects.h"
#include "probe_table.h"

static char sim_path[4096];
static bool scene_filter_tree;	/* scene_init: watch only msmvm_watch_tgid()'s processes */

struct scene {
	struct msmvm *m;
	struct drm_device dev;
	struct drm_file file;
	struct msm_context ctx;
	struct drm_gpuvm *gpuvm;
	struct msm_gem_vm *vm;
	struct msm_vm_bind_job *job;
	struct drm_msm_vm_bind args;
	struct drm_msm_vm_bind_op ops[8];
};

/* Run one program with these arguments, as the hook would receive them. */
static int run(struct scene *s, const char *prog, int nargs, ...)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	__u64 args[4] = { 0 };
	va_list ap;
	int fd = msmvm_program_fd(s->m, prog);

	va_start(ap, nargs);
	for (int i = 0; i < nargs; i++)
		args[i] = va_arg(ap, __u64);
	va_end(ap);
	o.ctx_in = args;
	o.ctx_size_in = sizeof(__u64) * (nargs ? nargs : 1);
	if (fd < 0 || bpf_prog_test_run_opts(fd, &o)) {
		FAILF("running %s failed (fd %d, errno %d)", prog, fd, errno);
		return -1;
	}
	return 0;
}

#define P(x) ((__u64)(uintptr_t)(x))
#define R(x) ((__u64)(__s64)(x))

/* A VM with one 3-op job (sparse 4 KiB maps in distinct 2 MiB blocks: count 9). */
static int scene_init_opts(struct scene *s, enum msmvm_hooks_choice hooks, bool events)
{
	struct msmvm_opts o = { .target = MSMVM_TARGET_SIM, .sim_path = sim_path,
				.test_flavor = true, .hooks = hooks, .events = events,
				.filter_tree = scene_filter_tree };
	struct msmvm_err err;
	int e;

	memset(s, 0, sizeof(*s));
	if (msmvm_open(&o, &s->m, &err) || msmvm_load(s->m, &err)) {
		FAILF("cannot load the test flavor: %s", err.msg);
		return -1;
	}
	s->gpuvm = test_vm();
	s->vm = to_msm_vm(s->gpuvm);
	s->ctx.vm = s->gpuvm;
	s->ctx.userspace_managed_vm = true;
	s->file.driver_priv = &s->ctx;
	for (int i = 0; i < 3; i++)
		s->ops[i] = mkop(MSM_VM_BIND_OP_MAP, (4ULL << 30) + (u64)i * 4 * SZ_2M, SZ_4K);
	s->args.nr_ops = 3;
	s->args.queue_id = 7;
	s->args.ops = P(s->ops);
	s->job = test_job(s->gpuvm, s->ops, 3, &e);
	vm_bind_count_ops(s->job, NULL, NULL);
	CHECK_EQ(s->job->prealloc.count, 9);
	return 0;
}

static int scene_init(struct scene *s, enum msmvm_hooks_choice hooks)
{
	return scene_init_opts(s, hooks, false);
}

static void scene_fini(struct scene *s)
{
	free(s->job);
	if (s->gpuvm)
		msm_gem_vm_destroy(s->gpuvm);
	msmvm_close(s->m);
}

static int snap_vm(struct scene *s, struct msmvm_snapshot *snap, struct msmvm_vm_snap **v,
		   struct msmvm_proc_snap **p)
{
	struct msmvm_err err;

	*v = NULL;
	*p = NULL;
	if (msmvm_snapshot(s->m, snap, &err)) {
		FAILF("snapshot: %s", err.msg);
		return -1;
	}
	for (int i = 0; i < snap->nvms; i++)
		if (snap->vms[i].vm == P(s->vm))
			*v = &snap->vms[i];
	for (int i = 0; i < snap->nprocs; i++)
		if (snap->procs[i].tgid == (uint32_t)getpid())
			*p = &snap->procs[i];
	if (!*v) {
		FAILF("no stats for the VM (%p)", (void *)s->vm);
		msmvm_snapshot_free(snap);
		return -1;
	}
	if (!*p) {	/* a process's stats appear with its first counted event */
		static struct msmvm_proc_snap none;

		*p = &none;
	}
	return 0;
}

/* The whole life of one job that slept in the throttle, with the direct hooks. */
TEST(direct_bind_that_sleeps_then_is_freed)
{
	struct msmvm_snapshot snap;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;
	struct scene s;

	if (scene_init(&s, MSMVM_HOOKS_DIRECT))
		goto out;
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	/* over the limit at the count's entry: the call is headed for the throttle */
	atomic_set(&s.vm->prealloc_throttle.in_flight, 2000);
	run(&s, "prealloc_count_entry", 1, P(s.job));
	usleep(3000);	/* a voluntary context switch: "slept in the throttle" */
	/* the others' jobs freed but one of 100 pages; then this job's add */
	atomic_set(&s.vm->prealloc_throttle.in_flight, 100);
	atomic_add((int)s.job->prealloc.count, &s.vm->prealloc_throttle.in_flight);
	run(&s, "prealloc_count_return", 1, R(0));
	run(&s, "ioctl_vm_bind_return", 1, R(0));

	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.binds, 1);
		CHECK_EQ(v->s.c.ops, 3);
		CHECK_EQ(v->s.c.errors, 0);
		CHECK_EQ(v->s.c.pages_counted, 9);
		CHECK_EQ(v->s.c.waits, 1);
		CHECK(v->s.c.wait_ns_total >= 3000000);
		CHECK_EQ(v->s.c.wait_ns_max, v->s.c.wait_ns_total);
		CHECK_EQ(v->s.c.in_flight, 109);
		CHECK_EQ(v->s.c.peak_in_flight, 109);
		CHECK_EQ(v->owner_tgid, getpid());
		CHECK_EQ(p->s.c.binds, 1);
		CHECK_EQ(p->s.c.pages_counted, 9);
		CHECK_EQ(p->s.hist[MSMVM_HIST_PAGES_PER_BIND].slots[4], 1);	/* 9 in [8,16) */
		{	/* one wait of 3 ms or more (a loaded machine oversleeps): slot 22 on */
			uint64_t n = 0;

			for (int i = 22; i < MSMVM_HIST_SLOTS; i++)
				n += p->s.hist[MSMVM_HIST_WAIT_NS].slots[i];
			CHECK_EQ(n, 1);
		}
		{
			char comm[16] = { 0 };

			prctl(PR_GET_NAME, comm, 0, 0, 0);
			CHECK(!strcmp(p->comm, comm));
		}
		msmvm_snapshot_free(&snap);
	}

	/* the scheduler frees it: 4 of 9 pages used, the count comes off in_flight */
	s.job->prealloc.ptr = 4;
	run(&s, "job_free_entry", 1, P(s.job));
	atomic_sub((int)s.job->prealloc.count, &s.vm->prealloc_throttle.in_flight);
	run(&s, "job_free_return", 0);
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.pages_used, 4);
		CHECK_EQ(v->s.c.drift, 0);
		CHECK_EQ(v->s.c.in_flight, 100);
		CHECK_EQ(p->s.c.pages_used, 4);
		CHECK_EQ(v->s.hist[MSMVM_HIST_OVERCOUNT_PAGES].slots[3], 1);	/* 5 in [4,8) */
		CHECK_EQ(v->s.hist[MSMVM_HIST_OVERCOUNT_PCT].slots[6], 1);	/* 55% in [32,64) */
		CHECK_EQ(snap.health[MSMVM_H_JOB_STATE_MISSING], 0);
		CHECK_EQ(snap.health[MSMVM_H_THREAD_STATE_MISSING], 0);
		msmvm_snapshot_free(&snap);
	}
out:
	scene_fini(&s);
}

TEST(direct_bind_without_sleep_is_no_wait)
{
	struct msmvm_snapshot snap;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;
	struct scene s;

	if (scene_init(&s, MSMVM_HOOKS_DIRECT))
		goto out;
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prealloc_count_entry", 1, P(s.job));
	run(&s, "prealloc_count_return", 1, R(0));
	run(&s, "ioctl_vm_bind_return", 1, R(0));
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.waits, 0);
		CHECK_EQ(v->s.c.wait_ns_total, 0);
		CHECK_EQ(v->s.c.pages_counted, 9);
		msmvm_snapshot_free(&snap);
	}
out:
	scene_fini(&s);
}

/* -ERESTARTSYS: nothing was added, the free subtracts the count anyway (downward drift). */
TEST(direct_interrupted_wait_gives_negative_drift)
{
	struct msmvm_snapshot snap;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;
	struct scene s;

	if (scene_init(&s, MSMVM_HOOKS_DIRECT))
		goto out;
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prealloc_count_entry", 1, P(s.job));
	run(&s, "prealloc_count_return", 1, R(-512));
	run(&s, "job_free_entry", 1, P(s.job));	/* the ioctl's error path */
	atomic_sub((int)s.job->prealloc.count, &s.vm->prealloc_throttle.in_flight);
	run(&s, "job_free_return", 0);
	run(&s, "ioctl_vm_bind_return", 1, R(-512));
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.interrupted_waits, 1);
		CHECK_EQ(v->s.c.errors, 1);
		CHECK_EQ(v->s.c.errno_counts[MSMVM_ERR_RESTART], 1);
		CHECK_EQ(v->s.c.pages_counted, 0);
		CHECK_EQ(v->s.c.drift, -9);
		CHECK_EQ(v->s.c.in_flight, -9);
		CHECK_EQ(p->s.c.drift, -9);
		CHECK_EQ(snap.health[MSMVM_H_JOB_STATE_MISSING], 0);
		msmvm_snapshot_free(&snap);
	}
out:
	scene_fini(&s);
}

/* The bulk allocation fails after the add: count becomes 0, the pages stay (upward drift). */
TEST(direct_failed_allocation_gives_positive_drift)
{
	struct msmvm_snapshot snap;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;
	struct scene s;

	if (scene_init(&s, MSMVM_HOOKS_DIRECT))
		goto out;
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prealloc_count_entry", 1, P(s.job));
	atomic_add((int)s.job->prealloc.count, &s.vm->prealloc_throttle.in_flight);
	run(&s, "prealloc_count_return", 1, R(0));
	s.job->prealloc.count = 0;
	run(&s, "job_free_entry", 1, P(s.job));
	run(&s, "job_free_return", 0);
	run(&s, "ioctl_vm_bind_return", 1, R(-12));
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.pages_counted, 9);
		CHECK_EQ(v->s.c.drift, 9);
		CHECK_EQ(v->s.c.in_flight, 9);
		CHECK_EQ(v->s.c.errno_counts[MSMVM_ERR_ENOMEM], 1);
		msmvm_snapshot_free(&snap);
	}
out:
	scene_fini(&s);
}

TEST(return_without_entry_is_counted_in_health)
{
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	struct scene s;

	if (scene_init(&s, MSMVM_HOOKS_DIRECT))
		goto out;
	run(&s, "ioctl_vm_bind_return", 1, R(0));
	if (msmvm_snapshot(s.m, &snap, &err) == 0) {
		CHECK_EQ(snap.health[MSMVM_H_THREAD_STATE_MISSING], 1);
		CHECK_EQ(snap.nvms, 0);
		msmvm_snapshot_free(&snap);
	}
out:
	scene_fini(&s);
}

/* One whole call (no sleep) on this process's thread: what the probes count of it. */
static void one_bind(struct scene *s)
{
	run(s, "ioctl_vm_bind_entry", 3, P(&s->dev), P(&s->args), P(&s->file));
	run(s, "prealloc_count_entry", 1, P(s->job));
	run(s, "prealloc_count_return", 1, R(0));
	run(s, "ioctl_vm_bind_return", 1, R(0));
}

static uint64_t binds_now(struct scene *s)
{
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	uint64_t binds;

	if (msmvm_snapshot(s->m, &snap, &err)) {
		FAILF("snapshot: %s", err.msg);
		return UINT64_MAX;
	}
	binds = snap.totals.c.binds;
	CHECK_EQ(snap.health[MSMVM_H_THREAD_STATE_MISSING], 0);
	CHECK_EQ(snap.health[MSMVM_H_MAP_UPDATE_FAILED], 0);
	msmvm_snapshot_free(&snap);
	return binds;
}

/*
 * A command's tree (filter_tree): a process counts once watched, by the loader or as the
 * fork of a watched process (process_fork, sched_process_fork's handler); a new thread of
 * an unwatched process, or a fork of one, does not make it watched.
 */
TEST(filter_tree_follows_forks_of_watched_processes)
{
	uint32_t me = (uint32_t)getpid(), parent = (uint32_t)getppid();
	struct msmvm_err err;
	struct scene s;

	scene_filter_tree = true;
	if (scene_init(&s, MSMVM_HOOKS_DIRECT)) {
		scene_filter_tree = false;
		goto out;
	}
	scene_filter_tree = false;
	one_bind(&s);
	CHECK_EQ(binds_now(&s), 0);			/* nobody watched */
	run(&s, "process_fork", 2, (__u64)parent, (__u64)me);
	one_bind(&s);
	CHECK_EQ(binds_now(&s), 0);			/* forked by an unwatched process */
	if (msmvm_watch_tgid(s.m, parent, &err))
		FAILF("msmvm_watch_tgid: %s", err.msg);
	run(&s, "process_fork", 2, (__u64)parent, (__u64)parent);	/* a thread of it */
	run(&s, "process_fork", 2, (__u64)me, (__u64)me);
	one_bind(&s);
	CHECK_EQ(binds_now(&s), 0);
	run(&s, "process_fork", 2, (__u64)parent, (__u64)me);	/* its fork: watched */
	one_bind(&s);
	CHECK_EQ(binds_now(&s), 1);
	one_bind(&s);
	CHECK_EQ(binds_now(&s), 2);
out:
	scene_fini(&s);
}

/* Without a command every process counts, and process_fork (a no-op then) changes nothing. */
TEST(without_filter_tree_every_process_counts)
{
	struct scene s;

	if (scene_init(&s, MSMVM_HOOKS_DIRECT))
		goto out;
	run(&s, "process_fork", 2, (__u64)getppid(), (__u64)getpid());
	one_bind(&s);
	CHECK_EQ(binds_now(&s), 1);
out:
	scene_fini(&s);
}

/* Fallback: the wait from prepare_to_wait_event/finish_wait, the count from allocate. */
TEST(fallback_wait_and_count)
{
	struct msmvm_snapshot snap;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;
	struct wait_queue_head other;
	struct scene s;
	struct wait_queue_head *wq;

	if (scene_init(&s, MSMVM_HOOKS_FALLBACK))
		goto out;
	wq = &s.vm->prealloc_throttle.wait;
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	/* a wait on some other queue inside the ioctl is not the throttle */
	run(&s, "prepare_to_wait_event_entry", 1, P(&other));
	run(&s, "prepare_to_wait_event_return", 1, R(0));
	run(&s, "finish_wait_entry", 1, P(&other));
	/* the throttle: two rounds of prepare/sleep, then the condition holds */
	run(&s, "prepare_to_wait_event_entry", 1, P(wq));
	run(&s, "prepare_to_wait_event_return", 1, R(0));
	usleep(2000);
	run(&s, "prepare_to_wait_event_entry", 1, P(wq));
	run(&s, "prepare_to_wait_event_return", 1, R(0));
	run(&s, "finish_wait_entry", 1, P(wq));
	atomic_add((int)s.job->prealloc.count, &s.vm->prealloc_throttle.in_flight);
	run(&s, "prealloc_allocate_entry", 2, P(s.vm->mmu), P(&s.job->prealloc));
	run(&s, "ioctl_vm_bind_return", 1, R(0));
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.waits, 1);
		CHECK(v->s.c.wait_ns_total >= 2000000);
		CHECK_EQ(v->s.c.pages_counted, 9);
		CHECK_EQ(v->s.c.in_flight, 9);
		CHECK_EQ(v->s.c.interrupted_waits, 0);
		msmvm_snapshot_free(&snap);
	}
	/* freed with 2 used: its added count is known from allocate, so no drift */
	s.job->prealloc.ptr = 2;
	run(&s, "job_free_entry", 1, P(s.job));
	run(&s, "job_free_return", 0);
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.drift, 0);
		CHECK_EQ(v->s.c.pages_used, 2);
		msmvm_snapshot_free(&snap);
	}
out:
	scene_fini(&s);
}

TEST(fallback_signal_interrupts_only_if_the_condition_still_fails)
{
	struct msmvm_snapshot snap;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;
	struct scene s;
	struct wait_queue_head *wq;

	if (scene_init(&s, MSMVM_HOOKS_FALLBACK))
		goto out;
	wq = &s.vm->prealloc_throttle.wait;
	/* call 1: signal pending, condition false: -ERESTARTSYS, no finish_wait */
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prepare_to_wait_event_entry", 1, P(wq));
	run(&s, "prepare_to_wait_event_return", 1, R(-512));
	run(&s, "ioctl_vm_bind_return", 1, R(-512));
	/* call 2: signal pending but the condition holds: finish_wait, not interrupted */
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prepare_to_wait_event_entry", 1, P(wq));
	run(&s, "prepare_to_wait_event_return", 1, R(-512));
	run(&s, "finish_wait_entry", 1, P(wq));
	run(&s, "prealloc_allocate_entry", 2, P(s.vm->mmu), P(&s.job->prealloc));
	run(&s, "ioctl_vm_bind_return", 1, R(0));
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.c.binds, 2);
		CHECK_EQ(v->s.c.interrupted_waits, 1);
		CHECK_EQ(v->s.c.errors, 1);
		CHECK_EQ(v->s.c.pages_counted, 9);
		msmvm_snapshot_free(&snap);
	}
out:
	scene_fini(&s);
}

struct seen_events {
	int n;
	struct msmvm_event ev[8];
};

static int collect(void *ctx, const struct msmvm_event *e)
{
	struct seen_events *seen = ctx;

	if (seen->n < 8)
		seen->ev[seen->n] = *e;
	seen->n++;
	return 0;
}

/* The event stream, for consumers that ask: one event per bind and per free. */
TEST(events_describe_the_bind_and_the_free)
{
	struct seen_events seen = { 0 };
	struct msmvm_err err;
	struct scene s;

	if (scene_init_opts(&s, MSMVM_HOOKS_DIRECT, true))
		goto out;
	if (msmvm_events_subscribe(s.m, collect, &seen, &err)) {
		FAILF("subscribe: %s", err.msg);
		goto out;
	}
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prealloc_count_entry", 1, P(s.job));
	atomic_add((int)s.job->prealloc.count, &s.vm->prealloc_throttle.in_flight);
	run(&s, "prealloc_count_return", 1, R(0));
	run(&s, "ioctl_vm_bind_return", 1, R(0));
	s.job->prealloc.ptr = 3;
	run(&s, "job_free_entry", 1, P(s.job));
	run(&s, "job_free_return", 0);
	/* no wakeup was forced (batched): a poll with a short timeout still drains them */
	msmvm_events_poll(s.m, 100);
	CHECK_EQ(seen.n, 2);
	if (seen.n >= 2) {
		struct msmvm_event *b = &seen.ev[0], *f = &seen.ev[1];

		CHECK_EQ(b->type, MSMVM_EV_BIND);
		CHECK_EQ(b->pid, getpid());
		CHECK_EQ(b->ret, 0);
		CHECK_EQ(b->nr_ops, 3);
		CHECK_EQ(b->queue_id, 7);
		CHECK_EQ(b->count, 9);
		CHECK_EQ(b->vm, P(s.vm));
		CHECK_EQ(b->job, P(s.job));
		CHECK_EQ(b->in_flight, 9);
		CHECK(b->ts_ns >= b->start_ns && b->start_ns > 0);
		CHECK_EQ(f->type, MSMVM_EV_FREE);
		CHECK_EQ(f->count, 9);
		CHECK_EQ(f->used, 3);
		CHECK_EQ(f->start_ns, b->ts_ns);	/* the job's lifetime starts at the bind's return */
		CHECK_EQ(f->pid, getpid());
		CHECK_EQ(f->drift, 0);
	}
out:
	scene_fini(&s);
}

/* An interrupted wait's free: its event carries the drift, in drift (ret is the bind's). */
TEST(events_carry_a_frees_drift)
{
	struct seen_events seen = { 0 };
	struct msmvm_err err;
	struct scene s;

	if (scene_init_opts(&s, MSMVM_HOOKS_DIRECT, true))
		goto out;
	if (msmvm_events_subscribe(s.m, collect, &seen, &err)) {
		FAILF("subscribe: %s", err.msg);
		goto out;
	}
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prealloc_count_entry", 1, P(s.job));
	run(&s, "prealloc_count_return", 1, R(-512));
	run(&s, "job_free_entry", 1, P(s.job));	/* the ioctl's error path */
	atomic_sub((int)s.job->prealloc.count, &s.vm->prealloc_throttle.in_flight);
	run(&s, "job_free_return", 0);
	run(&s, "ioctl_vm_bind_return", 1, R(-512));
	msmvm_events_poll(s.m, 100);
	CHECK_EQ(seen.n, 2);
	if (seen.n >= 2) {
		struct msmvm_event *f = &seen.ev[0], *b = &seen.ev[1];

		CHECK_EQ(f->type, MSMVM_EV_FREE);
		CHECK_EQ(f->drift, -9);
		CHECK_EQ(f->ret, 0);
		CHECK_EQ(f->in_ioctl, 1);
		CHECK_EQ(f->in_flight_after, -9);
		CHECK_EQ(b->type, MSMVM_EV_BIND);
		CHECK_EQ(b->ret, -512);
		CHECK_EQ(b->interrupted, 1);
		CHECK_EQ(b->counted, 0);
	}
out:
	scene_fini(&s);
}

/* Threads in the throttle now, and the VM's stall time from the gauge's edges. */
TEST(direct_waiters_gauge_and_stall_time)
{
	struct msmvm_snapshot snap;
	struct msmvm_vm_snap *v;
	struct msmvm_proc_snap *p;
	struct scene s;

	if (scene_init(&s, MSMVM_HOOKS_DIRECT))
		goto out;
	atomic_set(&s.vm->prealloc_throttle.in_flight, 2000);	/* above the limit: it will wait */
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prealloc_count_entry", 1, P(s.job));
	usleep(2000);
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.waiters, 1);
		CHECK(v->stall_ns >= 2000000);	/* the open stall period counts */
		CHECK_EQ(p->s.waiters, 1);	/* and the process's */
		CHECK(p->stall_ns >= 2000000);
		msmvm_snapshot_free(&snap);
	}
	atomic_set(&s.vm->prealloc_throttle.in_flight, 0);
	run(&s, "prealloc_count_return", 1, R(0));
	run(&s, "ioctl_vm_bind_return", 1, R(0));
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.waiters, 0);
		CHECK(v->s.stall_ns_total >= 2000000);
		CHECK_EQ(v->stall_ns, v->s.stall_ns_total);
		CHECK_EQ(p->s.waiters, 0);
		CHECK_EQ(p->stall_ns, v->stall_ns);	/* one VM: the same periods */
		msmvm_snapshot_free(&snap);
	}
	/* under the limit at entry: not a waiter */
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	run(&s, "prealloc_count_entry", 1, P(s.job));
	if (snap_vm(&s, &snap, &v, &p) == 0) {
		CHECK_EQ(v->s.waiters, 0);
		msmvm_snapshot_free(&snap);
	}
	run(&s, "prealloc_count_return", 1, R(0));
	run(&s, "ioctl_vm_bind_return", 1, R(0));
out:
	scene_fini(&s);
}

/* ---- each call's ops (emit_ops): MSMVM_EV_OPS records at the ioctl's entry ---- */

struct seen_ops {
	int binds, records, other;
	struct msmvm_ops_event rec[160];
	struct msmvm_event bind;
};

static int collect_ops(void *ctx, const struct msmvm_event *e)
{
	struct seen_ops *seen = ctx;

	if (e->type == MSMVM_EV_OPS) {
		if (seen->records < 160)
			memcpy(&seen->rec[seen->records], e, sizeof(seen->rec[0]));
		seen->records++;
	} else if (e->type == MSMVM_EV_BIND) {
		seen->bind = *e;
		seen->binds++;
	} else {
		seen->other++;
	}
	return 0;
}

static int scene_ops_init(struct scene *s, bool emit_ops, uint32_t ringbuf_bytes,
			  struct seen_ops *seen)
{
	struct msmvm_opts o = { .target = MSMVM_TARGET_SIM, .sim_path = sim_path,
				.test_flavor = true, .hooks = MSMVM_HOOKS_DIRECT, .events = true,
				.emit_ops = emit_ops, .ringbuf_bytes = ringbuf_bytes };
	struct msmvm_err err;

	memset(s, 0, sizeof(*s));
	memset(seen, 0, sizeof(*seen));
	if (msmvm_open(&o, &s->m, &err) || msmvm_load(s->m, &err)) {
		FAILF("cannot load the test flavor: %s", err.msg);
		return -1;
	}
	if (msmvm_events_subscribe(s->m, collect_ops, seen, &err)) {
		FAILF("subscribe: %s", err.msg);
		return -1;
	}
	s->gpuvm = test_vm();
	s->vm = to_msm_vm(s->gpuvm);
	s->ctx.vm = s->gpuvm;
	s->ctx.userspace_managed_vm = true;
	s->file.driver_priv = &s->ctx;
	return 0;
}

/* One call through the hooks: entry, count, return (the ops are the args' own). */
static void ops_call(struct scene *s)
{
	run(s, "ioctl_vm_bind_entry", 3, P(&s->dev), P(&s->args), P(&s->file));
	run(s, "ioctl_vm_bind_return", 1, R(0));
	for (int i = 0; i < 5 && msmvm_events_poll(s->m, 50) >= 0; i++)
		;
}

static struct drm_msm_vm_bind_op *many_ops(unsigned n)
{
	struct drm_msm_vm_bind_op *ops = calloc(n, sizeof(*ops));

	for (unsigned i = 0; i < n; i++)
		ops[i] = mkop(i % 3, (4ULL << 30) + (u64)i * SZ_2M, (u64)(1 + i % 5) * SZ_4K);
	return ops;
}

/* Does record r hold ops[first..first+n) exactly? */
static bool record_holds(const struct msmvm_ops_event *r, const struct drm_msm_vm_bind_op *ops)
{
	for (unsigned i = 0; i < r->n; i++) {
		const struct drm_msm_vm_bind_op *op = &ops[r->first + i];

		if (msmvm_ops_kind(r, i) != op->op || r->ops[i].iova != op->iova ||
		    r->ops[i].range != op->range)
			return false;
	}
	return true;
}

TEST(ops_records_carry_each_calls_ops)
{
	struct seen_ops seen;
	struct scene s;
	struct drm_msm_vm_bind_op *ops = many_ops(1030);

	if (scene_ops_init(&s, true, 0, &seen))
		goto out;
	/* 20 ops from the user array: 3 records, 8 + 8 + 4, keyed by the call's entry */
	s.args.nr_ops = 20;
	s.args.queue_id = 3;
	s.args.ops = P(ops);
	ops_call(&s);
	CHECK_EQ(seen.binds, 1);
	CHECK_EQ(seen.records, 3);
	for (int i = 0; i < 3 && i < seen.records; i++) {
		const struct msmvm_ops_event *r = &seen.rec[i];

		CHECK_EQ(r->type, MSMVM_EV_OPS);
		CHECK_EQ(r->pid, getpid());
		CHECK_EQ(r->tid, seen.bind.tid);
		CHECK_EQ(r->nr_ops, 20);
		CHECK_EQ(r->first, 8 * i);
		CHECK_EQ(r->n, i < 2 ? 8 : 4);
		CHECK_EQ(r->ts_ns, seen.bind.start_ns);
		CHECK(record_holds(r, ops));
	}

	/* one op: inline in the args, not behind the pointer */
	memset(&seen, 0, sizeof(seen));
	s.args.nr_ops = 1;
	s.args.op = mkop(MSM_VM_BIND_OP_MAP_NULL, 0x123400000ULL, 64 * SZ_4K);
	ops_call(&s);
	CHECK_EQ(seen.records, 1);
	if (seen.records >= 1) {
		CHECK_EQ(seen.rec[0].n, 1);
		CHECK_EQ(msmvm_ops_kind(&seen.rec[0], 0), MSM_VM_BIND_OP_MAP_NULL);
		CHECK_EQ(seen.rec[0].ops[0].iova, 0x123400000ULL);
		CHECK_EQ(seen.rec[0].ops[0].range, 64 * SZ_4K);
		CHECK_EQ(seen.rec[0].ts_ns, seen.bind.start_ns);
	}

	/* more than the probes take: the first 1024, in 128 records */
	memset(&seen, 0, sizeof(seen));
	s.args.nr_ops = 1030;
	s.args.ops = P(ops);
	ops_call(&s);
	CHECK_EQ(seen.records, 128);
	if (seen.records == 128) {
		CHECK_EQ(seen.rec[127].first, 1016);
		CHECK_EQ(seen.rec[127].n, 8);
		CHECK_EQ(seen.rec[127].nr_ops, 1030);
		CHECK(record_holds(&seen.rec[127], ops) && record_holds(&seen.rec[64], ops));
	}

	/* no ops: no record; an op array the probes cannot read: one record, short (none
	 * read), and the walk stops there; the calls go on */
	memset(&seen, 0, sizeof(seen));
	s.args.nr_ops = 0;
	ops_call(&s);
	CHECK_EQ(seen.records, 0);
	s.args.nr_ops = 20;
	s.args.ops = 8;	/* unmapped */
	ops_call(&s);
	CHECK_EQ(seen.binds, 2);
	CHECK_EQ(seen.records, 1);
	if (seen.records == 1) {
		CHECK_EQ(seen.rec[0].n, 0);
		CHECK_EQ(seen.rec[0].first, 0);
	}
	CHECK_EQ(seen.other, 0);
out:
	free(ops);
	scene_fini(&s);
}

TEST(ops_records_only_when_asked)
{
	struct seen_ops seen;
	struct scene s;

	if (scene_ops_init(&s, false, 0, &seen))
		goto out;
	s.args.nr_ops = 3;
	s.args.ops = P(s.ops);
	ops_call(&s);
	CHECK_EQ(seen.binds, 1);
	CHECK_EQ(seen.records, 0);
out:
	scene_fini(&s);
}

/* A full ring buffer drops records like any event: every one emitted or counted dropped. */
TEST(ops_records_lost_to_a_full_ring_are_counted)
{
	struct msmvm_snapshot snap;
	struct msmvm_err err;
	struct seen_ops seen;
	struct scene s;
	struct drm_msm_vm_bind_op *ops = many_ops(1024);

	if (scene_ops_init(&s, true, (uint32_t)getpagesize(), &seen))
		goto out;
	s.args.nr_ops = 1024;
	s.args.ops = P(ops);
	/* the entry alone, not drained: one page holds a few of the 128 records */
	run(&s, "ioctl_vm_bind_entry", 3, P(&s.dev), P(&s.args), P(&s.file));
	if (msmvm_snapshot(s.m, &snap, &err) == 0) {
		uint64_t drops = snap.health[MSMVM_H_RINGBUF_DROPS];

		CHECK(drops > 0);
		CHECK_EQ(drops + snap.health[MSMVM_H_EVENTS], 128);
		msmvm_events_poll(s.m, 50);
		CHECK_EQ(seen.records, (int)snap.health[MSMVM_H_EVENTS]);
		for (int i = 1; i < seen.records && i < 160; i++)
			CHECK_EQ(seen.rec[i].first, seen.rec[i - 1].first + 8);
		msmvm_snapshot_free(&snap);
	}
	run(&s, "ioctl_vm_bind_return", 1, R(0));
out:
	free(ops);
	scene_fini(&s);
}

/*
 * The kernel flavor with its ops path (dead code unless events and ops are asked for, so
 * msmvm-stat's dry runs never verify it) through the verifier against real kernels' BTF.
 */
TEST(kernel_flavor_with_ops_loads_against_distribution_btf)
{
	static const char *const fixtures[] = { "debian-6.17.13-arm64", "debian-7.2.13-arm64" };

	for (int i = 0; i < 2; i++) {
		char src[256], btf[256], cmd[700];
		struct msmvm_opts o = { .target = MSMVM_TARGET_KERNEL, .btf_path = btf,
					.dry_run = true, .events = true, .emit_ops = true };
		struct msmvm_err err;
		struct msmvm *m = NULL;

		snprintf(src, sizeof(src), "tests/fixtures/btf/%s.btf.xz", fixtures[i]);
		snprintf(btf, sizeof(btf), "/tmp/msmvm-test-probes-%d-%s.btf", getpid(), fixtures[i]);
		if (access(src, R_OK)) {
			FAILF("no fixture %s (run from the source tree)", src);
			continue;
		}
		snprintf(cmd, sizeof(cmd), "xz -dc '%s' > '%s'", src, btf);
		if (system(cmd)) {
			unlink(btf);
			SKIP("xz cannot decompress the BTF fixtures");
		}
		if (msmvm_open(&o, &m, &err) || msmvm_load(m, &err))
			FAILF("%s: %s", fixtures[i], err.msg);
		else
			CHECK(msmvm_get_plan(m)->emit_ops);
		msmvm_close(m);
		unlink(btf);
	}
}

/* A BTF fixture, decompressed to a temporary file (path in out). 0, 1: skip, -1: failure. */
static int fixture_btf(const char *name, char *out, size_t len)
{
	char src[256], cmd[700];

	snprintf(src, sizeof(src), "tests/fixtures/btf/%s.btf.xz", name);
	snprintf(out, len, "/tmp/msmvm-test-probes-%d-%s.btf", getpid(), name);
	if (access(src, R_OK)) {
		FAILF("no fixture %s (run from the source tree)", src);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "xz -dc '%s' > '%s'", src, out);
	if (system(cmd)) {
		unlink(out);
		return 1;
	}
	return 0;
}

/*
 * The fentry flavor (bpf/msmvm_fentry.bpf.c): the kernel flavor's handlers, unpacked from
 * fentry/fexit arguments. This host refuses fentry programs, so what can be checked here
 * is checked: each program is the fentry or fexit the probe table says (entry or return),
 * in both architectures' objects; and, opened as raw_tp programs (the same array of u64
 * arguments as fentry's), the whole object, ops path included, passes CO-RE and the
 * verifier against real kernels' BTF and relocates to the kprobe flavor's layout.
 */
TEST(fentry_flavor_is_the_kernel_handlers)
{
	static const char *const fixtures[] = { "debian-6.17.13-arm64", "debian-7.2.13-arm64" };
	static const char *const arches[] = { "arm64", "x86" };

	for (int a = 0; a < 2; a++) {
		const struct msmvm_flavor *f = msmvm_flavor_find(MSMVM_TARGET_KERNEL, arches[a],
								 false, true);
		struct msmvm_bpf b;

		if (!f || msmvm_bpf_open(&b, f, NULL)) {
			FAILF("cannot open the fentry flavor for %s", arches[a]);
			continue;
		}
		CHECK(!strncmp(msmvm_flavor_name(f), "kernel-fentry-", 14));
		for (int i = 0; i < msmvm_nhooks; i++) {
			const struct msmvm_hook *h = &msmvm_hooks[i];
			struct bpf_program *p = b.progs[h->program];

			CHECK_EQ(bpf_program__type(p), BPF_PROG_TYPE_TRACING);
			if (bpf_program__expected_attach_type(p) !=
			    (h->retprobe ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY))
				FAILF("%s: %s program %s is not an %s", arches[a], h->function,
				      msmvm_prog_name(h->program), h->retprobe ? "fexit" : "fentry");
		}
		msmvm_bpf_destroy(&b);
	}

	for (int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_object_open_opts, oo);
		LIBBPF_OPTS(bpf_test_run_opts, topts);
		struct msmvm_bpf_config cfg = MSMVM_BPF_CONFIG_DEFAULT;
		struct msmvm_opts o = { .target = MSMVM_TARGET_KERNEL, .dry_run = true };
		struct msmvm_layout want, got;
		struct msmvm_err err;
		struct msmvm *m = NULL;
		struct msmvm_bpf b;
		char btf[256];
		static int h1, h2;
		int ret;

		ret = fixture_btf(fixtures[i], btf, sizeof(btf));
		if (ret < 0)
			continue;
		if (ret > 0)
			SKIP("xz cannot decompress the BTF fixtures");
		o.btf_path = btf;
		if (msmvm_open(&o, &m, &err) || msmvm_load(m, &err) ||
		    msmvm_get_layout(m, &want, &err)) {
			FAILF("%s, kprobe flavor: %s", fixtures[i], err.msg);
			goto next;
		}
		CHECK(!msmvm_get_plan(m)->fentry);	/* a BTF file: kprobes */
		CHECK(!strcmp(msmvm_get_plan(m)->attach, "kprobe"));

		/*
		 * Sections "fentry"/"fexit" open as raw_tp from here on, in this process (only
		 * the fentry flavor has them, and this test is its last user). Registered once
		 * and never unregistered: libbpf 1.1 frees its handler table twice when the
		 * last handler is unregistered and another registered later.
		 */
		if (!h1)
			h1 = libbpf_register_prog_handler("fentry", BPF_PROG_TYPE_RAW_TRACEPOINT, 0,
							  NULL);
		if (!h2)
			h2 = libbpf_register_prog_handler("fexit", BPF_PROG_TYPE_RAW_TRACEPOINT, 0,
							  NULL);
		oo.btf_custom_path = btf;
		ret = h1 > 0 && h2 > 0
			      ? msmvm_bpf_open(&b, msmvm_flavor_find(MSMVM_TARGET_KERNEL, "arm64",
								     false, true), &oo)
			      : -EINVAL;
		if (ret) {
			FAILF("%s: cannot open the fentry flavor as raw_tp (%d)", fixtures[i], ret);
			goto next;
		}
		cfg.emit_events = 1;
		cfg.emit_ops = 1;
		*b.config = cfg;
		ret = msmvm_bpf_load(&b);
		if (ret) {
			FAILF("%s: the fentry flavor's programs do not load: %d", fixtures[i], ret);
		} else if (bpf_prog_test_run_opts(bpf_program__fd(b.progs[MSMVM_PROG_report_layout]),
						  &topts) || msmvm_bpf_layout(&b, &got)) {
			FAILF("%s: report_layout: errno %d", fixtures[i], errno);
		} else {
			for (int p = 0; p < MSMVM_NPROGS; p++)	/* every program went through */
				if (bpf_program__fd(b.progs[p]) < 0)
					FAILF("%s: %s not loaded", fixtures[i], msmvm_prog_name(p));
			CHECK(!memcmp(&got, &want, sizeof(got)));
			CHECK_EQ(got.msm_gem_vm_in_flight, want.msm_gem_vm_in_flight);
		}
		msmvm_bpf_destroy(&b);
next:
		msmvm_close(m);
		unlink(btf);
	}
}

int main(void)
{
	const char *b = getenv("BUILD");

	snprintf(sim_path, sizeof(sim_path), "%s/msmvm-sim", b ? b : "build");
	if (geteuid() != 0) {
		printf("skip probes # needs root (CAP_BPF) to load BPF programs\n");
		return 0;
	}
	return harness_main();
}
