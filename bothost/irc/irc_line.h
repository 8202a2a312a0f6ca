/* SPDX-License-Identifier: ISC */
/* One IRC protocol line: parsing what the server sends (IRCv3 tags, source,
 * command, parameters) and building what the bot sends, refusing anything
 * that could inject a second command.
 *
 * Lines are handled without their CRLF. Functions returning int give 0 (or a
 * count) on success and a negative errno code on failure; out-parameters
 * (ret_*) are set only on success. */
#ifndef BH_IRC_LINE_H
#define BH_IRC_LINE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest line a client may send, CRLF excluded (RFC 1459: 512 with CRLF). */
#define IRC_LINE_MAX 510
/* Longest tag section a server may send, '@' and the trailing space included. */
#define IRC_LINE_TAGS_MAX 8191

/* A parsed line; every string it returns lives as long as the line. */
struct irc_line;

/* Parse a line without CRLF into a new irc_line.
 * Tags: "@k=v;k2;+vendor/k3=v " with the value escapes \: \s \\ \r \n
 * undone (another escaped character stands for itself, a lone trailing
 * backslash is dropped); a key that is not [+][vendor/]name with name made of
 * letters, digits and '-' is skipped, as are empty entries; when a key
 * repeats, its last value wins; a tag without a value has the value "".
 * Source: ":name!user@host", any part after the name may be absent.
 * Command: letters (stored upper-cased) or exactly three digits.
 * Parameters: any number; the trailing one (after " :") may be empty or hold
 * spaces; runs of spaces between parameters are tolerated.
 * Returns 0, -EINVAL (no command, bad command, CR or LF inside) or -ENOMEM. */
int irc_line_parse(const char *line, struct irc_line **ret_line);
/* Free a line; NULL is allowed. Returns NULL. */
struct irc_line *irc_line_free(struct irc_line *l);

/* Number of tags, and the tag at index i (key and unescaped value):
 * 0, or -ENOENT past the end. */
size_t irc_line_tag_count(const struct irc_line *l);
int irc_line_tag_at(const struct irc_line *l, size_t i, const char **ret_key, const char **ret_value);
/* The unescaped value of tag key ("" when it has none), or NULL when absent. */
const char *irc_line_tag(const struct irc_line *l, const char *key);

/* The whole source without ':' (NULL when the line has none), and its parts:
 * the name (a nick, or a server name), the user and the host (NULL when
 * absent). */
const char *irc_line_source(const struct irc_line *l);
const char *irc_line_nick(const struct irc_line *l);
const char *irc_line_user(const struct irc_line *l);
const char *irc_line_host(const struct irc_line *l);

/* The command, upper-cased ("PRIVMSG", "005"). */
const char *irc_line_command(const struct irc_line *l);
/* The numeric reply code 0-999, or -1 when the command is a word. */
int irc_line_numeric(const struct irc_line *l);
/* Number of parameters, and parameter i (NULL when out of range). */
size_t irc_line_param_count(const struct irc_line *l);
const char *irc_line_param(const struct irc_line *l, size_t i);
/* The last parameter, or NULL when there are none. */
const char *irc_line_last_param(const struct irc_line *l);

/* The part of a raw line after its tag section and the spaces that follow
 * it (the line itself when it has no tags): a pointer into line. */
const char *irc_line_strip_tags(const char *line);
/* Whether line has more than limit bytes (it is not read past limit + 1). */
bool irc_line_too_long(const char *line, size_t limit);
/* The value of the hex digit c (either case), or -1: for the \xHH escapes
 * of ISUPPORT values and for TLS certificate fingerprints. */
int irc_line_hex_value(char c);

/* A parameter to send: len bytes at p (which may hold a NUL, refused). */
struct irc_str {
	const char *p;
	size_t len;
};

enum {
	IRC_LINE_COLON_ALWAYS = 1 << 0,	/* put ':' before the last parameter even if not needed */
};

/* Build "VERB p1 p2 :last" (no CRLF) into a new NUL-terminated string.
 * The verb must be letters or three digits. Refused with -EINVAL: CR, LF or
 * NUL in any parameter; a space or a leading ':' in a parameter that is not
 * the last; an empty parameter that is not the last. The last parameter gets
 * a ':' when it is empty, starts with ':' or holds a space, or when
 * IRC_LINE_COLON_ALWAYS is given. A line over IRC_LINE_MAX bytes is refused
 * with -EMSGSIZE. Returns 0 or -EINVAL, -EMSGSIZE, -ENOMEM. */
int irc_line_build(const char *verb, const struct irc_str *params, size_t n, unsigned flags,
		   char **ret_line, size_t *ret_len);
/* irc_line_build with C-string parameters ending with a NULL. */
int irc_line_buildv(char **ret_line, unsigned flags, const char *verb, ...)
	__attribute__((sentinel));

#endif
