/* SPDX-License-Identifier: ISC */
/* Prestarted command processes: for a [command NAME] with `prestart = N`,
 * the host keeps N processes started ahead of need, past the dynamic loader
 * and connected, each parked in bot.park() until a command hands it its
 * context (behaviour_run). A pool is refilled from the loop after each
 * exit of one of its processes (after a handover only when none is left
 * parked); replaced when the executable changes on disk (once
 * it has stayed the same for a short settle delay) and on every reload; a
 * parked process that exits before it was handed a command (a program that
 * does not wait in bot.park) delays the next one, doubling from 1 s up to
 * 5 minutes. */
#ifndef BOTHOST_PRESTART_H
#define BOTHOST_PRESTART_H

#include <stdbool.h>

struct behaviour;
struct prestart;

/* Keep b's pool (b a command with prestart > 0), filled from the loop.
 * NULL on allocation failure. */
struct prestart *prestart_new(struct behaviour *b);
/* Stop watching and filling; the parked processes are b's to stop. NULL is
 * allowed. */
void prestart_free(struct prestart *p);
/* Fill the pool from the loop soon (after a handover, an exit, a reload),
 * unless it waits after a failure or a change of the executable. */
void prestart_fill_soon(struct prestart *p);
/* A parked process exited before it was handed a command. */
void prestart_failed(struct prestart *p);
/* A parked process was handed a command: failures are forgotten. */
void prestart_handed(struct prestart *p);
/* The executable changed: the parked processes are stopped, and the pool
 * is filled again once the file stayed the same for the settle delay. */
void prestart_exe_changed(struct prestart *p);

#endif
