/* SPDX-License-Identifier: ISC */
/* Fuzzing the messages of the proxy protocol (botkit/wire/wire.c): a session of
 * frames as a client would send them to the host.
 *
 * Input: the byte stream of a session. Each frame is parsed the way the
 * host does (wire_msg_parse_frame) and the slow way (wire_parse, then
 * wire_msg_parse), with and without the UTF-8 check, and both must agree on
 * whether the message is valid and on every field. The values of a valid
 * message (the arguments of a call or an invoke, the value of a result, the
 * data of an error) are then decoded against token tables shaped like the
 * host's (imports with receipt counts, exports with send counts, a
 * tokens_max) and must:
 * - hold one function node per receipt counted, even when decoding fails;
 * - survive wire_encode and decoding again unchanged, escapes included,
 *   with as many receipts on the far side as {"$fn"} written;
 * - come back from the host as a result that parses, its $yours and $fn
 *   swapped and the sends counted.
 * Releases are checked against the export counts as tokens_release does;
 * at the end, releasing every import returns exactly the receipts counted. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "wire/frame.h"
#include "wire/map.h"
#include "wire/wire.h"

/* Functions the host holds for a client, or sent to it; small to reach the limit. */
#define MSG_TOKENS_MAX 32
/* Exports the session starts with, as if earlier results had carried them. */
#define MSG_EXPORTS_START 4

struct msg_count {
	uint64_t n;
};

/* The token tables of one side of a connection. */
struct msg_tables {
	struct map imports;	/* id -> receipts */
	struct map exports;	/* id -> sends */
	uint64_t receipts;	/* counted by the decoding in progress */
	uint64_t receipts_total;
	uint64_t released;	/* receipts given back */
	uint64_t fns_written;	/* {"$fn"} written by the encoding in progress */
};

/* The counter of id in m, created at 0 when absent and create is set. */
static struct msg_count *msg_count_get(struct map *m, uint64_t id, bool create)
{
	struct msg_count *c = map_get(m, id, 0);

	if (c || !create)
		return c;
	c = calloc(1, sizeof *c);
	FUZZ_CHECK(c && map_put(m, id, 0, c) == 0, "out of memory");
	return c;
}

/* Free a table and its counters. */
static void msg_map_free(struct map *m)
{
	size_t iter = 0;
	struct msg_count *c;

	while ((c = map_next(m, &iter)))
		free(c);
	map_free(m);
}

/* A function node: "F<id>" for a function of the client, "Y<id>" for one of the host. */
static cJSON *msg_fn_node(char kind, uint64_t id)
{
	char name[32];

	snprintf(name, sizeof name, "%c%" PRIu64, kind, id);
	cJSON *n = cJSON_CreateRaw(name);
	FUZZ_CHECK(n, "out of memory");
	return n;
}

/* The host decoding a token sent by the client (bothost/value.c). */
static int msg_host_token(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata)
{
	struct msg_tables *t = userdata;
	struct msg_count *c;

	/* These frames carry no descriptors: the host refuses every {"$fd"}
	 * (client_frame_fd). */
	if (kind == WIRE_TOKEN_FD)
		return -EBADMSG;
	if (kind == WIRE_TOKEN_YOURS) {
		if (!map_get(&t->exports, id, 0))
			return -EINVAL;
		*ret_node = msg_fn_node('Y', id);
		return 0;
	}
	c = msg_count_get(&t->imports, id, false);
	if (!c && map_count(&t->imports) + map_count(&t->exports) >= MSG_TOKENS_MAX) {
		/* Refused: the receipt goes back at once, release(id, 1). */
		t->released++;
		t->receipts_total++;
		return -ENOBUFS;
	}
	c = msg_count_get(&t->imports, id, true);
	c->n++;
	t->receipts++;
	t->receipts_total++;
	*ret_node = msg_fn_node('F', id);
	return 0;
}

/* The far side decoding what was encoded as it was: every token is known. */
static int msg_peer_token(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata)
{
	struct msg_tables *t = userdata;

	if (kind == WIRE_TOKEN_FN)
		t->receipts++;
	*ret_node = msg_fn_node(kind == WIRE_TOKEN_FN ? 'F' : 'Y', id);
	return 0;
}

