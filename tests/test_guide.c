/* SPDX-License-Identifier: ISC */
/* The quick tour of docs/BEHAVIOURS.md, as a newcomer would use it: every
 * code block marked `<!-- example: NAME -->` is taken from the page,
 * written to NAME, built with the compiler configure found (C) or made
 * executable (shell), and run as a behaviour of a private bothost on a
 * private ngircd, where a scripted user types each command and checks the
 * answer; the store's note survives a restart of bothost. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "botkit.h"
#include "harness.h"
#include "ircd.h"
#include "tests/paths.h"

#define GUIDE TOP_SRCDIR "/docs/BEHAVIOURS.md"
#define MARK "<!-- example: "
#define WAIT_MS 5000

/* The examples the tour must hold, and the section running each. */
static const char *const examples[][2] = {
	{ "tour_hi.c", "[command hi]" },      { "tour_echo.c", "[resident echo]" },
	{ "tour_later.c", "[resident later]" }, { "tour_note.c", "[command note]" },
	{ "tour_roll.sh", "[command roll]" },
};
#define N_EXAMPLES (sizeof examples / sizeof examples[0])

struct env {
	char dir[64];
	char conf[128];
	struct test_ircd ircd;
	struct test_host host;
	struct test_irc_user alice;
};

/* Write the block after line `mark` (a fence, its lines, a fence) to
 * dir/NAME; the number of examples written so far, plus one. */
static int extract_one(FILE *in, const char *mark, const char *dir)
{
	char name[64], path[256], line[4096];
	FILE *out;
	size_t n = strcspn(mark + strlen(MARK), " ");

	ck_assert_msg(n > 0 && n < sizeof name, "bad example mark: %s", mark);
	memcpy(name, mark + strlen(MARK), n);
	name[n] = '\0';
	ck_assert_msg(fgets(line, sizeof line, in) && strncmp(line, "```", 3) == 0,
		      "example %s: no code block right after its mark", name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_ptr_nonnull(out = fopen(path, "w"));
	while (fgets(line, sizeof line, in) && strncmp(line, "```", 3) != 0) {
		ck_assert_msg(!strstr(line, "..."), "example %s is not complete: %s", name, line);
		fputs(line, out);
	}
	ck_assert_int_eq(fclose(out), 0);
	return 1;
}

/* Take every marked example out of the guide into dir; how many. */
static int extract(const char *dir)
{
	FILE *in = fopen(GUIDE, "r");
	char line[4096];
	int n = 0;

	ck_assert_msg(in != NULL, "cannot read %s", GUIDE);
	while (fgets(line, sizeof line, in))
		if (strncmp(line, MARK, strlen(MARK)) == 0)
			n += extract_one(in, line, dir);
	fclose(in);
	return n;
}

/* Build dir/NAME.c into dir/NAME against the build tree's libbotkit with
 * the project's warnings as errors, or make dir/NAME.sh executable. */
static void build(const char *dir, const char *name)
{
	char cmd[4096], path[256];
	size_t n = strlen(name);

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (n > 3 && strcmp(name + n - 3, ".sh") == 0) {
		ck_assert_int_eq(chmod(path, 0755), 0);
		return;
	}
	snprintf(cmd, sizeof cmd, "%s %s -I'%s/botkit' -o '%s/%.*s' '%s' -L'%s/botkit/.libs' "
		 "-Wl,-rpath,'%s/botkit/.libs' -lbotkit %s", GUIDE_CC, GUIDE_CFLAGS, TOP_SRCDIR, dir,
		 (int)(n - 2), name, path, TOP_BUILDDIR, TOP_BUILDDIR, GUIDE_LIBS);
	ck_assert_msg(system(cmd) == 0, "the example %s does not build: %s", name, cmd);
}

/* Start bothost on the configuration (the examples' sections). */
static void env_host_start(struct env *e)
{
	const char *args[] = { "--config", e->conf, NULL };

	ck_assert_int_eq(test_host_start(&e->host, args), 0);
}

/* Write the configuration: the bot in #test and a section per example. */
static void env_conf(struct env *e)
{
	FILE *f = fopen(e->conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\nnick = bot\nchannel = #test\nburst = 100\n"
		   "line_interval = 10ms\nreconnect_min = 300ms\n[bothost]\nstate_dir = %s\n"
		   "user_commands = 50/1m\n", e->ircd.port, e->dir);
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		const char *name = examples[i][0];
		size_t n = strlen(name) - (strcmp(name + strlen(name) - 2, ".c") == 0 ? 2 : 0);
		fprintf(f, "%s\nexec = %s/%.*s\n", examples[i][1], e->dir, (int)n, name);
	}
	fclose(f);
}

