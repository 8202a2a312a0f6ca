/* SPDX-License-Identifier: ISC */
/* Services: host.provide, calls to another client's service, waiting for a
 * provider, withdraw, lookup, and what a provider's disconnect leaves behind
 * (docs/PROTOCOL.md, "Services"), spoken as raw NDJSON against a real bothost. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "botkit.h"
#include "harness.h"
#include "rawclient.h"

static struct test_host H;

/* ---- the host under test ----------------------------------------------- */

/* Start a private bothost with --log-level warn and the given options. */
#define HOST_UP(...) cl_host_up(&H, (const char *const[]){ __VA_ARGS__, NULL })

/* Teardown (a fixture takes no arguments). */
static void host_down(void)
{
	cl_host_down(&H);
}

/* ---- helpers of this file ------------------------------------------------ */

/* Answer the host's invocation id with a JSON value. */
static void cl_reply(struct cl *c, uint64_t id, const char *value)
{
	cl_send(c, "{\"t\":\"result\",\"id\":%llu,\"value\":%s}", (unsigned long long)id, value);
}

/* Assert the answer to request id is the result want. */
static void cl_answer_is(struct cl *c, uint64_t id, const char *want)
{
	cJSON *v = result_value(cl_answer(c, id), "a service call");

	json_is(v, want);
	cJSON_Delete(v);
}

/* Assert the answer to request id is an error named name. */
static void cl_answer_err(struct cl *c, uint64_t id, const char *name)
{
	cJSON *m = cl_answer(c, id);

	error_is(m, name);
	cJSON_Delete(m);
}

/* Send a call with a "wait" of ms; its id. */
static uint64_t cl_send_wait(struct cl *c, const char *obj, const char *method, const char *args, long ms)
{
	uint64_t id = ++c->r.next_id;

	cl_send(c, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"%s\",\"method\":\"%s\",\"args\":%s,\"wait\":%ld}",
		(unsigned long long)id, obj, method, args, ms);
	return id;
}

/* The first line `botctl -s PATH services` prints ("" when none), in line. */
static void botctl_services(char *line, size_t size)
{
	char cmd[1024];

	ck_assert_msg(getenv("BOTCTL") != NULL, "$BOTCTL is not set");
	snprintf(cmd, sizeof cmd, "'%s' -s '%s' services", getenv("BOTCTL"), H.path);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	line[0] = '\0';
	if (!fgets(line, (int)size, f))
		line[0] = '\0';
	ck_assert_int_eq(pclose(f), 0);
}

/* The client id the host gave c. */
static long long cl_id(const struct cl *c)
{
	return jget_int(c->welcome, "client");
}

/* Per-client totals back to zero, and no service or waiting call left. */
static void services_clean(void)
{
	cl_stats_clean(&H);
	cl_stat_is(&H, "services", 0);
	cl_stat_is(&H, "waiting_calls", 0);
}

/* ---- a provider and a caller --------------------------------------------- */

/* The provider's functions serve the caller's calls; the host checks the
 * signature; errors and functions travel both ways; withdraw frees the name. */
