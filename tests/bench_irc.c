/* SPDX-License-Identifier: ISC */
/* Benchmark: IRC round trips on a private ngircd on loopback (penalties off),
 * from a user's line to the answer the user receives:
 *   ircd_floor    an echo bot in this process answers (the floor);
 *   resident      a resident behaviour's message handler answers through
 *                 bothost (resident_reply_*);
 *   spawn         "!breply N" makes bothost spawn a C behaviour that answers
 *                 through its context's reply (spawn_reply_*);
 *   prestarted    "!bpre N": the same program as a command with prestart = 2,
 *                 handed the context in a process started ahead of need
 *                 (prestarted_reply_*);
 *   spawn_floor   spawn and reap the same program, which exits at once;
 *   spawn_static_floor  spawn and reap an empty statically linked program:
 *                 what starting any program costs on this machine.
 * spawn_goal_floor_ms, the ircd floor plus the spawn floor, is what a spawned
 * command costs with a host that adds nothing: whether the goal can be met on
 * the machine at all. The five kinds are sampled in turn with a pause between samples, so that
 * they see the same machine. The spawned behaviour notes when it reached
 * main(), got the welcome, the context and the reply's completion, which
 * splits spawn_reply into phases (spawn_phase_*_ms, medians). */
#include "config.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>

#include "bench.h"
#include "botkit-irc.h"
#include "harness.h"

#define IRC_WAIT_MS 5000
#define IRC_JOIN_WAIT_MS 10000
#define IRC_WARMUP 5

enum irc_kind { IRC_FLOOR, IRC_RESIDENT, IRC_SPAWN, IRC_PRESTART, IRC_SPAWN_FLOOR, IRC_SPAWN_STATIC, IRC_KINDS };

static const char *const irc_names[IRC_KINDS] = {
	"ircd_floor", "resident_reply", "spawn_reply", "prestarted_reply", "spawn_floor", "spawn_static_floor",
};

static const char *const irc_labels[IRC_KINDS] = {
	"ircd floor: echo bot in the bench", "resident handler through bothost",
	"command spawned by bothost", "command prestarted by bothost", "spawn and reap only (no IRC)",
	"spawn and reap of a static empty program",
};

struct irc_world {
	struct test_host host;
	bool host_up;
	char conf[128];
	struct test_irc_user user;	/* says the lines, waits for the answers */
	struct test_irc_user floor;	/* the in-process echo bot */
	uint64_t *ns[IRC_KINDS];
	uint64_t *spawn_t0, *spawn_t1;	/* when each spawn sample began and ended */
	uint64_t last_t0;
	char stamps_dir[64];		/* holds the behaviour's stamps file */
	char stamps[96];
};

/* The configuration's behaviours: the command and the resident. */
static int irc_conf_write(struct irc_world *w, const struct test_ircd *ircd)
{
	char sections[1024];
	const char *exe = bench_behaviour_path();

	snprintf(w->stamps_dir, sizeof w->stamps_dir, "/tmp/bench-stamps.XXXXXX");
	if (!mkdtemp(w->stamps_dir)) {
		w->stamps_dir[0] = '\0';
		return -errno;
	}
	snprintf(w->stamps, sizeof w->stamps, "%s/stamps", w->stamps_dir);
	snprintf(sections, sizeof sections,
		 "[command breply]\nexec = %s\narg = reply\narg = --stamps=%s\nmax_running = 8\n\n"
		 "[command bpre]\nexec = %s\narg = reply\nmax_running = 8\nprestart = 2\n\n"
		 "[resident becho]\nexec = %s\narg = resident\nrestart_min = 100ms\n", exe, w->stamps, exe, exe);
	return bench_conf_write(w->conf, sizeof w->conf, ircd, "benchbot", sections);
}

/* The users, the configuration, bothost; ready once the bot is in #bench and
 * the resident has registered its handler. */
static int irc_world_start(struct irc_world *w, const struct test_ircd *ircd)
{
	const char *args[] = { "--config", w->conf, NULL };
	int r;

	if ((r = test_irc_user_connect(&w->floor, ircd->port, "floorbot")) < 0 ||
	    (r = test_irc_user_join(&w->floor, "#floor")) < 0 ||
	    (r = test_irc_user_connect(&w->user, ircd->port, "benchuser")) < 0 ||
	    (r = test_irc_user_join(&w->user, "#floor")) < 0 ||
	    (r = test_irc_user_join(&w->user, "#bench")) < 0 || (r = irc_conf_write(w, ircd)) < 0)
		return r;
	if ((r = test_host_start(&w->host, args)) < 0)
		return r;
	w->host_up = true;
	r = test_irc_user_expect(&w->user, "^:benchbot![^ ]+ JOIN :?#bench$", IRC_JOIN_WAIT_MS, NULL);
	if (r == 0 && test_host_stat_wait(&w->host, "handlers", 1, IRC_WAIT_MS) != 1)
		r = -ETIMEDOUT;
	return r;
}

