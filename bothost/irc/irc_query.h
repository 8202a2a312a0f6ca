/* Requests whose answer comes back from the server as lines: join (the JOIN
 * echo, or a refusal numeric), nick (the NICK echo, or 432/433/436/437),
 * whois (311 312 313 317 319 330 301 ... 318, or 401/402), names
 * (353 ... 366) and topic (332 333, or 331; 403/442).
 *
 * Each waits with a deadline and is answered exactly once: to a call
 * (call_return / call_fail), or to a function given with kind `once`
 * (fn(err, result), then released). Answers are matched by the casemapped
 * channel or nick they are about, oldest request first, so two requests for
 * the same name are answered in the order the server answers them. */
#ifndef BOTHOST_IRC_QUERY_H
#define BOTHOST_IRC_QUERY_H

#include <stdbool.h>
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
};

/* The irc object's error names (PROTOCOL.md, "The irc object"). */
#define ERR_IRC			"IrcError"
#define ERR_NOT_CONNECTED	"NotConnected"

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
 * the others fail with NotConnected. */
void irc_query_lost(struct irc_query *q, unsigned wait_ms);
/* c went away: its waiting calls and functions are dropped (the queries
 * stay, answered to nobody, so later answers still match the right one). */
void irc_query_client_lost(struct irc_query *q, struct client *c);
/* Whether a join of channel is waiting. */
bool irc_query_joining(const struct irc_query *q, const char *channel);
/* Whether a nick change to nick is waiting. */
bool irc_query_nicking(const struct irc_query *q, const char *nick);

#endif
