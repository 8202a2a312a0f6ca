/* SPDX-License-Identifier: ISC */
/* Filters on message events. */
#include "config.h"

#include "irc_filter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc_text.h"

enum irc_filter_private { IRC_FILTER_ANY, IRC_FILTER_PRIVATE, IRC_FILTER_CHANNEL };

struct irc_filter {
	char *channels[IRC_FILTER_CHANNELS_MAX];
	size_t n_channels;
	enum irc_filter_private private;
	char *nick;	/* a mask: of the nick, or of nick!user@host when it has '!' or '@' */
	char *prefix;
	char *command;
	char *contains;
};

/* Write why into err; returns -EINVAL. */
static int irc_filter_refuse(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Copy string value v of key into *ret: non-empty, at most
 * IRC_FILTER_STR_MAX bytes, no CR or LF, and no space when word. */
static int irc_filter_string(const cJSON *v, const char *key, bool word, char **ret, char *err, size_t size)
{
	const char *s = cJSON_GetStringValue(v);
	size_t len = s ? strlen(s) : 0;

	if (!s)
		return irc_filter_refuse(err, size, "'%s' must be a string", key);
	if (len == 0 || len > IRC_FILTER_STR_MAX)
		return irc_filter_refuse(err, size, "'%s' must be 1 to %d bytes", key, IRC_FILTER_STR_MAX);
	if (strpbrk(s, word ? "\r\n " : "\r\n"))
		return irc_filter_refuse(err, size, "'%s' must not hold %s", key, word ? "spaces or line ends" : "line ends");
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* "channel": a string or an array of strings. */
static int irc_filter_channels(struct irc_filter *f, const cJSON *v, char *err, size_t size)
{
	const cJSON *item;
	int r;

	if (cJSON_IsString(v))
		return irc_filter_string(v, "channel", true, &f->channels[f->n_channels++], err, size);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > IRC_FILTER_CHANNELS_MAX)
		return irc_filter_refuse(err, size, "'channel' must be a string or 1 to %d strings",
					 IRC_FILTER_CHANNELS_MAX);
	cJSON_ArrayForEach(item, v)
		if ((r = irc_filter_string(item, "channel", true, &f->channels[f->n_channels++], err, size)) < 0)
			return r;
	return 0;
}

/* Read one key of the filter object. */
static int irc_filter_key(struct irc_filter *f, const cJSON *v, char *err, size_t size)
{
	const char *k = v->string;

	if (strcmp(k, "channel") == 0)
		return irc_filter_channels(f, v, err, size);
	if (strcmp(k, "private") == 0) {
		if (!cJSON_IsBool(v))
			return irc_filter_refuse(err, size, "'private' must be true or false");
		f->private = cJSON_IsTrue(v) ? IRC_FILTER_PRIVATE : IRC_FILTER_CHANNEL;
		return 0;
	}
	if (strcmp(k, "nick") == 0)
		return irc_filter_string(v, k, true, &f->nick, err, size);
	if (strcmp(k, "prefix") == 0)
		return irc_filter_string(v, k, false, &f->prefix, err, size);
	if (strcmp(k, "command") == 0)
		return irc_filter_string(v, k, true, &f->command, err, size);
	if (strcmp(k, "contains") == 0)
		return irc_filter_string(v, k, false, &f->contains, err, size);
	return irc_filter_refuse(err, size, "unknown key '%s' (channel, private, nick, prefix, command, contains)",
				 k);
}

/* Make a filter from its object. */
int irc_filter_new(const cJSON *spec, struct irc_filter **ret, char *err, size_t size)
{
	struct irc_filter *f;
	const cJSON *v;
	int r = 0;

	if (!cJSON_IsObject(spec))
		return irc_filter_refuse(err, size, "a filter is an object");
	*ret = NULL;
	if (!spec->child)
		return 0;
	if (!(f = calloc(1, sizeof *f)))
		return -ENOMEM;
	cJSON_ArrayForEach(v, spec) {
		/* A key given twice would make the filter mean two things. */
		for (const cJSON *w = spec->child; w != v && r == 0; w = w->next)
			if (strcmp(w->string, v->string) == 0)
				r = irc_filter_refuse(err, size, "key '%s' given twice", v->string);
		if (r == 0)
			r = irc_filter_key(f, v, err, size);
		if (r < 0) {
			irc_filter_free(f);
			return r;
		}
	}
	*ret = f;
	return 0;
}

/* Free a filter. */
void irc_filter_free(struct irc_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_channels; i++)
		free(f->channels[i]);
	free(f->nick);
	free(f->prefix);
	free(f->command);
	free(f->contains);
	free(f);
}

