// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Alerts: the settings, PSI-style stall averages, and the triggers. Everything here works
 * on snapshots (periodic reads of the aggregates), never per event.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "msmvm/numbers.h"
#include "msmvm/alert.h"

#define PAGE_BYTES 4096.0

void msmvm_alert_cfg_defaults(struct msmvm_alert_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->drift_pages = -1;
	c->interval_s = 0.1;
	c->limit = 1024;
	c->exec_timeout_s = 10;
	c->ring_s = 30;
	c->forget_after_s = MSMVM_FORGET_AFTER_DEFAULT_S;
	c->max_flight_files = 16;
}

bool msmvm_alert_cfg_any_trigger(const struct msmvm_alert_cfg *c)
{
	return c->stall_ms > 0 || c->wait_max_ms > 0 || c->wedge_s > 0 || c->drift_pages >= 0 ||
	       c->waste_mib > 0;
}

/* The one number syntax of every tool (msmvm/numbers.h). */
static int num(const char *s, double lo, double hi, double *out)
{
	return msmvm_parse_decimal(s, lo, hi, out);
}

/*
 * ADDR:PORT as start_http() binds it: a numeric IPv4 address (empty: 127.0.0.1) and a port
 * from 1 to 65535. Checked here, so a bad address fails while parsing, before any BPF loads.
 */
static int listen_address(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	struct in_addr a;
	uint64_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	if (msmvm_parse_uint(colon + 1, 1, 65535, &port))
		return -1;
	return host[0] && inet_pton(AF_INET, host, &a) != 1 ? -1 : 0;
}

/* S for a message: control bytes (and DEL) as \xNN, so a config line cannot drive the terminal. */
static const char *shown(const char *s, char *buf, size_t n)
{
	size_t o = 0;

	for (; *s && o + 5 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o] = 0;
	return buf;
}

/* "A/B" into two numbers; B may carry an s or ms suffix when unit_s is set. */
static int pair(const char *s, double *a, double *b)
{
	char buf[64], *slash;

	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = 0;
	return num(buf, 1e-9, 1e12, a) || num(slash + 1, 1e-9, 1e12, b) ? -1 : 0;
}

