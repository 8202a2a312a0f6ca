/* SPDX-License-Identifier: ISC */
/* karma: "alice++" or "alice--" as the first word of a channel message gives
 * alice a point or takes one, and tells the count ("alice has karma 3");
 * `!karma alice` tells it, `!karma` alone the asker's own. A vote for
 * oneself changes nothing (the answer tells the count unchanged).
 *
 * The pattern: a resident in a few lines. bk_irc_on_command() answers the
 * command word (the host matches its prefix and claims the word: no
 * `commands =`); the counts live in the store (<botkit-store.h>: one key per
 * nick, folded as IRC compares nicks), where incr is atomic and everything
 * survives a restart. A store that fails is named in the answer.
 *
 *   [resident karma]
 *   exec = /usr/local/libexec/bothost/karma
 */
#include <stdio.h>
#include <string.h>

#include <botkit-irc.h>
#include <botkit-store.h>

#define NICK_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-[]\\`^_{|}"

/* Add `by` (0: nothing) to the karma of the n bytes at nick, and tell it. */
static void karma_tell(bk_conn *c, const bk_irc_event *ev, const char *nick, size_t n, int by)
{
	char key[65] = "";
	int64_t karma;

	for (size_t i = 0; i < n && i < 64; i++)	/* "[Bob]" is "{bob}" (RFC 1459) */
		key[i] = (char)(nick[i] >= 'A' && nick[i] <= '^' ? nick[i] + 32 : nick[i]);
	if ((by ? bk_store_incr(c, NULL, key, by, &karma) : bk_store_get_int(c, NULL, key, &karma)) < 0)
		bk_irc_event_replyf(ev, "karma: %s", bk_error_message(bk_conn_last_error(c)));
	else
		bk_irc_event_replyf(ev, "%.*s has karma %lld", (int)n, nick, (long long)karma);
}

/* A channel message starting with "NICK++" or "NICK--": change NICK's karma. */
static void karma_message_cb(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	const char *text = bk_irc_event_text(ev), *from = bk_irc_event_nick(ev);
	size_t n = strcspn(text, " ") - 2;	/* the nick's length (huge for a shorter word) */
	bool self = strlen(from) == n && strncasecmp(text, from, n) == 0;

	if (bk_irc_event_channel(ev) && n >= 1 && n <= 64 && strspn(text, NICK_CHARS) >= n &&
	    text[n + 1] == text[n] && (text[n] == '+' || text[n] == '-'))
		karma_tell(c, ev, text, n, self ? 0 : text[n] == '+' ? 1 : -1);
}

/* "!karma NICK": tell NICK's karma; "!karma" alone, the asker's. */
static void karma_command_cb(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	const char *nick = bk_irc_event_argc(ev) ? bk_irc_event_arg(ev, 0) : bk_irc_event_nick(ev);

	karma_tell(c, ev, nick, strlen(nick), 0);
}

/* Register for messages and the command word, and serve until the host goes away. */
int main(void)
{
	bk_conn *c = NULL;
	int r = bk_conn_new(&c, "karma");

	if (r == 0 && (r = bk_irc_on_message(c, karma_message_cb, NULL, NULL, NULL)) == 0)
		r = bk_irc_on_command(c, "karma", karma_command_cb, NULL, NULL, NULL);
	/* bk_run() returns only when the host goes away */
	fprintf(stderr, "karma: %s\n", strerror(r < 0 ? -r : -bk_run(c)));
	bk_conn_unref(c);
	return 1;
}
