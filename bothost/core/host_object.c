/* SPDX-License-Identifier: ISC */
/* The `host` object. */
#include "config.h"

#include "host_object.h"

#include <errno.h>
#include <string.h>

#include "call.h"
#include "client.h"
#include "emitter.h"
#include "errors.h"
#include "fn.h"
#include "object.h"
#include "server.h"
#include "services.h"
#include "tokens.h"
#include "value.h"

/* Longest name after "x." of an event a client emits. */
#define HOST_EVENT_MAX 100

/* The numbers kept for one client, or summed over all of them. */
struct host_counts {
	double handlers;
	double imports;
	double exports;
	double pending_in;
	double pending_out;
	double queued_bytes;
};

/* Add c's numbers to n. */
static void host_counts_add(struct host_counts *n, struct client *c)
{
	n->handlers += (double)client_listener_count(c);
	n->imports += (double)tokens_import_count(client_tokens(c));
	n->exports += (double)tokens_export_count(client_tokens(c));
	n->pending_in += (double)call_table_pending_in(client_calls(c));
	n->pending_out += (double)call_table_pending_out(client_calls(c));
	n->queued_bytes += (double)client_queued_bytes(c);
}

/* Put the numbers into a JSON object. */
static void host_counts_write(cJSON *o, const struct host_counts *n)
{
	cJSON_AddNumberToObject(o, "handlers", n->handlers);
	cJSON_AddNumberToObject(o, "imports", n->imports);
	cJSON_AddNumberToObject(o, "exports", n->exports);
	cJSON_AddNumberToObject(o, "pending_in", n->pending_in);
	cJSON_AddNumberToObject(o, "pending_out", n->pending_out);
	cJSON_AddNumberToObject(o, "queued_bytes", n->queued_bytes);
}

/* {"id","name","pid","uid"} of a client. */
static cJSON *host_client_identity(struct client *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)client_get_id(c));
	if (client_get_name(c))
		cJSON_AddStringToObject(o, "name", client_get_name(c));
	else
		cJSON_AddNullToObject(o, "name");
	cJSON_AddNumberToObject(o, "pid", (double)client_get_pid(c));
	cJSON_AddNumberToObject(o, "uid", (double)client_get_uid(c));
	return o;
}

/* ping(): "pong" */
static void host_ping(struct object *obj, struct call *call)
{
	call_return_json(call, cJSON_CreateString("pong"));
}

/* introspect(): the objects description */
static void host_introspect(struct object *obj, struct call *call)
{
	struct server *s = object_get_userdata(obj);

	call_return_json(call, object_introspection(server_objects(s)));
}

/* "events": {"emitted","delivered"} of the clients' x. events. */
static void host_events_write(cJSON *o, const struct emitter *em)
{
	cJSON *e = cJSON_AddObjectToObject(o, "events");
	uint64_t emitted, delivered;

	emitter_counts(em, &emitted, &delivered);
	cJSON_AddNumberToObject(e, "emitted", (double)emitted);
	cJSON_AddNumberToObject(e, "delivered", (double)delivered);
}

/* Totals over all clients, and the caller's own numbers. */
static void host_stats(struct object *obj, struct call *call)
{
	struct server *s = object_get_userdata(obj);
	const struct list *head = server_clients(s);
	struct client *self = call_get_client(call);
	struct host_counts total = { 0 }, mine = { 0 };
	cJSON *o = cJSON_CreateObject();
	cJSON *so = cJSON_CreateObject();

	for (const struct list *l = head->next; l != head; l = l->next)
		host_counts_add(&total, client_from_link((struct list *)l));
	if (self)
		host_counts_add(&mine, self);
	cJSON_AddNumberToObject(o, "clients", (double)server_client_count(s));
	host_counts_write(o, &total);
	cJSON_AddNumberToObject(o, "functions", (double)server_fn_count(s));
	cJSON_AddNumberToObject(o, "orphaned_calls", (double)server_orphan_count(s));
	cJSON_AddNumberToObject(o, "services", (double)services_count(objects_services(server_objects(s))));
	cJSON_AddNumberToObject(o, "waiting_calls", (double)services_waiting(objects_services(server_objects(s))));
	host_events_write(o, object_get_emitter(obj));
	if (self)
		cJSON_AddNumberToObject(so, "id", (double)client_get_id(self));
	host_counts_write(so, &mine);
	cJSON_AddItemToObject(o, "self", so);
	call_return_json(call, o);
}

/* One entry per connected client. */
static void host_clients(struct object *obj, struct call *call)
{
	struct server *s = object_get_userdata(obj);
	const struct list *head = server_clients(s);
	cJSON *a = cJSON_CreateArray();

	for (const struct list *l = head->next; l != head; l = l->next) {
		struct client *c = client_from_link((struct list *)l);
		struct host_counts n = { 0 };
		cJSON *o = host_client_identity(c);
		host_counts_add(&n, c);
		host_counts_write(o, &n);
		cJSON_AddItemToObject(o, "filters", emitter_client_filters(c));
		cJSON_AddItemToArray(a, o);
	}
	call_return_json(call, a);
}

/* context(): what the host gave the calling client when it spawned it, or null. */
static void host_context(struct object *obj, struct call *call)
{
	struct client *c = call_get_client(call);
	const struct value *context = c ? client_get_context(c) : NULL;
	struct value *v = NULL;

	if (context && !(v = value_dup(context))) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	call_return(call, v);
}

/* Whether event is a name clients may emit: "x." and 1 to HOST_EVENT_MAX
 * letters, digits or ._:- */
