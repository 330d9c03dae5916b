// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reading a Perfetto protobuf trace packet by packet: the fields msmvm-trace writes, with
 * each sequence's interning, defaults (clock, track, extra counter tracks) and clock
 * (absolute or incremental), everything else skipped. Counter values carried by another
 * event (extra_counter_values) are delivered as counter events of their own, just before
 * it. A file that ends inside a packet (a recorder killed mid-write) is read up to its last
 * whole packet.
 *
 * The file's checksum packets (trace/pb.c) are verified on the way: each holds the CRC-32 of
 * the bytes since the previous one. A range that fails (or does not parse, or a file closed
 * whole that lost its final checksum) is damage, said with its byte range; reading on past
 * it (MSMVM_TRACE_READ_IGNORE_DAMAGE) resumes at the next checksum packet that fits where it
 * stands when the framing broke. Files without checksums (older ones) load as before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

enum { SEQ_CLEARED = 1 };
enum { CLOCK_MONOTONIC_ID = 3, CLOCK_TRACE_ID = 64 };

struct span {
	const uint8_t *p;
	size_t n;
};

struct field {
	uint32_t id;
	int wire;
	uint64_t v;		/* varint, fixed64 */
	struct span s;		/* length-delimited */
};

#define RD_EXTRA_MAX 4

/* What a sequence (trusted_packet_sequence_id) has set up. */
struct rd_seq {
	struct tr_map names, keys;	/* interned iid -> string */
	uint32_t clock_id;		/* the defaults' timestamp clock */
	uint64_t track;			/* the defaults' track */
	uint64_t extra[RD_EXTRA_MAX];	/* the defaults' extra counter tracks */
	int nextra;
	int64_t mono_minus_trace;	/* from its ClockSnapshot: clock 64 -> MONOTONIC */
	bool incremental;		/* clock 64 counts in deltas ... */
	int64_t clock64;		/* ... and stands here */
};

struct rd {
	const struct tr_reader_cb *cb;
	struct tr_map seqs;		/* sequence id -> struct rd_seq */
	/* string annotations of the event at hand, whole (a bind's ops run to many KiB):
	 * room for all of them is made before the event is read, so they never move */
	char *strings;
	size_t scap, slen;
	bool stats_now;			/* the packet at hand held the final stats */
};

/* One field of a message at *p, or -1 when it runs past end or has a wire type not used. */
static int next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
	uint64_t tag, len;

	f->v = 0;	/* nothing of the previous field shows through a field of another type */
	f->s = (struct span){ 0 };
	if (pb_read_varint(p, end, &tag))
		return -1;
	f->id = (uint32_t)(tag >> 3);
	f->wire = (int)(tag & 7);
	switch (f->wire) {
	case PB_VARINT:
		return pb_read_varint(p, end, &f->v);
	case PB_I64:
		if (end - *p < 8)
			return -1;
		f->v = 0;
		for (int i = 0; i < 8; i++)
			f->v |= (uint64_t)(*p)[i] << (8 * i);
		*p += 8;
		return 0;
	case PB_LEN:
		if (pb_read_varint(p, end, &len) || len > (uint64_t)(end - *p))
			return -1;
		f->s = (struct span){ *p, (size_t)len };
		*p += len;
		return 0;
	case PB_I32:
		if (end - *p < 4)
			return -1;
		f->v = (uint64_t)(*p)[0] | (uint64_t)(*p)[1] << 8 | (uint64_t)(*p)[2] << 16 |
		       (uint64_t)(*p)[3] << 24;
		*p += 4;
		return 0;
	default:
		return -1;
	}
}

/* The fields of a message, one by one; `bad` once one does not parse. */
struct fields {
	const uint8_t *p, *end;
	bool bad;
};

static struct fields fields_of(struct span s)
{
	/* an empty packet has no buffer: NULL + 0 is undefined in C */
	return (struct fields){ s.p, s.p ? s.p + s.n : s.p, false };
}

static bool next(struct fields *it, struct field *f)
{
	if (it->bad || it->p >= it->end)
		return false;
	if (next_field(&it->p, it->end, f)) {
		it->bad = true;
		return false;
	}
	return true;
}

static void copy_str(char *dst, size_t cap, struct span s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;

	memcpy(dst, s.p, n);
	dst[n] = 0;
}

static void seq_free(void *p)
{
	struct rd_seq *q = p;

	tr_map_free(&q->names, free);
	tr_map_free(&q->keys, free);
	free(q);
}

static void seq_clear(struct rd_seq *q)
{
	tr_map_free(&q->names, free);
	tr_map_free(&q->keys, free);
	q->clock_id = 0;
	q->track = 0;
	q->nextra = 0;
}

