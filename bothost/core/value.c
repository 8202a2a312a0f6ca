/* SPDX-License-Identifier: ISC */
/* Host values: cJSON trees with functions. */
#include "config.h"

#include "value.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "fn.h"
#include "server.h"
#include "tokens.h"
#include "wire/wire.h"

struct value {
	cJSON *json;
	struct fn **fns;
	size_t nfns;
	size_t cap;
	int *fds;		/* descriptors owned (-1: taken), nodes "fd:I" */
	size_t nfds;
	size_t fdcap;
};

#define VALUE_FD_PREFIX "fd:"


/* Wrap json (taken). */
struct value *value_new(cJSON *json)
{
	struct value *v = calloc(1, sizeof *v);

	if (!json)
		json = cJSON_CreateNull();
	if (!v || !json) {
		cJSON_Delete(json);
		free(v);
		return NULL;
	}
	v->json = json;
	return v;
}

/* Free the tree and drop the functions (which may send releases). */
void value_free(struct value *v)
{
	if (!v)
		return;
	cJSON_Delete(v->json);
	for (size_t i = 0; i < v->nfns; i++)
		fn_unref(v->fns[i]);
	free(v->fns);
	for (size_t i = 0; i < v->nfds; i++)
		if (v->fds[i] >= 0)
			close(v->fds[i]);
	free(v->fds);
	free(v);
}

/* Duplicate the descriptors of v into d (same indexes): 0 or -errno. */
static int value_dup_fds(struct value *d, const struct value *v)
{
	if (!v->nfds)
		return 0;
	if (!(d->fds = malloc(v->nfds * sizeof *d->fds)))
		return -ENOMEM;
	d->fdcap = v->nfds;
	for (size_t i = 0; i < v->nfds; i++) {
		d->fds[i] = v->fds[i] < 0 ? -1 : fcntl(v->fds[i], F_DUPFD_CLOEXEC, 3);
		d->nfds = i + 1;
		if (v->fds[i] >= 0 && d->fds[i] < 0)
			return -errno;
	}
	return 0;
}

/* A deep copy with its own references to the same functions. */
struct value *value_dup(const struct value *v)
{
	struct value *d = value_new(cJSON_Duplicate(v->json, true));

	if (!d)
		return NULL;
	if (v->nfns) {
		d->fns = malloc(v->nfns * sizeof *d->fns);
		if (!d->fns) {
			value_free(d);
			return NULL;
		}
		for (size_t i = 0; i < v->nfns; i++)
			d->fns[i] = fn_ref(v->fns[i]);
		d->nfns = d->cap = v->nfns;
	}
	if (value_dup_fds(d, v) < 0) {
		value_free(d);
		return NULL;
	}
	return d;
}

/* The tree, for adding nodes. */
cJSON *value_root(struct value *v)
{
	return v->json;
}

/* The tree, read-only. */
const cJSON *value_json(const struct value *v)
{
	return v->json;
}

/* True when the value holds any function. */
bool value_has_functions(const struct value *v)
{
	return v && (v->nfns > 0 || v->nfds > 0);
}

/* Hold fd (taken) and return its node. */
cJSON *value_add_fd(struct value *v, int fd)
{
	char text[32];

	if (v->nfds == v->fdcap) {
		size_t cap = v->fdcap ? v->fdcap * 2 : 4;
		int *fds = realloc(v->fds, cap * sizeof *fds);
		if (!fds) {
			close(fd);
			return NULL;
		}
		v->fds = fds;
		v->fdcap = cap;
	}
	snprintf(text, sizeof text, VALUE_FD_PREFIX "%zu", v->nfds);
	cJSON *node = cJSON_CreateRaw(text);
	if (!node) {
		close(fd);
		return NULL;
	}
	v->fds[v->nfds++] = fd;
	return node;
}

/* The index into v->fds of a descriptor node, or -1. */
static long value_fd_index(const struct value *v, const cJSON *node)
{
	if (!v || !cJSON_IsRaw(node) || !node->valuestring ||
	    strncmp(node->valuestring, VALUE_FD_PREFIX, sizeof VALUE_FD_PREFIX - 1) != 0)
		return -1;
	const char *p = node->valuestring + sizeof VALUE_FD_PREFIX - 1;
	char *end;
	unsigned long i = strtoul(p, &end, 10);
	if (*end || end == p || i >= v->nfds)
		return -1;
	return (long)i;
}

