/* SPDX-License-Identifier: ISC */
/* The outbound queue in front of the link: pacing, bounds, batches. */
#include "config.h"

#include "irc_send.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "irc_conf.h"
#include "irc_line.h"
#include "core/clock.h"
#include "core/later.h"
#include "link.h"
#include "core/list.h"
#include "core/log.h"

/* How often queued lines are checked for their age while disconnected. */
#define IRC_SEND_EXPIRE_MIN_MS 50
#define IRC_SEND_EXPIRE_MAX_MS 1000
/* When to try again after the link's own buffer was full. */
#define IRC_SEND_RETRY_MS 100

/* The lines of one call. */
struct irc_send_batch {
	irc_send_done_fn done;
	void *userdata;
	size_t remaining;	/* lines not completed yet */
	int err;		/* the first failure */
};

/* A line handed to the link, until the link reports it written or lost. */
struct irc_send_rec {
	struct list link;	/* in irc_send.inflight, in the order written */
	struct irc_send *s;
	struct outq_entry *e;
	bool reset;		/* its connection ended before it was written */
};

struct irc_send {
	struct link *link;
	struct outq *q;
	struct list inflight;	/* struct irc_send_rec */
	bool running;		/* the link is registered */
	unsigned queue_max;
	uint64_t max_age_ms;
	const char *flow;	/* borrowed: the flow of the NORMAL lines queued now (NULL: their target) */
	ev_timer pace;		/* the bucket lets the next line go */
	ev_timer expire;	/* while stopped: fail old lines */
	struct later pump_later;
};

static void irc_send_pump(struct irc_send *s);


/* One line of a batch completed. */
static void irc_send_line_done(const char *line, int err, void *userdata)
{
	struct irc_send_batch *b = userdata;

	if (err && !b->err)
		b->err = err == -ETIMEDOUT ? -ENOTCONN : err;
	if (--b->remaining > 0)
		return;
	if (b->done)
		b->done(b->err, b->userdata);
	free(b);
}

/* The pacing timer went off. */
static void irc_send_pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	irc_send_pump(w->data);
}

/* While disconnected: complete lines older than queue_max_age. */
static void irc_send_expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct irc_send *s = w->data;
	size_t n = outq_expire(s->q, clock_now_ms(), s->max_age_ms);

	if (n)
		log_info("irc: %zu queued lines failed after waiting %llu ms for a connection", n,
			 (unsigned long long)s->max_age_ms);
}

/* Deferred pump. */
static void irc_send_pump_cb(void *userdata)
{
	irc_send_pump(userdata);
}

/* A new queue. */
struct irc_send *irc_send_new(struct link *link)
{
	struct irc_send *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->q = outq_new();
	if (!s->q) {
		free(s);
		return NULL;
	}
	s->link = link;
	s->queue_max = OUTQ_MAX_ENTRIES;
	s->max_age_ms = 300000;
	list_init(&s->inflight);
	ev_timer_init(&s->pace, irc_send_pace_cb, 0., 0.);
	s->pace.data = s;
	ev_timer_init(&s->expire, irc_send_expire_cb, 0., 0.);
	s->expire.data = s;
	later_init(&s->pump_later, later_queue_of(EV_DEFAULT), irc_send_pump_cb, s);
	return s;
}

/* Cancel everything and free the queue. */
struct irc_send *irc_send_free(struct irc_send *s)
{
	if (!s)
		return NULL;
	ev_timer_stop(EV_DEFAULT, &s->pace);
	ev_timer_stop(EV_DEFAULT, &s->expire);
	later_cancel(&s->pump_later);
	s->running = false;
	/* The link is gone: its completions for these will never come. */
	while (!list_empty(&s->inflight)) {
		struct irc_send_rec *rec = list_entry(s->inflight.next, struct irc_send_rec, link);
		list_remove(&rec->link);
		outq_entry_complete(rec->e, -ECANCELED);
		free(rec);
	}
	outq_free(s->q);
	free(s);
	return NULL;
}

