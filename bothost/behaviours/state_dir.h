/* SPDX-License-Identifier: ISC
 *
 * Each behaviour's own state directory: STATE_DIR/behaviours/NAME, made by
 * the host (mode 0700, owned by the host's user) before a process of the
 * behaviour starts, and given to it as $BOTKIT_STATE_DIR and the context's
 * "state_dir". */
#ifndef BOTHOST_STATE_DIR_H
#define BOTHOST_STATE_DIR_H

#include <stddef.h>

/* Make root (and its missing parents), root/behaviours and root/behaviours/
 * name as needed, each new one with mode 0700. 0 with the behaviour's
 * directory in buf; or -errno with buf naming the directory at fault:
 * -EINVAL (name is "." or ".." or holds '/'), -ENAMETOOLONG, -ELOOP (a
 * symbolic link in place of behaviours/ or NAME), -ENOTDIR, -EPERM (owned
 * by another user), or what mkdir or open said (-EACCES, -EROFS...). */
int state_dir_make(const char *root, const char *name, char *buf, size_t size);

#endif
