/* SPDX-License-Identifier: ISC */
/* The clocks, and the source a test may inject (see clock.h). */
#include "config.h"

#include "clock.h"

#include <stdbool.h>
#include <time.h>

/* The injected source; unused while injected is false. */
static struct clock_source clock_source;
static bool clock_injected;

/* Microseconds of clock id. */
static int64_t clock_system_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Monotonic microseconds. */
uint64_t clock_now_us(void)
{
	if (clock_injected && clock_source.now_us)
		return clock_source.now_us(clock_source.userdata);
	return (uint64_t)clock_system_us(CLOCK_MONOTONIC);
}

/* Monotonic milliseconds. */
uint64_t clock_now_ms(void)
{
	return clock_now_us() / 1000;
}

/* Milliseconds since the epoch. */
int64_t clock_wall_ms(void)
{
	if (clock_injected && clock_source.wall_us)
		return clock_source.wall_us(clock_source.userdata) / 1000;
	return clock_system_us(CLOCK_REALTIME) / 1000;
}

/* Install src (copied), or the system clocks for NULL. */
void clock_set_source(const struct clock_source *src)
{
	clock_injected = src != NULL;
	if (src)
		clock_source = *src;
}
