/* SPDX-License-Identifier: ISC */
/* Listening socket, adopted sockets and the client registry. */
#include "config.h"

#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "client.h"
#include "errors.h"
#include "later.h"
#include "log.h"
#include "object.h"
#include "wire/map.h"

#define SERVER_ACCEPT_BACKOFF_SECONDS 1.0
/* Refusals of one uid are logged at most once in this many seconds. */
#define SERVER_REFUSAL_LOG_SECONDS 60.0
/* The uids whose last logged refusal is remembered. */
#define SERVER_REFUSALS_MAX 256
/* The longest parent chain followed to find whether a peer descends from the host. */
#define SERVER_ANCESTRY_MAX 4096

/* A listening socket; clients accepted on an untrusted one never get the
 * privileged methods, whatever their uid. */
struct listener {
	struct server *server;
	int fd;			/* -1: not listening */
	char *path;
	bool trusted;
	ev_io io;
};

#define SERVER_LISTENERS_MAX 2

/* What one uid's clients hold together. */
struct server_user {
	size_t queued;		/* output bytes */
	size_t orphans;		/* calls their departed connections left running */
};

/* When a refusal of uid was last logged. */
struct server_refusal {
	uid_t uid;
	bool used;
	ev_tstamp logged;
};

struct server {
	struct server_config cfg;
	struct later_queue *later;	/* the default loop's, not owned */
	struct objects *objects;
	uint64_t functions;	/* live function objects */
	struct listener listeners[SERVER_LISTENERS_MAX];
	size_t nlisteners;
	ev_timer accept_backoff;
	struct list clients;
	size_t nclients;
	size_t nuntrusted;	/* of them, accepted on an untrusted socket */
	size_t output_total;	/* bytes queued to the clients not closing */
	size_t orphans;		/* calls left running by clients that went away */
	struct map users;	/* (uid, 0) -> struct server_user, while it has something */
	uint64_t last_client_id;
	struct list lingering;
	server_client_hook hook;
	server_child_policy child_policy;
	void *child_policy_userdata;
	void *hook_userdata;
	bool exit_when_idle;
	uid_t *allow_uids;	/* served besides root and the host's euid */
	size_t n_allow_uids;
	gid_t *allow_gids;	/* peers with one of these groups are served */
	size_t n_allow_gids;
	struct server_refusal refusals[SERVER_REFUSALS_MAX];
};

/* The defaults announced in welcome.limits. */
void server_config_init(struct server_config *cfg)
{
	cfg->frame_max = 1048576;
	cfg->output_max = 4194304;
	cfg->tokens_max = 4096;
	cfg->handlers_max = 1024;
	cfg->pending_max = 4096;
	cfg->clients_max = 4096;
	cfg->clients_per_user = 64;
	cfg->call_timeout_ms = 30000;
	cfg->hello_timeout_ms = 5000;
	cfg->output_total_max = 67108864;
	cfg->output_user_max = 33554432;
	cfg->fds_per_frame = 16;
	cfg->fds_max = 64;
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents);
static void server_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* A server with no socket yet. */
struct server *server_new(const struct server_config *cfg)
{
	struct server *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->later = later_queue_of(EV_DEFAULT);
	s->objects = objects_new();
	if (!s->later || !s->objects) {
		objects_free(s->objects);
		free(s);
		return NULL;
	}
	s->cfg = *cfg;
	list_init(&s->clients);
	list_init(&s->lingering);
	ev_timer_init(&s->accept_backoff, server_backoff_cb, SERVER_ACCEPT_BACKOFF_SECONDS, 0.);
	s->accept_backoff.data = s;
	return s;
}

