/* SPDX-License-Identifier: ISC */
/* A raw protocol client for the conformance tests, on the harness's
 * struct test_raw: frames that arrive while the test waits for another are
 * kept for a later take, and every helper fails the test (ck_assert) where
 * harness.c returns -errno. */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rawclient.h"

/* ---- JSON helpers ------------------------------------------------------ */

/* Parse JSON text that the test itself wrote. */
cJSON *J(const char *text)
{
	cJSON *v = cJSON_Parse(text);

	ck_assert_msg(v != NULL, "bad JSON in test: %s", text);
	return v;
}

/* Compact text of v for messages (a few rotating static buffers). */
const char *jstr(const cJSON *v)
{
	static char bufs[4][2048];
	static int next;
	char *b = bufs[next++ % 4];
	char *s = v ? cJSON_PrintUnformatted(v) : NULL;

	snprintf(b, sizeof bufs[0], "%s", s ? s : "(none)");
	cJSON_free(s);
	return b;
}

/* True when v has everything pat has: objects by subset, the rest exactly. */
bool json_match(const cJSON *pat, const cJSON *v)
{
	const cJSON *p;

	if (!v)
		return false;
	if (cJSON_IsObject(pat)) {
		if (!cJSON_IsObject(v))
			return false;
		cJSON_ArrayForEach(p, pat)
			if (!json_match(p, cJSON_GetObjectItemCaseSensitive(v, p->string)))
				return false;
		return true;
	}
	if (cJSON_IsArray(pat)) {
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(pat) != cJSON_GetArraySize(v))
			return false;
		const cJSON *e = v->child;
		cJSON_ArrayForEach(p, pat) {
			if (!json_match(p, e))
				return false;
			e = e->next;
		}
		return true;
	}
	return cJSON_Compare(pat, v, true);
}

/* Assert that v has everything the JSON text want has (objects may hold more). */
void json_has(const cJSON *v, const char *want)
{
	cJSON *w = J(want);
	bool ok = json_match(w, v);

	cJSON_Delete(w);
	ck_assert_msg(ok, "got %s, want at least %s", jstr(v), want);
}

/* Assert that v equals the JSON text want exactly. */
void json_is(const cJSON *v, const char *want)
{
	cJSON *w = J(want);
	bool same = v && cJSON_Compare(w, v, true);

	cJSON_Delete(w);
	ck_assert_msg(same, "got %s, want %s", jstr(v), want);
}

/* A string field of o, or NULL. */
const char *jget_str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* A number field of o as an integer; fails the test when absent. */
long long jget_int(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\" in %s", k, jstr(o));
	return (long long)v->valuedouble;
}

/* ---- the host under test ----------------------------------------------- */

/* Start a private bothost with --log-level warn and the given options. */
void cl_host_up(struct test_host *h, const char *const *args)
{
	const char *argv[32] = { "--log-level", "warn" };
	size_t n = 2;

	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	int r = test_host_start(h, argv);
	ck_assert_msg(r == 0, "bothost did not start ($BOTHOST=%s): %s",
		      getenv("BOTHOST") ? getenv("BOTHOST") : "(unset)", strerror(-r));
}

/* Teardown: the host must still be running and stop cleanly on SIGTERM. */
void cl_host_down(struct test_host *h)
{
	if (h->pid <= 0)
		return;
	pid_t pid = h->pid;
	int alive = waitpid(pid, NULL, WNOHANG) == 0;
	int status = test_host_stop(h);
	ck_assert_msg(alive, "bothost exited during the test (status 0x%x)", status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "bothost did not exit cleanly on SIGTERM (status 0x%x)", status);
}

/* ---- raw clients --------------------------------------------------------- */

/* Connect and complete the handshake. */
void cl_open(struct cl *c, const char *path, const char *name)
{
	memset(c, 0, sizeof *c);
	c->welcome = test_raw_hello(&c->r, path, name);
	ck_assert_msg(c->welcome != NULL, "no welcome for client %s", name);
	c->q = cJSON_CreateArray();
}

