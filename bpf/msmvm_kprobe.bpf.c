// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel flavor (msmvm_kernel_{arm64,x86}): kprobes and kretprobes on msm.ko and on the
 * kernel's wait functions. Attach points come from libmsmvm's attach plan, not from here.
 */
#define MSMVM_DRIVER_KERNEL
#include "logic.bpf.h"

SEC("kprobe") int BPF_KPROBE(ioctl_vm_bind_entry, void *dev, void *data, struct drm_file *file)
{
	return handle_ioctl_entry(data, file);
}

SEC("kretprobe") int BPF_KRETPROBE(ioctl_vm_bind_return, int ret)
{
	return handle_ioctl_return(ret);
}

SEC("kprobe") int BPF_KPROBE(prealloc_count_entry, struct msm_vm_bind_job *job)
{
	return handle_prealloc_count_entry(job);
}

SEC("kretprobe") int BPF_KRETPROBE(prealloc_count_return, int ret)
{
	return handle_prealloc_count_return(ret);
}

SEC("kprobe") int BPF_KPROBE(prepare_to_wait_event_entry, struct wait_queue_head *wq_head)
{
	return handle_prepare_to_wait_entry(wq_head);
}

SEC("kretprobe") int BPF_KRETPROBE(prepare_to_wait_event_return, long ret)
{
	return handle_prepare_to_wait_return(ret);
}

SEC("kprobe") int BPF_KPROBE(finish_wait_entry, struct wait_queue_head *wq_head)
{
	return handle_finish_wait_entry(wq_head);
}

SEC("kprobe") int BPF_KPROBE(prealloc_allocate_entry, void *mmu, struct msm_mmu_prealloc *p)
{
	return handle_prealloc_allocate_entry(p);
}

SEC("kprobe") int BPF_KPROBE(job_free_entry, struct msm_vm_bind_job *job)
{
	return handle_job_free_entry(job);
}

SEC("kretprobe") int BPF_KRETPROBE(job_free_return)
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
