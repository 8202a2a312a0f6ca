/* SPDX-License-Identifier: ISC */
/* The bot's one outbound IRC queue: priorities, pacing and bounds, driven by
 * the caller's clock (every time is in milliseconds on one monotonic clock;
 * the queue owns no timer).
 *
 * Pacing is a token bucket of `burst` lines refilled with one line every
 * `interval_ms` (kept as a virtual clock: each line sent moves it forward by
 * one interval). URGENT lines (PONG, QUIT) go out at once but are still
 * counted; CONTROL lines (NICK, JOIN, PART, MODE, CAP) go before NORMAL ones
 * (PRIVMSG, NOTICE), and LOW ones (the bot's own refusals: "busy", "too
 * fast") only when no other line waits, so they never delay an answer.
 *
 * Within a priority, lines belong to flows (a key the caller chooses, such
 * as the user a reply answers; NULL is the default flow) served round robin,
 * one line per turn. As in fq_codel, a flow that starts waiting (it held
 * no line) goes before the flows already served, so that a user's answer
 * waits for at most the line being paced and the other new flows, however
 * long another flow's backlog; served, a flow goes to the end of the round.
 * Lines of one flow keep their order. URGENT lines all go to the default
 * flow.
 *
 * Every entry completes exactly once through its callback: with 0 when the
 * caller reports it sent, -ETIMEDOUT when outq_expire drops it, the caller's
 * error in outq_fail_all, -ECANCELED when the queue is freed with it inside.
 * Completions run from outq_expire, outq_fail_all, outq_free and
 * outq_entry_complete, never from outq_push. A completion may push new
 * lines; it must not free the queue.
 *
 * Functions returning int give 0 (or a count) or a negative errno code. */
#ifndef BH_OUTQ_H
#define BH_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#define OUTQ_BURST 5
#define OUTQ_INTERVAL_MS 1000
#define OUTQ_MAX_ENTRIES 300
#define OUTQ_MAX_BYTES (128 * 1024)
/* What outq_ready reports as the wait when nothing is queued. */
#define OUTQ_IDLE UINT64_MAX

enum outq_prio {
	OUTQ_URGENT,
	OUTQ_CONTROL,
	OUTQ_NORMAL,
	OUTQ_LOW,
	OUTQ_PRIO_COUNT
};

/* Called once per entry: the line, 0 or a negative errno code, userdata. */
typedef void (*outq_done_cb)(const char *line, int err, void *userdata);

struct outq;
struct outq_entry;

struct outq_stats {
	size_t queued[OUTQ_PRIO_COUNT];	/* entries waiting, per priority */
	size_t bytes;			/* bytes of the lines waiting */
	uint64_t pushed;		/* entries accepted */
	uint64_t refused;		/* pushes refused (-ENOBUFS) */
	uint64_t dequeued;		/* entries handed out by outq_ready */
	uint64_t expired;		/* entries completed by outq_expire */
	uint64_t failed;		/* entries completed by outq_fail_all or outq_free */
};

/* A new empty queue with the default pacing and bounds; NULL on allocation
 * failure. */
struct outq *outq_new(void);
/* Complete every queued entry with -ECANCELED, then free; NULL is allowed.
 * Returns NULL. */
struct outq *outq_free(struct outq *q);
/* Set the pacing: burst >= 1 lines, then one per interval_ms (0: no pacing).
 * Returns 0 or -EINVAL. */
int outq_set_pacing(struct outq *q, unsigned burst, uint64_t interval_ms);
/* Set the bounds on NORMAL and CONTROL entries (both >= 1). Returns 0 or
 * -EINVAL. */
int outq_set_limits(struct outq *q, size_t max_entries, size_t max_bytes);
/* Refill the bucket (a new connection starts with a full burst). */
void outq_pacing_reset(struct outq *q);

/* Queue a copy of line (no CR or LF, not empty) at time now. cb may be NULL.
 * Past max_entries or max_bytes nothing is queued and -ENOBUFS is returned;
 * URGENT lines are never refused for the bounds (the connection's liveness
 * depends on them) and do not count against them. A line over IRC_LINE_MAX
 * bytes gives -EMSGSIZE; a push from a completion run by outq_free gives
 * -ECANCELED. Returns 0 or one of those, -EINVAL or -ENOMEM; the callback is
 * not called on failure. */
int outq_push(struct outq *q, enum outq_prio prio, const char *line, uint64_t now,
	      outq_done_cb cb, void *userdata);
/* outq_push into the flow with key flow (copied; NULL: the default flow). */
int outq_push_flow(struct outq *q, enum outq_prio prio, const char *flow, const char *line, uint64_t now,
		   outq_done_cb cb, void *userdata);
/* The next line allowed at time now, removed from the queue: the caller now
 * owns the entry and must complete it (outq_entry_complete) or give it back
 * (outq_requeue). NULL when none may go now: *ret_wait_ms (if not NULL) is
 * then the time until one may, or OUTQ_IDLE when the queue is empty. */
struct outq_entry *outq_ready(struct outq *q, uint64_t now, uint64_t *ret_wait_ms);
/* Put an entry from outq_ready back at the head of its flow, and its flow
 * first in the round robin (it was not sent), and give back its pacing cost. */
void outq_requeue(struct outq *q, struct outq_entry *e);
/* Complete with -ETIMEDOUT every entry queued more than max_age_ms before now.
 * Returns the number completed. */
size_t outq_expire(struct outq *q, uint64_t now, uint64_t max_age_ms);
/* Complete every queued entry with err (negative: -ENOTCONN, -ECANCELED...).
 * Entries pushed by these completions stay queued. Returns the number
 * completed. */
size_t outq_fail_all(struct outq *q, int err);

/* Entries and bytes waiting. */
size_t outq_count(const struct outq *q);
size_t outq_bytes(const struct outq *q);
void outq_stats_get(const struct outq *q, struct outq_stats *ret_stats);

/* An entry handed out by outq_ready. */
const char *outq_entry_line(const struct outq_entry *e);
size_t outq_entry_len(const struct outq_entry *e);
enum outq_prio outq_entry_prio(const struct outq_entry *e);
uint64_t outq_entry_enqueued(const struct outq_entry *e);
/* Run the entry's completion with err (0: sent) and free it. */
void outq_entry_complete(struct outq_entry *e, int err);

#endif
