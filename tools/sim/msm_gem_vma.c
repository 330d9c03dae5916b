// SPDX-License-Identifier: GPL-2.0
/*
 * drivers/gpu/drm/msm/msm_gem_vma.c, the VM_BIND ioctl path, in user space.
 *
 * Same functions: the ioctl, the throttle (lock-free check of in_flight, sleep on the VM's
 * wait queue, then add: the check-then-add overshoot is kept), and msm_vma_job_run/free with
 * the accounting's two drift paths (an interrupted wait subtracts a count never added; a
 * failed bulk allocation zeroes the count after it was added). The rules that decide pages
 * (lookup_op, the merge rule and count, the page tables, what a job's run and free do) are
 * the driver's own code in src/driver/, which this file calls.
 *
 * Lines tagged "model:" keep the ground truth (struct msm_vm_truth); they read the same
 * driver state a probe would, at the same points, and never sleep.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "msm_drv.h"

struct msm_model_params msm_model = {
	.prealloc_limit = 1024,
	.interrupt_delay_us = 200,
	.vm_size = MSM_VM_SIZE_DEFAULT,
};
__thread struct msm_call_record msm_current_call;

u64 msm_model_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* the clock bpf_ktime_get_ns() reads */
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* model: the thread's voluntary context switches, i.e. task_struct.nvcsw. */
static long thread_nvcsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

