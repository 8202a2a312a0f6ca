/* SPDX-License-Identifier: ISC */
/* What a rogue IRC server can make bothost hold: a real bothost connected
 * to the scripted fake server, which floods it; bothost's peak memory
 * (VmHWM) stays bounded and it keeps answering its clients throughout. The
 * figures are printed for docs/PERFORMANCE.md and the closing notes. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "ircd.h"

/* Peak resident memory bothost may reach under a flood, in KiB. */
#define FLOOD_RSS_MAX_KIB (16 * 1024)

struct env {
	struct test_host host;
	struct test_fake *fake;
	struct test_raw c;
	char dir[64], conf[128];
};

/* A kernel figure of process pid from /proc/PID/status ("VmHWM"), in KiB. */
static long proc_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* bothost on a configuration pointing at a fake server that registers it
 * and then runs what the caller adds to its script. */
static void env_start(struct env *e, void (*script)(struct test_fake *f))
{
	const char *args[] = { "--config", e->conf, NULL };
	FILE *f;

	e->fake = test_fake_new();
	ck_assert_ptr_nonnull(e->fake);
	ck_assert_int_eq(test_fake_register(e->fake), 0);
	script(e->fake);
	ck_assert_int_eq(test_fake_wait(e->fake, 600000), 0);
	ck_assert_int_eq(test_fake_start(e->fake, AF_INET), 0);

	snprintf(e->dir, sizeof e->dir, "/tmp/bothost-flood-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	f = fopen(e->conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\nnick = bot\nreconnect_min = 1s\n", test_fake_port(e->fake));
	fclose(f);
	ck_assert_int_eq(test_host_start(&e->host, args), 0);
	cJSON *welcome = test_raw_hello(&e->c, e->host.path, "flood");
	ck_assert_ptr_nonnull(welcome);
	cJSON_Delete(welcome);
}

static void env_stop(struct env *e)
{
	test_raw_close(&e->c);
	ck_assert_int_eq(test_host_stop(&e->host), 0);
	test_fake_free(e->fake);
	unlink(e->conf);
	rmdir(e->dir);
}

/* Call irc.getIsupport (the tokens in force) and return their count, or -1
 * on an error. */
static int isupport_tokens(struct env *e, cJSON **ret_json)
{
	cJSON *r = test_raw_call(&e->c, "irc", "getIsupport", "[]", NULL);
	cJSON *v = cJSON_GetObjectItem(r, "value");
	int n = cJSON_IsObject(v) ? cJSON_GetArraySize(v) : -1;

	if (ret_json)
		*ret_json = r;
	else
		cJSON_Delete(r);
	return n;
}

enum { REPEATED = 300000, DISTINCT = 240000, PER_LINE = 12 };

/* 300 000 repeated tokens, then 240 000 distinct ones, 12 to a 005 line,
 * then a last line that frees a place (-MODES) and takes it (FLOODDONE):
 * the flood is over when FLOODDONE is in force. */
static void isupport_flood(struct test_fake *f)
{
	size_t cap = 16 << 20, n = 0;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < REPEATED + DISTINCT; i += PER_LINE) {
		n += (size_t)snprintf(buf + n, cap - n, ":irc.test.local 005 bot");
		for (int j = i; j < i + PER_LINE; j++)
			n += (size_t)(j < REPEATED ? snprintf(buf + n, cap - n, " MODES=%d", j % 7)
						   : snprintf(buf + n, cap - n, " T%d=%d", j, j));
		n += (size_t)snprintf(buf + n, cap - n, " :are supported by this server\r\n");
		ck_assert_uint_lt(n, cap - 512);
	}
	n += (size_t)snprintf(buf + n, cap - n, ":irc.test.local 005 bot -MODES FLOODDONE=1 :are supported\r\n");
	ck_assert_int_eq(test_fake_send_raw(f, buf, n), 0);
	free(buf);
}

/* A server flooding ISUPPORT: bounded memory, the loop never stalls, the
 * tokens in force capped, and the bot still answers. */
START_TEST(isupport_flood_bounded)
{
	struct env e;
	uint64_t start = test_now_ms(), last_answer = start, worst_gap = 0;
	long hwm;
	int n;

	env_start(&e, isupport_flood);
	/* Ask every 20 ms until the flood is applied: each answer must come. */
	for (;;) {
		cJSON *j = NULL;
		uint64_t now;

		n = isupport_tokens(&e, &j);
		now = test_now_ms();
		ck_assert_msg(n >= 0, "irc.getIsupport failed during the flood");
		if (now - last_answer > worst_gap)
			worst_gap = now - last_answer;
		last_answer = now;
		bool done = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "value"), "FLOODDONE") != NULL;
		cJSON_Delete(j);
		ck_assert_msg(now - start < (uint64_t)test_scaled_ms(60000), "the flood was not applied in 60 s");
		if (done)
			break;
		usleep(20000);
	}
	hwm = proc_status_kib(e.host.pid, "VmHWM");
	fprintf(stderr, "isupport_flood: %d tokens sent in %d-token lines, applied in %llu ms; "
		"bothost VmHWM %ld KiB (bound %d KiB); longest wait for an answer %llu ms\n",
		REPEATED + DISTINCT, PER_LINE, (unsigned long long)(test_now_ms() - start), hwm,
		FLOOD_RSS_MAX_KIB, (unsigned long long)worst_gap);
	ck_assert_int_eq(n, 256);
	ck_assert_int_gt(hwm, 0);
	if (test_memory_measured())
		ck_assert_msg(hwm < FLOOD_RSS_MAX_KIB, "bothost peaked at %ld KiB", hwm);
	ck_assert_msg(worst_gap < (uint64_t)test_scaled_ms(2000), "the loop stalled for %llu ms",
		      (unsigned long long)worst_gap);
	env_stop(&e);
}
END_TEST

static Suite *flood_suite(void)
{
	Suite *s = suite_create("flood");
	TCase *t = tcase_create("irc-server");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, isupport_flood_bounded);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(flood_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
