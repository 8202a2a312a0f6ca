/* SPDX-License-Identifier: ISC */
/* The configuration file: inih reads the INI syntax, this module checks the
 * sections, keys and values against the schema and fills a struct conf. */
#include "config.h"

#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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

#include "irc/irc_text.h"
#include "irc/isupport.h"
#include "irc/transport_tls.h"
#include "http/http_route.h"
#include "behaviours/listeners.h"

#define CONF_FILE_MAX (1u << 20)	/* a configuration file larger than this is refused */
#define CONF_HOST_MAX 253		/* a DNS name */
#define CONF_DEFAULT_PORT "6667"
#define CONF_DEFAULT_TLS_PORT "6697"
#define CONF_NAME_MAX 32		/* a behaviour's name */

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
	CONF_PREFIX,		/* the command prefix */
	CONF_OWNER,		/* repeatable */
	CONF_RATE,		/* "count/duration", count min..max */
	CONF_EXEC,		/* an executable, resolved against the file's directory */
	CONF_ARG,		/* repeatable */
	CONF_AT,		/* repeatable "HH:MM" */
	CONF_NOT_BOOL,		/* a boolean stored negated */
	CONF_FILE,		/* a readable file, resolved against the file's directory */
	CONF_FINGERPRINT,	/* a SHA-256 fingerprint */
	CONF_SASL_MECH,		/* none, plain or external */
	CONF_ENCODING,		/* cp1252, latin1 or none */
	CONF_SECRET,		/* text, spaces allowed, never shown */
	CONF_WORDS,		/* command words, separated by spaces */
	CONF_DIR,		/* an absolute path of a file or directory */
	CONF_NAMES,		/* behaviour names, separated by spaces */
	CONF_ALLOW_USER,	/* repeatable: a user name or uid */
	CONF_ALLOW_GROUP,	/* repeatable: a group name or gid */
	CONF_LIMIT_SIZE,	/* uint64_t bytes "512M", min..max, or unlimited */
	CONF_LIMIT_COUNT,	/* uint64_t, min..max, or unlimited */
	CONF_LIMIT_CPU,		/* uint64_t seconds written as a duration, min..max, or unlimited */
	CONF_LISTEN,		/* repeatable: an HTTP address "HOST:PORT" */
	CONF_LISTENERS,		/* repeatable: names of [listen NAME] sections */
};

struct conf_key {
	const char *section;	/* a behaviour's kind for the keys of its sections */
	const char *name;
	enum conf_kind kind;
	bool behaviour;		/* offset is in struct conf_behaviour */
	size_t offset;		/* of the field in struct conf (scalar kinds) */
	unsigned long long min, max;
};

#define KEY(sec, name, kind, field, min, max) \
	{ sec, name, kind, false, offsetof(struct conf, field), min, max }
#define BKEY(sec, name, kind, field, min, max) \
	{ sec, name, kind, true, offsetof(struct conf_behaviour, field), min, max }

/* The resource limits of behaviours: in [behaviours] and in each section. */
#define LIMIT_KEYS(key, sec, field) \
	key(sec, "limit_memory", CONF_LIMIT_SIZE, field.memory, 1ull << 20, 1ull << 50), \
	key(sec, "limit_cpu", CONF_LIMIT_CPU, field.cpu_s, 1, 30 * 24 * 3600), \
	key(sec, "limit_processes", CONF_LIMIT_COUNT, field.processes, 1, 1u << 22), \
	key(sec, "limit_files", CONF_LIMIT_COUNT, field.files, 4, 1u << 20), \
	key(sec, "limit_file_size", CONF_LIMIT_SIZE, field.file_size, 0, 1ull << 50), \
	key(sec, "limit_core", CONF_LIMIT_SIZE, field.core, 0, 1ull << 50)

