/* SPDX-License-Identifier: ISC */
/* The irc object's methods: argument checks, then commands or queries. */
#include "config.h"

#include "irc_methods.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/call.h"
#include "core/clock.h"
#include "core/errors.h"
#include "core/fn.h"
#include "irc_core.h"
#include "irc_line.h"
#include "irc_out.h"
#include "irc_presence.h"
#include "irc_query.h"
#include "irc_send.h"
#include "irc_state.h"
#include "irc_text.h"
#include "link.h"
#include "core/object.h"
#include "core/value.h"

/* Most mode arguments one MODE carries. */
#define IRC_METHODS_MODE_ARGS 12

/* ---- argument checks ---------------------------------------------------------- */

/* String argument i, or NULL (absent, or null for an optional one). */
static const char *irc_arg(struct call *call, unsigned i)
{
	return cJSON_GetStringValue(call_get_arg(call, i));
}

/* The server's ISUPPORT. */
static const struct isupport *irc_is(const struct irc *irc)
{
	return irc_state_isupport(irc->state);
}

/* Refuse argument what (value v) with InvalidArguments: false. */
static bool irc_bad(struct call *call, const char *what, const char *why)
{
	call_fail(call, ERR_INVALID_ARGUMENTS, "argument '%s' %s", what, why);
	return false;
}

/* A channel argument. */
static bool irc_check_channel(struct call *call, const struct irc *irc, const char *what, const char *v)
{
	return irc_text_channel_valid(irc_is(irc), v) ? true : irc_bad(call, what, "is not a valid channel name");
}

/* A nick argument. */
static bool irc_check_nick(struct call *call, const struct irc *irc, const char *what, const char *v)
{
	return irc_text_nick_valid(irc_is(irc), v) ? true : irc_bad(call, what, "is not a valid nick");
}

/* A message target (a channel or a nick). */
static bool irc_check_target(struct call *call, const struct irc *irc, const char *v)
{
	return irc_text_target_valid(irc_is(irc), v) ? true : irc_bad(call, "target", "is not a valid channel or nick");
}

/* A one-line text (a reason, a topic); NULL passes. */
static bool irc_check_line(struct call *call, const char *what, const char *v)
{
	return !v || irc_text_line_valid(v) ? true : irc_bad(call, what, "must be one line (no CR or LF)");
}

/* A message text under the text rule. */
static bool irc_check_text(struct call *call, const char *v)
{
	return irc_text_check(v) == 0 ? true : irc_bad(call, "text", "has no line to send");
}

/* A word parameter (a key, a mode argument); NULL passes. */
static bool irc_check_word(struct call *call, const char *what, const char *v)
{
	return !v || (irc_text_word_valid(v) && !strchr(v, ',')) ? true
								   : irc_bad(call, what, "must be one word (no space, comma, CR or LF, not starting with ':')");
}

/* The connection is needed now. */
static bool irc_check_registered(struct call *call, const struct irc *irc)
{
	if (irc->registered)
		return true;
	call_fail(call, ERR_NOT_CONNECTED, "not connected to an IRC server");
	return false;
}

/* Queue a command answered once written. */
static void irc_command(struct irc *irc, struct call *call, enum outq_prio prio, const char *verb,
			const char *const *params, size_t n)
{
	int r = irc_out_command(irc, prio, irc_out_call_done, call, verb, params, n);

	if (r < 0)
		irc_out_call_fail(call, r);
}

/* Queue an action the server may refuse (kind, about key and key2) and a
 * PING after it; the call is answered by the server's refusal
 * (ServerRefused), its echo, the PONG, or the end of refusal_wait (null).
 * refusal_wait 0: answered once written. */
