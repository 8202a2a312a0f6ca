/* SPDX-License-Identifier: ISC */
/* botkit-ircclient internals: the session, its queue of events, and what the
 * modules share. Errors follow libircclient 1.9: 1 and session->lasterror. */
#ifndef BOTKIT_IRCCLIENT_INTERNAL_H
#define BOTKIT_IRCCLIENT_INTERNAL_H

#include <stdbool.h>

#include "botkit.h"
#include "libircclient.h"

/* Where a session is: not attached yet, attached, quitting (closed once the
 * host has answered every call), closing (irc_disconnect inside a callback:
 * closed when the dispatch returns), closed. */
enum ic_state { IC_INIT, IC_ATTACHED, IC_QUITTING, IC_CLOSING, IC_CLOSED };

/* What the host told, kept until the program's callbacks may run. */
enum ic_event_kind { IC_EV_LINE, IC_EV_CONNECT, IC_EV_DISCONNECT, IC_EV_SELF_JOIN };

struct ic_event {
	struct ic_event *next;
	enum ic_event_kind kind;
	char *a;		/* LINE: the line; CONNECT: the server; SELF_JOIN: the channel */
	char *b;		/* CONNECT: the nick; SELF_JOIN: the origin */
};

struct irc_session_s {
	irc_callbacks_t cb;
	void *ctx;
	int lasterror;
	unsigned int options;
	enum ic_state state;
	bk_conn *conn;		/* owned while attached */
	char *nick;		/* the bot's nick as last known, or NULL */
	char *ctcp_version;	/* irc_set_ctcp_version */
	bool registered;	/* the host is registered on IRC (as delivered) */
	unsigned int pending;	/* calls sent and not answered */
	int depth;		/* > 0 while the program's callbacks may run */
	struct ic_event *head, **tail;
};

/* Set the session's error and return 1 (libircclient's failure). */
int ic_fail(irc_session_t *s, int err);
/* Append an event (takes a and b, which may be NULL); false without memory. */
bool ic_queue(irc_session_t *s, enum ic_event_kind kind, char *a, char *b);
/* Free every queued event. */
void ic_queue_clear(irc_session_t *s);
/* Run the program's callbacks for the queued events, in order. */
void ic_deliver(irc_session_t *s);
/* Dispatch one IRC line as libircclient 1.9 would (dispatch.c). */
void ic_dispatch_line(irc_session_t *s, const char *line);
/* Whether two nicks or channels are equal, ignoring ASCII case. */
bool ic_name_eq(const char *a, const char *b);
/* Call irc.method(args) without waiting (takes args); 0 or 1 with the error. */
int ic_call(irc_session_t *s, const char *method, cJSON *args);
/* 1 with LIBIRC_ERR_STATE unless the session is attached. */
int ic_check_attached(irc_session_t *s);

#endif
