/* SPDX-License-Identifier: ISC */
/* Access control on the host's sockets: allow_user and allow_group, the
 * per-user connection limit, the socket directory's checks, socket modes,
 * the configuration file's permission warning, and the rule that a
 * descendant of the host (a behaviour connecting to PATH itself, or an
 * orphan of one) is no more privileged than the behaviour it descends from.
 * The tests that connect as another uid need root; without it they say they
 * were skipped. The program is also the behaviour it configures (run with
 * --behaviour MODE). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "harness.h"

#define WAIT_MS 10000
#define OTHER_UID 65534
#define OTHER_GID 65534
#define EXTRA_GID 54321

static char self_exe[PATH_MAX];

/* ---- the behaviour (this program run by bothost) ------------------------------ */

/* Connect to path, say hello and ask for bot.reload(): "result", the name of
 * the error that answered, or "no-welcome: NAME" when the connection was refused. */
static void outcome_of_reload(const char *path, char *out, size_t size)
{
	struct test_raw c;
	cJSON *welcome = test_raw_hello(&c, path, "access"), *m;
	const char *t, *name;

	if (!welcome) {
		snprintf(out, size, "no-welcome");
		return;
	}
	cJSON_Delete(welcome);
	m = test_raw_call(&c, "bot", "reload", "[]", NULL);
	t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "t"));
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "error"),
								       "name"));
	snprintf(out, size, "%s", t && strcmp(t, "result") == 0 ? "result" : name ? name : "nothing");
	cJSON_Delete(m);
	test_raw_close(&c);
}

/* Write text to path through a temporary file renamed over it. */
static void write_atomically(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!(f = fopen(tmp, "w")))
		return;
	fputs(text, f);
	if (fclose(f) == 0)
		rename(tmp, path);
}

/* orphan: fork twice; the grandchild waits to be reparented (to the host,
 * a child subreaper), then connects and reports "OUTCOME ppid=PID pid=PID". */
static int mode_orphan(const char *out, const char *path)
{
	pid_t child = fork(), middle;
	char outcome[64], text[160];

	if (child < 0)
		return 1;
	if (child > 0) {
		/* The behaviour stays until its orphan has spoken, then ends:
		 * the host must end the orphan with it. */
		if (waitpid(child, NULL, 0) != child)
			return 1;
		for (uint64_t deadline = test_now_ms() + WAIT_MS; access(out, F_OK) < 0; usleep(2000))
			if (test_now_ms() > deadline)
				return 1;
		return 0;
	}
	middle = getpid();
	if (setsid() < 0 || fork() != 0)
		_exit(0);
	/* Once the middle process exited, the grandchild is reparented. */
	for (uint64_t deadline = test_now_ms() + WAIT_MS; getppid() == middle; usleep(2000))
		if (test_now_ms() > deadline)
			_exit(1);
	outcome_of_reload(path, outcome, sizeof outcome);
	snprintf(text, sizeof text, "%s ppid=%ld pid=%ld", outcome, (long)getppid(), (long)getpid());
	write_atomically(out, text);
	for (;;)
		pause();	/* lingers: its behaviour's end must end it */
}

/* The program as a behaviour: --behaviour MODE OUTFILE PATH. */
static int behaviour_main(int argc, char **argv)
{
	char outcome[64];

	if (argc < 5)
		return 2;
	if (strcmp(argv[2], "connect") == 0) {
		outcome_of_reload(argv[4], outcome, sizeof outcome);
		write_atomically(argv[3], outcome);
		return 0;
	}
	if (strcmp(argv[2], "orphan") == 0)
		return mode_orphan(argv[3], argv[4]);
	return 2;
}

/* ---- a bothost with its log ---------------------------------------------------- */

struct host {
	pid_t pid;
	char dir[64];		/* the test's private directory */
	char path[128];		/* the socket */
	char conf[128];
	char log[128];		/* bothost's stderr */
};

