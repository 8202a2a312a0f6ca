/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: sessions, attaching to the host, and the loops
 * (irc_run, irc_add_select_descriptors, irc_process_select_descriptors).
 * The host's events are queued by libbotkit's handlers and delivered to the
 * program's callbacks only from the loops, so that a callback never runs
 * inside irc_connect or inside a blocking call of the library. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ircclient-internal.h"

/* libircclient 1.9's descriptions, then ours. */
static const char *const ic_errors[] = {
	"No error", "Invalid argument", "Host not resolved", "Socket error", "Could not connect",
	"Remote connection closed", "Out of memory", "Could not accept new connection",
	"Object not found", "Could not DCC send this object", "Read error", "Write error",
	"Illegal operation for this state", "Timeout error", "Could not open file",
	"IRC session terminated", "IPv6 not supported", "SSL not supported",
	"SSL initialization failed", "SSL connection failed", "SSL certificate verify failed",
	"Not supported by bothost (DCC, or a command the irc object cannot express)",
};

/* Set the session's error and return 1 (libircclient's failure). */
int ic_fail(irc_session_t *s, int err)
{
	if (s)
		s->lasterror = err;
	return 1;
}

/* 1 with LIBIRC_ERR_STATE unless the session is attached. */
int ic_check_attached(irc_session_t *s)
{
	if (!s)
		return 1;
	return s->state == IC_ATTACHED ? 0 : ic_fail(s, LIBIRC_ERR_STATE);
}

/* Append an event (takes a and b, which may be NULL); false without memory. */
bool ic_queue(irc_session_t *s, enum ic_event_kind kind, char *a, char *b)
{
	struct ic_event *e = calloc(1, sizeof *e);

	if (!e) {
		free(a);
		free(b);
		return false;
	}
	e->kind = kind;
	e->a = a;
	e->b = b;
	*s->tail = e;
	s->tail = &e->next;
	return true;
}

/* Free one event. */
static void ic_event_free(struct ic_event *e)
{
	free(e->a);
	free(e->b);
	free(e);
}

/* Free every queued event. */
void ic_queue_clear(irc_session_t *s)
{
	while (s->head) {
		struct ic_event *e = s->head;
		s->head = e->next;
		ic_event_free(e);
	}
	s->tail = &s->head;
}

/* Deliver CONNECT: once per registration of the host, with the server as origin. */
static void ic_deliver_connect(irc_session_t *s, const char *server, const char *nick)
{
	const char *params[2] = { nick, NULL };

	if (s->registered)
		return;
	s->registered = true;
	if (nick) {
		char *n = strdup(nick);
		if (n) {
			free(s->nick);
			s->nick = n;
		}
	}
	if (s->cb.event_connect)
		s->cb.event_connect(s, "CONNECT", server, params, nick ? 1 : 0);
}

/* Run the program's callbacks for the queued events, in order. */
void ic_deliver(irc_session_t *s)
{
	while (s->head && (s->state == IC_ATTACHED || s->state == IC_QUITTING)) {
		struct ic_event *e = s->head;
		const char *params[2] = { e->a, NULL };

		s->head = e->next;
		if (!s->head)
			s->tail = &s->head;
		switch (e->kind) {
		case IC_EV_LINE: ic_dispatch_line(s, e->a); break;
		case IC_EV_CONNECT: ic_deliver_connect(s, e->a, e->b); break;
		case IC_EV_DISCONNECT: s->registered = false; break;
		case IC_EV_SELF_JOIN:
			if (s->cb.event_join)
				s->cb.event_join(s, "JOIN", e->b, params, 1);
			break;
		}
		ic_event_free(e);
	}
}

/* libbotkit handler of irc `line`: queue the lines that came in. */
static void ic_line_cb(bk_conn *c, bk_args *args, void *userdata)
{
	irc_session_t *s = userdata;
	const cJSON *ev = bk_args_get(args, 0);
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "direction"));
	const char *line = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "line"));
	char *copy;

	if (s->state != IC_ATTACHED || !line || !dir || strcmp(dir, "in") != 0)
		return;
	if (!(copy = strdup(line)) || !ic_queue(s, IC_EV_LINE, copy, NULL))
		s->lasterror = LIBIRC_ERR_NOMEM;
}

/* Queue a CONNECT with the server and nick of an object like {"server","nick"}. */
static void ic_queue_connect(irc_session_t *s, const cJSON *o)
{
	const char *server = cJSON_GetStringValue(cJSON_GetObjectItem(o, "server"));
	const char *nick = cJSON_GetStringValue(cJSON_GetObjectItem(o, "nick"));
	char *a = server ? strdup(server) : NULL, *b = nick ? strdup(nick) : NULL;

	if ((server && !a) || (nick && !b) || !ic_queue(s, IC_EV_CONNECT, a, b)) {
		free(a);
		free(b);
		s->lasterror = LIBIRC_ERR_NOMEM;
	}
}

