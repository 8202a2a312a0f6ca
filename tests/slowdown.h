/* SPDX-License-Identifier: ISC */
/* $TEST_SLOWDOWN: the factor waits on a slow peer (bothost under valgrind)
 * are stretched by; shared by tests/harness.c and tests/ircd.c, which are
 * linked with and without each other. */
#ifndef TESTS_SLOWDOWN_H
#define TESTS_SLOWDOWN_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Whether bothost runs under valgrind ($TEST_VALGRIND, set by tests/run-valgrind). */
static inline bool test_under_valgrind(void)
{
	const char *v = getenv("TEST_VALGRIND");

	return v && *v && strcmp(v, "0") != 0;
}

/* Whether bothost's memory figures are its own: not when it runs under
 * valgrind ($TEST_VALGRIND) or this build has AddressSanitizer, whose
 * shadow memory and quarantine multiply every figure; tests then print
 * the figures and skip the bounds. */
static inline bool test_memory_measured(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return false;
#endif
#endif
	return !test_under_valgrind();
}

#endif
