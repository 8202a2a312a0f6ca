/* SPDX-License-Identifier: ISC */
/* The TLS transport: OpenSSL over the connected socket (see transport_tls.h).
 *
 * Output the link hands over is never refused half-way: when OpenSSL cannot
 * send a record at once, the bytes are kept (held) and reported written, and
 * OpenSSL is given that same copy again before anything else, as it demands
 * after a retry. The link watches write_needs to flush them. */
#include "config.h"

#include "transport_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "irc_line.h"

/* The most plaintext one TLS record carries: a longer write is taken in parts. */
#define TRANSPORT_TLS_RECORD_MAX 16384

struct transport_tls {
	struct transport base;
	SSL_CTX *ctx;
	SSL *ssl;
	bool insecure;
	bool pinned;
	unsigned char pin[TRANSPORT_TLS_PIN_LEN];
	bool established;
	bool seen;		/* seen_md holds the server certificate's fingerprint */
	unsigned char seen_md[TRANSPORT_TLS_PIN_LEN];
	char *held;		/* output OpenSSL has not finished sending */
	size_t held_len;
};

/* The socket BIO of OpenSSL with send(MSG_NOSIGNAL) for writes, so that a
 * closed connection is an error and not a SIGPIPE. Made once, never freed. */
static BIO_METHOD *transport_tls_bio_method;

/* BIO write: send() without SIGPIPE. */
static int transport_tls_bio_write(BIO *b, const char *buf, int len)
{
	int fd = -1;
	ssize_t n;

	BIO_get_fd(b, &fd);
	BIO_clear_retry_flags(b);
	do
		n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

/* The BIO method, made on first use. */
static const BIO_METHOD *transport_tls_bio(void)
{
	const BIO_METHOD *sock = BIO_s_socket();
	BIO_METHOD *m;

	if (transport_tls_bio_method)
		return transport_tls_bio_method;
	m = BIO_meth_new(BIO_TYPE_SOCKET, "bothost socket");
	if (!m || !BIO_meth_set_write(m, transport_tls_bio_write) ||
	    !BIO_meth_set_read(m, BIO_meth_get_read(sock)) || !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
	    !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
	    !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
		BIO_meth_free(m);
		return NULL;
	}
	transport_tls_bio_method = m;
	return m;
}

/* OpenSSL's oldest queued error as text (or fallback), clearing the queue. */
static void transport_tls_error(char *why, size_t n, const char *fallback)
{
	unsigned long e = ERR_get_error();

	if (e) {
		ERR_error_string_n(e, why, n);
	} else {
		snprintf(why, n, "%s", fallback);
	}
	ERR_clear_error();
}

/* ---- reading and writing ---------------------------------------------------------- */

/* The outcome of an SSL call that returned r <= 0 as -errno; needs is set
 * to the socket event a retry waits for. */
static int transport_tls_result(struct transport_tls *t, int r, unsigned *needs)
{
	int saved = errno;
	int err = SSL_get_error(t->ssl, r);

	*needs = 0;
	switch (err) {
	case SSL_ERROR_WANT_READ:
		*needs = TRANSPORT_READABLE;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*needs = TRANSPORT_WRITABLE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return saved > 0 && r < 0 ? -saved : -ECONNRESET;
	default:
		ERR_clear_error();
		return -EPROTO;
	}
}

/* Read decrypted bytes. */
static ssize_t transport_tls_read(struct transport *base, void *buf, size_t len)
{
	struct transport_tls *t = (struct transport_tls *)base;
	unsigned needs;
	int r;

	ERR_clear_error();
	r = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r > 0) {
		base->read_needs = 0;
		return r;
	}
	r = transport_tls_result(t, r, &needs);
	base->read_needs = needs == TRANSPORT_WRITABLE ? TRANSPORT_WRITABLE : 0;
	return r;
}

/* Send the held output. */
static int transport_tls_flush(struct transport *base)
{
	struct transport_tls *t = (struct transport_tls *)base;
	unsigned needs;
	int r;

	if (t->held_len == 0)
		return 0;
	ERR_clear_error();
	r = SSL_write(t->ssl, t->held, (int)t->held_len);
	if (r > 0) {
		t->held_len = 0;
		base->write_needs = 0;
		return 0;
	}
	r = transport_tls_result(t, r, &needs);
	if (r == -EAGAIN)
		base->write_needs = needs;
	return r == 0 ? -ECONNRESET : r;
}

/* Write: the held output first, then buf, which is held when it cannot go
 * at once. */
static ssize_t transport_tls_write(struct transport *base, const void *buf, size_t len)
{
	struct transport_tls *t = (struct transport_tls *)base;
	size_t n = len > TRANSPORT_TLS_RECORD_MAX ? TRANSPORT_TLS_RECORD_MAX : len;
	unsigned needs;
	char *copy;
	int r = transport_tls_flush(base);

	if (r < 0)
		return r;
	ERR_clear_error();
	r = SSL_write(t->ssl, buf, (int)n);
	if (r > 0)
		return r;
	r = transport_tls_result(t, r, &needs);
	if (r != -EAGAIN)
		return r == 0 ? -ECONNRESET : r;
	/* OpenSSL wants these very bytes again: keep a copy and take them. */
	copy = realloc(t->held, n);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, n);
	t->held = copy;
	t->held_len = n;
	base->write_needs = needs;
	return (ssize_t)n;
}

