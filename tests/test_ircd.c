/* SPDX-License-Identifier: ISC */
/* Tests of the IRC test infrastructure itself: a private ngircd, the scripted
 * IRC user, and the scripted fake server (no bothost involved). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ircd.h"

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* True when no process has this pid any more. */
static bool pid_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* True when the path no longer exists. */
static bool path_gone(const char *path)
{
	return access(path, F_OK) < 0 && errno == ENOENT;
}

/* The last line the user sent, or NULL. */
static const char *last_sent(const struct test_irc_user *u)
{
	for (size_t i = u->nlog; i-- > 0; )
		if (u->log[i].sent)
			return u->log[i].text;
	return NULL;
}

/* ---- ngircd and the scripted user ------------------------------------------ */

START_TEST(ircd_users_exchange_channel_and_private_messages)
{
	const char *longnick = "bob_has_a_long_nickname_25";
	struct test_irc_user a, b;
	struct test_ircd d;
	char dir[sizeof d.dir];
	pid_t pid;

	ck_assert_int_eq(test_ircd_start(&d, NULL), 0);
	pid = d.pid;
	ck_assert_int_gt(pid, 0);
	ck_assert_int_gt(d.port, 0);
	strcpy(dir, d.dir);
	ck_assert_int_eq(test_irc_user_connect(&a, d.port, "alice"), 0);
	/* MaxNickLength = 30: a 26-character nick is accepted as it is. */
	ck_assert_int_eq(test_irc_user_connect(&b, d.port, longnick), 0);
	ck_assert_ptr_nonnull(test_irc_user_seen(&b, "^:irc\\.test\\.local 001 bob_has_a_long_nickname_25 "));
	ck_assert_int_eq(test_irc_user_expect(&a, "^:irc\\.test\\.local 372 alice :- bothost test server on loopback", 2000, NULL), 0);

	ck_assert_int_eq(test_irc_user_join(&a, "#test"), 0);
	ck_assert_int_eq(test_irc_user_join(&b, "#test"), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&a, "#test", "hello channel"), 0);
	ck_assert_int_eq(test_irc_user_expect(&b, "^:alice![^ ]+ PRIVMSG #test :hello channel$", 2000, NULL), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&b, "alice", "hello alice"), 0);
	ck_assert_int_eq(test_irc_user_expect(&a, "^:bob_has_a_long_nickname_25![^ ]+ PRIVMSG alice :hello alice$", 2000, NULL), 0);
	/* Lines read on the way stay in the log. */
	ck_assert_ptr_nonnull(test_irc_user_seen(&a, "^:bob_has_a_long_nickname_25![^ ]+ JOIN :?#test$"));
	ck_assert_uint_eq(test_irc_user_count(&a, " PRIVMSG alice :"), 1);

	ck_assert_int_eq(test_irc_user_quit(&a, "done"), 0);
	ck_assert_int_eq(test_irc_user_expect(&b, "^:alice![^ ]+ QUIT :", 2000, NULL), 0);
	test_irc_user_close(&a);
	test_irc_user_close(&b);
	ck_assert_int_ge(test_ircd_stop(&d), 0);
	ck_assert(pid_gone(pid));
	ck_assert(path_gone(dir));
	ck_assert_int_eq(d.pid, 0);
}
END_TEST

START_TEST(ircd_user_nick_in_use)
{
	struct test_irc_user a, b;
	struct test_ircd d;

	ck_assert_int_eq(test_ircd_start(&d, NULL), 0);
	ck_assert_int_eq(test_irc_user_connect(&a, d.port, "same"), 0);
	ck_assert_int_eq(test_irc_user_connect(&b, d.port, "same"), -EADDRINUSE);
	test_irc_user_close(&b);
	test_irc_user_close(&a);
	test_ircd_stop(&d);
}
END_TEST

