/* SPDX-License-Identifier: ISC */
/* Host function objects: native C functions and functions of clients. */
#include "config.h"

#include "fn.h"

#include <errno.h>
#include <stdlib.h>

#include "call.h"
#include "client.h"
#include "errors.h"
#include "later.h"
#include "log.h"
#include "server.h"
#include "value.h"

enum fn_type {
	FN_NATIVE,
	FN_REMOTE,
};

struct fn {
	unsigned refs;
	enum fn_type type;
	struct server *server;	/* counts it; its queue runs native invocations */
	union {
		struct {
			fn_native_cb cb;
			void *userdata;
			void (*destroy)(void *);
		} native;
		struct {
			struct client *client;	/* NULL once the client is gone */
			uint64_t id;
			uint64_t received;
		} remote;
	} u;
};

/* A native invocation waiting to run from the loop. */
struct fn_deferred {
	struct fn *fn;
	struct call *call;
};

/* Allocate a function of server s with one reference. */
static struct fn *fn_alloc(struct server *s, enum fn_type type)
{
	struct fn *fn = calloc(1, sizeof *fn);

	if (!fn)
		return NULL;
	fn->refs = 1;
	fn->type = type;
	fn->server = s;
	server_fn_add(s);
	return fn;
}

/* A function implemented by cb in the host. */
struct fn *fn_new_native(struct server *s, fn_native_cb cb, void *userdata, void (*destroy)(void *))
{
	struct fn *fn = fn_alloc(s, FN_NATIVE);

	if (!fn)
		return NULL;
	fn->u.native.cb = cb;
	fn->u.native.userdata = userdata;
	fn->u.native.destroy = destroy;
	return fn;
}

/* A function client c exported with token id, received once. */
struct fn *fn_new_remote(struct client *c, uint64_t id)
{
	struct fn *fn = fn_alloc(client_get_server(c), FN_REMOTE);

	if (!fn)
		return NULL;
	fn->u.remote.client = c;
	fn->u.remote.id = id;
	fn->u.remote.received = 1;
	return fn;
}

/* Take a reference. */
struct fn *fn_ref(struct fn *fn)
{
	if (fn)
		fn->refs++;
	return fn;
}

/* Drop a reference; the last one releases the function to its client or runs
 * the native destructor. */
struct fn *fn_unref(struct fn *fn)
{
	if (!fn || --fn->refs > 0)
		return NULL;
	if (fn->type == FN_REMOTE && fn->u.remote.client)
		client_drop_import(fn->u.remote.client, fn->u.remote.id, fn->u.remote.received);
	else if (fn->type == FN_NATIVE && fn->u.native.destroy)
		fn->u.native.destroy(fn->u.native.userdata);
	server_fn_remove(fn->server);
	free(fn);
	return NULL;
}

/* True for a function a client exported. */
bool fn_is_remote(const struct fn *fn)
{
	return fn->type == FN_REMOTE;
}

/* The client of a live REMOTE function. */
struct client *fn_get_client(const struct fn *fn)
{
	return fn->type == FN_REMOTE ? fn->u.remote.client : NULL;
}

/* The token id under which the client exported the function. */
uint64_t fn_get_remote_id(const struct fn *fn)
{
	return fn->type == FN_REMOTE ? fn->u.remote.id : 0;
}

/* Count a receipt of the token. */
void fn_remote_received(struct fn *fn)
{
	if (fn->type == FN_REMOTE)
		fn->u.remote.received++;
}

/* The owning client is gone. */
void fn_remote_lost(struct fn *fn)
{
	if (fn->type == FN_REMOTE)
		fn->u.remote.client = NULL;
}

/* Send an invoke for call to the client that exported fn. */
static void fn_call_remote(struct fn *fn, struct call *call)
{
	struct client *c = fn->u.remote.client;
	uint64_t id = 0;
	int r;

	if (!c || !client_is_open(c)) {
		call_fail(call, ERR_DISCONNECTED, "the client that exported this function is gone");
		return;
	}
	if (call_wants_answer(call) && (r = call_pending_add(c, fn, call, &id)) < 0) {
		if (r == -ENOBUFS)
			call_fail(call, ERR_LIMIT_EXCEEDED, "the client has %zu invocations awaiting its answer "
				  "already (pending_max)", client_config(c)->pending_max);
		else
			call_fail(call, ERR_FAILED, "out of memory");
		return;
	}
	r = client_send_invoke(c, fn->u.remote.id, id, call_get_args(call));
	if (r < 0) {
		struct fn_error err = { ERR_LIMIT_EXCEEDED, "the arguments hold more functions than the client's tokens_max", NULL };
		if (r == -ETOOMANYREFS)
			err = (struct fn_error){ ERR_LIMIT_EXCEEDED, "the arguments carry more descriptors than the "
						 "client's fds_per_frame or fds_max", NULL };
		else if (r != -ENOBUFS)
			err = (struct fn_error){ ERR_FAILED, "out of memory", NULL };
		if (id)
			call_pending_answer(c, id, NULL, &err);
		else
			call_fail_error(call, &err);
		return;
	}
	if (!id)
		call_return(call, NULL);
}

/* Run fn for call: native code now, or an invoke to its client. */
void fn_call(struct fn *fn, struct call *call)
{
	switch (fn->type) {
	case FN_NATIVE:
		/* The native code may drop the last outside reference. */
		fn_ref(fn);
		fn->u.native.cb(fn, call, fn->u.native.userdata);
		fn_unref(fn);
		break;
	case FN_REMOTE:
		fn_call_remote(fn, call);
		break;
	}
}

/* Run a deferred native invocation. */
static void fn_deferred_run(void *userdata)
{
	struct fn_deferred *d = userdata;

	fn_call(d->fn, d->call);
	fn_unref(d->fn);
	free(d);
}

/* Native code runs from the loop, so that no caller sees it run under its feet. */
static int fn_invoke_native(struct fn *fn, struct call *call)
{
	struct fn_deferred *d = malloc(sizeof *d);

	if (!d)
		return -ENOMEM;
	d->fn = fn_ref(fn);
	d->call = call;
	if (later_add(server_later(fn->server), fn_deferred_run, d) < 0) {
		fn_unref(fn);
		free(d);
		return -ENOMEM;
	}
	return 0;
}

/* Call fn with args; done (if any) runs later exactly once. */
int fn_invoke(struct fn *fn, struct value *args, fn_done_cb done, void *userdata)
{
	struct call *call = call_new_callback(fn->server, args, done, userdata);
	int r = 0;

	if (!call)
		return -ENOMEM;
	if (fn->type == FN_NATIVE) {
		r = fn_invoke_native(fn, call);
		if (r < 0) {
			/* Nobody has been promised anything yet: drop it silently. */
			call_discard(call);
		}
		return r;
	}
	call_set_starting(call, true);
	fn_call_remote(fn, call);
	if (done)
		call_set_starting(call, false);
	return 0;
}

/* Notify fn with args (borrowed): 0 once it is queued; a client's
 * notification that cannot be cut the client off (client_send_invoke). */
int fn_notify(struct fn *fn, const struct value *args)
{
	struct client *c = fn_get_client(fn);
	struct value *copy;

	if (c) {
		int r = client_send_invoke(c, fn->u.remote.id, 0, args);
		return r < 0 ? r : client_is_open(c) ? 0 : -ENOTCONN;
	}
	if (fn->type != FN_NATIVE)
		return -ENOTCONN;
	copy = value_dup(args);
	return copy ? fn_invoke(fn, copy, NULL, NULL) : -ENOMEM;
}
