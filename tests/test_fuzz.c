/* SPDX-License-Identifier: ISC */
/* The fuzz targets of tests/fuzz/ in the normal suite: each replays its seed
 * corpus and every input that once made it fail (tests/fuzz/regress/NAME/),
 * with all of its property checks, under whatever sanitizers the build has.
 * Then the bugs fuzzing found, one named test each, and the splitting of the
 * server's byte stream into lines (bothost/irc/irc_input.c), which was taken out
 * of the link so that it could be fuzzed. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frame.h"
#include "fuzz/fuzz.h"
#include "irc/irc_input.h"
#include "irc/irc_line.h"
#include "irc/irc_kind.h"
#include "wire/wire.h"
#include "tests/paths.h"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

/* The whole file at path, in a buffer of exactly its size (NULL for 0 bytes). */
static uint8_t *replay_read(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long n;

	ck_assert_msg(f, "cannot open %s", path);
	ck_assert(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0);
	if (n > 0) {
		data = malloc((size_t)n);
		ck_assert_ptr_nonnull(data);
		ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	}
	fclose(f);
	*ret_size = (size_t)n;
	return data;
}

/* Run fn on every file of dir; the number of files, or -1 when dir is absent. */
static long replay_dir(const char *dir, fuzz_fn fn)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;
	char path[4096];

	if (!d) {
		ck_assert_msg(errno == ENOENT, "cannot read %s", dir);
		return -1;
	}
	while ((e = readdir(d))) {
		size_t size;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		uint8_t *data = replay_read(path, &size);
		fprintf(stderr, "replay %s (%zu bytes)\n", path, size);
		ck_assert_int_eq(fn(data, size), 0);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

/* Replay the corpus (which must not be empty) and the regressions of a target. */
static void replay(const char *name, fuzz_fn fn)
{
	char dir[4096];

	snprintf(dir, sizeof dir, "%s/corpus/%s", FUZZ_DIR, name);
	ck_assert_int_gt(replay_dir(dir, fn), 0);
	snprintf(dir, sizeof dir, "%s/regress/%s", FUZZ_DIR, name);
	replay_dir(dir, fn);
	/* The empty input and a lone byte reach every early return. */
	ck_assert_int_eq(fn(NULL, 0), 0);
	ck_assert_int_eq(fn((const uint8_t *)"\n", 1), 0);
}

START_TEST(replay_frame)
{
	replay("frame", fuzz_frame);
}
END_TEST

START_TEST(replay_msg)
{
	replay("msg", fuzz_msg);
}
END_TEST

START_TEST(replay_irc_line)
{
	replay("irc_line", fuzz_irc_line);
}
END_TEST

START_TEST(replay_irc_text)
{
	replay("irc_text", fuzz_irc_text);
}
END_TEST

START_TEST(replay_conf)
{
	replay("conf", fuzz_conf);
}
END_TEST

START_TEST(replay_http_value)
{
	replay("http_value", fuzz_http_value);
}
END_TEST

START_TEST(replay_fds)
{
	replay("fds", fuzz_fds);
}
END_TEST

/* ---- bugs found by fuzzing ------------------------------------------------- */

/* frame_reader_next on a reader that never got a byte computed a pointer
 * into its buffer before there was one (NULL + 0, undefined behaviour). */
START_TEST(frame_reader_next_before_any_byte)
{
	struct frame_reader r;
	char *frame;
	size_t len;

	frame_reader_init(&r, 16);
	ck_assert_int_eq(frame_reader_next(&r, &frame, &len), 0);
	ck_assert_uint_eq(frame_reader_pending(&r), 0);
	ck_assert_int_eq(frame_reader_feed(&r, "{}\n", 3), 0);
	ck_assert_int_eq(frame_reader_next(&r, &frame, &len), 1);
	ck_assert_str_eq(frame, "{}");
	ck_assert_int_eq(frame_reader_next(&r, &frame, &len), 0);
	frame_reader_free(&r);
}
END_TEST

/* irc_line_build checked the length only when adding parameters: a long
 * verb alone made a line over 510 bytes. */
START_TEST(irc_line_build_long_verb_alone)
{
	char verb[IRC_LINE_MAX + 2], *line = NULL;
	size_t len = 0;

	memset(verb, 'A', sizeof verb - 1);
	verb[sizeof verb - 1] = '\0';
	ck_assert_int_eq(irc_line_build(verb, NULL, 0, 0, &line, &len), -EMSGSIZE);
	ck_assert_ptr_null(line);
	verb[IRC_LINE_MAX] = '\0';
	ck_assert_int_eq(irc_line_build(verb, NULL, 0, 0, &line, &len), 0);
	ck_assert_uint_eq(len, IRC_LINE_MAX);
	free(line);
}
END_TEST

/* The version of a hello, parsed both ways. */
static long version_of(const char *text)
{
	char frame[128];
	struct wire_msg m, m2;
	const char *why = NULL;
	cJSON *root = NULL, *tree = wire_parse(text, strlen(text), true);

	snprintf(frame, sizeof frame, "%s", text);
	ck_assert_int_eq(wire_msg_parse_frame(frame, strlen(frame), true, &m, &root, &why), 0);
	ck_assert_ptr_nonnull(tree);
	ck_assert_int_eq(wire_msg_parse(tree, &m2, &why), 0);
	ck_assert_int_eq(m.version, m2.version);
	cJSON_Delete(root);
	cJSON_Delete(tree);
	return m.version;
}

/* A version out of the range of a long was cast to one (undefined
 * behaviour; on x86 1e50 became LONG_MIN): it is clamped, and still a
 * mismatch. */
START_TEST(wire_hello_version_out_of_range)
{
	ck_assert_int_eq(version_of("{\"t\":\"hello\",\"version\":77777777777777777777777777777777777777777777777771}"),
			 LONG_MAX);
	ck_assert_int_eq(version_of("{\"t\":\"hello\",\"version\":1e300}"), LONG_MAX);
	ck_assert_int_eq(version_of("{\"t\":\"welcome\",\"version\":-1e300}"), LONG_MIN);
	ck_assert_int_eq(version_of("{\"t\":\"hello\",\"version\":1}"), 1);
	ck_assert_int_eq(version_of("{\"t\":\"hello\",\"version\":-2}"), -2);
}
END_TEST

/* The kind of a line, or -1 when it does not parse. */
static int kind_of(const char *line)
{
	struct irc_line *l = NULL;
	int k;

	if (irc_line_parse(line, &l) < 0)
		return -1;
	k = (int)irc_kind_of(l);
	irc_line_free(l);
	return k;
}

/* A command without parameters at the end of its line made libircclient
 * (which bothost fed every line until the kinds replaced it) read past the
 * line and take the command for the first of its own names it begins: "N"
 * without a source was NICK and crashed it, "NO" was NOTICE. The kinds go
 * by the whole command. */
START_TEST(kind_command_without_parameters)
{
	ck_assert_int_eq(kind_of(":a!b@c PRIVMSG #chan :hello there everyone"), IRC_KIND_MESSAGE);
	ck_assert_int_eq(kind_of(":a!b@c QUIT"), IRC_KIND_QUIT);
	ck_assert_int_eq(kind_of(":a!b@c PART #chan"), IRC_KIND_PART);
	ck_assert_int_eq(kind_of("N"), IRC_KIND_NONE);
	ck_assert_int_eq(kind_of(":a N"), IRC_KIND_NONE);
	ck_assert_int_eq(kind_of(":a NO"), IRC_KIND_NONE);
	ck_assert_int_eq(kind_of(":a NOTIC "), IRC_KIND_NONE);
	ck_assert_int_eq(kind_of("NICK x"), IRC_KIND_NONE);
	ck_assert_int_eq(kind_of(":a!b@c JOIN #chan"), IRC_KIND_JOIN);
}
END_TEST

/* ---- irc_input: the server's byte stream cut into lines -------------------- */

/* Put text into the input as one read. */
static void input_put(struct irc_input *in, const char *text, size_t n)
{
	size_t room;
	char *p = irc_input_space(in, &room);

	ck_assert_uint_ge(room, n);
	memcpy(p, text, n);
	irc_input_commit(in, n);
}

START_TEST(input_lines_cr_nul_empty)
{
	static const char stream[] = "PING :a\r\n\r\n\nPRIV\0MSG #c :x\ny\r\r\nhalf";
	struct irc_input in;
	char *line;
	size_t len;

	ck_assert_int_eq(irc_input_init(&in), 0);
	input_put(&in, stream, sizeof stream - 1);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 1);
	ck_assert_str_eq(line, "PING :a");
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 1);
	ck_assert_str_eq(line, "PRIVMSG #c :x");
	ck_assert_uint_eq(len, 13);
	/* Only the CR right before the LF goes. */
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 1);
	ck_assert_str_eq(line, "y\r");
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 0);
	input_put(&in, "way\n", 4);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 1);
	ck_assert_str_eq(line, "halfway");
	irc_input_free(&in);
}
END_TEST

