/* SPDX-License-Identifier: ISC */
/* bothost: options, the configuration file, signals and the event loop. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <ev.h>

#include "behaviours/behaviour.h"
#include "behaviours/bot_object.h"
#include "behaviours/commands.h"
#include "behaviours/listeners.h"
#include "conf.h"
#include "irc/irc.h"
#include "http/http.h"
#include "core/later.h"
#include "core/call.h"
#include "core/errors.h"
#include "core/fn.h"
#include "core/log.h"
#include "core/loopback.h"
#include "core/host_object.h"
#include "core/object.h"
#include "core/server.h"
#include "core/value.h"
#include "behaviours/spawn.h"
#include "store/store.h"

struct options {
	struct server_config limits;	/* the limits given on the command line */
	unsigned given;			/* OPT_GIVEN(opt) for each option given */
	const char *config_path;
	const char *socket_path;
	int fd;
	enum log_level level;
};

/* The running daemon. */
struct bothost {
	struct options opts;
	struct conf conf;		/* in force: the file's values under the command line's */
	struct later_queue *later;	/* attached to the default loop */
	struct server *server;
	struct store *store;		/* with a configuration file; owned by the server */
	struct http *http;		/* with [http] listen addresses */
	ev_signal sigint, sigterm, sighup;
};

/* Print the options. */
static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bothost [OPTION]...\n"
		"Host objects (the IRC client, host, loopback) for behaviours that connect over a Unix socket.\n"
		"\n"
		"  -c, --config FILE    read the configuration file FILE (see docs/CONFIG.md); the\n"
		"                       options below override its values; SIGHUP reads it again\n"
		"  --socket PATH        listen on PATH (default $XDG_RUNTIME_DIR/bothost/bothost.sock,\n"
		"                       else /run/bothost/bothost.sock)\n"
		"  --fd N               serve the connected socket N; without --socket (or socket in\n"
		"                       the configuration file), serve only it and exit when it closes\n"
		"  --loopback           host the loopback test object\n"
		"  --frame-max N        longest frame accepted, in bytes (default 1048576)\n"
		"  --output-max N       bytes queued to one client before it is cut off (default 4194304)\n"
		"  --tokens-max N       function tokens per client, imports plus exports (default 4096)\n"
		"  --handlers-max N     event registrations per client (default 1024)\n"
		"  --pending-max N      requests of one client awaiting an answer (default 4096)\n"
		"  --clients-max N      connected clients (default 4096)\n"
		"  --clients-per-user N connected clients of one uid other than bothost's (default 64;\n"
		"                       at most clients-max counts)\n"
		"  --call-timeout MS    deadline of the host's calls to client functions, 0 for none\n"
		"                       (default 30000)\n"
		"  --fds-per-frame N    descriptors one frame may carry (default 16, at most 253)\n"
		"  --fds-max N          descriptors queued per client each way (default 64, at most 253)\n"
		"  --log-level LEVEL    error, warn, info or debug (default info)\n"
		"  --help               show this help\n"
		"  --version            show the version\n"
		"\n"
		"Signals: SIGINT and SIGTERM stop bothost; SIGHUP re-reads the configuration file\n"
		"(an invalid file is refused and the configuration in force stays).\n");
}

/* A positive size option. */
static int parse_size(const char *name, const char *arg, size_t min, size_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);

	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > SIZE_MAX / 2) {
		fprintf(stderr, "bothost: invalid value for --%s: '%s'\n", name, arg);
		return -EINVAL;
	}
	*ret = (size_t)v;
	return 0;
}

enum {
	OPT_SOCKET = 256, OPT_FD, OPT_LOOPBACK, OPT_FRAME_MAX, OPT_OUTPUT_MAX, OPT_TOKENS_MAX,
	OPT_HANDLERS_MAX, OPT_PENDING_MAX, OPT_CLIENTS_MAX, OPT_CLIENTS_PER_USER, OPT_CALL_TIMEOUT,
	OPT_FDS_PER_FRAME, OPT_FDS_MAX, OPT_LOG_LEVEL,
	OPT_HELP, OPT_VERSION,
};

