/* SPDX-License-Identifier: ISC */
/* Connections: setup and handshake, output, input and dispatch, loss. */
#include "botkit-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* When the library is loaded: make stdout and stderr line-buffered unless
 * they are terminals. A behaviour's output goes to bothost's log through
 * pipes; fully buffered, its lines would arrive late or, when the process is
 * stopped, never. Before main(), so before any output (setvbuf's rule). */
__attribute__((constructor)) static void conn_stdio_init(void)
{
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	if (!isatty(STDERR_FILENO))
		setvbuf(stderr, NULL, _IOLBF, 0);
}

/* A connection on fd, before the handshake. */
static bk_conn *conn_new(int fd)
{
	bk_conn *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->refs = 1;
	c->state = CONN_HANDSHAKE;
	c->fd = fd;
	c->timeout = BK_DEFAULT_TIMEOUT_USEC;
	c->frame_max = BK_FRAME_MAX_DEFAULT;
	c->fds_per_frame = 16;
	frame_reader_init(&c->in, BK_FRAME_MAX_DEFAULT);
	fdq_init(&c->fds_in);
	fdq_init(&c->fds_out);
	return c;
}

/* Free the connection's memory; everything it reported is done. */
static void conn_free(bk_conn *c)
{
	bki_call_free_all(c);
	bki_tokens_drop_exports(c);
	/* before the imports are detached: the references go back to them */
	bki_json_drop_conn(c);
	bki_tokens_detach_imports(c);
	bki_args_detach_all(c);
	if (c->fd >= 0)
		close(c->fd);
	frame_reader_free(&c->in);
	buf_free(&c->out);
	fdq_free(&c->fds_in);
	fdq_free(&c->fds_out);
	free(c->undo);
	free(c->heap);
	free(c->timers);
	cJSON_Delete(c->objects);
	free(c->objects_text);
	bki_error_free(c->last_error);
	bki_error_free(c->lost_error);
	free(c);
}

/* Take a reference. */
bk_conn *bk_conn_ref(bk_conn *c)
{
	if (c)
		c->refs++;
	return c;
}

/* Drop a reference; the last one closes the connection, completing pending
 * calls with Disconnected and freeing exports (destructors run). */
bk_conn *bk_conn_unref(bk_conn *c)
{
	if (!c || --c->refs > 0 || c->freeing)
		return NULL;
	/* Completions and destructors below may take and drop references. */
	c->freeing = true;
	c->refs = 1;
	if (conn_is_open(c)) {
		bki_conn_flush_some(c);
		bki_conn_fail(c, "Disconnected", "the connection was closed");
	}
	bki_conn_report_lost(c, false);
	bki_call_run_deferred(c);
	conn_free(c);
	return NULL;
}

/* Start a message in the output buffer: its mark. */
size_t bki_conn_msg_begin(bk_conn *c)
{
	c->undo_len = 0;
	c->fds_out_mark = fdq_len(&c->fds_out);
	return buf_pending(&c->out);
}

/* A message that carries descriptors ends with "fds":K (before its brace). */
static int conn_msg_put_fds(bk_conn *c)
{
	size_t n = fdq_len(&c->fds_out) - c->fds_out_mark;
	int r;

	if (n == 0)
		return 0;
	buf_truncate(&c->out, c->out.len - 1);	/* the message's closing brace */
	r = buf_printf(&c->out, ",\"fds\":%zu}", n);
	return r;
}

/* Finish the message started at mark: check its size, add the line feed. */
int bki_conn_msg_end(bk_conn *c, size_t mark)
{
	int r = conn_msg_put_fds(c);

	if (r < 0)
		return r;
	if (buf_pending(&c->out) - mark > c->frame_max)
		return -ENOBUFS;
	r = buf_putc(&c->out, '\n');
	if (r < 0)
		return r;
	c->undo_len = 0;
	c->fds_out_mark = fdq_len(&c->fds_out);
	return 0;
}

/* Drop the message started at mark, and the function copies and
 * descriptors it counted. */
void bki_conn_msg_abort(bk_conn *c, size_t mark)
{
	buf_truncate(&c->out, c->out.off + mark);
	fdq_truncate(&c->fds_out, c->fds_out_mark);
	bki_tokens_undo(c);
}

/* Queue a duplicate of fd for the message being built. */
int bki_conn_queue_fd(bk_conn *c, int fd, unsigned *ret_index)
{
	size_t in_frame = fdq_len(&c->fds_out) - c->fds_out_mark;
	int copy;

	if (in_frame >= c->fds_per_frame || fdq_len(&c->fds_out) >= FDQ_SEND_MAX)
		return -ETOOMANYREFS;
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	int r = fdq_push(&c->fds_out, copy, 0);
	if (r < 0)
		return r;
	*ret_index = (unsigned)in_frame;
	return 0;
}

/* Take a descriptor of the frame being dispatched. */
int bki_conn_take_fd(bk_conn *c, int fd)
{
	for (size_t i = 0; fd >= 0 && i < c->frame_nfds; i++)
		if (c->frame_fds[i] == fd) {
			c->frame_fds[i] = -1;
			return fd;
		}
	return -1;
}

/* A message was queued: write it now unless a batch is being dispatched, the
 * kernel buffer is full, or other requests are in flight. The last rule is
 * Nagle's: a lone call goes out at once (lowest latency), while calls made
 * while answers are outstanding gather and leave together on the next
 * process or flush (one write for a whole pipelined burst). Blocking calls
 * flush explicitly. */
void bki_conn_queued(bk_conn *c)
{
	if (c->out_dead)
		buf_clear(&c->out);
	else if (c->cork == 0 && !c->out_blocked && conn_is_open(c) &&
		 map_count(&c->pending) <= 1)
		bki_conn_flush_some(c);
}

/* Write queued output without blocking. 0, or -ENOTCONN when the write failed. */
int bki_conn_flush_some(bk_conn *c)
{
	if (c->out_dead) {
		buf_clear(&c->out);
		return -ENOTCONN;
	}
	while (buf_pending(&c->out) > 0) {
		ssize_t n = fdq_send(c->fd, buf_head(&c->out), buf_pending(&c->out), &c->fds_out);
		c->fds_out_mark = fdq_len(&c->fds_out);
		if (n < 0) {
			errno = (int)-n;
			n = -1;
		}
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->out_blocked = true;
			return 0;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			/* The host is gone or going: read what it sent before (a
			 * connection error, say) up to the end of file. */
			c->out_dead = true;
			buf_clear(&c->out);
			return -ENOTCONN;
		}
		bki_conn_fail(c, "Disconnected", n < 0 ? strerror(errno) : "write failed");
		return -ENOTCONN;
	}
	c->out_blocked = false;
	return 0;
}