static const struct conf_key conf_keys[] = {
	KEY("bothost", "socket", CONF_PATH, socket_path, 0, 0),
	KEY("bothost", "log_level", CONF_LOG_LEVEL, log_level, 0, 0),
	KEY("bothost", "loopback", CONF_BOOL, loopback, 0, 0),
	KEY("bothost", "command_prefix", CONF_PREFIX, bot.command_prefix, 1, 8),
	KEY("bothost", "owner", CONF_OWNER, bot.owners, 0, 0),
	KEY("bothost", "max_processes", CONF_COUNT, bot.max_processes, 1, 10000),
	KEY("bothost", "user_commands", CONF_RATE, bot.user_commands, 1, 100),
	KEY("bothost", "user_ignore", CONF_DURATION, bot.user_ignore_ms, SEC, DAY),
	KEY("bothost", "user_processes", CONF_COUNT, bot.user_processes, 1, 10000),
	KEY("bothost", "allow_user", CONF_ALLOW_USER, allow_uids, 0, 0),
	KEY("bothost", "allow_group", CONF_ALLOW_GROUP, allow_gids, 0, 0),
	KEY("bothost", "state_dir", CONF_DIR, state_dir, 0, 0),
	KEY("store", "path", CONF_DIR, store.path, 0, 0),
	KEY("store", "size_max", CONF_SIZE, store.size_max, 1024, 1ull << 32),
	KEY("http", "listen", CONF_LISTEN, http.listen, 0, 0),
	KEY("http", "body_max", CONF_SIZE, http.body_max, 0, 1ull << 30),
	KEY("http", "header_max", CONF_SIZE, http.header_max, 4096, 1u << 20),
	KEY("http", "connections_max", CONF_COUNT, http.connections_max, 1, 100000),
	KEY("http", "inflight_max", CONF_COUNT, http.inflight_max, 1, 100000),
	KEY("http", "handler_wait", CONF_DURATION, http.handler_wait_ms, 0, 10 * MIN),
	KEY("http", "answer_timeout", CONF_DURATION, http.answer_timeout_ms, 100, HOUR),
	KEY("http", "idle_timeout", CONF_DURATION, http.idle_timeout_ms, SEC, HOUR),
	KEY("limits", "frame_max", CONF_SIZE, limits.frame_max, 64, SIZE_MAX / 2),
	KEY("limits", "output_max", CONF_SIZE, limits.output_max, 1, SIZE_MAX / 2),
	KEY("limits", "tokens_max", CONF_SIZE, limits.tokens_max, 1, SIZE_MAX / 2),
	KEY("limits", "handlers_max", CONF_SIZE, limits.handlers_max, 1, SIZE_MAX / 2),
	KEY("limits", "pending_max", CONF_SIZE, limits.pending_max, 1, SIZE_MAX / 2),
	KEY("limits", "clients_max", CONF_SIZE, limits.clients_max, 1, SIZE_MAX / 2),
	KEY("limits", "clients_per_user", CONF_SIZE, limits.clients_per_user, 1, SIZE_MAX / 2),
	KEY("limits", "call_timeout", CONF_DURATION, limits.call_timeout_ms, 0, DAY),
	KEY("limits", "hello_timeout", CONF_DURATION, limits.hello_timeout_ms, 0, HOUR),
	KEY("limits", "output_total_max", CONF_SIZE, limits.output_total_max, 65536, SIZE_MAX / 2),
	KEY("limits", "output_user_max", CONF_SIZE, limits.output_user_max, 65536, SIZE_MAX / 2),
	KEY("limits", "fds_per_frame", CONF_SIZE, limits.fds_per_frame, 0, 253),
	KEY("limits", "fds_max", CONF_SIZE, limits.fds_max, 0, 253),
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
	KEY("irc", "refusal_wait", CONF_DURATION, irc.refusal_wait_ms, 0, MIN),
	KEY("irc", "burst", CONF_COUNT, irc.burst, 1, 100),
	KEY("irc", "line_interval", CONF_DURATION, irc.line_interval_ms, 0, MIN),
	KEY("irc", "queue_max", CONF_COUNT, irc.queue_max, 1, 100000),
	KEY("irc", "queue_max_age", CONF_DURATION, irc.queue_max_age_ms, 0, DAY),
	KEY("irc", "encoding_fallback", CONF_ENCODING, irc.encoding_fallback, 0, 0),
	KEY("irc", "ctcp_version", CONF_TEXT, irc.ctcp_version, 0, 0),
	KEY("irc", "ctcp_per_minute", CONF_COUNT, irc.ctcp_per_minute, 0, 600),
	KEY("irc", "tls", CONF_BOOL, irc.tls, 0, 0),
	KEY("irc", "tls_insecure", CONF_BOOL, irc.tls_insecure, 0, 0),
	KEY("irc", "tls_fingerprint", CONF_FINGERPRINT, irc.tls_fingerprint, 0, 0),
	KEY("irc", "tls_ca_file", CONF_FILE, irc.tls_ca_file, 0, 0),
	KEY("irc", "tls_cert", CONF_FILE, irc.tls_cert, 0, 0),
	KEY("irc", "tls_key", CONF_FILE, irc.tls_key, 0, 0),
	KEY("irc", "sasl_mechanism", CONF_SASL_MECH, irc.sasl_mechanism, 0, 0),
	KEY("irc", "sasl_user", CONF_TEXT, irc.sasl_user, 0, 0),
	KEY("irc", "sasl_password", CONF_SECRET, irc.sasl_password, 0, 0),
	KEY("irc", "sasl_required", CONF_BOOL, irc.sasl_required, 0, 0),
	KEY("irc", "cap_timeout", CONF_DURATION, irc.cap_timeout_ms, 100, HOUR),
	KEY("irc", "sasl_timeout", CONF_DURATION, irc.sasl_timeout_ms, 100, HOUR),
	BKEY("command", "exec", CONF_EXEC, exec, 0, 0),
	BKEY("command", "arg", CONF_ARG, args, 0, 0),
	BKEY("command", "timeout", CONF_DURATION, timeout_ms, 0, DAY),
	BKEY("command", "max_running", CONF_COUNT, max_running, 1, 100),
	BKEY("command", "prestart", CONF_COUNT, prestart, 0, 16),
	BKEY("command", "channel_only", CONF_NOT_BOOL, private_ok, 0, 0),
	BKEY("command", "private_ok", CONF_BOOL, private_ok, 0, 0),
	BKEY("command", "owner_only", CONF_BOOL, owner_only, 0, 0),
	BKEY("command", "help", CONF_TEXT, help, 0, 0),
	BKEY("command", "privileged", CONF_BOOL, privileged, 0, 0),
	BKEY("command", "line_buffered", CONF_BOOL, line_buffered, 0, 0),
	BKEY("command", "store_access", CONF_NAMES, store_access, 0, 0),
	BKEY("timer", "exec", CONF_EXEC, exec, 0, 0),
	BKEY("timer", "arg", CONF_ARG, args, 0, 0),
	BKEY("timer", "every", CONF_DURATION, every_ms, SEC, 7 * DAY),
	BKEY("timer", "at", CONF_AT, at, 0, 0),
	BKEY("timer", "timeout", CONF_DURATION, timeout_ms, 0, DAY),
	BKEY("timer", "privileged", CONF_BOOL, privileged, 0, 0),
	BKEY("timer", "line_buffered", CONF_BOOL, line_buffered, 0, 0),
	BKEY("timer", "store_access", CONF_NAMES, store_access, 0, 0),
	BKEY("command", "listen", CONF_LISTENERS, listen, 0, 0),
	BKEY("timer", "listen", CONF_LISTENERS, listen, 0, 0),
	BKEY("resident", "listen", CONF_LISTENERS, listen, 0, 0),
	BKEY("route", "listen", CONF_LISTENERS, listen, 0, 0),
	BKEY("resident", "exec", CONF_EXEC, exec, 0, 0),
	BKEY("resident", "arg", CONF_ARG, args, 0, 0),
	BKEY("resident", "restart_min", CONF_DURATION, restart_min_ms, 100, DAY),
	BKEY("resident", "restart_max", CONF_DURATION, restart_max_ms, 100, DAY),
	BKEY("resident", "watch", CONF_BOOL, watch, 0, 0),
	BKEY("resident", "commands", CONF_WORDS, commands, 0, 0),
	BKEY("resident", "help", CONF_TEXT, help, 0, 0),
	BKEY("resident", "privileged", CONF_BOOL, privileged, 0, 0),
	BKEY("resident", "line_buffered", CONF_BOOL, line_buffered, 0, 0),
	BKEY("resident", "store_access", CONF_NAMES, store_access, 0, 0),
	BKEY("route", "exec", CONF_EXEC, exec, 0, 0),
	BKEY("route", "arg", CONF_ARG, args, 0, 0),
	BKEY("route", "path", CONF_TEXT, route_path, 0, 0),
	BKEY("route", "method", CONF_TEXT, route_method, 0, 0),
	BKEY("route", "timeout", CONF_DURATION, timeout_ms, 0, DAY),
	BKEY("route", "max_running", CONF_COUNT, max_running, 1, 1000),
	BKEY("route", "privileged", CONF_BOOL, privileged, 0, 0),
	BKEY("route", "line_buffered", CONF_BOOL, line_buffered, 0, 0),
	BKEY("route", "store_access", CONF_NAMES, store_access, 0, 0),
	LIMIT_KEYS(KEY, "behaviours", behaviour_limits),
	LIMIT_KEYS(BKEY, "command", limits),
	LIMIT_KEYS(BKEY, "timer", limits),
	LIMIT_KEYS(BKEY, "resident", limits),
	LIMIT_KEYS(BKEY, "route", limits),
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
	long cur;			/* the behaviour whose section is being read, or -1 */
	long cur_listen;		/* the [listen NAME] section being read, or -1 */
	unsigned *lline;		/* line of each [listen NAME] header */
	unsigned (*bseen)[CONF_NKEYS];	/* seen, for each behaviour */
	unsigned *bline;		/* line of each behaviour's first header */
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
	irc->refusal_wait_ms = 2 * SEC;
	irc->burst = 5;
	irc->line_interval_ms = 1 * SEC;
	irc->queue_max = 300;
	irc->queue_max_age_ms = 300 * SEC;
	irc->ctcp_per_minute = 6;
	irc->sasl_required = true;
	irc->cap_timeout_ms = 15 * SEC;
	irc->sasl_timeout_ms = 15 * SEC;
	return irc->username && irc->realname && irc->ctcp_version ? 0 : -ENOMEM;
}

/* The default state directory (allocated): $STATE_DIRECTORY (systemd's
 * StateDirectory=, the first of a list), else $XDG_STATE_HOME/bothost when
 * it is set (for root too), else /var/lib/bothost for root, else
 * ~/.local/state/bothost. */
static char *conf_state_dir_default(void)
{
	const char *sd = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *dir = NULL;

	if (sd && sd[0] == '/')
		return strndup(sd, strcspn(sd, ":"));
	if (xdg && xdg[0] == '/')
		return asprintf(&dir, "%s/%s", xdg, PACKAGE_NAME) < 0 ? NULL : dir;
	if (geteuid() == 0 || !home || home[0] != '/')
		return strdup("/var/lib/" PACKAGE_NAME);
	return asprintf(&dir, "%s/.local/state/%s", home, PACKAGE_NAME) < 0 ? NULL : dir;
}

