/* SPDX-License-Identifier: ISC */
/* The typed store API: blocking calls of the host's `store` object. Every
 * call sends the namespace as its last argument (null: the caller's own,
 * which the host accepts for an optional argument). */
#include "botkit-internal.h"
#include "botkit-store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STORE_OBJ "store"
#define STORE_EACH_LIMIT 1000	/* the largest page: fewest round trips */

/* A JSON null to send for a NULL value. */
static const cJSON *store_value(const cJSON *v)
{
	static const cJSON null_node = { .type = cJSON_NULL };

	return v ? v : &null_node;
}

/* Whether v is a number holding an integer. */
static bool store_is_integer(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble > -0x1p63 && v->valuedouble < 0x1p63 &&
	       v->valuedouble == (double)(int64_t)v->valuedouble;
}

/* The value under key (1), or absent (0). */
int bk_store_get(bk_conn *c, const char *ns, const char *key, cJSON **ret_value)
{
	cJSON *v = NULL;
	int r;

	if (!c || !key)
		return -EINVAL;
	if ((r = bk_call_sync(c, STORE_OBJ, "get", &v, "ss", key, ns)) < 0)
		return r;
	if (cJSON_IsNull(v))
		v = (bk_json_delete(v), NULL);
	if (ret_value)
		*ret_value = v;
	else
		bk_json_delete(v);
	return v ? 1 : 0;
}

/* The integer under key (1), or absent (0, value 0). */
int bk_store_get_int(bk_conn *c, const char *ns, const char *key, int64_t *ret_value)
{
	cJSON *v = NULL;
	int r = bk_store_get(c, ns, key, &v);

	if (r < 0)
		return r;
	if (v && !store_is_integer(v)) {
		bk_json_delete(v);
		return -EPROTO;
	}
	if (ret_value)
		*ret_value = v ? (int64_t)v->valuedouble : 0;
	bk_json_delete(v);
	return r;
}

/* Put value under key (NULL: delete). */
int bk_store_set(bk_conn *c, const char *ns, const char *key, const cJSON *value)
{
	if (!c || !key)
		return -EINVAL;
	return bk_call_sync(c, STORE_OBJ, "set", NULL, "sjs", key, store_value(value), ns);
}

/* Delete key: whether it was there. */
int bk_store_delete(bk_conn *c, const char *ns, const char *key)
{
	cJSON *v = NULL;
	int r;

	if (!c || !key)
		return -EINVAL;
	if ((r = bk_call_sync(c, STORE_OBJ, "delete", &v, "ss", key, ns)) < 0)
		return r;
	r = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -EPROTO;
	bk_json_delete(v);
	return r;
}

/* Add by to the integer under key; the new value. */
int bk_store_incr(bk_conn *c, const char *ns, const char *key, int64_t by, int64_t *ret_value)
{
	cJSON *v = NULL;
	int r;

	if (!c || !key)
		return -EINVAL;
	if ((r = bk_call_sync(c, STORE_OBJ, "incr", &v, "sxs", key, by, ns)) < 0)
		return r;
	if (!store_is_integer(v))
		r = -EPROTO;
	else if (ret_value)
		*ret_value = (int64_t)v->valuedouble;
	bk_json_delete(v);
	return r;
}

/* Put value if the value under key is expected: whether it did. */
int bk_store_cas(bk_conn *c, const char *ns, const char *key, const cJSON *expected, const cJSON *value)
{
	cJSON *v = NULL;
	int r;

	if (!c || !key)
		return -EINVAL;
	r = bk_call_sync(c, STORE_OBJ, "cas", &v, "sjjs", key, store_value(expected), store_value(value), ns);
	if (r < 0)
		return r;
	r = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -EPROTO;
	bk_json_delete(v);
	return r;
}

/* {key: value} of the keys starting with prefix. */
int bk_store_list(bk_conn *c, const char *ns, const char *prefix, cJSON **ret_entries)
{
	cJSON *v = NULL;
	int r;

	if (!c)
		return -EINVAL;
	if ((r = bk_call_sync(c, STORE_OBJ, "list", &v, "ss", prefix ? prefix : "", ns)) < 0)
		return r;
	if (!cJSON_IsObject(v)) {
		bk_json_delete(v);
		return -EPROTO;
	}
	if (ret_entries)
		*ret_entries = v;
	else
		bk_json_delete(v);
	return 0;
}

/* The parts of a listPage answer v: entries, and next when more remain;
 * -EPROTO when it is not one. */
static int store_page_parse(cJSON *v, cJSON **ret_entries, const char **ret_next)
{
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(v, "entries");
	const cJSON *more = cJSON_GetObjectItemCaseSensitive(v, "more");
	const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "next"));

	if (!cJSON_IsObject(entries) || !cJSON_IsBool(more) || (cJSON_IsTrue(more) && !next))
		return -EPROTO;
	*ret_entries = entries;
	*ret_next = cJSON_IsTrue(more) ? next : NULL;
	return *ret_next ? 1 : 0;
}

/* A page of the keys starting with prefix, after `after`: whether more remain. */
int bk_store_list_page(bk_conn *c, const char *ns, const char *prefix, const char *after, unsigned limit,
		       cJSON **ret_entries, char **ret_next)
{
	cJSON *v = NULL, *entries = NULL;
	const char *next = NULL;
	char *copy = NULL;
	int r;

	if (ret_entries)
		*ret_entries = NULL;
	if (ret_next)
		*ret_next = NULL;
	if (!c)
		return -EINVAL;
	prefix = prefix ? prefix : "";
	/* limit 0 is sent as null: the host's default */
	r = limit ? bk_call_sync(c, STORE_OBJ, "listPage", &v, "ssxs", prefix, after, (int64_t)limit, ns)
		  : bk_call_sync(c, STORE_OBJ, "listPage", &v, "ssns", prefix, after, ns);
	if (r < 0)
		return r;
	if ((r = store_page_parse(v, &entries, &next)) == 1 && ret_next && !(copy = strdup(next)))
		r = -ENOMEM;
	if (r >= 0 && ret_entries)
		*ret_entries = cJSON_DetachItemViaPointer(v, entries);
	if (r >= 0 && ret_next)
		*ret_next = copy;
	bk_json_delete(v);
	return r;
}

/* fn for each key starting with prefix, page by page. */
int bk_store_list_each(bk_conn *c, const char *ns, const char *prefix, bk_store_entry_fn fn, void *userdata)
{
	char *after = NULL, *next = NULL;
	cJSON *page = NULL;
	const cJSON *e;
	int r;

	if (!c || !fn)
		return -EINVAL;
	do {
		r = bk_store_list_page(c, ns, prefix, after, STORE_EACH_LIMIT, &page, &next);
		for (e = page ? page->child : NULL; r >= 0 && e; e = e->next) {
			int fr = fn(c, e->string, e, userdata);

			if (fr < 0)
				r = fr;
		}
		bk_json_delete(page);
		free(after);
		after = next;
	} while (r == 1);
	free(after);
	return r < 0 ? r : 0;
}
