/* SPDX-License-Identifier: ISC */
/* Requests answered by the server's lines: join, nick, whois, names, topic;
 * and the actions it may refuse: mode, kick, topic set, invite, part. */
#include "config.h"

#include "irc_query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <ev.h>

#include "core/call.h"
#include "core/errors.h"
#include "core/fn.h"
#include "irc_line.h"
#include "irc_state.h"
#include "core/list.h"
#include "core/value.h"

struct irc_pending {
	struct list link;	/* in irc_query.pending, oldest first */
	struct irc_query *q;
	uint64_t id;
	enum irc_query_kind kind;
	char *key;
	char *key2;		/* actions: the nick of KICK and INVITE, the MODE arguments */
	unsigned answer_ms;	/* the deadline once written */
	struct call *call;	/* who waits: a call, */
	struct fn *fn;		/* or a function (neither: its client left) */
	bool written;		/* the request reached the server */
	bool answered;		/* answered early (an error before the end numeric) */
	bool topic_seen;	/* 332 arrived; 333 may follow */
	cJSON *info;		/* what the numerics said so far */
	ev_timer timer;
};

struct irc_query {
	const struct irc_state *st;
	struct list pending;
	uint64_t last_id;
};

/* What irc_query_sent_cb needs to find its query. */
struct irc_query_ticket {
	struct irc_query *q;
	uint64_t id;
};

/* A failure to report: a name, a message, and for IrcError and
 * ServerRefused the numeric, its text and what it refused. */
struct irc_query_err {
	const char *name;
	const char *message;
	int numeric;		/* 0: no data */
	const char *text;	/* the numeric's text (NULL: message) */
	const char *target;	/* ServerRefused: the channel or nick */
	const char *command;	/* ServerRefused: JOIN, NICK, MODE, ... */
};

static void irc_query_remove(struct irc_pending *p);

/* ---- answering ----------------------------------------------------------- */

/* {"numeric","text"} for an IrcError, and "target","command" for a
 * ServerRefused; NULL otherwise. */
static cJSON *irc_query_err_data(const struct irc_query_err *e)
{
	cJSON *d;

	if (!e->numeric)
		return NULL;
	d = cJSON_CreateObject();
	if (d && (!cJSON_AddNumberToObject(d, "numeric", e->numeric) ||
		  !cJSON_AddStringToObject(d, "text", e->text ? e->text : e->message) ||
		  (e->target && !cJSON_AddStringToObject(d, "target", e->target)) ||
		  (e->command && !cJSON_AddStringToObject(d, "command", e->command)))) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

/* Answer a call with the error. */
static void irc_query_fail_call(struct call *call, const struct irc_query_err *e)
{
	struct value *data = e->numeric ? value_new(irc_query_err_data(e)) : NULL;
	struct fn_error err = { e->name, e->message, data };

	call_fail_error(call, &err);
	value_free(data);
}

/* {"name","message","data"} for fn(err, ...). */
static cJSON *irc_query_err_json(const struct irc_query_err *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *data = irc_query_err_data(e);

	if (!o || !cJSON_AddStringToObject(o, "name", e->name) ||
	    !cJSON_AddStringToObject(o, "message", e->message)) {
		cJSON_Delete(o);
		cJSON_Delete(data);
		return NULL;
	}
	if (data)
		cJSON_AddItemToObject(o, "data", data);
	return o;
}

/* Call fn(err, result) (result taken) and release it. */
static void irc_query_call_fn(struct fn *fn, cJSON *result, const struct irc_query_err *e)
{
	cJSON *args = cJSON_CreateArray();
	cJSON *err = e ? irc_query_err_json(e) : cJSON_CreateNull();
	struct value *v;

	if (!result)
		result = cJSON_CreateNull();
	if (!args || !err || !result) {
		cJSON_Delete(args);
		cJSON_Delete(err);
		cJSON_Delete(result);
		fn_unref(fn);
		return;
	}
	cJSON_AddItemToArray(args, err);
	cJSON_AddItemToArray(args, result);
	v = value_new(args);
	if (v)
		fn_invoke(fn, v, NULL, NULL);
	fn_unref(fn);
}

/* Answer p with result (taken; NULL is null) or e, once. */
static void irc_query_answer(struct irc_pending *p, cJSON *result, const struct irc_query_err *e)
{
	struct call *call = p->call;
	struct fn *fn = p->fn;

	if (p->answered || e) {
		cJSON_Delete(result);
		result = NULL;
	}
	if (p->answered)
		return;
	p->answered = true;
	p->call = NULL;
	p->fn = NULL;
	if (call && e)
		irc_query_fail_call(call, e);
	else if (call)
		call_return_json(call, result ? result : cJSON_CreateNull());
	else if (fn)
		irc_query_call_fn(fn, result, e);
	else
		cJSON_Delete(result);
}

/* Answer p with an error and forget it. */
static void irc_query_fail(struct irc_pending *p, const char *name, const char *message, int numeric)
{
	struct irc_query_err e = { name, message, numeric, NULL, NULL, NULL };

	irc_query_answer(p, NULL, &e);
	irc_query_remove(p);
}

/* Answer p with its collected result (or null) and forget it. */
static void irc_query_done(struct irc_pending *p)
{
	cJSON *info = p->info;

	p->info = NULL;
	irc_query_answer(p, info, NULL);
	irc_query_remove(p);
}

/* ---- the table ------------------------------------------------------------ */

/* Unlink and free a query (answered or not: an unanswered call is dropped). */
static void irc_query_remove(struct irc_pending *p)
{
	ev_timer_stop(EV_DEFAULT, &p->timer);
	list_remove(&p->link);
	if (p->call)
		call_fail(p->call, ERR_FAILED, "the request was dropped");
	fn_unref(p->fn);
	cJSON_Delete(p->info);
	free(p->key);
	free(p->key2);
	free(p);
}

/* The deadline passed. */
static void irc_query_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct irc_pending *p = w->data;

	if (p->answered)
		irc_query_remove(p);
	else if (p->written && p->kind >= IRC_QUERY_MODE)
		irc_query_done(p);	/* no refusal within refusal_wait */
	else if (p->written)
		irc_query_fail(p, ERR_FAILED, "the server did not answer in time", 0);
	else
		irc_query_fail(p, ERR_NOT_CONNECTED, "not connected to the IRC server in time", 0);
}

