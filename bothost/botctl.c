/* SPDX-License-Identifier: ISC */
/* botctl: the command-line client of bothost. It shows the host's state,
 * lists clients and objects, calls methods and prints events, all through
 * libbotkit; see botctl(1). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "botkit.h"
#include "botkit-store.h"

#define CTL_NAME "botctl"
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAILED 1	/* the call failed or the host is unreachable */
#define CTL_EXIT_USAGE 2
#define CTL_TIMEOUT_MAX_SEC 1e9

struct ctl {
	const char *socket_path;	/* -s, or NULL for the environment's choice */
	bool has_timeout;
	uint64_t timeout_usec;		/* -t; 0 means no deadline */
	bool json;			/* -j */
	char where[PATH_MAX + 64];	/* what was connected to, for messages */
	bk_conn *conn;
	int out_error;			/* errno of a failed write to stdout, else 0 */
	char lost[256];			/* why the connection was lost, once it was */
};

enum ctl_command {
	CMD_STATUS, CMD_CLIENTS, CMD_INTROSPECT, CMD_CALL, CMD_SAY, CMD_WATCH, CMD_RELOAD,
	CMD_RESTART, CMD_STORE, CMD_SERVICES, CMD_ROUTES, CMD_LISTENERS, CMD_BEHAVIOURS,
};

struct command {
	const char *name;
	enum ctl_command id;
	int min_args;
	int max_args;		/* -1: no limit */
	const char *synopsis;
};

static const struct command commands[] = {
	{ "status", CMD_STATUS, 0, 0, "status" },
	{ "clients", CMD_CLIENTS, 0, 0, "clients" },
	{ "services", CMD_SERVICES, 0, 0, "services" },
	{ "routes", CMD_ROUTES, 0, 0, "routes" },
	{ "listeners", CMD_LISTENERS, 0, 0, "listeners" },
	{ "behaviours", CMD_BEHAVIOURS, 0, 0, "behaviours" },
	{ "introspect", CMD_INTROSPECT, 0, 1, "introspect [OBJECT]" },
	{ "call", CMD_CALL, 2, -1, "call OBJECT METHOD [JSON-ARG]..." },
	{ "say", CMD_SAY, 2, -1, "say TARGET TEXT..." },
	{ "watch", CMD_WATCH, 1, -1, "watch [OBJECT.]EVENT..." },
	{ "reload", CMD_RELOAD, 0, 0, "reload" },
	{ "restart", CMD_RESTART, 1, 1, "restart NAME" },
	{ "store", CMD_STORE, 1, 3, "store list [NS [PREFIX]] | store get NS KEY" },
};

/* One event a watch registered for. */
struct watch {
	struct ctl *ctl;
	char *obj;		/* owns the storage of event too */
	const char *event;
};

/* Print the usage text. */
static void ctl_usage(FILE *f)
{
	fprintf(f,
		"Usage: botctl [OPTION]... COMMAND [ARG]...\n"
		"Talk to bothost: show its state, call methods, watch events.\n"
		"\n"
		"Commands:\n"
		"  status                       IRC connection, channels, queue, clients, tokens\n"
		"  clients                      one line per connected client\n"
		"  services                     one line per service clients provide\n"
		"  routes                       the HTTP server's addresses, then one line per route\n"
		"  listeners                    one line per [listen NAME] socket and who gets it\n"
		"  behaviours                   one line per behaviour: state, running and parked\n"
		"                               pids, runs, last exit, next run, restarts\n"
		"  introspect [OBJECT]          objects, methods with their arguments, events\n"
		"  call OBJECT METHOD [ARG]...  call a method; each ARG is JSON, or else a string\n"
		"  say TARGET TEXT...           send TEXT (the words joined by spaces) to TARGET\n"
		"  watch [OBJECT.]EVENT...      print events as JSON lines (OBJECT defaults to irc)\n"
		"  reload                       reload the behaviours (bot.reload)\n"
		"  restart NAME                 restart one behaviour (bot.restart)\n"
		"  store list [NS [PREFIX]]     the store's namespaces, or the keys and values of NS\n"
		"  store get NS KEY             the value under KEY in namespace NS\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH     the host's socket (default $BOTKIT_SOCKET, else the\n"
		"                        connection in $BOTKIT_FD, else\n"
		"                        $XDG_RUNTIME_DIR/bothost/bothost.sock, else\n"
		"                        /run/bothost/bothost.sock)\n"
		"  -t, --timeout SECONDS deadline of each call, 0 for none (default 30)\n"
		"  -j, --json            machine-readable JSON output\n"
		"  -h, --help            show this help\n"
		"      --version         show the version\n"
		"\n"
		"Exit status: 0 success, 1 the call failed or the host is unreachable, 2 usage error.\n");
}

/* Report a usage error; returns the exit status for it. */
static int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(CTL_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'botctl --help' for more information.\n", stderr);
	return CTL_EXIT_USAGE;
}

/* Parse a deadline in seconds (a decimal number, 0 for none) into microseconds. */
static int ctl_parse_timeout(const char *arg, uint64_t *ret_usec)
{
	char *end;

	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= 0) || v > CTL_TIMEOUT_MAX_SEC)
		return -EINVAL;
	uint64_t usec = (uint64_t)(v * 1e6 + 0.5);
	*ret_usec = usec == 0 && v > 0 ? 1 : usec;
	return 0;
}

enum { OPT_VERSION = 256 };

static const struct option ctl_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ 0 },
};

/* Apply one option: true to go on, false to exit at once with *ret_status
 * (help, version, usage errors). */
static bool ctl_apply_option(struct ctl *ctl, int opt, const char *arg, const char *seen,
			     int *ret_status)
{
	switch (opt) {
	case 's':
		ctl->socket_path = arg;
		return true;
	case 't':
		if (ctl_parse_timeout(arg, &ctl->timeout_usec) < 0)
			break;
		ctl->has_timeout = true;
		return true;
	case 'j':
		ctl->json = true;
		return true;
	case 'h':
		ctl_usage(stdout);
		*ret_status = CTL_EXIT_OK;
		return false;
	case OPT_VERSION:
		printf("%s (%s) %s\n", CTL_NAME, PACKAGE_NAME, PACKAGE_VERSION);
		*ret_status = CTL_EXIT_OK;
		return false;
	}
	if (opt == 't')
		*ret_status = ctl_usage_error("invalid timeout '%s' (seconds, 0 for none)", arg);
	else if (opt == ':')
		*ret_status = ctl_usage_error("option '%s' needs an argument", seen);
	else
		*ret_status = ctl_usage_error("unknown option '%s'", seen);
	return false;
}

