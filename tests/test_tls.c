/* SPDX-License-Identifier: ISC */
/* TLS, CAP and IRCv3 end to end: the IRC link (bothost/irc/link.c) against a
 * private ngircd with TLS on loopback, using certificates this test makes
 * with openssl(1) (verification against the certificate given as
 * tls_ca_file, a wrong name refused, pinning by fingerprint, the insecure
 * switch, a client certificate, IPv6); and a bothost started with a
 * configuration file, whose libbotkit client sees the account and
 * server-time a scripted fake server sends in IRCv3 tags. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "botkit.h"
#include "botkit-irc.h"
#include "conf.h"
#include "harness.h"
#include "ircd.h"
#include "irc/irc_line.h"
#include "core/later.h"
#include "irc/link.h"
#include "core/log.h"

#define WAIT_MS 5000

/* ---- what the link reported ------------------------------------------------------ */

struct rec {
	struct link *l;
	int registered;
	int nlost;
	char lines[256][600];	/* untagged lines from the server */
	int nlines;
};

static struct rec R;
static ev_timer tick;
static char log_path[64];
static int saved_stderr = -1;

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* link callback: registered. */
static void on_registered(struct link *l, const char *nick, void *userdata)
{
	R.registered++;
}

/* link callback: a line from the server. */
static void on_line(struct link *l, const struct irc_line *msg, const char *untagged, void *userdata)
{
	if (R.nlines < 256)
		snprintf(R.lines[R.nlines++], sizeof R.lines[0], "%s", untagged);
}

/* link callback: the connection ended. */
static void on_lost(struct link *l, const char *reason, void *userdata)
{
	R.nlost++;
}

static const struct link_callbacks callbacks = {
	.registered = on_registered,
	.line = on_line,
	.lost = on_lost,
};

/* Keep the loop waking up while tests poll their conditions. */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Run the loop until cond holds or ms pass; evaluates to cond. */
#define RUN_UNTIL(cond, ms)                                                   \
	({                                                                    \
		uint64_t deadline_ = now_ms() + (uint64_t)(ms);              \
		bool ok_;                                                     \
		while (!(ok_ = (cond)) && now_ms() < deadline_)              \
			ev_run(EV_DEFAULT, EVRUN_ONCE);                       \
		ok_;                                                          \
	})

/* Whether a line from the server matched needle. */
static bool rec_has(const char *needle)
{
	for (int i = 0; i < R.nlines; i++)
		if (strstr(R.lines[i], needle))
			return true;
	return false;
}

/* Whether bothost's log (its stderr, kept in a file) says needle. */
static bool log_has(const char *needle)
{
	char text[65536];
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;

	if (fd >= 0)
		close(fd);
	text[n > 0 ? n : 0] = '\0';
	return strstr(text, needle) != NULL;
}

/* Copy the log so far to the real stderr. */
static void log_dump(void)
{
	char buf[4096];
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
		if (write(saved_stderr, buf, (size_t)n) < 0)
			break;
	if (fd >= 0)
		close(fd);
}

/* Run the loop until the log says needle (up to ms); on failure the log
 * is shown. */
static bool log_wait(const char *needle, int ms)
{
	bool ok = RUN_UNTIL(log_has(needle), ms);

	if (!ok)
		log_dump();
	return ok;
}

/* Each test in its own process: a clean loop, and the log in a file. */
static void setup(void)
{
	int fd;

	memset(&R, 0, sizeof R);
	snprintf(log_path, sizeof log_path, "/tmp/test-tls-log.XXXXXX");
	fd = mkstemp(log_path);
	ck_assert_int_ge(fd, 0);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	log_set_level(LOG_LEVEL_INFO);
	ck_assert_ptr_nonnull(later_queue_new(EV_DEFAULT));
	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	ev_timer_start(EV_DEFAULT, &tick);
}

/* Free the link; give the log back to stderr (shown with TEST_TLS_LOG). */
static void teardown(void)
{
	char buf[4096];
	ssize_t n;
	int fd;

	link_free(R.l);
	R.l = NULL;
	ev_timer_stop(EV_DEFAULT, &tick);
	later_queue_free(later_queue_of(EV_DEFAULT));
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(log_path, O_RDONLY | O_CLOEXEC);
	while (getenv("TEST_TLS_LOG") && fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
	if (fd >= 0)
		close(fd);
	unlink(log_path);
}

/* ---- configuration --------------------------------------------------------------- */

struct tconf {
	struct conf_irc c;
	struct conf_server server;
	char host[64];
	char port[8];
};

/* One TLS server host:port, short timeouts, and the given CA file. */
static void tconf_tls(struct tconf *t, const char *host, int port, const char *ca_file)
{
	memset(t, 0, sizeof *t);
	snprintf(t->host, sizeof t->host, "%s", host);
	snprintf(t->port, sizeof t->port, "%d", port);
	t->server = (struct conf_server){ t->host, t->port, true, true };
	t->c.servers = &t->server;
	t->c.n_servers = 1;
	t->c.nick = "tlsbot";
	t->c.username = "tlsbot";
	t->c.realname = "TLS bot";
	t->c.connect_timeout_ms = 3000;
	t->c.register_timeout_ms = 5000;
	t->c.ping_idle_ms = 30000;
	t->c.ping_timeout_ms = 30000;
	t->c.reconnect_min_ms = 300;
	t->c.reconnect_max_ms = 1000;
	t->c.stable_after_ms = 60000;
	t->c.cap_timeout_ms = 5000;
	t->c.sasl_timeout_ms = 5000;
	t->c.tls_ca_file = (char *)ca_file;
}

/* A started link for t. */
static void start_link(struct tconf *t)
{
	R.l = link_new(&t->c, &callbacks, &R);
	ck_assert_ptr_nonnull(R.l);
	ck_assert_int_eq(link_start(R.l), 0);
}

/* Free the link. */
static void stop_link(void)
{
	link_free(R.l);
	R.l = NULL;
}

/* The SHA-256 fingerprint of a PEM certificate as 64 lowercase hex digits,
 * or with ':' between the pairs. */
static void cert_fingerprint(const char *path, bool colons, char *out, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	size_t off = 0;

	ck_assert_ptr_nonnull(x);
	ck_assert(X509_digest(x, EVP_sha256(), md, &len) && len == 32);
	for (unsigned i = 0; i < len; i++)
		off += (size_t)snprintf(out + off, n - off, "%s%02x", colons && i ? ":" : "", md[i]);
	X509_free(x);
	fclose(f);
}

/* Start ngircd with TLS (and IPv6 when asked). */
static void ircd_tls_start(struct test_ircd *d, bool ipv6, const char *names)
{
	struct test_ircd_opts o = { .tls = true, .ipv6 = ipv6, .tls_names = names };

	ck_assert_int_eq(test_ircd_start(d, &o), 0);
	ck_assert_int_gt(d->tls_port, 0);
}

/* ---- the link against ngircd with TLS ---------------------------------------------- */

START_TEST(tls_verified_against_the_ca_file)
{
	struct test_irc_user u;
	struct test_ircd d;
	struct tconf t;

	ircd_tls_start(&d, true, NULL);
	ck_assert_int_eq(test_irc_user_connect(&u, d.port, "alice"), 0);
	/* A name: SNI, and the certificate's DNS name checked. */
	tconf_tls(&t, "localhost", d.tls_port, d.cert);
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, WAIT_MS));
	ck_assert(log_has("with TLSv1.3"));
	ck_assert(log_has("certificate verified"));
	/* CAP went through TLS too: ngircd offers multi-prefix. */
	ck_assert(link_has_cap(R.l, "multi-prefix"));
	ck_assert_int_eq(link_send(R.l, "PRIVMSG alice :over TLS", NULL, NULL), 0);
	ck_assert(RUN_UNTIL(link_writable(R.l), 2000));
	ck_assert_int_eq(test_irc_user_expect(&u, "^:tlsbot![^ ]+ PRIVMSG alice :over TLS$", 3000, NULL), 0);
	/* ngircd tells its users the link is TLS. */
	ck_assert_int_eq(link_send(R.l, "WHOIS tlsbot", NULL, NULL), 0);
	ck_assert(RUN_UNTIL(rec_has(" 275 tlsbot tlsbot :is connected via SSL"), 3000));
	stop_link();

	/* An IPv6 address: the certificate's IP address checked. */
	tconf_tls(&t, "::1", d.tls_port, d.cert);
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 2, WAIT_MS));
	ck_assert_int_eq(link_get_state(R.l), LINK_CONNECTED);
	ck_assert_int_eq(R.nlost, 0);
	stop_link();
	test_irc_user_close(&u);
	test_ircd_stop(&d);
}
END_TEST

