/* SPDX-License-Identifier: ISC */
/* Wire encoding and decoding of values and messages. */
#include "wire.h"
#include "map.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool wire_get_id(const cJSON *v, uint64_t *ret)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	if (!(d >= 1 && d <= (double)WIRE_ID_MAX) || (double)(uint64_t)d != d)
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

/* Decode the children of a container: all of them, so that the callback sees
 * every token even after an error; the first error is returned. */
static int wire_decode_children(cJSON *item, wire_token_cb cb, void *userdata)
{
	int first = 0;
	cJSON *c = item->child;
	while (c) {
		cJSON *next = c->next;
		int r = wire_decode_node(item, NULL, c, false, cb, userdata);
		if (r < 0 && first == 0)
			first = r;
		c = next;
	}
	return first;
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
	else if (strcmp(only->string, "$fd") == 0)
		kind = WIRE_TOKEN_FD;
	else
		return -EBADMSG;
	uint64_t id;
	if (kind == WIRE_TOKEN_FD) {
		/* A descriptor index counts from 0 and stays below WIRE_FDS_MAX. */
		if (!cJSON_IsNumber(only) || only->valuedouble < 0 || only->valuedouble >= WIRE_FDS_MAX ||
		    only->valuedouble != (double)(int)only->valuedouble)
			return -EBADMSG;
		id = (uint64_t)only->valuedouble;
	} else if (!wire_get_id(only, &id)) {
		return -EBADMSG;
	}
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
	/* Most strings need no escaping: copy them into the room just reserved. */
	char *o = b->data + b->len;
	*o++ = '"';
	while (*p >= 0x20 && *p != '"' && *p != '\\')
		*o++ = (char)*p++;
	if (*p == '\0')
		*o++ = '"';
	b->len = (size_t)(o - b->data);
	if (*p == '\0')
		return 0;
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

int wire_write_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof tmp;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Numbers as cJSON prints them: integers exactly, others round-tripping. */
static int wire_write_number(struct buf *b, double d)
{
	if (!isfinite(d))
		return buf_puts(b, "null");
	if (d == floor(d) && fabs(d) <= (double)WIRE_ID_MAX) {
		int r = d < 0 ? buf_putc(b, '-') : 0;
		return r < 0 ? r : wire_write_u64(b, (uint64_t)fabs(d));
	}
	/* printf and strtod use the locale's decimal point; JSON uses '.'. */
	char point = localeconv()->decimal_point[0];
	char tmp[32];
	snprintf(tmp, sizeof tmp, "%1.15g", d);
	if (strtod(tmp, NULL) != d)
		snprintf(tmp, sizeof tmp, "%1.17g", d);
	for (char *p = tmp; *p; p++)
		if (*p == point)
			*p = '.';
	return buf_puts(b, tmp);
}

/* Write v, inside depth open arrays and objects of its frame. */
static int wire_encode_node(struct buf *b, const cJSON *v, unsigned depth, wire_fn_cb cb, void *userdata)
{
	int type = v->type & 0xff;
	int r = 0;

	/* A token is an object; an escaped object is two. */
	if (type == cJSON_Array || type == cJSON_Object || type == cJSON_Raw) {
		depth += type == cJSON_Object && wire_object_special(v) ? 2 : 1;
		if (depth > WIRE_DEPTH_MAX)
			return -E2BIG;
	}
	switch (type) {
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
				r = wire_encode_node(b, c, depth, cb, userdata);
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
				r = wire_encode_node(b, c, depth, cb, userdata);
		}
		return r < 0 ? r : buf_puts(b, esc ? "}}" : "}");
	}
	default:
		return -EINVAL;
	}
}

int wire_encode_in(struct buf *b, const cJSON *v, unsigned depth, wire_fn_cb cb, void *userdata)
{
	/* Relative to the unconsumed start: appending may compact the buffer. */
	size_t mark = buf_pending(b);
	int r = v ? wire_encode_node(b, v, depth, cb, userdata) : buf_puts(b, "null");
	if (r < 0)
		buf_truncate(b, b->off + mark);
	return r;
}