/* The connection failed with error e (taken; NULL: out of memory): close the
 * socket now, report the loss from the loop later. */
void bki_conn_fail_error(bk_conn *c, bk_error *e)
{
	if (!conn_is_open(c)) {
		bki_error_free(e);
		return;
	}
	c->state = CONN_CLOSING;
	c->lost_error = e;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_clear(&c->out);
	fdq_truncate(&c->fds_in, 0);
	fdq_truncate(&c->fds_out, 0);
	c->fds_out_mark = 0;
	c->out_blocked = false;
}

/* The connection failed: see bki_conn_fail_error(). */
void bki_conn_fail(bk_conn *c, const char *name, const char *message)
{
	bki_conn_fail_error(c, conn_is_open(c) ? bki_error_new(name, message, NULL) : NULL);
}

/* The host broke the protocol: send a connection error, then close. */
void bki_conn_protocol_error(bk_conn *c, const char *name, const char *why)
{
	if (!conn_is_open(c))
		return;
	if (wire_write_error(&c->out, 0, name, why, NULL) == 0 && !c->out_blocked)
		bki_conn_flush_some(c);
	bki_conn_fail(c, name, why);
}

/* Report a failed connection once: complete every pending call with
 * Disconnected, free every export and end every timer (destructors run),
 * then call the disconnect handler if notify. */
void bki_conn_report_lost(bk_conn *c, bool notify)
{
	if (c->state != CONN_CLOSING)
		return;
	c->state = CONN_LOST;
	bki_call_fail_all(c);
	bki_tokens_drop_exports(c);
	bki_timer_end_all(c);
	if (notify && c->disconnect_fn)
		c->disconnect_fn(c, c->lost_error ? c->lost_error : &bki_error_disconnected,
				 c->disconnect_userdata);
}

/* Read once into the frame reader: 2 the read filled the space offered, 1
 * progress, 0 nothing to read, -ENOTCONN the connection failed. */