START_TEST(test_provide_call)
{
	struct cl p, c, n;
	char want[256];

	HOST_UP("--loopback");
	cl_open(&p, H.path, "provider");
	cl_open(&c, H.path, "caller");
	json_has(c.welcome, "{\"extensions\":[\"wait\",\"fd\"]}");
	cl_ok_is(&p, "host", "provide",
		 "[\"calc\",{\"double\":{\"fn\":{\"$fn\":1},\"doc\":\"twice n\",\"args\":[{\"name\":\"n\","
		 "\"type\":\"integer\"}],\"returns\":\"integer\"},\"echo\":{\"$fn\":2}},\"a calculator\"]", "null");

	cJSON *intro = cl_ok(&c, "host", "introspect", "[]");
	json_has(intro, "{\"calc\":{\"doc\":\"a calculator\",\"methods\":{\"double\":{\"doc\":\"twice n\","
			"\"args\":[{\"name\":\"n\",\"type\":\"integer\"}],\"returns\":\"integer\"},"
			"\"echo\":{\"args\":[{\"name\":\"args\",\"type\":\"any\",\"rest\":true}],\"returns\":\"any\"}}}}");
	snprintf(want, sizeof want, "{\"calc\":{\"service\":{\"id\":%lld,\"name\":\"provider\"}}}", cl_id(&p));
	json_has(intro, want);
	cJSON_Delete(intro);
	cl_open(&n, H.path, "newcomer");
	json_has(n.welcome, "{\"objects\":{\"calc\":{\"doc\":\"a calculator\"}}}");
	cl_close(&n);

	/* A call reaches the provider's function; its answer comes back. */
	uint64_t id = cl_send_call(&c, "calc", "double", "[21]");
	cl_reply(&p, cl_take_invoke(&p, 1, "[21]"), "42");
	cl_answer_is(&c, id, "42");
	/* The signature is checked by the host: the provider sees nothing. */
	cl_err(&c, "calc", "double", "[\"x\"]", "InvalidArguments");
	cl_err(&c, "calc", "double", "[]", "InvalidArguments");
	cl_err(&c, "calc", "nope", "[]", "NoSuchMethod");
	/* The provider's error comes back as it is. */
	id = cl_send_call(&c, "calc", "double", "[1]");
	cl_send(&p, "{\"t\":\"error\",\"id\":%llu,\"error\":{\"name\":\"TooSmall\",\"message\":\"no\"}}",
		(unsigned long long)cl_take_invoke(&p, 1, "[1]"));
	cl_answer_err(&c, id, "TooSmall");

	/* Functions both ways: the caller's function in the arguments... */
	id = cl_send_call(&c, "calc", "echo", "[{\"$fn\":1}]");
	cJSON *iv = cl_take(&p, "{\"t\":\"invoke\",\"fn\":2}");
	long long theirs = jget_int(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(iv, "args"), 0), "$fn");
	uint64_t inv = (uint64_t)jget_int(iv, "id");
	cJSON_Delete(iv);
	cl_send(&p, "{\"t\":\"invoke\",\"id\":900,\"fn\":%lld,\"args\":[\"ping\"]}", theirs);
	cl_reply(&c, cl_take_invoke(&c, 1, "[\"ping\"]"), "\"pong\"");
	cl_see(&p, "{\"t\":\"result\",\"id\":900,\"value\":\"pong\"}");
	/* ... and the provider's function in the result. */
	cl_reply(&p, inv, "{\"$fn\":7}");
	cJSON *r = result_value(cl_answer(&c, id), "calc.echo");
	long long back = jget_int(r, "$fn");
	cJSON_Delete(r);
	cl_send(&c, "{\"t\":\"invoke\",\"id\":901,\"fn\":%lld,\"args\":[3]}", back);
	cl_reply(&p, cl_take_invoke(&p, 7, "[3]"), "\"seven\"");
	cl_see(&c, "{\"t\":\"result\",\"id\":901,\"value\":\"seven\"}");

	cJSON *list = cl_ok(&c, "host", "services", "[]");
	snprintf(want, sizeof want, "[{\"name\":\"calc\",\"doc\":\"a calculator\",\"provider\":{\"id\":%lld,"
		 "\"name\":\"provider\"},\"methods\":[\"double\",\"echo\"]}]", cl_id(&p));
	json_has(list, want);
	cJSON_Delete(list);
	char line[512], wline[256];
	botctl_services(line, sizeof line);
	snprintf(wline, sizeof wline, "calc provider=%lld(provider) pid=", cl_id(&p));
	ck_assert_msg(strncmp(line, wline, strlen(wline)) == 0 && strstr(line, " methods=double,echo a calculator\n"),
		      "botctl services printed: %s", line);

	/* Only the provider withdraws; its functions are released; the name is free. */
	cl_ok_is(&c, "host", "withdraw", "[\"calc\"]", "false");
	cl_ok_is(&p, "host", "withdraw", "[\"calc\"]", "true");
	cl_see_release(&p, 1, 1);
	cl_see_release(&p, 2, 1);
	cl_ok_is(&p, "host", "withdraw", "[\"calc\"]", "false");
	cl_err(&c, "calc", "double", "[2]", "NoSuchObject");
	cJSON *objs = cl_ok(&c, "host", "introspect", "[]");
	ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(objs, "calc"), "calc still introspected: %s", jstr(objs));
	cJSON_Delete(objs);
	cl_close(&p);
	cl_close(&c);
	services_clean();
}
END_TEST

/* host.lookup: functions that call the service by name, across a restart of
 * its provider; a lookup may wait for the provider too. */
START_TEST(test_lookup)
{
	struct cl p, c;

	HOST_UP("--loopback");
	cl_open(&p, H.path, "provider");
	cl_open(&c, H.path, "caller");
	cl_err(&c, "host", "lookup", "[\"calc\"]", "NoSuchObject");
	cl_ok_is(&p, "host", "provide", "[\"calc\",{\"double\":{\"$fn\":1}}]", "null");
	cJSON *fns = cl_ok(&c, "host", "lookup", "[\"calc\"]");
	long long dbl = jget_int(cJSON_GetObjectItemCaseSensitive(fns, "double"), "$fn");
	cJSON_Delete(fns);
	cl_send(&c, "{\"t\":\"invoke\",\"id\":50,\"fn\":%lld,\"args\":[4]}", dbl);
	cl_reply(&p, cl_take_invoke(&p, 1, "[4]"), "8");
	cl_see(&c, "{\"t\":\"result\",\"id\":50,\"value\":8}");
	cl_close(&p);
	cl_stat_is(&H, "services", 0);
	cl_send(&c, "{\"t\":\"invoke\",\"id\":51,\"fn\":%lld,\"args\":[4]}", dbl);
	cl_see(&c, "{\"t\":\"error\",\"id\":51,\"error\":{\"name\":\"NoSuchObject\"}}");

	/* A lookup that waits, then a new provider: the old function works again. */
	uint64_t id = cl_send_call(&c, "host", "lookup", "[\"calc\",5000]");
	cl_stat_is(&H, "waiting_calls", 1);
	cl_open(&p, H.path, "provider again");
	cl_ok_is(&p, "host", "provide", "[\"calc\",{\"double\":{\"$fn\":3}}]", "null");
	cJSON *v = result_value(cl_answer(&c, id), "lookup with a wait");
	ck_assert_msg(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(v, "double")), "lookup gave %s", jstr(v));
	cJSON_Delete(v);
	cl_send(&c, "{\"t\":\"invoke\",\"id\":52,\"fn\":%lld,\"args\":[5]}", dbl);
	cl_reply(&p, cl_take_invoke(&p, 3, "[5]"), "10");
	cl_see(&c, "{\"t\":\"result\",\"id\":52,\"value\":10}");
	cl_err(&c, "host", "lookup", "[\"calc\",-1]", "InvalidArguments");
	cl_close(&p);
	cl_close(&c);
	services_clean();
}
END_TEST

