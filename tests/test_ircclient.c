/* SPDX-License-Identifier: ISC */
/* libircclient programs as bothost behaviours: each program of
 * tests/ircclient/ (written only against libircclient's API) runs twice on
 * the same private ngircd, first built against the real libircclient and
 * talking to the server itself, then built against libbotkit-ircclient as a
 * [resident] of bothost. A scripted user (alice, in #test) types the same
 * things in both runs and must see the same answers. Also: what a session
 * does with bad input and after it ends (the _bk programs' exits, the host's
 * handlers). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "libircclient.h"
#include "ircd.h"
#include "tests/paths.h"

#define WAIT_MS 5000
#define ANSWERS_MAX 16

/* What the user saw the bot answer: its lines without the source. */
struct answers {
	char *line[ANSWERS_MAX];
	size_t n;
};

/* One test's world: the server and alice, a user in #test. */
struct world {
	struct test_ircd ircd;
	struct test_irc_user alice;
	char dir[64];
};

/* What alice does to a program, waiting for each answer. */
typedef void (*script_fn)(struct world *w);

/* Wait for a line matching re, or fail with alice's transcript. */
static void expect(struct test_irc_user *u, const char *re)
{
	int r = test_irc_user_expect(u, re, WAIT_MS, NULL);

	if (r != 0)
		test_irc_user_dump(u, stderr);
	ck_assert_msg(r == 0, "alice never saw /%s/ (%d)", re, r);
}

/* The bot's PRIVMSG and NOTICE lines alice received from log entry `from` on,
 * without their source (the bot's user and host differ between the runs). */
static void collect(const struct test_irc_user *u, size_t from, struct answers *a)
{
	for (size_t i = from; i < u->nlog; i++) {
		const char *t = u->log[i].text, *sp;
		if (u->log[i].sent || strncmp(t, ":bot!", 5) != 0 || !(sp = strchr(t, ' ')))
			continue;
		if (strncmp(sp + 1, "PRIVMSG ", 8) != 0 && strncmp(sp + 1, "NOTICE ", 7) != 0)
			continue;
		ck_assert_uint_lt(a->n, ANSWERS_MAX);
		a->line[a->n++] = strdup(sp + 1);
	}
}

/* Free the answers. */
static void answers_free(struct answers *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->line[i]);
	a->n = 0;
}

/* Start ngircd; alice joins #test. */
static void world_start(struct world *w)
{
	memset(w, 0, sizeof *w);
	ck_assert_int_eq(test_ircd_start(&w->ircd, NULL), 0);
	ck_assert_int_eq(test_irc_user_connect(&w->alice, w->ircd.port, "alice"), 0);
	ck_assert_int_eq(test_irc_user_join(&w->alice, "#test"), 0);
	snprintf(w->dir, sizeof w->dir, "/tmp/test-ircclient.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(w->dir));
}

/* Stop everything. */
static void world_stop(struct world *w)
{
	char path[128];

	test_irc_user_close(&w->alice);
	test_ircd_stop(&w->ircd);
	snprintf(path, sizeof path, "%s/bothost.conf", w->dir);
	unlink(path);
	rmdir(w->dir);
}

/* The real run: NAME_real talks to ngircd as "bot"; alice's answers. */
static void run_real(struct world *w, const char *name, script_fn script, struct answers *a)
{
	char path[512], port[16];
	size_t from;
	pid_t pid;
	int status;

	snprintf(path, sizeof path, "%s/tests/ircclient/%s_real", TOP_BUILDDIR, name);
	snprintf(port, sizeof port, "%d", w->ircd.port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(path, path, "127.0.0.1", port, "bot", "#test", (char *)NULL);
		_exit(127);
	}
	expect(&w->alice, "^:bot![^ ]+ JOIN :?#test$");
	from = w->alice.nlog;
	script(w);
	collect(&w->alice, from, a);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	expect(&w->alice, "^:bot![^ ]+ QUIT");
}

/* The bothost run: NAME_bk as a [resident] of a bot "bot" in #test. */
static void run_host(struct world *w, const char *name, script_fn script, struct answers *a)
{
	char conf[128];
	const char *args[] = { "--config", conf, NULL };
	struct test_host host;
	size_t from;
	FILE *f;

	snprintf(conf, sizeof conf, "%s/bothost.conf", w->dir);
	ck_assert_ptr_nonnull(f = fopen(conf, "w"));
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\nnick = bot\nchannel = #test\nburst = 100\n"
		   "line_interval = 10ms\n[resident %s]\nexec = %s/tests/ircclient/%s_bk\n"
		   "arg = 127.0.0.1\narg = %d\narg = bot\narg = #test\n",
		w->ircd.port, name, TOP_BUILDDIR, name, w->ircd.port);
	fclose(f);
	ck_assert_int_eq(test_host_start(&host, args), 0);
	expect(&w->alice, "^:bot![^ ]+ JOIN :?#test$");
	/* the session's three registrations: line, connect, disconnect */
	ck_assert_int_eq(test_host_stat_wait(&host, "handlers", 3, WAIT_MS), 3);
	from = w->alice.nlog;
	script(w);
	collect(&w->alice, from, a);
	test_host_stop(&host);
	expect(&w->alice, "^:bot![^ ]+ QUIT");
}

