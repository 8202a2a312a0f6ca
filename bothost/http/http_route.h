/* SPDX-License-Identifier: ISC */
/* The routes of the HTTP server: (method, path prefix) -> a handler.
 *
 * A route is owned by a client (http.route), by the configuration (a
 * [route NAME] section, owner NULL), or by nobody: a client's route whose
 * client went away stays, vacant, so that requests for it wait for the
 * next handler (its resident restarting) instead of getting 404. Matching
 * is by longest path prefix on segment boundaries ("/a" matches "/a" and
 * "/a/b", not "/ab"), then an exact method over "*". A route holds one
 * reference to its handler function. */
#ifndef BOTHOST_HTTP_ROUTE_H
#define BOTHOST_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/list.h"

struct client;
struct fn;

#define HTTP_ROUTES_MAX 256
#define HTTP_ROUTE_PATH_MAX 256

struct http_route {
	char *method;			/* "GET", ... or "*" */
	char *path;
	struct fn *fn;			/* the handler (one reference), NULL: vacant */
	struct client *owner;		/* the client that registered it, or NULL */
	char *label;			/* the [route NAME] section's name, or NULL */
	uint64_t served;		/* requests handed to a handler */
	struct list link;
};

/* Whether method ("*" or 1 to 16 upper-case letters) and path ('/' then
 * printable ASCII without '?', '#' or spaces) may make a route; why says not. */
bool http_route_valid(const char *method, const char *path, char *why, size_t len);
/* The route with exactly method and path in routes, or NULL. */
struct http_route *http_route_find(const struct list *routes, const char *method, const char *path);
/* The route that serves method and path (vacant or not), or NULL. */
struct http_route *http_route_match(const struct list *routes, const char *method, const char *path);
/* A new route (unlinked, no handler); NULL on allocation failure. */
struct http_route *http_route_new(const char *method, const char *path, const char *label);
/* Unlink and free a route, dropping its handler. */
void http_route_free(struct http_route *r);
/* Take the handler fn (a new reference) for owner. */
void http_route_set(struct http_route *r, struct fn *fn, struct client *owner);
/* Drop the handler: the route is vacant. */
void http_route_vacate(struct http_route *r);

#endif
