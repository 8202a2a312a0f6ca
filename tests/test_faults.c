/* SPDX-License-Identifier: ISC */
/* Faults the host survives, against the real bothost and a private ngircd:
 * clients killed in the middle of calls, descriptor exhaustion, the IRC
 * server killed and restarted, SIGHUP under load, and a client that stops
 * reading while events flood it. Each test checks the end state: host.stats
 * back to its baseline, the host's descriptors back to their count, every
 * call answered, every queued IRC line received in order. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ircd.h"
#include "rawclient.h"
#include "tests/paths.h"

/* Deadlines before $TEST_SLOWDOWN scales them (test_scaled_ms; the harness
 * scales the ones given to it itself). */
#define WAIT_MS 5000		/* for a frame or a line that must come */
#define SETTLE_MS 5000		/* for stats and descriptors to settle */

/* The host.stats fields a test compares with their baseline. */
static const char *const stat_fields[] = {
	"clients", "handlers", "imports", "exports", "pending_in", "pending_out", "queued_bytes", "functions",
};
#define NSTATS (sizeof stat_fields / sizeof stat_fields[0])

/* What the host looked like before the fault. */
struct baseline {
	long stats[NSTATS];
	int fds;
};

/* A relay between bothost and ngircd that admits one connection per grant,
 * so that the test decides when the bot may reconnect: after a restart the
 * scripted user joins the channel first, and can witness every line the bot
 * sends on its new connection. */
struct relay {
	pid_t pid;
	int port;
	int gate;		/* write end: one byte admits one connection */
};

static struct test_host H;
static struct test_ircd D;
static struct relay R = { 0, 0, -1 };
static char conf_dir[64];

/* ---- helpers ------------------------------------------------------------------- */

/* Sleep ms milliseconds (between polls of a condition). */
static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Raise the soft descriptor limit to at least want (the host inherits it). */
static void nofile_raise(rlim_t want)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_msg(rl.rlim_max >= want, "RLIMIT_NOFILE hard limit %llu is below %llu",
		      (unsigned long long)rl.rlim_max, (unsigned long long)want);
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* Record the stats and the descriptor count of an idle host. */
static void baseline_take(struct baseline *b)
{
	for (size_t i = 0; i < NSTATS; i++) {
		b->stats[i] = test_host_stat(&H, stat_fields[i]);
		ck_assert_msg(b->stats[i] >= 0, "host.stats has no %s", stat_fields[i]);
	}
	b->fds = test_host_fd_settled(&H);
	ck_assert_int_gt(b->fds, 0);
}

/* Assert every stat and the descriptor count return to the baseline. */
static void baseline_back(const struct baseline *b)
{
	for (size_t i = 0; i < NSTATS; i++) {
		long v = test_host_stat_wait(&H, stat_fields[i], b->stats[i], SETTLE_MS);
		ck_assert_msg(v == b->stats[i], "stats.%s is %ld, was %ld before", stat_fields[i], v, b->stats[i]);
	}
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(SETTLE_MS);
	int n;
	while ((n = test_host_fd_count(&H)) != b->fds && test_now_ms() < deadline)
		pause_ms(10);
	ck_assert_msg(n == b->fds, "the host has %d descriptors open, %d before", n, b->fds);
}

/* A string field of a frame, or "". */
static const char *jstr_of(const cJSON *m, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, key));

	return s ? s : "";
}

