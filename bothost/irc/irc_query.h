/* SPDX-License-Identifier: ISC */
/* Requests whose answer comes back from the server as lines: join (the JOIN
 * echo, or a refusal numeric), nick (the NICK echo, or 432/433/436/437),
 * whois (311 312 313 317 319 330 301 ... 318, or 401/402), names
 * (353 ... 366) and topic (332 333, or 331; 403/442).
 *
 * And actions the server may refuse (mode, kick, topic set, invite, part):
 * each is sent with a PING whose token irc_query_token names. The server
 * answers lines in order, so its refusal (482, 442, 441, 401, ...) comes
 * before that PONG; the echo of the command (or 341 for INVITE), the PONG
 * or, with a silent server, the end of the wait (refusal_wait) answers null.
 *
 * Each waits with a deadline and is answered exactly once: to a call
 * (call_return / call_fail), or to a function given with kind `once`
 * (fn(err, result), then released). Answers are matched by the casemapped
 * channel or nick they are about, oldest request first, so two requests for
 * the same name are answered in the order the server answers them. */
#ifndef BOTHOST_IRC_QUERY_H
#define BOTHOST_IRC_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct irc_query;
struct irc_state;
struct irc_line;
struct call;
struct client;
struct fn;

enum irc_query_kind {
	IRC_QUERY_JOIN,
	IRC_QUERY_NICK,
	IRC_QUERY_WHOIS,
	IRC_QUERY_NAMES,
	IRC_QUERY_TOPIC,
	/* actions */
	IRC_QUERY_MODE,
	IRC_QUERY_KICK,
	IRC_QUERY_TOPIC_SET,
	IRC_QUERY_INVITE,
	IRC_QUERY_PART,
};

/* The irc object's error names (PROTOCOL.md, "The irc object"). */
#define ERR_IRC			"IrcError"
#define ERR_NOT_CONNECTED	"NotConnected"
/* The server refused a command the bot sent (data: numeric, text, target,
 * command). */
#define ERR_SERVER_REFUSED	"ServerRefused"

/* How long the server has to answer once the request is written. */
#define IRC_QUERY_ANSWER_MS 30000

/* Queries about the connection whose state is st (borrowed: names are
 * compared under its casemapping, its nick is the bot's). NULL on failure. */
struct irc_query *irc_query_new(const struct irc_state *st);
/* Answer every query with NotConnected, then free. NULL is allowed. */
struct irc_query *irc_query_free(struct irc_query *q);

/* Wait for the answer about key for call (answered later) or fn (a new
 * reference is taken; called later as fn(err, result)); timeout_ms counts
 * until irc_query_sent reports the request written. Returns the query's id
 * (never 0), or 0 on allocation failure (nothing is kept then). */
uint64_t irc_query_add(struct irc_query *q, enum irc_query_kind kind, const char *key, struct call *call,
		       struct fn *fn, unsigned timeout_ms);
/* Wait for the server's refusal of an action (kind IRC_QUERY_MODE and
 * after) about key (the channel, or the MODE target) and key2 (the nick of
 * KICK and INVITE, the arguments of MODE separated by spaces; may be NULL)
 * for call: no deadline until irc_query_sent reports it written (the send
 * queue's completion is the deadline), then wait_ms. Returns the id (never
 * 0), or 0 on allocation failure. */
uint64_t irc_query_add_action(struct irc_query *q, enum irc_query_kind kind, const char *key, const char *key2,
			      struct call *call, unsigned wait_ms);
/* The PING token of action id into buf (n >= IRC_QUERY_TOKEN_MAX). */
#define IRC_QUERY_TOKEN_MAX 32
void irc_query_token(uint64_t id, char *buf, size_t n);
/* Forget query id without answering it (its starter answers the call). */
void irc_query_cancel(struct irc_query *q, uint64_t id);
/* A userdata for irc_query_sent_cb about query id (NULL on allocation
 * failure). */
void *irc_query_ticket(struct irc_query *q, uint64_t id);
/* An irc_send completion for a ticket: err 0 starts the answer deadline,
 * another fails the query with NotConnected (or Failed). */
void irc_query_sent_cb(int err, void *userdata);
/* A line from the server (before the state applies it). */
void irc_query_line(struct irc_query *q, const struct irc_line *l);
/* The connection ended: joins keep waiting for the next one (up to wait_ms),
 * and so do actions not yet written (the send queue holds them); the others
 * fail with NotConnected. */
void irc_query_lost(struct irc_query *q, unsigned wait_ms);
/* c went away: its waiting calls and functions are dropped (the queries
 * stay, answered to nobody, so later answers still match the right one). */
void irc_query_client_lost(struct irc_query *q, struct client *c);
/* Whether a join of channel is waiting. */
bool irc_query_joining(const struct irc_query *q, const char *channel);
/* Whether a nick change to nick is waiting. */
bool irc_query_nicking(const struct irc_query *q, const char *nick);

#endif
