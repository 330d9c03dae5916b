// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Errors every part of libmsmvm reports the same way: a kind, a negative errno, words. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

int msmvm_fail(struct msmvm_err *err, enum msmvm_err_kind kind, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->kind = kind;
		err->code = code < 0 ? code : -code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code < 0 ? code : -code;
}
