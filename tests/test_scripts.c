/* SPDX-License-Identifier: ISC */
/* The bundled behaviours (scripts/) against a private ngircd and a bothost
 * started with a configuration pointing at it. Each behaviour runs the way
 * the host runs it: a clean environment, $BOTKIT_SOCKET, and its context in
 * BOTKIT_* variables (host.context() answers null to a process the host did
 * not spawn). Scripted IRC users type and check what the bot says. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "botkit.h"
#include "botkit-store.h"
#include "harness.h"
#include "ircd.h"
#include "tests/paths.h"

#define WAIT_MS 5000
#define PROC_MS 10000
#define PROC_BUF 16384
#define ENV_MAX 24

/* One test's world: the server, the host, a client of the host, and alice,
 * a user in #test. */
struct env {
	struct test_ircd ircd;
	struct test_host host;
	char dir[64];		/* the configuration file, and state files */
	char conf[128];
	bk_conn *c;
	struct test_irc_user alice;
	long functions;		/* live host functions once all this runs */
};

/* A behaviour process and what it wrote on stdout and stderr. */
struct proc {
	pid_t pid;
	int out;		/* read end of its stdout and stderr; -1 at end of file */
	char buf[PROC_BUF];
	size_t len;
};

/* ---- the world -------------------------------------------------------------- */

/* Call irc.method() without arguments; the result (caller frees) or NULL. */
static cJSON *irc_get(struct env *e, const char *method)
{
	cJSON *res = NULL;

	return bk_call_sync(e->c, "irc", method, &res, "") == 0 ? res : NULL;
}

/* Whether the bot is in channel now. */
static bool bot_in(struct env *e, const char *channel)
{
	cJSON *chans = irc_get(e, "getChannels");
	const cJSON *ch;
	bool found = false;

	cJSON_ArrayForEach(ch, chans) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "name"));
		found = found || (name && strcmp(name, channel) == 0);
	}
	bk_json_delete(chans);
	return found;
}

/* Wait until the bot is in channel. */
static void wait_bot_in(struct env *e, const char *channel)
{
	uint64_t deadline = test_now_ms() + 10000;

	while (!bot_in(e, channel)) {
		ck_assert_msg(test_now_ms() < deadline, "the bot did not join %s", channel);
		usleep(20000);
	}
}

/* Wait until the host knows nick is in channel: the server may pass a JOIN
 * on to the bot a little later than it confirms it to the one joining. */
static void wait_user_in(struct env *e, const char *channel, const char *nick)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	bool found = false;

	while (!found) {
		cJSON *users = NULL;
		const cJSON *u;
		ck_assert_msg(test_now_ms() < deadline, "the host never saw %s join %s", nick, channel);
		if (bk_call_sync(e->c, "irc", "getUsers", &users, "s", channel) == 0)
			cJSON_ArrayForEach(u, users) {
				const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(u, "nick"));
				found = found || (n && strcmp(n, nick) == 0);
			}
		bk_json_delete(users);
		if (!found)
			usleep(10000);
	}
}