int wire_encode(struct buf *b, const cJSON *v, wire_fn_cb cb, void *userdata)
{
	return wire_encode_in(b, v, 1, cb, userdata);
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
			r = wire_encode_in(b, data, 2, NULL, NULL);	/* inside "error" */
	}
	if (r == 0)
		r = buf_puts(b, "}}\n");
	if (r < 0)
		buf_truncate(b, b->off + mark);
	return r;
}

/* ---- parsing JSON text -------------------------------------------------- */

struct wire_parser {
	const unsigned char *start;	/* the text */
	const unsigned char *p;
	const unsigned char *end;
	bool utf8;		/* strings must be valid UTF-8 */
	unsigned depth;		/* arrays and objects open around p */
	const char *why;	/* a specific reason for a failure, or NULL */
	const char *skip_key;	/* a message member only checked, not built, or NULL */
	const unsigned char *skipped;	/* where that member's value starts, or NULL */
	size_t skipped_len;
};

static cJSON *wire_parse_value(struct wire_parser *ps);

/* Skip JSON whitespace. */
static void wire_parse_space(struct wire_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Skip the ':' after a key and the whitespace around it; false when it is
 * missing or nothing follows it. */
static bool wire_parse_colon(struct wire_parser *ps)
{
	wire_parse_space(ps);
	if (ps->p == ps->end || *ps->p != ':')
		return false;
	ps->p++;
	wire_parse_space(ps);
	return ps->p < ps->end;
}

/* A copy of s allocated the way cJSON_Delete frees it. */
static char *wire_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = cJSON_malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

/* The length of the valid UTF-8 sequence (no overlong forms, no surrogates)
 * starting with a byte >= 0x80 at p, or 0. */
static size_t wire_utf8_len(const unsigned char *p, const unsigned char *end)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t cp = *p & (0x7fu >> len);

	if (len == 0 || (size_t)(end - p) < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Find the closing quote of the string whose contents start at ps->p,
 * rejecting raw control characters (and invalid UTF-8 when asked to); NULL
 * when the string is malformed. *ret_escaped tells whether it holds escapes. */
static const unsigned char *wire_string_end(const struct wire_parser *ps, bool *ret_escaped)
{
	const unsigned char *p = ps->p;

	*ret_escaped = false;
	for (;;) {
		while (p < ps->end && (unsigned)(*p - 0x20) < 0x60 && *p != '"' && *p != '\\')
			p++;
		if (p == ps->end || *p < 0x20)
			return NULL;
		if (*p == '"')
			return p;
		if (*p == '\\') {
			if (ps->end - p < 2)
				return NULL;
			*ret_escaped = true;
			p += 2;
			continue;
		}
		size_t n = ps->utf8 ? wire_utf8_len(p, ps->end) : 1;
		if (n == 0)
			return NULL;
		p += n;
	}
}

/* Four hexadecimal digits at p (at least four bytes), or -1. */
static long wire_hex4(const unsigned char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0'
		      : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
		      : p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Decode the \u escape (or surrogate pair of them) at *pp, before end, as
 * UTF-8 at *out; false when it is malformed. \u0000 counts as malformed: both
 * sides hold strings as C strings, so a NUL would silently cut them short. */
static bool wire_unescape_u(const unsigned char **pp, const unsigned char *end, unsigned char **out,
			    const char **ret_why)
{
	const unsigned char *p = *pp;
	long cp = end - p >= 6 ? wire_hex4(p + 2) : -1;
	unsigned char *o = *out;

	if (cp == 0)
		*ret_why = "strings may not contain \\u0000";
	if (cp <= 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return false;
	p += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		long lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? wire_hex4(p + 2) : -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return false;
		cp = 0x10000 + ((cp & 0x3ff) << 10 | (lo & 0x3ff));
		p += 6;
	}
	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | cp >> 6);
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xe0 | cp >> 12);
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | cp >> 18);
		*o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*pp = p;
	*out = o;
	return true;
}

