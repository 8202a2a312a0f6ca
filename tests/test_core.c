/* SPDX-License-Identifier: ISC */
/* The core on its own: a server, its later queue and an object of the test's
 * own, in this process on the default loop, driven by a raw client over a
 * socketpair; and in-process unit tests of fn, value, tokens, call and
 * emitter. Linked with the core layer only (no irc, behaviours or daemon). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <ev.h>

#include "core/call.h"
#include "core/client.h"
#include "core/emitter.h"
#include "core/errors.h"
#include "core/fn.h"
#include "core/host_object.h"
#include "core/later.h"
#include "core/log.h"
#include "core/loopback.h"
#include "core/object.h"
#include "core/server.h"
#include "core/tokens.h"
#include "core/value.h"

#define RECV_TIMEOUT_MS 2000

static struct later_queue *queue;
static struct server *server;

/* The raw end of a socketpair the server serves. */
struct raw {
	int fd;
	char buf[262144];
	size_t len;
};

/* ---- the loop and a raw client ------------------------------------------------ */

/* A fresh loop, queue and server for each test (each runs in its own process). */
static void setup(void)
{
	struct server_config cfg;

	log_set_level(LOG_LEVEL_ERROR);
	ck_assert_ptr_nonnull(ev_default_loop(0));
	queue = later_queue_new(EV_DEFAULT);
	ck_assert_ptr_nonnull(queue);
	server_config_init(&cfg);
	server = server_new(&cfg);
	ck_assert_ptr_nonnull(server);
}

/* Free the server, then the queue. */
static void teardown(void)
{
	server_free(server);
	server = NULL;
	later_queue_free(queue);
	queue = NULL;
}

/* Let the loop handle what is ready, without blocking. */
static void spin(void)
{
	ev_run(EV_DEFAULT, EVRUN_NOWAIT);
	later_queue_run(queue);
}

/* Connect a raw client: the other end is adopted by the server, with a send
 * buffer of sndbuf bytes unless 0 (the kernel's default). */
static struct client *raw_connect_sndbuf(struct raw *r, int sndbuf)
{
	struct client *c = NULL;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (sndbuf)
		ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
	ck_assert_int_eq(server_adopt_client(server, sv[0], true, &c), 0);
	r->fd = sv[1];
	r->len = 0;
	return c;
}

/* Connect a raw client with the kernel's default buffers. */
static struct client *raw_connect(struct raw *r)
{
	return raw_connect_sndbuf(r, 0);
}

/* Send one frame (a line is added). */
static void raw_send(struct raw *r, const char *frame)
{
	size_t n = strlen(frame);

	ck_assert_int_eq(write(r->fd, frame, n), (ssize_t)n);
	ck_assert_int_eq(write(r->fd, "\n", 1), 1);
}

/* Send n bytes however many writes the socket needs, running the loop meanwhile. */
static void raw_send_all(struct raw *r, const char *bytes, size_t n)
{
	while (n > 0) {
		ssize_t w = send(r->fd, bytes, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			spin();
			continue;
		}
		bytes += w;
		n -= (size_t)w;
	}
}

/* The next frame, running the loop while waiting; NULL after the timeout. */
static cJSON *raw_recv(struct raw *r)
{
	for (int waited = 0; waited < RECV_TIMEOUT_MS;) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl) {
			*nl = '\0';
			cJSON *j = cJSON_Parse(r->buf);
			r->len -= (size_t)(nl + 1 - r->buf);
			memmove(r->buf, nl + 1, r->len);
			ck_assert_ptr_nonnull(j);
			return j;
		}
		spin();
		struct pollfd p = { r->fd, POLLIN, 0 };
		if (poll(&p, 1, 0) == 1) {
			ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len - 1);
			ck_assert_int_gt(n, 0);
			r->len += (size_t)n;
		} else {
			poll(NULL, 0, 1);
			waited++;
		}
	}
	return NULL;
}

/* The next frame of type t (others are skipped: none are expected). */
static cJSON *raw_expect(struct raw *r, const char *t)
{
	cJSON *j = raw_recv(r);

	ck_assert_msg(j != NULL, "no %s frame", t);
	char *text = cJSON_PrintUnformatted(j);
	ck_assert_msg(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "t")), t) == 0, "expected %s, got %s",
		      t, text);
	free(text);
	return j;
}

/* A number field of j. */
static double num(const cJSON *j, const char *key)
{
	const cJSON *n = cJSON_GetObjectItem(j, key);

	ck_assert_msg(cJSON_IsNumber(n), "no number %s", key);
	return n->valuedouble;
}

/* Spin until the server has no client left. */
static void wait_no_clients(void)
{
	for (int i = 0; i < RECV_TIMEOUT_MS && server_client_count(server) > 0; i++) {
		spin();
		poll(NULL, 0, 1);
	}
	spin();
	ck_assert_uint_eq(server_client_count(server), 0);
}

/* ---- the test's own object: calc -------------------------------------------- */