/* The bit of struct options' given for an option from OPT_SOCKET to OPT_LOG_LEVEL. */
#define OPT_GIVEN(opt) (1u << ((opt) - OPT_SOCKET))

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "loopback", no_argument, NULL, OPT_LOOPBACK },
	{ "frame-max", required_argument, NULL, OPT_FRAME_MAX },
	{ "output-max", required_argument, NULL, OPT_OUTPUT_MAX },
	{ "tokens-max", required_argument, NULL, OPT_TOKENS_MAX },
	{ "handlers-max", required_argument, NULL, OPT_HANDLERS_MAX },
	{ "pending-max", required_argument, NULL, OPT_PENDING_MAX },
	{ "clients-max", required_argument, NULL, OPT_CLIENTS_MAX },
	{ "clients-per-user", required_argument, NULL, OPT_CLIENTS_PER_USER },
	{ "call-timeout", required_argument, NULL, OPT_CALL_TIMEOUT },
	{ "fds-per-frame", required_argument, NULL, OPT_FDS_PER_FRAME },
	{ "fds-max", required_argument, NULL, OPT_FDS_MAX },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ 0 },
};

/* Record one option: 0, 1 to exit successfully, or -EINVAL. */
static int parse_option(struct options *o, int opt, const char *arg)
{
	size_t v;
	int r = 0;

	switch (opt) {
	case 'c': o->config_path = arg; break;
	case OPT_SOCKET: o->socket_path = arg; break;
	case OPT_FD:
		if ((r = parse_size("fd", arg, 0, &v)) == 0 && v > INT_MAX)
			r = -EINVAL;
		o->fd = (int)v;
		break;
	case OPT_LOOPBACK: break;
	case OPT_FRAME_MAX: r = parse_size("frame-max", arg, 64, &o->limits.frame_max); break;
	case OPT_OUTPUT_MAX: r = parse_size("output-max", arg, 1, &o->limits.output_max); break;
	case OPT_TOKENS_MAX: r = parse_size("tokens-max", arg, 1, &o->limits.tokens_max); break;
	case OPT_HANDLERS_MAX: r = parse_size("handlers-max", arg, 1, &o->limits.handlers_max); break;
	case OPT_PENDING_MAX: r = parse_size("pending-max", arg, 1, &o->limits.pending_max); break;
	case OPT_CLIENTS_MAX: r = parse_size("clients-max", arg, 1, &o->limits.clients_max); break;
	case OPT_CLIENTS_PER_USER:
		r = parse_size("clients-per-user", arg, 1, &o->limits.clients_per_user);
		break;
	case OPT_CALL_TIMEOUT:
		if ((r = parse_size("call-timeout", arg, 0, &v)) == 0 && v > UINT_MAX)
			r = -EINVAL;
		o->limits.call_timeout_ms = (unsigned)v;
		break;
	case OPT_FDS_PER_FRAME:
		if ((r = parse_size("fds-per-frame", arg, 0, &o->limits.fds_per_frame)) == 0 &&
		    o->limits.fds_per_frame > 253) {
			fprintf(stderr, "bothost: --fds-per-frame is at most 253\n");
			r = -EINVAL;
		}
		break;
	case OPT_FDS_MAX:
		if ((r = parse_size("fds-max", arg, 0, &o->limits.fds_max)) == 0 && o->limits.fds_max > 253) {
			fprintf(stderr, "bothost: --fds-max is at most 253\n");
			r = -EINVAL;
		}
		break;
	case OPT_LOG_LEVEL:
		r = log_level_from_string(arg, &o->level);
		if (r < 0)
			fprintf(stderr, "bothost: invalid log level '%s' (error, warn, info or debug)\n", arg);
		break;
	case OPT_HELP: usage(stdout); return 1;
	case OPT_VERSION: printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 1;
	default: usage(stderr); return -EINVAL;
	}
	if (opt >= OPT_SOCKET && opt <= OPT_LOG_LEVEL)
		o->given |= OPT_GIVEN(opt);
	return r;
}

