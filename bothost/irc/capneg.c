/* SPDX-License-Identifier: ISC */
/* CAP negotiation and SASL during registration (see capneg.h). */
#include "config.h"

#include "capneg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "irc_line.h"
#include "core/log.h"

/* Bytes of base64 per AUTHENTICATE line. */
#define CAPNEG_SASL_CHUNK 400

/* What bothost handles: sasl (asked for only with a mechanism), NAMES
 * prefixes and user@host (irc_state), account and time on events
 * (irc_events, irc_state) and tags (removed before libircclient sees a
 * line). Index i is bit i of the masks below. */
static const char *const capneg_caps[] = {
	"sasl", "multi-prefix", "userhost-in-names", "extended-join", "account-notify",
	"account-tag", "server-time", "message-tags", NULL,
};

#define CAPNEG_SASL_BIT 1u

struct capneg {
	char *server;
	enum capneg_mech mech;
	char *user, *password;
	bool sasl_required;
	capneg_send_fn send;
	void *userdata;

	enum capneg_state state;
	unsigned offered, enabled;	/* masks over capneg_caps */
	char *sasl_mechs;		/* the value of sasl in CAP LS (302), or from 908 */
	bool no_cap;			/* the server does not know CAP: never send CAP END */
	bool registered;		/* 001 came: CAP END is pointless */
	char *account;
	char *error;
};

/* The bit of a capability name, or 0 when it is not one bothost handles. */
static unsigned capneg_bit(const char *name, size_t len)
{
	for (unsigned i = 0; capneg_caps[i]; i++)
		if (strlen(capneg_caps[i]) == len && strncmp(capneg_caps[i], name, len) == 0)
			return 1u << i;
	return 0;
}

/* The mechanism's name. */
static const char *capneg_mech_name(enum capneg_mech m)
{
	return m == CAPNEG_MECH_EXTERNAL ? "EXTERNAL" : "PLAIN";
}