/* libbotkit handler of irc `connect` and `disconnect`. */
static void ic_state_cb(bk_conn *c, bk_args *args, void *userdata)
{
	irc_session_t *s = userdata;
	const cJSON *ev = bk_args_get(args, 0);

	if (s->state != IC_ATTACHED)
		return;
	if (cJSON_GetObjectItem(ev, "reason"))
		ic_queue(s, IC_EV_DISCONNECT, NULL, NULL);
	else
		ic_queue_connect(s, ev);
}

/* Close the connection to the host and forget what was queued. */
static void ic_close(irc_session_t *s, int err)
{
	ic_queue_clear(s);
	if (s->conn) {
		bk_conn_flush(s->conn);
		s->conn = bk_conn_unref(s->conn);
	}
	s->state = IC_CLOSED;
	s->registered = false;
	s->pending = 0;
	s->lasterror = err;
}

/* Register the handlers and learn whether the host is registered on IRC. */
static int ic_attach(irc_session_t *s)
{
	cJSON *state = NULL;
	const char *st;

	if (bk_on(s->conn, "irc", "line", ic_line_cb, s, NULL, NULL) < 0 ||
	    bk_on(s->conn, "irc", "connect", ic_state_cb, s, NULL, NULL) < 0 ||
	    bk_on(s->conn, "irc", "disconnect", ic_state_cb, s, NULL, NULL) < 0 ||
	    bk_call_sync(s->conn, "irc", "getState", &state, "") < 0)
		return -1;
	st = cJSON_GetStringValue(cJSON_GetObjectItem(state, "state"));
	if (st && strcmp(st, "connected") == 0) {
		/* Registered already: lines queued meanwhile came after it, so
		 * the CONNECT goes first (a later one is a duplicate). */
		struct ic_event *rest = s->head, **tail = s->tail;
		s->head = NULL;
		s->tail = &s->head;
		ic_queue_connect(s, state);
		if (rest && s->head) {
			s->head->next = rest;
			s->tail = tail;
		} else if (rest) {
			s->head = rest;
			s->tail = tail;
		}
	}
	bk_json_delete(state);
	return 0;
}

/* A session with a copy of the callbacks; NULL when memory runs out. */
irc_session_t *irc_create_session(irc_callbacks_t *callbacks)
{
	irc_session_t *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	if (callbacks)
		s->cb = *callbacks;
	if (!s->cb.event_ctcp_req)
		s->cb.event_ctcp_req = irc_event_ctcp_internal;
	s->tail = &s->head;
	return s;
}

/* Detach (if attached) and free the session. */
void irc_destroy_session(irc_session_t *s)
{
	if (!s)
		return;
	ic_close(s, LIBIRC_ERR_OK);
	free(s->nick);
	free(s->ctcp_version);
	free(s);
}

/* Attach to the host; the arguments are ignored (server and nick required). */
int irc_connect(irc_session_t *s, const char *server, unsigned short port, const char *server_password,
		const char *nick, const char *username, const char *realname)
{
	if (!s)
		return 1;
	if (!server || !nick)
		return ic_fail(s, LIBIRC_ERR_INVAL);
	if (s->state != IC_INIT && s->state != IC_CLOSED)
		return ic_fail(s, LIBIRC_ERR_STATE);
	if (bk_conn_new(&s->conn, NULL) < 0)
		return ic_fail(s, LIBIRC_ERR_CONNECT);
	s->state = IC_ATTACHED;
	s->lasterror = LIBIRC_ERR_OK;
	if (ic_attach(s) < 0) {
		ic_close(s, LIBIRC_ERR_CONNECT);
		return 1;
	}
	return 0;
}

/* The same: the host chooses IPv4 or IPv6. */
int irc_connect6(irc_session_t *s, const char *server, unsigned short port, const char *server_password,
		 const char *nick, const char *username, const char *realname)
{
	return irc_connect(s, server, port, server_password, nick, username, realname);
}

/* End this session now (the bot stays on IRC); inside a callback, once it returns. */
void irc_disconnect(irc_session_t *s)
{
	if (!s || s->state == IC_INIT || s->state == IC_CLOSED)
		return;
	if (s->depth > 0)
		s->state = IC_CLOSING;
	else
		ic_close(s, LIBIRC_ERR_CLOSED);
}

/* 1 while the session is attached to the host. */
int irc_is_connected(irc_session_t *s)
{
	return s && (s->state == IC_ATTACHED || s->state == IC_QUITTING);
}

