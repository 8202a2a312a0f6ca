/* SPDX-License-Identifier: ISC */
/* Integration tests of libbotkit against a real bothost started with
 * --loopback: calls with every signature letter, typed errors, deadlines,
 * nested callbacks in both directions, function identity and release,
 * registrations and slots, bk_run and the libev adapter. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "botkit.h"
#include "botkit-ev.h"
#include "harness.h"

static struct test_host host;	/* one bothost --loopback per test case */
static bk_conn *conn;		/* a fresh connection per test */

/* What a function of this test saw: calls, destroys, the last arguments. */
struct rec {
	int calls;
	int destroyed;
	int destroy_phase;	/* the value of `phase` when destroy ran */
	cJSON *last;		/* a copy of the last arguments (bk_json_dup) */
	bk_fn *kept;		/* a host function the function kept a reference to */
	int64_t value;		/* a number the function computed */
	int early;		/* completions that ran before their start returned */
};

static int phase;		/* a step marker the destroy callbacks record */
static bool in_start;		/* true while a function that starts a call runs */

/* Microseconds on the monotonic clock, the clock of bk_conn_get_timeout(). */
static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Wait at most max_ms for the connection's fd or its next deadline. */
static void conn_wait(bk_conn *c, uint64_t max_ms)
{
	struct pollfd p = { .fd = bk_conn_get_fd(c), .events = (short)bk_conn_get_events(c) };
	uint64_t deadline = bk_conn_get_timeout(c);
	uint64_t ms = max_ms;

	if (deadline != UINT64_MAX) {
		uint64_t now = now_usec();
		uint64_t d = deadline <= now ? 0 : (deadline - now + 999) / 1000;
		if (d < ms)
			ms = d;
	}
	(void)poll(&p, 1, (int)ms);
}

/* Dispatch until *counter reaches want or ms pass; returns the last value. */
static int pump_until(bk_conn *c, const int *counter, int want, int ms)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;

	while (*counter < want) {
		uint64_t now = test_now_ms();
		if (now >= end)
			break;
		conn_wait(c, end - now);
		if (bk_conn_process(c) < 0)
			break;
	}
	return *counter;
}

/* Dispatch for ms milliseconds. */
static void pump_for(bk_conn *c, int ms)
{
	int never = 0;

	pump_until(c, &never, 1, ms);
}

/* Record a call of a function of this program and answer with its argument count. */
static void rec_fn(bk_conn *c, bk_args *a, void *userdata)
{
	struct rec *r = userdata;

	r->calls++;
	bk_json_delete(r->last);
	r->last = bk_json_dup(bk_args_json(a));
	if (bk_args_wants_result(a))
		bk_args_return(a, "i", (int)bk_args_count(a));
}

/* Record the destruction of a function's userdata. */
static void rec_destroy(void *userdata)
{
	struct rec *r = userdata;

	r->destroyed++;
	r->destroy_phase = phase;
}

/* Record an asynchronous completion: its error name or its result. */
static void rec_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct rec *r = userdata;

	if (in_start)
		r->early++;
	r->calls++;
	bk_json_delete(r->last);
	r->last = NULL;
	if (err) {
		r->value = bk_error_errno(err);
		r->last = cJSON_CreateString(bk_error_name(err));
	} else {
		ck_assert_ptr_nonnull(result);
		r->value = 0;
		r->last = bk_json_dup(result);
	}
}

/* Free what a record holds. */
static void rec_clear(struct rec *r)
{
	bk_json_delete(r->last);
	r->last = NULL;
	r->kept = bk_fn_unref(r->kept);
}

/* A number from this connection's own part of host.stats(). */
static long self_stat(const char *field)
{
	cJSON *res = NULL;
	long v;

	ck_assert_int_eq(bk_call_sync(conn, "host", "stats", &res, ""), 0);
	const cJSON *self = cJSON_GetObjectItemCaseSensitive(res, "self");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(self, field);
	ck_assert_msg(cJSON_IsNumber(f), "host.stats has no self.%s", field);
	v = (long)f->valuedouble;
	bk_json_delete(res);
	return v;
}

/* loopback.emit(event) with no arguments; returns the registrations reached. */
static long emit0(const char *event)
{
	cJSON *res = NULL;
	long n;

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "emit", &res, "s", event), 0);
	ck_assert(cJSON_IsNumber(res));
	n = (long)res->valuedouble;
	bk_json_delete(res);
	return n;
}

/* Call a loopback method with one string and return its number result. */
static long loopback_num(const char *method, const char *arg)
{
	cJSON *res = NULL;
	long n;

	ck_assert_int_eq(bk_call_sync(conn, "loopback", method, &res, "s", arg), 0);
	ck_assert(cJSON_IsNumber(res));
	n = (long)res->valuedouble;
	bk_json_delete(res);
	return n;
}

/* Call loopback.store(key, value) with a value given as a JSON tree. */
static void store_json(const char *key, const cJSON *value)
{
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "store", NULL, "sj", key, value), 0);
}

/* Call loopback.drop(key). */
static void drop_key(const char *key)
{
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "drop", NULL, "s", key), 0);
}

/* Start the test case's host. */
static void host_setup(void)
{
	static const char *const args[] = { "--loopback", NULL };

	ck_assert_int_eq(test_host_start(&host, args), 0);
}

/* Stop the test case's host. */
static void host_teardown(void)
{
	test_host_stop(&host);
}

/* Connect a fresh client for one test. */
static void conn_setup(void)
{
	phase = 0;
	in_start = false;
	conn = NULL;
	ck_assert_int_eq(bk_conn_new_path(&conn, host.path, "test_botkit"), 0);
	ck_assert_ptr_nonnull(conn);
}

/* Close the test's client. */
static void conn_teardown(void)
{
	conn = bk_conn_unref(conn);
}

/* ---- connection and introspection -------------------------------------- */

