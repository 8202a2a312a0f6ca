/* SPDX-License-Identifier: ISC */
/* Benchmark: the soak. IRC users send "!soak N" privately to a bot whose
 * bothost spawns a behaviour for each: it connects, registers a handler,
 * calls host.context() and the reply function, and exits. After a warm-up
 * the host's memory, descriptors and host functions are the baseline; after
 * the measured cycles the growth of each is printed, and what host.stats()
 * still counts (clients, handlers, imports, exports, and functions beyond
 * the baseline) must be 0. A few commands are kept in flight, each user
 * pausing between two of its commands so that the bot's per-user command
 * limit is never reached. Then the same with "!psoak N", a command with
 * prestart = 4 (prestart_soak_*): its baseline and its end are taken after a
 * reload that sets prestart to 0, so that no parked process may be left. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "botkit.h"
#include "harness.h"

#define SOAK_USERS 32
#define SOAK_INFLIGHT 4
#define SOAK_USER_GAP_MS 12	/* per user at most 84 commands a second (user_commands = 100/1s) */
#define SOAK_WAIT_MS 5000
#define SOAK_QUIET_MS 3000	/* deadline for the host to settle after cycles */

struct soak {
	struct test_host host;
	bool host_up;
	char conf[128];
	struct test_irc_user users[SOAK_USERS];
	uint64_t last_ms[SOAK_USERS];	/* when each user last sent a command */
	int next_user;
	int seq;
	const char *word;		/* the command: "soak" or "psoak" */
};

/* The sections: soak, and psoak with prestart processes parked. */
static void soak_sections(char *buf, size_t n, unsigned prestart)
{
	snprintf(buf, n, "[command soak]\nexec = %s\narg = soak\nmax_running = 16\n\n"
		 "[command psoak]\nexec = %s\narg = soak\nmax_running = 16\nprestart = %u\n",
		 bench_behaviour_path(), bench_behaviour_path(), prestart);
}

/* Write the configuration again with psoak's prestart and reload it. */
static int soak_reconf(struct soak *s, const struct test_ircd *ircd, unsigned prestart)
{
	char conf[128], sections[768];
	bk_conn *c = NULL;
	int r;

	soak_sections(sections, sizeof sections, prestart);
	if ((r = bench_conf_write(conf, sizeof conf, ircd, "soakbot", sections)) < 0)
		return r;
	r = rename(conf, s->conf) < 0 ? -errno : 0;
	bench_conf_remove(conf);
	if (r == 0 && (r = bk_conn_new_path(&c, s->host.path, "soakctl")) == 0) {
		r = bk_call_sync(c, "bot", "reload", NULL, "");
		bk_conn_unref(c);
	}
	return r;
}

/* Connect the users (the first one in #bench to see the bot arrive) and start
 * bothost with the soak command; ready once the bot has joined. */
static int soak_start(struct soak *s, const struct test_ircd *ircd)
{
	const char *args[] = { "--config", s->conf, NULL };
	char sections[768], nick[16], from[32];
	int r = 0;

	/* Each user from a host of its own, as the bot limits commands per host. */
	for (int i = 0; i < SOAK_USERS && r == 0; i++) {
		snprintf(nick, sizeof nick, "soak%02d", i);
		snprintf(from, sizeof from, "127.0.1.%d", i + 1);
		r = test_irc_user_connect_from(&s->users[i], ircd->port, nick, from);
	}
	if (r == 0)
		r = test_irc_user_join(&s->users[0], "#bench");
	s->word = "soak";
	soak_sections(sections, sizeof sections, 0);
	if (r == 0)
		r = bench_conf_write(s->conf, sizeof s->conf, ircd, "soakbot", sections);
	if (r == 0 && (r = test_host_start(&s->host, args)) == 0)
		s->host_up = true;
	if (r == 0)
		r = test_irc_user_expect(&s->users[0], "^:soakbot![^ ]+ JOIN :?#bench$", SOAK_WAIT_MS * 2, NULL);
	return r;
}

/* Send the next command from the next user, pausing if that user spoke too
 * recently; the user's index. */
static int soak_send(struct soak *s, int seq, int *ret_user)
{
	int u = s->next_user++ % SOAK_USERS;
	uint64_t now = test_now_ms();

	if (s->last_ms[u] && now - s->last_ms[u] < SOAK_USER_GAP_MS)
		bench_sleep_ms((long)(SOAK_USER_GAP_MS - (now - s->last_ms[u])));
	s->last_ms[u] = test_now_ms();
	*ret_user = u;
	return test_irc_user_send(&s->users[u], "PRIVMSG soakbot :!%s %d", s->word, seq);
}

/* n cycles, SOAK_INFLIGHT at a time. 0 or -errno. */
static int soak_cycles(struct soak *s, int n)
{
	int users[SOAK_INFLIGHT], seqs[SOAK_INFLIGHT];
	char re[96];

	for (int done = 0; done < n; ) {
		int batch = n - done < SOAK_INFLIGHT ? n - done : SOAK_INFLIGHT, r;
		for (int i = 0; i < batch; i++) {
			seqs[i] = s->seq++;
			if ((r = soak_send(s, seqs[i], &users[i])) < 0) {
				bench_fail("soak", "cannot send cycle %d: %s", seqs[i], strerror(-r));
				return r;
			}
		}
		for (int i = 0; i < batch; i++) {
			snprintf(re, sizeof re, "^:soakbot![^ ]+ PRIVMSG soak%02d :soak %d$", users[i], seqs[i]);
			if ((r = test_irc_user_expect(&s->users[users[i]], re, SOAK_WAIT_MS, NULL)) < 0) {
				bench_fail("soak", "no answer to cycle %d: %s", seqs[i], strerror(-r));
				return r;
			}
		}
		done += batch;
	}
	return 0;
}