/* The test's directory; the socket is DIR/SUB/bothost.sock (SUB may be ""). */
static void host_prepare(struct host *h, const char *sub)
{
	memset(h, 0, sizeof *h);
	snprintf(h->dir, sizeof h->dir, "/tmp/test-access.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	snprintf(h->path, sizeof h->path, "%s/%s%sbothost.sock", h->dir, sub, *sub ? "/" : "");
	snprintf(h->conf, sizeof h->conf, "%s/bothost.conf", h->dir);
	snprintf(h->log, sizeof h->log, "%s/bothost.log", h->dir);
}

/* Write the configuration file (mode 0600); "SELF" stands for this program,
 * "DIR" for the test's directory and "SOCK" for the socket. */
static void host_write_conf(struct host *h, const char *text)
{
	char tmp[160];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", h->conf);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	while (*text) {
		const char *words[] = { "SELF", "DIR", "SOCK" }, *values[] = { self_exe, h->dir, h->path };
		size_t i;
		for (i = 0; i < 3 && strncmp(text, words[i], strlen(words[i])) != 0; i++)
			;
		if (i < 3) {
			fputs(values[i], f);
			text += strlen(words[i]);
		} else {
			fputc(*text++, f);
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(tmp, 0600), 0);
	ck_assert_int_eq(rename(tmp, h->conf), 0);
}

/* Start bothost --config CONF --socket PATH, its stderr in the log. */
static void host_spawn(struct host *h)
{
	h->pid = fork();
	ck_assert_int_ge(h->pid, 0);
	if (h->pid == 0) {
		int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(getenv("BOTHOST"), "bothost", "--config", h->conf, "--socket", h->path, (char *)NULL);
		_exit(127);
	}
}

/* Wait until the socket answers (0) or bothost exits (its wait status, and h->pid is 0). */
static int host_wait(struct host *h)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	struct test_raw probe;
	char behaviours[160];
	int status;

	snprintf(behaviours, sizeof behaviours, "%s.behaviours", h->path);

	for (;;) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = 0;
			return status | 0x10000;
		}
		/* PATH.behaviours is made after PATH. */
		if (test_raw_connect(&probe, h->path) == 0) {
			test_raw_close(&probe);
			if (access(behaviours, F_OK) == 0)
				return 0;
		}
		ck_assert_msg(test_now_ms() < deadline, "bothost neither listened nor exited");
		usleep(5000);
	}
}

/* Start bothost; it must listen. */
static void host_start(struct host *h, const char *conf)
{
	host_write_conf(h, conf);
	host_spawn(h);
	ck_assert_int_eq(host_wait(h), 0);
}

/* Stop bothost (SIGTERM, deadline); it must exit with status 0. */
static void host_stop(struct host *h)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	int status = -1;

	if (h->pid <= 0)
		return;
	kill(h->pid, SIGTERM);
	while (waitpid(h->pid, &status, WNOHANG) != h->pid) {
		if (test_now_ms() > deadline) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			break;
		}
		usleep(5000);
	}
	h->pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bothost ended with status %#x", status);
}

/* Remove the test's directory and everything in it (one level of subdirectories). */
static void host_remove(struct host *h)
{
	char p[PATH_MAX], q[PATH_MAX * 2];
	struct dirent *e, *f;
	DIR *d = opendir(h->dir), *sd;

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", h->dir, e->d_name);
		if (unlink(p) == 0 || !(sd = opendir(p)))
			continue;
		while ((f = readdir(sd)))
			if (snprintf(q, sizeof q, "%s/%s", p, f->d_name) > 0 && f->d_name[0] != '.')
				unlink(q);
		closedir(sd);
		rmdir(p);
	}
	if (d)
		closedir(d);
	rmdir(h->dir);
}

