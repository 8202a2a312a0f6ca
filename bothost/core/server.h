/* SPDX-License-Identifier: ISC */
/* The listening socket, adopted connections, the client registry and limits.
 * A server owns what its clients share: the hosted objects (server_objects)
 * and the statistics; it runs its deferred work on the later queue attached
 * to the default loop (later_queue_of). */
#ifndef BOTHOST_SERVER_H
#define BOTHOST_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "list.h"

struct client;
struct later_queue;
struct objects;

struct server_config {
	size_t frame_max;
	size_t output_max;
	size_t tokens_max;
	size_t handlers_max;
	size_t pending_max;
	size_t clients_max;
	size_t clients_per_user;	/* of one uid other than the host's (at most clients_max counts) */
	unsigned call_timeout_ms;
	unsigned hello_timeout_ms;	/* a connection that sends no hello within it is closed */
	size_t output_total_max;	/* bytes queued to all clients together */
	size_t output_user_max;		/* bytes queued to the clients of one uid */
	size_t fds_per_frame;		/* descriptors one frame may carry ("fd" extension) */
	size_t fds_max;			/* descriptors queued per client, each way (at most 253) */
};

/* The defaults of PROTOCOL.md section 9. */
void server_config_init(struct server_config *cfg);

struct server;

/* A server on the default loop, which must have a later queue
 * (later_queue_new); NULL on allocation failure or without one. */
struct server *server_new(const struct server_config *cfg);
/* Drop every client, stop listening and remove the socket file, run the
 * deferred work, free the objects. Functions created for s (fn_new_native)
 * must all be dropped by then. */
void server_free(struct server *s);

/* The deferred-work queue the server's clients, calls and functions use. */
struct later_queue *server_later(const struct server *s);
/* The hosted objects (owned by the server). */
struct objects *server_objects(const struct server *s);
/* Count a function object of the server created or freed (fn.c does), and
 * how many are live: host.stats "functions". */
void server_fn_add(struct server *s);
void server_fn_remove(struct server *s);
uint64_t server_fn_count(const struct server *s);

/* The default socket path (allocated): $XDG_RUNTIME_DIR/bothost/bothost.sock,
 * else /run/bothost/bothost.sock. */
char *server_default_path(void);
/* Listen on path: creates the directory 0700 if missing, the socket 0600
 * (with allowed users: 0711 and 0666, see server_set_allowed); an existing
 * directory must be a directory owned by the host's euid and not writable by
 * group or others, else -EPERM (the reason is logged). Replaces a stale
 * socket file, -EADDRINUSE if a host answers there. Peers that are not
 * allowed, or over clients_per_user, are refused with an error frame. On a
 * trusted socket a client is privileged when its uid is root or the host's
 * own, unless it descends from the host: then only when the child policy
 * (server_set_child_policy) says so of the host's child it descends from. On an untrusted one
 * no client ever is. At most two. */
int server_listen(struct server *s, const char *path, bool trusted);
/* The path of the untrusted socket that accompanies the socket at path
 * (allocated): "PATH.behaviours". */
char *server_behaviours_path(const char *path);
/* Serve an already connected socket (taken: closed on failure). Its peer is
 * checked as on a listening socket (-EPERM: refused with an error frame);
 * its uid decides its privilege. 0 or -errno. */
int server_adopt_fd(struct server *s, int fd);
/* The same without the peer check, for a socket the host made itself (the
 * other end is a process the host started): its client is privileged
 * exactly when trusted, as if that process had connected to a trusted or an
 * untrusted socket. Answers the client that serves it. */
int server_adopt_client(struct server *s, int fd, bool trusted, struct client **ret);

/* Whether a process the host started (its child, pid) may have the
 * privileged methods; asked for a peer on a trusted socket that descends
 * from the host through that child (a behaviour and anything it started). */
typedef bool (*server_child_policy)(pid_t child, void *userdata);
/* Without a policy no descendant of the host is privileged. */
void server_set_child_policy(struct server *s, server_child_policy fn, void *userdata);
/* Stop the loop once no client is left (for a host serving only adopted sockets). */
void server_set_exit_when_idle(struct server *s, bool on);

const struct server_config *server_get_config(const struct server *s);
/* Replace the limits (a configuration reload). Connections made afterwards
 * are told the new ones in welcome; connected clients keep their frame_max
 * and are held to the other limits, which are read as they go, from now on. */
void server_set_config(struct server *s, const struct server_config *cfg);
/* Who may connect besides root and the host's euid: the uids listed, and
 * peers whose primary group (SO_PEERCRED) or a supplementary one
 * (SO_PEERGROUPS) is listed (copied). Others are refused with
 * PermissionDenied. While either list has an entry the sockets are 0666
 * and their directories searchable by group and others (the peer check
 * filters); without, the sockets are 0600. Applies to new connections; the
 * modes change at once. 0 or -ENOMEM. */
int server_set_allowed(struct server *s, const uid_t *uids, size_t nuids, const gid_t *gids, size_t ngids);

/* Registry: ids are assigned in order and never reused. */
uint64_t server_client_add(struct server *s, struct client *c);
void server_client_remove(struct server *s, struct client *c);
size_t server_client_count(const struct server *s);
/* The list of registered clients (linked through client_link). */
const struct list *server_clients(const struct server *s);

/* The output budget (output_total_max, output_user_max): a client's queue
 * went from was to now bytes; charged to the total and to uid. Only clients
 * not closing are charged: what a closing one still writes is on its way out. */
void server_output_charge(struct server *s, uid_t uid, size_t was, size_t now);
/* Bytes queued to the clients not closing, and to those of uid. */
size_t server_output_total(const struct server *s);
size_t server_output_of(const struct server *s, uid_t uid);
/* Keep the budget: while the total or uid's share is over it, cut off the
 * client with the largest queue (of uid, or of all) with a LimitExceeded
 * connection error. */
void server_output_enforce(struct server *s, uid_t uid);
/* Whether a new request of c may be taken on: false while the total or c's
 * uid is over half its budget and c's own queue is over its fair share. */
bool server_output_admits(const struct server *s, const struct client *c);

/* Calls a client of uid left running when it went away (orphans): counted
 * against pending_max of that uid's clients and shown by host.stats. */
void server_orphan_add(struct server *s, uid_t uid);
void server_orphan_remove(struct server *s, uid_t uid);
size_t server_orphans_of(const struct server *s, uid_t uid);
size_t server_orphan_count(const struct server *s);

/* Connections that are flushing a last error before closing (linked through client_link). */
struct list *server_lingering(struct server *s);

/* Called when a client finished its handshake (connected) or went away. */
typedef void (*server_client_hook)(struct client *c, bool connected, void *userdata);
void server_set_client_hook(struct server *s, server_client_hook hook, void *userdata);
void server_client_event(struct server *s, struct client *c, bool connected);

#endif