/* ---- names ------------------------------------------------------------------ */

/* One provider per name; host objects are never shadowed; bad names and
 * tables are refused with a clear error, their functions released. */
START_TEST(test_names)
{
	struct cl p1, p2;
	char want[160];

	HOST_UP("--loopback");
	cl_open(&p1, H.path, "first");
	cl_open(&p2, H.path, "second");
	cl_ok_is(&p1, "host", "provide", "[\"weather\",{\"forecast\":{\"$fn\":1}}]", "null");
	cJSON *m = cl_call(&p2, "host", "provide", "[\"weather\",{\"forecast\":{\"$fn\":1}}]");
	const cJSON *e = error_is(m, "ServiceExists");
	snprintf(want, sizeof want, "{\"name\":\"weather\",\"provider\":%lld}", cl_id(&p1));
	json_is(cJSON_GetObjectItemCaseSensitive(e, "data"), want);
	cJSON_Delete(m);
	cl_see_release(&p2, 1, 1);
	cl_err(&p1, "host", "provide", "[\"weather\",{\"forecast\":{\"$fn\":1}}]", "ServiceExists");

	static const char *const host_names[] = { "host", "loopback", "irc", "bot", "store" };
	for (size_t i = 0; i < sizeof host_names / sizeof host_names[0]; i++) {
		char args[128];
		snprintf(args, sizeof args, "[\"%s\",{\"ping\":{\"$fn\":2}}]", host_names[i]);
		cl_err(&p2, "host", "provide", args, "PermissionDenied");
	}
	static const char *const bad[] = {
		"[\"\",{\"m\":{\"$fn\":2}}]",
		"[\"1abc\",{\"m\":{\"$fn\":2}}]",
		"[\"a b\",{\"m\":{\"$fn\":2}}]",
		"[\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde\",{\"m\":{\"$fn\":2}}]",
		"[\"ok\",{}]",
		"[\"ok\",{\"m\":3}]",
		"[\"ok\",{\"m\":{\"doc\":\"no fn\"}}]",
		"[\"ok\",{\"m\":{\"fn\":{\"$fn\":2},\"bogus\":1}}]",
		"[\"ok\",{\"m\":{\"fn\":{\"$fn\":2},\"args\":[{\"name\":\"x\",\"type\":\"text\"}]}}]",
		"[\"ok\",{\"m\":{\"fn\":{\"$fn\":2},\"args\":[{\"name\":\"x\",\"type\":\"any\",\"rest\":true},"
		"{\"name\":\"y\",\"type\":\"any\"}]}}]",
		"[\"ok\",{\"m\":{\"fn\":{\"$fn\":2},\"args\":{}}}]",
		"[\"ok\",{\"bad name\":{\"$fn\":2}}]",
		"[\"ok\",{\"m\":{\"$fn\":2}},3]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cl_err(&p2, "host", "provide", bad[i], "InvalidArguments");
	/* The wait field is checked too. */
	static const char *const bad_waits[] = { "-1", "1.5", "\"x\"", "600001", "true" };
	for (size_t i = 0; i < sizeof bad_waits / sizeof bad_waits[0]; i++) {
		uint64_t id = ++p2.r.next_id;
		cl_send(&p2, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"weather\",\"method\":\"forecast\",\"args\":[],"
			"\"wait\":%s}", (unsigned long long)id, bad_waits[i]);
		cl_answer_err(&p2, id, "InvalidArguments");
	}
	/* Every refused function was given back: the host holds nothing of p2. */
	cJSON *st = cl_ok(&p2, "host", "stats", "[]");
	ck_assert_msg(jget_int(cJSON_GetObjectItemCaseSensitive(st, "self"), "imports") == 0,
		      "the host still holds functions of a refused provider: %s", jstr(st));
	ck_assert_int_eq(jget_int(st, "services"), 1);
	cJSON_Delete(st);

	/* Once the first provider is gone, the name is free. */
	cl_close(&p1);
	cl_stat_is(&H, "services", 0);
	cl_ok_is(&p2, "host", "provide", "[\"weather\",{\"forecast\":{\"$fn\":1}}]", "null");
	cl_close(&p2);
	services_clean();
}
END_TEST

/* ---- waiting for a provider -------------------------------------------------- */

/* wait 0 fails at once; a wait passes with NoSuchObject; a provider that
 * appears in time gets the call; a caller that leaves takes its waits along;
 * a host object's name never waits. */
START_TEST(test_wait)
{
	struct cl p, c, gone;

	HOST_UP("--loopback");
	cl_open(&c, H.path, "caller");
	cl_err(&c, "later", "m", "[]", "NoSuchObject");
	uint64_t t0 = test_now_ms();
	cl_answer_err(&c, cl_send_wait(&c, "later", "m", "[]", 150), "NoSuchObject");
	uint64_t took = test_now_ms() - t0;
	ck_assert_msg(took >= 150 && took < 150 + (uint64_t)test_scaled_ms(2000), "a wait of 150 ms took %llu ms",
		      (unsigned long long)took);
	t0 = test_now_ms();
	cl_answer_err(&c, cl_send_wait(&c, "store", "get", "[\"k\"]", 5000), "NoSuchObject");
	ck_assert_msg(test_now_ms() - t0 < 1000, "a host object's name waited");

	uint64_t id = cl_send_wait(&c, "later", "m", "[1]", 5000);
	uint64_t id2 = cl_send_wait(&c, "later", "other", "[]", 5000);
	cl_stat_is(&H, "waiting_calls", 2);
	cl_open(&p, H.path, "provider");
	cl_ok_is(&p, "host", "provide", "[\"later\",{\"m\":{\"$fn\":1}}]", "null");
	cl_reply(&p, cl_take_invoke(&p, 1, "[1]"), "\"served\"");
	cl_answer_is(&c, id, "\"served\"");
	cl_answer_err(&c, id2, "NoSuchMethod");
	cl_stat_is(&H, "waiting_calls", 0);

	cl_open(&gone, H.path, "leaves while waiting");
	cl_send_wait(&gone, "ghost", "m", "[]", 5000);
	cl_send_wait(&gone, "ghost", "m", "[{\"$fn\":1}]", 5000);
	cl_stat_is(&H, "waiting_calls", 2);
	cl_close(&gone);
	cl_stat_is(&H, "waiting_calls", 0);
	cl_close(&p);
	cl_close(&c);
	services_clean();
}
END_TEST

/* ---- providers that go away ---------------------------------------------------- */

/* A provider in a child process: connect, provide "counter" {next: n -> n+1},
 * answer invocations. Each of rounds ends after per_round invocations by
 * closing the connection, every drop_every-th round (but the last) before
 * answering the last one (a provider that dies mid-call). Before its last
 * answer it reports how many it answered on report_fd, then answers and
 * waits to be killed; with rounds 0
 * it provides once, reports at the first invocation and never answers. */
static void child_provider(const char *path, int rounds, int per_round, int drop_every, int report_fd)
{
	int answered = 0;

	for (int round = 0; round < (rounds ? rounds : 1); round++) {
		struct test_raw r;
		cJSON *w = test_raw_hello(&r, path, "counter");
		if (!w)
			_exit(2);
		cJSON_Delete(w);
		test_raw_send(&r, "{\"t\":\"call\",\"id\":1,\"obj\":\"host\",\"method\":\"provide\","
			      "\"args\":[\"counter\",{\"next\":{\"$fn\":1}}]}");
		for (int k = 0; k < per_round;) {
			cJSON *m = test_raw_recv(&r, 10000);
			if (!m)
				_exit(3);
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
			const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "t"));
			if (t && !strcmp(t, "error"))
				_exit(4);
			if (t && !strcmp(t, "invoke") && cJSON_IsNumber(id)) {
				k++;
				if (!rounds) {
					if (write(report_fd, &answered, sizeof answered) < 0)
						_exit(5);
					pause();
				}
				bool last = round == rounds - 1 && k == per_round;
				bool drop = drop_every && !last && round % drop_every == drop_every - 1 && k == per_round;
				const cJSON *n = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "args"), 0);
				if (last) {	/* reported before its answer: the caller stops there */
					answered++;
					if (write(report_fd, &answered, sizeof answered) < 0)
						_exit(5);
					answered--;
				}
				if (!drop) {
					test_raw_send(&r, "{\"t\":\"result\",\"id\":%.0f,\"value\":%.0f}", id->valuedouble,
						      n ? n->valuedouble + 1 : -1);
					answered++;
				}
			}
			cJSON_Delete(m);
		}
		if (round == rounds - 1)
			break;	/* the last round stays connected */
		test_raw_close(&r);
	}
	pause();
	_exit(0);
}

