/* SPDX-License-Identifier: ISC */
/* libbotkit against a fake host: the test plays bothost over a socketpair,
 * speaking raw NDJSON, to drive the client's side of the protocol into
 * situations a real host produces only by chance: release-count races,
 * unknown tokens, disconnects with calls pending, malformed frames and a
 * version mismatch in the handshake. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "botkit.h"
#include "wire/frame.h"
#include "harness.h"

#define WELCOME_FMT \
	"{\"t\":\"welcome\",\"version\":%d,\"server\":\"fake 0\",\"client\":5," \
	"\"limits\":{\"frame_max\":1048576,\"output_max\":4194304,\"tokens_max\":4096," \
	"\"handlers_max\":1024,\"pending_max\":4096}," \
	"\"objects\":{\"loopback\":{\"doc\":\"fake\",\"methods\":{},\"events\":{\"*\":{}}}}}"

/* The host's end of the socketpair. */
struct fake {
	int fd;
	struct frame_reader in;
	bool eof;
	cJSON *hello;		/* the client's first message */
	char welcome[1024];	/* the answer to hello (empty: none) */
	bool close_after_hello;	/* close instead of answering */
};

/* What a function or a completion of this program saw. */
struct rec {
	int calls;
	int destroyed;
	int seq;		/* order of the last call or completion */
	int destroy_seq;	/* order of the destroy */
	int64_t value;		/* errno of a failed completion */
	char name[64];		/* error name of a failed completion */
	int failed;		/* completions with an error */
	bk_fn *kept;		/* a host function kept from a result or arguments */
	bool arg_is_fn;		/* the first argument was a function */
};

/* What the disconnect handler saw. */
struct disc {
	int calls;
	int seq;
	int err;
	char name[64];
};

static int seq;			/* a global order of callbacks */
static bool in_start;		/* true while a function that starts a call runs */
static struct fake fk;		/* the fake host of the current test */
static bk_conn *conn;		/* the client of the current test */
static struct disc dc;		/* the current test's disconnect record */

/* Write all of p, or mark the fake's end closed. */
static void fake_write(struct fake *f, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(f->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

/* Send one frame (the line feed is added). */
static void fake_send(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fake_send(struct fake *f, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof line - 1);
	line[n++] = '\n';
	fake_write(f, line, (size_t)n);
}

/* Read what is available on the fake's end into its frame reader. */
static void fake_fill(struct fake *f)
{
	size_t len;
	char *p = frame_reader_space(&f->in, 65536, &len);
	ssize_t k;

	if (!p) {
		f->eof = true;
		return;
	}
	k = read(f->fd, p, len);
	if (k > 0)
		frame_reader_commit(&f->in, (size_t)k);
	else if (k == 0 || (errno != EINTR && errno != EAGAIN))
		f->eof = true;
}

/* The next frame from the client, parsed, while dispatching c (may be NULL);
 * NULL on timeout, end of file or an unparsable frame. */
static cJSON *fake_recv(struct fake *f, bk_conn *c, int ms)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;
	char *frame;
	size_t len;

	for (;;) {
		int k = frame_reader_next(&f->in, &frame, &len);
		if (k == 1)
			return cJSON_Parse(frame);
		if (k < 0 || f->eof)
			return NULL;
		uint64_t now = test_now_ms();
		if (now >= end)
			return NULL;
		struct pollfd p[2] = {
			{ .fd = f->fd, .events = POLLIN },
			{ .fd = c ? bk_conn_get_fd(c) : -1, .events = c ? (short)bk_conn_get_events(c) : 0 },
		};
		int wait = (int)(end - now);
		if (c && wait > 10)
			wait = 10;	/* also honour the client's deadlines */
		(void)poll(p, 2, wait);
		if (p[0].revents)
			fake_fill(f);
		if (c)
			(void)bk_conn_process(c);
	}
}

/* True when the client closed its end within ms; frames before are checked:
 * only a connection error named `name` (if not NULL) may come first. */
static bool fake_closed(struct fake *f, bk_conn *c, int ms, const char *name)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;

	while (!f->eof && test_now_ms() < end) {
		cJSON *m = fake_recv(f, c, (int)(end - test_now_ms()));
		if (!m)
			continue;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "t");
		if (name) {
			ck_assert_str_eq(t->valuestring, "error");
			ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(m, "id"));
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");
			ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring, name);
		}
		cJSON_Delete(m);
	}
	return f->eof;
}

/* Read hello and answer it, in a thread while bk_conn_new_fd() blocks. */
static void *fake_handshake(void *userdata)
{
	struct fake *f = userdata;

	f->hello = fake_recv(f, NULL, 5000);
	if (f->hello && f->close_after_hello) {
		close(f->fd);
		f->fd = -1;
	} else if (f->hello && f->welcome[0]) {
		fake_write(f, f->welcome, strlen(f->welcome));
		fake_write(f, "\n", 1);
	}
	return NULL;
}

/* A socketpair, a fake host on one end and bk_conn_new_fd() on the other;
 * returns what bk_conn_new_fd() returned. */
static int fake_open(struct fake *f, bk_conn **ret, int version)
{
	int sv[2];
	pthread_t t;
	int r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[1];
	f->eof = false;
	f->hello = NULL;
	frame_reader_init(&f->in, 1 << 20);
	if (version > 0)
		snprintf(f->welcome, sizeof f->welcome, WELCOME_FMT, version);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_handshake, f), 0);
	r = bk_conn_new_fd(ret, sv[0], "fake-test");
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	return r;
}

/* Close the fake's end and free what it holds. */
static void fake_free(struct fake *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	frame_reader_free(&f->in);
	cJSON_Delete(f->hello);
	f->hello = NULL;
	f->welcome[0] = 0;
	f->close_after_hello = false;
}

/* Record the disconnect. */
static void disc_cb(bk_conn *c, const bk_error *err, void *userdata)
{
	struct disc *d = userdata;

	d->calls++;
	d->seq = ++seq;
	ck_assert_ptr_nonnull(err);
	d->err = bk_error_errno(err);
	snprintf(d->name, sizeof d->name, "%s", bk_error_name(err));
	ck_assert(!bk_conn_is_connected(c));
}

/* Record a call of a function of this program; answer with the argument count. */
static void rec_fn(bk_conn *c, bk_args *a, void *userdata)
{
	struct rec *r = userdata;

	r->calls++;
	r->seq = ++seq;
	r->arg_is_fn = bk_json_is_function(bk_args_get(a, 0));
	if (bk_args_wants_result(a))
		bk_args_return(a, "i", (int)bk_args_count(a));
}

/* Record the destruction of a function's userdata. */
static void rec_destroy(void *userdata)
{
	struct rec *r = userdata;

	r->destroyed++;
	r->destroy_seq = ++seq;
}

