/* SPDX-License-Identifier: ISC */
/* Listening TCP sockets for the HTTP server: "HOST:PORT" parsed and bound. */
#ifndef BOTHOST_HTTP_LISTEN_H
#define BOTHOST_HTTP_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

/* Parse "1.2.3.4:80" or "[::1]:80" (port 0 to 65535): 0 or -EINVAL. */
int http_listen_parse(const char *addr, struct sockaddr_storage *ret, socklen_t *ret_len);
/* A non-blocking, close-on-exec socket listening on addr: the descriptor,
 * or -errno (-EINVAL: not an address). */
int http_listen_open(const char *addr);
/* "HOST:PORT" of the socket's local address (the port it really got). */
void http_listen_name(int fd, char *buf, size_t size);

#endif
