/* SPDX-License-Identifier: ISC */
/* Event loop integration (fd, events, timeout, process) and the built-in
 * poll loop behind bk_run() and the blocking calls. */
#include "botkit-internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <time.h>

/* CLOCK_MONOTONIC in microseconds. */
uint64_t bki_run_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The earliest deadline of a call or a timer, or BK_NO_DEADLINE. */
uint64_t bki_run_next_deadline(const bk_conn *c)
{
	uint64_t calls = bki_call_next_deadline(c);
	uint64_t timers = bki_timer_next_deadline(c);

	return calls < timers ? calls : timers;
}

/* True when the loop has something to do without waiting. */
static bool run_has_work(const bk_conn *c)
{
	return c->state == CONN_CLOSING || c->deferred.head != NULL;
}

/* Report a loss and complete the requests started after it. */
void bki_run_settle(bk_conn *c)
{
	bki_conn_report_lost(c, true);
	bki_call_run_deferred(c);
}

/* Milliseconds poll() may wait until `until` (rounded up), -1 for no limit. */
static int run_poll_timeout(uint64_t until)
{
	if (until == BK_NO_DEADLINE)
		return -1;
	uint64_t now = bki_run_now_usec();
	if (until <= now)
		return 0;
	uint64_t ms = (until - now + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Wait for the socket (at most until the next deadline or `until`) and handle
 * what it reports. */
static void run_poll(bk_conn *c, uint64_t until)
{
	uint64_t next = bki_run_next_deadline(c);
	struct pollfd pfd = { .fd = c->fd, .events = (short)bk_conn_get_events(c) };

	if (next < until)
		until = next;
	int n = poll(&pfd, 1, run_poll_timeout(until));
	if (n < 0 && errno != EINTR && errno != EAGAIN)
		bki_conn_fail(c, "Disconnected", strerror(errno));
	if (n <= 0)
		return;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
		bki_conn_input(c);
	if (conn_is_open(c) && buf_pending(&c->out) > 0)
		bki_conn_flush_some(c);
}

/* One turn of the built-in loop: flush, wait, read and dispatch, expire
 * deadlines, fire due timers, report a loss, complete deferred requests. */
int bki_run_iterate(bk_conn *c, uint64_t until)
{
	bk_conn_ref(c);
	/* A nested loop (a blocking call inside a handler) first handles the
	 * frames the outer dispatch has not reached yet. */
	bool busy = conn_is_open(c) && bki_conn_dispatch_buffered(c) > 0;
	if (conn_is_open(c) && buf_pending(&c->out) > 0 && !c->out_blocked)
		bki_conn_flush_some(c);
	if (conn_is_open(c) && !busy && !run_has_work(c))
		run_poll(c, until);
	bki_call_expire(c);
	bki_timer_expire(c);
	bki_run_settle(c);
	int r = conn_is_open(c) ? 0 : -ENOTCONN;
	bk_conn_unref(c);
	return r;
}

/* The socket to watch (-1 once the connection is closed). */
int bk_conn_get_fd(bk_conn *c)
{
	return c ? c->fd : -1;
}

/* POLLIN, plus POLLOUT while output is queued; 0 once closed. */
int bk_conn_get_events(bk_conn *c)
{
	if (!c || !conn_is_open(c))
		return 0;
	return POLLIN | (buf_pending(&c->out) > 0 && !c->out_dead ? POLLOUT : 0);
}

/* The next deadline (CLOCK_MONOTONIC usec): 0 when there is work to do now,
 * UINT64_MAX for none. */
uint64_t bk_conn_get_timeout(bk_conn *c)
{
	if (!c)
		return UINT64_MAX;
	if (run_has_work(c))
		return 0;
	return bki_run_next_deadline(c);
}

/* Do everything possible without blocking. Queued requests are written first,
 * so the host works on them while the input is dispatched. */
int bk_conn_process(bk_conn *c)
{
	if (!c)
		return -EINVAL;
	bk_conn_ref(c);
	if (conn_is_open(c) && buf_pending(&c->out) > 0)
		bki_conn_flush_some(c);
	if (conn_is_open(c))
		bki_conn_dispatch_buffered(c);
	if (conn_is_open(c))
		bki_conn_input(c);
	if (conn_is_open(c) && buf_pending(&c->out) > 0)
		bki_conn_flush_some(c);
	bki_call_expire(c);
	bki_timer_expire(c);
	if (conn_is_open(c) && buf_pending(&c->out) > 0 && !c->out_blocked)
		bki_conn_flush_some(c);
	bki_run_settle(c);
	int r = conn_is_open(c) ? 0 : -ENOTCONN;
	bk_conn_unref(c);
	return r;
}

/* Write all queued output, blocking. */
int bk_conn_flush(bk_conn *c)
{
	if (!c)
		return -EINVAL;
	while (conn_is_open(c) && !c->out_dead && buf_pending(&c->out) > 0) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			bki_conn_fail(c, "Disconnected", strerror(errno));
			break;
		}
		bki_conn_flush_some(c);
	}
	return conn_is_open(c) && !c->out_dead ? 0 : -ENOTCONN;
}

/* True when nothing is left to wait for. */
bool bk_conn_is_idle(bk_conn *c)
{
	if (!c)
		return true;
	if (run_has_work(c))
		return false;
	if (!conn_is_open(c))
		return true;
	return map_count(&c->pending) == 0 && map_count(&c->exports_by_id) == 0 &&
	       c->args_waiting == 0 && c->timers_len == 0 && buf_pending(&c->out) == 0;
}

/* Dispatch until idle, stopped or disconnected. */
int bk_run(bk_conn *c)
{
	int r = 0;

	if (!c)
		return -EINVAL;
	bk_conn_ref(c);
	c->stop = false;
	for (;;) {
		bki_run_settle(c);
		if (!conn_is_open(c)) {
			r = -ENOTCONN;
			break;
		}
		if (c->stop || bk_conn_is_idle(c))
			break;
		bki_run_iterate(c, BK_NO_DEADLINE);
	}
	c->stop = false;
	bk_conn_unref(c);
	return r;
}

/* Make bk_run() return after the current dispatch. */
void bk_stop(bk_conn *c)
{
	if (c)
		c->stop = true;
}