START_TEST(ircd_penalties_off_lets_50_lines_through)
{
	struct test_irc_user a, b;
	struct test_ircd d;
	uint64_t t0;
	char text[32];

	ck_assert_int_eq(test_ircd_start(&d, NULL), 0);
	ck_assert_int_eq(test_irc_user_connect(&a, d.port, "sender"), 0);
	ck_assert_int_eq(test_irc_user_connect(&b, d.port, "receiver"), 0);
	t0 = now_ms();
	for (int i = 0; i < 50; i++) {
		snprintf(text, sizeof text, "line %d", i);
		ck_assert_int_eq(test_irc_user_privmsg(&a, "receiver", text), 0);
	}
	ck_assert_int_eq(test_irc_user_expect(&b, "PRIVMSG receiver :line 49$", 3000, NULL), 0);
	ck_assert_uint_lt(now_ms() - t0, 3000);
	ck_assert_uint_eq(test_irc_user_count(&b, "^:sender![^ ]+ PRIVMSG receiver :line [0-9]+$"), 50);
	/* The sender was not dropped for flooding. */
	ck_assert_int_eq(test_irc_user_send(&a, "PING :still-here"), 0);
	ck_assert_int_eq(test_irc_user_expect(&a, " PONG [^ ]+ :still-here$", 2000, NULL), 0);
	test_irc_user_close(&a);
	test_irc_user_close(&b);
	test_ircd_stop(&d);
}
END_TEST

START_TEST(ircd_penalties_on_throttle)
{
	struct test_ircd_opts o = { .penalties = true };
	struct test_irc_user a, b;
	struct test_ircd d;
	uint64_t t0;
	char text[32];

	ck_assert_int_eq(test_ircd_start(&d, &o), 0);
	ck_assert_int_eq(test_irc_user_connect(&a, d.port, "sender"), 0);
	ck_assert_int_eq(test_irc_user_connect(&b, d.port, "receiver"), 0);
	t0 = now_ms();
	for (int i = 0; i < 8; i++) {
		snprintf(text, sizeof text, "line %d", i);
		ck_assert_int_eq(test_irc_user_privmsg(&a, "receiver", text), 0);
	}
	ck_assert_int_eq(test_irc_user_expect(&b, "PRIVMSG receiver :line 7$", 10000, NULL), 0);
	ck_assert_uint_ge(now_ms() - t0, 1000);
	test_irc_user_close(&a);
	test_irc_user_close(&b);
	test_ircd_stop(&d);
}
END_TEST

START_TEST(ircd_ping_timeout_answered)
{
	struct test_ircd_opts o = { .ping_timeout = 5, .pong_timeout = 5 };
	struct test_irc_user a;
	struct test_ircd d;
	const char *ping;

	ck_assert_int_eq(test_ircd_start(&d, &o), 0);
	ck_assert_int_eq(test_irc_user_connect(&a, d.port, "idler"), 0);
	ck_assert_int_eq(test_irc_user_expect(&a, "^PING :irc\\.test\\.local$", 9000, &ping), 0);
	ck_assert_str_eq(last_sent(&a), "PONG :irc.test.local");
	ck_assert_int_eq(test_irc_user_send(&a, "PING :after"), 0);
	ck_assert_int_eq(test_irc_user_expect(&a, " PONG [^ ]+ :after$", 2000, NULL), 0);
	test_irc_user_close(&a);
	test_ircd_stop(&d);
}
END_TEST

START_TEST(ircd_restart_and_kill_keep_the_port)
{
	struct test_irc_user a, b, c;
	struct test_ircd d;
	char dir[sizeof d.dir];
	pid_t first, second;
	int port;

	ck_assert_int_eq(test_ircd_start(&d, NULL), 0);
	port = d.port;
	first = d.pid;
	strcpy(dir, d.dir);
	ck_assert_int_eq(test_irc_user_connect(&a, port, "early"), 0);

	ck_assert_int_eq(test_ircd_restart(&d), 0);
	ck_assert_int_eq(d.port, port);
	ck_assert(pid_gone(first));
	second = d.pid;
	ck_assert_int_gt(second, 0);
	ck_assert_int_eq(test_irc_user_expect(&a, "^never$", 3000, NULL), -ECONNRESET);
	ck_assert_int_eq(test_irc_user_connect(&b, port, "middle"), 0);

	ck_assert_int_eq(test_ircd_kill(&d), 0);
	ck_assert(pid_gone(second));
	ck_assert_int_eq(test_ircd_kill(&d), -ESRCH);
	ck_assert_int_eq(test_irc_user_expect(&b, "^never$", 3000, NULL), -ECONNRESET);
	ck_assert(!path_gone(dir));

	ck_assert_int_eq(test_ircd_restart(&d), 0);
	ck_assert_int_eq(d.port, port);
	ck_assert_int_eq(test_irc_user_connect(&c, port, "late"), 0);
	second = d.pid;
	test_irc_user_close(&a);
	test_irc_user_close(&b);
	test_irc_user_close(&c);
	ck_assert_int_ge(test_ircd_stop(&d), 0);
	ck_assert(pid_gone(second));
	ck_assert(path_gone(dir));
	ck_assert_int_eq(test_ircd_stop(&d), -1);
}
END_TEST

