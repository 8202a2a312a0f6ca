/* SPDX-License-Identifier: ISC */
/* The typed IRC API: methods of the host's `irc` object, and its events
 * handed to handlers as bk_irc_event.
 *
 * A handler is the pair (handler, userdata). The host sees one function per
 * pair and event: an adapter, exported as (irc_adapter_cb, adapter), that
 * knows the event's name and turns the invoke into a bk_irc_event. The
 * adapters of one pair hang off a struct irc_pair found by (handler,
 * userdata) in the connection's irc_pairs, so registering the same pair for
 * the same event again sends the same token, and bk_irc_off() names what
 * bk_irc_on() added. The export owns its adapter: the export's destructor
 * frees it, and the pair goes with its last adapter, running the program's
 * destroy once however many events the pair was registered for. */
#include "botkit-internal.h"
#include "botkit-irc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IRC_OBJ "irc"
/* Events of the host's `bot` object that claim a command word. */
#define IRC_COMMAND_EVENT "command:"
#define IRC_COMMAND_WORD_MAX 32

struct irc_adapter;

/* One (handler, userdata) pair of this program. */
struct irc_pair {
	bk_conn *conn;
	bk_irc_handler handler;
	void *userdata;
	void (*destroy)(void *);
	struct irc_adapter *adapters;	/* one per event, never empty */
};

/* The function the host holds for a pair, an event and a filter: event[]
 * is the event's name, then a NUL and the filter as JSON text ("": none). */
struct irc_adapter {
	struct irc_pair *pair;
	struct irc_adapter *next;
	char event[];
};

struct bk_irc_event {
	const char *name;
	const cJSON *obj;	/* the event object: the invoke's first argument */
};

/* A registration made by a blocking function, until the host answers. */
struct irc_wait {
	bool done;
	int r;
	bk_error *error;
};

/* Up to three string arguments, trailing optional ones left out. */
struct irc_strings {
	const char *v[3];
	const char *sig;
};

/* ---- methods ------------------------------------------------------------ */

/* Fill s with a, b, d: the first `required` must not be NULL; trailing NULL
 * ones after them are left out. */
static int irc_strings_make(struct irc_strings *s, unsigned required, const char *a,
			    const char *b, const char *d)
{
	static const char *const sigs[] = { "", "s", "ss", "sss" };
	unsigned n = 3;

	*s = (struct irc_strings){ { a, b, d }, NULL };
	for (unsigned i = 0; i < required; i++)
		if (!s->v[i])
			return -EINVAL;
	while (n > required && !s->v[n - 1])
		n--;
	s->sig = sigs[n];
	return 0;
}

/* Call irc.method with string arguments and wait; hands out the result. */
static int irc_call(bk_conn *c, const char *method, cJSON **ret_result, unsigned required,
		    const char *a, const char *b, const char *d)
{
	struct irc_strings s;
	int r = irc_strings_make(&s, required, a, b, d);

	if (r < 0)
		return r;
	return bk_call_sync(c, IRC_OBJ, method, ret_result, s.sig, s.v[0], s.v[1], s.v[2]);
}

/* Call irc.method with string arguments asynchronously. */
static int irc_call_async(bk_conn *c, const char *method, bk_reply_fn reply, void *userdata,
			  unsigned required, const char *a, const char *b)
{
	struct irc_strings s;
	int r = irc_strings_make(&s, required, a, b, NULL);

	if (r < 0)
		return r;
	return bk_call(c, IRC_OBJ, method, reply, userdata, s.sig, s.v[0], s.v[1]);
}

/* Hand out a query's result when it has the expected type: -EPROTO if not. */
static int irc_result(int r, cJSON *result, cJSON_bool (*is_type)(const cJSON *), cJSON **ret)
{
	if (r < 0)
		return r;
	if (!is_type(result)) {
		bk_json_delete(result);
		return -EPROTO;
	}
	if (ret)
		*ret = result;
	else
		bk_json_delete(result);
	return 0;
}

