/* SPDX-License-Identifier: ISC */
/* One connected client. */
#include "config.h"

#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "wire/buf.h"
#include "wire/fdq.h"
#include "call.h"
#include "clock.h"
#include "emitter.h"
#include "errors.h"
#include "fn.h"
#include "wire/frame.h"
#include "later.h"
#include "log.h"
#include "object.h"
#include "server.h"
#include "services.h"
#include "tokens.h"
#include "value.h"
#include "wire/wire.h"

#define CLIENT_READ_CHUNK 65536
#define CLIENT_READS_PER_EVENT 8
/* While a read batch is handled, its answers are written once this many bytes
 * are queued, the mark doubling after each such write up to the maximum: the
 * peer starts on the first answers while the rest are computed, and a long
 * batch costs only a few writes. Writing a read's answers all at its end
 * wakes the peer once instead of four times, but host and peer then take
 * turns instead of working at once: on two CPUs it about halved the pipelined
 * calls a second (docs/PERFORMANCE.md). */
#define CLIENT_EARLY_WRITE_MIN 256
#define CLIENT_EARLY_WRITE_MAX 262144
/* How long a closing connection may take to flush its last error. */
#define CLIENT_LINGER_SECONDS 1.0

enum client_state {
	CLIENT_HELLO,	/* connected, waiting for hello */
	CLIENT_OPEN,	/* handshake done */
	CLIENT_CLOSING,	/* doomed: no more input; unwound from the loop shortly */
	CLIENT_UNWINDING,	/* client_lost is dropping what it held */
	CLIENT_LINGER,	/* unwound; flushing a last error before closing */
	CLIENT_DEAD,	/* unwound and closed; freed from the loop */
};

struct client {
	struct server *server;
	enum client_state state;
	int fd;
	uint64_t id;
	char *name;
	pid_t pid;
	uid_t uid;
	bool privileged;
	bool registered;	/* in the server's registry */
	bool welcomed;		/* the handshake completed */
	bool linger;		/* flush the output before closing */
	bool eof;		/* the peer finished sending */
	bool in_batch;		/* handling a read batch: output waits for early_write or its end */
	bool untrusted_socket;	/* accepted on an untrusted socket */
	size_t accounted;	/* output bytes charged to the server's budget */
	size_t early_write;	/* queued bytes that get written during the batch */
	int io_events;
	ev_io io;
	ev_timer linger_timer;
	ev_timer hello_timer;	/* the handshake deadline, when started */
	uint64_t hello_since_ms;	/* when it started (clock_now_ms) */
	bool hello_extended;	/* the deadline waited once for bytes already sent */
	struct frame_reader in;
	struct buf out;
	/* The "fd" extension: descriptors received and not yet claimed by a
	 * frame; those of the frame being handled; those queued to send (each
	 * tagged with where its frame ends, counted in out_sent's bytes). */
	struct fdq fds_in;
	int frame_fds[WIRE_FDS_MAX];
	size_t frame_nfds;
	struct fdq fds_out;
	size_t fds_out_mark;	/* entries of fds_out before the message being built */
	uint64_t out_sent;	/* bytes written to the socket so far */
	bool out_mid_frame;	/* the head frame of out is partly written */
	struct later flush_later;
	struct later lost_later;
	struct later free_later;
	struct tokens tokens;
	struct call_table calls;
	struct list listeners;
	size_t nlisteners;
	struct list link;
	uint64_t frames_in;
	uint64_t frames_out;
	struct value *context;	/* what host.context() answers, or NULL */
};

static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void client_linger_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void client_hello_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void client_flush_cb(void *userdata);
static void client_lost_cb(void *userdata);
static void client_free_cb(void *userdata);
static void client_fail(struct client *c, const char *name, const char *message, const cJSON *data);

/* Accessors: identity, state and the per-client state other modules keep. */
struct server *client_get_server(const struct client *c) { return c->server; }
uint64_t client_get_id(const struct client *c) { return c->id; }
const char *client_get_name(const struct client *c) { return c->name; }
pid_t client_get_pid(const struct client *c) { return c->pid; }
uid_t client_get_uid(const struct client *c) { return c->uid; }
bool client_is_privileged(const struct client *c) { return c->privileged; }
bool client_is_open(const struct client *c) { return c->state == CLIENT_OPEN; }
size_t client_queued_bytes(const struct client *c) { return buf_pending(&c->out); }
const struct server_config *client_config(const struct client *c) { return server_get_config(c->server); }
size_t client_frame_max(const struct client *c) { return c->in.max; }
struct tokens *client_tokens(struct client *c) { return &c->tokens; }
struct call_table *client_calls(struct client *c) { return &c->calls; }
struct list *client_listeners(struct client *c) { return &c->listeners; }
void client_listener_add(struct client *c) { c->nlisteners++; }
void client_listener_remove(struct client *c) { c->nlisteners--; }
size_t client_listener_count(const struct client *c) { return c->nlisteners; }
struct list *client_link(struct client *c) { return &c->link; }
struct client *client_from_link(struct list *l) { return list_entry(l, struct client, link); }
bool client_is_closing(const struct client *c) { return c->state >= CLIENT_CLOSING; }
void client_set_untrusted_socket(struct client *c) { c->untrusted_socket = true; }
bool client_on_untrusted_socket(const struct client *c) { return c->untrusted_socket; }

/* Charge the server's output budget with what the queue holds now; nothing
 * once the client is closing (client_start_closing). */
