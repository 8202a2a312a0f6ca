/* SPDX-License-Identifier: ISC */
/* The store: its database in-process on a temporary file (store_db), and
 * the store object through a real bothost: methods, namespaces and
 * store_access (behaviours are this program), the change event, the size
 * limit, 32 concurrent incrementing processes, a corrupt and an unwritable
 * database, a restart; SQLite loaded at the first call, or missing. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "botkit.h"
#include "store/store_db.h"
#include "harness.h"

static char self[PATH_MAX];

/* A fresh private directory (mkdtemp) in buf. */
static void tmpdir(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/test_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* Remove dir and what it holds (one level). */
static void rmdir_all(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write text to path. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* ---- the database in-process ------------------------------------------------------- */

/* Count the entries of a listing in userdata. */
static int count_entry(const char *key, const char *json, void *userdata)
{
	(*(int *)userdata)++;
	return 0;
}

START_TEST(db_operations)
{
	char dir[64], path[128], *json = NULL, *err = NULL;
	struct store_db *db;
	bool changed = false, done = false;
	int64_t n = 0;
	int count = 0;

	tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/sub/dir/store.db", dir);
	ck_assert_int_eq(store_db_open(path, &db, &err), 0);
	ck_assert_int_eq(store_db_get(db, "a", "k", &json), -ENOENT);
	ck_assert_int_eq(store_db_set(db, "a", "k", "{\"x\":[1,2]}", 1024, &changed), 0);
	ck_assert(changed);
	ck_assert_int_eq(store_db_get(db, "a", "k", &json), 0);
	ck_assert_str_eq(json, "{\"x\":[1,2]}");
	free(json);
	ck_assert_int_eq(store_db_get(db, "b", "k", &json), -ENOENT);	/* namespaces apart */
	ck_assert_int_eq(store_db_size(db, "a"), 1 + 11);
	/* incr: from absent, then on a non-integer */
	ck_assert_int_eq(store_db_incr(db, "a", "n", 5, 1024, &n), 0);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(store_db_incr(db, "a", "n", -7, 1024, &n), 0);
	ck_assert_int_eq(n, -2);
	ck_assert_int_eq(store_db_incr(db, "a", "k", 1, 1024, &n), -EINVAL);
	/* cas: compared as JSON, not as text */
	ck_assert_int_eq(store_db_cas(db, "a", "k", "{ \"x\" : [1, 2] }", "3", 1024, &done), 0);
	ck_assert(done);
	ck_assert_int_eq(store_db_cas(db, "a", "k", "{\"x\":[1,2]}", "4", 1024, &done), 0);
	ck_assert(!done);
	ck_assert_int_eq(store_db_cas(db, "a", "new", NULL, "\"v\"", 1024, &done), 0);
	ck_assert(done);
	/* list by prefix, in key order */
	ck_assert_int_eq(store_db_set(db, "a", "p:1", "1", 1024, NULL), 0);
	ck_assert_int_eq(store_db_set(db, "a", "p:2", "2", 1024, NULL), 0);
	ck_assert_int_eq(store_db_set(db, "a", "q", "2", 1024, NULL), 0);
	ck_assert_int_eq(store_db_list(db, "a", "p:", NULL, count_entry, &count), 0);
	ck_assert_int_eq(count, 2);
	count = 0;
	ck_assert_int_eq(store_db_list(db, "a", "p:", "p:1", count_entry, &count), 0);
	ck_assert_int_eq(count, 1);
	count = 0;
	ck_assert_int_eq(store_db_list(db, "a", "p:", "p:2", count_entry, &count), 0);
	ck_assert_int_eq(count, 0);
	/* delete, and the size follows */
	ck_assert_int_eq(store_db_set(db, "a", "q", NULL, 1024, &changed), 0);
	ck_assert(changed);
	ck_assert_int_eq(store_db_set(db, "a", "q", NULL, 1024, &changed), 0);
	ck_assert(!changed);
	/* the limit: refused when growing past it, shrinking always allowed */
	ck_assert_int_eq(store_db_set(db, "b", "big", "\"0123456789\"", 20, NULL), 0);
	ck_assert_int_eq(store_db_set(db, "b", "big2", "\"0123456789\"", 20, NULL), -E2BIG);
	ck_assert_int_eq(store_db_set(db, "b", "big", "1", 20, NULL), 0);
	ck_assert_int_eq(store_db_size(db, "b"), 4);
	store_db_close(db);
	/* kept after closing */
	ck_assert_int_eq(store_db_open(path, &db, &err), 0);
	ck_assert_int_eq(store_db_get(db, "a", "n", &json), 0);
	ck_assert_str_eq(json, "-2");
	free(json);
	store_db_close(db);
	rmdir_all(dir);
}
END_TEST

START_TEST(db_corrupt_and_readonly)
{
	char dir[64], path[128], *err = NULL;
	struct store_db *db = NULL;

	tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/store.db", dir);
	write_file(path, "this is not an SQLite database, not at all, no no no no no no no no no no no\n");
	ck_assert_int_lt(store_db_open(path, &db, &err), 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, path) && strstr(err, "not a database"), "%s", err);
	free(err);
	if (geteuid() != 0) {	/* root writes whatever the mode says */
		unlink(path);
		ck_assert_int_eq(store_db_open(path, &db, &err), 0);
		store_db_close(db);
		chmod(path, 0444);
		ck_assert_int_lt(store_db_open(path, &db, &err), 0);
		ck_assert_msg(err && strstr(err, path), "%s", err ? err : "(null)");
		free(err);
	}
	rmdir_all(dir);
}
END_TEST

/* ---- through bothost ------------------------------------------------------------------ */

struct env {
	char dir[64];
	char conf[128];
	char db[200];
	struct test_host_opts opts;	/* of the host's start */
	struct test_host host;
	struct test_raw raw;
};

/* Start bothost with a configuration file holding sections (after [store]). */
static void env_start(struct env *e, const char *sections)
{
	char text[4096];
	const char *args[] = { "-c", e->conf, NULL };

	snprintf(text, sizeof text, "[bothost]\nstate_dir = %s/state\n[store]\nsize_max = 4096\n%s", e->dir,
		 sections ? sections : "");
	write_file(e->conf, text);
	ck_assert_int_eq(test_host_start_opts(&e->host, args, &e->opts), 0);
	cJSON *w = test_raw_hello(&e->raw, e->host.path, "store-test");
	ck_assert_ptr_nonnull(w);
	cJSON_Delete(w);
}

/* A fresh world: a directory for the configuration and the state. */
static void env_init(struct env *e, const char *sections)
{
	memset(e, 0, sizeof *e);
	tmpdir(e->dir, sizeof e->dir);
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	snprintf(e->db, sizeof e->db, "%s/state/store.db", e->dir);
	env_start(e, sections);
}

/* Stop bothost (keeping the directory). */
static void env_stop(struct env *e)
{
	test_raw_close(&e->raw);
	test_host_stop(&e->host);
}

/* Stop and remove everything. */
static void env_free(struct env *e)
{
	env_stop(e);
	rmdir_all(e->dir);
}

/* store.method(args) on c: the result's value as JSON text (or "!ErrorName"), to free. */
static char *call_on(struct test_raw *c, const char *method, const char *args)
{
	cJSON *m = test_raw_call(c, "store", method, args, NULL);
	const cJSON *err = cJSON_GetObjectItem(m, "error");
	char *s;

	ck_assert_ptr_nonnull(m);
	if (err) {
		if (asprintf(&s, "!%s", cJSON_GetStringValue(cJSON_GetObjectItem(err, "name"))) < 0)
			s = NULL;
	} else {
		s = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "value"));
	}
	cJSON_Delete(m);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Assert that store.method(args) gives want. */
