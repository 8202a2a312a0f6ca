/* SPDX-License-Identifier: ISC */
/* libmicrohttpd through dlopen: one table of its functions (http_mhd.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dynlib.h"
#include "http_mhd.h"

struct http_mhd http_mhd;

#define HTTP_MHD_SYM(field, name) DYNLIB_SYM(struct http_mhd, field, name)
static const struct dynlib_sym http_mhd_syms[] = {
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
	return -ENOPKG;
}

int http_mhd_load(char **ret_error)
{
	static bool loaded;
	char why[256];

	if (ret_error)
		*ret_error = NULL;
	if (loaded)
		return 0;
	if (dynlib_load(MHD_SONAME, http_mhd_syms, sizeof http_mhd_syms / sizeof http_mhd_syms[0], &http_mhd,
			sizeof http_mhd, why, sizeof why) < 0)
		return http_mhd_fail(ret_error, why);
	loaded = true;
	return 0;
}
