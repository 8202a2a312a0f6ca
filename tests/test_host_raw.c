/* SPDX-License-Identifier: ISC */
/* Conformance of bothost to docs/PROTOCOL.md, spoken as raw NDJSON. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "rawclient.h"

static struct test_host H;

/* ---- JSON helpers ------------------------------------------------------ */

/* Follow a path of object keys. */
static const cJSON *jpath(const cJSON *o, const char *k1, const char *k2, const char *k3)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k1);

	if (k2)
		v = cJSON_GetObjectItemCaseSensitive(v, k2);
	if (k3)
		v = cJSON_GetObjectItemCaseSensitive(v, k3);
	return v;
}

/* The user data a wire value stands for: $esc objects unwrapped (no tokens expected). */
static cJSON *unescape(const cJSON *v)
{
	const cJSON *e;
	cJSON *out;

	if (cJSON_IsArray(v)) {
		out = cJSON_CreateArray();
		cJSON_ArrayForEach(e, v)
			cJSON_AddItemToArray(out, unescape(e));
		return out;
	}
	if (!cJSON_IsObject(v))
		return cJSON_Duplicate(v, true);
	const cJSON *inner = cJSON_GetObjectItemCaseSensitive(v, "$esc");
	if (inner && cJSON_GetArraySize(v) == 1)
		v = inner;
	out = cJSON_CreateObject();
	cJSON_ArrayForEach(e, v)
		cJSON_AddItemToObject(out, e->string, unescape(e));
	return out;
}

/* ---- the host under test ----------------------------------------------- */

/* Start a private bothost with --log-level warn and the given options. */
#define HOST_UP(...) cl_host_up(&H, (const char *const[]){ __VA_ARGS__, NULL })

/* Teardown (a fixture takes no arguments). */
static void host_down(void)
{
	cl_host_down(&H);
}

/* ---- raw clients --------------------------------------------------------- */

/* Connect without a handshake. */
static void cl_connect(struct cl *c)
{
	memset(c, 0, sizeof *c);
	int r = test_raw_connect(&c->r, H.path);
	ck_assert_msg(r == 0, "connect %s: %s", H.path, strerror(-r));
	c->q = cJSON_CreateArray();
}

/* Wait for an event notification (an invoke without id) of fn with exactly these args. */
static void cl_see_event(struct cl *c, long long fn, const char *args)
{
	char pattern[4096];

	snprintf(pattern, sizeof pattern, "{\"t\":\"invoke\",\"fn\":%lld,\"args\":%s}", fn, args);
	cJSON *m = cl_take(c, pattern);
	ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(m, "id"), "event with an id: %s", jstr(m));
	json_is(cJSON_GetObjectItemCaseSensitive(m, "args"), args);
	cJSON_Delete(m);
}

/* The connection gets a connection error with this name (no id) and is closed. */
static void cl_conn_error(struct cl *c, const char *name)
{
	char pattern[128];

	snprintf(pattern, sizeof pattern, "{\"t\":\"error\",\"error\":{\"name\":\"%s\"}}", name);
	cJSON *m = cl_take(c, pattern);
	ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(m, "id"), "connection error with an id: %s", jstr(m));
	ck_assert_msg(jget_str(cJSON_GetObjectItemCaseSensitive(m, "error"), "message") != NULL,
		      "error without a message: %s", jstr(m));
	cJSON_Delete(m);
	ck_assert_msg(test_raw_closed(&c->r, CL_WAIT_MS), "the host did not close after %s", name);
}

/* A fresh client that completes a ping: the host keeps serving. */
static void host_serving(void)
{
	struct cl c;

	cl_open(&c, H.path, "probe");
	cl_quiet(&c);
	cl_close(&c);
}

/* ---- handshake ------------------------------------------------------------ */

/* Assert that method m of an introspected object takes these argument types. */
static const cJSON *method_args(const cJSON *objects, const char *obj, const char *method, int n)
{
	const cJSON *m = jpath(objects, obj, "methods", method);
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(m, "args");

	ck_assert_msg(cJSON_IsObject(m), "introspection lacks %s.%s", obj, method);
	ck_assert_msg(cJSON_IsArray(args) && (n < 0 || cJSON_GetArraySize(args) == n),
		      "%s.%s args: %s", obj, method, jstr(args));
	return args;
}

/* Assert argument i is {"type":type[,"kind":kind]} with a name. */
static void arg_is(const cJSON *args, int i, const char *type, const char *kind)
{
	const cJSON *a = cJSON_GetArrayItem(args, i);

	ck_assert_msg(jget_str(a, "name") != NULL, "argument %d has no name: %s", i, jstr(args));
	ck_assert_msg(jget_str(a, "type") && !strcmp(jget_str(a, "type"), type),
		      "argument %d: want type %s in %s", i, type, jstr(args));
	if (kind)
		ck_assert_msg(jget_str(a, "kind") && !strcmp(jget_str(a, "kind"), kind),
			      "argument %d: want kind %s in %s", i, kind, jstr(args));
}

/* Assert argument i is a number (integer or number). */
static void arg_is_number(const cJSON *args, int i)
{
	const char *type = jget_str(cJSON_GetArrayItem(args, i), "type");

	ck_assert_msg(type && (!strcmp(type, "integer") || !strcmp(type, "number")),
		      "argument %d: want a number type in %s", i, jstr(args));
}

/* Assert that argument i is marked rest: true. */
static void arg_rest(const cJSON *args, int i)
{
	ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(args, i), "rest")),
		      "argument %d should be rest: %s", i, jstr(args));
}

/* The loopback object's introspection lists every method with argument kinds. */
static void check_loopback_introspection(const cJSON *objects)
{
	static const char *const methods[] = { "echo", "call", "callAll", "callLater", "store", "fetch",
		"drop", "emit", "makeCounter", "sleep", "fail", "on", "once", "off",
		"removeAllListeners", "listenerCount" };
	const cJSON *args;

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		method_args(objects, "loopback", methods[i], -1);
	ck_assert_msg(jpath(objects, "loopback", "events", "*") != NULL, "loopback events: %s",
		      jstr(jpath(objects, "loopback", "events", NULL)));
	arg_is(method_args(objects, "loopback", "echo", 1), 0, "any", NULL);
	args = method_args(objects, "loopback", "call", 2);
	arg_is(args, 0, "function", "callback");
	arg_rest(args, 1);
	args = method_args(objects, "loopback", "callLater", 3);
	arg_is_number(args, 0);
	arg_is(args, 1, "function", "once");
	arg_rest(args, 2);
	args = method_args(objects, "loopback", "on", 3);
	arg_is(args, 0, "string", NULL);
	arg_is(args, 1, "function", "registration");
	arg_is(args, 2, "any", NULL);	/* the optional filter */
	args = method_args(objects, "loopback", "once", 3);
	arg_is(args, 1, "function", "registration");
	arg_is_number(method_args(objects, "loopback", "sleep", 1), 0);
	args = method_args(objects, "loopback", "emit", 2);
	arg_is(args, 0, "string", NULL);
	arg_rest(args, 1);
}

/* Welcome fields, default limits, introspection of host and loopback, clients and stats. */
START_TEST(test_handshake_welcome)
{
	struct cl a, b;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "raw-a");
	const cJSON *w = a.welcome;
	json_is(cJSON_GetObjectItemCaseSensitive(w, "t"), "\"welcome\"");
	json_is(cJSON_GetObjectItemCaseSensitive(w, "version"), "1");
	ck_assert_msg(jget_str(w, "server") && !strncmp(jget_str(w, "server"), "bothost", 7),
		      "server: %s", jstr(w));
	long long id_a = jget_int(w, "client");
	ck_assert_int_ge(id_a, 1);
	json_has(cJSON_GetObjectItemCaseSensitive(w, "limits"),
		"{\"frame_max\":1048576,\"output_max\":4194304,\"tokens_max\":4096,"
		"\"handlers_max\":1024,\"pending_max\":4096,\"clients_max\":4096,\"clients_per_user\":64}");
	const cJSON *objects = cJSON_GetObjectItemCaseSensitive(w, "objects");
	method_args(objects, "host", "ping", 0);
	method_args(objects, "host", "introspect", 0);
	method_args(objects, "host", "stats", 0);
	method_args(objects, "host", "clients", 0);
	check_loopback_introspection(objects);

	cJSON *intro = cl_ok(&a, "host", "introspect", "[]");
	ck_assert_msg(cJSON_Compare(intro, objects, true), "introspect differs from welcome.objects");
	cJSON_Delete(intro);
	cl_ok_is(&a, "host", "ping", "[]", "\"pong\"");

	cl_open(&b, H.path, "raw-b");
	long long id_b = jget_int(b.welcome, "client");
	ck_assert_int_ne(id_a, id_b);
	cJSON *clients = cl_ok(&b, "host", "clients", "[]");
	const cJSON *e;
	int found = 0;
	cJSON_ArrayForEach(e, clients) {
		if (jget_int(e, "id") != id_a)
			continue;
		found++;
		ck_assert_str_eq(jget_str(e, "name"), "raw-a");
		ck_assert_int_eq(jget_int(e, "pid"), getpid());
		ck_assert_int_eq(jget_int(e, "uid"), getuid());
		ck_assert_int_eq(jget_int(e, "handlers"), 0);
	}
	ck_assert_msg(found == 1, "client %lld not in host.clients: %s", id_a, jstr(clients));
	cJSON_Delete(clients);

	cJSON *stats = cl_ok(&b, "host", "stats", "[]");
	static const char *const fields[] = { "clients", "handlers", "imports", "exports",
		"pending_in", "pending_out", "queued_bytes", "functions" };
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		jget_int(stats, fields[i]);
	ck_assert_int_eq(jget_int(stats, "clients"), 2);
	ck_assert_msg(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(stats, "self")), "stats: %s", jstr(stats));
	cJSON_Delete(stats);
	cl_quiet(&a);
	cl_quiet(&b);
	cl_close(&a);
	cl_close(&b);
}
END_TEST

/* Limit options show in welcome.limits; without --loopback there is no loopback. */
START_TEST(test_handshake_options)
{
	struct cl a;

	HOST_UP("--frame-max", "2048", "--output-max", "100000", "--tokens-max", "10",
		"--handlers-max", "5", "--pending-max", "7", "--clients-max", "9", "--clients-per-user", "4");
	cl_open(&a, H.path, "limits");
	json_has(cJSON_GetObjectItemCaseSensitive(a.welcome, "limits"),
		"{\"frame_max\":2048,\"output_max\":100000,\"tokens_max\":10,"
		"\"handlers_max\":5,\"pending_max\":7,\"clients_max\":9,\"clients_per_user\":4}");
	const cJSON *objects = cJSON_GetObjectItemCaseSensitive(a.welcome, "objects");
	ck_assert_msg(jpath(objects, "host", NULL, NULL) != NULL, "no host object");
	ck_assert_msg(jpath(objects, "loopback", NULL, NULL) == NULL, "loopback without --loopback");
	cl_err(&a, "loopback", "echo", "[1]", "NoSuchObject");
	cl_quiet(&a);
	cl_close(&a);
}
END_TEST

