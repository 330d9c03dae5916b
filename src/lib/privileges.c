// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Privileges, checked before loading (dry runs load too) so that a missing one is named
 * instead of surfacing as libbpf's EPERM.
 */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static bool has_cap(uint64_t effective, int cap)
{
	return effective & (1ULL << cap);
}

/* CAP_BPF + CAP_PERFMON (5.8+), or CAP_SYS_ADMIN, in the effective set. */
int msmvm_caps_suffice(uint64_t effective, struct msmvm_err *err)
{
	bool bpf = has_cap(effective, MSMVM_CAP_BPF);
	bool perfmon = has_cap(effective, MSMVM_CAP_PERFMON);

	if (has_cap(effective, CAP_SYS_ADMIN) || (bpf && perfmon))
		return 0;
	return msmvm_fail(err, MSMVM_E_PERM, EPERM,
			  "missing capability %s%s%s: msmvm loads BPF programs and probes; run it as "
			  "root (sudo) or grant CAP_BPF and CAP_PERFMON",
			  bpf ? "" : "CAP_BPF", !bpf && !perfmon ? " and " : "",
			  perfmon ? "" : "CAP_PERFMON");
}

int msmvm_check_caps(struct msmvm_err *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data))
		return msmvm_fail(err, MSMVM_E_PERM, errno, "cannot read capabilities: %s",
				  strerror(errno));
	return msmvm_caps_suffice((uint64_t)data[1].effective << 32 | data[0].effective, err);
}
