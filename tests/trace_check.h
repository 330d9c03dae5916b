/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checking a trace the way trace_processor will read it, from `protoc --decode`'s text of
 * the file (tests/trace.proto), not from msmvm's own reader:
 *
 *   - every packet is on a sequence (trusted_packet_sequence_id), the file's first packet
 *     clears its incremental state, state (defaults, interned data) is only set on a
 *     sequence after a clear, and a packet marked previous_packet_dropped clears it again;
 *   - timestamps have a clock: the packet's own or the defaults set on its sequence since
 *     the last clear: MONOTONIC, or the sequence's clock 64 once a ClockSnapshot on the
 *     sequence relates it to MONOTONIC or BOOTTIME (and MONOTONIC to BOOTTIME); on an
 *     incremental clock each timestamp is a delta from the sequence's previous one;
 *   - every interned id a packet uses (event names, annotation names) was sent on its
 *     sequence since the last clear, in that packet or before, never with another string;
 *     such packets, and every track event on a sequence with defaults, are marked
 *     SEQ_NEEDS_INCREMENTAL_STATE;
 *   - every track (track_uuid, else the sequence's default) was described by a
 *     TrackDescriptor earlier in the file; thread tracks sit under their process's track;
 *     counter values only on counter tracks, and only counter values there; values carried
 *     by another event (extra_counter_values) go to counter tracks (the event's own list of
 *     them, else the sequence's default one) and count as counter values at its time;
 *   - in timestamp order (ties in file order, as trace_processor sorts), slices nest per
 *     track: no end without a begin, none left open (unless allowed: a recorder killed
 *     mid-way, jobs in flight at the end of a flight-recorder window);
 *   - each flow starts once, ends at most once, and not before it starts.
 *
 * It also counts what the tests compare with the model: slices and instants by name,
 * counter values, loss marks, the final stats' arguments.
 *
 * With the file's bytes (tc_check_checksums), msmvm's checksum packets (TracePacket field
 * 777, msmvm_checksum in tests/trace.proto) are held against them with zlib's CRC-32.
 */
#ifndef MSMVM_TEST_TRACE_CHECK_H
#define MSMVM_TEST_TRACE_CHECK_H

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- protoc's text format, as a tree ---- */

struct tnode {
	char *name;
	char *value;		/* scalars (strings unescaped); NULL for messages */
	size_t vlen;		/* its length (bytes fields hold NULs) */
	struct tnode **kids;
	int nkids;
};

struct tparse {
	const char *p;
	size_t len;		/* of the last string */
	char err[256];
};

static void tnode_free(struct tnode *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nkids; i++)
		tnode_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->value);
	free(n);
}

static void tp_ws(struct tparse *tp)
{
	while (isspace((unsigned char)*tp->p))
		tp->p++;
}

static char *tp_word(struct tparse *tp)
{
	const char *s = tp->p;

	while (isalnum((unsigned char)*tp->p) || *tp->p == '_' || *tp->p == '-' || *tp->p == '.' ||
	       *tp->p == '+')
		tp->p++;
	return s == tp->p ? NULL : strndup(s, (size_t)(tp->p - s));
}

static char *tp_string(struct tparse *tp)
{
	size_t cap = 64, n = 0;
	char *out = malloc(cap);

	tp->p++;	/* the quote */
	while (*tp->p && *tp->p != '"') {
		char c = *tp->p++;

		if (c == '\\') {
			c = *tp->p++;
			if (c >= '0' && c <= '7') {
				int v = c - '0';

				for (int i = 0; i < 2 && *tp->p >= '0' && *tp->p <= '7'; i++)
					v = v * 8 + (*tp->p++ - '0');
				c = (char)v;
			} else if (c == 'n') {
				c = '\n';
			} else if (c == 't') {
				c = '\t';
			} else if (c == 'r') {
				c = '\r';
			}
		}
		if (n + 2 > cap)
			out = realloc(out, cap *= 2);
		out[n++] = c;
	}
	out[n] = 0;
	if (*tp->p == '"')
		tp->p++;
	tp->len = n;
	return out;
}

/* The fields of one message, up to its closing brace (or the end, for the top level). */
static bool tp_fields(struct tparse *tp, struct tnode *parent, bool top)
{
	for (;;) {
		struct tnode *n;

		tp_ws(tp);
		if (!*tp->p)
			return top || (snprintf(tp->err, sizeof(tp->err), "unclosed message"), false);
		if (*tp->p == '}') {
			tp->p++;
			return !top || (snprintf(tp->err, sizeof(tp->err), "stray }"), false);
		}
		n = calloc(1, sizeof(*n));
		n->name = tp_word(tp);
		if (!n->name) {
			snprintf(tp->err, sizeof(tp->err), "a field name expected near '%.20s'", tp->p);
			free(n);
			return false;
		}
		parent->kids = realloc(parent->kids, (size_t)(parent->nkids + 1) * sizeof(n));
		parent->kids[parent->nkids++] = n;
		tp_ws(tp);
		if (*tp->p == ':') {
			tp->p++;
			tp_ws(tp);
		}
		if (*tp->p == '{') {
			tp->p++;
			if (!tp_fields(tp, n, false))
				return false;
		} else if (*tp->p == '"') {
			n->value = tp_string(tp);
			n->vlen = tp->len;
		} else if (!(n->value = tp_word(tp))) {
			snprintf(tp->err, sizeof(tp->err), "a value expected for %s", n->name);
			return false;
		}
	}
}