/* Parse the command line: 0 to run, 1 to exit successfully, -EINVAL. */
static int parse_options(struct options *o, int argc, char **argv)
{
	int opt, r;

	memset(o, 0, sizeof *o);
	server_config_init(&o->limits);
	o->fd = -1;
	o->level = LOG_LEVEL_INFO;
	while ((opt = getopt_long(argc, argv, "c:", long_options, NULL)) != -1)
		if ((r = parse_option(o, opt, optarg)) != 0)
			return r;
	if (optind < argc) {
		fprintf(stderr, "bothost: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Put the limits given on the command line over those of cfg. */
static void options_apply_limits(const struct options *o, struct server_config *cfg)
{
	const struct server_config *l = &o->limits;

	if (o->given & OPT_GIVEN(OPT_FRAME_MAX))
		cfg->frame_max = l->frame_max;
	if (o->given & OPT_GIVEN(OPT_OUTPUT_MAX))
		cfg->output_max = l->output_max;
	if (o->given & OPT_GIVEN(OPT_TOKENS_MAX))
		cfg->tokens_max = l->tokens_max;
	if (o->given & OPT_GIVEN(OPT_HANDLERS_MAX))
		cfg->handlers_max = l->handlers_max;
	if (o->given & OPT_GIVEN(OPT_PENDING_MAX))
		cfg->pending_max = l->pending_max;
	if (o->given & OPT_GIVEN(OPT_CLIENTS_MAX))
		cfg->clients_max = l->clients_max;
	if (o->given & OPT_GIVEN(OPT_CLIENTS_PER_USER))
		cfg->clients_per_user = l->clients_per_user;
	if (o->given & OPT_GIVEN(OPT_CALL_TIMEOUT))
		cfg->call_timeout_ms = l->call_timeout_ms;
	if (o->given & OPT_GIVEN(OPT_FDS_PER_FRAME))
		cfg->fds_per_frame = l->fds_per_frame;
	if (o->given & OPT_GIVEN(OPT_FDS_MAX))
		cfg->fds_max = l->fds_max;
}

/* Put the command line over the configuration. 0 or -ENOMEM. */
static int options_apply(const struct options *o, struct conf *cfg)
{
	char *path;

	options_apply_limits(o, &cfg->limits);
	if (o->given & OPT_GIVEN(OPT_LOOPBACK))
		cfg->loopback = true;
	if (o->given & OPT_GIVEN(OPT_LOG_LEVEL))
		cfg->log_level = o->level;
	if (o->socket_path) {
		if (!(path = strdup(o->socket_path)))
			return -ENOMEM;
		free(cfg->socket_path);
		cfg->socket_path = path;
	}
	return 0;
}

/* The configuration file (or the defaults) under the command line. On
 * failure *ret_error may say why (the caller frees). */
static int config_build(const struct options *o, struct conf *cfg, char **ret_error)
{
	int r;

	*ret_error = NULL;
	r = o->config_path ? conf_load(cfg, o->config_path, ret_error) : conf_init(cfg);
	if (r < 0)
		return r;
	r = options_apply(o, cfg);
	if (r < 0)
		conf_clear(cfg);
	return r;
}

/* Allow as many descriptors as the hard limit does. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the descriptor limit: %s", strerror(errno));
	}
}

/* Warn when the configuration file holds a password and someone other than
 * the bot may read it: others, or a group that is not the bot's own (root
 * and the bot's group, as Debian's README recommends with 0640
 * root:bothost, is fine). */
static void config_check_mode(const struct conf *cfg)
{
	struct stat st;

	if (!cfg->path || (!cfg->irc.password && !cfg->irc.sasl_password) || stat(cfg->path, &st) < 0)
		return;
	if (st.st_mode & S_IROTH)
		log_warn("%s holds a password and is readable by others (mode %04o): chmod o-r it", cfg->path,
			 (unsigned)(st.st_mode & 07777));
	else if ((st.st_mode & S_IRGRP) && st.st_gid != getegid())
		log_warn("%s holds a password and is readable by group %ld, not the bot's own (mode %04o): "
			 "chmod 600 it, or chgrp it to the bot's group", cfg->path, (long)st.st_gid,
			 (unsigned)(st.st_mode & 07777));
}

/* Keep orphaned descendants of behaviours as the host's descendants: they
 * are reparented to it (and reaped by the loop), not to init. */
static void become_subreaper(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper: %s; orphaned processes of behaviours may be "
			 "privileged on the host's socket", strerror(errno));
}

/* SIGINT / SIGTERM: leave the loop; cleanup follows. */
static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* Log one difference between the configuration in force and the new one,
 * and add it to the array userdata (if any). */
static void reload_change_cb(const char *change, void *userdata)
{
	log_info("configuration: %s", change);
	if (userdata)
		cJSON_AddItemToArray(userdata, cJSON_CreateString(change));
}

static void routes_wire(struct bothost *b, const struct behaviours_conf *cfg);

/* Apply a new configuration: log what changed (and add it to changes, if
 * given), take the limits, the log level and the behaviours at once; the
 * socket and the loopback object stay until a restart. */
static void reload_apply(struct bothost *b, struct conf *next, cJSON *changes)
{
	const char *old_socket = b->conf.socket_path ? b->conf.socket_path : "(default)";
	const char *new_socket = next->socket_path ? next->socket_path : "(default)";
	int n = conf_compare(&b->conf, next, reload_change_cb, changes);

	if (n == 0)
		log_info("configuration: nothing changed");
	if (strcmp(old_socket, new_socket) != 0)
		log_warn("configuration: the socket stays %s until bothost restarts", old_socket);
	if (b->conf.loopback != next->loopback)
		log_warn("configuration: the loopback object stays %s until bothost restarts",
			 b->conf.loopback ? "present" : "absent");
	/* What stays as it is keeps its value, so the next reload compares
	 * the file with what is really in force. */
	free(next->socket_path);
	next->socket_path = b->conf.socket_path;
	b->conf.socket_path = NULL;
	next->loopback = b->conf.loopback;
	server_set_config(b->server, &next->limits);
	if (server_set_allowed(b->server, next->allow_uids, next->n_allow_uids, next->allow_gids,
			       next->n_allow_gids) < 0)
		log_error("configuration: out of memory: the allowed users stay as they were");
	log_set_level(next->log_level);
	conf_clear(&b->conf);
	b->conf = *next;
	if (behaviours_server())
		listeners_commit(&b->conf.bot);
	if (behaviours_server() && (commands_configure(&b->conf.bot) < 0 || behaviours_configure(&b->conf.bot) < 0))
		log_error("configuration: out of memory: the behaviours may not follow every change");
	if (behaviours_server())
		listeners_restart_moved();
	if (b->store && store_configure(b->store, &b->conf.store, b->conf.state_dir) < 0)
		log_error("configuration: out of memory: the store keeps its settings");
	if (b->http && http_reconfigure(b->http, &b->conf.http) < 0)
		log_error("configuration: out of memory: the HTTP server keeps its settings");
	if (!b->http && b->conf.http.n_listen)
		log_warn("configuration: the HTTP server starts when bothost restarts");
	routes_wire(b, &b->conf.bot);
}

/* Bring the IRC client of s in line with next: start, reconfigure or stop
 * it. 0, or -errno when it stays as it was. */
static int reload_irc(struct server *s, const struct conf *old, const struct conf *next)
{
	if (next->irc.n_servers == 0) {
		if (old->irc.n_servers) {
			log_info("configuration: no IRC server any more: stopping the IRC client");
			commands_irc_detach();
			irc_stop("configuration changed");
		}
		return 0;
	}
	if (old->irc.n_servers == 0) {
		log_info("configuration: starting the IRC client");
		int r = irc_start(s, &next->irc);
		if (r == 0)
			commands_irc_attach();
		return r;
	}
	return irc_reconfigure(&next->irc);
}

/* Read the configuration file again and apply it; an invalid one changes
 * nothing. 0 (the changes appended to the array changes, if given), or
 * -errno with *ret_error (allocated, may be NULL) saying why. */
static int reload(struct bothost *b, char **ret_error, cJSON *changes)
{
	struct conf next;
	int r;

	*ret_error = NULL;
	if (!b->opts.config_path)
		return -ENOSYS;
	r = config_build(&b->opts, &next, ret_error);
	if (r < 0) {
		log_error("%s; the configuration in force stays", *ret_error ? *ret_error : strerror(-r));
		return r;
	}
	config_check_mode(&next);
	if (behaviours_server() && (r = listeners_prepare(&next.bot, ret_error)) < 0) {
		log_error("%s: cannot listen: %s; the configuration in force stays", b->opts.config_path,
			  *ret_error ? *ret_error : strerror(-r));
		conf_clear(&next);
		return r;
	}
	r = reload_irc(b->server, &b->conf, &next);
	if (r < 0) {
		if (behaviours_server())
			listeners_commit(&b->conf.bot);	/* close what the new file opened */
		if (asprintf(ret_error, "%s: the IRC client cannot take the [irc] settings (%s)",
			     b->opts.config_path, strerror(-r)) < 0)
			*ret_error = NULL;
		log_error("%s; the configuration in force stays", *ret_error ? *ret_error : strerror(-r));
		conf_clear(&next);
		return r;
	}
	reload_apply(b, &next, changes);
	return 0;
}

/* bot.reload() and !reload. */
static int reload_behaviours_cb(char **ret_error, cJSON *changes, void *userdata)
{
	struct bothost *b = userdata;

	log_info("reload asked for: reading %s", b->opts.config_path);
	return reload(b, ret_error, changes);
}

/* SIGHUP: read the configuration file again; an invalid one changes nothing. */
static void reload_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct bothost *b = w->data;
	char *error = NULL;

	if (!b->opts.config_path) {
		log_warn("SIGHUP: no configuration file to read (bothost started without --config)");
		return;
	}
	log_info("SIGHUP: reading %s", b->opts.config_path);
	reload(b, &error, NULL);
	free(error);
}

/* The store's hook: a behaviour process's client works in the namespace of
 * its section's name and in those its store_access lists. */
static bool store_who_cb(struct client *c, struct store_who *ret, void *userdata)
{
	const struct value *ctx = spawn_client_context(c);
	const char *name = ctx ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(value_json(ctx), "name")) : NULL;
	const struct behaviour *bh = name ? behaviours_find(name) : NULL;
	const struct conf_behaviour *cb = bh ? behaviour_conf(bh) : NULL;

	if (!cb)
		return false;
	*ret = (struct store_who){ cb->name, cb->store_access, cb->n_store_access };
	return true;
}

