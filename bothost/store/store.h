/* SPDX-License-Identifier: ISC */
/* The `store` object: JSON values under string keys for behaviours, kept
 * in an SQLite database (store_db.h), one namespace per behaviour
 * (PROTOCOL.md, "The store object").
 *
 * Who a client is comes from a hook the composition root installs
 * (store_set_namespace_fn), so the store knows nothing of behaviours: a
 * behaviour's client works in the namespace of its name and in those its
 * section's store_access lists; a privileged client in any namespace it
 * names; any other client in none.
 *
 * The database is opened at the first call, and SQLite loaded with it
 * (store_sqlite.h): a bot whose behaviours never call the store does not map
 * the library. A database that cannot be opened or written, or an SQLite
 * that cannot be loaded (logged once), makes calls fail with Failed and the
 * reason, and is tried again at the next call. Functions returning int give
 * 0 or a negative errno. */
#ifndef BOTHOST_STORE_H
#define BOTHOST_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct store;
struct server;
struct client;

/* The [store] section. */
struct store_conf {
	char *path;		/* the database file; NULL: STATE_DIR/store.db */
	size_t size_max;	/* bytes of keys and values per namespace (1 MiB) */
};
#define STORE_SIZE_MAX_DEFAULT (1024u * 1024u)

/* What the hook tells of a client that is a behaviour (strings borrowed
 * until the call returns). */
struct store_who {
	const char *name;		/* its namespace */
	char *const *access;		/* other namespaces it may use */
	size_t n_access;
};
/* Fill *ret and return true when c is a behaviour's client. */
typedef bool (*store_namespace_fn)(struct client *c, struct store_who *ret, void *userdata);

/* Register the store object with server s (which owns it); the database is
 * cfg->path, or store.db in state_dir. *ret (if given) stays valid until
 * the server frees its objects. */
int store_register(struct server *s, const struct store_conf *cfg, const char *state_dir, struct store **ret);
/* Install the hook telling which behaviour a client is (NULL: none is). */
void store_set_namespace_fn(struct store *st, store_namespace_fn fn, void *userdata);
/* Take a new configuration: the limit at once, a new path at the next call. */
int store_configure(struct store *st, const struct store_conf *cfg, const char *state_dir);
/* The database file in use or to be opened. */
const char *store_path(const struct store *st);

#endif