/* (Re)start p's deadline. */
static void irc_query_deadline(struct irc_pending *p, unsigned ms)
{
	ev_timer_stop(EV_DEFAULT, &p->timer);
	ev_timer_set(&p->timer, ms / 1000.0, 0.);
	ev_timer_start(EV_DEFAULT, &p->timer);
}

/* A new table. */
struct irc_query *irc_query_new(const struct irc_state *st)
{
	struct irc_query *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	q->st = st;
	list_init(&q->pending);
	return q;
}

/* Answer everything and free. */
struct irc_query *irc_query_free(struct irc_query *q)
{
	if (!q)
		return NULL;
	while (!list_empty(&q->pending))
		irc_query_fail(list_entry(q->pending.next, struct irc_pending, link), ERR_NOT_CONNECTED,
			       "the IRC client stopped", 0);
	free(q);
	return NULL;
}

/* The result a query starts with. */
static cJSON *irc_query_initial(enum irc_query_kind kind, const char *key)
{
	cJSON *o;

	switch (kind) {
	case IRC_QUERY_WHOIS:
		o = cJSON_CreateObject();
		if (o && cJSON_AddStringToObject(o, "nick", key) && cJSON_AddNullToObject(o, "user") &&
		    cJSON_AddNullToObject(o, "host") && cJSON_AddNullToObject(o, "realname") &&
		    cJSON_AddNullToObject(o, "server") && cJSON_AddNullToObject(o, "account") &&
		    cJSON_AddArrayToObject(o, "channels") && cJSON_AddNullToObject(o, "idle") &&
		    cJSON_AddNullToObject(o, "signon") && cJSON_AddFalseToObject(o, "operator") &&
		    cJSON_AddNullToObject(o, "away"))
			return o;
		cJSON_Delete(o);
		return NULL;
	case IRC_QUERY_NAMES:
		return cJSON_CreateArray();
	case IRC_QUERY_TOPIC:
		o = cJSON_CreateObject();
		if (o && cJSON_AddStringToObject(o, "channel", key) && cJSON_AddNullToObject(o, "topic") &&
		    cJSON_AddNullToObject(o, "setter") && cJSON_AddNullToObject(o, "time"))
			return o;
		cJSON_Delete(o);
		return NULL;
	default:
		return cJSON_CreateNull();
	}
}

