// SPDX-License-Identifier: GPL-2.0
/* Every voluntary context switch of a thread inside one probed function of a binary
 * (uprobe entry to uretprobe), with its kernel and user stacks; and, at the return, how
 * much the thread's nvcsw changed. See README.md. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
char LICENSE[] SEC("license") = "GPL";
struct win { u64 nvcsw; u64 ts; u32 nsw; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4096); __type(key, u32); __type(value, struct win); } inwin SEC(".maps");
struct ev { u32 kind, tid, tgid, state; u64 ts, dnv; s32 kn, un; u64 k[24]; u64 u[16]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1<<24); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct ev); } scratch SEC(".maps");

static __always_inline u64 nvcsw(void) { struct task_struct *t = (void *)bpf_get_current_task(); return BPF_CORE_READ(t, nvcsw); }

SEC("uprobe") int count_entry(void *ctx) {
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct win w = { .nvcsw = nvcsw(), .ts = bpf_ktime_get_ns() };
	bpf_map_update_elem(&inwin, &tid, &w, BPF_ANY); return 0; }
SEC("uretprobe") int count_return(void *ctx) {
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct win *w = bpf_map_lookup_elem(&inwin, &tid);
	if (!w) return 0;
	u64 d = nvcsw() - w->nvcsw;
	if (d) {
		struct ev *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
		if (e) { __builtin_memset(e, 0, sizeof(*e)); e->kind = 2; e->tid = tid; e->tgid = bpf_get_current_pid_tgid() >> 32; e->ts = bpf_ktime_get_ns(); e->dnv = d; e->state = w->nsw; bpf_ringbuf_submit(e, 0); }
	}
	bpf_map_delete_elem(&inwin, &tid); return 0; }
SEC("raw_tp/sched_switch") int on_switch(struct bpf_raw_tracepoint_args *ctx) {
	bool preempt = ctx->args[0];
	struct task_struct *prev = (void *)ctx->args[1];
	u32 tid = BPF_CORE_READ(prev, pid);
	struct win *w = bpf_map_lookup_elem(&inwin, &tid);
	if (!w || preempt) return 0;
	w->nsw++;
	u32 z = 0; struct ev *s = bpf_map_lookup_elem(&scratch, &z); if (!s) return 0;
	s->kind = 1; s->tid = tid; s->tgid = BPF_CORE_READ(prev, tgid); s->ts = bpf_ktime_get_ns(); s->state = ctx->args[3];
	s->kn = bpf_get_stack(ctx, s->k, sizeof(s->k), 0);
	s->un = bpf_get_stack(ctx, s->u, sizeof(s->u), BPF_F_USER_STACK);
	bpf_ringbuf_output(&rb, s, sizeof(*s), 0);
	return 0; }
