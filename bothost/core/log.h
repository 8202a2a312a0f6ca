/* SPDX-License-Identifier: ISC */
/* Daemon logging to stderr with a timestamp and a level.
 *
 * The sink and the level are process-wide on purpose: a process has one
 * stderr, main.c configures it once, and every layer and test logs there
 * without having to be handed a logger. */
#ifndef BOTHOST_LOG_H
#define BOTHOST_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Messages above level are dropped; the default is LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);
/* Parse "error", "warn", "info" or "debug": 0 or -EINVAL. */
int log_level_from_string(const char *s, enum log_level *ret_level);
bool log_enabled(enum log_level level);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
