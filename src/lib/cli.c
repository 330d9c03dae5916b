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
#include "msmvm/numbers.h"

enum { OPT_SIM = 0x1000, OPT_HOOKS, OPT_MODULE, OPT_ATTACH };

#define MODULE_NAME_MAX 55	/* the kernel's MODULE_NAME_LEN, less its NUL */

static struct msmvm_opts *bound;
static bool attach_given;	/* --attach=auto too is refused with --sim */

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
	case ARGP_KEY_END:
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
}

void msmvm_cli_catch_signals(void (*fn)(int))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE };
	struct sigaction sa = { .sa_handler = fn };	/* no SA_RESTART: waits end with EINTR */

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&sa.sa_mask, sigs[i]);	/* one handler at a time */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* stdout is a pipe or socket whose reader is gone (the kernel reports POLLERR on it). */
static bool stdout_reader_gone(void)
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
	if (e == EPIPE || stdout_reader_gone())
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
