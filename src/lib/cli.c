// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The target flags every tool shares, as an argp child. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msmvm/cli.h"
#include "msmvm/command.h"
#include "msmvm/numbers.h"

enum { OPT_SIM = 0x1000, OPT_HOOKS, OPT_MODULE, OPT_ATTACH };

#define MODULE_NAME_MAX 55	/* the kernel's MODULE_NAME_LEN, less its NUL */

static struct msmvm_opts *bound;
static bool attach_given;	/* --attach=auto too is refused with --sim */

/* The command (-c CMD, or -- CMD ARG...) and its life under the tool. */
static struct msmvm_command cmd;
static const char *cmd_line;		/* -c's string */
static char **cmd_split;		/* its words */
static bool cmd_given;
static volatile sig_atomic_t cmd_live_pid;	/* released and not reaped: signals go on to it */
static volatile sig_atomic_t cmd_signalled;	/* a stop reached it (forwarded, or the terminal's) */
static uint64_t cmd_stop_ns;		/* when the tool asked it to end */
static bool cmd_killed, cmd_said;

#define CMD_KILL_AFTER_NS (10 * 1000000000ULL)	/* from SIGTERM to SIGKILL */

static const struct argp_option target_options[] = {
	{ "sim", OPT_SIM, "PATH", OPTION_ARG_OPTIONAL,
	  "Watch the msmvm-sim model instead of the kernel (default: the msmvm-sim next to "
	  "this tool)", 0 },
	{ "pid", 'p', "PID", 0, "Only this process (filtered in the probes)", 0 },
	{ "hooks", OPT_HOOKS, "auto|direct|fallback", 0,
	  "Where the throttle is probed (default auto: direct unless vm_bind_prealloc_count "
	  "was inlined)", 0 },
	{ "module", OPT_MODULE, "NAME", 0,
	  "The kernel module holding the driver's functions, its BTF in /sys/kernel/btf/NAME "
	  "(default: msm if loaded, else the kernel twin msm_kmodel if loaded)", 0 },
	{ "attach", OPT_ATTACH, "auto|fentry|kprobe", 0,
	  "How the kernel's functions are probed (default auto: fentry/fexit where the kernel "
	  "supports them, else kprobe/kretprobe)", 0 },
	{ "verbose", 'v', NULL, 0, "libbpf's messages (twice: debug)", 0 },
	{ "command", 'c', "CMD", 0,
	  "Run CMD and watch its processes (it and all it forks), from its first instruction "
	  "to its exit, then end; CMD is one string split into words as a shell splits simple "
	  "words (quotes, backslashes; no variables, globs, pipes or redirections: give "
	  "'sh -c ...' for those); the same as -- CMD [ARG...] after the options", 0 },
	{},
};

