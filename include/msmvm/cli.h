/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every msmvm tool's command line has in common: where to look (--sim[=PATH], the
 * running kernel otherwise), which process (-p PID), which hooks (--hooks), which module
 * (--module), how they attach (--attach) and libbpf's messages (-v). One argp child, so the flags mean the same in every tool.
 */
#ifndef MSMVM_CLI_H
#define MSMVM_CLI_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>

#include "msmvm/msmvm.h"

extern const struct argp msmvm_target_argp;

/*
 * What every tool's --help says about running a command: one paragraph for argp to fill,
 * then a blank line (no '\n' inside it: argp wraps it itself, and a break of ours would
 * wrap it twice).
 */
#define MSMVM_CLI_COMMAND_DOC								\
	"With a command (-- CMD [ARG...] after the options, or -c 'CMD ARG...'), the "	\
	"probes are attached first, then CMD runs; only its processes (it and all it "	\
	"forks) are watched, and the tool ends when CMD exits, as on Ctrl-C, saying "	\
	"\"CMD exited with status N\" (or \"was killed by signal S\") on stderr. CMD "	\
	"shares the tool's stdin, stdout and stderr; the final output comes after "	\
	"CMD's. SIGINT and SIGTERM sent to the tool go on to CMD, and the tool waits "	\
	"for it; if the tool ends first, CMD gets SIGTERM (SIGKILL 10 s later). With "	\
	"no --sim and no msm driver loaded, a CMD that is the msmvm-sim model is "	\
	"watched as if --sim named it. The exit status is the tool's own (below), "	\
	"whatever CMD's.\n"							\
	"\n"

/*
 * The options the target flags fill in: call first thing in main() (it notes the signal
 * state the tool was started with, which a command gets), then argp_parse() with
 * ARGP_IN_ORDER (so that a -- is seen where it is).
 */
void msmvm_cli_bind(struct msmvm_opts *o);

/*
 * A command to run and watch: -c CMD, or -- CMD ARG... after the options. A tool's own
 * ARGP_KEY_ARG gives the command's words on: `if (msmvm_cli_command_arg(state)) return
 * ARGP_ERR_UNKNOWN;`. With a command, opts.filter_tree is set (and -p refused).
 */
bool msmvm_cli_command_arg(const struct argp_state *state);
struct msmvm_command;
const struct msmvm_command *msmvm_cli_command(void);	/* NULL: none given */
/*
 * Before msmvm_open: find the command (not found, not executable: said, 1), take its binary
 * for the target when it is the msmvm-sim model and nothing else was chosen (no --sim, no
 * msm driver loaded: said), and fork it, held. 0 (also without a command).
 */
int msmvm_cli_command_prepare(const char *prog);
/* After msmvm_attach: watch its process and release it to exec. 0, or 1 (said). */
int msmvm_cli_command_start(struct msmvm *m, const char *prog);
/*
 * The main loop's condition. Without a command: !stop. With one: true until it has
 * exited (said once on stderr: "PROG: CMD exited with status N"); a stop while it runs
 * asks it to end (SIGTERM, unless the signal that stopped the tool reached it already) and
 * kills it (SIGKILL) 10 s later.
 */
bool msmvm_cli_go_on(const char *prog, bool stop);
/* Has the command exited (quietly: msmvm_cli_go_on() or _end() says it)? */
bool msmvm_cli_command_exited(void);
/*
 * A new session (msmvm-alert re-attaching after the driver's unload): watch the running
 * command's process tree again, its processes as they are now. 0, or the failure.
 */
int msmvm_cli_command_rewatch(struct msmvm *m, struct msmvm_err *err);
/* After the main loop: a command still running is stopped and waited for (as above). */
void msmvm_cli_command_end(const char *prog);

/*
 * SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGPIPE all go to fn (no SA_RESTART): each ends a
 * tool as Ctrl-C does (final output, files closed whole) unless the tool gives it a meaning
 * of its own in fn (msmvm-alert's SIGHUP, msmvm-trace --ring's SIGUSR1). SIGPIPE is caught,
 * not fatal: a write to a closed pipe then fails with EPIPE and the tool ends as on Ctrl-C.
 */
void msmvm_cli_catch_signals(void (*fn)(int));
/* (With a command running, SIGINT and SIGTERM sent to the tool are sent on to it first.) */

/*
 * At exit: flush stdout. Its reader gone (EPIPE, `| head -1`) is no error: 0, quietly.
 * Any other write error (a full disk) is said on stderr as "PROG: writing to standard
 * output: ...", and 1 (the tools' runtime-error status) returned.
 */
int msmvm_cli_stdout_end(const char *prog);
/* stdout's reader went away (| head): the tool then ends quietly, hints included. */
bool msmvm_cli_stdout_reader_gone(void);

/* CLOCK_MONOTONIC in ns: the clock of the probes' timestamps. */
uint64_t msmvm_now_ns(void);

#endif
