/* SPDX-License-Identifier: ISC */
/* The deferred-callback queue. */
#include "config.h"

#include "later.h"

#include <errno.h>
#include <stdlib.h>

#include <ev.h>

struct later_queue {
	struct ev_loop *loop;
	/* A circular list of queued entries; the head itself is never run. */
	struct later head;
	ev_prepare prepare;
	ev_idle idle;
};

struct later_oneoff {
	struct later entry;
	later_fn fn;
	void *userdata;
};

static void later_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents);
static void later_idle_cb(struct ev_loop *loop, ev_idle *w, int revents);

/* A queue on loop, attached to it as its userdata. */
struct later_queue *later_queue_new(struct ev_loop *loop)
{
	struct later_queue *q;

	if (ev_userdata(loop))
		return NULL;
	q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->loop = loop;
	q->head.prev = q->head.next = &q->head;
	q->head.queue = q;
	ev_prepare_init(&q->prepare, later_prepare_cb);
	ev_idle_init(&q->idle, later_idle_cb);
	q->prepare.data = q->idle.data = q;
	/* Lowest priority: run after every other prepare watcher. */
	ev_set_priority(&q->prepare, EV_MINPRI);
	ev_prepare_start(loop, &q->prepare);
	ev_unref(loop);
	ev_set_userdata(loop, q);
	return q;
}

/* Drain, stop watching the loop, detach and free. */
void later_queue_free(struct later_queue *q)
{
	if (!q)
		return;
	later_queue_run(q);
	ev_ref(q->loop);
	ev_prepare_stop(q->loop, &q->prepare);
	ev_idle_stop(q->loop, &q->idle);
	if (ev_userdata(q->loop) == q)
		ev_set_userdata(q->loop, NULL);
	free(q);
}

/* The queue attached to loop. */
struct later_queue *later_queue_of(struct ev_loop *loop)
{
	return ev_userdata(loop);
}

/* Prepare an entry of q that runs fn(userdata) each time it is scheduled. */
void later_init(struct later *l, struct later_queue *q, later_fn fn, void *userdata)
{
	l->prev = l->next = l;
	l->queue = q;
	l->fn = fn;
	l->userdata = userdata;
	l->queued = false;
}

/* Append l to its queue and make sure the loop will not block. */
void later_schedule(struct later *l)
{
	struct later_queue *q = l->queue;

	if (l->queued)
		return;
	l->queued = true;
	l->prev = q->head.prev;
	l->next = &q->head;
	q->head.prev->next = l;
	q->head.prev = l;
	if (!ev_is_active(&q->idle))
		ev_idle_start(q->loop, &q->idle);
}

/* Unlink l from its queue. */
void later_cancel(struct later *l)
{
	if (!l->queued)
		return;
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
	l->queued = false;
}

/* Run a one-off entry and free it. */
static void later_oneoff_run(void *userdata)
{
	struct later_oneoff *o = userdata;
	later_fn fn = o->fn;
	void *ud = o->userdata;

	free(o);
	fn(ud);
}

/* Queue fn(userdata) once on q. */
int later_add(struct later_queue *q, later_fn fn, void *userdata)
{
	struct later_oneoff *o = malloc(sizeof *o);

	if (!o)
		return -ENOMEM;
	o->fn = fn;
	o->userdata = userdata;
	later_init(&o->entry, q, later_oneoff_run, o);
	later_schedule(&o->entry);
	return 0;
}

/* True while entries wait to run. */
bool later_queue_pending(const struct later_queue *q)
{
	return q->head.next != &q->head;
}

/* Run entries in order, including those queued while running. */
void later_queue_run(struct later_queue *q)
{
	while (later_queue_pending(q)) {
		struct later *l = q->head.next;
		later_cancel(l);
		l->fn(l->userdata);
	}
	if (ev_is_active(&q->idle))
		ev_idle_stop(q->loop, &q->idle);
}

/* Before the loop blocks: drain the queue. */
static void later_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	later_queue_run(w->data);
}

/* Runs while the queue is not empty, keeping the loop from blocking. */
static void later_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	later_queue_run(w->data);
}