static int conn_read(bk_conn *c)
{
	size_t space;
	char *p = frame_reader_space(&c->in, BK_READ_CHUNK, &space);

	if (!p) {
		bki_conn_fail(c, "Disconnected", "out of memory");
		return -ENOTCONN;
	}
	ssize_t n = fdq_recv(c->fd, p, space, &c->fds_in, FDQ_SEND_MAX);
	if (n == -ENOBUFS || n == -EMFILE) {
		bki_conn_protocol_error(c, "LimitExceeded", "descriptors were lost or too many came");
		return -ENOTCONN;
	}
	if (n < 0) {
		errno = (int)-n;
		n = -1;
	}
	if (n > 0) {
		frame_reader_commit(&c->in, (size_t)n);
		return (size_t)n == space ? 2 : 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	bki_conn_fail(c, "Disconnected", n == 0 ? "bothost closed the connection" : strerror(errno));
	return -ENOTCONN;
}

/* Decode callback for the introspection: it holds no functions. */
static int conn_refuse_token_cb(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata)
{
	return -EINVAL;
}

/* The host's welcome: keep what it says, and check its version. */
static void conn_dispatch_welcome(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar)
{
	char why[96];

	if (c->state != CONN_HANDSHAKE) {
		bki_conn_protocol_error(c, "ProtocolError", "a second welcome");
		return;
	}
	if (m->version != WIRE_VERSION) {
		snprintf(why, sizeof why, "client speaks version %d, host sent %ld", WIRE_VERSION,
			 m->version);
		bki_conn_protocol_error(c, "VersionMismatch", why);
		return;
	}
	const cJSON *client = cJSON_GetObjectItemCaseSensitive(root, "client");
	const cJSON *limits = cJSON_GetObjectItemCaseSensitive(root, "limits");
	const cJSON *frame_max = cJSON_GetObjectItemCaseSensitive(limits, "frame_max");
	cJSON *objects = cJSON_GetObjectItemCaseSensitive(root, "objects");
	if (cJSON_IsNumber(client) && client->valuedouble >= 0)
		c->client_id = (uint64_t)client->valuedouble;
	const cJSON *fpf = cJSON_GetObjectItemCaseSensitive(limits, "fds_per_frame");
	if (cJSON_IsNumber(fpf) && fpf->valuedouble >= 0 && fpf->valuedouble <= WIRE_FDS_MAX)
		c->fds_per_frame = (size_t)fpf->valuedouble;
	if (cJSON_IsNumber(frame_max) && frame_max->valuedouble >= 64 &&
	    frame_max->valuedouble <= (double)INT_MAX)
		c->frame_max = c->in.max = (size_t)frame_max->valuedouble;
	if (objects)
		c->objects = cJSON_DetachItemViaPointer(root, objects);
	if (c->objects && dollar && wire_decode(&c->objects, conn_refuse_token_cb, NULL) < 0) {
		bki_conn_protocol_error(c, "ProtocolError", "malformed introspection in welcome");
		return;
	}
	c->state = CONN_READY;
}

/* A connection error from the host: it closes after it. */
static void conn_dispatch_conn_error(bk_conn *c, const struct wire_msg *m)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(m->error, "data");

	bki_conn_fail_error(c, bki_error_new(m->error_name, m->error_message,
				     data ? cJSON_Duplicate(data, true) : NULL));
}

/* Handle one parsed message. */
static void conn_dispatch_msg(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar)
{
	if (c->state == CONN_HANDSHAKE && m->type != WIRE_WELCOME &&
	    !(m->type == WIRE_ERROR && !m->id)) {
		bki_conn_protocol_error(c, "ProtocolError", "expected welcome");
		return;
	}
	switch (m->type) {
	case WIRE_WELCOME:
		conn_dispatch_welcome(c, m, root, dollar);
		break;
	case WIRE_RESULT:
		bki_call_dispatch_result(c, m, root, dollar);
		break;
	case WIRE_ERROR:
		if (m->id)
			bki_call_dispatch_error(c, m, root, dollar);
		else
			conn_dispatch_conn_error(c, m);
		break;
	case WIRE_INVOKE:
		bki_args_dispatch_invoke(c, m, root, dollar);
		break;
	case WIRE_RELEASE:
		bki_tokens_dispatch_release(c, m);
		break;
	case WIRE_HELLO:
	case WIRE_CALL:
		bki_conn_protocol_error(c, "ProtocolError", "a client accepts no hello or call");
		break;
	}
}

