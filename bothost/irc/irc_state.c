/* SPDX-License-Identifier: ISC */
/* The bot's view of its IRC connection, updated from every line. */
#include "config.h"

#include "irc_state.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irc_line.h"
#include "core/clock.h"
#include "core/list.h"
#include "core/log.h"
#include "wire/map.h"

/* Someone in at least one of the bot's channels. */
struct irc_user {
	char *nick;
	char *user;		/* NULL while unknown */
	char *host;
	char *account;
	unsigned channels;	/* memberships; freed at 0 */
	struct irc_user *next_same_hash;
	struct list link;	/* in irc_state.users_list */
};

/* A user's place in one channel. */
struct irc_member {
	struct irc_user *user;
	char *prefixes;		/* mode symbols, highest first */
	struct list link;	/* in irc_channel.members_list */
};

struct irc_channel {
	char *name;
	char *topic;		/* NULL: none */
	char *setter;
	int64_t topic_time;	/* milliseconds since the epoch, 0 when unknown */
	struct map members;	/* ((uintptr_t)user, 0) -> struct irc_member */
	struct list members_list;
	bool full;		/* a member was dropped at IRC_STATE_MEMBERS_MAX (warned once) */
	struct list link;	/* in irc_state.channels */
};

struct irc_state {
	struct isupport *is;
	enum isupport_casemap cm;	/* the one the user table is hashed with */
	char *nick;
	char *user;
	char *host;
	struct list channels;
	size_t nchannels;
	bool channels_full;		/* a channel was dropped at IRC_STATE_CHANNELS_MAX (warned once) */
	struct map users;		/* (casemapped hash, 0) -> chain of struct irc_user */
	struct list users_list;
	unsigned caps;			/* enum irc_state_cap: what account information is believed */
};


/* Replace *field with a copy of v (NULL clears it); false on allocation failure. */
static bool irc_state_set_str(char **field, const char *v)
{
	char *copy = NULL;

	if (v && *field && strcmp(*field, v) == 0)
		return true;
	if (v && !(copy = strdup(v)))
		return false;
	free(*field);
	*field = copy;
	return true;
}

/* ---- users -------------------------------------------------------------- */

/* The user called nick, or NULL. */
static struct irc_user *irc_state_user_find(const struct irc_state *s, const char *nick)
{
	uint64_t h = isupport_casemap_hash(s->cm, nick);

	for (struct irc_user *u = map_get(&s->users, h, 0); u; u = u->next_same_hash)
		if (isupport_casemap_equal(s->cm, u->nick, nick))
			return u;
	return NULL;
}

/* Put u into the hash table under its nick. */
static int irc_state_user_hash(struct irc_state *s, struct irc_user *u)
{
	uint64_t h = isupport_casemap_hash(s->cm, u->nick);

	u->next_same_hash = map_get(&s->users, h, 0);
	return map_put(&s->users, h, 0, u);
}

/* Take u out of the hash table. */
static void irc_state_user_unhash(struct irc_state *s, struct irc_user *u)
{
	uint64_t h = isupport_casemap_hash(s->cm, u->nick);
	struct irc_user *head = map_get(&s->users, h, 0), **pp;

	for (pp = &head; *pp && *pp != u; pp = &(*pp)->next_same_hash)
		;
	if (!*pp)
		return;
	*pp = u->next_same_hash;
	if (head)
		map_put(&s->users, h, 0, head);	/* replaces: cannot fail */
	else
		map_remove(&s->users, h, 0);
	u->next_same_hash = NULL;
}

/* The user called nick, created when absent. */
static struct irc_user *irc_state_user_get(struct irc_state *s, const char *nick)
{
	struct irc_user *u = irc_state_user_find(s, nick);

	if (u)
		return u;
	u = calloc(1, sizeof *u);
	if (!u || !(u->nick = strdup(nick)) || irc_state_user_hash(s, u) < 0) {
		if (u)
			free(u->nick);
		free(u);
		return NULL;
	}
	list_add_tail(&s->users_list, &u->link);
	return u;
}

