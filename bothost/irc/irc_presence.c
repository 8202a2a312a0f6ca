/* SPDX-License-Identifier: ISC */
/* Channels to be in and the nick to have. */
#include "config.h"

#include "irc_presence.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "irc_conf.h"
#include "irc_core.h"
#include "core/clock.h"
#include "irc_line.h"
#include "irc_out.h"
#include "irc_query.h"
#include "irc_state.h"
#include "link.h"
#include "core/list.h"
#include "core/log.h"

/* A channel the bot wants to be in. */
struct irc_want {
	struct list link;	/* in irc->wanted */
	struct irc *irc;
	char *name;
	char *key;		/* NULL: none */
	bool configured;
	bool parked;		/* kicked and not to rejoin before the next connection */
	uint64_t last_try;	/* when JOIN was last sent (monotonic ms), 0: not on this connection */
	ev_timer rejoin;	/* after a kick */
};

static void irc_presence_join_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void irc_presence_regain_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* The wanted entry for channel, or NULL. */
static struct irc_want *irc_presence_find(struct irc *irc, const char *channel)
{
	for (struct list *l = irc->wanted.next; channel && l != &irc->wanted; l = l->next) {
		struct irc_want *w = list_entry(l, struct irc_want, link);
		if (irc_state_same(irc->state, w->name, channel))
			return w;
	}
	return NULL;
}

/* Free an entry. */
static void irc_presence_free(struct irc_want *w)
{
	ev_timer_stop(EV_DEFAULT, &w->rejoin);
	list_remove(&w->link);
	free(w->name);
	free(w->key);
	free(w);
}

/* Send JOIN for w. */
static int irc_presence_send_join(struct irc_want *w, irc_send_done_fn done, void *userdata)
{
	const char *params[] = { w->name, w->key };
	int r = irc_out_command(w->irc, OUTQ_CONTROL, done, userdata, "JOIN", params, w->key ? 2 : 1);

	if (r == 0)
		w->last_try = clock_now_ms();
	else
		log_warn("irc: cannot send JOIN %s: %s", w->name, strerror(-r));
	return r;
}

/* A kicked channel's delay is over. */
static void irc_presence_rejoin_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct irc_want *w = t->data;

	if (w->irc->registered && !irc_state_in_channel(w->irc->state, w->name))
		irc_presence_send_join(w, NULL, NULL);
}

/* Set up. */
int irc_presence_init(struct irc *irc)
{
	list_init(&irc->wanted);
	ev_timer_init(&irc->join_timer, irc_presence_join_cb, 0., 0.);
	irc->join_timer.data = irc;
	ev_timer_init(&irc->regain_timer, irc_presence_regain_cb, 0., 0.);
	irc->regain_timer.data = irc;
	for (size_t i = 0; i < irc->cfg.n_channels; i++)
		if (irc_presence_want(irc, irc->cfg.channels[i].name, irc->cfg.channels[i].key, true) < 0)
			return -ENOMEM;
	return 0;
}

/* Forget everything. */
void irc_presence_clear(struct irc *irc)
{
	ev_timer_stop(EV_DEFAULT, &irc->join_timer);
	ev_timer_stop(EV_DEFAULT, &irc->regain_timer);
	while (!list_empty(&irc->wanted))
		irc_presence_free(list_entry(irc->wanted.next, struct irc_want, link));
}

/* Want channel. */
int irc_presence_want(struct irc *irc, const char *channel, const char *key, bool configured)
{
	struct irc_want *w = irc_presence_find(irc, channel);
	char *k = key ? strdup(key) : NULL;

	if (key && !k)
		return -ENOMEM;
	if (w) {
		free(w->key);
		w->key = k;
		w->configured = w->configured || configured;
		w->parked = false;
		return 0;
	}
	w = calloc(1, sizeof *w);
	if (!w || !(w->name = strdup(channel))) {
		free(w);
		free(k);
		return -ENOMEM;
	}
	w->irc = irc;
	w->key = k;
	w->configured = configured;
	ev_timer_init(&w->rejoin, irc_presence_rejoin_cb, 0., 0.);
	w->rejoin.data = w;
	list_add_tail(&irc->wanted, &w->link);
	return 0;
}