static struct rd_seq *seq_get(struct rd *r, uint64_t id)
{
	struct rd_seq *q = tr_map_get(&r->seqs, id, 0);

	if (q)
		return q;
	q = calloc(1, sizeof(*q));
	if (!q || tr_map_put(&r->seqs, id, 0, q)) {
		free(q);
		return NULL;
	}
	return q;
}

/* A repeated varint field, packed or not, into v[*n] (up to max). */
static void repeated_varint(const struct field *f, uint64_t *v, int *n, int max)
{
	const uint8_t *p = f->s.p, *end;
	uint64_t x;

	if (f->wire == PB_VARINT) {
		if (*n < max)
			v[(*n)++] = f->v;
		return;
	}
	if (f->wire != PB_LEN || !p)
		return;
	end = p + f->s.n;	/* not before: NULL + 0 is undefined */
	while (p < end && !pb_read_varint(&p, end, &x))
		if (*n < max)
			v[(*n)++] = x;
}

static void read_defaults(struct rd_seq *q, struct span s)
{
	struct field f, g;
	struct fields it, it2;

	for (it = fields_of(s); next(&it, &f);) {
		if (f.id == 58 && f.wire == PB_VARINT) {
			q->clock_id = (uint32_t)f.v;
		} else if (f.id == 11 && f.wire == PB_LEN) {	/* TrackEventDefaults */
			q->nextra = 0;
			for (it2 = fields_of(f.s); next(&it2, &g);) {
				if (g.id == 11 && g.wire == PB_VARINT)
					q->track = g.v;
				else if (g.id == 31)
					repeated_varint(&g, q->extra, &q->nextra, RD_EXTRA_MAX);
			}
		}
	}
}

static void intern(struct tr_map *m, struct span entry)
{
	struct field f;
	uint64_t iid = 0;
	struct span name = { 0 };
	struct fields it;
	bool has_name = false;
	char *s;

	for (it = fields_of(entry); next(&it, &f);) {
		if (f.id == 1 && f.wire == PB_VARINT)
			iid = f.v;
		else if (f.id == 2 && f.wire == PB_LEN)
			name = f.s, has_name = true;
	}
	if (!iid || !has_name || !(s = malloc(name.n + 1)))
		return;
	copy_str(s, name.n + 1, name);
	free(tr_map_del(m, iid, 0));
	if (tr_map_put(m, iid, 0, s))
		free(s);
}

static int read_interned(struct rd_seq *q, struct span s)
{
	struct field f;
	struct fields it;

	for (it = fields_of(s); next(&it, &f);) {
		if (f.wire != PB_LEN)
			continue;
		if (f.id == 2)
			intern(&q->names, f.s);
		else if (f.id == 3)
			intern(&q->keys, f.s);
	}
	return it.bad ? -1 : 0;
}

/* A ClockSnapshot relating the sequence's clock 64 to MONOTONIC (others: not needed). */
static void read_clock(struct rd_seq *q, struct span s)
{
	struct field f, c;
	struct fields it, it2;
	int64_t trace = -1, mono = -1;
	bool incremental = false;

	for (it = fields_of(s); next(&it, &f);) {
		uint64_t id = 0, ts = 0, incr = 0;

		if (f.id != 1 || f.wire != PB_LEN)
			continue;
		for (it2 = fields_of(f.s); next(&it2, &c);) {
			if (c.id == 1)
				id = c.v;
			else if (c.id == 2)
				ts = c.v;
			else if (c.id == 3)
				incr = c.v;
		}
		if (id == CLOCK_TRACE_ID) {
			trace = (int64_t)ts;
			incremental = incr != 0;
		} else if (id == CLOCK_MONOTONIC_ID) {
			mono = (int64_t)ts;
		}
	}
	if (trace >= 0 && mono >= 0) {
		q->mono_minus_trace = mono - trace;
		q->incremental = incremental;
		q->clock64 = trace;
	}
}

/* A packet's timestamp in MONOTONIC ns: on MONOTONIC itself, or on the sequence's clock 64. */
static uint64_t to_mono(struct rd_seq *q, uint64_t ts, uint32_t clock_id)
{
	if (clock_id == CLOCK_MONOTONIC_ID)
		return ts;
	if (q->incremental) {
		q->clock64 += (int64_t)ts;	/* wraps as the writer's did */
		return (uint64_t)(q->clock64 + q->mono_minus_trace);
	}
	return ts + (uint64_t)q->mono_minus_trace;
}

