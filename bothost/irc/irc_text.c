/* SPDX-License-Identifier: ISC */
/* Validation, splitting and CTCP framing of what the bot sends. */
#include "irc_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IRC_TEXT_LINE 512	/* an IRC line, CRLF included */

/* ---- names -------------------------------------------------------------- */

/* Whether c is a letter or one of the RFC 2812 nick specials. */
static bool irc_text_nick_first(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c && strchr("[]\\`_^{|}", c));
}

/* Whether s is a valid nick. */
bool irc_text_nick_valid(const struct isupport *is, const char *nick)
{
	size_t max = isupport_nicklen(is);
	size_t len = strlen(nick);

	if (len == 0 || (max && len > max) || !irc_text_nick_first(nick[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = nick[i];
		if (!irc_text_nick_first(c) && !(c >= '0' && c <= '9') && c != '-')
			return false;
	}
	return true;
}

/* Whether name starts with a channel type. */
bool irc_text_is_channel(const struct isupport *is, const char *name)
{
	return name[0] && strchr(isupport_chantypes(is), name[0]);
}

/* Whether name is a valid channel. */
bool irc_text_channel_valid(const struct isupport *is, const char *name)
{
	size_t max = isupport_channellen(is);
	size_t len = strlen(name);

	if (!irc_text_is_channel(is, name) || len < 2 || (max && len > max))
		return false;
	return strcspn(name, " ,\a\r\n") == len;
}

/* Whether target is a valid channel or nick. */
bool irc_text_target_valid(const struct isupport *is, const char *target)
{
	if (irc_text_is_channel(is, target))
		return irc_text_channel_valid(is, target);
	return irc_text_nick_valid(is, target);
}

/* Whether s can be a parameter other than the last. */
bool irc_text_word_valid(const char *s)
{
	return s[0] && s[0] != ':' && strcspn(s, " \r\n") == strlen(s);
}

/* Whether s can be a one-line last parameter. */
bool irc_text_line_valid(const char *s)
{
	return !strpbrk(s, "\r\n");
}

/* Glob match with backtracking to the last '*' only (linear in practice). */
bool irc_text_mask_match(enum isupport_casemap cm, const char *mask, const char *name)
{
	const char *star = NULL, *retry = NULL;

	while (*name) {
		if (*mask == '*') {
			star = ++mask;
			retry = name;
		} else if (*mask && (*mask == '?' || isupport_casemap_lower_char(cm, *mask) ==
							 isupport_casemap_lower_char(cm, *name))) {
			mask++;
			name++;
		} else if (star) {
			mask = star;
			name = ++retry;
		} else {
			return false;
		}
	}
	while (*mask == '*')
		mask++;
	return *mask == '\0';
}

/* ---- text --------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (at most len bytes), or 1 for a byte
 * that does not start a valid one; *ret_valid says which. */
static size_t irc_text_utf8_seq(const unsigned char *s, size_t len, bool *ret_valid)
{
	unsigned char c = s[0];
	uint32_t cp, min;
	size_t n;

	*ret_valid = c < 0x80;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1fu, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 3, cp = c & 0x0fu, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07u, min = 0x10000;
	else
		return 1;
	if (len < n)
		return 1;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 1;
	*ret_valid = true;
	return n;
}

/* Whether s is valid UTF-8. */
bool irc_text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		bool valid;
		i += irc_text_utf8_seq(u + i, len - i, &valid);
		if (!valid)
			return false;
	}
	return true;
}

/* The code point a byte from 0x80 to 0x9F stands for in Windows-1252; its
 * five unassigned bytes stay the C1 controls of the same value. */
static const uint16_t irc_text_cp1252_c1[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* The code point of byte c (0x80 or above) under fallback. */
static uint32_t irc_text_fallback_cp(unsigned char c, enum irc_text_fallback fallback)
{
	switch (fallback) {
	case IRC_TEXT_CP1252:
		return c < 0xA0 ? irc_text_cp1252_c1[c - 0x80] : c;
	case IRC_TEXT_LATIN1:
		return c;
	case IRC_TEXT_REPLACE:
		break;
	}
	return 0xFFFD;
}

/* Write code point cp (below 0x10000) as UTF-8 at out; its length. */
static size_t irc_text_put_utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	out[0] = (char)(0xE0 | cp >> 12);
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[2] = (char)(0x80 | (cp & 0x3F));
	return 3;
}

/* Text from IRC as valid UTF-8, other bytes read by the fallback. */
int irc_text_decode(const char *s, size_t len, enum irc_text_fallback fallback, char **ret_text,
		    size_t *ret_len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;
	char *out;

	if (irc_text_utf8_valid(s, len))
		return 0;
	/* Each byte becomes at most three. */
	out = malloc(3 * len + 1);
	if (!out)
		return -ENOMEM;
	while (i < len) {
		bool valid;
		size_t n = irc_text_utf8_seq(u + i, len - i, &valid);
		if (valid) {
			memcpy(out + o, s + i, n);
			o += n;
		} else {
			o += irc_text_put_utf8(irc_text_fallback_cp(u[i], fallback), out + o);
		}
		i += n;
	}
	out[o] = '\0';
	*ret_text = out;
	if (ret_len)
		*ret_len = o;
	return 1;
}

/* Whether text leaves at least one line under the text rule. */
int irc_text_check(const char *text)
{
	return strspn(text, "\r\n") == strlen(text) ? -EINVAL : 0;
}

