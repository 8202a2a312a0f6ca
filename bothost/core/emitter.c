/* SPDX-License-Identifier: ISC */
/* Events and registrations. */
#include "config.h"

#include "emitter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/buf.h"
#include "call.h"
#include "client.h"
#include "errors.h"
#include "fn.h"
#include "list.h"
#include "wire/map.h"
#include "object.h"
#include "server.h"
#include "value.h"
#include "wire/wire.h"

/* The registrations of one event name, in the order they were added. */
struct emitter_event {
	struct emitter *em;
	char *name;
	uint64_t hash;
	struct emitter_event *next_same_hash;
	struct list listeners;
	unsigned emitting;	/* emits in progress: keep the entry alive */
};

struct emitter {
	const struct object_event *events;
	bool open;		/* "*": any name */
	struct map by_hash;	/* (hash, 0) -> struct emitter_event chain */
	const struct emitter_filter_ops *filter_ops;	/* NULL: no filters */
	void *filter_userdata;
	const char *label;	/* names the emitter in filter listings */
	uint64_t emitted, delivered;	/* of names matched by a pattern */
};

struct listener {
	struct emitter_event *ev;
	struct fn *fn;
	struct client *owner;	/* NULL: registered by the host itself */
	void *filter;		/* NULL: every occurrence */
	bool once;
	struct list ev_link;	/* in ev->listeners */
	struct list owner_link;	/* in the owner's list */
};

/* FNV-1a of an event name. */
static uint64_t emitter_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* An emitter accepting the given events. */
struct emitter *emitter_new(const struct object_event *events)
{
	struct emitter *em = calloc(1, sizeof *em);

	if (!em)
		return NULL;
	em->events = events;
	for (const struct object_event *e = events; e && e->name; e++)
		if (strcmp(e->name, "*") == 0)
			em->open = true;
	return em;
}

/* Whether pattern (a name ending in ".*") takes event: its prefix and more. */
static bool emitter_pattern_match(const char *pattern, const char *event)
{
	size_t n = strlen(pattern);

	return n >= 2 && strcmp(pattern + n - 2, ".*") == 0 && strncmp(pattern, event, n - 1) == 0 &&
	       event[n - 1] != '\0';
}

/* Whether event is a name the clients choose: "*" or a pattern takes it. */
static bool emitter_open_name(const struct emitter *em, const char *event)
{
	if (em->open)
		return true;
	for (const struct object_event *e = em->events; e && e->name; e++)
		if (emitter_pattern_match(e->name, event))
			return true;
	return false;
}

/* True when event may be registered. */
bool emitter_has_event(const struct emitter *em, const char *event)
{
	for (const struct object_event *e = em->events; e && e->name; e++)
		if (strcmp(e->name, event) == 0)
			return true;
	return emitter_open_name(em, event);
}

/* The entry of an event name, created on demand. */
static struct emitter_event *emitter_event_get(struct emitter *em, const char *name, bool create)
{
	uint64_t h = emitter_hash(name);
	struct emitter_event *head = map_get(&em->by_hash, h, 0);

	for (struct emitter_event *ev = head; ev; ev = ev->next_same_hash)
		if (strcmp(ev->name, name) == 0)
			return ev;
	if (!create)
		return NULL;
	struct emitter_event *ev = calloc(1, sizeof *ev);
	if (!ev || !(ev->name = strdup(name)) || map_put(&em->by_hash, h, 0, ev) < 0) {
		if (ev)
			free(ev->name);
		free(ev);
		return NULL;
	}
	ev->em = em;
	ev->hash = h;
	ev->next_same_hash = head;
	list_init(&ev->listeners);
	return ev;
}

/* Whether the event has registrations: callers skip building arguments
 * nobody would receive. */
bool emitter_listened(struct emitter *em, const char *event)
{
	struct emitter_event *ev = emitter_event_get(em, event, false);

	return ev && !list_empty(&ev->listeners);
}

/* Free an event entry nobody listens to and no emit is walking. */
static void emitter_event_trim(struct emitter_event *ev)
{
	struct emitter *em = ev->em;
	struct emitter_event *head, **pp;

	if (!list_empty(&ev->listeners) || ev->emitting)
		return;
	head = map_get(&em->by_hash, ev->hash, 0);
	for (pp = &head; *pp != ev; pp = &(*pp)->next_same_hash)
		;
	*pp = ev->next_same_hash;
	if (head)
		map_put(&em->by_hash, ev->hash, 0, head);	/* replaces: cannot fail */
	else
		map_remove(&em->by_hash, ev->hash, 0);
	free(ev->name);
	free(ev);
}

/* Free a filter of em (NULL passes). */
static void emitter_filter_free(const struct emitter *em, void *filter)
{
	if (filter)
		em->filter_ops->free(filter);
}