START_TEST(tls_wrong_name_or_unknown_ca_refused)
{
	struct test_ircd d, other;
	struct tconf t;
	char fp[100];

	ircd_tls_start(&d, false, NULL);
	/* An address the certificate does not name. */
	tconf_tls(&t, "127.0.0.1", d.tls_port, d.cert);
	start_link(&t);
	ck_assert(log_wait("certificate refused: IP address mismatch", WAIT_MS));
	/* With the fingerprint, to pin it on purpose. */
	cert_fingerprint(d.cert, true, fp, sizeof fp);
	ck_assert(log_has(fp));
	ck_assert_int_eq(R.registered, 0);
	stop_link();

	/* The system's CA store does not know the test's certificate. */
	tconf_tls(&t, "localhost", d.tls_port, NULL);
	start_link(&t);
	ck_assert(log_wait("self-signed certificate", WAIT_MS));
	ck_assert_int_eq(R.registered, 0);
	stop_link();

	/* A name the certificate does not carry. */
	ircd_tls_start(&other, false, "DNS:irc.test.invalid");
	tconf_tls(&t, "localhost", other.tls_port, other.cert);
	start_link(&t);
	ck_assert(log_wait("certificate refused: hostname mismatch", WAIT_MS));
	/* It keeps trying, and keeps refusing. */
	ck_assert(RUN_UNTIL(link_get_state(R.l) == LINK_WAITING, WAIT_MS));
	ck_assert(RUN_UNTIL(link_get_state(R.l) != LINK_WAITING, WAIT_MS));
	ck_assert(RUN_UNTIL(link_get_state(R.l) == LINK_WAITING, WAIT_MS));
	ck_assert_int_eq(R.registered, 0);
	ck_assert_int_eq(R.nlost, 0);
	stop_link();
	test_ircd_stop(&other);
	test_ircd_stop(&d);
}
END_TEST

START_TEST(tls_pinned_by_fingerprint)
{
	char right[100], wrong[100];
	struct test_ircd d;
	struct tconf t;

	ircd_tls_start(&d, false, NULL);
	/* The pin replaces the CA and the name: an address, no CA file. */
	cert_fingerprint(d.cert, true, right, sizeof right);
	tconf_tls(&t, "127.0.0.1", d.tls_port, NULL);
	t.c.tls_fingerprint = right;
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, WAIT_MS));
	ck_assert(log_has("certificate pinned by fingerprint"));
	R.registered = 0;
	stop_link();

	/* Another fingerprint (the same without colons, one digit changed). */
	cert_fingerprint(d.cert, false, wrong, sizeof wrong);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	tconf_tls(&t, "localhost", d.tls_port, d.cert);
	t.c.tls_fingerprint = wrong;
	start_link(&t);
	ck_assert(log_wait("is not tls_fingerprint", WAIT_MS));
	/* The log names the real fingerprint, to pin it on purpose. */
	ck_assert(log_has(right));
	ck_assert_int_eq(R.registered, 0);
	stop_link();
	test_ircd_stop(&d);
}
END_TEST

START_TEST(tls_insecure_accepts_anything_loudly)
{
	struct test_ircd d;
	struct tconf t;

	ircd_tls_start(&d, false, "DNS:irc.test.invalid");
	tconf_tls(&t, "127.0.0.1", d.tls_port, NULL);
	t.c.tls_insecure = true;
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, WAIT_MS));
	ck_assert(log_has("is NOT verified (tls_insecure = yes)"));
	ck_assert(log_has("certificate NOT verified"));
	stop_link();
	test_ircd_stop(&d);
}
END_TEST

START_TEST(tls_client_certificate)
{
	char cert[300], key[300], fp[100], want[200];
	struct test_ircd d;
	struct tconf t;

	ircd_tls_start(&d, false, NULL);
	snprintf(cert, sizeof cert, "%s/client.pem", d.dir);
	snprintf(key, sizeof key, "%s/client.key", d.dir);
	ck_assert_int_eq(test_tls_make_cert(cert, key, "tlsbot", NULL), 0);
	cert_fingerprint(cert, false, fp, sizeof fp);
	tconf_tls(&t, "localhost", d.tls_port, d.cert);
	t.c.tls_cert = cert;
	t.c.tls_key = key;
	start_link(&t);
	ck_assert(RUN_UNTIL(R.registered == 1, WAIT_MS));
	/* ngircd shows the user its own certificate's fingerprint (CertFP). */
	ck_assert_int_eq(link_send(R.l, "WHOIS tlsbot", NULL, NULL), 0);
	snprintf(want, sizeof want, " 276 tlsbot tlsbot :has client certificate fingerprint %s", fp);
	ck_assert(RUN_UNTIL(rec_has(want), 3000));
	stop_link();
	R.registered = 0;

	/* A key that does not belong to the certificate is refused before
	 * anything is sent. */
	tconf_tls(&t, "localhost", d.tls_port, d.cert);
	t.c.tls_cert = cert;
	t.c.tls_key = d.key;
	start_link(&t);
	ck_assert(log_wait("cannot use the client certificate", WAIT_MS));
	ck_assert_int_eq(R.registered, 0);
	stop_link();
	unlink(cert);
	unlink(key);
	test_ircd_stop(&d);
}
END_TEST

/* ---- bothost and a libbotkit client ---------------------------------------------------- */

#define EVENTS_MAX 64

struct event {
	char name[16];
	cJSON *data;
};

static struct event events[EVENTS_MAX];
static size_t nevents;

/* Record an event. */
static void on_event(bk_conn *c, bk_args *a, void *userdata)
{
	if (nevents < EVENTS_MAX) {
		snprintf(events[nevents].name, sizeof events[nevents].name, "%s", (const char *)userdata);
		events[nevents].data = bk_json_dup(bk_args_get(a, 0));
		nevents++;
	}
}