START_TEST(ircd_start_failure_leaves_nothing)
{
	struct test_ircd d;

	/* A server that cannot start: exec fails in the child. */
	setenv("NGIRCD", "/nonexistent/ngircd", 1);
	ck_assert_int_eq(test_ircd_start(&d, NULL), -ECHILD);
	unsetenv("NGIRCD");
	ck_assert_int_eq(d.pid, 0);
	ck_assert_str_eq(d.dir, "");
	ck_assert_int_eq(test_ircd_restart(&d), -EINVAL);
	ck_assert_int_eq(test_ircd_stop(&d), -1);
}
END_TEST

START_TEST(ircd_restart_fails_while_the_port_is_taken)
{
	struct test_ircd d;
	int fd, port;

	ck_assert_int_eq(test_ircd_start(&d, NULL), 0);
	ck_assert_int_eq(test_ircd_kill(&d), 0);
	/* Someone else listens on the port now. */
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)d.port) };
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	port = d.port;
	ck_assert_int_eq(test_ircd_restart(&d), -EADDRINUSE);
	ck_assert_int_eq(d.pid, 0);
	close(fd);
	ck_assert_int_eq(test_ircd_restart(&d), 0);
	ck_assert_int_eq(d.port, port);
	test_ircd_stop(&d);
}
END_TEST

START_TEST(ircd_regex_quote)
{
	char out[64];

	ck_assert_str_eq(test_irc_regex_quote("a[b]|c.d", out, sizeof out), "a\\[b\\]\\|c\\.d");
	ck_assert_str_eq(test_irc_regex_quote("#chan", out, sizeof out), "#chan");
	ck_assert_str_eq(test_irc_regex_quote("abcdef", out, 4), "abc");
}
END_TEST

/* ---- the scripted fake server ------------------------------------------------- */

START_TEST(fake_registers_user_and_records_lines)
{
	struct test_fake *f = test_fake_new();
	char longline[2001];
	struct test_irc_user u;
	const char *line;
	pid_t pid;
	size_t head;

	ck_assert_ptr_nonnull(f);
	head = (size_t)snprintf(longline, sizeof longline, ":peer!p@h PRIVMSG #chan :");
	memset(longline + head, 'x', 2000 - head);
	longline[2000] = '\0';
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_send(f, "@time=2024-01-01T00:00:00.000Z;msgid=abc :peer!p@h PRIVMSG $1 :tagged %s", "hello"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #chan :(.*)$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, ":peer!p@h NOTICE #chan :you said $1 ($$5)"), 0);
	ck_assert_int_eq(test_fake_send_raw(f, longline, 2000), 0);
	ck_assert_int_eq(test_fake_send_raw(f, "\r\n", 2), 0);
	ck_assert_int_eq(test_fake_close(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "([", 10), -EINVAL);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);
	ck_assert_int_eq(test_fake_wait(f, 10), -EINVAL);
	pid = test_fake_pid(f);
	ck_assert_int_gt(pid, 0);

	ck_assert_int_eq(test_irc_user_connect(&u, test_fake_port(f), "scripted"), 0);
	ck_assert_ptr_nonnull(test_irc_user_seen(&u, "^:irc\\.test\\.local 001 scripted :"));
	ck_assert_int_eq(test_irc_user_expect(&u, " 005 scripted .*CASEMAPPING=rfc1459", 2000, NULL), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, "^@time=[^ ]+;msgid=abc :peer!p@h PRIVMSG scripted :tagged hello$", 2000, NULL), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&u, "#chan", "round trip"), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, " NOTICE #chan :you said round trip \\(\\$5\\)$", 2000, NULL), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, "^:peer!p@h PRIVMSG #chan :x+$", 2000, &line), 0);
	ck_assert_uint_eq(strlen(line), 2000);
	ck_assert_int_eq(test_irc_user_expect(&u, "^never$", 2000, NULL), -ECONNRESET);

	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	ck_assert_str_eq(test_fake_report(f), "");
	ck_assert_int_eq(test_fake_connections(f), 1);
	ck_assert_uint_eq(test_fake_nlines(f), 3);
	ck_assert_str_eq(test_fake_line(f, 0), "NICK scripted");
	ck_assert_str_eq(test_fake_line(f, 1), "USER scripted 0 * :scripted user scripted");
	ck_assert_str_eq(test_fake_line(f, 2), "PRIVMSG #chan :round trip");
	ck_assert_ptr_null(test_fake_line(f, 3));
	ck_assert_int_eq(test_fake_wait_line(f, "^USER ", 0, 100), 1);
	ck_assert_int_eq(test_fake_wait_line(f, "^USER ", 2, 50), -ETIMEDOUT);

	ck_assert_int_eq(test_fake_stop(f), 0);
	ck_assert(pid_gone(pid));
	ck_assert_int_eq(test_fake_pid(f), 0);
	ck_assert_str_eq(test_fake_line(f, 2), "PRIVMSG #chan :round trip");
	test_irc_user_close(&u);
	test_fake_free(f);
}
END_TEST