/* A new query in the table (its timer not started), or NULL. */
static struct irc_pending *irc_query_pending_new(struct irc_query *q, enum irc_query_kind kind, const char *key,
						 const char *key2, unsigned timeout_ms)
{
	struct irc_pending *p = calloc(1, sizeof *p);

	if (!p || !(p->key = strdup(key)) || (key2 && !(p->key2 = strdup(key2))) ||
	    !(p->info = irc_query_initial(kind, key))) {
		if (p) {
			free(p->key);
			free(p->key2);
		}
		free(p);
		return NULL;
	}
	p->q = q;
	p->id = ++q->last_id;
	p->kind = kind;
	p->answer_ms = IRC_QUERY_ANSWER_MS;
	ev_timer_init(&p->timer, irc_query_timeout_cb, timeout_ms / 1000.0, 0.);
	p->timer.data = p;
	list_add_tail(&q->pending, &p->link);
	return p;
}

/* Start waiting. */
uint64_t irc_query_add(struct irc_query *q, enum irc_query_kind kind, const char *key, struct call *call,
		       struct fn *fn, unsigned timeout_ms)
{
	struct irc_pending *p = irc_query_pending_new(q, kind, key, NULL, timeout_ms);

	if (!p)
		return 0;
	p->call = call;
	p->fn = fn_ref(fn);
	ev_timer_start(EV_DEFAULT, &p->timer);
	return p->id;
}

/* Start waiting for an action's refusal (the send queue bounds the wait
 * until it is written). */
uint64_t irc_query_add_action(struct irc_query *q, enum irc_query_kind kind, const char *key, const char *key2,
			      struct call *call, unsigned wait_ms)
{
	struct irc_pending *p = irc_query_pending_new(q, kind, key, key2, wait_ms);

	if (!p)
		return 0;
	p->call = call;
	p->answer_ms = wait_ms;
	return p->id;
}

/* The PING token of an action. */
void irc_query_token(uint64_t id, char *buf, size_t n)
{
	snprintf(buf, n, "bothost-act-%" PRIu64, id);
}

/* The query with id, or NULL. */
static struct irc_pending *irc_query_by_id(struct irc_query *q, uint64_t id)
{
	for (struct list *l = q->pending.next; l != &q->pending; l = l->next) {
		struct irc_pending *p = list_entry(l, struct irc_pending, link);
		if (p->id == id)
			return p;
	}
	return NULL;
}

/* Forget a query nobody is to be told about. */
void irc_query_cancel(struct irc_query *q, uint64_t id)
{
	struct irc_pending *p = irc_query_by_id(q, id);

	if (!p)
		return;
	p->call = NULL;
	irc_query_remove(p);
}

/* A ticket for irc_query_sent_cb. */
void *irc_query_ticket(struct irc_query *q, uint64_t id)
{
	struct irc_query_ticket *t = malloc(sizeof *t);

	if (t) {
		t->q = q;
		t->id = id;
	}
	return t;
}

/* The request of a query was written, or could not be. */
void irc_query_sent_cb(int err, void *userdata)
{
	struct irc_query_ticket *t = userdata;
	struct irc_pending *p = irc_query_by_id(t->q, t->id);

	free(t);
	if (!p || p->answered)
		return;
	if (err == 0) {
		p->written = true;
		if (p->answer_ms)
			irc_query_deadline(p, p->answer_ms);
		else
			irc_query_done(p);	/* refusal_wait 0: done once written */
	} else if (err == -ENOTCONN || err == -ECANCELED) {
		irc_query_fail(p, ERR_NOT_CONNECTED, "not connected to the IRC server in time", 0);
	} else {
		irc_query_fail(p, ERR_FAILED, "the request could not be sent", 0);
	}
}

/* The oldest query of kind about key still waiting for lines, or NULL. */
static struct irc_pending *irc_query_find(struct irc_query *q, enum irc_query_kind kind, const char *key)
{
	for (struct list *l = q->pending.next; key && l != &q->pending; l = l->next) {
		struct irc_pending *p = list_entry(l, struct irc_pending, link);
		if (p->kind == kind && irc_state_same(q->st, p->key, key))
			return p;
	}
	return NULL;
}

