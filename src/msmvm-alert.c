// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-alert: a daemon that notices when the VM_BIND throttle stalls (which PSI and the
 * hung-task detector cannot see: the sleep is interruptible) and says so: on stdout, in
 * syslog, through a command, and as Prometheus metrics.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <arpa/inet.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/stat.h>

#include "msmvm/alert.h"
#include "msmvm/cli.h"
#include "version.h"
#include "msmvm/driver_watch.h"
#include "msmvm/msmvm.h"
#include "msmvm/trace.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define MAX_CHILDREN 16
#define HTTP_MAX_CONNS 4096	/* idle ones are closed after HTTP_TIMEOUT_S */
#define HTTP_TIMEOUT_S 10u
#define HTTP_LOG_BURST 10	/* libmicrohttpd's messages said per minute, the rest counted */

extern char **environ;

static struct env {
	struct msmvm_opts o;
	struct msmvm_alert_cfg cfg;
	const char *config_path;
	bool check_config;
} env = { .o = { .target = MSMVM_TARGET_KERNEL } };

static volatile sig_atomic_t exiting, reload, usr1;

/* Settings given as options, replayed over the config file at start and on SIGHUP. */
static struct {
	char key[64];
	const char *value;
} cli_sets[64];
static int ncli_sets;

/* SIGHUP re-reads the config, SIGUSR1 means nothing here (said, not fatal); the rest end it */
static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else if (sig == SIGUSR1)
		usr1 = 1;
	else
		exiting = 1;
}

const char *argp_program_version = "msmvm-alert " MSMVM_VERSION;
const char *argp_program_bug_address = "the msmvm issue tracker";
static const char doc[] =
	/*
	 * argp fills each paragraph to the terminal's width itself: a paragraph is one line
	 * here (no '\n' inside it, or argp's wrap and ours break it twice), and the rows of
	 * the triggers' table and of the examples are kept within argp's 79 columns.
	 */
	"Alert when the msm driver's VM_BIND throttle stalls, and export Prometheus metrics.\n"
	"\n"
	"USAGE: msmvm-alert [OPTION...] [-- CMD [ARG...]]\n"
	"\n"
	"Triggers, each firing at most once per window (per VM) and re-arming after it:\n"
	"  --stall STALL_MS/WINDOW_MS  a thread in the throttle STALL_MS per WINDOW_MS\n"
	"  --wait-max MS               one wait longer than MS, while it goes on\n"
	"  --wedge SECS                in_flight above the limit, threads waiting,\n"
	"                              no job freed for SECS\n"
	"  --drift PAGES               drift beyond PAGES, or in_flight below zero\n"
	"  --waste MIB/WINDOW          preallocated-but-unused page tables above\n"
	"                              MIB within WINDOW seconds\n"
	"\n"
	"Settings can also come from --config FILE: one 'key = value' per line, keys named as "
	"the long options (stall = 100/1000, syslog = yes, ...), '#' comments. SIGHUP "
	"re-reads it (triggers and alert outputs; listen, textfile, limit, flight-recorder, "
	"ring, forget-after, keep-caps and no-reattach need a restart). Not keys: config, "
	"check-config, command and the target options (attach, hooks, module, pid, sim, "
	"verbose). "
	"SIGUSR1 means nothing to msmvm-alert: it is said on stderr and ignored.\n"
	"\n"
	"Each alert is one line on stdout (text, or JSON with --json); --syslog also logs it; "
	"--exec runs a program per alert with execve (never a shell), its arguments split on "
	"blanks, the facts in MSMVM_TRIGGER, MSMVM_VM, MSMVM_PID, MSMVM_TID, MSMVM_COMM, "
	"MSMVM_VALUE, MSMVM_THRESHOLD, MSMVM_UNIT, MSMVM_IN_FLIGHT, MSMVM_WAITERS, "
	"MSMVM_DRIFT, MSMVM_MESSAGE; it is killed after --exec-timeout seconds.\n"
	"\n"
	"--flight-recorder DIR keeps the last --ring SECS of probe events in memory and "
	"writes them on each alert as DIR/msmvm-alert-TIME-TRIGGER-PID.perfetto-trace.\n"
	"\n"
	"When the driver's module is unloaded (rmmod), msmvm-alert says so (stderr, syslog), "
	"sets msmvm_driver_attached to 0, counts it in msmvm_driver_detaches_total, keeps "
	"serving the metrics and waits for the module to be loaded again; then it re-attaches "
	"(open, load and attach against the new module's BTF). Counters never go down: after "
	"a re-attach each is what was counted before the unload plus the new count; the "
	"series of the gone module keep their counts, their gauges read 0.\n"
	"\n"
	"After attaching, the effective capabilities are dropped (the maps are read through "
	"open file descriptors); --listen binds its socket before that. Only CAP_BPF, "
	"CAP_PERFMON and CAP_SYS_ADMIN stay permitted, raised again for a re-attach alone; "
	"--no-reattach drops them too (and never re-attaches).\n"
	"\n"
	"EXAMPLES:\n"
	"    sudo msmvm-alert --stall 100/1000 --wedge 5 --drift 1024 --syslog\n"
	"    sudo msmvm-alert --config /etc/msmvm-alert.conf --listen 127.0.0.1:9464\n"
	"    msmvm-alert --config /etc/msmvm-alert.conf --check-config\n"
	"\n"
	MSMVM_CLI_COMMAND_DOC
	"msmvm-alert then ends with CMD, which makes it a harness for its thresholds.\n"
	"\n"
	"Exit status: 0 after SIGTERM, SIGINT or SIGPIPE (SIGHUP, SIGUSR1 and the "
	"driver's unload do not end it); 1 runtime error at start-up (no driver, "
	"no BTF, missing capability, attach failure, metrics endpoint); 2 bad usage "
	"or config.\n"
	"\n"
	"OPTIONS:";

