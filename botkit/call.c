/* SPDX-License-Identifier: ISC */
/* Requests of this program: calls of host methods and invocations of host
 * functions, their deadlines, and their completion (exactly once). */
#include "botkit-internal.h"

#include <errno.h>
#include <stdlib.h>

/* Append p to a list. */
static void pending_list_append(struct pending_list *l, struct pending *p)
{
	p->next = NULL;
	p->prev = l->tail;
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
}

/* Take p out of a list. */
static void pending_list_remove(struct pending_list *l, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		l->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		l->tail = p->prev;
	p->prev = p->next = NULL;
}

/* Swap two heap entries, keeping their indexes. */
static void heap_swap(bk_conn *c, size_t i, size_t j)
{
	struct pending *t = c->heap[i];

	c->heap[i] = c->heap[j];
	c->heap[j] = t;
	c->heap[i]->heap_index = i;
	c->heap[j]->heap_index = j;
}

/* Restore the heap order around index i. */
static void heap_fix(bk_conn *c, size_t i)
{
	while (i > 0 && c->heap[(i - 1) / 2]->deadline > c->heap[i]->deadline) {
		heap_swap(c, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < c->heap_len && c->heap[l]->deadline < c->heap[m]->deadline)
			m = l;
		if (r < c->heap_len && c->heap[r]->deadline < c->heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(c, i, m);
		i = m;
	}
}

/* Make room for one more heap entry. */
static int heap_reserve(bk_conn *c)
{
	if (c->heap_len < c->heap_cap)
		return 0;
	size_t cap = c->heap_cap ? c->heap_cap * 2 : 16;
	struct pending **h = realloc(c->heap, cap * sizeof *h);
	if (!h)
		return -ENOMEM;
	c->heap = h;
	c->heap_cap = cap;
	return 0;
}

/* Add p to the heap if it has a deadline (room was reserved). */
static void heap_push(bk_conn *c, struct pending *p)
{
	if (p->deadline == BK_NO_DEADLINE)
		return;
	p->heap_index = c->heap_len;
	c->heap[c->heap_len++] = p;
	heap_fix(c, p->heap_index);
}

/* Take p out of the heap if it is there. */
static void heap_remove(bk_conn *c, struct pending *p)
{
	size_t i = p->heap_index;

	if (i == SIZE_MAX)
		return;
	p->heap_index = SIZE_MAX;
	if (i != --c->heap_len) {
		c->heap[i] = c->heap[c->heap_len];
		c->heap[i]->heap_index = i;
		heap_fix(c, i);
	}
}

/* A new request record with the next id. */
static struct pending *pending_new(bk_conn *c, const struct request *rq)
{
	struct pending *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->id = ++c->next_id;
	p->heap_index = SIZE_MAX;
	p->deadline = rq->timeout ? bki_run_now_usec() + rq->timeout : BK_NO_DEADLINE;
	p->reply = rq->reply;
	p->userdata = rq->userdata;
	p->sync = rq->sync;
	return p;
}

/* Take p out of every table; the caller completes it. */
static void pending_detach(bk_conn *c, struct pending *p)
{
	map_remove(&c->pending, p->id, 0);
	heap_remove(c, p);
	pending_list_remove(&c->pending_list, p);
}

/* Complete a request: store the answer of a blocking call, or run the reply.
 * Takes value (a decoded tree, may be NULL) and frees p. */
static void call_complete(bk_conn *c, struct pending *p, const bk_error *err, cJSON *value)
{
	cJSON null = { .type = cJSON_NULL };

	if (p->slot)
		bki_slot_answered(p->slot, err);
	if (p->sync) {
		p->sync->done = true;
		p->sync->r = err ? bk_error_errno(err) : 0;
		if (err)
			p->sync->error = bki_error_dup(err);
		else if (!(p->sync->result = value))
			p->sync->result = cJSON_CreateNull();
		if (!err)
			value = NULL;
	} else if (p->reply) {
		p->reply(c, err, err ? NULL : value ? value : &null, p->userdata);
	}
	bk_json_delete(value);
	free(p);
}

/* Append a string literal. */
#define CALL_PUT_LITERAL(b, s) buf_append((b), (s), sizeof(s) - 1)

/* Write a call or invoke message for request id (0: a notification). */
static int call_write(bk_conn *c, const struct request *rq, uint64_t id)
{
	struct buf *b = &c->out;
	int r;

	if (rq->kind == REQUEST_CALL) {
		r = CALL_PUT_LITERAL(b, "{\"t\":\"call\",\"id\":");
		if (r == 0)
			r = wire_write_u64(b, id);
		if (r == 0)
			r = CALL_PUT_LITERAL(b, ",\"obj\":");
		if (r == 0)
			r = wire_write_string(b, rq->obj);
		if (r == 0)
			r = CALL_PUT_LITERAL(b, ",\"method\":");
		if (r == 0)
			r = wire_write_string(b, rq->method);
		if (r == 0 && rq->wait_ms)
			r = buf_printf(b, ",\"wait\":%u", rq->wait_ms);
	} else if (id) {
		r = buf_printf(b, "{\"t\":\"invoke\",\"id\":%llu,\"fn\":%llu", (unsigned long long)id,
			       (unsigned long long)rq->fn->id);
	} else {
		r = buf_printf(b, "{\"t\":\"invoke\",\"fn\":%llu", (unsigned long long)rq->fn->id);
	}
	if (r == 0)
		r = CALL_PUT_LITERAL(b, ",\"args\":");
	if (r == 0)
		r = bki_json_write_args(c, b, rq->sig, rq->ap, rq->args);
	if (r == 0)
		r = buf_putc(b, '}');
	return r;
}

/* Send a notification: an invoke nobody answers. */
static int call_send_notify(bk_conn *c, const struct request *rq)
{
	size_t mark = bki_conn_msg_begin(c);
	int r = call_write(c, rq, 0);

	if (r == 0)
		r = bki_conn_msg_end(c, mark);
	if (r < 0) {
		bki_conn_msg_abort(c, mark);
		return r;
	}
	bki_conn_queued(c);
	return 0;
}

/* The connection failed and its loss is not reported yet: complete the
 * request with Disconnected from the loop. */
static int call_defer(bk_conn *c, const struct request *rq, struct pending **ret)
{
	struct pending *p = pending_new(c, rq);

	if (!p)
		return -ENOMEM;
	pending_list_append(&c->deferred, p);
	if (ret)
		*ret = p;
	return 0;
}

/* Check a request before anything is sent. */
static int call_check(bk_conn *c, const struct request *rq)
{
	if (rq->kind == REQUEST_CALL && (!rq->obj || !rq->method))
		return -EINVAL;
	if (rq->kind == REQUEST_INVOKE && (!rq->fn || rq->fn->conn != c))
		return rq->fn ? -ENOTCONN : -EINVAL;
	/* A connection whose loss was reported refuses; one that failed but was
	 * not reported yet takes requests and completes them with the rest. */
	if (c->freeing || c->state == CONN_LOST || (rq->notify && !conn_is_open(c)))
		return -ENOTCONN;
	return 0;
}

/* Start a request: send it and keep it until it completes (exactly once,
 * never before this returns). 0 or -errno (then nothing runs later). */
int bki_call_start(bk_conn *c, const struct request *rq, struct pending **ret)
{
	int r = call_check(c, rq);

	if (r < 0)
		return r;
	if (rq->notify)
		return call_send_notify(c, rq);
	if (!conn_is_open(c))
		return call_defer(c, rq, ret);
	struct pending *p = pending_new(c, rq);
	if (!p)
		return -ENOMEM;
	size_t mark = bki_conn_msg_begin(c);
	r = call_write(c, rq, p->id);
	if (r == 0)
		r = heap_reserve(c);
	if (r == 0 && (r = map_put(&c->pending, p->id, 0, p)) == 0 &&
	    (r = bki_conn_msg_end(c, mark)) < 0)
		map_remove(&c->pending, p->id, 0);
	if (r < 0) {
		bki_conn_msg_abort(c, mark);
		c->next_id--;	/* the id was never sent */
		free(p);
		return r;
	}
	heap_push(c, p);
	pending_list_append(&c->pending_list, p);
	if (ret)
		*ret = p;
	bki_conn_queued(c);
	return 0;
}

/* bki_call_start() with arguments given by signature and varargs. */
int bki_call_start_sig(bk_conn *c, struct request *rq, struct pending **ret, const char *sig, ...)
{
	va_list ap;

	va_start(ap, sig);
	rq->sig = sig;
	rq->ap = &ap;
	rq->args = NULL;
	int r = bki_call_start(c, rq, ret);
	rq->ap = NULL;
	va_end(ap);
	return r;
}

/* A blocking call starts: forget the previous one's error. */
void bki_call_sync_begin(bk_conn *c)
{
	c->last_error = bki_error_free(c->last_error);
}

/* Run the loop until a blocking request completes; keep its error as the
 * connection's last error. Returns the request's code. */
int bki_call_wait(bk_conn *c, struct sync_wait *st)
{
	bk_conn_ref(c);
	while (!st->done)
		bki_run_iterate(c, BK_NO_DEADLINE);
	bki_error_free(c->last_error);
	c->last_error = st->error;
	st->error = NULL;
	bk_conn_unref(c);
	return st->r;
}

/* Decode a received value in place; NULL stays NULL. */
static int call_decode(bk_conn *c, cJSON **v, bool dollar)
{
	if (!*v || !dollar)
		return 0;
	return wire_decode(v, bki_tokens_decode_cb, c);
}

/* A result for one of our requests. The value is decoded even when the
 * request is no longer pending, so its function receipts are counted (and
 * released again). */
void bki_call_dispatch_result(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar)
{
	cJSON *value = m->value ? cJSON_DetachItemViaPointer(root, m->value) : NULL;

	if (call_decode(c, &value, dollar) < 0) {
		bk_json_delete(value);
		bki_conn_protocol_error(c, "ProtocolError", "a result holds a malformed or unknown token");
		return;
	}
	struct pending *p = map_get(&c->pending, m->id, 0);
	if (!p) {
		bk_json_delete(value);
		return;
	}
	pending_detach(c, p);
	call_complete(c, p, NULL, value);
}

/* An error answering one of our requests. */
void bki_call_dispatch_error(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(m->error, "data");

	if (data)
		data = cJSON_DetachItemViaPointer(m->error, data);
	if (call_decode(c, &data, dollar) < 0) {
		bk_json_delete(data);
		bki_conn_protocol_error(c, "ProtocolError", "an error holds a malformed or unknown token");
		return;
	}
	struct pending *p = map_get(&c->pending, m->id, 0);
	if (!p) {
		bk_json_delete(data);
		return;
	}
	bk_error err = { (char *)m->error_name, (char *)m->error_message, data };
	pending_detach(c, p);
	call_complete(c, p, &err, NULL);
	bk_json_delete(data);
}

/* Complete every request whose deadline passed with Timeout. */
void bki_call_expire(bk_conn *c)
{
	if (c->heap_len == 0)
		return;
	uint64_t now = bki_run_now_usec();
	while (c->heap_len > 0 && c->heap[0]->deadline <= now) {
		struct pending *p = c->heap[0];
		pending_detach(c, p);
		call_complete(c, p, &bki_error_timeout, NULL);
	}
}

/* The connection is lost: complete every pending request with Disconnected,
 * in the order they started. */
void bki_call_fail_all(bk_conn *c)
{
	struct pending *p = c->pending_list.head;

	c->pending_list.head = c->pending_list.tail = NULL;
	map_free(&c->pending);
	c->heap_len = 0;
	while (p) {
		struct pending *next = p->next;
		p->heap_index = SIZE_MAX;
		call_complete(c, p, &bki_error_disconnected, NULL);
		p = next;
	}
}

/* Complete the requests started on a lost connection (those queued so far). */
void bki_call_run_deferred(bk_conn *c)
{
	struct pending *p = c->deferred.head;

	c->deferred.head = c->deferred.tail = NULL;
	while (p) {
		struct pending *next = p->next;
		call_complete(c, p, &bki_error_disconnected, NULL);
		p = next;
	}
}

/* The earliest deadline, or BK_NO_DEADLINE. */
uint64_t bki_call_next_deadline(const bk_conn *c)
{
	return c->heap_len > 0 ? c->heap[0]->deadline : BK_NO_DEADLINE;
}

/* Free what is left when the connection is freed (everything completed). */
void bki_call_free_all(bk_conn *c)
{
	bki_call_fail_all(c);
	bki_call_run_deferred(c);
}

/* Call obj.method(args...) asynchronously, arguments by signature. */
int bk_call(bk_conn *c, const char *obj, const char *method, bk_reply_fn reply, void *userdata,
	    const char *sig, ...)
{
	va_list ap;

	if (!c)
		return -EINVAL;
	va_start(ap, sig);
	struct request rq = { .kind = REQUEST_CALL, .obj = obj, .method = method,
			      .timeout = c->timeout, .reply = reply, .userdata = userdata,
			      .sig = sig, .ap = &ap };
	int r = bki_call_start(c, &rq, NULL);
	va_end(ap);
	return r;
}

/* Call obj.method asynchronously with a JSON argument array. */
int bk_call_json(bk_conn *c, const char *obj, const char *method, const cJSON *args,
		 bk_reply_fn reply, void *userdata)
{
	if (!c)
		return -EINVAL;
	return bk_call_json_timeout(c, obj, method, args, c->timeout, reply, userdata);
}

/* The same with a deadline of its own. */
int bk_call_json_timeout(bk_conn *c, const char *obj, const char *method, const cJSON *args,
			 uint64_t timeout_usec, bk_reply_fn reply, void *userdata)
{
	if (!c)
		return -EINVAL;
	struct request rq = { .kind = REQUEST_CALL, .obj = obj, .method = method,
			      .timeout = timeout_usec, .reply = reply, .userdata = userdata,
			      .args = args };
	return bki_call_start(c, &rq, NULL);
}

/* Start a blocking request and wait for it; hand out its result. */
static int call_sync(bk_conn *c, struct request *rq, cJSON **ret_result)
{
	struct sync_wait st = { 0 };

	bki_call_sync_begin(c);
	rq->sync = &st;
	int r = bki_call_start(c, rq, NULL);
	if (r < 0)
		return r;
	r = bki_call_wait(c, &st);
	if (r >= 0 && ret_result)
		*ret_result = st.result;
	else
		bk_json_delete(st.result);
	return r;
}

/* Call and wait, arguments by signature. */
int bk_call_sync(bk_conn *c, const char *obj, const char *method, cJSON **ret_result,
		 const char *sig, ...)
{
	va_list ap;

	if (!c)
		return -EINVAL;
	va_start(ap, sig);
	struct request rq = { .kind = REQUEST_CALL, .obj = obj, .method = method,
			      .timeout = c->timeout, .sig = sig, .ap = &ap };
	int r = call_sync(c, &rq, ret_result);
	va_end(ap);
	return r;
}

/* Call and wait, arguments as a JSON array. */
int bk_call_json_sync(bk_conn *c, const char *obj, const char *method, const cJSON *args,
		      cJSON **ret_result)
{
	if (!c)
		return -EINVAL;
	struct request rq = { .kind = REQUEST_CALL, .obj = obj, .method = method,
			      .timeout = c->timeout, .args = args };
	return call_sync(c, &rq, ret_result);
}

/* A call that may wait wait_ms for a provider: its deadline covers the wait. */
static int call_wait_request(bk_conn *c, struct request *rq, const char *obj, const char *method,
			     unsigned wait_ms)
{
	if (!c || wait_ms > BK_WAIT_MAX_MS)
		return -EINVAL;
	*rq = (struct request){ .kind = REQUEST_CALL, .obj = obj, .method = method, .wait_ms = wait_ms,
				.timeout = c->timeout ? c->timeout + wait_ms * 1000ULL : 0 };
	return 0;
}

/* Call obj.method asynchronously, letting the host wait for a provider of obj. */
int bk_call_wait(bk_conn *c, const char *obj, const char *method, unsigned wait_ms, bk_reply_fn reply,
		 void *userdata, const char *sig, ...)
{
	struct request rq;
	va_list ap;
	int r = call_wait_request(c, &rq, obj, method, wait_ms);

	if (r < 0)
		return r;
	va_start(ap, sig);
	rq.reply = reply;
	rq.userdata = userdata;
	rq.sig = sig;
	rq.ap = &ap;
	r = bki_call_start(c, &rq, NULL);
	va_end(ap);
	return r;
}

/* The same, blocking. */
int bk_call_wait_sync(bk_conn *c, const char *obj, const char *method, unsigned wait_ms, cJSON **ret_result,
		      const char *sig, ...)
{
	struct request rq;
	va_list ap;
	int r = call_wait_request(c, &rq, obj, method, wait_ms);

	if (r < 0)
		return r;
	va_start(ap, sig);
	rq.sig = sig;
	rq.ap = &ap;
	r = call_sync(c, &rq, ret_result);
	va_end(ap);
	return r;
}

/* The invoke request for f, or -errno for a host function that cannot be called. */
static int call_fn_request(bk_fn *f, struct request *rq)
{
	if (!f)
		return -EINVAL;
	if (!f->conn)
		return -ENOTCONN;
	*rq = (struct request){ .kind = REQUEST_INVOKE, .fn = f, .timeout = f->conn->timeout };
	return 0;
}

/* Call a host function; reply NULL makes it a notification. */
int bk_fn_call(bk_fn *f, bk_reply_fn reply, void *userdata, const char *sig, ...)
{
	struct request rq;
	va_list ap;
	int r = call_fn_request(f, &rq);

	if (r < 0)
		return r;
	va_start(ap, sig);
	rq.reply = reply;
	rq.userdata = userdata;
	rq.notify = !reply;
	rq.sig = sig;
	rq.ap = &ap;
	r = bki_call_start(f->conn, &rq, NULL);
	va_end(ap);
	return r;
}

/* The same with a JSON argument array. */
int bk_fn_call_json(bk_fn *f, const cJSON *args, bk_reply_fn reply, void *userdata)
{
	struct request rq;
	int r = call_fn_request(f, &rq);

	if (r < 0)
		return r;
	rq.reply = reply;
	rq.userdata = userdata;
	rq.notify = !reply;
	rq.args = args;
	return bki_call_start(f->conn, &rq, NULL);
}

/* Call a host function and wait for its result. */
int bk_fn_call_sync(bk_fn *f, cJSON **ret_result, const char *sig, ...)
{
	struct request rq;
	va_list ap;
	int r = call_fn_request(f, &rq);

	if (r < 0)
		return r;
	va_start(ap, sig);
	rq.sig = sig;
	rq.ap = &ap;
	r = call_sync(f->conn, &rq, ret_result);
	va_end(ap);
	return r;
}
