/* The configuration file: inih reads the INI syntax, this module checks the
 * sections, keys and values against the schema and fills a struct conf. */
#include "config.h"

#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ini.h>

#include "irc_text.h"
#include "isupport.h"

#define CONF_FILE_MAX (1u << 20)	/* a configuration file larger than this is refused */
#define CONF_HOST_MAX 253		/* a DNS name */
#define CONF_DEFAULT_PORT "6667"

#define SEC 1000ull
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* What a key's value is, which decides how it is parsed, checked and shown. */
enum conf_kind {
	CONF_PATH,		/* an absolute socket path */
	CONF_LOG_LEVEL,
	CONF_BOOL,
	CONF_SIZE,		/* size_t, min..max */
	CONF_COUNT,		/* unsigned, min..max */
	CONF_DURATION,		/* unsigned milliseconds, min..max */
	CONF_SERVER,		/* repeatable */
	CONF_NICK,
	CONF_ALT_NICK,		/* repeatable */
	CONF_USER,
	CONF_PASSWORD,
	CONF_TEXT,
	CONF_CHANNEL,		/* repeatable */
};

struct conf_key {
	const char *section;
	const char *name;
	enum conf_kind kind;
	size_t offset;		/* of the field in struct conf (scalar kinds) */
	unsigned long long min, max;
};

#define KEY(sec, name, kind, field, min, max) \
	{ sec, name, kind, offsetof(struct conf, field), min, max }

static const struct conf_key conf_keys[] = {
	KEY("bothost", "socket", CONF_PATH, socket_path, 0, 0),
	KEY("bothost", "log_level", CONF_LOG_LEVEL, log_level, 0, 0),
	KEY("bothost", "loopback", CONF_BOOL, loopback, 0, 0),
	KEY("limits", "frame_max", CONF_SIZE, limits.frame_max, 64, SIZE_MAX / 2),
	KEY("limits", "output_max", CONF_SIZE, limits.output_max, 1, SIZE_MAX / 2),
	KEY("limits", "tokens_max", CONF_SIZE, limits.tokens_max, 1, SIZE_MAX / 2),
	KEY("limits", "handlers_max", CONF_SIZE, limits.handlers_max, 1, SIZE_MAX / 2),
	KEY("limits", "pending_max", CONF_SIZE, limits.pending_max, 1, SIZE_MAX / 2),
	KEY("limits", "clients_max", CONF_SIZE, limits.clients_max, 1, SIZE_MAX / 2),
	KEY("limits", "call_timeout", CONF_DURATION, limits.call_timeout_ms, 0, DAY),
	KEY("irc", "server", CONF_SERVER, irc.servers, 0, 0),
	KEY("irc", "nick", CONF_NICK, irc.nick, 0, 0),
	KEY("irc", "alt_nick", CONF_ALT_NICK, irc.alt_nicks, 0, 0),
	KEY("irc", "username", CONF_USER, irc.username, 0, 0),
	KEY("irc", "realname", CONF_TEXT, irc.realname, 0, 0),
	KEY("irc", "password", CONF_PASSWORD, irc.password, 0, 0),
	KEY("irc", "channel", CONF_CHANNEL, irc.channels, 0, 0),
	KEY("irc", "connect_timeout", CONF_DURATION, irc.connect_timeout_ms, 100, HOUR),
	KEY("irc", "register_timeout", CONF_DURATION, irc.register_timeout_ms, 100, HOUR),
	KEY("irc", "ping_idle", CONF_DURATION, irc.ping_idle_ms, 100, DAY),
	KEY("irc", "ping_timeout", CONF_DURATION, irc.ping_timeout_ms, 100, HOUR),
	KEY("irc", "reconnect_min", CONF_DURATION, irc.reconnect_min_ms, 100, DAY),
	KEY("irc", "reconnect_max", CONF_DURATION, irc.reconnect_max_ms, 100, DAY),
	KEY("irc", "stable_after", CONF_DURATION, irc.stable_after_ms, 0, DAY),
	KEY("irc", "join_retry", CONF_DURATION, irc.join_retry_ms, 100, DAY),
	KEY("irc", "regain_nick", CONF_DURATION, irc.regain_nick_ms, 100, DAY),
	KEY("irc", "rejoin_on_kick", CONF_BOOL, irc.rejoin_on_kick, 0, 0),
	KEY("irc", "rejoin_delay", CONF_DURATION, irc.rejoin_delay_ms, 0, HOUR),
	KEY("irc", "burst", CONF_COUNT, irc.burst, 1, 100),
	KEY("irc", "line_interval", CONF_DURATION, irc.line_interval_ms, 0, MIN),
	KEY("irc", "queue_max", CONF_COUNT, irc.queue_max, 1, 100000),
	KEY("irc", "queue_max_age", CONF_DURATION, irc.queue_max_age_ms, 0, DAY),
	KEY("irc", "ctcp_version", CONF_TEXT, irc.ctcp_version, 0, 0),
	KEY("irc", "ctcp_per_minute", CONF_COUNT, irc.ctcp_per_minute, 0, 600),
};

