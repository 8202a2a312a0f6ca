/* SPDX-License-Identifier: ISC */
/* Tests of botctl, the built binary ($BOTCTL), against a bothost started with
 * --loopback, and against a scripted host on a socketpair handed over in
 * $BOTKIT_FD (the irc object, which a loopback host does not have). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tests/paths.h"

#define PROC_DEADLINE_MS 10000
#define PROC_BUF 65536
#define ARGS_MAX 16
#define CELL_MAX 64
#define CELLS 8		/* the columns of botctl behaviours */

static struct test_host host;	/* one bothost --loopback for the whole case */

/* A botctl process and what it wrote. */
struct proc {
	pid_t pid;
	int out, err;		/* read ends of its stdout and stderr; -1 at end of file */
	char obuf[PROC_BUF];
	size_t olen;
	char ebuf[PROC_BUF];
	size_t elen;
	int status;		/* exit code, 128 + signal number, or -1 while running */
};

/* In the child: wire up descriptors and environment, then run botctl. */
static void proc_exec(int out, int err, int fd3, const char *const *env, const char *const *args)
{
	const char *bin = getenv("BOTCTL");
	char *argv[ARGS_MAX + 2] = { (char *)"botctl" };
	int null = open("/dev/null", O_RDONLY);

	for (int i = 0; args[i] && i < ARGS_MAX; i++)
		argv[i + 1] = (char *)args[i];
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	/* Descriptor 3 is the socket given, or nothing: never one of the test's. */
	if (fd3 == 3 ? fcntl(3, F_SETFD, 0) < 0 : fd3 >= 0 ? dup2(fd3, 3) < 0 : (close(3), false))
		_exit(127);
	for (int fd = 4; fd < 1024; fd++)
		close(fd);
	for (int i = 0; env && env[i]; i++)
		putenv((char *)env[i]);
	execv(bin ? bin : "botctl", argv);
	_exit(127);
}

/* Start botctl with args (NULL-terminated, without argv[0]); env adds
 * "KEY=VALUE" entries; fd3, unless -1, becomes its descriptor 3. */
static void proc_start(struct proc *p, const char *const *env, int fd3, const char *const *args)
{
	int o[2], e[2];

	memset(p, 0, sizeof *p);
	p->status = -1;
	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0)
		proc_exec(o[1], e[1], fd3, env, args);
	close(o[1]);
	close(e[1]);
	p->out = o[0];
	p->err = e[0];
}

/* Read what is there from one pipe into its buffer (NUL-terminated). */
static void proc_read(int *fd, char *buf, size_t *len)
{
	ssize_t n = read(*fd, buf + *len, PROC_BUF - 1 - *len);

	if (n > 0)
		*len += (size_t)n;
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		*fd = (close(*fd), -1);
	buf[*len] = '\0';
}

/* Wait at most ms for output and collect it; false when there was nothing
 * left to wait for. */
static bool proc_pump(struct proc *p, int ms)
{
	struct pollfd fds[2] = { { .fd = p->out, .events = POLLIN }, { .fd = p->err, .events = POLLIN } };

	if (p->out < 0 && p->err < 0)
		return false;
	if (poll(fds, 2, ms) <= 0)
		return true;
	if (p->out >= 0 && fds[0].revents)
		proc_read(&p->out, p->obuf, &p->olen);
	if (p->err >= 0 && fds[1].revents)
		proc_read(&p->err, p->ebuf, &p->elen);
	return true;
}

/* Number of lines botctl has written to stdout so far. */
static int proc_lines(const struct proc *p)
{
	int n = 0;

	for (size_t i = 0; i < p->olen; i++)
		n += p->obuf[i] == '\n';
	return n;
}

/* Collect stdout until it holds want lines (deadline ms); the count seen. */
static int proc_wait_lines(struct proc *p, int want, int ms)
{
	uint64_t end = test_now_ms() + (uint64_t)ms;

	while (proc_lines(p) < want && test_now_ms() < end)
		if (!proc_pump(p, (int)(end - test_now_ms())))
			break;
	return proc_lines(p);
}

/* Collect everything until botctl exits (killed at the deadline); its status. */
static int proc_finish(struct proc *p)
{
	uint64_t end = test_now_ms() + PROC_DEADLINE_MS;
	int st;

	while (test_now_ms() < end && proc_pump(p, (int)(end - test_now_ms())))
		;
	if (p->out >= 0 || p->err >= 0)
		kill(p->pid, SIGKILL);
	ck_assert_int_eq(waitpid(p->pid, &st, 0), p->pid);
	for (int *fd = &p->out; fd <= &p->err; fd++)
		if (*fd >= 0)
			*fd = (close(*fd), -1);
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return p->status;
}

/* Run botctl -s <host> with args to completion; its exit status. */
static int run_on_host(struct proc *p, const char *const *args)
{
	const char *full[ARGS_MAX + 1] = { "-s", host.path };

	for (int i = 0; args[i] && i + 2 < ARGS_MAX; i++)
		full[i + 2] = args[i];
	proc_start(p, NULL, -1, full);
	return proc_finish(p);
}

#define RUN(p, ...) run_on_host((p), (const char *const[]){ __VA_ARGS__, NULL })

