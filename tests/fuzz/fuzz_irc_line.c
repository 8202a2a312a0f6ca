/* SPDX-License-Identifier: ISC */
/* Fuzzing what an IRC server sends, the way the link takes it in: the byte
 * stream cut into lines (bothost/irc/irc_input.c), each line parsed
 * (irc_line_parse, tags included), its kind of event (irc_kind), its tags
 * stripped and the rest cut to 510 bytes, the CAP and SASL negotiation (capneg) and
 * the channel state (irc_state, ISUPPORT) updated from it.
 *
 * Input: one byte seeding the sizes of the reads, one byte of flags (bit 0:
 * a byte 0xFF followed by a count k stands for 64 * (k + 1) letters 'a', so
 * that short inputs reach the lines too long to keep; bit 2: each PING
 * stands for the negotiation's deadline passing too), then the stream. SASL
 * is not required: giving the connection up logs an error, for nearly every
 * input.
 * Properties:
 * - the lines and the drops of lines too long come out as a plain splitter
 *   finds them in the whole stream (NULs removed), whatever the reads;
 * - a parsed line is well formed: command upper-case letters or three
 *   digits with the matching numeric, parameters with no space except in
 *   the last, distinct tag keys whose lookup gives their value;
 * - building the parsed command and parameters again (irc_line_build)
 *   succeeds or is refused for length only, and parses back the same;
 * - a line's kind agrees with its parse: numeric for three digits, a user's
 *   event only with a source, a message or CTCP only for a PRIVMSG with a
 *   text, CTCP only for a text between two \001;
 * - the untagged line cut to 510 bytes fits and stays
 *   valid UTF-8 when it was;
 * - every line the negotiation sends is one valid IRC line of at most 510
 *   bytes. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "irc/capneg.h"
#include "fuzz.h"
#include "irc/irc_input.h"
#include "irc/irc_kind.h"
#include "irc/irc_line.h"
#include "irc/irc_state.h"
#include "irc/irc_text.h"
#include "core/log.h"

/* Tags compared pairwise at most (a line may have thousands). */
#define LINE_TAGS_CHECKED 64

/* The stream as the server sent it: the input after its two bytes, with the
 * runs of 'a' expanded when asked. */
static char *line_stream(const uint8_t *data, size_t size, bool expand, size_t *ret_len)
{
	size_t cap = size, len = 0;
	char *s;

	if (expand)
		for (size_t i = 0; i + 1 < size; i++)
			if (data[i] == 0xff)
				cap += 64 * ((size_t)data[i + 1] + 1);
	s = malloc(cap + 1);
	FUZZ_CHECK(s, "out of memory");
	for (size_t i = 0; i < size; i++) {
		if (expand && data[i] == 0xff && i + 1 < size) {
			size_t n = 64 * ((size_t)data[++i] + 1);
			memset(s + len, 'a', n);
			len += n;
		} else {
			s[len++] = (char)data[i];
		}
	}
	*ret_len = len;
	return s;
}

/* The reference splitter over the whole stream, NULs removed. */
struct line_expect {
	char *s;
	size_t len, pos;
};

/* The next event: 1 and the line, -EMSGSIZE for a line too long, 0 at the end. */
static int line_expect_next(struct line_expect *e, const char **ret_line, size_t *ret_len)
{
	while (e->pos < e->len) {
		const char *p = e->s + e->pos;
		const char *lf = memchr(p, '\n', e->len - e->pos);
		if (!lf) {
			size_t rest = e->len - e->pos;
			e->pos = e->len;
			if (rest > IRC_INPUT_LINE_MAX + 1)
				return -EMSGSIZE;
			return 0;
		}
		size_t n = (size_t)(lf - p);
		e->pos += n + 1;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > IRC_INPUT_LINE_MAX)
			return -EMSGSIZE;
		if (n > 0) {
			*ret_line = p;
			*ret_len = n;
			return 1;
		}
	}
	return 0;
}

/* Remove the NULs of s in place. */
static size_t line_drop_nuls(char *s, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++)
		if (s[i] != '\0')
			s[w++] = s[i];
	return w;
}

