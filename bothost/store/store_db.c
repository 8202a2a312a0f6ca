/* SPDX-License-Identifier: ISC */
/* The store's SQLite database. */
#include "config.h"

#include "store_db.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "store_sqlite.h"

/* How long a write waits for a lock another process holds (sqlite3 CLI). */
#define STORE_DB_BUSY_MS 2000
/* Integers a JSON number holds exactly. */
#define STORE_DB_INT_MAX 9007199254740992.0

enum store_db_stmt {
	STMT_GET, STMT_PUT, STMT_DEL, STMT_SIZE, STMT_SIZE_SET, STMT_LIST, STMT_NS,
	STMT_BEGIN, STMT_COMMIT, STMT_ROLLBACK, STMT_COUNT
};

static const char *const store_db_sql[STMT_COUNT] = {
	[STMT_GET] = "SELECT value FROM kv WHERE ns = ?1 AND key = ?2",
	[STMT_PUT] = "INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?1, ?2, ?3)",
	[STMT_DEL] = "DELETE FROM kv WHERE ns = ?1 AND key = ?2",
	[STMT_SIZE] = "SELECT bytes FROM sizes WHERE ns = ?1",
	[STMT_SIZE_SET] = "INSERT OR REPLACE INTO sizes (ns, bytes) VALUES (?1, ?2)",
	/* ?3 NULL: from the prefix on; a key: only the keys after it */
	[STMT_LIST] = "SELECT key, value FROM kv WHERE ns = ?1 AND key >= ?2 AND (?3 IS NULL OR key > ?3) ORDER BY key",
	[STMT_NS] = "SELECT kv.ns, count(*), sizes.bytes FROM kv JOIN sizes ON sizes.ns = kv.ns "
		    "GROUP BY kv.ns ORDER BY kv.ns",
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
};

static const char store_db_schema[] =
	"PRAGMA journal_mode = WAL;"
	"PRAGMA synchronous = NORMAL;"
	"CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (ns, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS sizes (ns TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;";

struct store_db {
	sqlite3 *sql;
	char *path;
	sqlite3_stmt *stmt[STMT_COUNT];
	char error[256];	/* of the last -EIO */
};

/* Record SQLite's complaint (prefixed with the path) and return -EIO. */
static int store_db_fail(struct store_db *db)
{
	snprintf(db->error, sizeof db->error, "%s: %s", db->path, store_sqlite.errmsg(db->sql));
	return -EIO;
}

/* The statement s, reset and bound to ns and key (when given). */
static sqlite3_stmt *store_db_stmt(struct store_db *db, enum store_db_stmt s, const char *ns, const char *key)
{
	sqlite3_stmt *st = db->stmt[s];

	store_sqlite.reset(st);
	store_sqlite.clear_bindings(st);
	if (ns)
		store_sqlite.bind_text(st, 1, ns, -1, SQLITE_STATIC);
	if (key)
		store_sqlite.bind_text(st, 2, key, -1, SQLITE_STATIC);
	return st;
}

/* Run a statement that returns no row. */
static int store_db_exec(struct store_db *db, sqlite3_stmt *st)
{
	int rc = store_sqlite.step(st);

	store_sqlite.reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_db_fail(db);
}

/* Make the parent directories of path (mode 0700) as needed. */
static void store_db_mkdirs(const char *path)
{
	char *dir = strdup(path);

	for (char *p = dir ? dir + 1 : NULL; p && (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0700);
		*p = '/';
	}
	free(dir);
}

/* Open path, loading SQLite first. */
int store_db_open(const char *path, struct store_db **ret, char **ret_error)
{
	struct store_db *db = NULL;
	int r = store_sqlite_load(ret_error);

	if (r < 0)
		return r;
	r = -ENOMEM;
	db = calloc(1, sizeof *db);
	if (!db || !(db->path = strdup(path)))
		goto fail;
	store_db_mkdirs(path);
	r = -EIO;
	if (store_sqlite.open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL) != SQLITE_OK || !db->sql)
		goto fail_sql;
	store_sqlite.busy_timeout(db->sql, STORE_DB_BUSY_MS);
	if (store_sqlite.db_readonly(db->sql, "main") == 1) {
		if (asprintf(ret_error, "%s: the file is read-only", path) < 0)
			*ret_error = NULL;
		r = -EROFS;
		goto fail;
	}
	if (store_sqlite.exec(db->sql, store_db_schema, NULL, NULL, NULL) != SQLITE_OK)
		goto fail_sql;
	for (int i = 0; i < STMT_COUNT; i++)
		if (store_sqlite.prepare_v2(db->sql, store_db_sql[i], -1, &db->stmt[i], NULL) != SQLITE_OK)
			goto fail_sql;
	*ret = db;
	return 0;
