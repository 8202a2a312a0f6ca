/* SPDX-License-Identifier: ISC */
/* The irc object's methods (PROTOCOL.md, "The irc object"): each checks its
 * arguments against the IRC grammar and the server's ISUPPORT before
 * anything is queued, and answers once its lines are written, once the
 * server answered, or with the reason it could not. */
#ifndef BOTHOST_IRC_METHODS_H
#define BOTHOST_IRC_METHODS_H

struct object_method;

/* The method table (its userdata is the struct irc). */
const struct object_method *irc_methods_table(void);

#endif