/* Format into a new string, or NULL when out of memory. */
static char *irc_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *irc_vformat(const char *fmt, va_list ap)
{
	char *s;

	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

/* Send text to a channel or nick (PRIVMSG). */
int bk_irc_say(bk_conn *c, const char *target, const char *text)
{
	return irc_call(c, "say", NULL, 2, target, text, NULL);
}

/* Send a NOTICE. */
int bk_irc_notice(bk_conn *c, const char *target, const char *text)
{
	return irc_call(c, "notice", NULL, 2, target, text, NULL);
}

/* Send a CTCP ACTION (`/me`). */
int bk_irc_action(bk_conn *c, const char *target, const char *text)
{
	return irc_call(c, "action", NULL, 2, target, text, NULL);
}

/* Send formatted text (PRIVMSG). */
int bk_irc_sayf(bk_conn *c, const char *target, const char *fmt, ...)
{
	va_list ap;

	if (!fmt)
		return -EINVAL;
	va_start(ap, fmt);
	char *text = irc_vformat(fmt, ap);
	va_end(ap);
	if (!text)
		return -ENOMEM;
	int r = bk_irc_say(c, target, text);
	free(text);
	return r;
}

/* Send a CTCP request. */
int bk_irc_ctcp(bk_conn *c, const char *target, const char *command, const char *args)
{
	return irc_call(c, "ctcp", NULL, 2, target, command, args);
}

/* Send a CTCP reply. */
int bk_irc_ctcp_reply(bk_conn *c, const char *target, const char *command, const char *args)
{
	return irc_call(c, "ctcpReply", NULL, 2, target, command, args);
}

/* Join a channel, waiting for the server's confirmation. */
int bk_irc_join(bk_conn *c, const char *channel, const char *key)
{
	return irc_call(c, "join", NULL, 1, channel, key, NULL);
}

/* Leave a channel. */
int bk_irc_part(bk_conn *c, const char *channel, const char *reason)
{
	return irc_call(c, "part", NULL, 1, channel, reason, NULL);
}

/* Change the bot's nick, waiting for the server's confirmation. */
int bk_irc_nick(bk_conn *c, const char *nick)
{
	return irc_call(c, "nick", NULL, 1, nick, NULL, NULL);
}

/* Set a channel's topic. */
int bk_irc_topic_set(bk_conn *c, const char *channel, const char *text)
{
	return irc_call(c, "topic", NULL, 2, channel, text, NULL);
}

/* Kick nick from channel. */
int bk_irc_kick(bk_conn *c, const char *channel, const char *nick, const char *reason)
{
	return irc_call(c, "kick", NULL, 2, channel, nick, reason);
}

/* Append a string to an array; false when out of memory. */
static bool irc_array_add(cJSON *array, const char *s)
{
	cJSON *item = cJSON_CreateString(s);

	return item && cJSON_AddItemToArray(array, item);
}

/* Call irc.mode with the mode arguments from argv (NULL-terminated) or from
 * ap (ending with NULL), and wait. */
static int irc_mode(bk_conn *c, const char *target, const char *modes, const char *const *argv,
		    va_list *ap)
{
	const char *arg;
	int r = -ENOMEM;

	if (!c || !target || !modes)
		return -EINVAL;
	cJSON *args = cJSON_CreateArray();
	if (!args || !irc_array_add(args, target) || !irc_array_add(args, modes))
		goto out;
	while ((arg = ap ? va_arg(*ap, const char *) : argv ? *argv++ : NULL))
		if (!irc_array_add(args, arg))
			goto out;
	r = bk_call_json_sync(c, IRC_OBJ, "mode", args, NULL);
out:
	cJSON_Delete(args);
	return r;
}

/* Change modes; the mode arguments end with NULL. */
int bk_irc_mode(bk_conn *c, const char *target, const char *modes, ...)
{
	va_list ap;

	va_start(ap, modes);
	int r = irc_mode(c, target, modes, NULL, &ap);
	va_end(ap);
	return r;
}

/* Change modes; the mode arguments as a NULL-terminated array. */
int bk_irc_mode_argv(bk_conn *c, const char *target, const char *modes,
		     const char *const *args)
{
	return irc_mode(c, target, modes, args, NULL);
}

/* Invite nick to channel. */
int bk_irc_invite(bk_conn *c, const char *nick, const char *channel)
{
	return irc_call(c, "invite", NULL, 2, nick, channel, NULL);
}

/* Send one raw line. */
int bk_irc_raw(bk_conn *c, const char *line)
{
	return irc_call(c, "raw", NULL, 1, line, NULL, NULL);
}

/* WHOIS a nick. */
int bk_irc_whois(bk_conn *c, const char *nick, cJSON **ret_info)
{
	cJSON *result = NULL;
	int r = irc_call(c, "whois", &result, 1, nick, NULL, NULL);

	return irc_result(r, result, cJSON_IsObject, ret_info);
}

/* NAMES of a channel. */
int bk_irc_names(bk_conn *c, const char *channel, cJSON **ret_names)
{
	cJSON *result = NULL;
	int r = irc_call(c, "names", &result, 1, channel, NULL, NULL);

	return irc_result(r, result, cJSON_IsArray, ret_names);
}

/* A channel's topic. */
int bk_irc_topic_get(bk_conn *c, const char *channel, cJSON **ret_topic)
{
	cJSON *result = NULL;
	int r = irc_call(c, "topic", &result, 1, channel, NULL, NULL);

	return irc_result(r, result, cJSON_IsObject, ret_topic);
}

/* The bot's current nick. */
int bk_irc_get_nick(bk_conn *c, char **ret_nick)
{
	cJSON *result = NULL;
	int r = irc_call(c, "getNick", &result, 0, NULL, NULL, NULL);

	if ((r = irc_result(r, result, cJSON_IsString, &result)) < 0)
		return r;
	char *nick = strdup(result->valuestring);
	bk_json_delete(result);
	if (!nick)
		return -ENOMEM;
	if (ret_nick)
		*ret_nick = nick;
	else
		free(nick);
	return 0;
}

/* The channels the bot is in. */
int bk_irc_get_channels(bk_conn *c, cJSON **ret_channels)
{
	cJSON *result = NULL;
	int r = irc_call(c, "getChannels", &result, 0, NULL, NULL, NULL);

	return irc_result(r, result, cJSON_IsArray, ret_channels);
}

/* What the host knows of a channel's members. */
int bk_irc_get_users(bk_conn *c, const char *channel, cJSON **ret_users)
{
	cJSON *result = NULL;
	int r = irc_call(c, "getUsers", &result, 1, channel, NULL, NULL);

	return irc_result(r, result, cJSON_IsArray, ret_users);
}

/* The IRC connection's state. */
int bk_irc_get_state(bk_conn *c, cJSON **ret_state)
{
	cJSON *result = NULL;
	int r = irc_call(c, "getState", &result, 0, NULL, NULL, NULL);

	return irc_result(r, result, cJSON_IsObject, ret_state);
}

/* The server's ISUPPORT tokens. */
int bk_irc_get_isupport(bk_conn *c, cJSON **ret_isupport)
{
	cJSON *result = NULL;
	int r = irc_call(c, "getIsupport", &result, 0, NULL, NULL, NULL);

	return irc_result(r, result, cJSON_IsObject, ret_isupport);
}

/* Send text asynchronously (PRIVMSG). */
int bk_irc_say_async(bk_conn *c, const char *target, const char *text, bk_reply_fn reply,
		     void *userdata)
{
	return irc_call_async(c, "say", reply, userdata, 2, target, text);
}

/* Send a NOTICE asynchronously. */
int bk_irc_notice_async(bk_conn *c, const char *target, const char *text, bk_reply_fn reply,
			void *userdata)
{
	return irc_call_async(c, "notice", reply, userdata, 2, target, text);
}

/* Send a CTCP ACTION asynchronously. */
int bk_irc_action_async(bk_conn *c, const char *target, const char *text, bk_reply_fn reply,
			void *userdata)
{
	return irc_call_async(c, "action", reply, userdata, 2, target, text);
}

/* Join a channel asynchronously. */
int bk_irc_join_async(bk_conn *c, const char *channel, const char *key, bk_reply_fn reply,
		      void *userdata)
{
	return irc_call_async(c, "join", reply, userdata, 1, channel, key);
}

/* WHOIS a nick asynchronously. */
int bk_irc_whois_async(bk_conn *c, const char *nick, bk_reply_fn reply, void *userdata)
{
	return irc_call_async(c, "whois", reply, userdata, 1, nick, NULL);
}

/* The numeric a ServerRefused or IrcError carries, or 0. */
int bk_irc_error_numeric(const bk_error *e)
{
	const char *name = bk_error_name(e);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(bk_error_data(e), "numeric");

	if (!name || (strcmp(name, "ServerRefused") != 0 && strcmp(name, "IrcError") != 0) || !cJSON_IsNumber(n) ||
	    n->valuedouble < 1 || n->valuedouble > 999)
		return 0;
	return (int)n->valuedouble;
}

/* ---- handlers ------------------------------------------------------------- */

/* The host calls an adapter: hand the event to the pair's handler. */
static void irc_adapter_cb(bk_conn *c, bk_args *args, void *userdata)
{
	struct irc_adapter *a = userdata;
	struct irc_pair *p = a->pair;
	struct bk_irc_event ev = { .name = a->event, .obj = bk_args_get(args, 0) };

	p->handler(c, &ev, p->userdata);
}

/* Free a pair that has no adapter left. */
static void irc_pair_free(struct irc_pair *p, bool run_destroy)
{
	bk_conn *c = p->conn;

	map_remove(&c->irc_pairs, (uintptr_t)p->handler, (uintptr_t)p->userdata);
	if (map_count(&c->irc_pairs) == 0)
		map_free(&c->irc_pairs);
	if (run_destroy && p->destroy)
		p->destroy(p->userdata);
	free(p);
}

/* Unlink and free an adapter; its pair goes with its last adapter. */
static void irc_adapter_free(struct irc_adapter *a, bool run_destroy)
{
	struct irc_pair *p = a->pair;
	struct irc_adapter **pp = &p->adapters;

	while (*pp != a)
		pp = &(*pp)->next;
	*pp = a->next;
	free(a);
	if (!p->adapters)
		irc_pair_free(p, run_destroy);
}

/* The export's destructor: the host no longer holds the adapter. */
static void irc_adapter_destroy_cb(void *userdata)
{
	irc_adapter_free(userdata, true);
}

/* The pair (handler, userdata), or NULL. */
static struct irc_pair *irc_pair_find(bk_conn *c, bk_irc_handler handler, void *userdata)
{
	return map_get(&c->irc_pairs, (uintptr_t)handler, (uintptr_t)userdata);
}

/* A pair's adapter for an event and a filter text ("": none), or NULL. */
static struct irc_adapter *irc_adapter_find(const struct irc_pair *p, const char *event, const char *filter)
{
	struct irc_adapter *a = p ? p->adapters : NULL;

	while (a && (strcmp(a->event, event) != 0 || strcmp(a->event + strlen(a->event) + 1, filter) != 0))
		a = a->next;
	return a;
}

/* A new pair in the connection's table, without adapters yet. */
static struct irc_pair *irc_pair_new(bk_conn *c, bk_irc_handler handler, void *userdata)
{
	struct irc_pair *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->conn = c;
	p->handler = handler;
	p->userdata = userdata;
	if (map_put(&c->irc_pairs, (uintptr_t)handler, (uintptr_t)userdata, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* Find or make the adapter of (handler, userdata) for an event; *ret_created
 * tells whether it is new (then no export holds it yet). */
static int irc_adapter_get(bk_conn *c, const char *event, const char *filter, bk_irc_handler handler,
			   void *userdata, struct irc_adapter **ret, bool *ret_created)
{
	struct irc_pair *p = irc_pair_find(c, handler, userdata);
	struct irc_adapter *a = irc_adapter_find(p, event, filter);
	size_t len = strlen(event) + 1, flen = strlen(filter) + 1;

	*ret_created = !a;
	if (a) {
		*ret = a;
		return 0;
	}
	if (!p && !(p = irc_pair_new(c, handler, userdata)))
		return -ENOMEM;
	if (!(a = malloc(sizeof *a + len + flen))) {
		if (!p->adapters)
			irc_pair_free(p, false);
		return -ENOMEM;
	}
	a->pair = p;
	a->next = p->adapters;
	p->adapters = a;
	memcpy(a->event, event, len);
	memcpy(a->event + len, filter, flen);
	*ret = a;
	return 0;
}

/* After a registration was started (r its code): an adapter no export holds
 * was never sent, so it is freed without the program's destroy, and a
 * destroy recorded for a registration that sent nothing is taken back. */
static void irc_adapter_settle(bk_conn *c, struct irc_adapter *a, bool created,
			       void (*old_destroy)(void *), int r)
{
	bool held = bki_tokens_export_find(c, irc_adapter_cb, a) != NULL;

	if (r < 0 || !held)
		a->pair->destroy = old_destroy;
	if (created && !held)
		irc_adapter_free(a, false);
}

/* Completion of a registration a blocking function waits for. */
static void irc_wait_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct irc_wait *w = userdata;

	w->done = true;
	w->r = bk_error_errno(err);
	w->error = bki_error_dup(err);
}

/* Dispatch until the registration completes; its error becomes the
 * connection's last error. Returns its code. */
static int irc_wait(bk_conn *c, struct irc_wait *w)
{
	bk_conn_ref(c);
	while (!w->done)
		bki_run_iterate(c, BK_NO_DEADLINE);
	bki_error_free(c->last_error);
	c->last_error = w->error;
	w->error = NULL;
	bk_conn_unref(c);
	return w->r;
}

/* The object whose event it is: `bot` for "command:WORD", else `irc`. */
static const char *irc_event_obj(const char *event)
{
	return strncmp(event, IRC_COMMAND_EVENT, strlen(IRC_COMMAND_EVENT)) == 0 ? "bot" : IRC_OBJ;
}

/* Register (on or once) the pair's adapter for an event with a filter
 * (NULL: none) and wait for the host. */
static int irc_register(bk_conn *c, bool once, const char *event, const cJSON *filter, bk_irc_handler handler,
			void *userdata, void (*destroy)(void *), bk_slot **ret_slot)
{
	struct irc_wait w = { 0 };
	struct irc_adapter *a;
	bk_slot *s = NULL;
	bool created;
	char *ftext = NULL;

	if (!c || !event || !handler)
		return -EINVAL;
	if (filter && !(ftext = cJSON_PrintUnformatted(filter)))
		return -ENOMEM;
	bki_call_sync_begin(c);
	int r = irc_adapter_get(c, event, ftext ? ftext : "", handler, userdata, &a, &created);
	cJSON_free(ftext);
	if (r < 0)
		return r;
	void (*old_destroy)(void *) = a->pair->destroy;
	if (!old_destroy)
		a->pair->destroy = destroy;
	r = bki_slot_register_filtered(c, once, irc_event_obj(event), event, filter, irc_adapter_cb, a,
				       irc_adapter_destroy_cb, ret_slot ? &s : NULL, irc_wait_cb, &w);
	irc_adapter_settle(c, a, created, old_destroy, r);
	if (r < 0)
		return r;
	if ((r = irc_wait(c, &w)) < 0)
		s = bk_slot_unref(s);
	if (ret_slot && r >= 0)
		*ret_slot = s;
	return r < 0 ? r : 0;
}

/* Register handler(userdata) for an IRC event. */
int bk_irc_on(bk_conn *c, const char *event, bk_irc_handler handler, void *userdata,
	      void (*destroy)(void *), bk_slot **ret_slot)
{
	return irc_register(c, false, event, NULL, handler, userdata, destroy, ret_slot);
}

/* Register handler(userdata) for the next occurrence of an IRC event. */
int bk_irc_once(bk_conn *c, const char *event, bk_irc_handler handler, void *userdata,
		void (*destroy)(void *), bk_slot **ret_slot)
{
	return irc_register(c, true, event, NULL, handler, userdata, destroy, ret_slot);
}

/* Remove the most recent registration of the pair for the event. */
int bk_irc_off(bk_conn *c, const char *event, bk_irc_handler handler, void *userdata)
{
	if (!c || !event || !handler)
		return -EINVAL;
	return bk_irc_off_filtered(c, event, NULL, handler, userdata);
}

/* The filter object of f, or NULL (with *ret_r) when it has no field set or on failure. */
static cJSON *irc_filter_json(const bk_irc_filter *f, int *ret_r)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	*ret_r = 0;
	if (ok && f->channel)
		ok = cJSON_AddStringToObject(o, "channel", f->channel) != NULL;
	if (ok && f->where != BK_IRC_ANYWHERE)
		ok = cJSON_AddBoolToObject(o, "private", f->where == BK_IRC_PRIVATE_ONLY) != NULL;
	if (ok && f->nick)
		ok = cJSON_AddStringToObject(o, "nick", f->nick) != NULL;
	if (ok && f->prefix)
		ok = cJSON_AddStringToObject(o, "prefix", f->prefix) != NULL;
	if (ok && f->command)
		ok = cJSON_AddStringToObject(o, "command", f->command) != NULL;
	if (ok && f->contains)
		ok = cJSON_AddStringToObject(o, "contains", f->contains) != NULL;
	if (ok && o->child)
		return o;
	*ret_r = ok ? 0 : -ENOMEM;
	cJSON_Delete(o);
	return NULL;
}

/* Register handler(userdata) for the occurrences of an event f takes. */
int bk_irc_on_filtered(bk_conn *c, const char *event, const bk_irc_filter *f, bk_irc_handler handler,
		       void *userdata, void (*destroy)(void *), bk_slot **ret_slot)
{
	int r = 0;
	cJSON *filter = f ? irc_filter_json(f, &r) : NULL;

	if (r < 0)
		return r;
	r = irc_register(c, false, event, filter, handler, userdata, destroy, ret_slot);
	cJSON_Delete(filter);
	return r;
}

/* Register for "message", with a filter. */
int bk_irc_on_message_filtered(bk_conn *c, const bk_irc_filter *f, bk_irc_handler h, void *userdata,
			       void (*destroy)(void *), bk_slot **ret_slot)
{
	return bk_irc_on_filtered(c, "message", f, h, userdata, destroy, ret_slot);
}

/* Remove the most recent registration of the pair for the event with filter f. */
int bk_irc_off_filtered(bk_conn *c, const char *event, const bk_irc_filter *f, bk_irc_handler handler,
			void *userdata)
{
	int r = 0;
	cJSON *filter;
	char *ftext = NULL;

	if (!c || !event || !handler)
		return -EINVAL;
	filter = f ? irc_filter_json(f, &r) : NULL;
	if (r < 0 || (filter && !(ftext = cJSON_PrintUnformatted(filter)))) {
		cJSON_Delete(filter);
		return -ENOMEM;
	}
	struct irc_adapter *a = irc_adapter_find(irc_pair_find(c, handler, userdata), event, ftext ? ftext : "");
	cJSON_free(ftext);
	cJSON_Delete(filter);
	/* The adapter is registered with this filter only: off of its function removes it. */
	if (a)
		return bk_off(c, irc_event_obj(event), event, irc_adapter_cb, a);
	/* Never registered (or already released): nothing the host could remove. */
	bki_call_sync_begin(c);
	return conn_is_open(c) ? 0 : -ENOTCONN;
}

/* Register for "connect". */
int bk_irc_on_connect(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		      bk_slot **ret_slot)
{
	return bk_irc_on(c, "connect", h, userdata, destroy, ret_slot);
}

/* Register for "disconnect". */
int bk_irc_on_disconnect(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
			 bk_slot **ret_slot)
{
	return bk_irc_on(c, "disconnect", h, userdata, destroy, ret_slot);
}

/* Register for "message". */
int bk_irc_on_message(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		      bk_slot **ret_slot)
{
	return bk_irc_on(c, "message", h, userdata, destroy, ret_slot);
}

/* Register for "action". */
int bk_irc_on_action(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		     bk_slot **ret_slot)
{
	return bk_irc_on(c, "action", h, userdata, destroy, ret_slot);
}

/* Register for "notice". */
int bk_irc_on_notice(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		     bk_slot **ret_slot)
{
	return bk_irc_on(c, "notice", h, userdata, destroy, ret_slot);
}

/* Register for "ctcp". */
int bk_irc_on_ctcp(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "ctcp", h, userdata, destroy, ret_slot);
}

/* Register for "join". */
int bk_irc_on_join(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "join", h, userdata, destroy, ret_slot);
}

