/* SPDX-License-Identifier: ISC */
/* What the bot knows about its IRC connection, kept from the lines it sees:
 * its own nick (from 001 and NICK, compared under the server's casemapping,
 * never guessed from a prefix), user and host, the server's ISUPPORT, the
 * channels it is in with their topics and members (prefixes, user, host,
 * account). Every name lookup is casemapped.
 *
 * irc_state_update is given every parsed line after its events went out, so
 * event builders still see the state before the line (the channels a
 * quitting user shared with the bot, say). */
#ifndef BOTHOST_IRC_STATE_H
#define BOTHOST_IRC_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "isupport.h"

struct irc_state;
struct irc_line;

/* Bounds on what a server can make the state hold: channels followed (a
 * JOIN of the bot beyond them is not followed) and members recorded per
 * channel (further ones are dropped; their PART, QUIT, NICK or MODE then
 * change nothing). Each is warned about once: per connection for channels,
 * per channel for members. */
#define IRC_STATE_CHANNELS_MAX 1000
#define IRC_STATE_MEMBERS_MAX 100000

/* A new empty state; NULL on allocation failure. */
struct irc_state *irc_state_new(void);
/* Free; NULL is allowed. Returns NULL. */
struct irc_state *irc_state_free(struct irc_state *s);
/* A new connection: no nick, no channels, the ISUPPORT defaults, no
 * capabilities. */
void irc_state_reset(struct irc_state *s);

/* The capabilities the server acknowledged on this connection that decide
 * which account information of a line is believed: without them an
 * "account" tag, an extended JOIN's account or an ACCOUNT line is only the
 * server's word about something it never agreed to report, or anyone's on
 * the path when the link is not encrypted. */
enum irc_state_cap {
	IRC_STATE_CAP_ACCOUNT_TAG = 1 << 0,	/* account-tag */
	IRC_STATE_CAP_EXTENDED_JOIN = 1 << 1,	/* extended-join */
	IRC_STATE_CAP_ACCOUNT_NOTIFY = 1 << 2,	/* account-notify */
};
void irc_state_set_caps(struct irc_state *s, unsigned caps);
/* The account a line says its source is logged in as, when a capability
 * in force lets it say so: its "account" tag, or an extended JOIN's
 * account; "*" for logged out; NULL when it says nothing believed. */
const char *irc_state_line_account(const struct irc_state *s, const struct irc_line *l);

/* The bot's nick as the server knows it (NULL before 001). 0 or -ENOMEM. */
int irc_state_set_nick(struct irc_state *s, const char *nick);
const char *irc_state_nick(const struct irc_state *s);
/* The bot's user and host as the server relays them, NULL while unknown. */
const char *irc_state_user(const struct irc_state *s);
const char *irc_state_host(const struct irc_state *s);

const struct isupport *irc_state_isupport(const struct irc_state *s);
enum isupport_casemap irc_state_casemap(const struct irc_state *s);
/* Whether two names are the same under the server's casemapping. */
bool irc_state_same(const struct irc_state *s, const char *a, const char *b);
/* Whether nick is the bot's own nick. */
bool irc_state_is_me(const struct irc_state *s, const char *nick);
/* Whether name is a channel (starts with one of CHANTYPES). */
bool irc_state_is_channel(const struct irc_state *s, const char *name);
/* Whether the bot is in channel. */
bool irc_state_in_channel(const struct irc_state *s, const char *channel);

/* Apply what a line says. 0, or -ENOMEM (the state may then miss a member). */
int irc_state_update(struct irc_state *s, const struct irc_line *l);

/* The account known for nick, or NULL. */
const char *irc_state_account(const struct irc_state *s, const char *nick);

/* JSON for the methods and events; NULL on allocation failure. */
/* [{"name","topic","users"}] of the channels the bot is in. */
cJSON *irc_state_channels_json(const struct irc_state *s);
/* [{"nick","prefixes","user","host","account"}] of channel; *ret_found is
 * false (and an empty array returned) when the bot is not in it. */
cJSON *irc_state_users_json(const struct irc_state *s, const char *channel, bool *ret_found);
/* The names of the channels the bot shares with nick. */
cJSON *irc_state_common_json(const struct irc_state *s, const char *nick);

#endif
