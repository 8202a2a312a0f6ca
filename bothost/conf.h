/* SPDX-License-Identifier: ISC */
/* The configuration file (INI, read with inih): its schema, defaults and
 * checks. Every error names the file, the line and the problem. The reference
 * is docs/CONFIG.md; an annotated example is bothost.conf.example. */
#ifndef BOTHOST_CONF_H
#define BOTHOST_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/log.h"
#include "core/server.h"
#include "irc/irc_conf.h"
#include "behaviours/behaviour_conf.h"
#include "store/store.h"
#include "http/http_conf.h"

struct conf {
	char *path;			/* the file it came from, or NULL */
	char *socket_path;		/* NULL: the default path */
	enum log_level log_level;
	bool loopback;
	uid_t *allow_uids;		/* allow_user: uids served besides root and the host's */
	size_t n_allow_uids;
	gid_t *allow_gids;		/* allow_group: gids whose members are served */
	size_t n_allow_gids;
	struct server_config limits;
	struct spawn_limits behaviour_limits;	/* [behaviours]: the limit_* defaults of every behaviour */
	struct conf_irc irc;		/* [irc], the irc layer's */
	struct behaviours_conf bot;	/* the behaviours layer's */
	char *state_dir;		/* [bothost] state_dir: /var/lib/bothost for root, else
				 * $XDG_STATE_HOME/bothost (~/.local/state/bothost) */
	struct store_conf store;	/* [store], the store layer's */
	struct http_conf http;		/* [http], the http layer's */
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

/* Receives one change: "[limits] frame_max: 1048576 -> 65536", or
 * "[irc] password changed" for values not shown. */
typedef void (*conf_change_fn)(const char *change, void *userdata);
/* Call fn for each key whose value differs between old and cur, in schema
 * order, then for each behaviour section removed ("[timer tick] removed"),
 * added or changed; a password and channel keys are not shown. Returns the
 * number of changes or -ENOMEM. */
int conf_compare(const struct conf *old, const struct conf *cur, conf_change_fn fn, void *userdata);

#endif
