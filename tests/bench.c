/* SPDX-License-Identifier: ISC */
/* Benchmark: round trips and throughput through bothost, each beside its floor
 * (a raw socketpair ping-pong of the same bytes) measured in the same run;
 * then fan-out and memory (bench_fanout.c), IRC round trips (bench_irc.c),
 * the soak (bench_soak.c), the goals, and the plot (bench_plot.c).
 * Prints key=value lines.
 * Usage: bench [--quick] [--plot FILE.svg] [--only calls,fanout,irc,soak,http] */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "botkit.h"
#include "bench.h"
#include "harness.h"

/* The CPUs this process may run on, kept while the round trips are pinned. */
static cpu_set_t bench_affinity;
/* While the pipelined calls are measured: the CPU of the echoing child and
 * of the host, other than the bench's (bench_apart false: not pinned). */
static cpu_set_t bench_other;
static bool bench_apart;

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

/* Write all n bytes. */
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

/* Close the socket and reap the echoing child. */
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
	bench_plot_add(0, "raw socketpair ping-pong (floor)", ns, o->rtt_samples);
	free(ns);
	bench_raw_echo_stop(pid, fd);
}

/* A child that passes every frame on to an echoing child and the echo back:
 * the floor of a call relayed to a service (two hops). */
static pid_t bench_raw_relay_start(int *ret_fd, pid_t *ret_echo)
{
	int sv[2], echo_fd;
	pid_t echo = bench_raw_echo_start(&echo_fd);

	if (echo < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char buf[65536];
		close(sv[0]);
		for (;;) {
			ssize_t n = read(sv[1], buf, sizeof buf);
			if (n <= 0 || bench_write_full(echo_fd, buf, (size_t)n) < 0 ||
			    bench_read_full(echo_fd, buf, (size_t)n) < 0 || bench_write_full(sv[1], buf, (size_t)n) < 0)
				_exit(0);
		}
	}
	close(sv[1]);
	close(echo_fd);
	*ret_fd = sv[0];
	*ret_echo = echo;
	return pid;
}

/* Raw ping-pong of bench_frame through a relay: the round trip's p50. */
static double bench_raw_relay_rtt(const struct bench_opts *o)
{
	int fd;
	pid_t echo, pid = bench_raw_relay_start(&fd, &echo);
	size_t len = sizeof bench_frame - 1;
	char back[sizeof bench_frame];
	uint64_t *ns = calloc((size_t)o->rtt_samples, sizeof *ns);

	if (pid < 0)
		abort();
	for (int i = -o->rtt_samples / 10; i < o->rtt_samples; i++) {
		uint64_t t0 = bench_now_ns();
		if (bench_write_full(fd, bench_frame, len) < 0 || bench_read_full(fd, back, len) < 0)
			abort();
		if (i >= 0)
			ns[i] = bench_now_ns() - t0;
	}
	double p50 = bench_percentile_us(ns, o->rtt_samples, 50);
	free(ns);
	bench_raw_echo_stop(pid, fd);
	waitpid(echo, NULL, 0);
	return p50;
}

/* Raw pipelined frames with `window` in flight: frames per second. */
static double bench_raw_pipelined(const struct bench_opts *o)
{
	int fd;
	pid_t pid = bench_raw_echo_start(&fd);
	size_t len = sizeof bench_frame - 1;
	size_t batch = len * (size_t)o->window;
	char *out = malloc(batch), *in = malloc(batch);

	if (bench_apart)
		sched_setaffinity(pid, sizeof bench_other, &bench_other);

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
	bench_plot_add(0, "loopback.echo through bothost", ns, o->rtt_samples);
	free(ns);
}

/* The bench service's echo(value): returns value. */
static void bench_service_echo(bk_conn *c, bk_args *a, void *userdata)
{
	bk_args_return_json(a, bk_args_get(a, 0));
}

/* A child that provides the service `bench` (echo) on the host at path and
 * serves it until killed; its pid, or -1. */
static pid_t bench_provider_start(const char *path)
{
	static const bk_method methods[] = {
		{ "echo", "j", "returns value", bench_service_echo, "value", "any" },
		{ NULL },
	};
	pid_t pid = fork();

	if (pid == 0) {
		bk_conn *p = NULL;
		if (bk_conn_new_path(&p, path, "bench-provider") < 0 ||
		    bk_provide(p, "bench", methods, "the bench's echo", NULL, NULL, NULL) < 0)
			_exit(1);
		bk_run(p);
		_exit(0);
	}
	return pid;
}

