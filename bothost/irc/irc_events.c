/* SPDX-License-Identifier: ISC */
/* From IRC lines to the irc object's events. */
#include "config.h"

#include "irc_events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/call.h"
#include "core/clock.h"
#include "core/emitter.h"
#include "core/errors.h"
#include "core/fn.h"
#include "irc_core.h"
#include "irc_filter.h"
#include "irc_kind.h"
#include "irc_line.h"
#include "irc_out.h"
#include "irc_query.h"
#include "capneg.h"
#include "irc_presence.h"
#include "irc_state.h"
#include "irc_text.h"
#include "link.h"
#include "core/log.h"
#include "core/object.h"
#include "core/value.h"

/* What a `reply` function answers to. */
struct irc_reply {
	struct list node;	/* in irc->replies */
	struct irc *irc;	/* NULL once the irc object is gone (the function may outlive it) */
	char *to;	/* a channel or a nick */
	char *ctcp;	/* NULL: a message reply (PRIVMSG); else the CTCP command of a CTCP reply */
	char *flow;	/* the outbound queue's flow of its lines: the sender's host (or nick) */
	char *refused;	/* not NULL: the host refused the command this answers (irc_reply_refuse) */
	struct fn *fn;	/* weak: the function whose data this is */
};

static const struct object_event irc_events[] = {
	{ "connect", "{server, nick}: registered with the server" },
	{ "disconnect", "{reason}: the connection ended" },
	{ "message", "{from, target, channel, private, text, time, tags, reply}: a PRIVMSG; reply(text) answers "
		     "in the channel, or privately to the sender" },
	{ "action", "as message, for a CTCP ACTION (/me)" },
	{ "notice", "as message, without reply, for a NOTICE" },
	{ "ctcp", "{from, target, command, args, reply}: a CTCP request; reply(args) sends the CTCP reply" },
	{ "join", "{who, channel, self}" },
	{ "part", "{who, channel, reason, self}" },
	{ "quit", "{who, reason, channels}: channels the bot shared with them" },
	{ "kick", "{by, channel, nick, reason, self}" },
	{ "nick", "{who, nick, self}: who.nick is the old nick" },
	{ "topic", "{who, channel, topic}" },
	{ "mode", "{who, target, modes, args}" },
	{ "invite", "{who, channel}" },
	{ "numeric", "{code, params, origin}: every numeric reply" },
	{ "refused", "{code, target, command, text, params}: the server refused something the bot sent "
		     "(401, 403, 404, 442, 482, 471-477, ...); command is what the bot last sent to target, or null" },
	{ "line", "{line, direction, bytes}: every raw line, direction in or out; bytes (base64) only for a "
		  "line in that was not UTF-8" },
	{ 0 },
};

/* The events, for introspection. */
const struct object_event *irc_events_table(void)
{
	return irc_events;
}

/* ---- filters ---------------------------------------------------------------- */

/* A filter for message, action or notice. */
static int irc_events_filter_make(const char *event, const cJSON *spec, void **ret, char *err, size_t size,
				  void *userdata)
{
	if (strcmp(event, "message") != 0 && strcmp(event, "action") != 0 && strcmp(event, "notice") != 0) {
		snprintf(err, size, "event '%s' takes no filter (message, action and notice do)", event);
		return -EINVAL;
	}
	return irc_filter_new(spec, (struct irc_filter **)ret, err, size);
}

/* emitter_filter_ops.match */
static bool irc_events_filter_match(const void *filter, const void *subject)
{
	return irc_filter_match(filter, subject);
}

/* emitter_filter_ops.equal */
static bool irc_events_filter_equal(const void *a, const void *b)
{
	return irc_filter_equal(a, b);
}

/* emitter_filter_ops.json */
static cJSON *irc_events_filter_json(const void *filter)
{
	return irc_filter_json(filter);
}

/* emitter_filter_ops.free */
static void irc_events_filter_free(void *filter)
{
	irc_filter_free(filter);
}

static const struct emitter_filter_ops irc_events_filters = {
	.make = irc_events_filter_make,
	.match = irc_events_filter_match,
	.equal = irc_events_filter_equal,
	.json = irc_events_filter_json,
	.free = irc_events_filter_free,
};