static void client_account(struct client *c)
{
	size_t now = client_is_closing(c) ? 0 : buf_pending(&c->out);

	if (now == c->accounted)
		return;
	server_output_charge(c->server, c->uid, c->accounted, now);
	c->accounted = now;
}

/* Replace the client's context. */
void client_set_context(struct client *c, struct value *v)
{
	value_free(c->context);
	c->context = v;
}

/* Grant or withdraw the privileged methods. */
void client_set_privileged(struct client *c, bool privileged)
{
	c->privileged = privileged;
}

/* The client's context, or NULL. */
const struct value *client_get_context(const struct client *c)
{
	return c->context;
}

/* The peer's credentials, as the kernel saw them at connect time. */
static void client_get_peer(struct client *c)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	c->uid = (uid_t)-1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
}

/* Allocate the state of a connection on fd (taken). */
static struct client *client_alloc(struct server *s, int fd)
{
	struct client *c = calloc(1, sizeof *c);

	if (!c) {
		close(fd);
		return NULL;
	}
	c->server = s;
	c->fd = fd;
	c->state = CLIENT_HELLO;
	frame_reader_init(&c->in, server_get_config(s)->frame_max);
	fdq_init(&c->fds_in);
	fdq_init(&c->fds_out);
	tokens_init(&c->tokens);
	call_table_init(&c->calls);
	list_init(&c->listeners);
	list_init(&c->link);
	later_init(&c->flush_later, server_later(s), client_flush_cb, c);
	later_init(&c->lost_later, server_later(s), client_lost_cb, c);
	later_init(&c->free_later, server_later(s), client_free_cb, c);
	ev_io_init(&c->io, client_io_cb, fd, EV_READ);
	c->io.data = c;
	ev_timer_init(&c->linger_timer, client_linger_cb, CLIENT_LINGER_SECONDS, 0.);
	c->linger_timer.data = c;
	ev_timer_init(&c->hello_timer, client_hello_cb, 0., 0.);
	c->hello_timer.data = c;
	client_get_peer(c);
	return c;
}

/* Start serving a connection. */
struct client *client_new(struct server *s, int fd)
{
	struct client *c = client_alloc(s, fd);

	if (!c)
		return NULL;
	c->id = server_client_add(s, c);
	c->registered = true;
	c->io_events = EV_READ;
	ev_io_start(EV_DEFAULT, &c->io);
	log_debug("client %" PRIu64 " connected (uid %ld, pid %ld)", c->id, (long)c->uid, (long)c->pid);
	return c;
}

/* Give the connection hello_timeout to say hello. */
void client_start_hello_deadline(struct client *c)
{
	unsigned ms = client_config(c)->hello_timeout_ms;

	if (!ms || c->state != CLIENT_HELLO)
		return;
	c->hello_since_ms = clock_now_ms();
	ev_timer_set(&c->hello_timer, ms / 1000.0, 0.);
	ev_timer_start(EV_DEFAULT, &c->hello_timer);
}

/* No hello in time: a Timeout connection error frees the slot. */
static void client_hello_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;
	uint64_t limit = client_config(c)->hello_timeout_ms, waited = clock_now_ms() - c->hello_since_ms;
	int unread = 0;
	char message[96];

	/* The loop's time may have been stale when the deadline was set (after
	 * a long step, under valgrind), and a hello may be waiting unread behind
	 * this timer: judge by the clock, and wait once for bytes already sent. */
	if (waited < limit || (!c->hello_extended && ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0)) {
		c->hello_extended |= waited >= limit;
		ev_timer_set(w, waited < limit ? (double)(limit - waited) / 1000.0 : 0.1, 0.);
		ev_timer_start(loop, w);
		return;
	}

	snprintf(message, sizeof message, "no hello within %u ms (hello_timeout)", client_config(c)->hello_timeout_ms);
	client_fail(c, ERR_TIMEOUT, message, NULL);
}

/* Watch the socket for events (EV_READ and/or EV_WRITE, or 0). */
static void client_set_events(struct client *c, int events)
{
	if (c->io_events == events)
		return;
	ev_io_stop(EV_DEFAULT, &c->io);
	ev_io_set(&c->io, c->fd, events);
	if (events)
		ev_io_start(EV_DEFAULT, &c->io);
	c->io_events = events;
}

/* Write as much queued output as the kernel takes: 0, or -errno. */
static int client_write(struct client *c)
{
	while (buf_pending(&c->out) > 0) {
		ssize_t n = fdq_send(c->fd, buf_head(&c->out), buf_pending(&c->out), &c->fds_out);
		c->fds_out_mark = fdq_len(&c->fds_out);
		if (n > 0) {
			c->out_mid_frame = buf_head(&c->out)[n - 1] != '\n';
			buf_consume(&c->out, (size_t)n);
			c->out_sent += (uint64_t)n;
			continue;
		}
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return 0;
		return n < 0 ? (int)n : -EPIPE;
	}
	return 0;
}

/* Drop the queued output and the descriptors that were to go with it. */
static void client_drop_output(struct client *c)
{
	buf_clear(&c->out);
	fdq_truncate(&c->fds_out, 0);
	c->fds_out_mark = 0;
}

/* Write queued output now; wait for EV_WRITE only when the kernel is full. */
static void client_flush(struct client *c)
{
	int r;

	later_cancel(&c->flush_later);
	if (c->state >= CLIENT_DEAD)
		return;
	r = client_write(c);
	client_account(c);
	if (r < 0) {
		client_drop_output(c);
		if (c->state == CLIENT_LINGER) {
			c->eof = true;
			client_lost(c);
		} else {
			client_kill(c, strerror(-r));
		}
		return;
	}
	int events = c->state == CLIENT_CLOSING ? 0 : EV_READ;
	if (buf_pending(&c->out) > 0)
		events |= EV_WRITE;
	client_set_events(c, events);
}