/* Where the first chunk of s ends. */
size_t irc_text_cut(const char *s, size_t len, size_t budget, size_t *ret_next)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t hard = 0;

	if (len <= budget) {
		*ret_next = len;
		return len;
	}
	while (hard < len) {
		bool valid;
		size_t n = irc_text_utf8_seq(u + hard, len - hard, &valid);
		if (hard + n > budget)
			break;
		hard += n;
	}
	/* A space is one byte that no UTF-8 sequence contains: a safe cut. */
	for (size_t p = hard; p > 0 && p >= hard - hard / 4; p--) {
		if (s[p] == ' ') {
			*ret_next = p + 1;
			return p;
		}
	}
	*ret_next = hard;
	return hard;
}

struct irc_text_lines {
	char **v;
	size_t n, cap;
};

/* Append a copy of len bytes at s to lines (keeping room for the NULL). */
static int irc_text_lines_add(struct irc_text_lines *lines, const char *s, size_t len)
{
	char *copy;

	if (lines->n + 1 >= lines->cap) {
		size_t cap = lines->cap ? lines->cap * 2 : 8;
		char **v = realloc(lines->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		lines->v = v;
		lines->cap = cap;
	}
	copy = strndup(s, len);
	if (!copy)
		return -ENOMEM;
	lines->v[lines->n++] = copy;
	lines->v[lines->n] = NULL;
	return 0;
}

/* Cut one line (no CR or LF, len > 0) into chunks appended to lines. */
static int irc_text_split_line(struct irc_text_lines *lines, const char *s, size_t len, size_t budget)
{
	while (len > 0) {
		size_t next;
		size_t n = irc_text_cut(s, len, budget, &next);
		int r = irc_text_lines_add(lines, s, n);
		if (r < 0)
			return r;
		s += next;
		len -= next;
	}
	return 0;
}

/* A copy of text without its CRs. */
static char *irc_text_strip_cr(const char *text)
{
	char *copy = malloc(strlen(text) + 1);
	char *out = copy;

	if (!copy)
		return NULL;
	for (; *text; text++) {
		if (*text != '\r')
			*out++ = *text;
	}
	*out = '\0';
	return copy;
}

/* Apply the text rule and cut every line to the budget. */
int irc_text_split(const char *text, size_t budget, char ***ret_lines)
{
	struct irc_text_lines lines = { NULL, 0, 0 };
	char *copy = NULL;
	int r = -EINVAL;

	if (budget < IRC_TEXT_BUDGET_MIN || irc_text_check(text) < 0)
		goto fail;
	r = -ENOMEM;
	copy = irc_text_strip_cr(text);
	if (!copy)
		goto fail;
	for (char *line = copy; *line;) {
		size_t len = strcspn(line, "\n");
		r = irc_text_split_line(&lines, line, len, budget);
		if (r < 0)
			goto fail;
		line += len + (line[len] == '\n');
	}
	free(copy);
	*ret_lines = lines.v;
	return (int)lines.n;
fail:
	free(copy);
	irc_text_lines_free(lines.v);
	return r;
}

/* Free the lines of irc_text_split. */
char **irc_text_lines_free(char **lines)
{
	if (!lines)
		return NULL;
	for (char **p = lines; *p; p++)
		free(*p);
	free(lines);
	return NULL;
}

/* Text bytes left in a relayed line. */
size_t irc_text_budget(const char *command, const char *target, const char *nick,
		       const char *user, const char *host, const char *ctcp)
{
	size_t used = 2;	/* CRLF */

	used += 1 + (nick ? strlen(nick) : IRC_TEXT_NICK_GUESS);	/* ":nick" */
	used += 1 + (user ? strlen(user) : IRC_TEXT_USER_GUESS);	/* "!user" */
	used += 1 + (host ? strlen(host) : IRC_TEXT_HOST_GUESS) + 1;	/* "@host " */
	used += strlen(command) + 1 + strlen(target) + 2;		/* "CMD target :" */
	if (ctcp)
		used += 1 + strlen(ctcp) + 1 + 1;			/* "\001CTCP " "\001" */
	return used >= IRC_TEXT_LINE ? 0 : IRC_TEXT_LINE - used;
}

/* ---- CTCP --------------------------------------------------------------- */

/* Whether text is \001 followed by a command. */
bool irc_text_is_ctcp(const char *text)
{
	return text[0] == '\001' && text[1] != '\0' && text[1] != '\001' && text[1] != ' ';
}

/* Wrap a CTCP command and its arguments. */
int irc_text_ctcp_wrap(const char *cmd, const char *args, char **ret_text)
{
	size_t clen = strlen(cmd);
	size_t alen = args ? strlen(args) : 0;
	char *text, *out;

	if (clen == 0 || strcspn(cmd, " \001\r\n") != clen || strcspn(args ? args : "", "\001\r\n") != alen)
		return -EINVAL;
	text = malloc(clen + alen + 4);
	if (!text)
		return -ENOMEM;
	out = text;
	*out++ = '\001';
	out = stpcpy(out, cmd);
	if (alen) {
		*out++ = ' ';
		out = stpcpy(out, args);
	}
	*out++ = '\001';
	*out = '\0';
	*ret_text = text;
	return 0;
}

/* Split a CTCP into its command and arguments. */
int irc_text_ctcp_unwrap(const char *text, char **ret_cmd, char **ret_args)
{
	const char *body = text + 1;
	size_t blen, clen;
	char *cmd, *args;

	if (!irc_text_is_ctcp(text))
		return -EINVAL;
	blen = strcspn(body, "\001");
	clen = strcspn(body, " \001");
	cmd = strndup(body, clen);
	args = clen < blen ? strndup(body + clen + 1, blen - clen - 1) : strdup("");
	if (!cmd || !args) {
		free(cmd);
		free(args);
		return -ENOMEM;
	}
	for (char *p = cmd; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	*ret_cmd = cmd;
	*ret_args = args;
	return 0;
}
