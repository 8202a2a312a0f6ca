/* SPDX-License-Identifier: ISC */
/* botkit: write bothost behaviours in C.
 *
 * A behaviour connects to bothost, calls methods of the objects it hosts (the
 * IRC client, `host`, ...) as if they were local, registers event handlers and
 * passes functions that the host calls back. The protocol is described in
 * docs/PROTOCOL.md; the manual is botkit(3).
 *
 * Conventions
 * - Every object is opaque; `x_unref(NULL)` is a no-op and returns NULL, so
 *   `c = bk_conn_unref(c);` is always safe.
 * - Functions that can fail return 0 (or a non-negative value) on success and
 *   a negative errno code on failure: -EINVAL bad arguments, -ENOTCONN the
 *   connection is gone, -ETIMEDOUT a deadline passed, -ENOBUFS a limit was
 *   reached, -ENOENT no such object/method/event/function, -EPERM refused,
 *   -EPROTO the peer broke the protocol, -EEXIST a service of that name is
 *   provided already, -EIO the call failed on the other
 *   side. The protocol error behind a failed call is in bk_conn_last_error()
 *   (blocking calls) or the completion's `err` (asynchronous calls).
 * - Callbacks take the object first, the payload next, userdata last.
 * - An asynchronous completion is called exactly once, and never before the
 *   function that started it has returned.
 * - The library never prints. Its only global state is the table behind
 *   function nodes (see Values), guarded by a mutex: connections may live in
 *   different threads, each used by one thread at a time. It does not own
 *   the event loop (bk_conn_get_fd / _get_events / _get_timeout /
 *   bk_conn_process, an adapter for libev in <botkit-ev.h>, or bk_run()).
 * - The IRC client's typed API (bk_irc_*) is in <botkit-irc.h>.
 *
 * Values are cJSON trees. Functions inside them are special nodes:
 * bk_json_function() makes one from a C function, bk_json_get_fn() gets the
 * host function out of a received one. A received tree owns a reference to
 * each host function in it; free a tree you own with bk_json_delete(), copy
 * one with bk_json_dup(). A function node is checked by libbotkit on every
 * use, never trusted for what its text says (see Values).
 *
 * Signature strings describe arguments given as varargs, one letter each:
 *   s  const char *            a string (NULL sends null)
 *   i  int                     an integer
 *   x  int64_t                 an integer
 *   d  double                  a number
 *   b  int                     a boolean (0 false, anything else true)
 *   n  (no argument)           null
 *   j  const cJSON *           any JSON value, borrowed (may hold function
 *                              nodes; another raw node gives -EINVAL)
 *   f  bk_function, void *userdata, void (*destroy)(void *)
 *                              a function of this program (destroy may be NULL)
 *   F  bk_fn *                 a host function this program holds
 *   D  int                     a descriptor: a duplicate goes with the frame
 *                              as {"$fd":N} (the "fd" extension)
 */
#ifndef BOTKIT_H
#define BOTKIT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BOTKIT_PROTOCOL_VERSION 1

typedef struct bk_conn bk_conn;		/* a connection to bothost */
typedef struct bk_fn bk_fn;		/* a host function this program holds */
typedef struct bk_slot bk_slot;		/* an event registration */
typedef struct bk_args bk_args;		/* the arguments of a call into this program */
typedef struct bk_error bk_error;	/* a typed protocol error */

/* A function of this program that the host can call (an event handler, a
 * callback passed as an argument). Read the arguments from `args`; answer with
 * bk_args_return() or bk_args_fail(), or return without answering (the caller
 * then gets null). */
typedef void (*bk_function)(bk_conn *c, bk_args *args, void *userdata);

/* Completion of a call: `err` is NULL on success; `result` (never NULL on
 * success, a JSON null when the host returned nothing) is borrowed for the
 * duration of the callback. */
typedef void (*bk_reply_fn)(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata);

/* The connection was lost; `err` says why (Disconnected, ProtocolError, ...). */
typedef void (*bk_disconnect_fn)(bk_conn *c, const bk_error *err, void *userdata);

/* --- Connections ------------------------------------------------------- */

