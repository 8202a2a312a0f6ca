/* SPDX-License-Identifier: ISC */
/* The registry of behaviours and their processes. */
#include "config.h"

#include "behaviour.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/call.h"
#include "core/client.h"
#include "core/errors.h"
#include "core/list.h"
#include "core/log.h"
#include "listeners.h"
#include "exe_file.h"
#include "prestart.h"
#include "residents.h"
#include "core/server.h"
#include "spawn.h"
#include "state_dir.h"
#include "timers.h"
#include "core/value.h"

/* One process of a behaviour, from its start to its exit report. */
struct behaviour_run {
	struct list link;	/* in the behaviour's runs */
	struct behaviour *b;
	struct spawn *sp;
	pid_t pid;
	bool parked;		/* prestarted, waiting for a command's context */
	bool discarded;		/* parked and stopped to be replaced */
	struct call *park_call;	/* its bot.park(), waiting for a command */
	struct exe_file exe;	/* the executable it was started from (parked) */
	char *state_dir;	/* the state directory in its environment (parked), or NULL */
};

struct behaviour {
	struct list link;	/* in the registry, or among the removed ones */
	struct conf_behaviour cfg;
	bool removed;		/* out of the configuration; freed after its last exit */
	struct list runs;	/* struct behaviour_run */
	unsigned running;
	uint64_t runs_total;	/* processes started */
	bool exited;		/* last_exit is set */
	struct spawn_exit last_exit;
	struct timer *timer;		/* timers */
	struct resident *resident;	/* residents, until removed or the host stops */
	struct prestart *prestart;	/* commands with prestart > 0 */
	bool state_dir_failed;		/* the failure to make its state directory was logged */
};

struct behaviours {
	struct server *server;
	char *socket_path;	/* the host's socket: $BOTKIT_SOCKET of privileged behaviours, or NULL */
	char *untrusted_path;	/* its untrusted companion: $BOTKIT_SOCKET of the others */
	unsigned max_processes;
	char prefix[16];	/* command_prefix (at most 8 bytes): $BOTKIT_PREFIX */
	char *state_dir;	/* the host's state directory, or NULL: behaviours get none */
	unsigned running;	/* processes of every behaviour */
	bool stopping;
	struct list live;	/* in the order of the configuration */
	struct list removed;	/* waiting for their processes to exit */
	behaviours_reload_fn reload;
	void *reload_userdata;
	behaviours_watch_fn watch;
	void *watch_userdata;
};

/* Environment variables taken from a context's strings. */
static const struct {
	const char *var;
	const char *key;
} behaviour_env_keys[] = {
	{ "BOTKIT_KIND", "kind" }, { "BOTKIT_NAME", "name" }, { "BOTKIT_ARGS", "text" },
	{ "BOTKIT_NICK", "nick" }, { "BOTKIT_HOSTMASK", "hostmask" }, { "BOTKIT_CHANNEL", "channel" },
	{ "BOTKIT_TARGET", "target" },
};

/* The keys' variables, BOTKIT_PREFIX, BOTKIT_SOCKET, BOTKIT_STATE_DIR,
 * BOTKIT_PRESTARTED and the NULL. */
#define BEHAVIOUR_ENV_MAX (sizeof behaviour_env_keys / sizeof behaviour_env_keys[0] + 5)

/* The registry, between behaviours_start and behaviours_free. */
static struct behaviours *behaviours_state;

/* ---- one behaviour ------------------------------------------------------------- */

/* Free a behaviour that has no process left. */
static void behaviour_free(struct behaviour *b)
{
	list_remove(&b->link);
	timer_free(b->timer);
	resident_free(b->resident);
	prestart_free(b->prestart);
	conf_behaviour_clear(&b->cfg);
	free(b);
}

/* Start what b's kind needs: a timer's schedule, a resident's process. */
static void behaviour_kind_start(struct behaviour *b)
{
	if (b->cfg.kind == CONF_BEHAVIOUR_TIMER && !(b->timer = timer_new(b)))
		log_error("timer %s: out of memory: it is not set", b->cfg.name);
	if (b->cfg.kind == CONF_BEHAVIOUR_RESIDENT && !(b->resident = resident_new(b)))
		log_error("resident %s: out of memory: it is not started", b->cfg.name);
	if (b->cfg.kind == CONF_BEHAVIOUR_COMMAND && b->cfg.prestart && !(b->prestart = prestart_new(b)))
		log_error("command %s: out of memory: no process is prestarted", b->cfg.name);
}

