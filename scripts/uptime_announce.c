/* SPDX-License-Identifier: ISC */
/* uptime_announce: tells the channels how long the bot has been connected
 * ("bot has been connected to irc.example.org for 2h 5m").
 *
 * The pattern: a timer behaviour. bothost starts it every so often; it
 * connects, does one thing with blocking calls, and exits. It needs no
 * context: it asks the host for what it wants to know (irc.getState,
 * irc.getChannels). The channels are the arguments, else every channel the
 * bot is in. Nothing is announced while the bot is not connected.
 *
 *   [timer uptime]
 *   exec = /usr/local/libexec/bothost/uptime_announce
 *   every = 6h
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <botkit-irc.h>

#include "script.h"

/* Compose the announcement from irc.getState(): 1, 0 when there is
 * nothing to announce (not connected), or a negative errno code. */
static int uptime_text(bk_conn *c, char *text, size_t size)
{
	cJSON *state = NULL;
	const char *st, *nick, *server;
	double since;
	char how_long[32];
	int r = bk_irc_get_state(c, &state);

	if (r < 0)
		return r;
	st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(state, "state"));
	nick = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(state, "nick"));
	server = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(state, "server"));
	since = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(state, "since"));
	if (st && nick && server && strcmp(st, "connected") == 0) {
		script_duration(how_long, sizeof how_long, (int64_t)time(NULL) - (int64_t)(since / 1000));
		snprintf(text, size, "%s has been connected to %s for %s", nick, server, how_long);
		r = 1;
	}
	bk_json_delete(state);
	return r;
}

/* Say text in every channel the bot is in; the number of failures. */
static int uptime_say_everywhere(bk_conn *c, const char *text)
{
	cJSON *channels = NULL;
	const cJSON *ch;
	int failed = 0;

	if (bk_irc_get_channels(c, &channels) < 0)
		return 1;
	cJSON_ArrayForEach(ch, channels) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ch, "name"));
		failed += name && bk_irc_say(c, name, text) < 0;
	}
	bk_json_delete(channels);
	return failed;
}

/* Announce the uptime once, then exit. */
int main(int argc, char **argv)
{
	bk_conn *c;
	char text[256];
	int r, failed = 0;

	if ((r = bk_conn_new(&c, "uptime_announce")) < 0) {
		fprintf(stderr, "uptime_announce: cannot connect to bothost: %s\n", strerror(-r));
		return 1;
	}
	if ((r = uptime_text(c, text, sizeof text)) < 0) {
		fprintf(stderr, "uptime_announce: irc.getState() failed: %s\n", strerror(-r));
		failed = 1;
	} else if (r == 0) {
		printf("uptime_announce: not connected to IRC, nothing announced\n");
	} else if (argc > 1) {
		for (int i = 1; i < argc; i++)
			failed += bk_irc_say(c, argv[i], text) < 0;
	} else {
		failed = uptime_say_everywhere(c, text);
	}
	if (failed)
		fprintf(stderr, "uptime_announce: %d announcement(s) failed\n", failed);
	bk_conn_unref(c);
	return failed ? 1 : 0;
}
