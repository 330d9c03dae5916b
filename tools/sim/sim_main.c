// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-sim: the msm driver's VM_BIND path in user space, driven by synthetic workloads.
 *
 *   msmvm-sim run   [options]   fork workload processes, print a JSON ground-truth summary
 *   msmvm-sim count OP...       pages the driver preallocates for one VM_BIND
 *
 * Each workload process opens its own "device files" (one per VM), with one scheduler
 * thread per VM and one issuing thread per submit queue, and calls msm_ioctl_vm_bind() as
 * drm_ioctl() would. The toolkit probes this binary with uprobes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bind_stream.h"
#include "count.h"
#include "msm_drv.h"
#include "kernel_run.h"
#include "sim_run.h"
#include "version.h"
#include "workload_gen.h"

static volatile sig_atomic_t stop_requested;
/* Set in the parent once every workload process exists: the handler forwards the stop. */
static pid_t stop_forward_pids[MAX_PROCS];
static volatile sig_atomic_t stop_forward_n;

static void on_stop_signal(int sig)
{
	int saved_errno = errno;	/* waitpid()'s EINTR must survive kill() */

	(void)sig;
	stop_requested = 1;
	for (int i = 0; i < stop_forward_n; i++)
		kill(stop_forward_pids[i], SIGTERM);
	errno = saved_errno;
}

/* ---------------------------------------------------------------- argument parsing */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("msmvm-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return EXIT_USAGE;
}

