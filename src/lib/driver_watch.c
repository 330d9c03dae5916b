// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The driver going away (see msmvm/driver_watch.h). sysfs gives each directory an inode
 * number of its own for its whole life and a new one when it is made again, so the inode
 * of /sys/module/NAME tells an instance from the next one, with no privileges (the alert
 * daemon polls it after dropping them) and no cost worth counting (one stat per poll).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "msmvm/driver_watch.h"

static bool valid_name(const char *module)
{
	return module && *module && strlen(module) < 64 && !strchr(module, '/') &&
	       strcmp(module, ".") && strcmp(module, "..");
}

int msmvm_driver_watch_init(struct msmvm_driver_watch *w, const char *root, const char *module)
{
	char path[1200];
	struct stat st;

	memset(w, 0, sizeof(*w));
	if (!valid_name(module) || !root || strlen(root) >= sizeof(w->root))
		return -EINVAL;
	w->active = true;
	snprintf(w->module, sizeof(w->module), "%s", module);
	snprintf(w->root, sizeof(w->root), "%s", root);
	snprintf(path, sizeof(path), "%s/module/%s", root, module);
	if (stat(path, &st))
		return -ENOENT;	/* ino 0: every poll says unloaded */
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	return 0;
}

enum msmvm_driver_state msmvm_driver_watch_poll(const struct msmvm_driver_watch *w)
{
	char path[1200];
	struct stat st;

	if (!w->active)
		return MSMVM_DRIVER_LOADED;
	snprintf(path, sizeof(path), "%s/module/%s", w->root, w->module);
	/*
	 * Only ENOENT means gone: a transient error (EINTR, ENOMEM) must not end a recording.
	 * ENOTDIR too: the path's parent is no directory at all.
	 */
	if (stat(path, &st))
		return errno == ENOENT || errno == ENOTDIR || !w->ino ? MSMVM_DRIVER_UNLOADED
								       : MSMVM_DRIVER_LOADED;
	return (uint64_t)st.st_dev == w->dev && (uint64_t)st.st_ino == w->ino
		       ? MSMVM_DRIVER_LOADED : MSMVM_DRIVER_UNLOADED;
}

bool msmvm_driver_ready(const char *root, const char *module)
{
	char path[1200], state[32] = "";
	struct stat st;
	ssize_t n;
	int fd;

	if (!valid_name(module))
		return false;
	snprintf(path, sizeof(path), "%s/module/%s/initstate", root, module);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, state, sizeof(state) - 1);
	close(fd);
	if (n <= 0 || strncmp(state, "live", 4))	/* "coming" or "going": not yet, not any more */
		return false;
	snprintf(path, sizeof(path), "%s/kernel/btf/%s", root, module);
	return stat(path, &st) == 0;
}

int msmvm_driver_watch_start(struct msmvm_driver_watch *w, const struct msmvm *m)
{
	const char *root = getenv(MSMVM_SYSFS_ENV), *test_module = getenv(MSMVM_WATCH_MODULE_ENV);
	const char *module;

	memset(w, 0, sizeof(*w));
	if (!root || !*root)
		root = "/sys";
	if (m->opts.target == MSMVM_TARGET_SIM)
		module = test_module && *test_module ? test_module : NULL;
	else
		module = m->opts.btf_path ? NULL : msmvm_driver_module(m);
	if (!module)
		return 0;	/* inactive: always loaded */
	return msmvm_driver_watch_init(w, root, module);
}

const char *msmvm_driver_watch_module(const struct msmvm_driver_watch *w)
{
	return w->module[0] ? w->module : "msm";
}
