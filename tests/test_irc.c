/* SPDX-License-Identifier: ISC */
/* The `irc` object end to end: a private ngircd, a bothost started with a
 * configuration file pointing at it, scripted IRC users on one side and a
 * libbotkit client on the other (PROTOCOL.md, "The irc object"). */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "botkit.h"
#include "harness.h"
#include "ircd.h"

#define EVENTS_MAX 1024
#define WAIT_MS 5000

/* Every event the client received, in order. */
struct event {
	const char *name;
	cJSON *data;		/* a copy of the event's object */
};

static struct event events[EVENTS_MAX];
static size_t nevents;

/* One test's world: the server, the host, a client. */
struct env {
	struct test_ircd ircd;
	struct test_host host;
	char dir[64];		/* holds the configuration file */
	char conf[128];
	bk_conn *c;
};

static const char *const event_names[] = {
	"connect", "disconnect", "message", "action", "notice", "ctcp", "join", "part", "quit", "kick",
	"nick", "topic", "mode", "invite", "numeric", "line", NULL,
};

/* ---- the client side ----------------------------------------------------------- */

/* Record an event; answer "!ping" with "pong" and a CTCP FOO with "baz". */
static void on_event(bk_conn *c, bk_args *a, void *userdata)
{
	const char *name = userdata;
	const cJSON *ev = bk_args_get(a, 0);
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "text"));
	const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "command"));
	bk_fn *reply = bk_json_get_fn(cJSON_GetObjectItem(ev, "reply"));

	if (nevents < EVENTS_MAX) {
		events[nevents].name = name;
		events[nevents].data = bk_json_dup(ev);
		nevents++;
	}
	if (reply && strcmp(name, "message") == 0 && text && strcmp(text, "!ping") == 0)
		bk_fn_call(reply, NULL, NULL, "s", "pong");
	if (reply && strcmp(name, "ctcp") == 0 && cmd && strcmp(cmd, "FOO") == 0)
		bk_fn_call(reply, NULL, NULL, "s", "baz");
}

/* Forget the recorded events. */
static void events_clear(void)
{
	for (size_t i = 0; i < nevents; i++)
		bk_json_delete(events[i].data);
	nevents = 0;
}

/* Process the client for at most ms milliseconds. */
static void pump(struct env *e, int ms)
{
	struct pollfd p = { .fd = bk_conn_get_fd(e->c), .events = (short)bk_conn_get_events(e->c) };

	poll(&p, 1, ms);
	bk_conn_process(e->c);
}

/* A string inside o at a dotted path ("from.nick"), or NULL. */
static const cJSON *path_get(const cJSON *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)n, path);
		o = cJSON_GetObjectItem(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

/* The first event named name from index from on whose field equals value
 * (field NULL: any), waiting up to ms. */
static const cJSON *wait_event(struct env *e, size_t from, const char *name, const char *field, const char *value,
			       int ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)ms;

	for (;;) {
		for (size_t i = from; i < nevents; i++) {
			const char *v;
			if (strcmp(events[i].name, name) != 0)
				continue;
			v = field ? cJSON_GetStringValue(path_get(events[i].data, field)) : NULL;
			if (!field || (v && strcmp(v, value) == 0))
				return events[i].data;
		}
		if (test_now_ms() >= deadline)
			return NULL;
		pump(e, 20);
	}
}

/* The first numeric event with code from index from on, waiting up to ms. */
static const cJSON *wait_numeric(struct env *e, size_t from, int code, int ms)
{
	uint64_t deadline = test_now_ms() + (uint64_t)ms;

	for (;;) {
		for (size_t i = from; i < nevents; i++) {
			const cJSON *c = cJSON_GetObjectItem(events[i].data, "code");
			if (strcmp(events[i].name, "numeric") == 0 && cJSON_IsNumber(c) && c->valueint == code)
				return events[i].data;
		}
		if (test_now_ms() >= deadline)
			return NULL;
		pump(e, 20);
	}
}

/* How many events named name arrived from index from on. */
static size_t count_events(size_t from, const char *name)
{
	size_t n = 0;

	for (size_t i = from; i < nevents; i++)
		n += strcmp(events[i].name, name) == 0;
	return n;
}

/* Call irc.method with a signature; 0 or -errno (error name in ret_name). */
static int irc_call(struct env *e, cJSON **ret, const char **ret_name, const char *method, const char *sig, ...)
{
	cJSON *args = cJSON_CreateArray();
	va_list ap;
	int r;

	va_start(ap, sig);
	for (const char *p = sig; *p; p++) {
		switch (*p) {
		case 's': cJSON_AddItemToArray(args, cJSON_CreateString(va_arg(ap, const char *))); break;
		case 'n': cJSON_AddItemToArray(args, cJSON_CreateNull()); break;
		}
	}
	va_end(ap);
	r = bk_call_json_sync(e->c, "irc", method, args, ret);
	cJSON_Delete(args);
	if (ret_name)
		*ret_name = r < 0 && bk_conn_last_error(e->c) ? bk_error_name(bk_conn_last_error(e->c)) : NULL;
	return r;
}

/* The error name of a call expected to fail. */
static const char *irc_fail(struct env *e, const char *method, const char *sig, const char *a1, const char *a2,
			    const char *a3)
{
	const char *name = NULL;
	int r = irc_call(e, NULL, &name, method, sig, a1, a2, a3);

	ck_assert_msg(r < 0, "%s unexpectedly succeeded", method);
	return name ? name : "";
}

/* Whether the bot is in channel now. */
static bool bot_in(struct env *e, const char *channel)
{
	cJSON *chans = NULL;
	bool found = false;
	const cJSON *ch;

	if (irc_call(e, &chans, NULL, "getChannels", "") < 0)
		return false;
	cJSON_ArrayForEach(ch, chans) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "name"));
		found = found || (name && strcmp(name, channel) == 0);
	}
	bk_json_delete(chans);
	return found;
}

/* Wait until the bot is in channel. */
static void wait_bot_in(struct env *e, const char *channel)
{
	uint64_t deadline = test_now_ms() + 10000;

	while (!bot_in(e, channel)) {
		ck_assert_msg(test_now_ms() < deadline, "the bot did not join %s", channel);
		pump(e, 50);
	}
}