/* Deferred write of queued output. */
static void client_flush_cb(void *userdata)
{
	client_flush(userdata);
}

/* A client over output_max: drop what it has not read, except the rest of the
 * frame being written, and queue the error that says why before closing. */
static void client_cut_off(struct client *c)
{
	const char *head = buf_head(&c->out);
	const char *nl = memchr(head, '\n', buf_pending(&c->out));

	buf_truncate(&c->out, c->out.off + (nl && c->out_mid_frame ? (size_t)(nl - head) + 1 : 0));
	/* The descriptors of the frames dropped go too; those of the kept one stay. */
	fdq_truncate_tag(&c->fds_out, c->out_sent + buf_pending(&c->out));
	c->fds_out_mark = fdq_len(&c->fds_out);
	client_fail(c, ERR_LIMIT_EXCEEDED, "output queue over output_max (not reading)", NULL);
}

/* A message was appended: see that it gets written, and enforce output_max. */
static void client_output_commit(struct client *c)
{
	size_t queued = buf_pending(&c->out);

	c->frames_out++;
	if (queued > client_config(c)->output_max || (c->in_batch && queued >= c->early_write)) {
		if (c->early_write < CLIENT_EARLY_WRITE_MAX)
			c->early_write *= 2;
		int r = client_write(c);
		if (r < 0) {
			client_drop_output(c);
			client_kill(c, strerror(-r));
			return;
		}
		if (buf_pending(&c->out) > client_config(c)->output_max) {
			client_cut_off(c);
			return;
		}
	}
	client_account(c);
	server_output_enforce(c->server, c->uid);
	if (!c->in_batch && !(c->io_events & EV_WRITE) && buf_pending(&c->out) > 0)
		later_schedule(&c->flush_later);
}

/* True while the client may still be sent messages. */
static bool client_accepts_output(const struct client *c)
{
	return c->state == CLIENT_HELLO || c->state == CLIENT_OPEN;
}

/* The "fds" member of a message that carries descriptors, and their tags. */
static int client_put_fds(struct client *c)
{
	size_t n = fdq_len(&c->fds_out) - c->fds_out_mark;
	int r;

	if (n == 0)
		return 0;
	r = buf_puts(&c->out, ",\"fds\":");
	if (r == 0)
		r = wire_write_u64(&c->out, n);
	for (size_t i = c->fds_out_mark; r == 0 && i < fdq_len(&c->fds_out); i++)
		c->fds_out.tags[i] = c->out_sent + buf_pending(&c->out) + 2;	/* and "}\n" */
	return r;
}

/* Finish a message started at mark (relative to the unconsumed start). */
static int client_end_message(struct client *c, size_t mark, int r)
{
	if (r == 0)
		r = client_put_fds(c);
	if (r == 0)
		r = buf_append(&c->out, "}\n", 2);
	if (r < 0) {
		buf_truncate(&c->out, c->out.off + mark);
		fdq_truncate(&c->fds_out, c->fds_out_mark);
		return r;
	}
	c->fds_out_mark = fdq_len(&c->fds_out);
	client_output_commit(c);
	return 0;
}

/* Queue a duplicate of fd to go with the message being built: its index in
 * that message, or -ETOOMANYREFS (fds_per_frame, fds_max) or -errno. */
int client_queue_fd(struct client *c, int fd, unsigned *ret_index)
{
	const struct server_config *cfg = client_config(c);
	size_t in_frame = fdq_len(&c->fds_out) - c->fds_out_mark;
	int copy;

	if (in_frame >= cfg->fds_per_frame || fdq_len(&c->fds_out) >= cfg->fds_max)
		return -ETOOMANYREFS;
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	int r = fdq_push(&c->fds_out, copy, UINT64_MAX);
	if (r < 0)
		return r;
	*ret_index = (unsigned)in_frame;
	return 0;
}

/* Descriptors queued to send, for client_fds_undo. */
size_t client_fds_queued(const struct client *c)
{
	return fdq_len(&c->fds_out);
}

/* Drop the descriptors queued after the first len (an encoding failed). */
void client_fds_undo(struct client *c, size_t len)
{
	if (len >= c->fds_out_mark)
		fdq_truncate(&c->fds_out, len);
}

/* A duplicate of the n-th descriptor of the frame being handled (the caller
 * owns it), or -EBADMSG when the frame carries no such descriptor. */
