/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: libircclient 1.9's text helpers, byte for byte: the nick
 * and host of an origin, and mIRC colour codes to and from its tags ([B] [U]
 * [I] [COLOR=NAME] [COLOR=NAME/NAME] and their closing tags).
 * tests/test_ircclient_text compares them with the real library over a
 * generated corpus. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libircclient.h"

#define IC_BOLD      1u
#define IC_UNDERLINE 2u
#define IC_REVERSE   4u
#define IC_COLOR     8u
#define IC_COLOR_MAX 15

/* mIRC colours 0-15 by the names of the tags. */
static const char *const ic_colors[IC_COLOR_MAX + 1] = {
	"WHITE", "BLACK", "DARKBLUE", "DARKGREEN", "RED", "BROWN", "PURPLE", "OLIVE",
	"YELLOW", "GREEN", "TEAL", "CYAN", "BLUE", "MAGENTA", "DARKGRAY", "LIGHTGRAY",
};

/* A growing output string. */
struct ic_out {
	char *buf;
	size_t len, cap;
	bool failed;
};

/* Append n bytes. */
static void ic_out_add(struct ic_out *o, const char *p, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* Append a string. */
static void ic_out_str(struct ic_out *o, const char *s)
{
	ic_out_add(o, s, strlen(s));
}

/* The string, or NULL when memory ran out. */
static char *ic_out_finish(struct ic_out *o)
{
	ic_out_add(o, "", 0);
	if (o->failed) {
		free(o->buf);
		return NULL;
	}
	return o->buf;
}

/* Toggle a style: its closing tag when on, else its opening tag. */
static void ic_toggle(struct ic_out *o, unsigned *mask, unsigned bit, const char *on, const char *off)
{
	*mask ^= bit;
	ic_out_str(o, (*mask & bit) ? on : off);
}

/* Close every open tag, in libircclient's order. */
static void ic_close_all(struct ic_out *o, unsigned *mask)
{
	static const struct {
		unsigned bit;
		const char *tag;
	} tags[] = { { IC_BOLD, "[/B]" }, { IC_UNDERLINE, "[/U]" }, { IC_REVERSE, "[/I]" }, { IC_COLOR, "[/COLOR]" } };

	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
		if (*mask & tags[i].bit)
			ic_out_str(o, tags[i].tag);
	*mask = 0;
}

/* Whether c is an ASCII digit. */
static bool ic_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read one or two digits at *p (advancing past them). */
static int ic_number(const char **p)
{
	int n = **p - '0';

	(*p)++;
	if (ic_digit(**p))
		n = n * 10 + (*(*p)++ - '0');
	return n;
}

/* A colour code after \003 (p points after it): *p advances past what it
 * reads; true with fg and bg (-1: none) when it is a code in range. */
static bool ic_color_code(const char **p, int *fg, int *bg)
{
	if (!ic_digit(**p))
		return false;
	*fg = ic_number(p);
	*bg = -1;
	if ((*p)[0] == ',' && ic_digit((*p)[1])) {
		(*p)++;
		*bg = ic_number(p);
	}
	return *fg <= IC_COLOR_MAX && *bg <= IC_COLOR_MAX;
}

/* mIRC codes to tags, or removed (strip), starting with background *bg_io
 * (left in it at the end). libircclient 1.9 makes two passes over the text
 * (one to measure, one to write) and keeps the background colour from the
 * first into the second: a colour without a background at the start takes
 * the last background of the text. */
static char *ic_from_mirc_pass(const char *src, bool strip, int *bg_io)
{
	struct ic_out o = { 0 };
	unsigned mask = 0;
	int current_bg = *bg_io, fg, bg;
	char tag[64];

	for (const char *p = src; *p;) {
		char c = *p++;
		switch (c) {
		case 0x02: if (!strip) ic_toggle(&o, &mask, IC_BOLD, "[B]", "[/B]"); break;
		case 0x1F: if (!strip) ic_toggle(&o, &mask, IC_UNDERLINE, "[U]", "[/U]"); break;
		case 0x16: if (!strip) ic_toggle(&o, &mask, IC_REVERSE, "[I]", "[/I]"); break;
		case 0x0F: if (!strip) ic_close_all(&o, &mask); break;
		case 0x03:
			if (!ic_color_code(&p, &fg, &bg) || strip)
				break;
			if (bg != -1)
				current_bg = bg;
			if (mask & IC_COLOR)
				ic_out_str(&o, "[/COLOR]");
			mask |= IC_COLOR;
			if (current_bg)
				snprintf(tag, sizeof tag, "[COLOR=%s/%s]", ic_colors[fg], ic_colors[current_bg]);
			else
				snprintf(tag, sizeof tag, "[COLOR=%s]", ic_colors[fg]);
			ic_out_str(&o, tag);
			break;
		default: ic_out_add(&o, &c, 1); break;
		}
	}
	ic_close_all(&o, &mask);
	*bg_io = current_bg;
	return ic_out_finish(&o);
}

/* mIRC codes to tags, or removed (strip), as libircclient's second pass. */
static char *ic_from_mirc(const char *src, bool strip)
{
	int bg = 0;

	if (!src)
		return NULL;
	if (!strip)
		free(ic_from_mirc_pass(src, strip, &bg));
	return ic_from_mirc_pass(src, strip, &bg);
}

/* mIRC colour codes removed. */
char *irc_color_strip_from_mirc(const char *message)
{
	return ic_from_mirc(message, true);
}

/* mIRC colour codes as tags. */
char *irc_color_convert_from_mirc(const char *message)
{
	return ic_from_mirc(message, false);
}

/* The number of a colour name, or -1. */
static int ic_color_lookup(const char *name)
{
	for (int i = 0; i <= IC_COLOR_MAX; i++)
		if (strcmp(name, ic_colors[i]) == 0)
			return i;
	return -1;
}

/* The code for a tag's text (between the brackets) into code, or false. */
static bool ic_tag_code(char *tag, char *code, size_t size)
{
	if (strcmp(tag, "/COLOR") == 0)
		return snprintf(code, size, "\x0F") > 0;
	if (strncmp(tag, "COLOR=", 6) == 0) {
		char *slash = strchr(tag + 6, '/');
		int fg, bg = -2;
		if (slash) {
			*slash = '\0';
			bg = ic_color_lookup(slash + 1);
		}
		fg = ic_color_lookup(tag + 6);
		if (fg != -1 && bg == -2)
			return snprintf(code, size, "\x03%02d", fg) > 0;
		if (fg != -1 && bg >= 0)
			return snprintf(code, size, "\x03%02d,%02d", fg, bg) > 0;
		return false;
	}
	if (!strcmp(tag, "B") || !strcmp(tag, "/B"))
		return snprintf(code, size, "\x02") > 0;
	if (!strcmp(tag, "U") || !strcmp(tag, "/U"))
		return snprintf(code, size, "\x1F") > 0;
	if (!strcmp(tag, "I") || !strcmp(tag, "/I"))
		return snprintf(code, size, "\x16") > 0;
	return false;
}

/* Tags to mIRC codes; a bracket that is no tag stays as it is, and the text
 * after a '[' with no ']' after it is kept whole. */
char *irc_color_convert_to_mirc(const char *message)
{
	struct ic_out o = { 0 };
	const char *cur = message, *open;

	if (!message)
		return NULL;
	while ((open = strchr(cur, '['))) {
		const char *close = open[1] ? strchr(open, ']') : NULL;
		char tag[32], code[16];
		size_t n;

		if (!close) {
			ic_out_str(&o, cur);
			return ic_out_finish(&o);
		}
		n = (size_t)(close - open);
		if (n > 1 && n < 31) {
			memcpy(tag, open + 1, n - 1);
			tag[n - 1] = '\0';
			if (ic_tag_code(tag, code, sizeof code)) {
				ic_out_add(&o, cur, (size_t)(open - cur));
				ic_out_str(&o, code);
				cur = close + 1;
				continue;
			}
		}
		ic_out_add(&o, cur, (size_t)(close - cur) + 1);
		cur = close + 1;
	}
	ic_out_str(&o, cur);
	return ic_out_finish(&o);
}

/* The nick of "nick!user@host" into nick (size bytes, cut to fit). */
void irc_target_get_nick(const char *target, char *nick, size_t size)
{
	size_t len = strcspn(target, "!");

	if (size == 0)
		return;
	if (len > size - 1)
		len = size - 1;
	memcpy(nick, target, len);
	nick[len] = '\0';
}

/* From the '!' of "nick!user@host" on (or the whole target) into host. */
void irc_target_get_host(const char *target, char *host, size_t size)
{
	const char *p = strchr(target, '!');
	size_t len;

	if (size == 0)
		return;
	if (!p)
		p = target;
	len = strlen(p);
	if (len > size - 1)
		len = size - 1;
	memcpy(host, p, len);
	host[len] = '\0';
}