/* Record a completion; keep the host function found under "next" in a result. */
static void rec_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct rec *r = userdata;

	ck_assert(!in_start);
	r->calls++;
	r->seq = ++seq;
	if (err) {
		r->failed++;
		r->value = bk_error_errno(err);
		snprintf(r->name, sizeof r->name, "%s", bk_error_name(err));
		return;
	}
	ck_assert_ptr_nonnull(result);
	bk_fn *f = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(result, "next"));
	if (f)
		r->kept = bk_fn_ref(f);
}

/* Dispatch until *counter reaches want or ms pass; returns the last value. */
static int pump_until(bk_conn *c, const int *counter, int want, int ms)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;

	while (*counter < want && test_now_ms() < end) {
		struct pollfd p = { .fd = bk_conn_get_fd(c), .events = (short)bk_conn_get_events(c) };
		(void)poll(&p, 1, 10);
		if (bk_conn_process(c) < 0)
			break;
	}
	return *counter;
}

/* The next frame must be a call of `method`; returns it, and its id. */
static cJSON *expect_call(const char *method, uint64_t *ret_id)
{
	ck_assert_int_eq(bk_conn_flush(conn), 0);
	cJSON *m = fake_recv(&fk, conn, 2000);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "t")->valuestring, "call");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "method")->valuestring, method);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
	ck_assert(cJSON_IsNumber(id) && id->valuedouble >= 1);
	*ret_id = (uint64_t)id->valuedouble;
	return m;
}

/* The token N of a {"$fn":N} node. */
static uint64_t fn_token(const cJSON *node)
{
	ck_assert(cJSON_IsObject(node));
	ck_assert_int_eq(cJSON_GetArraySize(node), 1);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(node, "$fn");
	ck_assert(cJSON_IsNumber(n) && n->valuedouble >= 1);
	return (uint64_t)n->valuedouble;
}

/* Export rec_fn(r) with loopback.store, answer it, and return its token. */
static uint64_t export_rec(struct rec *r, struct rec *done)
{
	uint64_t id, n;
	int want = done->calls + 1;

	ck_assert_int_eq(bk_call(conn, "loopback", "store", rec_reply, done, "sf", "k", rec_fn, r, rec_destroy), 0);
	cJSON *m = expect_call("store", &id);
	n = fn_token(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "args"), 1));
	cJSON_Delete(m);
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu}", (unsigned long long)id);
	ck_assert_int_eq(pump_until(conn, &done->calls, want, 2000), want);
	return n;
}

/* The next frame must answer request `id`: returns it. */
static cJSON *expect_answer(uint64_t id, const char *t)
{
	ck_assert_int_eq(bk_conn_flush(conn), 0);
	cJSON *m = fake_recv(&fk, conn, 2000);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "t")->valuestring, t);
	ck_assert(cJSON_GetObjectItemCaseSensitive(m, "id")->valuedouble == (double)id);
	return m;
}

/* The error name of an error frame. */
static const char *error_name(const cJSON *m)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");

	ck_assert(cJSON_IsString(n));
	return n->valuestring;
}

/* Connect through the fake host, with a disconnect handler. */
static void fake_setup(void)
{
	seq = 0;
	in_start = false;
	conn = NULL;
	memset(&dc, 0, sizeof dc);
	ck_assert_int_eq(fake_open(&fk, &conn, 1), 0);
	ck_assert_ptr_nonnull(conn);
	bk_conn_set_disconnect_handler(conn, disc_cb, &dc);
}

/* Close both ends. */
static void fake_teardown(void)
{
	conn = bk_conn_unref(conn);
	fake_free(&fk);
}

/* ---- handshake ----------------------------------------------------------- */

START_TEST(handshake)
{
	const cJSON *hello = fk.hello;
	cJSON *objs = cJSON_Parse("{\"loopback\":{\"doc\":\"fake\",\"methods\":{},\"events\":{\"*\":{}}}}");

	ck_assert_ptr_nonnull(hello);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(hello, "t")->valuestring, "hello");
	ck_assert(cJSON_GetObjectItemCaseSensitive(hello, "version")->valuedouble == 1.0);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(hello, "name")->valuestring, "fake-test");
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(hello, "pid");
	if (pid)
		ck_assert(pid->valuedouble == (double)getpid());
	ck_assert(bk_conn_is_connected(conn));
	ck_assert_uint_eq(bk_conn_get_client_id(conn), 5);
	ck_assert(cJSON_Compare(bk_conn_get_objects(conn), objs, true));
	ck_assert(bk_conn_is_idle(conn));
	cJSON_Delete(objs);
}
END_TEST

/* The welcome's objects are only checked for syntax at the handshake and
 * parsed on the first bk_conn_get_objects: a bad escape there leaves the
 * connection up and the objects NULL; a syntax error fails the handshake. */
START_TEST(welcome_objects_parsed_on_demand)
{
	static const char head[] =
		"{\"t\":\"welcome\",\"version\":1,\"server\":\"fake 0\",\"client\":5,"
		"\"limits\":{\"frame_max\":1048576,\"output_max\":4194304,\"tokens_max\":4096,"
		"\"handlers_max\":1024,\"pending_max\":4096},\"objects\":";
	bk_conn *c = NULL;

	memset(&fk, 0, sizeof fk);
	snprintf(fk.welcome, sizeof fk.welcome, "%s{\"loopback\":{\"doc\":\"bad \\q escape\"}}}", head);
	ck_assert_int_eq(fake_open(&fk, &c, 0), 0);
	ck_assert(bk_conn_is_connected(c));
	ck_assert_ptr_null(bk_conn_get_objects(c));
	ck_assert_ptr_null(bk_conn_get_objects(c));
	c = bk_conn_unref(c);
	fake_free(&fk);

	memset(&fk, 0, sizeof fk);
	snprintf(fk.welcome, sizeof fk.welcome, "%s{\"loopback\":{\"doc\":\"ok\",\"n\":[1,2.5e3,true,null]}}}", head);
	ck_assert_int_eq(fake_open(&fk, &c, 0), 0);
	const cJSON *objs = bk_conn_get_objects(c);
	ck_assert_ptr_nonnull(objs);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(objs, "loopback"), "doc")->valuestring, "ok");
	ck_assert_ptr_eq(bk_conn_get_objects(c), objs);
	c = bk_conn_unref(c);
	fake_free(&fk);

	memset(&fk, 0, sizeof fk);
	snprintf(fk.welcome, sizeof fk.welcome, "%s{\"loopback\":{\"doc\" \"no colon\"}}}", head);
	ck_assert_int_eq(fake_open(&fk, &c, 0), -EPROTO);
	ck_assert_ptr_null(c);
	fake_free(&fk);
}
END_TEST

START_TEST(version_mismatch_in_welcome)
{
	bk_conn *c = NULL;

	memset(&fk, 0, sizeof fk);
	ck_assert_int_eq(fake_open(&fk, &c, 2), -EPROTO);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(fk.hello);
	/* the client closes, perhaps after saying why */
	ck_assert(fake_closed(&fk, NULL, 2000, "VersionMismatch"));
	fake_free(&fk);
}
END_TEST

