/* SPDX-License-Identifier: ISC */
/* Per-user limits on commands, in the manner of Limnoria's flood
 * protection: a user who gives more than `count` commands within `window`
 * is ignored for `ignore`, and told so once. The same table spaces out the
 * notices the bot sends a user (an unknown command, a refusal): at most one
 * of each kind per notice interval.
 *
 * Users are keyed by a string (the caller's choice, such as "user@host").
 * Times are the caller's monotonic milliseconds, so the module is pure. The
 * table forgets users that have been quiet longer than it needs, and holds
 * RATELIMIT_USERS_MAX users at most (the least recently active goes first). */
#ifndef BOTHOST_RATELIMIT_H
#define BOTHOST_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_USERS_MAX 4096

struct ratelimit;

enum ratelimit_verdict {
	RATELIMIT_OK,		/* go on */
	RATELIMIT_EXCEEDED,	/* this command crossed the limit: ignored from now on; tell the user */
	RATELIMIT_IGNORED,	/* still ignored: drop silently */
};

enum ratelimit_notice {
	RATELIMIT_NOTICE_UNKNOWN,	/* "unknown command" */
	RATELIMIT_NOTICE_REFUSED,	/* "only owners may ...", "works only in a channel" */
	RATELIMIT_NOTICES,
};

/* An empty table allowing 12 commands a minute, ignoring for 5 minutes and
 * sending one notice of a kind a minute; NULL on allocation failure. */
struct ratelimit *ratelimit_new(void);
/* Free; NULL is allowed. Returns NULL. */
struct ratelimit *ratelimit_free(struct ratelimit *rl);
/* Change the limits. A new count or window forgets what users did so far. */
void ratelimit_configure(struct ratelimit *rl, unsigned count, unsigned window_ms, unsigned ignore_ms,
			 unsigned notice_ms);
/* Count one command of user who at now_ms. When memory runs out the
 * command is let through. */
enum ratelimit_verdict ratelimit_hit(struct ratelimit *rl, const char *who, uint64_t now_ms);
/* Whether a notice of kind what may be sent to who at now_ms (and if so,
 * count it as sent). */
bool ratelimit_notice(struct ratelimit *rl, const char *who, enum ratelimit_notice what, uint64_t now_ms);
/* Users in the table now. */
size_t ratelimit_users(const struct ratelimit *rl);

#endif
