/* SPDX-License-Identifier: ISC */
/* Function tokens with release counts (PROTOCOL.md, sections 4 and 5).
 *
 * Exports are functions of this program the host holds: (fn, userdata) ->
 * {id, sent}. Imports are host functions this program holds: id -> bk_fn
 * {refs, received}. */
#include "botkit-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A new export in both tables, not sent yet. */
static struct export *export_new(bk_conn *c, bk_function fn, void *userdata)
{
	struct export *e = calloc(1, sizeof *e);

	if (!e)
		return NULL;
	e->state = EXPORT_LIVE;
	e->id = ++c->next_token;
	e->fn = fn;
	e->userdata = userdata;
	if (map_put(&c->exports_by_id, e->id, 0, e) < 0)
		goto fail;
	if (map_put(&c->exports_by_key, (uintptr_t)fn, (uintptr_t)userdata, e) < 0) {
		map_remove(&c->exports_by_id, e->id, 0);
		goto fail;
	}
	return e;
fail:
	free(e);
	return NULL;
}

/* Take an export out of the tables, end its registrations, run its destructor
 * when asked to, and free it. */
static void export_free(bk_conn *c, struct export *e, bool run_destroy)
{
	if (e->state == EXPORT_LIVE) {
		map_remove(&c->exports_by_id, e->id, 0);
		map_remove(&c->exports_by_key, (uintptr_t)e->fn, (uintptr_t)e->userdata);
		e->state = EXPORT_DROPPED;
	}
	bki_slot_end_export(e);
	if (run_destroy && e->destroy)
		e->destroy(e->userdata);
	free(e);
}

/* The export the host names by id, if the host holds it. */
struct export *bki_tokens_export_get(bk_conn *c, uint64_t id)
{
	struct export *e = map_get(&c->exports_by_id, id, 0);

	return e && e->sent > 0 ? e : NULL;
}

/* The export of (fn, userdata), if the host holds it. */
struct export *bki_tokens_export_find(bk_conn *c, bk_function fn, void *userdata)
{
	struct export *e = map_get(&c->exports_by_key, (uintptr_t)fn, (uintptr_t)userdata);

	return e && e->sent > 0 ? e : NULL;
}

/* Free an export nobody holds any more: every copy was released and no call
 * into it is running. */
void bki_tokens_export_check(bk_conn *c, struct export *e)
{
	if (e->sent > 0 || e->calls > 0)
		return;
	export_free(c, e, true);
}

/* Make room for one more undo record. */
static int tokens_undo_reserve(bk_conn *c)
{
	if (c->undo_len < c->undo_cap)
		return 0;
	size_t cap = c->undo_cap ? c->undo_cap * 2 : 8;
	struct export_undo *u = realloc(c->undo, cap * sizeof *u);
	if (!u)
		return -ENOMEM;
	c->undo = u;
	c->undo_cap = cap;
	return 0;
}

/* Write {"$fn":N} for fn(userdata), exporting it if needed; counts one copy sent.
 * bki_conn_msg_abort() takes the count back if the message is not sent. */
int bki_tokens_write_export(bk_conn *c, struct buf *b, bk_function fn, void *userdata,
			void (*destroy)(void *))
{
	int r;

	if (!fn)
		return -EINVAL;
	if ((r = tokens_undo_reserve(c)) < 0)
		return r;
	struct export *e = map_get(&c->exports_by_key, (uintptr_t)fn, (uintptr_t)userdata);
	bool created = !e;
	if (created && !(e = export_new(c, fn, userdata)))
		return -ENOMEM;
	c->undo[c->undo_len++] = (struct export_undo){ e, e->destroy, created };
	if (!e->destroy)
		e->destroy = destroy;
	e->sent++;
	return buf_printf(b, "{\"$fn\":%llu}", (unsigned long long)e->id);
}

/* Write {"$yours":N} for a host function of this connection. */
int bki_tokens_write_import(bk_conn *c, struct buf *b, bk_fn *f)
{
	if (!f)
		return -EINVAL;
	if (f->conn != c)
		return f->conn ? -EINVAL : -ENOTCONN;
	return buf_printf(b, "{\"$yours\":%llu}", (unsigned long long)f->id);
}

/* Take back the copies counted for a message that is not sent, newest first. */
void bki_tokens_undo(bk_conn *c)
{
	while (c->undo_len > 0) {
		struct export_undo *u = &c->undo[--c->undo_len];
		u->export->sent--;
		u->export->destroy = u->destroy;
		/* Created for this message: the program keeps its userdata. */
		if (u->created)
			export_free(c, u->export, false);
	}
}