static int boolean(const char *s, bool *out)
{
	if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static int copy(char *dst, size_t sz, const char *s)
{
	if (strlen(s) >= sz)
		return -1;
	strcpy(dst, s);
	return 0;
}

/* The yes/no keys: the field each sets, or NULL for another key. */
static bool *flag_key(struct msmvm_alert_cfg *c, const char *k)
{
	return !strcmp(k, "json")	  ? &c->json :
	       !strcmp(k, "syslog")	  ? &c->syslog :
	       !strcmp(k, "keep-caps")	  ? &c->keep_caps :
	       !strcmp(k, "no-reattach") ? &c->no_reattach : NULL;
}

int msmvm_alert_cfg_set(struct msmvm_alert_cfg *c, const char *key, const char *value,
			char *err, size_t errlen)
{
	char k[64], kbuf[256], vbuf[512];
	uint64_t u;
	bool b, *flag;
	int bad = 0;
	const char *expect = "";

	if (strlen(key) >= sizeof(k)) {
		snprintf(err, errlen, "unknown key '%.40s...'", shown(key, kbuf, sizeof(kbuf)));
		return -1;
	}
	for (size_t i = 0; i <= strlen(key); i++)
		k[i] = key[i] == '_' ? '-' : key[i];

	if (!strcmp(k, "stall")) {
		expect = "STALL_MS/WINDOW_MS, e.g. 100/1000";
		bad = pair(value, &c->stall_ms, &c->stall_window_ms) ||
		      c->stall_ms > c->stall_window_ms;
	} else if (!strcmp(k, "wait-max")) {
		expect = "milliseconds: a decimal number from 0.000001 to 1000000000";
		bad = num(value, 1e-6, 1e9, &c->wait_max_ms);
	} else if (!strcmp(k, "wedge")) {
		expect = "seconds: a decimal number from 0.001 to 10000000";
		bad = num(value, 1e-3, 1e7, &c->wedge_s);
	} else if (!strcmp(k, "drift")) {
		expect = "pages: a whole number from 0 to 1000000000000";
		bad = msmvm_parse_uint(value, 0, 1000000000000ull, &u);
		if (!bad)
			c->drift_pages = (int64_t)u;
	} else if (!strcmp(k, "waste")) {
		expect = "MIB/WINDOW_SECS, e.g. 64/60";
		bad = pair(value, &c->waste_mib, &c->waste_window_s);
	} else if (!strcmp(k, "interval")) {
		expect = "seconds: a decimal number from 0.01 to 10";
		bad = num(value, 0.01, 10, &c->interval_s);
	} else if (!strcmp(k, "limit")) {
		expect = "pages: a whole number from 1 to 2147483647";
		bad = msmvm_parse_uint(value, 1, MSMVM_LIMIT_MAX, &u);
		if (!bad)
			c->limit = (int64_t)u;
	} else if (!strcmp(k, "exec")) {
		expect = "a program path (and arguments)";
		bad = !*value || copy(c->exec, sizeof(c->exec), value);
	} else if (!strcmp(k, "exec-timeout")) {
		expect = "seconds: a decimal number from 0.01 to 3600";
		bad = num(value, 0.01, 3600, &c->exec_timeout_s);
	} else if (!strcmp(k, "textfile")) {
		expect = "a file path";
		bad = !*value || copy(c->textfile, sizeof(c->textfile), value);
	} else if (!strcmp(k, "listen")) {
		expect = "ADDR:PORT: a numeric IPv4 address (or none, for 127.0.0.1) and a port from "
			 "1 to 65535, e.g. 127.0.0.1:9464; names such as localhost are not resolved";
		bad = listen_address(value) || copy(c->listen, sizeof(c->listen), value);
	} else if (!strcmp(k, "flight-recorder")) {
		expect = "a directory";
		bad = !*value || copy(c->flight_dir, sizeof(c->flight_dir), value);
	} else if (!strcmp(k, "ring")) {
		expect = "seconds: a decimal number from 0.1 to 3600";
		bad = num(value, 0.1, 3600, &c->ring_s);
	} else if (!strcmp(k, "forget-after")) {
		expect = "seconds: a decimal number from 1 to 31536000";
		bad = num(value, 1, 31536000, &c->forget_after_s);
	} else if ((flag = flag_key(c, k))) {
		expect = "yes or no";
		bad = boolean(value, &b);
		if (!bad)
			*flag = b;
	} else {
		snprintf(err, errlen, "unknown key '%s'", shown(key, kbuf, sizeof(kbuf)));
		return -1;
	}
	if (bad) {
		snprintf(err, errlen, "bad value for %s: '%s' (expected %s)",
			 shown(key, kbuf, sizeof(kbuf)), shown(value, vbuf, sizeof(vbuf)), expect);
		return -1;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int msmvm_alert_cfg_load(struct msmvm_alert_cfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[2048], msg[800], sbuf[256];
	int lineno = 0;
	struct stat sb;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* a directory opens and reads as empty: that would be running with no config at all */
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: is a directory, not a config file", path);
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq, *key, *val, *p;

		lineno++;
		/* an editor's UTF-8 byte order mark would become part of the first key */
		if (lineno == 1 && !strncmp(line, "\xef\xbb\xbf", 3))
			memmove(line, line + 3, strlen(line + 3) + 1);
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			fclose(f);
			return -1;
		}
		p = trim(line);
		if (!*p || *p == '#')
			continue;
		for (char *h = p + 1; *h; h++)	/* "value   # comment" */
			if (*h == '#' && isspace((unsigned char)h[-1])) {
				*h = 0;
				break;
			}
		p = trim(p);
		eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value', got '%.60s'", path, lineno,
				 shown(p, sbuf, sizeof(sbuf)));
			fclose(f);
			return -1;
		}
		*eq = 0;
		key = trim(p);
		val = trim(eq + 1);
		if (msmvm_alert_cfg_set(c, key, val, msg, sizeof(msg))) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			fclose(f);
			return -1;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: cannot read it: %s", path, strerror(errno ? errno : EIO));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* ------------------------------------------------------------------ engine */

#define MAX_SAMPLES 4096	/* per VM: enough for the longest window at the sampling rate */

struct sample {
	uint64_t ts, stall, counted, used;
};

struct vm_state {
	bool process;		/* a process's stall (vm 0, scope = its tgid) */
	uint64_t vm;
	uint32_t scope, owner;
	char comm[MSMVM_COMM_LEN];
	uint64_t last_ts, last_stall;
	double avg10, avg60, avg300;
	int head, n;
	struct sample *ring;
	uint64_t next_stall, next_wedge, next_drift, next_waste;	/* re-arm times */
	bool seen;
};

struct fired_wait {
	uint32_t tid;
	uint64_t start;
};

struct msmvm_alert_engine {
	struct msmvm_alert_cfg cfg;
	int n, cap;
	struct vm_state *vms;
	int nwaits, capwaits;
	struct fired_wait *waits;
	uint64_t fired[5];
	struct msmvm_stall_info *info;
};

static const char *const trigger_names[5] = { "stall", "wait-max", "wedge", "drift", "waste" };

struct msmvm_alert_engine *msmvm_alert_engine_new(const struct msmvm_alert_cfg *cfg)
{
	struct msmvm_alert_engine *e = calloc(1, sizeof(*e));

	if (e)
		e->cfg = *cfg;
	return e;
}

void msmvm_alert_engine_set_cfg(struct msmvm_alert_engine *e, const struct msmvm_alert_cfg *cfg)
{
	e->cfg = *cfg;
}

void msmvm_alert_engine_free(struct msmvm_alert_engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->n; i++)
		free(e->vms[i].ring);
	free(e->vms);
	free(e->waits);
	free(e->info);
	free(e);
}