START_TEST(connect_and_introspect)
{
	const cJSON *objs = bk_conn_get_objects(conn);

	ck_assert(bk_conn_is_connected(conn));
	ck_assert_uint_gt(bk_conn_get_client_id(conn), 0);
	ck_assert_int_ge(bk_conn_get_fd(conn), 0);
	ck_assert(bk_conn_get_events(conn) & POLLIN);
	ck_assert_ptr_null(bk_conn_unref(NULL));
	ck_assert_ptr_eq(bk_conn_ref(conn), conn);
	ck_assert_ptr_null(bk_conn_unref(conn));
	ck_assert(bk_conn_is_connected(conn));

	ck_assert(cJSON_IsObject(objs));
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(objs, "host");
	const cJSON *lb = cJSON_GetObjectItemCaseSensitive(objs, "loopback");
	ck_assert(cJSON_IsObject(h));
	ck_assert(cJSON_IsObject(lb));
	const cJSON *hm = cJSON_GetObjectItemCaseSensitive(h, "methods");
	for (const char *const *m = (const char *const[]){ "ping", "introspect", "stats", "clients", NULL }; *m; m++)
		ck_assert_msg(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(hm, *m)), "host.%s missing", *m);

	const cJSON *lm = cJSON_GetObjectItemCaseSensitive(lb, "methods");
	const char *const lnames[] = { "echo", "call", "callAll", "callLater", "store", "fetch", "drop",
				       "emit", "makeCounter", "sleep", "fail", "on", "once", "off",
				       "removeAllListeners", "listenerCount", NULL };
	for (const char *const *m = lnames; *m; m++)
		ck_assert_msg(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(lm, *m)), "loopback.%s missing", *m);

	/* echo(value: any) */
	const cJSON *echo_args = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lm, "echo"), "args");
	ck_assert_int_eq(cJSON_GetArraySize(echo_args), 1);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(echo_args, 0), "type")->valuestring, "any");
	/* call(fn: function callback, args...: rest) */
	const cJSON *call_args = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lm, "call"), "args");
	const cJSON *fn_arg = cJSON_GetArrayItem(call_args, 0);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(fn_arg, "type")->valuestring, "function");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(fn_arg, "kind")->valuestring, "callback");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(call_args, 1), "rest")));
	/* on(event, fn: registration) */
	const cJSON *on_args = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lm, "on"), "args");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(on_args, 1), "kind")->valuestring,
			 "registration");
	/* loopback accepts any event name */
	ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lb, "events"), "*"));

	/* host.introspect() answers the same description. */
	cJSON *res = NULL;
	ck_assert_int_eq(bk_call_sync(conn, "host", "introspect", &res, ""), 0);
	ck_assert(cJSON_Compare(res, objs, true));
	bk_json_delete(res);

	/* host.clients() lists this connection under its id and name. */
	ck_assert_int_eq(bk_call_sync(conn, "host", "clients", &res, ""), 0);
	ck_assert(cJSON_IsArray(res));
	bool found = false;
	const cJSON *cl;
	cJSON_ArrayForEach(cl, res) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(cl, "id");
		if (cJSON_IsNumber(id) && (uint64_t)id->valuedouble == bk_conn_get_client_id(conn)) {
			ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cl, "name")->valuestring, "test_botkit");
			found = true;
		}
	}
	ck_assert(found);
	bk_json_delete(res);
}
END_TEST

/* ---- calls with every signature letter ---------------------------------- */

START_TEST(ping_and_echo_every_letter)
{
	cJSON *res = NULL;

	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", &res, ""), 0);
	ck_assert(cJSON_IsString(res));
	ck_assert_str_eq(res->valuestring, "pong");
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);

	/* s */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "s", "h\u00e9llo \"w\"\n"), 0);
	ck_assert(cJSON_IsString(res));
	ck_assert_str_eq(res->valuestring, "h\u00e9llo \"w\"\n");
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "s", (const char *)NULL), 0);
	ck_assert(cJSON_IsNull(res));
	bk_json_delete(res);

	/* i */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "i", -42), 0);
	ck_assert(cJSON_IsNumber(res));
	ck_assert(res->valuedouble == -42.0);
	bk_json_delete(res);

	/* x: the largest integer the protocol carries exactly, and its negative */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "x", (int64_t)9007199254740991LL), 0);
	ck_assert(cJSON_IsNumber(res));
	ck_assert(res->valuedouble == 9007199254740991.0);
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "x", (int64_t)-9007199254740991LL), 0);
	ck_assert(res->valuedouble == -9007199254740991.0);
	bk_json_delete(res);

	/* d */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "d", 3.25), 0);
	ck_assert(cJSON_IsNumber(res));
	ck_assert(res->valuedouble == 3.25);
	bk_json_delete(res);

	/* b */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "b", 7), 0);
	ck_assert(cJSON_IsTrue(res));
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "b", 0), 0);
	ck_assert(cJSON_IsFalse(res));
	bk_json_delete(res);

	/* n */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "n"), 0);
	ck_assert(cJSON_IsNull(res));
	bk_json_delete(res);

	/* j */
	cJSON *v = cJSON_Parse("{\"a\":[1,2.5,{\"b\":\"c\"},null,true],\"e\":{},\"u\":\"\\u0001\"}");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "j", v), 0);
	ck_assert(cJSON_Compare(res, v, true));
	bk_json_delete(res);
	cJSON_Delete(v);

	/* f: a function of this program comes back as a function */
	struct rec r = { 0 };
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "f", rec_fn, &r, rec_destroy), 0);
	ck_assert(bk_json_is_function(res));
	ck_assert_ptr_null(bk_json_get_fn(res));
	bk_json_delete(res);
	/* the host held it only during the call: released, destroy runs once */
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	ck_assert_int_eq(r.calls, 0);

	/* F: a host function comes back as the very same host function */
	cJSON *ctr = NULL;
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, ""), 0);
	bk_fn *next = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(ctr, "next"));
	ck_assert_ptr_nonnull(next);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "F", next), 0);
	ck_assert(bk_json_is_function(res));
	ck_assert_ptr_eq(bk_json_get_fn(res), next);
	bk_json_delete(res);
	cJSON *n1 = NULL;
	ck_assert_int_eq(bk_fn_call_sync(next, &n1, ""), 0);
	ck_assert(cJSON_IsNumber(n1));
	bk_json_delete(n1);
	bk_json_delete(ctr);
	ck_assert_int_eq(self_stat("exports"), 0);

	/* several letters in one call */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "emit", &res, "sixdbn", "letters-nobody", 1,
				      (int64_t)2, 3.5, 1), 0);
	ck_assert(cJSON_IsNumber(res));
	ck_assert(res->valuedouble == 0.0);
	bk_json_delete(res);
}
END_TEST

/* The same letters through a host function and as answers of this program. */
static void answer_by_letter(bk_conn *c, bk_args *a, void *userdata)
{
	const char *which = bk_args_string(a, 0);
	struct rec *r = userdata;

	r->calls++;
	if (!which)
		ck_assert_int_eq(bk_args_fail(a, "NoLetter", "the first argument is no string"), 0);
	else if (!strcmp(which, "s"))
		ck_assert_int_eq(bk_args_return(a, "s", "answer"), 0);
	else if (!strcmp(which, "x"))
		ck_assert_int_eq(bk_args_return(a, "x", (int64_t)-123456789012LL), 0);
	else if (!strcmp(which, "d"))
		ck_assert_int_eq(bk_args_return(a, "d", 0.5), 0);
	else if (!strcmp(which, "b"))
		ck_assert_int_eq(bk_args_return(a, "b", 1), 0);
	else if (!strcmp(which, "n"))
		ck_assert_int_eq(bk_args_return(a, "n"), 0);
	else if (!strcmp(which, "none"))
		return;
	else
		ck_assert_int_eq(bk_args_return(a, "i", 99), 0);
	/* once only */
	ck_assert_int_eq(bk_args_return(a, "i", 1), -EALREADY);
	ck_assert_int_eq(bk_args_fail(a, "Late", "late"), -EALREADY);
}

