// SPDX-License-Identifier: GPL-2.0
/*
 * The counting and merging rule (vm_bind_prealloc_count + msm_iommu_pagetable_prealloc_count)
 * against docs/driver.md's worked examples and against an independent implementation.
 */
#include "harness.h"
#include "model_util.h"

#define MAP  MSM_VM_BIND_OP_MAP
#define NUL  MSM_VM_BIND_OP_MAP_NULL
#define UNM  MSM_VM_BIND_OP_UNMAP
#define G1   (1ULL << 30)
#define M2   (1ULL << 21)
#define K4   (1ULL << 12)
#define BASE (4 * G1)	/* 1 GiB- and 512 GiB-aligned? 1 GiB yes; inside one 512 GiB block */

/*
 * Independent reference, written from the rule's text rather than the driver's code:
 * consecutive MAP/MAP_NULL ops join a run while the previous op's end and the next op's
 * start are in the same 2 MiB block; UNMAPs are invisible; a run [lo, hi) needs one table
 * per 512 GiB, 1 GiB and 2 MiB block it touches, counted by block index.
 */
static u64 ref_blocks(u64 lo, u64 hi, unsigned shift)
{
	if (hi <= lo)	/* a backwards run inside one 2 MiB block still touches lo's blocks */
		hi = lo + 1;
	return ((hi - 1) >> shift) - (lo >> shift) + 1;
}

static u32 ref_count(const struct drm_msm_vm_bind_op *ops, unsigned n)
{
	u64 total = 0, lo = 0, end = 0;
	int in_run = 0;

	for (unsigned i = 0; i < n; i++) {
		if (ops[i].op == UNM)
			continue;
		if (in_run && (end >> 21) == (ops[i].iova >> 21)) {
			end = ops[i].iova + ops[i].range;
			continue;
		}
		if (in_run)
			total += ref_blocks(lo, end, 39) + ref_blocks(lo, end, 30) +
				 ref_blocks(lo, end, 21);
		lo = ops[i].iova;
		end = ops[i].iova + ops[i].range;
		in_run = 1;
	}
	if (in_run)
		total += ref_blocks(lo, end, 39) + ref_blocks(lo, end, 30) + ref_blocks(lo, end, 21);
	return (u32)total;
}

TEST(one_4k_map_is_3)
{
	struct drm_msm_vm_bind_op op = mkop(MAP, BASE, K4);

	CHECK_EQ(model_count(&op, 1), 3);
}

TEST(map_64m_aligned_is_34_unaligned_35_across_1g_36)
{
	struct drm_msm_vm_bind_op a = mkop(MAP, BASE, 64 << 20);
	struct drm_msm_vm_bind_op u = mkop(MAP, BASE + K4, 64 << 20);
	struct drm_msm_vm_bind_op x = mkop(MAP, BASE + G1 - 16 * M2, 64 << 20);
	struct drm_msm_vm_bind_op xu = mkop(MAP, BASE + G1 - 16 * M2 + K4, 64 << 20);

	CHECK_EQ(model_count(&a, 1), 34);
	CHECK_EQ(model_count(&u, 1), 35);
	CHECK_EQ(model_count(&x, 1), 35);	/* aligned, crosses 1 GiB: 32 + 2 + 1 */
	CHECK_EQ(model_count(&xu, 1), 36);	/* unaligned and across */
}

TEST(map_64m_as_16384_ascending_4k_ops_is_34)
{
	unsigned n = 16384;
	struct drm_msm_vm_bind_op *ops = calloc(n, sizeof(*ops));

	for (unsigned i = 0; i < n; i++)
		ops[i] = mkop(MAP, BASE + i * K4, K4);
	CHECK_EQ(model_count(ops, n), 34);
	free(ops);
}

TEST(map_64m_scrambled_is_up_to_49152)
{
	unsigned n = 16384;
	struct drm_msm_vm_bind_op *ops = calloc(n, sizeof(*ops));
	unsigned i = 0;

	/*
	 * Page k of every 2 MiB block in turn, even blocks then odd ones: an op never starts in
	 * the block where the previous one ended (a last page ends in the next block), so no
	 * two ops merge and every op costs 3.
	 */
	for (unsigned k = 0; k < 512; k++)
		for (unsigned j = 0; j < 32; j++) {
			unsigned r = j < 16 ? 2 * j : 2 * (j - 16) + 1;

			ops[i++] = mkop(MAP, BASE + r * M2 + k * K4, K4);
		}
	CHECK_EQ(model_count(ops, n), 49152);
	CHECK_EQ(ref_count(ops, n), 49152);
	free(ops);
}

TEST(map_null_64g_is_32833)
{
	struct drm_msm_vm_bind_op op = mkop(NUL, 64 * G1, 64 * G1);

	CHECK_EQ(model_count(&op, 1), 32833);
}

TEST(n_scattered_4k_maps_are_3n_and_342_reach_1026)
{
	struct drm_msm_vm_bind_op ops[342];

	for (unsigned n = 1; n <= 342; n++) {
		for (unsigned i = 0; i < n; i++)	/* every other 2 MiB block: non-adjacent */
			ops[i] = mkop(MAP, BASE + (u64)(2 * i) * M2 + 5 * K4, K4);
		if (model_count(ops, n) != 3 * n) {
			CHECK_EQ(model_count(ops, n), 3 * n);
			break;
		}
	}
	CHECK_EQ(model_count(ops, 342), 1026);
}

