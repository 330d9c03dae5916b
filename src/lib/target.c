// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The target, probed once at start-up: the running kernel (its BTF, the driver's module
 * and its BTF), the model binary (its BTF merged with the host kernel's), or a BTF file.
 * Privileges are privileges.c's, symbols symbols.c's, the attach plan plan.c's.
 */
#define _GNU_SOURCE
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "btf_merge.h"
#include "btf_slice.h"
#include "internal.h"

static bool path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* arm64 BTF has struct user_pt_regs; x86 has pt_regs with a `di` member. */
const char *msmvm_btf_arch(const struct btf *btf)
{
	if (btf__find_by_name_kind(btf, "user_pt_regs", BTF_KIND_STRUCT) > 0)
		return "arm64";
	if (btf__find_by_name_kind(btf, "pt_regs", BTF_KIND_STRUCT) > 0)
		return "x86";
	return NULL;
}

const char *msmvm_host_arch(void)
{
#if defined(__x86_64__)
	return "x86";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "unknown";
#endif
}

const char *msmvm_default_sim_path(void)
{
	static char path[PATH_MAX + 16];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, sizeof(path), "%s/msmvm-sim", self);
			if (path_exists(path))
				return path;
		}
	}
	return "msmvm-sim";
}

/*
 * The module the driver's functions and types are in: --module, else msm if it is loaded,
 * else the kernel twin (docs/kmodel.md) if it is loaded, else msm (for the error).
 */
const char *msmvm_driver_module(const struct msmvm *m)
{
	if (m->module[0])
		return m->module;	/* decided at start-up */
	if (m->opts.module)
		return m->opts.module;
	if (path_exists("/sys/module/" MSMVM_MODULE))
		return MSMVM_MODULE;
	if (path_exists("/sys/module/" MSMVM_TWIN_MODULE))
		return MSMVM_TWIN_MODULE;
	return MSMVM_MODULE;
}

/*
 * Does btf hold the VM_BIND driver's types? VM_BIND and its page-table preallocation came
 * to msm in Linux 6.17 (struct msm_gem_vm); before, msm had address spaces
 * (struct msm_gem_address_space) and nothing msmvm could watch: said as such, not as
 * missing types. where: "this kernel's msm", "'FILE'". 0 or the failure.
 */
static int check_vm_bind_types(const struct btf *btf, const char *where, const char *hint,
			       struct msmvm_err *err)
{
	if (btf__find_by_name_kind(btf, "msm_gem_vm", BTF_KIND_STRUCT) > 0)
		return 0;
	if (btf__find_by_name_kind(btf, "msm_gem_address_space", BTF_KIND_STRUCT) > 0)
		return msmvm_fail(err, MSMVM_E_NO_DRIVER, ENOTSUP,
				  "%s predates VM_BIND and its page-table throttle (Linux 6.17): its "
				  "msm has address spaces (struct msm_gem_address_space), no struct "
				  "msm_gem_vm, nothing for msmvm to watch; to try msmvm anyway, use "
				  "--sim to probe the msmvm-sim model", where);
	return msmvm_fail(err, MSMVM_E_NO_BTF, ENOENT, "%s has no msm types (struct msm_gem_vm)%s",
			  where, hint);
}

