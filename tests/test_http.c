/* SPDX-License-Identifier: ISC */
/* The http object through a real bothost: a resident's route answers (and
 * curl, when installed), the resident killed and restarted under a steady
 * stream of requests (none refused, each answered 200 or 503, none hangs),
 * a [route] process per request, the limits' status codes (413, 431, 503,
 * 504), route ownership, and bothost's descriptors back to their count
 * after 10 000 requests; http.takeover hands a behaviour the socket it then
 * streams server-sent events on (100 times, no descriptor kept), and fails
 * once the request was answered. The behaviours are this program
 * (--behave MODE). */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "botkit.h"
#include "harness.h"
#include "ircd.h"
#include "tests/paths.h"

static char self[PATH_MAX];

/* ---- behaviours ------------------------------------------------------------ */

/* A handler: 200 "hello PATH", or for ?silent=1 no answer at all. */
static void hello_cb(bk_conn *c, bk_args *a, void *userdata)
{
	const cJSON *req = bk_args_get(a, 0);
	const cJSON *path = cJSON_GetObjectItem(req, "path");
	const cJSON *query = cJSON_GetObjectItem(req, "query");
	bk_fn *respond = bk_json_get_fn(cJSON_GetObjectItem(req, "respond"));
	char body[512];

	if (cJSON_GetObjectItem(query, "silent") || (userdata && strcmp(userdata, "silent") == 0)) {
		bk_args_return(a, "n");
		return;
	}
	snprintf(body, sizeof body, "hello %s", cJSON_GetStringValue(path));
	cJSON *headers = cJSON_CreateObject();
	cJSON_AddStringToObject(headers, "Content-Type", "text/plain");
	cJSON_AddStringToObject(headers, "X-Handler", "resident");
	bk_fn_call(respond, NULL, NULL, "ijs", 200, headers, body);
	cJSON_Delete(headers);
	bk_args_return(a, "n");
}

/* A taken-over socket: three server-sent events, 5 ms apart, then close. */
static void sse_tick_cb(bk_conn *c, bk_slot *s, void *userdata)
{
	int *st = userdata;	/* [fd, events sent] */
	char ev[64];
	int n = snprintf(ev, sizeof ev, "data: event %d\n\n", ++st[1]);

	if (write(st[0], ev, (size_t)n) != n || st[1] == 3) {
		close(st[0]);
		bk_timer_remove(s);
	}
}

/* The answer of http.takeover: write the head, then the events from a timer. */
static void takeover_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
	int *st = calloc(2, sizeof *st);

	st[0] = err ? -1 : bk_conn_take_fd(c, result);
	if (st[0] < 0 || write(st[0], head, sizeof head - 1) != (ssize_t)(sizeof head - 1) ||
	    bk_timer_add(c, 5000, true, sse_tick_cb, st, free, NULL) < 0) {
		fprintf(stderr, "takeover: %s\n", err ? bk_error_message(err) : "no descriptor");
		if (st[0] >= 0)
			close(st[0]);
		free(st);
	}
}

/* A handler that takes its connection over (by the request, or with
 * ?by=respond by its respond function) and streams on it. */
static void takeover_cb(bk_conn *c, bk_args *a, void *userdata)
{
	const cJSON *req = bk_args_get(a, 0);
	const cJSON *query = cJSON_GetObjectItem(req, "query");

	if (cJSON_GetObjectItem(query, "by"))
		bk_call(c, "http", "takeover", takeover_reply, NULL, "F",
			bk_json_get_fn(cJSON_GetObjectItem(req, "respond")));
	else
		bk_call(c, "http", "takeover", takeover_reply, NULL, "j", req);
	bk_args_return(a, "n");
}

/* A resident serving "*" on argv[3] (mode argv[2]: ok, silent or takeover). */
static int behave_resident(char **argv)
{
	bk_conn *c;
	bk_function fn = strcmp(argv[2], "takeover") == 0 ? takeover_cb : hello_cb;

	if (bk_conn_new(&c, "web") < 0)
		return 2;
	if (bk_call_sync(c, "http", "route", NULL, "ssf", "*", argv[3], fn, argv[2], NULL) < 0)
		return 3;
	bk_run(c);
	bk_conn_unref(c);
	return 0;
}