#define CALL_IS(e, method, args, want) do { \
	char *got_ = call_on(&(e)->raw, method, args); \
	ck_assert_msg(strcmp(got_, want) == 0, "store.%s(%s): %s, not %s", method, args, got_, want); \
	free(got_); \
} while (0)

START_TEST(object_methods)
{
	struct env e;

	env_init(&e, NULL);
	CALL_IS(&e, "get", "[\"k\",\"ns\"]", "null");
	CALL_IS(&e, "set", "[\"k\",{\"a\":[1,\"x\",null,true]},\"ns\"]", "null");
	CALL_IS(&e, "get", "[\"k\",\"ns\"]", "{\"a\":[1,\"x\",null,true]}");
	CALL_IS(&e, "incr", "[\"n\",1,\"ns\"]", "1");
	CALL_IS(&e, "incr", "[\"n\",41,\"ns\"]", "42");
	CALL_IS(&e, "incr", "[\"k\",1,\"ns\"]", "!InvalidArguments");
	CALL_IS(&e, "cas", "[\"n\",41,0,\"ns\"]", "false");
	CALL_IS(&e, "cas", "[\"n\",42,\"done\",\"ns\"]", "true");
	CALL_IS(&e, "cas", "[\"m\",null,1,\"ns\"]", "true");
	CALL_IS(&e, "list", "[\"\",\"ns\"]", "{\"k\":{\"a\":[1,\"x\",null,true]},\"m\":1,\"n\":\"done\"}");
	CALL_IS(&e, "list", "[\"m\",\"ns\"]", "{\"m\":1}");
	CALL_IS(&e, "delete", "[\"m\",\"ns\"]", "true");
	CALL_IS(&e, "delete", "[\"m\",\"ns\"]", "false");
	CALL_IS(&e, "set", "[\"n\",null,\"ns\"]", "null");
	CALL_IS(&e, "namespaces", "[]", "[{\"ns\":\"ns\",\"keys\":1,\"bytes\":24}]");
	/* refused: no namespace for a client that is not a behaviour, bad keys, functions */
	CALL_IS(&e, "get", "[\"k\"]", "!PermissionDenied");
	CALL_IS(&e, "get", "[\"\",\"ns\"]", "!InvalidArguments");
	CALL_IS(&e, "set", "[\"f\",{\"$fn\":1},\"ns\"]", "!InvalidArguments");
	/* the limit of 4096 bytes per namespace */
	char big[3000 + 32];
	snprintf(big, sizeof big, "[\"big\",\"%03000d\",\"ns\"]", 0);
	CALL_IS(&e, "set", big, "null");
	big[2] = 'c';
	CALL_IS(&e, "set", big, "!LimitExceeded");
	CALL_IS(&e, "set", "[\"small\",1,\"other\"]", "null");	/* other namespaces are not charged */
	env_free(&e);
}
END_TEST