static int read_track(struct rd *r, struct span s)
{
	struct tr_track t = { .kind = TT_GLOBAL };
	struct field f, g;
	struct fields it, it2;

	for (it = fields_of(s); next(&it, &f);) {
		switch (f.id) {
		case 1: t.uuid = f.v; break;
		case 5: t.parent = f.v; break;
		case 2:
			if (f.wire == PB_LEN)
				copy_str(t.name, sizeof(t.name), f.s);
			if (t.kind == TT_GLOBAL && t.parent)
				t.kind = TT_LANE;
			break;
		case 3:
		case 4:
			if (f.wire != PB_LEN)
				break;
			t.kind = f.id == 3 ? TT_PROCESS : TT_THREAD;
			for (it2 = fields_of(f.s); next(&it2, &g);) {
				if (g.id == 1)
					t.pid = (uint32_t)g.v;
				else if (g.id == 2 && t.kind == TT_THREAD)
					t.tid = (uint32_t)g.v;
				else if (g.wire == PB_LEN && ((t.kind == TT_PROCESS && g.id == 6) ||
							      (t.kind == TT_THREAD && g.id == 5)))
					copy_str(t.name, sizeof(t.name), g.s);
			}
			break;
		case 8:
			t.kind = TT_COUNTER;
			break;
		}
	}
	if (t.kind == TT_GLOBAL && t.parent)
		t.kind = TT_LANE;	/* a named child track */
	if (it.bad)
		return -1;
	if (r->cb->track)
		r->cb->track(r->cb->ctx, &t);
	return 0;
}

static int read_annotation(struct rd *r, struct rd_seq *q, struct span s, struct tr_ev *e)
{
	struct field f;
	struct fields it;
	struct tr_arg a = { 0 };
	const char *key = NULL;
	char keybuf[128];
	int k;

	for (it = fields_of(s); next(&it, &f);) {
		switch (f.id) {
		case 1: key = tr_map_get(&q->keys, f.v, 0); break;
		case 10:
			if (f.wire == PB_LEN) {
				copy_str(keybuf, sizeof(keybuf), f.s);
				key = keybuf;
			}
			break;
		case 2:
		case 3: a.type = TA_UINT; a.u = f.v; break;
		case 4: a.type = TA_INT; a.i = (int64_t)f.v; break;
		case 7: a.type = TA_PTR; a.u = f.v; break;
		case 6:
			/* fits: the event's strings are no longer than the event, each + NUL */
			if (f.wire == PB_LEN && e->nargs < TR_MAX_ARGS &&
			    r->slen + f.s.n + 1 <= r->scap) {
				a.type = TA_STR;
				a.s = r->strings + r->slen;
				copy_str(r->strings + r->slen, f.s.n + 1, f.s);
				r->slen += f.s.n + 1;
			}
			break;
		}
	}
	if (it.bad)
		return -1;
	if (key && (k = tr_key_lookup(key)) != TK_NONE && e->nargs < TR_MAX_ARGS) {
		a.key = (uint16_t)k;
		e->args[e->nargs++] = a;
	}
	return 0;
}

static int read_event(struct rd *r, struct rd_seq *q, struct span s, uint64_t ts)
{
	struct tr_ev e = { .ts = ts, .track = q->track };
	struct field f;
	struct fields it;
	char name[128];
	size_t need = s.n + 1;
	uint64_t values[RD_EXTRA_MAX], tracks[RD_EXTRA_MAX];
	int nvalues = 0, ntracks = 0;

	/* each string annotation takes its bytes + 1 of the event's s.n, which holds at least
	 * 2 more bytes (tag, length) per string: s.n + 1 is room for them all */
	if (need > r->scap) {
		char *p = realloc(r->strings, need);

		if (!p)
			return -1;
		r->strings = p;
		r->scap = need;
	}
	r->slen = 0;
	for (it = fields_of(s); next(&it, &f);) {
		switch (f.id) {
		case 9: e.type = (enum tr_ev_type)f.v; break;
		case 11: e.track = f.v; break;
		case 10: {
			const char *n = tr_map_get(&q->names, f.v, 0);

			e.name = n ? tr_name_lookup(n) : TN_NONE;
			break;
		}
		case 23:
			if (f.wire == PB_LEN) {
				copy_str(name, sizeof(name), f.s);
				e.name = tr_name_lookup(name);
			}
			break;
		case 30: e.value = (int64_t)f.v; break;
		case 12: repeated_varint(&f, values, &nvalues, RD_EXTRA_MAX); break;
		case 31: repeated_varint(&f, tracks, &ntracks, RD_EXTRA_MAX); break;
		case 36:
		case 47: e.flow_out = f.v; break;
		case 42:
		case 48: e.flow_in = f.v; break;
		case 4:
			if (f.wire == PB_LEN && read_annotation(r, q, f.s, &e))
				return -1;
			break;
		}
	}
	if (it.bad)
		return -1;
	if (!ntracks) {		/* the sequence's extra counter tracks */
		ntracks = q->nextra;
		memcpy(tracks, q->extra, sizeof(tracks));
	}
	for (int i = 0; i < nvalues && i < ntracks && r->cb->event; i++) {
		struct tr_ev c = { .type = TE_COUNTER, .track = tracks[i], .ts = ts,
				   .value = (int64_t)values[i] };

		r->cb->event(r->cb->ctx, &c);
	}
	if (e.type == TE_INSTANT && e.name == TN_STATS)
		r->stats_now = true;
	if (r->cb->event)
		r->cb->event(r->cb->ctx, &e);
	return 0;
}

