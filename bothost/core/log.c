/* SPDX-License-Identifier: ISC */
/* Logging to stderr. */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level log_max = LOG_LEVEL_INFO;

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* Set the most verbose level that is printed. */
void log_set_level(enum log_level level)
{
	log_max = level;
}

/* Turn a level name into its value. */
int log_level_from_string(const char *s, enum log_level *ret_level)
{
	for (size_t i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*ret_level = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* True when messages of this level are printed. */
bool log_enabled(enum log_level level)
{
	return level <= log_max;
}

/* Print one line: local time with milliseconds, level, message. */
static void log_write(enum log_level level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char line[8192];	/* room for a 4 KiB piece of a behaviour's output and its tag */

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	vsnprintf(line, sizeof line, fmt, ap);
	fprintf(stderr, "%s.%03ld bothost %s: %s\n", stamp, ts.tv_nsec / 1000000L, log_names[level], line);
}

#define LOG_DEFINE(fname, level)                        \
	void fname(const char *fmt, ...)                \
	{                                               \
		va_list ap;                             \
		if (!log_enabled(level))                \
			return;                         \
		va_start(ap, fmt);                      \
		log_write(level, fmt, ap);              \
		va_end(ap);                             \
	}

/* Log an error, a warning, an informational or a debugging message. */
LOG_DEFINE(log_error, LOG_LEVEL_ERROR)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)
