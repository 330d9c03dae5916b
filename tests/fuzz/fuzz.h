/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the fuzz targets (built with clang -fsanitize=fuzzer for `make fuzz`, and with
 * gcc -fsanitize=address,undefined into build/tests/test_fuzz_* for `make test`, which
 * replays the committed corpus through the same LLVMFuzzerTestOneInput).
 */
#ifndef MSMVM_FUZZ_H
#define MSMVM_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed property: report it the way a sanitizer would, and abort (a crash input). */
#define FUZZ_CHECK(cond, ...)                                                              \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__,     \
				__LINE__, #cond);                                          \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/*
 * The input as a file the code under test opens by path (it reads files, not buffers):
 * one memfd, rewritten per input, named /proc/self/fd/N. No disk, no temp file to clean.
 */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	size_t off = 0;

	if (fd < 0) {
		fd = memfd_create("msmvm-fuzz", MFD_CLOEXEC);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0)) {
		perror("ftruncate");
		abort();
	}
	while (off < size) {
		ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);

		if (n <= 0) {
			perror("pwrite");
			abort();
		}
		off += (size_t)n;
	}
	return path;
}

#endif