/* The log so far (caller frees). */
static char *host_log(const struct host *h)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = fopen(h->log, "r");

	if (!f)
		return strdup("");
	if (getdelim(&text, &n, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

/* How many times needle occurs in the log. */
static int log_count(const struct host *h, const char *needle)
{
	char *text = host_log(h);
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* Wait until needle is in the log. */
static void log_wait(const struct host *h, const char *needle)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;

	while (log_count(h, needle) == 0) {
		if (test_now_ms() > deadline) {
			char *text = host_log(h);
			ck_abort_msg("the log never said \"%s\":\n%s", needle, text);
		}
		usleep(5000);
	}
}

/* The permission bits of path. */
static unsigned mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Wait until path has the permission bits mode. */
static void wait_mode(const char *path, unsigned mode)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;

	while (mode_of(path) != mode) {
		ck_assert_msg(test_now_ms() < deadline, "%s stayed %04o, not %04o", path, mode_of(path), mode);
		usleep(5000);
	}
}

/* Wait until path holds text (a file written by a behaviour); returns it (caller frees). */
static char *wait_file(const char *path)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	char *text = NULL;
	size_t n = 0;
	FILE *f;

	while (!(f = fopen(path, "r"))) {
		ck_assert_msg(test_now_ms() < deadline, "%s never appeared", path);
		usleep(5000);
	}
	if (getline(&text, &n, f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

/* ---- connecting as another user (root only) ------------------------------------- */

/* Skip (saying so) unless running as root. */
#define NEEDS_ROOT()                                                                         \
	do {                                                                                 \
		if (geteuid() != 0) {                                                        \
			printf("%.*s: skipped: needs root to act as another uid\n",            \
			       (int)strlen(__func__) - 3, __func__);                         \
			return;                                                              \
		}                                                                            \
	} while (0)

enum outcome { OUT_WELCOME, OUT_PERMISSION, OUT_LIMIT, OUT_OTHER };

/* In a child: what the first frame after hello was. */
static enum outcome hello_outcome(const char *path)
{
	struct test_raw c;
	cJSON *m;
	const char *t, *name;
	enum outcome o = OUT_OTHER;

	if (test_raw_connect(&c, path) < 0)
		return OUT_OTHER;
	test_raw_send(&c, "{\"t\":\"hello\",\"version\":1,\"name\":\"other\"}");
	m = test_raw_recv(&c, WAIT_MS);
	t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "t"));
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "error"),
								       "name"));
	if (t && strcmp(t, "welcome") == 0)
		o = OUT_WELCOME;
	else if (name && strcmp(name, "PermissionDenied") == 0)
		o = OUT_PERMISSION;
	else if (name && strcmp(name, "LimitExceeded") == 0)
		o = OUT_LIMIT;
	cJSON_Delete(m);
	/* Kept open: the per-user limit counts it until the child exits. */
	return o;
}

/* Become uid/gid with the supplementary groups (n of them); false on failure. */
static bool become(uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	return setgroups(n, groups) == 0 && setgid(gid) == 0 && setuid(uid) == 0;
}

/* In a forked child, as uid/gid with one supplementary group (0: none),
 * connect n times; the outcomes, one byte each, come back through a pipe. */
static void connect_as(const char *path, uid_t uid, gid_t gid, gid_t extra, int n, enum outcome *ret)
{
	int p[2];
	pid_t pid;
	int status;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (!become(uid, gid, &extra, extra ? 1 : 0))
			_exit(3);
		for (int i = 0; i < n; i++) {
			char o = (char)hello_outcome(path);
			if (write(p[1], &o, 1) != 1)
				_exit(4);
		}
		_exit(0);
	}
	close(p[1]);
	for (int i = 0; i < n; i++) {
		char o = (char)OUT_OTHER;
		ck_assert_int_eq(read(p[0], &o, 1), 1);
		ret[i] = (enum outcome)o;
	}
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child ended with %#x", status);
}

/* One connection as uid/gid (with an extra group, 0: none): its outcome. */
static enum outcome connect_once(const char *path, uid_t uid, gid_t gid, gid_t extra)
{
	enum outcome o;

	connect_as(path, uid, gid, extra, 1, &o);
	return o;
}

/* In a child as another uid: bot.reload() over PATH. */
static void reload_as_other(const char *path, char *out, size_t size)
{
	int p[2];
	pid_t pid;
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char text[64] = "";
		gid_t none = 0;
		close(p[0]);
		if (become(OTHER_UID, OTHER_GID, &none, 0))
			outcome_of_reload(path, text, sizeof text);
		_exit(write(p[1], text, strlen(text)) < 0);
	}
	close(p[1]);
	n = read(p[0], out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
}