/* Register for "part". */
int bk_irc_on_part(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "part", h, userdata, destroy, ret_slot);
}

/* Register for "quit". */
int bk_irc_on_quit(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "quit", h, userdata, destroy, ret_slot);
}

/* Register for "kick". */
int bk_irc_on_kick(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "kick", h, userdata, destroy, ret_slot);
}

/* Register for "nick". */
int bk_irc_on_nick(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "nick", h, userdata, destroy, ret_slot);
}

/* Register for "topic". */
int bk_irc_on_topic(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		    bk_slot **ret_slot)
{
	return bk_irc_on(c, "topic", h, userdata, destroy, ret_slot);
}

/* Register for "mode". */
int bk_irc_on_mode(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "mode", h, userdata, destroy, ret_slot);
}

/* Register for "invite". */
int bk_irc_on_invite(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		     bk_slot **ret_slot)
{
	return bk_irc_on(c, "invite", h, userdata, destroy, ret_slot);
}

/* Register for "numeric". */
int bk_irc_on_numeric(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		      bk_slot **ret_slot)
{
	return bk_irc_on(c, "numeric", h, userdata, destroy, ret_slot);
}

/* Register for "line". */
int bk_irc_on_line(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot)
{
	return bk_irc_on(c, "line", h, userdata, destroy, ret_slot);
}

