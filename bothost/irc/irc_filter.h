/* SPDX-License-Identifier: ISC */
/* Filters on the irc object's message events (PROTOCOL.md, "Filters"): a
 * pure module, from the filter object a client gives `on` to a matcher the
 * host runs on each message before it wakes the client. Every key given
 * must match; a filter without keys matches everything and is no filter. */
#ifndef BOTHOST_IRC_FILTER_H
#define BOTHOST_IRC_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "isupport.h"

/* Longest string a filter takes, and most channels in one. */
#define IRC_FILTER_STR_MAX 256
#define IRC_FILTER_CHANNELS_MAX 32

struct irc_filter;

/* What a filter looks at in one message, action or notice. */
struct irc_filter_subject {
	enum isupport_casemap cm;	/* for channel and nick */
	const char *channel;	/* the channel it went to, or NULL */
	bool private;		/* sent to the bot itself */
	const char *nick, *user, *host;	/* the sender (user, host may be NULL) */
	const char *text;
};

/* Make a filter from spec (a JSON object): 0 with *ret (NULL for one
 * without keys), -EINVAL with why in err, or -ENOMEM. */
int irc_filter_new(const cJSON *spec, struct irc_filter **ret, char *err, size_t size);
/* NULL is a no-op. */
void irc_filter_free(struct irc_filter *f);
/* Whether the message s passes f. */
bool irc_filter_match(const struct irc_filter *f, const struct irc_filter_subject *s);
/* Whether two filters are the same (same keys, same values). */
bool irc_filter_equal(const struct irc_filter *a, const struct irc_filter *b);
/* The filter as an object with its keys in a fixed order; NULL on failure. */
cJSON *irc_filter_json(const struct irc_filter *f);

#endif
