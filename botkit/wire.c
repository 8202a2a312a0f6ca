/* Wire encoding and decoding of values and messages. */
#include "wire.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

bool wire_get_id(const cJSON *v, uint64_t *ret)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	if (!(d >= 1 && d <= (double)WIRE_ID_MAX) || d != floor(d))
		return false;
	*ret = (uint64_t)d;
	return true;
}

static bool wire_key_special(const char *k)
{
	return k && k[0] == '$';
}

static bool wire_object_special(const cJSON *o)
{
	for (const cJSON *c = o->child; c; c = c->next)
		if (wire_key_special(c->string))
			return true;
	return false;
}

/* Put replacement where item is in parent (or at *root), keeping item's key. */
static void wire_replace(cJSON *parent, cJSON **root, cJSON *item, cJSON *replacement)
{
	if (!parent) {
		cJSON_Delete(item);
		*root = replacement;
		return;
	}
	if (replacement->string && !(replacement->type & cJSON_StringIsConst))
		cJSON_free(replacement->string);
	replacement->string = item->string;
	replacement->type = (replacement->type & ~cJSON_StringIsConst) | (item->type & cJSON_StringIsConst);
	item->string = NULL;
	item->type &= ~cJSON_StringIsConst;
	cJSON_ReplaceItemViaPointer(parent, item, replacement);
}

static int wire_decode_node(cJSON *parent, cJSON **root, cJSON *item, bool literal_keys,
			    wire_token_cb cb, void *userdata);

/* Decode the children of a container. */
static int wire_decode_children(cJSON *item, wire_token_cb cb, void *userdata)
{
	cJSON *c = item->child;
	while (c) {
		cJSON *next = c->next;
		int r = wire_decode_node(item, NULL, c, false, cb, userdata);
		if (r < 0)
			return r;
		c = next;
	}
	return 0;
}

static int wire_decode_node(cJSON *parent, cJSON **root, cJSON *item, bool literal_keys,
			    wire_token_cb cb, void *userdata)
{
	if (cJSON_IsArray(item))
		return wire_decode_children(item, cb, userdata);
	if (!cJSON_IsObject(item))
		return 0;
	if (literal_keys || !wire_object_special(item))
		return wire_decode_children(item, cb, userdata);

	cJSON *only = item->child;
	if (only->next)
		return -EBADMSG;
	if (strcmp(only->string, "$esc") == 0) {
		if (!cJSON_IsObject(only))
			return -EBADMSG;
		cJSON *inner = cJSON_DetachItemViaPointer(item, only);
		cJSON_free(inner->string);
		inner->string = NULL;
		wire_replace(parent, root, item, inner);
		return wire_decode_node(NULL, NULL, inner, true, cb, userdata);
	}
	enum wire_token kind;
	if (strcmp(only->string, "$fn") == 0)
		kind = WIRE_TOKEN_FN;
	else if (strcmp(only->string, "$yours") == 0)
		kind = WIRE_TOKEN_YOURS;
	else
		return -EBADMSG;
	uint64_t id;
	if (!wire_get_id(only, &id))
		return -EBADMSG;
	cJSON *node = NULL;
	int r = cb(kind, id, &node, userdata);
	if (r < 0)
		return r;
	wire_replace(parent, root, item, node);
	return 0;
}

int wire_decode(cJSON **root, wire_token_cb cb, void *userdata)
{
	return wire_decode_node(NULL, root, *root, false, cb, userdata);
}

bool wire_has_functions(const cJSON *v)
{
	if (cJSON_IsRaw(v))
		return true;
	for (const cJSON *c = (cJSON_IsArray(v) || cJSON_IsObject(v)) ? v->child : NULL; c; c = c->next)
		if (wire_has_functions(c))
			return true;
	return false;
}

int wire_write_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	int r = buf_reserve(b, strlen(s) + 2);

	if (r < 0)
		return r;
	buf_putc(b, '"');
	for (;;) {
		/* Copy the longest run that needs no escaping in one go. */
		const unsigned char *run = p;
		while (*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run && (r = buf_append(b, run, (size_t)(p - run))) < 0)
			return r;
		if (*p == '\0')
			break;
		char esc[7] = { '\\', 0 };
		size_t n = 2;
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			n = 6;
		}
		if ((r = buf_append(b, esc, n)) < 0)
			return r;
		p++;
	}
	return buf_putc(b, '"');
}

/* Numbers as cJSON prints them: integers exactly, others round-tripping. */
static int wire_write_number(struct buf *b, double d)
{
	if (!isfinite(d))
		return buf_puts(b, "null");
	if (d == floor(d) && fabs(d) <= (double)WIRE_ID_MAX)
		return buf_printf(b, "%lld", (long long)d);
	char tmp[32];
	snprintf(tmp, sizeof tmp, "%1.15g", d);
	double back;
	if (sscanf(tmp, "%lg", &back) != 1 || back != d)
		snprintf(tmp, sizeof tmp, "%1.17g", d);
	return buf_puts(b, tmp);
}

