/* SPDX-License-Identifier: ISC */
/* demo_user: the scripted IRC users of ./demo. alice joins the channel and
 * types a command of each bundled behaviour; bob joins and speaks, so that
 * there is someone to ask !seen about. The channel as alice sees it is printed
 * as it happens, one line per event: who said what.
 *
 * Usage: demo_user PORT CHANNEL BOTNICK
 * Exit status: 0 when the bot answered everything, 1 when something went
 * unanswered (what is said on stderr), 2 for a usage error. */
#include "config.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ircd.h"

#define DEMO_ANSWER_MS 15000	/* how long the bot may take to answer */
#define DEMO_QUOTED_MAX 256
#define DEMO_REGEX_MAX 2048

struct demo {
	int port;
	const char *channel;
	const char *bot;
	char qchannel[DEMO_QUOTED_MAX];	/* channel and bot quoted for a regex */
	char qbot[DEMO_QUOTED_MAX];
	struct test_irc_user alice, bob;
	size_t printed;		/* entries of alice's log printed so far */
	size_t mark;		/* where in alice's log the current step began */
};

/* One parsed IRC line: the sender's nick (NULL unless the prefix is a
 * person's nick!user@host), the command and up to three parameters (the last
 * one is the trailing parameter when there is one). */
struct demo_line {
	char buf[1024];
	const char *nick;
	const char *cmd;
	const char *param[3];
	int nparams;
};

/* Cut the word at p (ended by spaces, which become NULs); the next word. */
static char *demo_word_end(char *p)
{
	p += strcspn(p, " ");
	while (*p == ' ')
		*p++ = '\0';
	return p;
}

/* Split line into l: sender, command, parameters. */
static void demo_line_parse(struct demo_line *l, const char *line)
{
	char *p = l->buf, *bang;

	memset(l, 0, sizeof *l);
	snprintf(l->buf, sizeof l->buf, "%s", line);
	if (*p == '@')
		p = demo_word_end(p);
	if (*p == ':') {
		char *prefix = p + 1;
		p = demo_word_end(p);
		if ((bang = strchr(prefix, '!'))) {
			*bang = '\0';
			l->nick = prefix;
		}
	}
	l->cmd = p;
	p = demo_word_end(p);
	while (*p && l->nparams < 3) {
		if (*p == ':' || l->nparams == 2) {
			l->param[l->nparams++] = p + (*p == ':');
			break;
		}
		l->param[l->nparams++] = p;
		p = demo_word_end(p);
	}
}