/* Round trips of bench.echo, a service of another client, through bothost
 * (two hops: caller to host to provider and back), with blocking calls,
 * each followed by a loopback.echo (one hop), so that both see the same
 * load; ret[0..2]: the service's p50 and p99, the host object's p50 (us).
 * False when the provider did not come. */
static bool bench_service_rtt(bk_conn *c, const struct bench_opts *o, const char *path, double ret[3])
{
	uint64_t *ns = calloc((size_t)o->rtt_samples, sizeof *ns);
	uint64_t *obj = calloc((size_t)o->rtt_samples, sizeof *obj);
	pid_t pid = bench_provider_start(path);
	bool ok = pid > 0;

	/* The first call waits for the provider to come up. */
	for (int i = -o->rtt_samples / 10 - 1; ok && i < o->rtt_samples; i++) {
		cJSON *res = NULL, *res2 = NULL;
		uint64_t t0 = bench_now_ns();
		ok = bk_call_wait_sync(c, "bench", "echo", i < -o->rtt_samples / 10 ? 5000 : 0, &res, "s",
				       "0123456789abcdef") == 0;
		uint64_t t1 = bench_now_ns();
		ok = ok && bk_call_sync(c, "loopback", "echo", &res2, "s", "0123456789abcdef") == 0;
		if (i >= 0) {
			ns[i] = t1 - t0;
			obj[i] = bench_now_ns() - t1;
		}
		bk_json_delete(res);
		bk_json_delete(res2);
	}
	if (ok) {
		ret[0] = bench_percentile_us(ns, o->rtt_samples, 50);
		ret[1] = bench_percentile_us(ns, o->rtt_samples, 99);
		ret[2] = bench_percentile_us(obj, o->rtt_samples, 50);
		bench_plot_add(0, "a service of another client through bothost", ns, o->rtt_samples);
	}
	free(ns);
	free(obj);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return ok;
}

struct bench_pipe {
	int sent, done, failed, total, window;
};

/* A pipelined call's completion: count it. */
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

/* The median of n values (sorted in place). */
static double bench_median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The pipelined calls in BENCH_PIPE_ROUNDS rounds, each the floor then the
 * host right after it, so that both of a round see the same machine: the
 * medians of the floor's and the host's figures, and the median of the
 * rounds' ratios (returned). Each round after an unmeasured warm-up. */
#define BENCH_PIPE_ROUNDS 5
static double bench_pipelined_rounds(bk_conn *c, const struct bench_opts *o, double *ret_raw, double *ret_host)
{
	struct bench_opts part = *o, warm = *o;
	double raw[BENCH_PIPE_ROUNDS], host[BENCH_PIPE_ROUNDS], ratio[BENCH_PIPE_ROUNDS];

	part.pipelined_calls = o->pipelined_calls / BENCH_PIPE_ROUNDS;
	warm.pipelined_calls = o->window * 16;
	for (int i = 0; i < BENCH_PIPE_ROUNDS; i++) {
		bench_host_pipelined(c, &warm);
		raw[i] = bench_raw_pipelined(&part);
		host[i] = bench_host_pipelined(c, &part);
		ratio[i] = host[i] / raw[i];
	}
	*ret_raw = bench_median(raw, BENCH_PIPE_ROUNDS);
	*ret_host = bench_median(host, BENCH_PIPE_ROUNDS);
	return bench_median(ratio, BENCH_PIPE_ROUNDS);
}

/* The parts named in a comma-separated list, or 0 for an unknown name. */
static unsigned bench_parts_parse(const char *list)
{
	static const char *const names[] = { "calls", "fanout", "irc", "soak", "http" };
	unsigned parts = 0;

	for (const char *p = list; *p; p += *p == ',') {
		size_t n = strcspn(p, ",");
		size_t i = 0;
		while (i < sizeof names / sizeof names[0] && (strlen(names[i]) != n || strncmp(names[i], p, n) != 0))
			i++;
		if (i == sizeof names / sizeof names[0])
			return 0;
		parts |= 1u << i;
		p += n;
	}
	return parts;
}

/* The options: --quick for a short run (CI), --plot FILE for the SVG,
 * --only for some of the parts. */
static int bench_opts_parse(struct bench_opts *o, int argc, char **argv)
{
	*o = (struct bench_opts){ .rtt_samples = 20000, .pipelined_calls = 200000, .window = 64,
				  .fanout_rounds = 50, .irc_samples = 400, .irc_spacing_ms = 20,
				  .soak_cycles = 10000, .soak_warmup = 500, .parts = BENCH_PART_ALL };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o->quick = true;
		} else if (strcmp(argv[i], "--plot") == 0 && i + 1 < argc) {
			o->plot = *argv[++i] ? argv[i] : NULL;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && (o->parts = bench_parts_parse(argv[++i]))) {
			continue;
		} else {
			fprintf(stderr, "usage: %s [--quick] [--plot FILE.svg] [--only calls,fanout,irc,soak,http]\n",
				argv[0]);
			return -EINVAL;
		}
	}
	if (o->quick) {
		o->rtt_samples = 2000;
		o->pipelined_calls = 50000;
		o->fanout_rounds = 5;
		o->irc_samples = 30;
		o->soak_cycles = 300;
		o->soak_warmup = 30;
	}
	return 0;
}