/* Wipe and free a secret. */
static void capneg_wipe(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* ---- lifetime --------------------------------------------------------------------- */

/* A copy of s, NULL staying NULL; false when the copy failed. */
static bool capneg_dup(char **dst, const char *s)
{
	*dst = s ? strdup(s) : NULL;
	return !s || *dst;
}

/* A machine with copies of the options. */
struct capneg *capneg_new(const struct capneg_opts *o, capneg_send_fn send, void *userdata)
{
	struct capneg *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->mech = o->mech;
	c->sasl_required = o->sasl_required;
	c->send = send;
	c->userdata = userdata;
	if (!capneg_dup(&c->server, o->server ? o->server : "the server") || !capneg_dup(&c->user, o->user) ||
	    !capneg_dup(&c->password, o->password))
		return capneg_free(c);
	return c;
}

/* Free, wiping the password. */
struct capneg *capneg_free(struct capneg *c)
{
	if (!c)
		return NULL;
	free(c->server);
	free(c->user);
	capneg_wipe(c->password);
	free(c->sasl_mechs);
	free(c->account);
	free(c->error);
	free(c);
	return NULL;
}

/* ---- sending ---------------------------------------------------------------------- */

/* Build a line from a verb and parameters (NULL-terminated) and send it. */
static int capneg_sendv(struct capneg *c, const char *shown, unsigned flags, const char *verb, ...)
{
	const char *v[4] = { NULL };
	struct irc_str params[4];
	size_t n = 0;
	va_list ap;
	char *line;
	int r;

	va_start(ap, verb);
	for (const char *p; n < 4 && (p = va_arg(ap, const char *)); n++)
		v[n] = p;
	va_end(ap);
	for (size_t i = 0; i < n; i++)
		params[i] = (struct irc_str){ v[i], strlen(v[i]) };
	r = irc_line_build(verb, params, n, flags, &line, NULL);
	if (r < 0)
		return r;
	r = c->send(line, shown, c->userdata);
	free(line);
	return r;
}

/* CAP END (unless the server does not know CAP or registered the bot
 * already): the negotiation is over. */
static int capneg_end(struct capneg *c)
{
	c->state = CAPNEG_DONE;
	if (c->no_cap || c->registered)
		return 0;
	return capneg_sendv(c, NULL, 0, "CAP", "END", NULL);
}

/* SASL did not work out: log why, then give up or go on. */
__attribute__((format(printf, 2, 3)))
static int capneg_sasl_fail(struct capneg *c, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	free(c->error);
	if (asprintf(&c->error, "SASL %s authentication failed: %s", capneg_mech_name(c->mech), why) < 0)
		c->error = NULL;
	if (c->sasl_required) {
		log_error("irc: SASL %s authentication on %s failed: %s; giving the connection up "
			  "(sasl_required = yes)", capneg_mech_name(c->mech), c->server, why);
		c->state = CAPNEG_FAILED;
		return 0;
	}
	log_warn("irc: SASL %s authentication on %s failed: %s; going on without authentication "
		 "(sasl_required = no)", capneg_mech_name(c->mech), c->server, why);
	return capneg_end(c);
}

/* Start AUTHENTICATE, or fail when the server cannot do the mechanism. */
static int capneg_sasl_start(struct capneg *c)
{
	const char *mech = capneg_mech_name(c->mech);

	if (!(c->enabled & CAPNEG_SASL_BIT))
		return capneg_sasl_fail(c, "the server does not offer SASL");
	if (c->sasl_mechs && *c->sasl_mechs) {
		bool found = false;
		for (const char *p = c->sasl_mechs; *p && !found; p += strcspn(p, ","), p += *p == ',') {
			size_t n = strcspn(p, ",");
			found = n == strlen(mech) && strncasecmp(p, mech, n) == 0;
		}
		if (!found)
			return capneg_sasl_fail(c, "the server offers the mechanisms %s, not %s", c->sasl_mechs, mech);
	}
	c->state = CAPNEG_SASL_START;
	return capneg_sendv(c, NULL, 0, "AUTHENTICATE", mech, NULL);
}

/* After the answer to CAP REQ (or without a request): SASL, or CAP END. */
static int capneg_after_req(struct capneg *c)
{
	if (c->mech == CAPNEG_MECH_NONE)
		return capneg_end(c);
	return capneg_sasl_start(c);
}

/* CAP REQ for what the server offers and bothost handles, or go on. */
static int capneg_request(struct capneg *c)
{
	unsigned want = c->offered;
	char list[512] = "";
	size_t off = 0;

	if (c->mech == CAPNEG_MECH_NONE)
		want &= ~CAPNEG_SASL_BIT;
	for (unsigned i = 0; capneg_caps[i]; i++)
		if (want & (1u << i))
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? " " : "", capneg_caps[i]);
	if (!want)
		return capneg_after_req(c);
	c->state = CAPNEG_REQ;
	return capneg_sendv(c, NULL, IRC_LINE_COLON_ALWAYS, "CAP", "REQ", list, NULL);
}

/* PLAIN's message (RFC 4616): authzid \0 authcid \0 password, the account
 * name as both, in base64 (NULL when memory ran out). */
static char *capneg_plain_message(const struct capneg *c)
{
	const char *user = c->user ? c->user : "", *password = c->password ? c->password : "";
	size_t ulen = strlen(user), plen = strlen(password), blen = 2 * ulen + plen + 2;
	char *blob = malloc(blen), *b64;

	if (!blob)
		return NULL;
	memcpy(blob, user, ulen + 1);
	memcpy(blob + ulen + 1, user, ulen + 1);
	memcpy(blob + 2 * ulen + 2, password, plen);
	b64 = capneg_base64(blob, blen);
	explicit_bzero(blob, blen);
	free(blob);
	return b64;
}

