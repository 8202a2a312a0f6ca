/* SPDX-License-Identifier: ISC */
/* The http object: routes registered by clients and by the configuration,
 * and its methods (docs/HTTP.md, PROTOCOL.md "http"). */
#include "config.h"

#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/call.h"
#include "core/client.h"
#include "core/errors.h"
#include "core/fn.h"
#include "core/log.h"
#include "core/object.h"
#include "core/server.h"
#include "core/value.h"
#include "http_internal.h"
#include "http_route.h"

#define ERR_ROUTE_EXISTS "RouteExists"

/* Who holds route r, for messages: "client 3 (name)", "[route NAME]". */
static void http_route_holder(const struct http_route *r, char *buf, size_t size)
{
	if (r->label)
		snprintf(buf, size, "[route %s] of the configuration", r->label);
	else if (r->owner)
		snprintf(buf, size, "client %" PRIu64 " (%s)", client_get_id(r->owner),
			 client_get_name(r->owner) ? client_get_name(r->owner) : "unnamed");
	else
		snprintf(buf, size, "nobody");
}

/* The route for method and path to be given a handler: an existing vacant
 * one, or a new one. NULL with *ret_err set: -EEXIST (held: *ret_holder
 * says by whom), -ENOBUFS or -ENOMEM. */
static struct http_route *http_route_claim(struct http *h, const char *method, const char *path, const char *label,
					   int *ret_err, struct http_route **ret_holder)
{
	struct http_route *r = http_route_find(&h->routes, method, path);

	if (r && (r->fn || r->label)) {
		*ret_holder = r;
		*ret_err = -EEXIST;
		return NULL;
	}
	if (r)
		return r;
	if (h->n_routes >= HTTP_ROUTES_MAX) {
		*ret_err = -ENOBUFS;
		return NULL;
	}
	if (!(r = http_route_new(method, path, label))) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	list_add_tail(&h->routes, &r->link);
	h->n_routes++;
	return r;
}

/* Take a route out of the table and free it. */
static void http_route_remove(struct http *h, struct http_route *r)
{
	h->n_routes--;
	http_route_free(r);
}

/* route(method, path, fn) */
static void http_method_route(struct object *obj, struct call *call)
{
	struct http *h = object_get_userdata(obj);
	const char *method = cJSON_GetStringValue(call_get_arg(call, 0));
	const char *path = cJSON_GetStringValue(call_get_arg(call, 1));
	struct client *c = call_get_client(call);
	struct http_route *r, *holder = NULL;
	char why[200];
	int err = 0;

	if (!c) {
		call_fail(call, ERR_FAILED, "only a client can register a route");
		return;
	}
	if (!http_route_valid(method, path, why, sizeof why)) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "http.route: %s", why);
		return;
	}
	if (!(r = http_route_claim(h, method, path, NULL, &err, &holder))) {
		if (err == -EEXIST) {
			http_route_holder(holder, why, sizeof why);
			call_fail(call, ERR_ROUTE_EXISTS, "route %s %s is held by %s", method, path, why);
		} else if (err == -ENOBUFS) {
			call_fail(call, ERR_LIMIT_EXCEEDED, "the host holds at most %d routes", HTTP_ROUTES_MAX);
		} else {
			call_fail(call, ERR_FAILED, "out of memory");
		}
		return;
	}
	http_route_set(r, call_get_fn_arg(call, 2), c);
	log_info("http: client %" PRIu64 " (%s) serves %s %s", client_get_id(c),
		 client_get_name(c) ? client_get_name(c) : "unnamed", method, path);
	call_return(call, NULL);
	http_server_wake(h);
}

/* unroute(method, path): true when the caller's route was removed. */
static void http_method_unroute(struct object *obj, struct call *call)
{
	struct http *h = object_get_userdata(obj);
	const char *method = cJSON_GetStringValue(call_get_arg(call, 0));
	const char *path = cJSON_GetStringValue(call_get_arg(call, 1));
	struct http_route *r = http_route_find(&h->routes, method, path);
	bool mine = r && r->owner && r->owner == call_get_client(call);

	if (mine)
		http_route_remove(h, r);
	call_return_json(call, cJSON_CreateBool(mine));
}

/* The respond function argument 0 names: the request object's "respond",
 * or the function itself. Borrowed, or NULL. */
static struct fn *http_takeover_respond(struct call *call)
{
	const cJSON *arg = call_get_arg(call, 0);

