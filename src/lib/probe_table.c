// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where the programs go, as data. Section names carry no attach target (docs/probes.md):
 * this table does, and the plan is chosen from what the target offers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "probe_table.h"

#define DIRECT MSMVM_PLAN_BIT(MSMVM_PLAN_DIRECT)
#define FALLBACK MSMVM_PLAN_BIT(MSMVM_PLAN_FALLBACK)
#define P(name) MSMVM_PROG_##name

const struct msmvm_hook msmvm_hooks[] = {
	/* function, home, program, retprobe, plans */
	{ "msm_ioctl_vm_bind", MSMVM_IN_DRIVER, P(ioctl_vm_bind_entry), false, MSMVM_IN_BOTH },
	{ "msm_ioctl_vm_bind", MSMVM_IN_DRIVER, P(ioctl_vm_bind_return), true, MSMVM_IN_BOTH },
	{ "vm_bind_prealloc_count", MSMVM_IN_DRIVER, P(prealloc_count_entry), false, DIRECT },
	{ "vm_bind_prealloc_count", MSMVM_IN_DRIVER, P(prealloc_count_return), true, DIRECT },
	{ "prepare_to_wait_event", MSMVM_IN_VMLINUX, P(prepare_to_wait_event_entry), false,
	  FALLBACK },
	{ "prepare_to_wait_event", MSMVM_IN_VMLINUX, P(prepare_to_wait_event_return), true,
	  FALLBACK },
	{ "finish_wait", MSMVM_IN_VMLINUX, P(finish_wait_entry), false, FALLBACK },
	{ "msm_iommu_pagetable_prealloc_allocate", MSMVM_IN_DRIVER, P(prealloc_allocate_entry),
	  false, FALLBACK },
	{ "msm_vma_job_free", MSMVM_IN_DRIVER, P(job_free_entry), false, MSMVM_IN_BOTH },
	{ "msm_vma_job_free", MSMVM_IN_DRIVER, P(job_free_return), true, MSMVM_IN_BOTH },
};
const int msmvm_nhooks = sizeof(msmvm_hooks) / sizeof(msmvm_hooks[0]);

static const struct msmvm_hook *hook_of(const char *function)
{
	for (int i = 0; i < msmvm_nhooks; i++)
		if (!strcmp(msmvm_hooks[i].function, function))
			return &msmvm_hooks[i];
	return NULL;
}

int msmvm_plan_choose(struct msmvm_plan *p, enum msmvm_hooks_choice hooks, bool model,
		      msmvm_hook_available_fn available, void *ctx, struct msmvm_err *err)
{
	const char *why = "";
	bool direct_ok;

	direct_ok = available(ctx, hook_of(MSMVM_DIRECT_FUNCTION), &why);
	switch (hooks) {
	case MSMVM_HOOKS_DIRECT:
		if (!direct_ok)
			return msmvm_fail(err, MSMVM_E_NO_HOOK, ENOENT,
					  "vm_bind_prealloc_count cannot be probed on this target "
					  "(no %s): it was inlined; use --hooks=fallback or auto", why);
		p->kind = MSMVM_PLAN_DIRECT;
		snprintf(p->reason, sizeof(p->reason), "direct hooks (forced)");
		break;
	case MSMVM_HOOKS_FALLBACK:
		p->kind = MSMVM_PLAN_FALLBACK;
		snprintf(p->reason, sizeof(p->reason),
			 "fallback hooks (forced): wait from prepare_to_wait_event/finish_wait, "
			 "count from msm_iommu_pagetable_prealloc_allocate");
		break;
	default:
		p->kind = direct_ok ? MSMVM_PLAN_DIRECT : MSMVM_PLAN_FALLBACK;
		snprintf(p->reason, sizeof(p->reason),
			 direct_ok ? "direct hooks: vm_bind_prealloc_count found (%s)"
				   : "fallback hooks: vm_bind_prealloc_count not found (%s), probably "
				     "inlined",
			 why);
		break;
	}

	p->nprobes = 0;
	for (int i = 0; i < msmvm_nhooks; i++) {
		const struct msmvm_hook *h = &msmvm_hooks[i];

		if (!(h->plans & MSMVM_PLAN_BIT(p->kind)))
			continue;
		if (p->nprobes == MSMVM_MAX_PROBES)
			return msmvm_fail(err, MSMVM_E_RUNTIME, ENOSPC, "too many probes in the plan");
		p->probes[p->nprobes++] = (struct msmvm_probe_plan){
			.program = msmvm_prog_name(h->program), .function = h->function, .retprobe = h->retprobe,
		};
		if (!available(ctx, h, &why))
			return msmvm_fail(err, MSMVM_E_NO_HOOK, ENOENT,
					  "%s cannot be probed on this target (no %s)%s",
					  h->function, why,
					  model ? ": is this an msmvm-sim binary?" : "");
	}
	return 0;
}

int msmvm_attach_choose(struct msmvm_plan *p, enum msmvm_attach_choice choice, bool model,
			bool fentry_ok, const char *why, struct msmvm_err *err)
{
	if (model) {
		if (choice != MSMVM_ATTACH_AUTO)
			return msmvm_fail(err, MSMVM_E_USAGE, EINVAL,
					  "--attach chooses between kprobes and fentry/fexit on the "
					  "kernel; the model (--sim) is always probed with uprobes");
		p->fentry = false;
		snprintf(p->attach_reason, sizeof(p->attach_reason),
			 "uprobe/uretprobe on the model binary");
	} else if (choice == MSMVM_ATTACH_KPROBE) {
		p->fentry = false;
		snprintf(p->attach_reason, sizeof(p->attach_reason), "kprobe/kretprobe (forced)");
	} else if (!fentry_ok && choice == MSMVM_ATTACH_FENTRY) {
		return msmvm_fail(err, MSMVM_E_ATTACH, EOPNOTSUPP,
				  "--attach=fentry: fentry/fexit cannot be used here (%s); use "
				  "--attach=kprobe, or auto to fall back to kprobes", why);
	} else {
		p->fentry = fentry_ok;
		snprintf(p->attach_reason, sizeof(p->attach_reason), "%s%s: %s",
			 fentry_ok ? "fentry/fexit" : "kprobe/kretprobe",
			 choice == MSMVM_ATTACH_FENTRY ? " (forced)" : "",
			 fentry_ok ? why : "fentry/fexit unavailable");
		if (!fentry_ok)	/* the reason why, after the verdict */
			snprintf(p->attach_reason + strlen(p->attach_reason),
				 sizeof(p->attach_reason) - strlen(p->attach_reason), " (%s)", why);
	}
	p->attach = model ? "uprobe" : p->fentry ? "fentry" : "kprobe";
	if (p->fentry) {
		/* one fexit on prepare_to_wait_event sees its queue and its return: no entry */
		int n = 0;

		for (int i = 0; i < p->nprobes; i++)
			if (strcmp(p->probes[i].program,
				   msmvm_prog_name(MSMVM_PROG_prepare_to_wait_event_entry)))
				p->probes[n++] = p->probes[i];
		p->nprobes = n;
	}
	for (int i = 0; i < p->nprobes; i++) {
		struct msmvm_probe_plan *pp = &p->probes[i];

		pp->attach = model	   ? (pp->retprobe ? "uretprobe" : "uprobe")
			     : p->fentry ? (pp->retprobe ? "fexit" : "fentry")
					 : (pp->retprobe ? "kretprobe" : "kprobe");
	}
	return 0;
}