/* Start ngircd and make the state directory. */
static void env_prepare(struct env *e)
{
	memset(e, 0, sizeof *e);
	ck_assert_int_eq(test_ircd_start(&e->ircd, NULL), 0);
	snprintf(e->dir, sizeof e->dir, "/tmp/test-scripts.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
}

/* Write the configuration (the bot in #test plus extra [irc] lines, the
 * store in the test's directory, then extra sections), start bothost and
 * connect the test's client. */
static void env_host_start(struct env *e, const char *extra_irc, const char *sections)
{
	const char *args[] = { "--config", e->conf, NULL };
	FILE *f = fopen(e->conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\nnick = bot\nusername = botuser\nchannel = #test\n%s"
		   "burst = 100\nline_interval = 10ms\nreconnect_min = 300ms\n[store]\npath = %s/store.db\n%s",
		e->ircd.port, extra_irc ? extra_irc : "", e->dir, sections ? sections : "");
	fclose(f);
	ck_assert_int_eq(test_host_start(&e->host, args), 0);
	ck_assert_int_eq(bk_conn_new_path(&e->c, e->host.path, "test_scripts"), 0);
	wait_bot_in(e, "#test");
}

/* alice joins #test, and the host knows it. */
static void env_alice(struct env *e)
{
	ck_assert_int_eq(test_irc_user_connect(&e->alice, e->ircd.port, "alice"), 0);
	ck_assert_int_eq(test_irc_user_join(&e->alice, "#test"), 0);
	wait_user_in(e, "#test", "alice");
	e->functions = test_host_stat(&e->host, "functions");
	ck_assert_int_ge(e->functions, 0);
}

/* The whole world, without behaviour sections. */
static void env_start(struct env *e, const char *extra_irc)
{
	env_prepare(e);
	env_host_start(e, extra_irc, NULL);
	env_alice(e);
}

/* Remove one entry of a tree being removed (nftw, depth first). */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

/* Remove the state directory and everything in it (the store, the
 * behaviours' directories). */
static void env_remove_dir(struct env *e)
{
	if (e->dir[0])
		nftw(e->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Stop bothost, once; it must exit cleanly. */
static void env_stop_host(struct env *e)
{
	int status;

	if (e->host.pid <= 0)
		return;
	e->c = bk_conn_unref(e->c);
	status = test_host_stop(&e->host);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bothost exited with status %#x", status);
}

/* Stop everything. */
static void env_stop(struct env *e)
{
	test_irc_user_close(&e->alice);
	env_stop_host(e);
	test_ircd_stop(&e->ircd);
	env_remove_dir(e);
}

/* Read the user's lines until one matches (deadline WAIT_MS); the line. */
static const char *expect(struct test_irc_user *u, const char *re)
{
	const char *line = NULL;
	int r = test_irc_user_expect(u, re, WAIT_MS, &line);

	if (r < 0)
		test_irc_user_dump(u, stderr);
	ck_assert_msg(r == 0, "%s never saw /%s/: %s", u->nick, re, strerror(-r));
	return line;
}

/* Read the user's lines until both have arrived, in either order. */
static void expect_any_order(struct test_irc_user *u, const char *re1, const char *re2)
{
	if (!test_irc_user_seen(u, re1))
		expect(u, re1);
	if (!test_irc_user_seen(u, re2))
		expect(u, re2);
}

/* ---- behaviour processes ------------------------------------------------------- */

/* The environment bothost gives a behaviour: a clean base, the socket, the
 * sanitizers' settings when the test has them, then extra entries. */
static void proc_env(struct env *e, const char *const *extra, char **envp, char *socket_var, size_t n)
{
	static const char *const pass[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "BOTCTL", NULL };
	static char passed[4][512];
	size_t k = 0;

	snprintf(socket_var, n, "BOTKIT_SOCKET=%s", e->host.path);
	envp[k++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
	envp[k++] = (char *)"LANG=C.UTF-8";
	envp[k++] = socket_var;
	for (size_t i = 0; pass[i]; i++)
		if (getenv(pass[i])) {
			snprintf(passed[i], sizeof passed[i], "%s=%s", pass[i], getenv(pass[i]));
			envp[k++] = passed[i];
		}
	for (size_t i = 0; extra && extra[i] && k < ENV_MAX - 1; i++)
		envp[k++] = (char *)extra[i];
	envp[k] = NULL;
}

/* Start a behaviour: path (absolute), the NULL-terminated arguments after
 * argv[0] (or NULL), and extra environment entries (or NULL). */
static void proc_start(struct proc *p, struct env *e, const char *path, const char *const *args,
		       const char *const *extra_env)
{
	char *argv[16] = { (char *)path }, *envp[ENV_MAX], socket_var[400];
	int o[2];

	for (size_t i = 0; args && args[i] && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	proc_env(e, extra_env, envp, socket_var, sizeof socket_var);
	memset(p, 0, sizeof *p);
	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(o[1], 1) < 0 || dup2(o[1], 2) < 0 ||
		    chdir(e->dir) < 0)
			_exit(127);
		execve(path, argv, envp);
		_exit(127);
	}
	close(o[1]);
	p->out = o[0];
}

/* Collect output for at most ms; false once there is none left to wait for. */
static bool proc_pump(struct proc *p, int ms)
{
	struct pollfd pfd = { .fd = p->out, .events = POLLIN };
	ssize_t n;

	if (p->out < 0)
		return false;
	if (poll(&pfd, 1, ms) <= 0)
		return true;
	if (p->len == sizeof p->buf - 1)
		p->len = 0;	/* a full buffer starts again: only recent output matters */
	n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
	if (n > 0)
		p->len += (size_t)n;
	else if (n == 0 || errno != EINTR)
		p->out = (close(p->out), -1);
	p->buf[p->len] = '\0';
	return true;
}

/* Wait for the behaviour to exit (killed at PROC_MS); its exit code, or 128 +
 * the signal that ended it. The output is printed for diagnostics. */
static int proc_finish(struct proc *p)
{
	uint64_t end = test_now_ms() + PROC_MS;
	int st;

	while (test_now_ms() < end && proc_pump(p, (int)(end - test_now_ms())))
		;
	if (p->out >= 0) {
		kill(p->pid, SIGKILL);
		close(p->out);
	}
	ck_assert_int_eq(waitpid(p->pid, &st, 0), p->pid);
	if (p->len)
		fprintf(stderr, "[%d] %s", (int)p->pid, p->buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Stop a resident (SIGTERM) and collect it; its status as proc_finish. */
static int proc_stop(struct proc *p)
{
	kill(p->pid, SIGTERM);
	return proc_finish(p);
}

/* Run a behaviour to its end; its status. */
static int run(struct env *e, const char *path, const char *const *args, const char *const *extra_env)
{
	struct proc p;

	proc_start(&p, e, path, args, extra_env);
	return proc_finish(&p);
}

/* Run a command behaviour of the build tree as if alice typed it in #test
 * (private: in a private message to the bot), with text after the command. */
static int run_command(struct env *e, const char *prog, const char *text, bool private)
{
	char path[512], args[512];
	const char *env[] = { "BOTKIT_KIND=command", "BOTKIT_NICK=alice", "BOTKIT_HOSTMASK=alice!alice@127.0.0.1",
			      private ? "BOTKIT_CHANNEL=" : "BOTKIT_CHANNEL=#test",
			      private ? "BOTKIT_TARGET=alice" : "BOTKIT_TARGET=#test", args, NULL };

	snprintf(path, sizeof path, "%s/%s", SCRIPTS_BUILDDIR, prog);
	snprintf(args, sizeof args, "BOTKIT_ARGS=%s", text);
	return run(e, path, NULL, env);
}

/* Start a resident of the build tree, with extra environment entries. */
static void resident_start(struct proc *p, struct env *e, const char *prog, const char *const *extra_env)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", SCRIPTS_BUILDDIR, prog);
	proc_start(p, e, path, NULL, extra_env);
}

/* Wait until the host counts want event registrations (residents' only:
 * the test's own client registers none). */
static void wait_handlers(struct env *e, long want)
{
	long n = test_host_stat_wait(&e->host, "handlers", want, WAIT_MS);

	ck_assert_msg(n == want, "host has %ld handlers, expected %ld", n, want);
}

/* ---- one-shot commands ------------------------------------------------------------- */

START_TEST(hello_answers_in_channel_and_privately)
{
	struct env e;

	env_start(&e, NULL);
	ck_assert_int_eq(run_command(&e, "hello", "", false), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :hello, alice$");
	ck_assert_int_eq(run_command(&e, "hello", "", true), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG alice :hello, alice$");
	/* Nowhere to answer: the run fails. */
	{
		char path[512];
		const char *env[] = { "BOTKIT_NICK=alice", NULL };
		snprintf(path, sizeof path, "%s/hello", SCRIPTS_BUILDDIR);
		ck_assert_int_eq(run(&e, path, NULL, env), 1);
	}
	/* No host at all. */
	{
		char path[512];
		const char *env[] = { "BOTKIT_SOCKET=/nonexistent/bothost.sock", NULL };
		snprintf(path, sizeof path, "%s/hello", SCRIPTS_BUILDDIR);
		ck_assert_int_eq(run(&e, path, NULL, env), 1);
	}
	ck_assert_int_eq(test_host_stat_wait(&e.host, "clients", 1, WAIT_MS), 1);
	env_stop(&e);
}
END_TEST

/* Check a roll answer: n dice of sides, the shown dice add up to the total. */
static void check_roll(const char *line, unsigned n, unsigned sides)
{
	const char *p = strstr(line, " rolled ");
	unsigned gn, gs, sum = 0, v, total;
	int used;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, " rolled %ud%u: %n", &gn, &gs, &used), 2);
	ck_assert_uint_eq(gn, n);
	ck_assert_uint_eq(gs, sides);
	p += used;
	if (n > 10) {
		ck_assert_int_eq(sscanf(p, "total %u", &total), 1);
		ck_assert(total >= n && total <= n * sides);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(sscanf(p, "%u%n", &v, &used), 1);
		ck_assert(v >= 1 && v <= sides);
		sum += v;
		p += used;
		if (i + 1 < n) {
			ck_assert(strncmp(p, " + ", 3) == 0);
			p += 3;
		}
	}
	if (n > 1)
		ck_assert_int_eq(sscanf(p, " = %u", &total), 1);
	else
		total = sum;
	ck_assert_uint_eq(total, sum);
}

START_TEST(dice_rolls_and_refuses_bad_input)
{
	static const char *const bad[] = { "", "0d6", "101d6", "2d1", "2d1001", "dice", "2d6 3d6", "-1d6",
					   "2d6x", "99999d6", "2d", "d6", "2x6", NULL };
	struct env e;

	env_start(&e, NULL);
	ck_assert_int_eq(run_command(&e, "dice", "2d6", false), 0);
	check_roll(expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice rolled 2d6: "), 2, 6);
	ck_assert_int_eq(run_command(&e, "dice", "1d20", false), 0);
	check_roll(expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice rolled 1d20: [0-9]+$"), 1, 20);
	ck_assert_int_eq(run_command(&e, "dice", "100D1000", true), 0);
	check_roll(expect(&e.alice, "^:bot![^ ]+ PRIVMSG alice :alice rolled 100d1000: total "), 100, 1000);
	for (const char *const *b = bad; *b; b++) {
		ck_assert_int_eq(run_command(&e, "dice", *b, false), 0);
		expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :usage: !dice NdM \\(1-100 dice of 2-1000 sides\\)$");
	}
	env_stop(&e);
}
END_TEST

/* Start bothost on conf (the whole file: default pacing), its log going to
 * the file logpath, and connect the test's client. */
static void env_host_logged(struct env *e, const char *conf, const char *logpath)
{
	const char *args[] = { "--config", e->conf, NULL };
	FILE *f = fopen(e->conf, "w");
	int fd, saved;

	ck_assert_ptr_nonnull(f);
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\nnick = bot\nchannel = #test\n%s", e->ircd.port, conf);
	fclose(f);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	ck_assert_int_eq(test_host_start(&e->host, args), 0);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_eq(bk_conn_new_path(&e->c, e->host.path, "test_scripts"), 0);
	wait_bot_in(e, "#test");
	env_alice(e);
}

/* Lines of the file at path holding needle. */
static int log_count(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* Wait until no process of the behaviour name runs. */
static void wait_idle(struct env *e, const char *name)
{
	for (uint64_t deadline = test_now_ms() + 3 * WAIT_MS;;) {
		cJSON *list = NULL, *b;
		int running = -1;
		ck_assert_int_eq(bk_call_sync(e->c, "bot", "list", &list, ""), 0);
		cJSON_ArrayForEach(b, list)
			if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(b, "name")), name) == 0)
				running = cJSON_GetArraySize(cJSON_GetObjectItem(b, "running"));
		bk_json_delete(list);
		if (running == 0)
			return;
		ck_assert_msg(test_now_ms() < deadline, "%s still runs", name);
		usleep(20000);
	}
}

/* With the default configuration, 12 dice in one write get rolls or one
 * refusal naming the user, and another user's dice a second later is
 * answered; no process is logged as timed out. */
START_TEST(dice_flood_answered_or_refused_once)
{
	char conf[512], logpath[128], burst[512] = "";
	struct test_irc_user bob;
	struct env e;

	env_prepare(&e);
	snprintf(logpath, sizeof logpath, "%s/log", e.dir);
	/* The default configuration but user_commands: the test's users share one host. */
	snprintf(conf, sizeof conf, "[bothost]\nuser_commands = 20/1m\n[command dice]\nexec = %s/dice\n",
		 SCRIPTS_BUILDDIR);
	env_host_logged(&e, conf, logpath);
	ck_assert_int_eq(test_irc_user_connect(&bob, e.ircd.port, "bob"), 0);
	ck_assert_int_eq(test_irc_user_join(&bob, "#test"), 0);
	wait_user_in(&e, "#test", "bob");
	for (int i = 0; i < 12; i++)
		strcat(burst, i ? "\r\nPRIVMSG #test :!dice 1d6" : "PRIVMSG #test :!dice 1d6");
	ck_assert_int_eq(test_irc_user_send(&e.alice, "%s", burst), 0);
	check_roll(expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice rolled 1d6: "), 1, 6);
	usleep(1000 * 1000);
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "!dice 1d6"), 0);
	check_roll(expect(&bob, "^:bot![^ ]+ PRIVMSG #test :bob rolled 1d6: "), 1, 6);
	wait_idle(&e, "dice");
	test_irc_user_expect(&e.alice, "never", 300, NULL);
	ck_assert_uint_le(test_irc_user_count(&e.alice, "PRIVMSG #test :alice: dice is busy"), 1);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "PRIVMSG #test :dice is busy"), 0);
	test_irc_user_close(&bob);
	env_stop_host(&e);
	ck_assert_int_eq(log_count(logpath, "timed out"), 0);
	unlink(logpath);
	env_stop(&e);
}
END_TEST

/* An answer waiting in the paced queue is the host's: the process that
 * handed it over is not timed out while the queue holds it. */
START_TEST(answer_in_queue_is_not_timed_out)
{
	char conf[512], logpath[128];
	struct env e;

	env_prepare(&e);
	snprintf(logpath, sizeof logpath, "%s/log", e.dir);
	snprintf(conf, sizeof conf, "burst = 1\nline_interval = 600ms\n[bothost]\nuser_commands = 100/1m\n"
		 "[command dice]\nexec = %s/dice\ntimeout = 1s\nmax_running = 10\n", SCRIPTS_BUILDDIR);
	env_host_logged(&e, conf, logpath);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!dice 2d6"), 0);
	for (int i = 0; i < 4; i++)
		check_roll(expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice rolled 2d6: "), 2, 6);
	wait_idle(&e, "dice");
	env_stop_host(&e);
	ck_assert_int_eq(log_count(logpath, "timed out"), 0);
	ck_assert_int_eq(log_count(logpath, "exited with code 0"), 4);
	unlink(logpath);
	env_stop(&e);
}
END_TEST

START_TEST(whois_summarizes_or_says_no_such_nick)
{
	struct env e;
	const char *line;

	env_start(&e, NULL);
	ck_assert_int_eq(run_command(&e, "whois", "alice", false), 0);
	line = expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice is [^ ]*alice@[^ ]+ ");
	ck_assert_ptr_nonnull(strstr(line, " on irc.test.local"));
	ck_assert_ptr_nonnull(strstr(line, "#test"));
	ck_assert_ptr_nonnull(strstr(line, ", idle "));
	ck_assert_int_eq(run_command(&e, "whois", "nobody", false), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :no such nick: nobody$");
	ck_assert_int_eq(run_command(&e, "whois", "#test", true), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG alice :not a valid nick: #test$");
	ck_assert_int_eq(run_command(&e, "whois", "", false), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :usage: !whois NICK$");
	/* The callback was called and released: nothing of the runs is left. */
	ck_assert_int_eq(test_host_stat_wait(&e.host, "clients", 1, WAIT_MS), 1);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "functions", e.functions, WAIT_MS), e.functions);
	env_stop(&e);
}
END_TEST

START_TEST(fortune_says_through_botctl)
{
	struct env e;
	const char *chan[] = { "BOTKIT_KIND=command", "BOTKIT_NICK=alice", "BOTKIT_CHANNEL=#test",
			       "BOTKIT_TARGET=#test", NULL };
	const char *priv[] = { "BOTKIT_TARGET=alice", NULL };

	ck_assert_msg(getenv("BOTCTL") != NULL, "BOTCTL is not set");
	env_start(&e, NULL);
	ck_assert_int_eq(run(&e, SCRIPTS_SRCDIR "/fortune.sh", NULL, chan), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice: .+$");
	ck_assert_int_eq(run(&e, SCRIPTS_SRCDIR "/fortune.sh", NULL, priv), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG alice :[^ ].*$");
	ck_assert_int_eq(run(&e, SCRIPTS_SRCDIR "/fortune.sh", NULL, NULL), 1);
	env_stop(&e);
}
END_TEST

/* ---- a timer ------------------------------------------------------------------------ */

START_TEST(uptime_announces_in_the_bots_channels)
{
	struct env e;
	char path[512];
	const char *only_test[] = { "#test", NULL };
	const char *timer_env[] = { "BOTKIT_KIND=timer", "BOTKIT_NAME=uptime", NULL };

	snprintf(path, sizeof path, "%s/uptime_announce", SCRIPTS_BUILDDIR);
	env_start(&e, "channel = #other\n");
	wait_bot_in(&e, "#other");
	ck_assert_int_eq(test_irc_user_join(&e.alice, "#other"), 0);
	wait_user_in(&e, "#other", "alice");
	ck_assert_int_eq(run(&e, path, NULL, timer_env), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #(test|other) :bot has been connected to 127\\.0\\.0\\.1[^ ]* for [0-9]+s$");
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #(test|other) :bot has been connected to ");
	ck_assert_ptr_nonnull(test_irc_user_seen(&e.alice, "PRIVMSG #test :bot has been connected"));
	ck_assert_ptr_nonnull(test_irc_user_seen(&e.alice, "PRIVMSG #other :bot has been connected"));
	/* Channels given as arguments: only those. */
	ck_assert_int_eq(run(&e, path, only_test, timer_env), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bot has been connected to ");
	ck_assert_int_eq(test_irc_user_send(&e.alice, "PING :mark"), 0);
	expect(&e.alice, "PONG .*mark$");
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "PRIVMSG #other :bot has been connected"), 1);
	env_stop(&e);
}
END_TEST

/* ---- residents ---------------------------------------------------------------------- */

/* What seen's namespace of the store holds for nick (caller frees), or NULL. */
static cJSON *seen_record(struct env *e, const char *nick)
{
	cJSON *rec = NULL;

	ck_assert_int_ge(bk_store_get(e->c, "seen", nick, &rec), 0);
	return rec;
}

/* Wait until the store says nick's last event is event. */
static void wait_seen_event(struct env *e, const char *nick, const char *event)
{
	uint64_t end = test_now_ms() + WAIT_MS;
	bool found = false;

	while (!found && test_now_ms() < end) {
		cJSON *rec = seen_record(e, nick);
		const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "event"));
		found = ev && strcmp(ev, event) == 0;
		bk_json_delete(rec);
		if (!found)
			usleep(10000);
	}
	ck_assert_msg(found, "the store never recorded %s for %s", event, nick);
}

START_TEST(seen_remembers_across_restarts)
{
	struct env e;
	struct test_irc_user bob;
	struct proc seen;
	char state[128], path[256];
	const char *env[] = { state, NULL };
	cJSON *rec;

	env_start(&e, NULL);
	snprintf(state, sizeof state, "BOTKIT_STATE_DIR=%s", e.dir);
	resident_start(&seen, &e, "seen", env);
	wait_handlers(&e, 7);

	ck_assert_int_eq(test_irc_user_connect(&bob, e.ircd.port, "bob"), 0);
	ck_assert_int_eq(test_irc_user_join(&bob, "#test"), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "hello there"), 0);
	expect(&e.alice, "PRIVMSG #test :hello there$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen BOB"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob was last seen [0-9]+s ago in #test, saying: hello there$");
	ck_assert_int_eq(test_irc_user_send(&bob, "PART #test :bye now"), 0);
	expect(&e.alice, "PART #test");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen bob"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob was last seen [0-9]+s ago leaving #test \\(bye now\\)$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen alice"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice: that's you$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen carol"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :I have not seen carol$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :usage: !seen NICK$");
	/* A private message is answered privately, and not recorded (the PONG
	 * shows the server has passed bob's message on). */
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "bot", "a secret"), 0);
	ck_assert_int_eq(test_irc_user_send(&bob, "PING :sent"), 0);
	expect(&bob, "PONG .*sent$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "bot", "!seen bob"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG alice :bob was last seen [0-9]+s ago leaving #test \\(bye now\\)$");
	/* The bot hears of a quit only from someone it shares a channel with. */
	ck_assert_int_eq(test_irc_user_join(&bob, "#test"), 0);
	wait_seen_event(&e, "bob", "join");
	ck_assert_int_eq(test_irc_user_quit(&bob, "gone"), 0);
	test_irc_user_close(&bob);
	wait_seen_event(&e, "bob", "quit");

	/* Stopped and started again: the file keeps what it knew. */
	ck_assert_int_eq(proc_stop(&seen), 128 + SIGTERM);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 0, WAIT_MS), 0);
	rec = seen_record(&e, "alice");
	ck_assert_ptr_nonnull(rec);
	bk_json_delete(rec);
	/* Nothing in a file of its own. */
	snprintf(path, sizeof path, "%s/seen.json", e.dir);
	ck_assert_int_eq(access(path, F_OK), -1);
	resident_start(&seen, &e, "seen", env);
	wait_handlers(&e, 7);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen bob"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob was last seen [0-9]+s ago quitting \\((Quit: )?\"?gone\"?\\)$");
	/* The host goes away: seen exits with status 1, everything freed. */
	env_stop_host(&e);
	ck_assert_int_eq(proc_finish(&seen), 1);
	env_stop(&e);
}
END_TEST