/* A value inside o at a dotted path ("from.account"), or NULL. */
static const cJSON *path_get(const cJSON *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)n, path);
		o = cJSON_GetObjectItem(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

/* The first event named name whose field is value, processing the client
 * meanwhile (up to ms). */
static const cJSON *wait_event(bk_conn *c, const char *name, const char *field, const char *value, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	for (;;) {
		for (size_t i = 0; i < nevents; i++) {
			const char *v = cJSON_GetStringValue(path_get(events[i].data, field));
			if (strcmp(events[i].name, name) == 0 && v && strcmp(v, value) == 0)
				return events[i].data;
		}
		if (now_ms() >= deadline)
			return NULL;
		struct pollfd p = { .fd = bk_conn_get_fd(c), .events = (short)bk_conn_get_events(c) };
		poll(&p, 1, 20);
		bk_conn_process(c);
	}
}

/* irc.method(args...) with string arguments; the result (caller frees) or NULL. */
static cJSON *irc_call(bk_conn *c, const char *method, const char *a1, const char *a2)
{
	cJSON *args = cJSON_CreateArray(), *ret = NULL;

	if (a1)
		cJSON_AddItemToArray(args, cJSON_CreateString(a1));
	if (a2)
		cJSON_AddItemToArray(args, cJSON_CreateString(a2));
	if (bk_call_json_sync(c, "irc", method, args, &ret) < 0)
		ret = NULL;
	cJSON_Delete(args);
	return ret;
}

/* Poll until getState says state (up to ms). */
static bool wait_state(bk_conn *c, const char *state, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	for (;;) {
		cJSON *st = irc_call(c, "getState", NULL, NULL);
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(st, "state"));
		bool ok = s && strcmp(s, state) == 0;
		bk_json_delete(st);
		if (ok)
			return true;
		if (now_ms() >= deadline)
			return false;
		usleep(20000);
	}
}

/* Poll until the bot is in channel (up to ms). */
static bool wait_in_channel(bk_conn *c, const char *channel, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	for (;;) {
		cJSON *chans = irc_call(c, "getChannels", NULL, NULL);
		const cJSON *ch;
		bool found = false;
		cJSON_ArrayForEach(ch, chans) {
			const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "name"));
			found = found || (name && strcmp(name, channel) == 0);
		}
		bk_json_delete(chans);
		if (found)
			return true;
		if (now_ms() >= deadline)
			return false;
		usleep(20000);
	}
}

/* A bothost with a configuration file of [irc] lines; its client. */
struct host_env {
	struct test_host host;
	char dir[64];
	char conf[128];
	bk_conn *c;
};

/* Write the configuration (the [bothost] lines, then the [irc] ones) and
 * start bothost and a client registered for message and join. */