struct calc {
	struct fn *held;	/* hold(fn), until drop() or its client leaves */
	struct client *owner;	/* who passed it (its fn is dead by client_lost) */
	unsigned client_lost;
	int peer_fd;		/* the raw end whose unread bytes unread() counts */
};

static struct calc calc_state;

/* apply's function answered: answer the call with its result plus one. */
static void calc_apply_done(struct value *result, const struct fn_error *err, void *userdata)
{
	struct call *call = userdata;

	if (err)
		call_fail_error(call, err);
	else
		call_return_json(call, cJSON_CreateNumber(cJSON_GetNumberValue(value_json(result)) + 1));
	value_free(result);
}

/* apply(fn, x): fn(x) + 1 */
static void calc_apply(struct object *obj, struct call *call)
{
	cJSON *args = cJSON_CreateArray();

	cJSON_AddItemToArray(args, cJSON_Duplicate(call_get_arg(call, 1), true));
	if (fn_invoke(call_get_fn_arg(call, 0), value_new(args), calc_apply_done, call) < 0)
		call_fail(call, ERR_FAILED, "out of memory");
}

/* hold(fn): keep fn */
static void calc_hold(struct object *obj, struct call *call)
{
	struct calc *k = object_get_userdata(obj);

	fn_unref(k->held);
	k->held = fn_ref(call_get_fn_arg(call, 0));
	k->owner = call_get_client(call);
	call_return(call, NULL);
}

/* drop(): let the held function go */
static void calc_drop(struct object *obj, struct call *call)
{
	struct calc *k = object_get_userdata(obj);

	k->held = fn_unref(k->held);
	call_return(call, NULL);
}

/* poke(text): emit poked(text); answers how many heard it */
static void calc_poke(struct object *obj, struct call *call)
{
	struct value *v = value_new(cJSON_CreateArray());
	size_t n;

	cJSON_AddItemToArray(value_root(v), cJSON_Duplicate(call_get_arg(call, 0), true));
	n = emitter_emit(object_get_emitter(obj), "poked", v);
	value_free(v);
	call_return_json(call, cJSON_CreateNumber((double)n));
}

/* A native function: double(x) */
static void calc_double_cb(struct fn *fn, struct call *call, void *userdata)
{
	call_return_json(call, cJSON_CreateNumber(2 * cJSON_GetNumberValue(call_get_arg(call, 0))));
}

/* doubler(): {"double": a function of the host} */
static void calc_doubler(struct object *obj, struct call *call)
{
	struct fn *fn = fn_new_native(server, calc_double_cb, NULL, NULL);
	struct value *v = value_new(cJSON_CreateObject());

	cJSON_AddItemToObject(value_root(v), "double", value_add_fn(v, fn));
	fn_unref(fn);
	call_return(call, v);
}

/* unread(): the bytes of answers already written to the raw end, not yet read */
static void calc_unread(struct object *obj, struct call *call)
{
	struct calc *k = object_get_userdata(obj);
	int n = 0;

	ck_assert_int_eq(ioctl(k->peer_fd, FIONREAD, &n), 0);
	call_return_json(call, cJSON_CreateNumber(n));
}

/* A client left: forget what it held. */
static void calc_client_lost(struct object *obj, struct client *c)
{
	struct calc *k = object_get_userdata(obj);

	k->client_lost++;
	if (k->held && k->owner == c)
		k->held = fn_unref(k->held);
}

/* The object is being freed. */
static void calc_destroy(struct object *obj)
{
	struct calc *k = object_get_userdata(obj);

	k->held = fn_unref(k->held);
}

static const struct object_arg calc_args_apply[] = {
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_CALLBACK },
	{ .name = "x", .type = OBJECT_TYPE_NUMBER },
	{ 0 },
};
static const struct object_arg calc_args_hold[] = {
	{ .name = "fn", .type = OBJECT_TYPE_FUNCTION, .kind = OBJECT_KIND_REGISTRATION },
	{ 0 },
};
static const struct object_arg calc_args_poke[] = {
	{ .name = "text", .type = OBJECT_TYPE_STRING },
	{ 0 },
};

static const struct object_method calc_methods[] = {
	{ "apply", "fn(x) + 1", calc_args_apply, "number", false, calc_apply },
	{ "hold", "keeps fn", calc_args_hold, "null", false, calc_hold },
	{ "drop", "lets the kept fn go", NULL, "null", false, calc_drop },
	{ "poke", "emits poked(text)", calc_args_poke, "integer", false, calc_poke },
	{ "doubler", "a host function doubling its argument", NULL, "object", false, calc_doubler },
	{ "unread", "bytes written to the test's raw end and not read yet", NULL, "integer", false, calc_unread },
	{ 0 },
};

static const struct object_event calc_events[] = {
	{ "poked", "poke(text) was called" },
	{ 0 },
};

