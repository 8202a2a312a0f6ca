/* seen: remembers when each nick last spoke, joined, parted, quit or changed
 * nick, and answers `!seen NICK` ("alice was last seen 5m 3s ago in #bots,
 * saying: hello"), with the host's command prefix ($BOTKIT_PREFIX, "!"
 * when it is not set) in place of '!'.
 *
 * The pattern: a resident that keeps state. It runs for as long as the host
 * does, listens to IRC events, answers a command itself by reading messages
 * (it is not spawned per command), and keeps its state in a file so that a
 * restart (a crash, a new binary, a reload) loses nothing: the file is
 * loaded at start and rewritten atomically (a temporary file, then rename)
 * after every change.
 *
 * The file is the first argument, else $BOTKIT_STATE_DIR/seen.json, else
 * ./seen.json (relative to the host's working directory).
 *
 *   [resident seen]
 *   exec = /usr/local/libexec/bothost/seen
 *   arg = /var/lib/bothost/seen.json
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <botkit-irc.h>

#include "script.h"

#define SEEN_MAX 10000			/* nicks remembered; the oldest is forgotten first */
#define TEXT_MAX 120			/* bytes of a message kept */
#define NICK_MAX 64
#define FILE_MAX (16 * 1024 * 1024)

struct seen {
	bk_conn *conn;
	const char *prefix;	/* the command prefix, "!" by default */
	char *path;		/* the state file */
	cJSON *db;		/* folded nick -> {"nick","time","event","channel","text"} */
};

/* ---- the state and its file --------------------------------------------- */

/* Milliseconds since the epoch. */
static int64_t seen_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The nick as IRC compares it (RFC 1459 case mapping) into key. */
static void seen_fold(const char *nick, char key[NICK_MAX + 1])
{
	size_t i;

	for (i = 0; nick[i] && i < NICK_MAX; i++) {
		char ch = nick[i];
		key[i] = ch >= 'A' && ch <= '^' ? (char)(ch + 32) : ch;
	}
	key[i] = '\0';
}

/* Read the whole file into a new string; NULL with errno set on failure. */
static char *seen_read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n = 1;
	int err = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		err = errno;
	else if (st.st_size > FILE_MAX)
		err = EFBIG;
	else if (!(text = malloc((size_t)st.st_size + 1)))
		err = ENOMEM;
	while (!err && len < (size_t)st.st_size && n > 0) {
		n = read(fd, text + len, (size_t)st.st_size - len);
		if (n > 0)
			len += (size_t)n;
		else if (n < 0 && errno != EINTR)
			err = errno;
		else if (n < 0)
			n = 1;
	}
	close(fd);
	if (err) {
		free(text);
		errno = err;
		return NULL;
	}
	text[len] = '\0';
	return text;
}

/* Load the state file: missing means empty; one that is not a JSON object
 * is moved aside to FILE.bad (so that the next save does not destroy it). */
static int seen_load(struct seen *s)
{
	char *text = seen_read_file(s->path);
	char bad[4096];
	int err = errno;

	if (!text && err == ENOENT)
		return (s->db = cJSON_CreateObject()) ? 0 : -ENOMEM;
	if (!text) {
		fprintf(stderr, "seen: cannot read %s: %s\n", s->path, strerror(err));
		return -err;
	}
	s->db = cJSON_Parse(text);
	free(text);
	if (cJSON_IsObject(s->db))
		return 0;
	cJSON_Delete(s->db);
	snprintf(bad, sizeof bad, "%s.bad", s->path);
	fprintf(stderr, "seen: %s is not a JSON object; moved to %s, starting empty\n", s->path, bad);
	if (rename(s->path, bad) < 0)
		return -errno;
	return (s->db = cJSON_CreateObject()) ? 0 : -ENOMEM;
}

/* Write all of text to fd. */
static int seen_write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Save the state: write a new temporary file beside FILE (FILE.XXXXXX,
 * made by mkostemp, so a symlink or a file someone else left there is never
 * followed or overwritten), flush it to disk, rename it over FILE. A crash
 * at any moment leaves either the old file or the new one. */
