/* SPDX-License-Identifier: ISC */
/* The typed store API: blocking calls of the host's `store` object. Every
 * call sends the namespace as its last argument (null: the caller's own,
 * which the host accepts for an optional argument). */
#include "botkit-internal.h"
#include "botkit-store.h"

#include <errno.h>
#include <stdlib.h>

#define STORE_OBJ "store"

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
