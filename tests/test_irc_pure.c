/* SPDX-License-Identifier: ISC */
/* Unit tests of bothost's pure IRC modules: line parsing and building, text
 * validation and splitting, ISUPPORT and casemappings, the outbound queue. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "irc/irc_filter.h"
#include "irc/irc_line.h"
#include "irc/irc_state.h"
#include "irc/irc_text.h"
#include "irc/isupport.h"
#include "irc/outq.h"

/* Parse line, failing the test if it does not parse. */
static struct irc_line *parse_ok(const char *line)
{
	struct irc_line *l = NULL;
	int r = irc_line_parse(line, &l);

	ck_assert_msg(r == 0, "parse of \"%s\" gave %d", line, r);
	return l;
}

/* ---- irc_line: parsing --------------------------------------------------- */

START_TEST(line_tags_with_escapes)
{
	struct irc_line *l = parse_ok(
		"@time=2023-07-20T17:51:26.293Z;msgid=a\\:b\\sc\\\\d\\re\\nf;+example.com/foo=bar;"
		"empty=;novalue;odd=\\b\\;dup=1;dup=2 :nick!user@host PRIVMSG #chan :hello world");
	const char *k, *v;

	ck_assert_uint_eq(irc_line_tag_count(l), 7);
	ck_assert_str_eq(irc_line_tag(l, "time"), "2023-07-20T17:51:26.293Z");
	ck_assert_str_eq(irc_line_tag(l, "msgid"), "a;b c\\d\re\nf");
	ck_assert_str_eq(irc_line_tag(l, "+example.com/foo"), "bar");
	ck_assert_str_eq(irc_line_tag(l, "empty"), "");
	ck_assert_str_eq(irc_line_tag(l, "novalue"), "");
	/* An unknown escape stands for its character; a lone trailing '\' goes. */
	ck_assert_str_eq(irc_line_tag(l, "odd"), "b");
	ck_assert_str_eq(irc_line_tag(l, "dup"), "2");
	ck_assert_ptr_null(irc_line_tag(l, "absent"));
	ck_assert_int_eq(irc_line_tag_at(l, 0, &k, &v), 0);
	ck_assert_str_eq(k, "time");
	ck_assert_int_eq(irc_line_tag_at(l, 7, &k, &v), -ENOENT);
	ck_assert_str_eq(irc_line_command(l), "PRIVMSG");
	ck_assert_str_eq(irc_line_nick(l), "nick");
	ck_assert_uint_eq(irc_line_param_count(l), 2);
	ck_assert_str_eq(irc_line_param(l, 1), "hello world");
	irc_line_free(l);
}
END_TEST

START_TEST(line_tags_garbage)
{
	struct irc_line *l = parse_ok("@;;;=v;k!ey=1;ok=1;/x=1;v./=2;+=3;a/b/c=4;good-key=z;;   CMD x");

	ck_assert_uint_eq(irc_line_tag_count(l), 2);
	ck_assert_str_eq(irc_line_tag(l, "ok"), "1");
	ck_assert_str_eq(irc_line_tag(l, "good-key"), "z");
	ck_assert_ptr_null(irc_line_source(l));
	ck_assert_str_eq(irc_line_command(l), "CMD");
	ck_assert_str_eq(irc_line_param(l, 0), "x");
	irc_line_free(l);

	l = parse_ok("@ PING :x");
	ck_assert_uint_eq(irc_line_tag_count(l), 0);
	ck_assert_str_eq(irc_line_command(l), "PING");
	irc_line_free(l);

	l = NULL;
	ck_assert_int_eq(irc_line_parse("@onlytags", &l), -EINVAL);
	ck_assert_int_eq(irc_line_parse("@a=b ", &l), -EINVAL);
	ck_assert_int_eq(irc_line_parse("@a=b :src", &l), -EINVAL);
	ck_assert_int_eq(irc_line_parse("@a=b :src ", &l), -EINVAL);
	ck_assert_ptr_null(l);
}
END_TEST

/* Tags of a long section: 3000 tags over 1000 keys, each key repeated in a
 * scattered order; every key keeps its first place and its last value. */
START_TEST(line_tags_many_repeated)
{
	enum { NTAGS = 3000, NKEYS = 1000 };
	size_t first[NKEYS], last[NKEYS], order[NKEYS], nkeys = 0;
	char *line = malloc(NTAGS * 24 + 32), *p = line;
	struct timespec t0, t1;
	struct irc_line *l;

	for (size_t k = 0; k < NKEYS; k++)
		first[k] = (size_t)-1;
	*p++ = '@';
	for (size_t i = 0; i < NTAGS; i++) {
		size_t k = (i * 7919) % NKEYS;
		p += sprintf(p, "%sk%zu=%zu", i ? ";" : "", k, i);
		if (first[k] == (size_t)-1) {
			first[k] = i;
			order[nkeys++] = k;
		}
		last[k] = i;
	}
	strcpy(p, " PRIVMSG #a :x");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	l = parse_ok(line);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%d tags parsed in %.3f ms\n", NTAGS,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	ck_assert_uint_eq(nkeys, NKEYS);
	ck_assert_uint_eq(irc_line_tag_count(l), NKEYS);
	for (size_t j = 0; j < NKEYS; j++) {
		const char *k, *v;
		char want_k[32], want_v[32];
		snprintf(want_k, sizeof want_k, "k%zu", order[j]);
		snprintf(want_v, sizeof want_v, "%zu", last[order[j]]);
		ck_assert_int_eq(irc_line_tag_at(l, j, &k, &v), 0);
		ck_assert_str_eq(k, want_k);
		ck_assert_str_eq(v, want_v);
		ck_assert_str_eq(irc_line_tag(l, want_k), want_v);
	}
	ck_assert_str_eq(irc_line_param(l, 1), "x");
	irc_line_free(l);
	free(line);

	l = parse_ok("@a=1;b=2;a=3;c;b=;a=5 CMD");
	ck_assert_uint_eq(irc_line_tag_count(l), 3);
	ck_assert_str_eq(irc_line_tag(l, "a"), "5");
	ck_assert_str_eq(irc_line_tag(l, "b"), "");
	ck_assert_str_eq(irc_line_tag(l, "c"), "");
	irc_line_free(l);
}
END_TEST

/* Hex digits of either case have their value; every other byte is -1. */
START_TEST(line_hex_values)
{
	const char *digits = "0123456789abcdef";

	for (int c = 0; c < 256; c++) {
		const char *lower = c ? strchr(digits, c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c) : NULL;
		int want = lower ? (int)(lower - digits) : -1;
		ck_assert_int_eq(irc_line_hex_value((char)c), want);
	}
}
END_TEST

