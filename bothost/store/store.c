/* SPDX-License-Identifier: ISC */
/* The `store` object: methods, namespaces, the change event. */
#include "config.h"

#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/call.h"
#include "core/client.h"
#include "core/emitter.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/object.h"
#include "core/server.h"
#include "core/value.h"
#include "store_db.h"

#define STORE_KEY_MAX 256	/* bytes of a key */
#define STORE_NS_MAX 64		/* bytes of a namespace's name */
#define STORE_EVENT_MAX (sizeof "change:" + STORE_NS_MAX)
#define STORE_PAGE_DEFAULT 100	/* keys of a page when listPage is given no limit */
#define STORE_PAGE_MAX 1000	/* the largest limit */
/* The result message around a listing ({"t":"result","id":N,"value":...})
 * and listPage's "more" and "next" (a key of at most 6 bytes per byte once
 * escaped), with room to spare. */
#define STORE_ANSWER_SLACK (64 + 6 * STORE_KEY_MAX + 64)

struct store {
	struct object *obj;
	struct server *server;
	char *path;
	size_t size_max;
	struct store_db *db;		/* NULL until the first call, or after a failure */
	bool sqlite_logged;		/* that SQLite cannot be loaded */
	store_namespace_fn who_fn;
	void *who_userdata;
};

/* The database, opened now if need be; NULL after failing call. */
static struct store_db *store_db(struct store *st, struct call *call)
{
	char *error = NULL;
	int r;

	if (st->db)
		return st->db;
	r = store_db_open(st->path, &st->db, &error);
	if (r == -ENOPKG) {
		/* every call fails the same way until the library is installed: log it once */
		if (!st->sqlite_logged)
			log_error("store: %s", error ? error : "cannot load SQLite");
		st->sqlite_logged = true;
		call_fail(call, ERR_FAILED, "store: %s", error ? error : "cannot load SQLite");
	} else if (r < 0) {
		log_error("store: cannot open the database %s", error ? error : strerror(-r));
		call_fail(call, ERR_FAILED, "store: cannot open the database %s", error ? error : strerror(-r));
	}
	if (r < 0) {
		free(error);
		return NULL;
	}
	log_info("store: database %s open", st->path);
	return st->db;
}

/* Fail call for the database's error r. */
static void store_fail(struct store *st, struct call *call, int r)
{
	switch (r) {
	case -E2BIG:
		call_fail(call, ERR_LIMIT_EXCEEDED, "store: the namespace would hold more than %zu bytes (size_max)",
			  st->size_max);
		break;
	case -EINVAL:
		call_fail(call, ERR_INVALID_ARGUMENTS, "store: the value is not an integer (or would pass 2^53)");
		break;
	case -EIO:
		log_error("store: %s", store_db_error(st->db));
		call_fail(call, ERR_FAILED, "store: %s", store_db_error(st->db));
		break;
	default:
		call_fail(call, ERR_FAILED, "store: %s", strerror(-r));
		break;
	}
}

/* Whether the behaviour who may use namespace ns. */
static bool store_who_may(const struct store_who *who, const char *ns)
{
	if (strcmp(who->name, ns) == 0)
		return true;
	for (size_t i = 0; i < who->n_access; i++)
		if (strcmp(who->access[i], ns) == 0)
			return true;
	return false;
}

/* Whether the caller of call may use ns (NULL: its own, copied into buf);
 * fails the call and returns NULL when not. */
static const char *store_ns_check(struct store *st, struct call *call, const char *ns, char *buf, size_t size)
{
	struct client *c = call_get_client(call);
	struct store_who who;
	bool behaviour = c && st->who_fn && st->who_fn(c, &who, st->who_userdata);

	if (ns && (!*ns || strlen(ns) > STORE_NS_MAX)) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "store: a namespace is 1 to %d bytes", STORE_NS_MAX);
		return NULL;
	}
	if (!ns && behaviour) {
		snprintf(buf, size, "%s", who.name);
		return buf;
	}
	if (ns && (!c || client_is_privileged(c) || (behaviour && store_who_may(&who, ns))))
		return ns;
	if (ns && behaviour)
		call_fail(call, ERR_PERMISSION_DENIED, "store: behaviour %s may not use namespace %s (store_access)",
			  who.name, ns);
	else if (ns)
		call_fail(call, ERR_PERMISSION_DENIED, "store: only behaviours and privileged clients use the store");
	else
		call_fail(call, ERR_PERMISSION_DENIED, "store: this client is not a behaviour: name a namespace "
			  "(privileged clients only)");
	return NULL;
}

