/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `msmvm-sim count`: the op parser and the calculator, apart from main() so that tests and
 * the fuzz target (tests/fuzz/fuzz_count.c) run exactly what the command line runs.
 */
#ifndef MSMVM_SIM_COUNT_H
#define MSMVM_SIM_COUNT_H

#include <stdio.h>

#include "msm_drv.h"

/* Integer with optional K/M/G/T suffix (powers of 1024); hex with 0x. 0 or -1. */
int sim_parse_size(const char *s, u64 *out);

/*
 * A VM size (--vm-size): sim_parse_size's syntax, a multiple of 2 MiB in [64 MiB, 2^48].
 * 0 or -1.
 */
int sim_parse_vm_size(const char *s, u64 *out);

/* One OP argument, KIND:IOVA:RANGE (KIND map, null or unmap), into *op. 0 or -1. */
int sim_parse_op(const char *arg, struct drm_msm_vm_bind_op *op);

/*
 * `msmvm-sim count ARGS...` with argv[0] = "count": the total and the merged runs on out,
 * errors on err. Returns the exit status (0, 1 out of memory, 2 bad usage or an op the
 * ioctl would reject).
 */
int sim_count_main(int argc, char **argv, FILE *out, FILE *err);

/* `msmvm-sim count --batch`: sim_count_main() for each line of in, a line "STATUS\tFIRST"
 * each on out (FIRST: the first line of its stdout if STATUS is 0, else of its stderr). */
int sim_count_batch(FILE *in, FILE *out, FILE *err);

#endif
