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
#include "log.h"

#define SERVER_ACCEPT_BACKOFF_SECONDS 1.0

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

struct server {
	struct server_config cfg;
	struct listener listeners[SERVER_LISTENERS_MAX];
	size_t nlisteners;
	ev_timer accept_backoff;
	struct list clients;
	size_t nclients;
	uint64_t last_client_id;
	struct list lingering;
	server_client_hook hook;
	void *hook_userdata;
	bool exit_when_idle;
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
	cfg->call_timeout_ms = 30000;
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents);
static void server_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* A server with no socket yet. */
struct server *server_new(const struct server_config *cfg)
{
	struct server *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
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

/* Create the socket's directory (0700) if it does not exist. */
static int server_make_dir(const char *path)
{
	char *dir = strdup(path);
	char *slash;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			r = -errno;
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

/* Bind and listen on path with mode 0600. */
static int server_bind(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
		r = -errno;
	umask(old);
	if (r == 0 && chmod(sa->sun_path, 0600) < 0)
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
	if ((r = server_make_dir(path)) < 0 || (r = server_clear_stale(&sa)) < 0)
		return r;
	fd = server_bind(&sa);
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

/* Serve a connected socket handed to the host; the socket is closed on failure. */
int server_adopt_client(struct server *s, int fd, struct client **ret)
{
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
	if (ret)
		*ret = c;
	return 0;
}

/* Serve a connected socket handed to the host. */
int server_adopt_fd(struct server *s, int fd)
{
	return server_adopt_client(s, fd, NULL);
}

/* Stop the loop when the last client leaves and nothing listens. */
void server_set_exit_when_idle(struct server *s, bool on)
{
	s->exit_when_idle = on;
}

/* Accept every waiting connection; back off when out of descriptors. */
static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct server *s = l->server;
	struct client *c;
	char message[96];

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
		if (s->nclients >= s->cfg.clients_max) {
			snprintf(message, sizeof message, "the host serves at most %zu clients", s->cfg.clients_max);
			client_refuse(s, fd, ERR_LIMIT_EXCEEDED, message);
			continue;
		}
		c = client_new(s, fd);
		if (c && !l->trusted)
			client_set_privileged(c, false);
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