static int parse_uint(const char *s, u64 lo, u64 hi, u64 *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || isnan(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------- count */

/* The parser and the calculator are in count.c (the fuzz target calls them too). */
static int cmd_count(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--batch"))	/* not in sim_count_main(): fuzzed */
		return sim_count_batch(stdin, stdout, stderr);
	return sim_count_main(argc, argv, stdout, stderr);
}

/* ---------------------------------------------------------------- run: one process */

struct queue_thread {
	pthread_t thread;
	struct drm_device *dev;
	struct drm_file *file;
	struct msm_gpu_submitqueue *queue;
	struct bind_stream stream;	/* its VM_BINDs: seed, window, pacing, end */
	volatile bool running;
	u64 run_delay_ns;	/* runnable but not running, over the thread's life (schedstat) */
	struct start_line *start;	/* how the process's queue threads begin */
	bool leader;		/* the thread whose first bind goes alone */
};

/*
 * How a process's queue threads begin: every one of them created (the barrier), then one
 * bind alone, then all. Both keep what only the uprobes add out of vm_bind_prealloc_count's
 * window, where the probes would count it as a wait the model never slept (a kprobe in the
 * kernel never does any of it):
 *  - pthread_create() maps the new thread's stack (mmap, mprotect): the mmap_lock taken
 *    for writing, which the uprobe's lookup or a page fault of a binding thread waits for;
 *  - the process's first return through the uretprobe trampoline faults its [uprobes] page
 *    in (the page exists from the process's first probe hit only, so it cannot be prefaulted):
 *    two threads doing it at once meet on the page's lock, one sleeps.
 * The first bind of a process never waits in the throttle (nothing is in flight yet).
 */
struct start_line {
	pthread_barrier_t created;
	pthread_mutex_t lock;
	pthread_cond_t first_bind_done;
	bool first_done;
};

static void start_line_first_done(struct start_line *sl)
{
	pthread_mutex_lock(&sl->lock);
	sl->first_done = true;
	pthread_cond_broadcast(&sl->first_bind_done);
	pthread_mutex_unlock(&sl->lock);
}

static void start_line_wait(struct queue_thread *qt)
{
	struct start_line *sl = qt->start;

	pthread_barrier_wait(&sl->created);
	if (qt->leader)
		return;
	pthread_mutex_lock(&sl->lock);
	while (!sl->first_done)
		pthread_cond_wait(&sl->first_bind_done, &sl->lock);
	pthread_mutex_unlock(&sl->lock);
}

/* What drm_ioctl() and libdrm's drmIoctl() add around the driver: bookkeeping and restart. */
static int drm_ioctl_vm_bind(struct drm_device *dev, struct drm_msm_vm_bind *args,
			     struct drm_file *file)
{
	struct msm_context *ctx = file->driver_priv;
	struct msm_gem_vm *vm = to_msm_vm(ctx->vm);
	int ret;

	do {
		u64 rng = msm_current_call.rng;

		memset(&msm_current_call, 0, sizeof(msm_current_call));
		msm_current_call.rng = rng;
		signal_deliver_current();	/* a signal that came between calls was handled */

		ret = msm_ioctl_vm_bind(dev, args, file);

		signal_disarm_interrupt();
		signal_deliver_current();	/* return to user space */

		/* model: ground truth of the ioctl */
		__atomic_fetch_add(&vm->truth.binds, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&vm->truth.ops, args->nr_ops, __ATOMIC_RELAXED);
		if (ret < 0)
			__atomic_fetch_add(&vm->truth.errors, 1, __ATOMIC_RELAXED);
		msm_model_log("{\"ev\":\"bind\",\"ts\":%" PRIu64 ",\"pid\":%d,\"tid\":%ld,"
			      "\"vm\":%d,\"queue\":%u,"
			      "\"nr_ops\":%u,\"ret\":%d,\"count\":%u,\"counted\":%d,\"slept\":%d,"
			      "\"wait_ns\":%" PRIu64 ",\"in_flight_at_pass\":%d,"
			      "\"in_flight_after_add\":%d}",
			      msm_model_now_ns(), getpid(), syscall(SYS_gettid), vm->id,
			      args->queue_id, args->nr_ops,
			      ret, msm_current_call.count, msm_current_call.counted,
			      msm_current_call.slept, msm_current_call.wait_ns,
			      msm_current_call.in_flight_at_pass,
			      msm_current_call.in_flight_after_add);
		/* -ERESTARTSYS: the kernel restarts, or libdrm retries EINTR: same call again */
	} while (ret == -ERESTARTSYS && !stop_requested);
	return ret;
}

static void *queue_thread_main(void *arg)
{
	struct queue_thread *qt = arg;
	struct drm_msm_vm_bind args;

	signal_init_thread();
	msm_current_call.rng = qt->stream.seed ^ 0x5bd1e995ULL;
	start_line_wait(qt);

	while (bind_stream_next(&qt->stream, &args, &stop_requested)) {
		drm_ioctl_vm_bind(qt->dev, &args, qt->file);
		if (qt->leader && qt->stream.issued == 1)
			start_line_first_done(qt->start);
	}
	if (qt->leader)		/* stopped before its first bind: let the others go */
		start_line_first_done(qt->start);
	signal_fini_thread();
	qt->run_delay_ns = thread_run_delay_ns();
	qt->running = false;
	return NULL;
}

/* A VM is wedged when its threads wait, nothing is queued, and in_flight stays above the limit. */
static bool vm_looks_wedged(struct msm_gem_vm *vm)
{
	bool idle, waiters;

	pthread_mutex_lock(&vm->sched.job_list_lock);
	idle = list_empty(&vm->sched.pending_list);
	pthread_mutex_unlock(&vm->sched.job_list_lock);
	pthread_spin_lock(&vm->prealloc_throttle.wait.lock);
	waiters = !list_empty(&vm->prealloc_throttle.wait.head);
	pthread_spin_unlock(&vm->prealloc_throttle.wait.lock);
	return idle && waiters &&
	       atomic_read(&vm->prealloc_throttle.in_flight) > (int)msm_model.prealloc_limit;
}

/*
 * Map every page of the program and its libraries now, in each workload process, before its
 * threads start. A first touch of a text page later faults it in from the page cache, and two
 * threads faulting the same page meet on the page lock: a voluntary switch inside
 * vm_bind_prealloc_count that is not the throttle, which the probes (rightly, for the kernel)
 * count as a wait. Best effort: a mapping that cannot be populated is left as it is.
 */
static void prefault_mappings(void)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	char line[512];

	if (!maps)
		return;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, inode;
		char perms[8], path[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %255s", &start, &end, perms, &inode,
			   path) < 4 || perms[0] != 'r' || path[0] == '[' || inode == 0)
			continue;	/* special or anonymous: anonymous faults do not take page locks */
		/* private writable file pages (.data) are copied on the first write: do that now */
		madvise((void *)start, end - start,
			perms[1] == 'w' && perms[3] == 'p' ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	}
	fclose(maps);
}