START_TEST(line_prefixes)
{
	static const struct {
		const char *line, *source, *nick, *user, *host;
	} cases[] = {
		{ ":nick!user@host.example PRIVMSG a :b", "nick!user@host.example", "nick", "user", "host.example" },
		{ ":nick!~u@2001:db8::1 JOIN #c", "nick!~u@2001:db8::1", "nick", "~u", "2001:db8::1" },
		{ ":nick@host JOIN #c", "nick@host", "nick", NULL, "host" },
		{ ":nick!user JOIN #c", "nick!user", "nick", "user", NULL },
		{ ":nick JOIN #c", "nick", "nick", NULL, NULL },
		{ ":irc.test.local 001 bot :Welcome", "irc.test.local", "irc.test.local", NULL, NULL },
		{ "PING :irc.test.local", NULL, NULL, NULL, NULL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct irc_line *l = parse_ok(cases[i].line);
		const char *got[4] = { irc_line_source(l), irc_line_nick(l), irc_line_user(l), irc_line_host(l) };
		const char *want[4] = { cases[i].source, cases[i].nick, cases[i].user, cases[i].host };
		for (int j = 0; j < 4; j++) {
			if (want[j])
				ck_assert_msg(got[j] && strcmp(got[j], want[j]) == 0, "%s: part %d", cases[i].line, j);
			else
				ck_assert_msg(got[j] == NULL, "%s: part %d present", cases[i].line, j);
		}
		irc_line_free(l);
	}
	struct irc_line *l = NULL;
	ck_assert_int_eq(irc_line_parse(": JOIN #c", &l), -EINVAL);
	ck_assert_int_eq(irc_line_parse(":nick", &l), -EINVAL);
}
END_TEST

START_TEST(line_twenty_params)
{
	char line[512] = "CMD";
	struct irc_line *l;
	char want[16];

	for (int i = 1; i < 20; i++) {
		snprintf(want, sizeof want, " p%d", i);
		strcat(line, want);
	}
	strcat(line, " :trailing with  spaces ");
	l = parse_ok(line);
	ck_assert_uint_eq(irc_line_param_count(l), 20);
	for (int i = 1; i < 20; i++) {
		snprintf(want, sizeof want, "p%d", i);
		ck_assert_str_eq(irc_line_param(l, (size_t)i - 1), want);
	}
	ck_assert_str_eq(irc_line_param(l, 19), "trailing with  spaces ");
	ck_assert_str_eq(irc_line_last_param(l), "trailing with  spaces ");
	ck_assert_ptr_null(irc_line_param(l, 20));
	irc_line_free(l);
}
END_TEST

START_TEST(line_commands_and_params)
{
	struct irc_line *l = parse_ok("privmsg #a ::-)");
	ck_assert_str_eq(irc_line_command(l), "PRIVMSG");
	ck_assert_int_eq(irc_line_numeric(l), -1);
	ck_assert_str_eq(irc_line_param(l, 1), ":-)");
	irc_line_free(l);

	l = parse_ok(":s 001 bot :Welcome");
	ck_assert_int_eq(irc_line_numeric(l), 1);
	ck_assert_str_eq(irc_line_command(l), "001");
	irc_line_free(l);

	l = parse_ok("TOPIC #a :");
	ck_assert_uint_eq(irc_line_param_count(l), 2);
	ck_assert_str_eq(irc_line_param(l, 1), "");
	irc_line_free(l);

	l = parse_ok("MODE  #a   +o  x  ");
	ck_assert_uint_eq(irc_line_param_count(l), 3);
	ck_assert_str_eq(irc_line_param(l, 2), "x");
	irc_line_free(l);

	l = parse_ok("QUIT");
	ck_assert_uint_eq(irc_line_param_count(l), 0);
	ck_assert_ptr_null(irc_line_last_param(l));
	irc_line_free(l);

	static const char *const bad[] = { "", "   ", "1234 x", "12 x", "P1 x", "PRIV-MSG x",
					   "PRIVMSG #a :x\r\nJOIN #b", "PRIVMSG #a :x\n", "PRIVMSG #a\r" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		l = NULL;
		ck_assert_msg(irc_line_parse(bad[i], &l) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_ptr_null(l);
	}
	ck_assert_ptr_null(irc_line_free(NULL));
}
END_TEST

START_TEST(line_strip_tags_and_length)
{
	ck_assert_str_eq(irc_line_strip_tags("@a=b;c :n!u@h PRIVMSG #x :y"), ":n!u@h PRIVMSG #x :y");
	ck_assert_str_eq(irc_line_strip_tags("@a=b   PING :x"), "PING :x");
	ck_assert_str_eq(irc_line_strip_tags(":n PING"), ":n PING");
	ck_assert_str_eq(irc_line_strip_tags("@only"), "");

	char big[9000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[0] = '@';
	memcpy(big + 8190, " PRIVMSG #a :hi", 15);
	big[8205] = '\0';
	ck_assert(irc_line_too_long(big, 1023));
	ck_assert(!irc_line_too_long(irc_line_strip_tags(big), 1023));
	ck_assert_str_eq(irc_line_strip_tags(big), "PRIVMSG #a :hi");
	ck_assert(!irc_line_too_long("abc", 3));
	ck_assert(irc_line_too_long("abcd", 3));
	ck_assert(!irc_line_too_long("", 0));
	ck_assert(!irc_line_too_long(big, (size_t)-1));
}
END_TEST

/* ---- irc_line: building -------------------------------------------------- */

/* Build verb with C-string params through irc_line_build; returns r. */
static int build(char **ret, unsigned flags, const char *verb, size_t n, const char *const *p)
{
	struct irc_str params[8];

	for (size_t i = 0; i < n; i++) {
		params[i].p = p[i];
		params[i].len = strlen(p[i]);
	}
	return irc_line_build(verb, params, n, flags, ret, NULL);
}

START_TEST(line_build_shapes)
{
	char *s = NULL;
	size_t len = 0;
	struct irc_str hi[] = { { "#chan", 5 }, { "hi", 2 } };

	ck_assert_int_eq(irc_line_build("PRIVMSG", hi, 2, 0, &s, &len), 0);
	ck_assert_str_eq(s, "PRIVMSG #chan hi");
	ck_assert_uint_eq(len, strlen(s));
	free(s);
	ck_assert_int_eq(irc_line_build("PRIVMSG", hi, 2, IRC_LINE_COLON_ALWAYS, &s, NULL), 0);
	ck_assert_str_eq(s, "PRIVMSG #chan :hi");
	free(s);
	ck_assert_int_eq(irc_line_buildv(&s, 0, "PRIVMSG", "#chan", "hello world", NULL), 0);
	ck_assert_str_eq(s, "PRIVMSG #chan :hello world");
	free(s);
	ck_assert_int_eq(irc_line_buildv(&s, 0, "PRIVMSG", "#chan", ":-)", NULL), 0);
	ck_assert_str_eq(s, "PRIVMSG #chan ::-)");
	free(s);
	ck_assert_int_eq(irc_line_buildv(&s, 0, "TOPIC", "#chan", "", NULL), 0);
	ck_assert_str_eq(s, "TOPIC #chan :");
	free(s);
	ck_assert_int_eq(irc_line_buildv(&s, 0, "QUIT", NULL), 0);
	ck_assert_str_eq(s, "QUIT");
	free(s);
	ck_assert_int_eq(irc_line_buildv(&s, 0, "001", "bot", "Welcome", NULL), 0);
	ck_assert_str_eq(s, "001 bot Welcome");
	free(s);

	/* What is built parses back to the same parameters. */
	const char *p[] = { "#a", "+ov", "x", "two words :and colon" };
	struct irc_line *l;
	ck_assert_int_eq(build(&s, 0, "MODE", 4, p), 0);
	l = parse_ok(s);
	ck_assert_uint_eq(irc_line_param_count(l), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(irc_line_param(l, i), p[i]);
	irc_line_free(l);
	free(s);
}
END_TEST

START_TEST(line_build_injection)
{
	char *s = NULL;
	static const struct {
		const char *verb;
		const char *p[3];
		size_t n;
	} bad[] = {
		{ "PRIVMSG", { "#t", "hi\r\nJOIN #x" }, 2 },
		{ "PRIVMSG", { "#t", "hi\nQUIT" }, 2 },
		{ "PRIVMSG", { "#t", "hi\rQUIT" }, 2 },
		{ "PRIVMSG", { "#t\r\nQUIT", "hi" }, 2 },
		{ "PRIVMSG", { "#t x", "hi" }, 2 },
		{ "PRIVMSG", { ":#t", "hi" }, 2 },
		{ "PRIVMSG", { "", "hi" }, 2 },
		{ "JOIN", { "#a", "", "x" }, 3 },
		{ "PRIV MSG", { "#t", "hi" }, 2 },
		{ "PRIVMSG\r\n", { "#t", "hi" }, 2 },
		{ "", { "#t", "hi" }, 2 },
		{ "PRIV1", { "#t" }, 1 },
		{ "1234", { "#t" }, 1 },
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(build(&s, 0, bad[i].verb, bad[i].n, bad[i].p) == -EINVAL, "built case %zu", i);
		ck_assert_ptr_null(s);
	}

	/* A NUL inside a counted parameter. */
	struct irc_str nul[] = { { "#t", 2 }, { "hi\0QUIT", 7 } };
	ck_assert_int_eq(irc_line_build("PRIVMSG", nul, 2, 0, &s, NULL), -EINVAL);
	struct irc_str nul0[] = { { "#\0t", 3 }, { "hi", 2 } };
	ck_assert_int_eq(irc_line_build("PRIVMSG", nul0, 2, 0, &s, NULL), -EINVAL);
	ck_assert_ptr_null(s);

	/* Exactly IRC_LINE_MAX bytes is fine; one more is not. */
	char text[IRC_LINE_MAX];
	size_t room = IRC_LINE_MAX - strlen("PRIVMSG #t :");
	memset(text, 'a', room);
	text[room] = '\0';
	ck_assert_int_eq(irc_line_buildv(&s, 0, "PRIVMSG", "#t", text, NULL), 0);
	ck_assert_uint_eq(strlen(s), IRC_LINE_MAX - 1);	/* no ':' needed without a space */
	free(s);
	s = NULL;
	ck_assert_int_eq(irc_line_buildv(&s, IRC_LINE_COLON_ALWAYS, "PRIVMSG", "#t", text, NULL), 0);
	ck_assert_uint_eq(strlen(s), IRC_LINE_MAX);
	free(s);
	s = NULL;
	text[room] = 'a';
	text[room + 1] = '\0';
	ck_assert_int_eq(irc_line_buildv(&s, IRC_LINE_COLON_ALWAYS, "PRIVMSG", "#t", text, NULL), -EMSGSIZE);
	ck_assert_ptr_null(s);
}
END_TEST

/* ---- isupport and casemappings ------------------------------------------- */

/* A new isupport with the given 005 lines applied. */
static struct isupport *isupport_from(const char *const *lines, size_t n)
{
	struct isupport *is = isupport_new();

	ck_assert_ptr_nonnull(is);
	for (size_t i = 0; i < n; i++) {
		struct irc_line *l = parse_ok(lines[i]);
		ck_assert_int_gt(isupport_add_line(is, l), 0);
		irc_line_free(l);
	}
	return is;
}

/* Captured from ngircd 26.1 (Debian bookworm) on registration. */
static const char *const ngircd_005[] = {
	":irc.test.local 005 probe RFC2812 IRCD=ngIRCd CHARSET=UTF-8 CASEMAPPING=ascii "
	"PREFIX=(qaohv)~&@%+ CHANTYPES=#&+ CHANMODES=beI,k,l,imMnOPQRstVz CHANLIMIT=#&+:0 "
	":are supported on this server",
	":irc.test.local 005 probe CHANNELLEN=50 NICKLEN=9 TOPICLEN=490 AWAYLEN=127 KICKLEN=400 "
	"MODES=5 MAXLIST=beI:50 EXCEPTS=e INVEX=I PENALTY FNC :are supported on this server",
};

/* Captured from lead.libera.chat (solanum), server-time tags included. */
static const char *const libera_005[] = {
	"@time=2023-07-20T17:51:26.293Z :lead.libera.chat 005 aballerisabigmot FNC WHOX CALLERID=g "
	"ETRACE MONITOR=100 KNOCK SAFELIST ELIST=CMNTU CHANTYPES=# EXCEPTS INVEX "
	"CHANMODES=eIbq,k,flj,CFLMPQRSTcgimnprstuz :are supported by this server",
	"@time=2023-07-20T17:51:26.293Z :lead.libera.chat 005 aballerisabigmot CHANLIMIT=#:250 "
	"PREFIX=(ov)@+ MAXLIST=bqeI:100 MODES=4 NETWORK=Libera.Chat STATUSMSG=@+ CASEMAPPING=rfc1459 "
	"NICKLEN=16 MAXNICKLEN=16 CHANNELLEN=50 TOPICLEN=390 DEAF=D :are supported by this server",
	"@time=2023-07-20T17:51:26.293Z :lead.libera.chat 005 aballerisabigmot "
	"TARGMAX=NAMES:1,LIST:1,KICK:1,WHOIS:1,PRIVMSG:4,NOTICE:4,ACCEPT:,MONITOR: EXTBAN=$,agjrxz "
	":are supported by this server",
};

START_TEST(isupport_defaults)
{
	struct isupport *is = isupport_new();

	ck_assert_int_eq(isupport_casemapping(is), ISUPPORT_CASEMAP_RFC1459);
	ck_assert_str_eq(isupport_chantypes(is), "#&");
	ck_assert_str_eq(isupport_prefix_modes(is), "ov");
	ck_assert_str_eq(isupport_prefix_symbols(is), "@+");
	ck_assert_uint_eq(isupport_nicklen(is), 9);
	ck_assert_uint_eq(isupport_channellen(is), 200);
	ck_assert_uint_eq(isupport_topiclen(is), 0);
	ck_assert_ptr_null(isupport_network(is));
	ck_assert_str_eq(isupport_chanmodes(is, 0), "b");
	ck_assert_str_eq(isupport_chanmodes(is, 3), "imnpst");
	ck_assert_ptr_null(isupport_chanmodes(is, 4));
	ck_assert_uint_eq(isupport_token_count(is), 0);
	isupport_free(is);
	ck_assert_ptr_null(isupport_free(NULL));
}
END_TEST

START_TEST(isupport_ngircd)
{
	struct isupport *is = isupport_from(ngircd_005, 2);

	ck_assert_int_eq(isupport_casemapping(is), ISUPPORT_CASEMAP_ASCII);
	ck_assert_str_eq(isupport_chantypes(is), "#&+");
	ck_assert_str_eq(isupport_prefix_modes(is), "qaohv");
	ck_assert_str_eq(isupport_prefix_symbols(is), "~&@%+");
	ck_assert_uint_eq(isupport_nicklen(is), 9);
	ck_assert_uint_eq(isupport_channellen(is), 50);
	ck_assert_uint_eq(isupport_topiclen(is), 490);
	ck_assert_ptr_null(isupport_network(is));
	ck_assert_str_eq(isupport_chanmodes(is, 0), "beI");
	ck_assert_str_eq(isupport_chanmodes(is, 1), "k");
	ck_assert_str_eq(isupport_chanmodes(is, 2), "l");
	ck_assert_str_eq(isupport_chanmodes(is, 3), "imMnOPQRstVz");
	ck_assert_str_eq(isupport_get(is, "IRCD"), "ngIRCd");
	ck_assert_str_eq(isupport_get(is, "EXCEPTS"), "e");
	ck_assert_str_eq(isupport_get(is, "PENALTY"), "");
	ck_assert_ptr_null(isupport_get(is, "NETWORK"));
	ck_assert_uint_eq(isupport_token_count(is), 19);
	ck_assert_str_eq(isupport_token_at(is, 0), "RFC2812");
	ck_assert_str_eq(isupport_token_at(is, 18), "FNC");
	ck_assert(isupport_mode_has_param(is, 'h', false));
	ck_assert(isupport_mode_has_param(is, 'I', true));
	ck_assert(isupport_mode_has_param(is, 'l', true));
	ck_assert(!isupport_mode_has_param(is, 'l', false));
	ck_assert(!isupport_mode_has_param(is, 'V', true));
	isupport_free(is);
}
END_TEST

START_TEST(isupport_libera)
{
	struct isupport *is = isupport_from(libera_005, 3);

	ck_assert_int_eq(isupport_casemapping(is), ISUPPORT_CASEMAP_RFC1459);
	ck_assert_str_eq(isupport_chantypes(is), "#");
	ck_assert_str_eq(isupport_prefix_modes(is), "ov");
	ck_assert_str_eq(isupport_prefix_symbols(is), "@+");
	ck_assert_uint_eq(isupport_nicklen(is), 16);
	ck_assert_uint_eq(isupport_channellen(is), 50);
	ck_assert_uint_eq(isupport_topiclen(is), 390);
	ck_assert_str_eq(isupport_network(is), "Libera.Chat");
	ck_assert_str_eq(isupport_chanmodes(is, 0), "eIbq");
	ck_assert_str_eq(isupport_chanmodes(is, 2), "flj");
	ck_assert_str_eq(isupport_chanmodes(is, 3), "CFLMPQRSTcgimnprstuz");
	ck_assert_str_eq(isupport_get(is, "TARGMAX"), "NAMES:1,LIST:1,KICK:1,WHOIS:1,PRIVMSG:4,NOTICE:4,ACCEPT:,MONITOR:");
	ck_assert_str_eq(isupport_get(is, "EXTBAN"), "$,agjrxz");
	ck_assert_str_eq(isupport_get(is, "EXCEPTS"), "");
	ck_assert_str_eq(isupport_get(is, "STATUSMSG"), "@+");
	ck_assert_uint_eq(isupport_token_count(is), 12 + 12 + 2);
	ck_assert(isupport_mode_has_param(is, 'q', false));
	ck_assert(isupport_mode_has_param(is, 'k', false));
	ck_assert(isupport_mode_has_param(is, 'f', true));
	ck_assert(!isupport_mode_has_param(is, 'j', false));
	ck_assert(!isupport_mode_has_param(is, 'm', true));
	ck_assert(isupport_mode_has_param(is, 'o', false));
	ck_assert(!isupport_mode_has_param(is, '\0', true));

	/* Not a 005. */
	struct irc_line *l = parse_ok(":lead.libera.chat 004 a b c");
	ck_assert_int_eq(isupport_add_line(is, l), -EINVAL);
	irc_line_free(l);
	isupport_free(is);
}
END_TEST

START_TEST(isupport_removals_escapes_json)
{
	struct isupport *is = isupport_from(libera_005, 3);
	static const char *const more[] = {
		":s 005 bot -EXCEPTS -CHANTYPES -NETWORK PREFIX=(ov)@ NICKLEN=abc CASEMAPPING=strict-rfc1459 "
		":are supported by this server",
		":s 005 bot NETWORK=Some\\x20Net\\x5Cwork\\x00 CHANNELLEN= CHANMODES=a,b,c,d,e :are supported",
	};

	for (size_t i = 0; i < 2; i++) {
		struct irc_line *l = parse_ok(more[i]);
		ck_assert_int_gt(isupport_add_line(is, l), 0);
		irc_line_free(l);
	}
	ck_assert_ptr_null(isupport_get(is, "EXCEPTS"));
	ck_assert_str_eq(isupport_chantypes(is), "#&");
	ck_assert_str_eq(isupport_prefix_modes(is), "ov");	/* malformed PREFIX ignored */
	ck_assert_uint_eq(isupport_nicklen(is), 16);		/* malformed NICKLEN ignored */
	ck_assert_uint_eq(isupport_channellen(is), 0);		/* no limit */
	ck_assert_int_eq(isupport_casemapping(is), ISUPPORT_CASEMAP_STRICT_RFC1459);
	ck_assert_str_eq(isupport_network(is), "Some Net\\work\\x00");
	ck_assert_str_eq(isupport_chanmodes(is, 3), "d");
	ck_assert_int_eq(isupport_add_token(is, ""), -EINVAL);
	ck_assert_int_eq(isupport_add_token(is, "-"), -EINVAL);
	ck_assert_int_eq(isupport_add_token(is, "=x"), -EINVAL);
	ck_assert_int_eq(isupport_add_token(is, "CASEMAPPING=rfc7613"), 0);
	ck_assert_int_eq(isupport_casemapping(is), ISUPPORT_CASEMAP_ASCII);

	cJSON *j = isupport_to_json(is);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "casemapping")->valuestring, "ascii");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "chantypes")->valuestring, "#&");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "prefix"), "symbols")->valuestring, "@+");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "nicklen")->valueint, 16);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "network")->valuestring, "Some Net\\work\\x00");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "chanmodes")), 4);
	cJSON *tokens = cJSON_GetObjectItem(j, "tokens");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(tokens, "INVEX")));
	ck_assert_ptr_null(cJSON_GetObjectItem(tokens, "EXCEPTS"));
	ck_assert_str_eq(cJSON_GetObjectItem(tokens, "MODES")->valuestring, "4");
	cJSON *raw = cJSON_GetObjectItem(j, "raw");
	ck_assert_int_eq(cJSON_GetArraySize(raw), 26 + 6 + 3 + 1);
	ck_assert_str_eq(cJSON_GetArrayItem(raw, 26)->valuestring, "-EXCEPTS");
	ck_assert_str_eq(cJSON_GetArrayItem(raw, 32)->valuestring, "NETWORK=Some\\x20Net\\x5Cwork\\x00");
	cJSON_Delete(j);

	isupport_reset(is);
	ck_assert_uint_eq(isupport_token_count(is), 0);
	ck_assert_int_eq(isupport_casemapping(is), ISUPPORT_CASEMAP_RFC1459);
	ck_assert_ptr_null(isupport_network(is));
	ck_assert_ptr_null(isupport_get(is, "INVEX"));
	isupport_free(is);
}
END_TEST

