/* SPDX-License-Identifier: ISC */
/* Listening TCP sockets for the HTTP server. */
#include "config.h"

#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A port of 0 to 65535 in decimal: 0 or -EINVAL. */
static int http_listen_port(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (v > 65535)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* Parse "HOST:PORT". */
int http_listen_parse(const char *addr, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	unsigned port;
	size_t n;

	if (!colon || http_listen_port(colon + 1, &port) < 0)
		return -EINVAL;
	n = (size_t)(colon - addr);
	memset(ret, 0, sizeof *ret);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']' && n - 2 < sizeof host) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;
		snprintf(host, sizeof host, "%.*s", (int)(n - 2), addr + 1);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof *sin6;
		return 0;
	}
	if (n == 0 || n >= sizeof host)
		return -EINVAL;
	struct sockaddr_in *sin = (struct sockaddr_in *)ret;
	snprintf(host, sizeof host, "%.*s", (int)n, addr);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -EINVAL;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	*ret_len = sizeof *sin;
	return 0;
}

/* Bind and listen on addr. */
int http_listen_open(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, r;

	if ((r = http_listen_parse(addr, &ss, &len)) < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 512) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The local address of fd as text. */
void http_listen_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN];

	snprintf(buf, size, "?");
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
	}
}
