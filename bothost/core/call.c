/* SPDX-License-Identifier: ISC */
/* Calls being served, and the host's invocations waiting for clients. */
#include "config.h"

#include "call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "client.h"
#include "errors.h"
#include "later.h"
#include "server.h"
#include "value.h"

enum call_target {
	CALL_TARGET_CLIENT,	/* answered with a result or error frame */
	CALL_TARGET_CALLBACK,	/* answered through done */
};

struct call {
	enum call_target target;
	struct client *client;	/* CLIENT: NULL once the client went away */
	uint64_t id;		/* CLIENT: the request id, 0 for a notification */
	fn_done_cb done;	/* CALLBACK: NULL for a notification */
	void *userdata;
	struct value *args;
	struct list link;	/* CLIENT: in the client's call table */
	struct server *orphan_of;	/* CLIENT: counts it, since its client went away */
	uid_t orphan_uid;
	bool starting;
	/* An answer given while starting, delivered from the loop; the error
	 * strings are copies (NULL when the copy failed). */
	bool failed;
	struct value *result;
	char *err_name;
	char *err_message;
	struct value *err_data;
	struct later later;
};

/* A host invocation waiting for a client's answer. */
struct pending {
	struct client *client;
	uint64_t id;
	struct fn *fn;
	struct call *call;
	ev_timer timer;
};

static void call_deliver_cb(void *userdata);

/* Allocate a call of server s holding args (freed on failure). */
static struct call *call_alloc(struct server *s, enum call_target target, struct value *args)
{
	struct call *call = calloc(1, sizeof *call);

	if (!args)
		args = value_new(cJSON_CreateArray());
	if (!call || !args) {
		value_free(args);
		free(call);
		return NULL;
	}
	call->target = target;
	call->args = args;
	list_init(&call->link);
	later_init(&call->later, server_later(s), call_deliver_cb, call);
	return call;
}

/* A request of client c. */
struct call *call_new_client(struct client *c, uint64_t id, struct value *args)
{
	struct call *call = call_alloc(client_get_server(c), CALL_TARGET_CLIENT, args);
	struct call_table *t = client_calls(c);

	if (!call)
		return NULL;
	call->client = c;
	call->id = id;
	list_add_tail(&t->calls, &call->link);
	if (id)
		t->requests++;
	return call;
}

/* A host invocation answered through done. */
struct call *call_new_callback(struct server *s, struct value *args, fn_done_cb done, void *userdata)
{
	struct call *call = call_alloc(s, CALL_TARGET_CALLBACK, args);

	if (!call)
		return NULL;
	call->done = done;
	call->userdata = userdata;
	return call;
}

/* Unlink a client call from its client. */
static void call_detach(struct call *call)
{
	if (call->target == CALL_TARGET_CLIENT && call->client) {
		if (call->id)
			client_calls(call->client)->requests--;
		list_remove(&call->link);
		call->client = NULL;
	}
}

/* Free the call; its arguments go with it, releasing callback functions. */
static void call_free(struct call *call)
{
	call_detach(call);
	if (call->orphan_of)
		server_orphan_remove(call->orphan_of, call->orphan_uid);
	later_cancel(&call->later);
	value_free(call->args);
	value_free(call->result);
	value_free(call->err_data);
	free(call->err_name);
	free(call->err_message);
	free(call);
}

/* Free a call nobody was promised an answer for. */
void call_discard(struct call *call)
{
	call_free(call);
}

/* The calling client, if it is still there. */
struct client *call_get_client(const struct call *call)
{
	return call->target == CALL_TARGET_CLIENT ? call->client : NULL;
}

/* The argument array. */
const struct value *call_get_args(const struct call *call)
{
	return call->args;
}

/* Argument i, or NULL. */
const cJSON *call_get_arg(const struct call *call, unsigned i)
{
	return cJSON_GetArrayItem(value_json(call->args), (int)i);
}

