// SPDX-License-Identifier: GPL-2.0
/*
 * btfmerge - merge kernel BTF into one raw BTF file for CO-RE.
 *
 *   btfmerge [-v] -o OUT.btf BASE [EXTRA ...]
 *   btfmerge [-v] --extract-image IMAGE -o OUT.btf
 *
 * Why: libbpf's btf_custom_path and "bpftool gen min_core_btf" take a
 * single BTF, but a module's types (msm.ko) live in split BTF on top of
 * vmlinux. The merged file keeps BASE's ids, then appends each split EXTRA
 * (first one keeps its ids too), then standalone EXTRAs (remapped ids).
 *
 * Uses only public libbpf 1.1 API (plus libelf to spot unsupported
 * distilled-base modules).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <getopt.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/btf.h>

static bool verbose;
static const char *prog = "btfmerge";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-v] -o OUT.btf BASE [EXTRA ...]\n"
		"       %s [-v] --extract-image IMAGE -o OUT.btf\n"
		"\n"
		"Merge BTF into a single raw BTF file.\n"
		"  BASE   raw BTF (e.g. /sys/kernel/btf/vmlinux) or an ELF with .BTF\n"
		"  EXTRA  split BTF on top of BASE (module .ko, /sys/kernel/btf/<mod>)\n"
		"         or standalone BTF; the kind is detected automatically.\n"
		"Output: BASE's types with unchanged ids, then each split EXTRA's\n"
		"types in id order (the first one keeps its ids), then standalone\n"
		"EXTRAs appended with remapped ids.\n"
		"\n"
		"  -o, --output FILE        write the result to FILE (required)\n"
		"  --extract-image IMAGE    find the raw vmlinux BTF blob inside an\n"
		"                           uncompressed kernel Image and write it\n"
		"  -v, --verbose            report decisions and libbpf messages\n"
		"  -h, --help               show this help\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 bad usage.\n",
		prog, prog);
}

static void err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void info(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Failed detection attempts are expected; only show libbpf's chatter with -v. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ---- type-id / string-offset walking (not public in libbpf 1.1) ---- */

typedef int (*id_fn)(__u32 *id, void *ctx);

/* Call fn on every field of t that holds a type id. */
static int visit_type_ids(struct btf_type *t, id_fn fn, void *ctx)
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

/* Call fn on every string offset in t. */
static int visit_str_offs(struct btf_type *t, id_fn fn, void *ctx)
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
static bool refs_consistent(const struct btf *btf)
{
	const struct btf *base = btf__base_btf(btf);
	struct check_ctx c = { .btf = btf, .cnt = btf__type_cnt(btf) };
	__u32 id = base ? btf__type_cnt(base) : 1;

	for (; id < c.cnt; id++) {
		struct btf_type *t = (struct btf_type *)btf__type_by_id(btf, id);

		if (!t || visit_type_ids(t, check_id, &c) ||
		    visit_str_offs(t, check_str, &c))
			return false;
	}
	return true;
}

/* ---- file helpers ---- */

