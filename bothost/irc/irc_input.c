/* SPDX-License-Identifier: ISC */
/* The server's byte stream cut into lines (see irc_input.h). */
#include "irc_input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An empty input with its buffer. */
int irc_input_init(struct irc_input *in)
{
	memset(in, 0, sizeof *in);
	in->data = malloc(IRC_INPUT_CAP);
	return in->data ? 0 : -ENOMEM;
}

/* Free the buffer. */
void irc_input_free(struct irc_input *in)
{
	free(in->data);
	memset(in, 0, sizeof *in);
}

/* Forget what is held. */
void irc_input_clear(struct irc_input *in)
{
	in->len = 0;
	in->start = 0;
	in->discarding = false;
}

/* Move what is not taken yet to the front, and give the room after it. */
char *irc_input_space(struct irc_input *in, size_t *ret_room)
{
	if (in->start > 0) {
		memmove(in->data, in->data + in->start, in->len - in->start);
		in->len -= in->start;
		in->start = 0;
	}
	*ret_room = IRC_INPUT_CAP - in->len;
	return in->data + in->len;
}

/* Remove the NUL bytes of p[0..n); returns the new length. */
static size_t irc_input_drop_nuls(char *p, size_t n)
{
	char *w = memchr(p, '\0', n);

	if (!w)
		return n;
	for (const char *r = w; r < p + n; r++)
		if (*r != '\0')
			*w++ = *r;
	return (size_t)(w - p);
}

/* Keep n bytes read into the space, without their NULs. */
bool irc_input_commit(struct irc_input *in, size_t n)
{
	char *p = in->data + in->len;

	if (n > IRC_INPUT_CAP - in->len)
		n = IRC_INPUT_CAP - in->len;
	n = irc_input_drop_nuls(p, n);
	in->len += n;
	return memchr(p, '\n', n) != NULL;
}

/* No LF in what is left: drop it when it belongs to a line too long. */
static int irc_input_rest(struct irc_input *in, size_t *ret_len)
{
	size_t rest = in->len - in->start;

	if (in->discarding) {
		in->len = in->start;
		return 0;
	}
	/* One more byte than a line may have: its CR. */
	if (rest <= IRC_INPUT_LINE_MAX + 1)
		return 0;
	in->len = in->start;
	in->discarding = true;
	*ret_len = rest;
	return -EMSGSIZE;
}

/* The next whole line, or why there is none. */
int irc_input_next(struct irc_input *in, char **ret_line, size_t *ret_len)
{
	for (;;) {
		char *p = in->data + in->start;
		char *lf = memchr(p, '\n', in->len - in->start);
		if (!lf)
			return irc_input_rest(in, ret_len);
		size_t n = (size_t)(lf - p);
		in->start += n + 1;
		if (in->discarding) {
			/* The end of a line dropped earlier. */
			in->discarding = false;
			continue;
		}
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > IRC_INPUT_LINE_MAX) {
			*ret_len = n;
			return -EMSGSIZE;
		}
		if (n == 0)
			continue;
		p[n] = '\0';
		*ret_line = p;
		*ret_len = n;
		return 1;
	}
}

/* Cut an untagged line over IRC_LINE_MAX bytes at a UTF-8 boundary. */
void irc_input_cut(char *line)
{
	size_t n = IRC_LINE_MAX;

	if (!irc_line_too_long(line, IRC_LINE_MAX))
		return;
	/* Back over at most three continuation bytes to a sequence start. */
	while (n > IRC_LINE_MAX - 3 && ((unsigned char)line[n] & 0xC0) == 0x80)
		n--;
	if (((unsigned char)line[n] & 0xC0) == 0x80)
		n = IRC_LINE_MAX;
	line[n] = '\0';
}