/* Follow the section's prestart after a reload: the parked processes are
 * replaced (a new pool, or none). */
static void behaviour_prestart_sync(struct behaviour *b)
{
	behaviour_discard_parked(b);
	prestart_free(b->prestart);
	b->prestart = NULL;
	if (b->cfg.kind == CONF_BEHAVIOUR_COMMAND && b->cfg.prestart && !(b->prestart = prestart_new(b)))
		log_error("command %s: out of memory: no process is prestarted", b->cfg.name);
}

/* A new behaviour for section c, added to the registry and started. */
static struct behaviour *behaviour_new(struct behaviours *bs, const struct conf_behaviour *c)
{
	struct behaviour *b = calloc(1, sizeof *b);

	if (!b || conf_behaviour_copy(&b->cfg, c) < 0) {
		free(b);
		return NULL;
	}
	list_init(&b->runs);
	list_add_tail(&bs->live, &b->link);
	behaviour_kind_start(b);
	return b;
}

/* Take section c in place of b's (same kind and name). 0 or -ENOMEM. */
static int behaviour_update(struct behaviour *b, const struct conf_behaviour *c)
{
	struct conf_behaviour copy;

	if (conf_behaviour_copy(&copy, c) < 0)
		return -ENOMEM;
	conf_behaviour_clear(&b->cfg);
	b->cfg = copy;
	if (b->timer)
		timer_reschedule(b->timer);
	if (b->resident)
		resident_reconfigured(b->resident);
	return 0;
}

/* Take b out of the registry: a resident is stopped, other processes may
 * finish; b is freed once none is left. */
static void behaviour_remove(struct behaviours *bs, struct behaviour *b)
{
	list_remove(&b->link);
	list_add_tail(&bs->removed, &b->link);
	b->removed = true;
	timer_free(b->timer);
	b->timer = NULL;
	resident_free(b->resident);
	b->resident = NULL;
	prestart_free(b->prestart);
	b->prestart = NULL;
	behaviour_discard_parked(b);
	if (b->cfg.kind == CONF_BEHAVIOUR_RESIDENT)
		behaviour_stop_runs(b, NULL);
	if (!b->running)
		behaviour_free(b);
}

/* Its section. */
const struct conf_behaviour *behaviour_conf(const struct behaviour *b)
{
	return &b->cfg;
}

/* Its processes running now. */
unsigned behaviour_running(const struct behaviour *b)
{
	return b->running;
}

/* ---- processes -------------------------------------------------------------------- */

/* The argument vector: exec, the fixed arguments, then for a command "--"
 * and the user's words (borrowed), so that no word of a user is ever taken
 * for an option by a program that parses them (getopt: "-rf", "--help").
 * A parked process gets neither: its words come in the context. */
static char **behaviour_argv(const struct behaviour *b, char *const *user_args, size_t n, bool parked)
{
	char **argv = calloc(3 + b->cfg.n_args + n, sizeof *argv);
	size_t k = 0;

	if (!argv)
		return NULL;
	argv[k++] = b->cfg.exec;
	for (size_t i = 0; i < b->cfg.n_args; i++)
		argv[k++] = b->cfg.args[i];
	if (b->cfg.kind == CONF_BEHAVIOUR_COMMAND && !parked)
		argv[k++] = "--";
	for (size_t i = 0; i < n; i++)
		argv[k++] = user_args[i];
	return argv;
}

/* Free an environment array of allocated entries. */
static void behaviour_env_free(char **env)
{
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
}

/* The BOTKIT_* environment of a process with context (an object). A
 * behaviour without `privileged = yes` gets the untrusted socket, so that a
 * botctl it runs is no more privileged than the behaviour itself; a parked
 * process gets BOTKIT_PRESTARTED=1. 0 or -ENOMEM. */
