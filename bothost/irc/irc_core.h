/* SPDX-License-Identifier: ISC */
/* The irc object's own state, shared by its modules (irc.c: lifecycle and
 * the link; irc_events.c: lines to events; irc_methods.c: the methods;
 * irc_out.c: building and queueing commands; irc_presence.c: channels to be
 * in and the nick to have). Nothing outside bothost/irc/irc*.c includes this. */
#ifndef BOTHOST_IRC_CORE_H
#define BOTHOST_IRC_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "irc_conf.h"
#include "core/list.h"
#include "outq.h"

struct object;
struct emitter;
struct link;
struct irc_line;
struct irc_state;
struct irc_send;
struct irc_query;

/* Commands remembered for naming the cause of a refusal. */
#define IRC_SENT_RECS 16

struct irc {
	struct server *server;		/* serves the object, counts its functions */
	struct conf_irc cfg;		/* the link reads it; cfg.nick is the nick wanted now */
	char *conf_nick;		/* the nick as configured */
	struct object *obj;
	struct emitter *em;
	struct link *link;
	struct irc_state *state;
	struct irc_send *send;
	struct irc_query *query;
	bool registered;

	/* irc_presence.c */
	struct list wanted;		/* struct irc_want: channels to be in */
	ev_timer join_timer;		/* retries joins that failed */
	ev_timer regain_timer;		/* asks for the wanted nick again */

	/* irc_events.c: the reply functions handed out (struct irc_reply), which
	 * clients may hold after the object is gone */
	struct list replies;
	/* irc_events.c: the CTCP replies bothost sends itself, a token bucket */
	double ctcp_tokens;
	uint64_t ctcp_at;
	/* irc_events.c: the last commands sent to a target (a ring), so that a
	 * refusal (401, 404, 482, ...) can name the command it answers */
	struct irc_sent_rec {
		char command[16];
		char target[256];
		uint64_t at;	/* monotonic ms; 0: empty */
	} sent[IRC_SENT_RECS];
	unsigned sent_next;
};

#endif
