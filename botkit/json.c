/* SPDX-License-Identifier: ISC */
/* Values: function nodes in cJSON trees, and arguments written by signature.
 *
 * A function node is a cJSON_Raw node (parsing never makes one) whose text
 * is "\"<botkit function N>\"": a JSON string when cJSON prints it, and no
 * pointer. N is a serial number, never reused in the process, that indexes a
 * process-wide table of what each node stands for (struct fnode): a function
 * of this program (fn, userdata, destroy; owns nothing) or a host function
 * (owns one reference to the bk_fn). An entry belongs to exactly one node:
 * the table keeps that node's address and text pointer, compared on every use
 * and never followed. Any other raw node is no function, whatever its text: a
 * copy made by cJSON_Duplicate or cJSON_CreateRaw, a node whose entry was
 * released (bk_json_delete) or dropped (its connection was freed). Such a
 * node is refused with -EINVAL wherever a function is expected and releases
 * nothing, so no text can make libbotkit follow a pointer or release a
 * reference twice.
 *
 * An entry goes with bk_json_delete() of its node, or with the connection it
 * depends on (a host function's, or the one a "$yours" token came from) when
 * that connection is freed: a tree freed with plain cJSON_Delete() keeps its
 * host references only that long. A bk_json_function() node depends on no
 * connection: freed with cJSON_Delete(), its entry (a few dozen bytes, no
 * resource of the host) stays until the process exits. Should the allocator
 * later give a raw node both the address and the text pointer of a node so
 * freed, with the same text, that node takes its place: it stands for the
 * same function, whose reference is still counted once.
 *
 * The table is the library's only state shared between connections; a mutex
 * guards it, so connections may live in different threads. */
#include "botkit-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNODE_PREFIX "\"<botkit function "
#define FNODE_SUFFIX ">\""

/* What one function node stands for. */
struct fnode {
	uint64_t serial;
	const cJSON *node;	/* the node it belongs to: compared, never followed */
	const char *text;	/* that node's text: compared, never followed */
	bk_conn *conn;		/* dropped when this connection is freed, or NULL */
	enum json_fn_kind kind;
	struct json_fn f;	/* f.host: a reference the entry owns */
	struct fnode *next;	/* list of entries being dropped */
};

static pthread_mutex_t json_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map json_fnodes = MAP_INIT;	/* serial -> struct fnode */
static uint64_t json_serial;			/* the last serial given */

/* The serial a function node's text names, or 0 when it names none: exactly
 * the prefix, a decimal number without leading zero that fits 64 bits, the
 * suffix. */
static uint64_t json_text_serial(const char *s)
{
	uint64_t v = 0;

	if (!s || strncmp(s, FNODE_PREFIX, sizeof FNODE_PREFIX - 1) != 0)
		return 0;
	s += sizeof FNODE_PREFIX - 1;
	if (*s < '1' || *s > '9')
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return strcmp(s, FNODE_SUFFIX) == 0 ? v : 0;
}

/* The entry of node when node is the very node it belongs to; NULL for any
 * other node. Call with the lock held. */
static struct fnode *json_find_locked(const cJSON *node, uint64_t serial)
{
	struct fnode *e = map_get(&json_fnodes, serial, 0);

	return e && e->node == node && e->text == node->valuestring ? e : NULL;
}

/* The serial of a node that may be a function node, or 0. */
static uint64_t json_node_serial(const cJSON *node)
{
	return cJSON_IsRaw(node) ? json_text_serial(node->valuestring) : 0;
}

/* A new entry with a fresh serial, not in the table yet; its text in `text`. */
static struct fnode *json_fnode_new(bk_conn *c, enum json_fn_kind kind, const struct json_fn *f,
				    char *text, size_t size)
{
	struct fnode *e = calloc(1, sizeof *e);

	if (!e)
		return NULL;
	pthread_mutex_lock(&json_lock);
	e->serial = ++json_serial;
	pthread_mutex_unlock(&json_lock);
	e->conn = c;
	e->kind = kind;
	e->f = *f;
	snprintf(text, size, FNODE_PREFIX "%" PRIu64 FNODE_SUFFIX, e->serial);
	return e;
}