/* The namespace named by argument i (optional) for the caller, or NULL after failing call. */
static const char *store_call_ns(struct store *st, struct call *call, unsigned i, char *buf, size_t size)
{
	return store_ns_check(st, call, cJSON_GetStringValue(call_get_arg(call, i)), buf, size);
}

/* The key argument i, checked; NULL after failing call. */
static const char *store_call_key(struct call *call, unsigned i)
{
	const char *key = cJSON_GetStringValue(call_get_arg(call, i));

	if (!key || !*key || strlen(key) > STORE_KEY_MAX) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "store: a key is 1 to %d bytes", STORE_KEY_MAX);
		return NULL;
	}
	return key;
}

/* Argument i as JSON text (NULL for null), or false after failing call. */
static bool store_call_json(struct call *call, unsigned i, char **ret)
{
	const cJSON *node = call_get_arg(call, i);

	*ret = NULL;
	if (value_has_functions(call_get_args(call))) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "store: a value holds no functions");
		return false;
	}
	if (!node || cJSON_IsNull(node))
		return true;
	if (!(*ret = cJSON_PrintUnformatted(node))) {
		call_fail(call, ERR_FAILED, "out of memory");
		return false;
	}
	return true;
}

/* Tell the registrations of "change:NS" that key now holds json (NULL: deleted). */
static void store_emit_change(struct store *st, const char *ns, const char *key, const char *json)
{
	struct emitter *em = object_get_emitter(st->obj);
	char event[STORE_EVENT_MAX];
	cJSON *args;
	struct value *v;

	snprintf(event, sizeof event, "change:%s", ns);
	if (!emitter_listened(em, event))
		return;
	args = cJSON_CreateArray();
	cJSON_AddItemToArray(args, cJSON_CreateString(key));
	cJSON_AddItemToArray(args, json ? cJSON_Parse(json) : cJSON_CreateNull());
	cJSON_AddItemToArray(args, cJSON_CreateString(ns));
	if ((v = value_new(args)))
		emitter_emit(em, event, v);
	value_free(v);
}

/* get(key, ns?): the value or null. */
static void store_get(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	char buf[STORE_NS_MAX + 1], *json = NULL;
	const char *key = store_call_key(call, 0), *ns = key ? store_call_ns(st, call, 1, buf, sizeof buf) : NULL;
	struct store_db *db = ns ? store_db(st, call) : NULL;
	int r;

	if (!db)
		return;
	r = store_db_get(db, ns, key, &json);
	if (r == -ENOENT)
		call_return(call, NULL);
	else if (r < 0)
		store_fail(st, call, r);
	else
		call_return_json(call, cJSON_Parse(json));
	free(json);
}

/* set(key, value, ns?): null; a null value deletes. */
static void store_set(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	char buf[STORE_NS_MAX + 1], *json = NULL;
	const char *key = store_call_key(call, 0), *ns = key ? store_call_ns(st, call, 2, buf, sizeof buf) : NULL;
	struct store_db *db = ns && store_call_json(call, 1, &json) ? store_db(st, call) : NULL;
	bool changed = false;
	int r = 0;

	/* key and ns live in the call's arguments: tell the change before answering */
	if (db && (r = store_db_set(db, ns, key, json, st->size_max, &changed)) < 0)
		store_fail(st, call, r);
	else if (db && changed)
		store_emit_change(st, ns, key, json);
	if (db && r == 0)
		call_return(call, NULL);
	free(json);
}

