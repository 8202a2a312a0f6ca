/* SPDX-License-Identifier: ISC */
/* Behaviour processes: vfork, the limits and descriptors set in the child,
 * execve; output logged line by line at a bounded rate; timeouts; reaping
 * through libev. */
#include "config.h"

#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "core/call.h"
#include "core/client.h"
#include "core/clock.h"
#include "core/later.h"
#include "core/list.h"
#include "core/log.h"
#include "core/server.h"
#include "core/value.h"

/* Output lines longer than this are cut there, with a marker. */
#define SPAWN_LINE_MAX 4096
/* Output lines logged per window and process; the others are counted and
 * reported in one line when the window ends or the process exits. */
#define SPAWN_LOG_LINES 50
#define SPAWN_LOG_WINDOW_MS 10000
#define SPAWN_READS_PER_EVENT 16
#define SPAWN_DEFAULT_GRACE_MS 2000
/* Output still open this long after the child exited: what is left of its
 * process group is killed and the output closed. */
#define SPAWN_DRAIN_MS 1000
/* A child whose deadline passed while the host still serves a request of it
 * (its answer in the paced IRC queue) is looked at again this often, and
 * stopped once the host is done with it, or this long after the deadline. */
#define SPAWN_HOST_WAIT_CHECK_MS 200
#define SPAWN_HOST_WAIT_MAX_MS (10 * 60 * 1000)
/* At the host's exit: the grace before SIGKILL, and the whole wait. */
#define SPAWN_SHUTDOWN_GRACE_MS 500
#define SPAWN_SHUTDOWN_MAX_MS 3000
#define SPAWN_PATH "/usr/local/bin:/usr/bin:/bin"
#define SPAWN_BOTKIT_FD 3
/* Rounds of SIGKILL to a tree whose members may still be forking. */
#define SPAWN_KILL_ROUNDS 8
/* Children the host had before its first behaviour, remembered at most. */
#define SPAWN_FOREIGN_MAX 64
#define MIB (1024ull * 1024ull)
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* AddressSanitizer reserves terabytes of address space in each process it
 * instruments: a memory limit by default would stop every behaviour of
 * such a build. */
#if defined(__SANITIZE_ADDRESS__)
#define SPAWN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPAWN_ASAN 1
#endif
#endif
#ifndef SPAWN_ASAN
#define SPAWN_ASAN 0
#endif

enum spawn_state {
	SPAWN_RUNNING,	/* the child runs */
	SPAWN_STOPPING,	/* SIGTERM sent; SIGKILL follows after the grace period */
	SPAWN_KILLED,	/* SIGKILL sent; waiting for the exit */
	SPAWN_DRAINING,	/* reaped; reading what is left in the pipes */
	SPAWN_DONE,	/* reported from the loop, then freed */
};

/* The read end of the child's stdout or stderr and its partial line. */
struct spawn_pipe {
	struct spawn *sp;
	int fd;		/* -1 once closed */
	bool is_stderr;
	bool cutting;	/* the line was logged cut: drop up to its line feed */
	ev_io io;
	size_t len;
	char line[SPAWN_LINE_MAX + 1];
};

struct spawn {
	struct list link;	/* in spawn_all until freed */
	enum spawn_state state;
	char *name;
	pid_t pid;		/* also its process group */
	struct server *server;
	uint64_t client_id;	/* the host side of its connection, 0 without one */
	unsigned timeout_ms;
	unsigned grace_ms;
	uint64_t started_ms;
	struct spawn_exit how;
	bool stopped;		/* spawn_stop was called: the end is the host's doing */
	bool host_waited;	/* its deadline passed while the host served a request of it */
	bool parked;		/* started ahead of need: no deadline until spawn_arm */
	ev_child child;
	ev_timer timeout;
	ev_timer grace;		/* SIGKILL after SIGTERM, or the end of draining */
	struct spawn_pipe out, err;
	unsigned log_lines;	/* lines logged per window */
	unsigned log_window_ms;
	bool window_open;	/* a window started with the first line after the last one */
	uint64_t window_start_ms;
	unsigned logged;	/* lines logged in the window */
	unsigned long suppressed;	/* lines not logged in it */
	ev_timer flood;		/* the end of a window with lines suppressed */
	struct later done_later;
	spawn_exit_fn done;
	void *userdata;
};

/* A NULL-terminated array of allocated strings. */
struct spawn_strv {
	char **v;
	size_t n, cap;
};

/* What a start prepares before spawning: the descriptors the child gets, its
 * environment, executable and limits; and the parent's ends. */
struct spawn_launch {
	int child_fds[4];	/* become 0 (/dev/null), 1, 2 (pipes) and 3 (socket) */
	int nfds;
	int out_fd, err_fd;	/* read ends of stdout and stderr */
	int sock_fd;		/* the host's end of the connection, or -1 */
	struct spawn_strv env;
	char *exe;		/* the executable found */
	char *const *argv;
	struct spawn_limits limits;
	const char *cwd;
};

/* What the vfork child does, and how it failed: it shares the parent's
 * memory until its execve, so it writes its errno and the step that failed
 * here, and the parent reads them once vfork returned. */
struct spawn_child {
	const struct spawn_launch *l;
	volatile int err;
	const char *volatile step;
};

/* A process and its parent, as /proc shows them. */
struct spawn_proc {
	pid_t pid, ppid;
};

static struct list spawn_all = { &spawn_all, &spawn_all };
static pid_t spawn_foreign[SPAWN_FOREIGN_MAX];
static size_t spawn_foreign_n;
static unsigned spawn_running;
static bool spawn_shutting_down;	/* spawn_stop_all runs the loop */