/* Drop one membership of u; the last one frees it. */
static void irc_state_user_unref(struct irc_state *s, struct irc_user *u)
{
	if (--u->channels > 0)
		return;
	irc_state_user_unhash(s, u);
	list_remove(&u->link);
	free(u->nick);
	free(u->user);
	free(u->host);
	free(u->account);
	free(u);
}

/* Rename a user (re-hashed under the new nick). */
static int irc_state_user_rename(struct irc_state *s, struct irc_user *u, const char *nick)
{
	char *copy = strdup(nick);

	if (!copy)
		return -ENOMEM;
	irc_state_user_unhash(s, u);
	free(u->nick);
	u->nick = copy;
	return irc_state_user_hash(s, u);
}

/* Hash every user again after the casemapping changed. */
static void irc_state_rehash(struct irc_state *s)
{
	enum isupport_casemap cm = isupport_casemapping(s->is);

	if (cm == s->cm)
		return;
	map_free(&s->users);
	s->users = (struct map)MAP_INIT;
	s->cm = cm;
	for (struct list *l = s->users_list.next; l != &s->users_list; l = l->next)
		irc_state_user_hash(s, list_entry(l, struct irc_user, link));
}

/* ---- channels ----------------------------------------------------------- */

/* The channel called name, or NULL. */
static struct irc_channel *irc_state_channel_find(const struct irc_state *s, const char *name)
{
	for (struct list *l = s->channels.next; l != &s->channels; l = l->next) {
		struct irc_channel *ch = list_entry(l, struct irc_channel, link);
		if (isupport_casemap_equal(s->cm, ch->name, name))
			return ch;
	}
	return NULL;
}

/* Remove a member from its channel. */
static void irc_state_member_free(struct irc_state *s, struct irc_channel *ch, struct irc_member *m)
{
	map_remove(&ch->members, (uintptr_t)m->user, 0);
	list_remove(&m->link);
	irc_state_user_unref(s, m->user);
	free(m->prefixes);
	free(m);
}

/* Forget a channel and its members. */
static void irc_state_channel_free(struct irc_state *s, struct irc_channel *ch)
{
	while (!list_empty(&ch->members_list))
		irc_state_member_free(s, ch, list_entry(ch->members_list.next, struct irc_member, link));
	map_free(&ch->members);
	list_remove(&ch->link);
	s->nchannels--;
	free(ch->name);
	free(ch->topic);
	free(ch->setter);
	free(ch);
}

/* The bot joined name: a fresh channel (an old one of that name is dropped)
 * in *ret_ch, or NULL there when IRC_STATE_CHANNELS_MAX are known. 0 or -ENOMEM. */
static int irc_state_channel_add(struct irc_state *s, const char *name, struct irc_channel **ret_ch)
{
	struct irc_channel *ch = irc_state_channel_find(s, name);

	*ret_ch = NULL;
	if (ch)
		irc_state_channel_free(s, ch);
	if (s->nchannels >= IRC_STATE_CHANNELS_MAX) {
		if (!s->channels_full)
			log_warn("irc: %d channels known: %s and any further channel are not followed",
				 IRC_STATE_CHANNELS_MAX, name);
		s->channels_full = true;
		return 0;
	}
	ch = calloc(1, sizeof *ch);
	if (!ch || !(ch->name = strdup(name))) {
		free(ch);
		return -ENOMEM;
	}
	list_init(&ch->members_list);
	list_add_tail(&s->channels, &ch->link);
	s->nchannels++;
	*ret_ch = ch;
	return 0;
}

/* The member of ch called nick, or NULL. */
static struct irc_member *irc_state_member_find(const struct irc_state *s, const struct irc_channel *ch,
						const char *nick)
{
	struct irc_user *u = irc_state_user_find(s, nick);

	return u ? map_get(&ch->members, (uintptr_t)u, 0) : NULL;
}