/* Drop every client and the listening socket. */
void server_free(struct server *s)
{
	if (!s)
		return;
	ev_timer_stop(EV_DEFAULT, &s->accept_backoff);
	for (size_t i = 0; i < s->nlisteners; i++) {
		struct listener *l = &s->listeners[i];
		ev_io_stop(EV_DEFAULT, &l->io);
		close(l->fd);
		unlink(l->path);
		free(l->path);
	}
	s->nlisteners = 0;
	s->exit_when_idle = false;
	while (!list_empty(&s->clients))
		client_lost(client_from_link(s->clients.next));
	while (!list_empty(&s->lingering))
		client_lost(client_from_link(s->lingering.next));
	/* The clients are freed from the queue; the objects' destroy hooks may queue more. */
	later_queue_run(s->later);
	objects_free(s->objects);
	later_queue_run(s->later);
	if (s->functions)
		log_warn("%" PRIu64 " function object(s) still live when the server is freed", s->functions);
	struct server_user *u;
	size_t iter = 0;
	while ((u = map_next(&s->users, &iter)))
		free(u);
	map_free(&s->users);
	free(s->allow_uids);
	free(s->allow_gids);
	free(s);
}

/* The socket path used without --socket. */
char *server_default_path(void)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	char *path = NULL;

	if (runtime && runtime[0] == '/') {
		if (asprintf(&path, "%s/bothost/bothost.sock", runtime) < 0)
			return NULL;
		return path;
	}
	return strdup("/run/bothost/bothost.sock");
}

/* The untrusted socket beside the socket at path. */
char *server_behaviours_path(const char *path)
{
	char *p = NULL;

	return asprintf(&p, "%s.behaviours", path) < 0 ? NULL : p;
}

/* Whether users other than root and the host's are allowed to connect. */
static bool server_is_open(const struct server *s)
{
	return s->n_allow_uids || s->n_allow_gids;
}

/* The directory part of path (allocated), or NULL: none ("/name") or no memory. */
static char *server_dir_of(const char *path)
{
	char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;

	if (!slash || slash == dir) {
		free(dir);
		return NULL;
	}
	*slash = '\0';
	return dir;
}

/* Check an existing socket directory: a directory (not a symbolic link),
 * owned by the host's euid, not writable by group or others. 0, -errno, or
 * -EPERM with the reason logged. */
static int server_check_dir(const char *dir, struct stat *st)
{
	const char *problem = NULL;

	if (lstat(dir, st) < 0)
		return -errno;
	if (S_ISLNK(st->st_mode))
		problem = "is a symbolic link";
	else if (!S_ISDIR(st->st_mode))
		problem = "is not a directory";
	else if (st->st_uid != geteuid())
		problem = "belongs to another user";
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		problem = "is writable by group or others";
	if (!problem)
		return 0;
	log_error("socket directory %s (owner uid %lu, mode %04o) %s: it must be a directory owned by uid %lu "
		  "and not writable by group or others; fix its owner and mode, or remove it and bothost "
		  "creates it", dir, (unsigned long)st->st_uid, (unsigned)(st->st_mode & 07777), problem,
		  (unsigned long)geteuid());
	return -EPERM;
}

/* Let other users reach the sockets in dir: search permission for group and others. */
static int server_open_dir(const char *dir, const struct stat *st)
{
	mode_t mode = (st->st_mode & 07777) | S_IXGRP | S_IXOTH;

	if ((st->st_mode & (S_IXGRP | S_IXOTH)) == (S_IXGRP | S_IXOTH))
		return 0;
	if (chmod(dir, mode) < 0)
		return -errno;
	log_info("socket directory %s: mode %04o, so that allowed users reach the socket", dir, (unsigned)mode);
	return 0;
}

/* Create the socket's directory (0700, or 0711 when others are allowed) if it
 * does not exist; otherwise check it and, when others are allowed, make it
 * searchable. */
static int server_make_dir(const struct server *s, const char *path)
{
	char *dir = server_dir_of(path);
	struct stat st;
	int r = 0;

	if (!dir)
		return strrchr(path, '/') == path ? 0 : -ENOMEM;
	if (mkdir(dir, 0700) == 0) {
		/* Set whatever the umask took away. */
		if (chmod(dir, server_is_open(s) ? 0711 : 0700) < 0)
			r = -errno;
	} else if (errno != EEXIST) {
		r = -errno;
	} else if ((r = server_check_dir(dir, &st)) == 0 && server_is_open(s)) {
		r = server_open_dir(dir, &st);
	}
	free(dir);
	return r;
}

