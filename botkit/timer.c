/* SPDX-License-Identifier: ISC */
/* Timers of this program: a heap of slots by deadline, fired from the loop.
 *
 * A timer is a bk_slot of kind SLOT_TIMER. It is in the connection's heap
 * while active; firing takes the due ones out first (so that a timer added or
 * re-armed by a callback waits for the next turn), then calls each in
 * deadline order. While its fn runs the slot is marked firing: ending it then
 * (bk_timer_remove, the last bk_slot_unref) only marks it ended, and the
 * destroy callback and the free happen once fn has returned. */
#include "botkit-internal.h"

#include <errno.h>
#include <stdlib.h>

/* Swap two heap entries, keeping their indexes. */
static void timer_heap_swap(bk_conn *c, size_t i, size_t j)
{
	bk_slot *t = c->timers[i];

	c->timers[i] = c->timers[j];
	c->timers[j] = t;
	c->timers[i]->timer.heap_index = i;
	c->timers[j]->timer.heap_index = j;
}

/* True when heap entry i is due before entry j. */
static bool timer_heap_less(const bk_conn *c, size_t i, size_t j)
{
	return c->timers[i]->timer.deadline < c->timers[j]->timer.deadline;
}

/* Restore the heap order around index i. */
static void timer_heap_fix(bk_conn *c, size_t i)
{
	while (i > 0 && timer_heap_less(c, i, (i - 1) / 2)) {
		timer_heap_swap(c, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < c->timers_len && timer_heap_less(c, l, m))
			m = l;
		if (r < c->timers_len && timer_heap_less(c, r, m))
			m = r;
		if (m == i)
			return;
		timer_heap_swap(c, i, m);
		i = m;
	}
}

/* Make room for one more heap entry. */
static int timer_heap_reserve(bk_conn *c)
{
	if (c->timers_len < c->timers_cap)
		return 0;
	size_t cap = c->timers_cap ? c->timers_cap * 2 : 8;
	bk_slot **h = realloc(c->timers, cap * sizeof *h);
	if (!h)
		return -ENOMEM;
	c->timers = h;
	c->timers_cap = cap;
	return 0;
}

/* Add s to the heap (room was reserved). */
static void timer_heap_push(bk_conn *c, bk_slot *s)
{
	s->timer.heap_index = c->timers_len;
	c->timers[c->timers_len++] = s;
	timer_heap_fix(c, s->timer.heap_index);
}

/* Take s out of the heap if it is there. */
static void timer_heap_remove(bk_conn *c, bk_slot *s)
{
	size_t i = s->timer.heap_index;

	if (i == SIZE_MAX)
		return;
	s->timer.heap_index = SIZE_MAX;
	if (i != --c->timers_len) {
		c->timers[i] = c->timers[c->timers_len];
		c->timers[i]->timer.heap_index = i;
		timer_heap_fix(c, i);
	}
}

/* An ended timer nobody holds or runs any more: run destroy, free what is
 * no longer referenced. */
static void timer_settle(bk_slot *s)
{
	if (s->timer.firing || s->state == SLOT_ACTIVE)
		return;
	void (*destroy)(void *) = s->timer.destroy;
	s->timer.destroy = NULL;
	if (destroy)
		destroy(s->timer.userdata);
	if (s->floating || s->refs == 0)
		free(s);
}

/* End an active timer: out of the heap; destroy and free wait for fn. */
static void timer_end(bk_slot *s)
{
	if (s->state != SLOT_ACTIVE)
		return;
	s->state = SLOT_ENDED;
	timer_heap_remove(s->conn, s);
	timer_settle(s);
}

/* usec after t, kept below BK_NO_DEADLINE. */
static uint64_t timer_after(uint64_t t, uint64_t usec)
{
	return usec > BK_NO_DEADLINE - 1 - t ? BK_NO_DEADLINE - 1 : t + usec;
}