/* An older seen's file: one that is no JSON object is moved aside, a good
 * one is moved into the store (records the store has stay) and renamed. */
START_TEST(seen_migrates_an_old_file)
{
	struct env e;
	struct proc seen;
	char path[256], aside[300], prog[512];
	const char *args[] = { path, NULL };
	cJSON *rec;
	FILE *f;

	env_start(&e, NULL);
	snprintf(prog, sizeof prog, "%s/seen", SCRIPTS_BUILDDIR);
	snprintf(path, sizeof path, "%s/seen.json", e.dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("not json", f);
	fclose(f);
	proc_start(&seen, &e, prog, args, NULL);
	wait_handlers(&e, 7);
	snprintf(aside, sizeof aside, "%s.bad", path);
	ck_assert_int_eq(access(aside, F_OK), 0);
	ck_assert_int_eq(proc_stop(&seen), 128 + SIGTERM);

	/* carol is in the store already: her newer record stays. */
	rec = cJSON_Parse("{\"nick\":\"carol\",\"time\":1,\"event\":\"join\",\"channel\":\"#new\",\"text\":null}");
	ck_assert_int_eq(bk_store_set(e.c, "seen", "carol", rec), 0);
	cJSON_Delete(rec);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("{\"bob\":{\"nick\":\"Bob\",\"time\":1000,\"event\":\"message\",\"channel\":\"#test\","
	      "\"text\":\"old words\"},\"carol\":{\"nick\":\"carol\",\"time\":1,\"event\":\"part\","
	      "\"channel\":\"#old\",\"text\":null}}", f);
	fclose(f);
	proc_start(&seen, &e, prog, args, NULL);
	wait_handlers(&e, 7);
	snprintf(aside, sizeof aside, "%s.migrated", path);
	ck_assert_int_eq(access(aside, F_OK), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen bob"), 0);
	/* "20795d 3h", or "20795d" in the first hour of the day (no "0h") */
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :Bob was last seen [0-9]+d( [0-9]+h)? ago in #test, saying: old words$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen carol"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :carol was last seen [0-9]+d( [0-9]+h)? ago joining #new$");
	ck_assert_int_eq(proc_stop(&seen), 128 + SIGTERM);
	env_stop(&e);
}
END_TEST

/* Start the command lastseen as if alice typed "!lastseen NICK" in #test. */
static void lastseen_start(struct proc *p, struct env *e, const char *nick)
{
	char path[512], args[128];
	const char *env[] = { "BOTKIT_KIND=command", "BOTKIT_NICK=alice", "BOTKIT_CHANNEL=#test",
			      "BOTKIT_TARGET=#test", args, NULL };

	snprintf(path, sizeof path, "%s/lastseen", SCRIPTS_BUILDDIR);
	snprintf(args, sizeof args, "BOTKIT_ARGS=%s", nick);
	proc_start(p, e, path, NULL, env);
}

/* The pair: seen provides the service `seen`, lastseen asks it through the
 * host, waiting 2 s for it, so it is answered across a restart of seen; with
 * no seen at all it says so after its wait. */
START_TEST(lastseen_asks_the_seen_service)
{
	struct env e;
	struct test_irc_user bob;
	struct proc seen, ls;
	char state[128];
	const char *env[] = { state, NULL };

	env_start(&e, NULL);
	snprintf(state, sizeof state, "BOTKIT_STATE_DIR=%s", e.dir);
	resident_start(&seen, &e, "seen", env);
	wait_handlers(&e, 7);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "services", 1, WAIT_MS), 1);
	ck_assert_int_eq(test_irc_user_connect(&bob, e.ircd.port, "bob"), 0);
	ck_assert_int_eq(test_irc_user_join(&bob, "#test"), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "hello there"), 0);
	expect(&e.alice, "PRIVMSG #test :hello there$");
	wait_seen_event(&e, "bob", "message");

	ck_assert_int_eq(run_command(&e, "lastseen", "BOB", false), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob was last seen [0-9]+s ago: message in #test$");
	ck_assert_int_eq(run_command(&e, "lastseen", "carol", false), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :I have not seen carol$");
	ck_assert_int_eq(run_command(&e, "lastseen", "", false), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :usage: !lastseen NICK$");

	/* seen restarts while lastseen asks: the question waits for it. */
	ck_assert_int_eq(proc_stop(&seen), 128 + SIGTERM);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "services", 0, WAIT_MS), 0);
	lastseen_start(&ls, &e, "bob");
	ck_assert_int_eq(test_host_stat_wait(&e.host, "waiting_calls", 1, WAIT_MS), 1);
	resident_start(&seen, &e, "seen", env);
	ck_assert_int_eq(proc_finish(&ls), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob was last seen [0-9]+s ago: message in #test$");

	/* No seen at all: a clear answer once the 2 s wait is over. */
	ck_assert_int_eq(proc_stop(&seen), 128 + SIGTERM);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "services", 0, WAIT_MS), 0);
	uint64_t t0 = test_now_ms();
	ck_assert_int_eq(run_command(&e, "lastseen", "bob", false), 0);
	uint64_t took = test_now_ms() - t0;
	ck_assert_msg(took >= 1900 && took < 4000, "lastseen answered after %llu ms", (unsigned long long)took);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :the seen service is not running$");
	ck_assert_int_eq(test_host_stat_wait(&e.host, "waiting_calls", 0, WAIT_MS), 0);
	test_irc_user_close(&bob);
	env_stop(&e);
}
END_TEST