/* Connect to bothost and complete the handshake (blocking, at most the
 * connection's call timeout). Uses the socket in $BOTKIT_FD if set (taking
 * BOTKIT_FD out of the environment and marking the descriptor close-on-exec,
 * so programs this one runs do not inherit the connection), else the path in
 * $BOTKIT_SOCKET, else $XDG_RUNTIME_DIR/bothost/bothost.sock (when
 * XDG_RUNTIME_DIR is an absolute path), else /run/bothost/bothost.sock.
 * `name` labels the client in host logs and stats (NULL: the program name). */
int bk_conn_new(bk_conn **ret, const char *name);
/* The same on a given socket path, or on an already connected socket (the
 * connection takes ownership of fd, also on failure). */
int bk_conn_new_path(bk_conn **ret, const char *path, const char *name);
int bk_conn_new_fd(bk_conn **ret, int fd, const char *name);

bk_conn *bk_conn_ref(bk_conn *c);
/* Dropping the last reference closes the connection: pending calls complete
 * with Disconnected and exported functions are freed (destructors run). */
bk_conn *bk_conn_unref(bk_conn *c);

/* The introspection the host sent in its welcome (section 8 of the protocol),
 * parsed on the first call; NULL when there was none or it is malformed. */
const cJSON *bk_conn_get_objects(bk_conn *c);
/* The id the host gave this client. */
uint64_t bk_conn_get_client_id(bk_conn *c);
/* Default deadline of calls made on this connection; 0 means none. Default 30 s. */
void bk_conn_set_timeout(bk_conn *c, uint64_t usec);
void bk_conn_set_disconnect_handler(bk_conn *c, bk_disconnect_fn fn, void *userdata);
bool bk_conn_is_connected(bk_conn *c);
/* The error behind the last failed blocking call, or NULL. Valid until the next
 * blocking call on the connection. */
const bk_error *bk_conn_last_error(bk_conn *c);

/* --- Event loop integration -------------------------------------------- */

int bk_conn_get_fd(bk_conn *c);
/* POLLIN, plus POLLOUT while output is queued. */
int bk_conn_get_events(bk_conn *c);
/* The next deadline (of a call or a timer) as CLOCK_MONOTONIC microseconds,
 * 0 when there is work to do now, or UINT64_MAX for none. */
uint64_t bk_conn_get_timeout(bk_conn *c);
/* Do everything possible without blocking: read, dispatch, write, expire
 * deadlines, fire the timers that are due. Returns 0, or -ENOTCONN once the connection is lost (the
 * disconnect handler has then run). */
int bk_conn_process(bk_conn *c);
/* Write all queued output, blocking. */
int bk_conn_flush(bk_conn *c);
/* True when nothing is left to wait for: no calls pending, no function of
 * this program held by the host (so no handler registered), no active
 * timer, no output. */
bool bk_conn_is_idle(bk_conn *c);

/* Dispatch until idle, until bk_stop(), or until the connection is lost.
 * Returns 0 (idle or stopped) or a negative errno (-ENOTCONN when lost). */
int bk_run(bk_conn *c);
/* Make bk_run() return once the current dispatch is done. */
void bk_stop(bk_conn *c);

/* --- Calls ------------------------------------------------------------- */

/* Call obj.method(args...) asynchronously. `reply` may be NULL. Returns 0 when
 * the call is queued (reply runs later, exactly once), or a negative errno
 * (reply never runs). */
int bk_call(bk_conn *c, const char *obj, const char *method, bk_reply_fn reply, void *userdata,
	    const char *sig, ...);
/* The same with the arguments as a JSON array (borrowed). */
int bk_call_json(bk_conn *c, const char *obj, const char *method, const cJSON *args,
		 bk_reply_fn reply, void *userdata);
/* The same with a deadline of its own (0: none). */
int bk_call_json_timeout(bk_conn *c, const char *obj, const char *method, const cJSON *args,
			 uint64_t timeout_usec, bk_reply_fn reply, void *userdata);

/* Call and wait. On success returns 0 and, if ret_result is not NULL, the
 * result (free it with bk_json_delete()). While waiting, calls from the host
 * into this program (handlers, callbacks) are dispatched. */
int bk_call_sync(bk_conn *c, const char *obj, const char *method, cJSON **ret_result,
		 const char *sig, ...);
int bk_call_json_sync(bk_conn *c, const char *obj, const char *method, const cJSON *args,
		      cJSON **ret_result);

