/* SPDX-License-Identifier: ISC */
/* The `bot` object. */
#include "config.h"

#include "bot_object.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "behaviour.h"
#include "commands.h"
#include "listeners.h"
#include "core/call.h"
#include "core/client.h"
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
/* The error of on("command:WORD") for a word that is someone else's. */
#define BOT_ERR_COMMAND_TAKEN "CommandTaken"

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

/* listeners(): the open sockets of [listen NAME] sections. */
static void bot_listeners(struct object *obj, struct call *call)
{
	cJSON *a = listeners_describe();

	if (!a) {
		call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	call_return_json(call, a);
}

/* park(): a prestarted process waits for its command's context. */
static void bot_park(struct object *obj, struct call *call)
{
	behaviour_park_wait(call_get_client(call), call);
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

/* on / once (event, fn): "started", "exited", or "command:WORD", which
 * claims WORD for the caller (commands_claim_add). */
static void bot_add_listener(struct object *obj, struct call *call, bool once)
{
	const char *event = cJSON_GetStringValue(call_get_arg(call, 0));
	struct fn *fn = call_get_fn_arg(call, 1);
	struct client *c = call_get_client(call);
	char *why = NULL;
	int r;

	if (strncmp(event, "command:", 8) == 0)
		r = commands_claim_add(event + 8, fn, once, c, &why);
	else if (strcmp(event, "started") == 0 || strcmp(event, "exited") == 0)
		r = emitter_add(object_get_emitter(obj), event, fn, once, c);
	else
		r = -ENOENT;
	if (r == -ENOENT)
		call_fail(call, ERR_NO_SUCH_EVENT, "bot has no event '%s'", event);
	else if (r == -EINVAL)
		call_fail(call, ERR_INVALID_ARGUMENTS, "%s", why);
	else if (r == -EEXIST)
		call_fail(call, BOT_ERR_COMMAND_TAKEN, "%s", why);
	else if (r == -ENOBUFS)
		call_fail(call, ERR_LIMIT_EXCEEDED, "at most %zu handlers per client (handlers_max)",
			  client_config(c)->handlers_max);
	else if (r < 0)
		call_fail(call, ERR_FAILED, "out of memory");
	else
		call_return(call, NULL);
	free(why);
}

/* on(event, fn) */
static void bot_on(struct object *obj, struct call *call)
{
	bot_add_listener(obj, call, false);
}

/* once(event, fn) */
static void bot_once(struct object *obj, struct call *call)
{
	bot_add_listener(obj, call, true);
}

/* No longer hear of processes, nor send commands: the object is being freed. */
static void bot_destroy(struct object *obj)
{
	behaviours_set_watch(NULL, NULL);
	commands_set_emitter(NULL);
}

static const struct object_arg bot_on_args[] = {
	{ "event", OBJECT_TYPE_STRING, OBJECT_KIND_NONE, false, false },
	{ "fn", OBJECT_TYPE_FUNCTION, OBJECT_KIND_REGISTRATION, false, false },
	{ 0 },
};

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
	{ "list", "the behaviours: [{name, kind, exec, running: [pids], parked: [pids] (commands), runs, "
		  "last_exit, next_run (timers), restarts (residents)}]",
	  NULL, "array", false, bot_list },
	{ "listeners", "the sockets of [listen NAME] sections: [{name, address, bound, fd, behaviours: [names]}]",
	  NULL, "array", false, bot_listeners },
	{ "on", "registers fn for \"started\", \"exited\" or \"command:WORD\" (claims WORD: CommandTaken when "
		"a built-in, a [command] section or another client has it)",
	  bot_on_args, "null", false, bot_on },
	{ "once", "as on, removed before its first call", bot_on_args, "null", false, bot_once },
	{ "park", "a prestarted command's process (BOTKIT_PRESTARTED=1) waits here until a command is handed to "
		  "it, then gets its context; any other caller gets host.context() at once",
	  NULL, "any", false, bot_park },
	{ 0 },
};

static const struct object_event bot_events[] = {
	{ "started", "{name, kind, pid}: a behaviour's process started" },
	{ "exited", "{name, kind, pid, code, signal, timed_out, runtime_ms}: a behaviour's process exited" },
	{ "*", "\"command:WORD\": the message event {from, target, channel, private, text, reply, ...} with "
	       "command, prefix, rest and args, when a user gives the command WORD the caller claims" },
	{ 0 },
};

/* Create and register the object. */
int bot_object_register(struct server *s)
{
	struct object *obj = object_new("bot", "the behaviours: commands, timers and residents", bot_methods, NULL);
	int r;

	if (!obj)
		return -ENOMEM;
	if ((r = objects_add(server_objects(s), obj, bot_events)) < 0)
		return r;
	object_set_destroy(obj, bot_destroy);
	behaviours_set_watch(bot_watch_cb, obj);
	commands_set_emitter(object_get_emitter(obj));
	return 0;
}
