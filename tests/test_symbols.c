// SPDX-License-Identifier: GPL-2.0
/*
 * libmsmvm's start-up, without a kernel: symbols found in one pass over kallsyms-format
 * text (with their module, msm or another) and over the model binary, the probe table and
 * the plan chosen for a given set of available functions, the capability verdict.
 *
 *   test_symbols module-btf OUT   writes split BTF on this kernel's vmlinux with a FUNC
 *                                 record per driver function of the probe table and an
 *                                 empty struct msm_gem_vm (a fake /sys/kernel/btf/NAME for
 *                                 tests/stat_cli.sh)
 *   test_symbols module-btf-old OUT   the same for an msm from before VM_BIND: struct
 *                                 msm_gem_address_space only
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>

#include "harness.h"
#include "internal.h"
#include "probe_table.h"
#include "symbols.h"

static char sim_path[4096];

/* Real kallsyms lines: vmlinux, two drivers' modules, and traps (data, another module). */
static const char kallsyms_fixture[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff813d42b0 T finish_wait\n"
	"ffffffff813d4750 T prepare_to_wait_event\n"
	"ffffffff82a00000 D msm_vma_job_free\n"		/* data of that name: not a function */
	"ffffffffc0a01000 t msm_ioctl_vm_bind\t[msm]\n"
	"ffffffffc0a02000 t vm_bind_prealloc_count\t[msm]\n"
	"ffffffffc0a03000 t msm_vma_job_free\t[msm]\n"
	"ffffffffc0b01000 t msm_ioctl_vm_bind\t[msm_twin]\n"
	"ffffffffc0b03000 T msm_vma_job_free\t[msm_twin]\n"
	"ffffffffc0b04000 t msm_iommu_pagetable_prealloc_allocate\t[msm_twin]\n"
	"ffffffffc0c00000 t vm_bind_prealloc_count.llvm.1234\t[other]\n"
	"ffffffffc0a04000 t msm_iommu_pagetable_prealloc_allocate.isra.0\t[msm]\n";

static int scan(struct msmvm_symtab *t)
{
	FILE *f = fmemopen((void *)kallsyms_fixture, sizeof(kallsyms_fixture) - 1, "r");
	int n;

	if (!f)
		return -1;
	n = msmvm_symtab_scan_kallsyms(t, f);
	fclose(f);
	return n;
}

static const struct msmvm_symbol *sym(const struct msmvm_symtab *t, const char *name)
{
	const struct msmvm_symbol *s = msmvm_symtab_find(t, name);

	if (!s)
		FAILF("%s was never asked for", name);
	return s;
}

TEST(kallsyms_hooks_in_msm)
{
	struct msmvm_symtab t = { 0 };

	CHECK_EQ(msmvm_symtab_want(&t, "msm_ioctl_vm_bind", "msm"), 0);
	CHECK_EQ(msmvm_symtab_want(&t, "vm_bind_prealloc_count", "msm"), 0);
	CHECK_EQ(msmvm_symtab_want(&t, "msm_iommu_pagetable_prealloc_allocate", "msm"), 0);
	CHECK_EQ(msmvm_symtab_want(&t, "prepare_to_wait_event", NULL), 0);
	CHECK_EQ(msmvm_symtab_want(&t, "msm_ioctl_vm_bind", "msm"), 0);	/* asked twice: once */
	CHECK_EQ(t.n, 4);
	CHECK_EQ(scan(&t), 3);
	CHECK(sym(&t, "msm_ioctl_vm_bind")->found);
	CHECK(!strcmp(sym(&t, "msm_ioctl_vm_bind")->found_in, "msm"));
	CHECK(sym(&t, "vm_bind_prealloc_count")->found);
	/* only in msm_twin */
	CHECK(!sym(&t, "msm_iommu_pagetable_prealloc_allocate")->found);
	CHECK(sym(&t, "prepare_to_wait_event")->found);
	CHECK(!strcmp(sym(&t, "prepare_to_wait_event")->found_in, ""));
	CHECK(msmvm_symtab_find(&t, "finish_wait") == NULL);
}

TEST(kallsyms_hooks_in_another_module)
{
	struct msmvm_symtab t = { 0 };

	msmvm_symtab_want(&t, "msm_ioctl_vm_bind", "msm_twin");
	msmvm_symtab_want(&t, "vm_bind_prealloc_count", "msm_twin");
	msmvm_symtab_want(&t, "msm_vma_job_free", "msm_twin");
	msmvm_symtab_want(&t, "msm_iommu_pagetable_prealloc_allocate", "msm_twin");
	msmvm_symtab_want(&t, "finish_wait", NULL);
	CHECK_EQ(scan(&t), 4);
	CHECK(sym(&t, "msm_ioctl_vm_bind")->found);
	CHECK(!strcmp(sym(&t, "msm_ioctl_vm_bind")->found_in, "msm_twin"));
	CHECK(!strcmp(sym(&t, "msm_vma_job_free")->found_in, "msm_twin"));	/* not the data */
	CHECK(sym(&t, "msm_iommu_pagetable_prealloc_allocate")->found);
	/* msm's and an LTO-renamed copy do not count for msm_twin */
	CHECK(!sym(&t, "vm_bind_prealloc_count")->found);
	CHECK(sym(&t, "finish_wait")->found);
}

/* Anywhere (vmlinux hooks): the first function of that name, data skipped. */
TEST(kallsyms_any_module_skips_data)
{
	struct msmvm_symtab t = { 0 };

	msmvm_symtab_want(&t, "msm_vma_job_free", NULL);
	CHECK_EQ(scan(&t), 1);
	CHECK(sym(&t, "msm_vma_job_free")->found);
	CHECK(!strcmp(sym(&t, "msm_vma_job_free")->found_in, "msm"));
}

/* One pass, and no further than needed: it stops once every name is found. */
TEST(kallsyms_stops_when_all_found)
{
	FILE *f = fmemopen((void *)kallsyms_fixture, sizeof(kallsyms_fixture) - 1, "r");
	struct msmvm_symtab t = { 0 };
	char rest[256];

	msmvm_symtab_want(&t, "finish_wait", NULL);
	msmvm_symtab_want(&t, "msm_ioctl_vm_bind", "msm");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ(msmvm_symtab_scan_kallsyms(&t, f), 2);
	CHECK(fgets(rest, sizeof(rest), f) && strstr(rest, "vm_bind_prealloc_count\t[msm]"));
	fclose(f);
}

/*
 * The plan comes from BTF; kallsyms is read only when the kernel's own lookup then fails,
 * to say what it lists instead: a compiler clone, the name in another module, or nothing.
 */
TEST(kallsyms_explains_a_failed_lookup)
{
	struct msmvm_symtab t = { 0 };
	char why[256];

	msmvm_symtab_want(&t, "msm_ioctl_vm_bind", "msm");
	msmvm_symtab_want(&t, "msm_iommu_pagetable_prealloc_allocate", "msm");
	msmvm_symtab_want(&t, "vm_bind_prealloc_count", "msm_twin");
	msmvm_symtab_want(&t, "msm_gem_vm_sm_step_map", "msm");
	CHECK_EQ(scan(&t), 1);
	msmvm_symbol_explain(sym(&t, "msm_ioctl_vm_bind"), why, sizeof(why));
	CHECK_STR(why, "");
	msmvm_symbol_explain(sym(&t, "msm_iommu_pagetable_prealloc_allocate"), why, sizeof(why));
	CHECK_STR(why, "; kallsyms lists only msm_iommu_pagetable_prealloc_allocate.isra.0 in "
		       "[msm], a compiler clone the kernel does not find by name");
	/* listed in msm (first) and as a clone in another module: msm is what is said */
	msmvm_symbol_explain(sym(&t, "vm_bind_prealloc_count"), why, sizeof(why));
	CHECK_STR(why, "; kallsyms lists vm_bind_prealloc_count in [msm], not in [msm_twin]");
	msmvm_symbol_explain(sym(&t, "msm_gem_vm_sm_step_map"), why, sizeof(why));
	CHECK_STR(why, "; kallsyms does not list msm_gem_vm_sm_step_map in msm (inlined?)");
}

TEST(symtab_full)
{
	struct msmvm_symtab t = { 0 };
	char names[MSMVM_MAX_SYMBOLS + 1][16];

	for (int i = 0; i <= MSMVM_MAX_SYMBOLS; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		CHECK_EQ(msmvm_symtab_want(&t, names[i], NULL), i < MSMVM_MAX_SYMBOLS ? 0 : -ENOSPC);
	}
}

/* The model binary: every function of the probe table, in one read of its symbols. */
TEST(elf_model_has_every_hook)
{
	struct msmvm_symtab t = { 0 }, none = { 0 };

	for (int i = 0; i < msmvm_nhooks; i++)
		msmvm_symtab_want(&t, msmvm_hooks[i].function, NULL);
	msmvm_symtab_want(&t, "no_such_function_here", NULL);
	CHECK_EQ(msmvm_symtab_read_elf(&t, sim_path), t.n - 1);
	CHECK(t.read);
	for (int i = 0; i < msmvm_nhooks; i++)
		if (!sym(&t, msmvm_hooks[i].function)->found)
			FAILF("%s not found in %s", msmvm_hooks[i].function, sim_path);
	CHECK(!sym(&t, "no_such_function_here")->found);
	msmvm_symtab_want(&none, "msm_ioctl_vm_bind", NULL);
	CHECK_EQ(msmvm_symtab_read_elf(&none, "/nonexistent/msmvm-sim"), -ENOENT);
	CHECK(none.read && !none.syms[0].found);
}

/* The table: each program once, each plan within MSMVM_MAX_PROBES, homes as documented. */
TEST(probe_table_is_consistent)
{
	int per_plan[2] = { 0 };

	for (int i = 0; i < msmvm_nhooks; i++) {
		const struct msmvm_hook *h = &msmvm_hooks[i];
		bool core = !strcmp(h->function, "prepare_to_wait_event") ||
			    !strcmp(h->function, "finish_wait");

		for (int j = 0; j < i; j++)
			if (msmvm_hooks[j].program == h->program)
				FAILF("program %s twice", msmvm_prog_name(h->program));
		CHECK_EQ(h->home, core ? MSMVM_IN_VMLINUX : MSMVM_IN_DRIVER);
		CHECK(h->plans);
		for (int k = 0; k < 2; k++)
			per_plan[k] += !!(h->plans & MSMVM_PLAN_BIT(k));
	}
	CHECK_EQ(per_plan[MSMVM_PLAN_DIRECT], 6);
	CHECK_EQ(per_plan[MSMVM_PLAN_FALLBACK], 8);
	CHECK_LE(per_plan[MSMVM_PLAN_FALLBACK], MSMVM_MAX_PROBES);
}

/* A target offering every function but the listed ones. */
struct offer {
	const char *missing[4];
};

static bool offered(void *ctx, const struct msmvm_hook *h, const char **why)
{
	struct offer *o = ctx;

	*why = "test offer";
	for (int i = 0; i < 4 && o->missing[i]; i++)
		if (!strcmp(o->missing[i], h->function))
			return false;
	return true;
}

static const char *const direct_programs[] = {
	"ioctl_vm_bind_entry", "ioctl_vm_bind_return", "prealloc_count_entry",
	"prealloc_count_return", "job_free_entry", "job_free_return",
};
static const char *const fallback_programs[] = {
	"ioctl_vm_bind_entry", "ioctl_vm_bind_return", "prepare_to_wait_event_entry",
	"prepare_to_wait_event_return", "finish_wait_entry", "prealloc_allocate_entry",
	"job_free_entry", "job_free_return",
};

static void check_programs(const struct msmvm_plan *p, const char *const *want, int n)
{
	CHECK_EQ(p->nprobes, n);
	for (int i = 0; i < n && i < p->nprobes; i++)
		if (strcmp(p->probes[i].program, want[i]))
			FAILF("probe %d is %s, expected %s", i, p->probes[i].program, want[i]);
}

TEST(plan_direct_when_count_is_there)
{
	struct msmvm_plan p = { 0 };
	struct offer o = { { NULL } };
	struct msmvm_err e = { 0 };

	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_AUTO, false, offered, &o, &e), 0);
	CHECK_EQ(p.kind, MSMVM_PLAN_DIRECT);
	CHECK(strstr(p.reason, "direct hooks: vm_bind_prealloc_count found (test offer)"));
	check_programs(&p, direct_programs, 6);
	CHECK(!strcmp(p.probes[3].function, "vm_bind_prealloc_count") && p.probes[3].retprobe);
	CHECK(!strcmp(p.probes[4].function, "msm_vma_job_free") && !p.probes[4].retprobe);
}