START_TEST(change_event)
{
	struct env e;
	cJSON *other = NULL, *m;

	env_init(&e, NULL);
	CALL_IS(&e, "on", "[\"change:ns\",{\"$fn\":1}]", "null");
	CALL_IS(&e, "on", "[\"nothing\",{\"$fn\":2}]", "!NoSuchEvent");
	m = test_raw_call(&e.raw, "store", "set", "[\"k\",[1],\"ns\"]", &other);
	cJSON_Delete(m);
	m = test_raw_call(&e.raw, "store", "incr", "[\"c\",2,\"elsewhere\"]", &other);	/* not heard */
	cJSON_Delete(m);
	m = test_raw_call(&e.raw, "store", "delete", "[\"k\",\"ns\"]", &other);
	cJSON_Delete(m);
	/* the release of the refused function's token goes */
	for (int i = cJSON_GetArraySize(other) - 1; i >= 0; i--)
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(other, i), "t")), "invoke") != 0)
			cJSON_DeleteItemFromArray(other, i);
	ck_assert_msg(cJSON_GetArraySize(other) == 2, "%s", cJSON_PrintUnformatted(other));
	char *a = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(other, 0), "args"));
	char *b = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(other, 1), "args"));
	ck_assert_str_eq(a, "[\"k\",[1],\"ns\"]");
	ck_assert_str_eq(b, "[\"k\",null,\"ns\"]");
	free(a);
	free(b);
	cJSON_Delete(other);
	env_free(&e);
}
END_TEST