/* Parse botctl's whole stdout as one JSON value (caller frees). */
static cJSON *proc_json(const struct proc *p)
{
	cJSON *v = cJSON_Parse(p->obuf);

	ck_assert_msg(v != NULL, "stdout is not JSON: '%s'", p->obuf);
	return v;
}

static void host_setup(void)
{
	const char *const args[] = { "--loopback", NULL };

	/* Each test says which socket botctl uses. */
	unsetenv("BOTKIT_FD");
	unsetenv("BOTKIT_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(test_host_start(&host, args), 0);
}

static void host_teardown(void)
{
	test_host_stop(&host);
}

START_TEST(status_without_irc)
{
	struct proc p;

	ck_assert_int_eq(test_host_stat_wait(&host, "clients", 0, 5000), 0);
	ck_assert_int_eq(RUN(&p, "status"), 0);
	ck_assert_msg(strstr(p.obuf, "irc:       no IRC configured\n"), "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "clients:   1 connected"), "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "handlers:  0 event registrations"), "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "tokens:    0 functions imported from clients, 0 exported"),
		      "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "pending:   1 calls into the host"), "%s", p.obuf);
	ck_assert_str_eq(p.ebuf, "");

	ck_assert_int_eq(test_host_stat_wait(&host, "clients", 0, 5000), 0);
	ck_assert_int_eq(RUN(&p, "-j", "status"), 0);
	cJSON *v = proc_json(&p);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(v, "irc")));
	const cJSON *st = cJSON_GetObjectItem(v, "host");
	ck_assert(cJSON_GetObjectItem(st, "clients")->valuedouble == 1.0);
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(st, "self")));
	cJSON_Delete(v);
}
END_TEST

START_TEST(clients_shows_botctl_itself)
{
	struct proc p;
	char want[64];

	ck_assert_int_eq(test_host_stat_wait(&host, "clients", 0, 5000), 0);
	ck_assert_int_eq(RUN(&p, "clients"), 0);
	snprintf(want, sizeof want, " botctl pid=%ld ", (long)p.pid);
	ck_assert_msg(strstr(p.obuf, want), "no '%s' in '%s'", want, p.obuf);
	ck_assert_msg(strstr(p.obuf, "handlers=0 imports=0 exports=0 pending_in=1 pending_out=0"),
		      "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "(this botctl)\n"), "%s", p.obuf);
	ck_assert_int_eq(proc_lines(&p), 1);

	ck_assert_int_eq(test_host_stat_wait(&host, "clients", 0, 5000), 0);
	ck_assert_int_eq(RUN(&p, "clients", "--json"), 0);
	cJSON *v = proc_json(&p);
	ck_assert_int_eq(cJSON_GetArraySize(v), 1);
	const cJSON *me = cJSON_GetArrayItem(v, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(me, "name")->valuestring, "botctl");
	ck_assert(cJSON_GetObjectItem(me, "pid")->valuedouble == (double)p.pid);
	cJSON_Delete(v);
}
END_TEST

START_TEST(introspect_lists_loopback)
{
	struct proc p;

	ck_assert_int_eq(RUN(&p, "introspect"), 0);
	ck_assert_msg(strstr(p.obuf, "\nloopback: test object"), "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "host: "), "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "    echo(value: any) -> any\n"), "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "    call(fn: function(callback), args: any...) -> any\n"),
		      "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "    makeCounter([start: integer]) -> object\n"), "%s", p.obuf);
	ck_assert_msg(strstr(p.obuf, "  events:\n    connected: "), "%s", p.obuf);

	ck_assert_int_eq(RUN(&p, "-j", "introspect", "loopback"), 0);
	cJSON *v = proc_json(&p);
	const cJSON *echo = cJSON_GetObjectItem(cJSON_GetObjectItem(v, "methods"), "echo");
	ck_assert_str_eq(cJSON_GetObjectItem(echo, "returns")->valuestring, "any");
	ck_assert(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "events"), "*") != NULL);
	cJSON_Delete(v);

	ck_assert_int_eq(RUN(&p, "introspect", "nosuch"), 1);
	ck_assert_str_eq(p.ebuf, "botctl: NoSuchObject: the host has no object 'nosuch'\n");
	ck_assert_str_eq(p.obuf, "");
}
END_TEST