static int read_packet(struct rd *r, struct span pkt, bool *has_ck, uint64_t *packets);

/* Inflated, a compressed_packets field may hold this much (a bomb is damage, not memory). */
#define RD_MAX_INFLATED (256u << 20)

/*
 * A compressed_packets field: a zlib stream of packets framed as a Trace, read in its
 * place (as trace_processor does); -1 when it does not inflate whole, or holds anything
 * but packets that parse (a checksum or another compressed packet among them included).
 */
static int read_compressed(struct rd *r, struct span z, uint64_t *packets)
{
	z_stream zs = { 0 };
	uint8_t *out = NULL, *p;
	size_t cap = 0, len = 0;
	struct fields it;
	struct field f;
	int zr, ret = -1;

	if (z.n > UINT_MAX || inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)z.p;
	zs.avail_in = (uInt)z.n;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : z.n * 4 + 4096;
			if (cap > RD_MAX_INFLATED || !(p = realloc(out, cap)))
				goto out;
			out = p;
		}
		zs.next_out = out + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	} while (zr == Z_OK);
	if (zr != Z_STREAM_END || zs.avail_in)
		goto out;
	for (it = fields_of((struct span){ out, len }); next(&it, &f);) {
		bool ck = false;
		uint64_t inner = 0;

		if (f.id != 1 || f.wire != PB_LEN || read_packet(r, f.s, &ck, &inner) || ck ||
		    inner != 1)
			goto out;
		(*packets)++;
	}
	ret = it.bad ? -1 : 0;
out:
	inflateEnd(&zs);
	free(out);
	return ret;
}

/*
 * One packet; *has_ck when it holds msmvm's checksum field (the caller checks it);
 * *packets: how many it was (those a compressed one holds).
 */
static int read_packet(struct rd *r, struct span pkt, bool *has_ck, uint64_t *packets)
{
	struct field f;
	struct span te = { 0 }, interned = { 0 }, td = { 0 }, defaults = { 0 }, clock = { 0 };
	struct span z = { 0 };
	uint64_t ts = 0, flags = 0, seq = 0;
	uint32_t clock_id = 0;
	struct fields it;
	struct rd_seq *q;
	bool dropped = false, has_ts = false;

	for (it = fields_of(pkt); next(&it, &f);) {
		switch (f.id) {
		case 8: ts = f.v; has_ts = true; break;
		case 10: seq = f.v; break;
		case 58: clock_id = (uint32_t)f.v; break;
		case 13: flags = f.v; break;
		case 59:
			if (f.wire == PB_LEN)
				defaults = f.s;
			break;
		case 42: dropped = f.v != 0; break;
		case 11:
			if (f.wire == PB_LEN)
				te = f.s;
			break;
		case 12:
			if (f.wire == PB_LEN)
				interned = f.s;
			break;
		case 60:
			if (f.wire == PB_LEN)
				td = f.s;
			break;
		case 6:
			if (f.wire == PB_LEN)
				clock = f.s;
			break;
		case TR_PKT_CHECKSUM:
			*has_ck = true;
			break;
		case TR_PKT_COMPRESSED:
			if (f.wire != PB_LEN)
				return -1;
			z = f.s;
			break;
		}
	}
	if (it.bad)
		return -1;
	/* trace_processor reads nothing else of a packet that holds compressed ones */
	if (z.p)
		return *has_ck ? -1 : read_compressed(r, z, packets);
	(*packets)++;
	q = seq_get(r, seq);
	if (!q)
		return -1;
	/* in the order trace_processor applies them: clear, defaults, interned data, clock,
	 * then the event */
	if (flags & SEQ_CLEARED)
		seq_clear(q);
	if (dropped && r->cb->dropped)
		r->cb->dropped(r->cb->ctx);
	if (defaults.p)
		read_defaults(q, defaults);
	if (interned.p && read_interned(q, interned))
		return -1;
	if (clock.p)
		read_clock(q, clock);
	if (has_ts)
		ts = to_mono(q, ts, clock_id ? clock_id : q->clock_id);
	if (td.p && read_track(r, td))
		return -1;
	if (te.p && read_event(r, q, te, ts))
		return -1;
	return 0;
}