/* Copy string contents [p, end) to out (which may be p itself: decoding only
 * shrinks), decoding escapes and adding a NUL; false when an escape is malformed. */
static bool wire_unescape(const unsigned char *p, const unsigned char *end, unsigned char *out,
			  const char **ret_why)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

	while (p < end) {
		const unsigned char *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = (size_t)((bs ? bs : end) - p);
		memmove(out, p, run);
		out += run;
		p += run;
		if (!bs)
			break;
		if (p[1] == 'u') {
			if (!wire_unescape_u(&p, end, &out, ret_why))
				return false;
			continue;
		}
		const char *k = p[1] ? strchr(from, p[1]) : NULL;
		if (!k)
			return false;
		*out++ = (unsigned char)to[k - from];
		p += 2;
	}
	*out = '\0';
	return true;
}

/* The string at ps->p (its opening quote): decoded in place when text (the
 * writable text being parsed) is given, the NUL going where the closing quote
 * was; else newly allocated. NULL when malformed or out of memory. */
static char *wire_parse_chars(struct wire_parser *ps, unsigned char *text)
{
	bool escaped;

	ps->p++;
	const unsigned char *end = wire_string_end(ps, &escaped);
	if (!end)
		return NULL;
	size_t n = (size_t)(end - ps->p);
	unsigned char *s = text ? text + (ps->p - ps->start) : cJSON_malloc(n + 1);
	if (!s)
		return NULL;
	if (!escaped) {
		if (!text)
			memcpy(s, ps->p, n);
		s[n] = '\0';
	} else if (!wire_unescape(ps->p, end, s, &ps->why)) {
		if (!text)
			cJSON_free(s);
		return NULL;
	}
	ps->p = end + 1;
	return (char *)s;
}

/* A number too long or too precise for the exact path, through strtod (which
 * reads the decimal point of the current locale, as cJSON arranges too). */
static bool wire_strtod(const unsigned char *s, size_t n, double *ret)
{
	char small[64];
	char *text = n < sizeof small ? small : malloc(n + 1);
	char point = localeconv()->decimal_point[0];
	char *end;

	*ret = 0;
	if (!text)
		return false;
	for (size_t i = 0; i < n; i++)
		text[i] = s[i] == '.' ? point : (char)s[i];
	text[n] = '\0';
	*ret = strtod(text, &end);
	/* Beyond a double's range strtod gives infinity, which JSON cannot carry back. */
	bool ok = end == text + n && isfinite(*ret);
	if (text != small)
		free(text);
	return ok;
}

/* A number (RFC 8259 grammar) at ps->p; integers of up to 15 digits are
 * converted here, exactly. */