/* The filters of message, action and notice, for the object's emitter. */
const struct emitter_filter_ops *irc_events_filter_ops(void)
{
	return &irc_events_filters;
}

/* ---- building blocks ------------------------------------------------------- */

/* Add key: s, or null when s is NULL; false on allocation failure. */
static bool irc_events_add_str(cJSON *o, const char *key, const char *s)
{
	return (s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key)) != NULL;
}

/* Emit name with obj (taken) as its one argument, in v (taken; NULL: a new
 * value), to the registrations whose filters take subject (NULL: unfiltered ones). */
static void irc_events_emit_subject(struct irc *irc, const char *name, struct value *v, cJSON *obj,
				    const struct irc_filter_subject *subject)
{
	if (!v)
		v = value_new(cJSON_CreateArray());
	if (!v || !obj) {
		value_free(v);
		cJSON_Delete(obj);
		log_warn("irc: out of memory: %s event lost", name);
		return;
	}
	cJSON_AddItemToArray(value_root(v), obj);
	emitter_emit_subject(irc->em, name, v, subject);
	value_free(v);
}

/* Emit name with obj (taken) as its one argument, in v (taken; NULL: a new value). */
static void irc_events_emit(struct irc *irc, const char *name, struct value *v, cJSON *obj)
{
	irc_events_emit_subject(irc, name, v, obj, NULL);
}

/* Emit name with o when building it went well (ok), else drop o. */
static void irc_events_emit_if(struct irc *irc, const char *name, cJSON *o, bool ok)
{
	if (!ok) {
		cJSON_Delete(o);
		o = NULL;
	}
	irc_events_emit(irc, name, NULL, o);
}

/* {"nick","user","host","account"} of the line's source: the account from
 * the account tag or an extended JOIN when the server acknowledged the
 * capability for it, else what the state learnt before. */
static cJSON *irc_events_person(struct irc *irc, const struct irc_line *l)
{
	const char *nick = irc_line_nick(l);
	const char *account = irc_state_line_account(irc->state, l);
	cJSON *o = cJSON_CreateObject();

	if (!account)
		account = irc_state_account(irc->state, nick);
	else if (strcmp(account, "*") == 0)
		account = NULL;
	if (o && irc_events_add_str(o, "nick", nick) && irc_events_add_str(o, "user", irc_line_user(l)) &&
	    irc_events_add_str(o, "host", irc_line_host(l)) && irc_events_add_str(o, "account", account))
		return o;
	cJSON_Delete(o);
	return NULL;
}

/* Add the source as key; false on failure. */
static bool irc_events_add_person(struct irc *irc, cJSON *o, const char *key, const struct irc_line *l)
{
	cJSON *p = irc_events_person(irc, l);

	if (!p)
		return false;
	cJSON_AddItemToObject(o, key, p);
	return true;
}

