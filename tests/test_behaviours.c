/* SPDX-License-Identifier: ISC */
/* Behaviours as processes, end to end: a private ngircd, scripted IRC users,
 * bothost started with a configuration written by the test, and behaviours
 * that are this very program run with --behaviour MODE (commands, timers,
 * residents, owners, limits, reload, the bot object); and the pure parts
 * (rate limits, owners, daily times) in-process. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "botkit-command.h"
#include "botkit-irc.h"
#include "harness.h"
#include "ircd.h"
#include "behaviours/owners.h"
#include "behaviours/ratelimit.h"
#include "behaviours/timers.h"

#define WAIT_MS 8000

static char self_exe[PATH_MAX];

/* ---- the behaviours (this program run by bothost) ------------------------------- */

/* Reply text through the context's reply function. */
static void behaviour_reply(bk_fn *reply, const char *text)
{
	if (reply)
		bk_fn_call_sync(reply, NULL, "s", text);
}

/* echo: reply with the arguments after the mode, each in brackets, but the
 * "--" the host puts before the user's words. */
static void mode_echo(bk_fn *reply, int argc, char **argv)
{
	char text[400] = "argv:";
	bool dashes = false;

	for (int i = 3; i < argc; i++) {
		size_t n = strlen(text);
		if (!dashes && strcmp(argv[i], "--") == 0) {
			dashes = true;
			continue;
		}
		snprintf(text + n, sizeof text - n, " [%s]", argv[i]);
	}
	behaviour_reply(reply, text);
}

/* opts: parse the arguments after the mode with getopt, as a program taking
 * options would; reply with the options seen and the operands left. */
static void mode_opts(bk_fn *reply, int argc, char **argv)
{
	char text[400] = "opts:";
	int opt;

	optind = 3;
	opterr = 0;
	while ((opt = getopt(argc, argv, "hrf")) != -1)
		snprintf(text + strlen(text), sizeof text - strlen(text), " option-%c", opt == '?' ? optopt : opt);
	for (int i = optind; i < argc; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), " [%s]", argv[i]);
	behaviour_reply(reply, text);
}

/* detach: leave a grandchild behind in a session of its own (setsid and a
 * double fork), holding the connection; say its pid, then hang (argv[3]
 * "hang") or exit. */
static void mode_detach(bk_fn *reply, int argc, char **argv)
{
	struct timespec ts = { 20, 0 };
	char text[64];
	int p[2];
	pid_t mid, grandchild = 0;

	if (pipe(p) < 0 || (mid = fork()) < 0)
		return;
	if (mid == 0) {
		close(p[0]);
		setsid();
		if (fork() == 0) {
			pid_t self = getpid();
			ssize_t w = write(p[1], &self, sizeof self);
			close(p[1]);
			(void)w;
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	waitpid(mid, NULL, 0);
	if (read(p[0], &grandchild, sizeof grandchild) != (ssize_t)sizeof grandchild)
		grandchild = 0;
	close(p[0]);
	snprintf(text, sizeof text, "detached %ld", (long)grandchild);
	behaviour_reply(reply, text);
	if (argc > 3 && strcmp(argv[3], "hang") == 0)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
}

/* An environment variable, or "(unset)". */
static const char *env_or(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "(unset)";
}

/* env: reply with the environment and the context the host gave. */
static void mode_env(bk_fn *reply, const cJSON *ctx)
{
	char text[450];
	const char *sock = getenv("BOTKIT_SOCKET");

	snprintf(text, sizeof text,
		 "env kind=%s name=%s args=%s nick=%s mask=%s channel=%s target=%s socket=%s | ctx %s %s "
		 "text=%s args=%d private=%s",
		 env_or("BOTKIT_KIND"), env_or("BOTKIT_NAME"), env_or("BOTKIT_ARGS"), env_or("BOTKIT_NICK"),
		 env_or("BOTKIT_HOSTMASK"), env_or("BOTKIT_CHANNEL"), env_or("BOTKIT_TARGET"),
		 sock && access(sock, F_OK) == 0 ? "yes" : "no",
		 cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "kind")),
		 cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "name")),
		 cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "text")),
		 cJSON_GetArraySize(cJSON_GetObjectItem(ctx, "args")),
		 cJSON_IsTrue(cJSON_GetObjectItem(ctx, "private")) ? "yes" : "no");
	behaviour_reply(reply, text);
}

/* A limit as "SOFT/HARD", "inf" for none. */
static void limit_text(int resource, char *buf, size_t size)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0)
		snprintf(buf, size, "?");
	else if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(buf, size, "inf/%s", rl.rlim_max == RLIM_INFINITY ? "inf" : "?");
	else
		snprintf(buf, size, "%llu/%llu", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
}

/* limits: reply with some of the process's limits and its NoNewPrivs. */
static void mode_limits(bk_fn *reply)
{
	char files[48], cpu[48], core[48], text[200], line[128] = "", nnp[8] = "?";
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "NoNewPrivs:", 11) == 0)
			snprintf(nnp, sizeof nnp, "%.1s", line + 11 + strspn(line + 11, " \t"));
	if (f)
		fclose(f);
	limit_text(RLIMIT_NOFILE, files, sizeof files);
	limit_text(RLIMIT_CPU, cpu, sizeof cpu);
	limit_text(RLIMIT_CORE, core, sizeof core);
	snprintf(text, sizeof text, "limits files=%s cpu=%s core=%s nnp=%s", files, cpu, core, nnp);
	behaviour_reply(reply, text);
}

/* The error name of a failed call, or "ok". */
static const char *call_outcome(bk_conn *c, int r)
{
	return r == 0 ? "ok" : bk_conn_last_error(c) ? bk_error_name(bk_conn_last_error(c)) : "?";
}

/* priv: try the privileged methods, on the behaviour's own connection and on
 * a new one to $BOTKIT_SOCKET (as a botctl it ran would), and say what the
 * host answered. */
static void mode_priv(bk_conn *c, bk_fn *reply)
{
	char text[200], raw[64], reload[64], viasocket[64] = "noconnect";
	const char *path = getenv("BOTKIT_SOCKET");
	bk_conn *other = NULL;

	snprintf(raw, sizeof raw, "%s", call_outcome(c, bk_irc_raw(c, "PING :behaviour")));
	snprintf(reload, sizeof reload, "%s", call_outcome(c, bk_call_sync(c, "bot", "reload", NULL, "")));
	if (path && bk_conn_new_path(&other, path, "viasocket") == 0) {
		snprintf(viasocket, sizeof viasocket, "%s",
			 call_outcome(other, bk_call_sync(other, "bot", "reload", NULL, "")));
		bk_conn_unref(other);
	}
	snprintf(text, sizeof text, "raw=%s reload=%s socket=%s", raw, reload, viasocket);
	behaviour_reply(reply, text);
}

/* hang: say so, then sleep until killed (or 20 s). */
static void mode_hang(bk_fn *reply)
{
	struct timespec ts = { 20, 0 };

	behaviour_reply(reply, "hanging");
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A resident's handler: "rping" gets "rpong PID", "!ask WORDS" (a command
 * word the resident claims) "answer PID: WORDS", "!many N" N lines "many
 * I/N" (one answer of N lines). */
static void resident_message(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	const char *text = bk_irc_event_text(ev);
	char many[2048] = "";

	if (text && strcmp(text, "rping") == 0)
		bk_irc_event_replyf(ev, "rpong %ld", (long)getpid());
	else if (text && strncmp(text, "!ask ", 5) == 0)
		bk_irc_event_replyf(ev, "answer %ld: %s", (long)getpid(), text + 5);
	else if (text && strncmp(text, "!many ", 6) == 0) {
		int n = atoi(text + 6);
		for (int i = 1; i <= n && i <= 50; i++) {
			size_t len = strlen(many);
			snprintf(many + len, sizeof many - len, "%smany %d/%d", i > 1 ? "\n" : "", i, n);
		}
		bk_irc_event_replyf(ev, "%s", many);
	}
}

/* A resident's second handler, so that handler counts say two. */
static void resident_join(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
}

/* resident: two handlers, then serve until the host goes away. */
static int mode_resident(bk_conn *c)
{
	if (bk_irc_on_message(c, resident_message, NULL, NULL, NULL) < 0 ||
	    bk_irc_on_join(c, resident_join, NULL, NULL, NULL) < 0)
		return 1;
	bk_run(c);
	return 0;
}

/* A claimed word's handler: "karma PID cmd=WORD rest=[REST] argc=N first=ARG". */
static void karma_command(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	const char *first = bk_irc_event_arg(ev, 0);

	bk_irc_event_replyf(ev, "karma %ld cmd=%s rest=[%s] argc=%u first=%s", (long)getpid(),
			    bk_irc_event_string(ev, "command"), bk_irc_event_rest(ev), bk_irc_event_argc(ev),
			    first ? first : "-");
}

/* cmdres: a resident that answers the command word karma (bk_irc_on_command,
 * no `commands =`), until the host goes away. */
static int mode_command_resident(bk_conn *c)
{
	if (bk_irc_on_command(c, "karma", karma_command, NULL, NULL, NULL) < 0)
		return 1;
	bk_run(c);
	return 0;
}

/* The state directory as the process sees it: "state env=E ctx=C mode=M
 * mine=yes|no", M the permission bits in octal ("none": no directory). */
