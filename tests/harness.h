/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal test harness: TEST() registers a function, CHECK*() record failures and go on.
 * Each test prints "ok NAME" or "not ok NAME" (with the failed checks above it);
 * tests/run-tests.sh adds up these lines over every test program into the final
 * "N passed, N failed, N skipped" line.
 */
#ifndef MSMVM_TEST_HARNESS_H
#define MSMVM_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);

static struct {
	const char *name;
	test_fn fn;
} harness_tests[256];
static int harness_ntests;
static int harness_failed_checks;
static const char *harness_skip_reason;

static inline void harness_register(const char *name, test_fn fn)
{
	if (harness_ntests < 256)
		harness_tests[harness_ntests++] = (typeof(harness_tests[0])){ name, fn };
}

#define TEST(name)                                                                   \
	static void name(void);                                                      \
	__attribute__((constructor)) static void register_##name(void)               \
	{                                                                            \
		harness_register(#name, name);                                       \
	}                                                                            \
	static void name(void)

#define FAILF(...)                                                                   \
	do {                                                                         \
		harness_failed_checks++;                                             \
		fprintf(stdout, "#   %s:%d: ", __FILE__, __LINE__);                 \
		fprintf(stdout, __VA_ARGS__);                                        \
		fputc('\n', stdout);                                                 \
	} while (0)

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond))                                                         \
			FAILF("CHECK(%s) failed", #cond);                            \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                  \
		if (_a != _b)                                                        \
			FAILF("%s == %lld, expected %s == %lld", #a, _a, #b, _b);    \
	} while (0)

#define CHECK_LE(a, b)                                                               \
	do {                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                  \
		if (!(_a <= _b))                                                     \
			FAILF("%s (%lld) <= %s (%lld) does not hold", #a, _a, #b, _b); \
	} while (0)

#define CHECK_STR(a, b)                                                              \
	do {                                                                         \
		const char *_a = (a), *_b = (b);                                     \
		if (strcmp(_a, _b))                                                  \
			FAILF("%s is \"%s\", expected \"%s\"", #a, _a, _b);          \
	} while (0)

#define SKIP(reason) do { harness_skip_reason = (reason); return; } while (0)

static inline int harness_main(void)
{
	int failed = 0;
	const char *only = getenv("TEST_ONLY");

	for (int i = 0; i < harness_ntests; i++) {
		int before = harness_failed_checks;

		if (only && !strstr(harness_tests[i].name, only))
			continue;
		harness_skip_reason = NULL;
		harness_tests[i].fn();
		fflush(stderr);
		if (harness_failed_checks != before) {
			printf("not ok %s\n", harness_tests[i].name);
			failed++;
		} else if (harness_skip_reason) {
			printf("skip %s # %s\n", harness_tests[i].name, harness_skip_reason);
		} else {
			printf("ok %s\n", harness_tests[i].name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define TEST_MAIN() int main(void) { return harness_main(); }

#endif