/* seen as a resident of the host, which tells it the command prefix. */
START_TEST(seen_answers_the_configured_prefix)
{
	struct env e;
	char sections[1024];
	const char *line;

	env_prepare(&e);
	snprintf(sections, sizeof sections,
		 "[bothost]\ncommand_prefix = ?\n"
		 "[resident seen]\nexec = %s/seen\narg = %s/seen.json\ncommands = seen\n", SCRIPTS_BUILDDIR, e.dir);
	env_host_start(&e, NULL, sections);
	env_alice(&e);
	wait_handlers(&e, 7);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "?seen alice"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice: that's you$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "?seen bob"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :I have not seen bob$");
	/* "!seen" is not its command now: the next answer is the usage. */
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen bob"), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "?seen"), 0);
	line = expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :");
	ck_assert_msg(strstr(line, ":usage: ?seen NICK") != NULL, "unexpected answer: %s", line);
	env_stop(&e);
}
END_TEST

/* Wait until the behaviour wrote needle want times (deadline WAIT_MS). */
static void proc_wait_output(struct proc *p, const char *needle, int want)
{
	uint64_t end = test_now_ms() + WAIT_MS;
	int n = 0;

	for (;;) {
		n = 0;
		for (const char *q = p->buf; (q = strstr(q, needle)); q++)
			n++;
		if (n >= want || test_now_ms() >= end || !proc_pump(p, 20))
			break;
	}
	ck_assert_msg(n >= want, "the behaviour wrote \"%s\" %d times, expected %d:\n%s", needle, n, want,
		      p->buf);
}

