// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Open, load, attach and close: the life of one msmvm session. */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "probe_table.h"

static int verbose_level;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && verbose_level < 2)
		return 0;
	if (level == LIBBPF_INFO && verbose_level < 1)
		return 0;
	/* warnings are kept for -v: failures reach the user through msmvm_err instead */
	if (level == LIBBPF_WARN && verbose_level < 1)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int msmvm_open(const struct msmvm_opts *opts, struct msmvm **out, struct msmvm_err *err)
{
	struct msmvm *m;
	int ret;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	m = calloc(1, sizeof(*m));
	if (!m)
		return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	m->opts = *opts;
	verbose_level = opts->verbose;
	libbpf_set_print(libbpf_print);

	if (opts->arch && strcmp(opts->arch, "arm64") && strcmp(opts->arch, "x86")) {
		ret = msmvm_fail(err, MSMVM_E_USAGE, EINVAL, "unknown --arch '%s' (arm64 or x86)",
				 opts->arch);
		goto fail;
	}
	snprintf(m->plan.arch, sizeof(m->plan.arch), "%s",
		 opts->arch ? opts->arch : msmvm_host_arch());
	if (opts->target == MSMVM_TARGET_SIM && opts->attach != MSMVM_ATTACH_AUTO) {
		ret = msmvm_fail(err, MSMVM_E_USAGE, EINVAL,
				 "--attach chooses between kprobes and fentry/fexit on the kernel; "
				 "the model (--sim) is always probed with uprobes");
		goto fail;
	}
	if (opts->btf_path && opts->attach == MSMVM_ATTACH_FENTRY) {
		ret = msmvm_fail(err, MSMVM_E_USAGE, EINVAL,
				 "--attach=fentry: fentry programs load against the running kernel "
				 "only; a dry run against a BTF file verifies the kprobe programs");
		goto fail;
	}

	if (opts->target == MSMVM_TARGET_SIM) {
		snprintf(m->sim_path, sizeof(m->sim_path), "%s",
			 opts->sim_path ? opts->sim_path : msmvm_default_sim_path());
		snprintf(m->plan.arch, sizeof(m->plan.arch), "%s", msmvm_host_arch());
		ret = msmvm_probe_sim(m, err);
	} else if (opts->btf_path) {
		ret = msmvm_probe_btf_file(m, err);
	} else {
		ret = msmvm_probe_kernel(m, err);
	}
	if (ret)
		goto fail;
	/* loading needs privileges, dry runs included: say so before libbpf does */
	ret = msmvm_check_caps(err);
	if (ret)
		goto fail;
	ret = msmvm_make_plan(m, err);
	if (ret)
		goto fail;
	*out = m;
	return 0;
fail:
	msmvm_close(m);
	return ret;
}