/* Free a user that has no membership (one just created for a failed add). */
static void irc_state_user_drop_unused(struct irc_state *s, struct irc_user *u)
{
	if (u->channels > 0)
		return;
	u->channels = 1;
	irc_state_user_unref(s, u);
}

/* Whether ch is full: a new member is dropped (the first time with a warning). */
static bool irc_state_channel_full(struct irc_channel *ch)
{
	if (map_count(&ch->members) < IRC_STATE_MEMBERS_MAX)
		return false;
	if (!ch->full)
		log_warn("irc: %s has %d members: further members are not recorded", ch->name,
			 IRC_STATE_MEMBERS_MAX);
	ch->full = true;
	return true;
}

/* The member of ch called nick, added when absent; NULL when ch is full
 * and nick not in it, or on allocation failure (then *ret_err is -ENOMEM). */
static struct irc_member *irc_state_member_get(struct irc_state *s, struct irc_channel *ch, const char *nick,
					       int *ret_err)
{
	struct irc_member *m = irc_state_member_find(s, ch, nick);
	struct irc_user *u;

	*ret_err = 0;
	if (m || irc_state_channel_full(ch))
		return m;
	*ret_err = -ENOMEM;
	u = irc_state_user_get(s, nick);
	if (!u)
		return NULL;
	m = calloc(1, sizeof *m);
	if (!m || !(m->prefixes = strdup("")) || map_put(&ch->members, (uintptr_t)u, 0, m) < 0) {
		if (m)
			free(m->prefixes);
		free(m);
		irc_state_user_drop_unused(s, u);
		return NULL;
	}
	m->user = u;
	u->channels++;
	list_add_tail(&ch->members_list, &m->link);
	*ret_err = 0;
	return m;
}

/* Add (or remove) the prefix symbol sym to a member, keeping PREFIX order. */
static int irc_state_member_prefix(struct irc_state *s, struct irc_member *m, char sym, bool add)
{
	const char *order = isupport_prefix_symbols(s->is);
	char buf[64];
	size_t n = 0;

	for (const char *o = order; *o && n + 1 < sizeof buf; o++) {
		bool has = strchr(m->prefixes, *o) != NULL;
		if (*o == sym)
			has = add;
		if (has)
			buf[n++] = *o;
	}
	buf[n] = '\0';
	return irc_state_set_str(&m->prefixes, buf) ? 0 : -ENOMEM;
}

/* ---- the state ---------------------------------------------------------- */

/* A new, empty state. */
struct irc_state *irc_state_new(void)
{
	struct irc_state *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->is = isupport_new();
	if (!s->is) {
		free(s);
		return NULL;
	}
	s->cm = isupport_casemapping(s->is);
	list_init(&s->channels);
	list_init(&s->users_list);
	return s;
}

/* Forget the connection. */
void irc_state_reset(struct irc_state *s)
{
	while (!list_empty(&s->channels))
		irc_state_channel_free(s, list_entry(s->channels.next, struct irc_channel, link));
	map_free(&s->users);
	s->users = (struct map)MAP_INIT;
	s->channels_full = false;
	s->caps = 0;
	isupport_reset(s->is);
	s->cm = isupport_casemapping(s->is);
	irc_state_set_str(&s->nick, NULL);
	irc_state_set_str(&s->user, NULL);
	irc_state_set_str(&s->host, NULL);
}

/* Free the state. */
struct irc_state *irc_state_free(struct irc_state *s)
{
	if (!s)
		return NULL;
	irc_state_reset(s);
	isupport_free(s->is);
	free(s);
	return NULL;
}

/* Set the bot's nick. */
int irc_state_set_nick(struct irc_state *s, const char *nick)
{
	return irc_state_set_str(&s->nick, nick) ? 0 : -ENOMEM;
}

