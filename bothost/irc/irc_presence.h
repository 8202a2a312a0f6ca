/* SPDX-License-Identifier: ISC */
/* Where the bot should be and what it should be called: the channels it
 * wants to be in (configured ones, and those joined at run time through
 * `join`, with their keys) and the nick it wants (the configured one, or the
 * last one set through `nick`).
 *
 * After every registration the bot joins them all again; joins that fail are
 * retried every join_retry; after a kick it rejoins after rejoin_delay when
 * rejoin_on_kick is set; a channel parted through `part` is forgotten. When
 * the bot has another nick than the wanted one it asks for it every
 * regain_nick, and at once when the holder quits or changes nick. */
#ifndef BOTHOST_IRC_PRESENCE_H
#define BOTHOST_IRC_PRESENCE_H

#include <stdbool.h>

#include "irc_send.h"

struct irc;
struct irc_line;
struct conf_irc;

/* Set up (timers, the configured channels). 0 or -ENOMEM. */
int irc_presence_init(struct irc *irc);
/* Forget every channel and stop the timers. */
void irc_presence_clear(struct irc *irc);

/* Want to be in channel (key may be NULL; an existing entry gets the new
 * key). configured marks a channel of the configuration. 0 or -ENOMEM. */
int irc_presence_want(struct irc *irc, const char *channel, const char *key, bool configured);
/* Whether the bot wants to be in channel. */
bool irc_presence_wanted(struct irc *irc, const char *channel);
/* Stop wanting channel (it is not rejoined). */
void irc_presence_unwant(struct irc *irc, const char *channel);
/* Send JOIN for a wanted channel now; done (may be NULL) as irc_send's. 0 or
 * -errno as irc_out_command (-ENOENT: not wanted). */
int irc_presence_join(struct irc *irc, const char *channel, irc_send_done_fn done, void *userdata);

/* Registered: join everything, start the timers, ask for the wanted nick. */
void irc_presence_registered(struct irc *irc);
/* The connection ended: stop the timers. */
void irc_presence_lost(struct irc *irc);
/* A line from the server, before the query table and the state see it. */
void irc_presence_line(struct irc *irc, const struct irc_line *l);
/* A new configuration (not yet in irc->cfg): part the channels it drops,
 * join the ones it adds. 0 or -ENOMEM. */
int irc_presence_reconfigure(struct irc *irc, const struct conf_irc *next);
/* Ask for the wanted nick now when the bot has another one. */
void irc_presence_regain(struct irc *irc);
/* Restart the timers with the intervals of irc->cfg (while registered). */
void irc_presence_retime(struct irc *irc);

#endif