/* A [route] process: answer the request of its context. */
static int behave_route(void)
{
	cJSON *ctx = NULL, *res = NULL;
	bk_conn *c;
	char body[512];

	if (bk_conn_new(&c, "route") < 0 || bk_call_sync(c, "host", "context", &ctx, "") < 0)
		return 2;
	const cJSON *req = cJSON_GetObjectItem(ctx, "request");
	bk_fn *respond = bk_json_get_fn(cJSON_GetObjectItem(req, "respond"));
	snprintf(body, sizeof body, "route %s %s", cJSON_GetStringValue(cJSON_GetObjectItem(req, "method")),
		 cJSON_GetStringValue(cJSON_GetObjectItem(req, "path")));
	if (!respond || bk_fn_call_sync(respond, &res, "ins", 201, body) < 0)
		return 3;
	bk_json_delete(res);
	bk_json_delete(ctx);
	bk_conn_unref(c);
	return 0;
}

/* ---- an HTTP client for the tests ------------------------------------------ */

/* Connect to 127.0.0.1:port: the socket, or -errno (-ECONNREFUSED...). */
static int http_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Send req on fd and read the whole answer until the server closes (the
 * requests say Connection: close): the status, 0 when the server closed
 * without one, -ETIMEDOUT after timeout_ms; body (if given) gets the body. */
static int http_exchange(int fd, const char *req, size_t len, char *body, size_t size, int timeout_ms)
{
	static char buf[1 << 16];
	size_t n = 0;
	uint64_t end = test_now_ms() + (uint64_t)test_scaled_ms(timeout_ms);
	int status = 0;

	if (len && send(fd, req, len, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
		return -errno;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		uint64_t now = test_now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof buf - 1)
			break;
	}
	buf[n] = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = 0;
	if (body) {
		const char *b = strstr(buf, "\r\n\r\n");
		snprintf(body, size, "%s", b ? b + 4 : "");
	}
	return status;
}

/* One request on a fresh connection: the status or -errno. */
static int http_request(int port, const char *method, const char *path, const char *extra, char *body,
			size_t size, int timeout_ms)
{
	char req[1024];
	int fd = http_connect(port), n, r;

	if (fd < 0)
		return fd;
	n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s\r\n", method, path,
		     extra ? extra : "");
	r = http_exchange(fd, req, (size_t)n, body, size, timeout_ms);
	close(fd);
	return r;
}

/* ---- the host ------------------------------------------------------------- */

struct env {
	char dir[64];
	char conf[128];
	struct test_host host;
	struct test_raw raw;
	int port;
};

/* Write text to path. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* http.routes() through the raw client (caller frees). */
static cJSON *routes(struct env *e)
{
	cJSON *m = test_raw_call(&e->raw, "http", "routes", "[]", NULL);
	cJSON *res = cJSON_DetachItemFromObject(m, "value");

	if (!res)
		fprintf(stderr, "http.routes: %s\n", m ? cJSON_PrintUnformatted(m) : "no answer");
	cJSON_Delete(m);
	ck_assert_ptr_nonnull(res);
	return res;
}

/* Start bothost with [http] (http_keys under it) and sections; learn the port. */
static void env_start(struct env *e, const char *http_keys, const char *sections)
{
	char text[4096], port[16];
	const char *args[] = { "-c", e->conf, NULL };
	struct test_host_opts o = { .log = true };

	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "/tmp/test_http.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	snprintf(text, sizeof text, "[bothost]\nstate_dir = %s/state\n[http]\nlisten = 127.0.0.1:0\n%s\n%s", e->dir,
		 http_keys ? http_keys : "", sections ? sections : "");
	write_file(e->conf, text);
	ck_assert_int_eq(test_host_start_opts(&e->host, args, &o), 0);
	cJSON *w = test_raw_hello(&e->raw, e->host.path, "http-test");
	ck_assert_ptr_nonnull(w);
	cJSON_Delete(w);
	cJSON *r = routes(e);
	const char *addr = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "listen"), 0));
	ck_assert_ptr_nonnull(addr);
	ck_assert_int_eq(sscanf(addr, "127.0.0.1:%15s", port), 1);
	e->port = atoi(port);
	ck_assert_int_gt(e->port, 0);
	cJSON_Delete(r);
}

