/* SPDX-License-Identifier: ISC */
/* Unit tests of the pure modules shared by bothost and libbotkit: framing,
 * the hash map, and wire encoding/decoding of values and messages. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/buf.h"
#include "wire/frame.h"
#include "wire/map.h"
#include "wire/wire.h"

/* ---- framing ----------------------------------------------------------- */

START_TEST(frame_split_byte_by_byte)
{
	struct frame_reader r;
	const char *in = "{\"t\":\"hello\"}\n{\"a\":1}\n";
	char *f;
	size_t n;
	int got = 0;

	frame_reader_init(&r, 1024);
	for (const char *p = in; *p; p++) {
		ck_assert_int_eq(frame_reader_feed(&r, p, 1), 0);
		int k;
		while ((k = frame_reader_next(&r, &f, &n)) == 1) {
			if (got == 0)
				ck_assert_str_eq(f, "{\"t\":\"hello\"}");
			else
				ck_assert_str_eq(f, "{\"a\":1}");
			ck_assert_uint_eq(n, strlen(f));
			got++;
		}
		ck_assert_int_eq(k, 0);
	}
	ck_assert_int_eq(got, 2);
	ck_assert_uint_eq(frame_reader_pending(&r), 0);
	frame_reader_free(&r);
}
END_TEST

START_TEST(frame_many_in_one_chunk_crlf_and_empty_lines)
{
	struct frame_reader r;
	const char *in = "a\r\n\n\r\nbb\ncc";
	char *f;
	size_t n;

	frame_reader_init(&r, 16);
	ck_assert_int_eq(frame_reader_feed(&r, in, strlen(in)), 0);
	ck_assert_int_eq(frame_reader_next(&r, &f, &n), 1);
	ck_assert_str_eq(f, "a");
	ck_assert_int_eq(frame_reader_next(&r, &f, &n), 1);
	ck_assert_str_eq(f, "bb");
	ck_assert_int_eq(frame_reader_next(&r, &f, &n), 0);
	ck_assert_uint_eq(frame_reader_pending(&r), 2);
	ck_assert_int_eq(frame_reader_feed(&r, "\n", 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &f, &n), 1);
	ck_assert_str_eq(f, "cc");
	frame_reader_free(&r);
}
END_TEST

START_TEST(frame_oversized_with_and_without_newline)
{
	struct frame_reader r;
	char big[40];
	char *f;
	size_t n;

	memset(big, 'x', sizeof big);
	/* Exactly max bytes is fine, CRLF included. */
	frame_reader_init(&r, 8);
	ck_assert_int_eq(frame_reader_feed(&r, big, 8), 0);
	ck_assert_int_eq(frame_reader_feed(&r, "\r\n", 2), 0);
	ck_assert_int_eq(frame_reader_next(&r, &f, &n), 1);
	ck_assert_uint_eq(n, 8);
	frame_reader_free(&r);

	/* One more byte, terminated: refused. */
	frame_reader_init(&r, 8);
	ck_assert_int_eq(frame_reader_feed(&r, big, 9), 0);
	ck_assert_int_eq(frame_reader_feed(&r, "\n", 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &f, &n), -EMSGSIZE);
	frame_reader_free(&r);

	/* Unterminated and already too long: refused without waiting for the end. */
	frame_reader_init(&r, 8);
	ck_assert_int_eq(frame_reader_feed(&r, big, sizeof big), 0);
	ck_assert_int_eq(frame_reader_next(&r, &f, &n), -EMSGSIZE);
	frame_reader_free(&r);
}
END_TEST

START_TEST(frame_space_commit)
{
	struct frame_reader r;
	size_t avail;
	char *f;
	size_t n;

	frame_reader_init(&r, 1 << 20);
	for (int i = 0; i < 1000; i++) {
		char *p = frame_reader_space(&r, 64, &avail);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_ge(avail, 64);
		int len = snprintf(p, avail, "{\"n\":%d}\n", i);
		frame_reader_commit(&r, (size_t)len);
		ck_assert_int_eq(frame_reader_next(&r, &f, &n), 1);
		cJSON *j = cJSON_Parse(f);
		ck_assert_int_eq(cJSON_GetObjectItem(j, "n")->valueint, i);
		cJSON_Delete(j);
	}
	frame_reader_free(&r);
}
END_TEST