#define CONF_NKEYS (sizeof conf_keys / sizeof conf_keys[0])

/* The state of one reading of a file. */
struct conf_parse {
	struct conf *cfg;
	const char *path;
	char *text;			/* the whole file */
	size_t len, pos;		/* its size, and where the next line starts */
	unsigned line;			/* the line inih is working on */
	bool section_has_key;		/* a key was read since the last section header */
	unsigned seen[CONF_NKEYS];	/* line where each key was first given, 0: not yet */
	struct isupport *is;		/* RFC 1459 defaults, no nick length limit */
	int r;				/* 0, or the first error */
	char *error;			/* "PATH:LINE: problem" */
};

/* ---- defaults ------------------------------------------------------------ */

/* The IRC defaults (conf.h gives them beside each field). */
static int conf_irc_init(struct conf_irc *irc)
{
	irc->username = strdup(PACKAGE_NAME);
	irc->realname = strdup(PACKAGE_NAME);
	irc->ctcp_version = strdup(PACKAGE_NAME " " PACKAGE_VERSION);
	irc->connect_timeout_ms = 30 * SEC;
	irc->register_timeout_ms = 60 * SEC;
	irc->ping_idle_ms = 90 * SEC;
	irc->ping_timeout_ms = 90 * SEC;
	irc->reconnect_min_ms = 10 * SEC;
	irc->reconnect_max_ms = 300 * SEC;
	irc->stable_after_ms = 300 * SEC;
	irc->join_retry_ms = 60 * SEC;
	irc->regain_nick_ms = 60 * SEC;
	irc->rejoin_on_kick = true;
	irc->rejoin_delay_ms = 5 * SEC;
	irc->burst = 5;
	irc->line_interval_ms = 1 * SEC;
	irc->queue_max = 300;
	irc->queue_max_age_ms = 300 * SEC;
	irc->ctcp_per_minute = 6;
	return irc->username && irc->realname && irc->ctcp_version ? 0 : -ENOMEM;
}

/* Fill cfg with the defaults. */
int conf_init(struct conf *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->loopback = false;
	server_config_init(&cfg->limits);
	if (conf_irc_init(&cfg->irc) < 0) {
		conf_clear(cfg);
		return -ENOMEM;
	}
	return 0;
}

/* Free what the IRC part holds. */
static void conf_irc_clear(struct conf_irc *irc)
{
	for (size_t i = 0; i < irc->n_servers; i++) {
		free(irc->servers[i].host);
		free(irc->servers[i].port);
	}
	free(irc->servers);
	for (size_t i = 0; i < irc->n_alt_nicks; i++)
		free(irc->alt_nicks[i]);
	free(irc->alt_nicks);
	for (size_t i = 0; i < irc->n_channels; i++) {
		free(irc->channels[i].name);
		free(irc->channels[i].key);
	}
	free(irc->channels);
	free(irc->nick);
	free(irc->username);
	free(irc->realname);
	free(irc->password);
	free(irc->ctcp_version);
}

/* Free everything cfg holds and zero it; clearing twice is harmless. */
void conf_clear(struct conf *cfg)
{
	conf_irc_clear(&cfg->irc);
	free(cfg->path);
	free(cfg->socket_path);
	memset(cfg, 0, sizeof *cfg);
}

/* ---- errors -------------------------------------------------------------- */

/* Record the first error, "PATH:LINE: problem", at the current line;
 * returns the error code (-EINVAL, or -ENOMEM when the text cannot be made). */