/* Accessors. */
const char *irc_state_nick(const struct irc_state *s) { return s->nick; }
const char *irc_state_user(const struct irc_state *s) { return s->user; }
const char *irc_state_host(const struct irc_state *s) { return s->host; }
const struct isupport *irc_state_isupport(const struct irc_state *s) { return s->is; }
enum isupport_casemap irc_state_casemap(const struct irc_state *s) { return s->cm; }

/* Casemapped equality. */
bool irc_state_same(const struct irc_state *s, const char *a, const char *b)
{
	return a && b && isupport_casemap_equal(s->cm, a, b);
}

/* Whether nick is the bot. */
bool irc_state_is_me(const struct irc_state *s, const char *nick)
{
	return irc_state_same(s, s->nick, nick);
}

/* Whether name starts with a channel type. */
bool irc_state_is_channel(const struct irc_state *s, const char *name)
{
	return name && name[0] && strchr(isupport_chantypes(s->is), name[0]);
}

/* Whether the bot is in channel. */
bool irc_state_in_channel(const struct irc_state *s, const char *channel)
{
	return irc_state_channel_find(s, channel) != NULL;
}

/* The account known for nick. */
const char *irc_state_account(const struct irc_state *s, const char *nick)
{
	struct irc_user *u = nick ? irc_state_user_find(s, nick) : NULL;

	return u ? u->account : NULL;
}

/* ---- updates ------------------------------------------------------------ */

/* Set the capabilities in force. */
void irc_state_set_caps(struct irc_state *s, unsigned caps)
{
	s->caps = caps;
}

/* The account tag, when account-tag is in force. */
static const char *irc_state_tag_account(const struct irc_state *s, const struct irc_line *l)
{
	return s->caps & IRC_STATE_CAP_ACCOUNT_TAG ? irc_line_tag(l, "account") : NULL;
}

/* The account of an extended JOIN (JOIN #channel account :realname). */
static const char *irc_state_join_account(const struct irc_state *s, const struct irc_line *l)
{
	if (!(s->caps & IRC_STATE_CAP_EXTENDED_JOIN) || strcmp(irc_line_command(l), "JOIN") != 0 ||
	    irc_line_param_count(l) < 3)
		return NULL;
	return irc_line_param(l, 1);
}

/* The account a line says its source has, when believed. */
const char *irc_state_line_account(const struct irc_state *s, const struct irc_line *l)
{
	const char *account = irc_state_tag_account(s, l);

	return account ? account : irc_state_join_account(s, l);
}

/* Learn user, host and account of the line's source. */
static int irc_state_learn_source(struct irc_state *s, const struct irc_line *l)
{
	const char *nick = irc_line_nick(l), *user = irc_line_user(l), *host = irc_line_host(l);
	const char *account = irc_state_tag_account(s, l);
	struct irc_user *u;

	if (!nick || !user || !host)
		return 0;
	if (irc_state_is_me(s, nick) &&
	    (!irc_state_set_str(&s->user, user) || !irc_state_set_str(&s->host, host)))
		return -ENOMEM;
	u = irc_state_user_find(s, nick);
	if (!u)
		return 0;
	if (!irc_state_set_str(&u->user, user) || !irc_state_set_str(&u->host, host))
		return -ENOMEM;
	if (account && !irc_state_set_str(&u->account, strcmp(account, "*") ? account : NULL))
		return -ENOMEM;
	return 0;
}

/* JOIN: the bot opens the channel; anyone else becomes a member. */
static int irc_state_on_join(struct irc_state *s, const struct irc_line *l)
{
	const char *nick = irc_line_nick(l), *name = irc_line_param(l, 0);
	const char *account = irc_state_join_account(s, l);
	struct irc_channel *ch = NULL;
	struct irc_member *m;
	int r = 0;

	if (!nick || !name)
		return 0;
	if (irc_state_is_me(s, nick))
		r = irc_state_channel_add(s, name, &ch);
	else
		ch = irc_state_channel_find(s, name);
	if (!ch)
		return r;
	m = irc_state_member_get(s, ch, nick, &r);
	if (!m)
		return r;
	if (account && !irc_state_set_str(&m->user->account, strcmp(account, "*") ? account : NULL))
		return -ENOMEM;
	return irc_state_learn_source(s, l);
}

