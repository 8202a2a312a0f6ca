/* SPDX-License-Identifier: ISC */
/* Descriptors as values (the "fd" extension, PROTOCOL.md section 13): frames
 * carrying SCM_RIGHTS descriptors both ways through loopback.echoFd, the
 * limits, refused frames and dead peers, and descriptor counts of the host
 * (/proc/PID/fd) and of this process back to their baseline. */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "botkit.h"
#include "harness.h"
#include "wire/fdq.h"
#include "wire/wire.h"

#define RECV_MS 5000

static struct test_host host;
static const char *const loopback_args[] = { "--loopback", "--fds-per-frame", "4", "--fds-max", "8", NULL };

/* Descriptors this process has open. */
static int own_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3;	/* ".", ".." and the directory's own */
}

static void setup(void)
{
	ck_assert_int_eq(test_host_start(&host, loopback_args), 0);
}

static void teardown(void)
{
	test_host_stop(&host);
}

/* Send bytes with n descriptors attached. */
static void send_bytes_fds(struct test_raw *c, const char *bytes, const int *fds, size_t n)
{
	struct fdq q;
	size_t len = strlen(bytes);

	fdq_init(&q);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(fdq_push(&q, dup(fds[i]), 0), 0);
	ck_assert_int_eq(fdq_send(c->fd, bytes, len, &q), (ssize_t)len);
	fdq_free(&q);
}

/* Send one frame (a line feed added) with n descriptors attached. */
static void send_fds(struct test_raw *c, const char *frame, const int *fds, size_t n)
{
	char line[4096];

	snprintf(line, sizeof line, "%s\n", frame);
	send_bytes_fds(c, line, fds, n);
}

/* The host's descriptor count once it has served a round trip of c. */
static int host_fds_base(struct test_raw *c)
{
	cJSON_Delete(test_raw_call(c, "loopback", "echo", "[1]", NULL));
	return test_host_fd_settled(&host);
}

/* The host's descriptor count with no client: one less than with one that
 * has been served, once that one is gone. */
static int host_fds_idle(void)
{
	struct test_raw c;

	cJSON_Delete(test_raw_hello(&c, host.path, "probe"));
	int base = host_fds_base(&c) - 1;
	test_raw_close(&c);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	return base;
}

/* The next frame, its descriptors queued on q; NULL on timeout or end of file. */
static cJSON *recv_fds(struct test_raw *c, struct fdq *q, int timeout_ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(timeout_ms);
	char *frame;
	size_t len;

	for (;;) {
		if (frame_reader_next(&c->in, &frame, &len) == 1)
			return cJSON_ParseWithLength(frame, len);
		uint64_t now = test_now_ms();
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			return NULL;
		size_t space;
		char *at = frame_reader_space(&c->in, 65536, &space);
		ssize_t n = fdq_recv(c->fd, at, space, q, 253);
		if (n <= 0)
			return NULL;
		frame_reader_commit(&c->in, (size_t)n);
	}
}

/* The error name of a message, or "". */
static const char *error_name(const cJSON *m)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(m, "error"), "name"));
	return name ? name : "";
}

/* Call loopback.echoFd with the write end of a pipe; the descriptor that
 * comes back writes into the same pipe. */
static void echo_pipe_once(struct test_raw *c, uint64_t id, struct fdq *q)
{
	char frame[128], byte = 0;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	snprintf(frame, sizeof frame, "{\"t\":\"call\",\"id\":%llu,\"obj\":\"loopback\",\"method\":\"echoFd\","
		 "\"args\":[{\"$fd\":0}],\"fds\":1}", (unsigned long long)id);
	send_fds(c, frame, &p[1], 1);
	close(p[1]);
	cJSON *m = recv_fds(c, q, RECV_MS);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "t")), "result");
	ck_assert_int_eq(cJSON_GetObjectItem(m, "fds")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "value"), "$fd")->valueint, 0);
	ck_assert_int_eq((int)fdq_len(q), 1);
	int back;
	fdq_shift(q, 1, &back);
	ck_assert_int_eq(write(back, "x", 1), 1);
	close(back);
	ck_assert_int_eq(read(p[0], &byte, 1), 1);
	ck_assert_int_eq(byte, 'x');
	close(p[0]);
	cJSON_Delete(m);
}

