/* SPDX-License-Identifier: ISC */
/* Test harness: a private bothost started per test, and a raw NDJSON client
 * for speaking the protocol without botkit. */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "wire/frame.h"
#include "slowdown.h"	/* test_scaled_ms(); every deadline below is already scaled */

struct test_host {
	pid_t pid;
	char dir[256];		/* private 0700 directory, removed by test_host_stop */
	char path[300];		/* the host's socket path inside dir */
	char log[300];		/* its stderr when started with opts.log, else "" */
};

/* What test_host_start_opts sets up beyond the arguments. */
struct test_host_opts {
	long nofile;		/* RLIMIT_NOFILE (soft and hard) of the host; 0: inherited */
	bool log;		/* the host's stderr goes to h->log (inside dir), not the test's */
};

/* Start $BOTHOST (built bothost) with --socket in a fresh directory plus the
 * NULL-terminated extra arguments (e.g. "--loopback", NULL); return once the
 * socket accepts connections (deadline 10 s). 0 or -errno. */
int test_host_start(struct test_host *h, const char *const *extra_args);
/* test_host_start with options; o NULL is test_host_start. With o->nofile,
 * $BOTHOST_NATIVE is started instead when set (tests/run-valgrind sets it
 * to bothost itself: valgrind's descriptors of its own change the limit). */
int test_host_start_opts(struct test_host *h, const char *const *extra_args,
			 const struct test_host_opts *o);
/* Whether the host's log (opts.log) has a line containing needle so far. */
bool test_host_log_has(const struct test_host *h, const char *needle);
/* How many lines of the host's log contain needle so far. */
int test_host_log_count(const struct test_host *h, const char *needle);
/* 1 when the host maps a file whose path contains needle (a library it
 * loaded: "libsqlite3.so"), 0 when not, -1 when /proc/PID/maps cannot be read. */
int test_host_maps_has(const struct test_host *h, const char *needle);
/* Descriptors the host has open (entries of /proc/PID/fd), or -1. */
int test_host_fd_count(const struct test_host *h);
/* The count once it stayed the same for 100 ms (a peer's close reaches the
 * host's loop a little later). */
int test_host_fd_settled(const struct test_host *h);
/* Wait up to 5 s (scaled) for the count to be want; the last count seen. */
int test_host_fd_wait(const struct test_host *h, int want);
/* SIGTERM, wait (deadline 5 s), then SIGKILL; remove the directory. Returns
 * the exit status as waitpid reports it. */
int test_host_stop(struct test_host *h);

struct test_raw {
	int fd;
	struct frame_reader in;
	uint64_t next_id;
	bool eof;	/* the peer closed the connection (seen by test_raw_recv) */
};

/* Connect to a socket path (no handshake). 0 or -errno. */
int test_raw_connect(struct test_raw *c, const char *path);
/* Connect and complete the handshake; returns the welcome (caller frees) or NULL. */
cJSON *test_raw_hello(struct test_raw *c, const char *path, const char *name);
void test_raw_close(struct test_raw *c);
/* Send one frame (printf-style; the line feed is added). 0 or -errno. */
int test_raw_send(struct test_raw *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* test_raw_send with a va_list. */
int test_raw_vsend(struct test_raw *c, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Send raw bytes as they are. */
int test_raw_write(struct test_raw *c, const void *p, size_t n);
/* The next frame, parsed (caller frees), or NULL on timeout (timeout_ms
 * times $TEST_SLOWDOWN), end of file or unparsable input. */
cJSON *test_raw_recv(struct test_raw *c, int timeout_ms);
/* True when the peer closed the connection within timeout_ms (frames that
 * arrive first are discarded). */
bool test_raw_closed(struct test_raw *c, int timeout_ms);
/* Send {"t":"call","id":<next>,"obj":obj,"method":method,"args":<args_json>}
 * and return the result or error message answering it (caller frees); other
 * frames that arrive meanwhile are appended to *ret_other if given (else freed). */
cJSON *test_raw_call(struct test_raw *c, const char *obj, const char *method,
		     const char *args_json, cJSON **ret_other);

/* A number from host.stats() through a fresh connection: "clients",
 * "handlers", ... of the totals, excluding the asking connection itself;
 * -1 when the host cannot be asked. */
long test_host_stat(const struct test_host *h, const char *field);
/* Wait until test_host_stat(field) == want (deadline ms); returns the last value seen. */
long test_host_stat_wait(const struct test_host *h, const char *field, long want, int deadline_ms);

/* Milliseconds on the monotonic clock. */
uint64_t test_now_ms(void);

#endif