/* Fork child_provider; its pid, and the read end of its report pipe in *ret_fd. */
static pid_t fork_provider(int rounds, int per_round, int drop_every, int *ret_fd)
{
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		child_provider(H.path, rounds, per_round, drop_every, fds[1]);
	}
	close(fds[1]);
	*ret_fd = fds[0];
	return pid;
}

/* Kill and reap a child. */
static void child_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A provider SIGKILLed while it holds a call: the caller gets Disconnected,
 * at once, and the service is gone. */
START_TEST(test_provider_killed)
{
	struct cl c;
	int report, n;

	HOST_UP("--loopback");
	cl_open(&c, H.path, "caller");
	pid_t pid = fork_provider(0, 1, 0, &report);
	uint64_t id = cl_send_wait(&c, "counter", "next", "[1]", 5000);
	ck_assert_int_eq(read(report, &n, sizeof n), (ssize_t)sizeof n);	/* it holds the call */
	uint64_t t0 = test_now_ms();
	child_kill(pid);
	close(report);
	cl_answer_err(&c, id, "Disconnected");
	ck_assert_msg(test_now_ms() - t0 < 1000, "Disconnected took %llu ms",
		      (unsigned long long)(test_now_ms() - t0));
	cl_stat_is(&H, "services", 0);
	cl_err(&c, "counter", "next", "[1]", "NoSuchObject");
	cl_close(&c);
	services_clean();
}
END_TEST