/* Unlink a registration; returns its function (the reference it held). */
static struct fn *emitter_unlink(struct listener *l)
{
	struct emitter_event *ev = l->ev;
	struct fn *fn = l->fn;

	emitter_filter_free(ev->em, l->filter);
	list_remove(&l->ev_link);
	if (l->owner) {
		list_remove(&l->owner_link);
		client_listener_remove(l->owner);
	}
	free(l);
	emitter_event_trim(ev);
	return fn;
}

/* Remove a registration and drop its function. */
static void emitter_remove(struct listener *l)
{
	fn_unref(emitter_unlink(l));
}

/* Append a registration of fn for event. */
int emitter_add(struct emitter *em, const char *event, struct fn *fn, bool once, struct client *owner)
{
	return emitter_add_filtered(em, event, fn, once, owner, NULL);
}

/* Append a registration of fn for event, with a filter (taken). */
int emitter_add_filtered(struct emitter *em, const char *event, struct fn *fn, bool once, struct client *owner,
			 void *filter)
{
	struct emitter_event *ev;
	struct listener *l;
	int r = 0;

	if (!emitter_has_event(em, event))
		r = -ENOENT;
	else if (owner && client_listener_count(owner) >= client_config(owner)->handlers_max)
		r = -ENOBUFS;
	else if (!(ev = emitter_event_get(em, event, true)))
		r = -ENOMEM;
	if (r < 0) {
		emitter_filter_free(em, filter);
		return r;
	}
	l = calloc(1, sizeof *l);
	if (!l) {
		emitter_filter_free(em, filter);
		emitter_event_trim(ev);
		return -ENOMEM;
	}
	l->ev = ev;
	l->filter = filter;
	l->fn = fn_ref(fn);
	l->owner = owner;
	l->once = once;
	list_add_tail(&ev->listeners, &l->ev_link);
	list_init(&l->owner_link);
	if (owner) {
		list_add_tail(client_listeners(owner), &l->owner_link);
		client_listener_add(owner);
	}
	return 0;
}

/* Deliver to one function: shared text for a client's function, else a
 * copy. True when it was queued; a client that could not take it has been
 * cut off (with an error), and is not counted. */
static bool emitter_deliver(struct fn *fn, const struct value *args, const struct buf *text)
{
	struct client *c = fn_get_client(fn);

	if (c && text)
		return client_send_invoke_text(c, fn_get_remote_id(fn), buf_head(text), buf_pending(text)) == 0 &&
		       client_is_open(c);
	return fn_notify(fn, args) == 0;
}

/* Whether registration l takes an occurrence with subject. */
static bool emitter_takes(const struct listener *l, const void *subject)
{
	return !l->filter || (subject && l->ev->em->filter_ops->match(l->filter, subject));
}

/* Deliver an event to every registration, in order. */
size_t emitter_emit(struct emitter *em, const char *event, const struct value *args)
{
	return emitter_emit_subject(em, event, args, NULL);
}

/* Whether some registration takes an occurrence of event with subject. */
bool emitter_wanted(struct emitter *em, const char *event, const void *subject)
{
	struct emitter_event *ev = emitter_event_get(em, event, false);

	for (struct list *it = ev ? ev->listeners.next : NULL; ev && it != &ev->listeners; it = it->next)
		if (emitter_takes(list_entry(it, struct listener, ev_link), subject))
			return true;
	return false;
}

/* Deliver an event to every registration whose filter takes subject, in order. */
size_t emitter_emit_subject(struct emitter *em, const char *event, const struct value *args, const void *subject)
{
	struct emitter_event *ev = emitter_event_get(em, event, false);
	struct buf text = BUF_INIT;
	bool shared = false, counted = emitter_open_name(em, event);
	size_t count = 0;

	if (counted)
		em->emitted++;
	if (!ev)
		return 0;
	/* Without functions the arguments read the same for every client: encode once. */
	if (!value_has_functions(args))
		shared = wire_encode(&text, value_json(args), NULL, NULL) == 0;
	ev->emitting++;
	for (struct list *it = ev->listeners.next, *next; it != &ev->listeners; it = next) {
		struct listener *l = list_entry(it, struct listener, ev_link);
		struct fn *fn;

		next = it->next;
		if (!emitter_takes(l, subject))
			continue;
		/* A once registration is gone before its call is sent, released after. */
		fn = l->once ? emitter_unlink(l) : fn_ref(l->fn);
		if (emitter_deliver(fn, args, shared ? &text : NULL))
			count++;
		fn_unref(fn);
	}
	ev->emitting--;
	emitter_event_trim(ev);
	buf_free(&text);
	if (counted)
		em->delivered += count;
	return count;
}

