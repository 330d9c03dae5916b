// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One BTF out of several: whole merges for tools/btfmerge, closure copies for libmsmvm's
 * model target. Uses only public libbpf 1.1 API (plus libelf to spot unsupported
 * distilled-base modules); the type-id walk below is the one libbpf keeps internal.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/btf.h>

#include "btf_merge.h"

static void say(const struct btf_merge_log *log, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(const struct btf_merge_log *log, bool error, const char *fmt, ...)
{
	va_list ap;

	if (!log || !log->print)
		return;
	va_start(ap, fmt);
	log->print(log->ctx, error, fmt, ap);
	va_end(ap);
}

#define err(log, ...) say(log, true, __VA_ARGS__)
#define info(log, ...) say(log, false, __VA_ARGS__)

/* ---- type-id / string-offset walking (not public in libbpf 1.1) ---- */

int btf_visit_type_ids(struct btf_type *t, int (*fn)(__u32 *id, void *ctx), void *ctx)
{
	int i, n = btf_vlen(t), r;

	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
		return 0; /* t->size, not t->type: leave it alone */
	case BTF_KIND_PTR:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
	case BTF_KIND_TYPE_TAG:
		return fn(&t->type, ctx);
	case BTF_KIND_ARRAY: {
		struct btf_array *a = btf_array(t);

		r = fn(&a->type, ctx);
		return r ? r : fn(&a->index_type, ctx);
	}
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION: {
		struct btf_member *m = btf_members(t);

		for (i = 0; i < n; i++)
			if ((r = fn(&m[i].type, ctx)))
				return r;
		return 0;
	}
	case BTF_KIND_FUNC_PROTO: {
		struct btf_param *p = btf_params(t);

		if ((r = fn(&t->type, ctx)))
			return r;
		for (i = 0; i < n; i++)
			if ((r = fn(&p[i].type, ctx)))
				return r;
		return 0;
	}
	case BTF_KIND_DATASEC: {
		struct btf_var_secinfo *v = btf_var_secinfos(t);

		for (i = 0; i < n; i++)
			if ((r = fn(&v[i].type, ctx)))
				return r;
		return 0;
	}
	default:
		return -EOPNOTSUPP; /* newer kind we do not know how to walk */
	}
}

int btf_visit_str_offs(struct btf_type *t, int (*fn)(__u32 *off, void *ctx), void *ctx)
{
	int i, n = btf_vlen(t), r;

	if ((r = fn(&t->name_off, ctx)))
		return r;
	switch (btf_kind(t)) {
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (i = 0; i < n; i++)
			if ((r = fn(&btf_members(t)[i].name_off, ctx)))
				return r;
		return 0;
	case BTF_KIND_ENUM:
		for (i = 0; i < n; i++)
			if ((r = fn(&btf_enum(t)[i].name_off, ctx)))
				return r;
		return 0;
	case BTF_KIND_ENUM64:
		/* btf_enum64 is {name_off, lo32, hi32}; see btf.h */
		for (i = 0; i < n; i++)
			if ((r = fn((__u32 *)btf_enum64(t) + 3 * i, ctx)))
				return r;
		return 0;
	case BTF_KIND_FUNC_PROTO:
		for (i = 0; i < n; i++)
			if ((r = fn(&btf_params(t)[i].name_off, ctx)))
				return r;
		return 0;
	default:
		return 0;
	}
}

struct check_ctx {
	const struct btf *btf;
	__u32 cnt;
};

static int check_id(__u32 *id, void *c)
{
	return *id < ((struct check_ctx *)c)->cnt ? 0 : -ERANGE;
}

/*
 * An offset must exist and start a string (follow a NUL). Module BTF read
 * on the wrong vmlinux keeps offsets in range but lands mid-string.
 */
static int check_str(__u32 *off, void *c)
{
	const struct btf *btf = ((struct check_ctx *)c)->btf;
	const char *prev;

	if (!btf__str_by_offset(btf, *off))
		return -ERANGE;
	if (*off == 0)
		return 0;
	prev = btf__str_by_offset(btf, *off - 1);
	return prev && *prev == '\0' ? 0 : -ERANGE;
}

/*
 * libbpf 1.1 does not validate references on parse, so BTF read with the
 * wrong base (split read as standalone or vice versa, or a module on
 * another kernel's vmlinux) "succeeds" with garbage. Check that every type
 * id and name offset of btf's own types resolves: wrong interpretations
 * point out of range or into the middle of strings.
 */