int msmvm_load(struct msmvm *m, struct msmvm_err *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	const struct msmvm_flavor *flavor;
	const char *name;
	struct msmvm_bpf *b = &m->bpf;
	struct bpf_program *prog;
	__s64 limit = m->opts.throttle_limit > 0 ? m->opts.throttle_limit : 1024;
	bool events = m->opts.events, ops = m->opts.events && m->opts.emit_ops;
	struct msmvm_bpf_config cfg = MSMVM_BPF_CONFIG_DEFAULT;
	bool used[MSMVM_NPROGS] = { [MSMVM_PROG_report_layout] = true };
	int ret;

	if (m->opts.ringbuf_bytes) {
		uint32_t sz = m->opts.ringbuf_bytes;

		if (sz < (uint32_t)getpagesize() || (sz & (sz - 1)))
			return msmvm_fail(err, MSMVM_E_USAGE, EINVAL,
					  "ring buffer size %u: a power of two, at least %d bytes", sz,
					  getpagesize());
	}
	flavor = msmvm_flavor_find(m->opts.target, m->plan.arch, m->opts.test_flavor,
				   m->plan.fentry);
	if (!flavor)
		return msmvm_fail(err, MSMVM_E_USAGE, EINVAL, "no BPF object for arch '%s'",
				  m->plan.arch);
	name = msmvm_flavor_name(flavor);
	/* no object_name: the skeleton finds .rodata and .bss under its own name's prefix */
	oo.btf_custom_path = m->tmp_btf_path ? m->tmp_btf_path : m->opts.btf_path;
	ret = msmvm_bpf_open(b, flavor, &oo);
	if (ret)
		return msmvm_fail(err, MSMVM_E_LOAD, -ret, "cannot open the %s BPF object: %s",
				  name, strerror(-ret));

	cfg.hook_plan = m->plan.kind;
	cfg.filter_tgid = m->opts.filter_tree ? 0 : m->opts.filter_pid;
	cfg.filter_tree = m->opts.filter_tree;
	used[MSMVM_PROG_process_fork] = m->opts.filter_tree;
	if (!m->opts.filter_tree)
		bpf_map__set_max_entries(b->maps[MSMVM_MAP_watched], 1);
	cfg.emit_events = events;
	cfg.throttle_limit = limit;
	cfg.emit_ops = ops;
	cfg.native_btf = !m->opts.btf_path;	/* the model's BTF is merged with this vmlinux */
	m->plan.throttle_limit = limit;
	m->plan.emit_ops = ops;
	if (!events) {
		/* the aggregating path pays nothing for the event stream */
		bpf_map__set_max_entries(b->maps[MSMVM_MAP_events], 4096);
		bpf_map__set_max_entries(b->maps[MSMVM_MAP_pending_frees], 1);
	} else if (m->opts.ringbuf_bytes) {
		__u64 sz = m->opts.ringbuf_bytes;

		/* a small buffer still wakes its reader before it is full */
		cfg.wakeup_bytes = sz / 4 < 65536 ? sz / 4 : 65536;
		if (bpf_map__set_max_entries(b->maps[MSMVM_MAP_events], (__u32)sz))
			return msmvm_fail(err, MSMVM_E_LOAD, EINVAL, "cannot size the ring buffer");
	}
	*b->config = cfg;

	/* Load only the programs of the plan (and the layout reporter). */
	for (int i = 0; i < m->plan.nprobes; i++) {
		const struct msmvm_probe_plan *pp = &m->plan.probes[i];
		int id = msmvm_prog_id(pp->program);

		if (id < 0)
			continue;
		used[id] = true;
		/*
		 * An fentry/fexit program is verified against its target function's BTF: the
		 * target is set now, from the plan (libbpf finds a module's function in the
		 * module's BTF object).
		 */
		if (m->plan.fentry && !m->opts.test_flavor) {
			ret = bpf_program__set_attach_target(b->progs[id], 0, pp->function);
			if (ret)
				return msmvm_fail(err, MSMVM_E_LOAD, -ret,
						  "cannot target %s with an %s: %s (not in the "
						  "kernel's BTF objects?); try --attach=kprobe",
						  pp->function, pp->attach, strerror(-ret));
		}
	}
	bpf_object__for_each_program(prog, b->obj) {
		bool load = m->opts.test_flavor;

		for (int i = 0; i < MSMVM_NPROGS; i++)
			load |= used[i] && prog == b->progs[i];
		bpf_program__set_autoload(prog, load);
	}

	ret = msmvm_bpf_load(b);
	if (m->tmp_btf_path) {
		unlink(m->tmp_btf_path);
		free(m->tmp_btf_path);
		m->tmp_btf_path = NULL;
	}
	if (ret) {
		char why[256] = "";

		/* an fentry program's target the kernel could not find by name */
		const char *f = NULL;

		for (int i = 0; m->plan.fentry && ret == -ENOENT && i < m->plan.nprobes && !why[0];
		     i++)
			msmvm_explain_lookup(m, f = m->plan.probes[i].function, why, sizeof(why));
		return msmvm_fail(err, MSMVM_E_LOAD, ret,
				  "loading the %s BPF programs failed: %s (CO-RE could not relocate "
				  "against %s, or the verifier refused; -v shows libbpf's log)%s%s",
				  name, strerror(-ret), m->plan.target, why,
				  why[0] && !strcmp(f, MSMVM_DIRECT_FUNCTION) ? ": try --hooks=fallback"
									      : "");
	}
	m->loaded = true;
	return 0;
}