/* Close a session that quit (once every call is answered) or was
 * disconnected inside a callback; 1 when it has ended. */
static int ic_ended(irc_session_t *s)
{
	if (s->state == IC_CLOSING || (s->state == IC_QUITTING && s->pending == 0))
		ic_close(s, LIBIRC_ERR_CLOSED);
	return s->state == IC_CLOSED ? 1 : 0;
}

/* Read, dispatch and write without blocking; 1 once the session has ended. */
static int ic_step(irc_session_t *s)
{
	int r;

	s->depth++;
	r = bk_conn_process(s->conn);
	if (r == 0)
		ic_deliver(s);
	s->depth--;
	if (r < 0)
		ic_close(s, LIBIRC_ERR_TERMINATED);
	return ic_ended(s);
}

/* Milliseconds until the connection's next deadline, for poll(); -1: none. */
static int ic_poll_timeout(irc_session_t *s)
{
	uint64_t at = bk_conn_get_timeout(s->conn), now;
	struct timespec ts;

	if (s->head)
		return 0;
	if (at == UINT64_MAX)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (at <= now)
		return 0;
	return (at - now) / 1000u > 60000u ? 60000 : (int)((at - now + 999u) / 1000u);
}

/* Dispatch events until the session ends: 1 with irc_errno() set (as 1.9). */
int irc_run(irc_session_t *s)
{
	if (!s || (s->state != IC_ATTACHED && s->state != IC_QUITTING))
		return ic_fail(s, LIBIRC_ERR_STATE);
	while (!ic_ended(s)) {
		struct pollfd p = { .fd = bk_conn_get_fd(s->conn), .events = (short)bk_conn_get_events(s->conn) };

		if (poll(&p, 1, ic_poll_timeout(s)) < 0 && errno != EINTR)
			return ic_fail(s, LIBIRC_ERR_TERMINATED);
		if (ic_step(s))
			return 1;
	}
	return 1;
}

/* Add the session's descriptor: in always, out while output is queued or an
 * event waits (so that select() returns at once to deliver it). */
int irc_add_select_descriptors(irc_session_t *s, fd_set *in_set, fd_set *out_set, int *maxfd)
{
	int fd;

	if (!s || (s->state != IC_ATTACHED && s->state != IC_QUITTING))
		return ic_fail(s, LIBIRC_ERR_STATE);
	fd = bk_conn_get_fd(s->conn);
	if (fd < 0 || fd >= FD_SETSIZE)
		return ic_fail(s, LIBIRC_ERR_SOCKET);
	FD_SET(fd, in_set);
	if ((bk_conn_get_events(s->conn) & POLLOUT) || s->head)
		FD_SET(fd, out_set);
	if (fd > *maxfd)
		*maxfd = fd;
	return 0;
}

/* Read, write and dispatch whatever is ready; 1 once the session has ended. */
int irc_process_select_descriptors(irc_session_t *s, fd_set *in_set, fd_set *out_set)
{
	if (!s || (s->state != IC_ATTACHED && s->state != IC_QUITTING))
		return ic_fail(s, LIBIRC_ERR_STATE);
	return ic_step(s);
}

/* The program's context pointer. */
void irc_set_ctx(irc_session_t *s, void *ctx)
{
	if (s)
		s->ctx = ctx;
}

/* The program's context pointer. */
void *irc_get_ctx(irc_session_t *s)
{
	return s ? s->ctx : NULL;
}

/* Kept for irc_event_ctcp_internal. */
void irc_set_ctcp_version(irc_session_t *s, const char *version)
{
	char *v = version ? strdup(version) : NULL;

	if (!s || (version && !v)) {
		free(v);
		return;
	}
	free(s->ctcp_version);
	s->ctcp_version = v;
}

/* The session's last error. */
int irc_errno(irc_session_t *s)
{
	return s ? s->lasterror : LIBIRC_ERR_INVAL;
}

/* The description of an error code. */
const char *irc_strerror(int ircerrno)
{
	if (ircerrno >= 0 && ircerrno < (int)(sizeof ic_errors / sizeof ic_errors[0]))
		return ic_errors[ircerrno];
	return "Invalid irc_errno value";
}

/* Set LIBIRC_OPTION_* flags. */
void irc_option_set(irc_session_t *s, unsigned int option)
{
	if (s)
		s->options |= option;
}

/* Clear LIBIRC_OPTION_* flags. */
void irc_option_reset(irc_session_t *s, unsigned int option)
{
	if (s)
		s->options &= ~option;
}

/* 1.9. */
void irc_get_version(unsigned int *high, unsigned int *low)
{
	*high = 1;
	*low = 9;
}
