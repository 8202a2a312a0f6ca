/* SPDX-License-Identifier: ISC */
/* botkit on a libev loop.
 *
 *   bk_ev *e = bk_ev_attach(EV_DEFAULT, c);
 *   ... ev_run(EV_DEFAULT, 0); ...
 *   bk_ev_detach(e);
 *
 * The adapter watches the connection's socket (ev_io), its next deadline
 * (ev_timer: a call's deadline or a bk_timer_add() timer), and before every
 * loop iteration (ev_prepare) re-derives both from bk_conn_get_events() and
 * bk_conn_get_timeout(); events, deadlines and due timers are handled by
 * bk_conn_process(). While the connection is idle or lost the
 * adapter keeps no watcher active, so ev_run() returns once nothing else is
 * left, like bk_run(). It holds a reference to the connection until
 * bk_ev_detach(). Header only: libbotkit does not depend on libev. */
#ifndef BOTKIT_EV_H
#define BOTKIT_EV_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <ev.h>

#include "botkit.h"

#if EV_MULTIPLICITY
#define BK_EV_UNUSED_LOOP (void)loop
#else
#define BK_EV_UNUSED_LOOP (void)0
#endif

typedef struct bk_ev {
	struct ev_loop *loop;
	bk_conn *conn;
	ev_io io;
	ev_timer timer;
	ev_prepare prepare;
	uint64_t deadline;	/* the timer's deadline, UINT64_MAX when stopped */
} bk_ev;

/* Let bk_conn_process() handle whatever woke the loop. */
static inline void bk_ev_process(bk_ev *e)
{
	bk_conn_process(e->conn);
}

/* The socket is readable or writable. */
static inline void bk_ev_io_cb(EV_P_ ev_io *w, int revents)
{
	(void)revents;
	BK_EV_UNUSED_LOOP;
	bk_ev_process((bk_ev *)w->data);
}

/* A deadline passed (or work is waiting). */
static inline void bk_ev_timer_cb(EV_P_ ev_timer *w, int revents)
{
	(void)revents;
	BK_EV_UNUSED_LOOP;
	bk_ev_process((bk_ev *)w->data);
}

/* Watch the socket for the events the connection wants (none: stop). */
static inline void bk_ev_update_io(bk_ev *e, bool active)
{
	int fd = bk_conn_get_fd(e->conn);
	int want = bk_conn_get_events(e->conn);
	int events = (want & POLLIN ? EV_READ : 0) | (want & POLLOUT ? EV_WRITE : 0);

	if (!active || fd < 0)
		events = 0;
	if (ev_is_active(&e->io) && e->io.fd == fd && (e->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(e->loop, &e->io);
	if (events) {
		ev_io_set(&e->io, fd, events);
		ev_io_start(e->loop, &e->io);
	}
}

/* Arm the timer for the connection's next deadline (none: stop). */
static inline void bk_ev_update_timer(bk_ev *e, bool active)
{
	uint64_t deadline = bk_conn_get_timeout(e->conn);
	struct timespec ts;

	if (!active && deadline != 0)
		deadline = UINT64_MAX;
	if (deadline == e->deadline && (deadline == UINT64_MAX || ev_is_active(&e->timer)))
		return;
	ev_timer_stop(e->loop, &e->timer);
	e->deadline = deadline;
	if (deadline == UINT64_MAX)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	ev_timer_set(&e->timer, deadline > now ? (double)(deadline - now) / 1e6 : 0., 0.);
	ev_timer_start(e->loop, &e->timer);
}

/* Before the loop blocks: watch what the connection needs now. */
static inline void bk_ev_prepare_cb(EV_P_ ev_prepare *w, int revents)
{
	bk_ev *e = (bk_ev *)w->data;
	bool active = !bk_conn_is_idle(e->conn);

	(void)revents;
	BK_EV_UNUSED_LOOP;
	bk_ev_update_io(e, active);
	bk_ev_update_timer(e, active);
}

/* Drive connection c from loop; NULL when out of memory. */
static inline bk_ev *bk_ev_attach(struct ev_loop *loop, bk_conn *c)
{
	bk_ev *e = (bk_ev *)calloc(1, sizeof *e);

	if (!e)
		return NULL;
	e->loop = loop;
	e->conn = bk_conn_ref(c);
	e->deadline = UINT64_MAX;
	ev_io_init(&e->io, bk_ev_io_cb, -1, 0);
	ev_timer_init(&e->timer, bk_ev_timer_cb, 0., 0.);
	ev_prepare_init(&e->prepare, bk_ev_prepare_cb);
	e->io.data = e->timer.data = e->prepare.data = e;
	ev_prepare_start(loop, &e->prepare);
	/* The prepare watcher alone must not keep ev_run() going. */
	ev_unref(loop);
	bk_ev_update_io(e, !bk_conn_is_idle(c));
	bk_ev_update_timer(e, !bk_conn_is_idle(c));
	return e;
}

/* Stop watching and drop the adapter's reference to the connection. */
static inline void bk_ev_detach(bk_ev *e)
{
	if (!e)
		return;
	ev_io_stop(e->loop, &e->io);
	ev_timer_stop(e->loop, &e->timer);
	ev_ref(e->loop);
	ev_prepare_stop(e->loop, &e->prepare);
	bk_conn_unref(e->conn);
	free(e);
}

#endif
