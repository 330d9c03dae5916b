// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A few structs out of the running kernel's BTF without parsing all of it. libbpf's
 * btf__load_vmlinux_btf() reads the ~5 MiB file into one buffer, copies it into another and
 * indexes its ~130 000 types: about 11 MiB at once, most of a tool's peak resident size, for
 * the three structs the model flavor relocates against. Here the raw file is walked in
 * place (mapped read-only where the kernel allows it, which it keeps out of the process's
 * resident size; read once otherwise), with an offset index, and only the closure is
 * written out, as a small BTF libbpf then parses.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <linux/btf.h>

#include "btf_merge.h"
#include "btf_slice.h"

struct raw_btf {
	const unsigned char *types;	/* the type section */
	const char *strs;
	__u32 types_len, strs_len;
	__u32 *off;			/* type id -> offset in types (id 0: void, unused) */
	__u32 cnt;			/* ids 1..cnt - 1 */
};

struct out_buf {
	unsigned char *p;
	size_t len, cap;
};

struct slice {
	const struct raw_btf *src;
	__u32 *map;			/* src id -> slice id; 0: not copied yet */
	__u32 *fwd;			/* src id -> the slice's forward declaration of it */
	__u32 next_id;
	struct out_buf types, strs;
	int err;
};

/* Bytes a type takes (its btf_type and what follows), or 0 for a kind not known. */
static size_t type_size(const struct btf_type *t)
{
	size_t base = sizeof(*t);
	__u16 vlen = btf_vlen(t);

	switch (btf_kind(t)) {
	case BTF_KIND_FWD: case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT:
	case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_FUNC: case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return base;
	case BTF_KIND_INT:
		return base + sizeof(__u32);
	case BTF_KIND_ENUM:
		return base + vlen * sizeof(struct btf_enum);
	case BTF_KIND_ENUM64:
		return base + vlen * sizeof(struct btf_enum64);
	case BTF_KIND_ARRAY:
		return base + sizeof(struct btf_array);
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		return base + vlen * sizeof(struct btf_member);
	case BTF_KIND_FUNC_PROTO:
		return base + vlen * sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return base + sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return base + vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return base + sizeof(struct btf_decl_tag);
	default:
		return 0;
	}
}

static const struct btf_type *raw_type(const struct raw_btf *r, __u32 id)
{
	return id && id < r->cnt ? (const struct btf_type *)(r->types + r->off[id]) : NULL;
}

static const char *raw_str(const struct raw_btf *r, __u32 off)
{
	return off < r->strs_len ? r->strs + off : NULL;
}

/* Check the header and index the types. 0 or -errno. */
static int raw_index(struct raw_btf *r, const unsigned char *data, size_t size)
{
	const struct btf_header *h = (const void *)data;
	size_t pos, n = 1;

	if (size < sizeof(*h) || h->magic != BTF_MAGIC || h->hdr_len < sizeof(*h) ||
	    h->hdr_len > size || (size_t)h->type_off + h->type_len > size - h->hdr_len ||
	    (size_t)h->str_off + h->str_len > size - h->hdr_len || h->type_off % 4 ||
	    !h->str_len || data[h->hdr_len + h->str_off + h->str_len - 1])
		return -EINVAL;
	r->types = data + h->hdr_len + h->type_off;
	r->types_len = h->type_len;
	r->strs = (const char *)data + h->hdr_len + h->str_off;
	r->strs_len = h->str_len;
	/* counted first, then indexed: the index is exactly the size it needs */
	for (pos = 0; pos < r->types_len; n++) {
		const struct btf_type *t = (const void *)(r->types + pos);
		size_t sz = pos + sizeof(*t) <= r->types_len ? type_size(t) : 0;

		if (!sz || pos + sz > r->types_len || n >= UINT32_MAX)
			return -EINVAL;
		pos += sz;
	}
	r->off = malloc(n * sizeof(*r->off));
	if (!r->off)
		return -ENOMEM;
	r->off[0] = 0;	/* void */
	n = 1;
	for (pos = 0; pos < r->types_len; pos += type_size((const void *)(r->types + pos)))
		r->off[n++] = (__u32)pos;
	r->cnt = (__u32)n;
	return 0;
}

