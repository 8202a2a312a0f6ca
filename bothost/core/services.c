/* SPDX-License-Identifier: ISC */
/* Services that clients provide to each other through the host. */
#include "config.h"

#include "services.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "call.h"
#include "client.h"
#include "errors.h"
#include "fn.h"
#include "list.h"
#include "log.h"
#include "object.h"
#include "value.h"

#define SERVICES_NAME_MAX 64		/* bytes of a service's or a method's name */
#define SERVICES_DOC_MAX 1024		/* bytes of a doc or a returns string */
#define SERVICES_ARGS_MAX 32		/* arguments described per method */
#define ERR_SERVICE_EXISTS "ServiceExists"

/* One method: its descriptor for checks and introspection, and the
 * provider's function behind it. */
struct service_method {
	struct object_method m;		/* strings and args owned below */
	char *name;
	char *doc;
	char *returns;
	struct object_arg *args;	/* NULL-terminated, names owned; NULL: any */
	struct fn *fn;			/* one reference */
};

struct service {
	struct services *svcs;
	char *name;
	char *doc;
	struct client *provider;
	struct service_method *methods;
	size_t nmethods;
	struct list link;		/* in svcs->services */
};

/* A call (or a lookup) waiting for a provider of name. */
struct service_waiter {
	struct services *svcs;
	struct call *call;
	struct server *server;		/* lookup: its functions are made for it */
	char *name;
	char *method;			/* NULL: a lookup */
	unsigned wait_ms;
	ev_timer timer;
	struct list link;		/* in svcs->waiters */
};

/* What a function host.lookup gave calls. */
struct service_ref {
	struct services *svcs;
	char *name;
	char *method;
	unsigned wait_ms;
};

struct services {
	struct objects *objs;
	struct list services;		/* struct service, in the order provided */
	struct list waiters;		/* struct service_waiter, oldest first */
	size_t count;
	size_t waiting;
};

/* Arguments a method without a signature takes: anything. */
static const struct object_arg service_any_args[] = {
	{ "args", OBJECT_TYPE_ANY, OBJECT_KIND_NONE, false, true },
	{ 0 },
};

/* An empty registry. */
struct services *services_new(struct objects *objs)
{
	struct services *svcs = calloc(1, sizeof *svcs);

	if (!svcs)
		return NULL;
	svcs->objs = objs;
	list_init(&svcs->services);
	list_init(&svcs->waiters);
	return svcs;
}

/* Free one method's strings and drop its function. */
static void service_method_clear(struct service_method *sm)
{
	for (struct object_arg *a = sm->args; a && a->name; a++)
		free((char *)a->name);
	free(sm->args);
	free(sm->name);
	free(sm->doc);
	free(sm->returns);
	fn_unref(sm->fn);
}

/* Free a service (unlinked or not): its functions go back to its provider. */
static void service_free(struct service *svc)
{
	if (!svc)
		return;
	if (!list_empty(&svc->link)) {
		list_remove(&svc->link);
		svc->svcs->count--;
		objects_changed(svc->svcs->objs);
	}
	for (size_t i = 0; i < svc->nmethods; i++)
		service_method_clear(&svc->methods[i]);
	free(svc->methods);
	free(svc->name);
	free(svc->doc);
	free(svc);
}

/* Take a waiter out of the registry and free it; its call is returned. */
static struct call *service_waiter_take(struct service_waiter *w)
{
	struct call *call = w->call;

	ev_timer_stop(EV_DEFAULT, &w->timer);
	list_remove(&w->link);
	w->svcs->waiting--;
	free(w->name);
	free(w->method);
	free(w);
	return call;
}

/* Fail every waiting call, drop every service. */
void services_free(struct services *svcs)
{
	if (!svcs)
		return;
	while (!list_empty(&svcs->waiters)) {
		struct service_waiter *w = list_entry(svcs->waiters.next, struct service_waiter, link);
		call_fail(service_waiter_take(w), ERR_DISCONNECTED, "the host is shutting down");
	}
	while (!list_empty(&svcs->services))
		service_free(list_entry(svcs->services.next, struct service, link));
	free(svcs);
}