/* A hello of another version gets VersionMismatch with data.version, then close. */
START_TEST(test_handshake_version)
{
	struct cl a, by;

	HOST_UP("--loopback");
	cl_open(&by, H.path, "bystander");
	cl_connect(&a);
	cl_send(&a, "{\"t\":\"hello\",\"version\":2,\"name\":\"future\"}");
	cJSON *m = cl_take(&a, "{\"t\":\"error\"}");
	json_is(jpath(m, "error", "name", NULL), "\"VersionMismatch\"");
	json_is(jpath(m, "error", "data", NULL), "{\"version\":1}");
	ck_assert_msg(jget_str(cJSON_GetObjectItemCaseSensitive(m, "error"), "message"), "%s", jstr(m));
	ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(m, "id"), "%s", jstr(m));
	cJSON_Delete(m);
	ck_assert_msg(test_raw_closed(&a.r, CL_WAIT_MS), "not closed after VersionMismatch");
	cl_close(&a);
	cl_quiet(&by);
	cl_close(&by);
	host_serving();
}
END_TEST

/* Anything before hello, or a second hello, is a ProtocolError; messages may follow hello at once. */
START_TEST(test_handshake_order)
{
	struct cl a, by;

	HOST_UP("--loopback");
	cl_open(&by, H.path, "bystander");

	cl_connect(&a);
	cl_send(&a, "{\"t\":\"call\",\"id\":1,\"obj\":\"host\",\"method\":\"ping\",\"args\":[]}");
	cl_conn_error(&a, "ProtocolError");
	cl_close(&a);

	cl_connect(&a);
	cl_send(&a, "{\"t\":\"release\",\"fn\":1,\"count\":1}");
	cl_conn_error(&a, "ProtocolError");
	cl_close(&a);

	cl_open(&a, H.path, "twice");
	cl_send(&a, "{\"t\":\"hello\",\"version\":1}");
	cl_conn_error(&a, "ProtocolError");
	cl_close(&a);

	/* Messages right after hello, without waiting for welcome, run in order. */
	static const char eager[] = "{\"t\":\"hello\",\"version\":1}\n"
		"{\"t\":\"call\",\"id\":1,\"obj\":\"host\",\"method\":\"ping\"}\n";
	cl_connect(&a);
	ck_assert_int_eq(test_raw_write(&a.r, eager, sizeof eager - 1), 0);
	cJSON *m = test_raw_recv(&a.r, CL_WAIT_MS);
	json_is(cJSON_GetObjectItemCaseSensitive(m, "t"), "\"welcome\"");
	cJSON_Delete(m);
	m = test_raw_recv(&a.r, CL_WAIT_MS);
	json_is(m, "{\"t\":\"result\",\"id\":1,\"value\":\"pong\"}");
	cJSON_Delete(m);
	cl_close(&a);

	cl_quiet(&by);
	cl_close(&by);
	host_serving();
}
END_TEST

/* ---- framing ------------------------------------------------------------- */

/* Receive the next frame and assert it matches the pattern. */
static void recv_match(struct cl *c, const char *pattern)
{
	cJSON *pat = J(pattern);
	cJSON *m = test_raw_recv(&c->r, CL_WAIT_MS);
	bool ok = json_match(pat, m);

	cJSON_Delete(pat);
	ck_assert_msg(ok, "got %s, want %s", jstr(m), pattern);
	cJSON_Delete(m);
}

/* Frames split into one-byte writes are reassembled. */
START_TEST(test_frame_bytewise)
{
	static const char text[] =
		"{\"t\":\"hello\",\"version\":1,\"name\":\"slow\"}\n"
		"{\"t\":\"call\",\"id\":1,\"obj\":\"host\",\"method\":\"ping\",\"args\":[]}\r\n"
		"{\"t\":\"call\",\"id\":2,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[{\"k\":[\"\\u00e9\\n\",1.5]}]}\n";
	struct cl a;

	HOST_UP("--loopback");
	cl_connect(&a);
	for (size_t i = 0; i < sizeof text - 1; i++)
		ck_assert_int_eq(test_raw_write(&a.r, text + i, 1), 0);
	recv_match(&a, "{\"t\":\"welcome\",\"version\":1}");
	recv_match(&a, "{\"t\":\"result\",\"id\":1,\"value\":\"pong\"}");
	recv_match(&a, "{\"t\":\"result\",\"id\":2,\"value\":{\"k\":[\"\\u00e9\\n\",1.5]}}");
	cl_quiet(&a);
	cl_close(&a);
}
END_TEST

/* Several frames in one write, CRLF endings and empty lines. */
START_TEST(test_frame_batch)
{
	static const char text[] =
		"\n\r\n{\"t\":\"hello\",\"version\":1}\r\n\n\n"
		"{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[1]}\n"
		"\r\n"
		"{\"t\":\"call\",\"id\":2,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[\"two\"]}\r\n"
		"{\"t\":\"call\",\"id\":3,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[[3]],\"extra\":{\"ignored\":true}}\n";
	struct cl a;

	HOST_UP("--loopback");
	cl_connect(&a);
	ck_assert_int_eq(test_raw_write(&a.r, text, sizeof text - 1), 0);
	recv_match(&a, "{\"t\":\"welcome\",\"version\":1}");
	recv_match(&a, "{\"t\":\"result\",\"id\":1,\"value\":1}");
	recv_match(&a, "{\"t\":\"result\",\"id\":2,\"value\":\"two\"}");
	recv_match(&a, "{\"t\":\"result\",\"id\":3,\"value\":[3]}");
	a.r.next_id = 3;
	cl_quiet(&a);
	cl_close(&a);
}
END_TEST

/* Malformed JSON, non-objects and malformed messages: ProtocolError, close, others unaffected. */
START_TEST(test_frame_bad)
{
	static const char *const bad[] = {
		"{\"t\":\"call\",\"id\":1,",		/* truncated JSON */
		"{\"t\":\"call\" \"id\":1}",		/* malformed JSON */
		"[1,2]", "42", "\"hello\"", "null", "true",	/* not objects */
		"{\"x\":1}",				/* no "t" */
		"{\"t\":7}",				/* "t" not a string */
		"{\"t\":\"shout\"}",			/* unknown "t" */
		"{\"t\":\"call\",\"id\":1,\"obj\":\"host\",\"method\":\"ping\",\"args\":{}}",
		"{\"t\":\"invoke\",\"fn\":\"x\",\"args\":[]}",
		"{\"t\":\"release\",\"fn\":1}",
		/* a key given twice: parsers disagree on which one wins */
		"{\"t\":\"call\",\"id\":1,\"id\":2,\"obj\":\"host\",\"method\":\"ping\"}",
		"{\"t\":\"call\",\"id\":1,\"obj\":\"host\",\"method\":\"ping\",\"args\":[],\"args\":[1]}",
		"{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[{\"a\":1,\"a\":2}]}",
		/* numbers beyond a double's range: they could not come back as they were */
		"{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[1e400]}",
		"{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[{\"x\":-2.5E+309}]}",
	};
	struct cl a, by;

	HOST_UP("--loopback");
	cl_open(&by, H.path, "bystander");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cl_open(&a, H.path, "bad");
		cl_send(&a, "%s", bad[i]);
		cl_conn_error(&a, "ProtocolError");
		cl_close(&a);
		cl_quiet(&by);
	}
	cl_close(&by);
	host_serving();
	cl_stats_clean(&H);
}
END_TEST

/* Send a loopback.echo call whose frame is exactly len bytes, ending in end; the string's length. */
static size_t send_sized_echo(struct cl *c, uint64_t id, size_t len, const char *end)
{
	char head[128];
	int n = snprintf(head, sizeof head,
			 "{\"t\":\"call\",\"id\":%llu,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[\"",
			 (unsigned long long)id);
	static const char tail[] = "\"]}";
	size_t fill = len - (size_t)n - (sizeof tail - 1);
	char *f = malloc(len + 3);

	memcpy(f, head, (size_t)n);
	memset(f + n, 'a', fill);
	memcpy(f + n + fill, tail, sizeof tail - 1);
	strcpy(f + len, end);
	ck_assert_int_eq(test_raw_write(&c->r, f, len + strlen(end)), 0);
	free(f);
	return fill;
}

/* Frames up to frame_max pass; longer ones (with or without a line feed) get FrameTooLarge. */
START_TEST(test_frame_too_large)
{
	struct cl a, by;

	HOST_UP("--loopback", "--frame-max", "1024");
	cl_open(&by, H.path, "bystander");
	ck_assert_int_eq(jget_int(jpath(by.welcome, "limits", NULL, NULL), "frame_max"), 1024);

	/* Exactly frame_max bytes, with LF and with CRLF, are accepted. */
	cl_open(&a, H.path, "edge");
	size_t fill = send_sized_echo(&a, 1, 1024, "\n");
	cJSON *v = result_value(cl_answer(&a, 1), "1024-byte frame");
	ck_assert_msg(cJSON_IsString(v) && strlen(v->valuestring) == fill, "echo: %s", jstr(v));
	cJSON_Delete(v);
	send_sized_echo(&a, 2, 1024, "\r\n");
	cJSON_Delete(result_value(cl_answer(&a, 2), "1024-byte frame + CRLF"));
	a.r.next_id = 2;
	cl_quiet(&a);
	cl_close(&a);

	cl_open(&a, H.path, "over");
	send_sized_echo(&a, 1, 1025, "\n");
	cl_conn_error(&a, "FrameTooLarge");
	cl_close(&a);

	/* A frame that never ends must not be buffered without bound. */
	cl_open(&a, H.path, "endless");
	send_sized_echo(&a, 1, 4000, "");
	cl_conn_error(&a, "FrameTooLarge");
	cl_close(&a);

	cl_quiet(&by);
	cl_close(&by);
	host_serving();
	cl_stats_clean(&H);
}
END_TEST

/* ---- calls and typed errors ---------------------------------------------- */

/* The name of argument i of obj.method in the welcome's introspection. */
static const char *arg_name(const struct cl *c, const char *obj, const char *method, int i)
{
	const cJSON *args = jpath(cJSON_GetObjectItemCaseSensitive(c->welcome, "objects"), obj, "methods", method);

	return jget_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(args, "args"), i), "name");
}