__attribute__((format(printf, 2, 3)))
static int conf_fail(struct conf_parse *p, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	if (p->r < 0)
		return p->r;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0 || asprintf(&p->error, "%s:%u: %s", p->path, p->line, msg) < 0) {
		p->error = NULL;
		p->r = -ENOMEM;
	} else {
		p->r = -EINVAL;
	}
	free(n < 0 ? NULL : msg);
	return p->r;
}

/* ---- durations and numbers ----------------------------------------------- */

/* Parse "250ms", "30s", "5m", "2h", "1d" or a bare number of seconds. */
int conf_parse_duration(const char *s, unsigned *ret_ms)
{
	static const struct { const char *unit; unsigned long long ms; } units[] = {
		{ "", SEC }, { "ms", 1 }, { "s", SEC }, { "m", MIN }, { "h", HOUR }, { "d", DAY },
	};
	unsigned long long n = 0;
	const char *q = s;

	for (; *q >= '0' && *q <= '9'; q++)
		if (n <= UINT_MAX)	/* beyond it the result is out of range anyway */
			n = n * 10 + (unsigned long long)(*q - '0');
	if (q == s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(q, units[i].unit) != 0)
			continue;
		if (n > UINT_MAX / units[i].ms)
			return -ERANGE;
		*ret_ms = (unsigned)(n * units[i].ms);
		return 0;
	}
	return -EINVAL;
}

/* Write ms in the largest unit that divides it ("30s", "250ms", "0s"). */
static void conf_format_duration(unsigned long long ms, char *buf, size_t size)
{
	static const struct { const char *unit; unsigned long long ms; } units[] = {
		{ "d", DAY }, { "h", HOUR }, { "m", MIN }, { "s", SEC },
	};

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (ms % units[i].ms == 0) {
			snprintf(buf, size, "%llu%s", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	snprintf(buf, size, "%llums", ms);
}

/* A whole decimal number, digits only: 0, -EINVAL, or -ERANGE when it
 * does not fit in 64 bits. */
static int conf_parse_number(const char *s, unsigned long long *ret)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* ---- values --------------------------------------------------------------- */

/* Replace the string at *field with a copy of value. */
static int conf_set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Grow an array by one zeroed element; 0 or -ENOMEM. */
static int conf_grow(void **array, size_t *n, size_t size)
{
	char *a = realloc(*array, (*n + 1) * size);

	if (!a)
		return -ENOMEM;
	memset(a + *n * size, 0, size);
	*array = a;
	(*n)++;
	return 0;
}

/* socket: an absolute path that fits a Unix socket address. */
static int conf_set_path(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	struct sockaddr_un sa;

	if (value[0] != '/')
		return conf_fail(p, "invalid %s '%s': expected an absolute path", k->name, value);
	if (strlen(value) >= sizeof sa.sun_path)
		return conf_fail(p, "invalid %s: the path is longer than %zu bytes", k->name,
				 sizeof sa.sun_path - 1);
	return conf_set_string(field, value);
}

/* log_level: error, warn, info or debug. */
static int conf_set_log_level(struct conf_parse *p, const struct conf_key *k, enum log_level *field,
			      const char *value)
{
	if (log_level_from_string(value, field) < 0)
		return conf_fail(p, "invalid %s '%s': expected error, warn, info or debug", k->name, value);
	return 0;
}

/* A boolean: yes/no, true/false, on/off, 1/0 (any case). */
static int conf_set_bool(struct conf_parse *p, const struct conf_key *k, bool *field, const char *value)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*field = strcasecmp(value, yes[i]) == 0;
			return 0;
		}
	}
	return conf_fail(p, "invalid %s '%s': expected yes, no, true, false, on, off, 1 or 0",
			 k->name, value);
}

/* A whole number within the key's range. */
static int conf_get_number(struct conf_parse *p, const struct conf_key *k, const char *value,
			   unsigned long long *ret)
{
	int r = conf_parse_number(value, ret);

	if (r == -EINVAL)
		return conf_fail(p, "invalid %s '%s': expected a whole number", k->name, value);
	if (r < 0 || *ret < k->min || *ret > k->max)
		return conf_fail(p, "%s %s is out of range (%llu to %llu)", k->name, value, k->min, k->max);
	return 0;
}