/* bk_conn_new adopts $BOTKIT_FD, takes it out of the environment and keeps
 * the descriptor from the programs it runs. */
START_TEST(botkit_fd_adopted_once)
{
	int sv[2];
	pthread_t t;
	bk_conn *c = NULL;
	char num[16];

	memset(&fk, 0, sizeof fk);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fk.fd = sv[1];
	frame_reader_init(&fk.in, 1 << 20);
	snprintf(fk.welcome, sizeof fk.welcome, WELCOME_FMT, 1);
	snprintf(num, sizeof num, "%d", sv[0]);
	ck_assert_int_eq(setenv("BOTKIT_FD", num, 1), 0);
	ck_assert_int_eq(fcntl(sv[0], F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_handshake, &fk), 0);
	ck_assert_int_eq(bk_conn_new(&c, "fake-test"), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_ptr_null(getenv("BOTKIT_FD"));
	ck_assert_int_eq(fcntl(sv[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert(bk_conn_is_connected(c));
	bk_conn_unref(c);
	fake_free(&fk);
}
END_TEST

START_TEST(version_mismatch_error_from_host)
{
	bk_conn *c = NULL;

	memset(&fk, 0, sizeof fk);
	snprintf(fk.welcome, sizeof fk.welcome, "%s",
		 "{\"t\":\"error\",\"error\":{\"name\":\"VersionMismatch\",\"message\":\"host speaks version 7\","
		 "\"data\":{\"version\":7}}}");
	ck_assert_int_eq(fake_open(&fk, &c, 0), -EPROTO);
	ck_assert_ptr_null(c);
	ck_assert(fake_closed(&fk, NULL, 2000, NULL));
	fake_free(&fk);
}
END_TEST

START_TEST(host_closes_during_handshake)
{
	bk_conn *c = NULL;

	memset(&fk, 0, sizeof fk);
	fk.close_after_hello = true;
	ck_assert_int_lt(fake_open(&fk, &c, 0), 0);
	ck_assert_ptr_null(c);
	fake_free(&fk);
}
END_TEST

/* ---- release counts ----------------------------------------------------------- */

START_TEST(release_count_race)
{
	struct rec r = { 0 }, done = { 0 };
	uint64_t n, again, later;
	cJSON *m;

	n = export_rec(&r, &done);
	/* sent a second time: the same token */
	again = export_rec(&r, &done);
	ck_assert_uint_eq(again, n);

	/* The host releases what it had received when it decided to (one copy),
	 * while the second copy was already on its way: the function lives. */
	fake_send(&fk, "{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)n);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":100,\"fn\":%llu,\"args\":[\"alive\"]}", (unsigned long long)n);
	m = expect_answer(100, "result");
	ck_assert(cJSON_GetObjectItemCaseSensitive(m, "value")->valuedouble == 1.0);
	cJSON_Delete(m);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.destroyed, 0);

	/* the rest: now it goes, once */
	fake_send(&fk, "{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)n);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":101,\"fn\":%llu,\"args\":[]}", (unsigned long long)n);
	m = expect_answer(101, "error");
	ck_assert_str_eq(error_name(m), "NoSuchFunction");
	cJSON_Delete(m);
	ck_assert_int_eq(r.destroyed, 1);
	ck_assert_int_eq(r.calls, 1);

	/* exported again, it gets a token never used before */
	later = export_rec(&r, &done);
	ck_assert_uint_ne(later, n);
	fake_send(&fk, "{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)later);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":102,\"fn\":%llu,\"args\":[]}", (unsigned long long)later);
	m = expect_answer(102, "error");
	ck_assert_str_eq(error_name(m), "NoSuchFunction");
	cJSON_Delete(m);
	ck_assert_int_eq(r.destroyed, 2);
	ck_assert_int_eq(done.calls, 3);
	ck_assert_int_eq(done.failed, 0);
	ck_assert(bk_conn_is_connected(conn));
	ck_assert_int_eq(dc.calls, 0);
}
END_TEST

/* Sum the counts of the releases of token fn until they reach want. */
static uint64_t collect_releases(uint64_t fn, uint64_t want, int *ret_messages)
{
	uint64_t sum = 0;
	int messages = 0;

	ck_assert_int_eq(bk_conn_flush(conn), 0);
	while (sum < want) {
		cJSON *m = fake_recv(&fk, conn, 2000);
		ck_assert_msg(m != NULL, "released %llu of %llu", (unsigned long long)sum, (unsigned long long)want);
		ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "t")->valuestring, "release");
		ck_assert(cJSON_GetObjectItemCaseSensitive(m, "fn")->valuedouble == (double)fn);
		double count = cJSON_GetObjectItemCaseSensitive(m, "count")->valuedouble;
		ck_assert(count >= 1);
		sum += (uint64_t)count;
		messages++;
		cJSON_Delete(m);
	}
	*ret_messages = messages;
	return sum;
}

START_TEST(import_release_counts)
{
	struct rec h = { 0 }, done = { 0 }, ctr = { 0 };
	uint64_t id, hn;
	int messages;
	cJSON *m;

	hn = export_rec(&h, &done);

	/* a host function in a result */
	ck_assert_int_eq(bk_call(conn, "loopback", "makeCounter", rec_reply, &ctr, ""), 0);
	m = expect_call("makeCounter", &id);
	cJSON_Delete(m);
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu,\"value\":{\"next\":{\"$fn\":7}}}", (unsigned long long)id);
	ck_assert_int_eq(pump_until(conn, &ctr.calls, 1, 2000), 1);
	ck_assert_ptr_nonnull(ctr.kept);

	/* Received again while held: one import, released with count 2. */
	fake_send(&fk, "{\"t\":\"invoke\",\"fn\":%llu,\"args\":[{\"$fn\":7}]}", (unsigned long long)hn);
	ck_assert_int_eq(pump_until(conn, &h.calls, 1, 2000), 1);
	ck_assert(h.arg_is_fn);
	ctr.kept = bk_fn_unref(ctr.kept);
	ck_assert_uint_eq(collect_releases(7, 2, &messages), 2);
	ck_assert_int_eq(messages, 1);

	/* The race the other way: the host sends 8 again while the client
	 * releases it; the client counts the new copy and releases it too. */
	ck_assert_int_eq(bk_call(conn, "loopback", "makeCounter", rec_reply, &ctr, ""), 0);
	m = expect_call("makeCounter", &id);
	cJSON_Delete(m);
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu,\"value\":{\"next\":{\"$fn\":8}}}", (unsigned long long)id);
	ck_assert_int_eq(pump_until(conn, &ctr.calls, 2, 2000), 2);
	fake_send(&fk, "{\"t\":\"invoke\",\"fn\":%llu,\"args\":[{\"$fn\":8}]}", (unsigned long long)hn);
	ctr.kept = bk_fn_unref(ctr.kept);
	ck_assert_int_eq(pump_until(conn, &h.calls, 2, 2000), 2);
	ck_assert_uint_eq(collect_releases(8, 2, &messages), 2);
	ck_assert_int_eq(messages, 2);

	/* nothing more is released */
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":200,\"fn\":%llu,\"args\":[]}", (unsigned long long)hn);
	m = expect_answer(200, "result");
	cJSON_Delete(m);
	ck_assert_int_eq(dc.calls, 0);
	/* closing frees the export the host never released (h lives on this stack) */
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(h.destroyed, 1);
	ck_assert_int_eq(h.calls, 3);
}
END_TEST