START_TEST(welcome_announces_fd)
{
	struct test_raw c;
	cJSON *w = test_raw_hello(&c, host.path, "fds");

	ck_assert_ptr_nonnull(w);
	bool found = false;
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(w, "extensions"))
		found |= cJSON_IsString(e) && strcmp(e->valuestring, "fd") == 0;
	ck_assert(found);
	const cJSON *limits = cJSON_GetObjectItem(w, "limits");
	ck_assert_int_eq(cJSON_GetObjectItem(limits, "fds_per_frame")->valueint, 4);
	ck_assert_int_eq(cJSON_GetObjectItem(limits, "fds_max")->valueint, 8);
	cJSON_Delete(w);
	test_raw_close(&c);
}
END_TEST

START_TEST(echo_fd_round_trip)
{
	struct test_raw c;
	struct fdq q;

	fdq_init(&q);
	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	echo_pipe_once(&c, 1, &q);
	fdq_free(&q);
	test_raw_close(&c);
}
END_TEST

START_TEST(echo_fd_refuses_a_non_descriptor)
{
	struct test_raw c;

	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	cJSON *m = test_raw_call(&c, "loopback", "echoFd", "[42]", NULL);
	ck_assert_str_eq(error_name(m), "InvalidArguments");
	cJSON_Delete(m);
	test_raw_close(&c);
}
END_TEST

/* A frame over fds_per_frame is refused with LimitExceeded, its descriptors
 * closed; the connection stays. */
START_TEST(over_fds_per_frame_is_refused_without_leak)
{
	struct test_raw c;
	struct fdq q;
	int p[2];

	fdq_init(&q);
	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	int base = host_fds_base(&c);
	ck_assert_int_eq(pipe(p), 0);
	int five[5] = { p[1], p[1], p[1], p[1], p[1] };
	send_fds(&c, "{\"t\":\"call\",\"id\":7,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[{\"$fd\":4}],\"fds\":5}",
		 five, 5);
	cJSON *m = recv_fds(&c, &q, RECV_MS);
	ck_assert_str_eq(error_name(m), "LimitExceeded");
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "message")->valuestring,
				     "fds_per_frame"));
	cJSON_Delete(m);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	/* still served */
	echo_pipe_once(&c, 8, &q);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	close(p[0]);
	close(p[1]);
	fdq_free(&q);
	test_raw_close(&c);
}
END_TEST

/* Descriptors a frame carries that nothing takes are closed; a $fd past the
 * frame's count is refused. */
START_TEST(unclaimed_and_out_of_range_descriptors)
{
	struct test_raw c;
	struct fdq q;
	int p[2];

	fdq_init(&q);
	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	int base = host_fds_base(&c);
	ck_assert_int_eq(pipe(p), 0);
	int three[3] = { p[1], p[1], p[0] };
	send_fds(&c, "{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[1],\"fds\":3}", three, 3);
	cJSON *m = recv_fds(&c, &q, RECV_MS);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "t")), "result");
	ck_assert_ptr_null(cJSON_GetObjectItem(m, "fds"));
	cJSON_Delete(m);
	send_fds(&c, "{\"t\":\"call\",\"id\":2,\"obj\":\"loopback\",\"method\":\"echoFd\",\"args\":[{\"$fd\":1}],\"fds\":1}",
		 three, 1);
	m = recv_fds(&c, &q, RECV_MS);
	ck_assert_str_eq(error_name(m), "InvalidArguments");
	cJSON_Delete(m);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	ck_assert_int_eq((int)fdq_len(&q), 0);
	close(p[0]);
	close(p[1]);
	test_raw_close(&c);
}
END_TEST

/* A frame that says it carries more than came is a protocol error; the
 * descriptors that came are closed with the connection. */