START_TEST(answers_of_this_program)
{
	struct rec r = { 0 };
	cJSON *res = NULL;

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "fs", answer_by_letter, &r, NULL, "s"), 0);
	ck_assert_str_eq(res->valuestring, "answer");
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "fs", answer_by_letter, &r, NULL, "x"), 0);
	ck_assert(res->valuedouble == -123456789012.0);
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "fs", answer_by_letter, &r, NULL, "d"), 0);
	ck_assert(res->valuedouble == 0.5);
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "fs", answer_by_letter, &r, NULL, "b"), 0);
	ck_assert(cJSON_IsTrue(res));
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "fs", answer_by_letter, &r, NULL, "n"), 0);
	ck_assert(cJSON_IsNull(res));
	bk_json_delete(res);
	/* returning without answering answers null */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "fs", answer_by_letter, &r, NULL, "none"), 0);
	ck_assert(cJSON_IsNull(res));
	bk_json_delete(res);
	ck_assert_int_eq(r.calls, 6);
}
END_TEST

/* ---- values with token-shaped user data ----------------------------------- */

static const char escape_data[] =
	"[{\"$fn\":3},{\"$yours\":1},{\"$esc\":{\"a\":1}},{\"$fn\":\"not a token\"},"
	"{\"x\":{\"$weird\":[{\"$\":null}],\"y\":2}},[\"$fn\",{\"$yours\":{\"$fn\":9}}],"
	"\"{\\\"$fn\\\":1}\",{\"$esc\":{\"$esc\":{}}}]";

START_TEST(escaping_round_trip)
{
	cJSON *data = cJSON_Parse(escape_data);
	cJSON *res = NULL;
	struct rec r = { 0 };

	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "j", data), 0);
	ck_assert(cJSON_Compare(res, data, true));
	ck_assert(!bk_json_is_function(cJSON_GetArrayItem(res, 0)));
	bk_json_delete(res);

	/* kept by the host and fetched back */
	store_json("escaped", data);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "fetch", &res, "s", "escaped"), 0);
	ck_assert(cJSON_Compare(res, data, true));
	bk_json_delete(res);
	drop_key("escaped");

	/* as event arguments, next to a real function */
	ck_assert_int_eq(bk_on(conn, "loopback", "escape-ev", rec_fn, &r, rec_destroy, NULL), 0);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "emit", &res, "sjf", "escape-ev", data, rec_fn, &r,
				      rec_destroy), 0);
	ck_assert(res->valuedouble == 1.0);
	bk_json_delete(res);
	ck_assert_int_eq(pump_until(conn, &r.calls, 1, 2000), 1);
	ck_assert_int_eq(cJSON_GetArraySize(r.last), 2);
	ck_assert(cJSON_Compare(cJSON_GetArrayItem(r.last, 0), data, true));
	ck_assert(bk_json_is_function(cJSON_GetArrayItem(r.last, 1)));
	ck_assert_int_eq(bk_off(conn, "loopback", "escape-ev", rec_fn, &r), 1);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	rec_clear(&r);
	cJSON_Delete(data);
}
END_TEST

/* ---- typed errors ---------------------------------------------------------- */

/* Fail with a name of this program's own. */
static void fail_fn(bk_conn *c, bk_args *a, void *userdata)
{
	ck_assert_int_eq(bk_args_fail(a, "HandlerError", "the handler refused"), 0);
}

/* Assert that the last blocking call failed with that name. */
static void assert_last_error(const char *name, int err)
{
	const bk_error *e = bk_conn_last_error(conn);

	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(bk_error_name(e), name);
	ck_assert_int_eq(bk_error_errno(e), err);
	ck_assert_ptr_nonnull(bk_error_message(e));
}

START_TEST(typed_errors)
{
	cJSON *res = NULL;

	ck_assert_int_eq(bk_call_sync(conn, "nosuch", "ping", &res, ""), -ENOENT);
	ck_assert_ptr_null(res);
	assert_last_error("NoSuchObject", -ENOENT);

	ck_assert_int_eq(bk_call_sync(conn, "host", "nosuch", &res, ""), -ENOENT);
	assert_last_error("NoSuchMethod", -ENOENT);

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, ""), -EINVAL);
	assert_last_error("InvalidArguments", -EINVAL);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "ii", 1, 2), -EINVAL);
	assert_last_error("InvalidArguments", -EINVAL);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "sleep", &res, "s", "soon"), -EINVAL);
	assert_last_error("InvalidArguments", -EINVAL);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "i", 5), -EINVAL);
	assert_last_error("InvalidArguments", -EINVAL);

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "fail", &res, "ss", "BotError", "custom failure"), -EIO);
	assert_last_error("BotError", -EIO);
	ck_assert_str_eq(bk_error_message(bk_conn_last_error(conn)), "custom failure");
	ck_assert_ptr_null(res);

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "fail", &res, "ss", "Failed", "plain"), -EIO);
	assert_last_error("Failed", -EIO);

	/* an error of this program travels back through the host */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "f", fail_fn, NULL, NULL), -EIO);
	assert_last_error("HandlerError", -EIO);
	ck_assert_str_eq(bk_error_message(bk_conn_last_error(conn)), "the handler refused");

	/* a registration for an object that does not exist: refused, and released */
	struct rec r = { 0 };
	ck_assert_int_eq(bk_on(conn, "nosuch", "ev", rec_fn, &r, rec_destroy, NULL), -ENOENT);
	assert_last_error("NoSuchObject", -ENOENT);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);

	/* the connection is fine after all that */
	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);
	ck_assert(bk_conn_is_connected(conn));

	/* asynchronously, the error comes with the completion */
	struct rec ar = { 0 };
	in_start = true;
	ck_assert_int_eq(bk_call(conn, "loopback", "fail", rec_reply, &ar, "ss", "AsyncError", "m"), 0);
	in_start = false;
	ck_assert_int_eq(pump_until(conn, &ar.calls, 1, 2000), 1);
	ck_assert_int_eq(ar.early, 0);
	ck_assert_int_eq(ar.value, -EIO);
	ck_assert_str_eq(ar.last->valuestring, "AsyncError");
	rec_clear(&ar);
}
END_TEST

