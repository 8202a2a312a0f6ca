/* SPDX-License-Identifier: ISC */
/* botkit-store: the host's `store` object (PROTOCOL.md, "The store
 * object") as typed, blocking calls: JSON values under string keys, kept
 * across restarts, one namespace per behaviour.
 *
 *   int64_t n;
 *   if (bk_store_incr(c, NULL, "alice", 1, &n) == 0)
 *           printf("alice now has %lld\n", (long long)n);
 *
 * `ns` names the namespace: NULL is the program's own (its section's name,
 * for a behaviour bothost runs); another needs the section's store_access,
 * and a privileged client (botctl, a program of the host's uid that bothost
 * did not start) must always name one. Keys are 1 to 256 bytes; values are
 * JSON without functions.
 *
 * Each function blocks until the host answers (handlers and callbacks are
 * dispatched meanwhile, as for bk_call_sync()) and returns 0 or a positive
 * count on success, else a negative errno code as any call does; the error
 * behind a failure is in bk_conn_last_error(): `Failed` (-EIO: the database
 * cannot be opened or written; its message names the file and the reason),
 * `LimitExceeded` (-ENOBUFS: the namespace would pass size_max),
 * `PermissionDenied` (-EPERM: a namespace the program may not use),
 * `InvalidArguments` (-EINVAL: a bad key, a value holding a function, incr
 * on a value that is no integer), NoSuchObject (-ENOENT: bothost runs
 * without a configuration file, so there is no store). A NULL key gives
 * -EINVAL and nothing is sent. This header includes <botkit.h>; the
 * functions are part of libbotkit. */
#ifndef BOTKIT_STORE_H
#define BOTKIT_STORE_H

#include <stdint.h>

#include "botkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The value under key: 1 and *ret_value (owned: bk_json_delete()) when there
 * is one, 0 and *ret_value NULL when the key is absent. */
int bk_store_get(bk_conn *c, const char *ns, const char *key, cJSON **ret_value);
/* The integer under key: 1 and *ret_value, or 0 and *ret_value 0 when the
 * key is absent; -EPROTO when the value is not an integer. */
int bk_store_get_int(bk_conn *c, const char *ns, const char *key, int64_t *ret_value);
/* Put value (borrowed) under key; NULL or a JSON null deletes the key. */
int bk_store_set(bk_conn *c, const char *ns, const char *key, const cJSON *value);
/* Delete key: 1 when it was there, 0 when it was not. */
int bk_store_delete(bk_conn *c, const char *ns, const char *key);
/* Add `by` to the integer under key (absent: 0) in one transaction, so
 * concurrent callers lose no update; the new value in *ret_value (may be
 * NULL). -EINVAL when the value is not an integer or would pass 2^53. */
int bk_store_incr(bk_conn *c, const char *ns, const char *key, int64_t by, int64_t *ret_value);
/* Put value under key (NULL: delete it) only if the value there equals
 * `expected` as JSON (NULL: the key is absent): 1 when it did, 0 when the
 * value was another. */
int bk_store_cas(bk_conn *c, const char *ns, const char *key, const cJSON *expected, const cJSON *value);
/* The keys starting with prefix (NULL: all) and their values, as one JSON
 * object {key: value} in key order (owned: bk_json_delete()). A listing
 * that would not fit in one frame (frame_max) fails with -ENOBUFS
 * (LimitExceeded): list such a namespace in pages. */
int bk_store_list(bk_conn *c, const char *ns, const char *prefix, cJSON **ret_entries);
/* One page of that listing: at most limit keys (0: the host's default of
 * 100; at most 1000) starting with prefix (NULL: all) and sorting after
 * `after` (NULL: from the first), fewer when the host cuts the page short to
 * fit in a frame, as {key: value} in *ret_entries (owned: bk_json_delete()).
 * Returns 1 when more keys remain, with the `after` of the next page in
 * *ret_next (owned: free()), or 0 and *ret_next NULL after the last page.
 *
 *   char *after = NULL, *next;
 *   cJSON *page;
 *   int r;
 *   do {
 *           r = bk_store_list_page(c, NULL, "seen:", after, 0, &page, &next);
 *           ... use page unless r < 0, then bk_json_delete(page) ...
 *           free(after);
 *           after = next;
 *   } while (r == 1);
 *
 * Keys written or deleted between pages show or vanish as they sort. */
int bk_store_list_page(bk_conn *c, const char *ns, const char *prefix, const char *after, unsigned limit,
		       cJSON **ret_entries, char **ret_next);
/* Receives one entry of bk_store_list_each() (borrowed for the call); a
 * negative return stops the listing with that code. */
typedef int (*bk_store_entry_fn)(bk_conn *c, const char *key, const cJSON *value, void *userdata);
/* Call fn for every key starting with prefix (NULL: all), in key order,
 * page by page, however large the namespace: 0, fn's negative code, or the
 * error of a page. */
int bk_store_list_each(bk_conn *c, const char *ns, const char *prefix, bk_store_entry_fn fn, void *userdata);

#ifdef __cplusplus
}
#endif

#endif
