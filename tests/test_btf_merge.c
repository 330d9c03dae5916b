// SPDX-License-Identifier: GPL-2.0
/*
 * src/lib/btf_merge.c, the BTF merging libmsmvm (the model's CO-RE target) and
 * tools/btfmerge share: closure copies, whole merges of split and standalone BTF, the
 * vmlinux blob inside an Image. On small BTF built here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "btf_merge.h"
#include "harness.h"

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char path[8][128];
	static int next;
	char *p = path[next++ % 8];

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_btf_merge.XXXXXX");
		if (!mkdtemp(tmpdir))
			FAILF("mkdtemp: %s", strerror(errno));
	}
	snprintf(p, 128, "%s/%s", tmpdir, name);
	return p;
}

static int write_btf(const struct btf *btf, const char *path)
{
	__u32 size;
	const void *raw = btf__raw_data(btf, &size);
	FILE *f = fopen(path, "wb");
	int ok = f && raw && fwrite(raw, 1, size, f) == size;

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static int find(const struct btf *btf, const char *name, int kind)
{
	return btf__find_by_name_kind(btf, name, kind);
}

static const struct btf_member *member(const struct btf *btf, int struct_id, const char *name)
{
	const struct btf_type *t = btf__type_by_id(btf, struct_id);

	for (int i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf_members(t)[i].name_off), name))
			return &btf_members(t)[i];
	FAILF("no member %s", name);
	return NULL;
}

/*
 * struct inner { int x; };  struct other { int y; };
 * struct outer { struct inner in; struct other *p; int (*fn)(int); int arr[4];
 *                const struct inner *cp; };
 */
static struct btf *kernel_like(void)
{
	struct btf *b = btf__new_empty();
	int i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	int inner = btf__add_struct(b, "inner", 4);
	int other, p_other, proto, p_fn, arr, c_inner, p_c_inner;

	btf__add_field(b, "x", i32, 0, 0);
	other = btf__add_struct(b, "other", 4);
	btf__add_field(b, "y", i32, 0, 0);
	p_other = btf__add_ptr(b, other);
	proto = btf__add_func_proto(b, i32);
	btf__add_func_param(b, "a", i32);
	p_fn = btf__add_ptr(b, proto);
	arr = btf__add_array(b, i32, i32, 4);
	c_inner = btf__add_const(b, inner);
	p_c_inner = btf__add_ptr(b, c_inner);
	btf__add_struct(b, "outer", 48);
	btf__add_field(b, "in", inner, 0, 0);
	btf__add_field(b, "p", p_other, 64, 0);
	btf__add_field(b, "fn", p_fn, 128, 0);
	btf__add_field(b, "arr", arr, 192, 0);
	btf__add_field(b, "cp", p_c_inner, 320, 0);
	return b;
}

TEST(copy_structs_closure)
{
	static const char *const names[] = { "outer", "not_in_src" };
	struct btf *src = kernel_like(), *dst = btf__new_empty();
	const struct btf_type *t;
	const struct btf_member *m;
	int outer, inner;

	CHECK_EQ(btf_copy_structs(dst, src, names, 2), 0);
	CHECK(btf_refs_consistent(dst));
	outer = find(dst, "outer", BTF_KIND_STRUCT);
	inner = find(dst, "inner", BTF_KIND_STRUCT);
	CHECK(outer > 0 && inner > 0);
	CHECK(find(dst, "other", BTF_KIND_STRUCT) < 0);		/* behind a pointer: */
	CHECK(find(dst, "other", BTF_KIND_FWD) > 0);		/* declared only */
	if (outer <= 0 || inner <= 0)
		goto out;
	CHECK_EQ(btf_vlen(btf__type_by_id(dst, outer)), 5);
	CHECK_EQ(member(dst, outer, "in")->type, inner);
	m = member(dst, outer, "p");
	t = btf__type_by_id(dst, m->type);
	CHECK(btf_is_ptr(t) && t->type == (__u32)find(dst, "other", BTF_KIND_FWD));
	m = member(dst, outer, "fn");
	t = btf__type_by_id(dst, m->type);
	CHECK(btf_is_ptr(t) && t->type == 0);			/* to a function: void * */
	CHECK_EQ(btf__resolve_size(dst, member(dst, outer, "arr")->type), 16);
	t = btf__type_by_id(dst, member(dst, outer, "cp")->type);
	CHECK(btf_is_ptr(t) && t->type == (__u32)inner);	/* copied struct: pointed at */
	CHECK_EQ(member(dst, outer, "cp")->offset, 320);
	CHECK(find(dst, "inner", BTF_KIND_STRUCT) == inner);	/* once */
out:
	btf__free(src);
	btf__free(dst);
}

