/* SPDX-License-Identifier: ISC */
/* Behaviour processes: started with vfork and execve and an argv array
 * (never a shell), their resource limits and PR_SET_NO_NEW_PRIVS set in the
 * child before the exec, a clean environment, no inherited descriptor but stdin (/dev/null),
 * stdout and stderr (pipes logged line by line, tagged with the behaviour's
 * name and pid, at most so many lines per window and each line cut at 4 KiB) and, when asked, one end of a socketpair as descriptor 3
 * ($BOTKIT_FD=3) whose other end the host serves as a client. The child is
 * a child subreaper, so that its descendants stay in its tree whatever
 * session or group they move to: a timeout sends SIGTERM to its group and
 * all its descendants, then SIGKILL after a grace period; when it ends,
 * what it left behind (reparented to the host, itself a subreaper) is
 * killed. Children are reaped by
 * libev (ev_child on the default loop); the exit status and run time are
 * logged and reported. */
#ifndef BOTHOST_SPAWN_H
#define BOTHOST_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct spawn;
struct server;
struct client;
struct value;

/* A limit not set: the process keeps the host's. */
#define SPAWN_UNLIMITED UINT64_MAX

/* Resource limits of a process (setrlimit), each soft and hard alike. */
struct spawn_limits {
	uint64_t memory;	/* RLIMIT_AS, bytes */
	uint64_t cpu_s;		/* RLIMIT_CPU, seconds: SIGXCPU, then SIGKILL a second later */
	uint64_t processes;	/* RLIMIT_NPROC, of the whole user id */
	uint64_t files;		/* RLIMIT_NOFILE, open descriptors */
	uint64_t file_size;	/* RLIMIT_FSIZE, bytes: SIGXFSZ beyond */
	uint64_t core;		/* RLIMIT_CORE, bytes */
};

struct spawn_opts {
	const char *name;		/* label in logs and stats */
	const char *path;		/* the executable (absolute, or found in PATH of the base environment) */
	char *const *argv;		/* NULL-terminated, argv[0] included */
	char *const *env;		/* extra "KEY=VALUE" entries, NULL-terminated, or NULL */
	const char *cwd;		/* working directory, or NULL: the host's */
	unsigned timeout_ms;		/* 0: none */
	bool parked;			/* started ahead of need: the timeout starts with spawn_arm */
	unsigned kill_grace_ms;		/* between SIGTERM and SIGKILL (default 2000 when 0) */
	bool connect;			/* give it a connection to the host */
	const struct value *context;	/* with connect: what host.context() answers it (copied) */
	bool privileged;		/* with connect: the connection gets the privileged methods */
	const struct spawn_limits *limits;	/* NULL: spawn_limits_init's defaults */
	unsigned log_lines;		/* output lines logged per window (0: 50) ... */
	unsigned log_window_ms;		/* ... the window (0: 10 s); the rest is counted */
	bool line_buffered;		/* its stdio line-buffered: coreutils' libstdbuf.so preloaded
					 * (when configure found it, not with sanitizers) with
					 * _STDBUF_O=L, _STDBUF_E=L; and PYTHONUNBUFFERED=1 */
};

/* The default limits: memory 512 MiB (no limit in a build with
 * AddressSanitizer, which reserves terabytes of address space), 256 open
 * files, no core dump; CPU time, processes and file size unlimited. */
void spawn_limits_init(struct spawn_limits *l);

/* How a child ended: exited with a code, or killed by a signal; timed_out
 * when the host stopped it for its timeout. */
struct spawn_exit {
	bool signaled;
	int code;		/* exit code, or the signal number */
	bool timed_out;
	uint64_t runtime_ms;
};

typedef void (*spawn_exit_fn)(struct spawn *sp, const struct spawn_exit *how, void *userdata);

/* Start a child. The exit callback runs exactly once, from the loop, after
 * the child has been reaped and its output logged; the spawn is freed after
 * it returns. 0 or -errno (nothing started, the callback never runs). */
int spawn_start(struct server *s, const struct spawn_opts *o, spawn_exit_fn done, void *userdata,
		struct spawn **ret);
/* A parked child got its work: its timeout starts now and its run time is
 * counted from now. Nothing for a child that is not parked. */
void spawn_arm(struct spawn *sp);
/* Ask the child to stop: SIGTERM now, SIGKILL after the grace period. */
void spawn_stop(struct spawn *sp);
pid_t spawn_get_pid(const struct spawn *sp);
const char *spawn_get_name(const struct spawn *sp);
/* The id of the host side of its connection (client_get_id), 0 without one. */
uint64_t spawn_get_client_id(const struct spawn *sp);
/* The host side of its connection while it is open, else NULL. */
struct client *spawn_get_client(const struct spawn *sp);
/* Whether the host is still serving a request of the child's connection
 * (an answer waiting in the paced IRC queue): such a wait counts neither
 * against its timeout (up to 10 minutes more) nor against its slot. */
bool spawn_waits_on_host(const struct spawn *sp);
/* Children running now. */
unsigned spawn_count(void);
/* Stop every child (SIGTERM, a short grace, SIGKILL) and run the default
 * loop until each was reaped and reported, or a few seconds passed. For the
 * host's exit: call it after the loop returned, before freeing the server. */
void spawn_stop_all(void);

/* The context a spawned client was given (borrowed), or NULL. */
const struct value *spawn_client_context(const struct client *c);

#endif
