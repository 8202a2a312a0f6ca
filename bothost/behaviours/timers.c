/* SPDX-License-Identifier: ISC */
/* Timers: the schedule of [timer NAME] behaviours. */
#include "config.h"

#include "timers.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "behaviour.h"
#include "core/log.h"
#include "core/value.h"

struct timer {
	struct behaviour *b;
	ev_timer every;		/* the period, when set */
	ev_periodic at;		/* the next of the times of day, when set */
};

/* The first of the daily times strictly after `after`. */
time_t timers_next_at(const unsigned *at, size_t n, time_t after)
{
	struct tm now;
	time_t best = 0;

	if (!localtime_r(&after, &now))
		return 0;
	/* Today's and tomorrow's; mktime settles the calendar and daylight saving. */
	for (int day = 0; day < 2; day++) {
		for (size_t i = 0; i < n; i++) {
			struct tm t = now;
			time_t c;
			t.tm_mday += day;
			t.tm_hour = (int)(at[i] / 60);
			t.tm_min = (int)(at[i] % 60);
			t.tm_sec = 0;
			t.tm_isdst = -1;
			c = mktime(&t);
			if (c != (time_t)-1 && c > after && (!best || c < best))
				best = c;
		}
	}
	return best;
}

/* Start the timer's process, unless the last one still runs. */
static void timer_fire(struct timer *t, const char *why)
{
	struct behaviour *b = t->b;
	const char *name = behaviour_conf(b)->name;
	struct value *ctx = behaviour_context_new(b);
	int r;

	if (ctx && (!cJSON_AddStringToObject(value_root(ctx), "reason", why) ||
		    !cJSON_AddNumberToObject(value_root(ctx), "time", ev_now(EV_DEFAULT) * 1000.))) {
		value_free(ctx);
		ctx = NULL;
	}
	r = ctx ? behaviour_run(b, ctx, NULL, 0, NULL) : -ENOMEM;
	if (r == -EBUSY)
		log_warn("timer %s: the last run is still going: this one is skipped", name);
	else if (r == -EAGAIN)
		log_warn("timer %s: max_processes (%u) are running: this run is skipped", name,
			 behaviours_max_processes());
	else if (r < 0 && r != -ESHUTDOWN)
		log_warn("timer %s: not run: %s", name, strerror(-r));
}

/* The period passed. */
static void timer_every_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	timer_fire(w->data, "every");
}

/* A time of day came. */
static void timer_at_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	timer_fire(w->data, "at");
}

/* libev asks when the next time of day is (it must not touch the loop here). */
static ev_tstamp timer_at_reschedule_cb(ev_periodic *w, ev_tstamp now)
{
	const struct conf_behaviour *c = behaviour_conf(((struct timer *)w->data)->b);
	time_t next = timers_next_at(c->at, c->n_at, (time_t)now);

	/* No time found (a broken clock): look again in an hour. */
	return next ? (ev_tstamp)next : now + 3600.;
}

/* Set the watchers from the behaviour's configuration. */
static void timer_schedule(struct timer *t)
{
	const struct conf_behaviour *c = behaviour_conf(t->b);

	if (c->every_ms) {
		ev_timer_set(&t->every, c->every_ms / 1000., c->every_ms / 1000.);
		ev_timer_start(EV_DEFAULT, &t->every);
	}
	if (c->n_at)
		ev_periodic_start(EV_DEFAULT, &t->at);
}

/* Stop both watchers. */
static void timer_unschedule(struct timer *t)
{
	ev_timer_stop(EV_DEFAULT, &t->every);
	ev_periodic_stop(EV_DEFAULT, &t->at);
}

/* Set the schedule of b. */
struct timer *timer_new(struct behaviour *b)
{
	struct timer *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->b = b;
	ev_init(&t->every, timer_every_cb);
	t->every.data = t;
	ev_periodic_init(&t->at, timer_at_cb, 0., 0., timer_at_reschedule_cb);
	t->at.data = t;
	timer_schedule(t);
	return t;
}

/* Stop and free. */
void timer_free(struct timer *t)
{
	if (!t)
		return;
	timer_unschedule(t);
	free(t);
}

/* Set the schedule again. */
void timer_reschedule(struct timer *t)
{
	timer_unschedule(t);
	timer_schedule(t);
}

/* When the timer is next due, in milliseconds since the epoch. */
double timer_next_run(const struct timer *t)
{
	double next = 0;

	if (ev_is_active(&t->every))
		next = ev_now(EV_DEFAULT) + ev_timer_remaining(EV_DEFAULT, (ev_timer *)&t->every);
	if (ev_is_active(&t->at) && (next == 0 || ev_periodic_at(&t->at) < next))
		next = ev_periodic_at(&t->at);
	return (double)(int64_t)(next * 1000.);
}
