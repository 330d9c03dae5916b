// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The attach plan of a session: the probe table's functions, looked up where the target
 * keeps them, decide between the direct and the fallback hooks; what the running kernel
 * supports decides between fentry/fexit and kprobes.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "probe_table.h"

#define ENOTSUPP_ 524	/* the kernel's ENOTSUPP, which user space has no name for */

/* Does the BTF carry a FUNC record of this name? */
static bool btf_has_func(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

/*
 * Every function of the table, in one pass over the symbols: the model binary's, or the
 * running kernel's kallsyms (driver functions in the driver's module). On a kernel, only
 * to explain a probe the kernel could not find (msmvm_explain_lookup).
 */
static void read_symbols(struct msmvm *m)
{
	bool model = m->opts.target == MSMVM_TARGET_SIM;

	if (m->syms.read)
		return;
	for (int i = 0; i < msmvm_nhooks; i++) {
		const struct msmvm_hook *h = &msmvm_hooks[i];

		msmvm_symtab_want(&m->syms, h->function,
				  !model && h->home == MSMVM_IN_DRIVER ? msmvm_driver_module(m)
								   : NULL);
	}
	if (model)
		msmvm_symtab_read_elf(&m->syms, m->sim_path);
	else
		msmvm_symtab_read_kallsyms(&m->syms);	/* unreadable: nothing found, said below */
}

static bool symbol_found(struct msmvm *m, const char *func)
{
	const struct msmvm_symbol *s;

	read_symbols(m);
	s = msmvm_symtab_find(&m->syms, func);
	return s && s->found;
}

/*
 * Where a function can be probed: the model binary's symbols; on a kernel (running, or a
 * BTF file's), a BTF FUNC record: pahole writes one only for a function the kernel has
 * out of line under that name (not inlined, not renamed to a clone), which is what the
 * kernel's own lookup at load or attach time then finds. kallsyms is not read: a pass
 * over it costs seconds on a small board and more under emulation.
 */
static bool hook_available(void *ctx, const struct msmvm_hook *h, const char **why)
{
	struct msmvm *m = ctx;

	if (m->opts.target == MSMVM_TARGET_SIM) {
		*why = "symbol in the model binary";
		return symbol_found(m, h->function);
	}
	*why = "BTF FUNC record";
	return btf_has_func(m->target_btf, h->function);
}

void msmvm_explain_lookup(struct msmvm *m, const char *func, char *buf, size_t len)
{
	const struct msmvm_symbol *s;

	buf[0] = 0;
	if (m->opts.target == MSMVM_TARGET_SIM || m->opts.btf_path ||
	    access("/proc/kallsyms", R_OK))
		return;
	read_symbols(m);
	s = msmvm_symtab_find(&m->syms, func);
	if (s)
		msmvm_symbol_explain(s, buf, len);
}

/*
 * A do-nothing fentry program on the vmlinux function of BTF id btf_id, loaded, attached
 * and let go: does this kernel (and do our privileges) allow BTF trampolines? Loading can
 * succeed where attaching cannot (an architecture without trampolines), so both are
 * tried. 0 or -errno; *step: the step that failed.
 */
static int try_fentry(int btf_id, const char **step)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = BPF_TRACE_FENTRY,
		    .attach_btf_id = btf_id);
	int prog, link, ret = 0;

	*step = "loading";
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "msmvm_fentry_ok", "GPL", insns, 2, &po);
	if (prog < 0)
		return -errno;
	*step = "attaching";
	link = bpf_raw_tracepoint_open(NULL, prog);
	if (link < 0)
		ret = -errno;
	else
		close(link);
	close(prog);
	return ret;
}

/*
 * Is mod's BTF a kernel BTF object? libbpf looks a module function's attach target up in
 * those objects (it needs CAP_SYS_ADMIN to read them), not in /sys/kernel/btf/NAME.
 * 0, or -errno (-ENOENT: none of that name).
 */