/* The command, parameters and tags of a parsed line are well formed. */
static void line_check_parsed(const struct irc_line *msg)
{
	const char *cmd = irc_line_command(msg), *k, *v, *k2, *v2;
	int num = irc_line_numeric(msg);
	size_t n = irc_line_param_count(msg), ntags = irc_line_tag_count(msg);

	FUZZ_CHECK(cmd && cmd[0], "no command");
	if (num >= 0)
		FUZZ_CHECK(strlen(cmd) == 3 && atoi(cmd) == num, "numeric %d for %s", num, cmd);
	else
		FUZZ_CHECK(strspn(cmd, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(cmd), "command %s", cmd);
	for (size_t i = 0; i + 1 < n; i++) {
		const char *p = irc_line_param(msg, i);
		FUZZ_CHECK(p && p[0] && p[0] != ':' && !strchr(p, ' '), "middle parameter %zu", i);
	}
	FUZZ_CHECK(irc_line_param(msg, n) == NULL, "a parameter past the end");
	FUZZ_CHECK(irc_line_last_param(msg) == (n ? irc_line_param(msg, n - 1) : NULL), "last parameter");
	FUZZ_CHECK(irc_line_tag_at(msg, ntags, &k, &v) == -ENOENT, "a tag past the end");
	for (size_t i = 0; i < ntags && i < LINE_TAGS_CHECKED; i++) {
		FUZZ_CHECK(irc_line_tag_at(msg, i, &k, &v) == 0 && k[0], "tag %zu", i);
		FUZZ_CHECK(irc_line_tag(msg, k) == v, "lookup of tag %s", k);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(irc_line_tag_at(msg, j, &k2, &v2) == 0 && strcmp(k, k2) != 0, "tag %s twice", k);
	}
	if (irc_line_nick(msg))
		FUZZ_CHECK(irc_line_source(msg) &&
			   strncmp(irc_line_source(msg), irc_line_nick(msg), strlen(irc_line_nick(msg))) == 0,
			   "the nick is not where the source starts");
}

/* The kind of a line agrees with its parse. */
static void line_check_kind(const struct irc_line *msg)
{
	enum irc_kind k = irc_kind_of(msg);
	const char *cmd = irc_line_command(msg), *text = irc_line_param(msg, 1);
	bool privmsg = strcmp(cmd, "PRIVMSG") == 0;
	bool ctcp = text && text[0] == '\001' && text[strlen(text) - 1] == '\001';

	FUZZ_CHECK((k == IRC_KIND_NUMERIC) == (irc_line_numeric(msg) >= 0), "kind %s for %s", irc_kind_name(k), cmd);
	if (k != IRC_KIND_NUMERIC && k != IRC_KIND_NONE)
		FUZZ_CHECK(irc_line_source(msg), "kind %s without a source", irc_kind_name(k));
	if (k == IRC_KIND_MESSAGE || k == IRC_KIND_ACTION || k == IRC_KIND_CTCP)
		FUZZ_CHECK(privmsg && text && text[0] && (k == IRC_KIND_MESSAGE) == !ctcp, "kind %s for %s",
			   irc_kind_name(k), cmd);
	if (k == IRC_KIND_NOTICE)
		FUZZ_CHECK(strcmp(cmd, "NOTICE") == 0 && text && text[0], "notice for %s", cmd);
}

/* Building the parsed command and parameters gives a line that parses the same. */
static void line_check_build(const struct irc_line *msg)
{
	size_t n = irc_line_param_count(msg), len = 0;
	struct irc_str *p = calloc(n ? n : 1, sizeof *p);
	struct irc_line *back = NULL;
	char *out = NULL;

	FUZZ_CHECK(p, "out of memory");
	for (size_t i = 0; i < n; i++) {
		p[i].p = irc_line_param(msg, i);
		p[i].len = strlen(p[i].p);
	}
	int r = irc_line_build(irc_line_command(msg), p, n, 0, &out, &len);
	FUZZ_CHECK(r == 0 || r == -EMSGSIZE, "building a parsed line gave %d", r);
	if (r == 0) {
		FUZZ_CHECK(strlen(out) == len && len <= IRC_LINE_MAX, "built %zu bytes", len);
		FUZZ_CHECK(irc_line_parse(out, &back) == 0, "the built line does not parse: %s", out);
		FUZZ_CHECK(strcmp(irc_line_command(back), irc_line_command(msg)) == 0, "command changed");
		FUZZ_CHECK(irc_line_param_count(back) == n, "parameter count changed: %s", out);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(strcmp(irc_line_param(back, i), p[i].p) == 0, "parameter %zu changed", i);
	}
	irc_line_free(back);
	free(out);
	free(p);
}

/* The state answers questions about what the line named. */
static void line_query_state(struct irc_state *st, const struct irc_line *msg)
{
	const char *first = irc_line_param(msg, 0), *nick = irc_line_nick(msg);
	bool found;

	cJSON_Delete(irc_state_channels_json(st));
	if (first && irc_state_is_channel(st, first)) {
		cJSON *users = irc_state_users_json(st, first, &found);
		FUZZ_CHECK(cJSON_IsArray(users), "no users array");
		FUZZ_CHECK(found == irc_state_in_channel(st, first), "in the channel or not?");
		cJSON_Delete(users);
	}
	if (nick) {
		cJSON_Delete(irc_state_common_json(st, nick));
		irc_state_account(st, nick);
		irc_state_is_me(st, nick);
	}
}

/* What the link and the irc object keep of a connection. */
struct line_conn {
	struct irc_state *st;
	struct capneg *cap;
	bool timeouts;		/* a PING stands for the negotiation's deadline */
};

/* A line the negotiation sends is one valid line. */
static int line_cap_send(const char *line, const char *shown, void *userdata)
{
	struct irc_line *msg;

	FUZZ_CHECK(strlen(line) <= IRC_LINE_MAX && !strpbrk(line, "\r\n"), "capneg sent a bad line: %s", line);
	FUZZ_CHECK(irc_line_parse(line, &msg) == 0, "capneg sent a line that does not parse: %s", line);
	irc_line_free(msg);
	return 0;
}

/* The negotiation's part in a line. */
static void line_negotiate(struct line_conn *lc, const struct irc_line *msg)
{
	int r = capneg_line(lc->cap, msg);

	FUZZ_CHECK(r == 0 || r == 1, "capneg_line gave %d", r);
	if (irc_line_numeric(msg) == 1)
		capneg_registered(lc->cap);
	if (lc->timeouts && strcmp(irc_line_command(msg), "PING") == 0)
		FUZZ_CHECK(capneg_timeout(lc->cap) == 0, "capneg_timeout failed");
	enum capneg_state s = capneg_get_state(lc->cap);
	FUZZ_CHECK(s >= CAPNEG_IDLE && s <= CAPNEG_FAILED, "state %d", (int)s);
	if (s == CAPNEG_FAILED)
		FUZZ_CHECK(capneg_get_error(lc->cap), "failed without saying why");
	capneg_enabled(lc->cap, "sasl");
	capneg_get_account(lc->cap);
}

/* One line as the link and the irc object take it. */
static void line_handle(struct line_conn *lc, char *line, size_t len)
{
	struct irc_line *msg;
	int r = irc_line_parse(line, &msg);

	FUZZ_CHECK(r == 0 || r == -EINVAL, "parse gave %d", r);
	if (r < 0)
		return;
	line_check_parsed(msg);
	line_check_kind(msg);
	line_check_build(msg);
	char *untagged = (char *)irc_line_strip_tags(line);
	FUZZ_CHECK(untagged >= line && untagged <= line + len, "strip_tags left the line");
	FUZZ_CHECK(irc_line_too_long(line, IRC_LINE_MAX) == (len > IRC_LINE_MAX), "too_long wrong");
	bool valid = irc_text_utf8_valid(untagged, strlen(untagged));
	irc_input_cut(untagged);
	FUZZ_CHECK(strlen(untagged) <= IRC_LINE_MAX, "cut to %zu bytes", strlen(untagged));
	if (valid)
		FUZZ_CHECK(irc_text_utf8_valid(untagged, strlen(untagged)), "the cut split a UTF-8 sequence");
	line_negotiate(lc, msg);
	FUZZ_CHECK(irc_state_update(lc->st, msg) == 0, "state update failed");
	line_query_state(lc->st, msg);
	irc_line_free(msg);
}

/* Take every line now buffered, checking each against the reference. */
static void line_drain(struct irc_input *in, struct line_expect *e, struct line_conn *lc)
{
	const char *want;
	size_t want_len, len;
	char *line;
	int r;

	while ((r = irc_input_next(in, &line, &len)) != 0) {
		int x = line_expect_next(e, &want, &want_len);
		FUZZ_CHECK(r == x, "the input gave %d, the reference %d", r, x);
		if (r < 0)
			continue;
		FUZZ_CHECK(len == want_len && memcmp(line, want, len) == 0 && line[len] == '\0',
			   "a line of %zu bytes differs from the reference's %zu", len, want_len);
		line_handle(lc, line, len);
	}
}

/* One connection's byte stream from a server. */
FUZZ_ENTRY(irc_line)
{
	struct irc_input in;
	struct fuzz_rng g;
	size_t len, at = 0;

	if (size < 2)
		return 0;
	/* The negotiation logs what a server does wrong, which is most inputs here. */
	log_set_level(LOG_LEVEL_ERROR);
	fuzz_rng_init(&g, data[0]);
	char *s = line_stream(data + 2, size - 2, data[1] & 1, &len);
	char *ref = malloc(len + 1);
	FUZZ_CHECK(ref, "out of memory");
	memcpy(ref, s, len);
	struct line_expect e = { ref, line_drop_nuls(ref, len), 0 };
	struct capneg_opts opts = { "fuzz.example:6697", CAPNEG_MECH_PLAIN, "bot", "sesame", false };
	struct line_conn lc = { irc_state_new(), capneg_new(&opts, line_cap_send, NULL), data[1] & 4 };
	FUZZ_CHECK(lc.st && lc.cap && irc_input_init(&in) == 0, "out of memory");
	FUZZ_CHECK(capneg_start(lc.cap) == 0, "capneg_start failed");

	while (at < len) {
		size_t room, n = 1 + fuzz_rng_below(&g, 1024);
		char *space = irc_input_space(&in, &room);
		FUZZ_CHECK(room >= IRC_INPUT_READ_MIN, "only %zu bytes of room", room);
		if (n > len - at)
			n = len - at;
		memcpy(space, s + at, n);
		bool lf = irc_input_commit(&in, n);
		FUZZ_CHECK(lf == (memchr(s + at, '\n', n) != NULL), "commit saw a line feed wrongly");
		at += n;
		line_drain(&in, &e, &lc);
	}
	const char *want;
	size_t want_len;
	FUZZ_CHECK(line_expect_next(&e, &want, &want_len) == 0, "the reference has more");
	irc_input_free(&in);
	irc_state_free(lc.st);
	capneg_free(lc.cap);
	free(ref);
	free(s);
	return 0;
}
