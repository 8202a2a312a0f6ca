/* SPDX-License-Identifier: ISC */
/* Test harness: a private bothost per test and a raw NDJSON client. */
#include "config.h"

#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RAW_FRAME_MAX (64u << 20)	/* the host writes no frame near this */
#define RAW_READ_CHUNK 16384
#define RAW_CALL_TIMEOUT_MS 5000
#define HOST_START_DEADLINE_MS 10000
#define HOST_STOP_DEADLINE_MS 5000
#define HOSTS_MAX 8

/* A janitor per running host: a process that kills the host and removes its
 * directory if the test process dies without stopping it (a failed check
 * leaves with _exit, a timed-out one is killed). */
struct test_janitor {
	struct test_host *h;
	pid_t pid;
	int fd;			/* write end: a byte means "stopped", end of file "abandoned" */
};
static struct test_janitor janitors[HOSTS_MAX];

/* Milliseconds on the monotonic clock. */
uint64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep a few milliseconds between two polls of a condition. */
static void test_pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* nftw: remove one entry, its contents already gone. */
static int test_host_remove_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Remove the host's directory and everything in it (the behaviours' state
 * directories too: $XDG_STATE_HOME of the host is in it). */
static void test_host_remove_dir(const char *dir)
{
	nftw(dir, test_host_remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The janitor process: wait for the word or for the test process to vanish. */
static void test_janitor_run(int rfd, pid_t host, const char *dir)
{
	long max = sysconf(_SC_OPEN_MAX);
	char c;
	ssize_t n;

	setpgid(0, 0);		/* outlive a kill of the test's process group */
	for (int fd = 3; fd < max; fd++)
		if (fd != rfd)
			close(fd);
	while ((n = read(rfd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1) {
		kill(host, SIGKILL);
		test_host_remove_dir(dir);
	}
	_exit(0);
}

/* Start a janitor for a started host. */
static void test_janitor_start(struct test_host *h)
{
	int p[2];
	size_t i;

	for (i = 0; i < HOSTS_MAX && janitors[i].h; i++)
		;
	if (i == HOSTS_MAX || pipe2(p, O_CLOEXEC) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0)
		test_janitor_run(p[0], h->pid, h->dir);
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return;
	}
	janitors[i] = (struct test_janitor){ h, pid, p[1] };
}

/* Tell the janitor of h that the host was stopped, and reap it. */
static void test_janitor_stop(struct test_host *h)
{
	for (size_t i = 0; i < HOSTS_MAX; i++) {
		if (janitors[i].h != h)
			continue;
		if (write(janitors[i].fd, "s", 1) < 0)
			kill(janitors[i].pid, SIGKILL);
		close(janitors[i].fd);
		waitpid(janitors[i].pid, NULL, 0);
		janitors[i] = (struct test_janitor){ NULL, 0, -1 };
	}
}

/* In the child: the descriptor limit and the log of the options. */
static void test_host_exec_setup(const struct test_host *h, const struct test_host_opts *o)
{
	struct rlimit rl = { (rlim_t)o->nofile, (rlim_t)o->nofile };
	int fd;

	if (o->nofile > 0 && setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fprintf(stderr, "setrlimit(RLIMIT_NOFILE, %ld): %s\n", o->nofile, strerror(errno));
		_exit(126);
	}
	if (!o->log)
		return;
	fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0) {
		fprintf(stderr, "%s: %s\n", h->log, strerror(errno));
		_exit(126);
	}
	close(fd);
}

/* In the child: exec bothost --socket PATH extra...; never returns. */
static void test_host_exec(const char *bin, const char *path, const char *const *extra)
{
	const char *argv[64];
	size_t n = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	argv[n++] = bin;
	argv[n++] = "--socket";
	argv[n++] = path;
	for (; extra && *extra && n < 63; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	execv(bin, (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Poll until the socket accepts a connection or the host dies. 0 or -errno. */
static int test_host_wait_ready(struct test_host *h)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(HOST_START_DEADLINE_MS);
	struct test_raw probe;
	int status;

	for (;;) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = 0;
			test_janitor_stop(h);
			return -ECHILD;
		}
		if (test_raw_connect(&probe, h->path) == 0) {
			test_raw_close(&probe);
			return 0;
		}
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		test_pause_ms(5);
	}
}

/* Start $BOTHOST in a fresh private directory and wait until it listens. */
int test_host_start(struct test_host *h, const char *const *extra_args)
{
	return test_host_start_opts(h, extra_args, NULL);
}

/* The program to start: $BOTHOST; for a descriptor limit $BOTHOST_NATIVE
 * when set, as valgrind takes the top of the limit for descriptors of its
 * own and closes a connection accepted into them (the kernel would leave it
 * waiting). */
static const char *test_host_bin(const struct test_host_opts *o)
{
	const char *native = getenv("BOTHOST_NATIVE");

	if (o && o->nofile > 0 && native && *native)
		return native;
	return getenv("BOTHOST");
}

/* test_host_start with a descriptor limit or a log file. */
int test_host_start_opts(struct test_host *h, const char *const *extra_args,
			 const struct test_host_opts *o)
{
	const char *bin = test_host_bin(o);
	int r;

	memset(h, 0, sizeof *h);
	if (!bin || !*bin)
		return -ENOENT;
	snprintf(h->dir, sizeof h->dir, "/tmp/bothost-test.XXXXXX");
	if (!mkdtemp(h->dir))
		return -errno;
	snprintf(h->path, sizeof h->path, "%s/bothost.sock", h->dir);
	if (o && o->log)
		snprintf(h->log, sizeof h->log, "%s/bothost.log", h->dir);
	h->pid = fork();
	if (h->pid < 0) {
		r = -errno;
		goto fail;
	}
	if (h->pid == 0 && o)
		test_host_exec_setup(h, o);
	/* The host's default state directory (the store, behaviours' state) in
	 * its own directory: a test never writes to the system's. */
	if (h->pid == 0) {
		unsetenv("STATE_DIRECTORY");
		setenv("XDG_STATE_HOME", h->dir, 1);
	}
	if (h->pid == 0)
		test_host_exec(bin, h->path, extra_args);
	test_janitor_start(h);
	r = test_host_wait_ready(h);
	if (r < 0)
		goto fail;
	return 0;
fail:
	if (h->pid > 0)
		test_host_stop(h);
	test_host_remove_dir(h->dir);
	return r;
}

/* Wait for the host to exit until deadline; true when it did. */
static bool test_host_reap(struct test_host *h, uint64_t deadline, int *ret_status)
{
	for (;;) {
		pid_t p = waitpid(h->pid, ret_status, WNOHANG);
		if (p == h->pid || (p < 0 && errno == ECHILD))
			return true;
		if (test_now_ms() >= deadline)
			return false;
		test_pause_ms(2);
	}
}

/* SIGTERM, wait, SIGKILL if needed; remove the directory; the wait status. */
int test_host_stop(struct test_host *h)
{
	int status = -1;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	if (!test_host_reap(h, test_now_ms() + (uint64_t)test_scaled_ms(HOST_STOP_DEADLINE_MS), &status)) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
	}
	h->pid = 0;
	test_host_remove_dir(h->dir);
	test_janitor_stop(h);
	return status;
}

/* Whether the host's log has a line containing needle so far. */
bool test_host_log_has(const struct test_host *h, const char *needle)
{
	return test_host_log_count(h, needle) > 0;
}

/* Lines of the host's log containing needle. */
int test_host_log_count(const struct test_host *h, const char *needle)
{
	FILE *f = h->log[0] ? fopen(h->log, "r") : NULL;
	char line[4096];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* 1 when a mapping of the host (/proc/PID/maps) is of a file whose path contains needle. */
int test_host_maps_has(const struct test_host *h, const char *needle)
{
	char path[64], line[4096];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%ld/maps", (long)h->pid);
	if (h->pid <= 0 || !(f = fopen(path, "r")))
		return -1;
	while (!found && fgets(line, sizeof line, f)) {
		const char *file = strchr(line, '/');
		found = file && strstr(file, needle) != NULL;
	}
	fclose(f);
	return found;
}

/* Entries of /proc/PID/fd of the host. */
int test_host_fd_count(const struct test_host *h)
{
	char path[64];
	int n = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)h->pid);
	DIR *d = h->pid > 0 ? opendir(path) : NULL;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The host's descriptor count once it stayed the same for 100 ms: a
 * connection the other side just closed may still be open in the host until
 * its loop next runs, so a count taken at once may hold it. */
int test_host_fd_settled(const struct test_host *h)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(5000);
	int last = test_host_fd_count(h), same = 0;

	while (same < 10 && test_now_ms() < deadline) {
		test_pause_ms(10);
		int n = test_host_fd_count(h);
		same = n == last ? same + 1 : 0;
		last = n;
	}
	return last;
}

/* Wait (deadline 5 s, scaled) until the host has want descriptors open;
 * the last count seen. */
int test_host_fd_wait(const struct test_host *h, int want)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(5000);
	int n;

	while ((n = test_host_fd_count(h)) != want && test_now_ms() < deadline)
		test_pause_ms(10);
	return n;
}

