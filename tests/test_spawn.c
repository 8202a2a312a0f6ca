/* SPDX-License-Identifier: ISC */
/* Behaviour processes, driven in-process: a server on the default loop,
 * spawn_start called directly and the loop run until the exit callbacks ran.
 * The host's log (stderr) goes to a file the tests read back. This program
 * is also the child: `test_spawn --child MODE ...` reports its argv,
 * environment and descriptors, writes output, sleeps, ignores SIGTERM or
 * talks to the host through libbotkit. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "botkit.h"
#include "core/call.h"
#include "core/fn.h"
#include "core/host_object.h"
#include "core/later.h"
#include "core/log.h"
#include "core/object.h"
#include "core/server.h"
#include "behaviours/spawn.h"
#include "core/value.h"
#include "tests/paths.h"

static struct server *server;
static char self_exe[PATH_MAX];
static char log_path[128];
static char dir_path[64];	/* a private directory for files of one test */
static int saved_stderr = -1;

/* ---- the child program ------------------------------------------------- */

/* A line of /proc/self/status such as "SigBlk:" (its value), or "". */
static void child_status_field(const char *key, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	snprintf(out, size, "%s", "");
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, key, strlen(key)) == 0) {
			snprintf(out, size, "%s", line + strlen(key) + strspn(line + strlen(key), " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	}
	if (f)
		fclose(f);
}

/* {"fd":N,"target":"..."} for every open descriptor but the listing's own. */
static cJSON *child_fds(void)
{
	cJSON *a = cJSON_CreateArray();
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[320], target[PATH_MAX];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = '\0';
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "fd", atoi(e->d_name));
		cJSON_AddStringToObject(o, "target", target);
		cJSON_AddItemToArray(a, o);
	}
	if (d)
		closedir(d);
	return a;
}

/* Write argv, environ, descriptors, process group and signal state as JSON to path. */
static int child_report(int argc, char **argv, const char *path)
{
	extern char **environ;
	cJSON *o = cJSON_CreateObject();
	cJSON *fds = child_fds();
	cJSON *args = cJSON_AddArrayToObject(o, "argv");
	cJSON *env = cJSON_AddArrayToObject(o, "env");
	char blocked[64], ignored[64];
	FILE *f;

	for (int i = 0; i < argc; i++)
		cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
	for (char **e = environ; *e; e++)
		cJSON_AddItemToArray(env, cJSON_CreateString(*e));
	cJSON_AddItemToObject(o, "fds", fds);
	cJSON_AddBoolToObject(o, "own_group", getpgrp() == getpid());
	child_status_field("SigBlk:", blocked, sizeof blocked);
	child_status_field("SigIgn:", ignored, sizeof ignored);
	cJSON_AddStringToObject(o, "sigblk", blocked);
	cJSON_AddStringToObject(o, "sigign", ignored);
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	f = fopen(path, "w");
	int r = !f || !text || fputs(text, f) < 0;
	if (f && fclose(f) != 0)
		r = 1;
	free(text);
	return r;
}

/* Write all of s to fd. */
static void child_write(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			_exit(1);
		s += w;
		n -= (size_t)w;
	}
}

/* Lines on stdout and stderr, a long one, one of exactly 4 KiB, a CRLF
 * one, and tails without a line feed; then exit with code. */
static int child_output(int code)
{
	static char big[5001];

	child_write(1, "out one\nout two\n", 16);
	child_write(2, "err one\n", 8);
	memset(big, 'x', 5000);
	big[5000] = '\n';
	child_write(1, big, 5001);
	memset(big, 'y', 4096);
	big[4096] = '\n';
	child_write(1, big, 4097);
	child_write(1, "crlf line\r\n", 11);
	child_write(2, "err tail", 8);
	child_write(1, "out tail", 8);
	return code;
}

/* Print "ready" and wait for a signal, optionally ignoring SIGTERM. */
static __attribute__((noreturn)) void child_wait(bool ignore_term)
{
	if (ignore_term)
		signal(SIGTERM, SIG_IGN);
	child_write(1, "ready\n", 6);
	for (;;)
		pause();
}

/* Connect through $BOTKIT_FD, fetch host.context() and call its reply function. */
static int child_context(void)
{
	bk_conn *c = NULL;
	cJSON *ctx = NULL, *answer = NULL;
	int r;

	if ((r = bk_conn_new(&c, "context-child")) < 0 ||
	    (r = bk_call_sync(c, "host", "context", &ctx, "")) < 0) {
		fprintf(stderr, "context: %s\n", strerror(-r));
		bk_conn_unref(c);
		return 1;
	}
	printf("greeting %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "greeting")));
	bk_fn *reply = bk_json_get_fn(cJSON_GetObjectItem(ctx, "reply"));
	r = reply ? bk_fn_call_sync(reply, &answer, "s", "hello from the child") : -ENOENT;
	if (r == 0)
		printf("reply answered %s\n", cJSON_GetStringValue(answer));
	else
		fprintf(stderr, "reply: %s\n", strerror(-r));
	bk_json_delete(answer);
	bk_json_delete(ctx);
	bk_conn_unref(c);
	return r == 0 ? 0 : 1;
}

/* The child program's modes. */
static int child_main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";

	if (strcmp(mode, "report") == 0 && argc > 3)
		return child_report(argc, argv, argv[3]);
	if (strcmp(mode, "output") == 0 && argc > 3)
		return child_output(atoi(argv[3]));
	if (strcmp(mode, "signal") == 0) {
		kill(getpid(), SIGUSR1);
		return 0;	/* only if SIGUSR1 was ignored or blocked */
	}
	if (strcmp(mode, "sleep") == 0)
		child_wait(false);
	if (strcmp(mode, "ignore-term") == 0)
		child_wait(true);
	if (strcmp(mode, "context") == 0)
		return child_context();
	return 2;
}

