/* SPDX-License-Identifier: ISC */
/* Host values: a cJSON tree plus the functions in it.
 *
 * Each function in the tree is a cJSON_Raw node whose string is the decimal
 * index into the value's array of functions; the value owns one reference per
 * array entry. Values are decoded from, and encoded for, a given client: its
 * token tables translate functions to and from {"$fn":N} / {"$yours":N}. */
#ifndef BOTHOST_VALUE_H
#define BOTHOST_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "wire/buf.h"

struct value;
struct fn;
struct client;

/* A value holding json (taken; NULL stands for a JSON null) without
 * functions. NULL on allocation failure (json is freed then). */
struct value *value_new(cJSON *json);
/* Frees the tree and drops the functions; NULL is a no-op. */
void value_free(struct value *v);
struct value *value_dup(const struct value *v);

/* The tree; nodes may be added with value_add_fn / value_copy. */
cJSON *value_root(struct value *v);
const cJSON *value_json(const struct value *v);
/* A function node for fn (a new reference held by v), to be put in v's tree. */
cJSON *value_add_fn(struct value *v, struct fn *fn);
/* The function a node of v's tree stands for (borrowed), or NULL. */
struct fn *value_get_fn(const struct value *v, const cJSON *node);
/* True when v holds a function or a descriptor (it cannot be encoded once
 * for every client). */
bool value_has_functions(const struct value *v);

/* Descriptors in values (the "fd" extension, PROTOCOL.md section 12): the
 * core API for "send this descriptor in a value" (http.takeover, net
 * listeners, loopback.echoFd use it). A value owns each descriptor in it and
 * closes it when freed; encoding for a client sends a duplicate as
 * {"$fd":N} with the frame (SCM_RIGHTS), decoding a frame's {"$fd":N} puts
 * the received descriptor in the value. */
/* A descriptor node for fd (taken: v closes it), to be put in v's tree;
 * NULL on allocation failure (fd is closed then). */
cJSON *value_add_fd(struct value *v, int fd);
/* The descriptor a node of v's tree stands for (still v's), or -1. */
int value_get_fd(const struct value *v, const cJSON *node);
/* Take the descriptor of a node out of v: the caller owns it (v no longer
 * closes it; the node then encodes as null). -1 when node holds none. */
int value_take_fd(struct value *v, const cJSON *node);
/* How many descriptors v holds (taken ones not counted). */
size_t value_fd_count(const struct value *v);
/* A copy of node (a node of src's tree) whose functions dst holds. */
cJSON *value_copy(struct value *dst, const struct value *src, const cJSON *node);
/* A new value holding a copy of node of src (NULL node: JSON null). */
struct value *value_extract(const struct value *src, const cJSON *node);

/* Decode json (taken) as received from c: 0, -EBADMSG (malformed $-object),
 * -EINVAL (unknown {"$yours":N}), -ENOBUFS (tokens_max) or -ENOMEM (the
 * first in document order). On failure every {"$fn":N} of json is still
 * given back to c with its receipts (PROTOCOL.md section 9). */
int value_decode(struct value **ret, cJSON *json, struct client *c);
/* Append v (NULL: null) as wire JSON for c, as a member of a message,
 * exporting functions as needed. On failure nothing is appended and no export
 * is counted; -E2BIG when the frame would nest deeper than WIRE_DEPTH_MAX. */
int value_encode(struct buf *b, const struct value *v, struct client *c);
/* value_encode inside depth arrays and objects of its frame (2: error data). */
int value_encode_in(struct buf *b, const struct value *v, unsigned depth, struct client *c);
/* The same for node, a node of v's tree (NULL: null). */
int value_encode_node(struct buf *b, const struct value *v, const cJSON *node, struct client *c);

#endif
