/* SPDX-License-Identifier: ISC */
/* The `loopback` test object. */
#include "config.h"

#include "loopback.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "call.h"
#include "client.h"
#include "emitter.h"
#include "errors.h"
#include "fn.h"
#include "list.h"
#include "object.h"
#include "server.h"
#include "value.h"

struct loopback {
	struct server *server;	/* owns the object and the functions it makes */
	struct list store;	/* struct loopback_entry */
	struct list timers;	/* struct loopback_timer */
};

/* A stored value; it belongs to the client that stored it last. */
struct loopback_entry {
	struct list link;
	char *key;
	struct value *value;
	struct client *owner;
};

/* A sleep (call set) or a callLater (fn and args set). */
struct loopback_timer {
	struct list link;
	ev_timer timer;
	struct call *call;
	struct fn *fn;
	struct value *args;
	struct client *owner;
};

/* One function of a callAll and its outcome. */
struct loopback_slot {
	struct loopback_all *all;
	struct value *result;
	bool failed;
	char *err_name;		/* copies; NULL when the copy failed */
	char *err_message;
	struct value *err_data;
};

struct loopback_all {
	struct call *call;
	size_t n;
	size_t remaining;
	struct loopback_slot slots[];
};

/* Shared state of the two functions of makeCounter. */
struct loopback_counter {
	unsigned refs;
	double start;
	double value;
};

/* Arguments from index `from` on, as an array value. */
static struct value *loopback_rest(const struct call *call, unsigned from)
{
	struct value *v = value_new(cJSON_CreateArray());
	unsigned n = call_arg_count(call);

	for (unsigned i = from; v && i < n; i++) {
		cJSON *item = value_copy(v, call_get_args(call), call_get_arg(call, i));
		if (!item) {
			value_free(v);
			return NULL;
		}
		cJSON_AddItemToArray(value_root(v), item);
	}
	return v;
}

/* A millisecond count argument, refused when negative. */
static bool loopback_ms(struct call *call, unsigned i, double *ret)
{
	double ms = call_get_arg(call, i)->valuedouble;

	if (ms < 0) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "argument 'ms' must not be negative");
		return false;
	}
	*ret = ms;
	return true;
}

/* echo(value): value, functions included. */
static void loopback_echo(struct object *obj, struct call *call)
{
	call_return_arg(call, 0);
}

/* echoFd(fd): the descriptor back (the "fd" extension), refused when the
 * argument is not one. */
static void loopback_echo_fd(struct object *obj, struct call *call)
{
	if (value_get_fd(call_get_args(call), call_get_arg(call, 0)) < 0) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "argument 'fd' must be a descriptor ({\"$fd\":N}, sent with "
			  "the frame)");
		return;
	}
	call_return_arg(call, 0);
}

/* Pass the function's outcome on as the call's. */
static void loopback_call_done(struct value *result, const struct fn_error *err, void *userdata)
{
	struct call *call = userdata;

	if (err)
		call_fail_error(call, err);
	else
		call_return(call, result);
}

/* call(fn, args...): fn's result or error. */
static void loopback_call(struct object *obj, struct call *call)
{
	struct value *args = loopback_rest(call, 1);

	if (!args || fn_invoke(call_get_fn_arg(call, 0), args, loopback_call_done, call) < 0)
		call_fail(call, ERR_FAILED, "out of memory");
}