static void irc_action(struct irc *irc, struct call *call, enum irc_query_kind kind, const char *key,
		       const char *key2, const char *verb, const char *const *params, size_t n)
{
	char token[IRC_QUERY_TOKEN_MAX];
	uint64_t id;
	void *ticket;
	int r = -ENOMEM;

	if (!irc->cfg.refusal_wait_ms) {
		irc_command(irc, call, OUTQ_CONTROL, verb, params, n);
		return;
	}
	id = irc_query_add_action(irc->query, kind, key, key2, call, irc->cfg.refusal_wait_ms);
	ticket = id ? irc_query_ticket(irc->query, id) : NULL;
	if (ticket) {
		irc_query_token(id, token, sizeof token);
		r = irc_out_command_ping(irc, OUTQ_CONTROL, irc_query_sent_cb, ticket, token, verb, params, n);
	}
	if (r < 0) {
		free(ticket);
		irc_query_cancel(irc->query, id);
		irc_out_call_fail(call, r);
	}
}

/* ---- messages ------------------------------------------------------------------- */

/* say, notice and action. */
static void irc_method_text(struct object *obj, struct call *call, const char *verb, const char *ctcp)
{
	struct irc *irc = object_get_userdata(obj);
	const char *target = irc_arg(call, 0), *text = irc_arg(call, 1);
	int r;

	if (!irc_check_target(call, irc, target) || !irc_check_text(call, text))
		return;
	r = irc_out_text(irc, OUTQ_NORMAL, verb, target, text, ctcp, irc_out_call_done, call);
	if (r < 0)
		irc_out_call_fail(call, r);
}

/* say(target, text) */
static void irc_method_say(struct object *obj, struct call *call)
{
	irc_method_text(obj, call, "PRIVMSG", NULL);
}

/* notice(target, text) */
static void irc_method_notice(struct object *obj, struct call *call)
{
	irc_method_text(obj, call, "NOTICE", NULL);
}

/* action(target, text) */
static void irc_method_action(struct object *obj, struct call *call)
{
	irc_method_text(obj, call, "PRIVMSG", "ACTION");
}

/* ctcp and ctcpReply. */
static void irc_method_ctcp_any(struct object *obj, struct call *call, const char *verb)
{
	struct irc *irc = object_get_userdata(obj);
	const char *target = irc_arg(call, 0), *cmd = irc_arg(call, 1), *args = irc_arg(call, 2);
	int r;

	if (!irc_check_target(call, irc, target))
		return;
	if (!cmd[0] || strcspn(cmd, " \001\r\n") != strlen(cmd)) {
		irc_bad(call, "command", "must be one word without \\001, CR or LF");
		return;
	}
	if (args && strcspn(args, "\001\r\n") != strlen(args)) {
		irc_bad(call, "args", "must not hold \\001, CR or LF");
		return;
	}
	r = irc_out_ctcp(irc, verb, target, cmd, args, irc_out_call_done, call);
	if (r < 0)
		irc_out_call_fail(call, r);
}

/* ctcp(target, command, args?) */
static void irc_method_ctcp(struct object *obj, struct call *call)
{
	irc_method_ctcp_any(obj, call, "PRIVMSG");
}

/* ctcpReply(target, command, args?) */
static void irc_method_ctcp_reply(struct object *obj, struct call *call)
{
	irc_method_ctcp_any(obj, call, "NOTICE");
}

/* ---- channels ---------------------------------------------------------------------- */

/* Send the JOIN of a join call; false (the call answered) when it cannot go. */
static bool irc_join_send(struct irc *irc, struct call *call, const char *channel, uint64_t id)
{
	void *ticket = irc_query_ticket(irc->query, id);
	int r = ticket ? irc_presence_join(irc, channel, irc_query_sent_cb, ticket) : -ENOMEM;

	if (r == 0)
		return true;
	free(ticket);
	irc_query_cancel(irc->query, id);
	irc_out_call_fail(call, r);
	return false;
}