START_TEST(error_name_mapping)
{
	static const struct { const char *name; int err; } map[] = {
		{ "NoSuchObject", -ENOENT }, { "NoSuchMethod", -ENOENT }, { "NoSuchEvent", -ENOENT },
		{ "NoSuchFunction", -ENOENT }, { "InvalidArguments", -EINVAL }, { "LimitExceeded", -ENOBUFS },
		{ "PermissionDenied", -EPERM }, { "Timeout", -ETIMEDOUT }, { "Disconnected", -ENOTCONN },
		{ "ProtocolError", -EPROTO }, { "FrameTooLarge", -EPROTO }, { "VersionMismatch", -EPROTO },
		{ "Failed", -EIO }, { "BotError", -EIO }, { "", -EIO },
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		ck_assert_msg(bk_errno_from_name(map[i].name) == map[i].err, "%s maps to %d", map[i].name,
			      bk_errno_from_name(map[i].name));
}
END_TEST

/* ---- deadlines -------------------------------------------------------------- */

START_TEST(per_call_deadline)
{
	struct rec r = { 0 };
	cJSON *args = cJSON_CreateArray();
	long baseline = self_stat("pending_in");
	uint64_t t0 = test_now_ms();

	cJSON_AddItemToArray(args, cJSON_CreateNumber(2000));
	/* asynchronous, with a deadline of its own */
	ck_assert_int_eq(bk_call_json_timeout(conn, "loopback", "sleep", args, 100000, rec_reply, &r), 0);
	/* blocking, under the connection's default deadline */
	bk_conn_set_timeout(conn, 100000);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "sleep", NULL, "i", 2000), -ETIMEDOUT);
	uint64_t took = test_now_ms() - t0;
	assert_last_error("Timeout", -ETIMEDOUT);
	ck_assert_msg(took >= 90 && took < 1500, "the deadline took %llu ms", (unsigned long long)took);
	bk_conn_set_timeout(conn, 30000000);

	ck_assert_int_eq(pump_until(conn, &r.calls, 1, 1000), 1);
	ck_assert_int_eq(r.value, -ETIMEDOUT);
	ck_assert_str_eq(r.last->valuestring, "Timeout");

	/* Wait until the host has answered both sleeps: the late results come
	 * before the stats that shows them finished, and must be ignored. */
	uint64_t end = test_now_ms() + 5000;
	while (self_stat("pending_in") > baseline && test_now_ms() < end)
		pump_for(conn, 50);
	ck_assert_int_eq(self_stat("pending_in"), baseline);
	ck_assert_uint_ge(test_now_ms() - t0, 1900);
	ck_assert_int_eq(r.calls, 1);
	ck_assert(bk_conn_is_connected(conn));
	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);
	ck_assert_int_eq(r.calls, 1);
	cJSON_Delete(args);
	rec_clear(&r);
}
END_TEST

/* ---- asynchronous completions ------------------------------------------------- */

START_TEST(async_completion_after_return)
{
	struct rec ping = { 0 }, noobj = { 0 }, deadline = { 0 }, on_done = { 0 }, fncall = { 0 }, h = { 0 };
	struct rec bad = { 0 };
	cJSON *ctr = NULL;

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, ""), 0);
	bk_fn *next = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(ctr, "next"));
	ck_assert_ptr_nonnull(next);
	cJSON *sleep_args = cJSON_CreateArray();
	cJSON_AddItemToArray(sleep_args, cJSON_CreateNumber(1000));

	in_start = true;
	ck_assert_int_eq(bk_call(conn, "host", "ping", rec_reply, &ping, ""), 0);
	ck_assert_int_eq(bk_call(conn, "nosuch", "ping", rec_reply, &noobj, ""), 0);
	ck_assert_int_eq(bk_call_json_timeout(conn, "loopback", "sleep", sleep_args, 1, rec_reply, &deadline), 0);
	ck_assert_int_eq(bk_on_async(conn, "loopback", "async-ev", rec_fn, &h, rec_destroy, NULL, rec_reply,
				     &on_done), 0);
	ck_assert_int_eq(bk_fn_call(next, rec_reply, &fncall, ""), 0);
	/* a signature letter that does not exist: refused, and no completion */
	ck_assert_int_lt(bk_call(conn, "loopback", "echo", rec_reply, &bad, "?"), 0);
	in_start = false;

	ck_assert_int_eq(pump_until(conn, &ping.calls, 1, 2000), 1);
	ck_assert_int_eq(pump_until(conn, &noobj.calls, 1, 2000), 1);
	ck_assert_int_eq(pump_until(conn, &deadline.calls, 1, 2000), 1);
	ck_assert_int_eq(pump_until(conn, &on_done.calls, 1, 2000), 1);
	ck_assert_int_eq(pump_until(conn, &fncall.calls, 1, 2000), 1);
	ck_assert_int_eq(ping.early + noobj.early + deadline.early + on_done.early + fncall.early, 0);
	ck_assert_str_eq(ping.last->valuestring, "pong");
	ck_assert_int_eq(noobj.value, -ENOENT);
	ck_assert_int_eq(deadline.value, -ETIMEDOUT);
	ck_assert(cJSON_IsNull(on_done.last));
	ck_assert(cJSON_IsNumber(fncall.last));

	/* the registration made asynchronously is live */
	ck_assert_int_eq(emit0("async-ev"), 1);
	ck_assert_int_eq(h.calls, 1);
	ck_assert_int_eq(bk_off(conn, "loopback", "async-ev", rec_fn, &h), 1);
	ck_assert_int_eq(pump_until(conn, &h.destroyed, 1, 2000), 1);

	/* nothing ran twice, and the refused call never completes */
	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);
	ck_assert_int_eq(ping.calls + noobj.calls + deadline.calls + on_done.calls + fncall.calls, 5);
	ck_assert_int_eq(bad.calls, 0);

	cJSON_Delete(sleep_args);
	bk_json_delete(ctr);
	rec_clear(&ping), rec_clear(&noobj), rec_clear(&deadline), rec_clear(&on_done), rec_clear(&fncall);
	rec_clear(&h);
}
END_TEST

/* ---- nested callbacks ------------------------------------------------------- */

struct nest {
	bk_fn *next;		/* the counter function the test holds */
	int calls;
	bool same_fn;		/* the argument was the host function the test holds */
	int64_t v1, v2;
	char inner[32];		/* what a call made from inside the handler returned */
	struct rec deepest;	/* a function called by the host from inside the handler */
};

/* Called by loopback.callAll with the counter's next(): calls it twice, calls
 * the host from inside, and answers with the second value. */