START_TEST(unknown_token_is_no_such_function)
{
	struct rec r = { 0 }, done = { 0 };
	int messages;
	cJSON *m;

	fake_send(&fk, "{\"t\":\"invoke\",\"id\":9,\"fn\":424242,\"args\":[1,2]}");
	m = expect_answer(9, "error");
	ck_assert_str_eq(error_name(m), "NoSuchFunction");
	cJSON_Delete(m);

	/* a notification of an unknown token gets no answer at all */
	fake_send(&fk, "{\"t\":\"invoke\",\"fn\":424243,\"args\":[]}");
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":10,\"fn\":424244}");
	m = expect_answer(10, "error");
	ck_assert_str_eq(error_name(m), "NoSuchFunction");
	cJSON_Delete(m);

	/* a real token still works, and a stale id of the same shape does not */
	uint64_t n = export_rec(&r, &done);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":11,\"fn\":%llu,\"args\":[\"a\",\"b\"]}", (unsigned long long)n);
	m = expect_answer(11, "result");
	ck_assert(cJSON_GetObjectItemCaseSensitive(m, "value")->valuedouble == 2.0);
	cJSON_Delete(m);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":12,\"fn\":%llu,\"args\":[]}", (unsigned long long)n + 1000);
	m = expect_answer(12, "error");
	ck_assert_str_eq(error_name(m), "NoSuchFunction");
	cJSON_Delete(m);

	/* answers for requests that are not pending are ignored */
	fake_send(&fk, "{\"t\":\"result\",\"id\":777,\"value\":1}");
	fake_send(&fk, "{\"t\":\"error\",\"id\":778,\"error\":{\"name\":\"Failed\",\"message\":\"x\"}}");
	/* but the tokens in them were sent: counted, and released at once */
	fake_send(&fk, "{\"t\":\"result\",\"id\":779,\"value\":{\"f\":[{\"$fn\":9},{\"$fn\":9}]}}");
	ck_assert_uint_eq(collect_releases(9, 2, &messages), 2);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":13,\"fn\":%llu,\"args\":[]}", (unsigned long long)n);
	m = expect_answer(13, "result");
	cJSON_Delete(m);
	ck_assert_int_eq(r.calls, 2);
	ck_assert(bk_conn_is_connected(conn));
	ck_assert_int_eq(dc.calls, 0);
	/* closing frees the export the host never released (r lives on this stack) */
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(r.destroyed, 1);
}
END_TEST

/* ---- function nodes: copies, cJSON_Delete, forgeries ------------------------------------ */

/* What a completion kept: a counted copy of its result. */
struct kept {
	int calls;
	cJSON *result;
};

/* Keep a bk_json_dup() of the result (the library frees the original). */
static void keep_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct kept *k = userdata;

	k->calls++;
	ck_assert_ptr_null(err);
	k->result = bk_json_dup(result);
	ck_assert_ptr_nonnull(k->result);
}

/* A tree {"next": host function fn} received in a result, as the counted
 * copy a completion kept: one reference, fn received once more. */
static cJSON *receive_host_fn(uint64_t fn)
{
	struct kept k = { 0 };
	uint64_t id;

	ck_assert_int_eq(bk_call(conn, "loopback", "makeCounter", keep_reply, &k, ""), 0);
	cJSON_Delete(expect_call("makeCounter", &id));
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu,\"value\":{\"next\":{\"$fn\":%llu}}}",
		  (unsigned long long)id, (unsigned long long)fn);
	ck_assert_int_eq(pump_until(conn, &k.calls, 1, 2000), 1);
	ck_assert(bk_json_is_function(cJSON_GetObjectItemCaseSensitive(k.result, "next")));
	return k.result;
}

/* Send v as loopback.echo's argument; on success the host gets the call,
 * answers null, and *ret_arg is the argument as it came on the wire. */
static int send_value(const cJSON *v, cJSON **ret_arg)
{
	struct rec done = { 0 };
	uint64_t id;
	int r = bk_call(conn, "loopback", "echo", rec_reply, &done, "j", v);

	if (r < 0)
		return r;
	cJSON *m = expect_call("echo", &id);
	*ret_arg = cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(m, "args"), 0);
	cJSON_Delete(m);
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu}", (unsigned long long)id);
	ck_assert_int_eq(pump_until(conn, &done.calls, 1, 2000), 1);
	ck_assert_int_eq(done.failed, 0);
	return 0;
}

/* The id of a one-member token object {"<key>":N} found at v[field] (or at v
 * itself when field is NULL); frees v. */
static uint64_t token_of(cJSON *v, const char *field, const char *key)
{
	const cJSON *t = field ? cJSON_GetObjectItemCaseSensitive(v, field) : v;

	ck_assert(cJSON_IsObject(t));
	ck_assert_int_eq(cJSON_GetArraySize(t), 1);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, key);
	ck_assert_msg(cJSON_IsNumber(n) && n->valuedouble >= 1, "no %s token", key);
	uint64_t id = (uint64_t)n->valuedouble;
	cJSON_Delete(v);
	return id;
}

/* Nothing was sent since the last frame read (no release): the next frame
 * is the call this makes now. */
static void assert_nothing_sent(void)
{
	struct rec done = { 0 };
	uint64_t id;

	ck_assert_int_eq(bk_call(conn, "loopback", "mark", rec_reply, &done, ""), 0);
	cJSON_Delete(expect_call("mark", &id));
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu}", (unsigned long long)id);
	ck_assert_int_eq(pump_until(conn, &done.calls, 1, 2000), 1);
}

/* A copy made by cJSON_Duplicate is no function: refused when used, it
 * releases nothing when freed, and the original keeps working. A copy made by
 * bk_json_dup is a function of its own, counted. */