static int behaviour_env(const struct behaviours *bs, const struct behaviour *b, const cJSON *context,
			 bool parked, char **env)
{
	const char *socket_path = b->cfg.privileged ? bs->socket_path : bs->untrusted_path;
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(context, "state_dir"));
	size_t k = 0;

	memset(env, 0, BEHAVIOUR_ENV_MAX * sizeof *env);
	for (size_t i = 0; i < sizeof behaviour_env_keys / sizeof behaviour_env_keys[0]; i++) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(context, behaviour_env_keys[i].key));
		if (parked && !v)
			continue;
		if (asprintf(&env[k++], "%s=%s", behaviour_env_keys[i].var, v ? v : "") < 0)
			goto fail;
	}
	if (asprintf(&env[k++], "BOTKIT_PREFIX=%s", bs->prefix) < 0)
		goto fail;
	if (socket_path && asprintf(&env[k++], "BOTKIT_SOCKET=%s", socket_path) < 0)
		goto fail;
	if (state && asprintf(&env[k++], "BOTKIT_STATE_DIR=%s", state) < 0)
		goto fail;
	if (parked && !(env[k++] = strdup("BOTKIT_PRESTARTED=1")))
		goto fail;
	return 0;
fail:
	env[k - 1] = NULL;
	behaviour_env_free(env);
	return -ENOMEM;
}

/* b's processes that hold a slot of max_running: those neither parked nor
 * served a request by the host (an answer handed to the host belongs to the
 * host: the wait for the paced IRC queue does not hold a slot). */
static unsigned behaviour_busy(const struct behaviour *b)
{
	unsigned n = 0;

	for (const struct list *l = b->runs.next; l != &b->runs; l = l->next) {
		const struct behaviour_run *run = list_entry(l, struct behaviour_run, link);
		n += !run->parked && !spawn_waits_on_host(run->sp);
	}
	return n;
}

/* b's parked processes, those being replaced included. */
static unsigned behaviour_parked_all(const struct behaviour *b)
{
	unsigned n = 0;

	for (const struct list *l = b->runs.next; l != &b->runs; l = l->next)
		n += list_entry(l, struct behaviour_run, link)->parked;
	return n;
}

/* The processes of every behaviour of list that hold a slot of
 * max_processes: the busy ones and the parked ones. */
static unsigned behaviours_busy_in(const struct list *list)
{
	unsigned n = 0;

	for (const struct list *l = list->next; l != list; l = l->next) {
		const struct behaviour *b = list_entry(l, struct behaviour, link);
		n += behaviour_busy(b) + behaviour_parked_all(b);
	}
	return n;
}

/* Whether one more process of any behaviour may start: 0 or -EAGAIN. */
static int behaviours_may_start(const struct behaviours *bs)
{
	if (bs->running >= 2 * bs->max_processes ||
	    behaviours_busy_in(&bs->live) + behaviours_busy_in(&bs->removed) >= bs->max_processes)
		return -EAGAIN;
	return 0;
}

/* Whether b may start one more process now: 0, -EBUSY, -EAGAIN or
 * -ESHUTDOWN. Processes waiting on the host count only against a hard cap
 * of twice max_processes. */
static int behaviour_may_run(const struct behaviours *bs, const struct behaviour *b)
{
	bool per_request = b->cfg.kind == CONF_BEHAVIOUR_COMMAND || b->cfg.kind == CONF_BEHAVIOUR_ROUTE;
	unsigned own = per_request ? b->cfg.max_running : 1;

	if (bs->stopping || b->removed)
		return -ESHUTDOWN;
	if (behaviour_busy(b) >= own || (!per_request && b->running >= own))
		return -EBUSY;
	return behaviours_may_start(bs);
}

/* A context holding {"kind","name"}. */
struct value *behaviour_context_new(const struct behaviour *b)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "kind", conf_behaviour_kind_name(b->cfg.kind)) ||
	    !cJSON_AddStringToObject(o, "name", b->cfg.name)) {
		cJSON_Delete(o);
		return NULL;
	}
	return value_new(o);
}

/* Make b's state directory and add it to context as "state_dir". A
 * directory that cannot be made is logged (once until it can be) and the
 * process starts without it. 0 or -ENOMEM. */
static int behaviour_state_dir(const struct behaviours *bs, struct behaviour *b, struct value *context)
{
	const char *kind = conf_behaviour_kind_name(b->cfg.kind);
	char path[4096];
	int r;

	if (!bs->state_dir)
		return 0;
	if ((r = state_dir_make(bs->state_dir, b->cfg.name, path, sizeof path)) < 0) {
		if (!b->state_dir_failed)
			log_error("%s %s: cannot make its state directory: %s: %s; it starts without one "
				  "($BOTKIT_STATE_DIR unset)", kind, b->cfg.name, path, strerror(-r));
		b->state_dir_failed = true;
		return 0;
	}
	if (b->state_dir_failed)
		log_info("%s %s: its state directory %s is made", kind, b->cfg.name, path);
	b->state_dir_failed = false;
	return cJSON_AddStringToObject(value_root(context), "state_dir", path) ? 0 : -ENOMEM;
}