static void host_start(struct host_env *e, const char *bothost_lines, const char *irc_lines)
{
	const char *args[] = { "--config", e->conf, NULL };
	FILE *f;

	memset(e, 0, sizeof *e);
	nevents = 0;
	snprintf(e->dir, sizeof e->dir, "/tmp/test-tls.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->conf, sizeof e->conf, "%s/bothost.conf", e->dir);
	f = fopen(e->conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[bothost]\n%s[irc]\nnick = bot\nusername = botuser\nreconnect_min = 300ms\n"
		"reconnect_max = 1s\nburst = 100\nline_interval = 10ms\n%s", bothost_lines, irc_lines);
	fclose(f);
	/* The log in a file, for the tests that read it. */
	ck_assert_int_eq(test_host_start_opts(&e->host, args, &(struct test_host_opts){ .log = true }), 0);
	ck_assert_int_eq(bk_conn_new_path(&e->c, e->host.path, "test_tls"), 0);
	ck_assert_int_eq(bk_on(e->c, "irc", "message", on_event, "message", NULL, NULL), 0);
	ck_assert_int_eq(bk_on(e->c, "irc", "join", on_event, "join", NULL, NULL), 0);
}

/* Stop bothost (it must exit cleanly) and forget the events. */
static void host_stop(struct host_env *e)
{
	int status;

	for (size_t i = 0; i < nevents; i++)
		bk_json_delete(events[i].data);
	nevents = 0;
	bk_conn_unref(e->c);
	status = test_host_stop(&e->host);
	unlink(e->conf);
	rmdir(e->dir);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bothost exited with status %#x", status);
}

/* A number field of o. */
static double num(const cJSON *o, const char *path)
{
	const cJSON *v = path_get(o, path);

	ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", path);
	return v->valuedouble;
}

START_TEST(tags_and_accounts_reach_the_message_handler)
{
	struct test_fake *f = test_fake_new();
	struct host_env e;
	char lines[128];
	const cJSON *ev;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_answer(f, "^PING :?(.*)$", ":irc.test.local PONG irc.test.local :$1"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP LS 302$", 10000), 0);
	ck_assert_int_eq(test_fake_expect(f, "^USER ", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * LS :account-tag server-time extended-join "
					  "account-notify message-tags multi-prefix batch"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP REQ :(.*)$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * ACK :$1"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP END$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 001 bot :Welcome bot\n"
					  ":irc.test.local 005 bot CASEMAPPING=rfc1459 CHANTYPES=# PREFIX=(ov)@+ "
					  ":are supported by this server\n"
					  ":irc.test.local 376 bot :End of MOTD command"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^JOIN #c", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, "@time=2024-01-02T03:04:00.000Z :bot!botuser@bot.host JOIN #c * :the bot\n"
					  ":irc.test.local 353 bot = #c :bot @alice\n"
					  ":irc.test.local 366 bot #c :End of /NAMES list."), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #c :ready$", 10000), 0);
	ck_assert_int_eq(test_fake_send(f, "@account=alice;time=2024-01-02T03:04:05.678Z;msgid=m1 "
					  ":alice!a@alice.host PRIVMSG #c :hello tagged"), 0);
	ck_assert_int_eq(test_fake_send(f, ":bob!b@bob.host JOIN #c bobacct :Bob Real\n"
					  ":bob!b@bob.host PRIVMSG #c :from bob\n"
					  ":bob!b@bob.host ACCOUNT newacct\n"
					  ":bob!b@bob.host PRIVMSG #c :bob again\n"
					  "@time=2024-01-02T03:04:06Z :carol!c@carol.host PRIVMSG bot :private, no account"),
		  0);
	/* An owner by account (kept across a rename), and someone without. */
	ck_assert_int_eq(test_fake_send(f, "@account=alice :alice!a@alice.host PRIVMSG #c :!status"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #c :irc: connected to ", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":alice!a@alice.host NICK alice2\n"
					  ":alice2!a@alice.host PRIVMSG #c :!status"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #c :irc: connected to ", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":mallory!m@evil.host PRIVMSG #c :!status"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #c :.*only owners may use status$", 5000), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	snprintf(lines, sizeof lines, "server = 127.0.0.1:%d\nchannel = #c\n", test_fake_port(f));
	host_start(&e, "owner = account:alice\n", lines);
	ck_assert(wait_in_channel(e.c, "#c", 10000));
	bk_json_delete(irc_call(e.c, "say", "#c", "ready"));

	/* account-tag and server-time, the other tags as they came. */
	ev = wait_event(e.c, "message", "text", "hello tagged", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "from.nick")), "alice");
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "from.account")), "alice");
	ck_assert(num(ev, "time") == 1704164645678.0);
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "tags.msgid")), "m1");
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "tags.account")), "alice");
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "channel")), "#c");

	/* extended-join: on the join event, then remembered. */
	ev = wait_event(e.c, "join", "who.nick", "bob", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "who.account")), "bobacct");
	ev = wait_event(e.c, "message", "text", "from bob", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "from.account")), "bobacct");
	ck_assert(cJSON_IsNull(path_get(ev, "time")));
	/* account-notify. */
	ev = wait_event(e.c, "message", "text", "bob again", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(cJSON_GetStringValue(path_get(ev, "from.account")), "newacct");
	/* No account known; server-time without milliseconds. */
	ev = wait_event(e.c, "message", "text", "private, no account", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(cJSON_IsNull(path_get(ev, "from.account")));
	ck_assert(cJSON_IsTrue(path_get(ev, "private")));
	ck_assert(num(ev, "time") == 1704164646000.0);
	/* The owner by account was answered, the other refused, and the refusal logged. */
	ck_assert_msg(test_fake_done(f, 10000) == 0, "fake server: %s", test_fake_report(f));
	ck_assert(test_host_log_has(&e.host, "command status from mallory!m@evil.host: refused: owners only"));

	host_stop(&e);
	test_fake_stop(f);
	test_fake_free(f);
}
END_TEST

/* ---- filters on message events ---------------------------------------------------------- */

#define FILTERED_MAX 32

/* The texts one filtered registration received. */
struct filtered {
	char *texts[FILTERED_MAX];
	size_t n;
};

/* Record a filtered message's text. */
static void on_filtered(bk_conn *c, const bk_irc_event *ev, void *userdata)
{
	struct filtered *fd = userdata;
	const char *text = bk_irc_event_text(ev);

	if (fd->n < FILTERED_MAX)
		fd->texts[fd->n++] = strdup(text ? text : "");
}

/* Process c until fd received text (up to ms). */
static bool filtered_wait(bk_conn *c, struct filtered *fd, const char *text, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	for (;;) {
		for (size_t i = 0; i < fd->n; i++)
			if (strcmp(fd->texts[i], text) == 0)
				return true;
		if (now_ms() >= deadline)
			return false;
		struct pollfd p = { .fd = bk_conn_get_fd(c), .events = (short)bk_conn_get_events(c) };
		poll(&p, 1, 20);
		bk_conn_process(c);
	}
}

/* The texts fd received, joined with '|'. */
static const char *filtered_joined(const struct filtered *fd)
{
	static char buf[1024];

	buf[0] = '\0';
	for (size_t i = 0; i < fd->n; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "|" : "", fd->texts[i]);
	return buf;
}

/* Filters run in bothost: each registration gets exactly the messages its
 * filter takes, and host.clients and botctl clients list the filters. */
START_TEST(filters_wake_only_the_matching_registrations)
{
	struct test_fake *f = test_fake_new();
	struct host_env e;
	struct filtered seen_cmd = { 0 }, priv = { 0 }, from_bob = { 0 };
	bk_conn *c2;
	char lines[128];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_answer(f, "^PING :?(.*)$", ":irc.test.local PONG irc.test.local :$1"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP LS 302$", 10000), 0);
	ck_assert_int_eq(test_fake_expect(f, "^USER ", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * LS :multi-prefix"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP REQ :(.*)$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * ACK :$1"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP END$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 001 bot :Welcome bot\n"
					  ":irc.test.local 005 bot CASEMAPPING=rfc1459 CHANTYPES=# PREFIX=(ov)@+ "
					  ":are supported by this server\n"
					  ":irc.test.local 376 bot :End of MOTD command"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^JOIN #c", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":bot!botuser@bot.host JOIN #c\n"
					  ":irc.test.local 353 bot = #c :bot @alice\n"
					  ":irc.test.local 366 bot #c :End of /NAMES list."), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #c :ready$", 10000), 0);
	ck_assert_int_eq(test_fake_send(f, ":alice!a@alice.host PRIVMSG #c :hello all\n"
					  ":alice!a@alice.host PRIVMSG #C :!SEEN carol\n"
					  ":alice!a@alice.host PRIVMSG #c :!seenx no\n"
					  ":bob!b@bob.host PRIVMSG #other :!seen alice\n"
					  ":bob!b@bob.host PRIVMSG bot :!seen in private\n"
					  ":carol!c@carol.host PRIVMSG bot :hi bot\n"
					  ":alice!a@alice.host PRIVMSG #c :!seen END"), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	snprintf(lines, sizeof lines, "server = 127.0.0.1:%d\nchannel = #c\n", test_fake_port(f));
	host_start(&e, "", lines);
	ck_assert_int_eq(bk_conn_new_path(&c2, e.host.path, "filtered"), 0);
	ck_assert_int_eq(bk_irc_on_message_filtered(c2, &(bk_irc_filter){ .channel = "#c", .prefix = "!",
									   .command = "seen" },
						    on_filtered, &seen_cmd, NULL, NULL), 0);
	ck_assert_int_eq(bk_irc_on_message_filtered(c2, &(bk_irc_filter){ .where = BK_IRC_PRIVATE_ONLY },
						    on_filtered, &priv, NULL, NULL), 0);
	ck_assert_int_eq(bk_irc_on_message_filtered(c2, &(bk_irc_filter){ .nick = "*!*@bob.host" }, on_filtered,
						    &from_bob, NULL, NULL), 0);
	/* A bad filter is refused with the host's reason. */
	ck_assert_int_eq(bk_irc_on_message_filtered(c2, &(bk_irc_filter){ .command = "two words" }, on_filtered,
						    &priv, NULL, NULL), -EINVAL);
	ck_assert_msg(strstr(bk_error_message(bk_conn_last_error(c2)), "'command' must not hold spaces"), "%s",
		      bk_error_message(bk_conn_last_error(c2)));
	ck_assert_int_eq(bk_irc_on_filtered(c2, "join", &(bk_irc_filter){ .channel = "#c" }, on_filtered, &priv,
					    NULL, NULL), -EINVAL);

	/* Listed by host.clients and botctl clients. */
	cJSON *list = NULL;
	ck_assert_int_eq(bk_call_sync(e.c, "host", "clients", &list, ""), 0);
	const cJSON *cl, *filters = NULL;
	cJSON_ArrayForEach(cl, list)
		if (cJSON_GetStringValue(cJSON_GetObjectItem(cl, "name")) &&
		    !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cl, "name")), "filtered"))
			filters = cJSON_GetObjectItem(cl, "filters");
	char *text = cJSON_PrintUnformatted(filters);
	ck_assert_str_eq(text, "[{\"object\":\"irc\",\"event\":\"message\",\"filter\":{\"channel\":\"#c\","
			       "\"prefix\":\"!\",\"command\":\"seen\"}},{\"object\":\"irc\",\"event\":\"message\","
			       "\"filter\":{\"private\":true}},{\"object\":\"irc\",\"event\":\"message\","
			       "\"filter\":{\"nick\":\"*!*@bob.host\"}}]");
	cJSON_free(text);
	bk_json_delete(list);
	if (getenv("BOTCTL")) {
		char cmd[512], out[4096] = "";
		snprintf(cmd, sizeof cmd, "%s -s %s clients", getenv("BOTCTL"), e.host.path);
		FILE *p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		size_t n = fread(out, 1, sizeof out - 1, p);
		out[n] = '\0';
		pclose(p);
		ck_assert_msg(strstr(out, "\n  filter irc.message {\"channel\":\"#c\",\"prefix\":\"!\",\"command\":\"seen\"}\n"),
			      "botctl clients: %s", out);
	}

	ck_assert(wait_in_channel(e.c, "#c", 10000));
	bk_json_delete(irc_call(e.c, "say", "#c", "ready"));
	ck_assert(filtered_wait(c2, &seen_cmd, "!seen END", WAIT_MS));
	ck_assert_str_eq(filtered_joined(&seen_cmd), "!SEEN carol|!seen END");
	ck_assert_str_eq(filtered_joined(&priv), "!seen in private|hi bot");
	ck_assert_str_eq(filtered_joined(&from_bob), "!seen alice|!seen in private");
	/* The unfiltered registration got every line. */
	ck_assert_ptr_nonnull(wait_event(e.c, "message", "text", "!seen END", WAIT_MS));
	int messages = 0;
	for (size_t i = 0; i < nevents; i++)
		messages += strcmp(events[i].name, "message") == 0;
	ck_assert_int_eq(messages, 7);
	ck_assert_msg(test_fake_done(f, 10000) == 0, "fake server: %s", test_fake_report(f));

	/* Removed with its registration: off with the same filter. */
	ck_assert_int_eq(bk_irc_off_filtered(c2, "message", &(bk_irc_filter){ .where = BK_IRC_PRIVATE_ONLY },
					     on_filtered, &priv), 1);
	cJSON *count = NULL;
	ck_assert_int_eq(bk_call_sync(c2, "irc", "listenerCount", &count, "s", "message"), 0);
	ck_assert(cJSON_IsNumber(count) && count->valuedouble == 2.0);
	bk_json_delete(count);
	bk_conn_unref(c2);
	for (struct filtered *fd = &seen_cmd; fd; fd = fd == &seen_cmd ? &priv : fd == &priv ? &from_bob : NULL)
		for (size_t i = 0; i < fd->n; i++)
			free(fd->texts[i]);
	host_stop(&e);
	test_fake_stop(f);
	test_fake_free(f);
}
END_TEST

/* ---- text that is not UTF-8, raw lines, refusals ------------------------------------------ */

#define LINES_MAX 256

/* The `line` events, as "in LINE" or "out LINE". */
static char *lines_seen[LINES_MAX];
static size_t nlines_seen;

/* Record a `line` event. */
static void on_line_event(bk_conn *c, bk_args *a, void *userdata)
{
	const cJSON *ev = bk_args_get(a, 0);
	const char *line = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "line"));
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "direction"));
	char *s = NULL;

	if (line && dir && nlines_seen < LINES_MAX && asprintf(&s, "%s %s", dir, line) >= 0)
		lines_seen[nlines_seen++] = s;
}