/* Write atomically so a failed run never leaves a truncated OUT behind. */
static int write_file(const char *path, const void *data, size_t size)
{
	size_t len = strlen(path) + 16;
	char *tmp = malloc(len);
	FILE *f;
	int ok;

	if (!tmp) {
		err("%s: out of memory", path);
		return -1;
	}
	snprintf(tmp, len, "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "wb");
	if (!f) {
		err("%s: cannot create: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	ok = fwrite(data, 1, size, f) == size;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path)) {
		err("%s: write failed: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

static void *read_file(const char *path, size_t *size)
{
	struct stat st;
	void *buf = NULL;
	FILE *f = fopen(path, "rb");

	if (!f) {
		err("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		err("%s: not a regular file", path);
		goto out;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		err("%s: out of memory (%lld bytes)", path, (long long)st.st_size);
		goto out;
	}
	if (fread(buf, 1, st.st_size, f) != (size_t)st.st_size) {
		err("%s: read failed", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	*size = st.st_size;
out:
	fclose(f);
	return buf;
}

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

/* ---- merge mode ---- */

/*
 * Decide whether path is split BTF on base or standalone: parse it both
 * ways and keep the interpretation whose references all resolve. libbpf
 * also rejects a split string section read standalone (it lacks the
 * leading NUL), which usually settles it already.
 */
static struct btf *load_extra(const char *path, struct btf *base, bool *is_split)
{
	struct btf *split, *alone;
	bool split_ok, alone_ok;
	int split_err, alone_err;

	if (has_distilled_base(path)) {
		err("%s: has a distilled .BTF.base section; relocating it needs a newer libbpf",
		    path);
		return NULL;
	}

	split = btf__parse_split(path, base);
	split_err = split ? 0 : errno;
	alone = btf__parse(path, NULL);
	alone_err = alone ? 0 : errno;

	split_ok = split && refs_consistent(split);
	alone_ok = alone && refs_consistent(alone);
	info("%s: as split on base: %s; as standalone: %s", path,
	     split ? (split_ok ? "consistent" : "dangling references") : strerror(split_err),
	     alone ? (alone_ok ? "consistent" : "dangling references") : strerror(alone_err));

	if (split_ok && alone_ok) {
		/*
		 * Split BTF written by libbpf/pahole has no leading NUL in its
		 * strings, and libbpf only parses standalone BTF that has one;
		 * so a successful standalone parse is the stronger evidence.
		 */
		info("%s: consistent both ways; standalone wins (its strings start with NUL)",
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
		err("%s: not readable as BTF (%s)", path, strerror(split_err ? split_err : alone_err));
	else
		err("%s: BTF references types or strings that exist neither standalone nor on "
		    "the given BASE (wrong BASE for this module?)", path);
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
static int append_split(struct btf *out, const struct btf *split, const char *path)
{
	__u32 first = btf__type_cnt(btf__base_btf(split));
	__u32 cnt = btf__type_cnt(split), id;
	struct shift_ctx s = { .first_split = first, .delta = btf__type_cnt(out) - first };

	for (id = first; id < cnt; id++) {
		int nid = btf__add_type(out, split, btf__type_by_id(split, id));

		if (nid < 0) {
			err("%s: adding type %u failed: %s", path, id, strerror(-nid));
			return -1;
		}
		/* out owns a writable copy; the const is only the API's view */
		if (s.delta)
			visit_type_ids((struct btf_type *)btf__type_by_id(out, nid), shift_id, &s);
	}
	info("%s: split, %u types, ids %u..%u", path, cnt - first, first + s.delta,
	     cnt - 1 + s.delta);
	return 0;
}

static int merge(const char *out_path, const char *base_path, char **extras, int n_extras)
{
	struct btf *base, *out = NULL, **ex = NULL;
	bool *is_split = NULL;
	const void *raw;
	__u32 raw_sz, id, base_cnt;
	int i, ret = 1;

	base = btf__parse(base_path, NULL);
	if (!base) {
		err("%s: cannot parse BASE BTF: %s", base_path, strerror(errno));
		return 1;
	}
	if (!refs_consistent(base)) {
		err("%s: BASE BTF has dangling type or string references", base_path);
		goto out;
	}
	base_cnt = btf__type_cnt(base);
	info("%s: base, %u types", base_path, base_cnt - 1);

	ex = calloc(n_extras + 1, sizeof(*ex));
	is_split = calloc(n_extras + 1, sizeof(*is_split));
	out = btf__new_empty();
	if (!ex || !is_split || !out) {
		err("out of memory");
		goto out;
	}
	for (i = 0; i < n_extras; i++) {
		ex[i] = load_extra(extras[i], base, &is_split[i]);
		if (!ex[i])
			goto out;
	}

	/* BASE first, ids unchanged: type i of base becomes type i of out. */
	for (id = 1; id < base_cnt; id++) {
		int nid = btf__add_type(out, base, btf__type_by_id(base, id));

		if (nid < 0) {
			err("%s: adding type %u failed: %s", base_path, id, strerror(-nid));
			goto out;
		}
	}
	/* Split ones next, so the first keeps the ids its users already know. */
	for (i = 0; i < n_extras; i++)
		if (is_split[i] && append_split(out, ex[i], extras[i]))
			goto out;
	for (i = 0; i < n_extras; i++) {
		int first;

		if (is_split[i])
			continue;
		first = btf__add_btf(out, ex[i]);
		if (first < 0) {
			err("%s: appending standalone BTF failed: %s", extras[i], strerror(-first));
			goto out;
		}
		info("%s: standalone, %u types, ids %d..%u", extras[i],
		     btf__type_cnt(ex[i]) - 1, first, btf__type_cnt(out) - 1);
	}

	raw = btf__raw_data(out, &raw_sz);
	if (!raw) {
		err("%s: serialising BTF failed: %s", out_path, strerror(errno));
		goto out;
	}
	if (write_file(out_path, raw, raw_sz))
		goto out;
	info("%s: %u types, %u bytes", out_path, btf__type_cnt(out) - 1, raw_sz);
	ret = 0;
out:
	for (i = 0; ex && i < n_extras; i++)
		btf__free(ex[i]);
	free(ex);
	free(is_split);
	btf__free(out);
	btf__free(base);
	return ret;
}

/* ---- --extract-image mode ---- */

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
static int extract_image(const char *img_path, const char *out_path)
{
	struct cand *c = NULL;
	size_t size = 0, n = 0, cap = 0, i;
	unsigned char *img = read_file(img_path, &size);
	int ret = 1;

	if (!img)
		return 1;
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
				err("out of memory");
				goto out;
			}
			c = nc;
		}
		c[n++] = (struct cand){ .off = i, .len = end, .type_len = tlen };
	}
	if (!n) {
		err("%s: no BTF blob found (is the image compressed? decompress it first, "
		    "or the kernel lacks CONFIG_DEBUG_INFO_BTF)", img_path);
		goto out;
	}
	qsort(c, n, sizeof(*c), cmp_cand);
	for (i = 0; i < n; i++) {
		struct btf *btf = btf__new(img + c[i].off, c[i].len);
		bool ok = btf && refs_consistent(btf);

		info("%s: candidate at 0x%zx, %zu bytes, type_len %u: %s", img_path, c[i].off,
		     c[i].len, c[i].type_len, ok ? "ok" : "rejected");
		if (ok)
			info("%s: %u types", img_path, btf__type_cnt(btf) - 1);
		btf__free(btf);
		if (!ok)
			continue;
		/* Write the bytes as found: the blob is already valid raw BTF. */
		ret = write_file(out_path, img + c[i].off, c[i].len) ? 1 : 0;
		goto out;
	}
	err("%s: %zu BTF magic candidates, none parses as BTF", img_path, n);
out:
	free(c);
	free(img);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "extract-image", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *out = NULL, *image = NULL;
	int c;

	libbpf_set_print(libbpf_print);
	while ((c = getopt_long(argc, argv, "o:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'x':
			image = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!out) {
		err("missing -o OUT.btf");
		usage(stderr);
		return 2;
	}
	if (image) {
		if (optind != argc) {
			err("--extract-image takes no BASE/EXTRA arguments");
			return 2;
		}
		return extract_image(image, out);
	}
	if (optind >= argc) {
		err("missing BASE");
		usage(stderr);
		return 2;
	}
	return merge(out, argv[optind], argv + optind + 1, argc - optind - 1);
}
