/* SPDX-License-Identifier: ISC */
/* Name resolution that never blocks the event loop.
 *
 * A numeric address (IPv4 or IPv6) is converted at once with
 * getaddrinfo(AI_NUMERICHOST) and delivered from the loop (later.h); a name
 * is resolved by getaddrinfo in a short-lived worker thread that hands the
 * result back to libev's default loop through an ev_async watcher. glibc's
 * getaddrinfo reads /etc/hosts, nsswitch and resolv.conf like every other
 * program on the machine, which c-ares would not; one thread per lookup is
 * cheap at the rate an IRC bot reconnects.
 *
 * Every resolution completes exactly once, from the loop, never before
 * resolve_start returns, unless it is cancelled first. */
#ifndef BOTHOST_RESOLVE_H
#define BOTHOST_RESOLVE_H

struct addrinfo;
struct resolve;

/* err 0 and the addresses (the callee owns them: freeaddrinfo), or err
 * -ENOENT (no such name), -EAGAIN (temporary failure), -ENOMEM, -EIO, or
 * another -errno, with res NULL. */
typedef void (*resolve_fn)(struct resolve *r, int err, struct addrinfo *res, void *userdata);

/* Resolve host and the decimal port for TCP, any address family. NULL and
 * *ret_err (-ENOMEM, -EAGAIN when no thread could be started) on failure. */
struct resolve *resolve_start(const char *host, const char *port, resolve_fn fn, void *userdata,
			      int *ret_err);
/* Forget a resolution still running: fn never runs. r is invalid after. */
void resolve_cancel(struct resolve *r);
/* Words for a resolution error, for logs. */
const char *resolve_strerror(int err);

#endif
