// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Function symbols, looked up for the probe table's few names in a single pass. Reading
 * /proc/kallsyms is the cost (some 150 000 lines; seconds under emulation), so on a kernel
 * it is read only to explain a failed lookup (the plan is made from BTF), at most once.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "symbols.h"

int msmvm_symtab_want(struct msmvm_symtab *t, const char *name, const char *module)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->syms[i].name, name) &&
		    (t->syms[i].module == module ||
		     (module && t->syms[i].module && !strcmp(t->syms[i].module, module))))
			return 0;
	if (t->n == MSMVM_MAX_SYMBOLS)
		return -ENOSPC;
	t->syms[t->n++] = (struct msmvm_symbol){ .name = name, .module = module };
	return 0;
}

const struct msmvm_symbol *msmvm_symtab_find(const struct msmvm_symtab *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->syms[i].name, name))
			return &t->syms[i];
	return NULL;
}

/* Mark name found (in module, "" for none) where it is wanted; how many newly found. */
static int mark(struct msmvm_symtab *t, const char *name, const char *module)
{
	int newly = 0;

	for (int i = 0; i < t->n; i++) {
		struct msmvm_symbol *s = &t->syms[i];

		if (s->found || strcmp(s->name, name) || (s->module && strcmp(s->module, module)))
			continue;
		s->found = true;
		snprintf(s->found_in, sizeof(s->found_in), "%s", module);
		newly++;
	}
	return newly;
}

/* What kallsyms lists in a wanted symbol's stead: its clone, or it in another module. */
static void note_stand_in(struct msmvm_symtab *t, const char *name, const char *module)
{
	for (int i = 0; i < t->n; i++) {
		struct msmvm_symbol *s = &t->syms[i];
		size_t n = strlen(s->name);
		bool in_module = !s->module || !strcmp(s->module, module);

		if (s->found)
			continue;
		if (in_module && !strncmp(name, s->name, n) && name[n] == '.' && !s->clone[0])
			snprintf(s->clone, sizeof(s->clone), "%s", name);
		else if (!in_module && !strcmp(name, s->name) && !s->elsewhere[0])
			snprintf(s->elsewhere, sizeof(s->elsewhere), "%s", module[0] ? module : "vmlinux");
	}
}

int msmvm_symtab_scan_kallsyms(struct msmvm_symtab *t, FILE *f)
{
	char line[512];
	int found = 0;

	while (found < t->n && fgets(line, sizeof(line), f)) {
		char *type, *name, *end, *module = "";

		/* "ffffffff81234560 T name" or "... t name\t[module]" */
		type = strchr(line, ' ');
		if (!type || (type[1] != 't' && type[1] != 'T') || type[2] != ' ')
			continue;
		name = type + 3;
		end = name + strcspn(name, " \t\n");
		if (*end == '\t' && end[1] == '[') {
			module = end + 2;
			module[strcspn(module, "]")] = 0;
		}
		*end = 0;
		found += mark(t, name, module);
		note_stand_in(t, name, module);
	}
	return found;
}

int msmvm_symtab_read_kallsyms(struct msmvm_symtab *t)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	int found;

	t->read = true;
	if (!f)
		return -errno;
	/* stdio would read procfs 1 KiB at a time: thousands of system calls */
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	found = msmvm_symtab_scan_kallsyms(t, f);
	fclose(f);
	return found;
}

int msmvm_symtab_read_elf(struct msmvm_symtab *t, const char *path)
{
	Elf_Scn *scn = NULL;
	int fd, found = 0;
	Elf *elf;

	t->read = true;
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && found < t->n && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (!gelf_getsym(d, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    !s.st_value)
				continue;
			n = elf_strptr(elf, sh.sh_link, s.st_name);
			if (n)
				found += mark(t, n, "");
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

void msmvm_symbol_explain(const struct msmvm_symbol *s, char *buf, size_t len)
{
	const char *mod = s->module ? s->module : "vmlinux";

	if (s->found)
		snprintf(buf, len, "%s", "");
	else if (s->clone[0])
		snprintf(buf, len, "; kallsyms lists only %s in [%s], a compiler clone the kernel "
			 "does not find by name", s->clone, mod);
	else if (s->elsewhere[0])
		snprintf(buf, len, "; kallsyms lists %s in [%s], not in [%s]", s->name,
			 s->elsewhere, mod);
	else
		snprintf(buf, len, "; kallsyms does not list %s%s%s (inlined?)", s->name,
			 s->module ? " in " : "", s->module ? s->module : "");
}