static void *out_grow(struct slice *s, struct out_buf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			s->err = -ENOMEM;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	b->len += n;
	return b->p + b->len - n;
}

static __u32 out_str(struct slice *s, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p;

	if (n == 1)
		return 0;	/* the empty string opens the section */
	p = out_grow(s, &s->strs, n);
	if (!p)
		return 0;
	memcpy(p, str, n);
	return (__u32)(s->strs.len - n);
}

static int rename_str(__u32 *off, void *ctx)
{
	struct slice *s = ctx;
	const char *str = raw_str(s->src, *off);

	if (!str)
		return -EINVAL;
	*off = out_str(s, str);
	return s->err;
}

/* Append src's type t (its strings now the slice's); its new id, or 0 with s->err set. */
static __u32 out_type(struct slice *s, const struct btf_type *t)
{
	size_t sz = type_size(t), at = s->types.len;
	struct btf_type *copy;
	int r;

	if (!out_grow(s, &s->types, sz))
		return 0;
	copy = (struct btf_type *)(s->types.p + at);
	memcpy(copy, t, sz);
	r = btf_visit_str_offs(copy, rename_str, s);
	if (r) {
		s->err = r;
		return 0;
	}
	return s->next_id++;
}

static __u32 copy_type(struct slice *s, __u32 id);

/* A forward declaration of src's struct or union `id`, once per type. */
static __u32 out_fwd(struct slice *s, __u32 id, const struct btf_type *t, const char *name)
{
	bool is_union = btf_is_union(t) || (btf_is_fwd(t) && btf_kflag(t));
	/* info: the kind in bits 24-28, kind_flag (a union's) in bit 31, no members */
	struct btf_type f = { .info = (__u32)BTF_KIND_FWD << 24 | (__u32)is_union << 31 };

	if (s->fwd[id])
		return s->fwd[id];
	f.name_off = out_str(s, name);
	if (s->err)
		return 0;
	if (!out_grow(s, &s->types, sizeof(f)))
		return 0;
	memcpy(s->types.p + s->types.len - sizeof(f), &f, sizeof(f));
	return s->fwd[id] = s->next_id++;
}

/* What a copied pointer points to, as btf_copy_structs() cuts it. */
static __u32 copy_pointee(struct slice *s, __u32 id)
{
	const struct btf_type *t = raw_type(s->src, id);
	__u32 end = id;
	const char *name;
	int hops = 0;

	/* (bounded: a loop of modifiers is a broken file, not a kernel's) */
	while (t && (btf_is_mod(t) || btf_is_typedef(t) || btf_is_type_tag(t)) && ++hops < 64) {
		end = t->type;
		t = raw_type(s->src, end);
	}
	if (!t || !(btf_is_composite(t) || btf_is_fwd(t) || btf_is_func_proto(t)))
		return copy_type(s, id);
	if (s->map[end])
		return s->map[end];
	name = raw_str(s->src, t->name_off);
	if (btf_is_func_proto(t) || !name || !*name)
		return 0;
	return out_fwd(s, end, t, name);
}

struct put_ctx {
	struct slice *s;
	bool ptr;
};

/* Each type id the copy holds, replaced by the slice's (copying what it refers to). */
static int put_ref(__u32 *id, void *ctx)
{
	struct put_ctx *p = ctx;
	__u32 nid = p->ptr ? copy_pointee(p->s, *id) : copy_type(p->s, *id);

	if (p->s->err)
		return p->s->err;
	*id = nid;
	return 0;
}

/*
 * Copy src's type id and what it refers to; its slice id (0: void, or s->err). The
 * references are rewritten through the slice's buffer by offset: copying them moves it.
 */