/* Fill cfg with the defaults. */
int conf_init(struct conf *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->loopback = false;
	cfg->bot.max_processes = 32;
	cfg->bot.user_commands = (struct conf_rate){ 12, 1 * MIN };
	cfg->bot.user_ignore_ms = 5 * MIN;
	cfg->bot.user_processes = 4;
	cfg->store.size_max = STORE_SIZE_MAX_DEFAULT;
	http_conf_init(&cfg->http);
	server_config_init(&cfg->limits);
	spawn_limits_init(&cfg->behaviour_limits);
	if (conf_irc_init(&cfg->irc) < 0 || !(cfg->bot.command_prefix = strdup("!")) ||
	    !(cfg->state_dir = conf_state_dir_default())) {
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
	free(irc->tls_fingerprint);
	free(irc->tls_ca_file);
	free(irc->tls_cert);
	free(irc->tls_key);
	free(irc->sasl_user);
	if (irc->sasl_password)
		explicit_bzero(irc->sasl_password, strlen(irc->sasl_password));
	free(irc->sasl_password);
}

/* Free everything cfg holds and zero it; clearing twice is harmless. */
void conf_clear(struct conf *cfg)
{
	conf_irc_clear(&cfg->irc);
	behaviours_conf_clear(&cfg->bot);
	free(cfg->allow_uids);
	free(cfg->allow_gids);
	free(cfg->path);
	free(cfg->socket_path);
	free(cfg->state_dir);
	free(cfg->store.path);
	http_conf_clear(&cfg->http);
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

/* server: "host", "host:port" or "[v6]:port", optionally after irc:// or
 * ircs://, added to the rotation (the port and, without a scheme, TLS are
 * settled by conf_check_servers once tls is known). */
static int conf_add_server(struct conf_parse *p, const char *value)
{
	struct conf_irc *irc = &p->cfg->irc;
	bool tls = strncasecmp(value, "ircs://", 7) == 0;
	bool scheme = tls || strncasecmp(value, "irc://", 6) == 0;
	const char *rest = value + (tls ? 7 : scheme ? 6 : 0);
	char *host = NULL, *port = NULL;
	int r = conf_server_split(rest, &host, &port);

	if (r == -EINVAL)
		return conf_fail(p, "invalid server '%s': expected host, host:port or [IPv6 address]:port",
				 value);
	if (r < 0)
		return r;
	r = conf_server_check(p, rest, host, port, rest[0] == '[');
	if (r == 0)
		r = conf_grow((void **)&irc->servers, &irc->n_servers, sizeof *irc->servers);
	if (r < 0) {
		free(host);
		free(port);
		return r;
	}
	irc->servers[irc->n_servers - 1] = (struct conf_server){ host, port, tls, scheme };
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

/* Append a copy of value to an array of strings. */
static int conf_add_string(char ***array, size_t *n, const char *value)
{
	char *copy = strdup(value);

	if (!copy || conf_grow((void **)array, n, sizeof **array) < 0) {
		free(copy);
		return -ENOMEM;
	}
	(*array)[*n - 1] = copy;
	return 0;
}

/* Whether s has a control character or, when no_space, a space or a tab. */
static bool conf_has_control(const char *s, bool no_space)
{
	for (const unsigned char *q = (const unsigned char *)s; *q; q++)
		if (*q < 0x20 || *q == 0x7f || (no_space && *q == ' '))
			return true;
	return false;
}

/* command_prefix: min to max bytes without spaces or control characters. */
static int conf_set_prefix(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	size_t n = strlen(value);

	if (n < k->min || n > k->max || conf_has_control(value, true))
		return conf_fail(p, "invalid %s '%s': expected %llu to %llu characters without spaces", k->name,
				 value, k->min, k->max);
	return conf_set_string(field, value);
}

/* Whether s is a "nick!user@host" glob: three non-empty parts, no spaces. */
static bool conf_mask_valid(const char *s)
{
	const char *bang = strchr(s, '!');
	const char *at = bang ? strchr(bang + 1, '@') : NULL;

	return bang && at && bang > s && at > bang + 1 && at[1] && !strchr(at + 1, '@') &&
	       !strchr(at + 1, '!') && !conf_has_control(s, true);
}

/* owner: a hostmask glob or account:NAME, added to the owners. */
static int conf_add_owner(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	struct conf *cfg = p->cfg;
	bool account = strncmp(value, "account:", 8) == 0;

	if (account ? !value[8] || conf_has_control(value + 8, true) : !conf_mask_valid(value))
		return conf_fail(p, "invalid %s '%s': expected a nick!user@host mask (* and ? match any "
				 "characters and one character) or account:NAME", k->name, value);
	return conf_add_string(&cfg->bot.owners, &cfg->bot.n_owners, value);
}

/* A uid or gid written as decimal digits: 0, or -EINVAL (not a number, or
 * out of range: (id_t)-1 is no id). */
static int conf_parse_id(const char *value, unsigned long *ret)
{
	unsigned long long v;

	if (conf_parse_number(value, &v) < 0 || v >= (id_t)-1)
		return -EINVAL;
	*ret = (unsigned long)v;
	return 0;
}

/* allow_user: a user name (resolved now) or a uid, added to the allowed uids. */
static int conf_add_allow_user(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	struct conf *cfg = p->cfg;
	unsigned long id;
	struct passwd *pw;

	if (value[0] >= '0' && value[0] <= '9') {
		if (conf_parse_id(value, &id) < 0)
			return conf_fail(p, "invalid %s '%s': expected a user name or a uid", k->name, value);
	} else {
		errno = 0;
		if (!(pw = getpwnam(value)))
			return conf_fail(p, "invalid %s '%s': %s", k->name, value,
					 errno && errno != ENOENT ? strerror(errno) : "no such user");
		id = pw->pw_uid;
	}
	if (conf_grow((void **)&cfg->allow_uids, &cfg->n_allow_uids, sizeof *cfg->allow_uids) < 0)
		return -ENOMEM;
	cfg->allow_uids[cfg->n_allow_uids - 1] = (uid_t)id;
	return 0;
}

/* allow_group: a group name (resolved now) or a gid, added to the allowed gids. */
static int conf_add_allow_group(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	struct conf *cfg = p->cfg;
	unsigned long id;
	struct group *gr;

	if (value[0] >= '0' && value[0] <= '9') {
		if (conf_parse_id(value, &id) < 0)
			return conf_fail(p, "invalid %s '%s': expected a group name or a gid", k->name, value);
	} else {
		errno = 0;
		if (!(gr = getgrnam(value)))
			return conf_fail(p, "invalid %s '%s': %s", k->name, value,
					 errno && errno != ENOENT ? strerror(errno) : "no such group");
		id = gr->gr_gid;
	}
	if (conf_grow((void **)&cfg->allow_gids, &cfg->n_allow_gids, sizeof *cfg->allow_gids) < 0)
		return -ENOMEM;
	cfg->allow_gids[cfg->n_allow_gids - 1] = (gid_t)id;
	return 0;
}


/* [http] listen: an address "HOST:PORT" for the HTTP server. */
static int conf_add_listen(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	struct http_conf *hc = &p->cfg->http;

	if (http_conf_check_listen(value) < 0)
		return conf_fail(p, "invalid address '%s' for %s: expected HOST:PORT, an IPv4 address or an IPv6 "
				 "one in brackets and a port from 0 (any free one) to 65535", value, k->name);
	for (size_t i = 0; i < hc->n_listen; i++)
		if (strcmp(hc->listen[i], value) == 0)
			return conf_fail(p, "%s %s is given twice", k->name, value);
	return conf_add_string(&hc->listen, &hc->n_listen, value);
}
static bool conf_behaviour_name_valid(const char *name);

/* listen (in a behaviour's section): names of [listen NAME] sections,
 * separated by spaces; whether they exist is checked once the file is read. */
static int conf_add_listeners(struct conf_parse *p, const struct conf_key *k, struct conf_behaviour *b,
			      const char *value)
{
	char name[CONF_NAME_MAX + 2];
	const char *s = value;

	while (*(s += strspn(s, " \t"))) {
		size_t n = strcspn(s, " \t");
		snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name - 1 ? n : sizeof name - 1), s);
		if (n >= sizeof name - 1 || !conf_behaviour_name_valid(name))
			return conf_fail(p, "invalid name '%.*s' in %s: expected the names of [listen NAME] sections",
					 (int)n, s, k->name);
		for (size_t i = 0; i < b->n_listen; i++)
			if (strcmp(b->listen[i], name) == 0)
				return conf_fail(p, "%s %s is given twice", k->name, name);
		if (conf_add_string(&b->listen, &b->n_listen, name) < 0)
			return p->r = -ENOMEM;
		s += n;
	}
	return b->n_listen ? 0 : conf_fail(p, "%s needs the name of a [listen NAME] section", k->name);
}

/* user_commands: "count/duration", at most count commands in duration. */
static int conf_set_rate(struct conf_parse *p, const struct conf_key *k, struct conf_rate *field,
			 const char *value)
{
	const char *slash = strchr(value, '/');
	unsigned long long count;
	unsigned ms;
	char num[24];
	int r, d;

	if (!slash || (size_t)(slash - value) >= sizeof num)
		goto invalid;
	memcpy(num, value, (size_t)(slash - value));
	num[slash - value] = '\0';
	r = conf_parse_number(num, &count);
	d = conf_parse_duration(slash + 1, &ms);
	if (r == -EINVAL || d == -EINVAL)
		goto invalid;
	if (r < 0 || d < 0 || count < k->min || count > k->max || ms < SEC || ms > DAY)
		return conf_fail(p, "%s %s is out of range (%llu to %llu commands per 1s to 1d)", k->name, value,
				 k->min, k->max);
	*field = (struct conf_rate){ (unsigned)count, ms };
	return 0;
invalid:
	return conf_fail(p, "invalid %s '%s': expected a count and a duration such as 12/1m", k->name, value);
}

/* A relative path resolved against the directory of the configuration file
 * (made absolute with the working directory when the file's path is
 * relative), or NULL. */
static char *conf_resolve(const char *conf_path, const char *rel)
{
	const char *slash = strrchr(conf_path, '/');
	int dirlen = slash ? (int)(slash - conf_path) : 0;
	char cwd[PATH_MAX], *out;

	if (conf_path[0] == '/')
		return asprintf(&out, "%.*s/%s", dirlen, conf_path, rel) < 0 ? NULL : out;
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	if (slash)
		return asprintf(&out, "%s/%.*s/%s", cwd, dirlen, conf_path, rel) < 0 ? NULL : out;
	return asprintf(&out, "%s/%s", cwd, rel) < 0 ? NULL : out;
}

/* A regular file that access(2) allows for mode (X_OK or R_OK); a relative
 * path is resolved against the configuration file's directory. `kind` and
 * `lacking` name what is expected and what is missing in the messages. */
static int conf_set_file_mode(struct conf_parse *p, const struct conf_key *k, char **field, const char *value,
			     int mode, const char *kind, const char *lacking)
{
	char *path;
	struct stat st;
	int r = 0;

	if (!*value || conf_has_control(value, false))
		return conf_fail(p, "invalid %s: expected the path of %s", k->name, kind);
	path = value[0] == '/' ? strdup(value) : conf_resolve(p->path, value);
	if (!path)
		return -ENOMEM;
	if (stat(path, &st) < 0)
		r = conf_fail(p, "invalid %s '%s': %s: %s", k->name, value, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = conf_fail(p, "invalid %s '%s': %s is not a regular file", k->name, value, path);
	else if (access(path, mode) < 0)
		r = conf_fail(p, "invalid %s '%s': %s is not %s", k->name, value, path, lacking);
	if (r < 0) {
		free(path);
		return r;
	}
	free(*field);
	*field = path;
	return 0;
}

/* Whether only root or the host's user can change what st names: owned by
 * one of them, and writable by nobody else - except a directory with the
 * sticky bit, where others cannot rename or remove an entry they do not
 * own (the next component is checked to be owned by root or the host). */
static bool conf_stat_trusted(const struct stat *st, bool dir)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return false;
	return !(st->st_mode & (S_IWGRP | S_IWOTH)) || (dir && (st->st_mode & S_ISVTX));
}

/* Like sshd's StrictModes: the executable, and every directory above it,
 * can be changed only by root or the host's user; else another user could
 * change what the bot runs. 0, or an error naming the culprit. */
static int conf_check_exec_owner(struct conf_parse *p, const struct conf_key *k, const char *value,
				 const char *path)
{
	char *real = realpath(path, NULL), *slash;
	struct stat st;
	bool dir = false;
	int r = 0;

	if (!real)
		return conf_fail(p, "invalid %s '%s': %s: %s", k->name, value, path, strerror(errno));
	for (;;) {
		if (stat(real, &st) < 0) {
			r = conf_fail(p, "invalid %s '%s': %s: %s", k->name, value, real, strerror(errno));
			break;
		}
		if (!conf_stat_trusted(&st, dir)) {
			r = conf_fail(p, "invalid %s '%s': %s can be changed by users other than root and the "
				      "bot's (owner uid %ld, mode %04o): make it owned by one of them and not "
				      "writable by group or others", k->name, value, real, (long)st.st_uid,
				      (unsigned)(st.st_mode & 07777));
			break;
		}
		if (strcmp(real, "/") == 0)
			break;
		slash = strrchr(real, '/');
		slash[slash == real] = '\0';	/* "/usr/bin" -> "/usr", "/usr" -> "/" */
		dir = true;
	}
	free(real);
	return r;
}

/* exec: an executable regular file that only root or the host's user can change. */
static int conf_set_exec(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	int r = conf_set_file_mode(p, k, field, value, X_OK, "an executable", "executable");

	return r < 0 ? r : conf_check_exec_owner(p, k, value, *field);
}

/* tls_ca_file, tls_cert, tls_key: a readable regular file. */
static int conf_set_file(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	return conf_set_file_mode(p, k, field, value, R_OK, "a file", "readable");
}

/* tls_fingerprint: 64 hex digits, in pairs separated by ':' or not. */
static int conf_set_fingerprint(struct conf_parse *p, const struct conf_key *k, char **field,
				const char *value)
{
	unsigned char pin[TRANSPORT_TLS_PIN_LEN];

	if (transport_tls_parse_pin(value, pin) < 0)
		return conf_fail(p, "invalid %s '%s': expected a SHA-256 fingerprint, 64 hex digits (pairs may "
				 "be separated by ':', as `openssl x509 -noout -fingerprint -sha256` prints them)",
				 k->name, value);
	return conf_set_string(field, value);
}

/* sasl_mechanism: none, plain or external (any case). */
static int conf_set_sasl_mech(struct conf_parse *p, const struct conf_key *k, enum conf_sasl *field,
			      const char *value)
{
	static const char *const names[] = { "none", "plain", "external" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(value, names[i]) == 0) {
			*field = (enum conf_sasl)i;
			return 0;
		}
	}
	return conf_fail(p, "invalid %s '%s': expected none, plain or external", k->name, value);
}

