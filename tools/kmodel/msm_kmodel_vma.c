// SPDX-License-Identifier: GPL-2.0
/*
 * drivers/gpu/drm/msm/msm_gem_vma.c's VM_BIND path, in kernel form (the kernel twin).
 *
 * Same functions, same names, the kernel's own primitives: msm_ioctl_vm_bind(), the throttle
 * in vm_bind_prealloc_count() (wait_event_interruptible on the VM's wait queue, then
 * atomic_add: the check-then-add overshoot is kept), and msm_vma_job_run/free as the run_job
 * and free_job of a real drm_sched scheduler per VM ("msm-vm-bind", credit limit 1), with the
 * accounting's two drift paths (an interrupted wait makes the ioctl free a job whose count was
 * never added; a failed bulk allocation zeroes a count already added). The rules that decide
 * pages (lookup_op, the merge rule and count, the page tables, what run and free do) are the
 * driver's own code in src/driver/, compiled in.
 *
 * Lines tagged "model:" keep the ground truth (struct msm_vm_truth, debugfs "vms"); they read
 * the driver state a probe would, at the points a probe sees, as tools/sim/msm_gem_vma.c
 * does, and never sleep.
 */
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/overflow.h>
#include <linux/pid.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "msm_kmodel.h"

/* model: every VM since the module was loaded, oldest first (debugfs "vms") */
static LIST_HEAD(msm_kmodel_vms);
static DEFINE_MUTEX(msm_kmodel_vms_lock);
static u64 msm_kmodel_serial;	/* under msm_kmodel_vms_lock */

/* model: fault injection, a chance in a million */
static bool chance_ppm(unsigned int ppm)
{
	return ppm && get_random_u32_below(1000000) < ppm;
}

static void truth_max_int(atomic_t *slot, int v)	/* model */
{
	int cur = atomic_read(slot);

	while (v > cur && !atomic_try_cmpxchg(slot, &cur, v))
		;
}

static void truth_max_s64(atomic64_t *slot, s64 v)	/* model */
{
	s64 cur = atomic64_read(slot);

	while (v > cur && !atomic64_try_cmpxchg(slot, &cur, v))
		;
}

/*
 * model: interrupt_ppm's signal. A thread about to sleep in the throttle may get SIGURG after
 * interrupt_delay_us, sent to the thread from an hrtimer on its stack, cancelled after the
 * wait. A process with no handler for SIGURG ignores it (the signal is discarded on sending),
 * so only processes that asked for it see interrupted waits.
 */
struct throttle_interrupt {
	struct hrtimer timer;
	struct task_struct *task;
};

static enum hrtimer_restart throttle_interrupt_fire(struct hrtimer *timer)
{
	struct throttle_interrupt *ti = container_of(timer, struct throttle_interrupt, timer);

	send_sig(SIGURG, ti->task, 1);
	return HRTIMER_NORESTART;
}