/* A server flooding 005 tokens cannot make the host keep more than the caps:
 * repeats replace one another, new names stop at 256, raw tokens at 512. */
START_TEST(isupport_flood_is_bounded)
{
	struct isupport *is = isupport_new();
	char tok[600];

	ck_assert_ptr_nonnull(is);
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(isupport_add_token(is, "MODES=4"), 0);
	ck_assert_str_eq(isupport_get(is, "MODES"), "4");
	for (int i = 0; i < 255; i++) {
		snprintf(tok, sizeof tok, "X%d=%d", i, i);
		ck_assert_int_eq(isupport_add_token(is, tok), 0);
	}
	ck_assert_int_eq(isupport_add_token(is, "ONEMORE=1"), -ENOSPC);
	ck_assert_ptr_null(isupport_get(is, "ONEMORE"));
	ck_assert_int_eq(isupport_add_token(is, "X7=seven"), 0);	/* a name in force may change */
	ck_assert_str_eq(isupport_get(is, "X7"), "seven");
	ck_assert_int_eq(isupport_add_token(is, "-X7"), 0);		/* removal frees a place */
	ck_assert_ptr_null(isupport_get(is, "X7"));
	ck_assert_str_eq(isupport_get(is, "X254"), "254");		/* moved into its place */
	ck_assert_int_eq(isupport_add_token(is, "ONEMORE=1"), 0);
	ck_assert_str_eq(isupport_get(is, "ONEMORE"), "1");
	ck_assert_uint_eq(isupport_token_count(is), 512);
	memset(tok, 'A', sizeof tok - 1);
	tok[sizeof tok - 1] = '\0';
	ck_assert_int_eq(isupport_add_token(is, tok), -E2BIG);

	cJSON *j = isupport_to_json(is);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tokens")), 256);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "raw")), 512);
	ck_assert_int_gt(cJSON_GetObjectItem(j, "raw_dropped")->valueint, 100000 - 512);
	cJSON_Delete(j);
	isupport_reset(is);
	ck_assert_ptr_null(isupport_get(is, "X1"));
	ck_assert_int_eq(isupport_add_token(is, "X1=1"), 0);
	isupport_free(is);
}
END_TEST

/* Feed the state one line. */
static void state_line(struct irc_state *st, const char *line)
{
	struct irc_line *l = parse_ok(line);

	ck_assert_int_eq(irc_state_update(st, l), 0);
	irc_line_free(l);
}

/* The account a line says its source has, as the state believes it. */
static const char *line_account(struct irc_state *st, const char *line, char *buf, size_t size)
{
	struct irc_line *l = parse_ok(line);
	const char *a = irc_state_line_account(st, l);

	snprintf(buf, size, "%s", a ? a : "(none)");
	irc_line_free(l);
	return buf;
}

/* An account tag, an extended JOIN or an ACCOUNT line is believed only
 * while the server acknowledged the capability that makes it so. */