/* The service called name, or NULL. */
static struct service *service_find(const struct services *svcs, const char *name)
{
	for (struct list *l = svcs->services.next; l != &svcs->services; l = l->next) {
		struct service *svc = list_entry(l, struct service, link);
		if (strcmp(svc->name, name) == 0)
			return svc;
	}
	return NULL;
}

/* A name of 1 to 64 bytes: a letter or '_', then letters, digits, '_', '-', '.'. */
static bool service_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SERVICES_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		bool letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
		bool more = (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
		if (!letter && (i == 0 || !more))
			return false;
	}
	return true;
}

/* ---- provide ----------------------------------------------------------- */

/* An optional string member of a method description: 0, or -EINVAL. */
static int service_opt_string(const cJSON *desc, const char *key, char **ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(desc, key);

	*ret = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > SERVICES_DOC_MAX)
		return -EINVAL;
	*ret = strdup(v->valuestring);
	return *ret ? 0 : -ENOMEM;
}

/* Parse one {"name","type","optional"?,"rest"?,"kind"?} into a. */
static bool service_parse_arg(const cJSON *d, struct object_arg *a, char *why, size_t len)
{
	static const char *const kinds[] = { "", "callback", "once", "registration" };
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "name");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "type");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(d, "kind");
	const cJSON *k;

	if (!cJSON_IsObject(d) || !cJSON_IsString(name) || !service_name_ok(name->valuestring) ||
	    !cJSON_IsString(type) || object_type_parse(type->valuestring, &a->type) < 0) {
		snprintf(why, len, "each argument is {\"name\": a name, \"type\": a type of PROTOCOL.md section 8}");
		return false;
	}
	cJSON_ArrayForEach(k, d)
		if (strcmp(k->string, "name") && strcmp(k->string, "type") && strcmp(k->string, "optional") &&
		    strcmp(k->string, "rest") && strcmp(k->string, "kind")) {
			snprintf(why, len, "argument '%s' has an unknown key '%.64s'", name->valuestring, k->string);
			return false;
		}
	a->optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "optional"));
	a->rest = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "rest"));
	for (size_t i = 1; cJSON_IsString(kind) && i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kinds[i], kind->valuestring) == 0)
			a->kind = (enum object_kind)i;
	if (kind && (a->type != OBJECT_TYPE_FUNCTION || a->kind == OBJECT_KIND_NONE)) {
		snprintf(why, len, "argument '%s': kind is callback, once or registration, for a function",
			 name->valuestring);
		return false;
	}
	a->name = strdup(name->valuestring);
	if (!a->name)
		snprintf(why, len, "out of memory");
	return a->name != NULL;
}

/* Parse a method's "args" (an array of descriptions) into sm->args. */
static bool service_parse_args(struct service_method *sm, const cJSON *args, char *why, size_t len)
{
	int n = cJSON_GetArraySize(args);
	const cJSON *d;
	int i = 0;

	if (!cJSON_IsArray(args) || n > SERVICES_ARGS_MAX) {
		snprintf(why, len, "args of method '%s' must be an array of at most %d arguments", sm->name,
			 SERVICES_ARGS_MAX);
		return false;
	}
	if (!(sm->args = calloc((size_t)n + 1, sizeof *sm->args))) {
		snprintf(why, len, "out of memory");
		return false;
	}
	cJSON_ArrayForEach(d, args) {
		if (!service_parse_arg(d, &sm->args[i], why, len))
			return false;
		if (sm->args[i].rest && i != n - 1) {
			snprintf(why, len, "method '%s': only the last argument may be rest", sm->name);
			return false;
		}
		i++;
	}
	return true;
}