START_TEST(call_with_json_and_bare_words)
{
	struct proc p;

	ck_assert_int_eq(RUN(&p, "call", "loopback", "echo", "{\"a\":[1,true,null,\"x\"]}"), 0);
	ck_assert_str_eq(p.obuf, "{\"a\":[1,true,null,\"x\"]}\n");
	ck_assert_int_eq(RUN(&p, "call", "loopback", "echo", "#chan"), 0);
	ck_assert_str_eq(p.obuf, "\"#chan\"\n");
	ck_assert_int_eq(RUN(&p, "call", "loopback", "echo", "-5"), 0);
	ck_assert_str_eq(p.obuf, "-5\n");
	ck_assert_int_eq(RUN(&p, "call", "loopback", "echo", "12abc"), 0);
	ck_assert_str_eq(p.obuf, "\"12abc\"\n");
	ck_assert_int_eq(RUN(&p, "call", "loopback", "echo", "\"42\""), 0);
	ck_assert_str_eq(p.obuf, "\"42\"\n");
	/* User data shaped like a token travels escaped and comes back as it was. */
	ck_assert_int_eq(RUN(&p, "call", "loopback", "echo", "{\"$fn\":1}"), 0);
	ck_assert_str_eq(p.obuf, "{\"$fn\":1}\n");
	/* Several arguments, bare words among them. */
	ck_assert_int_eq(RUN(&p, "call", "loopback", "emit", "nobody-listens", "hello", "2"), 0);
	ck_assert_str_eq(p.obuf, "0\n");
	/* Functions in results are placeholders. */
	ck_assert_int_eq(RUN(&p, "call", "loopback", "makeCounter", "5"), 0);
	ck_assert_str_eq(p.obuf, "{\"next\":{\"$function\":true},\"reset\":{\"$function\":true}}\n");
	ck_assert_int_eq(RUN(&p, "call", "host", "ping"), 0);
	ck_assert_str_eq(p.obuf, "\"pong\"\n");
	ck_assert_str_eq(p.ebuf, "");
}
END_TEST

START_TEST(typed_errors_exit_1)
{
	struct proc p;

	ck_assert_int_eq(RUN(&p, "call", "loopback", "fail", "Oops", "went wrong"), 1);
	ck_assert_str_eq(p.ebuf, "botctl: Oops: went wrong\n");
	ck_assert_str_eq(p.obuf, "");

	ck_assert_int_eq(RUN(&p, "call", "loopback", "sya"), 1);
	ck_assert_msg(strncmp(p.ebuf, "botctl: NoSuchMethod: ", 22) == 0, "%s", p.ebuf);

	ck_assert_int_eq(RUN(&p, "call", "loopback", "sleep", "not-a-number"), 1);
	ck_assert_msg(strncmp(p.ebuf, "botctl: InvalidArguments: ", 26) == 0, "%s", p.ebuf);

	/* No irc object on this host. */
	ck_assert_int_eq(RUN(&p, "say", "#chan", "hello", "world"), 1);
	ck_assert_msg(strstr(p.ebuf, "botctl: NoSuchObject: ") && strstr(p.ebuf, "'irc'"), "%s", p.ebuf);
}
END_TEST

START_TEST(reload_and_restart_without_bot_object)
{
	struct proc p;

	ck_assert_int_eq(RUN(&p, "reload"), 1);
	ck_assert_msg(strncmp(p.ebuf, "botctl: NoSuchObject: ", 22) == 0, "%s", p.ebuf);
	ck_assert_msg(strstr(p.ebuf, "'bot'"), "%s", p.ebuf);
	ck_assert_msg(strstr(p.ebuf, "nothing to reload"), "%s", p.ebuf);

	ck_assert_int_eq(RUN(&p, "restart", "weather"), 1);
	ck_assert_msg(strstr(p.ebuf, "nothing to restart"), "%s", p.ebuf);
	ck_assert_str_eq(p.obuf, "");

	ck_assert_int_eq(RUN(&p, "behaviours"), 1);
	ck_assert_msg(strncmp(p.ebuf, "botctl: NoSuchObject: ", 22) == 0, "%s", p.ebuf);
	ck_assert_msg(strstr(p.ebuf, "nothing to list"), "%s", p.ebuf);
	ck_assert_str_eq(p.obuf, "");
}
END_TEST

START_TEST(timeout_option)
{
	struct proc p;
	uint64_t start = test_now_ms();

	ck_assert_int_eq(RUN(&p, "-t", "0.2", "call", "loopback", "sleep", "5000"), 1);
	ck_assert_msg(strncmp(p.ebuf, "botctl: Timeout: ", 17) == 0, "%s", p.ebuf);
	ck_assert_uint_lt(test_now_ms() - start, 4000);

	ck_assert_int_eq(RUN(&p, "--timeout", "5", "call", "loopback", "sleep", "10"), 0);
	ck_assert_str_eq(p.obuf, "null\n");
}
END_TEST

START_TEST(usage_errors_exit_2)
{
	static const char *const cases[][5] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "call", "loopback", NULL },
		{ "status", "extra", NULL },
		{ "introspect", "a", "b", NULL },
		{ "say", "#chan", NULL },
		{ "restart", NULL },
		{ "watch", NULL },
		{ "watch", "loopback.", NULL },
		{ "watch", ".tick", NULL },
		{ "-t", "soon", "status", NULL },
		{ "-t", "-1", "status", NULL },
		{ "--no-such-option", "status", NULL },
		{ "status", "-x", NULL },
		{ "-s", NULL },
	};
	struct proc p;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		proc_start(&p, NULL, -1, cases[i]);
		ck_assert_msg(proc_finish(&p) == 2, "case %zu: status %d", i, p.status);
		ck_assert_msg(strncmp(p.ebuf, "botctl: ", 8) == 0 && strstr(p.ebuf, "--help"),
			      "case %zu: '%s'", i, p.ebuf);
		ck_assert_str_eq(p.obuf, "");
	}
	proc_start(&p, NULL, -1, (const char *const[]){ "--help", NULL });
	ck_assert_int_eq(proc_finish(&p), 0);
	ck_assert_msg(strncmp(p.obuf, "Usage: botctl ", 14) == 0, "%s", p.obuf);
	proc_start(&p, NULL, -1, (const char *const[]){ "--version", NULL });
	ck_assert_int_eq(proc_finish(&p), 0);
	ck_assert_str_eq(p.obuf, "botctl (" PACKAGE_NAME ") " PACKAGE_VERSION "\n");
}
END_TEST