/* nick left channel (PART or KICK). */
static void irc_state_leave(struct irc_state *s, const char *channel, const char *nick)
{
	struct irc_channel *ch = channel ? irc_state_channel_find(s, channel) : NULL;
	struct irc_member *m;

	if (!ch || !nick)
		return;
	if (irc_state_is_me(s, nick)) {
		irc_state_channel_free(s, ch);
		return;
	}
	m = irc_state_member_find(s, ch, nick);
	if (m)
		irc_state_member_free(s, ch, m);
}

/* QUIT: the user leaves every channel. */
static void irc_state_on_quit(struct irc_state *s, const char *nick)
{
	struct irc_user *u = nick ? irc_state_user_find(s, nick) : NULL;

	for (struct list *l = s->channels.next; u && l != &s->channels; l = l->next) {
		struct irc_channel *ch = list_entry(l, struct irc_channel, link);
		struct irc_member *m = map_get(&ch->members, (uintptr_t)u, 0);
		/* The last membership frees u: stop looking then. */
		bool last = u->channels == 1;
		if (!m)
			continue;
		irc_state_member_free(s, ch, m);
		if (last)
			break;
	}
}

/* NICK: the bot's own nick or a user's. */
static int irc_state_on_nick(struct irc_state *s, const struct irc_line *l)
{
	const char *old = irc_line_nick(l), *nick = irc_line_param(l, 0);
	struct irc_user *u;

	if (!old || !nick || !*nick)
		return 0;
	if (irc_state_is_me(s, old) && !irc_state_set_str(&s->nick, nick))
		return -ENOMEM;
	u = irc_state_user_find(s, old);
	return u ? irc_state_user_rename(s, u, nick) : 0;
}

/* One entry of a 353 list: prefixes, then nick (or nick!user@host). */
static int irc_state_names_entry(struct irc_state *s, struct irc_channel *ch, char *entry)
{
	size_t np = strspn(entry, isupport_prefix_symbols(s->is));
	char *nick = entry + np, *bang = strchr(nick, '!'), *at = strchr(nick, '@');
	struct irc_member *m;
	int r;

	if (!*nick)
		return 0;
	if (bang)
		*bang = '\0';
	if (at)
		*at = '\0';
	m = irc_state_member_get(s, ch, nick, &r);
	if (!m)
		return r;
	if (bang && at && at > bang &&
	    (!irc_state_set_str(&m->user->user, bang + 1) || !irc_state_set_str(&m->user->host, at + 1)))
		return -ENOMEM;
	for (size_t i = 0; i < np; i++)
		if (irc_state_member_prefix(s, m, entry[i], true) < 0)
			return -ENOMEM;
	return 0;
}

/* 353: members of a channel the bot is in. */
static int irc_state_on_names(struct irc_state *s, const struct irc_line *l)
{
	size_t n = irc_line_param_count(l);
	struct irc_channel *ch = n >= 3 ? irc_state_channel_find(s, irc_line_param(l, n - 2)) : NULL;
	char *list, *save = NULL;
	int r = 0;

	if (!ch)
		return 0;
	list = strdup(irc_line_last_param(l));
	if (!list)
		return -ENOMEM;
	for (char *e = strtok_r(list, " ", &save); e && r == 0; e = strtok_r(NULL, " ", &save))
		r = irc_state_names_entry(s, ch, e);
	free(list);
	return r;
}

