/* SPDX-License-Identifier: ISC */
/* Parsing and building IRC protocol lines. */
#include "irc_line.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct irc_tag {
	char *key;
	char *value;
};

struct irc_line {
	char *buf;		/* copy of the line, cut up in place */
	char *source;		/* a separate copy: buf holds its split parts */
	char *nick, *user, *host;
	char *command;
	int numeric;
	struct irc_tag *tags;
	size_t ntags, tags_cap;
	char **params;
	size_t nparams, params_cap;
};

/* Whether c is an ASCII letter. */
static bool irc_line_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Whether c is an ASCII digit. */
static bool irc_line_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether s (len bytes) is a non-empty run of letters, digits and '-',
 * and '.' too when dots is set. */
static bool irc_line_key_part_valid(const char *s, size_t len, bool dots)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!irc_line_is_alpha(c) && !irc_line_is_digit(c) && c != '-' && !(dots && c == '.'))
			return false;
	}
	return true;
}

/* Whether key is a valid tag key: [+][vendor/]name. */
static bool irc_line_tag_key_valid(const char *key)
{
	const char *name = key + (key[0] == '+');
	const char *slash = strchr(name, '/');

	if (slash) {
		if (!irc_line_key_part_valid(name, (size_t)(slash - name), true))
			return false;
		name = slash + 1;
	}
	return irc_line_key_part_valid(name, strlen(name), false);
}

/* Undo the message-tags value escapes in place. */
static void irc_line_tag_unescape(char *v)
{
	char *out = v;

	for (const char *in = v; *in; in++) {
		if (*in != '\\') {
			*out++ = *in;
			continue;
		}
		in++;
		switch (*in) {
		case '\0': in--; break;	/* lone trailing backslash: dropped */
		case ':': *out++ = ';'; break;
		case 's': *out++ = ' '; break;
		case 'r': *out++ = '\r'; break;
		case 'n': *out++ = '\n'; break;
		default: *out++ = *in; break;	/* "\\" and unknown escapes */
		}
	}
	*out = '\0';
}

/* Append the tag key (repeats are merged once the section is parsed). */
static int irc_line_tag_add(struct irc_line *l, char *key, char *value)
{
	if (l->ntags == l->tags_cap) {
		size_t cap = l->tags_cap ? l->tags_cap * 2 : 8;
		struct irc_tag *t = realloc(l->tags, cap * sizeof *t);
		if (!t)
			return -ENOMEM;
		l->tags = t;
		l->tags_cap = cap;
	}
	l->tags[l->ntags].key = key;
	l->tags[l->ntags].value = value;
	l->ntags++;
	return 0;
}

/* qsort order of tag pointers: by key, then by position in the line. */
static int irc_line_tag_cmp(const void *a, const void *b)
{
	const struct irc_tag *x = *(const struct irc_tag *const *)a;
	const struct irc_tag *y = *(const struct irc_tag *const *)b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return (x > y) - (x < y);
}

/* Merge repeated keys in n log n: a key keeps its first place and takes
 * the value of its last occurrence. */
static int irc_line_tags_merge(struct irc_line *l)
{
	struct irc_tag **sorted;
	size_t n = 0;

	if (l->ntags < 2)
		return 0;
	sorted = malloc(l->ntags * sizeof *sorted);
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < l->ntags; i++)
		sorted[i] = &l->tags[i];
	qsort(sorted, l->ntags, sizeof *sorted, irc_line_tag_cmp);
	for (size_t i = 1; i < l->ntags; i++) {
		struct irc_tag *first = sorted[i - 1], *next = sorted[i];
		if (strcmp(first->key, next->key) != 0)
			continue;
		sorted[i] = first;	/* the run's first place travels along */
		first->value = next->value;
		next->key = NULL;
	}
	free(sorted);
	for (size_t i = 0; i < l->ntags; i++) {
		if (l->tags[i].key)
			l->tags[n++] = l->tags[i];
	}
	l->ntags = n;
	return 0;
}

/* Parse the tag section s (without '@' and the trailing space) in place. */
static int irc_line_parse_tags(struct irc_line *l, char *s)
{
	char *save = NULL;

	for (char *tag = strtok_r(s, ";", &save); tag; tag = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tag, '=');
		char *value = (char *)"";
		if (eq) {
			*eq = '\0';
			value = eq + 1;
			irc_line_tag_unescape(value);
		}
		if (!irc_line_tag_key_valid(tag))
			continue;
		int r = irc_line_tag_add(l, tag, value);
		if (r < 0)
			return r;
	}
	return irc_line_tags_merge(l);
}