/* The server-time tag ("2024-01-31T12:34:56.789Z") in milliseconds, or -1. */
static int64_t irc_events_server_time(const struct irc_line *l)
{
	const char *t = irc_line_tag(l, "time");
	struct tm tm = { 0 };
	int ms = 0, n = 0;
	char frac[4] = "000";

	if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			 &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	if (t[n] == '.') {
		for (int i = 0; i < 3 && t[n + 1 + i] >= '0' && t[n + 1 + i] <= '9'; i++)
			frac[i] = t[n + 1 + i];
		ms = atoi(frac);
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Add "time" (server-time, or null) and "tags". */
static bool irc_events_add_meta(cJSON *o, const struct irc_line *l)
{
	int64_t t = irc_events_server_time(l);
	cJSON *tags = cJSON_AddObjectToObject(o, "tags");

	if (!tags || !(t >= 0 ? cJSON_AddNumberToObject(o, "time", (double)t) : cJSON_AddNullToObject(o, "time")))
		return false;
	for (size_t i = 0; i < irc_line_tag_count(l); i++) {
		const char *key, *value;
		if (irc_line_tag_at(l, i, &key, &value) == 0 && !cJSON_AddStringToObject(tags, key, value))
			return false;
	}
	return true;
}

/* The channel a message target names (a STATUSMSG prefix such as "@#chan"
 * included), or NULL when it is not a channel. */
static const char *irc_events_channel_of(struct irc *irc, const char *target)
{
	const char *statusmsg = isupport_get(irc_state_isupport(irc->state), "STATUSMSG");

	if (irc_state_is_channel(irc->state, target))
		return target;
	if (statusmsg && target[0] && strchr(statusmsg, target[0]) && irc_state_is_channel(irc->state, target + 1))
		return target + 1;
	return NULL;
}

/* ---- reply functions ---------------------------------------------------------- */

/* Free a reply function's data. */
static void irc_reply_free(void *userdata)
{
	struct irc_reply *r = userdata;

	list_remove(&r->node);
	free(r->to);
	free(r->ctcp);
	free(r->flow);
	free(r->refused);
	free(r);
}

/* Detach the reply functions clients still hold from irc, which is going away. */
void irc_events_forget(struct irc *irc)
{
	while (!list_empty(&irc->replies)) {
		struct irc_reply *rp = list_entry(irc->replies.next, struct irc_reply, node);

		rp->irc = NULL;
		list_remove(&rp->node);
	}
}

/* reply(text) of a message, or reply(args) of a CTCP request. */
static void irc_reply_cb(struct fn *fn, struct call *call, void *userdata)
{
	struct irc_reply *rp = userdata;
	struct irc *irc = rp->irc;
	const cJSON *arg = call_get_arg(call, 0);
	int r;

	if (!irc) {
		call_fail(call, ERR_NOT_CONNECTED, "the IRC client has stopped");
		return;
	}
	if (rp->ctcp ? arg && !cJSON_IsNull(arg) && !cJSON_IsString(arg) : !cJSON_IsString(arg)) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "reply takes a string");
		return;
	}
	/* The host's own answers (no client) still go: they say why. */
	if (rp->refused && call_get_client(call)) {
		call_fail(call, ERR_PERMISSION_DENIED, "%s", rp->refused);
		return;
	}
	irc_send_set_flow(irc->send, rp->flow);
	if (rp->ctcp)
		r = irc_out_ctcp(irc, "NOTICE", rp->to, rp->ctcp, cJSON_GetStringValue(arg), irc_out_call_done, call);
	else
		r = irc_out_text(irc, OUTQ_NORMAL, "PRIVMSG", rp->to, arg->valuestring, NULL, irc_out_call_done, call);
	irc_send_set_flow(irc->send, NULL);
	if (r < 0)
		irc_out_call_fail(call, r);
}

/* The reply function data of reply, or NULL when it is not a message's. */
static struct irc_reply *irc_events_reply_find(struct irc *irc, struct fn *reply)
{
	for (struct list *l = irc->replies.next; l != &irc->replies; l = l->next) {
		struct irc_reply *rp = list_entry(l, struct irc_reply, node);
		if (rp->fn == reply)
			return rp;
	}
	return NULL;
}

/* Send text through reply as the bot's own notice, after every answer
 * waiting. 0, -EINVAL when reply is not a message's, or the queue's error. */
int irc_events_reply_notice(struct irc *irc, struct fn *reply, const char *text)
{
	struct irc_reply *rp = irc_events_reply_find(irc, reply);
	int r;

	if (!rp || rp->ctcp)
		return -EINVAL;
	irc_send_set_flow(irc->send, rp->flow);
	r = irc_out_text(irc, OUTQ_LOW, "PRIVMSG", rp->to, text, NULL, NULL, NULL);
	irc_send_set_flow(irc->send, NULL);
	return r;
}

/* Make reply (a message's reply function) fail with PermissionDenied and
 * why from now on. 0, -EINVAL when it is not one, -ENOMEM. */
int irc_events_reply_refuse(struct irc *irc, struct fn *reply, const char *why)
{
	for (struct list *l = irc->replies.next; l != &irc->replies; l = l->next) {
		struct irc_reply *rp = list_entry(l, struct irc_reply, node);
		char *copy;

		if (rp->fn != reply)
			continue;
		if (!(copy = strdup(why)))
			return -ENOMEM;
		free(rp->refused);
		rp->refused = copy;
		return 0;
	}
	return -EINVAL;
}

/* Add a reply function to o (held by v) answering to `to` for the sender
 * flow (NULL: its lines' target). */
