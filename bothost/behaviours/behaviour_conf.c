/* SPDX-License-Identifier: ISC */
/* The behaviours' sections of the configuration, as the behaviours layer
 * sees them: [command NAME], [timer NAME] and [resident NAME], and the
 * [bothost] keys about commands (prefix, owners, rates, process count).
 * The configuration file (bothost/conf.c) reads them; this module copies,
 * compares and frees them. */
#include "config.h"
#include "behaviour_conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Free an array of n strings. */
static void conf_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Free what b holds and zero it. */
void conf_behaviour_clear(struct conf_behaviour *b)
{
	free(b->name);
	free(b->exec);
	conf_strv_free(b->args, b->n_args);
	free(b->help);
	free(b->at);
	conf_strv_free(b->commands, b->n_commands);
	conf_strv_free(b->store_access, b->n_store_access);
	free(b->route_path);
	free(b->route_method);
	conf_strv_free(b->listen, b->n_listen);
	memset(b, 0, sizeof *b);
}

static const char *const conf_behaviour_kinds[] = { "command", "timer", "resident", "route" };

/* "command", "timer", "resident" or "route". */
const char *conf_behaviour_kind_name(enum conf_behaviour_kind kind)
{
	return conf_behaviour_kinds[kind];
}

/* The section named name (compared ignoring ASCII case), or NULL. */
const struct conf_behaviour *conf_behaviour_find(const struct behaviours_conf *bc, const char *name)
{
	for (size_t i = 0; i < bc->n_behaviours; i++)
		if (strcasecmp(bc->behaviours[i].name, name) == 0)
			return &bc->behaviours[i];
	return NULL;
}

/* A copy of an array of n strings (NULL when n is 0), or NULL with *ok false. */
static char **conf_strv_dup(char *const *v, size_t n, bool *ok)
{
	char **copy;

	if (n == 0)
		return NULL;
	if (!(copy = calloc(n, sizeof *copy)))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (!(copy[i] = strdup(v[i]))) {
			conf_strv_free(copy, i);
			goto fail;
		}
	}
	return copy;
fail:
	*ok = false;
	return NULL;
}

/* A deep copy of src into dst. */
int conf_behaviour_copy(struct conf_behaviour *dst, const struct conf_behaviour *src)
{
	bool ok = true;

	*dst = *src;
	dst->name = strdup(src->name);
	dst->exec = src->exec ? strdup(src->exec) : NULL;
	dst->help = src->help ? strdup(src->help) : NULL;
	dst->route_path = src->route_path ? strdup(src->route_path) : NULL;
	dst->route_method = src->route_method ? strdup(src->route_method) : NULL;
	if ((src->route_path && !dst->route_path) || (src->route_method && !dst->route_method))
		ok = false;
	dst->args = conf_strv_dup(src->args, src->n_args, &ok);
	if (!ok)
		dst->n_args = 0;
	dst->commands = conf_strv_dup(src->commands, src->n_commands, &ok);
	if (!dst->commands)
		dst->n_commands = 0;
	dst->store_access = conf_strv_dup(src->store_access, src->n_store_access, &ok);
	if (!dst->store_access)
		dst->n_store_access = 0;
	dst->listen = conf_strv_dup(src->listen, src->n_listen, &ok);
	if (!dst->listen)
		dst->n_listen = 0;
	dst->at = src->n_at ? malloc(src->n_at * sizeof *dst->at) : NULL;
	if (dst->at)
		memcpy(dst->at, src->at, src->n_at * sizeof *dst->at);
	if (!ok || !dst->name || (src->exec && !dst->exec) || (src->help && !dst->help) || (src->n_at && !dst->at)) {
		conf_behaviour_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* Whether two strings, either of which may be NULL, are equal. */
static bool conf_str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether two arrays of n strings are equal. */
static bool conf_strv_equal(char *const *a, char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* Whether two sections say the same. */
bool conf_behaviour_equal(const struct conf_behaviour *a, const struct conf_behaviour *b)
{
	if (a->kind != b->kind || strcmp(a->name, b->name) != 0 || !conf_str_equal(a->exec, b->exec) ||
	    !conf_str_equal(a->help, b->help) || a->n_args != b->n_args || a->n_at != b->n_at ||
	    a->timeout_ms != b->timeout_ms || a->privileged != b->privileged || a->line_buffered != b->line_buffered ||
	    a->max_running != b->max_running || a->prestart != b->prestart ||
	    a->private_ok != b->private_ok || a->owner_only != b->owner_only || a->every_ms != b->every_ms ||
	    a->restart_min_ms != b->restart_min_ms || a->restart_max_ms != b->restart_max_ms || a->watch != b->watch ||
	    a->n_commands != b->n_commands || a->n_store_access != b->n_store_access || a->n_listen != b->n_listen ||
	    !conf_str_equal(a->route_path, b->route_path) || !conf_str_equal(a->route_method, b->route_method) ||
	    memcmp(&a->limits, &b->limits, sizeof a->limits) != 0)
		return false;
	if (!conf_strv_equal(a->args, b->args, a->n_args) || !conf_strv_equal(a->commands, b->commands, a->n_commands) ||
	    !conf_strv_equal(a->store_access, b->store_access, a->n_store_access) ||
	    !conf_strv_equal(a->listen, b->listen, a->n_listen))
		return false;
	return a->n_at == 0 || memcmp(a->at, b->at, a->n_at * sizeof *a->at) == 0;
}

/* The [listen NAME] section named name, or NULL. */
const struct conf_listener *conf_listener_find(const struct behaviours_conf *bc, const char *name)
{
	for (size_t i = 0; i < bc->n_listeners; i++)
		if (strcmp(bc->listeners[i].name, name) == 0)
			return &bc->listeners[i];
	return NULL;
}

/* Whether b claims the command word. */
bool conf_behaviour_claims(const struct conf_behaviour *b, const char *word)
{
	for (size_t i = 0; i < b->n_commands; i++)
		if (strcasecmp(b->commands[i], word) == 0)
			return true;
	return false;
}

/* Free what bc holds and zero it. */
void behaviours_conf_clear(struct behaviours_conf *bc)
{
	for (size_t i = 0; i < bc->n_behaviours; i++)
		conf_behaviour_clear(&bc->behaviours[i]);
	free(bc->behaviours);
	for (size_t i = 0; i < bc->n_listeners; i++) {
		free(bc->listeners[i].name);
		free(bc->listeners[i].address);
	}
	free(bc->listeners);
	conf_strv_free(bc->owners, bc->n_owners);
	free(bc->command_prefix);
	free(bc->state_dir);
	memset(bc, 0, sizeof *bc);
}