/* Parse the options in front of the first operand (argv[0] is skipped) and
 * step past them: true to go on, false to exit with *ret_status. */
static bool ctl_parse_options(struct ctl *ctl, int *argc, char ***argv, int *ret_status)
{
	char shown[3] = "-?";
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(*argc, *argv, "+:s:t:jh", ctl_options, NULL)) != -1) {
		shown[1] = (char)optopt;
		const char *seen = optopt > ' ' && optopt < 0x7f ? shown : (*argv)[optind - 1];
		if (!ctl_apply_option(ctl, opt, optarg, seen, ret_status))
			return false;
	}
	*argc -= optind;
	*argv += optind;
	return true;
}

/* The default socket path, as libbotkit finds it (see botkit.h). */
static int ctl_default_path(char *buf, size_t size)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;

	if (dir && *dir)
		n = snprintf(buf, size, "%s/bothost/bothost.sock", dir);
	else
		n = snprintf(buf, size, "/run/bothost/bothost.sock");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Open the connection to the path the options and the environment name.
 * $BOTKIT_SOCKET wins over $BOTKIT_FD: a script may run botctl many times,
 * and only a path can be connected to more than once. */
static int ctl_open(struct ctl *ctl, char *path, size_t size)
{
	const char *env_path = getenv("BOTKIT_SOCKET");
	const char *env_fd = getenv("BOTKIT_FD");

	if (ctl->socket_path || (env_path && *env_path)) {
		snprintf(path, size, "%s", ctl->socket_path ? ctl->socket_path : env_path);
	} else if (env_fd && *env_fd) {
		snprintf(ctl->where, sizeof ctl->where, "through the socket in BOTKIT_FD=%s", env_fd);
		return bk_conn_new(&ctl->conn, CTL_NAME);
	} else if (ctl_default_path(path, size) < 0) {
		snprintf(ctl->where, sizeof ctl->where, "at the default path");
		return -ENAMETOOLONG;
	}
	snprintf(ctl->where, sizeof ctl->where, "at %s", path);
	return bk_conn_new_path(&ctl->conn, path, CTL_NAME);
}

/* Connect and apply the deadline; report a failure. 0 or -errno. */
static int ctl_connect(struct ctl *ctl)
{
	char path[PATH_MAX];
	int r = ctl_open(ctl, path, sizeof path);

	if (r < 0) {
		fprintf(stderr, CTL_NAME ": cannot connect to bothost %s: %s\n", ctl->where,
			strerror(-r));
		return r;
	}
	if (ctl->has_timeout)
		bk_conn_set_timeout(ctl->conn, ctl->timeout_usec);
	return 0;
}

/* Report a failed call: the host's typed error, else the local reason. */
static void ctl_report_error(struct ctl *ctl, int r)
{
	const bk_error *e = bk_conn_last_error(ctl->conn);

	if (e)
		fprintf(stderr, CTL_NAME ": %s: %s\n", bk_error_name(e),
			bk_error_message(e) ? bk_error_message(e) : "");
	else
		fprintf(stderr, CTL_NAME ": %s\n", strerror(-r));
}

/* Call obj.method(args) and wait; report a failure. 0 or -errno. */
static int ctl_call(struct ctl *ctl, const char *obj, const char *method, const cJSON *args,
		    cJSON **ret_result)
{
	int r = bk_call_json_sync(ctl->conn, obj, method, args, ret_result);

	if (r < 0)
		ctl_report_error(ctl, r);
	return r;
}

/* --- Output ------------------------------------------------------------- */

/* A copy of v in which every function is the placeholder {"$function":true};
 * NULL when out of memory. */
static cJSON *json_printable(const cJSON *v)
{
	cJSON *copy;

	if (bk_json_is_function(v)) {
		copy = cJSON_CreateObject();
		if (copy && !cJSON_AddTrueToObject(copy, "$function"))
			copy = (cJSON_Delete(copy), NULL);
		return copy;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return cJSON_Duplicate(v, false);
	copy = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
	for (const cJSON *c = v->child; copy && c; c = c->next) {
		cJSON *item = json_printable(c);
		bool ok = item && (cJSON_IsArray(v) ? cJSON_AddItemToArray(copy, item)
					 : cJSON_AddItemToObject(copy, c->string, item));
		if (!ok)
			copy = (cJSON_Delete(item), cJSON_Delete(copy), NULL);
	}
	return copy;
}

/* Flush stdout; remember why it failed. 0 or -errno. */
static int out_flush(struct ctl *ctl)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	if (!ctl->out_error)
		ctl->out_error = errno ? errno : EIO;
	return -ctl->out_error;
}

/* Print v (functions as placeholders) as one line of JSON. 0 or -errno. */
static int out_json(const cJSON *v)
{
	cJSON *p = json_printable(v);
	char *s = p ? cJSON_PrintUnformatted(p) : NULL;
	int r = s ? 0 : -ENOMEM;

	if (s)
		printf("%s\n", s);
	else
		fprintf(stderr, CTL_NAME ": out of memory\n");
	free(s);
	cJSON_Delete(p);
	return r;
}

/* Print a string from the host, control characters shown as '?'. */
static void out_text(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* A member of an object as text: a number, a string, or "-". */
static const char *json_field_text(const cJSON *o, const char *key, char *buf, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(v))
		snprintf(buf, size, "%.15g", v->valuedouble);
	else if (cJSON_IsString(v) && v->valuestring)
		snprintf(buf, size, "%s", v->valuestring);
	else
		snprintf(buf, size, "-");
	return buf;
}