/* Remove a socket file nobody listens on; -EADDRINUSE if a host answers. */
static int server_clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 ? errno : 0;
	close(fd);
	/* Accepted, or a full backlog (EAGAIN): somebody is listening. */
	if (r == 0 || r == EAGAIN)
		return -EADDRINUSE;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	log_info("removed stale socket %s", sa->sun_path);
	return 0;
}

/* Bind and listen on path with mode mode. */
static int server_bind(const struct sockaddr_un *sa, mode_t mode)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
		r = -errno;
	umask(old);
	if (r == 0 && chmod(sa->sun_path, mode) < 0)
		r = -errno;
	if (r == 0 && listen(fd, SOMAXCONN) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Listen on path and start accepting. */
int server_listen(struct server *s, const char *path, bool trusted)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct listener *l = &s->listeners[s->nlisteners];
	int r, fd;

	if (s->nlisteners == SERVER_LISTENERS_MAX)
		return -EALREADY;
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if ((r = server_make_dir(s, path)) < 0 || (r = server_clear_stale(&sa)) < 0)
		return r;
	fd = server_bind(&sa, server_is_open(s) ? 0666 : 0600);
	if (fd < 0)
		return fd;
	l->path = strdup(path);
	if (!l->path) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	l->server = s;
	l->fd = fd;
	l->trusted = trusted;
	ev_io_init(&l->io, server_accept_cb, fd, EV_READ);
	l->io.data = l;
	ev_io_start(EV_DEFAULT, &l->io);
	s->nlisteners++;
	log_info("listening on %s%s", path, trusted ? "" : " (unprivileged clients)");
	return 0;
}

/* The peer's credentials; uid and gid -1 and pid 0 when the kernel does not say. */
static void server_peer_cred(int fd, struct ucred *ret)
{
	socklen_t len = sizeof *ret;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret, &len) < 0)
		*ret = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
}

/* Whether gid is an allowed group. */
static bool server_gid_allowed(const struct server *s, gid_t gid)
{
	for (size_t i = 0; i < s->n_allow_gids; i++)
		if (s->allow_gids[i] == gid)
			return true;
	return false;
}

/* Whether one of the peer's supplementary groups (SO_PEERGROUPS) is allowed;
 * false where the kernel cannot tell them. */
static bool server_groups_allowed(const struct server *s, int fd)
{
	bool found = false;
#ifdef SO_PEERGROUPS
	gid_t stack[64], *groups = stack;
	socklen_t len = sizeof stack;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || !(groups = malloc(len)) ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof *groups && !found; i++)
		found = server_gid_allowed(s, groups[i]);
	if (groups != stack)
		free(groups);
#endif
	return found;
}

/* Whether the peer may connect: root, the host's euid, an allowed uid, or an
 * allowed primary or supplementary group. */
static bool server_peer_allowed(const struct server *s, int fd, const struct ucred *cred)
{
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	for (size_t i = 0; i < s->n_allow_uids; i++)
		if (s->allow_uids[i] == cred->uid)
			return true;
	if (cred->gid != (gid_t)-1 && server_gid_allowed(s, cred->gid))
		return true;
	return s->n_allow_gids && server_groups_allowed(s, fd);
}

/* Clients of uid registered now. */
static size_t server_uid_count(const struct server *s, uid_t uid)
{
	size_t n = 0;

	for (const struct list *l = s->clients.next; l != &s->clients; l = l->next)
		if (client_get_uid(client_from_link((struct list *)l)) == uid)
			n++;
	return n;
}