enum {
	OPT_CONFIG = 0x100, OPT_SET, OPT_CHECK_CONFIG,
};

static const struct argp_option opts[] = {
	{ "config", OPT_CONFIG, "FILE", 0, "Read settings from FILE (before the options)", 0 },
	{ "check-config", OPT_CHECK_CONFIG, NULL, 0,
	  "Check the settings (config file and options) and exit: 0 if they are valid, 2 if "
	  "not; needs no privilege and attaches nothing", 0 },
	{ "stall", OPT_SET, "STALL_MS/WINDOW_MS", 0, "Stall trigger", 1 },
	{ "wait-max", OPT_SET, "MS", 0, "Long-wait trigger", 1 },
	{ "wedge", OPT_SET, "SECS", 0, "Wedge trigger", 1 },
	{ "drift", OPT_SET, "PAGES", 0, "Drift trigger", 1 },
	{ "waste", OPT_SET, "MIB/WINDOW", 0, "Waste trigger", 1 },
	{ "limit", OPT_SET, "PAGES", 0, "The throttle's limit (default 1024; the model's --limit)",
	  2 },
	{ "interval", OPT_SET, "SECS", 0, "Sampling period (default 0.1)", 2 },
	{ "json", OPT_SET, NULL, OPTION_ARG_OPTIONAL, "Alerts as JSON lines", 3 },
	{ "syslog", OPT_SET, NULL, OPTION_ARG_OPTIONAL, "Also log alerts to syslog", 3 },
	{ "exec", OPT_SET, "CMD", 0, "Run CMD per alert (execve, no shell)", 3 },
	{ "exec-timeout", OPT_SET, "SECS", 0, "Kill --exec after SECS (default 10)", 3 },
	{ "textfile", OPT_SET, "PATH", 0, "Write metrics to PATH (node_exporter textfile)", 4 },
	{ "listen", OPT_SET, "ADDR:PORT", 0, "Serve metrics at http://ADDR:PORT/metrics", 4 },
	{ "flight-recorder", OPT_SET, "DIR", 0,
	  "Keep the last --ring SECS of events and write them to DIR as a Perfetto trace on "
	  "each alert (the 16 newest files are kept)", 4 },
	{ "ring", OPT_SET, "SECS", 0, "Flight recorder window (default 30)", 4 },
	{ "forget-after", OPT_SET, "SECS", 0,
	  "An exited process leaves the maps and /metrics SECS after its last VM_BIND and its "
	  "VMs' last job free; its counts go on in the vm=\"exited\" series (default 300)", 4 },
	{ "keep-caps", OPT_SET, NULL, OPTION_ARG_OPTIONAL, "Do not drop capabilities after attaching", 5 },
	{ "no-reattach", OPT_SET, NULL, OPTION_ARG_OPTIONAL,
	  "Drop every capability after attaching; when the driver's module is unloaded, keep "
	  "serving what was counted but never re-attach", 5 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

/* The option name argp saw: OPT_SET is shared, so find it in argv. */
static const char *current_option(struct argp_state *state)
{
	const char *a = state->argv[state->next - 1];

	if (!strncmp(a, "--", 2))
		a += 2;
	else if (state->next >= 2)
		a = state->argv[state->next - 2] + 2;
	return a;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char msg[512], name[64];

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case OPT_CONFIG:
		env.config_path = arg;
		break;
	case OPT_SET: {
		const char *opt = current_option(state);
		size_t n = strcspn(opt, "=");

		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1),
			 opt);
		if (msmvm_alert_cfg_set(&env.cfg, name, arg ? arg : "yes", msg, sizeof(msg)))
			argp_error(state, "%s", msg);
		if (ncli_sets < 64) {
			snprintf(cli_sets[ncli_sets].key, sizeof(cli_sets[0].key), "%s", name);
			cli_sets[ncli_sets++].value = arg ? arg : "yes";
		}
		break;
	}
	case OPT_CHECK_CONFIG:
		env.check_config = true;
		break;
	case ARGP_KEY_ARG:
		if (msmvm_cli_command_arg(state))
			return ARGP_ERR_UNKNOWN;	/* the command's (cli.c) */
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ------------------------------------------------------------------ --exec */

static struct child {
	pid_t pid;
	uint64_t deadline;
} children[MAX_CHILDREN];

/* RLIMIT_NOFILE as given, before /metrics raised it: what --exec's programs get */
static struct rlimit nofile_given;
static bool nofile_raised;

static void log_at(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_problem(...) log_at(LOG_ERR, __VA_ARGS__)

/* Reap finished commands, kill the ones over their time, and log failures. */
static void reap_children(bool all)
{
	uint64_t now = msmvm_now_ns();

	for (int i = 0; i < MAX_CHILDREN; i++) {
		int st;
		pid_t r;

		if (!children[i].pid)
			continue;
		if (all || now > children[i].deadline) {
			if (kill(children[i].pid, SIGKILL) == 0 && !all)
				log_problem("--exec command (pid %d) killed after %.1f s",
					    children[i].pid, env.cfg.exec_timeout_s);
			waitpid(children[i].pid, &st, 0);
			children[i].pid = 0;
			continue;
		}
		r = waitpid(children[i].pid, &st, WNOHANG);
		if (r == 0)
			continue;
		if (r > 0 && (!WIFEXITED(st) || WEXITSTATUS(st)))
			log_problem("--exec command (pid %d) failed: %s %d", children[i].pid,
				    WIFEXITED(st) ? "exit status" : "signal",
				    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		children[i].pid = 0;
	}
}

static void run_exec(const struct msmvm_alert *a)
{
	char *argv[64], cmd[sizeof(env.cfg.exec)], *tok, *save = NULL;
	char vars[12][600];
	char **envp;
	int n = 0, nenv = 0, slot = -1;
	pid_t pid;

	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!children[i].pid)
			slot = i;
	if (slot < 0) {
		log_problem("--exec: %d commands still running, alert '%s' not passed on",
			    MAX_CHILDREN, a->trigger);
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s", env.cfg.exec);
	for (tok = strtok_r(cmd, " \t", &save); tok && n < 63; tok = strtok_r(NULL, " \t", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	if (!n)
		return;
	snprintf(vars[0], sizeof(vars[0]), "MSMVM_TRIGGER=%s", a->trigger);
	snprintf(vars[1], sizeof(vars[1]), "MSMVM_VM=0x%" PRIx64, a->vm);
	snprintf(vars[2], sizeof(vars[2]), "MSMVM_PID=%u", a->pid);
	/* empty where no one thread is the cause (stall, drift, waste) */
	if (a->tid)
		snprintf(vars[3], sizeof(vars[3]), "MSMVM_TID=%u", a->tid);
	else
		snprintf(vars[3], sizeof(vars[3]), "MSMVM_TID=");
	snprintf(vars[4], sizeof(vars[4]), "MSMVM_COMM=%s", a->comm);
	snprintf(vars[5], sizeof(vars[5]), "MSMVM_VALUE=%.6g", a->value);
	snprintf(vars[6], sizeof(vars[6]), "MSMVM_THRESHOLD=%.6g", a->threshold);
	snprintf(vars[7], sizeof(vars[7]), "MSMVM_UNIT=%s", a->unit);
	snprintf(vars[8], sizeof(vars[8]), "MSMVM_IN_FLIGHT=%" PRId64, a->in_flight);
	snprintf(vars[9], sizeof(vars[9]), "MSMVM_WAITERS=%" PRId64, a->waiters);
	snprintf(vars[10], sizeof(vars[10]), "MSMVM_DRIFT=%" PRId64, a->drift);
	snprintf(vars[11], sizeof(vars[11]), "MSMVM_MESSAGE=%s", a->text);
	for (char **e = environ; *e; e++)
		nenv++;
	envp = calloc((size_t)nenv + 13, sizeof(*envp));
	if (!envp)
		return;
	nenv = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "MSMVM_", 6))
			envp[nenv++] = *e;
	for (int i = 0; i < 12; i++)
		envp[nenv++] = vars[i];
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (nofile_raised)	/* a program using select() wants its 1024 back */
			setrlimit(RLIMIT_NOFILE, &nofile_given);

		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);	/* our stdout carries the alerts */
		execve(argv[0], argv, envp);
		fprintf(stderr, "msmvm-alert: --exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(envp);
	if (pid < 0) {
		log_problem("--exec: fork: %s", strerror(errno));
		return;
	}
	children[slot].pid = pid;
	children[slot].deadline = msmvm_now_ns() + (uint64_t)(env.cfg.exec_timeout_s * 1e9);
}

/* ------------------------------------------------------------------ flight recorder */

static struct msmvm_plan plan;	/* of the last attachment: traces keep it while detached */
static struct msmvm_trace_ring *ring;
static uint64_t ring_drops;

static int ring_event(void *ctx, const struct msmvm_event *e)
{
	(void)ctx;
	return msmvm_trace_ring_add(ring, e) < 0 ? -1 : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int ours(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return !strncmp(d->d_name, "msmvm-alert-", 12) && n > 15 &&
	       !strcmp(d->d_name + n - 15, ".perfetto-trace");
}

/* Write the recorder's window for this alert; keep only the newest files. */
static void flight_dump(const struct msmvm_alert *a)
{
	struct msmvm_trace_opts to = { .format = MSMVM_TRACE_PERFETTO,
				       .plan = &plan };
	struct msmvm_trace_stats st;
	struct msmvm_err err;
	struct timespec wall;
	struct dirent **names;
	char path[1400], t[32];
	int n;

	clock_gettime(CLOCK_REALTIME, &wall);
	strftime(t, sizeof(t), "%Y%m%dT%H%M%S", gmtime(&wall.tv_sec));
	snprintf(path, sizeof(path), "%s/msmvm-alert-%s.%03ld-%s-%u.perfetto-trace",
		 env.cfg.flight_dir, t, wall.tv_nsec / 1000000, a->trigger, a->pid);
	msmvm_trace_ring_dropped(ring, ring_drops, a->ts_ns);
	if (msmvm_trace_ring_dump(ring, a->ts_ns, path, &to, NULL, &st, &err)) {
		log_problem("flight recorder: %s", err.msg);
		return;
	}
	n = scandir(env.cfg.flight_dir, &names, ours, by_name);
	for (int i = 0; i < n; i++) {
		if (i < n - env.cfg.max_flight_files) {
			char old[1400];

			snprintf(old, sizeof(old), "%s/%s", env.cfg.flight_dir, names[i]->d_name);
			unlink(old);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

/* ------------------------------------------------------------------ alerts */

static void on_alert(void *ctx, const struct msmvm_alert *a)
{
	struct timespec wall;
	char tbuf[64], tidbuf[16] = "";

	(void)ctx;
	if (a->tid)
		snprintf(tidbuf, sizeof(tidbuf), "%u", a->tid);
	clock_gettime(CLOCK_REALTIME, &wall);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", gmtime(&wall.tv_sec));
	if (env.cfg.json) {
		json_object *o = json_object_new_object();
		char vm[32], t[80];

		snprintf(vm, sizeof(vm), "0x%" PRIx64, a->vm);
		snprintf(t, sizeof(t), "%s.%03ldZ", tbuf, wall.tv_nsec / 1000000);
		json_object_object_add(o, "time", json_object_new_string(t));
		json_object_object_add(o, "ts_ns", json_object_new_uint64(a->ts_ns));
		json_object_object_add(o, "trigger", json_object_new_string(a->trigger));
		json_object_object_add(o, "vm", json_object_new_string(vm));
		json_object_object_add(o, "pid", json_object_new_int64(a->pid));
		/* always there (null where no one thread is the cause), so the schema is fixed */
		json_object_object_add(o, "tid", a->tid ? json_object_new_int64(a->tid) : NULL);
		json_object_object_add(o, "comm", json_object_new_string(a->comm));
		json_object_object_add(o, "value", json_object_new_double(a->value));
		json_object_object_add(o, "threshold", json_object_new_double(a->threshold));
		json_object_object_add(o, "unit", json_object_new_string(a->unit));
		json_object_object_add(o, "window_s", json_object_new_double(a->window_s));
		json_object_object_add(o, "in_flight", json_object_new_int64(a->in_flight));
		json_object_object_add(o, "waiters", json_object_new_int64(a->waiters));
		json_object_object_add(o, "drift", json_object_new_int64(a->drift));
		json_object_object_add(o, "message", json_object_new_string(a->text));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("%s.%03ldZ %s vm=0x%" PRIx64 " pid=%u%s%s comm=%s: %s\n", tbuf,
		       wall.tv_nsec / 1000000, a->trigger, a->vm, a->pid, a->tid ? " tid=" : "",
		       tidbuf, a->comm, a->text);
	}
	fflush(stdout);
	if (env.cfg.syslog)
		syslog(LOG_WARNING, "%s vm=0x%" PRIx64 " pid=%u%s%s comm=%s: %s", a->trigger, a->vm,
		       a->pid, a->tid ? " tid=" : "", tidbuf, a->comm, a->text);
	if (env.cfg.exec[0])
		run_exec(a);
	if (ring)
		flight_dump(a);
}

/* ------------------------------------------------------------------ metrics */

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static char *metrics_text;
static size_t metrics_len;

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
			       struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *upload,
			     size_t *upload_size, void **con_cls)
{
	static char nf[] = "not found: metrics are at /metrics\n";
	static char na[] = "method not allowed: GET or HEAD /metrics\n";
	struct MHD_Response *r;
	char *copy;
	size_t len;

	(void)cls, (void)version, (void)upload, (void)upload_size, (void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		/* answered at once, whatever body follows: the connection is closed after it */
		r = MHD_create_response_from_buffer(strlen(na), na, MHD_RESPMEM_PERSISTENT);
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
	}
	if (strcmp(url, "/metrics"))
		return respond(conn, MHD_HTTP_NOT_FOUND,
			       MHD_create_response_from_buffer(strlen(nf), nf,
							       MHD_RESPMEM_PERSISTENT));
	pthread_mutex_lock(&metrics_lock);
	len = metrics_len;
	copy = malloc(len + 1);
	if (copy && metrics_text)
		memcpy(copy, metrics_text, len);
	pthread_mutex_unlock(&metrics_lock);
	if (!copy)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(copy);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	return respond(conn, MHD_HTTP_OK, r);
}

/*
 * libmicrohttpd's own messages (a peer that resets, the connection limit reached, ...):
 * through log_at, prefixed "http: ", at most HTTP_LOG_BURST a minute; the rest are counted
 * and said in one line when the minute is over (http_log_flush, from the main loop) or at
 * exit. A client cannot flood stderr or syslog.
 */
static struct {
	pthread_mutex_t lock;
	uint64_t window_start;		/* CLOCK_MONOTONIC ns */
	unsigned said;			/* in this window */
	uint64_t suppressed;		/* in this window, not said */
} http_log_state = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define HTTP_LOG_WINDOW_NS 60000000000ULL

/* Say what the window suppressed once it is over (or now, with force): lock held. */
static void http_log_roll(uint64_t now, bool force)
{
	if (!force && now - http_log_state.window_start < HTTP_LOG_WINDOW_NS)
		return;
	if (http_log_state.suppressed)
		log_at(LOG_WARNING, "http: suppressed %" PRIu64 " more messages (at most %d a "
		       "minute are said)", http_log_state.suppressed, HTTP_LOG_BURST);
	http_log_state.window_start = now;
	http_log_state.said = 0;
	http_log_state.suppressed = 0;
}

static void http_log_flush(bool force)
{
	pthread_mutex_lock(&http_log_state.lock);
	if (http_log_state.suppressed)
		http_log_roll(msmvm_now_ns(), force);
	pthread_mutex_unlock(&http_log_state.lock);
}

static void http_log(void *cls, const char *fmt, va_list ap)
{
	char msg[600];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = 0;
	for (size_t i = 0; i < n; i++)	/* one line, whatever a client sent */
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	pthread_mutex_lock(&http_log_state.lock);
	http_log_roll(msmvm_now_ns(), false);
	if (http_log_state.said < HTTP_LOG_BURST) {
		http_log_state.said++;
		log_at(LOG_WARNING, "http: %s", msg);
	} else {
		http_log_state.suppressed++;
	}
	pthread_mutex_unlock(&http_log_state.lock);
}

/*
 * The listening socket, bound while the capabilities are still there (a port below 1024
 * needs one). -errno, errno's reason in why.
 */
static int bind_http(const char *listen_at, const char **why)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[128];
	const char *colon = strrchr(listen_at, ':');
	long port;
	char *end;
	int fd, one = 1, e;

	*why = "ADDR:PORT, IPv4 (ADDR an address such as 127.0.0.1 or 0.0.0.0, not a name)";
	if (!colon || (size_t)(colon - listen_at) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_at), listen_at);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port <= 0 || port > 65535 ||
	    inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));	/* as libmicrohttpd does */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, SOMAXCONN))
		goto fail;
	return fd;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	*why = strerror(e);
	return -e;
}

