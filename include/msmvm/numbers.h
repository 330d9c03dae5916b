/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One number syntax for every option and config value of every tool: decimal digits, and
 * where a fraction makes sense (seconds, MiB) an optional '.digits'. No sign, exponent, hex,
 * "inf" or "nan": strtod() takes all of those, so '-d 1e8' and '-d 0x10' used to mean things
 * nobody typed. Each returns 0 with the value in *out, or -1 (S malformed or outside
 * [min, max]); the caller's message names the option and the range.
 */
#ifndef MSMVM_NUMBERS_H
#define MSMVM_NUMBERS_H

#include <stdint.h>

int msmvm_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int msmvm_parse_decimal(const char *s, double min, double max, double *out);

/* The largest throttle limit any tool takes: in_flight is the driver's atomic_t (an int). */
#define MSMVM_LIMIT_MAX 2147483647u

#endif
