/* SPDX-License-Identifier: ISC */
/* Checking and shaping what clients ask the bot to send: nicks, channels,
 * targets, masks, message text (split to fit one IRC line each) and CTCP.
 *
 * The text rule. A message text is a C string, so it cannot hold a NUL (a
 * text with one arrives cut there; the JSON layer must refuse "\u0000"
 * before it gets here). Every CR is removed; every LF ends a line and each
 * line becomes its own message; empty lines are dropped. A text that leaves
 * no line (empty, or only CR and LF) is refused with -EINVAL: IRC has no
 * empty PRIVMSG. Lines too long for one message are cut by irc_text_cut.
 *
 * Functions returning int give 0 (or a count) on success and a negative errno
 * code on failure; out-parameters (ret_*) are set only on success. */
#ifndef BH_IRC_TEXT_H
#define BH_IRC_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "isupport.h"

/* Assumed when the bot's relayed user or host is not known yet. */
#define IRC_TEXT_USER_GUESS 10
#define IRC_TEXT_HOST_GUESS 63
/* Assumed when the bot's nick is not known. */
#define IRC_TEXT_NICK_GUESS 30
/* The smallest budget irc_text_split accepts: one UTF-8 sequence. */
#define IRC_TEXT_BUDGET_MIN 4

/* ---- names -------------------------------------------------------------- */

/* A nick: letters, digits, "[]\`_^{|}" and '-', not starting with a digit or
 * '-', 1 to NICKLEN bytes (NICKLEN 0: no limit). */
bool irc_text_nick_valid(const struct isupport *is, const char *nick);
/* Whether name starts with one of CHANTYPES (its shape is not checked). */
bool irc_text_is_channel(const struct isupport *is, const char *name);
/* A channel: a CHANTYPES character then at least one byte, none of them a
 * space, comma, BEL, CR or LF; at most CHANNELLEN bytes (0: no limit). */
bool irc_text_channel_valid(const struct isupport *is, const char *name);
/* A target of PRIVMSG/NOTICE: a valid channel, or else a valid nick. */
bool irc_text_target_valid(const struct isupport *is, const char *target);
/* A parameter that is not the last one (a channel key, a mode argument):
 * non-empty, no space, CR or LF, not starting with ':'. */
bool irc_text_word_valid(const char *s);
/* A one-line last parameter (a reason, a topic): no CR or LF. */
bool irc_text_line_valid(const char *s);
/* Whether name ("nick!user@host") matches mask, where '*' stands for any run
 * of bytes and '?' for one byte, comparing under casemapping cm. */
bool irc_text_mask_match(enum isupport_casemap cm, const char *mask, const char *name);

/* ---- text --------------------------------------------------------------- */

/* Whether s (len bytes) is valid UTF-8 (no overlongs, no surrogates). */
bool irc_text_utf8_valid(const char *s, size_t len);
/* How irc_text_decode reads a byte that is not part of valid UTF-8. */
enum irc_text_fallback {
	IRC_TEXT_CP1252,	/* Windows-1252 (its five holes as U+0081 ... U+009D) */
	IRC_TEXT_LATIN1,	/* ISO 8859-1: the byte is the code point */
	IRC_TEXT_REPLACE,	/* U+FFFD, the replacement character */
};
/* Text from IRC as valid UTF-8: every valid UTF-8 sequence of s (len
 * bytes) is kept, every other byte is read as fallback says. Returns 0 when
 * s is valid UTF-8 already (nothing allocated), 1 with *ret_text a new
 * NUL-terminated string (*ret_len its length) when bytes were decoded, or
 * -ENOMEM. */
int irc_text_decode(const char *s, size_t len, enum irc_text_fallback fallback, char **ret_text,
		    size_t *ret_len);
/* Check text against the text rule: 0, or -EINVAL when it leaves no line. */
int irc_text_check(const char *text);
/* Where to cut the first chunk of s (len bytes, one line) to fit budget
 * bytes: returns the chunk's length and sets *ret_next to where the next
 * chunk starts. A chunk never ends inside a valid UTF-8 sequence (invalid
 * bytes count as sequences of one byte). When s does not fit, the cut goes
 * at the last space in the last quarter of the chunk (or just after it) and
 * that space is dropped (*ret_next is one past the chunk), else as late as
 * possible. Returns 0 only for len 0; budget must be at least
 * IRC_TEXT_BUDGET_MIN for every chunk to be non-empty. */
size_t irc_text_cut(const char *s, size_t len, size_t budget, size_t *ret_next);
/* Apply the text rule to text and cut every line to budget bytes: a new
 * NULL-terminated array of new strings, free with irc_text_lines_free.
 * Returns the number of lines, -EINVAL (no line, or budget below
 * IRC_TEXT_BUDGET_MIN) or -ENOMEM. */
int irc_text_split(const char *text, size_t budget, char ***ret_lines);
/* Free an array from irc_text_split; NULL is allowed. Returns NULL. */
char **irc_text_lines_free(char **lines);

/* Bytes of text that fit in one "COMMAND target :text" as the server relays
 * it to others: 512 minus CRLF, ":nick!user@host ", "COMMAND target :",
 * and, when ctcp is not NULL, the "\001CTCP " and "\001" around the text.
 * A NULL nick, user or host counts IRC_TEXT_*_GUESS bytes. Returns 0 when
 * nothing fits. */
size_t irc_text_budget(const char *command, const char *target, const char *nick,
		       const char *user, const char *host, const char *ctcp);

/* ---- CTCP --------------------------------------------------------------- */

/* Whether a PRIVMSG/NOTICE text is a CTCP: \001 then a command. */
bool irc_text_is_ctcp(const char *text);
/* "\001CMD args\001" ("\001CMD\001" when args is NULL or empty) in a new
 * string. cmd must be non-empty without space, \001, CR or LF; args without
 * \001, CR or LF. Returns 0, -EINVAL or -ENOMEM. */
int irc_text_ctcp_wrap(const char *cmd, const char *args, char **ret_text);
/* Split a CTCP text into its command (upper-cased) and arguments ("" when
 * none), each a new string; the closing \001 may be missing and anything
 * after it is ignored. Returns 0, -EINVAL (not a CTCP) or -ENOMEM. */
int irc_text_ctcp_unwrap(const char *text, char **ret_cmd, char **ret_args);

#endif
