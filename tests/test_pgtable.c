// SPDX-License-Identifier: GPL-2.0
/*
 * The page-table side of the model: how many preallocated pages a job really uses
 * (msm_iommu_pagetable_alloc_pt, job->prealloc.ptr), against known patterns and against an
 * independent set of touched blocks; what an undercount does; and the ioctl's early -EINVAL
 * and -EPIPE returns. The tests drive the driver's steps themselves:
 *   vm_bind_count_ops -> prealloc_allocate -> msm_vma_job_run -> (read ptr) -> msm_vma_job_free
 */
#include <unistd.h>

#include "harness.h"
#include "model_util.h"

#define MAP  MSM_VM_BIND_OP_MAP
#define NUL  MSM_VM_BIND_OP_MAP_NULL
#define UNM  MSM_VM_BIND_OP_UNMAP
#define K4   (1ULL << 12)
#define M2   (1ULL << 21)
#define G1   (1ULL << 30)
#define G512 (1ULL << 39)
#define BASE (4 * G1)	/* 1 GiB aligned, inside the first 512 GiB block */

struct step {
	int alloc_ret;	/* prealloc_allocate's return */
	u32 counted;	/* job->prealloc.count after counting (and any override) */
	u32 used;	/* job->prealloc.ptr after the run */
};

/*
 * One job through the driver's steps. count_override >= 0 replaces the count before the
 * allocation (an undercount). Returns false if lookup_op rejected an op.
 */
static bool apply_job(struct drm_gpuvm *vm, const struct drm_msm_vm_bind_op *ops, unsigned n,
		      long count_override, struct step *st)
{
	struct msm_mmu *mmu = to_msm_vm(vm)->mmu;
	struct msm_vm_bind_job *job;
	int err;

	memset(st, 0, sizeof(*st));
	job = test_job(vm, ops, n, &err);
	if (!job) {
		FAILF("lookup_op rejected a test job: %d", err);
		return false;
	}
	vm_bind_count_ops(job, NULL, NULL);
	if (count_override >= 0)
		job->prealloc.count = (u32)count_override;
	st->counted = job->prealloc.count;
	/* the ioctl's add, so that free's subtract balances as in the driver */
	atomic_add((int)job->prealloc.count, &to_msm_vm(vm)->prealloc_throttle.in_flight);
	st->alloc_ret = mmu->funcs->prealloc_allocate(mmu, &job->prealloc);
	if (st->alloc_ret == 0)
		msm_vma_job_run(&job->base);
	st->used = job->prealloc.ptr;	/* before free: free releases the job */
	msm_vma_job_free(&job->base);
	return true;
}

static u64 tables(struct drm_gpuvm *vm)
{
	return msm_iommu_pagetable_tables(to_msm_vm(vm)->mmu);
}

static void one(struct drm_gpuvm *vm, u32 kind, u64 iova, u64 range, struct step *st)
{
	struct drm_msm_vm_bind_op op = mkop(kind, iova, range);

	apply_job(vm, &op, 1, -1, st);
}

TEST(used_pages_follow_the_tables_already_present)
{
	struct drm_gpuvm *vm = test_vm();
	struct step st;

	one(vm, MAP, BASE, K4, &st);			/* L1 + L2 + L3; the L0 root is not pooled */
	CHECK_EQ(st.alloc_ret, 0);
	CHECK_EQ(st.counted, 3);
	CHECK_EQ(st.used, 3);
	CHECK_EQ(tables(vm), 3);

	one(vm, MAP, BASE, K4, &st);			/* same page again */
	CHECK_EQ(st.counted, 3);
	CHECK_EQ(st.used, 0);

	one(vm, MAP, BASE + 100 * K4, K4, &st);		/* same 2 MiB block */
	CHECK_EQ(st.counted, 3);
	CHECK_EQ(st.used, 0);

	one(vm, MAP, BASE + M2 + 7 * K4, K4, &st);	/* next 2 MiB block, same 1 GiB: L3 */
	CHECK_EQ(st.counted, 3);
	CHECK_EQ(st.used, 1);

	one(vm, NUL, BASE + 3 * G1 + 5 * M2, K4, &st);	/* new 1 GiB, same 512 GiB: L2 + L3 */
	CHECK_EQ(st.counted, 3);
	CHECK_EQ(st.used, 2);

	one(vm, MAP, 3 * G512 + 9 * M2, K4, &st);	/* new 512 GiB block: L1 + L2 + L3 */
	CHECK_EQ(st.counted, 3);
	CHECK_EQ(st.used, 3);

	CHECK_EQ(tables(vm), 3 + 0 + 0 + 1 + 2 + 3);
	CHECK_EQ(atomic_read(&to_msm_vm(vm)->prealloc_throttle.in_flight), 0);
	CHECK(!to_msm_vm(vm)->unusable);
	msm_gem_vm_destroy(vm);
}

