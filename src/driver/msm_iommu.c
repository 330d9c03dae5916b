// SPDX-License-Identifier: GPL-2.0
/*
 * msm_iommu.c's per-process page tables, with io-pgtable-arm's 4-level, 4 KiB-granule
 * ARM LPAE walk (48-bit VA: L0 root, then L1/L2/L3 tables of 512 entries).
 *
 * As in the driver, VM_BIND forces pgsize_bitmap = 4 KiB: there are no block mappings and a
 * 4 KiB unmap never frees a table, so tables only accumulate. A missing table is taken from
 * the job's preallocation (cfg->alloc = msm_iommu_pagetable_alloc_pt); the L0 root is not.
 *
 * Freestanding: pages come from compat.h's msm_pt_* helpers (the msm-mmu-pt kmem_cache in
 * the kernel, the heap in user space).
 */
#include "compat.h"
#include "msm_mmu.h"
#include "msm_vm_bind.h"

#define PT_ENTRIES 512
#define PT_VALID  1ULL

struct pt_table {
	u64 entry[PT_ENTRIES];	/* leaf: PTE; otherwise (u64)(struct pt_table *) */
};

struct msm_iommu_pagetable {
	struct msm_mmu base;	/* first: the alloc_pt cookie's first member is a struct msm_mmu */
	struct pt_table *pgd;	/* L0 root, from alloc_pages at creation, not the pool */
	u64 tables;		/* tables installed below the root */
	const struct msm_iommu_pagetable_hooks *hooks;	/* model: may be NULL */
};

static struct msm_iommu_pagetable *to_pagetable(struct msm_mmu *mmu)
{
	return container_of(mmu, struct msm_iommu_pagetable, base);
}

/* io-pgtable's cfg->alloc: a table page from the job's preallocation. */
static __probed void *msm_iommu_pagetable_alloc_pt(void *cookie, size_t size)
{
	struct msm_iommu_pagetable *pagetable = cookie;
	struct msm_mmu_prealloc *p = pagetable->base.prealloc;
	void *page;

	(void)size;
	if (!p || p->ptr >= p->count) {
		/* WARN_ON_ONCE in the driver: an undercount makes the map fail */
		pr_warn("WARNING: alloc_pt beyond preallocation (%u/%u)\n", p ? p->ptr : 0,
			p ? p->count : 0);
		return NULL;
	}
	page = p->pages[p->ptr++];
	memset(page, 0, sizeof(struct pt_table));	/* the cache's pages are not zeroed */
	return page;
}

/* The table below `entry`, installing one from the pool if the entry is empty. */
static struct pt_table *pt_next_level(struct msm_iommu_pagetable *pt, u64 *entry)
{
	struct pt_table *t;

	if (*entry)
		return (struct pt_table *)(uintptr_t)*entry;
	t = msm_iommu_pagetable_alloc_pt(pt, sizeof(*t));
	if (!t)
		return NULL;
	*entry = (u64)(uintptr_t)t;
	pt->tables++;
	return t;
}

static __probed int msm_iommu_pagetable_map(struct msm_mmu *mmu, u64 iova, size_t len, int prot)
{
	struct msm_iommu_pagetable *pt = to_pagetable(mmu);
	u64 end = iova + len;

	(void)prot;
	for (u64 va = iova; va < end; va += SZ_4K) {
		struct pt_table *l1, *l2, *l3;

		l1 = pt_next_level(pt, &pt->pgd->entry[(va >> 39) & 511]);
		l2 = l1 ? pt_next_level(pt, &l1->entry[(va >> 30) & 511]) : NULL;
		l3 = l2 ? pt_next_level(pt, &l2->entry[(va >> 21) & 511]) : NULL;
		if (!l3)
			return -ENOMEM;
		l3->entry[(va >> 12) & 511] = (va & ~(SZ_4K - 1)) | PT_VALID;
	}
	return 0;
}