static int wire_encode_node(struct buf *b, const cJSON *v, wire_fn_cb cb, void *userdata)
{
	int r = 0;

	switch (v->type & 0xff) {
	case cJSON_NULL:
		return buf_puts(b, "null");
	case cJSON_False:
		return buf_puts(b, "false");
	case cJSON_True:
		return buf_puts(b, "true");
	case cJSON_Number:
		return wire_write_number(b, v->valuedouble);
	case cJSON_String:
		return wire_write_string(b, v->valuestring ? v->valuestring : "");
	case cJSON_Raw:
		return cb ? cb(b, v, userdata) : -EINVAL;
	case cJSON_Array:
		r = buf_putc(b, '[');
		for (const cJSON *c = v->child; c && r == 0; c = c->next) {
			if (c != v->child)
				r = buf_putc(b, ',');
			if (r == 0)
				r = wire_encode_node(b, c, cb, userdata);
		}
		return r < 0 ? r : buf_putc(b, ']');
	case cJSON_Object: {
		bool esc = wire_object_special(v);
		r = buf_puts(b, esc ? "{\"$esc\":{" : "{");
		for (const cJSON *c = v->child; c && r == 0; c = c->next) {
			if (c != v->child)
				r = buf_putc(b, ',');
			if (r == 0)
				r = wire_write_string(b, c->string ? c->string : "");
			if (r == 0)
				r = buf_putc(b, ':');
			if (r == 0)
				r = wire_encode_node(b, c, cb, userdata);
		}
		return r < 0 ? r : buf_puts(b, esc ? "}}" : "}");
	}
	default:
		return -EINVAL;
	}
}

int wire_encode(struct buf *b, const cJSON *v, wire_fn_cb cb, void *userdata)
{
	/* Relative to the unconsumed start: appending may compact the buffer. */
	size_t mark = buf_pending(b);
	int r = v ? wire_encode_node(b, v, cb, userdata) : buf_puts(b, "null");
	if (r < 0)
		buf_truncate(b, b->off + mark);
	return r;
}

int wire_write_error(struct buf *b, uint64_t id, const char *name, const char *message, const cJSON *data)
{
	size_t mark = buf_pending(b);
	int r = buf_puts(b, "{\"t\":\"error\",");
	if (r == 0 && id)
		r = buf_printf(b, "\"id\":%llu,", (unsigned long long)id);
	if (r == 0)
		r = buf_puts(b, "\"error\":{\"name\":");
	if (r == 0)
		r = wire_write_string(b, name);
	if (r == 0)
		r = buf_puts(b, ",\"message\":");
	if (r == 0)
		r = wire_write_string(b, message ? message : "");
	if (r == 0 && data) {
		r = buf_puts(b, ",\"data\":");
		if (r == 0)
			r = wire_encode(b, data, NULL, NULL);
	}
	if (r == 0)
		r = buf_puts(b, "}}\n");
	if (r < 0)
		buf_truncate(b, b->off + mark);
	return r;
}

static const struct {
	const char *name;
	enum wire_type type;
} wire_types[] = {
	{ "hello", WIRE_HELLO },     { "welcome", WIRE_WELCOME }, { "call", WIRE_CALL },
	{ "invoke", WIRE_INVOKE },   { "result", WIRE_RESULT },   { "error", WIRE_ERROR },
	{ "release", WIRE_RELEASE },
};

/* Optional request id: absent gives 0; present must be valid. */
static bool wire_msg_id(const cJSON *root, uint64_t *ret)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	*ret = 0;
	return !id || wire_get_id(id, ret);
}

int wire_msg_parse(cJSON *root, struct wire_msg *m, const char **ret_why)
{
	memset(m, 0, sizeof *m);
	if (!cJSON_IsObject(root))
		return *ret_why = "a message must be a JSON object", -EBADMSG;
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "t"));
	if (!t)
		return *ret_why = "a message needs a string field \"t\"", -EBADMSG;
	size_t i;
	for (i = 0; i < sizeof wire_types / sizeof wire_types[0]; i++)
		if (strcmp(t, wire_types[i].name) == 0)
			break;
	if (i == sizeof wire_types / sizeof wire_types[0])
		return *ret_why = "unknown message type", -EBADMSG;
	m->type = wire_types[i].type;
	if (!wire_msg_id(root, &m->id))
		return *ret_why = "\"id\" must be an integer from 1 to 2^53-1", -EBADMSG;

	cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "args");
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
	switch (m->type) {
	case WIRE_HELLO:
	case WIRE_WELCOME:
		if (!cJSON_IsNumber(version))
			return *ret_why = "\"version\" must be a number", -EBADMSG;
		m->version = (long)version->valuedouble;
		m->value = root;
		return 0;
	case WIRE_CALL:
		m->obj = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "obj"));
		m->method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "method"));
		if (!m->id || !m->obj || !m->method)
			return *ret_why = "a call needs \"id\", \"obj\" and \"method\"", -EBADMSG;
		break;
	case WIRE_INVOKE:
		if (!wire_get_id(cJSON_GetObjectItemCaseSensitive(root, "fn"), &m->fn))
			return *ret_why = "an invoke needs a token id \"fn\"", -EBADMSG;
		break;
	case WIRE_RESULT:
		if (!m->id)
			return *ret_why = "a result needs \"id\"", -EBADMSG;
		m->value = cJSON_GetObjectItemCaseSensitive(root, "value");
		return 0;
	case WIRE_ERROR:
		m->error = cJSON_GetObjectItemCaseSensitive(root, "error");
		m->error_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->error, "name"));
		m->error_message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->error, "message"));
		if (!cJSON_IsObject(m->error) || !m->error_name)
			return *ret_why = "an error needs an object \"error\" with a string \"name\"", -EBADMSG;
		if (!m->error_message)
			m->error_message = "";
		return 0;
	case WIRE_RELEASE:
		if (!wire_get_id(cJSON_GetObjectItemCaseSensitive(root, "fn"), &m->fn) ||
		    !wire_get_id(cJSON_GetObjectItemCaseSensitive(root, "count"), &m->count))
			return *ret_why = "a release needs \"fn\" and a positive \"count\"", -EBADMSG;
		return 0;
	}
	if (args && !cJSON_IsArray(args))
		return *ret_why = "\"args\" must be an array", -EBADMSG;
	m->args = args;
	return 0;
}
