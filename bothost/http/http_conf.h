/* SPDX-License-Identifier: ISC */
/* The [http] section of the configuration, as the http layer sees it; the
 * configuration file (bothost/conf.h) reads it. */
#ifndef BOTHOST_HTTP_CONF_H
#define BOTHOST_HTTP_CONF_H

#include <stddef.h>

struct http_conf {
	char **listen;			/* "127.0.0.1:8080", "[::1]:8080"; none: no HTTP server */
	size_t n_listen;
	size_t body_max;		/* bytes of a request's body (1 MiB): 413 beyond */
	size_t header_max;		/* bytes of a request's line and headers (16 KiB): 431 beyond */
	unsigned connections_max;	/* connections served at once (256): 503 beyond */
	unsigned inflight_max;		/* requests waiting for or at a handler (128): 503 beyond */
	unsigned handler_wait_ms;	/* how long a request waits for its route's handler (5 s): 503 */
	unsigned answer_timeout_ms;	/* how long a handler has to answer (10 s): 504 */
	unsigned idle_timeout_ms;	/* a keep-alive connection idle this long is closed (30 s) */
};

/* The defaults above, no address. */
void http_conf_init(struct http_conf *hc);
/* Free what hc holds and zero it (clearing twice is harmless). */
void http_conf_clear(struct http_conf *hc);
/* A deep copy of src into dst: 0 or -ENOMEM (dst is then cleared). */
int http_conf_copy(struct http_conf *dst, const struct http_conf *src);
/* Check an address "HOST:PORT" (an IPv4 address, or an IPv6 one in
 * brackets; port 0 to 65535, 0 picks a free one): 0 or -EINVAL. */
int http_conf_check_listen(const char *addr);

#endif
