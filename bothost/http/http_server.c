/* SPDX-License-Identifier: ISC */
/* The HTTP server: libmicrohttpd daemons in external epoll mode on the
 * default libev loop, and the life of a request.
 *
 * A request is read (its body within body_max), matched with a route, and
 * suspended while its handler works: it waits (up to handler_wait) for a
 * vacant route to get a handler, then is invoked with the request and a
 * respond function; the handler has answer_timeout to answer. Its answer,
 * or a 503 / 504 from the host, resumes the connection, and the response
 * is queued when libmicrohttpd calls back for it.
 *
 * A request is refcounted: by its connection (until libmicrohttpd says the
 * request is over), by its respond function and by a running invocation;
 * whatever outlives the connection finds conn NULL, and whatever outlives
 * the http object finds http NULL. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "core/call.h"
#include "core/errors.h"
#include "core/fn.h"
#include "core/log.h"
#include "core/value.h"
#include "http_internal.h"
#include "http_listen.h"
#include "http_mhd.h"
#include "http_route.h"
#include "http_value.h"

/* How many connections over connections_max are still accepted, to be
 * answered 503 (libmicrohttpd closes those beyond without a word). */
#define HTTP_CONNECTIONS_SLACK 64
/* The headers and query arguments of a request passed to a handler. */
#define HTTP_PAIRS_MAX 128

enum http_request_state {
	RQ_READING,		/* headers and body being read */
	RQ_WAITING,		/* for its route to get a handler */
	RQ_INVOKED,		/* at its handler */
	RQ_ANSWERED,		/* a response is ready, the connection resumed */
	RQ_DONE,		/* the response is queued, or nobody will answer */
};

struct http_request {
	unsigned refs;
	struct http *http;		/* NULL once the object stopped */
	struct http_listener *l;
	struct MHD_Connection *conn;	/* NULL once the request is over */
	enum http_request_state state;
	bool suspended;
	bool too_large;
	char *method;
	char *path;
	char *body;
	size_t body_len, body_cap;
	struct MHD_Response *response;	/* RQ_ANSWERED */
	unsigned status;
	struct fn *respond;		/* its respond function (borrowed; NULL once freed) */
	ev_timer timer;			/* the wait for a handler, or the answer's deadline */
	struct list link;		/* in http->waiting */
	struct list live;		/* in http->live */
};

/* ---- requests ------------------------------------------------------------ */

/* A new request for conn, one reference (the connection's). */
static struct http_request *request_new(struct http_listener *l, struct MHD_Connection *conn, const char *method,
					const char *url)
{
	struct http_request *rq = calloc(1, sizeof *rq);

	if (!rq)
		return NULL;
	rq->refs = 1;
	rq->http = l->http;
	rq->l = l;
	rq->conn = conn;
	list_init(&rq->link);
	list_add_tail(&l->http->live, &rq->live);
	rq->method = strdup(method);
	rq->path = strdup(url);
	return rq;
}

/* Take a reference. */
static struct http_request *request_ref(struct http_request *rq)
{
	rq->refs++;
	return rq;
}

/* Drop a reference; the last frees the request. */
static void request_unref(struct http_request *rq)
{
	if (!rq || --rq->refs)
		return;
	ev_timer_stop(EV_DEFAULT, &rq->timer);
	list_remove(&rq->link);
	list_remove(&rq->live);
	if (rq->response)
		http_mhd.destroy_response(rq->response);
	free(rq->method);
	free(rq->path);
	free(rq->body);
	free(rq);
}

/* The destructor of a respond function. */
static void request_unref_cb(void *userdata)
{
	struct http_request *rq = userdata;

	rq->respond = NULL;
	request_unref(rq);
}

/* Leave RQ_WAITING or RQ_INVOKED: out of the waiting list and the count. */
static void request_settle(struct http_request *rq)
{
	ev_timer_stop(EV_DEFAULT, &rq->timer);
	list_remove(&rq->link);
	if ((rq->state == RQ_WAITING || rq->state == RQ_INVOKED) && rq->http)
		rq->http->inflight--;
}

