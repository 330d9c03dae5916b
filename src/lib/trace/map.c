// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Open addressing with linear probing; deletion shifts back (no tombstones to pile up). */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static size_t slot_of(uint64_t k1, uint64_t k2, size_t cap)
{
	uint64_t h = k1 * 0x9E3779B97F4A7C15ULL ^ (k2 + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;

	h ^= h >> 29;
	return (size_t)h & (cap - 1);
}

void *tr_map_get(const struct tr_map *m, uint64_t k1, uint64_t k2)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_of(k1, k2, m->cap);; i = (i + 1) & (m->cap - 1)) {
		const struct tr_map_ent *e = &m->e[i];

		if (!e->used)
			return NULL;
		if (e->k1 == k1 && e->k2 == k2)
			return e->v;
	}
}

static int grow(struct tr_map *m)
{
	struct tr_map old = *m;
	size_t cap = m->cap ? m->cap * 2 : 64;

	m->e = calloc(cap, sizeof(*m->e));
	if (!m->e) {
		*m = old;
		return -ENOMEM;
	}
	m->cap = cap;
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.e[i].used)
			tr_map_put(m, old.e[i].k1, old.e[i].k2, old.e[i].v);
	free(old.e);
	return 0;
}

int tr_map_put(struct tr_map *m, uint64_t k1, uint64_t k2, void *v)
{
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m))
		return -ENOMEM;
	for (size_t i = slot_of(k1, k2, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct tr_map_ent *e = &m->e[i];

		if (e->used && (e->k1 != k1 || e->k2 != k2))
			continue;
		if (!e->used)
			m->n++;
		*e = (struct tr_map_ent){ k1, k2, v, true };
		return 0;
	}
}

void *tr_map_del(struct tr_map *m, uint64_t k1, uint64_t k2)
{
	size_t i, j;
	void *v;

	if (!m->cap)
		return NULL;
	for (i = slot_of(k1, k2, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->e[i].used)
			return NULL;
		if (m->e[i].k1 == k1 && m->e[i].k2 == k2)
			break;
	}
	v = m->e[i].v;
	/* shift back the entries of the run that would no longer be found */
	for (j = (i + 1) & (m->cap - 1); m->e[j].used; j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m->e[j].k1, m->e[j].k2, m->cap);

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->e[i] = m->e[j];
			i = j;
		}
	}
	m->e[i].used = false;
	m->n--;
	return v;
}

void tr_map_free(struct tr_map *m, void (*fn)(void *))
{
	for (size_t i = 0; fn && i < m->cap; i++)
		if (m->e[i].used)
			fn(m->e[i].v);
	free(m->e);
	m->e = NULL;
	m->cap = m->n = 0;
}