static void behaviour_exit_cb(struct spawn *sp, const struct spawn_exit *how, void *userdata);

/* Spawn the process of run with argv, env and context (NULL: parked, its
 * context comes later). */
static int behaviour_spawn(struct behaviour_run *run, char **argv, char **env, const struct value *context)
{
	struct behaviour *b = run->b;
	struct spawn_opts o = {
		.name = b->cfg.name,
		.path = b->cfg.exec,
		.argv = argv,
		.env = env,
		.timeout_ms = b->cfg.kind == CONF_BEHAVIOUR_RESIDENT ? 0 : b->cfg.timeout_ms,
		.parked = run->parked,
		.connect = true,
		.context = context,
		.limits = &b->cfg.limits,
		.line_buffered = b->cfg.line_buffered,
		/* only when its section says so, although it runs as the host's user */
		.privileged = b->cfg.privileged,
	};
	int r = spawn_start(behaviours_state->server, &o, behaviour_exit_cb, run, &run->sp);

	if (r < 0)
		return r;
	run->pid = spawn_get_pid(run->sp);
	return 0;
}

/* Count a started process and tell the watcher. */
static void behaviour_started(struct behaviours *bs, struct behaviour_run *run)
{
	struct behaviour *b = run->b;

	list_add_tail(&b->runs, &run->link);
	b->running++;
	b->runs_total++;
	bs->running++;
	if (bs->watch)
		bs->watch(b, run->pid, NULL, bs->watch_userdata);
}

/* ---- prestarted processes ------------------------------------------------------- */

/* b's parked processes (those being replaced not counted). */
unsigned behaviour_parked(const struct behaviour *b)
{
	unsigned n = 0;

	for (const struct list *l = b->runs.next; l != &b->runs; l = l->next) {
		const struct behaviour_run *run = list_entry(l, struct behaviour_run, link);
		n += run->parked && !run->discarded;
	}
	return n;
}

/* Keep the state directory of a parked run's context (none when it could
 * not be made). 0 or -ENOMEM. */
static int behaviour_run_keep_state_dir(struct behaviour_run *run, struct value *context)
{
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(value_root(context), "state_dir"));

	if (dir && !(run->state_dir = strdup(dir)))
		return -ENOMEM;
	return 0;
}

/* Free a run (NULL: nothing). */
static void behaviour_run_free(struct behaviour_run *run)
{
	if (!run)
		return;
	free(run->state_dir);
	free(run);
}