/* The floor: the echo bot answers the user's line itself. */
static int irc_floor_once(struct irc_world *w, int seq)
{
	char re[96];
	int r = test_irc_user_send(&w->user, "PRIVMSG #floor :ping %d", seq);

	snprintf(re, sizeof re, "^:benchuser![^ ]+ PRIVMSG #floor :ping %d$", seq);
	if (r == 0)
		r = test_irc_user_expect(&w->floor, re, IRC_WAIT_MS, NULL);
	if (r == 0)
		r = test_irc_user_send(&w->floor, "PRIVMSG #floor :pong %d", seq);
	snprintf(re, sizeof re, "^:floorbot![^ ]+ PRIVMSG #floor :pong %d$", seq);
	return r == 0 ? test_irc_user_expect(&w->user, re, IRC_WAIT_MS, NULL) : r;
}

/* Say a line in #bench and wait for the bot's answer. */
static int irc_bench_once(struct irc_world *w, const char *line, const char *answer)
{
	char re[128];
	int r = test_irc_user_send(&w->user, "PRIVMSG #bench :%s", line);

	snprintf(re, sizeof re, "^:benchbot![^ ]+ PRIVMSG #bench :%s$", answer);
	return r == 0 ? test_irc_user_expect(&w->user, re, IRC_WAIT_MS, NULL) : r;
}

/* Spawn and reap a program (the behaviour in its "exit" mode, or the static
 * empty one). posix_spawn shares the bench's memory until the exec, so the
 * bench's own size does not count. */
