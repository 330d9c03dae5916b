// SPDX-License-Identifier: GPL-2.0
/* The model's workload generators (workload_gen.h). */
#include <string.h>

#include "workload_gen.h"

const char *const workload_names[WL_COUNT_] = {
	[WL_SPARSE] = "sparse",
	[WL_CONTIGUOUS] = "contiguous",
	[WL_MIXED] = "mixed",
	[WL_UNMAP_HEAVY] = "unmap-heavy",
	[WL_STORM] = "storm",
};

int workload_parse(const char *name, enum workload_kind *out)
{
	for (int i = 0; i < WL_COUNT_; i++)
		if (!strcmp(name, workload_names[i])) {
			*out = (enum workload_kind)i;
			return 0;
		}
	return -1;
}

void workload_init(struct workload_state *st, enum workload_kind kind, u64 seed, u64 va_base,
		   u64 va_size)
{
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->rng = seed;
	st->va_base = va_base;
	st->va_size = va_size;
	st->cursor = va_base;
}

/*
 * Queue queue_id's window: 4 GiB at 4 GiB * (1 + 2 * queue_id), the layout every seed's
 * streams were made with, when the VM holds all of them (any VM of 256 GiB or more); else an
 * equal share of the VM per queue, 2 MiB aligned, less the 64 KiB an unmap-heavy op may
 * reach past its page.
 */
int workload_window(u32 queue_id, u32 nqueues, u64 vm_start, u64 vm_size, u64 *base, u64 *size)
{
	u64 share;

	if (queue_id < 1 || nqueues < 1 || queue_id > nqueues)
		return -1;
	if (4 * SZ_1G * (2 + 2 * (u64)nqueues) <= vm_start + vm_size &&
	    4 * SZ_1G * 3 >= vm_start) {
		*base = 4 * SZ_1G * (1 + 2 * (u64)queue_id);
		*size = 4 * SZ_1G;
		return 0;
	}
	share = ALIGN_DOWN(vm_size / nqueues, SZ_2M);
	if (share < WL_MIN_WINDOW)
		return -1;
	*base = vm_start + (queue_id - 1) * share;
	*size = share - 16 * SZ_4K;
	return 0;
}

static u64 rnd(struct workload_state *st, u64 n)
{
	return n ? msm_rng_next(&st->rng) % n : 0;
}

static void op_set(struct drm_msm_vm_bind_op *op, u32 kind, u64 iova, u64 range)
{
	memset(op, 0, sizeof(*op));
	op->op = kind;
	op->iova = iova;
	op->range = range;
	if (kind == MSM_VM_BIND_OP_MAP)
		op->handle = WL_BO_HANDLE;	/* obj_offset 0: the BO is larger than any range */
}

/* A random 4 KiB page of the window, in a random 2 MiB region: unsorted and scattered. */
static u64 random_page(struct workload_state *st)
{
	return st->va_base + rnd(st, st->va_size / SZ_4K) * SZ_4K;
}

static unsigned int gen_sparse(struct workload_state *st, struct drm_msm_vm_bind_op *ops,
			       unsigned int lo, unsigned int hi)
{
	unsigned int n = lo + (unsigned int)rnd(st, hi - lo + 1);

	for (unsigned int i = 0; i < n; i++) {
		u64 r = rnd(st, 10);
		u32 kind = r < 7 ? MSM_VM_BIND_OP_MAP :
			   r < 9 ? MSM_VM_BIND_OP_MAP_NULL : MSM_VM_BIND_OP_UNMAP;

		op_set(&ops[i], kind, random_page(st), SZ_4K);
	}
	return n;
}

static unsigned int gen_contiguous(struct workload_state *st, struct drm_msm_vm_bind_op *ops)
{
	unsigned int n = 1 + (unsigned int)rnd(st, 4);

	for (unsigned int i = 0; i < n; i++) {
		u64 range = (16ULL << (rnd(st, 13))) * SZ_4K;	/* 64 KiB .. 256 MiB */

		if (range > 64 * SZ_2M / 2)
			range = 64 * SZ_2M / 2;		/* cap at 64 MiB */
		if (range > st->va_size / 2)		/* small VMs: half the window */
			range = ALIGN_DOWN(st->va_size / 2, SZ_4K);
		if (rnd(st, 4))				/* mostly 2 MiB aligned starts */
			st->cursor = ALIGN(st->cursor, SZ_2M);
		if (st->cursor + range > st->va_base + st->va_size)
			st->cursor = st->va_base;
		op_set(&ops[i], MSM_VM_BIND_OP_MAP, st->cursor, range);
		st->cursor += range;
	}
	return n;
}

static unsigned int gen_unmap_heavy(struct workload_state *st, struct drm_msm_vm_bind_op *ops)
{
	unsigned int n = 1 + (unsigned int)rnd(st, 16);

	for (unsigned int i = 0; i < n; i++) {
		bool unmap = rnd(st, 10) < 8;
		/* two draws in a set order: as arguments of one call their order would be the
		 * compiler's (gcc draws the range first on x86-64, the page first on arm64) */
		u64 range = (1 + rnd(st, 16)) * SZ_4K;
		u64 iova = random_page(st);

		op_set(&ops[i], unmap ? MSM_VM_BIND_OP_UNMAP : MSM_VM_BIND_OP_MAP, iova, range);
	}
	return n;
}

unsigned int workload_next(struct workload_state *st, struct drm_msm_vm_bind_op *ops)
{
	switch (st->kind) {
	case WL_SPARSE:
		return gen_sparse(st, ops, 1, 128);
	case WL_CONTIGUOUS:
		return gen_contiguous(st, ops);
	case WL_UNMAP_HEAVY:
		return gen_unmap_heavy(st, ops);
	case WL_STORM:
		/* 256..512 scattered pages: 700..1500 pages per job, above the limit alone */
		return gen_sparse(st, ops, 256, 512);
	case WL_MIXED:
	default: {
		u64 r = rnd(st, 10);

		if (r < 5)
			return gen_sparse(st, ops, 1, 64);
		if (r < 8)
			return gen_contiguous(st, ops);
		return gen_unmap_heavy(st, ops);
	}
	}
}