/* A string member of an object, or NULL. */
static const char *json_field_string(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Print the string o[key] (control characters made safe), or missing. */
static void out_field(const cJSON *o, const char *key, const char *missing)
{
	const char *v = json_field_string(o, key);

	out_text(v ? v : missing);
}

/* Call obj.method() and show its answer: as JSON with -j, else by print.
 * 0 or the call's -errno (reported). */
static int ctl_show(struct ctl *ctl, const char *obj, const char *method,
		    void (*print)(struct ctl *ctl, const cJSON *result))
{
	cJSON *result = NULL;
	int r = ctl_call(ctl, obj, method, NULL, &result);

	if (r < 0)
		return r;
	if (ctl->json)
		r = out_json(result);
	else
		print(ctl, result);
	bk_json_delete(result);
	return r;
}

/* --- status ------------------------------------------------------------- */

/* Print the capabilities the server acknowledged, when the host says. */
static void status_print_caps(const cJSON *caps)
{
	const cJSON *c;
	bool first = true;

	if (!cJSON_IsArray(caps))
		return;
	fputs("caps:      ", stdout);
	cJSON_ArrayForEach(c, caps) {
		if (!cJSON_IsString(c))
			continue;
		fputs(first ? "" : " ", stdout);
		out_text(c->valuestring);
		first = false;
	}
	fputs(first ? "none\n" : "\n", stdout);
}

/* Print the IRC connection's state line: state, server, nick; then the capabilities. */
static void status_print_state(const cJSON *state)
{
	const char *server = json_field_string(state, "server");
	const char *nick = json_field_string(state, "nick");

	fputs("irc:       ", stdout);
	out_field(state, "state", "unknown");
	if (server || nick) {
		fputs(" (", stdout);
		if (server) {
			fputs("server ", stdout);
			out_text(server);
		}
		fputs(server && nick ? ", " : "", stdout);
		if (nick) {
			fputs("nick ", stdout);
			out_text(nick);
		}
		fputs(")", stdout);
	}
	putchar('\n');
	status_print_caps(cJSON_GetObjectItemCaseSensitive(state, "caps"));
}

/* The number of users a channel entry gives (an array or a number). */
static long status_channel_users(const cJSON *channel)
{
	const cJSON *users = cJSON_GetObjectItemCaseSensitive(channel, "users");

	if (cJSON_IsArray(users))
		return cJSON_GetArraySize(users);
	return cJSON_IsNumber(users) ? (long)users->valuedouble : -1;
}

/* Print the channels line and the queue line. */
static void status_print_channels(const cJSON *state, const cJSON *channels)
{
	const cJSON *ch;
	char buf[64];
	bool first = true;

	fputs("channels:  ", stdout);
	cJSON_ArrayForEach(ch, channels) {
		long users = status_channel_users(ch);
		fputs(first ? "" : ", ", stdout);
		out_text(json_field_string(ch, "name"));
		if (users >= 0)
			printf(" (%ld users)", users);
		first = false;
	}
	printf("%s\n", first ? "none" : "");
	printf("queue:     %s waiting to be sent\n", json_field_text(state, "queued", buf, sizeof buf));
}

/* Print the host's numbers from host.stats(). */
static void status_print_host(const cJSON *st)
{
	char a[64], b[64];

	printf("clients:   %s connected (this botctl included)\n",
	       json_field_text(st, "clients", a, sizeof a));
	printf("handlers:  %s event registrations\n", json_field_text(st, "handlers", a, sizeof a));
	printf("tokens:    %s functions imported from clients, %s exported to clients\n",
	       json_field_text(st, "imports", a, sizeof a), json_field_text(st, "exports", b, sizeof b));
	printf("pending:   %s calls into the host (this one included), %s calls out to clients\n",
	       json_field_text(st, "pending_in", a, sizeof a),
	       json_field_text(st, "pending_out", b, sizeof b));
	printf("queued:    %s bytes of output to clients\n",
	       json_field_text(st, "queued_bytes", a, sizeof a));
	printf("functions: %s host functions alive\n", json_field_text(st, "functions", a, sizeof a));
}

/* Print status as JSON: {"irc":{"state","channels"} or null,"host":stats}. */
static int status_print_json(cJSON *irc, cJSON *stats)
{
	cJSON *o = cJSON_CreateObject();
	int r = -ENOMEM;

	if (o && cJSON_AddItemToObject(o, "irc", irc ? json_printable(irc) : cJSON_CreateNull()) &&
	    cJSON_AddItemToObject(o, "host", json_printable(stats)))
		r = out_json(o);
	else
		fprintf(stderr, CTL_NAME ": out of memory\n");
	cJSON_Delete(o);
	return r;
}

/* Ask the irc object for its state and channels, as {"state","channels"}. */
static int status_get_irc(struct ctl *ctl, cJSON **ret)
{
	cJSON *state = NULL, *channels = NULL, *irc = NULL;
	int r = ctl_call(ctl, "irc", "getState", NULL, &state);

	if (r == 0)
		r = ctl_call(ctl, "irc", "getChannels", NULL, &channels);
	if (r == 0 && (irc = cJSON_CreateObject()) && cJSON_AddItemToObject(irc, "state", state))
		state = NULL;
	if (r == 0 && irc && !state && cJSON_AddItemToObject(irc, "channels", channels))
		channels = NULL;
	if (r == 0 && (state || channels)) {
		fprintf(stderr, CTL_NAME ": out of memory\n");
		r = -ENOMEM;
	}
	bk_json_delete(state);
	bk_json_delete(channels);
	if (r < 0) {
		bk_json_delete(irc);
		return r;
	}
	*ret = irc;
	return 0;
}

/* botctl status: the IRC connection when there is one, and the host's numbers. */
static int cmd_status(struct ctl *ctl)
{
	cJSON *irc = NULL, *stats = NULL;
	int r = 0;

	if (cJSON_GetObjectItemCaseSensitive(bk_conn_get_objects(ctl->conn), "irc"))
		r = status_get_irc(ctl, &irc);
	if (r == 0)
		r = ctl_call(ctl, "host", "stats", NULL, &stats);
	if (r == 0 && ctl->json) {
		r = status_print_json(irc, stats);
	} else if (r == 0) {
		if (irc) {
			status_print_state(cJSON_GetObjectItemCaseSensitive(irc, "state"));
			status_print_channels(cJSON_GetObjectItemCaseSensitive(irc, "state"),
					      cJSON_GetObjectItemCaseSensitive(irc, "channels"));
		} else {
			printf("irc:       no IRC configured\n");
		}
		status_print_host(stats);
	}
	bk_json_delete(irc);
	bk_json_delete(stats);
	return r;
}

/* --- clients ------------------------------------------------------------ */

/* Print a client's filtered registrations, one indented line each:
 * "  filter irc.message {"channel":"#c"}". */
static void clients_print_filters(const cJSON *filters)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, filters) {
		char *text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(f, "filter"));
		const char *obj = json_field_string(f, "object"), *event = json_field_string(f, "event");

		fputs("  filter ", stdout);
		out_text(obj ? obj : "?");
		putchar('.');
		out_text(event ? event : "?");
		putchar(' ');
		out_text(text ? text : "?");
		putchar('\n');
		cJSON_free(text);
	}
}

/* The name of the behaviour whose parked processes (in bot.list's answer
 * behaviours) include pid, or NULL. */