static bool irc_events_add_reply(struct irc *irc, struct value *v, cJSON *o, const char *to, const char *ctcp,
				 const char *flow)
{
	struct irc_reply *rp = calloc(1, sizeof *rp);
	struct fn *fn;
	cJSON *node;

	if (!rp)
		return false;
	list_init(&rp->node);
	if (!(rp->to = strdup(to)) || (ctcp && !(rp->ctcp = strdup(ctcp))) || (flow && !(rp->flow = strdup(flow)))) {
		irc_reply_free(rp);
		return false;
	}
	rp->irc = irc;
	list_add_tail(&irc->replies, &rp->node);
	fn = fn_new_native(irc->server, irc_reply_cb, rp, irc_reply_free);
	if (!fn) {
		irc_reply_free(rp);
		return false;
	}
	rp->fn = fn;
	node = value_add_fn(v, fn);
	fn_unref(fn);
	if (!node)
		return false;
	cJSON_AddItemToObject(o, "reply", node);
	return true;
}

/* ---- messages ------------------------------------------------------------------- */

/* Add "bytes" to o: the base64 of parameter i of the line as its bytes
 * came, only when they were not valid UTF-8 (the text is then decoded with
 * encoding_fallback); false on allocation failure. */
static bool irc_events_add_bytes(struct irc *irc, cJSON *o, size_t i)
{
	const char *raw = link_get_raw(irc->link);
	struct irc_line *rl = NULL;
	const char *p;
	char *b64 = NULL;
	bool ok = true;

	if (!raw)
		return true;
	if (irc_line_parse(raw, &rl) == 0 && (p = irc_line_param(rl, i)) && !irc_text_utf8_valid(p, strlen(p)))
		ok = (b64 = capneg_base64(p, strlen(p))) && cJSON_AddStringToObject(o, "bytes", b64);
	free(b64);
	irc_line_free(rl);
	return ok;
}

/* {"from","target","channel","private","text","time","tags"} of a PRIVMSG or NOTICE. */
static cJSON *irc_events_message_obj(struct irc *irc, const struct irc_line *l, const char *text)
{
	const char *target = irc_line_param(l, 0);
	const char *channel = target ? irc_events_channel_of(irc, target) : NULL;
	cJSON *o = cJSON_CreateObject();

	if (o && irc_events_add_person(irc, o, "from", l) && irc_events_add_str(o, "target", target) &&
	    irc_events_add_str(o, "channel", channel) &&
	    cJSON_AddBoolToObject(o, "private", !channel && irc_state_is_me(irc->state, target)) &&
	    irc_events_add_str(o, "text", text) && irc_events_add_meta(o, l) && irc_events_add_bytes(irc, o, 1))
		return o;
	cJSON_Delete(o);
	return NULL;
}

/* What filters see of a message with text. */
static struct irc_filter_subject irc_events_subject(struct irc *irc, const struct irc_line *l, const char *text)
{
	const char *target = irc_line_param(l, 0);
	const char *channel = target ? irc_events_channel_of(irc, target) : NULL;

	return (struct irc_filter_subject){
		.cm = irc_state_casemap(irc->state),
		.channel = channel,
		.private = !channel && target && irc_state_is_me(irc->state, target),
		.nick = irc_line_nick(l),
		.user = irc_line_user(l),
		.host = irc_line_host(l),
		.text = text,
	};
}

/* `message` or `action`, with its reply function; nothing is built when
 * no registration's filter takes it. */
static void irc_events_message(struct irc *irc, const struct irc_line *l, const char *name, const char *text)
{
	struct irc_filter_subject subject = irc_events_subject(irc, l, text);
	struct value *v;
	cJSON *o;
	const char *to = subject.channel ? subject.channel : irc_line_nick(l);
	const char *flow = irc_line_host(l) ? irc_line_host(l) : irc_line_nick(l);

	if (!emitter_wanted(irc->em, name, &subject))
		return;
	v = value_new(cJSON_CreateArray());
	o = irc_events_message_obj(irc, l, text);
	if (v && o && to && !irc_events_add_reply(irc, v, o, to, NULL, flow)) {
		cJSON_Delete(o);
		o = NULL;
	}
	irc_events_emit_subject(irc, name, v, o, &subject);
}

