/* libircclient, contained (see ircshim.h).
 *
 * A session is made to believe it is connected: irc_connect() goes to a TCP
 * listener of ours on 127.0.0.1 (so it cannot fail and never resolves a
 * name), then one end of a socketpair is dup'ed over the library's
 * descriptor, keeping its number. From then on the library reads only the
 * lines ircshim_feed writes, and whatever it writes back (NICK, USER, PONG)
 * is read and thrown away. The fd_sets handed to the library only ever hold
 * that one descriptor, which is below FD_SETSIZE by construction.
 *
 * Event names are libircclient's, except where it gives two callbacks the
 * same name: umode is "UMODE", channel_notice "CHANNEL_NOTICE", ctcp_req
 * "CTCP_REQ" and ctcp_rep "CTCP_REP". Numerics are their three digits
 * ("001", "433"). DCC callbacks stay unset, so the library never opens a
 * DCC socket; a CTCP request handler is set, so it never answers CTCP
 * itself.
 *
 * libircclient 1.9 trusts the lines it parses; ircshim_feed refuses the
 * shapes that make it read past its buffer or through a NULL pointer (see
 * ircshim_check). */
#include "config.h"

#include "ircshim.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libircclient.h>

#include "irc_line.h"
#include "core/log.h"

/* Rounds of feeding one line before the library is declared stuck. */
#define IRCSHIM_PUMP_MAX 8
/* How long the library's loopback connect may take to complete. */
#define IRCSHIM_CONNECT_MS 1000

struct ircshim {
	irc_session_t *session;
	int fd;			/* our end of the socketpair */
	int lib_fd;		/* the library's descriptor */
	ircshim_event_fn fn;
	void *userdata;
	bool broken;		/* the library gave up on its session */
	bool dead;		/* freed from one of its callbacks */
	unsigned depth;
};

/* The reserved low descriptor, and whether one should be kept. */
static int ircshim_reserved = -1;
static bool ircshim_reserving;

/* Hold a low descriptor (a /dev/null) for the next session. */
static int ircshim_reserve(void)
{
	int fd;

	if (ircshim_reserved >= 0)
		return 0;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fd >= FD_SETSIZE) {
		close(fd);
		return -EMFILE;
	}
	ircshim_reserved = fd;
	return 0;
}

/* Reserve a low descriptor at startup. */
int ircshim_reserve_fd(void)
{
	ircshim_reserving = true;
	return ircshim_reserve();
}

/* Drop the reservation for good. */
void ircshim_release_fd(void)
{
	ircshim_reserving = false;
	if (ircshim_reserved >= 0)
		close(ircshim_reserved);
	ircshim_reserved = -1;
}

/* Take the reservation back after a session released its descriptor. */
static void ircshim_rereserve(void)
{
	if (ircshim_reserving && ircshim_reserve() < 0)
		log_warn("ircshim: cannot reserve a descriptor below %d", FD_SETSIZE);
}

/* ---- events ------------------------------------------------------------------ */

/* Hand an event to the owner; params end at the first NULL. */
static void ircshim_emit(irc_session_t *session, const char *event, const char *origin,
			 const char **params, unsigned count)
{
	struct ircshim *s = irc_get_ctx(session);
	unsigned n = 0;

	while (n < count && params && params[n])
		n++;
	if (s && !s->dead && s->fn)
		s->fn(s, event, origin, params, n, s->userdata);
}

/* Every callback whose event name is unique. */
static void ircshim_event_cb(irc_session_t *session, const char *event, const char *origin,
			     const char **params, unsigned count)
{
	ircshim_emit(session, event, origin, params, count);
}

/* event_umode ("MODE" in the library). */
static void ircshim_umode_cb(irc_session_t *session, const char *event, const char *origin,
			     const char **params, unsigned count)
{
	ircshim_emit(session, "UMODE", origin, params, count);
}

/* event_channel_notice ("NOTICE" in the library). */
static void ircshim_channel_notice_cb(irc_session_t *session, const char *event,
				      const char *origin, const char **params, unsigned count)
{
	ircshim_emit(session, "CHANNEL_NOTICE", origin, params, count);
}