static bool wire_parse_number(struct wire_parser *ps, double *ret)
{
	const unsigned char *s = ps->p, *p = s, *end = ps->end;
	bool integer = true;
	uint64_t mantissa = 0;
	int digits = 0;

	if (*p == '-')
		p++;
	if (p == end || *p < '0' || *p > '9')
		return false;
	if (*p == '0')
		p++;
	else
		for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
			mantissa = mantissa * 10 + (uint64_t)(*p - '0');
	if (p < end && *p == '.') {
		integer = false;
		if (++p == end || *p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integer = false;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (integer && digits <= 15)
		*ret = *s == '-' ? -(double)mantissa : (double)mantissa;
	else if (!wire_strtod(s, (size_t)(p - s), ret)) {
		if (!isfinite(*ret))
			ps->why = "a number is beyond the range of a double (about 1.8e308)";
		return false;
	}
	ps->p = p;
	return true;
}

/* null, true or false at ps->p: its type, or -1. */
static int wire_parse_literal(struct wire_parser *ps)
{
	static const struct {
		const char *text;
		size_t len;
		int type;
	} literals[] = { { "null", 4, cJSON_NULL }, { "true", 4, cJSON_True }, { "false", 5, cJSON_False } };

	for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
		if ((size_t)(ps->end - ps->p) >= literals[i].len &&
		    memcmp(ps->p, literals[i].text, literals[i].len) == 0) {
			ps->p += literals[i].len;
			return literals[i].type;
		}
	}
	return -1;
}

/* A string, number or literal at ps->p (not at the end) into n, which is
 * zeroed first; strings as wire_parse_chars makes them. */
static bool wire_parse_scalar(struct wire_parser *ps, unsigned char *text, cJSON *n)
{
	memset(n, 0, sizeof *n);
	switch (*ps->p) {
	case '"':
		n->type = cJSON_String;
		n->valuestring = wire_parse_chars(ps, text);
		return n->valuestring != NULL;
	case 'n':
	case 't':
	case 'f':
		n->type = wire_parse_literal(ps);
		return n->type >= 0;
	default:
		if (!wire_parse_number(ps, &n->valuedouble))
			return false;
		n->type = cJSON_Number;
		n->valueint = n->valuedouble >= INT_MAX ? INT_MAX
			    : n->valuedouble <= (double)INT_MIN ? INT_MIN : (int)n->valuedouble;
		return true;
	}
}

/* Append item to the children of parent; cJSON keeps the last child in the
 * first child's prev. */
static void wire_append(cJSON *parent, cJSON **tail, cJSON *item)
{
	if (*tail) {
		(*tail)->next = item;
		item->prev = *tail;
	} else {
		parent->child = item;
	}
	*tail = item;
	parent->child->prev = item;
}

/* After an element of a container: true past a ',', false otherwise, with
 * *ret_ok telling whether the closing bracket (then skipped) was there. */
static bool wire_parse_more(struct wire_parser *ps, unsigned char close, bool *ret_ok)
{
	wire_parse_space(ps);
	if (ps->p < ps->end && *ps->p == ',') {
		ps->p++;
		wire_parse_space(ps);
		return true;
	}
	*ret_ok = ps->p < ps->end && *ps->p == close;
	if (*ret_ok)
		ps->p++;
	return false;
}

/* One element of a container at ps->p, appended to c (with its key for an object). */
static bool wire_parse_element(struct wire_parser *ps, cJSON *c, cJSON **tail)
{
	char *key = NULL;
	cJSON *item;

	if (cJSON_IsObject(c)) {
		if (ps->p == ps->end || *ps->p != '"' || !(key = wire_parse_chars(ps, NULL)))
			return false;
		if (!wire_parse_colon(ps)) {
			cJSON_free(key);
			return false;
		}
	}
	if (!(item = wire_parse_value(ps))) {
		cJSON_free(key);
		return false;
	}
	item->string = key;
	wire_append(c, tail, item);
	return true;
}

/* Objects with at most this many members are checked for repeated keys pair
 * by pair; larger ones through a hash of each key. */
#define WIRE_DUP_LINEAR_MAX 16

/* FNV-1a of a key. */
static uint64_t wire_key_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 0x100000001b3u;
	return h;
}

/* Whether key is the name of an earlier member of o than item. */
static bool wire_key_before(const cJSON *o, const cJSON *item, const char *key)
{
	for (const cJSON *c = o->child; c && c != item; c = c->next)
		if (strcmp(c->string, key) == 0)
			return true;
	return false;
}

/* Whether two members of object o have the same key: 1, 0, or -ENOMEM.
 * JSON parsers disagree on which of two equal keys wins, so a message that
 * has them could mean one thing to a proxy and another to the host. */
