/* SPDX-License-Identifier: ISC */
/* lastseen: `!lastseen NICK` answers "bob was last seen 5m 3s ago: message
 * in #bots", asking the resident seen (scripts/seen.c) through the host.
 *
 * The pattern: a behaviour that uses another one's service. seen provides
 * the service `seen` (method lookup(nick): the record, or null); this
 * one-shot command calls it like a host object, with a wait of 2 s, so a
 * seen that is restarting (a crash, a new binary, a reload) still answers.
 * When no seen comes within the wait, it says so.
 *
 *   [command lastseen]
 *   exec = /usr/local/libexec/bothost/lastseen
 *   help = when a nick was last seen: !lastseen NICK
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <botkit-command.h>

#include "script.h"

#define LASTSEEN_WAIT_MS 2000	/* how long to wait for the seen service */

/* A string field of a record, or def. */
static const char *lastseen_field(const cJSON *rec, const char *key, const char *def)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, key));

	return v ? v : def;
}

/* Answer with what a record of the seen service says. */
static void lastseen_answer(bk_command *cmd, const char *nick, const cJSON *rec)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "time");
	const char *chan = lastseen_field(rec, "channel", NULL);
	char ago[32];

	if (cJSON_IsNull(rec)) {
		bk_command_replyf(cmd, "I have not seen %s", nick);
		return;
	}
	if (!cJSON_IsObject(rec) || !cJSON_IsNumber(t)) {
		bk_command_fail(cmd, "the seen service answered something that is no record");
		bk_command_reply(cmd, "the seen service gave an answer I do not understand");
		return;
	}
	script_duration(ago, sizeof ago, (int64_t)time(NULL) - (int64_t)(t->valuedouble / 1000));
	bk_command_replyf(cmd, "%s was last seen %s ago: %s%s%s", lastseen_field(rec, "nick", nick), ago,
			  lastseen_field(rec, "event", "something"), chan ? " in " : "", chan ? chan : "");
}

/* Ask the seen service about the nick the user named, and answer. */
int main(int argc, char **argv)
{
	const char *prefix = getenv("BOTKIT_PREFIX");
	bk_command *cmd;
	cJSON *rec = NULL;
	int r;

	if (bk_command_open(&cmd, "lastseen", argc, argv) < 0)
		return 1;
	if (bk_command_argc(cmd) != 1 || strlen(bk_command_arg(cmd, 0)) > 64) {
		bk_command_replyf(cmd, "usage: %slastseen NICK", prefix && *prefix ? prefix : "!");
		return bk_command_finish(cmd);
	}
	const char *nick = bk_command_arg(cmd, 0);
	r = bk_call_wait_sync(bk_command_get_conn(cmd), "seen", "lookup", LASTSEEN_WAIT_MS, &rec, "s", nick);
	const bk_error *e = r < 0 ? bk_conn_last_error(bk_command_get_conn(cmd)) : NULL;
	if (e && strcmp(bk_error_name(e), "NoSuchObject") == 0) {
		bk_command_reply(cmd, "the seen service is not running");
	} else if (r < 0) {
		bk_command_fail(cmd, "seen.lookup: %s", e ? bk_error_message(e) : strerror(-r));
		bk_command_replyf(cmd, "the seen service failed: %s", e ? bk_error_name(e) : strerror(-r));
	} else {
		lastseen_answer(cmd, nick, rec);
	}
	bk_json_delete(rec);
	return bk_command_finish(cmd);
}