/* Open file descriptors now (the BPF objects', stdio, ...). */
static unsigned fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		return 64;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * How many connections fit: HTTP_MAX_CONNS, unless RLIMIT_NOFILE is smaller. The soft limit
 * is raised towards the hard one first (1024 is a common soft limit: 2,000 idle clients
 * would not fit). Room is kept for a re-attach's second set of BPF objects, --exec and the
 * flight recorder's files.
 */
static unsigned http_conn_limit(unsigned reserve, rlim_t *nofile)
{
	rlim_t want = HTTP_MAX_CONNS + reserve;
	struct rlimit rl;

	*nofile = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return HTTP_MAX_CONNS;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		nofile_given = rl;
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		nofile_raised = setrlimit(RLIMIT_NOFILE, &rl) == 0;
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	*nofile = rl.rlim_cur;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return HTTP_MAX_CONNS;
	return rl.rlim_cur > reserve + 16 ? (unsigned)(rl.rlim_cur - reserve) : 16;
}

/*
 * libmicrohttpd on the bound socket, in a thread of its own with epoll (or poll; select
 * only if neither is there: FD_SETSIZE bounds it), a connection limit and an idle timeout.
 * Started after the capabilities are dropped, so its thread has none (they are per thread),
 * and with the signals blocked in it, so they reach the main loop.
 */