int client_frame_fd(struct client *c, size_t n)
{
	if (n >= c->frame_nfds || c->frame_fds[n] < 0)
		return -EBADMSG;
	int fd = fcntl(c->frame_fds[n], F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

/* {"t":"result","id":id,"value":v} */
int client_send_result(struct client *c, uint64_t id, const struct value *v)
{
	return client_send_result_node(c, id, v, v ? value_json(v) : NULL);
}

/* {"t":"result","id":id,"value":node}, node being a node of v */
int client_send_result_node(struct client *c, uint64_t id, const struct value *v, const cJSON *node)
{
	size_t mark = buf_pending(&c->out);
	int r;

	if (!client_accepts_output(c))
		return 0;
	r = buf_append(&c->out, "{\"t\":\"result\",\"id\":", 19);
	if (r == 0)
		r = wire_write_u64(&c->out, id);
	if (r == 0)
		r = buf_append(&c->out, ",\"value\":", 9);
	if (r == 0)
		r = value_encode_node(&c->out, v, node, c);
	return client_end_message(c, mark, r);
}

/* The body of an error: name, message and optional data. */
static int client_put_error(struct client *c, const char *name, const char *message, const struct value *data)
{
	int r = buf_puts(&c->out, "\"error\":{\"name\":");

	if (r == 0)
		r = wire_write_string(&c->out, name);
	if (r == 0)
		r = buf_puts(&c->out, ",\"message\":");
	if (r == 0)
		r = wire_write_string(&c->out, message ? message : "");
	if (r == 0 && data) {
		size_t mark = buf_pending(&c->out);
		r = buf_puts(&c->out, ",\"data\":");
		if (r == 0)
			r = value_encode_in(&c->out, data, 2, c);	/* inside "error" */
		if (r < 0) {
			/* Data that cannot be sent is left out rather than losing the error. */
			buf_truncate(&c->out, c->out.off + mark);
			r = 0;
		}
	}
	if (r == 0)
		r = buf_putc(&c->out, '}');
	return r;
}

int client_send_error(struct client *c, uint64_t id, const char *name, const char *message,
		      const struct value *data)
{
	size_t mark = buf_pending(&c->out);
	int r;

	if (!client_accepts_output(c))
		return 0;
	r = buf_puts(&c->out, "{\"t\":\"error\",");
	if (r == 0 && id) {
		r = buf_puts(&c->out, "\"id\":");
		if (r == 0)
			r = wire_write_u64(&c->out, id);
		if (r == 0)
			r = buf_putc(&c->out, ',');
	}
	if (r == 0)
		r = client_put_error(c, name, message, data);
	return client_end_message(c, mark, r);
}

/* The start of an invoke: {"t":"invoke",["id":N,]"fn":M,"args": */
static int client_put_invoke(struct client *c, uint64_t fn_id, uint64_t id)
{
	int r = buf_append(&c->out, "{\"t\":\"invoke\",", 14);

	if (r == 0 && id) {
		r = buf_append(&c->out, "\"id\":", 5);
		if (r == 0)
			r = wire_write_u64(&c->out, id);
		if (r == 0)
			r = buf_putc(&c->out, ',');
	}
	if (r == 0)
		r = buf_append(&c->out, "\"fn\":", 5);
	if (r == 0)
		r = wire_write_u64(&c->out, fn_id);
	if (r == 0)
		r = buf_append(&c->out, ",\"args\":", 8);
	return r;
}

/* A notification could not be queued: rather than miss it unknowingly, the
 * client is cut off, told why when it is tokens_max. */
static void client_notify_failed(struct client *c, int r)
{
	if (r == -ENOBUFS)
		client_evict(c, ERR_LIMIT_EXCEEDED, "a notification (an event) for this client would pass "
			     "tokens_max; the connection is closed rather than miss it");
	else
		client_kill(c, "no memory for a notification");
}

/* {"t":"invoke",["id":id,]"fn":fn_id,"args":args} */
int client_send_invoke(struct client *c, uint64_t fn_id, uint64_t id, const struct value *args)
{
	size_t mark = buf_pending(&c->out);
	int r;

	if (!client_accepts_output(c))
		return 0;
	r = client_put_invoke(c, fn_id, id);
	if (r == 0)
		r = args ? value_encode(&c->out, args, c) : buf_append(&c->out, "[]", 2);
	r = client_end_message(c, mark, r);
	if (r < 0 && !id)
		client_notify_failed(c, r);
	return r;
}

/* An invoke notification with arguments already encoded. */
int client_send_invoke_text(struct client *c, uint64_t fn_id, const char *args, size_t len)
{
	size_t mark = buf_pending(&c->out);
	int r;

	if (!client_accepts_output(c))
		return 0;
	r = client_put_invoke(c, fn_id, 0);
	if (r == 0)
		r = buf_append(&c->out, args, len);
	r = client_end_message(c, mark, r);
	if (r < 0)
		client_notify_failed(c, r);
	return r;
}

/* Forget an import nobody holds any more and release it to the client. */
void client_drop_import(struct client *c, uint64_t fn_id, uint64_t received)
{
	size_t mark = buf_pending(&c->out);
	int r;

	tokens_import_remove(&c->tokens, fn_id);
	if (!client_accepts_output(c))
		return;
	r = buf_append(&c->out, "{\"t\":\"release\",\"fn\":", 20);
	if (r == 0)
		r = wire_write_u64(&c->out, fn_id);
	if (r == 0)
		r = buf_append(&c->out, ",\"count\":", 9);
	if (r == 0)
		r = wire_write_u64(&c->out, received);
	if (client_end_message(c, mark, r) < 0)
		log_error("client %" PRIu64 ": cannot queue a release: out of memory", c->id);
}

/* Doom the client: no more input; it is unwound from the loop. What it still
 * has to write leaves the output budget now: it is dropped when the client is
 * unwound, or when the linger after it ends (one cut off keeps at most the
 * rest of a frame and its error), and counting it would get open clients cut
 * off or refused for bytes they do not hold. */
static void client_start_closing(struct client *c)
{
	c->state = CLIENT_CLOSING;
	client_account(c);
	later_schedule(&c->lost_later);
}

/* Send a connection error and close once it is flushed. */
static void client_fail(struct client *c, const char *name, const char *message, const cJSON *data)
{
	if (c->state >= CLIENT_CLOSING)
		return;
	/* A refused connection (no id) is logged by the server, without a flood. */
	if (c->id)
		log_info("client %" PRIu64 ": %s: %s", c->id, name, message);
	else
		log_debug("refused connection: %s: %s", name, message);
	if (wire_write_error(&c->out, 0, name, message, data) == 0)
		c->frames_out++;
	c->linger = true;
	client_start_closing(c);
}

/* Cut the client off; it is unwound from the loop. */
void client_kill(struct client *c, const char *why)
{
	if (c->state >= CLIENT_CLOSING)
		return;
	log_info("client %" PRIu64 " dropped: %s", c->id, why);
	client_drop_output(c);
	client_start_closing(c);
}

/* Cut the client off for the host's output budget: what it has not read is
 * dropped, except the rest of the frame being written, for the error. */
void client_evict(struct client *c, const char *name, const char *message)
{
	const char *head = buf_head(&c->out);
	const char *nl = buf_pending(&c->out) ? memchr(head, '\n', buf_pending(&c->out)) : NULL;

	if (c->state >= CLIENT_CLOSING)
		return;
	buf_truncate(&c->out, c->out.off + (nl && c->out_mid_frame ? (size_t)(nl - head) + 1 : 0));
	/* The descriptors of the frames dropped go too; those of the kept one stay. */
	fdq_truncate_tag(&c->fds_out, c->out_sent + buf_pending(&c->out));
	c->fds_out_mark = fdq_len(&c->fds_out);
	client_fail(c, name, message, NULL);
}

/* A connection the host will not serve: error, flush, close. */
void client_refuse(struct server *s, int fd, const char *name, const char *message)
{
	struct client *c = client_alloc(s, fd);

	if (!c)
		return;
	c->io_events = EV_READ;
	ev_io_start(EV_DEFAULT, &c->io);
	client_fail(c, name, message, NULL);
	later_cancel(&c->lost_later);
	client_lost(c);
}

/* The welcome: version, server, client id, limits and objects. */
static int client_send_welcome(struct client *c)
{
	const struct server_config *cfg = client_config(c);
	size_t mark = buf_pending(&c->out);
	size_t len;
	const char *objects = object_introspection_text(server_objects(c->server), &len);
	int r;

	if (!objects)
		return -ENOMEM;
	r = buf_printf(&c->out,
		       "{\"t\":\"welcome\",\"version\":%d,\"server\":\"%s %s\",\"client\":%" PRIu64 ","
		       "\"limits\":{\"frame_max\":%zu,\"output_max\":%zu,\"tokens_max\":%zu,"
		       "\"handlers_max\":%zu,\"pending_max\":%zu,\"clients_max\":%zu,\"clients_per_user\":%zu,"
		       "\"fds_per_frame\":%zu,\"fds_max\":%zu},"
		       "\"extensions\":[\"wait\",\"fd\"],\"objects\":",
		       WIRE_VERSION, PACKAGE_NAME, PACKAGE_VERSION, c->id, cfg->frame_max, cfg->output_max,
		       cfg->tokens_max, cfg->handlers_max, cfg->pending_max, cfg->clients_max,
		       cfg->clients_per_user < cfg->clients_max ? cfg->clients_per_user : cfg->clients_max,
		       cfg->fds_per_frame, cfg->fds_max);
	if (r == 0)
		r = buf_append(&c->out, objects, len);
	return client_end_message(c, mark, r);
}

/* hello: check the version, keep name and pid, answer welcome. */
static void client_handle_hello(struct client *c, cJSON *root, const struct wire_msg *m)
{
	char message[128];

	if (c->state != CLIENT_HELLO) {
		client_fail(c, ERR_PROTOCOL, "a second hello", NULL);
		return;
	}
	if (m->version != WIRE_VERSION) {
		cJSON *data = cJSON_CreateObject();
		cJSON_AddNumberToObject(data, "version", WIRE_VERSION);
		snprintf(message, sizeof message, "host speaks version %d, client sent %ld", WIRE_VERSION, m->version);
		client_fail(c, ERR_VERSION_MISMATCH, message, data);
		cJSON_Delete(data);
		return;
	}
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "name"));
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(root, "pid");
	if (name)
		c->name = strdup(name);
	if (cJSON_IsNumber(pid) && pid->valuedouble > 0 && pid->valuedouble < 4194305)
		c->pid = (pid_t)pid->valuedouble;
	if (client_send_welcome(c) < 0) {
		client_kill(c, "out of memory");
		return;
	}
	c->state = CLIENT_OPEN;
	c->welcomed = true;
	ev_timer_stop(EV_DEFAULT, &c->hello_timer);
	log_info("client %" PRIu64 " (%s) connected", c->id, c->name ? c->name : "unnamed");
	server_client_event(c->server, c, true);
}