START_TEST(function_node_duplicated)
{
	struct rec r = { 0 };
	int messages;
	cJSON *arg;

	/* a host function */
	cJSON *t = receive_host_fn(7);
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(t, "next");
	bk_fn *f = bk_json_get_fn(node);
	ck_assert_ptr_nonnull(f);

	cJSON *d = cJSON_Duplicate(t, true);
	const cJSON *dnode = cJSON_GetObjectItemCaseSensitive(d, "next");
	ck_assert(cJSON_IsRaw(dnode));
	ck_assert_str_eq(dnode->valuestring, node->valuestring);
	ck_assert(!bk_json_is_function(dnode));
	ck_assert_ptr_null(bk_json_get_fn(dnode));
	ck_assert_int_eq(bk_call(conn, "loopback", "refused", NULL, NULL, "j", d), -EINVAL);
	ck_assert_int_eq(bk_call_json(conn, "loopback", "refused", d, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_fn_call(f, NULL, NULL, "j", dnode), -EINVAL);
	ck_assert_int_eq(bk_json_delete(d), -EINVAL);
	cJSON_Delete(cJSON_Duplicate(t, true));
	assert_nothing_sent();

	/* the original still stands for the function */
	ck_assert_ptr_eq(bk_json_get_fn(node), f);
	ck_assert_int_eq(send_value(t, &arg), 0);
	ck_assert_uint_eq(token_of(arg, "next", "$yours"), 7);

	/* bk_json_dup: a counted copy that outlives the original */
	cJSON *b = bk_json_dup(t);
	const cJSON *bnode = cJSON_GetObjectItemCaseSensitive(b, "next");
	ck_assert_ptr_eq(bk_json_get_fn(bnode), f);
	ck_assert_str_ne(bnode->valuestring, node->valuestring);
	ck_assert_int_eq(bk_json_delete(t), 0);
	assert_nothing_sent();
	ck_assert_int_eq(send_value(b, &arg), 0);
	ck_assert_uint_eq(token_of(arg, "next", "$yours"), 7);
	ck_assert_int_eq(bk_json_delete(b), 0);
	ck_assert_uint_eq(collect_releases(7, 1, &messages), 1);
	ck_assert_int_eq(messages, 1);
	assert_nothing_sent();

	/* a function of this program */
	cJSON *l = bk_json_function(rec_fn, &r, rec_destroy);
	cJSON *ld = cJSON_Duplicate(l, true);
	ck_assert(bk_json_is_function(l));
	ck_assert(!bk_json_is_function(ld));
	ck_assert_int_eq(bk_call(conn, "loopback", "refused", NULL, NULL, "j", ld), -EINVAL);
	ck_assert_int_eq(bk_json_delete(ld), -EINVAL);
	cJSON *lb = bk_json_dup(l);
	ck_assert(bk_json_is_function(lb));
	ck_assert_int_eq(send_value(l, &arg), 0);
	uint64_t n = token_of(arg, NULL, "$fn");
	ck_assert_int_eq(send_value(lb, &arg), 0);
	ck_assert_uint_eq(token_of(arg, NULL, "$fn"), n);
	ck_assert_int_eq(bk_json_delete(l), 0);
	ck_assert_int_eq(bk_json_delete(lb), 0);
	/* the host holds two copies; it calls the function, then releases both */
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":50,\"fn\":%llu,\"args\":[1]}", (unsigned long long)n);
	cJSON_Delete(expect_answer(50, "result"));
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.destroyed, 0);
	fake_send(&fk, "{\"t\":\"release\",\"fn\":%llu,\"count\":2}", (unsigned long long)n);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	assert_nothing_sent();
	ck_assert(bk_conn_is_connected(conn));
	ck_assert_int_eq(dc.calls, 0);
}
END_TEST

/* A tree freed with plain cJSON_Delete: nothing crashes, nothing is released
 * twice, the connection goes on; the host function the node held stays held
 * (the host is not told) until the connection ends. */
START_TEST(function_node_freed_by_cjson_delete)
{
	struct rec r = { 0 };
	int messages;
	cJSON *arg;

	cJSON *t = receive_host_fn(7);
	bk_fn *f = bk_fn_ref(bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(t, "next")));
	cJSON_Delete(t);
	/* not the last reference: the forgotten node still holds one */
	ck_assert_ptr_null(bk_fn_unref(f));
	assert_nothing_sent();

	/* the same function received again, used, freed: still held once */
	cJSON *t2 = receive_host_fn(7);
	ck_assert_int_eq(send_value(t2, &arg), 0);
	ck_assert_uint_eq(token_of(arg, "next", "$yours"), 7);
	ck_assert_int_eq(bk_json_delete(t2), 0);
	assert_nothing_sent();

	/* another host function goes normally */
	cJSON *t3 = receive_host_fn(8);
	ck_assert_int_eq(bk_json_delete(t3), 0);
	ck_assert_uint_eq(collect_releases(8, 1, &messages), 1);

	/* a function of this program in a tree freed by cJSON_Delete: the host
	 * holds what it was sent, calls it and releases it as usual */
	cJSON *arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, bk_json_function(rec_fn, &r, rec_destroy));
	ck_assert_int_eq(send_value(arr, &arg), 0);
	cJSON_Delete(arr);
	uint64_t n = token_of(cJSON_DetachItemFromArray(arg, 0), NULL, "$fn");
	cJSON_Delete(arg);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":60,\"fn\":%llu,\"args\":[]}", (unsigned long long)n);
	cJSON_Delete(expect_answer(60, "result"));
	ck_assert_int_eq(r.calls, 1);
	fake_send(&fk, "{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)n);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	assert_nothing_sent();
	ck_assert(bk_conn_is_connected(conn));

	/* a tree kept past the end of its connection: its node is dropped with
	 * the connection, then is no function, and freeing it is safe */
	cJSON *t4 = receive_host_fn(9);
	conn = bk_conn_unref(conn);
	const cJSON *node4 = cJSON_GetObjectItemCaseSensitive(t4, "next");
	ck_assert(!bk_json_is_function(node4));
	ck_assert_ptr_null(bk_json_get_fn(node4));
	ck_assert_int_eq(bk_json_delete(t4), -EINVAL);
	/* the connection ended without a release: the host forgets it all */
	for (cJSON *m; (m = fake_recv(&fk, NULL, 2000)); cJSON_Delete(m))
		ck_assert_str_ne(cJSON_GetObjectItemCaseSensitive(m, "t")->valuestring, "release");
	ck_assert(fk.eof);
	ck_assert_int_eq(r.destroyed, 1);
}
END_TEST

/* Answer with a forged node (the text in userdata): refused; then answer "ok". */
static void forge_answer_fn(bk_conn *c, bk_args *a, void *userdata)
{
	cJSON *x = cJSON_CreateRaw(userdata);

	ck_assert_int_eq(bk_args_return_json(a, x), -EINVAL);
	ck_assert(bk_args_wants_result(a));
	ck_assert_int_eq(bk_json_delete(x), -EINVAL);
	ck_assert_int_eq(bk_args_return(a, "s", "ok"), 0);
}

/* Raw nodes made with cJSON_CreateRaw, whatever their text (old pointer
 * formats with real pointers, garbage, huge numbers, the text of a live or a
 * released function node), are refused with -EINVAL everywhere, never
 * followed, and release nothing. */
