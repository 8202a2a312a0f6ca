/* SPDX-License-Identifier: ISC */
/* botkit-command: one run of a [command] or [timer] behaviour, in a few
 * lines: connect, learn why it runs, answer, finish.
 *
 *   #include <botkit-command.h>
 *
 *   int main(int argc, char **argv)
 *   {
 *           bk_command *cmd;
 *           if (bk_command_open(&cmd, "hello", argc, argv) < 0)
 *                   return 1;
 *           bk_command_replyf(cmd, "hello, %s", bk_command_get(cmd, "nick"));
 *           return bk_command_finish(cmd);
 *   }
 *
 * A process bothost spawns learns why it runs from host.context():
 * {"kind","name","command","args","text","channel","private","target",
 * "nick","hostmask","reply",...} (PROTOCOL.md, "The bot object"). Started any
 * other way (by hand, by a test), host.context() gives null and the fields
 * come from the environment: BOTKIT_KIND, BOTKIT_NAME, BOTKIT_ARGS (the text
 * after the command), BOTKIT_NICK, BOTKIT_HOSTMASK, BOTKIT_CHANNEL, BOTKIT_TARGET;
 * without BOTKIT_ARGS the words come from the command line (after a "--").
 *
 * Functions returning int give 0 or a negative errno code, as in botkit.
 * Unlike the rest of libbotkit these helpers write to stderr (which bothost
 * logs): a failure to connect, a failed answer, bk_command_fail(); so a
 * program that only returns bk_command_finish() loses no error. This header
 * includes <botkit.h>; the functions are part of libbotkit. */
#ifndef BOTKIT_COMMAND_H
#define BOTKIT_COMMAND_H

#include "botkit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_command bk_command;	/* one run: its connection, context and answers */

/* Connect to bothost (bk_conn_new(): $BOTKIT_FD, $BOTKIT_SOCKET, ...) as
 * `name` and load the context and the words; argc/argv are the program's.
 * On failure says why on stderr. */
int bk_command_open(bk_command **ret, const char *name, int argc, char **argv);
/* The connection, for calls of the program's own (borrowed). */
bk_conn *bk_command_get_conn(const bk_command *cmd);
/* A string of the context ("kind", "name", "command", "text", "channel",
 * "target", "nick", "hostmask", ...), or NULL when absent (or empty in the
 * environment). */
const char *bk_command_get(const bk_command *cmd, const char *field);
/* The words after the command, and word i (NULL past the end). */
unsigned bk_command_argc(const bk_command *cmd);
const char *bk_command_arg(const bk_command *cmd, unsigned i);
/* Answer where the run came from: through the context's reply function,
 * else irc.say to the target (-EDESTADDRREQ without either). Asynchronous:
 * bk_command_finish() waits for the answers and reports a failure. */
int bk_command_reply(bk_command *cmd, const char *text);
int bk_command_replyf(bk_command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Mark the run as failed (the exit status becomes 1) and say why on stderr. */
void bk_command_fail(bk_command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Dispatch until nothing is left to wait for (answers delivered, callbacks
 * the host holds called), close and free everything. Returns the exit
 * status: 0 when every answer was delivered and nothing failed, else 1. */
int bk_command_finish(bk_command *cmd);

#ifdef __cplusplus
}
#endif

#endif
