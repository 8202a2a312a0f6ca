/* SPDX-License-Identifier: ISC */
/* One run of a command or timer: its connection, its context
 * (host.context() or the BOTKIT_* environment) and its answers. See
 * botkit-command.h. */
#include "botkit-internal.h"
#include "botkit-command.h"
#include "botkit-irc.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX 32

struct bk_command {
	char *name;		/* for messages on stderr */
	bk_conn *conn;
	cJSON *context;		/* what host.context() answered, or NULL */
	const char **words;	/* the words after the command */
	unsigned nwords;
	char *words_buf;	/* holds the words split from $BOTKIT_ARGS */
	bool failed;
};

/* Append a word to the list; -ENOMEM when out of memory. */
static int command_add_word(bk_command *cmd, const char *w)
{
	const char **n = realloc(cmd->words, (cmd->nwords + 1) * sizeof *n);

	if (!n)
		return -ENOMEM;
	cmd->words = n;
	cmd->words[cmd->nwords++] = w;
	return 0;
}

/* The words: the context's "args", else $BOTKIT_ARGS split on blanks, else
 * the command line. */
static int command_load_words(bk_command *cmd, int argc, char **argv)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd->context, "args");
	const char *text = getenv("BOTKIT_ARGS");
	const cJSON *a;
	char *save = NULL;
	int r = 0;

	if (cJSON_IsArray(args)) {
		cJSON_ArrayForEach(a, args)
			if (cJSON_IsString(a) && (r = command_add_word(cmd, a->valuestring)) < 0)
				return r;
		return 0;
	}
	if (!text) {
		/* bothost puts "--" before a user's words: never an option. */
		int first = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;
		for (int i = first; i < argc && r == 0; i++)
			r = command_add_word(cmd, argv[i]);
		return r;
	}
	if (!(cmd->words_buf = strdup(text)))
		return -ENOMEM;
	for (char *w = strtok_r(cmd->words_buf, " \t", &save); w && r == 0; w = strtok_r(NULL, " \t", &save))
		r = command_add_word(cmd, w);
	return r;
}

/* Ask the host for this run's context; a host that did not spawn us answers
 * null, and one without the method NoSuchMethod: both leave it NULL. A
 * process the host prestarted ($BOTKIT_PRESTARTED=1) waits in bot.park()
 * until a command is handed to it, and gets its context there. */
static int command_load_context(bk_command *cmd)
{
	const char *parked = getenv("BOTKIT_PRESTARTED");
	bool park = parked && strcmp(parked, "1") == 0;
	uint64_t timeout = cmd->conn->timeout;
	cJSON *ctx = NULL;
	int r;

	/* Parked, it waits as long as the host keeps it. */
	if (park)
		cmd->conn->timeout = 0;
	r = bk_call_sync(cmd->conn, park ? "bot" : "host", park ? "park" : "context", &ctx, "");
	cmd->conn->timeout = timeout;

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (cJSON_IsObject(ctx))
		cmd->context = ctx;
	else
		bk_json_delete(ctx);
	return 0;
}

/* Free everything without dispatching. */
static void command_free(bk_command *cmd)
{
	if (!cmd)
		return;
	bk_json_delete(cmd->context);
	bk_conn_unref(cmd->conn);
	free(cmd->words);
	free(cmd->words_buf);
	free(cmd->name);
	free(cmd);
}

/* Connect, load the context and the words. */
int bk_command_open(bk_command **ret, const char *name, int argc, char **argv)
{
	bk_command *cmd;
	int r = -ENOMEM;

	if (!ret || !name)
		return -EINVAL;
	if (!(cmd = calloc(1, sizeof *cmd)) || !(cmd->name = strdup(name)))
		goto fail;
	if ((r = bk_conn_new(&cmd->conn, name)) < 0) {
		fprintf(stderr, "%s: cannot connect to bothost: %s\n", name, strerror(-r));
		goto fail;
	}
	if ((r = command_load_context(cmd)) < 0) {
		fprintf(stderr, "%s: host.context() failed: %s\n", name, strerror(-r));
		goto fail;
	}
	if ((r = command_load_words(cmd, argc, argv)) < 0)
		goto fail;
	*ret = cmd;
	return 0;
fail:
	command_free(cmd);
	return r;
}

/* The connection. */
bk_conn *bk_command_get_conn(const bk_command *cmd)
{
	return cmd ? cmd->conn : NULL;
}

/* The environment variable standing for a context field: BOTKIT_ARGS for
 * "text", else BOTKIT_ and the field in capitals. */
static const char *command_env(const char *field)
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
const char *bk_command_get(const bk_command *cmd, const char *field)
{
	const char *v;

	if (!cmd || !field)
		return NULL;
	if (cmd->context)
		return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cmd->context, field));
	v = command_env(field);
	return v && *v ? v : NULL;
}

/* The number of words. */
unsigned bk_command_argc(const bk_command *cmd)
{
	return cmd ? cmd->nwords : 0;
}

/* Word i, or NULL. */
const char *bk_command_arg(const bk_command *cmd, unsigned i)
{
	return cmd && i < cmd->nwords ? cmd->words[i] : NULL;
}

/* Completion of an answer: a failure makes the run fail. */
static void command_reply_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	bk_command *cmd = userdata;

	if (err)
		bk_command_fail(cmd, "answer failed: %s: %s", bk_error_name(err), bk_error_message(err));
}

/* Answer through the context's reply function, else irc.say to the target. */
int bk_command_reply(bk_command *cmd, const char *text)
{
	bk_fn *reply = cmd ? bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(cmd->context, "reply")) : NULL;
	const char *target = bk_command_get(cmd, "target");
	int r;

	if (!cmd || !text)
		return -EINVAL;
	if (reply)
		r = bk_fn_call(reply, command_reply_cb, cmd, "s", text);
	else if (target)
		r = bk_irc_say_async(cmd->conn, target, text, command_reply_cb, cmd);
	else
		r = -EDESTADDRREQ;
	if (r < 0)
		bk_command_fail(cmd, "cannot answer: %s", strerror(-r));
	return r;
}

/* Answer with formatted text. */
int bk_command_replyf(bk_command *cmd, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int r;

	if (!cmd || !fmt)
		return -EINVAL;
	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0) {
		bk_command_fail(cmd, "out of memory");
		return -ENOMEM;
	}
	r = bk_command_reply(cmd, text);
	free(text);
	return r;
}

/* Record a failure and print it. */
void bk_command_fail(bk_command *cmd, const char *fmt, ...)
{
	va_list ap;

	if (!cmd || !fmt)
		return;
	cmd->failed = true;
	fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Dispatch until idle, then close; 0 or 1 as the exit status. */
int bk_command_finish(bk_command *cmd)
{
	int r, status;

	if (!cmd)
		return 1;
	r = bk_run(cmd->conn);
	if (r < 0)
		bk_command_fail(cmd, "lost the connection to bothost: %s", strerror(-r));
	status = cmd->failed ? 1 : 0;
	command_free(cmd);
	return status;
}