#define INCR_PROCS 32
#define INCR_EACH 100

START_TEST(concurrent_incr)
{
	struct env e;
	pid_t pids[INCR_PROCS];
	char want[32];

	env_init(&e, NULL);
	for (int i = 0; i < INCR_PROCS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct test_raw c;
			cJSON *w = test_raw_hello(&c, e.host.path, "incr");
			int ok = 0;
			/* pipelined: every request first, then every answer */
			for (int j = 0; w && j < INCR_EACH; j++)
				test_raw_send(&c, "{\"t\":\"call\",\"id\":%d,\"obj\":\"store\",\"method\":\"incr\","
					      "\"args\":[\"hits\",1,\"shared\"]}", j + 1);
			for (int j = 0; w && j < INCR_EACH; j++) {
				cJSON *m = test_raw_recv(&c, 10000);
				ok += m && cJSON_IsNumber(cJSON_GetObjectItem(m, "value"));
				cJSON_Delete(m);
			}
			_exit(ok == INCR_EACH ? 0 : 1);
		}
	}
	for (int i = 0; i < INCR_PROCS; i++) {
		int status;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "incrementer %d failed", i);
	}
	snprintf(want, sizeof want, "%d", INCR_PROCS * INCR_EACH);
	CALL_IS(&e, "get", "[\"hits\",\"shared\"]", want);
	env_free(&e);
}
END_TEST

START_TEST(restart_keeps)
{
	struct env e;

	env_init(&e, NULL);
	CALL_IS(&e, "set", "[\"k\",{\"kept\":true},\"ns\"]", "null");
	CALL_IS(&e, "incr", "[\"n\",7,\"ns\"]", "7");
	env_stop(&e);
	env_start(&e, NULL);
	CALL_IS(&e, "get", "[\"k\",\"ns\"]", "{\"kept\":true}");
	CALL_IS(&e, "incr", "[\"n\",1,\"ns\"]", "8");
	env_free(&e);
}
END_TEST

START_TEST(corrupt_database)
{
	struct env e;
	char state[128];

	memset(&e, 0, sizeof e);
	tmpdir(e.dir, sizeof e.dir);
	snprintf(e.conf, sizeof e.conf, "%s/bothost.conf", e.dir);
	snprintf(state, sizeof state, "%s/state", e.dir);
	ck_assert_int_eq(mkdir(state, 0700), 0);
	snprintf(e.db, sizeof e.db, "%s/store.db", state);
	write_file(e.db, "garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage\n");
	env_start(&e, NULL);
	cJSON *m = test_raw_call(&e.raw, "store", "get", "[\"k\",\"ns\"]", NULL);
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "message"));
	ck_assert_msg(msg && strstr(msg, e.db) && strstr(msg, "not a database"), "%s", msg ? msg : "(none)");
	cJSON_Delete(m);
	/* the host stays up and serves the other objects */
	m = test_raw_call(&e.raw, "host", "ping", "[]", NULL);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(m, "value"));
	cJSON_Delete(m);
	/* once the file is replaced, the store works again */
	unlink(e.db);
	CALL_IS(&e, "set", "[\"k\",1,\"ns\"]", "null");
	env_free(&e);
}
END_TEST

START_TEST(unwritable_database)
{
	struct env e;

	memset(&e, 0, sizeof e);
	tmpdir(e.dir, sizeof e.dir);
	snprintf(e.conf, sizeof e.conf, "%s/bothost.conf", e.dir);
	/* a state directory that cannot be made: a file stands in its way */
	snprintf(e.db, sizeof e.db, "%s/state", e.dir);
	write_file(e.db, "");
	env_start(&e, NULL);
	cJSON *m = test_raw_call(&e.raw, "store", "set", "[\"k\",1,\"ns\"]", NULL);
	const cJSON *err = cJSON_GetObjectItem(m, "error");
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(err, "message"));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(err, "name")), "Failed");
	ck_assert_msg(msg && strstr(msg, "store.db") && strstr(msg, "cannot open"), "%s", msg ? msg : "(none)");
	cJSON_Delete(m);
	m = test_raw_call(&e.raw, "host", "ping", "[]", NULL);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(m, "value"));
	cJSON_Delete(m);
	env_free(&e);
}
END_TEST