/* The id in a function node's name. */
static uint64_t msg_fn_id(const cJSON *node)
{
	return strtoull(node->valuestring + 1, NULL, 10);
}

/* Encoding a node as it was decoded: F as {"$fn"}, Y as {"$yours"}. */
static int msg_encode_same(struct buf *b, const cJSON *node, void *userdata)
{
	struct msg_tables *t = userdata;
	bool fn = node->valuestring[0] == 'F';

	if (fn)
		t->fns_written++;
	return buf_printf(b, "{\"%s\":%" PRIu64 "}", fn ? "$fn" : "$yours", msg_fn_id(node));
}

/* The host sending a value back: the client's functions as {"$yours"}, its
 * own as {"$fn"} with one more send counted. */
static int msg_encode_host(struct buf *b, const cJSON *node, void *userdata)
{
	struct msg_tables *t = userdata;
	uint64_t id = msg_fn_id(node);

	if (node->valuestring[0] == 'F')
		return buf_printf(b, "{\"$yours\":%" PRIu64 "}", id);
	struct msg_count *c = msg_count_get(&t->exports, id, false);
	FUZZ_CHECK(c, "a host function %" PRIu64 " that is not exported", id);
	c->n++;
	return buf_printf(b, "{\"$fn\":%" PRIu64 "}", id);
}

/* Function nodes of kind in a tree. */
static uint64_t msg_count_fns(const cJSON *v, char kind)
{
	uint64_t n = 0;

	if (cJSON_IsRaw(v))
		return v->valuestring && v->valuestring[0] == kind;
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		for (const cJSON *c = v->child; c; c = c->next)
			n += msg_count_fns(c, kind);
	return n;
}

/* Whether two trees are the same, in order (duplicate keys included); a
 * number that is not finite travels as null. */
static bool msg_same(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsNumber(a) && !isfinite(a->valuedouble))
		return cJSON_IsNull(b);
	if ((a->type & 0xff) != (b->type & 0xff))
		return false;
	if (cJSON_IsString(a) || cJSON_IsRaw(a))
		return strcmp(a->valuestring, b->valuestring) == 0;
	const cJSON *x = a->child, *y = b->child;
	for (; x && y; x = x->next, y = y->next) {
		if (cJSON_IsObject(a) && strcmp(x->string, y->string) != 0)
			return false;
		if (!msg_same(x, y))
			return false;
	}
	return !x && !y;
}

/* Both strings NULL, or both equal. */
static bool msg_same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The two parsers agree on a frame (its copy is parsed in place). */
static void msg_check_parsers(const char *frame, size_t len, bool utf8)
{
	char *copy = malloc(len + 1), *exact = malloc(len ? len : 1);
	struct wire_msg m1, m2;
	const char *why1 = NULL, *why2 = NULL;
	cJSON *root1 = NULL;

	FUZZ_CHECK(copy && exact, "out of memory");
	memcpy(copy, frame, len + 1);
	memcpy(exact, frame, len);
	int r1 = wire_msg_parse_frame(copy, len, utf8, &m1, &root1, &why1);
	cJSON *tree = wire_parse(exact, len, utf8);
	int r2 = tree ? wire_msg_parse(tree, &m2, &why2) : -EBADMSG;
	FUZZ_CHECK(r1 == r2, "parse_frame gave %d (%s), parse then msg_parse %d (%s)", r1,
		   why1 ? why1 : "", r2, why2 ? why2 : "");
	if (r1 == 0) {
		FUZZ_CHECK(m1.type == m2.type && m1.id == m2.id && m1.fn == m2.fn && m1.count == m2.count,
			   "the parsers read different fields");
		FUZZ_CHECK(m1.version == m2.version, "versions %ld and %ld", m1.version, m2.version);
		FUZZ_CHECK(msg_same_str(m1.obj, m2.obj) && msg_same_str(m1.method, m2.method),
			   "obj or method differ");
		FUZZ_CHECK(msg_same(m1.args, m2.args), "args differ");
		FUZZ_CHECK(msg_same(m1.error, m2.error), "error objects differ");
		FUZZ_CHECK(msg_same_str(m1.error_name, m2.error_name) &&
			   msg_same_str(m1.error_message, m2.error_message), "error fields differ");
		if (m1.type == WIRE_RESULT)
			FUZZ_CHECK(msg_same(m1.value, m2.value), "values differ");
	}
	cJSON_Delete(root1);
	cJSON_Delete(tree);
	free(copy);
	free(exact);
}

