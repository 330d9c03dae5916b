/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared output: JSON with the counter names of msmvm-sim's summary, text histograms. */
#ifndef MSMVM_REPORT_H
#define MSMVM_REPORT_H

#include <json-c/json.h>
#include <stdio.h>

#include "msmvm/msmvm.h"

json_object *msmvm_counters_json(const struct msmvm_counters *c);
json_object *msmvm_hist_json(const struct msmvm_hist *h);
/* adds {"deltas":{counted within the interval}, "gauges":{as they stand}} to o */
void msmvm_interval_json(json_object *o, const struct msmvm_counters *now,
			 const struct msmvm_counters *prev);
json_object *msmvm_stats_json(const struct msmvm_stats *s);	/* {"totals":…, "histograms":…} */
json_object *msmvm_health_json(const uint64_t *health);
void msmvm_print_hist(FILE *f, const struct msmvm_hist *h, const char *unit);

#endif