/* The period of the expiry check for the configured age. */
static double irc_send_expire_period(const struct irc_send *s)
{
	uint64_t ms = s->max_age_ms / 4;

	if (ms < IRC_SEND_EXPIRE_MIN_MS)
		ms = IRC_SEND_EXPIRE_MIN_MS;
	if (ms > IRC_SEND_EXPIRE_MAX_MS)
		ms = IRC_SEND_EXPIRE_MAX_MS;
	return (double)ms / 1000.0;
}

/* Apply pacing and bounds. */
int irc_send_configure(struct irc_send *s, const struct conf_irc *cfg)
{
	unsigned burst = cfg->burst ? cfg->burst : OUTQ_BURST;
	unsigned max = cfg->queue_max ? cfg->queue_max : OUTQ_MAX_ENTRIES;
	int r = outq_set_pacing(s->q, burst, cfg->line_interval_ms);

	if (r == 0)
		r = outq_set_limits(s->q, max, OUTQ_MAX_BYTES);
	if (r < 0)
		return r;
	s->queue_max = max;
	s->max_age_ms = cfg->queue_max_age_ms;
	if (ev_is_active(&s->expire)) {
		ev_timer_stop(EV_DEFAULT, &s->expire);
		ev_timer_set(&s->expire, irc_send_expire_period(s), irc_send_expire_period(s));
		ev_timer_start(EV_DEFAULT, &s->expire);
	}
	ev_timer_stop(EV_DEFAULT, &s->pace);
	later_schedule(&s->pump_later);
	return 0;
}

/* Registered: send from a full bucket. */
void irc_send_start(struct irc_send *s)
{
	s->running = true;
	ev_timer_stop(EV_DEFAULT, &s->expire);
	outq_pacing_reset(s->q);
	later_schedule(&s->pump_later);
}

/* Disconnected: hold and age. */
void irc_send_stop(struct irc_send *s)
{
	s->running = false;
	ev_timer_stop(EV_DEFAULT, &s->pace);
	if (!ev_is_active(&s->expire)) {
		ev_timer_set(&s->expire, irc_send_expire_period(s), irc_send_expire_period(s));
		ev_timer_start(EV_DEFAULT, &s->expire);
	}
}

/* When every line being written has an outcome, give the lost ones back to
 * the queue, last first, so that they keep their order at its front. */
static void irc_send_settle(struct irc_send *s)
{
	for (struct list *l = s->inflight.next; l != &s->inflight; l = l->next)
		if (!list_entry(l, struct irc_send_rec, link)->reset)
			return;
	while (!list_empty(&s->inflight)) {
		struct irc_send_rec *rec = list_entry(s->inflight.prev, struct irc_send_rec, link);
		list_remove(&rec->link);
		outq_requeue(s->q, rec->e);
		free(rec);
	}
}

/* The link wrote a line, or its connection ended first. */
static void irc_send_sent_cb(struct link *l, int err, void *userdata)
{
	struct irc_send_rec *rec = userdata;
	struct irc_send *s = rec->s;

	if (err == -ECONNRESET) {
		rec->reset = true;
		irc_send_settle(s);
	} else {
		list_remove(&rec->link);
		outq_entry_complete(rec->e, err);
		free(rec);
		irc_send_settle(s);
	}
	later_schedule(&s->pump_later);
}

/* Hand one line to the link: false when it has to wait. */
static bool irc_send_one(struct irc_send *s, struct outq_entry *e)
{
	struct irc_send_rec *rec = calloc(1, sizeof *rec);
	int r;

	if (!rec) {
		outq_requeue(s->q, e);
		return false;
	}
	rec->s = s;
	rec->e = e;
	r = link_send(s->link, outq_entry_line(e), irc_send_sent_cb, rec);
	if (r == -ENOTCONN || r == -ENOBUFS) {
		free(rec);
		outq_requeue(s->q, e);
		/* A full link buffer drains without telling us when. */
		if (r == -ENOBUFS && list_empty(&s->inflight) && !ev_is_active(&s->pace)) {
			ev_timer_set(&s->pace, IRC_SEND_RETRY_MS / 1000.0, 0.);
			ev_timer_start(EV_DEFAULT, &s->pace);
		}
		return false;
	}
	if (r < 0) {
		log_warn("irc: the link refused a line: %s", strerror(-r));
		free(rec);
		outq_entry_complete(e, r);
		return true;
	}
	list_add_tail(&s->inflight, &rec->link);
	return true;
}