/* Stop and remove everything. */
static void env_free(struct env *e)
{
	char cmd[128];

	test_raw_close(&e->raw);
	test_host_stop(&e->host);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The state of route method path ("served", "vacant", ...) or "none". */
static char *route_state(struct env *e, const char *method, const char *path, long *ret_pid)
{
	static char state[32];
	cJSON *r = routes(e), *it;

	snprintf(state, sizeof state, "none");
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "routes"))
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, "method")), method) == 0 &&
		    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, "path")), path) == 0) {
			snprintf(state, sizeof state, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(it, "state")));
			if (ret_pid)
				*ret_pid = (long)cJSON_GetNumberValue(
					cJSON_GetObjectItem(cJSON_GetObjectItem(it, "client"), "pid"));
		}
	cJSON_Delete(r);
	return state;
}

/* Wait until route method path is in state (deadline 10 s). */
static void route_wait(struct env *e, const char *method, const char *path, const char *state, long *ret_pid)
{
	uint64_t end = test_now_ms() + (uint64_t)test_scaled_ms(10000);

	while (strcmp(route_state(e, method, path, ret_pid), state) != 0) {
		ck_assert_msg(test_now_ms() < end, "route %s %s never became %s", method, path, state);
		usleep(10000);	/* polls the host's table */
	}
}

/* The sections of a resident serving path in mode. */
static const char *resident(const char *mode, const char *path)
{
	static char s[PATH_MAX + 256];

	snprintf(s, sizeof s, "[resident web]\nexec = %s\narg = --behave\narg = %s\narg = %s\nrestart_min = 100ms\n"
		 "restart_max = 200ms\n", self, mode, path);
	return s;
}

/* ---- cases ----------------------------------------------------------------- */

START_TEST(resident_route_answers)
{
	struct env e;
	char body[4096], cmd[256];

	env_start(&e, NULL, resident("ok", "/hello"));
	route_wait(&e, "*", "/hello", "served", NULL);
	ck_assert_int_eq(http_request(e.port, "GET", "/hello/world?x=1", NULL, body, sizeof body, 5000), 200);
	ck_assert_str_eq(body, "hello /hello/world");
	/* not under the route's prefix on a segment boundary */
	ck_assert_int_eq(http_request(e.port, "GET", "/helloworld", NULL, body, sizeof body, 5000), 404);
	/* curl, when installed */
	if (system("command -v curl >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof cmd, "test \"$(curl -s -m 5 http://127.0.0.1:%d/hello/curl)\" = 'hello /hello/curl'",
			 e.port);
		ck_assert_int_eq(system(cmd), 0);
	}
	/* one owner per route */
	cJSON *m = test_raw_call(&e.raw, "http", "route", "[\"*\",\"/hello\",{\"$fn\":1}]", NULL);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "name")),
			 "RouteExists");
	cJSON_Delete(m);
	m = test_raw_call(&e.raw, "http", "route", "[\"get\",\"/x\",{\"$fn\":2}]", NULL);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "name")),
			 "InvalidArguments");
	cJSON_Delete(m);
	env_free(&e);
}
END_TEST

/* Requests sent one after the other by a child process for ms: counts of
 * 200, 503, others, refused connections and hangs, written to fd. */
static void steady_client(int port, int ms, int out)
{
	int counts[5] = { 0 };
	uint64_t end = test_now_ms() + (uint64_t)ms;
	char body[256];

	while (test_now_ms() < end) {
		int r = http_request(port, "GET", "/hello/steady", NULL, body, sizeof body, 8000);
		counts[r == 200 ? 0 : r == 503 ? 1 : r == -ECONNREFUSED ? 3 : r == -ETIMEDOUT ? 4 : 2]++;
	}
	if (write(out, counts, sizeof counts) != sizeof counts)
		_exit(1);
	_exit(0);
}