static struct MHD_Daemon *start_http(int fd)
{
	unsigned open_now = fds_open(), flags = MHD_USE_INTERNAL_POLLING_THREAD |
						 MHD_USE_ERROR_LOG;
	unsigned limit;
	struct MHD_Daemon *d;
	sigset_t block, old;
	rlim_t nofile;

	limit = http_conn_limit(2 * open_now + 64, &nofile);
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	else if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
		flags |= MHD_USE_POLL;
	else if (limit > FD_SETSIZE - 4 - open_now)
		limit = FD_SETSIZE - 4 - open_now;
	if (limit < HTTP_MAX_CONNS)
		log_at(LOG_WARNING, "http: at most %u connections (RLIMIT_NOFILE %llu%s)", limit,
		       (unsigned long long)nofile,
		       flags & (MHD_USE_EPOLL | MHD_USE_POLL) ? "" : ", no epoll or poll");
	sigemptyset(&block);
	for (int sig = 1; sig < SIGRTMIN; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS &&
		    sig != SIGFPE && sig != SIGILL && sig != SIGABRT && sig != SIGTRAP)
			sigaddset(&block, sig);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	d = MHD_start_daemon(flags, 0, NULL, NULL, serve, NULL,
			     MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_LIMIT, limit,
			     MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d;
}

/* node_exporter's textfile collector: write aside, then rename, so it never reads half. */
static int write_textfile(const char *path, const char *text, size_t len)
{
	char tmp[1100];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fwrite(text, 1, len, f) != len || fflush(f) || fsync(fileno(f))) {
		int e = errno;

		fclose(f);
		unlink(tmp);
		return -e;
	}
	if (fclose(f) || rename(tmp, path)) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

/* Defaults, then the config file, then the options (which win). */
static int load_config(struct msmvm_alert_cfg *c, char *err, size_t errlen)
{
	msmvm_alert_cfg_defaults(c);
	if (env.config_path && msmvm_alert_cfg_load(c, env.config_path, err, errlen))
		return -1;
	for (int i = 0; i < ncli_sets; i++)
		if (msmvm_alert_cfg_set(c, cli_sets[i].key, cli_sets[i].value, err, errlen))
			return -1;
	return 0;
}

/* ------------------------------------------------------------------ the driver going away */

/* What a re-attach needs (module BTF ids want CAP_SYS_ADMIN), kept permitted only. */
static const int reattach_caps[] = { CAP_SYS_ADMIN, MSMVM_CAP_BPF, MSMVM_CAP_PERFMON };

static struct {
	struct msmvm *m;		/* NULL while detached */
	struct msmvm *closing;		/* detached, closed once the metrics say so */
	struct msmvm_driver_watch watch;
	struct msmvm_carry *carry;	/* what earlier attachments counted */
	uint64_t attaches, detaches;
	uint64_t next_try;		/* re-attach: not before (CLOCK_MONOTONIC ns) */
	char last_failure[1024];	/* said once until it changes */
} drv;

/* One line on stderr, and to syslog with --syslog. */
static void log_at(int prio, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "msmvm-alert: %s\n", msg);
	if (env.cfg.syslog)
		syslog(prio, "%s", msg);
}