/* The longest a call may wait for a service's provider (milliseconds). */
#define BK_WAIT_MAX_MS 600000u

/* Call obj.method(args...) as bk_call() / bk_call_sync(), and when obj is
 * neither a host object nor a service provided now, let the host wait up to
 * wait_ms (0 to BK_WAIT_MAX_MS, else -EINVAL) for a client to provide it
 * before failing with NoSuchObject (-ENOENT): a caller so survives its
 * provider's restart (PROTOCOL.md, "Services"). The call's deadline is the
 * connection's plus wait_ms. */
int bk_call_wait(bk_conn *c, const char *obj, const char *method, unsigned wait_ms, bk_reply_fn reply,
		 void *userdata, const char *sig, ...);
int bk_call_wait_sync(bk_conn *c, const char *obj, const char *method, unsigned wait_ms, cJSON **ret_result,
		      const char *sig, ...);

/* --- Events -------------------------------------------------------------- */

/* Register fn(userdata) for obj's event (blocking until the host accepts).
 * With ret_slot, the caller owns the registration: bk_slot_unref() of the last
 * reference removes it. With ret_slot NULL, the registration belongs to the
 * connection. `destroy(userdata)` runs once the host no longer holds the
 * function (removed, once fired, disconnected). The same (fn, userdata) pair
 * is the same function to the host. */
int bk_on(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
	  void (*destroy)(void *), bk_slot **ret_slot);
/* The same, removed after the first event. */
int bk_once(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
	    void (*destroy)(void *), bk_slot **ret_slot);
/* Asynchronous variants: `done` reports the host's answer. */
int bk_on_async(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
		void (*destroy)(void *), bk_slot **ret_slot, bk_reply_fn done, void *done_userdata);
int bk_once_async(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata,
		  void (*destroy)(void *), bk_slot **ret_slot, bk_reply_fn done, void *done_userdata);
/* Remove the most recent registration of (fn, userdata) for the event
 * (blocking). Returns 1 if one was removed, 0 if none matched. */
int bk_off(bk_conn *c, const char *obj, const char *event, bk_function fn, void *userdata);

bk_slot *bk_slot_ref(bk_slot *s);
bk_slot *bk_slot_unref(bk_slot *s);
/* False once the registration has ended (removed, once fired, disconnected). */
bool bk_slot_is_active(bk_slot *s);

/* --- Timers -------------------------------------------------------------- */

/* A timer of this program fired; `s` is its slot (borrowed). */
typedef void (*bk_timer_fn)(bk_conn *c, bk_slot *s, void *userdata);

/* Call fn in `usec` microseconds (CLOCK_MONOTONIC) and, with `repeat`, every
 * `usec` after that (usec > 0; a late turn is not caught up). Timers are
 * serviced wherever the connection is: bk_run(), bk_conn_process() (its
 * deadline is in bk_conn_get_timeout()), the libev adapter, and while a
 * blocking call waits; fn never runs before bk_timer_add() has returned.
 * With ret_slot the caller owns the timer: bk_slot_unref() of the last
 * reference cancels it (inside fn too). With ret_slot NULL it belongs to the
 * connection. Either way bk_timer_remove() ends it. destroy(userdata) runs
 * once when the timer ends (fired once, removed, cancelled, connection lost
 * or freed), after fn has returned. An active timer keeps bk_run() going.
 * Returns 0, -EINVAL (no fn, or repeat with usec 0), -ENOTCONN, -ENOMEM. */
int bk_timer_add(bk_conn *c, uint64_t usec, bool repeat, bk_timer_fn fn, void *userdata,
		 void (*destroy)(void *), bk_slot **ret_slot);
/* End a timer now (also a floating one, also inside its fn). Returns 1 if it
 * was active, 0 if it had ended, -EINVAL for a slot that is no timer. */
int bk_timer_remove(bk_slot *s);

/* --- Services ------------------------------------------------------------ */

/* One method of a service this program provides; a table of them ends with
 * an entry whose name is NULL. */
