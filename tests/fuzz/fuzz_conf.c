/* SPDX-License-Identifier: ISC */
/* Fuzzing the configuration file (bothost/conf.c): the input is the file,
 * written to a temporary path and read with conf_load.
 * Properties:
 * - a refused file gives an error that names the file, and leaves the
 *   configuration cleared;
 * - an accepted file gives no error; the configuration differs from itself
 *   in nothing, every behaviour section copies to an equal one and is
 *   found by its name;
 * - a duration either parses or is refused with -EINVAL or -ERANGE. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "conf.h"
#include "core/log.h"

/* The temporary file the inputs are written to, removed at exit. */
static char conf_path[64];

/* Remove the temporary file. */
static void conf_path_remove(void)
{
	unlink(conf_path);
}

/* Write the input to the temporary file, creating it the first time. */
static void conf_write(const uint8_t *data, size_t size)
{
	if (!conf_path[0]) {
		const char *dir = getenv("TMPDIR");
		snprintf(conf_path, sizeof conf_path, "%.40s/fuzz-conf-XXXXXX", dir && *dir ? dir : "/tmp");
		int fd = mkstemp(conf_path);
		FUZZ_CHECK(fd >= 0, "cannot create %s", conf_path);
		close(fd);
		atexit(conf_path_remove);
		log_set_level(LOG_LEVEL_ERROR);
	}
	FILE *f = fopen(conf_path, "wb");
	FUZZ_CHECK(f && (size == 0 || fwrite(data, 1, size, f) == size) && fclose(f) == 0, "cannot write %s",
		   conf_path);
}

/* Count the changes conf_compare reports. */
static void conf_count_change(const char *change, void *userdata)
{
	FUZZ_CHECK(change && change[0], "an empty change");
	(*(unsigned *)userdata)++;
}

/* What must hold for a configuration that loaded. */
static void conf_check_loaded(const struct conf *cfg)
{
	struct conf defaults;
	unsigned changes = 0;

	FUZZ_CHECK(conf_compare(cfg, cfg, conf_count_change, &changes) == 0 && changes == 0,
		   "a configuration differs from itself in %u changes", changes);
	FUZZ_CHECK(conf_init(&defaults) == 0, "out of memory");
	FUZZ_CHECK(conf_compare(&defaults, cfg, conf_count_change, &changes) >= 0, "compare failed");
	conf_clear(&defaults);
	for (size_t i = 0; i < cfg->bot.n_behaviours; i++) {
		const struct conf_behaviour *b = &cfg->bot.behaviours[i];
		struct conf_behaviour copy;
		FUZZ_CHECK(conf_behaviour_copy(&copy, b) == 0, "out of memory");
		FUZZ_CHECK(conf_behaviour_equal(&copy, b), "the copy of [%s] differs", b->name);
		conf_behaviour_clear(&copy);
		FUZZ_CHECK(conf_behaviour_find(&cfg->bot, b->name) == b, "[%s] is not found by its name", b->name);
	}
}

/* The first line of the input as a duration. */
static void conf_check_duration(const uint8_t *data, size_t size)
{
	char s[64];
	size_t n = 0;
	unsigned ms;

	while (n < size && n < sizeof s - 1 && data[n] != '\n' && data[n] != '\0') {
		s[n] = (char)data[n];
		n++;
	}
	s[n] = '\0';
	int r = conf_parse_duration(s, &ms);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE, "duration gave %d", r);
}

/* One configuration file. */
FUZZ_ENTRY(conf)
{
	static const struct conf zero;
	struct conf cfg;
	char *error = NULL;

	conf_write(data, size);
	memset(&cfg, 0xA5, sizeof cfg);
	int r = conf_load(&cfg, conf_path, &error);
	if (r == 0) {
		FUZZ_CHECK(!error, "an accepted file gave an error: %s", error);
		conf_check_loaded(&cfg);
	} else {
		FUZZ_CHECK(r != -ENOMEM && error, "a refused file gave %d and no error", r);
		FUZZ_CHECK(strncmp(error, conf_path, strlen(conf_path)) == 0, "the error does not name the file: %s",
			   error);
		FUZZ_CHECK(memcmp(&cfg, &zero, sizeof cfg) == 0, "a refused file left the configuration set");
	}
	conf_clear(&cfg);
	free(error);
	conf_check_duration(data, size);
	return 0;
}