/* Send what the bucket allows now; arm the timer for the rest. */
static void irc_send_pump(struct irc_send *s)
{
	while (s->running) {
		uint64_t wait = OUTQ_IDLE;
		struct outq_entry *e;

		/* Keep at most what the link can take without buffering. */
		if (!list_empty(&s->inflight) && !link_writable(s->link))
			return;
		e = outq_ready(s->q, clock_now_ms(), &wait);
		if (!e) {
			if (wait != OUTQ_IDLE && !ev_is_active(&s->pace)) {
				ev_timer_set(&s->pace, (double)wait / 1000.0, 0.);
				ev_timer_start(EV_DEFAULT, &s->pace);
			}
			return;
		}
		if (!irc_send_one(s, e))
			return;
	}
}

/* Whether n more bounded lines of bytes total fit. */
static bool irc_send_fits(const struct irc_send *s, size_t n, size_t bytes)
{
	struct outq_stats st;

	outq_stats_get(s->q, &st);
	return outq_count(s->q) - st.queued[OUTQ_URGENT] + n <= s->queue_max &&
	       outq_bytes(s->q) + bytes <= OUTQ_MAX_BYTES;
}

/* The flow of a NORMAL line: the one set, else the line's target (the word
 * after the command), copied into buf. */
static const char *irc_send_flow_of(const struct irc_send *s, const char *line, char *buf, size_t size)
{
	size_t n;

	if (s->flow)
		return s->flow;
	/* Skip tags and a source, then the command. */
	while (*line == '@' || *line == ':') {
		line += strcspn(line, " ");
		line += strspn(line, " ");
	}
	line += strcspn(line, " ");
	line += strspn(line, " ");
	n = strcspn(line, " ");
	if (n == 0 || *line == ':' || n >= size)
		return NULL;
	memcpy(buf, line, n);
	buf[n] = '\0';
	return buf;
}

/* Queue a batch. */
int irc_send_lines(struct irc_send *s, enum outq_prio prio, char *const *lines, size_t n,
		   irc_send_done_fn done, void *userdata)
{
	struct irc_send_batch *b;
	size_t bytes = 0;
	uint64_t now = clock_now_ms();

	for (size_t i = 0; i < n; i++)
		bytes += strlen(lines[i]);
	if (n == 0)
		return -EINVAL;
	if (prio != OUTQ_URGENT && !irc_send_fits(s, n, bytes))
		return -ENOBUFS;
	b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->done = done;
	b->userdata = userdata;
	for (size_t i = 0; i < n; i++) {
		char buf[IRC_LINE_MAX + 1];
		const char *flow = prio >= OUTQ_NORMAL ? irc_send_flow_of(s, lines[i], buf, sizeof buf) : NULL;
		int r = outq_push_flow(s->q, prio, flow, lines[i], now, irc_send_line_done, b);
		if (r < 0 && b->remaining == 0) {
			free(b);
			return r;
		}
		if (r < 0) {
			/* Lines already queued go; the batch fails when they are done. */
			b->err = r;
			break;
		}
		b->remaining++;
	}
	later_schedule(&s->pump_later);
	return 0;
}

/* Queue one line. */
int irc_send_line(struct irc_send *s, enum outq_prio prio, const char *line, irc_send_done_fn done,
		  void *userdata)
{
	char *const lines[] = { (char *)line };

	return irc_send_lines(s, prio, lines, 1, done, userdata);
}

/* Set the flow of the NORMAL lines queued from now on. */
void irc_send_set_flow(struct irc_send *s, const char *flow)
{
	s->flow = flow;
}

/* Fail what waits. */
void irc_send_fail_all(struct irc_send *s, int err)
{
	outq_fail_all(s->q, err);
}

/* Lines waiting. */
size_t irc_send_queued(const struct irc_send *s)
{
	return outq_count(s->q);
}