/* join(channel, key?): answered by the server's JOIN, or its refusal. */
static void irc_method_join(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *channel = irc_arg(call, 0), *key = irc_arg(call, 1);
	unsigned wait = irc->registered ? IRC_QUERY_ANSWER_MS : irc->cfg.queue_max_age_ms;
	bool wanted;
	uint64_t id;

	if (!irc_check_channel(call, irc, "channel", channel) || !irc_check_word(call, "key", key))
		return;
	wanted = irc_presence_wanted(irc, channel);
	if (irc_presence_want(irc, channel, key, false) < 0) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	if (irc->registered && irc_state_in_channel(irc->state, channel)) {
		call_return(call, NULL);
		return;
	}
	id = irc_query_add(irc->query, IRC_QUERY_JOIN, channel, call, NULL, wait);
	if (!id) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	/* Not registered: the JOIN goes out with the others after registration. */
	if (irc->registered && !irc_join_send(irc, call, channel, id) && !wanted)
		irc_presence_unwant(irc, channel);
}

/* part(channel, reason?): the channel is not rejoined. */
static void irc_method_part(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *channel = irc_arg(call, 0), *reason = irc_arg(call, 1);
	const char *params[] = { channel, reason };

	if (!irc_check_channel(call, irc, "channel", channel) || !irc_check_line(call, "reason", reason))
		return;
	irc_presence_unwant(irc, channel);
	irc_action(irc, call, IRC_QUERY_PART, channel, NULL, "PART", params, reason ? 2 : 1);
}

/* Send a request whose answer a query collects; the call is answered by it. */
static void irc_query_start(struct irc *irc, struct call *call, enum irc_query_kind kind, const char *key,
			    struct fn *fn, const char *verb, const char *const *params, size_t n)
{
	uint64_t id = irc_query_add(irc->query, kind, key, fn ? NULL : call, fn, IRC_QUERY_ANSWER_MS);
	void *ticket = id ? irc_query_ticket(irc->query, id) : NULL;
	int r = ticket ? irc_out_command(irc, OUTQ_CONTROL, irc_query_sent_cb, ticket, verb, params, n) : -ENOMEM;

	if (r < 0) {
		free(ticket);
		irc_query_cancel(irc->query, id);
		irc_out_call_fail(call, r);
		return;
	}
	if (fn)
		call_return(call, NULL);
}

/* nick(nick): answered by the server's NICK, or its refusal. */
static void irc_method_nick(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *nick = irc_arg(call, 0);
	const char *params[] = { nick };

	if (!irc_check_nick(call, irc, "nick", nick) || !irc_check_registered(call, irc))
		return;
	if (irc_state_nick(irc->state) && strcmp(nick, irc_state_nick(irc->state)) == 0) {
		call_return(call, NULL);
		return;
	}
	irc_query_start(irc, call, IRC_QUERY_NICK, nick, NULL, "NICK", params, 1);
}

/* topic(channel, text?): the topic, or set it (an empty text clears it). */
static void irc_method_topic(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *channel = irc_arg(call, 0), *text = irc_arg(call, 1);
	const char *params[] = { channel, text };

	if (!irc_check_channel(call, irc, "channel", channel) || !irc_check_line(call, "text", text))
		return;
	if (text) {
		irc_action(irc, call, IRC_QUERY_TOPIC_SET, channel, NULL, "TOPIC", params, 2);
		return;
	}
	if (irc_check_registered(call, irc))
		irc_query_start(irc, call, IRC_QUERY_TOPIC, channel, NULL, "TOPIC", params, 1);
}

/* kick(channel, nick, reason?) */
static void irc_method_kick(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *channel = irc_arg(call, 0), *nick = irc_arg(call, 1), *reason = irc_arg(call, 2);
	const char *params[] = { channel, nick, reason };

	if (!irc_check_channel(call, irc, "channel", channel) || !irc_check_nick(call, irc, "nick", nick) ||
	    !irc_check_line(call, "reason", reason))
		return;
	irc_action(irc, call, IRC_QUERY_KICK, channel, nick, "KICK", params, reason ? 3 : 2);
}

/* Send a checked MODE; its arguments (the nicks a refusal may name) go
 * with the action as one space-separated list. */
