// SPDX-License-Identifier: GPL-2.0
/*
 * msmvm-sim count OP...: pages the driver preallocates for one VM_BIND, and the merged runs,
 * through the ioctl's own code (msm_vm_bind_lookup_op() validates, vm_bind_count_ops() counts).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "count.h"

#define EXIT_USAGE 2

int sim_parse_size(const char *s, u64 *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end || (shift && v > (~0ULL >> shift)))
		return -1;
	*out = (u64)v << shift;
	return 0;
}

int sim_parse_vm_size(const char *s, u64 *out)
{
	u64 v;

	if (sim_parse_size(s, &v) || v < 64 * (1ULL << 20) || v > (1ULL << 48) ||
	    v & (SZ_2M - 1))
		return -1;
	*out = v;
	return 0;
}

int sim_parse_op(const char *arg, struct drm_msm_vm_bind_op *op)
{
	char kind[16], *c1, *c2, buf[256];
	u64 iova, range;

	memset(op, 0, sizeof(*op));
	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	c1 = strchr(buf, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || (size_t)(c1 - buf) >= sizeof(kind))
		return -1;
	memcpy(kind, buf, (size_t)(c1 - buf));
	kind[c1 - buf] = 0;
	*c2 = 0;
	if (sim_parse_size(c1 + 1, &iova) || sim_parse_size(c2 + 1, &range))
		return -1;
	if (!strcmp(kind, "map")) {
		op->op = MSM_VM_BIND_OP_MAP;
		op->handle = 1;	/* any BO: counting does not look at it */
	} else if (!strcmp(kind, "null")) {
		op->op = MSM_VM_BIND_OP_MAP_NULL;
	} else if (!strcmp(kind, "unmap")) {
		op->op = MSM_VM_BIND_OP_UNMAP;
	} else {
		return -1;
	}
	op->iova = iova;
	op->range = range;
	return 0;
}

static void count_usage(FILE *f)
{
	fputs("Usage: msmvm-sim count [--vm-size SIZE] OP...\n"
	      "       msmvm-sim count --batch\n"
	      "\n"
	      "Print the number of page-table pages the msm driver preallocates for one VM_BIND\n"
	      "with these ops, in this order (first line), then the merged runs it counted.\n"
	      "\n"
	      "OP is KIND:IOVA:RANGE with KIND one of map, null (MAP_NULL) or unmap; IOVA and\n"
	      "RANGE are decimal or 0x-hex, with an optional K, M, G or T suffix (x1024).\n"
	      "Ops are validated as the driver does (flags, 4 KiB alignment, non-empty, inside\n"
	      "the VM_BIND VM's VA space [4 GiB, 4 GiB + SIZE)): an invalid op is an error, as\n"
	      "the ioctl's -EINVAL would be.\n"
	      "\n"
	      "  --vm-size SIZE   the VM's size, a multiple of 2 MiB (default 256T, i.e. 2^48,\n"
	      "                   the largest a shipping GPU has): 4G (most GPUs), 16G or\n"
	      "                   256G (some a7xx), 256T (2^48, BIT(ias) on newer kernels)\n"
	      "\n"
	      "Rule: per merged run [first.iova, last.iova+last.range), one page per 512 GiB,\n"
	      "1 GiB and 2 MiB aligned block touched. Consecutive MAP/MAP_NULL ops merge when\n"
	      "the previous op's end and the next op's start share a 2 MiB-aligned base; UNMAP\n"
	      "ops are skipped and do not break a run.\n"
	      "\n"
	      "--batch: each line of stdin is the arguments of one count ([--vm-size SIZE]\n"
	      "OP...), answered by one line: its exit status, a tab, and the first line of\n"
	      "what it prints (stdout when the status is 0, else stderr). One process for many\n"
	      "op lists.\n"
	      "\n"
	      "Examples:\n"
	      "  msmvm-sim count map:0x100000000:4K            # 3\n"
	      "  msmvm-sim count map:0x100000000:64M           # 34\n"
	      "  msmvm-sim count null:0x1000000000:64G         # 32833\n",
	      f);
}

struct run_print {
	FILE *out;
	unsigned int n;
};

static void print_run(void *arg, u64 start, u64 end, u32 pages)
{
	struct run_print *rp = arg;

	fprintf(rp->out, "run %u: [0x%" PRIx64 ", 0x%" PRIx64 ") %u pages\n", rp->n++, start, end,
		pages);
}