/* A number field of a frame, or -1. */
static double jnum_of(const cJSON *m, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* True when frame m is an invoke of fn (ids are not looked at). */
static bool is_invoke(const cJSON *m, double fn)
{
	return strcmp(jstr_of(m, "t"), "invoke") == 0 && jnum_of(m, "fn") == fn;
}

/* True when frame m answers request id. */
static bool is_answer(const cJSON *m, double id)
{
	const char *t = jstr_of(m, "t");

	return (strcmp(t, "result") == 0 || strcmp(t, "error") == 0) && jnum_of(m, "id") == id;
}

/* Read frames until one is an invoke of fn; others are dropped. NULL on timeout. */
static cJSON *wait_invoke(struct test_raw *c, double fn, int ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(ms);

	for (;;) {
		uint64_t now = test_now_ms();
		cJSON *m = now < deadline ? test_raw_recv(c, (int)(deadline - now)) : NULL;
		if (!m || is_invoke(m, fn))
			return m;
		cJSON_Delete(m);
	}
}

/* A raw client with its handshake done. */
static void open_client(struct test_raw *c, const char *name)
{
	cJSON *w = test_raw_hello(c, H.path, name);

	ck_assert_msg(w != NULL, "client %s was not welcomed", name);
	cJSON_Delete(w);
}

/* Call and assert a result (not an error); the frame, caller frees. */
static cJSON *call_ok(struct test_raw *c, const char *obj, const char *method, const char *args)
{
	cJSON *m = test_raw_call(c, obj, method, args, NULL);

	ck_assert_msg(m && strcmp(jstr_of(m, "t"), "result") == 0, "%s.%s(%s): %s", obj, method, args, jstr(m));
	return m;
}

/* Call and assert the result is the number want. */
static void call_num_is(struct test_raw *c, const char *obj, const char *method, const char *args, double want)
{
	cJSON *m = call_ok(c, obj, method, args);

	ck_assert_msg(jnum_of(m, "value") == want, "%s.%s(%s): %s, want %g", obj, method, args, jstr(m), want);
	cJSON_Delete(m);
}

/* Stop whatever a test left running. */
static void world_down(void)
{
	if (H.pid > 0)
		test_host_stop(&H);
	if (R.pid > 0) {
		kill(R.pid, SIGKILL);
		waitpid(R.pid, NULL, 0);
	}
	if (R.gate >= 0)
		close(R.gate);
	R = (struct relay){ 0, 0, -1 };
	if (D.dir[0])
		test_ircd_stop(&D);
	if (conf_dir[0]) {
		char p[128];
		snprintf(p, sizeof p, "%s/bothost.conf", conf_dir);
		unlink(p);
		rmdir(conf_dir);
		conf_dir[0] = '\0';
	}
}

/* Start the host with arguments and options; the test fails if it does not. */
static void host_up(const char *const *args, const struct test_host_opts *o)
{
	int r = test_host_start_opts(&H, args, o);

	ck_assert_msg(r == 0, "bothost did not start: %s", strerror(-r));
}

/* ---- 1. clients SIGKILLed in the middle of calls -------------------------------- */

#define VICTIM_PROCS 10
#define VICTIM_CONNS 100	/* per process: 1000 clients */

/* One victim connection: handshake, a handler, a function stored under key
 * "k<key>", and a call the host answers by calling back into the client,
 * which never answers. */
static const char victim_session[] =
	"{\"t\":\"hello\",\"version\":1,\"name\":\"victim\"}\n"
	"{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"on\",\"args\":[\"tick\",{\"$fn\":1}]}\n"
	"{\"t\":\"call\",\"id\":2,\"obj\":\"loopback\",\"method\":\"store\",\"args\":[\"k%d\",{\"$fn\":3}]}\n"
	"{\"t\":\"call\",\"id\":3,\"obj\":\"loopback\",\"method\":\"call\",\"args\":[{\"$fn\":2},\"never answered\"]}";

/* Read frames of c until the welcome, the two results and the host's call
 * into fn 2 arrived (the client's call 3 is then in flight). */
static bool victim_ready(struct test_raw *c)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(20000);
	bool welcome = false, on = false, invoked = false;
	cJSON *m;

	while (!(welcome && on && invoked) && test_now_ms() < deadline) {
		m = test_raw_recv(c, (int)(deadline - test_now_ms()));
		if (!m)
			return false;
		welcome = welcome || strcmp(jstr_of(m, "t"), "welcome") == 0;
		on = on || (is_answer(m, 1) && strcmp(jstr_of(m, "t"), "result") == 0);
		invoked = invoked || (is_invoke(m, 2) && jnum_of(m, "id") > 0);
		cJSON_Delete(m);
	}
	return welcome && on && invoked;
}

/* Victim process v: open its connections, report readiness on fd, wait to be killed. */
static void victim_run(const char *path, int v, int fd)
{
	static struct test_raw c[VICTIM_CONNS];
	char word = 'r';

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int i = 0; i < VICTIM_CONNS && word == 'r'; i++)
		if (test_raw_connect(&c[i], path) < 0 ||
		    test_raw_send(&c[i], victim_session, v * VICTIM_CONNS + i) < 0)
			word = 'c';
	for (int i = 0; i < VICTIM_CONNS && word == 'r'; i++)
		if (!victim_ready(&c[i]))
			word = 'f';
	if (write(fd, &word, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* The victim processes, in one process group so that one kill() ends them all. */
struct victims {
	pid_t pgid;
	pid_t pids[VICTIM_PROCS];
	int fds[VICTIM_PROCS];	/* read ends: each victim writes one byte when ready */
};

/* Fork the victims. */
static void victims_start(struct victims *vs)
{
	vs->pgid = 0;
	for (int i = 0; i < VICTIM_PROCS; i++) {
		int p[2];
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		vs->pids[i] = fork();
		ck_assert_int_ge(vs->pids[i], 0);
		if (vs->pids[i] == 0) {
			close(p[0]);
			setpgid(0, vs->pgid);
			victim_run(H.path, i, p[1]);
		}
		/* Both sides set the group: whichever runs first. */
		setpgid(vs->pids[i], vs->pgid);
		vs->pgid = vs->pgid ? vs->pgid : vs->pids[i];
		close(p[1]);
		vs->fds[i] = p[0];
	}
}

/* Wait for one byte from each victim: true when every one is ready. */
static bool victims_wait(const struct victims *vs)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(30000);

	for (int i = 0; i < VICTIM_PROCS; i++) {
		struct pollfd p = { .fd = vs->fds[i], .events = POLLIN };
		char word = 0;
		uint64_t now = test_now_ms();
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) != 1 || read(vs->fds[i], &word, 1) != 1 ||
		    word != 'r') {
			fprintf(stderr, "victim %d: %c\n", i, word ? word : '?');
			return false;
		}
	}
	return true;
}