static void state_text(const cJSON *ctx, char *text, size_t size)
{
	const char *env = getenv("BOTKIT_STATE_DIR");
	const char *in_ctx = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "state_dir"));
	struct stat st;
	bool dir = env && stat(env, &st) == 0 && S_ISDIR(st.st_mode);
	char mode[16] = "none";

	if (dir)
		snprintf(mode, sizeof mode, "%o", (unsigned)(st.st_mode & 07777));
	snprintf(text, size, "state env=%s ctx=%s mode=%s mine=%s", env ? env : "(unset)", in_ctx ? in_ctx : "(none)",
		 mode, dir && st.st_uid == geteuid() ? "yes" : "no");
}

/* A state resident's handler: "state?" gets state_text of the context. */
static void state_message(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	const char *said = bk_irc_event_text(ev);
	char text[400];

	if (said && strcmp(said, "state?") == 0) {
		state_text(userdata, text, sizeof text);
		bk_irc_event_replyf(ev, "%s", text);
	}
}

/* stateres: a resident answering "state?", until the host goes away. */
static int mode_state_resident(bk_conn *c, const cJSON *ctx)
{
	if (bk_irc_on_message(c, state_message, (void *)ctx, NULL, NULL) < 0)
		return 1;
	bk_run(c);
	return 0;
}

/* say CHANNEL TEXT: say TEXT and the kind in CHANNEL (a timer). */
static void mode_say(bk_conn *c, int argc, char **argv)
{
	if (argc >= 5)
		bk_irc_sayf(c, argv[3], "%s %s", argv[4], env_or("BOTKIT_KIND"));
}

/* Commands this process has served: a prestarted process serves one. */
static int prestarted_runs;

/* pre SUB: a command through bk_command_open (which waits in bot.park()
 * when prestarted). SUB echo: reply with the pid, the runs of this process,
 * argc, the words, $BOTKIT_ARGS, $BOTKIT_PRESTARTED, $PRE_TRACE (set by the
 * process after its reply: never seen by the next one), the open files
 * limit and NoNewPrivs; hang: say "hanging" and sleep; priv: try
 * bot.reload. */
static int mode_prestarted(int argc, char **argv)
{
	const char *sub = argc > 3 ? argv[3] : "";
	char words[200] = "", files[48], text[450], line[128] = "", nnp[8] = "?";
	struct timespec ts = { 20, 0 };
	bk_command *cmd;
	FILE *f;

	if (bk_command_open(&cmd, "pre", argc, argv) < 0)
		return 2;
	prestarted_runs++;
	for (unsigned i = 0; i < bk_command_argc(cmd); i++)
		snprintf(words + strlen(words), sizeof words - strlen(words), " [%s]", bk_command_arg(cmd, i));
	if (strcmp(sub, "hang") == 0) {
		bk_command_reply(cmd, "hanging");
		bk_run(bk_command_get_conn(cmd));
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	} else if (strcmp(sub, "priv") == 0) {
		bk_conn *c = bk_command_get_conn(cmd);
		bk_command_replyf(cmd, "reload=%s", call_outcome(c, bk_call_sync(c, "bot", "reload", NULL, "")));
	} else {
		f = fopen("/proc/self/status", "r");
		while (f && fgets(line, sizeof line, f))
			if (strncmp(line, "NoNewPrivs:", 11) == 0)
				snprintf(nnp, sizeof nnp, "%.1s", line + 11 + strspn(line + 11, " \t"));
		if (f)
			fclose(f);
		limit_text(RLIMIT_NOFILE, files, sizeof files);
		snprintf(text, sizeof text, "pre pid=%ld runs=%d argc=%d words=%s args=%s prestarted=%s trace=%s "
			 "files=%s nnp=%s", (long)getpid(), prestarted_runs, argc, words, env_or("BOTKIT_ARGS"),
			 env_or("BOTKIT_PRESTARTED"), env_or("PRE_TRACE"), files, nnp);
		bk_command_reply(cmd, text);
	}
	setenv("PRE_TRACE", "seen", 1);
	return bk_command_finish(cmd);
}

/* The program as a behaviour: argv[2] is the mode. */
static int behaviour_main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";
	cJSON *ctx = NULL;
	bk_conn *c;
	bk_fn *reply;
	int r = 0;

	if (strcmp(mode, "pre") == 0)
		return mode_prestarted(argc, argv);
	if (bk_conn_new(&c, mode) < 0)
		return 2;
	if (bk_call_sync(c, "host", "context", &ctx, "") < 0)
		return 3;
	reply = bk_json_get_fn(cJSON_GetObjectItem(ctx, "reply"));
	if (strcmp(mode, "echo") == 0)
		mode_echo(reply, argc, argv);
	else if (strcmp(mode, "env") == 0)
		mode_env(reply, ctx);
	else if (strcmp(mode, "limits") == 0)
		mode_limits(reply);
	else if (strcmp(mode, "priv") == 0)
		mode_priv(c, reply);
	else if (strcmp(mode, "hang") == 0)
		mode_hang(reply);
	else if (strcmp(mode, "say") == 0)
		mode_say(c, argc, argv);
	else if (strcmp(mode, "opts") == 0)
		mode_opts(reply, argc, argv);
	else if (strcmp(mode, "detach") == 0)
		mode_detach(reply, argc, argv);
	else if (strcmp(mode, "resident") == 0)
		r = mode_resident(c);
	else if (strcmp(mode, "stateres") == 0)
		r = mode_state_resident(c, ctx);
	else if (strcmp(mode, "cmdres") == 0)
		r = mode_command_resident(c);
	else if (strcmp(mode, "state") == 0) {
		char text[400];
		state_text(ctx, text, sizeof text);
		behaviour_reply(reply, text);
	}
	bk_json_delete(ctx);
	bk_conn_unref(c);
	return r;
}

/* ---- the world --------------------------------------------------------------------- */

struct env {
	struct test_ircd ircd;
	struct test_host host;
	char dir[64];
	char conf[128];
	char bothost_keys[512];		/* extra [bothost] lines */
	const char *pacing;		/* the [irc] pacing lines (NULL: none) */
	bk_conn *c;			/* the test's own client, connected when needed */
	struct test_irc_user alice;
	struct test_irc_user bob;
	struct test_irc_user boss;
};

/* Write the configuration: [bothost] with the owner and keys, [irc] for the
 * server, then sections, in which EXE stands for this program. */
static void env_write_conf(struct env *e, const char *sections)
{
	char tmp[200];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", e->conf);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[bothost]\nowner = boss!*@*\n%s\n[irc]\nserver = 127.0.0.1:%d\nnick = bhbot\n"
		"channel = #test\n%sreconnect_min = 300ms\nreconnect_max = 1s\n"
		"join_retry = 1s\n\n", e->bothost_keys, e->ircd.port,
		e->pacing ? e->pacing : "burst = 100\nline_interval = 0s\n");
	for (const char *s = sections; *s; ) {
		const char *exe = strstr(s, "EXE");
		size_t n = exe ? (size_t)(exe - s) : strlen(s);
		fwrite(s, 1, n, f);
		s += n;
		if (exe) {
			fputs(self_exe, f);
			s += 3;
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, e->conf), 0);
}

/* Wait for a line matching re on u; dump the transcript on failure. */
static const char *expect(struct test_irc_user *u, const char *re)
{
	const char *line = NULL;
	int r = test_irc_user_expect(u, re, WAIT_MS, &line);

	if (r < 0)
		test_irc_user_dump(u, stderr);
	ck_assert_msg(r == 0, "%s did not see /%s/ (%d)", u->nick, re, r);
	return line;
}

/* Say text in #test as u. */
static void say(struct test_irc_user *u, const char *text)
{
	ck_assert_int_eq(test_irc_user_privmsg(u, "#test", text), 0);
}

/* Start ngircd and alice in #test; make the test's directory. */
static void env_prepare(struct env *e, const char *bothost_keys)
{
	memset(e, 0, sizeof *e);
	snprintf(e->bothost_keys, sizeof e->bothost_keys, "%s", bothost_keys);
	ck_assert_int_eq(test_ircd_start(&e->ircd, NULL), 0);
	snprintf(e->dir, sizeof e->dir, "/tmp/test-behaviours.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	ck_assert_int_eq(test_irc_user_connect(&e->alice, e->ircd.port, "alice"), 0);
	ck_assert_int_eq(test_irc_user_join(&e->alice, "#test"), 0);
}

/* Start bothost with the configuration and wait until the bot is in #test. */
static void env_host(struct env *e, const char *sections)
{
	const char *args[] = { "--config", e->conf, NULL };

	env_write_conf(e, sections);
	ck_assert_int_eq(test_host_start(&e->host, args), 0);
	expect(&e->alice, "^:bhbot!\\S+ JOIN :?#test$");
}

/* The whole world. */
static void env_start(struct env *e, const char *bothost_keys, const char *sections)
{
	env_prepare(e, bothost_keys);
	env_host(e, sections);
}

/* Another user, in #test. */
static void env_user(struct env *e, struct test_irc_user *u, const char *nick)
{
	ck_assert_int_eq(test_irc_user_connect(u, e->ircd.port, nick), 0);
	ck_assert_int_eq(test_irc_user_join(u, "#test"), 0);
}

/* Another user, in #test, connecting from the address from (such as
 * 127.0.0.2: another host for the server) with the ident ident. */
static void env_user_from(struct env *e, struct test_irc_user *u, const char *nick, const char *ident,
			  const char *from)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)e->ircd.port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	const char *line;

	memset(u, 0, sizeof *u);
	frame_reader_init(&u->in, 4096);
	snprintf(u->nick, sizeof u->nick, "%s", nick);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr), 1);
	ck_assert_int_eq(inet_pton(AF_INET, from, &src.sin_addr), 1);
	u->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(u->fd, 0);
	ck_assert_int_eq(bind(u->fd, (struct sockaddr *)&src, sizeof src), 0);
	ck_assert_int_eq(connect(u->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(test_irc_user_send(u, "NICK %s", nick), 0);
	ck_assert_int_eq(test_irc_user_send(u, "USER %s 0 * :scripted user %s", ident, nick), 0);
	ck_assert_int_eq(test_irc_user_expect(u, "^(@[^ ]* )?:[^ ]+ 001 ", WAIT_MS, &line), 0);
	ck_assert_int_eq(test_irc_user_join(u, "#test"), 0);
}

/* The test's own client. */
static bk_conn *env_conn(struct env *e)
{
	if (!e->c)
		ck_assert_int_eq(bk_conn_new_path(&e->c, e->host.path, "test"), 0);
	return e->c;
}

/* Remove the test's directory and what it holds. */
static void env_remove_dir(struct env *e)
{
	const char *names[] = { "bothost.conf", "bothost.conf.tmp", "resident.bin", "new.bin" };
	char p[256];

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", e->dir, names[i]);
		unlink(p);
	}
	rmdir(e->dir);
}

