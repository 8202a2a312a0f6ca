/* SPDX-License-Identifier: ISC */
/* SQLite through dlopen: one table of its functions (store_sqlite.h). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

struct store_sqlite store_sqlite;

/* Each entry of the table and the symbol that fills it. */
#define STORE_SQLITE_SYM(field, name) { offsetof(struct store_sqlite, field), #name }
static const struct {
	size_t offset;
	const char *name;
} store_sqlite_syms[] = {
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
	memset(&store_sqlite, 0, sizeof store_sqlite);
	return -ENOPKG;
}

/* Load SQLite, once. */
int store_sqlite_load(char **ret_error)
{
	static void *handle;
	char why[256];

	if (ret_error)
		*ret_error = NULL;
	if (handle)
		return 0;
	dlerror();
	void *h = dlopen(SQLITE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return store_sqlite_fail(ret_error, dlerror());
	for (size_t i = 0; i < sizeof store_sqlite_syms / sizeof store_sqlite_syms[0]; i++) {
		void *sym = dlsym(h, store_sqlite_syms[i].name);
		if (!sym) {
			snprintf(why, sizeof why, "it has no %s (too old?)", store_sqlite_syms[i].name);
			dlclose(h);
			return store_sqlite_fail(ret_error, why);
		}
		/* POSIX: a function's address may be converted from dlsym's void *. */
		memcpy((char *)&store_sqlite + store_sqlite_syms[i].offset, &sym, sizeof sym);
	}
	handle = h;
	return 0;
}