static __probed int msm_iommu_pagetable_unmap(struct msm_mmu *mmu, u64 iova, size_t len)
{
	struct msm_iommu_pagetable *pt = to_pagetable(mmu);

	/* 4 KiB unmaps clear leaf entries only; tables stay (io-pgtable-arm). */
	for (u64 va = iova; va < iova + len; va += SZ_4K) {
		struct pt_table *l1 = (void *)(uintptr_t)pt->pgd->entry[(va >> 39) & 511];
		struct pt_table *l2 = l1 ? (void *)(uintptr_t)l1->entry[(va >> 30) & 511] : NULL;
		struct pt_table *l3 = l2 ? (void *)(uintptr_t)l2->entry[(va >> 21) & 511] : NULL;

		if (!l3) {	/* skip the rest of this empty 2 MiB region */
			va = ALIGN_DOWN(va, SZ_2M) + SZ_2M - SZ_4K;
			continue;
		}
		l3->entry[(va >> 12) & 511] = 0;
	}
	return 0;
}

/*
 * One page per 512 GiB, 1 GiB and 2 MiB aligned block that [iova, iova+len) touches: the L1,
 * L2 and L3 tables the range could need. The arithmetic is the driver's, u64 wrap-around and
 * u32 truncation of the total included.
 */
static __probed void msm_iommu_pagetable_prealloc_count(struct msm_mmu *mmu,
							 struct msm_mmu_prealloc *p, u64 iova,
							 size_t len)
{
	u64 pt_count;

	(void)mmu;
	pt_count = ((ALIGN(iova + len, 1ULL << 39) - ALIGN_DOWN(iova, 1ULL << 39)) >> 39) +
		   ((ALIGN(iova + len, 1ULL << 30) - ALIGN_DOWN(iova, 1ULL << 30)) >> 30) +
		   ((ALIGN(iova + len, 1ULL << 21) - ALIGN_DOWN(iova, 1ULL << 21)) >> 21);

	p->count += (u32)pt_count;
}

/* kmem_cache_alloc_bulk() is all or nothing: it returns p->count or 0. */
static u32 kmem_cache_alloc_bulk_pt(struct msm_iommu_pagetable *pt, u32 count, void **pages)
{
	/* model: fault injection first, so that it draws the same randomness either way */
	if (pt->hooks && pt->hooks->alloc_bulk_fails && pt->hooks->alloc_bulk_fails())
		return 0;
	return msm_pt_alloc_bulk(sizeof(struct pt_table), count, pages);
}

static __probed int msm_iommu_pagetable_prealloc_allocate(struct msm_mmu *mmu,
							   struct msm_mmu_prealloc *p)
{
	u32 ret;

	p->pages = kvmalloc_array(p->count ? p->count : 1, sizeof(*p->pages), GFP_KERNEL);
	if (!p->pages)
		return -ENOMEM;

	ret = kmem_cache_alloc_bulk_pt(to_pagetable(mmu), p->count, p->pages);
	if (ret != p->count) {
		/* The driver's upward-drift path: count was already added to in_flight. */
		p->count = ret;
		return -ENOMEM;
	}
	return 0;
}

static __probed void msm_iommu_pagetable_prealloc_cleanup(struct msm_mmu *mmu,
							   struct msm_mmu_prealloc *p)
{
	u32 remaining_pt_count = p->count - p->ptr;

	(void)mmu;
	/* Since 830d68f2cb8a: nothing was allocated (e.g. an interrupted throttle wait). */
	if (!p->pages)
		return;
	/* trace_msm_mmu_prealloc_cleanup(p->count, remaining_pt_count) fires here if count > 0 */
	msm_pt_free_bulk(remaining_pt_count, &p->pages[p->ptr]);
	kvfree(p->pages);
	p->pages = NULL;
}

static void pt_free_level(struct pt_table *t, int level)
{
	if (level < 3)
		for (int i = 0; i < PT_ENTRIES; i++)
			if (t->entry[i])
				pt_free_level((struct pt_table *)(uintptr_t)t->entry[i], level + 1);
	msm_pt_free_page(t);
}

static void msm_iommu_pagetable_destroy(struct msm_mmu *mmu)
{
	struct msm_iommu_pagetable *pt = to_pagetable(mmu);

	pt_free_level(pt->pgd, 0);
	kfree(pt);
}