/* Parse a frame that arrives during the handshake. The introspection in a
 * welcome (9 KB with IRC) is only checked and kept as text: building its
 * tree took a fresh behaviour 50 us, and few programs ever read it
 * (bk_conn_get_objects parses it then). A frame with a '$' is parsed whole,
 * since its tokens must be refused now. */
static int conn_parse_handshake(bk_conn *c, char *frame, size_t len, bool dollar, struct wire_msg *m,
				cJSON **ret_root, const char **ret_why)
{
	const char *at;
	size_t n;
	int r;

	if (dollar)
		return wire_msg_parse_frame(frame, len, false, m, ret_root, ret_why);
	r = wire_msg_parse_frame_lazy(frame, len, false, "objects", m, ret_root, ret_why, &at, &n);
	if (r < 0 || !at || m->type != WIRE_WELCOME || c->objects_text)
		return r;
	if (!(c->objects_text = malloc(n))) {
		cJSON_Delete(*ret_root);
		return -ENOMEM;
	}
	memcpy(c->objects_text, at, n);
	c->objects_len = n;
	return 0;
}

/* Parse and handle one frame. The frame's bytes may move while it is handled
 * (a handler may read more input), so nothing looks at them afterwards: of
 * the message, only obj and method point into them, and a client is never
 * sent a message that has those. */
static void conn_dispatch_frame(bk_conn *c, char *frame, size_t len)
{
	struct wire_msg m;
	const char *why;
	cJSON *root;
	bool dollar = memchr(frame, '$', len) != NULL;
	int r = c->state == CONN_HANDSHAKE ? conn_parse_handshake(c, frame, len, dollar, &m, &root, &why)
					   : wire_msg_parse_frame(frame, len, false, &m, &root, &why);

	if (r == -ENOMEM) {
		bki_conn_fail(c, "Disconnected", "out of memory");
		return;
	}
	if (r < 0) {
		bki_conn_protocol_error(c, "ProtocolError", why);
		return;
	}
	const cJSON *nfds = cJSON_GetObjectItemCaseSensitive(root, "fds");
	int fds[WIRE_FDS_MAX];
	size_t n = 0;
	if (nfds && (!cJSON_IsNumber(nfds) || nfds->valuedouble < 0 || nfds->valuedouble > WIRE_FDS_MAX ||
		     nfds->valuedouble != (double)(int)nfds->valuedouble ||
		     fdq_shift(&c->fds_in, (size_t)nfds->valuedouble, fds) < 0)) {
		cJSON_Delete(root);
		bki_conn_protocol_error(c, "ProtocolError", "\"fds\" does not match the descriptors that came");
		return;
	}
	n = nfds ? (size_t)nfds->valuedouble : 0;
	/* Dispatch may nest (a handler may read more input): keep the outer frame's. */
	int *outer = c->frame_fds;
	size_t outer_n = c->frame_nfds;
	c->frame_fds = fds;
	c->frame_nfds = n;
	conn_dispatch_msg(c, &m, root, dollar);
	c->frame_fds = outer;
	c->frame_nfds = outer_n;
	fdq_close_array(fds, n);	/* those no handler took */
	cJSON_Delete(root);
}

/* Handle every whole frame buffered, then write the answers in one go.
 * Returns the number of frames handled. */
int bki_conn_dispatch_buffered(bk_conn *c)
{
	char *frame;
	size_t len;
	int r = 0, n = 0;

	c->cork++;
	while (conn_is_open(c) && (r = frame_reader_next(&c->in, &frame, &len)) == 1) {
		conn_dispatch_frame(c, frame, len);
		n++;
	}
	if (r == -EMSGSIZE)
		bki_conn_protocol_error(c, "FrameTooLarge", "a frame is longer than frame_max");
	c->cork--;
	if (c->cork == 0)
		bki_conn_queued(c);
	return n;
}

/* Read what the socket holds (a few big reads at most) and dispatch it. */
void bki_conn_input(bk_conn *c)
{
	for (int i = 0; i < 8 && conn_is_open(c); i++) {
		int r = conn_read(c);
		if (r <= 0)
			break;
		bki_conn_dispatch_buffered(c);
		if (r == 1)
			break;
	}
}