/* Collect the functions under node in document order. */
static int loopback_collect(const struct value *v, const cJSON *node, struct fn ***fns, size_t *n, size_t *cap)
{
	struct fn *fn = value_get_fn(v, node);

	if (fn) {
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 8;
			struct fn **p = realloc(*fns, c * sizeof *p);
			if (!p)
				return -ENOMEM;
			*fns = p;
			*cap = c;
		}
		(*fns)[(*n)++] = fn;
		return 0;
	}
	if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
		return 0;
	for (const cJSON *c = node->child; c; c = c->next) {
		int r = loopback_collect(v, c, fns, n, cap);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Free a callAll's bookkeeping. */
static void loopback_all_free(struct loopback_all *all)
{
	for (size_t i = 0; i < all->n; i++) {
		struct loopback_slot *s = &all->slots[i];
		value_free(s->result);
		value_free(s->err_data);
		free(s->err_name);
		free(s->err_message);
	}
	free(all);
}

/* Every function answered: the first failure, or the array of results. */
static void loopback_all_finish(struct loopback_all *all)
{
	struct value *v = value_new(cJSON_CreateArray());

	for (size_t i = 0; i < all->n; i++) {
		struct loopback_slot *s = &all->slots[i];
		if (s->failed) {
			struct fn_error err = { s->err_name ? s->err_name : ERR_FAILED,
						s->err_message ? s->err_message : "out of memory", s->err_data };
			call_fail_error(all->call, &err);
			value_free(v);
			loopback_all_free(all);
			return;
		}
		cJSON *item = v ? value_copy(v, s->result, value_json(s->result)) : NULL;
		if (item)
			cJSON_AddItemToArray(value_root(v), item);
	}
	if (v)
		call_return(all->call, v);
	else
		call_fail(all->call, ERR_FAILED, "out of memory");
	loopback_all_free(all);
}

/* Record one outcome (err copied). */
static void loopback_slot_set(struct loopback_slot *s, struct value *result, const struct fn_error *err)
{
	if (err) {
		s->failed = true;
		s->err_name = strdup(err->name);
		s->err_message = strdup(err->message ? err->message : "");
		s->err_data = err->data ? value_dup(err->data) : NULL;
	} else {
		s->result = result;
	}
	if (--s->all->remaining == 0)
		loopback_all_finish(s->all);
}

/* One function of a callAll answered. */
static void loopback_all_done(struct value *result, const struct fn_error *err, void *userdata)
{
	loopback_slot_set(userdata, result, err);
}

/* Invoke every function of the value with the same arguments. */
static void loopback_call_all(struct object *obj, struct call *call)
{
	struct fn **fns = NULL;
	size_t n = 0, cap = 0;
	struct value *args = loopback_rest(call, 1);
	struct loopback_all *all = NULL;

	if (!args || loopback_collect(call_get_args(call), call_get_arg(call, 0), &fns, &n, &cap) < 0 ||
	    !(all = calloc(1, sizeof *all + n * sizeof all->slots[0]))) {
		call_fail(call, ERR_FAILED, "out of memory");
		goto out;
	}
	all->call = call;
	all->n = all->remaining = n;
	if (n == 0) {
		loopback_all_finish(all);
		goto out;
	}
	/* Completions come from the loop, so remaining cannot reach 0 here
	 * unless every invocation failed to start. */
	for (size_t i = 0; i < n; i++) {
		struct value *copy = value_dup(args);
		all->slots[i].all = all;
		if (!copy || fn_invoke(fns[i], copy, loopback_all_done, &all->slots[i]) < 0) {
			struct fn_error err = { ERR_FAILED, "out of memory", NULL };
			loopback_slot_set(&all->slots[i], NULL, &err);
		}
	}
out:
	value_free(args);
	free(fns);
}

/* A timer of callLater or sleep went off, or is cancelled (fire false). */
static void loopback_timer_end(struct loopback_timer *t, bool fire)
{
	ev_timer_stop(EV_DEFAULT, &t->timer);
	list_remove(&t->link);
	if (t->call) {
		if (fire)
			call_return(t->call, NULL);
		else
			call_fail(t->call, ERR_FAILED, "the host is shutting down");
	}
	if (t->fn) {
		if (fire)
			fn_invoke(t->fn, t->args, NULL, NULL);
		else
			value_free(t->args);
		/* Released after its call was sent. */
		fn_unref(t->fn);
	}
	free(t);
}

/* A timer went off. */
static void loopback_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	loopback_timer_end(w->data, true);
}