/* `notice`; a CTCP reply also carries "ctcp":{"command","args"}. */
static void irc_events_notice(struct irc *irc, const struct irc_line *l)
{
	const char *text = irc_line_param(l, 1);
	struct irc_filter_subject subject = irc_events_subject(irc, l, text);
	cJSON *o;
	char *cmd = NULL, *args = NULL;

	if (!emitter_wanted(irc->em, "notice", &subject))
		return;
	o = irc_events_message_obj(irc, l, text);

	if (o && text && irc_text_ctcp_unwrap(text, &cmd, &args) == 0) {
		cJSON *c = cJSON_AddObjectToObject(o, "ctcp");
		if (!c || !cJSON_AddStringToObject(c, "command", cmd) || !cJSON_AddStringToObject(c, "args", args)) {
			cJSON_Delete(o);
			o = NULL;
		}
	}
	free(cmd);
	free(args);
	irc_events_emit_subject(irc, "notice", NULL, o, &subject);
}

/* ---- CTCP ------------------------------------------------------------------------ */

/* Take one token of the CTCP reply bucket; false when it is empty. */
static bool irc_events_ctcp_allowed(struct irc *irc)
{
	double per_minute = irc->cfg.ctcp_per_minute;
	uint64_t now = clock_now_ms();

	irc->ctcp_tokens += (double)(now - irc->ctcp_at) * per_minute / 60000.0;
	if (irc->ctcp_tokens > per_minute)
		irc->ctcp_tokens = per_minute;
	irc->ctcp_at = now;
	if (irc->ctcp_tokens < 1.0)
		return false;
	irc->ctcp_tokens -= 1.0;
	return true;
}

/* The answer bothost gives itself to cmd, or NULL when it gives none. */
static const char *irc_events_ctcp_answer(struct irc *irc, const char *cmd, const char *args, char *buf,
					  size_t size)
{
	time_t now = (time_t)(clock_wall_ms() / 1000);
	struct tm tm;

	if (strcmp(cmd, "VERSION") == 0)
		return irc->cfg.ctcp_version ? irc->cfg.ctcp_version : PACKAGE_NAME " " PACKAGE_VERSION;
	if (strcmp(cmd, "PING") == 0)
		return args;
	if (strcmp(cmd, "CLIENTINFO") == 0)
		return "ACTION CLIENTINFO PING TIME VERSION";
	if (strcmp(cmd, "TIME") == 0 && localtime_r(&now, &tm) && strftime(buf, size, "%a %b %d %H:%M:%S %Y", &tm))
		return buf;
	return NULL;
}

/* Answer VERSION, PING, TIME and CLIENTINFO; false for other commands. */
static bool irc_events_ctcp_builtin(struct irc *irc, const struct irc_line *l, const char *cmd, const char *args)
{
	char buf[64];
	const char *answer = irc_events_ctcp_answer(irc, cmd, args, buf, sizeof buf);
	const char *nick = irc_line_nick(l);
	int r;

	if (!answer)
		return false;
	if (!nick || !irc_events_ctcp_allowed(irc)) {
		log_debug("irc: CTCP %s from %s not answered (ctcp_per_minute)", cmd, nick ? nick : "?");
		return true;
	}
	r = irc_out_ctcp(irc, "NOTICE", nick, cmd, *answer ? answer : NULL, NULL, NULL);
	if (r < 0)
		log_debug("irc: CTCP %s reply to %s not sent: %s", cmd, nick, strerror(-r));
	return true;
}

/* `ctcp` with its reply function. */
static void irc_events_ctcp_request(struct irc *irc, const struct irc_line *l, const char *cmd, const char *args)
{
	struct value *v = value_new(cJSON_CreateArray());
	cJSON *o = cJSON_CreateObject();
	const char *nick = irc_line_nick(l);

	bool ok = v && o && nick && irc_events_add_person(irc, o, "from", l) &&
		  irc_events_add_str(o, "target", irc_line_param(l, 0)) && cJSON_AddStringToObject(o, "command", cmd) &&
		  cJSON_AddStringToObject(o, "args", args) && irc_events_add_reply(irc, v, o, nick, cmd, NULL);

	if (!ok) {
		cJSON_Delete(o);
		o = NULL;
	}
	irc_events_emit(irc, "ctcp", v, o);
}

