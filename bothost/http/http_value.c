/* SPDX-License-Identifier: ISC */
/* HTTP requests as protocol values, and handlers' answers checked. */
#include "config.h"

#include "http_value.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t http_utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Whether s is valid UTF-8 without NUL. */
bool http_utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = http_utf8_seq((const unsigned char *)s + i, n - i)))
			return false;
	return true;
}

/* A copy with bad bytes replaced by U+FFFD. */
char *http_utf8_clean(const char *s, size_t n)
{
	char *out = malloc(n * 3 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0, k; i < n; i += k) {
		k = http_utf8_seq((const unsigned char *)s + i, n - i);
		if (k) {
			memcpy(out + o, s + i, k);
			o += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
		}
	}
	out[o] = 0;
	return out;
}

/* Add key: a cleaned copy of s to o. 0 or -ENOMEM. */
static int http_add_clean(cJSON *o, const char *key, const char *s)
{
	char *c = http_utf8_clean(s ? s : "", s ? strlen(s) : 0);
	cJSON *item = c ? cJSON_CreateString(c) : NULL;

	free(c);
	if (!item)
		return -ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	return cJSON_AddItemToObject(o, key, item) ? 0 : -ENOMEM;
}

/* Base64 of n bytes (allocated). */
static char *http_base64(const char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/* Add the headers: lower-case names, repeats joined with ", ". */
static int http_add_headers(cJSON *o, const struct http_request_info *in)
{
	for (size_t i = 0; i < in->n_headers; i++) {
		char *name = http_utf8_clean(in->headers[i].name, strlen(in->headers[i].name));
		const char *v = in->headers[i].value ? in->headers[i].value : "";
		cJSON *old;
		int r = -ENOMEM;
		if (!name)
			return -ENOMEM;
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		old = cJSON_GetObjectItemCaseSensitive(o, name);
		if (old && cJSON_IsString(old)) {
			size_t n = strlen(old->valuestring) + strlen(v) + 3;
			char *joined = malloc(n);
			if (joined) {
				snprintf(joined, n, "%s, %s", old->valuestring, v);
				r = http_add_clean(o, name, joined);
			}
			free(joined);
		} else {
			r = http_add_clean(o, name, v);
		}
		free(name);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Add the body as text, or base64 with "body_encoding". */
static int http_add_body(cJSON *o, const char *body, size_t len)
{
	cJSON *item;

	if (http_utf8_valid(body ? body : "", body ? len : 0)) {
		char *copy = malloc(len + 1);
		if (!copy)
			return -ENOMEM;
		if (len)
			memcpy(copy, body, len);
		copy[len] = 0;
		item = cJSON_CreateString(copy);
		free(copy);
		return item && cJSON_AddItemToObject(o, "body", item) ? 0 : -ENOMEM;
	}
	char *b64 = http_base64(body, len);
	item = b64 ? cJSON_CreateString(b64) : NULL;
	free(b64);
	if (!item || !cJSON_AddItemToObject(o, "body", item))
		return -ENOMEM;
	return cJSON_AddStringToObject(o, "body_encoding", "base64") ? 0 : -ENOMEM;
}

/* The request as a value's tree. */
cJSON *http_request_json(const struct http_request_info *in)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *q = cJSON_AddObjectToObject(o, "query");
	cJSON *h = cJSON_AddObjectToObject(o, "headers");
	int r = o && q && h ? 0 : -ENOMEM;

	if (r == 0)
		r = http_add_clean(o, "method", in->method);
	if (r == 0)
		r = http_add_clean(o, "path", in->path);
	for (size_t i = 0; r == 0 && i < in->n_query; i++) {
		char *name = http_utf8_clean(in->query[i].name, strlen(in->query[i].name));
		r = name ? http_add_clean(q, name, in->query[i].value) : -ENOMEM;
		free(name);
	}
	if (r == 0)
		r = http_add_headers(h, in);
	if (r == 0)
		r = http_add_body(o, in->body, in->body_len);
	if (r == 0)
		r = http_add_clean(o, "remote", in->remote);
	if (r < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Whether s is an HTTP token (a header name). */
static bool http_token(const char *s)
{
	static const char ok[] = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = strlen(s);

	return n > 0 && n <= HTTP_ANSWER_HEADER_MAX && strspn(s, ok) == n;
}

/* Copy the headers object into a. */
static int http_answer_headers(const cJSON *headers, struct http_answer *a, char *why, size_t len)
{
	const cJSON *h;

	if (!cJSON_IsObject(headers)) {
		snprintf(why, len, "headers must be an object of strings");
		return -EINVAL;
	}
	cJSON_ArrayForEach(h, headers) {
		if (a->n_headers == HTTP_ANSWER_HEADERS_MAX) {
			snprintf(why, len, "at most %d headers", HTTP_ANSWER_HEADERS_MAX);
			return -EINVAL;
		}
		if (!http_token(h->string)) {
			snprintf(why, len, "'%.64s' is not a header name", h->string);
			return -EINVAL;
		}
		if (!cJSON_IsString(h) || strpbrk(h->valuestring, "\r\n") ||
		    strlen(h->valuestring) > HTTP_ANSWER_HEADER_MAX) {
			snprintf(why, len, "header '%.64s' must be a string without CR or LF, of at most %d bytes",
				 h->string, HTTP_ANSWER_HEADER_MAX);
			return -EINVAL;
		}
		if (!(a->names[a->n_headers] = strdup(h->string)) ||
		    !(a->values[a->n_headers] = strdup(h->valuestring))) {
			free(a->names[a->n_headers]);
			return -ENOMEM;
		}
		a->n_headers++;
	}
	return 0;
}

/* Check and copy respond's arguments. */
int http_answer_parse(const cJSON *status, const cJSON *headers, const cJSON *body, struct http_answer *ret,
		      char *why, size_t len)
{
	int r = 0;

	memset(ret, 0, sizeof *ret);
	if (!cJSON_IsNumber(status) || status->valuedouble != (double)(int)status->valuedouble ||
	    status->valuedouble < 100 || status->valuedouble > 599) {
		snprintf(why, len, "status must be an integer from 100 to 599");
		return -EINVAL;
	}
	ret->status = (unsigned)status->valueint;
	if (headers && !cJSON_IsNull(headers))
		r = http_answer_headers(headers, ret, why, len);
	if (r == 0 && body && !cJSON_IsNull(body) && !cJSON_IsString(body)) {
		snprintf(why, len, "body must be a string");
		r = -EINVAL;
	}
	if (r == 0) {
		const char *b = cJSON_IsString(body) ? body->valuestring : "";
		ret->body_len = strlen(b);
		if (!(ret->body = strdup(b)))
			r = -ENOMEM;
	}
	if (r == -ENOMEM)
		snprintf(why, len, "out of memory");
	if (r < 0)
		http_answer_clear(ret);
	return r;
}

/* Free an answer's copies. */
void http_answer_clear(struct http_answer *a)
{
	for (size_t i = 0; i < a->n_headers; i++) {
		free(a->names[i]);
		free(a->values[i]);
	}
	free(a->body);
	memset(a, 0, sizeof *a);
}
