/* SPDX-License-Identifier: ISC */
/* Benchmark: a call carrying one descriptor ({"$fd":0}, SCM_RIGHTS) against
 * the same round trip without, through bothost (loopback.echoFd with a pipe
 * end against loopback.echo), beside its floor: a raw socketpair ping-pong
 * of the same frame with and without one descriptor attached.
 *
 * Prints fd_rtt_p50_us, fd_rtt_nofd_p50_us, fd_rtt_ratio (goal at most 1.5),
 * raw_fd_rtt_p50_us, raw_nofd_rtt_p50_us and fd_rtt_ratio_floor. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "botkit.h"
#include "bench.h"
#include "wire/fdq.h"

static const char bench_fd_frame[] =
	"{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echoFd\",\"args\":[{\"$fd\":0}],\"fds\":1}\n";

/* fdq_recv, waiting for input (fdq_recv itself never blocks). */
static ssize_t bench_fd_recv(int fd, void *p, size_t len, struct fdq *q)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while ((n = fdq_recv(fd, p, len, q, FDQ_SEND_MAX)) == -EAGAIN)
		poll(&pfd, 1, -1);
	return n;
}

/* A child that echoes every frame with the descriptors that came with it. */
static pid_t bench_fd_echo_start(int *ret_fd)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char buf[65536];
		struct fdq q;
		fdq_init(&q);
		close(sv[0]);
		for (;;) {
			ssize_t n = bench_fd_recv(sv[1], buf, sizeof buf, &q);
			if (n <= 0 || fdq_send(sv[1], buf, (size_t)n, &q) != n)
				_exit(0);
		}
	}
	close(sv[1]);
	*ret_fd = sv[0];
	return pid;
}

/* One raw round trip of the frame, with one descriptor or none. */
static void bench_fd_raw_once(int fd, int pass)
{
	size_t len = sizeof bench_fd_frame - 1, got = 0;
	char back[sizeof bench_fd_frame];
	struct fdq q;

	fdq_init(&q);
	if (pass >= 0 && fdq_push(&q, dup(pass), 0) < 0)
		abort();
	if (fdq_send(fd, bench_fd_frame, len, &q) != (ssize_t)len)
		abort();
	while (got < len) {
		ssize_t n = bench_fd_recv(fd, back + got, len - got, &q);
		if (n <= 0)
			abort();
		got += (size_t)n;
	}
	fdq_free(&q);	/* closes the descriptor that came back */
}

/* The raw floor: p50 with one descriptor and without, interleaved. */
static void bench_fd_raw(const struct bench_opts *o, double *ret_with, double *ret_without)
{
	int fd, p[2];
	pid_t pid = bench_fd_echo_start(&fd);
	uint64_t *with = calloc((size_t)o->rtt_samples, sizeof *with);
	uint64_t *without = calloc((size_t)o->rtt_samples, sizeof *without);

	if (pid < 0 || !with || !without || pipe(p) < 0)
		abort();
	for (int i = -o->rtt_samples / 10; i < o->rtt_samples; i++) {
		uint64_t t0 = bench_now_ns();
		bench_fd_raw_once(fd, p[1]);
		uint64_t t1 = bench_now_ns();
		bench_fd_raw_once(fd, -1);
		if (i >= 0) {
			with[i] = t1 - t0;
			without[i] = bench_now_ns() - t1;
		}
	}
	*ret_with = bench_percentile_us(with, o->rtt_samples, 50);
	*ret_without = bench_percentile_us(without, o->rtt_samples, 50);
	close(fd);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	free(with);
	free(without);
}

/* A reply: take (and close) the descriptor that came back, if any. */
static void bench_fd_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	int fd = err ? -1 : bk_conn_take_fd(c, result);

	*(int *)userdata = err ? -1 : 1;
	if (fd >= 0)
		close(fd);
}

/* One call through the host: echoFd with pass, or echo without. */
static int bench_fd_call(bk_conn *c, int pass)
{
	int done = 0;
	int r = pass >= 0 ? bk_call(c, "loopback", "echoFd", bench_fd_reply, &done, "D", pass)
			  : bk_call(c, "loopback", "echo", bench_fd_reply, &done, "i", 1);

	if (r < 0 || (r = bk_run(c)) < 0)
		return r;
	return done == 1 ? 0 : -EIO;
}

/* fd_rtt_* through the host at host_path, and their floor. */
void bench_fd_run(const struct bench_opts *o, const char *host_path)
{
	bk_conn *c = NULL;
	int p[2], r = bk_conn_new_path(&c, host_path, "bench-fd");
	uint64_t *with = calloc((size_t)o->rtt_samples, sizeof *with);
	uint64_t *without = calloc((size_t)o->rtt_samples, sizeof *without);
	double raw_with, raw_without;

	if (r < 0 || !with || !without || pipe(p) < 0) {
		bench_fail("fd", "cannot connect: %s", strerror(r < 0 ? -r : ENOMEM));
		goto out;
	}
	for (int i = -o->rtt_samples / 10; i < o->rtt_samples && r == 0; i++) {
		uint64_t t0 = bench_now_ns();
		r = bench_fd_call(c, p[1]);
		uint64_t t1 = bench_now_ns();
		if (r == 0)
			r = bench_fd_call(c, -1);
		if (i >= 0) {
			with[i] = t1 - t0;
			without[i] = bench_now_ns() - t1;
		}
	}
	close(p[0]);
	close(p[1]);
	if (r < 0) {
		bench_fail("fd", "loopback.echoFd failed: %s", strerror(-r));
		goto out;
	}
	bench_fd_raw(o, &raw_with, &raw_without);
	double w = bench_percentile_us(with, o->rtt_samples, 50);
	double wo = bench_percentile_us(without, o->rtt_samples, 50);
	bench_put("fd_rtt_p50_us", 1, w);
	bench_put("fd_rtt_nofd_p50_us", 1, wo);
	bench_put("fd_rtt_ratio", 2, w / wo);
	bench_put("raw_fd_rtt_p50_us", 1, raw_with);
	bench_put("raw_nofd_rtt_p50_us", 1, raw_without);
	bench_put("fd_rtt_ratio_floor", 2, raw_with / raw_without);
out:
	free(with);
	free(without);
	bk_conn_unref(c);
}