/* Wait until the bot is registered. */
static void wait_connected(struct env *e)
{
	uint64_t deadline = test_now_ms() + 10000;
	bool connected = false;

	while (!connected) {
		cJSON *st = NULL;
		ck_assert_msg(test_now_ms() < deadline, "the bot did not connect");
		if (irc_call(e, &st, NULL, "getState", "") == 0)
			connected = strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(st, "state")), "connected") == 0;
		bk_json_delete(st);
		if (!connected)
			pump(e, 50);
	}
}

/* The bot's nick now (caller frees), or NULL. */
static char *bot_nick(struct env *e)
{
	cJSON *nick = NULL;
	char *s = NULL;

	if (irc_call(e, &nick, NULL, "getNick", "") == 0 && cJSON_IsString(nick))
		s = strdup(nick->valuestring);
	bk_json_delete(nick);
	return s;
}

/* Read the user's lines until one matches, processing the client meanwhile. */
static int expect_line(struct env *e, struct test_irc_user *u, const char *re, int ms, const char **ret)
{
	uint64_t deadline = test_now_ms() + (uint64_t)ms;
	int r;

	do {
		pump(e, 0);
		r = test_irc_user_expect(u, re, 25, ret);
	} while (r == -ETIMEDOUT && test_now_ms() < deadline);
	return r;
}

/* A user connected and in channel (when given). */
static void user_start(struct env *e, struct test_irc_user *u, const char *nick, const char *channel)
{
	ck_assert_int_eq(test_irc_user_connect(u, e->ircd.port, nick), 0);
	if (channel)
		ck_assert_int_eq(test_irc_user_join(u, channel), 0);
}

/* ---- the world ------------------------------------------------------------------ */

/* Settings every test has, unless its extra lines set the key. */
static const char *const conf_defaults[] = {
	"nick = bot", "username = botuser", "realname = the bot", "reconnect_min = 300ms",
	"reconnect_max = 1s", "join_retry = 1s", "regain_nick = 1s", "rejoin_delay = 200ms",
	"ctcp_per_minute = 60", NULL,
};

/* Whether the extra lines set the key of a default "key = value". */
static bool conf_overridden(const char *extra, const char *def)
{
	size_t n = strcspn(def, " ");

	for (const char *l = extra; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
		if (strncmp(l, def, n) == 0 && l[n] == ' ')
			return true;
	return false;
}

/* Start ngircd and write the configuration ([irc] plus extra lines). */
static void env_prepare(struct env *e, bool penalties, const char *extra)
{
	struct test_ircd_opts o = { .penalties = penalties };
	FILE *f;

	memset(e, 0, sizeof *e);
	events_clear();
	ck_assert_int_eq(test_ircd_start(&e->ircd, &o), 0);
	snprintf(e->dir, sizeof e->dir, "/tmp/test-irc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	f = fopen(e->conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\n%s", e->ircd.port, extra ? extra : "");
	for (const char *const *d = conf_defaults; *d; d++)
		if (!conf_overridden(extra, *d))
			fprintf(f, "%s\n", *d);
	fclose(f);
}

/* Start bothost with the configuration, connect a client and register it
 * for every event. */
static void env_host_start(struct env *e)
{
	const char *args[] = { "--config", e->conf, NULL };

	ck_assert_int_eq(test_host_start(&e->host, args), 0);
	ck_assert_int_eq(bk_conn_new_path(&e->c, e->host.path, "test_irc"), 0);
	for (const char *const *n = event_names; *n; n++)
		ck_assert_int_eq(bk_on(e->c, "irc", *n, on_event, (void *)*n, NULL, NULL), 0);
}

/* The whole world. */
static void env_start(struct env *e, bool penalties, const char *extra)
{
	env_prepare(e, penalties, extra);
	env_host_start(e);
}

/* Stop everything the test started. */
static void env_stop(struct env *e)
{
	int status;

	events_clear();
	bk_conn_unref(e->c);
	status = test_host_stop(&e->host);
	test_ircd_stop(&e->ircd);
	unlink(e->conf);
	rmdir(e->dir);
	/* A clean exit: no crash, and no leak under the sanitizers. */
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bothost exited with status %#x", status);
}

/* Fast pacing for tests that are not about pacing. */
#define FAST "burst = 100\nline_interval = 10ms\n"

/* ---- messages ------------------------------------------------------------------- */

START_TEST(irc_message_reply_in_channel_and_private)
{
	struct env e;
	struct test_irc_user u;
	const cJSON *ev;
	size_t mark;

	env_start(&e, false, FAST "channel = #test\n");
	user_start(&e, &u, "alice", "#test");
	wait_bot_in(&e, "#test");

	mark = nevents;
	ck_assert_int_eq(test_irc_user_privmsg(&u, "#test", "!ping"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #test :pong$", WAIT_MS, NULL), 0);
	ev = wait_event(&e, mark, "message", "text", "!ping", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "from.nick")), "alice");
	ck_assert_ptr_nonnull(cJSON_GetStringValue(path_get(ev, "from.user")));
	ck_assert_ptr_nonnull(cJSON_GetStringValue(path_get(ev, "from.host")));
	ck_assert(cJSON_IsNull(path_get(ev, "from.account")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "target")), "#test");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "channel")), "#test");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(ev, "private")));
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(ev, "tags")));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(ev, "time"));
	ck_assert(bk_json_is_function(cJSON_GetObjectItem(ev, "reply")));

	/* Privately: the reply goes back to the sender. */
	mark = nevents;
	ck_assert_int_eq(test_irc_user_privmsg(&u, "bot", "!ping"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG alice :pong$", WAIT_MS, NULL), 0);
	ev = wait_event(&e, mark, "message", "text", "!ping", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(ev, "channel")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "private")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "target")), "bot");

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* P7: libircclient guesses its own nick by prefix; the bot must not. */
START_TEST(irc_private_stays_private_after_prefix_renames)
{
	struct env e;
	struct test_irc_user u;
	const cJSON *ev;
	size_t mark;
	char *nick;

	env_start(&e, false, FAST "channel = #test\n");
	user_start(&e, &u, "botx", "#test");
	wait_bot_in(&e, "#test");

	mark = nevents;
	ck_assert_int_eq(test_irc_user_send(&u, "NICK zed"), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "nick", "nick", "zed", WAIT_MS));
	ck_assert_int_eq(test_irc_user_privmsg(&u, "bot", "after botx became zed"), 0);
	ev = wait_event(&e, mark, "message", "text", "after botx became zed", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "private")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(ev, "channel")));

	/* A user taking a nick that starts with the bot's. */
	ck_assert_int_eq(test_irc_user_send(&u, "NICK botbot"), 0);
	ev = wait_event(&e, mark, "nick", "nick", "botbot", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(ev, "self")));
	ck_assert_int_eq(test_irc_user_privmsg(&u, "bot", "from botbot"), 0);
	ev = wait_event(&e, mark, "message", "text", "from botbot", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "private")));
	ck_assert_int_eq(test_irc_user_privmsg(&u, "#test", "in the channel"), 0);
	ev = wait_event(&e, mark, "message", "text", "in the channel", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(ev, "private")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "channel")), "#test");
	nick = bot_nick(&e);
	ck_assert_str_eq(nick, "bot");
	free(nick);

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* ---- every event --------------------------------------------------------------- */