/* Register calc (and host) with the server. */
static void calc_register(void)
{
	struct object *obj;

	memset(&calc_state, 0, sizeof calc_state);
	obj = object_new("calc", "the test's object", calc_methods, &calc_state);
	ck_assert_ptr_nonnull(obj);
	object_set_client_lost(obj, calc_client_lost);
	object_set_destroy(obj, calc_destroy);
	ck_assert_int_eq(object_set_events(obj, calc_events), 0);
	ck_assert_int_eq(object_register(server_objects(server), obj), 0);
	ck_assert_int_eq(host_object_register(server), 0);
}

/* ---- the server over a socket ------------------------------------------------ */

/* Handshake, a method taking a function the host calls back, its release, an
 * event, a host function called and released, and the disconnect: every count
 * back to zero. */
START_TEST(test_socket_session)
{
	struct raw r;
	struct client *c;
	cJSON *j, *objects;

	calc_register();
	c = raw_connect(&r);
	raw_send(&r, "{\"t\":\"hello\",\"version\":1,\"name\":\"core\"}");
	j = raw_expect(&r, "welcome");
	objects = cJSON_GetObjectItem(j, "objects");
	ck_assert(cJSON_HasObjectItem(objects, "calc"));
	ck_assert(cJSON_HasObjectItem(objects, "host"));
	ck_assert(cJSON_HasObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(objects, "calc"), "events"), "poked"));
	cJSON_Delete(j);
	ck_assert(client_is_open(c));

	/* apply(fn, 41): the host invokes fn, the client answers 42, the call 43. */
	raw_send(&r, "{\"t\":\"call\",\"id\":1,\"obj\":\"calc\",\"method\":\"apply\",\"args\":[{\"$fn\":7},41]}");
	j = raw_expect(&r, "invoke");
	ck_assert_int_eq((int)num(j, "fn"), 7);
	ck_assert_int_eq((int)cJSON_GetArrayItem(cJSON_GetObjectItem(j, "args"), 0)->valuedouble, 41);
	char answer[96];
	snprintf(answer, sizeof answer, "{\"t\":\"result\",\"id\":%d,\"value\":42}", (int)num(j, "id"));
	cJSON_Delete(j);
	ck_assert_uint_eq(server_fn_count(server), 1);
	ck_assert_uint_eq(tokens_import_count(client_tokens(c)), 1);
	raw_send(&r, answer);
	j = raw_expect(&r, "result");
	ck_assert_int_eq((int)num(j, "id"), 1);
	ck_assert_int_eq((int)num(j, "value"), 43);
	cJSON_Delete(j);
	/* The callback argument is released once the call is done. */
	j = raw_expect(&r, "release");
	ck_assert_int_eq((int)num(j, "fn"), 7);
	ck_assert_int_eq((int)num(j, "count"), 1);
	cJSON_Delete(j);
	ck_assert_uint_eq(server_fn_count(server), 0);
	ck_assert_uint_eq(tokens_import_count(client_tokens(c)), 0);

	/* An event registration, and the event. */
	raw_send(&r, "{\"t\":\"call\",\"id\":2,\"obj\":\"calc\",\"method\":\"on\",\"args\":[\"poked\",{\"$fn\":8}]}");
	j = raw_expect(&r, "result");
	cJSON_Delete(j);
	ck_assert_uint_eq(client_listener_count(c), 1);
	raw_send(&r, "{\"t\":\"call\",\"id\":3,\"obj\":\"calc\",\"method\":\"poke\",\"args\":[\"hi\"]}");
	j = raw_expect(&r, "invoke");
	ck_assert_int_eq((int)num(j, "fn"), 8);
	ck_assert(!cJSON_HasObjectItem(j, "id"));
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "args"), 0)->valuestring, "hi");
	cJSON_Delete(j);
	j = raw_expect(&r, "result");
	ck_assert_int_eq((int)num(j, "value"), 1);
	cJSON_Delete(j);

	/* A function of the host: called by the client, then released. */
	raw_send(&r, "{\"t\":\"call\",\"id\":4,\"obj\":\"calc\",\"method\":\"doubler\"}");
	j = raw_expect(&r, "result");
	int token = (int)num(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "value"), "double"), "$fn");
	cJSON_Delete(j);
	ck_assert_uint_eq(tokens_export_count(client_tokens(c)), 1);
	snprintf(answer, sizeof answer, "{\"t\":\"invoke\",\"id\":5,\"fn\":%d,\"args\":[21]}", token);
	raw_send(&r, answer);
	j = raw_expect(&r, "result");
	ck_assert_int_eq((int)num(j, "id"), 5);
	ck_assert_int_eq((int)num(j, "value"), 42);
	cJSON_Delete(j);
	snprintf(answer, sizeof answer, "{\"t\":\"release\",\"fn\":%d,\"count\":1}", token);
	raw_send(&r, answer);
	raw_send(&r, "{\"t\":\"call\",\"id\":6,\"obj\":\"host\",\"method\":\"stats\"}");
	j = raw_expect(&r, "result");
	ck_assert_int_eq((int)num(cJSON_GetObjectItem(j, "value"), "exports"), 0);
	ck_assert_int_eq((int)num(cJSON_GetObjectItem(j, "value"), "handlers"), 1);
	ck_assert_int_eq((int)num(cJSON_GetObjectItem(j, "value"), "functions"), 1);
	cJSON_Delete(j);

	/* A kept function, then the disconnect: everything it held goes. */
	raw_send(&r, "{\"t\":\"call\",\"id\":7,\"obj\":\"calc\",\"method\":\"hold\",\"args\":[{\"$fn\":9}]}");
	j = raw_expect(&r, "result");
	cJSON_Delete(j);
	ck_assert_ptr_nonnull(calc_state.held);
	ck_assert_uint_eq(server_fn_count(server), 2);
	close(r.fd);
	wait_no_clients();
	ck_assert_uint_eq(calc_state.client_lost, 1);
	ck_assert_ptr_null(calc_state.held);
	ck_assert_uint_eq(server_fn_count(server), 0);
}
END_TEST

