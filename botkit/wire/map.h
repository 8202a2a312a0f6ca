/* SPDX-License-Identifier: ISC */
/* An open-addressing hash map from a two-word key to a pointer.
 * Token tables key by id (b = 0) or by (function pointer, userdata). */
#ifndef BK_MAP_H
#define BK_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_slot {
	uint64_t a, b;
	void *value;	/* NULL: empty; MAP_TOMBSTONE: removed */
};

struct map {
	struct map_slot *slots;
	size_t cap;	/* a power of two, or 0 */
	size_t count;	/* live entries */
	size_t used;	/* live entries + tombstones */
};

#define MAP_INIT { NULL, 0, 0, 0 }

/* Values must not be NULL. map_put replaces; returns 0 or -ENOMEM. */
int map_put(struct map *m, uint64_t a, uint64_t b, void *value);
void *map_get(const struct map *m, uint64_t a, uint64_t b);
/* Returns the removed value, or NULL. */
void *map_remove(struct map *m, uint64_t a, uint64_t b);
/* Iterate: start with *iter = 0; returns the next value or NULL at the end.
 * Removing the entry just returned is allowed during iteration. */
void *map_next(const struct map *m, size_t *iter);
void map_free(struct map *m);

static inline size_t map_count(const struct map *m) { return m->count; }

#endif