static void irc_mode_send(struct irc *irc, struct call *call, const char *const *params, unsigned n)
{
	size_t len = 1;
	char *args;

	for (unsigned i = 2; i < n; i++)
		len += strlen(params[i]) + 1;
	args = calloc(1, len);
	if (!args) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	for (unsigned i = 2; i < n; i++) {
		strcat(args, params[i]);
		strcat(args, " ");
	}
	irc_action(irc, call, IRC_QUERY_MODE, params[0], args, "MODE", params, n);
	free(args);
}

/* mode(target, modes, args...) */
static void irc_method_mode(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *params[2 + IRC_METHODS_MODE_ARGS];
	unsigned n = call_arg_count(call);

	params[0] = irc_arg(call, 0);
	params[1] = irc_arg(call, 1);
	if (!irc_check_target(call, irc, params[0]))
		return;
	if (!params[1][0] || strspn(params[1], "+-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
				     strlen(params[1])) {
		irc_bad(call, "modes", "must be mode letters with + and -");
		return;
	}
	if (n - 2 > IRC_METHODS_MODE_ARGS) {
		irc_bad(call, "args", "holds too many mode arguments");
		return;
	}
	for (unsigned i = 2; i < n; i++) {
		params[i] = irc_arg(call, i);
		if (!irc_check_word(call, "args", params[i]))
			return;
	}
	irc_mode_send(irc, call, params, n);
}

/* invite(nick, channel) */
static void irc_method_invite(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *params[] = { irc_arg(call, 0), irc_arg(call, 1) };

	if (!irc_check_nick(call, irc, "nick", params[0]) || !irc_check_channel(call, irc, "channel", params[1]))
		return;
	irc_action(irc, call, IRC_QUERY_INVITE, params[1], params[0], "INVITE", params, 2);
}

/* ---- queries ---------------------------------------------------------------------- */

/* whois(nick, fn?): the server's answer, now or through fn(err, info). */
static void irc_method_whois(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *nick = irc_arg(call, 0);
	const char *params[] = { nick };

	if (!irc_check_nick(call, irc, "nick", nick) || !irc_check_registered(call, irc))
		return;
	irc_query_start(irc, call, IRC_QUERY_WHOIS, nick, call_get_fn_arg(call, 1), "WHOIS", params, 1);
}

/* names(channel): the members as the server lists them. */
static void irc_method_names(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *channel = irc_arg(call, 0);
	const char *params[] = { channel };

	if (!irc_check_channel(call, irc, "channel", channel) || !irc_check_registered(call, irc))
		return;
	irc_query_start(irc, call, IRC_QUERY_NAMES, channel, NULL, "NAMES", params, 1);
}

/* The queue priority of a raw line's command. */
static enum outq_prio irc_raw_prio(const char *cmd)
{
	if (strcmp(cmd, "PRIVMSG") == 0 || strcmp(cmd, "NOTICE") == 0)
		return OUTQ_NORMAL;
	if (strcmp(cmd, "PONG") == 0 || strcmp(cmd, "QUIT") == 0)
		return OUTQ_URGENT;
	return OUTQ_CONTROL;
}

/* raw(line): one line, checked, as it is. */
static void irc_method_raw(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *line = irc_arg(call, 0);
	struct irc_line *l = NULL;
	int r;

	if (strpbrk(line, "\r\n") || irc_line_too_long(line, IRC_LINE_MAX) || line[0] == '@' || line[0] == ':' ||
	    irc_line_parse(line, &l) < 0) {
		irc_line_free(l);
		irc_bad(call, "line", "must be one IRC command without tags or source, at most 510 bytes");
		return;
	}
	r = irc_send_line(irc->send, irc_raw_prio(irc_line_command(l)), line, irc_out_call_done, call);
	irc_line_free(l);
	if (r < 0)
		irc_out_call_fail(call, r);
}

/* ---- state ------------------------------------------------------------------------- */

/* Answer with json (taken), or Failed when building it failed. */
static void irc_return_json(struct call *call, cJSON *json)
{
	if (json)
		call_return_json(call, json);
	else
		call_fail(call, ERR_FAILED, "out of memory");
}

/* getNick(): the bot's nick, null while not registered. */
static void irc_method_get_nick(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	const char *nick = irc->registered ? irc_state_nick(irc->state) : NULL;

	irc_return_json(call, nick ? cJSON_CreateString(nick) : cJSON_CreateNull());
}

/* getChannels() */
static void irc_method_get_channels(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);

	irc_return_json(call, irc_state_channels_json(irc->state));
}