START_TEST(resident_restart_under_load)
{
	struct env e;
	int pipefd[2], counts[5];
	long pid = 0;
	pid_t child;

	env_start(&e, "handler_wait = 3s\n", resident("ok", "/hello"));
	route_wait(&e, "*", "/hello", "served", &pid);
	ck_assert_int_eq(pipe(pipefd), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		steady_client(e.port, test_scaled_ms(3000), pipefd[1]);
	for (int i = 0; i < 5; i++) {
		usleep(200000);	/* lets requests flow between kills */
		ck_assert_int_gt(pid, 0);
		ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
		route_wait(&e, "*", "/hello", "vacant", NULL);
		long next = pid;
		uint64_t end = test_now_ms() + (uint64_t)test_scaled_ms(10000);
		while (next == pid && test_now_ms() < end) {
			route_wait(&e, "*", "/hello", "served", &next);
			usleep(10000);	/* polls the host's table */
		}
		ck_assert_int_ne(next, pid);
		pid = next;
	}
	ck_assert_int_eq(read(pipefd[0], counts, sizeof counts), (ssize_t)sizeof counts);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	fprintf(stderr, "restart under load: %d answered, %d 503, %d other, %d refused, %d hung\n", counts[0],
		counts[1], counts[2], counts[3], counts[4]);
	ck_assert_int_gt(counts[0], 10);
	ck_assert_int_eq(counts[2], 0);
	ck_assert_int_eq(counts[3], 0);
	ck_assert_int_eq(counts[4], 0);
	close(pipefd[0]);
	close(pipefd[1]);
	env_free(&e);
}
END_TEST

START_TEST(route_process_per_request)
{
	struct env e;
	char sections[PATH_MAX + 128], body[512];

	/* max_running = 3: a process that answered counts until it exits, which
	 * takes a while under a sanitizer's exit checks */
	snprintf(sections, sizeof sections, "[route proc]\nexec = %s\narg = --behave\narg = route\npath = /proc\n"
		 "method = POST\nmax_running = 3\n", self);
	env_start(&e, NULL, sections);
	route_wait(&e, "POST", "/proc", "configured", NULL);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(http_request(e.port, "POST", "/proc/a", "Content-Length: 0\r\n", body, sizeof body,
					      5000), 201);
		ck_assert_str_eq(body, "route POST /proc/a");
	}
	/* another method is not routed */
	ck_assert_int_eq(http_request(e.port, "GET", "/proc/a", NULL, body, sizeof body, 5000), 404);
	/* botctl routes shows the address and the route */
	char cmd[PATH_MAX + 512], line[256];
	snprintf(cmd, sizeof cmd, "'%s' -s '%s' routes", getenv("BOTCTL"), e.host.path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
	ck_assert_int_eq(strncmp(line, "listen 127.0.0.1:", 17), 0);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
	ck_assert_str_eq(line, "POST /proc configured served=3 section=proc\n");
	ck_assert_int_eq(pclose(p), 0);
	env_free(&e);
}
END_TEST

START_TEST(limits_status_codes)
{
	struct env e;
	char body[512], big[9000];
	int fds[3];

	env_start(&e, "body_max = 1024\nheader_max = 4096\nconnections_max = 2\ninflight_max = 2\n"
		  "handler_wait = 300ms\nanswer_timeout = 400ms\n", resident("ok", "/hello"));
	route_wait(&e, "*", "/hello", "served", NULL);
	/* 413: a body over body_max */
	ck_assert_int_eq(http_request(e.port, "POST", "/hello", "Content-Length: 2000\r\n", body, sizeof body, 5000),
			 413);
	/* 431: headers over header_max */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	char *hdr = malloc(sizeof big + 32);
	snprintf(hdr, sizeof big + 32, "X-Big: %s\r\n", big);
	int fd = http_connect(e.port);
	char req[sizeof big + 128];
	int n = snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n", hdr);
	ck_assert_int_eq(http_exchange(fd, req, (size_t)n, body, sizeof body, 5000), 431);
	close(fd);
	free(hdr);
	/* 504: a handler that does not answer */
	ck_assert_int_eq(http_request(e.port, "GET", "/hello?silent=1", NULL, body, sizeof body, 5000), 504);
	/* 503: in-flight requests over inflight_max (two silent ones hold both) */
	for (int i = 0; i < 2; i++) {
		fds[i] = http_connect(e.port);
		const char *s = "GET /hello?silent=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
		ck_assert_int_eq(send(fds[i], s, strlen(s), 0), (ssize_t)strlen(s));
	}
	for (uint64_t end = test_now_ms() + 2000; test_now_ms() < end;) {
		cJSON *r = routes(&e);
		int inflight = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "inflight"));
		cJSON_Delete(r);
		if (inflight == 2)
			break;
		usleep(5000);	/* polls the host's count */
	}
	/* a third connection is over connections_max too: 503 either way */
	ck_assert_int_eq(http_request(e.port, "GET", "/hello", NULL, body, sizeof body, 5000), 503);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(http_exchange(fds[i], "", 0, body, sizeof body, 5000), 504);
		close(fds[i]);
	}
	/* connections over connections_max: 503 */
	fds[0] = http_connect(e.port);
	fds[1] = http_connect(e.port);
	ck_assert_int_eq(http_request(e.port, "GET", "/hello", NULL, body, sizeof body, 5000), 503);
	close(fds[0]);
	close(fds[1]);
	/* 503: a vacant route whose handler does not come back within handler_wait */
	cJSON *m = test_raw_call(&e.raw, "http", "route", "[\"GET\",\"/gone\",{\"$fn\":1}]", NULL);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "t")), "result");
	cJSON_Delete(m);
	test_raw_close(&e.raw);
	cJSON *welcome = test_raw_hello(&e.raw, e.host.path, "again");
	ck_assert_ptr_nonnull(welcome);
	cJSON_Delete(welcome);
	route_wait(&e, "GET", "/gone", "vacant", NULL);
	uint64_t t0 = test_now_ms();
	ck_assert_int_eq(http_request(e.port, "GET", "/gone", NULL, body, sizeof body, 5000), 503);
	ck_assert_uint_ge(test_now_ms() - t0, 250);
	/* the answer is still fine */
	ck_assert_int_eq(http_request(e.port, "GET", "/hello/ok", NULL, body, sizeof body, 5000), 200);
	env_free(&e);
}
END_TEST