static const char *clients_parked_in(const cJSON *behaviours, const cJSON *pid)
{
	const cJSON *b, *p;

	if (!cJSON_IsNumber(pid))
		return NULL;
	cJSON_ArrayForEach(b, behaviours)
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(b, "parked"))
			if (cJSON_IsNumber(p) && p->valuedouble == pid->valuedouble)
				return json_field_string(b, "name");
	return NULL;
}

/* Print one client of host.clients() as one line, and its filters; a
 * parked process (by its pid, in behaviours) is marked so. */
static void clients_print_one(struct ctl *ctl, const cJSON *cl, const cJSON *behaviours)
{
	static const char *const fields[] = {
		"pid", "uid", "handlers", "imports", "exports", "pending_in", "pending_out",
		"queued_bytes",
	};
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cl, "id");
	const char *name = json_field_string(cl, "name");
	const char *parked = clients_parked_in(behaviours, cJSON_GetObjectItemCaseSensitive(cl, "pid"));
	char buf[64];

	printf("%s ", json_field_text(cl, "id", buf, sizeof buf));
	out_text(name && *name ? name : "-");
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		printf(" %s=%s", fields[i], json_field_text(cl, fields[i], buf, sizeof buf));
	if (cJSON_IsNumber(id) && id->valuedouble == (double)bk_conn_get_client_id(ctl->conn))
		fputs(" (this botctl)", stdout);
	if (parked) {
		fputs(" (parked: ", stdout);
		out_text(parked);
		putchar(')');
	}
	putchar('\n');
	clients_print_filters(cJSON_GetObjectItemCaseSensitive(cl, "filters"));
}

/* bot.list's answer, to tell which clients are parked processes; NULL on a
 * host without the bot object or when the call fails: the clients are then
 * shown unmarked rather than not at all. Asked after host.clients, so that
 * a process handed a command in between is not shown as parked. */
static cJSON *clients_behaviours(struct ctl *ctl)
{
	cJSON *list = NULL;

	if (!cJSON_GetObjectItemCaseSensitive(bk_conn_get_objects(ctl->conn), "bot") ||
	    bk_call_json_sync(ctl->conn, "bot", "list", NULL, &list) < 0)
		return NULL;
	return list;
}

/* One line per client of host.clients(), parked processes marked. */
static void clients_print(struct ctl *ctl, const cJSON *list)
{
	cJSON *behaviours = clients_behaviours(ctl);
	const cJSON *cl;

	cJSON_ArrayForEach(cl, list)
		clients_print_one(ctl, cl, behaviours);
	bk_json_delete(behaviours);
}

/* botctl clients: one line per client. */
static int cmd_clients(struct ctl *ctl)
{
	return ctl_show(ctl, "host", "clients", clients_print);
}

/* NAME provider=ID(NAME) pid=PID methods=A,B doc, a line per service. */
static void services_print(struct ctl *ctl, const cJSON *list)
{
	const cJSON *svc, *m;
	char buf[64];

	cJSON_ArrayForEach(svc, list) {
		const cJSON *provider = cJSON_GetObjectItemCaseSensitive(svc, "provider");
		const char *name = json_field_string(provider, "name");
		out_field(svc, "name", "?");
		printf(" provider=%s(", json_field_text(provider, "id", buf, sizeof buf));
		out_text(name && *name ? name : "-");
		printf(") pid=%s methods=", json_field_text(provider, "pid", buf, sizeof buf));
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(svc, "methods")) {
			out_text(cJSON_IsString(m) ? m->valuestring : "?");
			fputs(m->next ? "," : "", stdout);
		}
		if (json_field_string(svc, "doc")) {
			putchar(' ');
			out_text(json_field_string(svc, "doc"));
		}
		putchar('\n');
	}
}

/* botctl services: one line per service clients provide. */
static int cmd_services(struct ctl *ctl)
{
	return ctl_show(ctl, "host", "services", services_print);
}

/* NAME BOUND-ADDRESS behaviours=A,B (none: -), a line per listener. */
static void listeners_print(struct ctl *ctl, const cJSON *res)
{
	const cJSON *it, *u;

	cJSON_ArrayForEach(it, res) {
		bool first = true;
		out_field(it, "name", "?");
		putchar(' ');
		out_field(it, "bound", "?");
		fputs(" behaviours=", stdout);
		cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(it, "behaviours")) {
			fputs(first ? "" : ",", stdout);
			out_text(cJSON_IsString(u) ? u->valuestring : "?");
			first = false;
		}
		fputs(first ? "-\n" : "\n", stdout);
	}
}

/* botctl listeners: one line per [listen NAME] socket. */
static int cmd_listeners(struct ctl *ctl)
{
	return ctl_show(ctl, "bot", "listeners", listeners_print);
}

/* "listen ADDR" lines, then METHOD PATH STATE served=N and who serves it:
 * client=ID(NAME) pid=PID, or section=NAME. */
static void routes_print(struct ctl *ctl, const cJSON *res)
{
	const cJSON *it;
	char buf[64];

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "listen")) {
		fputs("listen ", stdout);
		out_text(cJSON_IsString(it) ? it->valuestring : "?");
		putchar('\n');
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "routes")) {
		const cJSON *client = cJSON_GetObjectItemCaseSensitive(it, "client");
		const char *name = json_field_string(client, "name");
		out_field(it, "method", "?");
		putchar(' ');
		out_field(it, "path", "?");
		printf(" %s served=%s", json_field_string(it, "state") ? json_field_string(it, "state") : "?",
		       json_field_text(it, "served", buf, sizeof buf));
		if (client) {
			printf(" client=%s(", json_field_text(client, "id", buf, sizeof buf));
			out_text(name && *name ? name : "-");
			printf(") pid=%s", json_field_text(client, "pid", buf, sizeof buf));
		} else if (json_field_string(it, "section")) {
			fputs(" section=", stdout);
			out_text(json_field_string(it, "section"));
		}
		putchar('\n');
	}
}

/* botctl routes: the HTTP server's addresses and routes. */
static int cmd_routes(struct ctl *ctl)
{
	return ctl_show(ctl, "http", "routes", routes_print);
}

/* --- introspect --------------------------------------------------------- */

/* Print one argument description: name: type, its kind, [optional], rest... */
static void introspect_print_arg(const cJSON *arg)
{
	const char *kind = json_field_string(arg, "kind");
	bool optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(arg, "optional"));
	bool rest = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(arg, "rest"));

	fputs(optional ? "[" : "", stdout);
	out_field(arg, "name", "?");
	fputs(": ", stdout);
	out_field(arg, "type", "any");
	if (kind) {
		putchar('(');
		out_text(kind);
		putchar(')');
	}
	fputs(rest ? "..." : "", stdout);
	fputs(optional ? "]" : "", stdout);
}

