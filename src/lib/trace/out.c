// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A trace file that is valid at every moment: bytes reach it only as whole groups (one
 * probe event's packets), each write() of whole groups; a short write (disk full) is cut
 * back to the last whole group, and nothing is written after an error. A recorder killed
 * with SIGKILL therefore leaves whole packets, and at worst one partial write.
 *
 * Perfetto files are covered by checksums: a write that would leave TR_CK_BYTES or more
 * without one, the first write and the last (at the close) end with a checksum packet, a
 * group of its own, holding the CRC-32 of every byte since the previous one. Readers find
 * damage by them; a killed recorder's file ends with at most TR_CK_BYTES (and one
 * write) that none covers.
 *
 * Compressed (tr_out_deflate), a write's whole groups go out as one compressed_packets
 * packet (kept as they are when that would not be smaller), then its checksum: the group
 * is then that packet, and a short write loses the packet whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h>

#include "internal.h"

static bool buf_reserve(struct tr_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->oom)
		return false;
	if (b->len + n <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void tr_buf_put(struct tr_buf *b, const void *p, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void tr_buf_printf(struct tr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int tries = 0; tries < 2; tries++) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->cap ? (char *)b->p + b->len : NULL, b->cap ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (!buf_reserve(b, (size_t)n + 1))
			return;
	}
}

int tr_out_open(struct tr_out *o, const char *path, uint64_t limit, struct msmvm_err *err)
{
	memset(o, 0, sizeof(*o));
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0)
		return msmvm_fail(err, MSMVM_E_RUNTIME, errno, "cannot create %s: %s", path,
				  strerror(errno));
	o->path = strdup(path);
	o->limit = limit;
	return 0;
}

