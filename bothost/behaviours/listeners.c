/* SPDX-License-Identifier: ISC */
/* The listening sockets of [listen NAME] sections, kept across behaviours'
 * restarts and handed to their processes in host.context(). */
#include "config.h"

#include "listeners.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "behaviour.h"
#include "core/log.h"
#include "core/value.h"

/* The queue of connections waiting while no process accepts (the kernel
 * caps it at net.core.somaxconn). */
#define LISTENER_BACKLOG 4096

/* One open socket. */
struct listener {
	char *name;		/* its section's name */
	char *address;		/* as configured: what identifies it across reloads */
	char bound[INET6_ADDRSTRLEN + 16];	/* the address bound (port 0 resolved) */
	int fd;
	char *unix_path;	/* a Unix socket's file, removed when closed */
	bool fresh;		/* opened since the last commit */
	bool moved;		/* replaced a socket of the same name: its users restart */
};

/* The open sockets, in no particular order. */
static struct listener **listeners_v;
static size_t listeners_n;

/* A parsed address: TCP (sa_family AF_INET or AF_INET6) or Unix. */
union listener_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
};

/* Parse "unix:/path", "HOST:PORT" (IPv4, [IPv6], localhost). */
static int listener_parse(const char *address, union listener_sockaddr *ret, socklen_t *ret_len,
			  char *why, size_t size)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(address, ':');
	char *end;

	memset(ret, 0, sizeof *ret);
	if (strncmp(address, "unix:", 5) == 0) {
		const char *path = address + 5;
		if (path[0] != '/' || strlen(path) >= sizeof ret->un.sun_path) {
			snprintf(why, size, "a Unix socket needs an absolute path of at most %zu bytes",
				 sizeof ret->un.sun_path - 1);
			return -EINVAL;
		}
		ret->un.sun_family = AF_UNIX;
		memcpy(ret->un.sun_path, path, strlen(path) + 1);
		*ret_len = sizeof ret->un;
		return 0;
	}
	errno = 0;
	unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
	if (!colon || colon == address || !colon[1] || *end || errno || port > 65535 || colon[1] == '-' ||
	    colon[1] == '+' || (size_t)(colon - address) >= sizeof host) {
		snprintf(why, size, "expected HOST:PORT (a port from 0 to 65535) or unix:/path");
		return -EINVAL;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	size_t hn = strlen(host);
	if (host[0] == '[' && hn > 2 && host[hn - 1] == ']') {
		host[hn - 1] = '\0';
		ret->in6.sin6_family = AF_INET6;
		ret->in6.sin6_port = htons((uint16_t)port);
		*ret_len = sizeof ret->in6;
		if (inet_pton(AF_INET6, host + 1, &ret->in6.sin6_addr) == 1)
			return 0;
	} else {
		ret->in.sin_family = AF_INET;
		ret->in.sin_port = htons((uint16_t)port);
		*ret_len = sizeof ret->in;
		if (inet_pton(AF_INET, host, &ret->in.sin_addr) == 1)
			return 0;
	}
	snprintf(why, size, "the host must be an IPv4 address, an IPv6 one in brackets or localhost");
	return -EINVAL;
}

/* Whether address is one a [listen] section may have. */
int listener_address_check(const char *address, char *why, size_t size)
{
	union listener_sockaddr a;
	socklen_t len;

	return listener_parse(address, &a, &len, why, size);
}

/* Write the address fd is bound to (TCP) into l->bound. */
static void listener_bound(struct listener *l)
{
	union listener_sockaddr a;
	socklen_t len = sizeof a;
	char host[INET6_ADDRSTRLEN];

	if (l->unix_path || getsockname(l->fd, &a.sa, &len) < 0) {
		snprintf(l->bound, sizeof l->bound, "%s", l->address);
		return;
	}
	if (a.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a.in6.sin6_addr, host, sizeof host);
		snprintf(l->bound, sizeof l->bound, "[%s]:%u", host, ntohs(a.in6.sin6_port));
	} else {
		inet_ntop(AF_INET, &a.in.sin_addr, host, sizeof host);
		snprintf(l->bound, sizeof l->bound, "%s:%u", host, ntohs(a.in.sin_port));
	}
}

