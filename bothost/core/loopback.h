/* SPDX-License-Identifier: ISC */
/* The `loopback` test object (bothost --loopback): echoes values, calls back
 * functions, emits events (PROTOCOL.md section 8). */
#ifndef BOTHOST_LOOPBACK_H
#define BOTHOST_LOOPBACK_H

struct server;

/* Create and register the object with server s. 0 or -errno. */
int loopback_register(struct server *s);

#endif