/* The command an action, a join or a nick change sends (NULL: a query). */
static const char *irc_query_command(enum irc_query_kind kind)
{
	switch (kind) {
	case IRC_QUERY_JOIN: return "JOIN";
	case IRC_QUERY_NICK: return "NICK";
	case IRC_QUERY_MODE: return "MODE";
	case IRC_QUERY_KICK: return "KICK";
	case IRC_QUERY_TOPIC_SET: return "TOPIC";
	case IRC_QUERY_INVITE: return "INVITE";
	case IRC_QUERY_PART: return "PART";
	default: return NULL;
	}
}

/* Fail p with the numeric l: ServerRefused for a command, IrcError for a
 * query. */
static void irc_query_refused(struct irc_pending *p, const struct irc_line *l)
{
	const char *command = irc_query_command(p->kind), *text = irc_line_last_param(l);
	int numeric = irc_line_numeric(l);
	char message[640];
	struct irc_query_err e = { ERR_SERVER_REFUSED, message, numeric, text ? text : "", p->key, command };

	if (!command) {
		irc_query_fail(p, ERR_IRC, text ? text : "", numeric);
		return;
	}
	snprintf(message, sizeof message, "the server refused %s %s: %03d %s", command, p->key, numeric,
		 text ? text : "");
	irc_query_answer(p, NULL, &e);
	irc_query_remove(p);
}

/* Answer every query of kind about key: with the numeric's error, or done.
 * Returns how many were answered. */
static size_t irc_query_settle_all(struct irc_query *q, enum irc_query_kind kind, const char *key,
				   const struct irc_line *err)
{
	struct irc_pending *p;
	size_t n = 0;

	for (; (p = irc_query_find(q, kind, key)); n++) {
		if (err)
			irc_query_refused(p, err);
		else
			irc_query_done(p);
	}
	return n;
}

/* ---- whois ---------------------------------------------------------------- */

/* Set key of o to a string (NULL: null). */
static void irc_query_set(cJSON *o, const char *key, const char *s)
{
	cJSON *v = s ? cJSON_CreateString(s) : cJSON_CreateNull();

	if (v)
		cJSON_ReplaceItemInObject(o, key, v);
}

/* Set key of o to a number parsed from s, when it is one. */
static void irc_query_set_number(cJSON *o, const char *key, const char *s, double scale)
{
	char *end;
	double d = s ? strtod(s, &end) : 0;
	cJSON *v;

	if (!s || end == s || *end)
		return;
	v = cJSON_CreateNumber(d * scale);
	if (v)
		cJSON_ReplaceItemInObject(o, key, v);
}

/* Append the words of text to array a. */
static void irc_query_add_words(cJSON *a, const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, " ");
		char *w = n ? strndup(text, n) : NULL;
		cJSON *s = w ? cJSON_CreateString(w) : NULL;
		if (s)
			cJSON_AddItemToArray(a, s);
		free(w);
		text += n;
		text += strspn(text, " ");
	}
}

/* One WHOIS numeric about param 1; false when no WHOIS waits for it. */
static bool irc_query_whois_line(struct irc_query *q, const struct irc_line *l, int numeric)
{
	struct irc_pending *p = irc_query_find(q, IRC_QUERY_WHOIS, irc_line_param(l, 1));
	cJSON *o = p ? p->info : NULL;

	if (!p || p->answered) {
		if (p && numeric == 318)
			irc_query_remove(p);
		return p != NULL;
	}
	switch (numeric) {
	case 311:
		irc_query_set(o, "nick", irc_line_param(l, 1));
		irc_query_set(o, "user", irc_line_param(l, 2));
		irc_query_set(o, "host", irc_line_param(l, 3));
		irc_query_set(o, "realname", irc_line_last_param(l));
		break;
	case 312: irc_query_set(o, "server", irc_line_param(l, 2)); break;
	case 313: cJSON_ReplaceItemInObject(o, "operator", cJSON_CreateTrue()); break;
	case 317:
		irc_query_set_number(o, "idle", irc_line_param(l, 2), 1);
		irc_query_set_number(o, "signon", irc_line_param(l, 3), 1000);
		break;
	case 319: irc_query_add_words(cJSON_GetObjectItem(o, "channels"), irc_line_last_param(l)); break;
	case 330: irc_query_set(o, "account", irc_line_param(l, 2)); break;
	case 301: irc_query_set(o, "away", irc_line_last_param(l)); break;
	case 401: case 402:
		/* Answered now; the 318 that follows closes it. */
		{
			struct irc_query_err e = { ERR_IRC, irc_line_last_param(l), numeric, NULL, NULL, NULL };
			irc_query_answer(p, NULL, &e);
		}
		break;
	case 318: irc_query_done(p); break;
	}
	return true;
}