/* A short text response; close: the connection closes after it. */
static struct MHD_Response *http_text_response(const char *text, bool close)
{
	struct MHD_Response *resp = http_mhd.create_response_from_buffer(strlen(text), (void *)text,
									 MHD_RESPMEM_MUST_COPY);

	if (resp) {
		http_mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
		if (close)
			http_mhd.add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	}
	return resp;
}

/* The response is ready: resume the connection, which queues it. */
static void request_answer(struct http_request *rq, unsigned status, struct MHD_Response *resp)
{
	request_settle(rq);
	if (!rq->conn || !resp) {
		if (resp)
			http_mhd.destroy_response(resp);
		rq->state = RQ_DONE;
		if (rq->conn && rq->suspended) {
			/* Out of memory: resumed without a response, the connection closes. */
			http_mhd.resume_connection(rq->conn);
			rq->suspended = false;
		}
		return;
	}
	rq->response = resp;
	rq->status = status;
	rq->state = RQ_ANSWERED;
	if (rq->suspended) {
		http_mhd.resume_connection(rq->conn);
		rq->suspended = false;
		ev_feed_event(EV_DEFAULT, &rq->l->io, EV_READ);
	}
}

/* Answer with a short text from the host. */
static void request_answer_text(struct http_request *rq, unsigned status, const char *text)
{
	request_answer(rq, status, http_text_response(text, false));
}

/* Queue a response at once, from the access handler. */
static enum MHD_Result request_reply_now(struct http_request *rq, unsigned status, const char *text, bool close)
{
	struct MHD_Response *resp = http_text_response(text, close);
	enum MHD_Result r;

	rq->state = RQ_DONE;
	if (!resp)
		return MHD_NO;
	r = http_mhd.queue_response(rq->conn, status, resp);
	http_mhd.destroy_response(resp);
	return r;
}

/* ---- handlers ------------------------------------------------------------ */

/* respond(status, headers?, body?) of a request. */
static void request_respond_cb(struct fn *fn, struct call *call, void *userdata)
{
	struct http_request *rq = userdata;
	struct http_answer a;
	struct MHD_Response *resp;
	char why[200];
	int r;

	if (!rq->http || rq->state != RQ_INVOKED) {
		call_fail(call, ERR_FAILED, "the request was answered already (or timed out, or its connection "
			  "closed)");
		return;
	}
	r = http_answer_parse(call_get_arg(call, 0), call_get_arg(call, 1), call_get_arg(call, 2), &a, why,
			      sizeof why);
	if (r < 0) {
		call_fail(call, r == -ENOMEM ? ERR_FAILED : ERR_INVALID_ARGUMENTS, "respond: %s", why);
		return;
	}
	resp = http_mhd.create_response_from_buffer(a.body_len, a.body, MHD_RESPMEM_MUST_COPY);
	for (size_t i = 0; resp && i < a.n_headers; i++)
		if (http_mhd.add_response_header(resp, a.names[i], a.values[i]) != MHD_YES) {
			call_fail(call, ERR_INVALID_ARGUMENTS, "respond: the HTTP library refuses header '%.64s'",
				  a.names[i]);
			http_mhd.destroy_response(resp);
			http_answer_clear(&a);
			return;
		}
	if (!resp) {
		call_fail(call, ERR_FAILED, "out of memory");
	} else {
		request_answer(rq, a.status, resp);
		call_return(call, NULL);
	}
	http_answer_clear(&a);
}

/* The handler's invocation ended: a failure answers 503 (the handler went
 * away) or 500; a result {"status",...} is an answer; null leaves it to
 * respond. */
