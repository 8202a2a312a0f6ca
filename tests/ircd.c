/* SPDX-License-Identifier: ISC */
/* IRC test infrastructure: a private ngircd, a scripted IRC user and a
 * scripted fake IRC server (see ircd.h). */
#include "config.h"

#include "ircd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire/buf.h"
#include "slowdown.h"

#define NGIRCD_DEFAULT_BIN "/usr/sbin/ngircd"
#define IRCD_START_DEADLINE_MS 10000
#define IRCD_STOP_DEADLINE_MS 5000
#define IRCD_START_ATTEMPTS 3
#define IRCD_REBIND_MS 1000	/* a restart retries binding the same port this long */
#define USER_DEADLINE_MS 5000
#define LINE_MAX_BYTES (1u << 20)	/* longest line either side keeps whole */
#define READ_CHUNK 65536
#define WRITE_DEADLINE_MS 10000
#define FAKE_ACCEPT_MS 10000
#define FAKE_REGISTER_MS 10000
#define FAKE_SHARED_SIZE (16u << 20)
#define FAKE_GROUPS 10
#define LIVE_MAX 16
#define OPENSSL_DEADLINE_MS 10000

/* ---- time, processes, files ------------------------------------------------- */

/* Milliseconds on the monotonic clock. */
static uint64_t ircd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep a few milliseconds between two polls of a condition. */
static void ircd_pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Milliseconds left until deadline as a poll() timeout (-1: no deadline). */
static int ircd_poll_timeout(uint64_t deadline)
{
	uint64_t now = ircd_now_ms();

	if (deadline == UINT64_MAX)
		return -1;
	if (deadline <= now)
		return 0;
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* Wait for a child to exit until deadline; true once it is gone. A child
 * reaped elsewhere (libev's default loop reaps every child) counts as gone
 * once kill() no longer finds it. */
static bool proc_reap(pid_t pid, uint64_t deadline, int *ret_status)
{
	for (;;) {
		pid_t p = waitpid(pid, ret_status, WNOHANG);
		if (p == pid)
			return true;
		if (p < 0 && errno == ECHILD && kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		if (ircd_now_ms() >= deadline)
			return false;
		ircd_pause_ms(2);
	}
}

/* SIGTERM, wait until deadline_ms passed, then SIGKILL; the wait status or -1. */
static int proc_stop(pid_t pid, int deadline_ms)
{
	int status = -1;

	kill(pid, SIGTERM);
	if (proc_reap(pid, ircd_now_ms() + deadline_ms, &status))
		return status;
	kill(pid, SIGKILL);
	proc_reap(pid, UINT64_MAX, &status);
	return status;
}

/* In a fresh child: die with the parent, default signal dispositions, no
 * inherited descriptors above keep_max. */
static void proc_child_setup(pid_t parent, int keep_max)
{
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (close_range(keep_max + 1, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long fd = keep_max + 1; fd < max; fd++)
			close((int)fd);
	}
}

/* Remove a directory and the files in it. */
static void ircd_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Append printf-style output with a va_list to b. 0, -EINVAL or -ENOMEM. */
static int ircd_buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -EINVAL;
	if (buf_reserve(b, (size_t)n + 1) < 0)
		return -ENOMEM;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

/* ---- servers left running at exit ------------------------------------------- */

/* Copies, not pointers: a test that fails without forking leaves the frame
 * holding its struct test_ircd, and the exit hook must not read it. */
struct live_entry {
	const void *owner;	/* the struct test_ircd or test_fake; NULL: free */
	pid_t pid;		/* 0: not running */
	char dir[256];		/* to remove, or "" */
};

static struct live_entry live[LIVE_MAX];
static pid_t live_owner;

/* Stop the servers and remove the directories a test left behind. */
static void live_atexit(void)
{
	if (getpid() != live_owner)
		return;
	for (size_t i = 0; i < LIVE_MAX; i++) {
		if (!live[i].owner)
			continue;
		if (live[i].pid > 0)
			proc_stop(live[i].pid, IRCD_STOP_DEADLINE_MS);
		if (live[i].dir[0])
			ircd_remove_dir(live[i].dir);
		live[i].owner = NULL;
	}
}

/* Remember what owner runs (pid) and keeps (dir) for the exit hook; forget
 * owner when both are empty. */
static void live_set(const void *owner, pid_t pid, const char *dir)
{
	struct live_entry *e = NULL;

	if (live_owner != getpid()) {
		/* A forked test process inherits the table but not the servers. */
		memset(live, 0, sizeof live);
		if (!live_owner)
			atexit(live_atexit);
		live_owner = getpid();
	}
	for (size_t i = 0; i < LIVE_MAX && !e; i++)
		if (live[i].owner == owner)
			e = &live[i];
	for (size_t i = 0; i < LIVE_MAX && !e; i++)
		if (!live[i].owner)
			e = &live[i];
	if (!e)
		return;
	e->owner = pid > 0 || (dir && dir[0]) ? owner : NULL;
	e->pid = pid;
	snprintf(e->dir, sizeof e->dir, "%s", dir ? dir : "");
}

/* ---- sockets ------------------------------------------------------------------ */

/* The loopback address of family with port, in *ss; its length. */
static socklen_t sock_loopback(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons((uint16_t)port);
		return sizeof *s6;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s4->sin_port = htons((uint16_t)port);
	return sizeof *s4;
}

/* A TCP socket bound to the loopback address of family on a free port,
 * listening when listen_too; the fd (port in *ret_port) or -errno. */
static int sock_bind_free(int family, bool listen_too, int *ret_port)
{
	struct sockaddr_storage ss;
	socklen_t len = sock_loopback(family, 0, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (listen_too && listen(fd, 16) < 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (family == AF_INET6)
		*ret_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*ret_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A connected TCP socket to the loopback address of family on port, or -errno. */
static int sock_connect_from(int family, int port, const char *from)
{
	struct sockaddr_storage ss;
	socklen_t len = sock_loopback(family, port, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
	struct sockaddr_in src = { .sin_family = AF_INET };

	if (fd < 0)
		return -errno;
	if (from && (family != AF_INET || inet_pton(AF_INET, from, &src.sin_addr) != 1)) {
		close(fd);
		return -EINVAL;
	}
	if ((from && bind(fd, (struct sockaddr *)&src, sizeof src) < 0) ||
	    connect(fd, (struct sockaddr *)&ss, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Connect to the loopback port. */
static int sock_connect(int family, int port)
{
	return sock_connect_from(family, port, NULL);
}

/* Write all of p to a socket, waiting for room until the deadline. 0 or -errno. */
static int sock_write_all(int fd, const char *p, size_t n)
{
	uint64_t deadline = ircd_now_ms() + WRITE_DEADLINE_MS;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (poll(&pfd, 1, ircd_poll_timeout(deadline)) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

/* The command of an IRC line, past its tags and prefix if any. */
static const char *irc_line_command(const char *line)
{
	for (int part = 0; part < 2; part++) {
		if (*line != (part == 0 ? '@' : ':'))
			continue;
		const char *sp = strchr(line, ' ');
		if (!sp)
			return "";
		for (line = sp; *line == ' '; line++)
			;
	}
	return line;
}

/* ---- certificates -------------------------------------------------------------- */

/* Run argv (argv[0] found in PATH) with no input or output and wait for it
 * (deadline OPENSSL_DEADLINE_MS). 0 when it succeeded, -ECHILD when it
 * failed, -ETIMEDOUT, or another -errno. A child reaped elsewhere (by
 * libev) counts as succeeded: the caller checks what it made. */
static int ircd_run(char *const argv[])
{
	pid_t parent = getpid(), pid;
	int status = 0;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
			_exit(126);
		proc_child_setup(parent, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (!proc_reap(pid, ircd_now_ms() + OPENSSL_DEADLINE_MS, &status)) {
		kill(pid, SIGKILL);
		proc_reap(pid, UINT64_MAX, &status);
		return -ETIMEDOUT;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* Whether path is a non-empty file. */
static bool ircd_file_made(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* The openssl program. */
static const char *ircd_openssl(void)
{
	const char *bin = getenv("OPENSSL");

	return bin && *bin ? bin : "openssl";
}

/* A self-signed certificate and its key, made by openssl req. */
int test_tls_make_cert(const char *cert, const char *key, const char *cn, const char *san)
{
	char subj[300], ext[600];
	char *argv[24];
	int n = 0, r;

	snprintf(subj, sizeof subj, "/CN=%s", cn);
	snprintf(ext, sizeof ext, "subjectAltName=%s", san ? san : "");
	unlink(cert);
	unlink(key);
	argv[n++] = (char *)ircd_openssl();
	argv[n++] = "req";
	argv[n++] = "-x509";
	argv[n++] = "-newkey";
	argv[n++] = "ec";
	argv[n++] = "-pkeyopt";
	argv[n++] = "ec_paramgen_curve:prime256v1";
	argv[n++] = "-nodes";
	argv[n++] = "-days";
	argv[n++] = "2";
	argv[n++] = "-subj";
	argv[n++] = subj;
	if (san) {
		argv[n++] = "-addext";
		argv[n++] = ext;
	}
	argv[n++] = "-keyout";
	argv[n++] = (char *)key;
	argv[n++] = "-out";
	argv[n++] = (char *)cert;
	argv[n] = NULL;
	r = ircd_run(argv);
	if (r == 0 && (!ircd_file_made(cert) || !ircd_file_made(key)))
		r = -ECHILD;
	if (r == 0 && chmod(cert, 0644) < 0)
		r = -errno;
	return r;
}

/* Diffie-Hellman parameters for ngircd (RFC 7919 ffdhe2048: nothing to
 * compute; without them ngircd spends a second or more making its own). */
static int ircd_make_dh(const char *path)
{
	char *argv[] = { (char *)ircd_openssl(), "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
			 "group:ffdhe2048", "-out", (char *)path, NULL };
	int r = ircd_run(argv);

	return r == 0 && !ircd_file_made(path) ? -ECHILD : r;
}

/* ---- ngircd ------------------------------------------------------------------ */

/* The ids ngircd runs as: ours, or nobody's when we are root (ngircd refuses
 * to keep uid 0 and would switch to nobody by itself). */
static void ircd_server_ids(uid_t *ret_uid, gid_t *ret_gid)
{
	const struct passwd *pw;

	*ret_uid = getuid();
	*ret_gid = getgid();
	if (*ret_uid != 0)
		return;
	pw = getpwnam("nobody");
	*ret_uid = pw ? pw->pw_uid : 65534;
	*ret_gid = pw ? pw->pw_gid : 65534;
}

/* Write ngircd.conf for d->port and d->opts. 0 or -errno. */
static int ircd_write_conf(const struct test_ircd *d, uid_t uid, gid_t gid)
{
	FILE *f = fopen(d->conf, "w");
	int ping = d->opts.ping_timeout > 0 ? d->opts.ping_timeout : 120;
	int pong = d->opts.pong_timeout > 0 ? d->opts.pong_timeout : 20;

	if (!f)
		return -errno;
	fprintf(f, "[Global]\n\tName = irc.test.local\n\tInfo = bothost test server\n"
		"\tAdminInfo1 = bothost tests\n\tAdminInfo2 = loopback\n"
		"\tAdminEMail = root@localhost\n\tListen = 127.0.0.1%s\n\tPorts = %d\n"
		"\tServerUID = %lu\n\tServerGID = %lu\n"
		"\tPidFile = %s/ngircd.pid\n\tMotdFile = %s/ngircd.motd\n",
		d->opts.ipv6 ? ",::1" : "", d->port, (unsigned long)uid, (unsigned long)gid, d->dir, d->dir);
	fprintf(f, "[Limits]\n\tMaxConnectionsIP = 0\n\tMaxJoins = 0\n"
		"\tMaxNickLength = 30\n\tPingTimeout = %d\n\tPongTimeout = %d\n",
		ping, pong);
	if (!d->opts.penalties)
		fprintf(f, "\tMaxPenaltyTime = 0\n");
	fprintf(f, "[Options]\n\tPAM = no\n\tDNS = no\n\tIdent = no\n");
	if (d->opts.tls)
		fprintf(f, "[SSL]\n\tCertFile = %s\n\tKeyFile = %s\n\tDHFile = %s/dh.pem\n\tPorts = %d\n",
			d->cert, d->key, d->dir, d->tls_port);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

/* Write the MOTD file. 0 or -errno. */
static int ircd_write_motd(const struct test_ircd *d)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/ngircd.motd", d->dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "bothost test server on loopback.\n");
	return fclose(f) == 0 ? 0 : -errno;
}

/* The TLS port, certificate, key and DH parameters, readable by the user
 * ngircd runs as. 0 or -errno. */
static int ircd_prepare_tls(struct test_ircd *d, uid_t uid, gid_t gid)
{
	char dh[PATH_MAX];
	int fd = sock_bind_free(AF_INET, false, &d->tls_port), r;

	if (fd < 0)
		return fd;
	close(fd);
	snprintf(d->cert, sizeof d->cert, "%s/cert.pem", d->dir);
	snprintf(d->key, sizeof d->key, "%s/key.pem", d->dir);
	snprintf(dh, sizeof dh, "%s/dh.pem", d->dir);
	r = test_tls_make_cert(d->cert, d->key, "irc.test.local",
			       d->opts.tls_names ? d->opts.tls_names : "DNS:localhost,IP:::1");
	if (r == 0)
		r = ircd_make_dh(dh);
	if (r == 0 && getuid() == 0 && (chown(d->key, uid, gid) < 0 || chown(dh, uid, gid) < 0))
		r = -errno;
	return r;
}

/* A fresh 0700 directory with config and MOTD for a new free port, owned by
 * the user ngircd runs as. 0 or -errno. */
static int ircd_prepare(struct test_ircd *d)
{
	const char *tmp = getenv("TMPDIR");
	uid_t uid;
	gid_t gid;
	int fd, r;

	snprintf(d->dir, sizeof d->dir, "%s/ircd-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->dir)) {
		d->dir[0] = '\0';
		return -errno;
	}
	snprintf(d->conf, sizeof d->conf, "%s/ngircd.conf", d->dir);
	snprintf(d->log, sizeof d->log, "%s/ngircd.log", d->dir);
	fd = sock_bind_free(AF_INET, false, &d->port);
	if (fd < 0)
		return fd;
	close(fd);
	ircd_server_ids(&uid, &gid);
	r = d->opts.tls ? ircd_prepare_tls(d, uid, gid) : 0;
	if (r == 0)
		r = ircd_write_conf(d, uid, gid);
	if (r == 0)
		r = ircd_write_motd(d);
	/* The PID file is written after ngircd changed its user. */
	if (r == 0 && getuid() == 0 && chown(d->dir, uid, gid) < 0)
		r = -errno;
	return r;
}

/* In the child: output to the log, then exec `ngircd -n -f CONF`. */
static void ircd_exec(const struct test_ircd *d, pid_t parent)
{
	const char *bin = getenv("NGIRCD");
	int out = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (!bin || !*bin)
		bin = NGIRCD_DEFAULT_BIN;
	if (out < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	proc_child_setup(parent, 2);
	execl(bin, bin, "-n", "-f", d->conf, (char *)NULL);
	dprintf(2, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* The size of ngircd's log (it grows across restarts). */
static off_t ircd_log_size(const struct test_ircd *d)
{
	struct stat st;

	return stat(d->log, &st) == 0 ? st.st_size : 0;
}

/* True when the log written after offset `from` contains needle. */
static bool ircd_log_has(const struct test_ircd *d, off_t from, const char *needle)
{
	char text[16384];
	size_t n = 0;
	int fd = open(d->log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	ssize_t k = pread(fd, text, sizeof text - 1, from);
	if (k > 0)
		n = (size_t)k;
	close(fd);
	text[n] = '\0';
	return strstr(text, needle) != NULL;
}

/* Poll until this ngircd logged that it listens and the port accepts a
 * connection, or it exits. The log check makes sure the port is not held by
 * some other process that took it between our probe and ngircd's bind.
 * 0 or -errno. */
static int ircd_wait_ready(struct test_ircd *d, off_t log_from)
{
	uint64_t deadline = ircd_now_ms() + IRCD_START_DEADLINE_MS;
	char listening[64], tls[64];
	int status, fd;

	snprintf(listening, sizeof listening, "Now listening on [127.0.0.1]:%d ", d->port);
	snprintf(tls, sizeof tls, "Now listening on [127.0.0.1]:%d ", d->tls_port);
	for (;;) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		if (ircd_log_has(d, log_from, listening) && (!d->opts.tls || ircd_log_has(d, log_from, tls))) {
			fd = sock_connect(AF_INET, d->port);
			if (fd >= 0) {
				close(fd);
				return 0;
			}
		}
		if (ircd_now_ms() >= deadline)
			return -ETIMEDOUT;
		ircd_pause_ms(5);
	}
}

/* Fork and exec ngircd on the prepared directory; wait until it listens.
 * 0, -EADDRINUSE when it could not bind the port, or another -errno. */
static int ircd_spawn(struct test_ircd *d)
{
	off_t log_from = ircd_log_size(d);
	pid_t parent = getpid();
	int r;

	d->pid = fork();
	if (d->pid < 0) {
		r = -errno;
		d->pid = 0;
		return r;
	}
	if (d->pid == 0)
		ircd_exec(d, parent);
	r = ircd_wait_ready(d, log_from);
	if (r < 0 && d->pid > 0) {
		proc_stop(d->pid, IRCD_STOP_DEADLINE_MS);
		d->pid = 0;
	}
	if (r == -ECHILD && ircd_log_has(d, log_from, "Can't bind socket"))
		r = -EADDRINUSE;
	return r;
}

/* Start ngircd in a fresh directory on a free port. */
int test_ircd_start(struct test_ircd *d, const struct test_ircd_opts *o)
{
	int r = -EADDRINUSE;

	/* Another process may take the free port before ngircd binds it. */
	for (int attempt = 0; attempt < IRCD_START_ATTEMPTS && r == -EADDRINUSE; attempt++) {
		memset(d, 0, sizeof *d);
		if (o)
			d->opts = *o;
		r = ircd_prepare(d);
		if (r == 0)
			r = ircd_spawn(d);
		if (r == 0) {
			live_set(d, d->pid, d->dir);
			return 0;
		}
		test_ircd_dump_log(d, stderr);
		if (d->dir[0])
			ircd_remove_dir(d->dir);
		d->dir[0] = '\0';
	}
	return r;
}

/* Stop ngircd and remove its directory. */
int test_ircd_stop(struct test_ircd *d)
{
	int status = -1;

	if (d->pid > 0)
		status = proc_stop(d->pid, IRCD_STOP_DEADLINE_MS);
	d->pid = 0;
	live_set(d, 0, NULL);
	if (d->dir[0])
		ircd_remove_dir(d->dir);
	d->dir[0] = '\0';
	return status;
}

/* SIGKILL ngircd, keeping what a restart needs. */
int test_ircd_kill(struct test_ircd *d)
{
	int status;

	if (d->pid <= 0)
		return -ESRCH;
	kill(d->pid, SIGKILL);
	proc_reap(d->pid, UINT64_MAX, &status);
	d->pid = 0;
	live_set(d, 0, d->dir);
	return 0;
}

/* Stop ngircd if it runs and start it again on the same port. */
int test_ircd_restart(struct test_ircd *d)
{
	uint64_t deadline = ircd_now_ms() + IRCD_REBIND_MS;
	int r;

	if (!d->dir[0])
		return -EINVAL;
	if (d->pid > 0)
		proc_stop(d->pid, IRCD_STOP_DEADLINE_MS);
	d->pid = 0;
	/* The port may still be held for a moment by the old process's sockets. */
	while ((r = ircd_spawn(d)) == -EADDRINUSE && ircd_now_ms() < deadline)
		ircd_pause_ms(200);
	live_set(d, d->pid, d->dir);
	if (r < 0)
		test_ircd_dump_log(d, stderr);
	return r;
}

/* Copy ngircd's log to out. */
void test_ircd_dump_log(const struct test_ircd *d, FILE *out)
{
	char chunk[4096];
	size_t n;
	FILE *f;

	if (!d->log[0] || !(f = fopen(d->log, "r")))
		return;
	fprintf(out, "---- %s\n", d->log);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, out);
	fclose(f);
}

/* ---- the scripted IRC user ----------------------------------------------------- */

/* Append a line to the user's log; its stored copy or NULL. */
static const char *user_log_add(struct test_irc_user *u, bool sent, const char *text, size_t n)
{
	char *copy;

	if (u->nlog == u->caplog) {
		size_t cap = u->caplog ? u->caplog * 2 : 64;
		struct test_irc_entry *log = realloc(u->log, cap * sizeof *log);
		if (!log)
			return NULL;
		u->log = log;
		u->caplog = cap;
	}
	copy = strndup(text, n);
	if (!copy)
		return NULL;
	u->log[u->nlog].sent = sent;
	u->log[u->nlog++].text = copy;
	return copy;
}

/* Send one formatted line. */
int test_irc_user_vsend(struct test_irc_user *u, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	size_t n;
	int r;

	if (u->fd < 0)
		return -ENOTCONN;
	r = ircd_buf_vprintf(&b, fmt, ap);
	if (r < 0)
		goto out;
	n = buf_pending(&b);
	r = buf_append(&b, "\r\n", 2);
	if (r == 0 && !user_log_add(u, true, buf_head(&b), n))
		r = -ENOMEM;
	if (r == 0)
		r = sock_write_all(u->fd, buf_head(&b), buf_pending(&b));
out:
	buf_free(&b);
	return r;
}

/* Send one formatted line. */
int test_irc_user_send(struct test_irc_user *u, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = test_irc_user_vsend(u, fmt, ap);
	va_end(ap);
	return r;
}

/* Read once from the server within the deadline: 1 progress (or end of file,
 * then u->eof), 0 deadline, -errno. */
static int user_fill(struct test_irc_user *u, uint64_t deadline)
{
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
	size_t room;
	char *p;
	ssize_t n;
	int k;

	k = poll(&pfd, 1, ircd_poll_timeout(deadline));
	if (k <= 0)
		return k == 0 ? 0 : errno == EINTR ? 1 : -errno;
	p = frame_reader_space(&u->in, READ_CHUNK, &room);
	if (!p)
		return -ENOMEM;
	n = read(u->fd, p, room);
	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0 && errno != ECONNRESET)
		return -errno;
	if (n <= 0)
		u->eof = true;
	else
		frame_reader_commit(&u->in, (size_t)n);
	return 1;
}

/* Log a received line and answer it if it is a PING; 1 with its logged copy. */
static int user_take_line(struct test_irc_user *u, const char *f, size_t n, const char **ret_line)
{
	const char *line = user_log_add(u, false, f, n);
	const char *cmd;

	if (!line)
		return -ENOMEM;
	cmd = irc_line_command(line);
	if (strncmp(cmd, "PING", 4) == 0 && (cmd[4] == ' ' || cmd[4] == '\0'))
		test_irc_user_send(u, "PONG%s", cmd + 4);
	*ret_line = line;
	return 1;
}

/* The next received line within the deadline: 1 with *ret_line, 0 at the
 * deadline, -ECONNRESET once the server closed, other -errno. */
static int user_next_line(struct test_irc_user *u, uint64_t deadline, const char **ret_line)
{
	char *f;
	size_t n;
	int r;

	if (u->fd < 0)
		return -ENOTCONN;
	for (;;) {
		r = frame_reader_next(&u->in, &f, &n);
		if (r != 0)
			return r < 0 ? r : user_take_line(u, f, n, ret_line);
		if (u->eof)
			return -ECONNRESET;
		r = user_fill(u, deadline);
		if (r <= 0)
			return r;
	}
}

/* Read lines until one matches regex. */
int test_irc_user_expect(struct test_irc_user *u, const char *regex, int timeout_ms,
			 const char **ret_line)
{
	uint64_t deadline = ircd_now_ms() + (uint64_t)test_scaled_ms(timeout_ms > 0 ? timeout_ms : 0);
	const char *line = NULL;
	regex_t re;
	int r;

	if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	while ((r = user_next_line(u, deadline, &line)) == 1)
		if (regexec(&re, line, 0, NULL, 0) == 0)
			break;
	regfree(&re);
	if (r != 1)
		return r == 0 ? -ETIMEDOUT : r;
	if (ret_line)
		*ret_line = line;
	return 0;
}

/* Connect, register and wait for the welcome. */
int test_irc_user_connect(struct test_irc_user *u, int port, const char *nick)
{
	return test_irc_user_connect_from(u, port, nick, NULL);
}

/* Connect from a source address of the loopback range. */
int test_irc_user_connect_from(struct test_irc_user *u, int port, const char *nick, const char *from)
{
	const char *line, *cmd;
	int r;

	memset(u, 0, sizeof *u);
	u->fd = -1;
	frame_reader_init(&u->in, LINE_MAX_BYTES);
	if (strlen(nick) >= sizeof u->nick)
		return -ENAMETOOLONG;
	strcpy(u->nick, nick);
	u->fd = sock_connect_from(AF_INET, port, from);
	if (u->fd < 0) {
		r = u->fd;
		u->fd = -1;
		return r;
	}
	r = test_irc_user_send(u, "NICK %s", nick);
	if (r == 0)
		r = test_irc_user_send(u, "USER %s 0 * :scripted user %s", nick, nick);
	if (r == 0)
		r = test_irc_user_expect(u, "^(@[^ ]* )?:[^ ]+ (001|432|433) ", USER_DEADLINE_MS, &line);
	if (r < 0)
		return r;
	cmd = irc_line_command(line);
	if (strncmp(cmd, "433", 3) == 0)
		return -EADDRINUSE;
	return strncmp(cmd, "432", 3) == 0 ? -EINVAL : 0;
}

/* Count the received lines in the log matching regex (the first one in
 * *ret_first), stopping at the first when first_only; -EINVAL for a bad regex. */
static long user_scan(const struct test_irc_user *u, const char *regex, bool first_only,
		      const char **ret_first)
{
	regex_t re;
	long n = 0;

	if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	for (size_t i = 0; i < u->nlog; i++) {
		if (u->log[i].sent || regexec(&re, u->log[i].text, 0, NULL, 0) != 0)
			continue;
		if (n++ == 0 && ret_first)
			*ret_first = u->log[i].text;
		if (first_only)
			break;
	}
	regfree(&re);
	return n;
}

/* The first received line matching regex. */
const char *test_irc_user_seen(const struct test_irc_user *u, const char *regex)
{
	const char *first = NULL;

	user_scan(u, regex, true, &first);
	return first;
}

/* How many received lines match regex. */
size_t test_irc_user_count(const struct test_irc_user *u, const char *regex)
{
	long n = user_scan(u, regex, false, NULL);

	return n > 0 ? (size_t)n : 0;
}

/* Join a channel and wait for its NAMES list to end (or an error numeric). */
int test_irc_user_join(struct test_irc_user *u, const char *channel)
{
	char qnick[sizeof u->nick * 2], qchan[512], re[1200];
	const char *line;
	int r;

	r = test_irc_user_send(u, "JOIN %s", channel);
	if (r < 0)
		return r;
	snprintf(re, sizeof re, "^(@[^ ]* )?:[^ ]+ (366|4[0-9][0-9]) %s %s( |$)",
		 test_irc_regex_quote(u->nick, qnick, sizeof qnick),
		 test_irc_regex_quote(channel, qchan, sizeof qchan));
	r = test_irc_user_expect(u, re, USER_DEADLINE_MS, &line);
	if (r < 0)
		return r;
	return strncmp(irc_line_command(line), "366", 3) == 0 ? 0 : -EACCES;
}

/* PRIVMSG target :text. */
int test_irc_user_privmsg(struct test_irc_user *u, const char *target, const char *text)
{
	return test_irc_user_send(u, "PRIVMSG %s :%s", target, text);
}

/* QUIT and wait for the server to close the connection. */
int test_irc_user_quit(struct test_irc_user *u, const char *reason)
{
	uint64_t deadline = ircd_now_ms() + USER_DEADLINE_MS;
	const char *line;
	int r;

	r = test_irc_user_send(u, "QUIT :%s", reason ? reason : "bye");
	if (r < 0)
		return r;
	while ((r = user_next_line(u, deadline, &line)) == 1)
		;
	if (r == -ECONNRESET)
		return 0;
	return r == 0 ? -ETIMEDOUT : r;
}

/* Close the connection and free the log. */
void test_irc_user_close(struct test_irc_user *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	frame_reader_free(&u->in);
	for (size_t i = 0; i < u->nlog; i++)
		free(u->log[i].text);
	free(u->log);
	u->log = NULL;
	u->nlog = u->caplog = 0;
}

/* Print the user's transcript. */
void test_irc_user_dump(const struct test_irc_user *u, FILE *out)
{
	fprintf(out, "---- transcript of %s\n", u->nick);
	for (size_t i = 0; i < u->nlog; i++)
		fprintf(out, "%s %s\n", u->log[i].sent ? ">>" : "<<", u->log[i].text);
}

/* Escape the POSIX ERE special characters of s into out. */
char *test_irc_regex_quote(const char *s, char *out, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return out;
	for (; *s; s++) {
		bool special = strchr(".[]()*+?{}|^$\\", *s) != NULL;
		if (o + (special ? 2 : 1) >= n)
			break;
		if (special)
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

/* ---- the scripted fake server: script ------------------------------------------ */

enum fake_op {
	FAKE_ACCEPT,
	FAKE_EXPECT,
	FAKE_REGISTER,
	FAKE_SEND,
	FAKE_RAW,
	FAKE_WAIT,
	FAKE_SILENT,
	FAKE_ANSWER,
	FAKE_ANSWER_CLEAR,
	FAKE_CLOSE,
	FAKE_RESET,
};

struct fake_step {
	enum fake_op op;
	int ms;
	bool has_re;
	regex_t re;
	char *pattern;	/* the regex as written, for the report */
	char *data;	/* line template, raw bytes or answer reply */
	size_t len;
};

enum fake_state { FAKE_RUNNING, FAKE_PASSED, FAKE_FAILED };

/* Shared between the test and the server process; only the server writes,
 * publishing with release stores. Records are NUL-terminated lines. */
struct fake_shared {
	int state;		/* enum fake_state */
	int connections;
	size_t nlines;
	size_t used;		/* bytes of records */
	char report[1024];
	char records[];
};

struct test_fake {
	struct fake_step *steps;
	size_t nsteps, capsteps;
	bool started;
	int port;
	pid_t pid;
	struct fake_shared *sh;
	size_t records_max;
};

/* A new empty script with its shared record area. */
struct test_fake *test_fake_new(void)
{
	struct test_fake *f = calloc(1, sizeof *f);

	if (!f)
		return NULL;
	f->sh = mmap(NULL, FAKE_SHARED_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->sh == MAP_FAILED) {
		free(f);
		return NULL;
	}
	f->records_max = FAKE_SHARED_SIZE - sizeof *f->sh;
	return f;
}

/* Stop the server and free the script. */
void test_fake_free(struct test_fake *f)
{
	if (!f)
		return;
	test_fake_stop(f);
	for (size_t i = 0; i < f->nsteps; i++) {
		if (f->steps[i].has_re)
			regfree(&f->steps[i].re);
		free(f->steps[i].pattern);
		free(f->steps[i].data);
	}
	free(f->steps);
	munmap(f->sh, FAKE_SHARED_SIZE);
	free(f);
}

/* Append a step with regex (may be NULL) and data (copied, may be NULL). */
static int fake_step_add(struct test_fake *f, enum fake_op op, int ms, const char *regex,
			 const void *data, size_t len)
{
	struct fake_step *s;

	if (f->started)
		return -EINVAL;
	if (f->nsteps == f->capsteps) {
		size_t cap = f->capsteps ? f->capsteps * 2 : 16;
		struct fake_step *steps = realloc(f->steps, cap * sizeof *steps);
		if (!steps)
			return -ENOMEM;
		f->steps = steps;
		f->capsteps = cap;
	}
	s = &f->steps[f->nsteps];
	memset(s, 0, sizeof *s);
	s->op = op;
	s->ms = ms;
	if (regex && regcomp(&s->re, regex, REG_EXTENDED) != 0)
		return -EINVAL;
	s->has_re = regex != NULL;
	s->pattern = regex ? strdup(regex) : NULL;
	s->data = data ? malloc(len + 1) : NULL;
	if ((regex && !s->pattern) || (data && !s->data)) {
		if (s->has_re)
			regfree(&s->re);
		free(s->pattern);
		free(s->data);
		return -ENOMEM;
	}
	if (data) {
		memcpy(s->data, data, len);
		s->data[len] = '\0';
	}
	s->len = len;
	f->nsteps++;
	return 0;
}

/* Expect a line matching regex within timeout_ms. */
int test_fake_expect(struct test_fake *f, const char *regex, int timeout_ms)
{
	return fake_step_add(f, FAKE_EXPECT, test_scaled_ms(timeout_ms), regex, NULL, 0);
}

/* Send a formatted line template. */
int test_fake_send(struct test_fake *f, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ircd_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = fake_step_add(f, FAKE_SEND, 0, NULL, buf_head(&b), buf_pending(&b));
	buf_free(&b);
	return r;
}

/* Send bytes as given. */
int test_fake_send_raw(struct test_fake *f, const void *p, size_t n)
{
	return fake_step_add(f, FAKE_RAW, 0, NULL, p, n);
}

/* Read and record for ms milliseconds. */
int test_fake_wait(struct test_fake *f, int ms)
{
	return fake_step_add(f, FAKE_WAIT, ms, NULL, NULL, 0);
}

/* Answer every later line matching regex with reply. */
int test_fake_answer(struct test_fake *f, const char *regex, const char *reply)
{
	return fake_step_add(f, FAKE_ANSWER, 0, regex, reply, strlen(reply));
}

/* Drop the answer rules. */
int test_fake_answer_clear(struct test_fake *f)
{
	return fake_step_add(f, FAKE_ANSWER_CLEAR, 0, NULL, NULL, 0);
}

/* Close the client normally. */
int test_fake_close(struct test_fake *f)
{
	return fake_step_add(f, FAKE_CLOSE, 0, NULL, NULL, 0);
}

/* Close the client with a reset. */
int test_fake_reset(struct test_fake *f)
{
	return fake_step_add(f, FAKE_RESET, 0, NULL, NULL, 0);
}

/* Read without writing until the client closes or ms pass. */
int test_fake_silent(struct test_fake *f, int ms)
{
	return fake_step_add(f, FAKE_SILENT, ms, NULL, NULL, 0);
}

/* Accept the next client. */
int test_fake_accept(struct test_fake *f, int timeout_ms)
{
	return fake_step_add(f, FAKE_ACCEPT, test_scaled_ms(timeout_ms), NULL, NULL, 0);
}

/* Answer PING, then wait for NICK and USER and welcome the client. */
int test_fake_register(struct test_fake *f)
{
	int r = test_fake_answer(f, "^PING :?(.*)$", ":irc.test.local PONG irc.test.local :$1");

	if (r == 0)
		r = fake_step_add(f, FAKE_REGISTER, test_scaled_ms(FAKE_REGISTER_MS),
				  "^(NICK :?([^ ]+)|USER )", NULL, 0);
	return r;
}

/* ---- the scripted fake server: the server process ------------------------------- */

struct fake_run {
	const struct test_fake *f;
	struct fake_shared *sh;
	int lfd, cfd;
	bool eof;		/* the client closed; drain, then drop it */
	struct frame_reader in;
	const struct fake_step **answers;
	size_t nanswers;
	bool answering;
	char *cap_line;		/* the line the groups below refer to */
	regmatch_t cap[FAKE_GROUPS];
};

/* Welcome lines sent by FAKE_REGISTER, $1 being the client's nick. */
static const char *const fake_welcome =
	":irc.test.local 001 $1 :Welcome to the Internet Relay Network $1\n"
	":irc.test.local 002 $1 :Your host is irc.test.local, running version fake-1\n"
	":irc.test.local 003 $1 :This server was created today\n"
	":irc.test.local 004 $1 irc.test.local fake-1 iorsw biklmnopstv\n"
	":irc.test.local 005 $1 CASEMAPPING=rfc1459 CHANTYPES=#& PREFIX=(ov)@+ "
	"NICKLEN=30 CHANMODES=beI,k,l,imnpst NETWORK=FakeNet :are supported by this server\n"
	":irc.test.local 375 $1 :- irc.test.local message of the day\n"
	":irc.test.local 372 $1 :- scripted fake server\n"
	":irc.test.local 376 $1 :End of MOTD command";

/* Publish a received line to the test. */
static void fake_record(struct fake_run *run, const char *line, size_t n)
{
	struct fake_shared *sh = run->sh;

	if (sh->used + n + 1 > run->f->records_max)
		return;
	memcpy(sh->records + sh->used, line, n);
	sh->records[sh->used + n] = '\0';
	sh->used += n + 1;
	__atomic_store_n(&sh->nlines, sh->nlines + 1, __ATOMIC_RELEASE);
}

/* Record why step i failed and publish the failure; returns -1. */
static int fake_fail(struct fake_run *run, size_t i, const char *why)
{
	const struct fake_step *s = i < run->f->nsteps ? &run->f->steps[i] : NULL;
	static const char *const names[] = {
		"accept", "expect", "register", "send", "send-raw", "wait", "silent",
		"answer", "answer-clear", "close", "reset",
	};

	snprintf(run->sh->report, sizeof run->sh->report, "step %zu (%s%s%s%s): %s",
		 s ? i + 1 : 0, s ? names[s->op] : "accept", s && s->pattern ? " /" : "",
		 s && s->pattern ? s->pattern : "", s && s->pattern ? "/" : "", why);
	__atomic_store_n(&run->sh->state, FAKE_FAILED, __ATOMIC_RELEASE);
	return -1;
}

/* Expand $0..$9 (groups m of line) and $$ in tmpl; malloc'd or NULL. */
static char *fake_subst(const char *tmpl, const char *line, const regmatch_t *m)
{
	struct buf b = BUF_INIT;
	int r = 0;

	for (const char *p = tmpl; *p && r == 0; p++) {
		if (p[0] == '$' && p[1] == '$') {
			r = buf_putc(&b, '$');
			p++;
		} else if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
			const regmatch_t *g = m ? &m[p[1] - '0'] : NULL;
			if (line && g && g->rm_so >= 0)
				r = buf_append(&b, line + g->rm_so, (size_t)(g->rm_eo - g->rm_so));
			p++;
		} else {
			r = buf_putc(&b, *p);
		}
	}
	if (r == 0)
		r = buf_putc(&b, '\0');
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Send text (lines separated by "\n") with CR LF after each line. 0 or -errno. */
static int fake_send_lines(struct fake_run *run, const char *text)
{
	struct buf b = BUF_INIT;
	int r = 0;

	if (run->cfd < 0)
		return -ENOTCONN;
	for (const char *p = text; r == 0; ) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		r = buf_append(&b, p, n);
		if (r == 0)
			r = buf_append(&b, "\r\n", 2);
		if (!nl)
			break;
		p = nl + 1;
	}
	if (r == 0)
		r = sock_write_all(run->cfd, buf_head(&b), buf_pending(&b));
	buf_free(&b);
	return r;
}

/* Send a template expanded with groups m of line. 0 or -errno. */
static int fake_send_template(struct fake_run *run, const char *tmpl, const char *line,
			      const regmatch_t *m)
{
	char *text = fake_subst(tmpl, line, m);
	int r;

	if (!text)
		return -ENOMEM;
	r = fake_send_lines(run, text);
	free(text);
	return r;
}

/* Apply the active answer rules to a received line. */
static void fake_answer_line(struct fake_run *run, const char *line)
{
	regmatch_t m[FAKE_GROUPS];

	for (size_t i = 0; run->answering && i < run->nanswers; i++) {
		const struct fake_step *s = run->answers[i];
		if (regexec(&s->re, line, FAKE_GROUPS, m, 0) == 0)
			fake_send_template(run, s->data, line, m);
	}
}

/* Keep line (malloc'd) and m as the groups later sends refer to. */
static void fake_set_groups(struct fake_run *run, char *line, const regmatch_t *m)
{
	free(run->cap_line);
	run->cap_line = line;
	memcpy(run->cap, m, sizeof run->cap);
}

/* Close the client connection, with a reset when abrupt. */
static void fake_drop_client(struct fake_run *run, bool abrupt)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (run->cfd < 0)
		return;
	if (abrupt)
		setsockopt(run->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(run->cfd);
	run->cfd = -1;
	run->eof = false;
	frame_reader_free(&run->in);
	frame_reader_init(&run->in, LINE_MAX_BYTES);
}

/* Read once from the client within the deadline: 1 progress (or end of file,
 * then run->eof), 0 deadline, -errno. */
static int fake_fill(struct fake_run *run, uint64_t deadline)
{
	struct pollfd pfd = { .fd = run->cfd, .events = POLLIN };
	size_t room;
	ssize_t n;
	char *p;
	int k;

	k = poll(&pfd, 1, ircd_poll_timeout(deadline));
	if (k <= 0)
		return k == 0 ? 0 : errno == EINTR ? 1 : -errno;
	p = frame_reader_space(&run->in, READ_CHUNK, &room);
	if (!p)
		return -ENOMEM;
	n = read(run->cfd, p, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n > 0) {
		frame_reader_commit(&run->in, (size_t)n);
		return 1;
	}
	/* End of file or reset: a last line without line feed still counts. */
	run->eof = true;
	if (frame_reader_pending(&run->in) > 0)
		frame_reader_feed(&run->in, "\n", 1);
	return 1;
}

/* Read, record and answer lines until one matches re (if given; then 1, the
 * line malloc'd in *ret_line and its groups in m) or the deadline passes (0).
 * -ECONNRESET when the client closed (it is dropped), -ENOTCONN without one. */
static int fake_read(struct fake_run *run, uint64_t deadline, const regex_t *re,
		     regmatch_t *m, char **ret_line)
{
	char *line;
	size_t n;
	int r;

	for (;;) {
		if (run->cfd < 0)
			return -ENOTCONN;
		r = frame_reader_next(&run->in, &line, &n);
		if (r < 0)
			return r;
		if (r == 1) {
			fake_record(run, line, n);
			fake_answer_line(run, line);
			if (re && regexec(re, line, FAKE_GROUPS, m, 0) == 0)
				return (*ret_line = strdup(line)) ? 1 : -ENOMEM;
			continue;
		}
		if (run->eof) {
			fake_drop_client(run, false);
			return -ECONNRESET;
		}
		r = fake_fill(run, deadline);
		if (r <= 0)
			return r;
	}
}

/* Close the current client if any and accept the next one. */
static int fake_do_accept(struct fake_run *run, size_t i, int ms)
{
	struct pollfd pfd = { .fd = run->lfd, .events = POLLIN };
	uint64_t deadline = ircd_now_ms() + (uint64_t)ms;
	int fd;

	fake_drop_client(run, false);
	for (;;) {
		if (poll(&pfd, 1, ircd_poll_timeout(deadline)) == 0)
			return fake_fail(run, i, "no client connected in time");
		fd = accept4(run->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			return fake_fail(run, i, strerror(errno));
	}
	run->cfd = fd;
	__atomic_store_n(&run->sh->connections, run->sh->connections + 1, __ATOMIC_RELEASE);
	return 0;
}

/* The reason a read returned r, for a report. */
static const char *fake_read_error(int r)
{
	switch (r) {
	case 0:
		return "timed out";
	case -ECONNRESET:
		return "the client closed the connection";
	case -ENOTCONN:
		return "no client connected";
	default:
		return strerror(-r);
	}
}

/* Read lines until one matches the step's regex. */
static int fake_do_expect(struct fake_run *run, size_t i, const struct fake_step *s)
{
	uint64_t deadline = ircd_now_ms() + (uint64_t)s->ms;
	regmatch_t m[FAKE_GROUPS];
	char *line = NULL;
	int r;

	r = fake_read(run, deadline, &s->re, m, &line);
	if (r != 1)
		return fake_fail(run, i, fake_read_error(r));
	if (s->re.re_nsub > 0)
		fake_set_groups(run, line, m);
	else
		free(line);
	return 0;
}

/* Wait for NICK and USER in any order ($1 becomes the last nick), then welcome. */
static int fake_do_register(struct fake_run *run, size_t i, const struct fake_step *s)
{
	uint64_t deadline = ircd_now_ms() + (uint64_t)s->ms;
	bool have_nick = false, have_user = false;
	regmatch_t m[FAKE_GROUPS];
	char *line;
	int r;

	while (!have_nick || !have_user) {
		r = fake_read(run, deadline, &s->re, m, &line);
		if (r != 1)
			return fake_fail(run, i, fake_read_error(r));
		if (m[2].rm_so < 0) {
			have_user = true;
			free(line);
			continue;
		}
		have_nick = true;
		m[1] = m[2];
		for (int g = 2; g < FAKE_GROUPS; g++)
			m[g].rm_so = m[g].rm_eo = -1;
		fake_set_groups(run, line, m);
	}
	r = fake_send_template(run, fake_welcome, run->cap_line, run->cap);
	return r < 0 ? fake_fail(run, i, strerror(-r)) : 0;
}

/* Record (and answer, unless silent) until the deadline or the client closes;
 * a wait lasts its full time even without a client. */
static int fake_do_wait(struct fake_run *run, int ms, bool silent)
{
	uint64_t deadline = ms > 0 || !silent ? ircd_now_ms() + (uint64_t)ms : UINT64_MAX;
	int r;

	run->answering = !silent;
	r = fake_read(run, deadline, NULL, NULL, NULL);
	run->answering = true;
	if (!silent && (r == -ECONNRESET || r == -ENOTCONN) && ircd_poll_timeout(deadline) > 0)
		ircd_pause_ms(ircd_poll_timeout(deadline));
	return 0;
}

/* Write a step's bytes (raw, or a template expanded with the current groups). */
static int fake_do_send(struct fake_run *run, size_t i, const struct fake_step *s)
{
	int r;

	if (s->op == FAKE_RAW)
		r = run->cfd < 0 ? -ENOTCONN : sock_write_all(run->cfd, s->data, s->len);
	else
		r = fake_send_template(run, s->data, run->cap_line, run->cap_line ? run->cap : NULL);
	return r < 0 ? fake_fail(run, i, fake_read_error(r)) : 0;
}

/* Close the client: first take in what it already sent, so a normal close is
 * a FIN and not a reset caused by unread input. */
static int fake_do_close(struct fake_run *run, size_t i, bool abrupt)
{
	if (run->cfd < 0)
		return fake_fail(run, i, "no client connected");
	if (!abrupt)
		fake_read(run, ircd_now_ms(), NULL, NULL, NULL);
	fake_drop_client(run, abrupt);
	return 0;
}

/* Run step i. 0 or -1 (failure published). */
static int fake_step_run(struct fake_run *run, size_t i)
{
	const struct fake_step *s = &run->f->steps[i];

	switch (s->op) {
	case FAKE_ACCEPT:
		return fake_do_accept(run, i, s->ms);
	case FAKE_EXPECT:
		return fake_do_expect(run, i, s);
	case FAKE_REGISTER:
		return fake_do_register(run, i, s);
	case FAKE_SEND:
	case FAKE_RAW:
		return fake_do_send(run, i, s);
	case FAKE_WAIT:
		return fake_do_wait(run, s->ms, false);
	case FAKE_SILENT:
		return fake_do_wait(run, s->ms, true);
	case FAKE_ANSWER:
		run->answers[run->nanswers++] = s;
		return 0;
	case FAKE_ANSWER_CLEAR:
		run->nanswers = 0;
		return 0;
	case FAKE_CLOSE:
	case FAKE_RESET:
		return fake_do_close(run, i, s->op == FAKE_RESET);
	}
	return fake_fail(run, i, "unknown step");
}

/* The server process: accept, run the steps, publish the outcome, then keep
 * recording until the client leaves and wait to be stopped. */
static void fake_main(const struct test_fake *f, int lfd, pid_t parent)
{
	struct fake_run run = { .f = f, .sh = f->sh, .lfd = 3, .cfd = -1, .answering = true };
	int ok;

	if (lfd != 3 && (dup2(lfd, 3) < 0 || close(lfd) < 0))
		_exit(1);
	proc_child_setup(parent, 3);
	frame_reader_init(&run.in, LINE_MAX_BYTES);
	run.answers = calloc(f->nsteps + 1, sizeof *run.answers);
	if (!run.answers)
		_exit(1);
	ok = fake_do_accept(&run, SIZE_MAX, test_scaled_ms(FAKE_ACCEPT_MS)) == 0;
	for (size_t i = 0; ok && i < f->nsteps; i++)
		ok = fake_step_run(&run, i) == 0;
	if (ok)
		__atomic_store_n(&run.sh->state, FAKE_PASSED, __ATOMIC_RELEASE);
	/* Without a deadline a read returns only when the client is gone or sent
	 * something unreadable (a line over LINE_MAX_BYTES). */
	fake_read(&run, UINT64_MAX, NULL, NULL, NULL);
	fake_drop_client(&run, false);
	for (;;)
		pause();
}

/* ---- the scripted fake server: control from the test ----------------------------- */

/* Listen on a free loopback port and fork the server. */
int test_fake_start(struct test_fake *f, int family)
{
	pid_t parent = getpid();
	int lfd;

	if (f->started)
		return -EALREADY;
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	lfd = sock_bind_free(family, true, &f->port);
	if (lfd < 0)
		return lfd;
	f->pid = fork();
	if (f->pid < 0) {
		int r = -errno;
		f->pid = 0;
		close(lfd);
		return r;
	}
	if (f->pid == 0)
		fake_main(f, lfd, parent);
	close(lfd);
	f->started = true;
	live_set(f, f->pid, NULL);
	return 0;
}

/* The port listened on. */
int test_fake_port(const struct test_fake *f)
{
	return f->port;
}

/* The server process, or 0. */
pid_t test_fake_pid(const struct test_fake *f)
{
	return f->pid;
}

/* The published outcome as a return code. */
static int fake_outcome(const struct test_fake *f)
{
	switch (__atomic_load_n(&f->sh->state, __ATOMIC_ACQUIRE)) {
	case FAKE_PASSED:
		return 0;
	case FAKE_FAILED:
		return -EPROTO;
	default:
		return -EINPROGRESS;
	}
}

/* Wait until the script has run to its end. */
int test_fake_done(struct test_fake *f, int timeout_ms)
{
	uint64_t deadline = ircd_now_ms() + (uint64_t)test_scaled_ms(timeout_ms > 0 ? timeout_ms : 0);
	int r, status;

	for (;;) {
		r = fake_outcome(f);
		if (r != -EINPROGRESS)
			return r;
		if (f->pid <= 0 || proc_reap(f->pid, 0, &status)) {
			if (f->pid > 0)
				live_set(f, 0, NULL);
			f->pid = 0;
			return fake_outcome(f) == -EINPROGRESS ? -ECHILD : fake_outcome(f);
		}
		if (ircd_now_ms() >= deadline)
			return -ETIMEDOUT;
		ircd_pause_ms(2);
	}
}

/* Kill and reap the server; the outcome of the script. */
int test_fake_stop(struct test_fake *f)
{
	if (f->pid > 0)
		proc_stop(f->pid, IRCD_STOP_DEADLINE_MS);
	f->pid = 0;
	live_set(f, 0, NULL);
	return fake_outcome(f);
}

/* Why the script failed, or "". */
const char *test_fake_report(const struct test_fake *f)
{
	if (__atomic_load_n(&f->sh->state, __ATOMIC_ACQUIRE) != FAKE_FAILED)
		return "";
	return f->sh->report;
}

/* Clients accepted so far. */
int test_fake_connections(const struct test_fake *f)
{
	return __atomic_load_n(&f->sh->connections, __ATOMIC_ACQUIRE);
}

/* Lines received so far. */
size_t test_fake_nlines(const struct test_fake *f)
{
	return __atomic_load_n(&f->sh->nlines, __ATOMIC_ACQUIRE);
}

/* The i-th received line. */
const char *test_fake_line(const struct test_fake *f, size_t i)
{
	const char *p = f->sh->records;

	if (i >= test_fake_nlines(f))
		return NULL;
	while (i-- > 0)
		p += strlen(p) + 1;
	return p;
}

/* Wait until a received line from index `from` on matches regex. */
long test_fake_wait_line(const struct test_fake *f, const char *regex, size_t from,
			 int timeout_ms)
{
	uint64_t deadline = ircd_now_ms() + (uint64_t)test_scaled_ms(timeout_ms > 0 ? timeout_ms : 0);
	const char *p = NULL;
	size_t i = from;
	regex_t re;
	long r = -ETIMEDOUT;

	if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	for (;;) {
		for (; i < test_fake_nlines(f); i++, p += strlen(p) + 1) {
			if (!p)
				p = test_fake_line(f, i);
			if (regexec(&re, p, 0, NULL, 0) == 0) {
				r = (long)i;
				goto out;
			}
		}
		if (ircd_now_ms() >= deadline)
			break;
		ircd_pause_ms(2);
	}
out:
	regfree(&re);
	return r;
}