START_TEST(other_uid_refused_unless_allowed)
{
	struct host h;
	char outcome[64];

	NEEDS_ROOT();
	host_prepare(&h, "");
	host_start(&h, "[bothost]\n");
	ck_assert_uint_eq(mode_of(h.path), 0600);
	/* The mode keeps other users out before the host is asked. */
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, 0), OUT_OTHER);
	chmod(h.path, 0666);
	chmod(h.dir, 0711);
	/* With the mode opened by hand, the peer check refuses them. */
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, 0), OUT_PERMISSION);
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, 0), OUT_PERMISSION);
	log_wait(&h, "refused a connection of uid 65534");
	ck_assert_int_eq(log_count(&h, "refused a connection of uid 65534"), 1);
	host_stop(&h);

	/* allow_user: served, never privileged. */
	host_start(&h, "[bothost]\nallow_user = 65534\n");
	ck_assert_uint_eq(mode_of(h.path), 0666);
	ck_assert_uint_eq(mode_of(h.dir) & 0011, 0011);
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, 0), OUT_WELCOME);
	reload_as_other(h.path, outcome, sizeof outcome);
	ck_assert_str_eq(outcome, "PermissionDenied");
	ck_assert_int_eq(connect_once(h.path, OTHER_UID + 1, OTHER_GID, 0), OUT_PERMISSION);
	host_stop(&h);
	host_remove(&h);
}
END_TEST

START_TEST(other_uid_allowed_by_group)
{
	struct host h;

	NEEDS_ROOT();
	host_prepare(&h, "");
	/* The primary group. */
	host_start(&h, "[bothost]\nallow_group = 65534\n");
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, 0), OUT_WELCOME);
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID - 1, 0), OUT_PERMISSION);
	host_stop(&h);
	/* A supplementary group (SO_PEERGROUPS). */
	host_start(&h, "[bothost]\nallow_group = 54321\n");
#ifdef SO_PEERGROUPS
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, EXTRA_GID), OUT_WELCOME);
#else
	printf("other_uid_allowed_by_group: supplementary groups not checked: no SO_PEERGROUPS\n");
#endif
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, 0), OUT_PERMISSION);
	host_stop(&h);
	host_remove(&h);
}
END_TEST

START_TEST(per_user_limit)
{
	struct host h;
	enum outcome o[4];
	struct test_raw own[4];

	NEEDS_ROOT();
	host_prepare(&h, "");
	host_start(&h, "[bothost]\nallow_user = 65534\n[limits]\nclients_per_user = 2\n");
	connect_as(h.path, OTHER_UID, OTHER_GID, 0, 4, o);
	ck_assert_int_eq(o[0], OUT_WELCOME);
	ck_assert_int_eq(o[1], OUT_WELCOME);
	ck_assert_int_eq(o[2], OUT_LIMIT);
	ck_assert_int_eq(o[3], OUT_LIMIT);
	ck_assert_int_eq(log_count(&h, "clients_per_user"), 1);
	/* The host's own uid is not held to it. */
	for (int i = 0; i < 4; i++) {
		cJSON *w = test_raw_hello(&own[i], h.path, "own");
		ck_assert_ptr_nonnull(w);
		cJSON_Delete(w);
	}
	for (int i = 0; i < 4; i++)
		test_raw_close(&own[i]);
	/* Once those connections are gone, the uid connects again. */
	struct test_host th = { .pid = h.pid };
	snprintf(th.path, sizeof th.path, "%s", h.path);
	ck_assert_int_eq(test_host_stat_wait(&th, "clients", 0, WAIT_MS), 0);
	ck_assert_int_eq(connect_once(h.path, OTHER_UID, OTHER_GID, 0), OUT_WELCOME);
	host_stop(&h);
	host_remove(&h);
}
END_TEST

