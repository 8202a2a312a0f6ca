/* SPDX-License-Identifier: ISC */
/* Fuzzing what clients ask the bot to send (bothost/irc/irc_text.c): the text
 * rule and the splitting of message text, names, masks and CTCP.
 *
 * Input: a byte choosing the budget (4 to 515 bytes), a byte choosing the
 * casemapping, then NUL-separated fields: the text, an ISUPPORT token the
 * server announced, a name, a mask, a CTCP command and its arguments.
 * Properties:
 * - irc_text_split refuses exactly the texts irc_text_check refuses; every
 *   line it gives is non-empty, within the budget, without CR or LF, valid
 *   UTF-8 when its source line was, and reasonably full unless it ends its
 *   source line; the lines of one source line put back together, with the
 *   one space dropped at each cut that dropped one, give the source line;
 * - irc_text_mask_match agrees with a plain dynamic-programming matcher;
 * - the checks of names agree with each other;
 * - a CTCP wrapped and unwrapped gives back its command (upper-cased) and
 *   arguments. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "irc/irc_text.h"
#include "irc/isupport.h"

/* Longest name and mask given to the matchers (the reference is quadratic). */
#define TEXT_MATCH_MAX 256

/* The fields of an input, each NUL-terminated ("" when absent). */
struct text_fields {
	char *buf;
	const char *text, *token, *name, *mask, *cmd, *args;
};

/* Split the input after its two bytes into its fields. */
static void text_fields_split(struct text_fields *f, const uint8_t *data, size_t size)
{
	const char **slots[] = { &f->text, &f->token, &f->name, &f->mask, &f->cmd, &f->args };
	size_t n = 0;

	f->buf = malloc(size + 1);
	FUZZ_CHECK(f->buf, "out of memory");
	memcpy(f->buf, data, size);
	f->buf[size] = '\0';
	for (const char *p = f->buf; n < sizeof slots / sizeof slots[0]; n++) {
		*slots[n] = p;
		p += strlen(p);
		if (p < f->buf + size)
			p++;
	}
}

/* Check the chunks lines[*at...] that came from one source line s (len bytes). */
static void text_check_chunks(char **lines, size_t *at, const char *s, size_t len, size_t budget)
{
	bool valid = irc_text_utf8_valid(s, len);
	size_t pos = 0;

	while (pos < len) {
		const char *c = lines[*at];
		FUZZ_CHECK(c, "the lines end before the text");
		size_t n = strlen(c);
		FUZZ_CHECK(n > 0 && n <= budget, "a line of %zu bytes for a budget of %zu", n, budget);
		FUZZ_CHECK(n <= len - pos && memcmp(c, s + pos, n) == 0, "line %zu is not the text", *at);
		if (valid)
			FUZZ_CHECK(irc_text_utf8_valid(c, n), "line %zu is not valid UTF-8", *at);
		pos += n;
		(*at)++;
		if (pos == len)
			break;
		/* A cut never leaves a line that is not the last too short. */
		FUZZ_CHECK(4 * n >= 3 * (budget - 3), "a line of %zu bytes cut early (budget %zu)", n, budget);
		/* A cut before a space drops it; any other cut is right before a non-space. */
		if (s[pos] == ' ')
			pos++;
	}
}

/* irc_text_split against the text rule and the source lines. */
static void text_check_split(const char *text, size_t budget)
{
	char **lines = NULL, *line;
	int r = irc_text_split(text, budget, &lines);
	size_t at = 0;

	if (irc_text_check(text) < 0) {
		FUZZ_CHECK(r == -EINVAL, "a text that leaves no line gave %d", r);
		return;
	}
	FUZZ_CHECK(r > 0, "split gave %d", r);
	line = malloc(strlen(text) + 1);
	FUZZ_CHECK(line, "out of memory");
	for (const char *p = text; *p;) {
		size_t len = 0;
		/* The source line without its CRs. */
		for (; *p && *p != '\n'; p++)
			if (*p != '\r')
				line[len++] = *p;
		if (*p == '\n')
			p++;
		if (len > 0)
			text_check_chunks(lines, &at, line, len, budget);
	}
	FUZZ_CHECK(lines[at] == NULL && at == (size_t)r, "%d lines, %zu expected", r, at);
	for (size_t i = 0; lines[i]; i++)
		FUZZ_CHECK(!strpbrk(lines[i], "\r\n"), "a line holds CR or LF");
	irc_text_lines_free(lines);
	free(line);
}