TEST(map_64m_aligned_uses_exactly_its_count_34)
{
	struct drm_gpuvm *vm = test_vm();
	struct step st;

	one(vm, MAP, BASE + 64 * M2, 64ULL << 20, &st);
	CHECK_EQ(st.alloc_ret, 0);
	CHECK_EQ(st.counted, 34);
	CHECK_EQ(st.used, 34);
	CHECK_EQ(tables(vm), 34);

	/* remapped: every table is there already */
	one(vm, NUL, BASE + 64 * M2, 64ULL << 20, &st);
	CHECK_EQ(st.counted, 34);
	CHECK_EQ(st.used, 0);
	msm_gem_vm_destroy(vm);
}

TEST(scattered_342_maps_count_1026_use_344)
{
	struct drm_gpuvm *vm = test_vm();
	struct drm_msm_vm_bind_op ops[342];
	struct step st;

	/*
	 * 342 distinct 2 MiB blocks of one 1 GiB block (0..341), evens then odds: consecutive
	 * ops are never in the same or adjacent blocks, so no two merge.
	 */
	for (unsigned i = 0; i < 342; i++) {
		unsigned b = i < 171 ? 2 * i : 2 * (i - 171) + 1;

		ops[i] = mkop(MAP, BASE + (u64)b * M2 + 3 * K4, K4);
	}
	apply_job(vm, ops, 342, -1, &st);
	CHECK_EQ(st.alloc_ret, 0);
	CHECK_EQ(st.counted, 1026);
	CHECK_EQ(st.used, 344);			/* one L1, one L2, 342 L3 */
	CHECK_EQ(tables(vm), 344);
	msm_gem_vm_destroy(vm);
}

TEST(unmaps_use_nothing_and_never_free_tables)
{
	struct drm_gpuvm *vm = test_vm();
	struct step st;

	one(vm, UNM, BASE, 4 * M2, &st);		/* nothing mapped there: no tables made */
	CHECK_EQ(st.alloc_ret, 0);
	CHECK_EQ(st.counted, 0);
	CHECK_EQ(st.used, 0);
	CHECK_EQ(tables(vm), 0);

	one(vm, MAP, BASE + 5 * K4, K4, &st);
	CHECK_EQ(st.used, 3);
	one(vm, UNM, BASE + 5 * K4, K4, &st);
	CHECK_EQ(st.counted, 0);
	CHECK_EQ(st.used, 0);
	CHECK_EQ(tables(vm), 3);			/* the 4 KiB unmap left every table */
	one(vm, UNM, BASE, G1, &st);			/* even a whole 1 GiB unmap */
	CHECK_EQ(st.used, 0);
	CHECK_EQ(tables(vm), 3);
	one(vm, MAP, BASE + 5 * K4, K4, &st);		/* map the same page again */
	CHECK_EQ(st.counted, 3);
	CHECK_EQ(st.used, 0);
	CHECK_EQ(tables(vm), 3);

	{	/* an UNMAP inside a job neither counts nor frees */
		struct drm_msm_vm_bind_op ops[] = {
			mkop(MAP, BASE + 10 * M2, K4),
			mkop(UNM, BASE + 10 * M2, K4),
			mkop(MAP, BASE + 10 * M2 + K4, K4),
		};

		apply_job(vm, ops, 3, -1, &st);
		CHECK_EQ(st.counted, 3);
		CHECK_EQ(st.used, 1);
		CHECK_EQ(tables(vm), 4);
	}
	msm_gem_vm_destroy(vm);
}

/* ---------------------------------------------------------------- randomised */

/* An independent record of the tables a VM must have: the blocks MAP/MAP_NULL ops touched. */
struct block_set {
	u64 *slot;	/* key + 1, 0 = empty */
	size_t cap, n;
};

