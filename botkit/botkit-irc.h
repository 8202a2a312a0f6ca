/* SPDX-License-Identifier: ISC */
/* botkit-irc: the host's `irc` object (PROTOCOL.md, "The irc object") as a
 * typed API, so that a behaviour reads like a program using a local IRC
 * client. This header includes <botkit.h>; the functions are part of
 * libbotkit (nothing more to link) and are sugar over bk_call() and bk_on(),
 * which a program may also use directly on the `irc` object.
 *
 *   static void on_message(bk_conn *c, const bk_irc_event *ev, void *ud)
 *   {
 *           if (strcmp(bk_irc_event_text(ev), "!ping") == 0)
 *                   bk_irc_event_reply(ev, "pong");
 *   }
 *   ...
 *   bk_irc_on_message(c, on_message, NULL, NULL, NULL);
 *   bk_irc_say(c, "#chan", "hello");
 *
 * Methods block until the host answers and return 0 or a negative errno code
 * as any call does; the error behind a failure is in bk_conn_last_error().
 * IRC failures keep the general mapping: `ServerRefused` (the server refused
 * a command: join, nick, part, topic set, kick, mode, invite; the message
 * names the numeric and its text, see bk_irc_error_numeric()), `IrcError`
 * (a query the server answered with an error) and `NotConnected` (no IRC
 * connection within the host's queue_max_age) give -EIO, `InvalidArguments`
 * (a target, channel, nick or text the host refuses) -EINVAL,
 * `LimitExceeded` (outbound queue full) -ENOBUFS, `PermissionDenied` (raw
 * from an unprivileged client) -EPERM. Messages complete once every line is
 * written to the server; part, topic set, kick, mode and invite once the
 * server has processed the command without refusing it (at most the host's
 * refusal_wait, 2 s by default, after it is written). Text is
 * checked by the host, never by a format string: a line feed starts a new
 * message, long lines are split. A NULL required argument gives -EINVAL and
 * nothing is sent. Queries hand out owned results only on success (free them
 * with bk_json_delete() or free() as noted); a result of the wrong JSON type
 * gives -EPROTO. */
#ifndef BOTKIT_IRC_H
#define BOTKIT_IRC_H

#include <stdbool.h>
#include <stdint.h>