static const struct msm_mmu_funcs pagetable_funcs = {
	.prealloc_count = msm_iommu_pagetable_prealloc_count,
	.prealloc_allocate = msm_iommu_pagetable_prealloc_allocate,
	.prealloc_cleanup = msm_iommu_pagetable_prealloc_cleanup,
	.map = msm_iommu_pagetable_map,
	.unmap = msm_iommu_pagetable_unmap,
	.destroy = msm_iommu_pagetable_destroy,
};

struct msm_mmu *msm_iommu_pagetable_create(const struct msm_iommu_pagetable_hooks *hooks)
{
	struct msm_iommu_pagetable *pt = kzalloc(sizeof(*pt), GFP_KERNEL);

	if (!pt)
		return NULL;
	pt->pgd = msm_pt_zalloc_page(sizeof(*pt->pgd));
	if (!pt->pgd) {
		kfree(pt);
		return NULL;
	}
	pt->hooks = hooks;
	pt->base.funcs = &pagetable_funcs;
	pt->base.type = 2;	/* MSM_MMU_IOMMU_PAGETABLE */
	return &pt->base;
}

u64 msm_iommu_pagetable_tables(struct msm_mmu *mmu)
{
	return to_pagetable(mmu)->tables;
}

/*
 * model only, for msmvm-tune's counting what-if: the tables that the MAP and MAP_NULL ops
 * of a job would install if it ran now, i.e. the pages the page table really lacks (each
 * table once, however many ops need it). Never fewer than the job will take: tables only
 * accumulate, so jobs that run between this count and this job can only lower the need.
 */
struct pt_key_set {
	u64 *keys;	/* level in the top 2 bits, the VA prefix below; 0: empty slot */
	size_t cap, n;
};

static bool pt_key_insert(struct pt_key_set *s, u64 key)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 64;
		u64 *nk = kcalloc(ncap, sizeof(*nk), GFP_KERNEL);

		if (!nk)
			return false;	/* caller sees the count so far: an undercount it reports */
		for (size_t i = 0; i < s->cap; i++)
			if (s->keys[i]) {
				size_t j = (size_t)(s->keys[i] * 0x9e3779b97f4a7c15ULL) & (ncap - 1);

				while (nk[j])
					j = (j + 1) & (ncap - 1);
				nk[j] = s->keys[i];
			}
		kfree(s->keys);
		s->keys = nk;
		s->cap = ncap;
	}
	for (size_t j = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (s->cap - 1);;
	     j = (j + 1) & (s->cap - 1)) {
		if (s->keys[j] == key)
			return false;
		if (!s->keys[j]) {
			s->keys[j] = key;
			s->n++;
			return true;
		}
	}
}

u32 msm_iommu_pagetable_count_missing(struct msm_mmu *mmu, const struct msm_vm_bind_op *ops,
				      unsigned int nr_ops)
{
	struct msm_iommu_pagetable *pt = to_pagetable(mmu);
	struct pt_key_set seen = { 0 };
	u32 missing = 0;

	for (unsigned int i = 0; i < nr_ops; i++) {
		const struct msm_vm_bind_op *op = &ops[i];
		u64 end = op->iova + op->range;

		if (op->op == MSM_VM_BIND_OP_UNMAP || end <= op->iova)
			continue;
		/* one step per 2 MiB block: the L3 table's span; L1 and L2 are looked at on the way */
		for (u64 va = ALIGN_DOWN(op->iova, SZ_2M); va < end; va += SZ_2M) {
			struct pt_table *l1 = (void *)(uintptr_t)pt->pgd->entry[(va >> 39) & 511];
			struct pt_table *l2 = l1 ? (void *)(uintptr_t)l1->entry[(va >> 30) & 511] : NULL;
			struct pt_table *l3 = l2 ? (void *)(uintptr_t)l2->entry[(va >> 21) & 511] : NULL;

			if (!l1 && pt_key_insert(&seen, (1ULL << 62) | ((va >> 39) + 1)))
				missing++;
			if (!l2 && pt_key_insert(&seen, (2ULL << 62) | ((va >> 30) + 1)))
				missing++;
			if (!l3 && pt_key_insert(&seen, (3ULL << 62) | ((va >> 21) + 1)))
				missing++;
			if (va + SZ_2M < va)
				break;	/* the top of the address space */
		}
	}
	kfree(seen.keys);
	return missing;
}