/* A CTCP request (PRIVMSG "\001...\001"); a NOTICE is a notice. */
static void irc_events_ctcp(struct irc *irc, const struct irc_line *l)
{
	const char *text = irc_line_param(l, 1);
	char *cmd = NULL, *args = NULL;

	if (!text || irc_text_ctcp_unwrap(text, &cmd, &args) < 0) {
		log_debug("irc: a CTCP request without a command from %s: no event",
			  irc_line_source(l) ? irc_line_source(l) : "?");
		return;
	}
	if (strcmp(cmd, "ACTION") == 0)
		irc_events_message(irc, l, "action", args);
	else if (!irc_events_ctcp_builtin(irc, l, cmd, args))
		irc_events_ctcp_request(irc, l, cmd, args);
	free(cmd);
	free(args);
}

/* An ACTION (PRIVMSG "\001ACTION ...\001"). */
static void irc_events_action(struct irc *irc, const struct irc_line *l)
{
	const char *text = irc_line_param(l, 1);
	char *cmd = NULL, *args = NULL;

	if (!text || irc_text_ctcp_unwrap(text, &cmd, &args) < 0)
		return;
	irc_events_message(irc, l, "action", args);
	free(cmd);
	free(args);
}

/* ---- channel and user events ------------------------------------------------------- */

/* join, part, topic and invite: {"who", "channel", ...}. */
static void irc_events_channel(struct irc *irc, const struct irc_line *l, enum irc_kind ev)
{
	cJSON *o = cJSON_CreateObject();
	bool self = irc_state_is_me(irc->state, irc_line_nick(l));
	bool ok = o && irc_events_add_person(irc, o, "who", l);
	const char *name = "join";

	switch (ev) {
	case IRC_KIND_JOIN:
		ok = ok && irc_events_add_str(o, "channel", irc_line_param(l, 0)) && cJSON_AddBoolToObject(o, "self", self);
		break;
	case IRC_KIND_PART:
		name = "part";
		ok = ok && irc_events_add_str(o, "channel", irc_line_param(l, 0)) &&
		     irc_events_add_str(o, "reason", irc_line_param(l, 1)) && cJSON_AddBoolToObject(o, "self", self);
		break;
	case IRC_KIND_TOPIC:
		name = "topic";
		ok = ok && irc_events_add_str(o, "channel", irc_line_param(l, 0)) &&
		     irc_events_add_str(o, "topic", irc_line_param(l, 1));
		break;
	default:
		name = "invite";
		ok = ok && irc_events_add_str(o, "channel", irc_line_param(l, 1));
		break;
	}
	irc_events_emit_if(irc, name, o, ok);
}

/* kick: {"by","channel","nick","reason","self"}. */
static void irc_events_kick(struct irc *irc, const struct irc_line *l)
{
	cJSON *o = cJSON_CreateObject();
	const char *nick = irc_line_param(l, 1);

	irc_events_emit_if(irc, "kick", o,
			   o && irc_events_add_person(irc, o, "by", l) &&
				   irc_events_add_str(o, "channel", irc_line_param(l, 0)) &&
				   irc_events_add_str(o, "nick", nick) &&
				   irc_events_add_str(o, "reason", irc_line_param(l, 2)) &&
				   cJSON_AddBoolToObject(o, "self", irc_state_is_me(irc->state, nick)));
}

/* quit: {"who","reason","channels"} (before the state forgets the user). */
static void irc_events_quit(struct irc *irc, const struct irc_line *l)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *channels = irc_state_common_json(irc->state, irc_line_nick(l));

	if (!o || !channels || !irc_events_add_person(irc, o, "who", l) ||
	    !irc_events_add_str(o, "reason", irc_line_param(l, 0))) {
		cJSON_Delete(o);
		cJSON_Delete(channels);
		o = NULL;
	} else {
		cJSON_AddItemToObject(o, "channels", channels);
	}
	irc_events_emit(irc, "quit", NULL, o);
}

