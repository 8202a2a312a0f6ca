/* SPDX-License-Identifier: ISC */
/* One connected client: socket, framing, handshake, dispatch, output, limits
 * and the unwinding of everything it held when it goes away. */
#ifndef BOTHOST_CLIENT_H
#define BOTHOST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "list.h"

struct client;
struct server;
struct server_config;
struct value;
struct tokens;
struct call_table;

/* A client on a connected, non-blocking socket (taken); NULL on failure
 * (the socket is closed then). */
struct client *client_new(struct server *s, int fd);
/* Answer a connection the host will not serve with a connection error, then
 * close it once the error is flushed. */
void client_refuse(struct server *s, int fd, const char *name, const char *message);

/* The server that serves c. */
struct server *client_get_server(const struct client *c);
uint64_t client_get_id(const struct client *c);
const char *client_get_name(const struct client *c);
pid_t client_get_pid(const struct client *c);
uid_t client_get_uid(const struct client *c);
bool client_is_privileged(const struct client *c);
/* Grant or withdraw the privileged methods (by default: peer uid 0 or the
 * host's own uid). */
void client_set_privileged(struct client *c, bool privileged);
/* True once the handshake is done and until the client goes away. */
bool client_is_open(const struct client *c);
size_t client_queued_bytes(const struct client *c);
const struct server_config *client_config(const struct client *c);
/* The longest frame the client takes: the frame_max of its welcome, which a
 * reload does not change for it. */
size_t client_frame_max(const struct client *c);

/* What host.context() answers the client: v is taken (NULL: none) and
 * freed with the client. */
void client_set_context(struct client *c, struct value *v);
/* The client's context (borrowed), or NULL. */
const struct value *client_get_context(const struct client *c);

/* The client's state kept by other modules. */
struct tokens *client_tokens(struct client *c);
struct call_table *client_calls(struct client *c);
/* The client's event registrations (struct listener, linked by owner_link),
 * and their count, which emitter.c keeps as it links and unlinks them. */
struct list *client_listeners(struct client *c);
void client_listener_add(struct client *c);
void client_listener_remove(struct client *c);
size_t client_listener_count(const struct client *c);
/* Link in the server's client list. */
struct list *client_link(struct client *c);
struct client *client_from_link(struct list *l);

/* Outgoing messages; each returns 0 or -errno (nothing is sent on error;
 * -ENOBUFS means the client's tokens_max). A client that is going away
 * accepts and discards them. */
int client_send_result(struct client *c, uint64_t id, const struct value *v);
/* A result holding node, a node of v's tree (NULL: null), without copying it. */
int client_send_result_node(struct client *c, uint64_t id, const struct value *v, const cJSON *node);
int client_send_error(struct client *c, uint64_t id, const char *name, const char *message,
		      const struct value *data);
int client_send_invoke(struct client *c, uint64_t fn_id, uint64_t id, const struct value *args);
/* A notification whose arguments are already encoded wire JSON. */
int client_send_invoke_text(struct client *c, uint64_t fn_id, const char *args, size_t len);
/* Descriptors (the "fd" extension, PROTOCOL.md section 12; value.c uses
 * them): queue a duplicate of fd with the message being built, *ret_index
 * its {"$fd":N}: 0, -ETOOMANYREFS (fds_per_frame, fds_max) or -errno. */
int client_queue_fd(struct client *c, int fd, unsigned *ret_index);
/* How many are queued to send, and dropping those after the first len. */
size_t client_fds_queued(const struct client *c);
void client_fds_undo(struct client *c, size_t len);
/* A duplicate (the caller's) of descriptor n of the frame being handled, or
 * -EBADMSG when the frame carries no such descriptor. */
int client_frame_fd(struct client *c, size_t n);
/* The last holder of an imported function dropped it. */
void client_drop_import(struct client *c, uint64_t fn_id, uint64_t received);

/* Cut the client off from anywhere: it is unwound from the loop shortly. */
void client_kill(struct client *c, const char *why);
/* The same, telling it why: its queued output is dropped for a connection
 * error (name, message), flushed before the socket closes. */
void client_evict(struct client *c, const char *name, const char *message);
/* True once the client is cut off, closing or gone. */
bool client_is_closing(const struct client *c);
/* Close the connection with a Timeout connection error unless it says hello
 * within hello_timeout (for connections from outside; not for the sockets
 * of processes the host started). */
void client_start_hello_deadline(struct client *c);
/* Mark a client accepted on an untrusted socket (the server counts them). */
void client_set_untrusted_socket(struct client *c);
bool client_on_untrusted_socket(const struct client *c);
/* Unwind everything the client held (PROTOCOL.md section 10) now. Only from
 * the loop's top level: never while an object is iterating its state. */
void client_lost(struct client *c);

#endif
