/* SPDX-License-Identifier: ISC */
/* A libircclient program keeping its state in the session's context
 * (irc_set_ctx / irc_get_ctx): ".count" in the channel answers how many
 * times it was asked. Usage: ctx SERVER PORT NICK CHANNEL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libircclient.h>

struct state {
	const char *channel;
	const char *word;
	int count;
};

/* Registered: join the channel named in the context. */
static void on_connect(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	struct state *st = irc_get_ctx(s);

	irc_cmd_join(s, st->channel, NULL);
}

/* A channel message: .count. */
static void on_channel(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned int count)
{
	struct state *st = irc_get_ctx(s);
	char text[128];

	if (count < 2 || strcmp(params[1], ".count") != 0)
		return;
	snprintf(text, sizeof text, "%s %d", st->word, ++st->count);
	irc_cmd_msg(s, params[0], text);
}

int main(int argc, char **argv)
{
	struct state st = { NULL, "counted", 0 };
	irc_callbacks_t cb;
	irc_session_t *s;

	if (argc < 5)
		return 2;
	st.channel = argv[4];
	memset(&cb, 0, sizeof cb);
	cb.event_connect = on_connect;
	cb.event_channel = on_channel;
	if (!(s = irc_create_session(&cb)))
		return 1;
	irc_set_ctx(s, &st);
	if (irc_connect(s, argv[1], (unsigned short)atoi(argv[2]), NULL, argv[3], "ctx", "ctx")) {
		fprintf(stderr, "ctx: %s\n", irc_strerror(irc_errno(s)));
		return 1;
	}
	irc_run(s);
	irc_destroy_session(s);
	return 0;
}
