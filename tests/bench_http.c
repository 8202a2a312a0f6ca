/* SPDX-License-Identifier: ISC */
/* Benchmark: HTTP requests through a resident handler beside the same
 * libmicrohttpd answering in-process. A small load generator keeps 16
 * keep-alive connections over loopback busy (one request in flight on
 * each), bounded in requests and in time, and measures each request's
 * latency: http_rps, http_p50_ms, http_p99_ms through bothost (a resident
 * that registered http.route and answers by returning {"status","body"}),
 * and http_floor_rps, http_floor_p50_ms, http_floor_p99_ms for a
 * libmicrohttpd daemon (epoll, one internal thread) answering the same
 * bytes itself in a child process; http_ratio is their ratio. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <microhttpd.h>

#include "botkit.h"
#include "bench.h"
#include "harness.h"

#define HTTP_CONNS 16
#define HTTP_BODY "hello from the bench\n"
static const char http_req[] = "GET /bench/x HTTP/1.1\r\nHost: bench\r\n\r\n";

/* One keep-alive connection of the load generator. */
struct http_conn {
	int fd;
	uint64_t sent_ns;	/* when its request in flight was sent */
	char buf[4096];
	size_t n;
};

/* The samples of one run. */
struct http_run {
	uint64_t *ns;
	int n, max;
	int errors;
	double seconds;
};

/* A connection to 127.0.0.1:port, or -1. */
static int http_conn_open(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send the request on c. 0 or -1. */
static int http_conn_send(struct http_conn *c)
{
	c->sent_ns = bench_now_ns();
	return send(c->fd, http_req, sizeof http_req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof http_req - 1) ? 0 : -1;
}

/* The length of a whole response at the start of c's buffer: 0 while it is
 * incomplete, -1 when it is not a 200 answer with a Content-Length. */
static long http_conn_response(const struct http_conn *c)
{
	const char *end = memmem(c->buf, c->n, "\r\n\r\n", 4), *p;
	long head, len = -1;

	if (!end)
		return c->n == sizeof c->buf ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0)
		return -1;
	head = end + 4 - c->buf;
	for (p = c->buf; p && p < end;) {
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			len = strtol(p + 15, NULL, 10);
		p = memchr(p, '\n', (size_t)(end - p));
		p = p ? p + 1 : NULL;
	}
	if (len < 0)
		return -1;
	return (size_t)(head + len) <= c->n ? head + len : 0;
}

/* Read what came on c; each whole response is a sample and the next
 * request goes out unless the run is over. 0, or -1 (an error: c closed). */
static int http_conn_read(struct http_conn *c, struct http_run *run, bool more)
{
	ssize_t k = read(c->fd, c->buf + c->n, sizeof c->buf - c->n);
	long len;

	if (k <= 0)
		return -1;
	c->n += (size_t)k;
	while ((len = http_conn_response(c)) > 0) {
		if (run->n < run->max)
			run->ns[run->n++] = bench_now_ns() - c->sent_ns;
		memmove(c->buf, c->buf + len, c->n - (size_t)len);
		c->n -= (size_t)len;
		if (more && run->n < run->max && http_conn_send(c) < 0)
			return -1;
		if (!more || run->n >= run->max)
			c->sent_ns = 0;
	}
	return len < 0 ? -1 : 0;
}

/* Keep HTTP_CONNS connections to port busy for at most max requests or
 * max_ms; the samples go to run. 0, or -1 when no connection could be made. */
static int http_load(int port, int max, int max_ms, struct http_run *run)
{
	struct http_conn conns[HTTP_CONNS];
	struct pollfd pfd[HTTP_CONNS];
	uint64_t t0, end;
	int live = 0;

	*run = (struct http_run){ .ns = calloc((size_t)max, sizeof *run->ns), .max = max };
	if (!run->ns)
		return -1;
	t0 = bench_now_ns();
	end = t0 + (uint64_t)max_ms * 1000000u;
	for (int i = 0; i < HTTP_CONNS; i++) {
		conns[i] = (struct http_conn){ .fd = http_conn_open(port) };
		if (conns[i].fd >= 0 && http_conn_send(&conns[i]) == 0)
			live++;
		else
			run->errors++;
	}
	while (live > 0) {
		bool more = run->n < run->max && bench_now_ns() < end;
		int busy = 0;
		for (int i = 0; i < HTTP_CONNS; i++) {
			pfd[i] = (struct pollfd){ conns[i].fd >= 0 && conns[i].sent_ns ? conns[i].fd : -1, POLLIN, 0 };
			busy += pfd[i].fd >= 0;
		}
		if (!busy || poll(pfd, HTTP_CONNS, 5000) <= 0)
			break;
		for (int i = 0; i < HTTP_CONNS; i++)
			if (pfd[i].revents && http_conn_read(&conns[i], run, more) < 0) {
				close(conns[i].fd);
				conns[i].fd = -1;
				run->errors++;
				live--;
			}
	}
	run->seconds = (double)(bench_now_ns() - t0) / 1e9;
	for (int i = 0; i < HTTP_CONNS; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	return run->n > 0 ? 0 : -1;
}

/* ---- the floor: libmicrohttpd answering in-process ---------------------------- */

/* The floor's access handler: the same body at once. */
static enum MHD_Result http_floor_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				     const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (!*con_cls) {
		*con_cls = conn;	/* the headers: wait for the end of the request */
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(sizeof HTTP_BODY - 1, (void *)HTTP_BODY, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

/* A child serving the floor on 127.0.0.1; its port goes to *ret_port. */
static pid_t http_floor_start(int *ret_port)
{
	int p[2], port = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		const union MHD_DaemonInfo *info;
		struct MHD_Daemon *d;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		close(p[0]);
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, http_floor_cb,
				     NULL, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_CONNECTION_LIMIT, 256u,
				     MHD_OPTION_END);
		info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
		port = info ? info->port : 0;
		if (write(p[1], &port, sizeof port) != sizeof port || !port)
			_exit(1);
		for (;;)
			pause();	/* until the bench's SIGTERM */
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &port, sizeof port) != sizeof port || !port) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	}
	close(p[0]);
	*ret_port = port;
	return pid;
}