uint64_t msmvm_alert_engine_fired(const struct msmvm_alert_engine *e, const char *trigger)
{
	for (int i = 0; i < 5; i++)
		if (!strcmp(trigger, trigger_names[i]))
			return e->fired[i];
	return 0;
}

static struct vm_state *state_get(struct msmvm_alert_engine *e, bool process, uint64_t vm,
				  uint32_t scope)
{
	for (int i = 0; i < e->n; i++)
		if (e->vms[i].process == process && e->vms[i].vm == vm && e->vms[i].scope == scope)
			return &e->vms[i];
	if (e->n == e->cap) {
		int cap = e->cap ? e->cap * 2 : 16;
		void *n = realloc(e->vms, (size_t)cap * sizeof(*e->vms));

		if (!n)
			return NULL;
		e->vms = n;
		e->cap = cap;
	}
	memset(&e->vms[e->n], 0, sizeof(e->vms[0]));
	/*
	 * Samples only for a VM (--stall's and --waste's windows); a process has its averages.
	 * Written through now: filled at 10 Hz, the ring's pages would come in one by one for
	 * 7 minutes (calloc leaves fresh pages untouched), a creeping RSS; explicit_bzero, as
	 * the compiler may turn malloc + memset back into calloc.
	 */
	if (!process) {
		e->vms[e->n].ring = malloc(MAX_SAMPLES * sizeof(struct sample));
		if (!e->vms[e->n].ring)
			return NULL;
		explicit_bzero(e->vms[e->n].ring, MAX_SAMPLES * sizeof(struct sample));
	}
	e->vms[e->n].process = process;
	e->vms[e->n].vm = vm;
	e->vms[e->n].scope = scope;
	return &e->vms[e->n++];
}