static int run_process(const struct sim_opts *o, unsigned int index, struct proc_result *res)
{
	unsigned int nthreads = o->vms * o->queues;
	struct drm_device dev = { .driver_name = "msm" };
	struct drm_gem_object bo = { .size = WL_BO_SIZE, .handle = WL_BO_HANDLE };
	struct drm_file files[MAX_VMS];
	struct msm_context ctxs[MAX_VMS];
	struct msm_gpu_submitqueue *queues;
	struct queue_thread *qts;
	u64 wedged_since[MAX_VMS] = { 0 };
	bool wedged[MAX_VMS] = { 0 };
	u64 start = mono_ns();
	struct start_line start_line = { .lock = PTHREAD_MUTEX_INITIALIZER,
					 .first_bind_done = PTHREAD_COND_INITIALIZER };
	unsigned int t = 0;

	snprintf(res->comm, sizeof(res->comm), "%s-%u", o->comm ? o->comm : workload_names[o->workload],
		 index);
	prctl(PR_SET_NAME, res->comm, 0, 0, 0);
	prefault_mappings();
	/*
	 * A stop sends SIGUSR1 to the queue threads, possibly before they ran signal_init_thread():
	 * install the handler now, or SIGUSR1's default action kills the process.
	 */
	signal_init_thread();
	signal_fini_thread();
	res->pid = getpid();
	res->nvms = o->vms;

	queues = calloc(nthreads, sizeof(*queues));
	qts = calloc(nthreads, sizeof(*qts));
	if (!queues || !qts) {
		fprintf(stderr, "msmvm-sim: out of memory\n");
		return 1;
	}
	/* the queue threads and this one: binds start once every thread is there */
	pthread_barrier_init(&start_line.created, NULL, nthreads + 1);
	memset(files, 0, sizeof(files));
	memset(ctxs, 0, sizeof(ctxs));

	for (unsigned int v = 0; v < o->vms; v++) {
		struct drm_gpuvm *vm = msm_gem_vm_create(&dev, "msm-user-vm", (int)v,
							 o->job_cost_us);
		if (!vm) {
			fprintf(stderr, "msmvm-sim: cannot create VM %u\n", v);
			return 1;
		}
		files[v].driver_priv = &ctxs[v];
		files[v].minor_dev = &dev;
		files[v].objects[WL_BO_HANDLE] = &bo;
		snprintf(files[v].name, sizeof(files[v].name), "%s", res->comm);
		ctxs[v].vm = vm;
		ctxs[v].userspace_managed_vm = true;
		INIT_LIST_HEAD(&ctxs[v].submitqueues);
		for (unsigned int q = 0; q < o->queues; q++, t++) {
			struct msm_gpu_submitqueue *queue = &queues[t];

			queue->id = q + 1;	/* queue 0 is the context's default, not VM_BIND */
			queue->flags = MSM_SUBMITQUEUE_VM_BIND;
			queue->ctx = &ctxs[v];
			queue->entity.rq_sched = &to_msm_vm(vm)->sched;
			pthread_mutex_init(&queue->lock, NULL);
			ctxs[v].queues[ctxs[v].nr_queues++] = queue;
		}
		res->vm[v].addr = (u64)(uintptr_t)to_msm_vm(vm);
	}

	for (t = 0; t < nthreads; t++) {
		struct queue_thread *qt = &qts[t];
		unsigned int v = t / o->queues;

		qt->dev = &dev;
		qt->file = &files[v];
		qt->queue = &queues[t];
		if (bind_stream_init(&qt->stream, o, index, t, qt->queue->id, start)) {
			fprintf(stderr, "msmvm-sim: out of memory\n");
			return 1;
		}
		qt->running = true;
		qt->start = &start_line;
		qt->leader = t == 0;
		if (pthread_create(&qt->thread, NULL, queue_thread_main, qt)) {
			fprintf(stderr, "msmvm-sim: cannot start thread\n");
			return 1;	/* the process exits: the threads waiting at the start go too */
		}
	}
	pthread_barrier_wait(&start_line.created);

	/* Watch for the end, a stop request, or a VM that upward drift has wedged. */
	for (;;) {
		bool any = false;
		u64 now = mono_ns();

		for (t = 0; t < nthreads; t++)
			any |= qts[t].running;
		if (!any)
			break;
		/* the time is up: whoever still sleeps in the throttle is interrupted, as at exit */
		if (o->duration && now >= start + (u64)(o->duration * 1e9) + 100000000ULL)
			stop_requested = 1;
		for (unsigned int v = 0; v < o->vms && !stop_requested; v++) {
			if (!vm_looks_wedged(to_msm_vm(ctxs[v].vm))) {
				wedged_since[v] = 0;
				continue;
			}
			if (!wedged_since[v])
				wedged_since[v] = now;
			if (now - wedged_since[v] > (u64)(o->wedge_timeout * 1e9)) {
				fprintf(stderr, "msmvm-sim: %s: VM %u wedged: in_flight %d > limit %u "
						"with nothing queued; stopping\n",
					res->comm, v,
					atomic_read(&to_msm_vm(ctxs[v].vm)->prealloc_throttle.in_flight),
					msm_model.prealloc_limit);
				wedged[v] = true;
				stop_requested = 1;
			}
		}
		if (stop_requested) {
			/* Like a process being killed: interrupt whoever sleeps in the throttle. */
			for (t = 0; t < nthreads; t++)
				if (qts[t].running)
					pthread_kill(qts[t].thread, SIGUSR1);
		}
		usleep(stop_requested ? 1000 : 20000);
	}
	for (t = 0; t < nthreads; t++) {
		pthread_join(qts[t].thread, NULL);
		res->run_delay_ns += qts[t].run_delay_ns;
		bind_stream_fini(&qts[t].stream);
	}
	pthread_barrier_destroy(&start_line.created);

	for (unsigned int v = 0; v < o->vms; v++) {
		struct msm_gem_vm *vm = to_msm_vm(ctxs[v].vm);

		msm_gem_vm_close(&vm->base);	/* drain: every pushed job runs and is freed */
		res->vm[v].truth = vm->truth;
		res->vm[v].in_flight = atomic_read(&vm->prealloc_throttle.in_flight);
		res->vm[v].wedged = wedged[v];
		res->vm[v].tables = msm_iommu_pagetable_tables(vm->mmu);
		msm_gem_vm_destroy(&vm->base);
	}
	free(queues);
	free(qts);
	res->log_failed = msm_model_log_failed;
	res->log_errno = msm_model_log_errno;
	res->log_written = msm_model_log_short[0];
	res->log_len = msm_model_log_short[1];
	res->done = true;
	return 0;
}