/* Log a refusal at warn, at most once a minute for each uid. */
static void server_log_refusal(struct server *s, uid_t uid, pid_t pid, const char *why)
{
	ev_tstamp now = ev_now(EV_DEFAULT);
	struct server_refusal *slot = NULL, *oldest = &s->refusals[0];

	for (size_t i = 0; i < SERVER_REFUSALS_MAX && !slot; i++) {
		struct server_refusal *r = &s->refusals[i];
		if (r->used && r->uid == uid)
			slot = r;
		else if (!r->used || (oldest->used && r->logged < oldest->logged))
			oldest = r;
	}
	if (slot && now - slot->logged < SERVER_REFUSAL_LOG_SECONDS)
		return;
	if (!slot)
		slot = oldest;
	*slot = (struct server_refusal){ .uid = uid, .used = true, .logged = now };
	log_warn("refused a connection of uid %lu (pid %ld): %s (the next refusals of this uid within a "
		 "minute are not logged)", (unsigned long)uid, (long)pid, why);
}

/* Refuse fd (taken then) when its peer may not connect, or has as many
 * connections as one user may have: true when refused. */
static bool server_refuse_peer(struct server *s, int fd, const struct ucred *cred)
{
	size_t per_user = s->cfg.clients_per_user < s->cfg.clients_max ? s->cfg.clients_per_user : s->cfg.clients_max;
	char message[160];

	if (!server_peer_allowed(s, fd, cred)) {
		snprintf(message, sizeof message, "uid %lu may not connect to this host (see allow_user and "
			 "allow_group)", (unsigned long)cred->uid);
		server_log_refusal(s, cred->uid, cred->pid, "not allowed");
		client_refuse(s, fd, ERR_PERMISSION_DENIED, message);
		return true;
	}
	if (cred->uid != geteuid() && server_uid_count(s, cred->uid) >= per_user) {
		snprintf(message, sizeof message, "uid %lu has %zu connections, the most one user may have (clients_per_user)",
			 (unsigned long)cred->uid, per_user);
		server_log_refusal(s, cred->uid, cred->pid, message);
		client_refuse(s, fd, ERR_LIMIT_EXCEEDED, message);
		return true;
	}
	return false;
}

/* The parent of pid, from /proc/PID/stat. 0, or -errno. */
static int server_proc_parent(pid_t pid, pid_t *ret)
{
	char path[48], buf[256];
	const char *end;
	long ppid;
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof buf - 1);
	err = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -err : -EIO;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
	end = strrchr(buf, ')');
	if (!end || sscanf(end + 1, " %*c %ld", &ppid) != 1)
		return -EIO;
	*ret = (pid_t)ppid;
	return 0;
}

/* Whether pid descends from the host: 1 with *ret_child the host's child on
 * its parent chain, 0 when it does not, -errno when the chain cannot be read. */
static int server_descends(pid_t pid, pid_t *ret_child)
{
	pid_t self = getpid(), parent = 0;

	for (int i = 0; i < SERVER_ANCESTRY_MAX && pid > 1 && pid != self; i++) {
		int r = server_proc_parent(pid, &parent);
		if (r < 0)
			return r;
		if (parent == self) {
			*ret_child = pid;
			return 1;
		}
		pid = parent;
	}
	return 0;
}

/* Whether a peer gets the privileged methods: the one place where this is
 * decided. Never on an untrusted socket; else its uid must be root or the
 * host's; then a descendant of the host is privileged only when the child
 * policy says so of the host's child it descends from. A peer whose process
 * (or an ancestor on its chain) is already gone never is: it may have been a
 * reaped descendant; one whose ancestry is hidden from the host only when it
 * is root. A peer outside the host's pid namespace (pid 0) has no ancestry to
 * read: its uid decides. */
static bool server_peer_privileged(const struct server *s, const struct ucred *cred, bool trusted)
{
	pid_t child;
	int r;

	if (!trusted || (cred->uid != 0 && cred->uid != geteuid()))
		return false;
	if (cred->pid <= 0)
		return true;
	r = server_descends(cred->pid, &child);
	if (r == -ENOENT || r == -ESRCH)
		return false;
	if (r < 0)
		return cred->uid == 0;
	if (r == 0)
		return true;
	return s->child_policy && s->child_policy(child, s->child_policy_userdata);
}

