// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Output every tool shares: counters as JSON (msmvm-sim's names), log2 histograms as text. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "msmvm/report.h"

json_object *msmvm_counters_json(const struct msmvm_counters *c)
{
	json_object *o = json_object_new_object();

	for (int i = 0; i < MSMVM_NCOUNTERS; i++)
		json_object_object_add(o, msmvm_counter_table[i].name,
				       json_object_new_int64(msmvm_counter_value(c, i)));
	return o;
}

/*
 * An interval's counters, split by what they are: "deltas" (what was counted within the
 * interval: TOTAL counters and pages_overcount) and "gauges" (values as they stand at its
 * end: in_flight, drift, and the maxima peak_in_flight and wait_ns_max since the start).
 */
void msmvm_interval_json(json_object *o, const struct msmvm_counters *now,
			 const struct msmvm_counters *prev)
{
	json_object *d = json_object_new_object(), *g = json_object_new_object();
	struct msmvm_counters delta;

	msmvm_counters_delta(&delta, now, prev);
	for (int i = 0; i < MSMVM_NCOUNTERS; i++) {
		const struct msmvm_counter_desc *k = &msmvm_counter_table[i];

		if (k->kind == MSMVM_COUNTER_TOTAL || k->kind == MSMVM_COUNTER_OVERCOUNT)
			json_object_object_add(d, k->name,
					       json_object_new_int64(msmvm_counter_value(&delta, i)));
		else
			json_object_object_add(g, k->name,
					       json_object_new_int64(msmvm_counter_value(now, i)));
	}
	json_object_object_add(o, "deltas", d);
	json_object_object_add(o, "gauges", g);
}

json_object *msmvm_hist_json(const struct msmvm_hist *h)
{
	json_object *a = json_object_new_array();
	int last = -1;

	for (int i = 0; i < MSMVM_HIST_SLOTS; i++)
		if (h->slots[i])
			last = i;
	for (int i = 0; i <= last; i++)
		json_object_array_add(a, json_object_new_uint64(h->slots[i]));
	return a;
}

json_object *msmvm_stats_json(const struct msmvm_stats *s)
{
	json_object *o = json_object_new_object(), *h = json_object_new_object();

	json_object_object_add(o, "totals", msmvm_counters_json(&s->c));
	for (int i = 0; i < MSMVM_HIST_COUNT_; i++)
		json_object_object_add(h, msmvm_hist_name(i), msmvm_hist_json(&s->hist[i]));
	json_object_object_add(o, "histograms", h);
	return o;
}

json_object *msmvm_health_json(const uint64_t *health)
{
	json_object *o = json_object_new_object();

	for (int i = 0; i < MSMVM_H_COUNT_; i++)
		json_object_object_add(o, msmvm_health_name(i), json_object_new_uint64(health[i]));
	return o;
}

/* libbpf-tools style: "     from -> to          : count    |*****     |" */
void msmvm_print_hist(FILE *f, const struct msmvm_hist *h, const char *unit)
{
	uint64_t max = 0;
	int first = -1, last = -1;

	for (int i = 0; i < MSMVM_HIST_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (h->slots[i] > max)
			max = h->slots[i];
	}
	if (last < 0) {
		fprintf(f, "     (empty)\n");
		return;
	}
	fprintf(f, "%24s : %-10s %s\n", unit, "count", "distribution");
	for (int i = first; i <= last; i++) {
		uint64_t lo = i ? 1ULL << (i - 1) : 0, hi = i ? (1ULL << i) - 1 : 0;
		int stars = (int)(h->slots[i] * 40 / max);
		char bar[41];

		memset(bar, '*', (size_t)stars);
		bar[stars] = 0;
		fprintf(f, "%11" PRIu64 " -> %-10" PRIu64 " : %-10" PRIu64 " |%-40s|\n", lo, hi,
			(uint64_t)h->slots[i], bar);
	}
}