/* Open, load, subscribe the recorder, attach: the whole start-up, against the module now. */
static int attach_driver(struct msmvm_err *err)
{
	struct msmvm *m = NULL;

	if (msmvm_open(&env.o, &m, err) || msmvm_load(m, err) ||
	    (ring && msmvm_events_subscribe(m, ring_event, NULL, err)) || msmvm_attach(m, err)) {
		msmvm_close(m);
		return -1;
	}
	/* a re-attach: the command's processes, as they are now (a new session's map) */
	if (msmvm_cli_command_rewatch(m, err)) {
		msmvm_close(m);
		return -1;
	}
	plan = *msmvm_get_plan(m);
	/* the instance attached to; gone already: the next poll says so */
	msmvm_driver_watch_start(&drv.watch, m);
	drv.m = m;
	drv.attaches++;
	return 0;
}

/* Raise (or lower) the kept capabilities in the effective set, around a re-attach. */
static int reattach_caps_effective(bool on)
{
	if (env.cfg.keep_caps)
		return 0;
	capng_get_caps_process();
	for (size_t i = 0; i < sizeof(reattach_caps) / sizeof(reattach_caps[0]); i++)
		if (capng_update(on ? CAPNG_ADD : CAPNG_DROP, CAPNG_EFFECTIVE, reattach_caps[i]))
			return -1;
	return capng_apply(CAPNG_SELECT_CAPS);
}