/* event_ctcp_req ("CTCP" in the library). */
static void ircshim_ctcp_req_cb(irc_session_t *session, const char *event, const char *origin,
				const char **params, unsigned count)
{
	ircshim_emit(session, "CTCP_REQ", origin, params, count);
}

/* event_ctcp_rep ("CTCP" in the library). */
static void ircshim_ctcp_rep_cb(irc_session_t *session, const char *event, const char *origin,
				const char **params, unsigned count)
{
	ircshim_emit(session, "CTCP_REP", origin, params, count);
}

/* event_numeric: the code as three digits. */
static void ircshim_numeric_cb(irc_session_t *session, unsigned int code, const char *origin,
			       const char **params, unsigned count)
{
	char name[16];

	snprintf(name, sizeof name, "%03u", code);
	ircshim_emit(session, name, origin, params, count);
}

/* A session with our callbacks on every event but DCC. */
static irc_session_t *ircshim_session_new(void)
{
	irc_callbacks_t cb;

	memset(&cb, 0, sizeof cb);
	cb.event_connect = ircshim_event_cb;
	cb.event_nick = ircshim_event_cb;
	cb.event_quit = ircshim_event_cb;
	cb.event_join = ircshim_event_cb;
	cb.event_part = ircshim_event_cb;
	cb.event_mode = ircshim_event_cb;
	cb.event_umode = ircshim_umode_cb;
	cb.event_topic = ircshim_event_cb;
	cb.event_kick = ircshim_event_cb;
	cb.event_channel = ircshim_event_cb;
	cb.event_privmsg = ircshim_event_cb;
	cb.event_notice = ircshim_event_cb;
	cb.event_channel_notice = ircshim_channel_notice_cb;
	cb.event_invite = ircshim_event_cb;
	cb.event_ctcp_req = ircshim_ctcp_req_cb;
	cb.event_ctcp_rep = ircshim_ctcp_rep_cb;
	cb.event_ctcp_action = ircshim_event_cb;
	cb.event_unknown = ircshim_event_cb;
	cb.event_numeric = ircshim_numeric_cb;
	return irc_create_session(&cb);
}

/* ---- driving the library ---------------------------------------------------------- */

/* What the library wants on its descriptor, from irc_add_select_descriptors. */
static int ircshim_wants(struct ircshim *s, bool *ret_read, bool *ret_write)
{
	fd_set in, out;
	int maxfd = 0;

	FD_ZERO(&in);
	FD_ZERO(&out);
	if (irc_add_select_descriptors(s->session, &in, &out, &maxfd) != 0)
		return -EIO;
	*ret_read = FD_ISSET(s->lib_fd, &in);
	*ret_write = FD_ISSET(s->lib_fd, &out);
	return 0;
}

/* One irc_process_select_descriptors call with only the library's descriptor
 * in the read or the write set. */
static int ircshim_process(struct ircshim *s, bool read)
{
	fd_set in, out;

	FD_ZERO(&in);
	FD_ZERO(&out);
	FD_SET(s->lib_fd, read ? &in : &out);
	if (irc_process_select_descriptors(s->session, &in, &out) != 0) {
		log_warn("ircshim: libircclient dropped its session (error %d: %s)",
			 irc_errno(s->session), irc_strerror(irc_errno(s->session)));
		s->broken = true;
		return -EIO;
	}
	return 0;
}

/* Read and discard what the library wrote to us. */
static void ircshim_drain(struct ircshim *s)
{
	char buf[2048];
	ssize_t n;

	while ((n = read(s->fd, buf, sizeof buf)) > 0) {
		const char *eol = memchr(buf, '\r', (size_t)n);
		log_debug("ircshim: discarding %zd bytes libircclient wrote: %.*s%s", n,
			  eol ? (int)(eol - buf) : (int)n, buf, eol && eol + 2 < buf + n ? " ..." : "");
	}
}

/* Let the library write what it buffered, and throw it away. */
static int ircshim_flush(struct ircshim *s)
{
	for (int i = 0; i < IRCSHIM_PUMP_MAX && !s->dead; i++) {
		bool rd, wr;
		int r = ircshim_wants(s, &rd, &wr);
		if (r < 0)
			return r;
		if (!wr)
			return 0;
		if ((r = ircshim_process(s, false)) < 0)
			return r;
		ircshim_drain(s);
	}
	return 0;
}