static int kernel_btf_object(const char *mod)
{
	__u32 id = 0;

	while (!bpf_btf_get_next_id(id, &id)) {
		struct bpf_btf_info info = { 0 };
		__u32 len = sizeof(info);
		char name[64] = "";
		int fd = bpf_btf_get_fd_by_id(id), ret;

		if (fd < 0) {
			if (errno == ENOENT)	/* gone since */
				continue;
			return -errno;
		}
		info.name = (__u64)(unsigned long)name;
		info.name_len = sizeof(name);
		ret = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (!ret && info.kernel_btf && !strcmp(name, mod))
			return 0;
	}
	return errno == ENOENT ? -ENOENT : -errno;
}

/*
 * Can the plan's probes be fentry/fexit programs on the running kernel? why: what was
 * found, or what is missing (for the plan's attach reason and the --attach=fentry error).
 */
static bool fentry_supported(struct msmvm *m, char *why, size_t len)
{
	const char *mod = msmvm_driver_module(m), *step, *test_fn;
	const struct btf *vmlinux = m->target_btf_base;
	int id, ret;

	if (m->opts.btf_path) {
		snprintf(why, len, "a dry run against a BTF file: fentry programs load against the "
			 "running kernel only");
		return false;
	}
	/* the kernel's own test function for BPF trampolines, where it has one */
	test_fn = btf_has_func(vmlinux, "bpf_fentry_test1") ? "bpf_fentry_test1" : "finish_wait";
	id = vmlinux ? btf__find_by_name_kind(vmlinux, test_fn, BTF_KIND_FUNC) : -ENOENT;
	if (id <= 0) {
		snprintf(why, len, "no BTF FUNC record of %s in vmlinux to try fentry on", test_fn);
		return false;
	}
	ret = try_fentry(id, &step);
	if (ret) {
		snprintf(why, len, "%s a test fentry program on %s failed: %s%s", step, test_fn,
			 strerror(-ret),
			 ret == -EPERM || ret == -EACCES
				 ? ", the kernel refuses fentry (lockdown?) or a capability is missing"
			 : ret == -ENOTSUPP_ || ret == -EOPNOTSUPP || ret == -EINVAL
				 ? ", no BTF trampolines on this kernel"
				 : "");
		return false;
	}
	ret = kernel_btf_object(mod);
	if (ret) {
		snprintf(why, len, "%s's BTF is not among the kernel's BTF objects: %s", mod,
			 ret == -ENOENT ? "not found" : strerror(-ret));
		return false;
	}
	for (int i = 0; i < m->plan.nprobes; i++) {
		const char *f = m->plan.probes[i].function;

		/* a driver function's FUNC record is part of its availability already */
		if (!btf_has_func(m->target_btf, f)) {
			snprintf(why, len, "no BTF FUNC record of %s", f);
			return false;
		}
	}
	snprintf(why, len, "BTF trampolines, and %s's BTF in the kernel", mod);
	return true;
}

int msmvm_make_plan(struct msmvm *m, struct msmvm_err *err)
{
	bool model = m->opts.target == MSMVM_TARGET_SIM, fentry_ok = false;
	char why[200] = "";
	int ret;

	ret = msmvm_plan_choose(&m->plan, m->opts.hooks, model, hook_available, m, err);
	if (ret)
		return ret;
	if (!model && m->opts.attach != MSMVM_ATTACH_KPROBE)
		fentry_ok = fentry_supported(m, why, sizeof(why));
	ret = msmvm_attach_choose(&m->plan, m->opts.attach, model, fentry_ok, why, err);
	if (ret)
		return ret;
	if (!model && !m->opts.btf_path) {	/* the start-up lines say how, too */
		size_t n = strlen(m->plan.target);

		if (n && m->plan.target[n - 1] == ')')
			snprintf(m->plan.target + n - 1, sizeof(m->plan.target) - n + 1, "; %s)",
				 m->plan.fentry ? "fentry/fexit" : "kprobes");
	}
	return 0;
}
