// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-tune's engine (see tune.h): a discrete event simulation of the VM_BIND throttle
 * that calls the driver's own rules (src/driver/, the code the model runs) for everything
 * the driver decides: validation and the count (lookup_op, vm_bind_count_ops), the
 * preallocation (prealloc_allocate/cleanup), the job's maps on the page table
 * (msm_vm_bind_job_apply, as msm_vma_job_run) and the free that returns the pages
 * (msm_vm_bind_job_release_prealloc, as msm_vma_job_free). Only time is simulated: no thread
 * sleeps, and one process replays every VM of the workload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msm_vm_bind.h"
#include "tune.h"

/* ---- small helpers ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median_u64(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* (pid, key) -> dense index, for threads and VMs. Open addressing, grows. */
struct id_map {
	uint64_t *k1, *k2;
	uint32_t *val;
	size_t cap, n;
};

static size_t id_hash(uint64_t a, uint64_t b, size_t cap)
{
	return (size_t)((a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL)) & (cap - 1);
}

/* The index of (a, b), adding it as the next one if new; -1 on ENOMEM. */
static int64_t id_get(struct id_map *m, uint64_t a, uint64_t b)
{
	size_t j;

	if (2 * (m->n + 1) > m->cap) {
		size_t ncap = m->cap ? 2 * m->cap : 64;
		struct id_map nm = { calloc(ncap, 8), calloc(ncap, 8), calloc(ncap, 4), ncap, 0 };

		if (!nm.k1 || !nm.k2 || !nm.val) {
			free(nm.k1), free(nm.k2), free(nm.val);
			return -1;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->val[i])
				continue;
			for (j = id_hash(m->k1[i], m->k2[i], ncap); nm.val[j]; j = (j + 1) & (ncap - 1))
				;
			nm.k1[j] = m->k1[i], nm.k2[j] = m->k2[i], nm.val[j] = m->val[i];
		}
		free(m->k1), free(m->k2), free(m->val);
		nm.n = m->n;
		*m = nm;
	}
	for (j = id_hash(a, b, m->cap); m->val[j]; j = (j + 1) & (m->cap - 1))
		if (m->k1[j] == a && m->k2[j] == b)
			return m->val[j] - 1;
	m->k1[j] = a, m->k2[j] = b, m->val[j] = (uint32_t)++m->n;
	return (int64_t)m->n - 1;
}

static void id_free(struct id_map *m)
{
	free(m->k1), free(m->k2), free(m->val);
	memset(m, 0, sizeof(*m));
}

/* A call that reaches the throttle (its count was added, or it slept or was interrupted). */
static bool reaches_throttle(const struct msmvm_wl_bind *b)
{
	return b->counted || b->slept || b->interrupted;
}

/* A call that queued a job on its VM's scheduler. */
static bool queues_job(const struct msmvm_wl_bind *b)
{
	return b->counted && b->ret == 0;
}

/* ---- timings from a recording ---- */

struct vm_job {
	uint64_t ret_ns, free_ns;
	size_t bind, vm;	/* vm: index in the (pid, vm) map */
};

static int cmp_vm_job(const void *a, const void *b)
{
	const struct vm_job *x = a, *y = b;

	return x->ret_ns < y->ret_ns ? -1 : x->ret_ns > y->ret_ns;
}

int tune_timing_from_workload(const struct msmvm_workload *wl, int64_t job_cost_ns,
			      struct tune_timing *timing, struct tune_timing_info *info)
{
	struct id_map threads = { 0 }, vms = { 0 };
	uint64_t *last_ret = NULL, *wakes = NULL;
	size_t *vm_n = NULL, *vm_off = NULL, nservices = 0, nwakes = 0;
	struct vm_job *jobs = NULL;
	size_t nvms, njobs = 0;
	int ret = -ENOMEM;

	memset(info, 0, sizeof(*info));
	memset(timing, 0, sizeof(*timing) * wl->nbinds);
	last_ret = calloc(wl->nbinds + 1, sizeof(*last_ret));
	wakes = calloc(wl->nbinds + 1, sizeof(*wakes));
	jobs = calloc(wl->nbinds + 1, sizeof(*jobs));
	if (!last_ret || !wakes || !jobs)
		goto out;

	/* Per thread: think time; per call: the time outside the throttle, split at the check. */
	for (size_t k = 0; k < wl->nbinds; k++) {
		const struct msmvm_wl_bind *b = &wl->binds[k];
		struct tune_timing *t = &timing[k];
		int64_t th = id_get(&threads, b->pid, b->tid);
		uint64_t inner = 0, base;

		if (th < 0)
			goto out;
		t->think_ns = last_ret[th] ? sub0(b->entry_ns, last_ret[th])
					   : sub0(b->entry_ns, wl->start_ns);
		last_ret[th] = b->return_ns > b->entry_ns ? b->return_ns : b->entry_ns;
		if (b->wait_start_ns && b->wait_end_ns >= b->wait_start_ns &&
		    (b->slept || b->interrupted))
			inner = b->wait_end_ns - b->wait_start_ns;
		base = sub0(sub0(b->return_ns, b->entry_ns), inner);
		t->pre_ns = b->wait_start_ns ? sub0(b->wait_start_ns, b->entry_ns) : 0;
		if (t->pre_ns > base)
			t->pre_ns = base;
		t->post_ns = base - t->pre_ns;
		if (b->interrupted)
			t->intr_ns = inner ? inner : sub0(b->return_ns, b->entry_ns);
		if (queues_job(b)) {
			int64_t v = id_get(&vms, b->pid, b->vm);

			if (v < 0)
				goto out;
			jobs[njobs++] = (struct vm_job){ b->return_ns, b->free_ns, k, (size_t)v };
		}
	}

