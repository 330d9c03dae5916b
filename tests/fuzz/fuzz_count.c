// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: `msmvm-sim count`'s op parser and calculator (tools/sim/count.c). The input
 * is the command line's OP arguments, one per line (a NUL also ends one: argv cannot hold
 * it), run through sim_count_main() exactly as `msmvm-sim count OP...` runs them.
 *
 * Properties checked besides the sanitizers:
 *  - it succeeds exactly when every op parses (sim_parse_op) and passes the driver's
 *    checks, restated here independently (4 KiB aligned, non-empty, no wrap, inside
 *    the VM_BIND VM [4 GiB, 4 GiB + VM size), the size 2^48 unless a leading
 *    `--vm-size SIZE` or `--vm-size=SIZE` gives a multiple of 2 MiB in [64 MiB, 2^48]);
 *  - the total (first line) equals an independent implementation of the counting rule
 *    (as tests/test_count.c's, written from the rule's text, not the driver's code), and
 *    the runs printed after it add up to it;
 *  - usage errors are one line on stderr starting "msmvm-sim: ".
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <string.h>

#include "count.h"
#include "fuzz.h"

#define MAX_ARGS 4096

static uint64_t ref_blocks(uint64_t lo, uint64_t hi, unsigned shift)
{
	if (hi <= lo)	/* a backwards run inside one 2 MiB block still touches lo's blocks */
		hi = lo + 1;
	return ((hi - 1) >> shift) - (lo >> shift) + 1;
}

static uint32_t ref_count(const struct drm_msm_vm_bind_op *ops, unsigned n)
{
	uint64_t total = 0, lo = 0, end = 0;
	int in_run = 0;

	for (unsigned i = 0; i < n; i++) {
		if (ops[i].op == MSM_VM_BIND_OP_UNMAP)
			continue;
		if (in_run && (end >> 21) == (ops[i].iova >> 21)) {
			end = ops[i].iova + ops[i].range;
			continue;
		}
		if (in_run)
			total += ref_blocks(lo, end, 39) + ref_blocks(lo, end, 30) +
				 ref_blocks(lo, end, 21);
		lo = ops[i].iova;
		end = ops[i].iova + ops[i].range;
		in_run = 1;
	}
	if (in_run)
		total += ref_blocks(lo, end, 39) + ref_blocks(lo, end, 30) + ref_blocks(lo, end, 21);
	return (uint32_t)total;
}

static uint64_t ref_vm_size = 1ULL << 48;

static int ref_valid(const struct drm_msm_vm_bind_op *op)
{
	const uint64_t lo = 4ULL << 30, hi = lo + ref_vm_size;

	return !(op->iova & 4095) && !(op->range & 4095) && op->range &&
	       op->iova + op->range > op->iova && op->iova >= lo && op->iova + op->range <= hi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *argv[MAX_ARGS + 2];
	static struct drm_msm_vm_bind_op ops[MAX_ARGS];
	char *text, *out = NULL, *err = NULL, *line, *next;
	size_t outlen = 0, errlen = 0;
	FILE *fout, *ferr;
	int argc = 1, all_valid = 1, rc, first = 1;
	uint64_t runs_total = 0;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	argv[0] = "count";
	for (char *p = text, *end = text + size; p <= end && argc <= MAX_ARGS;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *stop = nl ? nl : end;

		*stop = 0;	/* a NUL inside ends the argument there, as in argv */
		if (p < end || nl)
			argv[argc++] = p;
		p = stop + 1;
	}
	argv[argc] = NULL;

	fout = open_memstream(&out, &outlen);
	ferr = open_memstream(&err, &errlen);
	rc = sim_count_main(argc, argv, fout, ferr);
	fclose(fout);
	fclose(ferr);

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		FUZZ_CHECK(rc == 0 && !strncmp(out, "Usage: msmvm-sim count", 22), "--help");
		goto done;
	}
	/* a leading --vm-size: the rest are ops in a VM of that size */
	ref_vm_size = 1ULL << 48;
	if (argc >= 2 && argv[1][0] == '-') {
		const char *v = !strcmp(argv[1], "--vm-size") ? (argc >= 3 ? argv[2] : NULL) :
				!strncmp(argv[1], "--vm-size=", 10) ? argv[1] + 10 : NULL;
		uint64_t size;

		first = !strcmp(argv[1], "--vm-size") ? 3 : 2;
		if (!v || sim_parse_size(v, &size) || size < (64ULL << 20) || size > (1ULL << 48) ||
		    size % (2ULL << 20))
			all_valid = 0;
		else
			ref_vm_size = size;
	}
	for (int i = first; i < argc; i++) {
		if (sim_parse_op(argv[i], &ops[i - first]) || !ref_valid(&ops[i - first]))
			all_valid = 0;
	}
	if (first > argc - 1)
		all_valid = 0;	/* no op */
	if (argc == 1 || !all_valid) {
		FUZZ_CHECK(rc == 2, "exit %d for invalid ops, expected 2 (stderr: %s)", rc, err);
		FUZZ_CHECK(!strncmp(err, "msmvm-sim: ", 11) && strchr(err, '\n') == err + errlen - 1,
			   "usage error is not one 'msmvm-sim: ' line: %s", err);
		FUZZ_CHECK(outlen == 0, "output despite an error: %s", out);
		goto done;
	}
	FUZZ_CHECK(rc == 0, "exit %d for valid ops (stderr: %s)", rc, err);
	FUZZ_CHECK(errlen == 0, "stderr for valid ops: %s", err);
	{
		unsigned long total = strtoul(out, &next, 10);
		uint32_t want = ref_count(ops, (unsigned)(argc - first));
		unsigned nrun = 0;

		FUZZ_CHECK(*next == '\n', "first line is not a number: %s", out);
		FUZZ_CHECK(total == want, "count %lu, the rule says %u", total, want);
		for (line = next + 1; *line; line = strchr(line, '\n') + 1) {
			unsigned n, pages;
			uint64_t a, b;

			FUZZ_CHECK(sscanf(line, "run %u: [0x%" SCNx64 ", 0x%" SCNx64 ") %u pages", &n, &a,
					  &b, &pages) == 4 && n == nrun,
				   "bad run line: %.80s", line);
			nrun++;
			runs_total += pages;
		}
		FUZZ_CHECK((uint32_t)runs_total == (uint32_t)total, "runs add up to %llu, total %lu",
			   (unsigned long long)runs_total, total);
	}
done:
	free(out);
	free(err);
	free(text);
	return 0;
}