/* Decode a member of root (detached from it) as a value from c. */
static int client_decode(struct client *c, cJSON *root, cJSON *item, struct value **ret)
{
	if (item)
		cJSON_DetachItemViaPointer(root, item);
	return value_decode(ret, item, c);
}

/* Answer a request that cannot run; its arguments (v) go with it. */
static void client_refuse_request(struct client *c, uint64_t id, struct value *v, const char *name,
				  const char *message)
{
	client_send_error(c, id, name, message, NULL);
	value_free(v);
}

/* Decode a request's arguments; on failure answer (or fail the connection for
 * a notification) and return false. */
static bool client_request_args(struct client *c, cJSON *root, const struct wire_msg *m, struct value **ret)
{
	int r = 0;

	if (m->args)
		r = client_decode(c, root, m->args, ret);
	else if (!(*ret = value_new(cJSON_CreateArray())))	/* no "args": [] */
		r = -ENOMEM;
	if (r == 0)
		return true;
	const char *name = r == -ENOBUFS ? ERR_LIMIT_EXCEEDED : r == -ENOMEM ? ERR_FAILED
			 : m->id ? ERR_INVALID_ARGUMENTS : ERR_PROTOCOL;
	const char *message = r == -ENOBUFS ? "the arguments would pass tokens_max"
			    : r == -ENOMEM ? "out of memory"
			    : r == -EINVAL ? "the arguments name a function the host never sent (\"$yours\")"
			    : "malformed $-object in the arguments (or a {\"$fd\":N} past the frame's \"fds\")";
	if (m->id)
		client_send_error(c, m->id, name, message, NULL);
	else
		client_fail(c, name, message, NULL);
	return false;
}

