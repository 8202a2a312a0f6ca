/* SPDX-License-Identifier: ISC */
/* Pure framing of newline-delimited JSON: bytes in, whole frames out.
 * No sockets and no JSON in here, so it can be tested with any input. */
#ifndef BK_FRAME_H
#define BK_FRAME_H

#include <stddef.h>

#include "buf.h"

struct frame_reader {
	struct buf in;
	size_t max;	/* longest frame accepted, without its line feed */
	size_t scanned;	/* bytes after in.off already known to hold no line feed */
};

void frame_reader_init(struct frame_reader *r, size_t max);
void frame_reader_free(struct frame_reader *r);

/* Space for reading at least `want` bytes straight into the reader; commit what was read. */
char *frame_reader_space(struct frame_reader *r, size_t want, size_t *ret_len);
void frame_reader_commit(struct frame_reader *r, size_t n);
/* Copy bytes in (for tests and callers without a socket). 0 or -ENOMEM. */
int frame_reader_feed(struct frame_reader *r, const void *p, size_t n);

/* Take the next whole frame: 1 with *ret_frame (NUL-terminated, line feed and a
 * trailing CR removed; valid until the next call) and *ret_len; 0 when no whole
 * frame is buffered yet; -EMSGSIZE when a frame is longer than max (the reader
 * is then unusable). Empty lines are skipped. */
int frame_reader_next(struct frame_reader *r, char **ret_frame, size_t *ret_len);

/* Bytes buffered but not yet returned as frames. */
size_t frame_reader_pending(const struct frame_reader *r);

#endif