/* delete(key, ns?): whether there was a value. */
static void store_delete(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	char buf[STORE_NS_MAX + 1];
	const char *key = store_call_key(call, 0), *ns = key ? store_call_ns(st, call, 1, buf, sizeof buf) : NULL;
	struct store_db *db = ns ? store_db(st, call) : NULL;
	bool changed = false;
	int r;

	if (!db)
		return;
	if ((r = store_db_set(db, ns, key, NULL, st->size_max, &changed)) < 0) {
		store_fail(st, call, r);
		return;
	}
	if (changed)
		store_emit_change(st, ns, key, NULL);
	call_return_json(call, cJSON_CreateBool(changed));
}

/* incr(key, by?, ns?): the new integer. */
static void store_incr(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	char buf[STORE_NS_MAX + 1], text[32];
	const char *key = store_call_key(call, 0), *ns = key ? store_call_ns(st, call, 2, buf, sizeof buf) : NULL;
	const cJSON *by = call_get_arg(call, 1);
	struct store_db *db = ns ? store_db(st, call) : NULL;
	int64_t n;
	int r;

	if (!db)
		return;
	r = store_db_incr(db, ns, key, cJSON_IsNumber(by) ? (int64_t)by->valuedouble : 1, st->size_max, &n);
	if (r < 0) {
		store_fail(st, call, r);
		return;
	}
	snprintf(text, sizeof text, "%lld", (long long)n);
	store_emit_change(st, ns, key, text);
	call_return_json(call, cJSON_CreateNumber((double)n));
}

/* cas(key, expected, value, ns?): whether the value was expected (and is now value). */
static void store_cas(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	char buf[STORE_NS_MAX + 1], *expect = NULL, *json = NULL;
	const char *key = store_call_key(call, 0), *ns = key ? store_call_ns(st, call, 3, buf, sizeof buf) : NULL;
	struct store_db *db = ns && store_call_json(call, 1, &expect) && store_call_json(call, 2, &json) ?
			      store_db(st, call) : NULL;
	bool done = false;
	int r;

	if (db && (r = store_db_cas(db, ns, key, expect, json, st->size_max, &done)) < 0) {
		store_fail(st, call, r);
	} else if (db) {
		if (done && (expect || json))
			store_emit_change(st, ns, key, json);
		call_return_json(call, cJSON_CreateBool(done));
	}
	free(expect);
	free(json);
}

/* The longest answer call may get: a frame its client reads (the frame_max
 * it was told in welcome, or the current one if smaller), and no more than
 * output_max, past which the host would cut the client off. */
static size_t store_answer_max(const struct store *st, const struct call *call)
{
	const struct server_config *cfg = server_get_config(st->server);
	struct client *c = call_get_client(call);
	size_t max = cfg->frame_max < cfg->output_max ? cfg->frame_max : cfg->output_max;

	if (c && client_frame_max(c) < max)
		max = client_frame_max(c);
	return max;
}

/* Bytes s takes as a JSON string, its quotes included (cJSON's escapes). */
static size_t store_json_string_len(const char *s)
{
	size_t n = 2;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' || ch == '\t')
			n += 2;
		else
			n += ch < 0x20 ? 6 : 1;
	}
	return n;
}

/* A listing being built: its entries, and where it must stop. */
struct store_listing {
	cJSON *entries;		/* {key: value} */
	size_t bytes;		/* of entries as JSON text so far */
	size_t bytes_max;	/* a page stops before passing it */
	size_t answer_max;	/* what the entries may take in one answer */
	unsigned count;
	unsigned limit;		/* entries of a page; 0: one listing, no pages */
	bool more;		/* a page stopped before an entry */
	char *too_big;		/* the key whose entry (or listing) passes answer_max */
};

/* Add one entry of a listing to the store_listing userdata; 1 when a page
 * is full before it, -EMSGSIZE when the answer would pass answer_max. */
static int store_list_entry(const char *key, const char *json, void *userdata)
{
	struct store_listing *l = userdata;
	size_t n = store_json_string_len(key) + 1 + strlen(json) + 1;	/* "key":value, */
	cJSON *v;

	if (l->limit && (l->count >= l->limit || (l->count > 0 && l->bytes + n > l->bytes_max))) {
		l->more = true;
		return 1;
	}
	if (l->bytes + n > l->answer_max) {
		l->too_big = strdup(key);
		return -EMSGSIZE;
	}
	v = cJSON_Parse(json);
	if (!v || !cJSON_AddItemToObject(l->entries, key, v)) {
		cJSON_Delete(v);
		return -ENOMEM;
	}
	l->bytes += n;
	l->count++;
	return 0;
}