static __probed int vm_bind_prealloc_count(struct msm_vm_bind_job *job)
{
	struct msm_gem_vm *vm = to_msm_vm(job->vm);
	struct msm_vm_truth *truth = &vm->truth;	/* model */
	unsigned long nvcsw_in = current->nvcsw;	/* model */
	u64 t_in = ktime_get_ns();			/* model: the clock bpf_ktime_get_ns() reads */
	int limit = (int)min_t(unsigned int, READ_ONCE(prealloc_limit), INT_MAX);
	struct throttle_interrupt ti;			/* model */
	bool armed = false;				/* model */
	int seen = 0, after = 0;
	int ret;

	vm_bind_count_ops(job, NULL, NULL);

	/* model: fault injection, only for a thread that is about to sleep */
	if (atomic_read(&vm->prealloc_throttle.in_flight) > limit &&
	    chance_ppm(READ_ONCE(interrupt_ppm))) {
		hrtimer_init_on_stack(&ti.timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
		ti.timer.function = throttle_interrupt_fire;
		ti.task = current;
		hrtimer_start(&ti.timer, ns_to_ktime((u64)READ_ONCE(interrupt_delay_us) * NSEC_PER_USEC),
			      HRTIMER_MODE_REL);
		armed = true;
	}

	/*
	 * Now that we know the needed amount to pre-alloc, throttle on pending VM_BIND jobs if
	 * we already have too much pre-alloc memory in flight (the driver's 1024 is the
	 * prealloc_limit parameter; `seen` keeps what the passing check read, for the truth).
	 */
	ret = wait_event_interruptible(vm->prealloc_throttle.wait,
				       ({ seen = atomic_read(&vm->prealloc_throttle.in_flight);
					  seen <= limit; }));

	if (armed) {	/* model */
		hrtimer_cancel(&ti.timer);
		destroy_hrtimer_on_stack(&ti.timer);
	}

	/* Check and add are not atomic: jobs of several queues can pass together. */
	if (!ret)
		after = atomic_add_return((int)job->prealloc.count,
					  &vm->prealloc_throttle.in_flight);

	/* model: ground truth, at the points a probe on entry/return sees */
	{
		u64 wait_ns = ktime_get_ns() - t_in;

		if (current->nvcsw != nvcsw_in) {
			atomic64_inc(&truth->waits);
			atomic64_add(wait_ns, &truth->wait_ns_total);
			truth_max_s64(&truth->wait_ns_max, wait_ns);
		}
		if (ret == -ERESTARTSYS)
			atomic64_inc(&truth->interrupted_waits);
		if (ret == 0) {
			atomic64_add(job->prealloc.count, &truth->pages_counted);
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

/* model: what the hardware takes to apply a job */
static void msm_kmodel_sleep_us(u64 us)
{
	if (!us)
		return;
	if (us < 20000)
		usleep_range(us, us + us / 8 + 1);
	else
		msleep(min_t(u64, DIV_ROUND_UP_ULL(us, 1000), UINT_MAX));
}

static __probed struct dma_fence *msm_vma_job_run(struct drm_sched_job *_job)
{
	struct msm_vm_bind_job *job = to_msm_vm_bind_job(_job);
	struct msm_gem_vm *vm = to_msm_vm(job->vm);
	int ret;

	/* model: the job's cost, fixed plus per op */
	msm_kmodel_sleep_us(READ_ONCE(job_cost_us) + (u64)READ_ONCE(op_cost_us) * job->nr_ops);

	mutex_lock(&vm->mmu_lock);
	ret = vm->unusable ? -EINVAL : msm_vm_bind_job_apply(vm->mmu, job);
	mutex_unlock(&vm->mmu_lock);

	/*
	 * We failed to perform at least _some_ of the pgtable updates, so now the VM is in an
	 * undefined state (msm_gem_vm_unusable()).
	 */
	if (ret && !vm->unusable) {
		pr_warn("msm_kmodel: vm %llu unusable: map failed (%d)\n", vm->serial, ret);
		vm->unusable = true;
	}

	/* VM_BIND ops are synchronous, so no fence to wait on: */
	return NULL;
}

static __probed void msm_vma_job_free(struct drm_sched_job *_job)
{
	struct msm_vm_bind_job *job = to_msm_vm_bind_job(_job);
	struct msm_gem_vm *vm = to_msm_vm(job->vm);
	bool pushed = _job->sched != NULL;	/* model: armed and pushed, vs. an ioctl error path */

	/* model: ground truth, read at entry as a probe would */
	atomic64_add(job->prealloc.ptr, &vm->truth.pages_used);
	if (pushed)
		atomic64_sub(job->prealloc.count, &vm->truth.outstanding_pages);

	msm_vm_bind_job_release_prealloc(vm->mmu, job, &vm->prealloc_throttle.in_flight);

	drm_sched_job_cleanup(_job);

	if (job->bos_pinned)
		for (unsigned int i = 0; i < job->nr_ops; i++)
			if (job->ops[i].op == MSM_VM_BIND_OP_MAP && job->ops[i].obj)
				drm_gem_object_put(job->ops[i].obj);

	msm_submitqueue_put(job->queue);
	dma_fence_put(job->fence);

	wake_up(&vm->prealloc_throttle.wait);

	kfree(job);

	/* model: the VM's close waits for every pushed job to be freed */
	if (pushed && atomic_dec_and_test(&vm->nr_jobs))
		wake_up(&vm->jobs_idle);
}

static const struct drm_sched_backend_ops msm_vm_bind_ops = {
	.run_job = msm_vma_job_run,
	.free_job = msm_vma_job_free,
};

/* Copy and validate the ops (lookup_op), then resolve handles to GEM objects. */
static int vm_bind_job_lookup_ops(struct msm_vm_bind_job *job, struct drm_msm_vm_bind *args,
				  struct drm_file *file)
{
	int ret = 0;

	if (args->nr_ops == 1) {
		/* Single op case, the op is inlined: */
		ret = msm_vm_bind_lookup_op(job, &args->op);
	} else {
		for (unsigned int i = 0; i < args->nr_ops; i++) {
			struct drm_msm_vm_bind_op op;
			void __user *userptr = u64_to_user_ptr(args->ops + (u64)i * sizeof(op));

			if (copy_from_user(&op, userptr, sizeof(op))) {
				ret = -EFAULT;
				break;
			}
			ret = msm_vm_bind_lookup_op(job, &op);
			if (ret)
				break;
		}
	}
	if (ret) {
		/* the unions hold handles, not objects: nothing to put at free */
		job->nr_ops = 0;
		return ret;
	}

	/* Bulk lookup under one table_lock, as the driver does (idr_find). */
	spin_lock(&file->table_lock);
	for (unsigned int i = 0; i < job->nr_ops; i++) {
		struct msm_vm_bind_op *op = &job->ops[i];
		struct drm_gem_object *obj;

		if (!op->handle) {
			op->obj = NULL;
			continue;
		}
		obj = idr_find(&file->object_idr, op->handle);
		/* the BO range check, overflow-safe (tools/sim's) */
		if (!obj || op->obj_offset > obj->size || op->range > obj->size - op->obj_offset) {
			ret = -EINVAL;
			for (unsigned int j = 0; j < i; j++)
				if (job->ops[j].obj)
					drm_gem_object_put(job->ops[j].obj);
			break;
		}
		drm_gem_object_get(obj);
		op->obj = obj;
	}
	spin_unlock(&file->table_lock);
	if (ret) {
		job->nr_ops = 0;
		return ret;
	}
	job->bos_pinned = true;
	return 0;
}

static struct msm_vm_bind_job *vm_bind_job_create(struct drm_device *dev, struct drm_file *file,
						  struct msm_gpu_submitqueue *queue, u32 nr_ops)
{
	struct msm_vm_bind_job *job;
	int ret;

	job = kzalloc(struct_size(job, ops, nr_ops), GFP_KERNEL | __GFP_NOWARN);
	if (!job)
		return ERR_PTR(-ENOMEM);

	ret = drm_sched_job_init(&job->base, queue->entity, 1, queue, file->client_id);
	if (ret) {
		kfree(job);
		return ERR_PTR(ret);
	}

	job->vm = msm_context_vm(dev, queue->ctx);
	job->queue = queue;
	INIT_LIST_HEAD(&job->vm_ops);

	return job;
}

__probed int msm_ioctl_vm_bind(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct drm_msm_vm_bind *args = data;
	struct msm_context *ctx = file->driver_priv;
	/* model: the VM a probe at entry reads (file->driver_priv->vm), which the truth is of */
	struct drm_gpuvm *truth_gpuvm = smp_load_acquire(&ctx->vm);
	struct msm_vm_bind_job *job = NULL;
	struct msm_gpu_submitqueue *queue;
	struct drm_gpuvm *gpuvm;
	struct msm_gem_vm *vm;
	int ret;

	/*
	 * Technically, you cannot create a VM_BIND submitqueue in the first place, if you
	 * haven't opted in to VM_BIND context. But it is cleaner / less confusing, to check
	 * this case directly.
	 */
	if (!ctx->userspace_managed_vm) {
		ret = -EINVAL;
		goto out_truth;
	}
	gpuvm = msm_context_vm(dev, ctx);
	if (IS_ERR(gpuvm)) {
		ret = PTR_ERR(gpuvm);
		goto out_truth;
	}
	vm = to_msm_vm(gpuvm);

	if (vm->unusable) {
		ret = -EPIPE;	/* context is unusable */
		goto out_truth;
	}
	if (args->flags & ~MSM_VM_BIND_FLAGS) {
		ret = -EINVAL;
		goto out_truth;
	}

	queue = msm_submitqueue_get(ctx, args->queue_id);
	if (!queue) {
		ret = -ENOENT;
		goto out_truth;
	}
	if (!(queue->flags & MSM_SUBMITQUEUE_VM_BIND)) {
		msm_submitqueue_put(queue);
		ret = -EINVAL;	/* invalid queue type */
		goto out_truth;
	}

	job = vm_bind_job_create(dev, file, queue, args->nr_ops);
	if (IS_ERR(job)) {
		/* the job has not taken ownership of the queue yet */
		msm_submitqueue_put(queue);
		ret = PTR_ERR(job);
		job = NULL;
		goto out_truth;
	}

	/* Held to the end of the ioctl, including during the throttle wait. */
	ret = mutex_lock_interruptible(&queue->lock);
	if (ret)
		goto out_post_unlock;

	if (queue->closed) {	/* model: closed while we waited for its lock */
		ret = -ENOENT;
		goto out_unlock;
	}

	ret = vm_bind_job_lookup_ops(job, args, file);
	if (ret)
		goto out_unlock;

	ret = vm_bind_prealloc_count(job);
	if (ret)
		goto out_unlock;

	/* vm_bind_job_prepare(): the pages, then (in the driver) the sm_map/unmap steps */
	ret = vm->mmu->funcs->prealloc_allocate(vm->mmu, &job->prealloc);
	if (ret)
		goto out_unlock;

	drm_sched_job_arm(&job->base);
	job->fence = dma_fence_get(&job->base.s_fence->finished);

	/* model: the job is pushed; it is freed on the scheduler from now on */
	atomic64_add(job->prealloc.count, &vm->truth.outstanding_pages);
	atomic_inc(&vm->nr_jobs);

	drm_sched_entity_push_job(&job->base);
	job = NULL;

out_unlock:
	mutex_unlock(&queue->lock);
out_post_unlock:
	/* Any error after vm_bind_job_create() frees the job right here. */
	if (ret && job)
		msm_vma_job_free(&job->base);
out_truth:
	/* model: ground truth of the call, on the VM a probe at entry saw */
	if (truth_gpuvm) {
		struct msm_vm_truth *truth = &to_msm_vm(truth_gpuvm)->truth;

		atomic64_inc(&truth->binds);
		atomic64_add(args->nr_ops, &truth->ops);
		if (ret < 0)
			atomic64_inc(&truth->errors);
	}
	return ret;
}

/* model: kmem_cache_alloc_bulk() fails at alloc_fail_ppm (the upward drift) */
static bool kmodel_alloc_bulk_fails(void)
{
	return chance_ppm(READ_ONCE(alloc_fail_ppm));
}

static const struct msm_iommu_pagetable_hooks kmodel_pagetable_hooks = {
	.alloc_bulk_fails = kmodel_alloc_bulk_fails,
};

/*
 * A user-managed VM: its page table, its scheduler and throttle, over
 * [ADRENO_VM_START, ADRENO_VM_START + vm_size) (a6xx_create_private_vm()). The drm_gpuvm's
 * VA tree is not used (the twin keeps no VMAs), so it is not drm_gpuvm_init()'ed: the twin
 * does not need drm_gpuvm.ko; the fields the rules read are set here.
 */
struct drm_gpuvm *msm_gem_vm_create(struct drm_device *drm, struct msm_context *ctx)
{
	struct drm_sched_init_args args = {
		.ops = &msm_vm_bind_ops,
		.num_rqs = 1,
		.credit_limit = 1,
		.timeout = MAX_SCHEDULE_TIMEOUT,
		.name = "msm-vm-bind",
		.dev = drm->dev,
	};
	struct msm_gem_vm *vm;
	int ret;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return ERR_PTR(-ENOMEM);

	vm->mmu = msm_iommu_pagetable_create(&kmodel_pagetable_hooks);
	if (!vm->mmu) {
		kfree(vm);
		return ERR_PTR(-ENOMEM);
	}

	ret = drm_sched_init(&vm->sched, &args);
	if (ret) {
		vm->mmu->funcs->destroy(vm->mmu);
		kfree(vm);
		return ERR_PTR(ret);
	}
	init_waitqueue_head(&vm->prealloc_throttle.wait);
	atomic_set(&vm->prealloc_throttle.in_flight, 0);

	vm->base.name = "gpu";
	vm->base.drm = drm;
	vm->base.mm_start = ADRENO_VM_START;
	vm->base.mm_range = READ_ONCE(vm_size);
	mutex_init(&vm->mmu_lock);
	vm->pid = get_pid(task_pid(current));
	vm->managed = false;

	/* model: the VM's record */
	vm->tgid = ctx->tgid;
	memcpy(vm->comm, ctx->comm, sizeof(vm->comm));
	vm->open = true;
	atomic_set(&vm->nr_jobs, 0);
	init_waitqueue_head(&vm->jobs_idle);
	mutex_lock(&msm_kmodel_vms_lock);
	vm->serial = ++msm_kmodel_serial;
	list_add_tail(&vm->node, &msm_kmodel_vms);
	mutex_unlock(&msm_kmodel_vms_lock);

	return &vm->base;
}

/*
 * The file is closed and its queues' entities are destroyed: wait until every job of the VM
 * has been freed (run, or killed with the process), then stop the scheduler. The figures are
 * final from here (open=0); the record stays until the module is unloaded.
 */
void msm_gem_vm_close(struct drm_gpuvm *gpuvm)
{
	struct msm_gem_vm *vm = to_msm_vm(gpuvm);
	struct msm_mmu *mmu;

	wait_event(vm->jobs_idle, atomic_read(&vm->nr_jobs) == 0);
	drm_sched_fini(&vm->sched);

	mutex_lock(&msm_kmodel_vms_lock);
	mmu = vm->mmu;
	vm->final_tables = msm_iommu_pagetable_tables(mmu);
	vm->mmu = NULL;
	vm->open = false;
	mutex_unlock(&msm_kmodel_vms_lock);

	mmu->funcs->destroy(mmu);
	put_pid(vm->pid);
	vm->pid = NULL;
	mutex_destroy(&vm->mmu_lock);
}

/* At module exit: every file is closed, so every VM is closed. */
void msm_kmodel_vms_free(void)
{
	struct msm_gem_vm *vm, *tmp;

	mutex_lock(&msm_kmodel_vms_lock);
	list_for_each_entry_safe(vm, tmp, &msm_kmodel_vms, node) {
		list_del(&vm->node);
		WARN_ON(vm->open);
		kfree(vm);
	}
	mutex_unlock(&msm_kmodel_vms_lock);
}

/* /sys/kernel/debug/msm_kmodel/vms: one line per VM (docs/kmodel.md). */
int msm_kmodel_vms_show(struct seq_file *m, void *unused)
{
	struct msm_gem_vm *vm;

	mutex_lock(&msm_kmodel_vms_lock);
	list_for_each_entry(vm, &msm_kmodel_vms, node) {
		struct msm_vm_truth *t = &vm->truth;
		char comm[TASK_COMM_LEN];
		u64 tables = vm->mmu ? msm_iommu_pagetable_tables(vm->mmu) : vm->final_tables;

		/* one token: key=value pairs are space-separated */
		strscpy(comm, vm->comm, sizeof(comm));
		for (char *c = comm; *c; c++)
			if (*c <= ' ' || *c == '=' || *c > '~')
				*c = '_';
		seq_printf(m, "serial=%llu pid=%d comm=%s addr=0x%px open=%d", vm->serial, vm->tgid,
			   comm[0] ? comm : "_", vm, vm->open);
		seq_printf(m, " binds=%lld ops=%lld errors=%lld pages_counted=%lld pages_used=%lld",
			   atomic64_read(&t->binds), atomic64_read(&t->ops),
			   atomic64_read(&t->errors), atomic64_read(&t->pages_counted),
			   atomic64_read(&t->pages_used));
		seq_printf(m, " waits=%lld interrupted_waits=%lld wait_ns_total=%lld wait_ns_max=%lld",
			   atomic64_read(&t->waits), atomic64_read(&t->interrupted_waits),
			   atomic64_read(&t->wait_ns_total), atomic64_read(&t->wait_ns_max));
		seq_printf(m, " outstanding_pages=%lld peak_in_flight=%d max_in_flight_at_pass=%d",
			   atomic64_read(&t->outstanding_pages), atomic_read(&t->peak_in_flight),
			   atomic_read(&t->max_in_flight_at_pass));
		seq_printf(m, " in_flight=%d tables=%llu wedged=0\n",
			   atomic_read(&vm->prealloc_throttle.in_flight), tables);
	}
	mutex_unlock(&msm_kmodel_vms_lock);
	return 0;
}