/* Decrypted bytes waiting inside OpenSSL. */
static size_t transport_tls_pending(const struct transport *base)
{
	const struct transport_tls *t = (const struct transport_tls *)base;

	return t->established ? (size_t)SSL_pending(t->ssl) : 0;
}

/* Say goodbye (close_notify, if the socket takes it), close and free. */
static void transport_tls_close(struct transport *base)
{
	struct transport_tls *t = (struct transport_tls *)base;

	if (t->established) {
		ERR_clear_error();
		(void)SSL_shutdown(t->ssl);
		ERR_clear_error();
	}
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	if (base->fd >= 0)
		close(base->fd);
	free(t->held);
	free(t);
}

static const struct transport_ops transport_tls_ops = {
	.name = "tls",
	.read = transport_tls_read,
	.write = transport_tls_write,
	.flush = transport_tls_flush,
	.pending = transport_tls_pending,
	.close = transport_tls_close,
};

/* ---- setting up ------------------------------------------------------------------- */

/* OpenSSL's verification callback: the verdict stays OpenSSL's; the server
 * certificate's fingerprint is kept for the log line of a refusal (after
 * a failed handshake OpenSSL no longer hands the certificate out). */
static int transport_tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct transport_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	unsigned len = 0;

	if (t && cert && X509_STORE_CTX_get_error_depth(x) == 0 &&
	    X509_digest(cert, EVP_sha256(), t->seen_md, &len) && len == TRANSPORT_TLS_PIN_LEN)
		t->seen = true;
	return ok;
}

/* The context: protocol floor, verification mode, CAs, client certificate. */
static int transport_tls_ctx(struct transport_tls *t, const struct transport_tls_config *c, char *why,
			     size_t n)
{
	const char *key = c->key_file ? c->key_file : c->cert_file;

	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx) {
		transport_tls_error(why, n, "cannot create a TLS context");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* IRC servers often close without close_notify: that is an end of
	 * file, not an error (a line cut short is dropped anyway). */
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(t->ctx, t->insecure || t->pinned ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
			   transport_tls_verify_cb);
	if (c->ca_file ? !SSL_CTX_load_verify_locations(t->ctx, c->ca_file, NULL)
		       : !SSL_CTX_set_default_verify_paths(t->ctx)) {
		char err[200];
		transport_tls_error(err, sizeof err, "unknown error");
		snprintf(why, n, "cannot load the CA certificates %s: %s", c->ca_file ? c->ca_file : "of the system",
			 err);
		return -EINVAL;
	}
	if (c->cert_file && (!SSL_CTX_use_certificate_chain_file(t->ctx, c->cert_file) ||
			     !SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) ||
			     !SSL_CTX_check_private_key(t->ctx))) {
		char err[200];
		transport_tls_error(err, sizeof err, "unknown error");
		snprintf(why, n, "cannot use the client certificate %s (key %s): %s", c->cert_file, key, err);
		return -EINVAL;
	}
	return 0;
}

/* The connection: the socket BIO, SNI for a name, the name or address the
 * certificate must carry. */
static int transport_tls_ssl(struct transport_tls *t, const struct transport_tls_config *c, char *why,
			     size_t n)
{
	const BIO_METHOD *m = transport_tls_bio();
	struct in6_addr a6;
	struct in_addr a4;
	bool numeric = inet_pton(AF_INET, c->host, &a4) == 1 || inet_pton(AF_INET6, c->host, &a6) == 1;
	BIO *bio;

	t->ssl = SSL_new(t->ctx);
	bio = m ? BIO_new(m) : NULL;
	if (!t->ssl || !bio) {
		BIO_free(bio);
		transport_tls_error(why, n, "out of memory");
		return -ENOMEM;
	}
	BIO_set_fd(bio, t->base.fd, BIO_NOCLOSE);
	SSL_set_bio(t->ssl, bio, bio);
	SSL_set_app_data(t->ssl, t);
	SSL_set_connect_state(t->ssl);
	/* RFC 6066: no SNI for an address. */
	if ((!numeric && !SSL_set_tlsext_host_name(t->ssl, c->host)) ||
	    !(numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), c->host)
		      : SSL_set1_host(t->ssl, c->host))) {
		transport_tls_error(why, n, "cannot set the server's name");
		return -EINVAL;
	}
	return 0;
}

