/* SPDX-License-Identifier: ISC */
/* The outbound IRC queue: per priority a round robin of flows, each a FIFO;
 * a token bucket; bounds. */
#include "outq.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "irc_line.h"

struct outq_entry {
	struct outq_entry *next;
	enum outq_prio prio;
	const char *flow;	/* its flow's key, in the same allocation; NULL: the default flow */
	bool charged;		/* its pacing cost was taken by outq_ready */
	uint64_t enqueued;
	outq_done_cb cb;
	void *userdata;
	size_t len;
	char line[];
};

struct outq_fifo {
	struct outq_entry *head;
	struct outq_entry **tail;
};

/* The entries of one flow, waiting their turn. */
struct outq_flow {
	struct outq_flow *next;	/* in the round robin of its priority */
	char *key;		/* NULL: the default flow */
	struct outq_fifo fifo;
};

/* The flows of one priority that hold entries; head is served next. As in
 * fq_codel, the flows that started waiting since they were last served
 * ("new") come first, in the order they came; a flow served goes to the
 * end ("old") when it still holds lines. */
struct outq_ring {
	struct outq_flow *head;
	struct outq_flow **tail;
	struct outq_flow **new_end;	/* the link after the last new flow (&head: none) */
};

struct outq {
	struct outq_ring ring[OUTQ_PRIO_COUNT];
	struct outq_flow dflt[OUTQ_PRIO_COUNT];	/* each priority's default flow (key NULL) */
	size_t bounded_count;	/* CONTROL and NORMAL entries */
	size_t bounded_bytes;
	unsigned burst;
	uint64_t interval_ms;
	uint64_t clock;		/* the bucket's virtual clock: empty at clock */
	size_t max_entries, max_bytes;
	bool closing;		/* outq_free is completing the entries */
	struct outq_stats stats;
};

/* Reset fifo to empty. */
static void outq_fifo_init(struct outq_fifo *f)
{
	f->head = NULL;
	f->tail = &f->head;
}

/* Append e to fifo. */
static void outq_fifo_append(struct outq_fifo *f, struct outq_entry *e)
{
	e->next = NULL;
	*f->tail = e;
	f->tail = &e->next;
}

/* Remove and return the head of fifo (which must not be empty). */
static struct outq_entry *outq_fifo_pop(struct outq_fifo *f)
{
	struct outq_entry *e = f->head;

	f->head = e->next;
	if (!f->head)
		f->tail = &f->head;
	e->next = NULL;
	return e;
}

/* Reset ring to empty. */
static void outq_ring_init(struct outq_ring *r)
{
	r->head = NULL;
	r->tail = &r->head;
	r->new_end = &r->head;
}

/* Whether two flow keys (NULL: the default flow) are the same. */
static bool outq_key_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The flow of ring with key, or NULL. The ring holds at most one flow per
 * entry, and a bounded priority at most max_entries. */
static struct outq_flow *outq_ring_find(const struct outq_ring *r, const char *key)
{
	for (struct outq_flow *f = r->head; f; f = f->next)
		if (outq_key_eq(f->key, key))
			return f;
	return NULL;
}

/* A new empty flow for key (copied), not in any ring; NULL on allocation failure. */
static struct outq_flow *outq_flow_new(const char *key)
{
	struct outq_flow *f = calloc(1, sizeof *f);

	if (!f || (key && !(f->key = strdup(key)))) {
		free(f);
		return NULL;
	}
	outq_fifo_init(&f->fifo);
	return f;
}

/* Free a flow that is in no ring (a default flow stays, empty). */
static void outq_flow_free(struct outq_flow *f)
{
	if (!f->key)
		return;
	free(f->key);
	free(f);
}

/* Append f at the end of the round robin. */
static void outq_ring_append(struct outq_ring *r, struct outq_flow *f)
{
	f->next = NULL;
	*r->tail = f;
	r->tail = &f->next;
}

/* Add f, which starts waiting, after the other new flows: before every
 * flow that was served already. */
static void outq_ring_join(struct outq_ring *r, struct outq_flow *f)
{
	f->next = *r->new_end;
	*r->new_end = f;
	if (r->tail == r->new_end)
		r->tail = &f->next;
	r->new_end = &f->next;
}

