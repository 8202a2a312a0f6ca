/* Behaviour processes: posix_spawn, output logged line by line,
 * timeouts, reaping through libev. */
#include "config.h"

#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "client.h"
#include "later.h"
#include "list.h"
#include "log.h"
#include "server.h"
#include "value.h"

/* Output lines longer than this are logged in pieces of this size. */
#define SPAWN_LINE_MAX 4096
#define SPAWN_READS_PER_EVENT 16
#define SPAWN_DEFAULT_GRACE_MS 2000
/* Output still open this long after the child exited: what is left of its
 * process group is killed and the output closed. */
#define SPAWN_DRAIN_MS 1000
/* At the host's exit: the grace before SIGKILL, and the whole wait. */
#define SPAWN_SHUTDOWN_GRACE_MS 500
#define SPAWN_SHUTDOWN_MAX_MS 3000
#define SPAWN_PATH "/usr/local/bin:/usr/bin:/bin"
#define SPAWN_BOTKIT_FD 3

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
	ev_child child;
	ev_timer timeout;
	ev_timer grace;		/* SIGKILL after SIGTERM, or the end of draining */
	struct spawn_pipe out, err;
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
 * environment and the executables to try; and the parent's ends. */
struct spawn_launch {
	int child_fds[4];	/* become 0 (/dev/null), 1, 2 (pipes) and 3 (socket) */
	int nfds;
	int out_fd, err_fd;	/* read ends of stdout and stderr */
	int sock_fd;		/* the host's end of the connection, or -1 */
	struct spawn_strv env;
	struct spawn_strv exe;
	const char *cwd;
	char *const *argv;
};

static struct list spawn_all = { &spawn_all, &spawn_all };
static unsigned spawn_running;
static bool spawn_shutting_down;	/* spawn_stop_all runs the loop */

static void spawn_child_cb(struct ev_loop *loop, ev_child *w, int revents);
static void spawn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void spawn_grace_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void spawn_pipe_cb(struct ev_loop *loop, ev_io *w, int revents);
static void spawn_done_cb(void *userdata);

/* Milliseconds on the monotonic clock. */
static uint64_t spawn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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

/* The home directory of the user the host runs as. */
static const char *spawn_env_home(char *buf, size_t size)
{
	struct passwd pw, *found = NULL;
	const char *home = getenv("HOME");

	if (getpwuid_r(geteuid(), &pw, buf, size, &found) == 0 && found && found->pw_dir && found->pw_dir[0])
		return found->pw_dir;
	return home && home[0] ? home : "/";
}

