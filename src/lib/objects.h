/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The embedded BPF objects, one per flavor, through their bpftool skeletons: each flavor's
 * typed skeleton (struct msmvm_model, ...) is read once, in objects.c, into one
 * flavor-neutral struct msmvm_bpf. The programs and maps every flavor has are listed here
 * by the names the skeletons give their fields: a flavor without one fails to compile.
 */
#ifndef MSMVM_LIB_OBJECTS_H
#define MSMVM_LIB_OBJECTS_H

#include <bpf/libbpf.h>

#include "msmvm/msmvm.h"

#define MSMVM_PROGRAMS(X)								\
	X(ioctl_vm_bind_entry)								\
	X(ioctl_vm_bind_return)								\
	X(prealloc_count_entry)								\
	X(prealloc_count_return)							\
	X(prepare_to_wait_event_entry)							\
	X(prepare_to_wait_event_return)							\
	X(finish_wait_entry)								\
	X(prealloc_allocate_entry)							\
	X(job_free_entry)								\
	X(job_free_return)								\
	X(process_fork)									\
	X(report_layout)

#define MSMVM_MAPS(X)									\
	X(usage)									\
	X(stalls)									\
	X(vm_owner)									\
	X(vm_gauges)									\
	X(threads)									\
	X(jobs)										\
	X(health)									\
	X(events)									\
	X(pending_frees)								\
	X(waiting)									\
	X(watched)

#define MSMVM_PROG_ID_(name) MSMVM_PROG_##name,
enum msmvm_prog_id { MSMVM_PROGRAMS(MSMVM_PROG_ID_) MSMVM_NPROGS };
#undef MSMVM_PROG_ID_
#define MSMVM_MAP_ID_(name) MSMVM_MAP_##name,
enum msmvm_map_id { MSMVM_MAPS(MSMVM_MAP_ID_) MSMVM_NMAPS };
#undef MSMVM_MAP_ID_

struct msmvm_flavor;

/* One opened flavor object: pointers into its skeleton. */
struct msmvm_bpf {
	const struct msmvm_flavor *flavor;
	void *skel;				/* struct msmvm_<flavor> */
	struct bpf_object *obj;
	struct msmvm_bpf_config *config;	/* .rodata's `config`: set before load */
	struct bpf_program *progs[MSMVM_NPROGS];
	struct bpf_map *maps[MSMVM_NMAPS];
};

/*
 * The flavor for a target: the model, the kernel of an arch ("arm64", "x86") with kprobes
 * or (fentry) with fentry/fexit, or the test flavor. NULL: no object for that arch.
 */
const struct msmvm_flavor *msmvm_flavor_find(enum msmvm_target_kind target, const char *arch,
					     bool test, bool fentry);
const char *msmvm_flavor_name(const struct msmvm_flavor *f);	/* "model", "kernel-arm64" */

/* Open (0 or -errno), load (libbpf's result), read .bss's layout (0 or -errno), destroy. */
int msmvm_bpf_open(struct msmvm_bpf *b, const struct msmvm_flavor *f,
		   const struct bpf_object_open_opts *oo);
int msmvm_bpf_load(struct msmvm_bpf *b);
int msmvm_bpf_layout(const struct msmvm_bpf *b, struct msmvm_layout *out);
void msmvm_bpf_destroy(struct msmvm_bpf *b);

/* A program's name (as in struct msmvm_probe_plan), and its id from that name (or -1). */
const char *msmvm_prog_name(enum msmvm_prog_id id);
int msmvm_prog_id(const char *name);

/* A map's fd, negative before load. */
static inline int msmvm_map_fd(const struct msmvm_bpf *b, enum msmvm_map_id id)
{
	return b->maps[id] ? bpf_map__fd(b->maps[id]) : -1;
}

#endif