/* A user connected and in #test, greeted by the greeter (who now waits). */
static void greeted(struct env *e, struct proc *greeter, struct test_irc_user *u, const char *nick)
{
	char re[128], waiting[128];

	ck_assert_int_eq(test_irc_user_connect(u, e->ircd.port, nick), 0);
	ck_assert_int_eq(test_irc_user_join(u, "#test"), 0);
	snprintf(re, sizeof re, "^:bot![^ ]+ PRIVMSG #test :welcome to #test, %s!$", nick);
	expect(&e->alice, re);
	snprintf(waiting, sizeof waiting, "waiting for the first words of %s in #test", nick);
	proc_wait_output(greeter, waiting, 1);
	if (test_host_stat_wait(&e->host, "handlers", 5, WAIT_MS) != 5) {
		proc_pump(greeter, 100);
		ck_abort_msg("handlers: %ld; greeter wrote:\n%s", test_host_stat(&e->host, "handlers"), greeter->buf);
	}
}

START_TEST(greeter_welcomes_and_stops_listening)
{
	struct env e;
	struct test_irc_user bob, carol, dave, erin;
	struct proc greeter;

	env_start(&e, "channel = #other\n");
	wait_bot_in(&e, "#other");
	ck_assert_int_eq(test_irc_user_join(&e.alice, "#other"), 0);
	wait_user_in(&e, "#other", "alice");
	resident_start(&greeter, &e, "greeter", NULL);
	wait_handlers(&e, 4);

	/* bob's first words are answered; the once registration is gone. */
	greeted(&e, &greeter, &bob, "bob");
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "hello everyone"), 0);
	expect(&bob, "^:bot![^ ]+ PRIVMSG #test :bob: nice to meet you!$");
	wait_handlers(&e, 4);

	/* A message elsewhere: the greeter waits again. Then alice speaks to
	 * carol first, and the greeter keeps quiet. */
	greeted(&e, &greeter, &carol, "carol");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#other", "elsewhere"), 0);
	proc_wait_output(&greeter, "waiting for the first words of carol in #test", 2);
	wait_handlers(&e, 5);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "hi carol"), 0);
	wait_handlers(&e, 4);
	ck_assert_int_eq(test_irc_user_privmsg(&carol, "#test", "hi alice"), 0);
	expect(&e.alice, "PRIVMSG #test :hi alice$");

	/* dave leaves without a word, erin quits: their waits are dropped. */
	greeted(&e, &greeter, &dave, "dave");
	ck_assert_int_eq(test_irc_user_send(&dave, "PART #test"), 0);
	wait_handlers(&e, 4);
	greeted(&e, &greeter, &erin, "erin");
	ck_assert_int_eq(test_irc_user_quit(&erin, "bye"), 0);
	wait_handlers(&e, 4);

	ck_assert_uint_eq(test_irc_user_count(&bob, "PRIVMSG #test :bob: nice to meet you!$"), 1);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "welcome to #test, bob!$"), 1);
	ck_assert_ptr_null(test_irc_user_seen(&e.alice, ":(carol|dave|erin): nice to meet you"));
	ck_assert_int_eq(proc_stop(&greeter), 128 + SIGTERM);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 0, WAIT_MS), 0);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "functions", e.functions, WAIT_MS), e.functions);

	/* Started again, waiting for dave, when the host goes away: the greeter
	 * exits with status 1 after freeing everything (checked by the
	 * sanitizers' leak checker in a sanitizer build). */
	resident_start(&greeter, &e, "greeter", NULL);
	wait_handlers(&e, 4);
	ck_assert_int_eq(test_irc_user_join(&dave, "#test"), 0);
	proc_wait_output(&greeter, "waiting for the first words of dave in #test", 1);
	env_stop_host(&e);
	ck_assert_int_eq(proc_finish(&greeter), 1);
	test_irc_user_close(&bob);
	test_irc_user_close(&carol);
	test_irc_user_close(&dave);
	test_irc_user_close(&erin);
	env_stop(&e);
}
END_TEST