/* Send the PLAIN credentials, or EXTERNAL's empty answer, in pieces. */
static int capneg_sasl_credentials(struct capneg *c)
{
	char *b64;
	size_t len;
	int r = 0;

	c->state = CAPNEG_SASL_RESULT;
	if (c->mech == CAPNEG_MECH_EXTERNAL)
		return capneg_sendv(c, NULL, 0, "AUTHENTICATE", "+", NULL);
	b64 = capneg_plain_message(c);
	if (!b64)
		return -ENOMEM;
	len = strlen(b64);
	for (size_t off = 0; r == 0 && off < len; off += CAPNEG_SASL_CHUNK) {
		char piece[CAPNEG_SASL_CHUNK + 1];
		size_t n = len - off < CAPNEG_SASL_CHUNK ? len - off : CAPNEG_SASL_CHUNK;
		memcpy(piece, b64 + off, n);
		piece[n] = '\0';
		r = capneg_sendv(c, "AUTHENTICATE ***", 0, "AUTHENTICATE", piece, NULL);
		explicit_bzero(piece, sizeof piece);
	}
	/* A last piece of exactly 400 bytes (or nothing at all) needs "+". */
	if (r == 0 && len % CAPNEG_SASL_CHUNK == 0)
		r = capneg_sendv(c, NULL, 0, "AUTHENTICATE", "+", NULL);
	capneg_wipe(b64);
	return r;
}

/* ---- the server's lines ------------------------------------------------------------ */

/* Apply a list "a b=c -d" to mask: offer (LS, NEW: values kept for sasl),
 * enable (ACK: '-' disables), or remove (DEL). */
static void capneg_apply(struct capneg *c, const char *list, unsigned *mask, bool remove)
{
	for (const char *p = list; *p; ) {
		size_t n = strcspn(p, " ");
		bool off = remove || *p == '-';
		const char *name = p + strspn(p, "-~=");
		size_t nlen = strcspn(name, " =");
		unsigned bit = name < p + n ? capneg_bit(name, nlen) : 0;

		if (bit && off)
			*mask &= ~bit;
		else if (bit)
			*mask |= bit;
		if (bit == CAPNEG_SASL_BIT && !off && mask == &c->offered && name[nlen] == '=') {
			free(c->sasl_mechs);
			c->sasl_mechs = strndup(name + nlen + 1, n - (size_t)(name + nlen + 1 - p));
		}
		p += n;
		p += strspn(p, " ");
	}
}

/* CAP * LS [*] :list — the last line of the list starts the request. */
static int capneg_on_ls(struct capneg *c, const struct irc_line *msg)
{
	bool more = irc_line_param_count(msg) >= 4 && strcmp(irc_line_param(msg, 2), "*") == 0;

	if (c->state != CAPNEG_LS)
		return 0;
	capneg_apply(c, irc_line_last_param(msg), &c->offered, false);
	return more ? 0 : capneg_request(c);
}

/* CAP NEW after registration: ask for what bothost handles (not sasl). */
static int capneg_on_new(struct capneg *c, const struct irc_line *msg)
{
	unsigned before = c->offered, fresh;
	char list[512] = "";
	size_t off = 0;

	capneg_apply(c, irc_line_last_param(msg), &c->offered, false);
	fresh = c->offered & ~before & ~c->enabled & ~CAPNEG_SASL_BIT;
	if (c->state != CAPNEG_DONE || !fresh)
		return 0;
	for (unsigned i = 0; capneg_caps[i]; i++)
		if (fresh & (1u << i))
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? " " : "", capneg_caps[i]);
	return capneg_sendv(c, NULL, IRC_LINE_COLON_ALWAYS, "CAP", "REQ", list, NULL);
}

/* Log what the server acknowledged or withdrew (verb), and what is enabled now. */
static void capneg_log_enabled(const struct capneg *c, const char *verb, const char *list)
{
	char *now = capneg_enabled_list(c);

	log_info("irc: %s %s the capabilities %s; enabled now: %s", c->server, verb, list,
		 now ? (*now ? now : "none") : "?");
	free(now);
}

