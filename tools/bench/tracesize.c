// SPDX-License-Identifier: GPL-2.0
/*
 * tracesize: where the bytes of an msmvm-trace Perfetto file go, for make bench.
 *
 *   tracesize FILE    one JSON object on stdout
 *
 * Walks the protobuf wire format (no schema needed): every top-level TracePacket is
 * classified by what it carries (track_event by its type: slice begin / end / instant /
 * counter; track_descriptor; anything else), and the bytes of the track_event packets are
 * split by field: the packet's own framing, timestamp, sequence id and flags, interned
 * data, the TrackEvent's framing, type/track/name, debug annotations, flows, counter value.
 * A packet of compressed packets (TracePacket field 50, a zlib stream framed as a Trace) is
 * inflated and its packets walked in its place: the breakdown is of the packets before
 * compression; "bytes" is the file's size, "packet_bytes" the packets' before compression.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { K_BEGIN, K_END, K_INSTANT, K_COUNTER, K_DESCRIPTOR, K_OTHER, K_N };
static const char *const kind_names[K_N] = {
	"slice_begin", "slice_end", "instant", "counter", "track_descriptor", "other",
};

enum { P_FRAMING, P_TIMESTAMP, P_SEQUENCE, P_INTERNED, P_TE_FRAMING, P_TE_HEAD, P_ANNOT,
       P_FLOW, P_COUNTER, P_REST, P_N };
static const char *const part_names[P_N] = {
	"packet_framing", "timestamp", "sequence_id_and_flags", "interned_data",
	"track_event_framing", "type_track_name", "debug_annotations", "flows",
	"counter_value", "other_fields",
};

struct field {
	uint32_t num;
	int wire;
	uint64_t v;		/* varint value, or length of a length-delimited field */
	const uint8_t *data;	/* length-delimited: its payload */
	size_t size;		/* the whole field: tag, length and payload */
};

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* The next field of [*p, end), or -1 at a malformed one. */
static int next_field(const uint8_t **p, const uint8_t *end, struct field *f)
{
	const uint8_t *start = *p;
	uint64_t tag;

	if (varint(p, end, &tag))
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wire = (int)(tag & 7);
	f->data = NULL;
	switch (f->wire) {
	case 0:
		if (varint(p, end, &f->v))
			return -1;
		break;
	case 1:
		if (end - *p < 8)
			return -1;
		*p += 8;
		break;
	case 2:
		if (varint(p, end, &f->v) || f->v > (uint64_t)(end - *p))
			return -1;
		f->data = *p;
		*p += f->v;
		break;
	case 5:
		if (end - *p < 4)
			return -1;
		*p += 4;
		break;
	default:
		return -1;
	}
	f->size = (size_t)(*p - start);
	return 0;
}

struct acc {
	uint64_t kind_packets[K_N], kind_bytes[K_N], part[P_N];
	uint64_t annotations, te_packets, packet_bytes, compressed;
};

static int walk(const uint8_t *buf, const uint8_t *end, struct acc *a, int depth);

/* A compressed_packets field: inflated, its packets walked (0, or -1 when it does not inflate). */
static int inflate_walk(const struct field *fl, struct acc *a, int depth)
{
	z_stream zs = { 0 };
	size_t cap = fl->v * 4 + 4096, len = 0;
	uint8_t *out = malloc(cap);
	int zr, ret = -1;

	if (!out || depth || inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK)
		return free(out), -1;
	zs.next_in = (Bytef *)fl->data;
	zs.avail_in = (uInt)fl->v;
	do {
		if (len == cap) {
			uint8_t *q = realloc(out, cap *= 2);

			if (!q)
				break;
			out = q;
		}
		zs.next_out = out + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	} while (zr == Z_OK);
	inflateEnd(&zs);
	if (zr == Z_STREAM_END)
		ret = walk(out, out + len, a, depth + 1);
	free(out);
	return ret;
}

