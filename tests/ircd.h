/* SPDX-License-Identifier: ISC */
/* IRC test infrastructure: a private ngircd on 127.0.0.1 per test, a scripted
 * IRC user speaking to it, and a scripted fake IRC server for conditions a
 * real server will not produce (tags, over-long lines, silence, abrupt close).
 *
 * Errors are -errno codes; everything here blocks with a deadline. Servers a
 * test forgets to stop are stopped when the process exits.
 *
 * The deadlines of waits on the program under test (test_irc_user_expect and
 * what builds on it, the fake server's expect, accept and register steps,
 * test_fake_done, test_fake_wait_line) are multiplied by $TEST_SLOWDOWN (an
 * integer from 1 to 100, default 1; anything else ends the program with a
 * message): under valgrind bothost runs many times slower. Fixed durations
 * (test_fake_wait, test_fake_silent) are not. */
#ifndef TEST_IRCD_H
#define TEST_IRCD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "wire/frame.h"

/* ---- ngircd ---------------------------------------------------------------- */

struct test_ircd_opts {
	bool penalties;		/* keep ngircd's flood penalties; false: MaxPenaltyTime = 0 */
	int ping_timeout;	/* seconds of silence before the server PINGs; 0: 120 (min 5) */
	int pong_timeout;	/* seconds to wait for the PONG; 0: 20 (min 5) */
	bool tls;		/* also a TLS port, with a self-signed certificate made
				 * by test_tls_make_cert; the certificate is its own CA */
	const char *tls_names;	/* its subjectAltName; NULL: "DNS:localhost,IP:::1" */
	bool ipv6;		/* listen on ::1 too (same ports) */
};

struct test_ircd {
	pid_t pid;		/* ngircd itself; 0 when not running */
	int port;		/* on 127.0.0.1, kept across restarts */
	int tls_port;		/* the TLS port when opts.tls, else 0 */
	struct test_ircd_opts opts;
	char dir[256];		/* private 0700 directory, removed by test_ircd_stop */
	char conf[300];		/* ngircd.conf inside dir */
	char log[300];		/* ngircd's stdout and stderr */
	char cert[300];		/* opts.tls: the server's certificate (PEM), also the CA to trust */
	char key[300];		/* opts.tls: its key */
};

/* Write a config for a free port in a fresh directory and start `ngircd -n -f
 * CONF` ($NGIRCD, else /usr/sbin/ngircd) as a child; return once it logged that
 * it listens and the port accepts connections (deadline 10 s). o NULL means all
 * defaults (penalties off). 0, -ECHILD when ngircd exited, or another -errno;
 * on failure the log is copied to stderr and nothing is left behind. */
int test_ircd_start(struct test_ircd *d, const struct test_ircd_opts *o);
/* SIGTERM, wait (deadline 5 s), then SIGKILL; remove the directory. Returns the
 * wait status, or -1 when the server was not running. */
int test_ircd_stop(struct test_ircd *d);
/* SIGKILL the server and reap it, keeping directory and port for a restart.
 * 0 or -ESRCH when it was not running. */
int test_ircd_kill(struct test_ircd *d);
/* Stop the server if it runs and start it again on the same port with the same
 * config (deadline 10 s). 0, -EADDRINUSE when the port stayed taken for 1 s,
 * -EINVAL after test_ircd_stop, or another -errno. */
int test_ircd_restart(struct test_ircd *d);
/* Copy the server's log to out (for failure diagnostics). */
void test_ircd_dump_log(const struct test_ircd *d, FILE *out);

/* Make a self-signed certificate (CA:TRUE, so it can be trusted as its own
 * CA) for common name cn with the subjectAltName san ("DNS:localhost,IP:::1";
 * NULL for none) and its P-256 key, as the PEM files cert and key (mode
 * 0644 and 0600), with `openssl req` ($OPENSSL, else openssl from PATH).
 * 0 or -errno (-ECHILD when openssl failed). */
int test_tls_make_cert(const char *cert, const char *key, const char *cn, const char *san);

/* ---- a scripted IRC user ----------------------------------------------------- */

struct test_irc_entry {
	bool sent;		/* true: written by the user; false: received */
	char *text;		/* without CR LF */
};

struct test_irc_user {
	int fd;
	bool eof;		/* the server closed the connection */
	char nick[64];
	struct frame_reader in;
	struct test_irc_entry *log;	/* every line sent and received, in order */
	size_t nlog, caplog;
};

/* Connect to 127.0.0.1:port, send NICK and USER, answer PINGs and wait for 001
 * (deadline 5 s). 0, -EADDRINUSE when the nick is taken (433), -EINVAL when it
 * is refused (432), or another -errno. Whatever it returns, test_irc_user_close
 * releases the user (the log stays readable until then). */
int test_irc_user_connect(struct test_irc_user *u, int port, const char *nick);
/* The same from the source address from (an IPv4 address of the loopback
 * range, such as 127.0.1.2), so that the bot sees another host; NULL: any. */
