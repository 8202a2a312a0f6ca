/* SPDX-License-Identifier: ISC */
/* HTTP requests as protocol values, and the answers handlers give, checked.
 * Pure: no sockets and no HTTP library (the fuzz target http_value drives
 * it). Strings that are not UTF-8 get U+FFFD for each bad byte; a body that
 * is not UTF-8 text (or holds a NUL) is given in base64. */
#ifndef BOTHOST_HTTP_VALUE_H
#define BOTHOST_HTTP_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* The most headers an answer may set, and the bytes of one name or value. */
#define HTTP_ANSWER_HEADERS_MAX 64
#define HTTP_ANSWER_HEADER_MAX 8192

struct http_pair {
	const char *name;
	const char *value;
};

/* A request as the HTTP library gave it (all borrowed). */
struct http_request_info {
	const char *method;
	const char *path;		/* decoded, without the query */
	const char *remote;		/* "HOST:PORT" of the peer */
	const struct http_pair *query;	/* decoded arguments, in order */
	size_t n_query;
	const struct http_pair *headers;	/* in order; names compared ignoring case */
	size_t n_headers;
	const char *body;
	size_t body_len;
};

/* {"method","path","query":{},"headers":{},"body","remote"} (plus
 * "body_encoding":"base64" when needed): header names in lower case,
 * repeated headers joined with ", ", a repeated query argument's last value.
 * NULL on allocation failure. */
cJSON *http_request_json(const struct http_request_info *in);

/* An answer: respond(status, headers?, body?). */
struct http_answer {
	unsigned status;
	char *names[HTTP_ANSWER_HEADERS_MAX];
	char *values[HTTP_ANSWER_HEADERS_MAX];
	size_t n_headers;
	char *body;			/* NUL-terminated copy */
	size_t body_len;
};

/* Check and copy respond's arguments (headers and body may be NULL or JSON
 * null): status an integer from 100 to 599, headers an object of strings
 * (names are HTTP tokens; no CR, LF or NUL in values), body a string. 0,
 * -EINVAL (why says what is wrong) or -ENOMEM. */
int http_answer_parse(const cJSON *status, const cJSON *headers, const cJSON *body, struct http_answer *ret,
		      char *why, size_t len);
/* Free what an answer holds. */
void http_answer_clear(struct http_answer *a);

/* A copy of s (n bytes) with each byte that is not part of valid UTF-8 (and
 * each NUL) replaced by U+FFFD; NULL on allocation failure. */
char *http_utf8_clean(const char *s, size_t n);
/* Whether s (n bytes) is valid UTF-8 without NUL. */
bool http_utf8_valid(const char *s, size_t n);

#endif