	/* Per VM, jobs in push order: service = free - max(push, previous free). */
	nvms = vms.n;
	vm_n = calloc(nvms + 1, sizeof(*vm_n));
	vm_off = calloc(nvms + 2, sizeof(*vm_off));
	if (!vm_n || !vm_off)
		goto out;
	{
		struct vm_job *by_vm = calloc(njobs + 1, sizeof(*by_vm));
		uint64_t *svc = calloc(njobs + 1, sizeof(*svc));

		if (!by_vm || !svc) {
			free(by_vm), free(svc);
			goto out;
		}
		for (size_t j = 0; j < njobs; j++)
			vm_n[jobs[j].vm]++;
		for (size_t v = 0; v < nvms; v++)
			vm_off[v + 1] = vm_off[v] + vm_n[v];
		memset(vm_n, 0, sizeof(*vm_n) * nvms);
		for (size_t j = 0; j < njobs; j++) {
			size_t v = jobs[j].vm;

			by_vm[vm_off[v] + vm_n[v]++] = jobs[j];
		}
		for (size_t v = 0; v < nvms; v++) {
			struct vm_job *vj = &by_vm[vm_off[v]];
			uint64_t prev_free = 0;

			qsort(vj, vm_n[v], sizeof(*vj), cmp_vm_job);
			for (size_t j = 0; j < vm_n[v]; j++) {
				struct tune_timing *t = &timing[vj[j].bind];

				if (!vj[j].free_ns) {
					t->service_ns = UINT64_MAX;	/* median below */
					info->services_estimated++;
					continue;
				}
				t->service_ns = sub0(vj[j].free_ns, vj[j].ret_ns > prev_free
									 ? vj[j].ret_ns : prev_free);
				svc[nservices++] = t->service_ns;
				prev_free = vj[j].free_ns;
			}
		}
		info->service_median_ns = median_u64(svc, nservices);

		/* Per VM, its frees in order (svc reused): the last one before a pass, by bisection. */
		for (size_t v = 0; v < nvms; v++) {
			size_t n = 0;

			for (size_t j = vm_off[v]; j < vm_off[v] + vm_n[v]; j++)
				if (by_vm[j].free_ns)
					svc[vm_off[v] + n++] = by_vm[j].free_ns;
			vm_n[v] = n;
			qsort(&svc[vm_off[v]], n, sizeof(*svc), cmp_u64);
		}

		/* Wake-up latency: a slept call's pass minus the last free on its VM before it. */
		for (size_t k = 0; k < wl->nbinds; k++) {
			const struct msmvm_wl_bind *b = &wl->binds[k];
			int64_t v;
			uint64_t best = 0;

			if (!b->slept || !b->wait_end_ns || b->interrupted)
				continue;
			v = id_get(&vms, b->pid, b->vm);
			if (v < 0 || (size_t)v >= nvms) {
				if (v < 0) {
					free(by_vm), free(svc);
					goto out;
				}
				continue;
			}
			{
				const uint64_t *f = &svc[vm_off[v]];
				size_t lo = 0, hi = vm_n[v];	/* first free after the pass */

				while (lo < hi) {
					size_t mid = lo + (hi - lo) / 2;

					if (f[mid] <= b->wait_end_ns)
						lo = mid + 1;
					else
						hi = mid;
				}
				best = lo ? f[lo - 1] : 0;
			}
			if (best && b->wait_end_ns - best < 1000000000ULL) {
				wakes[nwakes++] = b->wait_end_ns - best;
				timing[k].wake_ns = b->wait_end_ns - best;
			}
		}
		free(by_vm), free(svc);
	}
	/*
	 * For calls that did not sleep when recorded: the mean, not the median, since wake-ups
	 * have a long tail on a busy machine (the woken thread waits for a CPU) and the replay's
	 * total stall should carry it as the recording did.
	 */
	info->wakes_measured = nwakes;
	{
		long double sum = 0;

		for (size_t i = 0; i < nwakes; i++)
			sum += wakes[i];
		/* no wait to measure it on: a futex wake-up on an idle core, as the model shows it */
		info->wake_ns = nwakes ? (uint64_t)(sum / nwakes) : TUNE_WAKE_DEFAULT_NS;
	}

	for (size_t k = 0; k < wl->nbinds; k++) {
		struct tune_timing *t = &timing[k];

		if (!queues_job(&wl->binds[k]))
			continue;
		if (job_cost_ns > 0)
			t->service_ns = (uint64_t)job_cost_ns;
		else if (t->service_ns == UINT64_MAX)
			t->service_ns = info->service_median_ns;
	}
	if (job_cost_ns > 0)
		info->service_median_ns = (uint64_t)job_cost_ns;
	ret = 0;
out:
	free(last_ret), free(wakes), free(jobs), free(vm_n), free(vm_off);
	id_free(&threads), id_free(&vms);
	return ret;
}

/* ---- the replay's VMs ---- */

/*
 * A VM as the rules see it: its page table and the throttle's in_flight. No locks, wait
 * queue or scheduler: the replay keeps its sleepers and job FIFO itself (struct sim_vm).
 */
struct tune_vm {
	struct drm_gpuvm base;	/* first: job->vm points here */
	struct msm_mmu *mmu;
	atomic_t in_flight;
	bool unusable;		/* a map ran out of preallocated pages */
	int id;
};

static struct tune_vm *to_tune_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct tune_vm, base);
}