#include "botkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Send text to a channel or nick: PRIVMSG, NOTICE, CTCP ACTION (`/me`). */
int bk_irc_say(bk_conn *c, const char *target, const char *text);
int bk_irc_notice(bk_conn *c, const char *target, const char *text);
int bk_irc_action(bk_conn *c, const char *target, const char *text);
/* bk_irc_say() with text formatted by printf rules. */
int bk_irc_sayf(bk_conn *c, const char *target, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
/* A CTCP request, and a CTCP reply (a NOTICE); args may be NULL. */
int bk_irc_ctcp(bk_conn *c, const char *target, const char *command, const char *args);
int bk_irc_ctcp_reply(bk_conn *c, const char *target, const char *command, const char *args);
/* Join a channel (key may be NULL); returns once the server confirms the join
 * (ServerRefused, e.g. 474 when banned). */
int bk_irc_join(bk_conn *c, const char *channel, const char *key);
/* Leave a channel (reason may be NULL); the host does not rejoin it. */
int bk_irc_part(bk_conn *c, const char *channel, const char *reason);
/* Change the bot's nick; returns once the server confirms (ServerRefused,
 * e.g. 433 when the nick is in use). */
int bk_irc_nick(bk_conn *c, const char *nick);
/* Set a channel's topic; an empty text clears it. */
int bk_irc_topic_set(bk_conn *c, const char *channel, const char *text);
/* Kick nick from channel (reason may be NULL). */
int bk_irc_kick(bk_conn *c, const char *channel, const char *nick, const char *reason);
/* Change modes: the mode arguments follow `modes` and end with NULL, e.g.
 * bk_irc_mode(c, "#chan", "+ov", "alice", "bob", NULL). */
int bk_irc_mode(bk_conn *c, const char *target, const char *modes, ...)
#if defined(__GNUC__)
	__attribute__((sentinel))
#endif
	;
/* The same with the mode arguments as a NULL-terminated array (NULL: none). */
int bk_irc_mode_argv(bk_conn *c, const char *target, const char *modes,
		     const char *const *args);
/* Invite nick to channel. */
int bk_irc_invite(bk_conn *c, const char *nick, const char *channel);
/* Send one raw IRC line (privileged; the host validates it). */
int bk_irc_raw(bk_conn *c, const char *line);

/* Queries. WHOIS: {"nick","user","host","realname","server","account",
 * "channels","idle","signon","operator","away"}; IrcError for an unknown nick. */
int bk_irc_whois(bk_conn *c, const char *nick, cJSON **ret_info);
/* NAMES: [{"nick","prefixes"}...] as the server lists them. */
int bk_irc_names(bk_conn *c, const char *channel, cJSON **ret_names);
/* The topic: {"channel","topic","setter","time"}. */
int bk_irc_topic_get(bk_conn *c, const char *channel, cJSON **ret_topic);
/* The bot's current nick (free it with free()). */
int bk_irc_get_nick(bk_conn *c, char **ret_nick);
/* The channels the bot is in: [{"name","topic","users"}...]. */
int bk_irc_get_channels(bk_conn *c, cJSON **ret_channels);
/* What the host knows of a channel's members: [{"nick","prefixes","user","host","account"}...]. */
int bk_irc_get_users(bk_conn *c, const char *channel, cJSON **ret_users);
/* The connection's state: {"state","server","nick","since","queued"}. */
int bk_irc_get_state(bk_conn *c, cJSON **ret_state);
/* The server's ISUPPORT tokens as an object. */
int bk_irc_get_isupport(bk_conn *c, cJSON **ret_isupport);

/* Asynchronous variants for programs on an event loop: same arguments, then
 * a completion; same return rules as bk_call(). `reply` may be NULL. */
int bk_irc_say_async(bk_conn *c, const char *target, const char *text, bk_reply_fn reply,
		     void *userdata);
int bk_irc_notice_async(bk_conn *c, const char *target, const char *text, bk_reply_fn reply,
			void *userdata);
int bk_irc_action_async(bk_conn *c, const char *target, const char *text, bk_reply_fn reply,
			void *userdata);
int bk_irc_join_async(bk_conn *c, const char *channel, const char *key, bk_reply_fn reply,
		      void *userdata);
/* The completion's result is the WHOIS object described above. */
int bk_irc_whois_async(bk_conn *c, const char *nick, bk_reply_fn reply, void *userdata);

/* The numeric of a ServerRefused or an IrcError (data.numeric, e.g. 474 for
 * a banned join, 482 for a mode the bot may not set), or 0. */
int bk_irc_error_numeric(const bk_error *e);

/* --- IRC events --- */

typedef struct bk_irc_event bk_irc_event;	/* one event, valid during its handler */

typedef void (*bk_irc_handler)(bk_conn *c, const bk_irc_event *ev, void *userdata);

/* Register handler(userdata) for an IRC event (blocking until the host
 * accepts): "message", "join", ... (PROTOCOL.md lists them). ret_slot and
 * destroy as for bk_on(): destroy(userdata) runs once, when the host holds
 * the pair for no event any more. The same (handler, userdata) pair is the
 * same function to the host for a given event, so registering it twice
 * registers it twice and bk_irc_off() finds it. */
int bk_irc_on(bk_conn *c, const char *event, bk_irc_handler handler, void *userdata,
	      void (*destroy)(void *), bk_slot **ret_slot);
/* The same, removed after the first event. */
int bk_irc_once(bk_conn *c, const char *event, bk_irc_handler handler, void *userdata,
		void (*destroy)(void *), bk_slot **ret_slot);
/* Remove the most recent registration of the pair for the event (blocking).
 * Returns 1 if one was removed, 0 if none matched. */
int bk_irc_off(bk_conn *c, const char *event, bk_irc_handler handler, void *userdata);

/* Where a message went, for a filter. */
typedef enum bk_irc_where {
	BK_IRC_ANYWHERE = 0,
	BK_IRC_PRIVATE_ONLY,	/* sent to the bot itself */
	BK_IRC_CHANNEL_ONLY,	/* sent to a channel */
} bk_irc_where;

/* A filter the host runs before it wakes the program (PROTOCOL.md,
 * "Filters"): every field set must match; NULL (or 0) fields match
 * anything. For "message", "action" and "notice" only. */
typedef struct bk_irc_filter {
	const char *channel;	/* this channel (casemapped) */
	bk_irc_where where;
	const char *nick;	/* a mask (* and ?) of the nick, or of nick!user@host when it holds ! or @ */
	const char *prefix;	/* the text starts with it (exactly) */
	const char *command;	/* the first word (after prefix), in any case: "seen" */
	const char *contains;	/* the text contains it, ASCII letters in any case */
} bk_irc_filter;

/* bk_irc_on() with a filter f (NULL or no field set: none). The filter is
 * part of the registration: the pair registered with another filter is
 * another registration (and another function to the host), and
 * bk_irc_off_filtered() removes the one with an equal filter. A bad filter
 * gives -EINVAL (the host's InvalidArguments in bk_conn_last_error()). */
int bk_irc_on_filtered(bk_conn *c, const char *event, const bk_irc_filter *f, bk_irc_handler handler,
		       void *userdata, void (*destroy)(void *), bk_slot **ret_slot);
/* bk_irc_on_filtered() for "message":
 *   bk_irc_on_message_filtered(c, &(bk_irc_filter){ .channel = "#chan", .prefix = "!",
 *                              .command = "seen" }, on_seen, NULL, NULL, NULL); */
int bk_irc_on_message_filtered(bk_conn *c, const bk_irc_filter *f, bk_irc_handler h, void *userdata,
			       void (*destroy)(void *), bk_slot **ret_slot);
/* bk_irc_off() for the registration with filter f (NULL: the unfiltered one). */
int bk_irc_off_filtered(bk_conn *c, const char *event, const bk_irc_filter *f, bk_irc_handler handler,
			void *userdata);

/* bk_irc_on() for each event of the irc object. */
int bk_irc_on_connect(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		      bk_slot **ret_slot);
int bk_irc_on_disconnect(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
			 bk_slot **ret_slot);
int bk_irc_on_message(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		      bk_slot **ret_slot);
int bk_irc_on_action(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		     bk_slot **ret_slot);
int bk_irc_on_notice(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		     bk_slot **ret_slot);
int bk_irc_on_ctcp(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);
int bk_irc_on_join(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);
int bk_irc_on_part(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);
int bk_irc_on_quit(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);
int bk_irc_on_kick(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);
int bk_irc_on_nick(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);
int bk_irc_on_topic(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		    bk_slot **ret_slot);
int bk_irc_on_mode(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);
int bk_irc_on_invite(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		     bk_slot **ret_slot);
int bk_irc_on_numeric(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		      bk_slot **ret_slot);
int bk_irc_on_line(bk_conn *c, bk_irc_handler h, void *userdata, void (*destroy)(void *),
		   bk_slot **ret_slot);

/* Answer the IRC command `word` (the host's command prefix, then the word in
 * any case, then a blank or the end: "!karma alice"; never "!karmafoo"):
 * h(userdata) gets the `message` event of each use within the user's rate
 * limit, with the words after it (bk_irc_event_rest(), bk_irc_event_argc(),
 * bk_irc_event_arg(); the word as typed in bk_irc_event_string(ev,
 * "command"), the prefix in "prefix") and its reply function. The host
 * matches the prefix it is configured with and, while the registration
 * lasts, knows the word as this program's: it neither runs nor refuses it,
 * and lists it in !help; no `commands =` is needed. It is the registration
 * of the `bot` object's event "command:WORD" (bothost with a configuration
 * file), ended like any other (slot, bk_irc_off(c, "command:WORD", ...),
 * disconnect). Returns 0; -EINVAL for a word that is no command word (1 to
 * 32 letters, digits, '-', '_', '.'); -EEXIST when a built-in command, a
 * [command] section, another resident's `commands` or another client has
 * the word (bk_conn_last_error() says which); -ENOENT without a `bot`
 * object. */
int bk_irc_on_command(bk_conn *c, const char *word, bk_irc_handler h, void *userdata,
		      void (*destroy)(void *), bk_slot **ret_slot);

/* Event accessors. Strings are borrowed from the event and valid during the
 * handler; absent fields give NULL (0, false). */
/* The event's name ("message", ...). */
const char *bk_irc_event_name(const bk_irc_event *ev);
/* The whole event object (functions in it included). */
const cJSON *bk_irc_event_json(const bk_irc_event *ev);
/* A top-level string field, e.g. "reason", "topic", "modes", "command". */
const char *bk_irc_event_string(const bk_irc_event *ev, const char *field);
/* The person the event comes from: `from` (messages), `who` (join, part,
 * quit, nick: the old nick, topic, mode, invite) or `by` (kick). */
const char *bk_irc_event_nick(const bk_irc_event *ev);
const char *bk_irc_event_user(const bk_irc_event *ev);
const char *bk_irc_event_host(const bk_irc_event *ev);
/* The services account, when the server tells it. */
const char *bk_irc_event_account(const bk_irc_event *ev);
/* Where a message was sent (a channel or the bot's nick). */
const char *bk_irc_event_target(const bk_irc_event *ev);
/* The channel, or NULL for a private message. */
const char *bk_irc_event_channel(const bk_irc_event *ev);
/* True for a message sent to the bot itself. */
bool bk_irc_event_is_private(const bk_irc_event *ev);
/* True when the event is about the bot itself (join, part, kick, nick). */
bool bk_irc_event_is_self(const bk_irc_event *ev);
/* The text of a message, action or notice. */
const char *bk_irc_event_text(const bk_irc_event *ev);
/* Of a command (bk_irc_on_command): the text after the word (blanks
 * skipped), the number of words in it, and word i (NULL past the end). */
const char *bk_irc_event_rest(const bk_irc_event *ev);
unsigned bk_irc_event_argc(const bk_irc_event *ev);
const char *bk_irc_event_arg(const bk_irc_event *ev, unsigned i);
/* The server's timestamp in milliseconds since the epoch, or 0 when unknown. */
int64_t bk_irc_event_time(const bk_irc_event *ev);
/* Answer through the event's `reply` function: in the channel, or privately
 * to the sender (for a ctcp event: the CTCP reply). Asynchronous: the answer
 * is queued and nobody reports on it. -ENOENT when the event has no reply. */
int bk_irc_event_reply(const bk_irc_event *ev, const char *text);
int bk_irc_event_replyf(const bk_irc_event *ev, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* The same with a completion that reports the host's answer (reply NULL: as
 * bk_irc_event_reply()); same return rules as bk_call(). */
int bk_irc_event_reply_async(const bk_irc_event *ev, const char *text, bk_reply_fn reply,
			     void *userdata);
/* The event's reply function (borrowed: bk_fn_ref() it to keep it after the
 * handler returns), or NULL. */
bk_fn *bk_irc_event_reply_fn(const bk_irc_event *ev);

#ifdef __cplusplus
}
#endif

#endif