/* nick: {"who","nick","self"} (self: the bot's own nick changed). */
static void irc_events_nick(struct irc *irc, const struct irc_line *l)
{
	cJSON *o = cJSON_CreateObject();

	irc_events_emit_if(irc, "nick", o,
			   o && irc_events_add_person(irc, o, "who", l) &&
				   irc_events_add_str(o, "nick", irc_line_param(l, 0)) &&
				   cJSON_AddBoolToObject(o, "self", irc_state_is_me(irc->state, irc_line_nick(l))));
}

/* Parameters from index from on, as an array. */
static cJSON *irc_events_params(const struct irc_line *l, size_t from)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = from; a && i < irc_line_param_count(l); i++) {
		cJSON *s = cJSON_CreateString(irc_line_param(l, i));
		if (!s) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, s);
	}
	return a;
}

/* mode: {"who","target","modes","args"}, channel or user modes. */
static void irc_events_mode(struct irc *irc, const struct irc_line *l)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *args = irc_events_params(l, 2);
	const char *modes = irc_line_param(l, 1);

	if (!o || !args || !irc_events_add_person(irc, o, "who", l) ||
	    !irc_events_add_str(o, "target", irc_line_param(l, 0)) ||
	    !cJSON_AddStringToObject(o, "modes", modes ? modes : "")) {
		cJSON_Delete(o);
		cJSON_Delete(args);
		o = NULL;
	} else {
		cJSON_AddItemToObject(o, "args", args);
	}
	irc_events_emit(irc, "mode", NULL, o);
}

/* numeric: {"code","params","origin"}. */
static void irc_events_numeric(struct irc *irc, const struct irc_line *l)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *params = irc_events_params(l, 0);

	if (!o || !params || !cJSON_AddNumberToObject(o, "code", irc_line_numeric(l)) ||
	    !irc_events_add_str(o, "origin", irc_line_source(l))) {
		cJSON_Delete(o);
		cJSON_Delete(params);
		o = NULL;
	} else {
		cJSON_AddItemToObject(o, "params", params);
	}
	irc_events_emit(irc, "numeric", NULL, o);
}

/* ---- dispatch ------------------------------------------------------------------------ */

/* The events of a line from the server, by its kind (irc_kind.c). */
void irc_events_dispatch(struct irc *irc, const struct irc_line *l)
{
	enum irc_kind kind = irc_kind_of(l);

	switch (kind) {
	case IRC_KIND_MESSAGE: irc_events_message(irc, l, "message", irc_line_param(l, 1)); break;
	case IRC_KIND_NOTICE: irc_events_notice(irc, l); break;
	case IRC_KIND_ACTION: irc_events_action(irc, l); break;
	case IRC_KIND_CTCP: irc_events_ctcp(irc, l); break;
	case IRC_KIND_JOIN: case IRC_KIND_PART: case IRC_KIND_TOPIC: case IRC_KIND_INVITE:
		irc_events_channel(irc, l, kind);
		break;
	case IRC_KIND_KICK: irc_events_kick(irc, l); break;
	case IRC_KIND_QUIT: irc_events_quit(irc, l); break;
	case IRC_KIND_NICK: irc_events_nick(irc, l); break;
	case IRC_KIND_MODE: irc_events_mode(irc, l); break;
	case IRC_KIND_NUMERIC: irc_events_numeric(irc, l); break;
	case IRC_KIND_NONE: break;
	}
}

/* `line`; a line in that was not UTF-8 carries its bytes too. */
void irc_events_line(struct irc *irc, const char *line, const char *direction)
{
	const char *raw = strcmp(direction, "in") == 0 ? link_get_raw(irc->link) : NULL;
	char *b64 = NULL;
	cJSON *o;

	/* Every line passes here: build the event only for a listener. */
	if (!emitter_listened(irc->em, "line"))
		return;
	o = cJSON_CreateObject();
	if (raw)
		raw = irc_line_strip_tags(raw);
	irc_events_emit_if(irc, "line", o,
			   o && cJSON_AddStringToObject(o, "line", line) &&
				   cJSON_AddStringToObject(o, "direction", direction) &&
				   (!raw || ((b64 = capneg_base64(raw, strlen(raw))) &&
					     cJSON_AddStringToObject(o, "bytes", b64))));
	free(b64);
}

/* ---- refusals ------------------------------------------------------------------------ */