static struct tnode *tnode_parse(const char *text, char *err, size_t errsz)
{
	struct tparse tp = { .p = text };
	struct tnode *root = calloc(1, sizeof(*root));

	if (!tp_fields(&tp, root, true)) {
		snprintf(err, errsz, "%s", tp.err);
		tnode_free(root);
		return NULL;
	}
	return root;
}

static struct tnode *tkid(const struct tnode *n, const char *name)
{
	for (int i = 0; n && i < n->nkids; i++)
		if (!strcmp(n->kids[i]->name, name))
			return n->kids[i];
	return NULL;
}

static bool tnum(const struct tnode *n, const char *name, long long *v)
{
	struct tnode *k = tkid(n, name);

	if (!k || !k->value)
		return false;
	*v = strtoll(k->value, NULL, 10);
	return true;
}

static unsigned long long tunum(const struct tnode *n, const char *name)
{
	struct tnode *k = tkid(n, name);

	return k && k->value ? strtoull(k->value, NULL, 10) : 0;
}

/* ---- the checks ---- */

#define TC_MAX_ERRORS 20
#define TC_NAMES 64

struct tc_count {
	char name[64];
	long long n;
};

struct tc_result {
	int errors;
	char msgs[TC_MAX_ERRORS][200];
	long long packets, track_events, descriptors, counters, loss_marks, flows, open_slices;
	long long ts_min, ts_max;
	struct tc_count slices[TC_NAMES], instants[TC_NAMES];
	int nslices, ninstants;
	struct tc_count stats[TC_NAMES];	/* the final stats instant's arguments */
	int nstats;
	bool has_stats;
	long long compressed;		/* packets holding compressed packets */
	long long checksums;		/* checksum packets, each right (tc_check_checksums) */
	long long uncovered;		/* bytes after the last one */
	bool sealed;			/* the file ends with one */
};

static void tc_error(struct tc_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tc_error(struct tc_result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->errors < TC_MAX_ERRORS) {
		va_start(ap, fmt);
		vsnprintf(r->msgs[r->errors], sizeof(r->msgs[0]), fmt, ap);
		va_end(ap);
	}
	r->errors++;
}

static void tc_bump(struct tc_count *c, int *n, const char *name, long long by)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(c[i].name, name)) {
			c[i].n += by;
			return;
		}
	if (*n < TC_NAMES) {
		snprintf(c[*n].name, sizeof(c[0].name), "%s", name);
		c[(*n)++].n = by;
	}
}

static long long tc_get(const struct tc_count *c, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return c[i].n;
	return 0;
}

enum { TC_KIND_NONE, TC_KIND_PROCESS, TC_KIND_THREAD, TC_KIND_COUNTER, TC_KIND_OTHER };

struct tc_track {
	unsigned long long uuid, parent;
	int kind;
	long long pid;
};

struct tc_ev {
	long long ts;
	long idx;
	int type;		/* 1 begin, 2 end, 3 instant, 4 counter */
	unsigned long long track;
	char name[64];
	unsigned long long flows[4], ends[4];
	int nflows, nends;
};

