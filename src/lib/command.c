// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A command run under a tool: found, forked and held, released once the probes are in. */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "msmvm/command.h"

/* Characters a shell would give a meaning to, outside quotes. */
static const char shell_special[] = "|&;<>()$`*?[";

int msmvm_command_split(const char *line, char ***argv, char *why, size_t len)
{
	size_t n = strlen(line), nwords = 0, cap = 8;
	char *buf = malloc(n + 1), *o = buf, **v = malloc(cap * sizeof(*v));
	const char *p = line;

	if (!buf || !v)
		goto nomem;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		if (*p == '#' || *p == '~') {
			snprintf(why, len, "'%c' at the start of a word needs a shell", *p);
			goto fail;
		}
		if (nwords + 2 > cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
		}
		v[nwords++] = o;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			if (*p == '\'') {
				const char *e = strchr(p + 1, '\'');

				if (!e) {
					snprintf(why, len, "a ' is not closed");
					goto fail;
				}
				memcpy(o, p + 1, (size_t)(e - p - 1));
				o += e - p - 1;
				p = e + 1;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '$' || *p == '`') {
						snprintf(why, len, "'%c' inside \"...\" needs a shell", *p);
						goto fail;
					}
					if (*p == '\\' && p[1] && strchr("\\\"$`", p[1]))
						p++;
					*o++ = *p;
				}
				if (!*p) {
					snprintf(why, len, "a \" is not closed");
					goto fail;
				}
				p++;
			} else if (*p == '\\') {
				if (!p[1]) {
					snprintf(why, len, "a \\ ends it");
					goto fail;
				}
				*o++ = p[1];
				p += 2;
			} else if (strchr(shell_special, *p)) {
				snprintf(why, len, "'%c' needs a shell", *p);
				goto fail;
			} else {
				*o++ = *p++;
			}
		}
		*o++ = 0;
	}
	if (!nwords) {
		snprintf(why, len, "no command in it");
		goto fail;
	}
	v[nwords] = NULL;
	*argv = v;
	return 0;
nomem:
	snprintf(why, len, "out of memory");
fail:
	free(buf);
	free(v);
	return -1;
}

/* A regular file we may execute: 0, or -errno. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) || access(path, X_OK))
		return -EACCES;
	return 0;
}

int msmvm_command_find(const char *name, char *path, size_t len)
{
	const char *env = getenv("PATH"), *p;
	int first = -ENOENT;

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		snprintf(path, len, "%s", name);
		return executable(path);
	}
	/* as execvp: an unset PATH is the system's default, an empty entry the cwd */
	if (!env)
		env = "/bin:/usr/bin";
	for (p = env;; p++) {
		const char *e = strchrnul(p, ':');
		int r;

		if (e == p)
			snprintf(path, len, "%s", name);
		else
			snprintf(path, len, "%.*s/%s", (int)(e - p), p, name);
		r = executable(path);
		if (r == 0)
			return 0;
		if (r != -ENOENT && r != -ENOTDIR && first == -ENOENT)
			first = r;	/* found but not runnable: said if nothing better comes */
		if (!*e)
			break;
		p = e;
	}
	path[0] = 0;
	return first;
}

bool msmvm_command_pids_seen(void)
{
	return msmvm_in_init_pidns();
}