/* Fill l with the entries of ns after prefix and after; false after failing call. */
static bool store_list_fill(struct store *st, struct call *call, struct store_db *db, const char *ns,
			    const char *prefix, const char *after, struct store_listing *l)
{
	int r;

	l->answer_max = store_answer_max(st, call);
	l->answer_max = l->answer_max > STORE_ANSWER_SLACK ? l->answer_max - STORE_ANSWER_SLACK : 0;
	/* half a frame: a page leaves room for the client's other traffic */
	l->bytes_max = l->answer_max / 2;
	if (!(l->entries = cJSON_CreateObject())) {
		call_fail(call, ERR_FAILED, "out of memory");
		return false;
	}
	r = store_db_list(db, ns, prefix ? prefix : "", after, store_list_entry, l);
	if (r == -EMSGSIZE && !l->limit)
		call_fail(call, ERR_LIMIT_EXCEEDED, "store: the listing of namespace %s passes %zu bytes (frame_max): "
			  "list it in pages with listPage", ns, l->answer_max);
	else if (r == -EMSGSIZE)
		call_fail(call, ERR_LIMIT_EXCEEDED, "store: the entry of key %s alone passes %zu bytes (frame_max): "
			  "list on with it as after", l->too_big, l->answer_max);
	else if (r < 0)
		store_fail(st, call, r);
	free(l->too_big);
	if (r < 0)
		l->entries = (cJSON_Delete(l->entries), NULL);
	return r >= 0;
}

/* list(prefix?, ns?): {key: value} of the keys starting with prefix, when
 * they fit in one frame. */
static void store_list(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	char buf[STORE_NS_MAX + 1];
	const char *prefix = cJSON_GetStringValue(call_get_arg(call, 0));
	const char *ns = store_call_ns(st, call, 1, buf, sizeof buf);
	struct store_db *db = ns ? store_db(st, call) : NULL;
	struct store_listing l = { 0 };

	if (db && store_list_fill(st, call, db, ns, prefix, NULL, &l))
		call_return_json(call, l.entries);
}

/* The limit argument i of listPage (default STORE_PAGE_DEFAULT); 0 after failing call. */
static unsigned store_call_limit(struct call *call, unsigned i)
{
	const cJSON *limit = call_get_arg(call, i);

	if (!limit || cJSON_IsNull(limit))
		return STORE_PAGE_DEFAULT;
	if (!cJSON_IsNumber(limit) || limit->valuedouble < 1 || limit->valuedouble > STORE_PAGE_MAX ||
	    limit->valuedouble != (double)(unsigned)limit->valuedouble) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "store: a limit is an integer from 1 to %d", STORE_PAGE_MAX);
		return 0;
	}
	return (unsigned)limit->valuedouble;
}

/* listPage(prefix?, after?, limit?, ns?): {"entries":{key: value},"more","next"},
 * a page of the listing that fits in a frame. */
static void store_list_page(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	char buf[STORE_NS_MAX + 1];
	const char *prefix = cJSON_GetStringValue(call_get_arg(call, 0));
	const char *after = cJSON_GetStringValue(call_get_arg(call, 1));
	struct store_listing l = { .limit = store_call_limit(call, 2) };
	const char *ns = l.limit ? store_call_ns(st, call, 3, buf, sizeof buf) : NULL;
	struct store_db *db = ns ? store_db(st, call) : NULL;
	cJSON *out, *last;

	if (!db || !store_list_fill(st, call, db, ns, prefix, after, &l))
		return;
	last = l.more ? l.entries->child->prev : NULL;	/* a cJSON head's prev is the tail */
	if (!(out = cJSON_CreateObject()) || !cJSON_AddItemToObject(out, "entries", l.entries)) {
		cJSON_Delete(l.entries);
		cJSON_Delete(out);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	if (!cJSON_AddBoolToObject(out, "more", l.more) ||
	    !(last ? cJSON_AddStringToObject(out, "next", last->string) : cJSON_AddNullToObject(out, "next"))) {
		cJSON_Delete(out);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	call_return_json(call, out);
}

/* Add one namespace to the array userdata. */
static int store_ns_entry(const char *ns, int64_t entries, int64_t bytes, void *userdata)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "ns", ns) || !cJSON_AddNumberToObject(o, "keys", (double)entries) ||
	    !cJSON_AddNumberToObject(o, "bytes", (double)bytes)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	cJSON_AddItemToArray(userdata, o);
	return 0;
}

