/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: irc_cmd_* and irc_send_raw as calls of the host's irc
 * object. A command is checked here first (NULL arguments, CR, LF: refused
 * with LIBIRC_ERR_INVAL, nothing sent), then sent without waiting: it returns
 * 0 once queued, as libircclient does. The host checks it again; a refusal
 * it answers later is kept for irc_errno(). DCC is not supported. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ircclient-internal.h"

/* libircclient's code for a protocol error the host answered. */
static int ic_error_code(const bk_error *e)
{
	const char *name = bk_error_name(e);

	if (!name)
		return LIBIRC_ERR_WRITE;
	if (strcmp(name, "InvalidArguments") == 0 || strcmp(name, "PermissionDenied") == 0)
		return LIBIRC_ERR_INVAL;
	if (strcmp(name, "NotConnected") == 0)
		return LIBIRC_ERR_STATE;
	if (strcmp(name, "LimitExceeded") == 0)
		return LIBIRC_ERR_NOMEM;
	if (strcmp(name, "Timeout") == 0)
		return LIBIRC_ERR_TIMEOUT;
	if (strcmp(name, "Disconnected") == 0)
		return LIBIRC_ERR_CLOSED;
	return LIBIRC_ERR_WRITE;
}

/* The host's answer to a command: keep a refusal (an IrcError reaches the
 * program as the server's numeric, as with libircclient). */
static void ic_reply_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	irc_session_t *s = userdata;

	if (s->pending > 0)
		s->pending--;
	if (err && strcmp(bk_error_name(err), "IrcError") != 0)
		s->lasterror = ic_error_code(err);
}

/* Call irc.method(args) without waiting (takes args); 0 or 1 with the error. */
int ic_call(irc_session_t *s, const char *method, cJSON *args)
{
	int r;

	if (!args)
		return ic_fail(s, LIBIRC_ERR_NOMEM);
	if (ic_check_attached(s)) {
		cJSON_Delete(args);
		return 1;
	}
	r = bk_call_json(s->conn, "irc", method, args, ic_reply_cb, s);
	cJSON_Delete(args);
	if (r < 0)
		return ic_fail(s, r == -ENOMEM ? LIBIRC_ERR_NOMEM : r == -EINVAL ? LIBIRC_ERR_INVAL
								  : LIBIRC_ERR_WRITE);
	s->pending++;
	/* Outside the loop's callbacks nothing else would write it soon. */
	if (s->depth == 0)
		bk_conn_flush(s->conn);
	return 0;
}

/* Whether a text may go into a command: present, and no CR or LF. */
static bool ic_text_ok(const char *t)
{
	return t && !strpbrk(t, "\r\n");
}

/* The arguments as a JSON array of strings, stopping at the first NULL. */
static cJSON *ic_args(int n, ...)
{
	cJSON *a = cJSON_CreateArray();
	va_list ap;

	va_start(ap, n);
	for (int i = 0; a && i < n; i++) {
		const char *v = va_arg(ap, const char *);
		if (!v)
			break;
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(v))) {
			cJSON_Delete(a);
			a = NULL;
		}
	}
	va_end(ap);
	return a;
}

/* Send a method with up to three string arguments (a NULL ends them), each
 * checked for CR and LF; `need` of them are required. */
static int ic_cmd(irc_session_t *s, const char *method, int need, const char *a, const char *b, const char *c)
{
	const char *v[3] = { a, b, c };

	if (!s)
		return 1;
	for (int i = 0; i < 3; i++)
		if ((i < need && !v[i]) || (v[i] && !ic_text_ok(v[i])))
			return ic_fail(s, LIBIRC_ERR_INVAL);
	return ic_call(s, method, ic_args(3, a, b, c));
}

/* Whether the bot is in channel now (the host's state). */
static bool ic_bot_in(irc_session_t *s, const char *channel)
{
	cJSON *chans = NULL;
	const cJSON *ch;
	bool in = false;

	if (bk_call_sync(s->conn, "irc", "getChannels", &chans, "") < 0)
		return false;
	cJSON_ArrayForEach(ch, chans)
		in = in || ic_name_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ch, "name")), channel);
	bk_json_delete(chans);
	return in;
}

