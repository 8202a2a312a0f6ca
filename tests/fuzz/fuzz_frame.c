/* SPDX-License-Identifier: ISC */
/* Fuzzing the framing of the proxy protocol (botkit/frame.c).
 *
 * Input: one byte choosing the frame limit (top bit clear: 1 to 128 bytes;
 * set: the default 1 MiB), one byte seeding the sizes of the reads, then
 * the byte stream. The stream reaches the reader in reads of 1 to 64 bytes,
 * each copied in either with frame_reader_feed or through
 * frame_reader_space and frame_reader_commit, and the frames that come out
 * must be exactly those a plain line splitter finds in the whole stream:
 * the same bytes in the same order, CR before LF removed, empty lines
 * skipped, -EMSGSIZE once a line is over the limit and never before. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "wire/frame.h"

/* What the reader must give for a stream: frames up to the first line too
 * long, whether there is one, and the bytes left pending otherwise. */
struct frame_expect {
	const char *s;
	size_t len;
	size_t max;
	size_t pos;		/* where the next frame is looked for */
	bool too_long;		/* the reference met a line over max */
	size_t pending;		/* bytes of an incomplete last line */
};

/* The next frame of the reference splitter: true with *ret_off and
 * *ret_len, false at the end or at a line too long (e->too_long). */
static bool frame_expect_next(struct frame_expect *e, size_t *ret_off, size_t *ret_len)
{
	while (!e->too_long) {
		const char *nl = memchr(e->s + e->pos, '\n', e->len - e->pos);
		if (!nl) {
			e->pending = e->len - e->pos;
			/* Over max + 1 cannot become a frame even with its CR LF. */
			e->too_long = e->pending > e->max + 1;
			return false;
		}
		size_t off = e->pos, n = (size_t)(nl - (e->s + off));
		e->pos = off + n + 1;
		if (n > 0 && e->s[off + n - 1] == '\r')
			n--;
		if (n > e->max) {
			e->too_long = true;
			return false;
		}
		if (n > 0) {
			*ret_off = off;
			*ret_len = n;
			return true;
		}
	}
	return false;
}

/* Copy n bytes into the reader, one way or the other. */
static void frame_put(struct frame_reader *r, const char *p, size_t n, bool space)
{
	if (!space) {
		FUZZ_CHECK(frame_reader_feed(r, p, n) == 0, "feed of %zu bytes failed", n);
		return;
	}
	size_t room = 0;
	char *at = frame_reader_space(r, n, &room);
	FUZZ_CHECK(at && room >= n, "space for %zu bytes gave %zu", n, room);
	memcpy(at, p, n);
	frame_reader_commit(r, n);
}

/* Take every frame now buffered and compare it with the reference; false
 * once the reader reported a frame too long. */
static bool frame_drain(struct frame_reader *r, struct frame_expect *e)
{
	char *frame;
	size_t len, off, want;

	for (;;) {
		int rc = frame_reader_next(r, &frame, &len);
		if (rc == 0)
			return true;
		if (rc < 0) {
			FUZZ_CHECK(rc == -EMSGSIZE, "next gave %d", rc);
			FUZZ_CHECK(!frame_expect_next(e, &off, &want) && e->too_long,
				   "-EMSGSIZE where the reference has a frame");
			return false;
		}
		FUZZ_CHECK(frame_expect_next(e, &off, &want), "a frame where the reference has none");
		FUZZ_CHECK(len == want && memcmp(frame, e->s + off, len) == 0,
			   "frame of %zu bytes differs from the reference's %zu at %zu", len, want, off);
		FUZZ_CHECK(frame[len] == '\0', "frame not NUL-terminated");
	}
}

/* One stream through the reader in reads of varying sizes. */
FUZZ_ENTRY(frame)
{
	struct frame_reader r;
	struct frame_expect e;
	struct fuzz_rng g;

	if (size < 2)
		return 0;
	size_t max = data[0] & 0x80 ? 1048576 : 1 + (size_t)(data[0] & 0x7f);
	fuzz_rng_init(&g, data[1]);
	const char *s = (const char *)data + 2;
	size_t len = size - 2, at = 0;
	bool open = true;

	e = (struct frame_expect){ s, len, max, 0, false, 0 };
	frame_reader_init(&r, max);
	while (open && at < len) {
		size_t n = 1 + fuzz_rng_below(&g, 64);
		if (n > len - at)
			n = len - at;
		frame_put(&r, s + at, n, fuzz_rng_below(&g, 2));
		at += n;
		open = frame_drain(&r, &e);
	}
	if (open) {
		size_t off, want;
		FUZZ_CHECK(!frame_expect_next(&e, &off, &want), "the reference has a frame left");
		FUZZ_CHECK(!e.too_long, "the reference ends with a line too long, the reader took it");
		FUZZ_CHECK(frame_reader_pending(&r) == e.pending, "%zu bytes pending, the reference has %zu",
			   frame_reader_pending(&r), e.pending);
	}
	frame_reader_free(&r);
	return 0;
}
