/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few function symbols a session cares about (the probe table's), looked up in one
 * pass over /proc/kallsyms or the model binary's symbol table, kept for the session.
 */
#ifndef MSMVM_LIB_SYMBOLS_H
#define MSMVM_LIB_SYMBOLS_H

#include <stdbool.h>
#include <stdio.h>

#define MSMVM_MAX_SYMBOLS 16
#define MSMVM_MODULE_NAME_LEN 64	/* the kernel's MODULE_NAME_LEN is 56 */

struct msmvm_symbol {
	const char *name;
	const char *module;	/* must be in this module; NULL: anywhere (vmlinux) */
	bool found;
	char found_in[MSMVM_MODULE_NAME_LEN];	/* its module as listed; "": vmlinux, ELF */
	char clone[96];		/* not found: a compiler clone listed instead (name.isra.0) */
	char elsewhere[MSMVM_MODULE_NAME_LEN];	/* not found: the module listing it instead */
};

struct msmvm_symtab {
	int n;
	bool read;		/* looked up already (found or not): never read twice */
	struct msmvm_symbol syms[MSMVM_MAX_SYMBOLS];
};

/* Ask for a function (once per name and module). 0 or -ENOSPC. */
int msmvm_symtab_want(struct msmvm_symtab *t, const char *name, const char *module);
/*
 * One pass over kallsyms-format text: "ADDR TYPE NAME[\t[MODULE]]". Symbols found. A symbol
 * not found keeps what was listed in its stead: a compiler clone (NAME.isra.0, .constprop,
 * .llvm.N) in its module, or the name in another module.
 */
int msmvm_symtab_scan_kallsyms(struct msmvm_symtab *t, FILE *f);
/* The same over /proc/kallsyms; -errno if it cannot be read. */
int msmvm_symtab_read_kallsyms(struct msmvm_symtab *t);
/* One pass over an ELF file's function symbols (defined ones); symbols found or -errno. */
int msmvm_symtab_read_elf(struct msmvm_symtab *t, const char *path);
/*
 * Why the kernel's own lookup of a probe's function failed, from the symbols read: into
 * buf, a clause for an error message ("" when the function is listed where expected).
 */
void msmvm_symbol_explain(const struct msmvm_symbol *s, char *buf, size_t len);
/* The entry for name (NULL if never wanted). */
const struct msmvm_symbol *msmvm_symtab_find(const struct msmvm_symtab *t, const char *name);

#endif