static void request_invoke_done(struct value *result, const struct fn_error *err, void *userdata)
{
	struct http_request *rq = userdata;
	const cJSON *res = result ? value_json(result) : NULL;

	if (rq->http && rq->state == RQ_INVOKED) {
		if (err && (strcmp(err->name, ERR_DISCONNECTED) == 0 || strcmp(err->name, ERR_LIMIT_EXCEEDED) == 0)) {
			request_answer_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "503 the handler is not available\n");
		} else if (err) {
			log_info("http: %s %s: the handler failed: %s: %s", rq->method, rq->path, err->name,
				 err->message);
			request_answer_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 the handler failed\n");
		} else if (cJSON_IsObject(res) && cJSON_GetObjectItemCaseSensitive(res, "status")) {
			struct http_answer a;
			char why[200];
			if (http_answer_parse(cJSON_GetObjectItemCaseSensitive(res, "status"),
					      cJSON_GetObjectItemCaseSensitive(res, "headers"),
					      cJSON_GetObjectItemCaseSensitive(res, "body"), &a, why, sizeof why) < 0) {
				log_info("http: %s %s: the handler answered badly: %s", rq->method, rq->path, why);
				request_answer_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 the handler failed\n");
			} else {
				struct MHD_Response *resp =
					http_mhd.create_response_from_buffer(a.body_len, a.body, MHD_RESPMEM_MUST_COPY);
				for (size_t i = 0; resp && i < a.n_headers; i++)
					http_mhd.add_response_header(resp, a.names[i], a.values[i]);
				request_answer(rq, a.status, resp);
				http_answer_clear(&a);
			}
		}
	}
	value_free(result);
	request_unref(rq);
}

/* A handler did not answer in time. */
static void request_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_request *rq = w->data;

	log_info("http: %s %s: no answer within %u ms: 504", rq->method, rq->path, rq->http->cfg.answer_timeout_ms);
	request_answer_text(rq, MHD_HTTP_GATEWAY_TIMEOUT, "504 the handler did not answer in time\n");
}

/* Copy each of a connection's values into pairs. */
struct http_pairs {
	struct http_pair p[HTTP_PAIRS_MAX];
	size_t n;
};

/* libmicrohttpd's iterator over headers or arguments. */
static enum MHD_Result http_pairs_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct http_pairs *ps = cls;

	if (ps->n == HTTP_PAIRS_MAX)
		return MHD_NO;
	ps->p[ps->n++] = (struct http_pair){ key, value ? value : "" };
	return MHD_YES;
}

/* "HOST:PORT" of the peer. */
static void request_remote(struct http_request *rq, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci = http_mhd.get_connection_info(rq->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ci->client_addr;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		port = ntohs(s4->sin_port);
		snprintf(buf, size, "%s:%u", host, port);
	} else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ci->client_addr;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
	} else {
		snprintf(buf, size, "?");
	}
}

/* The arguments of a handler's invocation: [request], respond inside. */
static struct value *request_args(struct http_request *rq)
{
	struct http_pairs *hs = calloc(2, sizeof *hs);
	struct value *args = value_new(cJSON_CreateArray());
	struct http_request_info in = { rq->method, rq->path, NULL, NULL, 0, NULL, 0, rq->body, rq->body_len };
	char remote[80];
	cJSON *json = NULL, *node;
	struct fn *respond;

	if (!hs || !args)
		goto fail;
	request_remote(rq, remote, sizeof remote);
	in.remote = remote;
	http_mhd.get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, http_pairs_cb, &hs[0]);
	http_mhd.get_connection_values(rq->conn, MHD_HEADER_KIND, http_pairs_cb, &hs[1]);
	in.query = hs[0].p;
	in.n_query = hs[0].n;
	in.headers = hs[1].p;
	in.n_headers = hs[1].n;
	if (!(json = http_request_json(&in)))
		goto fail;
	cJSON_AddItemToArray(value_root(args), json);
	respond = fn_new_native(rq->http->server, request_respond_cb, request_ref(rq), request_unref_cb);
	if (!respond) {
		request_unref(rq);
		goto fail;
	}
	rq->respond = respond;
	node = value_add_fn(args, respond);
	fn_unref(respond);
	if (!node)
		goto fail;
	cJSON_AddItemToObject(json, "respond", node);
	free(hs);
	return args;
fail:
	free(hs);
	value_free(args);
	return NULL;
}

/* ---- takeover ------------------------------------------------------------ */

/* The request that respond answers, at its handler now, or NULL. */
static struct http_request *request_by_respond(struct http *h, const struct fn *respond)
{
	for (struct list *l = h->live.next; respond && l != &h->live; l = l->next) {
		struct http_request *rq = list_entry(l, struct http_request, live);
		if (rq->respond == respond)
			return rq;
	}
	return NULL;
}