int sim_count_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct drm_device dev = { .driver_name = "msm" };
	struct run_print rp = { .out = out };
	struct msm_vm_bind_job *job;
	struct drm_gpuvm *gpuvm;
	int first = 1, nops;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		count_usage(out);
		return 0;
	}
	msm_model.vm_size = MSM_VM_SIZE_DEFAULT;	/* each call on its own (tests, fuzzing) */
	/* options first: an op never starts with '-' */
	while (first < argc && !strncmp(argv[first], "--vm-size", 9)) {
		const char *v = argv[first][9] == '=' ? argv[first] + 10 :
				argv[first][9] ? NULL : argv[first + 1];

		if (!v && !argv[first][9]) {
			fputs("msmvm-sim: count: option '--vm-size' needs an argument (see --help)\n",
			      err);
			return EXIT_USAGE;
		}
		if (!v) {
			fprintf(err, "msmvm-sim: count: unknown option '%s' (see --help)\n",
				argv[first]);
			return EXIT_USAGE;
		}
		if (sim_parse_vm_size(v, &msm_model.vm_size)) {
			fprintf(err, "msmvm-sim: count: bad --vm-size '%s': a multiple of 2 MiB from"
				     " 64M to 256T (see --help)\n", v);
			return EXIT_USAGE;
		}
		first += argv[first][9] == '=' ? 1 : 2;
	}
	if (first < argc && argv[first][0] == '-' && strcmp(argv[first], "-")) {
		fprintf(err, "msmvm-sim: count: unknown option '%s' (see --help)\n", argv[first]);
		return EXIT_USAGE;
	}
	argv += first - 1;
	nops = argc - first;
	if (nops < 1) {
		fputs("msmvm-sim: count: no OP given (see --help)\n", err);
		return EXIT_USAGE;
	}

	gpuvm = msm_gem_vm_create(&dev, "count", 0, -1);
	if (!gpuvm) {
		fprintf(err, "msmvm-sim: out of memory\n");
		return 1;
	}
	job = calloc(1, sizeof(*job) + (size_t)nops * sizeof(job->ops[0]));
	if (!job) {
		msm_gem_vm_destroy(gpuvm);
		fprintf(err, "msmvm-sim: out of memory\n");
		return 1;
	}
	job->vm = gpuvm;

	for (int i = 0; i < nops; i++) {
		const char *arg = argv[i + 1];
		struct drm_msm_vm_bind_op op;

		if (sim_parse_op(arg, &op)) {
			fprintf(err, "msmvm-sim: count: bad op '%s': expected map|null|unmap:IOVA:RANGE"
				     " (see --help)\n", arg);
			free(job);
			msm_gem_vm_destroy(gpuvm);
			return EXIT_USAGE;
		}
		if (msm_vm_bind_lookup_op(job, &op)) {
			fprintf(err,
				"msmvm-sim: count: op '%s' would fail with -EINVAL (4 KiB alignment,"
				" non-empty, inside the VM [0x%" PRIx64 ", 0x%" PRIx64 "), see"
				" --vm-size)\n",
				arg, gpuvm->mm_start, gpuvm->mm_start + gpuvm->mm_range);
			free(job);
			msm_gem_vm_destroy(gpuvm);
			return EXIT_USAGE;
		}
	}

	/* Count first (the first line is the total), then print the runs. */
	vm_bind_count_ops(job, NULL, NULL);
	fprintf(out, "%u\n", job->prealloc.count);
	job->prealloc.count = 0;
	vm_bind_count_ops(job, print_run, &rp);

	free(job);
	msm_gem_vm_destroy(gpuvm);
	return 0;
}

/* First line of a memstream's text (modified in place), "" if none. */
static const char *first_line(char *text)
{
	if (!text)
		return "";
	text[strcspn(text, "\n")] = 0;
	return text;
}

int sim_count_batch(FILE *in, FILE *out, FILE *err)
{
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, in) >= 0) {
		char *obuf = NULL, *ebuf = NULL, *tok, *save;
		size_t olen, elen, n = 1, max = strlen(line) / 2 + 2;
		char **argv = calloc(max + 1, sizeof(*argv));
		FILE *o, *e;
		int rc;

		if (!argv) {
			fputs("msmvm-sim: out of memory\n", err);
			free(line);
			return 1;
		}
		argv[0] = "count";
		for (tok = strtok_r(line, " \t\r\n", &save); tok && n < max;
		     tok = strtok_r(NULL, " \t\r\n", &save))
			argv[n++] = tok;
		o = open_memstream(&obuf, &olen);
		e = open_memstream(&ebuf, &elen);
		if (!o || !e) {
			fputs("msmvm-sim: out of memory\n", err);
			free(argv);
			free(line);
			return 1;
		}
		rc = sim_count_main((int)n, argv, o, e);
		fclose(o);
		fclose(e);
		fprintf(out, "%d\t%s\n", rc, first_line(rc ? ebuf : obuf));
		fflush(out);
		free(obuf);
		free(ebuf);
		free(argv);
	}
	free(line);
	return 0;
}