/* namespaces(): [{ns, keys, bytes}] (privileged). */
static void store_namespaces(struct object *obj, struct call *call)
{
	struct store *st = object_get_userdata(obj);
	struct store_db *db = store_db(st, call);
	cJSON *out;
	int r;

	if (!db)
		return;
	if (!(out = cJSON_CreateArray())) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	if ((r = store_db_namespaces(db, store_ns_entry, out)) < 0) {
		cJSON_Delete(out);
		store_fail(st, call, r);
		return;
	}
	call_return_json(call, out);
}

/* The emitter's name for event as the caller means it ("change": its own
 * namespace, "change:NS": NS), checked; NULL after failing call. */
static const char *store_event(struct store *st, struct call *call, char *buf, size_t size)
{
	const char *event = cJSON_GetStringValue(call_get_arg(call, 0));
	char nsbuf[STORE_NS_MAX + 1];
	const char *ns;

	if (strcmp(event, "change") != 0 && strncmp(event, "change:", 7) != 0) {
		call_fail(call, ERR_NO_SUCH_EVENT, "store has no event '%s'", event);
		return NULL;
	}
	ns = store_ns_check(st, call, event[6] ? event + 7 : NULL, nsbuf, sizeof nsbuf);
	if (!ns)
		return NULL;
	snprintf(buf, size, "change:%s", ns);
	return buf;
}

/* on / once (event, fn): a registration of the caller on a namespace it may use. */
static void store_add_listener(struct object *obj, struct call *call, bool once)
{
	struct store *st = object_get_userdata(obj);
	char event[STORE_EVENT_MAX];
	int r;

	if (!store_event(st, call, event, sizeof event))
		return;
	r = emitter_add(object_get_emitter(obj), event, call_get_fn_arg(call, 1), once, call_get_client(call));
	if (r == -ENOBUFS)
		call_fail(call, ERR_LIMIT_EXCEEDED, "at most %zu handlers per client (handlers_max)",
			  client_config(call_get_client(call))->handlers_max);
	else if (r < 0)
		call_fail(call, ERR_FAILED, "out of memory");
	else
		call_return(call, NULL);
}

/* on(event, fn) */
static void store_on(struct object *obj, struct call *call)
{
	store_add_listener(obj, call, false);
}

/* once(event, fn) */
static void store_once(struct object *obj, struct call *call)
{
	store_add_listener(obj, call, true);
}

/* Free the object's state. */
static void store_destroy(struct object *obj)
{
	struct store *st = object_get_userdata(obj);

	store_db_close(st->db);
	free(st->path);
	free(st);
}

