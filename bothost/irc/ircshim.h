/* libircclient, contained.
 *
 * Debian's libircclient 1.9 cannot be trusted with a socket (see
 * "libircclient in bothost" in docs/ARCHITECTURE.md), so it never gets one to
 * a server: each IRC connection gets a fresh session whose socket is one end
 * of a socketpair bothost holds. The link feeds it one untagged line at a
 * time and the library's callbacks fire synchronously inside ircshim_feed();
 * whatever the library writes (its own NICK/USER, PONGs) arrives on our end
 * and is discarded after logging: the link does registration and PONG itself,
 * and outgoing commands are formatted by irc_line_build, never by the
 * library. The library's descriptor is kept below 1024 (FD_SET aborts above)
 * by reserving a low descriptor at startup and handing it over just before
 * the library creates its socket. */
#ifndef BOTHOST_IRCSHIM_H
#define BOTHOST_IRCSHIM_H

struct ircshim;

/* An event the library parsed: its event name ("PRIVMSG", "JOIN", "CHANNEL",
 * "NICK", ... as libircclient names them, or the numeric code as text for
 * numerics), the origin and the parameters. */
typedef void (*ircshim_event_fn)(struct ircshim *s, const char *event, const char *origin,
				 const char **params, unsigned count, void *userdata);

/* Reserve a low descriptor for the library (call once at startup, before
 * clients connect). 0 or -errno. */
int ircshim_reserve_fd(void);
/* Release the reservation at shutdown. */
void ircshim_release_fd(void);

/* A fresh session, connected to us. NULL and *ret_err on failure. */
struct ircshim *ircshim_new(ircshim_event_fn fn, void *userdata, int *ret_err);
void ircshim_free(struct ircshim *s);
/* Hand one line (without CRLF, at most 510 bytes, no tags) to the library;
 * its callbacks run before this returns. 0 or -errno. */
int ircshim_feed(struct ircshim *s, const char *line);
/* The library's descriptor (for tests of the below-1024 rule). */
int ircshim_get_fd(const struct ircshim *s);

#endif