static int walk(const uint8_t *buf, const uint8_t *end, struct acc *a, int depth)
{
	const uint8_t *p = buf;

	while (p < end) {
		struct field pkt, fl;
		const uint8_t *q, *qend;
		uint64_t te_type = 0, parts[P_N] = { 0 };
		int kind = K_OTHER;
		bool compressed = false;

		if (next_field(&p, end, &pkt) || pkt.num != 1 || pkt.wire != 2) {
			fprintf(stderr, "tracesize: not a trace at byte %zu%s\n", (size_t)(p - buf),
				depth ? " of a compressed packet" : "");
			return -1;
		}
		parts[P_FRAMING] = pkt.size - pkt.v;
		for (q = pkt.data, qend = q + pkt.v; q < qend;) {
			if (next_field(&q, qend, &fl))
				return fprintf(stderr, "tracesize: bad packet\n"), -1;
			switch (fl.num) {
			case 50:
				if (fl.wire != 2 || inflate_walk(&fl, a, depth))
					return fprintf(stderr, "tracesize: compressed packets that do "
						       "not inflate\n"), -1;
				compressed = true;
				break;
			case 8:
			case 58:	/* a timestamp's own clock */
				parts[P_TIMESTAMP] += fl.size;
				break;
			case 10:
			case 13:
				parts[P_SEQUENCE] += fl.size;
				break;
			case 12:
				parts[P_INTERNED] += fl.size;
				break;
			case 60:
				kind = K_DESCRIPTOR;
				parts[P_REST] += fl.size;
				break;
			case 11: {
				const uint8_t *r = fl.data, *rend = fl.data + fl.v;
				struct field tf;

				parts[P_TE_FRAMING] += fl.size - fl.v;
				while (r < rend) {
					if (next_field(&r, rend, &tf))
						return fprintf(stderr, "tracesize: bad event\n"), 1;
					if (tf.num == 9)
						te_type = tf.v;
					if (tf.num == 9 || tf.num == 10 || tf.num == 11)
						parts[P_TE_HEAD] += tf.size;
					else if (tf.num == 4)
						parts[P_ANNOT] += tf.size, a->annotations++;
					else if (tf.num == 47 || tf.num == 48)
						parts[P_FLOW] += tf.size;
					else if (tf.num == 30 || tf.num == 12)	/* + extra values */
						parts[P_COUNTER] += tf.size;
					else
						parts[P_REST] += tf.size;
				}
				kind = te_type == 1 ? K_BEGIN : te_type == 2 ? K_END
				     : te_type == 3 ? K_INSTANT : te_type == 4 ? K_COUNTER : K_OTHER;
				break;
			}
			default:
				parts[P_REST] += fl.size;
			}
		}
		if (compressed) {
			a->compressed++;
			continue;
		}
		a->packet_bytes += pkt.size;
		a->kind_packets[kind]++;
		a->kind_bytes[kind] += pkt.size;
		if (kind <= K_COUNTER) {
			a->te_packets++;
			for (int i = 0; i < P_N; i++)
				a->part[i] += parts[i];
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct acc a = { 0 };
	size_t size = 0, cap = 1 << 20, n;
	uint8_t *data;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: tracesize FILE\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	data = malloc(cap);
	while (data && (n = fread(data + size, 1, cap - size, f)) > 0) {
		size += n;
		if (size == cap)
			data = realloc(data, cap *= 2);
	}
	fclose(f);
	if (!data) {
		fprintf(stderr, "tracesize: out of memory\n");
		return 1;
	}
	if (walk(data, data + size, &a, 0)) {
		fprintf(stderr, "tracesize: %s: cannot be walked\n", argv[1]);
		return 1;
	}
	printf("{\"bytes\":%zu,\"packet_bytes\":%llu,\"compressed_packets\":%llu,"
	       "\"track_event_packets\":%llu,\"annotations\":%llu,\"kinds\":{", size,
	       (unsigned long long)a.packet_bytes, (unsigned long long)a.compressed,
	       (unsigned long long)a.te_packets, (unsigned long long)a.annotations);
	for (int i = 0; i < K_N; i++)
		printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", i ? "," : "", kind_names[i],
		       (unsigned long long)a.kind_packets[i], (unsigned long long)a.kind_bytes[i]);
	printf("},\"track_event_bytes\":{");
	for (int i = 0; i < P_N; i++)
		printf("%s\"%s\":%llu", i ? "," : "", part_names[i], (unsigned long long)a.part[i]);
	printf("}}\n");
	free(data);
	return 0;
}
