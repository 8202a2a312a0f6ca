/* SPDX-License-Identifier: ISC */
/* IRCv3 capability negotiation and SASL while the link registers, as a
 * state machine without I/O: the link gives it the server's lines and its
 * deadlines, it answers through a send function.
 *
 * CAP LS 302 goes out first (NICK and USER follow at once, so a server
 * without CAP registers the bot as before; one that has CAP holds the
 * registration until CAP END). From the server's list only the
 * capabilities bothost handles are requested (multi-prefix,
 * userhost-in-names, extended-join, account-notify, account-tag,
 * server-time, message-tags), and sasl when a mechanism is configured. With sasl acknowledged, AUTHENTICATE
 * PLAIN (base64 "user\0user\0password" in 400-byte pieces) or EXTERNAL
 * (the TLS client certificate) runs; then CAP END. A SASL failure (904,
 * 905, 906, 902, the server offering no SASL or not the mechanism, no
 * answer in time) is logged; sasl_required decides whether the connection
 * is given up (CAPNEG_FAILED) or registration goes on unauthenticated.
 * A 421 for CAP, 001 before CAP END, or no answer to CAP LS in time end
 * the negotiation without capabilities.
 *
 * After registration the machine keeps following CAP NEW, DEL and ACK, so
 * that capneg_enabled stays true to what the server sends. */
#ifndef BOTHOST_CAPNEG_H
#define BOTHOST_CAPNEG_H

#include <stdbool.h>
#include <stddef.h>

struct capneg;
struct irc_line;

enum capneg_mech {
	CAPNEG_MECH_NONE,
	CAPNEG_MECH_PLAIN,
	CAPNEG_MECH_EXTERNAL,
};

enum capneg_state {
	CAPNEG_IDLE,		/* not started */
	CAPNEG_LS,		/* CAP LS 302 sent, waiting for the list */
	CAPNEG_REQ,		/* CAP REQ sent, waiting for ACK or NAK */
	CAPNEG_SASL_START,	/* AUTHENTICATE MECH sent, waiting for "AUTHENTICATE +" */
	CAPNEG_SASL_RESULT,	/* credentials sent, waiting for 903 or a failure */
	CAPNEG_DONE,		/* negotiation over (CAP END sent when needed) */
	CAPNEG_FAILED,		/* SASL was required and failed: give the connection up */
};

struct capneg_opts {
	const char *server;		/* for log lines ("irc.example.org:6697") */
	enum capneg_mech mech;
	const char *user;		/* PLAIN: the account name */
	const char *password;		/* PLAIN: its password */
	bool sasl_required;
};

/* Send one line (without CR LF); shown, when not NULL, stands for it in
 * logs and line events (it hides credentials). 0 or -errno. */
typedef int (*capneg_send_fn)(const char *line, const char *shown, void *userdata);

/* A machine for one connection; the options are copied. NULL on
 * allocation failure. */
struct capneg *capneg_new(const struct capneg_opts *o, capneg_send_fn send, void *userdata);
/* Free (the password copy is wiped); NULL is allowed. Returns NULL. */
struct capneg *capneg_free(struct capneg *c);

/* Send CAP LS 302. 0 or the send function's error. */
int capneg_start(struct capneg *c);
/* A line from the server: 1 when it was part of the negotiation (CAP,
 * AUTHENTICATE, the SASL numerics, a 421 for CAP), 0 when not, or the send
 * function's error. */
int capneg_line(struct capneg *c, const struct irc_line *msg);
/* The server took too long to answer what the state waits for. 0 or the
 * send function's error. */
int capneg_timeout(struct capneg *c);
/* 001 arrived: a negotiation still under way is over. */
void capneg_registered(struct capneg *c);

enum capneg_state capneg_get_state(const struct capneg *c);
/* Whether the state waits for SASL (its deadline is sasl_timeout, the
 * others' cap_timeout). */
bool capneg_in_sasl(const struct capneg *c);
/* Why SASL failed (for the reason of a dropped connection), or NULL. */
const char *capneg_get_error(const struct capneg *c);
/* The account SASL logged in as (from 900), or NULL. */
const char *capneg_get_account(const struct capneg *c);
/* Whether the server enabled capability name. */
bool capneg_enabled(const struct capneg *c, const char *name);
/* The enabled capabilities, space-separated ("" for none), in a new
 * string (NULL when memory ran out). */
char *capneg_enabled_list(const struct capneg *c);

/* Standard base64 of len bytes at p, NUL-terminated, in a new string
 * (NULL when memory ran out). */
char *capneg_base64(const void *p, size_t len);

#endif