TEST(plan_fallback_when_count_was_inlined)
{
	struct msmvm_plan p = { 0 };
	struct offer o = { { "vm_bind_prealloc_count" } };
	struct msmvm_err e = { 0 };

	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_AUTO, false, offered, &o, &e), 0);
	CHECK_EQ(p.kind, MSMVM_PLAN_FALLBACK);
	CHECK(strstr(p.reason, "not found (test offer), probably inlined"));
	check_programs(&p, fallback_programs, 8);
	CHECK(!strcmp(p.probes[5].function, "msm_iommu_pagetable_prealloc_allocate"));
}

TEST(plan_forced)
{
	struct msmvm_plan p = { 0 };
	struct offer all = { { NULL } }, inlined = { { "vm_bind_prealloc_count" } };
	struct msmvm_err e = { 0 };

	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_FALLBACK, false, offered, &all, &e), 0);
	CHECK_EQ(p.kind, MSMVM_PLAN_FALLBACK);
	CHECK(strstr(p.reason, "fallback hooks (forced)"));
	check_programs(&p, fallback_programs, 8);
	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_DIRECT, false, offered, &inlined, &e), -ENOENT);
	CHECK_EQ(e.kind, MSMVM_E_NO_HOOK);
	CHECK(strstr(e.msg, "vm_bind_prealloc_count cannot be probed on this target (no test "
			    "offer): it was inlined; use --hooks=fallback or auto"));
}