/* A call to an unknown object or method, or with bad arguments, is answered
 * with the protocol's errors. */
START_TEST(test_socket_errors)
{
	struct raw r;
	cJSON *j;

	calc_register();
	raw_connect(&r);
	raw_send(&r, "{\"t\":\"hello\",\"version\":1}");
	cJSON_Delete(raw_expect(&r, "welcome"));
	raw_send(&r, "{\"t\":\"call\",\"id\":1,\"obj\":\"nope\",\"method\":\"x\"}");
	j = raw_expect(&r, "error");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "name")->valuestring, ERR_NO_SUCH_OBJECT);
	cJSON_Delete(j);
	raw_send(&r, "{\"t\":\"call\",\"id\":2,\"obj\":\"calc\",\"method\":\"apply\",\"args\":[1,2]}");
	j = raw_expect(&r, "error");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "name")->valuestring,
			 ERR_INVALID_ARGUMENTS);
	cJSON_Delete(j);
	close(r.fd);
	wait_no_clients();
	ck_assert_uint_eq(server_fn_count(server), 0);
}
END_TEST

/* 64 calls in one write are answered in order, and the first answers leave
 * while the later calls are still handled: a pipelining peer on another CPU
 * works on them meanwhile (answering a read with one write about halved the
 * pipelined calls a second, docs/PERFORMANCE.md). A lone call's answer
 * leaves in the same pass of the loop. */
START_TEST(test_socket_pipelined)
{
	char burst[64 * 96];
	size_t len = 0;
	struct raw r;
	int unread = 0;
	cJSON *j;

	calc_register();
	raw_connect(&r);
	calc_state.peer_fd = r.fd;
	raw_send(&r, "{\"t\":\"hello\",\"version\":1}");
	cJSON_Delete(raw_expect(&r, "welcome"));
	for (int id = 1; id < 64; id++)
		len += (size_t)snprintf(burst + len, sizeof burst - len,
					"{\"t\":\"call\",\"id\":%d,\"obj\":\"host\",\"method\":\"ping\"}\n", id);
	len += (size_t)snprintf(burst + len, sizeof burst - len,
				"{\"t\":\"call\",\"id\":64,\"obj\":\"calc\",\"method\":\"unread\"}\n");
	ck_assert_int_eq(write(r.fd, burst, len), (ssize_t)len);
	for (int id = 1; id <= 64; id++) {
		j = raw_expect(&r, "result");
		ck_assert_int_eq((int)num(j, "id"), id);
		if (id < 64)
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "value")), "pong");
		else
			ck_assert_int_gt((int)num(j, "value"), 0);
		cJSON_Delete(j);
	}

	raw_send(&r, "{\"t\":\"call\",\"id\":65,\"obj\":\"host\",\"method\":\"ping\"}");
	spin();
	ck_assert_int_eq(ioctl(r.fd, FIONREAD, &unread), 0);
	ck_assert_int_gt(unread, 0);
	j = raw_expect(&r, "result");
	ck_assert_int_eq((int)num(j, "id"), 65);
	cJSON_Delete(j);
	close(r.fd);
	wait_no_clients();
}
END_TEST

/* ---- the output budget ----------------------------------------------------- */

#define BUDGET 262144		/* output_total_max, or output_user_max */
#define TIGHT_SNDBUF 8192	/* the host's send buffer to a client that reads late */

/* Ask loopback.echo for a string of n bytes. */
static void raw_echo(struct raw *r, int id, size_t n)
{
	static const char tail[] = "\"]}\n";
	char *frame = malloc(n + 128);
	int head;

	ck_assert_ptr_nonnull(frame);
	head = snprintf(frame, 128, "{\"t\":\"call\",\"id\":%d,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[\"", id);
	memset(frame + head, 'x', n);
	memcpy(frame + head + n, tail, sizeof tail - 1);
	raw_send_all(r, frame, (size_t)head + n + sizeof tail - 1);
	free(frame);
}

