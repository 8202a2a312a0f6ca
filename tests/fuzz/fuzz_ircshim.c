/* Fuzzing the lines handed to libircclient (bothost/irc/ircshim.c): the
 * library trusts what it parses, and ircshim_feed must refuse every line
 * shape that would make it read out of bounds or through a NULL pointer.
 *
 * Input: lines separated by LF. Each line is shaped as the link shapes what
 * it passes up (NULs and a CR before the LF removed, tags stripped, cut to
 * 510 bytes) and fed to a fresh session per input; the events the library
 * reports must carry an event name and readable strings. (libircclient
 * itself is not instrumented: its own reads are checked only where they go
 * through the C library, and by crashes.) */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "irc/irc_input.h"
#include "irc/irc_line.h"
#include "irc/ircshim.h"
#include "core/log.h"

/* Every string of an event can be read to its end. */
static void shim_event_cb(struct ircshim *s, const char *event, const char *origin, const char **params,
			  unsigned count, void *userdata)
{
	size_t *events = userdata, total = 0;

	FUZZ_CHECK(event && event[0], "an event without a name");
	total += strlen(event) + (origin ? strlen(origin) : 0);
	for (unsigned i = 0; i < count; i++) {
		FUZZ_CHECK(params[i], "parameter %u of %u of %s is NULL", i, count, event);
		total += strlen(params[i]);
	}
	FUZZ_CHECK(total < 4 * IRC_LINE_MAX, "an event of %zu bytes from one line", total);
	(*events)++;
}

/* One line as the link would pass it up: NULs and a last CR removed, tags
 * stripped, cut to 510 bytes. The copy is in line (len + 1 bytes). */
static char *shim_shape(char *line, const uint8_t *p, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] != '\0')
			line[len++] = (char)p[i];
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	char *untagged = (char *)irc_line_strip_tags(line);
	irc_input_cut(untagged);
	return untagged;
}

/* One session of lines handed to libircclient. */
FUZZ_ENTRY(ircshim)
{
	static bool started;
	size_t events = 0;
	int err = 0;

	if (!started) {
		log_set_level(LOG_LEVEL_ERROR);
		FUZZ_CHECK(ircshim_reserve_fd() == 0, "no low descriptor");
		started = true;
	}
	struct ircshim *s = ircshim_new(shim_event_cb, &events, &err);
	char *line = malloc(size + 1);
	FUZZ_CHECK(s && line, "no session: %d", err);
	for (size_t at = 0; at < size && s;) {
		const uint8_t *lf = memchr(data + at, '\n', size - at);
		size_t n = lf ? (size_t)(lf - (data + at)) : size - at;
		char *untagged = shim_shape(line, data + at, n);
		at += n + 1;
		if (untagged[0] == '\0')
			continue;
		int r = ircshim_feed(s, untagged);
		FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EMSGSIZE || r == -EIO, "feed gave %d", r);
		if (r == -EIO) {
			/* The library gave up on its session: a new connection. */
			ircshim_free(s);
			s = ircshim_new(shim_event_cb, &events, &err);
			FUZZ_CHECK(s, "no session: %d", err);
		}
	}
	ircshim_free(s);
	free(line);
	return 0;
}