/* ---- the host side ------------------------------------------------------- */

/* How a spawn ended, and the log as it was when its exit was reported. */
struct outcome {
	bool done;
	int calls;
	pid_t pid;
	struct spawn_exit how;
	char *log;
};

/* The whole log written so far (caller frees). */
static char *log_read(void)
{
	FILE *f = fopen(log_path, "r");
	char *s = NULL;
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	FILE *m = open_memstream(&s, &n);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, got, m);
	fclose(m);
	fclose(f);
	return s;
}

/* True when the log has "bothost LEVEL: [NAME PID] TEXT" as a whole line. */
static bool log_has_line(const char *log, const char *level, const char *name, pid_t pid, const char *text)
{
	char *line;
	bool found;

	ck_assert_int_ge(asprintf(&line, "bothost %s: [%s %ld] %s\n", level, name, (long)pid, text), 0);
	found = strstr(log, line) != NULL;
	free(line);
	return found;
}

/* The exit callback: record it (and the log at that moment). */
static void outcome_cb(struct spawn *sp, const struct spawn_exit *how, void *userdata)
{
	struct outcome *o = userdata;

	o->calls++;
	o->done = true;
	o->pid = spawn_get_pid(sp);
	o->how = *how;
	free(o->log);
	o->log = log_read();
}

/* Nothing to do: the timers only wake the loop. */
static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Run the loop until pred(arg) holds or ms passed; returns pred(arg). The
 * tick wakes the loop, since callbacks run from the deferred queue (before
 * the loop blocks) do not end an iteration. */
static bool run_until(bool (*pred)(const void *), const void *arg, int ms)
{
	ev_timer limit, tick;

	ev_timer_init(&limit, wake_cb, ms / 1000., 0.);
	ev_timer_init(&tick, wake_cb, 0.01, 0.01);
	ev_timer_start(EV_DEFAULT, &limit);
	ev_timer_start(EV_DEFAULT, &tick);
	while (!pred(arg) && ev_is_active(&limit))
		ev_run(EV_DEFAULT, EVRUN_ONCE);
	ev_timer_stop(EV_DEFAULT, &limit);
	ev_timer_stop(EV_DEFAULT, &tick);
	return pred(arg);
}

/* The spawn's exit was reported. */
static bool outcome_done(const void *arg)
{
	return ((const struct outcome *)arg)->done;
}

/* No client is left on the server. */
static bool no_clients(const void *arg)
{
	return server_client_count(server) == 0;
}

/* Start self_exe --child MODE ARGS... ; 0 or -errno. */
static int start_child(struct spawn_opts *o, struct outcome *out, struct spawn **ret, const char *mode,
		       const char *arg)
{
	char *argv[] = { "test_spawn", "--child", (char *)mode, (char *)arg, NULL };

	o->path = self_exe;
	o->argv = argv;
	return spawn_start(server, o, outcome_cb, out, ret);
}

/* Run a report child with opts and return the parsed report. */
static cJSON *child_report_run(struct spawn_opts *o)
{
	struct outcome out = { 0 };
	char path[128];
	cJSON *report;

	snprintf(path, sizeof path, "%s/report.json", dir_path);
	ck_assert_int_eq(start_child(o, &out, NULL, "report", path), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert(!out.how.signaled);
	ck_assert_int_eq(out.how.code, 0);
	FILE *f = fopen(path, "r");
	char text[65536];
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = '\0';
	report = cJSON_Parse(text);
	ck_assert_msg(report != NULL, "unparsable report: %s", text);
	unlink(path);
	free(out.log);
	return report;
}

/* The descriptors of a report: fd numbers in order, and their targets. */
static int report_fds(const cJSON *report, int *fds, const char **targets, int max)
{
	const cJSON *e;
	int n = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(report, "fds")) {
		ck_assert_int_lt(n, max);
		fds[n] = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "fd"));
		targets[n++] = cJSON_GetStringValue(cJSON_GetObjectItem(e, "target"));
	}
	for (int i = 0; i < n; i++)	/* sort by number */
		for (int j = i + 1; j < n; j++)
			if (fds[j] < fds[i]) {
				int t = fds[i];
				const char *s = targets[i];
				fds[i] = fds[j], targets[i] = targets[j];
				fds[j] = t, targets[j] = s;
			}
	return n;
}

