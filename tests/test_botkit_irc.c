/* SPDX-License-Identifier: ISC */
/* libbotkit's typed IRC API (bk_irc_*) against a fake host: the test plays
 * bothost over a socketpair and checks the exact frames each function sends
 * to the `irc` object, the decoding of results and typed errors, event
 * accessors, replies through an event's reply function, and the identity and
 * lifetime of handlers. Blocking functions are answered by a thread that
 * reads the request and writes a scripted answer. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "botkit-irc.h"
#include "wire/frame.h"
#include "harness.h"

#define WELCOME \
	"{\"t\":\"welcome\",\"version\":1,\"server\":\"fake 0\",\"client\":5," \
	"\"limits\":{\"frame_max\":1048576,\"output_max\":4194304,\"tokens_max\":4096," \
	"\"handlers_max\":1024,\"pending_max\":4096}," \
	"\"objects\":{\"irc\":{\"doc\":\"fake\",\"methods\":{},\"events\":{\"message\":{}}}}}"

/* The host's end of the socketpair. */
struct fake {
	int fd;
	struct frame_reader in;
	bool eof;
};

/* A scripted answer to the next request, written by a thread. */
struct answer {
	pthread_t thread;
	char reply[2048];	/* the answer, "@ID" standing for the request's id */
	cJSON *request;		/* the request it answered */
	cJSON *before;		/* frames without an id that came first */
};

/* What a handler saw of its events (strings copied, "<null>" for NULL). */
struct seen {
	int calls;
	int destroyed;
	char name[32], nick[32], user[32], host[64], account[32];
	char target[32], channel[32], text[64], field[64];
	const char *field_name;	/* the field bk_irc_event_string reads */
	bool is_private, is_self, has_json, has_reply_fn;
	int64_t time;
	int reply_r;		/* what the handler's reply returned */
	const char *reply_text;	/* replied with bk_irc_event_reply when set */
	bool replyf;		/* reply with bk_irc_event_replyf("%s: %d", nick, 3) */
	struct done *reply_done;	/* reply with bk_irc_event_reply_async */
	bk_fn *kept;		/* the reply function, kept when keep is set */
	bool keep;
};

/* What a completion saw. */
struct done {
	int calls;
	int failed;
	int err;
	int numeric;
	char name[64];
	cJSON *result;
};

static struct fake fk;
static struct answer ans;
static bk_conn *conn;
static bool in_start;	/* true while a function that starts a call runs */
static int disconnects;

/* Write all of p. */
static void fake_write(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fk.fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

/* Send one frame (the line feed is added). */
static void fake_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fake_send(const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < sizeof line - 1);
	line[n++] = '\n';
	fake_write(line, (size_t)n);
}

/* Read what is available into the frame reader. */
static void fake_fill(void)
{
	size_t len;
	char *p = frame_reader_space(&fk.in, 65536, &len);

	if (!p) {
		fk.eof = true;
		return;
	}
	ssize_t k = read(fk.fd, p, len);
	if (k > 0)
		frame_reader_commit(&fk.in, (size_t)k);
	else if (k == 0 || (errno != EINTR && errno != EAGAIN))
		fk.eof = true;
}

/* The next frame from the client, parsed, while dispatching c (may be NULL);
 * NULL on timeout or end of file. */
static cJSON *fake_recv(bk_conn *c, int ms)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;
	char *frame;
	size_t len;

	for (;;) {
		int k = frame_reader_next(&fk.in, &frame, &len);
		if (k == 1)
			return cJSON_Parse(frame);
		if (k < 0 || fk.eof)
			return NULL;
		uint64_t now = test_now_ms();
		if (now >= end)
			return NULL;
		struct pollfd p[2] = {
			{ .fd = fk.fd, .events = POLLIN },
			{ .fd = c ? bk_conn_get_fd(c) : -1, .events = c ? (short)bk_conn_get_events(c) : 0 },
		};
		int wait = (int)(end - now);
		if (c && wait > 10)
			wait = 10;
		(void)poll(p, 2, wait);
		if (p[0].revents)
			fake_fill();
		if (c)
			(void)bk_conn_process(c);
	}
}

/* Answer hello with the welcome, in a thread while bk_conn_new_fd() blocks. */
static void *fake_handshake(void *userdata)
{
	cJSON *hello = fake_recv(NULL, 5000);

	if (hello) {
		fake_write(WELCOME, strlen(WELCOME));
		fake_write("\n", 1);
	}
	cJSON_Delete(hello);
	return NULL;
}

/* Replace every "@ID" in tpl with id. */
static void fill_id(char *out, size_t size, const char *tpl, uint64_t id)
{
	size_t o = 0;

	for (const char *p = tpl; *p && o + 24 < size;) {
		if (strncmp(p, "@ID", 3) == 0) {
			o += (size_t)snprintf(out + o, size - o, "%llu", (unsigned long long)id);
			p += 3;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = 0;
}

/* Thread: read frames until a request (a frame with an id), answer it. */
static void *answer_thread(void *userdata)
{
	struct answer *an = userdata;
	char line[4096];
	cJSON *m;

	while ((m = fake_recv(NULL, 5000))) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
		if (cJSON_IsNumber(id)) {
			an->request = m;
			fill_id(line, sizeof line - 1, an->reply, (uint64_t)id->valuedouble);
			strcat(line, "\n");
			fake_write(line, strlen(line));
			break;
		}
		cJSON_AddItemToArray(an->before, m);
	}
	return NULL;
}

#define NAMES "[{\"nick\":\"bot\",\"prefixes\":\"@\"},{\"nick\":\"alice\",\"prefixes\":\"\"}]"
#define TOPIC "{\"channel\":\"#chan\",\"topic\":\"hi\",\"setter\":\"op\",\"time\":1}"
#define STATE "{\"state\":\"connected\",\"server\":\"s\",\"nick\":\"bot\",\"since\":1,\"queued\":0}"
#define REFUSED "{\"t\":\"error\",\"id\":@ID,\"error\":{\"name\":\"NoSuchEvent\",\"message\":\"no event\"}}"

/* Answer the next request with reply (a template with @ID), from a thread. */
static void answer_start(const char *reply)
{
	snprintf(ans.reply, sizeof ans.reply, "%s", reply);
	ans.request = NULL;
	ans.before = cJSON_CreateArray();
	ck_assert_int_eq(pthread_create(&ans.thread, NULL, answer_thread, &ans), 0);
}

/* Wait for the answering thread; the request it answered (caller frees).
 * No other frame may have come before it. */
static cJSON *answer_join(void)
{
	ck_assert_int_eq(pthread_join(ans.thread, NULL), 0);
	ck_assert_msg(cJSON_GetArraySize(ans.before) == 0, "%d frames before the request",
		      cJSON_GetArraySize(ans.before));
	cJSON_Delete(ans.before);
	ans.before = NULL;
	ck_assert_ptr_nonnull(ans.request);
	return ans.request;
}

/* Assert that m is a call of irc.method with exactly these arguments. */
static void check_call(const cJSON *m, const char *method, const char *args_json)
{
	cJSON *want = cJSON_Parse(args_json);
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(m, "args");
	char *got = cJSON_PrintUnformatted(args);

	ck_assert_ptr_nonnull(want);
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "t")->valuestring, "call");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "obj")->valuestring, "irc");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "method")->valuestring, method);
	ck_assert_msg(cJSON_Compare(args, want, true), "%s: args %s, want %s", method, got, args_json);
	free(got);
	cJSON_Delete(want);
}

