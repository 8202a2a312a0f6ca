/* SPDX-License-Identifier: ISC */
/* libmicrohttpd, loaded when the http object starts listening: bothost does
 * not link it (nor what it pulls in: gnutls and its kin, whose constructors
 * cost memory at load), so that a bot without [http] listen addresses does
 * not pay for HTTP. <microhttpd.h> still gives the types and constants; the
 * functions are called through http_mhd, resolved once by http_mhd_load. */
#ifndef BOTHOST_HTTP_MHD_H
#define BOTHOST_HTTP_MHD_H

#include <microhttpd.h>

/* libmicrohttpd's functions the server calls, each of the type that
 * <microhttpd.h> declares. Valid once http_mhd_load succeeded. */
struct http_mhd {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_run) *run;
	__typeof__(MHD_get_timeout) *get_timeout;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_get_connection_values) *get_connection_values;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_suspend_connection) *suspend_connection;
	__typeof__(MHD_resume_connection) *resume_connection;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
};

extern struct http_mhd http_mhd;

/* Load libmicrohttpd (MHD_SONAME, once; it stays loaded) and fill http_mhd.
 * 0, or -ENOPKG with *ret_error (to free) naming the library, its package
 * and what the loader said; the table is then left empty. */
int http_mhd_load(char **ret_error);

#endif