START_TEST(missing_descriptors_end_the_connection)
{
	struct test_raw c;
	struct fdq q;
	int p[2];

	fdq_init(&q);
	int base = host_fds_idle();
	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	ck_assert_int_eq(pipe(p), 0);
	send_fds(&c, "{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[],\"fds\":2}", p, 1);
	cJSON *m = recv_fds(&c, &q, RECV_MS);
	ck_assert_str_eq(error_name(m), "ProtocolError");
	cJSON_Delete(m);
	ck_assert(test_raw_closed(&c, RECV_MS));
	test_raw_close(&c);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Descriptors past fds_max before their frames end the connection; those of
 * a frame never finished go when the peer dies. Nothing stays open. */
START_TEST(fds_max_and_dead_peers_leak_nothing)
{
	struct test_raw c;
	int p[2];
	int eight[8];

	int base = host_fds_idle();
	ck_assert_int_eq(pipe(p), 0);
	for (int i = 0; i < 8; i++)
		eight[i] = p[i % 2];
	/* a frame cut short, its descriptors sent, then the peer dies */
	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	struct fdq q;
	fdq_init(&q);
	for (int i = 0; i < 3; i++)
		fdq_push(&q, dup(p[1]), 0);
	ck_assert_int_eq(fdq_send(c.fd, "{\"t\":\"call\",", 12, &q), 12);
	ck_assert_int_gt(test_host_fd_wait(&host, base + 4), base);
	test_raw_close(&c);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	/* nine descriptors before any frame claims them: over fds_max (8) */
	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	send_bytes_fds(&c, "{\"t\":\"call\",\"id\":1,\"obj\":\"loopback\",\"method\":\"echo\",\"args\":[]", eight, 8);
	send_fds(&c, ",\"fds\":9}", eight, 1);
	cJSON *m = recv_fds(&c, &q, RECV_MS);
	ck_assert_str_eq(error_name(m), "LimitExceeded");
	cJSON_Delete(m);
	ck_assert(test_raw_closed(&c, RECV_MS));
	test_raw_close(&c);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	fdq_free(&q);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* 10 000 calls carrying a descriptor each, pipelined 100 at a time: the
 * host's and this process's descriptor counts end where they started. */
START_TEST(ten_thousand_calls_back_to_baseline)
{
	struct test_raw c;
	struct fdq q;
	int p[2];
	char frame[160];

	fdq_init(&q);
	cJSON_Delete(test_raw_hello(&c, host.path, "fds"));
	ck_assert_int_eq(pipe(p), 0);
	int base = host_fds_base(&c);
	int own = own_fd_count();
	for (int batch = 0; batch < 100; batch++) {
		for (int i = 0; i < 100; i++) {
			snprintf(frame, sizeof frame, "{\"t\":\"call\",\"id\":%d,\"obj\":\"loopback\",\"method\":\"echoFd\","
				 "\"args\":[{\"$fd\":0}],\"fds\":1}", batch * 100 + i + 1);
			send_fds(&c, frame, &p[1], 1);
		}
		for (int i = 0; i < 100; i++) {
			cJSON *m = recv_fds(&c, &q, RECV_MS);
			ck_assert_ptr_nonnull(m);
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "t")), "result");
			cJSON_Delete(m);
		}
		ck_assert_int_eq((int)fdq_len(&q), 100);
		fdq_truncate(&q, 0);
	}
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	ck_assert_int_eq(own_fd_count(), own);
	close(p[0]);
	close(p[1]);
	fdq_free(&q);
	test_raw_close(&c);
}
END_TEST

/* A reply that takes the descriptor of the result. */
static void take_fd_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	*(int *)userdata = err ? -2 : bk_conn_take_fd(c, result);
}

/* libbotkit both ways: a descriptor sent with "D", the one that comes back
 * taken in the reply; 500 round trips leave both counts where they were. */