/* The string at path of ev. */
static const char *str_at(const cJSON *ev, const char *path)
{
	const char *s = cJSON_GetStringValue(path_get(ev, path));

	ck_assert_msg(s != NULL, "no string at %s", path);
	return s;
}

START_TEST(irc_every_event_type)
{
	struct env e;
	struct test_irc_user a, b, c;
	const cJSON *ev;
	cJSON *users = NULL;
	size_t mark = 0;
	bool voiced = false;
	const cJSON *m;

	env_start(&e, false, FAST);
	wait_connected(&e);
	user_start(&e, &a, "alice", "#ev");
	user_start(&e, &b, "bob", NULL);
	user_start(&e, &c, "carol", NULL);

	/* join (self), with the numerics of the names list on the way */
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "join", "s", "#ev"), 0);
	ev = wait_event(&e, mark, "join", "who.nick", "bot", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "channel"), "#ev");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "self")));
	ev = wait_numeric(&e, mark, 366, WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsArray(cJSON_GetObjectItem(ev, "params")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "params"), 1)), "#ev");
	ck_assert_str_eq(str_at(ev, "origin"), "irc.test.local");
	ck_assert_ptr_nonnull(wait_event(&e, mark, "line", "direction", "out", 0));
	ck_assert_ptr_nonnull(wait_event(&e, mark, "line", "direction", "in", 0));

	/* join (someone else) */
	mark = nevents;
	ck_assert_int_eq(test_irc_user_join(&b, "#ev"), 0);
	ev = wait_event(&e, mark, "join", "who.nick", "bob", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(ev, "self")));

	/* mode */
	ck_assert_int_eq(test_irc_user_send(&a, "MODE #ev +v bob"), 0);
	ev = wait_event(&e, mark, "mode", "who.nick", "alice", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "target"), "#ev");
	ck_assert_str_eq(str_at(ev, "modes"), "+v");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "args"), 0)), "bob");
	ck_assert_int_eq(irc_call(&e, &users, NULL, "getUsers", "s", "#ev"), 0);
	cJSON_ArrayForEach(m, users)
		if (strcmp(str_at(m, "nick"), "bob") == 0)
			voiced = strcmp(str_at(m, "prefixes"), "+") == 0;
	bk_json_delete(users);
	ck_assert(voiced);

	/* topic */
	ck_assert_int_eq(test_irc_user_send(&a, "TOPIC #ev :a new topic"), 0);
	ev = wait_event(&e, mark, "topic", "topic", "a new topic", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "who.nick"), "alice");
	ck_assert_str_eq(str_at(ev, "channel"), "#ev");

	/* nick */
	ck_assert_int_eq(test_irc_user_send(&b, "NICK bobby"), 0);
	ev = wait_event(&e, mark, "nick", "who.nick", "bob", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "nick"), "bobby");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(ev, "self")));

	/* notice, in the channel and privately */
	ck_assert_int_eq(test_irc_user_send(&a, "NOTICE #ev :channel notice"), 0);
	ev = wait_event(&e, mark, "notice", "text", "channel notice", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "channel"), "#ev");
	ck_assert_ptr_null(cJSON_GetObjectItem(ev, "reply"));
	ck_assert_int_eq(test_irc_user_send(&a, "NOTICE bot :private notice"), 0);
	ev = wait_event(&e, mark, "notice", "text", "private notice", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "private")));

	/* action */
	ck_assert_int_eq(test_irc_user_send(&a, "PRIVMSG #ev :\001ACTION waves\001"), 0);
	ev = wait_event(&e, mark, "action", "text", "waves", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "channel"), "#ev");
	ck_assert(bk_json_is_function(cJSON_GetObjectItem(ev, "reply")));

	/* ctcp: an unknown request becomes an event and is answered through reply */
	ck_assert_int_eq(test_irc_user_send(&a, "PRIVMSG bot :\001FOO bar\001"), 0);
	ev = wait_event(&e, mark, "ctcp", "command", "FOO", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "args"), "bar");
	ck_assert_str_eq(str_at(ev, "from.nick"), "alice");
	ck_assert_str_eq(str_at(ev, "target"), "bot");
	ck_assert_int_eq(expect_line(&e, &a, "^:bot![^ ]+ NOTICE alice :\001FOO baz\001$", WAIT_MS, NULL), 0);
	/* VERSION and PING are answered by bothost itself, without an event */
	ck_assert_int_eq(test_irc_user_send(&a, "PRIVMSG bot :\001VERSION\001"), 0);
	ck_assert_int_eq(expect_line(&e, &a, "^:bot![^ ]+ NOTICE alice :\001VERSION bothost", WAIT_MS, NULL), 0);
	ck_assert_int_eq(test_irc_user_send(&a, "PRIVMSG bot :\001PING 12345\001"), 0);
	ck_assert_int_eq(expect_line(&e, &a, "^:bot![^ ]+ NOTICE alice :\001PING 12345\001$", WAIT_MS, NULL), 0);
	pump(&e, 50);
	ck_assert_ptr_null(wait_event(&e, mark, "ctcp", "command", "VERSION", 0));
	ck_assert_ptr_null(wait_event(&e, mark, "ctcp", "command", "PING", 0));

	/* invite */
	ck_assert_int_eq(test_irc_user_join(&a, "#other"), 0);
	ck_assert_int_eq(test_irc_user_send(&a, "INVITE bot #other"), 0);
	ev = wait_event(&e, mark, "invite", "channel", "#other", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "who.nick"), "alice");

	/* kick */
	ck_assert_int_eq(test_irc_user_send(&a, "KICK #ev bobby :out you go"), 0);
	ev = wait_event(&e, mark, "kick", "nick", "bobby", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "by.nick"), "alice");
	ck_assert_str_eq(str_at(ev, "channel"), "#ev");
	ck_assert_str_eq(str_at(ev, "reason"), "out you go");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(ev, "self")));

	/* part */
	ck_assert_int_eq(test_irc_user_join(&c, "#ev"), 0);
	ck_assert_int_eq(test_irc_user_send(&c, "PART #ev :see you"), 0);
	ev = wait_event(&e, mark, "part", "who.nick", "carol", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "channel"), "#ev");
	ck_assert_str_eq(str_at(ev, "reason"), "see you");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(ev, "self")));

	/* quit, with the channels shared with the bot */
	ck_assert_int_eq(test_irc_user_join(&c, "#ev"), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "join", "who.nick", "carol", WAIT_MS));
	ck_assert_int_eq(test_irc_user_quit(&c, "gone"), 0);
	ev = wait_event(&e, mark, "quit", "who.nick", "carol", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_nonnull(strstr(str_at(ev, "reason"), "gone"));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ev, "channels")), 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "channels"), 0)), "#ev");

	/* the bot kicked: self, then rejoined after rejoin_delay */
	mark = nevents;
	ck_assert_int_eq(test_irc_user_send(&a, "KICK #ev bot :bye bot"), 0);
	ev = wait_event(&e, mark, "kick", "nick", "bot", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "self")));
	ev = wait_event(&e, mark, "join", "who.nick", "bot", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(str_at(ev, "channel"), "#ev");

	/* the bot's own part: self, and not rejoined */
	mark = nevents;
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "part", "ss", "#ev", "leaving"), 0);
	ev = wait_event(&e, mark, "part", "who.nick", "bot", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "self")));
	ck_assert_str_eq(str_at(ev, "reason"), "leaving");
	pump(&e, 1300);
	ck_assert(!bot_in(&e, "#ev"));
	ck_assert_ptr_null(wait_event(&e, mark, "join", "who.nick", "bot", 0));

	test_irc_user_close(&a);
	test_irc_user_close(&b);
	test_irc_user_close(&c);
	env_stop(&e);
}
END_TEST

