// SPDX-License-Identifier: GPL-2.0
/*
 * msm_kmodel.ko: the kernel twin of the msm driver's VM_BIND path (docs/kmodel.md).
 *
 * A virtual DRM device with no hardware, as vgem is (a platform device, a render node), that
 * answers msm's uapi ioctls with msm's numbers: SET_PARAM (EN_VM_BIND only), GEM_NEW (objects
 * with no backing pages: handles for MAP ops), SUBMITQUEUE_NEW/CLOSE and VM_BIND
 * (msm_kmodel_vma.c). One VM per open file, reached as in msm: drm_file.driver_priv ->
 * struct msm_context -> vm.
 *
 * Lines tagged "model:" are the twin's own (parameters, fault injection, ground truth).
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>

#include "msm_kmodel.h"

/* model: the twin's knobs, writable at run time (/sys/module/msm_kmodel/parameters/) */
unsigned int prealloc_limit = 1024;
module_param(prealloc_limit, uint, 0644);
MODULE_PARM_DESC(prealloc_limit, "The VM_BIND throttle's limit, in pages (the driver's 1024)");

unsigned long long vm_size = MSM_VM_SIZE_DEFAULT;	/* 2^48 */
module_param(vm_size, ullong, 0644);
MODULE_PARM_DESC(vm_size, "VA size of VMs created from now on, from ADRENO_VM_START (4 GiB)");

unsigned int job_cost_us = 50;
module_param(job_cost_us, uint, 0644);
MODULE_PARM_DESC(job_cost_us, "Time msm_vma_job_run() takes per job, in us");

unsigned int op_cost_us;
module_param(op_cost_us, uint, 0644);
MODULE_PARM_DESC(op_cost_us, "... plus this per op, in us");

unsigned int interrupt_ppm;
module_param(interrupt_ppm, uint, 0644);
MODULE_PARM_DESC(interrupt_ppm, "Chance per million that a thread about to sleep in the throttle gets SIGURG");

unsigned int interrupt_delay_us = 200;
module_param(interrupt_delay_us, uint, 0644);
MODULE_PARM_DESC(interrupt_delay_us, "Delay of that signal, in us");

unsigned int alloc_fail_ppm;
module_param(alloc_fail_ppm, uint, 0644);
MODULE_PARM_DESC(alloc_fail_ppm, "Chance per million that kmem_cache_alloc_bulk() fails in prealloc_allocate");

/* msm_iommu.c's "msm-mmu-pt": every page-table page (compat_kernel.h) */
struct kmem_cache *msm_pt_cache;

static struct msm_drm_private *msm_kmodel_priv;
static struct dentry *msm_kmodel_debugfs;

/* --- GEM objects: a size and a handle, no pages --- */

static void msm_kmodel_gem_free(struct drm_gem_object *obj)
{
	drm_gem_object_release(obj);
	kfree(obj);
}

/* No dma-buf export: an exported object could outlive the module. */
static struct dma_buf *msm_kmodel_gem_export(struct drm_gem_object *obj, int flags)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static const struct drm_gem_object_funcs msm_kmodel_gem_funcs = {
	.free = msm_kmodel_gem_free,
	.export = msm_kmodel_gem_export,
};

static int msm_ioctl_gem_new(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct drm_msm_gem_new *args = data;
	struct drm_gem_object *obj;
	u64 size = PAGE_ALIGN(args->size);
	int ret;

	if (!size || size < args->size)
		return -EINVAL;

	obj = kzalloc(sizeof(*obj), GFP_KERNEL);
	if (!obj)
		return -ENOMEM;
	obj->funcs = &msm_kmodel_gem_funcs;
	drm_gem_private_object_init(dev, obj, size);

	ret = drm_gem_handle_create(file, obj, &args->handle);
	drm_gem_object_put(obj);	/* the handle holds the reference */
	return ret;
}

/* --- contexts and VMs --- */

/* The file's VM, created on first use once the file opted in to VM_BIND (msm_drv.c). */
struct drm_gpuvm *msm_context_vm(struct drm_device *dev, struct msm_context *ctx)
{
	struct drm_gpuvm *vm = smp_load_acquire(&ctx->vm);

	if (vm)
		return vm;

	mutex_lock(&ctx->vm_lock);
	vm = ctx->vm;
	if (!vm) {
		/* model: the twin has only user-managed (VM_BIND) VMs */
		if (!ctx->userspace_managed_vm)
			vm = ERR_PTR(-EINVAL);
		else
			vm = msm_gem_vm_create(dev, ctx);
		if (!IS_ERR(vm))
			smp_store_release(&ctx->vm, vm);
	}
	mutex_unlock(&ctx->vm_lock);
	return vm;
}