/* Encode v with fn into a new buffer; the encoding must succeed. */
static struct buf msg_encode(const cJSON *v, wire_fn_cb fn, struct msg_tables *t)
{
	struct buf b = BUF_INIT;
	int r = wire_encode(&b, v, fn, t);

	FUZZ_CHECK(r == 0, "encoding a decoded value gave %d", r);
	return b;
}

/* A decoded value survives encoding and decoding on the far side. */
static void msg_check_round_trip(const cJSON *v)
{
	struct msg_tables far = { MAP_INIT, MAP_INIT, 0, 0, 0, 0 };
	struct buf b = msg_encode(v, msg_encode_same, &far);
	cJSON *back = wire_parse(buf_head(&b), buf_pending(&b), true);

	FUZZ_CHECK(back, "the encoding does not parse: %.*s", (int)buf_pending(&b), buf_head(&b));
	int r = wire_decode(&back, msg_peer_token, &far);
	FUZZ_CHECK(r == 0, "the encoding does not decode (%d): %.*s", r, (int)buf_pending(&b), buf_head(&b));
	FUZZ_CHECK(msg_same(v, back), "the value changed: %.*s", (int)buf_pending(&b), buf_head(&b));
	FUZZ_CHECK(far.receipts == far.fns_written, "%" PRIu64 " {\"$fn\"} written, %" PRIu64 " received",
		   far.fns_written, far.receipts);
	cJSON_Delete(back);
	buf_free(&b);
}

/* The host answers a request with its decoded arguments as the result. */
static void msg_check_echo(struct msg_tables *t, uint64_t id, const cJSON *v)
{
	struct buf b = BUF_INIT;
	struct wire_msg m;
	const char *why = NULL;
	cJSON *root = NULL;

	FUZZ_CHECK(buf_printf(&b, "{\"t\":\"result\",\"id\":%" PRIu64 ",\"value\":", id) == 0, "out of memory");
	FUZZ_CHECK(wire_encode(&b, v, msg_encode_host, t) == 0, "encoding a result failed");
	FUZZ_CHECK(buf_putc(&b, '}') == 0, "out of memory");
	int r = wire_msg_parse_frame(buf_head(&b), buf_pending(&b), true, &m, &root, &why);
	FUZZ_CHECK(r == 0 && m.type == WIRE_RESULT && m.id == id, "the host's result does not parse: %s",
		   why ? why : "");
	cJSON_Delete(root);
	buf_free(&b);
}

/* Decode a value of a message as the host does, and check it. */
static void msg_value(struct msg_tables *t, cJSON *parent, cJSON *item, uint64_t answer_id)
{
	if (!item)
		return;
	cJSON_DetachItemViaPointer(parent, item);
	t->receipts = 0;
	int r = wire_decode(&item, msg_host_token, t);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EINVAL || r == -ENOBUFS, "decode gave %d", r);
	FUZZ_CHECK(msg_count_fns(item, 'F') == t->receipts, "%" PRIu64 " receipts, %" PRIu64 " nodes",
		   t->receipts, msg_count_fns(item, 'F'));
	msg_check_round_trip(item);
	if (r == 0 && answer_id)
		msg_check_echo(t, answer_id, item);
	cJSON_Delete(item);
}

/* A release from the client, as tokens_release takes it. */
static void msg_release(struct msg_tables *t, uint64_t id, uint64_t count)
{
	struct msg_count *c = map_get(&t->exports, id, 0);

	if (!c || count > c->n)
		return;	/* a ProtocolError: the host would close */
	c->n -= count;
	if (c->n == 0)
		free(map_remove(&t->exports, id, 0));
}