/* Room for one more group end in bounds: 0 or -ENOMEM. */
static int bounds_room(struct tr_out *o)
{
	size_t cap;
	size_t *p;

	if (o->nbounds < o->capbounds)
		return 0;
	cap = o->capbounds ? o->capbounds * 2 : 256;
	p = realloc(o->bounds, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	o->bounds = p;
	o->capbounds = cap;
	return 0;
}

static int out_flush(struct tr_out *o, bool last);

/*
 * Compressed, the pending groups take less room once written: write them, and say whether
 * the open group fits after them (its packets counted whole, with room for the packet that
 * would hold it and a checksum packet).
 */
static bool fits_compressed(struct tr_out *o, size_t group)
{
	if (!o->deflate || !o->committed || out_flush(o, false))
		return false;
	return o->written + group + 64 <= o->limit;
}

int tr_out_commit(struct tr_out *o, bool ignore_limit)
{
	size_t group = o->buf.len - o->committed;

	if (o->err || o->full || o->buf.oom) {
		tr_out_abort(o);
		if (o->buf.oom && !o->err)
			o->err = -ENOMEM;
		return o->err ? o->err : 1;
	}
	if (!group)
		return 0;
	if (!ignore_limit && o->limit && o->written + o->committed + group > o->limit &&
	    !fits_compressed(o, group)) {
		if (o->err) {
			tr_out_abort(o);
			return o->err;
		}
		o->full = true;
		tr_out_abort(o);
		return 1;
	}
	if (bounds_room(o)) {
		tr_out_abort(o);
		o->err = -ENOMEM;
		return o->err;
	}
	o->committed = o->buf.len;
	o->bounds[o->nbounds++] = o->committed;
	if (o->committed >= 64 * 1024)
		return tr_out_flush(o);
	return 0;
}

void tr_out_abort(struct tr_out *o)
{
	o->buf.len = o->committed;
}

/* After a short write of n bytes: keep whole groups only, in the file and in the buffer. */
static void cut_back(struct tr_out *o, size_t n)
{
	size_t keep = 0;

	for (size_t i = 0; i < o->nbounds && o->bounds[i] <= n; i++)
		keep = o->bounds[i];
	if (keep < n && ftruncate(o->fd, (off_t)(o->written + keep)) == 0)
		lseek(o->fd, (off_t)(o->written + keep), SEEK_SET);
	else if (keep < n)
		keep = n;	/* cannot cut: the reader stops at the partial packet */
	o->written += keep;
}

/*
 * The checksum of [ck_start, end) (end: where the committed bytes end in the file), as a
 * group of its own after them (before the open group, if any). False when there is no
 * memory for it: the next checksum covers these bytes too.
 */
static bool add_checksum(struct tr_out *o, uint64_t end)
{
	size_t at = o->buf.len, open_len = at - o->committed, n;
	uint8_t pkt[64];

	if (bounds_room(o))
		return false;
	o->checksum(&o->buf, o->ck_start, end - o->ck_start, o->ck_crc);
	n = o->buf.len - at;
	if (o->buf.oom || n > sizeof(pkt)) {
		o->buf.len = at;
		return false;
	}
	if (open_len) {
		memcpy(pkt, o->buf.p + at, n);
		memmove(o->buf.p + o->committed + n, o->buf.p + o->committed, open_len);
		memcpy(o->buf.p + o->committed, pkt, n);
	}
	o->committed += n;
	o->bounds[o->nbounds++] = o->committed;
	return true;
}

int tr_out_deflate(struct tr_out *o, int level)
{
	o->deflate = libdeflate_alloc_compressor(level);
	return o->deflate ? 0 : -ENOMEM;
}

/*
 * The committed groups as one packet holding them compressed, in their place (the open
 * group moved up behind it); false, and nothing changed, when that is not smaller or
 * there is no memory for it.
 */
static bool deflate_committed(struct tr_out *o)
{
	size_t n = o->committed, bound, zlen, hl = 0, il = 0, open_len = o->buf.len - n;
	uint8_t hdr[24], inner[12], *z;

	bound = libdeflate_zlib_compress_bound(o->deflate, n);
	z = malloc(bound);
	if (!z)
		return false;
	zlen = libdeflate_zlib_compress(o->deflate, o->buf.p, n, z, bound);
	/* Trace.packet { TracePacket.compressed_packets = z } */
	il += pb_varint_at(inner + il, (uint64_t)TR_PKT_COMPRESSED << 3 | PB_LEN);
	il += pb_varint_at(inner + il, zlen);
	hdr[hl++] = 1 << 3 | PB_LEN;
	hl += pb_varint_at(hdr + hl, il + zlen);
	if (!zlen || hl + il + zlen >= n) {
		free(z);
		return false;
	}
	memcpy(o->buf.p, hdr, hl);
	memcpy(o->buf.p + hl, inner, il);
	memcpy(o->buf.p + hl + il, z, zlen);
	free(z);
	o->committed = hl + il + zlen;
	memmove(o->buf.p + o->committed, o->buf.p + n, open_len);
	o->buf.len = o->committed + open_len;
	o->bounds[0] = o->committed;
	o->nbounds = 1;
	return true;
}

static int out_flush(struct tr_out *o, bool last)
{
	size_t off = 0, open_len, raw = o->committed;
	bool checksummed = false;

	if (o->err)
		return o->err;
	if (o->deflate && o->committed)
		deflate_committed(o);
	if (o->checksum) {
		uint64_t end = o->written + o->committed;

		if (o->committed)
			o->ck_crc = (uint32_t)crc32_z(o->ck_crc, o->buf.p, o->committed);
		if (end > o->ck_start && (last || !o->ck_start || end - o->ck_start >= TR_CK_BYTES))
			checksummed = add_checksum(o, end);
	}
	open_len = o->buf.len - o->committed;
	while (off < o->committed) {
		ssize_t n = write(o->fd, o->buf.p + off, o->committed - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->err = n < 0 ? -errno : -ENOSPC;
			cut_back(o, off);
			o->buf.len = o->committed = 0;
			o->nbounds = 0;
			return o->err;
		}
		off += (size_t)n;
	}
	o->written += o->committed;
	o->raw_written += raw;
	if (checksummed) {
		o->ck_start = o->written;
		o->ck_crc = 0;
	}
	memmove(o->buf.p, o->buf.p + o->committed, open_len);
	o->buf.len = open_len;
	o->committed = 0;
	o->nbounds = 0;
	return 0;
}

int tr_out_flush(struct tr_out *o)
{
	return out_flush(o, false);
}

int tr_out_close(struct tr_out *o)
{
	int ret = out_flush(o, true);

	if (o->fd >= 0) {
		if (!ret && fsync(o->fd) && errno != EINVAL && errno != EROFS)
			ret = o->err = -errno;
		if (close(o->fd) && !ret)
			ret = o->err = -errno;
		o->fd = -1;
	}
	free(o->buf.p);
	free(o->bounds);
	free(o->path);
	libdeflate_free_compressor(o->deflate);
	o->deflate = NULL;
	o->buf.p = NULL;
	o->bounds = NULL;
	o->path = NULL;
	return ret;
}
