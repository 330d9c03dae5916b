/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver's rules in a kernel build (the model's kernel-module twin): the kernel's own
 * headers, plus the page-table page helpers the user-space side defines in compat_user.h.
 *
 * The twin creates the "msm-mmu-pt" cache at module init, as msm_iommu.c does, and exports
 * it as msm_pt_cache; every page-table page below the root and the root itself come from it.
 * Its objects are one table (4 KiB), so the size arguments below are not needed here.
 */
#ifndef MSMVM_DRIVER_COMPAT_KERNEL_H
#define MSMVM_DRIVER_COMPAT_KERNEL_H

#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/printk.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/types.h>

/*
 * Probed functions: kprobes and fentry need a real, separately named function with a BTF FUNC
 * record: no inlining, no IPA clones (.isra/.constprop would rename it), never dropped.
 */
#define __probed noinline __attribute__((__noclone__)) __used

extern struct kmem_cache *msm_pt_cache;

static inline void *msm_pt_zalloc_page(size_t size)
{
	return kmem_cache_zalloc(msm_pt_cache, GFP_KERNEL);
}

static inline void msm_pt_free_page(void *page)
{
	kmem_cache_free(msm_pt_cache, page);
}

/* All or nothing, as kmem_cache_alloc_bulk() is: count, or 0 with nothing allocated. */
static inline u32 msm_pt_alloc_bulk(size_t size, u32 count, void **pages)
{
	return (u32)kmem_cache_alloc_bulk(msm_pt_cache, GFP_KERNEL, count, pages);
}

static inline void msm_pt_free_bulk(u32 count, void **pages)
{
	kmem_cache_free_bulk(msm_pt_cache, count, pages);
}

#endif