/* The descriptor of a node of v, still v's. */
int value_get_fd(const struct value *v, const cJSON *node)
{
	long i = value_fd_index(v, node);

	return i < 0 ? -1 : v->fds[i];
}

/* Take the descriptor of a node out of v. */
int value_take_fd(struct value *v, const cJSON *node)
{
	long i = value_fd_index(v, node);
	int fd = i < 0 ? -1 : v->fds[i];

	if (i >= 0)
		v->fds[i] = -1;
	return fd;
}

/* The descriptors v still owns. */
size_t value_fd_count(const struct value *v)
{
	size_t n = 0;

	for (size_t i = 0; v && i < v->nfds; i++)
		n += v->fds[i] >= 0;
	return n;
}

/* Hold fn (a reference taken here) and return its node. */
cJSON *value_add_fn(struct value *v, struct fn *fn)
{
	char index[24];

	if (v->nfns == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4;
		struct fn **fns = realloc(v->fns, cap * sizeof *fns);
		if (!fns)
			return NULL;
		v->fns = fns;
		v->cap = cap;
	}
	snprintf(index, sizeof index, "%zu", v->nfns);
	cJSON *node = cJSON_CreateRaw(index);
	if (!node)
		return NULL;
	v->fns[v->nfns++] = fn_ref(fn);
	return node;
}

/* The function of a raw node of v's tree. */
struct fn *value_get_fn(const struct value *v, const cJSON *node)
{
	if (!v || !cJSON_IsRaw(node) || !node->valuestring)
		return NULL;
	char *end;
	unsigned long long i = strtoull(node->valuestring, &end, 10);
	if (*end || end == node->valuestring || i >= v->nfns)
		return NULL;
	return v->fns[i];
}

/* Copy node, re-homing its functions into dst. */
cJSON *value_copy(struct value *dst, const struct value *src, const cJSON *node)
{
	if (!value_has_functions(src))
		return cJSON_Duplicate(node, true);
	if (cJSON_IsRaw(node)) {
		int fd = value_get_fd(src, node);
		if (fd >= 0) {
			int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			return copy < 0 ? NULL : value_add_fd(dst, copy);
		}
		struct fn *fn = value_get_fn(src, node);
		return fn ? value_add_fn(dst, fn) : cJSON_CreateNull();
	}
	if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
		return cJSON_Duplicate(node, false);
	cJSON *copy = cJSON_IsArray(node) ? cJSON_CreateArray() : cJSON_CreateObject();
	for (const cJSON *c = node->child; copy && c; c = c->next) {
		cJSON *item = value_copy(dst, src, c);
		if (!item) {
			cJSON_Delete(copy);
			return NULL;
		}
		if (cJSON_IsArray(node))
			cJSON_AddItemToArray(copy, item);
		else
			cJSON_AddItemToObject(copy, c->string, item);
	}
	return copy;
}

/* A value of its own for one node of src. */
struct value *value_extract(const struct value *src, const cJSON *node)
{
	struct value *v;
	cJSON *copy;

	if (!node)
		return value_new(NULL);
	if (!(v = calloc(1, sizeof *v)))
		return NULL;
	if (!(copy = value_copy(v, src, node))) {
		value_free(v);
		return NULL;
	}
	v->json = copy;
	return v;
}

struct value_codec {
	struct value *v;
	struct client *c;
	uint64_t *sent;		/* encoding: exports counted so far, for undoing */
	size_t nsent;
	size_t cap;
};

