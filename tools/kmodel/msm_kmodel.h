/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel twin of msm's VM_BIND path (msm_kmodel.ko): the driver's objects around the job,
 * under the driver's names and with msm.ko's layout (msm_gem.h, msm_gpu.h, msm_drv.h), so that
 * the toolkit's kernel-flavor probes (kprobe/fentry, CO-RE on module BTF) attach and read here
 * exactly as on msm.ko. The job, its ops and the preallocation are the driver's rules'
 * (src/driver/msm_vm_bind.h, msm_mmu.h, compiled in as driver/).
 *
 * Fields and structs marked "model:" do not exist in the driver: the ground truth the twin
 * keeps (docs/kmodel.md), always placed after the driver's own fields.
 */
#ifndef MSM_KMODEL_H
#define MSM_KMODEL_H

#include <linux/atomic.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include <drm/drm_device.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gpuvm.h>
#include <drm/drm_mm.h>
#include <drm/gpu_scheduler.h>
#include <drm/msm_drm.h>	/* the kernel's uapi: SET_PARAM, GEM_NEW, SUBMITQUEUE_* */

#include "msm_drm.h"		/* src/driver: the VM_BIND uapi (v6.17), which 6.12 lacks */
#include "msm_mmu.h"
#include "msm_vm_bind.h"

/* 6.12's uapi predates MSM_SUBMITQUEUE_ALLOW_PREEMPT; msm accepts it with VM_BIND. */
#define MSM_SUBMITQUEUE_ALLOW_PREEMPT_ 0x00000001
#define MSM_KMODEL_SUBMITQUEUE_FLAGS (MSM_SUBMITQUEUE_ALLOW_PREEMPT_ | MSM_SUBMITQUEUE_VM_BIND)

/* module parameters (msm_kmodel_drv.c), read at each use */
extern unsigned int prealloc_limit;
extern unsigned long long vm_size;
extern unsigned int job_cost_us;
extern unsigned int op_cost_us;
extern unsigned int interrupt_ppm;
extern unsigned int interrupt_delay_us;
extern unsigned int alloc_fail_ppm;

struct msm_drm_private {
	struct drm_device drm;		/* first: devm_drm_dev_alloc() embeds it */
	struct platform_device *pdev;
};

/* model: what one VM has done, at the points a probe sees them (tools/sim's msm_vm_truth) */
struct msm_vm_truth {
	atomic64_t binds, ops, errors;
	atomic64_t pages_counted, pages_used;
	atomic64_t waits, interrupted_waits, wait_ns_total, wait_ns_max;
	atomic64_t outstanding_pages;	/* counts of pushed jobs not yet freed */
	atomic_t peak_in_flight;
	atomic_t max_in_flight_at_pass;	/* highest in_flight a passing throttle check read */
};

/* msm_gem.h's struct msm_gem_vm, in its order (v6.17), then the twin's own fields. */
struct msm_gem_vm {
	struct drm_gpuvm base;		/* first: ctx->vm points here */
	struct drm_gpu_scheduler sched;
	struct {
		wait_queue_head_t wait;
		atomic_t in_flight;
	} prealloc_throttle;
	struct drm_mm mm;		/* kernel-managed VMs only: unused here */
	struct msm_mmu *mmu;
	struct mutex mmu_lock;
	struct pid *pid;
	struct dma_fence *last_fence;
	void *log;
	u32 log_shift;
	u32 log_idx;
	int faults;
	bool managed;
	bool unusable;

	/* model: the ground truth and the VM's record (kept until the module is unloaded) */
	struct list_head node;		/* in msm_kmodel_vms, oldest first */
	u64 serial;
	pid_t tgid;
	char comm[TASK_COMM_LEN];
	bool open;			/* false once closed and every job freed */
	atomic_t nr_jobs;		/* pushed and not yet freed */
	wait_queue_head_t jobs_idle;
	u64 final_tables;		/* tables when the page table was destroyed */
	struct msm_vm_truth truth;
};

static inline struct msm_gem_vm *to_msm_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct msm_gem_vm, base);
}

/* msm_gpu.h's struct msm_gpu_submitqueue, its fields up to the entity. */
struct msm_gpu_submitqueue {
	u32 id;
	u32 flags;
	u32 ring_nr;
	int faults;
	u32 last_fence;
	struct msm_context *ctx;
	struct list_head node;
	struct idr fence_idr;		/* unused here */
	spinlock_t idr_lock;
	struct mutex lock;		/* held for the whole VM_BIND ioctl, throttle wait included */
	struct kref ref;
	struct drm_sched_entity *entity;
	bool closed;			/* model: SUBMITQUEUE_CLOSE'd; later ioctls see -ENOENT */
	struct drm_sched_entity _vm_bind_entity[];
};

/* msm_gpu.h's struct msm_context, its leading fields. */
struct msm_context {
	rwlock_t queuelock;
	struct list_head submitqueues;
	int queueid;
	bool closed;
	bool userspace_managed_vm;	/* MSM_PARAM_EN_VM_BIND */
	struct drm_gpuvm *vm;		/* created lazily by msm_context_vm() */
	struct kref ref;
	int seqno;
	u64 elapsed_ns;
	u64 cycles;

	struct mutex vm_lock;		/* model: serialises msm_context_vm()'s creation */
	pid_t tgid;			/* model: the opener's, for the VM's record */
	char comm[TASK_COMM_LEN];
};

/* msm_kmodel_vma.c */
int msm_ioctl_vm_bind(struct drm_device *dev, void *data, struct drm_file *file);
struct drm_gpuvm *msm_gem_vm_create(struct drm_device *drm, struct msm_context *ctx);
void msm_gem_vm_close(struct drm_gpuvm *gpuvm);
void msm_kmodel_vms_free(void);
int msm_kmodel_vms_show(struct seq_file *m, void *v);

/* msm_kmodel_drv.c */
struct drm_gpuvm *msm_context_vm(struct drm_device *dev, struct msm_context *ctx);
struct msm_gpu_submitqueue *msm_submitqueue_get(struct msm_context *ctx, u32 id);
void msm_submitqueue_put(struct msm_gpu_submitqueue *queue);

#endif