/* Start one parked process of b. */
int behaviour_park(struct behaviour *b)
{
	struct behaviours *bs = behaviours_state;
	char *env[BEHAVIOUR_ENV_MAX], **argv = NULL;
	struct behaviour_run *run = NULL;
	struct value *base = NULL;
	int r = bs->stopping || b->removed ? -ESHUTDOWN : behaviours_may_start(bs);

	env[0] = NULL;
	if (r < 0)
		return r;
	if (!(base = behaviour_context_new(b)) || !(argv = behaviour_argv(b, NULL, 0, true)) ||
	    !(run = calloc(1, sizeof *run)) || behaviour_state_dir(bs, b, base) < 0 ||
	    behaviour_env(bs, b, value_json(base), true, env) < 0) {
		r = -ENOMEM;
		goto out;
	}
	list_init(&run->link);
	run->b = b;
	run->parked = true;
	run->exe = exe_file_get(b->cfg.exec);
	if (behaviour_run_keep_state_dir(run, base) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = behaviour_spawn(run, argv, env, NULL);
	behaviour_env_free(env);
	if (r == 0) {
		behaviour_started(bs, run);
		run = NULL;
	}
out:
	behaviour_run_free(run);
	free(argv);
	value_free(base);
	return r;
}

/* Stop b's parked processes, to be replaced. */
void behaviour_discard_parked(struct behaviour *b)
{
	for (struct list *l = b->runs.next; l != &b->runs; l = l->next) {
		struct behaviour_run *run = list_entry(l, struct behaviour_run, link);
		if (!run->parked || run->discarded)
			continue;
		run->discarded = true;
		spawn_stop(run->sp);
	}
}

/* The parked process to hand a command to: one already waiting in
 * bot.park() if any, else the oldest; NULL when none is parked. */
static struct behaviour_run *behaviour_parked_pick(const struct behaviour *b)
{
	struct behaviour_run *first = NULL;

	for (struct list *l = b->runs.next; l != &b->runs; l = l->next) {
		struct behaviour_run *run = list_entry(l, struct behaviour_run, link);
		if (!run->parked || run->discarded || !spawn_get_client(run->sp))
			continue;
		if (run->park_call)
			return run;
		if (!first)
			first = run;
	}
	return first;
}

/* Hand context (taken on success) to the parked run: it becomes the
 * command's process, its timeout starts, its bot.park() is answered. 0,
 * -ENOMEM or -ENOTCONN (its connection is gone). */
static int behaviour_hand(struct behaviour_run *run, struct value *context)
{
	struct client *c = spawn_get_client(run->sp);
	struct value *answer = NULL;

	if (!c)
		return -ENOTCONN;
	/* The state directory is the one made when the process started, which
	 * its environment already names: not made again at the handover. */
	if ((run->state_dir && !cJSON_AddStringToObject(value_root(context), "state_dir", run->state_dir)) ||
	    listeners_add_context(context, &run->b->cfg) < 0 || (run->park_call && !(answer = value_dup(context))))
		return -ENOMEM;
	client_set_context(c, context);
	run->parked = false;
	spawn_arm(run->sp);
	if (run->park_call)
		call_return(run->park_call, answer);
	run->park_call = NULL;
	prestart_handed(run->b->prestart);
	return 0;
}

/* Give the command's context to a parked process of b, if one is there
 * and its executable is still the one on disk: 0 (*ret_pid set), -ENOENT
 * (none: start one), -EBUSY or -ESHUTDOWN. */
static int behaviour_unpark(struct behaviours *bs, struct behaviour *b, struct value *context, pid_t *ret_pid)
{
	struct behaviour_run *run = b->prestart ? behaviour_parked_pick(b) : NULL;
	struct exe_file now;

	if (!run)
		return -ENOENT;
	if (bs->stopping || b->removed)
		return -ESHUTDOWN;
	if (behaviour_busy(b) >= b->cfg.max_running)
		return -EBUSY;
	now = exe_file_get(b->cfg.exec);
	if (!exe_file_same(&now, &run->exe)) {
		prestart_exe_changed(b->prestart);
		return -ENOENT;
	}
	if (behaviour_hand(run, context) < 0)
		return -ENOENT;
	if (ret_pid)
		*ret_pid = run->pid;
	return 0;
}

/* Whether run is the process whose connection is c. */
static bool behaviour_run_is(const struct behaviour_run *run, const struct client *c)
{
	return spawn_get_client_id(run->sp) == client_get_id(c);
}

/* The run of a behaviour in list whose connection is c, or NULL. */
static struct behaviour_run *behaviours_run_of(const struct list *list, const struct client *c)
{
	for (const struct list *l = list->next; l != list; l = l->next) {
		const struct behaviour *b = list_entry(l, struct behaviour, link);
		for (struct list *r = b->runs.next; r != &b->runs; r = r->next)
			if (behaviour_run_is(list_entry(r, struct behaviour_run, link), c))
				return list_entry(r, struct behaviour_run, link);
	}
	return NULL;
}

/* bot.park(). */
void behaviour_park_wait(struct client *c, struct call *call)
{
	struct behaviours *bs = behaviours_state;
	struct behaviour_run *run = NULL;
	const struct value *context;
	struct value *v = NULL;

	if (bs && c && !(run = behaviours_run_of(&bs->live, c)))
		run = behaviours_run_of(&bs->removed, c);
	if (run && run->parked && run->park_call) {
		call_fail(call, ERR_FAILED, "bot.park() is already waiting");
		return;
	}
	if (run && run->parked) {
		run->park_call = call;
		return;
	}
	context = c ? client_get_context(c) : NULL;
	if (context && !(v = value_dup(context))) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	call_return(call, v);
}

/* Start a process of b, or hand the command to a parked one. */
int behaviour_run(struct behaviour *b, struct value *context, char *const *user_args, size_t n, pid_t *ret_pid)
{
	struct behaviours *bs = behaviours_state;
	char *env[BEHAVIOUR_ENV_MAX], **argv = NULL;
	struct behaviour_run *run = NULL;
	int r = context ? behaviour_unpark(bs, b, context, ret_pid) : -ENOENT;

	if (r == 0)
		return 0;
	if (r == -ENOENT)
		r = behaviour_may_run(bs, b);
	if (r == 0 && !context && !(context = behaviour_context_new(b)))
		r = -ENOMEM;
	if (r < 0)
		goto out;
	env[0] = NULL;
	if (!(argv = behaviour_argv(b, user_args, n, false)) || !(run = calloc(1, sizeof *run)) ||
	    behaviour_state_dir(bs, b, context) < 0 || listeners_add_context(context, &b->cfg) < 0 ||
	    (r = behaviour_env(bs, b, value_json(context), false, env)) < 0) {
		r = -ENOMEM;
		goto out;
	}
	list_init(&run->link);
	run->b = b;
	r = behaviour_spawn(run, argv, env, context);
	behaviour_env_free(env);
	if (r == 0) {
		behaviour_started(bs, run);
		if (ret_pid)
			*ret_pid = run->pid;
		run = NULL;
	}
out:
	behaviour_run_free(run);
	free(argv);
	value_free(context);
	return r;
}

/* {"code","signal","timed_out","runtime_ms"} of an exit. */
cJSON *behaviour_exit_json(const struct spawn_exit *how)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (how->signaled) {
		cJSON_AddNullToObject(o, "code");
		cJSON_AddNumberToObject(o, "signal", how->code);
	} else {
		cJSON_AddNumberToObject(o, "code", how->code);
		cJSON_AddNullToObject(o, "signal");
	}
	cJSON_AddBoolToObject(o, "timed_out", how->timed_out);
	cJSON_AddNumberToObject(o, "runtime_ms", (double)how->runtime_ms);
	return o;
}