static void nest_fn(bk_conn *c, bk_args *a, void *userdata)
{
	struct nest *ns = userdata;
	cJSON *v = NULL;
	bk_fn *f = bk_args_fn(a, 0);

	ns->calls++;
	ck_assert(bk_args_wants_result(a));
	ck_assert_ptr_nonnull(f);
	ns->same_fn = f == ns->next;
	ck_assert_ptr_eq(bk_args_get_conn(a), c);
	ck_assert_ptr_eq(bk_fn_get_conn(f), c);
	ck_assert_int_eq(bk_fn_call_sync(f, &v, ""), 0);
	ns->v1 = (int64_t)v->valuedouble;
	bk_json_delete(v);
	ck_assert_int_eq(bk_fn_call_sync(f, &v, ""), 0);
	ns->v2 = (int64_t)v->valuedouble;
	bk_json_delete(v);
	/* the host calls back into this program while it waits for this answer */
	ck_assert_int_eq(bk_call_sync(c, "loopback", "call", &v, "fs", rec_fn, &ns->deepest, rec_destroy, "inner"),
			 0);
	ck_assert(cJSON_IsNumber(v));
	bk_json_delete(v);
	ck_assert_int_eq(bk_call_sync(c, "loopback", "echo", &v, "s", "inner"), 0);
	snprintf(ns->inner, sizeof ns->inner, "%s", v->valuestring);
	bk_json_delete(v);
	ck_assert_int_eq(bk_args_return(a, "x", ns->v2), 0);
}

START_TEST(nested_callbacks_both_ways)
{
	struct nest ns = { 0 };
	cJSON *ctr = NULL, *res = NULL;

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, "i", 5), 0);
	ns.next = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(ctr, "next"));
	ck_assert_ptr_nonnull(ns.next);

	/* {"deep":[{"cb": f}]}: a function of this program deep inside a value */
	cJSON *value = cJSON_CreateObject();
	cJSON *deep = cJSON_AddArrayToObject(value, "deep");
	cJSON *holder = cJSON_CreateObject();
	cJSON_AddItemToArray(deep, holder);
	cJSON_AddItemToObject(holder, "cb", bk_json_function(nest_fn, &ns, NULL));
	cJSON_AddItemToArray(deep, cJSON_CreateString("not a function"));
	ck_assert(bk_json_is_function(cJSON_GetObjectItemCaseSensitive(holder, "cb")));

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "callAll", &res, "jF", value, ns.next), 0);
	ck_assert_int_eq(ns.calls, 1);
	ck_assert(ns.same_fn);
	ck_assert_int_eq(ns.v1, 6);	/* makeCounter(5): next() gives 6, 7, ... */
	ck_assert_int_eq(ns.v2, 7);
	ck_assert_str_eq(ns.inner, "inner");
	ck_assert_int_eq(ns.deepest.calls, 1);
	ck_assert_str_eq(cJSON_GetArrayItem(ns.deepest.last, 0)->valuestring, "inner");
	ck_assert(cJSON_IsArray(res));
	ck_assert_int_eq(cJSON_GetArraySize(res), 1);
	ck_assert(cJSON_GetArrayItem(res, 0)->valuedouble == (double)ns.v2);
	bk_json_delete(res);
	bk_json_delete(value);

	/* host functions deep inside a value go back to the host as themselves */
	value = cJSON_CreateObject();
	deep = cJSON_AddArrayToObject(value, "list");
	holder = cJSON_CreateObject();
	cJSON_AddItemToArray(deep, holder);
	cJSON_AddItemToObject(holder, "n", bk_json_host_function(ns.next));
	ck_assert(bk_json_is_function(cJSON_GetObjectItemCaseSensitive(holder, "n")));
	ck_assert_ptr_eq(bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(holder, "n")), ns.next);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "callAll", &res, "j", value), 0);
	ck_assert_int_eq(cJSON_GetArraySize(res), 1);
	ck_assert(cJSON_GetArrayItem(res, 0)->valuedouble == (double)(ns.v2 + 1));
	bk_json_delete(res);
	bk_json_delete(value);

	bk_json_delete(ctr);
	ck_assert_int_eq(pump_until(conn, &ns.deepest.destroyed, 1, 2000), 1);
	ck_assert_int_eq(self_stat("exports"), 0);
	ck_assert_int_eq(self_stat("imports"), 0);
	rec_clear(&ns.deepest);
}
END_TEST

/* ---- identity of functions of this program ---------------------------------- */

START_TEST(echo_returns_the_same_function)
{
	struct rec r = { 0 };
	cJSON *res = NULL, *back = NULL;

	ck_assert_int_eq(self_stat("imports"), 0);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "store", NULL, "sf", "id-a", rec_fn, &r, rec_destroy), 0);
	ck_assert_int_eq(self_stat("imports"), 1);

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "f", rec_fn, &r, rec_destroy), 0);
	ck_assert(bk_json_is_function(res));
	ck_assert_ptr_null(bk_json_get_fn(res));
	ck_assert_int_eq(self_stat("imports"), 1);

	/* the echoed node is the same function: same token to the host */
	store_json("id-b", res);
	ck_assert_int_eq(self_stat("imports"), 1);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "store", NULL, "sf", "id-c", rec_fn, &r, rec_destroy), 0);
	ck_assert_int_eq(self_stat("imports"), 1);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &back, "j", res), 0);
	ck_assert(bk_json_is_function(back));
	bk_json_delete(back);

	/* calling it through the host reaches this program */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &back, "js", res, "x"), 0);
	ck_assert_int_eq(r.calls, 1);
	ck_assert(back->valuedouble == 1.0);
	bk_json_delete(back);
	/* and fetched from the host it is still a function of this program */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "fetch", &back, "s", "id-b"), 0);
	ck_assert(bk_json_is_function(back));
	ck_assert_ptr_null(bk_json_get_fn(back));
	bk_json_delete(back);

	ck_assert_int_eq(self_stat("imports"), 1);
	drop_key("id-a");
	drop_key("id-b");
	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);
	ck_assert_int_eq(r.destroyed, 0);
	ck_assert_int_eq(self_stat("imports"), 1);
	phase = 1;
	drop_key("id-c");
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	ck_assert_int_eq(r.destroy_phase, 1);
	ck_assert_int_eq(self_stat("imports"), 0);
	ck_assert_int_eq(r.destroyed, 1);
	bk_json_delete(res);
	rec_clear(&r);
}
END_TEST

/* ---- registrations -------------------------------------------------------------- */