static struct vm_state *vm_state(struct msmvm_alert_engine *e, const struct msmvm_vm_snap *v)
{
	return state_get(e, false, v->vm, v->scope);
}

/* PSI-style running averages of the stall share (percent), from one more sample. */
static void stall_average(struct vm_state *s, uint64_t now, uint64_t stall_ns)
{
	if (s->last_ts && now > s->last_ts) {
		double dt = (double)(now - s->last_ts) / 1e9;
		double share = 100.0 * (double)(stall_ns - s->last_stall) / 1e9 / dt;

		if (share > 100)
			share = 100;
		s->avg10 += (share - s->avg10) * (1 - exp(-dt / 10));
		s->avg60 += (share - s->avg60) * (1 - exp(-dt / 60));
		s->avg300 += (share - s->avg300) * (1 - exp(-dt / 300));
	}
	s->last_ts = now;
	s->last_stall = stall_ns;
}

/* The newest sample at least `age` old (the window's start), or the oldest one. */
static const struct sample *sample_before(const struct vm_state *s, uint64_t now, uint64_t age)
{
	const struct sample *best = NULL;

	for (int i = 0; i < s->n; i++) {
		const struct sample *x = &s->ring[(s->head - 1 - i + MAX_SAMPLES) % MAX_SAMPLES];

		best = x;
		if (now - x->ts >= age)
			break;
	}
	return best;
}

static void fire(struct msmvm_alert_engine *e, int trig, struct msmvm_alert *a, msmvm_alert_fn fn,
		 void *ctx)
{
	a->trigger = trigger_names[trig];
	e->fired[trig]++;
	fn(ctx, a);
}

static void alert_init(struct msmvm_alert *a, const struct vm_state *s,
		       const struct msmvm_vm_snap *v, uint64_t now)
{
	memset(a, 0, sizeof(*a));
	a->ts_ns = now;
	a->vm = v->vm;
	a->pid = v->owner_tgid;
	memcpy(a->comm, s->comm, sizeof(a->comm));
	a->in_flight = v->s.c.in_flight;
	a->waiters = v->s.waiters;
	a->drift = v->s.c.drift;
}