/* Put an entry in the table for node, whose text is the entry's. */
static int json_fnode_add(struct fnode *e, const cJSON *node)
{
	int r;

	e->node = node;
	e->text = node->valuestring;
	pthread_mutex_lock(&json_lock);
	r = map_put(&json_fnodes, e->serial, 0, e);
	if (r == 0 && e->conn)
		e->conn->fnodes++;
	pthread_mutex_unlock(&json_lock);
	return r;
}

/* Free an entry out of the table, releasing its host function. */
static void json_fnode_free(struct fnode *e)
{
	if (e->kind == JSON_FN_HOST)
		bk_fn_unref(e->f.host);
	free(e);
}

/* A new function node. A host function's reference goes to the node on
 * success only. */
static cJSON *json_node_new(bk_conn *c, enum json_fn_kind kind, const struct json_fn *f)
{
	char text[64];
	struct fnode *e = json_fnode_new(c, kind, f, text, sizeof text);
	cJSON *node = e ? cJSON_CreateRaw(text) : NULL;

	if (node && json_fnode_add(e, node) == 0)
		return node;
	cJSON_Delete(node);
	free(e);
	return NULL;
}

/* Make node (a raw node of a tree being copied) a function node of its own
 * standing for f, with a new serial and text. As json_node_new() for the
 * reference; node is unchanged on failure. */
static int json_node_adopt(cJSON *node, bk_conn *c, enum json_fn_kind kind, const struct json_fn *f)
{
	char text[64];
	struct fnode *e = json_fnode_new(c, kind, f, text, sizeof text);
	cJSON *tmp = e ? cJSON_CreateRaw(text) : NULL;
	char *old;

	if (!tmp) {
		free(e);
		return -ENOMEM;
	}
	old = node->valuestring;
	node->valuestring = tmp->valuestring;
	tmp->valuestring = old;
	int r = json_fnode_add(e, node);
	if (r < 0) {
		tmp->valuestring = node->valuestring;
		node->valuestring = old;
		free(e);
	}
	cJSON_Delete(tmp);
	return r;
}

/* Take node's entry out of the table (the caller frees it), or NULL when
 * node is no function node. */
static struct fnode *json_fnode_take(const cJSON *node)
{
	uint64_t serial = json_node_serial(node);
	struct fnode *e;

	if (!serial)
		return NULL;
	pthread_mutex_lock(&json_lock);
	if ((e = json_find_locked(node, serial))) {
		map_remove(&json_fnodes, serial, 0);
		if (e->conn)
			e->conn->fnodes--;
	}
	pthread_mutex_unlock(&json_lock);
	return e;
}

/* What node stands for: a local function, a host function (borrowed from the
 * node), or neither. */
enum json_fn_kind bki_json_fn_get(const cJSON *node, struct json_fn *ret)
{
	uint64_t serial = json_node_serial(node);
	enum json_fn_kind kind = JSON_FN_NONE;
	struct fnode *e;

	if (!serial)
		return JSON_FN_NONE;
	pthread_mutex_lock(&json_lock);
	if ((e = json_find_locked(node, serial))) {
		kind = e->kind;
		if (ret)
			*ret = e->f;
	}
	pthread_mutex_unlock(&json_lock);
	return kind;
}

/* A node for a function of this program; c: the connection its "$yours"
 * token came from, or NULL. */
cJSON *bki_json_local_node_new(bk_conn *c, bk_function fn, void *userdata, void (*destroy)(void *))
{
	struct json_fn f = { .fn = fn, .userdata = userdata, .destroy = destroy };

	return json_node_new(c, JSON_FN_LOCAL, &f);
}

/* A node for a host function; the node takes over one reference the caller
 * holds (on success only). */
cJSON *bki_json_host_node_new(bk_fn *f)
{
	struct json_fn jf = { .host = f };

	return json_node_new(f->conn, JSON_FN_HOST, &jf);
}

/* The connection is being freed: drop the entries that depend on it (their
 * nodes stop standing for anything), releasing their references. */
