/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The event stream (only when config.emit_events): reserve or output a struct msmvm_event,
 * with batched wakeups. Drops are counted in health, never silent.
 */
#ifndef MSMVM_BPF_EVENTS_H
#define MSMVM_BPF_EVENTS_H

static const struct msmvm_event zero_event;

/* An event to fill, or NULL (counted as a drop) when the ring buffer is full. */
static __always_inline struct msmvm_event *event_reserve(__u32 type)
{
	struct msmvm_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		health_inc(MSMVM_H_RINGBUF_DROPS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	return e;
}

static __always_inline __u64 wakeup_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= config.wakeup_bytes
		       ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Batched wakeups: the reader is woken only once wakeup_bytes are pending. */
static __always_inline void event_submit(struct msmvm_event *e)
{
	health_inc(MSMVM_H_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flag());
}

/* An event built in a map value (a free's, completed at its return). */
static __always_inline void event_output(struct msmvm_event *e)
{
	if (bpf_ringbuf_output(&events, e, sizeof(*e), wakeup_flag())) {
		health_inc(MSMVM_H_RINGBUF_DROPS);
		return;
	}
	health_inc(MSMVM_H_EVENTS);
}

#endif
