/* SPDX-License-Identifier: ISC */
/* Name resolution off the loop: numeric addresses at once, names in a
 * worker thread reporting through ev_async. */
#include "config.h"

#include "resolve.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ev.h>

#include "core/later.h"

struct resolve {
	struct later later;		/* delivers a numeric result */
	char *host, *port;
	resolve_fn fn;
	void *userdata;
	bool cancelled;			/* loop side only */
	bool threaded;
	int err;
	struct addrinfo *res;
	struct resolve *next;		/* in the finished list, under the mutex */
};

/* Lookups finished by worker threads, waiting for the loop. */
static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;
static struct resolve *resolve_done_head, *resolve_done_tail;
static ev_async resolve_async;
static bool resolve_async_started;

/* A getaddrinfo error as -errno. */
static int resolve_gai_errno(int gai, int saved_errno)
{
	switch (gai) {
	case 0:
		return 0;
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return -ENOENT;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return saved_errno > 0 ? -saved_errno : -EIO;
	default:
		return -EIO;
	}
}

/* getaddrinfo for a TCP stream, with extra flags. */
static int resolve_lookup(const char *host, const char *port, int flags, struct addrinfo **ret)
{
	struct addrinfo hints;
	int gai;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | flags;
	errno = 0;
	gai = getaddrinfo(host, port, &hints, ret);
	if (gai != 0)
		*ret = NULL;
	return gai;
}

/* Free a resolution and whatever it still holds. */
static void resolve_free(struct resolve *r)
{
	if (r->res)
		freeaddrinfo(r->res);
	free(r->host);
	free(r->port);
	free(r);
}

/* Hand the result to the caller, who takes the addresses. */
static void resolve_deliver(struct resolve *r)
{
	struct addrinfo *res = r->res;

	r->res = NULL;
	if (r->cancelled) {
		if (res)
			freeaddrinfo(res);
		resolve_free(r);
		return;
	}
	r->fn(r, r->err, res, r->userdata);
	resolve_free(r);
}

/* later.h entry of a numeric lookup. */
static void resolve_later_cb(void *userdata)
{
	resolve_deliver(userdata);
}

/* Deliver every lookup the worker threads finished. */
static void resolve_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct resolve *list;

	pthread_mutex_lock(&resolve_lock);
	list = resolve_done_head;
	resolve_done_head = resolve_done_tail = NULL;
	pthread_mutex_unlock(&resolve_lock);
	while (list) {
		struct resolve *r = list;
		list = r->next;
		resolve_deliver(r);
	}
}

/* The worker: look the name up and queue the result for the loop. */
static void *resolve_thread(void *arg)
{
	struct resolve *r = arg;
	int gai = resolve_lookup(r->host, r->port, 0, &r->res);

	r->err = resolve_gai_errno(gai, errno);
	pthread_mutex_lock(&resolve_lock);
	r->next = NULL;
	if (resolve_done_tail)
		resolve_done_tail->next = r;
	else
		resolve_done_head = r;
	resolve_done_tail = r;
	pthread_mutex_unlock(&resolve_lock);
	/* r may be freed by the loop from here on. */
	ev_async_send(EV_DEFAULT, &resolve_async);
	return NULL;
}

/* Attach the finished-list watcher to the default loop once; it does not
 * keep the loop alive by itself (the caller has its own timeout). */
static void resolve_async_setup(void)
{
	if (resolve_async_started)
		return;
	ev_async_init(&resolve_async, resolve_async_cb);
	ev_async_start(EV_DEFAULT, &resolve_async);
	ev_unref(EV_DEFAULT);
	resolve_async_started = true;
}

/* Start a detached worker with every signal blocked, so signals keep going
 * to the loop's thread. */
static int resolve_spawn(struct resolve *r)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int err;

	if ((err = pthread_attr_init(&attr)) != 0)
		return -err;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, &attr, resolve_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -err;
}

/* Start resolving host:port. */
struct resolve *resolve_start(const char *host, const char *port, resolve_fn fn, void *userdata,
			      int *ret_err)
{
	struct resolve *r = calloc(1, sizeof *r);
	int gai, err = -ENOMEM;

	if (!r)
		goto fail;
	r->fn = fn;
	r->userdata = userdata;
	later_init(&r->later, later_queue_of(EV_DEFAULT), resolve_later_cb, r);
	r->host = strdup(host);
	r->port = strdup(port);
	if (!r->host || !r->port)
		goto fail;
	gai = resolve_lookup(host, port, AI_NUMERICHOST, &r->res);
	if (gai != EAI_NONAME) {
		r->err = resolve_gai_errno(gai, errno);
		later_schedule(&r->later);
		return r;
	}
	resolve_async_setup();
	r->threaded = true;
	if ((err = resolve_spawn(r)) < 0)
		goto fail;
	return r;
fail:
	if (r)
		resolve_free(r);
	*ret_err = err;
	return NULL;
}

/* Cancel: a numeric result is dropped now, a thread's when it arrives. */
void resolve_cancel(struct resolve *r)
{
	if (!r)
		return;
	if (!r->threaded) {
		later_cancel(&r->later);
		resolve_free(r);
		return;
	}
	r->cancelled = true;
}

/* Words for the errors resolve_fn reports. */
const char *resolve_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "name or service not known";
	case -EAGAIN:
		return "temporary failure in name resolution";
	default:
		return strerror(-err);
	}
}