/* The provider restarts (disconnects, reconnects, provides again) 20 times,
 * 4 of them in the middle of a call, while the caller loops on calls with a
 * 2 s wait: every call answers right or fails with Disconnected (it was in
 * flight when its provider went away); none waits past its 2 s. */
START_TEST(test_provider_restarts)
{
	struct cl c;
	int report, answered = -1;
	long ok = 0, disconnected = 0, i = 0;
	uint64_t slowest = 0;

	HOST_UP("--loopback");
	cl_open(&c, H.path, "caller");
	pid_t pid = fork_provider(20, 10, 4, &report);
	for (;;) {
		struct timespec zero = { 0, 0 };
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(report, &rd);
		if (pselect(report + 1, &rd, NULL, NULL, &zero, NULL) > 0)
			break;
		uint64_t t0 = test_now_ms();
		uint64_t id = cl_send_wait(&c, "counter", "next", "[0]", 2000);
		cJSON *m = cl_answer(&c, id);
		uint64_t took = test_now_ms() - t0;
		slowest = took > slowest ? took : slowest;
		ck_assert_msg(took <= 2000 + (uint64_t)test_scaled_ms(1000), "call %ld took %llu ms", i,
			      (unsigned long long)took);
		const char *t = jget_str(m, "t");
		if (!strcmp(t, "result")) {
			json_is(cJSON_GetObjectItemCaseSensitive(m, "value"), "1");
			ok++;
		} else {
			const char *name = jget_str(cJSON_GetObjectItemCaseSensitive(m, "error"), "name");
			ck_assert_msg(!strcmp(name, "Disconnected"), "call %ld failed with %s", i, jstr(m));
			disconnected++;
		}
		cJSON_Delete(m);
		i++;
		ck_assert_msg(i < 1000, "the provider never finished");
	}
	ck_assert_int_eq(read(report, &answered, sizeof answered), (ssize_t)sizeof answered);
	child_kill(pid);
	close(report);
	ck_assert_msg(ok == answered, "%ld calls answered, the provider answered %d", ok, answered);
	ck_assert_msg(disconnected >= 4, "only %ld calls saw their provider die", disconnected);
	ck_assert_int_eq(answered, 20 * 10 - 4);
	fprintf(stderr, "provider restarts: %ld calls, %ld answered, %ld Disconnected, slowest %llu ms\n", i, ok,
		disconnected, (unsigned long long)slowest);
	cl_close(&c);
	services_clean();
}
END_TEST

/* Stats and descriptors of the host after a number of provider restarts. */
struct baseline {
	long stats[11];
	int fds;
};

static const char *const baseline_fields[] = { "clients", "handlers", "imports", "exports", "pending_in",
					       "pending_out", "queued_bytes", "functions", "orphaned_calls",
					       "services", "waiting_calls" };

/* Wait until the host lists no service (a provider's close was read). */
static void cl_no_services(struct cl *c)
{
	uint64_t deadline = test_now_ms() + CL_STAT_MS;

	for (;;) {
		cJSON *v = cl_ok(c, "host", "services", "[]");
		int n = cJSON_GetArraySize(v);
		cJSON_Delete(v);
		if (n == 0)
			return;
		ck_assert_msg(test_now_ms() < deadline, "a service is still listed after its provider closed");
	}
}

/* 1000 providers come and go, each serving one call that waited for it and
 * one through a lookup: stats and descriptors end where they began. */