START_TEST(botkit_sends_and_takes_descriptors)
{
	bk_conn *c;
	int p[2];
	char byte;

	ck_assert_int_eq(bk_conn_new_path(&c, host.path, "fds-botkit"), 0);
	ck_assert_int_eq(pipe(p), 0);
	cJSON *one = NULL;
	ck_assert_int_eq(bk_call_sync(c, "loopback", "echo", &one, "i", 1), 0);
	cJSON_Delete(one);
	int base = test_host_fd_settled(&host);
	int own = own_fd_count();
	for (int i = 0; i < 500; i++) {
		int back = -1;
		ck_assert_int_eq(bk_call(c, "loopback", "echoFd", take_fd_reply, &back, "D", p[1]), 0);
		ck_assert_int_eq(bk_run(c), 0);
		ck_assert_int_ge(back, 0);
		ck_assert_int_eq(write(back, "y", 1), 1);
		close(back);
		ck_assert_int_eq(read(p[0], &byte, 1), 1);
		ck_assert_int_eq(byte, 'y');
	}
	/* a descriptor in a JSON argument (bk_json_fd), echoed by echo, not taken: closed */
	cJSON *args = cJSON_CreateArray();
	cJSON_AddItemToArray(args, bk_json_fd(p[1]));
	cJSON *res = NULL;
	ck_assert_int_eq(bk_call_json_sync(c, "loopback", "echo", args, &res), 0);
	cJSON_Delete(args);
	cJSON_Delete(res);
	ck_assert_int_eq(test_host_fd_wait(&host, base), base);
	ck_assert_int_eq(own_fd_count(), own);
	bk_conn_unref(c);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ---- listeners that outlive their behaviour ([listen NAME]) ---------------------- */

static char self_exe[PATH_MAX];
static volatile sig_atomic_t listen_stop;

/* SIGTERM: finish the connection in hand, then exit. */
static void listen_term_cb(int sig)
{
	(void)sig;
	listen_stop = 1;
}

/* The program as a resident: accept on the listener "web" from its context
 * and answer each connection "pid PID\n" until SIGTERM. */
static int behaviour_listen(void)
{
	struct sigaction sa = { .sa_handler = listen_term_cb };	/* no SA_RESTART: accept stops */
	char line[64];
	bk_conn *c;
	int fd, n;

	sigaction(SIGTERM, &sa, NULL);
	if (bk_conn_new(&c, "listen") < 0 || (fd = bk_listener(c, "web")) < 0)
		return 3;
	if (bk_listener(c, "nope") != -ENOENT)
		return 4;
	n = snprintf(line, sizeof line, "pid %ld\n", (long)getpid());
	while (!listen_stop) {
		int s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0)
			continue;	/* EINTR: look at listen_stop */
		if (write(s, line, (size_t)n) != n)
			return 5;
		close(s);
	}
	close(fd);
	bk_conn_unref(c);
	return 0;
}

/* Write text to path. */
static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The port bot.listeners() shows for listener name; 0 when absent. */
static int listener_port(bk_conn *c, const char *name)
{
	cJSON *res = NULL, *it;
	int port = 0;

	ck_assert_int_eq(bk_call_sync(c, "bot", "listeners", &res, ""), 0);
	cJSON_ArrayForEach(it, res) {
		const char *bound = cJSON_GetStringValue(cJSON_GetObjectItem(it, "bound"));
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")), name) == 0 && bound)
			port = atoi(strrchr(bound, ':') + 1);
	}
	bk_json_delete(res);
	return port;
}

/* Connect to 127.0.0.1:port and read the answer: its pid, 0 when the
 * connection was refused, -1 when no answer came in time. */
static long listen_ask(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[64] = "";
	size_t got = 0;
	uint64_t deadline = test_now_ms() + (uint64_t)test_scaled_ms(10000);

	ck_assert_int_ge(s, 0);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		ck_assert_int_eq(errno, ECONNREFUSED);
		close(s);
		return 0;
	}
	while (got < sizeof buf - 1 && test_now_ms() < deadline) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(s, buf + got, sizeof buf - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(s);
	return strncmp(buf, "pid ", 4) == 0 && strchr(buf, '\n') ? atol(buf + 4) : -1;
}

/* A resident accepts on a [listen] socket; it is restarted 20 times while
 * connections keep coming: none is refused, each is answered, the host's
 * and our descriptors are back to their counts. */