/* ---- injection ------------------------------------------------------------------ */

START_TEST(irc_injection_is_refused_or_literal)
{
	struct env e;
	struct test_irc_user u;
	struct test_raw raw;
	cJSON *welcome, *res;
	const char *name;

	env_start(&e, false, FAST);
	wait_connected(&e);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "join", "s", "#inj"), 0);
	user_start(&e, &u, "alice", "#inj");

	/* CR is removed and LF starts a new message: literal text, never a command */
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "say", "ss", "#inj", "one\r\nJOIN #evil"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #inj :one$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #inj :JOIN #evil$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "notice", "ss", "#inj", "two\rQUIT :x"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ NOTICE #inj :twoQUIT :x$", WAIT_MS, NULL), 0);
	ck_assert_str_eq(irc_fail(&e, "say", "ss", "#inj", "\r\n\r\n", NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "say", "ss", "#inj\r\nQUIT", "x", NULL), "InvalidArguments");

	/* names and one-line parameters refuse CR and LF */
	ck_assert_str_eq(irc_fail(&e, "join", "s", "#a\r\nPRIVMSG #inj :x", NULL, NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "join", "ss", "#inj2", "key\r\nQUIT", NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "join", "ss", "#inj2", "two words", NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "kick", "sss", "#inj", "alice", "bye\r\nQUIT :x"), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "kick", "ss", "#inj", "ali\nce", NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "topic", "ss", "#inj", "t\r\nQUIT :x", NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "mode", "sss", "#inj", "+k", "k\r\nQUIT"), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "mode", "ss", "#inj", "+i QUIT", NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "ctcp", "ss", "alice", "VER\001SION", NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "raw", "s", "PRIVMSG #inj :x\r\nQUIT", NULL, NULL), "InvalidArguments");
	ck_assert_str_eq(irc_fail(&e, "nick", "s", "b%xq", NULL, NULL), "InvalidArguments");

	/* '%' reaches the wire as it is */
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "say", "ss", "#inj", "%s%n%x %% %99999d"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #inj :%s%n%x %% %99999d$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "topic", "ss", "#inj", "%s%s%s%n"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ TOPIC #inj :%s%s%s%n$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "kick", "sss", "#inj", "alice", "%n%n"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ KICK #inj alice :%n%n$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(test_irc_user_join(&u, "#inj"), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "join", "s", "#pct%s"), 0);
	ck_assert(bot_in(&e, "#pct%s"));

	/* NUL through the raw protocol: a ProtocolError naming it, then the
	 * connection closes; nothing reaches IRC (PROTOCOL.md section 1). */
	welcome = test_raw_hello(&raw, e.host.path, "raw");
	ck_assert_ptr_nonnull(welcome);
	cJSON_Delete(welcome);
	ck_assert_int_eq(test_raw_send(&raw, "{\"t\":\"call\",\"id\":1,\"obj\":\"irc\",\"method\":\"say\","
					    "\"args\":[\"#inj\",\"nul\\u0000PRIVMSG #inj :second\"]}"), 0);
	res = test_raw_recv(&raw, WAIT_MS);
	ck_assert_ptr_nonnull(res);
	name = cJSON_GetStringValue(path_get(res, "error.name"));
	ck_assert_str_eq(name, "ProtocolError");
	ck_assert_ptr_null(cJSON_GetObjectItem(res, "id"));
	ck_assert_ptr_nonnull(strstr(cJSON_GetStringValue(path_get(res, "error.message")), "\\u0000"));
	cJSON_Delete(res);
	ck_assert(test_raw_closed(&raw, WAIT_MS));
	test_raw_close(&raw);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "say", "ss", "#inj", "end of test"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #inj :end of test$", WAIT_MS, NULL), 0);

	/* Exactly the intended lines came from the bot. */
	ck_assert_uint_eq(test_irc_user_count(&u, "^:bot![^ ]+ PRIVMSG #inj :"), 4);
	ck_assert_uint_eq(test_irc_user_count(&u, "^:bot![^ ]+ (PRIVMSG|NOTICE) #inj :(second|x)"), 0);
	ck_assert_uint_eq(test_irc_user_count(&u, "^:bot![^ ]+ (JOIN #evil|QUIT|JOIN #a|MODE)"), 0);
	ck_assert(!bot_in(&e, "#evil"));

	/* The other sending methods, as the user sees them. */
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "action", "ss", "#inj", "waves back"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #inj :\001ACTION waves back\001$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "ctcp", "sss", "alice", "PING", "42"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG alice :\001PING 42\001$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "ctcpReply", "sss", "alice", "TIME", "noon"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ NOTICE alice :\001TIME noon\001$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "mode", "sss", "#inj", "+v", "alice"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ MODE #inj \\+v alice$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "raw", "s", "PRIVMSG #inj :a raw line"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #inj :a raw line$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "invite", "ss", "alice", "#pct%s"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ INVITE alice :?#pct%s$", WAIT_MS, NULL), 0);

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* ---- long text and bursts ---------------------------------------------------------- */

