/* SPDX-License-Identifier: ISC */
/* Which event an IRC line is (see irc_kind.h).
 *
 * libircclient 1.9's rules, on bothost's parse: a numeric is a numeric; a
 * PRIVMSG or NOTICE needs a text; a PRIVMSG text that starts and ends with
 * \001 is CTCP ("ACTION " an action); NOTICE stays a notice (CTCP replies
 * included); PING and KILL give nothing, nor does a command the library
 * would report as unknown. Where the library guessed, the events decide:
 * channel or private by CHANTYPES and the bot's whole nick, user or channel
 * MODE alike. Unlike the library, a line's kind comes from its command only
 * (a command named "CHANNEL" is nobody's message), all parameters count, and
 * a DCC request is a CTCP request like another. Only a line with a source
 * makes a user's event (the library dereferenced it unchecked). */
#include "config.h"

#include "irc_kind.h"

#include <string.h>

#include "irc_line.h"

/* The commands whose kind is their name alone. */
static const struct {
	const char *command;
	enum irc_kind kind;
} irc_kind_commands[] = {
	{ "JOIN", IRC_KIND_JOIN },   { "PART", IRC_KIND_PART },   { "QUIT", IRC_KIND_QUIT },
	{ "KICK", IRC_KIND_KICK },   { "NICK", IRC_KIND_NICK },   { "TOPIC", IRC_KIND_TOPIC },
	{ "MODE", IRC_KIND_MODE },   { "INVITE", IRC_KIND_INVITE },
};

/* A PRIVMSG or NOTICE by its text. */
static enum irc_kind irc_kind_text(const char *command, const char *text)
{
	size_t len;

	if (!text || text[0] == '\0')
		return IRC_KIND_NONE;
	if (strcmp(command, "NOTICE") == 0)
		return IRC_KIND_NOTICE;
	len = strlen(text);
	if (text[0] != '\001' || text[len - 1] != '\001')
		return IRC_KIND_MESSAGE;
	return strncmp(text, "\001ACTION ", 8) == 0 ? IRC_KIND_ACTION : IRC_KIND_CTCP;
}

/* Which event l is. */
enum irc_kind irc_kind_of(const struct irc_line *l)
{
	const char *cmd;

	if (!l)
		return IRC_KIND_NONE;
	if (irc_line_numeric(l) >= 0)
		return IRC_KIND_NUMERIC;
	if (!irc_line_source(l))
		return IRC_KIND_NONE;
	cmd = irc_line_command(l);
	if (strcmp(cmd, "PRIVMSG") == 0 || strcmp(cmd, "NOTICE") == 0)
		return irc_kind_text(cmd, irc_line_param(l, 1));
	for (size_t i = 0; i < sizeof irc_kind_commands / sizeof irc_kind_commands[0]; i++)
		if (strcmp(cmd, irc_kind_commands[i].command) == 0)
			return irc_kind_commands[i].kind;
	return IRC_KIND_NONE;
}

/* The kind's name. */
const char *irc_kind_name(enum irc_kind k)
{
	static const char *const names[] = {
		[IRC_KIND_NONE] = "none",     [IRC_KIND_MESSAGE] = "message", [IRC_KIND_NOTICE] = "notice",
		[IRC_KIND_ACTION] = "action", [IRC_KIND_CTCP] = "ctcp",       [IRC_KIND_JOIN] = "join",
		[IRC_KIND_PART] = "part",     [IRC_KIND_QUIT] = "quit",       [IRC_KIND_KICK] = "kick",
		[IRC_KIND_NICK] = "nick",     [IRC_KIND_TOPIC] = "topic",     [IRC_KIND_MODE] = "mode",
		[IRC_KIND_INVITE] = "invite", [IRC_KIND_NUMERIC] = "numeric",
	};

	return (unsigned)k < sizeof names / sizeof names[0] && names[k] ? names[k] : "?";
}
