/* SPDX-License-Identifier: ISC */
/* Commands typed on IRC. */
#include "config.h"

#include "commands.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "behaviour.h"
#include "core/call.h"
#include "core/client.h"
#include "core/clock.h"
#include "behaviour_conf.h"
#include "core/emitter.h"
#include "core/fn.h"
#include "core/list.h"
#include "irc/irc.h"
#include "core/log.h"
#include "core/object.h"
#include "owners.h"
#include "ratelimit.h"
#include "core/server.h"
#include "core/value.h"
#include "spawn.h"

/* How often one kind of notice (unknown command, refusal) goes to a user. */
#define COMMANDS_NOTICE_MS 60000
/* The most characters of a command's name (longer words are not commands). */
#define COMMANDS_WORD_MAX 32
/* The event a client registers to claim a word: "command:WORD". */
#define COMMANDS_EVENT "command:"
#define COMMANDS_EVENT_MAX (sizeof COMMANDS_EVENT + COMMANDS_WORD_MAX)
/* The characters of a command's name. */
#define COMMANDS_WORD_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

/* A command process started for a user, while it may be running. */
struct commands_proc {
	struct list link;	/* in commands.procs */
	char *behaviour;	/* its section's name */
	pid_t pid;
	char *who, *account;	/* the user's keys (account NULL: none) */
};

/* Who claimed a word at run time (bot.on("command:WORD")); the claim holds
 * while the emitter has a registration for its event, so an entry whose
 * registrations are gone is stale and forgotten when next seen. */
struct commands_claim {
	struct list link;	/* in commands.claims */
	char word[COMMANDS_WORD_MAX + 1];	/* lower case */
	uint64_t client;	/* the claiming client's id */
	char *behaviour;	/* its behaviour's name, or NULL */
};

struct commands {
	char *prefix;		/* NULL until configured */
	char **owners;
	size_t n_owners;
	struct ratelimit *rl;
	unsigned ignore_ms;	/* user_ignore */
	unsigned user_processes;	/* user_processes */
	struct list procs;	/* struct commands_proc */
	struct fn *hook;	/* registered on the irc object's `message` */
	struct emitter *em;	/* where "command:WORD" goes (the bot object's), or NULL */
	struct list claims;	/* struct commands_claim */
};

/* A message that gives a command, as the `message` event describes it. */
struct command_msg {
	struct owners_person from;
	const char *text;
	const char *channel;	/* NULL: private */
	bool private;
	const char *target;	/* where replies go: the channel, or the sender */
	struct fn *reply;	/* borrowed from the event */
	const struct value *event;	/* the event's arguments: [event] */
	char *hostmask;
	char *who;		/* the rate limit's key: "host:HOST" (the nick when there is no host) */
	char *account;		/* "account:NAME" when the account is known, a second key; else NULL */
	char word[COMMANDS_WORD_MAX + 1];	/* the command's name as typed */
	const char *rest;	/* the text after it, leading blanks skipped */
};

/* The built-in commands. */
enum commands_builtin {
	COMMANDS_NONE,
	COMMANDS_HELP,
	COMMANDS_RELOAD,
	COMMANDS_RESTART,
	COMMANDS_STATUS,
};

static struct commands commands_state;

static enum commands_builtin commands_builtin_of(const char *word);

/* ---- replies ----------------------------------------------------------------------- */


/* ms as "5m", "90s" or "250ms": the largest unit that divides it. */
static const char *commands_duration(unsigned ms, char *buf, size_t size)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, size, "%uh", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, size, "%um", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%us", ms / 1000);
	else
		snprintf(buf, size, "%ums", ms);
	return buf;
}

/* Send text (formatted) through a reply function. */
__attribute__((format(printf, 2, 0)))
static void commands_vreply(struct fn *reply, const char *fmt, va_list ap)
{
	cJSON *args = cJSON_CreateArray();
	struct value *v;
	char *text = NULL;
	int n = vasprintf(&text, fmt, ap);

	if (n < 0 || !args || !cJSON_AddItemToArray(args, cJSON_CreateString(text)) || !(v = value_new(args))) {
		if (n >= 0)
			free(text);
		cJSON_Delete(args);
		log_warn("commands: out of memory: a reply is lost");
		return;
	}
	free(text);
	if (fn_invoke(reply, v, NULL, NULL) < 0)
		log_warn("commands: out of memory: a reply is lost");
}

/* Send text (formatted) through a reply function. */
__attribute__((format(printf, 2, 3)))
static void commands_reply(struct fn *reply, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	commands_vreply(reply, fmt, ap);
	va_end(ap);
}

/* Reply to m with the bot's own notice (a refusal), at most once per notice
 * interval for this kind and user, queued after every answer waiting. */