static cJSON *test_raw_recv_until(struct test_raw *c, uint64_t deadline);

/* Connect to a socket path (no handshake). */
int test_raw_connect(struct test_raw *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	c->fd = fd;
	frame_reader_init(&c->in, RAW_FRAME_MAX);
	return 0;
}

/* Wait for the welcome answering our hello; NULL on an error frame or timeout. */
static cJSON *test_raw_welcome(struct test_raw *c)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(RAW_CALL_TIMEOUT_MS);

	for (;;) {
		if (test_now_ms() >= deadline)
			return NULL;
		cJSON *m = test_raw_recv_until(c, deadline);
		if (!m)
			return NULL;
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "t"));
		if (t && strcmp(t, "welcome") == 0)
			return m;
		bool refused = t && strcmp(t, "error") == 0;
		cJSON_Delete(m);
		if (refused)
			return NULL;
	}
}

/* Connect and complete the handshake. */
cJSON *test_raw_hello(struct test_raw *c, const char *path, const char *name)
{
	if (test_raw_connect(c, path) < 0)
		return NULL;
	cJSON *jname = cJSON_CreateString(name ? name : "");
	char *quoted = jname ? cJSON_PrintUnformatted(jname) : NULL;
	int r = quoted ? test_raw_send(c, "{\"t\":\"hello\",\"version\":1,\"name\":%s,\"pid\":%ld}",
				       quoted, (long)getpid()) : -ENOMEM;
	cJSON_free(quoted);
	cJSON_Delete(jname);
	cJSON *welcome = r < 0 ? NULL : test_raw_welcome(c);
	if (!welcome)
		test_raw_close(c);
	return welcome;
}