fail_sql:
	if (asprintf(ret_error, "%s: %s", path, db->sql ? store_sqlite.errmsg(db->sql) : "out of memory") < 0)
		*ret_error = NULL;
fail:
	store_db_close(db);
	return r;
}

/* Close db. */
void store_db_close(struct store_db *db)
{
	if (!db)
		return;
	for (int i = 0; i < STMT_COUNT; i++)
		store_sqlite.finalize(db->stmt[i]);
	store_sqlite.close(db->sql);
	free(db->path);
	free(db);
}

/* The text of the last failure. */
const char *store_db_error(const struct store_db *db)
{
	return db->error;
}

/* The value under (ns, key) into *ret_json (allocated), or -ENOENT. */
static int store_db_read(struct store_db *db, const char *ns, const char *key, char **ret_json)
{
	sqlite3_stmt *st = store_db_stmt(db, STMT_GET, ns, key);
	int rc = store_sqlite.step(st);
	int r = 0;

	if (rc == SQLITE_ROW) {
		*ret_json = strdup((const char *)store_sqlite.column_text(st, 0));
		r = *ret_json ? 0 : -ENOMEM;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_db_fail(db);
	}
	store_sqlite.reset(st);
	return r;
}

/* The value under (ns, key). */
int store_db_get(struct store_db *db, const char *ns, const char *key, char **ret_json)
{
	return store_db_read(db, ns, key, ret_json);
}

/* The bytes ns holds (0 when unknown or on failure). */
int64_t store_db_size(struct store_db *db, const char *ns)
{
	sqlite3_stmt *st = store_db_stmt(db, STMT_SIZE, ns, NULL);
	int64_t n = store_sqlite.step(st) == SQLITE_ROW ? store_sqlite.column_int64(st, 0) : 0;

	store_sqlite.reset(st);
	return n;
}

/* Inside a transaction: replace old (NULL: absent) by json (NULL: delete)
 * under (ns, key), keeping ns within limit bytes when it grows. */
static int store_db_apply(struct store_db *db, const char *ns, const char *key, const char *old, const char *json,
			  size_t limit)
{
	int64_t klen = (int64_t)strlen(key);
	int64_t was = old ? klen + (int64_t)strlen(old) : 0, now = json ? klen + (int64_t)strlen(json) : 0;
	int64_t total = store_db_size(db, ns) - was + now;
	sqlite3_stmt *st;
	int r;

	if (now > was && total > (int64_t)limit)
		return -E2BIG;
	st = store_db_stmt(db, json ? STMT_PUT : STMT_DEL, ns, key);
	if (json)
		store_sqlite.bind_text(st, 3, json, -1, SQLITE_STATIC);
	if ((r = store_db_exec(db, st)) < 0)
		return r;
	st = store_db_stmt(db, STMT_SIZE_SET, ns, NULL);
	store_sqlite.bind_int64(st, 2, total < 0 ? 0 : total);
	return store_db_exec(db, st);
}

/* Start a write transaction. */
static int store_db_begin(struct store_db *db)
{
	return store_db_exec(db, store_db_stmt(db, STMT_BEGIN, NULL, NULL));
}

/* End the transaction: commit when r is 0, else roll back; returns r or the commit's failure. */
static int store_db_end(struct store_db *db, int r)
{
	if (r == 0 && (r = store_db_exec(db, store_db_stmt(db, STMT_COMMIT, NULL, NULL))) == 0)
		return 0;
	if (!store_sqlite.get_autocommit(db->sql))
		store_db_exec(db, store_db_stmt(db, STMT_ROLLBACK, NULL, NULL));
	return r;
}

