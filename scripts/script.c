/* A script's connection, its context (host.context() or the BOTKIT_*
 * environment) and its answers. See script.h. */
#include "config.h"

#include "script.h"

#include <botkit-irc.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX 32

struct script {
	char *name;		/* for messages on stderr */
	bk_conn *conn;
	cJSON *context;		/* what host.context() answered, or NULL */
	const char **words;	/* the words after the command */
	unsigned nwords;
	char *words_buf;	/* holds the words split from $BOTKIT_ARGS */
	bool failed;
};

/* Append a word to the list; -ENOMEM when out of memory. */
static int script_add_word(struct script *sc, const char *w)
{
	const char **n = realloc(sc->words, (sc->nwords + 1) * sizeof *n);

	if (!n)
		return -ENOMEM;
	sc->words = n;
	sc->words[sc->nwords++] = w;
	return 0;
}

/* The words: the context's "args", else $BOTKIT_ARGS split on blanks, else
 * the command line. */
static int script_load_words(struct script *sc, int argc, char **argv)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(sc->context, "args");
	const char *text = getenv("BOTKIT_ARGS");
	const cJSON *a;
	char *save = NULL;
	int r = 0;

	if (cJSON_IsArray(args)) {
		cJSON_ArrayForEach(a, args)
			if (cJSON_IsString(a) && (r = script_add_word(sc, a->valuestring)) < 0)
				return r;
		return 0;
	}
	if (!text) {
		/* bothost puts "--" before a user's words: never an option. */
		int first = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;
		for (int i = first; i < argc && r == 0; i++)
			r = script_add_word(sc, argv[i]);
		return r;
	}
	if (!(sc->words_buf = strdup(text)))
		return -ENOMEM;
	for (char *w = strtok_r(sc->words_buf, " \t", &save); w && r == 0; w = strtok_r(NULL, " \t", &save))
		r = script_add_word(sc, w);
	return r;
}

/* Ask the host for this run's context; a host that did not spawn us answers
 * null, and one without the method NoSuchMethod: both leave it NULL. */
static int script_load_context(struct script *sc)
{
	cJSON *ctx = NULL;
	int r = bk_call_sync(sc->conn, "host", "context", &ctx, "");

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (cJSON_IsObject(ctx))
		sc->context = ctx;
	else
		bk_json_delete(ctx);
	return 0;
}

/* Free everything without dispatching. */
static void script_free(struct script *sc)
{
	if (!sc)
		return;
	bk_json_delete(sc->context);
	bk_conn_unref(sc->conn);
	free(sc->words);
	free(sc->words_buf);
	free(sc->name);
	free(sc);
}

/* Connect, load the context and the words. */
int script_open(struct script **ret, const char *name, int argc, char **argv)
{
	struct script *sc = calloc(1, sizeof *sc);
	int r = -ENOMEM;

	if (!sc || !(sc->name = strdup(name)))
		goto fail;
	if ((r = bk_conn_new(&sc->conn, name)) < 0) {
		fprintf(stderr, "%s: cannot connect to bothost: %s\n", name, strerror(-r));
		goto fail;
	}
	if ((r = script_load_context(sc)) < 0) {
		fprintf(stderr, "%s: host.context() failed: %s\n", name, strerror(-r));
		goto fail;
	}
	if ((r = script_load_words(sc, argc, argv)) < 0)
		goto fail;
	*ret = sc;
	return 0;
fail:
	script_free(sc);
	return r;
}

/* The connection. */
bk_conn *script_get_conn(const struct script *sc)
{
	return sc->conn;
}

/* The environment variable standing for a context field: BOTKIT_ARGS for
 * "text", else BOTKIT_ and the field in capitals. */
static const char *script_env(const char *field)
{
	char var[FIELD_MAX + 8] = "BOTKIT_";
	size_t n = strlen(var);

	if (strcmp(field, "text") == 0)
		field = "args";
	for (const char *p = field; *p && n < sizeof var - 1; p++)
		var[n++] = (char)toupper((unsigned char)*p);
	var[n] = '\0';
	return getenv(var);
}

/* A string field of the context, or of the environment without one. */
const char *script_get(const struct script *sc, const char *field)
{
	const char *v;

	if (sc->context)
		return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sc->context, field));
	v = script_env(field);
	return v && *v ? v : NULL;
}

/* The number of words. */
unsigned script_argc(const struct script *sc)
{
	return sc->nwords;
}

/* Word i, or NULL. */
const char *script_arg(const struct script *sc, unsigned i)
{
	return i < sc->nwords ? sc->words[i] : NULL;
}

/* Completion of an answer: a failure makes the run fail. */
static void script_reply_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct script *sc = userdata;

	if (err)
		script_fail(sc, "answer failed: %s: %s", bk_error_name(err), bk_error_message(err));
}

/* Answer through the context's reply function, else irc.say to the target. */
int script_reply(struct script *sc, const char *text)
{
	bk_fn *reply = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(sc->context, "reply"));
	const char *target = script_get(sc, "target");
	int r;

	if (reply)
		r = bk_fn_call(reply, script_reply_cb, sc, "s", text);
	else if (target)
		r = bk_irc_say_async(sc->conn, target, text, script_reply_cb, sc);
	else
		r = -EDESTADDRREQ;
	if (r < 0)
		script_fail(sc, "cannot answer: %s", strerror(-r));
	return r;
}

/* Answer with formatted text. */
int script_replyf(struct script *sc, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0) {
		script_fail(sc, "out of memory");
		return -ENOMEM;
	}
	r = script_reply(sc, text);
	free(text);
	return r;
}

/* Record a failure and print it. */
void script_fail(struct script *sc, const char *fmt, ...)
{
	va_list ap;

	sc->failed = true;
	fprintf(stderr, "%s: ", sc->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Dispatch until idle, then close; 0 or 1 as the exit status. */
int script_finish(struct script *sc)
{
	int r = bk_run(sc->conn);
	int status;

	if (r < 0)
		script_fail(sc, "lost the connection to bothost: %s", strerror(-r));
	status = sc->failed ? 1 : 0;
	script_free(sc);
	return status;
}

/* "1d 2h", "2h 5m", "5m 3s" or "42s". */
char *script_duration(char *buf, size_t size, int64_t seconds)
{
	static const struct { const char *unit; int64_t secs; } units[] = {
		{ "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 },
	};
	size_t i = 0;

	if (seconds < 0)
		seconds = 0;
	while (i < 3 && seconds < units[i].secs)
		i++;
	if (i == 3 || seconds % units[i].secs / units[i + 1].secs == 0)
		snprintf(buf, size, "%lld%s", (long long)(seconds / units[i].secs), units[i].unit);
	else
		snprintf(buf, size, "%lld%s %lld%s", (long long)(seconds / units[i].secs), units[i].unit,
			 (long long)(seconds % units[i].secs / units[i + 1].secs), units[i + 1].unit);
	return buf;
}