static void spawn_child_cb(struct ev_loop *loop, ev_child *w, int revents);
static void spawn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void spawn_grace_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void spawn_pipe_cb(struct ev_loop *loop, ev_io *w, int revents);
static void spawn_flood_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void spawn_done_cb(void *userdata);
static void spawn_foreign_note(void);
static void spawn_kill_orphans(const struct spawn *ended);


/* Append s (taken; NULL means an allocation failed). 0 or -ENOMEM. */
static int spawn_strv_add(struct spawn_strv *sv, char *s)
{
	if (!s)
		return -ENOMEM;
	if (sv->n + 1 >= sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 16;
		char **v = realloc(sv->v, cap * sizeof *v);
		if (!v) {
			free(s);
			return -ENOMEM;
		}
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

/* Free the strings and the array. */
static void spawn_strv_free(struct spawn_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

/* Set the environment entry "KEY=VALUE" (taken), replacing one with the same key. */
static int spawn_env_put(struct spawn_strv *env, char *entry)
{
	const char *eq = entry ? strchr(entry, '=') : NULL;

	if (entry && (!eq || eq == entry)) {
		free(entry);
		return -EINVAL;
	}
	for (size_t i = 0; entry && i < env->n; i++) {
		if (strncmp(env->v[i], entry, (size_t)(eq - entry) + 1) == 0) {
			free(env->v[i]);
			env->v[i] = entry;
			return 0;
		}
	}
	return spawn_strv_add(env, entry);
}

/* An allocated "KEY=VALUE", or NULL. */
static char *spawn_env_entry(const char *key, const char *value)
{
	char *entry;

	if (asprintf(&entry, "%s=%s", key, value) < 0)
		return NULL;
	return entry;
}

/* The home directory of the user the host runs as. The password database is
 * read once per user id, not on every spawn: the lookup opens and parses
 * /etc/passwd (or asks NSS) while a command waits for its behaviour. */
static const char *spawn_env_home(char *buf, size_t size)
{
	static char cached[4096];
	static uid_t cached_uid = (uid_t)-1;
	struct passwd pw, *found = NULL;
	const char *home = getenv("HOME");
	uid_t uid = geteuid();

	if (cached[0] && cached_uid == uid)
		return cached;
	if (getpwuid_r(uid, &pw, buf, size, &found) == 0 && found && found->pw_dir && found->pw_dir[0] &&
	    strlen(found->pw_dir) < sizeof cached) {
		strcpy(cached, found->pw_dir);
		cached_uid = uid;
		return cached;
	}
	return home && home[0] ? home : "/";
}

/* The directory of the host's own executable (its bindir once installed,
 * where botctl is too), read once; "" when unknown. */
static const char *spawn_env_own_dir(void)
{
	static char dir[PATH_MAX];
	static bool read_once;
	ssize_t n;
	char *slash;

	if (read_once)
		return dir;
	read_once = true;
	n = readlink("/proc/self/exe", dir, sizeof dir - 1);
	dir[n > 0 ? n : 0] = '\0';
	if ((slash = strrchr(dir, '/')))
		*slash = '\0';
	else
		dir[0] = '\0';
	return dir;
}

/* PATH: the system directories, then the host's own directory when it is
 * not one of them; and BOTCTL: the botctl beside the host, when there is
 * one, so that a script finds it under any prefix. */
static int spawn_env_path(struct spawn_strv *env)
{
	const char *own = spawn_env_own_dir();
	char path[sizeof SPAWN_PATH + PATH_MAX + 16], botctl[PATH_MAX + 16];
	char sys[] = ":" SPAWN_PATH ":", mine[PATH_MAX + 2];
	int r;

	snprintf(mine, sizeof mine, ":%s:", own);
	snprintf(path, sizeof path, "PATH=%s%s%s", SPAWN_PATH, own[0] && !strstr(sys, mine) ? ":" : "",
		 own[0] && !strstr(sys, mine) ? own : "");
	if ((r = spawn_env_put(env, strdup(path))) < 0)
		return r;
	snprintf(botctl, sizeof botctl, "%s/botctl", own);
	if (own[0] && access(botctl, X_OK) == 0)
		return spawn_env_put(env, spawn_env_entry("BOTCTL", botctl));
	return 0;
}

/* Line-buffered stdio for a program that does nothing about it (its stdout
 * is a pipe, fully buffered by default): coreutils' libstdbuf.so preloaded
 * as `stdbuf -oL -eL` does, when configure found it and not in a build with
 * AddressSanitizer (whose runtime must be the first library loaded); and
 * Python's own switch. */
static int spawn_env_line_buffered(struct spawn_strv *env)
{
#if defined(SPAWN_LIBSTDBUF) && !SPAWN_ASAN
	int r;

	if ((r = spawn_env_put(env, strdup("LD_PRELOAD=" SPAWN_LIBSTDBUF))) < 0 ||
	    (r = spawn_env_put(env, strdup("_STDBUF_O=L"))) < 0 || (r = spawn_env_put(env, strdup("_STDBUF_E=L"))) < 0)
		return r;
#endif
	return spawn_env_put(env, strdup("PYTHONUNBUFFERED=1"));
}

/* The clean environment, line buffering when asked, the caller's entries
 * and BOTKIT_FD. */
static int spawn_env_build(struct spawn_strv *env, const struct spawn_opts *o)
{
	const char *tz = getenv("TZ");
	char buf[4096];
	int r;

	if ((o->line_buffered && (r = spawn_env_line_buffered(env)) < 0) || (r = spawn_env_path(env)) < 0 ||
	    (r = spawn_env_put(env, spawn_env_entry("HOME", spawn_env_home(buf, sizeof buf)))) < 0 ||
	    (r = spawn_env_put(env, strdup("LANG=C.UTF-8"))) < 0 ||
	    (r = spawn_env_put(env, strdup("LC_ALL=C.UTF-8"))) < 0 ||
	    (tz && (r = spawn_env_put(env, spawn_env_entry("TZ", tz))) < 0))
		return r;
	for (size_t i = 0; o->env && o->env[i]; i++)
		if ((r = spawn_env_put(env, strdup(o->env[i]))) < 0)
			return r;
	if (o->connect && (r = spawn_env_put(env, strdup("BOTKIT_FD=3"))) < 0)
		return r;
	return 0;
}

/* The default limits. */
void spawn_limits_init(struct spawn_limits *l)
{
	l->memory = SPAWN_ASAN ? SPAWN_UNLIMITED : 512 * MIB;
	l->cpu_s = SPAWN_UNLIMITED;
	l->processes = SPAWN_UNLIMITED;
	l->files = 256;
	l->file_size = SPAWN_UNLIMITED;
	l->core = 0;
}

/* Whether execve could run path: 0, or -ENOENT, -ENOTDIR, -EACCES (also
 * for a directory or a file without execute permission)... as it would say. */
static int spawn_exe_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode) || access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

/* The executable to run (allocated): path itself when it has a slash, else
 * the first one in a directory of the clean PATH; as with execvp, EACCES is
 * reported over ENOENT. A relative path with a working directory is left to
 * the child's execve, which reports its own failure. */
static int spawn_exe_resolve(const char *path, const char *cwd, char **ret)
{
	const char *dir = SPAWN_PATH;
	bool denied = false;
	char *entry;
	int r;

	if (!path[0])
		return -ENOENT;
	if (strchr(path, '/')) {
		if ((path[0] == '/' || !cwd) && (r = spawn_exe_check(path)) < 0)
			return r;
		return (*ret = strdup(path)) ? 0 : -ENOMEM;
	}
	for (; *dir; dir += strcspn(dir, ":") + (dir[strcspn(dir, ":")] == ':')) {
		if (asprintf(&entry, "%.*s/%s", (int)strcspn(dir, ":"), dir, path) < 0)
			return -ENOMEM;
		if ((r = spawn_exe_check(entry)) == 0) {
			*ret = entry;
			return 0;
		}
		free(entry);
		denied |= r == -EACCES;
		if (r != -EACCES && r != -ENOENT && r != -ENOTDIR)
			return r;
	}
	return denied ? -EACCES : -ENOENT;
}

/* A pipe whose read end (non-blocking) stays in the host and whose write
 * end (blocking) goes to the child; both close on exec. */
static int spawn_launch_pipe(int *ret_read, int *ret_write)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	*ret_read = p[0];
	*ret_write = p[1];
	return 0;
}

/* Close a descriptor if open and mark it closed. */
static void spawn_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Move a descriptor below min (one the child's dup2s could overwrite) to
 * min or above, still closing on exec. 0 or -errno. */
static int spawn_fd_raise(int *fd, int min)
{
	int high;

	if (*fd >= min)
		return 0;
	if ((high = fcntl(*fd, F_DUPFD_CLOEXEC, min)) < 0)
		return -errno;
	close(*fd);
	*fd = high;
	return 0;
}

/* Everything unset, so that spawn_launch_free is always safe. */
static void spawn_launch_init(struct spawn_launch *l, const struct spawn_opts *o)
{
	memset(l, 0, sizeof *l);
	for (int i = 0; i < 4; i++)
		l->child_fds[i] = -1;
	l->nfds = o->connect ? 4 : 3;
	l->out_fd = l->err_fd = l->sock_fd = -1;
	l->cwd = o->cwd;
}

/* Under valgrind, which keeps descriptors of its own at the top of the
 * range and refuses a child any change of the open files limit: the
 * behaviours start without limit_files (said once). */
static void spawn_limits_valgrind(struct spawn_limits *lim)
{
	static bool said;

	if (!RUNNING_ON_VALGRIND || lim->files == SPAWN_UNLIMITED)
		return;
	if (!said)
		log_warn("running under valgrind, which refuses to change the open files limit: "
			 "behaviours start without limit_files");
	said = true;
	lim->files = SPAWN_UNLIMITED;
}

/* The executable and the limits. */
static int spawn_launch_exe(struct spawn_launch *l, const struct spawn_opts *o)
{
	if (o->limits)
		l->limits = *o->limits;
	else
		spawn_limits_init(&l->limits);
	spawn_limits_valgrind(&l->limits);
	l->argv = o->argv;
	return spawn_exe_resolve(o->path, o->cwd, &l->exe);
}

/* Create the descriptors, the environment, the executable and the limits. */
static int spawn_launch_prepare(struct spawn_launch *l, const struct spawn_opts *o)
{
	int sv[2], r;

	if ((r = spawn_env_build(&l->env, o)) < 0 || (r = spawn_launch_exe(l, o)) < 0)
		return r;
	l->child_fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (l->child_fds[0] < 0)
		return -errno;
	if ((r = spawn_launch_pipe(&l->out_fd, &l->child_fds[1])) < 0 ||
	    (r = spawn_launch_pipe(&l->err_fd, &l->child_fds[2])) < 0)
		return r;
	if (o->connect) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		l->sock_fd = sv[0];
		l->child_fds[3] = sv[1];
	}
	for (int i = 0; i < l->nfds; i++)
		if ((r = spawn_fd_raise(&l->child_fds[i], l->nfds)) < 0)
			return r;
	return 0;
}

/* Close what is still open and free the strings. */
static void spawn_launch_free(struct spawn_launch *l)
{
	for (int i = 0; i < 4; i++)
		spawn_close(&l->child_fds[i]);
	spawn_close(&l->out_fd);
	spawn_close(&l->err_fd);
	spawn_close(&l->sock_fd);
	spawn_strv_free(&l->env);
	free(l->exe);
}

/* In the child: set the limits, each soft and hard alike (CPU time: the
 * hard limit, SIGKILL, a second after SIGXCPU); unlimited ones are left as
 * inherited. 0, or -1 with errno and c->step set. */
static int spawn_child_limits(struct spawn_child *c, const struct spawn_limits *lim)
{
	const struct { int resource; uint64_t v; const char *what; } set[] = {
		{ RLIMIT_AS, lim->memory, "setting the memory limit" },
		{ RLIMIT_CPU, lim->cpu_s, "setting the CPU time limit" },
		{ RLIMIT_NPROC, lim->processes, "setting the processes limit" },
		{ RLIMIT_NOFILE, lim->files, "setting the open files limit" },
		{ RLIMIT_FSIZE, lim->file_size, "setting the file size limit" },
		{ RLIMIT_CORE, lim->core, "setting the core dump size limit" },
	};
	struct rlimit rl;

	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
		if (set[i].v == SPAWN_UNLIMITED)
			continue;
		c->step = set[i].what;
		rl.rlim_cur = rl.rlim_max = (rlim_t)set[i].v;
		if (set[i].resource == RLIMIT_CPU)
			rl.rlim_max++;
		if (setrlimit(set[i].resource, &rl) < 0)
			return -1;
	}
	return 0;
}

