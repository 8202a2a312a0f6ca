/* SPDX-License-Identifier: ISC */
/* The bytes an IRC server sends, cut into lines: what the link reads goes
 * in, whole lines come out. No sockets in here (like botkit's frame reader),
 * so any input can be fed to it in tests and fuzzing.
 *
 * NUL bytes are dropped as they arrive; CR LF or a lone LF ends a line;
 * empty lines are skipped. A line longer than IRC_INPUT_LINE_MAX is dropped
 * whole: once more bytes than that are held without a LF, they are thrown
 * away and so is everything up to the next LF, so a server cannot make the
 * buffer grow. Functions returning int give 0 (or 1) on success and a
 * negative errno code on failure; out-parameters (ret_*) are set only on
 * success. */
#ifndef BH_IRC_INPUT_H
#define BH_IRC_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "irc_line.h"

/* Longest line accepted from a server, tags included, CR LF excluded. */
#define IRC_INPUT_LINE_MAX (IRC_LINE_TAGS_MAX + IRC_LINE_MAX)
/* Room to read into that is always left once the lines are taken. */
#define IRC_INPUT_READ_MIN 4096
/* The buffer: a whole longest line with CR LF, and room to read. */
#define IRC_INPUT_CAP (IRC_INPUT_LINE_MAX + 2 + IRC_INPUT_READ_MIN)

struct irc_input {
	char *data;		/* IRC_INPUT_CAP bytes */
	size_t len;		/* bytes held */
	size_t start;		/* bytes at the front already taken as lines */
	bool discarding;	/* inside a line too long, until its LF */
};

/* An empty input with its buffer: 0 or -ENOMEM. */
int irc_input_init(struct irc_input *in);
/* Free the buffer; the input may be initialised again. */
void irc_input_free(struct irc_input *in);
/* Forget every byte held (the connection ended). */
void irc_input_clear(struct irc_input *in);

/* Where to read into; *ret_room is how many bytes fit there, at least
 * IRC_INPUT_READ_MIN when irc_input_next last returned 0. */
char *irc_input_space(struct irc_input *in, size_t *ret_room);
/* n bytes were read into the space: keep them without their NUL bytes.
 * True when they hold a LF (a line ended: the server is alive). */
bool irc_input_commit(struct irc_input *in, size_t n);

/* Take the next line: 1 with *ret_line (NUL-terminated in place, without
 * CR LF, 1 to IRC_INPUT_LINE_MAX bytes; valid until the next call) and
 * *ret_len; 0 when no whole line is left; -EMSGSIZE when a line too long was
 * dropped, with *ret_len its length, or only the bytes held so far when
 * in->discarding is then set (its end has not arrived yet). */
int irc_input_next(struct irc_input *in, char **ret_line, size_t *ret_len);

/* Cut a line (its tags already removed) longer than IRC_LINE_MAX bytes to at
 * most IRC_LINE_MAX, at the start of a UTF-8 sequence when one of the last
 * three bytes kept would split it. */
void irc_input_cut(char *line);

#endif
