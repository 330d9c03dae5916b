// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Forgetting exited processes. The maps are fixed in size (usage and stalls: 8192 entries)
 * and a desktop starts thousands of short-lived Vulkan processes a day: an exited process's
 * entries leave the maps, and what they counted is folded into one "(exited)" row that the
 * snapshot adds (VM MSMVM_VM_EXITED, process tgid 0), so every total stays exact.
 *
 * An entry (a VM as used by a process) is forgotten when, all at once:
 * - its process is gone (kill(tgid, 0) says ESRCH; a zombie is not gone yet);
 * - its last VM_BIND returned over forget_after_s ago;
 * - its VM has nothing in flight and freed no job for forget_after_s: a free books into the
 *   entry of the job's binder, so a job still to be freed would land in a deleted entry.
 * Then its VM's gauge slot, owner and stall gauge go when no entry of the VM is left, and
 * the process's stall gauge when none of its entries is left (each only with no waiter).
 * Process ids come from the probes, in the initial pid namespace: a tool in another one
 * cannot tell which are gone and forgets nothing.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* /proc/self/ns/pid of the initial pid namespace (PROC_PID_INIT_INO) */
#define INIT_PIDNS "pid:[4026531836]"

struct msmvm_forgotten *forget_state(struct msmvm *m)
{
	if (!m->forgotten)
		m->forgotten = calloc(1, sizeof(*m->forgotten));
	return m->forgotten;
}

bool msmvm_in_init_pidns(void)
{
	char link[64];
	ssize_t n = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);

	if (n <= 0)
		return false;
	link[n] = 0;
	return !strcmp(link, INIT_PIDNS);
}

static bool process_gone(uint32_t tgid)
{
	return tgid && kill((pid_t)tgid, 0) && errno == ESRCH;
}

struct vm_id {
	uint64_t vm;
	uint32_t scope;
};

/* A small set, searched linearly: the maps hold at most a few thousand entries. */
struct idset {
	struct vm_id *v;
	int n, cap;
};

static bool idset_has(const struct idset *s, uint64_t vm, uint32_t scope)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i].vm == vm && s->v[i].scope == scope)
			return true;
	return false;
}

static int idset_add(struct idset *s, uint64_t vm, uint32_t scope)
{
	if (idset_has(s, vm, scope))
		return 0;
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 32;
		void *n = realloc(s->v, (size_t)cap * sizeof(*s->v));

		if (!n)
			return -ENOMEM;
		s->v = n;
		s->cap = cap;
	}
	s->v[s->n++] = (struct vm_id){ vm, scope };
	return 0;
}

static const struct msmvm_vm_snap *vm_row(const struct msmvm_snapshot *snap, uint64_t vm,
					  uint32_t scope)
{
	for (int i = 0; i < snap->nvms; i++)
		if (snap->vms[i].vm == vm && snap->vms[i].scope == scope)
			return &snap->vms[i];
	return NULL;
}

/* The VM is idle: nothing in flight, no job freed within the grace period. */
static bool vm_idle(const struct msmvm_vm_snap *v, uint64_t now, uint64_t grace)
{
	if (!v)
		return true;
	return v->s.c.in_flight == 0 && (!v->s.last_free_ns || v->s.last_free_ns + grace < now);
}

/* Take an entry out of a hash map, its value in *val: atomic where the kernel can (5.14). */
static int take(int fd, const void *key, void *val)
{
	if (!bpf_map_lookup_and_delete_elem(fd, key, val))
		return 0;
	if (errno != EINVAL && errno != 524 /* ENOTSUPP */ && errno != EOPNOTSUPP)
		return -1;
	if (bpf_map_lookup_elem(fd, key, val))
		return -1;
	return bpf_map_delete_elem(fd, key);
}

/*
 * The VM's gauge slots (in its probe sequence), cleared if nothing is in flight. The first
 * one is the VM's (the programs and snapshot.c read it); a second one, left by two first
 * claims at once, holds a stale in_flight and goes with it.
 */
static void clear_gauge(struct msmvm *m, uint64_t vm, uint32_t scope)
{
	int fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_vm_gauges);
	const uint32_t slots = 1U << MSMVM_VM_GAUGE_SLOTS_LOG2;
	uint32_t h = msmvm_slot_hash(vm, scope, MSMVM_VM_GAUGE_SLOTS_LOG2);
	static const struct msmvm_vm_gauge empty;
	bool first = true;

	if (fd < 0 || !m->gauges)
		return;
	for (uint32_t k = 0; k < MSMVM_TABLE_PROBES; k++) {
		uint32_t i = (h + k) & (slots - 1);
		const volatile struct msmvm_vm_gauge *g = &m->gauges[i];

		if (g->vm != vm || g->scope != scope || !g->ready)
			continue;
		if (first && g->in_flight)
			return;		/* pages still in flight: the VM stays */
		first = false;
		if (g->peak_in_flight > m->forgotten->s.c.peak_in_flight)
			m->forgotten->s.c.peak_in_flight = g->peak_in_flight;
		if (!bpf_map_update_elem(fd, &i, &empty, BPF_ANY) && m->gauges_seen)
			memset(&m->gauges_seen[i], 0, sizeof(m->gauges_seen[i]));
	}
}