/* The vfork child, up to its execve: default dispositions, its own process
 * group, descriptors 0 to nfds - 1 from their sources (all above them) and
 * no other, the working directory, the limits, no new privileges, no
 * blocked signal. Only system calls: it runs on the parent's memory. */
static __attribute__((noreturn)) void spawn_child_exec(struct spawn_child *c)
{
	const struct spawn_launch *l = c->l;
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);	/* SIGKILL, SIGSTOP and the C library's own refuse */
	c->step = "setting its process group";
	if (setpgid(0, 0) < 0)
		goto fail;
	c->step = "setting its descriptors";
	for (int i = 0; i < l->nfds; i++)
		if (dup2(l->child_fds[i], i) < 0)
			goto fail;
	if (close_range((unsigned)l->nfds, ~0u, 0) < 0)
		goto fail;
	c->step = "changing directory";
	if ((l->cwd && chdir(l->cwd) < 0) || spawn_child_limits(c, &l->limits) < 0)
		goto fail;
	/* Its descendants stay in its tree while it lives, whatever they do
	 * (setsid, double forks), so that its end can reach them. */
	c->step = "becoming a child subreaper";
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		goto fail;
	c->step = "setting no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	c->step = NULL;
	execve(l->exe, l->argv, l->env.v);
fail:
	c->err = errno;
	_exit(127);
}