START_TEST(on_twice_off_identity)
{
	struct rec r = { 0 };
	const char *ev = "identity-ev";

	ck_assert_int_eq(bk_on(conn, "loopback", ev, rec_fn, &r, rec_destroy, NULL), 0);
	ck_assert_int_eq(bk_on(conn, "loopback", ev, rec_fn, &r, rec_destroy, NULL), 0);
	ck_assert_int_eq(self_stat("handlers"), 2);
	ck_assert_int_eq(self_stat("imports"), 1);
	ck_assert_int_eq(loopback_num("listenerCount", ev), 2);
	ck_assert_int_eq(emit0(ev), 2);
	ck_assert_int_eq(pump_until(conn, &r.calls, 2, 2000), 2);

	ck_assert_int_eq(bk_off(conn, "loopback", ev, rec_fn, &r), 1);
	ck_assert_int_eq(emit0(ev), 1);
	ck_assert_int_eq(pump_until(conn, &r.calls, 3, 2000), 3);
	ck_assert_int_eq(r.destroyed, 0);

	phase = 2;
	ck_assert_int_eq(bk_off(conn, "loopback", ev, rec_fn, &r), 1);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	ck_assert_int_eq(r.destroy_phase, 2);
	phase = 3;
	ck_assert_int_eq(emit0(ev), 0);
	ck_assert_int_eq(bk_off(conn, "loopback", ev, rec_fn, &r), 0);
	ck_assert_int_eq(loopback_num("listenerCount", ev), 0);
	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);
	ck_assert_int_eq(r.calls, 3);
	ck_assert_int_eq(r.destroyed, 1);
	ck_assert_int_eq(self_stat("handlers"), 0);
	ck_assert_int_eq(self_stat("imports"), 0);

	/* another userdata is another function: off does not find it */
	struct rec other = { 0 };
	ck_assert_int_eq(bk_on(conn, "loopback", ev, rec_fn, &r, rec_destroy, NULL), 0);
	ck_assert_int_eq(bk_off(conn, "loopback", ev, rec_fn, &other), 0);
	ck_assert_int_eq(bk_off(conn, "loopback", ev, rec_fn, &r), 1);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 2, 2000), 2);
	ck_assert_int_eq(other.destroyed, 0);
	rec_clear(&r);
}
END_TEST

START_TEST(slot_unref_removes_registration)
{
	struct rec r = { 0 };
	bk_slot *s = NULL;
	const char *ev = "slot-ev";

	ck_assert_ptr_null(bk_slot_unref(NULL));
	ck_assert_int_eq(bk_on(conn, "loopback", ev, rec_fn, &r, rec_destroy, &s), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert(bk_slot_is_active(s));
	ck_assert_int_eq(emit0(ev), 1);
	ck_assert_int_eq(pump_until(conn, &r.calls, 1, 2000), 1);

	/* a second reference keeps it */
	ck_assert_ptr_eq(bk_slot_ref(s), s);
	ck_assert_ptr_null(bk_slot_unref(s));
	ck_assert(bk_slot_is_active(s));
	ck_assert_int_eq(emit0(ev), 1);
	ck_assert_int_eq(pump_until(conn, &r.calls, 2, 2000), 2);
	ck_assert_int_eq(r.destroyed, 0);

	/* the last one removes it */
	phase = 1;
	ck_assert_ptr_null(bk_slot_unref(s));
	ck_assert_int_eq(emit0(ev), 0);
	ck_assert_int_eq(loopback_num("listenerCount", ev), 0);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	ck_assert_int_eq(r.destroy_phase, 1);
	ck_assert_int_eq(r.calls, 2);
	ck_assert_int_eq(self_stat("handlers"), 0);
	ck_assert_int_eq(self_stat("imports"), 0);
	rec_clear(&r);
}
END_TEST

START_TEST(once_fires_once)
{
	struct rec r = { 0 }, f = { 0 };
	bk_slot *s = NULL;
	const char *ev = "once-ev";

	ck_assert_int_eq(bk_once(conn, "loopback", ev, rec_fn, &r, rec_destroy, &s), 0);
	ck_assert(bk_slot_is_active(s));
	ck_assert_int_eq(loopback_num("listenerCount", ev), 1);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "emit", NULL, "si", ev, 17), 0);
	ck_assert_int_eq(pump_until(conn, &r.calls, 1, 2000), 1);
	ck_assert(cJSON_GetArrayItem(r.last, 0)->valuedouble == 17.0);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	ck_assert(!bk_slot_is_active(s));
	ck_assert_int_eq(emit0(ev), 0);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_ptr_null(bk_slot_unref(s));
	ck_assert_int_eq(emit0(ev), 0);

	/* floating */
	ck_assert_int_eq(bk_once(conn, "loopback", ev, rec_fn, &f, rec_destroy, NULL), 0);
	ck_assert_int_eq(emit0(ev), 1);
	ck_assert_int_eq(pump_until(conn, &f.destroyed, 1, 2000), 1);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(emit0(ev), 0);

	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);
	ck_assert_int_eq(r.destroyed + f.destroyed, 2);
	ck_assert_int_eq(self_stat("handlers"), 0);
	ck_assert_int_eq(self_stat("imports"), 0);
	rec_clear(&r);
	rec_clear(&f);
}
END_TEST

START_TEST(floating_slots_belong_to_the_connection)
{
	struct rec a = { 0 }, b = { 0 };
	const char *ev = "floating-ev";

	ck_assert_int_eq(bk_on(conn, "loopback", ev, rec_fn, &a, rec_destroy, NULL), 0);
	ck_assert_int_eq(bk_on(conn, "loopback", ev, rec_fn, &b, rec_destroy, NULL), 0);
	ck_assert_int_eq(emit0(ev), 2);
	ck_assert_int_eq(pump_until(conn, &b.calls, 1, 2000), 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(bk_off(conn, "loopback", ev, rec_fn, &a), 1);
	ck_assert_int_eq(pump_until(conn, &a.destroyed, 1, 2000), 1);
	ck_assert_int_eq(emit0(ev), 1);
	ck_assert_int_eq(pump_until(conn, &b.calls, 2, 2000), 2);
	ck_assert_int_eq(b.destroyed, 0);

	/* closing the connection frees what the host still held */
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(b.destroyed, 1);
	ck_assert_int_eq(a.destroyed, 1);
	rec_clear(&a);
	rec_clear(&b);
}
END_TEST

/* ---- release of host functions ----------------------------------------------------- */

START_TEST(host_functions_released_when_dropped)
{
	cJSON *ctr = NULL, *res = NULL;

	ck_assert_int_eq(self_stat("exports"), 0);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, ""), 0);
	const cJSON *next_node = cJSON_GetObjectItemCaseSensitive(ctr, "next");
	ck_assert(bk_json_is_function(next_node));
	ck_assert(bk_json_is_function(cJSON_GetObjectItemCaseSensitive(ctr, "reset")));
	ck_assert_int_eq(self_stat("exports"), 2);

	bk_fn *next = bk_fn_ref(bk_json_get_fn(next_node));
	ck_assert_ptr_nonnull(next);
	ck_assert_ptr_eq(bk_fn_get_conn(next), conn);
	bk_json_delete(ctr);
	ck_assert_int_eq(self_stat("exports"), 1);
	ck_assert_int_eq(bk_fn_call_sync(next, &res, ""), 0);
	ck_assert(cJSON_IsNumber(res));
	bk_json_delete(res);
	ck_assert_ptr_null(bk_fn_unref(next));
	ck_assert_int_eq(self_stat("exports"), 0);
	ck_assert_ptr_null(bk_fn_unref(NULL));

	/* a deep copy keeps them alive until it is deleted */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, ""), 0);
	cJSON *copy = bk_json_dup(ctr);
	bk_json_delete(ctr);
	ck_assert_int_eq(self_stat("exports"), 2);
	ck_assert_int_eq(bk_fn_call_sync(bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(copy, "next")), &res, ""), 0);
	bk_json_delete(res);
	bk_json_delete(copy);
	ck_assert_int_eq(self_stat("exports"), 0);

	/* a host function node holds a reference of its own */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, ""), 0);
	cJSON *node = bk_json_host_function(bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(ctr, "reset")));
	bk_json_delete(ctr);
	ck_assert_int_eq(self_stat("exports"), 1);
	bk_json_delete(node);
	ck_assert_int_eq(self_stat("exports"), 0);

	/* the host no longer has the counter: nothing left over on its side */
	ck_assert_int_eq(self_stat("imports"), 0);
}
END_TEST

