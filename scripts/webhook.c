/* SPDX-License-Identifier: ISC */
/* webhook: a resident that serves GitHub-style webhooks on an HTTP route
 * of bothost's http object and says each event as one line in an IRC
 * channel.
 *
 *   webhook [--path PATH] [--secret-file FILE | --secret SECRET] CHANNEL
 *
 * Every request must carry X-Hub-Signature-256: sha256=HEX, the HMAC-SHA256
 * of its body with the secret (compared in constant time); one without, or
 * with a wrong one, is answered 401 and nothing is said. X-GitHub-Event
 * names the event: push, issues, check_run and workflow_run become a line
 * in CHANNEL (200 once the line is out), ping is answered 200 without a
 * line, others 202 without a line. PATH defaults to /webhook. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "botkit.h"

struct webhook {
	const char *path;
	const char *channel;
	char secret[512];
};

/* Read the first line of path into buf: 0 or -errno. */
static int webhook_read_secret(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\r\n")] = 0;
	return buf[0] ? 0 : -EINVAL;
}

/* Whether header (X-Hub-Signature-256) is sha256=HMAC(secret, body). */
static bool webhook_signed(const struct webhook *w, const char *header, const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE], given[32];
	unsigned mac_len = 0;

	if (!header || strncmp(header, "sha256=", 7) != 0 || strlen(header + 7) != 64)
		return false;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(header + 7 + 2 * i, "%2x", &v) != 1)
			return false;
		given[i] = (unsigned char)v;
	}
	if (!HMAC(EVP_sha256(), w->secret, (int)strlen(w->secret), (const unsigned char *)body, len, mac, &mac_len) ||
	    mac_len != 32)
		return false;
	return CRYPTO_memcmp(mac, given, 32) == 0;
}

/* A string at a path of members ("repository", "full_name"), or "?". */
static const char *webhook_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : "?";
}

/* The first line of s, at most 120 bytes, into buf. */
static const char *webhook_first_line(const char *s, char *buf, size_t size)
{
	size_t n = strcspn(s, "\r\n");

	snprintf(buf, size, "%.*s%s", (int)(n > 120 ? 120 : n), s, n > 120 ? "..." : "");
	return buf;
}

/* The line for event (NULL: an event without a line). */
static int webhook_line(const char *event, const cJSON *p, char *out, size_t size)
{
	const char *repo = webhook_str(p, "repository", "full_name");
	char first[160];

	if (strcmp(event, "push") == 0) {
		const cJSON *commits = cJSON_GetObjectItemCaseSensitive(p, "commits");
		const char *ref = webhook_str(p, "ref", NULL);
		int n = cJSON_GetArraySize(commits);
		const char *branch = strncmp(ref, "refs/heads/", 11) == 0 ? ref + 11 : ref;
		const char *msg = n ? webhook_str(cJSON_GetArrayItem(commits, n - 1), "message", NULL) : "";
		snprintf(out, size, "[%s] %s pushed %d commit%s to %s%s%s", repo, webhook_str(p, "pusher", "name"), n,
			 n == 1 ? "" : "s", branch, n ? ": " : "", n ? webhook_first_line(msg, first, sizeof first) : "");
	} else if (strcmp(event, "issues") == 0) {
		const cJSON *issue = cJSON_GetObjectItemCaseSensitive(p, "issue");
		snprintf(out, size, "[%s] %s %s issue #%d: %s %s", repo, webhook_str(p, "sender", "login"),
			 webhook_str(p, "action", NULL),
			 (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(issue, "number")),
			 webhook_first_line(webhook_str(issue, "title", NULL), first, sizeof first),
			 webhook_str(issue, "html_url", NULL));
	} else if (strcmp(event, "check_run") == 0 || strcmp(event, "workflow_run") == 0) {
		const cJSON *run = cJSON_GetObjectItemCaseSensitive(p, event);
		const cJSON *concl = cJSON_GetObjectItemCaseSensitive(run, "conclusion");
		snprintf(out, size, "[%s] %s %s: %s on %s %s", repo, strcmp(event, "check_run") == 0 ? "check" : "workflow",
			 webhook_str(run, "name", NULL),
			 cJSON_IsString(concl) ? concl->valuestring : webhook_str(run, "status", NULL),
			 webhook_str(run, "head_branch", NULL), webhook_str(run, "html_url", NULL));
	} else {
		return -ENOENT;
	}
	return 0;
}

