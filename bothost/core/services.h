/* SPDX-License-Identifier: ISC */
/* Services: objects that clients provide to each other through the host
 * (PROTOCOL.md, "Services"). A client provides a name with a table of its
 * own functions (host.provide); any client calls it as `call(obj=name, ...)`
 * like a host object, or through host.lookup. One provider per name; host
 * objects cannot be shadowed. A call to a name nobody provides may wait, up
 * to a deadline its caller chose, for a provider to appear.
 *
 * The registry (struct services) belongs to an object registry (struct
 * objects, object.c), which creates it, consults it for names no object has
 * and tells it when a client goes away. A service holds one reference to
 * each of its provider's functions; withdrawing it, or its provider's
 * disconnect, drops them. A waiting call is owned by the registry until it
 * is dispatched or fails. Errors: 0 or -errno, as in the rest of the core. */
#ifndef BOTHOST_SERVICES_H
#define BOTHOST_SERVICES_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct call;
struct client;
struct objects;
struct server;
struct services;

/* The longest a call may wait for a provider (milliseconds). */
#define SERVICES_WAIT_MAX_MS 600000u
/* The most services one client may provide at a time. */
#define SERVICES_PER_CLIENT_MAX 64u
/* The most methods one service may have. */
#define SERVICES_METHODS_MAX 256u

/* An empty registry for objs (whose introspection it invalidates when it
 * changes); NULL on allocation failure. */
struct services *services_new(struct objects *objs);
/* Fail every waiting call (Disconnected), drop every service; NULL is a no-op. */
void services_free(struct services *svcs);

/* host.provide(name, methods, doc?) for call's client: answers the call
 * (null, or InvalidArguments, PermissionDenied, ServiceExists,
 * LimitExceeded), then sends the calls that waited for name to it. */
void services_provide(struct services *svcs, struct call *call);
/* host.withdraw(name): true when the caller's service name was removed. */
void services_withdraw(struct services *svcs, struct call *call);
/* host.lookup(name, wait_ms?): {method: function}, each function calling
 * the service by name (waiting wait_ms for a provider, as the lookup did);
 * functions are made for server s. */
void services_lookup(struct services *svcs, struct server *s, struct call *call);
/* host.services(): [{"name","doc","provider":{...},"methods":[...]}]. */
void services_list(struct services *svcs, struct call *call);

/* Run name.method for call: at once when name is provided; else fail with
 * NoSuchObject, or with wait_ms > 0 wait that long for a provider. */
void services_dispatch(struct services *svcs, struct call *call, const char *name, const char *method,
		       unsigned wait_ms);
/* c went away: withdraw its services, drop the calls it had waiting. */
void services_client_lost(struct services *svcs, struct client *c);

/* Add the description of every service to all (introspection). */
void services_describe(const struct services *svcs, cJSON *all);
/* Services provided, and calls waiting for a provider (host.stats). */
size_t services_count(const struct services *svcs);
size_t services_waiting(const struct services *svcs);

#endif