static int tc_ev_cmp(const void *a, const void *b)
{
	const struct tc_ev *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

struct tc_intern {
	unsigned long long iid;
	char name[64];
	long long since;	/* the packet that sent it */
};

#define TC_SEQ_MAX 4096
#define TC_EXTRA_MAX 4

/* One sequence's state, as trace_processor keeps it. */
struct tc_seq {
	long long id;
	long long last_clear, clock_ok_since;
	long long default_clock;
	unsigned long long default_track, extra[TC_EXTRA_MAX];
	int nextra;
	bool clock_known, incremental;	/* its clock 64 */
	long long mono_minus_64, clock64;
	struct tc_intern *names, *keys;
	int nnames, nkeys;
};

static struct tc_seq *tc_seq_get(struct tc_seq *seqs, int *n, long long id)
{
	for (int i = 0; i < *n; i++)
		if (seqs[i].id == id)
			return &seqs[i];
	if (*n == TC_SEQ_MAX)
		return NULL;
	seqs[*n] = (struct tc_seq){ .id = id, .last_clear = -1, .clock_ok_since = -1,
				    .names = calloc(256, sizeof(struct tc_intern)),
				    .keys = calloc(256, sizeof(struct tc_intern)) };
	return &seqs[(*n)++];
}

static int type_of(const char *v)
{
	if (!v)
		return 0;
	if (!strcmp(v, "TYPE_SLICE_BEGIN") || !strcmp(v, "1"))
		return 1;
	if (!strcmp(v, "TYPE_SLICE_END") || !strcmp(v, "2"))
		return 2;
	if (!strcmp(v, "TYPE_INSTANT") || !strcmp(v, "3"))
		return 3;
	if (!strcmp(v, "TYPE_COUNTER") || !strcmp(v, "4"))
		return 4;
	return 0;
}

/* Look an interned id up: sent since the last clear, at or before this packet. */
static const char *tc_interned(struct tc_result *r, struct tc_intern *tab, int n,
			       unsigned long long iid, long long last_clear, long long pkt,
			       const char *what)
{
	for (int i = 0; i < n; i++)
		if (tab[i].iid == iid) {
			if (tab[i].since < last_clear || tab[i].since > pkt) {
				tc_error(r, "packet %lld: %s iid %llu not sent since the last clear "
					 "(packet %lld)", pkt, what, iid, last_clear);
				return NULL;
			}
			return tab[i].name;
		}
	tc_error(r, "packet %lld: %s iid %llu never sent", pkt, what, iid);
	return NULL;
}

static void tc_intern_add(struct tc_result *r, struct tc_intern *tab, int *n,
			  const struct tnode *entry, long long pkt, const char *what)
{
	unsigned long long iid = tunum(entry, "iid");
	struct tnode *name = tkid(entry, "name");

	if (!iid || !name || !name->value) {
		tc_error(r, "packet %lld: a %s entry without iid or name", pkt, what);
		return;
	}
	for (int i = 0; i < *n; i++)
		if (tab[i].iid == iid) {
			if (strcmp(tab[i].name, name->value))
				tc_error(r, "packet %lld: %s iid %llu redefined ('%s', was '%s')", pkt,
					 what, iid, name->value, tab[i].name);
			tab[i].since = pkt;
			return;
		}
	if (*n < 256) {
		tab[*n].iid = iid;
		snprintf(tab[*n].name, sizeof(tab[0].name), "%s", name->value);
		tab[(*n)++].since = pkt;
	}
}

/*
 * Compressed packets (TracePacket.compressed_packets, Perfetto's deflate compression): a
 * zlib or gzip stream (trace_processor inflates with either header) of packets framed as a
 * Trace, read in the place of the packet that holds them; decoded here with zlib and protoc
 * again. TC_PROTO_DIR holds trace.proto (MSMVM_TRACE_PROTO_DIR overrides it).
 */
#ifndef TC_PROTO_DIR
#define TC_PROTO_DIR "tests"
#endif

static struct tnode *tc_inflate(const struct tnode *p, struct tc_result *r, int pi)
{
	const struct tnode *z = tkid(p, "compressed_packets");
	const char *dir = getenv("MSMVM_TRACE_PROTO_DIR") ?: TC_PROTO_DIR;
	char bin[] = "/tmp/tc-inflated.XXXXXX", txt[64], cmd[1024], err[256];
	struct tnode *sub = NULL;
	unsigned char *out = NULL;
	size_t cap = 0, len = 0;
	z_stream zs = { 0 };
	int zr, fd;
	FILE *f;

	if (p->nkids != 1) {
		tc_error(r, "packet %d: compressed_packets beside other fields (trace_processor reads "
			 "only the compressed ones)", pi);
		return NULL;
	}
	if (!z->value || inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK) {
		tc_error(r, "packet %d: compressed_packets is not bytes", pi);
		return NULL;
	}
	zs.next_in = (Bytef *)z->value;
	zs.avail_in = (uInt)z->vlen;
	do {
		if (len == cap)
			out = realloc(out, cap = cap ? cap * 2 : 65536);
		zs.next_out = out + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	} while (zr == Z_OK);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END || zs.avail_in) {
		tc_error(r, "packet %d: compressed_packets does not inflate whole (zlib: %d, %u bytes "
			 "left)", pi, zr, zs.avail_in);
		free(out);
		return NULL;
	}
	fd = mkstemp(bin);
	if (fd < 0 || write(fd, out, len) != (ssize_t)len) {
		tc_error(r, "packet %d: cannot write its %zu inflated bytes", pi, len);
		if (fd >= 0)
			close(fd), unlink(bin);
		free(out);
		return NULL;
	}
	close(fd);
	free(out);
	snprintf(txt, sizeof(txt), "%s.txt", bin);
	snprintf(cmd, sizeof(cmd), "protoc --decode=perfetto.protos.Trace -I '%s' '%s/trace.proto' "
		 "< '%s' > '%s' 2>&1", dir, dir, bin, txt);
	zr = system(cmd);
	f = fopen(txt, "r");
	if (f) {
		char *text = NULL;
		size_t tl = 0;
		FILE *m = open_memstream(&text, &tl);
		int c;

		while ((c = getc(f)) != EOF)
			putc(c, m);
		fclose(m);
		fclose(f);
		if (zr)
			tc_error(r, "packet %d: protoc cannot decode what it inflates to: %.300s", pi,
				 text);
		else if (!(sub = tnode_parse(text, err, sizeof(err))))
			tc_error(r, "packet %d: protoc's text of its packets does not parse: %s", pi,
				 err);
		free(text);
	} else {
		tc_error(r, "packet %d: protoc gave no output", pi);
	}
	unlink(bin);
	unlink(txt);
	for (int i = 0; sub && i < sub->nkids; i++)
		if (tkid(sub->kids[i], "compressed_packets"))
			tc_error(r, "packet %d: compressed packets inside compressed packets", pi);
	return sub;
}

