/* SPDX-License-Identifier: ISC */
/* The [http] section: defaults, copies and address checks. */
#include "config.h"

#include "http_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_listen.h"

/* The defaults of docs/HTTP.md. */
void http_conf_init(struct http_conf *hc)
{
	*hc = (struct http_conf){
		.body_max = 1u << 20,
		.header_max = 16u << 10,
		.connections_max = 256,
		.inflight_max = 128,
		.handler_wait_ms = 5000,
		.answer_timeout_ms = 10000,
		.idle_timeout_ms = 30000,
	};
}

/* Free the addresses and zero hc. */
void http_conf_clear(struct http_conf *hc)
{
	for (size_t i = 0; i < hc->n_listen; i++)
		free(hc->listen[i]);
	free(hc->listen);
	memset(hc, 0, sizeof *hc);
}

/* A deep copy. */
int http_conf_copy(struct http_conf *dst, const struct http_conf *src)
{
	*dst = *src;
	dst->listen = NULL;
	dst->n_listen = 0;
	if (!src->n_listen)
		return 0;
	if (!(dst->listen = calloc(src->n_listen, sizeof *dst->listen)))
		return -ENOMEM;
	for (size_t i = 0; i < src->n_listen; i++) {
		if (!(dst->listen[i] = strdup(src->listen[i]))) {
			http_conf_clear(dst);
			return -ENOMEM;
		}
		dst->n_listen++;
	}
	return 0;
}

/* Whether addr parses as HOST:PORT. */
int http_conf_check_listen(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return http_listen_parse(addr, &ss, &len);
}