/* "nick!user@host" of the bot as the host knows it in channel, or its nick. */
static char *ic_self_origin(irc_session_t *s, const char *channel)
{
	cJSON *users = NULL;
	const cJSON *u;
	char *origin = NULL;

	if (!s->nick)
		return NULL;
	if (!(s->options & LIBIRC_OPTION_STRIPNICKS) &&
	    bk_call_sync(s->conn, "irc", "getUsers", &users, "s", channel) == 0)
		cJSON_ArrayForEach(u, users) {
			const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(u, "nick"));
			const char *user = cJSON_GetStringValue(cJSON_GetObjectItem(u, "user"));
			const char *host = cJSON_GetStringValue(cJSON_GetObjectItem(u, "host"));
			if (!origin && ic_name_eq(n, s->nick) && user && host &&
			    asprintf(&origin, "%s!%s@%s", n, user, host) < 0)
				origin = NULL;
		}
	bk_json_delete(users);
	return origin ? origin : strdup(s->nick);
}

/* JOIN; a channel the bot is in already is not joined again, but the program
 * still gets its event_join (from the loop), as if it had joined. */
int irc_cmd_join(irc_session_t *s, const char *channel, const char *key)
{
	char *ch, *origin;

	if (!s)
		return 1;
	if (!channel || !ic_text_ok(channel) || (key && !ic_text_ok(key)))
		return ic_fail(s, LIBIRC_ERR_INVAL);
	if (ic_check_attached(s))
		return 1;
	if (!ic_bot_in(s, channel))
		return ic_cmd(s, "join", 1, channel, key, NULL);
	ch = strdup(channel);
	origin = ic_self_origin(s, channel);
	if (!ch || !origin || !ic_queue(s, IC_EV_SELF_JOIN, ch, origin))
		return ic_fail(s, LIBIRC_ERR_NOMEM);
	return 0;
}

/* QUIT ends this session once the host has answered every command sent
 * before it; the bot stays on IRC (the reason is not sent). */
int irc_cmd_quit(irc_session_t *s, const char *reason)
{
	if (ic_check_attached(s))
		return 1;
	s->state = IC_QUITTING;
	ic_queue_clear(s);
	return 0;
}

/* PART (the host does not rejoin the channel). */
int irc_cmd_part(irc_session_t *s, const char *channel)
{
	return ic_cmd(s, "part", 1, channel, NULL, NULL);
}

/* INVITE nick channel. */
int irc_cmd_invite(irc_session_t *s, const char *nick, const char *channel)
{
	return ic_cmd(s, "invite", 2, nick, channel, NULL);
}

/* NAMES: the replies come as numerics (353, 366). */
int irc_cmd_names(irc_session_t *s, const char *channel)
{
	return ic_cmd(s, "names", 1, channel, NULL, NULL);
}

/* LIST: the irc object has no method for it. */
int irc_cmd_list(irc_session_t *s, const char *channel)
{
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}

/* TOPIC: set (topic given; "" clears it) or ask (the reply comes as numerics). */
int irc_cmd_topic(irc_session_t *s, const char *channel, const char *topic)
{
	return ic_cmd(s, "topic", 1, channel, topic, NULL);
}

/* MODE target "modes args...": split into the irc object's arguments. */
static int ic_mode(irc_session_t *s, const char *target, const char *mode)
{
	cJSON *a;
	char *copy, *save = NULL;

	if (!s)
		return 1;
	if (!target || !mode)
		return ic_fail(s, target ? LIBIRC_ERR_NOTSUPPORTED : LIBIRC_ERR_INVAL);
	if (!ic_text_ok(target) || !ic_text_ok(mode))
		return ic_fail(s, LIBIRC_ERR_INVAL);
	if (!(a = ic_args(1, target)) || !(copy = strdup(mode))) {
		cJSON_Delete(a);
		return ic_fail(s, LIBIRC_ERR_NOMEM);
	}
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		cJSON_AddItemToArray(a, cJSON_CreateString(w));
	free(copy);
	if (cJSON_GetArraySize(a) < 2) {
		cJSON_Delete(a);
		return ic_fail(s, LIBIRC_ERR_INVAL);
	}
	return ic_call(s, "mode", a);
}

/* MODE of a channel (asking for the modes, mode NULL, is not supported). */
int irc_cmd_channel_mode(irc_session_t *s, const char *channel, const char *mode)
{
	return ic_mode(s, channel, mode);
}