/* ASCII lower case. */
static char irc_filter_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether needle occurs in s, ASCII letters compared without case. */
static bool irc_filter_contains(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s; s++) {
		size_t i = 0;
		while (i < n && s[i] && irc_filter_lower(s[i]) == irc_filter_lower(needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

/* Whether the first word of text (up to a space or the end) is word, ASCII
 * letters compared without case. */
static bool irc_filter_first_word(const char *text, const char *word)
{
	size_t i = 0;

	while (word[i] && text[i] && irc_filter_lower(text[i]) == irc_filter_lower(word[i]))
		i++;
	return word[i] == '\0' && (text[i] == '\0' || text[i] == ' ');
}

/* Whether the sender matches the nick mask. */
static bool irc_filter_sender(const struct irc_filter *f, const struct irc_filter_subject *s)
{
	char full[3 * IRC_FILTER_STR_MAX];

	if (!s->nick)
		return false;
	if (!strpbrk(f->nick, "!@"))
		return irc_text_mask_match(s->cm, f->nick, s->nick);
	if ((size_t)snprintf(full, sizeof full, "%s!%s@%s", s->nick, s->user ? s->user : "",
			     s->host ? s->host : "") >= sizeof full)
		return false;
	return irc_text_mask_match(s->cm, f->nick, full);
}

/* Whether the channel is one of the filter's. */
static bool irc_filter_channel(const struct irc_filter *f, const struct irc_filter_subject *s)
{
	for (size_t i = 0; s->channel && i < f->n_channels; i++)
		if (isupport_casemap_equal(s->cm, f->channels[i], s->channel))
			return true;
	return false;
}

/* Whether the text passes prefix, command and contains. */
static bool irc_filter_text(const struct irc_filter *f, const char *text)
{
	if (!f->prefix && !f->command && !f->contains)
		return true;
	if (!text)
		return false;
	if (f->contains && !irc_filter_contains(text, f->contains))
		return false;
	if (f->prefix) {
		if (strncmp(text, f->prefix, strlen(f->prefix)) != 0)
			return false;
		text += strlen(f->prefix);
	}
	return !f->command || irc_filter_first_word(text, f->command);
}

/* Whether a message passes the filter. */
bool irc_filter_match(const struct irc_filter *f, const struct irc_filter_subject *s)
{
	if (!f)
		return true;
	if (f->n_channels && !irc_filter_channel(f, s))
		return false;
	if (f->private == IRC_FILTER_PRIVATE && !s->private)
		return false;
	if (f->private == IRC_FILTER_CHANNEL && !s->channel)
		return false;
	if (f->nick && !irc_filter_sender(f, s))
		return false;
	return irc_filter_text(f, s->text);
}

/* Two optional strings are equal. */
static bool irc_filter_same(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Whether two filters are the same. */
bool irc_filter_equal(const struct irc_filter *a, const struct irc_filter *b)
{
	if (!a || !b)
		return a == b;
	if (a->n_channels != b->n_channels || a->private != b->private)
		return false;
	for (size_t i = 0; i < a->n_channels; i++)
		if (strcmp(a->channels[i], b->channels[i]) != 0)
			return false;
	return irc_filter_same(a->nick, b->nick) && irc_filter_same(a->prefix, b->prefix) &&
	       irc_filter_same(a->command, b->command) && irc_filter_same(a->contains, b->contains);
}

/* Add key: s when s is set; false on allocation failure. */
static bool irc_filter_add(cJSON *o, const char *key, const char *s)
{
	return !s || cJSON_AddStringToObject(o, key, s);
}

/* The filter as JSON. */
cJSON *irc_filter_json(const struct irc_filter *f)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	if (ok && f && f->n_channels == 1)
		ok = irc_filter_add(o, "channel", f->channels[0]);
	else if (ok && f && f->n_channels > 1)
		ok = cJSON_AddItemToObject(o, "channel",
					   cJSON_CreateStringArray((const char *const *)f->channels, (int)f->n_channels));
	if (ok && f && f->private != IRC_FILTER_ANY)
		ok = cJSON_AddBoolToObject(o, "private", f->private == IRC_FILTER_PRIVATE) != NULL;
	if (ok && f)
		ok = irc_filter_add(o, "nick", f->nick) && irc_filter_add(o, "prefix", f->prefix) &&
		     irc_filter_add(o, "command", f->command) && irc_filter_add(o, "contains", f->contains);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