/* The module went away: keep what was counted (the maps outlive it), let the probes go. */
static void detach_driver(void)
{
	struct msmvm_snapshot last;
	struct msmvm_err err;

	/* the recorder's last events first */
	for (int i = 0; ring && i < 256 && msmvm_events_poll(drv.m, 0) > 0; i++)
		;
	if (msmvm_snapshot(drv.m, &last, &err)) {
		log_at(LOG_ERR, "reading the counts at the unload: %s", err.msg);
	} else {
		if (msmvm_carry_fold(drv.carry, &last))
			log_at(LOG_ERR, "out of memory: the counts before the unload are lost");
		msmvm_snapshot_free(&last);
	}
	/* closing takes a second or two (the kernel lets the probes go): after the metrics */
	drv.closing = drv.m;
	drv.m = NULL;
	drv.detaches++;
	drv.next_try = 0;
	drv.last_failure[0] = 0;
	log_at(LOG_WARNING, "driver module %s was unloaded: detached (msmvm_driver_attached 0); "
	       "metrics keep what was counted; %s", msmvm_driver_watch_module(&drv.watch),
	       env.cfg.no_reattach ? "not re-attaching (--no-reattach)"
			       : "re-attaching when it is loaded again");
}

static void try_reattach(void)
{
	const char *mod = msmvm_driver_watch_module(&drv.watch);
	struct msmvm_err err;
	uint64_t t0 = msmvm_now_ns();
	int r;

	if (env.cfg.no_reattach || t0 < drv.next_try || !msmvm_driver_ready(drv.watch.root, mod))
		return;
	if (reattach_caps_effective(true)) {
		snprintf(err.msg, sizeof(err.msg), "cannot raise CAP_BPF, CAP_PERFMON and "
			 "CAP_SYS_ADMIN again");
		r = -1;
	} else {
		r = attach_driver(&err);
		if (reattach_caps_effective(false)) {
			/* never run on with capabilities in effect */
			log_at(LOG_ERR, "cannot drop capabilities after re-attaching: exiting");
			exiting = 1;
		}
	}
	if (r) {
		drv.next_try = msmvm_now_ns() + 1000000000ULL;	/* once a second */
		if (strcmp(err.msg, drv.last_failure)) {
			log_at(LOG_ERR, "re-attaching to %s failed: %s; retrying every second", mod,
			       err.msg);
			snprintf(drv.last_failure, sizeof(drv.last_failure), "%s", err.msg);
		}
		return;
	}
	log_at(LOG_NOTICE, "driver module %s is loaded again: re-attached %d probes to %s in "
	       "%.1f ms (msmvm_driver_attached 1); counters go on from their values before "
	       "the unload", mod, plan.nprobes, plan.target, (double)(msmvm_now_ns() - t0) / 1e6);
}