/* MODE on a channel: follow the member prefix modes (+o, -v, ...). */
static int irc_state_on_mode(struct irc_state *s, const struct irc_line *l)
{
	struct irc_channel *ch = irc_state_channel_find(s, irc_line_param(l, 0) ? irc_line_param(l, 0) : "");
	const char *modes = irc_line_param(l, 1), *pmodes = isupport_prefix_modes(s->is);
	size_t arg = 2;
	bool adding = true;

	if (!ch || !modes)
		return 0;
	for (; *modes; modes++) {
		const char *p = strchr(pmodes, *modes);
		if (*modes == '+' || *modes == '-') {
			adding = *modes == '+';
		} else if (p) {
			const char *nick = irc_line_param(l, arg++);
			struct irc_member *m = nick ? irc_state_member_find(s, ch, nick) : NULL;
			if (m && irc_state_member_prefix(s, m, isupport_prefix_symbols(s->is)[p - pmodes], adding) < 0)
				return -ENOMEM;
		} else if (isupport_mode_has_param(s->is, *modes, adding)) {
			arg++;
		}
	}
	return 0;
}

/* Topic numerics and TOPIC. */
static int irc_state_on_topic(struct irc_state *s, const struct irc_line *l, int numeric)
{
	bool cmd = numeric < 0;
	const char *name = irc_line_param(l, cmd ? 0 : 1);
	struct irc_channel *ch = name ? irc_state_channel_find(s, name) : NULL;
	const char *topic = irc_line_last_param(l);

	if (!ch)
		return 0;
	switch (numeric) {
	case 331:
		topic = NULL;
		/* fall through */
	case 332:
		return irc_state_set_str(&ch->topic, topic) ? 0 : -ENOMEM;
	case 333:
		ch->topic_time = irc_line_param(l, 3) ? strtoll(irc_line_param(l, 3), NULL, 10) * 1000 : 0;
		return irc_state_set_str(&ch->setter, irc_line_param(l, 2)) ? 0 : -ENOMEM;
	default:
		ch->topic_time = clock_wall_ms();
		if (!irc_state_set_str(&ch->topic, topic && *topic ? topic : NULL) ||
		    !irc_state_set_str(&ch->setter, irc_line_source(l)))
			return -ENOMEM;
		return 0;
	}
}

/* 311 and 352: a user's user and host; 330: an account. */
static int irc_state_on_userinfo(struct irc_state *s, const struct irc_line *l, int numeric)
{
	const char *nick = irc_line_param(l, numeric == 352 ? 5 : 1);
	struct irc_user *u = nick ? irc_state_user_find(s, nick) : NULL;
	const char *user = irc_line_param(l, 2), *host = irc_line_param(l, 3);

	if (!u)
		return 0;
	if (numeric == 330)
		return irc_state_set_str(&u->account, user) ? 0 : -ENOMEM;
	if (!user || !host || !irc_state_set_str(&u->user, user) || !irc_state_set_str(&u->host, host))
		return user && host ? -ENOMEM : 0;
	return 0;
}

/* Numerics that change the state. */
static int irc_state_on_numeric(struct irc_state *s, const struct irc_line *l, int numeric)
{
	switch (numeric) {
	case 1:
		return irc_line_param(l, 0) ? irc_state_set_nick(s, irc_line_param(l, 0)) : 0;
	case 5: {
		int r = isupport_add_line(s->is, l);
		irc_state_rehash(s);
		return r < 0 ? r : 0;
	}
	case 331: case 332: case 333:
		return irc_state_on_topic(s, l, numeric);
	case 353:
		return irc_state_on_names(s, l);
	case 311: case 330: case 352:
		return irc_state_on_userinfo(s, l, numeric);
	default:
		return 0;
	}
}

/* ACCOUNT (account-notify): the source logged in or out. */
static int irc_state_on_account(struct irc_state *s, const struct irc_line *l)
{
	struct irc_user *u = irc_line_nick(l) ? irc_state_user_find(s, irc_line_nick(l)) : NULL;
	const char *account = irc_line_param(l, 0);

	if (!u || !account || !(s->caps & IRC_STATE_CAP_ACCOUNT_NOTIFY))
		return 0;
	return irc_state_set_str(&u->account, strcmp(account, "*") ? account : NULL) ? 0 : -ENOMEM;
}

