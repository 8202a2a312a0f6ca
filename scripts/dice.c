/* SPDX-License-Identifier: ISC */
/* dice: `!dice 2d6` rolls two six-sided dice and answers
 * "NICK rolled 2d6: 3 + 5 = 8".
 *
 * The pattern: a command that validates what the user typed before doing
 * anything, and answers anything else with a usage line. The user's words
 * are untrusted input: parse them strictly, bound every number, never pass
 * them to a format string.
 *
 *   [command dice]
 *   exec = /usr/local/libexec/bothost/dice
 *   help = roll dice: !dice NdM
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <botkit-command.h>

#define DICE_MAX 100
#define SIDES_MIN 2
#define SIDES_MAX 1000
#define SHOW_MAX 10		/* more dice than this: show only the total */
#define USAGE "usage: !dice NdM (1-100 dice of 2-1000 sides)"

/* Read at most 4 decimal digits at *p into *ret; false when there are none
 * or more. */
static bool dice_number(const char **p, unsigned *ret)
{
	unsigned n = 0, len = 0;

	while (isdigit((unsigned char)**p) && len < 5) {
		n = n * 10 + (unsigned)(**p - '0');
		(*p)++;
		len++;
	}
	*ret = n;
	return len >= 1 && len <= 4;
}

/* Parse "NdM" with N in 1..100 and M in 2..1000; false for anything else. */
static bool dice_parse(const char *s, unsigned *ret_n, unsigned *ret_sides)
{
	unsigned n, sides;

	if (!s || !dice_number(&s, &n) || (*s != 'd' && *s != 'D'))
		return false;
	s++;
	if (!dice_number(&s, &sides) || *s)
		return false;
	if (n < 1 || n > DICE_MAX || sides < SIDES_MIN || sides > SIDES_MAX)
		return false;
	*ret_n = n;
	*ret_sides = sides;
	return true;
}

/* A uniform number from 1 to sides (rejection sampling, no modulo bias);
 * 0 when the system has no randomness to give. */
static unsigned dice_roll(unsigned sides)
{
	uint32_t limit = UINT32_MAX - UINT32_MAX % sides, v;

	do {
		if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
			return 0;
	} while (v >= limit);
	return v % sides + 1;
}

/* Roll n dice into text ("3 + 5 = 8", or the total alone); false when
 * randomness failed. */
static bool dice_throw(unsigned n, unsigned sides, char *text, size_t size)
{
	unsigned total = 0;
	size_t len = 0;

	text[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		unsigned r = dice_roll(sides);
		if (r == 0)
			return false;
		total += r;
		if (n > 1 && n <= SHOW_MAX)
			len += (size_t)snprintf(text + len, size - len, "%s%u", i ? " + " : "", r);
	}
	if (n == 1 || n > SHOW_MAX)
		snprintf(text, size, "%s%u", n > 1 ? "total " : "", total);
	else
		snprintf(text + len, size - len, " = %u", total);
	return true;
}

/* Roll what the user asked for, or answer how to ask. */
int main(int argc, char **argv)
{
	bk_command *cmd;
	const char *nick;
	unsigned n, sides;
	char text[256];

	if (bk_command_open(&cmd, "dice", argc, argv) < 0)
		return 1;
	nick = bk_command_get(cmd, "nick");
	if (bk_command_argc(cmd) != 1 || !dice_parse(bk_command_arg(cmd, 0), &n, &sides))
		bk_command_reply(cmd, USAGE);
	else if (!dice_throw(n, sides, text, sizeof text))
		bk_command_fail(cmd, "no randomness available");
	else
		bk_command_replyf(cmd, "%s rolled %ud%u: %s", nick ? nick : "you", n, sides, text);
	return bk_command_finish(cmd);
}