/* SIGKILL every victim at once and reap them. */
static void victims_kill(struct victims *vs)
{
	ck_assert_int_eq(kill(-vs->pgid, SIGKILL), 0);
	for (int i = 0; i < VICTIM_PROCS; i++) {
		waitpid(vs->pids[i], NULL, 0);
		close(vs->fds[i]);
	}
}

/* After the kill: no handler, no stored value is left, and calls work. */
static void victims_gone(void)
{
	struct test_raw c;

	open_client(&c, "after");
	call_num_is(&c, "loopback", "emit", "[\"tick\"]", 0);
	for (int k = 0; k < VICTIM_PROCS * VICTIM_CONNS; k += VICTIM_CONNS - 1) {
		char args[32];
		snprintf(args, sizeof args, "[\"k%d\"]", k);
		cJSON *m = call_ok(&c, "loopback", "fetch", args);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "value");
		ck_assert_msg(!v || cJSON_IsNull(v), "a killed client's value stayed: %s", jstr(m));
		cJSON_Delete(m);
	}
	call_num_is(&c, "loopback", "echo", "[42]", 42);
	test_raw_close(&c);
}

START_TEST(clients_killed_mid_call)
{
	const long n = VICTIM_PROCS * VICTIM_CONNS;
	struct victims vs;
	struct baseline b;
	long held[NSTATS];

	nofile_raise((rlim_t)n + 256);
	host_up((const char *const[]){ "--loopback", NULL }, NULL);
	baseline_take(&b);
	victims_start(&vs);
	bool ready = victims_wait(&vs);
	for (size_t i = 0; i < NSTATS; i++)
		held[i] = test_host_stat(&H, stat_fields[i]);
	victims_kill(&vs);
	ck_assert_msg(ready, "not every victim got its call in flight");
	/* Each held a handler, a stored function and a callback (three imports),
	 * a call running in the host and the host's call into it. */
	ck_assert_int_eq(held[0], b.stats[0] + n);
	ck_assert_int_eq(held[1], b.stats[1] + n);
	ck_assert_int_eq(held[2], b.stats[2] + 3 * n);
	ck_assert_int_eq(held[4], b.stats[4] + n);
	ck_assert_int_eq(held[5], b.stats[5] + n);

	baseline_back(&b);
	victims_gone();
	baseline_back(&b);
}
END_TEST

/* ---- 2. descriptor exhaustion ---------------------------------------------------- */

#define EXHAUST_NOFILE 64

/* Open a client and wait for its welcome; false when the host did not accept
 * it but logged that it pauses accepting (the client stays open in *c). */
static bool exhaust_one(struct test_raw *c)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(WAIT_MS);

	ck_assert_int_eq(test_raw_connect(c, H.path), 0);
	ck_assert_int_eq(test_raw_send(c, "{\"t\":\"hello\",\"version\":1,\"name\":\"filler\"}"), 0);
	for (;;) {
		cJSON *m = test_raw_recv(c, 200);
		if (m) {
			ck_assert_msg(strcmp(jstr_of(m, "t"), "welcome") == 0, "no welcome: %s", jstr(m));
			cJSON_Delete(m);
			return true;
		}
		ck_assert_msg(!c->eof, "the host closed a new connection");
		if (test_host_log_has(&H, "pausing for a second"))
			return false;
		ck_assert_msg(test_now_ms() < deadline, "neither welcome nor back-off");
	}
}

START_TEST(descriptors_exhausted)
{
	static struct test_raw fill[EXHAUST_NOFILE];
	const struct test_host_opts o = { .nofile = EXHAUST_NOFILE, .log = true };
	struct test_raw keeper, waiting, late;
	struct baseline b;
	int n = 0;

	host_up((const char *const[]){ "--loopback", NULL }, &o);
	baseline_take(&b);
	open_client(&keeper, "keeper");
	while (n < EXHAUST_NOFILE && exhaust_one(&fill[n]))
		n++;
	ck_assert_msg(n < EXHAUST_NOFILE, "%d clients with %d descriptors", n, EXHAUST_NOFILE);
	waiting = fill[n];	/* connected, not accepted */
	ck_assert_int_gt(n, EXHAUST_NOFILE / 2);
	/* One descriptor per client, and no other left to take. */
	ck_assert_int_eq(test_host_fd_count(&H), b.fds + n + 1);
	ck_assert_int_ge(test_host_fd_count(&H), EXHAUST_NOFILE);

	/* Existing clients are still served, at once. */
	uint64_t t0 = test_now_ms();
	call_num_is(&keeper, "loopback", "echo", "[7]", 7);
	cJSON *m = call_ok(&keeper, "host", "stats", "[]");
	ck_assert_int_eq((long)jnum_of(cJSON_GetObjectItemCaseSensitive(m, "value"), "clients"), n + 1);
	cJSON_Delete(m);
	ck_assert_uint_lt(test_now_ms() - t0, (uint64_t)test_scaled_ms(1000));

	/* Room again: the waiting connection and a new one are served once the
	 * back-off ends (a second). */
	for (int i = 0; i < 8; i++)
		test_raw_close(&fill[n - 1 - i]);
	n -= 8;
	t0 = test_now_ms();
	m = test_raw_recv(&waiting, 3000);
	ck_assert_msg(m && strcmp(jstr_of(m, "t"), "welcome") == 0, "the waiting client: %s", jstr(m));
	cJSON_Delete(m);
	open_client(&late, "late");
	call_num_is(&late, "loopback", "echo", "[8]", 8);
	ck_assert_uint_lt(test_now_ms() - t0, (uint64_t)test_scaled_ms(3000));

	test_raw_close(&late);
	test_raw_close(&waiting);
	test_raw_close(&keeper);
	for (int i = 0; i < n; i++)
		test_raw_close(&fill[i]);
	baseline_back(&b);
}
END_TEST

