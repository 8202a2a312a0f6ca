/* SPDX-License-Identifier: ISC */
/* What a behaviour's limits let it do, for tests/test_spawn: built without
 * sanitizers, so that it starts under any memory limit.
 *   limit_probe report     one line per limit, "NAME SOFT HARD", and the
 *                          NoNewPrivs line of /proc/self/status
 *   limit_probe alloc MIB  "alloc MIB MiB: ok" or "alloc MIB MiB: refused"
 *   limit_probe spin       use CPU until a signal ends it
 *   limit_probe hold       "held line" through stdio left as the C library
 *                          sets it (a pipe: fully buffered, unless the host
 *                          made it line-buffered), "holding" on stderr with
 *                          write(2), then wait for a signal */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The limits reported, with their names. */
static const struct {
	const char *name;
	int resource;
} probe_limits[] = {
	{ "memory", RLIMIT_AS }, { "cpu", RLIMIT_CPU }, { "processes", RLIMIT_NPROC },
	{ "files", RLIMIT_NOFILE }, { "file_size", RLIMIT_FSIZE }, { "core", RLIMIT_CORE },
};

/* Print a limit's value, or "unlimited". */
static void probe_value(rlim_t v)
{
	if (v == RLIM_INFINITY)
		printf(" unlimited");
	else
		printf(" %llu", (unsigned long long)v);
}

/* Print the limits and NoNewPrivs. */
static int probe_report(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	struct rlimit rl;

	for (size_t i = 0; i < sizeof probe_limits / sizeof probe_limits[0]; i++) {
		if (getrlimit(probe_limits[i].resource, &rl) < 0)
			return 1;
		printf("%s", probe_limits[i].name);
		probe_value(rl.rlim_cur);
		probe_value(rl.rlim_max);
		printf("\n");
	}
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "NoNewPrivs:", 11) == 0)
			printf("NoNewPrivs: %s", line + 11 + strspn(line + 11, " \t"));
	if (f)
		fclose(f);
	return 0;
}

/* Allocate and touch mib MiB. */
static int probe_alloc(unsigned long mib)
{
	char *p = malloc(mib << 20);

	if (p)
		memset(p, 1, mib << 20);
	printf("alloc %lu MiB: %s\n", mib, p ? "ok" : "refused");
	free(p);
	return 0;
}

/* Use CPU until killed. */
static int probe_spin(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
	return 0;
}

/* Print a line without flushing it, say so, and wait for a signal. */
static int probe_hold(void)
{
	static const char holding[] = "holding\n";

	printf("held line\n");
	if (write(2, holding, sizeof holding - 1) < 0)
		return 1;
	for (;;)
		pause();
}

/* Run the mode given. */
int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "hold") == 0)
		return probe_hold();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "report") == 0)
		return probe_report();
	if (argc == 3 && strcmp(argv[1], "alloc") == 0)
		return probe_alloc(strtoul(argv[2], NULL, 10));
	if (argc == 2 && strcmp(argv[1], "spin") == 0)
		return probe_spin();
	fprintf(stderr, "usage: limit_probe report | alloc MIB | spin | hold\n");
	return 2;
}