static char logged[512];

static void capture(void *ctx, bool error, const char *fmt, va_list ap)
{
	if (error)
		vsnprintf(logged, sizeof(logged), fmt, ap);
}

static const struct btf_merge_log log_errors = { .print = capture };

/* A module-like split BTF on base: struct NAME { struct inner *in; struct NAME *next; }. */
static struct btf *module_like(struct btf *base, const char *name)
{
	struct btf *s = btf__new_empty_split(base);
	int st = btf__add_struct(s, name, 16);

	/* members right after their struct, then the pointers they name (the next ids) */
	btf__add_field(s, "in", st + 1, 0, 0);
	btf__add_field(s, "next", st + 2, 64, 0);
	btf__add_ptr(s, find(base, "inner", BTF_KIND_STRUCT));
	btf__add_ptr(s, st);
	return s;
}

TEST(merge_split_and_standalone)
{
	struct btf *base = kernel_like(), *a = module_like(base, "mod_a"),
		   *b = module_like(base, "mod_b"), *alone = kernel_like(), *out;
	char *extras[3];
	int cnt = btf__type_cnt(base), sa, sb;

	extras[0] = strdup(tmp_path("a.btf"));
	extras[1] = strdup(tmp_path("alone.btf"));
	extras[2] = strdup(tmp_path("b.btf"));
	CHECK(!write_btf(base, tmp_path("base.btf")) && !write_btf(a, extras[0]) &&
	      !write_btf(alone, extras[1]) && !write_btf(b, extras[2]));
	out = btf_merge_files(tmp_path("base.btf"), extras, 3, &log_errors);
	CHECK(out != NULL);
	if (out) {
		CHECK(btf_refs_consistent(out));
		/* base's ids, then a (its own ids), then b (shifted), then the standalone one */
		CHECK_EQ(btf__type_cnt(out), cnt + 3 + 3 + btf__type_cnt(alone) - 1);
		CHECK_EQ(find(out, "outer", BTF_KIND_STRUCT), find(base, "outer", BTF_KIND_STRUCT));
		sa = find(out, "mod_a", BTF_KIND_STRUCT);
		sb = find(out, "mod_b", BTF_KIND_STRUCT);
		CHECK_EQ(sa, cnt);
		CHECK_EQ(sb, cnt + 3);
		CHECK_EQ(btf__type_by_id(out, member(out, sb, "next")->type)->type, sb);
		CHECK_EQ(btf__type_by_id(out, member(out, sb, "in")->type)->type,
			 find(base, "inner", BTF_KIND_STRUCT));
		CHECK_EQ(btf__type_by_id(out, member(out, sa, "next")->type)->type, sa);
	}
	btf__free(out);
	/* a module on the wrong base (one without its types): refused, said why */
	btf__free(alone);
	alone = btf__new_empty();
	btf__add_int(alone, "int", 4, BTF_INT_SIGNED);
	CHECK(!write_btf(alone, extras[1]));
	logged[0] = 0;
	out = btf_merge_files(extras[1], extras + 2, 1, &log_errors);
	CHECK(out == NULL);
	CHECK(strstr(logged, "wrong BASE for this module?") != NULL);
	btf__free(out);
	for (int i = 0; i < 3; i++) {
		unlink(extras[i]);
		free(extras[i]);
	}
	unlink(tmp_path("base.btf"));
	rmdir(tmpdir);
	btf__free(a);
	btf__free(b);
	btf__free(alone);
	btf__free(base);
}

TEST(find_in_image)
{
	struct btf *btf = kernel_like();
	__u32 size;
	const void *raw = btf__raw_data(btf, &size);
	unsigned char *img = calloc(1, 4096 + size + 100);
	static const unsigned char stray[] = { 0x9f, 0xeb, 1, 0, 24, 0, 0, 0 };
	size_t off = 0, len = 0;

	memcpy(img + 100, stray, sizeof(stray));	/* magic without a valid header */
	memcpy(img + 4096, raw, size);
	CHECK_EQ(btf_find_in_image(img, 4096 + size + 100, "img", &off, &len, &log_errors), 0);
	CHECK_EQ(off, 4096);
	CHECK_EQ(len, size);
	logged[0] = 0;
	CHECK_EQ(btf_find_in_image(img, 4096, "img", &off, &len, &log_errors), -1);
	CHECK(strstr(logged, "img: no BTF blob found") != NULL);
	free(img);
	btf__free(btf);
}

TEST_MAIN()