/* The next frame is the answer to call id, a string of n bytes. */
static void raw_expect_echo(struct raw *r, int id, size_t n)
{
	cJSON *j = raw_expect(r, "result");

	ck_assert_int_eq((int)num(j, "id"), id);
	ck_assert_uint_eq(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(j, "value"))), n);
	cJSON_Delete(j);
}

/* Conditions spin_until waits for. */
static bool has_output(const struct client *c) { return client_queued_bytes(c) > 0; }
static bool none_lingering(const struct client *c) { return list_empty(server_lingering(server)); }

/* Run the loop until done(c), or at most about RECV_TIMEOUT_MS. */
static void spin_until(bool (*done)(const struct client *), const struct client *c)
{
	for (int i = 0; i < RECV_TIMEOUT_MS && !done(c); i++) {
		spin();
		poll(NULL, 0, 1);
	}
	ck_assert(done(c));
}

/* A client cut off for the budget keeps the rest of a large frame while it
 * lingers; that is on its way out, so it neither gets the live clients cut
 * off nor refused: the budget counts the open clients' queues only. Run for
 * output_total_max (0) and output_user_max (1). */
START_TEST(test_output_budget_closing)
{
	static struct raw a, b, c, idle[2];
	struct server_config cfg;
	struct client *ca, *cb, *cc;
	cJSON *j;

	server_config_init(&cfg);
	if (_i == 0)
		cfg.output_total_max = BUDGET;
	else
		cfg.output_user_max = BUDGET;
	server_set_config(server, &cfg);
	ck_assert_int_eq(loopback_register(server), 0);
	ck_assert_int_eq(host_object_register(server), 0);
	ca = raw_connect_sndbuf(&a, TIGHT_SNDBUF);
	cb = raw_connect_sndbuf(&b, TIGHT_SNDBUF);
	cc = raw_connect_sndbuf(&c, TIGHT_SNDBUF);
	raw_connect(&idle[0]);
	raw_connect(&idle[1]);
	struct raw *all[] = { &a, &b, &c, &idle[0], &idle[1] };
	for (size_t i = 0; i < 5; i++) {
		raw_send(all[i], "{\"t\":\"hello\",\"version\":1}");
		cJSON_Delete(raw_expect(all[i], "welcome"));
	}

	/* A stops reading with most of a large answer unwritten. */
	raw_echo(&a, 1, 200000);
	spin_until(has_output, ca);
	ck_assert(client_is_open(ca));
	/* B's answer takes the total over the budget: A, the largest, is cut
	 * off and lingers with the rest of its answer and the error. */
	raw_echo(&b, 1, 96000);
	spin_until(client_is_closing, ca);
	ck_assert_msg(client_is_open(cb), "B was cut off for A's leftover");
	spin();
	ck_assert(!none_lingering(NULL));
	ck_assert_uint_gt(client_queued_bytes(ca), BUDGET / 2);
	ck_assert_uint_eq(server_client_count(server), 4);
	/* C's answer too stays within the budget of the open clients. */
	raw_echo(&c, 1, 24000);
	spin_until(has_output, cc);
	ck_assert_msg(client_is_open(cb) && client_is_open(cc), "B or C was cut off for A's leftover");
	ck_assert_uint_eq(server_output_total(server), client_queued_bytes(cb) + client_queued_bytes(cc));
	ck_assert_uint_eq(server_output_of(server, geteuid()), server_output_total(server));
	/* Their total is within half the budget: B, over its share, still gets
	 * new work. */
	ck_assert_uint_gt(client_queued_bytes(cb), BUDGET / 4);
	raw_send(&b, "{\"t\":\"call\",\"id\":2,\"obj\":\"host\",\"method\":\"ping\"}");
	raw_expect_echo(&b, 1, 96000);
	j = raw_expect(&b, "result");
	ck_assert_int_eq((int)num(j, "id"), 2);
	cJSON_Delete(j);
	raw_expect_echo(&c, 1, 24000);

	/* A closes without reading: every count is back to zero. */
	close(a.fd);
	spin_until(none_lingering, NULL);
	for (size_t i = 1; i < 5; i++)
		close(all[i]->fd);
	wait_no_clients();
	ck_assert_uint_eq(server_output_total(server), 0);
	ck_assert_uint_eq(server_output_of(server, geteuid()), 0);
}
END_TEST

/* ---- fn ----------------------------------------------------------------------- */

struct native_rec {
	unsigned calls;
	unsigned destroyed;
	unsigned done;
	double result;
	char *err_name;
};

/* A native function recording its calls; answers its first argument + 1. */
static void native_cb(struct fn *fn, struct call *call, void *userdata)
{
	struct native_rec *rec = userdata;

	rec->calls++;
	call_return_json(call, cJSON_CreateNumber(cJSON_GetNumberValue(call_get_arg(call, 0)) + 1));
}

/* Its destructor. */
static void native_destroy(void *userdata)
{
	((struct native_rec *)userdata)->destroyed++;
}

