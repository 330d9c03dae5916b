/* SPDX-License-Identifier: MIT */
/*
 * The VM_BIND part of include/uapi/drm/msm_drm.h. This is user-space ABI, so unlike the
 * driver-internal structs (msm_vm_bind.h, msm_mmu.h) it keeps the kernel's exact layout (88
 * and 40 bytes): the model's "ioctl" takes the same argument blob a real one would.
 */
#ifndef MSMVM_DRIVER_MSM_DRM_H
#define MSMVM_DRIVER_MSM_DRM_H

#include "compat.h"	/* uint32_t, uint64_t, int32_t: <stdint.h>, or linux/types.h */

#define MSM_PARAM_EN_VM_BIND	0x16
#define MSM_SUBMITQUEUE_VM_BIND	0x00000002

#define MSM_VM_BIND_OP_UNMAP	0
#define MSM_VM_BIND_OP_MAP	1
#define MSM_VM_BIND_OP_MAP_NULL	2

#define MSM_VM_BIND_OP_DUMP	0x00000001
#define MSM_VM_BIND_OP_FLAGS	(MSM_VM_BIND_OP_DUMP)

#define MSM_VM_BIND_FENCE_FD_IN		0x00000001
#define MSM_VM_BIND_FENCE_FD_OUT	0x00000002
#define MSM_VM_BIND_FLAGS	(MSM_VM_BIND_FENCE_FD_IN | MSM_VM_BIND_FENCE_FD_OUT)

#define DRM_MSM_VM_BIND		0x0D
#define DRM_IOCTL_MSM_VM_BIND	0xC058644DU

struct drm_msm_vm_bind_op {
	uint32_t op;
	uint32_t handle;
	uint64_t obj_offset;
	uint64_t iova;
	uint64_t range;
	uint32_t flags;
	uint32_t pad;
};

struct drm_msm_vm_bind {
	uint32_t flags;
	uint32_t nr_ops;
	int32_t fence_fd;
	uint32_t queue_id;
	uint64_t in_syncobjs;
	uint64_t out_syncobjs;
	uint32_t nr_in_syncobjs;
	uint32_t nr_out_syncobjs;
	uint32_t syncobj_stride;
	uint32_t op_stride;	/* ignored by the driver: ops are read at sizeof(op) */
	union {
		struct drm_msm_vm_bind_op op;	/* nr_ops == 1 */
		uint64_t ops;			/* user pointer to nr_ops ops */
	};
};

_Static_assert(sizeof(struct drm_msm_vm_bind_op) == 40, "UAPI layout");
_Static_assert(sizeof(struct drm_msm_vm_bind) == 88, "UAPI layout");
_Static_assert(__builtin_offsetof(struct drm_msm_vm_bind, op) == 48, "UAPI layout");

#endif