/* Start `botctl -s <host> watch specs...` and wait until its n handlers are registered. */
static void watch_start(struct proc *p, const struct test_host *h, const char *const *specs, long n)
{
	const char *args[ARGS_MAX] = { "-s", h->path, "watch" };

	for (int i = 0; specs[i] && i + 3 < ARGS_MAX - 1; i++)
		args[i + 3] = specs[i];
	proc_start(p, NULL, -1, args);
	ck_assert_int_eq(test_host_stat_wait(h, "handlers", n, 5000), n);
}

START_TEST(watch_prints_events_and_exits_on_sigint)
{
	struct test_raw raw;
	struct proc p;

	watch_start(&p, &host, (const char *const[]){ "loopback.tick", "loopback.tock", NULL }, 2);
	cJSON *w = test_raw_hello(&raw, host.path, "emitter");
	ck_assert_ptr_nonnull(w);
	cJSON *m = test_raw_call(&raw, "loopback", "emit", "[\"tick\",1,{\"a\":\"b\"}]", NULL);
	ck_assert(cJSON_GetObjectItem(m, "value")->valuedouble == 1.0);
	cJSON_Delete(m);
	/* A function of the emitting client reaches botctl as a placeholder. */
	m = test_raw_call(&raw, "loopback", "emit", "[\"tock\",{\"f\":{\"$fn\":1}},\"$x\"]", NULL);
	ck_assert(cJSON_GetObjectItem(m, "value")->valuedouble == 1.0);
	cJSON_Delete(m);
	m = test_raw_call(&raw, "loopback", "emit", "[\"other\"]", NULL);
	ck_assert(cJSON_GetObjectItem(m, "value")->valuedouble == 0.0);
	cJSON_Delete(m);

	ck_assert_int_eq(proc_wait_lines(&p, 2, 5000), 2);
	ck_assert_str_eq(p.obuf,
			 "{\"object\":\"loopback\",\"event\":\"tick\",\"args\":[1,{\"a\":\"b\"}]}\n"
			 "{\"object\":\"loopback\",\"event\":\"tock\",\"args\":[{\"f\":{\"$function\":true}},\"$x\"]}\n");
	kill(p.pid, SIGINT);
	ck_assert_int_eq(proc_finish(&p), 0);
	ck_assert_str_eq(p.ebuf, "");
	ck_assert_int_eq(test_host_stat_wait(&host, "handlers", 0, 5000), 0);
	cJSON_Delete(w);
	test_raw_close(&raw);
}
END_TEST

START_TEST(watch_exits_0_on_sigterm)
{
	struct proc p;

	watch_start(&p, &host, (const char *const[]){ "loopback.quiet", NULL }, 1);
	kill(p.pid, SIGTERM);
	ck_assert_int_eq(proc_finish(&p), 0);
	ck_assert_str_eq(p.obuf, "");
}
END_TEST

START_TEST(watch_exits_1_when_the_host_goes_away)
{
	const char *const args[] = { "--loopback", NULL };
	struct test_host other;
	struct proc p;

	ck_assert_int_eq(test_host_start(&other, args), 0);
	watch_start(&p, &other, (const char *const[]){ "loopback.tick", NULL }, 1);
	test_host_stop(&other);
	ck_assert_int_eq(proc_finish(&p), 1);
	ck_assert_msg(strncmp(p.ebuf, "botctl: Disconnected: ", 22) == 0, "%s", p.ebuf);
}
END_TEST

START_TEST(watch_unknown_event_fails)
{
	struct proc p;

	ck_assert_int_eq(RUN(&p, "watch", "host.nosuch"), 1);
	ck_assert_msg(strncmp(p.ebuf, "botctl: NoSuchEvent: ", 21) == 0, "%s", p.ebuf);
	ck_assert_int_eq(RUN(&p, "watch", "message"), 1);
	ck_assert_msg(strstr(p.ebuf, "NoSuchObject") && strstr(p.ebuf, "'irc'"), "%s", p.ebuf);
}
END_TEST

START_TEST(unreachable_socket_names_the_path)
{
	char path[400], want[500];
	struct proc p;

	snprintf(path, sizeof path, "%s/missing.sock", host.dir);
	proc_start(&p, NULL, -1, (const char *const[]){ "-s", path, "status", NULL });
	ck_assert_int_eq(proc_finish(&p), 1);
	snprintf(want, sizeof want, "botctl: cannot connect to bothost at %s: ", path);
	ck_assert_msg(strncmp(p.ebuf, want, strlen(want)) == 0, "%s", p.ebuf);

	/* The default path under $XDG_RUNTIME_DIR. */
	snprintf(want, sizeof want, "XDG_RUNTIME_DIR=%s", host.dir);
	proc_start(&p, (const char *const[]){ want, NULL }, -1, (const char *const[]){ "status", NULL });
	ck_assert_int_eq(proc_finish(&p), 1);
	snprintf(path, sizeof path, "%s/bothost/bothost.sock", host.dir);
	ck_assert_msg(strstr(p.ebuf, path), "%s", p.ebuf);
}
END_TEST