static int irc_spawn_floor_once(const char *exe)
{
	char *const argv[] = { (char *)exe, (char *)"exit", NULL };
	int status, r;
	pid_t pid;

	if ((r = posix_spawn(&pid, exe, NULL, NULL, argv, environ)) != 0)
		return -r;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* One round trip of a kind; nanoseconds or -errno. */
static int64_t irc_sample(struct irc_world *w, enum irc_kind kind, int seq)
{
	char line[64], answer[64];
	uint64_t t0 = w->last_t0 = bench_now_ns();
	int r;

	switch (kind) {
	case IRC_FLOOR:
		r = irc_floor_once(w, seq);
		break;
	case IRC_RESIDENT:
		snprintf(line, sizeof line, "rping %d", seq);
		snprintf(answer, sizeof answer, "rpong %d", seq);
		r = irc_bench_once(w, line, answer);
		break;
	case IRC_SPAWN:
		snprintf(line, sizeof line, "!breply %d", seq);
		snprintf(answer, sizeof answer, "breply %d", seq);
		r = irc_bench_once(w, line, answer);
		break;
	case IRC_PRESTART:
		snprintf(line, sizeof line, "!bpre %d", seq);
		snprintf(answer, sizeof answer, "breply %d", seq);
		r = irc_bench_once(w, line, answer);
		break;
	case IRC_SPAWN_FLOOR:
		r = irc_spawn_floor_once(bench_behaviour_path());
		break;
	default:
		r = irc_spawn_floor_once(bench_exit_path());
		break;
	}
	return r < 0 ? r : (int64_t)(bench_now_ns() - t0);
}

/* Every kind in turn, n times after a warm-up, pausing between samples. */
static int irc_sample_all(struct irc_world *w, const struct bench_opts *o)
{
	int n = o->irc_samples;

	for (int i = -IRC_WARMUP; i < n; i++) {
		for (int k = 0; k < IRC_KINDS; k++) {
			int64_t t = irc_sample(w, (enum irc_kind)k, i + IRC_WARMUP);
			if (t < 0) {
				bench_fail("irc", "%s round trip %d: %s", irc_names[k], i, strerror((int)-t));
				return (int)t;
			}
			if (i >= 0)
				w->ns[k][i] = (uint64_t)t;
			if (i >= 0 && k == IRC_SPAWN) {
				w->spawn_t0[i] = w->last_t0;
				w->spawn_t1[i] = w->last_t0 + (uint64_t)t;
			}
			bench_sleep_ms(o->irc_spacing_ms);
		}
	}
	return 0;
}

/* Print the percentiles of every kind and keep the distributions. */
static void irc_report(struct irc_world *w, const struct bench_opts *o)
{
	char name[48];

	bench_put("irc_samples", 0, o->irc_samples);
	for (int k = 0; k < IRC_KINDS; k++) {
		bench_plot_add(1, irc_labels[k], w->ns[k], o->irc_samples);
		snprintf(name, sizeof name, "%s_p50_ms", irc_names[k]);
		bench_put(name, 3, bench_percentile_us(w->ns[k], o->irc_samples, 50) / 1000.0);
		snprintf(name, sizeof name, "%s_p99_ms", irc_names[k]);
		bench_put(name, 3, bench_percentile_us(w->ns[k], o->irc_samples, 99) / 1000.0);
	}
	bench_put("rss_irc_kib", 0, (double)bench_rss_kib(w->host.pid));
}

/* qsort order of two doubles. */
static int irc_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of n values, sorting them in place. */
static double irc_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, irc_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The phases of the spawn samples from the behaviour's stamps, in ms:
 * phase[0] line sent to main(), [1] to the welcome, [2] to the context,
 * [3] to the reply's completion, [4] from there to the user's receipt
 * (negative when the user had the line first). The number of samples. */
static int irc_phases_read(struct irc_world *w, int n, double *phase[5])
{
	unsigned long long at[4];
	int seq, got = 0;
	FILE *f = fopen(w->stamps, "re");

	if (!f)
		return 0;
	while (got < n && fscanf(f, "%d %llu %llu %llu %llu", &seq, &at[0], &at[1], &at[2], &at[3]) == 5) {
		int i = seq - IRC_WARMUP;
		if (i < 0 || i >= n || !w->spawn_t0[i])
			continue;
		phase[0][got] = ((double)at[0] - (double)w->spawn_t0[i]) / 1e6;
		for (int k = 1; k < 4; k++)
			phase[k][got] = (double)(at[k] - at[k - 1]) / 1e6;
		phase[4][got++] = ((double)w->spawn_t1[i] - (double)at[3]) / 1e6;
	}
	fclose(f);
	return got;
}

/* spawn_phase_*_ms, and what bothost adds to each floor. */
static void irc_phases_report(struct irc_world *w, const struct bench_opts *o)
{
	static const char *const names[5] = {
		"spawn_phase_start_ms", "spawn_phase_hello_ms", "spawn_phase_context_ms",
		"spawn_phase_reply_ms", "spawn_phase_answer_ms",
	};
	double *phase[5], floor, res, spawn, sfloor, sstatic;
	int n = 0, k;

	for (k = 0; k < 5; k++)
		if (!(phase[k] = calloc((size_t)o->irc_samples, sizeof *phase[k])))
			break;
	if (k == 5 && (n = irc_phases_read(w, o->irc_samples, phase)) > 0) {
		bench_put("spawn_phase_samples", 0, n);
		for (k = 0; k < 5; k++)
			bench_put(names[k], 3, irc_median(phase[k], n));
	}
	for (k = 0; k < 5; k++)
		free(phase[k]);
	if (bench_get("ircd_floor_p50_ms", &floor) && bench_get("resident_reply_p50_ms", &res) &&
	    bench_get("spawn_reply_p50_ms", &spawn) && bench_get("spawn_floor_p50_ms", &sfloor)) {
		bench_put("resident_overhead_ms", 3, res - floor);
		bench_put("spawn_overhead_ms", 3, spawn - floor - sfloor);
		bench_put("spawn_goal_floor_ms", 3, floor + sfloor);
	}
	if (bench_get("ircd_floor_p50_ms", &floor) && bench_get("spawn_static_floor_p50_ms", &sstatic))
		bench_put("spawn_goal_static_floor_ms", 3, floor + sstatic);
	if (bench_get("prestarted_reply_p50_ms", &spawn) && bench_get("resident_reply_p50_ms", &res) && res > 0)
		bench_put("prestart_ratio", 3, spawn / res);
	if (bench_get("resident_reply_p50_ms", &res) && bench_get("ircd_floor_p50_ms", &floor) && floor > 0)
		bench_put("resident_ratio", 3, res / floor);
}

/* Stop bothost and the users; remove the configuration. */
static void irc_world_stop(struct irc_world *w)
{
	if (w->host_up)
		test_host_stop(&w->host);
	test_irc_user_close(&w->user);
	test_irc_user_close(&w->floor);
	if (w->conf[0])
		bench_conf_remove(w->conf);
	if (w->stamps_dir[0]) {
		unlink(w->stamps);
		rmdir(w->stamps_dir);
	}
	for (int k = 0; k < IRC_KINDS; k++)
		free(w->ns[k]);
	free(w->spawn_t0);
	free(w->spawn_t1);
}

#define FILTER_CLIENTS 100

/* The clients of filter_wakeups: what each has seen. */
struct filter_bench {
	bk_conn *conns[FILTER_CLIENTS];
	int woken[FILTER_CLIENTS];	/* message handler runs */
	int sentinel[FILTER_CLIENTS];	/* x.bench.sentinel runs */
};

/* A filtered message handler ran. */
static void filter_bench_message(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	(*(int *)userdata)++;
}

/* The sentinel event ran. */
static void filter_bench_sentinel(bk_conn *c, bk_args *a, void *userdata)
{
	(*(int *)userdata)++;
}

/* Process every client until done(fb, arg) or ms pass; 0 or -ETIMEDOUT. */
static int filter_bench_until(struct filter_bench *fb, bool (*done)(const struct filter_bench *, int), int arg,
			      int ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)ms * 1000000;
	struct pollfd p[FILTER_CLIENTS];

	while (!done(fb, arg)) {
		if (bench_now_ns() >= deadline)
			return -ETIMEDOUT;
		for (int i = 0; i < FILTER_CLIENTS; i++)
			p[i] = (struct pollfd){ .fd = bk_conn_get_fd(fb->conns[i]),
						.events = (short)bk_conn_get_events(fb->conns[i]) };
		poll(p, FILTER_CLIENTS, 50);
		for (int i = 0; i < FILTER_CLIENTS; i++)
			if (p[i].revents)
				bk_conn_process(fb->conns[i]);
	}
	return 0;
}

