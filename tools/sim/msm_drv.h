/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The msm driver's VM_BIND objects, as a user-space model: the VM, file, context, queue and
 * scheduler around the job. The job, its ops and the page table's preallocation are the
 * driver's rules' (src/driver/msm_vm_bind.h, msm_mmu.h), included here.
 *
 * Every struct and field an observer reads has the driver's name (drm_file.driver_priv ->
 * msm_context.vm -> msm_gem_vm.prealloc_throttle.{wait,in_flight}, msm_vm_bind_job.{vm,
 * queue,prealloc,nr_ops,ops}, ...). Field ORDER and struct SIZES differ from the kernel's on
 * purpose, so that the toolkit's BPF programs only work here through CO-RE relocation, as
 * they must on real kernels whose layouts change between versions. Widths of the fields the
 * probes read are the kernel's (CO-RE relocates offsets, not load sizes).
 *
 * Fields marked "model:" do not exist in the driver: bookkeeping for the ground truth.
 */
#ifndef MSMVM_SIM_MSM_DRV_H
#define MSMVM_SIM_MSM_DRV_H

#include "linux_compat.h"
#include "msm_drm.h"
#include "msm_vm_bind.h"
#include "workload_gen.h"	/* msm_rng_*: the PRNG of workloads and fault injection */

#define MSM_MAX_QUEUES 16
#define MSM_MAX_HANDLES 8

struct drm_device {
	unsigned int num_files;
	const char *driver_name;	/* "msm" */
	void *dev_private;
};

struct drm_gem_object {
	u64 size;
	u32 handle;
	int refcount;
};

/* The driver reaches its per-open state through driver_priv; everything else is padding here. */
struct drm_file {
	u64 client_id;
	int authenticated;
	struct drm_device *minor_dev;
	char name[40];			/* model: the process's comm, like drm_file->client_name */
	struct drm_gem_object *objects[MSM_MAX_HANDLES];	/* handle table (idr in the kernel) */
	void *driver_priv;		/* struct msm_context * */
};

struct drm_sched_entity {
	int priority;
	struct drm_gpu_scheduler *rq_sched;
};

struct drm_sched_backend_ops {
	void *(*run_job)(struct drm_sched_job *sched_job);
	void (*free_job)(struct drm_sched_job *sched_job);
};

/* One scheduler per user-managed VM, credit_limit 1: jobs run one at a time, in order. */
struct drm_gpu_scheduler {
	const struct drm_sched_backend_ops *ops;
	unsigned int credit_limit;
	const char *name;		/* "msm-vm-bind" */
	pthread_mutex_t job_list_lock;
	pthread_cond_t job_scheduled;
	struct list_head pending_list;
	bool stopping;
	pthread_t thread;
	u64 job_id_count;
	unsigned int job_cost_us;	/* model: time to apply one job (backpressure) */
};

/* model: what one VM has done, kept by the driver functions at the points a probe sees. */
struct msm_vm_truth {
	u64 binds, ops, errors;
	u64 pages_counted, pages_used;
	u64 waits, interrupted_waits, wait_ns_total, wait_ns_max;
	s64 outstanding_pages;		/* counts of pushed jobs not yet freed */
	int peak_in_flight;
	int max_in_flight_at_pass;	/* highest in_flight a passing throttle check read */
};

struct msm_gem_vm {
	struct drm_gpuvm base;		/* first: ctx->vm points here */
	bool managed;
	bool unusable;
	int faults;
	struct msm_mmu *mmu;
	pthread_mutex_t mmu_lock;
	/* Kernel order is { wait, in_flight } after sched; swapped and moved here on purpose. */
	struct {
		atomic_t in_flight;
		wait_queue_head_t wait;
	} prealloc_throttle;
	struct drm_gpu_scheduler sched;
	int id;				/* model: index of the VM in its process */
	struct msm_vm_truth truth;	/* model */
};

struct msm_gpu_submitqueue {
	int faults;
	u32 flags;
	u32 id;
	struct msm_context *ctx;
	pthread_mutex_t lock;		/* held for the whole ioctl, throttle wait included */
	struct drm_sched_entity entity;
};

struct msm_context {
	struct list_head submitqueues;
	int queueid;
	bool userspace_managed_vm;	/* MSM_PARAM_EN_VM_BIND */
	u64 elapsed_ns;
	struct msm_gpu_submitqueue *queues[MSM_MAX_QUEUES];
	unsigned int nr_queues;
	struct drm_gpuvm *vm;
};

static inline struct msm_gem_vm *to_msm_vm(struct drm_gpuvm *gpuvm)
{
	return container_of(gpuvm, struct msm_gem_vm, base);
}

/* --- model knobs (module parameters / fault injection) --- */
struct msm_model_params {
	unsigned int prealloc_limit;	/* the throttle's 1024 */
	double interrupt_rate;		/* P(a signal arrives while a thread sleeps in the throttle) */
	double alloc_fail_rate;		/* P(kmem_cache_alloc_bulk fails) */
	unsigned int interrupt_delay_us;
	unsigned int op_cost_us;	/* scheduler time per op, on top of the job's cost */
	u64 sched_hang_at_ns;		/* schedulers stop running jobs from then (0: never) */
	u64 vm_size;			/* VA size of new VMs, from ADRENO_VM_START */
};
extern struct msm_model_params msm_model;

/* model: what the current VM_BIND call did, filled in by the driver functions, for the log. */
struct msm_call_record {
	u32 count;
	bool counted;			/* vm_bind_prealloc_count returned 0 */
	bool slept;
	u64 wait_ns;
	int in_flight_at_pass;
	int in_flight_after_add;
	u64 rng;			/* this thread's fault-injection PRNG state */
};
extern __thread struct msm_call_record msm_current_call;

/* msm_gem_vma.c */
int msm_ioctl_vm_bind(struct drm_device *dev, void *data, struct drm_file *file);
int vm_bind_prealloc_count(struct msm_vm_bind_job *job);
void *msm_vma_job_run(struct drm_sched_job *job);
void msm_vma_job_free(struct drm_sched_job *job);
struct drm_gpuvm *msm_gem_vm_create(struct drm_device *drm, const char *name, int id,
				    int job_cost_us);
void msm_gem_vm_close(struct drm_gpuvm *gpuvm);
void msm_gem_vm_destroy(struct drm_gpuvm *gpuvm);

struct msm_vm_bind_job *vm_bind_job_create(struct drm_device *dev, struct drm_file *file,
					   struct msm_gpu_submitqueue *queue, u32 nr_ops);

u64 msm_model_now_ns(void);	/* CLOCK_MONOTONIC, the clock the probes use */

/* model: JSON-lines event log (--log) */
extern int msm_model_log_fd;
extern bool msm_model_log_failed;
extern int msm_model_log_errno;		/* the failed write's errno; 0: it was short, */
extern u32 msm_model_log_short[2];	/* ... of [0] bytes written, [1] asked */
void msm_model_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* msm_sched.c */
int drm_sched_init(struct drm_gpu_scheduler *sched, const struct drm_sched_backend_ops *ops,
		   const char *name, unsigned int job_cost_us);
void drm_sched_job_init(struct drm_sched_job *job, struct drm_sched_entity *entity);
void drm_sched_entity_push_job(struct drm_sched_job *job);
void drm_sched_fini(struct drm_gpu_scheduler *sched);

#endif
