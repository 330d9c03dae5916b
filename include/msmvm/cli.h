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

/*
 * SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGPIPE all go to fn (no SA_RESTART): each ends a
 * tool as Ctrl-C does (final output, files closed whole) unless the tool gives it a meaning
 * of its own in fn (msmvm-alert's SIGHUP, msmvm-trace --ring's SIGUSR1). SIGPIPE is caught,
 * not fatal: a write to a closed pipe then fails with EPIPE and the tool ends as on Ctrl-C.
 */
void msmvm_cli_catch_signals(void (*fn)(int));

/*
 * At exit: flush stdout. Its reader gone (EPIPE, `| head -1`) is no error: 0, quietly.
 * Any other write error (a full disk) is said on stderr as "PROG: writing to standard
 * output: ...", and 1 (the tools' runtime-error status) returned.
 */
int msmvm_cli_stdout_end(const char *prog);

/* CLOCK_MONOTONIC in ns: the clock of the probes' timestamps. */
uint64_t msmvm_now_ns(void);

#endif