/* Forget the recorded lines. */
static void lines_clear(void)
{
	for (size_t i = 0; i < nlines_seen; i++)
		free(lines_seen[i]);
	nlines_seen = 0;
}

/* The index of the first recorded line containing needle from index from on, or -1. */
static long lines_find(const char *needle, size_t from)
{
	for (size_t i = from; i < nlines_seen; i++)
		if (strstr(lines_seen[i], needle))
			return (long)i;
	return -1;
}

/* Lines of the host's log containing needle. */
static int log_count(const struct host_env *e, const char *needle)
{
	FILE *f = fopen(e->host.log, "r");
	char buf[2048];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(buf, sizeof buf, f))
		n += strstr(buf, needle) != NULL;
	fclose(f);
	return n;
}

/* Process the client until the host's log has needle (up to ms). */
static bool host_log_wait(struct host_env *e, const char *needle, int ms)
{
	uint64_t deadline = now_ms() + (uint64_t)ms;

	while (!test_host_log_has(&e->host, needle)) {
		if (now_ms() >= deadline)
			return false;
		struct pollfd p = { .fd = bk_conn_get_fd(e->c), .events = (short)bk_conn_get_events(e->c) };
		poll(&p, 1, 20);
		bk_conn_process(e->c);
	}
	return true;
}

START_TEST(text_not_utf8_is_decoded_and_can_be_sent_back)
{
	static const char said[] = ":alice!a@alice.host PRIVMSG bot :look \xff\xfe\x80 here\r\n";
	struct test_fake *f = test_fake_new();
	struct host_env e;
	char lines[128];
	const cJSON *ev;
	cJSON *args, *st = NULL;
	char echo[64];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG alice :ready$", 10000), 0);
	ck_assert_int_eq(test_fake_send_raw(f, said, strlen(said)), 0);
	/* cp1252: U+00FF U+00FE U+20AC, sent back as UTF-8. */
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG alice :echo: look \xc3\xbf\xc3\xbe\xe2\x82\xac here$",
					  10000), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	snprintf(lines, sizeof lines, "server = 127.0.0.1:%d\n", test_fake_port(f));
	host_start(&e, "", lines);
	ck_assert_int_eq(bk_on(e.c, "irc", "line", on_line_event, NULL, NULL, NULL), 0);
	ck_assert(wait_state(e.c, "connected", 10000));
	bk_json_delete(irc_call(e.c, "say", "alice", "ready"));

	ev = wait_event(e.c, "message", "from.nick", "alice", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "text")), "look \xc3\xbf\xc3\xbe\xe2\x82\xac here");
	/* The bytes as they came, in base64 ("look \xff\xfe\x80 here"). */
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "bytes")), "bG9vayD//oAgaGVyZQ==");
	/* Sent back as it came: the connection stays. */
	snprintf(echo, sizeof echo, "echo: %s", cJSON_GetStringValue(cJSON_GetObjectItem(ev, "text")));
	args = cJSON_CreateArray();
	cJSON_AddItemToArray(args, cJSON_CreateString("alice"));
	cJSON_AddItemToArray(args, cJSON_CreateString(echo));
	ck_assert_int_eq(bk_call_json_sync(e.c, "irc", "say", args, NULL), 0);
	cJSON_Delete(args);
	ck_assert_msg(test_fake_done(f, 10000) == 0, "fake server: %s", test_fake_report(f));
	st = irc_call(e.c, "getState", NULL, NULL);
	ck_assert_ptr_nonnull(st);
	bk_json_delete(st);
	/* The `line` event carries the bytes too; valid lines do not. */
	ck_assert(lines_find("in :alice!a@alice.host PRIVMSG bot :look \xc3\xbf", 0) >= 0);

	host_stop(&e);
	lines_clear();
	test_fake_stop(f);
	test_fake_free(f);
}
END_TEST

/* One registration with CAP and SASL PLAIN on the fake server. */
static void fake_cap_sasl(struct test_fake *f)
{
	ck_assert_int_eq(test_fake_expect(f, "^CAP LS 302$", 10000), 0);
	ck_assert_int_eq(test_fake_expect(f, "^USER ", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * LS :multi-prefix server-time sasl=PLAIN"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP REQ :(.*)$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local CAP * ACK :$1"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^AUTHENTICATE PLAIN$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, "AUTHENTICATE +"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^AUTHENTICATE [A-Za-z0-9+/=]+$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 900 bot bot!botuser@h acct :You are now logged in\n"
					  ":irc.test.local 903 bot :SASL authentication successful"), 0);
	ck_assert_int_eq(test_fake_expect(f, "^CAP END$", 5000), 0);
	ck_assert_int_eq(test_fake_send(f, ":irc.test.local 001 bot :Welcome bot\n"
					  ":irc.test.local 376 bot :End of MOTD command"), 0);
}

