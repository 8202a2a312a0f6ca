/* SPDX-License-Identifier: ISC */
/* Clocks: monotonic time for intervals, deadlines and rate buckets, and wall
 * time for timestamps shown to people.
 *
 * Every module of bothost reads the time here, so that a test can replace it:
 * clock_set_source() installs a source whose functions return the time the
 * test says. The source is process-wide (one static pointer in clock.c), which
 * is hidden global state; it is the simplest honest design: bothost runs one
 * event loop in one thread with one notion of "now", and threading a clock
 * object through every module that reads the time would touch every
 * constructor for no other gain. Only tests set it; nothing else changes it.
 *
 * An injected source does not move libev's timers (ev_timer waits in real
 * time): a test that injects a clock drives the code that reads it (buckets,
 * deadlines, backoff arithmetic) by calling it, not by waiting on the loop. */
#ifndef BOTHOST_CLOCK_H
#define BOTHOST_CLOCK_H

#include <stdint.h>

/* A replacement for the system clocks; either function may be NULL, and
 * that clock is then the system's. */
struct clock_source {
	uint64_t (*now_us)(void *userdata);	/* monotonic microseconds */
	int64_t (*wall_us)(void *userdata);	/* microseconds since the epoch */
	void *userdata;
};

/* Monotonic microseconds (CLOCK_MONOTONIC, or the injected source). */
uint64_t clock_now_us(void);
/* Monotonic milliseconds. */
uint64_t clock_now_ms(void);
/* Milliseconds since the epoch (CLOCK_REALTIME, or the injected source). */
int64_t clock_wall_ms(void);
/* Read the time from src (copied) from now on; NULL restores the system clocks. */
void clock_set_source(const struct clock_source *src);

#endif
