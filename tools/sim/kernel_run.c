// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-sim run --kernel: the model's workloads, issued as real DRM_IOCTL_MSM_VM_BINDs on the
 * msm_kmodel twin's device (docs/kmodel.md) by real processes and threads, so that the
 * toolkit's kernel flavor (kprobes or fentry, real signals, the real drm_sched) can be checked
 * against the twin's own ground truth.
 *
 * The parent loads the module if it is not loaded, writes its parameters, forks one process
 * per --procs; each opens one file per VM, sets it up as Mesa would (EN_VM_BIND, a BO,
 * VM_BIND queues) and runs one thread per queue with the same op streams as the model (same
 * seeds, same windows). When every process has exited (closing its files drains its VMs),
 * the summary is built from the twin's debugfs lines for the VMs the run created.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bind_stream.h"
#include "kernel_run.h"
#include "kmodel_uapi.h"

#define KMODEL_NAME	"msm_kmodel"
#define KMODEL_SYSFS	"/sys/module/msm_kmodel"
#define KMODEL_PARAMS	KMODEL_SYSFS "/parameters/"
#define KMODEL_VMS	"/sys/kernel/debug/msm_kmodel/vms"
#define FINALISE_TIMEOUT_NS (10 * 1000000000ULL)	/* closed VMs drain within this */

static volatile sig_atomic_t stop_requested;
static pid_t forward_pids[MAX_PROCS];
static volatile sig_atomic_t forward_n;

static void on_stop_signal(int sig)
{
	int saved_errno = errno;

	(void)sig;
	stop_requested = 1;
	for (int i = 0; i < forward_n; i++)	/* the parent: every workload process stops */
		kill(forward_pids[i], SIGTERM);
	errno = saved_errno;
}

/* SIGURG (the twin's injected interrupt) and SIGUSR1 (our stop kick): only to end a wait. */
static void on_kick_signal(int sig)
{
	(void)sig;
}


static void sleep_ns(u64 ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };

	nanosleep(&ts, NULL);
}

static int kerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int kerr(const char *fmt, ...)
{
	va_list ap;

	fputs("msmvm-sim: --kernel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* ---------------------------------------------------------------- loading the module */

static bool kmodel_loaded(void)
{
	char state[16] = "";
	FILE *f;

	if (access(KMODEL_SYSFS, F_OK))
		return false;
	f = fopen(KMODEL_SYSFS "/initstate", "re");
	if (!f)
		return true;	/* built in */
	if (!fgets(state, sizeof(state), f))
		state[0] = 0;
	fclose(f);
	return !strncmp(state, "live", 4);
}

/* name in $PATH, or in the sbin directories a non-login root shell may lack */
static bool find_tool(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];

	snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *d ? d : ".", name);
		if (!access(out, X_OK))
			return true;
	}
	return false;
}