/* irc_text_cut on its own, with any budget. */
static void text_check_cut(const char *s, size_t budget)
{
	size_t len = strcspn(s, "\r\n"), next = 0;
	size_t n = irc_text_cut(s, len, budget, &next);

	FUZZ_CHECK(n <= len && n <= next && next <= len, "cut %zu, next %zu of %zu", n, next, len);
	if (len <= budget)
		FUZZ_CHECK(n == len && next == len, "a text that fits was cut");
	else
		FUZZ_CHECK(n <= budget, "a chunk of %zu bytes over a budget of %zu", n, budget);
	if (budget >= IRC_TEXT_BUDGET_MIN && len > 0)
		FUZZ_CHECK(n > 0, "an empty chunk");
}

/* The reference glob: '*' any run, '?' one byte, others equal once lowered. */
static bool text_glob(enum isupport_casemap cm, const char *mask, size_t m, const char *name, size_t n)
{
	/* match[j]: mask[0..i) matches name[0..j). */
	bool match[TEXT_MATCH_MAX + 1], next[TEXT_MATCH_MAX + 1];

	memset(match, 0, sizeof match);
	match[0] = true;
	for (size_t i = 0; i < m; i++) {
		memset(next, 0, sizeof next);
		for (size_t j = 0; j <= n; j++) {
			if (mask[i] == '*')
				next[j] = match[j] || (j > 0 && next[j - 1]);
			else if (j > 0 && match[j - 1])
				next[j] = mask[i] == '?' || isupport_casemap_lower_char(cm, mask[i]) ==
								 isupport_casemap_lower_char(cm, name[j - 1]);
		}
		memcpy(match, next, sizeof match);
	}
	return match[n];
}

/* Names, masks and their checks. */
static void text_check_names(const struct text_fields *f, enum isupport_casemap cm)
{
	struct isupport *is = isupport_new();
	const char *name = f->name;

	FUZZ_CHECK(is, "out of memory");
	isupport_add_token(is, f->token);
	bool nick = irc_text_nick_valid(is, name), channel = irc_text_channel_valid(is, name);
	bool target = irc_text_target_valid(is, name);
	if (channel)
		FUZZ_CHECK(irc_text_is_channel(is, name) && target, "a valid channel that is not a target");
	if (nick && !irc_text_is_channel(is, name))
		FUZZ_CHECK(target, "a valid nick that is not a target");
	if (irc_text_word_valid(name))
		FUZZ_CHECK(name[0] && name[0] != ':' && !strchr(name, ' '), "a word with a space");
	FUZZ_CHECK(irc_text_line_valid(name) == !strpbrk(name, "\r\n"), "line_valid wrong");
	size_t m = strlen(f->mask), n = strlen(name);
	if (m <= TEXT_MATCH_MAX && n <= TEXT_MATCH_MAX)
		FUZZ_CHECK(irc_text_mask_match(cm, f->mask, name) == text_glob(cm, f->mask, m, name, n),
			   "mask \"%s\" on \"%s\"", f->mask, name);
	size_t budget = irc_text_budget("PRIVMSG", name, f->cmd[0] ? f->cmd : NULL, NULL, NULL,
					f->args[0] ? f->args : NULL);
	FUZZ_CHECK(budget < 512, "a budget of %zu", budget);
	isupport_free(is);
}

/* A CTCP wrapped, then unwrapped. */
static void text_check_ctcp(const struct text_fields *f)
{
	char *text = NULL, *cmd = NULL, *args = NULL;
	int r = irc_text_ctcp_wrap(f->cmd, f->args, &text);

	if (r == 0) {
		FUZZ_CHECK(irc_text_is_ctcp(text), "a wrapped CTCP is not one");
		FUZZ_CHECK(irc_text_ctcp_unwrap(text, &cmd, &args) == 0, "unwrap failed");
		FUZZ_CHECK(strcasecmp(cmd, f->cmd) == 0 && strcmp(args, f->args) == 0, "CTCP changed");
		free(cmd);
		free(args);
		free(text);
	} else {
		FUZZ_CHECK(r == -EINVAL, "wrap gave %d", r);
	}
	if (irc_text_ctcp_unwrap(f->text, &cmd, &args) == 0) {
		FUZZ_CHECK(irc_text_is_ctcp(f->text) && !strchr(cmd, ' ') && !strchr(cmd, '\001'), "unwrap");
		free(cmd);
		free(args);
	}
}

/* One text, token, name, mask and CTCP to check. */
FUZZ_ENTRY(irc_text)
{
	struct text_fields f;

	if (size < 2)
		return 0;
	size_t budget = IRC_TEXT_BUDGET_MIN + (size_t)data[0] * 2;
	enum isupport_casemap cm = (enum isupport_casemap)(data[1] % 3);
	text_fields_split(&f, data + 2, size - 2);
	text_check_split(f.text, budget);
	text_check_cut(f.text, data[0]);
	text_check_names(&f, cm);
	text_check_ctcp(&f);
	free(f.buf);
	return 0;
}