START_TEST(fake_answers_433_to_every_nick)
{
	struct test_fake *f = test_fake_new();
	struct test_irc_user u;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_answer(f, "^NICK :?([^ ]+)$",
					  ":irc.test.local 433 * $1 :Nickname is already in use"), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);
	ck_assert_int_eq(test_irc_user_connect(&u, test_fake_port(f), "taken"), -EADDRINUSE);
	ck_assert_int_eq(test_irc_user_send(&u, "NICK taken_"), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, "^:irc\\.test\\.local 433 \\* taken_ :", 2000, NULL), 0);
	ck_assert_int_eq(test_fake_wait_line(f, "^NICK taken_$", 0, 2000), 2);
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	test_irc_user_close(&u);
	ck_assert_int_eq(test_fake_stop(f), 0);
	test_fake_free(f);
}
END_TEST

START_TEST(fake_reports_failed_expect_and_stops_the_script)
{
	struct test_fake *f = test_fake_new();
	struct test_irc_user u;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^NEVER SENT$", 300), 0);
	ck_assert_int_eq(test_fake_send(f, "NOTICE $1 :after the failure"), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);
	ck_assert_int_eq(test_irc_user_connect(&u, test_fake_port(f), "client"), 0);
	ck_assert_int_eq(test_fake_done(f, 3000), -EPROTO);
	ck_assert_ptr_nonnull(strstr(test_fake_report(f), "step 3 (expect /^NEVER SENT$/): timed out"));
	ck_assert_int_eq(test_irc_user_expect(&u, "after the failure", 300, NULL), -ETIMEDOUT);
	/* The server still answers PING after the script ended. */
	ck_assert_int_eq(test_irc_user_send(&u, "PING :tail"), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, " PONG [^ ]+ :tail$", 2000, NULL), 0);
	test_irc_user_close(&u);
	ck_assert_int_eq(test_fake_stop(f), -EPROTO);
	test_fake_free(f);
}
END_TEST

START_TEST(fake_silent_records_a_line_without_line_feed)
{
	static const char partial[] = "PRIVMSG #x :no line feed";
	struct test_fake *f = test_fake_new();
	struct test_irc_user u;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_silent(f, 0), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);
	ck_assert_int_eq(test_irc_user_connect(&u, test_fake_port(f), "quiet"), 0);
	ck_assert_int_eq(test_irc_user_send(&u, "PING :anyone"), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, "PONG", 300, NULL), -ETIMEDOUT);
	ck_assert_int_eq(test_fake_done(f, 50), -ETIMEDOUT);
	ck_assert_int_eq(write(u.fd, partial, strlen(partial)), (ssize_t)strlen(partial));
	test_irc_user_close(&u);
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	ck_assert_int_eq(test_fake_wait_line(f, "^PRIVMSG #x :no line feed$", 0, 2000), 3);
	ck_assert_int_eq(test_fake_wait_line(f, "^PING :anyone$", 0, 0), 2);
	test_fake_free(f);
}
END_TEST

START_TEST(fake_reset_then_accept_a_reconnect)
{
	struct test_fake *f = test_fake_new();
	struct test_irc_user u;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_reset(f), 0);
	ck_assert_int_eq(test_fake_accept(f, 3000), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^QUIT :(.*)$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, "ERROR :Closing link ($1)"), 0);
	ck_assert_int_eq(test_fake_close(f), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	ck_assert_int_eq(test_irc_user_connect(&u, test_fake_port(f), "first"), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, "^never$", 2000, NULL), -ECONNRESET);
	test_irc_user_close(&u);
	ck_assert_int_eq(test_irc_user_connect(&u, test_fake_port(f), "second"), 0);
	ck_assert_int_eq(test_irc_user_quit(&u, "see you"), 0);
	ck_assert_ptr_nonnull(test_irc_user_seen(&u, "^ERROR :Closing link \\(see you\\)$"));
	test_irc_user_close(&u);
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	ck_assert_int_eq(test_fake_connections(f), 2);
	ck_assert_int_eq(test_fake_wait_line(f, "^NICK second$", 0, 0), 2);
	ck_assert_int_eq(test_fake_stop(f), 0);
	test_fake_free(f);
}
END_TEST