/* Put this process (and so the echoing child it forks) and the host on the
 * CPU this process runs on, so that the round trips of the host and of the
 * floor both go through one CPU: whether the scheduler keeps two peers on one
 * CPU or wakes an idle one decides a round trip's cost (about 10 us against
 * 40 us in a VM) and would otherwise differ between the two from run to run.
 * False when it cannot be done (the run then goes as it comes). */
static bool bench_pin(pid_t host)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (cpu < 0 || sched_getaffinity(0, sizeof bench_affinity, &bench_affinity) < 0)
		return false;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof one, &one) < 0)
		return false;
	if (sched_setaffinity(host, sizeof one, &one) == 0)
		return true;
	sched_setaffinity(0, sizeof bench_affinity, &bench_affinity);
	return false;
}

/* Put this process on the CPU it runs on and the host (and the echoing child
 * of the raw floor) on another one, so that the pipelined calls of the host
 * and of the floor go between two CPUs in both: on one CPU the floor's echo
 * runs without any wake-up and makes 3 to 4 times as many frames a second,
 * and which placement a run got was chance. False when there is no second
 * CPU to use (the run then goes as it comes). */
static bool bench_pin_apart(pid_t host)
{
	cpu_set_t one;
	int cpu = sched_getcpu(), other = -1;

	if (cpu < 0 || sched_getaffinity(0, sizeof bench_affinity, &bench_affinity) < 0)
		return false;
	for (int i = 0; i < CPU_SETSIZE && other < 0; i++)
		if (i != cpu && CPU_ISSET(i, &bench_affinity))
			other = i;
	if (other < 0)
		return false;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	CPU_ZERO(&bench_other);
	CPU_SET(other, &bench_other);
	if (sched_setaffinity(0, sizeof one, &one) < 0)
		return false;
	if (sched_setaffinity(host, sizeof bench_other, &bench_other) == 0)
		return bench_apart = true;
	sched_setaffinity(0, sizeof bench_affinity, &bench_affinity);
	return false;
}

/* Give this process and the host back the CPUs they had. */
static void bench_unpin(pid_t host)
{
	bench_apart = false;
	sched_setaffinity(0, sizeof bench_affinity, &bench_affinity);
	sched_setaffinity(host, sizeof bench_affinity, &bench_affinity);
}

/* Round trips and pipelined calls through the host, beside the raw floor. */
static void bench_calls_run(const struct bench_opts *o, const struct test_host *host)
{
	double raw50, raw99, rtt50, rtt99, svc[3] = { 0 };
	bk_conn *c = NULL;
	int r = bk_conn_new_path(&c, host->path, "bench");

	if (r < 0) {
		bench_fail("calls", "cannot connect: %s", strerror(-r));
		return;
	}
	bool pinned = bench_pin(host->pid);
	bench_raw_rtt(o, &raw50, &raw99);
	bench_host_rtt(c, o, &rtt50, &rtt99);
	bool service = bench_service_rtt(c, o, host->path, svc);
	double relay50 = bench_raw_relay_rtt(o);
	if (pinned)
		bench_unpin(host->pid);
	bool apart = bench_pin_apart(host->pid);
	double raw_pipe, pipe, pipe_ratio = bench_pipelined_rounds(c, o, &raw_pipe, &pipe);
	if (apart)
		bench_unpin(host->pid);

	bench_put("rtt_samples", 0, o->rtt_samples);
	bench_put("raw_rtt_p50_us", 1, raw50);
	bench_put("raw_rtt_p99_us", 1, raw99);
	bench_put("rtt_p50_us", 1, rtt50);
	bench_put("rtt_p99_us", 1, rtt99);
	bench_put("rtt_ratio", 2, rtt50 / raw50);
	if (service) {
		/* against the same call to a host object made right after each;
		 * its floor: a raw relay's two hops against the raw ping-pong's one */
		bench_put("service_rtt_p50_us", 1, svc[0]);
		bench_put("service_rtt_p99_us", 1, svc[1]);
		bench_put("service_object_rtt_p50_us", 1, svc[2]);
		bench_put("service_call_ratio", 2, svc[0] / svc[2]);
		bench_put("raw_relay_rtt_p50_us", 1, relay50);
		bench_put("service_call_ratio_floor", 2, relay50 / raw50);
	} else {
		bench_fail("calls", "the bench service's provider did not answer");
	}
	bench_put("raw_pipelined_per_s", 0, raw_pipe);
	bench_put("pipelined_calls_per_s", 0, pipe);
	bench_put("pipelined_ratio", 2, pipe_ratio);
	bench_put("pipelined_rounds", 0, BENCH_PIPE_ROUNDS);
	bench_put("pipelined_cpus_apart", 0, apart);
	bk_conn_unref(c);
}