/* An error message written by the host reads back the same. */
static void msg_check_error(uint64_t id, const char *name, const char *message)
{
	struct buf b = BUF_INIT;
	struct wire_msg m;
	const char *why = NULL;
	cJSON *root = NULL;

	FUZZ_CHECK(wire_write_error(&b, id, name, message, NULL) == 0, "out of memory");
	FUZZ_CHECK(buf_pending(&b) > 0 && buf_head(&b)[buf_pending(&b) - 1] == '\n', "no line feed");
	int r = wire_msg_parse_frame(buf_head(&b), buf_pending(&b) - 1, true, &m, &root, &why);
	FUZZ_CHECK(r == 0 && m.type == WIRE_ERROR && m.id == id, "an error written does not parse: %s",
		   why ? why : "");
	FUZZ_CHECK(strcmp(m.error_name, name) == 0 && strcmp(m.error_message, message) == 0,
		   "an error changed on the way");
	cJSON_Delete(root);
	buf_free(&b);
}

/* Handle one valid message as the host would. */
static void msg_dispatch(struct msg_tables *t, cJSON *root, const struct wire_msg *m)
{
	switch (m->type) {
	case WIRE_CALL:
		msg_check_error(m->id, m->obj, m->method);
		msg_value(t, root, m->args, m->id);
		break;
	case WIRE_INVOKE:
		msg_value(t, root, m->args, m->id);
		break;
	case WIRE_RESULT:
		msg_value(t, root, m->value, 0);
		break;
	case WIRE_ERROR:
		msg_check_error(m->id, m->error_name, m->error_message);
		msg_value(t, m->error, cJSON_GetObjectItemCaseSensitive(m->error, "data"), 0);
		break;
	case WIRE_RELEASE:
		msg_release(t, m->fn, m->count);
		break;
	case WIRE_HELLO:
	case WIRE_WELCOME:
		break;
	}
}

/* One frame: both parsers, then the host's handling. */
static void msg_frame(struct msg_tables *t, char *frame, size_t len)
{
	struct wire_msg m;
	const char *why = NULL;
	cJSON *root = NULL;

	msg_check_parsers(frame, len, false);
	msg_check_parsers(frame, len, true);
	if (wire_msg_parse_frame(frame, len, true, &m, &root, &why) < 0)
		return;
	msg_dispatch(t, root, &m);
	cJSON_Delete(root);
}

/* Release every import, as the host does when the client goes. */
static void msg_release_all(struct msg_tables *t)
{
	size_t iter = 0;
	struct msg_count *c;

	while ((c = map_next(&t->imports, &iter)))
		t->released += c->n;
	FUZZ_CHECK(t->released == t->receipts_total, "%" PRIu64 " receipts, %" PRIu64 " released",
		   t->receipts_total, t->released);
}

/* One session of frames from a client. */
FUZZ_ENTRY(msg)
{
	struct msg_tables t = { MAP_INIT, MAP_INIT, 0, 0, 0, 0 };
	struct frame_reader r;
	char *frame;
	size_t len;

	for (uint64_t id = 1; id <= MSG_EXPORTS_START; id++)
		msg_count_get(&t.exports, id, true)->n = 2;
	frame_reader_init(&r, 1048576);
	FUZZ_CHECK(frame_reader_feed(&r, data, size) == 0, "out of memory");
	while (frame_reader_next(&r, &frame, &len) == 1)
		msg_frame(&t, frame, len);
	/* A last line without its line feed is a frame too, for the fuzzer's sake. */
	len = frame_reader_pending(&r);
	if (len > 0 && frame_reader_feed(&r, "\n", 1) == 0 && frame_reader_next(&r, &frame, &len) == 1)
		msg_frame(&t, frame, len);
	frame_reader_free(&r);
	msg_release_all(&t);
	msg_map_free(&t.imports);
	msg_map_free(&t.exports);
	return 0;
}
