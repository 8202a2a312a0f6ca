/* SPDX-License-Identifier: ISC */
/* Who owns the bot: a list of "nick!user@host" globs ('*' any run of
 * characters, '?' one character), compared under the server's casemapping,
 * and "account:NAME" entries, compared with the account the server tells. */
#ifndef BOTHOST_OWNERS_H
#define BOTHOST_OWNERS_H

#include <stdbool.h>
#include <stddef.h>

#include "irc/isupport.h"

/* A person on IRC as the irc object's events describe them; NULL fields are
 * unknown. */
struct owners_person {
	const char *nick;
	const char *user;
	const char *host;
	const char *account;
};

/* "nick!user@host" of p (unknown parts empty) in a new string, or NULL. */
char *owners_hostmask(const struct owners_person *p);
/* Whether p matches one of the n entries. */
bool owners_match(char *const *owners, size_t n, enum isupport_casemap cm, const struct owners_person *p);

#endif
