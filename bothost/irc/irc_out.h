/* SPDX-License-Identifier: ISC */
/* The bot's commands, built from client-supplied pieces with irc_line_build
 * only (never a format string), checked against the IRC grammar and the
 * server's ISUPPORT, and queued on the outbound queue.
 *
 * Functions returning int give 0 when everything is queued (done runs later,
 * exactly once) or a negative errno code with nothing queued and done never
 * run: -EINVAL (a piece the grammar refuses, or a text with no line),
 * -EMSGSIZE (too long for one line), -ENOBUFS (the queue is full), -ENOMEM. */
#ifndef BOTHOST_IRC_OUT_H
#define BOTHOST_IRC_OUT_H

#include <stddef.h>

#include "irc_send.h"

struct irc;
struct call;

/* Queue "verb params..." (n parameters; only the last may hold spaces). */
int irc_out_command(struct irc *irc, enum outq_prio prio, irc_send_done_fn done, void *userdata,
		    const char *verb, const char *const *params, size_t n);
/* The same, then "PING :token" in a batch of its own right behind it (done
 * reports the command only), so that the server's PONG proves it processed
 * the command. */
int irc_out_command_ping(struct irc *irc, enum outq_prio prio, irc_send_done_fn done, void *userdata,
			 const char *token, const char *verb, const char *const *params, size_t n);
/* Queue text to target with verb (PRIVMSG or NOTICE) at prio (OUTQ_NORMAL,
 * or OUTQ_LOW for the bot's own refusals): one message per line of the text
 * rule, each cut to fit 512 bytes as the server relays it; each wrapped as
 * the CTCP ctcp (ACTION) when ctcp is not NULL. */
int irc_out_text(struct irc *irc, enum outq_prio prio, const char *verb, const char *target, const char *text,
		 const char *ctcp, irc_send_done_fn done, void *userdata);
/* Queue one CTCP cmd with args (NULL: none) to target: a request (PRIVMSG)
 * or a reply (NOTICE). */
int irc_out_ctcp(struct irc *irc, const char *verb, const char *target, const char *cmd, const char *args,
		 irc_send_done_fn done, void *userdata);

/* An irc_send completion whose userdata is a struct call: null once written,
 * NotConnected otherwise. */
void irc_out_call_done(int err, void *userdata);
/* Answer call with the error an irc_out function returned. */
void irc_out_call_fail(struct call *call, int err);

#endif