/* The running kernel: BTF, the driver's module loaded with its BTF. */
int msmvm_probe_kernel(struct msmvm *m, struct msmvm_err *err)
{
	const char *mod = msmvm_driver_module(m);
	bool twin = !strcmp(mod, MSMVM_TWIN_MODULE);
	char sys_module[PATH_MAX], sys_btf[PATH_MAX], where[PATH_MAX + 80];
	struct utsname u;
	int ret;

	/* decided once: the plan's symbols and BTF are this module's from here on */
	snprintf(m->module, sizeof(m->module), "%s", mod);
	mod = m->module;
	if (!path_exists("/sys/kernel/btf/vmlinux"))
		return msmvm_fail(err, MSMVM_E_NO_BTF, ENOENT,
				  "this kernel has no BTF (/sys/kernel/btf/vmlinux missing): msmvm "
				  "needs CONFIG_DEBUG_INFO_BTF=y (or a BTF file with --btf for a dry run)");
	snprintf(sys_module, sizeof(sys_module), "/sys/module/%s", mod);
	snprintf(sys_btf, sizeof(sys_btf), "/sys/kernel/btf/%s", mod);
	if (!path_exists(sys_module) && !m->opts.module)
		return msmvm_fail(err, MSMVM_E_NO_DRIVER, ENODEV,
				  "the msm driver is not loaded (no /sys/module/msm, nor the kernel "
				  "twin's /sys/module/" MSMVM_TWIN_MODULE "): this machine has no Adreno "
				  "GPU driver; to try msmvm anyway, use --sim to probe the msmvm-sim "
				  "model, or load the kernel twin, msm_kmodel.ko (tools/kmodel)");
	if (!path_exists(sys_module))
		return msmvm_fail(err, MSMVM_E_NO_DRIVER, ENODEV,
				  "the %s driver is not loaded (no %s): this machine has "
				  "no Adreno GPU driver; to try msmvm anyway, use --sim to probe the "
				  "msmvm-sim model", mod, sys_module);
	if (!path_exists(sys_btf))
		return msmvm_fail(err, MSMVM_E_NO_BTF, ENOENT,
				  "%s is loaded but has no BTF (%s missing): msmvm "
				  "needs CONFIG_DEBUG_INFO_BTF_MODULES=y", mod, sys_btf);
	m->target_btf_base = btf__load_vmlinux_btf();
	if (!m->target_btf_base)
		return msmvm_fail(err, MSMVM_E_NO_BTF, errno, "cannot read the kernel's BTF: %s",
				  strerror(errno));
	m->target_btf = btf__parse_split(sys_btf, m->target_btf_base);
	if (!m->target_btf)
		return msmvm_fail(err, MSMVM_E_NO_BTF, errno, "cannot read %s's BTF: %s", mod,
				  strerror(errno));
	snprintf(where, sizeof(where), "this kernel's %s (%s)", mod, sys_btf);
	ret = check_vm_bind_types(m->target_btf, where,
				  ": is it the msm driver? (--module names the driver's module)", err);
	if (ret)
		return ret;
	uname(&u);
	snprintf(m->plan.target, sizeof(m->plan.target), "kernel %s (%s%s)", u.release, mod,
		 twin ? ", the kernel twin" : "");
	return 0;
}

/*
 * The kernel types the model flavor relocates against the host kernel (vmlinux/
 * msmvm_types.h: the uprobes' pt_regs, arm64's user_pt_regs, the task_struct fields the
 * probes read; everything else is the model's). Only these go into the merged file, with
 * what they embed: a few hundred types instead of the kernel's ~130 000, which libbpf
 * would otherwise parse again at load (and leave ~20 MiB of heap behind) for every tool.
 * Pointers to structs and unions are cut to a forward declaration, to functions to void:
 * CO-RE reads through a pointer by relocating against the pointee's own type, never the
 * pointer's, so a probe that reads another kernel struct through a pointer (task->mm->...)
 * adds that struct here.
 */
static const char *const model_kernel_types[] = { "pt_regs", "user_pt_regs", "task_struct" };

/* Into dst: model_kernel_types[] from the running kernel's BTF. 0 or -errno. */
static int add_model_kernel_types(struct btf *dst)
{
	/* not btf__load_vmlinux_btf(): ~11 MiB at once for the whole kernel's types */
	struct btf *vmlinux = btf_vmlinux_slice("/sys/kernel/btf/vmlinux", model_kernel_types,
						sizeof(model_kernel_types) /
							sizeof(model_kernel_types[0]));
	int ret;

	if (!vmlinux)
		return errno ? -errno : -ENOENT;
	/* user_pt_regs is arm64's only: a name vmlinux lacks is skipped */
	ret = btf_copy_structs(dst, vmlinux, model_kernel_types,
			       sizeof(model_kernel_types) / sizeof(model_kernel_types[0]));
	btf__free(vmlinux);
	return ret;
}

/*
 * The model: its binary carries its own BTF (pahole -J at build time). CO-RE needs one
 * file holding both the model's types and the host kernel's (pt_regs, task_struct), so
 * the two are merged into a temporary file: the model's types whole, the kernel's that
 * the probes read (above).
 */
