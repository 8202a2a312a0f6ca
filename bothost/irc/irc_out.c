/* SPDX-License-Identifier: ISC */
/* Building and queueing the bot's commands. */
#include "config.h"

#include "irc_out.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/call.h"
#include "core/errors.h"
#include "core/log.h"
#include "irc_core.h"
#include "irc_line.h"
#include "irc_query.h"
#include "irc_state.h"
#include "irc_text.h"

/* At most this many parameters in one command (RFC 1459: 15). */
#define IRC_OUT_PARAMS_MAX 15

/* Build "verb params..." into a new string. */
static int irc_out_build(const char *verb, const char *const *params, size_t n, unsigned flags, char **ret)
{
	struct irc_str strs[IRC_OUT_PARAMS_MAX];

	if (n > IRC_OUT_PARAMS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		strs[i].p = params[i];
		strs[i].len = strlen(params[i]);
	}
	return irc_line_build(verb, strs, n, flags, ret, NULL);
}

/* Queue one command. */
int irc_out_command(struct irc *irc, enum outq_prio prio, irc_send_done_fn done, void *userdata,
		    const char *verb, const char *const *params, size_t n)
{
	char *line = NULL;
	int r = irc_out_build(verb, params, n, 0, &line);

	if (r == 0)
		r = irc_send_line(irc->send, prio, line, done, userdata);
	free(line);
	return r;
}

/* Queue one command, then "PING :token" as a batch of its own. */
int irc_out_command_ping(struct irc *irc, enum outq_prio prio, irc_send_done_fn done, void *userdata,
			 const char *token, const char *verb, const char *const *params, size_t n)
{
	char *ping = NULL;
	int r = irc_line_buildv(&ping, IRC_LINE_COLON_ALWAYS, "PING", token, (char *)NULL);

	if (r == 0)
		r = irc_out_command(irc, prio, done, userdata, verb, params, n);
	/* Same priority, so it follows the command; a PING that does not fit
	 * only leaves the wait to refusal_wait. */
	if (r == 0 && irc_send_line(irc->send, prio, ping, NULL, NULL) < 0)
		log_debug("irc: no PING after %s: the outbound queue is full", verb);
	free(ping);
	return r;
}

/* Free an array of n lines. */
static void irc_out_free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Turn text chunks into "verb target :chunk" lines (chunks freed). */
static int irc_out_text_lines(const char *verb, const char *target, char **chunks, size_t n, const char *ctcp,
			      char ***ret_lines)
{
	char **lines = calloc(n, sizeof *lines);
	int r = lines ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n; i++) {
		char *wrapped = NULL;
		const char *text = chunks[i];
		if (ctcp && (r = irc_text_ctcp_wrap(ctcp, chunks[i], &wrapped)) < 0)
			break;
		if (wrapped)
			text = wrapped;
		r = irc_line_buildv(&lines[i], IRC_LINE_COLON_ALWAYS, verb, target, text, (char *)NULL);
		free(wrapped);
	}
	if (r < 0) {
		irc_out_free_lines(lines, lines ? n : 0);
		return r;
	}
	*ret_lines = lines;
	return 0;
}

/* Queue a text, line by line. */
int irc_out_text(struct irc *irc, enum outq_prio prio, const char *verb, const char *target, const char *text,
		 const char *ctcp, irc_send_done_fn done, void *userdata)
{
	const struct irc_state *st = irc->state;
	size_t budget = irc_text_budget(verb, target, irc_state_nick(st), irc_state_user(st), irc_state_host(st),
					ctcp);
	char **chunks = NULL, **lines = NULL;
	int n, r;

	if (!irc_text_target_valid(irc_state_isupport(st), target))
		return -EINVAL;
	if (budget < IRC_TEXT_BUDGET_MIN)
		return -EMSGSIZE;
	n = irc_text_split(text, budget, &chunks);
	if (n < 0)
		return n;
	r = irc_out_text_lines(verb, target, chunks, (size_t)n, ctcp, &lines);
	irc_text_lines_free(chunks);
	if (r < 0)
		return r;
	r = irc_send_lines(irc->send, prio, lines, (size_t)n, done, userdata);
	irc_out_free_lines(lines, (size_t)n);
	return r;
}

/* Queue one CTCP request or reply. */
int irc_out_ctcp(struct irc *irc, const char *verb, const char *target, const char *cmd, const char *args,
		 irc_send_done_fn done, void *userdata)
{
	const struct irc_state *st = irc->state;
	size_t budget = irc_text_budget(verb, target, irc_state_nick(st), irc_state_user(st), irc_state_host(st),
					NULL);
	char *text = NULL, *line = NULL;
	int r;

	if (!irc_text_target_valid(irc_state_isupport(st), target))
		return -EINVAL;
	r = irc_text_ctcp_wrap(cmd, args, &text);
	if (r == 0 && strlen(text) > budget)
		r = -EMSGSIZE;
	if (r == 0)
		r = irc_line_buildv(&line, IRC_LINE_COLON_ALWAYS, verb, target, text, (char *)NULL);
	if (r == 0)
		r = irc_send_line(irc->send, OUTQ_NORMAL, line, done, userdata);
	free(text);
	free(line);
	return r;
}

/* Answer the call once its lines are written (or not). */
void irc_out_call_done(int err, void *userdata)
{
	struct call *call = userdata;

	if (err == 0)
		call_return(call, NULL);
	else if (err == -ENOTCONN || err == -ECANCELED)
		call_fail(call, ERR_NOT_CONNECTED, "not connected to the IRC server in time");
	else
		call_fail(call, ERR_FAILED, "the line could not be sent: %s", strerror(-err));
}

/* Answer call with the error of an irc_out function. */
void irc_out_call_fail(struct call *call, int err)
{
	switch (err) {
	case -EINVAL:
		call_fail(call, ERR_INVALID_ARGUMENTS, "the arguments do not make a valid IRC command");
		break;
	case -EMSGSIZE:
		call_fail(call, ERR_INVALID_ARGUMENTS, "too long for one IRC line");
		break;
	case -ENOBUFS:
		call_fail(call, ERR_LIMIT_EXCEEDED, "the outbound IRC queue is full (queue_max)");
		break;
	default:
		call_fail(call, ERR_FAILED, "%s", strerror(-err));
		break;
	}
}