/* Remember the command and target of a line the bot sent (the commands
 * whose refusal names their target). */
void irc_events_sent(struct irc *irc, const char *line)
{
	static const char *const commands[] = { "PRIVMSG", "NOTICE", "JOIN", "PART", "KICK", "MODE", "TOPIC",
						"INVITE", "WHOIS", "NAMES", NULL };
	struct irc_line *l = NULL;
	const char *cmd, *target;

	if (irc_line_parse(line, &l) < 0)
		return;
	cmd = irc_line_command(l);
	target = irc_line_param(l, strcmp(cmd, "INVITE") == 0 ? 1 : 0);
	for (size_t i = 0; target && commands[i]; i++) {
		if (strcmp(cmd, commands[i]) == 0) {
			struct irc_sent_rec *r = &irc->sent[irc->sent_next++ % IRC_SENT_RECS];
			snprintf(r->command, sizeof r->command, "%s", cmd);
			/* The first of a comma-separated list. */
			snprintf(r->target, sizeof r->target, "%.*s", (int)strcspn(target, ","), target);
			r->at = clock_now_ms();
			break;
		}
	}
	irc_line_free(l);
}

/* The command last sent to target within the last minute, or NULL. */
static const char *irc_events_sent_to(struct irc *irc, const char *target)
{
	uint64_t now = clock_now_ms();

	for (unsigned i = 1; i <= IRC_SENT_RECS; i++) {
		const struct irc_sent_rec *r = &irc->sent[(irc->sent_next - i) % IRC_SENT_RECS];
		if (r->at && now - r->at <= 60000 && irc_state_same(irc->state, r->target, target))
			return r->command;
	}
	return NULL;
}

/* Whether a numeric refuses something sent to the target in its second
 * parameter (a nick or a channel). */
static bool irc_events_is_refusal(int code)
{
	switch (code) {
	case 401: case 403: case 404: case 405: case 406: case 407: case 437: case 441: case 442:
	case 443: case 467: case 471: case 473: case 474: case 475: case 476: case 477: case 478:
	case 482: case 489:
		return true;
	default:
		return false;
	}
}

/* A refusal: logged (unless the join retries of irc_presence log it, or it
 * answers a query) and emitted as `refused`. */
void irc_events_refused(struct irc *irc, const struct irc_line *l)
{
	int code = irc_line_numeric(l);
	const char *target = irc_line_param(l, 1), *text = irc_line_last_param(l), *command;
	cJSON *o, *params;

	if (!irc->registered || !irc_events_is_refusal(code) || !target || irc_line_param_count(l) < 3)
		return;
	command = irc_events_sent_to(irc, target);
	if (command && strcmp(command, "WHOIS") != 0 && strcmp(command, "NAMES") != 0 &&
	    !(strcmp(command, "JOIN") == 0 && irc_presence_wanted(irc, target)))
		log_warn("irc: %s refused %s %s: %d %s", link_get_server(irc->link), command, target, code,
			 text ? text : "");
	else
		log_debug("irc: %d for %s: %s", code, target, text ? text : "");
	o = cJSON_CreateObject();
	params = irc_events_params(l, 0);
	if (!o || !params || !cJSON_AddNumberToObject(o, "code", code) || !irc_events_add_str(o, "target", target) ||
	    !irc_events_add_str(o, "command", command) || !irc_events_add_str(o, "text", text)) {
		cJSON_Delete(o);
		cJSON_Delete(params);
		o = NULL;
	} else {
		cJSON_AddItemToObject(o, "params", params);
	}
	irc_events_emit(irc, "refused", NULL, o);
}

/* `connect`. */
void irc_events_connect(struct irc *irc)
{
	cJSON *o = cJSON_CreateObject();

	irc_events_emit_if(irc, "connect", o,
			   o && irc_events_add_str(o, "server", link_get_server(irc->link)) &&
				   irc_events_add_str(o, "nick", irc_state_nick(irc->state)));
}

/* `disconnect`. */
void irc_events_disconnect(struct irc *irc, const char *reason)
{
	cJSON *o = cJSON_CreateObject();

	irc_events_emit_if(irc, "disconnect", o, o && irc_events_add_str(o, "reason", reason));
}
