/* SPDX-License-Identifier: ISC */
/* Benchmark: one event emitted to 1, 10, 100 and 1000 connected clients,
 * each with a handler, until the last handler has run (fanout_N_ms); beside
 * it the floor, one frame written to N sockets and read by another process
 * (raw_fanout_N_ms); and the host's memory with 1000 clients holding 10
 * handlers each (rss_1000_clients_kib). All clients live in this process and
 * are served by one epoll loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "botkit.h"
#include "bench.h"

#define FAN_CLIENTS 1000
#define FAN_HANDLERS 10		/* registrations per client */
#define FAN_WAIT_MS 10000
#define FAN_WARMUP 2

static const int fan_widths[] = { 1, 10, 100, 1000 };

/* One emitted event, followed until every handler it reaches has run. */
struct fan_round {
	int want;		/* handlers that must run */
	int ran;
	uint64_t last_ns;	/* when the last of them ran */
	bool answered;		/* emit completed */
	bool failed;
	int reached;		/* registrations the host says it reached */
};

struct fan_handler {
	struct fan_round *round;
};

struct fanout {
	bk_conn *conns[FAN_CLIENTS];
	bk_conn *driver;	/* emits the events */
	int epfd;
	struct fan_round round;
	struct fan_handler handlers[FAN_CLIENTS * FAN_HANDLERS];
};

/* A registration's function: count the run. */
static void fan_handler_cb(bk_conn *c, bk_args *args, void *userdata)
{
	struct fan_handler *h = userdata;

	h->round->ran++;
	h->round->last_ns = bench_now_ns();
}

/* The event client i registers as its handler k: fanK for the first K
 * clients, a silent event otherwise. */
static void fan_event_name(int i, int k, char *out, size_t n)
{
	int width = k < 4 ? fan_widths[3 - k] : 0;

	if (width && i < width)
		snprintf(out, n, "fan%d", width);
	else
		snprintf(out, n, "quiet%d", k);
}

/* Connect client i, register its handlers and watch its socket. */
static int fan_client_add(struct fanout *f, const char *path, int i)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char event[16];
	int r = bk_conn_new_path(&f->conns[i], path, "fanout");

	for (int k = 0; r == 0 && k < FAN_HANDLERS; k++) {
		struct fan_handler *h = &f->handlers[i * FAN_HANDLERS + k];
		h->round = &f->round;
		fan_event_name(i, k, event, sizeof event);
		r = bk_on(f->conns[i], "loopback", event, fan_handler_cb, h, NULL, NULL);
	}
	if (r < 0)
		return r;
	ev.data.ptr = f->conns[i];
	return epoll_ctl(f->epfd, EPOLL_CTL_ADD, bk_conn_get_fd(f->conns[i]), &ev) < 0 ? -errno : 0;
}

/* The emit call's completion. */
static void fan_emit_done(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct fan_round *r = userdata;

	r->answered = true;
	r->failed = err != NULL;
	r->reached = cJSON_IsNumber(result) ? (int)result->valuedouble : -1;
}

/* Serve every client until the round is complete. 0 or -errno. */
static int fan_serve(struct fanout *f)
{
	struct epoll_event evs[256];

	while (!f->round.answered || f->round.ran < f->round.want) {
		int n = epoll_wait(f->epfd, evs, 256, FAN_WAIT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ETIMEDOUT;
		for (int i = 0; i < n; i++)
			if (bk_conn_process(evs[i].data.ptr) < 0)
				return -ENOTCONN;
	}
	return f->round.failed || f->round.reached != f->round.want ? -EPROTO : 0;
}

/* Emit fanN once; nanoseconds until its last handler ran, or -errno. */
static int64_t fan_round_run(struct fanout *f, int width, int seq)
{
	char event[16];
	int r;

	snprintf(event, sizeof event, "fan%d", width);
	f->round = (struct fan_round){ .want = width };
	uint64_t t0 = bench_now_ns();
	r = bk_call(f->driver, "loopback", "emit", fan_emit_done, &f->round, "si", event, seq);
	if (r == 0)
		r = bk_conn_flush(f->driver);
	if (r == 0)
		r = fan_serve(f);
	return r < 0 ? r : (int64_t)(f->round.last_ns - t0);
}

/* fanout_N_ms: the median of the rounds of one width. */
static int fan_measure(struct fanout *f, const struct bench_opts *o, int width)
{
	int n = o->fanout_rounds;
	uint64_t *ns = calloc((size_t)n, sizeof *ns);
	char name[32];

	if (!ns)
		return -ENOMEM;
	for (int i = -FAN_WARMUP; i < n; i++) {
		int64_t t = fan_round_run(f, width, i);
		if (t < 0) {
			free(ns);
			return (int)t;
		}
		if (i >= 0)
			ns[i] = (uint64_t)t;
	}
	snprintf(name, sizeof name, "fanout_%d_ms", width);
	bench_put(name, 3, bench_percentile_us(ns, n, 50) / 1000.0);
	free(ns);
	return 0;
}

/* Handlers the host holds over all clients, as host.stats() counts them. */
static long fan_host_handlers(struct fanout *f)
{
	cJSON *stats = NULL;
	long n = -1;

	if (bk_call_sync(f->driver, "host", "stats", &stats, "") == 0) {
		const cJSON *h = cJSON_GetObjectItem(stats, "handlers");
		n = cJSON_IsNumber(h) ? (long)h->valuedouble : -1;
	}
	bk_json_delete(stats);
	return n;
}

/* Connect everyone, measure every width, then the host's memory. */
static int fan_host_run(struct fanout *f, const struct bench_opts *o, const char *path, pid_t pid)
{
	int r = bk_conn_new_path(&f->driver, path, "fanout-driver");
	struct epoll_event ev = { .events = EPOLLIN };

	if (r < 0)
		return r;
	ev.data.ptr = f->driver;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, bk_conn_get_fd(f->driver), &ev) < 0)
		return -errno;
	for (int i = 0; i < FAN_CLIENTS; i++)
		if ((r = fan_client_add(f, path, i)) < 0)
			return r;
	if (fan_host_handlers(f) != FAN_CLIENTS * FAN_HANDLERS)
		return -EPROTO;
	for (size_t w = 0; w < sizeof fan_widths / sizeof fan_widths[0]; w++)
		if ((r = fan_measure(f, o, fan_widths[w])) < 0)
			return r;
	bench_put("rss_1000_clients_kib", 0, (double)bench_rss_kib(pid));
	return 0;
}

