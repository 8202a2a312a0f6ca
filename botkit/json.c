/* Values: function nodes in cJSON trees, and arguments written by signature.
 *
 * A function node is a cJSON_Raw node (parsing never makes one). Its string
 * says what it stands for:
 *   "L:<fn>:<userdata>:<destroy>"  a function of this program (owns nothing)
 *   "R:<bk_fn>"                    a host function (owns one reference)
 * with pointers in hexadecimal. */
#include "botkit-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Read one hexadecimal field ending at `end` (a separator or the string's end). */
static bool json_parse_hex(const char **p, char end, uintptr_t *ret)
{
	char *e;

	if (**p == '\0')
		return false;
	errno = 0;
	unsigned long long v = strtoull(*p, &e, 16);
	if (errno != 0 || e == *p || *e != end)
		return false;
	*ret = (uintptr_t)v;
	*p = end ? e + 1 : e;
	return true;
}

/* What a node stands for: a local function, a host function, or neither. */
enum json_fn_kind bki_json_fn_parse(const cJSON *node, struct json_fn *ret)
{
	uintptr_t fn, userdata, destroy, host;

	if (!cJSON_IsRaw(node) || !node->valuestring || node->valuestring[0] == '\0' ||
	    node->valuestring[1] != ':')
		return JSON_FN_NONE;
	const char *p = node->valuestring + 2;
	switch (node->valuestring[0]) {
	case 'L':
		if (!json_parse_hex(&p, ':', &fn) || !json_parse_hex(&p, ':', &userdata) ||
		    !json_parse_hex(&p, '\0', &destroy) || fn == 0)
			return JSON_FN_NONE;
		ret->fn = (bk_function)fn;
		ret->userdata = (void *)userdata;
		ret->destroy = (void (*)(void *))destroy;
		ret->host = NULL;
		return JSON_FN_LOCAL;
	case 'R':
		if (!json_parse_hex(&p, '\0', &host) || host == 0)
			return JSON_FN_NONE;
		ret->host = (bk_fn *)host;
		return JSON_FN_HOST;
	default:
		return JSON_FN_NONE;
	}
}

/* A node for a function of this program. */
cJSON *bki_json_local_node_new(bk_function fn, void *userdata, void (*destroy)(void *))
{
	char s[80];

	snprintf(s, sizeof s, "L:%" PRIxPTR ":%" PRIxPTR ":%" PRIxPTR, (uintptr_t)fn,
		 (uintptr_t)userdata, (uintptr_t)destroy);
	return cJSON_CreateRaw(s);
}

/* A node for a host function; the node takes over one reference the caller holds. */
cJSON *bki_json_host_node_new(bk_fn *f)
{
	char s[32];

	snprintf(s, sizeof s, "R:%" PRIxPTR, (uintptr_t)f);
	return cJSON_CreateRaw(s);
}

/* Add delta (+1 or -1) to the reference count of every host function in v. */
static void json_refs_add(const cJSON *v, int delta)
{
	struct json_fn f;

	if (bki_json_fn_parse(v, &f) == JSON_FN_HOST) {
		if (delta > 0)
			bk_fn_ref(f.host);
		else
			bk_fn_unref(f.host);
		return;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return;
	for (const cJSON *c = v->child; c; c = c->next)
		json_refs_add(c, delta);
}

/* A node that sends fn(userdata) as a function of this program. */
cJSON *bk_json_function(bk_function fn, void *userdata, void (*destroy)(void *))
{
	if (!fn)
		return NULL;
	return bki_json_local_node_new(fn, userdata, destroy);
}

/* A node that sends a host function back to the host; takes a reference. */
cJSON *bk_json_host_function(bk_fn *f)
{
	if (!f)
		return NULL;
	cJSON *node = bki_json_host_node_new(f);
	if (node)
		bk_fn_ref(f);
	return node;
}

/* True for a function node of either kind. */
bool bk_json_is_function(const cJSON *node)
{
	struct json_fn f;

	return bki_json_fn_parse(node, &f) != JSON_FN_NONE;
}

/* The host function a node stands for (borrowed), or NULL. */
bk_fn *bk_json_get_fn(const cJSON *node)
{
	struct json_fn f;

	return bki_json_fn_parse(node, &f) == JSON_FN_HOST ? f.host : NULL;
}

/* A deep copy holding its own references to the host functions in it. */
cJSON *bk_json_dup(const cJSON *v)
{
	if (!v)
		return NULL;
	cJSON *copy = cJSON_Duplicate(v, true);
	if (copy)
		json_refs_add(copy, +1);
	return copy;
}

/* Free a tree, dropping its references to host functions. */
void bk_json_delete(cJSON *v)
{
	if (!v)
		return;
	json_refs_add(v, -1);
	cJSON_Delete(v);
}

/* Write a number the way the wire module writes numbers. */
static int json_write_number(struct buf *b, double d)
{
	cJSON n = { .type = cJSON_Number, .valuedouble = d };

	return wire_encode(b, &n, NULL, NULL);
}

/* Write one string or null. */
static int json_write_string_or_null(struct buf *b, const char *s)
{
	return s ? wire_write_string(b, s) : buf_puts(b, "null");
}

/* Write the local function given as (fn, userdata, destroy) varargs. */
static int json_write_local(bk_conn *c, struct buf *b, va_list *ap)
{
	bk_function fn = va_arg(*ap, bk_function);
	void *userdata = va_arg(*ap, void *);
	void (*destroy)(void *) = va_arg(*ap, void (*)(void *));

	return bki_tokens_write_export(c, b, fn, userdata, destroy);
}

/* Write one value given as varargs, described by a signature letter. */
int bki_json_write_value(bk_conn *c, struct buf *b, char letter, va_list *ap)
{
	switch (letter) {
	case 's':
		return json_write_string_or_null(b, va_arg(*ap, const char *));
	case 'i':
		return buf_printf(b, "%d", va_arg(*ap, int));
	case 'x':
		return buf_printf(b, "%" PRId64, va_arg(*ap, int64_t));
	case 'd':
		return json_write_number(b, va_arg(*ap, double));
	case 'b':
		return buf_puts(b, va_arg(*ap, int) ? "true" : "false");
	case 'n':
		return buf_puts(b, "null");
	case 'j':
		return wire_encode(b, va_arg(*ap, const cJSON *), bki_tokens_encode_cb, c);
	case 'f':
		return json_write_local(c, b, ap);
	case 'F':
		return bki_tokens_write_import(c, b, va_arg(*ap, bk_fn *));
	default:
		return -EINVAL;
	}
}

/* Write an argument array from a signature and varargs, or from a JSON array. */
int bki_json_write_args(bk_conn *c, struct buf *b, const char *sig, va_list *ap, const cJSON *args)
{
	int r;

	if (args) {
		if (!cJSON_IsArray(args))
			return -EINVAL;
		return wire_encode(b, args, bki_tokens_encode_cb, c);
	}
	if ((r = buf_putc(b, '[')) < 0)
		return r;
	for (const char *p = sig ? sig : ""; *p; p++) {
		if (p != sig && (r = buf_putc(b, ',')) < 0)
			return r;
		if ((r = bki_json_write_value(c, b, *p, ap)) < 0)
			return r;
	}
	return buf_putc(b, ']');
}
