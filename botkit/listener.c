/* SPDX-License-Identifier: ISC */
/* bk_listener(): a [listen NAME] socket out of host.context(). The
 * descriptor can only be taken while its frame is dispatched, so the call
 * is made with a reply callback and the loop runs until it answered. */
#include "botkit-internal.h"

#include <errno.h>

/* One bk_listener() call. */
struct listener_wait {
	const char *name;
	bool done;
	int fd;		/* the descriptor, or -errno */
};

/* host.context() answered: take the listener's descriptor. */
static void listener_reply_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	struct listener_wait *w = userdata;
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(result, "listeners"), w->name);

	w->done = true;
	if (err)
		w->fd = bk_error_errno(err);
	else if (!node || (w->fd = bk_conn_take_fd(c, node)) < 0)
		w->fd = -ENOENT;
}

/* The listening socket named name, from host.context(). */
int bk_listener(bk_conn *c, const char *name)
{
	struct listener_wait w = { .name = name, .fd = -ENOTCONN };
	int r;

	if (!c || !name)
		return -EINVAL;
	if ((r = bk_call(c, "host", "context", listener_reply_cb, &w, "")) < 0)
		return r;
	bk_conn_ref(c);
	while (!w.done && bki_run_iterate(c, BK_NO_DEADLINE) == 0)
		;
	bk_conn_unref(c);
	return w.fd;
}