START_TEST(no_descriptor_leak)
{
	struct env e;
	char body[256];
	int base, ok = 0;

	env_start(&e, NULL, resident("ok", "/hello"));
	route_wait(&e, "*", "/hello", "served", NULL);
	ck_assert_int_eq(http_request(e.port, "GET", "/hello", NULL, body, sizeof body, 5000), 200);
	base = test_host_fd_settled(&e.host);
	for (int i = 0; i < 10000; i++)
		ok += http_request(e.port, "GET", "/hello/n", NULL, body, sizeof body, 5000) == 200;
	ck_assert_int_eq(ok, 10000);
	ck_assert_int_eq(test_host_fd_wait(&e.host, base), base);
	env_free(&e);
}
END_TEST

START_TEST(takeover_streams)
{
	static const char events[] = "data: event 1\n\ndata: event 2\n\ndata: event 3\n\n";
	struct env e;
	char body[1024];
	int base, ok = 0;

	env_start(&e, NULL, resident("takeover", "/events"));
	route_wait(&e, "*", "/events", "served", NULL);
	/* the behaviour writes the head and three events on the socket it got */
	ck_assert_int_eq(http_request(e.port, "GET", "/events", NULL, body, sizeof body, 5000), 200);
	ck_assert_str_eq(body, events);
	/* by the respond function instead of the request */
	ck_assert_int_eq(http_request(e.port, "GET", "/events?by=respond", NULL, body, sizeof body, 5000), 200);
	ck_assert_str_eq(body, events);
	/* the host kept nothing: its descriptors are back to their count after 100 */
	base = test_host_fd_settled(&e.host);
	for (int i = 0; i < 100; i++)
		ok += http_request(e.port, "GET", "/events/n", NULL, body, sizeof body, 5000) == 200 &&
		      strcmp(body, events) == 0;
	ck_assert_int_eq(ok, 100);
	ck_assert_int_eq(test_host_fd_wait(&e.host, base), base);
	cJSON *r = routes(&e);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "inflight")), 0);
	ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "connections")), 0);
	cJSON_Delete(r);
	/* anything but a request: InvalidArguments */
	cJSON *m = test_raw_call(&e.raw, "http", "takeover", "[{\"path\":\"/events\"}]", NULL);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "name")),
			 "InvalidArguments");
	cJSON_Delete(m);
	env_free(&e);
}
END_TEST