/* Parse one entry of provide's methods: a function, or {"fn","doc"?,"args"?,"returns"?}. */
static bool service_parse_method(struct call *call, const cJSON *node, struct service_method *sm, char *why,
				 size_t len)
{
	const struct value *args = call_get_args(call);
	struct fn *fn = value_get_fn(args, node);
	const cJSON *k;

	if (!(sm->name = strdup(node->string)) || !service_name_ok(node->string)) {
		snprintf(why, len, "method name '%.64s' is not a name (1 to 64 letters, digits, '_', '-', '.')",
			 node->string);
		return false;
	}
	if (!fn && cJSON_IsObject(node)) {
		fn = value_get_fn(args, cJSON_GetObjectItemCaseSensitive(node, "fn"));
		cJSON_ArrayForEach(k, node)
			if (strcmp(k->string, "fn") && strcmp(k->string, "doc") && strcmp(k->string, "args") &&
			    strcmp(k->string, "returns")) {
				snprintf(why, len, "method '%s' has an unknown key '%.64s'", sm->name, k->string);
				return false;
			}
		if (service_opt_string(node, "doc", &sm->doc) < 0 || service_opt_string(node, "returns", &sm->returns) < 0) {
			snprintf(why, len, "doc and returns of method '%s' are strings of at most %d bytes", sm->name,
				 SERVICES_DOC_MAX);
			return false;
		}
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(node, "args");
		if (a && !service_parse_args(sm, a, why, len))
			return false;
	}
	if (!fn) {
		snprintf(why, len, "method '%s' must be a function or {\"fn\": a function, \"doc\"?, \"args\"?, "
			 "\"returns\"?}", sm->name);
		return false;
	}
	sm->fn = fn_ref(fn);
	sm->m = (struct object_method){ sm->name, sm->doc, sm->args ? sm->args : service_any_args,
					sm->returns ? sm->returns : "any", false, NULL };
	return true;
}

/* A service named name for the methods node of call, or NULL (why says). */
static struct service *service_parse(struct call *call, const char *name, const cJSON *methods, char *why,
				     size_t len)
{
	struct service *svc = calloc(1, sizeof *svc);
	int n = cJSON_GetArraySize(methods);
	const cJSON *node;

	if (!svc || !(svc->name = strdup(name)) || !(svc->methods = calloc(n ? (size_t)n : 1, sizeof *svc->methods))) {
		snprintf(why, len, "out of memory");
		goto fail;
	}
	list_init(&svc->link);
	if (n < 1 || (unsigned)n > SERVICES_METHODS_MAX) {
		snprintf(why, len, "a service has 1 to %u methods", SERVICES_METHODS_MAX);
		goto fail;
	}
	cJSON_ArrayForEach(node, methods) {
		svc->nmethods++;
		if (!service_parse_method(call, node, &svc->methods[svc->nmethods - 1], why, len))
			goto fail;
	}
	return svc;
fail:
	if (svc)
		list_init(&svc->link);
	service_free(svc);
	return NULL;
}

/* How many services c provides. */
static size_t services_of(const struct services *svcs, const struct client *c)
{
	size_t n = 0;

	for (struct list *l = svcs->services.next; l != &svcs->services; l = l->next)
		n += list_entry(l, struct service, link)->provider == c;
	return n;
}

/* Refuse a name that cannot be provided now; true when it was refused. */
static bool service_refuse_name(struct services *svcs, struct call *call, const char *name, struct client *c)
{
	struct service *other = service_find(svcs, name);

	if (!service_name_ok(name)) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "'%.64s' is not a service name (1 to 64 letters, digits, '_', "
			  "'-', '.', starting with a letter or '_')", name);
	} else if (object_name_reserved(svcs->objs, name)) {
		call_fail(call, ERR_PERMISSION_DENIED, "'%s' is a host object: a service cannot shadow it", name);
	} else if (other) {
		cJSON *data = cJSON_CreateObject();
		cJSON_AddStringToObject(data, "name", name);
		cJSON_AddNumberToObject(data, "provider", (double)client_get_id(other->provider));
		struct value *v = value_new(data);
		char message[160];
		snprintf(message, sizeof message, "service '%s' is already provided by client %" PRIu64, name,
			 client_get_id(other->provider));
		struct fn_error err = { ERR_SERVICE_EXISTS, message, v };
		call_fail_error(call, &err);
		value_free(v);
	} else if (services_of(svcs, c) >= SERVICES_PER_CLIENT_MAX) {
		call_fail(call, ERR_LIMIT_EXCEEDED, "a client provides at most %u services", SERVICES_PER_CLIENT_MAX);
	} else {
		return false;
	}
	return true;
}

