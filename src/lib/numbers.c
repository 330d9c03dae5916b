// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one number syntax (include/msmvm/numbers.h). */
#include <errno.h>
#include <stdlib.h>

#include "msmvm/numbers.h"

int msmvm_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;	/* past 2^64: out of any range */
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int msmvm_parse_decimal(const char *s, double min, double max, double *out)
{
	size_t digits = 0, dots = 0;
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && !dots)
			dots++;
		else
			return -1;
	}
	if (!digits)
		return -1;
	errno = 0;
	v = strtod(s, &end);	/* the syntax is checked: strtod only converts */
	if (errno || *end || !(v >= min) || !(v <= max))
		return -1;
	*out = v;
	return 0;
}