/* ---- map ---------------------------------------------------------------- */

START_TEST(map_put_get_remove_grow)
{
	struct map m = MAP_INIT;
	static int vals[5000];

	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq(map_put(&m, (uint64_t)i, (uint64_t)i * 7, &vals[i]), 0);
	ck_assert_uint_eq(map_count(&m), 5000);
	for (int i = 0; i < 5000; i++) {
		ck_assert_ptr_eq(map_get(&m, (uint64_t)i, (uint64_t)i * 7), &vals[i]);
		ck_assert_ptr_null(map_get(&m, (uint64_t)i, (uint64_t)i * 7 + 1));
	}
	for (int i = 0; i < 5000; i += 2)
		ck_assert_ptr_eq(map_remove(&m, (uint64_t)i, (uint64_t)i * 7), &vals[i]);
	ck_assert_ptr_null(map_remove(&m, 0, 0));
	ck_assert_uint_eq(map_count(&m), 2500);
	/* Reinsert over tombstones; replace keeps the count. */
	for (int i = 0; i < 5000; i += 2)
		ck_assert_int_eq(map_put(&m, (uint64_t)i, (uint64_t)i * 7, &vals[i]), 0);
	ck_assert_int_eq(map_put(&m, 1, 7, &vals[0]), 0);
	ck_assert_uint_eq(map_count(&m), 5000);
	ck_assert_ptr_eq(map_get(&m, 1, 7), &vals[0]);

	size_t iter = 0, seen = 0;
	void *v;
	while ((v = map_next(&m, &iter))) {
		seen++;
		/* Removing the entry just returned is allowed. */
		ck_assert_ptr_nonnull(v);
	}
	ck_assert_uint_eq(seen, 5000);
	map_free(&m);
}
END_TEST

START_TEST(map_churn_stays_bounded)
{
	struct map m = MAP_INIT;
	int x;

	/* Ever-growing ids with a small live set: tombstones must not fill the table. */
	for (uint64_t i = 1; i < 200000; i++) {
		ck_assert_int_eq(map_put(&m, i, 0, &x), 0);
		if (i > 8)
			ck_assert_ptr_eq(map_remove(&m, i - 8, 0), &x);
	}
	ck_assert_uint_eq(map_count(&m), 8);
	ck_assert_uint_le(m.cap, 1024);
	map_free(&m);
}
END_TEST

/* ---- wire values --------------------------------------------------------- */

/* Test side: a function node's raw string is "F<id>"; tokens decode to that. */
static int tok_cb(enum wire_token kind, uint64_t id, cJSON **ret, void *ud)
{
	char s[32];
	int *calls = ud;

	if (id == 999)
		return -EINVAL;
	snprintf(s, sizeof s, "%c%llu", kind == WIRE_TOKEN_FN ? 'F' : 'Y', (unsigned long long)id);
	*ret = cJSON_CreateRaw(s);
	(*calls)++;
	return 0;
}

static int fn_cb(struct buf *b, const cJSON *node, void *ud)
{
	const char *s = node->valuestring;
	return buf_printf(b, "{\"%s\":%s}", s[0] == 'F' ? "$yours" : "$fn", s + 1);
}

/* Encode v and return the text (caller frees). */
static char *encode(const cJSON *v)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(wire_encode(&b, v, fn_cb, NULL), 0);
	buf_putc(&b, '\0');
	return b.data;
}