bool msmvm_command_is_model(const char *path)
{
	struct msmvm_symtab t = { 0 };

	return msmvm_symtab_want(&t, "msm_ioctl_vm_bind", NULL) == 0 &&
	       msmvm_symtab_read_elf(&t, path) > 0;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn)) child(struct msmvm_command *c, int release_rd,
					    int error_wr)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, ign = { .sa_handler = SIG_IGN };
	char go = 0;
	ssize_t n;
	int e;

	/* the signal state the tool was started with, not the tool's own handlers */
	for (int s = 1; s < NSIG; s++)
		sigaction(s, sigismember(&c->ignored, s) == 1 ? &ign : &dfl, NULL);
	sigprocmask(SIG_SETMASK, &c->mask, NULL);
	while ((n = read(release_rd, &go, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || go != 'x')
		_exit(127);	/* the tool ended (or failed) before attaching: never run */
	execv(c->path, c->argv);
	e = errno;
	while (write(error_wr, &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

int msmvm_command_spawn(struct msmvm_command *c, struct msmvm_err *err)
{
	int rel[2], er[2];

	if (pipe2(rel, O_CLOEXEC))
		return msmvm_fail(err, MSMVM_E_RUNTIME, errno, "pipe: %s", strerror(errno));
	if (pipe2(er, O_CLOEXEC)) {
		close(rel[0]);
		close(rel[1]);
		return msmvm_fail(err, MSMVM_E_RUNTIME, errno, "pipe: %s", strerror(errno));
	}
	fflush(NULL);	/* nothing buffered is written twice */
	c->pid = fork();
	if (c->pid < 0) {
		int e = errno;

		c->pid = 0;
		close(rel[0]);
		close(rel[1]);
		close(er[0]);
		close(er[1]);
		return msmvm_fail(err, MSMVM_E_RUNTIME, e, "cannot fork for %s: %s", c->argv[0],
				  strerror(e));
	}
	if (c->pid == 0) {
		close(rel[1]);
		close(er[0]);
		child(c, rel[0], er[1]);
	}
	close(rel[0]);
	close(er[1]);
	c->release_fd = rel[1];
	c->error_fd = er[0];
	return 0;
}

/* A process's parent, from /proc/PID/stat ("pid (comm) state ppid ..."); 0 if gone. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd, ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');	/* the comm may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

int msmvm_command_watch_tree(const struct msmvm_command *c, struct msmvm *m,
			     struct msmvm_err *err)
{
	pid_t *tree = NULL, *pids = NULL, *ppids = NULL;
	size_t ntree = 0, n = 0, cap = 0;
	struct dirent *d;
	DIR *dir;
	int ret;

	ret = msmvm_watch_tgid(m, (uint32_t)c->pid, err);
	if (ret || !c->released)
		return ret;	/* held: it has no children yet */
	dir = opendir("/proc");
	if (!dir)
		return 0;	/* the root alone */
	while ((d = readdir(dir))) {
		int pid = atoi(d->d_name);

		if (pid <= 0)
			continue;
		if (n == cap) {
			pid_t *a = realloc(pids, (cap = cap ? 2 * cap : 256) * sizeof(*a));
			pid_t *b = a ? realloc(ppids, cap * sizeof(*b)) : NULL;

			if (a)
				pids = a;
			if (!a || !b)
				break;
			ppids = b;
		}
		pids[n] = pid;
		ppids[n++] = parent_of(pid);
	}
	closedir(dir);
	tree = malloc((n + 1) * sizeof(*tree));
	if (tree) {
		/* breadth first from the root: each pid's children in one pass over the list */
		tree[ntree++] = c->pid;
		for (size_t i = 0; i < ntree && !ret; i++)
			for (size_t j = 0; j < n && !ret; j++)
				if (ppids[j] == tree[i] && pids[j] != c->pid) {
					tree[ntree++] = pids[j];
					ret = msmvm_watch_tgid(m, (uint32_t)pids[j], err);
				}
	}
	free(tree);
	free(pids);
	free(ppids);
	return ret;
}

int msmvm_command_release(struct msmvm_command *c, struct msmvm_err *err)
{
	ssize_t n;
	int e = 0;

	if (!c->pid || c->released)
		return 0;
	c->released = true;
	while ((n = write(c->release_fd, "x", 1)) < 0 && errno == EINTR)
		;
	close(c->release_fd);
	c->release_fd = -1;
	/* EOF when the exec succeeded (the pipe is close-on-exec), else its errno */
	while ((n = read(c->error_fd, &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(c->error_fd);
	c->error_fd = -1;
	if (n <= 0)
		return 0;
	msmvm_command_wait(c);
	return msmvm_fail(err, MSMVM_E_RUNTIME, e, "cannot run '%s': %s", c->argv[0], strerror(e));
}

bool msmvm_command_poll(struct msmvm_command *c)
{
	if (!c->pid || c->exited)
		return c->exited;
	if (waitpid(c->pid, &c->status, WNOHANG) == c->pid)
		c->exited = true;
	return c->exited;
}

void msmvm_command_wait(struct msmvm_command *c)
{
	if (!c->pid || c->exited)
		return;
	while (waitpid(c->pid, &c->status, 0) < 0)
		if (errno != EINTR)
			return;
	c->exited = true;
}

void msmvm_command_describe(const struct msmvm_command *c, char *buf, size_t len)
{
	if (!c->exited)
		snprintf(buf, len, "is still running");
	else if (WIFSIGNALED(c->status))
		snprintf(buf, len, "was killed by signal %d (SIG%s)", WTERMSIG(c->status),
			 sigabbrev_np(WTERMSIG(c->status)) ? sigabbrev_np(WTERMSIG(c->status)) : "?");
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(c->status));
}

struct json_object *msmvm_command_json(const struct msmvm_command *c)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	bool sig = c->exited && WIFSIGNALED(c->status);

	for (char **p = c->argv; p && *p; p++)
		json_object_array_add(a, json_object_new_string(*p));
	json_object_object_add(o, "argv", a);
	json_object_object_add(o, "pid", json_object_new_int64(c->pid));
	json_object_object_add(o, "exit_status", c->exited && !sig
				? json_object_new_int(WEXITSTATUS(c->status)) : NULL);
	json_object_object_add(o, "signal", sig ? json_object_new_int(WTERMSIG(c->status)) : NULL);
	return o;
}