/* ---- 3. the IRC server killed and restarted ------------------------------------- */

#define IRC_ROUNDS 20
#define IRC_LINES 5		/* queued per round while the server is down */

/* Copy bytes between a and b until either side ends. */
static void relay_pipe(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	char buf[16384];

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof buf);
			if (n <= 0)
				return;
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(p[1 - i].fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0)
					return;
				off += w;
			}
		}
	}
}

/* The relay process: per grant, accept one connection and join it to ngircd. */
static void relay_run(int lfd, int gate, int upstream)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)upstream) };
	char word;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (read(gate, &word, 1) == 1) {
		int down = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (down >= 0 && up >= 0 && connect(up, (struct sockaddr *)&sa, sizeof sa) == 0)
			relay_pipe(down, up);
		if (down >= 0)
			close(down);
		if (up >= 0)
			close(up);
	}
	_exit(0);
}

/* Listen on a free loopback port and fork the relay to ngircd's port. */
static void relay_start(int upstream)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), gate[2];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
	R.port = ntohs(sa.sin_port);
	R.pid = fork();
	ck_assert_int_ge(R.pid, 0);
	if (R.pid == 0) {
		close(gate[1]);
		relay_run(lfd, gate[0], upstream);
	}
	close(lfd);
	close(gate[0]);
	R.gate = gate[1];
}

/* Let the relay admit the bot's next connection. */
static void relay_grant(void)
{
	ck_assert_int_eq(write(R.gate, "g", 1), 1);
}

