// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Perfetto's protobuf trace format, hand-encoded (as Perfetto's own protozero does): no
 * protobuf library, no Perfetto SDK. Field numbers are those of Perfetto's published schema
 * (protos/perfetto/trace/); tests/trace.proto lists the subset written here.
 *
 * Sequences (trusted_packet_sequence_id), as a tracing service has one per writer:
 *
 *   1             the recorder's: header, track descriptors, loss marks, final stats, and
 *                 every 10 s a ClockSnapshot relating MONOTONIC to BOOTTIME. Its clock 64
 *                 counts nanoseconds from the recording's start.
 *   2, 3, ...     one per thread track and one per job lane, each started by a packet that
 *                 clears its state, sets its defaults (timestamp clock 64, the track, for a
 *                 lane also the VM's in_flight counter as extra counter track) and relates
 *                 its clock 64 to MONOTONIC: an incremental clock, so each packet's timestamp
 *                 is the delta from the previous one on that sequence. The builder writes a
 *                 thread's and a lane's events in time order; one that would go back in time
 *                 (rare: a reordered free) carries an absolute MONOTONIC timestamp instead.
 *
 * Event names and annotation keys are interned per sequence, each sent in the first packet
 * that uses it after a clear; every packet that relies on the sequence's state says so
 * (SEQ_NEEDS_INCREMENTAL_STATE). A counter value read together with an event on a lane goes
 * into that event (extra_counter_values) rather than a packet of its own. After lost events
 * the recorder's next packet carries previous_packet_dropped and clears its state again, as a
 * tracing service would. Repeated scalars are written unpacked.
 *
 * The file's bytes are covered by checksum packets (tr_pb_checksum, written by trace/out.c
 * at its writes): msmvm's own field of TracePacket, which Perfetto's readers skip.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* TracePacket and its children */
enum {
	F_TRACE_PACKET = 1,
	F_PKT_CLOCK_SNAPSHOT = 6,
	F_PKT_TIMESTAMP = 8,
	F_PKT_SEQ_ID = 10,
	F_PKT_TRACK_EVENT = 11,
	F_PKT_INTERNED = 12,
	F_PKT_SEQ_FLAGS = 13,
	F_PKT_PREV_DROPPED = 42,
	F_PKT_DEFAULTS = 59,
	F_PKT_TRACK_DESC = 60,
	F_PKT_FIRST_ON_SEQ = 87,

	F_PKT_CLOCK_ID = 58,

	F_DEFAULTS_CLOCK_ID = 58, F_DEFAULTS_TRACK_EVENT = 11,
	F_TED_TRACK = 11, F_TED_EXTRA_COUNTERS = 31,

	F_SNAP_CLOCKS = 1, F_SNAP_PRIMARY = 2,
	F_CLOCK_ID = 1, F_CLOCK_TS = 2, F_CLOCK_INCREMENTAL = 3,

	F_INTERNED_EVENT_NAMES = 2, F_INTERNED_ANNOT_NAMES = 3,
	F_ENTRY_IID = 1, F_ENTRY_NAME = 2,

	F_TD_UUID = 1, F_TD_NAME = 2, F_TD_PROCESS = 3, F_TD_THREAD = 4, F_TD_PARENT = 5,
	F_TD_COUNTER = 8,
	F_PD_PID = 1, F_PD_NAME = 6,
	F_THD_PID = 1, F_THD_TID = 2, F_THD_NAME = 5,
	F_CD_UNIT = 3,

	F_TE_ANNOT = 4, F_TE_TYPE = 9, F_TE_NAME_IID = 10, F_TE_TRACK = 11, F_TE_COUNTER = 30,
	F_TE_EXTRA_VALUES = 12, F_TE_FLOW = 47, F_TE_FLOW_END = 48,

	F_DA_NAME_IID = 1, F_DA_UINT = 3, F_DA_INT = 4, F_DA_STRING = 6, F_DA_POINTER = 7,
};

enum { SEQ_CLEARED = 1, SEQ_NEEDS = 2 };
enum { CLOCK_MONOTONIC_ID = 3, CLOCK_BOOTTIME_ID = 6, CLOCK_TRACE_ID = 64 };
enum { UNIT_COUNT = 2 };
#define SEQ_RECORDER 1