/* Both runs; the answers must be the same, and those expected. */
static void compare(const char *name, script_fn script, const char *const *want)
{
	struct answers real = { 0 }, host = { 0 };
	struct world w;
	size_t n = 0;

	world_start(&w);
	run_real(&w, name, script, &real);
	run_host(&w, name, script, &host);
	while (want[n])
		n++;
	for (size_t i = 0; i < real.n || i < host.n; i++)
		fprintf(stderr, "%s: real \"%s\", bothost \"%s\"\n", name, i < real.n ? real.line[i] : "",
			i < host.n ? host.line[i] : "");
	ck_assert_uint_eq(real.n, n);
	ck_assert_uint_eq(host.n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(real.line[i], want[i]);
		ck_assert_str_eq(host.line[i], real.line[i]);
	}
	answers_free(&real);
	answers_free(&host);
	world_stop(&w);
}

/* ---- the scripts ---------------------------------------------------------------- */

/* carol joins #test and is greeted. */
static void greeter_script(struct world *w)
{
	struct test_irc_user carol;

	ck_assert_int_eq(test_irc_user_connect(&carol, w->ircd.port, "carol"), 0);
	ck_assert_int_eq(test_irc_user_join(&carol, "#test"), 0);
	expect(&w->alice, "^:bot![^ ]+ PRIVMSG #test :hello, carol!$");
	test_irc_user_quit(&carol, "bye");
	test_irc_user_close(&carol);
}

/* .echo twice; other text gets no answer. */
static void answerer_script(struct world *w)
{
	ck_assert_int_eq(test_irc_user_privmsg(&w->alice, "#test", "just talking"), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&w->alice, "#test", ".echo hi there"), 0);
	expect(&w->alice, "^:bot![^ ]+ PRIVMSG #test :alice said hi there$");
	ck_assert_int_eq(test_irc_user_privmsg(&w->alice, "#test", ".echo \0034colour\003"), 0);
	expect(&w->alice, "^:bot![^ ]+ PRIVMSG #test :alice said .4colour.$");
}

/* .ping in the channel and in private, then .quit in private. */
static void selectloop_script(struct world *w)
{
	ck_assert_int_eq(test_irc_user_privmsg(&w->alice, "#test", ".ping"), 0);
	expect(&w->alice, "^:bot![^ ]+ PRIVMSG #test :pong$");
	ck_assert_int_eq(test_irc_user_privmsg(&w->alice, "bot", ".ping"), 0);
	expect(&w->alice, "^:bot![^ ]+ PRIVMSG alice :pong \\(private\\)$");
	ck_assert_int_eq(test_irc_user_privmsg(&w->alice, "bot", ".quit"), 0);
	expect(&w->alice, "^:bot![^ ]+ PRIVMSG alice :bye$");
}