/* Write the configuration file (conf_dir is created on first use). */
static const char *conf_write(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *conf_write(const char *fmt, ...)
{
	static char path[128];
	char tmp[160];
	va_list ap;
	FILE *f;

	if (!conf_dir[0]) {
		snprintf(conf_dir, sizeof conf_dir, "/tmp/test-faults.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(conf_dir));
	}
	snprintf(path, sizeof path, "%s/bothost.conf", conf_dir);
	snprintf(tmp, sizeof tmp, "%s.new", path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
	/* A reload never sees half a file. */
	ck_assert_int_eq(rename(tmp, path), 0);
	return path;
}

/* Send IRC_LINES irc.say calls for round r; their ids in ids. */
static void irc_queue_lines(struct test_raw *c, int r, uint64_t *ids)
{
	for (int k = 0; k < IRC_LINES; k++) {
		ids[k] = ++c->next_id;
		ck_assert_int_eq(test_raw_send(c, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"irc\",\"method\":\"say\","
					       "\"args\":[\"#faults\",\"round %d line %d\"]}",
					       (unsigned long long)ids[k], r, k), 0);
	}
}

/* Wait for the connect event and the results of the queued calls, in any order. */
static void irc_wait_delivered(struct test_raw *c, const uint64_t *ids, int r)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(10000);
	bool connected = false, done[IRC_LINES] = { false };
	int left = IRC_LINES;

	while (!connected || left > 0) {
		uint64_t now = test_now_ms();
		cJSON *m = now < deadline ? test_raw_recv(c, (int)(deadline - now)) : NULL;
		ck_assert_msg(m, "round %d: %s", r, connected ? "a queued call was not answered" : "no reconnect");
		connected = connected || is_invoke(m, 1);
		for (int k = 0; k < IRC_LINES; k++) {
			if (!is_answer(m, (double)ids[k]))
				continue;
			ck_assert_msg(strcmp(jstr_of(m, "t"), "result") == 0, "round %d line %d: %s", r, k, jstr(m));
			ck_assert(!done[k]);
			done[k] = true;
			left--;
		}
		cJSON_Delete(m);
	}
}

/* Wait until the bot is registered with the server. */
static void irc_wait_up(struct test_raw *c)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(10000);

	for (;;) {
		cJSON *st = call_ok(c, "irc", "getState", "[]");
		bool up = strcmp(jstr_of(cJSON_GetObjectItemCaseSensitive(st, "value"), "state"), "connected") == 0;
		cJSON_Delete(st);
		if (up)
			return;
		ck_assert_msg(test_now_ms() < deadline, "the bot did not connect");
		cJSON_Delete(wait_invoke(c, 1, 100));
	}
}

/* One round: kill, queue while down, restart, and see every line arrive in order. */
static void irc_round(struct test_raw *c, int r)
{
	struct test_irc_user u;
	uint64_t ids[IRC_LINES];
	char re[128];

	ck_assert_int_eq(test_ircd_kill(&D), 0);
	cJSON *m = wait_invoke(c, 2, WAIT_MS);
	ck_assert_msg(m != NULL, "round %d: no disconnect event", r);
	cJSON_Delete(m);
	irc_queue_lines(c, r, ids);
	ck_assert_int_eq(test_ircd_restart(&D), 0);
	ck_assert_int_eq(test_irc_user_connect(&u, D.port, "watcher"), 0);
	ck_assert_int_eq(test_irc_user_join(&u, "#faults"), 0);
	relay_grant();
	irc_wait_delivered(c, ids, r);
	for (int k = 0; k < IRC_LINES; k++) {
		snprintf(re, sizeof re, "^:bot![^ ]+ PRIVMSG #faults :round %d line %d$", r, k);
		int e = test_irc_user_expect(&u, re, test_scaled_ms(WAIT_MS), NULL);
		if (e != 0)
			test_irc_user_dump(&u, stderr);
		ck_assert_msg(e == 0, "round %d: line %d was not received in its place", r, k);
	}
	test_irc_user_close(&u);
}

START_TEST(ircd_killed_and_restarted)
{
	struct test_raw c;
	struct baseline b;

	ck_assert_int_eq(test_ircd_start(&D, NULL), 0);
	relay_start(D.port);
	const char *conf = conf_write("[irc]\nserver = 127.0.0.1:%d\nnick = bot\nchannel = #faults\n"
				      "reconnect_min = 100ms\nreconnect_max = 200ms\n"
				      "burst = 100\nline_interval = 10ms\n", R.port);
	relay_grant();
	host_up((const char *const[]){ "--config", conf, NULL }, NULL);
	open_client(&c, "irc-watch");
	cJSON_Delete(call_ok(&c, "irc", "on", "[\"connect\",{\"$fn\":1}]"));
	cJSON_Delete(call_ok(&c, "irc", "on", "[\"disconnect\",{\"$fn\":2}]"));
	irc_wait_up(&c);
	baseline_take(&b);

	for (int r = 0; r < IRC_ROUNDS; r++)
		irc_round(&c, r);

	cJSON *st = call_ok(&c, "irc", "getState", "[]");
	ck_assert_int_eq((long)jnum_of(cJSON_GetObjectItemCaseSensitive(st, "value"), "queued"), 0);
	cJSON_Delete(st);
	/* The baseline has this client and its two handlers. */
	baseline_back(&b);
	test_raw_close(&c);
}
END_TEST

/* ---- 4. SIGHUP during heavy traffic --------------------------------------------- */

#define LOAD_CLIENTS 6
#define LOAD_DEPTH 8		/* calls in flight per client */
#define LOAD_IDS (1 << 18)	/* calls per client at most */
#define HUPS 50
#define HUP_EVERY_MS 20
#define HUP_CHANGE 6		/* the file changes before every sixth SIGHUP */
#define HELLO_LINE "^:bot![^ ]+ PRIVMSG #faults :hello, alice$"	/* what !hello answers */

/* A client that keeps LOAD_DEPTH calls in flight: echo(id) for odd ids,
 * host.ping() for even ones. */
struct load {
	struct test_raw c;
	uint64_t sent, answered, failed;
	bool *got;		/* per id: answered */
};

/* The configuration with or without the second command and its tokens_max. */
static const char *load_conf(bool changed)
{
	const char *hello = SCRIPTS_BUILDDIR "/hello";

	return conf_write("[bothost]\nuser_commands = 100/1s\n"
			  "[limits]\ntokens_max = %d\n"
			  "[irc]\nserver = 127.0.0.1:%d\nnick = bot\nchannel = #faults\n"
			  "burst = 100\nline_interval = 10ms\n"
			  "[command hello]\nexec = %s\nmax_running = 10\n%s%s%s",
			  changed ? 2048 : 4096, D.port, hello, changed ? "[command hi]\nexec = " : "",
			  changed ? hello : "", changed ? "\n" : "");
}

/* Send calls until the client has LOAD_DEPTH in flight. */
static void load_fill(struct load *l)
{
	while (l->sent - l->answered < LOAD_DEPTH && l->sent + 1 < LOAD_IDS) {
		uint64_t id = ++l->sent;
		int r = id % 2 ? test_raw_send(&l->c, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"loopback\","
						"\"method\":\"echo\",\"args\":[%llu]}", (unsigned long long)id,
						(unsigned long long)id)
			       : test_raw_send(&l->c, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"host\","
						"\"method\":\"ping\",\"args\":[]}", (unsigned long long)id);
		ck_assert_int_eq(r, 0);
	}
}

/* Check one answer: a result with the right value for a call in flight. */
static void load_answer(struct load *l, const cJSON *m)
{
	double id = jnum_of(m, "id");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "value");

	ck_assert_msg(id >= 1 && id <= (double)l->sent && !l->got[(uint64_t)id], "unexpected frame %s", jstr(m));
	l->got[(uint64_t)id] = true;
	l->answered++;
	if (strcmp(jstr_of(m, "t"), "result") != 0 ||
	    ((uint64_t)id % 2 ? !cJSON_IsNumber(v) || v->valuedouble != id
			      : !cJSON_IsString(v) || strcmp(v->valuestring, "pong") != 0)) {
		fprintf(stderr, "call %g: %s\n", id, jstr(m));
		l->failed++;
	}
}