/* A process of a behaviour was reaped (from the loop): count it, tell the
 * watcher and the resident, free what is left over. */
static void behaviour_exit_cb(struct spawn *sp, const struct spawn_exit *how, void *userdata)
{
	struct behaviour_run *run = userdata;
	struct behaviour *b = run->b;
	struct behaviours *bs = behaviours_state;

	list_remove(&run->link);
	b->running--;
	bs->running--;
	b->exited = true;
	b->last_exit = *how;
	if (bs->watch)
		bs->watch(b, run->pid, how, bs->watch_userdata);
	if (run->park_call)
		call_fail(run->park_call, ERR_DISCONNECTED, "the process exited");
	if (run->parked && !run->discarded)
		prestart_failed(b->prestart);
	else
		prestart_fill_soon(b->prestart);
	behaviour_run_free(run);
	if (b->resident)
		resident_exited(b->resident, how);
	if (b->removed && !b->running)
		behaviour_free(b);
}

/* Append the pids of b's processes, parked or not, to the array pids. */
static void behaviour_pids_of(const struct behaviour *b, bool parked, cJSON *pids)
{
	for (const struct list *l = b->runs.next; l != &b->runs; l = l->next) {
		const struct behaviour_run *run = list_entry(l, struct behaviour_run, link);
		if (run->parked == parked)
			cJSON_AddItemToArray(pids, cJSON_CreateNumber(run->pid));
	}
}

/* Append the pids of b's processes to the array pids. */
static void behaviour_pids(const struct behaviour *b, cJSON *pids)
{
	behaviour_pids_of(b, false, pids);
	behaviour_pids_of(b, true, pids);
}

/* Stop b's processes. */
void behaviour_stop_runs(struct behaviour *b, cJSON *pids)
{
	if (pids)
		behaviour_pids(b, pids);
	for (struct list *l = b->runs.next; l != &b->runs; l = l->next) {
		struct behaviour_run *run = list_entry(l, struct behaviour_run, link);
		run->discarded |= run->parked;	/* replaced, not a failure */
		spawn_stop(run->sp);
	}
}

/* bot.restart of b. */
void behaviour_restart(struct behaviour *b, cJSON *stopped)
{
	if (b->resident) {
		log_info("resident %s: restarting on request", b->cfg.name);
		behaviour_pids(b, stopped);
		resident_restart(b->resident);
		return;
	}
	log_info("%s %s: stopping its processes on request", conf_behaviour_kind_name(b->cfg.kind), b->cfg.name);
	behaviour_stop_runs(b, stopped);
}