/* Stop everything; bothost must exit cleanly. */
static void env_stop(struct env *e)
{
	int status;

	e->c = bk_conn_unref(e->c);
	status = test_host_stop(&e->host);
	test_irc_user_close(&e->alice);
	test_irc_user_close(&e->bob);
	test_irc_user_close(&e->boss);
	test_ircd_stop(&e->ircd);
	env_remove_dir(e);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bothost ended with status %#x", status);
}

/* bot.list() (caller frees). */
static cJSON *bot_list(struct env *e)
{
	cJSON *list = NULL;

	ck_assert_int_eq(bk_call_sync(env_conn(e), "bot", "list", &list, ""), 0);
	return list;
}

/* The entry of bot.list() named name (in list), or NULL. */
static const cJSON *list_entry_of(const cJSON *list, const char *name)
{
	const cJSON *b;

	cJSON_ArrayForEach(b, list)
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(b, "name")), name) == 0)
			return b;
	return NULL;
}

/* The pid of name's single running process, or 0. */
static long running_pid(struct env *e, const char *name)
{
	cJSON *list = bot_list(e);
	const cJSON *running = cJSON_GetObjectItem(list_entry_of(list, name), "running");
	long pid = cJSON_GetArraySize(running) == 1 ? (long)cJSON_GetArrayItem(running, 0)->valuedouble : 0;

	bk_json_delete(list);
	return pid;
}

/* Wait until name runs one process other than not_pid; its pid. */
static long wait_new_pid(struct env *e, const char *name, long not_pid)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	long pid;
	struct timespec ts = { 0, 20 * 1000000 };

	while ((pid = running_pid(e, name)) == 0 || pid == not_pid) {
		ck_assert_msg(test_now_ms() < deadline, "%s was not (re)started", name);
		nanosleep(&ts, NULL);
	}
	return pid;
}

/* Wait until name has no process running and one has exited; bot.list()
 * then (caller frees). */
static cJSON *wait_exited(struct env *e, const char *name)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	struct timespec ts = { 0, 20 * 1000000 };

	for (;;) {
		cJSON *list = bot_list(e);
		const cJSON *b = list_entry_of(list, name);
		if (cJSON_GetArraySize(cJSON_GetObjectItem(b, "running")) == 0 &&
		    cJSON_IsObject(cJSON_GetObjectItem(b, "last_exit")))
			return list;
		bk_json_delete(list);
		ck_assert_msg(test_now_ms() < deadline, "%s did not exit", name);
		nanosleep(&ts, NULL);
	}
}

/* Wait until the host holds nothing for any client but the asking one. */
static void assert_no_residue(struct env *e, long handlers)
{
	static const char *const zero[] = { "imports", "exports", "pending_in", "pending_out" };

	e->c = bk_conn_unref(e->c);
	ck_assert_int_eq(test_host_stat_wait(&e->host, "handlers", handlers, WAIT_MS), handlers);
	for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
		ck_assert_msg(test_host_stat_wait(&e->host, zero[i], 0, WAIT_MS) == 0, "%s left over", zero[i]);
}

/* ---- commands ----------------------------------------------------------------------- */

static const char commands_sections[] =
	/* Room for the echoes still exiting after their replies. */
	"[command echo]\nexec = EXE\narg = --behaviour\narg = echo\nhelp = repeats its arguments\nmax_running = 10\n"
	"[command env]\nexec = EXE\narg = --behaviour\narg = env\n"
	"[command priv]\nexec = EXE\narg = --behaviour\narg = priv\n"
	"[command privy]\nexec = EXE\narg = --behaviour\narg = priv\nprivileged = yes\n"
	"[command chan]\nexec = EXE\narg = --behaviour\narg = echo\nchannel_only = yes\n"
	"[command secret]\nexec = EXE\narg = --behaviour\narg = echo\nowner_only = yes\n";

START_TEST(commands_reply_in_channel_and_privately)
{
	struct env e;

	env_start(&e, "user_commands = 50/1m", commands_sections);
	say(&e.alice, "!echo a b");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :argv: \\[a\\] \\[b\\]$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "bhbot", "!echo x"), 0);
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG alice :argv: \\[x\\]$");
	/* Shell metacharacters are words like any others. */
	say(&e.alice, "!echo $(id) ; rm -rf / \"x\" `w` | >f");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :argv: \\[\\$\\(id\\)\\] \\[;\\] \\[rm\\] \\[-rf\\] "
		"\\[/\\] \\[\"x\"\\] \\[`w`\\] \\[\\|\\] \\[>f\\]$");
	/* The environment and the context. */
	say(&e.alice, "!env one  two");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :env kind=command name=env args=one  two nick=alice "
		"mask=alice!\\S+@\\S+ channel=#test target=#test socket=yes \\| ctx command env text=one  two "
		"args=2 private=no$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "bhbot", "!ENV"), 0);
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG alice :env kind=command name=env args= nick=alice \\S+ "
		"channel= target=alice socket=yes \\| ctx command env text= args=0 private=yes$");
	test_irc_user_close(&e.alice);
	env_stop(&e);
}
END_TEST

/* [behaviours] gives every process its limits, a section's own keys win,
 * and no process gains privileges. */
START_TEST(limits_from_the_configuration)
{
	struct env e;

	/* Under valgrind (tests/run-valgrind) bothost cannot set the open
	 * files limit, and says so in its log. */
	bool valgrind = getenv("TEST_VALGRIND") != NULL;
	const char *files48 = valgrind ? "files=\\S+" : "files=48/48";
	const char *files64 = valgrind ? "files=\\S+" : "files=64/64";
	char re[160];

	if (valgrind)
		fprintf(stderr, "limits_from_the_configuration: bothost under valgrind: the open files limit is not checked\n");
	env_start(&e, "", "[behaviours]\nlimit_files = 64\nlimit_core = 4K\n"
		  "[command lim]\nexec = EXE\narg = --behaviour\narg = limits\nlimit_cpu = 100s\nlimit_files = 48\n"
		  "[command lim2]\nexec = EXE\narg = --behaviour\narg = limits\n");
	say(&e.alice, "!lim");
	/* The soft core limit is checked in tests/test_spawn: AddressSanitizer sets its own to 0. */
	snprintf(re, sizeof re, "^:bhbot!\\S+ PRIVMSG #test :limits %s cpu=100/101 core=[0-9]+/4096 nnp=1$", files48);
	expect(&e.alice, re);
	say(&e.alice, "!lim2");
	snprintf(re, sizeof re, "^:bhbot!\\S+ PRIVMSG #test :limits %s cpu=\\S+ core=[0-9]+/4096 nnp=1$", files64);
	expect(&e.alice, re);
	test_irc_user_close(&e.alice);
	env_stop(&e);
}
END_TEST

START_TEST(commands_refused_and_helped)
{
	struct env e;

	env_start(&e, "user_commands = 50/1m", commands_sections);
	/* Notices are spaced per host: bob comes from another one. */
	env_user_from(&e, &e.bob, "bob", "bob", "127.0.0.2");
	/* An unknown command is answered once a minute per user. */
	say(&e.alice, "!nope");
	expect(&e.alice, "PRIVMSG #test :unknown command: nope \\(try !help\\)$");
	say(&e.alice, "!nope2");
	say(&e.alice, "! not a command");
	say(&e.alice, "!echo done");
	expect(&e.alice, "PRIVMSG #test :argv: \\[done\\]$");
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "unknown command"), 1);
	/* Help. */
	say(&e.alice, "!help");
	expect(&e.alice, "PRIVMSG #test :commands: !echo, !env, !priv, !privy, !chan, !help; owners only: "
		"!secret, !reload, !restart, !status; !help NAME says more$");
	say(&e.alice, "!help echo");
	expect(&e.alice, "PRIVMSG #test :!echo: repeats its arguments$");
	/* Where and by whom. */
	ck_assert_int_eq(test_irc_user_privmsg(&e.alice, "bhbot", "!chan x"), 0);
	expect(&e.alice, "PRIVMSG alice :chan works only in a channel$");
	say(&e.bob, "!secret x");
	expect(&e.bob, "PRIVMSG #test :only owners may use secret$");
	say(&e.bob, "!reload");
	say(&e.bob, "!echo after");
	expect(&e.bob, "PRIVMSG #test :argv: \\[after\\]$");
	ck_assert_uint_eq(test_irc_user_count(&e.bob, "only owners"), 1);
	/* A behaviour is unprivileged unless its section says otherwise. */
	say(&e.alice, "!priv");
	expect(&e.alice, "PRIVMSG #test :raw=PermissionDenied reload=PermissionDenied socket=PermissionDenied$");
	say(&e.alice, "!privy");
	expect(&e.alice, "PRIVMSG #test :raw=ok reload=ok socket=ok$");
	assert_no_residue(&e, 0);
	env_stop(&e);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------- */