/* A request for a [route NAME] section: a process of it gets the request
 * (respond included) in its context; refused (503) when none may start. */
static void route_request_cb(struct fn *fn, struct call *call, void *userdata)
{
	const char *name = userdata;
	struct behaviour *bh = behaviours_find(name);
	struct value *ctx = bh ? behaviour_context_new(bh) : NULL;
	cJSON *req = ctx ? value_copy(ctx, call_get_args(call), call_get_arg(call, 0)) : NULL;
	int r;

	if (!req) {
		value_free(ctx);
		call_fail(call, ERR_LIMIT_EXCEEDED, "[route %s] is not available", name);
		return;
	}
	cJSON_AddItemToObject(value_root(ctx), "request", req);
	if ((r = behaviour_run(bh, ctx, NULL, 0, NULL)) < 0)
		call_fail(call, ERR_LIMIT_EXCEEDED, "[route %s]: no process can start now: %s", name, strerror(-r));
	else
		call_return(call, NULL);
}

/* Give the HTTP server a route for each [route NAME] section of cfg,
 * replacing those of the configuration before. */
static void routes_wire(struct bothost *b, const struct behaviours_conf *cfg)
{
	if (!b->http)
		return;
	http_routes_clear_config(b->http);
	for (size_t i = 0; i < cfg->n_behaviours; i++) {
		const struct conf_behaviour *c = &cfg->behaviours[i];
		char *name = c->kind == CONF_BEHAVIOUR_ROUTE ? strdup(c->name) : NULL;
		struct fn *fn = name ? fn_new_native(b->server, route_request_cb, name, free) : NULL;
		int r;
		if (c->kind != CONF_BEHAVIOUR_ROUTE)
			continue;
		if (!fn) {
			free(name);
			r = -ENOMEM;
		} else {
			r = http_route_add_config(b->http, c->route_method, c->route_path, c->name, fn);
			fn_unref(fn);
		}
		if (r < 0)
			log_error("[route %s]: cannot serve %s %s: %s", c->name, c->route_method, c->route_path,
				  r == -EEXIST ? "a client holds that route" : strerror(-r));
	}
}