/* Look at the host function in the arguments without keeping it. */
static void peek_fn(bk_conn *c, bk_args *a, void *userdata)
{
	struct rec *r = userdata;
	cJSON *v = NULL;
	bk_fn *f = NULL;

	r->calls++;
	ck_assert_int_eq(bk_args_read(a, "F", &f), 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(bk_fn_call_sync(f, &v, ""), 0);
	r->value = (int64_t)v->valuedouble;
	bk_json_delete(v);
}

/* Keep a reference to the host function in the arguments. */
static void keep_fn(bk_conn *c, bk_args *a, void *userdata)
{
	struct rec *r = userdata;

	r->calls++;
	r->kept = bk_fn_ref(bk_args_fn(a, 0));
	ck_assert_ptr_nonnull(r->kept);
}

START_TEST(handler_arguments_released_after_handler)
{
	struct rec peek = { 0 }, keep = { 0 };
	cJSON *ctr = NULL, *res = NULL;

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, "i", 100), 0);
	bk_fn *next = bk_fn_ref(bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(ctr, "next")));
	bk_json_delete(ctr);

	/* the host keeps next inside callLater; this program drops it */
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "callLater", NULL, "ifF", 30, peek_fn, &peek, rec_destroy,
				      next), 0);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "callLater", NULL, "ifF", 30, keep_fn, &keep, rec_destroy,
				      next), 0);
	next = bk_fn_unref(next);
	ck_assert_int_eq(self_stat("exports"), 0);

	ck_assert_int_eq(pump_until(conn, &peek.destroyed, 1, 3000), 1);
	ck_assert_int_eq(pump_until(conn, &keep.destroyed, 1, 3000), 1);
	ck_assert_int_eq(peek.calls, 1);
	ck_assert_int_eq(keep.calls, 1);
	ck_assert_int_eq(peek.value, 101);

	/* what the handler kept is still alive, what it did not is released */
	ck_assert_int_eq(self_stat("exports"), 1);
	ck_assert_int_eq(bk_fn_call_sync(keep.kept, &res, ""), 0);
	ck_assert_int_gt((int64_t)res->valuedouble, peek.value);
	bk_json_delete(res);
	keep.kept = bk_fn_unref(keep.kept);
	ck_assert_int_eq(self_stat("exports"), 0);
	rec_clear(&peek);
	rec_clear(&keep);
}
END_TEST

/* A host function received twice (as arguments while this program holds it)
 * is one import; it is released when the last holder lets go. */
START_TEST(host_function_received_while_held)
{
	struct rec r = { 0 };
	cJSON *ctr = NULL, *res = NULL;

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, ""), 0);
	bk_fn *next = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(ctr, "next"));
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "call", &res, "fF", keep_fn, &r, NULL, next), 0);
	bk_json_delete(res);
	ck_assert_ptr_eq(r.kept, next);
	ck_assert_int_eq(self_stat("exports"), 2);
	bk_json_delete(ctr);
	ck_assert_int_eq(self_stat("exports"), 1);
	ck_assert_int_eq(bk_fn_call_sync(r.kept, &res, ""), 0);
	bk_json_delete(res);
	r.kept = bk_fn_unref(r.kept);
	ck_assert_int_eq(self_stat("exports"), 0);
	rec_clear(&r);
}
END_TEST

/* Function nodes copied with cJSON_Duplicate, freed with cJSON_Delete or
 * forged with cJSON_CreateRaw never unbalance what the host counts: it sees
 * the releases of the nodes libbotkit made, and nothing else. */
START_TEST(function_node_copies_against_the_host)
{
	cJSON *ctr = NULL, *res = NULL;
	char old_host[64];

	ck_assert_int_eq(bk_call_sync(conn, "loopback", "makeCounter", &ctr, ""), 0);
	ck_assert_int_eq(self_stat("exports"), 2);
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(ctr, "next");
	bk_fn *f = bk_json_get_fn(next);
	ck_assert_ptr_nonnull(f);
	snprintf(old_host, sizeof old_host, "R:%" PRIxPTR, (uintptr_t)f);

	/* a plain copy is refused, and freeing it releases nothing */
	cJSON *d = cJSON_Duplicate(ctr, true);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "j", d), -EINVAL);
	ck_assert_int_eq(bk_json_delete(d), -EINVAL);
	/* so are forged nodes */
	const char *const forged[] = {
		old_host, next->valuestring, "R:10", "L:1", "",
		"\"<botkit function 123456789012345678901234567890>\"",
	};
	for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
		cJSON *x = cJSON_CreateRaw(forged[i]);
		ck_assert_int_eq(bk_fn_call_sync(f, &res, "j", x), -EINVAL);
		ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "sj", "x", x), -EINVAL);
		ck_assert_int_eq(bk_json_delete(x), -EINVAL);
	}
	ck_assert_int_eq(self_stat("exports"), 2);
	ck_assert_int_eq(bk_fn_call_sync(f, &res, ""), 0);
	bk_json_delete(res);

	/* a counted copy, then the original freed by cJSON_Delete: the copy
	 * works and goes, while the forgotten nodes keep their references */
	cJSON *copy = bk_json_dup(ctr);
	cJSON_Delete(ctr);
	ck_assert_int_eq(self_stat("exports"), 2);
	ck_assert_int_eq(bk_fn_call_sync(bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(copy, "next")), &res, ""), 0);
	bk_json_delete(res);
	ck_assert_int_eq(bk_json_delete(copy), 0);
	ck_assert_int_eq(self_stat("exports"), 2);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "s", "still here"), 0);
	ck_assert_str_eq(cJSON_GetStringValue(res), "still here");
	bk_json_delete(res);

	/* until the connection ends: a new one starts clean */
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(bk_conn_new_path(&conn, host.path, "test_botkit"), 0);
	ck_assert_int_eq(self_stat("exports"), 0);
}
END_TEST

/* ---- bk_run ---------------------------------------------------------------------- */