START_TEST(limits_timeouts_caps_and_rate)
{
	struct env e;
	cJSON *list;
	const cJSON *last;

	env_start(&e, "max_processes = 2\nuser_commands = 6/20s\nuser_ignore = 30s",
		  "[command hang]\nexec = EXE\narg = --behaviour\narg = hang\nmax_running = 1\ntimeout = 3s\n"
		  "[command hang2]\nexec = EXE\narg = --behaviour\narg = hang\nmax_running = 5\ntimeout = 3s\n"
		  "[command echo]\nexec = EXE\narg = --behaviour\narg = echo\n");
	/* Users are counted by host: bob comes from another one. */
	env_user_from(&e, &e.bob, "bob", "bob", "127.0.0.2");
	say(&e.alice, "!hang");
	expect(&e.alice, "PRIVMSG #test :hanging$");
	say(&e.alice, "!hang");
	expect(&e.alice, "PRIVMSG #test :alice: hang is busy, try again shortly$");
	say(&e.alice, "!hang2");
	expect(&e.alice, "PRIVMSG #test :hanging$");
	/* One refusal per user and minute: bob hears his own. */
	say(&e.bob, "!hang2");
	expect(&e.bob, "PRIVMSG #test :bob: too many behaviours are running, try again shortly$");
	say(&e.alice, "!hang2");
	/* The runaways are stopped at their timeout. */
	list = wait_exited(&e, "hang2");
	bk_json_delete(list);
	list = wait_exited(&e, "hang");
	last = cJSON_GetObjectItem(list_entry_of(list, "hang"), "last_exit");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(last, "timed_out")));
	ck_assert_int_eq(cJSON_GetObjectItem(last, "signal")->valueint, SIGTERM);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(last, "code")));
	ck_assert_int_ge(cJSON_GetObjectItem(last, "runtime_ms")->valueint, 2900);
	ck_assert_int_lt(cJSON_GetObjectItem(last, "runtime_ms")->valueint, 6000);
	bk_json_delete(list);
	/* Two more commands are allowed, the next one is one too many. */
	say(&e.alice, "!echo 5");
	expect(&e.alice, "PRIVMSG #test :argv: \\[5\\]$");
	say(&e.alice, "!echo 6");
	expect(&e.alice, "PRIVMSG #test :argv: \\[6\\]$");
	say(&e.alice, "!echo 7");
	expect(&e.alice, "PRIVMSG #test :alice: you give commands too fast; ignoring you for 30s$");
	/* Ignored from now on, silently; others are not. */
	say(&e.alice, "!help");
	say(&e.bob, "!help");
	expect(&e.alice, "PRIVMSG #test :commands: ");
	{
		struct timespec ts = { 0, 300 * 1000000 };
		nanosleep(&ts, NULL);
	}
	test_irc_user_expect(&e.alice, "PRIVMSG #test :commands: ", 0, NULL);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "PRIVMSG #test :commands: "), 1);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "argv: \\[7\\]"), 0);
	assert_no_residue(&e, 0);
	env_stop(&e);
}
END_TEST

/* The user's words come after a "--": a program parsing options with
 * getopt takes none of them for an option. */
START_TEST(commands_words_are_never_options)
{
	struct env e;

	env_start(&e, "", "[command opts]\nexec = EXE\narg = --behaviour\narg = opts\n");
	say(&e.alice, "!opts -h --help -rf x");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :opts: \\[-h\\] \\[--help\\] \\[-rf\\] \\[x\\]$");
	say(&e.alice, "!opts");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :opts:$");
	env_stop(&e);
}
END_TEST

/* Wait until pid is gone (reaped). */
static void wait_gone(long pid)
{
	struct timespec ts = { 0, 20 * 1000000 };

	for (uint64_t deadline = test_now_ms() + WAIT_MS; kill((pid_t)pid, 0) == 0;) {
		ck_assert_msg(test_now_ms() < deadline, "process %ld outlived its behaviour", pid);
		nanosleep(&ts, NULL);
	}
}

/* What a behaviour starts ends with it, even in a session of its own
 * (setsid and a double fork): at its timeout, and when it exits. */
START_TEST(behaviour_end_takes_its_descendants)
{
	struct env e;
	const char *line;
	long pid;
	cJSON *list;

	env_start(&e, "", "[command detach]\nexec = EXE\narg = --behaviour\narg = detach\narg = hang\ntimeout = 2s\n"
		  "[command detach2]\nexec = EXE\narg = --behaviour\narg = detach\n");
	say(&e.alice, "!detach");
	line = expect(&e.alice, "PRIVMSG #test :detached [1-9][0-9]*$");
	pid = strtol(strrchr(line, ' ') + 1, NULL, 10);
	ck_assert_int_eq(kill((pid_t)pid, 0), 0);
	list = wait_exited(&e, "detach");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(list_entry_of(list, "detach"), "last_exit"),
						   "timed_out")));
	bk_json_delete(list);
	wait_gone(pid);
	/* Its connection, which the grandchild held too, is closed. */
	e.c = bk_conn_unref(e.c);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "clients", 0, WAIT_MS), 0);

	say(&e.alice, "!detach2");
	line = expect(&e.alice, "PRIVMSG #test :detached [1-9][0-9]*$");
	pid = strtol(strrchr(line, ' ') + 1, NULL, 10);
	wait_gone(pid);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "clients", 0, WAIT_MS), 0);
	env_stop(&e);
}
END_TEST

/* ---- timers --------------------------------------------------------------------------- */

START_TEST(timer_fires_and_again)
{
	struct env e;
	uint64_t first;
	cJSON *list;
	const cJSON *tick;

	env_start(&e, "", "[timer tick]\nexec = EXE\narg = --behaviour\narg = say\narg = #test\narg = tick\n"
		  "every = 1s\n");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :tick timer$");
	first = test_now_ms();
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :tick timer$");
	ck_assert_uint_ge(test_now_ms() - first, 500);
	list = bot_list(&e);
	tick = list_entry_of(list, "tick");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(tick, "kind")), "timer");
	ck_assert_int_ge(cJSON_GetObjectItem(tick, "runs")->valueint, 2);
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(tick, "next_run")));
	ck_assert_double_gt(cJSON_GetObjectItem(tick, "next_run")->valuedouble, (double)time(NULL) * 1000 - 1000);
	ck_assert_double_lt(cJSON_GetObjectItem(tick, "next_run")->valuedouble, (double)time(NULL) * 1000 + 3000);
	bk_json_delete(list);
	env_stop(&e);
}
END_TEST

/* ---- residents ---------------------------------------------------------------------------- */

/* Copy this program to path (through a temporary file renamed over it). */
static void copy_self(const char *dir, const char *path)
{
	char tmp[256], buf[65536];
	int in = open(self_exe, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	snprintf(tmp, sizeof tmp, "%s/new.bin", dir);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(out, 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	ck_assert_int_eq(close(out), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

/* Ask the resident for its pid over IRC and check the answer. */
static void rping(struct env *e, long pid)
{
	char re[64];

	say(&e->alice, "rping");
	snprintf(re, sizeof re, "PRIVMSG #test :rpong %ld$", pid);
	expect(&e->alice, re);
}

START_TEST(resident_restarts)
{
	struct env e;
	char exe[128], sections[512];
	long pid, pid2, pid3, pid4;
	cJSON *res = NULL, *list;

	/* The resident runs a copy of this program, replaced during the test. */
	env_prepare(&e, "");
	snprintf(exe, sizeof exe, "%s/resident.bin", e.dir);
	copy_self(e.dir, exe);
	snprintf(sections, sizeof sections, "[resident r]\nexec = %s\narg = --behaviour\narg = resident\n"
		 "watch = yes\nrestart_min = 200ms\nrestart_max = 1s\n", exe);
	env_host(&e, sections);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 2, WAIT_MS), 2);
	pid = wait_new_pid(&e, "r", 0);
	rping(&e, pid);

	/* Crash: restarted, with its handlers registered again by the new process. */
	ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
	pid2 = wait_new_pid(&e, "r", pid);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 2, WAIT_MS), 2);
	rping(&e, pid2);

	/* A new executable: restarted. */
	copy_self(e.dir, exe);
	pid3 = wait_new_pid(&e, "r", pid2);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 2, WAIT_MS), 2);
	rping(&e, pid3);

	/* bot.restart. */
	ck_assert_int_eq(bk_call_sync(env_conn(&e), "bot", "restart", &res, "s", "r"), 0);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(res, "kind")), "resident");
	ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "stopped"), 0)->valueint, pid3);
	bk_json_delete(res);
	pid4 = wait_new_pid(&e, "r", pid3);
	list = bot_list(&e);
	ck_assert_int_ge(cJSON_GetObjectItem(list_entry_of(list, "r"), "restarts")->valueint, 3);
	bk_json_delete(list);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 2, WAIT_MS), 2);

	/* Removed by a reload: stopped, and its handlers go with it. */
	env_write_conf(&e, "");
	res = NULL;
	ck_assert_int_eq(bk_call_sync(env_conn(&e), "bot", "reload", &res, ""), 0);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "changed"), 0)),
			 "[resident r] removed");
	bk_json_delete(res);
	assert_no_residue(&e, 0);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "clients", 0, WAIT_MS), 0);
	list = bot_list(&e);
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	bk_json_delete(list);
	/* The process is gone, and reaped by bothost. */
	for (uint64_t deadline = test_now_ms() + WAIT_MS; kill((pid_t)pid4, 0) == 0;) {
		struct timespec ts = { 0, 20 * 1000000 };
		ck_assert_msg(test_now_ms() < deadline, "the resident was not stopped");
		nanosleep(&ts, NULL);
	}
	env_stop(&e);
}
END_TEST

