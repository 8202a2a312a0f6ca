/* SPDX-License-Identifier: ISC */
/* Typed protocol errors and their errno codes. */
#include "botkit-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const bk_error bki_error_disconnected = {
	(char *)"Disconnected", (char *)"the connection to bothost was lost", NULL,
};

const bk_error bki_error_timeout = {
	(char *)"Timeout", (char *)"no answer before the deadline", NULL,
};

/* A new error; takes data (freed on failure too). NULL when out of memory. */
bk_error *bki_error_new(const char *name, const char *message, cJSON *data)
{
	bk_error *e = calloc(1, sizeof *e);

	if (!e)
		goto fail;
	e->name = strdup(name ? name : "Failed");
	e->message = strdup(message ? message : "");
	if (!e->name || !e->message)
		goto fail;
	e->data = data;
	return e;
fail:
	bk_json_delete(data);
	return bki_error_free(e);
}

/* A deep copy, or NULL when out of memory. */
bk_error *bki_error_dup(const bk_error *e)
{
	cJSON *data = NULL;

	if (!e)
		return NULL;
	if (e->data && !(data = bk_json_dup(e->data)))
		return NULL;
	return bki_error_new(e->name, e->message, data);
}

/* Free an error; returns NULL. */
bk_error *bki_error_free(bk_error *e)
{
	if (!e)
		return NULL;
	free(e->name);
	free(e->message);
	bk_json_delete(e->data);
	free(e);
	return NULL;
}

/* The error's stable name. */
const char *bk_error_name(const bk_error *e)
{
	return e ? e->name : NULL;
}

/* The error's human-readable message. */
const char *bk_error_message(const bk_error *e)
{
	return e ? e->message : NULL;
}

/* The machine-readable data the error carried, or NULL. */
const cJSON *bk_error_data(const bk_error *e)
{
	return e ? e->data : NULL;
}

/* The negative errno code of an error; 0 for no error. */
int bk_error_errno(const bk_error *e)
{
	return e ? bk_errno_from_name(e->name) : 0;
}

/* The negative errno code of a protocol error name (PROTOCOL.md, section 7). */
int bk_errno_from_name(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} table[] = {
		{ "InvalidArguments", -EINVAL },  { "LimitExceeded", -ENOBUFS },
		{ "PermissionDenied", -EPERM },   { "Timeout", -ETIMEDOUT },
		{ "Disconnected", -ENOTCONN },    { "ProtocolError", -EPROTO },
		{ "FrameTooLarge", -EPROTO },     { "VersionMismatch", -EPROTO },
		{ "ServiceExists", -EEXIST },
	};

	if (!name)
		return -EIO;
	if (strncmp(name, "NoSuch", 6) == 0)
		return -ENOENT;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(name, table[i].name) == 0)
			return table[i].code;
	return -EIO;
}