/* Claim a command word: register for the bot object's "command:WORD" (the
 * word in lower case); the host's CommandTaken becomes -EEXIST. */
int bk_irc_on_command(bk_conn *c, const char *word, bk_irc_handler h, void *userdata,
		      void (*destroy)(void *), bk_slot **ret_slot)
{
	char event[sizeof IRC_COMMAND_EVENT + IRC_COMMAND_WORD_MAX];
	size_t n = word ? strlen(word) : 0, k = strlen(IRC_COMMAND_EVENT);

	if (!c || n == 0 || n > IRC_COMMAND_WORD_MAX || !h)
		return -EINVAL;
	memcpy(event, IRC_COMMAND_EVENT, k);
	for (size_t i = 0; i <= n; i++)
		event[k + i] = (char)(word[i] >= 'A' && word[i] <= 'Z' ? word[i] - 'A' + 'a' : word[i]);
	int r = bk_irc_on(c, event, h, userdata, destroy, ret_slot);
	const bk_error *e = r == -EIO ? bk_conn_last_error(c) : NULL;
	if (e && strcmp(bk_error_name(e), "CommandTaken") == 0)
		r = -EEXIST;
	return r;
}

/* ---- events ----------------------------------------------------------------- */

/* A top-level field of the event object, or NULL. */
static const cJSON *irc_event_field(const bk_irc_event *ev, const char *field)
{
	if (!ev || !field)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(ev->obj, field);
}