/* Start the child with vfork, as the C library's posix_spawn does: every
 * signal blocked around it, so that no handler of the host runs in the
 * child; a failure before or in execve comes back as the result, the child
 * reaped. The pid, or -errno. */
static pid_t spawn_launch_run(const struct spawn_launch *l)
{
	struct spawn_child c = { .l = l };
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		spawn_child_exec(&c);
	if (pid < 0) {
		pid = -errno;
	} else if (c.err) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (c.step)
			log_warn("%s: %s: %s", l->exe, c.step, strerror(c.err));
		pid = -c.err;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* Reap a child that the loop will never watch, killing it first. */
static void spawn_reap_now(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* A spawn with its name and watchers set up, not yet started. */
static struct spawn *spawn_alloc(struct server *s, const struct spawn_opts *o, spawn_exit_fn done,
				 void *userdata)
{
	struct spawn *sp = calloc(1, sizeof *sp);

	if (!sp || !(sp->name = strdup(o->name ? o->name : o->path))) {
		free(sp);
		return NULL;
	}
	list_init(&sp->link);
	sp->server = s;
	sp->timeout_ms = o->timeout_ms;
	sp->parked = o->parked;
	sp->grace_ms = o->kill_grace_ms ? o->kill_grace_ms : SPAWN_DEFAULT_GRACE_MS;
	sp->done = done;
	sp->userdata = userdata;
	later_init(&sp->done_later, later_queue_of(EV_DEFAULT), spawn_done_cb, sp);
	ev_timer_init(&sp->timeout, spawn_timeout_cb, sp->timeout_ms / 1000., 0.);
	sp->timeout.data = sp;
	ev_init(&sp->grace, spawn_grace_cb);
	sp->grace.data = sp;
	ev_init(&sp->flood, spawn_flood_cb);
	sp->flood.data = sp;
	sp->log_lines = o->log_lines ? o->log_lines : SPAWN_LOG_LINES;
	sp->log_window_ms = o->log_window_ms ? o->log_window_ms : SPAWN_LOG_WINDOW_MS;
	sp->out.sp = sp->err.sp = sp;
	sp->out.fd = sp->err.fd = -1;
	sp->err.is_stderr = true;
	return sp;
}

/* Free a spawn whose watchers are all stopped. */
static void spawn_free(struct spawn *sp)
{
	list_remove(&sp->link);
	later_cancel(&sp->done_later);
	spawn_close(&sp->out.fd);
	spawn_close(&sp->err.fd);
	free(sp->name);
	free(sp);
}

/* Watch one output pipe (fd taken). */
static void spawn_pipe_start(struct spawn_pipe *p, int *fd)
{
	p->fd = *fd;
	*fd = -1;
	ev_io_init(&p->io, spawn_pipe_cb, p->fd, EV_READ);
	p->io.data = p;
	ev_io_start(EV_DEFAULT, &p->io);
}

/* The child runs: watch its exit, its output and its deadline. */
static void spawn_watch(struct spawn *sp, struct spawn_launch *l)
{
	sp->started_ms = clock_now_ms();
	sp->state = SPAWN_RUNNING;
	/* The loop's clock may be stale: time the deadline from now. */
	ev_now_update(EV_DEFAULT);
	/* Before the loop runs again, so the exit cannot be missed. */
	ev_child_init(&sp->child, spawn_child_cb, sp->pid, 0);
	sp->child.data = sp;
	ev_child_start(EV_DEFAULT, &sp->child);
	spawn_pipe_start(&sp->out, &l->out_fd);
	spawn_pipe_start(&sp->err, &l->err_fd);
	if (sp->timeout_ms && !sp->parked)
		ev_timer_start(EV_DEFAULT, &sp->timeout);
	list_add_tail(&spawn_all, &sp->link);
	spawn_running++;
}

/* Serve the host's end of the connection, with the context (taken). */
static int spawn_connect(struct spawn *sp, struct spawn_launch *l, struct value *context, bool privileged)
{
	struct client *c;
	int r = server_adopt_client(sp->server, l->sock_fd, privileged, &c);

	l->sock_fd = -1;	/* taken, also on failure */
	if (r < 0) {
		value_free(context);
		return r;
	}
	client_set_context(c, context);
	sp->client_id = client_get_id(c);
	return 0;
}

/* Check the options; 0 or -EINVAL. */
static int spawn_opts_check(const struct server *s, const struct spawn_opts *o, spawn_exit_fn done)
{
	if (!s || !o || !done || !o->path || !o->argv || !o->argv[0])
		return -EINVAL;
	return 0;
}

/* Start a child. */
int spawn_start(struct server *s, const struct spawn_opts *o, spawn_exit_fn done, void *userdata,
		struct spawn **ret)
{
	struct spawn_launch l;
	struct spawn *sp = NULL;
	struct value *context = NULL;
	int r = spawn_opts_check(s, o, done);
	pid_t pid;

	if (r < 0)
		return r;
	spawn_launch_init(&l, o);
	spawn_foreign_note();
	if (!(sp = spawn_alloc(s, o, done, userdata)) ||
	    (o->connect && o->context && !(context = value_dup(o->context)))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = spawn_launch_prepare(&l, o)) < 0 || (r = pid = spawn_launch_run(&l)) < 0)
		goto fail;
	sp->pid = pid;
	if (o->connect && (r = spawn_connect(sp, &l, context, o->privileged)) < 0) {
		context = NULL;
		spawn_reap_now(pid);
		goto fail;
	}
	spawn_watch(sp, &l);
	spawn_launch_free(&l);
	log_info("behaviour %s started%s: pid %ld, %s", sp->name, o->parked ? " (parked)" : "", (long)pid, o->path);
	if (ret)
		*ret = sp;
	return 0;
fail:
	log_warn("behaviour %s not started: %s: %s", o->name ? o->name : o->path, o->path, strerror(-r));
	spawn_launch_free(&l);
	value_free(context);
	if (sp)
		spawn_free(sp);
	return r;
}

/* ---- descendants ----------------------------------------------------------------- */

/* The parent of pid from /proc/PID/stat ("pid (comm) state ppid ...", comm
 * may hold spaces and parentheses), or -1 when it is gone. */
static pid_t spawn_proc_ppid(pid_t pid)
{
	char path[64], buf[512];
	const char *p;
	long ppid;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')) || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/* Every process's pid and parent, read from /proc (allocated, *ret_n of
 * them); NULL when /proc cannot be read or memory ran out. */
static struct spawn_proc *spawn_procs_read(size_t *ret_n)
{
	DIR *d = opendir("/proc");
	struct spawn_proc *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		pid_t ppid;
		if (*end || pid <= 0 || (ppid = spawn_proc_ppid((pid_t)pid)) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if (!(nv = realloc(v, cap * sizeof *v)))
				break;
			v = nv;
		}
		v[n++] = (struct spawn_proc){ (pid_t)pid, ppid };
	}
	if (d)
		closedir(d);
	*ret_n = n;
	return v;
}

/* Send sig to every descendant of root found in procs (root excluded);
 * how many were signalled. */
static size_t spawn_signal_tree(const struct spawn_proc *procs, size_t n, pid_t root, int sig)
{
	pid_t *tree = malloc((n + 1) * sizeof *tree);
	size_t len = 0;

	if (!tree)
		return 0;
	tree[len++] = root;
	for (size_t i = 0; i < len; i++)
		for (size_t j = 0; j < n; j++)
			if (procs[j].ppid == tree[i] && procs[j].pid != root)
				tree[len++] = procs[j].pid;
	for (size_t i = 1; i < len; i++)
		kill(tree[i], sig);
	free(tree);
	return len - 1;
}

/* Send sig to root's descendants, whatever session or group they moved
 * to (the behaviour is their subreaper); with SIGKILL again, for those
 * forked meanwhile, until none is left or a few rounds passed. */
static void spawn_signal_descendants(pid_t root, int sig)
{
	for (int round = 0; round < SPAWN_KILL_ROUNDS; round++) {
		size_t n = 0, hit;
		struct spawn_proc *procs = spawn_procs_read(&n);

		hit = procs ? spawn_signal_tree(procs, n, root, sig) : 0;
		free(procs);
		if (!hit || sig != SIGKILL)
			return;
	}
}

/* Whether pid is a child the host started and has not reaped yet. */
static bool spawn_is_ours(pid_t pid)
{
	for (struct list *l = spawn_all.next; l != &spawn_all; l = l->next) {
		const struct spawn *sp = list_entry(l, struct spawn, link);
		if (sp->pid == pid && sp->state < SPAWN_DRAINING)
			return true;
	}
	return false;
}

/* Whether pid was already the host's child before its first behaviour
 * started (a process the host inherited): never an orphan of a behaviour. */
static bool spawn_is_foreign(pid_t pid)
{
	for (size_t i = 0; i < spawn_foreign_n; i++)
		if (spawn_foreign[i] == pid)
			return true;
	return false;
}

/* Remember the children the host has before its first behaviour starts. */
static void spawn_foreign_note(void)
{
	static bool noted;
	struct spawn_proc *procs;
	size_t n = 0;

	if (noted)
		return;
	noted = true;
	procs = spawn_procs_read(&n);
	pid_t self = getpid();
	for (size_t i = 0; procs && i < n && spawn_foreign_n < SPAWN_FOREIGN_MAX; i++)
		if (procs[i].ppid == self)
			spawn_foreign[spawn_foreign_n++] = procs[i].pid;
	free(procs);
}

/* A behaviour ended: a process it left behind was reparented to the host
 * (a child subreaper); kill each such orphan with all its descendants.
 * Only when the host is a subreaper: otherwise orphans never come to it. */
static void spawn_kill_orphans(const struct spawn *ended)
{
	int reaper = 0;
	pid_t self = getpid();

	if (prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0) < 0 || !reaper)
		return;
	for (int round = 0; round < SPAWN_KILL_ROUNDS; round++) {
		size_t n = 0, hit = 0;
		struct spawn_proc *procs = spawn_procs_read(&n);

		for (size_t i = 0; procs && i < n; i++) {
			pid_t pid = procs[i].pid;
			if (procs[i].ppid != self || spawn_is_ours(pid) || spawn_is_foreign(pid))
				continue;
			if (round == 0)
				log_warn("behaviour %s (pid %ld) left process %ld running: killed with its descendants",
					 ended->name, (long)ended->pid, (long)pid);
			spawn_signal_tree(procs, n, pid, SIGKILL);
			kill(pid, SIGKILL);
			hit++;
		}
		free(procs);
		if (!hit)
			return;
	}
}

