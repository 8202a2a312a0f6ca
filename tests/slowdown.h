/* SPDX-License-Identifier: ISC */
/* $TEST_SLOWDOWN: the factor waits on a slow peer (bothost under valgrind)
 * are stretched by; shared by tests/harness.c and tests/ircd.c, which are
 * linked with and without each other. */
#ifndef TESTS_SLOWDOWN_H
#define TESTS_SLOWDOWN_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* The factor $TEST_SLOWDOWN (an integer from 1 to 100; 1 when unset), read
 * once; anything else ends the program with a message. */
static inline int test_slowdown(void)
{
	static int factor;
	const char *s = getenv("TEST_SLOWDOWN");
	char *end;
	long v;

	if (factor)
		return factor;
	if (!s || !*s)
		return factor = 1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 100) {
		fprintf(stderr, "TEST_SLOWDOWN=%s: expected an integer from 1 to 100\n", s);
		exit(2);
	}
	return factor = (int)v;
}

/* A deadline of ms milliseconds for a wait on the peer, times $TEST_SLOWDOWN. */
static inline int test_scaled_ms(int ms)
{
	long long v = (long long)ms * test_slowdown();

	return v > INT_MAX ? INT_MAX : (int)v;
}

#endif
