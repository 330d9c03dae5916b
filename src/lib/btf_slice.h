/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MSMVM_LIB_BTF_SLICE_H
#define MSMVM_LIB_BTF_SLICE_H

#include <stddef.h>

#include <bpf/btf.h>

/*
 * The named structs of the BTF file at path (the kernel's: /sys/kernel/btf/vmlinux) and
 * every type they embed, as btf_copy_structs() copies them (pointers to structs and unions
 * to a forward declaration, to functions to void), without parsing the whole file: a
 * small BTF of its own, or NULL with errno set. A name the file lacks is skipped.
 */
struct btf *btf_vmlinux_slice(const char *path, const char *const *names, size_t n_names);

#endif