/* getUsers(channel) */
static void irc_method_get_users(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	bool found;
	cJSON *users = irc_state_users_json(irc->state, irc_arg(call, 0), &found);

	if (users && !found) {
		cJSON_Delete(users);
		irc_bad(call, "channel", "is not a channel the bot is in");
		return;
	}
	irc_return_json(call, users);
}

/* getState() */
static void irc_method_get_state(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	cJSON *o = cJSON_CreateObject();
	const char *server = link_get_server(irc->link);
	const char *nick = irc->registered ? irc_state_nick(irc->state) : NULL;
	int64_t since = link_get_since_wall(irc->link);
	char *caps = link_get_caps(irc->link);
	cJSON *capa = caps ? cJSON_CreateArray() : NULL;

	/* "a b c" as ["a","b","c"]. */
	for (char *p = caps, *save = NULL, *w; capa && (w = strtok_r(p, " ", &save)); p = NULL)
		cJSON_AddItemToArray(capa, cJSON_CreateString(w));
	free(caps);
	if (capa && o)
		cJSON_AddItemToObject(o, "caps", capa);
	else
		cJSON_Delete(capa);
	if (!o || !capa || !cJSON_AddStringToObject(o, "state", link_state_name(link_get_state(irc->link))) ||
	    !(server ? cJSON_AddStringToObject(o, "server", server) : cJSON_AddNullToObject(o, "server")) ||
	    !(nick ? cJSON_AddStringToObject(o, "nick", nick) : cJSON_AddNullToObject(o, "nick")) ||
	    !cJSON_AddNumberToObject(o, "since", (double)since) ||
	    !cJSON_AddNumberToObject(o, "queued", (double)irc_send_queued(irc->send))) {
		cJSON_Delete(o);
		o = NULL;
	}
	irc_return_json(call, o);
}

/* getIsupport(): the tokens in force. */
static void irc_method_get_isupport(struct object *obj, struct call *call)
{
	struct irc *irc = object_get_userdata(obj);
	cJSON *all = isupport_to_json(irc_is(irc));
	cJSON *tokens = all ? cJSON_DetachItemFromObject(all, "tokens") : NULL;

	cJSON_Delete(all);
	irc_return_json(call, tokens);
}

/* ---- the table ---------------------------------------------------------------------- */