static int seen_save(const struct seen *s)
{
	char tmp[4096];
	char *text = cJSON_PrintUnformatted(s->db);
	int fd, r;

	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", s->path) >= sizeof tmp) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	r = seen_write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, s->path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
out:
	if (r < 0)
		fprintf(stderr, "seen: cannot save %s: %s\n", s->path, strerror(-r));
	free(text);
	return r;
}

/* Forget the record seen longest ago. */
static void seen_forget_oldest(struct seen *s)
{
	cJSON *rec, *oldest = NULL;

	cJSON_ArrayForEach(rec, s->db) {
		double t = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "time"));
		if (!oldest || t < cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(oldest, "time")))
			oldest = rec;
	}
	if (oldest)
		cJSON_Delete(cJSON_DetachItemViaPointer(s->db, oldest));
}

/* Copy at most TEXT_MAX bytes of text, cut at a character boundary. */
static char *seen_clip(const char *text, char out[TEXT_MAX + 1])
{
	size_t n = strlen(text);

	if (n > TEXT_MAX) {
		n = TEXT_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, text, n);
	out[n] = '\0';
	return out;
}

/* Remember that nick did event (in channel, with text; both may be NULL). */
static void seen_put(struct seen *s, const char *nick, int64_t time_ms, const char *event,
		     const char *channel, const char *text)
{
	char key[NICK_MAX + 1], clipped[TEXT_MAX + 1];
	cJSON *rec = cJSON_CreateObject();

	seen_fold(nick, key);
	if (!rec || !cJSON_AddStringToObject(rec, "nick", nick) ||
	    !cJSON_AddNumberToObject(rec, "time", (double)time_ms) ||
	    !cJSON_AddStringToObject(rec, "event", event) ||
	    !(channel ? cJSON_AddStringToObject(rec, "channel", channel) : cJSON_AddNullToObject(rec, "channel")) ||
	    !(text ? cJSON_AddStringToObject(rec, "text", seen_clip(text, clipped))
		   : cJSON_AddNullToObject(rec, "text"))) {
		cJSON_Delete(rec);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(s->db, key);
	if (cJSON_GetArraySize(s->db) >= SEEN_MAX)
		seen_forget_oldest(s);
	cJSON_AddItemToObject(s->db, key, rec);
	seen_save(s);
}

/* ---- answering !seen ------------------------------------------------------ */

/* What a record says the nick was doing: "in #bots, saying: hi", ... */
static void seen_describe(const cJSON *rec, char *buf, size_t size)
{
	const char *event = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "event"));
	const char *chan = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "channel"));
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "text"));

	if (!chan)
		chan = "?";
	if (event && strcmp(event, "message") == 0)
		snprintf(buf, size, "in %s, saying: %s", chan, text ? text : "");
	else if (event && strcmp(event, "action") == 0)
		snprintf(buf, size, "in %s, doing: %s", chan, text ? text : "");
	else if (event && strcmp(event, "join") == 0)
		snprintf(buf, size, "joining %s", chan);
	else if (event && strcmp(event, "part") == 0)
		snprintf(buf, size, "leaving %s%s%s%s", chan, text ? " (" : "", text ? text : "", text ? ")" : "");
	else if (event && strcmp(event, "quit") == 0)
		snprintf(buf, size, "quitting%s%s%s", text ? " (" : "", text ? text : "", text ? ")" : "");
	else if (event && strcmp(event, "nick") == 0)
		snprintf(buf, size, "changing nick to %s", text ? text : "?");
	else if (event && strcmp(event, "nick_from") == 0)
		snprintf(buf, size, "changing nick from %s", text ? text : "?");
	else
		snprintf(buf, size, "somewhere");
}

/* Answer "!seen NICK" asked by asker. */
static void seen_answer(struct seen *s, const bk_irc_event *ev, const char *asker, const char *nick)
{
	char key[NICK_MAX + 1], askkey[NICK_MAX + 1], ago[32], what[TEXT_MAX + 128];
	const cJSON *rec;
	double t;

	seen_fold(nick, key);
	seen_fold(asker, askkey);
	if (strcmp(key, askkey) == 0) {
		bk_irc_event_replyf(ev, "%s: that's you", asker);
		return;
	}
	rec = cJSON_GetObjectItemCaseSensitive(s->db, key);
	if (!rec) {
		bk_irc_event_replyf(ev, "I have not seen %s", nick);
		return;
	}
	t = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "time"));
	script_duration(ago, sizeof ago, (seen_now_ms() - (int64_t)t) / 1000);
	seen_describe(rec, what, sizeof what);
	bk_irc_event_replyf(ev, "%s was last seen %s ago %s",
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "nick")), ago, what);
}

