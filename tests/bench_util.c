/* SPDX-License-Identifier: ISC */
/* Benchmark: clocks, percentiles, the figures printed and the goals checked
 * against them, and what /proc says of a process. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "tests/paths.h"

#define BENCH_FIGURES_MAX 128

struct bench_figure {
	char name[48];
	double value;
};

static struct bench_figure bench_figures[BENCH_FIGURES_MAX];
static int bench_nfigures;
static bool bench_any_failure;

/* Nanoseconds on the monotonic clock. */
uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep ms milliseconds, resuming after signals. */
void bench_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* qsort order of two samples. */
static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of n samples, sorting them in place. */
double bench_percentile_us(uint64_t *ns, int n, double p)
{
	qsort(ns, (size_t)n, sizeof *ns, bench_cmp_u64);
	int i = (int)(p / 100.0 * (n - 1) + 0.5);
	return (double)ns[i] / 1000.0;
}

/* Print a figure and keep it for the goals. */
void bench_put(const char *name, int decimals, double value)
{
	printf("%s=%.*f\n", name, decimals, value);
	fflush(stdout);
	if (bench_nfigures == BENCH_FIGURES_MAX)
		return;
	snprintf(bench_figures[bench_nfigures].name, sizeof bench_figures[0].name, "%s", name);
	bench_figures[bench_nfigures++].value = value;
}

/* A figure printed earlier, the latest of that name. */
bool bench_get(const char *name, double *ret_value)
{
	for (int i = bench_nfigures - 1; i >= 0; i--) {
		if (strcmp(bench_figures[i].name, name) == 0) {
			*ret_value = bench_figures[i].value;
			return true;
		}
	}
	return false;
}

/* Print whether a figure meets its goal; unknown when it was not measured. */
void bench_goal(const char *name, double limit, bool at_most)
{
	double v;
	const char *met = "unknown";

	if (bench_get(name, &v))
		met = (at_most ? v <= limit : v >= limit) ? "yes" : "no";
	printf("goal_%s=%g met=%s\n", name, limit, met);
	fflush(stdout);
}

/* Print whether the floor of a goal (what the figure would be if bothost
 * added nothing) is itself within the goal: goal_NAME_FLOOR=VALUE
 * reachable=yes|no|unknown. */
void bench_goal_floor(const char *name, double limit, const char *floor)
{
	double v;

	if (!bench_get(floor, &v)) {
		printf("goal_%s_%s=unknown reachable=unknown\n", name, floor);
		return;
	}
	printf("goal_%s_%s=%.3f reachable=%s\n", name, floor, v, v <= limit ? "yes" : "no");
	fflush(stdout);
}

/* Say on standard error why a part failed, and remember that one did. */
void bench_fail(const char *part, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: %s: ", part);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bench_any_failure = true;
}

/* Whether a part failed. */
bool bench_failed(void)
{
	return bench_any_failure;
}

/* VmRSS of /proc/PID/status in KiB. */
long bench_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The 1-minute load average, or -1. */
double bench_loadavg(void)
{
	double load = -1;
	FILE *f = fopen("/proc/loadavg", "re");

	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	return load;
}

/* Entries of /proc/PID/fd. */
long bench_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The behaviour program's path. */
const char *bench_behaviour_path(void)
{
	const char *p = getenv("BENCH_BEHAVIOUR");

	return p && *p ? p : BENCH_BEHAVIOUR;
}

/* The static empty program's path. */
const char *bench_exit_path(void)
{
	const char *p = getenv("BENCH_EXIT");

	return p && *p ? p : BENCH_EXIT;
}

/* Write the configuration of an IRC part into a fresh private directory. */
int bench_conf_write(char *conf, size_t n, const struct test_ircd *ircd, const char *nick,
		     const char *sections)
{
	char dir[64] = "/tmp/bench-conf.XXXXXX", tmp[128];
	FILE *f;

	if (!mkdtemp(dir))
		return -errno;
	snprintf(conf, n, "%s/bothost.conf", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", conf);
	f = fopen(tmp, "we");
	if (!f)
		goto fail;
	/* Every user of the bench comes from 127.0.0.1: one host for the limits. */
	fprintf(f, "[bothost]\nlog_level = warn\nuser_commands = 100/1s\nmax_processes = 64\nuser_processes = 64\n\n"
		"[irc]\nserver = 127.0.0.1:%d\nnick = %s\nchannel = #bench\nburst = 100\n"
		"line_interval = 0s\n\n%s", ircd->port, nick, sections);
	if (fclose(f) != 0 || rename(tmp, conf) < 0)
		goto fail;
	return 0;
fail:;
	int r = -errno;
	unlink(tmp);
	rmdir(dir);
	return r;
}

/* Remove the configuration and its directory. */
void bench_conf_remove(const char *conf)
{
	char dir[128];
	char *slash;

	unlink(conf);
	snprintf(dir, sizeof dir, "%s", conf);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		rmdir(dir);
	}
}
