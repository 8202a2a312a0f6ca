/* SPDX-License-Identifier: ISC */
/* Keeping a [resident NAME] behaviour running: started with the host,
 * restarted when it exits or crashes after a wait that doubles from
 * restart_min up to restart_max (and goes back to restart_min after a run
 * of a minute), restarted at once on request, on a change of its section,
 * and (watch = yes) when its executable changes on disk, once the file has
 * stayed the same for a short settle delay so that a half-written file is
 * not run. */
#ifndef BOTHOST_RESIDENTS_H
#define BOTHOST_RESIDENTS_H

struct behaviour;
struct resident;
struct spawn_exit;

/* Start keeping b (a resident) running. NULL on allocation failure. */
struct resident *resident_new(struct behaviour *b);
/* Stop watching and waiting; the process itself is b's to stop. NULL is
 * allowed. */
void resident_free(struct resident *r);
/* Its process exited. */
void resident_exited(struct resident *r, const struct spawn_exit *how);
/* Stop the process and start it again at once (or start it now if it is
 * waiting to be restarted). */
void resident_restart(struct resident *r);
/* b's section changed: follow the new executable and restart. */
void resident_reconfigured(struct resident *r);
/* How many times it was restarted. */
unsigned resident_restarts(const struct resident *r);

#endif