/* Remove one entry of the directory being removed. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

/* alice's lines until one matches re (deadline WAIT_MS). */
static void expect(struct test_irc_user *u, const char *re)
{
	int r = test_irc_user_expect(u, re, WAIT_MS, NULL);

	if (r < 0)
		test_irc_user_dump(u, stderr);
	ck_assert_msg(r == 0, "%s never saw /%s/: %s", u->nick, re, strerror(-r));
}

/* alice says text in #test and the bot answers re. */
static void ask(struct env *e, const char *text, const char *re)
{
	ck_assert_int_eq(test_irc_user_privmsg(&e->alice, "#test", text), 0);
	expect(&e->alice, re);
}

/* Wait until the residents echo and later have made their claims. */
static void wait_residents(struct env *e)
{
	long n = test_host_stat_wait(&e->host, "handlers", 2, WAIT_MS);

	ck_assert_msg(n == 2, "the residents hold %ld registrations, not 2", n);
}

START_TEST(tour_examples_build_and_answer)
{
	struct env e;

	memset(&e, 0, sizeof e);
	snprintf(e.dir, sizeof e.dir, "/tmp/test_guide.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e.dir));
	snprintf(e.conf, sizeof e.conf, "%s/bothost.conf", e.dir);
	ck_assert_int_eq(extract(e.dir), (int)N_EXAMPLES);
	for (size_t i = 0; i < N_EXAMPLES; i++)
		build(e.dir, examples[i][0]);

	ck_assert_int_eq(test_ircd_start(&e.ircd, NULL), 0);
	env_conf(&e);
	/* alice is in the channel first, so that she sees the bot join it. */
	ck_assert_int_eq(test_irc_user_connect(&e.alice, e.ircd.port, "alice"), 0);
	ck_assert_int_eq(test_irc_user_join(&e.alice, "#test"), 0);
	env_host_start(&e);
	expect(&e.alice, "^:bot![^ ]+ JOIN :?#test");
	wait_residents(&e);

	ask(&e, "!hi", "^:bot![^ ]+ PRIVMSG #test :hi, alice$");
	ask(&e, "!echo two  words", "^:bot![^ ]+ PRIVMSG #test :alice said: two  words$");
	ask(&e, "!later soon tea", "^:bot![^ ]+ PRIVMSG #test :usage: !later SECONDS TEXT$");
	ask(&e, "!later 1 tea time", "^:bot![^ ]+ PRIVMSG #test :alice: in 1 s$");
	ask(&e, "!note", "^:bot![^ ]+ PRIVMSG #test :alice: no note$");
	ask(&e, "!note buy milk", "^:bot![^ ]+ PRIVMSG #test :alice: noted$");
	ask(&e, "!roll", "^:bot![^ ]+ PRIVMSG #test :alice rolled [1-6]$");
	expect(&e.alice, "^:bot![^ ]+ PRIVMSG #test :alice: tea time$");

	/* bothost stops and starts again: the note is in the store. */
	test_host_stop(&e.host);
	env_host_start(&e);
	wait_residents(&e);
	expect(&e.alice, "^:bot![^ ]+ JOIN :?#test");
	ask(&e, "!note", "^:bot![^ ]+ PRIVMSG #test :alice: buy milk$");

	test_irc_user_close(&e.alice);
	test_host_stop(&e.host);
	test_ircd_stop(&e.ircd);
	nftw(e.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* Lines of code of a C file: neither blank nor only comment. */
static int code_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	bool in_comment = false;
	int ch, n = 0;
	bool code = false;

	ck_assert_ptr_nonnull(f);
	for (int prev = 0; (ch = fgetc(f)) != EOF; prev = ch) {
		if (in_comment && prev == '*' && ch == '/') {
			in_comment = false;
			ch = 0;	/* "*" "/" "*" is no new comment */
		} else if (!in_comment && prev == '/' && ch == '*') {
			in_comment = true;
			ch = 0;
		} else if (ch == '\n') {
			n += code;
			code = false;
		} else if (!in_comment && ch != ' ' && ch != '\t' && ch != '/') {
			code = true;
		}
	}
	fclose(f);
	return n;
}

/* The README's promise: karma is a whole resident in at most 40 lines. */
START_TEST(karma_is_at_most_40_lines)
{
	int n = code_lines(TOP_SRCDIR "/scripts/karma.c");

	ck_assert_msg(n <= 40, "scripts/karma.c has %d lines of code", n);
	ck_assert_int_ge(n, 20);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guide");
	TCase *t = tcase_create("tour");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, tour_examples_build_and_answer);
	tcase_add_test(t, karma_is_at_most_40_lines);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