/* Close and free everything. */
void cl_close(struct cl *c)
{
	test_raw_close(&c->r);
	cJSON_Delete(c->welcome);
	cJSON_Delete(c->q);
	c->welcome = c->q = NULL;
}

/* Send one frame; the test fails if the socket refuses it. */
void cl_send(struct cl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = test_raw_vsend(&c->r, fmt, ap);
	va_end(ap);
	ck_assert_msg(r == 0, "send: %s", strerror(-r));
}

/* Send a call; its id. */
uint64_t cl_send_call(struct cl *c, const char *obj, const char *method, const char *args)
{
	uint64_t id = ++c->r.next_id;

	cl_send(c, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"%s\",\"method\":\"%s\",\"args\":%s}",
		(unsigned long long)id, obj, method, args);
	return id;
}

typedef bool (*frame_pred)(const cJSON *m, const void *arg);

/* Take the first frame (queued or arriving within CL_WAIT_MS) that satisfies pred. */
static cJSON *cl_take_if(struct cl *c, frame_pred pred, const void *arg, const char *what)
{
	uint64_t deadline = test_now_ms() + CL_WAIT_MS;
	cJSON *m;

	cJSON_ArrayForEach(m, c->q)
		if (pred(m, arg))
			return cJSON_DetachItemViaPointer(c->q, m);
	for (;;) {
		uint64_t now = test_now_ms();
		m = now < deadline ? test_raw_recv(&c->r, (int)(deadline - now)) : NULL;
		ck_assert_msg(m != NULL, "no frame %s within %d ms (%s); unclaimed: %s", what, CL_WAIT_MS,
			      c->r.eof ? "connection closed" : "timeout", jstr(c->q));
		if (pred(m, arg))
			return m;
		cJSON_AddItemToArray(c->q, m);
	}
}

/* Predicate: the frame matches a parsed pattern. */
static bool pred_match(const cJSON *m, const void *pat)
{
	return json_match(pat, m);
}

/* Predicate: a result or error answering the request id. */
static bool pred_answer(const cJSON *m, const void *arg)
{
	uint64_t id = *(const uint64_t *)arg;
	const char *t = jget_str(m, "t");
	const cJSON *jid = cJSON_GetObjectItemCaseSensitive(m, "id");

	return t && (!strcmp(t, "result") || !strcmp(t, "error")) &&
	       cJSON_IsNumber(jid) && jid->valuedouble == (double)id;
}

/* Take the first frame matching the JSON pattern (caller frees). */
cJSON *cl_take(struct cl *c, const char *pattern)
{
	cJSON *pat = J(pattern);
	cJSON *m = cl_take_if(c, pred_match, pat, pattern);

	cJSON_Delete(pat);
	return m;
}

/* Wait for a frame matching the pattern and drop it. */
void cl_see(struct cl *c, const char *pattern)
{
	cJSON_Delete(cl_take(c, pattern));
}

/* Wait for an event notification (an invoke without id) of fn with exactly these args. */
/* Wait for {"t":"release","fn":fn,"count":count}. */
void cl_see_release(struct cl *c, long long fn, long long count)
{
	char pattern[128];

	snprintf(pattern, sizeof pattern, "{\"t\":\"release\",\"fn\":%lld,\"count\":%lld}", fn, count);
	cl_see(c, pattern);
}

/* Wait for a host invoke of our fn that expects an answer; its request id. */
uint64_t cl_take_invoke(struct cl *c, long long fn, const char *args)
{
	char pattern[4096];

	snprintf(pattern, sizeof pattern, "{\"t\":\"invoke\",\"fn\":%lld}", fn);
	cJSON *m = cl_take(c, pattern);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
	ck_assert_msg(cJSON_IsNumber(id) && id->valuedouble >= 1, "invoke without a valid id: %s", jstr(m));
	if (args)
		json_is(cJSON_GetObjectItemCaseSensitive(m, "args"), args);
	uint64_t ret = (uint64_t)id->valuedouble;
	cJSON_Delete(m);
	return ret;
}

