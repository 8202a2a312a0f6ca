/* SPDX-License-Identifier: ISC */
/* The routes of the HTTP server. */
#include "config.h"

#include "http_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fn.h"

/* Whether method and path may make a route. */
bool http_route_valid(const char *method, const char *path, char *why, size_t len)
{
	size_t m = strlen(method), n = strlen(path);

	if (strcmp(method, "*") != 0 && (m == 0 || m > 16 || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != m)) {
		snprintf(why, len, "method '%.32s' is not \"*\" or 1 to 16 upper-case letters", method);
		return false;
	}
	if (n == 0 || path[0] != '/' || n > HTTP_ROUTE_PATH_MAX) {
		snprintf(why, len, "path '%.64s' must start with '/' and have at most %d bytes", path,
			 HTTP_ROUTE_PATH_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (path[i] <= ' ' || path[i] >= 0x7f || path[i] == '?' || path[i] == '#') {
			snprintf(why, len, "path '%.64s' holds a space, '?', '#' or a byte that is not printable "
				 "ASCII", path);
			return false;
		}
	return true;
}

/* The route with exactly method and path. */
struct http_route *http_route_find(const struct list *routes, const char *method, const char *path)
{
	for (struct list *l = routes->next; l != routes; l = l->next) {
		struct http_route *r = list_entry(l, struct http_route, link);
		if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0)
			return r;
	}
	return NULL;
}

/* How many bytes of path the route's prefix covers, or -1: no match. */
static long http_route_covers(const struct http_route *r, const char *path)
{
	size_t n = strlen(r->path);

	if (strncmp(r->path, path, n) != 0)
		return -1;
	if (path[n] == 0 || path[n] == '/' || (n && r->path[n - 1] == '/'))
		return (long)n;
	return -1;
}

/* The best route for method and path. */
struct http_route *http_route_match(const struct list *routes, const char *method, const char *path)
{
	struct http_route *best = NULL;
	long best_len = -1;
	bool best_exact = false;

	for (struct list *l = routes->next; l != routes; l = l->next) {
		struct http_route *r = list_entry(l, struct http_route, link);
		bool exact = strcmp(r->method, method) == 0;
		long n;
		if (!exact && strcmp(r->method, "*") != 0)
			continue;
		if ((n = http_route_covers(r, path)) < 0)
			continue;
		if (n > best_len || (n == best_len && exact && !best_exact)) {
			best = r;
			best_len = n;
			best_exact = exact;
		}
	}
	return best;
}

/* A new route without handler. */
struct http_route *http_route_new(const char *method, const char *path, const char *label)
{
	struct http_route *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	list_init(&r->link);
	r->method = strdup(method);
	r->path = strdup(path);
	r->label = label ? strdup(label) : NULL;
	if (!r->method || !r->path || (label && !r->label)) {
		http_route_free(r);
		return NULL;
	}
	return r;
}

/* Unlink and free. */
void http_route_free(struct http_route *r)
{
	if (!r)
		return;
	list_remove(&r->link);
	fn_unref(r->fn);
	free(r->method);
	free(r->path);
	free(r->label);
	free(r);
}

/* Take a handler. */
void http_route_set(struct http_route *r, struct fn *fn, struct client *owner)
{
	struct fn *old = r->fn;

	r->fn = fn_ref(fn);
	r->owner = owner;
	fn_unref(old);
}

/* Drop the handler. */
void http_route_vacate(struct http_route *r)
{
	r->fn = fn_unref(r->fn);
	r->owner = NULL;
}
