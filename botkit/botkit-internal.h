/* SPDX-License-Identifier: ISC */
/* libbotkit internals: the connection and the objects that hang off it.
 *
 * Naming: the public API is bk_* (only those names are exported); every other
 * symbol with external linkage in libbotkit is bki_* ("botkit internal"), so
 * that none can collide with bothost's internal names or a program's; keep
 * it so for anything new. File-local (static) names are free.
 *
 * Ownership in short:
 * - bk_conn is refcounted; bk_conn_process, bk_run and the blocking calls
 *   hold a reference while they dispatch, so a callback may drop the last
 *   reference the program holds.
 * - struct export: a function of this program the host holds (key: function
 *   pointer and userdata). Freed, with its destructor, when the host released
 *   every copy it was sent and no call into it is running.
 * - bk_fn: a host function this program holds; the last unref sends release.
 * - struct pending: a request of this program awaiting its answer.
 * - bk_args: the arguments of a call into this program.
 * - bk_slot: an event registration, linked to the export of its function;
 *   or a timer (timer.c), in the connection's timer heap while active; or a
 *   service this program provides (provide.c, struct provide).
 * - struct fnode: what a function node of a cJSON tree stands for, in a
 *   process-wide table (json.c); the node's text holds only its serial.
 * Objects that outlive their connection (bk_fn, bk_args, bk_slot) are
 * detached from it when it is freed and then refuse to talk. */
#ifndef BOTKIT_INTERNAL_H
#define BOTKIT_INTERNAL_H

#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "botkit.h"
#include "wire/buf.h"
#include "wire/fdq.h"
#include "wire/frame.h"
#include "wire/map.h"
#include "wire/wire.h"

#define BK_DEFAULT_TIMEOUT_USEC (30ULL * 1000000ULL)
#define BK_FRAME_MAX_DEFAULT 1048576
#define BK_READ_CHUNK 65536
#define BK_NO_DEADLINE UINT64_MAX

enum conn_state {
	CONN_HANDSHAKE,	/* hello sent, waiting for welcome */
	CONN_READY,
	CONN_CLOSING,	/* the connection failed; the loss is not reported yet */
	CONN_LOST,	/* the loss was reported: pending calls failed, exports freed */
};

struct bk_error {
	char *name;
	char *message;
	cJSON *data;	/* NULL when absent */
};

enum export_state {
	EXPORT_LIVE,	/* in the connection's tables */
	EXPORT_DROPPED,	/* out of the tables (connection lost), freed when its calls end */
};

struct export {
	enum export_state state;
	uint64_t id;
	bk_function fn;
	void *userdata;
	void (*destroy)(void *);
	uint64_t sent;		/* copies sent and not yet released */
	unsigned calls;		/* invocations running right now */
	struct bk_slot *slots;	/* registrations made with this function, oldest first */
	struct export *next;	/* list of exports being dropped */
};

/* Undo record of one export written into a message still being built. */
struct export_undo {
	struct export *export;
	void (*destroy)(void *);
	bool created;
};

struct bk_fn {
	unsigned refs;
	bk_conn *conn;		/* NULL once the connection is freed */
	uint64_t id;		/* the host's token id */
	uint64_t received;	/* receipts since the last release */
};

/* The state a blocking call waits on. */
struct sync_wait {
	bool done;
	int r;
	cJSON *result;
	bk_error *error;
};

struct pending {
	uint64_t id;
	uint64_t deadline;	/* CLOCK_MONOTONIC usec, or BK_NO_DEADLINE */
	size_t heap_index;	/* SIZE_MAX when not in the deadline heap */
	bk_reply_fn reply;
	void *userdata;
	struct sync_wait *sync;	/* set for blocking calls */
	struct bk_slot *slot;	/* the registration an on/once request makes */
	struct pending *prev, *next;
};

struct pending_list {
	struct pending *head, *tail;
};

enum slot_state {
	SLOT_ACTIVE,
	SLOT_ENDED,
};

enum slot_kind {
	SLOT_EVENT,	/* an event registration (slot.c) */
	SLOT_TIMER,	/* a timer (timer.c) */
	SLOT_SERVICE,	/* a service this program provides (provide.c) */
};

/* The timer part of a SLOT_TIMER slot. */
struct slot_timer {
	uint64_t deadline;	/* CLOCK_MONOTONIC usec */
	uint64_t interval;	/* usec; 0 for a timer that fires once */
	size_t heap_index;	/* SIZE_MAX when not in the connection's timer heap */
	bk_timer_fn fn;
	void *userdata;
	void (*destroy)(void *);
	bool firing;		/* fn is running: ending and freeing wait for its return */
	struct bk_slot *due_next;	/* in the list of timers being fired */
};