/* Print one method: its signature, result, privilege and documentation. */
static void introspect_print_method(const cJSON *m)
{
	const cJSON *arg;
	const char *doc = json_field_string(m, "doc");
	bool first = true;

	fputs("    ", stdout);
	out_text(m->string);
	putchar('(');
	cJSON_ArrayForEach(arg, cJSON_GetObjectItemCaseSensitive(m, "args")) {
		fputs(first ? "" : ", ", stdout);
		introspect_print_arg(arg);
		first = false;
	}
	fputs(") -> ", stdout);
	out_field(m, "returns", "any");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "privileged")))
		fputs("  [privileged]", stdout);
	putchar('\n');
	if (doc) {
		fputs("        ", stdout);
		out_text(doc);
		putchar('\n');
	}
}

/* Print one object: its documentation, methods and events. */
static void introspect_print_object(const cJSON *obj)
{
	const cJSON *m, *ev;
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(obj, "events");

	out_text(obj->string);
	if (json_field_string(obj, "doc")) {
		fputs(": ", stdout);
		out_text(json_field_string(obj, "doc"));
	}
	fputs("\n  methods:\n", stdout);
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(obj, "methods"))
		introspect_print_method(m);
	fputs(cJSON_GetArraySize(events) > 0 ? "  events:\n" : "  events: none\n", stdout);
	cJSON_ArrayForEach(ev, events) {
		fputs("    ", stdout);
		out_text(ev->string);
		if (json_field_string(ev, "doc")) {
			fputs(": ", stdout);
			out_text(json_field_string(ev, "doc"));
		}
		putchar('\n');
	}
}

/* botctl introspect [OBJECT]: what the host described in its welcome. */
static int cmd_introspect(struct ctl *ctl, int argc, char **argv)
{
	const cJSON *objects = bk_conn_get_objects(ctl->conn);
	const cJSON *obj;

	if (argc > 0) {
		objects = cJSON_GetObjectItemCaseSensitive(objects, argv[0]);
		if (!objects) {
			fprintf(stderr, CTL_NAME ": NoSuchObject: the host has no object '%s'\n",
				argv[0]);
			return -ENOENT;
		}
	}
	if (ctl->json)
		return out_json(objects);
	if (argc > 0) {
		introspect_print_object(objects);
		return 0;
	}
	cJSON_ArrayForEach(obj, objects)
		introspect_print_object(obj);
	return 0;
}

/* --- call, say, reload, restart ----------------------------------------- */

/* One command-line argument as a value: JSON if it parses, else a string. */
static cJSON *call_parse_arg(const char *arg)
{
	cJSON *v = cJSON_ParseWithOpts(arg, NULL, true);

	return v ? v : cJSON_CreateString(arg);
}

/* Call obj.method(args) and print the result as JSON (a null result only
 * when print_null). */
static int call_and_print(struct ctl *ctl, const char *obj, const char *method, const cJSON *args,
			  bool print_null)
{
	cJSON *result = NULL;
	int r = ctl_call(ctl, obj, method, args, &result);

	if (r == 0 && (print_null || !cJSON_IsNull(result)))
		r = out_json(result);
	bk_json_delete(result);
	return r;
}

/* botctl call OBJECT METHOD [JSON-ARG]...: print the result. */
static int cmd_call(struct ctl *ctl, int argc, char **argv)
{
	cJSON *args = cJSON_CreateArray();
	int r = 0;

	for (int i = 2; args && i < argc; i++) {
		cJSON *v = call_parse_arg(argv[i]);
		if (!v || !cJSON_AddItemToArray(args, v))
			args = (cJSON_Delete(v), cJSON_Delete(args), NULL);
	}
	if (!args) {
		fprintf(stderr, CTL_NAME ": out of memory\n");
		return -ENOMEM;
	}
	r = call_and_print(ctl, argv[0], argv[1], args, true);
	cJSON_Delete(args);
	return r;
}

/* The words joined by single spaces (caller frees), or NULL. */
static char *say_join(int argc, char **argv)
{
	size_t len = 1, off = 0;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (!(s = malloc(len)))
		return NULL;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (i > 0)
			s[off++] = ' ';
		memcpy(s + off, argv[i], n);
		off += n;
	}
	s[off] = '\0';
	return s;
}

/* botctl say TARGET TEXT...: irc.say(target, the words joined by spaces). */
static int cmd_say(struct ctl *ctl, int argc, char **argv)
{
	char *text = say_join(argc - 1, argv + 1);
	cJSON *args = cJSON_CreateArray();
	int r = -ENOMEM;

	if (text && args && cJSON_AddItemToArray(args, cJSON_CreateString(argv[0])) &&
	    cJSON_AddItemToArray(args, cJSON_CreateString(text)))
		r = ctl_call(ctl, "irc", "say", args, NULL);
	else
		fprintf(stderr, CTL_NAME ": out of memory\n");
	cJSON_Delete(args);
	free(text);
	return r;
}

/* After a failed call on the bot object: say why a host may not have one. */
static void bot_explain_missing(struct ctl *ctl, const char *what)
{
	const bk_error *e = bk_conn_last_error(ctl->conn);

	if (e && strcmp(bk_error_name(e), "NoSuchObject") == 0)
		fprintf(stderr, CTL_NAME ": this bothost has no 'bot' object: it does not "
			"manage behaviours, so there is nothing to %s\n", what);
}

/* botctl reload / restart NAME: bot.reload() or bot.restart(name). */
static int cmd_bot(struct ctl *ctl, const char *method, const char *name)
{
	cJSON *args = cJSON_CreateArray();
	int r = -ENOMEM;

	if (args && (!name || cJSON_AddItemToArray(args, cJSON_CreateString(name))))
		r = call_and_print(ctl, "bot", method, args, false);
	else
		fprintf(stderr, CTL_NAME ": out of memory\n");
	if (r < 0)
		bot_explain_missing(ctl, method);
	cJSON_Delete(args);
	return r;
}

/* --- behaviours --------------------------------------------------------- */

enum { COL_NAME, COL_KIND, COL_STATE, COL_PIDS, COL_RUNS, COL_EXIT, COL_NEXT, COL_RESTARTS, COLS };

/* The size of every cell but PIDS (a name has at most 32 bytes). */
#define BEHAVIOURS_CELL 64

static const char *const behaviours_header[COLS] = {
	"NAME", "KIND", "STATE", "PIDS", "RUNS", "LAST EXIT", "NEXT", "RESTARTS",
};