/* What bot.list shows of b. */
cJSON *behaviour_describe(const struct behaviour *b)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *pids;
	double next;

	if (!o || !cJSON_AddStringToObject(o, "name", b->cfg.name) ||
	    !cJSON_AddStringToObject(o, "kind", conf_behaviour_kind_name(b->cfg.kind)) ||
	    !cJSON_AddStringToObject(o, "exec", b->cfg.exec) || !(pids = cJSON_AddArrayToObject(o, "running"))) {
		cJSON_Delete(o);
		return NULL;
	}
	behaviour_pids_of(b, false, pids);
	if (b->cfg.kind == CONF_BEHAVIOUR_COMMAND && (pids = cJSON_AddArrayToObject(o, "parked")))
		behaviour_pids_of(b, true, pids);
	cJSON_AddNumberToObject(o, "runs", (double)b->runs_total);
	cJSON_AddItemToObject(o, "last_exit", b->exited ? behaviour_exit_json(&b->last_exit) : cJSON_CreateNull());
	if (b->cfg.kind == CONF_BEHAVIOUR_TIMER) {
		next = b->timer ? timer_next_run(b->timer) : 0;
		cJSON_AddItemToObject(o, "next_run", next > 0 ? cJSON_CreateNumber(next) : cJSON_CreateNull());
	}
	if (b->cfg.kind == CONF_BEHAVIOUR_RESIDENT)
		cJSON_AddNumberToObject(o, "restarts", b->resident ? resident_restarts(b->resident) : 0);
	return o;
}

/* Whether a behaviour of list started pid: its behaviour, or NULL. */
static const struct behaviour *behaviours_pid_in(const struct list *list, pid_t pid)
{
	for (const struct list *l = list->next; l != list; l = l->next) {
		const struct behaviour *b = list_entry(l, struct behaviour, link);
		for (const struct list *r = b->runs.next; r != &b->runs; r = r->next)
			if (list_entry(r, struct behaviour_run, link)->pid == pid)
				return b;
	}
	return NULL;
}

/* The server's child policy: whether pid is the process of a behaviour whose
 * section says privileged = yes, live or removed by a reload and still running. */
static bool behaviours_child_privileged(pid_t pid, void *userdata)
{
	struct behaviours *bs = userdata;
	const struct behaviour *b;

	if (!bs || pid <= 0)
		return false;
	if (!(b = behaviours_pid_in(&bs->live, pid)) && !(b = behaviours_pid_in(&bs->removed, pid)))
		return false;
	return b->cfg.privileged;
}

/* ---- the registry ------------------------------------------------------------------ */

/* Start the registry and apply cfg. */
int behaviours_start(struct server *s, const char *socket_path, const struct behaviours_conf *cfg)
{
	struct behaviours *bs;

	if (behaviours_state)
		return -EALREADY;
	bs = calloc(1, sizeof *bs);
	if (!bs || (socket_path && (!(bs->socket_path = strdup(socket_path)) ||
				    !(bs->untrusted_path = server_behaviours_path(socket_path))))) {
		if (bs)
			free(bs->socket_path);
		free(bs);
		return -ENOMEM;
	}
	bs->server = s;
	list_init(&bs->live);
	list_init(&bs->removed);
	behaviours_state = bs;
	server_set_child_policy(s, behaviours_child_privileged, bs);
	return behaviours_configure(cfg);
}

/* Apply a configuration: remove, add and change sections. */
int behaviours_configure(const struct behaviours_conf *cfg)
{
	struct behaviours *bs = behaviours_state;
	int r = 0;

	if (bs->stopping)
		return 0;
	bs->max_processes = cfg->max_processes;
	snprintf(bs->prefix, sizeof bs->prefix, "%s", cfg->command_prefix ? cfg->command_prefix : "!");
	free(bs->state_dir);
	if ((bs->state_dir = cfg->state_dir ? strdup(cfg->state_dir) : NULL) == NULL && cfg->state_dir) {
		log_error("out of memory: behaviours get no state directory");
		r = -ENOMEM;
	}
	/* Removals first, so that a name can pass from one kind to another. */
	for (struct list *l = bs->live.next, *next; l != &bs->live; l = next) {
		struct behaviour *b = list_entry(l, struct behaviour, link);
		const struct conf_behaviour *c = conf_behaviour_find(cfg, b->cfg.name);
		next = l->next;
		if (!c || c->kind != b->cfg.kind || strcmp(c->name, b->cfg.name) != 0)
			behaviour_remove(bs, b);
	}
	for (size_t i = 0; i < cfg->n_behaviours; i++) {
		const struct conf_behaviour *c = &cfg->behaviours[i];
		struct behaviour *b = behaviours_find(c->name);
		bool fresh = !b;
		if (!b && !(b = behaviour_new(bs, c))) {
			log_error("%s %s: out of memory: not added", conf_behaviour_kind_name(c->kind), c->name);
			r = -ENOMEM;
			continue;
		}
		if (!conf_behaviour_equal(&b->cfg, c) && behaviour_update(b, c) < 0) {
			log_error("%s %s: out of memory: not changed", conf_behaviour_kind_name(c->kind), c->name);
			r = -ENOMEM;
		}
		/* Prestarted processes are replaced on every reload. */
		if (!fresh && (b->prestart || b->cfg.prestart))
			behaviour_prestart_sync(b);
		/* Keep the order of the file. */
		list_remove(&b->link);
		list_add_tail(&bs->live, &b->link);
	}
	return r;
}