START_TEST(cap_and_authenticate_lines_reach_the_line_event)
{
	struct test_fake *f = test_fake_new();
	struct host_env e;
	char lines[256];
	cJSON *st;
	const cJSON *c;
	double since;
	long at;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_answer(f, "^PING :?(.*)$", ":irc.test.local PONG irc.test.local :$1"), 0);
	fake_cap_sasl(f);
	/* Once the client listens to `line`, a second connection. */
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG alice :again$", 10000), 0);
	ck_assert_int_eq(test_fake_close(f), 0);
	ck_assert_int_eq(test_fake_accept(f, 10000), 0);
	fake_cap_sasl(f);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG alice :done$", 10000), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	snprintf(lines, sizeof lines, "server = 127.0.0.1:%d\nsasl_user = acct\nsasl_password = hunter2\n",
		 test_fake_port(f));
	host_start(&e, "", lines);
	ck_assert_int_eq(bk_on(e.c, "irc", "line", on_line_event, NULL, NULL, NULL), 0);
	ck_assert(wait_state(e.c, "connected", 10000));
	bk_json_delete(irc_call(e.c, "say", "alice", "again"));
	/* The link logs the loss as it happens: connected again is the second registration. */
	ck_assert(host_log_wait(&e, "lost", 10000));
	ck_assert(wait_state(e.c, "connected", 10000));
	bk_json_delete(irc_call(e.c, "say", "alice", "done"));
	ck_assert_msg(test_fake_done(f, 10000) == 0, "fake server: %s", test_fake_report(f));

	/* Every line of the second registration, in order; no credentials. */
	at = lines_find("out CAP LS 302", 0);
	ck_assert_msg(at >= 0, "no CAP LS among %zu lines", nlines_seen);
	ck_assert((at = lines_find("in :irc.test.local CAP * LS :multi-prefix server-time sasl=PLAIN", (size_t)at)) >= 0);
	ck_assert((at = lines_find("out CAP REQ :", (size_t)at)) >= 0);
	ck_assert((at = lines_find("in :irc.test.local CAP * ACK :", (size_t)at)) >= 0);
	ck_assert((at = lines_find("out AUTHENTICATE PLAIN", (size_t)at)) >= 0);
	ck_assert((at = lines_find("in AUTHENTICATE +", (size_t)at)) >= 0);
	ck_assert((at = lines_find("out AUTHENTICATE ***", (size_t)at)) >= 0);
	ck_assert((at = lines_find("in :irc.test.local 903 bot", (size_t)at)) >= 0);
	ck_assert((at = lines_find("out CAP END", (size_t)at)) >= 0);
	ck_assert((at = lines_find("in :irc.test.local 001 bot", (size_t)at)) >= 0);
	ck_assert_int_lt(lines_find("YWNjdABhY2N0AGh1bnRlcjI", 0), 0);

	/* The capabilities: in getState, and in the log. */
	st = irc_call(e.c, "getState", NULL, NULL);
	ck_assert_ptr_nonnull(st);
	c = cJSON_GetObjectItem(st, "caps");
	ck_assert(cJSON_IsArray(c));
	ck_assert_int_eq(cJSON_GetArraySize(c), 3);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(c, 0)), "sasl");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(c, 1)), "multi-prefix");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(c, 2)), "server-time");
	since = num(st, "since");
	bk_json_delete(st);
	ck_assert(test_host_log_has(&e.host, "acknowledged the capabilities"));
	ck_assert(test_host_log_has(&e.host, "enabled now: sasl multi-prefix server-time"));

	/* since does not move while the state lasts. */
	for (int i = 0; i < 200; i++) {
		st = irc_call(e.c, "getState", NULL, NULL);
		ck_assert_ptr_nonnull(st);
		ck_assert_msg(num(st, "since") == since, "since moved from %.0f to %.0f", since, num(st, "since"));
		bk_json_delete(st);
		if (i % 20 == 0)
			usleep(1300);
	}
	/* The lost connection was logged once. */
	ck_assert_int_eq(log_count(&e, "lost"), 1);

	host_stop(&e);
	lines_clear();
	test_fake_stop(f);
	test_fake_free(f);
}
END_TEST

START_TEST(refusals_are_logged_and_reported)
{
	struct test_fake *f = test_fake_new();
	struct host_env e;
	char lines[128];
	const cJSON *ev;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(test_fake_answer(f, "^PRIVMSG (nosuch) :", ":irc.test.local 401 bot $1 :No such nick/channel"), 0);
	ck_assert_int_eq(test_fake_answer(f, "^PRIVMSG (#mod) :", ":irc.test.local 404 bot $1 :Cannot send to channel"),
			 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #mod :two$", 10000), 0);
	ck_assert_int_eq(test_fake_wait(f, 200), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	snprintf(lines, sizeof lines, "server = 127.0.0.1:%d\n", test_fake_port(f));
	host_start(&e, "", lines);
	ck_assert_int_eq(bk_on(e.c, "irc", "refused", on_event, "refused", NULL, NULL), 0);
	ck_assert(wait_state(e.c, "connected", 10000));
	bk_json_delete(irc_call(e.c, "say", "nosuch", "one"));
	bk_json_delete(irc_call(e.c, "say", "#mod", "two"));

	ev = wait_event(e.c, "refused", "target", "nosuch", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(num(ev, "code") == 401);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "command")), "PRIVMSG");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "text")), "No such nick/channel");
	ev = wait_event(e.c, "refused", "target", "#mod", WAIT_MS);
	ck_assert_ptr_nonnull(ev);
	ck_assert(num(ev, "code") == 404);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "command")), "PRIVMSG");
	ck_assert(host_log_wait(&e, "refused PRIVMSG nosuch: 401 No such nick/channel", WAIT_MS));
	ck_assert(host_log_wait(&e, "refused PRIVMSG #mod: 404 Cannot send to channel", WAIT_MS));

	host_stop(&e);
	test_fake_stop(f);
	test_fake_free(f);
}
END_TEST

/* The last error's name, data field key (a string) and numeric. */
static void check_refusal(bk_conn *c, const char *name, int numeric, const char *target, const char *command)
{
	const bk_error *err = bk_conn_last_error(c);
	const cJSON *data = bk_error_data(err);
	char code[8];

	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(bk_error_name(err), name);
	ck_assert_int_eq(bk_irc_error_numeric(err), numeric);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(data, "target")), target);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(data, "command")), command);
	ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(data, "text")));
	/* the message names the numeric and its text */
	snprintf(code, sizeof code, "%d", numeric);
	ck_assert_ptr_nonnull(strstr(bk_error_message(err), code));
	ck_assert_ptr_nonnull(strstr(bk_error_message(err), cJSON_GetStringValue(cJSON_GetObjectItem(data, "text"))));
}