/* argv[0] is a path; quiet: its stderr goes to /dev/null. The exit status, or -1. */
static int run_cmd(char *const argv[], bool quiet)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, STDOUT_FILENO);
		if (quiet)
			dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool file_exists(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* build/kmodel/msm_kmodel.ko beside build/msmvm-sim (or build/asan/msmvm-sim) */
static bool kmodel_beside_binary(char *out, size_t len)
{
	char exe[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = 0;
	dir = dirname(exe);
	snprintf(out, len, "%s/kmodel/" KMODEL_NAME ".ko", dir);
	if (file_exists(out))
		return true;
	snprintf(out, len, "%s/../kmodel/" KMODEL_NAME ".ko", dir);
	return file_exists(out);
}

/* The "depends=" record of the module's .modinfo: "drm,gpu-sched" (empty if none). */
static void ko_depends(const char *ko, char *out, size_t len)
{
	static const char key[] = "\0depends=";
	FILE *f = fopen(ko, "re");
	char *buf = NULL, *p;
	long size;

	out[0] = 0;
	if (!f)
		return;
	if (!fseek(f, 0, SEEK_END) && (size = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
	    (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, f) == (size_t)size) {
		buf[size] = 0;
		p = memmem(buf, (size_t)size, key, sizeof(key) - 1);
		if (p)
			snprintf(out, len, "%s", p + sizeof(key) - 1);
	}
	free(buf);
	fclose(f);
}

static bool module_loaded(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	for (char *c = path + strlen("/sys/module/"); *c; c++)
		if (*c == '-')
			*c = '_';
	return !access(path, F_OK);
}

static int kmodel_load(const struct sim_opts *o)
{
	char ko[PATH_MAX] = "", modprobe[PATH_MAX], deps[256], missing[256] = "";
	bool have_modprobe = find_tool("modprobe", modprobe, sizeof(modprobe));
	bool have_ko;
	int fd, ret;

	if (kmodel_loaded())
		return 0;
	if (geteuid())
		return kerr("the kernel twin (" KMODEL_NAME ") is not loaded, and loading it needs "
			    "root");
	if (o->kmodel_path) {
		if (!file_exists(o->kmodel_path))
			return kerr("--kmodel %s: no such module file", o->kmodel_path);
		snprintf(ko, sizeof(ko), "%s", o->kmodel_path);
		have_ko = true;
	} else {
		have_ko = kmodel_beside_binary(ko, sizeof(ko));
		/* an installed module first; quiet when the build's own can be loaded instead */
		if (have_modprobe) {
			char *argv[] = { modprobe, KMODEL_NAME, NULL };

			if (run_cmd(argv, have_ko) == 0 && kmodel_loaded())
				return 0;
		}
		if (!have_ko)
			return kerr("cannot load the kernel twin: %s, and no " KMODEL_NAME ".ko "
				    "beside this binary (kmodel/ or ../kmodel/); build it, or give "
				    "--kmodel PATH",
				    have_modprobe ? "modprobe " KMODEL_NAME " failed" : "no modprobe");
	}

	/* insmod, with what it needs (drm, gpu-sched) loaded first */
	ko_depends(ko, deps, sizeof(deps));
	for (char *save, *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
		if (module_loaded(d))
			continue;
		if (have_modprobe) {
			char *argv[] = { modprobe, d, NULL };

			if (run_cmd(argv, false) == 0)
				continue;
		}
		snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
			 missing[0] ? ", " : "", d);
	}
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kerr("cannot open %s: %s", ko, strerror(errno));
	ret = (int)syscall(SYS_finit_module, fd, "", 0);
	if (ret && errno == EEXIST)
		ret = 0;
	if (ret) {
		int err = errno;

		close(fd);
		if (missing[0])
			return kerr("loading %s failed: %s; the modules it needs are not loaded "
				    "(%s)%s", ko, strerror(err), missing,
				    have_modprobe ? "" : ": there is no modprobe here to load them");
		return kerr("loading %s failed: %s (dmesg says why)", ko, strerror(err));
	}
	close(fd);
	if (!kmodel_loaded())
		return kerr("%s loaded, but " KMODEL_SYSFS " is not live", ko);
	return 0;
}

/* ---------------------------------------------------------------- parameters, device */

static int param_write(const char *name, u64 v)
{
	char path[256];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), KMODEL_PARAMS "%s", name);
	f = fopen(path, "we");
	if (!f)
		return kerr("cannot set parameter %s: %s: %s", name, path, strerror(errno));
	if (fprintf(f, "%" PRIu64 "\n", v) < 0)
		err = errno;
	if (fclose(f) && !err)
		err = errno;
	if (err)
		return kerr("cannot set parameter %s to %" PRIu64 ": %s", name, v, strerror(err));
	return 0;
}

static bool is_kmodel_device(const char *path)
{
	char name[64] = "";
	struct kmodel_drm_version ver = { .name_len = sizeof(name) - 1, .name = name };
	int fd = open(path, O_RDWR | O_CLOEXEC);
	bool yes;

	if (fd < 0)
		return false;
	yes = !ioctl(fd, KMODEL_DRM_IOCTL_VERSION, &ver) && ver.name_len == strlen(KMODEL_NAME) &&
	      !memcmp(name, KMODEL_NAME, ver.name_len);
	close(fd);
	return yes;
}

