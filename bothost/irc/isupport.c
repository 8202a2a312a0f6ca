/* SPDX-License-Identifier: ISC */
/* RPL_ISUPPORT parsing and IRC casemappings. */
#include "isupport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "irc_line.h"
#include "wire/map.h"

#define ISUPPORT_CHANTYPES "#&"
#define ISUPPORT_PREFIX_MODES "ov"
#define ISUPPORT_PREFIX_SYMBOLS "@+"
#define ISUPPORT_NICKLEN 9
#define ISUPPORT_CHANNELLEN 200

static const char *const isupport_chanmodes_default[4] = { "b", "k", "l", "imnpst" };

/* What one server may make the host keep: tokens in force (one per name),
 * tokens kept as received, and the length of one token. */
#define ISUPPORT_TOKENS_MAX 256
#define ISUPPORT_RAW_MAX 512
#define ISUPPORT_TOKEN_LEN_MAX 512

struct isupport_kv {
	char *key;
	char *value;		/* unescaped; "" for a token without value */
};

struct isupport {
	enum isupport_casemap casemap;
	char *chantypes;	/* NULL: the default */
	char *prefix;		/* "modes\0symbols", or NULL: the default */
	const char *prefix_symbols;
	size_t nicklen, channellen, topiclen;
	char *network;
	char *chanmodes_buf;	/* the groups, NUL-separated, or NULL: the default */
	const char *chanmodes[4];
	struct isupport_kv *kv;	/* tokens in force, at most ISUPPORT_TOKENS_MAX */
	size_t nkv, kv_cap;
	struct map index;	/* the hash of a key -> its index in kv, plus one */
	char **raw;		/* the first ISUPPORT_RAW_MAX tokens received */
	size_t nraw, raw_cap;
	size_t raw_dropped;	/* tokens received beyond those */
};

/* ---- casemappings -------------------------------------------------------- */

/* The casemapping's ISUPPORT name. */
const char *isupport_casemap_name(enum isupport_casemap cm)
{
	switch (cm) {
	case ISUPPORT_CASEMAP_ASCII: return "ascii";
	case ISUPPORT_CASEMAP_STRICT_RFC1459: return "strict-rfc1459";
	case ISUPPORT_CASEMAP_RFC1459: break;
	}
	return "rfc1459";
}

/* The folded form of c. */
char isupport_casemap_lower_char(enum isupport_casemap cm, char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if (cm == ISUPPORT_CASEMAP_ASCII)
		return c;
	switch (c) {
	case '[': return '{';
	case ']': return '}';
	case '\\': return '|';
	case '~': return cm == ISUPPORT_CASEMAP_RFC1459 ? '^' : '~';
	default: return c;
	}
}

/* Fold s in place. */
void isupport_casemap_lower(enum isupport_casemap cm, char *s)
{
	for (; *s; s++)
		*s = isupport_casemap_lower_char(cm, *s);
}

/* Compare folded names. */
int isupport_casemap_cmp(enum isupport_casemap cm, const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)isupport_casemap_lower_char(cm, *a);
		unsigned char y = (unsigned char)isupport_casemap_lower_char(cm, *b);
		if (x != y || x == '\0')
			return (int)x - (int)y;
	}
}

/* Whether folded names are equal. */
bool isupport_casemap_equal(enum isupport_casemap cm, const char *a, const char *b)
{
	return isupport_casemap_cmp(cm, a, b) == 0;
}

/* FNV-1a over the folded bytes. */
uint64_t isupport_casemap_hash(enum isupport_casemap cm, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)isupport_casemap_lower_char(cm, *s);
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- fields ------------------------------------------------------------- */

/* Set the casemapping from a CASEMAPPING value (NULL: the default). */
static int isupport_apply_casemapping(struct isupport *is, const char *v)
{
	if (!v || strcmp(v, "rfc1459") == 0)
		is->casemap = ISUPPORT_CASEMAP_RFC1459;
	else if (strcmp(v, "strict-rfc1459") == 0)
		is->casemap = ISUPPORT_CASEMAP_STRICT_RFC1459;
	else
		is->casemap = ISUPPORT_CASEMAP_ASCII;
	return 0;
}