__attribute__((format(printf, 3, 4)))
static void commands_notice(const struct command_msg *m, enum ratelimit_notice what, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	int n, r;

	if (!ratelimit_notice(commands_state.rl, m->who, what, clock_now_ms()))
		return;
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		log_warn("commands: out of memory: a notice is lost");
		return;
	}
	r = irc_reply_notice(m->reply, text);
	if (r < 0)
		log_warn("commands: a notice to %s is lost: %s", m->from.nick, strerror(-r));
	free(text);
}

/* Whether the sender of m is an owner. */
static bool commands_is_owner(const struct command_msg *m)
{
	return owners_match(commands_state.owners, commands_state.n_owners, irc_get_casemapping(), &m->from);
}

/* ---- reading the message ----------------------------------------------------------- */

/* A string field of o, or NULL. */
static const char *commands_str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Whether c is a blank between words. */
static bool commands_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Find the command's name after the prefix: a letter or digit, then letters,
 * digits, '-', '_' or '.', up to a blank or the end. false when the text
 * is not a command. */
static bool commands_msg_word(struct command_msg *m)
{
	size_t plen = strlen(commands_state.prefix), n;
	const char *p = m->text + plen;

	if (strncmp(m->text, commands_state.prefix, plen) != 0)
		return false;
	n = strspn(p, COMMANDS_WORD_CHARS);
	if (n == 0 || n > COMMANDS_WORD_MAX || (p[n] && !commands_blank(p[n])) || strchr("-_.", p[0]))
		return false;
	memcpy(m->word, p, n);
	m->word[n] = '\0';
	for (m->rest = p + n; commands_blank(*m->rest); m->rest++)
		;
	return true;
}

/* Read a `message` event (ev, of the value args); false when it is not a
 * command (or memory ran out). */
static bool commands_msg_parse(struct command_msg *m, const struct value *args, const cJSON *ev)
{
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(ev, "from");

	memset(m, 0, sizeof *m);
	m->text = commands_str(ev, "text");
	m->reply = value_get_fn(args, cJSON_GetObjectItemCaseSensitive(ev, "reply"));
	m->event = args;
	m->from = (struct owners_person){ commands_str(from, "nick"), commands_str(from, "user"),
					  commands_str(from, "host"), commands_str(from, "account") };
	if (!m->text || !m->reply || !m->from.nick || !commands_msg_word(m))
		return false;
	m->channel = commands_str(ev, "channel");
	m->private = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "private"));
	m->target = m->channel ? m->channel : m->from.nick;
	m->hostmask = owners_hostmask(&m->from);
	if (!m->hostmask || asprintf(&m->who, "host:%s", m->from.host ? m->from.host : m->from.nick) < 0) {
		m->who = NULL;
		return false;
	}
	if (m->from.account && asprintf(&m->account, "account:%s", m->from.account) < 0) {
		m->account = NULL;
		return false;
	}
	return true;
}

/* Free what parsing allocated. */
static void commands_msg_clear(struct command_msg *m)
{
	free(m->hostmask);
	free(m->who);
	free(m->account);
}

/* Split text into words at blanks: a new array of new strings (*ret_n of
 * them), or NULL when memory ran out. */
static char **commands_split(const char *text, size_t *ret_n)
{
	size_t n = 0, cap = 1 + strlen(text) / 2 + 1;
	char **words = calloc(cap, sizeof *words);

	while (words && *text) {
		size_t len = strcspn(text, " \t");
		if (len && !(words[n++] = strndup(text, len))) {
			for (size_t i = 0; i + 1 < n; i++)
				free(words[i]);
			free(words);
			return NULL;
		}
		text += len;
		text += strspn(text, " \t");
	}
	*ret_n = n;
	return words;
}

/* Free an array from commands_split. */
static void commands_words_free(char **words, size_t n)
{
	for (size_t i = 0; words && i < n; i++)
		free(words[i]);
	free(words);
}

/* ---- running a command's behaviour ------------------------------------------------------- */

/* Add a string, or null, to o; false on failure. */
static bool commands_add_str(cJSON *o, const char *key, const char *s)
{
	return (s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key)) != NULL;
}