START_TEST(irc_long_text_arrives_complete)
{
	struct env e;
	struct test_irc_user u;
	char text[2100], got[4096];
	size_t len = 0, glen = 0;
	const char *line;
	int word = 0;

	env_start(&e, false, FAST "channel = #test\n");
	user_start(&e, &u, "alice", "#test");
	wait_bot_in(&e, "#test");
	while (len < 2048)
		len += (size_t)snprintf(text + len, sizeof text - len, "%sw%04d", len ? " " : "", word++);

	ck_assert_int_eq(irc_call(&e, NULL, NULL, "say", "ss", "#test", text), 0);
	got[0] = '\0';
	while (glen < len) {
		ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #test :", WAIT_MS, &line), 0);
		ck_assert_uint_le(strlen(line) + 2, 512);
		const char *t = strstr(line, " :") + 2;
		glen += (size_t)snprintf(got + glen, sizeof got - glen, "%s%s", glen ? " " : "", t);
	}
	ck_assert_str_eq(got, text);
	ck_assert_uint_ge(test_irc_user_count(&u, "^:bot![^ ]+ PRIVMSG #test :"), 5);

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* Completion of an asynchronous call: counts answers and errors. */
struct answers {
	int ok, failed;
};

/* One more answer. */
static void count_answer(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct answers *a = userdata;

	if (err)
		a->failed++;
	else
		a->ok++;
}

START_TEST(irc_burst_of_50_paced_without_disconnect)
{
	struct env e;
	struct test_irc_user u;
	struct answers ans = { 0, 0 };
	char text[32], re[64];
	uint64_t deadline;
	size_t mark;

	/* penalties on, and the bot's default pacing */
	env_start(&e, true, "channel = #test\n");
	user_start(&e, &u, "alice", "#test");
	wait_bot_in(&e, "#test");
	mark = nevents;
	/* 5 at once, then one a second: the last answers come after botkit's default 30 s. */
	bk_conn_set_timeout(e.c, 120 * 1000000ULL);
	for (int i = 0; i < 50; i++) {
		snprintf(text, sizeof text, "burst line %02d", i);
		ck_assert_int_eq(bk_call(e.c, "irc", "say", count_answer, &ans, "ss", "#test", text), 0);
	}
	for (int i = 0; i < 50; i++) {
		const char *line;
		snprintf(re, sizeof re, "^:bot![^ ]+ PRIVMSG #test :burst line [0-9]+$");
		ck_assert_int_eq(expect_line(&e, &u, re, 10000, &line), 0);
		snprintf(text, sizeof text, "burst line %02d", i);
		ck_assert_str_eq(strstr(line, " :") + 2, text);
	}
	deadline = test_now_ms() + WAIT_MS;
	while (ans.ok + ans.failed < 50 && test_now_ms() < deadline)
		pump(&e, 20);
	ck_assert_int_eq(ans.ok, 50);
	ck_assert_uint_eq(count_events(mark, "disconnect"), 0);
	ck_assert_uint_eq(count_events(mark, "connect"), 0);
	ck_assert_ptr_null(test_irc_user_seen(&u, "^:bot![^ ]+ QUIT"));

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

START_TEST(irc_full_queue_and_no_connection_fail)
{
	struct env e;
	struct test_irc_user u;
	struct answers ans = { 0, 0 };
	const char *name = NULL;
	size_t mark;
	uint64_t t0;

	env_start(&e, false, "channel = #test\nburst = 1\nline_interval = 1s\nqueue_max = 2\nqueue_max_age = 500ms\n");
	user_start(&e, &u, "alice", "#test");
	wait_bot_in(&e, "#test");

	/* One line waits for the bucket; two more do not fit: nothing of them is queued. */
	ck_assert_int_eq(bk_call(e.c, "irc", "say", count_answer, &ans, "ss", "#test", "first"), 0);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "say", "ss", "#test", "second\nthird"), 0);
	ck_assert_str_eq(name, "LimitExceeded");
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #test :first$", WAIT_MS, NULL), 0);
	while (ans.ok + ans.failed == 0)
		pump(&e, 20);
	ck_assert_int_eq(ans.ok, 1);
	ck_assert_ptr_null(test_irc_user_seen(&u, "PRIVMSG #test :(second|third)"));

	/* No server: the line fails after queue_max_age. */
	mark = nevents;
	ck_assert_int_eq(test_ircd_kill(&e.ircd), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "disconnect", NULL, NULL, WAIT_MS));
	t0 = test_now_ms();
	ck_assert_int_lt(irc_call(&e, NULL, &name, "say", "ss", "#test", "nobody hears this"), 0);
	ck_assert_str_eq(name, "NotConnected");
	ck_assert_uint_ge(test_now_ms() - t0, 400);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "whois", "s", "alice"), 0);
	ck_assert_str_eq(name, "NotConnected");

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* ---- reconnects and nicks -------------------------------------------------------------- */

