/* SPDX-License-Identifier: ISC */
/* Disconnect cleanup against the real bothost: clients that hold
 * registrations, functions and pending calls die (SIGKILL, or exit without
 * cleaning up) and the host keeps no trace of them; and the other way round,
 * a host killed under a client completes every pending call once. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "botkit.h"
#include "harness.h"

#define CHILD_FAILED 3		/* exit status of a child whose setup failed */

static struct test_host host;	/* one bothost --loopback per test case */

static const char *const totals[] = {
	"clients", "handlers", "imports", "exports", "pending_in", "pending_out", NULL
};

/* A child process holding things on the host. */
struct child {
	pid_t pid;
	int ready;		/* read end: one byte once everything is set up */
	int cmd;		/* write end: a byte makes the child exit */
};

/* A function the host may call; it answers with its argument count. */
static void child_fn(bk_conn *c, bk_args *a, void *userdata)
{
	if (bk_args_wants_result(a))
		bk_args_return(a, "i", (int)bk_args_count(a));
}

/* Another function, so that the child exports several tokens. */
static void child_other_fn(bk_conn *c, bk_args *a, void *userdata)
{
	bk_args_return(a, "s", "other");
}

/* A function the host calls while the child never reads the call. */
static void child_never_fn(bk_conn *c, bk_args *a, void *userdata)
{
	bk_args_return(a, "s", "too late");
}

/* Set up registrations, stored and held functions and a pending call; 0 or -errno. */
static int child_setup(bk_conn *c, cJSON **ret_held)
{
	char key[64];
	int r;

	snprintf(key, sizeof key, "doomed-%d", (int)getpid());
	if ((r = bk_on(c, "loopback", "doom-ev", child_fn, NULL, NULL, NULL)) < 0 ||
	    (r = bk_once(c, "loopback", "doom-once", child_other_fn, NULL, NULL, NULL)) < 0 ||
	    (r = bk_call_sync(c, "loopback", "store", NULL, "sf", key, child_fn, &key, NULL)) < 0 ||
	    (r = bk_call_sync(c, "loopback", "makeCounter", ret_held, "")) < 0)
		return r;
	/* the host runs this call and waits for child_never_fn, which never answers */
	if ((r = bk_call(c, "loopback", "call", NULL, NULL, "f", child_never_fn, NULL, NULL)) < 0)
		return r;
	return bk_conn_flush(c);
}