/* Fresh log capture, server, host object, loop; signals set up as a host's. */
static void setup(void)
{
	struct server_config cfg;
	sigset_t set;
	int fd;

	ck_assert_int_gt(readlink("/proc/self/exe", self_exe, sizeof self_exe - 1), 0);
	snprintf(dir_path, sizeof dir_path, "/tmp/test_spawn.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir_path));
	snprintf(log_path, sizeof log_path, "%s/log", dir_path);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	saved_stderr = fcntl(2, F_DUPFD_CLOEXEC, 3);
	ck_assert_int_ge(dup2(fd, 2), 0);
	close(fd);
	/* A host ignores SIGPIPE; the others make sure children start clean. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ck_assert_ptr_nonnull(ev_default_loop(0));
	ck_assert_ptr_nonnull(later_queue_new(EV_DEFAULT));
	log_set_level(LOG_LEVEL_INFO);
	server_config_init(&cfg);
	server = server_new(&cfg);
	ck_assert_ptr_nonnull(server);
	ck_assert_int_eq(host_object_register(server), 0);
}

/* Stop what is left, free everything, restore stderr. */
static void teardown(void)
{
	char path[128];

	spawn_stop_all();
	server_free(server);
	later_queue_free(later_queue_of(EV_DEFAULT));
	dup2(saved_stderr, 2);
	close(saved_stderr);
	unlink(log_path);
	snprintf(path, sizeof path, "%s/plain", dir_path);
	unlink(path);
	rmdir(dir_path);
}

/* ---- tests --------------------------------------------------------------- */

static const char *const tricky[] = {
	"$HOME", "a b", "; echo pwned", "\"quoted\"", "*", "`id`", "", "back\\slash", "'single'", "$(id)",
	"new\nline", NULL,
};

/* Arguments with shell metacharacters arrive as they are. */
START_TEST(test_argv_literal)
{
	struct spawn_opts o = { .name = "argv" };
	char *argv[32] = { "test_spawn", "--child", "report", NULL };
	char path[128];
	int n = 4;

	snprintf(path, sizeof path, "%s/report.json", dir_path);
	argv[3] = path;
	for (int i = 0; tricky[i]; i++)
		argv[n++] = (char *)tricky[i];
	argv[n] = NULL;
	o.path = self_exe;
	o.argv = argv;
	struct outcome out = { 0 };
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	FILE *f = fopen(path, "r");
	char text[65536];
	size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[len] = '\0';
	cJSON *report = cJSON_Parse(text);
	const cJSON *got = cJSON_GetObjectItem(report, "argv");
	ck_assert_int_eq(cJSON_GetArraySize(got), n);
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(got, i)), argv[i]);
	cJSON_Delete(report);
	free(out.log);
	unlink(path);
}
END_TEST

/* The same through /bin/sh -c 'printf ... "$@"': the shell sees them as data. */
START_TEST(test_argv_shell)
{
	struct spawn_opts o = { .name = "sh-argv", .path = "sh" };
	char *argv[32] = { "sh", "-c", "printf '[%s]\\n' \"$@\"", "sh", NULL };
	struct outcome out = { 0 };
	char text[64];
	int n = 4;

	for (int i = 0; tricky[i]; i++)
		if (!strchr(tricky[i], '\n'))
			argv[n++] = (char *)tricky[i];
	argv[n] = NULL;
	o.argv = argv;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert_int_eq(out.how.code, 0);
	for (int i = 4; i < n; i++) {
		snprintf(text, sizeof text, "[%s]", argv[i]);
		ck_assert_msg(log_has_line(out.log, "info", "sh-argv", out.pid, text), "missing %s in:\n%s", text,
			      out.log);
	}
	free(out.log);
}
END_TEST

/* Compare two strings for qsort. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The environment is exactly the clean one plus the caller's entries. */
START_TEST(test_env_clean)
{
	char *extra[] = { "EXTRA=1", "LANG=fr_FR.UTF-8", NULL };
	struct spawn_opts o = { .name = "env", .env = extra };
	struct passwd *pw = getpwuid(geteuid());
	char home[PATH_MAX + 8], path[PATH_MAX + 64], self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	const char *want[8];
	const char *got[64];
	const cJSON *e;
	int n = 0;

	setenv("SECRET_TOKEN", "must not leak", 1);
	setenv("TZ", "Europe/Paris", 1);
	snprintf(home, sizeof home, "HOME=%s", pw ? pw->pw_dir : getenv("HOME"));
	/* The system directories, then the host's own (this program's here). */
	self[len > 0 ? len : 0] = '\0';
	if (strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	snprintf(path, sizeof path, "PATH=/usr/local/bin:/usr/bin:/bin:%s", self);
	want[0] = path;
	want[1] = home;
	want[2] = "LANG=fr_FR.UTF-8";
	want[3] = "LC_ALL=C.UTF-8";
	want[4] = "TZ=Europe/Paris";
	want[5] = "EXTRA=1";
	qsort(want, 6, sizeof want[0], cmp_str);
	cJSON *report = child_report_run(&o);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(report, "env")) {
		ck_assert_int_lt(n, 64);
		got[n++] = cJSON_GetStringValue(e);
	}
	qsort(got, (size_t)n, sizeof got[0], cmp_str);
	ck_assert_int_eq(n, 6);
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(got[i], want[i]);
	cJSON_Delete(report);

	/* With a connection, BOTKIT_FD=3 is added. */
	o.env = NULL;
	o.connect = true;
	report = child_report_run(&o);
	bool found = false;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(report, "env"))
		found |= strcmp(cJSON_GetStringValue(e), "BOTKIT_FD=3") == 0;
	ck_assert(found);
	cJSON_Delete(report);
}
END_TEST