/* host.ping() answers on c. */
static void assert_host_up(struct test_raw *c)
{
	cJSON *m = test_raw_call(c, "host", "ping", "[]", NULL);

	ck_assert_ptr_nonnull(cJSON_GetObjectItem(m, "value"));
	cJSON_Delete(m);
}

START_TEST(sqlite_loaded_at_first_call)
{
	const char *args[] = { "--loopback", NULL };
	struct test_host plain;
	struct env e;

	/* without a configuration there is no store, nor SQLite */
	ck_assert_int_eq(test_host_start(&plain, args), 0);
	ck_assert_int_eq(test_host_maps_has(&plain, "/libc.so"), 1);
	ck_assert_int_eq(test_host_maps_has(&plain, "/libsqlite3.so"), 0);
	test_host_stop(&plain);
	/* with one, the store is there, and SQLite only once it is called */
	env_init(&e, NULL);
	assert_host_up(&e.raw);
	ck_assert_int_eq(test_host_maps_has(&e.host, "/libsqlite3.so"), 0);
	CALL_IS(&e, "get", "[\"k\",\"ns\"]", "null");
	ck_assert_int_eq(test_host_maps_has(&e.host, "/libsqlite3.so"), 1);
	env_free(&e);
}
END_TEST

START_TEST(sqlite_missing)
{
	char lib[128], path[200];
	struct env e;

	memset(&e, 0, sizeof e);
	tmpdir(e.dir, sizeof e.dir);
	snprintf(e.conf, sizeof e.conf, "%s/bothost.conf", e.dir);
	/* the loader finds a file of SQLite's soname that is no library */
	snprintf(lib, sizeof lib, "%s/lib", e.dir);
	ck_assert_int_eq(mkdir(lib, 0700), 0);
	snprintf(path, sizeof path, "%s/%s", lib, SQLITE_SONAME);
	write_file(path, "not a library\n");
	ck_assert_int_eq(setenv("LD_LIBRARY_PATH", lib, 1), 0);
	e.opts.log = true;
	env_start(&e, NULL);
	unsetenv("LD_LIBRARY_PATH");
	for (int i = 0; i < 2; i++) {
		cJSON *m = test_raw_call(&e.raw, "store", "set", "[\"k\",1,\"ns\"]", NULL);
		const cJSON *err = cJSON_GetObjectItem(m, "error");
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(err, "message"));
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(err, "name")), "Failed");
		ck_assert_msg(msg && strstr(msg, "cannot load SQLite") && strstr(msg, SQLITE_SONAME) &&
			      strstr(msg, SQLITE_PACKAGE), "%s", msg ? msg : "(none)");
		cJSON_Delete(m);
	}
	/* logged once, not at every call; the rest of the host goes on */
	ck_assert_int_eq(test_host_log_count(&e.host, "cannot load SQLite"), 1);
	assert_host_up(&e.raw);
	env_free(&e);
}
END_TEST

/* ---- behaviours: namespaces and store_access ------------------------------------- */

/* The error name of c's last call, or "ok" when r is 0. */
static const char *outcome(bk_conn *c, int r)
{
	return r == 0 ? "ok" : bk_conn_last_error(c) ? bk_error_name(bk_conn_last_error(c)) : "?";
}

/* store.method(args) from a behaviour: "ok" or the error name. */
static const char *bcall(bk_conn *c, const char *method, const char *args)
{
	cJSON *a = cJSON_Parse(args), *res = NULL;
	int r = bk_call_json_sync(c, "store", method, a, &res);

	cJSON_Delete(a);
	bk_json_delete(res);
	return outcome(c, r);
}

/* The program as a behaviour: its own namespace, the one store_access
 * allows and one it does not; the outcomes go to argv[2]. */