/* Put or delete. */
int store_db_set(struct store_db *db, const char *ns, const char *key, const char *json, size_t limit,
		 bool *ret_changed)
{
	char *old = NULL;
	int r = store_db_begin(db);

	if (r < 0)
		return r;
	r = store_db_read(db, ns, key, &old);
	if (r == -ENOENT)
		r = 0;
	if (r == 0 && (old || json))
		r = store_db_apply(db, ns, key, old, json, limit);
	r = store_db_end(db, r);
	if (r == 0 && ret_changed)
		*ret_changed = old || json;
	free(old);
	return r;
}

/* The integer a JSON text holds: 0 or -EINVAL. */
static int store_db_integer(const char *json, int64_t *ret)
{
	cJSON *v = cJSON_Parse(json);
	int r = -EINVAL;

	if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) <= STORE_DB_INT_MAX) {
		*ret = (int64_t)v->valuedouble;
		r = 0;
	}
	cJSON_Delete(v);
	return r;
}

/* Add by. */
int store_db_incr(struct store_db *db, const char *ns, const char *key, int64_t by, size_t limit, int64_t *ret)
{
	char *old = NULL, text[32];
	int64_t n = 0;
	int r = store_db_begin(db);

	if (r < 0)
		return r;
	r = store_db_read(db, ns, key, &old);
	if (r == -ENOENT)
		r = 0;
	if (r == 0 && old)
		r = store_db_integer(old, &n);
	if (r == 0 && fabs((double)n + (double)by) > STORE_DB_INT_MAX)
		r = -EINVAL;
	if (r == 0) {
		n += by;
		snprintf(text, sizeof text, "%lld", (long long)n);
		r = store_db_apply(db, ns, key, old, text, limit);
	}
	r = store_db_end(db, r);
	if (r == 0)
		*ret = n;
	free(old);
	return r;
}

/* Whether two JSON texts (NULL: absent) say the same. */
static bool store_db_same(const char *a, const char *b)
{
	cJSON *ja, *jb;
	bool same;

	if (!a || !b)
		return !a && !b;
	ja = cJSON_Parse(a);
	jb = cJSON_Parse(b);
	same = ja && jb && cJSON_Compare(ja, jb, true);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	return same;
}

/* Compare and set. */
int store_db_cas(struct store_db *db, const char *ns, const char *key, const char *expect, const char *json,
		 size_t limit, bool *ret_done)
{
	char *old = NULL;
	bool done = false;
	int r = store_db_begin(db);

	if (r < 0)
		return r;
	r = store_db_read(db, ns, key, &old);
	if (r == -ENOENT)
		r = 0;
	if (r == 0 && store_db_same(old, expect)) {
		done = true;
		if (old || json)
			r = store_db_apply(db, ns, key, old, json, limit);
	}
	r = store_db_end(db, r);
	if (r == 0)
		*ret_done = done;
	free(old);
	return r;
}

/* List by prefix, after a key. */
int store_db_list(struct store_db *db, const char *ns, const char *prefix, const char *after, store_db_entry_fn fn,
		  void *userdata)
{
	sqlite3_stmt *st = store_db_stmt(db, STMT_LIST, ns, prefix);
	size_t plen = strlen(prefix);
	int rc, r = 0;

	if (after)
		store_sqlite.bind_text(st, 3, after, -1, SQLITE_STATIC);

	while (r == 0 && (rc = store_sqlite.step(st)) == SQLITE_ROW) {
		const char *key = (const char *)store_sqlite.column_text(st, 0);
		if (strncmp(key, prefix, plen) != 0)
			break;
		r = fn(key, (const char *)store_sqlite.column_text(st, 1), userdata);
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_db_fail(db);
	store_sqlite.reset(st);
	return r < 0 ? r : 0;
}

/* List the namespaces. */
int store_db_namespaces(struct store_db *db, store_db_ns_fn fn, void *userdata)
{
	sqlite3_stmt *st = store_db_stmt(db, STMT_NS, NULL, NULL);
	int rc, r = 0;

	while (r == 0 && (rc = store_sqlite.step(st)) == SQLITE_ROW)
		r = fn((const char *)store_sqlite.column_text(st, 0), store_sqlite.column_int64(st, 1),
		       store_sqlite.column_int64(st, 2), userdata);
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db_fail(db);
	store_sqlite.reset(st);
	return r;
}