/* The number of arguments. */
unsigned call_arg_count(const struct call *call)
{
	return (unsigned)cJSON_GetArraySize(value_json(call->args));
}

/* The function argument i stands for. */
struct fn *call_get_fn_arg(const struct call *call, unsigned i)
{
	return value_get_fn(call->args, call_get_arg(call, i));
}

/* True when someone waits for the answer. */
bool call_wants_answer(const struct call *call)
{
	if (call->target == CALL_TARGET_CLIENT)
		return call->client && call->id;
	return call->done != NULL;
}

/* Mark the call as starting: answers are queued until it is not. */
void call_set_starting(struct call *call, bool starting)
{
	call->starting = starting;
}

/* Deliver an answer that was given while the call was starting. */
static void call_deliver_cb(void *userdata)
{
	struct call *call = userdata;
	struct value *result = call->result;

	if (call->failed) {
		struct fn_error err = { call->err_name ? call->err_name : ERR_FAILED,
					call->err_message ? call->err_message : "out of memory", call->err_data };
		call->done(NULL, &err, call->userdata);
	} else {
		call->result = NULL;
		call->done(result, NULL, call->userdata);
	}
	call_free(call);
}

/* Send a client's call its result: node, a node of v (which stays the caller's). */
static void call_send_result(struct call *call, const struct value *v, const cJSON *node)
{
	if (!call->client || !call->id)
		return;
	int r = client_send_result_node(call->client, call->id, v, node);
	if (r < 0)
		client_send_error(call->client, call->id,
				  r == -ENOBUFS || r == -E2BIG || r == -ETOOMANYREFS ? ERR_LIMIT_EXCEEDED : ERR_FAILED,
				  r == -ENOBUFS ? "the result holds more functions than tokens_max allows"
				  : r == -ETOOMANYREFS ? "the result carries more descriptors than fds_per_frame or "
							 "fds_max allows"
				  : r == -E2BIG ? "the result nests deeper than a frame may (1000 levels)"
						: "the result could not be encoded", NULL);
}

/* Answer with a result (taken). */
void call_return(struct call *call, struct value *result)
{
	if (call->target == CALL_TARGET_CLIENT) {
		call_send_result(call, result, result ? value_json(result) : NULL);
		value_free(result);
		call_free(call);
		return;
	}
	if (!call->done) {
		value_free(result);
		call_free(call);
		return;
	}
	if (!result)
		result = value_new(NULL);
	if (call->starting) {
		call->result = result;
		later_schedule(&call->later);
		return;
	}
	call->done(result, NULL, call->userdata);
	call_free(call);
}

/* Answer with argument i; a client's call gets it encoded straight from the
 * arguments, without a copy. */
void call_return_arg(struct call *call, unsigned i)
{
	const cJSON *arg = call_get_arg(call, i);

	if (call->target == CALL_TARGET_CLIENT) {
		call_send_result(call, call->args, arg);
		call_free(call);
		return;
	}
	struct value *v = value_extract(call->args, arg);
	if (!v)
		call_fail(call, ERR_FAILED, "out of memory");
	else
		call_return(call, v);
}

/* Answer with a JSON result (taken) that holds no functions. */
void call_return_json(struct call *call, cJSON *json)
{
	call_return(call, value_new(json));
}

/* Answer with an error (copied). */
void call_fail_error(struct call *call, const struct fn_error *err)
{
	if (call->target == CALL_TARGET_CLIENT) {
		if (call->client && call->id)
			client_send_error(call->client, call->id, err->name, err->message, err->data);
		call_free(call);
		return;
	}
	if (!call->done) {
		call_free(call);
		return;
	}
	if (call->starting) {
		call->failed = true;
		call->err_name = strdup(err->name);
		call->err_message = strdup(err->message ? err->message : "");
		call->err_data = err->data ? value_dup(err->data) : NULL;
		later_schedule(&call->later);
		return;
	}
	call->done(NULL, err, call->userdata);
	call_free(call);
}