int msmvm_probe_sim(struct msmvm *m, struct msmvm_err *err)
{
	struct btf *model = NULL, *merged = NULL;
	char tmpl[] = "/tmp/msmvm-btf-XXXXXX";
	const void *raw;
	__u32 size;
	int fd, ret = 0;

	if (!path_exists(m->sim_path))
		return msmvm_fail(err, MSMVM_E_NO_DRIVER, ENOENT,
				  "model binary '%s' not found (build it with make, or give "
				  "--sim=PATH)", m->sim_path);
	if (!path_exists("/sys/kernel/btf/vmlinux"))
		return msmvm_fail(err, MSMVM_E_NO_BTF, ENOENT,
				  "this kernel has no BTF (/sys/kernel/btf/vmlinux missing): the model "
				  "flavor reads pt_regs and task_struct through CO-RE");
	model = btf__parse_elf(m->sim_path, NULL);
	if (!model)
		return msmvm_fail(err, MSMVM_E_NO_BTF, errno,
				  "'%s' carries no BTF (.BTF section): is it an msmvm-sim built by "
				  "make (pahole -J)?", m->sim_path);
	if (btf__find_by_name_kind(model, "msm_gem_vm", BTF_KIND_STRUCT) <= 0) {
		ret = msmvm_fail(err, MSMVM_E_NO_DRIVER, EINVAL,
				 "'%s' is not an msmvm-sim binary (no struct msm_gem_vm in its BTF)",
				 m->sim_path);
		goto out;
	}
	merged = btf__new_empty();
	ret = merged ? add_model_kernel_types(merged) : -ENOMEM;
	if (!ret && btf__add_btf(merged, model) < 0)
		ret = errno ? -errno : -EINVAL;
	if (ret) {
		ret = msmvm_fail(err, MSMVM_E_NO_BTF, ret,
				 "cannot merge the model's BTF with the kernel's: %s", strerror(-ret));
		goto out;
	}
	raw = btf__raw_data(merged, &size);
	fd = mkstemp(tmpl);
	if (fd < 0 || !raw || write(fd, raw, size) != (ssize_t)size) {
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, errno ? errno : EIO,
				 "cannot write the merged BTF to %s: %s", tmpl, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmpl);
		}
		goto out;
	}
	close(fd);
	m->tmp_btf_path = strdup(tmpl);
	m->target_btf = model;
	model = NULL;
	snprintf(m->plan.target, sizeof(m->plan.target), "model %.200s", m->sim_path);
out:
	btf__free(model);
	btf__free(merged);
	return ret;
}

/* What a file that is not BTF starts with, when it is a compressed one: its tool's name. */
static const char *compressed_by(const char *path)
{
	static const struct { const char *magic; size_t len; const char *tool; } kinds[] = {
		{ "\xfd" "7zXZ\0", 6, "xz" }, { "\x1f\x8b", 2, "gzip" },
		{ "\x28\xb5\x2f\xfd", 4, "zstd" }, { "BZh", 3, "bzip2" },
	};
	unsigned char head[8] = { 0 };
	FILE *f = fopen(path, "rbe");
	size_t n = f ? fread(head, 1, sizeof(head), f) : 0;

	if (f)
		fclose(f);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (n >= kinds[i].len && !memcmp(head, kinds[i].magic, kinds[i].len))
			return kinds[i].tool;
	return NULL;
}

/* A BTF file given with --btf: one file holding vmlinux and msm types. */
int msmvm_probe_btf_file(struct msmvm *m, struct msmvm_err *err)
{
	char where[PATH_MAX + 20];
	const char *arch, *packer;
	int ret;

	m->target_btf = btf__parse(m->opts.btf_path, NULL);
	if (!m->target_btf) {
		int e = errno;
		struct stat sb;

		if (!stat(m->opts.btf_path, &sb) && S_ISDIR(sb.st_mode))
			return msmvm_fail(err, MSMVM_E_NO_BTF, EISDIR,
					  "'%s' is a directory: --btf takes a BTF file",
					  m->opts.btf_path);
		packer = compressed_by(m->opts.btf_path);
		if (packer)
			return msmvm_fail(err, MSMVM_E_NO_BTF, EINVAL,
					  "'%s' is %s-compressed: decompress it first (e.g. %s -dk '%s')",
					  m->opts.btf_path, packer, packer, m->opts.btf_path);
		/* libbpf's own codes (4000 and up) have no strerror(): say what they mean here */
		return msmvm_fail(err, MSMVM_E_NO_BTF, e,
				  "cannot read BTF from '%s': %s (expected raw BTF or an ELF with a "
				  ".BTF section, vmlinux and msm merged: see tools/make-btf-fixtures.sh)",
				  m->opts.btf_path, e >= 4000 ? "not a BTF or ELF file" : strerror(e));
	}
	snprintf(where, sizeof(where), "the kernel of '%s'", m->opts.btf_path);
	ret = check_vm_bind_types(m->target_btf, where, ": merge msm.ko's BTF into it (tools/btfmerge)",
				  err);
	if (ret)
		return ret;
	arch = msmvm_btf_arch(m->target_btf);
	if (!arch)
		return msmvm_fail(err, MSMVM_E_NO_BTF, ENOENT,
				  "'%s' has no pt_regs: it holds module types only; merge it with "
				  "the kernel's vmlinux BTF", m->opts.btf_path);
	if (!m->opts.arch)
		snprintf(m->plan.arch, sizeof(m->plan.arch), "%s", arch);
	snprintf(m->plan.target, sizeof(m->plan.target), "BTF %s", m->opts.btf_path);
	return 0;
}