bool btf_refs_consistent(const struct btf *btf)
{
	const struct btf *base = btf__base_btf(btf);
	struct check_ctx c = { .btf = btf, .cnt = btf__type_cnt(btf) };
	__u32 id = base ? btf__type_cnt(base) : 1;

	for (; id < c.cnt; id++) {
		struct btf_type *t = (struct btf_type *)btf__type_by_id(btf, id);

		if (!t || btf_visit_type_ids(t, check_id, &c) || btf_visit_str_offs(t, check_str, &c))
			return false;
	}
	return true;
}

/* ---- whole merges ---- */

/*
 * Newer kernels can give out-of-tree modules a distilled ".BTF.base";
 * their .BTF is split against that, not vmlinux, and libbpf 1.1 cannot
 * relocate it. Refuse instead of producing wrong types.
 */
static bool has_distilled_base(const char *path)
{
	bool found = false;
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && !elf_getshdrstrndx(elf, &shstrndx)) {
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh))
				continue;
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (name && !strcmp(name, ".BTF.base"))
				found = true;
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/*
 * Decide whether path is split BTF on base or standalone: parse it both
 * ways and keep the interpretation whose references all resolve. libbpf
 * also rejects a split string section read standalone (it lacks the
 * leading NUL), which usually settles it already.
 */
static struct btf *load_extra(const char *path, struct btf *base, bool *is_split,
			      const struct btf_merge_log *log)
{
	struct btf *split, *alone;
	bool split_ok, alone_ok;
	int split_err, alone_err;

	if (has_distilled_base(path)) {
		err(log, "%s: has a distilled .BTF.base section; relocating it needs a newer libbpf",
		    path);
		return NULL;
	}

	split = btf__parse_split(path, base);
	split_err = split ? 0 : errno;
	alone = btf__parse(path, NULL);
	alone_err = alone ? 0 : errno;

	split_ok = split && btf_refs_consistent(split);
	alone_ok = alone && btf_refs_consistent(alone);
	info(log, "%s: as split on base: %s; as standalone: %s", path,
	     split ? (split_ok ? "consistent" : "dangling references") : strerror(split_err),
	     alone ? (alone_ok ? "consistent" : "dangling references") : strerror(alone_err));

	if (split_ok && alone_ok) {
		/*
		 * Split BTF written by libbpf/pahole has no leading NUL in its
		 * strings, and libbpf only parses standalone BTF that has one;
		 * so a successful standalone parse is the stronger evidence.
		 */
		info(log, "%s: consistent both ways; standalone wins (its strings start with NUL)",
		     path);
		split_ok = false;
	}
	if (split_ok) {
		btf__free(alone);
		*is_split = true;
		return split;
	}
	if (alone_ok) {
		btf__free(split);
		*is_split = false;
		return alone;
	}
	btf__free(split);
	btf__free(alone);
	if (!split && !alone)
		err(log, "%s: not readable as BTF (%s)", path,
		    strerror(split_err ? split_err : alone_err));
	else
		err(log, "%s: BTF references types or strings that exist neither standalone nor "
		    "on the given BASE (wrong BASE for this module?)", path);
	return NULL;
}

struct shift_ctx {
	__u32 first_split; /* ids >= this belong to the split part */
	__u32 delta;
};

static int shift_id(__u32 *id, void *c)
{
	struct shift_ctx *s = c;

	if (*id >= s->first_split)
		*id += s->delta;
	return 0;
}

/*
 * Append a split BTF's own types. btf__add_type copies ids verbatim, which
 * is exactly right for the first split EXTRA (its ids already follow
 * BASE). Later split EXTRAs start at the same id, so their references to
 * their own types are shifted past what is already in out.
 */
static int append_split(struct btf *out, const struct btf *split, const char *path,
			const struct btf_merge_log *log)
{
	__u32 first = btf__type_cnt(btf__base_btf(split));
	__u32 cnt = btf__type_cnt(split), id;
	struct shift_ctx s = { .first_split = first, .delta = btf__type_cnt(out) - first };

	for (id = first; id < cnt; id++) {
		int nid = btf__add_type(out, split, btf__type_by_id(split, id));

		if (nid < 0) {
			err(log, "%s: adding type %u failed: %s", path, id, strerror(-nid));
			return -1;
		}
		/* out owns a writable copy; the const is only the API's view */
		if (s.delta)
			btf_visit_type_ids((struct btf_type *)btf__type_by_id(out, nid), shift_id,
					   &s);
	}
	info(log, "%s: split, %u types, ids %u..%u", path, cnt - first, first + s.delta,
	     cnt - 1 + s.delta);
	return 0;
}