/* The clean environment, the caller's entries and BOTKIT_FD. */
static int spawn_env_build(struct spawn_strv *env, const struct spawn_opts *o)
{
	const char *tz = getenv("TZ");
	char buf[4096];
	int r;

	if ((r = spawn_env_put(env, strdup("PATH=" SPAWN_PATH))) < 0 ||
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

/* The executables to try: path itself when it has a slash, else path in
 * each directory of the clean PATH. */
static int spawn_exe_build(struct spawn_strv *exe, const char *path)
{
	const char *dir = SPAWN_PATH;
	char *entry;
	int r;

	if (!path[0])
		return -ENOENT;
	if (strchr(path, '/'))
		return spawn_strv_add(exe, strdup(path));
	while (*dir) {
		size_t n = strcspn(dir, ":");
		if (asprintf(&entry, "%.*s/%s", (int)n, dir, path) < 0)
			return -ENOMEM;
		if ((r = spawn_strv_add(exe, entry)) < 0)
			return r;
		dir += n + (dir[n] == ':');
	}
	return 0;
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
	l->argv = o->argv;
}

/* Create the descriptors, the environment and the list of executables. */
static int spawn_launch_prepare(struct spawn_launch *l, const struct spawn_opts *o)
{
	int sv[2], r;

	if ((r = spawn_env_build(&l->env, o)) < 0 || (r = spawn_exe_build(&l->exe, o->path)) < 0)
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
	spawn_strv_free(&l->exe);
}

/* What the child does before execve: the descriptors 0 to nfds - 1 from
 * their sources (all above them), every other one closed, the working
 * directory. 0 or -errno. */
static int spawn_actions_build(posix_spawn_file_actions_t *fa, const struct spawn_launch *l)
{
	int r = 0;

	for (int i = 0; i < l->nfds && r == 0; i++)
		r = posix_spawn_file_actions_adddup2(fa, l->child_fds[i], i);
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(fa, l->nfds);
	if (r == 0 && l->cwd)
		r = posix_spawn_file_actions_addchdir_np(fa, l->cwd);
	return -r;
}

/* The child's own process group, no blocked signal, default dispositions. */
static int spawn_attr_build(posix_spawnattr_t *attr)
{
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	if ((r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (r = posix_spawnattr_setpgroup(attr, 0)) != 0 || (r = posix_spawnattr_setsigmask(attr, &none)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(attr, &all)) != 0)
		return -r;
	return 0;
}

/* posix_spawn each candidate until one runs; as with execvp, EACCES is
 * reported over ENOENT. 0 or -errno. */
static int spawn_try(const struct spawn_launch *l, const posix_spawn_file_actions_t *fa,
		     const posix_spawnattr_t *attr, pid_t *pid)
{
	int err = ENOENT;
	bool denied = false;

	for (size_t i = 0; i < l->exe.n; i++) {
		err = posix_spawn(pid, l->exe.v[i], fa, attr, l->argv, l->env.v);
		if (err == 0)
			return 0;
		if (err == EACCES)
			denied = true;
		else if (err != ENOENT && err != ENOTDIR)
			break;
	}
	return -(denied && (err == ENOENT || err == ENOTDIR) ? EACCES : err);
}

/* Start the child; the C library creates it vfork-style and reports a
 * failure before or in execve as the result. The pid, or -errno. */
static pid_t spawn_launch_run(const struct spawn_launch *l)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid = 0;
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return -r;
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		r = -r;
		goto out_actions;
	}
	if ((r = spawn_actions_build(&fa, l)) == 0 && (r = spawn_attr_build(&attr)) == 0)
		r = spawn_try(l, &fa, &attr, &pid);
	posix_spawnattr_destroy(&attr);
out_actions:
	posix_spawn_file_actions_destroy(&fa);
	return r < 0 ? r : pid;
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
	sp->grace_ms = o->kill_grace_ms ? o->kill_grace_ms : SPAWN_DEFAULT_GRACE_MS;
	sp->done = done;
	sp->userdata = userdata;
	later_init(&sp->done_later, spawn_done_cb, sp);
	ev_timer_init(&sp->timeout, spawn_timeout_cb, sp->timeout_ms / 1000., 0.);
	sp->timeout.data = sp;
	ev_init(&sp->grace, spawn_grace_cb);
	sp->grace.data = sp;
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
	sp->started_ms = spawn_now_ms();
	sp->state = SPAWN_RUNNING;
	/* The loop's clock may be stale: time the deadline from now. */
	ev_now_update(EV_DEFAULT);
	/* Before the loop runs again, so the exit cannot be missed. */
	ev_child_init(&sp->child, spawn_child_cb, sp->pid, 0);
	sp->child.data = sp;
	ev_child_start(EV_DEFAULT, &sp->child);
	spawn_pipe_start(&sp->out, &l->out_fd);
	spawn_pipe_start(&sp->err, &l->err_fd);
	if (sp->timeout_ms)
		ev_timer_start(EV_DEFAULT, &sp->timeout);
	list_add_tail(&spawn_all, &sp->link);
	spawn_running++;
}

/* Serve the host's end of the connection, with the context (taken). */
static int spawn_connect(struct spawn *sp, struct spawn_launch *l, struct value *context)
{
	struct client *c;
	int r = server_adopt_client(sp->server, l->sock_fd, &c);

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
	if (!(sp = spawn_alloc(s, o, done, userdata)) ||
	    (o->connect && o->context && !(context = value_dup(o->context)))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = spawn_launch_prepare(&l, o)) < 0 || (r = pid = spawn_launch_run(&l)) < 0)
		goto fail;
	sp->pid = pid;
	if (o->connect && (r = spawn_connect(sp, &l, context)) < 0) {
		context = NULL;
		spawn_reap_now(pid);
		goto fail;
	}
	spawn_watch(sp, &l);
	spawn_launch_free(&l);
	log_info("behaviour %s started: pid %ld, %s", sp->name, (long)pid, o->path);
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

/* Signal the child's process group (the child alone if it left the group). */
static void spawn_signal(struct spawn *sp, int sig)
{
	if (kill(-sp->pid, sig) < 0 && errno == ESRCH)
		kill(sp->pid, sig);
}

/* SIGTERM now, SIGKILL after grace_ms. */
void spawn_stop(struct spawn *sp)
{
	if (!sp || sp->state != SPAWN_RUNNING)
		return;
	log_info("behaviour %s (pid %ld): stopping (SIGTERM, SIGKILL after %u ms)", sp->name, (long)sp->pid,
		 sp->grace_ms);
	sp->state = SPAWN_STOPPING;
	ev_timer_stop(EV_DEFAULT, &sp->timeout);
	spawn_signal(sp, SIGTERM);
	ev_timer_set(&sp->grace, sp->grace_ms / 1000., 0.);
	ev_timer_start(EV_DEFAULT, &sp->grace);
}

/* The deadline passed. */
static void spawn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct spawn *sp = w->data;

	log_warn("behaviour %s (pid %ld): timed out after %u ms", sp->name, (long)sp->pid, sp->timeout_ms);
	sp->how.timed_out = true;
	spawn_stop(sp);
}

/* Log one line (or piece) of output, tagged with the name and pid. */
static void spawn_pipe_log(const struct spawn_pipe *p, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (p->is_stderr)
		log_warn("[%s %ld] %.*s", p->sp->name, (long)p->sp->pid, (int)n, s);
	else
		log_info("[%s %ld] %.*s", p->sp->name, (long)p->sp->pid, (int)n, s);
}

/* Log every complete line in the buffer, and a piece when it is full. */
static void spawn_pipe_lines(struct spawn_pipe *p)
{
	char *start = p->line, *end = p->line + p->len, *nl;

	while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
		spawn_pipe_log(p, start, (size_t)(nl - start));
		start = nl + 1;
	}
	if (end - start > SPAWN_LINE_MAX) {
		spawn_pipe_log(p, start, SPAWN_LINE_MAX);
		start += SPAWN_LINE_MAX;
	}
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
	if (p->len > 0)
		spawn_pipe_log(p, p->line, p->len);
	p->len = 0;
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

	if (h->signaled)
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
	sp->how.runtime_ms = spawn_now_ms() - sp->started_ms;
	sp->how.signaled = WIFSIGNALED(w->rstatus);
	sp->how.code = sp->how.signaled ? WTERMSIG(w->rstatus) : WEXITSTATUS(w->rstatus);
	sp->state = SPAWN_DRAINING;
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
		later_run();
	}
	spawn_shutting_down = false;
	ev_timer_stop(EV_DEFAULT, &limit);
	if (!list_empty(&spawn_all))
		log_warn("%u behaviour(s) still running at exit", spawn_running);
}