/* ---- prestarted commands ------------------------------------------------------------ */

/* The pids of name's parked processes (at most max in pids); how many. */
static int parked_pids(struct env *e, const char *name, long *pids, int max)
{
	cJSON *list = bot_list(e);
	const cJSON *parked = cJSON_GetObjectItem(list_entry_of(list, name), "parked"), *p;
	int n = 0;

	ck_assert_ptr_nonnull(parked);
	cJSON_ArrayForEach(p, parked)
		if (n < max)
			pids[n++] = (long)p->valuedouble;
	bk_json_delete(list);
	return n;
}

/* Whether pid is one of the n in pids. */
static bool pid_in(long pid, const long *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Wait until name has n parked processes, none of the n_old in old, each
 * waiting in bot.park() (its call pending in the host); their pids. */
static void wait_parked(struct env *e, const char *name, int n, long *pids, const long *old, int n_old)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	struct timespec ts = { 0, 20 * 1000000 };

	for (;;) {
		int got = parked_pids(e, name, pids, 8);
		bool fresh = got == n;
		for (int i = 0; fresh && i < got; i++)
			fresh = !pid_in(pids[i], old, n_old) && kill((pid_t)pids[i], 0) == 0;
		if (fresh)
			return;
		ck_assert_msg(test_now_ms() < deadline, "%s: %d processes parked, not %d new ones", name, got, n);
		nanosleep(&ts, NULL);
	}
}

/* The pid in an answer "pre pid=N ...". */
static long answer_pid(const char *line)
{
	const char *p = strstr(line, "pid=");

	ck_assert_ptr_nonnull(p);
	return strtol(p + 4, NULL, 10);
}

/* A command with prestart: answered by a parked process, a fresh one each
 * time (its pid one of the parked ones, the process gone after, nothing of
 * the previous run seen), the words in the context only, the section's
 * limits, timeout (from the handover) and privilege; parked processes count
 * toward max_processes; none left after the host's exit. */
START_TEST(commands_prestarted)
{
	struct env e;
	long pre[8], pre2[8], hang[8], priv[8], pid, pid2;
	const char *line;
	struct timespec parked_longer = { 0, 700 * 1000000 };
	cJSON *list;

	env_start(&e, "max_processes = 4\nuser_commands = 50/1m",
		  "[command pre]\nexec = EXE\narg = --behaviour\narg = pre\narg = echo\nprestart = 2\n"
		  "max_running = 4\nlimit_files = 100\n"
		  "[command prehang]\nexec = EXE\narg = --behaviour\narg = pre\narg = hang\nprestart = 1\n"
		  "timeout = 500ms\n"
		  "[command prepriv]\nexec = EXE\narg = --behaviour\narg = pre\narg = priv\nprestart = 1\n"
		  "[command echo]\nexec = EXE\narg = --behaviour\narg = echo\n");
	wait_parked(&e, "pre", 2, pre, NULL, 0);
	wait_parked(&e, "prehang", 1, hang, NULL, 0);
	wait_parked(&e, "prepriv", 1, priv, NULL, 0);
	ck_assert_int_eq(running_pid(&e, "pre"), 0);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "pending_in", 4, WAIT_MS), 4);

	/* Four parked processes fill max_processes: a plain command is refused. */
	say(&e.alice, "!echo x");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :alice: too many behaviours are running");

	/* A parked process takes the command; its words come in the context only. */
	say(&e.alice, "!pre a -rf b");
	line = expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :pre pid=[0-9]+ runs=1 argc=4 words= \\[a\\] "
		      "\\[-rf\\] \\[b\\] args=\\(unset\\) prestarted=1 trace=\\(unset\\) files=100/100 nnp=1$");
	pid = answer_pid(line);
	ck_assert(pid_in(pid, pre, 2));
	wait_gone(pid);
	say(&e.alice, "!pre c");
	line = expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :pre pid=[0-9]+ runs=1 argc=4 words= \\[c\\] "
		      "args=\\(unset\\) prestarted=1 trace=\\(unset\\) ");
	pid2 = answer_pid(line);
	ck_assert_int_ne(pid2, pid);
	wait_gone(pid2);
	wait_parked(&e, "pre", 2, pre2, (long[]){ pid, pid2 }, 2);

	/* The timeout runs from the handover, not while parked. */
	nanosleep(&parked_longer, NULL);
	ck_assert_int_eq(kill((pid_t)hang[0], 0), 0);
	say(&e.alice, "!prehang");
	expect(&e.alice, "PRIVMSG #test :hanging$");
	list = wait_exited(&e, "prehang");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(list_entry_of(list, "prehang"), "last_exit"),
						 "timed_out")));
	ck_assert_int_lt(cJSON_GetObjectItem(cJSON_GetObjectItem(list_entry_of(list, "prehang"), "last_exit"),
					     "runtime_ms")->valueint, 3000);
	bk_json_delete(list);
	wait_gone(hang[0]);

	/* Unprivileged as its section says. */
	say(&e.alice, "!prepriv");
	expect(&e.alice, "PRIVMSG #test :reload=PermissionDenied$");

	/* None is left after the host's exit. */
	wait_parked(&e, "pre", 2, pre, NULL, 0);
	wait_parked(&e, "prepriv", 1, priv, (long[]){ 0 }, 0);
	test_irc_user_close(&e.alice);
	env_stop(&e);
	for (int i = 0; i < 2; i++)
		wait_gone(pre[i]);
	wait_gone(priv[0]);
}
END_TEST

/* Parked processes are replaced when the executable changes and on a
 * reload; a reload that sets prestart to 0 leaves none. */
START_TEST(prestarted_replaced)
{
	struct env e;
	char exe[128], sections[512];
	long p1[8], p2[8], p3[8];
	const char *line;
	cJSON *res = NULL;

	env_prepare(&e, "user_commands = 50/1m");
	snprintf(exe, sizeof exe, "%s/resident.bin", e.dir);
	copy_self(e.dir, exe);
	snprintf(sections, sizeof sections, "[command pre]\nexec = %s\narg = --behaviour\narg = pre\narg = echo\n"
		 "prestart = 2\n", exe);
	env_host(&e, sections);
	wait_parked(&e, "pre", 2, p1, NULL, 0);

	/* A new executable: the parked processes are replaced. */
	copy_self(e.dir, exe);
	wait_parked(&e, "pre", 2, p2, p1, 2);
	wait_gone(p1[0]);
	wait_gone(p1[1]);
	say(&e.alice, "!pre z");
	line = expect(&e.alice, "PRIVMSG #test :pre pid=[0-9]+ runs=1 argc=4 words= \\[z\\] ");
	ck_assert(pid_in(answer_pid(line), p2, 2));

	/* A reload, even of the same file: replaced again. */
	wait_parked(&e, "pre", 2, p2, NULL, 0);
	ck_assert_int_eq(bk_call_sync(env_conn(&e), "bot", "reload", &res, ""), 0);
	bk_json_delete(res);
	wait_parked(&e, "pre", 2, p3, p2, 2);
	wait_gone(p2[0]);
	wait_gone(p2[1]);

	/* prestart = 0: none parked; the command is spawned with its words. */
	snprintf(sections, sizeof sections, "[command pre]\nexec = %s\narg = --behaviour\narg = pre\narg = echo\n", exe);
	env_write_conf(&e, sections);
	res = NULL;
	ck_assert_int_eq(bk_call_sync(env_conn(&e), "bot", "reload", &res, ""), 0);
	bk_json_delete(res);
	wait_parked(&e, "pre", 0, p1, NULL, 0);
	wait_gone(p3[0]);
	wait_gone(p3[1]);
	say(&e.alice, "!pre y");
	expect(&e.alice, "PRIVMSG #test :pre pid=[0-9]+ runs=1 argc=6 words= \\[y\\] args=y prestarted=\\(unset\\) ");
	test_irc_user_close(&e.alice);
	env_stop(&e);
}
END_TEST

/* How many lines of the file at path contain both a and b (b may be NULL). */
static int log_count(const char *path, const char *a, const char *b)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f))
		n += strstr(line, a) && (!b || strstr(line, b));
	fclose(f);
	return n;
}

/* The host's log: the registration is logged once; a process that crashed
 * ends at warn, processes the host stopped (restart, shutdown) at info. */