START_TEST(directory_of_another_user_refused)
{
	struct host h;
	char sub[160], *log;
	int status;

	NEEDS_ROOT();
	host_prepare(&h, "run");
	snprintf(sub, sizeof sub, "%s/run", h.dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(chown(sub, OTHER_UID, OTHER_GID), 0);
	host_write_conf(&h, "[bothost]\n");
	host_spawn(&h);
	status = host_wait(&h);
	ck_assert_msg(status & 0x10000, "bothost listened in a directory of another user");
	ck_assert(WIFEXITED(status & 0xffff) && WEXITSTATUS(status & 0xffff) == 1);
	log = host_log(&h);
	ck_assert_msg(strstr(log, sub) && strstr(log, "owner uid 65534") && strstr(log, "belongs to another user"),
		      "%s", log);
	free(log);
	host_remove(&h);
}
END_TEST

/* ---- directories, modes, the configuration file ------------------------------ */

/* Start bothost on h (socket in DIR/run) and expect it to refuse: the log must hold what. */
static void expect_refused(struct host *h, const char *what)
{
	char *log;
	int status;

	host_write_conf(h, "[bothost]\n");
	host_spawn(h);
	status = host_wait(h);
	ck_assert_msg(status & 0x10000, "bothost listened where it should refuse (%s)", what);
	ck_assert(WIFEXITED(status & 0xffff) && WEXITSTATUS(status & 0xffff) == 1);
	log = host_log(h);
	ck_assert_msg(strstr(log, "socket directory") && strstr(log, what), "%s", log);
	free(log);
}

START_TEST(directory_checks)
{
	struct host h;
	char sub[160], target[160];

	/* Missing: created 0700, the socket 0600. */
	host_prepare(&h, "run");
	snprintf(sub, sizeof sub, "%s/run", h.dir);
	host_start(&h, "[bothost]\n");
	ck_assert_uint_eq(mode_of(sub), 0700);
	ck_assert_uint_eq(mode_of(h.path), 0600);
	host_stop(&h);

	/* Writable by others. */
	ck_assert_int_eq(chmod(sub, 0777), 0);
	expect_refused(&h, "mode 0777) is writable by group or others");
	ck_assert_int_eq(chmod(sub, 0770), 0);
	expect_refused(&h, "mode 0770) is writable by group or others");

	/* A symbolic link to a good directory. */
	ck_assert_int_eq(chmod(sub, 0700), 0);
	snprintf(target, sizeof target, "%s/real", h.dir);
	ck_assert_int_eq(rename(sub, target), 0);
	ck_assert_int_eq(symlink(target, sub), 0);
	expect_refused(&h, "is a symbolic link");

	/* Not a directory. */
	ck_assert_int_eq(unlink(sub), 0);
	ck_assert_int_eq(close(open(sub, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
	expect_refused(&h, "is not a directory");
	host_remove(&h);
}
END_TEST

START_TEST(modes_follow_allow_keys)
{
	struct host h;
	char sub[160], behaviours[200];

	/* A directory the host creates with allow keys: 0711, sockets 0666. */
	host_prepare(&h, "run");
	snprintf(sub, sizeof sub, "%s/run", h.dir);
	snprintf(behaviours, sizeof behaviours, "%s.behaviours", h.path);
	host_start(&h, "[bothost]\nallow_group = 65534\n");
	ck_assert_uint_eq(mode_of(sub), 0711);
	ck_assert_uint_eq(mode_of(h.path), 0666);
	ck_assert_uint_eq(mode_of(behaviours), 0666);

	/* A reload without them: the sockets go back to 0600 (the directory stays). */
	host_write_conf(&h, "[bothost]\n");
	kill(h.pid, SIGHUP);
	wait_mode(h.path, 0600);
	wait_mode(behaviours, 0600);
	ck_assert_uint_eq(mode_of(sub), 0711);

	/* And with them again: 0666. */
	host_write_conf(&h, "[bothost]\nallow_user = 65534\n");
	kill(h.pid, SIGHUP);
	wait_mode(h.path, 0666);
	log_wait(&h, "[bothost] allow_user: (none) -> 65534");
	host_stop(&h);

	/* An existing 0700 directory gets search permission for the others. */
	ck_assert_int_eq(chmod(sub, 0700), 0);
	host_start(&h, "[bothost]\nallow_user = 65534\n");
	ck_assert_uint_eq(mode_of(sub), 0711);
	host_stop(&h);
	host_remove(&h);
}
END_TEST

START_TEST(config_with_password_readable_warns)
{
	const char *conf = "[bothost]\n[irc]\npassword = sesame\n";
	struct host h;

	host_prepare(&h, "");
	host_start(&h, conf);
	host_stop(&h);
	ck_assert_int_eq(log_count(&h, "holds a password"), 0);

	/* Readable by others: a warning at start. */
	ck_assert_int_eq(chmod(h.conf, 0644), 0);
	host_spawn(&h);
	ck_assert_int_eq(host_wait(&h), 0);
	log_wait(&h, "holds a password and is readable by others (mode 0644)");
	/* Readable by the bot's own group (0640 root:bothost): no warning. */
	ck_assert_int_eq(chmod(h.conf, 0640), 0);
	ck_assert_int_eq(chown(h.conf, (uid_t)-1, getegid()), 0);
	int warned = log_count(&h, "holds a password");
	kill(h.pid, SIGHUP);
	log_wait(&h, "configuration: nothing changed");	/* logged after the check */
	ck_assert_int_eq(log_count(&h, "holds a password"), warned);
	/* And on reload, for a file readable by another group (root can give it one). */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(h.conf, (uid_t)-1, 12345), 0);
		kill(h.pid, SIGHUP);
		log_wait(&h, "holds a password and is readable by group 12345, not the bot's own (mode 0640)");
	}
	host_stop(&h);

	/* Without a secret, no warning. */
	host_write_conf(&h, "[bothost]\n[irc]\nnick = bot\n");
	ck_assert_int_eq(chmod(h.conf, 0644), 0);
	ck_assert_int_eq(unlink(h.log), 0);
	host_spawn(&h);
	ck_assert_int_eq(host_wait(&h), 0);
	host_stop(&h);
	ck_assert_int_eq(log_count(&h, "holds a password"), 0);
	host_remove(&h);
}
END_TEST

/* ---- descendants of the host ------------------------------------------------- */

/* The configuration of a resident running this program in mode with privileged. */
static void resident_conf(char *buf, size_t size, const char *mode, const char *out, bool privileged)
{
	snprintf(buf, size, "[bothost]\n[resident r]\nexec = SELF\narg = --behaviour\narg = %s\narg = DIR/%s\n"
		 "arg = SOCK\nrestart_min = 1h\nrestart_max = 1h\nprivileged = %s\n", mode, out,
		 privileged ? "yes" : "no");
}

/* Zombies whose parent is pid. */
static int zombies_of(pid_t pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[512], state;
		long ppid;
		FILE *f;
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		const char *end = strrchr(buf, ')');
		if (end && sscanf(end + 1, " %c %ld", &state, &ppid) == 2 && ppid == pid && state == 'Z')
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

START_TEST(behaviour_on_host_socket)
{
	struct host h;
	char conf[512], out[128], *text;
	struct test_raw c;
	cJSON *w, *m;

	/* Not privileged: refused a privileged method on PATH too. */
	host_prepare(&h, "");
	resident_conf(conf, sizeof conf, "connect", "out", false);
	host_start(&h, conf);
	snprintf(out, sizeof out, "%s/out", h.dir);
	text = wait_file(out);
	ck_assert_str_eq(text, "PermissionDenied");
	free(text);
	/* The host's own uid from outside the host's descendants still is. */
	w = test_raw_hello(&c, h.path, "admin");
	ck_assert_ptr_nonnull(w);
	m = test_raw_call(&c, "bot", "reload", "[]", NULL);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "t")), "result");
	cJSON_Delete(m);
	cJSON_Delete(w);
	test_raw_close(&c);
	host_stop(&h);
	unlink(out);

	/* privileged = yes: allowed. */
	resident_conf(conf, sizeof conf, "connect", "out", true);
	host_start(&h, conf);
	text = wait_file(out);
	ck_assert_str_eq(text, "result");
	free(text);
	host_stop(&h);
	host_remove(&h);
}
END_TEST

