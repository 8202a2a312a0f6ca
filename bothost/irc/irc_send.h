/* SPDX-License-Identifier: ISC */
/* The bot's outbound IRC lines: one paced queue (outq.h) in front of the
 * link. Lines go out in priority order at the configured pace while the link
 * is registered; meanwhile they wait, and fail after queue_max_age. A line
 * whose connection dropped before it was written goes back to the front of
 * its priority, so nothing is lost or reordered.
 *
 * NORMAL lines (messages) are served round robin between flows (outq.h):
 * by default a line's flow is its target, so that a flood to one channel or
 * nick cannot hold back the answers to another; the caller may name the
 * flow instead (irc_send_set_flow), such as the user a reply answers.
 *
 * Lines are pushed in batches (the lines of one method call): the batch
 * completes once, from the loop, when all its lines are written or one of
 * them failed. */
#ifndef BOTHOST_IRC_SEND_H
#define BOTHOST_IRC_SEND_H

#include <stddef.h>

#include "outq.h"

struct irc_send;
struct link;
struct conf_irc;

/* Completion of a batch: 0 once every line is written to the server;
 * -ENOTCONN when a line waited longer than queue_max_age while disconnected
 * or the queue was failed (irc_send_fail_all); -ECANCELED when the queue is
 * freed; another -errno when a line was refused. Never runs inside the call
 * that queued the batch. */
typedef void (*irc_send_done_fn)(int err, void *userdata);

/* A queue writing to link (which must be freed before the queue). NULL on
 * allocation failure. */
struct irc_send *irc_send_new(struct link *link);
/* Complete everything still queued or being written with -ECANCELED, free.
 * NULL is allowed. Returns NULL. */
struct irc_send *irc_send_free(struct irc_send *s);
/* Pacing (burst, line_interval) and bounds (queue_max, queue_max_age) from
 * cfg, applied at once. 0 or -EINVAL. */
int irc_send_configure(struct irc_send *s, const struct conf_irc *cfg);

/* The link registered: send, starting with a full burst. */
void irc_send_start(struct irc_send *s);
/* The link is down: hold lines, failing those older than queue_max_age. */
void irc_send_stop(struct irc_send *s);

/* Queue n lines (validated, without CRLF) as one batch; done (may be NULL)
 * runs later, exactly once. 0, or -ENOBUFS when they do not all fit in the
 * queue (nothing is queued then), -EINVAL, -EMSGSIZE or -ENOMEM (done never
 * runs then). */
int irc_send_lines(struct irc_send *s, enum outq_prio prio, char *const *lines, size_t n,
		   irc_send_done_fn done, void *userdata);
/* A batch of one line. */
int irc_send_line(struct irc_send *s, enum outq_prio prio, const char *line, irc_send_done_fn done,
		  void *userdata);
/* The flow of the NORMAL lines queued until it is set again (flow is
 * borrowed until then; NULL: each line's target). */
void irc_send_set_flow(struct irc_send *s, const char *flow);
/* Fail every queued line with err (lines being written finish as they do). */
void irc_send_fail_all(struct irc_send *s, int err);
/* Lines waiting (not yet handed to the link). */
size_t irc_send_queued(const struct irc_send *s);

#endif
