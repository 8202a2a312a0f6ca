/* SPDX-License-Identifier: ISC */
/* The IRC link: bothost's own connection to a server (see link.h).
 *
 * One explicit state (enum link_state) drives everything; one timer (phase)
 * serves as the resolve, connect and registration deadline, the liveness
 * check once registered, and the backoff wait. Callbacks to the layer above
 * run either from the read path (registered, line) or from a later.h entry
 * (sent, the completions of link_send, lost), never inside a call the layer
 * above made. The link counts the libev callbacks it is inside of (depth)
 * and only marks itself dead when freed there; the outermost frame frees it. */
#include "config.h"

#include "link.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "capneg.h"
#include "irc_conf.h"
#include "irc_input.h"
#include "irc_line.h"
#include "irc_text.h"
#include "core/clock.h"
#include "core/later.h"
#include "core/list.h"
#include "core/log.h"
#include "resolve.h"
#include "transport.h"
#include "transport_tls.h"

/* Bytes link_send may leave buffered behind a slow server. */
#define LINK_OUTPUT_MAX (256 * 1024)
/* Random-digit nicks tried after the alternates and the suffixes. */
#define LINK_RANDOM_NICKS 3
/* RFC 1459's NICKLEN until a server announces its own. */
#define LINK_NICKLEN_DEFAULT 9
/* How long a stopped connection waits for the server to close after QUIT. */
#define LINK_LINGER_SECONDS 1.0

/* One line to write, CR LF included. */
struct link_out {
	struct list node;
	char *data;		/* the line, CR LF, NUL */
	size_t len, off;	/* bytes with CR LF; bytes written */
	link_sent_fn done;	/* NULL for the link's own lines or no callback */
	void *userdata;
	const char *shown;	/* reported by `sent` instead of the line (PASS) */
	int err;		/* once finished */
};

/* A stopped connection finishing its QUIT. */
struct link_linger {
	struct link *owner;
	struct transport *tr;
	char *buf;
	size_t len, off;
	ev_io io;
	ev_timer timer;
};

struct link {
	const struct conf_irc *cfg;
	struct link_callbacks cb;
	void *userdata;

	enum link_state state;
	uint64_t since;
	int64_t since_wall;	/* the same moment on the wall clock */
	bool running;		/* started and not stopped: keep reconnecting */
	bool dead;		/* freed inside a callback; the outermost frame frees */
	unsigned depth;
	uint64_t gen;		/* bumped whenever a connection ends */

	size_t server;		/* index in cfg->servers of the current attempt */
	size_t round_left;	/* servers left to try before backing off */
	char *server_name;
	char *host;		/* the current server's host, for TLS */
	bool tls;		/* the current server wants TLS */
	struct resolve *resolve;
	struct addrinfo *addrs, *addr;
	int connect_fd;
	struct transport *tr;
	ev_io io;
	ev_timer phase;
	ev_timer stall;		/* output buffered and not moving */
	struct capneg *cap;	/* CAP and SASL of the connection */
	enum capneg_state cap_state;	/* when the negotiation deadline was last armed */
	ev_timer nego;		/* that deadline */

	struct irc_input in;
	uint64_t discarded;	/* lines too long, dropped */
	const char *raw;	/* the line being handled as it came, when it was not UTF-8 */

	struct list out;
	size_t out_bytes;
	struct list finished;	/* written or failed, waiting for the later entry */
	char *lost_reason;
	struct later later;

	unsigned nick_try;
	char *nick;		/* as the server registered it */
	size_t nicklen;		/* NICKLEN learned from 005 */
	char *error_text;	/* the server's ERROR, for the reason of the close */

	ev_tstamp last_rx, ping_at;
	bool ping_out;
	uint64_t registered_at;
	unsigned backoff_ms;
	uint64_t rng;

	struct link_linger *linger;
};

static void link_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void link_phase_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void link_stall_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void link_nego_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void link_later_cb(void *userdata);
static void link_attempt(struct link *l);
static void link_connect_next(struct link *l);
static void link_lost(struct link *l, const char *reason, bool wait);


/* xorshift64*: jitter and random nicks need no more. */
static uint64_t link_random(struct link *l)
{
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 0x2545F4914F6CDD1DULL;
}

/* ---- lifetime ---------------------------------------------------------------- */

/* A new link, not started. */
struct link *link_new(const struct conf_irc *cfg, const struct link_callbacks *cb, void *userdata)
{
	struct link *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	if (irc_input_init(&l->in) < 0) {
		free(l);
		return NULL;
	}
	l->cfg = cfg;
	if (cb)
		l->cb = *cb;
	l->userdata = userdata;
	l->connect_fd = -1;
	l->nicklen = LINK_NICKLEN_DEFAULT;
	l->since = clock_now_ms();
	l->since_wall = clock_wall_ms();
	l->rng = (l->since << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)l;
	l->rng |= 1;
	list_init(&l->out);
	list_init(&l->finished);
	later_init(&l->later, later_queue_of(EV_DEFAULT), link_later_cb, l);
	ev_init(&l->io, link_io_cb);
	l->io.data = l;
	ev_init(&l->phase, link_phase_cb);
	l->phase.data = l;
	ev_init(&l->stall, link_stall_cb);
	l->stall.data = l;
	ev_init(&l->nego, link_nego_cb);
	l->nego.data = l;
	return l;
}

/* Free the memory of a link whose watchers are all stopped. */
static void link_destroy(struct link *l)
{
	irc_input_free(&l->in);
	free(l->server_name);
	free(l->host);
	free(l->nick);
	free(l->error_text);
	free(l->lost_reason);
	free(l);
}

/* Enter a callback frame of the link. */
static void link_hold(struct link *l)
{
	l->depth++;
}

/* Leave a callback frame; the last one frees a link freed meanwhile. */
static void link_release(struct link *l)
{
	if (--l->depth == 0 && l->dead)
		link_destroy(l);
}

/* The state and when it began. */
static void link_set_state(struct link *l, enum link_state s)
{
	if (l->state == s)
		return;
	l->state = s;
	l->since = clock_now_ms();
	l->since_wall = clock_wall_ms();
}