/* Start a timer of ms milliseconds. */
static struct loopback_timer *loopback_timer_new(struct object *obj, double ms)
{
	struct loopback *lb = object_get_userdata(obj);
	struct loopback_timer *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	ev_timer_init(&t->timer, loopback_timer_cb, ms / 1000.0, 0.);
	t->timer.data = t;
	list_add_tail(&lb->timers, &t->link);
	ev_timer_start(EV_DEFAULT, &t->timer);
	return t;
}

/* callLater(ms, fn, args...): null now, fn(args...) later. */
static void loopback_call_later(struct object *obj, struct call *call)
{
	struct loopback_timer *t;
	struct value *args;
	double ms;

	if (!loopback_ms(call, 0, &ms))
		return;
	args = loopback_rest(call, 2);
	if (!args || !(t = loopback_timer_new(obj, ms))) {
		value_free(args);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	t->fn = fn_ref(call_get_fn_arg(call, 1));
	t->args = args;
	t->owner = call_get_client(call);
	call_return(call, NULL);
}

/* sleep(ms): null after ms milliseconds. */
static void loopback_sleep(struct object *obj, struct call *call)
{
	struct loopback_timer *t;
	double ms;

	if (!loopback_ms(call, 0, &ms))
		return;
	t = loopback_timer_new(obj, ms);
	if (!t) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	t->call = call;
}

/* The stored entry under key, or NULL. */
static struct loopback_entry *loopback_find(struct loopback *lb, const char *key)
{
	for (struct list *l = lb->store.next; l != &lb->store; l = l->next) {
		struct loopback_entry *e = list_entry(l, struct loopback_entry, link);
		if (strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

/* Unlink and free an entry. */
static void loopback_entry_free(struct loopback_entry *e)
{
	list_remove(&e->link);
	value_free(e->value);
	free(e->key);
	free(e);
}

/* store(key, value): keep value until dropped. */
static void loopback_store(struct object *obj, struct call *call)
{
	struct loopback *lb = object_get_userdata(obj);
	const char *key = cJSON_GetStringValue(call_get_arg(call, 0));
	struct value *v = value_extract(call_get_args(call), call_get_arg(call, 1));
	struct loopback_entry *e = loopback_find(lb, key);
	struct value *old = NULL;

	if (!e && v && (e = calloc(1, sizeof *e)) && !(e->key = strdup(key))) {
		free(e);
		e = NULL;
	}
	if (!v || !e) {
		value_free(v);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	if (e->value)
		old = e->value;
	else
		list_add_tail(&lb->store, &e->link);
	e->value = v;
	e->owner = call_get_client(call);
	call_return(call, NULL);
	value_free(old);
}

/* fetch(key): the stored value or null. */
static void loopback_fetch(struct object *obj, struct call *call)
{
	struct loopback_entry *e = loopback_find(object_get_userdata(obj), cJSON_GetStringValue(call_get_arg(call, 0)));

	call_return(call, e ? value_dup(e->value) : NULL);
}

/* drop: answer first, then let the value go (its releases follow the answer). */
static void loopback_drop(struct object *obj, struct call *call)
{
	struct loopback_entry *e = loopback_find(object_get_userdata(obj), cJSON_GetStringValue(call_get_arg(call, 0)));

	if (e)
		list_remove(&e->link);
	call_return_json(call, cJSON_CreateBool(e != NULL));
	if (e)
		loopback_entry_free(e);
}

/* emit(event, args...): how many registrations were reached. */
static void loopback_emit(struct object *obj, struct call *call)
{
	struct value *args = loopback_rest(call, 1);

	if (!args) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	size_t n = emitter_emit(object_get_emitter(obj), cJSON_GetStringValue(call_get_arg(call, 0)), args);
	value_free(args);
	call_return_json(call, cJSON_CreateNumber((double)n));
}

/* Drop one of the counter's two holders. */
static void loopback_counter_unref(void *userdata)
{
	struct loopback_counter *k = userdata;

	if (--k->refs == 0)
		free(k);
}

/* next(): the next integer. */
static void loopback_counter_next(struct fn *fn, struct call *call, void *userdata)
{
	struct loopback_counter *k = userdata;

	call_return_json(call, cJSON_CreateNumber(++k->value));
}

/* reset(): back to the start. */
static void loopback_counter_reset(struct fn *fn, struct call *call, void *userdata)
{
	struct loopback_counter *k = userdata;

	k->value = k->start;
	call_return(call, NULL);
}

/* Put a native function under key in o (held by v). */
static int loopback_add_native(struct server *s, struct value *v, cJSON *o, const char *key, fn_native_cb cb,
			       struct loopback_counter *k)
{
	struct fn *fn = fn_new_native(s, cb, k, loopback_counter_unref);
	cJSON *node;

	if (!fn)
		return -ENOMEM;
	k->refs++;
	node = value_add_fn(v, fn);
	fn_unref(fn);
	if (!node)
		return -ENOMEM;
	cJSON_AddItemToObject(o, key, node);
	return 0;
}

/* makeCounter(start?): {next, reset}. */
static void loopback_make_counter(struct object *obj, struct call *call)
{
	struct server *s = ((struct loopback *)object_get_userdata(obj))->server;
	const cJSON *start = call_get_arg(call, 0);
	struct loopback_counter *k = calloc(1, sizeof *k);
	struct value *v = value_new(cJSON_CreateObject());

	if (!k || !v) {
		free(k);
		value_free(v);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	k->refs = 1;
	k->start = k->value = cJSON_IsNumber(start) ? start->valuedouble : 0;
	if (loopback_add_native(s, v, value_root(v), "next", loopback_counter_next, k) < 0 ||
	    loopback_add_native(s, v, value_root(v), "reset", loopback_counter_reset, k) < 0) {
		loopback_counter_unref(k);
		value_free(v);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	loopback_counter_unref(k);
	call_return(call, v);
}

/* fail(name, message): fails with that error. */
static void loopback_fail(struct object *obj, struct call *call)
{
	call_fail(call, cJSON_GetStringValue(call_get_arg(call, 0)), "%s",
		  cJSON_GetStringValue(call_get_arg(call, 1)));
}

/* Drop what a departed client stored and the callLater timers it set. */
static void loopback_client_lost(struct object *obj, struct client *c)
{
	struct loopback *lb = object_get_userdata(obj);
	struct list *l, *next;

	for (l = lb->store.next; l != &lb->store; l = next) {
		struct loopback_entry *e = list_entry(l, struct loopback_entry, link);
		next = l->next;
		if (e->owner == c)
			loopback_entry_free(e);
	}
	for (l = lb->timers.next; l != &lb->timers; l = next) {
		struct loopback_timer *t = list_entry(l, struct loopback_timer, link);
		next = l->next;
		if (t->fn && t->owner == c)
			loopback_timer_end(t, false);
	}
}

/* Free everything the object holds. */
static void loopback_destroy(struct object *obj)
{
	struct loopback *lb = object_get_userdata(obj);

	while (!list_empty(&lb->timers))
		loopback_timer_end(list_entry(lb->timers.next, struct loopback_timer, link), false);
	while (!list_empty(&lb->store))
		loopback_entry_free(list_entry(lb->store.next, struct loopback_entry, link));
	free(lb);
}

static const struct object_arg loopback_args_value[] = {
	{ .name = "value", .type = OBJECT_TYPE_ANY },
	{ 0 },
};
static const struct object_arg loopback_args_call[] = {
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_CALLBACK },
	{ .name = "args", .type = OBJECT_TYPE_ANY, .rest = true },
	{ 0 },
};
static const struct object_arg loopback_args_call_all[] = {
	{ .name = "value", .type = OBJECT_TYPE_ANY },
	{ .name = "args", .type = OBJECT_TYPE_ANY, .rest = true },
	{ 0 },
};
static const struct object_arg loopback_args_call_later[] = {
	{ .name = "ms", .type = OBJECT_TYPE_INTEGER },
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_ONCE },
	{ .name = "args", .type = OBJECT_TYPE_ANY, .rest = true },
	{ 0 },
};
static const struct object_arg loopback_args_store[] = {
	{ .name = "key", .type = OBJECT_TYPE_STRING },
	{ .name = "value", .type = OBJECT_TYPE_ANY },
	{ 0 },
};
static const struct object_arg loopback_args_fd[] = {
	{ .name = "fd", .type = OBJECT_TYPE_ANY },
	{ 0 },
};
static const struct object_arg loopback_args_key[] = {
	{ .name = "key", .type = OBJECT_TYPE_STRING },
	{ 0 },
};
static const struct object_arg loopback_args_emit[] = {
	{ .name = "event", .type = OBJECT_TYPE_STRING },
	{ .name = "args", .type = OBJECT_TYPE_ANY, .rest = true },
	{ 0 },
};
static const struct object_arg loopback_args_counter[] = {
	{ .name = "start", .type = OBJECT_TYPE_INTEGER, .optional = true },
	{ 0 },
};
static const struct object_arg loopback_args_ms[] = {
	{ .name = "ms", .type = OBJECT_TYPE_INTEGER },
	{ 0 },
};
static const struct object_arg loopback_args_fail[] = {
	{ .name = "name", .type = OBJECT_TYPE_STRING },
	{ .name = "message", .type = OBJECT_TYPE_STRING },
	{ 0 },
};

static const struct object_method loopback_methods[] = {
	{ "echo", "returns its argument", loopback_args_value, "any", false, loopback_echo },
	{ "echoFd", "returns the descriptor it is given ({\"$fd\":N})", loopback_args_fd, "any", false,
	  loopback_echo_fd },
	{ "call", "invokes fn(args...) and returns its result or its error", loopback_args_call, "any", false,
	  loopback_call },
	{ "callAll", "invokes every function found in value with args, in document order; returns their results",
	  loopback_args_call_all, "array", false, loopback_call_all },
	{ "callLater", "returns at once; invokes fn(args...) after ms milliseconds, then releases it",
	  loopback_args_call_later, "null", false, loopback_call_later },
	{ "store", "keeps value (functions included) under key until dropped", loopback_args_store, "null", false,
	  loopback_store },
	{ "fetch", "the value stored under key, or null", loopback_args_key, "any", false, loopback_fetch },
	{ "drop", "forgets the value under key; true if there was one", loopback_args_key, "boolean", false,
	  loopback_drop },
	{ "emit", "emits event with args to every registration of every client; returns how many it reached",
	  loopback_args_emit, "integer", false, loopback_emit },
	{ "makeCounter", "returns {next, reset}: two functions sharing a counter that starts at start (default 0)",
	  loopback_args_counter, "object", false, loopback_make_counter },
	{ "sleep", "answers null after ms milliseconds", loopback_args_ms, "null", false, loopback_sleep },
	{ "fail", "fails with the error name and message given", loopback_args_fail, "null", false, loopback_fail },
	{ 0 },
};

static const struct object_event loopback_events[] = {
	{ "*", "any event name given to emit" },
	{ 0 },
};

/* Create and register the loopback object with server s. */
int loopback_register(struct server *s)
{
	struct loopback *lb = calloc(1, sizeof *lb);
	struct object *obj;

	if (!lb)
		return -ENOMEM;
	lb->server = s;
	list_init(&lb->store);
	list_init(&lb->timers);
	obj = object_new("loopback", "test object: echoes values, calls back functions, emits events",
			 loopback_methods, lb);
	if (!obj) {
		free(lb);
		return -ENOMEM;
	}
	object_set_destroy(obj, loopback_destroy);
	object_set_client_lost(obj, loopback_client_lost);
	return objects_add(server_objects(s), obj, loopback_events);	/* frees lb on failure */
}