/* Remove a stale Unix socket file at path (never another kind of file). */
static void listener_unlink_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

/* Open, bind and listen on the socket of a section. -errno with why. */
static int listener_open(struct listener *l, char *why, size_t size)
{
	union listener_sockaddr a;
	socklen_t len;
	int one = 1, r;

	if ((r = listener_parse(l->address, &a, &len, why, size)) < 0)
		return r;
	if ((l->fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (a.sa.sa_family == AF_UNIX) {
		listener_unlink_stale(a.un.sun_path);
		if (!(l->unix_path = strdup(a.un.sun_path))) {
			errno = ENOMEM;
			goto fail;
		}
	} else if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		   (a.sa.sa_family == AF_INET6 && setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)) {
		goto fail;
	}
	if (bind(l->fd, &a.sa, len) < 0 || listen(l->fd, LISTENER_BACKLOG) < 0)
		goto fail;
	listener_bound(l);
	return 0;
fail:
	r = -errno;
	snprintf(why, size, "%s", strerror(errno));
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->unix_path);
	l->unix_path = NULL;
	return r;
}

/* Close a socket (removing a Unix socket's file) and free l. */
static void listener_free(struct listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->unix_path)
		unlink(l->unix_path);
	free(l->unix_path);
	free(l->name);
	free(l->address);
	free(l);
}

/* The open socket of address, or NULL. */
static struct listener *listeners_find_address(const char *address)
{
	for (size_t i = 0; i < listeners_n; i++)
		if (strcmp(listeners_v[i]->address, address) == 0)
			return listeners_v[i];
	return NULL;
}

/* The open socket named name, or NULL. */
static struct listener *listeners_find_name(const char *name)
{
	for (size_t i = 0; i < listeners_n; i++)
		if (strcmp(listeners_v[i]->name, name) == 0)
			return listeners_v[i];
	return NULL;
}

/* Open one section's socket and add it to the registry. */
static int listeners_add(const struct conf_listener *cl, char **ret_error)
{
	struct listener *l = calloc(1, sizeof *l), **v;
	char why[160] = "out of memory";
	int r = -ENOMEM;

	if (!l || !(l->name = strdup(cl->name)) || !(l->address = strdup(cl->address)) ||
	    !(v = realloc(listeners_v, (listeners_n + 1) * sizeof *v)))
		goto fail;
	listeners_v = v;
	l->fd = -1;
	if ((r = listener_open(l, why, sizeof why)) < 0)
		goto fail;
	l->fresh = true;
	listeners_v[listeners_n++] = l;
	log_info("listen %s: listening on %s", l->name, l->bound);
	return 0;
fail:
	if (asprintf(ret_error, "[listen %s] %s: %s", cl->name, cl->address, why) < 0)
		*ret_error = NULL;
	if (l)
		listener_free(l);
	return r;
}

/* Open what bc adds; on failure close what this call opened. */
int listeners_prepare(const struct behaviours_conf *bc, char **ret_error)
{
	size_t before = listeners_n;
	int r = 0;

	*ret_error = NULL;
	for (size_t i = 0; i < bc->n_listeners && r == 0; i++)
		if (!listeners_find_address(bc->listeners[i].address))
			r = listeners_add(&bc->listeners[i], ret_error);
	while (r < 0 && listeners_n > before)
		listener_free(listeners_v[--listeners_n]);
	return r;
}

/* Whether bc has a section with address. */
static bool listeners_in(const struct behaviours_conf *bc, const char *address)
{
	for (size_t j = 0; j < bc->n_listeners; j++)
		if (strcmp(bc->listeners[j].address, address) == 0)
			return true;
	return false;
}

/* Mark the fresh sockets named name as moved. */
static void listeners_mark_moved(const char *name)
{
	for (size_t i = 0; i < listeners_n; i++)
		if (listeners_v[i]->fresh && strcmp(listeners_v[i]->name, name) == 0)
			listeners_v[i]->moved = true;
}