/*
 * After attaching: nothing in effect. Permitted keeps what a re-attach needs (raised for
 * it alone), unless --no-reattach; the bounding set the same.
 */
static int drop_caps(void)
{
	capng_clear(CAPNG_SELECT_BOTH);
	if (!env.cfg.no_reattach)
		for (size_t i = 0; i < sizeof(reattach_caps) / sizeof(reattach_caps[0]); i++)
			if (capng_update(CAPNG_ADD, CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
					 reattach_caps[i]))
				return -1;
	return capng_apply(CAPNG_SELECT_BOTH);
}

/* Sleep until `until`, waking every 100 ms to notice an unload within the tick. */
static void nap_until(uint64_t until)
{
	for (;;) {
		uint64_t now = msmvm_now_ns(), left;
		struct timespec nap;

		if (now >= until || exiting || reload || usr1)
			return;
		if (drv.m && msmvm_driver_watch_poll(&drv.watch) == MSMVM_DRIVER_UNLOADED)
			return;
		left = until - now < 100000000ULL ? until - now : 100000000ULL;
		nap.tv_sec = 0;
		nap.tv_nsec = (long)left;
		nanosleep(&nap, NULL);
	}
}

static const struct argp_child argp_children[] = {
	{ &msmvm_target_argp, 0, "Target:", 1 },
	{},
};

int main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = doc,
					    .children = argp_children };
	struct msmvm_alert_engine *engine = NULL;
	struct MHD_Daemon *http = NULL;
	struct msmvm_err err;
	int http_fd = -1;
	char msg[1024];
	int ret = 0;
	bool textfile_failed = false;

	argp_err_exit_status = EXIT_USAGE;
	msmvm_alert_cfg_defaults(&env.cfg);
	msmvm_cli_bind(&env.o);
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL))
		return EXIT_USAGE;
	if (load_config(&env.cfg, msg, sizeof(msg))) {
		fprintf(stderr, "msmvm-alert: %s\n", msg);
		return EXIT_USAGE;
	}
	if (!msmvm_alert_cfg_any_trigger(&env.cfg) && !env.cfg.textfile[0] && !env.cfg.listen[0]) {
		fprintf(stderr, "msmvm-alert: nothing to do: give a trigger (--stall, --wait-max, "
				"--wedge, --drift, --waste) or a metrics output (--textfile, --listen)\n");
		return EXIT_USAGE;
	}
	if (env.cfg.syslog)
		openlog("msmvm-alert", LOG_PID, LOG_DAEMON);

	env.o.throttle_limit = env.cfg.limit;
	env.o.forget_after_s = env.cfg.forget_after_s;
	if (env.cfg.flight_dir[0]) {
		struct stat sb;

		if (stat(env.cfg.flight_dir, &sb) || !S_ISDIR(sb.st_mode) ||
		    access(env.cfg.flight_dir, W_OK)) {
			fprintf(stderr, "msmvm-alert: --flight-recorder %s: not a writable directory\n",
				env.cfg.flight_dir);
			return EXIT_USAGE;
		}
		env.o.events = true;	/* only the recorder needs individual events */
		if (env.check_config)
			goto checked;
		ring = msmvm_trace_ring_new((uint64_t)(env.cfg.ring_s * 1e9), 0);
		if (!ring) {
			fprintf(stderr, "msmvm-alert: out of memory\n");
			return EXIT_RUNTIME;
		}
	}
