/* The irc object's own copy of its configuration (struct conf_irc of conf.h):
 * deep copies, so the object and its link never point into a configuration
 * that main.c frees or replaces. */
#ifndef BOTHOST_IRC_CONF_H
#define BOTHOST_IRC_CONF_H

#include <stdbool.h>

struct conf_irc;

/* Fill dst (overwritten) with a deep copy of src: 0 or -ENOMEM (dst is then
 * left empty). */
int irc_conf_copy(struct conf_irc *dst, const struct conf_irc *src);
/* Free what a copy holds and zero it. */
void irc_conf_clear(struct conf_irc *c);
/* Replace the nick of a copy: 0 or -ENOMEM (then it is unchanged). */
int irc_conf_set_nick(struct conf_irc *c, const char *nick);
/* Whether the configuration lists channel (compared exactly as written). */
bool irc_conf_has_channel(const struct conf_irc *c, const char *channel);

#endif
