/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A command run under a tool, as `perf record -- CMD`: found before anything is attached,
 * forked and held (blocked reading a pipe) while the tool loads and attaches its probes,
 * then released to exec. An exec that fails in the child comes back as its errno through a
 * close-on-exec pipe. The tools' glue (the -c and -- flags, the signals) is in cli.h.
 */
#ifndef MSMVM_COMMAND_H
#define MSMVM_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

#include "msmvm/msmvm.h"

struct json_object;

struct msmvm_command {
	char **argv;		/* NULL-terminated; argv[0] as given */
	char path[4096];	/* argv[0] found (in PATH when it has no slash) */
	pid_t pid;		/* 0: not forked */
	int release_fd;		/* a byte: exec; EOF (the tool gone): exit quietly */
	int error_fd;		/* exec's errno from the child; EOF: it exec'd */
	sigset_t mask;		/* the signal state the child gets: the tool's at its start */
	sigset_t ignored;
	bool released, exited;
	int status;		/* waitpid()'s, once exited */
};

/*
 * Split -c's string into words as a shell splits simple words: blanks between words,
 * '...' and "..." quote (inside "...", \ escapes \ " $ `), \ escapes outside quotes.
 * Anything that would need a shell (| & ; < > ( ) $ ` * ? [ # ~ unquoted) is refused, with
 * why in buf: run `sh -c '...'` for those. 0, or -1.
 */
int msmvm_command_split(const char *line, char ***argv, char *why, size_t len);

/* argv[0] as execvp would find it, into path: 0, or -errno (ENOENT, EACCES, EISDIR). */
int msmvm_command_find(const char *name, char *path, size_t len);

/*
 * Are the pids fork() gives us the ones the probes see (the kernel's: this process is in
 * the initial pid namespace)? A command's tree can be followed only then.
 */
bool msmvm_command_pids_seen(void);

/* Is path an msmvm-sim binary (it has the function msm_ioctl_vm_bind)? */
bool msmvm_command_is_model(const char *path);

/* Fork the child, held; the signal state it will exec with is c->mask and c->ignored. */
int msmvm_command_spawn(struct msmvm_command *c, struct msmvm_err *err);
/*
 * Watch (msmvm_watch_tgid) its process and every descendant it has now (from /proc): at
 * start only itself; after a re-attach, the tree as it is then.
 */
int msmvm_command_watch_tree(const struct msmvm_command *c, struct msmvm *m,
			     struct msmvm_err *err);
/* Let it exec; 0, or the exec's failure (the child reaped). */
int msmvm_command_release(struct msmvm_command *c, struct msmvm_err *err);
/* Has it exited (reaped without waiting)? */
bool msmvm_command_poll(struct msmvm_command *c);
/* Wait for it to exit. */
void msmvm_command_wait(struct msmvm_command *c);
/* "exited with status N" or "was killed by signal S (NAME)". */
void msmvm_command_describe(const struct msmvm_command *c, char *buf, size_t len);
/* {"argv": [...], "pid": N, "exit_status": N or null, "signal": S or null}. */
struct json_object *msmvm_command_json(const struct msmvm_command *c);

#endif