/* The token N of the {"$fn":N} argument i of a call. */
static uint64_t arg_token(const cJSON *m, int i)
{
	const cJSON *node = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "args"), i);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(node, "$fn");

	ck_assert_int_eq(cJSON_GetArraySize(node), 1);
	ck_assert(cJSON_IsNumber(n) && n->valuedouble >= 1);
	return (uint64_t)n->valuedouble;
}

/* The next frame, which must exist (caller frees). */
static cJSON *next_frame(void)
{
	ck_assert_int_eq(bk_conn_flush(conn), 0);
	cJSON *m = fake_recv(conn, 2000);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* A string field of a frame. */
static const char *frame_string(const cJSON *m, const char *field)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, field));

	ck_assert_ptr_nonnull(s);
	return s;
}

/* A number field of a frame, or -1 when absent. */
static double frame_number(const cJSON *m, const char *field)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, field);

	return cJSON_IsNumber(n) ? n->valuedouble : -1;
}

/* The next frame must be a release of fn with count. */
static void expect_release(uint64_t fn, int count)
{
	cJSON *m = next_frame();

	ck_assert_str_eq(frame_string(m, "t"), "release");
	ck_assert(frame_number(m, "fn") == (double)fn);
	ck_assert(frame_number(m, "count") == (double)count);
	cJSON_Delete(m);
}

/* Invoke token fn with request id and the answer must be an error named name
 * (NULL: a result). */
static void expect_invoke_answer(uint64_t fn, uint64_t id, const char *name)
{
	fake_send("{\"t\":\"invoke\",\"id\":%llu,\"fn\":%llu,\"args\":[{}]}", (unsigned long long)id,
		  (unsigned long long)fn);
	cJSON *m = next_frame();
	ck_assert(frame_number(m, "id") == (double)id);
	if (name) {
		ck_assert_str_eq(frame_string(m, "t"), "error");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");
		ck_assert_str_eq(frame_string(e, "name"), name);
	} else {
		ck_assert_str_eq(frame_string(m, "t"), "result");
	}
	cJSON_Delete(m);
}

/* Dispatch until *counter reaches want or ms pass; returns the last value. */
static int pump_until(const int *counter, int want, int ms)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;

	while (*counter < want && test_now_ms() < end) {
		struct pollfd p = { .fd = bk_conn_get_fd(conn), .events = (short)bk_conn_get_events(conn) };
		(void)poll(&p, 1, 10);
		if (bk_conn_process(conn) < 0)
			break;
	}
	return *counter;
}


/* Copy s (or "<null>") into a record field. */
static void copy(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s ? s : "<null>");
}

/* Record a completion (never before the function that started it returned). */
static void done_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct done *d = userdata;

	ck_assert(!in_start);
	d->calls++;
	if (err) {
		d->failed++;
		d->err = bk_error_errno(err);
		d->numeric = bk_irc_error_numeric(err);
		copy(d->name, sizeof d->name, bk_error_name(err));
		return;
	}
	ck_assert_ptr_nonnull(result);
	cJSON_Delete(d->result);
	d->result = cJSON_Duplicate(result, true);
}

/* Record everything the accessors say about an event, and reply as asked. */
static void seen_handler(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct seen *s = userdata;

	ck_assert_ptr_eq(c, conn);
	s->calls++;
	copy(s->name, sizeof s->name, bk_irc_event_name(ev));
	copy(s->nick, sizeof s->nick, bk_irc_event_nick(ev));
	copy(s->user, sizeof s->user, bk_irc_event_user(ev));
	copy(s->host, sizeof s->host, bk_irc_event_host(ev));
	copy(s->account, sizeof s->account, bk_irc_event_account(ev));
	copy(s->target, sizeof s->target, bk_irc_event_target(ev));
	copy(s->channel, sizeof s->channel, bk_irc_event_channel(ev));
	copy(s->text, sizeof s->text, bk_irc_event_text(ev));
	copy(s->field, sizeof s->field, bk_irc_event_string(ev, s->field_name ? s->field_name : "text"));
	s->is_private = bk_irc_event_is_private(ev);
	s->is_self = bk_irc_event_is_self(ev);
	s->time = bk_irc_event_time(ev);
	s->has_json = cJSON_IsObject(bk_irc_event_json(ev));
	s->has_reply_fn = bk_irc_event_reply_fn(ev) != NULL;
	if (s->keep)
		s->kept = bk_fn_ref(bk_irc_event_reply_fn(ev));
	in_start = true;
	if (s->reply_done)
		s->reply_r = bk_irc_event_reply_async(ev, "async", done_cb, s->reply_done);
	else if (s->replyf)
		s->reply_r = bk_irc_event_replyf(ev, "%s: %d", bk_irc_event_nick(ev), 3);
	else
		s->reply_r = bk_irc_event_reply(ev, s->reply_text ? s->reply_text : "pong");
	in_start = false;
}

/* A second handler, so that the same userdata can be paired with another function. */
static void other_handler(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct seen *s = userdata;

	s->calls++;
	copy(s->name, sizeof s->name, bk_irc_event_name(ev));
}

/* Count the destruction of a handler's userdata. */
static void seen_destroy(void *userdata)
{
	struct seen *s = userdata;

	s->destroyed++;
}

/* Count the disconnect. */
static void disc_cb(bk_conn *c, const bk_error *err, void *userdata)
{
	disconnects++;
}

/* Register handler(s) for event through the fake host (which accepts);
 * returns the token it sent. */
static uint64_t register_on(const char *method, const char *event, bk_irc_handler h, struct seen *s,
			    bk_slot **ret_slot)
{
	char args[64];

	answer_start("{\"t\":\"result\",\"id\":@ID,\"value\":null}");
	int r = strcmp(method, "once") == 0 ? bk_irc_once(conn, event, h, s, seen_destroy, ret_slot)
					     : bk_irc_on(conn, event, h, s, seen_destroy, ret_slot);
	cJSON *m = answer_join();
	ck_assert_int_eq(r, 0);
	uint64_t n = arg_token(m, 1);
	snprintf(args, sizeof args, "[\"%s\",{\"$fn\":%llu}]", event, (unsigned long long)n);
	check_call(m, method, args);
	cJSON_Delete(m);
	return n;
}

/* Remove handler(s) for event through the fake host, which answers removed;
 * returns the token it sent. */