/* Signal the child's process group (the child alone if it left the group)
 * and every descendant it has, in whatever group. */
static void spawn_signal(struct spawn *sp, int sig)
{
	if (kill(-sp->pid, sig) < 0 && errno == ESRCH)
		kill(sp->pid, sig);
	spawn_signal_descendants(sp->pid, sig);
}

/* The parked child's work begins: time it and its deadline from now. */
void spawn_arm(struct spawn *sp)
{
	if (!sp || !sp->parked || sp->state != SPAWN_RUNNING)
		return;
	sp->parked = false;
	sp->started_ms = clock_now_ms();
	if (sp->timeout_ms) {
		ev_now_update(EV_DEFAULT);
		ev_timer_set(&sp->timeout, sp->timeout_ms / 1000., 0.);
		ev_timer_start(EV_DEFAULT, &sp->timeout);
	}
}

/* SIGTERM now, SIGKILL after grace_ms. */
void spawn_stop(struct spawn *sp)
{
	if (!sp || sp->state != SPAWN_RUNNING)
		return;
	log_info("behaviour %s (pid %ld): stopping (SIGTERM, SIGKILL after %u ms)", sp->name, (long)sp->pid,
		 sp->grace_ms);
	sp->state = SPAWN_STOPPING;
	sp->stopped = true;
	ev_timer_stop(EV_DEFAULT, &sp->timeout);
	spawn_signal(sp, SIGTERM);
	ev_timer_set(&sp->grace, sp->grace_ms / 1000., 0.);
	ev_timer_start(EV_DEFAULT, &sp->grace);
}