START_TEST(forged_function_nodes)
{
	struct rec r = { 0 }, r2 = { 0 }, done = { 0 };
	char gone_text[64], old_local[128], old_host[64];
	int messages;
	cJSON *arg;

	cJSON *t = receive_host_fn(7);
	const cJSON *live = cJSON_GetObjectItemCaseSensitive(t, "next");
	bk_fn *f = bk_json_get_fn(live);
	cJSON *l = bk_json_function(rec_fn, &r, rec_destroy);
	cJSON *gone = bk_json_function(rec_fn, &r, rec_destroy);
	snprintf(gone_text, sizeof gone_text, "%s", gone->valuestring);
	ck_assert_int_eq(bk_json_delete(gone), 0);
	/* what the nodes used to hold: real pointers, in the old formats */
	snprintf(old_local, sizeof old_local, "L:%" PRIxPTR ":%" PRIxPTR ":%" PRIxPTR, (uintptr_t)rec_fn,
		 (uintptr_t)&r, (uintptr_t)rec_destroy);
	snprintf(old_host, sizeof old_host, "R:%" PRIxPTR, (uintptr_t)f);
	const char *const texts[] = {
		"R:10", "L:1", "L:1:2:3", "R:0", "", "garbage", "null", "{\"$fn\":7}",
		"\"<botkit function >\"", "\"<botkit function 0>\"", "\"<botkit function 01>\"",
		"\"<botkit function -1>\"", "\"<botkit function 1> \"", "\"<botkit function 1>",
		"\"<botkit function 18446744073709551615>\"", "\"<botkit function 18446744073709551616>\"",
		"\"<botkit function 99999999999999999999999999999999999999>\"",
		gone_text, live->valuestring, l->valuestring, old_local, old_host,
	};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		cJSON *x = cJSON_CreateRaw(texts[i]);
		ck_assert(!bk_json_is_function(x));
		ck_assert_ptr_null(bk_json_get_fn(x));
		char *p = cJSON_PrintUnformatted(x);
		ck_assert_ptr_nonnull(p);
		free(p);
		ck_assert_int_eq(bk_call(conn, "loopback", "refused", NULL, NULL, "j", x), -EINVAL);
		/* beside real functions: the function exported for this message is
		 * taken back (its destroy does not run) */
		ck_assert_int_eq(bk_call(conn, "loopback", "refused", rec_reply, &done, "fjF", rec_fn, &r2,
					 rec_destroy, x, f), -EINVAL);
		ck_assert_int_eq(bk_fn_call(f, NULL, NULL, "sj", "x", x), -EINVAL);
		cJSON *arr = cJSON_CreateArray();
		cJSON_AddItemToArray(arr, bk_json_host_function(f));
		cJSON_AddItemToArray(arr, cJSON_CreateObject());
		cJSON_AddItemToObject(cJSON_GetArrayItem(arr, 1), "deep", x);
		ck_assert_int_eq(bk_call_json(conn, "loopback", "refused", arr, NULL, NULL), -EINVAL);
		ck_assert_int_eq(bk_fn_call_json(f, arr, NULL, NULL), -EINVAL);
		/* freed: the real node releases its reference, the forged one nothing */
		ck_assert_int_eq(bk_json_delete(arr), -EINVAL);
	}
	ck_assert_int_eq(done.calls, 0);
	ck_assert_int_eq(r2.destroyed, 0);
	ck_assert(bk_conn_is_idle(conn));
	assert_nothing_sent();

	/* forged answers to the host are refused too */
	uint64_t id;
	ck_assert_int_eq(bk_call(conn, "loopback", "store", rec_reply, &done, "sf", "k", forge_answer_fn,
				 old_host, (void (*)(void *))NULL), 0);
	cJSON *m = expect_call("store", &id);
	uint64_t fa = fn_token(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "args"), 1));
	cJSON_Delete(m);
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu}", (unsigned long long)id);
	ck_assert_int_eq(pump_until(conn, &done.calls, 1, 2000), 1);
	fake_send(&fk, "{\"t\":\"invoke\",\"id\":70,\"fn\":%llu,\"args\":[]}", (unsigned long long)fa);
	m = expect_answer(70, "result");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "value")->valuestring, "ok");
	cJSON_Delete(m);

	/* the real nodes still work, and go exactly once */
	ck_assert_ptr_eq(bk_json_get_fn(live), f);
	ck_assert_int_eq(send_value(t, &arg), 0);
	ck_assert_uint_eq(token_of(arg, "next", "$yours"), 7);
	ck_assert_int_eq(send_value(l, &arg), 0);
	uint64_t ln = token_of(arg, NULL, "$fn");
	ck_assert_int_eq(bk_json_delete(t), 0);
	ck_assert_uint_eq(collect_releases(7, 1, &messages), 1);
	ck_assert_int_eq(messages, 1);
	ck_assert_int_eq(bk_json_delete(l), 0);
	fake_send(&fk, "{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)ln);
	ck_assert_int_eq(pump_until(conn, &r.destroyed, 1, 2000), 1);
	assert_nothing_sent();
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(r2.calls + r2.destroyed, 0);
	ck_assert(bk_conn_is_connected(conn));
	ck_assert_int_eq(dc.calls, 0);
}
END_TEST

/* Function nodes need no connection: nested copies, references, moves. */
START_TEST(function_nodes_without_connection)
{
	struct rec a = { 0 }, b = { 0 };

	ck_assert_ptr_null(bk_json_function(NULL, &a, NULL));
	ck_assert_ptr_null(bk_json_host_function(NULL));
	ck_assert_ptr_null(bk_json_dup(NULL));
	ck_assert(!bk_json_is_function(NULL));
	ck_assert_ptr_null(bk_json_get_fn(NULL));
	ck_assert_int_eq(bk_json_delete(NULL), 0);

	/* {"a":[fa,{"b":fb}],"c":forged,"d":"text"} */
	cJSON *v = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(v, "a");
	cJSON *fa = bk_json_function(rec_fn, &a, rec_destroy);
	cJSON_AddItemToArray(arr, fa);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToArray(arr, o);
	cJSON_AddItemToObject(o, "b", bk_json_function(rec_fn, &b, NULL));
	cJSON_AddItemToObject(v, "c", cJSON_CreateRaw(fa->valuestring));
	cJSON_AddStringToObject(v, "d", "text");
	ck_assert(bk_json_is_function(fa));
	ck_assert_ptr_null(bk_json_get_fn(fa));
	ck_assert(!bk_json_is_function(cJSON_GetObjectItemCaseSensitive(v, "c")));

	/* printing shows the nodes as strings and never looks into them */
	char *p = cJSON_PrintUnformatted(v);
	cJSON *printed = cJSON_Parse(p);
	ck_assert_ptr_nonnull(printed);
	ck_assert(cJSON_IsString(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(printed, "a"), 0)));
	cJSON_Delete(printed);
	free(p);

	cJSON *copy = bk_json_dup(v);
	ck_assert_ptr_nonnull(copy);
	const cJSON *ca = cJSON_GetObjectItemCaseSensitive(copy, "a");
	ck_assert(bk_json_is_function(cJSON_GetArrayItem(ca, 0)));
	ck_assert(bk_json_is_function(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ca, 1), "b")));
	ck_assert(!bk_json_is_function(cJSON_GetObjectItemCaseSensitive(copy, "c")));
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(copy, "d")->valuestring, "text");
	ck_assert_int_eq(bk_json_delete(copy), -EINVAL);

	/* a node moved to another tree is still the function; a reference to it
	 * (which cJSON_Delete does not free) is not, and freeing it releases nothing */
	cJSON *moved = cJSON_DetachItemFromArray(arr, 0);
	ck_assert_ptr_eq(moved, fa);
	cJSON *other = cJSON_CreateArray();
	cJSON_AddItemToArray(other, moved);
	ck_assert(bk_json_is_function(cJSON_GetArrayItem(other, 0)));
	cJSON *refs = cJSON_CreateArray();
	cJSON_AddItemReferenceToArray(refs, moved);
	cJSON_AddItemReferenceToArray(refs, o);
	ck_assert(!bk_json_is_function(cJSON_GetArrayItem(refs, 0)));
	ck_assert_int_eq(bk_json_delete(refs), 0);
	ck_assert(bk_json_is_function(moved));
	ck_assert(bk_json_is_function(cJSON_GetObjectItemCaseSensitive(o, "b")));

	ck_assert_int_eq(bk_json_delete(v), -EINVAL);
	ck_assert_int_eq(bk_json_delete(other), 0);
	/* never sent: the program keeps its userdata, nothing ran */
	ck_assert_int_eq(a.destroyed + a.calls + b.destroyed + b.calls, 0);
}
END_TEST