START_TEST(irc_reconnect_rejoins_and_delivers_queued_lines)
{
	struct env e;
	struct test_irc_user u;
	struct answers ans = { 0, 0 };
	const cJSON *ev;
	size_t mark;
	uint64_t deadline;

	env_start(&e, false, FAST "channel = #test\nreconnect_min = 1s\nreconnect_max = 2s\n");
	user_start(&e, &u, "alice", "#test");
	wait_bot_in(&e, "#test");
	test_irc_user_close(&u);

	mark = nevents;
	ck_assert_int_eq(test_ircd_kill(&e.ircd), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "disconnect", NULL, NULL, WAIT_MS));
	ck_assert_int_eq(bk_call(e.c, "irc", "say", count_answer, &ans, "ss", "#test", "said while down"), 0);
	pump(&e, 50);
	ck_assert_int_eq(ans.ok + ans.failed, 0);
	ck_assert_int_eq(test_ircd_restart(&e.ircd), 0);
	user_start(&e, &u, "alice", "#test");

	ev = wait_event(&e, mark, "connect", "nick", "bot", 10000);
	ck_assert_ptr_nonnull(ev);
	ck_assert_int_eq(strncmp(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "server")), "127.0.0.1:", 10), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ JOIN :?#test$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #test :said while down$", WAIT_MS, NULL), 0);
	deadline = test_now_ms() + WAIT_MS;
	while (ans.ok + ans.failed == 0 && test_now_ms() < deadline)
		pump(&e, 20);
	ck_assert_int_eq(ans.ok, 1);

	/* The handler registered before the reconnect still fires. */
	ck_assert_int_eq(test_irc_user_privmsg(&u, "#test", "!ping"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #test :pong$", WAIT_MS, NULL), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "message", "text", "!ping", WAIT_MS));

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* Open descriptors of process pid. */
static int count_fds(pid_t pid)
{
	char path[64];
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* libircclient aborts on a descriptor >= 1024 (FD_SET is fortified): with
 * over a thousand clients connected, the bot must still reconnect and work. */
START_TEST(irc_reconnect_with_over_1024_descriptors_open)
{
	enum { NCLIENTS = 1100 };
	static struct test_raw raws[NCLIENTS];
	struct env e;
	struct test_irc_user u;
	struct rlimit rl;
	size_t mark;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_msg(rl.rlim_max >= NCLIENTS + 200, "the hard descriptor limit is too low");
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);

	env_start(&e, false, FAST "channel = #test\nreconnect_min = 300ms\nreconnect_max = 1s\n");
	wait_bot_in(&e, "#test");
	for (int i = 0; i < NCLIENTS; i++) {
		cJSON *w = test_raw_hello(&raws[i], e.host.path, "idle");
		ck_assert_msg(w != NULL, "client %d was not welcomed", i);
		cJSON_Delete(w);
	}
	ck_assert_int_gt(count_fds(e.host.pid), 1024);

	mark = nevents;
	ck_assert_int_eq(test_ircd_kill(&e.ircd), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "disconnect", NULL, NULL, WAIT_MS));
	ck_assert_int_eq(test_ircd_restart(&e.ircd), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "connect", "nick", "bot", 10000));
	user_start(&e, &u, "alice", "#test");
	wait_bot_in(&e, "#test");
	ck_assert_int_eq(test_irc_user_privmsg(&u, "#test", "!ping"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ PRIVMSG #test :pong$", WAIT_MS, NULL), 0);
	ck_assert_int_gt(count_fds(e.host.pid), 1024);

	for (int i = 0; i < NCLIENTS; i++)
		test_raw_close(&raws[i]);
	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

START_TEST(irc_nick_regained_and_refused_join_retried)
{
	struct env e;
	struct test_irc_user holder;
	const cJSON *ev;
	size_t mark;
	char *nick;

	/* The nick is taken, and #locked needs a key, before bothost starts. */
	env_prepare(&e, false, FAST "channel = #test\nchannel = #locked\nalt_nick = bot2\nregain_nick = 30s\n");
	user_start(&e, &holder, "bot", "#test");
	ck_assert_int_eq(test_irc_user_join(&holder, "#locked"), 0);
	ck_assert_int_eq(test_irc_user_send(&holder, "MODE #locked +k sesame"), 0);
	ck_assert_int_eq(test_irc_user_expect(&holder, "MODE #locked \\+k", WAIT_MS, NULL), 0);
	env_host_start(&e);
	wait_bot_in(&e, "#test");
	nick = bot_nick(&e);
	ck_assert_str_eq(nick, "bot2");
	free(nick);

	/* The refused join is retried every join_retry: it works once the key is gone. */
	ck_assert_ptr_nonnull(wait_numeric(&e, 0, 475, WAIT_MS));
	ck_assert(!bot_in(&e, "#locked"));
	ck_assert_int_eq(test_irc_user_send(&holder, "MODE #locked -k sesame"), 0);
	wait_bot_in(&e, "#locked");

	/* The holder quits: the bot asks for its nick at once (not after 30 s). */
	mark = nevents;
	ck_assert_int_eq(test_irc_user_quit(&holder, "bye"), 0);
	ev = wait_event(&e, mark, "nick", "nick", "bot", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ev, "self")));
	ck_assert_str_eq(str_at(ev, "who.nick"), "bot2");
	nick = bot_nick(&e);
	ck_assert_str_eq(nick, "bot");
	free(nick);

	test_irc_user_close(&holder);
	env_stop(&e);
}
END_TEST

START_TEST(irc_reconfigure_on_sighup)
{
	struct env e;
	struct test_irc_user u;
	size_t mark;
	FILE *f;
	char *nick;

	env_start(&e, false, FAST "channel = #test\n");
	user_start(&e, &u, "alice", "#test");
	wait_bot_in(&e, "#test");
	/* A channel joined at run time stays; the configured ones follow the file. */
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "join", "s", "#runtime"), 0);

	f = fopen(e.conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[irc]\nserver = 127.0.0.1:%d\nnick = renamed\nchannel = #fresh\n" FAST, e.ircd.port);
	fclose(f);
	mark = nevents;
	ck_assert_int_eq(kill(e.host.pid, SIGHUP), 0);
	ck_assert_ptr_nonnull(wait_event(&e, mark, "part", "channel", "#test", WAIT_MS));
	wait_bot_in(&e, "#fresh");
	ck_assert_ptr_nonnull(wait_event(&e, mark, "nick", "nick", "renamed", WAIT_MS));
	nick = bot_nick(&e);
	ck_assert_str_eq(nick, "renamed");
	free(nick);
	ck_assert(bot_in(&e, "#runtime"));
	ck_assert(!bot_in(&e, "#test"));

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* ---- queries ------------------------------------------------------------------------------ */

/* fn(err, info) of whois: keeps a copy of both. */
static cJSON *whois_err, *whois_info;
static int whois_calls;

/* The whois function. */
static void on_whois(bk_conn *c, bk_args *a, void *userdata)
{
	whois_calls++;
	whois_err = bk_json_dup(bk_args_get(a, 0));
	whois_info = bk_json_dup(bk_args_get(a, 1));
}

START_TEST(irc_whois_names_topic_and_keyed_join)
{
	struct env e;
	struct test_irc_user u;
	cJSON *res = NULL, *chans;
	const cJSON *data, *m;
	const char *name;
	bool alice = false, op = false;
	uint64_t deadline;

	env_start(&e, false, FAST "channel = #test\n");
	/* the bot joins first, so that it is the channel's operator */
	wait_bot_in(&e, "#test");
	user_start(&e, &u, "alice", "#test");

	/* whois of a present nick */
	ck_assert_int_eq(irc_call(&e, &res, NULL, "whois", "s", "alice"), 0);
	ck_assert_str_eq(str_at(res, "nick"), "alice");
	ck_assert_ptr_nonnull(strstr(str_at(res, "user"), "alice"));
	ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(res, "host")));
	ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(res, "realname")));
	ck_assert_str_eq(str_at(res, "server"), "irc.test.local");
	chans = cJSON_GetObjectItem(res, "channels");
	ck_assert_int_ge(cJSON_GetArraySize(chans), 1);
	ck_assert_ptr_nonnull(strstr(cJSON_GetStringValue(cJSON_GetArrayItem(chans, 0)), "#test"));
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(res, "operator")));
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(res, "idle")));
	bk_json_delete(res);

	/* whois of an absent nick */
	ck_assert_int_lt(irc_call(&e, NULL, &name, "whois", "s", "nobody"), 0);
	ck_assert_str_eq(name, "IrcError");
	data = bk_error_data(bk_conn_last_error(e.c));
	ck_assert_int_eq(cJSON_GetObjectItem(data, "numeric")->valueint, 401);

	/* whois with a function: null now, fn(null, info) later */
	ck_assert_int_eq(bk_call_sync(e.c, "irc", "whois", &res, "sf", "alice", on_whois, NULL, NULL), 0);
	ck_assert(cJSON_IsNull(res));
	bk_json_delete(res);
	deadline = test_now_ms() + WAIT_MS;
	while (!whois_calls && test_now_ms() < deadline)
		pump(&e, 20);
	ck_assert_int_eq(whois_calls, 1);
	ck_assert(cJSON_IsNull(whois_err));
	ck_assert_str_eq(str_at(whois_info, "nick"), "alice");
	bk_json_delete(whois_err);
	bk_json_delete(whois_info);

	/* names */
	ck_assert_int_eq(irc_call(&e, &res, NULL, "names", "s", "#test"), 0);
	/* The bot was first in #test: it is its operator. */
	cJSON_ArrayForEach(m, res) {
		alice = alice || strcmp(str_at(m, "nick"), "alice") == 0;
		op = op || (strcmp(str_at(m, "nick"), "bot") == 0 && strcmp(str_at(m, "prefixes"), "@") == 0);
	}
	ck_assert(alice && op);
	bk_json_delete(res);

	/* topic, read back */
	ck_assert_int_eq(test_irc_user_send(&u, "TOPIC #test :the topic"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "TOPIC #test :the topic$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, &res, NULL, "topic", "s", "#test"), 0);
	ck_assert_str_eq(str_at(res, "topic"), "the topic");
	ck_assert_str_eq(str_at(res, "channel"), "#test");
	ck_assert_ptr_nonnull(strstr(str_at(res, "setter"), "alice"));
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(res, "time")));
	bk_json_delete(res);

	/* an empty text clears the topic; a line break is still refused */
	ck_assert_str_eq(irc_fail(&e, "topic", "ss", "#test", "\r\n", NULL), "InvalidArguments");
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "topic", "ss", "#test", ""), 0);
	ck_assert_int_eq(expect_line(&e, &u, ":bot![^ ]+ TOPIC #test :$", WAIT_MS, NULL), 0);
	ck_assert_int_eq(irc_call(&e, &res, NULL, "topic", "s", "#test"), 0);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(res, "topic")));
	bk_json_delete(res);
	ck_assert_int_eq(irc_call(&e, &res, NULL, "getChannels", ""), 0);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 0), "topic")));
	bk_json_delete(res);

	/* a +k channel: ServerRefused 475 without the key, joined with it */
	ck_assert_int_eq(test_irc_user_join(&u, "#locked"), 0);
	ck_assert_int_eq(test_irc_user_send(&u, "MODE #locked +k sesame"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "MODE #locked \\+k", WAIT_MS, NULL), 0);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "join", "s", "#locked"), 0);
	ck_assert_str_eq(name, "ServerRefused");
	data = bk_error_data(bk_conn_last_error(e.c));
	ck_assert_int_eq(cJSON_GetObjectItem(data, "numeric")->valueint, 475);
	ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(data, "text")));
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "join", "ss", "#locked", "sesame"), 0);
	ck_assert(bot_in(&e, "#locked"));

	/* nick: refused while in use, confirmed otherwise */
	ck_assert_int_lt(irc_call(&e, NULL, &name, "nick", "s", "alice"), 0);
	ck_assert_str_eq(name, "ServerRefused");
	data = bk_error_data(bk_conn_last_error(e.c));
	ck_assert_int_eq(cJSON_GetObjectItem(data, "numeric")->valueint, 433);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "nick", "s", "newbot"), 0);
	ck_assert_int_eq(expect_line(&e, &u, "^:bot![^ ]+ NICK :?newbot$", WAIT_MS, NULL), 0);

	/* state */
	ck_assert_int_eq(irc_call(&e, &res, NULL, "getState", ""), 0);
	ck_assert_str_eq(str_at(res, "state"), "connected");
	ck_assert_str_eq(str_at(res, "nick"), "newbot");
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(res, "queued")));
	bk_json_delete(res);
	ck_assert_int_eq(irc_call(&e, &res, NULL, "getIsupport", ""), 0);
	ck_assert_str_eq(str_at(res, "CHANTYPES"), "#&+");
	bk_json_delete(res);

	test_irc_user_close(&u);
	env_stop(&e);
}
END_TEST