/* Answer with an error named name and a formatted message. */
void call_fail(struct call *call, const char *name, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	struct fn_error err = { name, message, NULL };
	call_fail_error(call, &err);
}

/* An empty table. */
void call_table_init(struct call_table *t)
{
	list_init(&t->calls);
	t->requests = 0;
	t->pending = (struct map)MAP_INIT;
	t->last_id = 0;
}

/* Free the map of a table that call_table_lost emptied. */
void call_table_free(struct call_table *t)
{
	map_free(&t->pending);
}

/* The client's requests waiting for an answer. */
size_t call_table_pending_in(const struct call_table *t)
{
	return t->requests;
}

/* The host's invocations waiting for the client. */
size_t call_table_pending_out(const struct call_table *t)
{
	return map_count(&t->pending);
}

/* Stop the deadline and answer the waiting call. */
static void call_pending_finish(struct pending *p, struct value *result, const struct fn_error *err)
{
	struct call *call = p->call;

	ev_timer_stop(EV_DEFAULT, &p->timer);
	fn_unref(p->fn);
	free(p);
	if (err) {
		value_free(result);
		call_fail_error(call, err);
	} else {
		call_return(call, result);
	}
}

/* The client did not answer in time. */
static void call_pending_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pending *p = w->data;
	char message[128];

	map_remove(&client_calls(p->client)->pending, p->id, 0);
	snprintf(message, sizeof message, "no answer within %u ms", client_config(p->client)->call_timeout_ms);
	struct fn_error err = { ERR_TIMEOUT, message, NULL };
	call_pending_finish(p, NULL, &err);
}

/* Wait for c's answer to an invoke of fn, with a deadline. */
int call_pending_add(struct client *c, struct fn *fn, struct call *call, uint64_t *ret_id)
{
	struct call_table *t = client_calls(c);
	unsigned ms = client_config(c)->call_timeout_ms;
	struct pending *p;

	if (map_count(&t->pending) >= client_config(c)->pending_max)
		return -ENOBUFS;
	if (!(p = calloc(1, sizeof *p)))
		return -ENOMEM;
	p->client = c;
	p->id = ++t->last_id;
	p->call = call;
	if (map_put(&t->pending, p->id, 0, p) < 0) {
		free(p);
		return -ENOMEM;
	}
	p->fn = fn_ref(fn);
	ev_timer_init(&p->timer, call_pending_timeout_cb, ms / 1000.0, 0.);
	p->timer.data = p;
	if (ms)
		ev_timer_start(EV_DEFAULT, &p->timer);
	*ret_id = p->id;
	return 0;
}

/* The client answered request id. */
void call_pending_answer(struct client *c, uint64_t id, struct value *result, const struct fn_error *err)
{
	struct pending *p = map_remove(&client_calls(c)->pending, id, 0);

	if (!p) {
		value_free(result);
		return;
	}
	call_pending_finish(p, result, err);
}

/* The client is gone: detach its calls, fail what waits for it. */
void call_table_lost(struct client *c)
{
	struct call_table *t = client_calls(c);
	struct map pending = t->pending;
	struct fn_error err = { ERR_DISCONNECTED, "the client went away before answering", NULL };
	struct pending *p;
	size_t iter = 0;

	/* They run on without it: counted as its uid's orphans until they end. */
	while (!list_empty(&t->calls)) {
		struct call *call = list_entry(t->calls.next, struct call, link);
		call_detach(call);
		call->orphan_of = client_get_server(c);
		call->orphan_uid = client_get_uid(c);
		server_orphan_add(call->orphan_of, call->orphan_uid);
	}
	t->pending = (struct map)MAP_INIT;
	while ((p = map_next(&pending, &iter)))
		call_pending_finish(p, NULL, &err);
	map_free(&pending);
}