/* The rules' way to the VM's page table (src/driver/msm_vm_bind.h). */
struct msm_mmu *msm_gem_vm_mmu(struct drm_gpuvm *gpuvm)
{
	return to_tune_vm(gpuvm)->mmu;
}

/* msm_gem_vm_create() for a user-managed VM: the model's VA space, an empty page table. */
static struct drm_gpuvm *tune_vm_create(const char *name, int id)
{
	struct tune_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->base.name = name;
	vm->base.mm_start = ADRENO_VM_START;
	vm->base.mm_range = MSM_VM_SIZE_DEFAULT;
	vm->id = id;
	vm->mmu = msm_iommu_pagetable_create(NULL);	/* no fault injection */
	if (!vm->mmu) {
		free(vm);
		return NULL;
	}
	atomic_set(&vm->in_flight, 0);
	return &vm->base;
}

static void tune_vm_destroy(struct drm_gpuvm *gpuvm)
{
	struct tune_vm *vm = to_tune_vm(gpuvm);

	vm->mmu->funcs->destroy(vm->mmu);
	free(vm);
}

/* msm_vma_job_run(): the job's ops on the page table; a failed map makes the VM unusable. */
static void tune_job_run(struct msm_vm_bind_job *job)
{
	struct tune_vm *vm = to_tune_vm(job->vm);
	int ret = 0;

	if (!vm->unusable)
		ret = msm_vm_bind_job_apply(vm->mmu, job);
	if (ret) {
		/* the model's message (msm_vma_job_run), so that the output stays the same */
		fprintf(stderr, "msmvm-sim: vm %d unusable: map failed (%d)\n", vm->id, ret);
		vm->unusable = true;
	}
}

/* msm_vma_job_free(): unused pages back, the count off in_flight, the job freed. */
static void tune_job_free(struct msm_vm_bind_job *job)
{
	struct tune_vm *vm = to_tune_vm(job->vm);

	msm_vm_bind_job_release_prealloc(vm->mmu, job, &vm->in_flight);
	free(job);
}

/*
 * The replay's page-table pages. The driver's rule preallocates the worst case, some
 * thousand pages for a storm job of which a handful are used: from the heap, a storm trace
 * took millions of 4 KiB mallocs and frees per replay, each new page a page fault and each
 * free that emptied the heap's top a trim (brk), most of msmvm-tune's time in the kernel.
 * A job now takes its pages from this stack and gives back those it did not use, so that
 * only the pages the tables keep are ever taken out. What a job is given is the same: count
 * pages, all or nothing, not zeroed (alloc_pt zeroes the page it takes).
 */
struct page_pool {
	void **v;
	size_t n, cap;
};

#define TUNE_PT_PAGE 4096	/* a struct pt_table: 512 entries of 8 bytes */