/* The numeric of the last error, which must be ServerRefused about target. */
static int refused_numeric(struct env *e, const char *target)
{
	const bk_error *err = bk_conn_last_error(e->c);
	const cJSON *data = bk_error_data(err);

	ck_assert_str_eq(bk_error_name(err), "ServerRefused");
	ck_assert_str_eq(str_at(data, "target"), target);
	return cJSON_GetObjectItem(data, "numeric")->valueint;
}

START_TEST(irc_refused_commands_fail_with_the_numeric)
{
	struct env e;
	struct test_irc_user u, v;
	const char *name;
	uint64_t t0;

	env_start(&e, false, FAST);
	wait_connected(&e);
	user_start(&e, &u, "alice", "#alice");
	user_start(&e, &v, "carol", "#side");
	ck_assert_int_eq(test_irc_user_send(&u, "MODE #alice +t"), 0);
	ck_assert_int_eq(test_irc_user_expect(&u, "MODE #alice \\+t", WAIT_MS, NULL), 0);

	/* #alice is alice's: the bot is no operator there */
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "join", "s", "#alice"), 0);
	t0 = test_now_ms();
	ck_assert_int_lt(irc_call(&e, NULL, &name, "mode", "sss", "#alice", "+o", "bot"), 0);
	ck_assert_int_eq(refused_numeric(&e, "#alice"), 482);
	ck_assert_uint_lt(test_now_ms() - t0, 2000);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "topic", "ss", "#alice", "mine now"), 0);
	ck_assert_int_eq(refused_numeric(&e, "#alice"), 482);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "kick", "ss", "#alice", "alice"), 0);
	ck_assert_int_eq(refused_numeric(&e, "#alice"), 482);

	/* #own is the bot's: allowed, except about someone not there */
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "join", "s", "#own"), 0);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "kick", "ss", "#own", "alice"), 0);
	ck_assert_int_eq(refused_numeric(&e, "#own"), 441);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "mode", "sss", "#own", "+o", "nobody"), 0);
	ck_assert_int_eq(refused_numeric(&e, "#own"), 401);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "mode", "sss", "#own", "+v", "bot"), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "mode", "ss", "#own", "+t"), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "topic", "ss", "#own", "the bot's"), 0);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "invite", "ss", "carol", "#own"), 0);
	ck_assert_int_eq(test_irc_user_expect(&v, "INVITE carol :?#own", WAIT_MS, NULL), 0);

	/* #side: the bot is not in it */
	ck_assert_int_lt(irc_call(&e, NULL, &name, "invite", "ss", "alice", "#side"), 0);
	ck_assert_int_eq(refused_numeric(&e, "#side"), 442);
	ck_assert_int_lt(irc_call(&e, NULL, &name, "part", "s", "#side"), 0);
	ck_assert_int_eq(refused_numeric(&e, "#side"), 442);
	ck_assert_int_eq(irc_call(&e, NULL, NULL, "part", "s", "#own"), 0);

	test_irc_user_close(&u);
	test_irc_user_close(&v);
	env_stop(&e);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------------ */