/* The child's life: connect, hold things, report ready, then wait to die. */
static void child_main(int ready, int cmd)
{
	bk_conn *c = NULL;
	cJSON *held = NULL;
	char b;

	if (bk_conn_new_path(&c, host.path, "doomed") < 0 || child_setup(c, &held) < 0)
		_exit(CHILD_FAILED);
	if (write(ready, "r", 1) != 1)
		_exit(CHILD_FAILED);
	/* Block without dispatching: the host's call into this client stays
	 * pending. A byte (or the parent's end closing) means exit without
	 * cleaning anything up. */
	while (read(cmd, &b, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* Fork a child that sets itself up; returns once it is ready. */
static void child_start(struct child *ch)
{
	int ready[2], cmd[2];
	char b;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(cmd), 0);
	ch->pid = fork();
	ck_assert_int_ge(ch->pid, 0);
	if (ch->pid == 0) {
		close(ready[0]);
		close(cmd[1]);
		child_main(ready[1], cmd[0]);
	}
	close(ready[1]);
	close(cmd[0]);
	ch->ready = ready[0];
	ch->cmd = cmd[1];

	struct pollfd p = { .fd = ch->ready, .events = POLLIN };
	ck_assert_msg(poll(&p, 1, 10000) == 1, "child %d not ready", (int)ch->pid);
	ck_assert_msg(read(ch->ready, &b, 1) == 1, "child %d failed to set up", (int)ch->pid);
}

/* End a child: SIGKILL, or tell it to exit without cleanup; reap it. */
static void child_end(struct child *ch, bool kill_it)
{
	int status;

	if (kill_it)
		ck_assert_int_eq(kill(ch->pid, SIGKILL), 0);
	else
		ck_assert_int_eq(write(ch->cmd, "x", 1), 1);
	ck_assert_int_eq(waitpid(ch->pid, &status, 0), ch->pid);
	if (kill_it) {
		ck_assert(WIFSIGNALED(status));
		ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	} else {
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	close(ch->ready);
	close(ch->cmd);
}

/* Wait until a host total is at least want; returns the last value seen. */
static long stat_wait_ge(const char *field, long want, int deadline_ms)
{
	uint64_t end = test_now_ms() + (uint64_t)deadline_ms;
	long v;

	while ((v = test_host_stat(&host, field)) < want && test_now_ms() < end) {
		struct pollfd none = { .fd = -1 };
		(void)poll(&none, 1, 20);
	}
	return v;
}

/* Assert that the host shows what n ready children hold. */
static void assert_children_held(int n)
{
	ck_assert_int_eq(stat_wait_ge("clients", n, 5000), n);
	ck_assert_int_eq(stat_wait_ge("handlers", 2L * n, 5000), 2L * n);
	/* child_fn (on and store), child_other_fn, child_never_fn */
	ck_assert_int_ge(stat_wait_ge("imports", 3L * n, 5000), 3L * n);
	ck_assert_int_ge(stat_wait_ge("exports", 2L * n, 5000), 2L * n);
	ck_assert_int_eq(stat_wait_ge("pending_in", n, 5000), n);
	ck_assert_int_eq(stat_wait_ge("pending_out", n, 5000), n);
}

/* Assert that every total returns to 0, and the host function count to base. */
static void assert_no_trace(long functions_base)
{
	for (const char *const *f = totals; *f; f++) {
		long v = test_host_stat_wait(&host, *f, 0, 5000);
		ck_assert_msg(v == 0, "host.stats %s is %ld after the clients went away", *f, v);
	}
	long fns = test_host_stat_wait(&host, "functions", functions_base, 5000);
	ck_assert_msg(fns == functions_base, "host.stats functions is %ld, was %ld", fns, functions_base);
}

/* One registration of the observer's own: emit reaches only it. */
static void observer_sees_only_itself(void)
{
	bk_conn *obs = NULL;
	cJSON *res = NULL;

	ck_assert_int_eq(bk_conn_new_path(&obs, host.path, "observer"), 0);
	ck_assert_int_eq(bk_on(obs, "loopback", "doom-ev", child_fn, NULL, NULL, NULL), 0);
	ck_assert_int_eq(bk_call_sync(obs, "loopback", "emit", &res, "s", "doom-ev"), 0);
	ck_assert(res->valuedouble == 1.0);
	bk_json_delete(res);
	ck_assert_int_eq(bk_call_sync(obs, "loopback", "emit", &res, "s", "doom-once"), 0);
	ck_assert(res->valuedouble == 0.0);
	bk_json_delete(res);
	ck_assert_int_eq(bk_off(obs, "loopback", "doom-ev", child_fn, NULL), 1);
	obs = bk_conn_unref(obs);
}

/* Start n children, end them all, and check the host forgot them. */
static void children_come_and_go(int n, bool kill_them)
{
	struct child ch[8];
	long functions_base;

	ck_assert_int_le(n, 8);
	for (const char *const *f = totals; *f; f++)
		ck_assert_int_eq(test_host_stat_wait(&host, *f, 0, 5000), 0);
	functions_base = test_host_stat(&host, "functions");
	ck_assert_int_ge(functions_base, 0);
	for (int i = 0; i < n; i++)
		child_start(&ch[i]);
	assert_children_held(n);
	ck_assert_int_gt(test_host_stat(&host, "functions"), functions_base);
	for (int i = 0; i < n; i++)
		child_end(&ch[i], kill_them);
	assert_no_trace(functions_base);
	observer_sees_only_itself();
	assert_no_trace(functions_base);
}

/* Start the test case's host. */
static void host_setup(void)
{
	static const char *const args[] = { "--loopback", NULL };

	ck_assert_int_eq(test_host_start(&host, args), 0);
}

/* Stop the test case's host. */
static void host_teardown(void)
{
	test_host_stop(&host);
}

START_TEST(killed_client_leaves_no_trace)
{
	children_come_and_go(1, true);
}
END_TEST

START_TEST(client_exiting_without_cleanup_leaves_no_trace)
{
	children_come_and_go(1, false);
}
END_TEST

START_TEST(many_clients_killed_at_once)
{
	children_come_and_go(4, true);
}
END_TEST

/* ---- the host killed under a client --------------------------------------------- */

struct seen {
	int calls;
	int failed;
	int err;
	int seq;
	int destroyed;
	int destroy_seq;
};

static int seq;

/* Record a completion. */
static void seen_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct seen *s = userdata;

	s->calls++;
	s->seq = ++seq;
	if (err) {
		s->failed++;
		s->err = bk_error_errno(err);
		ck_assert_str_eq(bk_error_name(err), "Disconnected");
	}
}

/* Record the disconnect. */
static void seen_disconnect(bk_conn *c, const bk_error *err, void *userdata)
{
	struct seen *s = userdata;

	s->calls++;
	s->seq = ++seq;
	s->err = bk_error_errno(err);
}

/* Record a destroy. */
static void seen_destroy(void *userdata)
{
	struct seen *s = userdata;

	s->destroyed++;
	s->destroy_seq = ++seq;
}

/* An event handler that must never run. */
static void seen_fn(bk_conn *c, bk_args *a, void *userdata)
{
	struct seen *s = userdata;

	s->calls++;
}

struct killer {
	pid_t host;
	struct seen inner;	/* a call started from inside, just before the kill */
	int calls;
};

/* Called by the host: start one more call, then kill the host. */
static void killer_fn(bk_conn *c, bk_args *a, void *userdata)
{
	struct killer *k = userdata;

	k->calls++;
	ck_assert_int_eq(bk_call(c, "loopback", "sleep", seen_reply, &k->inner, "i", 3000), 0);
	ck_assert_int_eq(bk_conn_flush(c), 0);
	ck_assert_int_eq(kill(k->host, SIGKILL), 0);
}

START_TEST(host_killed_completes_pending_calls)
{
	struct seen sleep_r = { 0 }, call_r = { 0 }, disc = { 0 }, handler = { 0 }, fncall = { 0 };
	struct killer k = { .host = host.pid };
	bk_conn *c = NULL;
	cJSON *ctr = NULL;

	ck_assert_int_eq(bk_conn_new_path(&c, host.path, "survivor"), 0);
	bk_conn_set_disconnect_handler(c, seen_disconnect, &disc);
	ck_assert_int_eq(bk_on(c, "loopback", "never", seen_fn, &handler, seen_destroy, NULL), 0);
	ck_assert_int_eq(bk_call_sync(c, "loopback", "makeCounter", &ctr, ""), 0);
	bk_fn *next = bk_fn_ref(bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(ctr, "next")));
	bk_json_delete(ctr);
	ck_assert_ptr_nonnull(next);

	ck_assert_int_eq(bk_call(c, "loopback", "sleep", seen_reply, &sleep_r, "i", 3000), 0);
	ck_assert_int_eq(bk_call(c, "loopback", "sleep", seen_reply, &call_r, "i", 2000), 0);
	/* blocking: the host calls killer_fn, which kills it */
	ck_assert_int_eq(bk_call_sync(c, "loopback", "call", NULL, "f", killer_fn, &k, NULL), -ENOTCONN);
	const bk_error *e = bk_conn_last_error(c);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(bk_error_name(e), "Disconnected");
	ck_assert_int_eq(k.calls, 1);

	/* a call to a host function of the dead host fails at once */
	ck_assert_int_eq(bk_fn_call(next, seen_reply, &fncall, ""), -ENOTCONN);
	ck_assert_int_eq(bk_conn_process(c), -ENOTCONN);
	ck_assert_int_eq(bk_run(c), -ENOTCONN);

	ck_assert_int_eq(disc.calls, 1);
	ck_assert_int_eq(disc.err, -ENOTCONN);
	const struct seen *pending[] = { &sleep_r, &call_r, &k.inner };
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(pending[i]->calls, 1);
		ck_assert_int_eq(pending[i]->failed, 1);
		ck_assert_int_eq(pending[i]->err, -ENOTCONN);
		ck_assert_int_lt(pending[i]->seq, disc.seq);
		ck_assert_int_lt(pending[i]->seq, handler.destroy_seq);
	}
	ck_assert_int_eq(handler.destroyed, 1);
	ck_assert_int_lt(handler.destroy_seq, disc.seq);
	ck_assert_int_eq(handler.calls, 0);
	ck_assert_int_eq(fncall.calls, 0);
	ck_assert(!bk_conn_is_connected(c));

	next = bk_fn_unref(next);
	c = bk_conn_unref(c);
	ck_assert_int_eq(disc.calls, 1);
	ck_assert_int_eq(sleep_r.calls + call_r.calls + k.inner.calls, 3);
	ck_assert_int_eq(handler.destroyed, 1);
}
END_TEST

/* Clients dying under a host, and a host dying under a client. */
static Suite *disconnect_suite(void)
{
	Suite *s = suite_create("disconnect");
	TCase *clients = tcase_create("clients die");
	TCase *hostdies = tcase_create("host dies");

	tcase_add_unchecked_fixture(clients, host_setup, host_teardown);
	tcase_set_timeout(clients, 30);
	tcase_add_test(clients, killed_client_leaves_no_trace);
	tcase_add_test(clients, client_exiting_without_cleanup_leaves_no_trace);
	tcase_add_test(clients, many_clients_killed_at_once);
	suite_add_tcase(s, clients);

	tcase_add_unchecked_fixture(hostdies, host_setup, host_teardown);
	tcase_set_timeout(hostdies, 30);
	tcase_add_test(hostdies, host_killed_completes_pending_calls);
	suite_add_tcase(s, hostdies);
	return s;
}

/* Run the suite; the exit status says whether every test passed. */
int main(void)
{
	SRunner *sr = srunner_create(disconnect_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
