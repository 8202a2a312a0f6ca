/* SPDX-License-Identifier: ISC */
/* A libircclient program (libircclient's API only): joins a channel and
 * greets whoever joins it after. Usage: greeter SERVER PORT NICK CHANNEL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libircclient.h>

static const char *channel;
static char me[128];

/* Registered: remember the nick, join the channel. */
static void on_connect(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	if (count > 0)
		snprintf(me, sizeof me, "%s", params[0]);
	irc_cmd_join(s, channel, NULL);
}

/* Someone joined: greet them (not ourselves). */
static void on_join(irc_session_t *s, const char *event, const char *origin, const char **params,
		    unsigned int count)
{
	char nick[128], text[256];

	if (!origin || count < 1)
		return;
	irc_target_get_nick(origin, nick, sizeof nick);
	if (strcmp(nick, me) == 0)
		return;
	snprintf(text, sizeof text, "hello, %s!", nick);
	irc_cmd_msg(s, params[0], text);
}

int main(int argc, char **argv)
{
	irc_callbacks_t cb;
	irc_session_t *s;

	if (argc < 5)
		return 2;
	channel = argv[4];
	memset(&cb, 0, sizeof cb);
	cb.event_connect = on_connect;
	cb.event_join = on_join;
	if (!(s = irc_create_session(&cb)))
		return 1;
	if (irc_connect(s, argv[1], (unsigned short)atoi(argv[2]), NULL, argv[3], "greeter", "greeter")) {
		fprintf(stderr, "greeter: %s\n", irc_strerror(irc_errno(s)));
		return 1;
	}
	irc_run(s);
	irc_destroy_session(s);
	return 0;
}