/* msm_iommu_pagetable_prealloc_allocate(), from the pool: pages[] is the top of its stack. */
static int pool_take(struct page_pool *pl, struct msm_mmu_prealloc *p)
{
	if (p->count >= pl->cap) {	/* a slot more: pages is never NULL, even for 0 pages */
		void **nv = realloc(pl->v, ((size_t)p->count + 1) * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		pl->v = nv, pl->cap = (size_t)p->count + 1;
	}
	while (pl->n < p->count) {
		pl->v[pl->n] = malloc(TUNE_PT_PAGE);
		if (!pl->v[pl->n])
			return -ENOMEM;
		pl->n++;
	}
	p->pages = &pl->v[pl->n - p->count];
	p->ptr = 0;
	return 0;
}

/* The job's unused pages back on the stack (the used ones belong to its page table now):
 * the driver's cleanup then finds nothing to free. */
static void pool_give_back(struct page_pool *pl, struct msm_mmu_prealloc *p)
{
	if (!p->pages)
		return;
	memmove(p->pages, p->pages + p->ptr, (size_t)(p->count - p->ptr) * sizeof(*p->pages));
	pl->n -= p->ptr;
	p->pages = NULL;
}

static void pool_free(struct page_pool *pl)
{
	while (pl->n)
		free(pl->v[--pl->n]);
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}

/* lookup_op() of each of the bind's recorded ops into job (sized for them); -EINVAL when the
 * call would have failed on one (then the job has no ops) or has none recorded. */
static int build_ops(struct msm_vm_bind_job *job, const struct msmvm_workload *wl,
		     const struct msmvm_wl_bind *b)
{
	unsigned int nops = b->ops_known ? b->nr_ops : 0;

	for (unsigned int i = 0; i < nops; i++) {
		const struct msmvm_wl_op *o = &wl->ops[b->ops_first + i];
		struct drm_msm_vm_bind_op op = {
			.op = o->kind, .iova = o->iova, .range = o->range,
			.handle = o->kind == MSM_VM_BIND_OP_MAP ? 1 : 0,
		};

		if (msm_vm_bind_lookup_op(job, &op)) {
			job->nr_ops = 0;
			return -EINVAL;
		}
	}
	return nops ? 0 : -EINVAL;
}

/* ---- what every replay of a workload shares ---- */

/*
 * Work that depends on neither the limit nor the rule, done once for all the replays:
 *   - per bind: whether its ops pass lookup_op (else it is replayed without ops), and
 *     whether the driver's recount of them differs from the recorded count;
 *   - per VM: how many tables the ops of all its calls that count would install on an
 *     empty page table, i.e. all that a replay can ever install on it.
 * In a replay, once a VM's page table has that many it has all of them: no later call on it
 * lacks a table (its exact count is 0) and no later job takes a page, so its calls need no
 * ops copied, counted or walked. With the tables of a long trace in place after its first
 * few percent of jobs, that was nearly all of the replays' time.
 */
enum { PREP_HAS_OPS = 1, PREP_MISMATCH = 2 };

struct tune_prep {
	uint8_t *bind;		/* PREP_* per bind */
	uint64_t *vm_tables;	/* per VM, numbered as the replay does (first sighting) */
	size_t nvms;
};

void tune_prep_free(struct tune_prep *prep)
{
	if (!prep)
		return;
	free(prep->bind), free(prep->vm_tables), free(prep);
}

struct tune_prep *tune_prepare(const struct msmvm_workload *wl)
{
	struct tune_prep *prep = calloc(1, sizeof(*prep));
	struct id_map vms = { 0 };
	struct drm_gpuvm **gv = NULL;
	struct msm_vm_bind_job *job = NULL;
	struct page_pool pool = { 0 };
	unsigned int maxops = 0;
	bool ok = false;

	if (!prep)
		return NULL;
	for (size_t k = 0; k < wl->nbinds; k++) {
		if (wl->binds[k].ops_known && wl->binds[k].nr_ops > maxops)
			maxops = wl->binds[k].nr_ops;
		if (id_get(&vms, wl->binds[k].pid, wl->binds[k].vm) < 0)
			goto out;
	}
	prep->nvms = vms.n;
	prep->bind = calloc(wl->nbinds + 1, sizeof(*prep->bind));
	prep->vm_tables = calloc(prep->nvms + 1, sizeof(*prep->vm_tables));
	gv = calloc(prep->nvms + 1, sizeof(*gv));
	job = malloc(sizeof(*job) + (size_t)maxops * sizeof(job->ops[0]));
	if (!prep->bind || !prep->vm_tables || !gv || !job)
		goto out;
	for (size_t v = 0; v < prep->nvms; v++) {
		gv[v] = tune_vm_create("tune-prep", (int)v);
		if (!gv[v])
			goto out;
	}
	for (size_t k = 0; k < wl->nbinds; k++) {
		const struct msmvm_wl_bind *b = &wl->binds[k];
		size_t nops = b->ops_known ? b->nr_ops : 0;
		int64_t v = id_get(&vms, b->pid, b->vm);
		struct msm_mmu *mmu;

		if (v < 0)
			goto out;
		memset(job, 0, sizeof(*job) + nops * sizeof(job->ops[0]));
		job->vm = gv[v];
		if (build_ops(job, wl, b))
			continue;
		prep->bind[k] |= PREP_HAS_OPS;
		vm_bind_count_ops(job, NULL, NULL);
		if (job->prealloc.count != b->count)
			prep->bind[k] |= PREP_MISMATCH;
		/* the calls whose job a replay builds (make_job) and may run: their tables */
		if (!reaches_throttle(b) || b->interrupted)
			continue;
		mmu = to_tune_vm(gv[v])->mmu;
		job->prealloc = (struct msm_mmu_prealloc){ 0 };
		job->prealloc.count = msm_iommu_pagetable_count_missing(mmu, job->ops, job->nr_ops);
		if (!job->prealloc.count)
			continue;
		if (pool_take(&pool, &job->prealloc))
			goto out;
		if (msm_vm_bind_job_apply(mmu, job))
			prep->vm_tables[v] = UINT64_MAX;	/* short: never "complete" */
		pool_give_back(&pool, &job->prealloc);
	}
	for (size_t v = 0; v < prep->nvms; v++)
		if (prep->vm_tables[v] != UINT64_MAX)
			prep->vm_tables[v] = msm_iommu_pagetable_tables(to_tune_vm(gv[v])->mmu);
	ok = true;
out:
	for (size_t v = 0; gv && v < prep->nvms; v++)
		if (gv[v])
			tune_vm_destroy(gv[v]);
	free(gv), free(job);
	pool_free(&pool);
	id_free(&vms);
	if (!ok) {
		tune_prep_free(prep);
		return NULL;
	}
	return prep;
}

/* ---- the simulation ---- */

enum ev_type { EV_ARRIVE, EV_CHECK, EV_PUSH, EV_FREE, EV_WAKE, EV_INTR, EV_RETURN };

struct ev {
	uint64_t t, seq;
	uint32_t type;
	uint32_t arg;		/* bind index, or VM index (EV_WAKE) */
};

struct heap {
	struct ev *v;
	size_t n, cap;
	uint64_t seq;
};

static bool ev_before(const struct ev *a, const struct ev *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

static int heap_push(struct heap *h, uint64_t t, uint32_t type, uint32_t arg)
{
	size_t i;

	if (h->n == h->cap) {
		size_t ncap = h->cap ? 2 * h->cap : 1024;
		struct ev *nv = realloc(h->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		h->v = nv, h->cap = ncap;
	}
	i = h->n++;
	h->v[i] = (struct ev){ t, h->seq++, type, arg };
	while (i && ev_before(&h->v[i], &h->v[(i - 1) / 2])) {
		struct ev tmp = h->v[i];

		h->v[i] = h->v[(i - 1) / 2], h->v[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

static struct ev heap_pop(struct heap *h)
{
	struct ev top = h->v[0];
	size_t i = 0;

	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && ev_before(&h->v[l], &h->v[m]))
			m = l;
		if (r < h->n && ev_before(&h->v[r], &h->v[m]))
			m = r;
		if (m == i)
			break;
		struct ev tmp = h->v[i];

		h->v[i] = h->v[m], h->v[m] = tmp;
		i = m;
	}
	return top;
}

/* A FIFO of bind indices (waiters, a VM's pending jobs). */
struct fifo {
	uint32_t *v;
	size_t head, n, cap;
};

static int fifo_push(struct fifo *f, uint32_t x)
{
	if (f->head + f->n == f->cap) {
		if (f->head) {		/* slide down before growing */
			memmove(f->v, f->v + f->head, f->n * sizeof(*f->v));
			f->head = 0;
		} else {
			size_t ncap = f->cap ? 2 * f->cap : 16;
			uint32_t *nv = realloc(f->v, ncap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			f->v = nv, f->cap = ncap;
		}
	}
	f->v[f->head + f->n++] = x;
	return 0;
}

static uint32_t fifo_pop(struct fifo *f)
{
	f->n--;
	return f->v[f->head++];
}

struct sim_vm {
	struct drm_gpuvm *gpuvm;
	struct fifo waiters;	/* calls sleeping in the throttle, in arrival order */
	struct fifo jobs;	/* pushed, not yet run */
	bool busy;		/* the scheduler is running a job */
};

struct sim_bind {
	struct msm_vm_bind_job *job;
	uint64_t wait_start;
	uint32_t vm;		/* index into sim.vms */
	uint32_t next;		/* the same thread's next call, UINT32_MAX: none */
	uint32_t count;		/* added to in_flight */
	bool waiting, passed;
	bool has_ops;		/* its job has ops that passed lookup_op (else: as recorded) */
	bool no_tables;		/* its ops lacked no table when it counted: none when it runs */
};

struct sim {
	const struct msmvm_workload *wl;
	const struct tune_timing *timing;
	const struct tune_timing_info *tinfo;
	const struct tune_prep *prep;	/* NULL: every job built, counted and run in full */
	uint32_t limit;
	enum tune_count_rule rule;
	struct sim_vm *vms;
	size_t nvms;
	struct sim_bind *binds;
	struct heap heap;
	struct page_pool pool;
	uint64_t *waits;
	size_t nwaits;
	/* in_flight over all VMs, integrated over time */
	int64_t total;
	uint64_t t_last, t_first, t_end;
	long double area;
	struct tune_result *r;
	int err;
};

static void account(struct sim *s, uint64_t t, int64_t delta)
{
	s->area += (long double)s->total * (long double)(t - s->t_last);
	s->t_last = t;
	s->total += delta;
	if (s->total > (int64_t)s->r->peak_pages)
		s->r->peak_pages = (uint64_t)s->total;
}

static void push(struct sim *s, uint64_t t, uint32_t type, uint32_t arg)
{
	if (heap_push(&s->heap, t, type, arg))
		s->err = -ENOMEM;
}

static int in_flight(const struct sim *s, uint32_t v)
{
	return atomic_read(&to_tune_vm(s->vms[v].gpuvm)->in_flight);
}

/* A VM that has every table the workload's ops can install (struct tune_prep). */
static bool vm_complete(const struct sim *s, uint32_t v)
{
	return s->prep &&
	       msm_iommu_pagetable_tables(to_tune_vm(s->vms[v].gpuvm)->mmu) == s->prep->vm_tables[v];
}

/* The job as the ioctl builds it (vm_bind_job_create + lookup_op), counted by the rule. */
static struct msm_vm_bind_job *make_job(struct sim *s, uint32_t k)
{
	const struct msmvm_wl_bind *b = &s->wl->binds[k];
	struct sim_bind *sb = &s->binds[k];
	struct drm_gpuvm *gpuvm = s->vms[sb->vm].gpuvm;
	unsigned int nops = b->ops_known ? b->nr_ops : 0;
	uint8_t pf = s->prep ? s->prep->bind[k] : 0;
	struct msm_vm_bind_job *job;
	u32 missing = 0;

	if (vm_complete(s, sb->vm)) {
		/* nothing to count or to run: the ops are not needed (tune_prepare() looked) */
		job = calloc(1, sizeof(*job));
		if (!job)
			return NULL;
		job->vm = gpuvm;
		sb->no_tables = true;
		if (!(pf & PREP_HAS_OPS)) {
			s->r->binds_without_ops++;
			job->prealloc.count = b->count;
			return job;
		}
		sb->has_ops = true;
		if (s->rule == TUNE_COUNT_EXACT) {
			job->prealloc.count = 0;	/* no table is missing */
		} else {
			s->r->count_mismatches += !!(pf & PREP_MISMATCH);
			job->prealloc.count = b->count;
		}
		return job;
	}
	job = calloc(1, sizeof(*job) + (size_t)nops * sizeof(job->ops[0]));
	if (!job)
		return NULL;
	job->vm = gpuvm;
	if (build_ops(job, s->wl, b)) {		/* the call would have failed: no ops */
		s->r->binds_without_ops++;
		job->prealloc.count = b->count;
		return job;
	}
	sb->has_ops = true;
	if (s->rule == TUNE_COUNT_EXACT || s->prep)
		missing = msm_iommu_pagetable_count_missing(to_tune_vm(gpuvm)->mmu, job->ops,
							    job->nr_ops);
	/* free_job() needs no walk of its own if none is missing now (the ops are cached now) */
	sb->no_tables = s->prep && !missing;
	if (s->rule == TUNE_COUNT_EXACT) {
		job->prealloc.count = missing;
		return job;
	}
	if (s->prep) {
		s->r->count_mismatches += !!(pf & PREP_MISMATCH);
	} else {
		vm_bind_count_ops(job, NULL, NULL);
		if (job->prealloc.count != b->count)
			s->r->count_mismatches++;
	}
	job->prealloc.count = b->count;	/* what the driver did, as recorded */
	return job;
}

static void pass(struct sim *s, uint32_t k, uint64_t t)
{
	struct sim_bind *sb = &s->binds[k];
	struct tune_vm *vm = to_tune_vm(s->vms[sb->vm].gpuvm);

	if (sb->waiting) {
		uint64_t w = t - sb->wait_start;

		s->waits[s->nwaits++] = w;
		s->r->waits++;
		s->r->wait_ns_total += w;
		if (w > s->r->wait_ns_max)
			s->r->wait_ns_max = w;
		sb->waiting = false;
	}
	sb->passed = true;
	sb->count = sb->job->prealloc.count;
	atomic_add_return((int)sb->count, &vm->in_flight);
	account(s, t, sb->count);
	s->r->pages_counted += sb->count;
	push(s, t + s->timing[k].post_ns, EV_PUSH, k);
}

static void next_call(struct sim *s, uint32_t k, uint64_t t)
{
	uint32_t n = s->binds[k].next;

	if (t > s->t_end)
		s->t_end = t;
	if (n != UINT32_MAX)
		push(s, t + s->timing[n].think_ns, EV_ARRIVE, n);
}

static void start_job(struct sim *s, uint32_t v, uint64_t t)
{
	struct sim_vm *sv = &s->vms[v];

	if (sv->busy || !sv->jobs.n)
		return;
	sv->busy = true;
	{
		uint32_t k = fifo_pop(&sv->jobs);

		push(s, t + s->timing[k].service_ns, EV_FREE, k);
	}
}

/* msm_vma_job_free(): the pages come back; the waiters are woken (they run a little later). */
static void free_job(struct sim *s, uint32_t k, uint64_t t, bool run)
{
	struct sim_bind *sb = &s->binds[k];
	struct sim_vm *sv = &s->vms[sb->vm];
	struct tune_vm *vm = to_tune_vm(sv->gpuvm);
	struct msm_vm_bind_job *job = sb->job;

	/*
	 * The pages are allocated here rather than at the push, as the driver does: only the
	 * replay's memory differs (in_flight counts from the pass either way), and at a huge
	 * limit every job of a trace could otherwise hold its pages at once.
	 *
	 * With a prepared workload, a job that installs no table is not run: it would take no
	 * page and could not fail, and what else it does, writing leaf entries, nothing in the
	 * replay reads (the counts look at tables only). In a long trace that is nearly every
	 * job once the tables are there, and their ops' walks, a cache miss per page on a large
	 * table, were most of the replay's time. It installs none if its VM is complete, or if
	 * none was lacking when it counted (tables only accumulate), or if count_missing() says
	 * so (never short of what a job takes: msm_iommu.c).
	 */
	if (run && sb->has_ops) {
		if (!s->prep || (!sb->no_tables && !vm_complete(s, sb->vm) &&
				 msm_iommu_pagetable_count_missing(vm->mmu, job->ops, job->nr_ops))) {
			if (pool_take(&s->pool, &job->prealloc)) {
				s->err = -ENOMEM;
				return;
			}
			tune_job_run(job);
			pool_give_back(&s->pool, &job->prealloc);
		}
		if (vm->unusable) {	/* ran out of preallocated pages: the count was short */
			s->r->undercounts++;
			vm->unusable = false;
		}
		s->r->pages_used += job->prealloc.ptr;
	} else if (run) {
		s->r->pages_used += s->wl->binds[k].used;	/* no ops: as recorded */
	}
	/* in_flight drops by the count the job carries: what the pass added */
	job->prealloc.count = sb->count;
	tune_job_free(job);
	sb->job = NULL;
	account(s, t, -(int64_t)sb->count);
	s->r->jobs += run;
	if (t > s->t_end)
		s->t_end = t;
	/* wake_up(): every sleeper runs again after its wake-up latency and re-checks */
	{
		size_t n = sv->waiters.n;

		for (size_t i = 0; i < n; i++) {	/* drop those that passed meanwhile */
			uint32_t w = fifo_pop(&sv->waiters);

			if (s->binds[w].waiting && fifo_push(&sv->waiters, w))
				s->err = -ENOMEM;
		}
	}
	/*
	 * Only a wake-up that finds the condition true matters: one that finds it false puts the
	 * thread back to sleep with nothing changed. A sleeper recorded as waking here takes its
	 * own recorded latency (from the free that let it pass); others the trace's mean.
	 */
	if (in_flight(s, sb->vm) > (int)s->limit)
		return;
	for (size_t i = 0; i < sv->waiters.n; i++) {
		uint32_t w = sv->waiters.v[sv->waiters.head + i];

		push(s, t + (s->timing[w].wake_ns ? s->timing[w].wake_ns : s->tinfo->wake_ns),
		     EV_WAKE, w);
	}
}

static void handle(struct sim *s, struct ev e)
{
	uint32_t k = e.arg;
	const struct msmvm_wl_bind *b = &s->wl->binds[k];
	struct sim_bind *sb = &s->binds[k];

	switch (e.type) {
	case EV_ARRIVE:
		s->r->binds++;
		push(s, e.t + s->timing[k].pre_ns, EV_CHECK, k);
		break;
	case EV_CHECK:
		if (!reaches_throttle(b)) {	/* failed before the throttle */
			push(s, e.t + s->timing[k].post_ns, EV_RETURN, k);
			break;
		}
		if (b->interrupted) {
			/* the signal came while it slept: it sleeps as long if it has to sleep */
			if (in_flight(s, sb->vm) > (int)s->limit) {
				s->r->waits++;
				s->r->interrupted++;
				s->waits[s->nwaits++] = s->timing[k].intr_ns;
				s->r->wait_ns_total += s->timing[k].intr_ns;
				if (s->timing[k].intr_ns > s->r->wait_ns_max)
					s->r->wait_ns_max = s->timing[k].intr_ns;
				push(s, e.t + s->timing[k].intr_ns + s->timing[k].post_ns, EV_RETURN, k);
			} else {
				push(s, e.t + s->timing[k].post_ns, EV_RETURN, k);
			}
			break;
		}
		sb->job = make_job(s, k);
		if (!sb->job) {
			s->err = -ENOMEM;
			break;
		}
		/* wait_event_interruptible(..., in_flight <= limit) */
		if (in_flight(s, sb->vm) <= (int)s->limit) {
			pass(s, k, e.t);
		} else {
			sb->waiting = true;
			sb->wait_start = e.t;
			if (fifo_push(&s->vms[sb->vm].waiters, k))
				s->err = -ENOMEM;
		}
		break;
	case EV_PUSH:
		if (!queues_job(b)) {	/* failed after the count: freed in the ioctl */
			free_job(s, k, e.t, false);
		} else {
			if (fifo_push(&s->vms[sb->vm].jobs, k))
				s->err = -ENOMEM;
			start_job(s, sb->vm, e.t);
		}
		next_call(s, k, e.t);
		break;
	case EV_FREE: {
		uint32_t v = sb->vm;

		free_job(s, k, e.t, true);
		s->vms[v].busy = false;
		start_job(s, v, e.t);
		break;
	}
	case EV_WAKE:	/* a woken sleeper runs: the condition again (it left the FIFO lazily) */
		if (sb->waiting && in_flight(s, sb->vm) <= (int)s->limit)
			pass(s, k, e.t);
		break;
	case EV_RETURN:
		next_call(s, k, e.t);
		break;
	}
}

static uint64_t percentile(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(p * (double)n + 0.999999);
	return v[(i ? i : 1) - 1];
}

int tune_replay(const struct msmvm_workload *wl, const struct tune_timing *timing,
		const struct tune_timing_info *tinfo, uint32_t limit, enum tune_count_rule rule,
		struct tune_result *out)
{
	struct tune_prep *prep = tune_prepare(wl);
	int ret;

	if (!prep)
		return -ENOMEM;
	ret = tune_replay_prepared(wl, timing, tinfo, prep, limit, rule, out);
	tune_prep_free(prep);
	return ret;
}

int tune_replay_prepared(const struct msmvm_workload *wl, const struct tune_timing *timing,
			 const struct tune_timing_info *tinfo, const struct tune_prep *prep,
			 uint32_t limit, enum tune_count_rule rule, struct tune_result *out)
{
	struct sim s = { .wl = wl, .timing = timing, .tinfo = tinfo, .prep = prep, .limit = limit,
			 .rule = rule, .r = out };
	struct id_map threads = { 0 }, vms = { 0 };
	uint32_t *last = NULL;
	int ret = -ENOMEM;

	memset(out, 0, sizeof(*out));
	out->limit = limit;
	out->rule = rule;
	s.binds = calloc(wl->nbinds + 1, sizeof(*s.binds));
	s.waits = calloc(wl->nbinds + 1, sizeof(*s.waits));
	last = calloc(wl->nbinds + 1, sizeof(*last));
	if (!s.binds || !s.waits || !last)
		goto out;

	/* Threads chain their calls; each VM of each process is one model VM. */
	for (size_t k = 0; k < wl->nbinds; k++) {
		const struct msmvm_wl_bind *b = &wl->binds[k];
		int64_t th = id_get(&threads, b->pid, b->tid);
		int64_t v = id_get(&vms, b->pid, b->vm);

		if (th < 0 || v < 0)
			goto out;
		s.binds[k].next = UINT32_MAX;
		s.binds[k].vm = (uint32_t)v;
		if (last[th])
			s.binds[last[th] - 1].next = (uint32_t)k;
		else if (heap_push(&s.heap, timing[k].think_ns, EV_ARRIVE, (uint32_t)k))
			goto out;
		last[th] = (uint32_t)k + 1;
	}
	s.nvms = vms.n;
	if (prep && prep->nvms != s.nvms) {	/* another workload's: not a valid one */
		ret = -EINVAL;
		goto out;
	}
	s.vms = calloc(s.nvms + 1, sizeof(*s.vms));
	if (!s.vms)
		goto out;
	for (size_t v = 0; v < s.nvms; v++) {
		s.vms[v].gpuvm = tune_vm_create("tune", (int)v);
		if (!s.vms[v].gpuvm)
			goto out;
	}

	s.t_first = s.heap.n ? s.heap.v[0].t : 0;
	s.t_last = s.t_first;
	while (s.heap.n && !s.err)
		handle(&s, heap_pop(&s.heap));
	if (s.err) {
		ret = s.err;
		goto out;
	}
	/* Calls still asleep when nothing is left to free them: count them as waits to the end. */
	for (size_t v = 0; v < s.nvms; v++)
		while (s.vms[v].waiters.n) {
			uint32_t w = fifo_pop(&s.vms[v].waiters);

			if (!s.binds[w].waiting)
				continue;

			s.waits[s.nwaits++] = sub0(s.t_end, s.binds[w].wait_start);
			out->waits++;
			out->wait_ns_total += sub0(s.t_end, s.binds[w].wait_start);
		}
	account(&s, s.t_end > s.t_last ? s.t_end : s.t_last, 0);
	out->span_ns = sub0(s.t_end, s.t_first);
	out->mean_pages = out->span_ns ? (double)(s.area / (long double)out->span_ns) : 0;
	out->wait_ns_p99 = percentile(s.waits, s.nwaits, 0.99);
	if (s.nwaits && s.waits[s.nwaits - 1] > out->wait_ns_max)
		out->wait_ns_max = s.waits[s.nwaits - 1];
	ret = 0;
out:
	for (size_t k = 0; s.binds && k < wl->nbinds; k++)
		if (s.binds[k].job) {
			s.binds[k].job->prealloc.count = s.binds[k].count;
			tune_job_free(s.binds[k].job);
		}
	for (size_t v = 0; s.vms && v < s.nvms; v++) {
		free(s.vms[v].waiters.v);
		free(s.vms[v].jobs.v);
		if (s.vms[v].gpuvm)
			tune_vm_destroy(s.vms[v].gpuvm);
	}
	free(s.vms), free(s.binds), free(s.waits), free(last), free(s.heap.v);
	pool_free(&s.pool);
	id_free(&threads), id_free(&vms);
	return ret;
}

/* ---- synthetic workloads ---- */

int tune_synth_workload(const struct tune_synth *sy, struct msmvm_workload *wl,
			struct tune_timing **timing_out, struct tune_timing_info *info)
{
	struct drm_msm_vm_bind_op *ops = calloc(WL_MAX_OPS, sizeof(*ops));
	size_t nbinds = (size_t)sy->procs * sy->binds, cap_ops = 4096;
	struct tune_timing *timing = calloc(nbinds + 1, sizeof(*timing));
	struct drm_gpuvm *scratch = tune_vm_create("tune-count", 0);
	struct msm_vm_bind_job *job = calloc(1, sizeof(*job) + WL_MAX_OPS * sizeof(job->ops[0]));
	int job_cost_us = sy->job_cost_us >= 0 ? sy->job_cost_us :
			  sy->kind == WL_STORM ? 1000 : 50;	/* msmvm-sim run's defaults */
	uint64_t think = sy->rate > 0 ? (uint64_t)(1e9 / sy->rate) : 0;

	memset(wl, 0, sizeof(*wl));
	memset(info, 0, sizeof(*info));
	wl->binds = calloc(nbinds + 1, sizeof(*wl->binds));
	wl->ops = malloc(cap_ops * sizeof(*wl->ops));
	wl->procs = calloc(sy->procs + 1, sizeof(*wl->procs));
	if (!ops || !timing || !scratch || !job || !wl->binds || !wl->ops || !wl->procs)
		goto nomem;
	job->vm = scratch;

	for (unsigned int p = 0; p < sy->procs; p++) {
		struct workload_state st;
		/* msmvm-sim run's seed and VA window of process p's first queue thread */
		uint64_t seed = sy->seed * 0x100000001b3ULL + p * 7919ULL + 1;
		uint64_t t = 0;

		workload_init(&st, sy->kind, seed, (1ULL << 32) * 3, 4 * SZ_1G);	/* queue 1's window */
		wl->procs[p].pid = 1000 + p;
		snprintf(wl->procs[p].comm, sizeof(wl->procs[p].comm), "%s-%u",
			 workload_names[sy->kind], p);
		for (unsigned int i = 0; i < sy->binds; i++) {
			size_t k = wl->nbinds++;
			struct msmvm_wl_bind *b = &wl->binds[k];
			unsigned int n = workload_next(&st, ops);

			if (wl->nops + n > cap_ops) {
				struct msmvm_wl_op *no;

				while (wl->nops + n > cap_ops)
					cap_ops *= 2;
				no = realloc(wl->ops, cap_ops * sizeof(*no));
				if (!no)
					goto nomem;
				wl->ops = no;
			}
			job->nr_ops = 0;
			job->prealloc.count = 0;
			for (unsigned int j = 0; j < n; j++) {
				wl->ops[wl->nops + j] = (struct msmvm_wl_op){ ops[j].iova, ops[j].range,
									       ops[j].op, 0 };
				msm_vm_bind_lookup_op(job, &ops[j]);
			}
			vm_bind_count_ops(job, NULL, NULL);
			*b = (struct msmvm_wl_bind){
				.pid = 1000 + p, .tid = 1000 + p, .queue_id = 1, .nr_ops = n,
				.vm = 0x1000, .entry_ns = t, .return_ns = t + sy->ioctl_ns,
				.counted = true, .ops_known = true, .count = job->prealloc.count,
				.ops_first = wl->nops,
			};
			wl->nops += n;
			timing[k] = (struct tune_timing){
				.think_ns = i ? think : 0,
				.pre_ns = sy->ioctl_ns / 2,
				.post_ns = sy->ioctl_ns - sy->ioctl_ns / 2,
				.service_ns = ((uint64_t)job_cost_us + (uint64_t)sy->op_cost_us * n) * 1000,
			};
			t += sy->ioctl_ns + think;
		}
		if (t > wl->end_ns)
			wl->end_ns = t;
	}
	wl->nprocs = sy->procs;
	info->service_median_ns = (uint64_t)job_cost_us * 1000;
	info->wake_ns = TUNE_WAKE_DEFAULT_NS;
	free(ops), free(job);
	tune_vm_destroy(scratch);
	*timing_out = timing;
	return 0;
nomem:
	free(ops), free(job), free(timing);
	if (scratch)
		tune_vm_destroy(scratch);
	free(wl->binds), free(wl->ops), free(wl->procs);
	memset(wl, 0, sizeof(*wl));
	return -ENOMEM;
}

const char *tune_share(char *buf, size_t size, uint64_t part, uint64_t whole)
{
	double v = whole ? 100.0 * (double)part / (double)whole : 0;

	if (part && part < whole && v >= 99.95)
		snprintf(buf, size, ">99.9");
	else if (part && v < 0.05)
		snprintf(buf, size, "<0.1");
	else
		snprintf(buf, size, "%.1f", v);
	return buf;
}
