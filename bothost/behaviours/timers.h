/* SPDX-License-Identifier: ISC */
/* The schedule of a [timer NAME] behaviour: every (a period from when the
 * timer was set) and at (times of day, local time, daily). Each time it is
 * due the timer starts its process, unless the previous one still runs
 * (that run is skipped and logged). */
#ifndef BOTHOST_TIMERS_H
#define BOTHOST_TIMERS_H

#include <stddef.h>
#include <time.h>

struct behaviour;
struct timer;

/* Set the schedule of b (a timer). NULL on allocation failure. */
struct timer *timer_new(struct behaviour *b);
/* Stop and free; NULL is allowed. */
void timer_free(struct timer *t);
/* Set the schedule again from b's configuration (it changed). */
void timer_reschedule(struct timer *t);
/* When the timer is next due, in milliseconds since the epoch; 0 when never. */
double timer_next_run(const struct timer *t);

/* The first of the daily times at (n of them, minutes after local
 * midnight) strictly after `after`, or 0 when n is 0. */
time_t timers_next_at(const unsigned *at, size_t n, time_t after);

#endif
