/* SPDX-License-Identifier: GPL-2.0 */
/*
 * msmvm-sim run --kernel: the model's workloads as real ioctls on the msm_kmodel twin's DRM
 * device (docs/kmodel.md), from real processes and threads; the summary from the twin's
 * debugfs ground truth.
 */
#ifndef MSMVM_SIM_KERNEL_RUN_H
#define MSMVM_SIM_KERNEL_RUN_H

#include <stdio.h>

#include "sim_run.h"

/*
 * Loads the twin if needed, sets its parameters from o and msm_model (limit, costs, fault
 * rates), runs, and writes the summary to summary_f (path: o->summary_path, or stdout).
 * Returns the exit status: 0, or 1 for a runtime failure.
 */
int kernel_run(const struct sim_opts *o, FILE *summary_f);

#endif