/* NULL when another request may be taken on, else why not: pending_max
 * counts the calls the uid's closed connections left running too, and the
 * output budget admits new work only within it. */
static const char *client_request_room(struct client *c)
{
	size_t orphans = server_orphans_of(c->server, c->uid);

	if (c->calls.requests + orphans >= client_config(c)->pending_max)
		return orphans ? "too many requests pending (pending_max), counting the calls this uid's closed "
				 "connections left running" : "too many requests pending (pending_max)";
	if (!server_output_admits(c->server, c))
		return "the host's queued output is over half its budget (output_total_max, output_user_max) "
		       "and this client's is over its share: read the answers first";
	return NULL;
}

/* The "wait" of a call (version 1 extension): milliseconds, 0 when absent;
 * -EINVAL when it is not an integer from 0 to SERVICES_WAIT_MAX_MS. */
static long client_call_wait(const cJSON *root)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "wait");

	if (!w || cJSON_IsNull(w))
		return 0;
	if (!cJSON_IsNumber(w) || w->valuedouble < 0 || w->valuedouble > SERVICES_WAIT_MAX_MS ||
	    w->valuedouble != (double)(long)w->valuedouble)
		return -EINVAL;
	return (long)w->valuedouble;
}

/* call: run a method of a hosted object. */
static void client_handle_call(struct client *c, cJSON *root, const struct wire_msg *m)
{
	const char *full;
	struct value *args;
	struct call *call;
	long wait = client_call_wait(root);

	if (!client_request_args(c, root, m, &args))
		return;
	if (wait < 0) {
		char message[96];
		snprintf(message, sizeof message, "wait is an integer number of milliseconds from 0 to %u",
			 SERVICES_WAIT_MAX_MS);
		client_refuse_request(c, m->id, args, ERR_INVALID_ARGUMENTS, message);
		return;
	}
	if ((full = client_request_room(c))) {
		client_refuse_request(c, m->id, args, ERR_LIMIT_EXCEEDED, full);
		return;
	}
	call = call_new_client(c, m->id, args);
	if (!call) {
		client_send_error(c, m->id, ERR_FAILED, "out of memory", NULL);
		return;
	}
	object_dispatch_wait(server_objects(c->server), call, m->obj, m->method, (unsigned)wait);
}

/* invoke: run a function the host exported to this client. */
static void client_handle_invoke(struct client *c, cJSON *root, const struct wire_msg *m)
{
	char message[96];
	const char *full;
	struct value *args;
	struct call *call;

	if (!client_request_args(c, root, m, &args))
		return;
	struct fn *fn = tokens_export_get(&c->tokens, m->fn);
	if (!fn) {
		snprintf(message, sizeof message, "no function with token %" PRIu64, m->fn);
		if (m->id)
			client_refuse_request(c, m->id, args, ERR_NO_SUCH_FUNCTION, message);
		else
			value_free(args);
		return;
	}
	if (m->id && (full = client_request_room(c))) {
		client_refuse_request(c, m->id, args, ERR_LIMIT_EXCEEDED, full);
		return;
	}
	call = call_new_client(c, m->id, args);
	if (!call) {
		if (m->id)
			client_send_error(c, m->id, ERR_FAILED, "out of memory", NULL);
		return;
	}
	fn_call(fn, call);
}

/* result / error: the answer to one of the host's invocations. */
static void client_handle_answer(struct client *c, cJSON *root, const struct wire_msg *m)
{
	struct value *v = NULL;
	cJSON *item = m->value;
	cJSON *parent = root;
	int r;

	if (m->type == WIRE_ERROR && !m->id) {
		log_info("client %" PRIu64 " closes with %s: %s", c->id, m->error_name, m->error_message);
		client_start_closing(c);
		return;
	}
	if (m->type == WIRE_ERROR) {
		item = cJSON_GetObjectItemCaseSensitive(m->error, "data");
		parent = m->error;
	}
	r = client_decode(c, parent, item, &v);
	if (r < 0) {
		client_fail(c, r == -ENOBUFS ? ERR_LIMIT_EXCEEDED : r == -ENOMEM ? ERR_FAILED : ERR_PROTOCOL,
			    r == -ENOBUFS ? "an answer would pass tokens_max" : "malformed value in an answer", NULL);
		return;
	}
	if (m->type == WIRE_RESULT) {
		call_pending_answer(c, m->id, v, NULL);
		return;
	}
	struct fn_error err = { m->error_name, m->error_message, item ? v : NULL };
	call_pending_answer(c, m->id, NULL, &err);
	value_free(v);
}

