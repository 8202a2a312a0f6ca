/* SPDX-License-Identifier: ISC */
/* Per-client token tables. */
#include "config.h"

#include "tokens.h"

#include <errno.h>
#include <stdlib.h>

#include "fn.h"

struct token_export {
	struct fn *fn;
	uint64_t id;
	uint64_t sent;
};

/* Empty tables. */
void tokens_init(struct tokens *t)
{
	*t = (struct tokens){ MAP_INIT, MAP_INIT, MAP_INIT, 0 };
}

/* Functions received from the client and still held. */
size_t tokens_import_count(const struct tokens *t)
{
	return map_count(&t->imports);
}

/* Functions sent to the client and not yet released by it. */
size_t tokens_export_count(const struct tokens *t)
{
	return map_count(&t->exports_by_id);
}

/* Both kinds together count against tokens_max. */
static bool tokens_full(const struct tokens *t, size_t max)
{
	return tokens_import_count(t) + tokens_export_count(t) >= max;
}

/* A received {"$fn":id}: count it and return its function. */
int tokens_import(struct tokens *t, struct client *owner, uint64_t id, size_t max, struct fn **ret_fn)
{
	struct fn *fn = map_get(&t->imports, id, 0);

	if (fn) {
		fn_remote_received(fn);
		*ret_fn = fn_ref(fn);
		return 0;
	}
	if (tokens_full(t, max))
		return -ENOBUFS;
	fn = fn_new_remote(owner, id);
	if (!fn)
		return -ENOMEM;
	if (map_put(&t->imports, id, 0, fn) < 0) {
		/* Untracked: the unref releases the receipt right away. */
		fn_unref(fn);
		return -ENOMEM;
	}
	*ret_fn = fn;
	return 0;
}

/* Forget an import whose function is being freed. */
void tokens_import_remove(struct tokens *t, uint64_t id)
{
	map_remove(&t->imports, id, 0);
}

/* Remove an export entry and drop its function. */
static void tokens_export_free(struct tokens *t, struct token_export *e)
{
	map_remove(&t->exports_by_id, e->id, 0);
	map_remove(&t->exports_by_fn, (uint64_t)(uintptr_t)e->fn, 0);
	fn_unref(e->fn);
	free(e);
}

/* Count one send of fn, creating its export entry if needed. */
int tokens_export(struct tokens *t, struct fn *fn, size_t max, uint64_t *ret_id)
{
	struct token_export *e = map_get(&t->exports_by_fn, (uint64_t)(uintptr_t)fn, 0);

	if (!e) {
		if (tokens_full(t, max))
			return -ENOBUFS;
		e = calloc(1, sizeof *e);
		if (!e)
			return -ENOMEM;
		e->id = ++t->last_export_id;
		if (map_put(&t->exports_by_id, e->id, 0, e) < 0) {
			free(e);
			return -ENOMEM;
		}
		if (map_put(&t->exports_by_fn, (uint64_t)(uintptr_t)fn, 0, e) < 0) {
			map_remove(&t->exports_by_id, e->id, 0);
			free(e);
			return -ENOMEM;
		}
		e->fn = fn_ref(fn);
	}
	e->sent++;
	*ret_id = e->id;
	return 0;
}

/* Take back one send that was never written. */
void tokens_export_undo(struct tokens *t, uint64_t id)
{
	struct token_export *e = map_get(&t->exports_by_id, id, 0);

	if (e && --e->sent == 0)
		tokens_export_free(t, e);
}

/* The function exported under id. */
struct fn *tokens_export_get(const struct tokens *t, uint64_t id)
{
	struct token_export *e = map_get(&t->exports_by_id, id, 0);

	return e ? e->fn : NULL;
}

/* The client gave back count receipts of id. */
int tokens_release(struct tokens *t, uint64_t id, uint64_t count)
{
	struct token_export *e = map_get(&t->exports_by_id, id, 0);

	if (!e || count > e->sent)
		return -EPROTO;
	e->sent -= count;
	if (e->sent == 0)
		tokens_export_free(t, e);
	return 0;
}

/* Forget the client's tokens. Imports go first, so that dropping an export
 * that indirectly holds one of them sends nothing to the departed client. */
void tokens_clear(struct tokens *t)
{
	struct map imports = t->imports;
	struct map exports = t->exports_by_id;
	struct fn *fn;
	struct token_export *e;
	size_t iter = 0;

	t->imports = (struct map)MAP_INIT;
	while ((fn = map_next(&imports, &iter)))
		fn_remote_lost(fn);
	map_free(&imports);

	map_free(&t->exports_by_fn);
	t->exports_by_id = (struct map)MAP_INIT;
	iter = 0;
	while ((e = map_next(&exports, &iter))) {
		fn_unref(e->fn);
		free(e);
	}
	map_free(&exports);
}

/* Forget the client's tokens and free the tables. */
void tokens_free(struct tokens *t)
{
	tokens_clear(t);
	map_free(&t->imports);
	map_free(&t->exports_by_id);
	map_free(&t->exports_by_fn);
}
