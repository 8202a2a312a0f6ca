/* SPDX-License-Identifier: ISC */
/* The link: bothost's own connection to an IRC server.
 *
 * Every byte to and from the server passes through here: name resolution off the loop, non-blocking connect trying
 * each address, TLS (transport_tls.h) with a non-blocking handshake,
 * registration (CAP LS 302, PASS, NICK, USER, then the capabilities and
 * SASL of capneg.h until CAP END), nick fallback while registering,
 * liveness (PING after idle, reconnect after silence), reconnect with
 * backoff, jitter and server rotation, IRCv3 tags removed and kept aside,
 * over-long lines cut. The layer above (irc.c) receives parsed lines and
 * sends whole, validated lines; pacing is its job.
 *
 * The byte stream (plain TCP or TLS) sits behind transport.h, so the rest
 * of the link does not know which one it has. */
#ifndef BOTHOST_LINK_H
#define BOTHOST_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct link;
struct irc_line;
struct conf_irc;

enum link_state {
	LINK_DISCONNECTED,	/* not started, or stopped */
	LINK_RESOLVING,
	LINK_CONNECTING,
	LINK_HANDSHAKING,	/* TLS handshake (named "connecting" too) */
	LINK_REGISTERING,	/* connected, waiting for 001 (CAP and SASL included) */
	LINK_CONNECTED,		/* registered */
	LINK_WAITING,		/* backing off before the next attempt */
};

struct link_callbacks {
	/* 001 arrived: the connection is usable; nick is what the server
	 * calls the bot. */
	void (*registered)(struct link *l, const char *nick, void *userdata);
	/* A line from the server (after 001, and the numerics before it):
	 * parsed (tags included) and as text without tags, at most 510 bytes
	 * (as `heard` gives it). PINGs are answered by the link and passed on
	 * too. */
	void (*line)(struct link *l, const struct irc_line *msg, const char *untagged, void *userdata);
	/* Every line from the server as text without tags (at most 510
	 * bytes), before the link acts on it: CAP, AUTHENTICATE (its payload
	 * shown as "***") and everything before 001 included. */
	void (*heard)(struct link *l, const char *untagged, void *userdata);
	/* A line was written to the server, the link's own included (for the
	 * "out" direction of the line event). */
	void (*sent)(struct link *l, const char *line, void *userdata);
	/* The connection ended, registered or not; reason for logs and events.
	 * The link reconnects by itself unless stopped. */
	void (*lost)(struct link *l, const char *reason, void *userdata);
};

/* A link for cfg (borrowed; must outlive the link or be replaced with
 * link_set_config). NULL on allocation failure. */
struct link *link_new(const struct conf_irc *cfg, const struct link_callbacks *cb, void *userdata);
/* Close without QUIT and free; no callback runs. */
void link_free(struct link *l);

/* Start connecting (and keep reconnecting). 0 or -errno. */
int link_start(struct link *l);
/* Send QUIT (when connected), close, and stay disconnected. */
void link_stop(struct link *l, const char *quit_message);
/* Drop the connection now and reconnect after the backoff (for tests and
 * admin commands). */
void link_reconnect(struct link *l, const char *reason);
/* Use a new configuration from the next connection on. */
void link_set_config(struct link *l, const struct conf_irc *cfg);

/* Completion of link_send: err 0 once the kernel has the line, or
 * -ECONNRESET when the connection ended before it was written (the caller
 * may send it again on the next connection). Runs exactly once, never
 * inside link_send. */
typedef void (*link_sent_fn)(struct link *l, int err, void *userdata);

/* Write one validated line (no CR/LF/NUL, at most 510 bytes, no CRLF) to the
 * server: 0 when it is written or buffered behind earlier output (done
 * follows; it may be NULL), -ENOTCONN when not registered (registration lines
 * are the link's own), -EMSGSIZE, -EINVAL (then done never runs). The `sent`
 * callback also reports the line. */
int link_send(struct link *l, const char *line, link_sent_fn done, void *userdata);
/* True when link_send would write without buffering. */
bool link_writable(const struct link *l);

enum link_state link_get_state(const struct link *l);
const char *link_state_name(enum link_state s);
/* "host:port" of the current or last server, or NULL. */
const char *link_get_server(const struct link *l);
/* Monotonic milliseconds when the current state began. */
uint64_t link_get_since(const struct link *l);
/* Wall-clock milliseconds (since the epoch) when the current state began,
 * read once then, so that it does not move while the state lasts. */
int64_t link_get_since_wall(const struct link *l);
/* The nick the bot registered with (valid once registered). */
const char *link_get_nick(const struct link *l);
/* Whether the server enabled the IRCv3 capability name on the current
 * connection (false without one). */
bool link_has_cap(const struct link *l, const char *name);
/* The account SASL logged in as on the current connection, or NULL. */
const char *link_get_account(const struct link *l);
/* The IRCv3 capabilities the server enabled on the current connection,
 * space-separated ("" for none), in a new string (NULL: out of memory). */
char *link_get_caps(const struct link *l);
/* While a line is handled (inside the `heard` and `line` callbacks): the
 * line as its bytes came from the server, tags included, when they were not
 * valid UTF-8 (the parsed line and the text are then decoded with
 * encoding_fallback); NULL when they were valid UTF-8. */
const char *link_get_raw(const struct link *l);

#endif
