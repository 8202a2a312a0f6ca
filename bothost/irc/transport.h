/* SPDX-License-Identifier: ISC */
/* The byte stream under the IRC link: plain TCP, or TLS (transport_tls.h).
 *
 * The link never touches the socket of an established connection except
 * through these functions, so each transport only has to provide its own
 * transport_ops. Connecting is plain TCP for every transport; a transport
 * is made from the connected socket.
 *
 * Reads and writes follow the imsg habit: a positive count, 0 for end of
 * file (reads only), or a negative errno code (-EAGAIN when the socket is
 * not ready).
 *
 * A TCP read waits for the socket to be readable and a write for it to be
 * writable. A TLS transport may need the other event first (a read that has
 * to send, a write that has to receive), may keep decrypted bytes no read
 * has returned yet, and may hold back output it accepted: the link asks
 * transport_events, transport_wants_read/_write and transport_pending what
 * to watch and what to call. */
#ifndef BOTHOST_TRANSPORT_H
#define BOTHOST_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct transport;

/* Socket events, as in transport_events and the *_needs fields. */
enum {
	TRANSPORT_READABLE = 1 << 0,
	TRANSPORT_WRITABLE = 1 << 1,
};

struct transport_ops {
	const char *name;
	ssize_t (*read)(struct transport *t, void *buf, size_t len);
	/* May accept bytes it cannot send yet and hold them back (then
	 * write_needs is set); the next write or flush sends them first. */
	ssize_t (*write)(struct transport *t, const void *buf, size_t len);
	/* Send what is held back: 0 when nothing is left, -EAGAIN, -errno.
	 * NULL: the transport never holds output back. */
	int (*flush)(struct transport *t);
	/* Bytes received and decrypted that no read returned yet (NULL: 0). */
	size_t (*pending)(const struct transport *t);
	/* Close the socket and free t. */
	void (*close)(struct transport *t);
};

/* Every transport starts with this header; a TLS transport embeds it. */
struct transport {
	const struct transport_ops *ops;
	int fd;
	/* 0 normally; TRANSPORT_WRITABLE when the last read returned -EAGAIN
	 * because it has to send first (or, during a TLS handshake, the event
	 * the handshake waits for). */
	unsigned read_needs;
	/* 0 when no output is held back; else the event that lets it go on. */
	unsigned write_needs;
};

/* Start a non-blocking TCP connect to sa: the new socket in *ret_fd and 0
 * (connected already) or -EINPROGRESS (wait until writable, then call
 * transport_connect_finish), or another -errno with nothing left open. */
int transport_connect_start(const struct sockaddr *sa, socklen_t len, int *ret_fd);
/* The outcome of a connect in progress: 0 or the -errno it failed with. */
int transport_connect_finish(int fd);

/* A plain TCP transport owning the connected socket fd; NULL on allocation
 * failure (fd is then left open). */
struct transport *transport_tcp_new(int fd);

/* Shorthands for t->ops. */
ssize_t transport_read(struct transport *t, void *buf, size_t len);
ssize_t transport_write(struct transport *t, const void *buf, size_t len);
int transport_flush(struct transport *t);
size_t transport_pending(const struct transport *t);

/* The socket events to watch: readable always, writable when output is
 * queued above the transport (queued) or held back in it, or a read waits
 * for it. */
unsigned transport_events(const struct transport *t, bool queued);
/* Whether the socket events revents let a read, or a write (or flush),
 * make progress. */
bool transport_wants_read(const struct transport *t, unsigned revents);
bool transport_wants_write(const struct transport *t, unsigned revents);
/* Close and free; NULL is allowed. Returns NULL. */
struct transport *transport_close(struct transport *t);

#endif
