// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The attach plan of a session: the probe table's functions, looked up where the target
 * keeps them, decide between the direct and the fallback hooks.
 */
#include <bpf/btf.h>

#include "internal.h"
#include "probe_table.h"

/* Does the BTF carry a FUNC record of this name? */
static bool btf_has_func(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

/*
 * Every function of the table, in one pass over the symbols: the model binary's, or the
 * running kernel's kallsyms (driver functions in the driver's module).
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
 * Where a function can be probed: the model binary's symbols; the running kernel's
 * kallsyms plus, in the driver, a BTF FUNC record; a BTF file alone (dry run for another
 * kernel).
 */
static bool hook_available(void *ctx, const struct msmvm_hook *h, const char **why)
{
	struct msmvm *m = ctx;

	if (m->opts.target == MSMVM_TARGET_SIM) {
		*why = "symbol in the model binary";
		return symbol_found(m, h->function);
	}
	if (m->opts.btf_path || m->opts.dry_run) {
		*why = "BTF FUNC record";
		return btf_has_func(m->target_btf, h->function);
	}
	*why = "kallsyms and BTF";
	return symbol_found(m, h->function) &&
	       (h->home != MSMVM_IN_DRIVER || btf_has_func(m->target_btf, h->function));
}

int msmvm_make_plan(struct msmvm *m, struct msmvm_err *err)
{
	return msmvm_plan_choose(&m->plan, m->opts.hooks, m->opts.target == MSMVM_TARGET_SIM,
				 hook_available, m, err);
}