/* Typed errors of calls, and functions in failed calls released. */
START_TEST(test_call_errors)
{
	struct cl a;
	char msg[512];

	HOST_UP("--loopback");
	cl_open(&a, H.path, "errors");
	cl_err(&a, "nothere", "ping", "[]", "NoSuchObject");
	cl_err(&a, "host", "sya", "[]", "NoSuchMethod");
	cl_err(&a, "loopback", "echo", "[]", "InvalidArguments");
	cl_err(&a, "loopback", "echo", "[1,2]", "InvalidArguments");
	cl_err(&a, "host", "ping", "[1]", "InvalidArguments");
	cl_err(&a, "loopback", "call", "[1]", "InvalidArguments");
	cl_err(&a, "loopback", "emit", "[5]", "InvalidArguments");
	cl_err_msg(&a, "loopback", "sleep", "[\"soon\"]", "InvalidArguments", msg, sizeof msg);
	const char *name = arg_name(&a, "loopback", "sleep", 0);
	ck_assert_msg(name && strstr(msg, name), "message \"%s\" does not name argument %s", msg, name);

	/* "args" absent means []. */
	cl_send(&a, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"host\",\"method\":\"ping\"}",
		(unsigned long long)++a.r.next_id);
	cJSON *v = result_value(cl_answer(&a, a.r.next_id), "ping without args");
	json_is(v, "\"pong\"");
	cJSON_Delete(v);

	cJSON *m = cl_call(&a, "loopback", "fail", "[\"MyError\",\"it broke\"]");
	json_is(cJSON_GetObjectItemCaseSensitive(m, "error"), "{\"name\":\"MyError\",\"message\":\"it broke\"}");
	cJSON_Delete(m);

	/* host has no events: on is NoSuchEvent if it lists on, else NoSuchMethod;
	 * either way the function it received is released. */
	bool has_on = jpath(cJSON_GetObjectItemCaseSensitive(a.welcome, "objects"), "host", "methods", "on");
	cl_err(&a, "host", "on", "[\"message\",{\"$fn\":1}]", has_on ? "NoSuchEvent" : "NoSuchMethod");
	cl_see_release(&a, 1, 1);
	/* A function in a failed call's arguments is released too. */
	cl_err(&a, "loopback", "echo", "[{\"$fn\":2},{\"$fn\":2}]", "InvalidArguments");
	cl_see_release(&a, 2, 2);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* A call without a valid id is a ProtocolError. */
START_TEST(test_call_bad_id)
{
	static const char *const bad[] = {
		"{\"t\":\"call\",\"obj\":\"host\",\"method\":\"ping\",\"args\":[]}",
		"{\"t\":\"call\",\"id\":0,\"obj\":\"host\",\"method\":\"ping\",\"args\":[]}",
		"{\"t\":\"call\",\"id\":\"7\",\"obj\":\"host\",\"method\":\"ping\",\"args\":[]}",
		"{\"t\":\"call\",\"id\":1.5,\"obj\":\"host\",\"method\":\"ping\",\"args\":[]}",
		"{\"t\":\"call\",\"id\":1,\"method\":\"ping\",\"args\":[]}",
	};
	struct cl a, by;

	HOST_UP("--loopback");
	cl_open(&by, H.path, "bystander");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cl_open(&a, H.path, "bad-id");
		cl_send(&a, "%s", bad[i]);
		cl_conn_error(&a, "ProtocolError");
		cl_close(&a);
	}
	cl_quiet(&by);
	cl_close(&by);
}
END_TEST

/* ---- escaping ------------------------------------------------------------- */

/* User data shaped like tokens travels escaped and comes back unchanged. */
START_TEST(test_escape_roundtrip)
{
	/* Triples: what we send, what must come back, the user data both stand for. */
	static const char *const cases[][3] = {
		{ "{\"$esc\":{\"$fn\":1}}", NULL, "{\"$fn\":1}" },
		{ "{\"$esc\":{\"$yours\":2}}", NULL, "{\"$yours\":2}" },
		{ "{\"$esc\":{\"$esc\":{}}}", NULL, "{\"$esc\":{}}" },
		{ "{\"$esc\":{\"$x\":1,\"y\":2}}", NULL, "{\"$x\":1,\"y\":2}" },
		{ "[[{\"$esc\":{\"$fn\":1}}],{\"k\":[{\"$esc\":{\"$yours\":2}},\"$fn\"]}]", NULL,
		  "[[{\"$fn\":1}],{\"k\":[{\"$yours\":2},\"$fn\"]}]" },
		{ "{\"$esc\":{\"$a\":{\"$esc\":{\"$b\":[{\"$esc\":{\"$fn\":3}}]}},\"c\":{\"d$\":1}}}", NULL,
		  "{\"$a\":{\"$b\":[{\"$fn\":3}]},\"c\":{\"d$\":1}}" },
		/* An object without $-keys needs no escape, so it comes back bare. */
		{ "{\"$esc\":{\"a\":{\"$esc\":{}}}}", "{\"a\":{}}", "{\"a\":{}}" },
	};
	struct cl a;
	char args[1024];

	HOST_UP("--loopback");
	cl_open(&a, H.path, "escape");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(args, sizeof args, "[%s]", cases[i][0]);
		cJSON *v = cl_ok(&a, "loopback", "echo", args);
		cJSON *user = unescape(v);
		cJSON *want_wire = J(cases[i][1] ? cases[i][1] : cases[i][0]);
		cJSON *want_user = J(cases[i][2]);
		ck_assert_msg(cJSON_Compare(v, want_wire, true), "echo %s came back as %s", cases[i][0], jstr(v));
		ck_assert_msg(cJSON_Compare(user, want_user, true), "decodes to %s, want %s",
			      jstr(user), cases[i][2]);
		cJSON_Delete(want_user);
		cJSON_Delete(want_wire);
		cJSON_Delete(user);
		cJSON_Delete(v);
	}
	/* Escaped data in event payloads and stored values. */
	cl_ok_is(&a, "loopback", "on", "[\"tick\",{\"$fn\":1}]", "null");
	cl_ok_is(&a, "loopback", "emit", "[\"tick\",{\"$esc\":{\"$fn\":\"not a token\"}}]", "1");
	cl_see_event(&a, 1, "[{\"$esc\":{\"$fn\":\"not a token\"}}]");
	cl_ok_is(&a, "loopback", "store", "[\"k\",[{\"$esc\":{\"$yours\":9}}]]", "null");
	cl_ok_is(&a, "loopback", "fetch", "[\"k\"]", "[{\"$esc\":{\"$yours\":9}}]");
	cJSON_Delete(cl_ok(&a, "loopback", "drop", "[\"k\"]"));
	cl_ok_is(&a, "loopback", "off", "[\"tick\",{\"$fn\":1}]", "true");
	cl_see_release(&a, 1, 2);
	cl_quiet(&a);
	cl_close(&a);
}
END_TEST

/* A malformed $-object is InvalidArguments in a request and a ProtocolError in a result. */
START_TEST(test_escape_bad)
{
	static const char *const bad[] = {
		"[{\"$x\":1}]", "[{\"$fn\":\"a\"}]", "[{\"$fn\":1,\"b\":2}]", "[{\"$fn\":0}]",
		"[{\"$esc\":1}]", "[{\"$esc\":{},\"x\":1}]", "[{\"$yours\":1,\"x\":2}]",
		"[[1,{\"k\":{\"$bad\":true}}]]",
	};
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "bad-shapes");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cl_err(&a, "loopback", "echo", bad[i], "InvalidArguments");
	cl_quiet(&a);

	/* In a result (not a request) a bad $-object is a ProtocolError. */
	cl_send_call(&a, "loopback", "call", "[{\"$fn\":1}]");
	uint64_t inv = cl_take_invoke(&a, 1, "[]");
	cl_send(&a, "{\"t\":\"result\",\"id\":%llu,\"value\":{\"$bad\":1}}", (unsigned long long)inv);
	cl_conn_error(&a, "ProtocolError");
	cl_close(&a);
	host_serving();
	cl_stats_clean(&H);
}
END_TEST

/* ---- functions both ways ------------------------------------------------- */

/* Our functions nested in a value come back as $yours at the same place, then are released. */
START_TEST(test_fn_echo)
{
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "echo-fn");
	cl_ok_is(&a, "loopback", "echo", "[{\"a\":[{\"$fn\":5}]}]", "{\"a\":[{\"$yours\":5}]}");
	cl_see_release(&a, 5, 1);
	cl_ok_is(&a, "loopback", "echo", "[[{\"$fn\":6},{\"x\":{\"y\":{\"$fn\":6}}},{\"$fn\":7}]]",
		 "[{\"$yours\":6},{\"x\":{\"y\":{\"$yours\":6}}},{\"$yours\":7}]");
	cl_see_release(&a, 6, 2);
	cl_see_release(&a, 7, 1);
	/* A released id used again is a new import, counted from zero. */
	cl_ok_is(&a, "loopback", "echo", "[{\"$fn\":5}]", "{\"$yours\":5}");
	cl_see_release(&a, 5, 1);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Loopback.call invokes our function and returns its answer, functions included. */
START_TEST(test_fn_call_result)
{
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "call");
	uint64_t id = cl_send_call(&a, "loopback", "call", "[{\"$fn\":1},10,\"x\",{\"n\":[null]}]");
	uint64_t inv = cl_take_invoke(&a, 1, "[10,\"x\",{\"n\":[null]}]");
	cl_send(&a, "{\"t\":\"result\",\"id\":%llu,\"value\":{\"ok\":[1]}}", (unsigned long long)inv);
	cJSON *v = result_value(cl_answer(&a, id), "loopback.call");
	json_is(v, "{\"ok\":[1]}");
	cJSON_Delete(v);
	cl_see_release(&a, 1, 1);

	/* value absent means null; a function in the answer comes back as ours. */
	id = cl_send_call(&a, "loopback", "call", "[{\"$fn\":2}]");
	inv = cl_take_invoke(&a, 2, "[]");
	cl_send(&a, "{\"t\":\"result\",\"id\":%llu}", (unsigned long long)inv);
	v = result_value(cl_answer(&a, id), "loopback.call, no value");
	json_is(v, "null");
	cJSON_Delete(v);
	cl_see_release(&a, 2, 1);

	id = cl_send_call(&a, "loopback", "call", "[{\"$fn\":3}]");
	inv = cl_take_invoke(&a, 3, "[]");
	cl_send(&a, "{\"t\":\"result\",\"id\":%llu,\"value\":[{\"$fn\":4}]}", (unsigned long long)inv);
	v = result_value(cl_answer(&a, id), "loopback.call returning a function");
	json_is(v, "[{\"$yours\":4}]");
	cJSON_Delete(v);
	cl_see_release(&a, 3, 1);
	cl_see_release(&a, 4, 1);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* An error answering the host's invoke fails the call with that error. */
START_TEST(test_fn_call_error)
{
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "call-error");
	uint64_t id = cl_send_call(&a, "loopback", "call", "[{\"$fn\":1},\"q\"]");
	uint64_t inv = cl_take_invoke(&a, 1, "[\"q\"]");
	cl_send(&a, "{\"t\":\"error\",\"id\":%llu,\"error\":{\"name\":\"Oops\",\"message\":\"no luck\",\"data\":{\"k\":1}}}",
		(unsigned long long)inv);
	cJSON *m = cl_answer(&a, id);
	const cJSON *e = error_is(m, "Oops");
	json_is(cJSON_GetObjectItemCaseSensitive(e, "message"), "\"no luck\"");
	cJSON_Delete(m);
	cl_see_release(&a, 1, 1);
	/* An answer to an id that is no longer pending is ignored. */
	cl_send(&a, "{\"t\":\"result\",\"id\":%llu,\"value\":1}", (unsigned long long)inv);
	cl_send(&a, "{\"t\":\"error\",\"id\":%llu,\"error\":{\"name\":\"Late\",\"message\":\"\"}}",
		(unsigned long long)inv + 1000);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Answer every invoke of callAll until its result arrives; record the call order. */
