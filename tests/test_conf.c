/* SPDX-License-Identifier: ISC */
/* The configuration file (bothost/conf.c) and bothost's --config, command-line
 * overrides and SIGHUP reload. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "harness.h"
#include "ircd.h"
#include "tests/paths.h"

#define WAIT_MS 5000		/* deadline for the host to start, log or exit */

static char dir[PATH_MAX];	/* a private directory for the test's files */
static char conf_path[PATH_MAX + 32];
static char log_path[PATH_MAX + 32];

/* ---- files ----------------------------------------------------------------- */

/* A fresh directory per test (removed by teardown). */
static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/bothost-conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf_path, sizeof conf_path, "%s/bothost.conf", dir);
	snprintf(log_path, sizeof log_path, "%s/bothost.log", dir);
}

/* Remove the directory and what the test left in it. */
static void teardown(void)
{
	char p[PATH_MAX + 64];
	const char *names[] = { "bothost.conf", "bothost.log", "file.sock", "tool", "tool2", "noexec",
				"sub/tool" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof p, "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
}

/* Write n bytes to the configuration file. */
static void write_conf_n(const char *text, size_t n)
{
	FILE *f = fopen(conf_path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* Write text to the configuration file. */
static void write_conf(const char *text)
{
	write_conf_n(text, strlen(text));
}

/* Load text, which must be valid. */
static void load_ok(const char *text, struct conf *c)
{
	char *error = NULL;
	int r;

	write_conf(text);
	r = conf_load(c, conf_path, &error);
	ck_assert_msg(r == 0, "load gave %d: %s", r, error ? error : "(no message)");
	ck_assert_ptr_null(error);
	ck_assert_str_eq(c->path, conf_path);
}

/* Load the configuration file, which must be valid. */
static void load_conf_ok(struct conf *c)
{
	char *error = NULL;
	int r = conf_load(c, conf_path, &error);

	ck_assert_msg(r == 0, "load gave %d: %s", r, error ? error : "(no message)");
}

/* Load text, which must fail with "PATH:line: message". */
static void load_err(const char *text, unsigned line, const char *message)
{
	struct conf c;
	char *error = NULL, want[PATH_MAX + 512];
	int r;

	write_conf(text);
	snprintf(want, sizeof want, "%s:%u: %s", conf_path, line, message);
	r = conf_load(&c, conf_path, &error);
	ck_assert_msg(r == -EINVAL, "load of <<%s>> gave %d", text, r);
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, want);
	ck_assert_ptr_null(c.path);		/* cleared */
	ck_assert_uint_eq(c.irc.n_servers, 0);
	free(error);
}

/* ---- defaults and every key ------------------------------------------------ */

/* Check that c holds the defaults of every key. */
static void check_defaults(const struct conf *c)
{
	ck_assert_ptr_null(c->socket_path);
	ck_assert_int_eq(c->log_level, LOG_LEVEL_INFO);
	ck_assert(!c->loopback);
	ck_assert_uint_eq(c->limits.frame_max, 1048576);
	ck_assert_uint_eq(c->limits.output_max, 4194304);
	ck_assert_uint_eq(c->limits.tokens_max, 4096);
	ck_assert_uint_eq(c->limits.handlers_max, 1024);
	ck_assert_uint_eq(c->limits.pending_max, 4096);
	ck_assert_uint_eq(c->limits.clients_max, 4096);
	ck_assert_uint_eq(c->limits.call_timeout_ms, 30000);
	ck_assert_uint_eq(c->irc.n_servers, 0);
	ck_assert_ptr_null(c->irc.nick);
	ck_assert_uint_eq(c->irc.n_alt_nicks, 0);
	ck_assert_str_eq(c->irc.username, "bothost");
	ck_assert_str_eq(c->irc.realname, "bothost");
	ck_assert_ptr_null(c->irc.password);
	ck_assert_uint_eq(c->irc.n_channels, 0);
	ck_assert_uint_eq(c->irc.connect_timeout_ms, 30000);
	ck_assert_uint_eq(c->irc.register_timeout_ms, 60000);
	ck_assert_uint_eq(c->irc.ping_idle_ms, 90000);
	ck_assert_uint_eq(c->irc.ping_timeout_ms, 90000);
	ck_assert_uint_eq(c->irc.reconnect_min_ms, 10000);
	ck_assert_uint_eq(c->irc.reconnect_max_ms, 300000);
	ck_assert_uint_eq(c->irc.stable_after_ms, 300000);
	ck_assert_uint_eq(c->irc.join_retry_ms, 60000);
	ck_assert_uint_eq(c->irc.regain_nick_ms, 60000);
	ck_assert(c->irc.rejoin_on_kick);
	ck_assert_uint_eq(c->irc.rejoin_delay_ms, 5000);
	ck_assert_uint_eq(c->irc.refusal_wait_ms, 2000);
	ck_assert_uint_eq(c->irc.burst, 5);
	ck_assert_uint_eq(c->irc.line_interval_ms, 1000);
	ck_assert_uint_eq(c->irc.queue_max, 300);
	ck_assert_uint_eq(c->irc.queue_max_age_ms, 300000);
	ck_assert_str_eq(c->irc.ctcp_version, PACKAGE_NAME " " PACKAGE_VERSION);
	ck_assert_uint_eq(c->irc.ctcp_per_minute, 6);
	ck_assert_str_eq(c->bot.command_prefix, "!");
	ck_assert_uint_eq(c->bot.n_owners, 0);
	ck_assert_uint_eq(c->bot.max_processes, 32);
	ck_assert_uint_eq(c->bot.user_commands.count, 12);
	ck_assert_uint_eq(c->bot.user_commands.window_ms, 60000);
	ck_assert_uint_eq(c->bot.user_ignore_ms, 300000);
	ck_assert_uint_eq(c->bot.n_behaviours, 0);
}

START_TEST(defaults_of_conf_init)
{
	struct conf c;

	ck_assert_int_eq(conf_init(&c), 0);
	ck_assert_ptr_null(c.path);
	check_defaults(&c);
	conf_clear(&c);
	conf_clear(&c);		/* twice is harmless */
	ck_assert_ptr_null(c.irc.username);
}
END_TEST

START_TEST(empty_file_gives_defaults)
{
	struct conf c;

	load_ok("", &c);
	check_defaults(&c);
	conf_clear(&c);
	load_ok("; only comments\n# and blank lines\n\n   \n[bothost]\n[limits]\n[irc]\n", &c);
	check_defaults(&c);
	conf_clear(&c);
}
END_TEST

START_TEST(every_key)
{
	struct conf c;

	load_ok("[bothost]\n"
		"socket = /tmp/somewhere/bothost.sock\n"
		"log_level = debug\n"
		"loopback = yes\n"
		"command_prefix = bot:\n"
		"owner = *!*@admin.example.org\n"
		"owner = account:alice\n"
		"max_processes = 5\n"
		"user_commands = 3/10s\n"
		"user_ignore = 1m\n"
		"\n"
		"[limits]\n"
		"frame_max = 65536\n"
		"output_max = 100000\n"
		"tokens_max = 10\n"
		"handlers_max = 11\n"
		"pending_max = 12\n"
		"clients_max = 13\n"
		"call_timeout = 1500ms\n"
		"\n"
		"[irc]\n"
		"server = irc.example.org\n"
		"nick = bot\n"
		"alt_nick = bot_\n"
		"username = botuser\n"
		"realname = The Bot   ; a comment after a space is dropped\n"
		"password = s3cret\n"
		"channel = #a\n"
		"connect_timeout = 5s\n"
		"register_timeout = 2m\n"
		"ping_idle = 1h\n"
		"ping_timeout = 45\n"
		"reconnect_min = 1s\n"
		"reconnect_max = 1d\n"
		"stable_after = 0\n"
		"join_retry = 30s\n"
		"regain_nick = 2m\n"
		"rejoin_on_kick = off\n"
		"rejoin_delay = 250ms\n"
		"refusal_wait = 0s\n"
		"burst = 3\n"
		"line_interval = 500ms\n"
		"queue_max = 50\n"
		"queue_max_age = 10m\n"
		"ctcp_version = mybot 1.0\n"
		"ctcp_per_minute = 0\n", &c);
	ck_assert_str_eq(c.socket_path, "/tmp/somewhere/bothost.sock");
	ck_assert_int_eq(c.log_level, LOG_LEVEL_DEBUG);
	ck_assert(c.loopback);
	ck_assert_uint_eq(c.limits.frame_max, 65536);
	ck_assert_uint_eq(c.limits.output_max, 100000);
	ck_assert_uint_eq(c.limits.tokens_max, 10);
	ck_assert_uint_eq(c.limits.handlers_max, 11);
	ck_assert_uint_eq(c.limits.pending_max, 12);
	ck_assert_uint_eq(c.limits.clients_max, 13);
	ck_assert_uint_eq(c.limits.call_timeout_ms, 1500);
	ck_assert_uint_eq(c.irc.n_servers, 1);
	ck_assert_str_eq(c.irc.servers[0].host, "irc.example.org");
	ck_assert_str_eq(c.irc.servers[0].port, "6667");
	ck_assert_str_eq(c.irc.nick, "bot");
	ck_assert_uint_eq(c.irc.n_alt_nicks, 1);
	ck_assert_str_eq(c.irc.alt_nicks[0], "bot_");
	ck_assert_str_eq(c.irc.username, "botuser");
	ck_assert_str_eq(c.irc.realname, "The Bot");
	ck_assert_str_eq(c.irc.password, "s3cret");
	ck_assert_uint_eq(c.irc.n_channels, 1);
	ck_assert_str_eq(c.irc.channels[0].name, "#a");
	ck_assert_ptr_null(c.irc.channels[0].key);
	ck_assert_uint_eq(c.irc.connect_timeout_ms, 5000);
	ck_assert_uint_eq(c.irc.register_timeout_ms, 120000);
	ck_assert_uint_eq(c.irc.ping_idle_ms, 3600000);
	ck_assert_uint_eq(c.irc.ping_timeout_ms, 45000);
	ck_assert_uint_eq(c.irc.reconnect_min_ms, 1000);
	ck_assert_uint_eq(c.irc.reconnect_max_ms, 86400000);
	ck_assert_uint_eq(c.irc.stable_after_ms, 0);
	ck_assert_uint_eq(c.irc.join_retry_ms, 30000);
	ck_assert_uint_eq(c.irc.regain_nick_ms, 120000);
	ck_assert(!c.irc.rejoin_on_kick);
	ck_assert_uint_eq(c.irc.rejoin_delay_ms, 250);
	ck_assert_uint_eq(c.irc.refusal_wait_ms, 0);
	ck_assert_uint_eq(c.irc.burst, 3);
	ck_assert_uint_eq(c.irc.line_interval_ms, 500);
	ck_assert_uint_eq(c.irc.queue_max, 50);
	ck_assert_uint_eq(c.irc.queue_max_age_ms, 600000);
	ck_assert_str_eq(c.irc.ctcp_version, "mybot 1.0");
	ck_assert_uint_eq(c.irc.ctcp_per_minute, 0);
	ck_assert_str_eq(c.bot.command_prefix, "bot:");
	ck_assert_uint_eq(c.bot.n_owners, 2);
	ck_assert_str_eq(c.bot.owners[0], "*!*@admin.example.org");
	ck_assert_str_eq(c.bot.owners[1], "account:alice");
	ck_assert_uint_eq(c.bot.max_processes, 5);
	ck_assert_uint_eq(c.bot.user_commands.count, 3);
	ck_assert_uint_eq(c.bot.user_commands.window_ms, 10000);
	ck_assert_uint_eq(c.bot.user_ignore_ms, 60000);
	conf_clear(&c);
}
END_TEST

/* ---- behaviour sections ------------------------------------------------------ */

/* Create an executable (or, with mode 0644, a plain) file in the directory. */
static void make_file(const char *name, mode_t mode)
{
	char p[PATH_MAX + 64];
	int fd;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(chmod(p, mode), 0);
}

START_TEST(behaviour_sections)
{
	struct conf c;
	const struct conf_behaviour *b;
	char text[PATH_MAX + 1024], tool[PATH_MAX + 16];

	make_file("tool", 0755);
	snprintf(tool, sizeof tool, "%s/tool", dir);
	snprintf(text, sizeof text,
		 "[command weather]\nexec = tool\narg = --city\narg = Paris\ntimeout = 10s\nmax_running = 4\n"
		 "channel_only = yes\nowner_only = yes\nhelp = the weather, today\nprivileged = yes\n"
		 "[timer tick]\nexec = %s\nevery = 90s\nat = 7:05\nat = 23:59\ntimeout = 0\n"
		 "[resident seen]\nexec = ./tool\nrestart_min = 2s\nrestart_max = 1m\nwatch = on\n"
		 "[command plain]\nexec = tool\n"
		 "[irc]\n[command weather]\narg = three\n", tool);
	load_ok(text, &c);
	ck_assert_uint_eq(c.bot.n_behaviours, 4);
	b = conf_behaviour_find(&c.bot, "WEATHER");
	ck_assert_ptr_eq(b, &c.bot.behaviours[0]);
	ck_assert_int_eq(b->kind, CONF_BEHAVIOUR_COMMAND);
	ck_assert_str_eq(b->name, "weather");
	ck_assert_str_eq(b->exec, tool);		/* relative to the file's directory */
	ck_assert_uint_eq(b->n_args, 3);
	ck_assert_str_eq(b->args[0], "--city");
	ck_assert_str_eq(b->args[1], "Paris");
	ck_assert_str_eq(b->args[2], "three");	/* a section given twice adds up */
	ck_assert_uint_eq(b->timeout_ms, 10000);
	ck_assert_uint_eq(b->max_running, 4);
	ck_assert(!b->private_ok);
	ck_assert(b->owner_only);
	ck_assert_str_eq(b->help, "the weather, today");
	ck_assert(b->privileged);
	b = &c.bot.behaviours[1];
	ck_assert_int_eq(b->kind, CONF_BEHAVIOUR_TIMER);
	ck_assert_str_eq(b->exec, tool);
	ck_assert_uint_eq(b->every_ms, 90000);
	ck_assert_uint_eq(b->n_at, 2);
	ck_assert_uint_eq(b->at[0], 7 * 60 + 5);
	ck_assert_uint_eq(b->at[1], 23 * 60 + 59);
	ck_assert_uint_eq(b->timeout_ms, 0);
	ck_assert(!b->privileged);
	b = &c.bot.behaviours[2];
	ck_assert_int_eq(b->kind, CONF_BEHAVIOUR_RESIDENT);
	ck_assert_uint_eq(b->restart_min_ms, 2000);
	ck_assert_uint_eq(b->restart_max_ms, 60000);
	ck_assert(b->watch);
	ck_assert_uint_eq(b->timeout_ms, 0);
	ck_assert_str_eq(conf_behaviour_kind_name(b->kind), "resident");
	/* The defaults. */
	b = &c.bot.behaviours[3];
	ck_assert_uint_eq(b->n_args, 0);
	ck_assert_uint_eq(b->timeout_ms, 30000);
	ck_assert_uint_eq(b->max_running, 2);
	ck_assert(b->private_ok);
	ck_assert(!b->owner_only);
	ck_assert_ptr_null(b->help);
	ck_assert(!b->privileged);
	ck_assert_ptr_null(conf_behaviour_find(&c.bot, "nothing"));
	conf_clear(&c);

	/* private_ok = no is channel_only = yes; copies compare equal. */
	load_ok("[command a]\nexec = tool\nprivate_ok = no\n[resident r]\nexec = tool\n", &c);
	ck_assert(!c.bot.behaviours[0].private_ok);
	ck_assert_uint_eq(c.bot.behaviours[1].restart_min_ms, 1000);
	ck_assert_uint_eq(c.bot.behaviours[1].restart_max_ms, 300000);
	ck_assert(!c.bot.behaviours[1].watch);
	{
		struct conf_behaviour copy;
		ck_assert_int_eq(conf_behaviour_copy(&copy, &c.bot.behaviours[0]), 0);
		ck_assert(conf_behaviour_equal(&copy, &c.bot.behaviours[0]));
		ck_assert(!conf_behaviour_equal(&copy, &c.bot.behaviours[1]));
		copy.max_running = 3;
		ck_assert(!conf_behaviour_equal(&copy, &c.bot.behaviours[0]));
		conf_behaviour_clear(&copy);
	}
	conf_clear(&c);
}
END_TEST

START_TEST(errors_behaviours)
{
	char text[PATH_MAX + 256];

	make_file("tool", 0755);
	make_file("noexec", 0644);
	load_err("[command]\n", 1, "section [command] needs a name: [command NAME]");
	load_err("[timer a/b]\n", 1, "invalid name 'a/b' in [timer a/b]: expected 1 to 32 letters, digits, '-', "
		 "'_' or '.'");
	load_err("[command help]\nexec = tool\n", 1, "[command help]: help is a built-in command");
	load_err("[command Status]\n", 1, "[command Status]: Status is a built-in command");
	load_err("[command w]\nexec = tool\n\n[timer W]\n", 4,
		 "[timer W]: the name is taken by [command w] on line 1");
	load_err("[command w]\n[bothost]\n", 1, "[command w] has no exec");
	load_err("[command w]\nexec = tool\nevery = 1m\n", 3,
		 "unknown key 'every' in [command w] (it belongs in [timer NAME])");
	load_err("[resident r]\nexec = tool\nnick = bot\n", 3, "unknown key 'nick' in [resident r] (it belongs in [irc])");
	load_err("[timer t]\nexec = tool\n", 1, "[timer t] needs every or at (or both)");
	load_err("[timer t]\nexec = tool\nat = 24:00\n", 3,
		 "invalid at '24:00': expected a time of day HH:MM (00:00 to 23:59)");
	load_err("[timer t]\nexec = tool\nat = 7:5\n", 3,
		 "invalid at '7:5': expected a time of day HH:MM (00:00 to 23:59)");
	load_err("[timer t]\nexec = tool\nevery = 500ms\n", 3, "every 500ms is out of range (1s to 7d)");
	load_err("[command c]\nexec = tool\nexec = tool\n", 3, "exec is already set on line 2 (only server, "
		 "alt_nick, channel, owner, arg and at can be repeated)");
	load_err("[command c]\nexec = tool\nmax_running = 0\n", 3, "max_running 0 is out of range (1 to 100)");
	load_err("[command c]\nexec = tool\nchannel_only = yes\nprivate_ok = yes\n", 4,
		 "channel_only and private_ok are the same setting (private_ok is not channel_only): give one of "
		 "them");
	load_err("[resident r]\nexec = tool\nrestart_max = 2s\nrestart_min = 3s\n", 4,
		 "restart_min (3s) is greater than restart_max (2s)");
	load_err("[command c]\narg =\nexec = tool\n", 2, "invalid arg: expected some text without control characters");
	snprintf(text, sizeof text, "invalid exec 'missing': %s/missing: No such file or directory", dir);
	load_err("[command c]\nexec = missing\n", 2, text);
	snprintf(text, sizeof text, "invalid exec 'noexec': %s/noexec is not executable", dir);
	if (geteuid() != 0)		/* root may run anything with an x bit, not a file without one either */
		load_err("[command c]\nexec = noexec\n", 2, text);
	load_err("[timer t]\nexec = /\n", 2, "invalid exec '/': / is not a regular file");

	/* Only root and the bot's user may be able to change what it runs. */
	char real[PATH_MAX], sub[PATH_MAX + 16], tool[PATH_MAX + 32];
	ck_assert_ptr_nonnull(realpath(dir, real));
	make_file("open", 0777);
	snprintf(text, sizeof text, "invalid exec 'open': %s/open can be changed by users other than root and "
		 "the bot's (owner uid %ld, mode 0777): make it owned by one of them and not writable by group "
		 "or others", real, (long)geteuid());
	load_err("[command c]\nexec = open\n", 2, text);
	snprintf(sub, sizeof sub, "%s/shared", real);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	snprintf(tool, sizeof tool, "%s/tool", sub);
	char orig[PATH_MAX + 16];
	snprintf(orig, sizeof orig, "%s/tool", real);
	ck_assert_int_eq(link(orig, tool), 0);
	snprintf(text, sizeof text, "invalid exec 'shared/../shared/tool': %s can be changed by users other "
		 "than root and the bot's (owner uid %ld, mode 0777): make it owned by one of them and not "
		 "writable by group or others", sub, (long)geteuid());
	load_err("[command c]\nexec = shared/../shared/tool\n", 2, text);
	/* A sticky directory (as /tmp) is fine: others cannot replace the bot's file in it. */
	ck_assert_int_eq(chmod(sub, 01777), 0);
	struct conf c;
	char *error = NULL;
	write_conf("[command c]\nexec = shared/tool\n");
	ck_assert_int_eq(conf_load(&c, conf_path, &error), 0);
	conf_clear(&c);
	if (geteuid() == 0) {
		/* a file of another user, even in a sticky directory */
		ck_assert_int_eq(chown(tool, 12345, 12345), 0);
		snprintf(text, sizeof text, "invalid exec 'shared/tool': %s can be changed by users other than "
			 "root and the bot's (owner uid 12345, mode 0755): make it owned by one of them and not "
			 "writable by group or others", tool);
		load_err("[command c]\nexec = shared/tool\n", 2, text);
	}
	unlink(tool);
	rmdir(sub);
	snprintf(orig, sizeof orig, "%s/open", real);
	unlink(orig);
}
END_TEST

START_TEST(resident_commands)
{
	struct conf c;
	const struct conf_behaviour *b;
	struct conf_behaviour copy;

	make_file("tool", 0755);
	load_ok("[resident seen]\nexec = tool\ncommands = seen  Last.seen\thi-2\nhelp = when a nick was last seen\n"
		"[resident other]\nexec = tool\n[command last]\nexec = tool\n", &c);
	b = &c.bot.behaviours[0];
	ck_assert_uint_eq(b->n_commands, 3);
	ck_assert_str_eq(b->commands[0], "seen");
	ck_assert_str_eq(b->commands[1], "Last.seen");
	ck_assert_str_eq(b->commands[2], "hi-2");
	ck_assert_str_eq(b->help, "when a nick was last seen");
	/* Words compare as command names do, ignoring case. */
	ck_assert(conf_behaviour_claims(b, "SEEN"));
	ck_assert(conf_behaviour_claims(b, "last.seen"));
	ck_assert(!conf_behaviour_claims(b, "last"));
	ck_assert(!conf_behaviour_claims(&c.bot.behaviours[1], "seen"));
	ck_assert_uint_eq(c.bot.behaviours[1].n_commands, 0);
	ck_assert_ptr_null(c.bot.behaviours[1].help);
	/* A copy says the same; another word does not. */
	ck_assert_int_eq(conf_behaviour_copy(&copy, b), 0);
	ck_assert(conf_behaviour_equal(&copy, b));
	free(copy.commands[2]);
	copy.commands[2] = strdup("hi-3");
	ck_assert_ptr_nonnull(copy.commands[2]);
	ck_assert(!conf_behaviour_equal(&copy, b));
	conf_behaviour_clear(&copy);
	conf_clear(&c);

	load_err("[resident r]\nexec = tool\ncommands =\n", 3, "invalid commands: expected one or more command words");
	load_err("[resident r]\nexec = tool\ncommands = seen a/b\n", 3, "invalid commands word 'a/b': expected 1 to "
		 "32 letters, digits, '-', '_' or '.', starting with a letter or a digit");
	load_err("[resident r]\nexec = tool\ncommands = -seen\n", 3, "invalid commands word '-seen': expected 1 to "
		 "32 letters, digits, '-', '_' or '.', starting with a letter or a digit");
	load_err("[resident r]\nexec = tool\ncommands = seen Help\n", 3,
		 "invalid commands word 'Help': Help is a built-in command");
	load_err("[resident r]\nexec = tool\ncommands = seen SEEN\n", 3, "invalid commands: 'SEEN' is listed twice");
	load_err("[resident r]\nexec = tool\ncommands = a\ncommands = b\n", 4, "commands is already set on line 3 "
		 "(only server, alt_nick, channel, owner, arg and at can be repeated)");
	load_err("[command c]\nexec = tool\ncommands = c\n", 3,
		 "unknown key 'commands' in [command c] (it belongs in [resident NAME])");
	/* Claimed twice, or a command's name: the whole file is looked at. */
	load_err("[resident a]\nexec = tool\ncommands = seen last\n\n[resident b]\nexec = tool\ncommands = LAST\n", 7,
		 "the command word 'LAST' is claimed by both [resident a] (line 3) and [resident b] (line 7)");
	load_err("[resident a]\nexec = tool\ncommands = seen\n[command seen]\nexec = tool\n", 3,
		 "[resident a] claims the command word 'seen', which is [command seen] on line 4");
	load_err("[command seen]\nexec = tool\n[resident a]\nexec = tool\ncommands = x Seen\n", 5,
		 "[resident a] claims the command word 'Seen', which is [command seen] on line 1");
}
END_TEST

START_TEST(errors_bothost_keys)
{
	load_err("[bothost]\ncommand_prefix = a b\n", 2,
		 "invalid command_prefix 'a b': expected 1 to 8 characters without spaces");
	load_err("[bothost]\ncommand_prefix = 123456789\n", 2,
		 "invalid command_prefix '123456789': expected 1 to 8 characters without spaces");
	load_err("[bothost]\nowner = alice\n", 2, "invalid owner 'alice': expected a nick!user@host mask "
		 "(* and ? match any characters and one character) or account:NAME");
	load_err("[bothost]\nowner = a!b\n", 2, "invalid owner 'a!b': expected a nick!user@host mask "
		 "(* and ? match any characters and one character) or account:NAME");
	load_err("[bothost]\nowner = account:\n", 2, "invalid owner 'account:': expected a nick!user@host mask "
		 "(* and ? match any characters and one character) or account:NAME");
	load_err("[bothost]\nmax_processes = 0\n", 2, "max_processes 0 is out of range (1 to 10000)");
	load_err("[bothost]\nuser_commands = 12\n", 2,
		 "invalid user_commands '12': expected a count and a duration such as 12/1m");
	load_err("[bothost]\nuser_commands = x/1m\n", 2,
		 "invalid user_commands 'x/1m': expected a count and a duration such as 12/1m");
	load_err("[bothost]\nuser_commands = 0/1m\n", 2,
		 "user_commands 0/1m is out of range (1 to 100 commands per 1s to 1d)");
	load_err("[bothost]\nuser_commands = 5/2d\n", 2,
		 "user_commands 5/2d is out of range (1 to 100 commands per 1s to 1d)");
	load_err("[bothost]\nuser_ignore = 0\n", 2, "user_ignore 0 is out of range (1s to 1d)");
}
END_TEST

/* A relative configuration path: exec is still found beside the file. */
START_TEST(exec_beside_relative_file)
{
	struct conf c;
	char *error = NULL, cwd[PATH_MAX], want[PATH_MAX + 16];

	make_file("tool", 0755);
	write_conf("[command c]\nexec = tool\n");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir("/tmp"), 0);
	ck_assert_int_eq(conf_load(&c, conf_path + strlen("/tmp/"), &error), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	snprintf(want, sizeof want, "/tmp/%s/tool", dir + strlen("/tmp/"));
	ck_assert_str_eq(c.bot.behaviours[0].exec, want);
	conf_clear(&c);
}
END_TEST

/* What inih itself accepts: a BOM, CRLF, "key: value", comments, spaces. */
START_TEST(ini_syntax)
{
	struct conf c;

	load_ok("\xEF\xBB\xBF[irc]\r\nnick: bot\r\n  ; an indented comment\r\n"
		"username=u\r\n# comment\n[limits]\n  frame_max   =   100  \n", &c);
	ck_assert_str_eq(c.irc.nick, "bot");
	ck_assert_str_eq(c.irc.username, "u");
	ck_assert_uint_eq(c.limits.frame_max, 100);
	conf_clear(&c);
}
END_TEST

START_TEST(booleans)
{
	static const struct { const char *text; bool value; } cases[] = {
		{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
		{ "on", true }, { "off", false }, { "1", true }, { "0", false },
		{ "YES", true }, { "Off", false }, { "True", true },
	};
	char text[128];
	struct conf c;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "[bothost]\nloopback = %s\n[irc]\nrejoin_on_kick = %s\n",
			 cases[i].text, cases[i].text);
		load_ok(text, &c);
		ck_assert_msg(c.loopback == cases[i].value, "%s", cases[i].text);
		ck_assert_msg(c.irc.rejoin_on_kick == cases[i].value, "%s", cases[i].text);
		conf_clear(&c);
	}
}
END_TEST

/* ---- durations ------------------------------------------------------------- */

START_TEST(durations)
{
	static const struct { const char *text; int r; unsigned ms; } cases[] = {
		{ "0", 0, 0 }, { "30", 0, 30000 }, { "250ms", 0, 250 }, { "30s", 0, 30000 },
		{ "5m", 0, 300000 }, { "2h", 0, 7200000 }, { "1d", 0, 86400000 },
		{ "0ms", 0, 0 }, { "007s", 0, 7000 }, { "4294967295ms", 0, 4294967295u },
		{ "49d", 0, 49u * 86400000u },
		{ "4294967296ms", -ERANGE, 0 }, { "50d", -ERANGE, 0 }, { "4294968s", -ERANGE, 0 },
		{ "99999999999999999999999999d", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "s", -EINVAL, 0 }, { "ms", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 }, { "1.5s", -EINVAL, 0 }, { "10 s", -EINVAL, 0 },
		{ "1w", -EINVAL, 0 }, { "1S", -EINVAL, 0 }, { "1sec", -EINVAL, 0 }, { " 1", -EINVAL, 0 },
		{ "1m1s", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned ms = 12345;
		int r = conf_parse_duration(cases[i].text, &ms);
		ck_assert_msg(r == cases[i].r, "'%s' gave %d", cases[i].text, r);
		ck_assert_msg(ms == (r == 0 ? cases[i].ms : 12345), "'%s' gave %u ms", cases[i].text, ms);
	}
}
END_TEST

/* ---- repeated keys and server syntax --------------------------------------- */

START_TEST(repeated_keys)
{
	struct conf c;

	load_ok("[irc]\n"
		"server = a.example.org\n"
		"nick = bot\n"
		"server = b.example.org:6697\n"
		"alt_nick = bot_\n"
		"channel = #one\n"
		"alt_nick = bot__\n"
		"channel = &two  secret\n"
		"[limits]\n"
		"[irc]\n"
		"server = 192.0.2.1:7000\n"
		"alt_nick = [bot]\n"
		"channel = #three\n", &c);
	ck_assert_uint_eq(c.irc.n_servers, 3);
	ck_assert_str_eq(c.irc.servers[0].host, "a.example.org");
	ck_assert_str_eq(c.irc.servers[0].port, "6667");
	ck_assert_str_eq(c.irc.servers[1].host, "b.example.org");
	ck_assert_str_eq(c.irc.servers[1].port, "6697");
	ck_assert_str_eq(c.irc.servers[2].host, "192.0.2.1");
	ck_assert_str_eq(c.irc.servers[2].port, "7000");
	ck_assert_uint_eq(c.irc.n_alt_nicks, 3);
	ck_assert_str_eq(c.irc.alt_nicks[0], "bot_");
	ck_assert_str_eq(c.irc.alt_nicks[1], "bot__");
	ck_assert_str_eq(c.irc.alt_nicks[2], "[bot]");
	ck_assert_uint_eq(c.irc.n_channels, 3);
	ck_assert_str_eq(c.irc.channels[0].name, "#one");
	ck_assert_ptr_null(c.irc.channels[0].key);
	ck_assert_str_eq(c.irc.channels[1].name, "&two");
	ck_assert_str_eq(c.irc.channels[1].key, "secret");
	ck_assert_str_eq(c.irc.channels[2].name, "#three");
	conf_clear(&c);
}
END_TEST

START_TEST(ipv6_servers)
{
	struct conf c;

	load_ok("[irc]\nnick = bot\n"
		"server = [2001:db8::1]:6697\n"
		"server = [::1]\n"
		"server = [fe80::1%eth0]:7000\n"
		"server = [::ffff:192.0.2.1]:1\n"
		"server = irc.example.org:65535\n", &c);
	ck_assert_uint_eq(c.irc.n_servers, 5);
	ck_assert_str_eq(c.irc.servers[0].host, "2001:db8::1");
	ck_assert_str_eq(c.irc.servers[0].port, "6697");
	ck_assert_str_eq(c.irc.servers[1].host, "::1");
	ck_assert_str_eq(c.irc.servers[1].port, "6667");
	ck_assert_str_eq(c.irc.servers[2].host, "fe80::1%eth0");
	ck_assert_str_eq(c.irc.servers[2].port, "7000");
	ck_assert_str_eq(c.irc.servers[3].host, "::ffff:192.0.2.1");
	ck_assert_str_eq(c.irc.servers[3].port, "1");
	ck_assert_str_eq(c.irc.servers[4].port, "65535");
	conf_clear(&c);

	load_err("[irc]\nnick = bot\nserver = ::1\n", 3,
		 "invalid server '::1': an IPv6 address goes in brackets, as in [2001:db8::1]:6667");
	load_err("[irc]\nnick = bot\nserver = 2001:db8::1:6667\n", 3,
		 "invalid server '2001:db8::1:6667': an IPv6 address goes in brackets, as in "
		 "[2001:db8::1]:6667");
	load_err("[irc]\nnick = bot\nserver = [::1\n", 3,
		 "invalid server '[::1': expected host, host:port or [IPv6 address]:port");
	load_err("[irc]\nnick = bot\nserver = [::1]6667\n", 3,
		 "invalid server '[::1]6667': expected host, host:port or [IPv6 address]:port");
	load_err("[irc]\nnick = bot\nserver = [irc.example.org]:6667\n", 3,
		 "invalid server '[irc.example.org]:6667': expected host, host:port or [IPv6 address]:port");
	load_err("[irc]\nnick = bot\nserver = []:6667\n", 3,
		 "invalid server '[]:6667': expected host, host:port or [IPv6 address]:port");
	load_err("[irc]\nnick = bot\nserver = [::1]:0\n", 3,
		 "invalid server '[::1]:0': port 0 is out of range (1 to 65535)");
	load_err("[irc]\nnick = bot\nserver = [::1]:\n", 3,
		 "invalid server '[::1]:': expected a port number after ':'");
}
END_TEST

/* The limits of behaviours: [behaviours] gives the defaults, wherever it
 * is in the file; a section's own limit_* keys win. */
START_TEST(behaviour_limits)
{
	struct conf c;
	const struct conf_behaviour *b;

	make_file("tool", 0755);
	ck_assert_int_eq(conf_init(&c), 0);
	ck_assert_uint_eq(c.behaviour_limits.files, 256);
	ck_assert_uint_eq(c.behaviour_limits.core, 0);
	ck_assert_uint_eq(c.behaviour_limits.cpu_s, SPAWN_UNLIMITED);
	ck_assert_uint_eq(c.behaviour_limits.processes, SPAWN_UNLIMITED);
	ck_assert_uint_eq(c.behaviour_limits.file_size, SPAWN_UNLIMITED);
	conf_clear(&c);
	load_ok("[command one]\nexec = tool\nlimit_memory = 64M\nlimit_cpu = 2m\n"
		"[behaviours]\nlimit_memory = 1G\nlimit_cpu = 10s\nlimit_processes = 50\nlimit_files = 64\n"
		"limit_file_size = 10m\nlimit_core = unlimited\n"
		"[timer two]\nexec = tool\nevery = 1m\nlimit_files = unlimited\nlimit_file_size = 1024\n"
		"[resident three]\nexec = tool\n", &c);
	ck_assert_uint_eq(c.behaviour_limits.memory, 1ull << 30);
	b = conf_behaviour_find(&c.bot, "one");
	ck_assert_uint_eq(b->limits.memory, 64ull << 20);
	ck_assert_uint_eq(b->limits.cpu_s, 120);
	ck_assert_uint_eq(b->limits.processes, 50);
	ck_assert_uint_eq(b->limits.files, 64);
	ck_assert_uint_eq(b->limits.file_size, 10ull << 20);
	ck_assert_uint_eq(b->limits.core, SPAWN_UNLIMITED);
	b = conf_behaviour_find(&c.bot, "two");
	ck_assert_uint_eq(b->limits.memory, 1ull << 30);
	ck_assert_uint_eq(b->limits.cpu_s, 10);
	ck_assert_uint_eq(b->limits.files, SPAWN_UNLIMITED);
	ck_assert_uint_eq(b->limits.file_size, 1024);
	b = conf_behaviour_find(&c.bot, "three");
	ck_assert_mem_eq(&b->limits, &c.behaviour_limits, sizeof b->limits);
	conf_clear(&c);
}
END_TEST

static void collect_cb(const char *change, void *userdata);

/* Changed defaults show as a [behaviours] change and change the sections
 * that take them. */
START_TEST(compare_limits)
{
	struct conf a, b;
	char changes[1024] = "";

	make_file("tool", 0755);
	load_ok("[command one]\nexec = tool\n[command two]\nexec = tool\nlimit_memory = 2G\n", &a);
	load_ok("[behaviours]\nlimit_memory = 1G\nlimit_cpu = 90s\n"
		"[command one]\nexec = tool\n[command two]\nexec = tool\nlimit_memory = 2G\n", &b);
	ck_assert_int_eq(conf_compare(&a, &b, collect_cb, changes), 4);
	ck_assert_msg(strstr(changes, "[behaviours] limit_memory: ") && strstr(changes, " -> 1G\n") &&
		      strstr(changes, "[behaviours] limit_cpu: unlimited -> 90s\n") &&
		      strstr(changes, "[command one] changed\n") && strstr(changes, "[command two] changed\n"),
		      "%s", changes);
	conf_clear(&a);
	conf_clear(&b);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(errors_limits)
{
	make_file("tool", 0755);
	load_err("[behaviours]\nlimit_memory = 512X\n", 2, "invalid limit_memory '512X': expected a size such as "
		 "512K, 256M or 1G (a bare number is bytes), or unlimited");
	load_err("[behaviours]\nlimit_memory = 512MB\n", 2, "invalid limit_memory '512MB': expected a size such "
		 "as 512K, 256M or 1G (a bare number is bytes), or unlimited");
	load_err("[behaviours]\n\nlimit_memory = 1000\n", 3,
		 "limit_memory 1000 is out of range (1M to 1024T, or unlimited)");
	load_err("[behaviours]\nlimit_memory = 99999999999999999999999G\n", 2,
		 "limit_memory 99999999999999999999999G is out of range (1M to 1024T, or unlimited)");
	load_err("[command x]\nexec = tool\nlimit_cpu = 1500ms\n", 3, "invalid limit_cpu '1500ms': expected a "
		 "duration in whole seconds such as 30s, 5m or 1h, or unlimited");
	load_err("[timer x]\nexec = tool\nevery = 1m\nlimit_cpu = 0\n", 4,
		 "limit_cpu 0 is out of range (1s to 30d, or unlimited)");
	load_err("[resident x]\nexec = tool\nlimit_files = 2\n", 3,
		 "limit_files 2 is out of range (4 to 1048576, or unlimited)");
	load_err("[resident x]\nexec = tool\nlimit_processes = many\n", 3,
		 "invalid limit_processes 'many': expected a whole number, or unlimited");
	load_err("[behaviours]\nlimit_core = -1\n", 2, "invalid limit_core '-1': expected a size such as "
		 "512K, 256M or 1G (a bare number is bytes), or unlimited");
	load_err("[behaviours]\nlimit_files = 64\nlimit_files = 32\n", 3, "limit_files is already set on line 2 "
		 "(only server, alt_nick, channel, owner, arg and at can be repeated)");
	load_err("[irc]\nlimit_files = 64\n", 2,
		 "unknown key 'limit_files' in [irc] (it belongs in [behaviours])");
	load_err("[behaviours]\nexec = tool\n", 2, "unknown key 'exec' in [behaviours] (it belongs in [command NAME])");
}
END_TEST

START_TEST(errors_sections_and_keys)
{
	load_err("[bothost]\n[irc]\n[foo]\n", 3, "unknown section [foo] (expected [bothost], [limits], [irc], "
		 "[behaviours], [store], [http], [command NAME], [timer NAME], [resident NAME], [route NAME] or [listen NAME])");
	load_err("[command greet]\nrun = /bin/true\n", 2, "unknown key 'run' in [command greet]");
	load_err("[irc]\nnick = bot\n\n[timers tick]\n", 4, "unknown section [timers tick] (expected "
		 "[bothost], [limits], [irc], [behaviours], [store], [http], [command NAME], [timer NAME], [resident NAME], [route NAME] or [listen NAME])");
	load_err("[owners]\nalice = *!*@example.org\n", 1, "unknown section [owners] (expected [bothost], "
		 "[limits], [irc], [behaviours], [store], [http], [command NAME], [timer NAME], [resident NAME], [route NAME] or [listen NAME])");
	load_err("[IRC]\n", 1, "unknown section [IRC] (expected [bothost], [limits], [irc], [behaviours], [store], [http], "
		 "[command NAME], [timer NAME], [resident NAME], [route NAME] or [listen NAME])");
	load_err("[ irc ]\n", 1, "unknown section [ irc ] (expected [bothost], [limits], [irc], "
		 "[behaviours], [store], [http], [command NAME], [timer NAME], [resident NAME], [route NAME] or [listen NAME])");
	load_err("[bothost]\nowners = alice\n", 2, "unknown key 'owners' in [bothost]");
	load_err("[irc]\nnick = bot\nnik = bot\n", 3, "unknown key 'nik' in [irc]");
	load_err("[bothost]\nframe_max = 100\n", 2,
		 "unknown key 'frame_max' in [bothost] (it belongs in [limits])");
	load_err("socket = /tmp/x.sock\n[bothost]\n", 1,
		 "key 'socket' before any section (it belongs in [bothost])");
	load_err("; comment\nfoo = 1\n", 2, "key 'foo' before any section");
	load_err("[irc]\nnick = a\nusername = u\nnick = b\n", 4, "nick is already set on line 2 (only server, "
		 "alt_nick, channel, owner, arg and at can be repeated)");
	load_err("[limits]\nframe_max = 100\n[irc]\n[limits]\nframe_max = 100\n", 5, "frame_max is already set "
		 "on line 2 (only server, alt_nick, channel, owner, arg and at can be repeated)");
}
END_TEST

START_TEST(errors_syntax)
{
	char text[400];

	load_err("[irc]\nnick = bot\njust some words\n", 3,
		 "expected 'key = value', a [section] or a comment");
	load_err("[irc\nnick = bot\n", 1, "section header without a closing ']'");
	load_err("[irc]\n= bot\n", 2, "expected 'key = value' (the key is missing)");
	load_err("[irc]\nnick = bot\n  alt_nick = bot_\n", 3,
		 "indented line: continuation lines are not supported (remove the indentation)");
	load_err("[irc]\nnick = bot\n\n\tbot2\n", 4,
		 "indented line: continuation lines are not supported (remove the indentation)");
	/* The first error of the file is the one reported, whichever finds it. */
	load_err("[irc]\nwords\nnik = x\n", 2, "expected 'key = value', a [section] or a comment");
	load_err("[irc]\nnik = x\nwords\n", 2, "unknown key 'nik' in [irc]");
	load_err("[irc]\nwords\n[foo]\n", 2, "expected 'key = value', a [section] or a comment");
	snprintf(text, sizeof text, "[irc]\nrealname = %0250d\n", 0);
	load_err(text, 2, "line too long (at most 198 bytes)");
	write_conf_n("[irc]\nnick = b\0t\n", sizeof "[irc]\nnick = b\0t\n" - 1);
	{
		struct conf c;
		char *error = NULL, want[PATH_MAX + 64];

		snprintf(want, sizeof want, "%s:2: the line holds a NUL byte", conf_path);
		ck_assert_int_eq(conf_load(&c, conf_path, &error), -EINVAL);
		ck_assert_str_eq(error, want);
		free(error);
	}
}
END_TEST

START_TEST(errors_values)
{
	load_err("[bothost]\nlog_level = loud\n", 2,
		 "invalid log_level 'loud': expected error, warn, info or debug");
	load_err("[bothost]\nloopback = maybe\n", 2,
		 "invalid loopback 'maybe': expected yes, no, true, false, on, off, 1 or 0");
	load_err("[irc]\nrejoin_on_kick = \n", 2,
		 "invalid rejoin_on_kick '': expected yes, no, true, false, on, off, 1 or 0");
	load_err("[bothost]\nsocket = relative.sock\n", 2,
		 "invalid socket 'relative.sock': expected an absolute path");
	load_err("[bothost]\nsocket = /tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n", 2,
		 "invalid socket: the path is longer than 107 bytes");
	load_err("[limits]\nframe_max = 1k\n", 2, "invalid frame_max '1k': expected a whole number");
	load_err("[limits]\npending_max = -1\n", 2, "invalid pending_max '-1': expected a whole number");
	load_err("[limits]\ntokens_max =\n", 2, "invalid tokens_max '': expected a whole number");
	load_err("[limits]\nframe_max = 63\n", 2, "frame_max 63 is out of range (64 to 9223372036854775807)");
	load_err("[limits]\nclients_max = 0\n", 2, "clients_max 0 is out of range (1 to 9223372036854775807)");
	load_err("[limits]\noutput_max = 99999999999999999999999\n", 2,
		 "output_max 99999999999999999999999 is out of range (1 to 9223372036854775807)");
	load_err("[irc]\nburst = 0\n", 2, "burst 0 is out of range (1 to 100)");
	load_err("[irc]\nqueue_max = 100001\n", 2, "queue_max 100001 is out of range (1 to 100000)");
	load_err("[irc]\nctcp_per_minute = 601\n", 2, "ctcp_per_minute 601 is out of range (0 to 600)");
	load_err("[irc]\nnick = 9bot\n", 2, "invalid nick '9bot': a nick starts with a letter or one of "
		 "[]\\`_^{|} and goes on with those, digits and '-'");
	load_err("[irc]\nnick = bot\nalt_nick = bot!\n", 3, "invalid alt_nick 'bot!': a nick starts with "
		 "a letter or one of []\\`_^{|} and goes on with those, digits and '-'");
	load_err("[irc]\nnick =\n", 2, "invalid nick '': a nick starts with a letter or one of "
		 "[]\\`_^{|} and goes on with those, digits and '-'");
	load_err("[irc]\nusername = a@b\n", 2, "invalid username 'a@b': expected one word without '@'");
	load_err("[irc]\nusername = a b\n", 2, "invalid username 'a b': expected one word without '@'");
	load_err("[irc]\npassword = :x\n", 2,
		 "invalid password: expected one word without spaces, not starting with ':'");
	load_err("[irc]\npassword = two words\n", 2,
		 "invalid password: expected one word without spaces, not starting with ':'");
	load_err("[irc]\nrealname =\n", 2, "invalid realname: expected some text");
	load_err("[irc]\nctcp_version = a\tb\n", 2,
		 "invalid ctcp_version: expected text without control characters");
}
END_TEST

START_TEST(errors_channels)
{
	load_err("[irc]\nchannel = nochan\n", 2, "invalid channel name 'nochan': expected # or & then "
		 "up to 199 bytes without spaces, commas or BEL");
	load_err("[irc]\nchannel = !chan\n", 2, "invalid channel name '!chan': expected # or & then "
		 "up to 199 bytes without spaces, commas or BEL");
	load_err("[irc]\nchannel = #a,#b\n", 2, "invalid channel name '#a,#b': expected # or & then "
		 "up to 199 bytes without spaces, commas or BEL");
	load_err("[irc]\nchannel = #\n", 2, "invalid channel name '#': expected # or & then "
		 "up to 199 bytes without spaces, commas or BEL");
	load_err("[irc]\nchannel = #a key extra\n", 2,
		 "invalid channel '#a key extra': expected '#name' or '#name key'");
	load_err("[irc]\nchannel = #a :key\n", 2,
		 "invalid key for channel #a: expected one word without commas, not starting with ':'");
	load_err("[irc]\nchannel = #a k,ey\n", 2,
		 "invalid key for channel #a: expected one word without commas, not starting with ':'");
	load_err("[irc]\nchannel = #Chan[1]\nchannel = #chan{1}\n", 3, "channel #chan{1} is listed twice");
}
END_TEST

START_TEST(errors_durations)
{
	load_err("[irc]\nconnect_timeout = soon\n", 2, "invalid connect_timeout 'soon': expected a duration "
		 "such as 250ms, 30s, 5m, 2h or 1d (a bare number is seconds)");
	load_err("[limits]\ncall_timeout = 1.5s\n", 2, "invalid call_timeout '1.5s': expected a duration "
		 "such as 250ms, 30s, 5m, 2h or 1d (a bare number is seconds)");
	load_err("[irc]\nconnect_timeout = 50ms\n", 2, "connect_timeout 50ms is out of range (100ms to 1h)");
	load_err("[irc]\nping_timeout = 2h\n", 2, "ping_timeout 2h is out of range (100ms to 1h)");
	load_err("[limits]\ncall_timeout = 2d\n", 2, "call_timeout 2d is out of range (0s to 1d)");
	load_err("[irc]\nping_idle = 99999999999\n", 2,
		 "ping_idle 99999999999 is out of range (100ms to 1d)");
	load_err("[irc]\nline_interval = 61s\n", 2, "line_interval 61s is out of range (0s to 1m)");
}
END_TEST

START_TEST(errors_whole_file)
{
	load_err("[irc]\nchannel = #a\nserver = irc.example.org\nserver = irc2.example.org\n", 3,
		 "a server is set but no nick (nick is required to connect)");
	load_err("[irc]\nreconnect_max = 1m\nnick = bot\nreconnect_min = 5m\n", 4,
		 "reconnect_min (5m) is greater than reconnect_max (1m)");
	load_err("[irc]\nreconnect_min = 90s\nreconnect_max = 1m\n", 3,
		 "reconnect_min (90s) is greater than reconnect_max (1m)");
	load_err("[irc]\nreconnect_min = 10m\n", 2, "reconnect_min (10m) is greater than reconnect_max (5m)");
}
END_TEST

START_TEST(errors_unreadable)
{
	struct conf c;
	char *error = NULL, want[PATH_MAX + 128], missing[PATH_MAX + 32], sub[PATH_MAX + 32];

	snprintf(missing, sizeof missing, "%s/missing.conf", dir);
	snprintf(want, sizeof want, "%s: cannot read: No such file or directory", missing);
	ck_assert_int_eq(conf_load(&c, missing, &error), -ENOENT);
	ck_assert_str_eq(error, want);
	free(error);

	snprintf(sub, sizeof sub, "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(want, sizeof want, "%s: cannot read: Is a directory", sub);
	ck_assert_int_eq(conf_load(&c, sub, &error), -EISDIR);
	ck_assert_str_eq(error, want);
	free(error);

	{
		static char big[(1 << 20) + 2];
		memset(big, ';', sizeof big - 1);
		write_conf(big);
		snprintf(want, sizeof want, "%s: cannot read: larger than 1 MiB", conf_path);
		ck_assert_int_eq(conf_load(&c, conf_path, &error), -EFBIG);
		ck_assert_str_eq(error, want);
		free(error);
	}

	if (geteuid() != 0) {		/* root reads anything */
		write_conf("[irc]\n");
		ck_assert_int_eq(chmod(conf_path, 0), 0);
		snprintf(want, sizeof want, "%s: cannot read: Permission denied", conf_path);
		ck_assert_int_eq(conf_load(&c, conf_path, &error), -EACCES);
		ck_assert_str_eq(error, want);
		free(error);
	}
}
END_TEST

/* ---- comparing ----------------------------------------------------------------- */

/* Append one change to a buffer. */
static void collect_cb(const char *change, void *userdata)
{
	char *buf = userdata;

	strcat(buf, change);
	strcat(buf, "\n");
}

START_TEST(compare)
{
	struct conf a, b;
	char changes[4096] = "";

	load_ok("[limits]\nframe_max = 100\n[irc]\nnick = bot\nserver = x.example.org\npassword = one\n"
		"channel = #a k1\nchannel = #b\n", &a);
	ck_assert_int_eq(conf_compare(&a, &a, collect_cb, changes), 0);
	ck_assert_str_eq(changes, "");
	load_ok("[bothost]\nlog_level = debug\n[limits]\nframe_max = 200\ncall_timeout = 90s\n"
		"[irc]\nnick = bot\nserver = [::1]:7000\nserver = x.example.org\npassword = two\n"
		"channel = #a k2\nchannel = #b\n", &b);
	ck_assert_int_eq(conf_compare(&a, &b, collect_cb, changes), 6);
	ck_assert_str_eq(changes,
			 "[bothost] log_level: info -> debug\n"
			 "[limits] frame_max: 100 -> 200\n"
			 "[limits] call_timeout: 30s -> 90s\n"
			 "[irc] server: x.example.org:6667 -> [::1]:7000, x.example.org:6667\n"
			 "[irc] password changed\n"
			 "[irc] channel changed\n");
	conf_clear(&a);
	conf_clear(&b);
}
END_TEST

START_TEST(compare_behaviours)
{
	struct conf a, b;
	char changes[4096] = "";

	make_file("tool", 0755);
	make_file("tool2", 0755);
	load_ok("[bothost]\nowner = a!b@c\n[command one]\nexec = tool\n[timer two]\nexec = tool\nevery = 1m\n"
		"[resident three]\nexec = tool\n[command four]\nexec = tool\n", &a);
	load_ok("[bothost]\nowner = a!b@c\nowner = account:x\nuser_commands = 5/30s\n"
		"[resident three]\nexec = tool2\n[command two]\nexec = tool\n[command one]\nexec = tool\n"
		"[timer five]\nexec = tool\nat = 12:00\n", &b);
	ck_assert_int_eq(conf_compare(&a, &a, collect_cb, changes), 0);
	ck_assert_int_eq(conf_compare(&a, &b, collect_cb, changes), 7);
	ck_assert_str_eq(changes,
			 "[bothost] owner: a!b@c -> a!b@c, account:x\n"
			 "[bothost] user_commands: 12/1m -> 5/30s\n"
			 "[timer two] removed\n"
			 "[command four] removed\n"
			 "[resident three] changed\n"
			 "[command two] added\n"
			 "[timer five] added\n");
	conf_clear(&a);
	conf_clear(&b);
}
END_TEST

/* ---- the example file ------------------------------------------------------------ */

/* Copy bothost.conf.example to conf_path, uncommenting the lines that start
 * with one of prefixes followed by a key. */
static void write_example(const char *prefixes)
{
	FILE *in = fopen(TOP_SRCDIR "/bothost.conf.example", "r");
	FILE *out = fopen(conf_path, "w");
	char line[512];

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while (fgets(line, sizeof line, in)) {
		bool key = line[0] && strchr(prefixes, line[0]) && line[1] >= 'a' && line[1] <= 'z';
		fputs(key ? line + 1 : line, out);
	}
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

/* Count the changes between two configurations. */
static void count_cb(const char *change, void *userdata)
{
	fprintf(stderr, "example differs: %s\n", change);
	(*(int *)userdata)++;
}

START_TEST(example_file)
{
	static const char *const keys[] = {
		"socket", "log_level", "loopback", "frame_max", "output_max", "tokens_max",
		"handlers_max", "pending_max", "clients_max", "call_timeout", "server", "nick",
		"alt_nick", "username", "realname", "password", "channel", "connect_timeout",
		"register_timeout", "ping_idle", "ping_timeout", "reconnect_min", "reconnect_max",
		"stable_after", "join_retry", "regain_nick", "rejoin_on_kick", "rejoin_delay", "burst",
		"line_interval", "queue_max", "queue_max_age", "ctcp_version", "ctcp_per_minute",
		"command_prefix", "owner", "max_processes", "user_commands", "user_ignore",
	};
	struct conf defaults, c;
	char text[65536], pat[64];
	FILE *f;
	size_t n;
	int changes = 0;

	/* Every key is shown, commented out. */
	f = fopen(TOP_SRCDIR "/bothost.conf.example", "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		snprintf(pat, sizeof pat, "\n#%s = ", keys[i]);
		bool shown = strstr(text, pat);
		snprintf(pat, sizeof pat, "\n;%s = ", keys[i]);
		ck_assert_msg(shown || strstr(text, pat), "the example does not show %s", keys[i]);
	}
	/* As it is, and with every "#key = value" line uncommented: the defaults. */
	ck_assert_int_eq(conf_init(&defaults), 0);
	write_example("");
	load_conf_ok(&c);
	ck_assert_int_eq(conf_compare(&defaults, &c, count_cb, &changes), 0);
	conf_clear(&c);
	write_example("#");
	load_conf_ok(&c);
	ck_assert_int_eq(conf_compare(&defaults, &c, count_cb, &changes), 0);
	conf_clear(&c);
	/* And the examples are valid. */
	write_example("#;");
	load_conf_ok(&c);
	ck_assert_uint_eq(c.irc.n_servers, 3);
	ck_assert_str_eq(c.irc.nick, "mybot");
	ck_assert_uint_eq(c.irc.n_channels, 2);
	ck_assert_ptr_nonnull(c.socket_path);
	conf_clear(&c);
	conf_clear(&defaults);
}
END_TEST

/* ---- bothost itself ------------------------------------------------------------ */

/* Start $BOTHOST with args (NULL-terminated), its stderr going to log_path. */
static pid_t spawn_host(const char *const *args)
{
	const char *bin = getenv("BOTHOST");
	const char *argv[16] = { bin };
	size_t n = 1;
	pid_t pid;

	ck_assert_msg(bin && *bin, "BOTHOST is not set");
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int null = open("/dev/null", O_WRONLY);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(fd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid to exit (deadline WAIT_MS); its wait status. */
static int wait_exit(pid_t pid)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	struct timespec pause = { 0, 5000000 };
	int status;

	while (waitpid(pid, &status, WNOHANG) != pid) {
		ck_assert_msg(test_now_ms() < deadline, "bothost did not exit");
		nanosleep(&pause, NULL);
	}
	return status;
}

/* Wait until path accepts connections (deadline WAIT_MS) while pid runs. */
static void wait_listening(pid_t pid, const char *path)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	struct timespec pause = { 0, 5000000 };
	struct test_raw probe;
	int status;

	while (test_raw_connect(&probe, path) < 0) {
		ck_assert_msg(waitpid(pid, &status, WNOHANG) != pid, "bothost exited");
		ck_assert_msg(test_now_ms() < deadline, "bothost does not listen on %s", path);
		nanosleep(&pause, NULL);
	}
	test_raw_close(&probe);
}

/* The contents of the log file (static buffer). */
static const char *read_log(void)
{
	static char buf[65536];
	FILE *f = fopen(log_path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Wait until the log holds needle (deadline WAIT_MS). */
static void wait_log(const char *needle)
{
	uint64_t deadline = test_now_ms() + WAIT_MS;
	struct timespec pause = { 0, 5000000 };

	while (!strstr(read_log(), needle)) {
		ck_assert_msg(test_now_ms() < deadline, "the log never said '%s'; it holds:\n%s", needle,
			      read_log());
		nanosleep(&pause, NULL);
	}
}

/* test_host_start with the host's stderr going to log_path. */
static void start_logged(struct test_host *h, const char *const *args)
{
	int saved = dup(2);
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	int r;

	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	r = test_host_start(h, args);
	dup2(saved, 2);
	close(saved);
	ck_assert_msg(r == 0, "bothost did not start (%d): %s", r, read_log());
}

/* A number from welcome.limits of a fresh connection to path. */
static long welcome_limit(const char *path, const char *name)
{
	struct test_raw c;
	cJSON *w = test_raw_hello(&c, path, "test_conf");
	const cJSON *v;
	long n;

	ck_assert_ptr_nonnull(w);
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(w, "limits"), name);
	ck_assert(cJSON_IsNumber(v));
	n = (long)v->valuedouble;
	cJSON_Delete(w);
	test_raw_close(&c);
	return n;
}

/* Whether a fresh connection's welcome lists object name. */
static bool welcome_has_object(const char *path, const char *name)
{
	struct test_raw c;
	cJSON *w = test_raw_hello(&c, path, "test_conf");
	bool has;

	ck_assert_ptr_nonnull(w);
	has = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(w, "objects"), name);
	cJSON_Delete(w);
	test_raw_close(&c);
	return has;
}

START_TEST(host_serves_socket_of_file)
{
	char text[PATH_MAX + 128], sock[PATH_MAX + 32];
	const char *args[] = { "--config", conf_path, NULL };
	struct stat st;
	pid_t pid;
	int status;

	snprintf(sock, sizeof sock, "%s/file.sock", dir);
	snprintf(text, sizeof text, "[bothost]\nsocket = %s\nloopback = on\n[limits]\nframe_max = 4096\n", sock);
	write_conf(text);
	pid = spawn_host(args);
	wait_listening(pid, sock);
	ck_assert_int_eq(welcome_limit(sock, "frame_max"), 4096);
	ck_assert(welcome_has_object(sock, "loopback"));
	kill(pid, SIGTERM);
	status = wait_exit(pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_lt(stat(sock, &st), 0);	/* removed at exit */
}
END_TEST

START_TEST(host_command_line_wins)
{
	char text[PATH_MAX + 256], sock[PATH_MAX + 32];
	const char *args[] = { "--frame-max", "8192", "--config", conf_path, "--log-level", "info", NULL };
	struct test_host h;
	struct stat st;

	snprintf(sock, sizeof sock, "%s/file.sock", dir);
	snprintf(text, sizeof text, "[bothost]\nsocket = %s\nloopback = yes\nlog_level = error\n"
		 "[limits]\nframe_max = 4096\npending_max = 100\n", sock);
	write_conf(text);
	start_logged(&h, args);
	/* --socket (given by the harness) beats the file's socket, --frame-max
	 * its frame_max; what the command line does not set comes from the file. */
	ck_assert_int_lt(stat(sock, &st), 0);
	ck_assert_int_eq(welcome_limit(h.path, "frame_max"), 8192);
	ck_assert_int_eq(welcome_limit(h.path, "pending_max"), 100);
	ck_assert(welcome_has_object(h.path, "loopback"));
	/* --log-level info beats log_level = error: the reload is logged. */
	kill(h.pid, SIGHUP);
	wait_log("configuration: nothing changed");
	ck_assert_int_eq(test_host_stop(&h), 0);
}
END_TEST

START_TEST(host_reload)
{
	const char *args[] = { "--config", conf_path, NULL };
	char want[PATH_MAX + 256];
	struct test_host h;

	write_conf("[bothost]\nloopback = yes\n[limits]\npending_max = 100\nframe_max = 100000\n");
	start_logged(&h, args);
	ck_assert_int_eq(welcome_limit(h.path, "pending_max"), 100);

	/* A broken file: refused with its error, the host goes on as it was. */
	write_conf("[bothost]\nloopback = yes\n[limits]\npending_max = lots\n");
	kill(h.pid, SIGHUP);
	snprintf(want, sizeof want, "bothost error: %s:4: invalid pending_max 'lots': expected a whole "
		 "number; the configuration in force stays\n", conf_path);
	wait_log(want);
	ck_assert_int_eq(welcome_limit(h.path, "pending_max"), 100);
	ck_assert_int_eq(welcome_limit(h.path, "frame_max"), 100000);

	/* A valid one: the changes are logged and new clients get the limits. */
	write_conf("[bothost]\nloopback = yes\n[limits]\npending_max = 7\nframe_max = 100000\n"
		   "[irc]\nnick = bot\n");
	kill(h.pid, SIGHUP);
	wait_log("configuration: [irc] nick: (none) -> bot\n");
	ck_assert(strstr(read_log(), "configuration: [limits] pending_max: 100 -> 7\n"));
	ck_assert_int_eq(welcome_limit(h.path, "pending_max"), 7);

	/* A file that has gone: refused too. */
	ck_assert_int_eq(unlink(conf_path), 0);
	kill(h.pid, SIGHUP);
	snprintf(want, sizeof want, "%s: cannot read: No such file or directory; the configuration in "
		 "force stays", conf_path);
	wait_log(want);
	ck_assert_int_eq(welcome_limit(h.path, "pending_max"), 7);
	ck_assert(welcome_has_object(h.path, "loopback"));
	ck_assert_int_eq(test_host_stop(&h), 0);
}
END_TEST

/* Write an [irc] section for the fake server at port with channels. */
static void write_irc_conf(int port, const char *channels)
{
	char text[512];

	snprintf(text, sizeof text, "[irc]\nserver = 127.0.0.1:%d\nnick = confbot\n%s", port, channels);
	write_conf(text);
}

/* Wait for a line from bothost at the fake server, after line *from. */
static void fake_wait(struct test_fake *f, const char *regex, size_t *from)
{
	long i = test_fake_wait_line(f, regex, *from, WAIT_MS);

	ck_assert_msg(i >= 0, "the server never got '%s' (%s)", regex, test_fake_report(f));
	*from = (size_t)i + 1;
}

/* The IRC client follows the file: started with it, reconfigured, stopped
 * when no server is left, started again, and told QUIT when bothost stops. */
START_TEST(host_irc_follows_file)
{
	const char *args[] = { "--config", conf_path, NULL };
	struct test_fake *f = test_fake_new();
	struct test_host h;
	size_t at = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^QUIT :configuration changed", 3 * WAIT_MS), 0);
	ck_assert_int_eq(test_fake_accept(f, WAIT_MS), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^QUIT :bothost stopping", 3 * WAIT_MS), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	write_irc_conf(test_fake_port(f), "channel = #one\n");
	start_logged(&h, args);
	fake_wait(f, "^NICK confbot$", &at);
	fake_wait(f, "^JOIN #one$", &at);
	ck_assert(welcome_has_object(h.path, "irc"));

	write_irc_conf(test_fake_port(f), "channel = #one\nchannel = #two sesame\n");
	kill(h.pid, SIGHUP);
	fake_wait(f, "^JOIN #two sesame$", &at);

	write_conf("[irc]\nnick = confbot\n");
	kill(h.pid, SIGHUP);
	fake_wait(f, "^QUIT :configuration changed$", &at);
	wait_log("configuration: no IRC server any more: stopping the IRC client");
	ck_assert(!welcome_has_object(h.path, "irc"));

	write_irc_conf(test_fake_port(f), "");
	kill(h.pid, SIGHUP);
	fake_wait(f, "^NICK confbot$", &at);
	ck_assert(welcome_has_object(h.path, "irc"));
	ck_assert_int_eq(test_host_stop(&h), 0);
	ck_assert_int_eq(test_fake_done(f, WAIT_MS), 0);
	test_fake_free(f);
}
END_TEST

START_TEST(host_refuses_bad_file)
{
	const char *args[] = { "--config", conf_path, NULL };
	char want[PATH_MAX + 128];
	int status;

	write_conf("[irc]\nnik = bot\n");
	status = wait_exit(spawn_host(args));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	snprintf(want, sizeof want, "bothost: %s:2: unknown key 'nik' in [irc]\n", conf_path);
	ck_assert_str_eq(read_log(), want);

	ck_assert_int_eq(unlink(conf_path), 0);
	ck_assert_int_eq(unlink(log_path), 0);
	status = wait_exit(spawn_host(args));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	snprintf(want, sizeof want, "bothost: %s: cannot read: No such file or directory\n", conf_path);
	ck_assert_str_eq(read_log(), want);
}
END_TEST

START_TEST(host_help_mentions_config)
{
	const char *args[] = { "--help", NULL };
	char cmd[PATH_MAX + 64];
	char out[8192];
	size_t n;
	FILE *p;
	pid_t pid;
	int status;

	snprintf(cmd, sizeof cmd, "'%s' --help", getenv("BOTHOST"));
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_ptr_nonnull(strstr(out, "-c, --config FILE"));
	ck_assert_ptr_nonnull(strstr(out, "SIGHUP"));
	/* --help exits before any configuration file is read. */
	pid = spawn_host((const char *const[]){ "--config", "/nonexistent/bothost.conf", args[0], NULL });
	status = wait_exit(pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* ---- suite ------------------------------------------------------------------- */

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *t = tcase_create("file");
	TCase *h = tcase_create("bothost");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, defaults_of_conf_init);
	tcase_add_test(t, empty_file_gives_defaults);
	tcase_add_test(t, every_key);
	tcase_add_test(t, behaviour_sections);
	tcase_add_test(t, errors_behaviours);
	tcase_add_test(t, behaviour_limits);
	tcase_add_test(t, compare_limits);
	tcase_add_test(t, errors_limits);
	tcase_add_test(t, resident_commands);
	tcase_add_test(t, errors_bothost_keys);
	tcase_add_test(t, exec_beside_relative_file);
	tcase_add_test(t, ini_syntax);
	tcase_add_test(t, booleans);
	tcase_add_test(t, durations);
	tcase_add_test(t, repeated_keys);
	tcase_add_test(t, ipv6_servers);
	tcase_add_test(t, errors_sections_and_keys);
	tcase_add_test(t, errors_syntax);
	tcase_add_test(t, errors_values);
	tcase_add_test(t, errors_channels);
	tcase_add_test(t, errors_durations);
	tcase_add_test(t, errors_whole_file);
	tcase_add_test(t, errors_unreadable);
	tcase_add_test(t, compare);
	tcase_add_test(t, compare_behaviours);
	tcase_add_test(t, example_file);
	suite_add_tcase(s, t);

	tcase_add_checked_fixture(h, setup, teardown);
	tcase_set_timeout(h, 30);
	tcase_add_test(h, host_serves_socket_of_file);
	tcase_add_test(h, host_command_line_wins);
	tcase_add_test(h, host_reload);
	tcase_add_test(h, host_irc_follows_file);
	tcase_add_test(h, host_refuses_bad_file);
	tcase_add_test(h, host_help_mentions_config);
	suite_add_tcase(s, h);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
