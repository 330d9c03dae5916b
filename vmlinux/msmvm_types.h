/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel types msmvm's BPF programs read, reduced to the fields they read.
 *
 * Every struct is preserve_access_index, so each access is a CO-RE relocation resolved at
 * load time against the target's BTF: the running kernel (vmlinux + /sys/kernel/btf/msm),
 * a distribution kernel's BTF file (--btf), or the model's BTF. Layouts here are not the
 * kernel's and need not be; only names and field names matter. A smaller header than a
 * generated vmlinux.h, and one that serves both arm64 and the host architecture.
 */
#ifndef MSMVM_VMLINUX_TYPES_H
#define MSMVM_VMLINUX_TYPES_H

#define __VMLINUX_H__	/* bpf_tracing.h: use the kernel's pt_regs field names */

#include <linux/types.h>
#include <linux/bpf.h>	/* map types and flags (UAPI) */

#define __core __attribute__((preserve_access_index))

typedef __u8 u8;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
typedef _Bool bool;
#define true 1
#define false 0

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __core;
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	u64 regs[31];
	u64 sp;
	u64 pc;
	u64 pstate;
} __core;
struct pt_regs {
	struct user_pt_regs user_regs;
} __core;
#else
#error "msmvm: unsupported target architecture (x86 and arm64 are built)"
#endif

struct task_struct {
	unsigned long nvcsw;	/* voluntary context switches: sleeping in the throttle adds one */
	int pid;
	int tgid;
} __core;

typedef struct {
	int counter;
} atomic_t;

struct wait_queue_head {
	int lock;
} __core;

struct drm_gpuvm {
	const char *name;
} __core;

struct drm_file {
	void *driver_priv;	/* struct msm_context * */
} __core;

struct msm_context {
	struct drm_gpuvm *vm;	/* a struct msm_gem_vm, whose first member is base */
} __core;

struct msm_gem_vm {
	struct drm_gpuvm base;
	struct {
		struct wait_queue_head wait;
		atomic_t in_flight;
	} prealloc_throttle;
} __core;

struct msm_mmu_prealloc {
	u32 count;
	u32 ptr;
	void **pages;
} __core;

struct drm_sched_job {
	u64 id;
} __core;

struct msm_gpu_submitqueue {
	u32 id;
} __core;

struct msm_vm_bind_job {
	struct drm_sched_job base;
	struct drm_gpuvm *vm;
	struct msm_gpu_submitqueue *queue;
	struct msm_mmu_prealloc prealloc;
	unsigned int nr_ops;
} __core;

/*
 * UAPI: a fixed ABI, read at fixed offsets (no CO-RE: not every kernel's BTF carries it).
 */
struct msmvm_uapi_vm_bind {
	u32 flags;
	u32 nr_ops;
	s32 fence_fd;
	u32 queue_id;
};

#endif
