/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MSMVM_LIB_INTERNAL_H
#define MSMVM_LIB_INTERNAL_H

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "msmvm/msmvm.h"
#include "objects.h"
#include "symbols.h"

#define MSMVM_MODULE "msm"			/* the driver */
#define MSMVM_TWIN_MODULE "msm_kmodel"		/* its kernel twin (docs/kmodel.md) */

struct msmvm_gauge_seen {
	__u64 vm;
	__u64 frees;
	__u64 moved_ns;
};

/* What forget.c took out of the maps: the "(exited)" row's counts. */
struct msmvm_forgotten {
	struct msmvm_stats s;		/* the forgotten usage entries, merged */
	uint64_t vm_stall_ns;		/* the forgotten VMs' stall gauges */
	uint64_t proc_stall_ns;		/* the forgotten processes' */
	uint64_t entries, vms, procs;
	uint64_t next_ns;		/* the next pass: not before (CLOCK_MONOTONIC ns) */
	bool pidns_checked, pidns_initial;
};

struct msmvm {
	struct msmvm_opts opts;
	char module[64];		/* the kernel: the driver's module, decided at start-up */
	char sim_path[4096];
	struct msmvm_plan plan;
	struct btf *target_btf;		/* where hooks and types are looked up */
	struct btf *target_btf_base;	/* vmlinux, when target_btf is split (msm) */
	char *tmp_btf_path;		/* merged model + vmlinux BTF, removed at close */
	struct msmvm_symtab syms;	/* the probe table's functions, read once */
	struct msmvm_bpf bpf;		/* the flavor's skeleton, from msmvm_load */
	struct bpf_link *links[MSMVM_MAX_PROBES];
	struct bpf_link *fork_link;	/* opts.filter_tree: process_fork */
	struct ring_buffer *rb;
	msmvm_event_fn event_fn;
	void *event_ctx;
	const struct msmvm_vm_gauge *gauges;	/* vm_gauges, mapped in place (snapshot.c) */
	struct msmvm_gauge_seen *gauges_seen;	/* per slot: its frees, and when they last moved */
	struct msmvm_forgotten *forgotten;	/* exited processes' counts (forget.c) */
	bool loaded;
	bool sim_at_attach;		/* --sim: a model process ran when attached (sim_presence.c) */
};

void msmvm_gauges_unmap(struct msmvm *m);
int msmvm_fail(struct msmvm_err *err, enum msmvm_err_kind kind, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int msmvm_check_caps(struct msmvm_err *err);
int msmvm_caps_suffice(uint64_t effective, struct msmvm_err *err);
int msmvm_make_plan(struct msmvm *m, struct msmvm_err *err);
/*
 * The kernel did not find func (a probe's attach or an fentry program's load failed):
 * why, from one pass over kallsyms, as a clause for the error ("" if nothing to add).
 */
void msmvm_explain_lookup(struct msmvm *m, const char *func, char *buf, size_t len);
int msmvm_probe_kernel(struct msmvm *m, struct msmvm_err *err);
int msmvm_probe_sim(struct msmvm *m, struct msmvm_err *err);
int msmvm_probe_btf_file(struct msmvm *m, struct msmvm_err *err);
const char *msmvm_btf_arch(const struct btf *btf);
const char *msmvm_host_arch(void);
const char *msmvm_driver_module(const struct msmvm *m);
int snapshot_fold_procs(struct msmvm_snapshot *out);	/* snapshot.c */
struct msmvm_forgotten *forget_state(struct msmvm *m);	/* forget.c */
int forget_exited(struct msmvm *m, const struct msmvm_snapshot *snap);
bool msmvm_in_init_pidns(void);	/* forget.c: our pids are the ones the probes see */

#endif
