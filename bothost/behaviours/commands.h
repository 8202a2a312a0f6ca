/* Commands typed on IRC: "!name args..." in a channel or privately to the
 * bot starts the [command NAME] behaviour with the user's words as its
 * arguments (never through a shell) and a context whose `reply` answers
 * where the command came from. The host itself answers !help and the
 * owners' !reload, !restart NAME and !status, refuses what a user may not
 * do (owner_only, channel_only, max_running, max_processes, unknown names)
 * with a short reply, and ignores a user who gives commands faster than
 * user_commands allows. A word a [resident NAME] claims (its `commands`)
 * is left to that resident, which hears the message itself: the host
 * neither answers it nor counts it, and lists it in !help.
 *
 * The module listens to the `message` event of the irc object: attach it
 * after the irc object starts and detach it before it stops. */
#ifndef BOTHOST_COMMANDS_H
#define BOTHOST_COMMANDS_H

struct behaviours_conf;

/* Take the prefix, the owners and the rate limits of cfg. 0 or -ENOMEM
 * (then nothing changed). */
int commands_configure(const struct behaviours_conf *cfg);
/* Listen to the irc object's messages (a no-op without an irc object, or
 * when already listening, or before commands_configure). */
void commands_irc_attach(void);
/* Stop listening (the irc object is about to stop). */
void commands_irc_detach(void);
/* Forget everything. */
void commands_free(void);

#endif
