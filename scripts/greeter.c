/* SPDX-License-Identifier: ISC */
/* greeter: welcomes people who join a channel, and answers their first words
 * ("welcome to #bots, alice!" ... "alice: nice to meet you!") unless someone
 * else in the channel speaks first.
 *
 * The pattern: registrations that come and go. The join handler lasts as
 * long as the program; each newcomer gets a one-shot registration
 * (bk_irc_once) for the next message, owned through a slot. The program
 * stops listening for a newcomer when a condition is met:
 * - the first message in their channel arrived (theirs or someone else's):
 *   nothing to do, a once registration ends by itself after its event;
 * - a message elsewhere (another channel, a private message): register once
 *   again for the next message;
 * - they left (part, quit, kick), or an hour has passed (checked at the
 *   next join): drop the slot (bk_slot_unref), which removes the
 *   registration on the host.
 * Each newcomer is freed by the destroy function given with it, which runs
 * once the host no longer holds the handler: never while it is in use.
 *
 *   [resident greeter]
 *   exec = /usr/local/libexec/bothost/greeter
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <botkit-irc.h>

#define WAIT_MAX 100			/* newcomers waited for at once */
#define WAIT_SECONDS 3600		/* how long their first words are waited for */

enum newcomer_state {
	NEWCOMER_WAITING,		/* a once("message") registration is active */
	NEWCOMER_DONE,			/* answered or given up; freed when the host lets go */
};

struct greeter;

/* Someone who joined and has not spoken yet. */
struct newcomer {
	struct greeter *g;
	enum newcomer_state state;
	char *nick, *channel;
	time_t joined;
	bk_slot *slot;			/* the once("message") registration */
	struct newcomer *next;
};

struct greeter {
	bk_conn *conn;
	struct newcomer *newcomers;
	unsigned waiting;		/* newcomers in NEWCOMER_WAITING */
};

static void greeter_first_words_cb(bk_conn *c, const bk_irc_event *ev, void *userdata);

/* The destroy function of a newcomer's handler: the host holds it no more. */
static void newcomer_destroy(void *userdata)
{
	struct newcomer *n = userdata;
	struct newcomer **pp = &n->g->newcomers;

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp)
		*pp = n->next;
	if (n->state == NEWCOMER_WAITING)
		n->g->waiting--;
	bk_slot_unref(n->slot);
	free(n->nick);
	free(n->channel);
	free(n);
}

/* Stop waiting for a newcomer's first words. */
static void newcomer_done(struct newcomer *n)
{
	if (n->state == NEWCOMER_WAITING)
		n->g->waiting--;
	n->state = NEWCOMER_DONE;
}

/* Stop listening for a newcomer: dropping the slot removes the registration
 * (an `off` is sent), and the host's release then runs newcomer_destroy. */
static void newcomer_cancel(struct newcomer *n)
{
	newcomer_done(n);
	n->slot = bk_slot_unref(n->slot);
}

/* Register for the next message on the newcomer's behalf. */
static int newcomer_wait(struct newcomer *n)
{
	int r;

	n->slot = bk_slot_unref(n->slot);	/* the last one has ended */
	r = bk_irc_once(n->g->conn, "message", greeter_first_words_cb, n, newcomer_destroy, &n->slot);
	if (r < 0) {
		fprintf(stderr, "greeter: cannot wait for %s: %s\n", n->nick, strerror(-r));
		newcomer_done(n);
	} else {
		printf("greeter: waiting for the first words of %s in %s\n", n->nick, n->channel);
		fflush(stdout);
	}
	return r;
}

/* The newcomer waited for as nick in channel (any channel when NULL), or NULL. */
static struct newcomer *greeter_find(struct greeter *g, const char *nick, const char *channel)
{
	for (struct newcomer *n = g->newcomers; n; n = n->next)
		if (n->state == NEWCOMER_WAITING && strcasecmp(n->nick, nick) == 0 &&
		    (!channel || strcasecmp(n->channel, channel) == 0))
			return n;
	return NULL;
}