/* ---- the file: read forward through a window, checksums verified on the way ---- */

#define RD_MAX_PACKET (64u << 20)
#define RD_CK_MAX 64			/* a checksum packet is shorter */
#define RD_WINDOW (256u << 10)
#define RD_NONE UINT64_MAX

struct rd_file {
	int fd;
	uint8_t *p;
	size_t len, cap;	/* p[0, len): the file's bytes from base on */
	uint64_t base;
	uint64_t size;		/* a regular file's size, else RD_NONE */
	bool eof;
	int err;		/* errno of a failed read */
};

/*
 * Up to n bytes of the file from off (never before an off asked for earlier): how many
 * there are (fewer only at the end of the file or after a read error), at *out.
 */
static size_t rf_get(struct rd_file *f, uint64_t off, size_t n, const uint8_t **out)
{
	size_t skip = (size_t)(off - f->base);

	if (off < f->base || skip > f->len) {	/* not kept (or not read): callers never ask */
		*out = NULL;
		return 0;
	}
	if (skip + n > f->len && !f->eof && !f->err) {
		if (skip) {	/* what is before off is not needed again */
			memmove(f->p, f->p + skip, f->len - skip);
			f->len -= skip;
			f->base = off;
			skip = 0;
		}
		if (n > f->cap || f->cap < RD_WINDOW) {
			size_t cap = n > RD_WINDOW ? n : RD_WINDOW;
			uint8_t *p = realloc(f->p, cap);

			if (!p)
				f->err = ENOMEM;
			else
				f->p = p, f->cap = cap;
		}
		while (f->len < n && !f->err) {
			ssize_t got = read(f->fd, f->p + f->len, f->cap - f->len);

			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				f->err = errno;
			else if (!got)
				break;
			else
				f->len += (size_t)got;
		}
		if (f->len < n && !f->err)
			f->eof = true;
	}
	*out = f->p ? f->p + skip : NULL;
	return f->len - skip < n ? f->len - skip : n;
}

/* A varint at *p: 0, 1 when the bytes end first, -1 when it runs past 10 bytes. */
static int rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (*p >= end)
			return 1;
		c = *(*p)++;
		r |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/*
 * A packet's framing (Trace.packet's tag and length) at h, n bytes there: 0 (*hl bytes of
 * framing), 1 when the bytes end first, -1 for another tag, -2 for a length past
 * RD_MAX_PACKET.
 */
static int rd_header(const uint8_t *h, size_t n, uint64_t *len, size_t *hl)
{
	const uint8_t *p = h;
	uint64_t tag;
	int s;

	if (!n)
		return 1;
	s = rd_varint(&p, h + n, &tag);
	if (!s && tag != (1 << 3 | PB_LEN))
		return -1;
	if (!s)
		s = rd_varint(&p, h + n, len);
	if (s)
		return s;
	if (*len > RD_MAX_PACKET)
		return -2;
	*hl = (size_t)(p - h);
	return 0;
}

struct rd_ck {
	uint64_t offset, length;
	uint32_t crc;
};

/*
 * A checksum packet's fields (pb.c: tr_pb_checksum): 1, 0 when pkt holds no checksum, -1
 * when it holds one but not exactly as written (then it is damaged).
 */
static int ck_parse(struct span pkt, struct rd_ck *ck)
{
	struct fields it, in;
	struct field f, g;
	struct span body = { 0 };
	int nck = 0, nseq = 0, nother = 0, seen = 0;

	for (it = fields_of(pkt); next(&it, &f);) {
		if (f.id == TR_PKT_CHECKSUM && f.wire == PB_LEN)
			body = f.s, nck++;
		else if (f.id == TR_PKT_CHECKSUM)
			nck++, nother++;
		else if (f.id == 10 && f.wire == PB_VARINT && f.v == 1)
			nseq++;
		else
			nother++;
	}
	if (!nck)
		return 0;
	if (it.bad || nck != 1 || nseq != 1 || nother || !body.p)
		return -1;
	for (in = fields_of(body); next(&in, &g);) {
		if (g.id < TR_CK_OFFSET || g.id > TR_CK_CRC32 || (seen & 1 << g.id) ||
		    g.wire != (g.id == TR_CK_CRC32 ? PB_I32 : PB_VARINT))
			return -1;
		seen |= 1 << g.id;
		if (g.id == TR_CK_OFFSET)
			ck->offset = g.v;
		else if (g.id == TR_CK_LENGTH)
			ck->length = g.v;
		else
			ck->crc = (uint32_t)g.v;
	}
	return in.bad || seen != (1 << TR_CK_OFFSET | 1 << TR_CK_LENGTH | 1 << TR_CK_CRC32) ? -1 : 1;
}