/* encoding_fallback: cp1252, latin1 or none (any case). */
static int conf_set_encoding(struct conf_parse *p, const struct conf_key *k, enum conf_encoding *field,
			     const char *value)
{
	static const char *const names[] = { "cp1252", "latin1", "none" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(value, names[i]) == 0) {
			*field = (enum conf_encoding)i;
			return 0;
		}
	}
	return conf_fail(p, "invalid %s '%s': expected cp1252, latin1 or none", k->name, value);
}

/* sasl_password: non-empty text without control characters (spaces are
 * allowed: it travels base64-encoded). */
static int conf_set_secret(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	if (!*value || conf_has_control(value, false))
		return conf_fail(p, "invalid %s: expected some text without control characters", k->name);
	return conf_set_string(field, value);
}

/* arg: one more fixed argument. */
static int conf_add_arg(struct conf_parse *p, const struct conf_key *k, struct conf_behaviour *b,
			const char *value)
{
	if (!*value || conf_has_control(value, false))
		return conf_fail(p, "invalid %s: expected some text without control characters", k->name);
	return conf_add_string(&b->args, &b->n_args, value);
}

/* Whether name is a command the host answers itself. */
static bool conf_command_builtin(const char *name)
{
	static const char *const builtins[] = { "help", "reload", "restart", "status" };

	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcasecmp(name, builtins[i]) == 0)
			return true;
	return false;
}

/* Whether the n bytes at s are a command word as typed after the prefix:
 * a letter or digit, then letters, digits, '-', '_' or '.'. */
static bool conf_command_word_valid(const char *s, size_t n)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	return n >= 1 && n <= CONF_NAME_MAX && memchr(alnum, s[0], sizeof alnum - 1) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") >= n;
}

/* Check one word of commands and add it to the resident's claims. */
static int conf_add_command_word(struct conf_parse *p, const struct conf_key *k, struct conf_behaviour *b,
				 const char *word, size_t n)
{
	char w[CONF_NAME_MAX + 1];

	if (!conf_command_word_valid(word, n))
		return conf_fail(p, "invalid %s word '%.*s': expected 1 to %d letters, digits, '-', '_' or '.', "
				 "starting with a letter or a digit", k->name, (int)n, word, CONF_NAME_MAX);
	snprintf(w, sizeof w, "%.*s", (int)n, word);
	if (conf_command_builtin(w))
		return conf_fail(p, "invalid %s word '%s': %s is a built-in command", k->name, w, w);
	if (conf_behaviour_claims(b, w))
		return conf_fail(p, "invalid %s: '%s' is listed twice", k->name, w);
	return conf_add_string(&b->commands, &b->n_commands, w);
}

/* commands: the command words a resident answers itself, separated by spaces. */
static int conf_set_words(struct conf_parse *p, const struct conf_key *k, struct conf_behaviour *b,
			  const char *value)
{
	const char *s = value + strspn(value, " \t");
	int r = 0;

	if (!*s)
		return conf_fail(p, "invalid %s: expected one or more command words", k->name);
	while (*s && r == 0) {
		size_t n = strcspn(s, " \t");
		r = conf_add_command_word(p, k, b, s, n);
		s += n;
		s += strspn(s, " \t");
	}
	return r;
}

/* store_access: behaviour names whose namespaces of the store the section may use. */
static int conf_set_names(struct conf_parse *p, const struct conf_key *k, struct conf_behaviour *b,
			  const char *value)
{
	const char *s = value + strspn(value, " \t");
	int r = 0;

	if (!*s)
		return conf_fail(p, "invalid %s: expected one or more behaviour names", k->name);
	while (*s && r == 0) {
		size_t n = strcspn(s, " \t");
		char w[CONF_NAME_MAX + 1];
		if (!conf_command_word_valid(s, n))
			return conf_fail(p, "invalid %s name '%.*s': expected 1 to %d letters, digits, '-', '_' or '.'",
					 k->name, (int)n, s, CONF_NAME_MAX);
		snprintf(w, sizeof w, "%.*s", (int)n, s);
		r = conf_add_string(&b->store_access, &b->n_store_access, w);
		s += n;
		s += strspn(s, " \t");
	}
	return r;
}

/* An absolute path (state_dir, [store] path). */
static int conf_set_dir(struct conf_parse *p, const struct conf_key *k, char **field, const char *value)
{
	if (value[0] != '/' || conf_has_control(value, false))
		return conf_fail(p, "invalid %s '%s': expected an absolute path", k->name, value);
	return conf_set_string(field, value);
}

