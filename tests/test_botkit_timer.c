/* SPDX-License-Identifier: ISC */
/* libbotkit's timers against a real bothost --loopback: once and repeating,
 * cancelled by the slot or by bk_timer_remove (also from inside their own
 * callback), interleaved with calls (asynchronous, blocking, and a blocking
 * call during which timers fire), under bk_run() and under the libev adapter,
 * ended by a lost connection, and without a busy loop. Also: a libbotkit
 * program's stdout and stderr are line-buffered when they are pipes. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "botkit.h"
#include "botkit-ev.h"
#include "harness.h"

static struct test_host host;	/* one bothost --loopback per test case */
static bk_conn *conn;		/* a fresh connection per test */

/* What a timer saw. */
struct tick {
	int calls;
	int destroyed;
	int destroyed_in_fn;	/* destroy ran while this timer's fn was running */
	bool in_fn;
	int stop_at;		/* end the timer at this call (0: never) */
	bool by_unref;		/* end it with bk_slot_unref (else bk_timer_remove) */
	bk_slot *slot;		/* the owned slot, when kept */
	bk_slot *victim;	/* another timer's slot to cancel on the first call */
	int *order;		/* where to append this timer's id when it fires */
	int *order_len;
	int id;
	uint64_t first_ms;	/* test_now_ms() of the first call */
	int replies;		/* replies of calls the timer made */
};

/* Microseconds on the monotonic clock, the clock of bk_conn_get_timeout(). */
static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* CPU time this process used, in milliseconds. */
static uint64_t cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Start a bothost with the loopback object and connect to it. */
static void setup(void)
{
	static const char *const args[] = { "--loopback", NULL };

	ck_assert_int_eq(test_host_start(&host, args), 0);
	ck_assert_int_eq(bk_conn_new_path(&conn, host.path, "timer-test"), 0);
}

/* Close the connection and stop the host. */
static void teardown(void)
{
	conn = bk_conn_unref(conn);
	test_host_stop(&host);
}

/* Count a destroy, and whether it came while fn was running. */
static void tick_destroy(void *userdata)
{
	struct tick *t = userdata;

	t->destroyed++;
	if (t->in_fn)
		t->destroyed_in_fn++;
}

/* Count a reply of a call made by a timer. */
static void tick_reply(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct tick *t = userdata;

	ck_assert_ptr_null(err);
	ck_assert(cJSON_IsNumber(result));
	t->replies++;
}

/* A timer: count, record the order, cancel what it was told to, stop itself
 * at stop_at. */
static void tick_fn(bk_conn *c, bk_slot *s, void *userdata)
{
	struct tick *t = userdata;

	ck_assert_ptr_eq(c, conn);
	t->in_fn = true;
	if (t->calls++ == 0)
		t->first_ms = test_now_ms();
	if (t->order)
		t->order[(*t->order_len)++] = t->id;
	if (t->victim)
		t->victim = bk_slot_unref(t->victim);
	if (t->stop_at && t->calls == t->stop_at) {
		if (t->by_unref) {
			ck_assert_ptr_eq(s, t->slot);
			t->slot = bk_slot_unref(t->slot);
		} else {
			ck_assert_int_eq(bk_timer_remove(s), 1);
			ck_assert_int_eq(bk_timer_remove(s), 0);
		}
		ck_assert(!bk_slot_is_active(s) || t->slot);
	}
	t->in_fn = false;
}

START_TEST(once_fires_once_after_its_delay)
{
	struct tick t = { 0 };
	bk_slot *s = NULL;
	uint64_t start = test_now_ms();

	ck_assert_int_eq(bk_timer_add(conn, 30000, false, tick_fn, &t, tick_destroy, &s), 0);
	ck_assert(bk_slot_is_active(s));
	ck_assert(!bk_conn_is_idle(conn));
	uint64_t now = now_usec(), due = bk_conn_get_timeout(conn);
	ck_assert_uint_gt(due, now);
	ck_assert_uint_le(due, now + 30000);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_uint_ge(t.first_ms - start, 29);
	ck_assert_int_eq(t.destroyed, 1);
	ck_assert_int_eq(t.destroyed_in_fn, 0);
	ck_assert(!bk_slot_is_active(s));
	ck_assert(bk_conn_is_idle(conn));
	ck_assert_int_eq(bk_timer_remove(s), 0);
	ck_assert_ptr_null(bk_slot_unref(s));
	ck_assert_int_eq(t.destroyed, 1);
}
END_TEST