/* Everything that needs bothost --loopback: idle memory, calls, fan-out. */
static void bench_loopback_run(const struct bench_opts *o)
{
	const char *const args[] = { "--loopback", "--log-level", "warn", NULL };
	struct test_host host;
	int r = test_host_start(&host, args);

	if (r < 0) {
		bench_fail("bothost", "cannot start $BOTHOST: %s", strerror(-r));
		return;
	}
	bench_put("rss_idle_kib", 0, (double)bench_rss_kib(host.pid));
	if (o->parts & BENCH_PART_CALLS)
		bench_calls_run(o, &host);
	if (o->parts & BENCH_PART_CALLS)
		bench_fd_run(o, host.path);
	if (o->parts & BENCH_PART_FANOUT)
		bench_fanout_run(o, host.path, host.pid);
	test_host_stop(&host);
}

/* Everything that needs ngircd: the IRC round trips and the soak. */
static void bench_ircd_run(const struct bench_opts *o)
{
	const char *ngircd = getenv("NGIRCD");
	struct test_ircd ircd;
	int r;

	if (access(ngircd && *ngircd ? ngircd : "/usr/sbin/ngircd", X_OK) < 0) {
		fprintf(stderr, "bench: no ngircd ($NGIRCD, /usr/sbin/ngircd): IRC figures and soak skipped\n");
		return;
	}
	if ((r = test_ircd_start(&ircd, NULL)) < 0) {
		bench_fail("ngircd", "cannot start: %s", strerror(-r));
		return;
	}
	if (o->parts & BENCH_PART_IRC)
		bench_irc_run(o, &ircd);
	if (o->parts & BENCH_PART_SOAK)
		bench_soak_run(o, &ircd);
	test_ircd_stop(&ircd);
}

/* One goal_ line per goal of the issue. */
static void bench_goals_print(void)
{
	bench_goal("rtt_ratio", 1.5, true);
	bench_goal("fd_rtt_ratio", 1.5, true);
	bench_goal_floor("fd_rtt_ratio", 1.5, "fd_rtt_ratio_floor");
	bench_goal("service_call_ratio", 2.2, true);
	bench_goal_floor("service_call_ratio", 2.2, "service_call_ratio_floor");
	bench_goal("pipelined_ratio", 0.5, false);
	bench_goal("fanout_1000_ms", 10, true);
	bench_goal("spawn_reply_p50_ms", 1.5, true);
	bench_goal_floor("spawn_reply_p50_ms", 1.5, "spawn_goal_floor_ms");
	bench_goal_floor("spawn_reply_p50_ms", 1.5, "spawn_goal_static_floor_ms");
	bench_goal("resident_reply_p50_ms", 0.5, true);
	bench_goal("prestart_ratio", 1.25, true);
	bench_goal("resident_ratio", 1.75, true);
	bench_goal("filter_wakeups", 1, true);
	bench_goal("rss_idle_kib", 4096, true);
	bench_goal("rss_1000_clients_kib", 32768, true);
	bench_goal("soak_rss_growth_kib", 1024, true);
	bench_goal("soak_residue", 0, true);
	bench_goal("prestart_soak_rss_growth_kib", 1024, true);
	bench_goal("prestart_soak_residue", 0, true);
	bench_goal("http_ratio", 0.25, false);
}

/* Every part, then the goals and the plot; 1 when a part failed. */
int main(int argc, char **argv)
{
	struct bench_opts o;

	if (bench_opts_parse(&o, argc, argv) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	bench_put("loadavg_start", 2, bench_loadavg());
	if (o.parts & (BENCH_PART_CALLS | BENCH_PART_FANOUT))
		bench_loopback_run(&o);
	if (o.parts & (BENCH_PART_IRC | BENCH_PART_SOAK))
		bench_ircd_run(&o);
	if (o.parts & BENCH_PART_HTTP)
		bench_http_run(&o);
	bench_put("loadavg_end", 2, bench_loadavg());
	bench_goals_print();
	if (o.plot)
		bench_plot_write(o.plot);
	return bench_failed() ? 1 : 0;
}
