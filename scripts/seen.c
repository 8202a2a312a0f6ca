/* SPDX-License-Identifier: ISC */
/* seen: remembers when each nick last spoke, joined, parted, quit or changed
 * nick, and answers `!seen NICK` ("alice was last seen 5m 3s ago in #bots,
 * saying: hello"), with the host's command prefix ($BOTKIT_PREFIX, "!"
 * when it is not set) in place of '!'.
 *
 * It also provides the service `seen` to other behaviours: lookup(nick)
 * gives the nick's record ({nick, time, event, channel, text}) or null;
 * scripts/lastseen.c is a command that asks it.
 *
 * The pattern: a resident that keeps state. It runs for as long as the host
 * does, listens to IRC events, answers a command itself by reading messages
 * (it is not spawned per command), and keeps its state in the host's store
 * (<botkit-store.h>), so that a restart (a crash, a new binary, a reload)
 * loses nothing: one key per nick (folded as IRC compares nicks) in the
 * namespace of its section ("seen" when it is started by hand), written
 * with store.set for each event and read with store.get for each question. A line costs one small transaction,
 * not a rewrite of everything known.
 *
 * State kept by an older seen in a JSON file is moved into the store once:
 * the file named by the first argument, else $BOTKIT_STATE_DIR/seen.json
 * (the behaviour's own directory, which bothost makes), is read at start,
 * its records written to the store (those the store already holds are
 * kept), and the file renamed to FILE.migrated; a file that is not a JSON
 * object is moved aside to FILE.bad.
 *
 *   [resident seen]
 *   exec = /usr/local/libexec/bothost/seen
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
#include <botkit-store.h>

#include "script.h"

#define TEXT_MAX 120			/* bytes of a message kept */
#define NICK_MAX 64
#define FILE_MAX (16 * 1024 * 1024)

struct seen {
	bk_conn *conn;
	const char *prefix;	/* the command prefix, "!" by default */
	char *path;		/* an older seen's state file, migrated at start */
	const char *ns;		/* the store's namespace: NULL, its own under bothost */
};

/* ---- the state: folded nick -> {"nick","time","event","channel","text"} in the store */

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

/* Move an older seen's state file into the store, once: its records where
 * the store has none (cas against absent), then FILE renamed to
 * FILE.migrated. Missing means nothing to do; a file that is not a JSON
 * object is moved aside to FILE.bad. */
static int seen_migrate(struct seen *s)
{
	char *text = seen_read_file(s->path);
	char aside[4096];
	int err = errno, r = 0, n = 0;
	cJSON *db, *rec;

	if (!text && err == ENOENT)
		return 0;
	if (!text) {
		fprintf(stderr, "seen: cannot read %s: %s\n", s->path, strerror(err));
		return -err;
	}
	db = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(db)) {
		snprintf(aside, sizeof aside, "%s.bad", s->path);
		fprintf(stderr, "seen: %s is not a JSON object; moved to %s, not migrated\n", s->path, aside);
		cJSON_Delete(db);
		return rename(s->path, aside) < 0 ? -errno : 0;
	}
	cJSON_ArrayForEach(rec, db) {
		if (!rec->string || !*rec->string || strlen(rec->string) > NICK_MAX || !cJSON_IsObject(rec))
			continue;
		if ((r = bk_store_cas(s->conn, s->ns, rec->string, NULL, rec)) < 0)
			break;
		n += r;
	}
	cJSON_Delete(db);
	if (r < 0) {
		fprintf(stderr, "seen: cannot migrate %s into the store: %s\n", s->path,
			bk_error_message(bk_conn_last_error(s->conn)));
		return r;
	}
	snprintf(aside, sizeof aside, "%s.migrated", s->path);
	if (rename(s->path, aside) < 0)
		return -errno;
	printf("seen: %d nicks of %s moved into the store; the file is now %s\n", n, s->path, aside);
	return 0;
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
static void seen_put(const struct seen *s, const char *nick, int64_t time_ms, const char *event,
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
	/* One small transaction in the host; a failure (the store is full or
	 * broken) is logged, and the next event tries again. */
	if (bk_store_set(s->conn, s->ns, key, rec) < 0)
		fprintf(stderr, "seen: cannot record %s: %s\n", nick, bk_error_message(bk_conn_last_error(s->conn)));
	cJSON_Delete(rec);
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
static void seen_answer(const struct seen *s, const bk_irc_event *ev, const char *asker, const char *nick)
{
	char key[NICK_MAX + 1], askkey[NICK_MAX + 1], ago[32], what[TEXT_MAX + 128];
	cJSON *rec = NULL;
	double t;

	seen_fold(nick, key);
	seen_fold(asker, askkey);
	if (strcmp(key, askkey) == 0) {
		bk_irc_event_replyf(ev, "%s: that's you", asker);
		return;
	}
	if (bk_store_get(s->conn, s->ns, key, &rec) < 0) {
		bk_irc_event_replyf(ev, "seen: %s", bk_error_message(bk_conn_last_error(s->conn)));
		return;
	}
	if (!rec) {
		bk_irc_event_replyf(ev, "I have not seen %s", nick);
		return;
	}
	t = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "time"));
	script_duration(ago, sizeof ago, (seen_now_ms() - (int64_t)t) / 1000);
	seen_describe(rec, what, sizeof what);
	bk_irc_event_replyf(ev, "%s was last seen %s ago %s",
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "nick")), ago, what);
	bk_json_delete(rec);
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

