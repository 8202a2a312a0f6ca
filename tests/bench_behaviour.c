/* SPDX-License-Identifier: ISC */
/* The behaviour bothost spawns for the benchmark: a small libbotkit program.
 * Usage: bench_behaviour MODE [--stamps=FILE] [WORDS...]
 *   exit      return at once (the floor of spawning and reaping the program)
 *   reply     a command: answer "breply TEXT" through the context's reply
 *             (prestarted, $BOTKIT_PRESTARTED=1: the context from bot.park())
 *   resident  answer every "rping X" said where the bot is with "rpong X"
 *   soak      a command: register a handler, answer "soak TEXT", exit
 * With --stamps, a command appends "TEXT MAIN WELCOME CONTEXT REPLIED" to
 * FILE once it has answered: when main() began, the welcome arrived,
 * host.context() answered and the reply call completed, in nanoseconds on
 * the monotonic clock (the bench splits the round trip with them). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botkit-irc.h"

enum { STAMP_MAIN, STAMP_WELCOME, STAMP_CONTEXT, STAMP_REPLIED, STAMPS };

struct behaviour {
	const char *mode;
	const char *stamps;		/* file for the stamps, or NULL */
	uint64_t at[STAMPS];
	char text[256];			/* the command's text */
};

/* Nanoseconds on the monotonic clock. */
static uint64_t behaviour_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Append the stamps as one line (one write, so runs never interleave). */
static void behaviour_stamps_write(const struct behaviour *b)
{
	char line[400];
	int fd, n;

	if (!b->stamps)
		return;
	n = snprintf(line, sizeof line, "%s %llu %llu %llu %llu\n", b->text,
		     (unsigned long long)b->at[STAMP_MAIN], (unsigned long long)b->at[STAMP_WELCOME],
		     (unsigned long long)b->at[STAMP_CONTEXT], (unsigned long long)b->at[STAMP_REPLIED]);
	fd = open(b->stamps, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "bench_behaviour: %s: short write\n", b->stamps);
	close(fd);
}

/* Answer PREFIX TEXT through the context's reply function and wait until
 * the host has written it to the server. */
static int behaviour_answer(bk_conn *c, struct behaviour *b, const char *prefix)
{
	const char *parked = getenv("BOTKIT_PRESTARTED");
	bool park = parked && strcmp(parked, "1") == 0;
	cJSON *ctx = NULL;
	char answer[400];
	int r;

	bk_conn_set_timeout(c, park ? 0 : 30000000u);
	r = bk_call_sync(c, park ? "bot" : "host", park ? "park" : "context", &ctx, "");
	bk_conn_set_timeout(c, 30000000u);

	b->at[STAMP_CONTEXT] = behaviour_now_ns();
	if (r < 0)
		return r;
	bk_fn *reply = bk_json_get_fn(cJSON_GetObjectItem(ctx, "reply"));
	const char *words = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "text"));
	snprintf(b->text, sizeof b->text, "%s", words ? words : "");
	snprintf(answer, sizeof answer, "%s %s", prefix, b->text);
	r = reply ? bk_fn_call_sync(reply, NULL, "s", answer) : -ENOENT;
	b->at[STAMP_REPLIED] = behaviour_now_ns();
	bk_json_delete(ctx);
	return r;
}

/* The resident's handler: "rping X" gets "rpong X". */
static void behaviour_rping(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	const char *text = bk_irc_event_text(ev);

	if (text && strncmp(text, "rping ", 6) == 0)
		bk_irc_event_replyf(ev, "rpong %s", text + 6);
}

/* A handler that registers and does nothing. */
static void behaviour_ignore(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
}

/* Run the mode on an open connection; the exit status. */
static int behaviour_run(bk_conn *c, struct behaviour *b)
{
	if (strcmp(b->mode, "reply") == 0)
		return behaviour_answer(c, b, "breply") < 0;
	if (strcmp(b->mode, "soak") == 0)
		return bk_irc_on_message(c, behaviour_ignore, NULL, NULL, NULL) < 0 ||
		       behaviour_answer(c, b, "soak") < 0;
	if (strcmp(b->mode, "resident") == 0) {
		/* woken for its own lines only, not for the commands' */
		if (bk_irc_on_message_filtered(c, &(bk_irc_filter){ .prefix = "rping " }, behaviour_rping, NULL,
					       NULL, NULL) < 0)
			return 1;
		bk_run(c);
		return 0;
	}
	fprintf(stderr, "bench_behaviour: unknown mode %s\n", b->mode);
	return 2;
}

/* Connect to the host that spawned this process and run the mode. */
int main(int argc, char **argv)
{
	struct behaviour b = { .at[STAMP_MAIN] = behaviour_now_ns() };
	bk_conn *c = NULL;
	int status;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_behaviour exit|reply|resident|soak [--stamps=FILE]\n");
		return 2;
	}
	b.mode = argv[1];
	if (strcmp(b.mode, "exit") == 0)
		return 0;
	if (argc > 2 && strncmp(argv[2], "--stamps=", 9) == 0)
		b.stamps = argv[2] + 9;
	if (bk_conn_new(&c, b.mode) < 0) {
		fprintf(stderr, "bench_behaviour: cannot connect to bothost\n");
		return 1;
	}
	b.at[STAMP_WELCOME] = behaviour_now_ns();
	status = behaviour_run(c, &b);
	bk_conn_unref(c);
	if (status == 0)
		behaviour_stamps_write(&b);
	return status;
}