/* Put f first in the round robin. */
static void outq_ring_prepend(struct outq_ring *r, struct outq_flow *f)
{
	f->next = r->head;
	r->head = f;
	if (!f->next)
		r->tail = &f->next;
	/* Flows that start waiting from now on still go after it. */
	if (r->new_end == &r->head)
		r->new_end = &f->next;
}

/* Remove the first flow of the round robin (which must not be empty). */
static struct outq_flow *outq_ring_pop(struct outq_ring *r)
{
	struct outq_flow *f = r->head;

	r->head = f->next;
	if (r->new_end == &f->next)
		r->new_end = &r->head;
	if (!r->head)
		r->tail = r->new_end = &r->head;
	f->next = NULL;
	return f;
}

/* Drop the flows of ring left empty (after entries were detached). */
static void outq_ring_prune(struct outq_ring *r)
{
	struct outq_flow **pp = &r->head;

	/* The flows left are all old from now on. */
	r->new_end = &r->head;
	while (*pp) {
		struct outq_flow *f = *pp;
		if (!f->fifo.head) {
			*pp = f->next;
			outq_flow_free(f);
		} else {
			pp = &f->next;
		}
	}
	r->tail = pp;
}

/* The flow of priority p for key, put at the end of the round robin when it
 * was idle (at its start when first); NULL on allocation failure, or the
 * default flow then when fallback is set. */
static struct outq_flow *outq_flow_get(struct outq *q, enum outq_prio p, const char *key, bool first,
				       bool fallback)
{
	struct outq_flow *f = key ? outq_ring_find(&q->ring[p], key) : q->dflt[p].fifo.head ? &q->dflt[p] : NULL;

	if (f)
		return f;
	f = key ? outq_flow_new(key) : &q->dflt[p];
	if (!f && !fallback)
		return NULL;
	if (!f && (f = q->dflt[p].fifo.head ? &q->dflt[p] : NULL))
		return f;
	if (!f)
		f = &q->dflt[p];
	if (first)
		outq_ring_prepend(&q->ring[p], f);
	else
		outq_ring_join(&q->ring[p], f);
	return f;
}

/* Account for e entering (sign 1) or leaving (sign -1) the queue. */
static void outq_account(struct outq *q, const struct outq_entry *e, int sign)
{
	if (sign > 0) {
		q->stats.queued[e->prio]++;
		q->stats.bytes += e->len;
	} else {
		q->stats.queued[e->prio]--;
		q->stats.bytes -= e->len;
	}
	if (e->prio == OUTQ_URGENT)
		return;
	if (sign > 0) {
		q->bounded_count++;
		q->bounded_bytes += e->len;
	} else {
		q->bounded_count--;
		q->bounded_bytes -= e->len;
	}
}

/* Run e's completion with err and free it. */
static void outq_entry_finish(struct outq_entry *e, int err)
{
	if (e->cb)
		e->cb(e->line, err, e->userdata);
	free(e);
}

/* A new empty queue with the defaults. */
struct outq *outq_new(void)
{
	struct outq *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	for (int p = 0; p < OUTQ_PRIO_COUNT; p++) {
		outq_ring_init(&q->ring[p]);
		outq_fifo_init(&q->dflt[p].fifo);
	}
	q->burst = OUTQ_BURST;
	q->interval_ms = OUTQ_INTERVAL_MS;
	q->max_entries = OUTQ_MAX_ENTRIES;
	q->max_bytes = OUTQ_MAX_BYTES;
	return q;
}

/* Cancel what is queued and free the queue. */
struct outq *outq_free(struct outq *q)
{
	if (!q)
		return NULL;
	q->closing = true;
	outq_fail_all(q, -ECANCELED);
	free(q);
	return NULL;
}

/* Set burst and interval. */
int outq_set_pacing(struct outq *q, unsigned burst, uint64_t interval_ms)
{
	if (burst == 0)
		return -EINVAL;
	q->burst = burst;
	q->interval_ms = interval_ms;
	return 0;
}

/* Set the bounds. */
int outq_set_limits(struct outq *q, size_t max_entries, size_t max_bytes)
{
	if (max_entries == 0 || max_bytes == 0)
		return -EINVAL;
	q->max_entries = max_entries;
	q->max_bytes = max_bytes;
	return 0;
}

