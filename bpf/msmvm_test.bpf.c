// SPDX-License-Identifier: GPL-2.0
/*
 * The test flavor (msmvm_test): raw_tp programs that tests/test_probes.c drives with
 * BPF_PROG_TEST_RUN, each with its hook's arguments in ctx (a return hook's: the return
 * value), on model structs the test builds in its own memory.
 */
#define MSMVM_DRIVER_MODEL
#include "logic.bpf.h"

SEC("raw_tp") int BPF_PROG(ioctl_vm_bind_entry, void *dev, void *data, struct drm_file *file)
{
	return handle_ioctl_entry(data, file);
}

SEC("raw_tp") int BPF_PROG(ioctl_vm_bind_return, int ret)
{
	return handle_ioctl_return(ret);
}

SEC("raw_tp") int BPF_PROG(prealloc_count_entry, struct msm_vm_bind_job *job)
{
	return handle_prealloc_count_entry(job);
}

SEC("raw_tp") int BPF_PROG(prealloc_count_return, int ret)
{
	return handle_prealloc_count_return(ret);
}

SEC("raw_tp") int BPF_PROG(prepare_to_wait_event_entry, struct wait_queue_head *wq_head)
{
	return handle_prepare_to_wait_entry(wq_head);
}

SEC("raw_tp") int BPF_PROG(prepare_to_wait_event_return, long ret)
{
	return handle_prepare_to_wait_return(ret);
}

SEC("raw_tp") int BPF_PROG(finish_wait_entry, struct wait_queue_head *wq_head)
{
	return handle_finish_wait_entry(wq_head);
}

SEC("raw_tp") int BPF_PROG(prealloc_allocate_entry, void *mmu, struct msm_mmu_prealloc *p)
{
	return handle_prealloc_allocate_entry(p);
}

SEC("raw_tp") int BPF_PROG(job_free_entry, struct msm_vm_bind_job *job)
{
	return handle_job_free_entry(job);
}

SEC("raw_tp") int BPF_PROG(job_free_return)
{
	return handle_job_free_return();
}

/* the test passes the two tgids (its own memory holds no task_struct) */
SEC("raw_tp") int BPF_PROG(process_fork, __u64 parent_tgid, __u64 child_tgid)
{
	return handle_process_fork(parent_tgid, child_tgid);
}

SEC("raw_tp") int report_layout(void *ctx)
{
	return handle_report_layout();
}