START_TEST(listener_survives_twenty_restarts)
{
	char dir[] = "/tmp/test_fds.XXXXXX", conf[64], text[PATH_MAX + 256];
	const char *args[] = { "-c", conf, NULL };
	struct test_host h;
	long first = 0, last = 0, pid;
	unsigned asked = 0, refused = 0, silent = 0, pids = 0;
	bk_conn *c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/bothost.conf", dir);
	snprintf(text, sizeof text, "[listen web]\naddress = 127.0.0.1:0\n\n[resident web]\nexec = %s\n"
		 "arg = --behaviour\narg = listen\nlisten = web\nrestart_min = 100ms\n", self_exe);
	write_text(conf, text);
	ck_assert_int_eq(test_host_start(&h, args), 0);
	ck_assert_int_eq(bk_conn_new_path(&c, h.path, "listen-test"), 0);
	int port = listener_port(c, "web");
	ck_assert_int_gt(port, 0);
	first = listen_ask(port);
	ck_assert_int_gt(first, 0);
	int own = own_fd_count();
	int base = test_host_fd_settled(&h);
	last = first;
	for (int round = 0; round < 20; round++) {
		ck_assert_int_eq(bk_call_sync(c, "bot", "restart", NULL, "s", "web"), 0);
		for (int k = 0; k < 5; k++) {
			pid = listen_ask(port);
			asked++;
			refused += pid == 0;
			silent += pid < 0;
			if (pid > 0 && pid != last)
				pids++;
			if (pid > 0)
				last = pid;
		}
	}
	ck_assert_uint_eq(refused, 0);
	ck_assert_uint_eq(silent, 0);
	ck_assert_uint_eq(asked, 100);
	ck_assert_uint_ge(pids, 10);	/* new processes took the same socket */
	ck_assert_int_eq(own_fd_count(), own);
	ck_assert_int_eq(test_host_fd_wait(&h, base), base);
	bk_conn_unref(c);
	test_host_stop(&h);
	unlink(conf);
	rmdir(dir);
}
END_TEST

/* A listen = NAME without its [listen NAME] section, and a bad address,
 * are refused with the line and the reason. */
START_TEST(listener_configuration_errors)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
		{ "[resident r]\nexec = /bin/true\nlisten = web\n", "there is no [listen web] section" },
		{ "[listen web]\naddress = example.org:80\n", "invalid address 'example.org:80' in [listen web]" },
		{ "[listen web]\n", "[listen web] has no address" },
		{ "[listen web]\naddress = unix:relative\n", "absolute path" },
		{ "[listen a]\naddress = 127.0.0.1:0\n[listen b]\naddress = 127.0.0.1:0\n", "is the address of [listen a]" },
		{ "[listen web]\nport = 1\n", "unknown key 'port' in [listen web]" },
	};
	char dir[] = "/tmp/test_fds.XXXXXX", conf[64], cmd[PATH_MAX + 128], out[1024];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/bothost.conf", dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_text(conf, cases[i].text);
		snprintf(cmd, sizeof cmd, "'%s' -c '%s' --socket '%s/s' 2>&1", getenv("BOTHOST"), conf, dir);
		FILE *p = popen(cmd, "r");
		size_t n = fread(out, 1, sizeof out - 1, p);
		out[n] = '\0';
		ck_assert_int_ne(pclose(p), 0);
		ck_assert_msg(strstr(out, cases[i].says), "case %zu: %s", i, out);
	}
	unlink(conf);
	rmdir(dir);
}
END_TEST

/* The suite. */
static Suite *fds_suite(void)
{
	Suite *s = suite_create("fds");
	TCase *t = tcase_create("protocol");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, welcome_announces_fd);
	tcase_add_test(t, echo_fd_round_trip);
	tcase_add_test(t, echo_fd_refuses_a_non_descriptor);
	tcase_add_test(t, over_fds_per_frame_is_refused_without_leak);
	tcase_add_test(t, unclaimed_and_out_of_range_descriptors);
	tcase_add_test(t, missing_descriptors_end_the_connection);
	tcase_add_test(t, fds_max_and_dead_peers_leak_nothing);
	tcase_add_test(t, ten_thousand_calls_back_to_baseline);
	tcase_add_test(t, botkit_sends_and_takes_descriptors);
	suite_add_tcase(s, t);
	t = tcase_create("listeners");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, listener_survives_twenty_restarts);
	tcase_add_test(t, listener_configuration_errors);
	suite_add_tcase(s, t);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	ssize_t n;
	int failed;

	if (argc > 2 && strcmp(argv[1], "--behaviour") == 0 && strcmp(argv[2], "listen") == 0)
		return behaviour_listen();
	if ((n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1)) < 0)
		return EXIT_FAILURE;
	self_exe[n] = '\0';
	sr = srunner_create(fds_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