static int behaviour_main(char **argv)
{
	char tmp[PATH_MAX];
	bk_conn *c;
	FILE *f;

	if (bk_conn_new(&c, "store-behaviour") < 0)
		return 2;
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
	if (!(f = fopen(tmp, "w")))
		return 3;
	fprintf(f, "%s", bcall(c, "set", "[\"k\",\"mine\"]"));
	fprintf(f, " %s", bcall(c, "set", "[\"k\",\"theirs\",\"b\"]"));
	fprintf(f, " %s", bcall(c, "set", "[\"k\",\"no\",\"c\"]"));
	fprintf(f, " %s", bcall(c, "get", "[\"k\",\"c\"]"));
	fprintf(f, "\n");
	fclose(f);
	rename(tmp, argv[2]);
	bk_conn_unref(c);
	pause();	/* a resident: stays until stopped */
	return 0;
}

START_TEST(behaviour_namespaces)
{
	struct env e;
	char sections[PATH_MAX + 256], out[128], line[128] = "";
	FILE *f = NULL;

	memset(&e, 0, sizeof e);
	tmpdir(e.dir, sizeof e.dir);
	snprintf(out, sizeof out, "%s/out", e.dir);
	snprintf(e.conf, sizeof e.conf, "%s/bothost.conf", e.dir);
	snprintf(sections, sizeof sections,
		 "[resident a]\nexec = %s\narg = --behaviour\narg = %s\nstore_access = b\n", self, out);
	env_start(&e, sections);
	for (uint64_t end = test_now_ms() + 5000; !(f = fopen(out, "r")) && test_now_ms() < end;)
		usleep(10000);	/* polls a file the behaviour writes */
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	fclose(f);
	ck_assert_str_eq(line, "ok ok PermissionDenied PermissionDenied\n");
	CALL_IS(&e, "get", "[\"k\",\"a\"]", "\"mine\"");
	CALL_IS(&e, "get", "[\"k\",\"b\"]", "\"theirs\"");
	CALL_IS(&e, "get", "[\"k\",\"c\"]", "null");
	env_free(&e);
}
END_TEST

/* Keys of the filled namespace, their count, and the bytes of their values. */
#define FILL_KEYS 3000
#define FILL_FRAME_MAX 65536

/* A fresh world whose namespace "big" holds FILL_KEYS keys ("k00000"...,
 * values of 24 bytes: ~100 KB, past the host's frame_max of 64 KiB), written
 * before the host starts, so that filling it costs no round trips. */
static void env_init_filled(struct env *e)
{
	struct store_db *db;
	char *err = NULL, key[16], value[32];

	memset(e, 0, sizeof *e);
	tmpdir(e->dir, sizeof e->dir);
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	snprintf(e->db, sizeof e->db, "%s/state/store.db", e->dir);
	ck_assert_int_eq(store_db_open(e->db, &db, &err), 0);
	for (int i = 0; i < FILL_KEYS; i++) {
		snprintf(key, sizeof key, "k%05d", i);
		snprintf(value, sizeof value, "\"value of key %05d....\"", i);
		ck_assert_int_eq(store_db_set(db, "big", key, value, SIZE_MAX / 2, NULL), 0);
	}
	/* namespace "huge": an entry over half a frame, one over a frame, a small one */
	char *text = malloc(64600);
	ck_assert_ptr_nonnull(text);
	snprintf(text, 64600, "\"%062000d\"", 0);
	ck_assert_int_eq(store_db_set(db, "huge", "a", text, SIZE_MAX / 2, NULL), 0);
	snprintf(text, 64600, "\"%064500d\"", 0);
	ck_assert_int_eq(store_db_set(db, "huge", "b", text, SIZE_MAX / 2, NULL), 0);
	ck_assert_int_eq(store_db_set(db, "huge", "c", "1", SIZE_MAX / 2, NULL), 0);
	free(text);
	store_db_close(db);
	env_start(e, "[limits]\nframe_max = 65536\n");
}

/* Page through "big" with listPage(prefix, after, limit): every key once, in
 * order, each page under frame_max; the number of pages. */
