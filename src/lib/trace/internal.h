/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internals of msmvm's traces. A trace is built in three layers:
 *
 *   trace/build.c   msmvm events -> tracks, slices, instants, counters, flows (one
 *                   "group" of trace events per probe event)
 *   trace/pb.c      the Perfetto protobuf encoding of those (trace/json.c: Chrome JSON)
 *   trace/out.c     the file: whole groups per write(), size limit, cut back on errors
 *
 * and read back by trace/read.c (protobuf -> the same trace events) and trace/replay.c
 * (trace events -> msmvm-stat's counters and histograms).
 */
#ifndef MSMVM_LIB_TRACE_INTERNAL_H
#define MSMVM_LIB_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msmvm/trace.h"

/* ---- the vocabulary: event names and annotation keys (their interning ids) ---- */

enum tr_name {
	TN_NONE,
	TN_VM_BIND,		/* the ioctl, on the calling thread */
	TN_WAIT,		/* the throttle's sleep, nested in it */
	TN_WAIT_INTR,		/* the throttle returned -ERESTARTSYS */
	TN_JOB,			/* a job's lifetime: bind return to free, on its VM */
	TN_JOB_FREED_IOCTL,	/* a job freed on the ioctl's error path (never queued) */
	TN_JOB_FREED,		/* a job freed with no known start (before its bind returned) */
	TN_DRIFT,		/* a free that left in_flight off by this job's drift */
	TN_RECORDING,		/* the header: what was probed */
	TN_LOST,		/* events lost in the ring buffer since the last mark */
	TN_STATS,		/* the trailer: counts, drops, probe health */
	TN_COUNT_,
};

enum tr_key {
	TK_NONE,
	TK_VM, TK_NR_OPS, TK_QUEUE_ID, TK_PAGES_COUNTED, TK_RET,
	TK_COUNTED, TK_USED, TK_UNUSED, TK_DRIFT, TK_VM_DRIFT,
	TK_TARGET, TK_PLAN, TK_REASON, TK_ARCH, TK_VERSION,
	TK_DROPPED, TK_DROPPED_TOTAL, TK_EVENTS,
	TK_OPS,			/* VM_BIND: its ops, "KIND:IOVA:RANGE ..." (msmvm-sim count's syntax) */
	TK_OPS_INCOMPLETE,	/* VM_BIND: instead, when some of its ops records were lost */
	TK_THROTTLE_LIMIT,	/* header: the limit in force (pages) */
	TK_OPS_RECORDED,	/* header: 1 when the binds carry their ops */
	TK_THROTTLE_AT,		/* VM_BIND that did not sleep: entry to the throttle check, ns */
	TK_HEALTH_,		/* then one per msmvm_health_id, named as msmvm_health_name() */
	TK_COUNT_ = TK_HEALTH_ + MSMVM_H_COUNT_,
};

/* The unit of a VM_BIND's ops in the short form of the "ops" argument (build.c). */
#define TR_OP_PAGE 4096ULL

const char *tr_name_str(int name);
const char *tr_key_str(int key);
int tr_name_lookup(const char *s);	/* TN_NONE if unknown */
int tr_key_lookup(const char *s);

/* ---- trace events, between the layers ---- */

enum tr_track_kind { TT_GLOBAL, TT_PROCESS, TT_THREAD, TT_LANE, TT_COUNTER };

struct tr_track {
	uint64_t uuid, parent;
	enum tr_track_kind kind;
	uint32_t pid, tid;
	char name[80];		/* process/thread: comm; lane and counter: "VM 0x… …" */
	uint64_t counter;	/* lanes: the VM's in_flight counter, sampled on the lane's events */
};

enum tr_arg_type { TA_INT, TA_UINT, TA_PTR, TA_STR };

struct tr_arg {
	uint16_t key;		/* enum tr_key */
	uint8_t type;		/* enum tr_arg_type */
	union {
		int64_t i;
		uint64_t u;
		const char *s;
	};
};

enum tr_ev_type { TE_BEGIN = 1, TE_END = 2, TE_INSTANT = 3, TE_COUNTER = 4 };

#define TR_MAX_ARGS (TK_COUNT_)

struct tr_ev {
	enum tr_ev_type type;
	uint64_t track;
	uint64_t ts;		/* CLOCK_MONOTONIC ns */
	int name;		/* enum tr_name (BEGIN, INSTANT) */
	int64_t value;		/* COUNTER */
	uint64_t flow_out;	/* a flow starts (or passes) here, 0: none */
	uint64_t flow_in;	/* a flow ends here, 0: none */
	/* a counter value read at the same time (writers: folded into the event where the
	 * format can; readers deliver it as a TE_COUNTER event of its own, just before) */
	uint64_t extra_track;	/* 0: none */
	int64_t extra_value;
	uint64_t home;		/* the thread or lane whose sequence carries it (0: its own track) */
	int nargs;
	struct tr_arg args[TR_MAX_ARGS];
};

/* ---- the output file ---- */

struct tr_buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

void tr_buf_put(struct tr_buf *b, const void *p, size_t n);
void tr_buf_printf(struct tr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct tr_out {
	int fd;
	char *path;
	struct tr_buf buf;	/* committed groups not yet written, then the open group */
	size_t committed;	/* bytes of buf that are whole groups */
	size_t *bounds;		/* group ends within buf, to cut back a short write */
	size_t nbounds, capbounds;
	uint64_t written;	/* bytes in the file */
	uint64_t limit;		/* 0: none */
	int err;		/* the first write error (-errno), then nothing is written */
	bool full;		/* the size limit was reached */
	/* Perfetto files: a checksum packet (tr_pb_checksum) before a write once TR_CK_BYTES
	 * are not covered, at the first write and at the close; NULL: none (JSON) */
	void (*checksum)(struct tr_buf *b, uint64_t offset, uint64_t length, uint32_t crc);
	uint64_t ck_start;	/* the end of the last checksum packet in the file */
	uint32_t ck_crc;	/* CRC-32 of the file's bytes from ck_start to `written` */
	/* Perfetto files: each write's packets as one compressed_packets packet (tr_out_deflate);
	 * NULL: as they are */
	struct libdeflate_compressor *deflate;
	uint64_t raw_written;	/* the packets' own bytes in the file, before compression */
};

/*
 * TracePacket.compressed_packets: Perfetto's own trace compression (its service's
 * COMPRESSION_TYPE_DEFLATE), a zlib stream of packets framed as a Trace; trace_processor
 * inflates it and reads the packets in its place.
 */
#define TR_PKT_COMPRESSED 50
/* Compress from now on (level: libdeflate's, 1 fastest); 0 or -ENOMEM. */
int tr_out_deflate(struct tr_out *o, int level);

/* Bytes a write leaves without a checksum, at most (more only until the next write). */
#define TR_CK_BYTES 4096

int tr_out_open(struct tr_out *o, const char *path, uint64_t limit, struct msmvm_err *err);
/* End the open group; 1 if it would pass the limit (it is dropped: the file stays whole). */
int tr_out_commit(struct tr_out *o, bool ignore_limit);
void tr_out_abort(struct tr_out *o);	/* drop the open group */
int tr_out_flush(struct tr_out *o);	/* 0 or -errno (the file keeps its whole groups) */
int tr_out_close(struct tr_out *o);	/* the last checksum, flush, close */

/* ---- backends: encode trace events into the open group ---- */

struct tr_header {
	uint64_t t0_ns;		/* MONOTONIC origin of the trace's clock */
	uint64_t mono_ns, boot_ns;	/* a pair of readings taken together */
	const struct msmvm_plan *plan;
};

struct tr_backend {
	void (*header)(void *be, struct tr_buf *b, const struct tr_header *h);
	void (*track)(void *be, struct tr_buf *b, const struct tr_track *t);
	void (*event)(void *be, struct tr_buf *b, const struct tr_ev *e);
	/* the next packet restarts interning; dropped: it also says packets were lost */
	void (*restart)(void *be, bool dropped);
	void (*clock)(void *be, struct tr_buf *b, uint64_t mono_ns, uint64_t boot_ns);
	void (*trailer)(void *be, struct tr_buf *b);
	void (*destroy)(void *be);
	uint64_t nevents;	/* trace events encoded */
};

void *tr_pb_new(struct tr_backend *ops);
void *tr_json_new(struct tr_backend *ops);

/*
 * The checksum packet: a TracePacket on the recorder's sequence whose only other field is
 * msmvm's own TR_PKT_CHECKSUM (a field number Perfetto's TracePacket does not use, so
 * trace_processor and the UI skip it), a message of TR_CK_OFFSET and TR_CK_LENGTH (varints)
 * and TR_CK_CRC32 (fixed32): the CRC-32 (zlib's) of the file's bytes [offset, offset +
 * length), which end where the packet starts and begin where the previous one ended (0 for
 * the first).
 */
#define TR_PKT_CHECKSUM 777
enum { TR_CK_OFFSET = 1, TR_CK_LENGTH = 2, TR_CK_CRC32 = 3 };
void tr_pb_checksum(struct tr_buf *b, uint64_t offset, uint64_t length, uint32_t crc);

/* ---- protobuf primitives (the encoder and the reader share the wire format) ---- */

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

void pb_varint(struct tr_buf *b, uint64_t v);
size_t pb_varint_at(uint8_t *p, uint64_t v);	/* into p (room for 10 bytes): its length */
void pb_tag(struct tr_buf *b, uint32_t field, int wire);
size_t pb_begin(struct tr_buf *b, uint32_t field);	/* a length-delimited field */
void pb_end(struct tr_buf *b, size_t mark);
/* Read a varint at *p (< end): the value, or -1 when it does not fit (truncated or bad). */
int pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* ---- a small hash map, two 64-bit words of key ---- */

struct tr_map_ent {
	uint64_t k1, k2;
	void *v;
	bool used;
};

struct tr_map {
	struct tr_map_ent *e;
	size_t cap, n;
};

void *tr_map_get(const struct tr_map *m, uint64_t k1, uint64_t k2);
int tr_map_put(struct tr_map *m, uint64_t k1, uint64_t k2, void *v);	/* 0 or -ENOMEM */
void *tr_map_del(struct tr_map *m, uint64_t k1, uint64_t k2);
void tr_map_free(struct tr_map *m, void (*fn)(void *));

/* ---- the builder: one probe event in, one group of trace events out ---- */

struct tr_build;

struct tr_build *tr_build_new(struct tr_backend *ops, void *be, uint64_t t0_ns);
void tr_build_free(struct tr_build *tb);
/* The header: clocks, the recorder's track, what was probed. */
void tr_build_begin(struct tr_build *tb, struct tr_buf *b, const struct msmvm_plan *plan);
/* Encode the trace events of one probe event into b (the caller commits the group). */
void tr_build_event(struct tr_build *tb, struct tr_buf *b, const struct msmvm_event *e);
void tr_build_lost(struct tr_build *tb, struct tr_buf *b, uint64_t ts, uint64_t lost,
		   uint64_t total);
/* Deferred frees, and jobs still in flight (begun, never ended). */
void tr_build_finish_jobs(struct tr_build *tb, struct tr_buf *b);
/* The final stats instant (events, drops, probe health), then the format's trailer. */
void tr_build_stats(struct tr_build *tb, struct tr_buf *b, uint64_t ts, uint64_t events,
		    uint64_t dropped, const uint64_t *health);

/* Internal event type in the flight recorder's memory: ring-buffer drops reported then. */
#define TR_EV_LOST 0x100

/* The flight recorder's window is kept in chunks of this size, each its own mapping. */
#define TR_RING_CHUNK_BYTES (64u << 10)
/* The memory it holds now: its chunks, the one kept aside for reuse included. */
uint64_t tr_ring_bytes(const struct msmvm_trace_ring *r);

/* ---- reading ---- */

struct tr_reader_cb {
	void *ctx;
	void (*track)(void *ctx, const struct tr_track *t);
	/* interned names resolved to this vocabulary (others: TN_NONE, arguments left out);
	 * ts in CLOCK_MONOTONIC ns; strings live until the callback returns */
	void (*event)(void *ctx, const struct tr_ev *e);
	void (*dropped)(void *ctx);	/* a packet with previous_packet_dropped */
};

struct tr_read_info {
	uint64_t packets, bytes;
	bool truncated;		/* the file ends inside a packet (cut short) */
	bool checksummed;	/* it has checksum packets (written since they exist) */
	uint64_t checksums;	/* ... that matched */
	uint64_t unverified;	/* bytes at its end that no checksum covers (a recorder killed) */
	uint64_t damaged;	/* damaged byte ranges (the first ones in damage[]) */
	struct msmvm_trace_damage damage[MSMVM_TRACE_DAMAGE_MAX];
};

/*
 * Read a trace, packet by packet, into cb; checksums are verified as they come. A damaged
 * range is an error (naming the range) unless flags has MSMVM_TRACE_READ_IGNORE_DAMAGE:
 * then it is listed in info and reading goes on (a range that does not parse is skipped
 * up to the next checksum packet).
 */
int tr_read_file(const char *path, unsigned int flags, const struct tr_reader_cb *cb,
		 struct tr_read_info *info, struct msmvm_err *err);
/* What a reader tells its caller about checksums and damage, into the public info. */
void tr_read_info_copy(struct msmvm_trace_info *in, const struct tr_read_info *ri);
/* s (in a buffer of cap bytes) as valid UTF-8: U+FFFD for every byte that starts no valid
 * sequence, cut at a character's end when that does not fit */
void tr_utf8_fix(char *s, size_t cap);

/* An event's argument by key, NULL if absent; a numeric one, dflt if absent or a string. */
const struct tr_arg *tr_ev_arg(const struct tr_ev *e, int key);
int64_t tr_ev_num(const struct tr_ev *e, int key, int64_t dflt);
/*
 * What the recorder's own instants say, into *in: the header (TN_RECORDING: the plan, the
 * limit, whether ops were recorded), loss marks (TN_LOST) and the final stats (TN_STATS:
 * finished, drops, probe health). Returns the instant's name, TN_NONE for any other event.
 */
int tr_info_from_event(struct msmvm_trace_info *in, const struct tr_ev *e);

int msmvm_fail(struct msmvm_err *err, enum msmvm_err_kind kind, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