/* ---- the seen service ------------------------------------------------------ */

/* The service's lookup(nick): the nick's record, or null. */
static void seen_lookup_cb(bk_conn *c, bk_args *args, void *userdata)
{
	const struct seen *s = userdata;
	const char *nick = bk_args_string(args, 0);
	char key[NICK_MAX + 1];
	cJSON *rec = NULL;

	seen_fold(nick ? nick : "", key);
	if (!*key)
		bk_args_return_json(args, NULL);
	else if (bk_store_get(s->conn, s->ns, key, &rec) < 0)
		bk_args_fail(args, "Failed", bk_error_message(bk_conn_last_error(s->conn)));
	else
		bk_args_return_json(args, rec);
	bk_json_delete(rec);
}

/* What other behaviours may ask (scripts/lastseen.c does). */
static const bk_method seen_methods[] = {
	{ "lookup", "s", "what nick was last seen doing: {nick, time (ms since the epoch), event, channel, text}, "
	  "or null", seen_lookup_cb, "nick", NULL },
	{ NULL },
};

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

/* Migrate an old state file, register for the events, and serve until the host goes away. */
int main(int argc, char **argv)
{
	static const char *const events[] = { "message", "action", "join", "part", "quit", "nick", NULL };
	struct seen s = { 0 };
	const char *dir = getenv("BOTKIT_STATE_DIR"), *prefix = getenv("BOTKIT_PREFIX");
	int r = -ENOMEM;

	s.prefix = prefix && *prefix ? prefix : "!";
	/* bothost names a behaviour's process (BOTKIT_NAME) and gives it the
	 * namespace of its section; one started otherwise (by hand, by a test,
	 * on the host's own socket) names the namespace "seen". */
	s.ns = getenv("BOTKIT_NAME") && *getenv("BOTKIT_NAME") ? NULL : "seen";

	if (argc > 1)
		s.path = strdup(argv[1]);
	else if (asprintf(&s.path, "%s/seen.json", dir && *dir ? dir : ".") < 0)
		s.path = NULL;
	if (!s.path)
		goto out;
	if ((r = bk_conn_new(&s.conn, "seen")) < 0) {
		fprintf(stderr, "seen: cannot connect to bothost: %s\n", strerror(-r));
		goto out;
	}
	/* A file that cannot be migrated now stays, and is tried at the next start. */
	seen_migrate(&s);
	/* Handlers run in the order they were registered: a "!seen" message is
	 * answered before its sender is recorded as having spoken. The
	 * registrations belong to the connection (no slot): they last as long
	 * as the program. */
	r = bk_irc_on_message(s.conn, seen_command_cb, &s, NULL, NULL);
	for (const char *const *e = events; *e && r == 0; e++)
		r = bk_irc_on(s.conn, *e, seen_record_cb, &s, NULL, NULL);
	/* The service, for as long as the program runs; without it (another
	 * seen provides it) this one still answers !seen. */
	int sr = r == 0 ? bk_provide(s.conn, "seen", seen_methods, "who was last seen when", &s, NULL, NULL) : 0;
	if (sr < 0)
		fprintf(stderr, "seen: cannot provide the seen service: %s\n", strerror(-sr));
	if (r == 0) {
		printf("seen: watching, state in the store\n");
		r = bk_run(s.conn);	/* returns only when the host goes away */
	}
	fprintf(stderr, "seen: %s\n", r < 0 ? strerror(-r) : "stopped");
out:
	bk_conn_unref(s.conn);
	free(s.path);
	return r < 0 ? 1 : 0;
}