/* Keep the sockets bc has, under bc's names; close the rest. */
void listeners_commit(const struct behaviours_conf *bc)
{
	size_t kept = 0;

	for (size_t i = 0; i < listeners_n; i++)
		if (!listeners_v[i]->fresh && !listeners_in(bc, listeners_v[i]->address))
			listeners_mark_moved(listeners_v[i]->name);
	for (size_t i = 0; i < listeners_n; i++) {
		struct listener *l = listeners_v[i];
		const struct conf_listener *cl = NULL;
		for (size_t j = 0; j < bc->n_listeners && !cl; j++)
			if (strcmp(bc->listeners[j].address, l->address) == 0)
				cl = &bc->listeners[j];
		char *name = cl && strcmp(cl->name, l->name) != 0 ? strdup(cl->name) : NULL;
		if (name) {
			free(l->name);
			l->name = name;
		}
		if (cl) {
			listeners_v[kept++] = l;
			continue;
		}
		log_info("listen %s: closing %s", l->name, l->bound);
		listener_free(l);
	}
	listeners_n = kept;
	for (size_t i = 0; i < listeners_n; i++)
		listeners_v[i]->fresh = false;
}

/* Whether b names a moved socket. */
static bool listeners_b_moved(const struct conf_behaviour *b)
{
	for (size_t i = 0; i < b->n_listen; i++) {
		const struct listener *l = listeners_find_name(b->listen[i]);
		if (l && l->moved)
			return true;
	}
	return false;
}

/* Restart the residents naming a moved socket. */
void listeners_restart_moved(void)
{
	for (struct behaviour *b = behaviours_next(NULL); b; b = behaviours_next(b)) {
		cJSON *pids = cJSON_CreateArray();
		if (behaviour_conf(b)->kind == CONF_BEHAVIOUR_RESIDENT && listeners_b_moved(behaviour_conf(b)) && pids)
			behaviour_restart(b, pids);
		cJSON_Delete(pids);
	}
	for (size_t i = 0; i < listeners_n; i++)
		listeners_v[i]->moved = false;
}

/* Close every socket. */
void listeners_free(void)
{
	while (listeners_n)
		listener_free(listeners_v[--listeners_n]);
	free(listeners_v);
	listeners_v = NULL;
}

/* Put a duplicate of each socket b names into context's "listeners". */
int listeners_add_context(struct value *context, const struct conf_behaviour *b)
{
	cJSON *root = value_root(context), *o;

	if (!b->n_listen)
		return 0;
	if (!(o = cJSON_GetObjectItemCaseSensitive(root, "listeners")) && !(o = cJSON_AddObjectToObject(root, "listeners")))
		return -ENOMEM;
	for (size_t i = 0; i < b->n_listen; i++) {
		const struct listener *l = listeners_find_name(b->listen[i]);
		int fd = l ? fcntl(l->fd, F_DUPFD_CLOEXEC, 3) : -1;
		cJSON *node;
		if (fd < 0) {
			log_error("%s %s: listener %s: %s; its process starts without it",
				  conf_behaviour_kind_name(b->kind), b->name, b->listen[i],
				  l ? strerror(errno) : "no such socket is open");
			continue;
		}
		if (!(node = value_add_fd(context, fd)))
			return -ENOMEM;
		cJSON_AddItemToObject(o, b->listen[i], node);
	}
	return 0;
}

/* The names of the behaviours whose section names listener name. */
static cJSON *listeners_users(const char *name)
{
	cJSON *a = cJSON_CreateArray();

	for (struct behaviour *b = behaviours_next(NULL); a && b; b = behaviours_next(b)) {
		const struct conf_behaviour *c = behaviour_conf(b);
		for (size_t i = 0; i < c->n_listen; i++)
			if (strcmp(c->listen[i], name) == 0)
				cJSON_AddItemToArray(a, cJSON_CreateString(c->name));
	}
	return a;
}

/* [{name, address, bound, fd, behaviours}] */
cJSON *listeners_describe(void)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < listeners_n; i++) {
		const struct listener *l = listeners_v[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "name", l->name) ||
		    !cJSON_AddStringToObject(o, "address", l->address) ||
		    !cJSON_AddStringToObject(o, "bound", l->bound) || !cJSON_AddNumberToObject(o, "fd", l->fd) ||
		    !cJSON_AddItemToObject(o, "behaviours", listeners_users(l->name))) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}