START_TEST(input_commit_reports_line_feeds)
{
	struct irc_input in;

	ck_assert_int_eq(irc_input_init(&in), 0);
	size_t room;
	char *p = irc_input_space(&in, &room);
	memcpy(p, "abc", 3);
	ck_assert(!irc_input_commit(&in, 3));
	p = irc_input_space(&in, &room);
	memcpy(p, "\0\n", 2);
	ck_assert(irc_input_commit(&in, 2));
	irc_input_free(&in);
}
END_TEST

START_TEST(input_too_long_whole_and_partial)
{
	struct irc_input in;
	char *big = malloc(IRC_INPUT_LINE_MAX + 16), *line;
	size_t len, fill = IRC_INPUT_LINE_MAX + 1;

	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(irc_input_init(&in), 0);
	/* The longest line kept, with its CR LF. */
	memset(big, 'a', IRC_INPUT_LINE_MAX);
	memcpy(big + IRC_INPUT_LINE_MAX, "\r\n", 2);
	input_put(&in, big, IRC_INPUT_LINE_MAX + 2);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 1);
	ck_assert_uint_eq(len, IRC_INPUT_LINE_MAX);
	/* One byte more, arriving whole: dropped, and its length told. */
	big[IRC_INPUT_LINE_MAX] = 'a';
	memcpy(big + IRC_INPUT_LINE_MAX + 1, "\r\nPING :x\r\n", 11);
	input_put(&in, big, IRC_INPUT_LINE_MAX + 12);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), -EMSGSIZE);
	ck_assert_uint_eq(len, IRC_INPUT_LINE_MAX + 1);
	ck_assert(!in.discarding);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 1);
	ck_assert_str_eq(line, "PING :x");
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 0);
	/* A line too long without its end yet: dropped as it arrives, until its LF. */
	memset(big, 'b', fill + 1);
	input_put(&in, big, fill + 1);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), -EMSGSIZE);
	ck_assert_uint_eq(len, fill + 1);
	ck_assert(in.discarding);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 0);
	size_t room;
	irc_input_space(&in, &room);
	ck_assert_uint_eq(room, IRC_INPUT_CAP);
	input_put(&in, "more bytes of it\r\nPONG :y\r\n", 27);
	ck_assert_int_eq(irc_input_next(&in, &line, &len), 1);
	ck_assert_str_eq(line, "PONG :y");
	ck_assert(!in.discarding);
	irc_input_free(&in);
	free(big);
}
END_TEST