START_TEST(orphan_of_behaviour)
{
	struct host h;
	char conf[512], out[128], *text, *p;
	uint64_t deadline;
	long orphan = 0, ppid = 0;

	/* An orphan of a behaviour (setsid and a double fork) stays in its
	 * behaviour's tree, which is a subreaper: it is reparented to the
	 * behaviour, not to the host, has the behaviour's privilege, and ends
	 * when the behaviour does. */
	host_prepare(&h, "");
	resident_conf(conf, sizeof conf, "orphan", "out", true);
	host_start(&h, conf);
	snprintf(out, sizeof out, "%s/out", h.dir);
	text = wait_file(out);
	ck_assert_msg(strncmp(text, "result ppid=", 12) == 0, "%s", text);
	ppid = strtol(text + 12, &p, 10);
	ck_assert_msg(ppid > 1 && ppid != (long)h.pid, "reparented to %ld (the host is %ld)", ppid, (long)h.pid);
	ck_assert_ptr_nonnull(strstr(p, " pid="));
	orphan = strtol(strstr(p, " pid=") + 5, NULL, 10);
	ck_assert_int_gt(orphan, 1);
	free(text);
	/* The behaviour ends; the host ends its orphan and reaps it. */
	deadline = test_now_ms() + WAIT_MS;
	while (kill((pid_t)orphan, 0) == 0) {
		ck_assert_msg(test_now_ms() < deadline, "orphan %ld outlived its behaviour (%d zombies)", orphan,
			      zombies_of(h.pid));
		usleep(5000);
	}
	ck_assert_int_eq(zombies_of(h.pid), 0);
	host_stop(&h);
	host_remove(&h);
}
END_TEST

