/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libmsmvm traces: msmvm events recorded as a Perfetto trace (hand-encoded protobuf, written
 * packet by packet) or as Chrome JSON, a flight recorder that keeps the last seconds in
 * memory, and a reader that replays a Perfetto trace into msmvm-stat's totals and histograms.
 */
#ifndef MSMVM_TRACE_H
#define MSMVM_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "msmvm/msmvm.h"

#ifdef __cplusplus
extern "C" {
#endif

enum msmvm_trace_format {
	MSMVM_TRACE_PERFETTO,	/* .perfetto-trace: TracePackets, ui.perfetto.dev opens it */
	MSMVM_TRACE_JSON,	/* Chrome JSON trace (array format, streamable) */
};

struct msmvm_trace_opts {
	enum msmvm_trace_format format;
	uint64_t max_bytes;		/* stop adding events past this file size; 0: no limit */
	uint64_t t0_ns;			/* CLOCK_MONOTONIC: no event is older; 0: now */
	const struct msmvm_plan *plan;	/* what was probed, for the header; may be NULL */
	bool uncompressed;		/* Perfetto: packets as they are, not compressed */
};

struct msmvm_trace_stats {
	uint64_t events;	/* probe events recorded (VM_BIND returns, job frees, ops records) */
	uint64_t dropped;	/* lost in the ring buffer, as last reported */
	uint64_t trace_events;	/* slices begun/ended, instants, counter values written */
	uint64_t bytes;		/* the file's size */
	uint64_t packet_bytes;	/* its packets before compression (= bytes, about, without) */
};

struct msmvm_trace;

/* Create the file (truncated) and write the header. Errors: MSMVM_E_RUNTIME, with the path. */
int msmvm_trace_create(const char *path, const struct msmvm_trace_opts *opts,
		       struct msmvm_trace **out, struct msmvm_err *err);
/*
 * Add one event. 0: recorded; 1: the size limit is reached (this event and any later one
 * are left out; the file stays whole); < 0: a write error (-errno): the file was cut back
 * to its last whole packet and nothing more is written.
 */
int msmvm_trace_add(struct msmvm_trace *t, const struct msmvm_event *e);
/* The ring buffer's drop count so far; an increase is marked in the trace, then and there. */
int msmvm_trace_dropped(struct msmvm_trace *t, uint64_t total);
int msmvm_trace_flush(struct msmvm_trace *t);	/* 0 or -errno */
void msmvm_trace_get_stats(const struct msmvm_trace *t, struct msmvm_trace_stats *st);
/*
 * Close: jobs still in flight, the final stats (health: MSMVM_H_COUNT_ values, may be NULL),
 * flush, close. Returns 0 or -errno (also the first write error seen before), with err set.
 * Frees t in every case.
 */
int msmvm_trace_close(struct msmvm_trace *t, const uint64_t *health,
		      struct msmvm_trace_stats *st, struct msmvm_err *err);

/* ---- flight recorder: the last window_ns of events in memory, written on demand ---- */

struct msmvm_trace_ring;

/* max_bytes: the memory the window may use (0: 256 MiB); past it the oldest events go. */
struct msmvm_trace_ring *msmvm_trace_ring_new(uint64_t window_ns, uint64_t max_bytes);
int msmvm_trace_ring_add(struct msmvm_trace_ring *r, const struct msmvm_event *e);
void msmvm_trace_ring_dropped(struct msmvm_trace_ring *r, uint64_t total, uint64_t now_ns);
uint64_t msmvm_trace_ring_count(const struct msmvm_trace_ring *r);
/* Write the events of [now_ns - window, now_ns] as a complete trace; as msmvm_trace_close. */
int msmvm_trace_ring_dump(struct msmvm_trace_ring *r, uint64_t now_ns, const char *path,
			  const struct msmvm_trace_opts *opts, const uint64_t *health,
			  struct msmvm_trace_stats *st, struct msmvm_err *err);
void msmvm_trace_ring_free(struct msmvm_trace_ring *r);

/* ---- reading a Perfetto trace written by msmvm-trace back ---- */

/*
 * Perfetto files carry checksums (docs/msmvm-trace.md): readers verify them. A damaged byte
 * range fails the read, naming the range, unless MSMVM_TRACE_READ_IGNORE_DAMAGE is given:
 * then the range is listed in the info and reading goes on past it.
 */
#define MSMVM_TRACE_READ_IGNORE_DAMAGE 1u

struct msmvm_trace_damage {
	uint64_t from, to;	/* bytes [from, to) of the file */
	const char *why;	/* "checksum mismatch", "not a trace packet", ... (static) */
};

#define MSMVM_TRACE_DAMAGE_MAX 8

struct msmvm_trace_info {
	uint64_t bytes, packets;
	uint64_t events;	/* probe events found: VM_BIND slices + job frees */
	uint64_t dropped;	/* ring-buffer drops the trace reports */
	uint64_t loss_marks;	/* packets marked previous_packet_dropped */
	bool truncated;		/* cut inside a packet (the recorder was killed): read up to it */
	bool finished;		/* the recorder closed it (its final stats are there) */
	double duration_s;	/* recording start to the final stats (or the last event) */
	struct msmvm_plan plan;	/* as recorded: target, kind, reason, arch */
	uint64_t health[MSMVM_H_COUNT_];
	bool checksummed;	/* the file has checksums (false: written before they existed) */
	uint64_t checksums;	/* checksum packets that matched */
	uint64_t unverified;	/* bytes at the end no checksum covers (its recorder was killed) */
	uint64_t damaged;	/* damaged ranges read through (MSMVM_TRACE_READ_IGNORE_DAMAGE) */
	struct msmvm_trace_damage damage[MSMVM_TRACE_DAMAGE_MAX];	/* the first ones */
};

/*
 * Recount a trace into a snapshot, as msmvm_snapshot() would have read it live at the end
 * of the recording (free it with msmvm_snapshot_free). filter_pid: 0 for all.
 */
int msmvm_trace_replay(const char *path, uint32_t filter_pid, struct msmvm_snapshot *out,
		       struct msmvm_trace_info *info, struct msmvm_err *err);
/* The same with flags: MSMVM_TRACE_READ_IGNORE_DAMAGE. */
int msmvm_trace_replay_ex(const char *path, uint32_t filter_pid, unsigned int flags,
			  struct msmvm_snapshot *out, struct msmvm_trace_info *info,
			  struct msmvm_err *err);

#ifdef __cplusplus
}
#endif
#endif