/* A duration within the key's range. */
static int conf_set_duration(struct conf_parse *p, const struct conf_key *k, unsigned *field,
			     const char *value)
{
	char lo[32], hi[32];
	unsigned ms;
	int r = conf_parse_duration(value, &ms);

	if (r == -EINVAL)
		return conf_fail(p, "invalid %s '%s': expected a duration such as 250ms, 30s, 5m, 2h "
				 "or 1d (a bare number is seconds)", k->name, value);
	if (r < 0 || ms < k->min || ms > k->max) {
		conf_format_duration(k->min, lo, sizeof lo);
		conf_format_duration(k->max, hi, sizeof hi);
		return conf_fail(p, "%s %s is out of range (%s to %s)", k->name, value, lo, hi);
	}
	*field = ms;
	return 0;
}

/* Whether s is a host name or an IPv4 address: letters, digits, '-', '.', '_'. */
static bool conf_host_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > CONF_HOST_MAX)
		return false;
	for (const char *q = s; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
		      *q == '-' || *q == '.' || *q == '_'))
			return false;
	return true;
}

/* Whether s is an IPv6 address, optionally with a "%zone". */
static bool conf_ipv6_valid(const char *s)
{
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr a;
	size_t n = strcspn(s, "%");

	if (n >= sizeof addr || (s[n] == '%' && !conf_host_valid(s + n + 1)))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	return inet_pton(AF_INET6, addr, &a) == 1;
}

/* Split "host", "host:port" or "[v6]:port" into new strings host and port
 * (NULL when absent); 0, -EINVAL or -ENOMEM. */
