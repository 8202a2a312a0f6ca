/* SPDX-License-Identifier: ISC */
/* The `irc` object: the bot's IRC client as the proxy protocol exposes it
 * (PROTOCOL.md, "The irc object"). It owns the link,
 * the state the bot tracks itself (own nick, channels, members, ISUPPORT),
 * the paced outbound queue, and the methods and events. */
#ifndef BOTHOST_IRC_H
#define BOTHOST_IRC_H

#include "isupport.h"

struct conf_irc;
struct fn;
struct server;

/* Register the `irc` object with server s and start connecting (cfg is
 * copied). 0 or -errno. */
int irc_start(struct server *s, const struct conf_irc *cfg);
/* Apply a new configuration without dropping the connection: servers and
 * timings from the next connection on, channels joined/parted now, pacing at
 * once. 0 or -errno (then nothing changed). */
int irc_reconfigure(const struct conf_irc *cfg);
/* Send QUIT, stop, fail queued lines with NotConnected, unregister the object. */
void irc_stop(const char *quit_message);
/* How the server compares names (RFC 1459's until it says, and without an
 * IRC client). */
enum isupport_casemap irc_get_casemapping(void);
/* The host refused the command a `message` event gave (a user over the
 * rate limit): calling the event's reply function fails with
 * PermissionDenied and why from now on when a client calls it, so that a
 * resident does not answer it (the host's own notices still go). 0, -EINVAL (reply is not a message's reply function), -ENOMEM, or
 * -ENOTCONN when there is no irc object. */
int irc_reply_refuse(struct fn *reply, const char *why);
/* Say text through a message's reply function as the bot's own notice (a
 * refusal: "busy", "too fast"), queued after every answer waiting so that it
 * never delays one. 0, -EINVAL (not a message's reply function), -ENOTCONN
 * (no irc object) or the queue's error (-ENOBUFS when full). */
int irc_reply_notice(struct fn *reply, const char *text);

#endif