static int msm_ioctl_set_param(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct drm_msm_param *args = data;
	struct msm_context *ctx = file->driver_priv;
	int ret = 0;

	/* model: EN_VM_BIND is the only parameter; the pipe is not checked */
	if (args->param != MSM_PARAM_EN_VM_BIND || args->len)
		return -EINVAL;

	mutex_lock(&ctx->vm_lock);
	/* We can only switch to VM_BIND mode if the VM has not yet been created: */
	if (ctx->vm)
		ret = -EBUSY;
	else
		ctx->userspace_managed_vm = args->value;
	mutex_unlock(&ctx->vm_lock);
	return ret;
}

/* --- submitqueues (msm_submitqueue.c) --- */

static void msm_submitqueue_destroy(struct kref *kref)
{
	struct msm_gpu_submitqueue *queue = container_of(kref, struct msm_gpu_submitqueue, ref);

	mutex_destroy(&queue->lock);
	kfree(queue);
}

void msm_submitqueue_put(struct msm_gpu_submitqueue *queue)
{
	if (queue)
		kref_put(&queue->ref, msm_submitqueue_destroy);
}

struct msm_gpu_submitqueue *msm_submitqueue_get(struct msm_context *ctx, u32 id)
{
	struct msm_gpu_submitqueue *entry, *found = NULL;

	read_lock(&ctx->queuelock);
	list_for_each_entry(entry, &ctx->submitqueues, node) {
		if (entry->id == id) {
			kref_get(&entry->ref);
			found = entry;
			break;
		}
	}
	read_unlock(&ctx->queuelock);
	return found;
}

static int msm_submitqueue_create(struct drm_device *dev, struct msm_context *ctx, u32 prio,
				  u32 flags, u32 *id)
{
	struct msm_gpu_submitqueue *queue;
	int ret;

	if (flags & ~MSM_KMODEL_SUBMITQUEUE_FLAGS)
		return -EINVAL;

	if (flags & MSM_SUBMITQUEUE_VM_BIND) {
		struct drm_gpu_scheduler *sched;
		struct drm_gpuvm *vm;

		/* Not allowed for kernel managed VMs (ie. kernel allocs VA) */
		if (!ctx->userspace_managed_vm)
			return -EINVAL;
		vm = msm_context_vm(dev, ctx);
		if (IS_ERR(vm))
			return PTR_ERR(vm);

		queue = kzalloc(struct_size(queue, _vm_bind_entity, 1), GFP_KERNEL);
		if (!queue)
			return -ENOMEM;
		sched = &to_msm_vm(vm)->sched;
		queue->entity = &queue->_vm_bind_entity[0];
		ret = drm_sched_entity_init(queue->entity, DRM_SCHED_PRIORITY_KERNEL, &sched, 1,
					    NULL);
		if (ret) {
			kfree(queue);
			return ret;
		}
	} else {
		queue = kzalloc(sizeof(*queue), GFP_KERNEL);
		if (!queue)
			return -ENOMEM;
	}

	kref_init(&queue->ref);
	queue->flags = flags;
	queue->ctx = ctx;
	mutex_init(&queue->lock);
	spin_lock_init(&queue->idr_lock);

	write_lock(&ctx->queuelock);
	queue->id = ctx->queueid++;
	list_add_tail(&queue->node, &ctx->submitqueues);
	write_unlock(&ctx->queuelock);

	if (id)
		*id = queue->id;
	return 0;
}

/*
 * Off the context's list already: wait for the ioctl that holds the queue (if any), mark it
 * closed, destroy its entity (its jobs are run, or killed with an exiting process; each is
 * still freed by the scheduler), drop the list's reference.
 */
static void msm_submitqueue_close(struct msm_gpu_submitqueue *queue)
{
	mutex_lock(&queue->lock);
	queue->closed = true;
	mutex_unlock(&queue->lock);
	if (queue->entity)
		drm_sched_entity_destroy(queue->entity);
	msm_submitqueue_put(queue);
}

static int msm_ioctl_submitqueue_new(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct drm_msm_submitqueue *args = data;

	return msm_submitqueue_create(dev, file->driver_priv, args->prio, args->flags, &args->id);
}

static int msm_ioctl_submitqueue_close(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct msm_context *ctx = file->driver_priv;
	struct msm_gpu_submitqueue *entry, *found = NULL;
	u32 id = *(u32 *)data;

	/* No lock needed in close and there won't be any more user ioctls after this. */
	if (!id)
		return -ENOENT;	/* the default queue stays */

	write_lock(&ctx->queuelock);
	list_for_each_entry(entry, &ctx->submitqueues, node) {
		if (entry->id == id) {
			list_del(&entry->node);
			found = entry;
			break;
		}
	}
	write_unlock(&ctx->queuelock);
	if (!found)
		return -ENOENT;
	msm_submitqueue_close(found);
	return 0;
}

/* --- files --- */