/* Add a test case of one or two tests; tags NULL or e.g. "slow" (make check-slow). */
static void irc_case(Suite *s, const char *name, const TTest *t1, const TTest *t2, const char *tags)
{
	TCase *t = tcase_create(name);

	tcase_set_timeout(t, 120);
	if (tags)
		tcase_set_tags(t, tags);
	tcase_add_test(t, t1);
	if (t2)
		tcase_add_test(t, t2);
	suite_add_tcase(s, t);
}

static Suite *irc_suite(void)
{
	Suite *s = suite_create("irc");

	irc_case(s, "messages", irc_message_reply_in_channel_and_private, irc_private_stays_private_after_prefix_renames, NULL);
	irc_case(s, "events", irc_every_event_type, NULL, NULL);
	irc_case(s, "injection", irc_injection_is_refused_or_literal, NULL, NULL);
	irc_case(s, "text", irc_long_text_arrives_complete, NULL, NULL);
	irc_case(s, "queue", irc_full_queue_and_no_connection_fail, NULL, NULL);
	irc_case(s, "reconnect", irc_reconnect_rejoins_and_delivers_queued_lines, NULL, NULL);
	irc_case(s, "descriptors", irc_reconnect_with_over_1024_descriptors_open, NULL, NULL);
	irc_case(s, "presence", irc_nick_regained_and_refused_join_retried, irc_reconfigure_on_sighup, "slow");
	irc_case(s, "queries", irc_whois_names_topic_and_keyed_join, NULL, NULL);
	irc_case(s, "refusals", irc_refused_commands_fail_with_the_numeric, NULL, NULL);
	irc_case(s, "pacing", irc_burst_of_50_paced_without_disconnect, NULL, "slow");
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(irc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