START_TEST(state_accounts_need_their_capability)
{
	struct irc_state *st = irc_state_new();
	const char *tagged = "@account=boss :mallory!m@evil PRIVMSG #c :!reload";
	const char *xjoin = ":mallory!m@evil JOIN #c boss :Real Name";
	char buf[64];

	ck_assert_int_eq(irc_state_set_nick(st, "bot"), 0);
	state_line(st, ":bot!b@h JOIN #c");
	state_line(st, ":mallory!m@evil JOIN #c");

	/* no capability: nothing is believed */
	ck_assert_str_eq(line_account(st, tagged, buf, sizeof buf), "(none)");
	ck_assert_str_eq(line_account(st, xjoin, buf, sizeof buf), "(none)");
	state_line(st, tagged);
	state_line(st, ":mallory!m@evil ACCOUNT boss");
	ck_assert_ptr_null(irc_state_account(st, "mallory"));

	/* account-tag */
	irc_state_set_caps(st, IRC_STATE_CAP_ACCOUNT_TAG);
	ck_assert_str_eq(line_account(st, tagged, buf, sizeof buf), "boss");
	ck_assert_str_eq(line_account(st, xjoin, buf, sizeof buf), "(none)");
	state_line(st, tagged);
	ck_assert_str_eq(irc_state_account(st, "mallory"), "boss");
	state_line(st, "@account=* :mallory!m@evil PRIVMSG #c :bye");
	ck_assert_ptr_null(irc_state_account(st, "mallory"));

	/* extended-join */
	irc_state_set_caps(st, IRC_STATE_CAP_EXTENDED_JOIN);
	ck_assert_str_eq(line_account(st, tagged, buf, sizeof buf), "(none)");
	ck_assert_str_eq(line_account(st, xjoin, buf, sizeof buf), "boss");

	/* account-notify */
	state_line(st, ":mallory!m@evil ACCOUNT carol");
	ck_assert_ptr_null(irc_state_account(st, "mallory"));
	irc_state_set_caps(st, IRC_STATE_CAP_ACCOUNT_NOTIFY);
	state_line(st, ":mallory!m@evil ACCOUNT carol");
	ck_assert_str_eq(irc_state_account(st, "mallory"), "carol");

	/* a new connection forgets the capabilities */
	irc_state_set_caps(st, IRC_STATE_CAP_ACCOUNT_TAG);
	irc_state_reset(st);
	ck_assert_str_eq(line_account(st, tagged, buf, sizeof buf), "(none)");
	irc_state_free(st);
}
END_TEST

START_TEST(casemap_each_mapping)
{
	enum isupport_casemap A = ISUPPORT_CASEMAP_ASCII, R = ISUPPORT_CASEMAP_RFC1459,
			      S = ISUPPORT_CASEMAP_STRICT_RFC1459;

	ck_assert(isupport_casemap_equal(A, "NiCk", "nick"));
	ck_assert(!isupport_casemap_equal(A, "[a]\\", "{a}|"));
	ck_assert(!isupport_casemap_equal(A, "a~", "a^"));
	ck_assert(isupport_casemap_equal(R, "[A]\\~", "{a}|^"));
	ck_assert(isupport_casemap_equal(S, "[A]\\", "{a}|"));
	ck_assert(!isupport_casemap_equal(S, "a~", "a^"));
	ck_assert(!isupport_casemap_equal(R, "nick", "nick_"));
	ck_assert_int_lt(isupport_casemap_cmp(R, "abc", "ABD"), 0);
	ck_assert_int_gt(isupport_casemap_cmp(R, "abcd", "ABC"), 0);
	ck_assert_uint_eq(isupport_casemap_hash(R, "Bot[1]~"), isupport_casemap_hash(R, "bot{1}^"));
	ck_assert_uint_ne(isupport_casemap_hash(S, "Bot[1]~"), isupport_casemap_hash(S, "bot{1}^"));
	ck_assert_uint_eq(isupport_casemap_hash(S, "Bot[1]"), isupport_casemap_hash(S, "bot{1}"));
	ck_assert_uint_ne(isupport_casemap_hash(A, "Bot[1]"), isupport_casemap_hash(A, "bot{1}"));

	char s[] = "#Chan[X]\\~\xc3\x89";
	isupport_casemap_lower(R, s);
	ck_assert_str_eq(s, "#chan{x}|^\xc3\x89");
	ck_assert_str_eq(isupport_casemap_name(S), "strict-rfc1459");
}
END_TEST

/* ---- irc_text: names ------------------------------------------------------ */