/* The counts of names the clients choose. */
void emitter_counts(const struct emitter *em, uint64_t *ret_emitted, uint64_t *ret_delivered)
{
	*ret_emitted = em->emitted;
	*ret_delivered = em->delivered;
}

/* Give the emitter filters. */
void emitter_set_filters(struct emitter *em, const char *label, const struct emitter_filter_ops *ops,
			 void *userdata)
{
	em->label = label;
	em->filter_ops = ops;
	em->filter_userdata = userdata;
}

/* The filtered registrations of c, for listings. */
cJSON *emitter_client_filters(struct client *c)
{
	struct list *head = client_listeners(c);
	cJSON *a = cJSON_CreateArray();

	for (struct list *it = head->next; a && it != head; it = it->next) {
		struct listener *l = list_entry(it, struct listener, owner_link);
		struct emitter *em = l->ev->em;
		cJSON *o;

		if (!l->filter)
			continue;
		if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(a, o) ||
		    !cJSON_AddStringToObject(o, "object", em->label ? em->label : "") ||
		    !cJSON_AddStringToObject(o, "event", l->ev->name) ||
		    !cJSON_AddItemToObject(o, "filter", em->filter_ops->json(l->filter))) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

/* Drop every registration of a departed client. */
void emitter_client_lost(struct client *c)
{
	struct list *head = client_listeners(c);

	while (!list_empty(head))
		emitter_remove(list_entry(head->next, struct listener, owner_link));
}

/* Drop every registration and free the emitter. */
void emitter_free(struct emitter *em)
{
	struct emitter_event *ev;
	size_t iter = 0;

	if (!em)
		return;
	while ((ev = map_next(&em->by_hash, &iter))) {
		/* Removing the last listener of each entry of the chain frees it. */
		while (ev) {
			struct emitter_event *next = ev->next_same_hash;
			bool last = list_empty(&ev->listeners);
			if (last)
				emitter_event_trim(ev);
			while (!last) {
				/* Removing the last registration frees ev itself. */
				last = ev->listeners.next->next == &ev->listeners;
				emitter_remove(list_entry(ev->listeners.next, struct listener, ev_link));
			}
			ev = next;
		}
		iter = 0;
	}
	map_free(&em->by_hash);
	free(em);
}

/* The events for introspection. */
cJSON *emitter_describe(const struct emitter *em)
{
	cJSON *d = cJSON_CreateObject();

	for (const struct object_event *e = em->events; e && e->name; e++) {
		cJSON *ed = cJSON_CreateObject();
		if (e->doc)
			cJSON_AddStringToObject(ed, "doc", e->doc);
		cJSON_AddItemToObject(d, e->name, ed);
	}
	return d;
}

/* The filter of argument i of a call on obj (absent or null: none): 0 and
 * *ret, or fails the call and returns -EINVAL / -ENOMEM. */
static int emitter_call_filter(struct object *obj, struct call *call, unsigned i, const char *event, void **ret)
{
	struct emitter *em = object_get_emitter(obj);
	const cJSON *spec = call_get_arg(call, i);
	char err[160] = "";
	int r;

	*ret = NULL;
	if (!spec || cJSON_IsNull(spec))
		return 0;
	if (!em->filter_ops) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "%s takes no filter", object_get_name(obj));
		return -EINVAL;
	}
	r = em->filter_ops->make(event, spec, ret, err, sizeof err, em->filter_userdata);
	if (r == -EINVAL)
		call_fail(call, ERR_INVALID_ARGUMENTS, "argument 'filter': %s", err);
	else if (r < 0)
		call_fail(call, ERR_FAILED, "out of memory");
	return r;
}

/* on / once: add a registration of the calling client. */
static void emitter_method_add(struct object *obj, struct call *call, bool once)
{
	struct emitter *em = object_get_emitter(obj);
	struct client *c = call_get_client(call);
	const char *event = cJSON_GetStringValue(call_get_arg(call, 0));
	void *filter;
	int r;

	if (!emitter_has_event(em, event))
		r = -ENOENT;
	else if (emitter_call_filter(obj, call, 2, event, &filter) < 0)
		return;
	else
		r = emitter_add_filtered(em, event, call_get_fn_arg(call, 1), once, c, filter);
	switch (r) {
	case 0:
		call_return(call, NULL);
		break;
	case -ENOENT:
		call_fail(call, ERR_NO_SUCH_EVENT, "%s has no event '%s'", object_get_name(obj), event);
		break;
	case -ENOBUFS:
		call_fail(call, ERR_LIMIT_EXCEEDED, "at most %zu handlers per client (handlers_max)",
			  client_config(c)->handlers_max);
		break;
	default:
		call_fail(call, ERR_FAILED, "out of memory");
		break;
	}
}

/* on(event, fn) */
static void emitter_method_on(struct object *obj, struct call *call)
{
	emitter_method_add(obj, call, false);
}