/* ---- the configuration keys --------------------------------------------------- */

/* Load text as a configuration file; the error (or NULL) in *ret_error. */
static int load(struct conf *c, const char *text, char **ret_error)
{
	char path[] = "/tmp/test-access-conf.XXXXXX";
	int fd = mkstemp(path), r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	r = conf_load(c, path, ret_error);
	unlink(path);
	return r;
}

/* A connection to path made by a child that is reaped before the host
 * accepts it (the host is stopped meanwhile): its peer pid is gone. */
static void connect_from_gone(struct host *h, struct test_raw *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), status;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(h->path), sizeof sa.sun_path);
	memcpy(sa.sun_path, h->path, strlen(h->path) + 1);
	ck_assert_int_eq(kill(h->pid, SIGSTOP), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(kill(h->pid, SIGCONT), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child could not connect");
	memset(c, 0, sizeof *c);
	c->fd = fd;
	frame_reader_init(&c->in, 1 << 24);
}

/* As root, a peer whose process is gone when the host looks is never privileged. */
START_TEST(gone_peer_not_privileged)
{
	struct host h;
	struct test_raw c;
	const char *t, *name;

	NEEDS_ROOT();
	host_prepare(&h, "");
	host_start(&h, "[bothost]\n");
	for (int i = 0; i < 3; i++) {
		connect_from_gone(&h, &c);
		ck_assert_int_eq(test_raw_send(&c, "{\"t\":\"hello\",\"version\":1,\"name\":\"gone\"}"), 0);
		cJSON *w = test_raw_recv(&c, WAIT_MS);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "t")), "welcome");
		cJSON_Delete(w);
		cJSON *m = test_raw_call(&c, "bot", "reload", "[]", NULL);
		t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "t"));
		name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "error"), "name"));
		ck_assert_msg(t && !strcmp(t, "error") && name && !strcmp(name, "PermissionDenied"),
			      "a gone peer was privileged: %s", t ? t : "nothing");
		cJSON_Delete(m);
		test_raw_close(&c);
	}
	host_stop(&h);
	host_remove(&h);
}
END_TEST

/* Clients on PATH.behaviours leave room under clients_max for PATH (botctl). */
START_TEST(behaviours_socket_leaves_room)
{
	struct host h;
	struct test_raw c[8], own;
	char path[200];
	int n = 0;

	host_prepare(&h, "");
	host_start(&h, "[bothost]\n[limits]\nclients_max = 8\n");
	struct test_host th = { .pid = h.pid };
	snprintf(th.path, sizeof th.path, "%s", h.path);
	ck_assert_int_eq(test_host_stat_wait(&th, "clients", 0, WAIT_MS), 0);
	snprintf(path, sizeof path, "%s.behaviours", h.path);
	for (int i = 0; i < 8; i++) {
		cJSON *w = test_raw_hello(&c[n], path, "filler");
		if (!w) {
			test_raw_close(&c[n]);
			continue;
		}
		cJSON_Delete(w);
		n++;
	}
	ck_assert_int_eq(n, 7);
	cJSON *w = test_raw_hello(&own, h.path, "botctl");
	ck_assert_msg(w != NULL, "the host's own socket was locked out by PATH.behaviours");
	cJSON_Delete(w);
	test_raw_close(&own);
	for (int i = 0; i < n; i++)
		test_raw_close(&c[i]);
	host_stop(&h);
	host_remove(&h);
}
END_TEST