/* The person the event comes from: from, who or by. */
static const cJSON *irc_event_person(const bk_irc_event *ev)
{
	static const char *const fields[] = { "from", "who", "by" };

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		const cJSON *p = irc_event_field(ev, fields[i]);
		if (cJSON_IsObject(p))
			return p;
	}
	return NULL;
}

/* A string field of the person the event comes from. */
static const char *irc_event_person_string(const bk_irc_event *ev, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(irc_event_person(ev), field));
}

/* The event's name. */
const char *bk_irc_event_name(const bk_irc_event *ev)
{
	return ev ? ev->name : NULL;
}

/* The whole event object. */
const cJSON *bk_irc_event_json(const bk_irc_event *ev)
{
	return ev ? ev->obj : NULL;
}

/* A top-level string field. */
const char *bk_irc_event_string(const bk_irc_event *ev, const char *field)
{
	return cJSON_GetStringValue(irc_event_field(ev, field));
}

/* The nick of the person the event comes from. */
const char *bk_irc_event_nick(const bk_irc_event *ev)
{
	return irc_event_person_string(ev, "nick");
}

/* The user (ident) of the person the event comes from. */
const char *bk_irc_event_user(const bk_irc_event *ev)
{
	return irc_event_person_string(ev, "user");
}

/* The host of the person the event comes from. */
const char *bk_irc_event_host(const bk_irc_event *ev)
{
	return irc_event_person_string(ev, "host");
}