START_TEST(environment_chooses_the_socket)
{
	char env[400];
	struct proc p;

	snprintf(env, sizeof env, "BOTKIT_SOCKET=%s", host.path);
	proc_start(&p, (const char *const[]){ env, NULL }, -1,
		   (const char *const[]){ "call", "host", "ping", NULL });
	ck_assert_int_eq(proc_finish(&p), 0);
	ck_assert_str_eq(p.obuf, "\"pong\"\n");

	/* $BOTKIT_SOCKET wins over $BOTKIT_FD: a script runs botctl many times. */
	proc_start(&p, (const char *const[]){ env, "BOTKIT_FD=3", NULL }, -1,
		   (const char *const[]){ "call", "host", "ping", NULL });
	ck_assert_int_eq(proc_finish(&p), 0);
	ck_assert_str_eq(p.obuf, "\"pong\"\n");

	/* -s wins over both. */
	proc_start(&p, (const char *const[]){ "BOTKIT_SOCKET=/nonexistent/s", NULL }, -1,
		   (const char *const[]){ "-s", host.path, "call", "host", "ping", NULL });
	ck_assert_int_eq(proc_finish(&p), 0);

	proc_start(&p, (const char *const[]){ "BOTKIT_FD=3", NULL }, -1,
		   (const char *const[]){ "status", NULL });
	ck_assert_int_eq(proc_finish(&p), 1);
	ck_assert_msg(strstr(p.ebuf, "BOTKIT_FD=3"), "%s", p.ebuf);
}
END_TEST

/* A scripted host on the other end of botctl's $BOTKIT_FD. */
struct fake {
	struct test_raw raw;
	struct proc p;
};

/* Start botctl with args on a socketpair and answer its hello with a welcome
 * that lists the host and irc objects. */
static void fake_start(struct fake *f, const char *const *args)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	proc_start(&f->p, (const char *const[]){ "BOTKIT_FD=3", NULL }, sv[1], args);
	close(sv[1]);
	memset(&f->raw, 0, sizeof f->raw);
	f->raw.fd = sv[0];
	frame_reader_init(&f->raw.in, 1u << 20);
	cJSON *hello = test_raw_recv(&f->raw, 5000);
	ck_assert_ptr_nonnull(hello);
	ck_assert_str_eq(cJSON_GetObjectItem(hello, "t")->valuestring, "hello");
	ck_assert_str_eq(cJSON_GetObjectItem(hello, "name")->valuestring, "botctl");
	cJSON_Delete(hello);
	ck_assert_int_eq(test_raw_send(&f->raw,
		"{\"t\":\"welcome\",\"version\":1,\"server\":\"fake\",\"client\":1,\"limits\":{},"
		"\"objects\":{\"host\":{\"methods\":{},\"events\":{}},"
		"\"irc\":{\"methods\":{},\"events\":{\"message\":{}}}}}"), 0);
}

/* Expect the call obj.method with these args (JSON text) and answer value. */
static void fake_answer(struct fake *f, const char *obj, const char *method, const char *args,
			const char *value)
{
	cJSON *m = test_raw_recv(&f->raw, 5000);
	cJSON *want = cJSON_Parse(args);

	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "t")->valuestring, "call");
	ck_assert_str_eq(cJSON_GetObjectItem(m, "obj")->valuestring, obj);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "method")->valuestring, method);
	ck_assert(cJSON_Compare(cJSON_GetObjectItem(m, "args"), want, true));
	ck_assert_int_eq(test_raw_send(&f->raw, "{\"t\":\"result\",\"id\":%.0f,\"value\":%s}",
				       cJSON_GetObjectItem(m, "id")->valuedouble, value), 0);
	cJSON_Delete(want);
	cJSON_Delete(m);
}

/* botctl is done: its exit status. */
static int fake_finish(struct fake *f)
{
	int status = proc_finish(&f->p);

	test_raw_close(&f->raw);
	return status;
}

#define FAKE_STATS \
	"{\"clients\":3,\"handlers\":4,\"imports\":5,\"exports\":6,\"pending_in\":1," \
	"\"pending_out\":2,\"queued_bytes\":0,\"functions\":7,\"self\":{\"id\":1}}"

