/* SPDX-License-Identifier: ISC */
/* Per-user command limits and notice spacing. */
#include "config.h"

#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "core/list.h"

/* Forgetting quiet users is done at most this often. */
#define RATELIMIT_PRUNE_MS 1000

/* One user: the times of their last commands (a ring of count entries). */
struct ratelimit_user {
	struct list link;
	char *who;
	uint64_t *times;
	unsigned n, head;		/* entries used; the oldest one */
	uint64_t ignored_until;		/* 0: not ignored */
	uint64_t notice_at[RATELIMIT_NOTICES];
	bool noticed[RATELIMIT_NOTICES];	/* notice_at is set */
	uint64_t last_ms;		/* last activity */
};

struct ratelimit {
	struct list users;
	size_t n_users;
	unsigned count, window_ms, ignore_ms, notice_ms;
	uint64_t pruned_ms;
};

/* An empty table with the defaults. */
struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = calloc(1, sizeof *rl);

	if (!rl)
		return NULL;
	list_init(&rl->users);
	rl->count = 12;
	rl->window_ms = 60000;
	rl->ignore_ms = 300000;
	rl->notice_ms = 60000;
	return rl;
}

/* Unlink and free one user. */
static void ratelimit_user_free(struct ratelimit *rl, struct ratelimit_user *u)
{
	list_remove(&u->link);
	rl->n_users--;
	free(u->who);
	free(u->times);
	free(u);
}

/* Forget every user. */
static void ratelimit_clear(struct ratelimit *rl)
{
	while (!list_empty(&rl->users))
		ratelimit_user_free(rl, list_entry(rl->users.next, struct ratelimit_user, link));
}

/* Free the table. */
struct ratelimit *ratelimit_free(struct ratelimit *rl)
{
	if (rl) {
		ratelimit_clear(rl);
		free(rl);
	}
	return NULL;
}

/* Change the limits. */
void ratelimit_configure(struct ratelimit *rl, unsigned count, unsigned window_ms, unsigned ignore_ms,
			 unsigned notice_ms)
{
	if (count == 0)
		count = 1;
	if (count != rl->count || window_ms != rl->window_ms)
		ratelimit_clear(rl);
	rl->count = count;
	rl->window_ms = window_ms;
	rl->ignore_ms = ignore_ms;
	rl->notice_ms = notice_ms;
}

/* Whether u holds nothing that matters at now. */
static bool ratelimit_user_stale(const struct ratelimit *rl, const struct ratelimit_user *u, uint64_t now)
{
	uint64_t keep = rl->window_ms > rl->notice_ms ? rl->window_ms : rl->notice_ms;

	return u->ignored_until <= now && u->last_ms + keep <= now;
}

/* Forget the users that hold nothing that matters any more. */
static void ratelimit_prune(struct ratelimit *rl, uint64_t now)
{
	if (now < rl->pruned_ms + RATELIMIT_PRUNE_MS && rl->n_users < RATELIMIT_USERS_MAX)
		return;
	rl->pruned_ms = now;
	for (struct list *l = rl->users.next, *next; l != &rl->users; l = next) {
		struct ratelimit_user *u = list_entry(l, struct ratelimit_user, link);
		next = l->next;
		if (ratelimit_user_stale(rl, u, now))
			ratelimit_user_free(rl, u);
	}
}

/* The entry of who, created (at the most recent end) when absent; NULL on
 * allocation failure. The list is kept from least to most recently active. */
static struct ratelimit_user *ratelimit_user_get(struct ratelimit *rl, const char *who, uint64_t now)
{
	struct ratelimit_user *u = NULL;

	ratelimit_prune(rl, now);
	for (struct list *l = rl->users.next; l != &rl->users && !u; l = l->next)
		if (strcmp(list_entry(l, struct ratelimit_user, link)->who, who) == 0)
			u = list_entry(l, struct ratelimit_user, link);
	if (!u) {
		if (rl->n_users >= RATELIMIT_USERS_MAX)
			ratelimit_user_free(rl, list_entry(rl->users.next, struct ratelimit_user, link));
		if (!(u = calloc(1, sizeof *u)) || !(u->who = strdup(who)) ||
		    !(u->times = calloc(rl->count, sizeof *u->times))) {
			if (u)
				free(u->who);
			free(u);
			return NULL;
		}
		list_init(&u->link);
		rl->n_users++;
	}
	list_remove(&u->link);
	list_add_tail(&rl->users, &u->link);
	u->last_ms = now;
	return u;
}

/* Count one command of who. */
enum ratelimit_verdict ratelimit_hit(struct ratelimit *rl, const char *who, uint64_t now_ms)
{
	struct ratelimit_user *u = ratelimit_user_get(rl, who, now_ms);

	if (!u)
		return RATELIMIT_OK;
	if (u->ignored_until > now_ms)
		return RATELIMIT_IGNORED;
	u->ignored_until = 0;
	/* The ring is full and its oldest command is still in the window: one too many. */
	if (u->n == rl->count && now_ms - u->times[u->head] < rl->window_ms) {
		u->ignored_until = now_ms + rl->ignore_ms;
		u->n = u->head = 0;
		return RATELIMIT_EXCEEDED;
	}
	if (u->n < rl->count) {
		u->times[(u->head + u->n) % rl->count] = now_ms;
		u->n++;
	} else {
		u->times[u->head] = now_ms;
		u->head = (u->head + 1) % rl->count;
	}
	return RATELIMIT_OK;
}

/* Whether a notice of kind what may go to who now. */
bool ratelimit_notice(struct ratelimit *rl, const char *who, enum ratelimit_notice what, uint64_t now_ms)
{
	struct ratelimit_user *u = ratelimit_user_get(rl, who, now_ms);

	if (!u || what >= RATELIMIT_NOTICES)
		return u != NULL;
	if (u->noticed[what] && now_ms - u->notice_at[what] < rl->notice_ms)
		return false;
	u->noticed[what] = true;
	u->notice_at[what] = now_ms;
	return true;
}

/* Users in the table. */
size_t ratelimit_users(const struct ratelimit *rl)
{
	return rl->n_users;
}
