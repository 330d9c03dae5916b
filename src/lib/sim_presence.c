// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Whether the model is there at all (--sim). The probes are uprobes on the model's binary:
 * with no msmvm-sim running, a tool attaches fine and counts zeros, which reads like a model
 * with nothing to do. A process runs that binary when /proc/PID/exe is the same file (device
 * and inode: what the uprobes are on; a rebuilt binary is another inode and another model).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int msmvm_sim_running(const struct msmvm *m)
{
	struct stat model, st;
	struct dirent *d;
	char path[64];
	DIR *proc;
	int found = 0;

	if (m->opts.target != MSMVM_TARGET_SIM)
		return 1;
	if (stat(m->sim_path, &model))
		return -errno;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while (!found && (d = readdir(proc))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/exe", d->d_name);
		/* others' processes: only root may follow their exe; a gone one is ENOENT */
		if (!stat(path, &st) && st.st_dev == model.st_dev && st.st_ino == model.st_ino)
			found = 1;
	}
	closedir(proc);
	return found;
}

bool msmvm_sim_seen(struct msmvm *m, const struct msmvm_snapshot *s)
{
	struct msmvm_snapshot own;
	struct msmvm_err err;
	bool counted;

	if (m->opts.target != MSMVM_TARGET_SIM || m->sim_at_attach)
		return true;
	if (!s) {
		if (msmvm_snapshot(m, &own, &err))
			return true;	/* cannot tell: say nothing */
		counted = own.totals.c.binds > 0;
		msmvm_snapshot_free(&own);
	} else {
		counted = s->totals.c.binds > 0;
	}
	/* a model that bound and ended is seen; one still starting up is there too */
	return counted || msmvm_sim_running(m) != 0;
}

const char *msmvm_sim_hint(const struct msmvm *m, bool now, char *buf, size_t size)
{
	char cwd[4096];
	const char *path = m->sim_path;
	size_t n;

	/* under the current directory: the path as typed from there (build/msmvm-sim) */
	if (getcwd(cwd, sizeof(cwd)) && (n = strlen(cwd)) > 1 && !strncmp(path, cwd, n) &&
	    path[n] == '/')
		path += n + 1;
	snprintf(buf, size, "no process of the model %s %s: start one too, e.g. '%s run -w mixed "
		 "-P 2' in another terminal", path, now ? "is running, so there is nothing to see" :
		 "ran while watching, so there was nothing to see", path);
	return buf;
}
