// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Chrome's JSON trace format (the "JSON Array Format"), for tools that read only that:
 * "[" then one event object per line, each followed by a comma. The format allows the
 * closing "]" to be missing, so a file cut short still loads. Thread slices are B/E,
 * a VM's jobs async b/e (they overlap), counters C, instants i; track names are M events.
 * Timestamps are CLOCK_MONOTONIC microseconds. Flows are left out.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct json_be {
	struct tr_backend *ops;
	struct tr_map tracks;	/* uuid -> struct tr_track copy */
};

static void put_str(struct tr_buf *b, const char *s)
{
	tr_buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			tr_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			tr_buf_printf(b, "\\u%04x", c);
		else
			tr_buf_put(b, s, 1);
	}
	tr_buf_put(b, "\"", 1);
}

static void put_ts(struct tr_buf *b, uint64_t ns)
{
	tr_buf_printf(b, "\"ts\":%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
}

static void json_header(void *be, struct tr_buf *b, const struct tr_header *h)
{
	(void)be;
	(void)h;
	tr_buf_printf(b, "[\n");
}

static void json_clock(void *be, struct tr_buf *b, uint64_t mono, uint64_t boot)
{
	(void)be;
	(void)b;
	(void)mono;
	(void)boot;
}

static void json_track(void *be, struct tr_buf *b, const struct tr_track *t)
{
	struct json_be *j = be;
	struct tr_track *copy = malloc(sizeof(*copy));

	if (copy) {
		*copy = *t;
		free(tr_map_del(&j->tracks, t->uuid, 0));
		if (tr_map_put(&j->tracks, t->uuid, 0, copy))
			free(copy);
	}
	if (t->kind == TT_PROCESS || t->kind == TT_GLOBAL) {
		tr_buf_printf(b, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"args\":{\"name\":",
			      t->kind == TT_GLOBAL ? (unsigned)getpid() : t->pid);
		put_str(b, t->name);
		tr_buf_printf(b, "}},\n");
	} else if (t->kind == TT_THREAD) {
		tr_buf_printf(b, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,"
				 "\"args\":{\"name\":", t->pid, t->tid);
		put_str(b, t->name);
		tr_buf_printf(b, "}},\n");
	}
}

static void put_args(struct tr_buf *b, const struct tr_ev *e)
{
	tr_buf_printf(b, ",\"args\":{");
	for (int i = 0; i < e->nargs; i++) {
		const struct tr_arg *a = &e->args[i];

		tr_buf_printf(b, "%s", i ? "," : "");
		put_str(b, tr_key_str(a->key));
		tr_buf_printf(b, ":");
		switch (a->type) {
		case TA_INT:
			tr_buf_printf(b, "%" PRId64, a->i);
			break;
		case TA_UINT:
			tr_buf_printf(b, "%" PRIu64, a->u);
			break;
		case TA_PTR:
			tr_buf_printf(b, "\"0x%" PRIx64 "\"", a->u);
			break;
		case TA_STR:
			put_str(b, a->s ? a->s : "");
			break;
		}
	}
	tr_buf_printf(b, "}");
}

static void json_event(void *be, struct tr_buf *b, const struct tr_ev *e)
{
	struct json_be *j = be;
	const struct tr_track *t = tr_map_get(&j->tracks, e->track, 0);
	unsigned pid = t ? (t->kind == TT_GLOBAL ? (unsigned)getpid() : t->pid) : 0;
	const char *name = e->name ? tr_name_str(e->name) : "";

	if (!t)
		return;
	if (e->extra_track) {	/* the counter value read with it: an event of its own */
		struct tr_ev c = { .type = TE_COUNTER, .track = e->extra_track, .ts = e->ts,
				   .value = e->extra_value };

		json_event(be, b, &c);
	}
	tr_buf_printf(b, "{");
	switch (t->kind) {
	case TT_THREAD:
		tr_buf_printf(b, "\"ph\":\"%s\",\"pid\":%u,\"tid\":%u,",
			      e->type == TE_BEGIN ? "B" : e->type == TE_END ? "E" : "i", pid, t->tid);
		if (e->type == TE_INSTANT)
			tr_buf_printf(b, "\"s\":\"t\",");
		break;
	case TT_LANE:
		/* a lane holds one job at a time: its uuid names the async slice */
		if (e->type == TE_INSTANT)
			tr_buf_printf(b, "\"ph\":\"i\",\"s\":\"p\",\"pid\":%u,", pid);
		else
			tr_buf_printf(b, "\"ph\":\"%s\",\"cat\":\"msmvm\",\"id\":\"0x%" PRIx64
					 "\",\"pid\":%u,", e->type == TE_BEGIN ? "b" : "e", e->track, pid);
		if (e->type != TE_INSTANT)
			name = t->name;	/* b and e must match by name */
		break;
	case TT_COUNTER:
		tr_buf_printf(b, "\"ph\":\"C\",\"pid\":%u,", pid);
		name = t->name;
		break;
	default:
		tr_buf_printf(b, "\"ph\":\"i\",\"s\":\"g\",\"pid\":%u,", pid);
		break;
	}
	tr_buf_printf(b, "\"name\":");
	put_str(b, name);
	tr_buf_printf(b, ",");
	put_ts(b, e->ts);
	if (t->kind == TT_COUNTER)
		tr_buf_printf(b, ",\"args\":{\"value\":%" PRId64 "}", e->value);
	else
		put_args(b, e);
	tr_buf_printf(b, "},\n");
	j->ops->nevents++;
}

static void json_restart(void *be, bool dropped)
{
	(void)be;
	(void)dropped;
}

static void json_trailer(void *be, struct tr_buf *b)
{
	(void)be;
	tr_buf_printf(b, "{\"ph\":\"M\",\"name\":\"trace_end\",\"pid\":0,\"args\":{}}\n]\n");
}

static void json_destroy(void *be)
{
	struct json_be *j = be;

	tr_map_free(&j->tracks, free);
	free(j);
}

void *tr_json_new(struct tr_backend *ops)
{
	struct json_be *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->ops = ops;
	*ops = (struct tr_backend){
		.header = json_header, .track = json_track, .event = json_event,
		.restart = json_restart, .clock = json_clock, .trailer = json_trailer,
		.destroy = json_destroy,
	};
	return j;
}