/* Print text with control characters (IRC formatting, CTCP quotes) as '?'. */
static void demo_print_text(const char *text)
{
	for (const char *s = text; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* Print one message: "<nick> text", "* nick text" for an action, "-nick- text"
 * for a notice, "*nick* text" for a private message. */
static void demo_print_message(const struct demo *d, const struct demo_line *l, const char *from)
{
	const char *text = l->nparams > 1 ? l->param[1] : "";
	bool notice = strcmp(l->cmd, "NOTICE") == 0;
	bool in_channel = l->nparams > 0 && strcasecmp(l->param[0], d->channel) == 0;

	if (strncmp(text, "\001ACTION ", 8) == 0) {
		printf("* %s ", from);
		demo_print_text(text + 8);
	} else {
		printf(notice ? "-%s- " : in_channel ? "<%s> " : "*%s* ", from);
		demo_print_text(text);
	}
	putchar('\n');
}

/* Print one entry of alice's log when it is something a person would see. */
static void demo_print_entry(const struct demo *d, const struct test_irc_entry *e)
{
	struct demo_line l;
	const char *from;
	char stamp[16];
	time_t now = time(NULL);
	struct tm tm;

	demo_line_parse(&l, e->text);
	from = e->sent ? d->alice.nick : l.nick;
	if (!from || (e->sent && strcmp(l.cmd, "PRIVMSG") != 0))
		return;
	strftime(stamp, sizeof stamp, "%H:%M:%S", localtime_r(&now, &tm));
	if (strcmp(l.cmd, "PRIVMSG") == 0 || strcmp(l.cmd, "NOTICE") == 0) {
		printf("  %s ", stamp);
		demo_print_message(d, &l, from);
	} else if (strcmp(l.cmd, "JOIN") == 0 && l.nparams > 0) {
		printf("  %s --> %s joined %s\n", stamp, from, l.param[0]);
	} else if (strcmp(l.cmd, "PART") == 0 && l.nparams > 0) {
		printf("  %s <-- %s left %s\n", stamp, from, l.param[0]);
	} else if (strcmp(l.cmd, "QUIT") == 0) {
		printf("  %s <-- %s quit\n", stamp, from);
	} else if (strcmp(l.cmd, "NICK") == 0 && l.nparams > 0) {
		printf("  %s --- %s is now known as %s\n", stamp, from, l.param[0]);
	}
}

/* Print what alice's log holds that was not printed yet. */
static void demo_print_new(struct demo *d)
{
	for (; d->printed < d->alice.nlog; d->printed++)
		demo_print_entry(d, &d->alice.log[d->printed]);
	fflush(stdout);
}

/* True when a line received by alice since the step began matches regex. */
static bool demo_seen_since_mark(const struct demo *d, const char *regex)
{
	regex_t re;
	bool found = false;

	if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	for (size_t i = d->mark; i < d->alice.nlog && !found; i++)
		found = !d->alice.log[i].sent && regexec(&re, d->alice.log[i].text, 0, NULL, 0) == 0;
	regfree(&re);
	return found;
}

/* Wait until alice has seen the bot say, in the channel, text matching the
 * regex built from fmt (since the step began). 0 or -errno, said on stderr. */
__attribute__((format(printf, 3, 4)))
static int demo_expect_bot(struct demo *d, const char *what, const char *fmt, ...)
{
	char text[DEMO_REGEX_MAX / 2], regex[DEMO_REGEX_MAX];
	va_list ap;
	int r = 0;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snprintf(regex, sizeof regex, "^(@[^ ]* )?:%s![^ ]+ PRIVMSG %s :%s", d->qbot, d->qchannel, text);
	if (!demo_seen_since_mark(d, regex))
		r = test_irc_user_expect(&d->alice, regex, DEMO_ANSWER_MS, NULL);
	demo_print_new(d);
	if (r < 0)
		fprintf(stderr, "demo_user: %s: %s (waited %d s for a line matching %s)\n", what,
			r == -ETIMEDOUT ? "no answer" : strerror(-r), DEMO_ANSWER_MS / 1000, regex);
	return r;
}

/* alice types line in the channel; a new step begins. 0 or -errno. */
static int demo_alice_says(struct demo *d, const char *line)
{
	int r;

	d->mark = d->alice.nlog;
	r = test_irc_user_privmsg(&d->alice, d->channel, line);
	demo_print_new(d);
	if (r < 0)
		fprintf(stderr, "demo_user: alice cannot send '%s': %s\n", line, strerror(-r));
	return r;
}

/* user connects as nick and joins the channel. 0 or -errno, said on stderr. */
static int demo_user_join(struct demo *d, struct test_irc_user *u, const char *nick)
{
	int r = test_irc_user_connect(u, d->port, nick);

	if (r == 0)
		r = test_irc_user_join(u, d->channel);
	if (r < 0)
		fprintf(stderr, "demo_user: %s cannot join %s on 127.0.0.1:%d: %s\n", nick, d->channel,
			d->port, strerror(-r));
	return r;
}

/* alice joins and is welcomed (the greeter), types !hello: the answer, and
 * the greeter's reply to her first words. */
static int demo_alice_arrives(struct demo *d)
{
	int r;

	d->mark = 0;
	r = demo_user_join(d, &d->alice, "alice");
	demo_print_new(d);
	if (r == 0)
		r = demo_expect_bot(d, "greeter", "welcome to %s, alice!$", d->qchannel);
	if (r == 0)
		r = demo_alice_says(d, "!hello");
	if (r == 0)
		r = demo_expect_bot(d, "!hello", "hello, alice$");
	if (r == 0)
		r = demo_expect_bot(d, "greeter", "alice: nice to meet you!$");
	return r;
}

/* bob joins, is welcomed, and says hello to everyone: the greeter answers. */
static int demo_bob_arrives(struct demo *d)
{
	char regex[DEMO_REGEX_MAX];
	int r;

	d->mark = d->alice.nlog;
	r = demo_user_join(d, &d->bob, "bob");
	if (r == 0)
		r = demo_expect_bot(d, "greeter", "welcome to %s, bob!$", d->qchannel);
	if (r < 0)
		return r;
	/* bob speaks once he has been welcomed himself, as a person would. */
	snprintf(regex, sizeof regex, "PRIVMSG %s :welcome to %s, bob!$", d->qchannel, d->qchannel);
	r = test_irc_user_expect(&d->bob, regex, DEMO_ANSWER_MS, NULL);
	if (r == 0)
		r = test_irc_user_privmsg(&d->bob, d->channel, "hi all");
	if (r < 0) {
		fprintf(stderr, "demo_user: bob cannot speak: %s\n", strerror(-r));
		return r;
	}
	return demo_expect_bot(d, "greeter", "bob: nice to meet you!$");
}

/* alice types one command and waits for the bot's answer matching text. */
static int demo_command(struct demo *d, const char *command, const char *text)
{
	int r = demo_alice_says(d, command);

	return r < 0 ? r : demo_expect_bot(d, command, "%s", text);
}

/* The commands after the arrivals: dice, whois, seen, fortune and help. */
static int demo_commands(struct demo *d)
{
	char whois[DEMO_QUOTED_MAX + 16], whois_answer[DEMO_QUOTED_MAX + 16];
	int r;

	snprintf(whois, sizeof whois, "!whois %s", d->bot);
	snprintf(whois_answer, sizeof whois_answer, "%s is ", d->qbot);
	r = demo_command(d, "!dice 2d6", "alice rolled 2d6: [0-9]+ \\+ [0-9]+ = [0-9]+$");
	if (r == 0)
		r = demo_command(d, whois, whois_answer);
	if (r == 0)
		r = demo_bob_arrives(d);
	if (r == 0)
		r = demo_command(d, "!seen bob", "bob was last seen .* saying: hi all$");
	if (r == 0)
		r = demo_command(d, "!fortune", "alice: .+");
	if (r == 0)
		r = demo_command(d, "!help", "commands: ");
	return r;
}

/* bob, then alice, say goodbye; alice sees bob go. */
static void demo_leave(struct demo *d)
{
	if (d->bob.fd >= 0 && test_irc_user_quit(&d->bob, "see you") == 0)
		test_irc_user_expect(&d->alice, "^(@[^ ]* )?:bob![^ ]+ QUIT", DEMO_ANSWER_MS, NULL);
	demo_print_new(d);
	if (d->alice.fd >= 0)
		test_irc_user_quit(&d->alice, "see you");
}

/* Read the arguments into d. 0, or -EINVAL after printing the usage. */
static int demo_parse_args(struct demo *d, int argc, char **argv)
{
	char *end = NULL;
	long port = argc == 4 ? strtol(argv[1], &end, 10) : 0;

	if (argc != 4 || !end || *end || port < 1 || port > 65535 || !argv[2][0] || !argv[3][0]) {
		fprintf(stderr, "usage: demo_user PORT CHANNEL BOTNICK\n");
		return -EINVAL;
	}
	d->port = (int)port;
	d->channel = argv[2];
	d->bot = argv[3];
	test_irc_regex_quote(d->channel, d->qchannel, sizeof d->qchannel);
	test_irc_regex_quote(d->bot, d->qbot, sizeof d->qbot);
	return 0;
}

/* Run the scripted users against the bot and print the transcript. */
int main(int argc, char **argv)
{
	struct demo d = { .alice = { .fd = -1 }, .bob = { .fd = -1 } };
	int r;

	if (demo_parse_args(&d, argc, argv) < 0)
		return 2;
	r = demo_alice_arrives(&d);
	if (r == 0)
		r = demo_commands(&d);
	demo_leave(&d);
	test_irc_user_close(&d.bob);
	test_irc_user_close(&d.alice);
	return r == 0 ? 0 : 1;
}