/* A completion recording what it got. */
static void native_done(struct value *result, const struct fn_error *err, void *userdata)
{
	struct native_rec *rec = userdata;

	rec->done++;
	if (err)
		rec->err_name = strdup(err->name);
	else
		rec->result = cJSON_GetNumberValue(value_json(result));
	value_free(result);
}

/* An array value holding one number. */
static struct value *args_of(double x)
{
	struct value *v = value_new(cJSON_CreateArray());

	cJSON_AddItemToArray(value_root(v), cJSON_CreateNumber(x));
	return v;
}

/* References, the server's count and the destructor, run exactly once. */
START_TEST(test_fn_refs)
{
	struct native_rec rec = { 0 };
	struct fn *fn = fn_new_native(server, native_cb, &rec, native_destroy);

	ck_assert_ptr_nonnull(fn);
	ck_assert(!fn_is_remote(fn));
	ck_assert_ptr_null(fn_get_client(fn));
	ck_assert_uint_eq(server_fn_count(server), 1);
	ck_assert_ptr_eq(fn_ref(fn), fn);
	ck_assert_ptr_null(fn_unref(fn));
	ck_assert_uint_eq(rec.destroyed, 0);
	ck_assert_uint_eq(server_fn_count(server), 1);
	ck_assert_ptr_null(fn_unref(fn));
	ck_assert_uint_eq(rec.destroyed, 1);
	ck_assert_uint_eq(server_fn_count(server), 0);
	ck_assert_ptr_null(fn_unref(NULL));
}
END_TEST

/* fn_invoke of a native function completes from the loop, never before it returns. */
START_TEST(test_fn_invoke_later)
{
	struct native_rec rec = { 0 };
	struct fn *fn = fn_new_native(server, native_cb, &rec, native_destroy);

	ck_assert_int_eq(fn_invoke(fn, args_of(1), native_done, &rec), 0);
	fn_unref(fn);	/* the pending invocation holds its own reference */
	ck_assert_uint_eq(rec.calls, 0);
	ck_assert_uint_eq(rec.done, 0);
	ck_assert(later_queue_pending(queue));
	later_queue_run(queue);
	ck_assert_uint_eq(rec.calls, 1);
	ck_assert_uint_eq(rec.done, 1);
	ck_assert(rec.result == 2);
	ck_assert_uint_eq(rec.destroyed, 1);
	ck_assert_uint_eq(server_fn_count(server), 0);
}
END_TEST

/* ---- value -------------------------------------------------------------------- */

/* A value holds one reference per function node; copies hold their own. */
START_TEST(test_value_functions)
{
	struct native_rec rec = { 0 };
	struct fn *fn = fn_new_native(server, native_cb, &rec, native_destroy);
	struct value *v = value_new(cJSON_CreateArray()), *d, *x;
	cJSON *node;

	ck_assert(!value_has_functions(v));
	node = value_add_fn(v, fn);
	ck_assert_ptr_nonnull(node);
	cJSON_AddItemToArray(value_root(v), node);
	fn_unref(fn);
	ck_assert(value_has_functions(v));
	ck_assert_ptr_eq(value_get_fn(v, cJSON_GetArrayItem(value_json(v), 0)), fn);
	ck_assert_ptr_null(value_get_fn(v, NULL));
	d = value_dup(v);
	x = value_extract(v, cJSON_GetArrayItem(value_json(v), 0));
	ck_assert_ptr_eq(value_get_fn(x, value_json(x)), fn);
	value_free(v);
	value_free(d);
	ck_assert_uint_eq(rec.destroyed, 0);
	value_free(x);
	ck_assert_uint_eq(rec.destroyed, 1);
	ck_assert_uint_eq(server_fn_count(server), 0);
	value_free(NULL);
}
END_TEST

/* ---- tokens ------------------------------------------------------------------- */

/* The same function gets the same token; releases are counted; more than
 * was sent is refused; tokens_max holds. */