/* Set the policy for the host's own children. */
void server_set_child_policy(struct server *s, server_child_policy fn, void *userdata)
{
	s->child_policy = fn;
	s->child_policy_userdata = userdata;
}

/* Serve a connected socket handed to the host; the socket is closed on failure. */
int server_adopt_client(struct server *s, int fd, bool trusted, struct client **ret)
{
	const struct ucred host = { .pid = 0, .uid = geteuid(), .gid = getegid() };
	int type = 0, flags, r = 0;
	socklen_t len = sizeof type;
	struct client *c;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		r = -errno;
	else if (type != SOCK_STREAM)
		r = -ENOTSOCK;
	else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
		 fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	c = client_new(s, fd);
	if (!c)
		return -ENOMEM;
	client_set_privileged(c, server_peer_privileged(s, &host, trusted));
	if (ret)
		*ret = c;
	return 0;
}

/* Serve a connected socket handed to the host, if its peer may connect. */
int server_adopt_fd(struct server *s, int fd)
{
	struct ucred cred;
	struct client *c;
	int r;

	server_peer_cred(fd, &cred);
	if (server_refuse_peer(s, fd, &cred))
		return -EPERM;
	r = server_adopt_client(s, fd, true, &c);
	if (r == 0) {
		client_set_privileged(c, server_peer_privileged(s, &cred, true));
		client_start_hello_deadline(c);
	}
	return r;
}

/* Stop the loop when the last client leaves and nothing listens. */
void server_set_exit_when_idle(struct server *s, bool on)
{
	s->exit_when_idle = on;
}

/* The connections an untrusted socket may have: clients_max less the room
 * kept for the trusted one (an eighth of it, at least one). */
static size_t server_untrusted_max(const struct server *s)
{
	size_t reserve = s->cfg.clients_max / 8;

	if (reserve == 0 && s->cfg.clients_max > 1)
		reserve = 1;
	return s->cfg.clients_max - reserve;
}

/* Refuse fd (taken then) when the host, or for an untrusted socket its
 * share of clients_max, is full: true when refused. */
static bool server_refuse_full(struct server *s, int fd, const struct ucred *cred, bool trusted)
{
	char message[160];

	if (s->nclients >= s->cfg.clients_max)
		snprintf(message, sizeof message, "the host serves at most %zu clients", s->cfg.clients_max);
	else if (!trusted && s->nuntrusted >= server_untrusted_max(s))
		snprintf(message, sizeof message, "this socket serves at most %zu clients (clients_max less the "
			 "room kept for the host's own socket)", server_untrusted_max(s));
	else
		return false;
	server_log_refusal(s, cred->uid, cred->pid, message);
	client_refuse(s, fd, ERR_LIMIT_EXCEEDED, message);
	return true;
}

/* Accept every waiting connection; back off when out of descriptors. */
static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct server *s = l->server;
	struct ucred cred;
	struct client *c;

	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept: %s; pausing for a second", strerror(errno));
				for (size_t i = 0; i < s->nlisteners; i++)
					ev_io_stop(loop, &s->listeners[i].io);
				ev_timer_start(loop, &s->accept_backoff);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_error("accept: %s", strerror(errno));
			}
			return;
		}
		server_peer_cred(fd, &cred);
		if (server_refuse_full(s, fd, &cred, l->trusted) || server_refuse_peer(s, fd, &cred))
			continue;
		c = client_new(s, fd);
		if (!c)
			continue;
		client_set_privileged(c, server_peer_privileged(s, &cred, l->trusted));
		client_start_hello_deadline(c);
		if (!l->trusted) {
			client_set_untrusted_socket(c);
			s->nuntrusted++;
		}
	}
}

/* Resume accepting after a shortage of descriptors. */
static void server_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;

	for (size_t i = 0; i < s->nlisteners; i++)
		ev_io_start(loop, &s->listeners[i].io);
}

/* The limits and deadlines. */
const struct server_config *server_get_config(const struct server *s)
{
	return &s->cfg;
}

/* Replace the limits. */
void server_set_config(struct server *s, const struct server_config *cfg)
{
	s->cfg = *cfg;
}

