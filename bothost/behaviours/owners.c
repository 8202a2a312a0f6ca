/* SPDX-License-Identifier: ISC */
/* Matching people against the owners of the bot. */
#include "config.h"

#include "owners.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc/irc_text.h"

#define OWNERS_ACCOUNT "account:"

/* "nick!user@host" of p. */
char *owners_hostmask(const struct owners_person *p)
{
	char *s;

	if (asprintf(&s, "%s!%s@%s", p->nick ? p->nick : "", p->user ? p->user : "", p->host ? p->host : "") < 0)
		return NULL;
	return s;
}

/* Whether one entry names p. */
static bool owners_entry_match(const char *entry, enum isupport_casemap cm, const struct owners_person *p,
			       const char *hostmask)
{
	size_t n = strlen(OWNERS_ACCOUNT);

	if (strncmp(entry, OWNERS_ACCOUNT, n) == 0)
		return p->account && *p->account && isupport_casemap_equal(cm, entry + n, p->account);
	/* Without a known user and host a mask could only match by accident. */
	if (!p->nick || !p->user || !p->host)
		return false;
	return irc_text_mask_match(cm, entry, hostmask);
}

/* Whether p matches one of the entries. */
bool owners_match(char *const *owners, size_t n, enum isupport_casemap cm, const struct owners_person *p)
{
	char *hostmask = owners_hostmask(p);
	bool found = false;

	for (size_t i = 0; hostmask && i < n && !found; i++)
		found = owners_entry_match(owners[i], cm, p, hostmask);
	free(hostmask);
	return found;
}