/* Put a fresh unconnected socket of the same family in the place of fd, so
 * that what libmicrohttpd does to "its" socket from now on (shutdown, close)
 * does not touch the connection. 0 or -errno. */
static int http_fd_swap_dummy(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int dummy, r = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	dummy = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (dummy < 0)
		return -errno;
	if (dup3(dummy, fd, O_CLOEXEC) < 0)
		r = -errno;
	close(dummy);
	return r;
}

/* Ready a taken-over socket for its new owner: blocking, nothing held back. */
static void http_fd_release(int fd)
{
	int off = 0, on = 1, fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
#ifdef TCP_CORK
	setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
#endif
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

/* Take the connection of the request that respond answers away from the
 * HTTP server. The request is at its handler, so its connection is
 * suspended and out of libmicrohttpd's epoll set: the socket is duplicated,
 * a dummy socket takes its number, and the connection is resumed with no
 * answer, so libmicrohttpd closes the dummy and forgets the connection. */
int http_server_takeover(struct http *h, const struct fn *respond, char *why, size_t size)
{
	struct http_request *rq = request_by_respond(h, respond);
	const union MHD_ConnectionInfo *ci;
	int fd, r;

	if (!rq || rq->state != RQ_INVOKED || !rq->conn || !rq->suspended) {
		snprintf(why, size, "the request was answered already (or timed out, or its connection closed)");
		return -EALREADY;
	}
	ci = http_mhd.get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || ci->connect_fd < 0 || (fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		snprintf(why, size, "the connection's socket cannot be duplicated");
		return -EMFILE;
	}
	if ((r = http_fd_swap_dummy(ci->connect_fd)) < 0) {
		close(fd);
		snprintf(why, size, "the connection cannot be detached: %s", strerror(-r));
		return r;
	}
	http_fd_release(fd);
	log_debug("http: %s %s: the connection is taken over", rq->method, rq->path);
	request_answer(rq, 0, NULL);
	ev_feed_event(EV_DEFAULT, &rq->l->io, EV_READ);
	return fd;
}

/* Hand rq to its route's handler. */
static void request_invoke(struct http_request *rq, struct http_route *route)
{
	struct value *args = request_args(rq);

	rq->state = RQ_INVOKED;
	route->served++;
	ev_timer_init(&rq->timer, request_deadline_cb, rq->http->cfg.answer_timeout_ms / 1000.0, 0.);
	rq->timer.data = rq;
	ev_timer_start(EV_DEFAULT, &rq->timer);
	if (!args || fn_invoke(route->fn, args, request_invoke_done, request_ref(rq)) < 0) {
		if (args)
			request_unref(rq);
		request_answer_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
	}
}

/* Nobody registered a handler in time. */
static void request_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_request *rq = w->data;

	log_info("http: %s %s: no handler within %u ms: 503", rq->method, rq->path, rq->http->cfg.handler_wait_ms);
	request_answer_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "503 no handler is registered for this path now\n");
}

/* Wait for a vacant route to get its handler. */
static void request_wait(struct http_request *rq)
{
	rq->state = RQ_WAITING;
	list_add_tail(&rq->http->waiting, &rq->link);
	ev_timer_init(&rq->timer, request_wait_cb, rq->http->cfg.handler_wait_ms / 1000.0, 0.);
	rq->timer.data = rq;
	ev_timer_start(EV_DEFAULT, &rq->timer);
}

/* Send the waiting requests whose route has a handler now. */
void http_server_wake(struct http *h)
{
	for (struct list *l = h->waiting.next, *next; l != &h->waiting; l = next) {
		struct http_request *rq = list_entry(l, struct http_request, link);
		struct http_route *route = http_route_match(&h->routes, rq->method, rq->path);
		next = l->next;
		if (!route || !route->fn)
			continue;
		list_remove(&rq->link);
		ev_timer_stop(EV_DEFAULT, &rq->timer);
		request_invoke(rq, route);
	}
}