/* No new processes, no restarts, no timers. */
void behaviours_stop(void)
{
	struct behaviours *bs = behaviours_state;

	if (!bs)
		return;
	bs->stopping = true;
	for (struct list *l = bs->live.next; l != &bs->live; l = l->next) {
		struct behaviour *b = list_entry(l, struct behaviour, link);
		timer_free(b->timer);
		b->timer = NULL;
		resident_free(b->resident);
		b->resident = NULL;
		prestart_free(b->prestart);
		b->prestart = NULL;
		behaviour_discard_parked(b);
	}
}

/* Free the behaviours whose processes are all gone, then the registry. A
 * behaviour whose process outlived spawn_stop_all stays, since its exit
 * report would still name it. */
void behaviours_free(void)
{
	struct behaviours *bs = behaviours_state;
	struct list *lists[2];

	if (!bs)
		return;
	lists[0] = &bs->live;
	lists[1] = &bs->removed;
	for (size_t i = 0; i < 2; i++) {
		for (struct list *l = lists[i]->next, *next; l != lists[i]; l = next) {
			struct behaviour *b = list_entry(l, struct behaviour, link);
			next = l->next;
			list_remove(&b->link);
			if (!b->running)
				behaviour_free(b);
		}
	}
	server_set_child_policy(bs->server, NULL, NULL);
	free(bs->socket_path);
	free(bs->untrusted_path);
	free(bs->state_dir);
	free(bs);
	behaviours_state = NULL;
}

/* Set who reads the configuration again. */
void behaviours_set_reload(behaviours_reload_fn fn, void *userdata)
{
	if (!behaviours_state)
		return;
	behaviours_state->reload = fn;
	behaviours_state->reload_userdata = userdata;
}

/* Read the configuration again. */
int behaviours_reload(char **ret_error, cJSON *changes)
{
	struct behaviours *bs = behaviours_state;

	*ret_error = NULL;
	if (!bs || !bs->reload)
		return -ENOSYS;
	return bs->reload(ret_error, changes, bs->reload_userdata);
}

/* Set who hears of processes. */
void behaviours_set_watch(behaviours_watch_fn fn, void *userdata)
{
	if (!behaviours_state)
		return;
	behaviours_state->watch = fn;
	behaviours_state->watch_userdata = userdata;
}

/* The server. */
struct server *behaviours_server(void)
{
	return behaviours_state ? behaviours_state->server : NULL;
}

/* Processes running now. */
unsigned behaviours_running(void)
{
	return behaviours_state ? behaviours_state->running : 0;
}

/* The most processes allowed at once. */
unsigned behaviours_max_processes(void)
{
	return behaviours_state ? behaviours_state->max_processes : 0;
}



/* The behaviour named name. */
struct behaviour *behaviours_find(const char *name)
{
	struct behaviours *bs = behaviours_state;

	if (!bs)
		return NULL;
	for (struct list *l = bs->live.next; l != &bs->live; l = l->next)
		if (strcasecmp(list_entry(l, struct behaviour, link)->cfg.name, name) == 0)
			return list_entry(l, struct behaviour, link);
	return NULL;
}

/* The behaviour after prev in the configuration's order. */
struct behaviour *behaviours_next(const struct behaviour *prev)
{
	struct behaviours *bs = behaviours_state;
	const struct list *l;

	if (!bs)
		return NULL;
	l = prev ? prev->link.next : bs->live.next;
	return l == &bs->live ? NULL : list_entry(l, struct behaviour, link);
}
