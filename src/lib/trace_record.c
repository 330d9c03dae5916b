// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Recording: a trace file fed event by event, and the flight recorder's window in memory. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace_internal.h"

struct msmvm_trace {
	struct tr_out out;
	struct tr_backend ops;
	void *be;
	struct tr_build *tb;
	uint64_t events, dropped;
};

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void trace_free(struct msmvm_trace *t)
{
	tr_build_free(t->tb);
	if (t->be)
		t->ops.destroy(t->be);
	free(t);
}

static int write_error(struct msmvm_trace *t, int code, struct msmvm_err *err)
{
	return msmvm_fail(err, MSMVM_E_RUNTIME, -code, "writing %s: %s%s", t->out.path,
			  strerror(-code),
			  code == -ENOSPC ? " (the file was cut back to its last whole packet)" : "");
}

int msmvm_trace_create(const char *path, const struct msmvm_trace_opts *opts,
		       struct msmvm_trace **out, struct msmvm_err *err)
{
	struct msmvm_trace *t = calloc(1, sizeof(*t));
	int ret;

	*out = NULL;
	if (!t)
		return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	if (tr_out_open(&t->out, path, opts->max_bytes, err)) {
		free(t);
		return -1;
	}
	t->be = opts->format == MSMVM_TRACE_JSON ? tr_json_new(&t->ops) : tr_pb_new(&t->ops);
	t->tb = t->be ? tr_build_new(&t->ops, t->be, opts->t0_ns ? opts->t0_ns : mono_now())
		      : NULL;
	if (!t->tb) {
		tr_out_close(&t->out);
		trace_free(t);
		return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
	}
	/* the header reaches the disk now: a recorder killed at once leaves a valid file */
	tr_build_begin(t->tb, &t->out.buf, opts->plan);
	ret = tr_out_commit(&t->out, true);
	if (!ret)
		ret = tr_out_flush(&t->out);
	if (ret) {
		ret = write_error(t, ret, err);
		tr_out_close(&t->out);
		trace_free(t);
		return ret;
	}
	*out = t;
	return 0;
}

/* Build one group and commit it; a group that is not kept is not counted. */
static int add_group(struct msmvm_trace *t, const struct msmvm_event *e)
{
	uint64_t n0 = t->ops.nevents;
	int ret;

	if (t->out.err)
		return t->out.err;
	if (t->out.full)
		return 1;
	tr_build_event(t->tb, &t->out.buf, e);
	ret = tr_out_commit(&t->out, e->type == TR_EV_LOST);
	if (ret > 0)
		t->ops.nevents = n0;
	return ret;
}

int msmvm_trace_add(struct msmvm_trace *t, const struct msmvm_event *e)
{
	int ret = add_group(t, e);

	if (ret == 0 && e->type != TR_EV_LOST)
		t->events++;
	return ret;
}

int msmvm_trace_dropped(struct msmvm_trace *t, uint64_t total)
{
	struct msmvm_event mark = { .type = TR_EV_LOST };

	if (total <= t->dropped)
		return 0;
	mark.ts_ns = mono_now();
	mark.job = total - t->dropped;
	mark.vm = total;
	t->dropped = total;
	return add_group(t, &mark);
}

int msmvm_trace_flush(struct msmvm_trace *t)
{
	return tr_out_flush(&t->out);
}

void msmvm_trace_get_stats(const struct msmvm_trace *t, struct msmvm_trace_stats *st)
{
	st->events = t->events;
	st->dropped = t->dropped;
	st->trace_events = t->ops.nevents;
	st->bytes = t->out.written + t->out.committed;
}

int msmvm_trace_close(struct msmvm_trace *t, const uint64_t *health,
		      struct msmvm_trace_stats *st, struct msmvm_err *err)
{
	uint64_t dropped = health ? health[MSMVM_H_RINGBUF_DROPS] : t->dropped;
	char *path = t->out.path;	/* for the error message: tr_out_close() frees it */
	int ret = t->out.err;