static cJSON *call_all(struct cl *c, const char *args, const char *want_args, long long *order, int n)
{
	uint64_t id = cl_send_call(c, "loopback", "callAll", args);

	for (int i = 0; i < n; i++) {
		cJSON *m = cl_take(c, "{\"t\":\"invoke\"}");
		long long fn = jget_int(m, "fn");
		long long inv = jget_int(m, "id");
		json_is(cJSON_GetObjectItemCaseSensitive(m, "args"), want_args);
		cJSON_Delete(m);
		order[i] = fn;
		cl_send(c, "{\"t\":\"result\",\"id\":%lld,\"value\":%lld}", inv, fn * 100);
	}
	return result_value(cl_answer(c, id), "loopback.callAll");
}

/* CallAll invokes functions nested at depth 3 in document order. */
START_TEST(test_fn_call_all)
{
	struct cl a;
	long long order[4] = { 0 };

	HOST_UP("--loopback");
	cl_open(&a, H.path, "callAll");
	cJSON *v = call_all(&a, "[{\"x\":{\"y\":[{\"$fn\":1}]},\"z\":[[{\"$fn\":2}],{\"w\":{\"q\":{\"$fn\":3}}}]},\"a\",7]",
			    "[\"a\",7]", order, 3);
	ck_assert_msg(order[0] == 1 && order[1] == 2 && order[2] == 3,
		      "callAll order %lld %lld %lld, want 1 2 3", order[0], order[1], order[2]);
	json_is(v, "[100,200,300]");
	cJSON_Delete(v);
	cl_see_release(&a, 1, 1);
	cl_see_release(&a, 2, 1);
	cl_see_release(&a, 3, 1);
	cl_quiet(&a);

	/* The same function twice: called twice, released with both receipts. */
	v = call_all(&a, "[[{\"$fn\":4},{\"k\":{\"$fn\":4}}]]", "[]", order, 2);
	json_is(v, "[400,400]");
	cJSON_Delete(v);
	cl_see_release(&a, 4, 2);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Invoke a host function with an id; the answer frame (caller frees). */
static cJSON *cl_invoke(struct cl *c, long long fn, const char *args)
{
	uint64_t id = ++c->r.next_id;

	cl_send(c, "{\"t\":\"invoke\",\"id\":%llu,\"fn\":%lld,\"args\":%s}", (unsigned long long)id, fn, args);
	return cl_answer(c, id);
}

/* Invoke a host function and assert its result. */
static void cl_invoke_is(struct cl *c, long long fn, const char *args, const char *want)
{
	cJSON *v = result_value(cl_invoke(c, fn, args), "invoke");

	json_is(v, want);
	cJSON_Delete(v);
}

/* Invoke a host function and assert the error name. */
static void cl_invoke_err(struct cl *c, long long fn, const char *name)
{
	cJSON *m = cl_invoke(c, fn, "[]");

	error_is(m, name);
	cJSON_Delete(m);
}

/* makeCounter: the two token ids of next and reset. */
static void make_counter(struct cl *c, long long *ret_next, long long *ret_reset)
{
	cJSON *v = cl_ok(c, "loopback", "makeCounter", "[]");

	*ret_next = jget_int(cJSON_GetObjectItemCaseSensitive(v, "next"), "$fn");
	*ret_reset = jget_int(cJSON_GetObjectItemCaseSensitive(v, "reset"), "$fn");
	ck_assert_int_eq(cJSON_GetArraySize(v), 2);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "next")), 1);
	ck_assert_int_ne(*ret_next, *ret_reset);
	cJSON_Delete(v);
}

/* Host functions: invoke, notify, the same id sent back, release by counts, NoSuchFunction. */
START_TEST(test_fn_counter)
{
	struct cl a;
	long long next, reset;
	char args[128];

	HOST_UP("--loopback");
	cl_open(&a, H.path, "counter");
	make_counter(&a, &next, &reset);
	cl_invoke_is(&a, next, "[]", "1");
	cl_invoke_is(&a, next, "[]", "2");
	cl_invoke_is(&a, next, "[]", "3");
	cJSON_Delete(result_value(cl_invoke(&a, reset, "[]"), "reset"));
	cl_invoke_is(&a, next, "[]", "1");
	/* A notification runs without an answer. */
	cl_send(&a, "{\"t\":\"invoke\",\"fn\":%lld,\"args\":[]}", reset);
	cl_invoke_is(&a, next, "[]", "1");
	cl_quiet(&a);
	cl_stat_is(&H, "exports", 2);
	long long functions = test_host_stat(&H, "functions");
	ck_assert_int_ge(functions, 2);

	/* Sent back as $yours it is the same function, exported once more. */
	snprintf(args, sizeof args, "[{\"c\":[{\"$yours\":%lld}]}]", next);
	cJSON *v = cl_ok(&a, "loopback", "echo", args);
	ck_assert_int_eq(jget_int(cJSON_GetArrayItem(jpath(v, "c", NULL, NULL), 0), "$fn"), next);
	cJSON_Delete(v);
	cl_stat_is(&H, "exports", 2);
	cl_send(&a, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", next);
	cl_invoke_is(&a, next, "[]", "2");
	cl_send(&a, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", next);
	cl_invoke_err(&a, next, "NoSuchFunction");
	cl_stat_is(&H, "exports", 1);
	cl_send(&a, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", reset);
	cl_stat_is(&H, "exports", 0);
	cl_stat_is(&H, "functions", 0);
	cl_invoke_err(&a, reset, "NoSuchFunction");
	cl_invoke_err(&a, 999, "NoSuchFunction");
	/* A notification of an unknown function gets nothing back. */
	cl_send(&a, "{\"t\":\"invoke\",\"fn\":998,\"args\":[]}");
	cl_quiet(&a);
	/* Ids are never reused within a connection. */
	long long next2, reset2;
	make_counter(&a, &next2, &reset2);
	ck_assert(next2 != next && next2 != reset && reset2 != next && reset2 != reset);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* ---- identity and release counts ----------------------------------------- */

/* The same function is one token: on twice, off by identity, release with every receipt. */
START_TEST(test_identity_counts)
{
	struct cl a, b;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "identity");
	cl_open(&b, H.path, "other");
	cl_ok_is(&a, "loopback", "on", "[\"ev\",{\"$fn\":1}]", "null");
	cl_ok_is(&a, "loopback", "on", "[\"ev\",{\"$fn\":1}]", "null");
	cl_ok_is(&a, "loopback", "listenerCount", "[\"ev\"]", "2");
	/* Another client sees only its own registrations. */
	cl_ok_is(&b, "loopback", "listenerCount", "[\"ev\"]", "0");
	cl_ok_is(&b, "loopback", "off", "[\"ev\",{\"$fn\":1}]", "false");
	cl_see_release(&b, 1, 1);
	cl_ok_is(&b, "loopback", "removeAllListeners", "[\"ev\"]", "0");
	cl_ok_is(&b, "loopback", "emit", "[\"ev\",\"hi\"]", "2");
	cl_see_event(&a, 1, "[\"hi\"]");
	cl_see_event(&a, 1, "[\"hi\"]");
	cl_quiet(&a);

	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":1}]", "true");
	cl_quiet(&a);		/* still registered once: nothing released */
	cl_ok_is(&a, "loopback", "emit", "[\"ev\",2]", "1");
	cl_see_event(&a, 1, "[2]");
	cl_quiet(&a);
	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":1}]", "true");
	cl_see_release(&a, 1, 4);
	cl_quiet(&a);
	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":1}]", "false");
	cl_see_release(&a, 1, 1);
	cl_ok_is(&a, "loopback", "listenerCount", "[\"ev\"]", "0");
	cl_ok_is(&a, "loopback", "emit", "[\"ev\"]", "0");
	cl_quiet(&a);

	/* removeAllListeners releases each function with all its receipts. */
	cl_ok_is(&a, "loopback", "on", "[\"x\",{\"$fn\":2}]", "null");
	cl_ok_is(&a, "loopback", "on", "[\"y\",{\"$fn\":2}]", "null");
	cl_ok_is(&a, "loopback", "once", "[\"y\",{\"$fn\":3}]", "null");
	cl_ok_is(&b, "loopback", "on", "[\"y\",{\"$fn\":2}]", "null");
	cl_ok_is(&a, "loopback", "removeAllListeners", "[\"y\"]", "2");
	cl_see_release(&a, 3, 1);
	cl_quiet(&a);
	cl_ok_is(&a, "loopback", "removeAllListeners", "[]", "1");
	cl_see_release(&a, 2, 2);
	cl_ok_is(&b, "loopback", "listenerCount", "[\"y\"]", "1");
	cl_quiet(&a);

	/* off removes the most recently added match: here the once, so the on stays. */
	cl_ok_is(&a, "loopback", "on", "[\"z\",{\"$fn\":4}]", "null");
	cl_ok_is(&a, "loopback", "once", "[\"z\",{\"$fn\":4}]", "null");
	cl_ok_is(&a, "loopback", "off", "[\"z\",{\"$fn\":4}]", "true");
	for (int i = 0; i < 2; i++) {
		cl_ok_is(&a, "loopback", "emit", "[\"z\"]", "1");
		cl_see_event(&a, 4, "[]");
	}
	cl_quiet(&a);
	cl_quiet(&b);
	cl_close(&a);
	cl_close(&b);
	cl_stats_clean(&H);
}
END_TEST

/* A once registration fires once, in registration order, and is released after its call. */
START_TEST(test_once)
{
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "once");
	cl_ok_is(&a, "loopback", "once", "[\"ev\",{\"$fn\":2}]", "null");
	cl_ok_is(&a, "loopback", "on", "[\"ev\",{\"$fn\":3}]", "null");
	cl_ok_is(&a, "loopback", "listenerCount", "[\"ev\"]", "2");
	cl_ok_is(&a, "loopback", "emit", "[\"ev\",{\"k\":[1]}]", "2");
	/* Delivered in registration order; the once function released after its call. */
	cJSON *m1 = cl_take(&a, "{\"t\":\"invoke\"}");
	cJSON *m2 = cl_take(&a, "{\"t\":\"invoke\"}");
	json_is(m1, "{\"t\":\"invoke\",\"fn\":2,\"args\":[{\"k\":[1]}]}");
	json_is(m2, "{\"t\":\"invoke\",\"fn\":3,\"args\":[{\"k\":[1]}]}");
	cJSON_Delete(m1);
	cJSON_Delete(m2);
	cl_see_release(&a, 2, 1);
	cl_ok_is(&a, "loopback", "listenerCount", "[\"ev\"]", "1");
	cl_ok_is(&a, "loopback", "emit", "[\"ev\"]", "1");
	cl_see_event(&a, 3, "[]");
	cl_quiet(&a);
	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":3}]", "true");
	cl_see_release(&a, 3, 2);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* CallLater invokes later as a notification, then releases. */