/* MODE of the bot itself. */
int irc_cmd_user_mode(irc_session_t *s, const char *mode)
{
	if (s && !s->nick)
		return ic_fail(s, LIBIRC_ERR_STATE);
	return ic_mode(s, s ? s->nick : NULL, mode);
}

/* NICK: the host's nick changes (and stays the one it regains). */
int irc_cmd_nick(irc_session_t *s, const char *newnick)
{
	return ic_cmd(s, "nick", 1, newnick, NULL, NULL);
}

/* WHOIS: the replies come as numerics (311, 318...). */
int irc_cmd_whois(irc_session_t *s, const char *nick)
{
	return ic_cmd(s, "whois", 1, nick, NULL, NULL);
}

/* PRIVMSG. */
int irc_cmd_msg(irc_session_t *s, const char *nch, const char *text)
{
	return ic_cmd(s, "say", 2, nch, text, NULL);
}

/* CTCP ACTION. */
int irc_cmd_me(irc_session_t *s, const char *nch, const char *text)
{
	return ic_cmd(s, "action", 2, nch, text, NULL);
}

/* NOTICE. */
int irc_cmd_notice(irc_session_t *s, const char *nch, const char *text)
{
	return ic_cmd(s, "notice", 2, nch, text, NULL);
}

/* KICK nick from channel. */
int irc_cmd_kick(irc_session_t *s, const char *nick, const char *channel, const char *reason)
{
	return ic_cmd(s, "kick", 2, channel, nick, reason);
}

/* A CTCP request or reply "COMMAND args" as the irc object's (command, args). */
static int ic_ctcp(irc_session_t *s, const char *method, const char *nick, const char *text)
{
	char *cmd, *args;
	int r;

	if (!s)
		return 1;
	if (!nick || !ic_text_ok(nick) || !ic_text_ok(text) || !*text || strchr(text, '\001'))
		return ic_fail(s, LIBIRC_ERR_INVAL);
	if (!(cmd = strdup(text)))
		return ic_fail(s, LIBIRC_ERR_NOMEM);
	args = strchr(cmd, ' ');
	if (args)
		*args++ = '\0';
	r = ic_cmd(s, method, 2, nick, cmd, args);
	free(cmd);
	return r;
}

/* CTCP request. */
int irc_cmd_ctcp_request(irc_session_t *s, const char *nick, const char *request)
{
	return ic_ctcp(s, "ctcp", nick, request);
}

/* CTCP reply. */
int irc_cmd_ctcp_reply(irc_session_t *s, const char *nick, const char *reply)
{
	return ic_ctcp(s, "ctcpReply", nick, reply);
}

/* A raw line cut into its command and at most four parameters. */
struct ic_raw {
	char *cmd;
	char *p[4];
	int n;
};

/* Cut a raw line; false when it has a source, tags or too many parameters. */
static bool ic_raw_parse(char *line, struct ic_raw *r)
{
	char *p = line;

	memset(r, 0, sizeof *r);
	if (*p == ':' || *p == '@' || *p == ' ' || !*p)
		return false;
	r->cmd = p;
	p += strcspn(p, " ");
	while (*p) {
		*p++ = '\0';
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (r->n == 4)
			return false;
		if (*p == ':') {
			r->p[r->n++] = p + 1;
			break;
		}
		r->p[r->n++] = p;
		p += strcspn(p, " ");
	}
	return true;
}

/* PRIVMSG or NOTICE of a raw line: text, action, CTCP request or reply. */
static int ic_raw_text(irc_session_t *s, bool notice, const char *target, const char *text)
{
	size_t len = strlen(text);

	if (len >= 2 && text[0] == '\001' && text[len - 1] == '\001') {
		char *ctcp = strndup(text + 1, len - 2);
		int r;
		if (!ctcp)
			return ic_fail(s, LIBIRC_ERR_NOMEM);
		if (!notice && strncmp(ctcp, "ACTION ", 7) == 0)
			r = irc_cmd_me(s, target, ctcp + 7);
		else
			r = ic_ctcp(s, notice ? "ctcpReply" : "ctcp", target, ctcp);
		free(ctcp);
		return r;
	}
	return notice ? irc_cmd_notice(s, target, text) : irc_cmd_msg(s, target, text);
}

