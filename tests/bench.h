/* SPDX-License-Identifier: ISC */
/* Benchmark: what the parts of `make bench` share. Each part measures its
 * figures beside their floor in the same run and prints them as key=value
 * lines on standard output; diagnostics go to standard error. */
#ifndef TEST_BENCH_H
#define TEST_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ircd.h"

struct bench_opts {
	bool quick;
	int rtt_samples;	/* blocking round trips, host and raw */
	int pipelined_calls;	/* calls per pipelined run */
	int window;		/* calls in flight when pipelined */
	int fanout_rounds;	/* events emitted per fan-out width */
	int irc_samples;	/* IRC round trips of each kind */
	int irc_spacing_ms;	/* pause between two IRC round trips */
	int soak_cycles;	/* spawn, register, call, exit cycles measured */
	int soak_warmup;	/* cycles run before the soak's baseline */
	const char *plot;	/* the SVG to write, or NULL */
	unsigned parts;		/* BENCH_PART_* to run */
};

enum {
	BENCH_PART_CALLS = 1 << 0,	/* rtt, service_rtt, pipelined, rss_idle */
	BENCH_PART_FANOUT = 1 << 1,	/* fanout, rss_1000_clients */
	BENCH_PART_IRC = 1 << 2,	/* IRC round trips */
	BENCH_PART_SOAK = 1 << 3,	/* the soak */
	BENCH_PART_HTTP = 1 << 4,	/* HTTP through a resident, beside libmicrohttpd alone */
	BENCH_PART_ALL = 0x1f,
};

/* ---- clocks, samples, figures (bench_util.c) ----------------------------------- */

/* Nanoseconds on the monotonic clock. */
uint64_t bench_now_ns(void);
/* Sleep ms milliseconds. */
void bench_sleep_ms(long ms);
/* The p-th percentile (0..100) of n samples in nanoseconds, sorting them in
 * place; in microseconds. */
double bench_percentile_us(uint64_t *ns, int n, double p);

/* Print name=value with `decimals` decimals and keep it for the goals. */
void bench_put(const char *name, int decimals, double value);
/* A figure printed earlier; false when it was not measured. */
bool bench_get(const char *name, double *ret_value);
/* Print one goal_NAME=LIMIT met=yes|no|unknown line: the figure NAME must be
 * at most (at_most true) or at least LIMIT. */
void bench_goal(const char *name, double limit, bool at_most);
/* Print whether the figure `floor` (the goal's figure without bothost's
 * share) is itself at most the limit: goal_NAME_FLOOR=VALUE reachable=yes|no
 * (unknown when not measured). */
void bench_goal_floor(const char *name, double limit, const char *floor);
/* Note a part that could not run (exit status 1 at the end). */
void bench_fail(const char *part, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool bench_failed(void);

/* Resident set size of a process in KiB (VmRSS), or -1. */
long bench_rss_kib(pid_t pid);
/* The machine's 1-minute load average, or -1 (other work skews figures). */
double bench_loadavg(void);
/* Open descriptors of a process, or -1. */
long bench_fd_count(pid_t pid);

/* ---- the latency plot (bench_plot.c) -------------------------------------------- */

/* Keep a copy of a distribution for the plot: n samples in nanoseconds;
 * panel 0 is the call round trip (microseconds), panel 1 the IRC round trip
 * (milliseconds). */
void bench_plot_add(int panel, const char *label, const uint64_t *ns, int n);
/* Write the plot with gnuplot into path (SVG, or PNG for a .png name);
 * prints plot=PATH, or says on standard error why there is none. */
void bench_plot_write(const char *path);

/* ---- the parts ------------------------------------------------------------------------ */

/* fanout_{1,10,100,1000}_ms beside raw_fanout_*_ms, rss_1000_clients_kib,
 * against the host listening on host_path (process host_pid). */
void bench_fanout_run(const struct bench_opts *o, const char *host_path, pid_t host_pid);

/* A call carrying one descriptor against the same without (bench_fds.c):
 * fd_rtt_p50_us, fd_rtt_nofd_p50_us, fd_rtt_ratio and their raw floor
 * (raw_fd_rtt_p50_us, raw_nofd_rtt_p50_us, fd_rtt_ratio_floor). */
void bench_fd_run(const struct bench_opts *o, const char *host_path);

/* The IRC round trips: spawn_reply_p50/p99_ms, resident_reply_p50_ms,
 * ircd_floor_p50_ms and spawn_floor_p50_ms, on the running ircd. */
void bench_irc_run(const struct bench_opts *o, const struct test_ircd *ircd);

/* soak_cycles, soak_rss_growth_kib, soak_fd_growth, soak_residue, on the
 * running ircd. */
void bench_soak_run(const struct bench_opts *o, const struct test_ircd *ircd);

/* http_rps, http_p50_ms, http_p99_ms through a resident handler beside
 * http_floor_rps, http_floor_p50_ms, http_floor_p99_ms of libmicrohttpd
 * answering in-process, and http_ratio (bench_http.c); starts its own
 * bothost with an [http] section. */
void bench_http_run(const struct bench_opts *o);

/* The program bothost spawns as a behaviour ($BENCH_BEHAVIOUR, else the one
 * built beside the bench). */
const char *bench_behaviour_path(void);
/* The static empty program spawned for the static spawn floor ($BENCH_EXIT or
 * the one built beside the bench). */
const char *bench_exit_path(void);

/* A private directory with a bothost configuration for the IRC parts:
 * [bothost] and [irc] for the ircd, the bot's nick, then `sections`. The
 * path of the file goes to conf (size n); 0 or -errno. */
int bench_conf_write(char *conf, size_t n, const struct test_ircd *ircd, const char *nick,
		     const char *sections);
/* Remove the file and its directory. */
void bench_conf_remove(const char *conf);

#endif
