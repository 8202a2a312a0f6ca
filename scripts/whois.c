/* SPDX-License-Identifier: ISC */
/* whois: `!whois NICK` answers with a one-line summary of what the server
 * says about NICK, or "no such nick: NICK".
 *
 * The pattern: a method that takes a callback. irc.whois(nick, fn) returns
 * null at once and calls fn(err, info) once the server has answered. The
 * program passes one of its own functions (bk_function + userdata) with the
 * "f" signature letter; the host holds it until it has called it, then
 * releases it. bk_command_finish() runs the connection until nothing is left
 * to wait for: the call's answer, the callback, and the reply the callback
 * sent.
 *
 *   [command whois]
 *   exec = /usr/local/libexec/bothost/whois
 *   help = who is that? !whois NICK
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <botkit-command.h>

#include "script.h"

#define SUMMARY_MAX 400
#define ERR_NO_SUCH_NICK 401
#define ERR_NO_SUCH_SERVER 402

/* A summary being written. */
struct summary {
	char text[SUMMARY_MAX];
	size_t len;
};

/* Append formatted text; what does not fit is cut. */
static void summary_add(struct summary *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void summary_add(struct summary *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->len >= sizeof s->text - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->text + s->len, sizeof s->text - s->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->len += (size_t)n < sizeof s->text - s->len ? (size_t)n : sizeof s->text - s->len - 1;
}

/* A string field of the WHOIS object, or NULL. */
static const char *info_string(const cJSON *info, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, field));
}

/* A string field of the WHOIS object, or "?". */
static const char *info_or(const cJSON *info, const char *field)
{
	const char *v = info_string(info, field);

	return v ? v : "?";
}

/* "alice is ~a@host (Alice) on irc.example.org, in #a #sc, idle 5m 3s, ..." */
static void whois_summarize(struct summary *s, const cJSON *info)
{
	const cJSON *channels = cJSON_GetObjectItemCaseSensitive(info, "channels");
	const cJSON *idle = cJSON_GetObjectItemCaseSensitive(info, "idle");
	const cJSON *ch;
	char buf[32];

	summary_add(s, "%s is %s@%s", info_or(info, "nick"), info_or(info, "user"), info_or(info, "host"));
	if (info_string(info, "realname"))
		summary_add(s, " (%s)", info_string(info, "realname"));
	if (info_string(info, "server"))
		summary_add(s, " on %s", info_string(info, "server"));
	if (cJSON_GetArraySize(channels) > 0) {
		summary_add(s, ", in");
		cJSON_ArrayForEach(ch, channels)
			if (cJSON_IsString(ch))
				summary_add(s, " %s", ch->valuestring);
	}
	if (cJSON_IsNumber(idle))
		summary_add(s, ", idle %s", script_duration(buf, sizeof buf, (int64_t)idle->valuedouble));
	if (info_string(info, "account"))
		summary_add(s, ", logged in as %s", info_string(info, "account"));
	if (info_string(info, "away"))
		summary_add(s, ", away: %s", info_string(info, "away"));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "operator")))
		summary_add(s, ", an IRC operator");
}

/* fn(err, info): called by the host once the server has answered. */
static void whois_answer_cb(bk_conn *c, bk_args *a, void *userdata)
{
	bk_command *cmd = userdata;
	const cJSON *err = bk_args_get(a, 0), *info = bk_args_get(a, 1);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(err, "data");
	const cJSON *numeric = cJSON_GetObjectItemCaseSensitive(data, "numeric");
	struct summary s = { .len = 0 };

	if (cJSON_IsObject(err) && cJSON_IsNumber(numeric) &&
	    (numeric->valueint == ERR_NO_SUCH_NICK || numeric->valueint == ERR_NO_SUCH_SERVER)) {
		bk_command_replyf(cmd, "no such nick: %s", bk_command_arg(cmd, 0));
	} else if (cJSON_IsObject(err)) {
		bk_command_replyf(cmd, "whois %s failed: %s", bk_command_arg(cmd, 0), info_or(err, "message"));
	} else if (cJSON_IsObject(info)) {
		whois_summarize(&s, info);
		bk_command_reply(cmd, s.text);
	}
}

/* The host's answer to the call itself: null when it accepted it (the
 * callback comes later), or why it refused (the callback never comes). */
static void whois_started_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	bk_command *cmd = userdata;

	if (!err)
		return;
	if (strcmp(bk_error_name(err), "InvalidArguments") == 0)
		bk_command_replyf(cmd, "not a valid nick: %s", bk_command_arg(cmd, 0));
	else
		bk_command_replyf(cmd, "whois failed: %s", bk_error_message(err));
}

/* Ask the server about one nick; the callback answers. */
int main(int argc, char **argv)
{
	bk_command *cmd;
	int r;

	if (bk_command_open(&cmd, "whois", argc, argv) < 0)
		return 1;
	if (bk_command_argc(cmd) != 1) {
		bk_command_reply(cmd, "usage: !whois NICK");
		return bk_command_finish(cmd);
	}
	/* "sf": a string, then a function of this program (fn, userdata, destroy). */
	r = bk_call(bk_command_get_conn(cmd), "irc", "whois", whois_started_cb, cmd, "sf", bk_command_arg(cmd, 0),
		    whois_answer_cb, cmd, NULL);
	if (r < 0)
		bk_command_fail(cmd, "cannot call irc.whois: %s", strerror(-r));
	return bk_command_finish(cmd);
}
