/* SPDX-License-Identifier: ISC */
/* libmicrohttpd through dlopen: one table of its functions (http_mhd.h). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_mhd.h"

struct http_mhd http_mhd;

/* Each entry of the table and the symbol that fills it. */
#define HTTP_MHD_SYM(field, name) { offsetof(struct http_mhd, field), #name }
static const struct {
	size_t offset;
	const char *name;
} http_mhd_syms[] = {
	HTTP_MHD_SYM(start_daemon, MHD_start_daemon),
	HTTP_MHD_SYM(stop_daemon, MHD_stop_daemon),
	HTTP_MHD_SYM(get_daemon_info, MHD_get_daemon_info),
	HTTP_MHD_SYM(run, MHD_run),
	HTTP_MHD_SYM(get_timeout, MHD_get_timeout),
	HTTP_MHD_SYM(get_connection_info, MHD_get_connection_info),
	HTTP_MHD_SYM(get_connection_values, MHD_get_connection_values),
	HTTP_MHD_SYM(lookup_connection_value, MHD_lookup_connection_value),
	HTTP_MHD_SYM(suspend_connection, MHD_suspend_connection),
	HTTP_MHD_SYM(resume_connection, MHD_resume_connection),
	HTTP_MHD_SYM(create_response_from_buffer, MHD_create_response_from_buffer),
	HTTP_MHD_SYM(add_response_header, MHD_add_response_header),
	HTTP_MHD_SYM(queue_response, MHD_queue_response),
	HTTP_MHD_SYM(destroy_response, MHD_destroy_response),
};

/* Fail with "the HTTP server needs ...: why". */
static int http_mhd_fail(char **ret_error, const char *why)
{
	if (ret_error && asprintf(ret_error, "the HTTP server ([http] listen) needs %s (Debian: %s): %s",
				  MHD_SONAME, MHD_PACKAGE, why ? why : "cannot load it") < 0)
		*ret_error = NULL;
	memset(&http_mhd, 0, sizeof http_mhd);
	return -ENOPKG;
}

int http_mhd_load(char **ret_error)
{
	static void *handle;
	char why[256];

	if (ret_error)
		*ret_error = NULL;
	if (handle)
		return 0;
	dlerror();
	void *h = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return http_mhd_fail(ret_error, dlerror());
	for (size_t i = 0; i < sizeof http_mhd_syms / sizeof http_mhd_syms[0]; i++) {
		void *sym = dlsym(h, http_mhd_syms[i].name);
		if (!sym) {
			snprintf(why, sizeof why, "it has no %s (too old?)", http_mhd_syms[i].name);
			dlclose(h);
			return http_mhd_fail(ret_error, why);
		}
		/* POSIX: a function's address may be converted from dlsym's void *. */
		memcpy((char *)&http_mhd + http_mhd_syms[i].offset, &sym, sizeof sym);
	}
	handle = h;
	return 0;
}
