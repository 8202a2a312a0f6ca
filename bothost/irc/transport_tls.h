/* SPDX-License-Identifier: ISC */
/* The TLS transport (OpenSSL) over a connected TCP socket.
 *
 * Certificates are verified by default: the chain against the system's CA
 * store (or ca_file), and the server's name (DNS name, or IP address when
 * the server is given as one) against the certificate; the name also goes
 * out as SNI. A pinned SHA-256 fingerprint replaces both checks: the
 * certificate is accepted when its fingerprint matches, whoever signed it
 * (the usual way to trust a self-signed server). insecure accepts any
 * certificate. A client certificate identifies the bot (SASL EXTERNAL,
 * CertFP).
 *
 * The handshake is non-blocking: transport_tls_handshake is called again
 * each time the socket is ready for t->read_needs, until it returns 0. */
#ifndef BOTHOST_TRANSPORT_TLS_H
#define BOTHOST_TRANSPORT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

/* Bytes of a SHA-256 fingerprint. */
#define TRANSPORT_TLS_PIN_LEN 32

struct transport_tls_config {
	const char *host;		/* the server's name or address as configured */
	bool insecure;			/* accept any certificate */
	const unsigned char *pin;	/* TRANSPORT_TLS_PIN_LEN bytes, or NULL */
	const char *ca_file;		/* PEM CA certificates; NULL: the system's */
	const char *cert_file;		/* PEM client certificate (chain), or NULL */
	const char *key_file;		/* its PEM key; NULL: in cert_file */
};

/* A TLS transport owning the connected socket fd, its handshake not yet
 * started. 0, or -errno (-ENOMEM, -EINVAL when a certificate, key or CA
 * file cannot be used) with why (size n) saying what failed; fd is then
 * left open. */
int transport_tls_new(int fd, const struct transport_tls_config *c, struct transport **ret,
		      char *why, size_t n);
/* Go on with the handshake: 0 once it is complete and the certificate
 * accepted, -EAGAIN (wait until the socket is ready for t->read_needs),
 * or another -errno (-EPROTO, -EPERM when the certificate is refused,
 * -ECONNRESET) with why (size n) saying what failed. */
int transport_tls_handshake(struct transport *t, char *why, size_t n);
/* After the handshake: "TLSv1.3 TLS_AES_256_GCM_SHA384" and how the
 * certificate was accepted, into buf (size n). Returns buf. */
const char *transport_tls_describe(const struct transport *t, char *buf, size_t n);

/* Parse a SHA-256 fingerprint: 64 hex digits, optionally in pairs
 * separated by ':' (the form `openssl x509 -fingerprint -sha256` prints),
 * any case. 0 or -EINVAL. */
int transport_tls_parse_pin(const char *s, unsigned char pin[TRANSPORT_TLS_PIN_LEN]);

#endif
