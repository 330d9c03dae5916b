/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Building one BTF out of several, for CO-RE targets that libbpf wants as a single file:
 * whole merges (tools/btfmerge: vmlinux + msm.ko) and a closure copy (libmsmvm: a few
 * kernel structs and what they embed, next to the model's types). Public libbpf 1.1 API
 * only, plus the type-id walk it does not export.
 */
#ifndef MSMVM_LIB_BTF_MERGE_H
#define MSMVM_LIB_BTF_MERGE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <bpf/btf.h>

/* Where messages go: errors always, notes (decisions taken) only if the caller wants. */
struct btf_merge_log {
	void (*print)(void *ctx, bool error, const char *fmt, va_list ap);
	void *ctx;
};

/* Call fn on every field of t that holds a type id (-EOPNOTSUPP: a kind not known). */
int btf_visit_type_ids(struct btf_type *t, int (*fn)(__u32 *id, void *ctx), void *ctx);
/* Call fn on every string offset of t. */
int btf_visit_str_offs(struct btf_type *t, int (*fn)(__u32 *off, void *ctx), void *ctx);

/* Do all type ids and name offsets of btf's own types resolve? (libbpf 1.1 does not check) */
bool btf_refs_consistent(const struct btf *btf);

/*
 * BASE's types with their ids, then each EXTRA split on BASE (the first keeps its ids),
 * then each standalone EXTRA (ids remapped). The kind of each EXTRA is detected. NULL on
 * failure, said through log.
 */
struct btf *btf_merge_files(const char *base_path, char *const *extras, int n_extras,
			    const struct btf_merge_log *log);

/*
 * The vmlinux BTF blob inside an uncompressed kernel Image: the largest candidate that
 * parses. 0 with *off and *len set, or -1 (said through log).
 */
int btf_find_in_image(const unsigned char *img, size_t size, const char *img_name,
		      size_t *off, size_t *len, const struct btf_merge_log *log);

/*
 * Copy the named structs of src, and every type they embed, into dst. Pointers to structs
 * and unions become pointers to a forward declaration, pointers to functions void
 * pointers: CO-RE relocates a read through a pointer against the pointee's own type, so
 * the closure stays a few hundred types. A name src lacks is skipped. 0 or -errno.
 */
int btf_copy_structs(struct btf *dst, const struct btf *src, const char *const *names,
		     size_t n_names);

#endif