	if (!ret) {
		if (t->out.full) {
			/* past the limit, the open jobs may sit on tracks never described: only
			 * the stats, with fresh interning (the last group's was not kept) */
			t->ops.restart(t->be, false);
			t->out.full = false;
		} else {
			tr_build_finish_jobs(t->tb, &t->out.buf);
		}
		if (dropped > t->dropped)
			t->dropped = dropped;
		tr_build_stats(t->tb, &t->out.buf, mono_now(), t->events, t->dropped, health);
		ret = tr_out_commit(&t->out, true);
	}
	if (st)
		msmvm_trace_get_stats(t, st);
	t->out.path = NULL;
	ret = tr_out_close(&t->out) ?: ret;
	t->out.path = path;
	if (st && !ret)
		st->bytes = t->out.written;
	if (ret)
		write_error(t, ret, err);
	free(path);
	trace_free(t);
	return ret;
}

/* ---- the flight recorder ---- */

struct msmvm_trace_ring {
	struct msmvm_event *ev;
	size_t cap, head, n, max;
	uint64_t window, dropped;
};

struct msmvm_trace_ring *msmvm_trace_ring_new(uint64_t window_ns, uint64_t max_bytes)
{
	struct msmvm_trace_ring *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->window = window_ns;
	r->max = (max_bytes ? max_bytes : 256ULL << 20) / sizeof(struct msmvm_event);
	if (r->max < 1024)
		r->max = 1024;
	return r;
}

static struct msmvm_event *ring_at(const struct msmvm_trace_ring *r, size_t i)
{
	return &r->ev[(r->head + i) % r->cap];
}

static int ring_push(struct msmvm_trace_ring *r, const struct msmvm_event *e)
{
	/* older than the window, measured from the newest: gone */
	while (r->n && ring_at(r, 0)->ts_ns + r->window < e->ts_ns) {
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	if (r->n == r->cap && r->cap < r->max) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		struct msmvm_event *ev;

		if (cap > r->max)
			cap = r->max;
		ev = malloc(cap * sizeof(*ev));
		if (!ev)
			return -ENOMEM;
		for (size_t i = 0; i < r->n; i++)
			ev[i] = *ring_at(r, i);
		free(r->ev);
		r->ev = ev;
		r->cap = cap;
		r->head = 0;
	}
	if (r->n == r->cap) {	/* at the memory limit: the oldest goes */
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	*ring_at(r, r->n) = *e;
	r->n++;
	return 0;
}

int msmvm_trace_ring_add(struct msmvm_trace_ring *r, const struct msmvm_event *e)
{
	return ring_push(r, e);
}

void msmvm_trace_ring_dropped(struct msmvm_trace_ring *r, uint64_t total, uint64_t now_ns)
{
	struct msmvm_event mark = { .type = TR_EV_LOST, .ts_ns = now_ns };

	if (total <= r->dropped)
		return;
	mark.job = total - r->dropped;
	mark.vm = total;
	r->dropped = total;
	ring_push(r, &mark);
}

uint64_t msmvm_trace_ring_count(const struct msmvm_trace_ring *r)
{
	return r->n;
}

int msmvm_trace_ring_dump(struct msmvm_trace_ring *r, uint64_t now_ns, const char *path,
			  const struct msmvm_trace_opts *opts, const uint64_t *health,
			  struct msmvm_trace_stats *st, struct msmvm_err *err)
{
	struct msmvm_trace *t;
	int ret;

	if (msmvm_trace_create(path, opts, &t, err))
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		const struct msmvm_event *e = ring_at(r, i);

		if (e->ts_ns + r->window < now_ns)
			continue;
		ret = msmvm_trace_add(t, e);
		if (ret)
			break;	/* the limit (the file stays whole) or an error (close reports it) */
	}
	return msmvm_trace_close(t, health, st, err);
}

void msmvm_trace_ring_free(struct msmvm_trace_ring *r)
{
	if (!r)
		return;
	free(r->ev);
	free(r);
}