/* A TLS transport over fd. */
int transport_tls_new(int fd, const struct transport_tls_config *c, struct transport **ret, char *why,
		      size_t n)
{
	struct transport_tls *t = calloc(1, sizeof *t);
	int r;

	if (!t) {
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	t->base.ops = &transport_tls_ops;
	t->base.fd = fd;
	t->insecure = c->insecure;
	t->pinned = c->pin != NULL;
	if (c->pin)
		memcpy(t->pin, c->pin, sizeof t->pin);
	ERR_clear_error();
	r = transport_tls_ctx(t, c, why, n);
	if (r == 0)
		r = transport_tls_ssl(t, c, why, n);
	if (r < 0) {
		t->base.fd = -1;
		transport_tls_close(&t->base);
		return r;
	}
	*ret = &t->base;
	return 0;
}

/* ---- the handshake ----------------------------------------------------------------- */

/* "ab:cd:..." of a SHA-256 fingerprint into buf (97 bytes at least). */
static void transport_tls_pin_text(const unsigned char *md, char *buf)
{
	for (size_t i = 0; i < TRANSPORT_TLS_PIN_LEN; i++)
		sprintf(buf + 3 * i, "%02x%s", md[i], i + 1 < TRANSPORT_TLS_PIN_LEN ? ":" : "");
}

/* The SHA-256 fingerprint of the server's certificate: 0 or -EPROTO. */
static int transport_tls_peer_pin(const struct transport_tls *t, unsigned char md[TRANSPORT_TLS_PIN_LEN])
{
	X509 *cert = SSL_get1_peer_certificate(t->ssl);
	unsigned len = 0;
	int ok = cert && X509_digest(cert, EVP_sha256(), md, &len) && len == TRANSPORT_TLS_PIN_LEN;

	X509_free(cert);
	return ok ? 0 : -EPROTO;
}

/* Why the handshake failed, with the certificate's fingerprint when the
 * certificate was the reason (to help pinning it on purpose). */
static int transport_tls_refused(struct transport_tls *t, int r, char *why, size_t n)
{
	long v = SSL_get_verify_result(t->ssl);
	char fp[3 * TRANSPORT_TLS_PIN_LEN + 1] = "unknown";
	char err[200];

	if (v == X509_V_OK || t->insecure || t->pinned) {
		transport_tls_error(err, sizeof err, r == -ECONNRESET ? "the server closed the connection" : "protocol error");
		snprintf(why, n, "%s", err);
		return r;
	}
	ERR_clear_error();
	if (t->seen)
		transport_tls_pin_text(t->seen_md, fp);
	snprintf(why, n, "certificate refused: %s (its SHA-256 fingerprint is %s)",
		 X509_verify_cert_error_string(v), fp);
	return -EPERM;
}

/* With a pin: the certificate must have that fingerprint. */
static int transport_tls_check_pin(struct transport_tls *t, char *why, size_t n)
{
	unsigned char md[TRANSPORT_TLS_PIN_LEN];
	char fp[3 * TRANSPORT_TLS_PIN_LEN + 1];

	if (!t->pinned)
		return 0;
	if (transport_tls_peer_pin(t, md) < 0) {
		snprintf(why, n, "the server sent no certificate to compare with tls_fingerprint");
		return -EPERM;
	}
	if (CRYPTO_memcmp(md, t->pin, sizeof md) == 0)
		return 0;
	transport_tls_pin_text(md, fp);
	snprintf(why, n, "certificate refused: its SHA-256 fingerprint %s is not tls_fingerprint", fp);
	return -EPERM;
}

/* Go on with the handshake. */
int transport_tls_handshake(struct transport *base, char *why, size_t n)
{
	struct transport_tls *t = (struct transport_tls *)base;
	unsigned needs;
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		base->read_needs = 0;
		r = transport_tls_check_pin(t, why, n);
		t->established = r == 0;
		return r;
	}
	r = transport_tls_result(t, r, &needs);
	if (r == -EAGAIN) {
		base->read_needs = needs;
		return r;
	}
	return transport_tls_refused(t, r == 0 ? -ECONNRESET : r, why, n);
}

/* Protocol, cipher and how the certificate was accepted. */
const char *transport_tls_describe(const struct transport *base, char *buf, size_t n)
{
	const struct transport_tls *t = (const struct transport_tls *)base;
	const char *how = t->insecure ? "certificate NOT verified (tls_insecure)"
			  : t->pinned ? "certificate pinned by fingerprint"
				      : "certificate verified";

	snprintf(buf, n, "%s %s, %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl), how);
	return buf;
}

/* Parse a fingerprint, with or without colons between the pairs. */
int transport_tls_parse_pin(const char *s, unsigned char pin[TRANSPORT_TLS_PIN_LEN])
{
	bool colons = strlen(s) == 3 * TRANSPORT_TLS_PIN_LEN - 1;

	if (!colons && strlen(s) != 2 * TRANSPORT_TLS_PIN_LEN)
		return -EINVAL;
	for (size_t i = 0; i < TRANSPORT_TLS_PIN_LEN; i++, s += 2) {
		if (colons && i > 0 && *s++ != ':')
			return -EINVAL;
		int hi = irc_line_hex_value(s[0]), lo = hi < 0 ? -1 : irc_line_hex_value(s[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		pin[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