/* One line of botctl behaviours. PIDS is allocated: a command may have more
 * processes than max_running (those whose answer the host holds). */
struct behaviours_row {
	char cell[COLS][BEHAVIOURS_CELL];
	char *pids;
};

/* Milliseconds since the epoch, the clock of bot.list's next_run. */
static double ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A string from the host (NULL: "-") in buf, control characters as '?'. */
static void text_copy(char *buf, size_t size, const char *s)
{
	size_t i = 0;

	for (s = s ? s : "-"; s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
}

/* A duration as people read it, in its two largest units as systemd shows
 * them: "12ms", "42s", "3min 20s", "2h 5min", "3d 4h". Past 10^12 ms (31
 * years, more than any run or timer) it shows that. */
static void duration_text(double ms, char *buf, size_t size)
{
	static const struct { const char *unit; unsigned long long ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "min", 60000 }, { "s", 1000 }, { "ms", 1 },
	};
	const size_t n = sizeof units / sizeof units[0];
	unsigned long long left = ms >= 1 ? (ms < 1e12 ? (unsigned long long)ms : 1000000000000ULL) : 0;
	size_t i = 0;

	while (i + 1 < n && left < units[i].ms)
		i++;
	/* below 10^12 ms, both fit an unsigned: 11574 days at most */
	unsigned first = (unsigned)(left / units[i].ms);
	unsigned rest = i + 1 < n ? (unsigned)(left % units[i].ms / units[i + 1].ms) : 0;
	/* seconds alone: "42s", not "42s 350ms" */
	if (rest && units[i].ms >= 60000)
		snprintf(buf, size, "%u%s %u%s", first, units[i].unit, rest, units[i + 1].unit);
	else
		snprintf(buf, size, "%u%s", first, units[i].unit);
}

/* A last_exit as people read it: "exit 0 after 12ms", "signal 9 after 3s",
 * "timed out after 30s"; "-" when there was none. */
static void behaviours_exit_text(const cJSON *e, char *buf, size_t size)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(e, "signal");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "runtime_ms");
	char took[32];

	if (!cJSON_IsObject(e)) {
		snprintf(buf, size, "-");
		return;
	}
	duration_text(cJSON_IsNumber(ms) ? ms->valuedouble : 0, took, sizeof took);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "timed_out")))
		snprintf(buf, size, "timed out after %s", took);
	else if (cJSON_IsNumber(sig))
		snprintf(buf, size, "signal %d after %s", sig->valueint, took);
	else if (cJSON_IsNumber(code))
		snprintf(buf, size, "exit %d after %s", code->valueint, took);
	else
		snprintf(buf, size, "ended after %s", took);
}

/* When a timer is next due: "in 42s", "now" (due already), "never" (null);
 * "-" for the other kinds, which have no next_run. */
static void behaviours_next_text(const cJSON *b, double now_ms, char *buf, size_t size)
{
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(b, "next_run");
	char in[32];

	if (!next)
		snprintf(buf, size, "-");
	else if (!cJSON_IsNumber(next))
		snprintf(buf, size, "never");
	else if (next->valuedouble <= now_ms)
		snprintf(buf, size, "now");
	else {
		duration_text(next->valuedouble - now_ms, in, sizeof in);
		snprintf(buf, size, "in %s", in);
	}
}

/* "running 1234; parked 1240,1241" (each part only when it has pids), "-"
 * when neither has; allocated, NULL when out of memory. */
static char *behaviours_pids_text(const cJSON *b)
{
	static const char *const lists[] = { "running", "parked" };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const cJSON *p;
	bool any = false;

	if (!f)
		return NULL;
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		const cJSON *pids = cJSON_GetObjectItemCaseSensitive(b, lists[i]);
		if (cJSON_GetArraySize(pids) == 0)
			continue;
		fprintf(f, "%s%s", any ? "; " : "", lists[i]);
		cJSON_ArrayForEach(p, pids)
			fprintf(f, "%c%.0f", p == pids->child ? ' ' : ',', cJSON_IsNumber(p) ? p->valuedouble : -1);
		any = true;
	}
	fputs(any ? "" : "-", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* running (a process at work), parked (only processes waiting for a
 * command), down (a resident without its process: it waits to be
 * restarted) or idle. */
static const char *behaviours_state(const cJSON *b)
{
	const char *kind = json_field_string(b, "kind");

	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "running")) > 0)
		return "running";
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "parked")) > 0)
		return "parked";
	return kind && strcmp(kind, "resident") == 0 ? "down" : "idle";
}

/* Fill row from one entry of bot.list. 0 or -ENOMEM. */
static int behaviours_row_fill(struct behaviours_row *row, const cJSON *b, double now_ms)
{
	text_copy(row->cell[COL_NAME], BEHAVIOURS_CELL, json_field_string(b, "name"));
	text_copy(row->cell[COL_KIND], BEHAVIOURS_CELL, json_field_string(b, "kind"));
	snprintf(row->cell[COL_STATE], BEHAVIOURS_CELL, "%s", behaviours_state(b));
	json_field_text(b, "runs", row->cell[COL_RUNS], BEHAVIOURS_CELL);
	behaviours_exit_text(cJSON_GetObjectItemCaseSensitive(b, "last_exit"), row->cell[COL_EXIT],
			     BEHAVIOURS_CELL);
	behaviours_next_text(b, now_ms, row->cell[COL_NEXT], BEHAVIOURS_CELL);
	json_field_text(b, "restarts", row->cell[COL_RESTARTS], BEHAVIOURS_CELL);
	row->pids = behaviours_pids_text(b);
	return row->pids ? 0 : -ENOMEM;
}

/* The cells of row (NULL: the header). */
static void behaviours_cells(const struct behaviours_row *row, const char *cells[COLS])
{
	for (int c = 0; c < COLS; c++)
		cells[c] = !row ? behaviours_header[c] : c == COL_PIDS ? row->pids : row->cell[c];
}

/* Print one line, every cell but the last padded to its column's width. */
static void behaviours_print_line(const struct behaviours_row *row, const size_t width[COLS])
{
	const char *cells[COLS];

	behaviours_cells(row, cells);
	for (int c = 0; c + 1 < COLS; c++)
		printf("%-*s  ", (int)width[c], cells[c]);
	printf("%s\n", cells[COLS - 1]);
}

