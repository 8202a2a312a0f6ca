/* SPDX-License-Identifier: ISC */
/* What the fuzz targets share.
 *
 * Each target is one file defining its entry with FUZZ_ENTRY(name). Built by
 * `make fuzz` (clang, -fsanitize=fuzzer,address,undefined), the entry is
 * libFuzzer's LLVMFuzzerTestOneInput; built into tests/test_fuzz (the normal
 * suite, FUZZ_REPLAY defined) it is fuzz_NAME, which replays the seed corpus
 * and every input that once failed. A target checks what must hold for every
 * input with FUZZ_CHECK, which aborts with a message: a broken property is
 * reported like a crash. */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef FUZZ_REPLAY
#define FUZZ_ENTRY(name) int fuzz_##name(const uint8_t *data, size_t size)
#else
#define FUZZ_ENTRY(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_frame(const uint8_t *data, size_t size);
int fuzz_msg(const uint8_t *data, size_t size);
int fuzz_irc_line(const uint8_t *data, size_t size);
int fuzz_irc_text(const uint8_t *data, size_t size);
int fuzz_conf(const uint8_t *data, size_t size);
int fuzz_http_value(const uint8_t *data, size_t size);
int fuzz_fds(const uint8_t *data, size_t size);

/* Abort with the failed property and where it is checked. */
#define FUZZ_CHECK(cond, ...)                                                              \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* A deterministic stream of small numbers drawn from the input, for read
 * sizes and choices that the fuzzer controls too. */
struct fuzz_rng {
	uint64_t state;
};

/* Seed from one input byte (never 0: xorshift would stay there). */
static inline void fuzz_rng_init(struct fuzz_rng *g, uint8_t seed)
{
	g->state = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed << 17) ^ seed;
}

/* The next number below n (n > 0). */
static inline size_t fuzz_rng_below(struct fuzz_rng *g, size_t n)
{
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return (size_t)((g->state * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

#endif
