// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: msmvm-alert's config parser. The input is the config file handed to
 * msmvm_alert_cfg_load() (--config FILE, and re-read on SIGHUP), which calls
 * msmvm_alert_cfg_set() per 'key = value' line: trimming, comments, long lines, every key's
 * value parser.
 *
 * Properties checked besides the sanitizers: an error is one line naming FILE:LINE (or the
 * file); a file that loads leaves settings inside their documented ranges and every string
 * setting terminated inside its buffer.
 */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "msmvm/alert.h"

#define TERMINATED(a) (memchr((a), 0, sizeof(a)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct msmvm_alert_cfg c;
	char err[512];

	msmvm_alert_cfg_defaults(&c);
	memset(err, 0x55, sizeof(err));
	if (msmvm_alert_cfg_load(&c, path, err, sizeof(err))) {
		FUZZ_CHECK(TERMINATED(err), "error message not terminated");
		FUZZ_CHECK(!strncmp(err, path, strlen(path)), "error does not name the file: %s", err);
		FUZZ_CHECK(!strchr(err, '\n'), "error is not one line: %s", err);
		return 0;
	}
	FUZZ_CHECK(TERMINATED(c.exec) && TERMINATED(c.textfile) && TERMINATED(c.listen) &&
		   TERMINATED(c.flight_dir), "a string setting is not terminated");
	FUZZ_CHECK(c.stall_ms == 0 || (c.stall_ms > 0 && c.stall_ms <= c.stall_window_ms),
		   "stall %g/%g", c.stall_ms, c.stall_window_ms);
	FUZZ_CHECK(c.interval_s >= 0.01 && c.interval_s <= 10, "interval %g", c.interval_s);
	FUZZ_CHECK(c.limit >= 1, "limit %lld", (long long)c.limit);
	FUZZ_CHECK(c.drift_pages >= -1, "drift %lld", (long long)c.drift_pages);
	FUZZ_CHECK(c.ring_s >= 0.1 && c.ring_s <= 3600, "ring %g", c.ring_s);
	FUZZ_CHECK(c.exec_timeout_s >= 0.01 && c.exec_timeout_s <= 3600, "exec-timeout %g",
		   c.exec_timeout_s);
	FUZZ_CHECK(!isnan(c.wait_max_ms) && !isnan(c.wedge_s) && !isnan(c.waste_mib) &&
		   !isnan(c.waste_window_s), "a NaN setting");
	FUZZ_CHECK(!c.listen[0] || strchr(c.listen, ':'), "listen without a port: %s", c.listen);
	return 0;
}
