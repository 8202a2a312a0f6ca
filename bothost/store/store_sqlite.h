/* SPDX-License-Identifier: ISC */
/* SQLite, loaded when the store is first used: bothost does not link it (nor
 * libm, which it pulls in), so that a bot whose behaviours never call the
 * store does not map them. <sqlite3.h> still gives the types and constants;
 * the functions are called through store_sqlite, resolved once by
 * store_sqlite_load. */
#ifndef BOTHOST_STORE_SQLITE_H
#define BOTHOST_STORE_SQLITE_H

#include <sqlite3.h>

/* SQLite's functions the database calls, each of the type that <sqlite3.h>
 * declares. Valid once store_sqlite_load succeeded. */
struct store_sqlite {
	__typeof__(sqlite3_open_v2) *open_v2;
	__typeof__(sqlite3_close) *close;
	__typeof__(sqlite3_busy_timeout) *busy_timeout;
	__typeof__(sqlite3_db_readonly) *db_readonly;
	__typeof__(sqlite3_exec) *exec;
	__typeof__(sqlite3_errmsg) *errmsg;
	__typeof__(sqlite3_get_autocommit) *get_autocommit;
	__typeof__(sqlite3_prepare_v2) *prepare_v2;
	__typeof__(sqlite3_finalize) *finalize;
	__typeof__(sqlite3_reset) *reset;
	__typeof__(sqlite3_clear_bindings) *clear_bindings;
	__typeof__(sqlite3_bind_text) *bind_text;
	__typeof__(sqlite3_bind_int64) *bind_int64;
	__typeof__(sqlite3_step) *step;
	__typeof__(sqlite3_column_text) *column_text;
	__typeof__(sqlite3_column_int64) *column_int64;
};

extern struct store_sqlite store_sqlite;

/* Load SQLite (SQLITE_SONAME, once; it stays loaded) and fill store_sqlite.
 * 0, or -ENOPKG with *ret_error (to free) naming the library, its package
 * and what the loader said; the table is then left empty and the next call
 * tries again. */
int store_sqlite_load(char **ret_error);

#endif