struct bk_slot {
	unsigned refs;		/* references of the program; 0 for a floating slot */
	enum slot_kind kind;
	enum slot_state state;
	bool floating;		/* owned by the connection, freed when it ends */
	bk_conn *conn;
	struct export *export;	/* while active */
	struct pending *pending;	/* the on/once request while unanswered */
	char *obj;
	char *event;
	struct bk_slot *prev, *next;	/* in export->slots */
	struct slot_timer timer;	/* SLOT_TIMER only */
	struct provide *service;	/* SLOT_SERVICE only */
};

struct bk_args {
	unsigned refs;
	bk_conn *conn;		/* NULL once the connection is freed */
	cJSON *args;		/* the decoded argument array */
	uint64_t id;		/* request id, 0 for a notification */
	bool answered;
	struct bk_args *prev, *next;
};

/* The descriptor number a descriptor node names ("fd:N"), or -1. */
int bki_json_fd_number(const cJSON *node);
/* Queue a duplicate of fd with the message being built: 0 with its index,
 * or -errno (-ETOOMANYREFS past fds_per_frame). */
int bki_conn_queue_fd(bk_conn *c, int fd, unsigned *ret_index);
/* Take descriptor fd of the frame being dispatched: fd, or -1 when it is
 * not one of its descriptors (or was taken). */
int bki_conn_take_fd(bk_conn *c, int fd);

struct bk_conn {
	unsigned refs;
	bool freeing;
	enum conn_state state;
	int fd;

	struct frame_reader in;
	struct buf out;
	/* descriptors (the "fd" extension): received and not yet claimed by a
	 * frame; those of the frame being dispatched (in the dispatcher's
	 * frame, -1 once taken); queued to send, and before this message */
	struct fdq fds_in;
	int *frame_fds;
	size_t frame_nfds;
	struct fdq fds_out;
	size_t fds_out_mark;
	size_t fds_per_frame;	/* the host's, from welcome */
	unsigned cork;		/* > 0 while a batch of input is dispatched */
	bool out_blocked;	/* the kernel buffer was full at the last write */
	bool out_dead;		/* the host stopped reading: output is dropped and
				 * input is read up to its end */
	size_t frame_max;

	cJSON *objects;		/* the welcome's introspection, once parsed */
	char *objects_text;	/* until then its text, or NULL */
	size_t objects_len;
	uint64_t client_id;
	uint64_t timeout;	/* default call deadline in usec, 0: none */
	bk_disconnect_fn disconnect_fn;
	void *disconnect_userdata;
	bk_error *last_error;
	bk_error *lost_error;
	bool stop;

	/* requests of this program */
	uint64_t next_id;
	struct map pending;		/* id -> struct pending */
	struct pending_list pending_list;	/* same, in the order they started */
	struct pending_list deferred;	/* to complete with Disconnected from the loop */
	struct pending **heap;		/* by deadline */
	size_t heap_len, heap_cap;

	/* timers of this program (timer.c): active ones, by deadline */
	struct bk_slot **timers;
	size_t timers_len, timers_cap;

	/* function tokens */
	uint64_t next_token;
	struct map exports_by_id;	/* id -> struct export */
	struct map exports_by_key;	/* (fn, userdata) -> struct export */
	struct map imports;		/* id -> bk_fn */
	struct export_undo *undo;	/* exports written into the message being built */
	size_t undo_len, undo_cap;

	/* calls into this program */
	struct bk_args *args;		/* live argument objects */
	unsigned args_waiting;		/* of them, requests not answered yet */

	/* function nodes standing for host functions of this connection or
	 * received as its tokens (json.c); guarded by the table's lock */
	size_t fnodes;

	/* IRC event handlers (irc.c): (handler, userdata) -> struct irc_pair;
	 * its storage is freed whenever it empties, which every export being
	 * freed brings about */
	struct map irc_pairs;
};

/* error.c */
extern const bk_error bki_error_disconnected;
extern const bk_error bki_error_timeout;
bk_error *bki_error_new(const char *name, const char *message, cJSON *data);
bk_error *bki_error_dup(const bk_error *e);
bk_error *bki_error_free(bk_error *e);

/* conn.c */
static inline bool conn_is_open(const bk_conn *c)
{
	return c->state == CONN_HANDSHAKE || c->state == CONN_READY;
}
size_t bki_conn_msg_begin(bk_conn *c);
int bki_conn_msg_end(bk_conn *c, size_t mark);
void bki_conn_msg_abort(bk_conn *c, size_t mark);
void bki_conn_queued(bk_conn *c);
int bki_conn_flush_some(bk_conn *c);
void bki_conn_input(bk_conn *c);
int bki_conn_dispatch_buffered(bk_conn *c);
void bki_conn_fail(bk_conn *c, const char *name, const char *message);
void bki_conn_fail_error(bk_conn *c, bk_error *e);
void bki_conn_protocol_error(bk_conn *c, const char *name, const char *why);
void bki_conn_report_lost(bk_conn *c, bool notify);