int msmvm_attach(struct msmvm *m, struct msmvm_err *err)
{
	if (!m->loaded || m->opts.test_flavor)
		return msmvm_fail(err, MSMVM_E_USAGE, EINVAL,
				  m->loaded ? "the test flavor is never attached" : "attach before load");
	m->sim_at_attach = msmvm_sim_running(m) > 0;	/* --sim: is a model there (sim_presence.c) */
	/*
	 * Attach in reverse order of a call's life (free, ..., ioctl entry last): a call whose
	 * ioctl entry is seen then has every later hook in place, so attaching while a workload
	 * runs never sees half a call. close() detaches in plan order, ioctl entry first.
	 */
	for (int i = m->plan.nprobes - 1; i >= 0; i--) {
		struct msmvm_probe_plan *pp = &m->plan.probes[i];
		int id = msmvm_prog_id(pp->program);
		struct bpf_program *prog = id >= 0 ? m->bpf.progs[id] : NULL;
		struct bpf_link *link;

		if (!prog)
			return msmvm_fail(err, MSMVM_E_ATTACH, ENOENT, "no BPF program %s",
					  pp->program);
		if (m->opts.target == MSMVM_TARGET_SIM) {
			LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = pp->function,
				    .retprobe = pp->retprobe);

			link = bpf_program__attach_uprobe_opts(prog, -1, m->sim_path, 0, &uo);
		} else if (m->plan.fentry) {
			link = bpf_program__attach_trace(prog);	/* the target set at load */
		} else {
			link = bpf_program__attach_kprobe(prog, pp->retprobe, pp->function);
		}
		if (!link) {
			int e = errno;
			char why[256] = "";

			/* the kernel's lookup by name failed: kallsyms says why */
			if (e == ENOENT || e == EINVAL)
				msmvm_explain_lookup(m, pp->function, why, sizeof(why));
			if (why[0])
				return msmvm_fail(err, MSMVM_E_ATTACH, e,
						  "cannot attach a %s to %s: %s%s%s", pp->attach,
						  pp->function, strerror(e), why,
						  !strcmp(pp->function, MSMVM_DIRECT_FUNCTION)
							  ? ": try --hooks=fallback" : "");
			return msmvm_fail(err, MSMVM_E_ATTACH, e, "cannot attach a %s to %s: %s%s",
					  pp->attach, pp->function, strerror(e),
					  m->plan.fentry
						  ? " (try --attach=kprobe)"
					  : e == ENOENT || e == EOPNOTSUPP
						  ? " (kernel without CONFIG_KPROBES/UPROBES?)"
					  : e == EACCES || e == EPERM
						  ? " (missing capability: some kernels want CAP_SYS_ADMIN "
						    "to attach probes; run as root)"
						  : "");
		}
		m->links[i] = link;
		pp->attached = true;
	}
	if (m->opts.filter_tree && !m->fork_link) {
		m->fork_link = bpf_program__attach_raw_tracepoint(
			m->bpf.progs[MSMVM_PROG_process_fork], "sched_process_fork");
		if (!m->fork_link)
			return msmvm_fail(err, MSMVM_E_ATTACH, errno,
					  "cannot attach to the raw tracepoint sched_process_fork "
					  "(to follow the command's forks): %s", strerror(errno));
	}
	return 0;
}