struct btf *btf_merge_files(const char *base_path, char *const *extras, int n_extras,
			    const struct btf_merge_log *log)
{
	struct btf *base, *out = NULL, **ex = NULL;
	bool *is_split = NULL, ok = false;
	__u32 base_cnt;
	int i, first;

	base = btf__parse(base_path, NULL);
	if (!base) {
		err(log, "%s: cannot parse BASE BTF: %s", base_path, strerror(errno));
		return NULL;
	}
	if (!btf_refs_consistent(base)) {
		err(log, "%s: BASE BTF has dangling type or string references", base_path);
		goto out;
	}
	base_cnt = btf__type_cnt(base);
	info(log, "%s: base, %u types", base_path, base_cnt - 1);

	ex = calloc(n_extras + 1, sizeof(*ex));
	is_split = calloc(n_extras + 1, sizeof(*is_split));
	out = btf__new_empty();
	if (!ex || !is_split || !out) {
		err(log, "out of memory");
		goto out;
	}
	for (i = 0; i < n_extras; i++) {
		ex[i] = load_extra(extras[i], base, &is_split[i], log);
		if (!ex[i])
			goto out;
	}

	/* BASE first, ids unchanged: into an empty out, type i of base becomes type i. */
	first = btf__add_btf(out, base);
	if (first < 0) {
		err(log, "%s: adding its types failed: %s", base_path, strerror(-first));
		goto out;
	}
	/* Split ones next, so the first keeps the ids its users already know. */
	for (i = 0; i < n_extras; i++)
		if (is_split[i] && append_split(out, ex[i], extras[i], log))
			goto out;
	for (i = 0; i < n_extras; i++) {
		if (is_split[i])
			continue;
		first = btf__add_btf(out, ex[i]);
		if (first < 0) {
			err(log, "%s: appending standalone BTF failed: %s", extras[i],
			    strerror(-first));
			goto out;
		}
		info(log, "%s: standalone, %u types, ids %d..%u", extras[i],
		     btf__type_cnt(ex[i]) - 1, first, btf__type_cnt(out) - 1);
	}
	ok = true;
out:
	for (i = 0; ex && i < n_extras; i++)
		btf__free(ex[i]);
	free(ex);
	free(is_split);
	btf__free(base);
	if (!ok) {
		btf__free(out);
		return NULL;
	}
	return out;
}

/* ---- the vmlinux BTF inside a kernel Image ---- */