START_TEST(log_registration_once_and_stops_at_info)
{
	const char *args[] = { "--config", NULL, NULL };
	struct env e;
	char logpath[] = "/tmp/test-behaviours-log.XXXXXX", crashed[64], restarted[64], shut[64];
	long pid, pid2, pid3;
	int fd, saved;
	cJSON *res = NULL;

	env_prepare(&e, "");
	args[1] = e.conf;
	env_write_conf(&e, "[resident r]\nexec = EXE\narg = --behaviour\narg = resident\nrestart_min = 200ms\n");
	/* bothost inherits the test's stderr: point it at a file while it starts. */
	fd = mkstemp(logpath);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	ck_assert_int_eq(test_host_start(&e.host, args), 0);
	dup2(saved, 2);
	close(saved);
	expect(&e.alice, "^:bhbot!\\S+ JOIN :?#test$");

	pid = wait_new_pid(&e, "r", 0);
	ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
	pid2 = wait_new_pid(&e, "r", pid);
	ck_assert_int_eq(bk_call_sync(env_conn(&e), "bot", "restart", &res, "s", "r"), 0);
	bk_json_delete(res);
	pid3 = wait_new_pid(&e, "r", pid2);
	env_stop(&e);

	snprintf(crashed, sizeof crashed, "(pid %ld) killed by signal 9", pid);
	snprintf(restarted, sizeof restarted, "(pid %ld) stopped after", pid2);
	snprintf(shut, sizeof shut, "(pid %ld) stopped after", pid3);
	ck_assert_int_eq(log_count(logpath, "irc: registered", NULL), 1);
	ck_assert_int_eq(log_count(logpath, crashed, " warn: "), 1);
	ck_assert_int_eq(log_count(logpath, restarted, " info: "), 1);
	ck_assert_int_eq(log_count(logpath, shut, " info: "), 1);
	ck_assert_int_eq(log_count(logpath, "killed by signal 15", NULL), 0);
	unlink(logpath);
}
END_TEST

START_TEST(resident_claims_command_words)
{
	struct env e;
	char text[32];

	env_start(&e, "user_commands = 5/1m",
		  "[resident r]\nexec = EXE\narg = --behaviour\narg = resident\ncommands = ask\nhelp = answers at once\n"
		  "[command echo]\nexec = EXE\narg = --behaviour\narg = echo\n");
	env_user_from(&e, &e.bob, "bob", "bob", "127.0.0.2");
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 2, WAIT_MS), 2);
	/* !help lists the word, with the resident's help. */
	say(&e.alice, "!help");
	expect(&e.alice, "PRIVMSG #test :commands: !ask, !echo, !help; owners only: !reload, !restart, !status; "
		"!help NAME says more$");
	say(&e.alice, "!help ask");
	expect(&e.alice, "PRIVMSG #test :!ask: answers at once$");
	/* The host runs nothing for the word and says nothing of it. */
	say(&e.alice, "!ask 1");
	expect(&e.alice, "^:bhbot!\\S+ PRIVMSG #test :answer [0-9]+: 1$");
	/* A word a resident claims counts in user_commands like any command:
	 * past it the user is told once, and the resident's answers are refused. */
	for (int i = 2; i <= 5; i++) {
		snprintf(text, sizeof text, "!ask %d", i);
		say(&e.alice, text);
	}
	/* (The host's notice may pass the resident's answer to !ask 3.) */
	expect(&e.alice, "PRIVMSG #test :alice: you give commands too fast; ignoring you for 5m$");
	/* Whatever was said about alice's !ask was said before bob's answer. */
	say(&e.bob, "!ask sync");
	expect(&e.alice, "PRIVMSG #test :answer [0-9]+: sync$");
	say(&e.bob, "!echo sync");
	expect(&e.alice, "PRIVMSG #test :argv: \\[sync\\]$");
	ck_assert_uint_eq(test_irc_user_count(&e.alice, ":bhbot!\\S+ PRIVMSG #test :answer [0-9]+: [0-9]"), 3);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, ":bhbot!\\S+ PRIVMSG"), 2 + 3 + 1 + 2);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "unknown command"), 0);
	env_stop(&e);
}
END_TEST

/* The test client's handler of a claimed word: count, and answer "mine heard REST". */
static void mine_command(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	int *heard = userdata;

	(*heard)++;
	bk_irc_event_replyf(ev, "mine heard %s", bk_irc_event_rest(ev));
}

/* Dispatch the test's client until *counter reaches want. */
static void pump(bk_conn *c, const int *counter, int want)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	struct timespec ts = { 0, 5 * 1000000 };

	while (*counter < want) {
		ck_assert_int_eq(bk_conn_process(c), 0);
		ck_assert_msg(test_now_ms() < deadline, "no command event came");
		nanosleep(&ts, NULL);
	}
	bk_conn_flush(c);
}

/* A word claimed with bk_irc_on_command, without `commands =`: the host's
 * prefix, the word in any case and a word boundary match, the words after
 * it arrive, !help lists it, nobody else may claim it, a [command] or a
 * built-in cannot be claimed, the claim ends with its slot and with its
 * client, and the user's rate limit applies. */
START_TEST(resident_answers_claimed_words)
{
	struct env e;
	bk_slot *slot = NULL;
	int heard = 0;

	env_start(&e, "command_prefix = ,\nuser_commands = 9/1m",
		  "[resident k]\nexec = EXE\narg = --behaviour\narg = cmdres\nhelp = counts karma\n"
		  "[command echo]\nexec = EXE\narg = --behaviour\narg = echo\n");
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 1, WAIT_MS), 1);
	say(&e.alice, ",help");
	expect(&e.alice, "PRIVMSG #test :commands: ,echo, ,karma, ,help; owners only: ,reload, ,restart, ,status; "
		",help NAME says more$");
	say(&e.alice, ",help karma");
	expect(&e.alice, "PRIVMSG #test :,karma: counts karma$");
	say(&e.alice, ",karma  alice  bob");
	expect(&e.alice, "PRIVMSG #test :karma [0-9]+ cmd=karma rest=\\[alice  bob\\] argc=2 first=alice$");
	say(&e.alice, ",KARMA x");
	expect(&e.alice, "PRIVMSG #test :karma [0-9]+ cmd=KARMA rest=\\[x\\] argc=1 first=x$");
	say(&e.alice, "!karma not the prefix");
	say(&e.alice, ",karmafoo");
	expect(&e.alice, "PRIVMSG #test :unknown command: karmafoo \\(try ,help\\)$");
	say(&e.alice, ",karma");
	expect(&e.alice, "PRIVMSG #test :karma [0-9]+ cmd=karma rest=\\[\\] argc=0 first=-$");

	/* Nobody else may claim a claimed word, a [command]'s or a built-in. */
	ck_assert_int_eq(bk_irc_on_command(env_conn(&e), "karma", mine_command, &heard, NULL, NULL), -EEXIST);
	ck_assert_ptr_nonnull(strstr(bk_error_message(bk_conn_last_error(e.c)), ",karma is claimed by client"));
	ck_assert_int_eq(bk_irc_on_command(e.c, "echo", mine_command, &heard, NULL, NULL), -EEXIST);
	ck_assert_str_eq(bk_error_message(bk_conn_last_error(e.c)), ",echo is the command of the section [command echo]");
	ck_assert_int_eq(bk_irc_on_command(e.c, "HELP", mine_command, &heard, NULL, NULL), -EEXIST);
	ck_assert_int_eq(bk_irc_on_command(e.c, "no way", mine_command, &heard, NULL, NULL), -EINVAL);

	/* The test's own claim: heard and answered; gone with its slot... */
	ck_assert_int_eq(bk_irc_on_command(e.c, "mine", mine_command, &heard, NULL, &slot), 0);
	say(&e.alice, ",mine a b");
	pump(e.c, &heard, 1);
	expect(&e.alice, "PRIVMSG #test :mine heard a b$");
	slot = bk_slot_unref(slot);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 1, WAIT_MS), 1);
	env_user_from(&e, &e.bob, "bob", "bob", "127.0.0.2");
	say(&e.bob, ",mine c");
	expect(&e.alice, "PRIVMSG #test :unknown command: mine \\(try ,help\\)$");
	/* ... and with its client. */
	ck_assert_int_eq(bk_irc_on_command(e.c, "mine", mine_command, &heard, NULL, NULL), 0);
	e.c = bk_conn_unref(e.c);
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 1, WAIT_MS), 1);
	say(&e.alice, ",help");
	expect(&e.alice, "PRIVMSG #test :commands: ,echo, ,karma, ,help;");

	/* The rate limit counts claimed words: the 10th command is not sent. */
	say(&e.alice, ",karma 9");
	expect(&e.alice, "cmd=karma rest=\\[9\\]");
	say(&e.alice, ",karma 10");
	expect(&e.alice, "PRIVMSG #test :alice: you give commands too fast; ignoring you for 5m$");
	say(&e.bob, ",karma sync");
	expect(&e.alice, "cmd=karma rest=\\[sync\\]");
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "cmd=karma rest=\\[10\\]"), 0);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "rest=\\[not"), 0);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "unknown command: karma "), 0);
	env_stop(&e);
}
END_TEST

/* Each behaviour gets its own state directory, STATE_DIR/behaviours/NAME,
 * made 0700 before it starts and named in $BOTKIT_STATE_DIR and the
 * context's "state_dir"; one that cannot be made is logged once and the
 * behaviour starts without it. */