/* ---- karma: a resident of the host, its counts in the store ------------------------------- */

/* The host with [resident karma] (state and store in the test's directory,
 * the store's file holding db_text when not NULL), karma's 2 registrations
 * made. */
static void karma_start(struct env *e, const char *db_text)
{
	char sections[1024], path[256];
	FILE *f;

	env_prepare(e);
	snprintf(path, sizeof path, "%s/store.db", e->dir);
	if (db_text) {
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		fputs(db_text, f);
		fclose(f);
	}
	snprintf(sections, sizeof sections, "[bothost]\nstate_dir = %s\n[resident karma]\nexec = %s/karma\n", e->dir,
		 SCRIPTS_BUILDDIR);
	env_host_start(e, NULL, sections);
	env_alice(e);
	wait_handlers(e, 2);
}

/* Restart the resident karma through bot.restart and wait until the new
 * process has registered again. */
static void karma_restart(struct env *e)
{
	cJSON *res = NULL, *list = NULL, *b;
	long stopped;
	bool up = false;

	ck_assert_int_eq(bk_call_sync(e->c, "bot", "restart", &res, "s", "karma"), 0);
	stopped = (long)cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "stopped"), 0));
	bk_json_delete(res);
	ck_assert_int_gt(stopped, 0);
	for (uint64_t deadline = test_now_ms() + WAIT_MS; !up; usleep(20000)) {
		ck_assert_msg(test_now_ms() < deadline, "karma was not started again");
		ck_assert_int_eq(bk_call_sync(e->c, "bot", "list", &list, ""), 0);
		cJSON_ArrayForEach(b, list) {
			const cJSON *pid = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "running"), 0);
			up = up || (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(b, "name")), "karma") == 0 && pid &&
				    (long)cJSON_GetNumberValue(pid) != stopped);
		}
		list = (bk_json_delete(list), NULL);
		up = up && test_host_stat(&e->host, "handlers") == 2;
	}
}