/* Queue the hello message. */
static int conn_send_hello(bk_conn *c, const char *name)
{
	size_t mark = bki_conn_msg_begin(c);
	int r = buf_printf(&c->out, "{\"t\":\"hello\",\"version\":%d,\"name\":", WIRE_VERSION);

	if (r == 0)
		r = wire_write_string(&c->out, name ? name : program_invocation_short_name);
	if (r == 0)
		r = buf_printf(&c->out, ",\"pid\":%ld}", (long)getpid());
	if (r == 0)
		r = bki_conn_msg_end(c, mark);
	if (r < 0) {
		bki_conn_msg_abort(c, mark);
		return r;
	}
	bki_conn_queued(c);
	return 0;
}

/* Say hello and wait for the welcome, at most the connection's call timeout. */
static int conn_handshake(bk_conn *c, const char *name)
{
	int r = conn_send_hello(c, name);
	uint64_t deadline = c->timeout ? bki_run_now_usec() + c->timeout : BK_NO_DEADLINE;

	if (r < 0)
		return r;
	while (c->state == CONN_HANDSHAKE) {
		if (bki_run_now_usec() >= deadline)
			return -ETIMEDOUT;
		bki_run_iterate(c, deadline);
	}
	if (c->state == CONN_READY)
		return 0;
	return c->lost_error ? bk_error_errno(c->lost_error) : -ENOTCONN;
}

/* Make fd non-blocking and close-on-exec. */
static int conn_setup_fd(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int fdfl = fcntl(fd, F_GETFD);
	if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Connect over an already connected socket (taken, also on failure). */
int bk_conn_new_fd(bk_conn **ret, int fd, const char *name)
{
	bk_conn *c = NULL;
	int r;

	if (!ret || fd < 0) {
		r = fd < 0 ? -EBADF : -EINVAL;
		goto fail;
	}
	if ((r = conn_setup_fd(fd)) < 0)
		goto fail;
	if (!(c = conn_new(fd))) {
		r = -ENOMEM;
		goto fail;
	}
	fd = -1;
	if ((r = conn_handshake(c, name)) < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	bk_conn_unref(c);
	return r;
}

/* Connect to the socket at path. */
int bk_conn_new_path(bk_conn **ret, const char *path, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!ret || !path)
		return -EINVAL;
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return bk_conn_new_fd(ret, fd, name);
}

/* Connect where the environment says (see botkit.h). */
int bk_conn_new(bk_conn **ret, const char *name)
{
	const char *env = getenv("BOTKIT_FD");
	char path[PATH_MAX];

	if (env && *env) {
		char *end;
		errno = 0;
		long fd = strtol(env, &end, 10);
		if (errno || *end || fd < 0 || fd > INT_MAX)
			return -EBADF;
		/* The inherited socket is this process's alone: a second
		 * connection, or a program this one runs, must not try it. */
		unsetenv("BOTKIT_FD");
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
			return -errno;
		return bk_conn_new_fd(ret, (int)fd, name);
	}
	if ((env = getenv("BOTKIT_SOCKET")) && *env)
		return bk_conn_new_path(ret, env, name);
	if ((env = getenv("XDG_RUNTIME_DIR")) && env[0] == '/') {
		if (snprintf(path, sizeof path, "%s/bothost/bothost.sock", env) >= (int)sizeof path)
			return -ENAMETOOLONG;
		return bk_conn_new_path(ret, path, name);
	}
	return bk_conn_new_path(ret, "/run/bothost/bothost.sock", name);
}

/* The introspection from the welcome. */
const cJSON *bk_conn_get_objects(bk_conn *c)
{
	if (!c)
		return NULL;
	if (!c->objects && c->objects_text) {
		c->objects = wire_parse(c->objects_text, c->objects_len, false);
		free(c->objects_text);
		c->objects_text = NULL;
	}
	return c->objects;
}

/* The id the host gave this client. */
uint64_t bk_conn_get_client_id(bk_conn *c)
{
	return c ? c->client_id : 0;
}

/* Set the default deadline of calls (0: none). */
void bk_conn_set_timeout(bk_conn *c, uint64_t usec)
{
	if (c)
		c->timeout = usec;
}

/* Set the function told when the connection is lost. */
void bk_conn_set_disconnect_handler(bk_conn *c, bk_disconnect_fn fn, void *userdata)
{
	if (!c)
		return;
	c->disconnect_fn = fn;
	c->disconnect_userdata = userdata;
}

/* True until the connection fails or closes. */
bool bk_conn_is_connected(bk_conn *c)
{
	return c && conn_is_open(c);
}

/* The error behind the last failed blocking call. */
const bk_error *bk_conn_last_error(bk_conn *c)
{
	return c ? c->last_error : NULL;
}