START_TEST(behaviours_get_a_state_dir)
{
	const char *args[] = { "--config", NULL, NULL };
	static const char *const names[] = { "keeper", "st", "blocked" };
	struct test_host_opts opts = { .log = true };
	struct env e;
	struct stat st;
	char path[256], re[512], line[300];

	env_prepare(&e, "");
	snprintf(e.bothost_keys, sizeof e.bothost_keys, "state_dir = %s/state", e.dir);
	args[1] = e.conf;
	env_write_conf(&e, "[resident keeper]\nexec = EXE\narg = --behaviour\narg = stateres\n"
		       "[command st]\nexec = EXE\narg = --behaviour\narg = state\n"
		       "[command blocked]\nexec = EXE\narg = --behaviour\narg = state\n");
	/* A file where the directory of blocked would go. */
	snprintf(path, sizeof path, "%s/state", e.dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/state/behaviours", e.dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/state/behaviours/blocked", e.dir);
	ck_assert_int_eq(close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
	ck_assert_int_eq(test_host_start_opts(&e.host, args, &opts), 0);
	expect(&e.alice, "^:bhbot!\\S+ JOIN :?#test$");
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 1, WAIT_MS), 1);

	say(&e.alice, "state?");
	snprintf(re, sizeof re, "PRIVMSG #test :state env=%s/state/behaviours/keeper ctx=%s/state/behaviours/keeper "
		 "mode=700 mine=yes$", e.dir, e.dir);
	expect(&e.alice, re);
	say(&e.alice, "!st");
	snprintf(re, sizeof re, "PRIVMSG #test :state env=%s/state/behaviours/st ctx=%s/state/behaviours/st "
		 "mode=700 mine=yes$", e.dir, e.dir);
	expect(&e.alice, re);
	snprintf(path, sizeof path, "%s/state/behaviours/st", e.dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_uid, geteuid());
	for (int i = 0; i < 2; i++) {
		say(&e.alice, "!blocked");
		expect(&e.alice, "PRIVMSG #test :state env=\\(unset\\) ctx=\\(none\\) mode=none mine=no$");
	}
	snprintf(line, sizeof line, "command blocked: cannot make its state directory: %s/state/behaviours/blocked: "
		 "Not a directory; it starts without one", e.dir);
	ck_assert_msg(test_host_log_has(&e.host, line), "no line '%s' in %s", line, e.host.log);
	ck_assert_int_eq(log_count(e.host.log, "cannot make its state directory", NULL), 1);
	env_stop(&e);

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/state/behaviours/%s", e.dir, names[i]);
		ck_assert(rmdir(path) == 0 || unlink(path) == 0);
	}
	snprintf(path, sizeof path, "%s/state/behaviours", e.dir);
	ck_assert_int_eq(rmdir(path), 0);
	snprintf(path, sizeof path, "%s/state", e.dir);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(rmdir(e.dir), 0);
}
END_TEST

/* Users are counted by host (not user@host): idents of one host share
 * user_commands and user_processes; another host does not. */
START_TEST(commands_limited_per_host)
{
	struct env e;
	struct test_irc_user carol;

	env_start(&e, "user_commands = 4/1m\nuser_processes = 2\nmax_processes = 10",
		  "[command hang]\nexec = EXE\narg = --behaviour\narg = hang\nmax_running = 5\ntimeout = 3s\n"
		  "[command echo]\nexec = EXE\narg = --behaviour\narg = echo\n");
	env_user_from(&e, &carol, "carol", "carol", "127.0.0.1");
	env_user_from(&e, &e.bob, "bob", "bob", "127.0.0.2");
	say(&e.alice, "!hang");
	expect(&e.alice, "PRIVMSG #test :hanging$");
	say(&carol, "!hang");
	expect(&e.alice, "PRIVMSG #test :hanging$");
	/* Two processes of the host run: a third waits, whatever the ident. */
	say(&carol, "!hang");
	expect(&e.alice, "PRIVMSG #test :carol: your commands are still running, try again shortly$");
	say(&e.bob, "!hang");
	expect(&e.alice, "PRIVMSG #test :hanging$");
	/* The fourth command of the host is the last one allowed (refused
	 * again, silently: one such notice a minute). */
	say(&e.alice, "!echo 4");
	say(&e.bob, "!echo bob1");
	expect(&e.alice, "PRIVMSG #test :argv: \\[bob1\\]$");
	bk_json_delete(wait_exited(&e, "echo"));	/* its answer comes before it exits */
	say(&carol, "!echo 5");
	expect(&e.alice, "PRIVMSG #test :carol: you give commands too fast; ignoring you for 5m$");
	say(&e.alice, "!echo 6");
	say(&e.bob, "!echo bob");
	expect(&e.alice, "PRIVMSG #test :argv: \\[bob\\]$");
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "argv: \\[[456]\\]|alice: you give"), 0);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "your commands are still running"), 1);
	ck_assert_uint_eq(test_irc_user_count(&e.alice, "PRIVMSG #test :hanging$"), 3);
	test_irc_user_close(&carol);
	env_stop(&e);
}
END_TEST

/* Milliseconds from now until u sees a line matching re. */
static uint64_t latency_ms(struct test_irc_user *u, const char *re)
{
	uint64_t t0 = test_now_ms();

	expect(u, re);
	return test_now_ms() - t0;
}

/* With the default pacing, one user's long answers and flood of commands
 * delay another user's answer by a line or two, not by the whole flood. */
START_TEST(replies_fair_between_users)
{
	struct env e;
	uint64_t ms;
	char text[32];

	memset(&e, 0, sizeof e);
	env_prepare(&e, "");
	e.pacing = "";		/* the defaults: a burst of 5, then a line a second */
	env_host(&e, "[resident r]\nexec = EXE\narg = --behaviour\narg = resident\ncommands = ask many\n");
	env_user_from(&e, &e.bob, "bob", "bob", "127.0.0.2");
	ck_assert_int_eq(test_host_stat_wait(&e.host, "handlers", 2, WAIT_MS), 2);
	/* A flood of commands (one short of what user_commands allows). */
	for (int i = 1; i <= 11; i++) {
		snprintf(text, sizeof text, "!ask a%d", i);
		say(&e.alice, text);
	}
	expect(&e.bob, "PRIVMSG #test :answer [0-9]+: a3$");
	ck_assert_int_eq(test_irc_user_privmsg(&e.bob, "#test", "!ask one"), 0);
	ms = latency_ms(&e.bob, "PRIVMSG #test :answer [0-9]+: one$");
	fprintf(stderr, "replies_fair_between_users: bob's answer after %llu ms during a flood of commands\n",
		(unsigned long long)ms);
	ck_assert_uint_lt(ms, 2000);
	/* Then a long answer on top: 15 more lines. */
	say(&e.alice, "!many 15");
	ck_assert_int_eq(test_irc_user_privmsg(&e.bob, "#test", "!ask two"), 0);
	ms = latency_ms(&e.bob, "PRIVMSG #test :answer [0-9]+: two$");
	fprintf(stderr, "replies_fair_between_users: bob's answer after %llu ms behind a long answer\n",
		(unsigned long long)ms);
	ck_assert_uint_lt(ms, 2000);
	ck_assert_uint_le(test_irc_user_count(&e.bob, "PRIVMSG #test :many "), 2);
	env_stop(&e);
}
END_TEST

/* ---- owners and reload ----------------------------------------------------------------- */

START_TEST(owners_and_reload)
{
	struct env e;
	const char *echo = "[command echo]\nexec = EXE\narg = --behaviour\narg = echo\n";
	cJSON *list;
	int r;

	env_start(&e, "", echo);
	env_user(&e, &e.boss, "boss");
	say(&e.alice, "!reload");
	expect(&e.alice, "PRIVMSG #test :only owners may use reload$");
	say(&e.boss, "!reload");
	expect(&e.boss, "PRIVMSG #test :reloaded: nothing changed$");
	say(&e.boss, "!status");
	expect(&e.boss, "PRIVMSG #test :irc: connected to \\S+ as bhbot, [0-9]+ queued; processes: 0 of 32; "
		"clients: [0-9]+$");

	/* A broken file is refused, with the reason, and the old one stays. */
	env_write_conf(&e, "[command echo]\nexec = /nonexistent/echo\n");
	r = bk_call_sync(env_conn(&e), "bot", "reload", NULL, "");
	ck_assert_int_lt(r, 0);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(e.c)), "ConfigError");
	ck_assert_msg(strstr(bk_error_message(bk_conn_last_error(e.c)), "bothost.conf:15: invalid exec "
		      "'/nonexistent/echo'"), "%s", bk_error_message(bk_conn_last_error(e.c)));
	say(&e.boss, "!reload");
	expect(&e.boss, "PRIVMSG #test :reload refused: \\S+bothost.conf:15: invalid exec");
	say(&e.alice, "!echo still");
	expect(&e.alice, "PRIVMSG #test :argv: \\[still\\]$");

	/* SIGHUP applies a changed file without dropping IRC. */
	env_write_conf(&e, "[command echo2]\nexec = EXE\narg = --behaviour\narg = echo\narg = two\n");
	ck_assert_int_eq(kill(e.host.pid, SIGHUP), 0);
	for (uint64_t deadline = test_now_ms() + WAIT_MS;;) {
		list = bot_list(&e);
		bool done = list_entry_of(list, "echo2") && !list_entry_of(list, "echo");
		bk_json_delete(list);
		if (done)
			break;
		ck_assert_msg(test_now_ms() < deadline, "the reload did not happen");
		test_irc_user_expect(&e.boss, "never", 20, NULL);
	}
	say(&e.alice, "!echo2 x");
	expect(&e.alice, "PRIVMSG #test :argv: \\[two\\] \\[x\\]$");
	say(&e.alice, "!echo y");
	expect(&e.alice, "PRIVMSG #test :unknown command: echo \\(try !help\\)$");
	say(&e.boss, "!restart echo2");
	expect(&e.boss, "PRIVMSG #test :echo2: [01] process(es)? stopped$");
	say(&e.boss, "!restart nothing");
	expect(&e.boss, "PRIVMSG #test :there is no behaviour named nothing$");
	ck_assert_ptr_null(test_irc_user_seen(&e.alice, "QUIT|ERROR"));
	ck_assert_uint_eq(test_irc_user_count(&e.alice, ":bhbot!\\S+ JOIN"), 1);
	assert_no_residue(&e, 0);
	env_stop(&e);
}
END_TEST