START_TEST(text_nicks)
{
	struct isupport *is = isupport_new();	/* NICKLEN 9 */
	static const char *const good[] = { "bot", "B", "[bot]", "`x", "_a-1", "a^{|}\\", "x123456-8", "{}" };
	static const char *const bad[] = { "", "1bot", "-bot", "bo t", "bot!", "a~", "a,b", "a\r",
					   "a\n", "a:b", "#chan", "n\xc3\xa9", "abcdefghij", "a@b", "a*" };

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(irc_text_nick_valid(is, good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!irc_text_nick_valid(is, bad[i]), "accepted %s", bad[i]);
	ck_assert_int_eq(isupport_add_token(is, "NICKLEN=16"), 0);
	ck_assert(irc_text_nick_valid(is, "abcdefghij"));
	ck_assert(!irc_text_nick_valid(is, "abcdefghijklmnopq"));
	isupport_free(is);
}
END_TEST

START_TEST(text_channels_and_targets)
{
	struct isupport *def = isupport_new();
	struct isupport *ng = isupport_from(ngircd_005, 2);
	struct isupport *lib = isupport_from(libera_005, 3);

	ck_assert(irc_text_channel_valid(def, "#c"));
	ck_assert(irc_text_channel_valid(def, "&c"));
	ck_assert(irc_text_channel_valid(def, "#[x]:~^"));
	ck_assert(!irc_text_channel_valid(def, "+c"));
	ck_assert(irc_text_channel_valid(ng, "+c"));
	ck_assert(!irc_text_channel_valid(lib, "&c"));
	ck_assert(!irc_text_is_channel(lib, "&c"));
	ck_assert(!irc_text_is_channel(lib, ""));
	static const char *const bad[] = { "#", "", "c", "#a b", "#a,b", "#a\a", "#a\r", "#a\nJOIN #b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!irc_text_channel_valid(def, bad[i]), "accepted %s", bad[i]);

	char name[64];
	memset(name, 'x', sizeof name);
	name[0] = '#';
	name[50] = '\0';
	ck_assert(irc_text_channel_valid(ng, name));
	name[50] = 'x';
	name[51] = '\0';
	ck_assert(!irc_text_channel_valid(ng, name));
	ck_assert(irc_text_channel_valid(def, name));	/* CHANNELLEN 200 */

	ck_assert(irc_text_target_valid(lib, "#libera"));
	ck_assert(irc_text_target_valid(lib, "NickServ"));
	ck_assert(!irc_text_target_valid(lib, "&local"));
	ck_assert(!irc_text_target_valid(lib, "#a b"));
	ck_assert(!irc_text_target_valid(lib, "nick\r\nQUIT"));
	ck_assert(irc_text_target_valid(ng, "&local"));

	ck_assert(irc_text_word_valid("key"));
	ck_assert(!irc_text_word_valid(""));
	ck_assert(!irc_text_word_valid(":key"));
	ck_assert(!irc_text_word_valid("a key"));
	ck_assert(!irc_text_word_valid("k\r"));
	ck_assert(irc_text_line_valid("a reason: with spaces"));
	ck_assert(irc_text_line_valid(""));
	ck_assert(!irc_text_line_valid("bye\r\nQUIT"));
	isupport_free(def);
	isupport_free(ng);
	isupport_free(lib);
}
END_TEST

START_TEST(text_masks)
{
	enum isupport_casemap A = ISUPPORT_CASEMAP_ASCII, R = ISUPPORT_CASEMAP_RFC1459,
			      S = ISUPPORT_CASEMAP_STRICT_RFC1459;

	ck_assert(irc_text_mask_match(A, "*!*@host.example", "Nick!user@HOST.example"));
	ck_assert(irc_text_mask_match(A, "n?ck!*@*", "NICK!u@h"));
	ck_assert(!irc_text_mask_match(A, "n?ck!*@*", "nck!u@h"));
	ck_assert(irc_text_mask_match(A, "*", ""));
	ck_assert(irc_text_mask_match(A, "***", "x"));
	ck_assert(!irc_text_mask_match(A, "?", ""));
	ck_assert(irc_text_mask_match(A, "*a*b", "xaxxb"));
	ck_assert(!irc_text_mask_match(A, "*a*b", "xaxxc"));
	ck_assert(irc_text_mask_match(A, "*!*@*.example", "n!u@a.b.example"));
	ck_assert(!irc_text_mask_match(A, "*!*@*.example", "n!u@a.b.example.org"));
	ck_assert(irc_text_mask_match(A, "a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
	ck_assert(!irc_text_mask_match(A, "a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));

	/* {}|~ against []\^ under each casemapping. */
	ck_assert(irc_text_mask_match(R, "[bot]*!*@*", "{BOT}x!u@h"));
	ck_assert(irc_text_mask_match(S, "[bot]*!*@*", "{BOT}x!u@h"));
	ck_assert(!irc_text_mask_match(A, "[bot]*!*@*", "{BOT}x!u@h"));
	ck_assert(irc_text_mask_match(R, "a\\b~!*@*", "A|B^!u@h"));
	ck_assert(!irc_text_mask_match(S, "a\\b~!*@*", "A|B^!u@h"));
	ck_assert(irc_text_mask_match(S, "a\\b~!*@*", "A|B~!u@h"));
}
END_TEST

/* ---- irc_text: text -------------------------------------------------------- */

START_TEST(text_rule)
{
	char **lines = NULL;

	ck_assert_int_eq(irc_text_check(""), -EINVAL);
	ck_assert_int_eq(irc_text_check("\r\n\r\n\n"), -EINVAL);
	ck_assert_int_eq(irc_text_check(" "), 0);
	ck_assert_int_eq(irc_text_split("", 100, &lines), -EINVAL);
	ck_assert_int_eq(irc_text_split("\r\n", 100, &lines), -EINVAL);
	ck_assert_int_eq(irc_text_split("abc", 3, &lines), -EINVAL);
	ck_assert_ptr_null(lines);

	ck_assert_int_eq(irc_text_split("a\r\nb\n\n\nc\r\r", 100, &lines), 3);
	ck_assert_str_eq(lines[0], "a");
	ck_assert_str_eq(lines[1], "b");
	ck_assert_str_eq(lines[2], "c");
	ck_assert_ptr_null(lines[3]);
	irc_text_lines_free(lines);

	ck_assert_int_eq(irc_text_split("x\ry\r\nJOIN #x", 100, &lines), 2);
	ck_assert_str_eq(lines[0], "xy");
	ck_assert_str_eq(lines[1], "JOIN #x");	/* its own PRIVMSG, not a command */
	irc_text_lines_free(lines);
	ck_assert_ptr_null(irc_text_lines_free(NULL));
}
END_TEST

START_TEST(text_cut_rules)
{
	size_t next;

	/* A space just after the chunk, or in its last quarter, is where it cuts. */
	ck_assert_uint_eq(irc_text_cut("aaaa bbbb", 9, 4, &next), 4);
	ck_assert_uint_eq(next, 5);
	ck_assert_uint_eq(irc_text_cut("aaaa bbbb", 9, 5, &next), 4);
	ck_assert_uint_eq(next, 5);
	ck_assert_uint_eq(irc_text_cut("aaaa bbbb", 9, 7, &next), 7);	/* space too early: hard */
	ck_assert_uint_eq(next, 7);
	ck_assert_uint_eq(irc_text_cut("aaaaaa bbbbbb", 13, 8, &next), 6);
	ck_assert_uint_eq(next, 7);
	ck_assert_uint_eq(irc_text_cut("fits", 4, 4, &next), 4);
	ck_assert_uint_eq(next, 4);
	ck_assert_uint_eq(irc_text_cut("", 0, 4, &next), 0);

	/* Never inside a sequence: "ab" + U+1F600 (4 bytes), budget 4. */
	ck_assert_uint_eq(irc_text_cut("ab\xf0\x9f\x98\x80", 6, 4, &next), 2);
	ck_assert_uint_eq(irc_text_cut("\xe2\x82\xac\xe2\x82\xac", 6, 5, &next), 3);
	/* Invalid bytes are single units and pass through. */
	ck_assert_uint_eq(irc_text_cut("\xff\xfe\xfd\xfc\xfb", 5, 4, &next), 4);
	ck_assert_uint_eq(irc_text_cut("ab\xe2\x82", 4, 3, &next), 3);	/* truncated sequence */
	ck_assert_uint_eq(irc_text_cut("a\xed\xa0\x80", 4, 3, &next), 3);	/* surrogate: invalid */
	ck_assert_uint_eq(irc_text_cut("a\xc0\xaf", 3, 2, &next), 2);	/* overlong: invalid */

	ck_assert(irc_text_utf8_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
	ck_assert(!irc_text_utf8_valid("\xe2\x82", 2));
	ck_assert(!irc_text_utf8_valid("\xc0\xaf", 2));
	ck_assert(!irc_text_utf8_valid("\xed\xa0\x80", 3));
	ck_assert(!irc_text_utf8_valid("\xf4\x90\x80\x80", 4));
	ck_assert(!irc_text_utf8_valid("\x80", 1));
}
END_TEST

/* Check that lines (n of them) are text split at budget: each valid UTF-8,
 * non-empty and within budget; rejoined with the dropped spaces they give
 * text back; a cut that dropped no space had none in the chunk's last
 * quarter. text has single spaces and no CR or LF. */
static void check_split(const char *text, char **lines, int n, size_t budget)
{
	size_t total = strlen(text), pos = 0;

	for (int i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);
		ck_assert_msg(len > 0 && len <= budget, "chunk %d has %zu bytes (budget %zu)", i, len, budget);
		ck_assert_msg(irc_text_utf8_valid(lines[i], len), "chunk %d is not UTF-8", i);
		ck_assert_msg(memcmp(text + pos, lines[i], len) == 0, "chunk %d differs", i);
		pos += len;
		if (i + 1 == n)
			break;
		if (text[pos] == ' ') {
			pos++;
			continue;
		}
		for (size_t j = len - len / 4; j < len; j++)
			ck_assert_msg(lines[i][j] != ' ', "chunk %d cut hard past a space", i);
	}
	ck_assert_uint_eq(pos, total);
}

START_TEST(text_split_mixed_2k)
{
	static const char *const words[] = {
		"hello", "w\xc3\xb6rld", "\xe2\x82\xac" "uro", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"\xf0\x9f\x98\x80", "na\xc3\xafve", "x", "\xce\xa9", "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7",
		"\xf0\x9d\x84\x9emusic", "a-rather-long-hyphenated-word-without-any-space-in-it",
	};
	char text[2200];
	size_t len = 0;
	unsigned seed = 12345;

	while (len < 2048) {
		seed = seed * 1103515245u + 12345u;
		const char *w = words[(seed >> 16) % (sizeof words / sizeof words[0])];
		if (len)
			text[len++] = ' ';
		memcpy(text + len, w, strlen(w));
		len += strlen(w);
	}
	text[len] = '\0';
	ck_assert(irc_text_utf8_valid(text, len));

	const size_t budgets[] = { 4, 5, 6, 7, 9, 13, 31, 64, 100, 415, 475 };
	for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
		char **lines = NULL;
		int n = irc_text_split(text, budgets[b], &lines);
		ck_assert_int_gt(n, 0);
		ck_assert_ptr_null(lines[n]);
		check_split(text, lines, n, budgets[b]);
		irc_text_lines_free(lines);
	}
}
END_TEST

START_TEST(text_split_invalid_bytes_pass)
{
	const char *text = "ok \xff\xfe\xe2\x82 \xc3 end";
	char **lines = NULL;
	int n = irc_text_split(text, 4, &lines);
	size_t pos = 0;

	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);
		ck_assert_uint_le(len, 4);
		ck_assert(memcmp(text + pos, lines[i], len) == 0);
		pos += len;
		if (text[pos] == ' ')
			pos++;
	}
	ck_assert_uint_eq(pos, strlen(text));
	irc_text_lines_free(lines);
}
END_TEST

START_TEST(text_budget_512)
{
	size_t b = irc_text_budget("PRIVMSG", "#test", "bot", "~bot", "127.0.0.1", NULL);
	char *text = malloc(b + 2);
	char *cmd = NULL, *ctcp = NULL;
	char relayed[600];

	ck_assert_uint_eq(b, 512 - 2 - strlen(":bot!~bot@127.0.0.1 ") - strlen("PRIVMSG #test :"));
	memset(text, 'y', b);
	text[b] = '\0';
	ck_assert_int_eq(irc_line_buildv(&cmd, IRC_LINE_COLON_ALWAYS, "PRIVMSG", "#test", text, NULL), 0);
	snprintf(relayed, sizeof relayed, ":bot!~bot@127.0.0.1 %s\r\n", cmd);
	ck_assert_uint_eq(strlen(relayed), 512);
	free(cmd);

	/* The ACTION wrapping costs "\001ACTION " and "\001". */
	size_t ba = irc_text_budget("PRIVMSG", "#test", "bot", "~bot", "127.0.0.1", "ACTION");
	ck_assert_uint_eq(ba, b - 9);
	text[ba] = '\0';
	ck_assert_int_eq(irc_text_ctcp_wrap("ACTION", text, &ctcp), 0);
	ck_assert_int_eq(irc_line_buildv(&cmd, IRC_LINE_COLON_ALWAYS, "PRIVMSG", "#test", ctcp, NULL), 0);
	snprintf(relayed, sizeof relayed, ":bot!~bot@127.0.0.1 %s\r\n", cmd);
	ck_assert_uint_eq(strlen(relayed), 512);
	free(cmd);
	free(ctcp);

	/* Unknown user and host count 10 and 63 bytes. */
	ck_assert_uint_eq(irc_text_budget("NOTICE", "someone", "bot", NULL, NULL, NULL),
			  512 - 2 - (1 + 3 + 1 + 10 + 1 + 63 + 1) - strlen("NOTICE someone :"));
	ck_assert_uint_eq(irc_text_budget("PRIVMSG", "#t", NULL, NULL, NULL, NULL),
			  512 - 2 - (1 + 30 + 1 + 10 + 1 + 63 + 1) - strlen("PRIVMSG #t :"));
	char huge[600];
	memset(huge, 'h', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	ck_assert_uint_eq(irc_text_budget("PRIVMSG", "#t", "bot", "u", huge, NULL), 0);
	free(text);
}
END_TEST

/* irc_text_decode with fallback: its result, or "" when s was UTF-8 already. */
static char *decoded(const char *s, enum irc_text_fallback fb)
{
	static char out[256];
	char *text = NULL;
	size_t len = 0;
	int r = irc_text_decode(s, strlen(s), fb, &text, &len);

	ck_assert_int_ge(r, 0);
	out[0] = '\0';
	if (r == 1) {
		ck_assert_uint_eq(len, strlen(text));
		ck_assert(irc_text_utf8_valid(text, len));
		snprintf(out, sizeof out, "%s", text);
		free(text);
	}
	return out;
}

START_TEST(text_decode_with_fallback)
{
	/* Valid UTF-8 is left alone. */
	ck_assert_str_eq(decoded("h\xc3\xa9 \xe2\x82\xac", IRC_TEXT_CP1252), "");
	ck_assert_str_eq(decoded("plain", IRC_TEXT_REPLACE), "");
	/* Windows-1252: the euro, quotes, a hole kept as its C1 control, Latin-1 above 0xA0. */
	ck_assert_str_eq(decoded("\x80 \x93q\x94 \x81 \xe9\xff", IRC_TEXT_CP1252),
			 "\xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d \xc2\x81 \xc3\xa9\xc3\xbf");
	/* Latin-1: every byte is its code point. */
	ck_assert_str_eq(decoded("\x80\xe9", IRC_TEXT_LATIN1), "\xc2\x80\xc3\xa9");
	/* No fallback: U+FFFD for each stray byte. */
	ck_assert_str_eq(decoded("a\xff" "b", IRC_TEXT_REPLACE), "a\xef\xbf\xbd" "b");
	/* Valid sequences kept beside invalid bytes; truncated, overlong and
	 * surrogate sequences decoded byte by byte. */
	ck_assert_str_eq(decoded("\xc3\xa9\xe9", IRC_TEXT_CP1252), "\xc3\xa9\xc3\xa9");
	ck_assert_str_eq(decoded("\xe2\x82", IRC_TEXT_LATIN1), "\xc3\xa2\xc2\x82");
	ck_assert_str_eq(decoded("\xc0\xaf", IRC_TEXT_REPLACE), "\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert_str_eq(decoded("\xed\xa0\x80", IRC_TEXT_LATIN1), "\xc3\xad\xc2\xa0\xc2\x80");
}
END_TEST

START_TEST(text_ctcp)
{
	char *s = NULL, *cmd = NULL, *args = NULL;

	ck_assert_int_eq(irc_text_ctcp_wrap("ACTION", "waves", &s), 0);
	ck_assert_str_eq(s, "\001ACTION waves\001");
	ck_assert(irc_text_is_ctcp(s));
	free(s);
	ck_assert_int_eq(irc_text_ctcp_wrap("VERSION", NULL, &s), 0);
	ck_assert_str_eq(s, "\001VERSION\001");
	free(s);
	ck_assert_int_eq(irc_text_ctcp_wrap("PING", "", &s), 0);
	ck_assert_str_eq(s, "\001PING\001");
	free(s);
	s = NULL;
	ck_assert_int_eq(irc_text_ctcp_wrap("", "x", &s), -EINVAL);
	ck_assert_int_eq(irc_text_ctcp_wrap("AC TION", "x", &s), -EINVAL);
	ck_assert_int_eq(irc_text_ctcp_wrap("X\001", "x", &s), -EINVAL);
	ck_assert_int_eq(irc_text_ctcp_wrap("ACTION", "a\001b", &s), -EINVAL);
	ck_assert_int_eq(irc_text_ctcp_wrap("ACTION", "a\r\nQUIT", &s), -EINVAL);
	ck_assert_ptr_null(s);

	ck_assert_int_eq(irc_text_ctcp_unwrap("\001ACTION waves  hello\001", &cmd, &args), 0);
	ck_assert_str_eq(cmd, "ACTION");
	ck_assert_str_eq(args, "waves  hello");
	free(cmd);
	free(args);
	ck_assert_int_eq(irc_text_ctcp_unwrap("\001version\001", &cmd, &args), 0);
	ck_assert_str_eq(cmd, "VERSION");
	ck_assert_str_eq(args, "");
	free(cmd);
	free(args);
	ck_assert_int_eq(irc_text_ctcp_unwrap("\001PING 123", &cmd, &args), 0);
	ck_assert_str_eq(cmd, "PING");
	ck_assert_str_eq(args, "123");
	free(cmd);
	free(args);
	ck_assert_int_eq(irc_text_ctcp_unwrap("\001TIME\001trailing", &cmd, &args), 0);
	ck_assert_str_eq(cmd, "TIME");
	ck_assert_str_eq(args, "");
	free(cmd);
	free(args);
	cmd = args = NULL;
	static const char *const not_ctcp[] = { "hello", "", "\001", "\001\001", "\001 x\001", "x\001ACTION\001" };
	for (size_t i = 0; i < sizeof not_ctcp / sizeof not_ctcp[0]; i++) {
		ck_assert(!irc_text_is_ctcp(not_ctcp[i]));
		ck_assert_int_eq(irc_text_ctcp_unwrap(not_ctcp[i], &cmd, &args), -EINVAL);
	}
	ck_assert_ptr_null(cmd);
	ck_assert_ptr_null(args);
}
END_TEST

/* ---- outq ------------------------------------------------------------------ */

struct rec {
	int id;
	int calls;
	int err;
};

static int done_order[64];
static int done_count;

/* Record a completion. */
static void rec_done(const char *line, int err, void *userdata)
{
	struct rec *r = userdata;

	ck_assert_ptr_nonnull(line);
	r->calls++;
	r->err = err;
	if (done_count < 64)
		done_order[done_count++] = r->id;
}

/* Initialise n records with ids 0..n-1. */
static void recs_init(struct rec *r, int n)
{
	for (int i = 0; i < n; i++) {
		r[i].id = i;
		r[i].calls = 0;
		r[i].err = 1;
	}
	done_count = 0;
}

/* Take the next ready line at now, check it and complete it as sent. */
static void send_one(struct outq *q, uint64_t now, const char *want)
{
	uint64_t wait = 0;
	struct outq_entry *e = outq_ready(q, now, &wait);

	ck_assert_msg(e != NULL, "nothing ready at %llu (wait %llu), wanted %s",
		      (unsigned long long)now, (unsigned long long)wait, want);
	ck_assert_str_eq(outq_entry_line(e), want);
	ck_assert_uint_eq(outq_entry_len(e), strlen(want));
	outq_entry_complete(e, 0);
}

/* Check that nothing is ready at now and the wait is want. */
static void expect_wait(struct outq *q, uint64_t now, uint64_t want)
{
	uint64_t wait = 0;

	ck_assert_ptr_null(outq_ready(q, now, &wait));
	ck_assert_uint_eq(wait, want);
}

START_TEST(outq_pacing_burst_then_interval)
{
	struct outq *q = outq_new();
	struct rec r[10];
	char line[32];
	uint64_t t = 100000;	/* the fake clock */

	recs_init(r, 10);
	expect_wait(q, t, OUTQ_IDLE);
	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof line, "PRIVMSG #c :%d", i);
		ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, line, t, rec_done, &r[i]), 0);
	}
	ck_assert_int_eq(done_count, 0);	/* nothing completes from push */
	for (int i = 0; i < 5; i++) {
		snprintf(line, sizeof line, "PRIVMSG #c :%d", i);
		send_one(q, t, line);
	}
	expect_wait(q, t, 1000);
	expect_wait(q, t + 999, 1);
	send_one(q, t + 1000, "PRIVMSG #c :5");
	expect_wait(q, t + 1000, 1000);
	expect_wait(q, t + 1500, 500);
	send_one(q, t + 2000, "PRIVMSG #c :6");
	/* Late by 3.5 intervals: the bucket refilled 3 lines, not more. */
	send_one(q, t + 5500, "PRIVMSG #c :7");
	send_one(q, t + 5500, "PRIVMSG #c :8");
	send_one(q, t + 5500, "PRIVMSG #c :9");
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #c :10", t + 5500, NULL, NULL), 0);
	expect_wait(q, t + 5500, 500);
	send_one(q, t + 6000, "PRIVMSG #c :10");
	expect_wait(q, t + 6000, OUTQ_IDLE);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		ck_assert_int_eq(r[i].err, 0);
		ck_assert_int_eq(done_order[i], i);
	}

	/* A full burst again after a long pause, then pacing. */
	t += 60000;
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #c :x", t, NULL, NULL), 0);
	for (int i = 0; i < 5; i++)
		send_one(q, t, "PRIVMSG #c :x");
	expect_wait(q, t, 1000);

	/* Configurable: burst 2, 250 ms; reset refills the bucket. */
	ck_assert_int_eq(outq_set_pacing(q, 0, 10), -EINVAL);
	ck_assert_int_eq(outq_set_pacing(q, 2, 250), 0);
	outq_pacing_reset(q);
	send_one(q, t, "PRIVMSG #c :x");
	send_one(q, t, "PRIVMSG #c :x");
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #c :y", t, NULL, NULL), 0);
	expect_wait(q, t, 250);
	send_one(q, t + 250, "PRIVMSG #c :y");
	ck_assert_int_eq(outq_set_pacing(q, 1, 0), 0);	/* no pacing */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #c :z", t, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		send_one(q, t + 250, "PRIVMSG #c :z");
	outq_free(q);
}
END_TEST