/* (Re)arm the phase timer to fire once after ms milliseconds. */
static void link_phase_arm(struct link *l, double seconds)
{
	ev_timer_stop(EV_DEFAULT, &l->phase);
	ev_timer_set(&l->phase, seconds > 0 ? seconds : 0., 0.);
	ev_timer_start(EV_DEFAULT, &l->phase);
}

/* Watch fd for events (0: stop watching). */
static void link_io_set(struct link *l, int fd, int events)
{
	if (ev_is_active(&l->io) && l->io.fd == fd && (l->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(EV_DEFAULT, &l->io);
	if (events == 0)
		return;
	ev_io_set(&l->io, fd, events);
	ev_io_start(EV_DEFAULT, &l->io);
}

/* ---- output ------------------------------------------------------------------ */

/* A queued copy of line with CR LF. */
static struct link_out *link_out_new(const char *line, size_t len)
{
	struct link_out *o = calloc(1, sizeof *o);

	if (!o)
		return NULL;
	o->data = malloc(len + 3);
	if (!o->data) {
		free(o);
		return NULL;
	}
	memcpy(o->data, line, len);
	memcpy(o->data + len, "\r\n", 3);
	o->len = len + 2;
	list_init(&o->node);
	return o;
}

/* Free a queued line (one shown otherwise held a secret: wipe it). */
static void link_out_free(struct link_out *o)
{
	if (o->shown)
		explicit_bzero(o->data, o->len);
	free(o->data);
	free(o);
}

/* Move a line to the finished list with err; the later entry reports it. */
static void link_out_finish(struct link *l, struct link_out *o, int err)
{
	list_remove(&o->node);
	o->err = err;
	list_add_tail(&l->finished, &o->node);
	later_schedule(&l->later);
}

/* Fail every queued line with -ECONNRESET. */
static void link_out_fail_all(struct link *l)
{
	while (!list_empty(&l->out)) {
		struct link_out *o = list_entry(l->out.next, struct link_out, node);
		link_out_finish(l, o, -ECONNRESET);
	}
	l->out_bytes = 0;
}

/* Free a list of lines without reporting them. */
static void link_out_drop_list(struct list *head)
{
	while (!list_empty(head)) {
		struct link_out *o = list_entry(head->next, struct link_out, node);
		list_remove(&o->node);
		link_out_free(o);
	}
}

/* libev's events for transport events. */
static int link_ev_events(unsigned events)
{
	return (events & TRANSPORT_READABLE ? EV_READ : 0) | (events & TRANSPORT_WRITABLE ? EV_WRITE : 0);
}

/* Watch for writability only while output waits (or the transport needs
 * it), and give a server that stops reading ping_timeout to take some. */
static void link_out_watch(struct link *l, bool progress)
{
	bool queued = !list_empty(&l->out);
	bool pending = queued || l->tr->write_needs;

	link_io_set(l, l->tr->fd, link_ev_events(transport_events(l->tr, queued)));
	if (!pending) {
		ev_timer_stop(EV_DEFAULT, &l->stall);
		return;
	}
	if (progress || !ev_is_active(&l->stall)) {
		l->stall.repeat = l->cfg->ping_timeout_ms / 1000.;
		ev_timer_again(EV_DEFAULT, &l->stall);
	}
}

/* Write queued lines until the socket is full. 0 or -errno (the
 * connection is then broken). */
static int link_flush(struct link *l)
{
	bool held = l->tr->write_needs != 0;
	int r = transport_flush(l->tr);
	bool progress = held && r == 0;

	if (r < 0 && r != -EAGAIN)
		return r;
	while (r == 0 && !list_empty(&l->out)) {
		struct link_out *o = list_entry(l->out.next, struct link_out, node);
		ssize_t n = transport_write(l->tr, o->data + o->off, o->len - o->off);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		progress = true;
		o->off += (size_t)n;
		l->out_bytes -= (size_t)n;
		if (o->off == o->len)
			link_out_finish(l, o, 0);
	}
	link_out_watch(l, progress);
	return 0;
}

/* Flush, and drop the connection when writing fails. */
static void link_flush_or_lose(struct link *l)
{
	char reason[128];
	int r = l->tr ? link_flush(l) : 0;

	if (r < 0) {
		snprintf(reason, sizeof reason, "write error: %s", strerror(-r));
		link_lost(l, reason, false);
	}
}

/* Queue one of the link's own lines (first: ahead of everything not yet
 * started) without writing it yet. 0 or -errno. */
static int link_queue_own(struct link *l, char *line, bool first, const char *shown)
{
	struct link_out *o;
	struct list *at = &l->out;

	if (!l->tr) {
		free(line);
		return -ENOTCONN;
	}
	log_debug("irc >> %s", shown ? shown : line);
	o = link_out_new(line, strlen(line));
	free(line);
	if (!o)
		return -ENOMEM;
	o->shown = shown;
	if (first) {
		at = l->out.next;
		/* A line half written must be finished first. */
		if (at != &l->out && list_entry(at, struct link_out, node)->off > 0)
			at = at->next;
	}
	list_add_tail(at, &o->node);
	l->out_bytes += o->len;
	return 0;
}

/* Queue one of the link's own lines and write. 0 or -errno. */
static int link_send_own(struct link *l, char *line, bool first, const char *shown)
{
	int r = link_queue_own(l, line, first, shown);

	if (r == 0)
		link_flush_or_lose(l);
	return r;
}

/* Build an own line from a verb and parameters and send it. */
static int link_send_built(struct link *l, bool first, const char *shown, unsigned flags,
			   const char *verb, const char *p1, const char *p2, const char *p3,
			   const char *p4)
{
	struct irc_str params[4];
	const char *v[4] = { p1, p2, p3, p4 };
	size_t n = 0;
	char *line;
	int r;

	while (n < 4 && v[n]) {
		params[n].p = v[n];
		params[n].len = strlen(v[n]);
		n++;
	}
	r = irc_line_build(verb, params, n, flags, &line, NULL);
	if (r < 0)
		return r;
	return link_send_own(l, line, first, shown);
}

/* Send one validated line from the layer above. */
int link_send(struct link *l, const char *line, link_sent_fn done, void *userdata)
{
	struct link_out *o;
	size_t len;

	if (!l || !line || l->dead)
		return -EINVAL;
	len = strlen(line);
	if (len == 0 || strpbrk(line, "\r\n"))
		return -EINVAL;
	if (len > IRC_LINE_MAX)
		return -EMSGSIZE;
	if (l->state != LINK_CONNECTED || !l->tr)
		return -ENOTCONN;
	if (l->out_bytes + len + 2 > LINK_OUTPUT_MAX)
		return -ENOBUFS;
	o = link_out_new(line, len);
	if (!o)
		return -ENOMEM;
	o->done = done;
	o->userdata = userdata;
	list_add_tail(&l->out, &o->node);
	l->out_bytes += o->len;
	log_debug("irc >> %s", line);
	link_flush_or_lose(l);
	return 0;
}

/* True when link_send would write at once. */
bool link_writable(const struct link *l)
{
	return l && l->state == LINK_CONNECTED && l->tr && list_empty(&l->out);
}

/* Report one finished line: `sent`, then its completion. */
static void link_report(struct link *l, struct link_out *o)
{
	if (o->err == 0 && l->cb.sent) {
		o->data[o->len - 2] = '\0';
		l->cb.sent(l, o->shown ? o->shown : o->data, l->userdata);
	}
	if (!l->dead && o->done)
		o->done(l, o->err, o->userdata);
}

/* The later entry: finished lines in order, then a lost connection. */
static void link_later_cb(void *userdata)
{
	struct link *l = userdata;

	link_hold(l);
	while (!l->dead && !list_empty(&l->finished)) {
		struct link_out *o = list_entry(l->finished.next, struct link_out, node);
		list_remove(&o->node);
		link_report(l, o);
		link_out_free(o);
	}
	if (!l->dead && l->lost_reason) {
		char *reason = l->lost_reason;
		l->lost_reason = NULL;
		if (l->cb.lost)
			l->cb.lost(l, reason, l->userdata);
		free(reason);
	}
	link_release(l);
}

/* The stall timer: the server took nothing for ping_timeout. */
static void link_stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link *l = w->data;

	link_hold(l);
	link_lost(l, "write timeout: the server stopped reading", true);
	link_release(l);
}

/* ---- closing and retrying --------------------------------------------------------- */

/* End whatever attempt or connection is under way, without callbacks now:
 * queued lines complete with -ECONNRESET from the later entry. */
static void link_close(struct link *l)
{
	l->gen++;
	resolve_cancel(l->resolve);
	l->resolve = NULL;
	if (l->addrs)
		freeaddrinfo(l->addrs);
	l->addrs = l->addr = NULL;
	ev_io_stop(EV_DEFAULT, &l->io);
	ev_timer_stop(EV_DEFAULT, &l->phase);
	ev_timer_stop(EV_DEFAULT, &l->stall);
	ev_timer_stop(EV_DEFAULT, &l->nego);
	l->cap = capneg_free(l->cap);
	if (l->connect_fd >= 0)
		close(l->connect_fd);
	l->connect_fd = -1;
	l->tr = transport_close(l->tr);
	link_out_fail_all(l);
	irc_input_clear(&l->in);
	l->ping_out = false;
	free(l->error_text);
	l->error_text = NULL;
}

/* Wait the backoff (with +-20% jitter) before the next attempt, and double
 * it for the time after. */
static void link_wait(struct link *l)
{
	unsigned min = l->cfg->reconnect_min_ms, max = l->cfg->reconnect_max_ms;
	double jitter = 0.8 + 0.4 * (double)(link_random(l) >> 11) / (double)(1ULL << 53);
	double delay;

	if (max < min)
		max = min;
	if (l->backoff_ms < min)
		l->backoff_ms = min;
	if (l->backoff_ms > max)
		l->backoff_ms = max;
	delay = l->backoff_ms * jitter / 1000.;
	l->backoff_ms = l->backoff_ms > max / 2 ? max : l->backoff_ms * 2;
	l->round_left = l->cfg->n_servers;
	link_set_state(l, LINK_WAITING);
	log_info("irc: next connection attempt in %.1f s", delay);
	link_phase_arm(l, delay);
}

/* After an attempt: the next server at once while this round has servers
 * left (and no wait is asked for), else after the backoff. */
static void link_next(struct link *l, bool wait)
{
	size_t n = l->cfg->n_servers;

	if (!l->running) {
		link_set_state(l, LINK_DISCONNECTED);
		return;
	}
	l->server = n ? (l->server + 1) % n : 0;
	if (l->round_left > 0)
		l->round_left--;
	if (!wait && l->round_left > 0) {
		link_attempt(l);
		return;
	}
	link_wait(l);
}

/* An established connection ended: report it from the loop and move on.
 * wait: back off even when other servers are left in the round. */
static void link_lost(struct link *l, const char *reason, bool wait)
{
	bool registered = l->state == LINK_CONNECTED;

	log_warn("irc: connection to %s lost: %s", l->server_name ? l->server_name : "?", reason);
	/* reason may live in what link_close frees. */
	if (!l->lost_reason)
		l->lost_reason = strdup(reason);
	link_close(l);
	later_schedule(&l->later);
	if (registered && clock_now_ms() - l->registered_at >= l->cfg->stable_after_ms)
		l->backoff_ms = l->cfg->reconnect_min_ms;
	link_next(l, wait || registered);
}

/* ---- registration --------------------------------------------------------------- */

/* The nick for registration step i, in a new string; NULL once every
 * choice was tried. */
static char *link_nick_choice(struct link *l, unsigned i)
{
	static const char suffixes[] = "_`-";
	const struct conf_irc *c = l->cfg;
	char *nick = NULL;

	if (i == 0)
		return strdup(c->nick);
	if (--i < c->n_alt_nicks)
		return strdup(c->alt_nicks[i]);
	i -= (unsigned)c->n_alt_nicks;
	if (i < sizeof suffixes - 1) {
		if (asprintf(&nick, "%s%c", c->nick, suffixes[i]) < 0)
			return NULL;
		return nick;
	}
	if (i - (sizeof suffixes - 1) >= LINK_RANDOM_NICKS)
		return NULL;
	/* The nick cut short enough for three digits within NICKLEN. */
	size_t digits = l->nicklen > 3 ? 3 : 1;
	size_t base = strlen(c->nick);
	if (l->nicklen > digits && base > l->nicklen - digits)
		base = l->nicklen - digits;
	if (asprintf(&nick, "%.*s%0*u", (int)base, c->nick, (int)digits,
		     (unsigned)(link_random(l) % (digits == 3 ? 1000 : 10))) < 0)
		return NULL;
	return nick;
}

/* Send NICK for the current registration step. */
static int link_send_nick(struct link *l)
{
	char *nick = link_nick_choice(l, l->nick_try);
	int r;

	if (!nick)
		return -ENOENT;
	r = link_send_built(l, false, NULL, 0, "NICK", nick, NULL, NULL, NULL);
	if (r < 0)
		log_warn("irc: cannot send NICK %s: %s", nick, strerror(-r));
	free(nick);
	return r;
}

/* ---- capabilities and SASL ---------------------------------------------------------- */

/* capneg's lines: queued as the link's own; whoever made capneg act
 * writes them (link_cap_after), so capneg is never freed under itself. */
static int link_cap_send(const char *line, const char *shown, void *userdata)
{
	struct link *l = userdata;
	char *copy = strdup(line);

	if (!copy)
		return -ENOMEM;
	return link_queue_own(l, copy, false, shown);
}

/* Keep the negotiation's deadline: cap_timeout for CAP answers,
 * sasl_timeout for SASL (0: none; register_timeout still applies), none
 * once it is over. */
static void link_cap_arm(struct link *l)
{
	enum capneg_state s = capneg_get_state(l->cap);
	unsigned ms = capneg_in_sasl(l->cap) ? l->cfg->sasl_timeout_ms : l->cfg->cap_timeout_ms;

	if (s == CAPNEG_DONE || s == CAPNEG_FAILED || ms == 0) {
		ev_timer_stop(EV_DEFAULT, &l->nego);
	} else if (s != l->cap_state) {
		ev_timer_stop(EV_DEFAULT, &l->nego);
		ev_timer_set(&l->nego, ms / 1000., 0.);
		ev_timer_start(EV_DEFAULT, &l->nego);
	}
	l->cap_state = s;
}

/* After capneg acted (r: what it returned): write its lines, give the
 * connection up when SASL failed and was required, keep the deadline.
 * false when the connection ended. */
static bool link_cap_after(struct link *l, int r)
{
	uint64_t gen = l->gen;
	char reason[320];

	if (r < 0) {
		snprintf(reason, sizeof reason, "cannot send the capability negotiation: %s", strerror(-r));
		link_lost(l, reason, true);
		return false;
	}
	link_flush_or_lose(l);
	if (l->dead || gen != l->gen)
		return false;
	if (capneg_get_state(l->cap) == CAPNEG_FAILED) {
		snprintf(reason, sizeof reason, "%s",
			 capneg_get_error(l->cap) ? capneg_get_error(l->cap) : "SASL authentication failed");
		link_lost(l, reason, true);
		return false;
	}
	link_cap_arm(l);
	return true;
}

/* A negotiation for the new connection, CAP LS 302 queued. 0 or -errno. */
static int link_cap_start(struct link *l)
{
	const struct conf_irc *c = l->cfg;
	struct capneg_opts o = {
		.server = l->server_name,
		.mech = c->sasl_mechanism == CONF_SASL_PLAIN	   ? CAPNEG_MECH_PLAIN
			: c->sasl_mechanism == CONF_SASL_EXTERNAL ? CAPNEG_MECH_EXTERNAL
								   : CAPNEG_MECH_NONE,
		.user = c->sasl_user,
		.password = c->sasl_password,
		.sasl_required = c->sasl_required,
	};
	int r;

	l->cap = capneg_new(&o, link_cap_send, l);
	if (!l->cap)
		return -ENOMEM;
	l->cap_state = CAPNEG_IDLE;
	r = capneg_start(l->cap);
	if (r == 0)
		link_cap_arm(l);
	return r;
}

/* The negotiation's deadline passed. */
static void link_nego_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link *l = w->data;

	link_hold(l);
	if (l->cap) {
		l->cap_state = CAPNEG_IDLE;
		link_cap_after(l, capneg_timeout(l->cap));
	}
	link_release(l);
}

