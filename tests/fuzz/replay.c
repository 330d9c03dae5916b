// SPDX-License-Identifier: GPL-2.0
/*
 * The regression mode of a fuzz target: runs every committed input of tests/fuzz/NAME/
 * (the seed corpus in corpus/, and crash inputs kept in crashes/ after their fix) through
 * the target's LLVMFuzzerTestOneInput, each in a child process, built with ASan and UBSan.
 * `make test` runs it as build/tests/test_fuzz_NAME; with arguments, it replays those files
 * or directories instead (to check a new crash input).
 *
 * Prints "ok fuzz_NAME_corpus # N inputs", "ok fuzz_NAME_crash_FILE" per crash input, or
 * "not ok ..." with the inputs that failed (their sanitizer report precedes it).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"name\""
#endif

static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0, r;
	uint8_t *buf = malloc(cap);

	if (!f || !buf) {
		free(buf);
		if (f)
			fclose(f);
		return -1;
	}
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);

			if (!nb) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
	}
	fclose(f);
	*data = buf;
	*size = n;
	return 0;
}

/* One input in a child: 0 if it ran clean, else a description in why. */
static int run_one(const char *path, char *why, size_t len)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		uint8_t *data;
		size_t size;

		if (read_file(path, &data, &size)) {
			fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
			_exit(3);
		}
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) < 0) {
		snprintf(why, len, "waitpid: %s", strerror(errno));
		return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st))
		snprintf(why, len, "%s: killed by signal %d", path, WTERMSIG(st));
	else
		snprintf(why, len, "%s: exit status %d", path, WEXITSTATUS(st));
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted (a stable order for the output). */
static int list_dir(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *p;
		struct stat sb;

		if (de->d_name[0] == '.' || asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (stat(p, &sb) || !S_ISREG(sb.st_mode)) {
			free(p);
			continue;
		}
		v = realloc(v, sizeof(*v) * (size_t)(n + 1));
		v[n++] = p;
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Every file of the seed corpus: one line for the lot. */
static int replay_corpus(const char *dir)
{
	char **files, why[4096];
	int n = list_dir(dir, &files), bad = 0;

	if (n <= 0) {
		printf("not ok fuzz_%s_corpus\n#   no seed inputs in %s\n", FUZZ_NAME, dir);
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (run_one(files[i], why, sizeof(why))) {
			if (!bad++)
				printf("not ok fuzz_%s_corpus\n", FUZZ_NAME);
			printf("#   %s\n", why);
		}
	if (!bad)
		printf("ok fuzz_%s_corpus # %d inputs replayed\n", FUZZ_NAME, n);
	free_list(files, n);
	return bad != 0;
}

/* Each committed crash input: a line of its own, named after the file. */
static int replay_crashes(const char *dir)
{
	char **files, why[4096];
	int n = list_dir(dir, &files), bad = 0;

	for (int i = 0; i < n; i++) {
		const char *base = strrchr(files[i], '/') + 1;

		if (run_one(files[i], why, sizeof(why))) {
			printf("not ok fuzz_%s_crash_%s\n#   %s\n", FUZZ_NAME, base, why);
			bad++;
		} else {
			printf("ok fuzz_%s_crash_%s # fixed, stays fixed\n", FUZZ_NAME, base);
		}
	}
	if (n > 0)
		free_list(files, n);
	return bad != 0;
}

int main(int argc, char **argv)
{
	int bad = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			struct stat sb;
			char why[4096];

			if (!stat(argv[i], &sb) && S_ISDIR(sb.st_mode)) {
				bad |= replay_crashes(argv[i]);
			} else if (run_one(argv[i], why, sizeof(why))) {
				printf("not ok fuzz_%s %s\n#   %s\n", FUZZ_NAME, argv[i], why);
				bad = 1;
			} else {
				printf("ok fuzz_%s %s\n", FUZZ_NAME, argv[i]);
			}
		}
		return bad;
	}
	bad |= replay_corpus("tests/fuzz/" FUZZ_NAME "/corpus");
	bad |= replay_crashes("tests/fuzz/" FUZZ_NAME "/crashes");
	return bad;
}
