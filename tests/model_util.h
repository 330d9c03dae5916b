/* SPDX-License-Identifier: GPL-2.0 */
/* Building VM_BIND jobs directly on the model's objects, for unit tests. */
#ifndef MSMVM_TEST_MODEL_UTIL_H
#define MSMVM_TEST_MODEL_UTIL_H

#include "msm_drv.h"

static inline struct drm_msm_vm_bind_op mkop(u32 kind, u64 iova, u64 range)
{
	struct drm_msm_vm_bind_op op = { .op = kind, .iova = iova, .range = range };

	if (kind == MSM_VM_BIND_OP_MAP)
		op.handle = 1;
	return op;
}

/* A user-managed VM without a scheduler thread: tests run the job steps themselves. */
static inline struct drm_gpuvm *test_vm(void)
{
	static struct drm_device dev = { .driver_name = "msm" };

	return msm_gem_vm_create(&dev, "test", 0, -1);
}

/* A job with these ops looked up (validated); NULL with *err set if lookup_op rejects one. */
static inline struct msm_vm_bind_job *test_job(struct drm_gpuvm *vm,
					       const struct drm_msm_vm_bind_op *ops, unsigned n,
					       int *err)
{
	struct msm_vm_bind_job *job = calloc(1, sizeof(*job) + n * sizeof(job->ops[0]));

	*err = 0;
	job->vm = vm;
	INIT_LIST_HEAD(&job->vm_ops);
	for (unsigned i = 0; i < n; i++) {
		int r = msm_vm_bind_lookup_op(job, &ops[i]);

		if (r) {
			*err = r;
			free(job);
			return NULL;
		}
	}
	return job;
}

/* The driver's count for these ops (the ioctl's own code path), or a negative errno. */
static inline long long model_count(const struct drm_msm_vm_bind_op *ops, unsigned n)
{
	struct drm_gpuvm *vm = test_vm();
	int err;
	struct msm_vm_bind_job *job = test_job(vm, ops, n, &err);
	long long count;

	if (!job) {
		msm_gem_vm_destroy(vm);
		return err;
	}
	vm_bind_count_ops(job, NULL, NULL);
	count = job->prealloc.count;
	free(job);
	msm_gem_vm_destroy(vm);
	return count;
}

#endif