/* A CAP line, by subcommand. */
static int capneg_on_cap(struct capneg *c, const struct irc_line *msg)
{
	const char *sub = irc_line_param(msg, 1);
	const char *list = irc_line_last_param(msg);

	if (!sub || irc_line_param_count(msg) < 3)
		return 0;
	if (strcasecmp(sub, "LS") == 0)
		return capneg_on_ls(c, msg);
	if (strcasecmp(sub, "ACK") == 0 || strcasecmp(sub, "NAK") == 0) {
		if (strcasecmp(sub, "ACK") == 0) {
			capneg_apply(c, list, &c->enabled, false);
			capneg_log_enabled(c, "acknowledged", list);
		} else {
			log_info("irc: %s refused the capabilities %s", c->server, list);
		}
		return c->state == CAPNEG_REQ ? capneg_after_req(c) : 0;
	}
	if (strcasecmp(sub, "NEW") == 0)
		return capneg_on_new(c, msg);
	if (strcasecmp(sub, "DEL") == 0) {
		capneg_apply(c, list, &c->enabled, true);
		capneg_apply(c, list, &c->offered, true);
		capneg_log_enabled(c, "withdrew", list);
	}
	return 0;
}

/* AUTHENTICATE from the server: "+" asks for the credentials. */
static int capneg_on_authenticate(struct capneg *c, const struct irc_line *msg)
{
	const char *arg = irc_line_param(msg, 0);

	if (c->state != CAPNEG_SASL_START)
		return 0;
	if (arg && strcmp(arg, "+") == 0)
		return capneg_sasl_credentials(c);
	/* PLAIN and EXTERNAL expect no challenge: abort. */
	int r = capneg_sendv(c, NULL, 0, "AUTHENTICATE", "*", NULL);
	return r < 0 ? r : capneg_sasl_fail(c, "unexpected challenge from the server");
}

/* 900, 903, 907: logged in. */
static int capneg_on_success(struct capneg *c, const struct irc_line *msg, int code)
{
	const char *account = irc_line_param(msg, 2);

	if (code == 900) {
		free(c->account);
		c->account = account ? strdup(account) : NULL;
		return 0;
	}
	if (c->state != CAPNEG_SASL_START && c->state != CAPNEG_SASL_RESULT)
		return 0;
	log_info("irc: SASL %s authentication on %s succeeded%s%s", capneg_mech_name(c->mech), c->server,
		 c->account ? ": logged in as " : "", c->account ? c->account : "");
	return capneg_end(c);
}

/* 902, 904, 905, 906: refused; 908: the mechanisms the server has. */
static int capneg_on_failure(struct capneg *c, const struct irc_line *msg, int code)
{
	const char *text = irc_line_last_param(msg);

	if (c->state != CAPNEG_SASL_START && c->state != CAPNEG_SASL_RESULT)
		return 0;
	if (code == 908) {
		free(c->sasl_mechs);
		c->sasl_mechs = strdup(irc_line_param_count(msg) >= 3 ? irc_line_param(msg, 1) : "");
		return 0;
	}
	if (c->sasl_mechs && code == 904)
		return capneg_sasl_fail(c, "%d %s (the server offers %s)", code, text ? text : "", c->sasl_mechs);
	return capneg_sasl_fail(c, "%d %s", code, text ? text : "");
}

/* 421 (or 451) for CAP: a server without CAP. */
static int capneg_on_unknown(struct capneg *c, const struct irc_line *msg)
{
	if (c->state != CAPNEG_LS && c->state != CAPNEG_REQ)
		return 0;
	c->no_cap = true;
	log_info("irc: %s does not support CAP: no capabilities", c->server);
	if (c->mech != CAPNEG_MECH_NONE)
		return capneg_sasl_fail(c, "the server does not support CAP");
	return capneg_end(c);
}

