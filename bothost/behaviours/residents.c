/* SPDX-License-Identifier: ISC */
/* Residents: behaviours the host keeps running. */
#include "config.h"

#include "residents.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "behaviour.h"
#include "exe_file.h"
#include "core/clock.h"
#include "core/log.h"
#include "spawn.h"
#include "core/value.h"

/* A run this long puts the wait before the next restart back to restart_min. */
#define RESIDENT_STABLE_MS 60000
/* The executable must stay unchanged this long before it is run. */
#define RESIDENT_SETTLE_MS 500
/* How often the executable is looked at when the kernel cannot tell. */
#define RESIDENT_STAT_INTERVAL 1.0

enum resident_state {
	RESIDENT_WAITING,	/* not running: a restart is due when the wait ends (or never) */
	RESIDENT_RUNNING,
	RESIDENT_STOPPING,	/* stopped to be started again at once */
};


struct resident {
	struct behaviour *b;
	enum resident_state state;
	unsigned wait_ms;	/* before the next restart after an exit */
	unsigned restarts;
	bool started;		/* it ran once: later starts are restarts */
	uint64_t started_ms;
	ev_timer wait;
	char *path;		/* the executable watched (ev_stat keeps a pointer to it) */
	ev_stat stat;
	ev_timer settle;
	struct exe_file ran;	/* the executable of the running process */
};

static void resident_start(struct resident *r);


/* Its name, for logs. */
static const char *resident_name(const struct resident *r)
{
	return behaviour_conf(r->b)->name;
}

/* Wait wait_ms, then start; the next wait is twice as long, up to restart_max. */
static void resident_wait(struct resident *r)
{
	const struct conf_behaviour *c = behaviour_conf(r->b);

	r->state = RESIDENT_WAITING;
	log_info("resident %s: restarting in %u ms", resident_name(r), r->wait_ms);
	ev_timer_set(&r->wait, r->wait_ms / 1000., 0.);
	ev_timer_start(EV_DEFAULT, &r->wait);
	r->wait_ms = r->wait_ms > c->restart_max_ms / 2 ? c->restart_max_ms : r->wait_ms * 2;
}

/* Start the process now; if it cannot start, try again after a wait. */
static void resident_start(struct resident *r)
{
	struct value *ctx = behaviour_context_new(r->b);
	int e;

	ev_timer_stop(EV_DEFAULT, &r->wait);
	if (r->started)
		r->restarts++;
	r->started = true;
	if (ctx && !cJSON_AddNumberToObject(value_root(ctx), "restarts", r->restarts)) {
		value_free(ctx);
		ctx = NULL;
	}
	r->ran = exe_file_get(behaviour_conf(r->b)->exec);
	e = ctx ? behaviour_run(r->b, ctx, NULL, 0, NULL) : -ENOMEM;
	if (e == 0) {
		r->state = RESIDENT_RUNNING;
		r->started_ms = clock_now_ms();
		return;
	}
	if (e == -ESHUTDOWN) {
		r->state = RESIDENT_WAITING;
		return;
	}
	log_warn("resident %s: not started: %s", resident_name(r),
		 e == -EAGAIN ? "max_processes are running" : strerror(-e));
	resident_wait(r);
}

/* The wait before a restart ended. */
static void resident_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	resident_start(w->data);
}

/* The process exited: start it again now (a restart was asked for) or after the wait. */
void resident_exited(struct resident *r, const struct spawn_exit *how)
{
	const struct conf_behaviour *c = behaviour_conf(r->b);

	if (r->state == RESIDENT_STOPPING) {
		r->wait_ms = c->restart_min_ms;
		resident_start(r);
		return;
	}
	if (how->runtime_ms >= RESIDENT_STABLE_MS)
		r->wait_ms = c->restart_min_ms;
	resident_wait(r);
}

/* Stop the process and start it again at once, or start it now. */
void resident_restart(struct resident *r)
{
	switch (r->state) {
	case RESIDENT_RUNNING:
		r->state = RESIDENT_STOPPING;
		behaviour_stop_runs(r->b, NULL);
		break;
	case RESIDENT_STOPPING:
		break;
	case RESIDENT_WAITING:
		r->wait_ms = behaviour_conf(r->b)->restart_min_ms;
		resident_start(r);
		break;
	}
}

/* The executable stayed unchanged for the settle delay: restart if it is a new one. */
static void resident_settle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resident *r = w->data;
	struct exe_file now = exe_file_get(r->path);

	if (!now.known || !S_ISREG(now.mode) || access(r->path, X_OK) < 0) {
		log_warn("resident %s: %s changed and is not an executable file now: waiting for it",
			 resident_name(r), r->path);
		return;
	}
	if (exe_file_same(&now, &r->ran))
		return;
	log_info("resident %s: %s changed: restarting", resident_name(r), r->path);
	resident_restart(r);
}

/* The executable changed on disk: wait until it settles. */
static void resident_stat_cb(struct ev_loop *loop, ev_stat *w, int revents)
{
	struct resident *r = w->data;

	ev_timer_stop(loop, &r->settle);
	ev_timer_set(&r->settle, RESIDENT_SETTLE_MS / 1000., 0.);
	ev_timer_start(loop, &r->settle);
}

/* Watch the executable if the section asks for it. 0 or -ENOMEM. */
static int resident_watch(struct resident *r)
{
	const struct conf_behaviour *c = behaviour_conf(r->b);

	ev_stat_stop(EV_DEFAULT, &r->stat);
	ev_timer_stop(EV_DEFAULT, &r->settle);
	free(r->path);
	r->path = NULL;
	if (!c->watch)
		return 0;
	if (!(r->path = strdup(c->exec)))
		return -ENOMEM;
	ev_stat_set(&r->stat, r->path, RESIDENT_STAT_INTERVAL);
	ev_stat_start(EV_DEFAULT, &r->stat);
	return 0;
}

/* Start keeping b running. */
struct resident *resident_new(struct behaviour *b)
{
	struct resident *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->b = b;
	r->wait_ms = behaviour_conf(b)->restart_min_ms;
	ev_init(&r->wait, resident_wait_cb);
	r->wait.data = r;
	ev_init(&r->settle, resident_settle_cb);
	r->settle.data = r;
	ev_init(&r->stat, resident_stat_cb);
	r->stat.data = r;
	if (resident_watch(r) < 0)
		log_error("resident %s: out of memory: its executable is not watched", resident_name(r));
	resident_start(r);
	return r;
}

/* Stop watching and waiting. */
void resident_free(struct resident *r)
{
	if (!r)
		return;
	ev_timer_stop(EV_DEFAULT, &r->wait);
	ev_timer_stop(EV_DEFAULT, &r->settle);
	ev_stat_stop(EV_DEFAULT, &r->stat);
	free(r->path);
	free(r);
}

/* Its section changed: watch what it says and restart. */
void resident_reconfigured(struct resident *r)
{
	if (resident_watch(r) < 0)
		log_error("resident %s: out of memory: its executable is not watched", resident_name(r));
	log_info("resident %s: its section changed: restarting", resident_name(r));
	resident_restart(r);
}

/* Restarts so far. */
unsigned resident_restarts(const struct resident *r)
{
	return r->restarts;
}
