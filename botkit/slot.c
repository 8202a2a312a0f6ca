/* SPDX-License-Identifier: ISC */
/* Event registrations: on / once / off (PROTOCOL.md, section 6) and slots.
 *
 * A slot is linked to the export of its function while the registration is
 * active. It ends when the host refuses the registration, when off removes
 * it, when the host releases the function for good (removed, a once handler
 * fired, disconnect), or when the program drops its last reference (which
 * sends off). A floating slot belongs to the connection and is freed when it
 * ends. */
#include "botkit-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A new slot, not linked yet. */
static bk_slot *slot_new(bk_conn *c, const char *obj, const char *event, bool floating)
{
	bk_slot *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->refs = floating ? 0 : 1;
	s->floating = floating;
	s->state = SLOT_ENDED;
	s->conn = c;
	s->obj = strdup(obj);
	s->event = strdup(event);
	if (!s->obj || !s->event) {
		free(s->obj);
		free(s->event);
		free(s);
		return NULL;
	}
	return s;
}

/* Free a slot's memory. */
static void slot_free(bk_slot *s)
{
	if (s->pending)
		s->pending->slot = NULL;
	free(s->obj);
	free(s->event);
	free(s);
}

/* Link an active slot at the end of its export's list. */
static void slot_link(bk_slot *s, struct export *e)
{
	bk_slot *tail = e->slots;

	while (tail && tail->next)
		tail = tail->next;
	s->prev = tail;
	s->next = NULL;
	if (tail)
		tail->next = s;
	else
		e->slots = s;
	s->export = e;
	s->state = SLOT_ACTIVE;
}

/* End a registration; a floating slot is freed. */
void bki_slot_end(bk_slot *s)
{
	if (s->state != SLOT_ACTIVE)
		return;
	struct export *e = s->export;
	if (s->prev)
		s->prev->next = s->next;
	else
		e->slots = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->export = NULL;
	s->state = SLOT_ENDED;
	if (s->floating)
		slot_free(s);
}

/* The host no longer holds the function: end every registration made with it. */
void bki_slot_end_export(struct export *e)
{
	while (e->slots)
		bki_slot_end(e->slots);
}

/* The host answered the on/once request. */
void bki_slot_answered(bk_slot *s, const bk_error *err)
{
	s->pending->slot = NULL;
	s->pending = NULL;
	if (err)
		bki_slot_end(s);
}

/* Send obj.on/once(event, fn, filter?) and make the slot; *ret_slot gets
 * the slot, or NULL for a floating one. */
static int slot_register(bk_conn *c, const char *method, const char *obj, const char *event,
			 const cJSON *filter, bk_function fn, void *userdata, void (*destroy)(void *),
			 struct request *rq, bk_slot **ret_slot)
{
	struct pending *p = NULL;

	if (!c || !obj || !event || !fn)
		return -EINVAL;
	bk_slot *s = slot_new(c, obj, event, !ret_slot);
	if (!s)
		return -ENOMEM;
	rq->kind = REQUEST_CALL;
	rq->obj = obj;
	rq->method = method;
	rq->timeout = c->timeout;
	int r = filter ? bki_call_start_sig(c, rq, &p, "sfj", event, fn, userdata, destroy, filter)
		       : bki_call_start_sig(c, rq, &p, "sf", event, fn, userdata, destroy);
	if (r < 0) {
		slot_free(s);
		return r;
	}
	struct export *e = conn_is_open(c) ? bki_tokens_export_find(c, fn, userdata) : NULL;
	if (e) {
		slot_link(s, e);
		s->pending = p;
		p->slot = s;
	} else if (s->floating) {
		slot_free(s);
	}
	if (ret_slot)
		*ret_slot = s;
	return 0;
}

/* Register and wait for the host's answer. */
static int slot_register_sync(bk_conn *c, const char *method, const char *obj, const char *event,
			      bk_function fn, void *userdata, void (*destroy)(void *),
			      bk_slot **ret_slot)
{
	struct sync_wait st = { 0 };
	struct request rq = { .sync = &st };
	bk_slot *s = NULL;

	if (!c)
		return -EINVAL;
	bki_call_sync_begin(c);
	int r = slot_register(c, method, obj, event, NULL, fn, userdata, destroy, &rq,
			      ret_slot ? &s : NULL);
	if (r < 0)
		return r;
	r = bki_call_wait(c, &st);
	bk_json_delete(st.result);
	if (r < 0)
		s = bk_slot_unref(s);
	if (ret_slot && r >= 0)
		*ret_slot = s;
	return r < 0 ? r : 0;
}

