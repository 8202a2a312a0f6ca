/* SPDX-License-Identifier: ISC */
/* Tests of the IRC link (bothost/irc/link.c) against the scripted fake server,
 * small in-process servers and a private ngircd, and of the kind of event a
 * line is (bothost/irc/irc_kind.c) against Debian's libircclient. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <libircclient.h>

#include "irc/capneg.h"
#include "conf.h"
#include "ircd.h"
#include "irc/irc_line.h"
#include "irc/irc_kind.h"
#include "irc/irc_state.h"
#include "core/later.h"
#include "irc/link.h"
#include "core/log.h"

#define MAX_REC 256

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- what the link reported ------------------------------------------------------ */

struct rec_line {
	char *untagged;
	char *command;
	char *tags;		/* "k=v;k2=v2" in order */
	size_t last_len;	/* length of the parsed last parameter */
};

struct rec {
	struct link *l;
	int registered;
	char nick[64];
	uint64_t registered_at[MAX_REC];
	struct rec_line lines[MAX_REC * 4];
	size_t nlines;
	char *sent[MAX_REC * 4];
	size_t nsent;
	char *lost[MAX_REC];
	uint64_t lost_at[MAX_REC];
	size_t nlost;
	int done_ok, done_err;
	bool in_send;		/* inside link_send: a completion now is a bug */
	bool done_inside_send;
	const char *free_on;	/* link_free from `line` when the command is this */
	bool stop_on_registered;
};

static struct rec R;
static ev_timer tick;

/* Keep the loop waking up while tests poll their conditions. */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Tags of msg as "k=v;k=v". */
static char *tags_text(const struct irc_line *msg)
{
	char buf[9000] = "";
	size_t n = irc_line_tag_count(msg), off = 0;

	for (size_t i = 0; i < n; i++) {
		const char *k, *v;
		irc_line_tag_at(msg, i, &k, &v);
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%s", i ? ";" : "", k, v);
		if (off >= sizeof buf)
			break;
	}
	return strdup(buf);
}

/* link callback: registered. */
static void on_registered(struct link *l, const char *nick, void *userdata)
{
	ck_assert_ptr_eq(userdata, &R);
	snprintf(R.nick, sizeof R.nick, "%s", nick);
	R.registered_at[R.registered % MAX_REC] = now_ms();
	R.registered++;
	if (R.stop_on_registered)
		link_stop(l, "stopping from a callback");
}

/* link callback: a line. */
static void on_line(struct link *l, const struct irc_line *msg, const char *untagged, void *userdata)
{
	struct rec_line *rl = &R.lines[R.nlines % (MAX_REC * 4)];
	const char *last = irc_line_last_param(msg);

	ck_assert_uint_le(strlen(untagged), IRC_LINE_MAX);
	rl->untagged = strdup(untagged);
	rl->command = strdup(irc_line_command(msg));
	rl->tags = tags_text(msg);
	rl->last_len = last ? strlen(last) : 0;
	R.nlines++;
	if (R.free_on && strcmp(irc_line_command(msg), R.free_on) == 0) {
		link_free(l);
		R.l = NULL;
	}
}

/* link callback: a line was written. */
static void on_sent(struct link *l, const char *line, void *userdata)
{
	if (R.nsent < MAX_REC * 4)
		R.sent[R.nsent++] = strdup(line);
}

/* link callback: the connection ended. */
static void on_lost(struct link *l, const char *reason, void *userdata)
{
	if (R.nlost < MAX_REC) {
		R.lost_at[R.nlost] = now_ms();
		R.lost[R.nlost++] = strdup(reason);
	}
}

/* Completion of link_send. */
static void on_done(struct link *l, int err, void *userdata)
{
	if (R.in_send)
		R.done_inside_send = true;
	if (err == 0)
		R.done_ok++;
	else
		R.done_err++;
}

static const struct link_callbacks callbacks = {
	.registered = on_registered,
	.line = on_line,
	.sent = on_sent,
	.lost = on_lost,
};

/* One loop iteration (the tick bounds how long it blocks). */
static void loop_once(void)
{
	ev_run(EV_DEFAULT, EVRUN_ONCE);
}

/* Run the loop until cond holds or ms pass; evaluates to cond. */
#define RUN_UNTIL(cond, ms)                                                   \
	({                                                                    \
		uint64_t deadline_ = now_ms() + (uint64_t)(ms);              \
		bool ok_;                                                     \
		while (!(ok_ = (cond)) && now_ms() < deadline_)              \
			loop_once();                                          \
		ok_;                                                          \
	})

/* Run the loop for ms. */
static void run_for(int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	while (now_ms() < deadline)
		loop_once();
}

/* Index of the first recorded line whose untagged text matches needle, or -1. */
static long rec_find(const char *needle)
{
	for (size_t i = 0; i < R.nlines && i < MAX_REC * 4; i++)
		if (strstr(R.lines[i].untagged, needle))
			return (long)i;
	return -1;
}

/* Whether a line containing needle was reported as sent. */
static bool rec_sent(const char *needle)
{
	for (size_t i = 0; i < R.nsent; i++)
		if (strstr(R.sent[i], needle))
			return true;
	return false;
}

/* Each test runs in its own process: a clean loop, queue and recorder. */
static void setup(void)
{
	enum log_level lvl;
	const char *env = getenv("TEST_LINK_LOG");

	log_set_level(env && log_level_from_string(env, &lvl) == 0 ? lvl : LOG_LEVEL_ERROR);
	memset(&R, 0, sizeof R);
	ck_assert_ptr_nonnull(later_queue_new(EV_DEFAULT));
	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	ev_timer_start(EV_DEFAULT, &tick);
}

/* Free the link and what the recorder holds. */
static void teardown(void)
{
	link_free(R.l);
	R.l = NULL;
	ev_timer_stop(EV_DEFAULT, &tick);
	later_queue_free(later_queue_of(EV_DEFAULT));
	for (size_t i = 0; i < R.nlines && i < MAX_REC * 4; i++) {
		free(R.lines[i].untagged);
		free(R.lines[i].command);
		free(R.lines[i].tags);
	}
	for (size_t i = 0; i < R.nsent; i++)
		free(R.sent[i]);
	for (size_t i = 0; i < R.nlost; i++)
		free(R.lost[i]);
}

/* ---- configuration -------------------------------------------------------------- */

struct tconf {
	struct conf_irc c;
	struct conf_server servers[4];
	char hosts[4][64];
	char ports[4][8];
	char *alts[4];
};

/* Short timeouts for tests; no server yet. */
static void tconf_init(struct tconf *t)
{
	memset(t, 0, sizeof *t);
	t->c.servers = t->servers;
	t->c.nick = "bot";
	t->c.username = "botuser";
	t->c.realname = "Bot Real Name";
	t->c.connect_timeout_ms = 2000;
	t->c.register_timeout_ms = 5000;
	t->c.ping_idle_ms = 30000;
	t->c.ping_timeout_ms = 30000;
	t->c.reconnect_min_ms = 200;
	t->c.reconnect_max_ms = 1000;
	t->c.stable_after_ms = 60000;
	t->c.cap_timeout_ms = 5000;
	t->c.sasl_timeout_ms = 5000;
}

/* Add a server host:port. */
static void tconf_server(struct tconf *t, const char *host, int port)
{
	size_t i = t->c.n_servers++;

	snprintf(t->hosts[i], sizeof t->hosts[i], "%s", host);
	snprintf(t->ports[i], sizeof t->ports[i], "%d", port);
	t->servers[i].host = t->hosts[i];
	t->servers[i].port = t->ports[i];
}

/* A link for t, started. */
static struct link *start_link(struct tconf *t)
{
	R.l = link_new(&t->c, &callbacks, &R);
	ck_assert_ptr_nonnull(R.l);
	ck_assert_int_eq(link_get_state(R.l), LINK_DISCONNECTED);
	ck_assert_int_eq(link_start(R.l), 0);
	ck_assert_int_eq(link_start(R.l), -EALREADY);
	return R.l;
}

/* A fake server with the script built by the caller, started on family. */
static void fake_start(struct test_fake *f, int family)
{
	ck_assert_int_eq(test_fake_start(f, family), 0);
}

/* Stop the fake and fail with its report when a step failed. */
static void fake_finish(struct test_fake *f)
{
	int r = test_fake_stop(f);

	ck_assert_msg(r == 0 || r == -EINPROGRESS, "fake server: %s", test_fake_report(f));
	test_fake_free(f);
}