/* Wait for the answer to request id (caller frees). */
cJSON *cl_answer(struct cl *c, uint64_t id)
{
	char what[64];

	snprintf(what, sizeof what, "answering request %llu", (unsigned long long)id);
	return cl_take_if(c, pred_answer, &id, what);
}

/* Call and return the answer frame (caller frees). */
cJSON *cl_call(struct cl *c, const char *obj, const char *method, const char *args)
{
	return cl_answer(c, cl_send_call(c, obj, method, args));
}

/* The value of a result frame (absent means null); fails on an error frame. Frees m. */
cJSON *result_value(cJSON *m, const char *what)
{
	const char *t = jget_str(m, "t");

	ck_assert_msg(t && !strcmp(t, "result"), "%s: want a result, got %s", what, jstr(m));
	cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(m, "value");
	cJSON_Delete(m);
	return v ? v : cJSON_CreateNull();
}

/* Call and return the result value (caller frees). */
cJSON *cl_ok(struct cl *c, const char *obj, const char *method, const char *args)
{
	char what[256];

	snprintf(what, sizeof what, "%s.%s(%s)", obj, method, args);
	return result_value(cl_call(c, obj, method, args), what);
}

/* Call and assert the result value is exactly want. */
void cl_ok_is(struct cl *c, const char *obj, const char *method, const char *args, const char *want)
{
	cJSON *v = cl_ok(c, obj, method, args);

	json_is(v, want);
	cJSON_Delete(v);
}

/* Assert that m is an error frame for a request with this error name; its error object. */
const cJSON *error_is(const cJSON *m, const char *name)
{
	const char *t = jget_str(m, "t");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");

	ck_assert_msg(t && !strcmp(t, "error") && cJSON_GetObjectItemCaseSensitive(m, "id"),
		      "want an error %s answering a request, got %s", name, jstr(m));
	ck_assert_msg(jget_str(e, "name") && !strcmp(jget_str(e, "name"), name),
		      "want error %s, got %s", name, jstr(m));
	ck_assert_msg(jget_str(e, "message") != NULL, "error without a message: %s", jstr(m));
	return e;
}

/* Call and assert it fails with the error name; the message is returned in msg. */
void cl_err_msg(struct cl *c, const char *obj, const char *method, const char *args,
		       const char *name, char *msg, size_t msg_size)
{
	cJSON *m = cl_call(c, obj, method, args);
	const cJSON *e = error_is(m, name);

	if (msg)
		snprintf(msg, msg_size, "%s", jget_str(e, "message"));
	cJSON_Delete(m);
}

/* Call and assert it fails with the error name. */
void cl_err(struct cl *c, const char *obj, const char *method, const char *args, const char *name)
{
	cl_err_msg(c, obj, method, args, name, NULL, 0);
}

/* Everything the host sent is accounted for: after a ping round trip nothing is unclaimed. */
void cl_quiet(struct cl *c)
{
	cl_ok_is(c, "host", "ping", "[]", "\"pong\"");
	ck_assert_msg(cJSON_GetArraySize(c->q) == 0, "unexpected frames: %s", jstr(c->q));
}

/* Wait until a host.stats total (other clients only) reaches want. */
void cl_stat_is(const struct test_host *h, const char *field, long want)
{
	long v = test_host_stat_wait(h, field, want, CL_STAT_MS);

	ck_assert_msg(v == want, "host.stats %s is %ld, want %ld", field, v, want);
}

/* All per-client totals are back to zero. */
void cl_stats_clean(const struct test_host *h)
{
	static const char *const fields[] = { "clients", "handlers", "imports", "exports",
					      "pending_in", "pending_out", "functions" };

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		cl_stat_is(h, fields[i], 0);
}