/* A whole checksum packet of exactly n bytes at h, at file offset at, that fits there. */
static bool ck_whole(const uint8_t *h, size_t n, uint64_t at, uint64_t after)
{
	struct rd_ck ck;
	uint64_t len;
	size_t hl;

	return !rd_header(h, n, &len, &hl) && hl + len == n &&
	       ck_parse((struct span){ h + hl, (size_t)len }, &ck) == 1 &&
	       ck.offset >= after && ck.offset + ck.length == at;
}

/*
 * A packet that runs past the end of the file (at off) but whose bytes there are a whole
 * checksum packet that fits: not cut, its length is damaged.
 */
static bool ck_cut_whole(struct rd_file *f, uint64_t off, uint64_t after)
{
	const uint8_t *h;
	size_t n = rf_get(f, off, RD_CK_MAX, &h), hl;
	struct rd_ck ck;
	uint64_t len;

	return n < RD_CK_MAX && !rd_header(h, n, &len, &hl) && hl + len > n && hl < n &&
	       ck_parse((struct span){ h + hl, n - hl }, &ck) == 1 && ck.offset >= after &&
	       ck.offset + ck.length == off;
}

/* The file ends with a checksum packet that fits there: it was closed by its recorder. */
static bool rd_sealed(struct rd_file *f)
{
	uint8_t tail[RD_CK_MAX];
	size_t n;
	ssize_t got;

	if (f->size == RD_NONE || !f->size)
		return false;
	n = f->size < sizeof(tail) ? (size_t)f->size : sizeof(tail);
	got = pread(f->fd, tail, n, (off_t)(f->size - n));
	if (got != (ssize_t)n)
		return false;
	for (size_t i = 0; i + 2 < n; i++)
		if (tail[i] == (1 << 3 | PB_LEN) &&
		    ck_whole(tail + i, n - i, f->size - (n - i), 0))
			return true;
	return false;
}

/*
 * Where reading can go on after bytes that are not a packet: the next checksum packet from
 * `from` on that fits where it stands (its range begins at `after` or later and ends where
 * it starts). Its offset (*end: where it ends), or RD_NONE.
 */
static uint64_t rd_resync(struct rd_file *f, uint64_t from, uint64_t after, uint64_t *end)
{
	for (uint64_t pos = from;; pos++) {
		const uint8_t *h;
		size_t n = rf_get(f, pos, RD_CK_MAX, &h);
		uint64_t len;
		size_t hl;

		if (!n)
			return RD_NONE;
		if (h[0] != (1 << 3 | PB_LEN) || rd_header(h, n, &len, &hl) || hl + len > n ||
		    !ck_whole(h, hl + (size_t)len, pos, after))
			continue;
		*end = pos + hl + len;
		return pos;
	}
}

/* The end of the file: its size, or (not a regular file) as far as it was read. */
static uint64_t rf_end(struct rd_file *f)
{
	return f->size != RD_NONE ? f->size : f->base + f->len;
}

struct rd_damage {
	struct tr_read_info *info;
	uint64_t from, to;	/* the last range, which the next one may extend */
};

static void damaged(struct rd_damage *d, uint64_t from, uint64_t to, const char *why)
{
	struct tr_read_info *in = d->info;

	if (in->damaged && from <= d->to && to >= d->from) {	/* one range: extend it */
		d->from = from < d->from ? from : d->from;
		d->to = to > d->to ? to : d->to;
	} else {
		in->damaged++;
		d->from = from;
		d->to = to;
		if (in->damaged <= MSMVM_TRACE_DAMAGE_MAX)
			in->damage[in->damaged - 1].why = why;
	}
	if (in->damaged <= MSMVM_TRACE_DAMAGE_MAX) {
		in->damage[in->damaged - 1].from = d->from;
		in->damage[in->damaged - 1].to = d->to;
	}
}

int tr_read_file(const char *path, unsigned int flags, const struct tr_reader_cb *cb,
		 struct tr_read_info *info, struct msmvm_err *err)
{
	struct rd r = { .cb = cb };
	struct rd_file f = { .size = RD_NONE };
	struct rd_damage d = { .info = info };
	struct stat st;
	uint64_t off = 0, ck_start = 0, stats_end = 0;
	uint32_t crc = 0;
	bool sealed, stats = false;	/* stats: the final stats since the last checksum */
	int ret = 0;