/* A port on 127.0.0.1 where nothing listens. */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A listener on 127.0.0.1 (non-blocking; rcvbuf > 0 sets SO_RCVBUF). */
static int local_listener(int *ret_port, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* ---- registration ------------------------------------------------------------------ */

START_TEST(link_registers_without_pass_and_sends)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;
	char server[32];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #test :hello there$", 5000), 0);
	ck_assert_int_eq(test_fake_expect(f, "^QUIT :bye now$", 5000), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert_int_eq(link_send(R.l, "PRIVMSG #x :too early", on_done, NULL), -ENOTCONN);

	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_str_eq(R.nick, "bot");
	ck_assert_str_eq(link_get_nick(R.l), "bot");
	ck_assert_int_eq(link_get_state(R.l), LINK_CONNECTED);
	ck_assert_str_eq(link_state_name(link_get_state(R.l)), "connected");
	snprintf(server, sizeof server, "127.0.0.1:%d", test_fake_port(f));
	ck_assert_str_eq(link_get_server(R.l), server);
	ck_assert(link_writable(R.l));
	/* CAP LS 302 first; the fake knows no CAP and registers the bot anyway. */
	ck_assert_str_eq(test_fake_line(f, 0), "CAP LS 302");
	ck_assert_str_eq(test_fake_line(f, 1), "NICK bot");
	ck_assert_str_eq(test_fake_line(f, 2), "USER botuser 0 * :Bot Real Name");
	ck_assert(RUN_UNTIL(rec_find(" 376 bot ") >= 0, 2000));
	/* Numerics before and after 001 go up, 001 itself too. */
	ck_assert_int_ge(rec_find(" 001 bot "), 0);
	ck_assert_int_ge(rec_find(" 005 bot CASEMAPPING=rfc1459"), 0);
	ck_assert(rec_sent("NICK bot") && rec_sent("USER botuser 0 * :Bot Real Name"));

	/* Refused lines, then one that goes out. */
	ck_assert_int_eq(link_send(R.l, "", on_done, NULL), -EINVAL);
	ck_assert_int_eq(link_send(R.l, "PRIVMSG #x :a\r\nQUIT", on_done, NULL), -EINVAL);
	ck_assert_int_eq(link_send(R.l, "PRIVMSG #x :a\nQUIT", on_done, NULL), -EINVAL);
	char big[IRC_LINE_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(link_send(R.l, big, on_done, NULL), -EMSGSIZE);
	R.in_send = true;
	ck_assert_int_eq(link_send(R.l, "PRIVMSG #test :hello there", on_done, NULL), 0);
	R.in_send = false;
	ck_assert_int_eq(R.done_ok, 0);
	ck_assert(RUN_UNTIL(R.done_ok == 1, 2000));
	ck_assert(!R.done_inside_send);
	ck_assert(rec_sent("PRIVMSG #test :hello there"));
	ck_assert_int_ge(test_fake_wait_line(f, "^PRIVMSG #test :hello there$", 0, 2000), 0);

	link_stop(R.l, "bye now");
	ck_assert_int_eq(link_get_state(R.l), LINK_DISCONNECTED);
	ck_assert_int_eq(link_send(R.l, "PRIVMSG #x :after", on_done, NULL), -ENOTCONN);
	ck_assert_int_ge(test_fake_wait_line(f, "^QUIT :bye now$", 0, 2000), 0);
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	run_for(100);
	ck_assert_uint_eq(R.nlost, 0);
	fake_finish(f);
}
END_TEST

START_TEST(link_registers_with_pass)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_expect(f, "^PASS sekrit$", 5000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.c.password = "sekrit";
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_str_eq(test_fake_line(f, 0), "CAP LS 302");
	ck_assert_str_eq(test_fake_line(f, 1), "PASS sekrit");
	ck_assert_str_eq(test_fake_line(f, 2), "NICK bot");
	ck_assert_str_eq(test_fake_line(f, 3), "USER botuser 0 * :Bot Real Name");
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	/* The password is not handed to the line event. */
	ck_assert(RUN_UNTIL(rec_sent("PASS ***"), 1000));
	ck_assert(!rec_sent("sekrit"));
	fake_finish(f);
}
END_TEST

START_TEST(link_nick_fallback_alternates_then_suffixes)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_expect(f, "^NICK bot$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 433 * bot :Nickname is already in use"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^NICK bot2$", 2000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 433 * bot2 :Nickname is already in use"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^NICK bot3$", 2000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 432 * bot3 :Erroneous nickname"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^NICK bot_$", 2000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 437 * bot_ :Nick temporarily unavailable"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^NICK bot`$", 2000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 436 * bot` :Nickname collision"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^NICK bot-$", 2000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 001 bot- :Welcome bot-"), 0);
	ck_assert_int_eq(test_fake_wait(f, 500), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.alts[0] = "bot2";
	t.alts[1] = "bot3";
	t.c.alt_nicks = t.alts;
	t.c.n_alt_nicks = 2;
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_str_eq(R.nick, "bot-");
	ck_assert_str_eq(link_get_nick(R.l), "bot-");
	/* The refusals before 001 went up as numerics. */
	ck_assert_int_ge(rec_find(" 433 * bot "), 0);
	ck_assert_int_ge(rec_find(" 436 * bot` "), 0);
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	ck_assert_uint_eq(R.nlost, 0);
	fake_finish(f);
}
END_TEST

START_TEST(link_every_nick_refused_reconnects)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;
	size_t nicks = 0, randoms = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_answer(f, "^NICK :?([^ ]+)$",
					  ":irc.test.local 433 * $1 :Nickname is already in use"), 0);
	ck_assert_int_eq(test_fake_wait(f, 1500), 0);
	ck_assert_int_eq(test_fake_answer_clear(f), 0);
	ck_assert_int_eq(test_fake_accept(f, 5000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.alts[0] = "bot2";
	t.c.alt_nicks = t.alts;
	t.c.n_alt_nicks = 1;
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.nlost == 1, 3000));
	ck_assert_ptr_nonnull(strstr(R.lost[0], "nick"));
	ck_assert_int_eq(R.registered, 0);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_str_eq(R.nick, "bot");
	/* Backoff before the second connection. */
	ck_assert_uint_ge(R.registered_at[0] - R.lost_at[0], 150);
	ck_assert_int_eq(test_fake_connections(f), 2);
	for (size_t i = 0; i < test_fake_nlines(f); i++) {
		const char *line = test_fake_line(f, i);
		if (strncmp(line, "NICK ", 5) != 0)
			continue;
		nicks++;
		if (strlen(line) == 5 + 6 && strncmp(line, "NICK bot", 8) == 0 &&
		    strspn(line + 8, "0123456789") == 3)
			randoms++;
	}
	/* bot, bot2, bot_, bot`, bot-, three random, then bot again. */
	ck_assert_uint_eq(nicks, 9);
	ck_assert_uint_eq(randoms, 3);
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	fake_finish(f);
}
END_TEST

/* ---- input ------------------------------------------------------------------------- */

/* Register with a fake, then let it send what the caller scripted after. */
static struct test_fake *fake_registered(void)
{
	struct test_fake *f = test_fake_new();

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	return f;
}

START_TEST(link_tags_parsed_and_removed)
{
	struct test_fake *f = fake_registered();
	static const char nul_line[] = ":alice!a@h PRIVMSG #c :nu\0l\r\n";
	struct tconf t;
	long i;

	ck_assert_int_eq(test_fake_send(f, "@time=2024-01-02T03:04:05.678Z;msgid=abc\\sdef;+vendor/x "
					  ":alice!a@h PRIVMSG #c :hi there"), 0);
	ck_assert_int_eq(test_fake_send_raw(f, ":alice!a@h PRIVMSG #c :bare lf\n", 31), 0);
	ck_assert_int_eq(test_fake_send_raw(f, nul_line, sizeof nul_line - 1), 0);
	ck_assert_int_eq(test_fake_send(f, ":alice!a@h PRIVMSG #c :last"), 0);
	ck_assert_int_eq(test_fake_wait(f, 2000), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(rec_find("PRIVMSG #c :last") >= 0, 5000));
	i = rec_find("PRIVMSG #c :hi there");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(R.lines[i].untagged, ":alice!a@h PRIVMSG #c :hi there");
	ck_assert_str_eq(R.lines[i].tags, "time=2024-01-02T03:04:05.678Z;msgid=abc def;+vendor/x=");
	ck_assert_str_eq(R.lines[i].command, "PRIVMSG");
	i = rec_find("PRIVMSG #c :bare lf");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(R.lines[i].untagged, ":alice!a@h PRIVMSG #c :bare lf");
	ck_assert_str_eq(R.lines[i].tags, "");
	ck_assert_int_ge(rec_find(":alice!a@h PRIVMSG #c :nul"), 0);
	ck_assert_uint_eq(R.nlost, 0);
	fake_finish(f);
}
END_TEST

START_TEST(link_long_lines_cut_or_discarded)
{
	struct test_fake *f = fake_registered();
	char *cut = malloc(2001), *huge = malloc(9001), *tagged = malloc(8800);
	struct tconf t;
	size_t n;
	long i;

	/* 2000 bytes, with a 3-byte UTF-8 character across offset 510. */
	n = (size_t)sprintf(cut, ":alice!a@h PRIVMSG #c :");
	memset(cut + n, 'x', 2000 - n);
	memcpy(cut + 509, "\xe2\x82\xac", 3);
	cut[2000] = '\0';
	n = (size_t)sprintf(huge, ":alice!a@h PRIVMSG #c :");
	memset(huge + n, 'y', 9000 - n);
	huge[9000] = '\0';
	/* 8100 bytes of tags and a short message: accepted whole. */
	n = (size_t)sprintf(tagged, "@big=");
	memset(tagged + n, 'z', 8100);
	sprintf(tagged + n + 8100, " :alice!a@h PRIVMSG #c :tagged");
	ck_assert_int_eq(test_fake_send_raw(f, cut, 2000), 0);
	ck_assert_int_eq(test_fake_send_raw(f, "\r\n", 2), 0);
	ck_assert_int_eq(test_fake_send_raw(f, huge, 9000), 0);
	ck_assert_int_eq(test_fake_send_raw(f, "\r\n", 2), 0);
	ck_assert_int_eq(test_fake_send_raw(f, tagged, strlen(tagged)), 0);
	ck_assert_int_eq(test_fake_send_raw(f, "\r\n", 2), 0);
	ck_assert_int_eq(test_fake_send(f, ":alice!a@h PRIVMSG #c :after"), 0);
	ck_assert_int_eq(test_fake_wait(f, 2000), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(rec_find("PRIVMSG #c :after") >= 0, 5000));
	i = rec_find("PRIVMSG #c :xxx");
	ck_assert_int_ge(i, 0);
	/* Cut before the euro sign, which would straddle byte 510. */
	ck_assert_uint_eq(strlen(R.lines[i].untagged), 509);
	ck_assert_uint_eq(R.lines[i].last_len, 2000 - strlen(":alice!a@h PRIVMSG #c :"));
	ck_assert_int_lt(rec_find("PRIVMSG #c :yyy"), 0);
	i = rec_find("PRIVMSG #c :tagged");
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(strlen(R.lines[i].tags), 4 + 8100);
	ck_assert_uint_eq(R.nlost, 0);
	ck_assert_int_eq(link_get_state(R.l), LINK_CONNECTED);
	free(cut);
	free(huge);
	free(tagged);
	fake_finish(f);
}
END_TEST

START_TEST(link_ping_answered_at_once)
{
	struct test_fake *f = fake_registered();
	struct tconf t;

	ck_assert_int_eq(test_fake_send(f, "PING :tok123"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PONG :tok123$", 1000), 0);
	ck_assert_int_eq(test_fake_send(f, "PING irc.test.local"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PONG :irc\\.test\\.local$", 1000), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(test_fake_done(f, 0) != -ETIMEDOUT, 5000));
	ck_assert_int_eq(test_fake_done(f, 0), 0);
	/* PINGs go up too. */
	ck_assert_int_ge(rec_find("PING :tok123"), 0);
	ck_assert(rec_sent("PONG :tok123"));
	fake_finish(f);
}
END_TEST

/* ---- liveness ------------------------------------------------------------------------ */

START_TEST(link_pings_an_idle_server_and_stays)
{
	struct test_fake *f = fake_registered();
	struct tconf t;

	ck_assert_int_eq(test_fake_wait(f, 3000), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.c.ping_idle_ms = 200;
	t.c.ping_timeout_ms = 300;
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	run_for(1100);
	/* The fake answers every PING: the link keeps the connection. */
	ck_assert_int_ge(test_fake_wait_line(f, "^PING :bothost-", 0, 100), 0);
	long first = test_fake_wait_line(f, "^PING :", 0, 100);
	ck_assert_int_ge(test_fake_wait_line(f, "^PING :", (size_t)first + 1, 100), 0);
	ck_assert_uint_eq(R.nlost, 0);
	ck_assert_int_eq(link_get_state(R.l), LINK_CONNECTED);
	fake_finish(f);
}
END_TEST

START_TEST(link_silent_server_ping_then_reconnect)
{
	struct test_fake *f = fake_registered();
	struct tconf t;
	uint64_t dt;

	ck_assert_int_eq(test_fake_silent(f, 0), 0);
	ck_assert_int_eq(test_fake_accept(f, 5000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.c.ping_idle_ms = 300;
	t.c.ping_timeout_ms = 300;
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert(RUN_UNTIL(R.nlost == 1, 3000));
	ck_assert_str_eq(R.lost[0], "ping timeout");
	dt = R.lost_at[0] - R.registered_at[0];
	ck_assert_msg(dt >= 550 && dt <= 1500, "lost %llu ms after registering",
		      (unsigned long long)dt);
	ck_assert_int_ge(test_fake_wait_line(f, "^PING :bothost-[0-9]+$", 0, 100), 0);
	ck_assert(RUN_UNTIL(R.registered == 2, 5000));
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	fake_finish(f);
}
END_TEST

/* ---- reconnecting ----------------------------------------------------------------------- */

START_TEST(link_connect_refused_next_server)
{
	struct test_fake *f = fake_registered();
	struct tconf t;
	char server[32];
	uint64_t t0 = now_ms();

	fake_start(f, AF_INET);
	tconf_init(&t);
	t.c.reconnect_min_ms = 5000;
	t.c.reconnect_max_ms = 5000;
	tconf_server(&t, "127.0.0.1", closed_port());
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 3000));
	/* No backoff between the two servers of one round. */
	ck_assert_uint_lt(now_ms() - t0, 2000);
	snprintf(server, sizeof server, "127.0.0.1:%d", test_fake_port(f));
	ck_assert_str_eq(link_get_server(R.l), server);
	/* Nothing was connected, so nothing was lost. */
	ck_assert_uint_eq(R.nlost, 0);
	fake_finish(f);
}
END_TEST

START_TEST(link_connect_timeout_then_next_server)
{
	struct test_fake *f = fake_registered();
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[8];
	struct tconf t;
	uint64_t t0;

	/* A listener whose backlog is full: further connects hang. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	for (int i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
	}
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.c.connect_timeout_ms = 300;
	tconf_server(&t, "127.0.0.1", ntohs(sa.sin_port));
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	t0 = now_ms();
	start_link(&t);
	ck_assert(RUN_UNTIL(link_get_state(R.l) == LINK_CONNECTING, 1000));
	ck_assert(RUN_UNTIL(R.registered == 1, 3000));
	ck_assert_uint_ge(now_ms() - t0, 280);
	ck_assert_uint_eq(R.nlost, 0);
	for (int i = 0; i < 8; i++)
		close(fill[i]);
	close(lfd);
	fake_finish(f);
}
END_TEST

START_TEST(link_registration_timeout)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_silent(f, 0), 0);
	ck_assert_int_eq(test_fake_accept(f, 5000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.c.register_timeout_ms = 300;
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.nlost == 1, 3000));
	ck_assert_str_eq(R.lost[0], "registration timed out");
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	fake_finish(f);
}
END_TEST

START_TEST(link_backoff_resets_after_a_stable_connection)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;
	uint64_t wait1, wait2;

	ck_assert_ptr_nonnull(f);
	/* Refused at once (backoff grows), then stable, then short-lived. */
	ck_assert_int_eq(test_fake_close(f), 0);
	ck_assert_int_eq(test_fake_accept(f, 5000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_wait(f, 600), 0);
	ck_assert_int_eq(test_fake_close(f), 0);
	ck_assert_int_eq(test_fake_accept(f, 5000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_close(f), 0);
	ck_assert_int_eq(test_fake_accept(f, 5000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	t.c.reconnect_min_ms = 200;
	t.c.reconnect_max_ms = 5000;
	t.c.stable_after_ms = 300;
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 3, 8000));
	ck_assert_uint_eq(R.nlost, 3);
	/* lost[0]: refused (waits 200, next 400); lost[1]: stable, so back
	 * to 200 (next 400); lost[2]: short-lived, so 400. */
	wait1 = R.registered_at[1] - R.lost_at[1];
	wait2 = R.registered_at[2] - R.lost_at[2];
	ck_assert_msg(wait1 < 300, "after a stable connection: %llu ms", (unsigned long long)wait1);
	ck_assert_msg(wait2 >= 310, "after a short one: %llu ms", (unsigned long long)wait2);
	fake_finish(f);
}
END_TEST

START_TEST(link_backoff_grows_with_jitter)
{
	static const unsigned expected[] = { 100, 200, 400, 400, 400 };
	uint64_t at[6];
	size_t n = 0;
	struct tconf t;
	int port, lfd = local_listener(&port, 0);

	tconf_init(&t);
	t.c.reconnect_min_ms = 100;
	t.c.reconnect_max_ms = 400;
	tconf_server(&t, "127.0.0.1", port);
	start_link(&t);
	/* Accept and close at once: every attempt ends in registration. */
	uint64_t last = now_ms();
	while (n < 6) {
		ck_assert_msg(now_ms() - last < 3000, "no connection attempt for 3 s");
		loop_once();
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0) {
			at[n++] = last = now_ms();
			close(fd);
		}
	}
	double spread_min = 1e9, spread_max = 0;
	for (size_t i = 0; i < 5; i++) {
		double gap = (double)(at[i + 1] - at[i]), e = expected[i];
		ck_assert_msg(gap >= 0.8 * e - 5 && gap <= 1.2 * e + 80, "gap %zu: %.0f ms for %u", i, gap,
			      expected[i]);
		if (i >= 2) {
			spread_min = gap < spread_min ? gap : spread_min;
			spread_max = gap > spread_max ? gap : spread_max;
		}
	}
	/* Three waits at the cap are not all the same length. */
	ck_assert_msg(spread_max - spread_min >= 2, "capped waits %.0f..%.0f ms", spread_min,
		      spread_max);
	ck_assert(RUN_UNTIL(R.nlost >= 5, 1000));
	ck_assert_int_eq(R.registered, 0);
	close(lfd);
}
END_TEST

START_TEST(link_ipv6_and_resolved_names)
{
	struct test_fake *f6 = fake_registered(), *f4 = fake_registered();
	struct tconf t6, t4;
	char server[48];

	fake_start(f6, AF_INET6);
	fake_start(f4, AF_INET);
	tconf_init(&t6);
	tconf_server(&t6, "::1", test_fake_port(f6));
	start_link(&t6);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	snprintf(server, sizeof server, "[::1]:%d", test_fake_port(f6));
	ck_assert_str_eq(link_get_server(R.l), server);
	link_free(R.l);
	R.l = NULL;

	/* A name goes through the resolver thread. */
	tconf_init(&t4);
	tconf_server(&t4, "localhost", test_fake_port(f4));
	start_link(&t4);
	ck_assert_int_eq(link_get_state(R.l), LINK_RESOLVING);
	ck_assert(RUN_UNTIL(R.registered == 2, 5000));
	snprintf(server, sizeof server, "localhost:%d", test_fake_port(f4));
	ck_assert_str_eq(link_get_server(R.l), server);
	fake_finish(f6);
	fake_finish(f4);
}
END_TEST

/* Give this process (a test's own child) a hosts file of its own: a private
 * mount namespace with path bind-mounted over /etc/hosts. As root a mount
 * namespace is enough; otherwise a user namespace comes first. */
static void private_hosts(const char *path)
{
	if (unshare(CLONE_NEWNS) < 0)
		ck_assert_msg(unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0,
			      "cannot create a mount namespace (%s): run the test as root", strerror(errno));
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_msg(mount(path, "/etc/hosts", NULL, MS_BIND, NULL) == 0, "bind mount: %s", strerror(errno));
}

/* A name with an IPv6 and an IPv4 address and a server on only one of them:
 * whichever address the resolver gives first, the link ends up registered,
 * so when the first is refused it tries the next. */
START_TEST(link_tries_the_next_address)
{
	char hosts[] = "/tmp/test-link-hosts.XXXXXX";
	int fd = mkstemp(hosts);
	const char *text = "::1 dual.test\n127.0.0.1 dual.test\n";
	int families[] = { AF_INET, AF_INET6 };

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	private_hosts(hosts);
	for (int i = 0; i < 2; i++) {
		struct test_fake *f = fake_registered();
		struct tconf t;

		fake_start(f, families[i]);
		tconf_init(&t);
		tconf_server(&t, "dual.test", test_fake_port(f));
		start_link(&t);
		ck_assert_msg(RUN_UNTIL(R.registered == i + 1, 5000), "not registered with the server on %s",
			      families[i] == AF_INET ? "127.0.0.1" : "::1");
		link_free(R.l);
		R.l = NULL;
		fake_finish(f);
	}
	unlink(hosts);
}
END_TEST

/* ---- output --------------------------------------------------------------------------- */

/* An in-process server: accept the link and register it by hand. */
static int manual_register(int lfd)
{
	char buf[4096];
	size_t have = 0;
	int fd = -1;

	ck_assert(RUN_UNTIL((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0, 3000));
	ck_assert(RUN_UNTIL(({
		ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n > 0)
			have += (size_t)n;
		buf[have] = '\0';
		strstr(buf, "USER ") && strstr(strstr(buf, "USER "), "\n");
	}), 3000));
	ck_assert_int_eq(write(fd, ":srv 001 bot :Welcome\r\n", 23), 23);
	ck_assert(RUN_UNTIL(R.registered == 1, 3000));
	return fd;
}

/* Queue numbered 400-byte lines until the link has to buffer, then more. */
static int fill_output(void)
{
	char line[420];
	int i;

	for (i = 0; i < 100000 && link_writable(R.l); i++) {
		snprintf(line, sizeof line, "PRIVMSG #t :%06d %0380d", i, 0);
		ck_assert_int_eq(link_send(R.l, line, on_done, NULL), 0);
	}
	ck_assert_msg(!link_writable(R.l), "the kernel took %d lines", i);
	for (int k = 0; k < 20; k++, i++) {
		snprintf(line, sizeof line, "PRIVMSG #t :%06d %0380d", i, 0);
		ck_assert_int_eq(link_send(R.l, line, on_done, NULL), 0);
	}
	return i;
}

START_TEST(link_pong_goes_ahead_of_buffered_output)
{
	struct tconf t;
	int port, lfd = local_listener(&port, 4096), fd, total;
	size_t cap, have = 0;
	char *in, last[32];

	tconf_init(&t);
	tconf_server(&t, "127.0.0.1", port);
	start_link(&t);
	fd = manual_register(lfd);
	total = fill_output();
	cap = ((size_t)total + 100) * 420;
	in = malloc(cap);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(write(fd, "PING :urgent\r\n", 14), 14);
	run_for(100);
	snprintf(last, sizeof last, "PRIVMSG #t :%06d ", total - 1);
	ck_assert(RUN_UNTIL(({
		size_t from = have > 64 ? have - 64 : 0;
		ssize_t n = read(fd, in + have, cap - 1 - have);
		if (n > 0)
			have += (size_t)n;
		in[have] = '\0';
		n > 0 && strstr(in + from, last) != NULL;
	}), 10000));
	char *pong = strstr(in, "PONG :urgent\r\n");
	ck_assert_ptr_nonnull(pong);
	ck_assert(pong < strstr(in, last));
	ck_assert(RUN_UNTIL(R.done_ok == total, 2000));
	ck_assert_int_eq(R.done_err, 0);
	ck_assert(link_writable(R.l));
	free(in);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(link_server_not_reading_is_dropped)
{
	struct tconf t;
	int port, lfd = local_listener(&port, 4096), fd, total;

	tconf_init(&t);
	t.c.ping_timeout_ms = 300;
	tconf_server(&t, "127.0.0.1", port);
	start_link(&t);
	fd = manual_register(lfd);
	total = fill_output();
	ck_assert(RUN_UNTIL(R.nlost == 1, 3000));
	ck_assert_ptr_nonnull(strstr(R.lost[0], "write timeout"));
	/* Every line completes once: written, or reset. */
	ck_assert(RUN_UNTIL(R.done_ok + R.done_err == total, 1000));
	ck_assert_int_gt(R.done_err, 0);
	ck_assert_int_ne(link_get_state(R.l), LINK_CONNECTED);
	close(fd);
	close(lfd);
}
END_TEST

/* ---- freeing and stopping from callbacks ------------------------------------------------- */

START_TEST(link_free_and_stop_inside_callbacks)
{
	struct test_fake *f = fake_registered();
	struct test_fake *g = fake_registered();
	struct tconf t, u;

	fake_start(f, AF_INET);
	fake_start(g, AF_INET);
	/* Freed while the rest of the welcome burst is still buffered. */
	tconf_init(&t);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	R.free_on = "002";
	start_link(&t);
	ck_assert(RUN_UNTIL(R.l == NULL, 5000));
	run_for(50);
	ck_assert_int_lt(rec_find(" 003 "), 0);
	ck_assert_uint_eq(R.nlost, 0);

	/* Stopped from `registered`: disconnected and no reconnect. */
	R.free_on = NULL;
	tconf_init(&u);
	tconf_server(&u, "127.0.0.1", test_fake_port(g));
	R.stop_on_registered = true;
	int before = R.registered;
	start_link(&u);
	ck_assert(RUN_UNTIL(R.registered == before + 1, 5000));
	run_for(400);
	ck_assert_int_eq(link_get_state(R.l), LINK_DISCONNECTED);
	ck_assert_int_eq(R.registered, before + 1);
	ck_assert_int_eq(test_fake_connections(g), 1);
	fake_finish(f);
	fake_finish(g);
}
END_TEST

/* ---- ngircd --------------------------------------------------------------------------------- */

START_TEST(link_ngircd_register_send_restart)
{
	struct test_irc_user u;
	struct test_ircd d;
	struct tconf t;

	ck_assert_int_eq(test_ircd_start(&d, NULL), 0);
	ck_assert_int_eq(test_irc_user_connect(&u, d.port, "alice"), 0);
	tconf_init(&t);
	t.c.nick = "linkbot";
	tconf_server(&t, "127.0.0.1", d.port);
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_str_eq(R.nick, "linkbot");
	ck_assert_int_eq(link_send(R.l, "PRIVMSG alice :hello from the link", on_done, NULL), 0);
	ck_assert(RUN_UNTIL(R.done_ok == 1, 2000));
	ck_assert_int_eq(test_irc_user_expect(&u, "^:linkbot![^ ]+ PRIVMSG alice :hello from the link$",
					      3000, NULL), 0);
	test_irc_user_close(&u);

	ck_assert_int_eq(test_ircd_kill(&d), 0);
	ck_assert(RUN_UNTIL(R.nlost == 1, 3000));
	ck_assert_int_ne(link_get_state(R.l), LINK_CONNECTED);
	ck_assert_int_eq(test_ircd_restart(&d), 0);
	ck_assert(RUN_UNTIL(R.registered == 2, 10000));
	ck_assert_int_eq(link_get_state(R.l), LINK_CONNECTED);
	ck_assert_int_eq(test_irc_user_connect(&u, d.port, "alice"), 0);
	ck_assert_int_eq(link_send(R.l, "PRIVMSG alice :back again", on_done, NULL), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, "PRIVMSG alice :back again$", 3000, NULL), 0);
	test_irc_user_close(&u);
	link_stop(R.l, "done");
	test_ircd_stop(&d);
}
END_TEST

/* ---- capabilities and SASL ------------------------------------------------------------------ */

/* The fake's lines to a SASL-capable server up to AUTHENTICATE PLAIN: LS in
 * two lines, the request answered with ACK. */
static void fake_cap_sasl_start(struct test_fake *f)
{
	ck_assert_int_eq(test_fake_expect(f, "^CAP LS 302$", 5000), 0);
	ck_assert_int_eq(test_fake_expect(f, "^USER ", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * LS * :multi-prefix sasl=PLAIN,EXTERNAL "
					  "extended-join away-notify"), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * LS :account-tag server-time "
					  "account-notify chghost"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP REQ :(.*)$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * ACK :$1"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^AUTHENTICATE PLAIN$", 3000), 0);
}

/* SASL PLAIN credentials for alice / sesame. */
static void tconf_sasl(struct tconf *t, bool required)
{
	t->c.sasl_mechanism = CONF_SASL_PLAIN;
	t->c.sasl_user = "alice";
	t->c.sasl_password = "sesame";
	t->c.sasl_required = required;
}

/* Index of the first line the fake received that matches exactly, or -1. */
static long fake_find(const struct test_fake *f, const char *line)
{
	for (size_t i = 0; i < test_fake_nlines(f); i++)
		if (strcmp(test_fake_line(f, i), line) == 0)
			return (long)i;
	return -1;
}

/* How many lines the fake received that match exactly. */
static size_t fake_count(const struct test_fake *f, const char *line)
{
	size_t n = 0;

	for (size_t i = 0; i < test_fake_nlines(f); i++)
		n += strcmp(test_fake_line(f, i), line) == 0;
	return n;
}

START_TEST(link_cap_and_sasl_plain_succeed)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;

	ck_assert_ptr_nonnull(f);
	fake_cap_sasl_start(f);
	ck_assert_int_eq(test_fake_send(f, "AUTHENTICATE +"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^AUTHENTICATE YWxpY2UAYWxpY2UAc2VzYW1l$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 900 bot bot!botuser@127.0.0.1 alice "
					  ":You are now logged in as alice\n"
					  ":irc.test.local 903 bot :SASL authentication successful"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP END$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 001 bot :Welcome bot"), 0);
	ck_assert_int_eq(test_fake_wait(f, 300), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_sasl(&t, true);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	/* CAP LS goes first; NICK and USER follow without waiting for it. */
	ck_assert_str_eq(test_fake_line(f, 0), "CAP LS 302");
	ck_assert_str_eq(test_fake_line(f, 1), "NICK bot");
	ck_assert_str_eq(test_fake_line(f, 2), "USER botuser 0 * :Bot Real Name");
	/* Only what bothost handles, from both LS lines. */
	ck_assert_str_eq(test_fake_line(f, 3),
			 "CAP REQ :sasl multi-prefix extended-join account-notify account-tag server-time");
	ck_assert_str_eq(test_fake_line(f, 4), "AUTHENTICATE PLAIN");
	ck_assert_int_lt(fake_find(f, "AUTHENTICATE YWxpY2UAYWxpY2UAc2VzYW1l"), fake_find(f, "CAP END"));
	ck_assert(link_has_cap(R.l, "sasl") && link_has_cap(R.l, "account-tag") &&
		  link_has_cap(R.l, "server-time") && link_has_cap(R.l, "extended-join"));
	ck_assert(!link_has_cap(R.l, "away-notify") && !link_has_cap(R.l, "message-tags"));
	ck_assert_str_eq(link_get_account(R.l), "alice");
	/* The credentials never reach the line event; the SASL numerics do. */
	ck_assert(RUN_UNTIL(rec_sent("CAP END"), 1000));
	ck_assert(rec_sent("AUTHENTICATE ***") && !rec_sent("YWxpY2U"));
	ck_assert_int_ge(rec_find(" 903 bot "), 0);
	ck_assert_uint_eq(R.nlost, 0);
	fake_finish(f);
}
END_TEST

START_TEST(link_sasl_failure_required_drops_the_connection)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;

	ck_assert_ptr_nonnull(f);
	fake_cap_sasl_start(f);
	ck_assert_int_eq(test_fake_send(f, "AUTHENTICATE +"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^AUTHENTICATE ", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 904 bot :SASL authentication failed"), 0);
	/* The link gives up and comes back after the backoff. */
	ck_assert_int_eq(test_fake_accept(f, 5000), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP LS 302$", 5000), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_sasl(&t, true);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.nlost == 1, 5000));
	ck_assert_ptr_nonnull(strstr(R.lost[0], "SASL PLAIN authentication failed: 904 SASL authentication failed"));
	ck_assert_int_eq(R.registered, 0);
	ck_assert(RUN_UNTIL(test_fake_connections(f) == 2 && fake_count(f, "CAP LS 302") == 2, 5000));
	ck_assert_msg(test_fake_done(f, 2000) == 0, "fake server: %s", test_fake_report(f));
	ck_assert_int_lt(fake_find(f, "CAP END"), 0);
	fake_finish(f);
}
END_TEST

START_TEST(link_sasl_failure_not_required_goes_on)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;

	ck_assert_ptr_nonnull(f);
	fake_cap_sasl_start(f);
	ck_assert_int_eq(test_fake_send(f, "AUTHENTICATE +"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^AUTHENTICATE ", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 908 bot EXTERNAL :are available SASL mechanisms\n"
					  ":irc.test.local 904 bot :SASL authentication failed"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP END$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 001 bot :Welcome bot"), 0);
	ck_assert_int_eq(test_fake_wait(f, 300), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_sasl(&t, false);
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_ptr_null(link_get_account(R.l));
	ck_assert(link_has_cap(R.l, "sasl"));
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	ck_assert_uint_eq(R.nlost, 0);
	fake_finish(f);
}
END_TEST

START_TEST(link_sasl_timeout_aborts)
{
	struct test_fake *f = test_fake_new();
	struct tconf t;
	uint64_t t0;
	long i;

	ck_assert_ptr_nonnull(f);
	/* The server never answers AUTHENTICATE PLAIN. */
	fake_cap_sasl_start(f);
	ck_assert_int_eq(test_fake_expect(f, "^AUTHENTICATE \\*$", 5000), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP END$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 001 bot :Welcome bot"), 0);
	ck_assert_int_eq(test_fake_wait(f, 300), 0);
	fake_start(f, AF_INET);
	tconf_init(&t);
	tconf_sasl(&t, false);
	t.c.sasl_timeout_ms = 400;
	tconf_server(&t, "127.0.0.1", test_fake_port(f));
	t0 = now_ms();
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_uint_ge(R.registered_at[0] - t0, 350);
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	i = fake_find(f, "AUTHENTICATE *");
	ck_assert_int_gt(i, fake_find(f, "AUTHENTICATE PLAIN"));
	ck_assert_int_lt(i, fake_find(f, "CAP END"));
	fake_finish(f);
}
END_TEST

START_TEST(link_server_without_cap)
{
	struct test_fake *f421 = test_fake_new(), *fsilent = test_fake_new();
	struct tconf t;

	ck_assert_ptr_nonnull(f421);
	ck_assert_ptr_nonnull(fsilent);
	/* One server refuses CAP (421) and registers the bot. */
	ck_assert_int_eq(test_fake_expect(f421, "^CAP LS 302$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f421, ":irc.test.local 421 * CAP :Unknown command"), 0);
	ck_assert_int_eq(test_fake_register(f421), 0);
	ck_assert_int_eq(test_fake_wait(f421, 300), 0);
	fake_start(f421, AF_INET);
	tconf_init(&t);
	tconf_server(&t, "127.0.0.1", test_fake_port(f421));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, 5000));
	ck_assert_int_eq(test_fake_done(f421, 2000), 0);
	ck_assert_int_lt(fake_find(f421, "CAP END"), 0);
	ck_assert(!link_has_cap(R.l, "multi-prefix"));
	fake_finish(f421);
	link_free(R.l);
	R.l = NULL;

	/* Another says nothing to CAP LS and waits for CAP END, which comes
	 * after cap_timeout. */
	ck_assert_int_eq(test_fake_expect(fsilent, "^CAP END$", 5000), 0);
	ck_assert_int_eq(test_fake_send(fsilent, ":irc.test.local 001 bot :Welcome bot"), 0);
	ck_assert_int_eq(test_fake_wait(fsilent, 300), 0);
	fake_start(fsilent, AF_INET);
	tconf_init(&t);
	t.c.cap_timeout_ms = 300;
	tconf_server(&t, "127.0.0.1", test_fake_port(fsilent));
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 2, 5000));
	ck_assert_int_eq(test_fake_done(fsilent, 2000), 0);
	ck_assert_int_gt(fake_find(fsilent, "CAP END"), fake_find(fsilent, "USER botuser 0 * :Bot Real Name"));
	ck_assert_uint_eq(R.nlost, 0);
	fake_finish(fsilent);
}
END_TEST

/* ---- capneg, without a server ----------------------------------------------------------------- */

struct cap_rec {
	char lines[16][600];
	char shown[16][64];
	int n;
};

/* capneg's send function: record the line and what stands for it. */
static int cap_rec_send(const char *line, const char *shown, void *userdata)
{
	struct cap_rec *r = userdata;

	ck_assert_int_lt(r->n, 16);
	snprintf(r->lines[r->n], sizeof r->lines[r->n], "%s", line);
	snprintf(r->shown[r->n], sizeof r->shown[r->n], "%s", shown ? shown : "");
	r->n++;
	return 0;
}

/* Give capneg one server line; its result. */
static int cap_feed(struct capneg *c, const char *line)
{
	struct irc_line *msg;
	int r;

	ck_assert_int_eq(irc_line_parse(line, &msg), 0);
	r = capneg_line(c, msg);
	irc_line_free(msg);
	return r;
}

/* A started machine with mechanism mech (user alice, password pw). */
static struct capneg *cap_start(struct cap_rec *rec, enum capneg_mech mech, const char *pw, bool required)
{
	struct capneg_opts o = { "test.server:6697", mech, "alice", pw, required };
	struct capneg *c;

	memset(rec, 0, sizeof *rec);
	c = capneg_new(&o, cap_rec_send, rec);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_IDLE);
	ck_assert_int_eq(capneg_start(c), 0);
	ck_assert_int_eq(rec->n, 1);
	ck_assert_str_eq(rec->lines[0], "CAP LS 302");
	return c;
}

/* Through LS and ACK of sasl to AUTHENTICATE <mech>. */
static void cap_to_authenticate(struct capneg *c, struct cap_rec *rec, const char *ls)
{
	ck_assert_int_eq(cap_feed(c, ls), 1);
	ck_assert_str_eq(rec->lines[1], "CAP REQ :sasl");
	ck_assert_int_eq(cap_feed(c, ":s CAP * ACK :sasl"), 1);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_SASL_START);
	ck_assert(capneg_in_sasl(c));
}

START_TEST(capneg_base64_vectors)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

	for (size_t i = 0; i < 7; i++) {
		char *b = capneg_base64(in[i], strlen(in[i]));
		ck_assert_str_eq(b, out[i]);
		free(b);
	}
}
END_TEST

START_TEST(capneg_ls_req_ack_new_del)
{
	struct cap_rec rec;
	struct capneg *c = cap_start(&rec, CAPNEG_MECH_NONE, NULL, false);

	ck_assert_int_eq(cap_feed(c, ":s NOTICE * :*** Looking up your hostname"), 0);
	ck_assert_int_eq(cap_feed(c, ":s CAP * LS * :multi-prefix sasl=PLAIN foo=bar"), 1);
	ck_assert_int_eq(rec.n, 1);
	ck_assert_int_eq(cap_feed(c, ":s CAP * LS :server-time account-tag"), 1);
	/* No sasl without a mechanism. */
	ck_assert_str_eq(rec.lines[1], "CAP REQ :multi-prefix account-tag server-time");
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_REQ);
	ck_assert_int_eq(cap_feed(c, ":s CAP * ACK :multi-prefix account-tag server-time"), 1);
	ck_assert_str_eq(rec.lines[2], "CAP END");
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_DONE);
	ck_assert(capneg_enabled(c, "server-time") && !capneg_enabled(c, "sasl") && !capneg_enabled(c, "foo"));
	/* After registration (cap-notify comes with 302). */
	capneg_registered(c);
	ck_assert_int_eq(cap_feed(c, ":s CAP bot DEL :server-time"), 1);
	ck_assert(!capneg_enabled(c, "server-time"));
	ck_assert_int_eq(cap_feed(c, ":s CAP bot NEW :extended-join sasl unknown-cap"), 1);
	ck_assert_str_eq(rec.lines[3], "CAP REQ :extended-join");
	ck_assert_int_eq(cap_feed(c, ":s CAP bot ACK :extended-join"), 1);
	ck_assert(capneg_enabled(c, "extended-join"));
	ck_assert_int_eq(rec.n, 4);
	capneg_free(c);
}
END_TEST

START_TEST(capneg_plain_in_400_byte_pieces)
{
	char pw[401], *b64, joined[800] = "";
	char blob[5 + 1 + 5 + 1 + 400];
	struct cap_rec rec;
	struct capneg *c;

	/* 412 bytes: 552 of base64, as 400 + 152. */
	memset(pw, 'p', 400);
	pw[400] = '\0';
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, pw, true);
	cap_to_authenticate(c, &rec, ":s CAP * LS :sasl=PLAIN,EXTERNAL");
	ck_assert_str_eq(rec.lines[2], "AUTHENTICATE PLAIN");
	ck_assert_int_eq(cap_feed(c, "AUTHENTICATE +"), 1);
	ck_assert_int_eq(rec.n, 5);
	ck_assert_uint_eq(strlen(rec.lines[3]), 13 + 400);
	ck_assert_uint_eq(strlen(rec.lines[4]), 13 + 152);
	ck_assert_str_eq(rec.shown[3], "AUTHENTICATE ***");
	ck_assert_str_eq(rec.shown[4], "AUTHENTICATE ***");
	strcat(joined, rec.lines[3] + 13);
	strcat(joined, rec.lines[4] + 13);
	memcpy(blob, "alice\0alice\0", 12);
	memset(blob + 12, 'p', 400);
	b64 = capneg_base64(blob, sizeof blob);
	ck_assert_str_eq(joined, b64);
	free(b64);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_SASL_RESULT);
	ck_assert_int_eq(cap_feed(c, ":s 900 bot bot!u@h alice :You are now logged in as alice"), 1);
	ck_assert_int_eq(cap_feed(c, ":s 903 bot :SASL authentication successful"), 1);
	ck_assert_str_eq(rec.lines[5], "CAP END");
	ck_assert_str_eq(capneg_get_account(c), "alice");
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_DONE);
	capneg_free(c);

	/* 300 bytes: exactly 400 of base64, then "+". */
	pw[288] = '\0';
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, pw, true);
	cap_to_authenticate(c, &rec, ":s CAP * LS :sasl");
	ck_assert_int_eq(cap_feed(c, "AUTHENTICATE +"), 1);
	ck_assert_int_eq(rec.n, 5);
	ck_assert_uint_eq(strlen(rec.lines[3]), 13 + 400);
	ck_assert_str_eq(rec.lines[4], "AUTHENTICATE +");
	/* 907: logged in already counts as success. */
	ck_assert_int_eq(cap_feed(c, ":s 907 bot :You have already authenticated"), 1);
	ck_assert_str_eq(rec.lines[5], "CAP END");
	capneg_free(c);
}
END_TEST