/* Whether channel is wanted. */
bool irc_presence_wanted(struct irc *irc, const char *channel)
{
	return irc_presence_find(irc, channel) != NULL;
}

/* Stop wanting channel. */
void irc_presence_unwant(struct irc *irc, const char *channel)
{
	struct irc_want *w = irc_presence_find(irc, channel);

	if (w)
		irc_presence_free(w);
}

/* JOIN a wanted channel now. */
int irc_presence_join(struct irc *irc, const char *channel, irc_send_done_fn done, void *userdata)
{
	struct irc_want *w = irc_presence_find(irc, channel);

	return w ? irc_presence_send_join(w, done, userdata) : -ENOENT;
}

/* Ask for the wanted nick when the bot has another one. */
void irc_presence_regain(struct irc *irc)
{
	const char *params[] = { irc->cfg.nick };

	if (!irc->registered || !irc->cfg.nick || irc_state_is_me(irc->state, irc->cfg.nick))
		return;
	if (irc_out_command(irc, OUTQ_CONTROL, NULL, NULL, "NICK", params, 1) == 0)
		log_debug("irc: asking for the nick %s again", irc->cfg.nick);
}

/* Retry the joins that failed. */
static void irc_presence_join_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct irc *irc = t->data;
	uint64_t now = clock_now_ms();

	for (struct list *l = irc->wanted.next; l != &irc->wanted; l = l->next) {
		struct irc_want *w = list_entry(l, struct irc_want, link);
		if (w->parked || ev_is_active(&w->rejoin) || irc_state_in_channel(irc->state, w->name) ||
		    now - w->last_try < irc->cfg.join_retry_ms)
			continue;
		irc_presence_send_join(w, NULL, NULL);
	}
}

/* Time to ask for the wanted nick again. */
static void irc_presence_regain_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	irc_presence_regain(t->data);
}

/* Restart the timers. */
void irc_presence_retime(struct irc *irc)
{
	ev_timer_stop(EV_DEFAULT, &irc->join_timer);
	ev_timer_stop(EV_DEFAULT, &irc->regain_timer);
	if (!irc->registered)
		return;
	if (irc->cfg.join_retry_ms) {
		double s = irc->cfg.join_retry_ms / 1000.0;
		ev_timer_set(&irc->join_timer, s, s);
		ev_timer_start(EV_DEFAULT, &irc->join_timer);
	}
	if (irc->cfg.regain_nick_ms) {
		double s = irc->cfg.regain_nick_ms / 1000.0;
		ev_timer_set(&irc->regain_timer, s, s);
		ev_timer_start(EV_DEFAULT, &irc->regain_timer);
	}
}

/* Registered: join all, ask for the nick. */
void irc_presence_registered(struct irc *irc)
{
	for (struct list *l = irc->wanted.next; l != &irc->wanted; l = l->next) {
		struct irc_want *w = list_entry(l, struct irc_want, link);
		w->parked = false;
		irc_presence_send_join(w, NULL, NULL);
	}
	irc_presence_retime(irc);
	irc_presence_regain(irc);
}

/* Disconnected. */
void irc_presence_lost(struct irc *irc)
{
	ev_timer_stop(EV_DEFAULT, &irc->join_timer);
	ev_timer_stop(EV_DEFAULT, &irc->regain_timer);
	for (struct list *l = irc->wanted.next; l != &irc->wanted; l = l->next) {
		struct irc_want *w = list_entry(l, struct irc_want, link);
		ev_timer_stop(EV_DEFAULT, &w->rejoin);
		w->last_try = 0;
	}
}