TEST(plan_fails_on_a_missing_hook)
{
	struct msmvm_plan p = { 0 };
	struct offer o = { { "vm_bind_prealloc_count", "finish_wait" } };
	struct msmvm_err e = { 0 };

	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_AUTO, false, offered, &o, &e), -ENOENT);
	CHECK(!strcmp(e.msg, "finish_wait cannot be probed on this target (no test offer)"));
	o = (struct offer){ { "msm_ioctl_vm_bind" } };
	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_AUTO, true, offered, &o, &e), -ENOENT);
	CHECK(!strcmp(e.msg, "msm_ioctl_vm_bind cannot be probed on this target (no test offer): "
			     "is this an msmvm-sim binary?"));
}

/* Each probe's attach kind, in plan order, against entry/return. */
static void check_attach(const struct msmvm_plan *p, const char *entry, const char *ret)
{
	for (int i = 0; i < p->nprobes; i++)
		if (!p->probes[i].attach ||
		    strcmp(p->probes[i].attach, p->probes[i].retprobe ? ret : entry))
			FAILF("probe %s on %s attaches as %s", p->probes[i].program,
			      p->probes[i].function, p->probes[i].attach ? p->probes[i].attach : "?");
}

TEST(attach_fentry_where_supported)
{
	struct offer all = { { NULL } };
	struct msmvm_err e = { 0 };

	for (int hooks = MSMVM_HOOKS_DIRECT; hooks <= MSMVM_HOOKS_FALLBACK; hooks++) {
		struct msmvm_plan p = { 0 };

		CHECK_EQ(msmvm_plan_choose(&p, hooks, false, offered, &all, &e), 0);
		CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_AUTO, false, true, "trampolines", &e),
			 0);
		CHECK(p.fentry);
		CHECK(!strcmp(p.attach, "fentry"));
		CHECK(!strcmp(p.attach_reason, "fentry/fexit: trampolines"));
		check_attach(&p, "fentry", "fexit");
		CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_FENTRY, false, true, "trampolines",
					     &e), 0);
		CHECK(!strcmp(p.attach_reason, "fentry/fexit (forced): trampolines"));
		check_attach(&p, "fentry", "fexit");
		/* forced kprobes, fentry or not */
		CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_KPROBE, false, true, "trampolines",
					     &e), 0);
		CHECK(!p.fentry);
		CHECK(!strcmp(p.attach_reason, "kprobe/kretprobe (forced)"));
		check_attach(&p, "kprobe", "kretprobe");
	}
}