/* CTCP SOURCE and USERINFO; an unknown one gets no answer. */
static void ctcp_script(struct world *w)
{
	ck_assert_int_eq(test_irc_user_send(&w->alice, "PRIVMSG bot :\001XYZZY\001"), 0);
	ck_assert_int_eq(test_irc_user_send(&w->alice, "PRIVMSG bot :\001SOURCE\001"), 0);
	expect(&w->alice, "^:bot![^ ]+ NOTICE alice :\001SOURCE https://example.org/ctcp-bot\001$");
	ck_assert_int_eq(test_irc_user_send(&w->alice, "PRIVMSG bot :\001USERINFO\001"), 0);
	expect(&w->alice, "^:bot![^ ]+ NOTICE alice :\001USERINFO a libircclient program\001$");
}

/* .count three times: the context keeps the count. */
static void ctx_script(struct world *w)
{
	for (int i = 1; i <= 3; i++) {
		char re[64];
		ck_assert_int_eq(test_irc_user_privmsg(&w->alice, "#test", ".count"), 0);
		snprintf(re, sizeof re, "^:bot![^ ]+ PRIVMSG #test :counted %d$", i);
		expect(&w->alice, re);
	}
}

START_TEST(greeter_greets_the_same)
{
	static const char *const want[] = { "PRIVMSG #test :hello, carol!", NULL };

	compare("greeter", greeter_script, want);
}
END_TEST

START_TEST(answerer_answers_the_same)
{
	static const char *const want[] = { "PRIVMSG #test :alice said hi there",
					     "PRIVMSG #test :alice said \0034colour\003", NULL };

	compare("answerer", answerer_script, want);
}
END_TEST

START_TEST(select_loop_answers_the_same)
{
	static const char *const want[] = { "PRIVMSG #test :pong", "PRIVMSG alice :pong (private)",
					     "PRIVMSG alice :bye", NULL };

	compare("selectloop", selectloop_script, want);
}
END_TEST

START_TEST(ctcp_responder_answers_the_same)
{
	static const char *const want[] = { "NOTICE alice :\001SOURCE https://example.org/ctcp-bot\001",
					     "NOTICE alice :\001USERINFO a libircclient program\001", NULL };

	compare("ctcp", ctcp_script, want);
}
END_TEST

START_TEST(context_program_counts_the_same)
{
	static const char *const want[] = { "PRIVMSG #test :counted 1", "PRIVMSG #test :counted 2",
					     "PRIVMSG #test :counted 3", NULL };

	compare("ctx", ctx_script, want);
}
END_TEST

/* ---- a session in this process: bad input, raw lines, DCC, the end ---------------- */

static int connects;

/* Count event_connect. */
static void count_connect(irc_session_t *s, const char *event, const char *origin, const char **params,
			  unsigned int count)
{
	connects++;
}