START_TEST(run_returns_when_idle)
{
	struct rec r = { 0 };

	ck_assert(bk_conn_is_idle(conn));
	uint64_t t0 = test_now_ms();
	ck_assert_int_eq(bk_call(conn, "loopback", "callLater", NULL, NULL, "ifs", 50, rec_fn, &r, rec_destroy,
				 "later"), 0);
	ck_assert(!bk_conn_is_idle(conn));
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_uint_ge(test_now_ms() - t0, 45);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_str_eq(cJSON_GetArrayItem(r.last, 0)->valuestring, "later");
	ck_assert_int_eq(r.destroyed, 1);
	ck_assert(bk_conn_is_idle(conn));
	ck_assert(bk_conn_is_connected(conn));
	/* idle at once */
	ck_assert_int_eq(bk_run(conn), 0);
	rec_clear(&r);
}
END_TEST

/* Stop bk_run from inside a call. */
static void stop_fn(bk_conn *c, bk_args *a, void *userdata)
{
	int *stops = userdata;

	(*stops)++;
	bk_stop(bk_args_get_conn(a));
}

START_TEST(run_returns_on_stop)
{
	struct rec r = { 0 };
	int stops = 0;

	/* a registration keeps the connection busy forever */
	ck_assert_int_eq(bk_on(conn, "loopback", "stop-ev", rec_fn, &r, rec_destroy, NULL), 0);
	ck_assert(!bk_conn_is_idle(conn));
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "callLater", NULL, "if", 30, stop_fn, &stops, NULL), 0);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(stops, 1);
	ck_assert(bk_conn_is_connected(conn));
	ck_assert(!bk_conn_is_idle(conn));
	ck_assert_int_eq(emit0("stop-ev"), 1);
	ck_assert_int_eq(pump_until(conn, &r.calls, 1, 2000), 1);
	ck_assert_int_eq(bk_off(conn, "loopback", "stop-ev", rec_fn, &r), 1);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(r.destroyed, 1);
	rec_clear(&r);
}
END_TEST

/* ---- the libev adapter -------------------------------------------------------------- */

struct ev_seq {
	struct ev_loop *loop;
	struct rec handler;	/* the registered function */
	int on_done, emit_done, off_done;
	long reached;		/* what emit returned */
	bool removed;		/* what off returned */
	int errors;
};

/* The off answered; the host's release of the handler follows. */
static void ev_seq_off_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct ev_seq *s = userdata;

	s->off_done++;
	if (err)
		s->errors++;
	else
		s->removed = cJSON_IsTrue(result);
}

/* The emit answered: remove the registration. */
static void ev_seq_emit_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct ev_seq *s = userdata;

	s->emit_done++;
	if (err) {
		s->errors++;
		ev_break(s->loop, EVBREAK_ALL);
		return;
	}
	s->reached = (long)result->valuedouble;
	if (bk_call(c, "loopback", "off", ev_seq_off_cb, s, "sf", "ev-seq", rec_fn, &s->handler, rec_destroy) < 0)
		s->errors++;
}

/* The registration is in place: emit. */
static void ev_seq_on_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct ev_seq *s = userdata;

	s->on_done++;
	if (err || bk_call(c, "loopback", "emit", ev_seq_emit_cb, s, "si", "ev-seq", 5) < 0) {
		s->errors++;
		ev_break(s->loop, EVBREAK_ALL);
	}
}

/* Give up if the sequence stalls. */
static void ev_seq_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	int *expired = w->data;

	*expired = 1;
	ev_break(loop, EVBREAK_ALL);
}

START_TEST(libev_adapter_drives_a_connection)
{
	struct ev_seq s = { 0 };
	int expired = 0;
	ev_timer guard;

	s.loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(s.loop);
	bk_ev *e = bk_ev_attach(s.loop, conn);
	ck_assert_ptr_nonnull(e);
	/* a guard that does not keep the loop running by itself */
	ev_timer_init(&guard, ev_seq_timeout_cb, 5.0, 0.);
	guard.data = &expired;
	ev_timer_start(s.loop, &guard);
	ev_unref(s.loop);

	ck_assert_int_eq(bk_on_async(conn, "loopback", "ev-seq", rec_fn, &s.handler, rec_destroy, NULL,
				     ev_seq_on_cb, &s), 0);
	/* returns by itself once the connection is idle: the handler released */
	ev_run(s.loop, 0);

	ck_assert_int_eq(expired, 0);
	ck_assert_int_eq(s.errors, 0);
	ck_assert_int_eq(s.on_done, 1);
	ck_assert_int_eq(s.emit_done, 1);
	ck_assert_int_eq(s.off_done, 1);
	ck_assert_int_eq(s.reached, 1);
	ck_assert(s.removed);
	ck_assert_int_eq(s.handler.calls, 1);
	ck_assert(cJSON_GetArrayItem(s.handler.last, 0)->valuedouble == 5.0);
	ck_assert_int_eq(s.handler.destroyed, 1);
	ck_assert(bk_conn_is_idle(conn));

	ev_ref(s.loop);
	ev_timer_stop(s.loop, &guard);
	bk_ev_detach(e);
	ev_loop_destroy(s.loop);
	ck_assert_int_eq(bk_call_sync(conn, "host", "ping", NULL, ""), 0);
	rec_clear(&s.handler);
}
END_TEST

/* All tests share one host; each gets its own connection. */
static Suite *botkit_suite(void)
{
	Suite *s = suite_create("botkit");
	TCase *tc = tcase_create("real host");

	tcase_add_unchecked_fixture(tc, host_setup, host_teardown);
	tcase_add_checked_fixture(tc, conn_setup, conn_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, connect_and_introspect);
	tcase_add_test(tc, ping_and_echo_every_letter);
	tcase_add_test(tc, answers_of_this_program);
	tcase_add_test(tc, escaping_round_trip);
	tcase_add_test(tc, typed_errors);
	tcase_add_test(tc, error_name_mapping);
	tcase_add_test(tc, per_call_deadline);
	tcase_add_test(tc, async_completion_after_return);
	tcase_add_test(tc, nested_callbacks_both_ways);
	tcase_add_test(tc, echo_returns_the_same_function);
	tcase_add_test(tc, on_twice_off_identity);
	tcase_add_test(tc, slot_unref_removes_registration);
	tcase_add_test(tc, once_fires_once);
	tcase_add_test(tc, floating_slots_belong_to_the_connection);
	tcase_add_test(tc, host_functions_released_when_dropped);
	tcase_add_test(tc, handler_arguments_released_after_handler);
	tcase_add_test(tc, host_function_received_while_held);
	tcase_add_test(tc, function_node_copies_against_the_host);
	tcase_add_test(tc, run_returns_when_idle);
	tcase_add_test(tc, run_returns_on_stop);
	tcase_add_test(tc, libev_adapter_drives_a_connection);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(botkit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