/* Only 0 (/dev/null), 1 and 2 (pipes) and, with connect, 3 (a socket) are
 * open in the child, though the host holds descriptors without O_CLOEXEC;
 * the child has its own process group and clean signal state. */
START_TEST(test_fds_only)
{
	struct spawn_opts o = { .name = "fds" };
	int p[2], fds[16];
	const char *targets[16];

	ck_assert_int_ge(open("/dev/null", O_RDONLY), 0);
	ck_assert_int_ge(open("/dev/zero", O_RDONLY), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(dup(2), 0);
	cJSON *report = child_report_run(&o);
	int n = report_fds(report, fds, targets, 16);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(fds[0], 0);
	ck_assert_str_eq(targets[0], "/dev/null");
	ck_assert_int_eq(fds[1], 1);
	ck_assert_int_eq(strncmp(targets[1], "pipe:", 5), 0);
	ck_assert_int_eq(fds[2], 2);
	ck_assert_int_eq(strncmp(targets[2], "pipe:", 5), 0);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(report, "own_group")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(report, "sigblk")), "0000000000000000");
	/* Signals 32 and 33 belong to the C library, which refuses to change
	 * them: they keep whatever disposition the test runner gave them. */
	unsigned long long ignored = strtoull(cJSON_GetStringValue(cJSON_GetObjectItem(report, "sigign")), NULL, 16);
	ck_assert_uint_eq(ignored & ~(3ULL << 31), 0);
	cJSON_Delete(report);

	o.connect = true;
	report = child_report_run(&o);
	n = report_fds(report, fds, targets, 16);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(fds[3], 3);
	ck_assert_int_eq(strncmp(targets[3], "socket:", 7), 0);
	cJSON_Delete(report);
	ck_assert(run_until(no_clients, NULL, 5000));
}
END_TEST

/* stdout lines at info, stderr lines at warn, long lines cut at 4 KiB with
 * a marker, tails without a line feed: all logged before the exit is
 * reported. */
START_TEST(test_output_logged)
{
	struct spawn_opts o = { .name = "out" };
	struct outcome out = { 0 };
	char *x = malloc(4097), *y = malloc(4097);

	ck_assert_int_eq(start_child(&o, &out, NULL, "output", "3"), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert(!out.how.signaled);
	ck_assert_int_eq(out.how.code, 3);
	ck_assert(!out.how.timed_out);
	const char *log = out.log;
	ck_assert_msg(log_has_line(log, "info", "out", out.pid, "out one"), "%s", log);
	ck_assert(log_has_line(log, "info", "out", out.pid, "out two"));
	ck_assert(log_has_line(log, "warn", "out", out.pid, "err one"));
	memset(x, 'x', 4096);
	x[4096] = '\0';
	ck_assert(!log_has_line(log, "info", "out", out.pid, x));
	char *cut = NULL;
	ck_assert_int_ge(asprintf(&cut, "%s [cut at 4096 bytes]", x), 0);
	ck_assert(log_has_line(log, "info", "out", out.pid, cut));
	free(cut);
	x[904] = '\0';
	ck_assert(!log_has_line(log, "info", "out", out.pid, x));
	memset(y, 'y', 4096);
	y[4096] = '\0';
	ck_assert(log_has_line(log, "info", "out", out.pid, y));
	ck_assert(!log_has_line(log, "info", "out", out.pid, ""));
	ck_assert(log_has_line(log, "info", "out", out.pid, "crlf line"));
	ck_assert(log_has_line(log, "warn", "out", out.pid, "err tail"));
	ck_assert(log_has_line(log, "info", "out", out.pid, "out tail"));
	ck_assert_ptr_nonnull(strstr(log, "exited with code 3 after"));
	ck_assert_int_eq(out.calls, 1);
	ck_assert_uint_eq(spawn_count(), 0);
	free(x);
	free(y);
	free(out.log);
}
END_TEST

/* A line log_shows waits for: "bothost LEVEL: [NAME PID] TEXT". */
struct log_wait {
	const char *level, *name;
	pid_t pid;
	const char *text;
};

/* The log has the line of a struct log_wait. */
static bool log_shows(const void *arg)
{
	const struct log_wait *w = arg;
	char *log = log_read();
	bool found = log_has_line(log, w->level, w->name, w->pid, w->text);

	free(log);
	return found;
}

/* Start limit_probe hold (a program not linking libbotkit that printf()s a
 * line and blocks) as name; return once it said "holding" on stderr. */
static struct spawn *hold_start(struct outcome *out, const char *name, bool line_buffered)
{
	char *argv[] = { "limit_probe", "hold", NULL };
	struct spawn_opts o = { .name = name, .path = LIMIT_PROBE, .argv = argv, .line_buffered = line_buffered };
	struct spawn *sp = NULL;
	struct log_wait w = { "warn", name, 0, "holding" };

	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, out, &sp), 0);
	w.pid = spawn_get_pid(sp);
	ck_assert_msg(run_until(log_shows, &w, 10000), "%s did not start", name);
	return sp;
}

/* line_buffered: the printf() line of a program that does nothing about its
 * buffering reaches the log while it still runs (coreutils' libstdbuf.so,
 * when configure found it); without it, the line waits in the program's
 * buffer and is lost when the program is stopped. Python is told too. */
