/* The configuration file (INI, read with inih): its schema, defaults and
 * checks. Every error names the file, the line and the problem. The reference
 * is docs/CONFIG.md; an annotated example is bothost.conf.example. */
#ifndef BOTHOST_CONF_H
#define BOTHOST_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "log.h"
#include "server.h"
#include "spawn.h"

/* One IRC server: "host", "host:port", "[v6addr]:port", each optionally
 * after "irc://" (plain) or "ircs://" (TLS). */
struct conf_server {
	char *host;
	char *port;		/* a decimal port, default "6697" with TLS, else "6667" */
	bool tls;		/* ircs://, or no scheme and tls = yes */
	bool scheme;		/* written with irc:// or ircs:// (then tls = does not apply) */
};

/* The SASL mechanism to log in with. */
enum conf_sasl {
	CONF_SASL_NONE,
	CONF_SASL_PLAIN,	/* sasl_user and sasl_password */
	CONF_SASL_EXTERNAL,	/* the TLS client certificate (tls_cert) */
};

/* A channel to be in, with its key (NULL for none). */
struct conf_channel {
	char *name;
	char *key;
};

struct conf_irc {
	struct conf_server *servers;	/* in rotation order; none: no IRC */
	size_t n_servers;
	char *nick;
	char **alt_nicks;		/* tried in order when nick is taken */
	size_t n_alt_nicks;
	char *username;			/* default "bothost" */
	char *realname;			/* default "bothost" */
	char *password;			/* server password (PASS), or NULL */
	struct conf_channel *channels;
	size_t n_channels;

	/* Times in milliseconds. */
	unsigned connect_timeout_ms;	/* TCP connect, per address (30 s) */
	unsigned register_timeout_ms;	/* connect to 001 (60 s) */
	unsigned ping_idle_ms;		/* silence before the bot sends PING (90 s) */
	unsigned ping_timeout_ms;	/* then silence before it reconnects (90 s) */
	unsigned reconnect_min_ms;	/* first backoff (10 s) */
	unsigned reconnect_max_ms;	/* backoff cap (300 s) */
	unsigned stable_after_ms;	/* connected this long: backoff resets (300 s) */
	unsigned join_retry_ms;		/* retry failed joins (60 s) */
	unsigned regain_nick_ms;	/* try to get the wanted nick back (60 s) */
	bool rejoin_on_kick;		/* (yes) */
	unsigned rejoin_delay_ms;	/* after a kick (5 s) */

	/* Output pacing: a token bucket. */
	unsigned burst;			/* lines sent at once (5) */
	unsigned line_interval_ms;	/* then one line per interval (1000 ms) */
	unsigned queue_max;		/* lines waiting (300) */
	unsigned queue_max_age_ms;	/* while disconnected (300 s) */

	char *ctcp_version;		/* answer to CTCP VERSION (default "bothost VERSION") */
	unsigned ctcp_per_minute;	/* CTCP replies per minute at most (6) */

	/* TLS, for the servers that use it. */
	bool tls;			/* servers without a scheme use TLS (no) */
	bool tls_insecure;		/* accept any certificate: tests only (no) */
	char *tls_fingerprint;		/* a SHA-256 pin as written, or NULL */
	char *tls_ca_file;		/* CA certificates (PEM); NULL: the system's */
	char *tls_cert;			/* client certificate (PEM), or NULL */
	char *tls_key;			/* its key (PEM); NULL: inside tls_cert */

	/* IRCv3 capabilities and SASL. */
	enum conf_sasl sasl_mechanism;	/* (none; plain when sasl_user is given) */
	char *sasl_user;
	char *sasl_password;
	bool sasl_required;		/* a failed SASL drops the connection (yes) */
	unsigned cap_timeout_ms;	/* wait for each CAP answer (15 s) */
	unsigned sasl_timeout_ms;	/* wait for the SASL outcome (15 s) */
};

/* What starts a behaviour's process: a command typed on IRC, a timer, or
 * the host itself, which keeps a resident running. */
enum conf_behaviour_kind {
	CONF_BEHAVIOUR_COMMAND,
	CONF_BEHAVIOUR_TIMER,
	CONF_BEHAVIOUR_RESIDENT,
};

/* A [command NAME], [timer NAME] or [resident NAME] section. */
struct conf_behaviour {
	enum conf_behaviour_kind kind;
	char *name;
	char *exec;			/* an absolute path (a relative one is resolved
					 * against the file's directory) */
	char **args;			/* fixed arguments, before the user's */
	size_t n_args;
	unsigned timeout_ms;		/* commands and timers (30 s); 0: none */
	bool privileged;		/* may call privileged methods (no) */
	struct spawn_limits limits;	/* limit_* keys; those not given come from [behaviours] */

