/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: one IRC line to the program's callbacks, with the event
 * names, origins and parameters libircclient 1.9 gives. The host reports every
 * line it receives (irc `line` event, tags already stripped); this module
 * decides which callback it is, as libircclient would, with three
 * differences written in docs/IRCCLIENT.md: every parameter is given (1.9
 * keeps 10), "private" means addressed to the bot's whole nick (1.9 compares
 * a prefix), and the CTCP requests the host answers itself (VERSION, PING,
 * TIME, CLIENTINFO) reach no callback. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ircclient-internal.h"

#define IC_PARAMS_MAX 15	/* RFC 1459: at most 15 parameters */

/* A line cut into its parts, in a copy of its own. */
struct ic_line {
	char *buf;
	const char *origin;	/* NULL without a source */
	const char *command;
	unsigned int code;	/* a numeric's number, else 0 */
	const char *params[IC_PARAMS_MAX + 1];
	unsigned int count;
};

/* Whether two nicks or channels are equal, ignoring ASCII case. */
bool ic_name_eq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

/* Cut line into source, command and parameters; false for an empty line. */
static bool ic_line_parse(struct ic_line *l, const char *line, bool strip_nicks)
{
	char *p;

	memset(l, 0, sizeof *l);
	if (!(l->buf = strdup(line)))
		return false;
	p = l->buf;
	if (*p == ':') {
		l->origin = ++p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = '\0';
		if (strip_nicks)
			((char *)l->origin)[strcspn(l->origin, "!@")] = '\0';
	}
	while (*p == ' ')
		p++;
	l->command = p;
	p += strcspn(p, " ");
	if (*p)
		*p++ = '\0';
	if (!*l->command)
		return false;
	if (strlen(l->command) == 3 && strspn(l->command, "0123456789") == 3)
		l->code = (unsigned int)atoi(l->command);
	while (*p && l->count < IC_PARAMS_MAX) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p == ':') {
			l->params[l->count++] = p + 1;
			break;
		}
		l->params[l->count++] = p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = '\0';
	}
	return true;
}

/* Whether the CTCP request is one the host answers itself (and emits no event for). */
static bool ic_ctcp_host_answers(const char *ctcp)
{
	static const char *const answered[] = { "VERSION", "PING", "TIME", "CLIENTINFO" };
	size_t n = strcspn(ctcp, " ");

	for (size_t i = 0; i < sizeof answered / sizeof answered[0]; i++)
		if (strlen(answered[i]) == n && strncasecmp(ctcp, answered[i], n) == 0)
			return true;
	return false;
}

/* PRIVMSG: a CTCP request or action, or a message to a channel or to the bot. */
static void ic_privmsg(irc_session_t *s, struct ic_line *l)
{
	const char *text = l->params[1];
	size_t len;

	if (l->count < 2)
		return;
	len = strlen(text);
	if (len >= 2 && text[0] == '\001' && text[len - 1] == '\001') {
		char *ctcp = strndup(text + 1, len - 2);
		if (!ctcp)
			return;
		if (strncasecmp(ctcp, "DCC ", 4) == 0 || ic_ctcp_host_answers(ctcp)) {
			/* no DCC; the host answered already */
		} else if (strncasecmp(ctcp, "ACTION ", 7) == 0 && s->cb.event_ctcp_action) {
			const char *params[3] = { l->params[0], ctcp + 7, NULL };
			s->cb.event_ctcp_action(s, "ACTION", l->origin, params, 2);
		} else if (s->cb.event_ctcp_req) {
			const char *params[2] = { ctcp, NULL };
			s->cb.event_ctcp_req(s, "CTCP", l->origin, params, 1);
		}
		free(ctcp);
	} else if (ic_name_eq(l->params[0], s->nick)) {
		if (s->cb.event_privmsg)
			s->cb.event_privmsg(s, "PRIVMSG", l->origin, l->params, l->count);
	} else if (s->cb.event_channel) {
		s->cb.event_channel(s, "CHANNEL", l->origin, l->params, l->count);
	}
}

/* NOTICE: a CTCP reply, or a notice to the bot or to a channel. */
static void ic_notice(irc_session_t *s, struct ic_line *l)
{
	const char *text = l->count >= 2 ? l->params[1] : "";
	size_t len = strlen(text);

	if (l->count >= 2 && len >= 2 && text[0] == '\001' && text[len - 1] == '\001') {
		char *ctcp = strndup(text + 1, len - 2);
		const char *params[2] = { ctcp, NULL };
		if (ctcp && s->cb.event_ctcp_rep)
			s->cb.event_ctcp_rep(s, "CTCP", l->origin, params, 1);
		free(ctcp);
	} else if (ic_name_eq(l->params[0], s->nick)) {
		if (s->cb.event_notice)
			s->cb.event_notice(s, "NOTICE", l->origin, l->params, l->count);
	} else if (s->cb.event_channel_notice) {
		s->cb.event_channel_notice(s, "NOTICE", l->origin, l->params, l->count);
	}
}