static int wire_object_repeats(const cJSON *o)
{
	struct map seen = MAP_INIT;
	size_t n = 0;
	int r = 0;

	for (const cJSON *c = o->child; c; c = c->next)
		n++;
	if (n <= WIRE_DUP_LINEAR_MAX) {
		for (const cJSON *c = o->child; c; c = c->next)
			if (wire_key_before(o, c, c->string))
				return 1;
		return 0;
	}
	for (const cJSON *c = o->child; c && r == 0; c = c->next) {
		uint64_t h = wire_key_hash(c->string);
		/* A hash seen before is a repeat only if the key really is. */
		if (map_get(&seen, h, 0))
			r = wire_key_before(o, c, c->string);
		else if (map_put(&seen, h, 0, (void *)c) < 0)
			r = -ENOMEM;
	}
	map_free(&seen);
	return r;
}

/* Refuse an object parsed with a key given twice. */
static bool wire_object_check_keys(struct wire_parser *ps, const cJSON *o)
{
	int r = wire_object_repeats(o);

	if (r == 0)
		return true;
	if (r > 0)
		ps->why = "an object may not give the same key twice";
	return false;
}

/* An array or an object at ps->p (its opening bracket). */
static cJSON *wire_parse_container(struct wire_parser *ps, bool object)
{
	unsigned char close = object ? '}' : ']';
	cJSON *c = cJSON_malloc(sizeof *c), *tail = NULL;
	bool ok = false;

	if (!c)
		return NULL;
	memset(c, 0, sizeof *c);
	c->type = object ? cJSON_Object : cJSON_Array;
	ps->p++;
	if (++ps->depth <= WIRE_DEPTH_MAX) {
		wire_parse_space(ps);
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ok = true;
		} else {
			while (wire_parse_element(ps, c, &tail) && wire_parse_more(ps, close, &ok))
				;
		}
	}
	ps->depth--;
	if (!ok || (object && !wire_object_check_keys(ps, c))) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

/* One value at ps->p (no whitespace before it). */
static cJSON *wire_parse_value(struct wire_parser *ps)
{
	if (ps->p == ps->end)
		return NULL;
	if (*ps->p == '{' || *ps->p == '[')
		return wire_parse_container(ps, *ps->p == '{');
	cJSON *n = cJSON_malloc(sizeof *n);
	if (n && !wire_parse_scalar(ps, NULL, n)) {
		cJSON_free(n);
		return NULL;
	}
	return n;
}

static bool wire_skip_value(struct wire_parser *ps);

/* Check one element of a container at ps->p (with its key in an object). */
static bool wire_skip_element(struct wire_parser *ps, bool object)
{
	bool escaped;

	if (object) {
		if (ps->p == ps->end || *ps->p != '"')
			return false;
		ps->p++;
		const unsigned char *end = wire_string_end(ps, &escaped);
		if (!end)
			return false;
		ps->p = end + 1;
		if (!wire_parse_colon(ps))
			return false;
	}
	return wire_skip_value(ps);
}

/* Check an array or object at ps->p (its opening bracket) and move past it. */
static bool wire_skip_container(struct wire_parser *ps)
{
	bool object = *ps->p == '{', ok = false;
	unsigned char close = object ? '}' : ']';

	ps->p++;
	if (++ps->depth <= WIRE_DEPTH_MAX) {
		wire_parse_space(ps);
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ok = true;
		} else {
			while (wire_skip_element(ps, object) && wire_parse_more(ps, close, &ok))
				;
		}
	}
	ps->depth--;
	return ok;
}

/* Check the grammar of one value at ps->p and move past it, building nothing;
 * string escapes are checked when the value is parsed. */
static bool wire_skip_value(struct wire_parser *ps)
{
	bool escaped;
	double d;

	if (ps->p == ps->end)
		return false;
	switch (*ps->p) {
	case '{':
	case '[':
		return wire_skip_container(ps);
	case '"': {
		ps->p++;
		const unsigned char *end = wire_string_end(ps, &escaped);
		if (!end)
			return false;
		ps->p = end + 1;
		return true;
	}
	case 'n':
	case 't':
	case 'f':
		return wire_parse_literal(ps) >= 0;
	default:
		return wire_parse_number(ps, &d);
	}
}

