/* SPDX-License-Identifier: ISC */
/* Fuzzing the HTTP-to-value conversion (bothost/http/http_value.c): a
 * request as libmicrohttpd gives it becomes a protocol value, and a
 * handler's answer is checked.
 *
 * Input: NUL-separated fields: method, path, remote, then name/value pairs
 * (a field starting with '?' is a query argument, any other a header) up
 * to a field "\x01", after which everything (NULs included) is the body;
 * the last 8 bytes' first one also chooses an answer's status.
 * Properties:
 * - the value is an object whose strings are valid UTF-8 without NUL, and
 *   prints as JSON that parses back to the same tree;
 * - every header name is lower case; the body is text, or base64 with
 *   body_encoding when the input's body is not UTF-8 text;
 * - http_answer_parse accepts a status exactly when it is 100 to 599, and
 *   never keeps a header value holding CR or LF. */
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "http/http_value.h"

#define HV_PAIRS_MAX 64

/* Every string in the tree is UTF-8 without NUL. */
static void hv_check_strings(const cJSON *n)
{
	for (; n; n = n->next) {
		if (n->string)
			FUZZ_CHECK(http_utf8_valid(n->string, strlen(n->string)), "a key is not UTF-8");
		if (cJSON_IsString(n))
			FUZZ_CHECK(http_utf8_valid(n->valuestring, strlen(n->valuestring)), "a string is not UTF-8");
		hv_check_strings(n->child);
	}
}

/* The answer's properties for the status s and the header value v. */
static void hv_check_answer(int s, const char *v)
{
	cJSON *status = cJSON_CreateNumber(s), *headers = cJSON_CreateObject(), *body = cJSON_CreateString(v);
	struct http_answer a;
	char why[200];

	cJSON_AddStringToObject(headers, "X-Test", v);
	int r = http_answer_parse(status, headers, body, &a, why, sizeof why);
	bool crlf = strpbrk(v, "\r\n") != NULL;
	FUZZ_CHECK((r == 0) == (s >= 100 && s <= 599 && !crlf && strlen(v) <= HTTP_ANSWER_HEADER_MAX),
		   "status %d, value with CR/LF %d: %d", s, crlf, r);
	if (r == 0)
		http_answer_clear(&a);
	cJSON_Delete(status);
	cJSON_Delete(headers);
	cJSON_Delete(body);
}

FUZZ_ENTRY(http_value)
{
	struct http_pair q[HV_PAIRS_MAX], h[HV_PAIRS_MAX];
	struct http_request_info in = { "", "", "", q, 0, h, 0, "", 0 };
	char *buf = malloc(size + 1);
	const char *fields[3 + 2 * HV_PAIRS_MAX];
	size_t nf = 0, pos = 0;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	buf[size] = 0;
	while (pos < size && nf < sizeof fields / sizeof fields[0]) {
		const char *f = buf + pos;
		size_t n = strlen(f);
		if (strcmp(f, "\x01") == 0) {
			in.body = buf + pos + 2 <= buf + size ? buf + pos + 2 : buf + size;
			in.body_len = size > pos + 2 ? size - pos - 2 : 0;
			break;
		}
		fields[nf++] = f;
		pos += n + 1;
	}
	in.method = nf > 0 ? fields[0] : "";
	in.path = nf > 1 ? fields[1] : "";
	in.remote = nf > 2 ? fields[2] : "";
	for (size_t i = 3; i + 1 < nf; i += 2) {
		if (fields[i][0] == '?' && in.n_query < HV_PAIRS_MAX)
			q[in.n_query++] = (struct http_pair){ fields[i] + 1, fields[i + 1] };
		else if (fields[i][0] != '?' && in.n_headers < HV_PAIRS_MAX)
			h[in.n_headers++] = (struct http_pair){ fields[i], fields[i + 1] };
	}
	cJSON *o = http_request_json(&in);
	if (o) {
		hv_check_strings(o);
		char *text = cJSON_PrintUnformatted(o);
		cJSON *back = text ? cJSON_Parse(text) : NULL;
		FUZZ_CHECK(!text || (back && cJSON_Compare(o, back, true)), "the value does not print as JSON");
		const cJSON *hd;
		cJSON_ArrayForEach(hd, cJSON_GetObjectItemCaseSensitive(o, "headers"))
			for (const char *c = hd->string; *c; c++)
				FUZZ_CHECK(!(*c >= 'A' && *c <= 'Z'), "header name '%s' is not lower case", hd->string);
		bool text_body = http_utf8_valid(in.body, in.body_len);
		FUZZ_CHECK(text_body == !cJSON_GetObjectItemCaseSensitive(o, "body_encoding"), "body encoding");
		cJSON_Delete(back);
		free(text);
		cJSON_Delete(o);
	}
	hv_check_answer(size ? (int)data[0] * 3 : 0, nf > 1 ? fields[1] : "");
	free(buf);
	return 0;
}