/* Build, copy, check and free function nodes in a loop. */
static void *nodes_worker(void *userdata)
{
	struct rec *r = userdata;

	for (int i = 0; i < 2000; i++) {
		cJSON *v = cJSON_CreateArray();
		cJSON_AddItemToArray(v, bk_json_function(rec_fn, r, NULL));
		cJSON_AddItemToArray(v, bk_json_function(rec_fn, r + 1, NULL));
		cJSON *copy = bk_json_dup(v);
		if (!bk_json_is_function(cJSON_GetArrayItem(copy, 1)) ||
		    bk_json_is_function(cJSON_GetArrayItem(v, 2)))
			r->failed++;
		if (bk_json_delete(v) != 0 || bk_json_delete(copy) != 0)
			r->failed++;
		if (i % 3 == 0)
			cJSON_Delete(bk_json_function(rec_fn, r, NULL));
	}
	return NULL;
}

/* The table behind function nodes is shared by the threads of a process. */
START_TEST(function_nodes_in_threads)
{
	struct rec recs[4][2];
	pthread_t t[4];

	memset(recs, 0, sizeof recs);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, nodes_worker, recs[i]), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(recs[i][0].failed, 0);
	}
}
END_TEST

/* ---- disconnect -------------------------------------------------------------------- */

/* Assert that a completion ran once with Disconnected, before the disconnect handler. */
static void assert_disconnected(const struct rec *r)
{
	ck_assert_int_eq(r->calls, 1);
	ck_assert_int_eq(r->failed, 1);
	ck_assert_int_eq(r->value, -ENOTCONN);
	ck_assert_str_eq(r->name, "Disconnected");
	ck_assert_int_lt(r->seq, dc.seq);
}

/* Assert that the connection refuses everything once lost, without completions. */
static void assert_refuses_after_loss(bk_fn *held)
{
	struct rec late = { 0 };

	ck_assert(!bk_conn_is_connected(conn));
	ck_assert_int_eq(bk_call(conn, "loopback", "echo", rec_reply, &late, "s", "x"), -ENOTCONN);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", NULL, "s", "x"), -ENOTCONN);
	if (held)
		ck_assert_int_eq(bk_fn_call(held, rec_reply, &late, ""), -ENOTCONN);
	ck_assert_int_eq(bk_conn_process(conn), -ENOTCONN);
	ck_assert_int_eq(bk_run(conn), -ENOTCONN);
	ck_assert_int_eq(late.calls, 0);
}

START_TEST(pending_async_calls_on_close)
{
	struct rec sleep_r = { 0 }, store_r = { 0 }, ctr = { 0 }, fncall = { 0 }, f = { 0 };
	uint64_t id;
	cJSON *m;

	/* a host function to call */
	ck_assert_int_eq(bk_call(conn, "loopback", "makeCounter", rec_reply, &ctr, ""), 0);
	m = expect_call("makeCounter", &id);
	cJSON_Delete(m);
	fake_send(&fk, "{\"t\":\"result\",\"id\":%llu,\"value\":{\"next\":{\"$fn\":3}}}", (unsigned long long)id);
	ck_assert_int_eq(pump_until(conn, &ctr.calls, 1, 2000), 1);
	ck_assert_ptr_nonnull(ctr.kept);

	in_start = true;
	ck_assert_int_eq(bk_call(conn, "loopback", "sleep", rec_reply, &sleep_r, "i", 1000), 0);
	ck_assert_int_eq(bk_call(conn, "loopback", "store", rec_reply, &store_r, "sf", "k", rec_fn, &f, rec_destroy),
			 0);
	ck_assert_int_eq(bk_fn_call(ctr.kept, rec_reply, &fncall, "i", 1), 0);
	in_start = false;
	ck_assert(!bk_conn_is_idle(conn));
	m = expect_call("sleep", &id);
	cJSON_Delete(m);
	m = expect_call("store", &id);
	cJSON_Delete(m);
	m = fake_recv(&fk, conn, 2000);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "t")->valuestring, "invoke");
	ck_assert(cJSON_GetObjectItemCaseSensitive(m, "fn")->valuedouble == 3.0);
	cJSON_Delete(m);

	close(fk.fd);
	fk.fd = -1;
	ck_assert_int_eq(pump_until(conn, &dc.calls, 1, 2000), 1);
	ck_assert_str_eq(dc.name, "Disconnected");
	ck_assert_int_eq(dc.err, -ENOTCONN);
	assert_disconnected(&sleep_r);
	assert_disconnected(&store_r);
	assert_disconnected(&fncall);
	/* pending calls complete, then exported functions are freed, then the handler */
	ck_assert_int_eq(f.destroyed, 1);
	ck_assert_int_gt(f.destroy_seq, fncall.seq);
	ck_assert_int_lt(f.destroy_seq, dc.seq);
	ck_assert_int_eq(f.calls, 0);

	assert_refuses_after_loss(ctr.kept);
	pump_until(conn, &dc.calls, 2, 100);
	ck_assert_int_eq(dc.calls, 1);
	ck_assert_int_eq(sleep_r.calls + store_r.calls + fncall.calls, 3);
	ck_assert_int_eq(f.destroyed, 1);
	ctr.kept = bk_fn_unref(ctr.kept);
}
END_TEST

