/* SPDX-License-Identifier: MIT */
/*
 * The rest of the uapi msmvm-sim run --kernel needs besides VM_BIND (src/driver/msm_drm.h):
 * the msm ioctls that set a file up for VM_BIND, with msm's numbers and layouts
 * (include/uapi/drm/msm_drm.h), and DRM_IOCTL_VERSION (include/uapi/drm/drm.h) to tell the
 * twin's device from other DRM devices. Libdrm's headers are not required to build.
 */
#ifndef MSMVM_SIM_KMODEL_UAPI_H
#define MSMVM_SIM_KMODEL_UAPI_H

#include <linux/ioctl.h>
#include <stddef.h>
#include <stdint.h>

#include "msm_drm.h"

#define DRM_IOCTL_BASE		'd'
#define DRM_COMMAND_BASE	0x40

/* Native long and pointer sizes: the kernel's compat layer handles 32-bit callers. */
struct kmodel_drm_version {
	int version_major;
	int version_minor;
	int version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};
#define KMODEL_DRM_IOCTL_VERSION _IOWR(DRM_IOCTL_BASE, 0x00, struct kmodel_drm_version)

#ifndef MSM_PIPE_3D0
#define MSM_PIPE_3D0		0x10
#endif
#ifndef MSM_BO_WC
#define MSM_BO_WC		0x00020000
#endif

#ifndef DRM_MSM_SET_PARAM	/* unless msm_drm.h grows them */

#define DRM_MSM_SET_PARAM		0x01
#define DRM_MSM_GEM_NEW			0x02
#define DRM_MSM_SUBMITQUEUE_NEW		0x0A
#define DRM_MSM_SUBMITQUEUE_CLOSE	0x0B

struct drm_msm_param {
	uint32_t pipe;		/* MSM_PIPE_3D0: msm refuses others */
	uint32_t param;
	uint64_t value;
	uint32_t len;
	uint32_t pad;
};

struct drm_msm_gem_new {
	uint64_t size;
	uint32_t flags;		/* a cache mode is required: MSM_BO_WC */
	uint32_t handle;	/* out */
};

struct drm_msm_submitqueue {
	uint32_t flags;		/* MSM_SUBMITQUEUE_VM_BIND */
	uint32_t prio;
	uint32_t id;		/* out */
};

#define DRM_IOCTL_MSM_SET_PARAM \
	_IOW(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_MSM_SET_PARAM, struct drm_msm_param)
#define DRM_IOCTL_MSM_GEM_NEW \
	_IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_MSM_GEM_NEW, struct drm_msm_gem_new)
#define DRM_IOCTL_MSM_SUBMITQUEUE_NEW \
	_IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_MSM_SUBMITQUEUE_NEW, struct drm_msm_submitqueue)
#define DRM_IOCTL_MSM_SUBMITQUEUE_CLOSE \
	_IOW(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_MSM_SUBMITQUEUE_CLOSE, uint32_t)

_Static_assert(sizeof(struct drm_msm_param) == 24, "UAPI layout");
_Static_assert(sizeof(struct drm_msm_gem_new) == 16, "UAPI layout");
_Static_assert(sizeof(struct drm_msm_submitqueue) == 12, "UAPI layout");
#endif

_Static_assert(_IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_MSM_VM_BIND,
		     struct drm_msm_vm_bind) == DRM_IOCTL_MSM_VM_BIND, "msm's number");

#endif