static __u32 rd32(const unsigned char *p, bool swap)
{
	__u32 v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

struct cand {
	size_t off, len;
	__u32 type_len;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return x->type_len < y->type_len ? 1 : x->type_len > y->type_len ? -1 : 0;
}

/*
 * The kernel Image embeds vmlinux BTF as a raw blob (.BTF is just copied
 * into the image). Scan for the magic, keep headers that describe a blob
 * fitting in the file, and take the one with the largest type section that
 * libbpf accepts: stray magic bytes elsewhere are rejected by btf__new.
 */
int btf_find_in_image(const unsigned char *img, size_t size, const char *img_name,
		      size_t *off, size_t *len, const struct btf_merge_log *log)
{
	struct cand *c = NULL;
	size_t n = 0, cap = 0, i;
	int ret = -1;

	for (i = 0; i + 24 <= size; i++) {
		bool swap;
		__u32 hdr_len, toff, tlen, soff, slen;
		unsigned long long end;

		/* 9f eb 01 00: little-endian magic; eb 9f 01 00: big-endian */
		if (img[i + 2] != 1 || img[i + 3] != 0)
			continue;
		if (img[i] == 0x9f && img[i + 1] == 0xeb)
			swap = __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__;
		else if (img[i] == 0xeb && img[i + 1] == 0x9f)
			swap = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
		else
			continue;
		hdr_len = rd32(img + i + 4, swap);
		toff = rd32(img + i + 8, swap);
		tlen = rd32(img + i + 12, swap);
		soff = rd32(img + i + 16, swap);
		slen = rd32(img + i + 20, swap);
		if (hdr_len != 24 || !tlen || !slen)
			continue;
		end = (unsigned long long)toff + tlen;
		if ((unsigned long long)soff + slen > end)
			end = (unsigned long long)soff + slen;
		end += hdr_len;
		if (end > size - i)
			continue;
		if (n == cap) {
			struct cand *nc = realloc(c, (cap = cap ? cap * 2 : 16) * sizeof(*c));

			if (!nc) {
				err(log, "out of memory");
				goto out;
			}
			c = nc;
		}
		c[n++] = (struct cand){ .off = i, .len = end, .type_len = tlen };
	}
	if (!n) {
		err(log, "%s: no BTF blob found (is the image compressed? decompress it first, "
		    "or the kernel lacks CONFIG_DEBUG_INFO_BTF)", img_name);
		goto out;
	}
	qsort(c, n, sizeof(*c), cmp_cand);
	for (i = 0; i < n; i++) {
		struct btf *btf = btf__new(img + c[i].off, c[i].len);
		bool ok = btf && btf_refs_consistent(btf);

		info(log, "%s: candidate at 0x%zx, %zu bytes, type_len %u: %s", img_name, c[i].off,
		     c[i].len, c[i].type_len, ok ? "ok" : "rejected");
		if (ok)
			info(log, "%s: %u types", img_name, btf__type_cnt(btf) - 1);
		btf__free(btf);
		if (!ok)
			continue;
		*off = c[i].off;
		*len = c[i].len;
		ret = 0;
		goto out;
	}
	err(log, "%s: %zu BTF magic candidates, none parses as BTF", img_name, n);
out:
	free(c);
	return ret;
}

/* ---- closure copies ---- */

struct btf_copy {
	const struct btf *src;
	struct btf *dst;
	__u32 *map;		/* src type id -> dst type id; 0: not copied yet */
};

/* The type ids one type refers to, in btf_visit_type_ids() order. */
struct id_list {
	__u32 *ids;
	int n;
};

static int take_id(__u32 *id, void *ctx)
{
	struct id_list *l = ctx;

	l->ids[l->n++] = *id;
	return 0;
}

static int put_id(__u32 *id, void *ctx)
{
	struct id_list *l = ctx;

	*id = l->ids[l->n++];
	return 0;
}

static int copy_type(struct btf_copy *c, __u32 id);

/* What a copied pointer points to: the type copied, or a forward declaration, or void. */
static int copy_pointee(struct btf_copy *c, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(c->src, id);
	__u32 end = id;
	const char *name;
	int fwd;

	while (t && (btf_is_mod(t) || btf_is_typedef(t) || btf_is_type_tag(t))) {
		end = t->type;
		t = btf__type_by_id(c->src, end);
	}
	if (!t || !(btf_is_composite(t) || btf_is_fwd(t) || btf_is_func_proto(t)))
		return copy_type(c, id);	/* void, scalars, arrays: small, copied */
	if (c->map[end])
		return c->map[end];
	name = btf__name_by_offset(c->src, t->name_off);
	if (btf_is_func_proto(t) || !name || !*name)
		return 0;
	fwd = btf__find_by_name_kind(c->dst, name, BTF_KIND_FWD);
	if (fwd > 0)
		return fwd;
	return btf__add_fwd(c->dst, name, btf_is_union(t) || (btf_is_fwd(t) && btf_kflag(t))
						 ? BTF_FWD_UNION : BTF_FWD_STRUCT);
}

/*
 * Copy type id of src, and what it refers to, into dst; its new id or -errno.
 * btf__add_type() copies a type with its strings but keeps the type ids it refers to:
 * those are collected from src, copied first-to-last, and written into the copy once
 * known. The copy is looked up again then, as adding types may move dst's memory.
 */
static int copy_type(struct btf_copy *c, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(c->src, id);
	struct id_list refs = { 0 };
	int new, ret = 0;

	if (!id)
		return 0;
	if (!t)
		return -EINVAL;
	if (c->map[id])
		return c->map[id];
	new = btf__add_type(c->dst, c->src, t);
	if (new < 0)
		return new;
	c->map[id] = new;
	refs.ids = malloc((btf_vlen(t) + 2) * sizeof(*refs.ids));	/* FUNC_PROTO: vlen + 1 */
	if (!refs.ids)
		return -ENOMEM;
	ret = btf_visit_type_ids((struct btf_type *)t, take_id, &refs);	/* reads only */
	for (int i = 0; !ret && i < refs.n; i++) {
		int ref = btf_is_ptr(t) ? copy_pointee(c, refs.ids[i]) : copy_type(c, refs.ids[i]);

		if (ref < 0)
			ret = ref;
		else
			refs.ids[i] = ref;
	}
	if (!ret) {
		refs.n = 0;
		btf_visit_type_ids((struct btf_type *)btf__type_by_id(c->dst, new), put_id, &refs);
	}
	free(refs.ids);
	return ret ? ret : new;
}

int btf_copy_structs(struct btf *dst, const struct btf *src, const char *const *names,
		     size_t n_names)
{
	struct btf_copy c = { .src = src, .dst = dst };
	int ret = 0, id;

	c.map = calloc(btf__type_cnt(src), sizeof(*c.map));
	if (!c.map)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < n_names; i++) {
		id = btf__find_by_name_kind(src, names[i], BTF_KIND_STRUCT);
		if (id > 0)
			ret = copy_type(&c, id);
		ret = ret < 0 ? ret : 0;
	}
	free(c.map);
	return ret;
}