/* Close the connection and free the reader; safe to call twice. */
void test_raw_close(struct test_raw *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	frame_reader_free(&c->in);
}

/* Send raw bytes as they are, all of them. */
int test_raw_write(struct test_raw *c, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send one frame built from a format and a va_list; the line feed is added. */
int test_raw_vsend(struct test_raw *c, const char *fmt, va_list ap)
{
	va_list copy;
	char *s;
	int r;

	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return -EINVAL;
	s = malloc((size_t)n + 2);
	if (!s)
		return -ENOMEM;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	s[n] = '\n';
	r = test_raw_write(c, s, (size_t)n + 1);
	free(s);
	return r;
}

/* Send one frame (printf-style; the line feed is added). */
int test_raw_send(struct test_raw *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = test_raw_vsend(c, fmt, ap);
	va_end(ap);
	return r;
}

/* Read what the socket has into the reader: 1 progress, 0 timeout or end of file. */
static int test_raw_fill(struct test_raw *c, uint64_t deadline)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	size_t len;

	for (;;) {
		uint64_t now = test_now_ms();
		int left = now >= deadline ? 0 : (int)(deadline - now);
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		char *space = frame_reader_space(&c->in, RAW_READ_CHUNK, &len);
		if (!space)
			return 0;
		ssize_t n = read(c->fd, space, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			c->eof = true;
			return 0;
		}
		frame_reader_commit(&c->in, (size_t)n);
		return 1;
	}
}

/* The next frame, parsed, or NULL at the deadline, end of file or bad input. */
static cJSON *test_raw_recv_until(struct test_raw *c, uint64_t deadline)
{
	char *frame;
	size_t len;

	if (c->fd < 0)
		return NULL;
	for (;;) {
		int r = frame_reader_next(&c->in, &frame, &len);
		if (r > 0)
			return cJSON_ParseWithLength(frame, len);
		if (r < 0 || c->eof)
			return NULL;
		if (test_raw_fill(c, deadline) <= 0 && !c->eof)
			return NULL;
	}
}