/* A handler that takes its request over once it was answered: Failed. */
static void late_takeover_cb(bk_conn *c, bk_args *a, void *userdata)
{
	const cJSON *req = bk_args_get(a, 0);
	cJSON *res = NULL;
	int r;

	r = bk_fn_call_sync(bk_json_get_fn(cJSON_GetObjectItem(req, "respond")), NULL, "ins", 200, "first");
	if (r == 0)
		r = bk_call_sync(c, "http", "takeover", &res, "j", req);
	bk_json_delete(res);
	*(int *)userdata = r;
	bk_args_return(a, "n");
	bk_stop(c);
}

START_TEST(takeover_after_answer_fails)
{
	struct env e;
	char body[256];
	int r = 1;
	bk_conn *c;

	env_start(&e, NULL, NULL);
	ck_assert_int_eq(bk_conn_new_path(&c, e.host.path, "late"), 0);
	ck_assert_int_eq(bk_call_sync(c, "http", "route", NULL, "ssf", "GET", "/late", late_takeover_cb, &r, NULL), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(http_request(e.port, "GET", "/late", NULL, body, sizeof body, 5000) == 200 &&
		      strcmp(body, "first") == 0 ? 0 : 1);
	ck_assert_int_eq(bk_run(c), 0);
	ck_assert_int_eq(r, bk_errno_from_name("Failed"));
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	bk_conn_unref(c);
	env_free(&e);
}
END_TEST

/* POST body to path with event and the signature of secret: the status. */
static int webhook_post(int port, const char *path, const char *event, const char *secret, const char *body)
{
	unsigned char mac[32];
	unsigned len = 0;
	char hex[65], req[4096];
	int fd = http_connect(port), n, r;

	if (fd < 0)
		return fd;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, strlen(body), mac, &len);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	n = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-GitHub-Event: %s\r\n"
		     "X-Hub-Signature-256: sha256=%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     path, event, hex, strlen(body), body);
	r = http_exchange(fd, req, (size_t)n, NULL, 0, 5000);
	close(fd);
	return r;
}

START_TEST(webhook_into_channel)
{
	struct test_ircd ircd;
	struct test_irc_user alice = { .fd = -1 };
	struct env e;
	char sections[1024];
	const char *push = "{\"ref\":\"refs/heads/main\",\"repository\":{\"full_name\":\"octo/repo\"},"
			   "\"pusher\":{\"name\":\"alice\"},\"commits\":[{\"message\":\"fix the thing\\nmore\"}]}";
	const char *issue = "{\"action\":\"opened\",\"repository\":{\"full_name\":\"octo/repo\"},"
			    "\"sender\":{\"login\":\"bob\"},\"issue\":{\"number\":7,\"title\":\"It breaks\","
			    "\"html_url\":\"https://example.org/7\"}}";

	if (test_ircd_start(&ircd, NULL) < 0) {
		fprintf(stderr, "webhook_into_channel: ngircd cannot start here: skipped\n");
		return;
	}
	ck_assert_int_eq(test_irc_user_connect(&alice, ircd.port, "alice"), 0);
	ck_assert_int_eq(test_irc_user_join(&alice, "#hooks"), 0);
	snprintf(sections, sizeof sections, "[irc]\nserver = 127.0.0.1:%d\nnick = hookbot\nchannel = #hooks\n"
		 "line_interval = 0\n[resident webhook]\nexec = %s/webhook\narg = --path\narg = /gh\n"
		 "arg = --secret\narg = s3cret\narg = #hooks\n", ircd.port, SCRIPTS_BUILDDIR);
	env_start(&e, NULL, sections);
	ck_assert_int_eq(test_irc_user_expect(&alice, "^:hookbot![^ ]+ JOIN :?#hooks", test_scaled_ms(10000), NULL), 0);
	route_wait(&e, "POST", "/gh", "served", NULL);
	/* a forged payload: 401 and nothing said */
	ck_assert_int_eq(webhook_post(e.port, "/gh", "push", "wrong", push), 401);
	/* a signed one: its line in the channel */
	ck_assert_int_eq(webhook_post(e.port, "/gh", "push", "s3cret", push), 200);
	ck_assert_int_eq(test_irc_user_expect(&alice, "PRIVMSG #hooks :\\[octo/repo\\] alice pushed 1 commit to main: "
					      "fix the thing$", test_scaled_ms(5000), NULL), 0);
	ck_assert_int_eq(webhook_post(e.port, "/gh", "issues", "s3cret", issue), 200);
	ck_assert_int_eq(test_irc_user_expect(&alice, "PRIVMSG #hooks :\\[octo/repo\\] bob opened issue #7: It breaks "
					      "https://example.org/7$", test_scaled_ms(5000), NULL), 0);
	ck_assert_int_eq(webhook_post(e.port, "/gh", "ping", "s3cret", "{}"), 200);
	ck_assert_int_eq(webhook_post(e.port, "/gh", "issues", "", issue), 401);
	/* a PING's answer shows nothing else came before it */
	ck_assert_int_eq(test_irc_user_send(&alice, "PING :mark"), 0);
	ck_assert_int_eq(test_irc_user_expect(&alice, "PONG .*mark$", 5000, NULL), 0);
	ck_assert_uint_eq(test_irc_user_count(&alice, "PRIVMSG #hooks"), 2);
	test_irc_user_close(&alice);
	env_free(&e);
	test_ircd_stop(&ircd);
}
END_TEST