static uint64_t register_off(const char *event, bk_irc_handler h, struct seen *s, bool removed)
{
	answer_start(removed ? "{\"t\":\"result\",\"id\":@ID,\"value\":true}"
			     : "{\"t\":\"result\",\"id\":@ID,\"value\":false}");
	int r = bk_irc_off(conn, event, h, s);
	cJSON *m = answer_join();
	ck_assert_int_eq(r, removed ? 1 : 0);
	uint64_t n = arg_token(m, 1);
	char args[64];
	snprintf(args, sizeof args, "[\"%s\",{\"$fn\":%llu}]", event, (unsigned long long)n);
	check_call(m, "off", args);
	cJSON_Delete(m);
	return n;
}

/* Connect through the fake host. */
static void irc_setup(void)
{
	int sv[2];
	pthread_t t;

	in_start = false;
	disconnects = 0;
	conn = NULL;
	memset(&ans, 0, sizeof ans);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fk.fd = sv[1];
	fk.eof = false;
	frame_reader_init(&fk.in, 1 << 20);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_handshake, NULL), 0);
	int r = bk_conn_new_fd(&conn, sv[0], "irc-test");
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(r, 0);
	bk_conn_set_disconnect_handler(conn, disc_cb, NULL);
}

/* Close both ends. */
static void irc_teardown(void)
{
	conn = bk_conn_unref(conn);
	if (fk.fd >= 0)
		close(fk.fd);
	fk.fd = -1;
	frame_reader_free(&fk.in);
}

/* ---- frames of the methods ---------------------------------------------------- */

/* One call of each method, for the frame table below. */
static int run_say(void) { return bk_irc_say(conn, "#chan", "hello"); }
static int run_say_escapes(void) { return bk_irc_say(conn, "alice", "a \"b\"\nc %s\\"); }
static int run_sayf(void) { return bk_irc_sayf(conn, "#chan", "%d%% of %s", 50, "\"them\""); }
static int run_notice(void) { return bk_irc_notice(conn, "#chan", "note"); }
static int run_action(void) { return bk_irc_action(conn, "#chan", "waves"); }
static int run_ctcp(void) { return bk_irc_ctcp(conn, "alice", "PING", "123"); }
static int run_ctcp_noargs(void) { return bk_irc_ctcp(conn, "alice", "VERSION", NULL); }
static int run_ctcp_reply(void) { return bk_irc_ctcp_reply(conn, "alice", "VERSION", "bot 1"); }
static int run_join(void) { return bk_irc_join(conn, "#chan", NULL); }
static int run_join_key(void) { return bk_irc_join(conn, "#secret", "s3cret"); }
static int run_part(void) { return bk_irc_part(conn, "#chan", NULL); }
static int run_part_reason(void) { return bk_irc_part(conn, "#chan", "bye all"); }
static int run_nick(void) { return bk_irc_nick(conn, "newbot"); }
static int run_topic_set(void) { return bk_irc_topic_set(conn, "#chan", "new topic"); }
static int run_kick(void) { return bk_irc_kick(conn, "#chan", "troll", NULL); }
static int run_kick_reason(void) { return bk_irc_kick(conn, "#chan", "troll", "spam"); }
static int run_mode(void) { return bk_irc_mode(conn, "#chan", "+ov", "alice", "bob", (char *)NULL); }
static int run_mode_none(void) { return bk_irc_mode(conn, "#chan", "+m", (char *)NULL); }
static int run_mode_argv(void)
{
	static const char *const argv[] = { "*!*@spam", NULL };

	return bk_irc_mode_argv(conn, "#chan", "+b", argv);
}
static int run_mode_argv_null(void) { return bk_irc_mode_argv(conn, "bot", "+i", NULL); }
static int run_invite(void) { return bk_irc_invite(conn, "alice", "#chan"); }
static int run_raw(void) { return bk_irc_raw(conn, "PRIVMSG #chan :raw"); }

static const struct frame_case {
	const char *method;
	const char *args;
	int (*run)(void);
} frame_cases[] = {
	{ "say", "[\"#chan\",\"hello\"]", run_say },
	{ "say", "[\"alice\",\"a \\\"b\\\"\\nc %s\\\\\"]", run_say_escapes },
	{ "say", "[\"#chan\",\"50% of \\\"them\\\"\"]", run_sayf },
	{ "notice", "[\"#chan\",\"note\"]", run_notice },
	{ "action", "[\"#chan\",\"waves\"]", run_action },
	{ "ctcp", "[\"alice\",\"PING\",\"123\"]", run_ctcp },
	{ "ctcp", "[\"alice\",\"VERSION\"]", run_ctcp_noargs },
	{ "ctcpReply", "[\"alice\",\"VERSION\",\"bot 1\"]", run_ctcp_reply },
	{ "join", "[\"#chan\"]", run_join },
	{ "join", "[\"#secret\",\"s3cret\"]", run_join_key },
	{ "part", "[\"#chan\"]", run_part },
	{ "part", "[\"#chan\",\"bye all\"]", run_part_reason },
	{ "nick", "[\"newbot\"]", run_nick },
	{ "topic", "[\"#chan\",\"new topic\"]", run_topic_set },
	{ "kick", "[\"#chan\",\"troll\"]", run_kick },
	{ "kick", "[\"#chan\",\"troll\",\"spam\"]", run_kick_reason },
	{ "mode", "[\"#chan\",\"+ov\",\"alice\",\"bob\"]", run_mode },
	{ "mode", "[\"#chan\",\"+m\"]", run_mode_none },
	{ "mode", "[\"#chan\",\"+b\",\"*!*@spam\"]", run_mode_argv },
	{ "mode", "[\"bot\",\"+i\"]", run_mode_argv_null },
	{ "invite", "[\"alice\",\"#chan\"]", run_invite },
	{ "raw", "[\"PRIVMSG #chan :raw\"]", run_raw },
};

START_TEST(method_frames)
{
	const struct frame_case *fc = &frame_cases[_i];

	answer_start("{\"t\":\"result\",\"id\":@ID}");
	int r = fc->run();
	cJSON *m = answer_join();
	ck_assert_int_eq(r, 0);
	check_call(m, fc->method, fc->args);
	cJSON_Delete(m);
	ck_assert_ptr_null(bk_conn_last_error(conn));
	ck_assert(bk_conn_is_idle(conn));
}
END_TEST

