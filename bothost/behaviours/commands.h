/* SPDX-License-Identifier: ISC */
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
 * A client may also claim a word at run time by registering for the bot
 * object's event "command:WORD" (commands_claim_add; botkit's
 * bk_irc_on_command): the host then sends it that event, the `message`
 * event with the parsed command added, for every use of the word within the
 * user's rate limit, and never answers the word itself. The claim lasts as
 * long as a registration of it: `off`, or the client going away, ends it.
 *
 * The module listens to the `message` event of the irc object: attach it
 * after the irc object starts and detach it before it stops. */
#ifndef BOTHOST_COMMANDS_H
#define BOTHOST_COMMANDS_H

#include <stdbool.h>

struct behaviours_conf;
struct client;
struct emitter;
struct fn;

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

/* The emitter where "command:WORD" events go (the bot object's; NULL: none). */
void commands_set_emitter(struct emitter *em);
/* Register fn of client c for "command:WORD" on that emitter (once: removed
 * after one use): the claim of WORD. 0; -EINVAL for a word that is no
 * command word (letters, digits, '-', '_', '.', lower case, at most 32);
 * -EEXIST when a built-in, a [command] section, another resident's
 * `commands` or another client has it; -ENOBUFS (handlers_max); -ENOMEM.
 * On failure *ret_error (allocated, may be NULL on -ENOMEM) says why. */
int commands_claim_add(const char *word, struct fn *fn, bool once, struct client *c, char **ret_error);

#endif