static bool host_event_name_valid(const char *event)
{
	size_t n = strlen(event);

	if (n < 3 || n > 2 + HOST_EVENT_MAX || strncmp(event, "x.", 2) != 0)
		return false;
	return strspn(event + 2, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n - 2;
}

/* emit(event, args...): a one-way event to every client registered for it;
 * returns how many registrations it reached. */
static void host_emit(struct object *obj, struct call *call)
{
	const char *event = cJSON_GetStringValue(call_get_arg(call, 0));
	struct value *args = value_new(cJSON_CreateArray());

	if (!host_event_name_valid(event)) {
		value_free(args);
		call_fail(call, ERR_INVALID_ARGUMENTS, "argument 'event': a behaviour's event is 'x.' and 1 to %d "
			  "letters, digits or ._:-", HOST_EVENT_MAX);
		return;
	}
	for (unsigned i = 1; args && i < call_arg_count(call); i++) {
		cJSON *item = value_copy(args, call_get_args(call), call_get_arg(call, i));
		if (!item) {
			value_free(args);
			args = NULL;
		} else {
			cJSON_AddItemToArray(value_root(args), item);
		}
	}
	if (!args) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	size_t n = emitter_emit(object_get_emitter(obj), event, args);
	value_free(args);
	call_return_json(call, cJSON_CreateNumber((double)n));
}

/* provide(name, methods, doc?): services.c does the work. */
static void host_provide(struct object *obj, struct call *call)
{
	services_provide(objects_services(server_objects(object_get_userdata(obj))), call);
}

/* withdraw(name) */
static void host_withdraw(struct object *obj, struct call *call)
{
	services_withdraw(objects_services(server_objects(object_get_userdata(obj))), call);
}

/* lookup(name, wait_ms?) */
static void host_lookup(struct object *obj, struct call *call)
{
	struct server *s = object_get_userdata(obj);

	services_lookup(objects_services(server_objects(s)), s, call);
}

/* services() */
static void host_services(struct object *obj, struct call *call)
{
	services_list(objects_services(server_objects(object_get_userdata(obj))), call);
}

static const struct object_arg host_args_provide[] = {
	{ .name = "name", .type = OBJECT_TYPE_STRING },
	{ .name = "methods", .type = OBJECT_TYPE_OBJECT },
	{ .name = "doc", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};

static const struct object_arg host_args_name[] = {
	{ .name = "name", .type = OBJECT_TYPE_STRING },
	{ 0 },
};

static const struct object_arg host_args_lookup[] = {
	{ .name = "name", .type = OBJECT_TYPE_STRING },
	{ .name = "wait_ms", .type = OBJECT_TYPE_INTEGER, .optional = true },
	{ 0 },
};

/* Emit connected / disconnected with the client's identity. */
static void host_client_event(struct client *c, bool connected, void *userdata)
{
	struct object *obj = userdata;
	cJSON *args = cJSON_CreateArray();
	struct value *v;

	cJSON_AddItemToArray(args, host_client_identity(c));
	v = value_new(args);
	if (v)
		emitter_emit(object_get_emitter(obj), connected ? "connected" : "disconnected", v);
	value_free(v);
}

static const struct object_arg host_args_emit[] = {
	{ .name = "event", .type = OBJECT_TYPE_STRING },
	{ .name = "args", .type = OBJECT_TYPE_ANY, .rest = true },
	{ 0 },
};

static const struct object_method host_methods[] = {
	{ "ping", "answers \"pong\"", NULL, "string", false, host_ping },
	{ "introspect", "describes every hosted object, as in the welcome", NULL, "object", false,
	  host_introspect },
	{ "stats", "totals over all clients (clients, handlers, imports, exports, pending_in, pending_out, "
		   "queued_bytes, functions, orphaned_calls: calls still running for clients that went away) "
		   "and the caller's own numbers in self",
	  NULL, "object", false, host_stats },
	{ "clients", "one entry per connected client: id, name, pid, uid and its numbers", NULL, "array", false,
	  host_clients },
	{ "context", "the context the host gave the calling client when it spawned it as a behaviour "
		     "(functions included, such as a reply function), or null",
	  NULL, "any", false, host_context },
	{ "emit", "sends event (a name 'x.something') with args to every client registered for it with on or once, "
		  "without waiting for them; returns the number of registrations reached",
	  host_args_emit, "integer", false, host_emit },
	{ "provide", "offers the caller's functions as a service: methods maps each method's name to a function "
		     "or to {fn, doc?, args?, returns?}; other clients call it as an object named name",
	  host_args_provide, "null", false, host_provide },
	{ "withdraw", "removes the caller's service name; true when there was one", host_args_name, "boolean",
	  false, host_withdraw },
	{ "lookup", "{method: function} of service name, waiting up to wait_ms (default 0) for a provider; "
		    "each function calls the service by name, with the same wait",
	  host_args_lookup, "object", false, host_lookup },
	{ "services", "one entry per service: name, doc, provider {id, name, pid}, methods", NULL, "array", false,
	  host_services },
	{ 0 },
};

static const struct object_event host_events[] = {
	{ "connected", "a client completed its handshake: {id, name, pid, uid}" },
	{ "disconnected", "a client went away: {id, name, pid, uid}" },
	{ "x.*", "an event a client sent with emit: its arguments, as given" },
	{ 0 },
};

/* Create the host object and hook it to the server's client events. */
int host_object_register(struct server *s)
{
	struct object *obj = object_new("host", "the host itself: liveness, introspection and statistics",
					host_methods, s);
	int r;

	if (!obj)
		return -ENOMEM;
	if ((r = objects_add(server_objects(s), obj, host_events)) < 0)
		return r;
	server_set_client_hook(s, host_client_event, obj);
	return 0;
}
