/* SPDX-License-Identifier: ISC */
/* The http host object: an HTTP/1.1 server (GNU libmicrohttpd driven from
 * the default libev loop) on the addresses of the [http] section, whose
 * requests go to handlers that clients register with http.route, or that
 * the daemon registers for [route NAME] sections (docs/HTTP.md).
 *
 * Errors: 0 or -errno. */
#ifndef BOTHOST_HTTP_H
#define BOTHOST_HTTP_H

#include "http_conf.h"

struct http;
struct server;
struct fn;

/* Register the http object on s and listen on cfg's addresses (copied).
 * libmicrohttpd is loaded then, not before (http_mhd.h). 0, or -errno (an
 * address cannot be listened on, or -ENOPKG: libmicrohttpd is missing;
 * logged; nothing kept). */
int http_start(struct server *s, const struct http_conf *cfg, struct http **ret);
/* Take cfg's limits from now on; the addresses stay until a restart (a
 * change is logged). 0 or -ENOMEM. */
int http_reconfigure(struct http *h, const struct http_conf *cfg);
/* Answer what is in flight with 503, close every connection, unregister the
 * object and free h; NULL is a no-op. Before server_free. */
void http_stop(struct http *h);

/* A route of the configuration (owner: the host): fn (a new reference) is
 * invoked with the request for each one. 0, -EINVAL (not a method or path),
 * -EEXIST (a client's or another section's route holds them) or -ENOBUFS. */
int http_route_add_config(struct http *h, const char *method, const char *path, const char *label,
			  struct fn *fn);
/* Remove every route of the configuration (before adding the new ones). */
void http_routes_clear_config(struct http *h);

#endif
