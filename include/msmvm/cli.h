/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every msmvm tool's command line has in common: where to look (--sim[=PATH], the
 * running kernel otherwise), which process (-p PID), which hooks (--hooks), which module
 * (--module), how they attach (--attach) and libbpf's messages (-v). One argp child, so the flags mean the same in every tool.
 */
#ifndef MSMVM_CLI_H
#define MSMVM_CLI_H

#include <argp.h>
#include <stdint.h>

#include "msmvm/msmvm.h"

extern const struct argp msmvm_target_argp;

/* The options the target flags fill in: call before argp_parse(). */
void msmvm_cli_bind(struct msmvm_opts *o);

/* CLOCK_MONOTONIC in ns: the clock of the probes' timestamps. */
uint64_t msmvm_now_ns(void);

#endif