static int conf_server_split(const char *value, char **ret_host, char **ret_port)
{
	const char *colon, *end = NULL;
	size_t hlen;

	if (value[0] == '[') {
		end = strchr(value, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		hlen = (size_t)(end - value - 1);
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strchr(value, ':');
		hlen = colon ? (size_t)(colon - value) : strlen(value);
	}
	*ret_host = strndup(value + (end ? 1 : 0), hlen);
	*ret_port = colon ? strdup(colon + 1) : NULL;
	if (!*ret_host || (colon && !*ret_port)) {
		free(*ret_host);
		free(*ret_port);
		return -ENOMEM;
	}
	return 0;
}

/* Check the parts of a server value; 0 or an error recorded. */
static int conf_server_check(struct conf_parse *p, const char *value, const char *host,
			     const char *port, bool v6)
{
	unsigned long long n;
	int r;

	if (!v6 && strchr(value, ':') != strrchr(value, ':'))
		return conf_fail(p, "invalid server '%s': an IPv6 address goes in brackets, as in "
				 "[2001:db8::1]:6667", value);
	if (v6 ? !conf_ipv6_valid(host) : !conf_host_valid(host))
		return conf_fail(p, "invalid server '%s': expected host, host:port or [IPv6 address]:port",
				 value);
	if (!port)
		return 0;
	r = conf_parse_number(port, &n);
	if (r == -EINVAL)
		return conf_fail(p, "invalid server '%s': expected a port number after ':'", value);
	if (r < 0 || n < 1 || n > 65535)
		return conf_fail(p, "invalid server '%s': port %s is out of range (1 to 65535)", value, port);
	return 0;
}

/* server: "host", "host:port" or "[v6]:port", added to the rotation. */
static int conf_add_server(struct conf_parse *p, const char *value)
{
	struct conf_irc *irc = &p->cfg->irc;
	char *host = NULL, *port = NULL;
	int r = conf_server_split(value, &host, &port);

	if (r == -EINVAL)
		return conf_fail(p, "invalid server '%s': expected host, host:port or [IPv6 address]:port",
				 value);
	if (r < 0)
		return r;
	r = conf_server_check(p, value, host, port, value[0] == '[');
	if (r == 0 && !port && !(port = strdup(CONF_DEFAULT_PORT)))
		r = -ENOMEM;
	if (r == 0)
		r = conf_grow((void **)&irc->servers, &irc->n_servers, sizeof *irc->servers);
	if (r < 0) {
		free(host);
		free(port);
		return r;
	}
	irc->servers[irc->n_servers - 1] = (struct conf_server){ host, port };
	return 0;
}

/* nick and alt_nick: what the IRC grammar accepts as a nick. */
static int conf_nick_check(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	if (irc_text_nick_valid(p->is, value))
		return 0;
	return conf_fail(p, "invalid %s '%s': a nick starts with a letter or one of []\\`_^{|} and "
			 "goes on with those, digits and '-'", k->name, value);
}

/* alt_nick: one more nick to try, in order. */
static int conf_add_alt_nick(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	struct conf_irc *irc = &p->cfg->irc;
	char *nick;
	int r = conf_nick_check(p, k, value);

	if (r < 0)
		return r;
	if (!(nick = strdup(value)))
		return -ENOMEM;
	r = conf_grow((void **)&irc->alt_nicks, &irc->n_alt_nicks, sizeof *irc->alt_nicks);
	if (r < 0) {
		free(nick);
		return r;
	}
	irc->alt_nicks[irc->n_alt_nicks - 1] = nick;
	return 0;
}

/* username: one word without '@'. */
static int conf_set_user(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	if (!irc_text_word_valid(value) || strchr(value, '@'))
		return conf_fail(p, "invalid %s '%s': expected one word without '@'", k->name, value);
	return conf_set_string(field, value);
}

/* password: one word (it travels as a middle parameter of PASS). */
static int conf_set_password(struct conf_parse *p, const struct conf_key *k, char **field,
			     const char *value)
{
	if (!irc_text_word_valid(value))
		return conf_fail(p, "invalid %s: expected one word without spaces, not starting with ':'",
				 k->name);
	return conf_set_string(field, value);
}

/* realname, ctcp_version: non-empty text without control characters. */
static int conf_set_text(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	for (const unsigned char *q = (const unsigned char *)value; *q; q++)
		if (*q < 0x20 || *q == 0x7f)
			return conf_fail(p, "invalid %s: expected text without control characters", k->name);
	if (!*value)
		return conf_fail(p, "invalid %s: expected some text", k->name);
	return conf_set_string(field, value);
}

/* Check a channel's name and key and that it is not listed yet. */
static int conf_channel_check(struct conf_parse *p, const char *name, const char *key)
{
	const struct conf_irc *irc = &p->cfg->irc;

	if (!irc_text_channel_valid(p->is, name))
		return conf_fail(p, "invalid channel name '%s': expected # or & then up to %zu bytes "
				 "without spaces, commas or BEL", name, isupport_channellen(p->is) - 1);
	if (key && (!irc_text_word_valid(key) || strchr(key, ',')))
		return conf_fail(p, "invalid key for channel %s: expected one word without commas, "
				 "not starting with ':'", name);
	for (size_t i = 0; i < irc->n_channels; i++)
		if (isupport_casemap_equal(isupport_casemapping(p->is), irc->channels[i].name, name))
			return conf_fail(p, "channel %s is listed twice", name);
	return 0;
}

/* channel: "#name" or "#name key", joined once connected. */
static int conf_add_channel(struct conf_parse *p, const char *value)
{
	struct conf_irc *irc = &p->cfg->irc;
	size_t n = strcspn(value, " \t");
	const char *rest = value + n + strspn(value + n, " \t");
	char *name, *key = NULL;
	int r;

	if (*rest && rest[strcspn(rest, " \t")])
		return conf_fail(p, "invalid channel '%s': expected '#name' or '#name key'", value);
	if (!(name = strndup(value, n)) || (*rest && !(key = strdup(rest))))
		r = -ENOMEM;
	else
		r = conf_channel_check(p, name, key);
	if (r == 0)
		r = conf_grow((void **)&irc->channels, &irc->n_channels, sizeof *irc->channels);
	if (r < 0) {
		free(name);
		free(key);
		return r;
	}
	irc->channels[irc->n_channels - 1] = (struct conf_channel){ name, key };
	return 0;
}

/* Store a number into a size_t or unsigned field. */
static int conf_set_number(struct conf_parse *p, const struct conf_key *k, void *field, const char *value)
{
	unsigned long long v;
	int r = conf_get_number(p, k, value, &v);

	if (r < 0)
		return r;
	if (k->kind == CONF_SIZE)
		*(size_t *)field = (size_t)v;
	else
		*(unsigned *)field = (unsigned)v;
	return 0;
}

/* Parse value for key k into the configuration. */
static int conf_set(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	void *field = (char *)p->cfg + k->offset;

	switch (k->kind) {
	case CONF_PATH: return conf_set_path(p, k, field, value);
	case CONF_LOG_LEVEL: return conf_set_log_level(p, k, field, value);
	case CONF_BOOL: return conf_set_bool(p, k, field, value);
	case CONF_SIZE:
	case CONF_COUNT: return conf_set_number(p, k, field, value);
	case CONF_DURATION: return conf_set_duration(p, k, field, value);
	case CONF_SERVER: return conf_add_server(p, value);
	case CONF_NICK: return conf_nick_check(p, k, value) < 0 ? p->r : conf_set_string(field, value);
	case CONF_ALT_NICK: return conf_add_alt_nick(p, k, value);
	case CONF_USER: return conf_set_user(p, k, field, value);
	case CONF_PASSWORD: return conf_set_password(p, k, field, value);
	case CONF_TEXT: return conf_set_text(p, k, field, value);
	case CONF_CHANNEL: return conf_add_channel(p, value);
	}
	return -EINVAL;
}

/* ---- sections and keys ---------------------------------------------------- */

/* Whether values of this kind add to a list instead of replacing a value. */
static bool conf_kind_repeatable(enum conf_kind kind)
{
	return kind == CONF_SERVER || kind == CONF_ALT_NICK || kind == CONF_CHANNEL;
}

/* The key named name in section (NULL section: in any section). */
static const struct conf_key *conf_key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if ((!section || strcmp(conf_keys[i].section, section) == 0) &&
		    strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

/* Whether name is a section of the schema. */
static bool conf_section_known(const char *name)
{
	return strcmp(name, "bothost") == 0 || strcmp(name, "limits") == 0 || strcmp(name, "irc") == 0;
}

/* Report a key that is not in its section, naming the section it belongs in. */
static int conf_fail_unknown_key(struct conf_parse *p, const char *section, const char *name)
{
	const struct conf_key *other = conf_key_find(NULL, name);

	if (!*section && other)
		return conf_fail(p, "key '%s' before any section (it belongs in [%s])", name, other->section);
	if (!*section)
		return conf_fail(p, "key '%s' before any section", name);
	if (other)
		return conf_fail(p, "unknown key '%s' in [%s] (it belongs in [%s])", name, section,
				 other->section);
	return conf_fail(p, "unknown key '%s' in [%s]", name, section);
}

/* inih's handler: one "name = value" of section. Nonzero to go on. */
static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *p = user;
	const struct conf_key *k;
	size_t i;

	p->section_has_key = true;
	if (p->r < 0)
		return 0;
	if (!*name)
		return conf_fail(p, "expected 'key = value' (the key is missing)") == 0;
	k = *section ? conf_key_find(section, name) : NULL;
	if (!k)
		return conf_fail_unknown_key(p, section, name) == 0;
	i = (size_t)(k - conf_keys);
	if (p->seen[i] && !conf_kind_repeatable(k->kind))
		return conf_fail(p, "%s is already set on line %u (only server, alt_nick and channel "
				 "can be repeated)", name, p->seen[i]) == 0;
	if (!p->seen[i])
		p->seen[i] = p->line;
	if (conf_set(p, k, value) < 0 && p->r == 0)
		p->r = -ENOMEM;
	return p->r == 0;
}

/* Look at a line before inih does: refuse continuation lines (inih would
 * append them to the previous key) and sections outside the schema (inih
 * says nothing about a section without keys). */
static int conf_check_line(struct conf_parse *p, const char *line)
{
	const char *s = line, *end;
	char name[16];
	size_t n;

	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s += strspn(s, " \t\r\n\v\f");
	if (!*s || *s == ';' || *s == '#')
		return 0;
	if (s > line && p->section_has_key)
		return conf_fail(p, "indented line: continuation lines are not supported "
				 "(remove the indentation)");
	if (*s != '[')
		return 0;
	p->section_has_key = false;
	end = strchr(s, ']');
	if (!end)
		return 0;	/* inih reports it */
	n = (size_t)(end - s - 1);
	if (n < sizeof name) {
		memcpy(name, s + 1, n);
		name[n] = '\0';
		if (conf_section_known(name))
			return 0;
	}
	return conf_fail(p, "unknown section [%.*s] (expected [bothost], [limits] or [irc])",
			 (int)n, s + 1);
}

/* inih's reader: the next line of the file, or NULL at the end or after an
 * error. Lines are never split, so inih's line numbers are the file's. */
static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	const char *start = p->text + p->pos;
	const char *nl;
	size_t n;

	if (p->r < 0 || p->pos >= p->len || num < 3)
		return NULL;
	nl = memchr(start, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - start) + 1 : p->len - p->pos;
	p->pos += n;
	p->line++;
	if (n > (size_t)num - 1) {
		conf_fail(p, "line too long (at most %d bytes)", num - 2);
		return NULL;
	}
	if (memchr(start, '\0', n)) {
		conf_fail(p, "the line holds a NUL byte");
		return NULL;
	}
	memcpy(str, start, n);
	str[n] = '\0';
	return conf_check_line(p, str) < 0 ? NULL : str;
}

