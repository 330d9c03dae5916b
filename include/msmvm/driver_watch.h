/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The driver going away: is the module the probes were attached to still loaded? Kprobes
 * on a module's functions do not keep it loaded (fentry/fexit do), and nothing tells user
 * space when it goes: every tool polls this once per tick of its main loop. A poll is one
 * stat(2) of /sys/module/NAME, whose inode identifies the loaded instance: absent, or
 * another inode (unloaded and loaded again between two polls), means the instance the
 * probes were on is gone. The maps stay readable: what was counted up to then is kept.
 */
#ifndef MSMVM_DRIVER_WATCH_H
#define MSMVM_DRIVER_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "msmvm/msmvm.h"

/*
 * Test hooks (environment): MSMVM_SYSFS replaces /sys as the root the watch looks under;
 * MSMVM_WATCH_MODULE=NAME makes a session on the model (--sim) watch that module too, so
 * that a fake /sys/module/NAME stands for a module the tests can "unload" on any machine.
 */
#define MSMVM_SYSFS_ENV "MSMVM_SYSFS"
#define MSMVM_WATCH_MODULE_ENV "MSMVM_WATCH_MODULE"

struct msmvm_driver_watch {
	bool active;		/* false: nothing to watch (the model, a BTF file) */
	char module[64];
	char root[1024];	/* where sysfs is: "/sys" */
	uint64_t dev, ino;	/* /sys/module/NAME of the instance attached to */
};

enum msmvm_driver_state {
	MSMVM_DRIVER_LOADED,	/* the instance attached to is still there */
	MSMVM_DRIVER_UNLOADED,	/* gone, or replaced by another instance */
};

/*
 * Watch MODULE under the sysfs at ROOT, from the instance loaded now. 0, or -ENOENT when
 * it is not loaded (the watch then reports it unloaded), -EINVAL for a bad name.
 */
int msmvm_driver_watch_init(struct msmvm_driver_watch *w, const char *root, const char *module);
enum msmvm_driver_state msmvm_driver_watch_poll(const struct msmvm_driver_watch *w);

/*
 * An instance of MODULE is ready to attach to: loaded, its initstate "live" (not still
 * running its init, not going), and its BTF (ROOT/kernel/btf/MODULE) there.
 */
bool msmvm_driver_ready(const char *root, const char *module);

/*
 * The session's driver: the kernel target's module under /sys (or $MSMVM_SYSFS); the model
 * and BTF files are not watched (unless $MSMVM_WATCH_MODULE). Call once attached: it
 * records the instance loaded now. 0, or -ENOENT when the module is already gone.
 */
int msmvm_driver_watch_start(struct msmvm_driver_watch *w, const struct msmvm *m);

/* The module's name, for messages ("msm" unless --module). */
const char *msmvm_driver_watch_module(const struct msmvm_driver_watch *w);

#endif