START_TEST(karma_counts_in_the_store)
{
	struct env e;
	struct test_irc_user bob;
	char line[64];

	karma_start(&e, NULL);
	ck_assert_int_eq(test_irc_user_connect(&bob, e.ircd.port, "bob"), 0);
	ck_assert_int_eq(test_irc_user_join(&bob, "#test"), 0);
	wait_user_in(&e, "#test", "bob");

	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "bob++ for the fix"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob has karma 1$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "Carol-- too slow"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :Carol has karma -1$");
	/* Nicks compare as IRC does; a vote for oneself changes nothing. */
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "BOB++"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :BOB has karma 1$");
	/* Not karma: no nick, a word that only ends in ++, a private message. */
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "++ <-- i++; a++b"), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "bot", "bob++"), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!karma bob"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob has karma 1$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!karma"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice has karma 0$");
	ck_assert_ptr_null(test_irc_user_seen(&e.alice, "PRIVMSG (#test :(<|i\\+|a\\+|) |alice :.*)has karma"));

	/* Two users at once, 20 votes each: no vote lost. */
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "dave++"), 0);
		ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "dave++"), 0);
	}
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :dave has karma 40$");

	/* A new process of the resident finds the counts. */
	karma_restart(&e);
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "!karma DAVE"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :DAVE has karma 40$");
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "carol--"), 0);
	snprintf(line, sizeof line, "^:bot![^ ]+ PRIVMSG #test :carol has karma -2$");
	expect(&e.alice, line);
	test_irc_user_close(&bob);
	env_stop(&e);
}
END_TEST