/* once(event, fn) */
static void emitter_method_once(struct object *obj, struct call *call)
{
	emitter_method_add(obj, call, true);
}

/* Whether registration l has the filter named by off: any filter when
 * none was named (given false), else an equal one (NULL: none). */
static bool emitter_same_filter(const struct listener *l, bool given, const void *filter)
{
	if (!given)
		return true;
	if (!l->filter || !filter)
		return l->filter == filter;
	return l->ev->em->filter_ops->equal(l->filter, filter);
}

/* off: remove the caller's most recent registration of the function (with
 * that filter when one is given). */
static void emitter_method_off(struct object *obj, struct call *call)
{
	const char *event = cJSON_GetStringValue(call_get_arg(call, 0));
	struct emitter_event *ev = emitter_event_get(object_get_emitter(obj), event, false);
	struct fn *fn = call_get_fn_arg(call, 1);
	struct client *c = call_get_client(call);
	const cJSON *spec = call_get_arg(call, 2);
	bool given = spec != NULL, removed = false;
	void *filter;

	if (emitter_call_filter(obj, call, 2, event, &filter) < 0)
		return;
	for (struct list *it = ev ? ev->listeners.prev : NULL; ev && it != &ev->listeners; it = it->prev) {
		struct listener *l = list_entry(it, struct listener, ev_link);
		if (l->owner == c && l->fn == fn && emitter_same_filter(l, given, filter)) {
			emitter_remove(l);
			removed = true;
			break;
		}
	}
	emitter_filter_free(object_get_emitter(obj), filter);
	call_return_json(call, cJSON_CreateBool(removed));
}

/* removeAllListeners: the caller's registrations of one event, or of all. */
static void emitter_method_remove_all(struct object *obj, struct call *call)
{
	struct emitter *em = object_get_emitter(obj);
	const char *event = cJSON_GetStringValue(call_get_arg(call, 0));
	struct client *c = call_get_client(call);
	struct list *head = c ? client_listeners(c) : NULL;
	size_t n = 0;

	for (struct list *it = head ? head->next : NULL, *next; head && it != head; it = next) {
		struct listener *l = list_entry(it, struct listener, owner_link);
		next = it->next;
		if (l->ev->em == em && (!event || strcmp(l->ev->name, event) == 0)) {
			emitter_remove(l);
			n++;
		}
	}
	call_return_json(call, cJSON_CreateNumber((double)n));
}

/* listenerCount: the caller's registrations of an event. */
static void emitter_method_count(struct object *obj, struct call *call)
{
	struct emitter_event *ev = emitter_event_get(object_get_emitter(obj), cJSON_GetStringValue(call_get_arg(call, 0)), false);
	struct client *c = call_get_client(call);
	size_t n = 0;

	for (struct list *it = ev ? ev->listeners.next : NULL; ev && it != &ev->listeners; it = it->next)
		if (list_entry(it, struct listener, ev_link)->owner == c)
			n++;
	call_return_json(call, cJSON_CreateNumber((double)n));
}

static const struct object_arg emitter_args_add[] = {
	{ .name = "event", .type = OBJECT_TYPE_STRING },
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_REGISTRATION },
	{ .name = "filter", .type = OBJECT_TYPE_ANY, .optional = true },
	{ 0 },
};
static const struct object_arg emitter_args_off[] = {
	{ .name = "event", .type = OBJECT_TYPE_STRING },
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_CALLBACK },
	{ .name = "filter", .type = OBJECT_TYPE_ANY, .optional = true },
	{ 0 },
};
static const struct object_arg emitter_args_remove_all[] = {
	{ .name = "event", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg emitter_args_count[] = {
	{ .name = "event", .type = OBJECT_TYPE_STRING },
	{ 0 },
};

static const struct object_method emitter_method_table[] = {
	{ "on", "calls fn with the event's arguments every time the event happens", emitter_args_add, "null",
	  false, emitter_method_on },
	/* PROTOCOL.md section 6: once takes a registration too, removed after its first call. */
	{ "once", "calls fn the next time the event happens, then removes it", emitter_args_add, "null", false,
	  emitter_method_once },
	{ "off", "removes the most recent registration of fn for the event; true if there was one",
	  emitter_args_off, "boolean", false, emitter_method_off },
	{ "removeAllListeners", "removes the caller's registrations for the event (or all events); returns how many",
	  emitter_args_remove_all, "integer", false, emitter_method_remove_all },
	{ "listenerCount", "the number of the caller's registrations for the event", emitter_args_count,
	  "integer", false, emitter_method_count },
	{ 0 },
};

/* The registration methods every object with events has. */
const struct object_method *emitter_methods(void)
{
	return emitter_method_table;
}
