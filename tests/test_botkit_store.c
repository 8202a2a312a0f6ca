/* SPDX-License-Identifier: ISC */
/* libbotkit's typed store API (<botkit-store.h>) against a real bothost
 * with a configuration file: every function, its results and its errors.
 * The test's client is privileged (the host's uid), so it names a
 * namespace; a behaviour's own namespace is exercised by scripts/karma.c
 * (test_scripts) and the guide's examples (test_guide). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "botkit-store.h"
#include "harness.h"

struct env {
	char dir[64];
	char conf[128];
	struct test_host host;
	bk_conn *c;
};

/* bothost with the configuration conf in a fresh directory (with_config
 * false: no configuration file, so no store), and a connection to it. */
static void env_start_conf(struct env *e, bool with_config, const char *conf)
{
	const char *args[] = { "--config", e->conf, NULL };
	FILE *f;

	memset(e, 0, sizeof *e);
	snprintf(e->dir, sizeof e->dir, "/tmp/test_botkit_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	ck_assert_ptr_nonnull(f = fopen(e->conf, "w"));
	fprintf(f, "[bothost]\nstate_dir = %s\n%s", e->dir, conf);
	fclose(f);
	ck_assert_int_eq(test_host_start(&e->host, with_config ? args : NULL), 0);
	ck_assert_int_eq(bk_conn_new_path(&e->c, e->host.path, "test_botkit_store"), 0);
}

/* bothost with [store] size_max 1024. */
static void env_start(struct env *e, bool with_config)
{
	env_start_conf(e, with_config, "[store]\nsize_max = 1024\n");
}

/* Stop everything and remove the directory. */
static void env_stop(struct env *e)
{
	char cmd[128];

	e->c = bk_conn_unref(e->c);
	test_host_stop(&e->host);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The JSON text of v (compact), to free. */
static char *text(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);

	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(store_functions)
{
	struct env e;
	cJSON *v = NULL, *rec = cJSON_Parse("{\"a\":[1,\"x\"]}"), *other = cJSON_CreateString("other");
	int64_t n = -1;
	char *s;

	env_start(&e, true);
	/* absent: 0, and NULL or 0 */
	ck_assert_int_eq(bk_store_get(e.c, "ns", "k", &v), 0);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(bk_store_get_int(e.c, "ns", "n", &n), 0);
	ck_assert_int_eq(n, 0);
	/* set, get */
	ck_assert_int_eq(bk_store_set(e.c, "ns", "k", rec), 0);
	ck_assert_int_eq(bk_store_get(e.c, "ns", "k", &v), 1);
	s = text(v);
	ck_assert_str_eq(s, "{\"a\":[1,\"x\"]}");
	free(s);
	v = (bk_json_delete(v), NULL);
	/* incr from absent, by a negative step; get_int; not an integer */
	ck_assert_int_eq(bk_store_incr(e.c, "ns", "n", 5, &n), 0);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(bk_store_incr(e.c, "ns", "n", -7, NULL), 0);
	ck_assert_int_eq(bk_store_get_int(e.c, "ns", "n", &n), 1);
	ck_assert_int_eq(n, -2);
	ck_assert_int_eq(bk_store_get_int(e.c, "ns", "k", &n), -EPROTO);
	ck_assert_int_eq(bk_store_incr(e.c, "ns", "k", 1, &n), -EINVAL);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(e.c)), "InvalidArguments");
	/* cas: expected as JSON; NULL is absent */
	ck_assert_int_eq(bk_store_cas(e.c, "ns", "k", other, NULL), 0);
	ck_assert_int_eq(bk_store_cas(e.c, "ns", "k", rec, other), 1);
	ck_assert_int_eq(bk_store_cas(e.c, "ns", "new", NULL, rec), 1);
	ck_assert_int_eq(bk_store_cas(e.c, "ns", "new", NULL, rec), 0);
	/* list by prefix */
	ck_assert_int_eq(bk_store_list(e.c, "ns", "ne", &v), 0);
	s = text(v);
	ck_assert_str_eq(s, "{\"new\":{\"a\":[1,\"x\"]}}");
	free(s);
	v = (bk_json_delete(v), NULL);
	ck_assert_int_eq(bk_store_list(e.c, "ns", NULL, &v), 0);
	ck_assert_int_eq(cJSON_GetArraySize(v), 3);
	v = (bk_json_delete(v), NULL);
	/* delete: whether it was there; set NULL deletes too */
	ck_assert_int_eq(bk_store_delete(e.c, "ns", "new"), 1);
	ck_assert_int_eq(bk_store_delete(e.c, "ns", "new"), 0);
	ck_assert_int_eq(bk_store_set(e.c, "ns", "k", NULL), 0);
	ck_assert_int_eq(bk_store_get(e.c, "ns", "k", NULL), 0);
	bk_json_delete(rec);
	bk_json_delete(other);
	env_stop(&e);
}
END_TEST