/* The twin's render node (or, failing that, its primary node), by DRM driver name. */
static int kmodel_find_device(char *out, size_t len)
{
	static const char *const patterns[] = { "/dev/dri/renderD*", "/dev/dri/card*" };
	u64 until = mono_ns() + 2000000000ULL;	/* devtmpfs adds the nodes as the module loads */

	do {
		for (unsigned int i = 0; i < 2; i++) {
			glob_t g;

			if (glob(patterns[i], 0, NULL, &g))
				continue;
			for (size_t j = 0; j < g.gl_pathc; j++)
				if (is_kmodel_device(g.gl_pathv[j])) {
					snprintf(out, len, "%s", g.gl_pathv[j]);
					globfree(&g);
					return 0;
				}
			globfree(&g);
		}
		sleep_ns(50000000);
	} while (mono_ns() < until);
	return kerr("no DRM device of driver " KMODEL_NAME " under /dev/dri (is devtmpfs mounted? "
		    "does dmesg show the module's probe failing?)");
}

/* ---------------------------------------------------------------- the twin's ground truth */

/* One line of debugfs msm_kmodel/vms. */
struct vm_line {
	u64 serial;
	u64 pid;
	char comm[16];
	u64 addr;
	u64 open;
	struct msm_vm_truth truth;
	s64 in_flight;
	u64 tables;
	u64 wedged;
};

enum { K_U64, K_S64, K_INT, K_COMM };

static const struct {
	const char *key;
	int kind;
	size_t off;
} vm_keys[] = {
#define F(k, kind, field) { k, kind, offsetof(struct vm_line, field) }
	F("serial", K_U64, serial),
	F("pid", K_U64, pid),
	F("comm", K_COMM, comm),
	F("addr", K_U64, addr),
	F("open", K_U64, open),
	F("binds", K_U64, truth.binds),
	F("ops", K_U64, truth.ops),
	F("errors", K_U64, truth.errors),
	F("pages_counted", K_U64, truth.pages_counted),
	F("pages_used", K_U64, truth.pages_used),
	F("waits", K_U64, truth.waits),
	F("interrupted_waits", K_U64, truth.interrupted_waits),
	F("wait_ns_total", K_U64, truth.wait_ns_total),
	F("wait_ns_max", K_U64, truth.wait_ns_max),
	F("outstanding_pages", K_S64, truth.outstanding_pages),
	F("peak_in_flight", K_INT, truth.peak_in_flight),
	F("max_in_flight_at_pass", K_INT, truth.max_in_flight_at_pass),
	F("in_flight", K_S64, in_flight),
	F("tables", K_U64, tables),
	F("wedged", K_U64, wedged),
#undef F
};

