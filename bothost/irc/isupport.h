/* SPDX-License-Identifier: ISC */
/* What the server announces in RPL_ISUPPORT (005), and the casemappings IRC
 * names are compared with.
 *
 * Before any 005 arrives (or after isupport_reset) every field has the
 * RFC 1459 default: CASEMAPPING rfc1459, CHANTYPES "#&", PREFIX "(ov)@+",
 * NICKLEN 9, CHANNELLEN 200, TOPICLEN 0, no NETWORK, CHANMODES
 * "b,k,l,imnpst". A length of 0 means no limit (a token without value, such
 * as "CHANNELLEN=", announces that). A "-TOKEN" puts the field back to its
 * default.
 * Functions returning int give 0 or a negative errno code. */
#ifndef BH_ISUPPORT_H
#define BH_ISUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct irc_line;

/* How names are case-folded. An unknown CASEMAPPING value (rfc7613, say)
 * is treated as ascii, which folds the ASCII letters every mapping folds. */
enum isupport_casemap {
	ISUPPORT_CASEMAP_ASCII,			/* A-Z */
	ISUPPORT_CASEMAP_RFC1459,		/* A-Z and []\~ as the upper case of {}|^ */
	ISUPPORT_CASEMAP_STRICT_RFC1459,	/* A-Z and []\ as the upper case of {}| */
};

/* The casemapping's ISUPPORT name ("rfc1459"). */
const char *isupport_casemap_name(enum isupport_casemap cm);
/* The lower-case form of one byte (bytes >= 0x80 are left alone). */
char isupport_casemap_lower_char(enum isupport_casemap cm, char c);
/* Lower-case s in place. */
void isupport_casemap_lower(enum isupport_casemap cm, char *s);
/* Compare two names after folding: <0, 0 or >0 like strcmp. */
int isupport_casemap_cmp(enum isupport_casemap cm, const char *a, const char *b);
/* Whether two names are equal after folding. */
bool isupport_casemap_equal(enum isupport_casemap cm, const char *a, const char *b);
/* A 64-bit hash (FNV-1a) of the folded name: equal names hash equal. */
uint64_t isupport_casemap_hash(enum isupport_casemap cm, const char *s);

struct isupport;

/* A new isupport holding the defaults; NULL on allocation failure. */
struct isupport *isupport_new(void);
/* Free; NULL is allowed. Returns NULL. */
struct isupport *isupport_free(struct isupport *is);
/* Forget everything announced (a new connection): back to the defaults. */
void isupport_reset(struct isupport *is);

/* Apply one token: "KEY", "KEY=value" (with \xHH escapes) or "-KEY".
 * A value the module cannot use (PREFIX without matching parentheses,
 * NICKLEN=abc) leaves the field as it was. What a server can make the host
 * keep is bounded: one token in force per name, found in one hash lookup,
 * at most 256 names; at most 512 tokens kept as received (those beyond are
 * applied and counted, not kept); a token of at most 512 bytes. Returns 0,
 * -EINVAL (empty token or key), -E2BIG (a longer token), -ENOSPC (a 257th
 * name), -EEXIST (a name whose hash equals another's in force) or -ENOMEM;
 * a token refused changes nothing. */
int isupport_add_token(struct isupport *is, const char *token);
/* Apply every token of a 005 line: the parameters between the nick (first)
 * and the text (last). Returns the number of tokens applied, -EINVAL when
 * the line is not a 005 or -ENOMEM. */
int isupport_add_line(struct isupport *is, const struct irc_line *l);

enum isupport_casemap isupport_casemapping(const struct isupport *is);
const char *isupport_chantypes(const struct isupport *is);
/* PREFIX: the channel-member modes ("ov") and their symbols ("@+"), in the
 * same order, highest first. */
const char *isupport_prefix_modes(const struct isupport *is);
const char *isupport_prefix_symbols(const struct isupport *is);
size_t isupport_nicklen(const struct isupport *is);
size_t isupport_channellen(const struct isupport *is);
size_t isupport_topiclen(const struct isupport *is);
/* NETWORK, or NULL when not announced. */
const char *isupport_network(const struct isupport *is);
/* CHANMODES group 0-3 (A: lists, B: always a parameter, C: a parameter when
 * set, D: never), or NULL for another group. */
const char *isupport_chanmodes(const struct isupport *is, unsigned group);
/* Whether channel mode m takes a parameter when set (adding) or unset. */
bool isupport_mode_has_param(const struct isupport *is, char m, bool adding);

/* The unescaped value of a token now in force ("" for one without value),
 * or NULL when it is absent or was removed. */
const char *isupport_get(const struct isupport *is, const char *key);
/* Number of raw tokens kept since the last reset (at most 512), and token i. */
size_t isupport_token_count(const struct isupport *is);
const char *isupport_token_at(const struct isupport *is, size_t i);

/* A JSON description: {"casemapping","chantypes","prefix":{"modes",
 * "symbols"},"nicklen","channellen","topiclen","network","chanmodes":[4],
 * "tokens":{KEY: value or true},"raw":[the tokens kept as received],
 * "raw_dropped": tokens received beyond those (only when some were)}; NULL
 * on allocation failure. */
cJSON *isupport_to_json(const struct isupport *is);

#endif