START_TEST(test_call_later)
{
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "later");
	uint64_t t0 = test_now_ms();
	cl_ok_is(&a, "loopback", "callLater", "[50,{\"$fn\":3},\"hi\",[2]]", "null");
	cJSON *m = test_raw_recv(&a.r, CL_WAIT_MS);
	json_is(m, "{\"t\":\"invoke\",\"fn\":3,\"args\":[\"hi\",[2]]}");
	cJSON_Delete(m);
	ck_assert_uint_ge(test_now_ms() - t0, 45);
	m = test_raw_recv(&a.r, CL_WAIT_MS);
	json_is(m, "{\"t\":\"release\",\"fn\":3,\"count\":1}");
	cJSON_Delete(m);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Stored functions are released exactly when dropped; another client gets a forwarder. */
START_TEST(test_store_fetch_drop)
{
	struct cl a, b;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "store");
	cl_ok_is(&a, "loopback", "store", "[\"k\",{\"a\":[{\"$fn\":4}],\"b\":{\"c\":{\"$fn\":4}},\"d\":{\"$fn\":5}}]", "null");
	cl_ok_is(&a, "loopback", "fetch", "[\"k\"]",
		 "{\"a\":[{\"$yours\":4}],\"b\":{\"c\":{\"$yours\":4}},\"d\":{\"$yours\":5}}");
	cl_quiet(&a);		/* still held */
	cl_stat_is(&H, "imports", 2);
	cJSON_Delete(cl_ok(&a, "loopback", "drop", "[\"k\"]"));
	cl_see_release(&a, 4, 2);
	cl_see_release(&a, 5, 1);
	cl_quiet(&a);
	cl_stat_is(&H, "imports", 0);

	/* Another client fetching a function gets a host function forwarding to ours. */
	cl_ok_is(&a, "loopback", "store", "[\"f\",[{\"$fn\":6}]]", "null");
	cl_open(&b, H.path, "fetcher");
	cJSON *v = cl_ok(&b, "loopback", "fetch", "[\"f\"]");
	long long fwd = jget_int(cJSON_GetArrayItem(v, 0), "$fn");
	cJSON_Delete(v);
	uint64_t id = ++b.r.next_id;
	cl_send(&b, "{\"t\":\"invoke\",\"id\":%llu,\"fn\":%lld,\"args\":[\"via\",{\"$fn\":1}]}",
		(unsigned long long)id, fwd);
	/* a gets b's function as a host function of its own. */
	cJSON *m = cl_take(&a, "{\"t\":\"invoke\",\"fn\":6,\"args\":[\"via\",{}]}");
	long long inv = jget_int(m, "id");
	long long passed = jget_int(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "args"), 1), "$fn");
	cJSON_Delete(m);
	cl_send(&a, "{\"t\":\"result\",\"id\":%lld,\"value\":\"done\"}", inv);
	v = result_value(cl_answer(&b, id), "forwarded invoke");
	json_is(v, "\"done\"");
	cJSON_Delete(v);
	cl_quiet(&b);		/* a still holds b's function */
	cl_send(&a, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", passed);
	cl_see_release(&b, 1, 1);
	cJSON_Delete(cl_ok(&a, "loopback", "drop", "[\"f\"]"));
	cl_quiet(&a);		/* b still holds the forwarder */
	cl_send(&b, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", fwd);
	cl_see_release(&a, 6, 1);
	cl_quiet(&a);
	cl_quiet(&b);
	cl_close(&a);
	cl_close(&b);
	cl_stats_clean(&H);
}
END_TEST

/* ---- the release race ---------------------------------------------------- */

/* Wait for releases of fn until their counts add up to total. */
static void cl_see_releases(struct cl *c, long long fn, long long total)
{
	char pattern[96];
	long long sum = 0;

	snprintf(pattern, sizeof pattern, "{\"t\":\"release\",\"fn\":%lld}", fn);
	while (sum < total) {
		cJSON *m = cl_take(c, pattern);
		sum += jget_int(m, "count");
		cJSON_Delete(m);
	}
	ck_assert_msg(sum == total, "releases of %lld count %lld receipts, want %lld", fn, sum, total);
}

/* An id the host released and we send again is a new import. */
START_TEST(test_release_race)
{
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "race");
	cl_ok_is(&a, "loopback", "once", "[\"ev\",{\"$fn\":7}]", "null");
	/* emit fires the once and the host releases 7; we send on(7) again before
	 * processing that release: the host must take it as a new import. */
	uint64_t emit_id = cl_send_call(&a, "loopback", "emit", "[\"ev\",1]");
	cl_see_release(&a, 7, 1);
	uint64_t on_id = cl_send_call(&a, "loopback", "on", "[\"ev\",{\"$fn\":7}]");
	cJSON *v = result_value(cl_answer(&a, emit_id), "emit");
	json_is(v, "1");
	cJSON_Delete(v);
	v = result_value(cl_answer(&a, on_id), "on");
	json_is(v, "null");
	cJSON_Delete(v);
	cl_see_event(&a, 7, "[1]");
	cl_quiet(&a);
	cl_ok_is(&a, "loopback", "emit", "[\"ev\",2]", "1");
	cl_see_event(&a, 7, "[2]");
	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":7}]", "true");
	cl_see_release(&a, 7, 2);
	cl_quiet(&a);

	/* Pipelined, the host may or may not have released in between; either
	 * way the receipts released add up to the three sent. */
	cl_ok_is(&a, "loopback", "once", "[\"ev\",{\"$fn\":8}]", "null");
	emit_id = ++a.r.next_id;
	on_id = ++a.r.next_id;
	cl_send(&a, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"loopback\",\"method\":\"emit\",\"args\":[\"ev\",3]}\n"
		"{\"t\":\"call\",\"id\":%llu,\"obj\":\"loopback\",\"method\":\"on\",\"args\":[\"ev\",{\"$fn\":8}]}",
		(unsigned long long)emit_id, (unsigned long long)on_id);
	cJSON_Delete(result_value(cl_answer(&a, emit_id), "emit"));
	cJSON_Delete(result_value(cl_answer(&a, on_id), "on"));
	cl_see_event(&a, 8, "[3]");
	cl_ok_is(&a, "loopback", "emit", "[\"ev\",4]", "1");
	cl_see_event(&a, 8, "[4]");
	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":8}]", "true");
	cl_see_releases(&a, 8, 3);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Release counts: a release racing a new send keeps the function; a count too large is a ProtocolError. */