/* Give the sockets (and, when others are allowed, their directories) the
 * modes the allowed lists call for. */
static void server_apply_modes(struct server *s)
{
	mode_t mode = server_is_open(s) ? 0666 : 0600;
	struct stat st;

	for (size_t i = 0; i < s->nlisteners; i++) {
		const char *path = s->listeners[i].path;
		char *dir = server_is_open(s) ? server_dir_of(path) : NULL;
		int r = dir ? server_check_dir(dir, &st) : 0;
		if (r == 0 && dir)
			r = server_open_dir(dir, &st);
		if (r == 0 && chmod(path, mode) < 0)
			r = -errno;
		if (r < 0)
			log_error("cannot set the mode of %s to %04o: %s", path, (unsigned)mode, strerror(-r));
		else
			log_info("socket %s: mode %04o", path, (unsigned)mode);
		free(dir);
	}
}

/* Replace the allowed uids and gids; the modes follow at once. */
int server_set_allowed(struct server *s, const uid_t *uids, size_t nuids, const gid_t *gids, size_t ngids)
{
	uid_t *u = nuids ? malloc(nuids * sizeof *u) : NULL;
	gid_t *g = ngids ? malloc(ngids * sizeof *g) : NULL;
	bool was_open = server_is_open(s);

	if ((nuids && !u) || (ngids && !g)) {
		free(u);
		free(g);
		return -ENOMEM;
	}
	if (nuids)
		memcpy(u, uids, nuids * sizeof *u);
	if (ngids)
		memcpy(g, gids, ngids * sizeof *g);
	free(s->allow_uids);
	free(s->allow_gids);
	s->allow_uids = u;
	s->n_allow_uids = nuids;
	s->allow_gids = g;
	s->n_allow_gids = ngids;
	if (was_open != server_is_open(s))
		server_apply_modes(s);
	return 0;
}

/* Register a client and give it the next id. */
uint64_t server_client_add(struct server *s, struct client *c)
{
	list_add_tail(&s->clients, client_link(c));
	s->nclients++;
	return ++s->last_client_id;
}

/* Unregister a client that went away. */
void server_client_remove(struct server *s, struct client *c)
{
	list_remove(client_link(c));
	s->nclients--;
	if (client_on_untrusted_socket(c))
		s->nuntrusted--;
	if (s->exit_when_idle && s->nclients == 0 && s->nlisteners == 0) {
		log_info("last client gone; exiting");
		ev_break(EV_DEFAULT, EVBREAK_ALL);
	}
}

/* Clients registered (handshake or not). */
size_t server_client_count(const struct server *s)
{
	return s->nclients;
}

/* The registered clients. */
const struct list *server_clients(const struct server *s)
{
	return &s->clients;
}

/* Connections closing after a connection error. */
struct list *server_lingering(struct server *s)
{
	return &s->lingering;
}

/* Who hears about clients arriving and leaving. */
void server_set_client_hook(struct server *s, server_client_hook hook, void *userdata)
{
	s->hook = hook;
	s->hook_userdata = userdata;
}

/* Tell the hook a client arrived or left. */
void server_client_event(struct server *s, struct client *c, bool connected)
{
	if (s->hook)
		s->hook(c, connected, s->hook_userdata);
}

/* The queue of deferred work. */
struct later_queue *server_later(const struct server *s)
{
	return s->later;
}

/* The hosted objects. */
struct objects *server_objects(const struct server *s)
{
	return s->objects;
}

/* A function object was created. */
void server_fn_add(struct server *s)
{
	s->functions++;
}

/* A function object was freed. */
void server_fn_remove(struct server *s)
{
	s->functions--;
}

/* Live function objects. */
uint64_t server_fn_count(const struct server *s)
{
	return s->functions;
}

/* The entry of uid, created on demand (NULL: none, or out of memory). */
static struct server_user *server_user_get(struct server *s, uid_t uid, bool create)
{
	struct server_user *u = map_get(&s->users, (uint64_t)uid, 0);

