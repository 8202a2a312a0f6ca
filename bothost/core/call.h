/* SPDX-License-Identifier: ISC */
/* Calls being served and the host's own pending invocations.
 *
 * A struct call is one request the host is answering: a client's `call` or
 * `invoke` (answered with a result or error frame), or the host's own
 * invocation of a function (answered through a fn_done_cb). Whoever runs it
 * (an object method, a native function) answers it exactly once with
 * call_return or call_fail, now or later; answering frees it. If the client
 * went away meanwhile, the answer is dropped silently.
 *
 * A struct call_table (embedded in each client) lists the client's calls
 * still running and the host's invocations waiting for that client's answer,
 * each with a deadline. */
#ifndef BOTHOST_CALL_H
#define BOTHOST_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fn.h"
#include "list.h"
#include "wire/map.h"

struct call;
struct client;
struct server;
struct value;

struct call_table {
	struct list calls;	/* struct call, the client's requests being served */
	size_t requests;	/* those of them that wait for an answer */
	struct map pending;	/* (id, 0) -> host invocation awaiting the client */
	uint64_t last_id;
};

/* A request from c with id (0 for a notification); args taken. */
struct call *call_new_client(struct client *c, uint64_t id, struct value *args);
/* A host invocation on server s answered through done (NULL: a
 * notification); args taken. */
struct call *call_new_callback(struct server *s, struct value *args, fn_done_cb done, void *userdata);

/* The calling client, or NULL (host invocation, or the client went away). */
struct client *call_get_client(const struct call *call);
const struct value *call_get_args(const struct call *call);
/* Argument i (NULL past the end) and the number of arguments. */
const cJSON *call_get_arg(const struct call *call, unsigned i);
unsigned call_arg_count(const struct call *call);
/* The function argument i stands for (borrowed), or NULL. */
struct fn *call_get_fn_arg(const struct call *call, unsigned i);
/* True when someone waits for the answer. */
bool call_wants_answer(const struct call *call);

/* Answer: result taken (NULL means null). */
void call_return(struct call *call, struct value *result);
void call_return_json(struct call *call, cJSON *json);
/* Answer with argument i (past the end: null), functions included. */
void call_return_arg(struct call *call, unsigned i);
void call_fail(struct call *call, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void call_fail_error(struct call *call, const struct fn_error *err);

/* Free a call without answering (its starter failed before promising anything). */
void call_discard(struct call *call);
/* While a call is starting, answers are queued and delivered from the loop. */
void call_set_starting(struct call *call, bool starting);

void call_table_init(struct call_table *t);
/* Free what the table holds (after call_table_lost). */
void call_table_free(struct call_table *t);
size_t call_table_pending_in(const struct call_table *t);
size_t call_table_pending_out(const struct call_table *t);

/* Record that call waits for c's answer to an invoke of fn; returns the
 * request id to send. 0, -ENOBUFS (c has pending_max invocations awaiting
 * its answer already) or -ENOMEM. */
int call_pending_add(struct client *c, struct fn *fn, struct call *call, uint64_t *ret_id);
/* The client answered request id: result taken, or err. Ignored (result
 * freed) when id is not pending. */
void call_pending_answer(struct client *c, uint64_t id, struct value *result, const struct fn_error *err);
/* c is gone: its calls are detached, the host's invocations fail with Disconnected. */
void call_table_lost(struct client *c);

#endif
