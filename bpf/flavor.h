/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One BPF source, three flavors. Only these macros differ between them:
 *
 *   kernel  kprobe/kretprobe on msm.ko; driver memory read with BPF_CORE_READ.
 *   model   uprobe/uretprobe on the msmvm-sim binary; driver memory is user memory
 *           (BPF_CORE_READ_USER); CO-RE against the model's BTF. VM addresses are per
 *           process there, so VM keys are scoped by tgid.
 *   test    raw_tp programs that BPF_PROG_TEST_RUN drives with the hooks' arguments,
 *           on model structs built by the test in its own memory.
 *
 * ARGS_READ reads the ioctl's argument struct (`data`): drm_ioctl's kernel copy in the
 * kernel, user memory in the model. The ops array it points to is user memory everywhere
 * (bpf_probe_read_user in every flavor).
 *
 * Programs carry no attach target in SEC(): libmsmvm's attach plan decides where each
 * one goes (direct hooks or the fallback), so the section names stay flavor-neutral.
 */
#ifndef MSMVM_BPF_FLAVOR_H
#define MSMVM_BPF_FLAVOR_H

#if defined(MSMVM_FLAVOR_KERNEL)

#define DRV_READ(src, a, ...)	BPF_CORE_READ(src, a, ##__VA_ARGS__)
#define ARGS_READ(dst, sz, src)	bpf_probe_read_kernel(dst, sz, src)
#define HOOK_ENTRY(name, args...)	SEC("kprobe") int BPF_KPROBE(name, ##args)
#define HOOK_RETURN(name, args...)	SEC("kretprobe") int BPF_KRETPROBE(name, ##args)
#define VM_SCOPE(tgid)		((void)(tgid), 0)

#elif defined(MSMVM_FLAVOR_MODEL)

#define DRV_READ(src, a, ...)	BPF_CORE_READ_USER(src, a, ##__VA_ARGS__)
#define ARGS_READ(dst, sz, src)	bpf_probe_read_user(dst, sz, src)
/* libbpf 1.1 has no BPF_UPROBE; a uprobe's context is pt_regs all the same */
#define HOOK_ENTRY(name, args...)	SEC("uprobe") int BPF_KPROBE(name, ##args)
#define HOOK_RETURN(name, args...)	SEC("uretprobe") int BPF_KRETPROBE(name, ##args)
#define VM_SCOPE(tgid)		(tgid)

#elif defined(MSMVM_FLAVOR_TEST)

#define DRV_READ(src, a, ...)	BPF_CORE_READ_USER(src, a, ##__VA_ARGS__)
#define ARGS_READ(dst, sz, src)	bpf_probe_read_user(dst, sz, src)
#define HOOK_ENTRY(name, args...)	SEC("raw_tp") int BPF_PROG(name, ##args)
#define HOOK_RETURN(name, args...)	SEC("raw_tp") int BPF_PROG(name, ##args)
#define VM_SCOPE(tgid)		(tgid)

#else
#error "define one of MSMVM_FLAVOR_KERNEL, MSMVM_FLAVOR_MODEL, MSMVM_FLAVOR_TEST"
#endif

#endif
