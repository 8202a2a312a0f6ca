/* Benchmark: round trips and throughput through bothost, each beside its floor
 * (a raw socketpair ping-pong of the same bytes) measured in the same run.
 * Prints key=value lines. Usage: bench [--quick] */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "botkit.h"
#include "harness.h"

struct bench_opts {
	int rtt_samples;
	int pipelined_calls;
	int window;
};

static uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of n samples, sorting them in place. */
static double bench_percentile_us(uint64_t *ns, int n, double p)
{
	qsort(ns, (size_t)n, sizeof *ns, bench_cmp_u64);
	int i = (int)(p / 100.0 * (n - 1) + 0.5);
	return (double)ns[i] / 1000.0;
}

/* Read exactly n bytes. */
static int bench_read_full(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = read(fd, p, n);
		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int bench_write_full(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* A child that echoes every byte it reads: the floor for one round trip. */
static pid_t bench_raw_echo_start(int *ret_fd)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char buf[65536];
		close(sv[0]);
		for (;;) {
			ssize_t n = read(sv[1], buf, sizeof buf);
			if (n <= 0 || bench_write_full(sv[1], buf, (size_t)n) < 0)
				_exit(0);
		}
	}
	close(sv[1]);
	*ret_fd = sv[0];
	return pid;
}

static void bench_raw_echo_stop(pid_t pid, int fd)
{
	close(fd);
	waitpid(pid, NULL, 0);
}

/* The frame a no-op call puts on the wire, for the raw floor. */
static const char bench_frame[] =
	"{\"t\":\"call\",\"id\":123456,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[\"0123456789abcdef\"]}\n";

/* Raw ping-pong of bench_frame: round trip percentiles. */
static void bench_raw_rtt(const struct bench_opts *o, double *ret_p50, double *ret_p99)
{
	int fd;
	pid_t pid = bench_raw_echo_start(&fd);
	size_t len = sizeof bench_frame - 1;
	char back[sizeof bench_frame];
	uint64_t *ns = calloc((size_t)o->rtt_samples, sizeof *ns);

	for (int i = -o->rtt_samples / 10; i < o->rtt_samples; i++) {
		uint64_t t0 = bench_now_ns();
		if (bench_write_full(fd, bench_frame, len) < 0 || bench_read_full(fd, back, len) < 0)
			abort();
		if (i >= 0)
			ns[i] = bench_now_ns() - t0;
	}
	*ret_p50 = bench_percentile_us(ns, o->rtt_samples, 50);
	*ret_p99 = bench_percentile_us(ns, o->rtt_samples, 99);
	free(ns);
	bench_raw_echo_stop(pid, fd);
}

/* Raw pipelined frames with `window` in flight: frames per second. */
static double bench_raw_pipelined(const struct bench_opts *o)
{
	int fd;
	pid_t pid = bench_raw_echo_start(&fd);
	size_t len = sizeof bench_frame - 1;
	size_t batch = len * (size_t)o->window;
	char *out = malloc(batch), *in = malloc(batch);

	for (int i = 0; i < o->window; i++)
		memcpy(out + (size_t)i * len, bench_frame, len);
	int rounds = o->pipelined_calls / o->window;
	uint64_t t0 = bench_now_ns();
	for (int r = 0; r < rounds; r++) {
		if (bench_write_full(fd, out, batch) < 0 || bench_read_full(fd, in, batch) < 0)
			abort();
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	free(out);
	free(in);
	bench_raw_echo_stop(pid, fd);
	return (double)rounds * o->window / secs;
}

/* Round trips of loopback.echo through bothost with blocking calls. */
static void bench_host_rtt(bk_conn *c, const struct bench_opts *o, double *ret_p50, double *ret_p99)
{
	uint64_t *ns = calloc((size_t)o->rtt_samples, sizeof *ns);

	for (int i = -o->rtt_samples / 10; i < o->rtt_samples; i++) {
		cJSON *res = NULL;
		uint64_t t0 = bench_now_ns();
		if (bk_call_sync(c, "loopback", "echo", &res, "s", "0123456789abcdef") < 0)
			abort();
		if (i >= 0)
			ns[i] = bench_now_ns() - t0;
		bk_json_delete(res);
	}
	*ret_p50 = bench_percentile_us(ns, o->rtt_samples, 50);
	*ret_p99 = bench_percentile_us(ns, o->rtt_samples, 99);
	free(ns);
}

struct bench_pipe {
	int sent, done, failed, total, window;
};

static void bench_pipe_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct bench_pipe *p = userdata;
	p->done++;
	if (err)
		p->failed++;
}

/* Keep `window` asynchronous calls in flight through bothost: calls per second. */
static double bench_host_pipelined(bk_conn *c, const struct bench_opts *o)
{
	struct bench_pipe p = { .total = o->pipelined_calls, .window = o->window };
	uint64_t t0 = bench_now_ns();

	while (p.done < p.total) {
		while (p.sent < p.total && p.sent - p.done < p.window) {
			if (bk_call(c, "loopback", "echo", bench_pipe_reply, &p, "s", "0123456789abcdef") < 0)
				abort();
			p.sent++;
		}
		struct pollfd pfd = { .fd = bk_conn_get_fd(c), .events = (short)bk_conn_get_events(c) };
		if (poll(&pfd, 1, 5000) <= 0)
			abort();
		if (bk_conn_process(c) < 0)
			abort();
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	if (p.failed)
		abort();
	return p.total / secs;
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .rtt_samples = 20000, .pipelined_calls = 200000, .window = 64 };
	struct test_host host;
	const char *const args[] = { "--loopback", "--log-level", "warn", NULL };
	bk_conn *c = NULL;

	if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
		o.rtt_samples = 2000;
		o.pipelined_calls = 20000;
	} else if (argc > 1) {
		fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (test_host_start(&host, args) < 0) {
		fprintf(stderr, "bench: cannot start bothost ($BOTHOST)\n");
		return 1;
	}
	int r = bk_conn_new_path(&c, host.path, "bench");
	if (r < 0) {
		fprintf(stderr, "bench: cannot connect: %s\n", strerror(-r));
		test_host_stop(&host);
		return 1;
	}

	double raw50, raw99, rtt50, rtt99;
	bench_raw_rtt(&o, &raw50, &raw99);
	bench_host_rtt(c, &o, &rtt50, &rtt99);
	double raw_pipe = bench_raw_pipelined(&o);
	double pipe = bench_host_pipelined(c, &o);

	printf("rtt_samples=%d\n", o.rtt_samples);
	printf("raw_rtt_p50_us=%.1f\n", raw50);
	printf("raw_rtt_p99_us=%.1f\n", raw99);
	printf("rtt_p50_us=%.1f\n", rtt50);
	printf("rtt_p99_us=%.1f\n", rtt99);
	printf("rtt_ratio=%.2f\n", rtt50 / raw50);
	printf("raw_pipelined_per_s=%.0f\n", raw_pipe);
	printf("pipelined_calls_per_s=%.0f\n", pipe);
	printf("pipelined_ratio=%.2f\n", pipe / raw_pipe);

	bk_conn_unref(c);
	test_host_stop(&host);
	return 0;
}