static void service_answer_lookup(struct service *svc, struct server *s, struct call *call, unsigned wait_ms);
static void service_call(struct service *svc, struct call *call, const char *method);

/* Send the calls and lookups that waited for svc, oldest first. */
static void services_wake(struct services *svcs, struct service *svc)
{
	struct list woken;

	list_init(&woken);
	for (struct list *l = svcs->waiters.next, *next; l != &svcs->waiters; l = next) {
		struct service_waiter *w = list_entry(l, struct service_waiter, link);
		next = l->next;
		if (strcmp(w->name, svc->name) == 0) {
			list_remove(&w->link);
			list_add_tail(&woken, &w->link);
		}
	}
	while (!list_empty(&woken)) {
		struct service_waiter *w = list_entry(woken.next, struct service_waiter, link);
		struct server *s = w->server;
		unsigned wait_ms = w->wait_ms;
		char *method = w->method;
		w->method = NULL;
		struct call *call = service_waiter_take(w);
		if (method)
			service_call(svc, call, method);
		else
			service_answer_lookup(svc, s, call, wait_ms);
		free(method);
	}
}

/* host.provide(name, methods, doc?) */
void services_provide(struct services *svcs, struct call *call)
{
	const char *name = cJSON_GetStringValue(call_get_arg(call, 0));
	const cJSON *doc = call_get_arg(call, 2);
	struct client *c = call_get_client(call);
	struct service *svc;
	char why[256];

	if (!c) {
		call_fail(call, ERR_FAILED, "only a client can provide a service");
		return;
	}
	if (service_refuse_name(svcs, call, name, c))
		return;
	if (cJSON_IsString(doc) && strlen(doc->valuestring) > SERVICES_DOC_MAX) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "the doc of a service is at most %d bytes", SERVICES_DOC_MAX);
		return;
	}
	if (!(svc = service_parse(call, name, call_get_arg(call, 1), why, sizeof why))) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "host.provide('%s'): %s", name, why);
		return;
	}
	if (cJSON_IsString(doc) && !(svc->doc = strdup(doc->valuestring))) {
		service_free(svc);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	svc->svcs = svcs;
	svc->provider = c;
	list_add_tail(&svcs->services, &svc->link);
	svcs->count++;
	objects_changed(svcs->objs);
	log_info("client %" PRIu64 " (%s) provides service %s (%zu methods)", client_get_id(c),
		 client_get_name(c) ? client_get_name(c) : "unnamed", name, svc->nmethods);
	call_return(call, NULL);
	services_wake(svcs, svc);
}

/* host.withdraw(name) */
void services_withdraw(struct services *svcs, struct call *call)
{
	const char *name = cJSON_GetStringValue(call_get_arg(call, 0));
	struct service *svc = service_find(svcs, name);
	struct client *c = call_get_client(call);
	bool mine = svc && c && svc->provider == c;

	if (mine) {
		log_info("client %" PRIu64 " withdraws service %s", client_get_id(c), name);
		service_free(svc);
	}
	call_return_json(call, cJSON_CreateBool(mine));
}

/* ---- calls ------------------------------------------------------------- */

/* Run svc.method for call through the provider's function. */
static void service_call(struct service *svc, struct call *call, const char *method)
{
	for (size_t i = 0; i < svc->nmethods; i++) {
		struct service_method *sm = &svc->methods[i];
		if (strcmp(sm->name, method) != 0)
			continue;
		if (object_check_args(call, svc->name, &sm->m))
			fn_call(sm->fn, call);
		return;
	}
	call_fail(call, ERR_NO_SUCH_METHOD, "%s has no method '%s'", svc->name, method);
}

/* Nobody provided name in time. */
static void service_waiter_timeout_cb(struct ev_loop *loop, ev_timer *timer, int revents)
{
	struct service_waiter *w = timer->data;
	unsigned ms = w->wait_ms;
	char name[SERVICES_NAME_MAX + 1];

	snprintf(name, sizeof name, "%s", w->name);
	call_fail(service_waiter_take(w), ERR_NO_SUCH_OBJECT, "no service '%s' was provided within %u ms", name, ms);
}

