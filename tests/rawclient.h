/* SPDX-License-Identifier: ISC */
/* A raw NDJSON client for the protocol's conformance tests, on the
 * harness's struct test_raw. Unlike harness.h, whose calls return -errno,
 * every call here fails the running Check test with a message saying what
 * was awaited and what came instead; cJSON values returned are the caller's
 * to free. */
#ifndef TEST_RAWCLIENT_H
#define TEST_RAWCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "harness.h"

#define CL_WAIT_MS 3000		/* deadline for a frame the host must send */
#define CL_STAT_MS 3000		/* deadline for stats to settle */

/* A raw client with the frames received while waiting for something else. */
struct cl {
	struct test_raw r;
	cJSON *welcome;
	cJSON *q;		/* unclaimed frames, oldest first */
};

/* ---- JSON */

/* Parse JSON text that the test itself wrote. */
cJSON *J(const char *text);
/* Compact text of v for messages (four rotating static buffers: at most
 * four in one message). */
const char *jstr(const cJSON *v);
/* True when v has everything pat has: objects by subset, the rest exactly. */
bool json_match(const cJSON *pat, const cJSON *v);
/* Assert that v has everything the JSON text want has (objects may hold more). */
void json_has(const cJSON *v, const char *want);
/* Assert that v equals the JSON text want exactly. */
void json_is(const cJSON *v, const char *want);
/* A string field of o, or NULL. */
const char *jget_str(const cJSON *o, const char *k);
/* A number field of o as an integer; fails the test when absent. */
long long jget_int(const cJSON *o, const char *k);

/* ---- the host under test */

/* Start a private bothost with --log-level warn and the NULL-terminated options. */
void cl_host_up(struct test_host *h, const char *const *args);
/* Teardown: the host must still be running and stop cleanly on SIGTERM
 * (nothing when it was not started). */
void cl_host_down(struct test_host *h);
/* Wait until a host.stats total (other clients only) reaches want. */
void cl_stat_is(const struct test_host *h, const char *field, long want);
/* All per-client totals are back to zero. */
void cl_stats_clean(const struct test_host *h);

/* ---- the client */

/* Connect to the socket path and complete the handshake. */
void cl_open(struct cl *c, const char *path, const char *name);
/* Close and free everything. */
void cl_close(struct cl *c);
/* Send one frame; the test fails if the socket refuses it. */
void cl_send(struct cl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send a call; its id. */
uint64_t cl_send_call(struct cl *c, const char *obj, const char *method, const char *args);
/* Take the first frame matching the JSON pattern, queued or arriving within
 * CL_WAIT_MS; frames that do not match are queued. */
cJSON *cl_take(struct cl *c, const char *pattern);
/* Wait for a frame matching the pattern and drop it. */
void cl_see(struct cl *c, const char *pattern);
/* Wait for {"t":"release","fn":fn,"count":count}. */
void cl_see_release(struct cl *c, long long fn, long long count);
/* Wait for a host invoke of our fn that expects an answer (with exactly
 * these args unless NULL); its request id. */
uint64_t cl_take_invoke(struct cl *c, long long fn, const char *args);
/* Wait for the result or error answering request id. */
cJSON *cl_answer(struct cl *c, uint64_t id);
/* Call and return the answer frame. */
cJSON *cl_call(struct cl *c, const char *obj, const char *method, const char *args);
/* The value of a result frame (absent means null); fails on an error frame,
 * naming what in the message. Frees m. */
cJSON *result_value(cJSON *m, const char *what);
/* Call and return the result value. */
cJSON *cl_ok(struct cl *c, const char *obj, const char *method, const char *args);
/* Call and assert the result value is exactly want. */
void cl_ok_is(struct cl *c, const char *obj, const char *method, const char *args, const char *want);
/* Assert that m is an error frame for a request with this error name; its error object. */
const cJSON *error_is(const cJSON *m, const char *name);
/* Call and assert it fails with the error name; the message is returned in msg. */
void cl_err_msg(struct cl *c, const char *obj, const char *method, const char *args,
		const char *name, char *msg, size_t msg_size);
/* Call and assert it fails with the error name. */
void cl_err(struct cl *c, const char *obj, const char *method, const char *args, const char *name);
/* Everything the host sent is accounted for: after a ping round trip nothing is unclaimed. */
void cl_quiet(struct cl *c);

#endif