TEST(attach_kprobe_where_fentry_is_not)
{
	struct offer all = { { NULL } };
	struct msmvm_err e = { 0 };
	struct msmvm_plan p = { 0 };

	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_FALLBACK, false, offered, &all, &e), 0);
	CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_AUTO, false, false, "EPERM", &e), 0);
	CHECK(!p.fentry);
	CHECK(!strcmp(p.attach, "kprobe"));
	CHECK(!strcmp(p.attach_reason, "kprobe/kretprobe: fentry/fexit unavailable (EPERM)"));
	check_attach(&p, "kprobe", "kretprobe");
	/* forced where it cannot be: a clear error, the plan's attach kinds untouched */
	CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_FENTRY, false, false, "EPERM", &e),
		 -EOPNOTSUPP);
	CHECK_EQ(e.kind, MSMVM_E_ATTACH);
	CHECK(!strcmp(e.msg, "--attach=fentry: fentry/fexit cannot be used here (EPERM); use "
			     "--attach=kprobe, or auto to fall back to kprobes"));
	check_attach(&p, "kprobe", "kretprobe");
}

TEST(attach_uprobes_on_the_model)
{
	struct offer all = { { NULL } };
	struct msmvm_err e = { 0 };
	struct msmvm_plan p = { 0 };

	CHECK_EQ(msmvm_plan_choose(&p, MSMVM_HOOKS_DIRECT, true, offered, &all, &e), 0);
	CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_AUTO, true, false, "", &e), 0);
	CHECK(!strcmp(p.attach, "uprobe"));
	check_attach(&p, "uprobe", "uretprobe");
	CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_KPROBE, true, false, "", &e), -EINVAL);
	CHECK_EQ(e.kind, MSMVM_E_USAGE);
	CHECK(strstr(e.msg, "the model (--sim) is always probed with uprobes"));
	CHECK_EQ(msmvm_attach_choose(&p, MSMVM_ATTACH_FENTRY, true, true, "", &e), -EINVAL);
}