/* Answer the request: respond(status, null, text). */
static void webhook_respond(const cJSON *req, int status, const char *text)
{
	bk_fn *respond = bk_json_get_fn(cJSON_GetObjectItemCaseSensitive(req, "respond"));

	if (respond)
		bk_fn_call(respond, NULL, NULL, "ins", status, text);
}

/* The line went out (or not): answer the request kept in userdata. */
static void webhook_said_cb(bk_conn *c, const bk_error *err, const cJSON *result, void *userdata)
{
	cJSON *req = userdata;

	webhook_respond(req, err ? 502 : 200, err ? "the line could not be said on IRC\n" : "ok\n");
	bk_json_delete(req);
}

/* A request: check the signature, parse, say the line. */
static void webhook_cb(bk_conn *c, bk_args *a, void *userdata)
{
	struct webhook *w = userdata;
	const cJSON *req = bk_args_get(a, 0);
	const cJSON *headers = cJSON_GetObjectItemCaseSensitive(req, "headers");
	const char *body = webhook_str(req, "body", NULL);
	const char *event = webhook_str(headers, "x-github-event", NULL);
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(headers, "x-hub-signature-256");
	char line[400];
	cJSON *payload;

	bk_args_return(a, "n");
	if (cJSON_GetObjectItemCaseSensitive(req, "body_encoding") ||
	    !webhook_signed(w, cJSON_GetStringValue(sig), body, strlen(body))) {
		fprintf(stderr, "webhook: %s: bad or missing signature: 401\n", webhook_str(req, "remote", NULL));
		webhook_respond(req, 401, "bad signature\n");
		return;
	}
	if (strcmp(event, "ping") == 0) {
		webhook_respond(req, 200, "pong\n");
		return;
	}
	if (!(payload = cJSON_Parse(body))) {
		webhook_respond(req, 400, "the body is not JSON\n");
		return;
	}
	int r = webhook_line(event, payload, line, sizeof line);
	cJSON_Delete(payload);
	if (r < 0) {
		webhook_respond(req, 202, "event ignored\n");
		return;
	}
	cJSON *keep = bk_json_dup(req);
	if (!keep || bk_call(c, "irc", "say", webhook_said_cb, keep, "ss", w->channel, line) < 0) {
		bk_json_delete(keep);
		webhook_respond(req, 503, "cannot say it now\n");
	}
}

/* Read the arguments into w: 0, or -EINVAL after saying why. */
static int webhook_args(struct webhook *w, int argc, char **argv)
{
	int i = 1;

	w->path = "/webhook";
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--path") == 0)
			w->path = argv[i + 1];
		else if (strcmp(argv[i], "--secret") == 0)
			snprintf(w->secret, sizeof w->secret, "%s", argv[i + 1]);
		else if (strcmp(argv[i], "--secret-file") == 0 &&
			 webhook_read_secret(argv[i + 1], w->secret, sizeof w->secret) < 0) {
			fprintf(stderr, "webhook: cannot read a secret from %s\n", argv[i + 1]);
			return -EINVAL;
		} else if (strcmp(argv[i], "--secret-file") != 0) {
			break;
		}
	}
	if (i != argc - 1 || !w->secret[0]) {
		fprintf(stderr, "usage: webhook [--path PATH] (--secret-file FILE | --secret SECRET) CHANNEL\n");
		return -EINVAL;
	}
	w->channel = argv[i];
	return 0;
}

/* Register the route and serve. */
int main(int argc, char **argv)
{
	struct webhook w;
	bk_conn *c;
	int r;

	memset(&w, 0, sizeof w);
	if (webhook_args(&w, argc, argv) < 0)
		return 2;
	if ((r = bk_conn_new(&c, "webhook")) < 0) {
		fprintf(stderr, "webhook: cannot connect to bothost: %s\n", strerror(-r));
		return 1;
	}
	if ((r = bk_call_sync(c, "http", "route", NULL, "ssf", "POST", w.path, webhook_cb, &w, NULL)) < 0) {
		fprintf(stderr, "webhook: cannot serve POST %s: %s\n", w.path,
			bk_conn_last_error(c) ? bk_error_message(bk_conn_last_error(c)) : strerror(-r));
		bk_conn_unref(c);
		return 1;
	}
	fprintf(stderr, "webhook: serving POST %s into %s\n", w.path, w.channel);
	r = bk_run(c);
	bk_conn_unref(c);
	return r < 0 ? 1 : 0;
}