/* The words after "PREFIXseen" when text is that command, else NULL. */
static const char *seen_command_args(const struct seen *s, const char *text)
{
	size_t n = strlen(s->prefix);

	if (strncmp(text, s->prefix, n) != 0 || strncmp(text + n, "seen", 4) != 0)
		return NULL;
	text += n + 4;
	return *text == ' ' || *text == '\0' ? text : NULL;
}

/* A message: answer it when it is "PREFIXseen NICK". */
static void seen_command_cb(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	const struct seen *s = userdata;
	const char *text = bk_irc_event_text(ev), *asker = bk_irc_event_nick(ev), *args;
	char nick[NICK_MAX + 1], extra;
	int n;

	if (!text || !asker || !(args = seen_command_args(s, text)))
		return;
	n = sscanf(args, " %64s %c", nick, &extra);
	if (n != 1 || strlen(nick) >= NICK_MAX)
		bk_irc_event_replyf(ev, "usage: %sseen NICK", s->prefix);
	else
		seen_answer(userdata, ev, asker, nick);
}

/* ---- recording -------------------------------------------------------------- */

/* The event's time: the server's when it says, else now. */
static int64_t seen_event_time(const bk_irc_event *ev)
{
	int64_t t = bk_irc_event_time(ev);

	return t > 0 ? t : seen_now_ms();
}

/* Any recorded event: remember who did what. Private messages stay private. */
static void seen_record_cb(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct seen *s = userdata;
	const char *name = bk_irc_event_name(ev), *nick = bk_irc_event_nick(ev);
	const char *text = bk_irc_event_text(ev);
	int64_t t = seen_event_time(ev);

	if (!nick || bk_irc_event_is_self(ev) || bk_irc_event_is_private(ev))
		return;
	if (strcmp(name, "part") == 0 || strcmp(name, "quit") == 0)
		text = bk_irc_event_string(ev, "reason");
	if (strcmp(name, "nick") == 0) {
		text = bk_irc_event_string(ev, "nick");
		if (text)
			seen_put(s, text, t, "nick_from", NULL, nick);
	}
	seen_put(s, nick, t, name, bk_irc_event_channel(ev), text);
}

/* Load the state, register for the events, and serve until the host goes away. */
int main(int argc, char **argv)
{
	static const char *const events[] = { "message", "action", "join", "part", "quit", "nick", NULL };
	struct seen s = { 0 };
	const char *dir = getenv("BOTKIT_STATE_DIR"), *prefix = getenv("BOTKIT_PREFIX");
	int r = -ENOMEM;

	s.prefix = prefix && *prefix ? prefix : "!";

	if (argc > 1)
		s.path = strdup(argv[1]);
	else if (asprintf(&s.path, "%s/seen.json", dir && *dir ? dir : ".") < 0)
		s.path = NULL;
	if (!s.path || (r = seen_load(&s)) < 0)
		goto out;
	if ((r = bk_conn_new(&s.conn, "seen")) < 0) {
		fprintf(stderr, "seen: cannot connect to bothost: %s\n", strerror(-r));
		goto out;
	}
	/* Handlers run in the order they were registered: a "!seen" message is
	 * answered before its sender is recorded as having spoken. The
	 * registrations belong to the connection (no slot): they last as long
	 * as the program. */
	r = bk_irc_on_message(s.conn, seen_command_cb, &s, NULL, NULL);
	for (const char *const *e = events; *e && r == 0; e++)
		r = bk_irc_on(s.conn, *e, seen_record_cb, &s, NULL, NULL);
	if (r == 0) {
		printf("seen: watching, %d nicks known, state in %s\n", cJSON_GetArraySize(s.db), s.path);
		fflush(stdout);
		r = bk_run(s.conn);	/* returns only when the host goes away */
	}
	fprintf(stderr, "seen: %s\n", r < 0 ? strerror(-r) : "stopped");
out:
	bk_conn_unref(s.conn);
	cJSON_Delete(s.db);
	free(s.path);
	return r < 0 ? 1 : 0;
}
