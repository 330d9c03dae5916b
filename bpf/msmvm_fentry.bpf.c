// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel flavor attached through BTF trampolines (msmvm_kernel_fentry_{arm64,x86}):
 * fentry and fexit on the driver's module and on the kernel's wait functions. The same
 * handlers and reads (CO-RE, kernel memory) as the kprobe wrapper; only the unpacking
 * differs. Section names carry no target: libmsmvm sets each program's target from its
 * probe table (bpf_program__set_attach_target) before load, so a program's arguments here
 * are the target function's, in its order, and an fexit's return value comes after all
 * of them: the lists below are the functions' full signatures.
 *
 * An fexit runs after the function returned: msm_vma_job_free() has freed the job by
 * then, so its fexit reads nothing through the job (the entry kept what it needs).
 */
#define MSMVM_DRIVER_KERNEL
#include "logic.bpf.h"

/* int msm_ioctl_vm_bind(struct drm_device *dev, void *data, struct drm_file *file) */
SEC("fentry") int BPF_PROG(ioctl_vm_bind_entry, void *dev, void *data, struct drm_file *file)
{
	return handle_ioctl_entry(data, file);
}

SEC("fexit") int BPF_PROG(ioctl_vm_bind_return, void *dev, void *data, struct drm_file *file,
			  int ret)
{
	return handle_ioctl_return(ret);
}

/* int vm_bind_prealloc_count(struct msm_vm_bind_job *job) */
SEC("fentry") int BPF_PROG(prealloc_count_entry, struct msm_vm_bind_job *job)
{
	return handle_prealloc_count_entry(job);
}

/* the job is the entry's (handlers take the return value alone, as from a kretprobe) */
SEC("fexit") int BPF_PROG(prealloc_count_return, struct msm_vm_bind_job *job, int ret)
{
	return handle_prealloc_count_return(ret);
}

/* long prepare_to_wait_event(struct wait_queue_head *, struct wait_queue_entry *, int) */
SEC("fentry") int BPF_PROG(prepare_to_wait_event_entry, struct wait_queue_head *wq_head)
{
	return handle_prepare_to_wait_entry(wq_head);
}

SEC("fexit") int BPF_PROG(prepare_to_wait_event_return, struct wait_queue_head *wq_head,
			  void *wq_entry, int state, long ret)
{
	return handle_prepare_to_wait_return(ret);
}

/* void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry) */
SEC("fentry") int BPF_PROG(finish_wait_entry, struct wait_queue_head *wq_head)
{
	return handle_finish_wait_entry(wq_head);
}

/* int msm_iommu_pagetable_prealloc_allocate(struct msm_mmu *, struct msm_mmu_prealloc *) */
SEC("fentry") int BPF_PROG(prealloc_allocate_entry, void *mmu, struct msm_mmu_prealloc *p)
{
	return handle_prealloc_allocate_entry(p);
}

/* void msm_vma_job_free(struct drm_sched_job *job): the job's base is its first member */
SEC("fentry") int BPF_PROG(job_free_entry, struct msm_vm_bind_job *job)
{
	return handle_job_free_entry(job);
}

/* the job is freed: nothing is read through it here */
SEC("fexit") int BPF_PROG(job_free_return, void *job)
{
	return handle_job_free_return();
}

SEC("raw_tp") int report_layout(void *ctx)
{
	return handle_report_layout();
}