/* A stall gauge with no waiter: its time folded into *into, the entry deleted. */
static void drop_stall(int fd, uint64_t vm, uint32_t scope, uint32_t tgid, uint64_t *into)
{
	struct msmvm_usage_key k = { .vm = vm, .scope = scope, .tgid = tgid };
	struct msmvm_stall g;

	if (bpf_map_lookup_elem(fd, &k, &g) || g.waiters)
		return;
	if (!take(fd, &k, &g) && !g.waiters)
		*into += g.stall_ns_total;
}

int forget_exited(struct msmvm *m, const struct msmvm_snapshot *snap)
{
	int usage_fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_usage);
	int stalls_fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_stalls);
	int owner_fd = msmvm_map_fd(&m->bpf, MSMVM_MAP_vm_owner);
	double after = m->opts.forget_after_s ? m->opts.forget_after_s
					      : MSMVM_FORGET_AFTER_DEFAULT_S;
	uint64_t now = snap->ts_ns, grace = (uint64_t)(after * 1e9);
	struct msmvm_forgotten *f;
	struct msmvm_usage_key k, *prev = NULL, *gone = NULL;
	struct idset live_vms = { 0 }, gone_vms = { 0 }, live_procs = { 0 }, gone_procs = { 0 };
	struct msmvm_stats *s;
	int ngone = 0, capgone = 0, ret = 0;

	if (after < 0 || usage_fd < 0 || stalls_fd < 0)
		return 0;
	f = forget_state(m);
	if (!f)
		return -ENOMEM;
	if (now < f->next_ns)
		return 0;
	f->next_ns = now + 1000000000ULL;	/* once a second: a kill() per entry */
	if (!f->pidns_checked) {
		f->pidns_checked = true;
		f->pidns_initial = msmvm_in_init_pidns();
	}
	if (!f->pidns_initial)
		return 0;

	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	while (!bpf_map_get_next_key(usage_fd, prev, &k)) {
		const struct msmvm_vm_snap *v;
		bool forget;

		prev = &k;
		if (bpf_map_lookup_elem(usage_fd, &k, s))
			continue;
		v = vm_row(snap, k.vm, k.scope);
		forget = s->last_seen_ns + grace < now && vm_idle(v, now, grace) &&
			 process_gone(k.tgid);
		if (!forget) {
			if (idset_add(&live_vms, k.vm, k.scope) || idset_add(&live_procs, 0, k.tgid))
				goto oom;
			continue;
		}
		if (ngone == capgone) {
			int cap = capgone ? capgone * 2 : 32;
			void *n = realloc(gone, (size_t)cap * sizeof(*gone));

			if (!n)
				goto oom;
			gone = n;
			capgone = cap;
		}
		gone[ngone++] = k;
	}
	/* taken after the walk: deleting the walk's current key would restart it */
	for (int i = 0; i < ngone; i++) {
		if (take(usage_fd, &gone[i], s))
			continue;
		msmvm_stats_merge(&f->s, s);
		f->entries++;
		if (idset_add(&gone_vms, gone[i].vm, gone[i].scope) ||
		    idset_add(&gone_procs, 0, gone[i].tgid))
			goto oom;
	}
	for (int i = 0; i < gone_vms.n; i++) {
		struct msmvm_vm_key vk = { .vm = gone_vms.v[i].vm, .scope = gone_vms.v[i].scope };

		if (idset_has(&live_vms, vk.vm, vk.scope))
			continue;	/* another process still uses it */
		f->vms++;
		clear_gauge(m, vk.vm, vk.scope);
		if (owner_fd >= 0)
			bpf_map_delete_elem(owner_fd, &vk);
		drop_stall(stalls_fd, vk.vm, vk.scope, 0, &f->vm_stall_ns);
	}
	for (int i = 0; i < gone_procs.n; i++) {
		uint32_t tgid = gone_procs.v[i].scope;

		if (idset_has(&live_procs, 0, tgid))
			continue;
		f->procs++;
		drop_stall(stalls_fd, 0, 0, tgid, &f->proc_stall_ns);
	}
	goto out;
oom:
	ret = -ENOMEM;
out:
	free(s);
	free(gone);
	free(live_vms.v);
	free(gone_vms.v);
	free(live_procs.v);
	free(gone_procs.v);
	return ret;
}
