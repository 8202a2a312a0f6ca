/* SPDX-License-Identifier: ISC */
/* hello: the smallest command. `!hello` answers "hello, NICK".
 *
 * The pattern of every one-shot command: connect, learn the context (who
 * asked, where to answer), answer, wait until the answer is delivered, exit.
 * bothost starts the program for each `!hello`; see scripts/README.md for
 * the configuration section.
 *
 *   [command hello]
 *   exec = /usr/local/libexec/bothost/hello
 */
#include "config.h"

#include <botkit-command.h>

/* Answer "hello, NICK" where the command came from. */
int main(int argc, char **argv)
{
	bk_command *cmd;
	const char *nick;

	if (bk_command_open(&cmd, "hello", argc, argv) < 0)
		return 1;
	nick = bk_command_get(cmd, "nick");
	/* Answers are asynchronous: bk_command_finish() waits for them. */
	bk_command_replyf(cmd, "hello, %s", nick ? nick : "stranger");
	return bk_command_finish(cmd);
}
