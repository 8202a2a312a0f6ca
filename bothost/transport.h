/* The byte stream under the IRC link: plain TCP now, TLS later.
 *
 * The link never touches the socket of an established connection except
 * through these functions, so another transport (TLS) only has to provide
 * its own transport_ops. Connecting is plain TCP for every transport; a
 * transport is made from the connected socket.
 *
 * Reads and writes follow the imsg habit: a positive count, 0 for end of
 * file (reads only), or a negative errno code (-EAGAIN when the socket is
 * not ready). */
#ifndef BOTHOST_TRANSPORT_H
#define BOTHOST_TRANSPORT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct transport;

struct transport_ops {
	const char *name;
	ssize_t (*read)(struct transport *t, void *buf, size_t len);
	ssize_t (*write)(struct transport *t, const void *buf, size_t len);
	/* Close the socket and free t. */
	void (*close)(struct transport *t);
};

/* Every transport starts with this header; a TLS transport embeds it. */
struct transport {
	const struct transport_ops *ops;
	int fd;
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
/* Close and free; NULL is allowed. Returns NULL. */
struct transport *transport_close(struct transport *t);

#endif