/* release: the client dropped a function the host sent. */
static void client_handle_release(struct client *c, const struct wire_msg *m)
{
	char message[128];

	if (tokens_release(&c->tokens, m->fn, m->count) < 0) {
		snprintf(message, sizeof message, "release of token %" PRIu64 " with count %" PRIu64
			 " does not match what the host sent", m->fn, m->count);
		client_fail(c, ERR_PROTOCOL, message, NULL);
	}
}

/* Route one parsed message. */
static void client_dispatch(struct client *c, cJSON *root, const struct wire_msg *m)
{
	if (c->state == CLIENT_HELLO && m->type != WIRE_HELLO) {
		client_fail(c, ERR_PROTOCOL, "the first message must be hello", NULL);
		return;
	}
	switch (m->type) {
	case WIRE_HELLO:
		client_handle_hello(c, root, m);
		break;
	case WIRE_CALL:
		client_handle_call(c, root, m);
		break;
	case WIRE_INVOKE:
		client_handle_invoke(c, root, m);
		break;
	case WIRE_RESULT:
	case WIRE_ERROR:
		client_handle_answer(c, root, m);
		break;
	case WIRE_RELEASE:
		client_handle_release(c, m);
		break;
	case WIRE_WELCOME:
		client_fail(c, ERR_PROTOCOL, "welcome is sent by the host", NULL);
		break;
	}
}

/* Move the descriptors a frame says it carries ("fds") from the connection's
 * queue to the frame: true to dispatch it; false when it is refused (its
 * descriptors closed, the error sent). */
static bool client_frame_fds(struct client *c, const cJSON *root, const struct wire_msg *m)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "fds");
	const struct server_config *cfg = client_config(c);
	char message[160];
	size_t n;

	if (!item)
		return true;
	if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > WIRE_FDS_MAX ||
	    item->valuedouble != (double)(int)item->valuedouble) {
		client_fail(c, ERR_PROTOCOL, "\"fds\" must be an integer from 0 to 253", NULL);
		return false;
	}
	n = (size_t)item->valuedouble;
	if (fdq_shift(&c->fds_in, n, c->frame_fds) < 0) {
		snprintf(message, sizeof message, "the frame says it carries %zu descriptors, %zu came with it", n,
			 fdq_len(&c->fds_in));
		client_fail(c, ERR_PROTOCOL, message, NULL);
		return false;
	}
	c->frame_nfds = n;
	if (n <= cfg->fds_per_frame)
		return true;
	fdq_close_array(c->frame_fds, n);
	c->frame_nfds = 0;
	snprintf(message, sizeof message, "the frame carries %zu descriptors, more than fds_per_frame (%zu)", n,
		 cfg->fds_per_frame);
	if (m->id && (m->type == WIRE_CALL || m->type == WIRE_INVOKE))
		client_send_error(c, m->id, ERR_LIMIT_EXCEEDED, message, NULL);
	else
		client_fail(c, ERR_LIMIT_EXCEEDED, message, NULL);
	return false;
}

/* Parse and dispatch one frame; the descriptors it carried that nothing
 * took are closed after. */
static void client_handle_frame(struct client *c, char *frame, size_t len)
{
	struct wire_msg m;
	const char *why = NULL;
	cJSON *root;

	c->frames_in++;
	int r = wire_msg_parse_frame(frame, len, true, &m, &root, &why);
	if (r == -ENOMEM) {
		client_kill(c, "out of memory");
		return;
	}
	if (r < 0) {
		client_fail(c, ERR_PROTOCOL, why, NULL);
		return;
	}
	if (client_frame_fds(c, root, &m))
		client_dispatch(c, root, &m);
	fdq_close_array(c->frame_fds, c->frame_nfds);
	c->frame_nfds = 0;
	cJSON_Delete(root);
}

/* Handle every whole frame buffered. */
static void client_handle_frames(struct client *c)
{
	char message[96];
	char *frame;
	size_t len;

	while (c->state <= CLIENT_OPEN) {
		int r = frame_reader_next(&c->in, &frame, &len);
		if (r == 0)
			break;
		if (r < 0) {
			snprintf(message, sizeof message, "a frame is longer than %zu bytes", c->in.max);
			client_fail(c, ERR_FRAME_TOO_LARGE, message, NULL);
			break;
		}
		client_handle_frame(c, frame, len);
	}
}

/* Read what is there in big chunks and handle it: 1 progress, 0 end of file, -errno. */
static int client_read(struct client *c)
{
	for (int i = 0; i < CLIENT_READS_PER_EVENT && c->state <= CLIENT_OPEN; i++) {
		size_t space;
		char *p = frame_reader_space(&c->in, CLIENT_READ_CHUNK, &space);
		if (!p)
			return -ENOMEM;
		ssize_t n = fdq_recv(c->fd, p, space, &c->fds_in, client_config(c)->fds_max);
		if (n == 0)
			return 0;
		if (n == -ENOBUFS || n == -EMFILE) {
			client_fail(c, ERR_LIMIT_EXCEEDED, n == -EMFILE ? "descriptors were lost on the way (the host "
				    "is out of descriptors, or more than 253 came at once)" :
				    "more descriptors sent than fds_max allows before their frames", NULL);
			return 1;
		}
		if (n < 0) {
			if (n == -EINTR)
				continue;
			if (n == -EAGAIN || n == -EWOULDBLOCK)
				return 1;
			return (int)n;
		}
		frame_reader_commit(&c->in, (size_t)n);
		client_handle_frames(c);
		if ((size_t)n < space)
			break;
	}
	return 1;
}