/* Refill the bucket. */
void outq_pacing_reset(struct outq *q)
{
	q->clock = 0;
}

/* Queue a copy of a line in the default flow. */
int outq_push(struct outq *q, enum outq_prio prio, const char *line, uint64_t now,
	      outq_done_cb cb, void *userdata)
{
	return outq_push_flow(q, prio, NULL, line, now, cb, userdata);
}

/* Queue a copy of a line in flow unless the bounds refuse it. */
int outq_push_flow(struct outq *q, enum outq_prio prio, const char *flow, const char *line, uint64_t now,
		   outq_done_cb cb, void *userdata)
{
	size_t len = strlen(line), klen;
	struct outq_entry *e;
	struct outq_flow *f;

	if ((unsigned)prio >= OUTQ_PRIO_COUNT || len == 0 || strpbrk(line, "\r\n"))
		return -EINVAL;
	if (len > IRC_LINE_MAX)
		return -EMSGSIZE;
	if (q->closing)
		return -ECANCELED;
	if (prio != OUTQ_URGENT &&
	    (q->bounded_count >= q->max_entries || q->bounded_bytes + len > q->max_bytes)) {
		q->stats.refused++;
		return -ENOBUFS;
	}
	if (prio == OUTQ_URGENT)
		flow = NULL;
	klen = flow ? strlen(flow) + 1 : 0;
	e = malloc(sizeof *e + len + 1 + klen);
	if (!e)
		return -ENOMEM;
	f = outq_flow_get(q, prio, flow, false, false);
	if (!f) {
		free(e);
		return -ENOMEM;
	}
	e->flow = flow ? memcpy(e->line + len + 1, flow, klen) : NULL;
	e->prio = prio;
	e->charged = false;
	e->enqueued = now;
	e->cb = cb;
	e->userdata = userdata;
	e->len = len;
	memcpy(e->line, line, len + 1);
	outq_fifo_append(&f->fifo, e);
	outq_account(q, e, 1);
	q->stats.pushed++;
	return 0;
}

/* The earliest time the bucket lets a line go. */
static uint64_t outq_allowed_at(const struct outq *q)
{
	uint64_t slack = (uint64_t)(q->burst - 1) * q->interval_ms;

	return q->clock > slack ? q->clock - slack : 0;
}

/* Remove the head of the flow whose turn it is in priority p, charging its
 * pacing cost at now; the flow goes to the end of the round robin. */
static struct outq_entry *outq_take(struct outq *q, enum outq_prio p, uint64_t now)
{
	struct outq_flow *f = outq_ring_pop(&q->ring[p]);
	struct outq_entry *e = outq_fifo_pop(&f->fifo);

	if (f->fifo.head)
		outq_ring_append(&q->ring[p], f);
	else
		outq_flow_free(f);

	outq_account(q, e, -1);
	q->stats.dequeued++;
	if (q->interval_ms) {
		q->clock = (q->clock > now ? q->clock : now) + q->interval_ms;
		e->charged = true;
	}
	return e;
}

/* Hand out the next line the priorities and the bucket allow now. */
struct outq_entry *outq_ready(struct outq *q, uint64_t now, uint64_t *ret_wait_ms)
{
	enum outq_prio p = OUTQ_CONTROL;
	uint64_t at;

	if (q->ring[OUTQ_URGENT].head)
		return outq_take(q, OUTQ_URGENT, now);
	while (p < OUTQ_LOW && !q->ring[p].head)
		p++;
	if (!q->ring[p].head) {
		if (ret_wait_ms)
			*ret_wait_ms = OUTQ_IDLE;
		return NULL;
	}
	at = outq_allowed_at(q);
	if (!q->interval_ms || now >= at)
		return outq_take(q, p, now);
	if (ret_wait_ms)
		*ret_wait_ms = at - now;
	return NULL;
}