/* call.c */
enum request_kind {
	REQUEST_CALL,
	REQUEST_INVOKE,
};

struct request {
	enum request_kind kind;
	const char *obj;	/* call */
	const char *method;	/* call */
	bk_fn *fn;		/* invoke */
	uint64_t timeout;	/* usec, 0: none */
	unsigned wait_ms;	/* call: the "wait" for a provider, 0: none */
	bk_reply_fn reply;
	void *userdata;
	struct sync_wait *sync;
	bool notify;		/* invoke without id */
	const char *sig;	/* arguments by signature (with ap), or */
	va_list *ap;
	const cJSON *args;	/* as a JSON array */
};

int bki_call_start(bk_conn *c, const struct request *rq, struct pending **ret);
int bki_call_start_sig(bk_conn *c, struct request *rq, struct pending **ret, const char *sig, ...);
/* obj.on or obj.once(event, fn, filter) (filter borrowed; NULL: none): as
 * bk_on_async() (slot.c). */
int bki_slot_register_filtered(bk_conn *c, bool once, const char *obj, const char *event, const cJSON *filter,
			       bk_function fn, void *userdata, void (*destroy)(void *), bk_slot **ret_slot,
			       bk_reply_fn done, void *done_userdata);
void bki_call_sync_begin(bk_conn *c);
int bki_call_wait(bk_conn *c, struct sync_wait *st);
void bki_call_dispatch_result(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar);
void bki_call_dispatch_error(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar);
void bki_call_expire(bk_conn *c);
void bki_call_fail_all(bk_conn *c);
void bki_call_run_deferred(bk_conn *c);
uint64_t bki_call_next_deadline(const bk_conn *c);
void bki_call_free_all(bk_conn *c);

/* tokens.c */
int bki_tokens_encode_cb(struct buf *b, const cJSON *node, void *userdata);
int bki_tokens_decode_cb(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata);
int bki_tokens_write_export(bk_conn *c, struct buf *b, bk_function fn, void *userdata,
			void (*destroy)(void *));
int bki_tokens_write_import(bk_conn *c, struct buf *b, bk_fn *f);
void bki_tokens_undo(bk_conn *c);
struct export *bki_tokens_export_get(bk_conn *c, uint64_t id);
struct export *bki_tokens_export_find(bk_conn *c, bk_function fn, void *userdata);
void bki_tokens_export_check(bk_conn *c, struct export *e);
void bki_tokens_dispatch_release(bk_conn *c, const struct wire_msg *m);
void bki_tokens_drop_exports(bk_conn *c);
void bki_tokens_detach_imports(bk_conn *c);

/* json.c: function nodes. A function node is a cJSON_Raw node whose text is
 * "\"<botkit function N>\"" (so that cJSON_Print shows a JSON string), N a
 * serial number never reused in the process. What it stands for is kept in a
 * process-wide table, by serial, with the address of the one node it belongs
 * to: any other node (a cJSON_Duplicate copy, a cJSON_CreateRaw forgery, a
 * node of a released or dropped entry) is no function and is refused. */
enum json_fn_kind {
	JSON_FN_NONE,
	JSON_FN_LOCAL,	/* a function of this program */
	JSON_FN_HOST,	/* a host function (bk_fn) */
};

struct json_fn {
	bk_function fn;
	void *userdata;
	void (*destroy)(void *);
	bk_fn *host;	/* borrowed from the node */
};

enum json_fn_kind bki_json_fn_get(const cJSON *node, struct json_fn *ret);
cJSON *bki_json_local_node_new(bk_conn *c, bk_function fn, void *userdata, void (*destroy)(void *));
cJSON *bki_json_host_node_new(bk_fn *f);
void bki_json_drop_conn(bk_conn *c);
int bki_json_write_value(bk_conn *c, struct buf *b, char letter, va_list *ap);
int bki_json_write_args(bk_conn *c, struct buf *b, const char *sig, va_list *ap, const cJSON *args);

/* args.c */
void bki_args_dispatch_invoke(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar);
void bki_args_detach_all(bk_conn *c);

/* slot.c */
void bki_slot_answered(bk_slot *s, const bk_error *err);
void bki_slot_end(bk_slot *s);
void bki_slot_end_export(struct export *e);

/* timer.c */
void bki_timer_expire(bk_conn *c);
uint64_t bki_timer_next_deadline(const bk_conn *c);
void bki_timer_end_all(bk_conn *c);
bk_slot *bki_timer_slot_unref(bk_slot *s);

/* provide.c */
bk_slot *bki_provide_slot_unref(bk_slot *s);

/* run.c */
uint64_t bki_run_now_usec(void);
uint64_t bki_run_next_deadline(const bk_conn *c);
int bki_run_iterate(bk_conn *c, uint64_t until);
void bki_run_settle(bk_conn *c);

#endif