/* Encode callback: the token for a function node. */
int bki_tokens_encode_cb(struct buf *b, const cJSON *node, void *userdata)
{
	bk_conn *c = userdata;
	struct json_fn f;
	int fd = bki_json_fd_number(node);

	if (fd >= 0) {
		unsigned index;
		int r = bki_conn_queue_fd(c, fd, &index);
		return r < 0 ? r : buf_printf(b, "{\"$fd\":%u}", index);
	}
	/* Only a node libbotkit made and still knows is a function: a copy, a
	 * forgery or a released node is refused here (-EINVAL) and nothing of
	 * what it says is followed. */
	switch (bki_json_fn_get(node, &f)) {
	case JSON_FN_LOCAL:
		return bki_tokens_write_export(c, b, f.fn, f.userdata, f.destroy);
	case JSON_FN_HOST:
		return bki_tokens_write_import(c, b, f.host);
	default:
		return -EINVAL;
	}
}

/* Count one receipt of host function id, creating its import; returns it
 * with one more reference, or NULL when out of memory. */
static bk_fn *tokens_import_receive(bk_conn *c, uint64_t id)
{
	bk_fn *f = map_get(&c->imports, id, 0);

	if (!f) {
		if (!(f = calloc(1, sizeof *f)))
			return NULL;
		f->conn = c;
		f->id = id;
		if (map_put(&c->imports, id, 0, f) < 0) {
			free(f);
			return NULL;
		}
	}
	f->received++;
	f->refs++;
	return f;
}

/* Decode callback: a node for {"$fn":N} (counted) or {"$yours":N}. */
int bki_tokens_decode_cb(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata)
{
	bk_conn *c = userdata;

	if (kind == WIRE_TOKEN_FD) {
		char text[32];
		if (id >= c->frame_nfds || c->frame_fds[id] < 0)
			return -EBADMSG;
		snprintf(text, sizeof text, "fd:%d", c->frame_fds[id]);
		*ret_node = cJSON_CreateRaw(text);
		return *ret_node ? 0 : -ENOMEM;
	}
	if (kind == WIRE_TOKEN_YOURS) {
		struct export *e = bki_tokens_export_get(c, id);
		if (!e)
			return -EINVAL;
		/* The node owns nothing; the export keeps its destructor. */
		*ret_node = bki_json_local_node_new(c, e->fn, e->userdata, NULL);
		return *ret_node ? 0 : -ENOMEM;
	}
	bk_fn *f = tokens_import_receive(c, id);
	if (!f)
		return -ENOMEM;
	*ret_node = bki_json_host_node_new(f);
	if (!*ret_node) {
		bk_fn_unref(f);
		return -ENOMEM;
	}
	return 0;
}

/* The host dropped copies of one of our functions. */
void bki_tokens_dispatch_release(bk_conn *c, const struct wire_msg *m)
{
	struct export *e = map_get(&c->exports_by_id, m->fn, 0);

	if (!e || m->count > e->sent) {
		bki_conn_protocol_error(c, "ProtocolError", "release of a function not sent that many times");
		return;
	}
	e->sent -= m->count;
	bki_tokens_export_check(c, e);
}

/* The connection is lost: free every export (destructors run), except those
 * with a call running, which are freed when it returns. */
void bki_tokens_drop_exports(bk_conn *c)
{
	struct export *list = NULL, *e;
	size_t iter = 0;

	while ((e = map_next(&c->exports_by_id, &iter))) {
		e->state = EXPORT_DROPPED;
		e->sent = 0;
		e->next = list;
		list = e;
	}
	map_free(&c->exports_by_id);
	map_free(&c->exports_by_key);
	while ((e = list)) {
		list = e->next;
		if (e->calls == 0)
			export_free(c, e, true);
		else
			bki_slot_end_export(e);
	}
}

/* The connection is being freed: host functions the program still holds stay
 * valid but can no longer be called. */
void bki_tokens_detach_imports(bk_conn *c)
{
	bk_fn *f;
	size_t iter = 0;

	while ((f = map_next(&c->imports, &iter)))
		f->conn = NULL;
	map_free(&c->imports);
}

/* Send release for an import the program dropped. */
static void tokens_send_release(bk_conn *c, bk_fn *f)
{
	if (!conn_is_open(c))
		return;
	int r = buf_printf(&c->out, "{\"t\":\"release\",\"fn\":%llu,\"count\":%llu}\n",
			   (unsigned long long)f->id, (unsigned long long)f->received);
	if (r < 0) {
		bki_conn_fail(c, "Disconnected", "out of memory");
		return;
	}
	bki_conn_queued(c);
}

/* Take a reference to a host function. */
bk_fn *bk_fn_ref(bk_fn *f)
{
	if (f)
		f->refs++;
	return f;
}

/* Drop a reference; the last one releases the function to the host. */
bk_fn *bk_fn_unref(bk_fn *f)
{
	if (!f || --f->refs > 0)
		return NULL;
	if (f->conn) {
		map_remove(&f->conn->imports, f->id, 0);
		tokens_send_release(f->conn, f);
	}
	free(f);
	return NULL;
}

/* The connection a host function belongs to (NULL once it is freed). */
bk_conn *bk_fn_get_conn(const bk_fn *f)
{
	return f ? f->conn : NULL;
}