/* Start a timer. */
int bk_timer_add(bk_conn *c, uint64_t usec, bool repeat, bk_timer_fn fn, void *userdata,
		 void (*destroy)(void *), bk_slot **ret_slot)
{
	if (!c || !fn || (repeat && usec == 0))
		return -EINVAL;
	if (!conn_is_open(c))
		return -ENOTCONN;
	if (timer_heap_reserve(c) < 0)
		return -ENOMEM;
	bk_slot *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->kind = SLOT_TIMER;
	s->state = SLOT_ACTIVE;
	s->floating = !ret_slot;
	s->refs = ret_slot ? 1 : 0;
	s->conn = c;
	s->timer.deadline = timer_after(bki_run_now_usec(), usec);
	s->timer.interval = repeat ? usec : 0;
	s->timer.fn = fn;
	s->timer.userdata = userdata;
	s->timer.destroy = destroy;
	timer_heap_push(c, s);
	if (ret_slot)
		*ret_slot = s;
	return 0;
}

/* End a timer now. */
int bk_timer_remove(bk_slot *s)
{
	if (!s || s->kind != SLOT_TIMER)
		return -EINVAL;
	if (s->state != SLOT_ACTIVE)
		return 0;
	timer_end(s);
	return 1;
}

/* The program dropped its last reference to a timer's slot: cancel it. */
bk_slot *bki_timer_slot_unref(bk_slot *s)
{
	if (s->state == SLOT_ACTIVE)
		timer_end(s);
	else
		timer_settle(s);
	return NULL;
}

/* Take every timer due by now out of the heap, as a list in deadline order. */
static bk_slot *timer_take_due(bk_conn *c, uint64_t now)
{
	bk_slot *head = NULL, **tail = &head;

	while (c->timers_len > 0 && c->timers[0]->timer.deadline <= now) {
		bk_slot *s = c->timers[0];
		timer_heap_remove(c, s);
		s->timer.firing = true;
		s->timer.due_next = NULL;
		*tail = s;
		tail = &s->timer.due_next;
	}
	return head;
}

/* After fn: re-arm a repeating timer still active, end a once timer. */
static void timer_fired(bk_conn *c, bk_slot *s, uint64_t now)
{
	s->timer.firing = false;
	if (s->state == SLOT_ACTIVE && s->timer.interval && conn_is_open(c) &&
	    timer_heap_reserve(c) == 0) {
		s->timer.deadline = timer_after(s->timer.deadline, s->timer.interval);
		if (s->timer.deadline <= now)
			s->timer.deadline = timer_after(now, s->timer.interval);
		timer_heap_push(c, s);
		return;
	}
	if (s->state == SLOT_ACTIVE)
		s->state = SLOT_ENDED;
	timer_settle(s);
}

/* Fire the timers that are due (each at most once per call). */
void bki_timer_expire(bk_conn *c)
{
	if (c->timers_len == 0 || !conn_is_open(c))
		return;
	uint64_t now = bki_run_now_usec();
	if (c->timers[0]->timer.deadline > now)
		return;
	bk_conn_ref(c);
	bk_slot *s = timer_take_due(c, now);
	while (s) {
		bk_slot *next = s->timer.due_next;
		/* A timer ended by an earlier callback of this turn is not called. */
		if (s->state == SLOT_ACTIVE && conn_is_open(c))
			s->timer.fn(c, s, s->timer.userdata);
		timer_fired(c, s, now);
		s = next;
	}
	bk_conn_unref(c);
}

/* The earliest deadline of an active timer, or BK_NO_DEADLINE. */
uint64_t bki_timer_next_deadline(const bk_conn *c)
{
	return c->timers_len > 0 ? c->timers[0]->timer.deadline : BK_NO_DEADLINE;
}

/* The connection is lost or freed: end every timer (destructors run). */
void bki_timer_end_all(bk_conn *c)
{
	while (c->timers_len > 0)
		timer_end(c->timers[0]);
}