START_TEST(session_refuses_bad_input_and_leaves_nothing)
{
	irc_callbacks_t cb = { .event_connect = count_connect };
	struct world w;
	struct test_host host;
	char conf[128];
	const char *args[] = { "--config", conf, NULL };
	irc_session_t *s;
	FILE *f;

	world_start(&w);
	snprintf(conf, sizeof conf, "%s/bothost.conf", w.dir);
	ck_assert_ptr_nonnull(f = fopen(conf, "w"));
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\nnick = bot\nchannel = #test\nburst = 100\nline_interval = 10ms\n",
		w.ircd.port);
	fclose(f);
	ck_assert_int_eq(test_host_start(&host, args), 0);
	expect(&w.alice, "^:bot![^ ]+ JOIN :?#test$");
	ck_assert_ptr_nonnull(s = irc_create_session(&cb));
	/* not attached yet */
	ck_assert_int_eq(irc_cmd_msg(s, "#test", "hi"), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_STATE);
	ck_assert_int_eq(irc_connect(s, NULL, 6667, NULL, "bot", NULL, NULL), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_INVAL);
	setenv("BOTKIT_SOCKET", host.path, 1);
	ck_assert_int_eq(irc_connect(s, "ignored.example", 1, "pw", "ignored", "u", "r"), 0);
	ck_assert_int_eq(irc_is_connected(s), 1);
	ck_assert_int_eq(irc_connect(s, "x", 1, NULL, "y", NULL, NULL), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_STATE);
	ck_assert_int_eq(test_host_stat_wait(&host, "handlers", 3, WAIT_MS), 3);

	/* CR and LF are refused, nothing is sent */
	ck_assert_int_eq(irc_cmd_msg(s, "#test", "one\r\nQUIT :gone"), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_INVAL);
	ck_assert_int_eq(irc_cmd_notice(s, "#test\n", "x"), 1);
	ck_assert_int_eq(irc_cmd_msg(s, "#test", NULL), 1);
	ck_assert_int_eq(irc_send_raw(s, "PRIVMSG #test :%s", "a\nQUIT"), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_INVAL);
	/* raw: what the irc object expresses passes, the rest is refused */
	ck_assert_int_eq(irc_send_raw(s, "LIST"), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_NOTSUPPORTED);
	ck_assert_int_eq(irc_send_raw(s, "OPER root secret"), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_NOTSUPPORTED);
	ck_assert_int_eq(irc_send_raw(s, ":me!x@y PRIVMSG #test :spoofed"), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_INVAL);
	ck_assert_str_eq(irc_strerror(LIBIRC_ERR_NOTSUPPORTED),
			 "Not supported by bothost (DCC, or a command the irc object cannot express)");
	ck_assert_int_eq(irc_dcc_chat(s, NULL, "alice", NULL, NULL), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_NOTSUPPORTED);
	ck_assert_int_eq(irc_send_raw(s, "PRIVMSG #test :raw %d", 42), 0);
	ck_assert_int_eq(irc_cmd_me(s, "#test", "waves"), 0);
	ck_assert_int_eq(irc_cmd_ctcp_request(s, "alice", "PING 123"), 0);
	expect(&w.alice, "^:bot![^ ]+ PRIVMSG #test :raw 42$");
	/* the host's queue may put the CTCP before the action */
	if (!test_irc_user_seen(&w.alice, "^:bot![^ ]+ PRIVMSG alice :\001PING 123\001$"))
		expect(&w.alice, "^:bot![^ ]+ PRIVMSG alice :\001PING 123\001$");
	if (!test_irc_user_seen(&w.alice, "^:bot![^ ]+ PRIVMSG #test :\001ACTION waves\001$"))
		expect(&w.alice, "^:bot![^ ]+ PRIVMSG #test :\001ACTION waves\001$");
	ck_assert_int_eq(test_irc_user_count(&w.alice, "QUIT"), 0);

	/* event_connect comes from the loop, once */
	ck_assert_int_eq(connects, 0);
	{
		fd_set in, out;
		int maxfd = 0;
		FD_ZERO(&in);
		FD_ZERO(&out);
		ck_assert_int_eq(irc_add_select_descriptors(s, &in, &out, &maxfd), 0);
		ck_assert_int_eq(irc_process_select_descriptors(s, &in, &out), 0);
	}
	ck_assert_int_eq(connects, 1);
	/* the session ends; the bot stays, and nothing of the session is left */
	ck_assert_int_eq(irc_cmd_quit(s, "bye"), 0);
	ck_assert_int_eq(irc_run(s), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_CLOSED);
	ck_assert_int_eq(connects, 1);
	ck_assert_int_eq(irc_is_connected(s), 0);
	ck_assert_int_eq(irc_cmd_msg(s, "#test", "late"), 1);
	ck_assert_int_eq(irc_errno(s), LIBIRC_ERR_STATE);
	ck_assert_int_eq(test_host_stat_wait(&host, "handlers", 0, WAIT_MS), 0);
	ck_assert_int_eq(test_host_stat_wait(&host, "clients", 0, WAIT_MS), 0);
	irc_destroy_session(s);
	ck_assert_int_eq(test_irc_user_count(&w.alice, "^:bot![^ ]+ QUIT"), 0);
	test_host_stop(&host);
	world_stop(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ircclient");
	TCase *tc = tcase_create("compat");
	SRunner *sr;
	int failed;

	if (!getenv("BOTHOST")) {
		fprintf(stderr, "SKIP: BOTHOST is not set\n");
		return 77;
	}
	tcase_add_test(tc, greeter_greets_the_same);
	tcase_add_test(tc, answerer_answers_the_same);
	tcase_add_test(tc, select_loop_answers_the_same);
	tcase_add_test(tc, ctcp_responder_answers_the_same);
	tcase_add_test(tc, context_program_counts_the_same);
	tcase_add_test(tc, session_refuses_bad_input_and_leaves_nothing);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
