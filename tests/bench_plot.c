/* SPDX-License-Identifier: ISC */
/* Benchmark: the latency distributions, drawn with gnuplot as cumulative
 * distributions in one SVG or PNG (call round trips on the left, IRC round
 * trips on the right). Without gnuplot the plot is skipped with a message. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define PLOT_SERIES_MAX 8
#define PLOT_POINTS_MAX 600	/* points drawn per distribution */

struct plot_series {
	int panel;
	char label[64];
	uint64_t *ns;		/* sorted */
	int n;
};

static struct plot_series plot_series[PLOT_SERIES_MAX];
static int plot_nseries;

/* qsort order of two samples. */
static int plot_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Keep a sorted copy of a distribution. */
void bench_plot_add(int panel, const char *label, const uint64_t *ns, int n)
{
	struct plot_series *s = &plot_series[plot_nseries];

	if (plot_nseries == PLOT_SERIES_MAX || n <= 0)
		return;
	s->ns = malloc((size_t)n * sizeof *ns);
	if (!s->ns)
		return;
	memcpy(s->ns, ns, (size_t)n * sizeof *ns);
	qsort(s->ns, (size_t)n, sizeof *ns, plot_cmp_u64);
	s->n = n;
	s->panel = panel;
	snprintf(s->label, sizeof s->label, "%s", label);
	plot_nseries++;
}

/* Write one series as "value percentile" lines, thinned to PLOT_POINTS_MAX. */
static int plot_write_series(const struct plot_series *s, const char *path)
{
	double unit = s->panel == 0 ? 1e3 : 1e6;
	int step = s->n > PLOT_POINTS_MAX ? s->n / PLOT_POINTS_MAX : 1;
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	for (int i = 0; i < s->n; i += step)
		fprintf(f, "%.4f %.3f\n", (double)s->ns[i] / unit, 100.0 * (i + 1) / s->n);
	fprintf(f, "%.4f 100\n", (double)s->ns[s->n - 1] / unit);
	return fclose(f) == 0 ? 0 : -errno;
}

/* The x range of a panel: from below the fastest sample to above the
 * slowest 99.9th percentile, so that a few outliers do not squash the rest. */
static void plot_write_range(FILE *f, int panel)
{
	double unit = panel == 0 ? 1e3 : 1e6, lo = 0, hi = 0;

	for (int i = 0; i < plot_nseries; i++) {
		const struct plot_series *s = &plot_series[i];
		if (s->panel != panel)
			continue;
		double min = (double)s->ns[0] / unit, p999 = (double)s->ns[(s->n - 1) * 999 / 1000] / unit;
		lo = lo == 0 || min < lo ? min : lo;
		hi = p999 > hi ? p999 : hi;
	}
	if (hi > 0)
		fprintf(f, "set xrange [%g:%g]\n", lo * 0.8, hi * 1.5);
	else
		fputs("set autoscale x\n", f);
}

/* The plot commands of one panel. */
static void plot_write_panel(FILE *f, const char *dir, int panel)
{
	const char *sep = "plot ";

	fprintf(f, "set xlabel '%s'\nset title '%s'\n",
		panel == 0 ? "round trip (µs, log scale)" : "round trip (ms, log scale)",
		panel == 0 ? "a call through bothost, and its floor" :
		"an IRC command and its answer, and the floors");
	plot_write_range(f, panel);
	fputs(panel == 0 ? "set xtics (2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)\n" :
	      "set xtics (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)\n", f);
	for (int i = 0; i < plot_nseries; i++) {
		if (plot_series[i].panel != panel)
			continue;
		fprintf(f, "%s'%s/s%d.dat' using 1:2 with lines lw 2 title '%s'", sep, dir, i,
			plot_series[i].label);
		sep = ", \\\n     ";
	}
	fputs(*sep == 'p' ? "plot 1/0 notitle\n" : "\n", f);
}

/* The gnuplot script: two panels side by side, SVG unless out ends in .png. */
static int plot_write_script(const char *dir, const char *script, const char *out)
{
	FILE *f = fopen(script, "we");

	if (!f)
		return -errno;
	size_t len = strlen(out);
	bool png = len > 4 && strcmp(out + len - 4, ".png") == 0;

	fprintf(f, "set encoding utf8\n%s\nset output '%s'\n"
		"set multiplot layout 1,2 title 'bothost latency distributions (cumulative, one run of make bench)'\n"
		"set logscale x\nset yrange [0:100]\nset ylabel 'percent of round trips at most x'\n"
		"set grid\nset key below\nset bmargin 8\n",
		png ? "set terminal pngcairo size 1100,520 font 'sans,10' background rgb 'white'" :
		"set terminal svg size 1100,520 dynamic font 'sans,12' background rgb 'white'", out);
	plot_write_panel(f, dir, 0);
	plot_write_panel(f, dir, 1);
	fputs("unset multiplot\n", f);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Run gnuplot on script: 0, 1 when there is no gnuplot to run, -EIO when it failed. */
static int plot_run_gnuplot(const char *script)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return 1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Data files and script in a temporary directory; gnuplot writes PATH.tmp,
 * renamed over path only when it succeeded. */
static int plot_render(const char *dir, const char *path)
{
	char file[PATH_MAX], script[PATH_MAX], tmp[PATH_MAX];
	int r = 0;

	for (int i = 0; i < plot_nseries && r == 0; i++) {
		snprintf(file, sizeof file, "%s/s%d.dat", dir, i);
		r = plot_write_series(&plot_series[i], file);
	}
	snprintf(script, sizeof script, "%s/plot.gp", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp%s", path, strrchr(path, '.') ? strrchr(path, '.') : "");
	if (r == 0)
		r = plot_write_script(dir, script, tmp);
	if (r == 0)
		r = plot_run_gnuplot(script);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	for (int i = 0; i < plot_nseries; i++) {
		snprintf(file, sizeof file, "%s/s%d.dat", dir, i);
		unlink(file);
	}
	unlink(script);
	unlink(tmp);
	return r;
}

/* Draw every distribution kept into path (an SVG, or a PNG if it ends in .png). */
void bench_plot_write(const char *path)
{
	char dir[64] = "/tmp/bench-plot.XXXXXX";
	int r;

	if (strchr(path, '\'') || strlen(path) > PATH_MAX - 8) {
		bench_fail("plot", "unusable path %s", path);
		return;
	}
	if (!mkdtemp(dir)) {
		bench_fail("plot", "mkdtemp: %s", strerror(errno));
		return;
	}
	r = plot_render(dir, path);
	rmdir(dir);
	if (r == 1)
		fprintf(stderr, "bench: gnuplot not found (apt-get install gnuplot-nox): no plot\n");
	else if (r < 0)
		bench_fail("plot", "%s: %s", path, strerror(-r));
	else
		printf("plot=%s\n", path);
	for (int i = 0; i < plot_nseries; i++)
		free(plot_series[i].ns);
	plot_nseries = 0;
}