START_TEST(status_with_irc_through_botkit_fd)
{
	struct fake f;

	fake_start(&f, (const char *const[]){ "status", NULL });
	fake_answer(&f, "irc", "getState", "[]",
		    "{\"state\":\"connected\",\"server\":\"irc.example.net:6667\",\"nick\":\"bot\","
		    "\"since\":1000,\"queued\":2}");
	fake_answer(&f, "irc", "getChannels", "[]",
		    "[{\"name\":\"#a\",\"topic\":\"t\",\"users\":[{\"nick\":\"x\"},{\"nick\":\"y\"}]},"
		    "{\"name\":\"#b\",\"topic\":null,\"users\":[]}]");
	fake_answer(&f, "host", "stats", "[]", FAKE_STATS);
	ck_assert_int_eq(fake_finish(&f), 0);
	ck_assert_msg(strstr(f.p.obuf,
			     "irc:       connected (server irc.example.net:6667, nick bot)\n"
			     "channels:  #a (2 users), #b (0 users)\n"
			     "queue:     2 waiting to be sent\n"
			     "clients:   3 connected"), "%s", f.p.obuf);
	ck_assert_msg(strstr(f.p.obuf, "tokens:    5 functions imported from clients, 6 exported"),
		      "%s", f.p.obuf);
	ck_assert_msg(strstr(f.p.obuf, "pending:   1 calls into the host (this one included), 2 calls"),
		      "%s", f.p.obuf);

	fake_start(&f, (const char *const[]){ "--json", "status", NULL });
	fake_answer(&f, "irc", "getState", "[]", "{\"state\":\"waiting\",\"queued\":0}");
	fake_answer(&f, "irc", "getChannels", "[]", "[]");
	fake_answer(&f, "host", "stats", "[]", FAKE_STATS);
	ck_assert_int_eq(fake_finish(&f), 0);
	ck_assert_str_eq(f.p.obuf, "{\"irc\":{\"state\":{\"state\":\"waiting\",\"queued\":0},"
			 "\"channels\":[]},\"host\":" FAKE_STATS "}\n");
}
END_TEST

START_TEST(status_shows_the_acknowledged_capabilities)
{
	struct fake f;

	fake_start(&f, (const char *const[]){ "status", NULL });
	fake_answer(&f, "irc", "getState", "[]",
		    "{\"state\":\"connected\",\"server\":\"irc.example.net:6667\",\"nick\":\"bot\","
		    "\"since\":1000,\"queued\":0,\"caps\":[\"multi-prefix\",\"server-time\"]}");
	fake_answer(&f, "irc", "getChannels", "[]", "[]");
	fake_answer(&f, "host", "stats", "[]", FAKE_STATS);
	ck_assert_int_eq(fake_finish(&f), 0);
	ck_assert_msg(strstr(f.p.obuf,
			     "irc:       connected (server irc.example.net:6667, nick bot)\n"
			     "caps:      multi-prefix server-time\n"), "%s", f.p.obuf);

	fake_start(&f, (const char *const[]){ "status", NULL });
	fake_answer(&f, "irc", "getState", "[]", "{\"state\":\"connected\",\"queued\":0,\"caps\":[]}");
	fake_answer(&f, "irc", "getChannels", "[]", "[]");
	fake_answer(&f, "host", "stats", "[]", FAKE_STATS);
	ck_assert_int_eq(fake_finish(&f), 0);
	ck_assert_msg(strstr(f.p.obuf, "irc:       connected\ncaps:      none\n"), "%s", f.p.obuf);
}
END_TEST

/* The cells of the line of a table whose first cell is first (columns are
 * two spaces or more apart, a cell has single spaces only): how many. */
static int table_cells(const char *out, const char *first, char cells[CELLS][CELL_MAX])
{
	for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *end = strchr(line, '\n') ? strchr(line, '\n') : line + strlen(line);
		int n = 0;
		for (const char *c = line; c < end && n < CELLS; n++) {
			const char *gap = strstr(c, "  ");
			size_t len = (size_t)((gap && gap < end ? gap : end) - c);
			snprintf(cells[n], CELL_MAX, "%.*s", (int)len, c);
			for (c += len; c < end && *c == ' '; c++)
				;
		}
		if (n > 0 && strcmp(cells[0], first) == 0)
			return n;
	}
	return 0;
}

/* Assert the cells of first's line (want NULL: anything). */
static void table_expect(const char *out, const char *first, const char *const want[CELLS])
{
	char cells[CELLS][CELL_MAX];

	ck_assert_msg(table_cells(out, first, cells) == CELLS, "no line of %d cells for '%s' in:\n%s", CELLS,
		      first, out);
	for (int i = 0; i < CELLS; i++)
		ck_assert_msg(!want[i] || strcmp(cells[i], want[i]) == 0, "%s, column %d: '%s', not '%s' in:\n%s",
			      first, i, cells[i], want[i], out);
}

/* Milliseconds since the epoch. */
static double now_epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* botctl behaviours turns each entry of bot.list into a line people read:
 * pids running and parked, exits, durations, when a timer is due. */
