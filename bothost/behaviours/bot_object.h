/* SPDX-License-Identifier: ISC */
/* The `bot` object: the behaviours as the proxy protocol exposes them
 * (PROTOCOL.md, "The bot object"): reload() and restart(name), both
 * privileged, list(), the events `started` and `exited` of their
 * processes, and "command:WORD", whose registration claims the command
 * word WORD for its client (commands.h). Present when bothost runs with a
 * configuration file. */
#ifndef BOTHOST_BOT_OBJECT_H
#define BOTHOST_BOT_OBJECT_H

struct server;

/* Create and register the object with server s and hear of the behaviours'
 * processes (after behaviours_start). 0 or -errno. */
int bot_object_register(struct server *s);

#endif
