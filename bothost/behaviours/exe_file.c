/* SPDX-License-Identifier: ISC */
/* Which version of an executable is on disk (exe_file.h). */
#include "config.h"

#include "exe_file.h"

struct exe_file exe_file_get(const char *path)
{
	struct exe_file f = { 0 };
	struct stat st;

	if (stat(path, &st) < 0)
		return f;
	f = (struct exe_file){ true, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_mode };
	return f;
}

bool exe_file_same(const struct exe_file *a, const struct exe_file *b)
{
	return a->known == b->known && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec && a->mode == b->mode;
}