int msmvm_watch_tgid(struct msmvm *m, uint32_t tgid, struct msmvm_err *err)
{
	__u8 one = 1;
	int fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_watched);

	if (!m->loaded || !m->opts.filter_tree)
		return msmvm_fail(err, MSMVM_E_USAGE, EINVAL,
				  "watching a process needs filter_tree, after load");
	if (bpf_map_update_elem(fd, &tgid, &one, BPF_ANY))
		return msmvm_fail(err, MSMVM_E_RUNTIME, errno, "cannot watch process %u: %s", tgid,
				  strerror(errno));
	return 0;
}

int msmvm_program_fd(struct msmvm *m, const char *name)
{
	int id = msmvm_prog_id(name);
	struct bpf_program *p = id >= 0 ? m->bpf.progs[id] : NULL;

	return p ? bpf_program__fd(p) : -ENOENT;
}

const struct msmvm_plan *msmvm_get_plan(const struct msmvm *m)
{
	return &m->plan;
}

int msmvm_get_layout(struct msmvm *m, struct msmvm_layout *out, struct msmvm_err *err)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	int ret;

	if (!m->loaded)
		return msmvm_fail(err, MSMVM_E_USAGE, EINVAL, "layout before load");
	ret = bpf_prog_test_run_opts(bpf_program__fd(m->bpf.progs[MSMVM_PROG_report_layout]),
				     &topts);
	if (ret)
		return msmvm_fail(err, MSMVM_E_RUNTIME, errno, "running report_layout: %s",
				  strerror(errno));
	/* .bss is mapped into our memory: the program's writes are there */
	if (msmvm_bpf_layout(&m->bpf, out))
		return msmvm_fail(err, MSMVM_E_RUNTIME, EINVAL, "cannot read the layout (.bss)");
	return 0;
}

void msmvm_close(struct msmvm *m)
{
	if (!m)
		return;
	ring_buffer__free(m->rb);
	msmvm_gauges_unmap(m);
	free(m->forgotten);
	for (int i = 0; i < MSMVM_MAX_PROBES; i++)
		bpf_link__destroy(m->links[i]);	/* detach first: no probe outlives us */
	bpf_link__destroy(m->fork_link);
	msmvm_bpf_destroy(&m->bpf);
	if (m->tmp_btf_path) {
		unlink(m->tmp_btf_path);
		free(m->tmp_btf_path);
	}
	btf__free(m->target_btf);
	btf__free(m->target_btf_base);
	free(m);
}

static int ringbuf_cb(void *ctx, void *data, size_t size)
{
	struct msmvm *m = ctx;

	if (size < sizeof(struct msmvm_event))
		return 0;
	return m->event_fn(m->event_ctx, data);
}

int msmvm_events_subscribe(struct msmvm *m, msmvm_event_fn fn, void *ctx, struct msmvm_err *err)
{
	struct bpf_map *map = m->bpf.maps[MSMVM_MAP_events];

	if (!m->opts.events || !map)
		return msmvm_fail(err, MSMVM_E_USAGE, EINVAL, "events were not enabled at open");
	m->event_fn = fn;
	m->event_ctx = ctx;
	m->rb = ring_buffer__new(bpf_map__fd(map), ringbuf_cb, m, NULL);
	if (!m->rb)
		return msmvm_fail(err, MSMVM_E_RUNTIME, errno, "ring buffer: %s", strerror(errno));
	return 0;
}

int msmvm_events_poll(struct msmvm *m, int timeout_ms)
{
	int n, c;

	if (!m->rb)
		return -EINVAL;
	/*
	 * The programs submit without a wakeup until wakeup_bytes are pending (batching), so
	 * epoll alone would leave a quiet stream unread: wait for a wakeup or the timeout,
	 * then drain whatever is there.
	 */
	n = ring_buffer__poll(m->rb, timeout_ms);
	if (n < 0 && n != -EINTR)
		return n;
	c = ring_buffer__consume(m->rb);
	if (c < 0)
		return c;
	return (n > 0 ? n : 0) + c;
}
