/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libmsmvm: open a target (the running kernel's msm driver, or the msmvm-sim model), plan
 * where the probes go, load and attach them, read aggregates, subscribe to events, close.
 * Every msmvm tool is a thin main() over this.
 */
#ifndef MSMVM_H
#define MSMVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msmvm/abi.h"

/*
 * What loading and attaching need besides CAP_SYS_ADMIN: the 5.8 split of it, newer than
 * some UAPI headers (the numbers are ABI).
 */
#define MSMVM_CAP_PERFMON 38
#define MSMVM_CAP_BPF     39

#ifdef __cplusplus
extern "C" {
#endif

enum msmvm_target_kind {
	MSMVM_TARGET_KERNEL,	/* the running kernel's msm.ko */
	MSMVM_TARGET_SIM,	/* the msmvm-sim binary (uprobes, any process of it) */
};

enum msmvm_hooks_choice {
	MSMVM_HOOKS_AUTO,	/* direct when vm_bind_prealloc_count is attachable */
	MSMVM_HOOKS_DIRECT,
	MSMVM_HOOKS_FALLBACK,
};

/* How the kernel flavor's programs are attached (the model's are uprobes). */
enum msmvm_attach_choice {
	MSMVM_ATTACH_AUTO,	/* fentry/fexit where the running kernel supports them */
	MSMVM_ATTACH_KPROBE,	/* kprobe/kretprobe */
	MSMVM_ATTACH_FENTRY,	/* fentry/fexit, or an error */
};

struct msmvm_opts {
	enum msmvm_target_kind target;
	const char *sim_path;		/* SIM: the model binary (default: next to the tool) */
	const char *btf_path;		/* one BTF file: vmlinux + msm types (dry runs) */
	const char *arch;		/* "arm64" or "x86"; NULL: the BTF's or the host's */
	const char *module;		/* KERNEL: the driver's module (its BTF is
					   /sys/kernel/btf/NAME); NULL: msm if
					   loaded, else msm_kmodel (the kernel twin)
					   if loaded, else msm */
	enum msmvm_hooks_choice hooks;
	enum msmvm_attach_choice attach;	/* KERNEL only */
	uint32_t filter_pid;		/* 0: every process */
	bool filter_tree;		/* only the processes given to msmvm_watch_tgid() and
					   what they fork (a command's tree); filter_pid unused */
	int64_t throttle_limit;		/* pages; 0: the driver's 1024 (the model's --limit) */
	bool events;			/* open the event stream (trace, alerts) */
	bool emit_ops;			/* events: also each VM_BIND's ops (MSMVM_EV_OPS records,
					   read at the ioctl's entry: a cost per op) */
	uint32_t ringbuf_bytes;		/* events: ring buffer size, a power of two >= a page;
					   0: 4 MiB */
	bool dry_run;			/* load into the verifier, never attach */
	bool test_flavor;		/* SIM types, raw_tp programs for BPF_PROG_TEST_RUN (tests) */
	int verbose;			/* libbpf's messages on stderr */
	double forget_after_s;		/* an exited process's entries leave the maps this long
					   after its last VM_BIND and its VMs' last free, folded
					   into the "(exited)" row; 0: the default (300 s), < 0:
					   never (docs/probes.md, "Exited processes") */
};

/* The default of msmvm_opts.forget_after_s: long enough for any short run to keep its rows. */
#define MSMVM_FORGET_AFTER_DEFAULT_S 300.0

/*
 * The row holding what exited processes and their VMs counted, once forgotten: a VM with this
 * id (scope 0) owned by a process row of tgid 0, comm "(exited)". Totals include it.
 */
#define MSMVM_VM_EXITED UINT64_MAX
#define MSMVM_EXITED_COMM "(exited)"

/* A VM's id as the tools print it: 0x<address>, or "exited" for that row. Returns buf. */
const char *msmvm_vm_name(uint64_t vm, char *buf, size_t size);

/* What went wrong, in words a user can act on; code is a negative errno. */
enum msmvm_err_kind {
	MSMVM_E_OK,
	MSMVM_E_USAGE,
	MSMVM_E_PERM,		/* not root / missing capability */
	MSMVM_E_NO_BTF,		/* kernel or file without usable BTF */
	MSMVM_E_NO_DRIVER,	/* msm not loaded / model binary missing */
	MSMVM_E_NO_HOOK,	/* a function to probe is missing */
	MSMVM_E_LOAD,		/* verifier or CO-RE failure */
	MSMVM_E_ATTACH,
	MSMVM_E_RUNTIME,
};

struct msmvm_err {
	enum msmvm_err_kind kind;
	int code;
	char msg[1024];
};

#define MSMVM_MAX_PROBES 12

struct msmvm_probe_plan {
	const char *program;	/* BPF program name */
	const char *function;	/* driver function */
	bool retprobe;
	const char *attach;	/* "fentry", "fexit", "kprobe", "kretprobe", "uprobe", "uretprobe" */
	bool attached;
};

struct msmvm_plan {
	enum msmvm_hook_plan kind;
	char reason[256];	/* one line: why this plan */
	char target[256];	/* what is probed: "kernel 6.18 (msm; kprobes)", "model /path" */
	char arch[16];
	bool fentry;		/* kernel: fentry/fexit (BTF trampolines), else kprobes */
	const char *attach;	/* "fentry" (fentry/fexit), "kprobe" (and kretprobe), "uprobe" */
	char attach_reason[256];	/* one line: why these attach kinds */
	int nprobes;
	struct msmvm_probe_plan probes[MSMVM_MAX_PROBES];
	/* as loaded (msmvm_load), for the headers of traces */
	int64_t throttle_limit;		/* pages; 0: not known */
	bool emit_ops;			/* the event stream carries each call's ops */
};

/* Field offsets the loaded programs were relocated to (read back from the programs). */
struct msmvm_layout {
	int64_t drm_file_driver_priv;
	int64_t msm_context_vm;
	int64_t msm_gem_vm_prealloc_throttle;
	int64_t msm_gem_vm_in_flight;	/* prealloc_throttle.in_flight, from the start of the VM */
	int64_t msm_vm_bind_job_vm;
	int64_t msm_vm_bind_job_prealloc;
	int64_t msm_vm_bind_job_nr_ops;
	int64_t msm_mmu_prealloc_count;
	int64_t msm_mmu_prealloc_ptr;
	int64_t task_struct_nvcsw;
};

struct msmvm_vm_snap {
	uint64_t vm;
	uint32_t scope;		/* tgid for the model (addresses are per process), else 0 */
	uint32_t owner_tgid;
	uint64_t stall_ns;	/* time with a thread in the throttle, the open period included */
	struct msmvm_stats s;
};

struct msmvm_proc_snap {
	uint32_t tgid;
	char comm[MSMVM_COMM_LEN];
	struct msmvm_stats s;	/* in_flight, peak_in_flight: from this process's VMs */
	uint64_t stall_ns;	/* time with a thread of it in the throttle, open period included */
	int nvms;
	int *vm_index;		/* into snapshot.vms */
};

struct msmvm_snapshot {
	uint64_t ts_ns;
	int nvms, nprocs;
	struct msmvm_vm_snap *vms;
	struct msmvm_proc_snap *procs;
	struct msmvm_stats totals;
	uint64_t health[MSMVM_H_COUNT_];
	int nwaiters;			/* threads in the throttle at ts_ns */
	struct msmvm_waiter *waiters;
	uint32_t *waiter_tids;
	/* the maps' occupancy (usage, stalls), and what has been forgotten so far */
	uint32_t usage_entries, usage_max_entries, stalls_entries, stalls_max_entries;
	uint64_t forgotten_procs, forgotten_vms;
};

struct msmvm;

int msmvm_open(const struct msmvm_opts *opts, struct msmvm **out, struct msmvm_err *err);
int msmvm_load(struct msmvm *m, struct msmvm_err *err);	/* plan + verifier */
int msmvm_attach(struct msmvm *m, struct msmvm_err *err);
const struct msmvm_plan *msmvm_get_plan(const struct msmvm *m);
int msmvm_get_layout(struct msmvm *m, struct msmvm_layout *out, struct msmvm_err *err);
int msmvm_snapshot(struct msmvm *m, struct msmvm_snapshot *out, struct msmvm_err *err);
void msmvm_snapshot_free(struct msmvm_snapshot *s);
void msmvm_close(struct msmvm *m);
int msmvm_program_fd(struct msmvm *m, const char *name);	/* tests drive programs */
/* With opts.filter_tree, after load: watch this process and, from then on, its forks. */
int msmvm_watch_tgid(struct msmvm *m, uint32_t tgid, struct msmvm_err *err);

typedef int (*msmvm_event_fn)(void *ctx, const struct msmvm_event *e);
int msmvm_events_subscribe(struct msmvm *m, msmvm_event_fn fn, void *ctx, struct msmvm_err *err);
int msmvm_events_poll(struct msmvm *m, int timeout_ms);	/* events handled, or -errno */

/* Helpers every tool uses. */
void msmvm_stats_merge(struct msmvm_stats *into, const struct msmvm_stats *from);
uint64_t msmvm_hist_percentile(const struct msmvm_hist *h, double p);	/* upper bound */
/* MSMVM_COUNTER_TABLE (abi.h) as data, in output order: index i is enum msmvm_counter_id. */
struct msmvm_counter_desc {
	const char *name;		/* as in msmvm-sim's summary and the JSON */
	size_t offset;			/* in struct msmvm_counters (OVERCOUNT: none, 0) */
	enum msmvm_counter_kind kind;
	bool is_signed;			/* __s64: maxima compare signed */
	const char *prom;		/* Prometheus metric, NULL: not exported as one */
	const char *help;		/* Prometheus HELP */
};
extern const struct msmvm_counter_desc msmvm_counter_table[MSMVM_NCOUNTERS];
int64_t msmvm_counter_value(const struct msmvm_counters *c, int i);
/* now - prev for TOTAL and DRIFT counters; the others (and errno_counts) as in now */
void msmvm_counters_delta(struct msmvm_counters *d, const struct msmvm_counters *now,
			  const struct msmvm_counters *prev);
const char *msmvm_hist_name(int id);
const char *msmvm_health_name(int id);
const char *msmvm_default_sim_path(void);

/*
 * --sim: is the model there? msmvm_sim_running: 1 when a process runs the watched binary now
 * (1 too for a kernel target), 0 if none, -errno if the binary cannot be looked at.
 * msmvm_sim_seen: whether the model took part so far (running at attach or now, or VM_BINDs
 * counted in s; s NULL: a snapshot is taken). msmvm_sim_hint: what to tell the user when it
 * is not (now: "is running", else "ran"), with the command that starts one; returns buf.
 */
int msmvm_sim_running(const struct msmvm *m);
bool msmvm_sim_seen(struct msmvm *m, const struct msmvm_snapshot *s);
const char *msmvm_sim_hint(const struct msmvm *m, bool now, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