TEST(caps_named)
{
	struct msmvm_err e = { 0 };

	CHECK_EQ(msmvm_caps_suffice(1ULL << CAP_SYS_ADMIN, &e), 0);
	CHECK_EQ(msmvm_caps_suffice(1ULL << CAP_BPF | 1ULL << CAP_PERFMON, &e), 0);
	CHECK_EQ(msmvm_caps_suffice(1ULL << CAP_NET_ADMIN, &e), -EPERM);
	CHECK_EQ(e.kind, MSMVM_E_PERM);
	CHECK(!strncmp(e.msg, "missing capability CAP_BPF and CAP_PERFMON: ", 44));
	CHECK_EQ(msmvm_caps_suffice(1ULL << CAP_BPF, &e), -EPERM);
	CHECK(!strncmp(e.msg, "missing capability CAP_PERFMON: ", 32));
	CHECK_EQ(msmvm_caps_suffice(1ULL << CAP_PERFMON, &e), -EPERM);
	CHECK(!strncmp(e.msg, "missing capability CAP_BPF: ", 28));
}

/*
 * old: an msm from before VM_BIND (struct msm_gem_address_space, no struct msm_gem_vm and
 * no hooks); else one with VM_BIND's struct msm_gem_vm (empty) and a FUNC per hook.
 */
static int write_module_btf(const char *out, bool old)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *mod;
	const void *raw;
	FILE *f;
	__u32 size;
	int proto;

	if (!vmlinux) {
		fprintf(stderr, "test_symbols: no vmlinux BTF: %s\n", strerror(errno));
		return 1;
	}
	mod = btf__new_empty_split(vmlinux);
	btf__add_struct(mod, old ? "msm_gem_address_space" : "msm_gem_vm", 0);
	proto = btf__add_func_proto(mod, 0);
	for (int i = 0; !old && i < msmvm_nhooks; i++)
		if (msmvm_hooks[i].home == MSMVM_IN_DRIVER &&
		    btf__find_by_name_kind(mod, msmvm_hooks[i].function, BTF_KIND_FUNC) < 0)
			btf__add_func(mod, msmvm_hooks[i].function, BTF_FUNC_STATIC, proto);
	raw = btf__raw_data(mod, &size);
	f = fopen(out, "wb");
	if (!raw || !f || fwrite(raw, 1, size, f) != size || fclose(f)) {
		fprintf(stderr, "test_symbols: cannot write %s\n", out);
		return 1;
	}
	btf__free(mod);
	btf__free(vmlinux);
	return 0;
}

int main(int argc, char **argv)
{
	const char *b = getenv("BUILD");

	if (argc == 3 && !strcmp(argv[1], "module-btf"))
		return write_module_btf(argv[2], false);
	if (argc == 3 && !strcmp(argv[1], "module-btf-old"))
		return write_module_btf(argv[2], true);

	snprintf(sim_path, sizeof(sim_path), "%s/msmvm-sim", b ? b : "build");
	return harness_main();
}