START_TEST(null_arguments_send_nothing)
{
	cJSON *info = NULL;
	char *nick = NULL;
	struct seen s = { 0 };

	ck_assert_int_eq(bk_irc_say(NULL, "#c", "x"), -EINVAL);
	ck_assert_int_eq(bk_irc_say(conn, NULL, "x"), -EINVAL);
	ck_assert_int_eq(bk_irc_say(conn, "#c", NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_sayf(conn, "#c", NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_ctcp(conn, "alice", NULL, "x"), -EINVAL);
	ck_assert_int_eq(bk_irc_join(conn, NULL, "key"), -EINVAL);
	ck_assert_int_eq(bk_irc_kick(conn, "#c", NULL, "why"), -EINVAL);
	ck_assert_int_eq(bk_irc_topic_set(conn, "#c", NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_mode(conn, NULL, "+o", "x", (char *)NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_mode_argv(conn, "#c", NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_whois(conn, NULL, &info), -EINVAL);
	ck_assert_int_eq(bk_irc_get_nick(NULL, &nick), -EINVAL);
	ck_assert_int_eq(bk_irc_say_async(conn, "#c", NULL, done_cb, NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_on(conn, NULL, seen_handler, &s, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_on(conn, "message", NULL, &s, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_off(conn, "message", NULL, &s), -EINVAL);
	ck_assert_int_eq(bk_irc_event_reply(NULL, "x"), -EINVAL);
	ck_assert_ptr_null(info);
	ck_assert_ptr_null(nick);
	ck_assert(bk_conn_is_idle(conn));
	/* the first frame the host sees is the next real call */
	answer_start("{\"t\":\"result\",\"id\":@ID}");
	int r = bk_irc_say(conn, "#c", "x");
	cJSON *m = answer_join();
	ck_assert_int_eq(r, 0);
	check_call(m, "say", "[\"#c\",\"x\"]");
	cJSON_Delete(m);
}
END_TEST

/* ---- query results ------------------------------------------------------------- */

#define WHOIS "{\"nick\":\"alice\",\"user\":\"al\",\"host\":\"example.org\",\"realname\":\"Alice\"," \
	"\"server\":\"irc.example.org\",\"account\":null,\"channels\":[\"@#chan\"],\"idle\":5," \
	"\"signon\":1700000000,\"operator\":false,\"away\":null}"

/* Answer the next request with a result holding value. */
static void query_answer(const char *value)
{
	char reply[1024];

	snprintf(reply, sizeof reply, "{\"t\":\"result\",\"id\":@ID,\"value\":%s}", value);
	answer_start(reply);
}

/* Assert that the answered request was irc.method(args) and that got equals value. */
static void query_check(const char *method, const char *args, const cJSON *got, const char *value)
{
	cJSON *m = answer_join();
	cJSON *want = cJSON_Parse(value);

	check_call(m, method, args);
	ck_assert(cJSON_Compare(got, want, true));
	cJSON_Delete(want);
	cJSON_Delete(m);
}

START_TEST(query_results)
{
	cJSON *v = NULL;
	char *nick = NULL;

	query_answer(WHOIS);
	ck_assert_int_eq(bk_irc_whois(conn, "alice", &v), 0);
	query_check("whois", "[\"alice\"]", v, WHOIS);
	bk_json_delete(v);

	query_answer(NAMES);
	ck_assert_int_eq(bk_irc_names(conn, "#chan", &v), 0);
	query_check("names", "[\"#chan\"]", v, NAMES);
	bk_json_delete(v);

	query_answer(TOPIC);
	ck_assert_int_eq(bk_irc_topic_get(conn, "#chan", &v), 0);
	query_check("topic", "[\"#chan\"]", v, TOPIC);
	bk_json_delete(v);

	query_answer("\"bot\"");
	ck_assert_int_eq(bk_irc_get_nick(conn, &nick), 0);
	cJSON *m = answer_join();
	check_call(m, "getNick", "[]");
	cJSON_Delete(m);
	ck_assert_str_eq(nick, "bot");
	free(nick);

	query_answer("[{\"name\":\"#chan\",\"topic\":\"hi\",\"users\":2}]");
	ck_assert_int_eq(bk_irc_get_channels(conn, &v), 0);
	query_check("getChannels", "[]", v, "[{\"name\":\"#chan\",\"topic\":\"hi\",\"users\":2}]");
	bk_json_delete(v);

	query_answer("[]");
	ck_assert_int_eq(bk_irc_get_users(conn, "#chan", &v), 0);
	query_check("getUsers", "[\"#chan\"]", v, "[]");
	bk_json_delete(v);

	query_answer(STATE);
	ck_assert_int_eq(bk_irc_get_state(conn, &v), 0);
	query_check("getState", "[]", v, STATE);
	bk_json_delete(v);

	query_answer("{\"CHANTYPES\":\"#&\",\"NICKLEN\":30}");
	ck_assert_int_eq(bk_irc_get_isupport(conn, &v), 0);
	query_check("getIsupport", "[]", v, "{\"CHANTYPES\":\"#&\",\"NICKLEN\":30}");
	bk_json_delete(v);

	/* a result nobody asked to keep */
	query_answer(WHOIS);
	ck_assert_int_eq(bk_irc_whois(conn, "alice", NULL), 0);
	cJSON_Delete(answer_join());
	ck_assert(bk_conn_is_idle(conn));
}
END_TEST

START_TEST(query_wrong_type_is_eproto)
{
	cJSON *sentinel = cJSON_CreateNull(), *v = sentinel;
	char *nick = (char *)"unchanged";

	query_answer("\"not an object\"");
	ck_assert_int_eq(bk_irc_whois(conn, "alice", &v), -EPROTO);
	cJSON_Delete(answer_join());
	ck_assert_ptr_eq(v, sentinel);

	query_answer("{}");
	ck_assert_int_eq(bk_irc_names(conn, "#chan", &v), -EPROTO);
	cJSON_Delete(answer_join());
	ck_assert_ptr_eq(v, sentinel);

	query_answer("null");
	ck_assert_int_eq(bk_irc_get_nick(conn, &nick), -EPROTO);
	cJSON_Delete(answer_join());
	ck_assert_str_eq(nick, "unchanged");
	cJSON_Delete(sentinel);
}
END_TEST

/* ---- typed errors --------------------------------------------------------------- */

static const struct error_case {
	const char *name;
	const char *data;	/* JSON, or NULL */
	int err;
	int numeric;
} error_cases[] = {
	{ "ServerRefused", "{\"numeric\":474,\"text\":\"Cannot join channel (+b)\",\"target\":\"#banned\","
			  "\"command\":\"JOIN\"}", -EIO, 474 },
	{ "IrcError", "{\"numeric\":474,\"text\":\"Cannot join channel (+b)\"}", -EIO, 474 },
	{ "NotConnected", NULL, -EIO, 0 },
	{ "InvalidArguments", NULL, -EINVAL, 0 },
	{ "LimitExceeded", NULL, -ENOBUFS, 0 },
	{ "PermissionDenied", NULL, -EPERM, 0 },
	{ "NoSuchObject", NULL, -ENOENT, 0 },
	{ "Failed", "{\"numeric\":474}", -EIO, 0 },
};

START_TEST(typed_errors)
{
	const struct error_case *ec = &error_cases[_i];
	char reply[512];

	snprintf(reply, sizeof reply,
		 "{\"t\":\"error\",\"id\":@ID,\"error\":{\"name\":\"%s\",\"message\":\"why: %s\"%s%s}}",
		 ec->name, ec->name, ec->data ? ",\"data\":" : "", ec->data ? ec->data : "");
	answer_start(reply);
	int r = bk_irc_join(conn, "#banned", NULL);
	cJSON *m = answer_join();
	check_call(m, "join", "[\"#banned\"]");
	cJSON_Delete(m);
	ck_assert_int_eq(r, ec->err);

	const bk_error *e = bk_conn_last_error(conn);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(bk_error_name(e), ec->name);
	char message[96];
	snprintf(message, sizeof message, "why: %s", ec->name);
	ck_assert_str_eq(bk_error_message(e), message);
	ck_assert_int_eq(bk_error_errno(e), ec->err);
	ck_assert_int_eq(bk_irc_error_numeric(e), ec->numeric);
	if (ec->data) {
		cJSON *want = cJSON_Parse(ec->data);
		ck_assert(cJSON_Compare(bk_error_data(e), want, true));
		cJSON_Delete(want);
	} else {
		ck_assert_ptr_null(bk_error_data(e));
	}

	/* the same error through a query: nothing handed out */
	cJSON *v = NULL;
	answer_start(reply);
	ck_assert_int_eq(bk_irc_whois(conn, "ghost", &v), ec->err);
	cJSON_Delete(answer_join());
	ck_assert_ptr_null(v);

	/* a later success forgets the error */
	answer_start("{\"t\":\"result\",\"id\":@ID}");
	ck_assert_int_eq(bk_irc_say(conn, "#chan", "ok"), 0);
	cJSON_Delete(answer_join());
	ck_assert_ptr_null(bk_conn_last_error(conn));
}
END_TEST

/* The host's ServerRefused reaches the caller of each command it may refuse:
 * -EIO, the numeric, and the message naming it. */
START_TEST(server_refusals_reach_the_caller)
{
	static const char reply[] =
		"{\"t\":\"error\",\"id\":@ID,\"error\":{\"name\":\"ServerRefused\","
		"\"message\":\"the server refused MODE #chan: 482 You're not channel operator\","
		"\"data\":{\"numeric\":482,\"text\":\"You're not channel operator\",\"target\":\"#chan\","
		"\"command\":\"MODE\"}}}";
	const bk_error *e;
	cJSON *m;

	for (int i = 0; i < 5; i++) {
		int r = 0;
		answer_start(reply);
		switch (i) {
		case 0: r = bk_irc_mode(conn, "#chan", "+o", "alice", NULL); break;
		case 1: r = bk_irc_kick(conn, "#chan", "alice", NULL); break;
		case 2: r = bk_irc_topic_set(conn, "#chan", "t"); break;
		case 3: r = bk_irc_invite(conn, "alice", "#chan"); break;
		case 4: r = bk_irc_part(conn, "#chan", NULL); break;
		}
		m = answer_join();
		cJSON_Delete(m);
		ck_assert_int_eq(r, -EIO);
		e = bk_conn_last_error(conn);
		ck_assert_str_eq(bk_error_name(e), "ServerRefused");
		ck_assert_int_eq(bk_irc_error_numeric(e), 482);
		ck_assert_ptr_nonnull(strstr(bk_error_message(e), "482 You're not channel operator"));
	}
}
END_TEST

/* ---- asynchronous methods -------------------------------------------------------- */

/* The next frame must be a call of irc.method(args): returns its id. */
static uint64_t expect_call(const char *method, const char *args)
{
	cJSON *m = next_frame();

	check_call(m, method, args);
	uint64_t id = (uint64_t)frame_number(m, "id");
	ck_assert_uint_ge(id, 1);
	cJSON_Delete(m);
	return id;
}

START_TEST(async_methods)
{
	struct done say = { 0 }, notice = { 0 }, action = { 0 }, join = { 0 }, whois = { 0 };
	uint64_t id[5];

	in_start = true;
	ck_assert_int_eq(bk_irc_say_async(conn, "#chan", "one", done_cb, &say), 0);
	ck_assert_int_eq(bk_irc_notice_async(conn, "#chan", "two", done_cb, &notice), 0);
	ck_assert_int_eq(bk_irc_action_async(conn, "#chan", "three", done_cb, &action), 0);
	ck_assert_int_eq(bk_irc_join_async(conn, "#secret", "k", done_cb, &join), 0);
	ck_assert_int_eq(bk_irc_whois_async(conn, "ghost", done_cb, &whois), 0);
	in_start = false;
	ck_assert_int_eq(say.calls + notice.calls + action.calls + join.calls + whois.calls, 0);
	id[0] = expect_call("say", "[\"#chan\",\"one\"]");
	id[1] = expect_call("notice", "[\"#chan\",\"two\"]");
	id[2] = expect_call("action", "[\"#chan\",\"three\"]");
	id[3] = expect_call("join", "[\"#secret\",\"k\"]");
	id[4] = expect_call("whois", "[\"ghost\"]");

	fake_send("{\"t\":\"result\",\"id\":%llu}", (unsigned long long)id[0]);
	fake_send("{\"t\":\"result\",\"id\":%llu,\"value\":null}", (unsigned long long)id[1]);
	fake_send("{\"t\":\"error\",\"id\":%llu,\"error\":{\"name\":\"NotConnected\",\"message\":\"down\"}}",
		  (unsigned long long)id[2]);
	fake_send("{\"t\":\"error\",\"id\":%llu,\"error\":{\"name\":\"IrcError\",\"message\":\"bad key\","
		  "\"data\":{\"numeric\":475,\"text\":\"Cannot join channel (+k)\"}}}", (unsigned long long)id[3]);
	fake_send("{\"t\":\"result\",\"id\":%llu,\"value\":" WHOIS "}", (unsigned long long)id[4]);
	ck_assert_int_eq(pump_until(&whois.calls, 1, 2000), 1);

	ck_assert_int_eq(say.calls, 1);
	ck_assert_int_eq(say.failed, 0);
	ck_assert(cJSON_IsNull(say.result));
	ck_assert_int_eq(notice.calls, 1);
	ck_assert_int_eq(notice.failed, 0);
	ck_assert_int_eq(action.failed, 1);
	ck_assert_str_eq(action.name, "NotConnected");
	ck_assert_int_eq(action.err, -EIO);
	ck_assert_int_eq(join.failed, 1);
	ck_assert_str_eq(join.name, "IrcError");
	ck_assert_int_eq(join.numeric, 475);
	ck_assert_int_eq(whois.failed, 0);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(whois.result, "realname")), "Alice");
	cJSON_Delete(say.result);
	cJSON_Delete(notice.result);
	cJSON_Delete(whois.result);

	/* a NULL completion: the call is still a request the host answers */
	ck_assert_int_eq(bk_irc_say_async(conn, "#chan", "fire", NULL, NULL), 0);
	id[0] = expect_call("say", "[\"#chan\",\"fire\"]");
	fake_send("{\"t\":\"result\",\"id\":%llu}", (unsigned long long)id[0]);
	for (uint64_t end = test_now_ms() + 2000; !bk_conn_is_idle(conn) && test_now_ms() < end;)
		pump_until(&disconnects, 1, 10);
	ck_assert(bk_conn_is_idle(conn));
}
END_TEST

/* ---- events ---------------------------------------------------------------------- */

#define MESSAGE_EVENT \
	"{\"from\":{\"nick\":\"alice\",\"user\":\"al\",\"host\":\"example.org\",\"account\":\"alice_acct\"}," \
	"\"target\":\"#chan\",\"channel\":\"#chan\",\"private\":false,\"text\":\"!ping\"," \
	"\"time\":1700000000123,\"tags\":{\"msgid\":\"x1\"},\"reply\":{\"$fn\":7}}"

#define PRIVATE_EVENT \
	"{\"from\":{\"nick\":\"bob\",\"user\":\"b\",\"host\":\"h.example\",\"account\":null}," \
	"\"target\":\"bot\",\"channel\":null,\"private\":true,\"text\":\"hi there\"," \
	"\"time\":null,\"tags\":{},\"reply\":{\"$fn\":8}}"

/* Send an event to token fn (a notification) and wait until s has seen calls events. */
static void deliver(uint64_t fn, const char *event, struct seen *s, int calls)
{
	fake_send("{\"t\":\"invoke\",\"fn\":%llu,\"args\":[%s]}", (unsigned long long)fn, event);
	ck_assert_int_eq(pump_until(&s->calls, calls, 2000), calls);
}

/* The next frame must be a notification invoking fn with one string argument. */
static void expect_notify(uint64_t fn, const char *text)
{
	char args[256];
	cJSON *m = next_frame();

	ck_assert_str_eq(frame_string(m, "t"), "invoke");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(m, "id"));
	ck_assert(frame_number(m, "fn") == (double)fn);
	snprintf(args, sizeof args, "[\"%s\"]", text);
	cJSON *want = cJSON_Parse(args);
	ck_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(m, "args"), want, true));
	cJSON_Delete(want);
	cJSON_Delete(m);
}

START_TEST(message_event)
{
	struct seen s = { 0 };
	uint64_t n = register_on("on", "message", seen_handler, &s, NULL);

	deliver(n, MESSAGE_EVENT, &s, 1);
	ck_assert_str_eq(s.name, "message");
	ck_assert_str_eq(s.nick, "alice");
	ck_assert_str_eq(s.user, "al");
	ck_assert_str_eq(s.host, "example.org");
	ck_assert_str_eq(s.account, "alice_acct");
	ck_assert_str_eq(s.target, "#chan");
	ck_assert_str_eq(s.channel, "#chan");
	ck_assert_str_eq(s.text, "!ping");
	ck_assert_str_eq(s.field, "!ping");
	ck_assert(!s.is_private);
	ck_assert(!s.is_self);
	ck_assert(s.time == 1700000000123LL);
	ck_assert(s.has_json);
	ck_assert(s.has_reply_fn);
	ck_assert_int_eq(s.reply_r, 0);
	/* the reply goes to the event's function, then the function is released */
	expect_notify(7, "pong");
	expect_release(7, 1);

	/* a private message, answered with formatted text */
	s.replyf = true;
	deliver(n, PRIVATE_EVENT, &s, 2);
	ck_assert_str_eq(s.nick, "bob");
	ck_assert_str_eq(s.account, "<null>");
	ck_assert_str_eq(s.target, "bot");
	ck_assert_str_eq(s.channel, "<null>");
	ck_assert(s.is_private);
	ck_assert(s.time == 0);
	ck_assert_int_eq(s.reply_r, 0);
	expect_notify(8, "bob: 3");
	expect_release(8, 1);
	ck_assert_int_eq(s.destroyed, 0);
	/* closing frees the handler the host still holds (s lives on this stack) */
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(s.destroyed, 1);
}
END_TEST

START_TEST(join_kick_nick_events)
{
	struct seen s = { .field_name = "nick" };
	uint64_t join = register_on("on", "join", seen_handler, &s, NULL);
	uint64_t kick = register_on("on", "kick", seen_handler, &s, NULL);
	uint64_t nick = register_on("on", "nick", seen_handler, &s, NULL);

	/* one function per event, so the handler knows which one fired */
	ck_assert_uint_ne(join, kick);
	ck_assert_uint_ne(kick, nick);
	ck_assert_uint_ne(join, nick);

	deliver(join, "{\"who\":{\"nick\":\"carol\",\"user\":\"c\",\"host\":\"c.example\",\"account\":null},"
		"\"channel\":\"#chan\",\"self\":false}", &s, 1);
	ck_assert_str_eq(s.name, "join");
	ck_assert_str_eq(s.nick, "carol");
	ck_assert_str_eq(s.user, "c");
	ck_assert_str_eq(s.host, "c.example");
	ck_assert_str_eq(s.account, "<null>");
	ck_assert_str_eq(s.channel, "#chan");
	ck_assert_str_eq(s.target, "<null>");
	ck_assert_str_eq(s.text, "<null>");
	ck_assert(!s.is_self);
	ck_assert(!s.is_private);
	ck_assert(!s.has_reply_fn);
	ck_assert_int_eq(s.reply_r, -ENOENT);

	deliver(kick, "{\"by\":{\"nick\":\"op\",\"user\":\"o\",\"host\":\"o.example\",\"account\":\"opacct\"},"
		"\"channel\":\"#chan\",\"nick\":\"bot\",\"reason\":\"out\",\"self\":true}", &s, 2);
	ck_assert_str_eq(s.name, "kick");
	ck_assert_str_eq(s.nick, "op");
	ck_assert_str_eq(s.account, "opacct");
	ck_assert_str_eq(s.field, "bot");
	ck_assert_str_eq(s.channel, "#chan");
	ck_assert(s.is_self);
	ck_assert_int_eq(s.reply_r, -ENOENT);

	deliver(nick, "{\"who\":{\"nick\":\"dave\",\"user\":\"d\",\"host\":\"d.example\",\"account\":null},"
		"\"nick\":\"dave_\",\"self\":false}", &s, 3);
	ck_assert_str_eq(s.name, "nick");
	ck_assert_str_eq(s.nick, "dave");
	ck_assert_str_eq(s.field, "dave_");
	ck_assert_str_eq(s.channel, "<null>");
	ck_assert(!s.is_self);

	/* an event that is not an object: accessors say nothing */
	deliver(nick, "\"odd\"", &s, 4);
	ck_assert_str_eq(s.name, "nick");
	ck_assert_str_eq(s.nick, "<null>");
	ck_assert(!s.has_json);
	ck_assert_int_eq(s.reply_r, -ENOENT);
	ck_assert(bk_conn_is_connected(conn));
	/* closing frees the three functions of the pair: one destroy */
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(s.destroyed, 1);
}
END_TEST

START_TEST(reply_async_and_kept_reply)
{
	struct done d = { 0 };
	struct seen s = { .reply_done = &d, .keep = true };
	uint64_t n = register_on("on", "message", seen_handler, &s, NULL);

	deliver(n, MESSAGE_EVENT, &s, 1);
	ck_assert_int_eq(s.reply_r, 0);
	ck_assert_ptr_nonnull(s.kept);
	ck_assert_int_eq(d.calls, 0);
	/* a request to the event's function, answered by the host */
	cJSON *m = next_frame();
	ck_assert_str_eq(frame_string(m, "t"), "invoke");
	ck_assert(frame_number(m, "fn") == 7);
	uint64_t id = (uint64_t)frame_number(m, "id");
	ck_assert_uint_ge(id, 1);
	cJSON *want = cJSON_Parse("[\"async\"]");
	ck_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(m, "args"), want, true));
	cJSON_Delete(want);
	cJSON_Delete(m);
	fake_send("{\"t\":\"error\",\"id\":%llu,\"error\":{\"name\":\"InvalidArguments\",\"message\":\"empty\"}}",
		  (unsigned long long)id);
	ck_assert_int_eq(pump_until(&d.calls, 1, 2000), 1);
	ck_assert_int_eq(d.err, -EINVAL);

	/* the kept function outlives the handler; its last reference releases it */
	ck_assert_int_eq(bk_fn_call(s.kept, NULL, NULL, "s", "later"), 0);
	expect_notify(7, "later");
	s.kept = bk_fn_unref(s.kept);
	expect_release(7, 1);
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(s.destroyed, 1);
}
END_TEST

/* ---- identity and lifetime of handlers ------------------------------------------------ */

START_TEST(identity_same_pair_same_token)
{
	struct seen s = { 0 }, t = { 0 };
	uint64_t a = register_on("on", "message", seen_handler, &s, NULL);
	uint64_t b = register_on("on", "message", seen_handler, &s, NULL);
	uint64_t j = register_on("on", "join", seen_handler, &s, NULL);
	uint64_t other_ud = register_on("on", "message", seen_handler, &t, NULL);
	uint64_t other_fn = register_on("on", "message", other_handler, &s, NULL);

	ck_assert_uint_eq(a, b);
	ck_assert_uint_ne(a, j);
	ck_assert_uint_ne(a, other_ud);
	ck_assert_uint_ne(a, other_fn);
	ck_assert_uint_ne(other_ud, other_fn);

	/* off twice names the same token; an event never registered asks nothing */
	ck_assert_uint_eq(register_off("message", seen_handler, &s, true), a);
	ck_assert_uint_eq(register_off("message", seen_handler, &s, true), a);
	ck_assert_int_eq(bk_irc_off(conn, "part", seen_handler, &s), 0);
	ck_assert_int_eq(bk_irc_off(conn, "message", other_handler, &t), 0);

	/* the host releases the message token (2 on + 2 off): the pair lives on
	 * in its join and other_handler registrations */
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":4}", (unsigned long long)a);
	expect_invoke_answer(a, 50, "NoSuchFunction");
	ck_assert_int_eq(s.destroyed, 0);
	deliver(j, "{\"who\":{\"nick\":\"x\"},\"channel\":\"#c\",\"self\":false}", &s, 1);
	ck_assert_str_eq(s.name, "join");

	/* registered again after the release, the adapter is a new function */
	uint64_t again = register_on("on", "message", seen_handler, &s, NULL);
	ck_assert_uint_ne(again, a);
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)again);
	expect_invoke_answer(again, 51, "NoSuchFunction");
	ck_assert_int_eq(s.destroyed, 0);
	/* the pair's last function goes: its destroy runs once */
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)j);
	expect_invoke_answer(j, 52, "NoSuchFunction");
	ck_assert_int_eq(s.destroyed, 1);
	/* (other_handler, &s) is another pair, with a destroy of its own */
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)other_fn);
	expect_invoke_answer(other_fn, 53, "NoSuchFunction");
	ck_assert_int_eq(s.destroyed, 2);
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)other_ud);
	expect_invoke_answer(other_ud, 54, "NoSuchFunction");
	ck_assert_int_eq(t.destroyed, 1);
	ck_assert(bk_conn_is_idle(conn));
	ck_assert_int_eq(disconnects, 0);
}
END_TEST

