/* SPDX-License-Identifier: ISC */
/* The `irc` object: its lifecycle, and the link's lines routed to the state,
 * the pending queries, the presence rules and the events. */
#include "config.h"

#include "irc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "irc_conf.h"
#include "irc_core.h"
#include "irc_events.h"
#include "irc_line.h"
#include "irc_methods.h"
#include "irc_presence.h"
#include "irc_query.h"
#include "irc_send.h"
#include "irc_state.h"
#include "link.h"
#include "core/clock.h"
#include "core/emitter.h"
#include "core/log.h"
#include "core/object.h"
#include "core/server.h"

/* The object is registered once; irc_reconfigure(), irc_get_casemapping() and
 * irc_stop() (the daemon's and the behaviours' entry points) find it here. */
static struct irc *irc_instance;



/* ---- the link's callbacks ------------------------------------------------------ */

/* Registered with the server. */
static void irc_link_registered_cb(struct link *l, const char *nick, void *userdata)
{
	struct irc *irc = userdata;

	irc->registered = true;
	if (irc_state_set_nick(irc->state, nick) < 0)
		log_warn("irc: out of memory: own nick unknown");
	irc_send_start(irc->send);
	irc_events_connect(irc);
	irc_presence_registered(irc);
}

/* The capabilities in force that decide which account information a line
 * is believed about (they may change at any time with cap-notify). */
static unsigned irc_link_caps(const struct link *l)
{
	return (link_has_cap(l, "account-tag") ? IRC_STATE_CAP_ACCOUNT_TAG : 0) |
	       (link_has_cap(l, "extended-join") ? IRC_STATE_CAP_EXTENDED_JOIN : 0) |
	       (link_has_cap(l, "account-notify") ? IRC_STATE_CAP_ACCOUNT_NOTIFY : 0);
}

/* A line from the server. */
static void irc_link_line_cb(struct link *l, const struct irc_line *msg, const char *untagged, void *userdata)
{
	struct irc *irc = userdata;

	irc_state_set_caps(irc->state, irc_link_caps(l));
	/* The presence rules and the queries look at the state before the line. */
	irc_presence_line(irc, msg);
	irc_query_line(irc->query, msg);
	irc_events_dispatch(irc, msg);
	irc_events_refused(irc, msg);
	if (irc_state_update(irc->state, msg) < 0)
		log_warn("irc: out of memory: the channel state may be incomplete");
}

/* Every line from the server, CAP and AUTHENTICATE included: `line`. */
static void irc_link_heard_cb(struct link *l, const char *untagged, void *userdata)
{
	irc_events_line(userdata, untagged, "in");
}

/* A line was written to the server (PASS shows without the password). */
static void irc_link_sent_cb(struct link *l, const char *line, void *userdata)
{
	irc_events_line(userdata, line, "out");
	irc_events_sent(userdata, line);
}

/* The connection ended. */
static void irc_link_lost_cb(struct link *l, const char *reason, void *userdata)
{
	struct irc *irc = userdata;
	bool was = irc->registered;

	/* The link logged the loss (once, as a warning). */
	irc->registered = false;
	irc_send_stop(irc->send);
	irc_presence_lost(irc);
	irc_query_lost(irc->query, irc->cfg.queue_max_age_ms);
	irc_state_reset(irc->state);
	if (was)
		irc_events_disconnect(irc, reason);
}

static const struct link_callbacks irc_link_callbacks = {
	.registered = irc_link_registered_cb,
	.line = irc_link_line_cb,
	.heard = irc_link_heard_cb,
	.sent = irc_link_sent_cb,
	.lost = irc_link_lost_cb,
};

/* ---- the object ------------------------------------------------------------------ */

/* Drop what a departed client waits for (lines it queued still go). */
static void irc_client_lost(struct object *obj, struct client *c)
{
	struct irc *irc = object_get_userdata(obj);

	irc_query_client_lost(irc->query, c);
}

/* Free everything; what still waits fails with NotConnected. */
static void irc_free(struct irc *irc)
{
	if (irc_instance == irc)
		irc_instance = NULL;
	irc_events_forget(irc);
	/* The link first: after link_free no completion comes from it. */
	if (irc->link)
		link_free(irc->link);
	irc_send_free(irc->send);
	irc_query_free(irc->query);
	irc_presence_clear(irc);
	irc_state_free(irc->state);
	irc_conf_clear(&irc->cfg);
	free(irc->conf_nick);
	free(irc);
}

/* The object is being freed. */
static void irc_destroy(struct object *obj)
{
	irc_free(object_get_userdata(obj));
}