	if (cJSON_IsObject(arg))
		arg = cJSON_GetObjectItemCaseSensitive(arg, "respond");
	return arg ? value_get_fn(call_get_args(call), arg) : NULL;
}

/* takeover(request): the request's socket as {"$fd":N}; the host forgets
 * the connection and answers nothing. */
static void http_method_takeover(struct object *obj, struct call *call)
{
	struct http *h = object_get_userdata(obj);
	struct fn *respond = http_takeover_respond(call);
	struct value *tmp, *res;
	cJSON *node;
	char why[200];
	int fd;

	if (!respond) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "http.takeover: the argument must be a request given to a "
			  "handler (or its respond function)");
		return;
	}
	if ((fd = http_server_takeover(h, respond, why, sizeof why)) < 0) {
		call_fail(call, ERR_FAILED, "http.takeover: %s", why);
		return;
	}
	/* The result is the descriptor node itself: built in a scratch value. */
	if (!(tmp = value_new(cJSON_CreateArray())) || !(node = value_add_fd(tmp, fd))) {
		if (!tmp)
			close(fd);
		value_free(tmp);
		call_fail(call, ERR_FAILED, "out of memory (the connection is closed)");
		return;
	}
	cJSON_AddItemToArray(value_root(tmp), node);
	res = value_extract(tmp, node);
	value_free(tmp);
	if (!res) {
		call_fail(call, ERR_FAILED, "out of memory (the connection is closed)");
		return;
	}
	call_return(call, res);
}

/* {"method","path","state","owner","served"} of a route. */
static cJSON *http_route_describe(const struct http_route *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "method", r->method);
	cJSON_AddStringToObject(o, "path", r->path);
	cJSON_AddStringToObject(o, "state", r->label ? "configured" : r->fn ? "served" : "vacant");
	if (r->label) {
		cJSON_AddStringToObject(o, "section", r->label);
	} else if (r->owner) {
		cJSON *who = cJSON_AddObjectToObject(o, "client");
		cJSON_AddNumberToObject(who, "id", (double)client_get_id(r->owner));
		if (client_get_name(r->owner))
			cJSON_AddStringToObject(who, "name", client_get_name(r->owner));
		cJSON_AddNumberToObject(who, "pid", (double)client_get_pid(r->owner));
	}
	cJSON_AddNumberToObject(o, "served", (double)r->served);
	return o;
}

/* routes(): {"listen":[...],"routes":[...],"connections","inflight","requests"} */
static void http_method_routes(struct object *obj, struct call *call)
{
	struct http *h = object_get_userdata(obj);
	cJSON *o = cJSON_CreateObject();
	cJSON *listen = cJSON_AddArrayToObject(o, "listen");
	cJSON *routes = cJSON_AddArrayToObject(o, "routes");

	for (size_t i = 0; i < h->n_listeners; i++)
		cJSON_AddItemToArray(listen, cJSON_CreateString(h->listeners[i].name));
	for (struct list *l = h->routes.next; l != &h->routes; l = l->next)
		cJSON_AddItemToArray(routes, http_route_describe(list_entry(l, struct http_route, link)));
	cJSON_AddNumberToObject(o, "connections", (double)h->connections);
	cJSON_AddNumberToObject(o, "inflight", (double)h->inflight);
	cJSON_AddNumberToObject(o, "requests", (double)h->requests);
	call_return_json(call, o);
}

static const struct object_arg http_route_args[] = {
	{ "method", OBJECT_TYPE_STRING, OBJECT_KIND_NONE, false, false },
	{ "path", OBJECT_TYPE_STRING, OBJECT_KIND_NONE, false, false },
	{ "fn", OBJECT_TYPE_FUNCTION, OBJECT_KIND_REGISTRATION, false, false },
	{ 0 },
};

static const struct object_arg http_takeover_args[] = {
	{ "request", OBJECT_TYPE_ANY, OBJECT_KIND_NONE, false, false },
	{ 0 },
};

static const struct object_arg http_unroute_args[] = {
	{ "method", OBJECT_TYPE_STRING, OBJECT_KIND_NONE, false, false },
	{ "path", OBJECT_TYPE_STRING, OBJECT_KIND_NONE, false, false },
	{ 0 },
};

