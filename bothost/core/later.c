/* The deferred-callback queue. */
#include "config.h"

#include "later.h"

#include <errno.h>
#include <stdlib.h>

#include <ev.h>

/* A circular list of queued entries; the head itself is never run. */
static struct later later_queue = { &later_queue, &later_queue, NULL, NULL, false };
static ev_prepare later_prepare;
static ev_idle later_idle;
static bool later_attached;

struct later_oneoff {
	struct later entry;
	later_fn fn;
	void *userdata;
};

/* Prepare an entry that runs fn(userdata) each time it is scheduled. */
void later_init(struct later *l, later_fn fn, void *userdata)
{
	l->prev = l->next = l;
	l->fn = fn;
	l->userdata = userdata;
	l->queued = false;
}

/* Append l to the queue and make sure the loop will not block. */
void later_schedule(struct later *l)
{
	if (l->queued)
		return;
	l->queued = true;
	l->prev = later_queue.prev;
	l->next = &later_queue;
	later_queue.prev->next = l;
	later_queue.prev = l;
	if (later_attached && !ev_is_active(&later_idle))
		ev_idle_start(EV_DEFAULT, &later_idle);
}

/* Unlink l from the queue. */
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

/* Queue fn(userdata) once. */
int later_add(later_fn fn, void *userdata)
{
	struct later_oneoff *o = malloc(sizeof *o);

	if (!o)
		return -ENOMEM;
	o->fn = fn;
	o->userdata = userdata;
	later_init(&o->entry, later_oneoff_run, o);
	later_schedule(&o->entry);
	return 0;
}

/* True while entries wait to run. */
bool later_pending(void)
{
	return later_queue.next != &later_queue;
}

/* Run entries in order, including those queued while running. */
void later_run(void)
{
	while (later_pending()) {
		struct later *l = later_queue.next;
		later_cancel(l);
		l->fn(l->userdata);
	}
	if (later_attached && ev_is_active(&later_idle))
		ev_idle_stop(EV_DEFAULT, &later_idle);
}

/* Both watchers just drain the queue. */
static void later_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	later_run();
}

/* Runs while the queue is not empty, keeping the loop from blocking. */
static void later_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	later_run();
}

/* Watch the default loop. */
void later_start(void)
{
	if (later_attached)
		return;
	ev_prepare_init(&later_prepare, later_prepare_cb);
	ev_idle_init(&later_idle, later_idle_cb);
	/* Lowest priority: run after every other prepare watcher. */
	ev_set_priority(&later_prepare, EV_MINPRI);
	ev_prepare_start(EV_DEFAULT, &later_prepare);
	ev_unref(EV_DEFAULT);
	later_attached = true;
	if (later_pending())
		ev_idle_start(EV_DEFAULT, &later_idle);
}

/* Stop watching the loop; queued entries stay queued. */
void later_stop(void)
{
	if (!later_attached)
		return;
	ev_ref(EV_DEFAULT);
	ev_prepare_stop(EV_DEFAULT, &later_prepare);
	ev_idle_stop(EV_DEFAULT, &later_idle);
	later_attached = false;
}
