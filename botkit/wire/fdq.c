/* SPDX-License-Identifier: ISC */
/* Descriptor queues and the sendmsg/recvmsg that carry them. */
#include "fdq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* An empty queue. */
void fdq_init(struct fdq *q)
{
	memset(q, 0, sizeof *q);
}

/* Close everything queued and free the arrays. */
void fdq_free(struct fdq *q)
{
	fdq_truncate(q, 0);
	free(q->fds);
	free(q->tags);
	fdq_init(q);
}

/* How many descriptors are queued. */
size_t fdq_len(const struct fdq *q)
{
	return q->len;
}

/* Append fd with its tag. */
int fdq_push(struct fdq *q, int fd, uint64_t tag)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		int *fds = realloc(q->fds, cap * sizeof *fds);
		if (fds)
			q->fds = fds;
		uint64_t *tags = fds ? realloc(q->tags, cap * sizeof *tags) : NULL;
		if (!tags) {
			close(fd);
			return -ENOMEM;
		}
		q->tags = tags;
		q->cap = cap;
	}
	q->fds[q->len] = fd;
	q->tags[q->len++] = tag;
	return 0;
}

/* Close the entries after the first len. */
void fdq_truncate(struct fdq *q, size_t len)
{
	while (q->len > len)
		close(q->fds[--q->len]);
}

/* Close the entries tagged above tag. */
void fdq_truncate_tag(struct fdq *q, uint64_t tag)
{
	while (q->len > 0 && q->tags[q->len - 1] > tag)
		close(q->fds[--q->len]);
}

/* Take the first n descriptors. */
int fdq_shift(struct fdq *q, size_t n, int *out)
{
	if (n > q->len)
		return -ENOENT;
	memcpy(out, q->fds, n * sizeof *out);
	memmove(q->fds, q->fds + n, (q->len - n) * sizeof *q->fds);
	memmove(q->tags, q->tags + n, (q->len - n) * sizeof *q->tags);
	q->len -= n;
	return 0;
}

/* Close the descriptors of an array that are still open. */
void fdq_close_array(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* Queue the descriptors of one control message: 0, or -ENOBUFS past max
 * (those over it are closed) or -ENOMEM. */
static int fdq_take_cmsg(struct fdq *q, const struct cmsghdr *cm, size_t max)
{
	size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	int fds[FDQ_SEND_MAX];
	int r = 0;

	if (n > FDQ_SEND_MAX)
		n = FDQ_SEND_MAX;
	memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && q->len >= max)
			r = -ENOBUFS;
		if (r < 0)
			close(fds[i]);
		else
			r = fdq_push(q, fds[i], 0);
	}
	return r;
}

/* recv() keeping the descriptors that come with the bytes. */
ssize_t fdq_recv(int sock, void *p, size_t len, struct fdq *q, size_t max)
{
	union {
		char buf[CMSG_SPACE(FDQ_SEND_MAX * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { p, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	int r = 0;

	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int rr = fdq_take_cmsg(q, cm, max);
		if (r == 0)
			r = rr;
	}
	if (r == 0 && (msg.msg_flags & MSG_CTRUNC))
		r = -EMFILE;
	return r < 0 ? r : n;
}

/* send() with the queued descriptors attached. */
ssize_t fdq_send(int sock, const void *p, size_t len, struct fdq *q)
{
	union {
		char buf[CMSG_SPACE(FDQ_SEND_MAX * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { (void *)p, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t n = q->len < FDQ_SEND_MAX ? q->len : FDQ_SEND_MAX;

	if (n > 0) {
		memset(control.buf, 0, sizeof control.buf);
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), q->fds, n * sizeof(int));
	}
	ssize_t sent = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent < 0)
		return -errno;
	if (sent > 0 && n > 0) {
		fdq_close_array(q->fds, n);
		memmove(q->fds, q->fds + n, (q->len - n) * sizeof *q->fds);
		memmove(q->tags, q->tags + n, (q->len - n) * sizeof *q->tags);
		q->len -= n;
	}
	return sent;
}