START_TEST(store_errors)
{
	struct env e;
	char key[300], fill[601];
	cJSON *big;

	memset(fill, 'x', sizeof fill - 1);
	fill[sizeof fill - 1] = '\0';
	big = cJSON_CreateString(fill);
	env_start(&e, true);
	/* no key: nothing sent */
	ck_assert_int_eq(bk_store_get(e.c, "ns", NULL, NULL), -EINVAL);
	ck_assert_int_eq(bk_store_incr(e.c, "ns", NULL, 1, NULL), -EINVAL);
	/* a privileged client names its namespace */
	ck_assert_int_eq(bk_store_get(e.c, NULL, "k", NULL), -EPERM);
	ck_assert_ptr_nonnull(strstr(bk_error_message(bk_conn_last_error(e.c)), "namespace"));
	/* a key too long, a namespace full */
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	ck_assert_int_eq(bk_store_set(e.c, "ns", key, big), -EINVAL);
	ck_assert_int_eq(bk_store_set(e.c, "ns", "a", big), 0);
	ck_assert_int_eq(bk_store_set(e.c, "ns", "b", big), -ENOBUFS);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(e.c)), "LimitExceeded");
	bk_json_delete(big);
	env_stop(&e);

	/* without a configuration file there is no store */
	env_start(&e, false);
	ck_assert_int_eq(bk_store_incr(e.c, "ns", "n", 1, NULL), -ENOENT);
	env_stop(&e);
}
END_TEST

#define PAGE_KEYS 2500	/* of ~40 bytes each: ~100 KB, past a frame_max of 64 KiB */

/* Count the entries of bk_store_list_each() in userdata (an int), checking their order. */
static int count_each(bk_conn *c, const char *key, const cJSON *value, void *userdata)
{
	int *n = userdata;
	char want[16];

	snprintf(want, sizeof want, "k%05d", (*n)++);
	ck_assert_str_eq(key, want);
	ck_assert(cJSON_IsString(value));
	return *n == 1500 ? -ECANCELED : 0;
}

START_TEST(store_pages)
{
	struct env e;
	cJSON *v = cJSON_CreateString("a value of 24 bytes ...."), *page = NULL;
	char key[16], *after = NULL, *next = NULL;
	int seen = 0, pages = 0, r;

	env_start_conf(&e, true, "[store]\nsize_max = 1048576\n[limits]\nframe_max = 65536\n");
	for (int i = 0; i < PAGE_KEYS; i++) {
		snprintf(key, sizeof key, "k%05d", i);
		ck_assert_int_eq(bk_store_set(e.c, "ns", key, v), 0);
	}
	/* too large for one frame: a clear error, and the connection goes on */
	ck_assert_int_eq(bk_store_list(e.c, "ns", NULL, &page), -ENOBUFS);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(e.c)), "LimitExceeded");
	ck_assert_ptr_nonnull(strstr(bk_error_message(bk_conn_last_error(e.c)), "listPage"));
	ck_assert_int_eq(bk_store_list(e.c, "ns", "k0249", &page), 0);
	ck_assert_int_eq(cJSON_GetArraySize(page), 10);
	page = (bk_json_delete(page), NULL);
	/* in pages: every key once, in order */
	do {
		r = bk_store_list_page(e.c, "ns", NULL, after, 1000, &page, &next);
		ck_assert_int_ge(r, 0);
		for (const cJSON *p = page->child; p; p = p->next) {
			snprintf(key, sizeof key, "k%05d", seen++);
			ck_assert_str_eq(p->string, key);
		}
		ck_assert(r == 1 ? next && strcmp(next, key) == 0 : !next);
		page = (bk_json_delete(page), NULL);
		free(after);
		after = next;
		pages++;
	} while (r == 1);
	ck_assert_int_eq(seen, PAGE_KEYS);
	ck_assert_int_ge(pages, 3);	/* cut short by bytes, not by 1000 */
	/* the default limit, a prefix, past the end, a bad limit */
	ck_assert_int_eq(bk_store_list_page(e.c, "ns", "k01", NULL, 0, &page, &next), 1);
	ck_assert_int_eq(cJSON_GetArraySize(page), 100);
	ck_assert_str_eq(next, "k01099");
	page = (bk_json_delete(page), NULL);
	free(next);
	ck_assert_int_eq(bk_store_list_page(e.c, "ns", "k01", "k01998", 5, &page, &next), 0);
	ck_assert_int_eq(cJSON_GetArraySize(page), 1);
	ck_assert_ptr_null(next);
	page = (bk_json_delete(page), NULL);
	ck_assert_int_eq(bk_store_list_page(e.c, "ns", NULL, "z", 5, &page, &next), 0);
	ck_assert_int_eq(cJSON_GetArraySize(page), 0);
	page = (bk_json_delete(page), NULL);
	ck_assert_int_eq(bk_store_list_page(e.c, "ns", NULL, NULL, 1001, &page, &next), -EINVAL);
	ck_assert_ptr_null(page);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(e.c)), "InvalidArguments");
	/* each: all of them, and a stop */
	seen = 0;
	ck_assert_int_eq(bk_store_list_each(e.c, "ns", "k02", count_each, &(int){ 2000 }), 0);
	ck_assert_int_eq(bk_store_list_each(e.c, "ns", NULL, count_each, &seen), -ECANCELED);
	ck_assert_int_eq(seen, 1500);
	bk_json_delete(v);
	env_stop(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("botkit_store");
	TCase *t = tcase_create("store");
	SRunner *sr;
	int failed;

	tcase_add_test(t, store_functions);
	tcase_add_test(t, store_errors);
	tcase_add_test(t, store_pages);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