/* Give an entry back to the head of its flow, its flow first in the round robin. */
void outq_requeue(struct outq *q, struct outq_entry *e)
{
	struct outq_ring *r = &q->ring[e->prio];
	struct outq_flow *fl = outq_flow_get(q, e->prio, e->flow, true, true);
	struct outq_fifo *f = &fl->fifo;

	if (e->charged)
		q->clock = q->clock > q->interval_ms ? q->clock - q->interval_ms : 0;
	e->charged = false;
	e->next = f->head;
	f->head = e;
	if (!e->next)
		f->tail = &e->next;
	if (r->head != fl) {
		/* It was waiting its turn: now it is first. */
		for (struct outq_flow **pp = &r->head; *pp; pp = &(*pp)->next)
			if (*pp == fl) {
				*pp = fl->next;
				if (!*pp)
					r->tail = pp;
				if (r->new_end == &fl->next)
					r->new_end = pp;
				break;
			}
		outq_ring_prepend(r, fl);
	}
	outq_account(q, e, 1);
	q->stats.dequeued--;
}

/* Move the entries of f older than max_age_ms at now to the end of *out. */
static size_t outq_fifo_detach_old(struct outq *q, struct outq_fifo *f, uint64_t now,
				   uint64_t max_age_ms, struct outq_fifo *out)
{
	struct outq_entry **pp = &f->head;
	size_t n = 0;

	while (*pp) {
		struct outq_entry *e = *pp;
		if (now > e->enqueued && now - e->enqueued > max_age_ms) {
			*pp = e->next;
			outq_account(q, e, -1);
			outq_fifo_append(out, e);
			n++;
		} else {
			pp = &e->next;
		}
	}
	f->tail = pp;
	return n;
}

/* Complete every entry of the detached list with err. */
static void outq_complete_list(struct outq_fifo *list, int err)
{
	while (list->head)
		outq_entry_finish(outq_fifo_pop(list), err);
}

/* Complete the entries older than max_age_ms with -ETIMEDOUT. */
size_t outq_expire(struct outq *q, uint64_t now, uint64_t max_age_ms)
{
	struct outq_fifo old;
	size_t n = 0;

	outq_fifo_init(&old);
	for (int p = 0; p < OUTQ_PRIO_COUNT; p++) {
		for (struct outq_flow *f = q->ring[p].head; f; f = f->next)
			n += outq_fifo_detach_old(q, &f->fifo, now, max_age_ms, &old);
		outq_ring_prune(&q->ring[p]);
	}
	q->stats.expired += n;
	outq_complete_list(&old, -ETIMEDOUT);
	return n;
}

/* Complete every queued entry with err. */
size_t outq_fail_all(struct outq *q, int err)
{
	struct outq_fifo all;
	size_t n = 0;

	outq_fifo_init(&all);
	for (int p = 0; p < OUTQ_PRIO_COUNT; p++) {
		while (q->ring[p].head) {
			struct outq_flow *f = outq_ring_pop(&q->ring[p]);
			while (f->fifo.head) {
				struct outq_entry *e = outq_fifo_pop(&f->fifo);
				outq_account(q, e, -1);
				outq_fifo_append(&all, e);
				n++;
			}
			outq_flow_free(f);
		}
	}
	q->stats.failed += n;
	outq_complete_list(&all, err);
	return n;
}

/* Entries waiting. */
size_t outq_count(const struct outq *q)
{
	size_t n = 0;

	for (int p = 0; p < OUTQ_PRIO_COUNT; p++)
		n += q->stats.queued[p];
	return n;
}

/* Bytes waiting. */
size_t outq_bytes(const struct outq *q)
{
	return q->stats.bytes;
}

/* A copy of the counters. */
void outq_stats_get(const struct outq *q, struct outq_stats *ret_stats)
{
	*ret_stats = q->stats;
}

/* The entry's line. */
const char *outq_entry_line(const struct outq_entry *e)
{
	return e->line;
}

/* The length of the entry's line. */
size_t outq_entry_len(const struct outq_entry *e)
{
	return e->len;
}

/* The entry's priority. */
enum outq_prio outq_entry_prio(const struct outq_entry *e)
{
	return e->prio;
}

/* When the entry was pushed. */
uint64_t outq_entry_enqueued(const struct outq_entry *e)
{
	return e->enqueued;
}

/* Complete and free an entry the caller owns. */
void outq_entry_complete(struct outq_entry *e, int err)
{
	outq_entry_finish(e, err);
}