static const struct object_arg irc_args_target_text[] = {
	{ .name = "target", .type = OBJECT_TYPE_STRING },
	{ .name = "text", .type = OBJECT_TYPE_STRING },
	{ 0 },
};
static const struct object_arg irc_args_ctcp[] = {
	{ .name = "target", .type = OBJECT_TYPE_STRING },
	{ .name = "command", .type = OBJECT_TYPE_STRING },
	{ .name = "args", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg irc_args_join[] = {
	{ .name = "channel", .type = OBJECT_TYPE_STRING },
	{ .name = "key", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg irc_args_part[] = {
	{ .name = "channel", .type = OBJECT_TYPE_STRING },
	{ .name = "reason", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg irc_args_nick[] = {
	{ .name = "nick", .type = OBJECT_TYPE_STRING },
	{ 0 },
};
static const struct object_arg irc_args_topic[] = {
	{ .name = "channel", .type = OBJECT_TYPE_STRING },
	{ .name = "text", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg irc_args_kick[] = {
	{ .name = "channel", .type = OBJECT_TYPE_STRING },
	{ .name = "nick", .type = OBJECT_TYPE_STRING },
	{ .name = "reason", .type = OBJECT_TYPE_STRING, .optional = true },
	{ 0 },
};
static const struct object_arg irc_args_mode[] = {
	{ .name = "target", .type = OBJECT_TYPE_STRING },
	{ .name = "modes", .type = OBJECT_TYPE_STRING },
	{ .name = "args", .type = OBJECT_TYPE_STRING, .rest = true },
	{ 0 },
};
static const struct object_arg irc_args_invite[] = {
	{ .name = "nick", .type = OBJECT_TYPE_STRING },
	{ .name = "channel", .type = OBJECT_TYPE_STRING },
	{ 0 },
};
static const struct object_arg irc_args_whois[] = {
	{ .name = "nick", .type = OBJECT_TYPE_STRING },
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_ONCE, .optional = true },
	{ 0 },
};
static const struct object_arg irc_args_channel[] = {
	{ .name = "channel", .type = OBJECT_TYPE_STRING },
	{ 0 },
};
static const struct object_arg irc_args_raw[] = {
	{ .name = "line", .type = OBJECT_TYPE_STRING },
	{ 0 },
};

static const struct object_method irc_methods[] = {
	{ "say", "sends text (PRIVMSG), one message per line; null once every line is written",
	  irc_args_target_text, "null", false, irc_method_say },
	{ "notice", "sends text as NOTICE; null once every line is written", irc_args_target_text, "null", false,
	  irc_method_notice },
	{ "action", "sends text as CTCP ACTION (/me); null once every line is written", irc_args_target_text,
	  "null", false, irc_method_action },
	{ "ctcp", "sends a CTCP request; null once written", irc_args_ctcp, "null", false, irc_method_ctcp },
	{ "ctcpReply", "sends a CTCP reply (NOTICE); null once written", irc_args_ctcp, "null", false,
	  irc_method_ctcp_reply },
	{ "join", "joins a channel; null once the server confirms, ServerRefused when it refuses", irc_args_join,
	  "null", false, irc_method_join },
	{ "part", "leaves a channel (not rejoined); null unless the server refuses (ServerRefused)",
	  irc_args_part, "null", false, irc_method_part },
	{ "nick", "changes the bot's nick; null once the server confirms, ServerRefused when it refuses",
	  irc_args_nick, "null", false, irc_method_nick },
	{ "topic", "without text: {channel, topic, setter, time}; with text: sets it, null unless the server "
		   "refuses (ServerRefused)",
	  irc_args_topic, "any", false, irc_method_topic },
	{ "kick", "kicks nick from channel; null unless the server refuses (ServerRefused)", irc_args_kick,
	  "null", false, irc_method_kick },
	{ "mode", "sets modes; null unless the server refuses (ServerRefused)", irc_args_mode, "null", false,
	  irc_method_mode },
	{ "invite", "invites nick to channel; null unless the server refuses (ServerRefused)", irc_args_invite,
	  "null", false, irc_method_invite },
	{ "whois", "{nick, user, host, realname, server, account, channels, idle, signon, operator, away}; "
		   "with fn: null at once and fn(err, info) later", irc_args_whois, "any", false, irc_method_whois },
	{ "names", "[{nick, prefixes}] of channel as the server lists them", irc_args_channel, "array", false,
	  irc_method_names },
	{ "raw", "sends one validated line as it is; null once written", irc_args_raw, "null", true,
	  irc_method_raw },
	{ "getNick", "the bot's current nick (null while not registered)", NULL, "string", false,
	  irc_method_get_nick },
	{ "getChannels", "[{name, topic, users}] of the channels the bot is in", NULL, "array", false,
	  irc_method_get_channels },
	{ "getUsers", "[{nick, prefixes, user, host, account}] of a channel the bot is in", irc_args_channel,
	  "array", false, irc_method_get_users },
	{ "getState", "{state, server, nick, since, queued, caps}", NULL, "object", false, irc_method_get_state },
	{ "getIsupport", "the server's ISUPPORT tokens", NULL, "object", false, irc_method_get_isupport },
	{ 0 },
};

/* The method table. */
const struct object_method *irc_methods_table(void)
{
	return irc_methods;
}
