/* SPDX-License-Identifier: ISC */
/* A libircclient program: answers ".echo TEXT" in a channel with
 * "NICK said TEXT", the nick taken with irc_target_get_nick.
 * Usage: answerer SERVER PORT NICK CHANNEL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libircclient.h>

static const char *channel;

/* Registered: join the channel. */
static void on_connect(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	irc_cmd_join(s, channel, NULL);
}

/* A channel message: answer .echo. */
static void on_channel(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	char nick[128], text[512];

	if (!origin || count < 2 || strncmp(params[1], ".echo ", 6) != 0)
		return;
	irc_target_get_nick(origin, nick, sizeof nick);
	snprintf(text, sizeof text, "%s said %s", nick, params[1] + 6);
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
	cb.event_channel = on_channel;
	if (!(s = irc_create_session(&cb)))
		return 1;
	if (irc_connect(s, argv[1], (unsigned short)atoi(argv[2]), NULL, argv[3], "answerer", "answerer")) {
		fprintf(stderr, "answerer: %s\n", irc_strerror(irc_errno(s)));
		return 1;
	}
	irc_run(s);
	irc_destroy_session(s);
	return 0;
}
