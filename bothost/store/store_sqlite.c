/* SPDX-License-Identifier: ISC */
/* SQLite through dlopen: one table of its functions (store_sqlite.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dynlib.h"
#include "store_sqlite.h"

struct store_sqlite store_sqlite;

#define STORE_SQLITE_SYM(field, name) DYNLIB_SYM(struct store_sqlite, field, name)
static const struct dynlib_sym store_sqlite_syms[] = {
	STORE_SQLITE_SYM(open_v2, sqlite3_open_v2),
	STORE_SQLITE_SYM(close, sqlite3_close),
	STORE_SQLITE_SYM(busy_timeout, sqlite3_busy_timeout),
	STORE_SQLITE_SYM(db_readonly, sqlite3_db_readonly),
	STORE_SQLITE_SYM(exec, sqlite3_exec),
	STORE_SQLITE_SYM(errmsg, sqlite3_errmsg),
	STORE_SQLITE_SYM(get_autocommit, sqlite3_get_autocommit),
	STORE_SQLITE_SYM(prepare_v2, sqlite3_prepare_v2),
	STORE_SQLITE_SYM(finalize, sqlite3_finalize),
	STORE_SQLITE_SYM(reset, sqlite3_reset),
	STORE_SQLITE_SYM(clear_bindings, sqlite3_clear_bindings),
	STORE_SQLITE_SYM(bind_text, sqlite3_bind_text),
	STORE_SQLITE_SYM(bind_int64, sqlite3_bind_int64),
	STORE_SQLITE_SYM(step, sqlite3_step),
	STORE_SQLITE_SYM(column_text, sqlite3_column_text),
	STORE_SQLITE_SYM(column_int64, sqlite3_column_int64),
};

/* Fail with "cannot load SQLite (SONAME, Debian package PACKAGE): why". */
static int store_sqlite_fail(char **ret_error, const char *why)
{
	if (ret_error && asprintf(ret_error, "cannot load SQLite (%s, Debian package %s): %s", SQLITE_SONAME,
				  SQLITE_PACKAGE, why ? why : "not found") < 0)
		*ret_error = NULL;
	return -ENOPKG;
}

/* Load SQLite, once. */
int store_sqlite_load(char **ret_error)
{
	static bool loaded;
	char why[256];

	if (ret_error)
		*ret_error = NULL;
	if (loaded)
		return 0;
	if (dynlib_load(SQLITE_SONAME, store_sqlite_syms, sizeof store_sqlite_syms / sizeof store_sqlite_syms[0],
			&store_sqlite, sizeof store_sqlite, why, sizeof why) < 0)
		return store_sqlite_fail(ret_error, why);
	loaded = true;
	return 0;
}