START_TEST(test_line_buffered)
{
	struct outcome lined = { 0 }, plain = { 0 };
	struct spawn *sp = hold_start(&lined, "lined", true);
	struct log_wait w = { "info", "lined", spawn_get_pid(sp), "held line" };
	struct spawn_opts o = { .name = "env", .line_buffered = true };
	bool python = false, preload = false;
	const cJSON *e;
	cJSON *report;

#if defined(SPAWN_LIBSTDBUF) && !defined(__SANITIZE_ADDRESS__)
	ck_assert_msg(run_until(log_shows, &w, 10000), "the line of a running program is not logged");
	ck_assert(!lined.done);
#else
	(void)w;
	dprintf(saved_stderr, "test_line_buffered: no libstdbuf.so in this build: only the environment is checked\n");
#endif
	spawn_stop(sp);
	ck_assert(run_until(outcome_done, &lined, 10000));
	sp = hold_start(&plain, "plain", false);
	spawn_stop(sp);
	ck_assert(run_until(outcome_done, &plain, 10000));
	ck_assert_msg(!log_has_line(plain.log, "info", "plain", plain.pid, "held line"), "%s", plain.log);
	report = child_report_run(&o);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(report, "env")) {
		python |= strcmp(cJSON_GetStringValue(e), "PYTHONUNBUFFERED=1") == 0;
		preload |= strncmp(cJSON_GetStringValue(e), "LD_PRELOAD=", 11) == 0;
	}
	ck_assert(python);
#if defined(SPAWN_LIBSTDBUF) && !defined(__SANITIZE_ADDRESS__)
	ck_assert(preload);
#else
	ck_assert(!preload);
#endif
	cJSON_Delete(report);
	free(lined.log);
	free(plain.log);
}
END_TEST

/* Exit code 0, and death by a signal (the host's ignored SIGUSR1 is reset). */
START_TEST(test_exit_and_signal)
{
	struct spawn_opts o = { .name = "ok", .path = "true" };
	char *argv_true[] = { "true", NULL };
	struct outcome a = { 0 }, b = { 0 };

	o.argv = argv_true;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &a, NULL), 0);
	o.name = "sig";
	ck_assert_int_eq(start_child(&o, &b, NULL, "signal", NULL), 0);
	ck_assert_uint_eq(spawn_count(), 2);
	ck_assert(run_until(outcome_done, &a, 10000));
	ck_assert(run_until(outcome_done, &b, 10000));
	ck_assert(!a.how.signaled);
	ck_assert_int_eq(a.how.code, 0);
	ck_assert(b.how.signaled);
	ck_assert_int_eq(b.how.code, SIGUSR1);
	ck_assert(!b.how.timed_out);
	ck_assert_ptr_nonnull(strstr(b.log, "killed by signal 10"));
	free(a.log);
	free(b.log);
}
END_TEST

/* A sleeping child is stopped by SIGTERM at its timeout. */
START_TEST(test_timeout_term)
{
	struct spawn_opts o = { .name = "sleepy", .timeout_ms = 200 };
	struct outcome out = { 0 };

	ck_assert_int_eq(start_child(&o, &out, NULL, "sleep", NULL), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert(out.how.signaled);
	ck_assert_int_eq(out.how.code, SIGTERM);
	ck_assert(out.how.timed_out);
	ck_assert_uint_ge(out.how.runtime_ms, 200);
	ck_assert_uint_lt(out.how.runtime_ms, 2000);
	ck_assert_ptr_nonnull(strstr(out.log, "timed out"));
	free(out.log);
}
END_TEST

/* A child that ignores SIGTERM gets SIGKILL after the grace period. */
START_TEST(test_timeout_kill)
{
	struct spawn_opts o = { .name = "stubborn", .timeout_ms = 800, .kill_grace_ms = 300 };
	struct outcome out = { 0 };

	ck_assert_int_eq(start_child(&o, &out, NULL, "ignore-term", NULL), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert_msg(log_has_line(out.log, "info", "stubborn", out.pid, "ready"), "not ready in time:\n%s",
		      out.log);
	ck_assert(out.how.signaled);
	ck_assert_int_eq(out.how.code, SIGKILL);
	ck_assert(out.how.timed_out);
	ck_assert_uint_ge(out.how.runtime_ms, 1100);
	ck_assert_ptr_nonnull(strstr(out.log, "SIGKILL"));
	free(out.log);
}
END_TEST

/* spawn_stop stops the whole process group: a grandchild holding the
 * output goes too, so the exit is reported at once. */
START_TEST(test_stop_group)
{
	struct spawn_opts o = { .name = "group", .path = "/bin/sh" };
	char *argv[] = { "sh", "-c", "sleep 30 & echo started; wait", NULL };
	struct outcome out = { 0 };
	struct spawn *sp = NULL;
	uint64_t t0;

	o.argv = argv;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, &sp), 0);
	ck_assert_str_eq(spawn_get_name(sp), "group");
	ck_assert_ptr_null(spawn_get_client(sp));
	/* let the shell start the grandchild */
	char *log = NULL;
	for (int i = 0; i < 100; i++) {
		struct outcome never = { 0 };
		run_until(outcome_done, &never, 20);
		free(log);
		log = log_read();
		if (log_has_line(log, "info", "group", spawn_get_pid(sp), "started"))
			break;
	}
	free(log);
	t0 = (uint64_t)time(NULL);
	spawn_stop(sp);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert(!out.how.timed_out);
	ck_assert(out.how.signaled);
	ck_assert_int_eq(out.how.code, SIGTERM);
	ck_assert_ptr_null(strstr(out.log, "output still open"));
	ck_assert_uint_le((uint64_t)time(NULL) - t0, 1);
	free(out.log);
}
END_TEST

