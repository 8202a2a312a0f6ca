/* SPDX-License-Identifier: ISC */
/* An empty program, linked statically: the bench spawns and reaps it for the
 * floor of starting any program on the machine, without the dynamic loader
 * (spawn_static_floor_*_ms). */
#include "config.h"

/* Return at once. */
int main(void)
{
	return 0;
}