/* ---- names and topic ------------------------------------------------------- */

/* 353: append {"nick","prefixes"} entries. */
static void irc_query_names_line(struct irc_query *q, const struct irc_line *l)
{
	size_t n = irc_line_param_count(l);
	struct irc_pending *p = n >= 3 ? irc_query_find(q, IRC_QUERY_NAMES, irc_line_param(l, n - 2)) : NULL;
	const char *symbols = isupport_prefix_symbols(irc_state_isupport(q->st));
	const char *text = irc_line_last_param(l);

	while (p && text && *text) {
		size_t len = strcspn(text, " ");
		size_t np = strspn(text, symbols);
		size_t nlen;
		cJSON *o = cJSON_CreateObject();
		char *entry = strndup(text, len);
		if (np > len)
			np = len;
		nlen = entry ? strcspn(entry + np, "!@") : 0;
		if (o && entry && nlen) {
			char *nick = strndup(entry + np, nlen), *prefixes = strndup(entry, np);
			if (nick && prefixes && cJSON_AddStringToObject(o, "nick", nick) &&
			    cJSON_AddStringToObject(o, "prefixes", prefixes)) {
				cJSON_AddItemToArray(p->info, o);
				o = NULL;
			}
			free(nick);
			free(prefixes);
		}
		cJSON_Delete(o);
		free(entry);
		text += len;
		text += strspn(text, " ");
	}
}

/* 331 332 333: the topic of a channel. */
static void irc_query_topic_line(struct irc_query *q, const struct irc_line *l, int numeric)
{
	struct irc_pending *p = irc_query_find(q, IRC_QUERY_TOPIC, irc_line_param(l, 1));

	if (!p)
		return;
	switch (numeric) {
	case 331:
		irc_query_done(p);
		break;
	case 332:
		irc_query_set(p->info, "topic", irc_line_last_param(l));
		p->topic_seen = true;
		break;
	case 333:
		irc_query_set(p->info, "setter", irc_line_param(l, 2));
		irc_query_set_number(p->info, "time", irc_line_param(l, 3), 1000);
		irc_query_done(p);
		break;
	}
}

/* A topic query that got its 332 ends at the first line that is not its 333. */
static void irc_query_topic_flush(struct irc_query *q, const struct irc_line *l)
{
	bool is_333 = irc_line_numeric(l) == 333;

	for (struct list *it = q->pending.next, *next; it != &q->pending; it = next) {
		struct irc_pending *p = list_entry(it, struct irc_pending, link);
		next = it->next;
		if (p->kind == IRC_QUERY_TOPIC && p->topic_seen &&
		    !(is_333 && irc_state_same(q->st, p->key, irc_line_param(l, 1))))
			irc_query_done(p);
	}
}

/* ---- actions ------------------------------------------------------------- */

/* Whether numeric may refuse an action of kind. */
static bool irc_query_may_refuse(enum irc_query_kind kind, int numeric)
{
	bool mode = kind == IRC_QUERY_MODE;

	switch (numeric) {
	case 403: case 442: case 461: case 476: case 481: case 484:
		return true;
	case 482:
		return kind != IRC_QUERY_PART;
	case 401:
		return mode || kind == IRC_QUERY_KICK || kind == IRC_QUERY_INVITE;
	case 441:
		return mode || kind == IRC_QUERY_KICK;
	case 443:
		return kind == IRC_QUERY_INVITE;
	case 467: case 472: case 477: case 478: case 501: case 502: case 525: case 696:
		return mode;
	default:
		return false;
	}
}

/* Whether word is one of the space-separated words of list (NULL: none). */
static bool irc_query_has_word(const struct irc_query *q, const char *list, const char *word)
{
	while (list && word && *list) {
		size_t n = strcspn(list, " ");
		char *w = strndup(list, n);
		bool same = w && irc_state_same(q->st, w, word);
		free(w);
		if (same)
			return true;
		list += n;
		list += strspn(list, " ");
	}
	return false;
}