/* The file's packets with compressed ones in their place; *subs: what to free after. */
static struct tnode *tc_flatten(const struct tnode *root, struct tc_result *r,
				struct tnode ***subs, int *nsubs)
{
	struct tnode *flat = calloc(1, sizeof(*flat));

	*subs = NULL;
	*nsubs = 0;
	for (int pi = 0; pi < root->nkids; pi++) {
		struct tnode *p = root->kids[pi], *sub;
		int from = 0, n = 1;
		struct tnode **kids = &p;

		if (tkid(p, "compressed_packets")) {
			r->compressed++;
			sub = tc_inflate(p, r, pi);
			if (!sub)
				continue;
			*subs = realloc(*subs, (size_t)(*nsubs + 1) * sizeof(sub));
			(*subs)[(*nsubs)++] = sub;
			kids = sub->kids;
			n = sub->nkids;
		}
		flat->kids = realloc(flat->kids, (size_t)(flat->nkids + n + 1) * sizeof(p));
		for (; from < n; from++)
			flat->kids[flat->nkids++] = kids[from];
	}
	return flat;
}

static void tc_check_packets(const struct tnode *root, bool allow_open, struct tc_result *r);

static void tc_check(const struct tnode *root, bool allow_open, struct tc_result *r)
{
	struct tnode **subs, *flat;
	int nsubs, compressed, errors;
	char msgs[TC_MAX_ERRORS][sizeof(r->msgs[0])];

	memset(r, 0, sizeof(*r));
	flat = tc_flatten(root, r, &subs, &nsubs);
	/* tc_check_packets starts its result afresh: keep what inflating found */
	compressed = r->compressed;
	errors = r->errors;
	memcpy(msgs, r->msgs, sizeof(msgs));
	tc_check_packets(flat, allow_open, r);
	r->compressed = compressed;
	for (int i = 0; i < errors && i < TC_MAX_ERRORS; i++)
		tc_error(r, "%s", msgs[i]);
	for (int i = 0; i < nsubs; i++)
		tnode_free(subs[i]);
	free(subs);
	free(flat->kids);
	free(flat);
}