START_TEST(behaviours_table_from_bot_list)
{
	struct fake f;
	char list[1200], cells[CELLS][CELL_MAX];

	snprintf(list, sizeof list,
		 "[{\"name\":\"pre\",\"kind\":\"command\",\"running\":[101],\"parked\":[102,103],\"runs\":7,"
		 "\"last_exit\":{\"code\":0,\"signal\":null,\"timed_out\":false,\"runtime_ms\":12}},"
		 "{\"name\":\"slow\",\"kind\":\"command\",\"running\":[],\"parked\":[],\"runs\":1,"
		 "\"last_exit\":{\"code\":null,\"signal\":15,\"timed_out\":true,\"runtime_ms\":30000}},"
		 "{\"name\":\"tick\",\"kind\":\"timer\",\"running\":[],\"runs\":3,"
		 "\"last_exit\":{\"code\":2,\"signal\":null,\"timed_out\":false,\"runtime_ms\":125000},"
		 "\"next_run\":%.0f},"
		 "{\"name\":\"off\",\"kind\":\"timer\",\"running\":[],\"runs\":0,\"last_exit\":null,"
		 "\"next_run\":null},"
		 "{\"name\":\"seen\",\"kind\":\"resident\",\"running\":[],\"runs\":4,"
		 "\"last_exit\":{\"code\":null,\"signal\":9,\"timed_out\":false,\"runtime_ms\":90061000},"
		 "\"restarts\":3},"
		 "{\"name\":\"odd\\u0007\",\"kind\":\"resident\",\"running\":[104],\"runs\":1,\"last_exit\":null,"
		 "\"restarts\":0}]",
		 now_epoch_ms() + 42900);
	fake_start(&f, (const char *const[]){ "behaviours", NULL });
	fake_answer(&f, "bot", "list", "[]", list);
	ck_assert_int_eq(fake_finish(&f), 0);
	ck_assert_str_eq(f.p.ebuf, "");
	table_expect(f.p.obuf, "NAME", (const char *const[]){ "NAME", "KIND", "STATE", "PIDS", "RUNS", "LAST EXIT",
				 "NEXT", "RESTARTS" });
	ck_assert_msg(strncmp(f.p.obuf, "NAME  KIND      STATE    PIDS", 29) == 0, "%s", f.p.obuf);
	table_expect(f.p.obuf, "pre", (const char *const[]){ "pre", "command", "running",
				 "running 101; parked 102,103", "7", "exit 0 after 12ms", "-", "-" });
	table_expect(f.p.obuf, "slow", (const char *const[]){ "slow", "command", "idle", "-", "1",
				 "timed out after 30s", "-", "-" });
	table_expect(f.p.obuf, "tick", (const char *const[]){ "tick", "timer", "idle", "-", "3",
				 "exit 2 after 2min 5s", NULL, "-" });
	table_cells(f.p.obuf, "tick", cells);
	/* 42.9 s ahead when the test wrote it: 41 s left only on a slow machine */
	ck_assert_msg(strcmp(cells[6], "in 42s") == 0 || strcmp(cells[6], "in 41s") == 0, "%s", cells[6]);
	table_expect(f.p.obuf, "off", (const char *const[]){ "off", "timer", "idle", "-", "0", "-", "never", "-" });
	table_expect(f.p.obuf, "seen", (const char *const[]){ "seen", "resident", "down", "-", "4",
				 "signal 9 after 1d 1h", "-", "3" });
	/* A control character from the host is not written to the terminal. */
	table_expect(f.p.obuf, "odd?", (const char *const[]){ "odd?", "resident", "running", "running 104", "1",
				 "-", "-", "0" });
	ck_assert_int_eq(proc_lines(&f.p), 7);

	/* -j: what bot.list answered. */
	fake_start(&f, (const char *const[]){ "-j", "behaviours", NULL });
	fake_answer(&f, "bot", "list", "[]", "[{\"name\":\"pre\",\"kind\":\"command\",\"parked\":[102]}]");
	ck_assert_int_eq(fake_finish(&f), 0);
	ck_assert_str_eq(f.p.obuf, "[{\"name\":\"pre\",\"kind\":\"command\",\"parked\":[102]}]\n");
}
END_TEST

/* bot.list's entry for name on the host at path, through a connection of
 * the test's own (caller frees the answer in *ret_answer). */
static const cJSON *bot_list_entry(const char *path, const char *name, cJSON **ret_answer)
{
	struct test_raw c;
	cJSON *w = test_raw_hello(&c, path, "test");
	cJSON *m = w ? test_raw_call(&c, "bot", "list", "[]", NULL) : NULL;
	const cJSON *b;

	ck_assert_ptr_nonnull(m);
	cJSON_Delete(w);
	test_raw_close(&c);
	*ret_answer = m;
	cJSON_ArrayForEach(b, cJSON_GetObjectItem(m, "value"))
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(b, "name")), name) == 0)
			return b;
	ck_abort_msg("bot.list has no '%s'", name);
	return NULL;
}

/* A pid list of bot.list as botctl behaviours shows it: "parked 12,13". */
static void pids_text(const char *what, const cJSON *pids, char *buf, size_t size)
{
	const cJSON *p;
	size_t len = (size_t)snprintf(buf, size, "%s", what);

	cJSON_ArrayForEach(p, pids)
		len += (size_t)snprintf(buf + len, size - len, "%c%.0f", p == pids->child ? ' ' : ',', p->valuedouble);
}

/* How many times needle is in haystack. */
static int count_of(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *at = strstr(haystack, needle); at; at = strstr(at + 1, needle))
		n++;
	return n;
}

/* A host with a prestarted command (the bundled dice, which waits in
 * bot.park() through bk_command_open), a timer and a resident. */