/* Take every answer the clients have; wait at most ms for the first. */
static void load_pump(struct load *ls, int ms)
{
	struct pollfd p[LOAD_CLIENTS];
	cJSON *m;

	for (int i = 0; i < LOAD_CLIENTS; i++)
		p[i] = (struct pollfd){ .fd = ls[i].c.fd, .events = POLLIN };
	if (poll(p, LOAD_CLIENTS, ms) <= 0)
		return;
	for (int i = 0; i < LOAD_CLIENTS; i++) {
		if (!p[i].revents)
			continue;
		while ((m = test_raw_recv(&ls[i].c, 0))) {
			load_answer(&ls[i], m);
			cJSON_Delete(m);
		}
		ck_assert_msg(!ls[i].c.eof, "load client %d was disconnected", i);
	}
}

/* Wait until the bot is in #faults. */
static void irc_wait_joined(struct test_raw *c)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(10000);

	for (;;) {
		cJSON *m = call_ok(c, "irc", "getChannels", "[]");
		const cJSON *ch;
		bool in = false;
		cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(m, "value"))
			in = in || strcmp(jstr_of(ch, "name"), "#faults") == 0;
		cJSON_Delete(m);
		if (in)
			return;
		ck_assert_msg(test_now_ms() < deadline, "the bot did not join #faults");
		pause_ms(20);
	}
}

/* The storm: calls in flight all along, SIGHUPs, the file changing, and
 * commands from IRC; returns how many !hello were sent. */
static int load_storm(struct load *ls, struct test_irc_user *u)
{
	uint64_t next_hup = test_now_ms();
	int hups = 0, hellos = 0;

	while (hups < HUPS) {
		for (int i = 0; i < LOAD_CLIENTS; i++)
			load_fill(&ls[i]);
		uint64_t now = test_now_ms();
		load_pump(ls, next_hup > now ? (int)(next_hup - now) : 0);
		if (test_now_ms() < next_hup)
			continue;
		if (hups % HUP_CHANGE == 0)
			load_conf(hups / HUP_CHANGE % 2 == 0);
		ck_assert_int_eq(kill(H.pid, SIGHUP), 0);
		if (hups % 10 == 5) {
			ck_assert_int_eq(test_irc_user_privmsg(u, "#faults", "!hello"), 0);
			ck_assert_int_eq(test_irc_user_privmsg(u, "#faults", "just talking"), 0);
			hellos++;
		}
		hups++;
		next_hup = test_now_ms() + HUP_EVERY_MS;
	}
	return hellos;
}

/* Wait for every answer; assert none is missing or failed. */
static void load_finish(struct load *ls)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(WAIT_MS);
	unsigned long long sent = 0, answered = 0, failed = 0;

	for (int i = 0; i < LOAD_CLIENTS; i++)
		while (ls[i].answered < ls[i].sent && test_now_ms() < deadline)
			load_pump(ls, 50);
	for (int i = 0; i < LOAD_CLIENTS; i++) {
		sent += ls[i].sent;
		answered += ls[i].answered;
		failed += ls[i].failed;
		test_raw_close(&ls[i].c);
		free(ls[i].got);
	}
	ck_assert_msg(answered == sent, "%llu calls of %llu answered", answered, sent);
	ck_assert_msg(failed == 0, "%llu calls of %llu failed", failed, sent);
	ck_assert_uint_gt(sent, 1000 / (unsigned)test_slowdown());
}

/* The last file is in force: its limit for new clients, its new command. */
static void load_conf_applied(struct test_irc_user *u)
{
	struct test_raw c;

	ck_assert(test_host_log_has(&H, "configuration: [limits] tokens_max: 4096 -> 2048"));
	ck_assert(test_host_log_has(&H, "configuration: [command hi] added"));
	cJSON *w = test_raw_hello(&c, H.path, "after");
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq((long)jnum_of(cJSON_GetObjectItemCaseSensitive(w, "limits"), "tokens_max"), 2048);
	cJSON_Delete(w);
	test_raw_close(&c);
	ck_assert_int_eq(test_irc_user_privmsg(u, "#faults", "!hi"), 0);
	ck_assert_int_eq(test_irc_user_expect(u, HELLO_LINE, test_scaled_ms(WAIT_MS), NULL), 0);
}

