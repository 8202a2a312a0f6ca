/* SPDX-License-Identifier: ISC */
/* Behaviours: the programs of the configuration's [command NAME],
 * [timer NAME] and [resident NAME] sections, and their processes.
 *
 * The registry follows the configuration (behaviours_configure: sections
 * added, changed and removed on a reload), starts processes with the caps of
 * the configuration (max_processes in all, max_running per command, one at a
 * time per timer and resident), gives each one its context (host.context())
 * and the same as environment variables, and keeps what `bot.list` shows:
 * runs, the running pids, the last exit.
 *
 * A behaviour removed by a reload leaves the registry at once; its struct
 * lives on until its last process has exited (a resident's is stopped, a
 * command's or timer's may finish).
 *
 * Functions returning int give 0 or a negative errno code. */
#ifndef BOTHOST_BEHAVIOUR_H
#define BOTHOST_BEHAVIOUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "behaviour_conf.h"

struct behaviour;
struct call;
struct client;
struct server;
struct value;
struct spawn_exit;

/* Read the configuration file again and apply it. 0 with the changes
 * appended to the array changes (strings, as logged), or -errno and
 * *ret_error (allocated) saying why nothing changed. */
typedef int (*behaviours_reload_fn)(char **ret_error, cJSON *changes, void *userdata);
/* A process of b started (how NULL) or exited. */
typedef void (*behaviours_watch_fn)(const struct behaviour *b, pid_t pid, const struct spawn_exit *how,
				    void *userdata);

/* Start the registry on server s: BOTKIT_SOCKET is socket_path (NULL: not
 * set), then apply cfg (residents start, timers are set). */
int behaviours_start(struct server *s, const char *socket_path, const struct behaviours_conf *cfg);
/* Apply a new configuration: sections added, changed, removed. 0 or -ENOMEM
 * (some changes may then be missing; they are logged). */
int behaviours_configure(const struct behaviours_conf *cfg);
/* The host is stopping: no process starts any more, nothing is restarted,
 * timers stop. The processes are stopped by spawn_stop_all. */
void behaviours_stop(void);
/* Free the registry (after spawn_stop_all). */
void behaviours_free(void);

/* Who reads the configuration again for behaviours_reload. */
void behaviours_set_reload(behaviours_reload_fn fn, void *userdata);
/* Read the configuration again (bot.reload, !reload): see behaviours_reload_fn;
 * -ENOSYS when nobody can. */
int behaviours_reload(char **ret_error, cJSON *changes);
/* Who hears of processes starting and exiting. */
void behaviours_set_watch(behaviours_watch_fn fn, void *userdata);

/* The server behaviours are served by. */
struct server *behaviours_server(void);
/* Behaviour processes running now, and the most allowed. */
unsigned behaviours_running(void);
unsigned behaviours_max_processes(void);
/* The behaviour named name (compared ignoring ASCII case), or NULL. */
struct behaviour *behaviours_find(const char *name);
/* The behaviours in the order of the configuration: the first after prev
 * (NULL: the first one), or NULL at the end. */
struct behaviour *behaviours_next(const struct behaviour *prev);

/* Its section of the configuration. */
const struct conf_behaviour *behaviour_conf(const struct behaviour *b);
/* Its processes running now. */
unsigned behaviour_running(const struct behaviour *b);

/* A context for a process of b: a value holding {"kind","name"}, to which
 * the caller adds what it knows; NULL on allocation failure. */
struct value *behaviour_context_new(const struct behaviour *b);
/* Start a process of b: argv is exec, the fixed args, then for a command
 * "--" and user_args (n);
 * context (taken; NULL: behaviour_context_new's) is what host.context()
 * answers the process, and its strings "kind", "name", "text", "nick",
 * "hostmask", "channel" and "target" become $BOTKIT_KIND, $BOTKIT_NAME,
 * $BOTKIT_ARGS, $BOTKIT_NICK, $BOTKIT_HOSTMASK, $BOTKIT_CHANNEL and
 * $BOTKIT_TARGET (empty when absent), beside $BOTKIT_SOCKET; its state
 * directory (STATE_DIR/behaviours/NAME, made first) is added as "state_dir"
 * and $BOTKIT_STATE_DIR, both absent when it cannot be made (logged). 0, -EBUSY (b runs as many
 * processes as it may), -EAGAIN (max_processes reached), -ESHUTDOWN (the
 * host is stopping or b was removed) or another -errno from spawn_start.
 * A process the host is serving a request of (its answer in the paced IRC
 * queue) holds no slot of max_running or max_processes; at most twice
 * max_processes processes live at once. A command with parked processes
 * hands context to one of them instead of starting one (user_args then
 * arrive in the context only); *ret_pid is that process's. */
int behaviour_run(struct behaviour *b, struct value *context, char *const *user_args, size_t n, pid_t *ret_pid);
/* Prestarted processes (a command's `prestart`, prestart.h). b's parked
 * processes (those being replaced not counted). */
unsigned behaviour_parked(const struct behaviour *b);
/* Start one parked process of b: argv is exec and the fixed args (no
 * "--" nor words: they come in the context), its environment has no
 * $BOTKIT_ARGS, $BOTKIT_NICK... but $BOTKIT_PRESTARTED=1, and no timeout
 * runs until a command is handed to it. It counts toward max_processes,
 * not max_running. 0, -EAGAIN (max_processes reached), -ESHUTDOWN, or an
 * -errno of spawn_start. */
int behaviour_park(struct behaviour *b);
/* Stop b's parked processes (they are replaced by the pool). */
void behaviour_discard_parked(struct behaviour *b);
/* bot.park() from client c: a parked process waits here until a command is
 * handed to it, then gets its context; any other caller gets its context
 * (host.context()) at once. */
void behaviour_park_wait(struct client *c, struct call *call);

/* Stop b's processes (SIGTERM, then SIGKILL); their pids are appended to
 * the array pids if given. */
void behaviour_stop_runs(struct behaviour *b, cJSON *pids);
/* bot.restart: a resident is stopped and started again at once; a
 * command's or timer's processes are stopped. Their pids are appended to
 * the array stopped. */
void behaviour_restart(struct behaviour *b, cJSON *stopped);
/* {"name","kind","exec","running":[pids],"runs","last_exit",...} for bot.list;
 * commands also "parked":[pids]. */
cJSON *behaviour_describe(const struct behaviour *b);
/* {"code","signal","timed_out","runtime_ms"} of an exit (code null when
 * killed by a signal, signal null when it exited). */
cJSON *behaviour_exit_json(const struct spawn_exit *how);

#endif