/* Print the header and the rows, each column as wide as its widest cell. */
static void behaviours_print(const struct behaviours_row *rows, size_t n)
{
	const char *cells[COLS];
	size_t width[COLS] = { 0 };

	for (size_t i = 0; i <= n; i++) {
		behaviours_cells(i < n ? &rows[i] : NULL, cells);
		for (int c = 0; c < COLS; c++)
			if (strlen(cells[c]) > width[c])
				width[c] = strlen(cells[c]);
	}
	behaviours_print_line(NULL, width);
	for (size_t i = 0; i < n; i++)
		behaviours_print_line(&rows[i], width);
}

/* botctl behaviours: bot.list() as a table, a line per behaviour in the
 * order of the configuration file. */
static int cmd_behaviours(struct ctl *ctl)
{
	cJSON *list = NULL;
	const cJSON *b;
	struct behaviours_row *rows = NULL;
	size_t n = 0;
	int r = ctl_call(ctl, "bot", "list", NULL, &list);
	double now_ms = ctl_now_ms();

	if (r < 0) {
		bot_explain_missing(ctl, "list");
		return r;
	}
	if (ctl->json) {
		r = out_json(list);
		bk_json_delete(list);
		return r;
	}
	rows = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *rows);
	r = rows ? 0 : -ENOMEM;
	cJSON_ArrayForEach(b, list)
		if (r == 0)
			r = behaviours_row_fill(&rows[n++], b, now_ms);
	if (r == 0)
		behaviours_print(rows, n);
	else
		fprintf(stderr, CTL_NAME ": out of memory\n");
	for (size_t i = 0; i < n; i++)
		free(rows[i].pids);
	free(rows);
	bk_json_delete(list);
	return r;
}

/* --- store -------------------------------------------------------------- */

/* Print the store's namespaces, a line each. */
static void store_print(const cJSON *result)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, result) {
		out_text(json_field_string(e, "ns"));
		printf("\t%.0f keys\t%.0f bytes\n", cJSON_GetNumberValue(cJSON_GetObjectItem(e, "keys")),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(e, "bytes")));
	}
}

/* Print one entry of a namespace as a line, or (userdata an object) gather it for --json. */
static int store_entry(bk_conn *c, const char *key, const cJSON *value, void *userdata)
{
	cJSON *copy;
	char *s;

	if (userdata) {
		copy = cJSON_Duplicate(value, true);
		return copy && cJSON_AddItemToObject(userdata, key, copy) ? 0 : (cJSON_Delete(copy), -ENOMEM);
	}
	out_text(key);
	s = cJSON_PrintUnformatted(value);
	printf("\t%s\n", s ? s : "?");
	free(s);
	return 0;
}

/* botctl store list NS [PREFIX]: every entry, page by page (a namespace may
 * hold more than a frame), printed as it comes, or as one object for --json. */
static int store_list_all(struct ctl *ctl, const char *ns, const char *prefix)
{
	cJSON *all = ctl->json ? cJSON_CreateObject() : NULL;
	int r = -ENOMEM;

	if (ctl->json && !all) {
		fprintf(stderr, CTL_NAME ": out of memory\n");
		return r;
	}
	r = bk_store_list_each(ctl->conn, ns, prefix, store_entry, all);
	if (r == -ENOMEM && !bk_conn_last_error(ctl->conn))
		fprintf(stderr, CTL_NAME ": out of memory\n");
	else if (r < 0)
		ctl_report_error(ctl, r);
	else if (all)
		r = out_json(all);
	cJSON_Delete(all);
	return r;
}

/* botctl store list [NS [PREFIX]] | store get NS KEY: store.namespaces(),
 * store.listPage(prefix, after, limit, ns) until the end, or store.get(key, ns). */
static int cmd_store(struct ctl *ctl, int argc, char **argv)
{
	bool get = strcmp(argv[0], "get") == 0;
	cJSON *args, *result = NULL;
	int r = -ENOMEM;

	if (!get && argc > 1)
		return store_list_all(ctl, argv[1], argc == 3 ? argv[2] : NULL);
	args = cJSON_CreateArray();
	if (args && get) {
		cJSON_AddItemToArray(args, cJSON_CreateString(argv[2]));
		cJSON_AddItemToArray(args, cJSON_CreateString(argv[1]));
	}
	if (!args) {
		fprintf(stderr, CTL_NAME ": out of memory\n");
		return r;
	}
	if (get)
		r = call_and_print(ctl, "store", "get", args, true);
	else if ((r = ctl_call(ctl, "store", "namespaces", args, &result)) == 0 && ctl->json)
		r = out_json(result);
	else if (r == 0)
		store_print(result);
	bk_json_delete(result);
	cJSON_Delete(args);
	return r;
}

/* --- watch -------------------------------------------------------------- */

/* An event arrived: print {"object","event","args"} as one line, at once. */
static void watch_event_cb(bk_conn *c, bk_args *a, void *userdata)
{
	struct watch *w = userdata;
	cJSON *line = cJSON_CreateObject();

	if (line && cJSON_AddStringToObject(line, "object", w->obj) &&
	    cJSON_AddStringToObject(line, "event", w->event) &&
	    cJSON_AddItemToObject(line, "args", json_printable(bk_args_json(a))))
		out_json(line);
	else
		fprintf(stderr, CTL_NAME ": out of memory\n");
	cJSON_Delete(line);
	out_flush(w->ctl);
}

/* The host went away while watching: keep why, to report it once. */
static void watch_lost_cb(bk_conn *c, const bk_error *err, void *userdata)
{
	struct ctl *ctl = userdata;

	snprintf(ctl->lost, sizeof ctl->lost, "%s: %s", bk_error_name(err),
		 bk_error_message(err) ? bk_error_message(err) : "");
}

/* True when spec is a valid [OBJECT.]EVENT (no empty part). */
static bool watch_spec_valid(const char *spec)
{
	const char *dot = strchr(spec, '.');

	return spec[0] != '\0' && dot != spec && (!dot || dot[1] != '\0');
}

/* Split the [OBJECT.]EVENT arguments (checked before). 0 or -ENOMEM. */
static int watch_parse(struct ctl *ctl, int argc, char **argv, struct watch *ws)
{
	for (int i = 0; i < argc; i++) {
		const char *dot = strchr(argv[i], '.');
		ws[i].ctl = ctl;
		ws[i].obj = strdup(dot ? argv[i] : "irc");
		if (!ws[i].obj)
			return -ENOMEM;
		if (dot)
			ws[i].obj[dot - argv[i]] = '\0';
		ws[i].event = dot ? ws[i].obj + (dot - argv[i]) + 1 : argv[i];
	}
	return 0;
}