/* The whole request is read: route it. */
static enum MHD_Result request_dispatch(struct http_request *rq)
{
	struct http *h = rq->http;
	struct http_route *route = http_route_match(&h->routes, rq->method, rq->path);

	if (!route)
		return request_reply_now(rq, MHD_HTTP_NOT_FOUND, "404 no route for this path\n", false);
	if (h->inflight >= h->cfg.inflight_max)
		return request_reply_now(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "503 too many requests in flight\n", false);
	h->inflight++;
	http_mhd.suspend_connection(rq->conn);
	rq->suspended = true;
	if (route->fn)
		request_invoke(rq, route);
	else
		request_wait(rq);
	return MHD_YES;
}

/* Keep a chunk of the body, or mark the request too large. */
static void request_body_add(struct http_request *rq, const char *data, size_t n)
{
	size_t max = rq->http->cfg.body_max;

	if (rq->too_large || n > max - rq->body_len) {
		rq->too_large = true;
		return;
	}
	if (rq->body_len + n > rq->body_cap) {
		size_t cap = rq->body_cap ? rq->body_cap : 4096;
		while (cap < rq->body_len + n)
			cap *= 2;
		char *p = realloc(rq->body, cap > max ? max : cap);
		if (!p) {
			rq->too_large = true;
			return;
		}
		rq->body = p;
		rq->body_cap = cap > max ? max : cap;
	}
	memcpy(rq->body + rq->body_len, data, n);
	rq->body_len += n;
}

/* The first call for a request: its headers are read. */
static enum MHD_Result request_begin(struct http_listener *l, struct MHD_Connection *conn, const char *url,
				     const char *method, void **con_cls)
{
	struct http *h = l->http;
	struct http_request *rq = request_new(l, conn, method, url);
	const char *cl;

	if (!rq || !rq->method || !rq->path) {
		request_unref(rq);
		return MHD_NO;
	}
	*con_cls = rq;
	h->requests++;
	if (h->stopping || h->connections > h->cfg.connections_max)
		return request_reply_now(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "503 too many connections\n", true);
	cl = http_mhd.lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > h->cfg.body_max)
		return request_reply_now(rq, MHD_HTTP_CONTENT_TOO_LARGE, "413 the body is too large\n", true);
	return MHD_YES;
}

/* libmicrohttpd's access handler: called for the headers, each chunk of
 * the body, the end of the body, and again after a resume. */
static enum MHD_Result http_access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_request *rq = *con_cls;
	enum MHD_Result r;

	if (!rq)
		return request_begin(cls, conn, url, method, con_cls);
	if (!rq->http)
		return MHD_NO;
	switch (rq->state) {
	case RQ_READING:
		break;
	case RQ_ANSWERED:
		r = http_mhd.queue_response(conn, rq->status, rq->response);
		http_mhd.destroy_response(rq->response);
		rq->response = NULL;
		rq->state = RQ_DONE;
		return r;
	case RQ_WAITING:
	case RQ_INVOKED:
		return MHD_YES;
	case RQ_DONE:
		return MHD_NO;
	}
	if (*upload_size) {
		request_body_add(rq, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_large)
		return request_reply_now(rq, MHD_HTTP_CONTENT_TOO_LARGE, "413 the body is too large\n", true);
	return request_dispatch(rq);
}

/* libmicrohttpd is done with a request (answered, or the connection closed). */
static void http_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct http_request *rq = *con_cls;

	if (!rq)
		return;
	*con_cls = NULL;
	request_settle(rq);
	rq->state = RQ_DONE;
	rq->conn = NULL;
	rq->suspended = false;
	request_unref(rq);
}

/* Count the connections open. */
static void http_connection_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
			       enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = ((struct http_listener *)cls)->http;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		h->connections++;
	else if (h->connections)
		h->connections--;
}

/* libmicrohttpd's messages, at the debug level. */
static void http_log_cb(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof buf, fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	log_debug("http: %s", buf);
}

/* ---- the loop ------------------------------------------------------------ */