static bool set_insert(struct block_set *s, u64 key)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct block_set t = { calloc(s->cap ? 2 * s->cap : 1024, sizeof(u64)),
				       s->cap ? 2 * s->cap : 1024, 0 };

		for (size_t j = 0; j < s->cap; j++)
			if (s->slot[j])
				set_insert(&t, s->slot[j] - 1);
		free(s->slot);
		*s = t;
	}
	for (i = (key * 0x9e3779b97f4a7c15ULL) >> 20; ; i++) {
		u64 *e = &s->slot[i % s->cap];

		if (*e == key + 1)
			return false;
		if (!*e) {
			*e = key + 1;
			s->n++;
			return true;
		}
	}
}

static unsigned touch(struct block_set *s, u64 iova, u64 range, unsigned *l1_new)
{
	static const unsigned shift[3] = { 39, 30, 21 };
	unsigned added = 0;

	for (unsigned l = 0; l < 3; l++)
		for (u64 b = iova >> shift[l]; b <= (iova + range - 1) >> shift[l]; b++)
			if (set_insert(s, ((u64)(l + 1) << 56) | b)) {
				added++;
				if (l == 0)
					(*l1_new)++;
			}
	return added;
}

static u64 rng_state;

static u64 rnd(u64 n)
{
	return msm_rng_next(&rng_state) % n;
}

