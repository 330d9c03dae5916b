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
 * The merging itself is src/lib/btf_merge.c, shared with libmsmvm; this is
 * its command line and file I/O.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/btf.h>

#include "btf_merge.h"

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

/* "btfmerge: ...": errors always, notes with -v; the library's messages too. */
static void log_print(void *ctx, bool error, const char *fmt, va_list ap)
{
	if (!error && !verbose)
		return;
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static const struct btf_merge_log merge_log = { .print = log_print };

static void err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_print(NULL, true, fmt, ap);
	va_end(ap);
}

static void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_print(NULL, false, fmt, ap);
	va_end(ap);
}

/* Failed detection attempts are expected; only show libbpf's chatter with -v. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
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

/* ---- merge mode ---- */

static int merge(const char *out_path, const char *base_path, char **extras, int n_extras)
{
	struct btf *out = btf_merge_files(base_path, extras, n_extras, &merge_log);
	const void *raw;
	__u32 raw_sz;
	int ret = 1;

	if (!out)
		return 1;
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
	btf__free(out);
	return ret;
}

/* ---- --extract-image mode ---- */

static int extract_image(const char *img_path, const char *out_path)
{
	size_t size = 0, off, len;
	unsigned char *img = read_file(img_path, &size);
	int ret = 1;

	if (!img)
		return 1;
	/* Write the bytes as found: the blob is already valid raw BTF. */
	if (!btf_find_in_image(img, size, img_path, &off, &len, &merge_log))
		ret = write_file(out_path, img + off, len) ? 1 : 0;
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
