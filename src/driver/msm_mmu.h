/* SPDX-License-Identifier: GPL-2.0 */
/*
 * msm_mmu.h's preallocation interface and the per-process page table of msm_iommu.c
 * (msm_iommu.c here): the LPAE tables a VM has, what a job's maps take from its
 * preallocation, and what the worst-case count asks for.
 *
 * Field order differs from the kernel's on purpose (see msm_vm_bind.h); names and widths are
 * the driver's, since the toolkit's BPF programs read msm_mmu_prealloc through CO-RE.
 */
#ifndef MSMVM_DRIVER_MSM_MMU_H
#define MSMVM_DRIVER_MSM_MMU_H

#include "compat.h"

struct msm_mmu_prealloc {
#ifdef __KERNEL__
	/* The kernel twin is laid out as msm.ko (msm_mmu.h). */
	u32 count;
	u32 ptr;
	void **pages;
#else
	void **pages;
	u32 ptr;
	u32 count;
#endif
};

struct msm_mmu;
struct msm_mmu_funcs {
	void (*prealloc_count)(struct msm_mmu *mmu, struct msm_mmu_prealloc *p, u64 iova,
			       size_t len);
	int (*prealloc_allocate)(struct msm_mmu *mmu, struct msm_mmu_prealloc *p);
	void (*prealloc_cleanup)(struct msm_mmu *mmu, struct msm_mmu_prealloc *p);
	int (*map)(struct msm_mmu *mmu, u64 iova, size_t len, int prot);
	int (*unmap)(struct msm_mmu *mmu, u64 iova, size_t len);
	void (*destroy)(struct msm_mmu *mmu);
};

struct msm_mmu {
#ifdef __KERNEL__
	/* The kernel twin is laid out as msm.ko (msm_mmu.h). */
	const struct msm_mmu_funcs *funcs;
	struct device *dev;
	int (*handler)(void *arg, unsigned long iova, int flags, void *data);
	void *arg;
	int type;
	struct msm_mmu_prealloc *prealloc;	/* set only while a job runs, under mmu_lock */
#else
	int type;
	struct msm_mmu_prealloc *prealloc;	/* set only while a job runs, under mmu_lock */
	const struct msm_mmu_funcs *funcs;
	void *arg;
#endif
};

/*
 * model: what the environment adds to a page table; NULL, or any member NULL, adds nothing
 * (msmvm-sim's --alloc-fail-rate; the kernel twin's alloc_fail_ppm).
 */
struct msm_iommu_pagetable_hooks {
	/* fault injection: true makes this kmem_cache_alloc_bulk() fail (upward drift) */
	bool (*alloc_bulk_fails)(void);
};

struct msm_mmu *msm_iommu_pagetable_create(const struct msm_iommu_pagetable_hooks *hooks);
/* Tables installed below the root so far. */
u64 msm_iommu_pagetable_tables(struct msm_mmu *mmu);

struct msm_vm_bind_op;
/*
 * model only (msmvm-tune's exact rule): the tables the MAP and MAP_NULL ops would install if
 * they ran now, each once.
 */
u32 msm_iommu_pagetable_count_missing(struct msm_mmu *mmu, const struct msm_vm_bind_op *ops,
				      unsigned int nr_ops);

#endif