START_TEST(sighup_under_load)
{
	static struct load ls[LOAD_CLIENTS];
	const struct test_host_opts o = { .log = true };
	struct test_irc_user u;
	struct test_raw c;
	struct baseline b;

	ck_assert_int_eq(test_ircd_start(&D, NULL), 0);
	host_up((const char *const[]){ "--config", load_conf(false), "--loopback", NULL }, &o);
	open_client(&c, "observer");
	irc_wait_up(&c);
	irc_wait_joined(&c);
	test_raw_close(&c);
	ck_assert_int_eq(test_irc_user_connect(&u, D.port, "alice"), 0);
	ck_assert_int_eq(test_irc_user_join(&u, "#faults"), 0);
	baseline_take(&b);

	for (int i = 0; i < LOAD_CLIENTS; i++) {
		open_client(&ls[i].c, "load");
		ls[i].got = calloc(LOAD_IDS, sizeof *ls[i].got);
		ck_assert_ptr_nonnull(ls[i].got);
	}
	int hellos = load_storm(ls, &u);
	load_finish(ls);
	/* Every command was answered, once; IRC stayed up all along. */
	for (int i = 0; i < hellos; i++)
		ck_assert_int_eq(test_irc_user_expect(&u, HELLO_LINE, test_scaled_ms(WAIT_MS), NULL), 0);
	load_conf_applied(&u);
	ck_assert_uint_eq(test_irc_user_count(&u, HELLO_LINE), (size_t)hellos + 1);
	ck_assert(!test_host_log_has(&H, "connection lost"));

	test_irc_user_close(&u);
	baseline_back(&b);
}
END_TEST

/* ---- 5. a reader that stops reading while events flood it ------------------------ */

#define FLOOD_OUTPUT_MAX "65536"
#define FLOOD_BATCH 4		/* emits sent before their answers are read */
#define FLOOD_PAYLOAD 8192

START_TEST(stuck_reader_flooded)
{
	const struct test_host_opts o = { .log = true };
	struct test_raw slow, emitter, prober;
	struct baseline b;
	static char args[FLOOD_PAYLOAD + 32];
	uint64_t worst = 0, ids[FLOOD_BATCH];
	int emits = 0;
	bool cut = false;

	host_up((const char *const[]){ "--loopback", "--output-max", FLOOD_OUTPUT_MAX, NULL }, &o);
	baseline_take(&b);
	open_client(&slow, "never-reads");
	cJSON_Delete(call_ok(&slow, "loopback", "on", "[\"flood\",{\"$fn\":1}]"));
	open_client(&emitter, "emitter");
	open_client(&prober, "prober");
	int n = snprintf(args, sizeof args, "[\"flood\",\"");
	memset(args + n, 'x', FLOOD_PAYLOAD);
	strcpy(args + n + FLOOD_PAYLOAD, "\"]");

	while (!cut) {
		ck_assert_msg(emits < 2000, "a client that never reads was never cut off");
		for (int k = 0; k < FLOOD_BATCH; k++) {
			ids[k] = ++emitter.next_id;
			ck_assert_int_eq(test_raw_send(&emitter, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"loopback\","
						       "\"method\":\"emit\",\"args\":%s}",
						       (unsigned long long)ids[k], args), 0);
		}
		/* While the host floods the stuck client, another is served at once. */
		uint64_t t0 = test_now_ms();
		call_num_is(&prober, "loopback", "echo", "[1]", 1);
		uint64_t dt = test_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		for (int k = 0; k < FLOOD_BATCH; k++) {
			cJSON *m = test_raw_recv(&emitter, WAIT_MS);
			ck_assert_msg(m && is_answer(m, (double)ids[k]), "emit %llu: %s", (unsigned long long)ids[k],
				      jstr(m));
			cut = cut || jnum_of(m, "value") == 0;
			cJSON_Delete(m);
			emits++;
		}
	}
	ck_assert_msg(worst < (uint64_t)test_scaled_ms(1000), "a call took %llu ms while a client was flooded",
		      (unsigned long long)worst);
	ck_assert_msg(emits * FLOOD_PAYLOAD > 65536, "cut off after %d emits, below output_max", emits);
	ck_assert_msg(test_raw_closed(&slow, WAIT_MS), "the stuck client was not disconnected");
	ck_assert(test_host_log_has(&H, "LimitExceeded: output queue over output_max (not reading)"));
	/* The others keep their connections; the stuck one left nothing behind. */
	call_num_is(&emitter, "loopback", "emit", "[\"flood\"]", 0);
	call_num_is(&prober, "loopback", "echo", "[2]", 2);
	ck_assert_int_eq(test_host_stat(&H, "clients"), b.stats[0] + 2);
	test_raw_close(&slow);
	test_raw_close(&emitter);
	test_raw_close(&prober);
	baseline_back(&b);
}
END_TEST