/* Let the daemon work, then arm its timeout. */
static void listener_run(struct http_listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms;

	http_mhd.run(l->daemon);
	ev_timer_stop(EV_DEFAULT, &l->timer);
	if (http_mhd.get_timeout(l->daemon, &ms) == MHD_YES) {
		ev_timer_set(&l->timer, ms / 1000.0, 0.);
		ev_timer_start(EV_DEFAULT, &l->timer);
	}
}

/* The daemon's epoll descriptor is readable. */
static void listener_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	listener_run(w->data);
}

/* The daemon's timeout (idle connections). */
static void listener_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	listener_run(w->data);
}

/* Listen on addr with l. */
static int listener_start(struct http *h, struct http_listener *l, const char *addr)
{
	const union MHD_DaemonInfo *info;
	int fd = http_listen_open(addr);

	if (fd < 0) {
		log_error("http: cannot listen on %s: %s", addr, strerror(-fd));
		return fd;
	}
	l->http = h;
	l->fd = fd;
	http_listen_name(fd, l->name, sizeof l->name);
	l->daemon = http_mhd.start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, http_access_cb, l,
		MHD_OPTION_EXTERNAL_LOGGER, http_log_cb, l,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(h->cfg.connections_max + HTTP_CONNECTIONS_SLACK),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->cfg.header_max,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((h->cfg.idle_timeout_ms + 999) / 1000),
		MHD_OPTION_NOTIFY_COMPLETED, http_completed_cb, l,
		MHD_OPTION_NOTIFY_CONNECTION, http_connection_cb, l,
		MHD_OPTION_END);
	info = l->daemon ? http_mhd.get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		log_error("http: the HTTP library cannot serve %s", addr);
		if (l->daemon)
			http_mhd.stop_daemon(l->daemon);
		l->daemon = NULL;
		close(fd);
		return -ENOMEM;
	}
	ev_io_init(&l->io, listener_io_cb, info->epoll_fd, EV_READ);
	l->io.data = l;
	ev_init(&l->timer, listener_timer_cb);
	l->timer.data = l;
	ev_io_start(EV_DEFAULT, &l->io);
	log_info("http: listening on %s", l->name);
	return 0;
}

/* Stop one listener: the daemon closes its connections. */
static void listener_stop(struct http_listener *l)
{
	if (!l->daemon)
		return;
	ev_io_stop(EV_DEFAULT, &l->io);
	ev_timer_stop(EV_DEFAULT, &l->timer);
	http_mhd.stop_daemon(l->daemon);
	l->daemon = NULL;
	close(l->fd);
}

/* Load libmicrohttpd, then open every listener of the configuration. */
int http_server_start(struct http *h)
{
	char *error = NULL;
	int r = 0;

	if (!h->cfg.n_listen)
		return 0;
	if ((r = http_mhd_load(&error)) < 0) {
		log_error("http: %s", error ? error : "cannot load libmicrohttpd");
		free(error);
		return r;
	}
	if (!(h->listeners = calloc(h->cfg.n_listen, sizeof *h->listeners)))
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < h->cfg.n_listen; i++) {
		r = listener_start(h, &h->listeners[i], h->cfg.listen[i]);
		if (r == 0)
			h->n_listeners++;
	}
	return r;
}

/* Answer everything in flight with 503, then close the daemons. */
void http_server_stop(struct http *h)
{
	h->stopping = true;
	for (struct list *l = h->live.next, *next; l != &h->live; l = next) {
		struct http_request *rq = list_entry(l, struct http_request, live);
		next = l->next;
		if (rq->state == RQ_WAITING || rq->state == RQ_INVOKED)
			request_answer_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "503 the host is stopping\n");
	}
	for (size_t i = 0; i < h->n_listeners; i++)
		http_mhd.run(h->listeners[i].daemon);
	for (size_t i = 0; i < h->n_listeners; i++)
		listener_stop(&h->listeners[i]);
	while (!list_empty(&h->live)) {
		struct http_request *rq = list_entry(h->live.next, struct http_request, live);
		list_remove(&rq->live);
		rq->http = NULL;
	}
	free(h->listeners);
	h->listeners = NULL;
	h->n_listeners = 0;
}
