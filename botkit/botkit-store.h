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
 * object {key: value} in key order (owned: bk_json_delete()). */
int bk_store_list(bk_conn *c, const char *ns, const char *prefix, cJSON **ret_entries);

#ifdef __cplusplus
}
#endif

#endif
