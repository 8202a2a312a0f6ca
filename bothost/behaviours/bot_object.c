/* The `bot` object. */
#include "config.h"

#include "bot_object.h"

#include <errno.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "behaviour.h"
#include "core/call.h"
#include "core/emitter.h"
#include "core/errors.h"
#include "core/object.h"
#include "core/server.h"
#include "spawn.h"
#include "core/value.h"

/* The error of a configuration file that was refused. */
#define BOT_ERR_CONFIG "ConfigError"
/* The error of restart(name) for a name no behaviour has. */
#define BOT_ERR_NO_SUCH_BEHAVIOUR "NoSuchBehaviour"

/* reload(): {"changed":[...]}, or ConfigError. */
static void bot_reload(struct object *obj, struct call *call)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *changes = cJSON_AddArrayToObject(o, "changed");
	char *error = NULL;
	int r = changes ? behaviours_reload(&error, changes) : -ENOMEM;

	if (r == -ENOMEM)
		call_fail(call, ERR_FAILED, "out of memory");
	else if (r == -ENOSYS)
		call_fail(call, BOT_ERR_CONFIG, "bothost was started without a configuration file");
	else if (r < 0)
		call_fail(call, BOT_ERR_CONFIG, "%s", error ? error : "the configuration was refused");
	if (r < 0) {
		cJSON_Delete(o);
		free(error);
		return;
	}
	call_return_json(call, o);
}

/* restart(name): {"name","kind","stopped":[pids]}. */
static void bot_restart(struct object *obj, struct call *call)
{
	const char *name = cJSON_GetStringValue(call_get_arg(call, 0));
	struct behaviour *b = behaviours_find(name);
	cJSON *o, *stopped;

	if (!b) {
		call_fail(call, BOT_ERR_NO_SUCH_BEHAVIOUR, "there is no behaviour named '%s'", name);
		return;
	}
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "name", behaviour_conf(b)->name) ||
	    !cJSON_AddStringToObject(o, "kind", conf_behaviour_kind_name(behaviour_conf(b)->kind)) ||
	    !(stopped = cJSON_AddArrayToObject(o, "stopped"))) {
		cJSON_Delete(o);
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	behaviour_restart(b, stopped);
	call_return_json(call, o);
}

/* list(): one entry per behaviour, in the order of the configuration. */
static void bot_list(struct object *obj, struct call *call)
{
	cJSON *a = cJSON_CreateArray();

	for (const struct behaviour *b = behaviours_next(NULL); a && b; b = behaviours_next(b)) {
		cJSON *d = behaviour_describe(b);
		if (!d || !cJSON_AddItemToArray(a, d)) {
			cJSON_Delete(d);
			cJSON_Delete(a);
			a = NULL;
		}
	}
	if (!a) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	call_return_json(call, a);
}

/* Emit started ({"name","kind","pid"}) or exited (the same and the exit). */
static void bot_watch_cb(const struct behaviour *b, pid_t pid, const struct spawn_exit *how, void *userdata)
{
	struct object *obj = userdata;
	cJSON *args = cJSON_CreateArray();
	cJSON *o = how ? behaviour_exit_json(how) : cJSON_CreateObject();
	struct value *v;

	if (!args || !o || !cJSON_AddStringToObject(o, "name", behaviour_conf(b)->name) ||
	    !cJSON_AddStringToObject(o, "kind", conf_behaviour_kind_name(behaviour_conf(b)->kind)) ||
	    !cJSON_AddNumberToObject(o, "pid", pid)) {
		cJSON_Delete(args);
		cJSON_Delete(o);
		return;
	}
	cJSON_AddItemToArray(args, o);
	v = value_new(args);
	if (v)
		emitter_emit(object_get_emitter(obj), how ? "exited" : "started", v);
	value_free(v);
}

/* No longer hear of processes: the object is being freed. */
static void bot_destroy(struct object *obj)
{
	behaviours_set_watch(NULL, NULL);
}

static const struct object_arg bot_restart_args[] = {
	{ "name", OBJECT_TYPE_STRING, OBJECT_KIND_NONE, false, false },
	{ 0 },
};

static const struct object_method bot_methods[] = {
	{ "reload", "reads the configuration file again and applies it without dropping IRC: {changed: [...]}, "
		    "or ConfigError (the configuration in force stays)",
	  NULL, "object", true, bot_reload },
	{ "restart", "restarts a resident now, or stops the running processes of a command or timer: "
		     "{name, kind, stopped: [pids]}",
	  bot_restart_args, "object", true, bot_restart },
	{ "list", "the behaviours: [{name, kind, exec, running: [pids], runs, last_exit, next_run (timers), "
		  "restarts (residents)}]",
	  NULL, "array", false, bot_list },
	{ 0 },
};

static const struct object_event bot_events[] = {
	{ "started", "{name, kind, pid}: a behaviour's process started" },
	{ "exited", "{name, kind, pid, code, signal, timed_out, runtime_ms}: a behaviour's process exited" },
	{ 0 },
};

/* Create and register the object. */
int bot_object_register(struct server *s)
{
	struct object *obj = object_new("bot", "the behaviours: commands, timers and residents", bot_methods, NULL);
	int r;

	if (!obj)
		return -ENOMEM;
	r = object_set_events(obj, bot_events);
	if (r == 0)
		r = object_register(server_objects(s), obj);
	if (r < 0) {
		object_free(obj);
		return r;
	}
	object_set_destroy(obj, bot_destroy);
	behaviours_set_watch(bot_watch_cb, obj);
	return 0;
}