/* A process left behind holding the output is killed after a short drain. */
START_TEST(test_drain_leftover)
{
	struct spawn_opts o = { .name = "leftover", .path = "/bin/sh" };
	char *argv[] = { "sh", "-c", "sleep 30 & echo left", NULL };
	struct outcome out = { 0 };

	o.argv = argv;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert(!out.how.signaled);
	ck_assert_int_eq(out.how.code, 0);
	ck_assert(log_has_line(out.log, "info", "leftover", out.pid, "left"));
	ck_assert_ptr_nonnull(strstr(out.log, "output still open"));
	free(out.log);
}
END_TEST

/* Failures before execve come back synchronously as -errno; nothing runs. */
START_TEST(test_start_errors)
{
	struct spawn_opts o = { .name = "missing", .path = "/nonexistent/program" };
	char *argv[] = { "program", NULL };
	struct outcome out = { 0 };
	char plain[128];
	int fd;

	o.argv = argv;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), -ENOENT);
	o.path = "no-such-program-in-path";
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), -ENOENT);
	snprintf(plain, sizeof plain, "%s/plain", dir_path);
	fd = open(plain, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	o.path = plain;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), -EACCES);
	o.path = "/bin/true";
	o.cwd = "/nonexistent/directory";
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), -ENOENT);
	o.cwd = NULL;
	char *bad_env[] = { "NOEQUALS", NULL };
	o.env = bad_env;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), -EINVAL);
	ck_assert_uint_eq(spawn_count(), 0);
	run_until(outcome_done, &out, 100);
	ck_assert_int_eq(out.calls, 0);
	ck_assert_uint_eq(server_client_count(server), 0);
}
END_TEST

/* Run limit_probe ARGS... as name with limits; the outcome. */
static void probe_run(struct outcome *out, const char *name, const struct spawn_limits *lim, const char *a1,
		      const char *a2)
{
	char *argv[] = { "limit_probe", (char *)a1, (char *)a2, NULL };
	struct spawn_opts o = { .name = name, .path = LIMIT_PROBE, .argv = argv, .limits = lim };

	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, out, NULL), 0);
	ck_assert(run_until(outcome_done, out, 20000));
}

/* The default limits reach the process, with no_new_privs. */
START_TEST(test_limits_default)
{
	struct outcome out = { 0 };
	struct spawn_limits def;
	char want[64];

	spawn_limits_init(&def);
	probe_run(&out, "probe", NULL, "report", NULL);
	ck_assert_msg(!out.how.signaled && out.how.code == 0, "%s", out.log);
	ck_assert_msg(log_has_line(out.log, "info", "probe", out.pid, "files 256 256"), "%s", out.log);
	ck_assert(log_has_line(out.log, "info", "probe", out.pid, "core 0 0"));
	ck_assert(log_has_line(out.log, "info", "probe", out.pid, "NoNewPrivs: 1"));
	if (def.memory == SPAWN_UNLIMITED)
		snprintf(want, sizeof want, "memory unlimited unlimited");
	else
		snprintf(want, sizeof want, "memory %llu %llu", 512ull << 20, 512ull << 20);
	ck_assert_msg(log_has_line(out.log, "info", "probe", out.pid, want), "%s", out.log);
	free(out.log);
}
END_TEST

/* Limits given are set soft and hard (CPU time: hard a second later); a
 * memory limit refuses a larger allocation. */
START_TEST(test_limits_set)
{
	struct spawn_limits lim = { .memory = 64ull << 20, .cpu_s = 30, .processes = 1000, .files = 32,
				    .file_size = 1ull << 20, .core = SPAWN_UNLIMITED };
	struct outcome out = { 0 }, big = { 0 }, small = { 0 };
	char want[64];
	struct rlimit core;

	probe_run(&out, "probe", &lim, "report", NULL);
	ck_assert_msg(log_has_line(out.log, "info", "probe", out.pid, "memory 67108864 67108864"), "%s", out.log);
	ck_assert(log_has_line(out.log, "info", "probe", out.pid, "cpu 30 31"));
	ck_assert(log_has_line(out.log, "info", "probe", out.pid, "processes 1000 1000"));
	ck_assert(log_has_line(out.log, "info", "probe", out.pid, "files 32 32"));
	ck_assert(log_has_line(out.log, "info", "probe", out.pid, "file_size 1048576 1048576"));
	ck_assert_int_eq(getrlimit(RLIMIT_CORE, &core), 0);	/* unlimited: the host's own */
	snprintf(want, sizeof want, "core %s", core.rlim_cur == RLIM_INFINITY ? "unlimited" : "");
	if (core.rlim_cur != RLIM_INFINITY)
		snprintf(want, sizeof want, "core %llu", (unsigned long long)core.rlim_cur);
	ck_assert_ptr_nonnull(strstr(out.log, want));
	probe_run(&big, "big", &lim, "alloc", "256");
	ck_assert_msg(log_has_line(big.log, "info", "big", big.pid, "alloc 256 MiB: refused"), "%s", big.log);
	probe_run(&small, "small", &lim, "alloc", "16");
	ck_assert_msg(log_has_line(small.log, "info", "small", small.pid, "alloc 16 MiB: ok"), "%s", small.log);
	free(out.log);
	free(big.log);
	free(small.log);
}
END_TEST