/* Allocate the parts that do not depend on the object. */
static int irc_parts_new(struct irc *irc, const struct conf_irc *cfg)
{
	int r = irc_conf_copy(&irc->cfg, cfg);

	if (r < 0)
		return r;
	if (!cfg->nick || !(irc->conf_nick = strdup(cfg->nick)))
		return cfg->nick ? -ENOMEM : -EINVAL;
	irc->state = irc_state_new();
	irc->query = irc->state ? irc_query_new(irc->state) : NULL;
	irc->link = irc->query ? link_new(&irc->cfg, &irc_link_callbacks, irc) : NULL;
	irc->send = irc->link ? irc_send_new(irc->link) : NULL;
	if (!irc->send)
		return -ENOMEM;
	r = irc_send_configure(irc->send, &irc->cfg);
	if (r == 0)
		r = irc_presence_init(irc);
	irc->ctcp_tokens = cfg->ctcp_per_minute;
	irc->ctcp_at = clock_now_ms();
	return r;
}

/* Create the object around irc and register it; on failure irc is freed. */
static int irc_object_register(struct irc *irc)
{
	int r;

	irc->obj = object_new("irc", "the bot's IRC connection", irc_methods_table(), irc);
	if (!irc->obj) {
		irc_free(irc);
		return -ENOMEM;
	}
	object_set_destroy(irc->obj, irc_destroy);
	object_set_client_lost(irc->obj, irc_client_lost);
	if ((r = objects_add(server_objects(irc->server), irc->obj, irc_events_table())) < 0)
		return r;	/* irc freed with its object */
	irc->em = object_get_emitter(irc->obj);
	emitter_set_filters(irc->em, "irc", irc_events_filter_ops(), irc);
	return 0;
}

/* Register the object and start connecting. */
int irc_start(struct server *s, const struct conf_irc *cfg)
{
	struct irc *irc;
	int r;

	if (irc_instance)
		return -EALREADY;
	irc = calloc(1, sizeof *irc);
	if (!irc)
		return -ENOMEM;
	irc->server = s;
	list_init(&irc->wanted);
	list_init(&irc->replies);
	if ((r = irc_parts_new(irc, cfg)) < 0) {
		irc_free(irc);
		return r;
	}
	if ((r = irc_object_register(irc)) < 0)
		return r;
	irc_instance = irc;
	r = link_start(irc->link);
	if (r < 0) {
		log_error("irc: cannot start connecting: %s", strerror(-r));
		object_free(irc->obj);
	}
	return r;
}

/* Apply a new configuration to the running object. */
int irc_reconfigure(const struct conf_irc *cfg)
{
	struct irc *irc = irc_instance;
	struct conf_irc next;
	char *conf_nick;
	bool nick_changed;
	int r;

	if (!irc)
		return -ENOENT;
	if (!cfg->nick)
		return -EINVAL;
	nick_changed = strcmp(cfg->nick, irc->conf_nick) != 0;
	conf_nick = strdup(cfg->nick);
	r = conf_nick ? irc_conf_copy(&next, cfg) : -ENOMEM;
	/* The nick set through `nick` stays unless the configured one changed. */
	if (r == 0 && !nick_changed && (r = irc_conf_set_nick(&next, irc->cfg.nick)) < 0)
		irc_conf_clear(&next);
	if (r == 0 && (r = irc_send_configure(irc->send, &next)) < 0)
		irc_conf_clear(&next);
	if (r < 0) {
		free(conf_nick);
		return r;
	}
	if (irc_presence_reconfigure(irc, &next) < 0)
		log_warn("irc: out of memory: some configured channels are not joined");
	irc_conf_clear(&irc->cfg);
	irc->cfg = next;
	free(irc->conf_nick);
	irc->conf_nick = conf_nick;
	link_set_config(irc->link, &irc->cfg);
	irc_presence_retime(irc);
	if (nick_changed)
		irc_presence_regain(irc);
	return 0;
}

/* The casemapping of the server, for comparing names from outside the object. */
enum isupport_casemap irc_get_casemapping(void)
{
	return irc_instance ? irc_state_casemap(irc_instance->state) : ISUPPORT_CASEMAP_RFC1459;
}

/* Refuse a message's reply function from now on. */
int irc_reply_refuse(struct fn *reply, const char *why)
{
	return irc_instance ? irc_events_reply_refuse(irc_instance, reply, why) : -ENOTCONN;
}

/* Say text as the bot's own notice through a message's reply function. */
int irc_reply_notice(struct fn *reply, const char *text)
{
	return irc_instance ? irc_events_reply_notice(irc_instance, reply, text) : -ENOTCONN;
}

/* Say goodbye to the server and unregister the object. */
void irc_stop(const char *quit_message)
{
	struct irc *irc = irc_instance;

	if (!irc)
		return;
	link_stop(irc->link, quit_message);
	irc_send_fail_all(irc->send, -ENOTCONN);
	object_free(irc->obj);
}