/* The context of a command's process: what m says, and its reply function. */
static struct value *commands_context(const struct behaviour *b, const struct command_msg *m, char *const *words,
				      size_t n)
{
	struct value *ctx = behaviour_context_new(b);
	cJSON *o = ctx ? value_root(ctx) : NULL;
	cJSON *args = o ? cJSON_AddArrayToObject(o, "args") : NULL;
	cJSON *reply;
	bool ok = args && cJSON_AddStringToObject(o, "command", m->word) && cJSON_AddStringToObject(o, "text", m->rest) &&
		  commands_add_str(o, "channel", m->channel) && cJSON_AddBoolToObject(o, "private", m->private) &&
		  cJSON_AddStringToObject(o, "target", m->target) && cJSON_AddStringToObject(o, "nick", m->from.nick) &&
		  commands_add_str(o, "user", m->from.user) && commands_add_str(o, "host", m->from.host) &&
		  cJSON_AddStringToObject(o, "hostmask", m->hostmask) &&
		  commands_add_str(o, "account", m->from.account) && (reply = value_add_fn(ctx, m->reply));

	if (ok)
		cJSON_AddItemToObject(o, "reply", reply);
	for (size_t i = 0; ok && i < n; i++)
		ok = cJSON_AddItemToArray(args, cJSON_CreateString(words[i]));
	if (!ok) {
		value_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- processes per user --------------------------------------------------------- */

/* Forget one record. */
static void commands_proc_free(struct commands_proc *p)
{
	list_remove(&p->link);
	free(p->behaviour);
	free(p->who);
	free(p->account);
	free(p);
}

/* Whether the process of p is still running (its behaviour lists it). */
static bool commands_proc_running(const struct commands_proc *p)
{
	const struct behaviour *b = behaviours_find(p->behaviour);
	cJSON *d = b && behaviour_running(b) ? behaviour_describe(b) : NULL;
	const cJSON *pid;
	bool running = false;

	cJSON_ArrayForEach(pid, cJSON_GetObjectItemCaseSensitive(d, "running"))
		if (cJSON_IsNumber(pid) && (pid_t)pid->valuedouble == p->pid)
			running = true;
	cJSON_Delete(d);
	return running;
}

/* The command processes of the user of m running now (records of the
 * others are forgotten). */
static unsigned commands_user_processes(const struct command_msg *m)
{
	unsigned n = 0;

	for (struct list *l = commands_state.procs.next, *next; l != &commands_state.procs; l = next) {
		struct commands_proc *p = list_entry(l, struct commands_proc, link);
		next = l->next;
		if (!commands_proc_running(p))
			commands_proc_free(p);
		else if (strcmp(p->who, m->who) == 0 || (m->account && p->account && strcmp(p->account, m->account) == 0))
			n++;
	}
	return n;
}

/* Remember that pid of behaviour name runs for the user of m. */
static void commands_proc_add(const struct command_msg *m, const char *name, pid_t pid)
{
	struct commands_proc *p = calloc(1, sizeof *p);

	if (!p || !(p->behaviour = strdup(name)) || !(p->who = strdup(m->who)) ||
	    (m->account && !(p->account = strdup(m->account)))) {
		if (p) {
			free(p->behaviour);
			free(p->who);
		}
		free(p);
		log_warn("commands: out of memory: process %ld is not counted for %s", (long)pid, m->hostmask);
		return;
	}
	p->pid = pid;
	list_add_tail(&commands_state.procs, &p->link);
}

/* Start b for m, or say why not. */
static void commands_run(struct behaviour *b, const struct command_msg *m)
{
	const char *name = behaviour_conf(b)->name;
	size_t n = 0;
	char **words;
	struct value *ctx;
	pid_t pid = 0;
	int r;

	if (commands_user_processes(m) >= commands_state.user_processes) {
		log_info("command %s from %s: refused: %u of the user's commands are running", name, m->hostmask,
			 commands_state.user_processes);
		commands_notice(m, RATELIMIT_NOTICE_REFUSED, "%s: your commands are still running, try again shortly",
				m->from.nick);
		return;
	}
	words = commands_split(m->rest, &n);
	ctx = words ? commands_context(b, m, words, n) : NULL;
	r = ctx ? behaviour_run(b, ctx, words, n, &pid) : -ENOMEM;
	commands_words_free(words, n);
	switch (r) {
	case 0:
		log_info("command %s from %s%s%s: pid %ld", name, m->hostmask, m->channel ? " in " : " (private)",
			 m->channel ? m->channel : "", (long)pid);
		commands_proc_add(m, name, pid);
		break;
	case -EBUSY:
		log_info("command %s from %s: refused: max_running reached", name, m->hostmask);
		commands_notice(m, RATELIMIT_NOTICE_REFUSED, "%s: %s is busy, try again shortly", m->from.nick, m->word);
		break;
	case -EAGAIN:
		log_info("command %s from %s: refused: max_processes reached", name, m->hostmask);
		commands_notice(m, RATELIMIT_NOTICE_REFUSED, "%s: too many behaviours are running, try again shortly",
				m->from.nick);
		break;
	default:
		log_warn("command %s from %s: not started: %s", name, m->hostmask, strerror(-r));
		commands_reply(m->reply, "%s could not be started", m->word);
		break;
	}
}

/* A configured command: check who may run it where, then run it. */
static void commands_configured(const struct command_msg *m)
{
	struct behaviour *b = behaviours_find(m->word);
	const struct conf_behaviour *c = b ? behaviour_conf(b) : NULL;

	if (!c || c->kind != CONF_BEHAVIOUR_COMMAND) {
		commands_notice(m, RATELIMIT_NOTICE_UNKNOWN, "unknown command: %s (try %shelp)", m->word,
				commands_state.prefix);
		return;
	}
	if (m->private && !c->private_ok) {
		commands_notice(m, RATELIMIT_NOTICE_REFUSED, "%s works only in a channel", m->word);
		return;
	}
	if (c->owner_only && !commands_is_owner(m)) {
		log_info("command %s from %s: refused: owners only", m->word, m->hostmask);
		commands_notice(m, RATELIMIT_NOTICE_REFUSED, "only owners may use %s", m->word);
		return;
	}
	commands_run(b, m);
}

/* The section of the resident that claims the command word, or NULL. */
static const struct conf_behaviour *commands_claimer(const char *word)
{
	for (const struct behaviour *b = behaviours_next(NULL); b; b = behaviours_next(b))
		if (conf_behaviour_claims(behaviour_conf(b), word))
			return behaviour_conf(b);
	return NULL;
}

/* ---- words claimed by clients ------------------------------------------------------- */

/* The prefix, also before commands_configure. */
static const char *commands_prefix(void)
{
	return commands_state.prefix ? commands_state.prefix : "!";
}

/* Write "command:WORD" with word in lower case into buf (COMMANDS_EVENT_MAX). */
static void commands_event_name(const char *word, char *buf)
{
	size_t n = strlen(COMMANDS_EVENT);

	memcpy(buf, COMMANDS_EVENT, n);
	for (size_t i = 0; word[i] && i < COMMANDS_WORD_MAX; i++)
		buf[n++] = (char)(word[i] >= 'A' && word[i] <= 'Z' ? word[i] - 'A' + 'a' : word[i]);
	buf[n] = '\0';
}

/* Forget a claim. */
static void commands_claim_free(struct commands_claim *cl)
{
	list_remove(&cl->link);
	free(cl->behaviour);
	free(cl);
}

/* The live claim of word (any case), or NULL; stale claims met on the way
 * (no registration left) are forgotten. */
static struct commands_claim *commands_claim_find(const char *word)
{
	struct commands_claim *found = NULL;
	char event[COMMANDS_EVENT_MAX];

	for (struct list *l = commands_state.claims.next, *next; l && l != &commands_state.claims; l = next) {
		struct commands_claim *cl = list_entry(l, struct commands_claim, link);
		next = l->next;
		commands_event_name(cl->word, event);
		if (!commands_state.em || !emitter_listened(commands_state.em, event))
			commands_claim_free(cl);
		else if (strcasecmp(cl->word, word) == 0)
			found = cl;
	}
	return found;
}

/* Whether word may be claimed: a command's name, in lower case. */
static bool commands_word_ok(const char *word)
{
	size_t n = strspn(word, "abcdefghijklmnopqrstuvwxyz0123456789-_.");

	return n > 0 && n <= COMMANDS_WORD_MAX && !word[n] && !strchr("-_.", word[0]);
}

/* Why client c (of the behaviour name, or NULL) may not claim word: an
 * allocated message (NULL: it may; *ret_err the code). */
static char *commands_claim_refusal(const char *word, const struct client *c, const char *name, int *ret_err)
{
	const char *p = commands_prefix();
	const struct behaviour *b = behaviours_find(word);
	const struct conf_behaviour *owner = commands_claimer(word);
	const struct commands_claim *cl = commands_claim_find(word);
	char *why = NULL;
	int n = 0;

	*ret_err = -EEXIST;
	if (!commands_word_ok(word)) {
		*ret_err = -EINVAL;
		n = asprintf(&why, "'%s' is no command word: 1 to %d lower-case letters, digits, '-', '_' or '.', "
			     "beginning with a letter or digit", word, COMMANDS_WORD_MAX);
	} else if (commands_builtin_of(word) != COMMANDS_NONE)
		n = asprintf(&why, "%s%s is a built-in command", p, word);
	else if (b && behaviour_conf(b)->kind == CONF_BEHAVIOUR_COMMAND)
		n = asprintf(&why, "%s%s is the command of the section [command %s]", p, word, behaviour_conf(b)->name);
	else if (owner && (!name || strcasecmp(owner->name, name) != 0))
		n = asprintf(&why, "%s%s is claimed by the `commands` of [resident %s]", p, word, owner->name);
	else if (cl && cl->client != client_get_id(c))
		n = asprintf(&why, "%s%s is claimed by client %llu%s%s", p, word, (unsigned long long)cl->client,
			     cl->behaviour ? " of behaviour " : "", cl->behaviour ? cl->behaviour : "");
	else
		*ret_err = 0;
	if (n < 0) {
		why = NULL;
		*ret_err = -ENOMEM;
	}
	return why;
}

/* Claim word for client c: register fn for "command:WORD". */
int commands_claim_add(const char *word, struct fn *fn, bool once, struct client *c, char **ret_error)
{
	const struct value *ctx = spawn_client_context(c);
	const char *name = ctx ? commands_str(value_json(ctx), "name") : NULL;
	struct commands_claim *cl = NULL;
	char event[COMMANDS_EVENT_MAX];
	int r;

	*ret_error = NULL;
	if (!commands_state.em || !commands_state.claims.next)
		return -ENOMEM;
	if ((*ret_error = commands_claim_refusal(word, c, name, &r)) || r < 0)
		return r;
	if (!commands_claim_find(word)) {
		cl = calloc(1, sizeof *cl);
		if (!cl || (name && !(cl->behaviour = strdup(name)))) {
			free(cl);
			return -ENOMEM;
		}
		snprintf(cl->word, sizeof cl->word, "%s", word);
		cl->client = client_get_id(c);
	}
	commands_event_name(word, event);
	r = emitter_add(commands_state.em, event, fn, once, c);
	if (r < 0 && cl) {
		free(cl->behaviour);
		free(cl);
	} else if (cl) {
		list_add_tail(&commands_state.claims, &cl->link);
		log_info("command %s%s claimed by client %llu%s%s", commands_prefix(), word, (unsigned long long)cl->client,
			 name ? " of behaviour " : "", name ? name : "");
	}
	return r;
}

/* Send "command:WORD" for m to the clients that claim it: the message event
 * with "command" (the word as typed), "prefix", "rest" and "args" added. */
static void commands_emit(const struct command_msg *m, const struct commands_claim *cl)
{
	struct value *v = value_dup(m->event);
	cJSON *ev = v ? cJSON_GetArrayItem(value_root(v), 0) : NULL;
	cJSON *args = cJSON_IsObject(ev) ? cJSON_AddArrayToObject(ev, "args") : NULL;
	char event[COMMANDS_EVENT_MAX];
	size_t n = 0;
	char **words = commands_split(m->rest, &n);
	bool ok = args && words && cJSON_AddStringToObject(ev, "command", m->word) &&
		  cJSON_AddStringToObject(ev, "prefix", commands_prefix()) && cJSON_AddStringToObject(ev, "rest", m->rest);

	for (size_t i = 0; ok && i < n; i++)
		ok = cJSON_AddItemToArray(args, cJSON_CreateString(words[i]));
	commands_words_free(words, n);
	if (!ok) {
		log_warn("command %s from %s: out of memory: it is lost", m->word, m->hostmask);
		value_free(v);
		return;
	}
	commands_event_name(cl->word, event);
	log_debug("command %s from %s: sent to client %llu", m->word, m->hostmask, (unsigned long long)cl->client);
	emitter_emit(commands_state.em, event, v);
	value_free(v);
}

/* Set the emitter of "command:WORD". */
void commands_set_emitter(struct emitter *em)
{
	commands_state.em = em;
	if (!commands_state.claims.next)
		list_init(&commands_state.claims);
	while (!em && !list_empty(&commands_state.claims))
		commands_claim_free(list_entry(commands_state.claims.next, struct commands_claim, link));
}

/* ---- built-in commands ---------------------------------------------------------------- */

/* Append ", !word" (or "!word" first) to the stream. */
static void commands_help_word(FILE *f, const char *word, bool *first)
{
	fprintf(f, "%s%s%s", *first ? "" : ", ", commands_state.prefix, word);
	*first = false;
}

/* Append "!name" to the stream for each configured command whose owner_only
 * is owners, and (for everyone) each word a resident claims, in the order
 * of the configuration. */
static void commands_help_list(FILE *f, bool owners, bool *first)
{
	for (const struct behaviour *b = behaviours_next(NULL); b; b = behaviours_next(b)) {
		const struct conf_behaviour *c = behaviour_conf(b);
		if (c->kind == CONF_BEHAVIOUR_COMMAND && c->owner_only == owners)
			commands_help_word(f, c->name, first);
		for (size_t i = 0; !owners && i < c->n_commands; i++)
			commands_help_word(f, c->commands[i], first);
	}
}

/* The text of !help without a name. */
static char *commands_help_all(void)
{
	const char *p = commands_state.prefix;
	bool first = true;
	char *s = NULL;
	size_t n;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	fputs("commands: ", f);
	commands_help_list(f, false, &first);
	commands_claim_find("");	/* forget stale claims */
	for (struct list *l = commands_state.claims.next; l != &commands_state.claims; l = l->next) {
		const struct commands_claim *cl = list_entry(l, struct commands_claim, link);
		if (!commands_claimer(cl->word))
			commands_help_word(f, cl->word, &first);
	}
	fprintf(f, "%s%shelp; owners only: ", first ? "" : ", ", p);
	first = true;
	commands_help_list(f, true, &first);
	fprintf(f, "%s%sreload, %srestart, %sstatus; %shelp NAME says more", first ? "" : ", ", p, p, p, p);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* What a built-in command does, or NULL. */
static const char *commands_builtin_help(const char *name)
{
	static const struct {
		const char *name, *text;
	} texts[] = {
		{ "help", "lists the commands; with a name, says what that command does" },
		{ "reload", "(owners only) reads the configuration file again and applies it" },
		{ "restart", "NAME (owners only) restarts a resident behaviour now, or stops the processes of a "
			     "command or timer" },
		{ "status", "(owners only) the IRC connection, its queue, the processes and the clients" },
	};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (strcasecmp(name, texts[i].name) == 0)
			return texts[i].text;
	return NULL;
}

/* !help and !help NAME. */
static void commands_help(const struct command_msg *m)
{
	size_t len = strcspn(m->rest, " \t");
	char name[COMMANDS_WORD_MAX + 1];
	const struct behaviour *b;
	const struct conf_behaviour *c, *claimer;
	const struct commands_claim *cl;
	char *all;

	if (len == 0) {
		all = commands_help_all();
		if (all)
			commands_reply(m->reply, "%s", all);
		free(all);
		return;
	}
	snprintf(name, sizeof name, "%.*s", (int)len, m->rest);
	b = behaviours_find(name);
	c = b ? behaviour_conf(b) : NULL;
	claimer = commands_claimer(name);
	cl = claimer ? NULL : commands_claim_find(name);
	if (cl && cl->behaviour && behaviours_find(cl->behaviour))
		claimer = behaviour_conf(behaviours_find(cl->behaviour));
	if (commands_builtin_help(name))
		commands_reply(m->reply, "%s%s: %s", commands_state.prefix, name, commands_builtin_help(name));
	else if (claimer || cl)
		commands_reply(m->reply, "%s%s: %s", commands_state.prefix, name,
			       claimer && claimer->help ? claimer->help : "no help given");
	else if (!c || c->kind != CONF_BEHAVIOUR_COMMAND)
		commands_reply(m->reply, "unknown command: %s (try %shelp)", name, commands_state.prefix);
	else
		commands_reply(m->reply, "%s%s: %s%s%s", commands_state.prefix, c->name, c->help ? c->help : "no help given",
			       c->owner_only ? " (owners only)" : "", c->private_ok ? "" : " (in channels only)");
}

/* !reload: read the configuration again. */
static void commands_reload(const struct command_msg *m)
{
	cJSON *changes = cJSON_CreateArray();
	char *error = NULL;
	int r = changes ? behaviours_reload(&error, changes) : -ENOMEM;
	int n = cJSON_GetArraySize(changes);

	log_info("command reload from %s", m->hostmask);
	if (r == -ENOSYS)
		commands_reply(m->reply, "there is no configuration file to read");
	else if (r < 0)
		commands_reply(m->reply, "reload refused: %s", error ? error : strerror(-r));
	else if (n == 0)
		commands_reply(m->reply, "reloaded: nothing changed");
	else
		commands_reply(m->reply, "reloaded: %d change%s", n, n == 1 ? "" : "s");
	free(error);
	cJSON_Delete(changes);
}

/* !restart NAME. */
static void commands_restart(const struct command_msg *m)
{
	size_t len = strcspn(m->rest, " \t");
	char name[COMMANDS_WORD_MAX + 1];
	struct behaviour *b;
	cJSON *stopped = cJSON_CreateArray();

	snprintf(name, sizeof name, "%.*s", (int)len, m->rest);
	b = len ? behaviours_find(name) : NULL;
	if (!len)
		commands_reply(m->reply, "usage: %srestart NAME", commands_state.prefix);
	else if (!b)
		commands_reply(m->reply, "there is no behaviour named %s", name);
	if (!b || !stopped) {
		cJSON_Delete(stopped);
		return;
	}
	log_info("command restart %s from %s", name, m->hostmask);
	behaviour_restart(b, stopped);
	if (behaviour_conf(b)->kind == CONF_BEHAVIOUR_RESIDENT)
		commands_reply(m->reply, "%s: restarting", behaviour_conf(b)->name);
	else
		commands_reply(m->reply, "%s: %d process%s stopped", behaviour_conf(b)->name, cJSON_GetArraySize(stopped),
			       cJSON_GetArraySize(stopped) == 1 ? "" : "es");
	cJSON_Delete(stopped);
}

/* Write the processes, per behaviour, and the clients. */
static void commands_status_host(FILE *f)
{
	bool first = true;

	fprintf(f, "processes: %u of %u", behaviours_running(), behaviours_max_processes());
	for (const struct behaviour *b = behaviours_next(NULL); b; b = behaviours_next(b)) {
		if (!behaviour_running(b))
			continue;
		fprintf(f, "%s%s %u", first ? " (" : ", ", behaviour_conf(b)->name, behaviour_running(b));
		first = false;
	}
	fprintf(f, "%s; clients: %zu", first ? "" : ")", server_client_count(behaviours_server()));
}

/* irc.getState answered !status: reply with it and the host's numbers. */
static void commands_status_done(struct value *result, const struct fn_error *err, void *userdata)
{
	struct fn *reply = userdata;
	const cJSON *st = result ? value_json(result) : NULL;
	const char *state = commands_str(st, "state"), *server = commands_str(st, "server");
	const char *nick = commands_str(st, "nick");
	const cJSON *queued = cJSON_GetObjectItemCaseSensitive(st, "queued");
	char *s = NULL;
	size_t n;
	FILE *f = open_memstream(&s, &n);

	if (f) {
		if (state)
			fprintf(f, "irc: %s%s%s%s%s, %d queued; ", state, server ? " to " : "", server ? server : "",
				nick ? " as " : "", nick ? nick : "", cJSON_IsNumber(queued) ? queued->valueint : 0);
		else
			fprintf(f, "irc: %s; ", err ? err->message : "no state");
		commands_status_host(f);
	}
	if (f && fclose(f) == 0)
		commands_reply(reply, "%s", s);
	free(s);
	value_free(result);
	fn_unref(reply);
}

/* !status: ask the irc object for its state; the answer comes from the loop. */
static void commands_status(const struct command_msg *m)
{
	struct server *s = behaviours_server();
	struct fn *reply = fn_ref(m->reply);
	struct call *call = call_new_callback(s, NULL, commands_status_done, reply);

	log_info("command status from %s", m->hostmask);
	if (!call) {
		fn_unref(reply);
		return;
	}
	call_set_starting(call, true);
	object_dispatch(server_objects(s), call, "irc", "getState");
	call_set_starting(call, false);
}

/* Which built-in command word names. */
static enum commands_builtin commands_builtin_of(const char *word)
{
	static const char *const names[] = { NULL, "help", "reload", "restart", "status" };

	for (size_t i = 1; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(word, names[i]) == 0)
			return (enum commands_builtin)i;
	return COMMANDS_NONE;
}

/* Run a built-in command; the admin ones only for owners. */
static void commands_builtin(const struct command_msg *m, enum commands_builtin which)
{
	if (which != COMMANDS_HELP && !commands_is_owner(m)) {
		log_info("command %s from %s: refused: owners only", m->word, m->hostmask);
		commands_notice(m, RATELIMIT_NOTICE_REFUSED, "only owners may use %s", m->word);
		return;
	}
	switch (which) {
	case COMMANDS_HELP: commands_help(m); break;
	case COMMANDS_RELOAD: commands_reload(m); break;
	case COMMANDS_RESTART: commands_restart(m); break;
	case COMMANDS_STATUS: commands_status(m); break;
	case COMMANDS_NONE: break;
	}
}

/* ---- the message handler ------------------------------------------------------------- */

/* Count one command of the user of m under both its keys (the host, and the
 * account when known): ignored when either is. */
static enum ratelimit_verdict commands_rate(const struct command_msg *m)
{
	uint64_t now = clock_now_ms();
	enum ratelimit_verdict v = ratelimit_hit(commands_state.rl, m->who, now);
	enum ratelimit_verdict a = m->account ? ratelimit_hit(commands_state.rl, m->account, now) : RATELIMIT_OK;

	if (v == RATELIMIT_IGNORED || a == RATELIMIT_IGNORED)
		return RATELIMIT_IGNORED;
	return v == RATELIMIT_EXCEEDED ? v : a;
}

/* Make the reply function of m fail for the resident that would answer it. */
static void commands_mute(const struct command_msg *m, const struct conf_behaviour *claimer)
{
	int r = irc_reply_refuse(m->reply, "the user gives commands too fast and is ignored");

	if (r < 0)
		log_warn("command %s from %s: resident %s may still answer: %s", m->word, m->hostmask, claimer->name,
			 strerror(-r));
}

/* One command: the rate limit first (a word a resident claims too: its
 * reply function then fails), then the event of a word a client claims,
 * nothing for a word a resident's `commands` claims (it answers itself, at
 * its own pace), a built-in or a configured command. */
static void commands_handle(const struct command_msg *m)
{
	const struct conf_behaviour *claimer = commands_claimer(m->word);
	const struct commands_claim *cl = commands_claim_find(m->word);
	enum commands_builtin which;
	char d[32];

	switch (commands_rate(m)) {
	case RATELIMIT_EXCEEDED:
		commands_duration(commands_state.ignore_ms, d, sizeof d);
		log_warn("commands: %s gives commands too fast: ignored for %s", m->hostmask, d);
		commands_reply(m->reply, "%s: you give commands too fast; ignoring you for %s", m->from.nick, d);
		if (claimer)
			commands_mute(m, claimer);
		return;
	case RATELIMIT_IGNORED:
		if (claimer)
			commands_mute(m, claimer);
		return;
	case RATELIMIT_OK:
		break;
	}
	if (cl) {
		commands_emit(m, cl);
		return;
	}
	if (claimer) {
		log_debug("command %s from %s: left to resident %s", m->word, m->hostmask, claimer->name);
		return;
	}
	which = commands_builtin_of(m->word);
	if (which != COMMANDS_NONE)
		commands_builtin(m, which);
	else
		commands_configured(m);
}

/* The irc object's `message` event (a host registration). */
static void commands_message_cb(struct fn *fn, struct call *call, void *userdata)
{
	const struct value *args = call_get_args(call);
	struct command_msg m = { 0 };

	if (commands_state.prefix && commands_msg_parse(&m, args, call_get_arg(call, 0)))
		commands_handle(&m);
	commands_msg_clear(&m);
	call_return(call, NULL);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

/* Take the prefix, the owners and the rate limits. */
int commands_configure(const struct behaviours_conf *cfg)
{
	struct commands *cs = &commands_state;
	char *prefix = strdup(cfg->command_prefix ? cfg->command_prefix : "!");
	char **owners = cfg->n_owners ? calloc(cfg->n_owners, sizeof *owners) : NULL;
	bool ok = prefix && (owners || !cfg->n_owners) && (cs->rl || (cs->rl = ratelimit_new()));

	for (size_t i = 0; ok && i < cfg->n_owners; i++)
		ok = (owners[i] = strdup(cfg->owners[i])) != NULL;
	if (!ok) {
		free(prefix);
		for (size_t i = 0; owners && i < cfg->n_owners; i++)
			free(owners[i]);
		free(owners);
		return -ENOMEM;
	}
	free(cs->prefix);
	for (size_t i = 0; i < cs->n_owners; i++)
		free(cs->owners[i]);
	free(cs->owners);
	cs->prefix = prefix;
	cs->owners = owners;
	cs->n_owners = cfg->n_owners;
	cs->ignore_ms = cfg->user_ignore_ms;
	cs->user_processes = cfg->user_processes ? cfg->user_processes : 4;
	if (!cs->procs.next)
		list_init(&cs->procs);
	ratelimit_configure(cs->rl, cfg->user_commands.count, cfg->user_commands.window_ms, cfg->user_ignore_ms,
			    COMMANDS_NOTICE_MS);
	return 0;
}

/* Register on the irc object's `message`. */
void commands_irc_attach(void)
{
	struct server *s = behaviours_server();
	struct object *obj = s ? object_find(server_objects(s), "irc") : NULL;
	struct emitter *em = obj ? object_get_emitter(obj) : NULL;
	struct fn *fn;

	if (commands_state.hook || !em || !commands_state.prefix)
		return;
	fn = fn_new_native(s, commands_message_cb, &commands_state, NULL);
	if (!fn || emitter_add(em, "message", fn, false, NULL) < 0) {
		log_error("commands: out of memory: IRC commands are not heard");
		fn_unref(fn);
		return;
	}
	commands_state.hook = fn;
}

/* The irc object is about to stop: its registrations go with it. */
void commands_irc_detach(void)
{
	commands_state.hook = fn_unref(commands_state.hook);
}

/* Forget everything. */
void commands_free(void)
{
	struct commands *cs = &commands_state;

	commands_irc_detach();
	commands_set_emitter(NULL);
	while (cs->procs.next && !list_empty(&cs->procs))
		commands_proc_free(list_entry(cs->procs.next, struct commands_proc, link));
	free(cs->prefix);
	for (size_t i = 0; i < cs->n_owners; i++)
		free(cs->owners[i]);
	free(cs->owners);
	ratelimit_free(cs->rl);
	memset(cs, 0, sizeof *cs);
}