static void tc_check_packets(const struct tnode *root, bool allow_open, struct tc_result *r)
{
	struct tc_track *tracks = NULL;
	struct tc_ev *evs = NULL;
	struct tc_seq *seqs = calloc(TC_SEQ_MAX, sizeof(*seqs)), *q;
	int ntracks = 0, nseqs = 0;
	long nevs = 0, capevs = 0;
	bool boot_known = false;	/* a snapshot related MONOTONIC to BOOTTIME */

	memset(r, 0, sizeof(*r));
	r->ts_min = -1;
	for (int pi = 0; pi < root->nkids; pi++) {
		const struct tnode *p = root->kids[pi];
		long long pkt = pi, seq = 0, flags = 0, dropped = 0, ts = 0, raw_ts = 0, clock = 0;
		bool has_ts = tnum(p, "timestamp", &raw_ts), uses_interning = false;
		struct tnode *x;

		if (strcmp(p->name, "packet")) {
			tc_error(r, "top-level field '%s' is not a packet", p->name);
			continue;
		}
		r->packets++;
		if (!tnum(p, "trusted_packet_sequence_id", &seq) || seq == 0)
			tc_error(r, "packet %lld: no trusted_packet_sequence_id", pkt);
		q = tc_seq_get(seqs, &nseqs, seq);
		if (!q) {
			tc_error(r, "packet %lld: more than %d sequences", pkt, TC_SEQ_MAX);
			continue;
		}
		tnum(p, "sequence_flags", &flags);
		tnum(p, "previous_packet_dropped", &dropped);
		if (dropped) {
			r->loss_marks++;
			if (!(flags & 1))
				tc_error(r, "packet %lld: previous_packet_dropped without clearing the "
					 "incremental state: what follows would be skipped", pkt);
		}
		if (pi == 0 && !(flags & 1))
			tc_error(r, "the first packet does not clear the incremental state");
		if (flags & 1) {
			q->last_clear = pkt;
			q->clock_ok_since = -1;
			q->default_clock = 0;
			q->default_track = 0;
			q->nextra = 0;
		}
		if ((x = tkid(p, "trace_packet_defaults"))) {
			long long id = 0;
			struct tnode *ted = tkid(x, "track_event_defaults");

			if (q->last_clear < 0)
				tc_error(r, "packet %lld: packet defaults before any clear", pkt);
			if (tnum(x, "timestamp_clock_id", &id)) {
				q->clock_ok_since = pkt;
				q->default_clock = id;
			}
			if (id >= 64 && !q->clock_known && !tkid(p, "clock_snapshot"))
				tc_error(r, "packet %lld: clock %lld before its ClockSnapshot", pkt, id);
			if (ted) {
				q->default_track = tunum(ted, "track_uuid");
				for (int i = 0; i < ted->nkids; i++)
					if (!strcmp(ted->kids[i]->name, "extra_counter_track_uuids") &&
					    ted->kids[i]->value && q->nextra < TC_EXTRA_MAX)
						q->extra[q->nextra++] = strtoull(ted->kids[i]->value, NULL, 10);
			}
		}
		if ((x = tkid(p, "clock_snapshot"))) {
			bool boot = false, seqc = false, mono = false, incr = false;
			long long v64 = 0, vmono = 0;

			for (int i = 0; i < x->nkids; i++) {
				long long id = 0, v = 0;

				if (strcmp(x->kids[i]->name, "clocks") || !tnum(x->kids[i], "clock_id", &id))
					continue;
				tnum(x->kids[i], "timestamp", &v);
				boot |= id == 6;
				mono |= id == 3;
				if (id == 3)
					vmono = v;
				if (id == 64) {
					struct tnode *inc = tkid(x->kids[i], "is_incremental");

					seqc = true;
					v64 = v;
					incr = inc && inc->value && (!strcmp(inc->value, "true") ||
								     !strcmp(inc->value, "1"));
				}
			}
			if (mono && boot)
				boot_known = true;
			if (!boot && !(mono && boot_known))
				tc_error(r, "packet %lld: a ClockSnapshot related to neither BOOTTIME nor "
					 "(through an earlier one) MONOTONIC", pkt);
			if (seqc && !mono)
				tc_error(r, "packet %lld: clock 64 not related to MONOTONIC", pkt);
			if (seqc) {
				q->clock_known = true;
				q->incremental = incr;
				q->mono_minus_64 = vmono - v64;
				q->clock64 = v64;
			}
		}
		if ((x = tkid(p, "interned_data"))) {
			if (q->last_clear < 0)
				tc_error(r, "packet %lld: interned data before any clear", pkt);
			for (int i = 0; i < x->nkids; i++) {
				if (!strcmp(x->kids[i]->name, "event_names"))
					tc_intern_add(r, q->names, &q->nnames, x->kids[i], pkt, "event name");
				else if (!strcmp(x->kids[i]->name, "debug_annotation_names"))
					tc_intern_add(r, q->keys, &q->nkeys, x->kids[i], pkt,
						      "annotation name");
			}
		}
		/* the timestamp, in MONOTONIC ns */
		if (!tnum(p, "timestamp_clock_id", &clock))
			clock = q->clock_ok_since >= 0 ? q->default_clock : 0;
		if (has_ts && clock == 3) {
			ts = raw_ts;
		} else if (has_ts && clock == 64 && q->clock_known) {
			if (q->incremental)
				ts = (q->clock64 += raw_ts) + q->mono_minus_64;
			else
				ts = raw_ts + q->mono_minus_64;
		} else if (has_ts && tkid(p, "track_event")) {
			tc_error(r, "packet %lld: a timestamp on clock %lld, which the sequence does "
				 "not relate to MONOTONIC", pkt, clock);
		}
		if ((x = tkid(p, "track_descriptor"))) {
			struct tc_track t = { .uuid = tunum(x, "uuid"), .parent = tunum(x, "parent_uuid"),
					      .kind = TC_KIND_OTHER };
			struct tnode *sub;
			int found = -1;

			r->descriptors++;
			if ((sub = tkid(x, "process"))) {
				t.kind = TC_KIND_PROCESS;
				tnum(sub, "pid", &t.pid);
			} else if ((sub = tkid(x, "thread"))) {
				t.kind = TC_KIND_THREAD;
				tnum(sub, "pid", &t.pid);
			} else if (tkid(x, "counter")) {
				t.kind = TC_KIND_COUNTER;
			}
			if (!t.uuid)
				tc_error(r, "packet %lld: a track descriptor without uuid", pkt);
			for (int i = 0; i < ntracks; i++)
				if (tracks[i].uuid == t.uuid)
					found = i;
			if (found >= 0 && tracks[found].kind != t.kind)
				tc_error(r, "packet %lld: track %llu described again as another kind", pkt,
					 t.uuid);
			if (t.kind == TC_KIND_THREAD) {
				bool ok = false;

				for (int i = 0; i < ntracks; i++)
					ok |= tracks[i].uuid == t.parent && tracks[i].kind == TC_KIND_PROCESS &&
					      tracks[i].pid == t.pid;
				if (!ok)
					tc_error(r, "packet %lld: thread track %llu not under its process's "
						 "track", pkt, t.uuid);
			} else if (t.parent) {
				bool ok = false;

				for (int i = 0; i < ntracks; i++)
					ok |= tracks[i].uuid == t.parent;
				if (!ok)
					tc_error(r, "packet %lld: track %llu's parent %llu not described "
						 "before", pkt, t.uuid, t.parent);
			}
			if (found < 0) {
				tracks = realloc(tracks, (size_t)(ntracks + 1) * sizeof(*tracks));
				tracks[ntracks++] = t;
			} else {
				tracks[found] = t;
			}
		}
		if ((x = tkid(p, "track_event"))) {
			struct tc_ev e = { .ts = ts, .idx = pi };
			const struct tc_track *t = NULL;
			long long iid;
			struct tnode *tn = tkid(x, "type");

			r->track_events++;
			e.type = type_of(tn ? tn->value : NULL);
			e.track = tkid(x, "track_uuid") ? tunum(x, "track_uuid") : q->default_track;
			if (!e.track)
				tc_error(r, "packet %lld: a track event with no track (none in it, none "
					 "in the sequence's defaults)", pkt);
			if (!has_ts)
				tc_error(r, "packet %lld: a track event without timestamp", pkt);
			if (!tkid(p, "timestamp_clock_id") && q->clock_ok_since < 0)
				tc_error(r, "packet %lld: no clock for the timestamp (no packet defaults "
					 "since the last clear)", pkt);
			if (q->clock_ok_since >= 0 && !(flags & 2))
				tc_error(r, "packet %lld: a track event on a sequence with defaults, "
					 "without SEQ_NEEDS_INCREMENTAL_STATE", pkt);
			if (!e.type)
				tc_error(r, "packet %lld: a track event without type", pkt);
			for (int i = 0; i < ntracks; i++)
				if (tracks[i].uuid == e.track)
					t = &tracks[i];
			if (!t)
				tc_error(r, "packet %lld: track_uuid %llu not described before", pkt,
					 e.track);
			else if ((e.type == 4) != (t->kind == TC_KIND_COUNTER))
				tc_error(r, "packet %lld: %s on %s track %llu", pkt,
					 e.type == 4 ? "a counter value" : "a slice or instant",
					 t->kind == TC_KIND_COUNTER ? "a counter" : "a non-counter",
					 e.track);
			if (e.type == 4 && !tkid(x, "counter_value"))
				tc_error(r, "packet %lld: a counter event without value", pkt);
			if (tnum(x, "name_iid", &iid)) {
				const char *n = tc_interned(r, q->names, q->nnames,
							    (unsigned long long)iid, q->last_clear, pkt,
							    "event name");

				uses_interning = true;
				snprintf(e.name, sizeof(e.name), "%s", n ? n : "?");
			} else if ((tn = tkid(x, "name")) && tn->value) {
				snprintf(e.name, sizeof(e.name), "%s", tn->value);
			}
			for (int i = 0; i < x->nkids; i++) {
				const struct tnode *k = x->kids[i];

				if (!strcmp(k->name, "flow_ids") && k->value && e.nflows < 4)
					e.flows[e.nflows++] = strtoull(k->value, NULL, 10);
				else if (!strcmp(k->name, "terminating_flow_ids") && k->value && e.nends < 4)
					e.ends[e.nends++] = strtoull(k->value, NULL, 10);
				else if (!strcmp(k->name, "debug_annotations")) {
					const char *kn = NULL;

					if (tnum(k, "name_iid", &iid)) {
						kn = tc_interned(r, q->keys, q->nkeys,
								 (unsigned long long)iid, q->last_clear,
								 pkt, "annotation name");
						uses_interning = true;
					}
					if (kn && e.type == 3 && !strcmp(e.name, "msmvm-trace stats")) {
						long long v = 0;

						if (tnum(k, "uint_value", &v) || tnum(k, "int_value", &v))
							tc_bump(r->stats, &r->nstats, kn, v);
					}
				}
			}
			if (uses_interning && !(flags & 2))
				tc_error(r, "packet %lld: uses interned data without "
					 "SEQ_NEEDS_INCREMENTAL_STATE", pkt);
			if (e.type == 4)
				r->counters++;
			{	/* counter values carried by this event */
				unsigned long long xt[TC_EXTRA_MAX];
				int nxt = 0, nval = 0;

				for (int i = 0; i < x->nkids; i++)
					if (!strcmp(x->kids[i]->name, "extra_counter_track_uuids") &&
					    x->kids[i]->value && nxt < TC_EXTRA_MAX)
						xt[nxt++] = strtoull(x->kids[i]->value, NULL, 10);
				if (!nxt) {
					nxt = q->nextra;
					memcpy(xt, q->extra, sizeof(xt));
				}
				for (int i = 0; i < x->nkids; i++) {
					const struct tc_track *ct = NULL;

					if (strcmp(x->kids[i]->name, "extra_counter_values"))
						continue;
					if (nval >= nxt) {
						tc_error(r, "packet %lld: more extra counter values than "
							 "tracks", pkt);
						break;
					}
					for (int j = 0; j < ntracks; j++)
						if (tracks[j].uuid == xt[nval])
							ct = &tracks[j];
					if (!ct || ct->kind != TC_KIND_COUNTER)
						tc_error(r, "packet %lld: an extra counter value for track "
							 "%llu, not a counter track described before", pkt,
							 xt[nval]);
					nval++;
					r->counters++;
				}
			}
			if (!strcmp(e.name, "msmvm-trace stats"))
				r->has_stats = true;
			if (nevs == capevs)
				evs = realloc(evs, (size_t)(capevs = capevs ? capevs * 2 : 1024) *
							   sizeof(*evs));
			evs[nevs++] = e;
			if (r->ts_min < 0 || ts < r->ts_min)
				r->ts_min = ts;
			if (ts > r->ts_max)
				r->ts_max = ts;
		}
	}

	/*
	 * Slices and flows, in trace_processor's order. First, which begin each end closes
	 * in the order the file has them: sorted by time, each end must close the same one
	 * (slices that overlap without nesting on one track would pair up differently).
	 */
	long *file_pair = calloc((size_t)r->packets + 1, sizeof(long));
	{
		struct fstack {
			unsigned long long track;
			int depth;
			long idx[16];
		} *fs = calloc((size_t)ntracks + 1, sizeof(*fs));

		for (int i = 0; i < ntracks; i++)
			fs[i].track = tracks[i].uuid;
		for (long i = 0; i < nevs; i++) {
			struct fstack *s = NULL;

			for (int j = 0; j < ntracks; j++)
				if (fs[j].track == evs[i].track)
					s = &fs[j];
			if (!s)
				continue;
			if (evs[i].type == 1 && s->depth < 16)
				s->idx[s->depth++] = evs[i].idx;
			else if (evs[i].type == 2 && s->depth)
				file_pair[evs[i].idx] = s->idx[--s->depth] + 1;
		}
		free(fs);
	}
	if (nevs)
		qsort(evs, (size_t)nevs, sizeof(*evs), tc_ev_cmp);
	{
		struct stack {
			unsigned long long track;
			int depth;
			char names[16][64];
			long idx[16];
			long long ts[16];
		} *st = calloc((size_t)ntracks + 1, sizeof(*st));
		struct flow {
			unsigned long long id;
			long long start;
			bool ended;
		} *flows = calloc((size_t)nevs + 1, sizeof(*flows));
		long nfl = 0;

		for (int i = 0; i < ntracks; i++)
			st[i].track = tracks[i].uuid;
		for (long i = 0; i < nevs; i++) {
			struct tc_ev *e = &evs[i];
			struct stack *s = NULL;

			for (int j = 0; j < ntracks; j++)
				if (st[j].track == e->track)
					s = &st[j];
			if (!s)
				continue;
			if (e->type == 1) {
				if (s->depth < 16) {
					snprintf(s->names[s->depth], 64, "%s", e->name);
					s->idx[s->depth] = e->idx;
					s->ts[s->depth] = e->ts;
				}
				s->depth++;
			} else if (e->type == 2) {
				if (!s->depth) {
					tc_error(r, "track %llu: a slice ends at %lld with none open",
						 e->track, e->ts);
					continue;
				}
				s->depth--;
				if (s->depth < 16) {
					tc_bump(r->slices, &r->nslices, s->names[s->depth], 1);
					if (file_pair[e->idx] != s->idx[s->depth] + 1)
						tc_error(r, "track %llu: slices overlap: the end at %lld "
							 "closes '%s' begun at %lld, not the slice it was "
							 "written for", e->track, e->ts, s->names[s->depth],
							 s->ts[s->depth]);
				}
			} else if (e->type == 3) {
				tc_bump(r->instants, &r->ninstants, e->name, 1);
			}
			for (int f = 0; f < e->nflows; f++) {
				bool dup = false;

				for (long j = 0; j < nfl; j++)
					dup |= flows[j].id == e->flows[f];
				if (dup)
					tc_error(r, "flow %llu starts twice", e->flows[f]);
				else
					flows[nfl++] = (struct flow){ e->flows[f], e->ts, false };
			}
			for (int f = 0; f < e->nends; f++) {
				struct flow *fl = NULL;

				for (long j = 0; j < nfl; j++)
					if (flows[j].id == e->ends[f])
						fl = &flows[j];
				if (!fl)
					tc_error(r, "flow %llu ends at %lld without a start", e->ends[f],
						 e->ts);
				else if (fl->ended)
					tc_error(r, "flow %llu ends twice", e->ends[f]);
				else
					fl->ended = true;
			}
		}
		r->flows = nfl;
		for (int j = 0; j < ntracks; j++) {
			r->open_slices += st[j].depth;
			if (st[j].depth && !allow_open)
				tc_error(r, "track %llu: %d slice(s) never end ('%s')", st[j].track,
					 st[j].depth, st[j].names[0]);
		}
		free(st);
		free(flows);
	}
	free(file_pair);
	free(evs);
	free(tracks);
	for (int i = 0; i < nseqs; i++) {
		free(seqs[i].names);
		free(seqs[i].keys);
	}
	free(seqs);
}