checked:
	if (env.check_config) {
		printf("msmvm-alert: %s: the settings are valid\n",
		       env.config_path ? env.config_path : "(no config file)");
		return 0;
	}
	if (msmvm_cli_command_prepare("msmvm-alert")) {
		msmvm_trace_ring_free(ring);
		return EXIT_RUNTIME;
	}
	drv.carry = msmvm_carry_new();
	if (!drv.carry) {
		fprintf(stderr, "msmvm-alert: out of memory\n");
		msmvm_trace_ring_free(ring);
		return EXIT_RUNTIME;
	}
	if (attach_driver(&err)) {
		fprintf(stderr, "msmvm-alert: %s\n", err.msg);
		msmvm_trace_ring_free(ring);
		msmvm_carry_free(drv.carry);
		return err.kind == MSMVM_E_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
	}
	if (env.cfg.listen[0]) {
		const char *why;

		http_fd = bind_http(env.cfg.listen, &why);
		if (http_fd < 0) {
			fprintf(stderr, "msmvm-alert: cannot serve metrics at %s: %s\n",
				env.cfg.listen, why);
			ret = EXIT_RUNTIME;
			goto out;
		}
	}
	if (msmvm_cli_command_start(drv.m, "msmvm-alert")) {
		ret = EXIT_RUNTIME;
		goto out;
	}
	/* everything privileged is done: keep nothing in effect (maps are read through our fds) */
	if (!env.cfg.keep_caps && drop_caps()) {
		fprintf(stderr, "msmvm-alert: cannot drop capabilities\n");
		ret = EXIT_RUNTIME;
		goto out;
	}
	msmvm_cli_catch_signals(on_signal);
	if (http_fd >= 0) {
		http = start_http(http_fd);
		if (!http) {
			fprintf(stderr, "msmvm-alert: cannot serve metrics at %s: libmicrohttpd "
				"did not start\n", env.cfg.listen);
			ret = EXIT_RUNTIME;
			goto out;
		}
	}

	engine = msmvm_alert_engine_new(&env.cfg);
	if (!engine) {
		ret = EXIT_RUNTIME;
		goto out;
	}
	fprintf(stderr, "msmvm-alert: watching %s (%s hooks)%s\n", plan.target,
		plan.kind == MSMVM_PLAN_DIRECT ? "direct" : "fallback",
		env.cfg.keep_caps ? "" : ", capabilities dropped");

	while (msmvm_cli_go_on("msmvm-alert", exiting)) {
		struct msmvm_snapshot live, view, *snap;
		uint64_t t_tick = msmvm_now_ns();
		bool have_live = false;

		if (usr1) {
			usr1 = 0;
			log_at(LOG_NOTICE, "SIGUSR1: nothing to do (SIGHUP re-reads the config, "
			       "SIGTERM ends msmvm-alert)");
		}
		if (reload) {
			struct msmvm_alert_cfg c;

			reload = 0;
			if (load_config(&c, msg, sizeof(msg))) {
				log_problem("SIGHUP: %s; keeping the old settings", msg);
			} else {
				/*
				 * what is set up at start stays as it was: the outputs, the limit,
				 * the flight recorder (its directory checked and its ring made at
				 * start: an emptied one would dump to "/") and forgetting
				 */
				memcpy(c.listen, env.cfg.listen, sizeof(c.listen));
				memcpy(c.textfile, env.cfg.textfile, sizeof(c.textfile));
				memcpy(c.flight_dir, env.cfg.flight_dir, sizeof(c.flight_dir));
				c.ring_s = env.cfg.ring_s;
				c.forget_after_s = env.cfg.forget_after_s;
				c.limit = env.cfg.limit;
				c.keep_caps = env.cfg.keep_caps;
				c.no_reattach = env.cfg.no_reattach;
				env.cfg = c;
				msmvm_alert_engine_set_cfg(engine, &env.cfg);
				log_problem("SIGHUP: settings re-read from %s",
					    env.config_path ? env.config_path : "(no --config)");
			}
		}
		if (drv.m && msmvm_driver_watch_poll(&drv.watch) == MSMVM_DRIVER_UNLOADED)
			detach_driver();
		if (!drv.m)
			try_reattach();
		/* the recorder's events first, so an alert's dump holds what led to it */
		for (int i = 0; drv.m && ring && i < 256 && msmvm_events_poll(drv.m, 0) > 0; i++)
			;
		if (drv.m) {
			if (msmvm_snapshot(drv.m, &live, &err)) {
				log_problem("%s", err.msg);
				ret = EXIT_RUNTIME;
				break;
			}
			have_live = true;
		}
		/* what earlier attachments counted, plus this one's: counters never go down */
		if (have_live && msmvm_carry_empty(drv.carry)) {
			snap = &live;
		} else if (msmvm_carry_view(drv.carry, have_live ? &live : NULL, msmvm_now_ns(),
					    &view) == 0) {
			snap = &view;
		} else {
			log_problem("out of memory");
			ret = EXIT_RUNTIME;
			if (have_live)
				msmvm_snapshot_free(&live);
			break;
		}
		ring_drops = snap->health[MSMVM_H_RINGBUF_DROPS];
		msmvm_alert_engine_tick(engine, snap, on_alert, NULL);
		if (env.cfg.textfile[0] || http) {
			struct msmvm_prom_driver d = {
				.module = msmvm_driver_watch_module(&drv.watch),
				.attached = drv.m != NULL, .detaches = drv.detaches,
				.attaches = drv.attaches,
			};
			size_t len;
			char *text = msmvm_prometheus_text_driver(snap, engine, &d, &len);

			if (text && env.cfg.textfile[0]) {
				int r = write_textfile(env.cfg.textfile, text, len);

				if (r && !textfile_failed)
					log_problem("cannot write %s: %s", env.cfg.textfile, strerror(-r));
				textfile_failed = r != 0;
			}
			if (text && http) {
				pthread_mutex_lock(&metrics_lock);
				free(metrics_text);
				metrics_text = text;
				metrics_len = len;
				text = NULL;
				pthread_mutex_unlock(&metrics_lock);
			}
			free(text);
		}
		if (snap == &view)
			msmvm_snapshot_free(&view);
		if (have_live)
			msmvm_snapshot_free(&live);
		msmvm_close(drv.closing);
		drv.closing = NULL;
		reap_children(false);
		http_log_flush(false);
		nap_until(t_tick + (uint64_t)(env.cfg.interval_s * 1e9));
	}
out:
	msmvm_cli_command_end("msmvm-alert");	/* stopped and waited for if still running */
	reap_children(true);
	if (http)
		MHD_stop_daemon(http);
	http_log_flush(true);
	msmvm_alert_engine_free(engine);
	msmvm_close(drv.m);
	msmvm_carry_free(drv.carry);
	msmvm_trace_ring_free(ring);
	free(metrics_text);
	if (env.cfg.syslog)
		closelog();
	return ret;
}