START_TEST(refused_commands_fail_with_the_servers_error)
{
	static const char *const rules[][2] = {
		{ "^MODE (#chan) \\+o (alice)$", ":irc.test.local 482 bot $1 :You're not channel operator" },
		{ "^MODE (#chan) \\+v (alice)$", ":bot!botuser@127.0.0.1 MODE $1 +v $2" },
		{ "^MODE (#chan) \\+o (ghost)$", ":irc.test.local 401 bot $2 :No such nick or channel name" },
		{ "^KICK (#chan) (ghost)", ":irc.test.local 441 bot $2 $1 :They aren't on that channel" },
		{ "^KICK (#chan) (alice)", ":bot!botuser@127.0.0.1 KICK $1 $2 :bye" },
		{ "^TOPIC (#locked) :", ":irc.test.local 482 bot $1 :You're not channel operator" },
		{ "^INVITE (alice) (#away)$", ":irc.test.local 442 bot $2 :You're not on that channel" },
		{ "^INVITE (alice) (#chan)$", ":irc.test.local 341 bot $1 $2" },
		{ "^PART (#gone)", ":irc.test.local 442 bot $1 :You're not on that channel" },
		{ "^JOIN (#banned)", ":irc.test.local 474 bot $1 :Cannot join channel (+b)" },
	};
	struct test_fake *f = test_fake_new();
	struct host_env e;
	char lines[128];
	uint64_t t0, took;

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		ck_assert_int_eq(test_fake_answer(f, rules[i][0], rules[i][1]), 0);
	ck_assert_int_eq(test_fake_register(f), 0);
	/* then a server that answers nothing, not even PING; then one that drops */
	ck_assert_int_eq(test_fake_expect(f, "^PRIVMSG #x :quiet$", 30000), 0);
	ck_assert_int_eq(test_fake_answer_clear(f), 0);
	ck_assert_int_eq(test_fake_expect(f, "^MODE #chan \\+s$", 30000), 0);
	ck_assert_int_eq(test_fake_reset(f), 0);
	ck_assert_int_eq(test_fake_start(f, AF_INET), 0);

	snprintf(lines, sizeof lines, "server = 127.0.0.1:%d\nrefusal_wait = 1s\n", test_fake_port(f));
	host_start(&e, "", lines);
	ck_assert(wait_state(e.c, "connected", 10000));

	/* refused: the server's numeric, its text and what it refused */
	ck_assert_int_eq(bk_irc_mode(e.c, "#chan", "+o", "alice", NULL), -EIO);
	check_refusal(e.c, "ServerRefused", 482, "#chan", "MODE");
	ck_assert_int_eq(bk_irc_mode(e.c, "#chan", "+o", "ghost", NULL), -EIO);
	check_refusal(e.c, "ServerRefused", 401, "#chan", "MODE");
	ck_assert_int_eq(bk_irc_kick(e.c, "#chan", "ghost", "out"), -EIO);
	check_refusal(e.c, "ServerRefused", 441, "#chan", "KICK");
	ck_assert_int_eq(bk_irc_topic_set(e.c, "#locked", "new topic"), -EIO);
	check_refusal(e.c, "ServerRefused", 482, "#locked", "TOPIC");
	ck_assert_int_eq(bk_irc_invite(e.c, "alice", "#away"), -EIO);
	check_refusal(e.c, "ServerRefused", 442, "#away", "INVITE");
	ck_assert_int_eq(bk_irc_part(e.c, "#gone", NULL), -EIO);
	check_refusal(e.c, "ServerRefused", 442, "#gone", "PART");
	ck_assert_int_eq(bk_irc_join(e.c, "#banned", NULL), -EIO);
	check_refusal(e.c, "ServerRefused", 474, "#banned", "JOIN");

	/* permitted: confirmed by the echo, by 341, or by the PONG after it */
	t0 = now_ms();
	ck_assert_int_eq(bk_irc_mode(e.c, "#chan", "+v", "alice", NULL), 0);
	ck_assert_int_eq(bk_irc_kick(e.c, "#chan", "alice", "bye"), 0);
	ck_assert_int_eq(bk_irc_invite(e.c, "alice", "#chan"), 0);
	ck_assert_int_eq(bk_irc_mode(e.c, "#chan", "+n", NULL), 0);
	ck_assert_int_eq(bk_irc_topic_set(e.c, "#chan", "fine"), 0);
	/* none of them waited for refusal_wait */
	ck_assert_uint_lt(now_ms() - t0, 1000);

	/* a server that never answers: success once refusal_wait has passed */
	ck_assert_int_eq(bk_irc_say(e.c, "#x", "quiet"), 0);
	t0 = now_ms();
	ck_assert_int_eq(bk_irc_mode(e.c, "#chan", "+m", NULL), 0);
	took = now_ms() - t0;
	ck_assert_msg(took >= 900 && took < 1000 + WAIT_MS, "mode +m took %llu ms", (unsigned long long)took);

	/* the connection ends before the answer: NotConnected, not a hang */
	t0 = now_ms();
	ck_assert_int_eq(bk_irc_mode(e.c, "#chan", "+s", NULL), -EIO);
	ck_assert_str_eq(bk_error_name(bk_conn_last_error(e.c)), "NotConnected");
	ck_assert_uint_lt(now_ms() - t0, 900);
	ck_assert_int_eq(test_fake_done(f, WAIT_MS), 0);

	host_stop(&e);
	test_fake_stop(f);
	test_fake_free(f);
}
END_TEST

START_TEST(bothost_configured_for_tls)
{
	struct test_irc_user u;
	struct test_ircd d;
	struct host_env e;
	char lines[512], fp[100], server[64];
	cJSON *st;

	ircd_tls_start(&d, false, NULL);
	ck_assert_int_eq(test_irc_user_connect(&u, d.port, "alice"), 0);
	/* ircs:// and the test's CA file. */
	snprintf(lines, sizeof lines, "server = ircs://localhost:%d\ntls_ca_file = %s\n", d.tls_port, d.cert);
	host_start(&e, "", lines);
	ck_assert(wait_state(e.c, "connected", 10000));
	st = irc_call(e.c, "getState", NULL, NULL);
	ck_assert_ptr_nonnull(st);
	snprintf(server, sizeof server, "localhost:%d", d.tls_port);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(st, "server")), server);
	bk_json_delete(st);
	bk_json_delete(irc_call(e.c, "say", "alice", "hello over TLS"));
	ck_assert_int_eq(test_irc_user_expect(&u, "^:bot![^ ]+ PRIVMSG alice :hello over TLS$", WAIT_MS, NULL), 0);
	host_stop(&e);

	/* tls = yes for a server without a scheme, pinned. */
	cert_fingerprint(d.cert, true, fp, sizeof fp);
	snprintf(lines, sizeof lines, "server = 127.0.0.1:%d\ntls = yes\ntls_fingerprint = %s\n", d.tls_port, fp);
	host_start(&e, "", lines);
	ck_assert(wait_state(e.c, "connected", 10000));
	host_stop(&e);
	test_irc_user_close(&u);
	test_ircd_stop(&d);
}
END_TEST

/* ---- the configuration keys ------------------------------------------------------------- */

/* Load a configuration file with text in a fresh directory (which also
 * holds ca.pem): 0 or the error, whose message goes to error (size n). */