/* With a configuration file: the behaviours, IRC commands and the bot
 * object. socket_path is the host's socket (NULL: none); behaviours find it,
 * or its untrusted companion, in $BOTKIT_SOCKET. */
static int start_behaviours(struct bothost *b, const char *socket_path)
{
	int r;

	char *why = NULL;

	if (!b->opts.config_path)
		return 0;
	if ((r = listeners_prepare(&b->conf.bot, &why)) < 0) {
		log_error("%s: cannot listen: %s", b->opts.config_path, why ? why : strerror(-r));
		free(why);
		return r;
	}
	listeners_commit(&b->conf.bot);
	if ((r = commands_configure(&b->conf.bot)) < 0 || (r = behaviours_start(b->server, socket_path, &b->conf.bot)) < 0 ||
	    (r = bot_object_register(b->server)) < 0) {
		log_error("cannot start the behaviours: %s", strerror(-r));
		return r;
	}
	if ((r = store_register(b->server, &b->conf.store, b->conf.state_dir, &b->store)) < 0) {
		log_error("cannot create the store: %s", strerror(-r));
		return r;
	}
	store_set_namespace_fn(b->store, store_who_cb, b);
	routes_wire(b, &b->conf.bot);
	behaviours_set_reload(reload_behaviours_cb, b);
	commands_irc_attach();
	return 0;
}