/* A line from the server. */
int capneg_line(struct capneg *c, const struct irc_line *msg)
{
	const char *cmd = irc_line_command(msg);
	int code = irc_line_numeric(msg), r;

	switch (code) {
	case -1:
		if (strcmp(cmd, "CAP") == 0)
			r = capneg_on_cap(c, msg);
		else if (strcmp(cmd, "AUTHENTICATE") == 0)
			r = capneg_on_authenticate(c, msg);
		else
			return 0;
		break;
	case 900: case 903: case 907:
		r = capneg_on_success(c, msg, code);
		break;
	case 902: case 904: case 905: case 906: case 908:
		r = capneg_on_failure(c, msg, code);
		break;
	case 421: case 451:
		if (!irc_line_param(msg, 1) || strcasecmp(irc_line_param(msg, 1), "CAP") != 0)
			return 0;
		r = capneg_on_unknown(c, msg);
		break;
	default:
		return 0;
	}
	return r < 0 ? r : 1;
}

/* ---- the rest of the interface ------------------------------------------------------- */

/* Send CAP LS 302. */
int capneg_start(struct capneg *c)
{
	c->state = CAPNEG_LS;
	return capneg_sendv(c, NULL, 0, "CAP", "LS", "302", NULL);
}

/* No answer in time. */
int capneg_timeout(struct capneg *c)
{
	int r;

	switch (c->state) {
	case CAPNEG_LS:
	case CAPNEG_REQ:
		log_warn("irc: %s did not answer CAP %s in time: no capabilities", c->server,
			 c->state == CAPNEG_LS ? "LS" : "REQ");
		c->enabled = 0;
		if (c->mech != CAPNEG_MECH_NONE)
			return capneg_sasl_fail(c, "no answer to CAP in time");
		return capneg_end(c);
	case CAPNEG_SASL_START:
	case CAPNEG_SASL_RESULT:
		r = capneg_sendv(c, NULL, 0, "AUTHENTICATE", "*", NULL);
		return r < 0 ? r : capneg_sasl_fail(c, "no answer in time (sasl_timeout)");
	default:
		return 0;
	}
}

/* 001: the negotiation cannot go on. */
void capneg_registered(struct capneg *c)
{
	bool open = c->state != CAPNEG_DONE && c->state != CAPNEG_FAILED;

	c->registered = true;
	if (!open)
		return;
	if (c->state == CAPNEG_LS && !c->no_cap)
		log_info("irc: %s registered the bot without CAP negotiation: no capabilities", c->server);
	if (c->mech != CAPNEG_MECH_NONE)
		capneg_sasl_fail(c, "the server completed the registration without SASL");
	else
		c->state = CAPNEG_DONE;
}

/* The state. */
enum capneg_state capneg_get_state(const struct capneg *c)
{
	return c->state;
}

/* Whether the state waits for SASL. */
bool capneg_in_sasl(const struct capneg *c)
{
	return c->state == CAPNEG_SASL_START || c->state == CAPNEG_SASL_RESULT;
}

/* Why SASL failed. */
const char *capneg_get_error(const struct capneg *c)
{
	return c->error;
}

/* The account from 900. */
const char *capneg_get_account(const struct capneg *c)
{
	return c->account;
}

/* Whether a capability is enabled. */
bool capneg_enabled(const struct capneg *c, const char *name)
{
	unsigned bit = capneg_bit(name, strlen(name));

	return bit && (c->enabled & bit);
}

/* The enabled capabilities, space-separated, in a new string. */
char *capneg_enabled_list(const struct capneg *c)
{
	char list[512] = "";
	size_t off = 0;

	for (unsigned i = 0; capneg_caps[i]; i++)
		if (c->enabled & (1u << i))
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? " " : "", capneg_caps[i]);
	return strdup(list);
}

/* Base64 (RFC 4648, with padding). */
char *capneg_base64(const void *p, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = p;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}