START_TEST(capneg_external)
{
	struct cap_rec rec;
	struct capneg *c = cap_start(&rec, CAPNEG_MECH_EXTERNAL, NULL, true);

	cap_to_authenticate(c, &rec, ":s CAP * LS :sasl");
	ck_assert_str_eq(rec.lines[2], "AUTHENTICATE EXTERNAL");
	ck_assert_int_eq(cap_feed(c, "AUTHENTICATE +"), 1);
	ck_assert_str_eq(rec.lines[3], "AUTHENTICATE +");
	ck_assert_str_eq(rec.shown[3], "");
	ck_assert_int_eq(cap_feed(c, ":s 903 bot :SASL authentication successful"), 1);
	ck_assert_str_eq(rec.lines[4], "CAP END");
	capneg_free(c);
}
END_TEST

START_TEST(capneg_sasl_failures)
{
	struct cap_rec rec;
	struct capneg *c;

	/* The server's mechanisms do not include ours: no AUTHENTICATE at all. */
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, "pw", true);
	ck_assert_int_eq(cap_feed(c, ":s CAP * LS :sasl=EXTERNAL,SCRAM-SHA-256 multi-prefix"), 1);
	ck_assert_int_eq(cap_feed(c, ":s CAP * ACK :sasl multi-prefix"), 1);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_FAILED);
	ck_assert_ptr_nonnull(strstr(capneg_get_error(c), "EXTERNAL,SCRAM-SHA-256, not PLAIN"));
	ck_assert_int_eq(rec.n, 2);
	capneg_free(c);

	/* NAK: no sasl; not required, so CAP END. */
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, "pw", false);
	ck_assert_int_eq(cap_feed(c, ":s CAP * LS :sasl"), 1);
	ck_assert_int_eq(cap_feed(c, ":s CAP * NAK :sasl"), 1);
	ck_assert_str_eq(rec.lines[2], "CAP END");
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_DONE);
	ck_assert_ptr_nonnull(strstr(capneg_get_error(c), "does not offer SASL"));
	capneg_free(c);

	/* 908 then 904, required. */
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, "pw", true);
	cap_to_authenticate(c, &rec, ":s CAP * LS :sasl");
	ck_assert_int_eq(cap_feed(c, "AUTHENTICATE +"), 1);
	ck_assert_int_eq(cap_feed(c, ":s 908 bot EXTERNAL :are available SASL mechanisms"), 1);
	ck_assert_int_eq(cap_feed(c, ":s 904 bot :SASL authentication failed"), 1);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_FAILED);
	ck_assert_str_eq(capneg_get_error(c),
			 "SASL PLAIN authentication failed: 904 SASL authentication failed (the server offers EXTERNAL)");
	ck_assert_int_eq(rec.n, 4);
	capneg_free(c);

	/* An unexpected challenge is aborted. */
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, "pw", false);
	cap_to_authenticate(c, &rec, ":s CAP * LS :sasl");
	ck_assert_int_eq(cap_feed(c, "AUTHENTICATE Y2hhbGxlbmdl"), 1);
	ck_assert_str_eq(rec.lines[3], "AUTHENTICATE *");
	ck_assert_str_eq(rec.lines[4], "CAP END");
	capneg_free(c);
}
END_TEST

