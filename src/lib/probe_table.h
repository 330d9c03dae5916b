/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The probe table: which functions are hooked, where they live, by which programs, in
 * which plan; and the choice of plan from which of them a target offers.
 */
#ifndef MSMVM_LIB_PROBE_TABLE_H
#define MSMVM_LIB_PROBE_TABLE_H

#include "msmvm/msmvm.h"
#include "objects.h"

enum msmvm_hook_home {
	MSMVM_IN_DRIVER,	/* the driver's module: opts.module, "msm" by default */
	MSMVM_IN_VMLINUX,	/* the kernel proper */
};

#define MSMVM_PLAN_BIT(kind) (1u << (kind))
#define MSMVM_IN_BOTH (MSMVM_PLAN_BIT(MSMVM_PLAN_DIRECT) | MSMVM_PLAN_BIT(MSMVM_PLAN_FALLBACK))

struct msmvm_hook {
	const char *function;
	enum msmvm_hook_home home;
	enum msmvm_prog_id program;	/* its BPF program (a typed skeleton field) */
	bool retprobe;
	unsigned int plans;	/* MSMVM_PLAN_BIT() of each plan it is part of */
};

/* In attach-plan order: a plan's probes are its rows, top to bottom. */
extern const struct msmvm_hook msmvm_hooks[];
extern const int msmvm_nhooks;

/* The function the direct plan exists for: where it was inlined, the fallback is used. */
#define MSMVM_DIRECT_FUNCTION "vm_bind_prealloc_count"

/* Can the target's function be probed? why: what was looked at, for messages. */
typedef bool (*msmvm_hook_available_fn)(void *ctx, const struct msmvm_hook *h, const char **why);

/*
 * Choose the plan (hooks: the user's choice) and fill p's kind, reason and probes; every
 * probe of it must be available. model: the target is msmvm-sim (for the hint on failure).
 */
int msmvm_plan_choose(struct msmvm_plan *p, enum msmvm_hooks_choice hooks, bool model,
		      msmvm_hook_available_fn available, void *ctx, struct msmvm_err *err);

/*
 * How the plan's probes attach (after msmvm_plan_choose): uprobes for the model; for the
 * kernel, fentry/fexit or kprobes, by the user's choice and whether the running kernel can
 * take fentry/fexit on the plan's functions (fentry_ok; why: what was found, or what is
 * missing). Fills p's fentry, attach_reason and each probe's attach kind.
 */
int msmvm_attach_choose(struct msmvm_plan *p, enum msmvm_attach_choice choice, bool model,
			bool fentry_ok, const char *why, struct msmvm_err *err);

#endif