START_TEST(input_cut_at_utf8_boundary)
{
	char line[IRC_LINE_MAX + 16];

	/* 509 ASCII bytes, then a 3-byte sequence across the 510th byte. */
	memset(line, 'x', 509);
	memcpy(line + 509, "\xe2\x98\x83tail", 8);
	irc_input_cut(line);
	ck_assert_uint_eq(strlen(line), 509);
	/* Exactly 510 bytes stay as they are. */
	memset(line, 'y', IRC_LINE_MAX);
	line[IRC_LINE_MAX] = '\0';
	irc_input_cut(line);
	ck_assert_uint_eq(strlen(line), IRC_LINE_MAX);
	/* Continuation bytes without a start are cut at 510. */
	memset(line, '\x80', IRC_LINE_MAX + 4);
	line[IRC_LINE_MAX + 4] = '\0';
	irc_input_cut(line);
	ck_assert_uint_eq(strlen(line), IRC_LINE_MAX);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fuzz");
	TCase *t = tcase_create("replay");

	tcase_add_test(t, replay_frame);
	tcase_add_test(t, replay_msg);
	tcase_add_test(t, replay_irc_line);
	tcase_add_test(t, replay_irc_text);
	tcase_add_test(t, replay_conf);
	tcase_add_test(t, replay_http_value);
	tcase_add_test(t, replay_fds);
	suite_add_tcase(s, t);

	t = tcase_create("regressions");
	tcase_add_test(t, frame_reader_next_before_any_byte);
	tcase_add_test(t, irc_line_build_long_verb_alone);
	tcase_add_test(t, wire_hello_version_out_of_range);
	tcase_add_test(t, kind_command_without_parameters);
	suite_add_tcase(s, t);

	t = tcase_create("irc_input");
	tcase_add_test(t, input_lines_cr_nul_empty);
	tcase_add_test(t, input_commit_reports_line_feeds);
	tcase_add_test(t, input_too_long_whole_and_partial);
	tcase_add_test(t, input_cut_at_utf8_boundary);
	suite_add_tcase(s, t);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