/* Report the syntax error inih found on line n. */
static int conf_fail_syntax(struct conf_parse *p, unsigned n)
{
	const char *s = p->text;

	for (unsigned i = 1; i < n && s; i++) {
		s = memchr(s, '\n', p->len - (size_t)(s - p->text));
		s = s ? s + 1 : NULL;
	}
	free(p->error);
	p->error = NULL;
	p->r = 0;
	p->line = n;
	s = s ? s + strspn(s, " \t") : "";
	if (*s == '[')
		return conf_fail(p, "section header without a closing ']'");
	return conf_fail(p, "expected 'key = value', a [section] or a comment");
}

/* ---- the file ------------------------------------------------------------- */

/* Read the whole file into p->text; on failure *ret_error says why. */
static int conf_read_file(struct conf_parse *p, char **ret_error)
{
	struct stat st;
	ssize_t n;
	int fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (!(p->text = malloc(CONF_FILE_MAX + 1)))
		r = -ENOMEM;
	while (r == 0 && p->len <= CONF_FILE_MAX &&
	       (n = read(fd, p->text + p->len, CONF_FILE_MAX + 1 - p->len)) != 0) {
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			p->len += (size_t)n;
	}
	if (r == 0 && p->len > CONF_FILE_MAX)
		r = -EFBIG;
	if (fd >= 0)
		close(fd);
	if (r < 0 && asprintf(ret_error, "%s: cannot read: %s", p->path,
			      r == -EFBIG ? "larger than 1 MiB" : strerror(-r)) < 0)
		*ret_error = NULL;
	return r;
}