START_TEST(behaviours_shows_parked_processes)
{
	struct test_host h;
	char dir[] = "/tmp/test-botctl.XXXXXX", conf[64], parked[64], running[64], want[64];
	const char *args[] = { "--config", conf, NULL }, *full[] = { "-s", h.path, "behaviours", NULL };
	cJSON *dice_list = NULL, *r_list;
	const cJSON *dice, *r, *pid;
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(10000);
	struct proc p;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/bothost.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(conf, "w"));
	/* (the resident outlives the test by a minute at most if a failed
	 * assertion leaves the host to the janitor's SIGKILL) */
	fprintf(f, "[command dice]\nexec = %s/dice\nprestart = 2\n\n[timer tick]\nexec = /bin/true\nevery = 1h\n\n"
		"[resident r]\nexec = /bin/sleep\narg = 60\n", SCRIPTS_BUILDDIR);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(test_host_start(&h, args), 0);
	/* Both parked, each waiting in bot.park() (so connected, its pid told). */
	for (;;) {
		dice = bot_list_entry(h.path, "dice", &dice_list);
		if (cJSON_GetArraySize(cJSON_GetObjectItem(dice, "parked")) == 2 && test_host_stat(&h, "pending_in") == 2)
			break;
		cJSON_Delete(dice_list);
		ck_assert_msg(test_now_ms() < deadline, "dice: its processes are not parked");
		nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
	}
	pids_text("parked", cJSON_GetObjectItem(dice, "parked"), parked, sizeof parked);
	r = bot_list_entry(h.path, "r", &r_list);
	pids_text("running", cJSON_GetObjectItem(r, "running"), running, sizeof running);
	cJSON_Delete(r_list);

	proc_start(&p, NULL, -1, full);
	ck_assert_int_eq(proc_finish(&p), 0);
	ck_assert_str_eq(p.ebuf, "");
	table_expect(p.obuf, "dice", (const char *const[]){ "dice", "command", "parked", parked, "2", "-", "-", "-" });
	table_expect(p.obuf, "tick", (const char *const[]){ "tick", "timer", "idle", "-", "0", "-", NULL, "-" });
	ck_assert_msg(strstr(p.obuf, "  in 59min 5"), "%s", p.obuf);
	table_expect(p.obuf, "r", (const char *const[]){ "r", "resident", "running", running, "1", "-", "-", "0" });
	ck_assert_int_eq(proc_lines(&p), 4);

	/* botctl clients marks the parked processes, and them only. */
	full[2] = "clients";
	proc_start(&p, NULL, -1, full);
	ck_assert_int_eq(proc_finish(&p), 0);
	cJSON_ArrayForEach(pid, cJSON_GetObjectItem(dice, "parked")) {
		snprintf(want, sizeof want, " pid=%.0f ", pid->valuedouble);
		const char *at = strstr(p.obuf, want);
		ck_assert_msg(at && strncmp(strchr(at, '\n') - 15, " (parked: dice)", 15) == 0, "%s", p.obuf);
	}
	ck_assert_int_eq(count_of(p.obuf, "(parked"), 2);
	ck_assert_msg(strstr(p.obuf, " (this botctl)\n"), "%s", p.obuf);

	cJSON_Delete(dice_list);
	test_host_stop(&h);
	ck_assert_int_eq(unlink(conf), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(say_joins_words)
{
	struct fake f;

	fake_start(&f, (const char *const[]){ "say", "#chan", "hello", "big", "world", NULL });
	fake_answer(&f, "irc", "say", "[\"#chan\",\"hello big world\"]", "null");
	ck_assert_int_eq(fake_finish(&f), 0);
	ck_assert_str_eq(f.p.obuf, "");
	ck_assert_str_eq(f.p.ebuf, "");
}
END_TEST

/* All tests share one host. */
static Suite *botctl_suite(void)
{
	Suite *s = suite_create("botctl");
	TCase *tc = tcase_create("loopback host");

	tcase_add_unchecked_fixture(tc, host_setup, host_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, status_without_irc);
	tcase_add_test(tc, clients_shows_botctl_itself);
	tcase_add_test(tc, introspect_lists_loopback);
	tcase_add_test(tc, call_with_json_and_bare_words);
	tcase_add_test(tc, typed_errors_exit_1);
	tcase_add_test(tc, reload_and_restart_without_bot_object);
	tcase_add_test(tc, timeout_option);
	tcase_add_test(tc, usage_errors_exit_2);
	tcase_add_test(tc, watch_prints_events_and_exits_on_sigint);
	tcase_add_test(tc, watch_exits_0_on_sigterm);
	tcase_add_test(tc, watch_exits_1_when_the_host_goes_away);
	tcase_add_test(tc, watch_unknown_event_fails);
	tcase_add_test(tc, unreachable_socket_names_the_path);
	tcase_add_test(tc, environment_chooses_the_socket);
	tcase_add_test(tc, status_with_irc_through_botkit_fd);
	tcase_add_test(tc, say_joins_words);
	tcase_add_test(tc, status_shows_the_acknowledged_capabilities);
	tcase_add_test(tc, behaviours_table_from_bot_list);
	suite_add_tcase(s, tc);
	/* A host of its own, with a configuration file. */
	tc = tcase_create("configured host");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, behaviours_shows_parked_processes);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(botctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