TEST(random_jobs_use_at_most_their_count_and_tables_match_touched_blocks)
{
	/* places near 1 GiB and 512 GiB boundaries, and the top of the 48-bit VA space */
	static const u64 spots[] = {
		BASE, 7 * G1 - 8 * M2, G512 - 16 * M2, 2 * G512 - 4 * M2, 5 * G512 + 7 * G1,
		(1ULL << 47) - 12 * M2, (1ULL << 48) - 600 * M2,
	};
	struct drm_msm_vm_bind_op ops[32];
	struct drm_gpuvm *vm = test_vm();
	struct block_set set = { 0 };
	unsigned jobs = 3000, bad = 0, strict_over = 0, l1_new = 0;
	u64 used_total = 0, counted_total = 0;

	rng_state = 0x5eed1234;
	for (unsigned j = 0; j < jobs; j++) {
		unsigned n = 1 + (unsigned)rnd(32), expect = 0;
		struct step st;

		for (unsigned i = 0; i < n; i++) {
			u64 r = rnd(20);
			u32 kind = r < 9 ? MAP : r < 14 ? NUL : UNM;
			u64 iova = spots[rnd(sizeof(spots) / sizeof(spots[0]))] +
				   rnd(256) * M2 + rnd(512) * K4;
			u64 range = (rnd(8) ? 1 + rnd(16) : 1 + rnd(2048)) * K4;

			ops[i] = mkop(kind, iova, range);
			if (kind != UNM)
				expect += touch(&set, iova, range, &l1_new);
		}
		if (!apply_job(vm, ops, n, -1, &st))
			break;
		used_total += st.used;
		counted_total += st.counted;
		if (st.alloc_ret != 0 || st.used > st.counted || st.used != expect ||
		    tables(vm) != set.n) {
			if (bad++ < 3)
				FAILF("job %u (%u ops): alloc %d, used %u, counted %u, expected used "
				      "%u; tables %llu, touched blocks %zu", j, n, st.alloc_ret,
				      st.used, st.counted, expect, (unsigned long long)tables(vm),
				      set.n);
		}
		strict_over += st.used < st.counted;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(tables(vm), set.n);
	CHECK_EQ(used_total, set.n);
	CHECK_LE(used_total, counted_total);
	CHECK(!to_msm_vm(vm)->unusable);
	/* the test did exercise every level and the overcount */
	CHECK(l1_new >= 5);
	CHECK(strict_over > jobs / 2);
	CHECK(set.n > 1000);
	printf("# %u jobs: %zu tables, %llu pages counted\n", jobs, set.n,
	       (unsigned long long)counted_total);
	free(set.slot);
	msm_gem_vm_destroy(vm);
}

/* ---------------------------------------------------------------- the ioctl */

struct ioctl_env {
	struct drm_device dev;
	struct drm_file file;
	struct msm_context ctx;
	struct msm_gpu_submitqueue queue;
	struct drm_gem_object bo;
};

/* What run_process() in sim_main.c sets up: one file, one context, one VM_BIND queue (id 1). */
static void env_init(struct ioctl_env *e, struct drm_gpuvm *vm)
{
	memset(e, 0, sizeof(*e));
	e->dev.driver_name = "msm";
	e->bo.size = G1;
	e->bo.handle = 1;
	e->file.driver_priv = &e->ctx;
	e->file.minor_dev = &e->dev;
	e->file.objects[1] = &e->bo;
	e->ctx.vm = vm;
	e->ctx.userspace_managed_vm = true;
	INIT_LIST_HEAD(&e->ctx.submitqueues);
	e->queue.id = 1;
	e->queue.flags = MSM_SUBMITQUEUE_VM_BIND;
	e->queue.ctx = &e->ctx;
	e->queue.entity.rq_sched = &to_msm_vm(vm)->sched;
	pthread_mutex_init(&e->queue.lock, NULL);
	e->ctx.queues[e->ctx.nr_queues++] = &e->queue;
}

static int bind1(struct ioctl_env *e, struct drm_msm_vm_bind_op op)
{
	struct drm_msm_vm_bind args = { .nr_ops = 1, .queue_id = 1, .op = op };

	return msm_ioctl_vm_bind(&e->dev, &args, &e->file);
}

TEST(undercount_makes_the_vm_unusable_and_the_ioctl_return_epipe)
{
	struct drm_gpuvm *vm = test_vm();
	struct drm_msm_vm_bind_op op = mkop(MAP, BASE, K4);
	struct drm_msm_vm_bind_op bad = mkop(MAP, BASE + 1, K4);
	struct ioctl_env e;
	struct step st;

	env_init(&e, vm);
	/* usable: a bad op gets lookup_op's -EINVAL (returned before any job is queued) */
	CHECK_EQ(bind1(&e, bad), -EINVAL);
	CHECK(!to_msm_vm(vm)->unusable);

	fprintf(stderr, "# (a WARNING and an 'unusable' line from the model are expected)\n");
	apply_job(vm, &op, 1, 1, &st);		/* needs 3, given 1 */
	CHECK_EQ(st.alloc_ret, 0);
	CHECK_EQ(st.counted, 1);
	CHECK_EQ(st.used, 1);			/* the L1 table; the L2 had no page */
	CHECK(to_msm_vm(vm)->unusable);
	CHECK_EQ(tables(vm), 1);
	CHECK_EQ(atomic_read(&to_msm_vm(vm)->prealloc_throttle.in_flight), 0);
	if (!to_msm_vm(vm)->unusable)	/* a good bind would be queued, and there is no scheduler */
		goto out;

	CHECK_EQ(bind1(&e, op), -EPIPE);
	CHECK_EQ(bind1(&e, bad), -EPIPE);	/* the unusable check comes first */
	CHECK_EQ(to_msm_vm(vm)->truth.pages_counted, 0);

	/* a later job on an unusable VM applies nothing */
	apply_job(vm, &op, 1, -1, &st);
	CHECK_EQ(st.used, 0);
	CHECK_EQ(tables(vm), 1);
out:
	pthread_mutex_destroy(&e.queue.lock);
	msm_gem_vm_destroy(vm);
}

TEST(an_undercount_by_one_fails_too)
{
	struct drm_gpuvm *vm = test_vm();
	struct step st;
	struct drm_msm_vm_bind_op op = mkop(NUL, 2 * G512, M2);	/* needs 1 + 1 + 1 */

	apply_job(vm, &op, 1, 2, &st);
	CHECK_EQ(st.used, 2);
	CHECK(to_msm_vm(vm)->unusable);
	msm_gem_vm_destroy(vm);

	/* and the exact count is not an undercount */
	vm = test_vm();
	apply_job(vm, &op, 1, 3, &st);
	CHECK_EQ(st.used, 3);
	CHECK(!to_msm_vm(vm)->unusable);
	msm_gem_vm_destroy(vm);
}

TEST(ioctl_rejects_bad_ops_before_counting_and_drains_good_ones)
{
	static struct drm_device dev = { .driver_name = "msm" };
	struct drm_gpuvm *vm = msm_gem_vm_create(&dev, "t", 0, 0);
	struct msm_gem_vm *mvm;
	struct ioctl_env e;
	int ret;

	if (!vm) {
		FAILF("msm_gem_vm_create with a scheduler failed");
		return;
	}
	mvm = to_msm_vm(vm);
	env_init(&e, vm);

	{	/* one bad op, inline */
		struct drm_msm_vm_bind_op bad[] = {
			mkop(MAP, BASE + 1, K4), mkop(MAP, BASE, K4 + 1), mkop(MAP, BASE, 0),
			mkop(9, BASE, K4), mkop(NUL, 4 * G1 + (1ULL << 48), K4), mkop(MAP, 4 * G1 - K4, K4),
		};

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECK_EQ(bind1(&e, bad[i]), -EINVAL);
	}
	{	/* a good op then a bad one, through the ops pointer */
		struct drm_msm_vm_bind_op ops[] = { mkop(MAP, BASE, 64 * M2), mkop(NUL, BASE, 3) };
		struct drm_msm_vm_bind args = { .nr_ops = 2, .queue_id = 1,
						.ops = (u64)(uintptr_t)ops };

		CHECK_EQ(msm_ioctl_vm_bind(&e.dev, &args, &e.file), -EINVAL);
	}
	{	/* a MAP whose handle is not in the file's table */
		struct drm_msm_vm_bind_op op = mkop(MAP, BASE, K4);

		op.handle = 5;
		CHECK_EQ(bind1(&e, op), -EINVAL);
	}
	CHECK_EQ(atomic_read(&mvm->prealloc_throttle.in_flight), 0);
	CHECK_EQ(mvm->truth.pages_counted, 0);
	CHECK_EQ(mvm->truth.pages_used, 0);
	CHECK_EQ(mvm->truth.outstanding_pages, 0);

	{	/* other early returns */
		struct drm_msm_vm_bind args = { .nr_ops = 1, .queue_id = 7,
						.op = mkop(MAP, BASE, K4) };

		CHECK_EQ(msm_ioctl_vm_bind(&e.dev, &args, &e.file), -ENOENT);
		args.queue_id = 1;
		args.flags = 0x80;
		CHECK_EQ(msm_ioctl_vm_bind(&e.dev, &args, &e.file), -EINVAL);
		args.flags = 0;
		e.queue.flags = 0;
		CHECK_EQ(msm_ioctl_vm_bind(&e.dev, &args, &e.file), -EINVAL);
		e.queue.flags = MSM_SUBMITQUEUE_VM_BIND;
		e.ctx.userspace_managed_vm = false;
		CHECK_EQ(msm_ioctl_vm_bind(&e.dev, &args, &e.file), -EINVAL);
		e.ctx.userspace_managed_vm = true;
	}
	CHECK_EQ(mvm->truth.pages_counted, 0);

	/* good binds: counted, added, queued, run and freed by the scheduler thread */
	ret = bind1(&e, mkop(MAP, BASE, K4));
	CHECK_EQ(ret, 0);
	CHECK_EQ(mvm->truth.pages_counted, 3);
	{
		struct drm_msm_vm_bind_op ops[] = {
			mkop(MAP, BASE + 8 * M2, 2 * M2), mkop(UNM, BASE, K4),
			mkop(NUL, BASE + G1, K4),
		};
		struct drm_msm_vm_bind args = { .nr_ops = 3, .queue_id = 1,
						.ops = (u64)(uintptr_t)ops };

		CHECK_EQ(msm_ioctl_vm_bind(&e.dev, &args, &e.file), 0);
	}
	/* UNMAP skipped; runs of 1+1+2 (two 2 MiB blocks) and 3 */
	CHECK_EQ(mvm->truth.pages_counted, 3 + 4 + 3);
	CHECK(atomic_read(&mvm->prealloc_throttle.in_flight) >= 0);
	CHECK_LE(atomic_read(&mvm->prealloc_throttle.in_flight), 10);

	msm_gem_vm_close(vm);		/* drains: every pushed job runs and is freed */
	CHECK_EQ(atomic_read(&mvm->prealloc_throttle.in_flight), 0);
	CHECK_EQ(mvm->truth.outstanding_pages, 0);
	CHECK_EQ(mvm->truth.pages_used, 3 + 2 + 2);	/* 2 L3; then L2 + L3 of the next 1 GiB */
	CHECK_EQ(tables(vm), 7);
	CHECK_EQ(mvm->truth.peak_in_flight >= 3, 1);
	CHECK_EQ(e.bo.refcount, 0);	/* the MAPs' BO references were put */
	CHECK(!mvm->unusable);

	pthread_mutex_destroy(&e.queue.lock);
	msm_gem_vm_destroy(vm);
}

TEST_MAIN()