/* Milliseconds until a CLOCK_MONOTONIC deadline in microseconds, -1 for none. */
static int watch_poll_timeout(uint64_t deadline)
{
	struct timespec ts;

	if (deadline == UINT64_MAX)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	if (deadline <= now)
		return 0;
	uint64_t ms = (deadline - now + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Dispatch events until SIGINT or SIGTERM arrives on sfd (0), the host goes
 * away (-ENOTCONN) or stdout fails (-errno). */
static int watch_loop(struct ctl *ctl, int sfd)
{
	bk_conn *c = ctl->conn;

	while (!ctl->out_error) {
		struct pollfd p[2] = {
			{ .fd = bk_conn_get_fd(c), .events = (short)bk_conn_get_events(c) },
			{ .fd = sfd, .events = POLLIN },
		};
		int n = poll(p, 2, watch_poll_timeout(bk_conn_get_timeout(c)));
		if (n < 0 && errno != EINTR) {
			int r = -errno;
			fprintf(stderr, CTL_NAME ": poll: %s\n", strerror(-r));
			return r;
		}
		if (n > 0 && (p[1].revents & POLLIN))
			return 0;
		if (bk_conn_process(c) < 0) {
			fprintf(stderr, CTL_NAME ": %s\n", ctl->lost[0] ? ctl->lost
					: "Disconnected: the connection to bothost was lost");
			return -ENOTCONN;
		}
	}
	return -ctl->out_error;
}

/* Register every watch, then dispatch until interrupted. */
static int watch_run(struct ctl *ctl, struct watch *ws, int count, int sfd)
{
	int r = ctl_connect(ctl);

	if (r < 0)
		return r;
	bk_conn_set_disconnect_handler(ctl->conn, watch_lost_cb, ctl);
	for (int i = 0; i < count; i++) {
		r = bk_on(ctl->conn, ws[i].obj, ws[i].event, watch_event_cb, &ws[i], NULL, NULL);
		if (r < 0) {
			ctl_report_error(ctl, r);
			return r;
		}
	}
	return watch_loop(ctl, sfd);
}

/* botctl watch [OBJECT.]EVENT...: print events until interrupted. SIGINT and
 * SIGTERM are blocked before connecting and read from a signalfd, so one that
 * arrives at any moment ends the watch cleanly. */
static int cmd_watch(struct ctl *ctl, int argc, char **argv)
{
	struct watch *ws = calloc((size_t)argc, sizeof *ws);
	sigset_t mask;
	int sfd = -1, r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (!ws || watch_parse(ctl, argc, argv, ws) < 0) {
		fprintf(stderr, CTL_NAME ": out of memory\n");
		r = -ENOMEM;
	} else if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
		   (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		r = -errno;
		fprintf(stderr, CTL_NAME ": signalfd: %s\n", strerror(-r));
	} else {
		r = watch_run(ctl, ws, argc, sfd);
	}
	/* The connection goes before the watches its handlers point to. */
	ctl->conn = bk_conn_unref(ctl->conn);
	for (int i = 0; ws && i < argc; i++)
		free(ws[i].obj);
	free(ws);
	if (sfd >= 0)
		close(sfd);
	return r;
}

/* --- main --------------------------------------------------------------- */

/* Run a command whose arguments were checked: 0 or -errno (reported). */
static int ctl_run(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	if (cmd->id == CMD_WATCH)
		return cmd_watch(ctl, argc, argv);
	int r = ctl_connect(ctl);
	if (r < 0)
		return r;
	switch (cmd->id) {
	case CMD_STATUS: return cmd_status(ctl);
	case CMD_CLIENTS: return cmd_clients(ctl);
	case CMD_SERVICES: return cmd_services(ctl);
	case CMD_ROUTES: return cmd_routes(ctl);
	case CMD_LISTENERS: return cmd_listeners(ctl);
	case CMD_BEHAVIOURS: return cmd_behaviours(ctl);
	case CMD_INTROSPECT: return cmd_introspect(ctl, argc, argv);
	case CMD_CALL: return cmd_call(ctl, argc, argv);
	case CMD_SAY: return cmd_say(ctl, argc, argv);
	case CMD_RELOAD: return cmd_bot(ctl, "reload", NULL);
	case CMD_RESTART: return cmd_bot(ctl, "restart", argv[0]);
	case CMD_STORE: return cmd_store(ctl, argc, argv);
	case CMD_WATCH: break;
	}
	return -EINVAL;
}

/* The command named name, or NULL. */
static const struct command *ctl_find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Check a command's arguments: true when they are usable. */
static bool ctl_check_args(const struct command *cmd, int argc, char **argv)
{
	if (argc < cmd->min_args || (cmd->max_args >= 0 && argc > cmd->max_args)) {
		ctl_usage_error("usage: botctl [OPTION]... %s", cmd->synopsis);
		return false;
	}
	if (cmd->id == CMD_STORE && !(strcmp(argv[0], "list") == 0 || (strcmp(argv[0], "get") == 0 && argc == 3))) {
		ctl_usage_error("usage: botctl [OPTION]... %s", cmd->synopsis);
		return false;
	}
	for (int i = 0; cmd->id == CMD_WATCH && i < argc; i++) {
		if (!watch_spec_valid(argv[i])) {
			ctl_usage_error("invalid event '%s' (expected [OBJECT.]EVENT)", argv[i]);
			return false;
		}
	}
	return true;
}

/* Parse the command line and run the command: the exit status. */
static int ctl_main(struct ctl *ctl, int argc, char **argv)
{
	const struct command *cmd;
	int status = CTL_EXIT_USAGE;

	if (!ctl_parse_options(ctl, &argc, &argv, &status))
		return status;
	if (argc == 0)
		return ctl_usage_error("no command given");
	if (!(cmd = ctl_find_command(argv[0])))
		return ctl_usage_error("unknown command '%s'", argv[0]);
	if (!ctl_parse_options(ctl, &argc, &argv, &status))
		return status;
	if (!ctl_check_args(cmd, argc, argv))
		return CTL_EXIT_USAGE;
	return ctl_run(ctl, cmd, argc, argv) < 0 ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

/* botctl [OPTION]... COMMAND [ARG]... */
int main(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	int status;

	/* A closed stdout shows up as a failed write, not as a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	status = ctl_main(&ctl, argc, argv);
	ctl.conn = bk_conn_unref(ctl.conn);
	if (out_flush(&ctl) < 0) {
		if (ctl.out_error != EPIPE)
			fprintf(stderr, CTL_NAME ": cannot write to standard output: %s\n",
				strerror(ctl.out_error));
		if (status == CTL_EXIT_OK)
			status = CTL_EXIT_FAILED;
	}
	return status;
}
