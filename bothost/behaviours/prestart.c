/* SPDX-License-Identifier: ISC */
/* Prestarted command processes: the pool of a command, its refills, its
 * wait after failures, the watch on its executable. */
#include "config.h"

#include "prestart.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "behaviour.h"
#include "core/log.h"

/* The wait after a parked process exited unasked, first and longest. */
#define PRESTART_WAIT_MIN_MS 1000
#define PRESTART_WAIT_MAX_MS (5 * 60 * 1000)
/* The executable must stay unchanged this long before it is started again. */
#define PRESTART_SETTLE_MS 500
/* How often the executable is looked at when the kernel cannot tell. */
#define PRESTART_STAT_INTERVAL 1.0

struct prestart {
	struct behaviour *b;
	ev_timer fill;		/* fill now (0 s), after a failure's wait or the settle delay */
	bool waiting;		/* a failure's wait or a settle delay runs: no fill before it ends */
	unsigned wait_ms;	/* the next failure's wait */
	char *path;		/* the executable watched (ev_stat keeps a pointer to it) */
	ev_stat stat;
};

/* Start parked processes up to the section's prestart; stop at the first
 * refusal (max_processes, the host stopping) and wait after a failure. */
static void prestart_fill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct prestart *p = w->data;
	const struct conf_behaviour *c = behaviour_conf(p->b);
	int r = 0;

	p->waiting = false;
	while (behaviour_parked(p->b) < c->prestart && (r = behaviour_park(p->b)) == 0)
		;
	if (r < 0 && r != -EAGAIN && r != -ESHUTDOWN) {
		log_warn("command %s: no process prestarted: %s", c->name, strerror(-r));
		prestart_failed(p);
	}
}

/* The executable changed on disk (or was removed). */
static void prestart_stat_cb(struct ev_loop *loop, ev_stat *w, int revents)
{
	prestart_exe_changed(w->data);
}

/* A pool for b, filled from the loop at once. */
struct prestart *prestart_new(struct behaviour *b)
{
	struct prestart *p = calloc(1, sizeof *p);

	if (!p || !(p->path = strdup(behaviour_conf(b)->exec))) {
		free(p);
		return NULL;
	}
	p->b = b;
	p->wait_ms = PRESTART_WAIT_MIN_MS;
	ev_timer_init(&p->fill, prestart_fill_cb, 0., 0.);
	p->fill.data = p;
	ev_stat_init(&p->stat, prestart_stat_cb, p->path, PRESTART_STAT_INTERVAL);
	p->stat.data = p;
	ev_stat_start(EV_DEFAULT, &p->stat);
	prestart_fill_soon(p);
	return p;
}

/* Stop the watchers and free. */
void prestart_free(struct prestart *p)
{
	if (!p)
		return;
	ev_timer_stop(EV_DEFAULT, &p->fill);
	ev_stat_stop(EV_DEFAULT, &p->stat);
	free(p->path);
	free(p);
}

/* Fill from the loop, unless a wait runs. */
void prestart_fill_soon(struct prestart *p)
{
	if (!p || p->waiting || ev_is_active(&p->fill))
		return;
	ev_timer_set(&p->fill, 0., 0.);
	ev_timer_start(EV_DEFAULT, &p->fill);
}

/* Wait ms before the next fill. */
static void prestart_wait(struct prestart *p, unsigned ms)
{
	p->waiting = true;
	ev_timer_stop(EV_DEFAULT, &p->fill);
	ev_timer_set(&p->fill, ms / 1000., 0.);
	ev_timer_start(EV_DEFAULT, &p->fill);
}

/* A parked process exited unasked: wait, longer each time. */
void prestart_failed(struct prestart *p)
{
	if (!p)
		return;
	log_warn("command %s: a prestarted process exited before it was given a command (does it wait in "
		 "bot.park(), as bk_command_open does?): the next one starts in %u ms",
		 behaviour_conf(p->b)->name, p->wait_ms);
	prestart_wait(p, p->wait_ms);
	p->wait_ms = p->wait_ms > PRESTART_WAIT_MAX_MS / 2 ? PRESTART_WAIT_MAX_MS : p->wait_ms * 2;
}

/* A handover: back to the shortest wait. The replacement starts when the
 * command's process exits (behaviour_exit_cb), so that its start does not
 * compete with the command for the CPUs and the host; at once only when
 * no parked process is left. */
void prestart_handed(struct prestart *p)
{
	if (!p)
		return;
	p->wait_ms = PRESTART_WAIT_MIN_MS;
	if (behaviour_parked(p->b) == 0)
		prestart_fill_soon(p);
}

/* Replace the parked processes once the new file settled. */
void prestart_exe_changed(struct prestart *p)
{
	if (!p)
		return;
	log_info("command %s: its executable changed: its prestarted processes are replaced",
		 behaviour_conf(p->b)->name);
	behaviour_discard_parked(p->b);
	prestart_wait(p, PRESTART_SETTLE_MS);
}