static const struct object_method http_methods[] = {
	{ "route", "serve requests for method (or \"*\") and the path prefix with fn(request); request is "
	  "{method, path, query, headers, body, remote, respond}; answer with respond(status, headers, body)",
	  http_route_args, "null", false, http_method_route },
	{ "unroute", "stop serving a route of the caller's", http_unroute_args, "boolean", false,
	  http_method_unroute },
	{ "routes", "the addresses listened on and the routes: {listen, routes, connections, inflight, requests}",
	  NULL, "object", false, http_method_routes },
	{ "takeover", "take the connection of a request at its handler: its socket ({\"$fd\":N}, blocking, "
	  "positioned after the request, nothing answered yet); the host forgets it", http_takeover_args, "any",
	  false, http_method_takeover },
	{ 0 },
};

/* A client went away: its routes stay, vacant, for its successor. */
static void http_client_lost(struct object *obj, struct client *c)
{
	struct http *h = object_get_userdata(obj);

	for (struct list *l = h->routes.next; l != &h->routes; l = l->next) {
		struct http_route *r = list_entry(l, struct http_route, link);
		if (r->owner == c) {
			log_info("http: %s %s is vacant: client %" PRIu64 " went away", r->method, r->path,
				 client_get_id(c));
			http_route_vacate(r);
		}
	}
}

/* The object is freed with the registry. */
static void http_object_destroy(struct object *obj)
{
	struct http *h = object_get_userdata(obj);

	if (h)
		h->obj = NULL;
}

/* Free h's routes and configuration. */
static void http_free(struct http *h)
{
	while (!list_empty(&h->routes))
		http_route_remove(h, list_entry(h->routes.next, struct http_route, link));
	http_conf_clear(&h->cfg);
	free(h);
}

/* Register the object and listen. */
int http_start(struct server *s, const struct http_conf *cfg, struct http **ret)
{
	struct http *h = calloc(1, sizeof *h);
	int r;

	if (!h)
		return -ENOMEM;
	h->server = s;
	list_init(&h->routes);
	list_init(&h->waiting);
	list_init(&h->live);
	if ((r = http_conf_copy(&h->cfg, cfg)) < 0 || !(h->obj = object_new("http", "the HTTP server: routes to "
									   "handlers (docs/HTTP.md)",
									   http_methods, h))) {
		free(h);
		return r < 0 ? r : -ENOMEM;
	}
	object_set_client_lost(h->obj, http_client_lost);
	object_set_destroy(h->obj, http_object_destroy);
	if ((r = object_register(server_objects(s), h->obj)) < 0 || (r = http_server_start(h)) < 0) {
		http_stop(h);
		return r;
	}
	*ret = h;
	return 0;
}

/* New limits; the addresses stay. */
int http_reconfigure(struct http *h, const struct http_conf *cfg)
{
	struct http_conf next;
	bool same = cfg->n_listen == h->cfg.n_listen;

	for (size_t i = 0; same && i < cfg->n_listen; i++)
		same = strcmp(cfg->listen[i], h->cfg.listen[i]) == 0;
	if (!same)
		log_warn("configuration: the HTTP server keeps its addresses until bothost restarts");
	if (http_conf_copy(&next, cfg) < 0)
		return -ENOMEM;
	/* the addresses listened on stay what they are */
	char **listen = next.listen;
	size_t n = next.n_listen;
	next.listen = h->cfg.listen;
	next.n_listen = h->cfg.n_listen;
	h->cfg.listen = listen;
	h->cfg.n_listen = n;
	http_conf_clear(&h->cfg);
	h->cfg = next;
	return 0;
}

/* Stop serving and free. */
void http_stop(struct http *h)
{
	if (!h)
		return;
	http_server_stop(h);
	if (h->obj) {
		object_set_destroy(h->obj, NULL);
		object_free(h->obj);
	}
	http_free(h);
}

/* A route of the configuration. */
int http_route_add_config(struct http *h, const char *method, const char *path, const char *label, struct fn *fn)
{
	struct http_route *r, *holder = NULL;
	char why[200];
	int err = 0;

	if (!http_route_valid(method, path, why, sizeof why))
		return -EINVAL;
	if (!(r = http_route_claim(h, method, path, label, &err, &holder)))
		return err;
	if (!r->label && !(r->label = strdup(label)))
		return -ENOMEM;
	http_route_set(r, fn, NULL);
	http_server_wake(h);
	return 0;
}

/* Remove the configuration's routes. */
void http_routes_clear_config(struct http *h)
{
	for (struct list *l = h->routes.next, *next; l != &h->routes; l = next) {
		struct http_route *r = list_entry(l, struct http_route, link);
		next = l->next;
		if (r->label)
			http_route_remove(h, r);
	}
}