START_TEST(outq_priorities)
{
	struct outq *q = outq_new();
	struct rec r[8];
	uint64_t t = 0;

	recs_init(r, 8);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :n1", t, rec_done, &r[0]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :n2", t, rec_done, &r[1]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "JOIN #b", t, rec_done, &r[2]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, "PONG :x", t, rec_done, &r[3]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "MODE #b +o x", t, rec_done, &r[4]), 0);
	ck_assert_uint_eq(outq_count(q), 5);
	struct outq_stats st;
	outq_stats_get(q, &st);
	ck_assert_uint_eq(st.queued[OUTQ_URGENT], 1);
	ck_assert_uint_eq(st.queued[OUTQ_CONTROL], 2);
	ck_assert_uint_eq(st.queued[OUTQ_NORMAL], 2);
	ck_assert_uint_eq(st.bytes, outq_bytes(q));

	send_one(q, t, "PONG :x");
	send_one(q, t, "JOIN #b");
	send_one(q, t, "MODE #b +o x");
	send_one(q, t, "PRIVMSG #a :n1");
	send_one(q, t, "PRIVMSG #a :n2");
	/* The bucket is empty: a later CONTROL waits, but URGENT goes at once. */
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :n3", t, rec_done, &r[5]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "PART #b", t, rec_done, &r[6]), 0);
	expect_wait(q, t, 1000);
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, "QUIT :bye", t, rec_done, &r[7]), 0);
	send_one(q, t, "QUIT :bye");
	/* ...and is counted: the next line waits one interval more. */
	expect_wait(q, t, 2000);
	send_one(q, t + 2000, "PART #b");
	send_one(q, t + 3000, "PRIVMSG #a :n3");
	int want[] = { 3, 2, 4, 0, 1, 7, 6, 5 };
	ck_assert_int_eq(done_count, 8);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(done_order[i], want[i]);
		ck_assert_int_eq(r[i].calls, 1);
	}
	expect_wait(q, t + 9000, OUTQ_IDLE);
	outq_free(q);
}
END_TEST

START_TEST(outq_bounds)
{
	struct outq *q = outq_new();
	struct rec r[6];
	struct outq_stats st;
	char big[IRC_LINE_MAX + 2];

	recs_init(r, 6);
	ck_assert_int_eq(outq_set_limits(q, 0, 10), -EINVAL);
	ck_assert_int_eq(outq_set_limits(q, 3, 1000), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(outq_push(q, i ? OUTQ_NORMAL : OUTQ_CONTROL, "PRIVMSG #a :x", 0, rec_done, &r[i]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :x", 0, rec_done, &r[3]), -ENOBUFS);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "JOIN #a", 0, rec_done, &r[3]), -ENOBUFS);
	ck_assert_uint_eq(outq_count(q), 3);
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, "PONG :s", 0, rec_done, &r[4]), 0);
	ck_assert_uint_eq(outq_count(q), 4);
	ck_assert_int_eq(done_count, 0);
	outq_stats_get(q, &st);
	ck_assert_uint_eq(st.refused, 2);
	ck_assert_uint_eq(st.pushed, 4);

	/* A line out frees a place. */
	send_one(q, 0, "PONG :s");
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :x", 0, rec_done, &r[5]), -ENOBUFS);
	send_one(q, 0, "PRIVMSG #a :x");
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :x", 0, rec_done, &r[5]), 0);
	ck_assert_int_eq(r[3].calls, 0);	/* refused: never completed */

	/* The byte bound. */
	ck_assert_int_eq(outq_set_limits(q, 100, 3 * 13 + 5), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :123456", 0, NULL, NULL), -ENOBUFS);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "JOIN #a", 0, NULL, NULL), -ENOBUFS);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "JOIN", 0, NULL, NULL), 0);
	ck_assert_uint_eq(outq_bytes(q), 3 * 13 + 4);
	/* Bounds lowered below what is queued refuse every push. */
	ck_assert_int_eq(outq_set_limits(q, 100, 10), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "JOIN", 0, NULL, NULL), -ENOBUFS);
	ck_assert_int_eq(outq_set_limits(q, 2, 1000), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "JOIN", 0, NULL, NULL), -ENOBUFS);
	ck_assert_uint_eq(outq_count(q), 4);

	/* Malformed lines. */
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, "", 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, "PONG :x\r\nJOIN #x", 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(outq_push(q, OUTQ_PRIO_COUNT, "PONG", 0, NULL, NULL), -EINVAL);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, big, 0, NULL, NULL), -EMSGSIZE);
	outq_free(q);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(r[i].calls, i == 3 ? 0 : 1);
	ck_assert_int_eq(r[1].err, -ECANCELED);
	ck_assert_int_eq(r[5].err, -ECANCELED);
}
END_TEST