START_TEST(test_thousand_restarts)
{
	struct baseline before, after;
	struct cl c, p;

	HOST_UP("--loopback");
	cl_open(&c, H.path, "caller");
	/* Counted once settled (the start-up probe's connection may still be
	 * closing) and before the stats, each of which asks on a connection of
	 * its own. */
	before.fds = test_host_fd_settled(&H);
	ck_assert_int_gt(before.fds, 0);
	for (size_t i = 0; i < 11; i++)
		before.stats[i] = test_host_stat(&H, baseline_fields[i]);
	uint64_t t0 = test_now_ms();
	for (int round = 0; round < 1000; round++) {
		uint64_t id = cl_send_wait(&c, "svc", "m", "[]", 2000);
		cl_open(&p, H.path, "restarting");
		cl_ok_is(&p, "host", "provide", "[\"svc\",{\"m\":{\"$fn\":1},\"n\":{\"$fn\":2}}]", "null");
		cl_reply(&p, cl_take_invoke(&p, 1, "[]"), "1");
		cl_answer_is(&c, id, "1");
		if (round % 10 == 0) {
			cJSON *fns = cl_ok(&c, "host", "lookup", "[\"svc\"]");
			long long n = jget_int(cJSON_GetObjectItemCaseSensitive(fns, "n"), "$fn");
			cJSON_Delete(fns);
			cl_send(&c, "{\"t\":\"invoke\",\"id\":77,\"fn\":%lld,\"args\":[]}", n);
			cl_reply(&p, cl_take_invoke(&p, 2, "[]"), "2");
			cl_see(&c, "{\"t\":\"result\",\"id\":77,\"value\":2}");
			cl_send(&c, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", n);
			cl_send(&c, "{\"t\":\"release\",\"fn\":%lld,\"count\":1}", n - 1);
		}
		cl_close(&p);
		cl_no_services(&c);
	}
	uint64_t took = test_now_ms() - t0;
	for (size_t i = 0; i < 11; i++) {
		after.stats[i] = test_host_stat_wait(&H, baseline_fields[i], before.stats[i], CL_STAT_MS);
		ck_assert_msg(after.stats[i] == before.stats[i], "stats.%s is %ld after 1000 restarts, was %ld",
			      baseline_fields[i], after.stats[i], before.stats[i]);
	}
	cl_quiet(&c);
	after.fds = test_host_fd_wait(&H, before.fds);
	ck_assert_msg(after.fds == before.fds, "the host has %d descriptors, %d before", after.fds, before.fds);
	fprintf(stderr, "1000 provider restarts in %llu ms; stats and %d descriptors as before\n",
		(unsigned long long)took, before.fds);
	cl_close(&c);
	services_clean();
}
END_TEST

/* ---- botkit: bk_provide, bk_call_wait, bk_lookup ------------------------ */

/* The answer to a botkit call. */
struct bk_answer {
	bool done;
	int err;		/* 0, or the error's -errno */
	char name[64];		/* the error's name */
	cJSON *value;		/* a copy of the result */
};

/* A botkit call completed: keep its answer. */
static void bk_answer_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct bk_answer *a = userdata;

	a->done = true;
	a->err = bk_error_errno(err);
	snprintf(a->name, sizeof a->name, "%s", err ? bk_error_name(err) : "");
	a->value = result ? bk_json_dup(result) : NULL;
}

/* Dispatch the connections until *done (the test fails after CL_WAIT_MS). */
static void bk_pump(bk_conn *const *conns, size_t n, const bool *done)
{
	uint64_t end = test_now_ms() + CL_WAIT_MS;
	struct pollfd pfd[4];

	while (!*done) {
		ck_assert_msg(test_now_ms() < end, "nothing came within %d ms", CL_WAIT_MS);
		for (size_t i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = bk_conn_get_fd(conns[i]), .events = (short)bk_conn_get_events(conns[i]) };
		poll(pfd, n, 20);
		for (size_t i = 0; i < n; i++)
			bk_conn_process(conns[i]);
	}
}

/* Assert a completed answer is the integer want, and forget it. */
static void bk_answer_int(struct bk_answer *a, int want)
{
	ck_assert_msg(a->done && a->err == 0 && cJSON_IsNumber(a->value) && a->value->valuedouble == want,
		      "want %d, got error %s (%d) or %s", want, a->name, a->err, jstr(a->value));
	bk_json_delete(a->value);
	*a = (struct bk_answer){ 0 };
}

/* Assert a completed answer is the error name (errno err), and forget it. */
static void bk_answer_error(struct bk_answer *a, const char *name, int err)
{
	ck_assert_msg(a->done && a->err == err && strcmp(a->name, name) == 0, "want %s (%d), got %s (%d) %s", name,
		      err, a->name, a->err, jstr(a->value));
	bk_json_delete(a->value);
	*a = (struct bk_answer){ 0 };
}

/* The provider's state. */
struct calc {
	int calls;		/* calls of double */
	int destroyed;		/* runs of its destroy */
	bool gone;		/* destroy ran */
	bk_args *held;		/* a call of hold, not answered yet */
	bool holding;		/* held is set */
};

/* calc.double(n): 2n, or the error TooSmall for n < 0. */
static void calc_double(bk_conn *c, bk_args *a, void *userdata)
{
	struct calc *k = userdata;
	int n = 0;

	k->calls++;
	ck_assert_int_eq(bk_args_read(a, "i", &n), 0);
	if (n < 0)
		bk_args_fail(a, "TooSmall", "n must be at least 0");
	else
		bk_args_return(a, "i", 2 * n);
}

/* calc.hold(...): answered later, by the test. */
static void calc_hold(bk_conn *c, bk_args *a, void *userdata)
{
	struct calc *k = userdata;

	k->held = bk_args_ref(a);
	k->holding = true;
}

/* The service's userdata is released. */
static void calc_destroy(void *userdata)
{
	struct calc *k = userdata;

	k->destroyed++;
	k->gone = true;
}