	/* [command NAME] */
	unsigned max_running;		/* its processes at once (2) */
	bool private_ok;		/* usable in a private message (yes); channel_only = yes: no */
	bool owner_only;		/* (no) */
	char *help;			/* the text of !help NAME (commands, residents), or NULL */

	/* [timer NAME] */
	unsigned every_ms;		/* 0: none */
	unsigned *at;			/* daily, in minutes after local midnight */
	size_t n_at;

	/* [resident NAME] */
	unsigned restart_min_ms;	/* first wait before a restart (1 s) */
	unsigned restart_max_ms;	/* longest wait (5 min) */
	bool watch;			/* restart when the executable changes on disk (no) */
	char **commands;		/* command words it answers itself: the host
					 * neither answers nor runs anything for them */
	size_t n_commands;
};

/* At most count in window_ms. */
struct conf_rate {
	unsigned count;
	unsigned window_ms;
};

struct conf {
	char *path;			/* the file it came from, or NULL */
	char *socket_path;		/* NULL: the default path */
	enum log_level log_level;
	bool loopback;
	char *command_prefix;		/* before a command's name on IRC ("!") */
	char **owners;			/* "nick!user@host" globs and "account:NAME" */
	size_t n_owners;
	uid_t *allow_uids;		/* allow_user: uids served besides root and the host's */
	size_t n_allow_uids;
	gid_t *allow_gids;		/* allow_group: gids whose members are served */
	size_t n_allow_gids;
	unsigned max_processes;		/* behaviour processes at once (32) */
	struct conf_rate user_commands;	/* commands per user (12 per minute) */
	unsigned user_ignore_ms;	/* how long a user over the rate is ignored (5 min) */
	struct server_config limits;
	struct spawn_limits behaviour_limits;	/* [behaviours]: the limit_* defaults of every behaviour */
	struct conf_irc irc;
	struct conf_behaviour *behaviours;	/* in the order of the file */
	size_t n_behaviours;
};

/* Fill cfg with the defaults (no IRC server). 0 or -ENOMEM. */
int conf_init(struct conf *cfg);
/* Free what cfg holds and zero it (clearing twice is harmless). */
void conf_clear(struct conf *cfg);

/* Read path over the defaults into cfg (which needs no conf_init first).
 * On error returns -EINVAL (or -ENOENT, -EACCES, -ENOMEM...) and sets
 * *ret_error to a message "PATH:LINE: problem", or "PATH: cannot read: why"
 * (allocated, the caller frees; NULL only when memory ran out); cfg is then
 * cleared. */
int conf_load(struct conf *cfg, const char *path, char **ret_error);

/* Parse a duration "250ms", "30s", "5m", "2h", "1d" or a bare number of
 * seconds into milliseconds. 0, -EINVAL (not a duration) or -ERANGE (more
 * milliseconds than an unsigned holds). */
int conf_parse_duration(const char *s, unsigned *ret_ms);

/* "command", "timer" or "resident". */
const char *conf_behaviour_kind_name(enum conf_behaviour_kind kind);
/* The section named name, or NULL. */
const struct conf_behaviour *conf_behaviour_find(const struct conf *cfg, const char *name);
/* A deep copy of src into dst: 0 or -ENOMEM (dst is then cleared). */
int conf_behaviour_copy(struct conf_behaviour *dst, const struct conf_behaviour *src);
/* Free what b holds and zero it. */
void conf_behaviour_clear(struct conf_behaviour *b);
/* Whether two sections say the same (kind, name and every key). */
bool conf_behaviour_equal(const struct conf_behaviour *a, const struct conf_behaviour *b);
/* Whether b (a resident) claims the command word (compared ignoring ASCII case). */
bool conf_behaviour_claims(const struct conf_behaviour *b, const char *word);

/* Receives one change: "[limits] frame_max: 1048576 -> 65536", or
 * "[irc] password changed" for values not shown. */
typedef void (*conf_change_fn)(const char *change, void *userdata);
/* Call fn for each key whose value differs between old and cur, in schema
 * order, then for each behaviour section removed ("[timer tick] removed"),
 * added or changed; a password and channel keys are not shown. Returns the
 * number of changes or -ENOMEM. */
int conf_compare(const struct conf *old, const struct conf *cur, conf_change_fn fn, void *userdata);

#endif