START_TEST(test_release_stale)
{
	struct cl a;
	long long next, reset;

	HOST_UP("--loopback");
	/* The host sends next again while we release our first receipt. */
	cl_open(&a, H.path, "stale");
	make_counter(&a, &next, &reset);
	char args[64];
	snprintf(args, sizeof args, "[{\"$yours\":%lld}]", next);
	uint64_t id = cl_send_call(&a, "loopback", "echo", args);
	cl_send(&a, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", next);
	cJSON_Delete(result_value(cl_answer(&a, id), "echo"));
	cl_invoke_is(&a, next, "[]", "1");
	/* A count larger than what the host sent is a ProtocolError. */
	cl_send(&a, "{\"t\":\"release\",\"fn\":%lld,\"count\":2}", next);
	cl_conn_error(&a, "ProtocolError");
	cl_close(&a);

	cl_open(&a, H.path, "unknown");
	cl_send(&a, "{\"t\":\"release\",\"fn\":12345,\"count\":1}");
	cl_conn_error(&a, "ProtocolError");
	cl_close(&a);
	host_serving();
	cl_stats_clean(&H);
}
END_TEST

/* ---- deadlines ----------------------------------------------------------- */

/* The host's invoke of a function that never answers fails the call with Timeout. */
START_TEST(test_call_timeout)
{
	struct cl a;

	HOST_UP("--loopback", "--call-timeout", "200");
	cl_open(&a, H.path, "silent");
	uint64_t t0 = test_now_ms();
	uint64_t id = cl_send_call(&a, "loopback", "call", "[{\"$fn\":1}]");
	uint64_t inv = cl_take_invoke(&a, 1, "[]");
	cJSON *m = cl_answer(&a, id);
	uint64_t dt = test_now_ms() - t0;
	error_is(m, "Timeout");
	cJSON_Delete(m);
	ck_assert_msg(dt >= 150 && dt < 2000, "Timeout after %llu ms, want about 200", (unsigned long long)dt);
	cl_see_release(&a, 1, 1);
	cl_stat_is(&H, "pending_out", 0);
	/* The late answer is ignored. */
	cl_send(&a, "{\"t\":\"result\",\"id\":%llu,\"value\":1}", (unsigned long long)inv);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* ---- refused requests ---------------------------------------------------- */

/* Tokens on both sides of a malformed $-object are released with every receipt. */
START_TEST(test_refused_tokens)
{
	static const char *const bad[] = { "{\"$bad\":1}", "{\"$yours\":999}", "{\"$esc\":5}" };
	struct cl a;
	char args[256];

	HOST_UP("--loopback");
	cl_open(&a, H.path, "refused");
	for (int i = 0; i < 3; i++) {
		snprintf(args, sizeof args, "[[{\"$fn\":%d},%s,{\"$fn\":%d}]]", 2 * i + 1, bad[i], 2 * i + 2);
		cl_err(&a, "loopback", "echo", args, "InvalidArguments");
		cl_see_release(&a, 2 * i + 1, 1);
		cl_see_release(&a, 2 * i + 2, 1);
		cl_quiet(&a);
	}
	/* One function on both sides: both receipts come back. */
	cl_err(&a, "loopback", "echo", "[[{\"$fn\":9},{\"$esc\":5},{\"k\":{\"$fn\":9}}]]", "InvalidArguments");
	cl_see_release(&a, 9, 2);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Tokens after the one refused for tokens_max are released too. */
START_TEST(test_refused_tokens_max)
{
	struct cl a;
	char args[64];

	HOST_UP("--loopback", "--tokens-max", "8");
	cl_open(&a, H.path, "full");
	for (int fn = 1; fn <= 6; fn++) {
		snprintf(args, sizeof args, "[\"k%d\",{\"$fn\":%d}]", fn, fn);
		cl_ok_is(&a, "loopback", "store", args, "null");
	}
	cl_err(&a, "loopback", "echo", "[[{\"$fn\":7},{\"$fn\":8},{\"$fn\":9},{\"$fn\":10}]]", "LimitExceeded");
	for (int fn = 7; fn <= 10; fn++)
		cl_see_release(&a, fn, 1);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* depth nested empty arrays as JSON text (caller frees). */
static char *nested_arrays(int depth)
{
	char *s = malloc(2 * (size_t)depth + 1);

	memset(s, '[', (size_t)depth);
	memset(s + depth, ']', (size_t)depth);
	s[2 * depth] = '\0';
	return s;
}

/* Answer callAll's one invoke with an array depth levels deep; the call's answer frame. */
static cJSON *call_all_deep(struct cl *c, long long fn, int depth)
{
	char args[64];
	char *v = nested_arrays(depth);

	snprintf(args, sizeof args, "[[{\"$fn\":%lld}]]", fn);
	uint64_t id = cl_send_call(c, "loopback", "callAll", args);
	uint64_t inv = cl_take_invoke(c, fn, "[]");
	cl_send(c, "{\"t\":\"result\",\"id\":%llu,\"value\":%s}", (unsigned long long)inv, v);
	free(v);
	cJSON *m = cl_answer(c, id);
	cl_see_release(c, fn, 1);
	return m;
}

/* The host never writes a frame deeper than it accepts (1000 levels): such a result fails the call. */
START_TEST(test_depth_result)
{
	struct cl a;

	HOST_UP("--loopback");
	cl_open(&a, H.path, "deep");
	/* 998 levels answered: callAll's result frame is 1000 deep, the most allowed. */
	cJSON *v = result_value(call_all_deep(&a, 1, 998), "callAll, 998 deep");
	ck_assert_msg(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1, "callAll: %s", jstr(v));
	cJSON_Delete(v);
	/* 999 levels (a 1000-deep frame, accepted): the result frame would be 1001 deep. */
	cJSON *m = call_all_deep(&a, 2, 999);
	const cJSON *e = error_is(m, "LimitExceeded");
	ck_assert_msg(strstr(jget_str(e, "message"), "1000"), "message: %s", jstr(e));
	cJSON_Delete(m);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* ---- disconnect cleanup -------------------------------------------------- */

/* Make a hold everything it can hold, b a forwarder to a's function; its token id. */
static long long hold_everything(struct cl *a, struct cl *b)
{
	long long next, reset;

	cl_ok_is(a, "loopback", "on", "[\"ev\",{\"$fn\":1}]", "null");
	cl_ok_is(a, "loopback", "once", "[\"ev2\",{\"$fn\":2}]", "null");
	cl_ok_is(a, "loopback", "store", "[\"k\",{\"f\":[{\"$fn\":3}]}]", "null");
	make_counter(a, &next, &reset);
	cl_send_call(a, "loopback", "call", "[{\"$fn\":4}]");
	cl_take_invoke(a, 4, "[]");
	cl_send_call(a, "loopback", "sleep", "[10000]");
	/* b holds a forwarder to a's fn 3 and waits on it. */
	cJSON *v = cl_ok(b, "loopback", "fetch", "[\"k\"]");
	long long fwd = jget_int(cJSON_GetArrayItem(jpath(v, "f", NULL, NULL), 0), "$fn");
	cJSON_Delete(v);
	cl_send(b, "{\"t\":\"invoke\",\"id\":100,\"fn\":%lld,\"args\":[]}", fwd);
	cl_take_invoke(a, 3, "[]");
	b->r.next_id = 100;

	cl_stat_is(&H, "handlers", 2);
	cl_stat_is(&H, "imports", 4);
	cl_stat_is(&H, "pending_in", 3);
	cl_stat_is(&H, "pending_out", 2);
	cl_stat_is(&H, "exports", 3);
	return fwd;
}

/* A client that leaves (cleanly or mid-frame) leaves no trace in host.stats. */
START_TEST(test_disconnect_cleanup)
{
	struct cl a, b;

	HOST_UP("--loopback");
	for (int abrupt = 0; abrupt < 2; abrupt++) {
		cl_open(&a, H.path, "leaver");
		cl_open(&b, H.path, "stayer");
		long long fwd = hold_everything(&a, &b);
		if (abrupt)
			ck_assert_int_eq(test_raw_write(&a.r, "{\"t\":\"call\",\"id\":99,\"obj\":\"lo", 30), 0);
		cl_close(&a);
		/* b's invoke waiting on a fails; the forwarder b holds now fails too. */
		cJSON *m = cl_answer(&b, 100);
		error_is(m, "Disconnected");
		cJSON_Delete(m);
		cl_invoke_err(&b, fwd, "Disconnected");
		cl_stat_is(&H, "handlers", 0);
		cl_stat_is(&H, "imports", 0);
		cl_stat_is(&H, "pending_in", 0);
		cl_stat_is(&H, "pending_out", 0);
		cl_stat_is(&H, "exports", 1);
		cl_stat_is(&H, "clients", 1);
		cl_send(&b, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", fwd);
		cl_stat_is(&H, "exports", 0);
		cl_quiet(&b);
		cl_close(&b);
		cl_stats_clean(&H);
	}
	host_serving();
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

/* Handlers_max: on/once beyond it fail with LimitExceeded, per client. */
START_TEST(test_limit_handlers)
{
	struct cl a, b;

	HOST_UP("--loopback", "--handlers-max", "3");
	cl_open(&a, H.path, "many");
	cl_open(&b, H.path, "other");
	cl_ok_is(&a, "loopback", "on", "[\"ev\",{\"$fn\":1}]", "null");
	cl_ok_is(&a, "loopback", "once", "[\"ev\",{\"$fn\":2}]", "null");
	cl_ok_is(&a, "loopback", "on", "[\"other\",{\"$fn\":1}]", "null");
	cl_err(&a, "loopback", "on", "[\"ev\",{\"$fn\":4}]", "LimitExceeded");
	cl_see_release(&a, 4, 1);
	cl_err(&a, "loopback", "once", "[\"ev\",{\"$fn\":1}]", "LimitExceeded");
	cl_ok_is(&a, "loopback", "listenerCount", "[\"ev\"]", "2");
	cl_quiet(&a);
	/* The limit is per client. */
	cl_ok_is(&b, "loopback", "on", "[\"ev\",{\"$fn\":1}]", "null");
	cl_ok_is(&b, "loopback", "emit", "[\"ev\"]", "3");
	cl_see_event(&b, 1, "[]");
	cl_see_event(&a, 1, "[]");
	cl_see_event(&a, 2, "[]");
	cl_see_release(&a, 2, 1);
	cl_ok_is(&a, "loopback", "on", "[\"ev\",{\"$fn\":5}]", "null");
	cl_err(&a, "loopback", "on", "[\"ev\",{\"$fn\":6}]", "LimitExceeded");
	cl_see_release(&a, 6, 1);
	cl_quiet(&a);
	cl_quiet(&b);
	cl_close(&a);
	cl_close(&b);
	cl_stats_clean(&H);
}
END_TEST

/* Tokens_max counts imports plus exports; a notification that passes it is a connection error. */
START_TEST(test_limit_tokens)
{
	struct cl a, b;
	long long next, reset;

	HOST_UP("--loopback", "--tokens-max", "4");
	cl_open(&a, H.path, "tokens");
	for (int fn = 1; fn <= 4; fn++) {
		char args[64];
		snprintf(args, sizeof args, "[\"ev\",{\"$fn\":%d}]", fn);
		cl_ok_is(&a, "loopback", "on", args, "null");
	}
	cl_ok_is(&a, "loopback", "on", "[\"ev\",{\"$fn\":1}]", "null");	/* no new token */
	cl_err(&a, "loopback", "on", "[\"ev\",{\"$fn\":5}]", "LimitExceeded");
	cl_see_release(&a, 5, 1);
	cl_err(&a, "loopback", "makeCounter", "[]", "LimitExceeded");
	cl_quiet(&a);
	/* Other clients have their own budget. */
	cl_open(&b, H.path, "other");
	make_counter(&b, &next, &reset);
	cl_close(&b);

	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":4}]", "true");
	cl_see_release(&a, 4, 2);
	cl_ok_is(&a, "loopback", "off", "[\"ev\",{\"$fn\":3}]", "true");
	cl_see_release(&a, 3, 2);
	make_counter(&a, &next, &reset);
	cl_quiet(&a);
	/* A notification that would pass the limit is a connection error. */
	cl_send(&a, "{\"t\":\"invoke\",\"fn\":%lld,\"args\":[{\"$fn\":9}]}", next);
	cl_conn_error(&a, "LimitExceeded");
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Pending_max: a request beyond it fails at once, other clients unaffected. */
START_TEST(test_limit_pending)
{
	struct cl a, b;

	HOST_UP("--loopback", "--pending-max", "2");
	cl_open(&a, H.path, "busy");
	cl_open(&b, H.path, "other");
	uint64_t s1 = cl_send_call(&a, "loopback", "sleep", "[300]");
	uint64_t s2 = cl_send_call(&a, "loopback", "sleep", "[300]");
	uint64_t t0 = test_now_ms();
	cl_err(&a, "host", "ping", "[]", "LimitExceeded");
	ck_assert_uint_lt(test_now_ms() - t0, 250);
	cl_ok_is(&b, "host", "ping", "[]", "\"pong\"");
	cJSON_Delete(result_value(cl_answer(&a, s1), "sleep"));
	cJSON_Delete(result_value(cl_answer(&a, s2), "sleep"));
	ck_assert_uint_ge(test_now_ms() - t0, 250);
	cl_quiet(&a);
	cl_close(&a);
	cl_close(&b);
	cl_stats_clean(&H);
}
END_TEST

/* Complete a handshake, retrying while closed connections still count against clients_max. */
static void cl_open_retry(struct cl *c, const char *name)
{
	uint64_t deadline = test_now_ms() + CL_WAIT_MS;

	memset(c, 0, sizeof *c);
	while (!(c->welcome = test_raw_hello(&c->r, H.path, name))) {
		ck_assert_msg(test_now_ms() < deadline, "client %s never admitted", name);
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	c->q = cJSON_CreateArray();
}

/* Clients_max: the extra connection gets a LimitExceeded connection error. */
START_TEST(test_limit_clients)
{
	struct cl c[3], extra;

	HOST_UP("--loopback", "--clients-max", "3");
	for (int i = 0; i < 3; i++)
		cl_open_retry(&c[i], "member");
	cl_connect(&extra);
	/* The host may refuse before reading anything, so the hello may not go out. */
	static const char hello[] = "{\"t\":\"hello\",\"version\":1}\n";
	test_raw_write(&extra.r, hello, sizeof hello - 1);
	cl_conn_error(&extra, "LimitExceeded");
	cl_close(&extra);
	for (int i = 0; i < 3; i++)
		cl_quiet(&c[i]);
	cl_close(&c[1]);
	cl_open_retry(&c[1], "again");
	cl_quiet(&c[1]);
	for (int i = 0; i < 3; i++)
		cl_close(&c[i]);
}
END_TEST

/* Output_max: a client that never reads is cut off and the others keep getting fast answers. */
START_TEST(test_limit_output)
{
	struct cl slow, fast;
	char args[9000];

	HOST_UP("--loopback", "--output-max", "65536");
	cl_open(&slow, H.path, "never-reads");
	cl_ok_is(&slow, "loopback", "on", "[\"flood\",{\"$fn\":1}]", "null");
	cl_open(&fast, H.path, "emitter");
	int n = snprintf(args, sizeof args, "[\"flood\",\"");
	memset(args + n, 'x', 8192);
	strcpy(args + n + 8192, "\"]");
	int emits = 0;
	uint64_t worst = 0;
	for (;;) {
		uint64_t t0 = test_now_ms();
		cJSON *v = cl_ok(&fast, "loopback", "emit", args);
		uint64_t dt = test_now_ms() - t0;
		long long reached = (long long)v->valuedouble;
		cJSON_Delete(v);
		worst = dt > worst ? dt : worst;
		emits++;
		if (reached == 0)
			break;
		ck_assert_msg(emits < 1000, "a client that never reads was never cut off");
	}
	ck_assert_msg(worst < 1000, "an emit took %llu ms while one client was stuck",
		      (unsigned long long)worst);
	ck_assert_msg(emits > 3, "cut off after %d emits, below output_max", emits);
	/* What it was sent ends with a connection error saying why, then the end. */
	cJSON *m, *last = NULL;
	while ((m = test_raw_recv(&slow.r, CL_WAIT_MS))) {
		cJSON_Delete(last);
		last = m;
	}
	ck_assert_msg(slow.r.eof, "the slow client was not disconnected");
	ck_assert_msg(last && !cJSON_GetObjectItemCaseSensitive(last, "id") &&
		      jget_str(jpath(last, "error", NULL, NULL), "name") &&
		      !strcmp(jget_str(jpath(last, "error", NULL, NULL), "name"), "LimitExceeded"),
		      "the slow client's last frame is %s, want a LimitExceeded connection error", jstr(last));
	cJSON_Delete(last);
	uint64_t t0 = test_now_ms();
	cl_quiet(&fast);
	ck_assert_uint_lt(test_now_ms() - t0, 500);
	cl_close(&slow);
	cl_close(&fast);
	cl_stats_clean(&H);
}
END_TEST

/* ---- events between clients: host.emit --------------------------------------- */

/* host.stats().events.FIELD */
static long host_events_stat(struct cl *c, const char *field)
{
	cJSON *st = cl_ok(c, "host", "stats", "[]");
	const cJSON *v = jpath(st, "events", field, NULL);

	ck_assert_msg(cJSON_IsNumber(v), "stats has no events.%s: %s", field, jstr(st));
	long n = (long)v->valuedouble;
	cJSON_Delete(st);
	return n;
}

/* One client's x. events reach another's on and once registrations, in the
 * order sent, without an answer; counted in stats. */
START_TEST(test_host_emit_in_order)
{
	struct cl a, b;
	char args[64];

	HOST_UP("--loopback");
	cl_open(&a, H.path, "receiver");
	cl_open(&b, H.path, "sender");
	long emitted = host_events_stat(&a, "emitted"), delivered = host_events_stat(&a, "delivered");
	cl_ok_is(&a, "host", "on", "[\"x.weather\",{\"$fn\":1}]", "null");
	cl_ok_is(&a, "host", "once", "[\"x.weather\",{\"$fn\":2}]", "null");
	cl_ok_is(&b, "host", "emit", "[\"x.weather\",0,{\"sky\":\"grey\"}]", "2");
	cl_see_event(&a, 1, "[0,{\"sky\":\"grey\"}]");
	cl_see_event(&a, 2, "[0,{\"sky\":\"grey\"}]");
	cl_see_release(&a, 2, 1);
	/* Sent without waiting for each answer: received in the order sent. */
	for (int i = 1; i <= 200; i++) {
		snprintf(args, sizeof args, "[\"x.weather\",%d]", i);
		cl_send_call(&b, "host", "emit", args);
	}
	for (int i = 1; i <= 200; i++) {
		cJSON *m = cl_take(&a, "{\"t\":\"invoke\",\"fn\":1}");
		const cJSON *n = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "args"), 0);
		ck_assert_msg(cJSON_IsNumber(n) && n->valueint == i, "event %d arrived as %s", i, jstr(m));
		ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(m, "id"), "an event wants an answer: %s", jstr(m));
		cJSON_Delete(m);
	}
	/* No registration: reached none, still counted as emitted. */
	cl_ok_is(&b, "host", "emit", "[\"x.nobody\"]", "0");
	ck_assert_int_eq(host_events_stat(&b, "emitted"), emitted + 202);
	ck_assert_int_eq(host_events_stat(&b, "delivered"), delivered + 202);
	cl_ok_is(&a, "host", "off", "[\"x.weather\",{\"$fn\":1}]", "true");
	cl_see_release(&a, 1, 2);	/* sent by on and off */
	cl_quiet(&a);
	cl_close(&a);
	cl_close(&b);
	cl_stats_clean(&H);
}
END_TEST

/* Names outside "x." are refused: a client cannot fake the host's events
 * (nor any other object's), and filters are refused where there are none. */
START_TEST(test_host_emit_names)
{
	struct cl a;
	char msg[256];

	HOST_UP("--loopback");
	cl_open(&a, H.path, "names");
	cl_ok_is(&a, "host", "on", "[\"disconnected\",{\"$fn\":1}]", "null");
	static const char *const bad[] = { "connected", "disconnected", "message", "irc.message", "x.", "x",
					   "X.a", "x.a b", "x.a\\n", "bot.started" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char args[64];
		snprintf(args, sizeof args, "[\"%s\",{\"id\":1}]", bad[i]);
		cl_err_msg(&a, "host", "emit", args, "InvalidArguments", msg, sizeof msg);
		ck_assert_msg(strstr(msg, "'x.'"), "emit %s: %s", bad[i], msg);
	}
	char longname[160] = "[\"x.";
	memset(longname + 4, 'a', 101);
	strcpy(longname + 105, "\"]");
	cl_err(&a, "host", "emit", longname, "InvalidArguments");
	longname[104] = '"';
	longname[105] = ']';
	longname[106] = '\0';
	cl_ok_is(&a, "host", "emit", longname, "0");	/* 100 bytes after x. */
	cl_err(&a, "host", "on", "[\"x.\",{\"$fn\":2}]", "NoSuchEvent");
	cl_see_release(&a, 2, 1);
	cl_err(&a, "host", "on", "[\"weather\",{\"$fn\":2}]", "NoSuchEvent");
	cl_see_release(&a, 2, 1);
	cl_err_msg(&a, "host", "on", "[\"x.a\",{\"$fn\":2},{\"channel\":\"#a\"}]", "InvalidArguments", msg,
		   sizeof msg);
	ck_assert_msg(strstr(msg, "host takes no filter"), "%s", msg);
	cl_see_release(&a, 2, 1);
	cl_err(&a, "loopback", "on", "[\"ev\",{\"$fn\":2},{}]", "InvalidArguments");
	cl_see_release(&a, 2, 1);
	cl_ok_is(&a, "loopback", "on", "[\"ev\",{\"$fn\":2},null]", "null");	/* null: no filter */
	cl_ok_is(&a, "loopback", "emit", "[\"ev\"]", "1");
	cl_see_event(&a, 2, "[]");
	cl_quiet(&a);	/* nobody disconnected: the host's event was not faked */
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* A receiver that never reads is cut off by output_max like any other; the
 * sender is not slowed, and the stats count only what was delivered. */
START_TEST(test_host_emit_slow_receiver)
{
	struct cl slow, fast;
	char args[9000];

	HOST_UP("--loopback", "--output-max", "65536");
	cl_open(&slow, H.path, "never-reads");
	cl_ok_is(&slow, "host", "on", "[\"x.flood\",{\"$fn\":1}]", "null");
	cl_open(&fast, H.path, "emitter");
	long emitted = host_events_stat(&fast, "emitted"), delivered = host_events_stat(&fast, "delivered");
	int n = snprintf(args, sizeof args, "[\"x.flood\",\"");
	memset(args + n, 'x', 8192);
	strcpy(args + n + 8192, "\"]");
	int emits = 0, reached_total = 0;
	for (;;) {
		uint64_t t0 = test_now_ms();
		cJSON *v = cl_ok(&fast, "host", "emit", args);
		long long reached = (long long)v->valuedouble;
		cJSON_Delete(v);
		ck_assert_uint_lt(test_now_ms() - t0, 1000);
		emits++;
		reached_total += (int)reached;
		if (reached == 0)
			break;
		ck_assert_msg(emits < 1000, "a receiver that never reads was never cut off");
	}
	ck_assert_msg(emits > 3, "cut off after %d emits, below output_max", emits);
	cJSON *m, *last = NULL;
	while ((m = test_raw_recv(&slow.r, CL_WAIT_MS))) {
		cJSON_Delete(last);
		last = m;
	}
	ck_assert_msg(slow.r.eof, "the slow receiver was not disconnected");
	ck_assert_msg(last && jget_str(jpath(last, "error", NULL, NULL), "name") &&
		      !strcmp(jget_str(jpath(last, "error", NULL, NULL), "name"), "LimitExceeded"),
		      "the slow receiver's last frame is %s", jstr(last));
	cJSON_Delete(last);
	ck_assert_int_eq(host_events_stat(&fast, "emitted"), emitted + emits);
	ck_assert_int_eq(host_events_stat(&fast, "delivered"), delivered + reached_total);
	cl_close(&slow);
	cl_close(&fast);
	cl_stats_clean(&H);
}
END_TEST

/* ---- budgets: nothing lost silently, nothing unbounded --------------------- */

/* Write a configuration file (in /tmp) for the host; its path goes in path. */
static void conf_file(char *path, size_t size, const char *text)
{
	snprintf(path, size, "/tmp/bothost-raw-conf.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* An event a client cannot take (tokens_max) cuts it off with an error and is not counted. */
START_TEST(test_event_over_tokens_max)
{
	struct cl a, b;
	long long next, reset;
	char args[128];

	HOST_UP("--loopback", "--tokens-max", "4");
	cl_open(&a, H.path, "full");
	for (int fn = 1; fn <= 4; fn++) {
		snprintf(args, sizeof args, "[\"ev\",{\"$fn\":%d}]", fn);
		cl_ok_is(&a, "loopback", "on", args, "null");
	}
	cl_open(&b, H.path, "emitter");
	make_counter(&b, &next, &reset);
	snprintf(args, sizeof args, "[\"ev\",{\"$yours\":%lld},{\"$yours\":%lld}]", next, reset);
	/* Reaching nobody: a's four registrations could not take two more tokens. */
	cl_ok_is(&b, "loopback", "emit", args, "0");
	cl_conn_error(&a, "LimitExceeded");
	cl_ok_is(&b, "loopback", "emit", args, "0");
	cl_close(&a);
	cl_close(&b);
	cl_stats_clean(&H);
}
END_TEST

/* Invocations awaiting one client's answers are held to pending_max. */
START_TEST(test_invocations_bounded)
{
	struct cl a;
	uint64_t ids[8];
	int n = 0;

	HOST_UP("--loopback", "--pending-max", "5");
	cl_open(&a, H.path, "never-answers");
	uint64_t all = cl_send_call(&a, "loopback", "callAll",
				    "[[{\"$fn\":1},{\"$fn\":1},{\"$fn\":1},{\"$fn\":1},{\"$fn\":1},{\"$fn\":1},"
				    "{\"$fn\":1},{\"$fn\":1}]]");
	for (cJSON *m; (m = test_raw_recv(&a.r, 500));) {
		const char *t = jget_str(m, "t");
		if (t && !strcmp(t, "invoke")) {
			ck_assert_msg(n < 5, "more invocations than pending_max await the client: %s", jstr(m));
			ids[n++] = (uint64_t)jget_int(m, "id");
		}
		cJSON_Delete(m);
	}
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(test_host_stat(&H, "pending_out"), 5);
	for (int i = 0; i < n; i++)
		cl_send(&a, "{\"t\":\"result\",\"id\":%llu,\"value\":%d}", (unsigned long long)ids[i], i);
	char msg[256];
	cJSON *m = cl_answer(&a, all);
	snprintf(msg, sizeof msg, "%s", jget_str(error_is(m, "LimitExceeded"), "message"));
	cJSON_Delete(m);
	ck_assert_msg(strstr(msg, "pending_max"), "%s", msg);
	cl_see_release(&a, 1, 8);
	cl_quiet(&a);
	cl_close(&a);
	cl_stats_clean(&H);
}
END_TEST

/* Calls a client left running when it went away show in stats and count against pending_max. */
START_TEST(test_orphans_counted)
{
	struct cl a, b;

	HOST_UP("--loopback", "--pending-max", "4");
	cl_open(&a, H.path, "leaves");
	for (int i = 0; i < 3; i++)
		cl_send_call(&a, "loopback", "sleep", "[1500]");
	cl_stat_is(&H, "pending_in", 3);
	cl_close(&a);
	cl_stat_is(&H, "orphaned_calls", 3);
	cl_open(&b, H.path, "same-uid");
	uint64_t s = cl_send_call(&b, "loopback", "sleep", "[10]");
	cl_err(&b, "host", "ping", "[]", "LimitExceeded");
	cJSON_Delete(result_value(cl_answer(&b, s), "sleep"));
	cl_stat_is(&H, "orphaned_calls", 0);
	cl_ok_is(&b, "loopback", "sleep", "[0]", "null");
	cl_ok_is(&b, "host", "ping", "[]", "\"pong\"");
	cl_quiet(&b);
	cl_close(&b);
	cl_stats_clean(&H);
}
END_TEST

/* A connection that never says hello is closed with a Timeout error after hello_timeout. */
START_TEST(test_hello_deadline)
{
	struct cl silent, slow;
	char conf[64], path[320];

	conf_file(conf, sizeof conf, "[limits]\nhello_timeout = 300ms\n");
	HOST_UP("--loopback", "--config", conf);
	unlink(conf);
	snprintf(path, sizeof path, "%s.behaviours", H.path);
	memset(&slow, 0, sizeof slow);
	/* The behaviours' socket follows the host's by a moment. */
	uint64_t until = test_now_ms() + (uint64_t)test_scaled_ms(5000);
	int r;
	while (((r = test_raw_connect(&slow.r, path)) == -ENOENT || r == -ECONNREFUSED) && test_now_ms() < until)
		usleep(5000);
	ck_assert_int_eq(r, 0);
	slow.q = cJSON_CreateArray();
	cl_connect(&silent);
	uint64_t t0 = test_now_ms();
	cl_conn_error(&silent, "Timeout");
	ck_assert_uint_ge(test_now_ms() - t0, 200);
	cl_conn_error(&slow, "Timeout");
	cl_close(&silent);
	cl_close(&slow);
	/* A hello in time is served. */
	cl_open(&silent, H.path, "prompt");
	struct timespec ts = { 0, 500 * 1000000 };
	nanosleep(&ts, NULL);
	cl_quiet(&silent);
	cl_close(&silent);
	cl_stats_clean(&H);
}
END_TEST

/* Output_total_max: the largest queue is cut off (told why) and the total stays within budget. */
START_TEST(test_output_budget)
{
	struct cl stuck[3], fast, probe;
	char conf[64], args[9000];
	long worst = 0;

	conf_file(conf, sizeof conf, "[limits]\noutput_total_max = 262144\n");
	HOST_UP("--loopback", "--config", conf);
	unlink(conf);
	for (int i = 0; i < 3; i++) {
		cl_open(&stuck[i], H.path, "never-reads");
		cl_ok_is(&stuck[i], "loopback", "on", "[\"flood\",{\"$fn\":1}]", "null");
	}
	cl_open(&fast, H.path, "emitter");
	cl_open(&probe, H.path, "probe");
	int n = snprintf(args, sizeof args, "[\"flood\",\"");
	memset(args + n, 'x', 8192);
	strcpy(args + n + 8192, "\"]");
	for (int emits = 0;; emits++) {
		ck_assert_msg(emits < 3000, "the stuck clients were never cut off");
		cJSON *v = cl_ok(&fast, "loopback", "emit", args);
		long reached = (long)v->valuedouble;
		cJSON_Delete(v);
		if (emits % 8 == 0) {
			cJSON *st = cl_ok(&probe, "host", "stats", "[]");
			long queued = (long)jget_int(st, "queued_bytes");
			cJSON_Delete(st);
			worst = queued > worst ? queued : worst;
		}
		if (reached == 0)
			break;
	}
	ck_assert_msg(worst <= 262144 + 65536, "%ld bytes queued, over output_total_max", worst);
	for (int i = 0; i < 3; i++) {
		cJSON *m = cl_take(&stuck[i], "{\"t\":\"error\",\"error\":{\"name\":\"LimitExceeded\"}}");
		const char *msg = jget_str(cJSON_GetObjectItemCaseSensitive(m, "error"), "message");
		ck_assert_msg(msg && strstr(msg, "output_total_max"), "%s", jstr(m));
		cJSON_Delete(m);
		cl_close(&stuck[i]);
	}
	cl_quiet(&fast);
	cl_quiet(&probe);
	cl_close(&fast);
	cl_close(&probe);
	cl_stats_clean(&H);
}
END_TEST

/* ---- scale --------------------------------------------------------------- */

#define MANY 1000

/* Receive the next frame of a client and assert it matches the pattern. */
static void raw_expect(struct test_raw *r, const char *pattern, int i)
{
	cJSON *pat = J(pattern);
	cJSON *m = test_raw_recv(r, 5000);
	bool ok = json_match(pat, m);

	cJSON_Delete(pat);
	ck_assert_msg(ok, "client %d: got %s, want %s", i, jstr(m), pattern);
	cJSON_Delete(m);
}

/* 1000 concurrent clients: one emit reaches all, and all traces go when they close. */
START_TEST(test_thousand_clients)
{
	static const char session[] =
		"{\"t\":\"hello\",\"version\":1,\"name\":\"many\"}\n"
		"{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"on\",\"args\":[\"big\",{\"$fn\":1}]}\n"
		"{\"t\":\"call\",\"id\":2,\"obj\":\"host\",\"method\":\"ping\",\"args\":[]}\n";
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_msg(rl.rlim_cur >= MANY + 64, "RLIMIT_NOFILE hard limit %llu is too low",
		      (unsigned long long)rl.rlim_max);
	HOST_UP("--loopback");
	struct test_raw *c = calloc(MANY, sizeof *c);
	for (int i = 0; i < MANY; i++) {
		ck_assert_int_eq(test_raw_connect(&c[i], H.path), 0);
		ck_assert_int_eq(test_raw_write(&c[i], session, sizeof session - 1), 0);
	}
	for (int i = 0; i < MANY; i++) {
		raw_expect(&c[i], "{\"t\":\"welcome\",\"version\":1}", i);
		raw_expect(&c[i], "{\"t\":\"result\",\"id\":1,\"value\":null}", i);
		raw_expect(&c[i], "{\"t\":\"result\",\"id\":2,\"value\":\"pong\"}", i);
	}
	ck_assert_int_eq(test_host_stat(&H, "clients"), MANY);
	ck_assert_int_eq(test_host_stat(&H, "handlers"), MANY);
	uint64_t t0 = test_now_ms();
	test_raw_send(&c[0], "{\"t\":\"call\",\"id\":3,\"obj\":\"loopback\",\"method\":\"emit\",\"args\":[\"big\",{\"n\":42}]}");
	for (int i = 0; i < MANY; i++)
		raw_expect(&c[i], "{\"t\":\"invoke\",\"fn\":1,\"args\":[{\"n\":42}]}", i);
	uint64_t dt = test_now_ms() - t0;
	raw_expect(&c[0], "{\"t\":\"result\",\"id\":3,\"value\":1000}", 0);
	ck_assert_msg(dt < 2000, "one emit to %d clients took %llu ms", MANY, (unsigned long long)dt);
	for (int i = 0; i < MANY; i++)
		test_raw_close(&c[i]);
	free(c);
	cl_stats_clean(&H);
}
END_TEST

/* The whole suite. */
static Suite *host_raw_suite(void)
{
	Suite *s = suite_create("host_raw");
	struct {
		const char *name;
		const TTest *tests[8];
	} cases[] = {
		{ "handshake", { test_handshake_welcome, test_handshake_options, test_handshake_version,
				 test_handshake_order } },
		{ "framing", { test_frame_bytewise, test_frame_batch, test_frame_bad, test_frame_too_large } },
		{ "calls", { test_call_errors, test_call_bad_id } },
		{ "escaping", { test_escape_roundtrip, test_escape_bad } },
		{ "functions", { test_fn_echo, test_fn_call_result, test_fn_call_error, test_fn_call_all,
				 test_fn_counter } },
		{ "release", { test_identity_counts, test_once, test_call_later, test_store_fetch_drop,
			       test_release_race, test_release_stale } },
		{ "deadlines", { test_call_timeout } },
		{ "refused", { test_refused_tokens, test_refused_tokens_max, test_depth_result } },
		{ "disconnect", { test_disconnect_cleanup } },
		{ "limits", { test_limit_handlers, test_limit_tokens, test_limit_pending, test_limit_clients,
			      test_limit_output } },
		{ "scale", { test_thousand_clients } },
		{ "host_events", { test_host_emit_in_order, test_host_emit_names, test_host_emit_slow_receiver } },
		{ "budgets", { test_event_over_tokens_max, test_invocations_bounded, test_orphans_counted,
			       test_hello_deadline, test_output_budget } },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, NULL, host_down);
		tcase_set_timeout(tc, 30);
		for (size_t j = 0; j < 8 && cases[i].tests[j]; j++)
			tcase_add_test(tc, cases[i].tests[j]);
		suite_add_tcase(s, tc);
	}
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(host_raw_suite());

	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY=verbose lists every check */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