	memset(info, 0, sizeof(*info));
	f.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f.fd < 0)
		return msmvm_fail(err, MSMVM_E_RUNTIME, errno, "cannot open %s: %s", path,
				  strerror(errno));
	if (!fstat(f.fd, &st) && S_ISREG(st.st_mode))
		f.size = (uint64_t)st.st_size;
	sealed = rd_sealed(&f);
	for (;;) {
		const uint8_t *h;
		size_t n = rf_get(&f, off, 20, &h), hl = 0;
		uint64_t len = 0, at, end, npk = 0;
		bool has_ck = false;
		int s;

		if (!n)
			break;	/* the end */
		s = rd_header(h, n, &len, &hl);
		if (!s && rf_get(&f, off, hl + (size_t)len, &h) < hl + len)
			s = 1;
		if (!s) {
			size_t whole = hl + (size_t)len;
			struct span pkt = { h + hl, (size_t)len };
			struct rd_ck ck = { 0 };

			r.stats_now = false;
			if (read_packet(&r, pkt, &has_ck, &npk)) {
				damaged(&d, off, off + whole, "corrupt packet");
				crc = (uint32_t)crc32_z(crc, h, whole);
			} else if (has_ck) {
				/* the bytes since the last one, then on from its end */
				if (ck_parse(pkt, &ck) != 1 || ck.offset != ck_start ||
				    ck.offset + ck.length != off || ck.crc != crc)
					damaged(&d, ck_start, off + whole, "checksum mismatch");
				else
					info->checksums++;
				info->checksummed = true;
				ck_start = off + whole;
				crc = 0;
				stats = false;
				info->packets++;
			} else {
				crc = (uint32_t)crc32_z(crc, h, whole);
				if (r.stats_now) {
					stats = true;
					stats_end = off + whole;
				}
				info->packets += npk;
			}
			off += whole;
			continue;
		}
		/* not a whole packet at off: go on at the next checksum packet, if any */
		if ((info->checksummed || sealed) &&
		    (at = rd_resync(&f, off + 1, ck_start, &end)) != RD_NONE) {
			damaged(&d, ck_start, at, s == 1 ? "a packet runs past the end of the file"
						    : "not a trace packet");
			info->checksummed = true;
			ck_start = off = end;
			crc = 0;
			stats = false;
			continue;
		}
		if (s == 1) {
			/* cut short, as a killed recorder leaves it; but not a file closed
			 * whole, nor one whose final stats are followed by anything but (part
			 * of) its final checksum, nor one whose final checksum is all there */
			if (sealed || (stats && (stats_end != off || len > RD_CK_MAX)))
				damaged(&d, ck_start, rf_end(&f), "a packet runs past the end of the "
								  "file");
			else if (ck_cut_whole(&f, off, ck_start))
				damaged(&d, ck_start, rf_end(&f), "a checksum packet's length is wrong");
			else
				info->truncated = true;
			break;
		}
		if (!info->packets && !info->checksummed) {
			const uint8_t *first;
			bool json = rf_get(&f, 0, 1, &first) == 1 &&
				    (first[0] == '[' || first[0] == '{');

			/* name JSON only when it looks like it: random bytes are just "not" */
			ret = msmvm_fail(err, MSMVM_E_RUNTIME, EINVAL,
					 json ? "%s is a JSON trace (--format json): only Perfetto "
						"protobuf traces can be replayed"
					      : "%s is not a Perfetto protobuf trace (its first bytes "
						"are not a trace packet)", path);
			break;
		}
		damaged(&d, info->checksummed ? ck_start : off, rf_end(&f),
			s == -2 ? "a packet of impossible length" : "not a trace packet");
		break;
	}
	info->bytes = off;
	if (!ret && f.err)
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, f.err, "reading %s: %s", path,
				 strerror(f.err));
	/* bytes after the last checksum: a recorder killed (or a full disk at its close), or
	 * damage where a whole file's final checksum should be */
	if (!ret && info->checksummed && !info->truncated && off > ck_start) {
		if (sealed || (stats && stats_end != off))
			damaged(&d, ck_start, off, "the final checksum is missing");
		else
			info->unverified = off - ck_start;
	}
	if (!ret && info->truncated && info->checksummed)
		info->unverified = rf_end(&f) - ck_start;
	if (!ret && info->damaged && !(flags & MSMVM_TRACE_READ_IGNORE_DAMAGE)) {
		const struct msmvm_trace_damage *g = &info->damage[0];
		char more[64] = "";

		if (info->damaged > 1)
			snprintf(more, sizeof(more), " and %llu more range%s",
				 (unsigned long long)info->damaged - 1, info->damaged > 2 ? "s" : "");
		ret = msmvm_fail(err, MSMVM_E_RUNTIME, EBADMSG,
				 "%s: bytes %llu..%llu are damaged (%s)%s; --ignore-damage reads on",
				 path, (unsigned long long)g->from, (unsigned long long)g->to - 1,
				 g->why, more);
	}
	close(f.fd);
	free(f.p);
	tr_map_free(&r.seqs, seq_free);
	free(r.strings);
	return ret;
}