/* ---- registration, continued ------------------------------------------------------- */

/* CAP LS 302, PASS when configured, NICK and USER, all at once: a server
 * without CAP registers the bot as they arrive, one with CAP waits for
 * CAP END. */
static int link_register(struct link *l)
{
	const struct conf_irc *c = l->cfg;
	int r = link_cap_start(l);

	if (r == 0 && c->password && c->password[0])
		r = link_send_built(l, false, "PASS ***", 0, "PASS", c->password, NULL, NULL, NULL);
	if (r == 0)
		r = link_send_nick(l);
	if (r == 0)
		r = link_send_built(l, false, NULL, IRC_LINE_COLON_ALWAYS, "USER",
				    c->username ? c->username : "bothost", "0", "*",
				    c->realname ? c->realname : "bothost");
	return r;
}

/* The transport is ready: register within register_timeout. */
static void link_registering(struct link *l)
{
	uint64_t gen;
	int r;

	link_set_state(l, LINK_REGISTERING);
	link_io_set(l, l->tr->fd, EV_READ);
	link_phase_arm(l, l->cfg->register_timeout_ms / 1000.);
	l->nick_try = 0;
	gen = l->gen;
	r = link_register(l);
	if (r < 0 && gen == l->gen)
		link_lost(l, "cannot build the registration lines (check nick, username, realname, password)",
			  true);
}