/* Whether client i was woken by the line. */
static bool filter_bench_woken(const struct filter_bench *fb, int i)
{
	return fb->woken[i] > 0;
}

/* Whether every client has seen the sentinel. */
static bool filter_bench_sentinel_seen(const struct filter_bench *fb, int unused)
{
	for (int i = 0; i < FILTER_CLIENTS; i++)
		if (!fb->sentinel[i])
			return false;
	return true;
}

/* filter_wakeups: 100 clients, each with a message handler filtered on its
 * own command in #bench; one user line "!fcmd42 hi" goes to the channel.
 * Once client 42 has run, every client is sent host event x.bench.sentinel
 * (after the line, so in each client's stream after anything the line
 * brought): then the message handlers that ran are the line's wake-ups. */
static void irc_filter_wakeups(struct irc_world *w)
{
	struct filter_bench *fb = calloc(1, sizeof *fb);
	char cmd[16];
	int r = fb ? 0 : -ENOMEM, woken = 0;

	for (int i = 0; r == 0 && i < FILTER_CLIENTS; i++) {
		snprintf(cmd, sizeof cmd, "fcmd%d", i);
		if ((r = bk_conn_new_path(&fb->conns[i], w->host.path, "filter-bench")) == 0 &&
		    (r = bk_irc_on_message_filtered(fb->conns[i], &(bk_irc_filter){ .channel = "#bench", .prefix = "!",
										      .command = cmd },
						    filter_bench_message, &fb->woken[i], NULL, NULL)) == 0)
			r = bk_on(fb->conns[i], "host", "x.bench.sentinel", filter_bench_sentinel, &fb->sentinel[i],
				  NULL, NULL);
	}
	if (r == 0)
		r = test_irc_user_privmsg(&w->user, "#bench", "!fcmd42 hi");
	if (r == 0)
		r = filter_bench_until(fb, filter_bench_woken, 42, IRC_WAIT_MS);
	if (r == 0)
		r = bk_call_sync(fb->conns[0], "host", "emit", NULL, "s", "x.bench.sentinel");
	if (r == 0)
		r = filter_bench_until(fb, filter_bench_sentinel_seen, 0, IRC_WAIT_MS);
	if (r < 0) {
		bench_fail("irc", "filter_wakeups: %s", strerror(-r));
	} else {
		for (int i = 0; i < FILTER_CLIENTS; i++)
			woken += fb->woken[i];
		bench_put("filter_clients", 0, FILTER_CLIENTS);
		/* The floor: the one client whose command the line is. */
		bench_put("filter_wakeups_floor", 0, 1);
		bench_put("filter_wakeups", 0, woken);
	}
	for (int i = 0; fb && i < FILTER_CLIENTS; i++)
		bk_conn_unref(fb->conns[i]);
	free(fb);
}

/* The IRC round-trip figures. */
void bench_irc_run(const struct bench_opts *o, const struct test_ircd *ircd)
{
	struct irc_world w;
	int r = 0;

	memset(&w, 0, sizeof w);
	w.user.fd = w.floor.fd = -1;
	for (int k = 0; k < IRC_KINDS; k++)
		if (!(w.ns[k] = calloc((size_t)o->irc_samples, sizeof *w.ns[k])))
			r = -ENOMEM;
	w.spawn_t0 = calloc((size_t)o->irc_samples, sizeof *w.spawn_t0);
	w.spawn_t1 = calloc((size_t)o->irc_samples, sizeof *w.spawn_t1);
	if (!w.spawn_t0 || !w.spawn_t1)
		r = -ENOMEM;
	if (r == 0 && (r = irc_world_start(&w, ircd)) < 0)
		bench_fail("irc", "setting up ngircd, users and bothost: %s", strerror(-r));
	if (r == 0 && irc_sample_all(&w, o) == 0) {
		irc_report(&w, o);
		irc_phases_report(&w, o);
		irc_filter_wakeups(&w);
	}
	irc_world_stop(&w);
}