/* Wait until no behaviour is connected and the host's descriptors stop
 * changing; the number of descriptors. */
static long soak_settle(struct soak *s)
{
	uint64_t deadline = test_now_ms() + SOAK_QUIET_MS;
	long fds = -1;
	int same = 0;

	test_host_stat_wait(&s->host, "clients", 0, SOAK_QUIET_MS);
	while (same < 5 && test_now_ms() < deadline) {
		long now = bench_fd_count(s->host.pid);
		same = now == fds ? same + 1 : 0;
		fds = now;
		bench_sleep_ms(10);
	}
	return fds;
}

/* What host.stats() still counts after the cycles: clients, handlers,
 * imports and exports, plus host functions beyond the baseline's (the irc
 * object keeps one of its own). */
static long soak_residue(struct soak *s, long functions0)
{
	static const char *const fields[] = { "clients", "handlers", "imports", "exports", "functions" };
	long sum = 0;

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		long v = test_host_stat(&s->host, fields[i]);
		if (v >= 0 && strcmp(fields[i], "functions") == 0)
			v -= functions0;
		if (v != 0)
			fprintf(stderr, "bench: soak: host.stats %s: %+ld after the cycles\n", fields[i], v);
		sum += v < 0 ? 1 : v;
	}
	return sum;
}

/* Warm up, take the baseline, run the measured cycles, compare. */
static int soak_measure(struct soak *s, const struct bench_opts *o)
{
	int r = soak_cycles(s, o->soak_warmup);
	if (r < 0)
		return r;
	long fds0 = soak_settle(s), rss0 = bench_rss_kib(s->host.pid);
	long functions0 = test_host_stat(&s->host, "functions");
	uint64_t t0 = bench_now_ns();
	if ((r = soak_cycles(s, o->soak_cycles)) < 0)
		return r;
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	long fds1 = soak_settle(s), rss1 = bench_rss_kib(s->host.pid);

	bench_put("soak_cycles", 0, o->soak_cycles);
	bench_put("soak_cycles_per_s", 0, o->soak_cycles / secs);
	bench_put("soak_rss_kib", 0, (double)rss1);
	bench_put("soak_rss_growth_kib", 0, (double)(rss1 - rss0));
	bench_put("soak_fd_growth", 0, (double)(fds1 - fds0));
	bench_put("soak_residue", 0, (double)soak_residue(s, functions0));
	return 0;
}

/* The same with psoak prestarted: warm up with prestart = 4, reload with
 * 0 for the baseline, then again 4 for the cycles and 0 for the end. */
static int soak_measure_prestart(struct soak *s, const struct bench_opts *o, const struct test_ircd *ircd)
{
	int r;

	s->word = "psoak";
	if ((r = soak_reconf(s, ircd, 4)) < 0 || (r = soak_cycles(s, o->soak_warmup)) < 0 ||
	    (r = soak_reconf(s, ircd, 0)) < 0)
		return r;
	long fds0 = soak_settle(s), rss0 = bench_rss_kib(s->host.pid);
	long functions0 = test_host_stat(&s->host, "functions");
	uint64_t t0 = bench_now_ns();
	if ((r = soak_reconf(s, ircd, 4)) < 0 || (r = soak_cycles(s, o->soak_cycles)) < 0)
		return r;
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	if ((r = soak_reconf(s, ircd, 0)) < 0)
		return r;
	long fds1 = soak_settle(s), rss1 = bench_rss_kib(s->host.pid);

	bench_put("prestart_soak_cycles", 0, o->soak_cycles);
	bench_put("prestart_soak_cycles_per_s", 0, o->soak_cycles / secs);
	bench_put("prestart_soak_rss_growth_kib", 0, (double)(rss1 - rss0));
	bench_put("prestart_soak_fd_growth", 0, (double)(fds1 - fds0));
	bench_put("prestart_soak_residue", 0, (double)soak_residue(s, functions0));
	return 0;
}

/* The soak figures. */
void bench_soak_run(const struct bench_opts *o, const struct test_ircd *ircd)
{
	struct soak *s = calloc(1, sizeof *s);
	int r;

	if (!s) {
		bench_fail("soak", "out of memory");
		return;
	}
	for (int i = 0; i < SOAK_USERS; i++)
		s->users[i].fd = -1;
	if ((r = soak_start(s, ircd)) < 0)
		bench_fail("soak", "setting up users and bothost: %s", strerror(-r));
	else if (soak_measure(s, o) == 0 && (r = soak_measure_prestart(s, o, ircd)) < 0)
		bench_fail("soak", "prestarted: %s", strerror(-r));
	if (s->host_up)
		test_host_stop(&s->host);
	for (int i = 0; i < SOAK_USERS; i++)
		test_irc_user_close(&s->users[i]);
	if (s->conf[0])
		bench_conf_remove(s->conf);
	free(s);
}