/* bothost refuses the file text with a message containing want. */
static void refuses(const char *text, const char *want)
{
	char dir[] = "/tmp/test_http.XXXXXX", conf[64], cmd[PATH_MAX + 128], out[1024] = "";
	FILE *p;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/bothost.conf", dir);
	write_file(conf, text);
	snprintf(cmd, sizeof cmd, "'%s' -c '%s' --socket '%s/s' 2>&1", getenv("BOTHOST"), conf, dir);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = 0;
	ck_assert_int_ne(pclose(p), 0);
	ck_assert_msg(strstr(out, want), "<<%s>> does not say <<%s>>", out, want);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(configuration_errors)
{
	refuses("[http]\nlisten = localhost:80\n", ":2: invalid address 'localhost:80' for listen");
	refuses("[http]\nlisten = 127.0.0.1:99999\n", ":2: invalid address '127.0.0.1:99999'");
	refuses("[http]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:1\n", ":3: listen 127.0.0.1:1 is given twice");
	refuses("[http]\nheader_max = 10\n", ":2:");
	refuses("[route r]\nexec = /bin/true\n", "[route r] has no path");
	refuses("[route r]\nexec = /bin/true\npath = nope\n", "must start with '/'");
	refuses("[route r]\nexec = /bin/true\npath = /a\nmethod = get\n", "is not \"*\" or 1 to 16 upper-case");
	refuses("[route r]\nexec = /bin/true\npath = /a\n[route s]\nexec = /bin/true\npath = /a\n",
		"[route s] serves * /a like [route r] on line 1");
	/* a port taken by someone else: bothost says so and exits */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	char text[128];
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(text, sizeof text, "[http]\nlisten = 127.0.0.1:%u\n", (unsigned)ntohs(sin.sin_port));
	refuses(text, "http: cannot listen on 127.0.0.1:");
	close(fd);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, configuration_errors);
	tcase_add_test(tc, resident_route_answers);
	tcase_add_test(tc, route_process_per_request);
	tcase_add_test(tc, limits_status_codes);
	tcase_add_test(tc, takeover_after_answer_fails);
	tcase_add_test(tc, webhook_into_channel);
	suite_add_tcase(s, tc);
	/* Thousands of requests and restarts under load (make check-slow). */
	tc = tcase_create("http-slow");
	tcase_set_tags(tc, "slow");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, resident_restart_under_load);
	tcase_add_test(tc, no_descriptor_leak);
	tcase_add_test(tc, takeover_streams);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc > 3 && strcmp(argv[1], "--behave") == 0 && strcmp(argv[2], "route") != 0)
		return behave_resident(argv);
	if (argc > 2 && strcmp(argv[1], "--behave") == 0)
		return behave_route();
	if (!realpath(argv[0], self))
		return 1;
	sr = srunner_create(http_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
