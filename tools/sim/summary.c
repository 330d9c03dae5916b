// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-sim run's summary JSON, one shape for both drivers: the model's run (sim_main.c)
 * and the kernel twin's (kernel_run.c) fill the same struct proc_result, and the totals are
 * summed here, once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim_run.h"

/*
 * How long this thread waited for a CPU (the second field of schedstat). Observers that time
 * a call from outside (uprobe to uretprobe) and the model's own clock reads inside it can
 * differ by more than the trap cost only when the thread is preempted in between: the tests
 * allow this much more.
 */
u64 thread_run_delay_ns(void)
{
	unsigned long long run, delay = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "re");

	if (f) {
		if (fscanf(f, "%llu %llu", &run, &delay) != 2)
			delay = 0;
		fclose(f);
	}
	return delay;
}


struct totals {
	u64 binds, ops, errors, pages_counted, pages_used, waits, interrupted_waits;
	u64 wait_ns_total, wait_ns_max;
	s64 peak_in_flight, in_flight, drift;
};

static void totals_add_vm(struct totals *t, const struct vm_result *r)
{
	const struct msm_vm_truth *x = &r->truth;

	t->binds += x->binds;
	t->ops += x->ops;
	t->errors += x->errors;
	t->pages_counted += x->pages_counted;
	t->pages_used += x->pages_used;
	t->waits += x->waits;
	t->interrupted_waits += x->interrupted_waits;
	t->wait_ns_total += x->wait_ns_total;
	if (x->wait_ns_max > t->wait_ns_max)
		t->wait_ns_max = x->wait_ns_max;
	if (x->peak_in_flight > t->peak_in_flight)
		t->peak_in_flight = x->peak_in_flight;
	t->in_flight += r->in_flight;
	/* drift: final in_flight minus the pages of jobs still outstanding */
	t->drift += (s64)r->in_flight - x->outstanding_pages;
}

static void totals_merge(struct totals *t, const struct totals *s)
{
	t->binds += s->binds;
	t->ops += s->ops;
	t->errors += s->errors;
	t->pages_counted += s->pages_counted;
	t->pages_used += s->pages_used;
	t->waits += s->waits;
	t->interrupted_waits += s->interrupted_waits;
	t->wait_ns_total += s->wait_ns_total;
	t->wait_ns_max = s->wait_ns_max > t->wait_ns_max ? s->wait_ns_max : t->wait_ns_max;
	t->peak_in_flight = s->peak_in_flight > t->peak_in_flight ? s->peak_in_flight
								   : t->peak_in_flight;
	t->in_flight += s->in_flight;
	t->drift += s->drift;
}

static json_object *totals_json(const struct totals *t)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "binds", json_object_new_uint64(t->binds));
	json_object_object_add(o, "ops", json_object_new_uint64(t->ops));
	json_object_object_add(o, "errors", json_object_new_uint64(t->errors));
	json_object_object_add(o, "pages_counted", json_object_new_uint64(t->pages_counted));
	json_object_object_add(o, "pages_used", json_object_new_uint64(t->pages_used));
	json_object_object_add(o, "pages_overcount",
			       json_object_new_int64((s64)t->pages_counted - (s64)t->pages_used));
	json_object_object_add(o, "waits", json_object_new_uint64(t->waits));
	json_object_object_add(o, "interrupted_waits",
			       json_object_new_uint64(t->interrupted_waits));
	json_object_object_add(o, "wait_ns_total", json_object_new_uint64(t->wait_ns_total));
	json_object_object_add(o, "wait_ns_max", json_object_new_uint64(t->wait_ns_max));
	json_object_object_add(o, "peak_in_flight", json_object_new_int64(t->peak_in_flight));
	json_object_object_add(o, "in_flight", json_object_new_int64(t->in_flight));
	json_object_object_add(o, "drift", json_object_new_int64(t->drift));
	return o;
}

json_object *sim_summary_json(unsigned int limit, enum workload_kind workload, u64 seed,
			      const struct proc_result *res, unsigned int nprocs)
{
	json_object *root = json_object_new_object(), *procs = json_object_new_array();
	struct totals all = { 0 };

	json_object_object_add(root, "limit", json_object_new_int64(limit));
	json_object_object_add(root, "workload", json_object_new_string(workload_names[workload]));
	json_object_object_add(root, "seed", json_object_new_uint64(seed));
	for (unsigned int p = 0; p < nprocs; p++) {
		json_object *po = json_object_new_object(), *vms = json_object_new_array();
		struct totals pt = { 0 };

		for (unsigned int v = 0; v < res[p].nvms; v++) {
			const struct vm_result *r = &res[p].vm[v];
			json_object *vo = json_object_new_object(), *model = json_object_new_object();
			struct totals vt = { 0 };
			char addr[32];

			totals_add_vm(&vt, r);
			totals_merge(&pt, &vt);
			snprintf(addr, sizeof(addr), "0x%" PRIx64, r->addr);
			json_object_object_add(vo, "id", json_object_new_int((int)v));
			json_object_object_add(vo, "addr", json_object_new_string(addr));
			json_object_object_add(vo, "totals", totals_json(&vt));
			json_object_object_add(model, "wedged", json_object_new_boolean(r->wedged));
			json_object_object_add(model, "page_tables", json_object_new_uint64(r->tables));
			json_object_object_add(model, "max_in_flight_at_pass",
					       json_object_new_int(r->truth.max_in_flight_at_pass));
			json_object_object_add(vo, "model", model);
			json_object_array_add(vms, vo);
		}
		totals_merge(&all, &pt);
		json_object_object_add(po, "pid", json_object_new_int(res[p].pid));
		json_object_object_add(po, "comm", json_object_new_string(res[p].comm));
		json_object_object_add(po, "run_delay_ns", json_object_new_uint64(res[p].run_delay_ns));
		json_object_object_add(po, "totals", totals_json(&pt));
		json_object_object_add(po, "vms", vms);
		json_object_array_add(procs, po);
	}
	json_object_object_add(root, "totals", totals_json(&all));
	json_object_object_add(root, "processes", procs);
	return root;
}

/* f was opened before the run, so that a bad path fails before any work is done. */
int sim_summary_write(FILE *f, const char *path, json_object *root)
{
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE);

	fprintf(f, "%s\n", text);
	if (fflush(f) || ferror(f) || (path && fclose(f))) {
		fprintf(stderr, "msmvm-sim: writing summary '%s' failed: %s\n",
			path ? path : "<stdout>", strerror(errno));
		return 1;
	}
	return 0;
}