START_TEST(test_tokens_export)
{
	struct raw r;
	struct client *c = raw_connect(&r);
	struct tokens *t = client_tokens(c);
	struct native_rec rec = { 0 };
	struct fn *a = fn_new_native(server, native_cb, &rec, native_destroy);
	struct fn *b = fn_new_native(server, native_cb, &rec, native_destroy);
	uint64_t id1, id2, id3;

	ck_assert_int_eq(tokens_export(t, a, 2, &id1), 0);
	ck_assert_int_eq(tokens_export(t, a, 2, &id2), 0);
	ck_assert_uint_eq(id1, id2);
	ck_assert_int_eq(tokens_export(t, b, 2, &id3), 0);
	ck_assert_uint_ne(id1, id3);
	ck_assert_uint_eq(tokens_export_count(t), 2);
	ck_assert_ptr_eq(tokens_export_get(t, id1), a);
	fn_unref(a);
	fn_unref(b);
	ck_assert_uint_eq(rec.destroyed, 0);
	/* Full: a third function is refused. */
	struct fn *f3 = fn_new_native(server, native_cb, &rec, native_destroy);
	uint64_t id4;
	ck_assert_int_eq(tokens_export(t, f3, 2, &id4), -ENOBUFS);
	fn_unref(f3);
	ck_assert_uint_eq(rec.destroyed, 1);
	/* a was sent twice: one release leaves it, a second frees it. */
	ck_assert_int_eq(tokens_release(t, id1, 3), -EPROTO);
	ck_assert_int_eq(tokens_release(t, id1, 1), 0);
	ck_assert_ptr_eq(tokens_export_get(t, id1), a);
	ck_assert_int_eq(tokens_release(t, id1, 1), 0);
	ck_assert_ptr_null(tokens_export_get(t, id1));
	ck_assert_uint_eq(rec.destroyed, 2);
	ck_assert_int_eq(tokens_release(t, id1, 1), -EPROTO);
	/* An undone send of b (never written) frees it too. */
	tokens_export_undo(t, id3);
	ck_assert_uint_eq(rec.destroyed, 3);
	ck_assert_uint_eq(tokens_export_count(t), 0);
	ck_assert_uint_eq(server_fn_count(server), 0);
	close(r.fd);
	wait_no_clients();
}
END_TEST

/* An import received twice is one function; its last unref releases both receipts. */
START_TEST(test_tokens_import)
{
	struct raw r;
	struct client *c = raw_connect(&r);
	struct tokens *t = client_tokens(c);
	struct fn *f1, *f2, *f3;
	cJSON *j;

	ck_assert_int_eq(tokens_import(t, c, 5, 4, &f1), 0);
	ck_assert_int_eq(tokens_import(t, c, 5, 4, &f2), 0);
	ck_assert_ptr_eq(f1, f2);
	ck_assert(fn_is_remote(f1));
	ck_assert_ptr_eq(fn_get_client(f1), c);
	ck_assert_uint_eq(fn_get_remote_id(f1), 5);
	ck_assert_uint_eq(tokens_import_count(t), 1);
	ck_assert_uint_eq(server_fn_count(server), 1);
	ck_assert_int_eq(tokens_import(t, c, 6, 1, &f3), -ENOBUFS);
	fn_unref(f1);
	ck_assert_uint_eq(tokens_import_count(t), 1);
	fn_unref(f2);
	ck_assert_uint_eq(tokens_import_count(t), 0);
	ck_assert_uint_eq(server_fn_count(server), 0);
	j = raw_expect(&r, "release");
	ck_assert_int_eq((int)num(j, "fn"), 5);
	ck_assert_int_eq((int)num(j, "count"), 2);
	cJSON_Delete(j);
	close(r.fd);
	wait_no_clients();
}
END_TEST

/* ---- call --------------------------------------------------------------------- */

/* A callback call answered while starting is delivered from the loop; one
 * answered afterwards at once. */
START_TEST(test_call_callback)
{
	struct native_rec rec = { 0 };
	struct call *call = call_new_callback(server, args_of(3), native_done, &rec);

	ck_assert_ptr_nonnull(call);
	ck_assert(call_wants_answer(call));
	ck_assert_uint_eq(call_arg_count(call), 1);
	ck_assert_ptr_null(call_get_client(call));
	call_set_starting(call, true);
	call_return_json(call, cJSON_CreateNumber(7));
	ck_assert_uint_eq(rec.done, 0);
	later_queue_run(queue);
	ck_assert_uint_eq(rec.done, 1);
	ck_assert(rec.result == 7);

	call = call_new_callback(server, NULL, native_done, &rec);
	call_fail(call, ERR_FAILED, "no %s", "luck");
	ck_assert_uint_eq(rec.done, 2);
	ck_assert_str_eq(rec.err_name, ERR_FAILED);
	free(rec.err_name);
}
END_TEST

/* A host invocation waiting for a client fails with Disconnected when the
 * client goes away; its function is dropped. */
START_TEST(test_call_pending_lost)
{
	struct raw r;
	struct client *c = raw_connect(&r);
	struct native_rec rec = { 0 };
	struct fn *fn;
	uint64_t id;

	raw_send(&r, "{\"t\":\"hello\",\"version\":1}");
	cJSON_Delete(raw_expect(&r, "welcome"));
	ck_assert_int_eq(tokens_import(client_tokens(c), c, 1, 8, &fn), 0);
	struct call *call = call_new_callback(server, args_of(1), native_done, &rec);
	ck_assert_int_eq(call_pending_add(c, fn, call, &id), 0);
	ck_assert_uint_eq(call_table_pending_out(client_calls(c)), 1);
	fn_unref(fn);	/* the pending invocation holds its own */
	ck_assert_uint_eq(server_fn_count(server), 1);
	client_lost(c);
	ck_assert_uint_eq(rec.done, 1);
	ck_assert_str_eq(rec.err_name, ERR_DISCONNECTED);
	free(rec.err_name);
	ck_assert_uint_eq(server_fn_count(server), 0);
	spin();
	close(r.fd);
}
END_TEST

