/* SPDX-License-Identifier: ISC */
/* The store's database: JSON texts under (namespace, key) in one SQLite file
 * (WAL mode), with the bytes each namespace holds (keys plus values) kept
 * beside them so that a write can be refused past a namespace's limit.
 *
 * Every write is one transaction; the host is single-threaded, so a read,
 * its check and its write cannot interleave with another client's. Values
 * are JSON texts made by the caller; NULL stands for "absent" (a delete).
 *
 * Functions returning int give 0 or a negative errno code: -ENOENT (no such
 * key), -E2BIG (the namespace would pass its limit), -EINVAL (incr on a value
 * that is not an integer, or past 2^53), -ENOMEM, or -EIO for an SQLite
 * failure, whose text store_db_error gives. */
#ifndef BOTHOST_STORE_DB_H
#define BOTHOST_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_db;

/* Receives one entry of a listing (strings borrowed for the call); a
 * negative return stops the listing with that code, a positive one stops it
 * as done (a page is full). */
typedef int (*store_db_entry_fn)(const char *key, const char *json, void *userdata);
/* Receives one namespace with its entry count and bytes. */
typedef int (*store_db_ns_fn)(const char *ns, int64_t entries, int64_t bytes, void *userdata);

/* Open (creating the file and its directory, mode 0700, as needed) the
 * database at path and check it, loading SQLite at the first open
 * (store_sqlite.h). 0, or -errno with *ret_error (allocated) saying why:
 * "PATH: file is not a database"; -ENOPKG when SQLite cannot be loaded. */
int store_db_open(const char *path, struct store_db **ret, char **ret_error);
/* Close it; NULL is a no-op. */
void store_db_close(struct store_db *db);
/* The text of the last -EIO. */
const char *store_db_error(const struct store_db *db);

/* The JSON text under (ns, key) (allocated) or -ENOENT. */
int store_db_get(struct store_db *db, const char *ns, const char *key, char **ret_json);
/* Put json (NULL: delete) under (ns, key) within limit bytes per namespace;
 * *ret_changed (if given) tells whether something was there or is now. */
int store_db_set(struct store_db *db, const char *ns, const char *key, const char *json, size_t limit,
		 bool *ret_changed);
/* Add by to the integer under (ns, key) (absent: 0); the new value in *ret. */
int store_db_incr(struct store_db *db, const char *ns, const char *key, int64_t by, size_t limit, int64_t *ret);
/* Put json (NULL: delete) if the value under (ns, key) equals expect as
 * JSON (NULL: absent); *ret_done tells whether it did. */
int store_db_cas(struct store_db *db, const char *ns, const char *key, const char *expect, const char *json,
		 size_t limit, bool *ret_done);
/* Call fn for each key of ns starting with prefix and, unless after is
 * NULL, sorting after `after` (byte order), in key order. */
int store_db_list(struct store_db *db, const char *ns, const char *prefix, const char *after, store_db_entry_fn fn,
		  void *userdata);
/* Call fn for each namespace holding something, in name order. */
int store_db_namespaces(struct store_db *db, store_db_ns_fn fn, void *userdata);
/* The bytes ns holds. */
int64_t store_db_size(struct store_db *db, const char *ns);

#endif