/* The TLS handshake failed (or took too long): the next server. */
static void link_tls_failed(struct link *l, const char *why)
{
	log_warn("irc: TLS with %s failed: %s", l->server_name, why);
	link_close(l);
	link_next(l, false);
}

/* Go on with the TLS handshake; register once it is complete. */
static void link_handshake(struct link *l)
{
	char why[400], desc[200];
	int r = transport_tls_handshake(l->tr, why, sizeof why);

	if (r == -EAGAIN) {
		link_io_set(l, l->tr->fd, l->tr->read_needs == TRANSPORT_WRITABLE ? EV_WRITE : EV_READ);
		return;
	}
	if (r < 0) {
		link_tls_failed(l, why);
		return;
	}
	log_info("irc: connected to %s with %s, registering", l->server_name,
		 transport_tls_describe(l->tr, desc, sizeof desc));
	link_registering(l);
}

/* Put TLS on the connected socket fd and start the handshake. */
static void link_tls_start(struct link *l, int fd)
{
	const struct conf_irc *c = l->cfg;
	unsigned char pin[TRANSPORT_TLS_PIN_LEN];
	struct transport_tls_config tc = {
		.host = l->host,
		.insecure = c->tls_insecure,
		.ca_file = c->tls_ca_file,
		.cert_file = c->tls_cert,
		.key_file = c->tls_key,
	};
	char why[400];
	int r = 0;

	if (c->tls_fingerprint && (r = transport_tls_parse_pin(c->tls_fingerprint, pin)) == 0)
		tc.pin = pin;
	if (r == 0)
		r = transport_tls_new(fd, &tc, &l->tr, why, sizeof why);
	else
		snprintf(why, sizeof why, "tls_fingerprint is not a SHA-256 fingerprint");
	if (r < 0) {
		close(fd);
		log_error("irc: TLS for %s: %s", l->server_name, why);
		link_next(l, true);
		return;
	}
	if (c->tls_insecure && !tc.pin)
		log_warn("irc: the TLS certificate of %s is NOT verified (tls_insecure = yes): anyone on the way "
			 "can read and change this connection; meant for tests only", l->server_name);
	link_set_state(l, LINK_HANDSHAKING);
	link_phase_arm(l, c->connect_timeout_ms / 1000.);
	link_handshake(l);
}