/* The checks that need the whole file: nick with servers, backoff order. */
static int conf_check(struct conf_parse *p)
{
	const struct conf_irc *irc = &p->cfg->irc;
	const struct conf_key *kmin = conf_key_find("irc", "reconnect_min");
	const struct conf_key *kmax = conf_key_find("irc", "reconnect_max");
	unsigned lmin = p->seen[kmin - conf_keys], lmax = p->seen[kmax - conf_keys];
	char a[32], b[32];

	if (irc->n_servers && !irc->nick) {
		p->line = p->seen[conf_key_find("irc", "server") - conf_keys];
		return conf_fail(p, "a server is set but no nick (nick is required to connect)");
	}
	if (irc->reconnect_min_ms > irc->reconnect_max_ms) {
		p->line = lmin > lmax ? lmin : lmax;
		conf_format_duration(irc->reconnect_min_ms, a, sizeof a);
		conf_format_duration(irc->reconnect_max_ms, b, sizeof b);
		return conf_fail(p, "reconnect_min (%s) is greater than reconnect_max (%s)", a, b);
	}
	return 0;
}

/* Run inih over the text and settle which error came first. */
static int conf_parse_text(struct conf_parse *p)
{
	int line = ini_parse_stream(conf_reader, p, conf_handler, p);

	if (line == -2)
		return -ENOMEM;
	if (line > 0 && (p->r == 0 || (unsigned)line < p->line))
		return conf_fail_syntax(p, (unsigned)line);
	if (p->r < 0)
		return p->r;
	return conf_check(p);
}

