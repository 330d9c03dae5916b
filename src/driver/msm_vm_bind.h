/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM_BIND job and the driver's rules on it (msm_gem_vma.c here): op validation
 * (lookup_op), the merge rule and the worst-case count (vm_bind_prealloc_count's loop), and
 * what a job does to the page table when it runs and to the throttle when it is freed.
 *
 * Every struct and field an observer reads has the driver's name (msm_vm_bind_job.{vm,
 * queue,prealloc,nr_ops,ops}, ...). Field ORDER and struct SIZES differ from the kernel's on
 * purpose, so that the toolkit's BPF programs only work on the model through CO-RE
 * relocation, as they must on real kernels whose layouts change between versions. Widths of
 * the fields the probes read are the kernel's (CO-RE relocates offsets, not load sizes).
 *
 * The VM itself (struct msm_gem_vm: locks, wait queue, scheduler) belongs to the environment,
 * which gives the rules its page table through msm_gem_vm_mmu().
 */
#ifndef MSMVM_DRIVER_MSM_VM_BIND_H
#define MSMVM_DRIVER_MSM_VM_BIND_H

#include "compat.h"
#include "msm_drm.h"
#include "msm_mmu.h"

/*
 * The VA space of a VM_BIND VM (a6xx_create_private_vm()): it starts at ADRENO_VM_START, 4
 * GiB, "to catch issues with not setting xyz_BASE_HI", and spans a per-GPU size: 4 GiB by
 * default, 16 or 256 GiB on some a7xx, BIT(ias) of the SMMU (2^48) on newer kernels. The
 * environment sets it in drm_gpuvm.mm_start/mm_range; MSM_VM_SIZE_DEFAULT is the largest
 * a shipping GPU has. (The kernel-managed VM's start, max(16 MiB, aperture), is not this.)
 */
#define ADRENO_VM_START		SZ_4G
#define MSM_VM_SIZE_DEFAULT	(1ULL << 48)

#ifdef __KERNEL__
/* The kernel twin: the real drm_gpuvm and drm_sched_job. */
#include <drm/drm_gpuvm.h>
#include <drm/gpu_scheduler.h>
#else
struct drm_gpuvm {
	const char *name;
	struct drm_device *drm;
	u64 mm_start;
	u64 mm_range;
};

struct drm_sched_entity;
struct drm_gpu_scheduler;

struct drm_sched_job {
	struct list_head list;
	u64 id;
	struct drm_sched_entity *entity;
	struct drm_gpu_scheduler *sched;
	u32 credits;
};
#endif

struct drm_gem_object;
struct dma_fence;
struct msm_gpu_submitqueue;

struct msm_vm_bind_op {
	u32 op;
	u32 flags;
	union {
		struct drm_gem_object *obj;
		u32 handle;
	};
	u64 obj_offset;
	u64 iova;
	u64 range;
};

struct msm_vm_bind_job {
	struct drm_sched_job base;	/* first, as in the driver: to_msm_vm_bind_job() is a cast */
#ifdef __KERNEL__
	/* The kernel twin is laid out as msm.ko (msm_gem_vma.c). */
	struct drm_gpuvm *vm;
	struct dma_fence *fence;
	struct msm_gpu_submitqueue *queue;
	struct msm_mmu_prealloc prealloc;
	struct list_head vm_ops;
	bool bos_pinned;
	unsigned int nr_ops;
#else
	unsigned int nr_ops;
	bool bos_pinned;
	struct msm_mmu_prealloc prealloc;
	struct dma_fence *fence;
	struct msm_gpu_submitqueue *queue;
	struct list_head vm_ops;
	struct drm_gpuvm *vm;
#endif
	struct msm_vm_bind_op ops[];
};

static inline struct msm_vm_bind_job *to_msm_vm_bind_job(struct drm_sched_job *job)
{
	return container_of(job, struct msm_vm_bind_job, base);
}

/* The environment's: the VM's page table (to_msm_vm(gpuvm)->mmu in the driver). */
struct msm_mmu *msm_gem_vm_mmu(struct drm_gpuvm *gpuvm);

/*
 * lookup_op(): copy one op into job->ops[job->nr_ops++] and validate it against job->vm.
 * 0 or -EINVAL; every check runs and the last failing one wins, as in the driver.
 */
int msm_vm_bind_lookup_op(struct msm_vm_bind_job *job, const struct drm_msm_vm_bind_op *op);

/*
 * The counting half of vm_bind_prealloc_count(): adds the job's worst case to
 * job->prealloc.count, one merged run at a time. model: cb (may be NULL) sees each run, for
 * the calculator's printout.
 */
typedef void (*msm_count_run_cb)(void *arg, u64 start, u64 end, u32 pages);
void vm_bind_count_ops(struct msm_vm_bind_job *job, msm_count_run_cb cb, void *arg);

/*
 * msm_vma_job_run()'s page-table work, under the VM's mmu_lock: the ops in order, tables
 * taken from the job's preallocation. 0, or the first failing map's error (the caller marks
 * the VM unusable; the ops after it are not applied).
 */
int msm_vm_bind_job_apply(struct msm_mmu *mmu, struct msm_vm_bind_job *job);

/*
 * msm_vma_job_free()'s accounting: the pages the job did not take go back, and its whole
 * count comes off in_flight, used or not, added or not (an interrupted throttle wait never
 * added it: the driver's downward drift).
 */
void msm_vm_bind_job_release_prealloc(struct msm_mmu *mmu, struct msm_vm_bind_job *job,
				      atomic_t *in_flight);

#endif