START_TEST(capneg_without_cap_and_timeouts)
{
	struct cap_rec rec;
	struct capneg *c;

	/* 421: no CAP END to a server that does not know CAP. */
	c = cap_start(&rec, CAPNEG_MECH_NONE, NULL, false);
	ck_assert_int_eq(cap_feed(c, ":s 421 * CAP :Unknown command"), 1);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_DONE);
	ck_assert_int_eq(rec.n, 1);
	/* A later 421 for another command is not capneg's. */
	ck_assert_int_eq(cap_feed(c, ":s 421 bot FOO :Unknown command"), 0);
	ck_assert_int_eq(rec.n, 1);
	capneg_free(c);

	/* 421 with SASL required: give up. */
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, "pw", true);
	ck_assert_int_eq(cap_feed(c, ":s 421 * CAP :Unknown command"), 1);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_FAILED);
	capneg_free(c);

	/* 001 without any CAP answer. */
	c = cap_start(&rec, CAPNEG_MECH_NONE, NULL, false);
	capneg_registered(c);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_DONE);
	ck_assert_int_eq(rec.n, 1);
	capneg_free(c);
	c = cap_start(&rec, CAPNEG_MECH_EXTERNAL, NULL, true);
	capneg_registered(c);
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_FAILED);
	capneg_free(c);

	/* No answer to LS: CAP END. */
	c = cap_start(&rec, CAPNEG_MECH_NONE, NULL, false);
	ck_assert_int_eq(capneg_timeout(c), 0);
	ck_assert_str_eq(rec.lines[1], "CAP END");
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_DONE);
	/* A late LS changes nothing. */
	ck_assert_int_eq(cap_feed(c, ":s CAP * LS :multi-prefix"), 1);
	ck_assert_int_eq(rec.n, 2);
	capneg_free(c);

	/* No answer to AUTHENTICATE: abort, then CAP END (not required). */
	c = cap_start(&rec, CAPNEG_MECH_PLAIN, "pw", false);
	cap_to_authenticate(c, &rec, ":s CAP * LS :sasl");
	ck_assert_int_eq(capneg_timeout(c), 0);
	ck_assert_str_eq(rec.lines[3], "AUTHENTICATE *");
	ck_assert_str_eq(rec.lines[4], "CAP END");
	ck_assert_int_eq(capneg_get_state(c), CAPNEG_DONE);
	capneg_free(c);
}
END_TEST

