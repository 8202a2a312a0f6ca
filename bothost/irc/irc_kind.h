/* SPDX-License-Identifier: ISC */
/* Which event an IRC line is, from bothost's own parse (irc_line.h).
 *
 * The dispatch of libircclient 1.9 (libirc_process_incoming_data), without
 * the library: one parse per line on the host. The irc object's events take
 * their data from the same struct irc_line; see "libircclient in bothost"
 * in docs/ARCHITECTURE.md for why the library is no longer fed the lines. */
#ifndef BOTHOST_IRC_KIND_H
#define BOTHOST_IRC_KIND_H

struct irc_line;

enum irc_kind {
	IRC_KIND_NONE,		/* no event: PING, KILL, CAP, an unknown command, a line without source */
	IRC_KIND_MESSAGE,	/* PRIVMSG with a text that is not CTCP */
	IRC_KIND_NOTICE,	/* NOTICE with a text, CTCP replies included */
	IRC_KIND_ACTION,	/* PRIVMSG "\001ACTION ...\001" */
	IRC_KIND_CTCP,		/* another CTCP request: PRIVMSG "\001...\001" */
	IRC_KIND_JOIN,
	IRC_KIND_PART,
	IRC_KIND_QUIT,
	IRC_KIND_KICK,
	IRC_KIND_NICK,
	IRC_KIND_TOPIC,
	IRC_KIND_MODE,		/* channel and user modes alike */
	IRC_KIND_INVITE,
	IRC_KIND_NUMERIC,	/* three digits */
};

/* Which event l is (pure; l from irc_line_parse). */
enum irc_kind irc_kind_of(const struct irc_line *l);
/* The kind's name ("none", "message", "ctcp", ...), for logs and tests. */
const char *irc_kind_name(enum irc_kind k);

#endif