/* Whether the host is still serving a request of the child (such as an
 * answer waiting in the paced IRC queue): the wait is the host's. */
bool spawn_waits_on_host(const struct spawn *sp)
{
	struct client *c = spawn_get_client(sp);

	return c && call_table_pending_in(client_calls(c)) > 0;
}

/* The deadline passed: stop the child, unless the host is still serving a
 * request of it; then look again shortly, up to SPAWN_HOST_WAIT_MAX_MS. */
static void spawn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct spawn *sp = w->data;
	uint64_t ran = clock_now_ms() - sp->started_ms;

	if (spawn_waits_on_host(sp) && ran < (uint64_t)sp->timeout_ms + SPAWN_HOST_WAIT_MAX_MS) {
		if (!sp->host_waited)
			log_debug("behaviour %s (pid %ld): its time is up while the host serves its request: "
				  "waiting for the host", sp->name, (long)sp->pid);
		sp->host_waited = true;
		ev_timer_set(&sp->timeout, SPAWN_HOST_WAIT_CHECK_MS / 1000., 0.);
		ev_timer_start(loop, &sp->timeout);
		return;
	}
	log_warn("behaviour %s (pid %ld): timed out after %u ms", sp->name, (long)sp->pid, sp->timeout_ms);
	sp->how.timed_out = true;
	spawn_stop(sp);
}