/* The framing of the packet at off: its payload's start (*body) and end, or -1. */
static long long tc_packet_end(const unsigned char *d, long long n, long long off, long long *body)
{
	unsigned long long len = 0;
	long long p = off + 1;
	int shift = 0;

	if (off >= n || d[off] != 0x0a)
		return -1;
	while (p < n && (d[p] & 0x80) && shift < 63) {
		len |= (unsigned long long)(d[p] & 0x7f) << shift;
		shift += 7;
		p++;
	}
	if (p >= n)
		return -1;
	len |= (unsigned long long)(d[p] & 0x7f) << shift;
	p++;
	if ((unsigned long long)(n - p) < len)
		return -1;
	*body = p;
	return p + (long long)len;
}

/*
 * The checksum packets, against the file's bytes (d, n: the file protoc decoded into root):
 * each covers the bytes from the end of the previous one (0 for the first) to its own
 * start, as its offset and length say, with their CRC-32; protoc's packets are the file's,
 * in order. Adds to r's errors; sets r->checksums, r->uncovered and r->sealed.
 */
static void tc_check_checksums(const struct tnode *root, const unsigned char *d, long long n,
			       struct tc_result *r)
{
	long long off = 0, prev_end = 0, body, end;
	int pi = 0;

	r->checksums = 0;
	while ((end = tc_packet_end(d, n, off, &body)) >= 0) {
		const struct tnode *ck;

		if (pi >= root->nkids) {
			tc_error(r, "the file has more packets than protoc decoded (%d)", root->nkids);
			return;
		}
		ck = tkid(root->kids[pi], "msmvm_checksum");
		if (ck) {
			unsigned long long o = tunum(ck, "offset"), l = tunum(ck, "length");
			unsigned long long c = tunum(ck, "crc32");

			if ((long long)o != prev_end)
				tc_error(r, "packet %d: a checksum from byte %llu; the previous one ended "
					 "at %lld", pi, o, prev_end);
			else if ((long long)(o + l) != off)
				tc_error(r, "packet %d at byte %lld: a checksum of bytes %llu..+%llu, not "
					 "up to itself", pi, off, o, l);
			else if (crc32_z(0, d + o, (size_t)l) != c)
				tc_error(r, "packet %d: bytes %llu..+%llu have CRC-32 0x%08lx, the "
					 "checksum says 0x%08llx", pi, o, l, crc32_z(0, d + o, (size_t)l),
					 c);
			r->checksums++;
			prev_end = end;
		}
		off = end;
		pi++;
	}
	if (pi != root->nkids)
		tc_error(r, "protoc decoded %d packets, the file's framing has %d", root->nkids, pi);
	r->uncovered = n - prev_end;
	r->sealed = r->checksums && prev_end == n;
}

/* The length of the whole packets at the start of a file (what a cut file keeps). */
static long long tc_complete_prefix(const unsigned char *d, long long n)
{
	long long off = 0;

	while (off < n) {
		unsigned long long len = 0;
		long long p = off + 1;
		int shift = 0;

		if (d[off] != 0x0a)
			break;
		while (p < n && (d[p] & 0x80) && shift < 63) {
			len |= (unsigned long long)(d[p] & 0x7f) << shift;
			shift += 7;
			p++;
		}
		if (p >= n)
			break;
		len |= (unsigned long long)(d[p] & 0x7f) << shift;
		p++;
		if ((unsigned long long)(n - p) < len)
			break;
		off = p + (long long)len;
	}
	return off;
}

#endif
