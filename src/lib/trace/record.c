// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Recording: a trace file fed event by event, and the flight recorder's window in memory. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

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
	if (opts->format != MSMVM_TRACE_JSON) {
		t->out.checksum = tr_pb_checksum;	/* JSON has no room for them */
		/* libdeflate's fastest level: 3x smaller at ~4 ms of CPU per MB here, where
		 * zlib's takes 12 (docs/msmvm-trace.md) */
		if (!opts->uncompressed && tr_out_deflate(&t->out, 1)) {
			tr_out_close(&t->out);
			free(t);
			return msmvm_fail(err, MSMVM_E_RUNTIME, ENOMEM, "out of memory");
		}
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
	st->packet_bytes = t->out.raw_written + t->out.committed;
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
	if (st && !ret) {
		st->bytes = t->out.written;
		st->packet_bytes = t->out.raw_written;
	}
	if (ret)
		write_error(t, ret, err);
	free(path);
	trace_free(t);
	return ret;
}

/* ---- the flight recorder ---- */

/*
 * The window lives in a list of fixed-size chunks, oldest first, each its own anonymous
 * mapping: a chunk is mapped when the newest is full and unmapped once every event in it
 * has left the window (one is kept aside for the next chunk, so a steady stream maps
 * nothing). The memory follows what the window holds, up to max_bytes: a burst raises it
 * for as long as the burst is in the window, not for good, and nothing is ever copied.
 * Mappings rather than malloc(): freed heap chunks below the top stay resident, and glibc's
 * mmap threshold moves up after the first free, so only munmap() reliably gives the pages
 * back.
 */
struct ring_chunk {
	struct ring_chunk *next;
	size_t n;			/* events written into ev[] */
	struct msmvm_event ev[];
};

#define RING_CHUNK_EVENTS \
	((TR_RING_CHUNK_BYTES - sizeof(struct ring_chunk)) / sizeof(struct msmvm_event))
/* at least 1024 events kept at the memory limit, where the oldest chunk goes whole */
#define RING_MIN_CHUNKS ((1024 + RING_CHUNK_EVENTS - 1) / RING_CHUNK_EVENTS + 1)
#define RING_SPARE 1			/* chunks kept aside for reuse, at most */

struct msmvm_trace_ring {
	struct ring_chunk *oldest, *newest;	/* the window's chunks */
	struct ring_chunk *spare;		/* emptied chunks kept for reuse */
	size_t first;				/* the oldest event: oldest->ev[first] */
	size_t n;				/* events in the window */
	size_t chunks, nspare, max_chunks;	/* mapped (spare included), spare, limit */
	uint64_t window, dropped;
};

_Static_assert(RING_CHUNK_EVENTS >= 64, "a chunk holds too few events");

struct msmvm_trace_ring *msmvm_trace_ring_new(uint64_t window_ns, uint64_t max_bytes)
{
	struct msmvm_trace_ring *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->window = window_ns;
	if (!max_bytes)
		max_bytes = 256ULL << 20;
	r->max_chunks = max_bytes / TR_RING_CHUNK_BYTES < RING_MIN_CHUNKS
				? RING_MIN_CHUNKS : max_bytes / TR_RING_CHUNK_BYTES;
	return r;
}

static struct ring_chunk *chunk_map(void)
{
	void *p = mmap(NULL, TR_RING_CHUNK_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void chunk_unmap(struct ring_chunk *c)
{
	munmap(c, TR_RING_CHUNK_BYTES);
}

/* An emptied chunk: kept aside if there is room, otherwise given back. */
static void chunk_release(struct msmvm_trace_ring *r, struct ring_chunk *c)
{
	if (r->nspare < RING_SPARE) {
		c->next = r->spare;
		r->spare = c;
		r->nspare++;
	} else {
		chunk_unmap(c);
		r->chunks--;
	}
}

/* Drop the oldest event; its chunk goes once empty (the last one stays, emptied). */
static void ring_pop(struct msmvm_trace_ring *r)
{
	struct ring_chunk *c = r->oldest;

	r->first++;
	r->n--;
	if (r->first < c->n)
		return;
	r->first = 0;
	if (c == r->newest) {
		c->n = 0;
		return;
	}
	r->oldest = c->next;
	chunk_release(r, c);
}

/* Room for one more event at the newest end: 0, or -ENOMEM. */
static int ring_room(struct msmvm_trace_ring *r)
{
	struct ring_chunk *c;

	if (r->newest && r->newest->n < RING_CHUNK_EVENTS)
		return 0;
	if (r->spare) {
		c = r->spare;
		r->spare = c->next;
		r->nspare--;
	} else if (r->chunks < r->max_chunks) {
		c = chunk_map();
		if (!c)
			return -ENOMEM;
		r->chunks++;
	} else {
		/* at the memory limit: the oldest chunk's events go, and it becomes the newest
		 * (max_chunks >= 2, so it is not the one that is full) */
		c = r->oldest;
		r->n -= c->n - r->first;
		r->first = 0;
		r->oldest = c->next;
	}
	c->next = NULL;
	c->n = 0;
	if (r->newest)
		r->newest->next = c;
	else
		r->oldest = c;
	r->newest = c;
	return 0;
}

static int ring_push(struct msmvm_trace_ring *r, const struct msmvm_event *e)
{
	int ret;

	/* older than the window, measured from the newest: gone */
	while (r->n && r->oldest->ev[r->first].ts_ns + r->window < e->ts_ns)
		ring_pop(r);
	ret = ring_room(r);
	if (ret)
		return ret;
	r->newest->ev[r->newest->n++] = *e;
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

uint64_t tr_ring_bytes(const struct msmvm_trace_ring *r)
{
	return (uint64_t)r->chunks * TR_RING_CHUNK_BYTES;
}

int msmvm_trace_ring_dump(struct msmvm_trace_ring *r, uint64_t now_ns, const char *path,
			  const struct msmvm_trace_opts *opts, const uint64_t *health,
			  struct msmvm_trace_stats *st, struct msmvm_err *err)
{
	struct msmvm_trace *t;
	size_t i = r->first;
	int ret = 0;

	if (msmvm_trace_create(path, opts, &t, err))
		return -1;
	for (const struct ring_chunk *c = r->n ? r->oldest : NULL; c && !ret; c = c->next, i = 0)
		for (; i < c->n && !ret; i++) {
			const struct msmvm_event *e = &c->ev[i];

			if (e->ts_ns + r->window < now_ns)
				continue;
			/* past the limit (the file stays whole) or an error (close reports it) */
			ret = msmvm_trace_add(t, e);
		}
	return msmvm_trace_close(t, health, st, err);
}

void msmvm_trace_ring_free(struct msmvm_trace_ring *r)
{
	struct ring_chunk *c, *next;

	if (!r)
		return;
	for (c = r->oldest; c; c = next) {
		next = c->next;
		chunk_unmap(c);
	}
	for (c = r->spare; c; c = next) {
		next = c->next;
		chunk_unmap(c);
	}
	free(r);
}