static int conf_try(struct conf *cfg, const char *text, char *error, size_t n, char *dir, size_t dn)
{
	char path[128], *err = NULL;
	FILE *f;
	int r;

	snprintf(dir, dn, "/tmp/test-tls-conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not really a certificate\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/bothost.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	r = conf_load(cfg, path, &err);
	snprintf(error, n, "%s", err ? err : "");
	free(err);
	unlink(path);
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	unlink(path);
	rmdir(dir);
	return r;
}

/* The error of a configuration that must be refused. */
static const char *conf_refused(const char *text)
{
	static char error[512];
	char dir[64];
	struct conf cfg;

	ck_assert_int_eq(conf_try(&cfg, text, error, sizeof error, dir, sizeof dir), -EINVAL);
	return strstr(error, ".conf:") ? strstr(error, ".conf:") + 6 : error;
}

/* Receives the changes conf_compare reports. */
static void conf_change(const char *change, void *userdata)
{
	char *all = userdata;

	strncat(all, change, 1023 - strlen(all));
	strncat(all, "\n", 1023 - strlen(all));
}

START_TEST(conf_tls_and_sasl_keys)
{
	static const char pin[] = "F8:AF:58:06:96:F3:30:B1:5B:DD:90:97:4D:5C:97:5F:"
				  "9B:01:0C:29:10:A6:11:4C:C3:C1:05:A3:1F:A9:EC:11";
	struct conf a, b;
	char error[512], dir[64], text[1024], ca[128], changes[1024] = "";

	snprintf(text, sizeof text, "[irc]\nnick = bot\nserver = ircs://irc.example.org\n"
		 "server = irc://plain.example.org\nserver = other.example.org:7000\nserver = [::1]\n"
		 "tls = yes\ntls_ca_file = ca.pem\ntls_fingerprint = %s\nsasl_user = alice\n"
		 "sasl_password = open sesame\ncap_timeout = 2s\n", pin);
	ck_assert_msg(conf_try(&a, text, error, sizeof error, dir, sizeof dir) == 0, "%s", error);
	ck_assert_uint_eq(a.irc.n_servers, 4);
	ck_assert(a.irc.servers[0].tls);
	ck_assert_str_eq(a.irc.servers[0].port, "6697");
	ck_assert(!a.irc.servers[1].tls);
	ck_assert_str_eq(a.irc.servers[1].port, "6667");
	/* tls = yes: the servers without a scheme, wherever it is written. */
	ck_assert(a.irc.servers[2].tls);
	ck_assert_str_eq(a.irc.servers[2].port, "7000");
	ck_assert(a.irc.servers[3].tls);
	ck_assert_str_eq(a.irc.servers[3].host, "::1");
	ck_assert_str_eq(a.irc.servers[3].port, "6697");
	/* A relative file is resolved against the file's directory. */
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	ck_assert_str_eq(a.irc.tls_ca_file, ca);
	ck_assert_str_eq(a.irc.tls_fingerprint, pin);
	/* sasl_user alone means PLAIN; required by default. */
	ck_assert_int_eq(a.irc.sasl_mechanism, CONF_SASL_PLAIN);
	ck_assert(a.irc.sasl_required);
	ck_assert_str_eq(a.irc.sasl_password, "open sesame");
	ck_assert_uint_eq(a.irc.cap_timeout_ms, 2000);
	ck_assert_uint_eq(a.irc.sasl_timeout_ms, 15000);
	ck_assert(!a.irc.tls_insecure);

	/* The password never shows in a reload's changes. */
	ck_assert_int_eq(conf_try(&b, "[irc]\nnick = bot\nserver = ircs://irc.example.org\n"
				  "sasl_mechanism = plain\nsasl_user = alice\nsasl_password = other\n"
				  "sasl_required = no\n", error, sizeof error, dir, sizeof dir), 0);
	ck_assert_int_gt(conf_compare(&a, &b, conf_change, changes), 0);
	ck_assert_ptr_nonnull(strstr(changes, "[irc] sasl_password changed\n"));
	ck_assert_ptr_nonnull(strstr(changes, "[irc] sasl_required: yes -> no\n"));
	ck_assert_ptr_nonnull(strstr(changes, "ircs://irc.example.org:6697, plain.example.org:6667, "
					      "ircs://other.example.org:7000, ircs://[::1]:6697 -> "));
	ck_assert_ptr_null(strstr(changes, "sesame"));
	conf_clear(&a);
	conf_clear(&b);
}
END_TEST

START_TEST(conf_encoding_fallback)
{
	struct conf a, b;
	char error[512], dir[64], changes[1024] = "";

	ck_assert_msg(conf_try(&a, "[irc]\nnick = bot\nserver = irc.example.org\n", error, sizeof error, dir,
			       sizeof dir) == 0, "%s", error);
	ck_assert_int_eq(a.irc.encoding_fallback, CONF_ENCODING_CP1252);
	ck_assert_msg(conf_try(&b, "[irc]\nnick = bot\nserver = irc.example.org\nencoding_fallback = Latin1\n",
			       error, sizeof error, dir, sizeof dir) == 0, "%s", error);
	ck_assert_int_eq(b.irc.encoding_fallback, CONF_ENCODING_LATIN1);
	ck_assert_int_gt(conf_compare(&a, &b, conf_change, changes), 0);
	ck_assert_ptr_nonnull(strstr(changes, "[irc] encoding_fallback: cp1252 -> latin1\n"));
	conf_clear(&a);
	conf_clear(&b);
	ck_assert_msg(conf_try(&a, "[irc]\nnick = bot\nserver = irc.example.org\nencoding_fallback = none\n",
			       error, sizeof error, dir, sizeof dir) == 0, "%s", error);
	ck_assert_int_eq(a.irc.encoding_fallback, CONF_ENCODING_NONE);
	conf_clear(&a);
	ck_assert_str_eq(conf_refused("[irc]\nencoding_fallback = utf-16\n"),
			 "2: invalid encoding_fallback 'utf-16': expected cp1252, latin1 or none");
}
END_TEST

START_TEST(conf_tls_and_sasl_refused)
{
	ck_assert_str_eq(conf_refused("[irc]\nsasl_mechanism = external\n"),
			 "2: SASL EXTERNAL needs a client certificate (tls_cert) on a TLS connection");
	ck_assert_str_eq(conf_refused("[irc]\nsasl_mechanism = plain\nsasl_user = a\n"),
			 "3: SASL PLAIN needs both sasl_user and sasl_password");
	ck_assert_str_eq(conf_refused("[irc]\nsasl_mechanism = none\nsasl_password = x\n"),
			 "3: sasl_user or sasl_password is set but sasl_mechanism is none");
	ck_assert_str_eq(conf_refused("[irc]\nsasl_mechanism = scram\n"),
			 "2: invalid sasl_mechanism 'scram': expected none, plain or external");
	ck_assert_ptr_nonnull(strstr(conf_refused("[irc]\ntls_fingerprint = 12:34\n"),
				     "2: invalid tls_fingerprint '12:34': expected a SHA-256 fingerprint"));
	ck_assert_str_eq(conf_refused("[irc]\ntls_insecure = yes\ntls_fingerprint = "
				      "f8af580696f330b15bdd90974d5c975f9b010c2910a6114cc3c105a31fa9ec11\n"),
			 "3: tls_insecure and tls_fingerprint both set: a pinned certificate is checked, an "
			 "insecure one is not (give one of them)");
	ck_assert_str_eq(conf_refused("[irc]\ntls_key = ca.pem\n"),
			 "2: tls_key is set but tls_cert is not (the key belongs to a client certificate)");
	ck_assert_ptr_nonnull(strstr(conf_refused("[irc]\ntls_ca_file = /nonexistent/ca.pem\n"),
				     "2: invalid tls_ca_file '/nonexistent/ca.pem': /nonexistent/ca.pem: No such file"));
	ck_assert_ptr_nonnull(strstr(conf_refused("[irc]\nserver = ircs://\n"), "2: invalid server"));
	ck_assert_str_eq(conf_refused("[irc]\nsasl_timeout = 10ms\n"),
			 "2: sasl_timeout 10ms is out of range (100ms to 1h)");
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *t = tcase_create("link");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, tls_verified_against_the_ca_file);
	tcase_add_test(t, tls_wrong_name_or_unknown_ca_refused);
	tcase_add_test(t, tls_pinned_by_fingerprint);
	tcase_add_test(t, tls_insecure_accepts_anything_loudly);
	tcase_add_test(t, tls_client_certificate);
	suite_add_tcase(s, t);

	t = tcase_create("conf");
	tcase_add_test(t, conf_tls_and_sasl_keys);
	tcase_add_test(t, conf_tls_and_sasl_refused);
	tcase_add_test(t, conf_encoding_fallback);
	suite_add_tcase(s, t);

	t = tcase_create("bothost");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, tags_and_accounts_reach_the_message_handler);
	tcase_add_test(t, filters_wake_only_the_matching_registrations);
	tcase_add_test(t, text_not_utf8_is_decoded_and_can_be_sent_back);
	tcase_add_test(t, cap_and_authenticate_lines_reach_the_line_event);
	tcase_add_test(t, refusals_are_logged_and_reported);
	tcase_add_test(t, refused_commands_fail_with_the_servers_error);
	tcase_add_test(t, bothost_configured_for_tls);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tls_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
