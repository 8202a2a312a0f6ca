/* SPDX-License-Identifier: ISC */
/* The behaviours' sections of the configuration, as the behaviours layer
 * sees them; the configuration file (bothost/conf.h) reads them. */
#ifndef BOTHOST_BEHAVIOUR_CONF_H
#define BOTHOST_BEHAVIOUR_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "spawn.h"

/* What starts a behaviour's process: a command typed on IRC, a timer, or
 * the host itself, which keeps a resident running. */
enum conf_behaviour_kind {
	CONF_BEHAVIOUR_COMMAND,
	CONF_BEHAVIOUR_TIMER,
	CONF_BEHAVIOUR_RESIDENT,
	CONF_BEHAVIOUR_ROUTE,		/* a process per HTTP request (the daemon wires it) */
};
#define CONF_BEHAVIOUR_KINDS 4

/* A [command NAME], [timer NAME] or [resident NAME] section. */
struct conf_behaviour {
	enum conf_behaviour_kind kind;
	char *name;
	char *exec;			/* an absolute path (a relative one is resolved
					 * against the file's directory) */
	char **args;			/* fixed arguments, before the user's */
	size_t n_args;
	unsigned timeout_ms;		/* commands and timers (30 s); 0: none */
	bool privileged;		/* may call privileged methods (no) */
	bool line_buffered;		/* its stdout and stderr line-buffered (yes) */
	struct spawn_limits limits;	/* limit_* keys; those not given come from [behaviours] */
	char **store_access;		/* other namespaces of the store it may use */
	size_t n_store_access;

	/* [command NAME] */
	unsigned max_running;		/* its processes at once (2) */
	bool private_ok;		/* usable in a private message (yes); channel_only = yes: no */
	bool owner_only;		/* (no) */
	char *help;			/* the text of !help NAME (commands, residents), or NULL */
	unsigned prestart;		/* processes kept started and parked, waiting for
					 * a command's context (0: none) */

	/* [timer NAME] */
	unsigned every_ms;		/* 0: none */
	unsigned *at;			/* daily, in minutes after local midnight */
	size_t n_at;

	/* [resident NAME] */
	unsigned restart_min_ms;	/* first wait before a restart (1 s) */
	unsigned restart_max_ms;	/* longest wait (5 min) */
	bool watch;			/* restart when the executable changes on disk (no) */
	char **commands;		/* command words it answers itself: the host
					 * neither answers nor runs anything for them */
	size_t n_commands;

	/* [route NAME] (also max_running) */
	char *route_path;		/* the path prefix it serves */
	char *route_method;		/* "GET", ... or "*" (any, the default) */

	/* every kind */
	char **listen;			/* names of [listen NAME] sections whose sockets
					 * its processes get in host.context() */
	size_t n_listen;
};

/* A [listen NAME] section: a listening socket the host keeps open across
 * its behaviours' restarts (listeners.h). */
struct conf_listener {
	char *name;
	char *address;			/* "HOST:PORT" (TCP) or "unix:/path" */
};


/* At most count in window_ms. */
struct conf_rate {
	unsigned count;
	unsigned window_ms;
};

/* The [bothost] keys about commands, and every behaviour section. */
struct behaviours_conf {
	char *command_prefix;		/* before a command's name on IRC ("!") */
	char **owners;			/* "nick!user@host" globs and "account:NAME" */
	size_t n_owners;
	unsigned max_processes;		/* behaviour processes at once (32) */
	struct conf_rate user_commands;	/* commands per user (12 per minute) */
	unsigned user_ignore_ms;	/* how long a user over the rate is ignored (5 min) */
	unsigned user_processes;	/* command processes one user may have running (4) */
	char *state_dir;		/* [bothost] state_dir: each behaviour's directory
					 * is behaviours/NAME in it; NULL: none */
	struct conf_behaviour *behaviours;	/* in the order of the file */
	size_t n_behaviours;
	struct conf_listener *listeners;	/* [listen NAME], in the order of the file */
	size_t n_listeners;
};

/* Free what bc holds and zero it (clearing twice is harmless). */
void behaviours_conf_clear(struct behaviours_conf *bc);

/* "command", "timer" or "resident". */
const char *conf_behaviour_kind_name(enum conf_behaviour_kind kind);
/* The section named name, or NULL. */
const struct conf_behaviour *conf_behaviour_find(const struct behaviours_conf *bc, const char *name);
/* A deep copy of src into dst: 0 or -ENOMEM (dst is then cleared). */
int conf_behaviour_copy(struct conf_behaviour *dst, const struct conf_behaviour *src);
/* Free what b holds and zero it. */
void conf_behaviour_clear(struct conf_behaviour *b);
/* Whether two sections say the same (kind, name and every key). */
bool conf_behaviour_equal(const struct conf_behaviour *a, const struct conf_behaviour *b);
/* The [listen NAME] section named name (compared exactly), or NULL. */
const struct conf_listener *conf_listener_find(const struct behaviours_conf *bc, const char *name);
/* Whether b (a resident) claims the command word (compared ignoring ASCII case). */
bool conf_behaviour_claims(const struct conf_behaviour *b, const char *word);

#endif