static int page_all(struct env *e, const char *prefix, int limit, int first, int count)
{
	char args[256], last[16] = "", want[16];
	int seen = 0, pages = 0;
	bool more = true;

	while (more) {
		char *after = *last ? last : NULL;
		snprintf(args, sizeof args, "[\"%s\",%s%s%s,%d,\"big\"]", prefix, after ? "\"" : "",
			 after ? after : "null", after ? "\"" : "", limit);
		cJSON *m = test_raw_call(&e->raw, "store", "listPage", args, NULL);
		const cJSON *v = cJSON_GetObjectItem(m, "value"), *entries = cJSON_GetObjectItem(v, "entries");
		const cJSON *next = cJSON_GetObjectItem(v, "next"), *entry;
		char *text = cJSON_PrintUnformatted(m);

		ck_assert_msg(cJSON_IsObject(entries), "listPage(%s): %s", args, text);
		ck_assert_msg(strlen(text) < FILL_FRAME_MAX, "a page of %zu bytes", strlen(text));
		ck_assert_int_le(cJSON_GetArraySize(entries), limit);
		cJSON_ArrayForEach(entry, entries) {
			snprintf(want, sizeof want, "k%05d", first + seen++);
			ck_assert_str_eq(entry->string, want);
			snprintf(last, sizeof last, "%s", entry->string);
		}
		more = cJSON_IsTrue(cJSON_GetObjectItem(v, "more"));
		if (more)
			ck_assert_str_eq(cJSON_GetStringValue(next), last);
		else
			ck_assert(cJSON_IsNull(next));
		free(text);
		cJSON_Delete(m);
		pages++;
	}
	ck_assert_int_eq(seen, count);
	return pages;
}

/* Run `botctl -s SOCKET [--json] store list big [prefix]`: its output (to free). */
static char *botctl_list(struct env *e, bool json, const char *prefix)
{
	char cmd[PATH_MAX * 2], *out = NULL;
	size_t size = 0;
	FILE *p, *mem = open_memstream(&out, &size);
	int ch;

	ck_assert_ptr_nonnull(getenv("BOTCTL"));
	snprintf(cmd, sizeof cmd, "'%s' -s '%s' %s store list big %s", getenv("BOTCTL"), e->host.path,
		 json ? "--json" : "", prefix ? prefix : "");
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	while ((ch = getc(p)) != EOF)
		putc(ch, mem);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_int_eq(fclose(mem), 0);
	return out;
}

/* Check botctl's lines "kNNNNN\t"value of key NNNNN...."" for keys first.. of count. */
static void botctl_lines_are(const char *out, int first, int count)
{
	char want[64];
	int n = 0;

	for (const char *line = out; *line; n++) {
		const char *end = strchr(line, '\n');

		ck_assert_ptr_nonnull(end);
		snprintf(want, sizeof want, "k%05d\t\"value of key %05d....\"", first + n, first + n);
		ck_assert_msg(strlen(want) == (size_t)(end - line) && strncmp(line, want, end - line) == 0,
			      "line %d: %.*s", n, (int)(end - line), line);
		line = end + 1;
	}
	ck_assert_int_eq(n, count);
}