/* ---- the kind of event a line is (irc_kind.c) -------------------------------------------- */

/* The kind of line, which must parse. */
static enum irc_kind kind_of(const char *line)
{
	struct irc_line *l = NULL;
	enum irc_kind k;

	ck_assert_msg(irc_line_parse(line, &l) == 0, "does not parse: %s", line);
	k = irc_kind_of(l);
	irc_line_free(l);
	return k;
}

/* Check that line is of kind want. */
static void kind_is(const char *line, enum irc_kind want)
{
	enum irc_kind k = kind_of(line);

	ck_assert_msg(k == want, "%s: %s, not %s", line, irc_kind_name(k), irc_kind_name(want));
}

START_TEST(kind_of_every_event)
{
	kind_is(":irc.test 001 bot :Welcome", IRC_KIND_NUMERIC);
	kind_is(":irc.test 433 * bot :Nickname is already in use", IRC_KIND_NUMERIC);
	kind_is(":alice!a@h PRIVMSG #chan :hello all", IRC_KIND_MESSAGE);
	kind_is(":alice!a@h PRIVMSG bot :psst", IRC_KIND_MESSAGE);
	kind_is(":alice!a@h JOIN #chan", IRC_KIND_JOIN);
	kind_is(":alice!a@h JOIN :#other", IRC_KIND_JOIN);
	kind_is(":alice!a@h NICK :alicia", IRC_KIND_NICK);
	kind_is(":alicia!a@h PART #chan :bye", IRC_KIND_PART);
	kind_is(":alicia!a@h QUIT :gone", IRC_KIND_QUIT);
	kind_is(":alicia!a@h QUIT", IRC_KIND_QUIT);
	kind_is(":op!o@h KICK #chan bob :out", IRC_KIND_KICK);
	kind_is(":op!o@h TOPIC #chan :new topic", IRC_KIND_TOPIC);
	kind_is(":op!o@h MODE #chan +o bob", IRC_KIND_MODE);
	kind_is(":bot MODE bot :+i", IRC_KIND_MODE);
	kind_is(":op!o@h INVITE bot :#secret", IRC_KIND_INVITE);
	kind_is(":op!o@h NOTICE #chan :heads up", IRC_KIND_NOTICE);
	kind_is(":op!o@h NOTICE bot :\001VERSION x 1\001", IRC_KIND_NOTICE);
	kind_is(":alice!a@h PRIVMSG bot :\001VERSION\001", IRC_KIND_CTCP);
	kind_is(":alice!a@h PRIVMSG bot :\001ACTION\001", IRC_KIND_CTCP);
	kind_is(":alice!a@h PRIVMSG bot :\001DCC CHAT chat 2130706433 5000\001", IRC_KIND_CTCP);
	kind_is(":alice!a@h PRIVMSG #chan :\001ACTION waves\001", IRC_KIND_ACTION);
	kind_is("@time=2024-01-01T00:00:00Z :alice!a@h PRIVMSG #chan :tagged", IRC_KIND_MESSAGE);
	kind_is(":a!b@c PRIVMSG #c :two  spaces  inside", IRC_KIND_MESSAGE);
	kind_is(":a!b@c  PRIVMSG  #c :runs of spaces", IRC_KIND_MESSAGE);
	/* All parameters count (libircclient kept 10). */
	kind_is(":srv 005 bot A B C D E F G H I J K L M N :are supported", IRC_KIND_NUMERIC);
	kind_is(":srv 000 x :y", IRC_KIND_NUMERIC);
	kind_is(":srv 001", IRC_KIND_NUMERIC);
	/* No event. */
	kind_is("PING :abc", IRC_KIND_NONE);
	kind_is(":irc.test PONG irc.test :tok", IRC_KIND_NONE);
	kind_is(":irc.test CAP * LS :sasl", IRC_KIND_NONE);
	kind_is(":op!o@h KILL bob :bye", IRC_KIND_NONE);
	kind_is("NOTICE x", IRC_KIND_NONE);
	kind_is("NICK newnick", IRC_KIND_NONE);
	kind_is("NOTICE * :*** Looking up your hostname", IRC_KIND_NONE);
	kind_is(":a!b@c NOTICE x", IRC_KIND_NONE);
	kind_is(":a!b@c PRIVMSG #c", IRC_KIND_NONE);
	kind_is(":a!b@c PRIVMSG #c :", IRC_KIND_NONE);
	/* A command named like one of libircclient's events is nobody's event. */
	kind_is(":a!b@c CHANNEL #c :hi", IRC_KIND_NONE);
	kind_is(":a!b@c ACTION #c :\001ACTION hi\001", IRC_KIND_NONE);
	kind_is(":a!b@c CTCP #c :\001VERSION\001", IRC_KIND_NONE);
	kind_is(":a!b@c UMODE bot :+i", IRC_KIND_NONE);
	ck_assert_int_eq(irc_kind_of(NULL), IRC_KIND_NONE);
	ck_assert_str_eq(irc_kind_name(IRC_KIND_NUMERIC), "numeric");
	ck_assert_str_eq(irc_kind_name((enum irc_kind)99), "?");
}
END_TEST

