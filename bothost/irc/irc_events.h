/* The irc object's events (PROTOCOL.md, "The irc object").
 *
 * libircclient, fed each line through the shim, decides which event a line
 * is; the event's data comes from the bot's own parse of the same line (the
 * link's struct irc_line, with its tags, account tag and server-time) and
 * from the bot's own state: channel or private is decided by CHANTYPES and
 * the bot's own nick, never by the library's guess. CTCP VERSION, PING, TIME
 * and CLIENTINFO are answered by bothost itself (at most ctcp_per_minute);
 * other CTCP requests become `ctcp` events. */
#ifndef BOTHOST_IRC_EVENTS_H
#define BOTHOST_IRC_EVENTS_H

struct irc;
struct ircshim;
struct object_event;

/* The events, for the object's introspection. */
const struct object_event *irc_events_table(void);

/* The shim's callback (userdata: struct irc); the line it is about is
 * irc->line. */
void irc_events_shim_cb(struct ircshim *s, const char *event, const char *origin, const char **params,
			unsigned count, void *userdata);
/* `line`: a raw line, direction "in" or "out". */
void irc_events_line(struct irc *irc, const char *line, const char *direction);
/* `connect` (registered) and `disconnect`. */
void irc_events_connect(struct irc *irc);
void irc_events_disconnect(struct irc *irc, const char *reason);
/* Detach the reply functions clients still hold from irc, which is going
 * away: they fail with NotConnected from then on. */
void irc_events_forget(struct irc *irc);

#endif
