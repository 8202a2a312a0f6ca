/* SPDX-License-Identifier: ISC */
/* Which version of an executable is on disk: what residents and prestarted
 * commands compare to tell that their program changed. */
#ifndef BOTHOST_EXE_FILE_H
#define BOTHOST_EXE_FILE_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* What identifies a version of an executable. */
struct exe_file {
	bool known;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	mode_t mode;
};

/* The identity of the file at path now (known false when it cannot be read). */
struct exe_file exe_file_get(const char *path);
/* Whether two identities name the same version of a file. */
bool exe_file_same(const struct exe_file *a, const struct exe_file *b);

#endif
