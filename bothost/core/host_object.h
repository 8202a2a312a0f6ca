/* SPDX-License-Identifier: ISC */
/* The `host` object: ping, introspect, stats, clients, and the events
 * `connected` / `disconnected` of clients. */
#ifndef BOTHOST_HOST_OBJECT_H
#define BOTHOST_HOST_OBJECT_H

struct object;
struct server;

/* Create and register the object for server s. 0 or -errno. */
int host_object_register(struct server *s);

#endif