/* A busy loop over its CPU time gets SIGXCPU, logged as how it ended. */
START_TEST(test_limits_cpu)
{
	struct spawn_limits lim;
	struct outcome out = { 0 };

	spawn_limits_init(&lim);
	lim.cpu_s = 1;
	probe_run(&out, "spin", &lim, "spin", NULL);
	ck_assert(out.how.signaled);
	ck_assert_int_eq(out.how.code, SIGXCPU);
	/* The kernel counts CPU time from the fork, the host its runtime from
	 * when the start returned: allow the difference. */
	ck_assert_uint_ge(out.how.runtime_ms, 900);
	ck_assert_msg(strstr(out.log, "killed by signal 24 (CPU time limit exceeded)"), "%s", out.log);
	free(out.log);
}
END_TEST

/* A limit the kernel refuses (more open files than fs.nr_open allows, even
 * to root) fails the start synchronously, saying which step failed. */
START_TEST(test_limits_refused)
{
	char *argv[] = { "limit_probe", "report", NULL };
	struct spawn_limits lim;
	struct spawn_opts o = { .name = "over", .path = LIMIT_PROBE, .argv = argv, .limits = &lim };
	struct outcome out = { 0 };
	char *log;

	spawn_limits_init(&lim);
	lim.files = 1ull << 40;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), -EPERM);
	ck_assert_uint_eq(spawn_count(), 0);
	run_until(outcome_done, &out, 100);
	ck_assert_int_eq(out.calls, 0);
	log = log_read();
	ck_assert_msg(strstr(log, "limit_probe: setting the open files limit: Operation not permitted\n"), "%s", log);
	ck_assert_msg(strstr(log, "behaviour over not started: "), "%s", log);
	free(log);
}
END_TEST

/* Past its lines per window, a process's output is counted, and the count
 * logged in one line when it exits. */
START_TEST(test_log_flood_exit)
{
	struct spawn_opts o = { .name = "flood", .path = "/bin/sh" };
	char *argv[] = { "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done", NULL };
	struct outcome out = { 0 };
	char want[128];

	o.argv = argv;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert(log_has_line(out.log, "info", "flood", out.pid, "line 0"));
	ck_assert(log_has_line(out.log, "info", "flood", out.pid, "line 49"));
	ck_assert(!log_has_line(out.log, "info", "flood", out.pid, "line 50"));
	ck_assert(!log_has_line(out.log, "info", "flood", out.pid, "line 199"));
	snprintf(want, sizeof want, "150 lines from flood (pid %ld) suppressed: at most 50 lines are logged per 10 s\n",
		 (long)out.pid);
	ck_assert_msg(strstr(out.log, want), "%s", out.log);
	ck_assert_ptr_nonnull(strstr(strstr(out.log, want), "exited with code 0"));
	free(out.log);
}
END_TEST

/* The count is also logged when the window ends; the next window logs again. */
START_TEST(test_log_flood_window)
{
	struct spawn_opts o = { .name = "burst", .path = "/bin/sh", .log_lines = 3, .log_window_ms = 300 };
	char *argv[] = { "sh", "-c", "for i in 1 2 3 4 5; do echo a$i; done; sleep 0.6; echo b1; echo b2", NULL };
	struct outcome out = { 0 };
	char want[128];
	const char *summary, *b1;

	o.argv = argv;
	ck_assert_int_eq(spawn_start(server, &o, outcome_cb, &out, NULL), 0);
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert(log_has_line(out.log, "info", "burst", out.pid, "a3"));
	ck_assert(!log_has_line(out.log, "info", "burst", out.pid, "a4"));
	snprintf(want, sizeof want, "2 lines from burst (pid %ld) suppressed: at most 3 lines are logged per 0.3 s\n",
		 (long)out.pid);
	summary = strstr(out.log, want);
	ck_assert_msg(summary, "%s", out.log);
	snprintf(want, sizeof want, "[burst %ld] b1\n", (long)out.pid);
	b1 = strstr(out.log, want);
	ck_assert_msg(b1 && b1 > summary, "%s", out.log);
	ck_assert(log_has_line(out.log, "info", "burst", out.pid, "b2"));
	ck_assert_ptr_null(strstr(strchr(summary, '\n'), "suppressed"));
	free(out.log);
}
END_TEST

/* What the native reply function saw. */
struct reply_rec {
	int calls;
	bool destroyed;
	char said[128];
};

/* reply(text): records text, answers "thanks". */
static void reply_fn(struct fn *fn, struct call *call, void *userdata)
{
	struct reply_rec *r = userdata;
	const char *s = cJSON_GetStringValue(call_get_arg(call, 0));

	r->calls++;
	snprintf(r->said, sizeof r->said, "%s", s ? s : "(not a string)");
	call_return_json(call, cJSON_CreateString("thanks"));
}

/* The reply function was freed. */
static void reply_destroy(void *userdata)
{
	((struct reply_rec *)userdata)->destroyed = true;
}