/* Whether the library's descriptor has bytes left to read. */
static bool ircshim_unread(const struct ircshim *s)
{
	struct pollfd p = { .fd = s->lib_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/* Let the library read until it has consumed everything written to it; a
 * line was just written, so the first round needs no poll to know. */
static int ircshim_pump(struct ircshim *s)
{
	for (int i = 0; i < IRCSHIM_PUMP_MAX && !s->dead; i++) {
		bool rd, wr;
		int r;
		if (i > 0 && !ircshim_unread(s))
			return 0;
		if ((r = ircshim_wants(s, &rd, &wr)) < 0)
			return r;
		if (!rd)
			break;
		if ((r = ircshim_process(s, true)) < 0)
			return r;
	}
	if (s->dead || !ircshim_unread(s))
		return 0;
	log_warn("ircshim: libircclient does not consume its input");
	s->broken = true;
	return -EIO;
}

/* ---- the fake connection ------------------------------------------------------------ */

/* A listener on 127.0.0.1 with a kernel-chosen port. */
static int ircshim_listener(unsigned short *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* The lowest free descriptor number right now. */
static int ircshim_lowest_free(int any_fd)
{
	int fd = fcntl(any_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	close(fd);
	return fd;
}

/* Whether fd is the library's socket: connected to our listener at port. */
static bool ircshim_is_lib_socket(int fd, unsigned short port)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof peer;
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	/* A loopback connect completes at once; wait a little if it has not. */
	if (poll(&p, 1, IRCSHIM_CONNECT_MS) <= 0)
		return false;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		return false;
	return peer.sin_family == AF_INET && peer.sin_port == htons(port) &&
	       peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

/* irc_connect to our listener on the lowest free (reserved) descriptor;
 * returns that descriptor once it is proven to be the library's. */
static int ircshim_connect(struct ircshim *s, int any_fd)
{
	unsigned short port = 0;
	int lfd = ircshim_listener(&port);
	int fd;

	if (lfd < 0)
		return lfd;
	if (ircshim_reserved >= 0) {
		close(ircshim_reserved);
		ircshim_reserved = -1;
	}
	fd = ircshim_lowest_free(any_fd);
	if (fd >= 0 && fd >= FD_SETSIZE)
		fd = -EMFILE;
	/* Constant names: irc_connect uses them as printf formats. */
	if (fd >= 0 && irc_connect(s->session, "127.0.0.1", port, NULL, "shim", "shim", "shim") != 0) {
		log_warn("ircshim: irc_connect failed: %s", irc_strerror(irc_errno(s->session)));
		fd = -EIO;
	}
	/* Another thread may have taken the number between the two calls. */
	if (fd >= 0 && !ircshim_is_lib_socket(fd, port))
		fd = -EBUSY;
	close(lfd);
	return fd;
}

/* Put our socketpair end under the library's descriptor number. */
static int ircshim_swap(struct ircshim *s, int lib_fd, int pair_fd)
{
	if (dup3(pair_fd, lib_fd, O_CLOEXEC) < 0)
		return -errno;
	s->lib_fd = lib_fd;
	if (fcntl(lib_fd, F_SETFL, fcntl(lib_fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Connect the session to us and take it through "connect succeeded". */
static int ircshim_attach(struct ircshim *s)
{
	int sv[2], lib_fd, r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	s->fd = sv[0];
	lib_fd = ircshim_connect(s, sv[0]);
	r = lib_fd < 0 ? lib_fd : ircshim_swap(s, lib_fd, sv[1]);
	close(sv[1]);
	if (r < 0)
		return r;
	/* The library sees its socket writable: CONNECTING becomes CONNECTED
	 * and it queues its NICK and USER, which we drain. */
	if ((r = ircshim_process(s, false)) < 0)
		return r;
	return ircshim_flush(s);
}

/* Destroy the session; take the low descriptor back. */
static void ircshim_destroy(struct ircshim *s)
{
	/* irc_destroy_session closes the library's descriptor only when it
	 * knows it; a session whose socket was never identified closes its own. */
	if (s->session)
		irc_destroy_session(s->session);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	ircshim_rereserve();
}

/* ---- the interface ------------------------------------------------------------------- */

/* A fresh session connected to us. */
struct ircshim *ircshim_new(ircshim_event_fn fn, void *userdata, int *ret_err)
{
	struct ircshim *s = calloc(1, sizeof *s);
	int r = -ENOMEM;

	if (!s)
		goto fail;
	s->fd = s->lib_fd = -1;
	s->fn = fn;
	s->userdata = userdata;
	s->session = ircshim_session_new();
	if (!s->session)
		goto fail;
	irc_set_ctx(s->session, s);
	if ((r = ircshim_attach(s)) < 0)
		goto fail;
	return s;
fail:
	if (s)
		ircshim_destroy(s);
	else
		ircshim_rereserve();
	if (ret_err)
		*ret_err = r;
	return NULL;
}

/* Free; from inside one of its callbacks the free waits for the feed. */
void ircshim_free(struct ircshim *s)
{
	if (!s)
		return;
	if (s->depth > 0) {
		s->dead = true;
		return;
	}
	ircshim_destroy(s);
}

/* The library's descriptor. */
int ircshim_get_fd(const struct ircshim *s)
{
	return s->lib_fd;
}

/* Refuse what the library cannot parse safely: empty, long, tagged or
 * unparsable lines; layouts it splits differently from irc_line_parse (runs
 * of spaces before the trailing parameter); a numeric 000 or one without
 * parameters (it reads past the line); NICK without a source (NULL
 * dereference); NOTICE with fewer than two parameters (strlen(NULL));
 * PRIVMSG or NOTICE text that is empty or a lone \001 (reads before or past
 * it). Returns 1 for a word command without parameters that ends the line,
 * which must reach the library with a space after it (see ircshim_write),
 * else 0 or -errno. */
static int ircshim_check(const char *line)
{
	struct irc_line *msg;
	const char *trailing, *cmd;
	int r, num;

	if (line[0] == '\0' || line[0] == '@' || strpbrk(line, "\r\n"))
		return -EINVAL;
	if (irc_line_too_long(line, IRC_LINE_MAX))
		return -EMSGSIZE;
	if ((r = irc_line_parse(line, &msg)) < 0)
		return r;
	trailing = strstr(line, " :");
	cmd = irc_line_command(msg);
	num = irc_line_numeric(msg);
	r = -EINVAL;
	if (memmem(line, trailing ? (size_t)(trailing - line) : strlen(line), "  ", 2))
		goto out;
	if (num == 0 || (num > 0 && irc_line_param_count(msg) == 0))
		goto out;
	if (strcmp(cmd, "NICK") == 0 && !irc_line_source(msg))
		goto out;
	if (strcmp(cmd, "PRIVMSG") == 0 || strcmp(cmd, "NOTICE") == 0) {
		const char *text = irc_line_param(msg, 1);
		if (!text || text[0] == '\0' || strcmp(text, "\001") == 0)
			goto out;
	}
	r = irc_line_param_count(msg) == 0 && line[strlen(line) - 1] != ' ';
out:
	irc_line_free(msg);
	return r;
}

/* Write line and CR LF to the library's side; space puts a space before
 * them. The library looks for parameters one byte past the end of a command
 * that ends its line (reading what an earlier line left in its buffer), and
 * compares such a command with its own names only for the command's length
 * ("N" is taken for NICK, "NO" for NOTICE): a space after it avoids both. */
static int ircshim_write(struct ircshim *s, const char *line, bool space)
{
	char buf[IRC_LINE_MAX + 4];
	size_t len = (size_t)snprintf(buf, sizeof buf, "%s%s\r\n", line, space ? " " : ""), off = 0;

	while (off < len) {
		ssize_t n = write(s->fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* Feed one line; the library's callbacks run before this returns. */
int ircshim_feed(struct ircshim *s, const char *line)
{
	int r;

	if (!s || !line || s->dead)
		return -EINVAL;
	if (s->broken)
		return -EIO;
	if ((r = ircshim_check(line)) < 0)
		return r;
	if ((r = ircshim_write(s, line, r == 1)) < 0)
		return r;
	s->depth++;
	r = ircshim_pump(s);
	if (r == 0 && !s->dead)
		r = ircshim_flush(s);
	if (--s->depth == 0 && s->dead)
		ircshim_destroy(s);
	return r;
}