/* Readable socket: handle a batch of input; its answers leave as early_write
 * allows and at its end. */
static void client_on_readable(struct client *c)
{
	c->in_batch = true;
	c->early_write = CLIENT_EARLY_WRITE_MIN;
	int r = client_read(c);
	c->in_batch = false;
	if (r <= 0 && c->state <= CLIENT_OPEN) {
		if (r == 0) {
			log_debug("client %" PRIu64 " closed the connection", c->id);
			/* It may still read: answers to its last requests go out if they fit. */
			client_write(c);
		} else {
			log_info("client %" PRIu64 ": read failed: %s", c->id, strerror(-r));
		}
		c->eof = true;
		client_drop_output(c);
		client_account(c);
		client_lost(c);
		return;
	}
	if (c->state == CLIENT_CLOSING) {
		later_cancel(&c->lost_later);
		client_lost(c);
		return;
	}
	client_flush(c);
}

/* While lingering: discard input until the peer closes. */
static void client_linger_read(struct client *c)
{
	char scratch[4096];
	ssize_t n;

	do
		n = read(c->fd, scratch, sizeof scratch);
	while (n > 0 || (n < 0 && errno == EINTR));
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		c->eof = true;
		client_lost(c);
	}
}

/* While lingering: flush, then half-close so the peer sees the end. */
static void client_linger_write(struct client *c)
{
	client_flush(c);
	if (c->state != CLIENT_LINGER)
		return;
	if (buf_pending(&c->out) == 0) {
		shutdown(c->fd, SHUT_WR);
		client_set_events(c, EV_READ);
	}
}

/* Socket events: output first (it frees space), then input. */
static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;

	if (c->state == CLIENT_LINGER) {
		if (revents & EV_WRITE)
			client_linger_write(c);
		if ((revents & EV_READ) && c->state == CLIENT_LINGER)
			client_linger_read(c);
		return;
	}
	if (revents & EV_WRITE)
		client_flush(c);
	if ((revents & EV_READ) && c->state <= CLIENT_OPEN)
		client_on_readable(c);
}

/* The peer took too long to read its last error: close. */
static void client_linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;

	c->eof = true;
	client_lost(c);
}

/* Deferred unwinding of a client that was cut off. */
static void client_lost_cb(void *userdata)
{
	client_lost(userdata);
}

/* Close the socket now and free the rest from the loop. */
static void client_close(struct client *c)
{
	c->state = CLIENT_DEAD;
	ev_io_stop(EV_DEFAULT, &c->io);
	ev_timer_stop(EV_DEFAULT, &c->linger_timer);
	ev_timer_stop(EV_DEFAULT, &c->hello_timer);
	later_cancel(&c->flush_later);
	server_output_charge(c->server, c->uid, c->accounted, 0);
	c->accounted = 0;
	if (!list_empty(&c->link))
		list_remove(&c->link);
	close(c->fd);
	c->fd = -1;
	fdq_free(&c->fds_in);
	fdq_free(&c->fds_out);
	c->fds_out_mark = 0;
	later_schedule(&c->free_later);
}

/* A client cut off keeps at most the rest of a frame and its error to send,
 * and only discards input: give back the room its buffers grew to. */
static void client_trim_buffers(struct client *c)
{
	struct buf out = BUF_INIT;

	frame_reader_free(&c->in);
	if (c->out.cap > buf_pending(&c->out) && buf_append(&out, buf_head(&c->out), buf_pending(&c->out)) == 0) {
		buf_free(&c->out);
		c->out = out;
	}
}

/* Keep the socket a moment to flush a last error and let the peer read it. */
static void client_start_linger(struct client *c)
{
	c->state = CLIENT_LINGER;
	client_trim_buffers(c);
	list_add_tail(server_lingering(c->server), &c->link);
	ev_timer_start(EV_DEFAULT, &c->linger_timer);
	client_set_events(c, EV_READ | EV_WRITE);
	client_linger_write(c);
}

/* Unwind everything the client held, in one place (PROTOCOL.md section 10). */
void client_lost(struct client *c)
{
	if (c->state == CLIENT_LINGER) {
		client_close(c);
		return;
	}
	if (c->state == CLIENT_DEAD || c->state == CLIENT_UNWINDING)
		return;
	c->state = CLIENT_UNWINDING;	/* from here on nothing more is sent */
	later_cancel(&c->lost_later);
	if (c->registered) {
		server_client_remove(c->server, c);
		c->registered = false;
	}
	tokens_clear(&c->tokens);
	emitter_client_lost(c);
	object_client_lost(server_objects(c->server), c);
	call_table_lost(c);
	if (c->welcomed) {
		log_info("client %" PRIu64 " (%s) disconnected after %" PRIu64 " frames in, %" PRIu64 " out", c->id,
			 c->name ? c->name : "unnamed", c->frames_in, c->frames_out);
		server_client_event(c->server, c, false);
	}
	if (c->linger && !c->eof)
		client_start_linger(c);
	else
		client_close(c);
}

/* Free what is left once nothing refers to the client any more. */
static void client_free_cb(void *userdata)
{
	struct client *c = userdata;

	frame_reader_free(&c->in);
	buf_free(&c->out);
	tokens_free(&c->tokens);
	call_table_free(&c->calls);
	value_free(c->context);
	free(c->name);
	free(c);
}