START_TEST(once_fires_once)
{
	struct seen s = { 0 };
	bk_slot *slot = NULL;
	uint64_t n = register_on("once", "nick", seen_handler, &s, &slot);

	ck_assert(bk_slot_is_active(slot));
	deliver(n, "{\"who\":{\"nick\":\"eve\"},\"nick\":\"eve2\",\"self\":false}", &s, 1);
	ck_assert_str_eq(s.name, "nick");
	/* the host removed the registration before the call and releases after it */
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)n);
	ck_assert_int_eq(pump_until(&s.destroyed, 1, 2000), 1);
	ck_assert(!bk_slot_is_active(slot));
	/* dropping an ended slot sends nothing: the next frame is the next call */
	slot = bk_slot_unref(slot);
	answer_start("{\"t\":\"result\",\"id\":@ID}");
	ck_assert_int_eq(bk_irc_say(conn, "#chan", "after"), 0);
	cJSON *m = answer_join();
	check_call(m, "say", "[\"#chan\",\"after\"]");
	cJSON_Delete(m);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.destroyed, 1);
}
END_TEST

START_TEST(slot_unref_removes)
{
	struct seen s = { 0 };
	bk_slot *slot = NULL;
	char args[64];
	uint64_t n = register_on("on", "message", seen_handler, &s, &slot);

	ck_assert(bk_slot_is_active(slot));
	slot = bk_slot_unref(slot);
	snprintf(args, sizeof args, "[\"message\",{\"$fn\":%llu}]", (unsigned long long)n);
	uint64_t id = expect_call("off", args);
	fake_send("{\"t\":\"result\",\"id\":%llu,\"value\":true}", (unsigned long long)id);
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":2}", (unsigned long long)n);
	ck_assert_int_eq(pump_until(&s.destroyed, 1, 2000), 1);
	ck_assert_int_eq(s.calls, 0);
	ck_assert(bk_conn_is_idle(conn));
}
END_TEST

