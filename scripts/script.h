/* What the bundled C behaviours share: a connection to bothost, the
 * context of this run, and a way to answer where the run came from.
 *
 * A behaviour that bothost spawns for a command or a timer learns why it runs
 * from host.context(): {"kind","name","args","text","channel","private",
 * "target","nick","hostmask","reply",...}, where `reply` is a host function
 * that answers in the channel or privately. A behaviour started any other way
 * (by hand, by a test, by an older host) gets null from host.context() and
 * falls back to the environment: BOTKIT_KIND, BOTKIT_NAME, BOTKIT_ARGS (the
 * text after the command), BOTKIT_NICK, BOTKIT_HOSTMASK, BOTKIT_CHANNEL
 * (empty for a private message) and BOTKIT_TARGET (where answers go). Without
 * BOTKIT_ARGS the words come from the command line.
 *
 *   struct script *sc;
 *   if (script_open(&sc, "hello", argc, argv) < 0)
 *           return 1;
 *   script_reply(sc, "hello");
 *   return script_finish(sc);
 *
 * Errors are negative errno codes, as in botkit. The resident seen uses only
 * the duration formatter at the end. */
#ifndef SCRIPTS_SCRIPT_H
#define SCRIPTS_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <botkit.h>

struct script;

/* Connect to bothost (the socket in $BOTKIT_FD or $BOTKIT_SOCKET) as `name`
 * and load the context; argc/argv are the program's, used for the words when
 * neither the context nor the environment has them. On failure a message is
 * printed on stderr. */
int script_open(struct script **ret, const char *name, int argc, char **argv);
/* The connection, for calls of the behaviour's own. */
bk_conn *script_get_conn(const struct script *sc);
/* A string of the context: "kind", "name", "text", "channel", "target",
 * "nick", "hostmask", ...; NULL when absent (or empty in the environment). */
const char *script_get(const struct script *sc, const char *field);
/* The words after the command, and one of them (NULL past the end). */
unsigned script_argc(const struct script *sc);
const char *script_arg(const struct script *sc, unsigned i);
/* Answer where the run came from: through the context's reply function, else
 * irc.say to the target. Asynchronous: the answer completes while
 * script_finish() dispatches, which reports a failure. */
int script_reply(struct script *sc, const char *text);
int script_replyf(struct script *sc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Mark the run as failed (the exit status becomes 1) and say why on stderr. */
void script_fail(struct script *sc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Dispatch until nothing is left to wait for (answers sent, callbacks the host
 * holds called), close, free everything; the exit status: 0 when every answer
 * was delivered and nothing failed, else 1. */
int script_finish(struct script *sc);

/* Write a duration in seconds as "1d 2h", "2h 5m", "5m 3s" or "42s" (the two
 * largest units); returns buf. */
char *script_duration(char *buf, size_t size, int64_t seconds);

#endif
