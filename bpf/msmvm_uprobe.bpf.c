// SPDX-License-Identifier: GPL-2.0
/*
 * The model flavor (msmvm_model): uprobes and uretprobes on the msmvm-sim binary, the driver's
 * functions under the same names. libbpf 1.1 has no BPF_UPROBE; a uprobe's context is
 * pt_regs all the same, so BPF_KPROBE/BPF_KRETPROBE unpack it.
 */
#define MSMVM_DRIVER_MODEL
#include "logic.bpf.h"

SEC("uprobe") int BPF_KPROBE(ioctl_vm_bind_entry, void *dev, void *data, struct drm_file *file)
{
	return handle_ioctl_entry(data, file);
}

SEC("uretprobe") int BPF_KRETPROBE(ioctl_vm_bind_return, int ret)
{
	return handle_ioctl_return(ret);
}

SEC("uprobe") int BPF_KPROBE(prealloc_count_entry, struct msm_vm_bind_job *job)
{
	return handle_prealloc_count_entry(job);
}

SEC("uretprobe") int BPF_KRETPROBE(prealloc_count_return, int ret)
{
	return handle_prealloc_count_return(ret);
}

SEC("uprobe") int BPF_KPROBE(prepare_to_wait_event_entry, struct wait_queue_head *wq_head)
{
	return handle_prepare_to_wait_entry(wq_head);
}

SEC("uretprobe") int BPF_KRETPROBE(prepare_to_wait_event_return, long ret)
{
	return handle_prepare_to_wait_return(ret);
}

SEC("uprobe") int BPF_KPROBE(finish_wait_entry, struct wait_queue_head *wq_head)
{
	return handle_finish_wait_entry(wq_head);
}

SEC("uprobe") int BPF_KPROBE(prealloc_allocate_entry, void *mmu, struct msm_mmu_prealloc *p)
{
	return handle_prealloc_allocate_entry(p);
}

SEC("uprobe") int BPF_KPROBE(job_free_entry, struct msm_vm_bind_job *job)
{
	return handle_job_free_entry(job);
}

SEC("uretprobe") int BPF_KRETPROBE(job_free_return)
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