START_TEST(zero_delay_fires_from_the_loop_not_before)
{
	struct tick t = { 0 };

	ck_assert_int_eq(bk_timer_add(conn, 0, false, tick_fn, &t, tick_destroy, NULL), 0);
	ck_assert_int_eq(t.calls, 0);
	ck_assert_uint_le(bk_conn_get_timeout(conn), now_usec());
	ck_assert_int_eq(bk_conn_process(conn), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(t.destroyed, 1);
	ck_assert(bk_conn_is_idle(conn));
	/* a repeating timer needs a period; no fn is refused */
	ck_assert_int_eq(bk_timer_add(conn, 0, true, tick_fn, &t, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_timer_add(conn, 10, false, NULL, &t, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_timer_add(NULL, 10, false, tick_fn, &t, NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_timer_remove(NULL), -EINVAL);
}
END_TEST

START_TEST(repeat_until_removed_inside_its_fn)
{
	struct tick t = { .stop_at = 5 };
	uint64_t start = test_now_ms();

	/* floating: only bk_timer_remove can end it */
	ck_assert_int_eq(bk_timer_add(conn, 10000, true, tick_fn, &t, tick_destroy, NULL), 0);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(t.calls, 5);
	ck_assert_uint_ge(test_now_ms() - start, 49);
	ck_assert_int_eq(t.destroyed, 1);
	/* destroy waits until fn has returned */
	ck_assert_int_eq(t.destroyed_in_fn, 0);
}
END_TEST

START_TEST(repeat_until_slot_unref_inside_its_fn)
{
	struct tick t = { .stop_at = 3, .by_unref = true };

	ck_assert_int_eq(bk_timer_add(conn, 5000, true, tick_fn, &t, tick_destroy, &t.slot), 0);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(t.calls, 3);
	ck_assert_ptr_null(t.slot);
	ck_assert_int_eq(t.destroyed, 1);
	ck_assert_int_eq(t.destroyed_in_fn, 0);
}
END_TEST

START_TEST(cancel_by_slot)
{
	struct tick late = { 0 }, killer = { 0 }, kept = { 0 };
	bk_slot *kept_slot = NULL;

	ck_assert_int_eq(bk_timer_add(conn, 40000, false, tick_fn, &late, tick_destroy, &killer.victim), 0);
	ck_assert_int_eq(bk_timer_add(conn, 10000, false, tick_fn, &killer, tick_destroy, NULL), 0);
	/* a reference of its own keeps a slot (not the timer) alive */
	ck_assert_int_eq(bk_timer_add(conn, 20000, false, tick_fn, &kept, tick_destroy, &kept_slot), 0);
	ck_assert_ptr_eq(bk_slot_ref(kept_slot), kept_slot);
	ck_assert_ptr_null(bk_slot_unref(kept_slot));
	ck_assert(bk_slot_is_active(kept_slot));
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(killer.calls, 1);
	ck_assert_ptr_null(killer.victim);
	ck_assert_int_eq(late.calls, 0);
	ck_assert_int_eq(late.destroyed, 1);
	ck_assert_int_eq(kept.calls, 1);
	ck_assert_int_eq(kept.destroyed, 1);
	ck_assert_ptr_null(bk_slot_unref(kept_slot));
	/* cancelled before it fires: nothing left, bk_run returns at once */
	bk_slot *s = NULL;
	struct tick never = { 0 };
	ck_assert_int_eq(bk_timer_add(conn, 10000000, true, tick_fn, &never, tick_destroy, &s), 0);
	s = bk_slot_unref(s);
	ck_assert_int_eq(never.destroyed, 1);
	uint64_t start = test_now_ms();
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_uint_lt(test_now_ms() - start, 1000);
	ck_assert_int_eq(never.calls, 0);
}
END_TEST

START_TEST(cancel_a_timer_due_in_the_same_turn)
{
	struct tick a = { .id = 1 }, b = { .id = 2 };
	bk_slot *sb = NULL;

	/* both due by the time the loop looks: a (earlier) cancels b */
	ck_assert_int_eq(bk_timer_add(conn, 1000, false, tick_fn, &a, tick_destroy, NULL), 0);
	ck_assert_int_eq(bk_timer_add(conn, 2000, false, tick_fn, &b, tick_destroy, &sb), 0);
	a.victim = sb;
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	nanosleep(&ts, NULL);	/* let both deadlines pass (no waiting for an event) */
	ck_assert_int_eq(bk_conn_process(conn), 0);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 0);
	ck_assert_int_eq(b.destroyed, 1);
	ck_assert(bk_conn_is_idle(conn));
}
END_TEST

START_TEST(fire_in_deadline_order)
{
	int order[8], n = 0;
	struct tick t[3] = {
		{ .id = 3, .order = order, .order_len = &n },
		{ .id = 1, .order = order, .order_len = &n },
		{ .id = 2, .order = order, .order_len = &n },
	};

	ck_assert_int_eq(bk_timer_add(conn, 30000, false, tick_fn, &t[0], NULL, NULL), 0);
	ck_assert_int_eq(bk_timer_add(conn, 10000, false, tick_fn, &t[1], NULL, NULL), 0);
	ck_assert_int_eq(bk_timer_add(conn, 20000, false, tick_fn, &t[2], NULL, NULL), 0);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(order[0], 1);
	ck_assert_int_eq(order[1], 2);
	ck_assert_int_eq(order[2], 3);
}
END_TEST

/* A timer that calls the host asynchronously, and stops at its 4th turn. */
static void calling_fn(bk_conn *c, bk_slot *s, void *userdata)
{
	struct tick *t = userdata;

	ck_assert_int_eq(bk_call(c, "loopback", "echo", tick_reply, t, "i", ++t->calls), 0);
	if (t->calls == 4)
		ck_assert_int_eq(bk_timer_remove(s), 1);
}

/* What the blocking timer needs: its record, the ticker it watches. */
struct blocker {
	struct tick *ticker;
	bk_slot *ticker_slot;
	int calls;
	int ticks_during;	/* the ticker's turns while the blocking call waited */
};

/* A timer that makes a blocking call (the host answers after 60 ms), then
 * ends the ticker. */
static void blocking_fn(bk_conn *c, bk_slot *s, void *userdata)
{
	struct blocker *b = userdata;
	cJSON *res = NULL;

	b->calls++;
	int before = b->ticker->calls;
	ck_assert_int_eq(bk_call_sync(c, "loopback", "sleep", &res, "i", 60), 0);
	ck_assert(cJSON_IsNull(res));
	bk_json_delete(res);
	b->ticks_during = b->ticker->calls - before;
	ck_assert_int_eq(bk_timer_remove(b->ticker_slot), 1);
}

START_TEST(timers_and_calls_interleaved)
{
	struct tick caller = { 0 }, ticker = { 0 };
	struct blocker b = { .ticker = &ticker };

	ck_assert_int_eq(bk_timer_add(conn, 5000, true, calling_fn, &caller, NULL, NULL), 0);
	ck_assert_int_eq(bk_timer_add(conn, 5000, true, tick_fn, &ticker, tick_destroy, &b.ticker_slot), 0);
	ck_assert_int_eq(bk_timer_add(conn, 2000, false, blocking_fn, &b, NULL, NULL), 0);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(caller.calls, 4);
	ck_assert_int_eq(caller.replies, 4);
	ck_assert_int_eq(b.calls, 1);
	/* the repeating timer went on while the blocking call waited */
	ck_assert_int_ge(b.ticks_during, 3);
	ck_assert_int_eq(ticker.destroyed, 1);
	ck_assert_ptr_null(bk_slot_unref(b.ticker_slot));
	/* and the connection still works */
	cJSON *res = NULL;
	ck_assert_int_eq(bk_call_sync(conn, "loopback", "echo", &res, "s", "ok"), 0);
	ck_assert_str_eq(res->valuestring, "ok");
	bk_json_delete(res);
}
END_TEST

START_TEST(bk_run_waits_without_spinning)
{
	struct tick t = { 0 };
	uint64_t start = test_now_ms(), cpu = cpu_ms();

	ck_assert_int_eq(bk_timer_add(conn, 300000, false, tick_fn, &t, NULL, NULL), 0);
	ck_assert_int_eq(bk_run(conn), 0);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_uint_ge(test_now_ms() - start, 299);
	/* a busy loop would burn the whole 300 ms */
	ck_assert_uint_lt(cpu_ms() - cpu, 100);
}
END_TEST

START_TEST(libev_adapter_services_timers)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct tick once = { 0 }, rep = { .stop_at = 4 }, cancelled = { 0 };
	bk_slot *cs = NULL;
	uint64_t start = test_now_ms(), cpu = cpu_ms();

	ck_assert_ptr_nonnull(loop);
	ck_assert_int_eq(bk_timer_add(conn, 40000, false, tick_fn, &once, tick_destroy, NULL), 0);
	ck_assert_int_eq(bk_timer_add(conn, 20000, true, tick_fn, &rep, tick_destroy, NULL), 0);
	ck_assert_int_eq(bk_timer_add(conn, 60000, false, tick_fn, &cancelled, tick_destroy, &cs), 0);
	/* the repeating timer's first turn cancels the last one */
	rep.victim = cs;
	bk_ev *e = bk_ev_attach(loop, conn);
	ck_assert_ptr_nonnull(e);
	/* ev_run returns once no timer is left: the adapter keeps nothing active */
	ev_run(loop, 0);
	ck_assert_int_eq(once.calls, 1);
	ck_assert_int_eq(rep.calls, 4);
	ck_assert_int_eq(cancelled.calls, 0);
	ck_assert_int_eq(once.destroyed + rep.destroyed + cancelled.destroyed, 3);
	ck_assert_uint_ge(test_now_ms() - start, 79);
	ck_assert_uint_lt(cpu_ms() - cpu, 60);
	/* a timer added while attached, from outside a callback */
	struct tick later = { 0 };
	ck_assert_int_eq(bk_timer_add(conn, 10000, false, tick_fn, &later, NULL, NULL), 0);
	ev_run(loop, 0);
	ck_assert_int_eq(later.calls, 1);
	bk_ev_detach(e);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(lost_connection_ends_timers)
{
	struct tick owned = { 0 }, floating = { 0 };
	bk_slot *s = NULL;

	ck_assert_int_eq(bk_timer_add(conn, 10000000, true, tick_fn, &owned, tick_destroy, &s), 0);
	ck_assert_int_eq(bk_timer_add(conn, 10000000, false, tick_fn, &floating, tick_destroy, NULL), 0);
	test_host_stop(&host);
	ck_assert_int_eq(bk_run(conn), -ENOTCONN);
	ck_assert_int_eq(owned.destroyed, 1);
	ck_assert_int_eq(floating.destroyed, 1);
	ck_assert(!bk_slot_is_active(s));
	ck_assert_int_eq(bk_timer_add(conn, 1000, false, tick_fn, &owned, NULL, NULL), -ENOTCONN);
	/* the slot outlives the connection */
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(bk_timer_remove(s), 0);
	ck_assert_ptr_null(bk_slot_unref(s));
	ck_assert_int_eq(owned.calls + floating.calls, 0);
}
END_TEST

START_TEST(freeing_the_connection_ends_timers)
{
	struct tick t = { 0 };
	bk_slot *s = NULL;

	ck_assert_int_eq(bk_timer_add(conn, 10000000, false, tick_fn, &t, tick_destroy, &s), 0);
	ck_assert_int_eq(bk_timer_add(conn, 10000000, true, tick_fn, &t, tick_destroy, NULL), 0);
	conn = bk_conn_unref(conn);
	ck_assert_int_eq(t.destroyed, 2);
	ck_assert(!bk_slot_is_active(s));
	ck_assert_ptr_null(bk_slot_unref(s));
}
END_TEST

/* The child of the stdio test: one line on stdout and one on stderr, no
 * flush, then wait for the parent to end it. */
static int stdio_child(void)
{
	printf("out line from a botkit program\n");
	fprintf(stderr, "err line from a botkit program\n");
	pause();
	return 0;
}

/* Read from fd until `want` is seen (deadline ms); true when it was. */
static bool read_until(int fd, const char *want, int ms)
{
	char buf[512] = "";
	size_t len = 0;
	uint64_t end = test_now_ms() + (uint64_t)test_scaled_ms(ms);

	while (!strstr(buf, want) && len < sizeof buf - 1) {
		uint64_t now = test_now_ms();
		if (now >= end)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return strstr(buf, want) != NULL;
}

START_TEST(stdout_and_stderr_are_line_buffered_on_pipes)
{
	int out[2], err[2];

	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(err), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* a fresh process image: the library's constructor runs with the pipes */
		dup2(out[1], 1);
		dup2(err[1], 2);
		setenv("BOTKIT_TIMER_TEST_CHILD", "stdio", 1);
		execl("/proc/self/exe", "test_botkit_timer", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	bool got_out = read_until(out[0], "out line from a botkit program\n", 5000);
	bool got_err = read_until(err[0], "err line from a botkit program\n", 5000);
	kill(pid, SIGTERM);
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(out[0]);
	close(err[0]);
	ck_assert_msg(got_out, "the stdout line did not arrive while the program ran");
	ck_assert_msg(got_err, "the stderr line did not arrive while the program ran");
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("botkit-timer");
	TCase *tc = tcase_create("timer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, once_fires_once_after_its_delay);
	tcase_add_test(tc, zero_delay_fires_from_the_loop_not_before);
	tcase_add_test(tc, repeat_until_removed_inside_its_fn);
	tcase_add_test(tc, repeat_until_slot_unref_inside_its_fn);
	tcase_add_test(tc, cancel_by_slot);
	tcase_add_test(tc, cancel_a_timer_due_in_the_same_turn);
	tcase_add_test(tc, fire_in_deadline_order);
	tcase_add_test(tc, timers_and_calls_interleaved);
	tcase_add_test(tc, bk_run_waits_without_spinning);
	tcase_add_test(tc, libev_adapter_services_timers);
	tcase_add_test(tc, lost_connection_ends_timers);
	tcase_add_test(tc, freeing_the_connection_ends_timers);
	suite_add_tcase(s, tc);

	TCase *io = tcase_create("stdio");
	tcase_add_test(io, stdout_and_stderr_are_line_buffered_on_pipes);
	suite_add_tcase(s, io);
	return s;
}

int main(void)
{
	const char *child = getenv("BOTKIT_TIMER_TEST_CHILD");

	if (child && strcmp(child, "stdio") == 0)
		return stdio_child();
	SRunner *sr = srunner_create(timer_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