/* Replace the string *field by a copy of v (NULL: the default). */
static int isupport_set_string(char **field, const char *v)
{
	char *copy = NULL;

	if (v) {
		copy = strdup(v);
		if (!copy)
			return -ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

/* Set CHANTYPES. */
static int isupport_apply_chantypes(struct isupport *is, const char *v)
{
	return isupport_set_string(&is->chantypes, v);
}

/* Set NETWORK. */
static int isupport_apply_network(struct isupport *is, const char *v)
{
	return isupport_set_string(&is->network, v);
}

/* Set PREFIX from "(modes)symbols" or ""; another shape is ignored. */
static int isupport_apply_prefix(struct isupport *is, const char *v)
{
	const char *close;
	size_t nmodes;
	char *p;

	if (!v || !*v) {
		int r = isupport_set_string(&is->prefix, v);
		is->prefix_symbols = is->prefix;
		return r;
	}
	close = strchr(v, ')');
	if (v[0] != '(' || !close)
		return 0;
	nmodes = (size_t)(close - v - 1);
	if (strlen(close + 1) != nmodes)
		return 0;
	p = malloc(2 * nmodes + 2);
	if (!p)
		return -ENOMEM;
	memcpy(p, v + 1, nmodes);
	p[nmodes] = '\0';
	strcpy(p + nmodes + 1, close + 1);
	free(is->prefix);
	is->prefix = p;
	is->prefix_symbols = p + nmodes + 1;
	return 0;
}

/* Parse a decimal length into *field (NULL: def; "": 0, no limit); another
 * shape is ignored. */
static int isupport_set_length(size_t *field, const char *v, size_t def)
{
	char *end;
	unsigned long n;

	if (!v) {
		*field = def;
		return 0;
	}
	if (*v == '\0') {
		*field = 0;
		return 0;
	}
	if (*v < '0' || *v > '9')
		return 0;
	n = strtoul(v, &end, 10);
	if (*end == '\0')
		*field = (size_t)n;
	return 0;
}

/* Set NICKLEN. */
static int isupport_apply_nicklen(struct isupport *is, const char *v)
{
	return isupport_set_length(&is->nicklen, v, ISUPPORT_NICKLEN);
}

/* Set CHANNELLEN. */
static int isupport_apply_channellen(struct isupport *is, const char *v)
{
	return isupport_set_length(&is->channellen, v, ISUPPORT_CHANNELLEN);
}

/* Set TOPICLEN. */
static int isupport_apply_topiclen(struct isupport *is, const char *v)
{
	return isupport_set_length(&is->topiclen, v, 0);
}

/* Set CHANMODES from "A,B,C,D" (missing groups are empty, extra ignored). */
static int isupport_apply_chanmodes(struct isupport *is, const char *v)
{
	char *buf = NULL;

	if (v) {
		buf = strdup(v);
		if (!buf)
			return -ENOMEM;
	}
	free(is->chanmodes_buf);
	is->chanmodes_buf = buf;
	for (unsigned g = 0; g < 4; g++) {
		if (!buf) {
			is->chanmodes[g] = isupport_chanmodes_default[g];
			continue;
		}
		is->chanmodes[g] = buf;
		char *comma = strchr(buf, ',');
		if (comma) {
			*comma = '\0';
			buf = comma + 1;
		} else {
			buf = buf + strlen(buf);
		}
	}
	return 0;
}

static const struct {
	const char *key;
	int (*apply)(struct isupport *is, const char *value);
} isupport_fields[] = {
	{ "CASEMAPPING", isupport_apply_casemapping },
	{ "CHANTYPES", isupport_apply_chantypes },
	{ "PREFIX", isupport_apply_prefix },
	{ "NICKLEN", isupport_apply_nicklen },
	{ "CHANNELLEN", isupport_apply_channellen },
	{ "TOPICLEN", isupport_apply_topiclen },
	{ "NETWORK", isupport_apply_network },
	{ "CHANMODES", isupport_apply_chanmodes },
};

/* Apply key's value (NULL: removed) to the field it names, if any. */
static int isupport_apply(struct isupport *is, const char *key, const char *value)
{
	for (size_t i = 0; i < sizeof isupport_fields / sizeof isupport_fields[0]; i++) {
		if (strcmp(isupport_fields[i].key, key) == 0)
			return isupport_fields[i].apply(is, value);
	}
	return 0;
}

/* ---- tokens ------------------------------------------------------------- */

/* Undo \xHH escapes in place (\x00 and malformed escapes stay as they are). */
static void isupport_unescape(char *v)
{
	char *out = v;

	for (const char *in = v; *in; in++) {
		int hi, lo;
		if (in[0] == '\\' && in[1] == 'x' && (hi = irc_line_hex_value(in[2])) >= 0 &&
		    (lo = irc_line_hex_value(in[3])) >= 0 && (hi || lo)) {
			*out++ = (char)(hi * 16 + lo);
			in += 3;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
}

/* The hash of a key (FNV-1a over its bytes: keys are case-sensitive). */
static uint64_t isupport_key_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 0x100000001b3ULL;
	return h;
}

/* The index of the token in force named key, or nkv: one lookup. */
static size_t isupport_kv_find(const struct isupport *is, const char *key)
{
	uintptr_t v = (uintptr_t)map_get(&is->index, isupport_key_hash(key), 0);

	if (v && strcmp(is->kv[v - 1].key, key) == 0)
		return v - 1;
	return is->nkv;
}

/* Remove the token in force named key: the last one takes its place. */
static void isupport_kv_remove(struct isupport *is, const char *key)
{
	size_t i = isupport_kv_find(is, key);

	if (i == is->nkv)
		return;
	map_remove(&is->index, isupport_key_hash(key), 0);
	free(is->kv[i].key);
	if (i != --is->nkv) {
		is->kv[i] = is->kv[is->nkv];
		map_put(&is->index, isupport_key_hash(is->kv[i].key), 0, (void *)(uintptr_t)(i + 1));
	}
}

/* Set the token in force key to value; takes both strings on success.
 * -ENOSPC when ISUPPORT_TOKENS_MAX names are in force, -EEXIST when
 * another name in force has the same hash (a server crafting collisions
 * loses the token, never the lookup), -ENOMEM. */
static int isupport_kv_set(struct isupport *is, char *key, char *value)
{
	uint64_t h = isupport_key_hash(key);
	size_t i = isupport_kv_find(is, key);

	if (i < is->nkv) {
		free(is->kv[i].key);
		is->kv[i].key = key;
		is->kv[i].value = value;
		return 0;
	}
	if (map_get(&is->index, h, 0))
		return -EEXIST;
	if (is->nkv == ISUPPORT_TOKENS_MAX)
		return -ENOSPC;
	if (is->nkv == is->kv_cap) {
		size_t cap = is->kv_cap ? is->kv_cap * 2 : 32;
		struct isupport_kv *kv = realloc(is->kv, cap * sizeof *kv);
		if (!kv)
			return -ENOMEM;
		is->kv = kv;
		is->kv_cap = cap;
	}
	if (map_put(&is->index, h, 0, (void *)(uintptr_t)(is->nkv + 1)) < 0)
		return -ENOMEM;
	is->kv[is->nkv].key = key;
	is->kv[is->nkv].value = value;
	is->nkv++;
	return 0;
}

/* Keep a copy of the raw token, while fewer than ISUPPORT_RAW_MAX are kept. */
static int isupport_raw_add(struct isupport *is, const char *token)
{
	char *copy;

	if (is->nraw == ISUPPORT_RAW_MAX) {
		is->raw_dropped++;
		return 0;
	}
	if (is->nraw == is->raw_cap) {
		size_t cap = is->raw_cap ? is->raw_cap * 2 : 32;
		char **raw = realloc(is->raw, cap * sizeof *raw);
		if (!raw)
			return -ENOMEM;
		is->raw = raw;
		is->raw_cap = cap;
	}
	copy = strdup(token);
	if (!copy)
		return -ENOMEM;
	is->raw[is->nraw++] = copy;
	return 0;
}

/* Apply "KEY" or "KEY=value": the key and its value share one allocation. */
static int isupport_token_set(struct isupport *is, const char *token)
{
	char *key = strdup(token);
	char *eq, *value;
	int r;

	if (!key)
		return -ENOMEM;
	eq = strchr(key, '=');
	value = eq ? eq + 1 : key + strlen(key);
	if (eq)
		*eq = '\0';
	isupport_unescape(value);
	r = isupport_apply(is, key, value);
	if (r == 0)
		r = isupport_kv_set(is, key, value);
	if (r < 0)
		free(key);
	return r;
}

/* Record and apply one ISUPPORT token. */
int isupport_add_token(struct isupport *is, const char *token)
{
	bool removal = token[0] == '-';
	const char *key = token + removal;
	int r;

	if (key[0] == '\0' || key[0] == '=' || (removal && strchr(key, '=')))
		return -EINVAL;
	if (strlen(token) > ISUPPORT_TOKEN_LEN_MAX)
		return -E2BIG;
	r = isupport_raw_add(is, token);
	if (r < 0)
		return r;
	if (!removal)
		return isupport_token_set(is, token);
	isupport_kv_remove(is, key);
	return isupport_apply(is, key, NULL);
}

/* Apply the tokens of a 005 line. */
int isupport_add_line(struct isupport *is, const struct irc_line *l)
{
	size_t n = irc_line_param_count(l);
	const char *last;
	int applied = 0;

	if (irc_line_numeric(l) != 5)
		return -EINVAL;
	if (n < 2)
		return 0;
	/* The closing text ("are supported by this server") holds a space. */
	last = irc_line_last_param(l);
	if (last[0] == '\0' || strchr(last, ' '))
		n--;
	for (size_t i = 1; i < n; i++) {
		int r = isupport_add_token(is, irc_line_param(l, i));
		if (r == -ENOMEM)
			return r;
		if (r == 0)
			applied++;
	}
	return applied;
}

/* ---- the object ----------------------------------------------------------- */

/* A new isupport with the defaults. */
struct isupport *isupport_new(void)
{
	struct isupport *is = calloc(1, sizeof *is);

	if (is)
		isupport_reset(is);
	return is;
}

/* Free every token and field, then set the defaults. */
void isupport_reset(struct isupport *is)
{
	for (size_t i = 0; i < is->nkv; i++)
		free(is->kv[i].key);
	is->nkv = 0;
	for (size_t i = 0; i < is->nraw; i++)
		free(is->raw[i]);
	is->nraw = 0;
	is->raw_dropped = 0;
	map_free(&is->index);
	isupport_apply_casemapping(is, NULL);
	isupport_apply_chantypes(is, NULL);
	isupport_apply_prefix(is, NULL);
	isupport_apply_nicklen(is, NULL);
	isupport_apply_channellen(is, NULL);
	isupport_apply_topiclen(is, NULL);
	isupport_apply_network(is, NULL);
	isupport_apply_chanmodes(is, NULL);
}

/* Free an isupport. */
struct isupport *isupport_free(struct isupport *is)
{
	if (!is)
		return NULL;
	isupport_reset(is);
	free(is->kv);
	free(is->raw);
	free(is);
	return NULL;
}

/* The casemapping in force. */
enum isupport_casemap isupport_casemapping(const struct isupport *is)
{
	return is->casemap;
}

/* CHANTYPES in force. */
const char *isupport_chantypes(const struct isupport *is)
{
	return is->chantypes ? is->chantypes : ISUPPORT_CHANTYPES;
}

/* PREFIX modes in force. */
const char *isupport_prefix_modes(const struct isupport *is)
{
	return is->prefix ? is->prefix : ISUPPORT_PREFIX_MODES;
}

/* PREFIX symbols in force. */
const char *isupport_prefix_symbols(const struct isupport *is)
{
	return is->prefix ? is->prefix_symbols : ISUPPORT_PREFIX_SYMBOLS;
}

/* NICKLEN in force. */
size_t isupport_nicklen(const struct isupport *is)
{
	return is->nicklen;
}

/* CHANNELLEN in force. */
size_t isupport_channellen(const struct isupport *is)
{
	return is->channellen;
}

/* TOPICLEN in force (0: none announced). */
size_t isupport_topiclen(const struct isupport *is)
{
	return is->topiclen;
}

/* NETWORK, or NULL. */
const char *isupport_network(const struct isupport *is)
{
	return is->network;
}

/* CHANMODES group g, or NULL. */
const char *isupport_chanmodes(const struct isupport *is, unsigned group)
{
	return group < 4 ? is->chanmodes[group] : NULL;
}

/* Whether mode m takes a parameter. */
bool isupport_mode_has_param(const struct isupport *is, char m, bool adding)
{
	if (m == '\0')
		return false;
	if (strchr(isupport_prefix_modes(is), m) || strchr(is->chanmodes[0], m) ||
	    strchr(is->chanmodes[1], m))
		return true;
	return adding && strchr(is->chanmodes[2], m);
}

/* The value in force of key, or NULL. */
const char *isupport_get(const struct isupport *is, const char *key)
{
	size_t i = isupport_kv_find(is, key);

	return i < is->nkv ? is->kv[i].value : NULL;
}

/* Number of raw tokens. */
size_t isupport_token_count(const struct isupport *is)
{
	return is->nraw;
}

/* Raw token i, or NULL. */
const char *isupport_token_at(const struct isupport *is, size_t i)
{
	return i < is->nraw ? is->raw[i] : NULL;
}

/* Add the parsed fields to obj. */
static bool isupport_json_fields(const struct isupport *is, cJSON *obj)
{
	cJSON *prefix = cJSON_AddObjectToObject(obj, "prefix");
	cJSON *modes = cJSON_AddArrayToObject(obj, "chanmodes");

	if (!cJSON_AddStringToObject(obj, "casemapping", isupport_casemap_name(is->casemap)) ||
	    !cJSON_AddStringToObject(obj, "chantypes", isupport_chantypes(is)) || !prefix ||
	    !cJSON_AddStringToObject(prefix, "modes", isupport_prefix_modes(is)) ||
	    !cJSON_AddStringToObject(prefix, "symbols", isupport_prefix_symbols(is)) ||
	    !cJSON_AddNumberToObject(obj, "nicklen", (double)is->nicklen) ||
	    !cJSON_AddNumberToObject(obj, "channellen", (double)is->channellen) ||
	    !cJSON_AddNumberToObject(obj, "topiclen", (double)is->topiclen) || !modes)
		return false;
	if (!(is->network ? cJSON_AddStringToObject(obj, "network", is->network)
			  : cJSON_AddNullToObject(obj, "network")))
		return false;
	for (unsigned g = 0; g < 4; g++) {
		cJSON *s = cJSON_CreateString(is->chanmodes[g]);
		if (!s || !cJSON_AddItemToArray(modes, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	return true;
}

/* Add the tokens in force and the raw tokens to obj. */
static bool isupport_json_tokens(const struct isupport *is, cJSON *obj)
{
	cJSON *tokens = cJSON_AddObjectToObject(obj, "tokens");
	cJSON *raw = cJSON_AddArrayToObject(obj, "raw");

	if (!tokens || !raw)
		return false;
	for (size_t i = 0; i < is->nkv; i++) {
		const struct isupport_kv *kv = &is->kv[i];
		bool ok = *kv->value ? cJSON_AddStringToObject(tokens, kv->key, kv->value) != NULL
				     : cJSON_AddTrueToObject(tokens, kv->key) != NULL;
		if (!ok)
			return false;
	}
	for (size_t i = 0; i < is->nraw; i++) {
		cJSON *s = cJSON_CreateString(is->raw[i]);
		if (!s || !cJSON_AddItemToArray(raw, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	return !is->raw_dropped || cJSON_AddNumberToObject(obj, "raw_dropped", (double)is->raw_dropped);
}

/* The parsed fields, the tokens in force and the raw tokens as JSON. */
cJSON *isupport_to_json(const struct isupport *is)
{
	cJSON *obj = cJSON_CreateObject();

	if (!obj)
		return NULL;
	if (!isupport_json_fields(is, obj) || !isupport_json_tokens(is, obj)) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}