START_TEST(wire_escape_round_trip)
{
	const char *cases[] = {
		"{\"$fn\":1}",
		"{\"$yours\":2}",
		"{\"$esc\":{}}",
		"{\"$x\":1,\"y\":2}",
		"[{\"$fn\":\"str\"},[{\"a\":{\"$esc\":{\"$esc\":3}}}]]",
		"{\"plain\":[1,2.5,-3e-7,true,false,null,\"s\\n\\u0001\\\"\"]}",
		"\"just a string\"",
		"12345678901234",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *orig = cJSON_Parse(cases[i]);
		ck_assert_ptr_nonnull(orig);
		char *text = encode(orig);
		cJSON *back = cJSON_Parse(text);
		ck_assert_ptr_nonnull(back);
		int calls = 0;
		ck_assert_int_eq(wire_decode(&back, tok_cb, &calls), 0);
		ck_assert_int_eq(calls, 0);
		ck_assert_msg(cJSON_Compare(orig, back, 1), "case %zu: %s -> %s", i, cases[i], text);
		free(text);
		cJSON_Delete(orig);
		cJSON_Delete(back);
	}
}
END_TEST

START_TEST(wire_escape_shape)
{
	cJSON *v = cJSON_Parse("{\"a\":{\"$fn\":1}}");
	char *text = encode(v);
	ck_assert_str_eq(text, "{\"a\":{\"$esc\":{\"$fn\":1}}}");
	free(text);
	cJSON_Delete(v);
}
END_TEST

START_TEST(wire_tokens_at_depth)
{
	cJSON *v = cJSON_Parse("{\"a\":[1,{\"b\":{\"$fn\":5}}],\"c\":{\"$yours\":6},"
			       "\"d\":{\"$esc\":{\"$k\":{\"$fn\":7}}}}");
	int calls = 0;

	ck_assert_int_eq(wire_decode(&v, tok_cb, &calls), 0);
	ck_assert_int_eq(calls, 3);
	cJSON *b = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "a"), 1), "b");
	ck_assert(cJSON_IsRaw(b));
	ck_assert_str_eq(b->valuestring, "F5");
	ck_assert_str_eq(b->string, "b");
	ck_assert_str_eq(cJSON_GetObjectItem(v, "c")->valuestring, "Y6");
	cJSON *k = cJSON_GetObjectItem(cJSON_GetObjectItem(v, "d"), "$k");
	ck_assert(cJSON_IsRaw(k));
	ck_assert(wire_has_functions(v));

	/* Encoding writes each function through the callback, and escapes $k. */
	char *text = encode(v);
	ck_assert_str_eq(text, "{\"a\":[1,{\"b\":{\"$yours\":5}}],\"c\":{\"$fn\":6},"
			       "\"d\":{\"$esc\":{\"$k\":{\"$yours\":7}}}}");
	free(text);
	cJSON_Delete(v);
}
END_TEST

START_TEST(wire_root_token)
{
	cJSON *v = cJSON_Parse("{\"$fn\":42}");
	int calls = 0;

	ck_assert_int_eq(wire_decode(&v, tok_cb, &calls), 0);
	ck_assert(cJSON_IsRaw(v));
	ck_assert_str_eq(v->valuestring, "F42");
	cJSON_Delete(v);
}
END_TEST

START_TEST(wire_malformed_tokens)
{
	const char *bad[] = {
		"{\"$fn\":0}", "{\"$fn\":-1}", "{\"$fn\":1.5}", "{\"$fn\":\"1\"}",
		"{\"$fn\":9007199254740992}", "{\"$fn\":1,\"x\":2}", "{\"$esc\":[1]}",
		"{\"$other\":1}", "[{\"a\":{\"$yours\":null}}]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *v = cJSON_Parse(bad[i]);
		int calls = 0;
		ck_assert_ptr_nonnull(v);
		ck_assert_msg(wire_decode(&v, tok_cb, &calls) == -EBADMSG, "accepted %s", bad[i]);
		cJSON_Delete(v);
	}
	/* The callback's own error comes through. */
	cJSON *v = cJSON_Parse("[{\"$fn\":999}]");
	int calls = 0;
	ck_assert_int_eq(wire_decode(&v, tok_cb, &calls), -EINVAL);
	cJSON_Delete(v);
}
END_TEST