/* A parser at the first value of text: past a byte order mark (skipped, as
 * cJSON does) and whitespace. */
static void wire_parser_init(struct wire_parser *ps, const char *text, size_t len, bool utf8)
{
	*ps = (struct wire_parser){ (const unsigned char *)text, (const unsigned char *)text,
				    (const unsigned char *)text + len, utf8, 0, NULL, NULL, NULL, 0 };
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ps->p += 3;
	wire_parse_space(ps);
}

cJSON *wire_parse(const char *text, size_t len, bool utf8)
{
	struct wire_parser ps;

	wire_parser_init(&ps, text, len, utf8);
	cJSON *root = wire_parse_value(&ps);
	if (!root)
		return NULL;
	wire_parse_space(&ps);
	if (ps.p != ps.end) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* ---- messages ----------------------------------------------------------- */

static const struct {
	const char *name;
	enum wire_type type;
} wire_types[] = {
	{ "hello", WIRE_HELLO },     { "welcome", WIRE_WELCOME }, { "call", WIRE_CALL },
	{ "invoke", WIRE_INVOKE },   { "result", WIRE_RESULT },   { "error", WIRE_ERROR },
	{ "release", WIRE_RELEASE },
};

/* The members of a message the protocol defines, each the first of its name
 * (the one a lookup by name would find); NULL when absent. */
struct wire_members {
	/* read by the parser itself: wire_msg_parse_frame keeps them out of the tree */
	cJSON *t, *id, *version, *obj, *method, *fn, *count;
	/* handed to receivers, who may detach them from the tree */
	cJSON *args, *value, *error;
};

#define WIRE_SCALAR_MEMBERS 7

/* Where a member called key goes (*ret_scalar: among the members read by the
 * parser), or NULL for a member the protocol ignores. */
static cJSON **wire_member_slot(struct wire_members *w, const char *key, bool *ret_scalar)
{
	*ret_scalar = true;
	switch (key[0]) {
	case 't':
		return key[1] == '\0' ? &w->t : NULL;
	case 'i':
		return strcmp(key, "id") == 0 ? &w->id : NULL;
	case 'o':
		return strcmp(key, "obj") == 0 ? &w->obj : NULL;
	case 'm':
		return strcmp(key, "method") == 0 ? &w->method : NULL;
	case 'f':
		return strcmp(key, "fn") == 0 ? &w->fn : NULL;
	case 'c':
		return strcmp(key, "count") == 0 ? &w->count : NULL;
	case 'v':
		if (strcmp(key, "version") == 0)
			return &w->version;
		*ret_scalar = false;
		return strcmp(key, "value") == 0 ? &w->value : NULL;
	case 'a':
		*ret_scalar = false;
		return strcmp(key, "args") == 0 ? &w->args : NULL;
	case 'e':
		*ret_scalar = false;
		return strcmp(key, "error") == 0 ? &w->error : NULL;
	default:
		return NULL;
	}
}

/* Sort the members of a message tree in one pass. */
static void wire_members_find(cJSON *root, struct wire_members *w)
{
	bool scalar;

	memset(w, 0, sizeof *w);
	for (cJSON *c = root->child; c; c = c->next) {
		cJSON **slot = c->string ? wire_member_slot(w, c->string, &scalar) : NULL;
		if (slot && !*slot)
			*slot = c;
	}
}

/* One member of the message object being parsed: a scalar member the parser
 * reads goes into the next of scalars (strings decoded in place in text),
 * any other member into root. */
static bool wire_members_parse_one(struct wire_parser *ps, unsigned char *text, cJSON *root, cJSON **tail,
				   struct wire_members *w, cJSON *scalars, unsigned *nscalars)
{
	bool scalar;
	char *key = ps->p < ps->end && *ps->p == '"' ? wire_parse_chars(ps, text) : NULL;

	if (!key || !wire_parse_colon(ps))
		return false;
	if (ps->skip_key && strcmp(key, ps->skip_key) == 0) {
		const unsigned char *at = ps->p;
		if (ps->skipped)
			return ps->why = "a message may not give the same key twice", false;
		if (!wire_skip_value(ps))
			return false;
		ps->skipped = at;
		ps->skipped_len = (size_t)(ps->p - at);
		return true;
	}
	cJSON **slot = wire_member_slot(w, key, &scalar);
	if (slot && *slot)
		return ps->why = "a message may not give the same key twice", false;
	if (slot && scalar && *ps->p != '{' && *ps->p != '[') {
		cJSON *n = &scalars[(*nscalars)++];
		*slot = n;
		return wire_parse_scalar(ps, text, n);
	}
	cJSON *item = wire_parse_value(ps);
	if (!item)
		return false;
	if (!(item->string = wire_strdup(key))) {
		cJSON_Delete(item);
		return false;
	}
	wire_append(root, tail, item);
	if (slot)
		*slot = item;
	return true;
}

/* The members of the message object at ps->p (its opening brace). */
static bool wire_members_parse(struct wire_parser *ps, unsigned char *text, cJSON *root,
			       struct wire_members *w, cJSON *scalars)
{
	unsigned nscalars = 0;
	cJSON *tail = NULL;
	bool ok = false;

	memset(w, 0, sizeof *w);
	ps->p++;
	ps->depth = 1;
	wire_parse_space(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return true;
	}
	while (wire_members_parse_one(ps, text, root, &tail, w, scalars, &nscalars) &&
	       wire_parse_more(ps, '}', &ok))
		;
	/* The members the parser read are not in root: each was checked above. */
	return ok && wire_object_check_keys(ps, root);
}

/* The message type named by "t", or -1. */
static int wire_msg_type(const cJSON *t)
{
	const char *name = cJSON_GetStringValue(t);

	for (size_t i = 0; name && i < sizeof wire_types / sizeof wire_types[0]; i++)
		if (name[0] == wire_types[i].name[0] && strcmp(name, wire_types[i].name) == 0)
			return (int)wire_types[i].type;
	return -1;
}

/* The fields of an error message. */
static int wire_msg_error(struct wire_msg *m, cJSON *error, const char **ret_why)
{
	m->error = error;
	m->error_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "name"));
	m->error_message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));
	if (!cJSON_IsObject(error) || !m->error_name)
		return *ret_why = "an error needs an object \"error\" with a string \"name\"", -EBADMSG;
	if (!m->error_message)
		m->error_message = "";
	return 0;
}