/* The TCP connection is up on fd: TLS first when the server wants it,
 * then registration. */
static void link_established(struct link *l, int fd)
{
	l->connect_fd = -1;
	if (l->addrs)
		freeaddrinfo(l->addrs);
	l->addrs = l->addr = NULL;
	if (l->tls) {
		link_tls_start(l, fd);
		return;
	}
	l->tr = transport_tcp_new(fd);
	if (!l->tr) {
		close(fd);
		log_error("irc: out of memory");
		link_next(l, true);
		return;
	}
	log_info("irc: connected to %s, registering", l->server_name);
	link_registering(l);
}

/* 432/433/436/437 while registering: try the next nick, or give up. */
static void link_nick_refused(struct link *l, const struct irc_line *msg)
{
	char reason[96];

	log_info("irc: nick refused (%s), trying another", irc_line_command(msg));
	l->nick_try++;
	int r = link_send_nick(l);
	if (r == -ENOENT) {
		log_warn("irc: %s refused every nick after %u tries", l->server_name, l->nick_try);
		snprintf(reason, sizeof reason, "every nick was refused (%u tries)", l->nick_try);
		link_lost(l, reason, true);
	} else if (r < 0) {
		link_lost(l, "cannot send NICK", true);
	}
}

/* 001: registered. */
static void link_registered(struct link *l, const struct irc_line *msg)
{
	const char *nick = irc_line_param(msg, 0);
	char *copy = strdup(nick ? nick : "");

	if (!copy) {
		link_lost(l, "out of memory", true);
		return;
	}
	if (l->cap) {
		capneg_registered(l->cap);
		if (!link_cap_after(l, 0)) {
			free(copy);
			return;
		}
	}
	free(l->nick);
	l->nick = copy;
	link_set_state(l, LINK_CONNECTED);
	l->registered_at = clock_now_ms();
	l->round_left = l->cfg->n_servers;
	l->ping_out = false;
	link_phase_arm(l, l->cfg->ping_idle_ms / 1000.);
	log_info("irc: registered with %s as %s", l->server_name, l->nick);
	if (l->cb.registered)
		l->cb.registered(l, l->nick, l->userdata);
}

/* NICKLEN from a 005 line, for random nicks on later connections. */
static void link_learn_nicklen(struct link *l, const struct irc_line *msg)
{
	size_t n = irc_line_param_count(msg);

	for (size_t i = 1; i + 1 < n; i++) {
		const char *t = irc_line_param(msg, i);
		if (strncmp(t, "NICKLEN=", 8) == 0 && atoi(t + 8) > 0)
			l->nicklen = (size_t)atoi(t + 8);
	}
}

/* ---- input ------------------------------------------------------------------------ */

/* Answer a server PING at once, ahead of buffered output. */
static void link_pong(struct link *l, const struct irc_line *msg)
{
	const char *token = irc_line_last_param(msg);
	int r;

	if (token)
		r = link_send_built(l, true, NULL, IRC_LINE_COLON_ALWAYS, "PONG", token, NULL, NULL,
				    NULL);
	else
		r = link_send_built(l, true, NULL, 0, "PONG", NULL, NULL, NULL, NULL);
	if (r < 0)
		log_warn("irc: cannot answer PING: %s", strerror(-r));
}

/* What the link itself does with a line; false when the connection ended. */
static bool link_handle(struct link *l, const struct irc_line *msg)
{
	const char *cmd = irc_line_command(msg);
	uint64_t gen = l->gen;
	int r = l->cap ? capneg_line(l->cap, msg) : 0;

	if (r != 0 && !link_cap_after(l, r < 0 ? r : 0))
		return false;
	switch (irc_line_numeric(msg)) {
	case 1:
		if (l->state == LINK_REGISTERING)
			link_registered(l, msg);
		break;
	case 5:
		link_learn_nicklen(l, msg);
		break;
	case 432: case 433: case 436: case 437:
		if (l->state == LINK_REGISTERING)
			link_nick_refused(l, msg);
		break;
	case -1:
		if (strcmp(cmd, "PING") == 0) {
			link_pong(l, msg);
		} else if (strcmp(cmd, "ERROR") == 0) {
			const char *text = irc_line_last_param(msg);
			free(l->error_text);
			l->error_text = strdup(text ? text : "");
		}
		break;
	default:
		break;
	}
	return !l->dead && gen == l->gen;
}