/* ---- the kinds against libircclient 1.9 itself ---- */

/* The kinds the real library reported for the line being read. */
struct lib_seen {
	int kinds[8];
	int n;
	bool sentinel;		/* the line written after each one arrived */
};

/* The library's event, as a kind. */
static void lib_seen(irc_session_t *session, int kind)
{
	struct lib_seen *seen = irc_get_ctx(session);

	if (seen->n < 8)
		seen->kinds[seen->n++] = kind;
}

#define LIB_CB(name, kind)                                                                             \
	static void name(irc_session_t *session, const char *event, const char *origin,                    \
			 const char **params, unsigned count)                                                   \
	{                                                                                                      \
		lib_seen(session, kind);                                                                       \
	}
LIB_CB(lib_message, IRC_KIND_MESSAGE)
LIB_CB(lib_notice, IRC_KIND_NOTICE)
LIB_CB(lib_action, IRC_KIND_ACTION)
LIB_CB(lib_ctcp, IRC_KIND_CTCP)
LIB_CB(lib_join, IRC_KIND_JOIN)
LIB_CB(lib_part, IRC_KIND_PART)
LIB_CB(lib_quit, IRC_KIND_QUIT)
LIB_CB(lib_kick, IRC_KIND_KICK)
LIB_CB(lib_nick, IRC_KIND_NICK)
LIB_CB(lib_topic, IRC_KIND_TOPIC)
LIB_CB(lib_mode, IRC_KIND_MODE)
LIB_CB(lib_invite, IRC_KIND_INVITE)
LIB_CB(lib_unknown, IRC_KIND_NONE)

