/* SPDX-License-Identifier: ISC */
/* The irc object's events (PROTOCOL.md, "The irc object").
 *
 * A line's kind (irc_kind.h: libircclient 1.9's dispatch, without the
 * library) says which event it is; the event's data comes from the same
 * parse (the link's struct irc_line, with its tags, account tag and
 * server-time) and from the bot's own state: channel or private is decided
 * by CHANTYPES and the bot's own nick. CTCP VERSION, PING, TIME
 * and CLIENTINFO are answered by bothost itself (at most ctcp_per_minute);
 * other CTCP requests become `ctcp` events. */
#ifndef BOTHOST_IRC_EVENTS_H
#define BOTHOST_IRC_EVENTS_H

struct emitter_filter_ops;
struct fn;
struct irc;
struct irc_line;
struct object_event;

/* The events, for the object's introspection. */
const struct object_event *irc_events_table(void);
/* The filters message, action and notice take (PROTOCOL.md, "Filters"). */
const struct emitter_filter_ops *irc_events_filter_ops(void);

/* The events of a line from the server (the state not yet updated by it). */
void irc_events_dispatch(struct irc *irc, const struct irc_line *l);
/* `line`: a raw line, direction "in" or "out". */
void irc_events_line(struct irc *irc, const char *line, const char *direction);
/* A line the bot sent: remember its command and target for `refused`. */
void irc_events_sent(struct irc *irc, const char *line);
/* A line from the server: when it is a numeric refusing something the bot
 * sent (401, 403, 404, 442, 482, 471-477, ...), log it and emit `refused`. */
void irc_events_refused(struct irc *irc, const struct irc_line *l);
/* `connect` (registered) and `disconnect`. */
void irc_events_connect(struct irc *irc);
void irc_events_disconnect(struct irc *irc, const char *reason);
/* Detach the reply functions clients still hold from irc, which is going
 * away: they fail with NotConnected from then on. */
void irc_events_forget(struct irc *irc);
/* Make reply, a message's reply function, fail with PermissionDenied and
 * why from now on (see irc_reply_refuse). 0, -EINVAL or -ENOMEM. */
int irc_events_reply_refuse(struct irc *irc, struct fn *reply, const char *why);
/* Send text through reply (a message's reply function) as the bot's own
 * notice, at the lowest priority: after every answer waiting. 0, -EINVAL
 * (not a message's reply function) or the queue's error. */
int irc_events_reply_notice(struct irc *irc, struct fn *reply, const char *text);

#endif
