/* SPDX-License-Identifier: ISC */
/* Wire values and messages of the proxy protocol (docs/PROTOCOL.md, sections 3-4).
 *
 * In memory, both sides hold values as cJSON trees in which literal data is
 * literal (never escaped) and every function is a cJSON_Raw node whose string
 * the side that built it interprets (parsing never creates raw nodes, so they
 * cannot be confused with data). This module turns such trees into wire JSON
 * and back; the callbacks translate function nodes to and from token ids. */
#ifndef BK_WIRE_H
#define BK_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"

#define WIRE_VERSION 1
#define WIRE_ID_MAX 9007199254740991ULL	/* 2^53 - 1 */
/* Deepest nesting of arrays and objects a frame may have, the message object
 * included (cJSON's limit): parsing refuses deeper text, encoding deeper values. */
#define WIRE_DEPTH_MAX 1000

enum wire_token {
	WIRE_TOKEN_FN,		/* {"$fn":N}: exported by the sender */
	WIRE_TOKEN_YOURS,	/* {"$yours":N}: exported by the receiver */
	WIRE_TOKEN_FD,		/* {"$fd":N}: the frame's N-th descriptor (from 0) */
};
/* The most descriptors one frame may say it carries ("fds"). */
#define WIRE_FDS_MAX 253

/* Decoding: return 0 and a new node (owned by the tree from then on) to put in
 * place of the token, or a negative errno; -EINVAL means "unknown token". */
typedef int (*wire_token_cb)(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata);
/* Encoding: write the token object for a function node into b; 0 or -errno. */
typedef int (*wire_fn_cb)(struct buf *b, const cJSON *node, void *userdata);

/* Decode token shapes and escapes in place; *root may be replaced.
 * -EBADMSG for a malformed $-object, or the callback's error. Decoding goes
 * on after an error, so that cb sees every well-formed token of the value
 * (whose receipts the caller must then give back); what a malformed $-object
 * holds is not looked at. The first error in document order is returned. */
int wire_decode(cJSON **root, wire_token_cb cb, void *userdata);
/* Write v as wire JSON: escapes $-objects, hands raw nodes to cb. v is a
 * member of a message object; -E2BIG (nothing written) when the frame would
 * nest deeper than WIRE_DEPTH_MAX, $esc wrappers and token objects counted. */
int wire_encode(struct buf *b, const cJSON *v, wire_fn_cb cb, void *userdata);
/* wire_encode for v written inside depth open arrays and objects of its
 * frame (1: a member of the message object, 2: of "error", ...). */
int wire_encode_in(struct buf *b, const cJSON *v, unsigned depth, wire_fn_cb cb, void *userdata);
/* True when v holds a function node anywhere. */
bool wire_has_functions(const cJSON *v);

/* A JSON string literal, quoted and escaped. */
int wire_write_string(struct buf *b, const char *s);
/* A decimal integer (an id or a count). */
int wire_write_u64(struct buf *b, uint64_t v);
/* An error message; id 0 makes it a connection error. data may be NULL. */
int wire_write_error(struct buf *b, uint64_t id, const char *name, const char *message, const cJSON *data);

/* Parse one JSON text of len bytes (whitespace around it allowed) into a tree
 * that cJSON_Delete frees, as cJSON would but strictly by RFC 8259; with utf8
 * set, strings must also be valid UTF-8. NULL when the text is malformed or
 * memory runs out. */
cJSON *wire_parse(const char *text, size_t len, bool utf8);

enum wire_type {
	WIRE_HELLO,
	WIRE_WELCOME,
	WIRE_CALL,
	WIRE_INVOKE,
	WIRE_RESULT,
	WIRE_ERROR,
	WIRE_RELEASE,
};

/* A parsed message; pointers borrow from the tree (and for a parsed frame,
 * the frame) it came from. */
struct wire_msg {
	enum wire_type type;
	uint64_t id;		/* 0 when absent */
	uint64_t fn;		/* invoke, release */
	uint64_t count;		/* release */
	long version;		/* hello, welcome */
	const char *obj;	/* call */
	const char *method;	/* call */
	cJSON *args;		/* call, invoke: an array or NULL */
	cJSON *value;		/* result: the value or NULL */
	cJSON *error;		/* error: the error object */
	const char *error_name;	/* error */
	const char *error_message;
};

/* Check the shape of a message held as a tree: 0, or -EBADMSG with *ret_why
 * saying what is wrong. */
int wire_msg_parse(cJSON *root, struct wire_msg *m, const char **ret_why);
/* Parse a frame (len bytes, changed in place) as a message, as wire_parse and
 * wire_msg_parse would together but without building nodes for the members
 * the protocol defines, except "args", "value" and "error": *ret_root (the
 * caller frees it) holds those and every unknown member. m->obj and m->method
 * point into the frame. 0, or -EBADMSG (malformed: *ret_why says how) or
 * -ENOMEM; nothing is returned then. */
int wire_msg_parse_frame(char *frame, size_t len, bool utf8, struct wire_msg *m, cJSON **ret_root,
			 const char **ret_why);
/* wire_msg_parse_frame, except that the first member named key is not built:
 * its value's grammar is checked (string escapes only when it is parsed) and
 * where it lies in the frame goes to *ret_at and *ret_len (NULL and 0 when
 * there is no such member), to be given to wire_parse later if it is ever
 * needed. The welcome's introspection is large and seldom read. */
int wire_msg_parse_frame_lazy(char *frame, size_t len, bool utf8, const char *key, struct wire_msg *m,
			      cJSON **ret_root, const char **ret_why, const char **ret_at, size_t *ret_len);
/* Read an id-like number: 1..2^53-1. */
bool wire_get_id(const cJSON *v, uint64_t *ret);

#endif