/* Whether the numeric l names what action p is about. */
static bool irc_query_names_action(const struct irc_query *q, const struct irc_pending *p,
				   const struct irc_line *l, int numeric)
{
	const char *p1 = irc_line_param(l, 1), *p2 = irc_line_param(l, 2);

	switch (numeric) {
	case 472: case 481: case 484: case 501: case 502:
		return true;	/* names no target: the oldest action it may refuse */
	case 461:
		return p1 && strcasecmp(p1, irc_query_command(p->kind)) == 0;
	case 441: case 443:
		return irc_state_same(q->st, p->key, p2) && irc_query_has_word(q, p->key2, p1);
	case 401:
		return irc_state_same(q->st, p->key, p1) || irc_query_has_word(q, p->key2, p1);
	default:
		return irc_state_same(q->st, p->key, p1);
	}
}

/* A numeric no query took: the oldest action it refuses fails with it. */
static void irc_query_action_numeric(struct irc_query *q, const struct irc_line *l, int numeric)
{
	for (struct list *it = q->pending.next; it != &q->pending; it = it->next) {
		struct irc_pending *p = list_entry(it, struct irc_pending, link);
		if (p->kind >= IRC_QUERY_MODE && !p->answered && irc_query_may_refuse(p->kind, numeric) &&
		    irc_query_names_action(q, p, l, numeric)) {
			irc_query_refused(p, l);
			return;
		}
	}
}

/* The oldest action of kind about key (and key2 when given), done. */
static void irc_query_action_done(struct irc_query *q, enum irc_query_kind kind, const char *key,
				  const char *key2)
{
	for (struct list *it = q->pending.next; key && it != &q->pending; it = it->next) {
		struct irc_pending *p = list_entry(it, struct irc_pending, link);
		if (p->kind == kind && irc_state_same(q->st, p->key, key) &&
		    (!key2 || irc_query_has_word(q, p->key2, key2))) {
			irc_query_done(p);
			return;
		}
	}
}

/* The server relayed a command of the bot's (its confirmation). */
static void irc_query_echo(struct irc_query *q, const struct irc_line *l, const char *cmd)
{
	const char *p0 = irc_line_param(l, 0);

	if (strcmp(cmd, "MODE") == 0)
		irc_query_action_done(q, IRC_QUERY_MODE, p0, NULL);
	else if (strcmp(cmd, "TOPIC") == 0)
		irc_query_action_done(q, IRC_QUERY_TOPIC_SET, p0, NULL);
	else if (strcmp(cmd, "KICK") == 0)
		irc_query_action_done(q, IRC_QUERY_KICK, p0, irc_line_param(l, 1));
	else if (strcmp(cmd, "PART") == 0)
		irc_query_action_done(q, IRC_QUERY_PART, p0, NULL);
}

/* A PONG: the action whose token it carries met no refusal. */
static void irc_query_pong(struct irc_query *q, const char *token)
{
	const char *prefix = "bothost-act-";
	char *end;
	uint64_t id;
	struct irc_pending *p;

	if (!token || strncmp(token, prefix, strlen(prefix)) != 0)
		return;
	id = strtoull(token + strlen(prefix), &end, 10);
	p = *end ? NULL : irc_query_by_id(q, id);
	if (p && p->kind >= IRC_QUERY_MODE)
		irc_query_done(p);
}

/* ---- dispatch -------------------------------------------------------------- */

