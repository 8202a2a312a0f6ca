/* SPDX-License-Identifier: ISC */
/* Newline-delimited framing. */
#include "frame.h"

#include <errno.h>
#include <string.h>

void frame_reader_init(struct frame_reader *r, size_t max)
{
	memset(r, 0, sizeof *r);
	r->max = max;
}

void frame_reader_free(struct frame_reader *r)
{
	buf_free(&r->in);
	r->scanned = 0;
}

char *frame_reader_space(struct frame_reader *r, size_t want, size_t *ret_len)
{
	if (buf_reserve(&r->in, want) < 0)
		return NULL;
	*ret_len = r->in.cap - r->in.len;
	return r->in.data + r->in.len;
}

void frame_reader_commit(struct frame_reader *r, size_t n)
{
	r->in.len += n;
}

int frame_reader_feed(struct frame_reader *r, const void *p, size_t n)
{
	return buf_append(&r->in, p, n);
}

size_t frame_reader_pending(const struct frame_reader *r)
{
	return buf_pending(&r->in);
}

int frame_reader_next(struct frame_reader *r, char **ret_frame, size_t *ret_len)
{
	if (r->in.off == r->in.len)
		buf_clear(&r->in);
	for (;;) {
		size_t avail = buf_pending(&r->in);
		/* An empty reader may have no buffer yet: no pointer into it then. */
		if (avail == 0) {
			r->scanned = 0;
			return 0;
		}
		char *head = buf_head(&r->in);
		char *nl = avail > r->scanned ? memchr(head + r->scanned, '\n', avail - r->scanned) : NULL;

		if (!nl) {
			r->scanned = avail;
			/* A frame of max bytes may still be followed by "\r\n". */
			if (avail > r->max + 1)
				return -EMSGSIZE;
			return 0;
		}
		size_t len = (size_t)(nl - head);
		size_t used = len + 1;
		if (len > 0 && head[len - 1] == '\r')
			len--;
		if (len > r->max)
			return -EMSGSIZE;
		r->scanned = 0;
		/* The frame stays in place until the next call consumes it. */
		r->in.off += used;
		if (len == 0)
			continue;
		head[len] = '\0';
		*ret_frame = head;
		*ret_len = len;
		return 1;
	}
}