/* at: a time of day "HH:MM" (local time), added to the timer's times. */
static int conf_add_at(struct conf_parse *p, const struct conf_key *k, struct conf_behaviour *b,
		       const char *value)
{
	unsigned h = 0, m = 0;
	size_t nh = strspn(value, "0123456789");
	unsigned *at;

	if (nh < 1 || nh > 2 || value[nh] != ':' || strspn(value + nh + 1, "0123456789") != 2 || value[nh + 3])
		return conf_fail(p, "invalid %s '%s': expected a time of day HH:MM (00:00 to 23:59)", k->name, value);
	for (size_t i = 0; i < nh; i++)
		h = h * 10 + (unsigned)(value[i] - '0');
	m = (unsigned)(value[nh + 1] - '0') * 10 + (unsigned)(value[nh + 2] - '0');
	if (h > 23 || m > 59)
		return conf_fail(p, "invalid %s '%s': expected a time of day HH:MM (00:00 to 23:59)", k->name, value);
	at = realloc(b->at, (b->n_at + 1) * sizeof *at);
	if (!at)
		return -ENOMEM;
	at[b->n_at++] = h * 60 + m;
	b->at = at;
	return 0;
}

/* A boolean stored negated (channel_only = yes sets private_ok to false). */
static int conf_set_not_bool(struct conf_parse *p, const struct conf_key *k, bool *field, const char *value)
{
	bool v;
	int r = conf_set_bool(p, k, &v, value);

	if (r == 0)
		*field = !v;
	return r;
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

/* A size: digits, then nothing (bytes) or K, M, G or T (any case: powers
 * of 1024). 0, -EINVAL or -ERANGE. */
static int conf_parse_size(const char *s, unsigned long long *ret)
{
	static const char units[] = "KMGTkmgt";
	size_t n = strspn(s, "0123456789");
	unsigned long long v;
	unsigned shift = 0;
	const char *u = s[n] ? strchr(units, s[n]) : NULL;
	char num[24];
	int r;

	if (n == 0 || (s[n] && (s[n + 1] || !u)))
		return -EINVAL;
	if (n >= sizeof num)
		return -ERANGE;
	memcpy(num, s, n);
	num[n] = '\0';
	if ((r = conf_parse_number(num, &v)) < 0)
		return r;
	if (u)
		shift = 10 * (unsigned)((u - units) % 4 + 1);
	if (v > (ULLONG_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

/* Write a limit as it is written in the file: "512M", "256", "30s", "unlimited". */
static void conf_format_limit(enum conf_kind kind, uint64_t v, char *buf, size_t size)
{
	static const char units[] = "KMGT";
	unsigned i = 0;

	if (v == SPAWN_UNLIMITED) {
		snprintf(buf, size, "unlimited");
		return;
	}
	if (kind == CONF_LIMIT_CPU) {
		conf_format_duration(v * SEC, buf, size);
		return;
	}
	while (kind == CONF_LIMIT_SIZE && v && v % 1024 == 0 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, "%llu%.*s", (unsigned long long)v, i ? 1 : 0, i ? units + i - 1 : "");
}

/* Parse a limit's value, not "unlimited": 0, -EINVAL or -ERANGE. */
static int conf_parse_limit(enum conf_kind kind, const char *value, unsigned long long *ret)
{
	unsigned ms;
	int r;

	if (kind == CONF_LIMIT_SIZE)
		return conf_parse_size(value, ret);
	if (kind == CONF_LIMIT_COUNT)
		return conf_parse_number(value, ret);
	if ((r = conf_parse_duration(value, &ms)) < 0)
		return r;
	if (ms % SEC)
		return -EINVAL;
	*ret = ms / SEC;
	return 0;
}

/* limit_*: a size, a count or whole seconds within the key's range, or
 * unlimited (the host's own limit is kept). */
static int conf_set_limit(struct conf_parse *p, const struct conf_key *k, uint64_t *field, const char *value)
{
	static const char *const expected[] = {
		"a size such as 512K, 256M or 1G (a bare number is bytes)", "a whole number",
		"a duration in whole seconds such as 30s, 5m or 1h",
	};
	unsigned long long v;
	char lo[32], hi[32];
	int r;

	if (strcmp(value, "unlimited") == 0) {
		*field = SPAWN_UNLIMITED;
		return 0;
	}
	r = conf_parse_limit(k->kind, value, &v);
	if (r == -EINVAL)
		return conf_fail(p, "invalid %s '%s': expected %s, or unlimited", k->name, value,
				 expected[k->kind - CONF_LIMIT_SIZE]);
	if (r < 0 || v < k->min || v > k->max) {
		conf_format_limit(k->kind, k->min, lo, sizeof lo);
		conf_format_limit(k->kind, k->max, hi, sizeof hi);
		return conf_fail(p, "%s %s is out of range (%s to %s, or unlimited)", k->name, value, lo, hi);
	}
	*field = v;
	return 0;
}

/* Parse value for key k into the configuration (or the behaviour whose
 * section is being read). */
static int conf_set(struct conf_parse *p, const struct conf_key *k, const char *value)
{
	void *base = k->behaviour ? (void *)&p->cfg->bot.behaviours[p->cur] : (void *)p->cfg;
	void *field = (char *)base + k->offset;

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
	case CONF_PREFIX: return conf_set_prefix(p, k, field, value);
	case CONF_OWNER: return conf_add_owner(p, k, value);
	case CONF_RATE: return conf_set_rate(p, k, field, value);
	case CONF_EXEC: return conf_set_exec(p, k, field, value);
	case CONF_ARG: return conf_add_arg(p, k, base, value);
	case CONF_AT: return conf_add_at(p, k, base, value);
	case CONF_NOT_BOOL: return conf_set_not_bool(p, k, field, value);
	case CONF_WORDS: return conf_set_words(p, k, base, value);
	case CONF_NAMES: return conf_set_names(p, k, base, value);
	case CONF_DIR: return conf_set_dir(p, k, field, value);
	case CONF_FILE: return conf_set_file(p, k, field, value);
	case CONF_FINGERPRINT: return conf_set_fingerprint(p, k, field, value);
	case CONF_SASL_MECH: return conf_set_sasl_mech(p, k, field, value);
	case CONF_ENCODING: return conf_set_encoding(p, k, field, value);
	case CONF_SECRET: return conf_set_secret(p, k, field, value);
	case CONF_ALLOW_USER: return conf_add_allow_user(p, k, value);
	case CONF_ALLOW_GROUP: return conf_add_allow_group(p, k, value);
	case CONF_LISTEN: return conf_add_listen(p, k, value);
	case CONF_LISTENERS: return conf_add_listeners(p, k, base, value);
	case CONF_LIMIT_SIZE:
	case CONF_LIMIT_COUNT:
	case CONF_LIMIT_CPU: return conf_set_limit(p, k, field, value);
	}
	return -EINVAL;
}

/* ---- sections and keys ---------------------------------------------------- */

/* Whether values of this kind add to a list instead of replacing a value. */
static bool conf_kind_repeatable(enum conf_kind kind)
{
	return kind == CONF_SERVER || kind == CONF_ALT_NICK || kind == CONF_CHANNEL || kind == CONF_OWNER ||
	       kind == CONF_ARG || kind == CONF_AT || kind == CONF_ALLOW_USER || kind == CONF_ALLOW_GROUP ||
	       kind == CONF_LISTEN || kind == CONF_LISTENERS;
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

/* Whether name is a section of the schema with a fixed name. */
static bool conf_section_known(const char *name)
{
	return strcmp(name, "bothost") == 0 || strcmp(name, "limits") == 0 || strcmp(name, "irc") == 0 ||
	       strcmp(name, "behaviours") == 0 || strcmp(name, "store") == 0 || strcmp(name, "http") == 0;
}

/* The section a key belongs in, for messages: "irc" or "timer NAME". */
static void conf_key_home(const struct conf_key *k, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", k->section, k->behaviour ? " NAME" : "");
}

/* Report a key that is not in its section, naming the section it belongs in. */
static int conf_fail_unknown_key(struct conf_parse *p, const char *section, const char *name)
{
	const struct conf_key *other = conf_key_find(NULL, name);
	char home[32], here[64];

	if (other)
		conf_key_home(other, home, sizeof home);
	if (p->cur >= 0)
		snprintf(here, sizeof here, "%s %s", conf_behaviour_kind_name(p->cfg->bot.behaviours[p->cur].kind),
			 p->cfg->bot.behaviours[p->cur].name);
	else
		snprintf(here, sizeof here, "%s", section);
	if (!*here && other)
		return conf_fail(p, "key '%s' before any section (it belongs in [%s])", name, home);
	if (!*here)
		return conf_fail(p, "key '%s' before any section", name);
	if (other)
		return conf_fail(p, "unknown key '%s' in [%s] (it belongs in [%s])", name, here, home);
	return conf_fail(p, "unknown key '%s' in [%s]", name, here);
}

/* Whether name is a behaviour's name: letters, digits, '-', '_', '.'. */
static bool conf_behaviour_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= CONF_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* Add a behaviour of kind named name, with the defaults; its index or -errno. */
static long conf_behaviour_add(struct conf_parse *p, enum conf_behaviour_kind kind, const char *name)
{
	struct conf *cfg = p->cfg;
	size_t n = cfg->bot.n_behaviours;
	unsigned (*bseen)[CONF_NKEYS] = realloc(p->bseen, (n + 1) * sizeof *bseen);
	unsigned *bline = bseen ? realloc(p->bline, (n + 1) * sizeof *bline) : NULL;
	char *copy = strdup(name);

	if (bseen)
		p->bseen = bseen;
	if (bline)
		p->bline = bline;
	if (!bline || !copy || conf_grow((void **)&cfg->bot.behaviours, &cfg->bot.n_behaviours, sizeof *cfg->bot.behaviours) < 0) {
		free(copy);
		return -ENOMEM;
	}
	memset(p->bseen[n], 0, sizeof p->bseen[n]);
	p->bline[n] = p->line;
	cfg->bot.behaviours[n] = (struct conf_behaviour){
		.kind = kind, .name = copy, .max_running = 2, .private_ok = true, .line_buffered = true,
		.timeout_ms = kind == CONF_BEHAVIOUR_RESIDENT ? 0 : 30 * SEC,
		.restart_min_ms = 1 * SEC, .restart_max_ms = 5 * MIN,
	};
	return (long)n;
}

/* A [KIND NAME] header: start (or go on with) that behaviour's section. */
static int conf_behaviour_section(struct conf_parse *p, enum conf_behaviour_kind kind, const char *name)
{
	const char *kname = conf_behaviour_kind_name(kind);
	const struct conf_behaviour *other = conf_behaviour_find(&p->cfg->bot, name);
	long i;

	if (!*name)
		return conf_fail(p, "section [%s] needs a name: [%s NAME]", kname, kname);
	if (!conf_behaviour_name_valid(name))
		return conf_fail(p, "invalid name '%s' in [%s %s]: expected 1 to %d letters, digits, '-', '_' or '.'",
				 name, kname, name, CONF_NAME_MAX);
	if (kind == CONF_BEHAVIOUR_COMMAND && conf_command_builtin(name))
		return conf_fail(p, "[%s %s]: %s is a built-in command", kname, name, name);
	if (other && (other->kind != kind || strcmp(other->name, name) != 0))
		return conf_fail(p, "[%s %s]: the name is taken by [%s %s] on line %u", kname, name,
				 conf_behaviour_kind_name(other->kind), other->name,
				 p->bline[other - p->cfg->bot.behaviours]);
	i = other ? (long)(other - p->cfg->bot.behaviours) : conf_behaviour_add(p, kind, name);
	if (i < 0)
		return p->r = (int)i;
	p->cur = i;
	return 0;
}

/* A [listen NAME] header: start (or go on with) that section. */
static int conf_listen_section(struct conf_parse *p, const char *name)
{
	struct behaviours_conf *bc = &p->cfg->bot;
	const struct conf_listener *other = conf_listener_find(bc, name);
	unsigned *lline;

	if (!conf_behaviour_name_valid(name))
		return conf_fail(p, "invalid name '%s' in [listen %s]: expected 1 to %d letters, digits, '-', '_' "
				 "or '.'", name, name, CONF_NAME_MAX);
	if (other) {
		p->cur_listen = other - bc->listeners;
		return 0;
	}
	if (!(lline = realloc(p->lline, (bc->n_listeners + 1) * sizeof *lline)))
		return p->r = -ENOMEM;
	p->lline = lline;
	char *copy = strdup(name);
	if (!copy || conf_grow((void **)&bc->listeners, &bc->n_listeners, sizeof *bc->listeners) < 0) {
		free(copy);
		return p->r = -ENOMEM;
	}
	p->cur_listen = (long)bc->n_listeners - 1;
	bc->listeners[p->cur_listen] = (struct conf_listener){ .name = copy };
	p->lline[p->cur_listen] = p->line;
	return 0;
}

/* A key of a [listen NAME] section: only address. */
static int conf_listen_key(struct conf_parse *p, const char *name, const char *value)
{
	struct conf_listener *l = &p->cfg->bot.listeners[p->cur_listen];
	char why[160];

	if (strcmp(name, "address") != 0)
		return conf_fail(p, "unknown key '%s' in [listen %s] (it has only address)", name, l->name);
	if (l->address)
		return conf_fail(p, "address is already set in [listen %s]", l->name);
	if (listener_address_check(value, why, sizeof why) < 0)
		return conf_fail(p, "invalid address '%s' in [listen %s]: %s", value, l->name, why);
	for (size_t i = 0; i < p->cfg->bot.n_listeners; i++)
		if (p->cfg->bot.listeners[i].address && strcmp(p->cfg->bot.listeners[i].address, value) == 0)
			return conf_fail(p, "[listen %s]: %s is the address of [listen %s] on line %u", l->name,
					 value, p->cfg->bot.listeners[i].name, p->lline[i]);
	return (l->address = strdup(value)) ? 0 : (p->r = -ENOMEM);
}

/* A section header's name: a fixed section, or "KIND NAME". */
static int conf_section(struct conf_parse *p, const char *name, size_t n)
{
	char buf[256];

	snprintf(buf, sizeof buf, "%.*s", (int)n, name);
	p->cur = -1;
	p->cur_listen = -1;
	if (conf_section_known(buf))
		return 0;
	if (strncmp(buf, "listen", 6) == 0 && (buf[6] == ' ' || !buf[6]))
		return conf_listen_section(p, buf + 6 + (buf[6] == ' '));
	for (int k = 0; k < CONF_BEHAVIOUR_KINDS; k++) {
		const char *kind = conf_behaviour_kind_name((enum conf_behaviour_kind)k);
		size_t kn = strlen(kind);
		if (strncmp(buf, kind, kn) == 0 && (buf[kn] == ' ' || !buf[kn]))
			return conf_behaviour_section(p, (enum conf_behaviour_kind)k, buf + kn + (buf[kn] == ' '));
	}
	return conf_fail(p, "unknown section [%s] (expected [bothost], [limits], [irc], [behaviours], [store], "
			 "[http], [command NAME], [timer NAME], [resident NAME], [route NAME] or [listen NAME])", buf);
}

/* inih's handler: one "name = value" of section. Nonzero to go on. */
static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *p = user;
	const struct conf_key *k;
	size_t i;

	unsigned *seen;

	p->section_has_key = true;
	if (p->r < 0)
		return 0;
	if (!*name)
		return conf_fail(p, "expected 'key = value' (the key is missing)") == 0;
	if (p->cur_listen >= 0)
		return conf_listen_key(p, name, value) == 0;
	if (p->cur >= 0)
		k = conf_key_find(conf_behaviour_kind_name(p->cfg->bot.behaviours[p->cur].kind), name);
	else
		k = *section ? conf_key_find(section, name) : NULL;
	if (!k)
		return conf_fail_unknown_key(p, section, name) == 0;
	i = (size_t)(k - conf_keys);
	seen = p->cur >= 0 ? p->bseen[p->cur] : p->seen;
	if (seen[i] && !conf_kind_repeatable(k->kind))
		return conf_fail(p, "%s is already set on line %u (only server, alt_nick, channel, owner, arg "
				 "and at can be repeated)", name, seen[i]) == 0;
	if (!seen[i])
		seen[i] = p->line;
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
	p->cur = -1;
	end = strchr(s, ']');
	if (!end)
		return 0;	/* inih reports it */
	return conf_section(p, s + 1, (size_t)(end - s - 1));
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

/* The line where key (of behaviour i, or global when i < 0) was given, or 0. */
static unsigned conf_seen(const struct conf_parse *p, long i, const char *section, const char *name)
{
	size_t k = (size_t)(conf_key_find(section, name) - conf_keys);

	return i < 0 ? p->seen[k] : p->bseen[i][k];
}

/* The limit_* keys behaviour i does not give take the values of [behaviours]. */
static void conf_behaviour_inherit(struct conf_parse *p, long i)
{
	struct conf_behaviour *b = &p->cfg->bot.behaviours[i];
	const char *kname = conf_behaviour_kind_name(b->kind);
	const struct conf_key *dflt;

	for (size_t k = 0; k < CONF_NKEYS; k++) {
		const struct conf_key *key = &conf_keys[k];
		if (!key->behaviour || p->bseen[i][k] || strcmp(key->section, kname) != 0 ||
		    !(dflt = conf_key_find("behaviours", key->name)))
			continue;
		*(uint64_t *)((char *)b + key->offset) = *(const uint64_t *)((const char *)p->cfg + dflt->offset);
	}
}


/* A [route NAME]: a path, a method ("*" when not given), no other section's. */
static int conf_check_route(struct conf_parse *p, long i)
{
	struct conf_behaviour *b = &p->cfg->bot.behaviours[i];
	char why[200];

	if (!b->route_path)
		return conf_fail(p, "[route %s] has no path (the path prefix it serves, e.g. path = /hooks)", b->name);
	if (!b->route_method && !(b->route_method = strdup("*")))
		return p->r = -ENOMEM;
	if (!http_route_valid(b->route_method, b->route_path, why, sizeof why))
		return conf_fail(p, "[route %s]: %s", b->name, why);
	for (long j = 0; j < i; j++) {
		const struct conf_behaviour *o = &p->cfg->bot.behaviours[j];
		if (o->kind == CONF_BEHAVIOUR_ROUTE && o->route_path && strcmp(o->route_path, b->route_path) == 0 &&
		    strcmp(o->route_method, b->route_method) == 0)
			return conf_fail(p, "[route %s] serves %s %s like [route %s] on line %u", b->name,
					 b->route_method, b->route_path, o->name, p->bline[j]);
	}
	return 0;
}
/* The checks of one behaviour section that need all of it. */
static int conf_check_behaviour(struct conf_parse *p, long i)
{
	const struct conf_behaviour *b = &p->cfg->bot.behaviours[i];
	const char *kname = conf_behaviour_kind_name(b->kind);
	unsigned l1, l2;
	char a[32], c[32];

	conf_behaviour_inherit(p, i);
	p->line = p->bline[i];
	if (!b->exec)
		return conf_fail(p, "[%s %s] has no exec", kname, b->name);
	if (b->kind == CONF_BEHAVIOUR_TIMER && !b->every_ms && !b->n_at)
		return conf_fail(p, "[%s %s] needs every or at (or both)", kname, b->name);
	l1 = conf_seen(p, i, "command", "channel_only");
	l2 = conf_seen(p, i, "command", "private_ok");
	if (b->kind == CONF_BEHAVIOUR_COMMAND && l1 && l2) {
		p->line = l1 > l2 ? l1 : l2;
		return conf_fail(p, "channel_only and private_ok are the same setting (private_ok is not "
				 "channel_only): give one of them");
	}
	if (b->kind == CONF_BEHAVIOUR_RESIDENT && b->restart_min_ms > b->restart_max_ms) {
		l1 = conf_seen(p, i, "resident", "restart_min");
		l2 = conf_seen(p, i, "resident", "restart_max");
		p->line = l1 > l2 ? l1 : l2;
		conf_format_duration(b->restart_min_ms, a, sizeof a);
		conf_format_duration(b->restart_max_ms, c, sizeof c);
		return conf_fail(p, "restart_min (%s) is greater than restart_max (%s)", a, c);
	}
	if (b->kind == CONF_BEHAVIOUR_ROUTE)
		return conf_check_route(p, i);
	return 0;
}

/* Whether word, claimed by resident i, is also a command's name or claimed by
 * an earlier resident; the error names the later of the two lines. */
static int conf_check_claim(struct conf_parse *p, long i, const char *word)
{
	const struct conf *cfg = p->cfg;
	const struct conf_behaviour *b = &cfg->bot.behaviours[i], *other = conf_behaviour_find(&cfg->bot, word);
	unsigned line = conf_seen(p, i, "resident", "commands"), l2;

	if (other && other->kind == CONF_BEHAVIOUR_COMMAND) {
		p->line = line;
		return conf_fail(p, "[resident %s] claims the command word '%s', which is [command %s] on line %u",
				 b->name, word, other->name, p->bline[other - cfg->bot.behaviours]);
	}
	for (long j = 0; j < i; j++) {
		other = &cfg->bot.behaviours[j];
		if (other->kind != CONF_BEHAVIOUR_RESIDENT || !conf_behaviour_claims(other, word))
			continue;
		l2 = conf_seen(p, j, "resident", "commands");
		p->line = line > l2 ? line : l2;
		return conf_fail(p, "the command word '%s' is claimed by both [resident %s] (line %u) and "
				 "[resident %s] (line %u)", word, other->name, l2, b->name, line);
	}
	return 0;
}

/* The command words residents claim: each by one resident, none a command. */
static int conf_check_claims(struct conf_parse *p)
{
	const struct conf *cfg = p->cfg;

	for (size_t i = 0; i < cfg->bot.n_behaviours; i++)
		for (size_t w = 0; w < cfg->bot.behaviours[i].n_commands; w++)
			if (conf_check_claim(p, (long)i, cfg->bot.behaviours[i].commands[w]) < 0)
				return p->r;
	return 0;
}

/* The line where an [irc] key was given, or 0. */
static unsigned conf_irc_seen(const struct conf_parse *p, const char *name)
{
	return p->seen[conf_key_find("irc", name) - conf_keys];
}

/* Servers written without a scheme use TLS when tls = yes; a server
 * without a port gets 6697 with TLS, 6667 without. */
static int conf_check_servers(struct conf_parse *p)
{
	struct conf_irc *irc = &p->cfg->irc;

	for (size_t i = 0; i < irc->n_servers; i++) {
		struct conf_server *s = &irc->servers[i];
		if (!s->scheme)
			s->tls = irc->tls;
		if (!s->port && !(s->port = strdup(s->tls ? CONF_DEFAULT_TLS_PORT : CONF_DEFAULT_PORT)))
			return p->r = -ENOMEM;
	}
	return 0;
}

/* The later of two lines, 0 (not given) counting for none. */
static unsigned conf_line_of(unsigned a, unsigned b)
{
	return a && b ? (a > b ? a : b) : a ? a : b;
}

/* TLS and SASL keys that only make sense together. */
static int conf_check_tls_sasl(struct conf_parse *p)
{
	struct conf_irc *irc = &p->cfg->irc;
	unsigned mech = conf_irc_seen(p, "sasl_mechanism"), user = conf_irc_seen(p, "sasl_user");
	unsigned pass = conf_irc_seen(p, "sasl_password");

	if (!mech && (irc->sasl_user || irc->sasl_password))
		irc->sasl_mechanism = CONF_SASL_PLAIN;
	p->line = conf_line_of(conf_irc_seen(p, "tls_insecure"), conf_irc_seen(p, "tls_fingerprint"));
	if (irc->tls_insecure && irc->tls_fingerprint)
		return conf_fail(p, "tls_insecure and tls_fingerprint both set: a pinned certificate is "
				 "checked, an insecure one is not (give one of them)");
	p->line = conf_irc_seen(p, "tls_key");
	if (irc->tls_key && !irc->tls_cert)
		return conf_fail(p, "tls_key is set but tls_cert is not (the key belongs to a client certificate)");
	p->line = conf_line_of(mech, conf_line_of(user, pass));
	if (irc->sasl_mechanism == CONF_SASL_NONE && (irc->sasl_user || irc->sasl_password))
		return conf_fail(p, "sasl_user or sasl_password is set but sasl_mechanism is none");
	if (irc->sasl_mechanism == CONF_SASL_PLAIN && (!irc->sasl_user || !irc->sasl_password))
		return conf_fail(p, "SASL PLAIN needs both sasl_user and sasl_password");
	if (irc->sasl_mechanism == CONF_SASL_EXTERNAL && !irc->tls_cert)
		return conf_fail(p, "SASL EXTERNAL needs a client certificate (tls_cert) on a TLS connection");
	return 0;
}

/* clients_per_user, when given, is at most clients_max. */
static int conf_check_clients(struct conf_parse *p)
{
	const struct server_config *l = &p->cfg->limits;
	unsigned lmax = p->seen[conf_key_find("limits", "clients_max") - conf_keys];
	unsigned luser = p->seen[conf_key_find("limits", "clients_per_user") - conf_keys];

	if (!luser || l->clients_per_user <= l->clients_max)
		return 0;
	p->line = luser > lmax ? luser : lmax;
	return conf_fail(p, "clients_per_user (%zu) is greater than clients_max (%zu)", l->clients_per_user,
			 l->clients_max);
}

/* Every [listen NAME] has an address; every listen = NAME names one. */
static int conf_check_listeners(struct conf_parse *p)
{
	const struct behaviours_conf *bc = &p->cfg->bot;

	for (size_t i = 0; i < bc->n_listeners; i++) {
		p->line = p->lline[i];
		if (!bc->listeners[i].address)
			return conf_fail(p, "[listen %s] has no address (HOST:PORT or unix:/path)", bc->listeners[i].name);
	}
	for (size_t i = 0; i < bc->n_behaviours; i++) {
		const struct conf_behaviour *b = &bc->behaviours[i];
		for (size_t j = 0; j < b->n_listen; j++) {
			if (conf_listener_find(bc, b->listen[j]))
				continue;
			p->line = conf_seen(p, (long)i, conf_behaviour_kind_name(b->kind), "listen");
			return conf_fail(p, "[%s %s]: listen %s: there is no [listen %s] section",
					 conf_behaviour_kind_name(b->kind), b->name, b->listen[j], b->listen[j]);
		}
	}
	return 0;
}

/* The checks that need the whole file: nick with servers, backoff order,
 * TLS and SASL settings, complete behaviour sections, command words claimed
 * once. */
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
	if (conf_check_servers(p) < 0 || conf_check_tls_sasl(p) < 0 || conf_check_clients(p) < 0)
		return p->r;
	for (size_t i = 0; i < p->cfg->bot.n_behaviours; i++)
		if (conf_check_behaviour(p, (long)i) < 0)
			return p->r;
	if (conf_check_listeners(p) < 0)
		return p->r;
	return conf_check_claims(p);
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
	struct conf_parse p = { .cfg = cfg, .path = path, .cur = -1, .cur_listen = -1 };
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
	/* The behaviours layer makes each behaviour's directory in it. */
	if (r == 0 && !(cfg->bot.state_dir = strdup(cfg->state_dir)))
		r = -ENOMEM;
	if (r < 0 && !*ret_error) {
		*ret_error = p.error;
		p.error = NULL;
	}
out:
	free(p.error);
	free(p.text);
	free(p.bseen);
	free(p.bline);
	free(p.lline);
	isupport_free(p.is);
	if (r < 0)
		conf_clear(cfg);
	return r;
}

/* ---- comparing ------------------------------------------------------------- */

/* The servers as "host:port, [v6]:port, ircs://host:port". */
static void conf_format_servers(const struct conf_irc *irc, FILE *f)
{
	for (size_t i = 0; i < irc->n_servers; i++) {
		const struct conf_server *s = &irc->servers[i];
		bool v6 = strchr(s->host, ':') != NULL;
		fprintf(f, "%s%s%s%s%s:%s", i ? ", " : "", s->tls ? "ircs://" : "", v6 ? "[" : "", s->host,
			v6 ? "]" : "", s->port);
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
	case CONF_DIR:
	case CONF_NICK:
	case CONF_USER:
	case CONF_TEXT:
	case CONF_FILE:
	case CONF_FINGERPRINT: fputs(*s ? *s : "(none)", f); break;
	case CONF_PASSWORD:
	case CONF_SECRET: fputs(!*s ? "(none)" : reveal ? *s : "(set)", f); break;
	case CONF_SASL_MECH: fputs((const char *[]){ "none", "plain", "external" }
				   [*(const enum conf_sasl *)field], f); break;
	case CONF_ENCODING: fputs((const char *[]){ "cp1252", "latin1", "none" }
				  [*(const enum conf_encoding *)field], f); break;
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
	case CONF_PREFIX: fputs(*s ? *s : "(none)", f); break;
	case CONF_OWNER:
		for (size_t i = 0; i < cfg->bot.n_owners; i++)
			fprintf(f, "%s%s", i ? ", " : "", cfg->bot.owners[i]);
		break;
	case CONF_RATE:
		conf_format_duration(((const struct conf_rate *)field)->window_ms, d, sizeof d);
		fprintf(f, "%u/%s", ((const struct conf_rate *)field)->count, d);
		break;
	case CONF_ALLOW_USER:
		for (size_t i = 0; i < cfg->n_allow_uids; i++)
			fprintf(f, "%s%lu", i ? ", " : "", (unsigned long)cfg->allow_uids[i]);
		break;
	case CONF_ALLOW_GROUP:
		for (size_t i = 0; i < cfg->n_allow_gids; i++)
			fprintf(f, "%s%lu", i ? ", " : "", (unsigned long)cfg->allow_gids[i]);
		break;
	case CONF_LISTEN:
		for (size_t i = 0; i < cfg->http.n_listen; i++)
			fprintf(f, "%s%s", i ? ", " : "", cfg->http.listen[i]);
		break;
	case CONF_LIMIT_SIZE:
	case CONF_LIMIT_COUNT:
	case CONF_LIMIT_CPU:
		conf_format_limit(k->kind, *(const uint64_t *)field, d, sizeof d);
		fputs(d, f);
		break;
	case CONF_EXEC:
	case CONF_ARG:
	case CONF_AT:
	case CONF_NOT_BOOL:
	case CONF_WORDS:
	case CONF_NAMES:
	case CONF_LISTENERS:
		break;		/* keys of behaviour sections, compared section by section */
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

/* Report "[KIND NAME] what"; 1, or -ENOMEM. */
static int conf_compare_report(const struct conf_behaviour *b, const char *what, conf_change_fn fn,
			       void *userdata)
{
	char *line;

	if (asprintf(&line, "[%s %s] %s", conf_behaviour_kind_name(b->kind), b->name, what) < 0)
		return -ENOMEM;
	fn(line, userdata);
	free(line);
	return 1;
}

/* Report the behaviour sections removed, then those added or changed. */
static int conf_compare_behaviours(const struct conf *old, const struct conf *cur, conf_change_fn fn,
				   void *userdata)
{
	int n = 0, r = 0;

	for (size_t i = 0; i < old->bot.n_behaviours && r >= 0; i++) {
		const struct conf_behaviour *a = &old->bot.behaviours[i], *b = conf_behaviour_find(&cur->bot, a->name);
		if (!b || b->kind != a->kind || strcmp(a->name, b->name) != 0)
			n += r = conf_compare_report(a, "removed", fn, userdata);
	}
	for (size_t i = 0; i < cur->bot.n_behaviours && r >= 0; i++) {
		const struct conf_behaviour *b = &cur->bot.behaviours[i], *a = conf_behaviour_find(&old->bot, b->name);
		if (!a || b->kind != a->kind || strcmp(a->name, b->name) != 0)
			n += r = conf_compare_report(b, "added", fn, userdata);
		else if (!conf_behaviour_equal(a, b))
			n += r = conf_compare_report(b, "changed", fn, userdata);
	}
	return r < 0 ? r : n;
}

/* Report "[listen NAME] what"; 1, or -ENOMEM. */
static int conf_compare_listener(const struct conf_listener *l, const char *what, conf_change_fn fn,
				 void *userdata)
{
	char *line;

	if (asprintf(&line, "[listen %s] %s", l->name, what) < 0)
		return -ENOMEM;
	fn(line, userdata);
	free(line);
	return 1;
}

/* Report the [listen NAME] sections removed, then those added or changed. */
static int conf_compare_listeners(const struct conf *old, const struct conf *cur, conf_change_fn fn,
				  void *userdata)
{
	int n = 0, r = 0;
	char *what = NULL;

	for (size_t i = 0; i < old->bot.n_listeners && r >= 0; i++)
		if (!conf_listener_find(&cur->bot, old->bot.listeners[i].name))
			n += r = conf_compare_listener(&old->bot.listeners[i], "removed", fn, userdata);
	for (size_t i = 0; i < cur->bot.n_listeners && r >= 0; i++) {
		const struct conf_listener *b = &cur->bot.listeners[i], *a = conf_listener_find(&old->bot, b->name);
		if (!a)
			n += r = conf_compare_listener(b, "added", fn, userdata);
		else if (strcmp(a->address, b->address) != 0) {
			if (asprintf(&what, "address: %s -> %s", a->address, b->address) < 0)
				return -ENOMEM;
			n += r = conf_compare_listener(b, what, fn, userdata);
			free(what);
		}
	}
	return r < 0 ? r : n;
}

/* Call fn with a description of each key whose value differs, then of each
 * behaviour section that differs. */
int conf_compare(const struct conf *old, const struct conf *cur, conf_change_fn fn, void *userdata)
{
	int n = 0, r;

	for (size_t i = 0; i < CONF_NKEYS; i++) {
		if (conf_keys[i].behaviour)
			continue;
		r = conf_compare_key(old, cur, &conf_keys[i], fn, userdata);
		if (r < 0)
			return r;
		n += r;
	}
	r = conf_compare_behaviours(old, cur, fn, userdata);
	if (r < 0)
		return r;
	n += r;
	r = conf_compare_listeners(old, cur, fn, userdata);
	return r < 0 ? r : n + r;
}