/* The account of the person the event comes from. */
const char *bk_irc_event_account(const bk_irc_event *ev)
{
	return irc_event_person_string(ev, "account");
}

/* Where a message was sent. */
const char *bk_irc_event_target(const bk_irc_event *ev)
{
	return bk_irc_event_string(ev, "target");
}

/* The channel, or NULL for a private message. */
const char *bk_irc_event_channel(const bk_irc_event *ev)
{
	return bk_irc_event_string(ev, "channel");
}

/* True for a message sent to the bot itself. */
bool bk_irc_event_is_private(const bk_irc_event *ev)
{
	return cJSON_IsTrue(irc_event_field(ev, "private"));
}

/* True when the event is about the bot itself. */
bool bk_irc_event_is_self(const bk_irc_event *ev)
{
	return cJSON_IsTrue(irc_event_field(ev, "self"));
}

/* The text of a message. */
const char *bk_irc_event_text(const bk_irc_event *ev)
{
	return bk_irc_event_string(ev, "text");
}

/* The text after a command's word. */
const char *bk_irc_event_rest(const bk_irc_event *ev)
{
	return bk_irc_event_string(ev, "rest");
}

/* The number of a command's words after its own. */
unsigned bk_irc_event_argc(const bk_irc_event *ev)
{
	const cJSON *a = irc_event_field(ev, "args");

	return cJSON_IsArray(a) ? (unsigned)cJSON_GetArraySize(a) : 0;
}