/* Read from fd until the buffer holds want or the deadline passes. */
static bool read_until(int fd, char *buf, size_t n, const char *want, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;

	buf[0] = '\0';
	while (!strstr(buf, want) && len + 1 < n && now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			continue;
		ssize_t k = read(fd, buf + len, n - len - 1);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = '\0';
	}
	return strstr(buf, want) != NULL;
}

START_TEST(fake_listens_on_ipv6_loopback)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct test_fake *f = test_fake_new();
	char buf[256];
	int fd;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_expect(f, "^HELLO (.+)$", 3000), 0);
	ck_assert_int_eq(test_fake_send(f, "WORLD $1"), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET6), 0);
	sa.sin6_port = htons((uint16_t)test_fake_port(f));
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(write(fd, "HELLO v6\r\n", 10), 10);
	ck_assert(read_until(fd, buf, sizeof buf, "WORLD v6\r\n", 2000));
	ck_assert_int_eq(test_fake_done(f, 2000), 0);
	close(fd);
	test_fake_free(f);
}
END_TEST

START_TEST(fake_stop_mid_script_leaves_no_process)
{
	struct test_fake *f = test_fake_new();
	struct test_irc_user u;
	uint64_t t0;
	pid_t pid;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_wait(f, 60000), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);
	pid = test_fake_pid(f);
	ck_assert_int_eq(test_irc_user_connect(&u, test_fake_port(f), "waiting"), 0);
	t0 = now_ms();
	ck_assert_int_eq(test_fake_stop(f), -EINPROGRESS);
	ck_assert_uint_lt(now_ms() - t0, 5000);
	ck_assert(pid_gone(pid));
	ck_assert_int_eq(test_irc_user_expect(&u, "^never$", 2000, NULL), -ECONNRESET);
	test_irc_user_close(&u);
	test_fake_free(f);
}
END_TEST

START_TEST(fake_no_client_fails_accept)
{
	struct test_fake *f = test_fake_new();

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_close(f), 0);
	ck_assert_int_eq(test_fake_accept(f, 100), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);
	/* The implicit first accept waits; a client that connects and leaves
	 * satisfies it, then nobody comes for the second. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)test_fake_port(f)) };
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(test_fake_done(f, 3000), -EPROTO);
	ck_assert_ptr_nonnull(strstr(test_fake_report(f), "step 2 (accept): no client connected in time"));
	close(fd);
	test_fake_free(f);
}
END_TEST

static Suite *ircd_suite(void)
{
	Suite *s = suite_create("ircd");
	TCase *t = tcase_create("ngircd");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, ircd_users_exchange_channel_and_private_messages);
	tcase_add_test(t, ircd_user_nick_in_use);
	tcase_add_test(t, ircd_penalties_off_lets_50_lines_through);
	tcase_add_test(t, ircd_restart_and_kill_keep_the_port);
	tcase_add_test(t, ircd_start_failure_leaves_nothing);
	tcase_add_test(t, ircd_restart_fails_while_the_port_is_taken);
	tcase_add_test(t, ircd_regex_quote);
	suite_add_tcase(s, t);

	/* ngircd's own clocks: penalties and ping timeouts take seconds (make check-slow) */
	t = tcase_create("ngircd-slow");
	tcase_set_tags(t, "slow");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, ircd_penalties_on_throttle);
	tcase_add_test(t, ircd_ping_timeout_answered);
	suite_add_tcase(s, t);

	t = tcase_create("fake");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, fake_registers_user_and_records_lines);
	tcase_add_test(t, fake_answers_433_to_every_nick);
	tcase_add_test(t, fake_reports_failed_expect_and_stops_the_script);
	tcase_add_test(t, fake_silent_records_a_line_without_line_feed);
	tcase_add_test(t, fake_reset_then_accept_a_reconnect);
	tcase_add_test(t, fake_listens_on_ipv6_loopback);
	tcase_add_test(t, fake_stop_mid_script_leaves_no_process);
	tcase_add_test(t, fake_no_client_fails_accept);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ircd_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
