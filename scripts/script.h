/* SPDX-License-Identifier: ISC */
/* What the bundled behaviours share beyond libbotkit: a duration written
 * for people. The one-shot command helpers (context, words, reply, finish)
 * are libbotkit's own, in <botkit-command.h>. */
#ifndef SCRIPTS_SCRIPT_H
#define SCRIPTS_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

/* Write a duration in seconds as "1d 2h", "2h 5m", "5m 3s" or "42s" (the two
 * largest units); returns buf. */
char *script_duration(char *buf, size_t size, int64_t seconds);

#endif