/* NICK: follow the bot's own nick, then tell. */
static void ic_nick(irc_session_t *s, struct ic_line *l)
{
	char old[256];

	if (l->origin && l->count > 0) {
		irc_target_get_nick(l->origin, old, sizeof old);
		if (ic_name_eq(old, s->nick)) {
			char *n = strdup(l->params[0]);
			if (n) {
				free(s->nick);
				s->nick = n;
			}
		}
	}
	if (s->cb.event_nick)
		s->cb.event_nick(s, "NICK", l->origin, l->params, l->count);
}

/* MODE: of the bot (umode: the modes only) or of a channel. */
static void ic_mode(irc_session_t *s, struct ic_line *l)
{
	if (l->count > 0 && ic_name_eq(l->params[0], s->nick)) {
		const char *params[2] = { l->params[1], NULL };
		if (s->cb.event_umode)
			s->cb.event_umode(s, "MODE", l->origin, params, 1);
	} else if (s->cb.event_mode) {
		s->cb.event_mode(s, "MODE", l->origin, l->params, l->count);
	}
}

/* The callback of a command that only passes the line on, or NULL. */
static irc_event_callback_t ic_plain(irc_session_t *s, const char *command, bool *known)
{
	static const struct {
		const char *name;
		size_t offset;
	} plain[] = {
		{ "QUIT", offsetof(irc_callbacks_t, event_quit) },
		{ "JOIN", offsetof(irc_callbacks_t, event_join) },
		{ "PART", offsetof(irc_callbacks_t, event_part) },
		{ "TOPIC", offsetof(irc_callbacks_t, event_topic) },
		{ "KICK", offsetof(irc_callbacks_t, event_kick) },
		{ "INVITE", offsetof(irc_callbacks_t, event_invite) },
	};

	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (strcmp(command, plain[i].name) == 0) {
			*known = true;
			return *(irc_event_callback_t *)((char *)&s->cb + plain[i].offset);
		}
	*known = false;
	return NULL;
}

/* Dispatch one IRC line as libircclient 1.9 would. */
void ic_dispatch_line(irc_session_t *s, const char *line)
{
	struct ic_line l;
	irc_event_callback_t cb;
	bool known;

	if (!ic_line_parse(&l, line, s->options & LIBIRC_OPTION_STRIPNICKS))
		goto out;
	if (l.code) {
		if (s->cb.event_numeric)
			s->cb.event_numeric(s, l.code, l.origin, l.params, l.count);
	} else if (strcmp(l.command, "PING") == 0 || strcmp(l.command, "KILL") == 0) {
		/* the host answers PING; 1.9 ignores KILL */
	} else if (strcmp(l.command, "PRIVMSG") == 0) {
		ic_privmsg(s, &l);
	} else if (strcmp(l.command, "NOTICE") == 0) {
		ic_notice(s, &l);
	} else if (strcmp(l.command, "NICK") == 0) {
		ic_nick(s, &l);
	} else if (strcmp(l.command, "MODE") == 0) {
		ic_mode(s, &l);
	} else if ((cb = ic_plain(s, l.command, &known)) || known) {
		if (cb)
			cb(s, l.command, l.origin, l.params, l.count);
	} else if (s->cb.event_unknown) {
		s->cb.event_unknown(s, l.command, l.origin, l.params, l.count);
	}
out:
	free(l.buf);
}

/* libircclient's answers to CTCP requests: PING, VERSION, FINGER, TIME (the
 * host answers VERSION, PING and TIME before they reach a session). */
void irc_event_ctcp_internal(irc_session_t *s, const char *event, const char *origin, const char **params,
			     unsigned int count)
{
	char nick[128], text[256];

	if (!s || !origin || count < 1 || !params[0])
		return;
	irc_target_get_nick(origin, nick, sizeof nick);
	if (strncmp(params[0], "PING", 4) == 0) {
		irc_cmd_ctcp_reply(s, nick, params[0]);
	} else if (strcmp(params[0], "VERSION") == 0) {
		if (s->ctcp_version)
			snprintf(text, sizeof text, "VERSION %s", s->ctcp_version);
		else
			snprintf(text, sizeof text, "VERSION libircclient by Georgy Yunaev ver.1.9");
		irc_cmd_ctcp_reply(s, nick, text);
	} else if (strcmp(params[0], "FINGER") == 0) {
		irc_cmd_ctcp_reply(s, nick, "FINGER nobody (noname) Idle 0 seconds");
	} else if (strcmp(params[0], "TIME") == 0) {
		time_t now = time(NULL);
		struct tm tm;
		if (localtime_r(&now, &tm) && strftime(text, sizeof text, "%a %b %d %H:%M:%S %Z %Y", &tm))
			irc_cmd_ctcp_reply(s, nick, text);
	}
}
