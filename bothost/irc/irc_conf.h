/* SPDX-License-Identifier: ISC */
/* The [irc] section of the configuration, as the IRC layer sees it (the
 * configuration file, bothost/conf.c, reads it), and the irc object's own
 * copies of it: deep copies, so the object and its link never point into a
 * configuration that main.c frees or replaces. */
#ifndef BOTHOST_IRC_CONF_H
#define BOTHOST_IRC_CONF_H

#include <stdbool.h>
#include <stddef.h>

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

/* How bytes of IRC text that are not valid UTF-8 are read (irc_text_decode). */
enum conf_encoding {
	CONF_ENCODING_CP1252,	/* Windows-1252, the default */
	CONF_ENCODING_LATIN1,	/* ISO 8859-1 */
	CONF_ENCODING_NONE,	/* no fallback: U+FFFD for each such byte */
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
	unsigned refusal_wait_ms;	/* mode, kick, topic, invite, part wait this long
					 * for the server's refusal (2 s; 0: not at all) */

	/* Output pacing: a token bucket. */
	unsigned burst;			/* lines sent at once (5) */
	unsigned line_interval_ms;	/* then one line per interval (1000 ms) */
	unsigned queue_max;		/* lines waiting (300) */
	unsigned queue_max_age_ms;	/* while disconnected (300 s) */

	enum conf_encoding encoding_fallback;	/* bytes of IRC text that are not UTF-8 (cp1252) */

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


/* Fill dst (overwritten) with a deep copy of src: 0 or -ENOMEM (dst is then
 * left empty). */
int irc_conf_copy(struct conf_irc *dst, const struct conf_irc *src);
/* Free what a copy holds and zero it. */
void irc_conf_clear(struct conf_irc *c);
/* Replace the nick of a copy: 0 or -ENOMEM (then it is unchanged). */
int irc_conf_set_nick(struct conf_irc *c, const char *nick);
/* Whether the configuration lists channel (compared exactly as written). */
bool irc_conf_has_channel(const struct conf_irc *c, const char *channel);

#endif