TEST(unmap_between_two_maps_of_one_2m_block_does_not_break_the_run)
{
	struct drm_msm_vm_bind_op ops[] = {
		mkop(MAP, BASE, K4),
		mkop(UNM, BASE + 100 * M2, 8 * K4),
		mkop(MAP, BASE + K4, K4),
	};
	struct drm_msm_vm_bind_op only_unmaps[] = { mkop(UNM, BASE, G1) };

	CHECK_EQ(model_count(ops, 3), 3);
	CHECK_EQ(model_count(only_unmaps, 1), 0);
	CHECK_EQ(model_count(NULL, 0), 0);
}

TEST(map_across_a_1g_boundary)
{
	struct drm_msm_vm_bind_op op = mkop(MAP, BASE + G1 - M2 / 2, M2);	/* 2+2+1 */

	CHECK_EQ(model_count(&op, 1), 5);
}

TEST(map_across_a_512g_boundary_counts_two_l1_tables)
{
	struct drm_msm_vm_bind_op op = mkop(MAP, (512 * G1) - K4, 2 * K4);

	CHECK_EQ(model_count(&op, 1), 6);
}

TEST(op_ending_on_a_2m_boundary_merges_with_op_starting_there)
{
	struct drm_msm_vm_bind_op ops[] = {
		mkop(MAP, BASE + M2 - K4, K4),	/* ends exactly at BASE + 2M */
		mkop(MAP, BASE + M2, K4),
	};
	struct drm_msm_vm_bind_op apart[] = {
		mkop(MAP, BASE + M2 - 2 * K4, K4),	/* ends below the boundary */
		mkop(MAP, BASE + M2, K4),
	};

	CHECK_EQ(model_count(ops, 2), 4);	/* one run over two 2 MiB blocks */
	CHECK_EQ(model_count(apart, 2), 6);
}

TEST(validation_rejects_bad_ops_with_einval)
{
	struct drm_msm_vm_bind_op bad[] = {
		mkop(MAP, BASE + 1, K4),		/* unaligned iova */
		mkop(MAP, BASE, K4 + 7),		/* unaligned range */
		mkop(MAP, BASE, 0),			/* empty */
		mkop(7, BASE, K4),			/* unknown op */
		mkop(NUL, ~0ULL - K4 + 1, 2 * K4),	/* wraps */
		mkop(MAP, 4 * G1 + (1ULL << 48), K4),	/* beyond the VM's end */
		mkop(MAP, 4 * G1 + (1ULL << 48) - K4, 2 * K4),	/* across it */
		mkop(MAP, 4 * G1 - K4, K4),		/* below ADRENO_VM_START */
		mkop(NUL, 16 * M2 / 2, K4),		/* the kernel-managed VM's start */
	};
	struct drm_msm_vm_bind_op nohandle = mkop(MAP, BASE, K4), handle = mkop(NUL, BASE, K4);
	struct drm_msm_vm_bind_op flags = mkop(MAP, BASE, K4), offs = mkop(MAP, BASE, K4);

	nohandle.handle = 0;
	handle.handle = 3;
	flags.flags = 0x80;
	offs.obj_offset = 12;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(model_count(&bad[i], 1), -EINVAL);
	CHECK_EQ(model_count(&nohandle, 1), -EINVAL);
	CHECK_EQ(model_count(&handle, 1), -EINVAL);
	CHECK_EQ(model_count(&flags, 1), -EINVAL);
	CHECK_EQ(model_count(&offs, 1), -EINVAL);
}

/* The VM's size bounds it: [4 GiB, 4 GiB + size), 4 GiB for most GPUs (msmvm-sim --vm-size). */
TEST(vm_size_bounds_the_valid_range)
{
	struct drm_msm_vm_bind_op last = mkop(MAP, 8 * G1 - K4, K4), past = mkop(MAP, 8 * G1, K4);
	struct drm_msm_vm_bind_op across = mkop(NUL, 8 * G1 - M2, 2 * M2);
	u64 saved = msm_model.vm_size;

	CHECK_EQ(model_count(&past, 1), 3);	/* inside the default 2^48 */
	msm_model.vm_size = 4 * G1;
	CHECK_EQ(model_count(&last, 1), 3);
	CHECK_EQ(model_count(&past, 1), -EINVAL);
	CHECK_EQ(model_count(&across, 1), -EINVAL);
	msm_model.vm_size = saved;
}

static u64 rng = 42;

static u64 rnd(u64 n)
{
	return msm_rng_next(&rng) % n;
}

TEST(random_op_lists_match_the_reference)
{
	struct drm_msm_vm_bind_op ops[64];
	unsigned mismatches = 0;

	for (unsigned iter = 0; iter < 20000; iter++) {
		unsigned n = 1 + (unsigned)rnd(64);
		/* a base near a 1 GiB or 512 GiB boundary now and then */
		u64 base = rnd(4) == 0 ? 512 * G1 - 8 * M2 : rnd(2) ? 7 * G1 - 4 * M2 : BASE;

		for (unsigned i = 0; i < n; i++) {
			u64 kinds[] = { MAP, MAP, NUL, UNM };
			u64 iova = base + rnd(16) * M2 + rnd(512) * K4;
			u64 range = rnd(8) ? (1 + rnd(4)) * K4 : (1 + rnd(2048)) * K4;

			ops[i] = mkop((u32)kinds[rnd(4)], iova, range);
		}
		if (model_count(ops, n) != ref_count(ops, n)) {
			if (mismatches++ < 3) {
				FAILF("iteration %u: model %lld, reference %u", iter,
				      model_count(ops, n), ref_count(ops, n));
				for (unsigned i = 0; i < n; i++)
					FAILF("  op %u: %u 0x%llx+0x%llx", i, ops[i].op,
					      (unsigned long long)ops[i].iova,
					      (unsigned long long)ops[i].range);
			}
		}
	}
	CHECK_EQ(mismatches, 0);
}

TEST_MAIN()