/* Read path over the defaults into cfg. */
int conf_load(struct conf *cfg, const char *path, char **ret_error)
{
	struct conf_parse p = { .cfg = cfg, .path = path };
	int r;

	*ret_error = NULL;
	r = conf_init(cfg);
	if (r < 0)
		return r;
	if (!(cfg->path = strdup(path)) || !(p.is = isupport_new()) ||
	    isupport_add_token(p.is, "NICKLEN=") < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = conf_read_file(&p, ret_error);
	if (r == 0)
		r = conf_parse_text(&p);
	if (r < 0 && !*ret_error) {
		*ret_error = p.error;
		p.error = NULL;
	}
out:
	free(p.error);
	free(p.text);
	isupport_free(p.is);
	if (r < 0)
		conf_clear(cfg);
	return r;
}

/* ---- comparing ------------------------------------------------------------- */

/* The servers as "host:port, [v6]:port". */
static void conf_format_servers(const struct conf_irc *irc, FILE *f)
{
	for (size_t i = 0; i < irc->n_servers; i++) {
		const struct conf_server *s = &irc->servers[i];
		bool v6 = strchr(s->host, ':') != NULL;
		fprintf(f, "%s%s%s%s:%s", i ? ", " : "", v6 ? "[" : "", s->host, v6 ? "]" : "", s->port);
	}
}

/* The channels as "#a, #b key" (keys shown only when reveal). */
static void conf_format_channels(const struct conf_irc *irc, bool reveal, FILE *f)
{
	for (size_t i = 0; i < irc->n_channels; i++) {
		const struct conf_channel *c = &irc->channels[i];
		fprintf(f, "%s%s%s%s", i ? ", " : "", c->name, c->key ? " " : "",
			c->key ? (reveal ? c->key : "(key)") : "");
	}
}

/* Write the value of k in cfg; secrets only when reveal. */
static void conf_format_value(const struct conf *cfg, const struct conf_key *k, bool reveal, FILE *f)
{
	const void *field = (const char *)cfg + k->offset;
	const char *const *s = field;
	char d[32];

	switch (k->kind) {
	case CONF_PATH:
	case CONF_NICK:
	case CONF_USER:
	case CONF_TEXT: fputs(*s ? *s : "(none)", f); break;
	case CONF_PASSWORD: fputs(!*s ? "(none)" : reveal ? *s : "(set)", f); break;
	case CONF_LOG_LEVEL: fputs((const char *[]){ "error", "warn", "info", "debug" }
				   [*(const enum log_level *)field], f); break;
	case CONF_BOOL: fputs(*(const bool *)field ? "yes" : "no", f); break;
	case CONF_SIZE: fprintf(f, "%zu", *(const size_t *)field); break;
	case CONF_COUNT: fprintf(f, "%u", *(const unsigned *)field); break;
	case CONF_DURATION:
		conf_format_duration(*(const unsigned *)field, d, sizeof d);
		fputs(d, f);
		break;
	case CONF_SERVER: conf_format_servers(&cfg->irc, f); break;
	case CONF_ALT_NICK:
		for (size_t i = 0; i < cfg->irc.n_alt_nicks; i++)
			fprintf(f, "%s%s", i ? ", " : "", cfg->irc.alt_nicks[i]);
		break;
	case CONF_CHANNEL: conf_format_channels(&cfg->irc, reveal, f); break;
	}
}

/* The value of k in cfg as a new string (NULL when memory runs out). */
static char *conf_value_string(const struct conf *cfg, const struct conf_key *k, bool reveal)
{
	char *s = NULL;
	size_t n;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	conf_format_value(cfg, k, reveal, f);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	if (n == 0) {
		free(s);
		s = strdup("(none)");
	}
	return s;
}

/* Describe key k if it differs; 1 when it does, 0, or -ENOMEM. */
static int conf_compare_key(const struct conf *old, const struct conf *cur, const struct conf_key *k,
			    conf_change_fn fn, void *userdata)
{
	char *a = conf_value_string(old, k, true), *b = conf_value_string(cur, k, true);
	char *sa = NULL, *sb = NULL, *line = NULL;
	int r = a && b ? strcmp(a, b) != 0 : -ENOMEM;

	if (r == 1) {
		sa = conf_value_string(old, k, false);
		sb = conf_value_string(cur, k, false);
		if (!sa || !sb)
			r = -ENOMEM;
		else if (strcmp(sa, sb) == 0 ? asprintf(&line, "[%s] %s changed", k->section, k->name) < 0
		     : asprintf(&line, "[%s] %s: %s -> %s", k->section, k->name, sa, sb) < 0)
			r = -ENOMEM;
		else
			fn(line, userdata);
	}
	free(a);
	free(b);
	free(sa);
	free(sb);
	free(line);
	return r;
}

/* Call fn with a description of each key whose value differs. */
int conf_compare(const struct conf *old, const struct conf *cur, conf_change_fn fn, void *userdata)
{
	int n = 0;

	for (size_t i = 0; i < CONF_NKEYS; i++) {
		int r = conf_compare_key(old, cur, &conf_keys[i], fn, userdata);
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}