/* Map a parsed raw line to a command; LIBIRC_ERR_NOTSUPPORTED for the rest. */
static int ic_raw_send(irc_session_t *s, struct ic_raw *r)
{
	const char *c = r->cmd;
	int n = r->n;

	if (!strcasecmp(c, "PRIVMSG") && n == 2)
		return ic_raw_text(s, false, r->p[0], r->p[1]);
	if (!strcasecmp(c, "NOTICE") && n == 2)
		return ic_raw_text(s, true, r->p[0], r->p[1]);
	if (!strcasecmp(c, "JOIN") && (n == 1 || n == 2))
		return irc_cmd_join(s, r->p[0], r->p[1]);
	if (!strcasecmp(c, "PART") && (n == 1 || n == 2))
		return ic_cmd(s, "part", 1, r->p[0], r->p[1], NULL);
	if (!strcasecmp(c, "NICK") && n == 1)
		return irc_cmd_nick(s, r->p[0]);
	if (!strcasecmp(c, "TOPIC") && (n == 1 || n == 2))
		return irc_cmd_topic(s, r->p[0], r->p[1]);
	if (!strcasecmp(c, "KICK") && (n == 2 || n == 3))
		return irc_cmd_kick(s, r->p[1], r->p[0], r->p[2]);
	if (!strcasecmp(c, "INVITE") && n == 2)
		return irc_cmd_invite(s, r->p[0], r->p[1]);
	if (!strcasecmp(c, "WHOIS") && (n == 1 || n == 2))
		return irc_cmd_whois(s, r->p[n - 1]);
	if (!strcasecmp(c, "NAMES") && n == 1)
		return irc_cmd_names(s, r->p[0]);
	if (!strcasecmp(c, "QUIT") && n <= 1)
		return irc_cmd_quit(s, r->p[0]);
	if (!strcasecmp(c, "MODE") && n >= 2) {
		char modes[512];
		snprintf(modes, sizeof modes, "%s%s%s%s%s", r->p[1], n > 2 ? " " : "", n > 2 ? r->p[2] : "",
			 n > 3 ? " " : "", n > 3 ? r->p[3] : "");
		return ic_mode(s, r->p[0], modes);
	}
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}

/* One raw IRC command, printf-style, mapped to the irc object. */
int irc_send_raw(irc_session_t *s, const char *format, ...)
{
	struct ic_raw r;
	char *line = NULL;
	va_list ap;
	int n, ret;

	if (!s)
		return 1;
	if (!format)
		return ic_fail(s, LIBIRC_ERR_INVAL);
	if (ic_check_attached(s))
		return 1;
	va_start(ap, format);
	n = vasprintf(&line, format, ap);
	va_end(ap);
	if (n < 0)
		return ic_fail(s, LIBIRC_ERR_NOMEM);
	if ((size_t)n != strlen(line) || strpbrk(line, "\r\n") || !ic_raw_parse(line, &r))
		ret = ic_fail(s, LIBIRC_ERR_INVAL);
	else
		ret = ic_raw_send(s, &r);
	free(line);
	return ret;
}

/* DCC: not supported. */
int irc_dcc_chat(irc_session_t *s, void *ctx, const char *nick, irc_dcc_callback_t callback, irc_dcc_t *dccid)
{
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}

/* DCC: not supported. */
int irc_dcc_msg(irc_session_t *s, irc_dcc_t dccid, const char *text)
{
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}

/* DCC: not supported. */
int irc_dcc_accept(irc_session_t *s, irc_dcc_t dccid, void *ctx, irc_dcc_callback_t callback)
{
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}

/* DCC: not supported. */
int irc_dcc_decline(irc_session_t *s, irc_dcc_t dccid)
{
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}

/* DCC: not supported. */
int irc_dcc_sendfile(irc_session_t *s, void *ctx, const char *nick, const char *filename,
		     irc_dcc_callback_t callback, irc_dcc_t *dccid)
{
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}

/* DCC: not supported. */
int irc_dcc_destroy(irc_session_t *s, irc_dcc_t dccid)
{
	return ic_fail(s, LIBIRC_ERR_NOTSUPPORTED);
}