typedef struct bk_method {
	const char *name;	/* 1 to 64 letters, digits, '_', '-', '.' */
	/* The arguments, one letter each as for bk_args_read(): s string,
	 * i or x integer, d number, b boolean, j any value, F function; the
	 * letters after a '?' are optional. The host checks every call against
	 * it (InvalidArguments) before fn runs. NULL: any arguments, unchecked. */
	const char *sig;
	const char *doc;	/* for introspection; NULL: none */
	/* Serves a call: reads the arguments from `args` and answers with
	 * bk_args_return() or bk_args_fail() (now, or later after
	 * bk_args_ref()); userdata is the service's. */
	bk_function fn;
	const char *args;	/* the arguments' names, space-separated ("nick");
				 * NULL: arg1, arg2, ... */
	const char *returns;	/* the result's type for introspection; NULL: any */
} bk_method;

/* Offer `methods` to the other clients as the service `name` (host.provide;
 * blocking until the host answers). Others call it as obj `name`, with
 * bk_call() / bk_call_wait(), or through bk_lookup(). Returns 0, -EINVAL (a
 * malformed table or name), -EEXIST (another client, or this one, provides
 * the name: ServiceExists), -EPERM (the name of a host object), -ENOBUFS
 * (too many services), -ENOTCONN. With ret_slot the caller owns the
 * service: bk_slot_unref() of the last reference withdraws it; with
 * ret_slot NULL it lasts as long as the connection. bk_slot_is_active() is
 * false once it has ended (withdrawn, connection lost). destroy(userdata)
 * runs once, when the service has ended and the host holds none of its
 * methods any more; never when bk_provide() fails. */
int bk_provide(bk_conn *c, const char *name, const bk_method *methods, const char *doc, void *userdata,
	       void (*destroy)(void *), bk_slot **ret_slot);
/* host.lookup(name, wait_ms) (blocking): *ret_methods gets {method: function}
 * (free it with bk_json_delete()); each function calls the service by name
 * with that wait (bk_json_get_fn(), bk_fn_call()), so it keeps working across
 * a restart of the provider. -ENOENT when no provider came within wait_ms. */
int bk_lookup(bk_conn *c, const char *name, unsigned wait_ms, cJSON **ret_methods);

/* --- Arguments of calls into this program -------------------------------- */

unsigned bk_args_count(const bk_args *a);
/* The whole argument array, and one argument (NULL past the end). */
const cJSON *bk_args_json(const bk_args *a);
const cJSON *bk_args_get(const bk_args *a, unsigned i);
/* Typed access: NULL / 0 when absent or of another type. */
const char *bk_args_string(const bk_args *a, unsigned i);
int64_t bk_args_int(const bk_args *a, unsigned i);
bk_fn *bk_args_fn(const bk_args *a, unsigned i);
/* Take the descriptor of argument i ({"$fd":N}): the caller owns it. Only
 * in the handler: descriptors not taken are closed when it returns. -1 when
 * argument i is no descriptor, or was taken. */
int bk_args_fd(const bk_args *a, unsigned i);
/* Read leading arguments by signature into pointers: s const char **, i int *,
 * x int64_t *, d double *, b bool *, j const cJSON **, F bk_fn ** (borrowed),
 * D int * (a descriptor, borrowed for the handler; bk_args_fd takes it).
 * Returns 0, -ENXIO when there are fewer arguments, -EINVAL on a type mismatch. */
int bk_args_read(const bk_args *a, const char *sig, ...);
/* True when the host waits for an answer. */
bool bk_args_wants_result(const bk_args *a);
/* Answer with one value described by a one-letter signature. Once only:
 * later answers return -EALREADY. */
int bk_args_return(bk_args *a, const char *sig, ...);
int bk_args_return_json(bk_args *a, const cJSON *value);
int bk_args_fail(bk_args *a, const char *name, const char *message);
/* Keep the arguments (and the right to answer) beyond the function's return;
 * the answer is sent when given, or null when the last reference goes. */
bk_args *bk_args_ref(bk_args *a);
bk_args *bk_args_unref(bk_args *a);
bk_conn *bk_args_get_conn(const bk_args *a);

/* --- Host functions ------------------------------------------------------ */

/* A host function found in a received value is borrowed from that value; take
 * a reference to keep it. Dropping the last reference releases it to the host. */
bk_fn *bk_fn_ref(bk_fn *f);
bk_fn *bk_fn_unref(bk_fn *f);
/* Call it: with `reply` the host's answer comes back; with reply NULL it is a
 * notification. Same return rules as bk_call(). */