/* ---- through bothost ---------------------------------------------------------- */

/* The resident's handler: the answer as the invocation's result. */
static void http_resident_cb(bk_conn *c, bk_args *a, void *userdata)
{
	cJSON *res = cJSON_CreateObject();

	cJSON_AddNumberToObject(res, "status", 200);
	cJSON_AddStringToObject(res, "body", HTTP_BODY);
	bk_args_return_json(a, res);
	cJSON_Delete(res);
}

/* A child that registers the route on the host at path and serves it;
 * returns once the route is registered. */
static pid_t http_resident_start(const char *path)
{
	int p[2];
	char ok = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		bk_conn *c;
		close(p[0]);
		if (bk_conn_new_path(&c, path, "bench-http") < 0 ||
		    bk_call_sync(c, "http", "route", NULL, "ssf", "GET", "/bench", http_resident_cb, NULL, NULL) < 0)
			_exit(1);
		if (write(p[1], "y", 1) != 1)
			_exit(1);
		bk_run(c);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &ok, 1) != 1) {
		if (pid > 0)
			waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

/* The port of the host's first HTTP address, or -1. */
static int http_host_port(const char *path)
{
	cJSON *res = NULL;
	bk_conn *c;
	int port = -1;

	if (bk_conn_new_path(&c, path, "bench-http-ask") < 0)
		return -1;
	if (bk_call_sync(c, "http", "routes", &res, "") == 0) {
		const char *a = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "listen"), 0));
		const char *colon = a ? strrchr(a, ':') : NULL;
		port = colon ? atoi(colon + 1) : -1;
	}
	bk_json_delete(res);
	bk_conn_unref(c);
	return port;
}

/* Start bothost with an [http] section on 127.0.0.1:0. 0 or -errno. */
static int http_host_start(struct test_host *host, char *conf, size_t n)
{
	const char *args[] = { "-c", conf, "--log-level", "warn", NULL };
	char dir[] = "/tmp/bench_http.XXXXXX";
	FILE *f;

	if (!mkdtemp(dir))
		return -errno;
	snprintf(conf, n, "%s/bothost.conf", dir);
	if (!(f = fopen(conf, "w")))
		return -errno;
	fprintf(f, "[bothost]\nstate_dir = %s/state\n[http]\nlisten = 127.0.0.1:0\nidle_timeout = 60s\n", dir);
	if (fclose(f) != 0)
		return -EIO;
	return test_host_start(host, args);
}

/* Remove the configuration and its directory. */
static void http_conf_remove(char *conf)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strrchr(conf, '/') - conf), conf);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: cannot remove %s\n", conf);
}

/* Print the figures of one run under prefix. */
static double http_put(const char *prefix, struct http_run *run)
{
	char name[64];
	double rps = run->n / run->seconds;

	snprintf(name, sizeof name, "%s_rps", prefix);
	bench_put(name, 0, rps);
	snprintf(name, sizeof name, "%s_p50_ms", prefix);
	bench_put(name, 3, bench_percentile_us(run->ns, run->n, 50) / 1000.0);
	snprintf(name, sizeof name, "%s_p99_ms", prefix);
	bench_put(name, 3, bench_percentile_us(run->ns, run->n, 99) / 1000.0);
	if (run->errors)
		bench_fail("http", "%s: %d connections failed", prefix, run->errors);
	return rps;
}

/* Stop a child of the bench. */
static void http_child_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

void bench_http_run(const struct bench_opts *o)
{
	int max = o->quick ? 20000 : 200000, max_ms = o->quick ? 3000 : 15000, port = -1, floor_port = 0;
	struct http_run host_run = { 0 }, floor_run = { 0 };
	struct test_host host;
	char conf[300];
	pid_t resident = -1, floor;
	int r = http_host_start(&host, conf, sizeof conf);

	if (r < 0) {
		bench_fail("http", "cannot start $BOTHOST with [http]: %s", strerror(-r));
		return;
	}
	if ((resident = http_resident_start(host.path)) < 0 || (port = http_host_port(host.path)) <= 0)
		bench_fail("http", "no resident route on the host");
	else if (http_load(port, max, max_ms, &host_run) < 0)
		bench_fail("http", "no request through the host was answered");
	http_child_stop(resident);
	test_host_stop(&host);
	http_conf_remove(conf);
	if ((floor = http_floor_start(&floor_port)) < 0)
		bench_fail("http", "the libmicrohttpd floor cannot start");
	else if (http_load(floor_port, max, max_ms, &floor_run) < 0)
		bench_fail("http", "no request to the floor was answered");
	http_child_stop(floor);
	bench_put("http_connections", 0, HTTP_CONNS);
	if (host_run.n && floor_run.n) {
		double rps = http_put("http", &host_run), floor_rps = http_put("http_floor", &floor_run);
		bench_put("http_ratio", 2, rps / floor_rps);
	}
	free(host_run.ns);
	free(floor_run.ns);
}
