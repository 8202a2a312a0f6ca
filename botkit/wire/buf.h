/* SPDX-License-Identifier: ISC */
/* A growable byte buffer with a consumed prefix, used for input and output queues. */
#ifndef BK_BUF_H
#define BK_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t off;	/* bytes already consumed from the front */
	size_t len;	/* bytes written, including the consumed prefix */
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0, 0 }

/* All return 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bytes not yet consumed, and where they start. */
static inline size_t buf_pending(const struct buf *b) { return b->len - b->off; }
static inline char *buf_head(const struct buf *b) { return b->data + b->off; }

/* Drop n bytes from the front; compacts when the buffer empties or the prefix is large. */
void buf_consume(struct buf *b, size_t n);
/* Truncate to n written bytes (n >= off). */
void buf_truncate(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

#endif