/* Listen on path, saying why not. */
static int listen_on(struct server *s, const char *path, bool trusted)
{
	int r = server_listen(s, path, trusted);

	if (r < 0)
		log_error("cannot listen on %s: %s", path,
			  r == -EADDRINUSE ? "another bothost is listening there" : strerror(-r));
	return r;
}

/* Register the objects, start the IRC client if a server is configured,
 * and open the sockets. */
static int start(struct bothost *b)
{
	const char *socket_path = b->conf.socket_path;
	int fd = b->opts.fd;
	int r = host_object_register(b->server);
	char *path = NULL;

	if (r == 0)
		r = server_set_allowed(b->server, b->conf.allow_uids, b->conf.n_allow_uids, b->conf.allow_gids,
				       b->conf.n_allow_gids);
	if (r == 0 && b->conf.loopback)
		r = loopback_register(b->server);
	if (r == 0 && b->conf.irc.n_servers)
		r = irc_start(b->server, &b->conf.irc);
	if (r == 0 && b->conf.http.n_listen)
		r = http_start(b->server, &b->conf.http, &b->http);
	if (r < 0) {
		log_error("cannot create the objects: %s", strerror(-r));
		return r;
	}
	if (fd >= 0 && (r = server_adopt_fd(b->server, fd)) < 0) {
		log_error("cannot serve descriptor %d: %s", fd, strerror(-r));
		return r;
	}
	if (fd >= 0 && !socket_path) {
		server_set_exit_when_idle(b->server, true);
		return start_behaviours(b, NULL);
	}
	if (!socket_path && !(path = server_default_path()))
		return -ENOMEM;
	if (!socket_path)
		socket_path = path;
	r = listen_on(b->server, socket_path, true);
	if (r == 0 && b->opts.config_path) {
		char *untrusted = server_behaviours_path(socket_path);
		r = untrusted ? listen_on(b->server, untrusted, false) : -ENOMEM;
		free(untrusted);
	}
	if (r == 0)
		r = start_behaviours(b, socket_path);
	free(path);
	return r;
}