/* A command's word i after its own, or NULL. */
const char *bk_irc_event_arg(const bk_irc_event *ev, unsigned i)
{
	const cJSON *a = irc_event_field(ev, "args");

	if (!cJSON_IsArray(a) || i >= (unsigned)cJSON_GetArraySize(a))
		return NULL;
	return cJSON_GetStringValue(cJSON_GetArrayItem(a, (int)i));
}

/* The server's timestamp in milliseconds, or 0. */
int64_t bk_irc_event_time(const bk_irc_event *ev)
{
	const cJSON *t = irc_event_field(ev, "time");

	if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || fabs(t->valuedouble) >= 9.2e18)
		return 0;
	return (int64_t)t->valuedouble;
}

/* The event's reply function (borrowed), or NULL. */
bk_fn *bk_irc_event_reply_fn(const bk_irc_event *ev)
{
	return bk_json_get_fn(irc_event_field(ev, "reply"));
}

/* Answer through the event's reply function, reporting the host's answer. */
int bk_irc_event_reply_async(const bk_irc_event *ev, const char *text, bk_reply_fn reply,
			     void *userdata)
{
	if (!ev || !text)
		return -EINVAL;
	bk_fn *f = bk_irc_event_reply_fn(ev);
	if (!f)
		return -ENOENT;
	return bk_fn_call(f, reply, userdata, "s", text);
}

/* Answer through the event's reply function. */
int bk_irc_event_reply(const bk_irc_event *ev, const char *text)
{
	return bk_irc_event_reply_async(ev, text, NULL, NULL);
}

/* Answer with formatted text. */
int bk_irc_event_replyf(const bk_irc_event *ev, const char *fmt, ...)
{
	va_list ap;

	if (!ev || !fmt)
		return -EINVAL;
	if (!bk_irc_event_reply_fn(ev))
		return -ENOENT;
	va_start(ap, fmt);
	char *text = irc_vformat(fmt, ap);
	va_end(ap);
	if (!text)
		return -ENOMEM;
	int r = bk_irc_event_reply(ev, text);
	free(text);
	return r;
}