START_TEST(refused_registration)
{
	struct seen s = { 0 };
	bk_slot *slot = NULL;

	answer_start(REFUSED);
	int r = bk_irc_on(conn, "bogus", seen_handler, &s, seen_destroy, &slot);
	cJSON *m = answer_join();
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_ptr_null(slot);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(conn)), "NoSuchEvent");
	uint64_t n = arg_token(m, 1);
	cJSON_Delete(m);
	/* the host releases the function it refused: destroy runs */
	fake_send("{\"t\":\"release\",\"fn\":%llu,\"count\":1}", (unsigned long long)n);
	ck_assert_int_eq(pump_until(&s.destroyed, 1, 2000), 1);
	/* nothing left to remove */
	ck_assert_int_eq(bk_irc_off(conn, "bogus", seen_handler, &s), 0);
	ck_assert_ptr_null(bk_conn_last_error(conn));
	ck_assert(bk_conn_is_idle(conn));
}
END_TEST

/* What a command handler saw: the word, the rest, the words. */
struct cmd_seen {
	int calls;
	char command[32], rest[64], args[128];
};

/* Record a command event through the command accessors; answer "ok". */
static void cmd_handler(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct cmd_seen *s = userdata;

	s->calls++;
	copy(s->command, sizeof s->command, bk_irc_event_string(ev, "command"));
	copy(s->rest, sizeof s->rest, bk_irc_event_rest(ev));
	s->args[0] = '\0';
	for (unsigned i = 0; i < bk_irc_event_argc(ev); i++)
		snprintf(s->args + strlen(s->args), sizeof s->args - strlen(s->args), "[%s]", bk_irc_event_arg(ev, i));
	ck_assert_ptr_null(bk_irc_event_arg(ev, bk_irc_event_argc(ev)));
	ck_assert_int_eq(bk_irc_event_reply(ev, "ok"), 0);
}

