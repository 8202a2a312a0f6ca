/* SPDX-License-Identifier: ISC */
/* Listeners: the sockets of the configuration's [listen NAME] sections.
 *
 * The host opens each listening socket once (TCP "HOST:PORT" or
 * "unix:/path"), keeps it across reloads while its address stays in the
 * configuration, and closes it when the address leaves it. Each process of
 * a behaviour whose section says `listen = NAME` finds a duplicate of the
 * socket in host.context() as "listeners": {"NAME": {"$fd":0}} (the "fd"
 * extension): a restarted resident gets the very same socket, so
 * connections made while no process accepts wait in the backlog and are
 * never refused.
 *
 * A reload is two steps: listeners_prepare opens what the new configuration
 * adds (and fails without changing anything when one cannot be opened),
 * listeners_commit keeps exactly the sockets of the configuration it is
 * given (the new one, or the old one when the reload failed later).
 *
 * Functions returning int give 0 or a negative errno code. */
#ifndef BOTHOST_LISTENERS_H
#define BOTHOST_LISTENERS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "behaviour_conf.h"

struct value;

/* Whether address is one a [listen] section may have: 0, or -EINVAL with
 * why (a sentence fragment) written to why. */
int listener_address_check(const char *address, char *why, size_t size);
/* Open the sockets of bc's sections whose address is not open yet. 0, or
 * -errno with *ret_error (allocated: "[listen NAME] ADDRESS: why") and the
 * sockets it opened closed again. */
int listeners_prepare(const struct behaviours_conf *bc, char **ret_error);
/* Keep the sockets whose address is in bc (named as bc names them), close
 * the others (a Unix socket's file is removed). */
void listeners_commit(const struct behaviours_conf *bc);
/* After a reload applied to the behaviours: restart the residents whose
 * listener got a new socket (its address changed), so that they take it. */
void listeners_restart_moved(void);
/* Close every socket (the host stops). */
void listeners_free(void);
/* Add "listeners": {NAME: {"$fd"}} to context for each listener b names
 * (a duplicate of each socket, owned by context). 0 or -ENOMEM; a name
 * without an open socket is logged and left out. */
int listeners_add_context(struct value *context, const struct conf_behaviour *b);
/* [{name, address, bound, fd, behaviours: [names]}] for bot.listeners, or NULL. */
cJSON *listeners_describe(void);

#endif