/* Parses "key=value key=value ..." (comm may hold spaces: a token without '=' continues it). */
static int vm_line_parse(char *s, struct vm_line *l)
{
	unsigned long long seen = 0;
	char *comm_end = NULL;

	memset(l, 0, sizeof(*l));
	for (char *save, *tok = strtok_r(s, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned int i;

		if (!eq) {	/* more of comm */
			if (comm_end) {
				size_t n = strlen(l->comm);

				snprintf(l->comm + n, sizeof(l->comm) - n, " %s", tok);
			}
			continue;
		}
		*eq = 0;
		comm_end = NULL;
		for (i = 0; i < sizeof(vm_keys) / sizeof(vm_keys[0]); i++)
			if (!strcmp(tok, vm_keys[i].key))
				break;
		if (i == sizeof(vm_keys) / sizeof(vm_keys[0]))
			continue;	/* a figure this version does not use */
		void *dst = (char *)l + vm_keys[i].off;
		const char *v = eq + 1;

		errno = 0;
		switch (vm_keys[i].kind) {
		case K_U64:
			*(u64 *)dst = strtoull(v, &end, 0);
			break;
		case K_S64:
			*(s64 *)dst = strtoll(v, &end, 0);
			break;
		case K_INT:
			*(int *)dst = (int)strtol(v, &end, 0);
			break;
		default:
			snprintf(l->comm, sizeof(l->comm), "%s", v);
			comm_end = end = (char *)v + strlen(v);
			break;
		}
		if (errno || *end || !*v)
			return -1;
		seen |= 1ULL << i;
	}
	return seen == (1ULL << (sizeof(vm_keys) / sizeof(vm_keys[0]))) - 1 ? 0 : -1;
}

/* Every line of KMODEL_VMS; *lines is malloc'd. */
static int vms_read(struct vm_line **lines, size_t *n, bool verbose)
{
	size_t cap = 65536, len = 0, nl = 0;
	char *buf = malloc(cap), *line, *save;
	int fd = open(KMODEL_VMS, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	*lines = NULL;
	*n = 0;
	if (fd < 0 || !buf) {
		if (verbose)
			kerr("cannot read %s: %s%s", KMODEL_VMS, strerror(errno),
			     errno == ENOENT ? " (is debugfs mounted on /sys/kernel/debug?)" : "");
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((r = read(fd, buf + len, cap - len - 1)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (verbose)
				kerr("reading %s: %s", KMODEL_VMS, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		len += (size_t)r;
		if (len + 1 == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				close(fd);
				return -1;
			}
			buf = b;
			cap *= 2;
		}
	}
	close(fd);
	buf[len] = 0;
	for (size_t i = 0; i < len; i++)
		nl += buf[i] == '\n';
	*lines = calloc(nl + 1, sizeof(**lines));
	if (!*lines) {
		free(buf);
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char copy[1024];

		snprintf(copy, sizeof(copy), "%s", line);
		if (vm_line_parse(line, &(*lines)[*n])) {
			if (verbose)
				kerr("%s: a line this msmvm-sim cannot read (docs/kmodel.md): %s",
				     KMODEL_VMS, copy);
			free(*lines);
			*lines = NULL;
			*n = 0;
			free(buf);
			return -1;
		}
		(*n)++;
	}
	free(buf);
	return 0;
}

static const struct vm_line *vms_find(const struct vm_line *lines, size_t n, u64 serial)
{
	for (size_t i = 0; i < n; i++)
		if (lines[i].serial == serial)
			return &lines[i];
	return NULL;
}

/* ---------------------------------------------------------------- one workload process */

struct kqueue_thread {
	pthread_t thread;
	int fd;
	u32 queue_id;
	unsigned int vm;
	struct bind_stream stream;	/* the model's: same seed, same window, same binds */
	pthread_barrier_t *start;
	volatile bool running;
	volatile bool in_ioctl;
	u64 run_delay_ns;
};

/* libdrm's drmIoctl(): an interrupted call is issued again (the twin counts it again). */
static int drm_ioctl_retry(int fd, unsigned long req, void *arg)
{
	int ret;

	do
		ret = ioctl(fd, req, arg);
	while (ret == -1 && (errno == EINTR || errno == EAGAIN) && !stop_requested);
	return ret ? -errno : 0;
}

static void *kqueue_thread_main(void *arg)
{
	struct kqueue_thread *qt = arg;
	struct drm_msm_vm_bind args;
	bool warned = false;

	pthread_barrier_wait(qt->start);
	while (bind_stream_next(&qt->stream, &args, &stop_requested)) {
		int ret;

		qt->in_ioctl = true;
		ret = drm_ioctl_retry(qt->fd, DRM_IOCTL_MSM_VM_BIND, &args);
		qt->in_ioctl = false;
		/* -ENOMEM is --alloc-fail-rate's; anything else is worth one line */
		if (ret && ret != -ENOMEM && !stop_requested && !warned) {
			fprintf(stderr, "msmvm-sim: VM_BIND on VM %u queue %u failed: %s (further "
					"failures of this queue not shown)\n",
				qt->vm, qt->stream.queue_id, strerror(-ret));
			warned = true;
		}
	}
	qt->run_delay_ns = thread_run_delay_ns();
	qt->running = false;
	return NULL;
}

/* Opens VM v's file and sets it up as Mesa does for VM_BIND. Returns the fd or -1. */
static int vm_file_setup(const char *dev, unsigned int v, unsigned int nqueues, u32 *queue_ids)
{
	struct drm_msm_param param = {
		.pipe = MSM_PIPE_3D0, .param = MSM_PARAM_EN_VM_BIND, .value = 1,
	};
	struct drm_msm_gem_new bo = { .size = WL_BO_SIZE, .flags = MSM_BO_WC };
	int fd = open(dev, O_RDWR | O_CLOEXEC), ret;

	if (fd < 0) {
		kerr("VM %u: open %s: %s", v, dev, strerror(errno));
		return -1;
	}
	ret = drm_ioctl_retry(fd, DRM_IOCTL_MSM_SET_PARAM, &param);
	if (ret) {
		kerr("VM %u: SET_PARAM EN_VM_BIND: %s", v, strerror(-ret));
		goto fail;
	}
	ret = drm_ioctl_retry(fd, DRM_IOCTL_MSM_GEM_NEW, &bo);
	if (ret) {
		kerr("VM %u: GEM_NEW of %llu bytes: %s", v, WL_BO_SIZE, strerror(-ret));
		goto fail;
	}
	if (bo.handle != WL_BO_HANDLE) {
		kerr("VM %u: GEM_NEW returned handle %u; the workloads map handle %u", v, bo.handle,
		     WL_BO_HANDLE);
		goto fail;
	}
	for (unsigned int q = 0; q < nqueues; q++) {
		struct drm_msm_submitqueue sq = { .flags = MSM_SUBMITQUEUE_VM_BIND };

		ret = drm_ioctl_retry(fd, DRM_IOCTL_MSM_SUBMITQUEUE_NEW, &sq);
		if (ret) {
			kerr("VM %u: SUBMITQUEUE_NEW (VM_BIND): %s", v, strerror(-ret));
			goto fail;
		}
		/* the model numbers its queues 1..N: the windows and the streams depend on it */
		if (sq.id != q + 1) {
			kerr("VM %u: SUBMITQUEUE_NEW returned id %u, expected %u", v, sq.id, q + 1);
			goto fail;
		}
		queue_ids[q] = sq.id;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* The twin's line of the VM this process just created: its newest after base_serial. */
static int vm_claim_serial(u64 base_serial, const struct proc_result *res, unsigned int v,
			   struct vm_result *out)
{
	struct vm_line *lines;
	const struct vm_line *best = NULL;
	size_t n;

	if (vms_read(&lines, &n, true))
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool taken = false;

		if (lines[i].serial <= base_serial || lines[i].pid != (u64)getpid())
			continue;
		for (unsigned int w = 0; w < v; w++)
			taken |= res->vm[w].serial == lines[i].serial;
		if (!taken && (!best || lines[i].serial < best->serial))
			best = &lines[i];
	}
	if (best) {
		out->serial = best->serial;
		out->addr = best->addr;
	}
	free(lines);
	if (!best)
		return kerr("VM %u: set up (EN_VM_BIND, GEM_NEW, SUBMITQUEUE_NEW), but %s shows no "
			    "VM of pid %d for it", v, KMODEL_VMS, getpid());
	return 0;
}

static int run_kernel_process(const struct sim_opts *o, const char *dev, u64 base_serial,
			      unsigned int index, struct proc_result *res)
{
	unsigned int nthreads = o->vms * o->queues, t;
	int fds[MAX_VMS];
	u32 queue_ids[MAX_VMS][MSM_MAX_QUEUES];
	struct kqueue_thread *qts = calloc(nthreads, sizeof(*qts));
	u64 wedged_since[MAX_VMS] = { 0 };
	pthread_barrier_t start_line;
	u64 start;

	snprintf(res->comm, sizeof(res->comm), "%s-%u", o->comm ? o->comm : workload_names[o->workload],
		 index);
	prctl(PR_SET_NAME, res->comm, 0, 0, 0);	/* before open: the twin takes the opener's */
	res->pid = getpid();
	if (!qts)
		return kerr("out of memory");

	/* one VM after the other: the VM id is then the order of the twin's serials */
	for (unsigned int v = 0; v < o->vms; v++) {
		fds[v] = vm_file_setup(dev, v, o->queues, queue_ids[v]);
		if (fds[v] < 0 || vm_claim_serial(base_serial, res, v, &res->vm[v]))
			return 1;
		res->nvms = v + 1;
	}

	pthread_barrier_init(&start_line, NULL, nthreads + 1);
	start = mono_ns();
	for (t = 0; t < nthreads; t++) {
		struct kqueue_thread *qt = &qts[t];
		unsigned int v = t / o->queues;

		qt->fd = fds[v];
		qt->vm = v;
		if (bind_stream_init(&qt->stream, o, index, t, queue_ids[v][t % o->queues], start))
			return kerr("out of memory");
		qt->start = &start_line;
		qt->running = true;
		if (pthread_create(&qt->thread, NULL, kqueue_thread_main, qt))
			return kerr("cannot start a queue thread");	/* exit ends the others */
	}
	pthread_barrier_wait(&start_line);

	/* Watch for the end, a stop request, or a VM that upward drift has wedged. */
	for (;;) {
		bool any = false;
		u64 now = mono_ns();
		struct vm_line *lines = NULL;
		size_t n = 0;

		for (t = 0; t < nthreads; t++)
			any |= qts[t].running;
		if (!any)
			break;
		/* the time is up: whoever still sleeps in the throttle is interrupted, as at exit */
		if (o->duration && now >= start + (u64)(o->duration * 1e9) + 100000000ULL)
			stop_requested = 1;
		/*
		 * Wedged, as the model says it: in_flight above the limit with no job left to bring
		 * it down (no pushed job outstanding), and a thread of the VM in its ioctl.
		 */
		if (!stop_requested && !vms_read(&lines, &n, false)) {
			for (unsigned int v = 0; v < o->vms && !stop_requested; v++) {
				const struct vm_line *l = vms_find(lines, n, res->vm[v].serial);
				bool waiting = false;

				for (t = v * o->queues; t < (v + 1) * o->queues; t++)
					waiting |= qts[t].in_ioctl;
				if (!l || !waiting || l->truth.outstanding_pages != 0 ||
				    l->in_flight <= (s64)msm_model.prealloc_limit) {
					wedged_since[v] = 0;
					continue;
				}
				if (!wedged_since[v])
					wedged_since[v] = now;
				if (now - wedged_since[v] > (u64)(o->wedge_timeout * 1e9)) {
					fprintf(stderr, "msmvm-sim: %s: VM %u wedged: in_flight %" PRId64
							" > limit %u with nothing queued; stopping\n",
						res->comm, v, l->in_flight, msm_model.prealloc_limit);
					res->vm[v].wedged = true;
					stop_requested = 1;
				}
			}
		}
		free(lines);
		if (stop_requested) {
			/* Like a process being killed: interrupt whoever sleeps, in the twin too. */
			for (t = 0; t < nthreads; t++)
				if (qts[t].running)
					pthread_kill(qts[t].thread, SIGUSR1);
		}
		sleep_ns(stop_requested ? 1000000 : 20000000);
	}
	for (t = 0; t < nthreads; t++) {
		pthread_join(qts[t].thread, NULL);
		res->run_delay_ns += qts[t].run_delay_ns;
		bind_stream_fini(&qts[t].stream);
	}
	pthread_barrier_destroy(&start_line);
	for (unsigned int v = 0; v < o->vms; v++)
		close(fds[v]);	/* the twin drains the VM and finalises its line (open=0) */
	free(qts);
	res->done = true;
	return 0;
}

static void child_signals(void)
{
	struct sigaction sa = { .sa_handler = on_kick_signal };	/* no SA_RESTART: EINTR */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGURG, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	forward_n = 0;
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---------------------------------------------------------------- the run */

static int kmodel_configure(const struct sim_opts *o)
{
	/* every parameter the model has, so that no earlier run's setting carries over */
	if (param_write("prealloc_limit", msm_model.prealloc_limit) ||
	    param_write("vm_size", msm_model.vm_size) ||
	    param_write("job_cost_us", (u64)o->job_cost_us) ||
	    param_write("op_cost_us", msm_model.op_cost_us) ||
	    param_write("interrupt_ppm", (u64)llround(msm_model.interrupt_rate * 1e6)) ||
	    param_write("interrupt_delay_us", msm_model.interrupt_delay_us) ||
	    param_write("alloc_fail_ppm", (u64)llround(msm_model.alloc_fail_rate * 1e6)))
		return 1;
	return 0;
}

/* Waits (bounded) for every VM of the run to be final, then fills the results from it. */
static int collect(struct proc_result *res, unsigned int nprocs)
{
	u64 until = mono_ns() + FINALISE_TIMEOUT_NS;

	for (;;) {
		struct vm_line *lines;
		size_t n;
		bool final = true;
		int status = 0;

		if (vms_read(&lines, &n, true))
			return 1;
		for (unsigned int p = 0; p < nprocs; p++)
			for (unsigned int v = 0; v < res[p].nvms; v++) {
				struct vm_result *r = &res[p].vm[v];
				const struct vm_line *l = vms_find(lines, n, r->serial);

				if (!l || l->pid != (u64)res[p].pid) {
					kerr("%s lost the line of serial %" PRIu64 " (pid %d)", KMODEL_VMS,
					     r->serial, res[p].pid);
					status = 1;
					continue;
				}
				final &= l->open == 0;
				r->truth = l->truth;
				r->in_flight = (int)l->in_flight;
				r->addr = l->addr;
				r->tables = l->tables;
				r->wedged |= l->wedged != 0;
			}
		free(lines);
		if (status)
			return status;
		if (final)
			return 0;
		if (mono_ns() >= until)
			return kerr("the run's VMs are not final (open=1) %llu s after their processes "
				    "exited: the figures are the last seen", FINALISE_TIMEOUT_NS / 1000000000ULL);
		sleep_ns(50000000);
	}
}

int kernel_run(const struct sim_opts *o, FILE *summary_f)
{
	char dev[PATH_MAX];
	struct vm_line *lines;
	size_t n;
	u64 base_serial = 0;
	struct proc_result *res;
	pid_t pids[MAX_PROCS], parent;
	sigset_t stop_set, old_set;
	json_object *summary;
	unsigned int nprocs = o->procs;
	int status = 0;

	if (kmodel_load(o) || kmodel_find_device(dev, sizeof(dev)))
		return 1;
	/* the run's VMs are the ones created from now on */
	if (vms_read(&lines, &n, true))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (lines[i].serial > base_serial)
			base_serial = lines[i].serial;
	free(lines);
	if (kmodel_configure(o))
		return 1;

	res = mmap(NULL, sizeof(*res) * nprocs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	if (res == MAP_FAILED)
		return kerr("mmap: %s", strerror(errno));
	memset(res, 0, sizeof(*res) * nprocs);

	{
		struct sigaction sa = { .sa_handler = on_stop_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	/* A stop while forking waits until every process is known, then is forwarded to all. */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_set, &old_set);
	parent = getpid();
	for (unsigned int p = 0; p < nprocs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			kerr("fork: %s", strerror(errno));
			stop_requested = 1;
			nprocs = p;
			break;
		}
		if (pids[p] == 0) {
			if (!sim_follow_parent(parent))
				_exit(1);
			child_signals();
			sigprocmask(SIG_SETMASK, &old_set, NULL);
			_exit(run_kernel_process(o, dev, base_serial, p, &res[p]));
		}
	}
	memcpy(forward_pids, pids, sizeof(pids[0]) * nprocs);
	forward_n = (sig_atomic_t)nprocs;
	sigprocmask(SIG_SETMASK, &old_set, NULL);	/* a pending stop is delivered here */
	if (stop_requested)
		for (unsigned int q = 0; q < nprocs; q++)
			kill(pids[q], SIGTERM);
	for (unsigned int p = 0; p < nprocs; p++) {
		int st;

		while (waitpid(pids[p], &st, 0) < 0) {
			if (errno != EINTR)
				break;
			for (unsigned int q = 0; q < nprocs; q++)
				kill(pids[q], SIGTERM);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) || !res[p].done) {
			kerr("workload process %d failed (%s %d)", pids[p],
			     WIFSIGNALED(st) ? "signal" : "status",
			     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			status = 1;
		}
	}

	if (collect(res, nprocs))
		status = 1;
	summary = sim_summary_json(msm_model.prealloc_limit, o->workload, o->seed, res, nprocs);
	if (sim_summary_write(summary_f, o->summary_path, summary))
		status = 1;
	json_object_put(summary);
	munmap(res, sizeof(*res) * o->procs);
	return status;
}