void bki_json_drop_conn(bk_conn *c)
{
	struct fnode *list = NULL, *e;
	size_t iter = 0;

	pthread_mutex_lock(&json_lock);
	if (c->fnodes > 0) {
		while ((e = map_next(&json_fnodes, &iter))) {
			if (e->conn != c)
				continue;
			map_remove(&json_fnodes, e->serial, 0);
			e->next = list;
			list = e;
		}
		c->fnodes = 0;
	}
	if (map_count(&json_fnodes) == 0)
		map_free(&json_fnodes);
	pthread_mutex_unlock(&json_lock);
	while ((e = list)) {
		list = e->next;
		json_fnode_free(e);
	}
}

/* A node that sends fn(userdata) as a function of this program. */
cJSON *bk_json_function(bk_function fn, void *userdata, void (*destroy)(void *))
{
	if (!fn)
		return NULL;
	return bki_json_local_node_new(NULL, fn, userdata, destroy);
}

/* A node that sends a host function back to the host; takes a reference. */
cJSON *bk_json_host_function(bk_fn *f)
{
	if (!f)
		return NULL;
	cJSON *node = bki_json_host_node_new(bk_fn_ref(f));
	if (!node)
		bk_fn_unref(f);
	return node;
}

/* True for a function node of either kind. */
bool bk_json_is_function(const cJSON *node)
{
	return bki_json_fn_get(node, NULL) != JSON_FN_NONE;
}

/* The host function a node stands for (borrowed), or NULL. */
bk_fn *bk_json_get_fn(const cJSON *node)
{
	struct json_fn f;

	return bki_json_fn_get(node, &f) == JSON_FN_HOST ? f.host : NULL;
}

/* Give each function node of copy (a cJSON_Duplicate of v) an entry of its
 * own standing for what the node of v in the same place stands for. Other
 * raw nodes stay what they were: no function. */