/* End the window of output lines: say how many were not logged. */
static void spawn_flood_end(struct spawn *sp)
{
	ev_timer_stop(EV_DEFAULT, &sp->flood);
	if (sp->suppressed)
		log_warn("%lu lines from %s (pid %ld) suppressed: at most %u lines are logged per %g s", sp->suppressed,
			 sp->name, (long)sp->pid, sp->log_lines, sp->log_window_ms / 1000.);
	sp->suppressed = 0;
	sp->window_open = false;
}

/* The window with lines suppressed ended. */
static void spawn_flood_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	spawn_flood_end(w->data);
}

/* Whether one more line of output may be logged now; counted if not. The
 * first line after a window opens the next one. */
static bool spawn_log_allowed(struct spawn *sp)
{
	uint64_t now = clock_now_ms();

	if (sp->window_open && now - sp->window_start_ms >= sp->log_window_ms)
		spawn_flood_end(sp);
	if (!sp->window_open) {
		sp->window_open = true;
		sp->window_start_ms = now;
		sp->logged = 0;
	}
	if (sp->logged < sp->log_lines) {
		sp->logged++;
		return true;
	}
	if (sp->suppressed++ == 0) {
		ev_timer_set(&sp->flood, (double)(sp->window_start_ms + sp->log_window_ms - now) / 1000., 0.);
		ev_timer_start(EV_DEFAULT, &sp->flood);
	}
	return false;
}

/* Log one line of output, tagged with the name and pid; cut: it went on
 * beyond SPAWN_LINE_MAX bytes. */
static void spawn_pipe_log(struct spawn_pipe *p, const char *s, size_t n, bool cut)
{
	const char *mark = cut ? " [cut at " STRINGIFY(SPAWN_LINE_MAX) " bytes]" : "";

	if (!spawn_log_allowed(p->sp))
		return;
	if (!cut && n > 0 && s[n - 1] == '\r')
		n--;
	if (p->is_stderr)
		log_warn("[%s %ld] %.*s%s", p->sp->name, (long)p->sp->pid, (int)n, s, mark);
	else
		log_info("[%s %ld] %.*s%s", p->sp->name, (long)p->sp->pid, (int)n, s, mark);
}

/* Log every complete line in the buffer; a line that fills it is logged
 * cut, and the rest of it dropped up to its line feed. */
static void spawn_pipe_lines(struct spawn_pipe *p)
{
	char *start = p->line, *end = p->line + p->len, *nl;

	while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
		if (!p->cutting)
			spawn_pipe_log(p, start, (size_t)(nl - start), false);
		p->cutting = false;
		start = nl + 1;
	}
	if (!p->cutting && end - start > SPAWN_LINE_MAX) {
		spawn_pipe_log(p, start, SPAWN_LINE_MAX, true);
		p->cutting = true;
	}
	if (p->cutting)
		start = end;
	p->len = (size_t)(end - start);
	memmove(p->line, start, p->len);
}

/* Stop reading; log the tail that had no line feed. */
static void spawn_pipe_close(struct spawn_pipe *p)
{
	if (p->fd < 0)
		return;
	ev_io_stop(EV_DEFAULT, &p->io);
	spawn_close(&p->fd);
	if (p->len > 0 && !p->cutting)
		spawn_pipe_log(p, p->line, p->len, false);
	p->len = 0;
	p->cutting = false;
}

/* Read what is there: 1 more may come, 0 end of file (or an error). */
static int spawn_pipe_read(struct spawn_pipe *p)
{
	for (int i = 0; i < SPAWN_READS_PER_EVENT; i++) {
		ssize_t n = read(p->fd, p->line + p->len, sizeof p->line - p->len);
		if (n > 0) {
			p->len += (size_t)n;
			spawn_pipe_lines(p);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n < 0)
			log_warn("behaviour %s (pid %ld): reading output: %s", p->sp->name, (long)p->sp->pid,
				 strerror(errno));
		return 0;
	}
	return 1;
}

/* Log how the child ended. */
static void spawn_log_exit(const struct spawn *sp)
{
	const struct spawn_exit *h = &sp->how;
	const char *late = h->timed_out ? ", timed out" : "";

	if (sp->stopped && !h->timed_out)
		log_info("behaviour %s (pid %ld) stopped after %llu ms (%s %d)", sp->name, (long)sp->pid,
			 (unsigned long long)h->runtime_ms, h->signaled ? "signal" : "exit code", h->code);
	else if (h->signaled)
		log_warn("behaviour %s (pid %ld) killed by signal %d (%s) after %llu ms%s", sp->name, (long)sp->pid,
			 h->code, strsignal(h->code), (unsigned long long)h->runtime_ms, late);
	else if (h->code != 0)
		log_warn("behaviour %s (pid %ld) exited with code %d after %llu ms%s", sp->name, (long)sp->pid, h->code,
			 (unsigned long long)h->runtime_ms, late);
	else
		log_info("behaviour %s (pid %ld) exited with code 0 after %llu ms%s", sp->name, (long)sp->pid,
			 (unsigned long long)h->runtime_ms, late);
}

/* Report and free once the child was reaped and its output closed. */
static void spawn_check_done(struct spawn *sp)
{
	if (sp->state != SPAWN_DRAINING || sp->out.fd >= 0 || sp->err.fd >= 0)
		return;
	sp->state = SPAWN_DONE;
	ev_timer_stop(EV_DEFAULT, &sp->grace);
	spawn_flood_end(sp);
	spawn_log_exit(sp);
	later_schedule(&sp->done_later);
}

