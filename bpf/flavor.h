/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How the probes read the driver's memory: the one thing the handlers (logic.bpf.h) take
 * from the flavor. Each wrapper (bpf/msmvm_*.bpf.c) says where the driver it observes lives
 * before it includes logic.bpf.h:
 *
 *   MSMVM_DRIVER_KERNEL  msm.ko (the kprobe wrapper): kernel memory, BPF_CORE_READ; the
 *                        ioctl's argument struct is drm_ioctl's kernel copy.
 *   MSMVM_DRIVER_MODEL   msmvm-sim (the uprobe and test wrappers): the driver's memory is
 *                        user memory, BPF_CORE_READ_USER, CO-RE against the model's BTF.
 *                        VM addresses are per process there, so VM keys are scoped by tgid.
 *
 * The ops array the arguments point to is user memory everywhere (bpf_probe_read_user).
 */
#ifndef MSMVM_BPF_FLAVOR_H
#define MSMVM_BPF_FLAVOR_H

#if defined(MSMVM_DRIVER_KERNEL)

#define DRV_READ(src, a, ...)	BPF_CORE_READ(src, a, ##__VA_ARGS__)
#define DRV_READ_BYTES(dst, sz, src)	bpf_probe_read_kernel(dst, sz, src)
#define ARGS_READ(dst, sz, src)	bpf_probe_read_kernel(dst, sz, src)
#define VM_SCOPE(tgid)		((void)(tgid), 0)

#elif defined(MSMVM_DRIVER_MODEL)

#define DRV_READ(src, a, ...)	BPF_CORE_READ_USER(src, a, ##__VA_ARGS__)
#define DRV_READ_BYTES(dst, sz, src)	bpf_probe_read_user(dst, sz, src)
#define ARGS_READ(dst, sz, src)	bpf_probe_read_user(dst, sz, src)
#define VM_SCOPE(tgid)		(tgid)

#else
#error "the wrapper defines MSMVM_DRIVER_KERNEL or MSMVM_DRIVER_MODEL"
#endif

#endif