/* ---- the floor: one frame to N sockets, read by another process ---------------- */

static const char fan_frame[] = "{\"t\":\"invoke\",\"fn\":7,\"args\":[12345]}\n";

struct fan_raw {
	int fds[FAN_CLIENTS][2];	/* [0] written here, [1] read by the reader */
	int made;			/* socket pairs made */
	int res[2];			/* the reader's times */
	pid_t pid;			/* the reader */
};

/* The reading process: count frames over the n sockets; after each n
 * frames write the time to out. Ends when the sockets close. */
static __attribute__((noreturn)) void fan_raw_reader(const struct fan_raw *raw, int n, int out)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	int ep = epoll_create1(0), seen = 0;
	char buf[4096];

	for (int i = 0; i < n; i++) {
		close(raw->fds[i][0]);
		ev.data.fd = raw->fds[i][1];
		fcntl(ev.data.fd, F_SETFL, O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}
	for (;;) {
		int k = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < k; i++) {
			ssize_t got = read(evs[i].data.fd, buf, sizeof buf);
			if (got == 0)
				_exit(0);
			for (ssize_t j = 0; j < got; j++)
				seen += buf[j] == '\n';
		}
		if (seen >= n) {
			uint64_t t = bench_now_ns();
			seen -= n;
			if (write(out, &t, sizeof t) != sizeof t)
				_exit(1);
		}
	}
}

/* n socket pairs and the reader. 0 or -errno. */
static int fan_raw_start(struct fan_raw *raw, int n)
{
	raw->res[0] = raw->res[1] = -1;
	if (pipe2(raw->res, O_CLOEXEC) < 0)
		return -errno;
	for (raw->made = 0; raw->made < n; raw->made++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, raw->fds[raw->made]) < 0)
			return -errno;
	raw->pid = fork();
	if (raw->pid == 0)
		fan_raw_reader(raw, n, raw->res[1]);
	return raw->pid < 0 ? -errno : 0;
}

/* One frame to each of the n sockets; nanoseconds until the reader had them all. */
static int64_t fan_raw_round(struct fan_raw *raw, int n)
{
	uint64_t t0 = bench_now_ns(), t1;

	for (int s = 0; s < n; s++)
		if (write(raw->fds[s][0], fan_frame, sizeof fan_frame - 1) != (ssize_t)sizeof fan_frame - 1)
			return -EIO;
	if (read(raw->res[0], &t1, sizeof t1) != sizeof t1)
		return -EIO;
	return (int64_t)(t1 - t0);
}

/* Close everything; the reader sees the end and exits. */
static void fan_raw_stop(struct fan_raw *raw)
{
	for (int i = 0; i < raw->made; i++) {
		close(raw->fds[i][0]);
		close(raw->fds[i][1]);
	}
	close(raw->res[0]);
	close(raw->res[1]);
	if (raw->pid > 0)
		waitpid(raw->pid, NULL, 0);
}

/* raw_fanout_N_ms: the median time until the reader has read all N frames. */
static int fan_raw_measure(const struct bench_opts *o, int width)
{
	struct fan_raw *raw = calloc(1, sizeof *raw);
	uint64_t *ns = calloc((size_t)o->fanout_rounds, sizeof *ns);
	char name[32];
	int r = raw && ns ? fan_raw_start(raw, width) : -ENOMEM;

	for (int i = -FAN_WARMUP; r == 0 && i < o->fanout_rounds; i++) {
		int64_t t = fan_raw_round(raw, width);
		if (t < 0)
			r = (int)t;
		else if (i >= 0)
			ns[i] = (uint64_t)t;
	}
	if (raw)
		fan_raw_stop(raw);
	snprintf(name, sizeof name, "raw_fanout_%d_ms", width);
	if (r == 0)
		bench_put(name, 3, bench_percentile_us(ns, o->fanout_rounds, 50) / 1000.0);
	free(raw);
	free(ns);
	return r;
}

/* Every fan-out figure, floors first. */
void bench_fanout_run(const struct bench_opts *o, const char *host_path, pid_t host_pid)
{
	struct fanout *f = calloc(1, sizeof *f);
	int r = 0;

	for (size_t w = 0; r == 0 && w < sizeof fan_widths / sizeof fan_widths[0]; w++)
		r = fan_raw_measure(o, fan_widths[w]);
	if (r < 0) {
		bench_fail("fanout", "the raw floor failed: %s", strerror(-r));
		r = 0;
	}
	if (!f || (f->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		bench_fail("fanout", "out of memory or descriptors");
		free(f);
		return;
	}
	r = fan_host_run(f, o, host_path, host_pid);
	if (r < 0)
		bench_fail("fanout", "through bothost: %s", strerror(-r));
	for (int i = 0; i < FAN_CLIENTS; i++)
		bk_conn_unref(f->conns[i]);
	bk_conn_unref(f->driver);
	close(f->epfd);
	free(f);
}