/* PRIVMSG to #sentinel ends each line's events. */
static void lib_channel(irc_session_t *session, const char *event, const char *origin, const char **params,
			unsigned count)
{
	struct lib_seen *seen = irc_get_ctx(session);

	if (count > 0 && strcmp(params[0], "#sentinel") == 0)
		seen->sentinel = true;
	else
		lib_seen(session, IRC_KIND_MESSAGE);
}

/* Numerics (event_connect, for 001, is not an event of its own). */
static void lib_numeric(irc_session_t *session, unsigned code, const char *origin, const char **params,
			unsigned count)
{
	lib_seen(session, IRC_KIND_NUMERIC);
}

/* Let the library read until the sentinel line arrived. */
static void lib_run(irc_session_t *session, struct lib_seen *seen)
{
	for (int i = 0; i < 100 && !seen->sentinel; i++) {
		fd_set in, out;
		struct timeval tv = { 1, 0 };
		int maxfd = 0;

		FD_ZERO(&in);
		FD_ZERO(&out);
		ck_assert_int_eq(irc_add_select_descriptors(session, &in, &out, &maxfd), 0);
		ck_assert_int_ge(select(maxfd + 1, &in, &out, NULL, &tv), 0);
		ck_assert_msg(irc_process_select_descriptors(session, &in, &out) == 0, "libircclient: %s",
			      irc_strerror(irc_errno(session)));
	}
	ck_assert_msg(seen->sentinel, "libircclient did not read the line");
}

/* Every line of a generated corpus the library can read safely (sources,
 * commands, targets and texts combined) is of the kind libircclient 1.9
 * reports for it; the one difference is a DCC request, which the library
 * keeps to itself and bothost makes a CTCP request. */
START_TEST(kind_matches_libircclient)
{
	static const char *const sources[] = { ":alice!a@h.example", ":irc.test" };
	static const char *const commands[] = { "PRIVMSG", "NOTICE", "JOIN", "PART", "QUIT", "KICK", "NICK",
						"TOPIC", "MODE", "INVITE", "KILL", "PONG", "CAP", "WALLOPS",
						"CHANNEL", "ACTION", "001", "005", "433", "482" };
	static const char *const targets[] = { "#chan", "bot", "Bot", "*" };
	static const char *const texts[] = { "hi there", "\001VERSION\001", "\001ACTION waves\001", "\001ACTION\001",
					     "\001PING 123\001", "\001DCC CHAT chat 2130706433 5000\001", "two  spaces",
					     "x", ":colon" };
	irc_callbacks_t cb = { 0 };
	struct lib_seen seen = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
	unsigned lines = 0;
	irc_session_t *session;

	cb.event_channel = lib_channel;
	cb.event_privmsg = lib_message;
	cb.event_notice = cb.event_channel_notice = cb.event_ctcp_rep = lib_notice;
	cb.event_ctcp_action = lib_action;
	cb.event_ctcp_req = lib_ctcp;
	cb.event_join = lib_join;
	cb.event_part = lib_part;
	cb.event_quit = lib_quit;
	cb.event_kick = lib_kick;
	cb.event_nick = lib_nick;
	cb.event_topic = lib_topic;
	cb.event_mode = cb.event_umode = lib_mode;
	cb.event_invite = lib_invite;
	cb.event_unknown = lib_unknown;
	cb.event_numeric = lib_numeric;
	session = irc_create_session(&cb);
	ck_assert_ptr_nonnull(session);
	irc_set_ctx(session, &seen);
	/* The library connects to us on loopback; we are its server. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	ck_assert_int_eq(irc_connect(session, "127.0.0.1", ntohs(sa.sin_port), NULL, "bot", "bot", "bot"), 0);
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	for (size_t si = 0; si < 2; si++)
		for (size_t ci = 0; ci < sizeof commands / sizeof commands[0]; ci++)
			for (size_t ti = 0; ti < sizeof targets / sizeof targets[0]; ti++)
				for (size_t xi = 0; xi < sizeof texts / sizeof texts[0]; xi++) {
					char line[256], out[300];
					enum irc_kind want;

					snprintf(line, sizeof line, "%s %s %s :%s", sources[si], commands[ci],
						 targets[ti], texts[xi]);
					want = kind_of(line);
					snprintf(out, sizeof out, "%s\r\n:s!s@s PRIVMSG #sentinel :s\r\n", line);
					seen.n = 0;
					seen.sentinel = false;
					ck_assert_int_eq(write(fd, out, strlen(out)), (ssize_t)strlen(out));
					lib_run(session, &seen);
					if (strstr(line, "PRIVMSG") && strstr(line, "\001DCC ")) {
						ck_assert_int_eq(seen.n, 0);
						ck_assert_int_eq(want, IRC_KIND_CTCP);
						continue;
					}
					/* KILL: no callback at all. */
					ck_assert_msg(seen.n <= 1, "%s: %d events from libircclient", line, seen.n);
					if (seen.n == 0)
						seen.kinds[0] = IRC_KIND_NONE;
					ck_assert_msg(seen.kinds[0] == (int)want, "%s: libircclient %s, irc_kind %s", line,
						      irc_kind_name(seen.kinds[0]), irc_kind_name(want));
					lines++;
				}
	ck_assert_uint_gt(lines, 1000);
	irc_destroy_session(session);
	close(fd);
	close(lfd);
}
END_TEST