/* Split the source "name!user@host" (copied first) into its parts in place. */
static int irc_line_parse_source(struct irc_line *l, char *s)
{
	char *at, *bang;

	l->source = strdup(s);
	if (!l->source)
		return -ENOMEM;
	at = strchr(s, '@');
	if (at) {
		*at = '\0';
		l->host = at + 1;
	}
	bang = strchr(s, '!');
	if (bang) {
		*bang = '\0';
		l->user = bang + 1;
	}
	l->nick = s;
	return 0;
}

/* Check and upper-case the command; set the numeric code for three digits. */
static int irc_line_parse_command(struct irc_line *l, char *s)
{
	size_t len = strlen(s);
	bool digits = len == 3 && irc_line_is_digit(s[0]) && irc_line_is_digit(s[1]) &&
		      irc_line_is_digit(s[2]);

	l->command = s;
	l->numeric = -1;
	if (digits) {
		l->numeric = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
		return 0;
	}
	if (len == 0)
		return -EINVAL;
	for (char *p = s; *p; p++) {
		if (!irc_line_is_alpha(*p))
			return -EINVAL;
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	return 0;
}

/* Append parameter p. */
static int irc_line_param_add(struct irc_line *l, char *p)
{
	if (l->nparams == l->params_cap) {
		size_t cap = l->params_cap ? l->params_cap * 2 : 16;
		char **v = realloc(l->params, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		l->params = v;
		l->params_cap = cap;
	}
	l->params[l->nparams++] = p;
	return 0;
}

/* Skip spaces. */
static char *irc_line_skip_spaces(char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* Cut the word at p at its first space; returns where the next one starts. */
static char *irc_line_cut_word(char *p)
{
	char *sp = strchr(p, ' ');

	if (!sp)
		return p + strlen(p);
	*sp = '\0';
	return sp + 1;
}

/* Parse the parameters starting at p. */
static int irc_line_parse_params(struct irc_line *l, char *p)
{
	for (;;) {
		p = irc_line_skip_spaces(p);
		if (*p == '\0')
			return 0;
		if (*p == ':')
			return irc_line_param_add(l, p + 1);
		char *word = p;
		p = irc_line_cut_word(p);
		int r = irc_line_param_add(l, word);
		if (r < 0)
			return r;
	}
}

/* Parse the copied line buf: tags, source, command, parameters. */
static int irc_line_parse_buf(struct irc_line *l, char *p)
{
	int r;

	if (*p == '@') {
		char *tags = p + 1;
		if (!strchr(p, ' '))
			return -EINVAL;
		p = irc_line_cut_word(p);
		r = irc_line_parse_tags(l, tags);
		if (r < 0)
			return r;
		p = irc_line_skip_spaces(p);
	}
	if (*p == ':') {
		char *source = p + 1;
		if (*source == ' ' || !strchr(p, ' '))
			return -EINVAL;
		p = irc_line_cut_word(p);
		r = irc_line_parse_source(l, source);
		if (r < 0)
			return r;
		p = irc_line_skip_spaces(p);
	}
	char *command = p;
	p = irc_line_cut_word(p);
	r = irc_line_parse_command(l, command);
	if (r < 0)
		return r;
	return irc_line_parse_params(l, p);
}

/* Parse a line (without CRLF) into a new irc_line. */
int irc_line_parse(const char *line, struct irc_line **ret_line)
{
	struct irc_line *l;
	int r;

	if (strpbrk(line, "\r\n"))
		return -EINVAL;
	l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->buf = strdup(line);
	if (!l->buf) {
		r = -ENOMEM;
		goto fail;
	}
	r = irc_line_parse_buf(l, l->buf);
	if (r < 0)
		goto fail;
	*ret_line = l;
	return 0;
fail:
	irc_line_free(l);
	return r;
}

/* Free a line and everything it returned. */
struct irc_line *irc_line_free(struct irc_line *l)
{
	if (!l)
		return NULL;
	free(l->buf);
	free(l->source);
	free(l->tags);
	free(l->params);
	free(l);
	return NULL;
}

/* Number of tags. */
size_t irc_line_tag_count(const struct irc_line *l)
{
	return l->ntags;
}

/* The tag at index i. */
int irc_line_tag_at(const struct irc_line *l, size_t i, const char **ret_key, const char **ret_value)
{
	if (i >= l->ntags)
		return -ENOENT;
	*ret_key = l->tags[i].key;
	*ret_value = l->tags[i].value;
	return 0;
}

/* The value of tag key, or NULL. */
const char *irc_line_tag(const struct irc_line *l, const char *key)
{
	for (size_t i = 0; i < l->ntags; i++) {
		if (strcmp(l->tags[i].key, key) == 0)
			return l->tags[i].value;
	}
	return NULL;
}

/* The whole source, or NULL. */
const char *irc_line_source(const struct irc_line *l)
{
	return l->source;
}

/* The name part of the source, or NULL. */
const char *irc_line_nick(const struct irc_line *l)
{
	return l->nick;
}

/* The user part of the source, or NULL. */
const char *irc_line_user(const struct irc_line *l)
{
	return l->user;
}

/* The host part of the source, or NULL. */
const char *irc_line_host(const struct irc_line *l)
{
	return l->host;
}

/* The upper-cased command. */
const char *irc_line_command(const struct irc_line *l)
{
	return l->command;
}

/* The numeric code, or -1. */
int irc_line_numeric(const struct irc_line *l)
{
	return l->numeric;
}

/* Number of parameters. */
size_t irc_line_param_count(const struct irc_line *l)
{
	return l->nparams;
}

/* Parameter i, or NULL. */
const char *irc_line_param(const struct irc_line *l, size_t i)
{
	return i < l->nparams ? l->params[i] : NULL;
}

/* The last parameter, or NULL. */
const char *irc_line_last_param(const struct irc_line *l)
{
	return l->nparams ? l->params[l->nparams - 1] : NULL;
}

/* The line after its tag section. */
const char *irc_line_strip_tags(const char *line)
{
	const char *sp;

	if (line[0] != '@')
		return line;
	sp = strchr(line, ' ');
	if (!sp)
		return line + strlen(line);
	while (*sp == ' ')
		sp++;
	return sp;
}

/* Whether line is longer than limit bytes. */
bool irc_line_too_long(const char *line, size_t limit)
{
	if (limit == (size_t)-1)
		return false;
	return strnlen(line, limit + 1) > limit;
}

/* The value of a hex digit, or -1. */
int irc_line_hex_value(char c)
{
	if (irc_line_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Whether verb is letters only or exactly three digits. */
static bool irc_line_verb_valid(const char *verb)
{
	size_t len = strlen(verb);
	bool letters = len > 0;

	for (size_t i = 0; i < len; i++)
		letters = letters && irc_line_is_alpha(verb[i]);
	if (letters)
		return true;
	return len == 3 && irc_line_is_digit(verb[0]) && irc_line_is_digit(verb[1]) &&
	       irc_line_is_digit(verb[2]);
}

/* Check parameter p; set *ret_colon when it needs a ':' (last only).
 * Returns 0 or -EINVAL. */
static int irc_line_param_check(const struct irc_str *p, bool last, unsigned flags, bool *ret_colon)
{
	bool space = p->len && memchr(p->p, ' ', p->len);
	bool leading_colon = p->len && p->p[0] == ':';

	if (p->len && (memchr(p->p, '\0', p->len) || memchr(p->p, '\r', p->len) ||
		       memchr(p->p, '\n', p->len)))
		return -EINVAL;
	if (!last) {
		if (p->len == 0 || space || leading_colon)
			return -EINVAL;
		*ret_colon = false;
		return 0;
	}
	*ret_colon = (flags & IRC_LINE_COLON_ALWAYS) || p->len == 0 || space || leading_colon;
	return 0;
}

/* Build a command line from a verb and checked parameters. */
int irc_line_build(const char *verb, const struct irc_str *params, size_t n, unsigned flags,
		   char **ret_line, size_t *ret_len)
{
	size_t len = strlen(verb);
	bool colon = false;
	char *line, *out;

	if (!irc_line_verb_valid(verb))
		return -EINVAL;
	if (len > IRC_LINE_MAX)
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++) {
		int r = irc_line_param_check(&params[i], i + 1 == n, flags, &colon);
		if (r < 0)
			return r;
		len += 1 + colon + params[i].len;
		if (len > IRC_LINE_MAX)
			return -EMSGSIZE;
	}
	line = malloc(len + 1);
	if (!line)
		return -ENOMEM;
	out = stpcpy(line, verb);
	for (size_t i = 0; i < n; i++) {
		*out++ = ' ';
		if (i + 1 == n && colon)
			*out++ = ':';
		if (params[i].len)
			memcpy(out, params[i].p, params[i].len);
		out += params[i].len;
	}
	*out = '\0';
	*ret_line = line;
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* Build a command line from NULL-terminated C-string parameters. */
int irc_line_buildv(char **ret_line, unsigned flags, const char *verb, ...)
{
	struct irc_str *params;
	size_t n = 0;
	va_list ap;
	int r;

	va_start(ap, verb);
	while (va_arg(ap, const char *))
		n++;
	va_end(ap);
	params = calloc(n ? n : 1, sizeof *params);
	if (!params)
		return -ENOMEM;
	va_start(ap, verb);
	for (size_t i = 0; i < n; i++) {
		params[i].p = va_arg(ap, const char *);
		params[i].len = strlen(params[i].p);
	}
	va_end(ap);
	r = irc_line_build(verb, params, n, flags, ret_line, NULL);
	free(params);
	return r;
}