/* Watch the signals: SIGINT and SIGTERM stop, SIGHUP reloads. They are
 * watched before the socket exists, so that a SIGHUP sent as soon as it
 * accepts connections cannot find its default action (termination). */
static void signals_start(struct bothost *b)
{
	ev_signal_init(&b->sigint, stop_cb, SIGINT);
	ev_signal_init(&b->sigterm, stop_cb, SIGTERM);
	ev_signal_init(&b->sighup, reload_cb, SIGHUP);
	b->sighup.data = b;
	ev_signal_start(EV_DEFAULT, &b->sigint);
	ev_signal_start(EV_DEFAULT, &b->sigterm);
	ev_signal_start(EV_DEFAULT, &b->sighup);
}

/* Stop watching the signals. */
static void signals_stop(struct bothost *b)
{
	ev_signal_stop(EV_DEFAULT, &b->sigint);
	ev_signal_stop(EV_DEFAULT, &b->sigterm);
	ev_signal_stop(EV_DEFAULT, &b->sighup);
}

/* Read the configuration; on failure say why on stderr. 0 or -errno. */
static int load(struct bothost *b)
{
	char *error = NULL;
	int r = config_build(&b->opts, &b->conf, &error);

	if (r < 0)
		fprintf(stderr, "bothost: %s\n", error ? error : strerror(-r));
	free(error);
	return r;
}

/* Parse options, read the configuration, start serving, run the loop, clean up. */
int main(int argc, char **argv)
{
	struct bothost b;
	int r = parse_options(&b.opts, argc, argv);

	if (r != 0)
		return r > 0 ? 0 : 1;
	if (load(&b) < 0)
		return 1;
	log_set_level(b.conf.log_level);
	config_check_mode(&b.conf);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	become_subreaper();
	if (!ev_default_loop(EVFLAG_AUTO)) {
		log_error("cannot initialise the event loop");
		conf_clear(&b.conf);
		return 1;
	}
	b.later = later_queue_new(EV_DEFAULT);
	b.store = NULL;
	b.http = NULL;
	b.server = b.later ? server_new(&b.conf.limits) : NULL;
	if (!b.server) {
		later_queue_free(b.later);
		conf_clear(&b.conf);
		return 1;
	}
	signals_start(&b);
	r = start(&b);
	if (r == 0)
		ev_run(EV_DEFAULT, 0);
	signals_stop(&b);
	behaviours_stop();
	http_stop(b.http);
	commands_irc_detach();
	irc_stop("bothost stopping");
	spawn_stop_all();
	commands_free();
	behaviours_free();
	listeners_free();
	server_free(b.server);
	later_queue_free(b.later);
	ev_loop_destroy(EV_DEFAULT);
	conf_clear(&b.conf);
	return r == 0 ? 0 : 1;
}
