/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ops walk (config.emit_ops): at the ioctl's entry, the call's ops as MSMVM_EV_OPS
 * records, 8 to a record, from a bpf_loop.
 */
#ifndef MSMVM_BPF_OPS_WALK_H
#define MSMVM_BPF_OPS_WALK_H

/*
 * UAPI: struct drm_msm_vm_bind_op (40 bytes), inline at offset 48 of struct drm_msm_vm_bind
 * when nr_ops == 1, else an array at the user pointer stored there. Fixed ABI, fixed offsets.
 */
struct msmvm_uapi_vm_bind_op {
	__u32 op;
	__u32 handle;
	__u64 obj_offset;
	__u64 iova;
	__u64 range;
	__u32 flags;
	__u32 pad;
};

#define MSMVM_UAPI_OPS_OFFSET 48

struct ops_walk {
	void *data;		/* the argument struct (the inline op) */
	__u64 uops;		/* nr_ops > 1: the user array */
	__u64 entry_ts;
	__u32 pid, tid, nr_ops;
};

/*
 * One MSMVM_EV_OPS record: ops [idx * 8, idx * 8 + 8) of the call (a bpf_loop callback).
 * A full ring buffer drops this record (counted as every other drop) and the next one is
 * tried all the same; a failed read of user memory ends the record short and the walk.
 */
static long ops_record(__u32 idx, void *ctx)
{
	struct ops_walk *w = ctx;
	__u32 first = idx * MSMVM_OPS_PER_EVENT, n = 0;
	struct msmvm_ops_event *e;
	int stop = 0;

	if (first >= w->nr_ops || first >= MSMVM_OPS_MAX)
		return 1;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		health_inc(MSMVM_H_RINGBUF_DROPS);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = MSMVM_EV_OPS;
	e->pid = w->pid;
	e->tid = w->tid;
	e->nr_ops = w->nr_ops;
	e->ts_ns = w->entry_ts;
	e->first = (__u16)first;
	for (int i = 0; i < MSMVM_OPS_PER_EVENT; i++) {
		struct msmvm_uapi_vm_bind_op op;
		long err;

		if (first + i >= w->nr_ops)
			break;
		if (w->nr_ops == 1)
			err = ARGS_READ(&op, sizeof(op), w->data + MSMVM_UAPI_OPS_OFFSET);
		else	/* copy_from_user's source: user memory in every flavor */
			err = bpf_probe_read_user(&op, sizeof(op),
						  (void *)(w->uops + (__u64)(first + i) * sizeof(op)));
		if (err) {
			stop = 1;
			break;
		}
		e->kinds |= (op.op < MSMVM_OP_KIND_OTHER ? op.op : MSMVM_OP_KIND_OTHER) << (4 * i);
		e->ops[i].iova = op.iova;
		e->ops[i].range = op.range;
		n++;
	}
	e->n = (__u8)n;
	health_inc(MSMVM_H_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flag());
	return stop;
}

/* The call's ops, 8 per record, the first MSMVM_OPS_MAX of them. */
static __always_inline void emit_call_ops(void *data, __u32 nr_ops, __u32 tgid, __u32 tid,
					  __u64 entry_ts)
{
	struct ops_walk w = { .data = data, .entry_ts = entry_ts, .pid = tgid, .tid = tid,
			      .nr_ops = nr_ops };
	__u32 n = nr_ops < MSMVM_OPS_MAX ? nr_ops : MSMVM_OPS_MAX;

	if (!n)
		return;
	if (nr_ops > 1 && ARGS_READ(&w.uops, sizeof(w.uops), data + MSMVM_UAPI_OPS_OFFSET))
		return;	/* no record: the reader sees this call's ops as missing */
	bpf_loop((n + MSMVM_OPS_PER_EVENT - 1) / MSMVM_OPS_PER_EVENT, ops_record, &w, 0);
}

#endif
