/* Deferred callbacks run from the event loop.
 *
 * A completion must never run before the function that started it returns,
 * and an object must not be freed while it is on the call stack. Both are
 * solved by queueing work here: the queue runs before the loop blocks (an
 * ev_prepare watcher) and, while it is not empty, keeps the loop from
 * blocking (an ev_idle watcher). */
#ifndef BOTHOST_LATER_H
#define BOTHOST_LATER_H

#include <stdbool.h>

typedef void (*later_fn)(void *userdata);

/* An entry embedded in its owner; it is queued at most once at a time. */
struct later {
	struct later *prev, *next;
	later_fn fn;
	void *userdata;
	bool queued;
};

void later_init(struct later *l, later_fn fn, void *userdata);
/* Queue l to run from the loop; a no-op when it is already queued. */
void later_schedule(struct later *l);
/* Take l out of the queue if it is there. */
void later_cancel(struct later *l);
/* Queue a one-off call (allocated, freed after it runs). 0 or -ENOMEM. */
int later_add(later_fn fn, void *userdata);

/* Attach the queue to the default loop, detach it. */
void later_start(void);
void later_stop(void);
/* Run queued entries until the queue is empty (also used at shutdown). */
void later_run(void);
bool later_pending(void);

#endif
