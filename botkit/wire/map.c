/* SPDX-License-Identifier: ISC */
/* Open-addressing hash map with linear probing and tombstones. */
#include "map.h"

#include <errno.h>
#include <stdlib.h>

static char tombstone;
#define MAP_TOMBSTONE ((void *)&tombstone)

/* A 64-bit mix (splitmix64's finaliser) of both key words. */
static uint64_t map_hash(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ULL);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Find the slot of (a, b), or the first free slot where it would go. */
static struct map_slot *map_find(const struct map *m, uint64_t a, uint64_t b)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)map_hash(a, b) & mask;
	struct map_slot *free_slot = NULL;

	for (;;) {
		struct map_slot *s = &m->slots[i];
		if (s->value == NULL)
			return free_slot ? free_slot : s;
		if (s->value == MAP_TOMBSTONE) {
			if (!free_slot)
				free_slot = s;
		} else if (s->a == a && s->b == b) {
			return s;
		}
		i = (i + 1) & mask;
	}
}

/* Rehash into a table of cap slots, dropping tombstones. */
static int map_resize(struct map *m, size_t cap)
{
	struct map_slot *old = m->slots;
	size_t old_cap = m->cap;
	struct map_slot *slots = calloc(cap, sizeof *slots);

	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].value && old[i].value != MAP_TOMBSTONE)
			*map_find(m, old[i].a, old[i].b) = old[i];
	}
	free(old);
	return 0;
}

int map_put(struct map *m, uint64_t a, uint64_t b, void *value)
{
	if ((m->used + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap ? m->cap : 16;
		while ((m->count + 1) * 2 > cap)
			cap *= 2;
		int r = map_resize(m, cap);
		if (r < 0)
			return r;
	}
	struct map_slot *s = map_find(m, a, b);
	if (s->value == NULL || s->value == MAP_TOMBSTONE) {
		if (s->value == NULL)
			m->used++;
		m->count++;
		s->a = a;
		s->b = b;
	}
	s->value = value;
	return 0;
}

void *map_get(const struct map *m, uint64_t a, uint64_t b)
{
	if (m->count == 0)
		return NULL;
	struct map_slot *s = map_find(m, a, b);
	if (s->value == NULL || s->value == MAP_TOMBSTONE)
		return NULL;
	return s->value;
}

void *map_remove(struct map *m, uint64_t a, uint64_t b)
{
	if (m->count == 0)
		return NULL;
	struct map_slot *s = map_find(m, a, b);
	if (s->value == NULL || s->value == MAP_TOMBSTONE)
		return NULL;
	void *v = s->value;
	s->value = MAP_TOMBSTONE;
	m->count--;
	if (m->count == 0) {
		/* Empty: forget the tombstones too. */
		for (size_t i = 0; i < m->cap; i++)
			m->slots[i].value = NULL;
		m->used = 0;
	}
	return v;
}

void *map_next(const struct map *m, size_t *iter)
{
	while (*iter < m->cap) {
		struct map_slot *s = &m->slots[(*iter)++];
		if (s->value && s->value != MAP_TOMBSTONE)
			return s->value;
	}
	return NULL;
}

void map_free(struct map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = m->used = 0;
}
