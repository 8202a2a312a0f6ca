/* bothost: options, signals and the event loop. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ev.h>

#include "later.h"
#include "log.h"
#include "loopback.h"
#include "host_object.h"
#include "object.h"
#include "server.h"

struct options {
	struct server_config cfg;
	const char *socket_path;
	int fd;
	bool loopback;
	enum log_level level;
};

/* Print the options. */
static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bothost [OPTION]...\n"
		"Host objects (the IRC client, host, loopback) for behaviours that connect over a Unix socket.\n"
		"\n"
		"  --socket PATH        listen on PATH (default $XDG_RUNTIME_DIR/bothost/bothost.sock,\n"
		"                       else /run/bothost/bothost.sock)\n"
		"  --fd N               serve the connected socket N; without --socket, serve only it\n"
		"                       and exit when it closes\n"
		"  --loopback           host the loopback test object\n"
		"  --frame-max N        longest frame accepted, in bytes (default 1048576)\n"
		"  --output-max N       bytes queued to one client before it is cut off (default 4194304)\n"
		"  --tokens-max N       function tokens per client, imports plus exports (default 4096)\n"
		"  --handlers-max N     event registrations per client (default 1024)\n"
		"  --pending-max N      requests of one client awaiting an answer (default 4096)\n"
		"  --clients-max N      connected clients (default 4096)\n"
		"  --call-timeout MS    deadline of the host's calls to client functions, 0 for none\n"
		"                       (default 30000)\n"
		"  --log-level LEVEL    error, warn, info or debug (default info)\n"
		"  --help               show this help\n"
		"  --version            show the version\n");
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
	OPT_HANDLERS_MAX, OPT_PENDING_MAX, OPT_CLIENTS_MAX, OPT_CALL_TIMEOUT, OPT_LOG_LEVEL,
	OPT_HELP, OPT_VERSION,
};

static const struct option long_options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "loopback", no_argument, NULL, OPT_LOOPBACK },
	{ "frame-max", required_argument, NULL, OPT_FRAME_MAX },
	{ "output-max", required_argument, NULL, OPT_OUTPUT_MAX },
	{ "tokens-max", required_argument, NULL, OPT_TOKENS_MAX },
	{ "handlers-max", required_argument, NULL, OPT_HANDLERS_MAX },
	{ "pending-max", required_argument, NULL, OPT_PENDING_MAX },
	{ "clients-max", required_argument, NULL, OPT_CLIENTS_MAX },
	{ "call-timeout", required_argument, NULL, OPT_CALL_TIMEOUT },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ 0 },
};

/* Apply one option: 0, 1 to exit successfully, or -EINVAL. */
static int parse_option(struct options *o, int opt, const char *arg)
{
	size_t v;
	int r = 0;

	switch (opt) {
	case OPT_SOCKET: o->socket_path = arg; break;
	case OPT_FD:
		if ((r = parse_size("fd", arg, 0, &v)) == 0 && v > INT_MAX)
			r = -EINVAL;
		o->fd = (int)v;
		break;
	case OPT_LOOPBACK: o->loopback = true; break;
	case OPT_FRAME_MAX: r = parse_size("frame-max", arg, 64, &o->cfg.frame_max); break;
	case OPT_OUTPUT_MAX: r = parse_size("output-max", arg, 1, &o->cfg.output_max); break;
	case OPT_TOKENS_MAX: r = parse_size("tokens-max", arg, 1, &o->cfg.tokens_max); break;
	case OPT_HANDLERS_MAX: r = parse_size("handlers-max", arg, 1, &o->cfg.handlers_max); break;
	case OPT_PENDING_MAX: r = parse_size("pending-max", arg, 1, &o->cfg.pending_max); break;
	case OPT_CLIENTS_MAX: r = parse_size("clients-max", arg, 1, &o->cfg.clients_max); break;
	case OPT_CALL_TIMEOUT:
		if ((r = parse_size("call-timeout", arg, 0, &v)) == 0 && v > UINT_MAX)
			r = -EINVAL;
		o->cfg.call_timeout_ms = (unsigned)v;
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
	return r;
}

/* Parse the command line: 0 to run, 1 to exit successfully, -EINVAL. */
static int parse_options(struct options *o, int argc, char **argv)
{
	int opt, r;

	server_config_init(&o->cfg);
	o->socket_path = NULL;
	o->fd = -1;
	o->loopback = false;
	o->level = LOG_LEVEL_INFO;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1)
		if ((r = parse_option(o, opt, optarg)) != 0)
			return r;
	if (optind < argc) {
		fprintf(stderr, "bothost: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
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

/* SIGINT / SIGTERM: leave the loop; cleanup follows. */
static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* Register the objects and open the sockets. */
static int start(struct server *s, const struct options *o)
{
	int r = host_object_register(s);
	char *path = NULL;

	if (r == 0 && o->loopback)
		r = loopback_register();
	if (r < 0) {
		log_error("cannot create the objects: %s", strerror(-r));
		return r;
	}
	if (o->fd >= 0 && (r = server_adopt_fd(s, o->fd)) < 0) {
		log_error("cannot serve descriptor %d: %s", o->fd, strerror(-r));
		return r;
	}
	if (o->fd >= 0 && !o->socket_path) {
		server_set_exit_when_idle(s, true);
		return 0;
	}
	if (!o->socket_path && !(path = server_default_path()))
		return -ENOMEM;
	r = server_listen(s, o->socket_path ? o->socket_path : path);
	if (r < 0)
		log_error("cannot listen on %s: %s", o->socket_path ? o->socket_path : path,
			  r == -EADDRINUSE ? "another bothost is listening there" : strerror(-r));
	free(path);
	return r;
}

/* Parse options, start serving, run the loop, clean up. */
int main(int argc, char **argv)
{
	struct options o;
	struct server *s;
	ev_signal sigint, sigterm;
	int r = parse_options(&o, argc, argv);

	if (r != 0)
		return r > 0 ? 0 : 1;
	log_set_level(o.level);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (!ev_default_loop(EVFLAG_AUTO)) {
		log_error("cannot initialise the event loop");
		return 1;
	}
	s = server_new(&o.cfg);
	if (!s)
		return 1;
	later_start();
	r = start(s, &o);
	if (r == 0) {
		ev_signal_init(&sigint, stop_cb, SIGINT);
		ev_signal_init(&sigterm, stop_cb, SIGTERM);
		ev_signal_start(EV_DEFAULT, &sigint);
		ev_signal_start(EV_DEFAULT, &sigterm);
		ev_run(EV_DEFAULT, 0);
		ev_signal_stop(EV_DEFAULT, &sigint);
		ev_signal_stop(EV_DEFAULT, &sigterm);
	}
	server_free(s);
	later_run();
	object_free_all();
	later_run();
	later_stop();
	ev_loop_destroy(EV_DEFAULT);
	return r == 0 ? 0 : 1;
}