static void truth_max_int(int *slot, int v)
{
	int cur = __atomic_load_n(slot, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(slot, &cur, v, false, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

static void truth_max_u64(u64 *slot, u64 v)
{
	u64 cur = __atomic_load_n(slot, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(slot, &cur, v, false, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

#define truth_add(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)

__probed int vm_bind_prealloc_count(struct msm_vm_bind_job *job)
{
	struct msm_gem_vm *vm = to_msm_vm(job->vm);
	struct msm_vm_truth *truth = &vm->truth;
	long nvcsw_in = thread_nvcsw();		/* model */
	u64 t_in = msm_model_now_ns();			/* model */
	int limit = (int)msm_model.prealloc_limit;
	int seen, after = 0;
	int ret = 0;

	vm_bind_count_ops(job, NULL, NULL);

	/*
	 * Throttle on pending VM_BIND jobs if too much pre-alloc memory is in flight:
	 * wait_event_interruptible(vm->prealloc_throttle.wait,
	 *			    atomic_read(&vm->prealloc_throttle.in_flight) <= 1024),
	 * expanded as include/linux/wait.h does.
	 */
	seen = atomic_read(&vm->prealloc_throttle.in_flight);
	if (!(seen <= limit)) {
		struct wait_queue_entry wq_entry;

		init_wait_entry(&wq_entry, 0);
		for (;;) {
			long intr = prepare_to_wait_event(&vm->prealloc_throttle.wait, &wq_entry,
							  TASK_INTERRUPTIBLE);

			seen = atomic_read(&vm->prealloc_throttle.in_flight);
			if (seen <= limit)
				break;
			if (intr) {
				ret = (int)intr;
				goto out;
			}
			/* model: fault injection, a signal arrives while we sleep */
			if (msm_rng_chance(&msm_current_call.rng, msm_model.interrupt_rate))
				signal_arm_interrupt(msm_model.interrupt_delay_us);
			schedule_on(&wq_entry);
			signal_disarm_interrupt();
		}
		finish_wait(&vm->prealloc_throttle.wait, &wq_entry);
	}

	/* Check and add are not atomic: jobs of several queues can pass together. */
	after = atomic_add_return((int)job->prealloc.count, &vm->prealloc_throttle.in_flight);

out:
	/* model: ground truth, at the points a probe on entry/return sees */
	{
		u64 wait_ns = msm_model_now_ns() - t_in;
		bool slept = thread_nvcsw() != nvcsw_in;

		msm_current_call.count = job->prealloc.count;
		msm_current_call.counted = ret == 0;
		msm_current_call.slept = slept;
		msm_current_call.wait_ns = slept ? wait_ns : 0;
		msm_current_call.in_flight_at_pass = ret == 0 ? seen : 0;
		msm_current_call.in_flight_after_add = after;
		if (slept) {
			truth_add(truth->waits, 1);
			truth_add(truth->wait_ns_total, wait_ns);
			truth_max_u64(&truth->wait_ns_max, wait_ns);
		}
		if (ret == -ERESTARTSYS)
			truth_add(truth->interrupted_waits, 1);
		if (ret == 0) {
			truth_add(truth->pages_counted, job->prealloc.count);
			truth_max_int(&truth->peak_in_flight, after);
			truth_max_int(&truth->max_in_flight_at_pass, seen);
		}
	}
	return ret;
}

/* The rules' way to the VM's page table (src/driver/msm_vm_bind.h). */
struct msm_mmu *msm_gem_vm_mmu(struct drm_gpuvm *gpuvm)
{
	return to_msm_vm(gpuvm)->mmu;
}

__probed void *msm_vma_job_run(struct drm_sched_job *_job)
{
	struct msm_vm_bind_job *job = to_msm_vm_bind_job(_job);
	struct msm_gem_vm *vm = to_msm_vm(job->vm);
	u64 cost_us;
	int ret = 0;

	/* model: time the hardware takes to apply the job, fixed plus per op */
	cost_us = vm->sched.job_cost_us + (u64)msm_model.op_cost_us * job->nr_ops;
	if (cost_us) {
		struct timespec ts = { (time_t)(cost_us / 1000000), (long)(cost_us % 1000000) * 1000 };

		nanosleep(&ts, NULL);
	}

	pthread_mutex_lock(&vm->mmu_lock);
	if (!vm->unusable)
		ret = msm_vm_bind_job_apply(vm->mmu, job);
	if (ret) {
		/* msm_gem_vm_unusable(): a failed map poisons the VM */
		fprintf(stderr, "msmvm-sim: vm %d unusable: map failed (%d)\n", vm->id, ret);
		vm->unusable = true;
	}
	pthread_mutex_unlock(&vm->mmu_lock);

	return NULL;	/* no fence: the job completes at once */
}

__probed void msm_vma_job_free(struct drm_sched_job *_job)
{
	struct msm_vm_bind_job *job = to_msm_vm_bind_job(_job);
	struct msm_gem_vm *vm = to_msm_vm(job->vm);
	bool pushed = _job->sched != NULL;	/* armed and pushed, vs. an ioctl error path */

	/* model: ground truth, read at entry as a probe would */
	truth_add(vm->truth.pages_used, job->prealloc.ptr);
	if (pushed)
		truth_add(vm->truth.outstanding_pages, -(s64)job->prealloc.count);
	msm_model_log("{\"ev\":\"free\",\"ts\":%" PRIu64 ",\"pid\":%d,\"tid\":%ld,\"vm\":%d,"
		      "\"count\":%u,\"ptr\":%u,\"pushed\":%d}",
		      msm_model_now_ns(), getpid(), syscall(SYS_gettid), vm->id,
		      job->prealloc.count, job->prealloc.ptr, pushed);

	msm_vm_bind_job_release_prealloc(vm->mmu, job, &vm->prealloc_throttle.in_flight);

	for (unsigned int i = 0; i < job->nr_ops; i++)	/* drm_gem_object_put() */
		if (job->bos_pinned && job->ops[i].op == MSM_VM_BIND_OP_MAP && job->ops[i].obj)
			__atomic_fetch_sub(&job->ops[i].obj->refcount, 1, __ATOMIC_RELAXED);

	wake_up(&vm->prealloc_throttle.wait);

	free(job);
}

static int vm_bind_job_lookup_ops(struct msm_vm_bind_job *job, struct drm_msm_vm_bind *args,
				  struct drm_file *file)
{
	int ret = 0;

	if (args->nr_ops == 1) {
		/* Single op case, the op is inlined: */
		ret = msm_vm_bind_lookup_op(job, &args->op);
	} else {
		const struct drm_msm_vm_bind_op *uops =
			(const void *)(uintptr_t)args->ops;	/* copy_from_user() at sizeof(op) */

		for (unsigned int i = 0; i < args->nr_ops; i++) {
			ret = msm_vm_bind_lookup_op(job, &uops[i]);
			if (ret)
				break;
		}
	}
	if (ret)
		return ret;

	/* Resolve handles to GEM objects (idr_find under file->table_lock). */
	for (unsigned int i = 0; i < job->nr_ops; i++) {
		struct msm_vm_bind_op *op = &job->ops[i];
		struct drm_gem_object *obj;
		u32 handle = op->handle;

		if (!handle) {
			op->obj = NULL;
			continue;
		}
		obj = handle < MSM_MAX_HANDLES ? file->objects[handle] : NULL;
		if (!obj || op->obj_offset > obj->size || op->range > obj->size - op->obj_offset) {
			/* invalid handle, or a range beyond the BO: drop the references taken */
			for (unsigned int j = 0; j < i; j++)
				if (job->ops[j].op == MSM_VM_BIND_OP_MAP && job->ops[j].obj)
					__atomic_fetch_sub(&job->ops[j].obj->refcount, 1,
							   __ATOMIC_RELAXED);
			return -EINVAL;
		}
		__atomic_fetch_add(&obj->refcount, 1, __ATOMIC_RELAXED);
		op->obj = obj;
	}
	job->bos_pinned = true;
	return 0;
}

struct msm_vm_bind_job *vm_bind_job_create(struct drm_device *dev, struct drm_file *file,
					   struct msm_gpu_submitqueue *queue, u32 nr_ops)
{
	struct msm_context *ctx = file->driver_priv;
	struct msm_vm_bind_job *job;

	(void)dev;
	job = calloc(1, sizeof(*job) + (size_t)nr_ops * sizeof(job->ops[0]));	/* kzalloc */
	if (!job)
		return NULL;
	drm_sched_job_init(&job->base, &queue->entity);
	job->vm = ctx->vm;
	job->queue = queue;
	INIT_LIST_HEAD(&job->vm_ops);
	return job;
}

static struct msm_gpu_submitqueue *msm_submitqueue_get(struct msm_context *ctx, u32 id)
{
	for (unsigned int i = 0; i < ctx->nr_queues; i++)
		if (ctx->queues[i]->id == id)
			return ctx->queues[i];
	return NULL;
}

/*
 * model: with --log and MSMVM_SIM_LOG_OPS=1 in the environment, one more log line per call,
 * at its entry (so before its "bind" line, on the same thread): {"ev":"ops", "pid", "tid",
 * "nr_ops", "ops":"map:0x...:0x... ..."}, the ops in `msmvm-sim count`'s syntax, as the
 * caller passed them. The ground truth of msmvm-trace's "ops" argument; off by default, so
 * readers of the log that know only "bind" and "free" lines see nothing new.
 */
static void msm_model_log_write(const char *line, size_t len);

static void msm_model_log_ops(const struct drm_msm_vm_bind *args)
{
	static int enabled = -1;
	const struct drm_msm_vm_bind_op *ops;
	int on = __atomic_load_n(&enabled, __ATOMIC_RELAXED);
	size_t cap, len;
	char *line;

	if (on < 0) {
		const char *v = getenv("MSMVM_SIM_LOG_OPS");

		on = v && *v && strcmp(v, "0");
		__atomic_store_n(&enabled, on, __ATOMIC_RELAXED);
	}
	if (!on || msm_model_log_fd < 0 || args->nr_ops > (1u << 16))
		return;
	ops = args->nr_ops == 1 ? &args->op : (const void *)(uintptr_t)args->ops;
	cap = 160 + (size_t)args->nr_ops * 56;
	line = malloc(cap);
	if (!line)
		return;
	len = (size_t)snprintf(line, cap, "{\"ev\":\"ops\",\"ts\":%" PRIu64 ",\"pid\":%d,"
			       "\"tid\":%ld,\"nr_ops\":%u,\"ops\":\"", msm_model_now_ns(), getpid(),
			       syscall(SYS_gettid), args->nr_ops);
	for (u32 i = 0; i < args->nr_ops; i++) {
		static const char *const kinds[] = { "unmap", "map", "null" };
		char kind[16];

		if (ops[i].op < 3)
			snprintf(kind, sizeof(kind), "%s", kinds[ops[i].op]);
		else
			snprintf(kind, sizeof(kind), "op%u", ops[i].op);
		len += (size_t)snprintf(line + len, cap - len, "%s%s:0x%" PRIx64 ":0x%" PRIx64,
					i ? " " : "", kind, ops[i].iova, ops[i].range);
	}
	len += (size_t)snprintf(line + len, cap - len, "\"}\n");
	msm_model_log_write(line, len);
	free(line);
}

__probed int msm_ioctl_vm_bind(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct msm_context *ctx = file->driver_priv;
	struct drm_msm_vm_bind *args = data;
	struct msm_gpu_submitqueue *queue;
	struct msm_vm_bind_job *job = NULL;
	struct msm_gem_vm *vm;
	int ret;

	msm_model_log_ops(args);	/* model: the ops as the probes read them at entry */
	if (!ctx->vm || !ctx->userspace_managed_vm)
		return -EINVAL;		/* VM_BIND needs MSM_PARAM_EN_VM_BIND */
	vm = to_msm_vm(ctx->vm);
	if (vm->unusable)
		return -EPIPE;
	if (args->flags & ~MSM_VM_BIND_FLAGS)
		return -EINVAL;

	queue = msm_submitqueue_get(ctx, args->queue_id);
	if (!queue)
		return -ENOENT;
	if (!(queue->flags & MSM_SUBMITQUEUE_VM_BIND))
		return -EINVAL;

	job = vm_bind_job_create(dev, file, queue, args->nr_ops);
	if (!job)
		return -ENOMEM;

	/* Held to the end of the ioctl, including during the throttle wait. */
	pthread_mutex_lock(&queue->lock);

	ret = vm_bind_job_lookup_ops(job, args, file);
	if (ret)
		goto out_unlock;

	ret = vm_bind_prealloc_count(job);
	if (ret)
		goto out_unlock;

	/* vm_bind_job_prepare(): allocate the pages, then (in the driver) sm_map/unmap steps */
	ret = vm->mmu->funcs->prealloc_allocate(vm->mmu, &job->prealloc);
	if (ret)
		goto out_unlock;

	/* drm_sched_job_arm() + drm_sched_entity_push_job() */
	truth_add(vm->truth.outstanding_pages, (s64)job->prealloc.count);
	drm_sched_entity_push_job(&job->base);
	job = NULL;

out_unlock:
	pthread_mutex_unlock(&queue->lock);
	/* Any error after vm_bind_job_create() frees the job right here. */
	if (ret && job)
		msm_vma_job_free(&job->base);
	return ret;
}

static const struct drm_sched_backend_ops msm_vm_bind_ops = {
	.run_job = msm_vma_job_run,
	.free_job = msm_vma_job_free,
};

/* model: kmem_cache_alloc_bulk() fails at --alloc-fail-rate, drawn from the thread's PRNG. */
static bool model_alloc_bulk_fails(void)
{
	/* Per-thread PRNG: which allocations fail depends on the seed, not on thread timing. */
	return msm_rng_chance(&msm_current_call.rng, msm_model.alloc_fail_rate);
}

static const struct msm_iommu_pagetable_hooks model_pagetable_hooks = {
	.alloc_bulk_fails = model_alloc_bulk_fails,
};

/* job_cost_us < 0: no scheduler thread (the calculator only counts). */
struct drm_gpuvm *msm_gem_vm_create(struct drm_device *drm, const char *name, int id,
				    int job_cost_us)
{
	struct msm_gem_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->base.name = name;
	vm->base.drm = drm;
	vm->base.mm_start = ADRENO_VM_START;
	vm->base.mm_range = msm_model.vm_size;
	vm->id = id;
	vm->mmu = msm_iommu_pagetable_create(&model_pagetable_hooks);
	if (!vm->mmu) {
		free(vm);
		return NULL;
	}
	pthread_mutex_init(&vm->mmu_lock, NULL);
	atomic_set(&vm->prealloc_throttle.in_flight, 0);
	init_waitqueue_head(&vm->prealloc_throttle.wait);
	if (job_cost_us >= 0 &&
	    drm_sched_init(&vm->sched, &msm_vm_bind_ops, "msm-vm-bind", (unsigned int)job_cost_us)) {
		vm->mmu->funcs->destroy(vm->mmu);
		free(vm);
		return NULL;
	}
	return &vm->base;
}

/* Stop the VM's scheduler once it has run and freed every queued job. */
void msm_gem_vm_close(struct drm_gpuvm *gpuvm)
{
	struct msm_gem_vm *vm = to_msm_vm(gpuvm);

	if (vm->sched.ops) {
		drm_sched_fini(&vm->sched);
		vm->sched.ops = NULL;
	}
}

void msm_gem_vm_destroy(struct drm_gpuvm *gpuvm)
{
	struct msm_gem_vm *vm = to_msm_vm(gpuvm);

	msm_gem_vm_close(gpuvm);
	vm->mmu->funcs->destroy(vm->mmu);
	free(vm);
}

/* model: JSON-lines event log (--log), one write() per line so processes can share it. */
int msm_model_log_fd = -1;
bool msm_model_log_failed;
int msm_model_log_errno;
u32 msm_model_log_short[2];

/*
 * A failed or short write (a full disk: the line is cut where the space ended) stops the
 * log rather than go on past a lost or torn line; the workload process hands the reason to
 * main(), which reports it and fails the run.
 */
static void msm_model_log_write(const char *line, size_t len)
{
	ssize_t n = write(msm_model_log_fd, line, len);

	if (n == (ssize_t)len)
		return;
	if (__atomic_exchange_n(&msm_model_log_failed, true, __ATOMIC_RELAXED))
		return;		/* another thread's failure came first */
	msm_model_log_errno = n < 0 ? errno : 0;
	msm_model_log_short[0] = n < 0 ? 0 : (u32)n;
	msm_model_log_short[1] = (u32)len;
	msm_model_log_fd = -1;
}

void msm_model_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (msm_model_log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		return;
	line[n++] = '\n';
	msm_model_log_write(line, (size_t)n);
}