/* A store that cannot be opened: the answer names the file and the reason. */
START_TEST(karma_names_a_failing_store)
{
	struct env e;
	char path[256];

	karma_start(&e, "this is not an SQLite database, not at all, no no no no no no no no no no no no\n");
	snprintf(path, sizeof path, "%s/store.db", e.dir);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "bob++"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :karma: store: cannot open the database .*store\\.db: "
			 "file is not a database$");
	/* Repaired, it counts again: the host tried once more. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "bob++"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob has karma 1$");
	env_stop(&e);
}
END_TEST

/* ---- through the host: [command], [timer] and [resident] sections ---------------------- */

/* The sections running every bundled behaviour; fortune.sh runs as it is:
 * the host tells it where botctl is ($BOTCTL, beside bothost). The wrapper
 * in the state directory is left for those who run it by hand. */
static void e2e_sections(struct env *e, char *out, size_t size)
{
	char wrapper[256];
	FILE *f;

	snprintf(wrapper, sizeof wrapper, "%s/fortune", e->dir);
	f = fopen(wrapper, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\nBOTCTL='%s'; export BOTCTL\nexec '%s/fortune.sh' \"$@\"\n", getenv("BOTCTL"),
		SCRIPTS_SRCDIR);
	fclose(f);
	ck_assert_int_eq(chmod(wrapper, 0755), 0);
	snprintf(out, size,
		 "[bothost]\nuser_commands = 50/1m\n"
		 "[command hello]\nexec = %s/hello\n"
		 "[command dice]\nexec = %s/dice\nhelp = roll dice: !dice NdM\n"
		 "[command whois]\nexec = %s/whois\n"
		 "[command fortune]\nexec = " SCRIPTS_SRCDIR "/fortune.sh\n"
		 "[timer uptime]\nexec = %s/uptime_announce\nevery = 1s\n"
		 "[resident seen]\nexec = %s/seen\narg = %s/seen.json\n"
		 "[resident greeter]\nexec = %s/greeter\n"
		 "[command lastseen]\nexec = %s/lastseen\n",
		 SCRIPTS_BUILDDIR, SCRIPTS_BUILDDIR, SCRIPTS_BUILDDIR, SCRIPTS_BUILDDIR, SCRIPTS_BUILDDIR, e->dir,
		 SCRIPTS_BUILDDIR, SCRIPTS_BUILDDIR);
}

START_TEST(end_to_end_through_the_host)
{
	struct env e;
	struct test_irc_user bob;
	char sections[2048];
	const char *line;

	ck_assert_msg(getenv("BOTCTL") != NULL, "BOTCTL is not set");
	env_prepare(&e);
	e2e_sections(&e, sections, sizeof sections);
	env_host_start(&e, NULL, sections);
	/* The residents started with the host: seen's 7 registrations, the greeter's 4. */
	wait_handlers(&e, 11);
	env_alice(&e);

	/* The greeter saw alice join after it registered. */
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :welcome to #test, alice!$");

	/* Commands typed by alice run with their context from host.context();
	 * her first words are also the greeter's cue. */
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!hello"), 0);
	expect_any_order(&e.alice, "^:bot![^ ]+ PRIVMSG #test :hello, alice$",
			 "^:bot![^ ]+ PRIVMSG #test :alice: nice to meet you!$");
	wait_handlers(&e, 11);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "bot", "!hello"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG alice :hello, alice$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!dice 3d4"), 0);
	check_roll(expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice rolled 3d4: "), 3, 4);
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!dice 3 d4"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :usage: !dice NdM \\(1-100 dice of 2-1000 sides\\)$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!whois alice"), 0);
	line = expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice is [^ ]*alice@[^ ]+ ");
	ck_assert_ptr_nonnull(strstr(line, " on irc.test.local"));
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!whois nobody"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :no such nick: nobody$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!fortune"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice: .+$");

	/* The timer announces. */
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bot has been connected to 127\\.0\\.0\\.1[^ ]* for [0-9]+s$");

	/* The residents: bob is welcomed, answered, and seen. */
	ck_assert_int_eq(test_irc_user_connect(&bob, e.ircd.port, "bob"), 0);
	ck_assert_int_eq(test_irc_user_join(&bob, "#test"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :welcome to #test, bob!$");
	wait_handlers(&e, 12);
	ck_assert_int_eq(test_irc_user_privmsg(&bob, "#test", "hi all"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob: nice to meet you!$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!seen bob"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob was last seen [0-9]+s ago in #test, saying: hi all$");
	/* The command lastseen asks the resident seen's service. */
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "#test", "!lastseen bob"), 0);
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :bob was last seen [0-9]+s ago: message in #test$");
	test_irc_user_close(&bob);
	env_stop(&e);
}
END_TEST

static Suite *scripts_suite(void)
{
	Suite *s = suite_create("scripts");
	TCase *t = tcase_create("behaviours");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, hello_answers_in_channel_and_privately);
	tcase_add_test(t, dice_rolls_and_refuses_bad_input);
	tcase_add_test(t, whois_summarizes_or_says_no_such_nick);
	tcase_add_test(t, fortune_says_through_botctl);
	tcase_add_test(t, uptime_announces_in_the_bots_channels);
	tcase_add_test(t, seen_remembers_across_restarts);
	tcase_add_test(t, seen_migrates_an_old_file);
	tcase_add_test(t, seen_answers_the_configured_prefix);
	tcase_add_test(t, greeter_welcomes_and_stops_listening);
	tcase_add_test(t, karma_counts_in_the_store);
	tcase_add_test(t, karma_names_a_failing_store);
	tcase_add_test(t, end_to_end_through_the_host);
	suite_add_tcase(s, t);
	/* Paced answers and a service's wait, in real time (make check-slow). */
	t = tcase_create("behaviours-slow");
	tcase_set_tags(t, "slow");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, dice_flood_answered_or_refused_once);
	tcase_add_test(t, answer_in_queue_is_not_timed_out);
	tcase_add_test(t, lastseen_asks_the_seen_service);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scripts_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
