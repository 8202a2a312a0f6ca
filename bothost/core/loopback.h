/* The `loopback` test object (bothost --loopback): echoes values, calls back
 * functions, emits events (PROTOCOL.md section 8). */
#ifndef BOTHOST_LOOPBACK_H
#define BOTHOST_LOOPBACK_H

/* Create and register the object. 0 or -errno. */
int loopback_register(void);

#endif