static const bk_method calc_methods[] = {
	{ "double", "i", "twice n", calc_double, "n", "integer" },
	{ "hold", NULL, "answers when the test says", calc_hold, NULL, NULL },
	{ NULL },
};

/* Connect a botkit client to the host under test. */
static bk_conn *bk_open(const char *name)
{
	bk_conn *c = NULL;

	ck_assert_int_eq(bk_conn_new_path(&c, H.path, name), 0);
	return c;
}

/* A provider and a caller in botkit: typed methods, the host's checks,
 * errors, introspection, lookup, and the slot whose release withdraws. */
START_TEST(test_botkit_provide)
{
	struct calc k = { 0 }, k2 = { 0 };
	struct bk_answer a = { 0 };
	bk_slot *slot = NULL;
	cJSON *v = NULL;

	HOST_UP("--loopback");
	bk_conn *p = bk_open("provider"), *c = bk_open("caller"), *p2 = bk_open("provider2");
	bk_conn *const both[] = { p, c };
	ck_assert_int_eq(bk_provide(p, "calc", calc_methods, "a calculator", &k, calc_destroy, &slot), 0);
	ck_assert(bk_slot_is_active(slot));

	/* A call reaches the typed method; its answer and its error come back. */
	ck_assert_int_eq(bk_call(c, "calc", "double", bk_answer_cb, &a, "i", 21), 0);
	bk_pump(both, 2, &a.done);
	bk_answer_int(&a, 42);
	ck_assert_int_eq(bk_call(c, "calc", "double", bk_answer_cb, &a, "i", -1), 0);
	bk_pump(both, 2, &a.done);
	bk_answer_error(&a, "TooSmall", -EIO);
	/* The signature is the host's to check: the provider sees nothing. */
	ck_assert_int_eq(bk_call(c, "calc", "double", bk_answer_cb, &a, "s", "x"), 0);
	bk_pump(both, 2, &a.done);
	bk_answer_error(&a, "InvalidArguments", -EINVAL);
	ck_assert_int_eq(k.calls, 2);

	/* Introspection shows the table: doc, argument names and types. */
	ck_assert_int_eq(bk_call_sync(c, "host", "introspect", &v, ""), 0);
	json_has(v, "{\"calc\":{\"doc\":\"a calculator\",\"methods\":{\"double\":{\"doc\":\"twice n\","
		    "\"args\":[{\"name\":\"n\",\"type\":\"integer\"}],\"returns\":\"integer\"}}}}");
	bk_json_delete(v);

	/* One provider per name, and no host object shadowed. */
	ck_assert_int_eq(bk_provide(p2, "calc", calc_methods, NULL, &k2, calc_destroy, NULL), -EEXIST);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(p2)), "ServiceExists");
	ck_assert_int_eq(bk_provide(p2, "loopback", calc_methods, NULL, &k2, calc_destroy, NULL), -EPERM);
	ck_assert_int_eq(bk_provide(p2, "host", calc_methods, NULL, &k2, calc_destroy, NULL), -EPERM);
	/* Tables the library refuses before sending anything. */
	static const bk_method bad_letter[] = { { .name = "m", .sig = "z", .fn = calc_double }, { NULL } };
	static const bk_method bad_names[] = { { .name = "m", .sig = "ii", .fn = calc_double, .args = "a" }, { NULL } };
	static const bk_method twice[] = { { .name = "m", .fn = calc_double }, { .name = "m", .fn = calc_hold },
					   { NULL } };
	static const bk_method none[] = { { NULL } };
	ck_assert_int_eq(bk_provide(p2, "x", bad_letter, NULL, &k2, calc_destroy, NULL), -EINVAL);
	ck_assert_int_eq(bk_provide(p2, "x", bad_names, NULL, &k2, calc_destroy, NULL), -EINVAL);
	ck_assert_int_eq(bk_provide(p2, "x", twice, NULL, &k2, calc_destroy, NULL), -EINVAL);
	ck_assert_int_eq(bk_provide(p2, "x", none, NULL, &k2, calc_destroy, NULL), -EINVAL);
	ck_assert_int_eq(bk_call_wait(c, "calc", "double", BK_WAIT_MAX_MS + 1, bk_answer_cb, &a, "i", 1), -EINVAL);

	/* lookup gives functions that call the service by name. */
	cJSON *m = NULL;
	ck_assert_int_eq(bk_lookup(c, "calc", 0, &m), 0);
	bk_fn *dbl = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(m, "double"));
	ck_assert_ptr_nonnull(dbl);
	ck_assert_int_eq(bk_fn_call(dbl, bk_answer_cb, &a, "i", 5), 0);
	bk_pump(both, 2, &a.done);
	bk_answer_int(&a, 10);
	bk_json_delete(m);
	ck_assert_int_eq(bk_lookup(c, "nothing", 0, &m), -ENOENT);

	/* The slot's release withdraws: the name is free, destroy runs once. */
	slot = bk_slot_unref(slot);
	bk_pump(both, 2, &k.gone);
	ck_assert_int_eq(k.destroyed, 1);
	ck_assert_int_eq(k2.destroyed, 0);
	ck_assert_int_eq(bk_call(c, "calc", "double", bk_answer_cb, &a, "i", 1), 0);
	bk_pump(both, 2, &a.done);
	bk_answer_error(&a, "NoSuchObject", -ENOENT);

	/* A call with a wait is answered by a provider that comes later. */
	ck_assert_int_eq(bk_call_wait(c, "calc", "double", 2000, bk_answer_cb, &a, "i", 4), 0);
	ck_assert_int_eq(bk_provide(p2, "calc", calc_methods, NULL, &k2, calc_destroy, NULL), 0);
	bk_conn *const both2[] = { p2, c };
	bk_pump(both2, 2, &a.done);
	bk_answer_int(&a, 8);
	ck_assert_int_eq(k2.calls, 1);

	/* The provider goes away mid-call: Disconnected; its floating
	 * service's destroy runs when the connection is freed. */
	ck_assert_int_eq(bk_call_wait(c, "calc", "hold", 2000, bk_answer_cb, &a, ""), 0);
	bk_pump(both2, 2, &k2.holding);
	p2 = bk_conn_unref(p2);
	ck_assert_int_eq(k2.destroyed, 1);
	bk_pump(&c, 1, &a.done);
	bk_answer_error(&a, "Disconnected", -ENOTCONN);
	ck_assert_int_lt(bk_args_return(k2.held, "i", 1), 0);	/* its connection is gone */
	k2.held = bk_args_unref(k2.held);
	/* With no provider and no wait, NoSuchObject at once. */
	ck_assert_int_eq(bk_call_wait_sync(c, "calc", "double", 0, NULL, "i", 1), -ENOENT);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(c)), "NoSuchObject");

	bk_conn_unref(p);
	bk_conn_unref(c);
	services_clean();
}
END_TEST