/* The fallback of the configured encoding_fallback. */
static enum irc_text_fallback link_fallback(const struct link *l)
{
	switch (l->cfg->encoding_fallback) {
	case CONF_ENCODING_LATIN1:
		return IRC_TEXT_LATIN1;
	case CONF_ENCODING_NONE:
		return IRC_TEXT_REPLACE;
	case CONF_ENCODING_CP1252:
		break;
	}
	return IRC_TEXT_CP1252;
}

/* Report a line to `heard`, the payload of AUTHENTICATE hidden ("+" and
 * "*" carry nothing secret). */
static void link_heard(struct link *l, const struct irc_line *msg, const char *untagged)
{
	const char *arg = irc_line_param(msg, 0);

	if (!l->cb.heard)
		return;
	if (strcmp(irc_line_command(msg), "AUTHENTICATE") == 0 && arg && strcmp(arg, "+") != 0 &&
	    strcmp(arg, "*") != 0)
		untagged = "AUTHENTICATE ***";
	l->cb.heard(l, untagged, l->userdata);
}

/* One decoded line; false when the connection ended. */
static bool link_line_decoded(struct link *l, char *line)
{
	struct irc_line *msg;
	char *untagged;
	uint64_t gen = l->gen;
	bool pass;
	int r = irc_line_parse(line, &msg);

	if (r < 0) {
		log_debug("irc: ignoring a line that does not parse (%s)", strerror(-r));
		return true;
	}
	log_debug("irc << %s", line);
	/* Before 001 only numerics (and PINGs) go up; then everything. */
	pass = l->state == LINK_CONNECTED || irc_line_numeric(msg) >= 0 ||
	       strcmp(irc_line_command(msg), "PING") == 0;
	untagged = (char *)irc_line_strip_tags(line);
	irc_input_cut(untagged);
	link_heard(l, msg, untagged);
	if (!l->dead && gen == l->gen && link_handle(l, msg) && pass && l->cb.line)
		l->cb.line(l, msg, untagged, l->userdata);
	irc_line_free(msg);
	return !l->dead && gen == l->gen;
}

/* One complete line (no CR LF, no NUL), made valid UTF-8 first (the bytes
 * as they came stay readable with link_get_raw); false when the
 * connection ended. */
static bool link_line(struct link *l, char *line)
{
	char *decoded = NULL;
	int r = irc_text_decode(line, strlen(line), link_fallback(l), &decoded, NULL);
	bool alive;

	if (r < 0) {
		log_warn("irc: out of memory: a line from %s is lost", l->server_name);
		return true;
	}
	if (r == 0)
		return link_line_decoded(l, line);
	l->raw = line;
	alive = link_line_decoded(l, decoded);
	/* l may be dead, not yet freed: it is held by the read frame. */
	l->raw = NULL;
	free(decoded);
	return alive;
}

/* Count and log a line too long to keep. */
static void link_discard(struct link *l, size_t len, bool whole)
{
	l->discarded++;
	log_warn("irc: discarded a line of %s%zu bytes from %s (%llu so far)", whole ? "" : "over ",
		 len, l->server_name, (unsigned long long)l->discarded);
}

/* Handle the whole lines read so far; false when the connection ended. */
static bool link_lines(struct link *l)
{
	char *line;
	size_t len;
	int r;

	while ((r = irc_input_next(&l->in, &line, &len)) != 0) {
		if (r < 0)
			link_discard(l, len, !l->in.discarding);
		else if (!link_line(l, line))
			return false;
	}
	return true;
}

/* Read once and handle the lines: true when bytes came and the
 * connection goes on. */
static bool link_read_once(struct link *l)
{
	size_t room;
	char *space = irc_input_space(&l->in, &room);
	ssize_t n = transport_read(l->tr, space, room);
	char reason[192];

	if (n == -EAGAIN)
		return false;
	if (n <= 0) {
		if (n < 0)
			snprintf(reason, sizeof reason, "read error: %s", strerror((int)-n));
		else if (l->error_text)
			snprintf(reason, sizeof reason, "closed by the server: %.150s", l->error_text);
		else
			snprintf(reason, sizeof reason, "closed by the server");
		link_lost(l, reason, false);
		return false;
	}
	if (irc_input_commit(&l->in, (size_t)n)) {
		l->last_rx = ev_now(EV_DEFAULT);
		l->ping_out = false;
	}
	return link_lines(l);
}

/* Read what the server sent and handle its lines, until the transport
 * holds nothing more (TLS may have decrypted more than one read took);
 * then watch what the transport needs next. */
static void link_read(struct link *l)
{
	uint64_t gen = l->gen;

	while (link_read_once(l) && transport_pending(l->tr) > 0)
		;
	if (!l->dead && gen == l->gen && l->tr)
		link_out_watch(l, false);
}

/* ---- connecting ------------------------------------------------------------------ */

/* "host:port", with brackets around an IPv6 host. */
static int link_name_server(struct link *l, const struct conf_server *s)
{
	char *name;
	const char *port = s->port ? s->port : "6667";
	int r = strchr(s->host, ':') ? asprintf(&name, "[%s]:%s", s->host, port)
				     : asprintf(&name, "%s:%s", s->host, port);

	if (r < 0)
		return -ENOMEM;
	free(l->server_name);
	l->server_name = name;
	return 0;
}

/* The numeric form of an address, for logs. */
static const char *link_addr_text(const struct addrinfo *ai, char *buf, size_t n)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)n, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(buf, n, "?");
	return buf;
}

/* Addresses are known (or not). */
static void link_resolved_cb(struct resolve *r, int err, struct addrinfo *res, void *userdata)
{
	struct link *l = userdata;

	link_hold(l);
	l->resolve = NULL;
	if (err < 0) {
		log_warn("irc: cannot resolve %s: %s", l->server_name, resolve_strerror(err));
		link_next(l, false);
	} else {
		l->addrs = l->addr = res;
		link_connect_next(l);
	}
	link_release(l);
}

/* Try the current address and the ones after it; the next server when
 * none is left. */