/* ---- 6. five hundred clients on the behaviours socket that never read ------------ */

#define FLOODERS 500
#define FLOOD_CALLS 24		/* echo calls each flooder sends and never reads the answers of */
#define FLOOD_ECHO 65536
#define FLOOD_BUDGET "16777216"	/* output_total_max */

/* The host's resident set in kB, or -1. */
static long host_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)H.pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

START_TEST(many_clients_output_budget)
{
	const struct test_host_opts o = { .log = true };
	static struct test_raw flood[FLOODERS];
	static char frame[FLOOD_ECHO + 128];
	static const char hello[] = "{\"t\":\"hello\",\"version\":1,\"name\":\"flooder\"}\n";
	char conf[] = "/tmp/test-faults-conf.XXXXXX", path[400];
	struct test_raw prober;
	long peak = 0;
	uint64_t worst = 0;
	int fd = mkstemp(conf);

	ck_assert_int_ge(fd, 0);
	dprintf(fd, "[limits]\noutput_total_max = %s\n", FLOOD_BUDGET);
	close(fd);
	nofile_raise(FLOODERS + 256);
	host_up((const char *const[]){ "--loopback", "--config", conf, NULL }, &o);
	unlink(conf);
	open_client(&prober, "prober");
	snprintf(path, sizeof path, "%s.behaviours", H.path);
	int n = snprintf(frame, sizeof frame, "{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[\"");
	memset(frame + n, 'x', FLOOD_ECHO);
	strcpy(frame + n + FLOOD_ECHO, "\"]}\n");
	size_t len = strlen(frame), total = FLOOD_CALLS * len;
	static size_t sent[FLOODERS];
	for (int i = 0; i < FLOODERS; i++) {
		ck_assert_int_eq(test_raw_connect(&flood[i], path), 0);
		ck_assert_int_eq(test_raw_write(&flood[i], hello, sizeof hello - 1), 0);
		sent[i] = 0;
	}
	/* Rounds over every flooder, each sending what its socket takes without
	 * waiting (the host may cut it off), until all sent FLOOD_CALLS frames. */
	uint64_t until = test_now_ms() + (uint64_t)test_scaled_ms(15000);
	for (bool busy = true; busy && test_now_ms() < until;) {
		busy = false;
		for (int i = 0; i < FLOODERS; i++) {
			while (sent[i] < total) {
				size_t off = sent[i] % len;
				ssize_t w = send(flood[i].fd, frame + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w <= 0) {
					if (w < 0 && errno != EAGAIN && errno != EINTR)
						sent[i] = total;	/* cut off */
					break;
				}
				sent[i] += (size_t)w;
			}
			busy = busy || sent[i] < total;
		}
		uint64_t t0 = test_now_ms();
		cJSON_Delete(call_ok(&prober, "host", "ping", "[]"));
		uint64_t dt = test_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		long rss = host_rss_kb();
		peak = rss > peak ? rss : peak;
	}
	uint64_t t0 = test_now_ms();
	cJSON_Delete(call_ok(&prober, "host", "ping", "[]"));
	worst = test_now_ms() - t0 > worst ? test_now_ms() - t0 : worst;
	long rss = host_rss_kb();
	peak = rss > peak ? rss : peak;
	fprintf(stderr, "many_clients_output_budget: %d clients x %d x %d bytes unread, output_total_max %s: "
	       "peak RSS %ld kB, slowest ping %llu ms\n", FLOODERS, FLOOD_CALLS, FLOOD_ECHO, FLOOD_BUDGET, peak,
	       (unsigned long long)worst);
	if (test_memory_measured())
		ck_assert_msg(peak < 160 * 1024, "bothost grew to %ld kB under the flood", peak);
	/* Under valgrind bothost is tens of times slower: only its errors count there. */
	if (!test_under_valgrind())
		ck_assert_msg(worst < (uint64_t)test_scaled_ms(2000), "a ping took %llu ms under the flood",
			      (unsigned long long)worst);
	ck_assert(test_host_log_has(&H, "output_total_max"));
	for (int i = 0; i < FLOODERS; i++)
		test_raw_close(&flood[i]);
	test_raw_close(&prober);
}
END_TEST

/* Suite: every fault is its own case, with a timeout that allows for sanitizers. */
static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	const struct {
		const char *name;
		const TTest *test;
		const char *tags;	/* "slow": make check-slow */
	} cases[] = {
		{ "killed", clients_killed_mid_call, NULL },
		{ "descriptors", descriptors_exhausted, NULL },
		{ "ircd", ircd_killed_and_restarted, "slow" },	/* 20 restarts of ngircd */
		{ "sighup", sighup_under_load, NULL },
		{ "flood", stuck_reader_flooded, NULL },
		{ "budget", many_clients_output_budget, NULL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		if (cases[i].tags)
			tcase_set_tags(tc, cases[i].tags);
		tcase_add_checked_fixture(tc, NULL, world_down);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(faults_suite());

	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
