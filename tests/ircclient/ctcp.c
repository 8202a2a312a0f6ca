/* SPDX-License-Identifier: ISC */
/* A libircclient program answering CTCP requests of its own: SOURCE and
 * USERINFO (event_ctcp_req). Usage: ctcp SERVER PORT NICK CHANNEL */
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

/* A CTCP request: answer SOURCE and USERINFO. */
static void on_ctcp(irc_session_t *s, const char *event, const char *origin, const char **params,
		    unsigned int count)
{
	char nick[128];

	if (!origin || count < 1)
		return;
	irc_target_get_nick(origin, nick, sizeof nick);
	if (strcmp(params[0], "SOURCE") == 0)
		irc_cmd_ctcp_reply(s, nick, "SOURCE https://example.org/ctcp-bot");
	else if (strncmp(params[0], "USERINFO", 8) == 0)
		irc_cmd_ctcp_reply(s, nick, "USERINFO a libircclient program");
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
	cb.event_ctcp_req = on_ctcp;
	if (!(s = irc_create_session(&cb)))
		return 1;
	if (irc_connect(s, argv[1], (unsigned short)atoi(argv[2]), NULL, argv[3], "ctcp", "ctcp")) {
		fprintf(stderr, "ctcp: %s\n", irc_strerror(irc_errno(s)));
		return 1;
	}
	irc_run(s);
	irc_destroy_session(s);
	return 0;
}
