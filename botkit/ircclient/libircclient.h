/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: libircclient 1.9's API over the bothost proxy protocol.
 *
 * A program written for libircclient compiles unchanged against this header
 * (`cc prog.c $(pkg-config --cflags --libs botkit-ircclient)`) and runs as a
 * bothost behaviour: its session is the host's IRC client, not a connection
 * of its own. The names, types, constants and signatures are libircclient
 * 1.9's; what each call means here is in docs/IRCCLIENT.md:
 * - irc_connect() attaches to the host ($BOTKIT_FD, else $BOTKIT_SOCKET);
 *   server, port, password, nick, username and realname are ignored.
 * - irc_disconnect() and irc_cmd_quit() end this session, never the bot's
 *   IRC connection.
 * - irc_cmd_* return 0 once the command is queued on the host; text with CR,
 *   LF or NUL is refused with LIBIRC_ERR_INVAL. A refusal the host sends
 *   later is kept for irc_errno().
 * - DCC returns LIBIRC_ERR_NOTSUPPORTED (an addition to 1.9's codes).
 * Functions that fail return nonzero (1) and set irc_errno(), as in 1.9. */
#ifndef INCLUDE_LIBIRC_H
#define INCLUDE_LIBIRC_H

#include <stdlib.h>
#include <sys/select.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct irc_session_s irc_session_t;		/* one session: one attachment to the host */
typedef struct irc_dcc_session_s irc_dcc_session_t;	/* never made: no DCC */
typedef unsigned int irc_dcc_t;				/* a DCC id */

/* DCC progress (never called: no DCC). */
typedef void (*irc_dcc_callback_t)(irc_session_t *session, irc_dcc_t id, int status, void *ctx,
				   const char *data, unsigned int length);

#define IN_INCLUDE_LIBIRC_H
#include "libirc_errors.h"
#include "libirc_events.h"
#include "libirc_options.h"
#undef IN_INCLUDE_LIBIRC_H

/* A session with a copy of the callbacks; NULL when memory runs out. */
irc_session_t *irc_create_session(irc_callbacks_t *callbacks);
/* Detach (if attached) and free the session. */
void irc_destroy_session(irc_session_t *session);

/* Attach to the host; the arguments are ignored (server and nick must not be
 * NULL, as in 1.9). 0, or 1 with LIBIRC_ERR_CONNECT / LIBIRC_ERR_STATE. */
int irc_connect(irc_session_t *session, const char *server, unsigned short port,
		const char *server_password, const char *nick, const char *username,
		const char *realname);
/* The same (the host chooses IPv4 or IPv6). */
int irc_connect6(irc_session_t *session, const char *server, unsigned short port,
		 const char *server_password, const char *nick, const char *username,
		 const char *realname);
/* End this session now (the bot stays on IRC). */
void irc_disconnect(irc_session_t *session);
/* 1 while the session is attached to the host. */
int irc_is_connected(irc_session_t *session);

/* Dispatch events until the session ends: 1 with irc_errno() set (as 1.9). */
int irc_run(irc_session_t *session);
/* For a select() loop of the program's own: add the session's descriptor. */
int irc_add_select_descriptors(irc_session_t *session, fd_set *in_set, fd_set *out_set, int *maxfd);
/* Read, write and dispatch what select() found; 1 once the session ended. */
int irc_process_select_descriptors(irc_session_t *session, fd_set *in_set, fd_set *out_set);

/* One IRC command, printf-style, mapped to the irc object (PRIVMSG, NOTICE,
 * JOIN, PART, NICK, TOPIC, KICK, MODE, INVITE, WHOIS, NAMES, QUIT); any other
 * command gives LIBIRC_ERR_NOTSUPPORTED, a malformed line LIBIRC_ERR_INVAL. */
int irc_send_raw(irc_session_t *session, const char *format, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* IRC commands: 0 once queued, or 1 with irc_errno() set. */
int irc_cmd_quit(irc_session_t *session, const char *reason);
int irc_cmd_join(irc_session_t *session, const char *channel, const char *key);
int irc_cmd_part(irc_session_t *session, const char *channel);
int irc_cmd_invite(irc_session_t *session, const char *nick, const char *channel);
int irc_cmd_names(irc_session_t *session, const char *channel);
int irc_cmd_list(irc_session_t *session, const char *channel);
int irc_cmd_topic(irc_session_t *session, const char *channel, const char *topic);
int irc_cmd_channel_mode(irc_session_t *session, const char *channel, const char *mode);
int irc_cmd_user_mode(irc_session_t *session, const char *mode);
int irc_cmd_nick(irc_session_t *session, const char *newnick);
int irc_cmd_whois(irc_session_t *session, const char *nick);
int irc_cmd_msg(irc_session_t *session, const char *nch, const char *text);
int irc_cmd_me(irc_session_t *session, const char *nch, const char *text);
int irc_cmd_notice(irc_session_t *session, const char *nch, const char *text);
int irc_cmd_kick(irc_session_t *session, const char *nick, const char *channel, const char *reason);
int irc_cmd_ctcp_request(irc_session_t *session, const char *nick, const char *request);
int irc_cmd_ctcp_reply(irc_session_t *session, const char *nick, const char *reply);

/* The nick of "nick!user@host" into nick (size bytes, cut to fit). */
void irc_target_get_nick(const char *target, char *nick, size_t size);
/* "!user@host" of "nick!user@host" (or the whole target) into nick. */
void irc_target_get_host(const char *target, char *nick, size_t size);

/* DCC: not supported; each returns LIBIRC_ERR_NOTSUPPORTED (1 with irc_errno()). */
int irc_dcc_chat(irc_session_t *session, void *ctx, const char *nick, irc_dcc_callback_t callback,
		 irc_dcc_t *dccid);
int irc_dcc_msg(irc_session_t *session, irc_dcc_t dccid, const char *text);
int irc_dcc_accept(irc_session_t *session, irc_dcc_t dccid, void *ctx, irc_dcc_callback_t callback);
int irc_dcc_decline(irc_session_t *session, irc_dcc_t dccid);
int irc_dcc_sendfile(irc_session_t *session, void *ctx, const char *nick, const char *filename,
		     irc_dcc_callback_t callback, irc_dcc_t *dccid);
int irc_dcc_destroy(irc_session_t *session, irc_dcc_t dccid);

/* 1.9: the version of libircclient's API this library provides. */
void irc_get_version(unsigned int *high, unsigned int *low);
/* The program's context pointer. */
void irc_set_ctx(irc_session_t *session, void *ctx);
void *irc_get_ctx(irc_session_t *session);
/* Kept for irc_event_ctcp_internal's answers (the host answers VERSION). */
void irc_set_ctcp_version(irc_session_t *session, const char *version);
/* The session's last error, and its description. */
int irc_errno(irc_session_t *session);
const char *irc_strerror(int ircerrno);
/* LIBIRC_OPTION_* flags. */
void irc_option_set(irc_session_t *session, unsigned int option);
void irc_option_reset(irc_session_t *session, unsigned int option);

/* mIRC colour codes: stripped, converted to [B] [U] [I] [COLOR=..] tags, and
 * tags converted back; malloc'd (free()), NULL when memory runs out. */
char *irc_color_strip_from_mirc(const char *message);
char *irc_color_convert_from_mirc(const char *message);
char *irc_color_convert_to_mirc(const char *message);

/* botkit-ircclient only: libircclient's answers to CTCP requests, used when
 * event_ctcp_req is NULL, for a handler to fall back on. */
void irc_event_ctcp_internal(irc_session_t *session, const char *event, const char *origin,
			     const char **params, unsigned int count);

#ifdef __cplusplus
}
#endif

#endif