/* The bot was kicked from channel. */
static void irc_presence_kicked(struct irc *irc, const char *channel, const char *reason)
{
	struct irc_want *w = irc_presence_find(irc, channel);

	if (!w)
		return;
	if (irc->cfg.rejoin_on_kick) {
		log_info("irc: kicked from %s (%s); rejoining in %u ms", channel, reason ? reason : "",
			 irc->cfg.rejoin_delay_ms);
		ev_timer_stop(EV_DEFAULT, &w->rejoin);
		ev_timer_set(&w->rejoin, irc->cfg.rejoin_delay_ms / 1000.0, 0.);
		ev_timer_start(EV_DEFAULT, &w->rejoin);
	} else if (w->configured) {
		log_info("irc: kicked from %s; back after the next connection", channel);
		w->parked = true;
	} else {
		log_info("irc: kicked from %s", channel);
		irc_presence_free(w);
	}
}

/* A join was refused: a join asked through `join` is forgotten, others retried. */
static void irc_presence_refused(struct irc *irc, const struct irc_line *l)
{
	const char *channel = irc_line_param(l, 1);
	struct irc_want *w = irc_presence_find(irc, channel);

	if (!w)
		return;
	if (!w->configured && irc_query_joining(irc->query, channel)) {
		irc_presence_free(w);
		return;
	}
	log_warn("irc: cannot join %s: %s (%d); retrying every %u ms", w->name, irc_line_last_param(l),
		 irc_line_numeric(l), irc->cfg.join_retry_ms);
}

/* Someone else's NICK or QUIT may free the wanted nick; the bot's own NICK
 * confirms a `nick` call, which makes that nick the wanted one. */
static void irc_presence_nick_line(struct irc *irc, const struct irc_line *l, bool quit)
{
	const char *nick = irc_line_nick(l), *next = irc_line_param(l, 0);

	if (!quit && next && irc_state_is_me(irc->state, nick)) {
		if (!irc_query_nicking(irc->query, next))
			return;
		if (irc_conf_set_nick(&irc->cfg, next) < 0)
			log_warn("irc: out of memory: the nick %s is not kept for reconnects", next);
		else
			link_set_config(irc->link, &irc->cfg);
		return;
	}
	if (irc_state_same(irc->state, nick, irc->cfg.nick) && !irc_state_is_me(irc->state, irc->cfg.nick))
		irc_presence_regain(irc);
}

/* Follow what the line says about channels and nicks. */
void irc_presence_line(struct irc *irc, const struct irc_line *l)
{
	const char *cmd = irc_line_command(l);

	switch (irc_line_numeric(l)) {
	case 403: case 405: case 471: case 473: case 474: case 475: case 476: case 477: case 489:
		irc_presence_refused(irc, l);
		return;
	case -1:
		break;
	default:
		return;
	}
	if (strcmp(cmd, "PART") == 0 && irc_state_is_me(irc->state, irc_line_nick(l)))
		irc_presence_unwant(irc, irc_line_param(l, 0));
	else if (strcmp(cmd, "KICK") == 0 && irc_state_is_me(irc->state, irc_line_param(l, 1)))
		irc_presence_kicked(irc, irc_line_param(l, 0), irc_line_param(l, 2));
	else if (strcmp(cmd, "NICK") == 0 || strcmp(cmd, "QUIT") == 0)
		irc_presence_nick_line(irc, l, cmd[0] == 'Q');
}

/* Part what the new configuration drops, join what it adds. */
int irc_presence_reconfigure(struct irc *irc, const struct conf_irc *next)
{
	for (struct list *l = irc->wanted.next, *n; l != &irc->wanted; l = n) {
		struct irc_want *w = list_entry(l, struct irc_want, link);
		const char *params[] = { w->name };
		n = l->next;
		if (!w->configured || irc_conf_has_channel(next, w->name))
			continue;
		if (irc->registered && irc_state_in_channel(irc->state, w->name))
			irc_out_command(irc, OUTQ_CONTROL, NULL, NULL, "PART", params, 1);
		irc_presence_free(w);
	}
	for (size_t i = 0; i < next->n_channels; i++) {
		const struct conf_channel *c = &next->channels[i];
		if (irc_presence_want(irc, c->name, c->key, true) < 0)
			return -ENOMEM;
		if (irc->registered && !irc_state_in_channel(irc->state, c->name))
			irc_presence_join(irc, c->name, NULL, NULL);
	}
	return 0;
}
