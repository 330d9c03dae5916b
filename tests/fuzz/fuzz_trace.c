// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the trace reader. The input is a file handed to msmvm_trace_replay(), which
 * msmvm-stat --replay runs on any file it is given: tr_read_file()'s packet framing, the
 * protobuf fields msmvm-trace writes, interning, tracks, and the replay's recount.
 *
 * What msmvm-stat --replay then prints goes through the shared report code (the counters'
 * and histograms' JSON, the text histograms) too.
 *
 * Properties checked besides the sanitizers: a file that replays gives a consistent
 * snapshot (every process's VMs are its own, its counters the sum of theirs), the reader
 * never claims more bytes than the file has, and replaying with -p PID gives exactly that
 * process's counters from the unfiltered replay. Read on past damage (checksums that do not
 * match, framing that breaks), the snapshot is as consistent and the damaged ranges lie
 * inside the file.
 *
 * The same file is also loaded as a workload (msmvm_trace_load_workload, msmvm-tune's
 * input): binds in entry order, each bind's ops inside the ops array and all of them
 * accounted for, binds_without_ops what it says, every bind's process listed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "msmvm/report.h"
#include "msmvm/trace.h"
#include "msmvm/workload.h"

/* What msmvm-stat --replay prints, from the shared report code, into the void. */
static void report(const struct msmvm_snapshot *s)
{
	static FILE *null;
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	if (!null && !(null = fopen("/dev/null", "w")))
		abort();
	json_object_object_add(o, "totals", msmvm_stats_json(&s->totals));
	for (int i = 0; i < s->nvms; i++)
		json_object_array_add(a, msmvm_stats_json(&s->vms[i].s));
	for (int i = 0; i < s->nprocs; i++)
		json_object_array_add(a, msmvm_counters_json(&s->procs[i].s.c));
	json_object_object_add(o, "vms", a);
	json_object_object_add(o, "health", msmvm_health_json(s->health));
	fputs(json_object_to_json_string(o), null);
	json_object_put(o);
	for (int h = 0; h < MSMVM_HIST_COUNT_; h++)
		msmvm_print_hist(null, &s->totals.hist[h], msmvm_hist_name(h));
}

static void check_snapshot(const struct msmvm_snapshot *s)
{
	struct msmvm_counters sum = { 0 };

	FUZZ_CHECK(s->nvms >= 0 && s->nprocs >= 0, "nvms %d nprocs %d", s->nvms, s->nprocs);
	for (int i = 0; i < s->nprocs; i++) {
		const struct msmvm_proc_snap *p = &s->procs[i];
		uint64_t binds = 0;

		FUZZ_CHECK(memchr(p->comm, 0, sizeof(p->comm)), "comm of %u not terminated", p->tgid);
		for (int j = 0; j < p->nvms; j++) {
			int v = p->vm_index[j];

			FUZZ_CHECK(v >= 0 && v < s->nvms, "vm_index %d of %d", v, s->nvms);
			FUZZ_CHECK(s->vms[v].owner_tgid == p->tgid, "VM of %u in process %u",
				   s->vms[v].owner_tgid, p->tgid);
			binds += s->vms[v].s.c.binds;
		}
		FUZZ_CHECK(binds == p->s.c.binds, "process %u: %llu binds, its VMs %llu", p->tgid,
			   (unsigned long long)p->s.c.binds, (unsigned long long)binds);
		sum.binds += p->s.c.binds;
		sum.pages_used += p->s.c.pages_used;
	}
	FUZZ_CHECK(sum.binds == s->totals.c.binds && sum.pages_used == s->totals.c.pages_used,
		   "totals are not the sum of the processes");
}

static void check_workload(const char *path, size_t size)
{
	struct msmvm_trace_info info;
	struct msmvm_workload wl;
	struct msmvm_err err;
	uint64_t without = 0;
	size_t ops = 0;

	if (msmvm_trace_load_workload(path, &wl, &info, &err)) {
		FUZZ_CHECK(err.msg[0] && memchr(err.msg, 0, sizeof(err.msg)), "an error without words");
		FUZZ_CHECK(!wl.binds && !wl.ops && !wl.procs && !wl.nbinds, "an error, and a workload");
		return;
	}
	FUZZ_CHECK(info.bytes <= size, "workload: read %llu bytes of %zu",
		   (unsigned long long)info.bytes, size);
	for (size_t i = 0; i < wl.nbinds; i++) {
		const struct msmvm_wl_bind *b = &wl.binds[i];
		bool listed = false;

		FUZZ_CHECK(!i || wl.binds[i - 1].entry_ns <= b->entry_ns, "bind %zu out of order", i);
		if (b->ops_known) {
			FUZZ_CHECK(b->ops_first == ops && b->ops_first + b->nr_ops <= wl.nops,
				   "bind %zu: ops %zu +%u of %zu", i, b->ops_first, b->nr_ops, wl.nops);
			ops += b->nr_ops;
		} else {
			without++;
		}
		for (size_t p = 0; p < wl.nprocs && !listed; p++)
			listed = wl.procs[p].pid == b->pid;
		FUZZ_CHECK(listed, "bind %zu: process %u not listed", i, b->pid);
	}
	FUZZ_CHECK(ops == wl.nops, "%zu ops in binds, %zu loaded", ops, wl.nops);
	FUZZ_CHECK(without == wl.binds_without_ops, "%llu binds without ops, said %llu",
		   (unsigned long long)without, (unsigned long long)wl.binds_without_ops);
	for (size_t p = 0; p < wl.nprocs; p++)
		FUZZ_CHECK(memchr(wl.procs[p].comm, 0, sizeof(wl.procs[p].comm)),
			   "comm of %u not terminated", wl.procs[p].pid);
	msmvm_workload_free(&wl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct msmvm_snapshot snap, one;
	struct msmvm_trace_info info, info1;
	struct msmvm_err err;

	check_workload(path, size);
	/* read on past damage: the same consistency, damaged ranges inside the file */
	if (!msmvm_trace_replay_ex(path, 0, MSMVM_TRACE_READ_IGNORE_DAMAGE, &snap, &info, &err)) {
		for (uint64_t i = 0; i < info.damaged && i < MSMVM_TRACE_DAMAGE_MAX; i++)
			FUZZ_CHECK(info.damage[i].from < info.damage[i].to &&
				   info.damage[i].to <= size && info.damage[i].why,
				   "damage %llu..%llu in a file of %zu",
				   (unsigned long long)info.damage[i].from,
				   (unsigned long long)info.damage[i].to, size);
		check_snapshot(&snap);
		msmvm_snapshot_free(&snap);
	} else {
		FUZZ_CHECK(err.code != -EBADMSG, "damage refused despite the flag: %s", err.msg);
	}
	if (msmvm_trace_replay(path, 0, &snap, &info, &err)) {
		FUZZ_CHECK(err.msg[0] && memchr(err.msg, 0, sizeof(err.msg)), "an error without words");
		return 0;
	}
	FUZZ_CHECK(info.bytes <= size, "read %llu bytes of %zu", (unsigned long long)info.bytes,
		   size);
	check_snapshot(&snap);
	report(&snap);
	if (snap.nprocs > 0) {
		const struct msmvm_proc_snap *p = &snap.procs[snap.nprocs - 1];

		if (p->tgid) {
			FUZZ_CHECK(!msmvm_trace_replay(path, p->tgid, &one, &info1, &err),
				   "-p %u fails where the full replay did not: %s", p->tgid, err.msg);
			FUZZ_CHECK(!memcmp(&one.totals.c, &p->s.c, sizeof(p->s.c)),
				   "-p %u: counters differ from the process's in the full replay",
				   p->tgid);
			for (int i = 0; i < one.nvms; i++)
				FUZZ_CHECK(one.vms[i].owner_tgid == p->tgid, "-p %u kept a VM of %u",
					   p->tgid, one.vms[i].owner_tgid);
			msmvm_snapshot_free(&one);
		}
	}
	msmvm_snapshot_free(&snap);
	return 0;
}