static int json_dup_functions(const cJSON *v, cJSON *copy)
{
	if (cJSON_IsRaw(v)) {
		uint64_t serial = json_node_serial(v);
		struct fnode *e = NULL;
		enum json_fn_kind kind = JSON_FN_NONE;
		struct json_fn f;
		bk_conn *c = NULL;
		if (!serial)
			return 0;
		pthread_mutex_lock(&json_lock);
		if ((e = json_find_locked(v, serial))) {
			kind = e->kind;
			f = e->f;
			c = e->conn;
			if (kind == JSON_FN_HOST)
				bk_fn_ref(f.host);
		}
		pthread_mutex_unlock(&json_lock);
		if (kind == JSON_FN_NONE)
			return 0;
		int r = json_node_adopt(copy, c, kind, &f);
		if (r < 0 && kind == JSON_FN_HOST)
			bk_fn_unref(f.host);
		return r;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return 0;
	const cJSON *a = v->child;
	for (cJSON *b = copy->child; a && b; a = a->next, b = b->next) {
		int r = json_dup_functions(a, b);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A deep copy whose function nodes are new nodes standing for the same
 * functions (each host function gets one more reference). */
cJSON *bk_json_dup(const cJSON *v)
{
	if (!v)
		return NULL;
	cJSON *copy = cJSON_Duplicate(v, true);
	if (copy && json_dup_functions(v, copy) < 0) {
		bk_json_delete(copy);
		return NULL;
	}
	return copy;
}

/* Release what the function nodes of v stand for; count the raw nodes that
 * are no function node. Nodes cJSON_Delete does not free (references) are
 * left alone. */
static void json_release(const cJSON *v, unsigned *refused)
{
	if (v->type & cJSON_IsReference)
		return;
	if (cJSON_IsRaw(v)) {
		struct fnode *e = json_fnode_take(v);
		if (e)
			json_fnode_free(e);
		else
			(*refused)++;
		return;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return;
	for (const cJSON *c = v->child; c; c = c->next)
		json_release(c, refused);
}

/* Free a tree, releasing what its function nodes stand for. */
int bk_json_delete(cJSON *v)
{
	unsigned refused = 0;

	if (!v)
		return 0;
	json_release(v, &refused);
	cJSON_Delete(v);
	return refused ? -EINVAL : 0;
}

/* Write a number the way the wire module writes numbers. */
static int json_write_number(struct buf *b, double d)
{
	cJSON n = { .type = cJSON_Number, .valuedouble = d };

	return wire_encode(b, &n, NULL, NULL);
}

/* Write one string or null. */
static int json_write_string_or_null(struct buf *b, const char *s)
{
	return s ? wire_write_string(b, s) : buf_puts(b, "null");
}

/* Write the local function given as (fn, userdata, destroy) varargs. */
static int json_write_local(bk_conn *c, struct buf *b, va_list *ap)
{
	bk_function fn = va_arg(*ap, bk_function);
	void *userdata = va_arg(*ap, void *);
	void (*destroy)(void *) = va_arg(*ap, void (*)(void *));

	return bki_tokens_write_export(c, b, fn, userdata, destroy);
}

/* A node that sends a duplicate of fd as {"$fd":N} (fd stays the caller's
 * and must stay open until the message is built). */
cJSON *bk_json_fd(int fd)
{
	char text[32];

	if (fd < 0)
		return NULL;
	snprintf(text, sizeof text, "fd:%d", fd);
	return cJSON_CreateRaw(text);
}

/* The descriptor number of a descriptor node, or -1. */
int bki_json_fd_number(const cJSON *node)
{
	if (!cJSON_IsRaw(node) || !node->valuestring || strncmp(node->valuestring, "fd:", 3) != 0)
		return -1;
	char *end;
	long fd = strtol(node->valuestring + 3, &end, 10);
	return *end || end == node->valuestring + 3 || fd < 0 || fd > INT_MAX ? -1 : (int)fd;
}

/* Take the descriptor a received node stands for. */
int bk_conn_take_fd(bk_conn *c, const cJSON *node)
{
	return c ? bki_conn_take_fd(c, bki_json_fd_number(node)) : -1;
}

/* Write a duplicate of a descriptor given as an int vararg. */
static int json_write_fd(bk_conn *c, struct buf *b, int fd)
{
	unsigned index;
	int r = fd < 0 ? -EBADF : bki_conn_queue_fd(c, fd, &index);

	return r < 0 ? r : buf_printf(b, "{\"$fd\":%u}", index);
}

/* Write one value given as varargs, described by a signature letter. */
int bki_json_write_value(bk_conn *c, struct buf *b, char letter, va_list *ap)
{
	switch (letter) {
	case 's':
		return json_write_string_or_null(b, va_arg(*ap, const char *));
	case 'i':
		return buf_printf(b, "%d", va_arg(*ap, int));
	case 'x':
		return buf_printf(b, "%" PRId64, va_arg(*ap, int64_t));
	case 'd':
		return json_write_number(b, va_arg(*ap, double));
	case 'b':
		return buf_puts(b, va_arg(*ap, int) ? "true" : "false");
	case 'n':
		return buf_puts(b, "null");
	case 'j':
		return wire_encode(b, va_arg(*ap, const cJSON *), bki_tokens_encode_cb, c);
	case 'f':
		return json_write_local(c, b, ap);
	case 'F':
		return bki_tokens_write_import(c, b, va_arg(*ap, bk_fn *));
	case 'D':
		return json_write_fd(c, b, va_arg(*ap, int));
	default:
		return -EINVAL;
	}
}

/* Write an argument array from a signature and varargs, or from a JSON array. */
int bki_json_write_args(bk_conn *c, struct buf *b, const char *sig, va_list *ap, const cJSON *args)
{
	int r;

	if (args) {
		if (!cJSON_IsArray(args))
			return -EINVAL;
		return wire_encode(b, args, bki_tokens_encode_cb, c);
	}
	if ((r = buf_putc(b, '[')) < 0)
		return r;
	for (const char *p = sig ? sig : ""; *p; p++) {
		if (p != sig && (r = buf_putc(b, ',')) < 0)
			return r;
		if ((r = bki_json_write_value(c, b, *p, ap)) < 0)
			return r;
	}
	return buf_putc(b, ']');
}