int msmvm_alert_engine_tick(struct msmvm_alert_engine *e, const struct msmvm_snapshot *snap,
			    msmvm_alert_fn fn, void *ctx)
{
	const struct msmvm_alert_cfg *c = &e->cfg;
	uint64_t now = snap->ts_ns;
	struct msmvm_alert a;

	for (int i = 0; i < e->n; i++)
		e->vms[i].seen = false;
	for (int i = 0; i < snap->nvms; i++) {
		const struct msmvm_vm_snap *v = &snap->vms[i];
		struct vm_state *s;
		struct sample *x;

		if (v->vm == MSMVM_VM_EXITED)
			continue;	/* forgotten processes' sums: they jump when folded */
		s = vm_state(e, v);
		if (!s)
			return -ENOMEM;
		s->seen = true;
		s->owner = v->owner_tgid;
		for (int p = 0; p < snap->nprocs; p++)
			if (snap->procs[p].tgid == v->owner_tgid)
				memcpy(s->comm, snap->procs[p].comm, sizeof(s->comm));

		stall_average(s, now, v->stall_ns);
		x = &s->ring[s->head];
		x->ts = now;
		x->stall = v->stall_ns;
		x->counted = v->s.c.pages_counted;
		x->used = v->s.c.pages_used;
		s->head = (s->head + 1) % MAX_SAMPLES;
		if (s->n < MAX_SAMPLES)
			s->n++;

		/* --stall: stall time within the window reaches the threshold */
		if (c->stall_ms > 0 && now >= s->next_stall) {
			uint64_t win = (uint64_t)(c->stall_window_ms * 1e6);
			const struct sample *old = sample_before(s, now, win);
			double stalled_ms = old ? (double)(v->stall_ns - old->stall) / 1e6 : 0;

			if (stalled_ms >= c->stall_ms) {
				alert_init(&a, s, v, now);
				a.value = stalled_ms;
				a.threshold = c->stall_ms;
				a.unit = "ms";
				a.window_s = c->stall_window_ms / 1e3;
				snprintf(a.text, sizeof(a.text),
					 "stall: %.0f ms of the last %.0f ms with a thread in the throttle "
					 "(threshold %.0f ms)", stalled_ms, c->stall_window_ms, c->stall_ms);
				fire(e, 0, &a, fn, ctx);
				s->next_stall = now + win;
			}
		}

		/* --wedge: over the limit, threads waiting, and no job freed for SECS */
		if (c->wedge_s > 0 && now >= s->next_wedge && v->s.waiters > 0 &&
		    v->s.c.in_flight > c->limit) {
			uint64_t since = v->s.last_free_ns, oldest = 0;
			uint64_t win = (uint64_t)(c->wedge_s * 1e9);
			uint32_t oldest_tid = 0;

			/* the longest-waiting thread names the alert's tid; never freed: from its wait */
			for (int w = 0; w < snap->nwaiters; w++)
				if (snap->waiters[w].vm == v->vm && snap->waiters[w].scope == v->scope &&
				    (!oldest_tid || snap->waiters[w].start_ns < oldest)) {
					oldest = snap->waiters[w].start_ns;
					oldest_tid = snap->waiter_tids[w];
				}
			if (!since)
				since = oldest;
			if (since && now > since && now - since >= win) {
				alert_init(&a, s, v, now);
				a.tid = oldest_tid;
				a.value = (double)(now - since) / 1e9;
				a.threshold = c->wedge_s;
				a.unit = "s";
				a.window_s = c->wedge_s;
				snprintf(a.text, sizeof(a.text),
					 "wedge: in_flight %" PRId64 " > limit %" PRId64 ", %" PRId64
					 " waiting, no job freed for %.1f s",
					 (int64_t)v->s.c.in_flight, c->limit, (int64_t)v->s.waiters, a.value);
				fire(e, 2, &a, fn, ctx);
				s->next_wedge = now + win;
			}
		}

		/* --drift: accounting drift beyond PAGES, or in_flight below zero */
		if (c->drift_pages >= 0 && now >= s->next_drift &&
		    (llabs(v->s.c.drift) > c->drift_pages || v->s.c.in_flight < 0)) {
			alert_init(&a, s, v, now);
			a.value = (double)v->s.c.drift;
			a.threshold = (double)c->drift_pages;
			a.unit = "pages";
			a.window_s = 10;
			snprintf(a.text, sizeof(a.text),
				 "drift: %+" PRId64 " pages (threshold %" PRId64 "), in_flight %" PRId64,
				 (int64_t)v->s.c.drift, c->drift_pages, (int64_t)v->s.c.in_flight);
			fire(e, 3, &a, fn, ctx);
			s->next_drift = now + 10000000000ULL;
		}

		/* --waste: preallocated-but-unused pages over the window, in MiB */
		if (c->waste_mib > 0 && now >= s->next_waste) {
			uint64_t win = (uint64_t)(c->waste_window_s * 1e9);
			const struct sample *old = sample_before(s, now, win);
			double mib = old ? ((double)(v->s.c.pages_counted - old->counted) -
					    (double)(v->s.c.pages_used - old->used)) *
						   PAGE_BYTES / (1 << 20)
					 : 0;

			if (old && now - old->ts >= win / 2 && mib >= c->waste_mib) {
				alert_init(&a, s, v, now);
				a.value = mib;
				a.threshold = c->waste_mib;
				a.unit = "MiB";
				a.window_s = c->waste_window_s;
				snprintf(a.text, sizeof(a.text),
					 "waste: %.1f MiB of page tables preallocated and unused in %.0f s "
					 "(threshold %.1f MiB)", mib, c->waste_window_s, c->waste_mib);
				fire(e, 4, &a, fn, ctx);
				s->next_waste = now + win;
			}
		}
	}

	/* per process: the union of its threads' waits */
	for (int p = 0; p < snap->nprocs; p++) {
		struct vm_state *s;

		if (!snap->procs[p].tgid)
			continue;	/* the "(exited)" row */
		s = state_get(e, true, 0, snap->procs[p].tgid);
		if (!s)
			return -ENOMEM;
		s->seen = true;
		s->owner = snap->procs[p].tgid;
		memcpy(s->comm, snap->procs[p].comm, sizeof(s->comm));
		stall_average(s, now, snap->procs[p].stall_ns);
	}
	/* a VM or process no longer in the snapshot (forgotten, forget.c) takes its state along */
	for (int i = 0; i < e->n;) {
		if (e->vms[i].seen) {
			i++;
			continue;
		}
		free(e->vms[i].ring);
		e->vms[i] = e->vms[--e->n];
	}

	/* --wait-max: a wait still going on, longer than MS (once per wait) */
	if (c->wait_max_ms > 0) {
		for (int w = 0; w < snap->nwaiters; w++) {
			const struct msmvm_waiter *wt = &snap->waiters[w];
			uint32_t tid = snap->waiter_tids[w];
			double ms = now > wt->start_ns ? (double)(now - wt->start_ns) / 1e6 : 0;
			bool done = false;

			if (ms < c->wait_max_ms)
				continue;
			for (int k = 0; k < e->nwaits; k++)
				done |= e->waits[k].tid == tid && e->waits[k].start == wt->start_ns;
			if (done)
				continue;
			if (e->nwaits == e->capwaits) {
				int cap = e->capwaits ? e->capwaits * 2 : 16;
				void *n = realloc(e->waits, (size_t)cap * sizeof(*e->waits));

				if (!n)
					return -ENOMEM;
				e->waits = n;
				e->capwaits = cap;
			}
			e->waits[e->nwaits++] = (struct fired_wait){ tid, wt->start_ns };
			for (int i = 0; i < snap->nvms; i++) {
				const struct msmvm_vm_snap *v = &snap->vms[i];

				if (v->vm != wt->vm || v->scope != wt->scope)
					continue;
				alert_init(&a, vm_state(e, v), v, now);
				a.tid = tid;
				a.pid = wt->tgid;
				a.value = ms;
				a.threshold = c->wait_max_ms;
				a.unit = "ms";
				snprintf(a.text, sizeof(a.text),
					 "wait-max: thread %u has waited %.0f ms in the throttle and still "
					 "waits (threshold %.0f ms)", tid, ms, c->wait_max_ms);
				fire(e, 1, &a, fn, ctx);
				break;
			}
		}
		/* forget waits that are over */
		for (int k = 0; k < e->nwaits;) {
			bool live = false;

			for (int w = 0; w < snap->nwaiters; w++)
				live |= snap->waiter_tids[w] == e->waits[k].tid &&
					snap->waiters[w].start_ns == e->waits[k].start;
			if (live)
				k++;
			else
				e->waits[k] = e->waits[--e->nwaits];
		}
	}
	return 0;
}

int msmvm_alert_engine_stall(const struct msmvm_alert_engine *ec, struct msmvm_stall_info **out)
{
	struct msmvm_alert_engine *e = (struct msmvm_alert_engine *)ec;	/* the info cache */
	void *n = realloc(e->info, (size_t)(e->n + 1) * sizeof(*e->info));

	if (!n)
		return -ENOMEM;
	e->info = n;
	for (int i = 0; i < e->n; i++) {
		const struct vm_state *s = &e->vms[i];

		e->info[i] = (struct msmvm_stall_info){
			.process = s->process, .vm = s->vm, .scope = s->scope, .owner_tgid = s->owner,
			.total_ns = s->last_stall, .avg10 = s->avg10, .avg60 = s->avg60,
			.avg300 = s->avg300,
		};
	}
	*out = e->info;
	return e->n;
}