static void link_connect_next(struct link *l)
{
	char text[INET6_ADDRSTRLEN + 8];

	for (; l->addr; l->addr = l->addr->ai_next) {
		int fd = -1;
		int r = transport_connect_start(l->addr->ai_addr, l->addr->ai_addrlen, &fd);
		if (r == 0) {
			link_established(l, fd);
			return;
		}
		if (r == -EINPROGRESS) {
			l->connect_fd = fd;
			link_set_state(l, LINK_CONNECTING);
			link_io_set(l, fd, EV_WRITE);
			link_phase_arm(l, l->cfg->connect_timeout_ms / 1000.);
			return;
		}
		log_info("irc: connecting to %s (%s) failed: %s", l->server_name,
			 link_addr_text(l->addr, text, sizeof text), strerror(-r));
	}
	log_warn("irc: no address of %s could be reached", l->server_name);
	if (l->addrs)
		freeaddrinfo(l->addrs);
	l->addrs = NULL;
	link_next(l, false);
}

/* The connect in progress failed: log it and try the next address. */
static void link_connect_failed(struct link *l, const char *why)
{
	char text[INET6_ADDRSTRLEN + 8];

	log_info("irc: connecting to %s (%s) failed: %s", l->server_name,
		 link_addr_text(l->addr, text, sizeof text), why);
	ev_io_stop(EV_DEFAULT, &l->io);
	ev_timer_stop(EV_DEFAULT, &l->phase);
	close(l->connect_fd);
	l->connect_fd = -1;
	l->addr = l->addr->ai_next;
	link_connect_next(l);
}

/* The socket being connected became writable. */
static void link_connect_ready(struct link *l)
{
	int r = transport_connect_finish(l->connect_fd);

	if (r < 0) {
		link_connect_failed(l, strerror(-r));
		return;
	}
	ev_timer_stop(EV_DEFAULT, &l->phase);
	link_established(l, l->connect_fd);
}

/* Start an attempt on the current server. */
static void link_attempt(struct link *l)
{
	const struct conf_server *s;
	int err = 0;

	if (l->cfg->n_servers == 0) {
		log_warn("irc: no server configured");
		link_wait(l);
		return;
	}
	if (l->server >= l->cfg->n_servers)
		l->server = 0;
	s = &l->cfg->servers[l->server];
	free(l->host);
	l->host = strdup(s->host);
	l->tls = s->tls;
	if (!l->host || link_name_server(l, s) < 0) {
		link_wait(l);
		return;
	}
	link_set_state(l, LINK_RESOLVING);
	link_phase_arm(l, l->cfg->connect_timeout_ms / 1000.);
	l->resolve = resolve_start(s->host, s->port ? s->port : "6667", link_resolved_cb, l, &err);
	if (!l->resolve) {
		log_warn("irc: cannot resolve %s: %s", l->server_name, strerror(-err));
		ev_timer_stop(EV_DEFAULT, &l->phase);
		link_next(l, false);
	}
}

/* ---- timers and the socket -------------------------------------------------------- */

/* Registered: PING after ping_idle of silence, give up ping_timeout later
 * (ping_idle 0: no liveness check). */
static void link_liveness(struct link *l)
{
	ev_tstamp now = ev_now(EV_DEFAULT);
	double idle = l->cfg->ping_idle_ms / 1000., timeout = l->cfg->ping_timeout_ms / 1000.;
	char token[32];

	if (idle <= 0)
		return;
	if (l->ping_out) {
		if (now - l->ping_at >= timeout) {
			link_lost(l, "ping timeout", true);
			return;
		}
		link_phase_arm(l, l->ping_at + timeout - now);
		return;
	}
	if (now - l->last_rx < idle) {
		link_phase_arm(l, l->last_rx + idle - now);
		return;
	}
	snprintf(token, sizeof token, "bothost-%llu", (unsigned long long)clock_now_ms());
	l->ping_out = true;
	l->ping_at = now;
	link_phase_arm(l, timeout);
	link_send_built(l, true, NULL, IRC_LINE_COLON_ALWAYS, "PING", token, NULL, NULL, NULL);
}

/* The phase timer, by state. */
static void link_phase_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct link *l = w->data;

	link_hold(l);
	switch (l->state) {
	case LINK_RESOLVING:
		log_warn("irc: resolving %s timed out", l->server_name);
		link_close(l);
		link_next(l, false);
		break;
	case LINK_CONNECTING:
		link_connect_failed(l, "timed out");
		break;
	case LINK_HANDSHAKING:
		link_tls_failed(l, "the handshake timed out");
		break;
	case LINK_REGISTERING:
		link_lost(l, "registration timed out", false);
		break;
	case LINK_CONNECTED:
		link_liveness(l);
		break;
	case LINK_WAITING:
		link_attempt(l);
		break;
	case LINK_DISCONNECTED:
		break;
	}
	link_release(l);
}

/* The socket: connect completion, or input and output. */
static void link_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct link *l = w->data;
	uint64_t gen = l->gen;
	unsigned ready = (revents & EV_READ ? TRANSPORT_READABLE : 0) |
			 (revents & EV_WRITE ? TRANSPORT_WRITABLE : 0);

	link_hold(l);
	if (l->state == LINK_CONNECTING) {
		link_connect_ready(l);
	} else if (l->state == LINK_HANDSHAKING) {
		link_handshake(l);
	} else if (l->tr) {
		if (transport_wants_write(l->tr, ready))
			link_flush_or_lose(l);
		if (!l->dead && gen == l->gen && transport_wants_read(l->tr, ready))
			link_read(l);
	}
	link_release(l);
}

/* ---- after QUIT --------------------------------------------------------------------- */

/* Close the stopped connection for good. */
static void link_linger_free(struct link_linger *g)
{
	if (!g)
		return;
	ev_io_stop(EV_DEFAULT, &g->io);
	ev_timer_stop(EV_DEFAULT, &g->timer);
	transport_close(g->tr);
	if (g->owner && g->owner->linger == g)
		g->owner->linger = NULL;
	free(g->buf);
	free(g);
}

/* Write what is left of the QUIT; then wait for the server to close.
 * false when the connection failed (g is freed). */