static const struct object_arg store_args_key[] = {
	{ .name = "key", .type = OBJECT_TYPE_STRING },
	{ .name = "ns", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg store_args_set[] = {
	{ .name = "key", .type = OBJECT_TYPE_STRING },
	{ .name = "value", .type = OBJECT_TYPE_ANY },
	{ .name = "ns", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg store_args_incr[] = {
	{ .name = "key", .type = OBJECT_TYPE_STRING },
	{ .name = "by", .type = OBJECT_TYPE_INTEGER, .optional = true },
	{ .name = "ns", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg store_args_cas[] = {
	{ .name = "key", .type = OBJECT_TYPE_STRING },
	{ .name = "expected", .type = OBJECT_TYPE_ANY },
	{ .name = "value", .type = OBJECT_TYPE_ANY },
	{ .name = "ns", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg store_args_list[] = {
	{ .name = "prefix", .type = OBJECT_TYPE_STRING, .optional = true },
	{ .name = "ns", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg store_args_page[] = {
	{ .name = "prefix", .type = OBJECT_TYPE_STRING, .optional = true },
	{ .name = "after", .type = OBJECT_TYPE_STRING, .optional = true },
	{ .name = "limit", .type = OBJECT_TYPE_INTEGER, .optional = true },
	{ .name = "ns", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg store_args_on[] = {
	{ .name = "event", .type = OBJECT_TYPE_STRING },
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_REGISTRATION },
	{ 0 },
};

static const struct object_method store_methods[] = {
	{ "get", "the value under key in namespace ns (default: the caller's), or null", store_args_key, "any",
	  false, store_get },
	{ "set", "puts value (JSON, no functions) under key; null deletes", store_args_set, "null", false, store_set },
	{ "delete", "deletes key; true if it was there", store_args_key, "boolean", false, store_delete },
	{ "incr", "adds by (default 1) to the integer under key (absent: 0), atomically; returns the new value",
	  store_args_incr, "integer", false, store_incr },
	{ "cas", "puts value (null: deletes) if the value under key equals expected (null: absent); true if it did",
	  store_args_cas, "boolean", false, store_cas },
	{ "list", "{key: value} of the keys starting with prefix (default: all), in key order, when it fits in a "
	  "frame (else LimitExceeded: use listPage)", store_args_list, "object", false, store_list },
	{ "listPage", "{entries: {key: value}, more, next}: at most limit (default 100, at most 1000) keys starting "
	  "with prefix and sorting after after, in key order, cut short to fit a frame; next is the after of the "
	  "next page (null when no more)", store_args_page, "object", false, store_list_page },
	{ "namespaces", "[{ns, keys, bytes}] of every namespace holding something", NULL, "array", true,
	  store_namespaces },
	{ "on", "registers fn for \"change\" (the caller's namespace) or \"change:NS\"", store_args_on, "null",
	  false, store_on },
	{ "once", "as on, removed before its first call", store_args_on, "null", false, store_once },
	{ 0 },
};

static const struct object_event store_events[] = {
	{ "*", "\"change\" or \"change:NS\": (key, value, ns) after each change; value null when deleted" },
	{ 0 },
};

/* The database path of cfg in state_dir (allocated). */
static char *store_conf_path(const struct store_conf *cfg, const char *state_dir)
{
	char *path = NULL;

	if (cfg->path)
		return strdup(cfg->path);
	if (asprintf(&path, "%s/store.db", state_dir) < 0)
		return NULL;
	return path;
}

/* Register the store. */
int store_register(struct server *s, const struct store_conf *cfg, const char *state_dir, struct store **ret)
{
	struct store *st = calloc(1, sizeof *st);
	int r = -ENOMEM;

	if (!st || !(st->path = store_conf_path(cfg, state_dir)))
		goto fail;
	st->size_max = cfg->size_max;
	st->server = s;
	st->obj = object_new("store", "JSON values under keys, one namespace per behaviour, kept across restarts",
			     store_methods, st);
	if (!st->obj)
		goto fail;
	object_set_destroy(st->obj, store_destroy);
	if ((r = objects_add(server_objects(s), st->obj, store_events)) < 0)
		return r;	/* st freed with its object */
	if (ret)
		*ret = st;
	return 0;
fail:
	if (st)
		free(st->path);
	free(st);
	return r;
}

/* Install the namespace hook. */
void store_set_namespace_fn(struct store *st, store_namespace_fn fn, void *userdata)
{
	st->who_fn = fn;
	st->who_userdata = userdata;
}

/* Take a new configuration. */
int store_configure(struct store *st, const struct store_conf *cfg, const char *state_dir)
{
	char *path = store_conf_path(cfg, state_dir);

	if (!path)
		return -ENOMEM;
	st->size_max = cfg->size_max;
	if (strcmp(path, st->path) != 0) {
		log_info("store: the database is now %s (opened at the next call)", path);
		store_db_close(st->db);
		st->db = NULL;
		free(st->path);
		st->path = path;
	} else {
		free(path);
	}
	return 0;
}

/* The database file. */
const char *store_path(const struct store *st)
{
	return st->path;
}