/* A version number as a long; one out of its range is clamped (a cast
 * would be undefined), so that it still mismatches. */
static long wire_version(double v)
{
	if (v >= (double)LONG_MAX)
		return LONG_MAX;
	if (v <= (double)LONG_MIN)
		return LONG_MIN;
	return (long)v;
}

/* Check the shape of a message from its members and fill m. */
static int wire_msg_fill(cJSON *root, const struct wire_members *w, struct wire_msg *m, const char **ret_why)
{
	memset(m, 0, sizeof *m);
	if (!cJSON_IsString(w->t))
		return *ret_why = "a message needs a string field \"t\"", -EBADMSG;
	int type = wire_msg_type(w->t);
	if (type < 0)
		return *ret_why = "unknown message type", -EBADMSG;
	m->type = (enum wire_type)type;
	if (w->id && !wire_get_id(w->id, &m->id))
		return *ret_why = "\"id\" must be an integer from 1 to 2^53-1", -EBADMSG;

	switch (m->type) {
	case WIRE_HELLO:
	case WIRE_WELCOME:
		if (!cJSON_IsNumber(w->version))
			return *ret_why = "\"version\" must be a number", -EBADMSG;
		m->version = wire_version(w->version->valuedouble);
		m->value = root;
		return 0;
	case WIRE_CALL:
		m->obj = cJSON_GetStringValue(w->obj);
		m->method = cJSON_GetStringValue(w->method);
		if (!m->id || !m->obj || !m->method)
			return *ret_why = "a call needs \"id\", \"obj\" and \"method\"", -EBADMSG;
		break;
	case WIRE_INVOKE:
		if (!wire_get_id(w->fn, &m->fn))
			return *ret_why = "an invoke needs a token id \"fn\"", -EBADMSG;
		break;
	case WIRE_RESULT:
		if (!m->id)
			return *ret_why = "a result needs \"id\"", -EBADMSG;
		m->value = w->value;
		return 0;
	case WIRE_ERROR:
		return wire_msg_error(m, w->error, ret_why);
	case WIRE_RELEASE:
		if (!wire_get_id(w->fn, &m->fn) || !wire_get_id(w->count, &m->count))
			return *ret_why = "a release needs \"fn\" and a positive \"count\"", -EBADMSG;
		return 0;
	}
	if (w->args && !cJSON_IsArray(w->args))
		return *ret_why = "\"args\" must be an array", -EBADMSG;
	m->args = w->args;
	return 0;
}