void tr_read_info_copy(struct msmvm_trace_info *in, const struct tr_read_info *ri)
{
	in->bytes = ri->bytes;
	in->packets = ri->packets;
	in->truncated = ri->truncated;
	in->checksummed = ri->checksummed;
	in->checksums = ri->checksums;
	in->unverified = ri->unverified;
	in->damaged = ri->damaged;
	memcpy(in->damage, ri->damage, sizeof(in->damage));
}

/* The length of the valid UTF-8 sequence at p (n bytes there), 0 if there is none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned int c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

void tr_utf8_fix(char *s, size_t cap)
{
	unsigned char out[512];
	const unsigned char *p = (const unsigned char *)s;
	size_t n, o = 0, room;

	if (!cap)
		return;
	n = strnlen(s, cap);
	room = (cap < sizeof(out) ? cap : sizeof(out)) - 1;
	while (n) {
		size_t len = utf8_seq(p, n), w = len ? len : 3;

		if (o + w > room)
			break;	/* cut at a character's end */
		memcpy(out + o, len ? p : (const unsigned char *)"\xef\xbf\xbd", w);	/* U+FFFD */
		o += w;
		len = len ? len : 1;
		p += len;
		n -= len;
	}
	memcpy(s, out, o);
	s[o] = 0;
}

const struct tr_arg *tr_ev_arg(const struct tr_ev *e, int key)
{
	for (int i = 0; i < e->nargs; i++)
		if (e->args[i].key == key)
			return &e->args[i];
	return NULL;
}

int64_t tr_ev_num(const struct tr_ev *e, int key, int64_t dflt)
{
	const struct tr_arg *a = tr_ev_arg(e, key);

	return a && a->type != TA_STR ? a->i : dflt;
}

int tr_info_from_event(struct msmvm_trace_info *in, const struct tr_ev *e)
{
	const struct tr_arg *a;

	if (e->type != TE_INSTANT)
		return TN_NONE;
	switch (e->name) {
	case TN_RECORDING:
		if ((a = tr_ev_arg(e, TK_TARGET)) && a->type == TA_STR)
			snprintf(in->plan.target, sizeof(in->plan.target), "%s", a->s);
		if ((a = tr_ev_arg(e, TK_REASON)) && a->type == TA_STR)
			snprintf(in->plan.reason, sizeof(in->plan.reason), "%s", a->s);
		if ((a = tr_ev_arg(e, TK_ARCH)) && a->type == TA_STR)
			snprintf(in->plan.arch, sizeof(in->plan.arch), "%s", a->s);
		if ((a = tr_ev_arg(e, TK_PLAN)) && a->type == TA_STR)
			in->plan.kind = strcmp(a->s, "fallback") ? MSMVM_PLAN_DIRECT
								 : MSMVM_PLAN_FALLBACK;
		a = tr_ev_arg(e, TK_THROTTLE_LIMIT);
		in->plan.throttle_limit = a && a->type != TA_STR && a->u <= UINT32_MAX ? a->u : 0;
		in->plan.emit_ops = tr_ev_num(e, TK_OPS_RECORDED, 0) != 0;
		/* shown as they are, in text and JSON: valid UTF-8 whatever the file holds */
		tr_utf8_fix(in->plan.target, sizeof(in->plan.target));
		tr_utf8_fix(in->plan.reason, sizeof(in->plan.reason));
		tr_utf8_fix(in->plan.arch, sizeof(in->plan.arch));
		return TN_RECORDING;
	case TN_LOST:
		if ((uint64_t)tr_ev_num(e, TK_DROPPED_TOTAL, 0) > in->dropped)
			in->dropped = (uint64_t)tr_ev_num(e, TK_DROPPED_TOTAL, 0);
		return TN_LOST;
	case TN_STATS:
		in->finished = true;
		in->dropped = (uint64_t)tr_ev_num(e, TK_DROPPED_TOTAL, (int64_t)in->dropped);
		for (int i = 0; i < MSMVM_H_COUNT_; i++)
			in->health[i] = (uint64_t)tr_ev_num(e, TK_HEALTH_ + i, 0);
		if (in->dropped > in->health[MSMVM_H_RINGBUF_DROPS])
			in->health[MSMVM_H_RINGBUF_DROPS] = in->dropped;
		return TN_STATS;
	default:
		return TN_NONE;
	}
}
