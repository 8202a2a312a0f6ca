/* SPDX-License-Identifier: ISC */
/* Shared between the http object (http.c) and its server (http_server.c). */
#ifndef BOTHOST_HTTP_INTERNAL_H
#define BOTHOST_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/list.h"
#include "http_conf.h"

struct MHD_Daemon;
struct object;
struct server;
struct http_route;
struct fn;

/* One listening address and the libmicrohttpd daemon serving it: its epoll
 * descriptor watched by io, its next timeout by timer. */
struct http_listener {
	struct http *http;
	struct MHD_Daemon *daemon;
	int fd;
	char name[64];			/* "HOST:PORT", the port it really got */
	ev_io io;
	ev_timer timer;
};

struct http {
	struct server *server;
	struct object *obj;
	struct http_conf cfg;
	struct http_listener *listeners;
	size_t n_listeners;
	struct list routes;		/* struct http_route */
	size_t n_routes;
	struct list waiting;		/* struct http_request waiting for a handler */
	struct list live;		/* every struct http_request not yet freed */
	size_t connections;		/* open now */
	size_t inflight;		/* requests waiting for or at a handler */
	uint64_t requests;		/* requests read, in all */
	bool stopping;
};

/* Load libmicrohttpd (http_mhd.h) and open the listeners of h->cfg: 0 or
 * -errno (logged; -ENOPKG: the library is missing). */
int http_server_start(struct http *h);
/* Answer what is in flight with 503 and close everything. */
void http_server_stop(struct http *h);
/* Requests waiting for a handler whose route now has one go to it. */
void http_server_wake(struct http *h);
/* http.takeover: the socket of the request that respond (its respond
 * function) answers, now the caller's; the server forgets the connection
 * without a word. The socket, or -EALREADY (not at its handler: answered,
 * timed out, closed) or another -errno; why says which in words. */
int http_server_takeover(struct http *h, const struct fn *respond, char *why, size_t size);

#endif