static __u32 copy_type(struct slice *s, __u32 id)
{
	const struct btf_type *t = raw_type(s->src, id);
	struct put_ctx p = { .s = s, .ptr = t && btf_is_ptr(t) };
	size_t at = s->types.len, sz;
	unsigned char *tmp;
	__u32 nid;
	int r;

	if (!id || s->err)
		return 0;
	if (!t) {
		s->err = -EINVAL;
		return 0;
	}
	if (s->map[id])
		return s->map[id];
	nid = out_type(s, t);
	if (!nid)
		return 0;
	s->map[id] = nid;
	/* walk a private copy (the buffer moves as referred types are appended), then put it back */
	sz = type_size(t);
	tmp = malloc(sz);
	if (!tmp) {
		s->err = -ENOMEM;
		return 0;
	}
	memcpy(tmp, s->types.p + at, sz);
	r = btf_visit_type_ids((struct btf_type *)tmp, put_ref, &p);
	if (!r && !s->err)
		memcpy(s->types.p + at, tmp, sz);
	else if (!s->err)
		s->err = r;
	free(tmp);
	return s->err ? 0 : nid;
}

static __u32 find_struct(const struct raw_btf *r, const char *name)
{
	for (__u32 id = 1; id < r->cnt; id++) {
		const struct btf_type *t = raw_type(r, id);
		const char *n;

		if (btf_kind(t) != BTF_KIND_STRUCT)
			continue;
		n = raw_str(r, t->name_off);
		if (n && !strcmp(n, name))
			return id;
	}
	return 0;
}

static struct btf *slice_of(const unsigned char *data, size_t size, const char *const *names,
			    size_t n_names)
{
	struct raw_btf r = { 0 };
	struct slice s = { .src = &r, .next_id = 1 };
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION,
				.hdr_len = sizeof(h) };
	struct btf *out = NULL;
	unsigned char *blob = NULL;
	int ret = raw_index(&r, data, size);

	if (!ret) {
		s.map = calloc(r.cnt, sizeof(*s.map));
		s.fwd = calloc(r.cnt, sizeof(*s.fwd));
		if (!s.map || !s.fwd || !out_grow(&s, &s.strs, 1))
			ret = -ENOMEM;
		else
			s.strs.p[0] = 0;
	}
	for (size_t i = 0; !ret && i < n_names; i++) {
		__u32 id = find_struct(&r, names[i]);

		if (id)	/* a name this kernel lacks is skipped (user_pt_regs: arm64's) */
			copy_type(&s, id);
		ret = s.err;
	}
	if (!ret) {
		h.type_len = (__u32)s.types.len;
		h.str_off = h.type_len;
		h.str_len = (__u32)s.strs.len;
		blob = malloc(sizeof(h) + s.types.len + s.strs.len);
		if (!blob) {
			ret = -ENOMEM;
		} else {
			memcpy(blob, &h, sizeof(h));
			if (s.types.len)
				memcpy(blob + sizeof(h), s.types.p, s.types.len);
			memcpy(blob + sizeof(h) + s.types.len, s.strs.p, s.strs.len);
			out = btf__new(blob, (__u32)(sizeof(h) + s.types.len + s.strs.len));
			if (!out)
				ret = errno ? -errno : -EINVAL;
		}
	}
	free(blob);
	free(s.types.p);
	free(s.strs.p);
	free(s.map);
	free(s.fwd);
	free(r.off);
	errno = -ret;
	return out;
}

struct btf *btf_vmlinux_slice(const char *path, const char *const *names, size_t n_names)
{
	struct btf *out = NULL;
	struct stat st;
	void *data;
	size_t size;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || st.st_size <= 0) {
		e = errno ? errno : EINVAL;
		close(fd);
		errno = e;
		return NULL;
	}
	size = (size_t)st.st_size;
	/* kernels since 6.16 map their BTF read-only and private; older ones are read */
	data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data != MAP_FAILED) {
		out = slice_of(data, size, names, n_names);
		e = errno;
		munmap(data, size);
	} else {
		unsigned char *buf = malloc(size);
		size_t got = 0;
		ssize_t n = 1;

		while (buf && got < size && (n = read(fd, buf + got, size - got)) > 0)
			got += (size_t)n;
		if (!buf || n < 0 || got != size)
			e = !buf ? ENOMEM : n < 0 ? errno : EIO;
		else {
			out = slice_of(buf, size, names, n_names);
			e = errno;
		}
		free(buf);
	}
	close(fd);
	errno = out ? 0 : e;
	return out;
}
