// SPDX-License-Identifier: GPL-2.0
/*
 * The rules of drivers/gpu/drm/msm/msm_gem_vma.c's VM_BIND path that decide pages: op
 * validation (lookup_op), the merge rule (ops_are_same_pte: array order, UNMAP skipped), the
 * worst-case count per merged run (prealloc_count -> mmu->funcs->prealloc_count), and what
 * a job's run and free do to the page table and to in_flight.
 *
 * Freestanding: compat.h and the driver's own headers only. The throttle, the scheduler and
 * the ground truth are the environment's (tools/sim/msm_gem_vma.c for the model).
 */
#include "compat.h"
#include "msm_vm_bind.h"

static bool ops_are_same_pte(struct msm_vm_bind_op *first, struct msm_vm_bind_op *next)
{
	/*
	 * Last level pte covers 2MB.. so we should merge two ops, from the same process, if
	 * they are mapping in the same 2MB range (the driver's own comment).
	 */
	u64 pte_mask = ~(SZ_2M - 1);
	u64 first_end = first->iova + first->range;

	return (first_end & pte_mask) == (next->iova & pte_mask);
}

static void prealloc_count(struct msm_vm_bind_job *job, struct msm_vm_bind_op *first,
			   struct msm_vm_bind_op *last, msm_count_run_cb cb, void *arg)
{
	struct msm_mmu *mmu = msm_gem_vm_mmu(job->vm);
	u64 start_iova = first->iova;
	u64 end_iova = last->iova + last->range;
	u32 before = job->prealloc.count;

	mmu->funcs->prealloc_count(mmu, &job->prealloc, start_iova, end_iova - start_iova);
	if (cb)	/* model: lets `msmvm-sim count` show the merged runs */
		cb(arg, start_iova, end_iova, job->prealloc.count - before);
}

/*
 * The counting half of vm_bind_prealloc_count(), split out (model only) so that the
 * calculator and msmvm-tune run exactly the code the ioctl runs.
 */
void vm_bind_count_ops(struct msm_vm_bind_job *job, msm_count_run_cb cb, void *arg)
{
	struct msm_vm_bind_op *first = NULL, *last = NULL;

	for (unsigned int i = 0; i < job->nr_ops; i++) {
		struct msm_vm_bind_op *op = &job->ops[i];

		/* We only care about MAP/MAP_NULL: */
		if (op->op == MSM_VM_BIND_OP_UNMAP)
			continue;

		/* Contiguous with last in the same PTE range: share the prealloc pages */
		if (last && ops_are_same_pte(last, op)) {
			last = op;
			continue;
		}

		/* If not, flush the current range: */
		if (first)
			prealloc_count(job, first, last, cb, arg);

		first = last = op;
	}

	if (first)
		prealloc_count(job, first, last, cb, arg);
}

/*
 * lookup_op(): copy one op into the job and validate it. Every check runs, the last error
 * wins, as in the driver.
 */
int msm_vm_bind_lookup_op(struct msm_vm_bind_job *job, const struct drm_msm_vm_bind_op *op)
{
	struct drm_gpuvm *gpuvm = job->vm;
	unsigned int i = job->nr_ops++;
	int ret = 0;

	job->ops[i].op = op->op;
	job->ops[i].handle = op->handle;
	job->ops[i].obj_offset = op->obj_offset;
	job->ops[i].iova = op->iova;
	job->ops[i].range = op->range;
	job->ops[i].flags = op->flags;

	if (op->flags & ~MSM_VM_BIND_OP_FLAGS)
		ret = -EINVAL;	/* invalid flags */
	if (op->iova & (SZ_4K - 1))
		ret = -EINVAL;	/* invalid address */
	if (op->obj_offset & (SZ_4K - 1))
		ret = -EINVAL;	/* invalid bo_offset */
	if (op->range & (SZ_4K - 1))
		ret = -EINVAL;	/* invalid range */
	/* drm_gpuvm_range_valid(): non-empty, no overflow, inside the VM's VA space */
	if (!op->range || op->iova + op->range < op->iova || op->iova < gpuvm->mm_start ||
	    op->iova + op->range > gpuvm->mm_start + gpuvm->mm_range)
		ret = -EINVAL;
	/* MAP must specify a valid handle; the handle MBZ for UNMAP or MAP_NULL */
	if (op->op == MSM_VM_BIND_OP_MAP) {
		if (!op->handle)
			ret = -EINVAL;
	} else if (op->handle) {
		ret = -EINVAL;
	}
	switch (op->op) {
	case MSM_VM_BIND_OP_MAP:
	case MSM_VM_BIND_OP_MAP_NULL:
	case MSM_VM_BIND_OP_UNMAP:
		break;
	default:
		ret = -EINVAL;	/* invalid op */
		break;
	}
	return ret;
}

int msm_vm_bind_job_apply(struct msm_mmu *mmu, struct msm_vm_bind_job *job)
{
	int ret = 0;

	mmu->prealloc = &job->prealloc;
	for (unsigned int i = 0; i < job->nr_ops && !ret; i++) {
		struct msm_vm_bind_op *op = &job->ops[i];

		if (op->op == MSM_VM_BIND_OP_UNMAP)
			ret = mmu->funcs->unmap(mmu, op->iova, op->range);
		else
			ret = mmu->funcs->map(mmu, op->iova, op->range, 0);
	}
	mmu->prealloc = NULL;
	return ret;
}

void msm_vm_bind_job_release_prealloc(struct msm_mmu *mmu, struct msm_vm_bind_job *job,
				      atomic_t *in_flight)
{
	mmu->funcs->prealloc_cleanup(mmu, &job->prealloc);

	atomic_sub((int)job->prealloc.count, in_flight);
}