/* The answer of host.stats(), asked through the object registry. */
struct stats_answer {
	bool done;
	double clients;
	double functions;
};

/* Completion of the host.stats() call. */
static void stats_done(struct value *result, const struct fn_error *err, void *userdata)
{
	struct stats_answer *a = userdata;

	a->done = true;
	if (result) {
		a->clients = cJSON_GetNumberValue(cJSON_GetObjectItem(value_json(result), "clients"));
		a->functions = cJSON_GetNumberValue(cJSON_GetObjectItem(value_json(result), "functions"));
	}
	value_free(result);
}

/* The stats call was answered. */
static bool stats_answered(const void *arg)
{
	return ((const struct stats_answer *)arg)->done;
}

/* A connected child gets its context from host.context(), including a
 * working native reply function; afterwards no client is left. */
START_TEST(test_connected_context)
{
	struct spawn_opts o = { .name = "ctx", .connect = true };
	struct reply_rec rec = { 0 };
	struct outcome out = { 0 };
	struct stats_answer stats = { 0 };
	struct spawn *sp = NULL;
	struct value *ctx = value_new(cJSON_CreateObject());
	struct fn *reply = fn_new_native(server, reply_fn, &rec, reply_destroy);

	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_nonnull(reply);
	cJSON_AddStringToObject(value_root(ctx), "greeting", "hi");
	cJSON_AddItemToObject(value_root(ctx), "reply", value_add_fn(ctx, reply));
	fn_unref(reply);
	o.context = ctx;
	ck_assert_int_eq(start_child(&o, &out, &sp, "context", NULL), 0);
	value_free(ctx);	/* the client holds its own copy */
	struct client *c = spawn_get_client(sp);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(spawn_client_context(c));
	ck_assert(run_until(outcome_done, &out, 10000));
	ck_assert_msg(!out.how.signaled && out.how.code == 0, "child failed:\n%s", out.log);
	ck_assert_int_eq(rec.calls, 1);
	ck_assert_str_eq(rec.said, "hello from the child");
	ck_assert(log_has_line(out.log, "info", "ctx", out.pid, "greeting hi"));
	ck_assert(log_has_line(out.log, "info", "ctx", out.pid, "reply answered thanks"));
	ck_assert(run_until(no_clients, NULL, 5000));
	later_queue_run(later_queue_of(EV_DEFAULT));
	ck_assert(rec.destroyed);

	struct call *call = call_new_callback(server, NULL, stats_done, &stats);
	ck_assert_ptr_nonnull(call);
	object_dispatch(server_objects(server), call, "host", "stats");
	ck_assert(run_until(stats_answered, &stats, 5000));
	ck_assert_int_eq((int)stats.clients, 0);
	ck_assert_int_eq((int)stats.functions, 0);
	free(out.log);
}
END_TEST

/* Running children are stopped and reported when the host exits. */
START_TEST(test_stop_all)
{
	struct spawn_opts o = { .name = "a", .kill_grace_ms = 60000 };
	struct outcome a = { 0 }, b = { 0 };
	uint64_t t0;

	ck_assert_int_eq(start_child(&o, &a, NULL, "sleep", NULL), 0);
	o.name = "b";
	ck_assert_int_eq(start_child(&o, &b, NULL, "ignore-term", NULL), 0);
	/* let b install its SIGTERM disposition */
	for (int i = 0; i < 200; i++) {
		struct outcome never = { 0 };
		run_until(outcome_done, &never, 20);
		char *log = log_read();
		bool ready = strstr(log, "[b ") && strstr(log, "] ready\n");
		free(log);
		if (ready)
			break;
	}
	ck_assert_uint_eq(spawn_count(), 2);
	t0 = (uint64_t)time(NULL);
	spawn_stop_all();
	ck_assert_uint_le((uint64_t)time(NULL) - t0, 3);
	ck_assert_uint_eq(spawn_count(), 0);
	ck_assert(a.done && b.done);
	ck_assert_int_eq(a.how.code, SIGTERM);
	ck_assert_int_eq(b.how.code, SIGKILL);
	free(a.log);
	free(b.log);
}
END_TEST

/* The suite. */
static Suite *spawn_suite(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("spawn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_argv_literal);
	tcase_add_test(tc, test_argv_shell);
	tcase_add_test(tc, test_env_clean);
	tcase_add_test(tc, test_fds_only);
	tcase_add_test(tc, test_output_logged);
	tcase_add_test(tc, test_line_buffered);
	tcase_add_test(tc, test_exit_and_signal);
	tcase_add_test(tc, test_timeout_term);
	tcase_add_test(tc, test_timeout_kill);
	tcase_add_test(tc, test_stop_group);
	tcase_add_test(tc, test_drain_leftover);
	tcase_add_test(tc, test_start_errors);
	tcase_add_test(tc, test_connected_context);
	tcase_add_test(tc, test_stop_all);
	tcase_add_test(tc, test_limits_default);
	tcase_add_test(tc, test_limits_set);
	tcase_add_test(tc, test_limits_cpu);
	tcase_add_test(tc, test_limits_refused);
	tcase_add_test(tc, test_log_flood_exit);
	tcase_add_test(tc, test_log_flood_window);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite, or act as the child program. */
int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	SRunner *sr = srunner_create(spawn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