size_t pb_varint_at(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

void pb_varint(struct tr_buf *b, uint64_t v)
{
	uint8_t tmp[10];

	tr_buf_put(b, tmp, pb_varint_at(tmp, v));
}

void pb_tag(struct tr_buf *b, uint32_t field, int wire)
{
	pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static void pb_uint(struct tr_buf *b, uint32_t field, uint64_t v)
{
	pb_tag(b, field, PB_VARINT);
	pb_varint(b, v);
}

static void pb_fixed64(struct tr_buf *b, uint32_t field, uint64_t v)
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	pb_tag(b, field, PB_I64);
	tr_buf_put(b, le, 8);
}

static void pb_fixed32(struct tr_buf *b, uint32_t field, uint32_t v)
{
	uint8_t le[4];

	for (int i = 0; i < 4; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	pb_tag(b, field, PB_I32);
	tr_buf_put(b, le, 4);
}

static void pb_string(struct tr_buf *b, uint32_t field, const char *s)
{
	size_t n = strlen(s);

	pb_tag(b, field, PB_LEN);
	pb_varint(b, n);
	tr_buf_put(b, s, n);
}

/*
 * A nested message: one byte is reserved for its length, which nearly always fits;
 * a longer one moves the contents up to make room.
 */
size_t pb_begin(struct tr_buf *b, uint32_t field)
{
	pb_tag(b, field, PB_LEN);
	tr_buf_put(b, "", 1);
	return b->len;
}

void pb_end(struct tr_buf *b, size_t mark)
{
	size_t len, extra = 0;

	if (b->oom)
		return;
	len = b->len - mark;
	for (size_t v = len >> 7; v; v >>= 7)
		extra++;
	if (extra) {
		tr_buf_put(b, "\0\0\0\0\0\0\0\0\0", extra);	/* room; contents move below */
		if (b->oom)
			return;
		memmove(b->p + mark + extra, b->p + mark, len);
	}
	for (size_t i = 0, v = len; i <= extra; i++, v >>= 7)
		b->p[mark - 1 + i] = (uint8_t)((v & 0x7f) | (i < extra ? 0x80 : 0));
}

int pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t c = *(*p)++;

		r |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* ---- the Perfetto backend ---- */

/* A thread's or a lane's sequence. */
struct pb_seq {
	uint32_t id;
	uint64_t track;		/* its events' default track */
	uint64_t counter;	/* lanes: default extra counter track (the VM's in_flight) */
	bool started;		/* its first packet (clear, defaults, clock) is written */
	uint64_t last;		/* MONOTONIC ns its incremental clock stands at */
	bool name_sent[TN_COUNT_];
	bool key_sent[TK_COUNT_];
};

struct pb_be {
	struct tr_backend *ops;
	uint64_t t0;
	bool clear_next;	/* the recorder's next event packet restarts its state */
	bool lost_next;		/* ... and says packets were lost before it */
	bool name_sent[TN_COUNT_];	/* the recorder's sequence */
	bool key_sent[TK_COUNT_];
	struct tr_map seqs;	/* track uuid -> struct pb_seq: threads and lanes */
	uint32_t next_seq;
};

static uint64_t rel(const struct pb_be *pb, uint64_t ts)
{
	return ts > pb->t0 ? ts - pb->t0 : 0;
}

static void clock_entry(struct tr_buf *b, uint32_t id, uint64_t ts, bool incremental)
{
	size_t c = pb_begin(b, F_SNAP_CLOCKS);

	pb_uint(b, F_CLOCK_ID, id);
	pb_uint(b, F_CLOCK_TS, ts);
	if (incremental)
		pb_uint(b, F_CLOCK_INCREMENTAL, 1);
	pb_end(b, c);
}

static void clock_snapshot(struct pb_be *pb, struct tr_buf *b, uint64_t mono, uint64_t boot)
{
	size_t snap = pb_begin(b, F_PKT_CLOCK_SNAPSHOT);

	clock_entry(b, CLOCK_TRACE_ID, rel(pb, mono), false);
	clock_entry(b, CLOCK_MONOTONIC_ID, mono, false);
	clock_entry(b, CLOCK_BOOTTIME_ID, boot, false);
	pb_uint(b, F_SNAP_PRIMARY, CLOCK_BOOTTIME_ID);
	pb_end(b, snap);
}

static void pb_header(void *be, struct tr_buf *b, const struct tr_header *h)
{
	struct pb_be *pb = be;
	size_t pkt = pb_begin(b, F_TRACE_PACKET), d;

	pb->t0 = h->t0_ns;
	pb_uint(b, F_PKT_SEQ_ID, SEQ_RECORDER);
	pb_uint(b, F_PKT_SEQ_FLAGS, SEQ_CLEARED);
	pb_uint(b, F_PKT_FIRST_ON_SEQ, 1);
	d = pb_begin(b, F_PKT_DEFAULTS);
	pb_uint(b, F_DEFAULTS_CLOCK_ID, CLOCK_TRACE_ID);
	pb_end(b, d);
	clock_snapshot(pb, b, h->mono_ns, h->boot_ns);
	pb_end(b, pkt);
	memset(pb->name_sent, 0, sizeof(pb->name_sent));
	memset(pb->key_sent, 0, sizeof(pb->key_sent));
}

static void pb_clock(void *be, struct tr_buf *b, uint64_t mono, uint64_t boot)
{
	size_t pkt = pb_begin(b, F_TRACE_PACKET);

	pb_uint(b, F_PKT_SEQ_ID, SEQ_RECORDER);
	clock_snapshot(be, b, mono, boot);
	pb_end(b, pkt);
}

static void pb_track(void *be, struct tr_buf *b, const struct tr_track *t)
{
	struct pb_be *pb = be;
	size_t pkt = pb_begin(b, F_TRACE_PACKET), td, sub;

	/* threads and lanes get a sequence of their own, started at their first event */
	if ((t->kind == TT_THREAD || t->kind == TT_LANE) && !tr_map_get(&pb->seqs, t->uuid, 0)) {
		struct pb_seq *s = calloc(1, sizeof(*s));

		if (!s || tr_map_put(&pb->seqs, t->uuid, 0, s)) {
			free(s);
			b->oom = true;	/* the group is not kept; the recording stops */
		} else {
			s->id = ++pb->next_seq;
			s->track = t->uuid;
			s->counter = t->counter;
		}
	}
	pb_uint(b, F_PKT_SEQ_ID, SEQ_RECORDER);
	td = pb_begin(b, F_PKT_TRACK_DESC);
	pb_uint(b, F_TD_UUID, t->uuid);
	if (t->parent)
		pb_uint(b, F_TD_PARENT, t->parent);
	switch (t->kind) {
	case TT_PROCESS:
		sub = pb_begin(b, F_TD_PROCESS);
		pb_uint(b, F_PD_PID, t->pid);
		if (t->name[0])
			pb_string(b, F_PD_NAME, t->name);
		pb_end(b, sub);
		break;
	case TT_THREAD:
		sub = pb_begin(b, F_TD_THREAD);
		pb_uint(b, F_THD_PID, t->pid);
		pb_uint(b, F_THD_TID, t->tid);
		if (t->name[0])
			pb_string(b, F_THD_NAME, t->name);
		pb_end(b, sub);
		break;
	case TT_COUNTER:
		pb_string(b, F_TD_NAME, t->name);
		sub = pb_begin(b, F_TD_COUNTER);
		pb_uint(b, F_CD_UNIT, UNIT_COUNT);
		pb_end(b, sub);
		break;
	case TT_LANE:
	case TT_GLOBAL:
		pb_string(b, F_TD_NAME, t->name);
		break;
	}
	pb_end(b, td);
	pb_end(b, pkt);
}

/* A thread's or lane's first packet: a clear, its defaults, its clock from `mono` on. */
static void seq_start(struct tr_buf *b, struct pb_seq *s, uint64_t mono)
{
	size_t pkt = pb_begin(b, F_TRACE_PACKET), d, ted, snap;

	pb_uint(b, F_PKT_SEQ_ID, s->id);
	pb_uint(b, F_PKT_SEQ_FLAGS, SEQ_CLEARED);
	pb_uint(b, F_PKT_FIRST_ON_SEQ, 1);
	d = pb_begin(b, F_PKT_DEFAULTS);
	pb_uint(b, F_DEFAULTS_CLOCK_ID, CLOCK_TRACE_ID);
	ted = pb_begin(b, F_DEFAULTS_TRACK_EVENT);
	pb_uint(b, F_TED_TRACK, s->track);
	if (s->counter)
		pb_uint(b, F_TED_EXTRA_COUNTERS, s->counter);
	pb_end(b, ted);
	pb_end(b, d);
	/* clock 64 reads 0 at `mono`; each packet adds its timestamp to it */
	snap = pb_begin(b, F_PKT_CLOCK_SNAPSHOT);
	clock_entry(b, CLOCK_TRACE_ID, 0, true);
	clock_entry(b, CLOCK_MONOTONIC_ID, mono, false);
	pb_end(b, snap);
	pb_end(b, pkt);
	s->started = true;
	s->last = mono;
	memset(s->name_sent, 0, sizeof(s->name_sent));
	memset(s->key_sent, 0, sizeof(s->key_sent));
}

static void interned_entry(struct tr_buf *b, uint32_t field, uint64_t iid, const char *name)
{
	size_t m = pb_begin(b, field);

	pb_uint(b, F_ENTRY_IID, iid);
	pb_string(b, F_ENTRY_NAME, name);
	pb_end(b, m);
}

/* Names and keys this packet is the first to use since its sequence's last clear. */
static void interned(struct tr_buf *b, const struct tr_ev *e, bool *name_sent, bool *key_sent)
{
	size_t m = 0;

	if (e->name && !name_sent[e->name]) {
		m = pb_begin(b, F_PKT_INTERNED);
		interned_entry(b, F_INTERNED_EVENT_NAMES, (uint64_t)e->name, tr_name_str(e->name));
		name_sent[e->name] = true;
	}
	for (int i = 0; i < e->nargs; i++) {
		int k = e->args[i].key;

		if (key_sent[k])
			continue;
		if (!m)
			m = pb_begin(b, F_PKT_INTERNED);
		interned_entry(b, F_INTERNED_ANNOT_NAMES, (uint64_t)k, tr_key_str(k));
		key_sent[k] = true;
	}
	if (m)
		pb_end(b, m);
}

/* The TrackEvent; the track is left out when it is the sequence's default. */
static void track_event(struct tr_buf *b, const struct tr_ev *e, uint64_t default_track,
			bool extra)
{
	size_t te = pb_begin(b, F_PKT_TRACK_EVENT);

	pb_uint(b, F_TE_TYPE, (uint64_t)e->type);
	if (e->track != default_track)
		pb_uint(b, F_TE_TRACK, e->track);
	if (e->name && (e->type == TE_BEGIN || e->type == TE_INSTANT))
		pb_uint(b, F_TE_NAME_IID, (uint64_t)e->name);
	if (e->type == TE_COUNTER)
		pb_uint(b, F_TE_COUNTER, (uint64_t)e->value);
	if (extra)
		pb_uint(b, F_TE_EXTRA_VALUES, (uint64_t)e->extra_value);
	for (int i = 0; i < e->nargs; i++) {
		const struct tr_arg *a = &e->args[i];
		size_t da = pb_begin(b, F_TE_ANNOT);

		pb_uint(b, F_DA_NAME_IID, a->key);
		switch (a->type) {
		case TA_INT:
			pb_uint(b, F_DA_INT, (uint64_t)a->i);
			break;
		case TA_UINT:
			pb_uint(b, F_DA_UINT, a->u);
			break;
		case TA_PTR:
			pb_uint(b, F_DA_POINTER, a->u);
			break;
		case TA_STR:
			pb_string(b, F_DA_STRING, a->s ? a->s : "");
			break;
		}
		pb_end(b, da);
	}
	if (e->flow_out)
		pb_fixed64(b, F_TE_FLOW, e->flow_out);
	if (e->flow_in)
		pb_fixed64(b, F_TE_FLOW_END, e->flow_in);
	pb_end(b, te);
}

/* An event of the recorder's sequence: absolute timestamps on its clock 64. */
static void recorder_event(struct pb_be *pb, struct tr_buf *b, const struct tr_ev *e)
{
	size_t pkt = pb_begin(b, F_TRACE_PACKET);
	uint32_t flags = SEQ_NEEDS;

	if (pb->clear_next) {
		size_t d;

		flags |= SEQ_CLEARED;
		d = pb_begin(b, F_PKT_DEFAULTS);
		pb_uint(b, F_DEFAULTS_CLOCK_ID, CLOCK_TRACE_ID);
		pb_end(b, d);
		memset(pb->name_sent, 0, sizeof(pb->name_sent));
		memset(pb->key_sent, 0, sizeof(pb->key_sent));
		pb->clear_next = false;
	}
	if (pb->lost_next) {
		pb_uint(b, F_PKT_PREV_DROPPED, 1);
		pb->lost_next = false;
	}
	interned(b, e, pb->name_sent, pb->key_sent);
	pb_uint(b, F_PKT_TIMESTAMP, rel(pb, e->ts));
	pb_uint(b, F_PKT_SEQ_ID, SEQ_RECORDER);
	pb_uint(b, F_PKT_SEQ_FLAGS, flags);
	track_event(b, e, 0, false);
	pb_end(b, pkt);
}

static void pb_event(void *be, struct tr_buf *b, const struct tr_ev *e)
{
	struct pb_be *pb = be;
	struct pb_seq *s = tr_map_get(&pb->seqs, e->home ? e->home : e->track, 0);
	bool extra = e->extra_track != 0;
	size_t pkt;

	pb->ops->nevents++;
	if (!s) {
		recorder_event(pb, b, e);
		return;
	}
	if (extra && e->extra_track != s->counter) {
		/* not the sequence's extra counter: a packet of its own, just before */
		struct tr_ev c = { .type = TE_COUNTER, .track = e->extra_track, .ts = e->ts,
				   .value = e->extra_value, .home = s->track };

		pb_event(be, b, &c);
		extra = false;
	}
	if (!s->started)
		seq_start(b, s, e->ts);
	pkt = pb_begin(b, F_TRACE_PACKET);
	interned(b, e, s->name_sent, s->key_sent);
	if (e->ts >= s->last) {
		pb_uint(b, F_PKT_TIMESTAMP, e->ts - s->last);
		s->last = e->ts;
	} else {	/* back in time: absolute, on MONOTONIC; the delta clock stays put */
		pb_uint(b, F_PKT_TIMESTAMP, e->ts);
		pb_uint(b, F_PKT_CLOCK_ID, CLOCK_MONOTONIC_ID);
	}
	pb_uint(b, F_PKT_SEQ_ID, s->id);
	pb_uint(b, F_PKT_SEQ_FLAGS, SEQ_NEEDS);
	track_event(b, e, s->track, extra);
	pb_end(b, pkt);
}

static void pb_restart(void *be, bool dropped)
{
	struct pb_be *pb = be;

	pb->lost_next |= dropped;
	pb->clear_next = true;
}

static void pb_trailer(void *be, struct tr_buf *b)
{
	(void)be;
	(void)b;
}

void tr_pb_checksum(struct tr_buf *b, uint64_t offset, uint64_t length, uint32_t crc)
{
	size_t pkt = pb_begin(b, F_TRACE_PACKET), ck;

	pb_uint(b, F_PKT_SEQ_ID, SEQ_RECORDER);
	ck = pb_begin(b, TR_PKT_CHECKSUM);
	pb_uint(b, TR_CK_OFFSET, offset);
	pb_uint(b, TR_CK_LENGTH, length);
	pb_fixed32(b, TR_CK_CRC32, crc);
	pb_end(b, ck);
	pb_end(b, pkt);
}

static void pb_destroy(void *be)
{
	struct pb_be *pb = be;

	tr_map_free(&pb->seqs, free);
	free(pb);
}

void *tr_pb_new(struct tr_backend *ops)
{
	struct pb_be *pb = calloc(1, sizeof(*pb));

	if (!pb)
		return NULL;
	pb->ops = ops;
	pb->next_seq = SEQ_RECORDER;
	*ops = (struct tr_backend){
		.header = pb_header, .track = pb_track, .event = pb_event, .restart = pb_restart,
		.clock = pb_clock, .trailer = pb_trailer, .destroy = pb_destroy,
	};
	return pb;
}