/* calc.double for a provider that dies (without answering) at its 5th call. */
static void calc_double_mortal(bk_conn *c, bk_args *a, void *userdata)
{
	int *calls = userdata;

	if (++*calls == 5)
		_exit(0);
	calc_double(c, a, &(struct calc){ 0 });
}

/* A child that runs `rounds` botkit providers of calc one after the other
 * (each dies at its 5th call), like a supervisor restarting a resident. */
static pid_t fork_bk_supervisor(int rounds)
{
	static const bk_method methods[] = {
		{ "double", "i", "twice n", calc_double_mortal, "n", "integer" },
		{ NULL },
	};
	pid_t sup = fork();

	ck_assert_int_ge(sup, 0);
	if (sup > 0)
		return sup;
	for (int i = 0; i < rounds; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			bk_conn *p = NULL;
			int calls = 0;
			if (bk_conn_new_path(&p, H.path, "mortal") < 0 ||
			    bk_provide(p, "calc", methods, NULL, &calls, NULL, NULL) < 0)
				_exit(1);
			bk_run(p);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	_exit(0);
}

/* A botkit caller loops on calls with a 2 s wait while its botkit provider
 * restarts 10 times, each time in the middle of a call: every call gives the
 * right answer or Disconnected, none waits past its 2 s. */
START_TEST(test_botkit_restarts)
{
	long ok = 0, disconnected = 0;
	uint64_t slowest = 0;

	HOST_UP("--loopback");
	bk_conn *c = bk_open("caller");
	pid_t sup = fork_bk_supervisor(10);
	while (disconnected < 10) {
		cJSON *v = NULL;
		int n = (int)(ok + disconnected);
		uint64_t t0 = test_now_ms();
		int r = bk_call_wait_sync(c, "calc", "double", 2000, &v, "i", n);
		uint64_t took = test_now_ms() - t0;
		slowest = took > slowest ? took : slowest;
		ck_assert_msg(took < 2500, "a call took %llu ms", (unsigned long long)took);
		if (r == -ENOTCONN) {
			disconnected++;
		} else {
			ck_assert_msg(r == 0 && cJSON_IsNumber(v) && v->valuedouble == 2 * n, "double(%d): %d %s", n, r,
				      jstr(v));
			ok++;
		}
		bk_json_delete(v);
	}
	waitpid(sup, NULL, 0);
	fprintf(stderr, "botkit provider restarts: %ld answered, %ld Disconnected, slowest %llu ms\n", ok,
		disconnected, (unsigned long long)slowest);
	ck_assert_int_eq(disconnected, 10);
	ck_assert_int_eq(ok, 40);
	bk_conn_unref(c);
	services_clean();
}
END_TEST

/* The whole suite. */
static Suite *services_suite(void)
{
	Suite *s = suite_create("services");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{ "provide_call", test_provide_call },
		{ "lookup", test_lookup },
		{ "names", test_names },
		{ "wait", test_wait },
		{ "provider_killed", test_provider_killed },
		{ "provider_restarts", test_provider_restarts },
		{ "thousand_restarts", test_thousand_restarts },
		{ "botkit_provide", test_botkit_provide },
		{ "botkit_restarts", test_botkit_restarts },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, NULL, host_down);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(services_suite());

	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY=verbose lists every check */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