#define COMMAND_EVENT \
	"{\"from\":{\"nick\":\"alice\",\"user\":\"al\",\"host\":\"example.org\",\"account\":null}," \
	"\"target\":\"#chan\",\"channel\":\"#chan\",\"private\":false,\"text\":\",KARMA  bob  ++\"," \
	"\"time\":null,\"tags\":{},\"reply\":{\"$fn\":9},\"command\":\"KARMA\",\"prefix\":\",\"," \
	"\"rest\":\"bob  ++\",\"args\":[\"bob\",\"++\"]}"

/* bk_irc_on_command registers bot.on("command:WORD") with the word in lower
 * case, hands the command's words to the handler, maps the host's
 * CommandTaken to -EEXIST, refuses no word without sending, and its slot
 * sends bot.off. */
START_TEST(on_command_claims_the_word)
{
	struct cmd_seen s = { 0 }, other = { 0 };
	bk_slot *slot = NULL;
	char args[64];

	ck_assert_int_eq(bk_irc_on_command(conn, "", cmd_handler, &s, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_on_command(conn, NULL, cmd_handler, &s, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_on_command(conn, "karma", NULL, &s, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_irc_on_command(conn, "x23456789012345678901234567890123", cmd_handler, &s, NULL, NULL),
			 -EINVAL);
	answer_start("{\"t\":\"result\",\"id\":@ID,\"value\":null}");
	int r = bk_irc_on_command(conn, "Karma", cmd_handler, &s, NULL, &slot);
	cJSON *m = answer_join();
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(frame_string(m, "obj"), "bot");
	ck_assert_str_eq(frame_string(m, "method"), "on");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "args"), 0)), "command:karma");
	uint64_t n = arg_token(m, 1);
	cJSON_Delete(m);

	fake_send("{\"t\":\"invoke\",\"fn\":%llu,\"args\":[%s]}", (unsigned long long)n, COMMAND_EVENT);
	ck_assert_int_eq(pump_until(&s.calls, 1, 2000), 1);
	ck_assert_str_eq(s.command, "KARMA");
	ck_assert_str_eq(s.rest, "bob  ++");
	ck_assert_str_eq(s.args, "[bob][++]");
	expect_notify(9, "ok");
	expect_release(9, 1);

	/* Another program has the word. */
	answer_start("{\"t\":\"error\",\"id\":@ID,\"error\":{\"name\":\"CommandTaken\","
		     "\"message\":\",dice is the command of the section [command dice]\"}}");
	r = bk_irc_on_command(conn, "dice", cmd_handler, &other, NULL, NULL);
	cJSON_Delete(answer_join());
	ck_assert_int_eq(r, -EEXIST);
	ck_assert_str_eq(bk_error_message(bk_conn_last_error(conn)), ",dice is the command of the section [command dice]");

	/* The slot ends the claim. */
	slot = bk_slot_unref(slot);
	snprintf(args, sizeof args, "[\"command:karma\",{\"$fn\":%llu}]", (unsigned long long)n);
	m = next_frame();
	ck_assert_str_eq(frame_string(m, "obj"), "bot");
	ck_assert_str_eq(frame_string(m, "method"), "off");
	cJSON *want = cJSON_Parse(args);
	ck_assert(cJSON_Compare(cJSON_GetObjectItem(m, "args"), want, true));
	cJSON_Delete(want);
	cJSON_Delete(m);
}
END_TEST