/* Keep call waiting up to wait_ms for name (method NULL: a lookup). */
static void service_wait(struct services *svcs, struct server *s, struct call *call, const char *name,
			 const char *method, unsigned wait_ms)
{
	struct service_waiter *w = calloc(1, sizeof *w);

	if (!w || !(w->name = strdup(name)) || (method && !(w->method = strdup(method)))) {
		if (w)
			free(w->name);
		free(w);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	w->svcs = svcs;
	w->call = call;
	w->server = s;
	w->wait_ms = wait_ms;
	ev_timer_init(&w->timer, service_waiter_timeout_cb, wait_ms / 1000.0, 0.);
	w->timer.data = w;
	ev_timer_start(EV_DEFAULT, &w->timer);
	list_add_tail(&svcs->waiters, &w->link);
	svcs->waiting++;
}

/* Whether a call to name may wait for a provider. */
static bool service_may_wait(const struct services *svcs, const char *name, unsigned wait_ms)
{
	return wait_ms > 0 && service_name_ok(name) && !object_name_reserved(svcs->objs, name);
}

/* Run name.method, wait for a provider, or fail with NoSuchObject. */
void services_dispatch(struct services *svcs, struct call *call, const char *name, const char *method,
		       unsigned wait_ms)
{
	struct service *svc = service_find(svcs, name);

	if (svc)
		service_call(svc, call, method);
	else if (service_may_wait(svcs, name, wait_ms))
		service_wait(svcs, NULL, call, name, method, wait_ms > SERVICES_WAIT_MAX_MS ? SERVICES_WAIT_MAX_MS
											     : wait_ms);
	else
		call_fail(call, ERR_NO_SUCH_OBJECT, "the host has no object '%s'", name);
}

/* ---- lookup ------------------------------------------------------------ */

/* Free what a lookup function refers to. */
static void service_ref_free(void *userdata)
{
	struct service_ref *ref = userdata;

	free(ref->name);
	free(ref->method);
	free(ref);
}

/* A lookup function was called: call the service by name. */
static void service_ref_cb(struct fn *fn, struct call *call, void *userdata)
{
	struct service_ref *ref = userdata;

	services_dispatch(ref->svcs, call, ref->name, ref->method, ref->wait_ms);
}

/* A function of s calling svc's method m by name. */
static struct fn *service_ref_new(struct services *svcs, struct server *s, const char *name, const char *m,
				  unsigned wait_ms)
{
	struct service_ref *ref = calloc(1, sizeof *ref);
	struct fn *fn;

	if (!ref || !(ref->name = strdup(name)) || !(ref->method = strdup(m)))
		goto fail;
	ref->svcs = svcs;
	ref->wait_ms = wait_ms;
	if ((fn = fn_new_native(s, service_ref_cb, ref, service_ref_free)))
		return fn;
fail:
	if (ref)
		service_ref_free(ref);
	return NULL;
}

/* Answer a lookup: {method: function} for svc's methods. */
static void service_answer_lookup(struct service *svc, struct server *s, struct call *call, unsigned wait_ms)
{
	struct value *v = value_new(cJSON_CreateObject());

	for (size_t i = 0; v && i < svc->nmethods; i++) {
		struct fn *fn = service_ref_new(svc->svcs, s, svc->name, svc->methods[i].name, wait_ms);
		cJSON *node = fn ? value_add_fn(v, fn) : NULL;
		fn_unref(fn);
		if (!node) {
			value_free(v);
			v = NULL;
			break;
		}
		cJSON_AddItemToObject(value_root(v), svc->methods[i].name, node);
	}
	if (!v)
		call_fail(call, ERR_FAILED, "out of memory");
	else
		call_return(call, v);
}

/* host.lookup(name, wait_ms?) */
void services_lookup(struct services *svcs, struct server *s, struct call *call)
{
	const char *name = cJSON_GetStringValue(call_get_arg(call, 0));
	const cJSON *wait = call_get_arg(call, 1);
	struct service *svc = service_find(svcs, name);
	unsigned wait_ms = 0;

	if (wait && !cJSON_IsNull(wait)) {
		if (wait->valuedouble < 0 || wait->valuedouble > SERVICES_WAIT_MAX_MS) {
			call_fail(call, ERR_INVALID_ARGUMENTS, "wait_ms is from 0 to %u", SERVICES_WAIT_MAX_MS);
			return;
		}
		wait_ms = (unsigned)wait->valuedouble;
	}
	if (svc)
		service_answer_lookup(svc, s, call, wait_ms);
	else if (service_may_wait(svcs, name, wait_ms))
		service_wait(svcs, s, call, name, NULL, wait_ms);
	else
		call_fail(call, ERR_NO_SUCH_OBJECT, "no service '%s'", name);
}

/* ---- the rest ---------------------------------------------------------- */

/* c went away: its services disappear, the calls it had waiting go. */
void services_client_lost(struct services *svcs, struct client *c)
{
	for (struct list *l = svcs->services.next, *next; l != &svcs->services; l = next) {
		struct service *svc = list_entry(l, struct service, link);
		next = l->next;
		if (svc->provider == c) {
			log_info("service %s gone with its provider, client %" PRIu64, svc->name, client_get_id(c));
			service_free(svc);
		}
	}
	for (struct list *l = svcs->waiters.next, *next; l != &svcs->waiters; l = next) {
		struct service_waiter *w = list_entry(l, struct service_waiter, link);
		next = l->next;
		if (call_get_client(w->call) == c)
			call_fail(service_waiter_take(w), ERR_DISCONNECTED, "the caller went away");
	}
}

/* {"id","name","pid"} of a provider. */
static cJSON *service_provider(const struct service *svc)
{
	cJSON *o = cJSON_CreateObject();
	const char *name = client_get_name(svc->provider);

	cJSON_AddNumberToObject(o, "id", (double)client_get_id(svc->provider));
	if (name)
		cJSON_AddStringToObject(o, "name", name);
	else
		cJSON_AddNullToObject(o, "name");
	cJSON_AddNumberToObject(o, "pid", (double)client_get_pid(svc->provider));
	return o;
}

/* host.services() */
void services_list(struct services *svcs, struct call *call)
{
	cJSON *a = cJSON_CreateArray();

	for (struct list *l = svcs->services.next; l != &svcs->services; l = l->next) {
		struct service *svc = list_entry(l, struct service, link);
		cJSON *o = cJSON_CreateObject();
		cJSON *m = cJSON_CreateArray();
		cJSON_AddStringToObject(o, "name", svc->name);
		if (svc->doc)
			cJSON_AddStringToObject(o, "doc", svc->doc);
		else
			cJSON_AddNullToObject(o, "doc");
		cJSON_AddItemToObject(o, "provider", service_provider(svc));
		for (size_t i = 0; i < svc->nmethods; i++)
			cJSON_AddItemToArray(m, cJSON_CreateString(svc->methods[i].name));
		cJSON_AddItemToObject(o, "methods", m);
		cJSON_AddItemToArray(a, o);
	}
	call_return_json(call, a);
}

/* Describe every service as an object of introspection. */
void services_describe(const struct services *svcs, cJSON *all)
{
	for (struct list *l = svcs->services.next; l != &svcs->services; l = l->next) {
		const struct service *svc = list_entry(l, struct service, link);
		cJSON *d = cJSON_CreateObject();
		cJSON *methods = cJSON_CreateObject();
		if (svc->doc)
			cJSON_AddStringToObject(d, "doc", svc->doc);
		cJSON_AddItemToObject(d, "service", service_provider(svc));
		for (size_t i = 0; i < svc->nmethods; i++)
			cJSON_AddItemToObject(methods, svc->methods[i].name,
					      object_describe_method(&svc->methods[i].m));
		cJSON_AddItemToObject(d, "methods", methods);
		cJSON_AddItemToObject(all, svc->name, d);
	}
}

/* Services provided now. */
size_t services_count(const struct services *svcs)
{
	return svcs->count;
}

/* Calls and lookups waiting for a provider. */
size_t services_waiting(const struct services *svcs)
{
	return svcs->waiting;
}