int wire_msg_parse(cJSON *root, struct wire_msg *m, const char **ret_why)
{
	struct wire_members w;

	memset(m, 0, sizeof *m);
	if (!cJSON_IsObject(root))
		return *ret_why = "a message must be a JSON object", -EBADMSG;
	wire_members_find(root, &w);
	return wire_msg_fill(root, &w, m, ret_why);
}

/* wire_msg_parse_frame; the member skip_key (unless NULL) only checked, and
 * where its value lies in the frame put in *ret_at and *ret_len. */
static int wire_msg_parse_frame_skip(char *frame, size_t len, bool utf8, const char *skip_key,
				     struct wire_msg *m, cJSON **ret_root, const char **ret_why,
				     const char **ret_at, size_t *ret_len)
{
	cJSON scalars[WIRE_SCALAR_MEMBERS];
	struct wire_members w;
	struct wire_parser ps;
	cJSON *root;

	memset(m, 0, sizeof *m);
	wire_parser_init(&ps, frame, len, utf8);
	ps.skip_key = skip_key;
	if (ps.p == ps.end || *ps.p != '{')
		return *ret_why = "a message must be a JSON object", -EBADMSG;
	if (!(root = cJSON_CreateObject()))
		return *ret_why = "out of memory", -ENOMEM;
	bool ok = wire_members_parse(&ps, (unsigned char *)frame, root, &w, scalars);
	if (ok)
		wire_parse_space(&ps);
	if (!ok || ps.p != ps.end) {
		cJSON_Delete(root);
		if (ps.why)
			return *ret_why = ps.why, -EBADMSG;
		return *ret_why = utf8 ? "a frame must be one UTF-8 JSON object" : "a frame must be one JSON object",
		       -EBADMSG;
	}
	int r = wire_msg_fill(root, &w, m, ret_why);
	if (r < 0) {
		cJSON_Delete(root);
		return r;
	}
	*ret_root = root;
	if (ret_at) {
		*ret_at = (const char *)ps.skipped;
		*ret_len = ps.skipped_len;
	}
	return 0;
}

int wire_msg_parse_frame(char *frame, size_t len, bool utf8, struct wire_msg *m, cJSON **ret_root,
			 const char **ret_why)
{
	return wire_msg_parse_frame_skip(frame, len, utf8, NULL, m, ret_root, ret_why, NULL, NULL);
}

int wire_msg_parse_frame_lazy(char *frame, size_t len, bool utf8, const char *key, struct wire_msg *m,
			      cJSON **ret_root, const char **ret_why, const char **ret_at, size_t *ret_len)
{
	return wire_msg_parse_frame_skip(frame, len, utf8, key, m, ret_root, ret_why, ret_at, ret_len);
}