START_TEST(conf_allow_keys_and_limit)
{
	struct conf c;
	char *error = NULL;

	ck_assert_int_eq(load(&c, "[bothost]\n", &error), 0);
	ck_assert_uint_eq(c.limits.clients_per_user, 64);
	ck_assert_uint_eq(c.n_allow_uids + c.n_allow_gids, 0);
	conf_clear(&c);

	ck_assert_int_eq(load(&c, "[bothost]\nallow_user = root\nallow_user = 65534\nallow_group = root\n"
			      "allow_group = 123\n[limits]\nclients_per_user = 3\n", &error), 0);
	ck_assert_uint_eq(c.n_allow_uids, 2);
	ck_assert_uint_eq(c.allow_uids[0], 0);
	ck_assert_uint_eq(c.allow_uids[1], 65534);
	ck_assert_uint_eq(c.n_allow_gids, 2);
	ck_assert_uint_eq(c.allow_gids[0], 0);
	ck_assert_uint_eq(c.allow_gids[1], 123);
	ck_assert_uint_eq(c.limits.clients_per_user, 3);
	conf_clear(&c);

	ck_assert_int_eq(load(&c, "[bothost]\n\nallow_user = no-such-user-here\n", &error), -EINVAL);
	ck_assert_msg(strstr(error, ":3: invalid allow_user 'no-such-user-here': no such user"), "%s", error);
	free(error);
	ck_assert_int_eq(load(&c, "[bothost]\nallow_group = no-such-group-here\n", &error), -EINVAL);
	ck_assert_msg(strstr(error, ":2: invalid allow_group 'no-such-group-here': no such group"), "%s", error);
	free(error);
	ck_assert_int_eq(load(&c, "[bothost]\nallow_user = 4294967295\n", &error), -EINVAL);
	ck_assert_msg(strstr(error, ":2: invalid allow_user '4294967295'"), "%s", error);
	free(error);
	ck_assert_int_eq(load(&c, "[limits]\nclients_max = 10\nclients_per_user = 11\n", &error), -EINVAL);
	ck_assert_msg(strstr(error, ":3: clients_per_user (11) is greater than clients_max (10)"), "%s", error);
	free(error);
	ck_assert_int_eq(load(&c, "[limits]\nclients_per_user = 0\n", &error), -EINVAL);
	free(error);
	/* A small clients_max alone is fine: the per-user limit is held under it. */
	ck_assert_int_eq(load(&c, "[limits]\nclients_max = 10\n", &error), 0);
	conf_clear(&c);
}
END_TEST

/* Every test. */
static Suite *access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *conf = tcase_create("conf");
	TCase *local = tcase_create("local");
	TCase *other = tcase_create("other-uid");

	tcase_add_test(conf, conf_allow_keys_and_limit);
	suite_add_tcase(s, conf);
	tcase_set_timeout(local, 60);
	tcase_add_test(local, directory_checks);
	tcase_add_test(local, modes_follow_allow_keys);
	tcase_add_test(local, config_with_password_readable_warns);
	tcase_add_test(local, behaviour_on_host_socket);
	tcase_add_test(local, orphan_of_behaviour);
	tcase_add_test(local, behaviours_socket_leaves_room);
	tcase_add_test(local, gone_peer_not_privileged);
	suite_add_tcase(s, local);
	tcase_set_timeout(other, 60);
	tcase_add_test(other, other_uid_refused_unless_allowed);
	tcase_add_test(other, other_uid_allowed_by_group);
	tcase_add_test(other, per_user_limit);
	tcase_add_test(other, directory_of_another_user_refused);
	suite_add_tcase(s, other);
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
	sr = srunner_create(access_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