/* Read calls until one of method "sleep", then close: a host that vanishes
 * while the client blocks in bk_call_sync(). */
static void *fake_vanish(void *userdata)
{
	struct fake *f = userdata;
	cJSON *m;

	while ((m = fake_recv(f, NULL, 5000))) {
		const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");
		bool last = cJSON_IsString(method) && !strcmp(method->valuestring, "sleep");
		cJSON_Delete(m);
		if (last)
			break;
	}
	close(f->fd);
	f->fd = -1;
	return NULL;
}

START_TEST(pending_blocking_call_on_close)
{
	struct rec echo_r = { 0 };
	pthread_t t;

	ck_assert_int_eq(bk_call(conn, "loopback", "echo", rec_reply, &echo_r, "s", "x"), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_vanish, &fk), 0);
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "sleep", NULL, "i", 1000), -ENOTCONN);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	const bk_error *e = bk_conn_last_error(conn);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(bk_error_name(e), "Disconnected");
	ck_assert_int_eq(bk_error_errno(e), -ENOTCONN);
	ck_assert_int_eq(dc.calls, 1);
	assert_disconnected(&echo_r);
	assert_refuses_after_loss(NULL);
	ck_assert_int_eq(echo_r.calls, 1);
	ck_assert_int_eq(dc.calls, 1);
}
END_TEST

START_TEST(connection_error_from_host)
{
	struct rec r = { 0 };
	uint64_t id;

	ck_assert_int_eq(bk_call(conn, "loopback", "echo", rec_reply, &r, "s", "x"), 0);
	cJSON_Delete(expect_call("echo", &id));
	fake_send(&fk, "{\"t\":\"error\",\"error\":{\"name\":\"LimitExceeded\",\"message\":\"too many tokens\"}}");
	close(fk.fd);
	fk.fd = -1;
	ck_assert_int_eq(pump_until(conn, &dc.calls, 1, 2000), 1);
	ck_assert_str_eq(dc.name, "LimitExceeded");
	ck_assert_int_eq(dc.err, -ENOBUFS);
	assert_disconnected(&r);
}
END_TEST

START_TEST(unref_completes_pending_calls)
{
	struct rec r = { 0 }, f = { 0 };
	uint64_t id;

	ck_assert_int_eq(bk_call(conn, "loopback", "store", rec_reply, &r, "sf", "k", rec_fn, &f, rec_destroy), 0);
	cJSON_Delete(expect_call("store", &id));
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.value, -ENOTCONN);
	ck_assert_str_eq(r.name, "Disconnected");
	ck_assert_int_eq(f.destroyed, 1);
	ck_assert_int_lt(r.seq, f.destroy_seq);
	ck_assert(fake_closed(&fk, NULL, 2000, NULL));
}
END_TEST

/* ---- malformed input from the host ---------------------------------------------------- */

/* Replace @ID and @FN in a template with the pending request and the exported token. */
static void fill_template(char *out, size_t size, const char *tpl, uint64_t id, uint64_t fn)
{
	size_t o = 0;

	for (const char *p = tpl; *p && o + 24 < size; ) {
		if (!strncmp(p, "@ID", 3) || !strncmp(p, "@FN", 3)) {
			o += (size_t)snprintf(out + o, size - o, "%llu", (unsigned long long)(p[1] == 'I' ? id : fn));
			p += 3;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = 0;
}

static const char *const malformed[] = {
	"this is not json",
	"[1,2,3]",
	"\"a string\"",
	"{\"t\":\"bogus\"}",
	"{\"id\":@ID}",
	"{\"t\":\"result\",\"id\":@ID,\"value\":{\"$bad\":1}}",
	"{\"t\":\"result\",\"id\":@ID,\"value\":[{\"$fn\":\"x\"}]}",
	"{\"t\":\"release\",\"fn\":987654,\"count\":1}",
	"{\"t\":\"release\",\"fn\":@FN,\"count\":5}",
	"{\"t\":\"invoke\",\"fn\":@FN,\"args\":{\"not\":\"an array\"}}",
	"{\"t\":\"result\",\"id\":@ID,\"value\":1",
};

START_TEST(malformed_frame_is_protocol_error)
{
	struct rec r = { 0 }, f = { 0 };
	uint64_t id, fn;
	char frame[512];

	ck_assert_int_eq(bk_call(conn, "loopback", "store", rec_reply, &r, "sf", "k", rec_fn, &f, rec_destroy), 0);
	cJSON *m = expect_call("store", &id);
	fn = fn_token(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "args"), 1));
	cJSON_Delete(m);

	fill_template(frame, sizeof frame, malformed[_i], id, fn);
	fake_write(&fk, frame, strlen(frame));
	fake_write(&fk, "\n", 1);
	ck_assert_msg(pump_until(conn, &dc.calls, 1, 2000) == 1, "no disconnect after %s", frame);
	ck_assert_str_eq(dc.name, "ProtocolError");
	ck_assert_int_eq(dc.err, -EPROTO);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.failed, 1);
	ck_assert_int_lt(r.seq, dc.seq);
	ck_assert_int_eq(f.destroyed, 1);
	ck_assert_int_eq(f.calls, 0);
	ck_assert(fake_closed(&fk, NULL, 2000, "ProtocolError"));
	ck_assert(!bk_conn_is_connected(conn));
}
END_TEST

/* Handshake failures, and a fake host per test for the rest. */
static Suite *fake_suite(void)
{
	Suite *s = suite_create("botkit-fake");
	TCase *hs = tcase_create("handshake");
	TCase *tc = tcase_create("fake host");

	tcase_set_timeout(hs, 20);
	tcase_add_test(hs, version_mismatch_in_welcome);
	tcase_add_test(hs, welcome_objects_parsed_on_demand);
	tcase_add_test(hs, botkit_fd_adopted_once);
	tcase_add_test(hs, version_mismatch_error_from_host);
	tcase_add_test(hs, host_closes_during_handshake);
	tcase_add_test(hs, function_nodes_without_connection);
	tcase_add_test(hs, function_nodes_in_threads);
	suite_add_tcase(s, hs);

	tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, handshake);
	tcase_add_test(tc, release_count_race);
	tcase_add_test(tc, import_release_counts);
	tcase_add_test(tc, unknown_token_is_no_such_function);
	tcase_add_test(tc, function_node_duplicated);
	tcase_add_test(tc, function_node_freed_by_cjson_delete);
	tcase_add_test(tc, forged_function_nodes);
	tcase_add_test(tc, pending_async_calls_on_close);
	tcase_add_test(tc, pending_blocking_call_on_close);
	tcase_add_test(tc, connection_error_from_host);
	tcase_add_test(tc, unref_completes_pending_calls);
	tcase_add_loop_test(tc, malformed_frame_is_protocol_error, 0, (int)(sizeof malformed / sizeof malformed[0]));
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(fake_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