/* ---------------------------------------------------------------- run */

/*
 * --log: a failure a workload process met (each stops logging at its first: no line after a
 * lost one), a short write first (the file ends in a cut line: say so), else the close's.
 * Said once, naming the file; -1 fails the run.
 */
static int report_log(const struct sim_opts *o, const struct proc_result *res)
{
	const struct proc_result *f = NULL;

	for (unsigned int p = 0; p < o->procs; p++)
		if (res[p].log_failed && (!f || (f->log_errno && !res[p].log_errno)))
			f = &res[p];
	if (f && f->log_errno)
		fprintf(stderr, "msmvm-sim: writing the log '%s' failed: %s; the log is incomplete\n",
			o->log_path, strerror(f->log_errno));
	else if (f)
		fprintf(stderr, "msmvm-sim: writing the log '%s' failed: a short write (%u of %u "
				"bytes; the disk is full?); the log is incomplete, its last line cut "
				"short\n", o->log_path, f->log_written, f->log_len);
	if (close(msm_model_log_fd) && !f) {
		fprintf(stderr, "msmvm-sim: closing the log '%s' failed: %s; the log may be "
				"incomplete\n", o->log_path, strerror(errno));
		return -1;
	}
	msm_model_log_fd = -1;
	return f ? -1 : 0;
}