/* ---- channel state limits ------------------------------------------------------------------ */

/* Apply a formatted line to st; the update must succeed. */
static void state_feed(struct irc_state *st, const char *fmt, ...)
{
	struct irc_line *l = NULL;
	char line[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(irc_line_parse(line, &l), 0);
	ck_assert_int_eq(irc_state_update(st, l), 0);
	irc_line_free(l);
}

/* The number of members known in channel (-1 when the bot is not in it). */
static int state_members(const struct irc_state *st, const char *channel)
{
	bool found;
	cJSON *a = irc_state_users_json(st, channel, &found);
	int n = found ? cJSON_GetArraySize(a) : -1;

	cJSON_Delete(a);
	return n;
}

/* Send stderr to a new temporary file; returns the saved descriptor. */
static int stderr_capture(FILE **ret_f)
{
	int saved = dup(2);

	*ret_f = tmpfile();
	ck_assert_ptr_nonnull(*ret_f);
	fflush(stderr);
	ck_assert_int_eq(dup2(fileno(*ret_f), 2), 2);
	return saved;
}

/* Restore stderr; returns how many captured lines contain needle. */
static int stderr_release(int saved, FILE *f, const char *needle)
{
	char line[1024];
	int n = 0;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* A full channel drops new members with one warning; the state stays whole. */
START_TEST(state_members_capped_per_channel)
{
	struct irc_state *st = irc_state_new();
	FILE *f;
	int saved, warned;
	char names[4096];

	state_feed(st, ":srv 001 bot :Welcome");
	state_feed(st, ":bot!b@h JOIN #big");
	state_feed(st, ":bot!b@h JOIN #small");
	saved = stderr_capture(&f);
	for (int i = 0; i < IRC_STATE_MEMBERS_MAX / 200 + 1; i++) {
		size_t n = 0;
		for (int j = 0; j < 200; j++)
			n += (size_t)snprintf(names + n, sizeof names - n, "%su%d", j ? " " : "", i * 200 + j);
		state_feed(st, ":srv 353 bot = #big :%s", names);
	}
	state_feed(st, ":late!l@h JOIN #big");
	state_feed(st, ":late!l@h JOIN #small");
	warned = stderr_release(saved, f, "#big has");
	ck_assert_int_eq(warned, 1);
	ck_assert_int_eq(state_members(st, "#big"), IRC_STATE_MEMBERS_MAX);
	ck_assert_int_eq(state_members(st, "#small"), 2);

	/* A dropped member's doings change nothing; a recorded one's do. */
	saved = stderr_capture(&f);
	state_feed(st, ":srv MODE #big +o late");
	state_feed(st, ":late!l@h PART #big :bye");
	state_feed(st, ":u%d!x@h NICK :u%dx", IRC_STATE_MEMBERS_MAX, IRC_STATE_MEMBERS_MAX);
	state_feed(st, ":u%d!x@h QUIT :gone", IRC_STATE_MEMBERS_MAX + 1);
	ck_assert_int_eq(state_members(st, "#big"), IRC_STATE_MEMBERS_MAX);
	state_feed(st, ":u7!x@h PART #big");
	ck_assert_int_eq(state_members(st, "#big"), IRC_STATE_MEMBERS_MAX - 1);
	state_feed(st, ":late!l@h JOIN #big");
	ck_assert_int_eq(state_members(st, "#big"), IRC_STATE_MEMBERS_MAX);
	state_feed(st, ":late!l@h QUIT :gone");
	ck_assert_int_eq(state_members(st, "#big"), IRC_STATE_MEMBERS_MAX - 1);
	ck_assert_int_eq(state_members(st, "#small"), 1);
	ck_assert_int_eq(stderr_release(saved, f, "#big has"), 0);

	/* Leaving and joining again starts an empty channel. */
	state_feed(st, ":bot!b@h PART #big");
	ck_assert_int_eq(state_members(st, "#big"), -1);
	state_feed(st, ":bot!b@h JOIN #big");
	state_feed(st, ":late!l@h JOIN #big");
	ck_assert_int_eq(state_members(st, "#big"), 2);
	irc_state_free(st);
}
END_TEST

/* Channels beyond the limit are not followed, with one warning. */
START_TEST(state_channels_capped)
{
	struct irc_state *st = irc_state_new();
	cJSON *chans;
	FILE *f;
	int saved;

	state_feed(st, ":srv 001 bot :Welcome");
	saved = stderr_capture(&f);
	for (int i = 0; i < IRC_STATE_CHANNELS_MAX + 5; i++)
		state_feed(st, ":bot!b@h JOIN #c%d", i);
	state_feed(st, ":bot!b@h JOIN #c0");	/* a rejoin keeps its place */
	ck_assert_int_eq(stderr_release(saved, f, "channels known"), 1);
	chans = irc_state_channels_json(st);
	ck_assert_int_eq(cJSON_GetArraySize(chans), IRC_STATE_CHANNELS_MAX);
	cJSON_Delete(chans);
	ck_assert(irc_state_in_channel(st, "#c0"));
	ck_assert(!irc_state_in_channel(st, "#c1000"));
	/* What happens in a channel not followed changes nothing. */
	state_feed(st, ":a!b@h JOIN #c1001");
	state_feed(st, ":srv 353 bot = #c1001 :a b c");
	state_feed(st, ":a!b@h TOPIC #c1001 :t");
	state_feed(st, ":bot!b@h PART #c1001");
	ck_assert_int_eq(state_members(st, "#c1001"), -1);
	/* Leaving one makes room for another. */
	state_feed(st, ":bot!b@h PART #c5");
	state_feed(st, ":bot!b@h JOIN #c1002");
	ck_assert(irc_state_in_channel(st, "#c1002"));
	ck_assert_int_eq(state_members(st, "#c1002"), 1);
	/* A new connection starts from nothing. */
	irc_state_reset(st);
	chans = irc_state_channels_json(st);
	ck_assert_int_eq(cJSON_GetArraySize(chans), 0);
	cJSON_Delete(chans);
	irc_state_free(st);
}
END_TEST

/* ---- suite ---------------------------------------------------------------------------------- */

static Suite *link_suite(void)
{
	Suite *s = suite_create("link");
	TCase *t = tcase_create("link");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, link_registers_without_pass_and_sends);
	tcase_add_test(t, link_registers_with_pass);
	tcase_add_test(t, link_nick_fallback_alternates_then_suffixes);
	tcase_add_test(t, link_tags_parsed_and_removed);
	tcase_add_test(t, link_long_lines_cut_or_discarded);
	tcase_add_test(t, link_ping_answered_at_once);
	tcase_add_test(t, link_pings_an_idle_server_and_stays);
	tcase_add_test(t, link_silent_server_ping_then_reconnect);
	tcase_add_test(t, link_connect_refused_next_server);
	tcase_add_test(t, link_connect_timeout_then_next_server);
	tcase_add_test(t, link_registration_timeout);
	tcase_add_test(t, link_ipv6_and_resolved_names);
	tcase_add_test(t, link_tries_the_next_address);
	tcase_add_test(t, link_server_not_reading_is_dropped);
	tcase_add_test(t, link_free_and_stop_inside_callbacks);
	tcase_add_test(t, link_ngircd_register_send_restart);
	tcase_add_test(t, link_cap_and_sasl_plain_succeed);
	tcase_add_test(t, link_sasl_failure_required_drops_the_connection);
	tcase_add_test(t, link_sasl_failure_not_required_goes_on);
	tcase_add_test(t, link_sasl_timeout_aborts);
	tcase_add_test(t, link_server_without_cap);
	suite_add_tcase(s, t);

	/* Reconnect backoff and paced output waited for in real time (make check-slow). */
	t = tcase_create("link-slow");
	tcase_set_tags(t, "slow");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, link_every_nick_refused_reconnects);
	tcase_add_test(t, link_backoff_resets_after_a_stable_connection);
	tcase_add_test(t, link_backoff_grows_with_jitter);
	tcase_add_test(t, link_pong_goes_ahead_of_buffered_output);
	suite_add_tcase(s, t);

	t = tcase_create("capneg");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, capneg_base64_vectors);
	tcase_add_test(t, capneg_ls_req_ack_new_del);
	tcase_add_test(t, capneg_plain_in_400_byte_pieces);
	tcase_add_test(t, capneg_external);
	tcase_add_test(t, capneg_sasl_failures);
	tcase_add_test(t, capneg_without_cap_and_timeouts);
	suite_add_tcase(s, t);

	t = tcase_create("kind");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, kind_of_every_event);
	tcase_add_test(t, kind_matches_libircclient);
	suite_add_tcase(s, t);

	t = tcase_create("state");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, state_members_capped_per_channel);
	tcase_add_test(t, state_channels_capped);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(link_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