/* Apply one line. */
int irc_state_update(struct irc_state *s, const struct irc_line *l)
{
	const char *cmd = irc_line_command(l);
	int numeric = irc_line_numeric(l);
	int r = irc_state_learn_source(s, l);

	if (r < 0)
		return r;
	if (numeric >= 0)
		return irc_state_on_numeric(s, l, numeric);
	if (strcmp(cmd, "JOIN") == 0)
		return irc_state_on_join(s, l);
	if (strcmp(cmd, "PART") == 0)
		irc_state_leave(s, irc_line_param(l, 0), irc_line_nick(l));
	else if (strcmp(cmd, "KICK") == 0)
		irc_state_leave(s, irc_line_param(l, 0), irc_line_param(l, 1));
	else if (strcmp(cmd, "QUIT") == 0)
		irc_state_on_quit(s, irc_line_nick(l));
	else if (strcmp(cmd, "NICK") == 0)
		return irc_state_on_nick(s, l);
	else if (strcmp(cmd, "MODE") == 0)
		return irc_state_on_mode(s, l);
	else if (strcmp(cmd, "TOPIC") == 0)
		return irc_state_on_topic(s, l, -1);
	else if (strcmp(cmd, "ACCOUNT") == 0)
		return irc_state_on_account(s, l);
	return 0;
}

/* ---- JSON --------------------------------------------------------------- */

/* Add key: s, or null when s is NULL. */
static bool irc_state_add_str(cJSON *o, const char *key, const char *s)
{
	return (s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key)) != NULL;
}

/* One channel as JSON. */
static cJSON *irc_state_channel_json(const struct irc_channel *ch)
{
	cJSON *o = cJSON_CreateObject();

	if (o && irc_state_add_str(o, "name", ch->name) && irc_state_add_str(o, "topic", ch->topic) &&
	    cJSON_AddNumberToObject(o, "users", (double)map_count(&ch->members)))
		return o;
	cJSON_Delete(o);
	return NULL;
}

/* The channels the bot is in. */
cJSON *irc_state_channels_json(const struct irc_state *s)
{
	cJSON *a = cJSON_CreateArray();

	for (struct list *l = s->channels.next; a && l != &s->channels; l = l->next) {
		cJSON *o = irc_state_channel_json(list_entry(l, struct irc_channel, link));
		if (!o) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* One member as JSON. */
static cJSON *irc_state_member_json(const struct irc_member *m)
{
	cJSON *o = cJSON_CreateObject();

	if (o && irc_state_add_str(o, "nick", m->user->nick) && irc_state_add_str(o, "prefixes", m->prefixes) &&
	    irc_state_add_str(o, "user", m->user->user) && irc_state_add_str(o, "host", m->user->host) &&
	    irc_state_add_str(o, "account", m->user->account))
		return o;
	cJSON_Delete(o);
	return NULL;
}

/* The members of a channel. */
cJSON *irc_state_users_json(const struct irc_state *s, const char *channel, bool *ret_found)
{
	const struct irc_channel *ch = irc_state_channel_find(s, channel);
	cJSON *a = cJSON_CreateArray();

	*ret_found = ch != NULL;
	for (const struct list *l = ch ? ch->members_list.next : NULL; a && ch && l != &ch->members_list;
	     l = l->next) {
		cJSON *o = irc_state_member_json(list_entry(l, struct irc_member, link));
		if (!o) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* The channels shared with nick. */
cJSON *irc_state_common_json(const struct irc_state *s, const char *nick)
{
	struct irc_user *u = nick ? irc_state_user_find(s, nick) : NULL;
	cJSON *a = cJSON_CreateArray();

	for (struct list *l = s->channels.next; a && u && l != &s->channels; l = l->next) {
		struct irc_channel *ch = list_entry(l, struct irc_channel, link);
		cJSON *name;
		if (!map_get(&ch->members, (uintptr_t)u, 0))
			continue;
		name = cJSON_CreateString(ch->name);
		if (!name) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, name);
	}
	return a;
}