int bk_fn_call(bk_fn *f, bk_reply_fn reply, void *userdata, const char *sig, ...);
int bk_fn_call_json(bk_fn *f, const cJSON *args, bk_reply_fn reply, void *userdata);
int bk_fn_call_sync(bk_fn *f, cJSON **ret_result, const char *sig, ...);
bk_conn *bk_fn_get_conn(const bk_fn *f);

/* --- Values ---------------------------------------------------------------- */

/* A function node is a cJSON_Raw node that libbotkit made (the functions
 * below, a received tree, bk_json_dup()) and lists in a table of its own; its
 * text is only a serial number ("\"<botkit function 12>\"", so cJSON_Print
 * shows a string) and holds no pointer. The table knows each node by its
 * address: only that very node is a function. Any other raw node (a
 * cJSON_Duplicate() copy, a cJSON_CreateRaw() node whatever its text, a node
 * whose function was released by bk_json_delete() or whose connection was
 * freed) is no function: bk_json_is_function() is false, bk_json_get_fn()
 * NULL, sending it fails with -EINVAL (nothing is sent), and freeing it
 * releases nothing. So a copy made with cJSON_Duplicate() is refused when
 * used, while the original keeps working; copy with bk_json_dup(), which
 * counts. cJSON_Delete() (not bk_json_delete()) of a tree holding function
 * nodes never crashes and never releases anything twice; it keeps the host
 * functions of the tree until their connection is freed (the host is not told
 * before), and a bk_json_function() node's small record until the process
 * exits. Nodes move freely between trees (cJSON_DetachItem...,
 * cJSON_AddItemTo...): the node, not its place, is the function. */

/* A node that sends fn(userdata) as a function (the same pair is always the
 * same function to the host); destroy(userdata) runs when the host drops it.
 * NULL when fn is NULL or memory runs out. */
cJSON *bk_json_function(bk_function fn, void *userdata, void (*destroy)(void *));
/* A node that sends a host function back to the host (takes a reference). */
cJSON *bk_json_host_function(bk_fn *f);
/* True for function nodes of either kind. */
bool bk_json_is_function(const cJSON *node);
/* The host function a node stands for (borrowed from the node), or NULL. */
bk_fn *bk_json_get_fn(const cJSON *node);
/* Descriptors (the "fd" extension, PROTOCOL.md section 12). A node that
 * sends a duplicate of fd as {"$fd":N} with its frame (SCM_RIGHTS); fd
 * stays the caller's and must stay open until the message is queued. NULL
 * when fd < 0 or memory runs out. */
cJSON *bk_json_fd(int fd);
/* Take the descriptor a received node stands for (a result's, an event's):
 * the caller owns it then. Only during the callback that received it:
 * descriptors nothing took are closed when it returns. -1 when node is no
 * descriptor of that frame, or was taken. */
int bk_conn_take_fd(bk_conn *c, const cJSON *node);
/* The listening socket of the host's [listen NAME] section named name that
 * the behaviour's section asks for (listen = NAME): blocks for
 * host.context() and takes context.listeners.NAME. The caller owns the
 * descriptor (close-on-exec, blocking; its open file is shared with the
 * host, which keeps it open across restarts). -ENOENT when the context has
 * no such listener, -EINVAL when c or name is NULL, or the call's error. */
int bk_listener(bk_conn *c, const char *name);
/* Deep copy in which each function node is a new node standing for the same
 * function (a host function gets one more reference); raw nodes that are no
 * function stay none. NULL when v is NULL or memory runs out. */
cJSON *bk_json_dup(const cJSON *v);
/* Free a tree, releasing the host functions its function nodes hold. Returns
 * 0, or -EINVAL when the tree held raw nodes that are no function node (they
 * are freed all the same, and release nothing). */
int bk_json_delete(cJSON *v);

/* --- Errors ---------------------------------------------------------------- */

const char *bk_error_name(const bk_error *e);
const char *bk_error_message(const bk_error *e);
/* Extra data the error carried, or NULL. */
const cJSON *bk_error_data(const bk_error *e);
/* The negative errno code for the error's name (see the conventions above). */
int bk_error_errno(const bk_error *e);
/* The negative errno code for a protocol error name. */
int bk_errno_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
