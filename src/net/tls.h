/*
 * tls.h - TLS termination with OpenSSL 3: a server context built from one
 * or more certificates (SNI chooses among them), and non-blocking
 * connections over it.
 *
 * Connections are driven by the caller's event loop: every function that
 * would block returns ERR_AGAIN, and the caller retries on the next
 * readiness event of the socket. OpenSSL may hold decrypted bytes that the
 * socket no longer signals, so a reader must keep calling tls_read until it
 * returns ERR_AGAIN (never treat a short read as "drained").
 */
#ifndef STRATA_TLS_H
#define STRATA_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct tls_server;
typedef struct ssl_st tls_conn;

struct tls_cert_files {
	const char *cert;    /* PEM: the certificate, then its chain */
	const char *key;     /* PEM private key; NULL or "" when in `cert` */
};

/*
 * tls_server_create - a server context for `n` certificates (1..).
 * TLS 1.2 and 1.3; ALPN answers "http/1.1" (and nothing when the client
 * offers only other protocols); SNI selects the first certificate whose
 * names match the requested host, else the first one.
 * Returns 0 and sets *out, or ERR_CONFIG with a one-line reason in err
 * (unreadable file, key not matching the certificate, ...).
 */
int tls_server_create(const struct tls_cert_files *certs, int n, struct tls_server **out,
		      char *err, size_t errlen);

/* tls_server_destroy - free the context; connections made from it keep
 * their own references and may outlive it. NULL is ignored. */
void tls_server_destroy(struct tls_server *s);

/*
 * tls_accept - start the server side of a connection on socket `fd`
 * (which stays the caller's). Returns 0 and sets *out, or -ENOMEM.
 */
int tls_accept(struct tls_server *s, int fd, tls_conn **out);

/*
 * tls_handshake - advance the handshake. 0 once complete, ERR_AGAIN to
 * wait for the socket, ERR_TLS when it failed (close the connection).
 */
int tls_handshake(tls_conn *c);

/*
 * tls_read / tls_write - like recv/send: bytes moved (> 0), 0 from tls_read
 * when the peer closed, ERR_AGAIN, or ERR_TLS / a negative errno.
 */
ssize_t tls_read(tls_conn *c, void *buf, size_t len);
ssize_t tls_write(tls_conn *c, const void *buf, size_t len);

/* tls_shutdown - send close_notify, best effort, without waiting. */
void tls_shutdown(tls_conn *c);

/* tls_free - free the connection state (not the socket). NULL is ignored. */
void tls_free(tls_conn *c);

/* tls_version - "TLSv1.3" etc. of an established connection. */
const char *tls_version(const tls_conn *c);

#endif