/* Give up on newcomers silent for longer than WAIT_SECONDS. */
static void greeter_expire(struct greeter *g)
{
	time_t now = time(NULL);

	for (struct newcomer *n = g->newcomers; n; n = n->next)
		if (n->state == NEWCOMER_WAITING && now - n->joined > WAIT_SECONDS)
			newcomer_cancel(n);
}

/* The first message after a join (the once registration has ended by now).
 * In the newcomer's channel: their own words get an answer, and when someone
 * else spoke first the people there have it in hand and the bot keeps quiet.
 * Anywhere else: wait for the next message. */
static void greeter_first_words_cb(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct newcomer *n = userdata;
	const char *nick = bk_irc_event_nick(ev), *channel = bk_irc_event_channel(ev);

	if (n->state != NEWCOMER_WAITING)
		return;		/* cancelled while this message was on its way */
	if (!channel || strcasecmp(channel, n->channel) != 0) {
		/* Registering the same (handler, userdata) again sends the host the
		 * same function before it is released: newcomer_destroy does not run. */
		newcomer_wait(n);
		return;
	}
	if (nick && strcasecmp(nick, n->nick) == 0)
		bk_irc_event_replyf(ev, "%s: nice to meet you!", n->nick);
	newcomer_done(n);
}

/* Someone joined: greet them and wait for their first words. */
static void greeter_join_cb(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct greeter *g = userdata;
	const char *nick = bk_irc_event_nick(ev), *channel = bk_irc_event_channel(ev);
	struct newcomer *n;
	char text[256];

	if (bk_irc_event_is_self(ev) || !nick || !channel)
		return;
	greeter_expire(g);
	snprintf(text, sizeof text, "welcome to %s, %s!", channel, nick);
	bk_irc_say_async(c, channel, text, NULL, NULL);
	if (g->waiting >= WAIT_MAX || greeter_find(g, nick, channel) || !(n = calloc(1, sizeof *n)))
		return;
	*n = (struct newcomer){ .g = g, .state = NEWCOMER_WAITING, .nick = strdup(nick),
				.channel = strdup(channel), .joined = time(NULL), .next = g->newcomers };
	g->newcomers = n;
	g->waiting++;
	if (!n->nick || !n->channel)
		newcomer_done(n);
	else
		newcomer_wait(n);
}

/* Someone left (part, kick: one channel; quit: all): stop waiting for them. */
static void greeter_left_cb(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct greeter *g = userdata;
	const char *name = bk_irc_event_name(ev), *channel = bk_irc_event_channel(ev);
	const char *nick = strcmp(name, "kick") == 0 ? bk_irc_event_string(ev, "nick") : bk_irc_event_nick(ev);
	struct newcomer *n;

	while (nick && (n = greeter_find(g, nick, channel)))
		newcomer_cancel(n);
}

/* Free what the host never held (a wait that could not be registered). */
static void greeter_free_newcomers(struct greeter *g)
{
	while (g->newcomers)
		newcomer_destroy(g->newcomers);
}

/* Register for joins and departures, and serve until the host goes away. */
int main(void)
{
	static const char *const left[] = { "part", "quit", "kick", NULL };
	struct greeter g = { 0 };
	int r;

	if ((r = bk_conn_new(&g.conn, "greeter")) < 0) {
		fprintf(stderr, "greeter: cannot connect to bothost: %s\n", strerror(-r));
		return 1;
	}
	r = bk_irc_on_join(g.conn, greeter_join_cb, &g, NULL, NULL);
	for (const char *const *e = left; *e && r == 0; e++)
		r = bk_irc_on(g.conn, *e, greeter_left_cb, &g, NULL, NULL);
	if (r == 0) {
		printf("greeter: watching joins\n");
		fflush(stdout);
		r = bk_run(g.conn);	/* returns only when the host goes away */
	}
	fprintf(stderr, "greeter: %s\n", r < 0 ? strerror(-r) : "stopped");
	/* Closing runs the destroy function of every handler the host held. */
	bk_conn_unref(g.conn);
	greeter_free_newcomers(&g);
	return r < 0 ? 1 : 0;
}