START_TEST(loss_destroys_once)
{
	struct seen s = { 0 };

	register_on("on", "message", seen_handler, &s, NULL);
	register_on("on", "join", seen_handler, &s, NULL);
	close(fk.fd);
	fk.fd = -1;
	ck_assert_int_eq(pump_until(&disconnects, 1, 2000), 1);
	ck_assert_int_eq(s.destroyed, 1);

	/* a lost connection refuses, and keeps nothing of the attempt */
	struct seen t = { 0 };
	ck_assert_int_eq(bk_irc_on(conn, "message", seen_handler, &t, seen_destroy, NULL), -ENOTCONN);
	ck_assert_int_eq(bk_irc_off(conn, "message", seen_handler, &s), -ENOTCONN);
	ck_assert_int_eq(bk_irc_say(conn, "#chan", "x"), -ENOTCONN);
	ck_assert_int_eq(t.destroyed, 0);
	ck_assert_int_eq(s.destroyed, 1);
}
END_TEST

/* Remove itself from inside its own call, then register again. */
static void self_removing(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct seen *s = userdata;

	s->calls++;
	s->reply_r = bk_irc_off(c, "message", self_removing, s);
}

/* Thread: answer off with true, then release the token (on + off). */
static void *answer_off_thread(void *userdata)
{
	uint64_t n = *(uint64_t *)userdata;
	char line[256];
	cJSON *m = fake_recv(NULL, 5000);

	if (!m)
		return NULL;
	snprintf(line, sizeof line, "{\"t\":\"result\",\"id\":%llu,\"value\":true}\n"
		 "{\"t\":\"release\",\"fn\":%llu,\"count\":2}\n",
		 (unsigned long long)frame_number(m, "id"), (unsigned long long)n);
	fake_write(line, strlen(line));
	cJSON_Delete(m);
	return NULL;
}

START_TEST(handler_removes_itself)
{
	struct seen s = { 0 };
	pthread_t t;
	uint64_t n = register_on("on", "message", self_removing, &s, NULL);

	ck_assert_int_eq(pthread_create(&t, NULL, answer_off_thread, &n), 0);
	fake_send("{\"t\":\"invoke\",\"fn\":%llu,\"args\":[{\"text\":\"x\"}]}", (unsigned long long)n);
	ck_assert_int_eq(pump_until(&s.destroyed, 1, 2000), 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.reply_r, 1);
	ck_assert(bk_conn_is_idle(conn));
}
END_TEST

/* Every test gets a fresh fake host. */
static Suite *irc_suite(void)
{
	Suite *s = suite_create("botkit-irc");
	TCase *tc = tcase_create("fake host");

	tcase_add_checked_fixture(tc, irc_setup, irc_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, method_frames, 0, (int)(sizeof frame_cases / sizeof frame_cases[0]));
	tcase_add_test(tc, null_arguments_send_nothing);
	tcase_add_test(tc, query_results);
	tcase_add_test(tc, query_wrong_type_is_eproto);
	tcase_add_loop_test(tc, typed_errors, 0, (int)(sizeof error_cases / sizeof error_cases[0]));
	tcase_add_test(tc, server_refusals_reach_the_caller);
	tcase_add_test(tc, async_methods);
	tcase_add_test(tc, message_event);
	tcase_add_test(tc, on_command_claims_the_word);
	tcase_add_test(tc, join_kick_nick_events);
	tcase_add_test(tc, reply_async_and_kept_reply);
	tcase_add_test(tc, identity_same_pair_same_token);
	tcase_add_test(tc, once_fires_once);
	tcase_add_test(tc, slot_unref_removes);
	tcase_add_test(tc, refused_registration);
	tcase_add_test(tc, loss_destroys_once);
	tcase_add_test(tc, handler_removes_itself);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(irc_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
