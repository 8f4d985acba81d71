#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/err.h"

#define TLS_MAX_CERTS 16

struct tls_server {
	SSL_CTX *ctx[TLS_MAX_CERTS];   /* ctx[0] answers when SNI matches none */
	X509 *leaf[TLS_MAX_CERTS];     /* borrowed from each ctx */
	int n;
};

static void openssl_reason(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char reason[160] = "unknown error";
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(err, errlen, "tls: %s %s: %s", what, path, reason);
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
	(void)alert;
	struct tls_server *s = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (!name)
		return SSL_TLSEXT_ERR_OK;
	for (int i = 0; i < s->n; i++) {
		if (X509_check_host(s->leaf[i], name, 0, 0, NULL) == 1) {
			if (i)
				SSL_set_SSL_CTX(ssl, s->ctx[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	static const unsigned char ours[] = "\x08http/1.1";
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *make_ctx(const struct tls_cert_files *f, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		openssl_reason(err, errlen, "cannot create a context for", f->cert);
		return NULL;
	}
	const char *key = f->key && *f->key ? f->key : f->cert;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1) {
		openssl_reason(err, errlen, "cannot load certificate", f->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		openssl_reason(err, errlen, "cannot load key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_reason(err, errlen, "key does not match certificate", f->cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_server_create(const struct tls_cert_files *certs, int n, struct tls_server **out,
		      char *err, size_t errlen)
{
	if (n < 1 || n > TLS_MAX_CERTS) {
		snprintf(err, errlen, "tls: between 1 and %d certificates", TLS_MAX_CERTS);
		return ERR_CONFIG;
	}
	struct tls_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "tls: out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		s->ctx[i] = make_ctx(&certs[i], err, errlen);
		if (!s->ctx[i]) {
			tls_server_destroy(s);
			return ERR_CONFIG;
		}
		s->leaf[i] = SSL_CTX_get0_certificate(s->ctx[i]);
		s->n++;
	}
	/* Only the default context sees the ClientHello's SNI. */
	SSL_CTX_set_tlsext_servername_callback(s->ctx[0], on_servername);
	SSL_CTX_set_tlsext_servername_arg(s->ctx[0], s);
	*out = s;
	return 0;
}

void tls_server_destroy(struct tls_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		SSL_CTX_free(s->ctx[i]);
	free(s);
}

int tls_accept(struct tls_server *s, int fd, tls_conn **out)
{
	SSL *ssl = SSL_new(s->ctx[0]);
	if (!ssl)
		return -ENOMEM;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	SSL_set_accept_state(ssl);
	*out = ssl;
	return 0;
}

/* Map an SSL_get_error result after a call that returned `rc`. */
static int failure(SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return ERR_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default:
		ERR_clear_error();
		return ERR_TLS;
	}
}

int tls_handshake(tls_conn *c)
{
	ERR_clear_error();
	int rc = SSL_do_handshake(c);
	if (rc == 1)
		return 0;
	int f = failure(c, rc);
	return f == ERR_AGAIN ? ERR_AGAIN : ERR_TLS;
}

ssize_t tls_read(tls_conn *c, void *buf, size_t len)
{
	ERR_clear_error();
	errno = 0;
	int n = SSL_read(c, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	int rc = failure(c, n);
	/* An EOF without close_notify is still the end of the stream here:
	 * HTTP frames its own messages. */
	if (rc == -ECONNRESET && errno == 0)
		return 0;
	return rc;
}

ssize_t tls_write(tls_conn *c, const void *buf, size_t len)
{
	ERR_clear_error();
	errno = 0;
	int n = SSL_write(c, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	int rc = failure(c, n);
	return rc == 0 ? -EPIPE : rc;
}

void tls_shutdown(tls_conn *c)
{
	ERR_clear_error();
	if (SSL_is_init_finished(c))
		SSL_shutdown(c);
	ERR_clear_error();
}

void tls_free(tls_conn *c)
{
	SSL_free(c);
}

const char *tls_version(const tls_conn *c)
{
	return SSL_get_version(c);
}
