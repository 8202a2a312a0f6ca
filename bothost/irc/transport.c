/* SPDX-License-Identifier: ISC */
/* Non-blocking TCP connect, the plain TCP transport, and what every
 * transport shares. */
#include "config.h"

#include "transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <unistd.h>

/* Start connecting a new non-blocking socket to sa. */
int transport_connect_start(const struct sockaddr *sa, socklen_t len, int *ret_fd)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	/* IRC lines are small and interactive. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	while (connect(fd, sa, len) < 0) {
		int err = errno;
		if (err == EINTR)
			continue;
		if (err == EINPROGRESS) {
			*ret_fd = fd;
			return -EINPROGRESS;
		}
		close(fd);
		return -err;
	}
	*ret_fd = fd;
	return 0;
}

/* Read SO_ERROR once the socket reported writable. */
int transport_connect_finish(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

/* recv() on the socket. */
static ssize_t transport_tcp_read(struct transport *t, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(t->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

/* send() without SIGPIPE. */
static ssize_t transport_tcp_write(struct transport *t, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(t->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

/* Close the socket and free. */
static void transport_tcp_close(struct transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

static const struct transport_ops transport_tcp_ops = {
	.name = "tcp",
	.read = transport_tcp_read,
	.write = transport_tcp_write,
	.close = transport_tcp_close,
};

/* Wrap a connected socket. */
struct transport *transport_tcp_new(int fd)
{
	struct transport *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->ops = &transport_tcp_ops;
	t->fd = fd;
	return t;
}

/* Read through the transport's ops. */
ssize_t transport_read(struct transport *t, void *buf, size_t len)
{
	return t->ops->read(t, buf, len);
}

/* Write through the transport's ops. */
ssize_t transport_write(struct transport *t, const void *buf, size_t len)
{
	return t->ops->write(t, buf, len);
}

/* Send what the transport holds back. */
int transport_flush(struct transport *t)
{
	return t->ops->flush ? t->ops->flush(t) : 0;
}

/* Decrypted bytes waiting for a read. */
size_t transport_pending(const struct transport *t)
{
	return t->ops->pending ? t->ops->pending(t) : 0;
}

/* The socket events worth watching. */
unsigned transport_events(const struct transport *t, bool queued)
{
	unsigned ev = TRANSPORT_READABLE;

	if ((queued && t->write_needs != TRANSPORT_READABLE) || t->write_needs == TRANSPORT_WRITABLE ||
	    t->read_needs == TRANSPORT_WRITABLE)
		ev |= TRANSPORT_WRITABLE;
	return ev;
}

/* Whether a read can make progress after revents. */
bool transport_wants_read(const struct transport *t, unsigned revents)
{
	if (t->read_needs == TRANSPORT_WRITABLE)
		return revents & TRANSPORT_WRITABLE;
	return revents & TRANSPORT_READABLE;
}

/* Whether a write can make progress after revents. */
bool transport_wants_write(const struct transport *t, unsigned revents)
{
	if (t->write_needs == TRANSPORT_READABLE)
		return revents & TRANSPORT_READABLE;
	return revents & TRANSPORT_WRITABLE;
}

/* Close through the transport's ops. */
struct transport *transport_close(struct transport *t)
{
	if (t)
		t->ops->close(t);
	return NULL;
}
