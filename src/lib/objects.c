// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The BPF objects, embedded through their bpftool skeletons. The per-flavor glue is one
 * macro: it reads a skeleton's typed fields (progs.<name>, maps.<name>, rodata->config,
 * bss->layout) into struct msmvm_bpf, so everything else is flavor-neutral.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "msmvm_kernel_arm64.skel.h"
#include "msmvm_kernel_x86.skel.h"
#include "msmvm_kernel_fentry_arm64.skel.h"
#include "msmvm_kernel_fentry_x86.skel.h"
#include "msmvm_model.skel.h"
#include "msmvm_test.skel.h"

struct msmvm_flavor {
	const char *name;
	int (*open)(struct msmvm_bpf *b, const struct bpf_object_open_opts *oo);
	int (*load)(void *skel);
	int (*layout)(const void *skel, struct msmvm_layout *out);
	void (*destroy)(void *skel);
};

/* The fields of struct msmvm_layout, as the programs name them in .bss's `layout`. */
#define LAYOUT_FIELDS(X)								\
	X(drm_file_driver_priv)								\
	X(msm_context_vm)								\
	X(msm_gem_vm_prealloc_throttle)							\
	X(msm_gem_vm_in_flight)								\
	X(msm_vm_bind_job_vm)								\
	X(msm_vm_bind_job_prealloc)							\
	X(msm_vm_bind_job_nr_ops)							\
	X(msm_mmu_prealloc_count)							\
	X(msm_mmu_prealloc_ptr)								\
	X(task_struct_nvcsw)

#define SET_PROG_(name) b->progs[MSMVM_PROG_##name] = skel->progs.name;
#define SET_MAP_(name) b->maps[MSMVM_MAP_##name] = skel->maps.name;
#define GET_LAYOUT_(name) out->name = skel->bss->layout.name;

#define FLAVOR(skel_name, flavor_name)							\
static int skel_name##_open(struct msmvm_bpf *b, const struct bpf_object_open_opts *oo)	\
{											\
	struct skel_name *skel = skel_name##__open_opts(oo);				\
											\
	if (!skel)									\
		return -errno;								\
	b->skel = skel;									\
	b->obj = skel->obj;								\
	b->config = &skel->rodata->config;						\
	MSMVM_PROGRAMS(SET_PROG_)							\
	MSMVM_MAPS(SET_MAP_)								\
	return 0;									\
}											\
static int skel_name##_load(void *skel)							\
{											\
	return skel_name##__load(skel);							\
}											\
static int skel_name##_layout(const void *p, struct msmvm_layout *out)			\
{											\
	const struct skel_name *skel = p;						\
											\
	if (!skel->bss)		/* not mapped: a kernel without mmap of arrays */	\
		return -EOPNOTSUPP;							\
	LAYOUT_FIELDS(GET_LAYOUT_)							\
	return 0;									\
}											\
static void skel_name##_destroy(void *skel)						\
{											\
	skel_name##__destroy(skel);							\
}											\
static const struct msmvm_flavor skel_name##_flavor = {					\
	.name = flavor_name,								\
	.open = skel_name##_open,							\
	.load = skel_name##_load,							\
	.layout = skel_name##_layout,							\
	.destroy = skel_name##_destroy,							\
};

FLAVOR(msmvm_kernel_arm64, "kernel-arm64")
FLAVOR(msmvm_kernel_x86, "kernel-x86")
FLAVOR(msmvm_kernel_fentry_arm64, "kernel-fentry-arm64")
FLAVOR(msmvm_kernel_fentry_x86, "kernel-fentry-x86")
FLAVOR(msmvm_model, "model")
FLAVOR(msmvm_test, "test")

const struct msmvm_flavor *msmvm_flavor_find(enum msmvm_target_kind target, const char *arch,
					     bool test, bool fentry)
{
	if (test)
		return &msmvm_test_flavor;
	if (target == MSMVM_TARGET_SIM)
		return &msmvm_model_flavor;
	if (arch && !strcmp(arch, "arm64"))
		return fentry ? &msmvm_kernel_fentry_arm64_flavor : &msmvm_kernel_arm64_flavor;
	if (arch && !strcmp(arch, "x86"))
		return fentry ? &msmvm_kernel_fentry_x86_flavor : &msmvm_kernel_x86_flavor;
	return NULL;
}

const char *msmvm_flavor_name(const struct msmvm_flavor *f)
{
	return f->name;
}

int msmvm_bpf_open(struct msmvm_bpf *b, const struct msmvm_flavor *f,
		   const struct bpf_object_open_opts *oo)
{
	memset(b, 0, sizeof(*b));
	b->flavor = f;
	return f->open(b, oo);
}

int msmvm_bpf_load(struct msmvm_bpf *b)
{
	return b->flavor->load(b->skel);
}

int msmvm_bpf_layout(const struct msmvm_bpf *b, struct msmvm_layout *out)
{
	return b->flavor->layout(b->skel, out);
}

void msmvm_bpf_destroy(struct msmvm_bpf *b)
{
	if (b->skel)
		b->flavor->destroy(b->skel);
	memset(b, 0, sizeof(*b));
}

#define PROG_NAME_(name) #name,
static const char *const prog_names[MSMVM_NPROGS] = { MSMVM_PROGRAMS(PROG_NAME_) };
#undef PROG_NAME_

const char *msmvm_prog_name(enum msmvm_prog_id id)
{
	return id < MSMVM_NPROGS ? prog_names[id] : "?";
}

int msmvm_prog_id(const char *name)
{
	for (int i = 0; i < MSMVM_NPROGS; i++)
		if (!strcmp(prog_names[i], name))
			return i;
	return -1;
}