static bool link_linger_write(struct link_linger *g)
{
	int r = 0;

	while (g->off < g->len) {
		ssize_t n = transport_write(g->tr, g->buf + g->off, g->len - g->off);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			link_linger_free(g);
			return false;
		}
		g->off += (size_t)n;
	}
	if (g->off == g->len && (r = transport_flush(g->tr)) < 0 && r != -EAGAIN) {
		link_linger_free(g);
		return false;
	}
	ev_io_stop(EV_DEFAULT, &g->io);
	ev_io_set(&g->io, g->tr->fd, link_ev_events(transport_events(g->tr, g->off < g->len)));
	ev_io_start(EV_DEFAULT, &g->io);
	return true;
}

/* Write the rest of the QUIT, then read until the server closes. */
static void link_linger_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct link_linger *g = w->data;
	char sink[4096];
	ssize_t n;

	if ((g->off < g->len || g->tr->write_needs) && !link_linger_write(g))
		return;
	if (!(revents & EV_READ))
		return;
	n = transport_read(g->tr, sink, sizeof sink);
	if (n == 0 || (n < 0 && n != -EAGAIN))
		link_linger_free(g);
}

/* Enough waiting for the server. */
static void link_linger_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	link_linger_free(w->data);
}

/* Hand the connection to a linger that finishes the half-written line,
 * sends QUIT and closes when the server does (or after a second). */
static void link_linger_start(struct link *l, const char *quit_message)
{
	struct link_linger *g = calloc(1, sizeof *g);
	struct link_out *head = list_empty(&l->out) ? NULL
				: list_entry(l->out.next, struct link_out, node);
	size_t partial = head && head->off > 0 ? head->len - head->off : 0;
	char *quit = NULL;

	if (!g)
		return;
	if (!quit_message || irc_line_buildv(&quit, IRC_LINE_COLON_ALWAYS, "QUIT", quit_message, NULL) < 0)
		quit = strdup("QUIT");
	g->buf = quit ? malloc(partial + strlen(quit) + 3) : NULL;
	if (!g->buf) {
		free(quit);
		free(g);
		return;
	}
	if (partial)
		memcpy(g->buf, head->data + head->off, partial);
	g->len = partial + (size_t)sprintf(g->buf + partial, "%s\r\n", quit);
	log_debug("irc >> %s", quit);
	free(quit);
	g->tr = l->tr;
	l->tr = NULL;
	g->owner = l;
	link_linger_free(l->linger);
	l->linger = g;
	ev_init(&g->io, link_linger_io_cb);
	g->io.data = g;
	ev_timer_init(&g->timer, link_linger_timer_cb, LINK_LINGER_SECONDS, 0.);
	g->timer.data = g;
	ev_timer_start(EV_DEFAULT, &g->timer);
	link_linger_write(g);
}

/* ---- the interface -------------------------------------------------------------------- */

/* Start connecting. */
int link_start(struct link *l)
{
	if (!l || l->dead)
		return -EINVAL;
	if (l->running)
		return -EALREADY;
	if (!l->cfg || l->cfg->n_servers == 0 || !l->cfg->nick || !l->cfg->nick[0])
		return -EINVAL;
	l->running = true;
	l->backoff_ms = l->cfg->reconnect_min_ms;
	l->round_left = l->cfg->n_servers;
	link_attempt(l);
	return 0;
}

/* QUIT when registered, close, stay disconnected. */
void link_stop(struct link *l, const char *quit_message)
{
	if (!l || l->dead)
		return;
	l->running = false;
	if (l->state == LINK_CONNECTED && l->tr)
		link_linger_start(l, quit_message);
	link_close(l);
	link_set_state(l, LINK_DISCONNECTED);
}

/* Drop the connection and reconnect after the backoff. */
void link_reconnect(struct link *l, const char *reason)
{
	if (!l || l->dead || !l->running)
		return;
	if (!reason)
		reason = "reconnect requested";
	if (l->state == LINK_REGISTERING || l->state == LINK_CONNECTED) {
		link_lost(l, reason, true);
		return;
	}
	log_info("irc: %s", reason);
	link_close(l);
	link_wait(l);
}

/* A new configuration for the next connection. */
void link_set_config(struct link *l, const struct conf_irc *cfg)
{
	if (!l || !cfg)
		return;
	l->cfg = cfg;
	if (l->server >= cfg->n_servers)
		l->server = 0;
	if (l->round_left > cfg->n_servers)
		l->round_left = cfg->n_servers;
}

/* Close without QUIT and free; no callback runs. */
void link_free(struct link *l)
{
	if (!l || l->dead)
		return;
	l->running = false;
	link_close(l);
	link_linger_free(l->linger);
	later_cancel(&l->later);
	link_out_drop_list(&l->finished);
	l->dead = true;
	if (l->depth == 0)
		link_destroy(l);
}

/* The current state. */
enum link_state link_get_state(const struct link *l)
{
	return l->state;
}

/* The state's name as getState reports it. */
const char *link_state_name(enum link_state s)
{
	switch (s) {
	case LINK_DISCONNECTED:
		return "disconnected";
	case LINK_RESOLVING:
		return "resolving";
	case LINK_CONNECTING:
	case LINK_HANDSHAKING:
		return "connecting";
	case LINK_REGISTERING:
		return "registering";
	case LINK_CONNECTED:
		return "connected";
	case LINK_WAITING:
		return "waiting";
	}
	return "unknown";
}

/* "host:port" of the current or last server. */
const char *link_get_server(const struct link *l)
{
	return l->server_name;
}

/* When the current state began. */
uint64_t link_get_since(const struct link *l)
{
	return l->since;
}

/* When the current state began, on the wall clock. */
int64_t link_get_since_wall(const struct link *l)
{
	return l->since_wall;
}

/* The registered nick. */
const char *link_get_nick(const struct link *l)
{
	return l->nick;
}

/* Whether the server enabled a capability on this connection. */
bool link_has_cap(const struct link *l, const char *name)
{
	return l->cap && capneg_enabled(l->cap, name);
}

/* The capabilities enabled on this connection. */
char *link_get_caps(const struct link *l)
{
	return l->cap ? capneg_enabled_list(l->cap) : strdup("");
}

/* The line being handled as it came from the server, when it was not UTF-8. */
const char *link_get_raw(const struct link *l)
{
	return l->raw;
}

/* The account SASL logged in as on this connection. */
const char *link_get_account(const struct link *l)
{
	return l->cap ? capneg_get_account(l->cap) : NULL;
}
