/* SPDX-License-Identifier: ISC */
/* Per-client token tables with release counts (docs/PROTOCOL.md, section 5).
 *
 * Exports: functions the host sent to the client (fn -> {id, sent}); each
 * holds one reference to its function while in the table. Imports: functions
 * the client sent (id -> REMOTE fn); the table does not hold a reference: the
 * last unref of the function removes it and sends the release. */
#ifndef BOTHOST_TOKENS_H
#define BOTHOST_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "wire/map.h"

struct fn;
struct client;

struct tokens {
	struct map exports_by_fn;	/* (fn pointer, 0) -> struct token_export */
	struct map exports_by_id;	/* (id, 0) -> struct token_export */
	struct map imports;		/* (id, 0) -> struct fn */
	uint64_t last_export_id;
};

void tokens_init(struct tokens *t);
/* Forget everything: imports are marked dead, exports dropped. */
void tokens_clear(struct tokens *t);
/* Clear, then free the tables' memory. */
void tokens_free(struct tokens *t);

size_t tokens_import_count(const struct tokens *t);
size_t tokens_export_count(const struct tokens *t);

/* The function behind a received {"$fn":id} (a new reference), counting a
 * receipt and creating the import if needed. 0, -ENOBUFS or -ENOMEM. */
int tokens_import(struct tokens *t, struct client *owner, uint64_t id, size_t max, struct fn **ret_fn);
/* Remove an import whose function is being freed. */
void tokens_import_remove(struct tokens *t, uint64_t id);

/* The token id for sending fn, counting one send. 0, -ENOBUFS or -ENOMEM. */
int tokens_export(struct tokens *t, struct fn *fn, size_t max, uint64_t *ret_id);
/* Take back one send of id that never left (an encoding failed). */
void tokens_export_undo(struct tokens *t, uint64_t id);
/* The function the host exported as id (borrowed), or NULL. */
struct fn *tokens_export_get(const struct tokens *t, uint64_t id);
/* The client released id received count times: 0, or -EPROTO when id is
 * unknown or count is larger than the sends. */
int tokens_release(struct tokens *t, uint64_t id, uint64_t count);

#endif