static error_t parse_target(int key, char *arg, struct argp_state *state)
{
	uint64_t v;

	if (!bound)
		return ARGP_ERR_UNKNOWN;
	switch (key) {
	case OPT_SIM:
		bound->target = MSMVM_TARGET_SIM;
		bound->sim_path = arg;
		return 0;
	case 'p':
		if (msmvm_parse_uint(arg, 1, INT_MAX, &v))
			argp_error(state, "invalid PID '%s' (a whole number from 1 to %d)", arg,
				   INT_MAX);
		bound->filter_pid = (uint32_t)v;
		return 0;
	case OPT_HOOKS:
		if (!strcmp(arg, "auto"))
			bound->hooks = MSMVM_HOOKS_AUTO;
		else if (!strcmp(arg, "direct"))
			bound->hooks = MSMVM_HOOKS_DIRECT;
		else if (!strcmp(arg, "fallback"))
			bound->hooks = MSMVM_HOOKS_FALLBACK;
		else
			argp_error(state, "invalid --hooks '%s' (auto, direct or fallback)", arg);
		return 0;
	case OPT_MODULE:
		/* a name, not a path: it becomes /sys/module/NAME and /sys/kernel/btf/NAME */
		if (!*arg || strlen(arg) > MODULE_NAME_MAX || strchr(arg, '/') ||
		    !strcmp(arg, ".") || !strcmp(arg, ".."))
			argp_error(state, "invalid --module '%s' (a kernel module's name)", arg);
		bound->module = arg;
		return 0;
	case OPT_ATTACH:
		if (!strcmp(arg, "auto"))
			bound->attach = MSMVM_ATTACH_AUTO;
		else if (!strcmp(arg, "fentry"))
			bound->attach = MSMVM_ATTACH_FENTRY;
		else if (!strcmp(arg, "kprobe"))
			bound->attach = MSMVM_ATTACH_KPROBE;
		else
			argp_error(state, "invalid --attach '%s' (auto, fentry or kprobe)", arg);
		attach_given = true;
		return 0;
	case 'v':
		bound->verbose++;
		return 0;
	case 'c':
		if (cmd_line)
			argp_error(state, "-c CMD given twice");
		cmd_line = arg;
		return 0;
	case ARGP_KEY_ARG:
		/* the first word after --: the command, with everything that follows */
		if (!msmvm_cli_command_arg(state))
			return ARGP_ERR_UNKNOWN;
		if (cmd_line)
			argp_error(state, "-c CMD and -- CMD: give the command once");
		cmd.argv = &state->argv[state->next - 1];
		state->next = state->argc;
		cmd_given = true;
		return 0;
	case ARGP_KEY_END:
		if (cmd_line) {
			char why[128];

			if (msmvm_command_split(cmd_line, &cmd_split, why, sizeof(why)))
				argp_error(state, "invalid -c '%s': %s (-- sh -c '...' runs a shell)",
					   cmd_line, why);
			cmd.argv = cmd_split;
			cmd_given = true;
		}
		if (cmd_given && bound->filter_pid)
			argp_error(state, "-p PID and a command (-c or --) do not go together: the "
					  "command's own processes are the ones watched");
		bound->filter_tree = cmd_given;
		if (bound->module && bound->target == MSMVM_TARGET_SIM)
			argp_error(state, "--module names a kernel module: not with --sim");
		if (attach_given && bound->target == MSMVM_TARGET_SIM)
			argp_error(state, "--attach chooses how the kernel is probed: not with --sim "
					  "(the model is probed with uprobes)");
		return ARGP_ERR_UNKNOWN;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp msmvm_target_argp = {
	.options = target_options,
	.parser = parse_target,
};

void msmvm_cli_bind(struct msmvm_opts *o)
{
	bound = o;
	attach_given = false;
	/* the signal state a command gets: the tool's as it was started, before its own */
	sigemptyset(&cmd.ignored);
	sigprocmask(SIG_BLOCK, NULL, &cmd.mask);
	for (int s = 1; s < NSIG; s++) {
		struct sigaction old;

		if (sigaction(s, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			sigaddset(&cmd.ignored, s);
	}
}

bool msmvm_cli_command_arg(const struct argp_state *state)
{
	/* ARGP_IN_ORDER: quoted is set exactly when getopt met a -- that ends the options */
	return state->quoted && state->next - 1 >= state->quoted;
}

const struct msmvm_command *msmvm_cli_command(void)
{
	return cmd_given ? &cmd : NULL;
}

/* No msm driver loaded: the module the kernel target would look for is missing. */
static bool driver_loaded(void)
{
	return !access("/sys/module/msm", F_OK) || !access("/sys/module/msm_kmodel", F_OK);
}

int msmvm_cli_command_prepare(const char *prog)
{
	struct msmvm_err err;
	int e;

	if (!cmd_given)
		return 0;
	if (!msmvm_command_pids_seen()) {
		fprintf(stderr, "%s: a command needs the tool in the initial pid namespace: the "
				"probes follow the kernel's pids, and %s's would be this namespace's "
				"(run it on the host, or give -p with the pid the host sees)\n", prog,
			cmd.argv[0]);
		return 1;
	}
	e = msmvm_command_find(cmd.argv[0], cmd.path, sizeof(cmd.path));
	if (e) {
		fprintf(stderr, "%s: cannot run '%s': %s\n", prog, cmd.argv[0],
			e == -ENOENT && !strchr(cmd.argv[0], '/') ? "command not found (in PATH)"
								   : strerror(-e));
		return 1;
	}
	/* the model's binary as the command: it is the driver here, unless one was named */
	if (bound->target != MSMVM_TARGET_SIM && !bound->module && !attach_given &&
	    !bound->btf_path && !driver_loaded() && msmvm_command_is_model(cmd.path)) {
		bound->target = MSMVM_TARGET_SIM;
		bound->sim_path = cmd.path;
		fprintf(stderr, "%s: no msm driver is loaded and %s is the msmvm-sim model: "
				"watching it, as with --sim=%s\n", prog, cmd.argv[0], cmd.path);
	}
	if (msmvm_command_spawn(&cmd, &err)) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		return 1;
	}
	return 0;
}

int msmvm_cli_command_start(struct msmvm *m, const char *prog)
{
	struct msmvm_err err;

	if (!cmd_given)
		return 0;
	if (msmvm_command_watch_tree(&cmd, m, &err) || msmvm_command_release(&cmd, &err)) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		cmd_said = true;	/* its exit is the failure just said */
		return 1;
	}
	cmd_live_pid = cmd.pid;
	return 0;
}

int msmvm_cli_command_rewatch(struct msmvm *m, struct msmvm_err *err)
{
	return cmd_live_pid ? msmvm_command_watch_tree(&cmd, m, err) : 0;
}

bool msmvm_cli_go_on(const char *prog, bool stop)
{
	uint64_t now;

	if (!cmd_given || !cmd.released)
		return !stop;
	if (msmvm_command_poll(&cmd)) {
		char how[64];

		cmd_live_pid = 0;
		if (!cmd_said) {
			msmvm_command_describe(&cmd, how, sizeof(how));
			fprintf(stderr, "%s: %s %s\n", prog, cmd.argv[0], how);
			cmd_said = true;
		}
		return false;
	}
	if (!stop)
		return true;
	now = msmvm_now_ns();
	if (!cmd_stop_ns) {
		cmd_stop_ns = now;
		if (!cmd_signalled)
			kill(cmd.pid, SIGTERM);
	} else if (!cmd_killed && now - cmd_stop_ns > CMD_KILL_AFTER_NS) {
		fprintf(stderr, "%s: %s did not end %llu s after it was asked to: SIGKILL\n", prog,
			cmd.argv[0], CMD_KILL_AFTER_NS / 1000000000ULL);
		kill(cmd.pid, SIGKILL);
		cmd_killed = true;
	}
	return true;
}

bool msmvm_cli_command_exited(void)
{
	return cmd_given && cmd.released && msmvm_command_poll(&cmd);
}

void msmvm_cli_command_end(const char *prog)
{
	struct timespec nap = { 0, 10 * 1000000 };

	while (msmvm_cli_go_on(prog, true))
		nanosleep(&nap, NULL);
}

static void (*caught_fn)(int);

/*
 * A stop sent to the tool goes on to its command: SIGINT and SIGTERM from kill(2). The
 * terminal's (Ctrl-C: si_code SI_KERNEL) reached the command's process group already.
 */
static void on_caught(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	if ((sig == SIGINT || sig == SIGTERM) && cmd_live_pid > 0) {
		if (si->si_code != SI_KERNEL)
			kill(cmd_live_pid, sig);
		cmd_signalled = 1;
	}
	errno = saved;
	caught_fn(sig);
}

void msmvm_cli_catch_signals(void (*fn)(int))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE };
	/* no SA_RESTART: waits end with EINTR */
	struct sigaction sa = { .sa_sigaction = on_caught, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&sa.sa_mask, sigs[i]);	/* one handler at a time */
	caught_fn = fn;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* stdout is a pipe or socket whose reader is gone (the kernel reports POLLERR on it). */
bool msmvm_cli_stdout_reader_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

int msmvm_cli_stdout_end(const char *prog)
{
	int e;

	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	e = errno;
	if (e == EPIPE || msmvm_cli_stdout_reader_gone())
		return 0;
	fprintf(stderr, "%s: writing to standard output: %s\n", prog,
		e ? strerror(e) : "write error");
	return 1;
}

uint64_t msmvm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