static int msm_kmodel_open(struct drm_device *dev, struct drm_file *file)
{
	struct msm_context *ctx;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	rwlock_init(&ctx->queuelock);
	INIT_LIST_HEAD(&ctx->submitqueues);
	kref_init(&ctx->ref);
	mutex_init(&ctx->vm_lock);
	ctx->tgid = task_tgid_nr(current);	/* model: the opener, for the VM's record */
	get_task_comm(ctx->comm, current);
	file->driver_priv = ctx;

	/* the default queue, id 0, as msm_submitqueue_init() makes */
	ret = msm_submitqueue_create(dev, ctx, 0, 0, NULL);
	if (ret) {
		file->driver_priv = NULL;
		mutex_destroy(&ctx->vm_lock);
		kfree(ctx);
	}
	return ret;
}

static void msm_kmodel_postclose(struct drm_device *dev, struct drm_file *file)
{
	struct msm_context *ctx = file->driver_priv;
	struct msm_gpu_submitqueue *queue, *tmp;
	LIST_HEAD(queues);

	write_lock(&ctx->queuelock);
	ctx->closed = true;
	list_splice_init(&ctx->submitqueues, &queues);
	write_unlock(&ctx->queuelock);

	list_for_each_entry_safe(queue, tmp, &queues, node) {
		list_del(&queue->node);
		msm_submitqueue_close(queue);
	}

	if (ctx->vm)
		msm_gem_vm_close(ctx->vm);

	file->driver_priv = NULL;
	mutex_destroy(&ctx->vm_lock);
	kfree(ctx);
}

static const struct drm_ioctl_desc msm_ioctls[] = {
	DRM_IOCTL_DEF_DRV(MSM_SET_PARAM, msm_ioctl_set_param, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MSM_GEM_NEW, msm_ioctl_gem_new, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MSM_SUBMITQUEUE_NEW, msm_ioctl_submitqueue_new, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MSM_SUBMITQUEUE_CLOSE, msm_ioctl_submitqueue_close, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(MSM_VM_BIND, msm_ioctl_vm_bind, DRM_RENDER_ALLOW),
};

/* .owner = THIS_MODULE: an open file holds the module (rmmod is refused) */
DEFINE_DRM_GEM_FOPS(msm_kmodel_fops);

static const struct drm_driver msm_kmodel_driver = {
	.driver_features = DRIVER_GEM | DRIVER_RENDER,
	.open = msm_kmodel_open,
	.postclose = msm_kmodel_postclose,
	.ioctls = msm_ioctls,
	.num_ioctls = ARRAY_SIZE(msm_ioctls),
	.fops = &msm_kmodel_fops,
	.name = "msm_kmodel",
	.desc = "msm VM_BIND kernel twin",
	.date = "20250701",
	.major = 1,
	.minor = 13,
};

/* --- module --- */

DEFINE_SHOW_ATTRIBUTE(msm_kmodel_vms);

static int __init msm_kmodel_init(void)
{
	struct platform_device *pdev;
	int ret;

	msm_pt_cache = kmem_cache_create("msm-mmu-pt", SZ_4K, SZ_4K, 0, NULL);
	if (!msm_pt_cache)
		return -ENOMEM;

	pdev = platform_device_register_simple("msm_kmodel", -1, NULL, 0);
	if (IS_ERR(pdev)) {
		ret = PTR_ERR(pdev);
		goto out_cache;
	}

	/* no driver binds the platform device: a devres group holds the drm device (vgem) */
	if (!devres_open_group(&pdev->dev, NULL, GFP_KERNEL)) {
		ret = -ENOMEM;
		goto out_unregister;
	}

	msm_kmodel_priv = devm_drm_dev_alloc(&pdev->dev, &msm_kmodel_driver,
					     struct msm_drm_private, drm);
	if (IS_ERR(msm_kmodel_priv)) {
		ret = PTR_ERR(msm_kmodel_priv);
		goto out_devres;
	}
	msm_kmodel_priv->pdev = pdev;
	msm_kmodel_priv->drm.dev_private = msm_kmodel_priv;

	ret = drm_dev_register(&msm_kmodel_priv->drm, 0);
	if (ret)
		goto out_devres;

	msm_kmodel_debugfs = debugfs_create_dir("msm_kmodel", NULL);
	debugfs_create_file("vms", 0444, msm_kmodel_debugfs, NULL, &msm_kmodel_vms_fops);
	return 0;

out_devres:
	devres_release_group(&pdev->dev, NULL);
out_unregister:
	platform_device_unregister(pdev);
out_cache:
	kmem_cache_destroy(msm_pt_cache);
	return ret;
}

static void __exit msm_kmodel_exit(void)
{
	struct platform_device *pdev = msm_kmodel_priv->pdev;

	debugfs_remove_recursive(msm_kmodel_debugfs);
	drm_dev_unregister(&msm_kmodel_priv->drm);
	devres_release_group(&pdev->dev, NULL);
	platform_device_unregister(pdev);
	msm_kmodel_vms_free();
	kmem_cache_destroy(msm_pt_cache);	/* complains if a page-table page leaked */
}

module_init(msm_kmodel_init);
module_exit(msm_kmodel_exit);

MODULE_DESCRIPTION("msm VM_BIND kernel twin: msm's VM_BIND path on a virtual DRM device");
MODULE_LICENSE("GPL");
