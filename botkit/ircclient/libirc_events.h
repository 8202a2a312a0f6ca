/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: the callbacks of libircclient 1.9 (same types, same
 * members in the same order). Include <libircclient.h>, not this file. */
#ifndef INCLUDE_IRC_EVENTS_H
#define INCLUDE_IRC_EVENTS_H

#ifndef IN_INCLUDE_LIBIRC_H
#error "include <libircclient.h>, which includes this file"
#endif

/* An IRC event: its name, who sent it ("nick!user@host" or a server name;
 * NULL when the line had no source), its parameters and their number. */
typedef void (*irc_event_callback_t)(irc_session_t *session, const char *event, const char *origin,
				     const char **params, unsigned int count);
/* A numeric reply, by number. */
typedef void (*irc_eventcode_callback_t)(irc_session_t *session, unsigned int event, const char *origin,
					 const char **params, unsigned int count);
/* DCC requests (never called by botkit-ircclient: DCC is not supported). */
typedef void (*irc_event_dcc_chat_t)(irc_session_t *session, const char *nick, const char *addr,
				     irc_dcc_t dccid);
typedef void (*irc_event_dcc_send_t)(irc_session_t *session, const char *nick, const char *addr,
				     const char *filename, unsigned long size, irc_dcc_t dccid);

/* The callbacks a session calls; a NULL member is not called. */
typedef struct {
	irc_event_callback_t event_connect;		/* the host is registered on IRC */
	irc_event_callback_t event_nick;		/* NICK: params[0] the new nick */
	irc_event_callback_t event_quit;		/* QUIT: params[0] the reason, if any */
	irc_event_callback_t event_join;		/* JOIN: params[0] the channel */
	irc_event_callback_t event_part;		/* PART: params[0] the channel, [1] the reason */
	irc_event_callback_t event_mode;		/* MODE of a channel: channel, modes, arguments */
	irc_event_callback_t event_umode;		/* MODE of the bot: params[0] the modes */
	irc_event_callback_t event_topic;		/* TOPIC: channel, topic */
	irc_event_callback_t event_kick;		/* KICK: channel, nick, reason */
	irc_event_callback_t event_channel;		/* PRIVMSG to a channel: channel, text */
	irc_event_callback_t event_privmsg;		/* PRIVMSG to the bot: nick, text */
	irc_event_callback_t event_notice;		/* NOTICE to the bot: nick, text */
	irc_event_callback_t event_channel_notice;	/* NOTICE to a channel: channel, text */
	irc_event_callback_t event_invite;		/* INVITE: nick, channel */
	irc_event_callback_t event_ctcp_req;		/* CTCP request: params[0] "COMMAND args" */
	irc_event_callback_t event_ctcp_rep;		/* CTCP reply: params[0] "COMMAND args" */
	irc_event_callback_t event_ctcp_action;		/* CTCP ACTION: target, text */
	irc_event_callback_t event_unknown;		/* any other command */
	irc_eventcode_callback_t event_numeric;		/* every numeric reply */
	irc_event_dcc_chat_t event_dcc_chat_req;	/* never called */
	irc_event_dcc_send_t event_dcc_send_req;	/* never called */
} irc_callbacks_t;

#endif