START_TEST(outq_expiry)
{
	struct outq *q = outq_new();
	struct rec r[5];
	struct outq_stats st;

	recs_init(r, 5);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :old", 0, rec_done, &r[0]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "JOIN #a", 500, rec_done, &r[1]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :new", 1000, rec_done, &r[2]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, "PONG :old", 100, rec_done, &r[3]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :newer", 1500, rec_done, &r[4]), 0);

	ck_assert_uint_eq(outq_expire(q, 1500, 1000), 2);	/* age 1500 and 1400; 1000 is not older */
	ck_assert_int_eq(r[0].err, -ETIMEDOUT);
	ck_assert_int_eq(r[3].err, -ETIMEDOUT);
	ck_assert_int_eq(r[1].calls, 0);
	ck_assert_uint_eq(outq_count(q), 3);
	ck_assert_uint_eq(outq_expire(q, 1600, 1000), 1);	/* JOIN, age 1100 */
	ck_assert_int_eq(r[1].err, -ETIMEDOUT);
	ck_assert_uint_eq(outq_expire(q, 1600, 1000), 0);
	ck_assert_uint_eq(outq_expire(q, 10, 0), 0);		/* a clock before the pushes */

	/* The queue still works after expiry, FIFO intact. */
	struct outq_entry *e = outq_ready(q, 2000, NULL);
	ck_assert_str_eq(outq_entry_line(e), "PRIVMSG #a :new");
	ck_assert_uint_eq(outq_entry_enqueued(e), 1000);
	ck_assert_int_eq(outq_entry_prio(e), OUTQ_NORMAL);
	outq_entry_complete(e, 0);
	ck_assert_uint_eq(outq_expire(q, 5000, 100), 1);
	ck_assert_uint_eq(outq_count(q), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :again", 5000, NULL, NULL), 0);
	send_one(q, 5000, "PRIVMSG #a :again");
	outq_stats_get(q, &st);
	ck_assert_uint_eq(st.expired, 4);
	ck_assert_uint_eq(st.dequeued, 2);
	outq_free(q);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(r[i].calls, 1);
	ck_assert_int_eq(r[2].err, 0);
	ck_assert_int_eq(r[4].err, -ETIMEDOUT);
}
END_TEST

static struct outq *reentrant_q;
static struct rec reentrant_rec;
static int reentrant_push_result;

/* A completion that queues a new line from inside fail_all or free. */
static void push_from_done(const char *line, int err, void *userdata)
{
	rec_done(line, err, userdata);
	reentrant_push_result = outq_push(reentrant_q, OUTQ_NORMAL, "PRIVMSG #a :retry", 0, rec_done,
					  &reentrant_rec);
}

/* Flows of one priority are served round robin, one line per turn: a flood
 * in one flow delays another flow's line by one line, not by the flood. */
/* The bot's own refusals (LOW) wait for every answer (NORMAL) and command
 * (CONTROL), whenever they were queued; among themselves, in order. */
START_TEST(outq_low_goes_after_answers)
{
	struct outq *q = outq_new();
	struct rec r[5];

	ck_assert_ptr_nonnull(q);
	recs_init(r, 5);
	ck_assert_int_eq(outq_set_pacing(q, 1, 1000), 0);
	ck_assert_int_eq(outq_push_flow(q, OUTQ_LOW, "host:a", "PRIVMSG #c :a: dice is busy", 0, rec_done, &r[0]), 0);
	ck_assert_int_eq(outq_push_flow(q, OUTQ_NORMAL, "host:b", "PRIVMSG #c :b rolled", 1, rec_done, &r[1]), 0);
	ck_assert_int_eq(outq_push_flow(q, OUTQ_LOW, "host:c", "PRIVMSG #c :c: too fast", 2, rec_done, &r[2]), 0);
	ck_assert_int_eq(outq_push_flow(q, OUTQ_NORMAL, "host:a", "PRIVMSG #c :a rolled", 3, rec_done, &r[3]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "JOIN #d", 4, rec_done, &r[4]), 0);
	send_one(q, 10, "JOIN #d");
	send_one(q, 1010, "PRIVMSG #c :b rolled");
	send_one(q, 2010, "PRIVMSG #c :a rolled");
	send_one(q, 3010, "PRIVMSG #c :a: dice is busy");
	send_one(q, 4010, "PRIVMSG #c :c: too fast");
	ck_assert_uint_eq(outq_count(q), 0);
	outq_free(q);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(r[i].calls, 1);
}
END_TEST

START_TEST(outq_flows_round_robin)
{
	struct outq *q = outq_new();
	struct rec r[12];
	char line[32];
	struct outq_entry *e;
	uint64_t wait;

	ck_assert_ptr_nonnull(q);
	recs_init(r, 12);
	ck_assert_int_eq(outq_set_pacing(q, 1, 1000), 0);
	for (int i = 1; i <= 6; i++) {
		snprintf(line, sizeof line, "PRIVMSG #c :a%d", i);
		ck_assert_int_eq(outq_push_flow(q, OUTQ_NORMAL, "host:a", line, 0, rec_done, &r[i - 1]), 0);
	}
	/* b asks after a's flood; the default flow too. */
	ck_assert_int_eq(outq_push_flow(q, OUTQ_NORMAL, "host:b", "PRIVMSG #c :b1", 10, rec_done, &r[6]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #d :d1", 10, rec_done, &r[7]), 0);
	ck_assert_uint_eq(outq_count(q), 8);
	send_one(q, 0, "PRIVMSG #c :a1");
	expect_wait(q, 500, 500);
	send_one(q, 1000, "PRIVMSG #c :b1");
	send_one(q, 2000, "PRIVMSG #d :d1");
	send_one(q, 3000, "PRIVMSG #c :a2");
	/* A flow that starts waiting goes before the one just served: its
	 * line is next. */
	ck_assert_int_eq(outq_push_flow(q, OUTQ_NORMAL, "host:b", "PRIVMSG #c :b2", 3500, rec_done, &r[8]), 0);
	send_one(q, 4000, "PRIVMSG #c :b2");
	send_one(q, 5000, "PRIVMSG #c :a3");
	/* CONTROL still goes first, then the turn goes on where it was. */
	ck_assert_int_eq(outq_push_flow(q, OUTQ_CONTROL, "host:b", "JOIN #e", 5500, rec_done, &r[9]), 0);
	send_one(q, 6000, "JOIN #e");
	/* A line given back is first again, in its flow and in the round robin. */
	ck_assert_int_eq(outq_push_flow(q, OUTQ_NORMAL, "host:b", "PRIVMSG #c :b3", 6500, rec_done, &r[10]), 0);
	e = outq_ready(q, 7000, &wait);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(outq_entry_line(e), "PRIVMSG #c :b3");
	outq_requeue(q, e);
	send_one(q, 7000, "PRIVMSG #c :b3");
	e = outq_ready(q, 8000, &wait);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(outq_entry_line(e), "PRIVMSG #c :a4");
	outq_requeue(q, e);
	send_one(q, 8000, "PRIVMSG #c :a4");
	send_one(q, 9000, "PRIVMSG #c :a5");
	/* Expiry and failure reach every flow, exactly once. */
	ck_assert_int_eq(outq_push_flow(q, OUTQ_NORMAL, "host:c", "PRIVMSG #c :c1", 9000, rec_done, &r[11]), 0);
	ck_assert_uint_eq(outq_expire(q, 9500, 9000), 1);	/* a6, queued at 0 */
	ck_assert_int_eq(r[5].err, -ETIMEDOUT);
	ck_assert_uint_eq(outq_fail_all(q, -ENOTCONN), 1);
	ck_assert_int_eq(r[11].err, -ENOTCONN);
	ck_assert_uint_eq(outq_count(q), 0);
	ck_assert_uint_eq(outq_bytes(q), 0);
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(r[i].calls, 1);
	expect_wait(q, 20000, OUTQ_IDLE);
	outq_free(q);
}
END_TEST

START_TEST(outq_fail_all_and_exactly_once)
{
	struct outq *q = outq_new();
	struct rec r[6];
	struct outq_entry *e;
	struct outq_stats st;

	recs_init(r, 6);
	reentrant_q = q;
	reentrant_rec.id = 50;
	reentrant_rec.calls = 0;
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :1", 0, rec_done, &r[0]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "JOIN #a", 0, push_from_done, &r[1]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_URGENT, "PONG :a", 0, rec_done, &r[2]), 0);

	/* Handed out and given back: it comes out again, first, and is charged once. */
	e = outq_ready(q, 0, NULL);
	ck_assert_str_eq(outq_entry_line(e), "PONG :a");
	outq_requeue(q, e);
	ck_assert_uint_eq(outq_count(q), 3);
	ck_assert_int_eq(r[2].calls, 0);
	send_one(q, 0, "PONG :a");

	ck_assert_uint_eq(outq_fail_all(q, -ENOTCONN), 2);
	ck_assert_int_eq(r[0].err, -ENOTCONN);
	ck_assert_int_eq(r[1].err, -ENOTCONN);
	ck_assert_int_eq(done_order[1], 1);	/* CONTROL first, then NORMAL */
	ck_assert_int_eq(done_order[2], 0);
	/* The line pushed by a completion stays queued. */
	ck_assert_int_eq(reentrant_push_result, 0);
	ck_assert_uint_eq(outq_count(q), 1);
	ck_assert_int_eq(reentrant_rec.calls, 0);

	ck_assert_int_eq(outq_push(q, OUTQ_CONTROL, "NICK x", 0, push_from_done, &r[3]), 0);
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :2", 0, rec_done, &r[4]), 0);
	e = outq_ready(q, 0, NULL);
	ck_assert_str_eq(outq_entry_line(e), "NICK x");
	ck_assert_uint_eq(outq_fail_all(q, -ECANCELED), 2);
	ck_assert_int_eq(r[4].err, -ECANCELED);
	ck_assert_int_eq(reentrant_rec.err, -ECANCELED);
	/* The entry held by the caller is untouched by fail_all. */
	ck_assert_int_eq(r[3].calls, 0);
	outq_entry_complete(e, -EIO);
	ck_assert_int_eq(r[3].err, -EIO);
	ck_assert_uint_eq(outq_count(q), 1);	/* pushed again by r[3]'s completion */
	outq_stats_get(q, &st);
	ck_assert_uint_eq(st.failed, 4);

	/* outq_free completes what is left and refuses pushes from completions. */
	ck_assert_int_eq(outq_push(q, OUTQ_NORMAL, "PRIVMSG #a :3", 0, push_from_done, &r[5]), 0);
	outq_free(q);
	ck_assert_int_eq(r[5].err, -ECANCELED);
	ck_assert_int_eq(reentrant_push_result, -ECANCELED);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(r[i].calls == 1, "entry %d completed %d times", i, r[i].calls);
	ck_assert_int_eq(reentrant_rec.calls, 2);	/* two separate entries, once each */
	ck_assert_ptr_null(outq_free(NULL));
}
END_TEST

/* ---- the clock ---------------------------------------------------------------- */

/* The time a test says: monotonic and wall microseconds. */
struct fake_clock {
	uint64_t mono_us;
	int64_t wall_us;
};

/* Monotonic microseconds of a fake clock. */
static uint64_t fake_now_us(void *userdata)
{
	return ((struct fake_clock *)userdata)->mono_us;
}

/* Wall microseconds of a fake clock. */
static int64_t fake_wall_us(void *userdata)
{
	return ((struct fake_clock *)userdata)->wall_us;
}

/* ---- irc_filter ------------------------------------------------------------- */

/* One message the filter table is run on. */
struct filter_msg {
	const char *channel, *nick, *user, *host, *text;
	bool private;
};

static const struct filter_msg filter_msgs[] = {
	/* 0 */ { "#chan", "Alice", "al", "example.org", "!seen bob", false },
	/* 1 */ { "#Other", "bob", "b", "host.net", "hello !seen", false },
	/* 2 */ { NULL, "Alice", "al", "example.org", "!SEEN", true },
	/* 3 */ { "#chan", "carol", NULL, NULL, "!seenx please", false },
	/* 4 */ { "#c{a}", "dave[m]", "d", "x.y", "Weather IS nice", false },
	/* 5 */ { NULL, "eve", "e", "e.org", NULL, false },
};

/* A filter and the messages of filter_msgs it takes, as a string of 0/1. */
static const struct {
	const char *filter;
	const char *takes;
} filter_cases[] = {
	{ "{}", "111111" },
	{ "{\"channel\":\"#chan\"}", "100100" },
	{ "{\"channel\":\"#CHAN\"}", "100100" },	/* casemapped */
	{ "{\"channel\":\"#C[A]\"}", "000010" },	/* rfc1459: [] are {} upper case */
	{ "{\"channel\":[\"#other\",\"#chan\"]}", "110100" },
	{ "{\"private\":true}", "001000" },
	{ "{\"private\":false}", "110110" },	/* to a channel only: not 5, sent to neither */
	{ "{\"nick\":\"alice\"}", "101000" },
	{ "{\"nick\":\"DAVE{M}\"}", "000010" },
	{ "{\"nick\":\"*!*@example.org\"}", "101000" },
	{ "{\"nick\":\"c*!*@*\"}", "000100" },	/* no user, no host: "carol!@" */
	{ "{\"nick\":\"?ob\"}", "010000" },
	{ "{\"prefix\":\"!\"}", "101100" },
	{ "{\"prefix\":\"!seen\"}", "100100" },	/* case-sensitive */
	{ "{\"command\":\"!seen\"}", "101000" },	/* a whole first word, any case */
	{ "{\"prefix\":\"!\",\"command\":\"seen\"}", "101000" },
	{ "{\"prefix\":\"!\",\"command\":\"seenx\"}", "000100" },
	{ "{\"command\":\"hello\"}", "010000" },
	{ "{\"contains\":\"SEEN\"}", "111100" },	/* any case */
	{ "{\"contains\":\"is nice\"}", "000010" },
	{ "{\"channel\":\"#chan\",\"command\":\"!seen\"}", "100000" },
	{ "{\"private\":true,\"nick\":\"bob\"}", "000000" },
};

START_TEST(filter_table)
{
	for (size_t i = 0; i < sizeof filter_cases / sizeof filter_cases[0]; i++) {
		cJSON *spec = cJSON_Parse(filter_cases[i].filter);
		struct irc_filter *f = NULL;
		char err[160] = "";

		ck_assert_ptr_nonnull(spec);
		ck_assert_msg(irc_filter_new(spec, &f, err, sizeof err) == 0, "%s: %s", filter_cases[i].filter, err);
		for (size_t m = 0; m < sizeof filter_msgs / sizeof filter_msgs[0]; m++) {
			const struct filter_msg *fm = &filter_msgs[m];
			struct irc_filter_subject subject = {
				.cm = ISUPPORT_CASEMAP_RFC1459, .channel = fm->channel, .private = fm->private,
				.nick = fm->nick, .user = fm->user, .host = fm->host, .text = fm->text,
			};
			bool want = filter_cases[i].takes[m] == '1';
			ck_assert_msg(irc_filter_match(f, &subject) == want, "filter %s on message %zu: want %d",
				      filter_cases[i].filter, m, want);
		}
		irc_filter_free(f);
		cJSON_Delete(spec);
	}
}
END_TEST

/* Filters refused, each with its reason. */
START_TEST(filter_refused)
{
	static const struct {
		const char *filter, *why;
	} bad[] = {
		{ "[]", "a filter is an object" },
		{ "{\"chanel\":\"#a\"}", "unknown key 'chanel'" },
		{ "{\"channel\":1}", "'channel' must be a string or 1 to 32 strings" },
		{ "{\"channel\":[]}", "'channel' must be a string or 1 to 32 strings" },
		{ "{\"channel\":[\"#a\",2]}", "'channel' must be a string" },
		{ "{\"private\":\"yes\"}", "'private' must be true or false" },
		{ "{\"command\":\"two words\"}", "'command' must not hold spaces" },
		{ "{\"prefix\":\"\"}", "'prefix' must be 1 to 256 bytes" },
		{ "{\"contains\":\"a\\nb\"}", "'contains' must not hold line ends" },
		{ "{\"nick\":\"a\",\"nick\":\"b\"}", "key 'nick' given twice" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *spec = cJSON_Parse(bad[i].filter);
		struct irc_filter *f = NULL;
		char err[160] = "";

		ck_assert_ptr_nonnull(spec);
		ck_assert_int_eq(irc_filter_new(spec, &f, err, sizeof err), -EINVAL);
		ck_assert_msg(strstr(err, bad[i].why), "%s: '%s' lacks '%s'", bad[i].filter, err, bad[i].why);
		ck_assert_ptr_null(f);
		cJSON_Delete(spec);
	}
}
END_TEST

/* Equal filters, and the JSON a listing shows: keys in a fixed order. */
START_TEST(filter_equal_and_json)
{
	cJSON *a = cJSON_Parse("{\"command\":\"seen\",\"channel\":\"#a\",\"prefix\":\"!\"}");
	cJSON *b = cJSON_Parse("{\"prefix\":\"!\",\"channel\":\"#a\",\"command\":\"seen\"}");
	cJSON *c = cJSON_Parse("{\"prefix\":\"!\",\"channel\":\"#a\",\"command\":\"seen\",\"private\":false}");
	struct irc_filter *fa, *fb, *fc;
	char err[160];
	char *text;

	ck_assert_int_eq(irc_filter_new(a, &fa, err, sizeof err), 0);
	ck_assert_int_eq(irc_filter_new(b, &fb, err, sizeof err), 0);
	ck_assert_int_eq(irc_filter_new(c, &fc, err, sizeof err), 0);
	ck_assert(irc_filter_equal(fa, fb));
	ck_assert(!irc_filter_equal(fa, fc));
	ck_assert(!irc_filter_equal(fa, NULL));
	ck_assert(irc_filter_equal(NULL, NULL));
	cJSON *j = irc_filter_json(fc);
	text = cJSON_PrintUnformatted(j);
	ck_assert_str_eq(text, "{\"channel\":\"#a\",\"private\":false,\"prefix\":\"!\",\"command\":\"seen\"}");
	free(text);
	cJSON_Delete(j);
	irc_filter_free(fa);
	irc_filter_free(fb);
	irc_filter_free(fc);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}
END_TEST

START_TEST(clock_injected_and_restored)
{
	struct fake_clock fc = { .mono_us = 5000123, .wall_us = 1700000000123456 };
	const struct clock_source src = { fake_now_us, fake_wall_us, &fc };
	const struct clock_source mono_only = { fake_now_us, NULL, &fc };
	uint64_t real = clock_now_ms();

	ck_assert_uint_ge(clock_now_us() / 1000, real);
	ck_assert_int_gt(clock_wall_ms(), 1600000000000);
	clock_set_source(&src);
	ck_assert_uint_eq(clock_now_us(), 5000123);
	ck_assert_uint_eq(clock_now_ms(), 5000);
	ck_assert_int_eq(clock_wall_ms(), 1700000000123);
	/* time moves only when the test says */
	fc.mono_us += 60 * 1000000ULL;
	ck_assert_uint_eq(clock_now_ms(), 65000);
	/* a source without a wall clock leaves the system's */
	clock_set_source(&mono_only);
	ck_assert_uint_eq(clock_now_ms(), 65000);
	ck_assert_int_ne(clock_wall_ms(), 1700000000123);
	clock_set_source(NULL);
	ck_assert_uint_ge(clock_now_ms(), real);
	ck_assert_uint_lt(clock_now_ms(), real + 60000);
}
END_TEST

static Suite *irc_pure_suite(void)
{
	Suite *s = suite_create("irc_pure");
	TCase *t = tcase_create("irc_line");
	tcase_add_test(t, line_tags_with_escapes);
	tcase_add_test(t, line_tags_garbage);
	tcase_add_test(t, line_tags_many_repeated);
	tcase_add_test(t, line_hex_values);
	tcase_add_test(t, line_prefixes);
	tcase_add_test(t, line_twenty_params);
	tcase_add_test(t, line_commands_and_params);
	tcase_add_test(t, line_strip_tags_and_length);
	tcase_add_test(t, line_build_shapes);
	tcase_add_test(t, line_build_injection);
	suite_add_tcase(s, t);
	t = tcase_create("isupport");
	tcase_add_test(t, isupport_defaults);
	tcase_add_test(t, isupport_ngircd);
	tcase_add_test(t, isupport_libera);
	tcase_add_test(t, isupport_removals_escapes_json);
	tcase_add_test(t, isupport_flood_is_bounded);
	tcase_add_test(t, state_accounts_need_their_capability);
	tcase_add_test(t, casemap_each_mapping);
	suite_add_tcase(s, t);
	t = tcase_create("irc_text");
	tcase_add_test(t, text_nicks);
	tcase_add_test(t, text_channels_and_targets);
	tcase_add_test(t, text_masks);
	tcase_add_test(t, text_rule);
	tcase_add_test(t, text_cut_rules);
	tcase_add_test(t, text_split_mixed_2k);
	tcase_add_test(t, text_split_invalid_bytes_pass);
	tcase_add_test(t, text_budget_512);
	tcase_add_test(t, text_ctcp);
	tcase_add_test(t, text_decode_with_fallback);
	suite_add_tcase(s, t);
	t = tcase_create("outq");
	tcase_add_test(t, outq_pacing_burst_then_interval);
	tcase_add_test(t, outq_priorities);
	tcase_add_test(t, outq_bounds);
	tcase_add_test(t, outq_expiry);
	tcase_add_test(t, outq_flows_round_robin);
	tcase_add_test(t, outq_low_goes_after_answers);
	tcase_add_test(t, outq_fail_all_and_exactly_once);
	suite_add_tcase(s, t);
	t = tcase_create("clock");
	tcase_add_test(t, clock_injected_and_restored);
	suite_add_tcase(s, t);

	t = tcase_create("filter");
	tcase_add_test(t, filter_table);
	tcase_add_test(t, filter_refused);
	tcase_add_test(t, filter_equal_and_json);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(irc_pure_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
