/* SPDX-License-Identifier: ISC */
/* A libircclient program with its own select() loop
 * (irc_add_select_descriptors / irc_process_select_descriptors): answers
 * ".ping" with "pong" in the channel and "pong (private)" in private, and
 * ".quit" in private by leaving (irc_cmd_quit).
 * Usage: selectloop SERVER PORT NICK CHANNEL */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include <libircclient.h>

static const char *channel;

/* Registered: join the channel. */
static void on_connect(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	irc_cmd_join(s, channel, NULL);
}

/* A channel message: .ping. */
static void on_channel(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	if (count >= 2 && strcmp(params[1], ".ping") == 0)
		irc_cmd_msg(s, params[0], "pong");
}

/* A private message: .ping, .quit. */
static void on_privmsg(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	char nick[128];

	if (!origin || count < 2)
		return;
	irc_target_get_nick(origin, nick, sizeof nick);
	if (strcmp(params[1], ".ping") == 0)
		irc_cmd_msg(s, nick, "pong (private)");
	else if (strcmp(params[1], ".quit") == 0) {
		irc_cmd_msg(s, nick, "bye");
		irc_cmd_quit(s, "asked to");
	}
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
	cb.event_privmsg = on_privmsg;
	if (!(s = irc_create_session(&cb)))
		return 1;
	if (irc_connect(s, argv[1], (unsigned short)atoi(argv[2]), NULL, argv[3], "sel", "sel")) {
		fprintf(stderr, "selectloop: %s\n", irc_strerror(irc_errno(s)));
		return 1;
	}
	while (irc_is_connected(s)) {
		struct timeval tv = { 0, 250000 };
		fd_set in, out;
		int maxfd = 0;

		FD_ZERO(&in);
		FD_ZERO(&out);
		if (irc_add_select_descriptors(s, &in, &out, &maxfd))
			break;
		if (select(maxfd + 1, &in, &out, NULL, &tv) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (irc_process_select_descriptors(s, &in, &out))
			break;
	}
	printf("selectloop: session ended: %s\n", irc_strerror(irc_errno(s)));
	irc_destroy_session(s);
	return 0;
}