START_TEST(wire_numbers_and_strings)
{
	cJSON *v = cJSON_CreateArray();
	cJSON_AddItemToArray(v, cJSON_CreateNumber(9007199254740991.0));
	cJSON_AddItemToArray(v, cJSON_CreateNumber(0.1));
	cJSON_AddItemToArray(v, cJSON_CreateNumber(1e300));
	cJSON_AddItemToArray(v, cJSON_CreateString("tab\there \xc3\xa9 \x7f"));
	char *text = encode(v);
	ck_assert_str_eq(text, "[9007199254740991,0.1,1e+300,\"tab\\there \xc3\xa9 \x7f\"]");
	cJSON *back = cJSON_Parse(text);
	ck_assert(cJSON_Compare(v, back, 1));
	free(text);
	cJSON_Delete(back);
	cJSON_Delete(v);

	/* A raw node without a callback is refused, and nothing is left written. */
	struct buf b = BUF_INIT;
	cJSON *raw = cJSON_CreateRaw("x");
	buf_puts(&b, "ab");
	ck_assert_int_eq(wire_encode(&b, raw, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(b.len, 2);
	buf_free(&b);
	cJSON_Delete(raw);
}
END_TEST

/* ---- wire messages -------------------------------------------------------- */

/* Parse text as a message; returns the wire_msg_parse result. */
static int parse(const char *text, struct wire_msg *m, cJSON **ret_root)
{
	const char *why = NULL;
	*ret_root = cJSON_Parse(text);
	ck_assert_ptr_nonnull(*ret_root);
	int r = wire_msg_parse(*ret_root, m, &why);
	if (r < 0)
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(wire_msg_shapes)
{
	struct wire_msg m;
	cJSON *root;

	ck_assert_int_eq(parse("{\"t\":\"call\",\"id\":3,\"obj\":\"o\",\"method\":\"m\",\"args\":[1]}", &m, &root), 0);
	ck_assert_int_eq(m.type, WIRE_CALL);
	ck_assert_uint_eq(m.id, 3);
	ck_assert_str_eq(m.obj, "o");
	ck_assert_str_eq(m.method, "m");
	ck_assert_int_eq(cJSON_GetArraySize(m.args), 1);
	cJSON_Delete(root);

	ck_assert_int_eq(parse("{\"t\":\"invoke\",\"fn\":4}", &m, &root), 0);
	ck_assert_int_eq(m.type, WIRE_INVOKE);
	ck_assert_uint_eq(m.id, 0);
	ck_assert_uint_eq(m.fn, 4);
	ck_assert_ptr_null(m.args);
	cJSON_Delete(root);

	ck_assert_int_eq(parse("{\"t\":\"release\",\"fn\":4,\"count\":2}", &m, &root), 0);
	ck_assert_uint_eq(m.count, 2);
	cJSON_Delete(root);

	ck_assert_int_eq(parse("{\"t\":\"error\",\"id\":1,\"error\":{\"name\":\"Timeout\"}}", &m, &root), 0);
	ck_assert_str_eq(m.error_name, "Timeout");
	ck_assert_str_eq(m.error_message, "");
	cJSON_Delete(root);

	ck_assert_int_eq(parse("{\"t\":\"result\",\"id\":9}", &m, &root), 0);
	ck_assert_ptr_null(m.value);
	cJSON_Delete(root);

	const char *bad[] = {
		"[1]", "{}", "{\"t\":5}", "{\"t\":\"nope\"}", "{\"t\":\"call\",\"id\":1,\"obj\":\"o\"}",
		"{\"t\":\"call\",\"obj\":\"o\",\"method\":\"m\"}",
		"{\"t\":\"call\",\"id\":1,\"obj\":\"o\",\"method\":\"m\",\"args\":{}}",
		"{\"t\":\"invoke\",\"fn\":0}", "{\"t\":\"release\",\"fn\":1}",
		"{\"t\":\"release\",\"fn\":1,\"count\":0}", "{\"t\":\"result\"}",
		"{\"t\":\"error\",\"id\":1,\"error\":\"x\"}", "{\"t\":\"hello\"}",
		"{\"t\":\"result\",\"id\":1.5}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(parse(bad[i], &m, &root) == -EBADMSG, "accepted %s", bad[i]);
		cJSON_Delete(root);
	}
}
END_TEST

START_TEST(wire_error_message)
{
	struct buf b = BUF_INIT;
	cJSON *data = cJSON_Parse("{\"version\":1}");

	ck_assert_int_eq(wire_write_error(&b, 7, "NoSuchMethod", "no \"x\"", NULL), 0);
	ck_assert_int_eq(wire_write_error(&b, 0, "VersionMismatch", "v", data), 0);
	buf_putc(&b, '\0');
	ck_assert_str_eq(b.data,
			 "{\"t\":\"error\",\"id\":7,\"error\":{\"name\":\"NoSuchMethod\",\"message\":\"no \\\"x\\\"\"}}\n"
			 "{\"t\":\"error\",\"error\":{\"name\":\"VersionMismatch\",\"message\":\"v\",\"data\":{\"version\":1}}}\n");
	buf_free(&b);
	cJSON_Delete(data);
}
END_TEST

/* ---- strict parsing -------------------------------------------------------- */

START_TEST(wire_parse_matches_cjson_on_valid_text)
{
	const char *ok[] = {
		"{}", "[]", " {\"a\" : [1, -2.5e3, true, false, null, \"x\\ty\\u00e9\\ud83d\\ude00\"]} ",
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "0", "-0.5", "1E+2", "{\"a\":{\"b\":{\"c\":[[]]}}}",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		cJSON *a = wire_parse(ok[i], strlen(ok[i]), true);
		cJSON *b = cJSON_Parse(ok[i]);
		ck_assert_msg(a != NULL, "refused %s", ok[i]);
		ck_assert_msg(cJSON_Compare(a, b, 1), "differs from cJSON: %s", ok[i]);
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
}
END_TEST

START_TEST(wire_parse_is_strict)
{
	const char *bad[] = {
		"01", "1.", ".5", "+1", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "\"tab\there\"",
		"\"\\x\"", "\"\\u12\"", "\"\\udc00\"", "\"\\ud800\"", "\"nul\\u0000cut\"",
		"{\"a\":\"\\u0000\"}", "{} x", "[1] [2]", "nul", "\"\xff\"", "\"\xc3\"", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *v = wire_parse(bad[i], strlen(bad[i]), true);
		ck_assert_msg(v == NULL, "accepted %s", bad[i]);
	}
}
END_TEST

/* A key given twice is refused at every depth, in small objects and in large
 * ones (checked through a hash), and in a message's own members. */
START_TEST(wire_parse_refuses_repeated_keys)
{
	const char *bad[] = {
		"{\"a\":1,\"a\":2}", "[{\"x\":{\"b\":1,\"c\":2,\"b\":3}}]", "{\"\":1,\"\":1}",
		"{\"a\":1,\"\\u0061\":2}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *v = wire_parse(bad[i], strlen(bad[i]), true);
		ck_assert_msg(v == NULL, "accepted %s", bad[i]);
	}

	/* 200 distinct keys are fine; the same with one repeated at the end is not. */
	char big[4096];
	size_t n = 0;
	n += (size_t)snprintf(big + n, sizeof big - n, "{");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", i ? "," : "", i, i);
	n += (size_t)snprintf(big + n, sizeof big - n, "}");
	cJSON *v = wire_parse(big, n, true);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(cJSON_GetArraySize(v), 200);
	cJSON_Delete(v);
	snprintf(big + n - 1, sizeof big - (n - 1), ",\"k117\":0}");
	ck_assert_ptr_null(wire_parse(big, strlen(big), true));

	const char *msgs[] = {
		"{\"t\":\"call\",\"t\":\"result\",\"id\":1,\"obj\":\"o\",\"method\":\"m\"}",
		"{\"t\":\"call\",\"id\":1,\"id\":2,\"obj\":\"o\",\"method\":\"m\"}",
		"{\"t\":\"call\",\"id\":1,\"obj\":\"o\",\"method\":\"m\",\"args\":[1],\"args\":[2]}",
		"{\"t\":\"call\",\"id\":1,\"obj\":\"o\",\"method\":\"m\",\"x\":1,\"x\":2}",
		"{\"t\":\"call\",\"id\":1,\"obj\":{},\"obj\":\"o\",\"method\":\"m\"}",
	};
	for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
		char frame[256];
		struct wire_msg m;
		cJSON *root = NULL;
		const char *why = NULL;

		snprintf(frame, sizeof frame, "%s", msgs[i]);
		ck_assert_msg(wire_msg_parse_frame(frame, strlen(frame), true, &m, &root, &why) == -EBADMSG,
			      "accepted %s", msgs[i]);
		ck_assert_ptr_null(root);
		ck_assert_ptr_nonnull(strstr(why, "same key twice"));
		/* the lazy reader, which only checks "args", refuses it too */
		snprintf(frame, sizeof frame, "%s", msgs[i]);
		const char *at = NULL;
		size_t len = 0;
		ck_assert_msg(wire_msg_parse_frame_lazy(frame, strlen(frame), true, "args", &m, &root, &why, &at,
							&len) == -EBADMSG, "lazily accepted %s", msgs[i]);
	}
}
END_TEST

START_TEST(wire_msg_parse_frame_reads_fields_in_place)
{
	char frame[] = "{\"t\":\"call\",\"id\":7,\"obj\":\"lo\\u006fp\",\"method\":\"echo\",\"args\":[{\"$fn\":2}],\"extra\":1}";
	struct wire_msg m;
	cJSON *root = NULL;
	const char *why = NULL;

	ck_assert_int_eq(wire_msg_parse_frame(frame, strlen(frame), true, &m, &root, &why), 0);
	ck_assert_int_eq(m.type, WIRE_CALL);
	ck_assert_uint_eq(m.id, 7);
	ck_assert_str_eq(m.obj, "loop");
	ck_assert_str_eq(m.method, "echo");
	ck_assert_int_eq(cJSON_GetArraySize(m.args), 1);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(root, "extra"));
	cJSON_Delete(root);

	char nul[] = "{\"t\":\"call\",\"id\":1,\"obj\":\"o\\u0000x\",\"method\":\"m\"}";
	root = NULL;
	ck_assert_int_eq(wire_msg_parse_frame(nul, strlen(nul), true, &m, &root, &why), -EBADMSG);
	ck_assert_ptr_null(root);
	ck_assert_str_eq(why, "strings may not contain \\u0000");
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *t = tcase_create("frame");
	tcase_add_test(t, frame_split_byte_by_byte);
	tcase_add_test(t, frame_many_in_one_chunk_crlf_and_empty_lines);
	tcase_add_test(t, frame_oversized_with_and_without_newline);
	tcase_add_test(t, frame_space_commit);
	suite_add_tcase(s, t);
	t = tcase_create("map");
	tcase_add_test(t, map_put_get_remove_grow);
	tcase_add_test(t, map_churn_stays_bounded);
	suite_add_tcase(s, t);
	t = tcase_create("values");
	tcase_add_test(t, wire_escape_round_trip);
	tcase_add_test(t, wire_escape_shape);
	tcase_add_test(t, wire_tokens_at_depth);
	tcase_add_test(t, wire_root_token);
	tcase_add_test(t, wire_malformed_tokens);
	tcase_add_test(t, wire_numbers_and_strings);
	suite_add_tcase(s, t);
	t = tcase_create("parse");
	tcase_add_test(t, wire_parse_matches_cjson_on_valid_text);
	tcase_add_test(t, wire_parse_is_strict);
	tcase_add_test(t, wire_parse_refuses_repeated_keys);
	tcase_add_test(t, wire_msg_parse_frame_reads_fields_in_place);
	suite_add_tcase(s, t);
	t = tcase_create("messages");
	tcase_add_test(t, wire_msg_shapes);
	tcase_add_test(t, wire_error_message);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