/* Output arrived, or the pipe reached end of file. */
static void spawn_pipe_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct spawn_pipe *p = w->data;

	if (spawn_pipe_read(p) == 0) {
		spawn_pipe_close(p);
		spawn_check_done(p->sp);
	}
}

/* libev reaped the child: record how it ended, then drain its output. */
static void spawn_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct spawn *sp = w->data;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &sp->timeout);
	ev_timer_stop(loop, &sp->grace);
	spawn_running--;
	sp->how.runtime_ms = clock_now_ms() - sp->started_ms;
	sp->how.signaled = WIFSIGNALED(w->rstatus);
	sp->how.code = sp->how.signaled ? WTERMSIG(w->rstatus) : WEXITSTATUS(w->rstatus);
	sp->state = SPAWN_DRAINING;
	spawn_kill_orphans(sp);
	if (sp->out.fd >= 0 || sp->err.fd >= 0) {
		ev_timer_set(&sp->grace, SPAWN_DRAIN_MS / 1000., 0.);
		ev_timer_start(loop, &sp->grace);
	}
	spawn_check_done(sp);
}

/* The grace period after SIGTERM ended, or the output stayed open too long
 * after the exit (a process the child left behind holds it). */
static void spawn_grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct spawn *sp = w->data;

	switch (sp->state) {
	case SPAWN_STOPPING:
		log_warn("behaviour %s (pid %ld): still running %u ms after SIGTERM; SIGKILL", sp->name, (long)sp->pid,
			 sp->grace_ms);
		sp->state = SPAWN_KILLED;
		spawn_signal(sp, SIGKILL);
		break;
	case SPAWN_DRAINING:
		log_warn("behaviour %s (pid %ld): output still open %d ms after the exit; killing its process group",
			 sp->name, (long)sp->pid, SPAWN_DRAIN_MS);
		kill(-sp->pid, SIGKILL);
		if (sp->out.fd >= 0)
			spawn_pipe_read(&sp->out);
		if (sp->err.fd >= 0)
			spawn_pipe_read(&sp->err);
		spawn_pipe_close(&sp->out);
		spawn_pipe_close(&sp->err);
		spawn_check_done(sp);
		break;
	default:
		break;
	}
}

/* Report the exit from the loop, then free the spawn. */
static void spawn_done_cb(void *userdata)
{
	struct spawn *sp = userdata;

	list_remove(&sp->link);
	sp->done(sp, &sp->how, sp->userdata);
	spawn_free(sp);
	/* This runs before the loop would block: let spawn_stop_all see the end. */
	if (spawn_shutting_down && list_empty(&spawn_all))
		ev_break(EV_DEFAULT, EVBREAK_ONE);
}

/* The child's pid (also its process group). */
pid_t spawn_get_pid(const struct spawn *sp)
{
	return sp->pid;
}

/* The label used in logs. */
const char *spawn_get_name(const struct spawn *sp)
{
	return sp->name;
}

/* The id of its connection's client. */
uint64_t spawn_get_client_id(const struct spawn *sp)
{
	return sp->client_id;
}

/* The registered client with the id of the spawn's connection, if still there. */
struct client *spawn_get_client(const struct spawn *sp)
{
	const struct list *head;

	if (!sp->client_id)
		return NULL;
	head = server_clients(sp->server);
	for (struct list *l = head->next; l != head; l = l->next)
		if (client_get_id(client_from_link(l)) == sp->client_id)
			return client_from_link(l);
	return NULL;
}

/* Children started and not yet reaped. */
unsigned spawn_count(void)
{
	return spawn_running;
}

/* The context of a spawned client. */
const struct value *spawn_client_context(const struct client *c)
{
	return client_get_context(c);
}

/* The shutdown deadline passed: the loop wakes up and spawn_stop_all gives up. */
static void spawn_shutdown_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Stop every child with a short grace and wait for their reports. */
void spawn_stop_all(void)
{
	ev_timer limit;

	for (struct list *l = spawn_all.next; l != &spawn_all; l = l->next) {
		struct spawn *sp = list_entry(l, struct spawn, link);
		if (sp->grace_ms > SPAWN_SHUTDOWN_GRACE_MS)
			sp->grace_ms = SPAWN_SHUTDOWN_GRACE_MS;
		if (sp->state == SPAWN_STOPPING && ev_timer_remaining(EV_DEFAULT, &sp->grace) > sp->grace_ms / 1000.) {
			ev_timer_stop(EV_DEFAULT, &sp->grace);
			ev_timer_set(&sp->grace, sp->grace_ms / 1000., 0.);
			ev_timer_start(EV_DEFAULT, &sp->grace);
		}
		spawn_stop(sp);
	}
	ev_timer_init(&limit, spawn_shutdown_cb, SPAWN_SHUTDOWN_MAX_MS / 1000., 0.);
	ev_timer_start(EV_DEFAULT, &limit);
	spawn_shutting_down = true;
	while (!list_empty(&spawn_all) && ev_is_active(&limit)) {
		ev_run(EV_DEFAULT, EVRUN_ONCE);
		later_queue_run(later_queue_of(EV_DEFAULT));
	}
	spawn_shutting_down = false;
	ev_timer_stop(EV_DEFAULT, &limit);
	if (!list_empty(&spawn_all))
		log_warn("%u behaviour(s) still running at exit", spawn_running);
}