START_TEST(list_in_pages)
{
	struct env e;

	env_init_filled(&e);
	/* the listing passes frame_max: a clear error, and the connection stays */
	char *got = call_on(&e.raw, "list", "[\"\",\"big\"]");
	ck_assert_str_eq(got, "!LimitExceeded");
	free(got);
	CALL_IS(&e, "list", "[\"k0299\",\"big\"]", "{\"k02990\":\"value of key 02990....\","
		"\"k02991\":\"value of key 02991....\",\"k02992\":\"value of key 02992....\","
		"\"k02993\":\"value of key 02993....\",\"k02994\":\"value of key 02994....\","
		"\"k02995\":\"value of key 02995....\",\"k02996\":\"value of key 02996....\","
		"\"k02997\":\"value of key 02997....\",\"k02998\":\"value of key 02998....\","
		"\"k02999\":\"value of key 02999....\"}");
	/* all of it: the host's byte bound cuts pages of the largest limit short */
	ck_assert_int_ge(page_all(&e, "", 1000, 0, FILL_KEYS), 4);
	ck_assert_int_eq(page_all(&e, "", 700, 0, FILL_KEYS), 5);
	/* a prefix restricts the pages; the default limit is 100 */
	ck_assert_int_eq(page_all(&e, "k01", 30, 1000, 1000), 34);
	CALL_IS(&e, "listPage", "[\"k012\",\"k01298\",null,\"big\"]",
		"{\"entries\":{\"k01299\":\"value of key 01299....\"},\"more\":false,\"next\":null}");
	CALL_IS(&e, "listPage", "[\"k00\",null,2,\"big\"]", "{\"entries\":{\"k00000\":\"value of key 00000....\","
		"\"k00001\":\"value of key 00001....\"},\"more\":true,\"next\":\"k00001\"}");
	cJSON *m = test_raw_call(&e.raw, "store", "listPage", "[\"k00\",null,null,\"big\"]", NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "value"), "entries")), 100);
	cJSON_Delete(m);
	/* after past the end, an empty namespace */
	CALL_IS(&e, "listPage", "[\"\",\"z\",10,\"big\"]", "{\"entries\":{},\"more\":false,\"next\":null}");
	CALL_IS(&e, "listPage", "[null,null,null,\"empty\"]", "{\"entries\":{},\"more\":false,\"next\":null}");
	/* a page holds one entry at least, however large; one past a frame is named */
	m = test_raw_call(&e.raw, "store", "listPage", "[\"\",null,null,\"huge\"]", NULL);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "value"), "entries")), 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "value"), "next")), "a");
	cJSON_Delete(m);
	m = test_raw_call(&e.raw, "store", "listPage", "[\"\",\"a\",null,\"huge\"]", NULL);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "name")),
			 "LimitExceeded");
	ck_assert_ptr_nonnull(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"),
									       "message")), "key b "));
	cJSON_Delete(m);
	CALL_IS(&e, "listPage", "[\"\",\"b\",null,\"huge\"]", "{\"entries\":{\"c\":1},\"more\":false,\"next\":null}");
	CALL_IS(&e, "list", "[\"\",\"huge\"]", "!LimitExceeded");
	/* botctl lists all of it, page by page, a line per key as with one page */
	char *out = botctl_list(&e, false, NULL);
	botctl_lines_are(out, 0, FILL_KEYS);
	free(out);
	out = botctl_list(&e, false, "k01");
	botctl_lines_are(out, 1000, 1000);
	free(out);
	out = botctl_list(&e, true, NULL);
	cJSON *all = cJSON_Parse(out);
	ck_assert_int_eq(cJSON_GetArraySize(all), FILL_KEYS);
	ck_assert_str_eq(cJSON_GetArrayItem(all, FILL_KEYS - 1)->string, "k02999");
	cJSON_Delete(all);
	free(out);
	/* bad arguments */
	CALL_IS(&e, "listPage", "[\"\",null,0,\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",null,-1,\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",null,1001,\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",null,1e300,\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",null,1.5,\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",5,10,\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",{},10,\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",null,\"10\",\"big\"]", "!InvalidArguments");
	CALL_IS(&e, "listPage", "[\"\",null,10]", "!PermissionDenied");
	env_free(&e);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("db");

	tcase_add_test(tc, db_operations);
	tcase_add_test(tc, db_corrupt_and_readonly);
	suite_add_tcase(s, tc);
	tc = tcase_create("object");
	tcase_add_test(tc, object_methods);
	tcase_add_test(tc, change_event);
	tcase_add_test(tc, concurrent_incr);
	tcase_add_test(tc, restart_keeps);
	tcase_add_test(tc, corrupt_database);
	tcase_add_test(tc, unwritable_database);
	tcase_add_test(tc, sqlite_loaded_at_first_call);
	tcase_add_test(tc, sqlite_missing);
	tcase_add_test(tc, behaviour_namespaces);
	tcase_add_test(tc, list_in_pages);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc > 2 && strcmp(argv[1], "--behaviour") == 0)
		return behaviour_main(argv);
	if (!realpath(argv[0], self))
		return 1;
	sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