/* Resolve a token of a received value through the client's tables. */
static int value_decode_token(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata)
{
	struct value_codec *k = userdata;
	struct tokens *t = client_tokens(k->c);
	struct fn *fn;
	int r;

	if (kind == WIRE_TOKEN_FD) {
		int fd = client_frame_fd(k->c, (size_t)id);
		if (fd < 0)
			return fd;
		*ret_node = value_add_fd(k->v, fd);
		return *ret_node ? 0 : -ENOMEM;
	}
	if (kind == WIRE_TOKEN_YOURS) {
		fn = tokens_export_get(t, id);
		if (!fn)
			return -EINVAL;
		fn_ref(fn);
	} else {
		r = tokens_import(t, k->c, id, client_config(k->c)->tokens_max, &fn);
		if (r == -ENOBUFS)
			/* Refused, yet the client counted the send: give the receipt back. */
			client_drop_import(k->c, id, 1);
		if (r < 0)
			return r;
	}
	*ret_node = value_add_fn(k->v, fn);
	fn_unref(fn);
	return *ret_node ? 0 : -ENOMEM;
}

/* Decode a value received from c. */
int value_decode(struct value **ret, cJSON *json, struct client *c)
{
	struct value *v;
	int r;

	if (!json) {
		*ret = value_new(NULL);
		return *ret ? 0 : -ENOMEM;
	}
	if (!(v = calloc(1, sizeof *v))) {
		cJSON_Delete(json);
		return -ENOMEM;
	}
	struct value_codec k = { v, c, NULL, 0, 0 };
	r = wire_decode(&json, value_decode_token, &k);
	v->json = json;
	if (r < 0) {
		value_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

/* Remember an export counted during encoding. */
static int value_codec_sent(struct value_codec *k, uint64_t id)
{
	if (k->nsent == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 8;
		uint64_t *sent = realloc(k->sent, cap * sizeof *sent);
		if (!sent)
			return -ENOMEM;
		k->sent = sent;
		k->cap = cap;
	}
	k->sent[k->nsent++] = id;
	return 0;
}

/* Write a function node as the token c knows it by. */
static int value_encode_fn(struct buf *b, const cJSON *node, void *userdata)
{
	struct value_codec *k = userdata;
	struct fn *fn = value_get_fn(k->v, node);
	struct tokens *t = client_tokens(k->c);
	uint64_t id;
	int r;

	if (!fn && cJSON_IsRaw(node) && value_fd_index(k->v, node) >= 0) {
		int fd = value_get_fd(k->v, node);
		unsigned index;
		if (fd < 0)	/* taken out of the value: nothing to send */
			return buf_puts(b, "null");
		r = client_queue_fd(k->c, fd, &index);
		return r < 0 ? r : buf_printf(b, "{\"$fd\":%u}", index);
	}
	if (!fn)
		return -EINVAL;
	if (fn_get_client(fn) == k->c)
		return buf_printf(b, "{\"$yours\":%" PRIu64 "}", fn_get_remote_id(fn));
	r = tokens_export(t, fn, client_config(k->c)->tokens_max, &id);
	if (r < 0)
		return r;
	r = value_codec_sent(k, id);
	if (r < 0) {
		tokens_export_undo(t, id);
		return r;
	}
	return buf_printf(b, "{\"$fn\":%" PRIu64 "}", id);
}

/* Encode a node of v for c, inside depth containers of its frame; exports are
 * undone if the encoding fails. */
static int value_encode_at(struct buf *b, const struct value *v, const cJSON *node, unsigned depth,
			   struct client *c)
{
	struct value_codec k = { (struct value *)v, c, NULL, 0, 0 };
	int r;

	if (!value_has_functions(v))
		return wire_encode_in(b, node, depth, NULL, NULL);
	size_t fds = client_fds_queued(c);
	r = wire_encode_in(b, node, depth, value_encode_fn, &k);
	if (r < 0) {
		for (size_t i = 0; i < k.nsent; i++)
			tokens_export_undo(client_tokens(c), k.sent[i]);
		client_fds_undo(c, fds);
	}
	free(k.sent);
	return r;
}

/* Encode v for c as a member of a message. */
int value_encode(struct buf *b, const struct value *v, struct client *c)
{
	return value_encode_at(b, v, v ? v->json : NULL, 1, c);
}

/* Encode v for c inside depth containers of its frame. */
int value_encode_in(struct buf *b, const struct value *v, unsigned depth, struct client *c)
{
	return value_encode_at(b, v, v ? v->json : NULL, depth, c);
}

/* Encode a node of v for c as a member of a message. */
int value_encode_node(struct buf *b, const struct value *v, const cJSON *node, struct client *c)
{
	return value_encode_at(b, v, node, 1, c);
}