/* ---- emitter ------------------------------------------------------------------ */

static const struct object_event test_events[] = {
	{ "tick", NULL },
	{ 0 },
};

/* Emit reaches the registrations in order; once goes after one delivery;
 * unknown events are refused; freeing drops every registration. */
START_TEST(test_emitter_emit)
{
	struct emitter *em = emitter_new(test_events);
	struct native_rec a = { 0 }, b = { 0 };
	struct fn *fa = fn_new_native(server, native_cb, &a, native_destroy);
	struct fn *fb = fn_new_native(server, native_cb, &b, native_destroy);
	struct value *args = args_of(1);

	ck_assert(emitter_has_event(em, "tick"));
	ck_assert(!emitter_has_event(em, "tock"));
	ck_assert_int_eq(emitter_add(em, "tock", fa, false, NULL), -ENOENT);
	ck_assert(!emitter_listened(em, "tick"));
	ck_assert_int_eq(emitter_add(em, "tick", fa, false, NULL), 0);
	ck_assert_int_eq(emitter_add(em, "tick", fb, true, NULL), 0);
	fn_unref(fa);
	fn_unref(fb);
	ck_assert(emitter_listened(em, "tick"));
	ck_assert_uint_eq(emitter_emit(em, "tick", args), 2);
	later_queue_run(queue);
	ck_assert_uint_eq(a.calls, 1);
	ck_assert_uint_eq(b.calls, 1);
	ck_assert_uint_eq(b.destroyed, 1);	/* once: gone after its call */
	ck_assert_uint_eq(emitter_emit(em, "tick", args), 1);
	later_queue_run(queue);
	ck_assert_uint_eq(a.calls, 2);
	ck_assert_uint_eq(b.calls, 1);
	ck_assert_uint_eq(emitter_emit(em, "tock", args), 0);
	value_free(args);
	emitter_free(em);
	ck_assert_uint_eq(a.destroyed, 1);
	ck_assert_uint_eq(server_fn_count(server), 0);
}
END_TEST

/* A client's registrations count against it and go when it goes. */
START_TEST(test_emitter_client_lost)
{
	struct raw r;
	struct client *c = raw_connect(&r);
	struct emitter *em = emitter_new(test_events);
	struct native_rec a = { 0 };
	struct fn *fa = fn_new_native(server, native_cb, &a, native_destroy);
	struct fn *remote;

	ck_assert_int_eq(tokens_import(client_tokens(c), c, 3, 8, &remote), 0);
	ck_assert_int_eq(emitter_add(em, "tick", fa, false, NULL), 0);
	ck_assert_int_eq(emitter_add(em, "tick", remote, false, c), 0);
	ck_assert_int_eq(emitter_add(em, "tick", remote, true, c), 0);
	fn_unref(fa);
	fn_unref(remote);
	ck_assert_uint_eq(client_listener_count(c), 2);
	emitter_client_lost(c);
	ck_assert_uint_eq(client_listener_count(c), 0);
	ck_assert_uint_eq(tokens_import_count(client_tokens(c)), 0);
	ck_assert_uint_eq(server_fn_count(server), 1);	/* the host's own stays */
	emitter_free(em);
	ck_assert_uint_eq(server_fn_count(server), 0);
	close(r.fd);
	wait_no_clients();
}
END_TEST

/* ---- the registry ------------------------------------------------------------- */

/* Objects are found by name in their own registry; a name is taken once. */
START_TEST(test_objects_registry)
{
	struct objects *objs = objects_new();
	struct object *a = object_new("a", NULL, calc_methods, &calc_state);
	struct object *a2 = object_new("a", NULL, calc_methods, &calc_state);
	size_t len;

	ck_assert_int_eq(object_register(objs, a), 0);
	ck_assert_int_eq(object_register(objs, a2), -EEXIST);
	object_free(a2);
	ck_assert_ptr_eq(object_find(objs, "a"), a);
	ck_assert_ptr_null(object_find(server_objects(server), "a"));
	ck_assert_ptr_nonnull(strstr(object_introspection_text(objs, &len), "\"apply\""));
	objects_free(objs);
}
END_TEST

/* The suite. */
static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc;

	tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_socket_session);
	tcase_add_test(tc, test_socket_errors);
	tcase_add_test(tc, test_socket_pipelined);
	tcase_add_loop_test(tc, test_output_budget_closing, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("units");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fn_refs);
	tcase_add_test(tc, test_fn_invoke_later);
	tcase_add_test(tc, test_value_functions);
	tcase_add_test(tc, test_tokens_export);
	tcase_add_test(tc, test_tokens_import);
	tcase_add_test(tc, test_call_callback);
	tcase_add_test(tc, test_call_pending_lost);
	tcase_add_test(tc, test_emitter_emit);
	tcase_add_test(tc, test_emitter_client_lost);
	tcase_add_test(tc, test_objects_registry);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	SRunner *sr = srunner_create(core_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