/* The next frame within timeout_ms times $TEST_SLOWDOWN. */
cJSON *test_raw_recv(struct test_raw *c, int timeout_ms)
{
	int ms = test_scaled_ms(timeout_ms > 0 ? timeout_ms : 0);

	return test_raw_recv_until(c, test_now_ms() + (uint64_t)ms);
}

/* True when the peer closed within timeout_ms; frames before that are dropped. */
bool test_raw_closed(struct test_raw *c, int timeout_ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		cJSON *m = test_raw_recv_until(c, deadline);
		if (m) {
			cJSON_Delete(m);
			continue;
		}
		if (c->eof)
			return true;
		if (test_now_ms() >= deadline)
			return false;
	}
}

/* A JSON string literal for s (caller frees with cJSON_free). */
static char *test_json_quote(const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *q = j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	return q;
}

/* True when m is a result or error answering request id. */
static bool test_raw_answers(const cJSON *m, uint64_t id)
{
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "t"));
	const cJSON *jid = cJSON_GetObjectItemCaseSensitive(m, "id");

	if (!t || (strcmp(t, "result") != 0 && strcmp(t, "error") != 0))
		return false;
	return cJSON_IsNumber(jid) && jid->valuedouble == (double)id;
}

/* Wait for the answer to id; other frames go to *ret_other or are freed. */
static cJSON *test_raw_await(struct test_raw *c, uint64_t id, cJSON **ret_other)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(RAW_CALL_TIMEOUT_MS);

	for (;;) {
		if (test_now_ms() >= deadline)
			return NULL;
		cJSON *m = test_raw_recv_until(c, deadline);
		if (!m)
			return NULL;
		if (test_raw_answers(m, id))
			return m;
		if (ret_other && !*ret_other)
			*ret_other = cJSON_CreateArray();
		if (ret_other && *ret_other)
			cJSON_AddItemToArray(*ret_other, m);
		else
			cJSON_Delete(m);
	}
}

/* Send a call and return the frame answering it. */
cJSON *test_raw_call(struct test_raw *c, const char *obj, const char *method,
		     const char *args_json, cJSON **ret_other)
{
	char *qobj = test_json_quote(obj);
	char *qmethod = test_json_quote(method);
	uint64_t id = ++c->next_id;
	cJSON *answer = NULL;
	int r = -ENOMEM;

	if (qobj && qmethod && args_json)
		r = test_raw_send(c, "{\"t\":\"call\",\"id\":%llu,\"obj\":%s,\"method\":%s,\"args\":%s}",
				  (unsigned long long)id, qobj, qmethod, args_json);
	else if (qobj && qmethod)
		r = test_raw_send(c, "{\"t\":\"call\",\"id\":%llu,\"obj\":%s,\"method\":%s}",
				  (unsigned long long)id, qobj, qmethod);
	if (r == 0)
		answer = test_raw_await(c, id, ret_other);
	cJSON_free(qobj);
	cJSON_free(qmethod);
	return answer;
}

/* A field of a stats object as a number, or 0 when absent. */
static long test_stat_field(const cJSON *o, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);

	return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

/* A number from host.stats(), excluding the asking connection; -1 on failure. */
long test_host_stat(const struct test_host *h, const char *field)
{
	struct test_raw c;
	long n = -1;

	cJSON *welcome = test_raw_hello(&c, h->path, "stats");
	if (!welcome)
		return -1;
	cJSON *m = test_raw_call(&c, "host", "stats", "[]", NULL);
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(m, "value");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(value, field);
	const cJSON *self = cJSON_GetObjectItemCaseSensitive(value, "self");
	if (cJSON_IsNumber(total)) {
		n = (long)total->valuedouble - test_stat_field(self, field);
		/* "self" describes one client; it need not count itself as one. */
		if (strcmp(field, "clients") == 0 && !cJSON_GetObjectItemCaseSensitive(self, field))
			n -= 1;
	}
	cJSON_Delete(m);
	cJSON_Delete(welcome);
	test_raw_close(&c);
	return n;
}

/* Poll host.stats until field == want or the deadline; the last value seen. */
long test_host_stat_wait(const struct test_host *h, const char *field, long want, int deadline_ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(deadline_ms);

	for (;;) {
		long v = test_host_stat(h, field);
		if (v == want || test_now_ms() >= deadline)
			return v;
		test_pause_ms(10);
	}
}
