/* SPDX-License-Identifier: ISC */
/* Descriptor queues (the "fd" extension, PROTOCOL.md section 12): the open
 * descriptors that travel beside a connection's frames as SCM_RIGHTS.
 *
 * Kept next to the frame reader, not inside it: framing stays pure. A queue
 * owns its descriptors (it closes what it drops); each entry carries a tag
 * the owner may use (the host: where in its output the entry's frame ends). */
#ifndef BK_FDQ_H
#define BK_FDQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The most descriptors one sendmsg may carry (the kernel's SCM_MAX_FD). */
#define FDQ_SEND_MAX 253

struct fdq {
	int *fds;
	uint64_t *tags;
	size_t len;
	size_t cap;
};

void fdq_init(struct fdq *q);
/* Close every descriptor and free the queue; it may be used again. */
void fdq_free(struct fdq *q);
size_t fdq_len(const struct fdq *q);
/* Append fd (taken) with tag: 0, or -ENOMEM (fd is closed then). */
int fdq_push(struct fdq *q, int fd, uint64_t tag);
/* Close the entries after the first len. */
void fdq_truncate(struct fdq *q, size_t len);
/* Close the entries whose tag is above tag (the queue is in tag order). */
void fdq_truncate_tag(struct fdq *q, uint64_t tag);
/* Move the first n descriptors into out (the caller owns them then):
 * 0, or -ENOENT when fewer are queued (nothing moves). */
int fdq_shift(struct fdq *q, size_t n, int *out);
/* Close n descriptors of an array, skipping -1. */
void fdq_close_array(int *fds, size_t n);

/* recv() that appends descriptors arriving with the bytes to q: bytes read,
 * 0 at end of file, or -errno. -EMFILE when the kernel had to drop some
 * (truncated ancillary data), -ENOBUFS when q would hold more than max: the
 * descriptors that came are closed then, and the bytes are not returned. */
ssize_t fdq_recv(int sock, void *p, size_t len, struct fdq *q, size_t max);
/* send() carrying every descriptor queued in q (at most FDQ_SEND_MAX): bytes
 * sent, or -errno. Once a byte is sent the descriptors went with it and the
 * queue is emptied (closed: the peer has its own copies). */
ssize_t fdq_send(int sock, const void *p, size_t len, struct fdq *q);

#endif
