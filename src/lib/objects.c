// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The BPF objects, embedded through their bpftool skeletons. */
#include <string.h>

#include "internal.h"
#include "msmvm_kernel_arm64.skel.h"
#include "msmvm_kernel_x86.skel.h"
#include "msmvm_model.skel.h"
#include "msmvm_test.skel.h"

const void *msmvm_flavor_object(enum msmvm_target_kind target, const char *arch, bool test,
				size_t *size, const char **name)
{
	if (test) {
		*name = "test";
		return msmvm_test__elf_bytes(size);
	}
	if (target == MSMVM_TARGET_SIM) {
		*name = "model";
		return msmvm_model__elf_bytes(size);
	}
	if (arch && !strcmp(arch, "arm64")) {
		*name = "kernel-arm64";
		return msmvm_kernel_arm64__elf_bytes(size);
	}
	if (arch && !strcmp(arch, "x86")) {
		*name = "kernel-x86";
		return msmvm_kernel_x86__elf_bytes(size);
	}
	return NULL;
}
