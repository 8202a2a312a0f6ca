/* SPDX-License-Identifier: ISC */
/* Host function objects.
 *
 * A function the host can call is either NATIVE (C code in the host: a
 * callback, its userdata and a destructor) or REMOTE (a function a client
 * exported: the client and that client's token id). Both are refcounted; the
 * last unref of a REMOTE function tells its client at once (a release with
 * the receipt count). When its client goes away a REMOTE function is marked
 * dead, and calling it then fails with Disconnected. Every function belongs
 * to a server (a REMOTE one to its client's), which counts the live ones and
 * whose later queue runs native invocations. */
#ifndef BOTHOST_FN_H
#define BOTHOST_FN_H

#include <stdbool.h>
#include <stdint.h>

struct fn;
struct call;
struct client;
struct server;
struct value;

/* A failure: name and message; data may be NULL. All borrowed. */
struct fn_error {
	const char *name;
	const char *message;
	const struct value *data;
};

/* Completion of fn_invoke: either result (owned by the callee from now on;
 * never NULL on success) or err. */
typedef void (*fn_done_cb)(struct value *result, const struct fn_error *err, void *userdata);

/* The body of a NATIVE function: answer `call` now or later (call_return,
 * call_fail); its arguments are call_get_args(call). */
typedef void (*fn_native_cb)(struct fn *fn, struct call *call, void *userdata);

/* Both return a function with one reference, or NULL on allocation failure;
 * the server (s, or c's) must outlive it. */
struct fn *fn_new_native(struct server *s, fn_native_cb cb, void *userdata, void (*destroy)(void *));
struct fn *fn_new_remote(struct client *c, uint64_t id);

struct fn *fn_ref(struct fn *fn);
/* Always returns NULL. */
struct fn *fn_unref(struct fn *fn);

bool fn_is_remote(const struct fn *fn);
/* The client a REMOTE function belongs to, or NULL (native, or dead). */
struct client *fn_get_client(const struct fn *fn);
/* The client's token id of a REMOTE function. */
uint64_t fn_get_remote_id(const struct fn *fn);
/* Count one more receipt of a REMOTE function's token. */
void fn_remote_received(struct fn *fn);
/* Its client is gone: detach without telling anyone. */
void fn_remote_lost(struct fn *fn);

/* Call fn with args (taken). With done, the completion runs exactly once and
 * never before fn_invoke returns: result, error, Timeout or Disconnected.
 * Without done it is a notification. 0, or -ENOMEM (then done never runs). */
int fn_invoke(struct fn *fn, struct value *args, fn_done_cb done, void *userdata);
/* Notify fn with a copy of args (borrowed), sharing encoded text where
 * possible. 0 once queued; -errno when not (a client that cannot take it
 * is cut off with an error, PROTOCOL.md section 9: never a silent loss). */
int fn_notify(struct fn *fn, const struct value *args);
/* Run fn for an existing call; the call is answered by fn's outcome. */
void fn_call(struct fn *fn, struct call *call);

#endif