int test_irc_user_connect_from(struct test_irc_user *u, int port, const char *nick, const char *from);
/* Send one line (printf-style; CR LF is added). 0 or -errno. */
int test_irc_user_send(struct test_irc_user *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* test_irc_user_send with a va_list. */
int test_irc_user_vsend(struct test_irc_user *u, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Read lines, answering PING, until one matches the POSIX extended regex or
 * timeout_ms passes. Lines read on the way are consumed (they stay in the log).
 * 0 with *ret_line (if given) pointing into the log, valid until close;
 * -ETIMEDOUT, -ECONNRESET when the server closed, -EINVAL for a bad regex. */
int test_irc_user_expect(struct test_irc_user *u, const char *regex, int timeout_ms,
			 const char **ret_line);
/* The first received line in the log (read so far) matching regex, or NULL. */
const char *test_irc_user_seen(const struct test_irc_user *u, const char *regex);
/* Number of received lines in the log matching regex. */
size_t test_irc_user_count(const struct test_irc_user *u, const char *regex);
/* JOIN a channel and wait for the end of its NAMES list (deadline 5 s). */
int test_irc_user_join(struct test_irc_user *u, const char *channel);
/* PRIVMSG target :text. */
int test_irc_user_privmsg(struct test_irc_user *u, const char *target, const char *text);
/* QUIT and wait until the server closes the connection (deadline 5 s); then
 * test_irc_user_close is still needed. */
int test_irc_user_quit(struct test_irc_user *u, const char *reason);
/* Close the connection and free the log. Safe on a closed or failed user. */
void test_irc_user_close(struct test_irc_user *u);
/* Print the transcript ("<< " received, ">> " sent) to out. */
void test_irc_user_dump(const struct test_irc_user *u, FILE *out);

/* Copy s into out (size n, truncated to fit) with every POSIX ERE special
 * character escaped, so a nick or channel can be put into a pattern. Returns out. */
char *test_irc_regex_quote(const char *s, char *out, size_t n);

/* ---- a scripted fake IRC server ----------------------------------------------
 *
 * Build a script, start it, and point a client at test_fake_port(). The server
 * runs in a forked child: it accepts one client, runs the steps in order on it
 * (test_fake_accept moves on to the next client), records every line it
 * receives (the first 16 MiB), and reports whether every step succeeded. The
 * first failing step ends the script. After the script it keeps reading (and
 * answering, see test_fake_answer) until the client closes, then accepts no
 * one until stopped.
 *
 * Sent lines may use $1..$9 for the groups of the last matched expect whose
 * regex has groups (or the nick taken by test_fake_register; in an answer, the
 * groups of the line answered), $0 for the whole match and $$ for "$". */

struct test_fake;

/* A new empty script, or NULL. */
struct test_fake *test_fake_new(void);
/* Stop the server if it runs and free everything. NULL is a no-op. */
void test_fake_free(struct test_fake *f);

/* Script steps; each returns 0, -EINVAL (bad regex, or the server already
 * started) or -ENOMEM. */
/* Read lines until one matches the POSIX ERE; fail after timeout_ms. */
int test_fake_expect(struct test_fake *f, const char *regex, int timeout_ms);
/* Send a line (printf-style, then $-substitution; CR LF is added; several
 * lines may be separated by "\n"). */
int test_fake_send(struct test_fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send bytes exactly as given (no CR LF, no substitution). */
int test_fake_send_raw(struct test_fake *f, const void *p, size_t n);
/* Keep reading and recording (answers still apply) for ms milliseconds. */
int test_fake_wait(struct test_fake *f, int ms);
/* From here on, answer every line matching regex with reply (substituted with
 * that line's groups; several lines may be separated by "\n"). */
int test_fake_answer(struct test_fake *f, const char *regex, const char *reply);
/* Drop every answer rule added so far. */
int test_fake_answer_clear(struct test_fake *f);
/* Close the client connection normally (FIN after pending output). */
int test_fake_close(struct test_fake *f);
/* Close the client connection abruptly (RST, unread input discarded). */
int test_fake_reset(struct test_fake *f);
/* Read and record without ever writing (answers suspended) until the client
 * closes or ms pass (0: until the client closes or the server is stopped). */
int test_fake_silent(struct test_fake *f, int ms);
/* Close the current client if any and accept the next one within timeout_ms.
 * The script starts with an implicit accept (deadline 10 s). */
int test_fake_accept(struct test_fake *f, int timeout_ms);
/* Register a client: from here on answer PING; wait (10 s) for NICK and USER
 * in either order, the last NICK's nick becoming $1; then send 001-004, a 005
 * ISUPPORT line and the MOTD (375, 372, 376). */
int test_fake_register(struct test_fake *f);

/* Listen on 127.0.0.1 (family AF_INET) or ::1 (AF_INET6) on a free port and
 * fork the server. 0 or -errno. */
int test_fake_start(struct test_fake *f, int family);
/* The port listened on (after start). */
int test_fake_port(const struct test_fake *f);
/* The server process (after start; 0 once stopped). */
pid_t test_fake_pid(const struct test_fake *f);
/* Wait until the last step has run: 0 when every step succeeded, -EPROTO when
 * one failed (see test_fake_report), -ETIMEDOUT when still running, -ECHILD
 * when the server process died before finishing. */
int test_fake_done(struct test_fake *f, int timeout_ms);
/* Kill the server (SIGTERM, then SIGKILL) and reap it; the recorded lines and
 * the report stay readable. 0 when every step had succeeded, -EPROTO when one
 * failed, -EINPROGRESS when the script had not finished. */
int test_fake_stop(struct test_fake *f);
/* What went wrong (a failed step and why), or "" while nothing did. */
const char *test_fake_report(const struct test_fake *f);
/* Clients accepted so far. */
int test_fake_connections(const struct test_fake *f);
/* Lines received so far (CR LF removed, empty lines skipped), and the i-th of
 * them (NULL past the end). */
size_t test_fake_nlines(const struct test_fake *f);
const char *test_fake_line(const struct test_fake *f, size_t i);
/* Wait until a received line matches regex (searching from line `from`): its
 * index, or -ETIMEDOUT / -EINVAL. */
long test_fake_wait_line(const struct test_fake *f, const char *regex, size_t from,
			 int timeout_ms);

#endif
