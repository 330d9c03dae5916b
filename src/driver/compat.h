/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one header the driver's rules include for their environment: the kernel's own headers
 * in a kernel build, a few user-space equivalents otherwise. Both provide the same names
 * (u32, atomic_t, list_head, kzalloc, ...), so the rules read as driver code in either.
 */
#ifndef MSMVM_DRIVER_COMPAT_H
#define MSMVM_DRIVER_COMPAT_H

#ifdef __KERNEL__
#include "compat_kernel.h"
#else
#include "compat_user.h"
#endif

#endif
