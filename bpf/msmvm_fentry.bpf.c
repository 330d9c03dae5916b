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
 *
 * A job's address keys the job table (a multiplicative hash), and the verifier allows no
 * such arithmetic on a typed pointer: the job arguments are passed as plain numbers, read
 * from the context's argument slots (bpf_get_func_arg would be free, but tests/test_probes.c
 * verifies this flavor's handlers as raw_tp programs, which do not have it).
 */
#define MSMVM_DRIVER_KERNEL
#include "logic.bpf.h"

static __always_inline void *arg_number(__u64 *ctx, __u32 n)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &ctx[n]);
	return (void *)v;
}

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
	return handle_prealloc_count_entry(arg_number(ctx, 0));
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

/* the plan attaches this fexit alone: it sees the queue and the return (the entry is unused) */
SEC("fexit") int BPF_PROG(prepare_to_wait_event_return, struct wait_queue_head *wq_head,
			  void *wq_entry, int state, long ret)
{
	return handle_prepare_to_wait(wq_head, ret);
}

/* void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry) */
SEC("fentry") int BPF_PROG(finish_wait_entry, struct wait_queue_head *wq_head)
{
	return handle_finish_wait_entry(wq_head);
}

/* int msm_iommu_pagetable_prealloc_allocate(struct msm_mmu *, struct msm_mmu_prealloc *) */
SEC("fentry") int BPF_PROG(prealloc_allocate_entry, void *mmu, struct msm_mmu_prealloc *p)
{
	return handle_prealloc_allocate_entry(arg_number(ctx, 1));
}

/* void msm_vma_job_free(struct drm_sched_job *job): the job's base is its first member */
SEC("fentry") int BPF_PROG(job_free_entry, struct msm_vm_bind_job *job)
{
	return handle_job_free_entry(arg_number(ctx, 0));
}

/* the job is freed: nothing is read through it here */
SEC("fexit") int BPF_PROG(job_free_return, void *job)
{
	return handle_job_free_return();
}

/* void sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tp/sched_process_fork") int BPF_PROG(process_fork, struct task_struct *parent,
					      struct task_struct *child)
{
	return handle_process_fork(bpf_get_current_pid_tgid() >> 32, BPF_CORE_READ(child, tgid));
}

SEC("raw_tp") int report_layout(void *ctx)
{
	return handle_report_layout();
}
