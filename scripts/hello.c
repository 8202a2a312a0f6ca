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

#include "script.h"

/* Answer "hello, NICK" where the command came from. */
int main(int argc, char **argv)
{
	struct script *sc;
	const char *nick;

	if (script_open(&sc, "hello", argc, argv) < 0)
		return 1;
	nick = script_get(sc, "nick");
	/* Answers are asynchronous: script_finish() waits for them. */
	script_replyf(sc, "hello, %s", nick ? nick : "stranger");
	return script_finish(sc);
}
