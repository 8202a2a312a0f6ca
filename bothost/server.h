/* The listening socket, adopted connections, the client registry and limits. */
#ifndef BOTHOST_SERVER_H
#define BOTHOST_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"

struct client;

struct server_config {
	size_t frame_max;
	size_t output_max;
	size_t tokens_max;
	size_t handlers_max;
	size_t pending_max;
	size_t clients_max;
	unsigned call_timeout_ms;
};

/* The defaults of PROTOCOL.md section 9. */
void server_config_init(struct server_config *cfg);

struct server;

/* A server on the default loop; NULL on allocation failure. */
struct server *server_new(const struct server_config *cfg);
/* Drop every client, stop listening and remove the socket file. */
void server_free(struct server *s);

/* The default socket path (allocated): $XDG_RUNTIME_DIR/bothost/bothost.sock,
 * else /run/bothost/bothost.sock. */
char *server_default_path(void);
/* Listen on path: creates the directory 0700 if missing, the socket 0600;
 * replaces a stale socket file, -EADDRINUSE if a host answers there. On a
 * trusted socket a client's uid decides whether it is privileged (root or the
 * host's own uid); on an untrusted one no client ever is. At most two. */
int server_listen(struct server *s, const char *path, bool trusted);
/* The path of the untrusted socket that accompanies the socket at path
 * (allocated): "PATH.behaviours". */
char *server_behaviours_path(const char *path);
/* Serve an already connected socket (taken: closed on failure). 0 or -errno. */
int server_adopt_fd(struct server *s, int fd);
/* The same, answering the client that serves it. */
int server_adopt_client(struct server *s, int fd, struct client **ret);
/* Stop the loop once no client is left (for a host serving only adopted sockets). */
void server_set_exit_when_idle(struct server *s, bool on);

const struct server_config *server_get_config(const struct server *s);
/* Replace the limits (a configuration reload). Connections made afterwards
 * are told the new ones in welcome; connected clients keep their frame_max
 * and are held to the other limits, which are read as they go, from now on. */
void server_set_config(struct server *s, const struct server_config *cfg);
/* Registry: ids are assigned in order and never reused. */
uint64_t server_client_add(struct server *s, struct client *c);
void server_client_remove(struct server *s, struct client *c);
size_t server_client_count(const struct server *s);
/* The list of registered clients (linked through client_link). */
const struct list *server_clients(const struct server *s);

/* Connections that are flushing a last error before closing (linked through client_link). */
struct list *server_lingering(struct server *s);

/* Called when a client finished its handshake (connected) or went away. */
typedef void (*server_client_hook)(struct client *c, bool connected, void *userdata);
void server_set_client_hook(struct server *s, server_client_hook hook, void *userdata);
void server_client_event(struct server *s, struct client *c, bool connected);

#endif