/* Register fn for obj's event (blocking). */
int bk_on(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
	  void (*destroy)(void *), bk_slot **ret_slot)
{
	return slot_register_sync(c, "on", obj, event, fn, userdata, destroy, ret_slot);
}

/* Register fn for obj's event, removed after the first event (blocking). */
int bk_once(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
	    void (*destroy)(void *), bk_slot **ret_slot)
{
	return slot_register_sync(c, "once", obj, event, fn, userdata, destroy, ret_slot);
}

/* Register fn for obj's event; done reports the host's answer. */
int bk_on_async(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
		void (*destroy)(void *), bk_slot **ret_slot, bk_reply_fn done, void *done_userdata)
{
	struct request rq = { .reply = done, .userdata = done_userdata };

	return slot_register(c, "on", obj, event, NULL, fn, userdata, destroy, &rq, ret_slot);
}

/* on or once with a filter object (borrowed; NULL: none); done reports the host's answer. */
int bki_slot_register_filtered(bk_conn *c, bool once, const char *obj, const char *event, const cJSON *filter,
			       bk_function fn, void *userdata, void (*destroy)(void *), bk_slot **ret_slot,
			       bk_reply_fn done, void *done_userdata)
{
	struct request rq = { .reply = done, .userdata = done_userdata };

	return slot_register(c, once ? "once" : "on", obj, event, filter, fn, userdata, destroy, &rq, ret_slot);
}

/* The same, removed after the first event. */
int bk_once_async(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
		  void (*destroy)(void *), bk_slot **ret_slot, bk_reply_fn done, void *done_userdata)
{
	struct request rq = { .reply = done, .userdata = done_userdata };

	return slot_register(c, "once", obj, event, NULL, fn, userdata, destroy, &rq, ret_slot);
}

/* off removed a registration: end the most recent matching slot. */
static void slot_removed(bk_conn *c, const char *obj, const char *event, bk_function fn,
			 void *userdata)
{
	struct export *e = bki_tokens_export_find(c, fn, userdata);
	bk_slot *match = NULL;

	for (bk_slot *s = e ? e->slots : NULL; s; s = s->next)
		if (strcmp(s->obj, obj) == 0 && strcmp(s->event, event) == 0)
			match = s;
	if (match)
		bki_slot_end(match);
}

/* Remove the most recent registration of (fn, userdata) for the event (blocking). */
int bk_off(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata)
{
	struct sync_wait st = { 0 };
	struct request rq = { .kind = REQUEST_CALL, .obj = obj, .method = "off", .sync = &st };

	if (!c || !obj || !event || !fn)
		return -EINVAL;
	rq.timeout = c->timeout;
	bki_call_sync_begin(c);
	int r = bki_call_start_sig(c, &rq, NULL, "sf", event, fn, userdata, (void (*)(void *))NULL);
	if (r < 0)
		return r;
	r = bki_call_wait(c, &st);
	bool removed = r >= 0 && cJSON_IsTrue(st.result);
	bk_json_delete(st.result);
	if (r < 0)
		return r;
	if (removed)
		slot_removed(c, obj, event, fn, userdata);
	return removed ? 1 : 0;
}

/* Take a reference to a slot. */
bk_slot *bk_slot_ref(bk_slot *s)
{
	if (s && !s->floating)
		s->refs++;
	return s;
}

/* Drop a reference; the last one removes an active registration (off is
 * sent) or cancels a timer. */
bk_slot *bk_slot_unref(bk_slot *s)
{
	if (!s || s->floating || --s->refs > 0)
		return NULL;
	if (s->kind == SLOT_TIMER)
		return bki_timer_slot_unref(s);
	if (s->kind == SLOT_SERVICE)
		return bki_provide_slot_unref(s);
	if (s->state == SLOT_ACTIVE && conn_is_open(s->conn)) {
		struct request rq = { .kind = REQUEST_CALL, .obj = s->obj, .method = "off",
				      .timeout = s->conn->timeout };
		bki_call_start_sig(s->conn, &rq, NULL, "sf", s->event, s->export->fn,
			       s->export->userdata, (void (*)(void *))NULL);
	}
	bki_slot_end(s);
	slot_free(s);
	return NULL;
}

/* False once the registration has ended. */
bool bk_slot_is_active(bk_slot *s)
{
	return s && s->state == SLOT_ACTIVE;
}