/* A numeric for the queries; false when none took it. */
static bool irc_query_numeric_queries(struct irc_query *q, const struct irc_line *l, int numeric)
{
	const char *p1 = irc_line_param(l, 1);

	switch (numeric) {
	case 311: case 312: case 313: case 317: case 318: case 319: case 330: case 301: case 402: case 401:
		return irc_query_whois_line(q, l, numeric);
	case 353:
		irc_query_names_line(q, l);
		return true;
	case 366:
		irc_query_settle_all(q, IRC_QUERY_NAMES, p1, NULL);
		return true;
	case 331: case 332: case 333:
		irc_query_topic_line(q, l, numeric);
		return true;
	case 403:
		return irc_query_settle_all(q, IRC_QUERY_TOPIC, p1, l) + irc_query_settle_all(q, IRC_QUERY_JOIN, p1, l);
	case 442:
		return irc_query_settle_all(q, IRC_QUERY_TOPIC, p1, l) > 0;
	case 405: case 471: case 473: case 474: case 475: case 476: case 477: case 489:
		return irc_query_settle_all(q, IRC_QUERY_JOIN, p1, l) > 0;
	case 432: case 433: case 436: case 437:
		return irc_query_settle_all(q, IRC_QUERY_NICK, p1, l) > 0;
	case 341:
		/* RPL_INVITING: "<nick> <channel>" (or the other way round). */
		irc_query_action_done(q, IRC_QUERY_INVITE, irc_line_param(l, 2), p1);
		irc_query_action_done(q, IRC_QUERY_INVITE, p1, irc_line_param(l, 2));
		return true;
	default:
		return false;
	}
}

/* A numeric: whichever query it answers, else the action it refuses. */
static void irc_query_numeric(struct irc_query *q, const struct irc_line *l, int numeric)
{
	if (!irc_query_numeric_queries(q, l, numeric))
		irc_query_action_numeric(q, l, numeric);
}

/* A line from the server. */
void irc_query_line(struct irc_query *q, const struct irc_line *l)
{
	int numeric = irc_line_numeric(l);
	const char *cmd = irc_line_command(l);
	bool from_me = irc_state_is_me(q->st, irc_line_nick(l));

	irc_query_topic_flush(q, l);
	if (numeric >= 0)
		irc_query_numeric(q, l, numeric);
	else if (from_me && strcmp(cmd, "JOIN") == 0)
		irc_query_settle_all(q, IRC_QUERY_JOIN, irc_line_param(l, 0), NULL);
	else if (from_me && strcmp(cmd, "NICK") == 0)
		irc_query_settle_all(q, IRC_QUERY_NICK, irc_line_param(l, 0), NULL);
	else if (from_me)
		irc_query_echo(q, l, cmd);
	else if (strcmp(cmd, "PONG") == 0)
		irc_query_pong(q, irc_line_last_param(l));
}

/* The connection ended. */
void irc_query_lost(struct irc_query *q, unsigned wait_ms)
{
	for (struct list *it = q->pending.next, *next; it != &q->pending; it = next) {
		struct irc_pending *p = list_entry(it, struct irc_pending, link);
		next = it->next;
		if (p->kind >= IRC_QUERY_MODE && !p->written && !p->answered)
			continue;	/* still queued: the send queue answers it */
		if (p->kind != IRC_QUERY_JOIN) {
			irc_query_fail(p, ERR_NOT_CONNECTED, "the connection to the IRC server ended", 0);
			continue;
		}
		p->written = false;
		irc_query_deadline(p, wait_ms);
	}
}

/* Drop what c waits for. */
void irc_query_client_lost(struct irc_query *q, struct client *c)
{
	for (struct list *it = q->pending.next; it != &q->pending; it = it->next) {
		struct irc_pending *p = list_entry(it, struct irc_pending, link);
		if (p->call && call_get_client(p->call) == c) {
			call_fail(p->call, ERR_DISCONNECTED, "the client went away");
			p->call = NULL;
		}
		/* The client's imports are already cut loose (no client) by now. */
		if (p->fn && fn_is_remote(p->fn) && (!fn_get_client(p->fn) || fn_get_client(p->fn) == c))
			p->fn = fn_unref(p->fn);
	}
}

/* Whether a query of kind about key waits. */
static bool irc_query_waiting(const struct irc_query *q, enum irc_query_kind kind, const char *key)
{
	for (const struct list *l = q->pending.next; key && l != &q->pending; l = l->next) {
		const struct irc_pending *p = list_entry(l, struct irc_pending, link);
		if (p->kind == kind && !p->answered && irc_state_same(q->st, p->key, key))
			return true;
	}
	return false;
}

/* Whether a join of channel waits. */
bool irc_query_joining(const struct irc_query *q, const char *channel)
{
	return irc_query_waiting(q, IRC_QUERY_JOIN, channel);
}

/* Whether a nick change to nick waits. */
bool irc_query_nicking(const struct irc_query *q, const char *nick)
{
	return irc_query_waiting(q, IRC_QUERY_NICK, nick);
}