/* ---- pure parts ------------------------------------------------------------------------- */

START_TEST(ratelimit_counts_and_ignores)
{
	struct ratelimit *rl = ratelimit_new();

	ck_assert_ptr_nonnull(rl);
	ratelimit_configure(rl, 3, 10000, 5000, 60000);
	ck_assert_int_eq(ratelimit_hit(rl, "a@h", 0), RATELIMIT_OK);
	ck_assert_int_eq(ratelimit_hit(rl, "a@h", 1000), RATELIMIT_OK);
	ck_assert_int_eq(ratelimit_hit(rl, "a@h", 2000), RATELIMIT_OK);
	ck_assert_int_eq(ratelimit_hit(rl, "b@h", 2000), RATELIMIT_OK);
	ck_assert_int_eq(ratelimit_hit(rl, "a@h", 3000), RATELIMIT_EXCEEDED);
	ck_assert_int_eq(ratelimit_hit(rl, "a@h", 4000), RATELIMIT_IGNORED);
	ck_assert_int_eq(ratelimit_hit(rl, "a@h", 7999), RATELIMIT_IGNORED);
	ck_assert_int_eq(ratelimit_hit(rl, "a@h", 8000), RATELIMIT_OK);
	/* A sliding window: three in ten seconds are fine forever. */
	for (uint64_t t = 20000; t < 80000; t += 3400)
		ck_assert_int_eq(ratelimit_hit(rl, "c@h", t), RATELIMIT_OK);
	/* Notices: once per interval, per kind and user. */
	ck_assert(ratelimit_notice(rl, "a@h", RATELIMIT_NOTICE_UNKNOWN, 100000));
	ck_assert(!ratelimit_notice(rl, "a@h", RATELIMIT_NOTICE_UNKNOWN, 159999));
	ck_assert(ratelimit_notice(rl, "a@h", RATELIMIT_NOTICE_REFUSED, 110000));
	ck_assert(ratelimit_notice(rl, "b@h", RATELIMIT_NOTICE_UNKNOWN, 110000));
	ck_assert(ratelimit_notice(rl, "a@h", RATELIMIT_NOTICE_UNKNOWN, 160000));
	/* Quiet users are forgotten. */
	ck_assert_uint_ge(ratelimit_users(rl), 2);
	ck_assert_int_eq(ratelimit_hit(rl, "d@h", 1000000), RATELIMIT_OK);
	ck_assert_uint_eq(ratelimit_users(rl), 1);
	/* Too many users: the least recently active goes. */
	for (unsigned i = 0; i < RATELIMIT_USERS_MAX + 10; i++) {
		char who[32];
		snprintf(who, sizeof who, "u%u@h", i);
		ratelimit_hit(rl, who, 2000000);
	}
	ck_assert_uint_eq(ratelimit_users(rl), RATELIMIT_USERS_MAX);
	ratelimit_free(rl);
}
END_TEST

START_TEST(owners_by_mask_and_account)
{
	char *owners[] = { "Boss[x]!*@*.example.org", "account:Carol", "d?ve!~d@host" };
	struct owners_person boss = { "boss{X}", "u", "a.example.org", NULL };
	struct owners_person other = { "boss{X}", "u", "a.example.com", NULL };
	struct owners_person carol = { "whoever", "x", "y", "carol" };
	struct owners_person dave = { "dave", "~d", "host", NULL };
	struct owners_person nouser = { "dave", NULL, "host", NULL };
	char *mask;

	ck_assert(owners_match(owners, 3, ISUPPORT_CASEMAP_RFC1459, &boss));
	ck_assert(!owners_match(owners, 3, ISUPPORT_CASEMAP_ASCII, &boss));
	ck_assert(!owners_match(owners, 3, ISUPPORT_CASEMAP_RFC1459, &other));
	ck_assert(owners_match(owners, 3, ISUPPORT_CASEMAP_RFC1459, &carol));
	ck_assert(owners_match(owners, 3, ISUPPORT_CASEMAP_RFC1459, &dave));
	ck_assert(!owners_match(owners, 3, ISUPPORT_CASEMAP_RFC1459, &nouser));
	ck_assert(!owners_match(owners, 0, ISUPPORT_CASEMAP_RFC1459, &dave));
	mask = owners_hostmask(&dave);
	ck_assert_str_eq(mask, "dave!~d@host");
	free(mask);
}
END_TEST

/* A time in UTC. */
static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
			 .tm_sec = s };

	return timegm(&tm);
}

START_TEST(timers_daily_times)
{
	unsigned at[] = { 12 * 60 + 30, 9 * 60 };

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_int_eq(timers_next_at(at, 2, utc(2024, 1, 1, 10, 0, 0)), utc(2024, 1, 1, 12, 30, 0));
	ck_assert_int_eq(timers_next_at(at, 2, utc(2024, 1, 1, 12, 30, 0)), utc(2024, 1, 2, 9, 0, 0));
	ck_assert_int_eq(timers_next_at(at, 2, utc(2024, 1, 1, 8, 59, 59)), utc(2024, 1, 1, 9, 0, 0));
	ck_assert_int_eq(timers_next_at(at, 2, utc(2024, 12, 31, 23, 0, 0)), utc(2025, 1, 1, 9, 0, 0));
	ck_assert_int_eq(timers_next_at(at, 0, utc(2024, 1, 1, 10, 0, 0)), 0);
	/* Local time: 09:00 in Paris is 08:00 UTC in winter, 07:00 in summer. */
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	if (timers_next_at(at + 1, 1, utc(2024, 1, 1, 0, 0, 0)) != utc(2024, 1, 1, 9, 0, 0)) {
		ck_assert_int_eq(timers_next_at(at + 1, 1, utc(2024, 1, 1, 0, 0, 0)), utc(2024, 1, 1, 8, 0, 0));
		ck_assert_int_eq(timers_next_at(at + 1, 1, utc(2024, 7, 1, 0, 0, 0)), utc(2024, 7, 1, 7, 0, 0));
	}
	unsetenv("TZ");
	tzset();
}
END_TEST

/* The pure tests, then those against ngircd. */
static Suite *behaviours_suite(void)
{
	Suite *s = suite_create("behaviours");
	TCase *pure = tcase_create("pure");
	TCase *irc = tcase_create("irc");

	tcase_add_test(pure, ratelimit_counts_and_ignores);
	tcase_add_test(pure, owners_by_mask_and_account);
	tcase_add_test(pure, timers_daily_times);
	suite_add_tcase(s, pure);
	tcase_set_timeout(irc, 60);
	tcase_add_test(irc, commands_reply_in_channel_and_privately);
	tcase_add_test(irc, commands_refused_and_helped);
	tcase_add_test(irc, commands_words_are_never_options);
	tcase_add_test(irc, resident_restarts);
	tcase_add_test(irc, resident_claims_command_words);
	tcase_add_test(irc, resident_answers_claimed_words);
	tcase_add_test(irc, behaviours_get_a_state_dir);
	tcase_add_test(irc, limits_from_the_configuration);
	tcase_add_test(irc, log_registration_once_and_stops_at_info);
	tcase_add_test(irc, owners_and_reload);
	tcase_add_test(irc, commands_limited_per_host);
	suite_add_tcase(s, irc);
	/* Cases that wait out timeouts, timers and paced answers in real time (make check-slow). */
	TCase *irc_slow = tcase_create("irc-slow");
	tcase_set_tags(irc_slow, "slow");
	tcase_set_timeout(irc_slow, 60);
	tcase_add_test(irc_slow, limits_timeouts_caps_and_rate);
	tcase_add_test(irc_slow, behaviour_end_takes_its_descendants);
	tcase_add_test(irc_slow, timer_fires_and_again);
	tcase_add_test(irc_slow, replies_fair_between_users);
	/* prestarted commands: a timeout waited out, executables replaced on disk */
	tcase_add_test(irc_slow, commands_prestarted);
	tcase_add_test(irc_slow, prestarted_replaced);
	suite_add_tcase(s, irc_slow);
	return s;
}

/* Run the suite, or be a behaviour when bothost runs this program with --behaviour. */
int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "--behaviour") == 0)
		return behaviour_main(argc, argv);
	n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		return EXIT_FAILURE;
	self_exe[n] = '\0';
	sr = srunner_create(behaviours_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