	if (u || !create)
		return u;
	u = calloc(1, sizeof *u);
	if (u && map_put(&s->users, (uint64_t)uid, 0, u) < 0) {
		free(u);
		u = NULL;
	}
	return u;
}

/* Forget uid's entry once it holds nothing. */
static void server_user_trim(struct server *s, uid_t uid, struct server_user *u)
{
	if (u->queued || u->orphans)
		return;
	map_remove(&s->users, (uint64_t)uid, 0);
	free(u);
}

/* A client's queue changed size: charge the total and its uid. Without
 * memory for uid's entry only the total is kept (the uid is not held to its
 * share then, but the total still is). */
void server_output_charge(struct server *s, uid_t uid, size_t was, size_t now)
{
	struct server_user *u = server_user_get(s, uid, now > was);

	s->output_total = s->output_total - was + now;
	if (!u)
		return;
	u->queued = u->queued + now >= was ? u->queued - was + now : 0;
	server_user_trim(s, uid, u);
}

/* Bytes queued to the clients not closing. */
size_t server_output_total(const struct server *s)
{
	return s->output_total;
}

/* Bytes queued to uid's clients not closing. */
size_t server_output_of(const struct server *s, uid_t uid)
{
	const struct server_user *u = map_get(&s->users, (uint64_t)uid, 0);

	return u ? u->queued : 0;
}

/* The open client (of uid when mine, else of any) with the largest queue, or NULL. */
static struct client *server_output_largest(struct server *s, bool mine, uid_t uid)
{
	struct client *best = NULL;

	for (struct list *l = s->clients.next; l != &s->clients; l = l->next) {
		struct client *c = client_from_link(l);
		if (client_queued_bytes(c) == 0 || client_is_closing(c) || (mine && client_get_uid(c) != uid))
			continue;
		if (!best || client_queued_bytes(c) > client_queued_bytes(best))
			best = c;
	}
	return best;
}

/* Cut off the largest queues until the total and uid's share are within budget. */
void server_output_enforce(struct server *s, uid_t uid)
{
	char message[200];

	for (;;) {
		bool user = server_output_of(s, uid) > s->cfg.output_user_max;
		if (!user && s->output_total <= s->cfg.output_total_max)
			return;
		struct client *c = server_output_largest(s, user, uid);
		if (!c)
			return;
		snprintf(message, sizeof message, "not reading: %zu bytes queued to it, the most while the host's "
			 "queued output (%zu bytes) is over %s (%zu)", client_queued_bytes(c),
			 user ? server_output_of(s, uid) : s->output_total, user ? "output_user_max" : "output_total_max",
			 user ? s->cfg.output_user_max : s->cfg.output_total_max);
		client_evict(c, ERR_LIMIT_EXCEEDED, message);
	}
}

/* Whether c may start new work within the output budget. */
bool server_output_admits(const struct server *s, const struct client *c)
{
	size_t share = s->cfg.output_total_max / (s->nclients ? s->nclients : 1);

	if (s->output_total <= s->cfg.output_total_max / 2 &&
	    server_output_of(s, client_get_uid(c)) <= s->cfg.output_user_max / 2)
		return true;
	return client_queued_bytes(c) <= share;
}

/* A client of uid went away with a call still running. */
void server_orphan_add(struct server *s, uid_t uid)
{
	struct server_user *u = server_user_get(s, uid, true);

	s->orphans++;
	if (u)
		u->orphans++;
}

/* An orphaned call of uid ended. */
void server_orphan_remove(struct server *s, uid_t uid)
{
	struct server_user *u = server_user_get(s, uid, false);

	s->orphans--;
	if (u && u->orphans) {
		u->orphans--;
		server_user_trim(s, uid, u);
	}
}

/* Orphaned calls of uid. */
size_t server_orphans_of(const struct server *s, uid_t uid)
{
	const struct server_user *u = map_get(&s->users, (uint64_t)uid, 0);

	return u ? u->orphans : 0;
}

/* Orphaned calls of every uid. */
size_t server_orphan_count(const struct server *s)
{
	return s->orphans;
}
