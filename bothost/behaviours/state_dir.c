/* SPDX-License-Identifier: ISC
 *
 * Each behaviour's state directory, made with mkdirat and opened with
 * O_NOFOLLOW below the state directory, so that a symbolic link planted in
 * place of behaviours/ or NAME is refused rather than followed. */
#include "config.h"

#include "state_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Make the missing directories of path, parents first (mode 0700). */
static void state_dir_mkdirs(const char *path)
{
	char *dir = strdup(path);

	for (char *p = dir ? dir + 1 : NULL; p && (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0700);
		*p = '/';
	}
	if (dir)
		mkdir(dir, 0700);
	free(dir);
}

/* Make name in the directory at (mode 0700) unless it is there, and open
 * it, refusing a symbolic link and a directory of another user: the
 * descriptor or -errno. */
static int state_dir_step(int at, const char *name)
{
	struct stat st;
	int fd, r;

	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (st.st_uid != geteuid())
		r = -EPERM;
	else
		return fd;
	close(fd);
	return r;
}

/* Make root/behaviours/name. */
int state_dir_make(const char *root, const char *name, char *buf, size_t size)
{
	int fd, sub, r;

	snprintf(buf, size, "%s", root);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/') || !*name)
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s/behaviours/%s", root, name) >= size)
		return -ENAMETOOLONG;
	snprintf(buf, size, "%s", root);
	state_dir_mkdirs(root);
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	snprintf(buf, size, "%s/behaviours", root);
	sub = state_dir_step(fd, "behaviours");
	close(fd);
	if (sub < 0)
		return sub;
	snprintf(buf, size, "%s/behaviours/%s", root, name);
	r = state_dir_step(sub, name);
	close(sub);
	if (r < 0)
		return r;
	close(r);
	return 0;
}
