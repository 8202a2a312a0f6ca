/* SPDX-License-Identifier: ISC */
/* Deferred callbacks run from the event loop.
 *
 * A completion must never run before the function that started it returns,
 * and an object must not be freed while it is on the call stack. Both are
 * solved by queueing work here: the queue runs before the loop blocks (an
 * ev_prepare watcher) and, while it is not empty, keeps the loop from
 * blocking (an ev_idle watcher).
 *
 * A queue belongs to the one who creates it (main.c, a test) and is attached
 * to its loop for as long as it lives, so that every layer that runs on the
 * loop finds it there (later_queue_of); entries are bound to a queue. */
#ifndef BOTHOST_LATER_H
#define BOTHOST_LATER_H

#include <stdbool.h>

struct ev_loop;
struct later_queue;

typedef void (*later_fn)(void *userdata);

/* An entry embedded in its owner; it is queued at most once at a time. */
struct later {
	struct later *prev, *next;
	struct later_queue *queue;
	later_fn fn;
	void *userdata;
	bool queued;
};

/* A queue watching loop and attached to it (the loop's userdata, which must
 * be free). NULL on allocation failure or when loop already has userdata. */
struct later_queue *later_queue_new(struct ev_loop *loop);
/* Run what is still queued, detach from the loop and free; NULL is a no-op. */
void later_queue_free(struct later_queue *q);
/* The queue attached to loop, or NULL. */
struct later_queue *later_queue_of(struct ev_loop *loop);
/* Run queued entries until the queue is empty (also used at shutdown). */
void later_queue_run(struct later_queue *q);
bool later_queue_pending(const struct later_queue *q);

/* Bind l to q (which must outlive it), to run fn(userdata) when scheduled. */
void later_init(struct later *l, struct later_queue *q, later_fn fn, void *userdata);
/* Queue l to run from the loop; a no-op when it is already queued. */
void later_schedule(struct later *l);
/* Take l out of the queue if it is there. */
void later_cancel(struct later *l);
/* Queue a one-off call on q (allocated, freed after it runs). 0 or -ENOMEM. */
int later_add(struct later_queue *q, later_fn fn, void *userdata);

#endif