static void run_usage(FILE *f)
{
	fputs("Usage: msmvm-sim run [OPTIONS]\n"
	      "\n"
	      "Run workload processes against the model of the msm VM_BIND path and print a\n"
	      "JSON ground-truth summary when they finish (or on SIGINT/SIGTERM). With\n"
	      "--kernel, run the same workloads as real ioctls on the msm_kmodel kernel twin.\n"
	      "\n"
	      "Workload:\n"
	      "  -w, --workload NAME      sparse | contiguous | mixed | unmap-heavy | storm\n"
	      "                           (default mixed)\n"
	      "  -P, --procs N            workload processes, each with its own pid (default 1)\n"
	      "      --vms N              VMs (device files) per process (default 1, max 16)\n"
	      "      --queues N           VM_BIND queues per VM, one thread each (default 1)\n"
	      "  -r, --rate N             VM_BINDs per second per process, 0 = flat out\n"
	      "                           (default 0)\n"
	      "  -d, --duration SECS      run for SECS seconds ...\n"
	      "  -n, --binds N            ... or issue N VM_BINDs per process (default 1000)\n"
	      "      --job-cost USEC      time the scheduler takes per job (default 50; storm:\n"
	      "                           1000)\n"
	      "      --op-cost USEC       and per op of the job (default 0)\n"
	      "      --seed N             same seed, same ops (default 1)\n"
	      "      --burst-every SECS   storm binds for the last --burst-len SECS (default 2)\n"
	      "                           of every SECS seconds: periodic stalls\n"
	      "\n"
	      "Driver and faults:\n"
	      "      --limit PAGES        throttle limit (the driver's 1024)\n"
	      "      --vm-size SIZE       each VM's VA size from 4 GiB (ADRENO_VM_START), a\n"
	      "                           multiple of 2 MiB (default 256T = 2^48): 4G (most\n"
	      "                           GPUs), 16G or 256G (some a7xx), 256T (2^48, BIT(ias)\n"
	      "                           on newer kernels)\n"
	      "      --interrupt-rate P   probability that a signal arrives during a throttle\n"
	      "                           sleep (-ERESTARTSYS, retried: downward drift)\n"
	      "      --interrupt-delay USEC  how long after the sleep begins it arrives\n"
	      "                           (default 200)\n"
	      "      --alloc-fail-rate P  probability that the bulk page allocation fails after\n"
	      "                           the count was added (upward drift)\n"
	      "      --wedge-timeout SECS stop when a VM stays wedged this long (default 2)\n"
	      "      --hang-scheduler-after SECS  schedulers stop running jobs after SECS\n"
	      "                           (a hung GPU): in_flight stays up, binds wait;\n"
	      "                           drained at the end (the model only)\n"
	      "\n"
	      "Kernel twin (docs/kmodel.md; as root, in the guest of tools/guest/run):\n"
	      "      --kernel             issue the workloads as real ioctls (EN_VM_BIND,\n"
	      "                           GEM_NEW, SUBMITQUEUE_NEW, VM_BIND) on the DRM device\n"
	      "                           of driver msm_kmodel, one open file per VM, one\n"
	      "                           thread per queue. Loads the module if needed\n"
	      "                           (modprobe msm_kmodel, else kmodel/msm_kmodel.ko\n"
	      "                           beside this binary's build directory) and sets all\n"
	      "                           its parameters from the options above, defaults\n"
	      "                           included, so no earlier setting carries over:\n"
	      "                           prealloc_limit, vm_size, job_cost_us, op_cost_us,\n"
	      "                           interrupt_ppm, interrupt_delay_us, alloc_fail_ppm.\n"
	      "                           The twin's signal is SIGURG: an interrupted VM_BIND\n"
	      "                           returns EINTR and is issued again, as libdrm does.\n"
	      "                           The summary is the twin's ground truth (debugfs\n"
	      "                           msm_kmodel/vms) for the VMs the run created, read\n"
	      "                           once every process has exited and its VMs are\n"
	      "                           drained; addr is the kernel's struct msm_gem_vm, as\n"
	      "                           probes see it\n"
	      "      --kmodel PATH        the msm_kmodel.ko to load if it is not loaded\n"
	      "\n"
	      "Output:\n"
	      "  -o, --summary FILE       write the summary here instead of stdout\n"
	      "      --comm NAME          name the processes NAME-0, NAME-1, ... (15 bytes at\n"
	      "                           most)\n"
	      "      --log FILE           JSON lines, one per VM_BIND call and per freed job\n"
	      "                           (the model only)\n"
	      "  -h, --help               this text\n"
	      "\n"
	      "Summary counters (every \"totals\" object; the toolkit prints the same names):\n"
	      "  binds, ops, errors, pages_counted, pages_used, pages_overcount, waits,\n"
	      "  interrupted_waits, wait_ns_total, wait_ns_max, peak_in_flight, in_flight,\n"
	      "  drift.\n"
	      "  See docs/model.md for where in the driver each one is taken.\n"
	      "\n"
	      "Exit status: 0 success, 1 runtime failure, 2 bad usage.\n",
	      f);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "procs", required_argument, NULL, 'P' },
		{ "vms", required_argument, NULL, 'V' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "binds", required_argument, NULL, 'n' },
		{ "job-cost", required_argument, NULL, 'J' },
		{ "limit", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, 'S' },
		{ "interrupt-rate", required_argument, NULL, 'I' },
		{ "alloc-fail-rate", required_argument, NULL, 'A' },
		{ "wedge-timeout", required_argument, NULL, 'W' },
		{ "burst-every", required_argument, NULL, 'B' },
		{ "op-cost", required_argument, NULL, 'O' },
		{ "comm", required_argument, NULL, 'c' },
		{ "hang-scheduler-after", required_argument, NULL, 'H' },
		{ "burst-len", required_argument, NULL, 'b' },
		{ "summary", required_argument, NULL, 'o' },
		{ "log", required_argument, NULL, 'l' },
		{ "vm-size", required_argument, NULL, 'M' },
		{ "kernel", no_argument, NULL, 'K' },
		{ "kmodel", required_argument, NULL, 'k' },
		{ "interrupt-delay", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sim_opts o = {
		.workload = WL_MIXED, .procs = 1, .vms = 1, .queues = 1, .binds = 1000,
		.job_cost_us = -1, .seed = 1, .wedge_timeout = 2, .burst_len = 2,
	};
	bool have_binds = false;
	const char *model_only = NULL;	/* an option --kernel cannot honour */
	struct proc_result *res;
	pid_t pids[MAX_PROCS], parent;
	sigset_t stop_set, old_set;
	json_object *summary;
	FILE *summary_f;
	int c, status = 0;
	u64 v;

	optind = 1;
	opterr = 0;	/* one error line, ours, naming the argument */
	while ((c = getopt_long(argc, argv, ":w:P:r:d:n:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (workload_parse(optarg, &o.workload))
				return usage_error("run: unknown workload '%s'", optarg);
			break;
		case 'P':
			if (parse_uint(optarg, 1, MAX_PROCS, &v))
				return usage_error("run: --procs must be 1..%d, not '%s'", MAX_PROCS, optarg);
			o.procs = (unsigned int)v;
			break;
		case 'V':
			if (parse_uint(optarg, 1, MAX_VMS, &v))
				return usage_error("run: --vms must be 1..%d, not '%s'", MAX_VMS, optarg);
			o.vms = (unsigned int)v;
			break;
		case 'Q':
			if (parse_uint(optarg, 1, MSM_MAX_QUEUES, &v))
				return usage_error("run: --queues must be 1..%d, not '%s'", MSM_MAX_QUEUES,
						   optarg);
			o.queues = (unsigned int)v;
			break;
		case 'r':
			if (parse_double(optarg, 0, 1e7, &o.rate))
				return usage_error("run: bad --rate '%s'", optarg);
			break;
		case 'd':
			if (parse_double(optarg, 0.001, 1e6, &o.duration))
				return usage_error("run: bad --duration '%s'", optarg);
			break;
		case 'n':
			if (parse_uint(optarg, 1, 1ULL << 40, &o.binds))
				return usage_error("run: bad --binds '%s'", optarg);
			have_binds = true;
			break;
		case 'J':
			if (parse_uint(optarg, 0, 10000000, &v))
				return usage_error("run: bad --job-cost '%s' (microseconds)", optarg);
			o.job_cost_us = (int)v;
			break;
		case 'L':
			if (parse_uint(optarg, 0, 1U << 30, &v))
				return usage_error("run: bad --limit '%s' (pages)", optarg);
			msm_model.prealloc_limit = (unsigned int)v;
			break;
		case 'S':
			if (parse_uint(optarg, 0, ~0ULL, &o.seed))
				return usage_error("run: bad --seed '%s'", optarg);
			break;
		case 'I':
			if (parse_double(optarg, 0, 1, &msm_model.interrupt_rate))
				return usage_error("run: --interrupt-rate must be in [0,1], not '%s'", optarg);
			break;
		case 'A':
			if (parse_double(optarg, 0, 1, &msm_model.alloc_fail_rate))
				return usage_error("run: --alloc-fail-rate must be in [0,1], not '%s'",
						   optarg);
			break;
		case 'c':
			o.comm = optarg;
			break;
		case 'H':
			if (parse_double(optarg, 0.001, 1e6, &o.sched_hang_after))
				return usage_error("run: bad --hang-scheduler-after '%s' (seconds)",
						   optarg);
			model_only = "--hang-scheduler-after";
			break;
		case 'O':
			if (parse_uint(optarg, 0, 1000000, &v))
				return usage_error("run: bad --op-cost '%s' (microseconds)", optarg);
			msm_model.op_cost_us = (unsigned int)v;
			break;
		case 'B':
			if (parse_double(optarg, 0.1, 1e6, &o.burst_every))
				return usage_error("run: bad --burst-every '%s' (seconds)", optarg);
			break;
		case 'b':
			if (parse_double(optarg, 0.01, 1e6, &o.burst_len))
				return usage_error("run: bad --burst-len '%s' (seconds)", optarg);
			break;
		case 'W':
			if (parse_double(optarg, 0.01, 1e6, &o.wedge_timeout))
				return usage_error("run: bad --wedge-timeout '%s'", optarg);
			break;
		case 'M':
			if (sim_parse_vm_size(optarg, &msm_model.vm_size))
				return usage_error("run: bad --vm-size '%s' (a multiple of 2 MiB from 64M"
						   " to 256T)", optarg);
			break;
		case 'o':
			o.summary_path = optarg;
			break;
		case 'l':
			o.log_path = optarg;
			model_only = "--log";
			break;
		case 'K':
			o.kernel = true;
			break;
		case 'k':
			o.kmodel_path = optarg;
			break;
		case 'D':
			if (parse_uint(optarg, 0, 10000000, &v))
				return usage_error("run: bad --interrupt-delay '%s' (microseconds)", optarg);
			msm_model.interrupt_delay_us = (unsigned int)v;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		case ':':
			return usage_error("run: option '%s' needs an argument", argv[optind - 1]);
		case '?':
			if (optopt && strncmp(argv[optind - 1], "--", 2))
				return usage_error("run: unknown option '-%c'", optopt);
			return usage_error("run: unknown option '%s'", argv[optind - 1]);
		default:
			return usage_error("run: bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("run: unexpected argument '%s'", argv[optind]);
	if (o.duration && have_binds)
		return usage_error("run: give --duration or --binds, not both");
	if (o.duration)
		o.binds = 0;
	{
		u64 base, size;

		if (workload_window(o.queues, o.queues, ADRENO_VM_START, msm_model.vm_size, &base,
				    &size))
			return usage_error("run: --vm-size %" PRIu64 " MiB is too small for %u queues"
					   " (each needs %llu MiB)", msm_model.vm_size >> 20,
					   o.queues, WL_MIN_WINDOW >> 20);
	}
	if (o.job_cost_us < 0)
		o.job_cost_us = o.workload == WL_STORM ? 1000 : 50;
	if (o.kernel && model_only)
		return usage_error("run: %s is the model's only; --kernel cannot honour it", model_only);
	if (o.kmodel_path && !o.kernel)
		return usage_error("run: --kmodel goes with --kernel");

	summary_f = o.summary_path ? fopen(o.summary_path, "w") : stdout;
	if (!summary_f) {
		fprintf(stderr, "msmvm-sim: cannot write summary '%s': %s\n", o.summary_path,
			strerror(errno));
		return 1;
	}
	if (o.kernel) {
		return kernel_run(&o, summary_f);
	}
	if (o.log_path) {
		msm_model_log_fd = open(o.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
					0644);
		if (msm_model_log_fd < 0) {
			fprintf(stderr, "msmvm-sim: cannot open log '%s': %s\n", o.log_path,
				strerror(errno));
			return 1;
		}
	}
	/*
	 * Keep mmap_lock writers (mmap, brk, heap trimming) out of the steady state: a uprobe
	 * trap that meets one sleeps on mmap_lock, and a voluntary switch inside
	 * vm_bind_prealloc_count that is not the throttle would blur "slept" for the probes.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	mallopt(M_ARENA_MAX, 1);	/* per-thread arenas grow with mprotect(), a writer too */

	res = mmap(NULL, sizeof(*res) * o.procs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	if (res == MAP_FAILED) {
		fprintf(stderr, "msmvm-sim: mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(res, 0, sizeof(*res) * o.procs);

	{
		struct sigaction sa = { .sa_handler = on_stop_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (o.sched_hang_after > 0)
		msm_model.sched_hang_at_ns = msm_model_now_ns() + (u64)(o.sched_hang_after * 1e9);
	/* A stop while forking waits until every process is known, then is forwarded to all. */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_set, &old_set);
	parent = getpid();
	for (unsigned int p = 0; p < o.procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			fprintf(stderr, "msmvm-sim: fork: %s\n", strerror(errno));
			stop_requested = 1;
			o.procs = p;
			break;
		}
		if (pids[p] == 0) {
			if (!sim_follow_parent(parent))
				_exit(1);
			sigprocmask(SIG_SETMASK, &old_set, NULL);
			_exit(run_process(&o, p, &res[p]));
		}
	}
	memcpy(stop_forward_pids, pids, sizeof(pids[0]) * o.procs);
	stop_forward_n = (sig_atomic_t)o.procs;
	sigprocmask(SIG_SETMASK, &old_set, NULL);	/* a pending stop is delivered here */
	if (stop_requested)	/* fork failed: stop the processes already started */
		for (unsigned int q = 0; q < o.procs; q++)
			kill(pids[q], SIGTERM);
	for (unsigned int p = 0; p < o.procs; p++) {
		int st;

		while (waitpid(pids[p], &st, 0) < 0) {
			if (errno != EINTR)
				break;
			/* forward the stop to every workload process */
			for (unsigned int q = 0; q < o.procs; q++)
				kill(pids[q], SIGTERM);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) || !res[p].done) {
			fprintf(stderr, "msmvm-sim: workload process %d failed (%s %d)\n", pids[p],
				WIFSIGNALED(st) ? "signal" : "status",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			status = 1;
		}
	}

	summary = sim_summary_json(msm_model.prealloc_limit, o.workload, o.seed, res, o.procs);
	if (sim_summary_write(summary_f, o.summary_path, summary))
		status = 1;
	json_object_put(summary);
	if (o.log_path && report_log(&o, res))
		status = 1;
	munmap(res, sizeof(*res) * o.procs);
	return status;
}

static void main_usage(FILE *f)
{
	fputs("Usage: msmvm-sim COMMAND [OPTIONS]\n"
	      "\n"
	      "A user-space model of the Linux msm driver's VM_BIND path (page-table\n"
	      "preallocation and its throttle), for msmvm's tools and tests.\n"
	      "\n"
	      "Commands:\n"
	      "  run      run workload processes and print a JSON ground-truth summary\n"
	      "  count    print the pages the driver preallocates for one VM_BIND's ops\n"
	      "\n"
	      "'msmvm-sim COMMAND --help' describes each command; 'msmvm-sim --version'\n"
	      "prints the version.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("no command given: expected run or count");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return main_usage(stdout), 0;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return puts("msmvm-sim " MSMVM_VERSION) == EOF ? 1 : 0;
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "count"))
		return cmd_count(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", argv[1]);
}
