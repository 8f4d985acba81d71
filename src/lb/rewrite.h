/*
 * rewrite.h - how the L7 proxy changes message heads on the way through
 * (RFC 9110 section 7.6): hop-by-hop fields removed both ways - Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade and every field that
 * Connection names (except the framing fields and Host) - and the proxy's
 * own fields added.
 *
 * The writers append to a buf (its sticky oom flag reports failure); the
 * parsed heads they read point into the caller's input buffer.
 */
#ifndef STRATA_LB_REWRITE_H
#define STRATA_LB_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "proto/http1.h"

struct rewrite_request {
	const char *target;          /* the target to forward (origin-form) */
	size_t target_len;
	const char *client_ip;       /* appended to X-Forwarded-For */
	bool https;                  /* X-Forwarded-Proto: https, else http */
	bool upgrade;                /* keep the Upgrade the client asked for */
	const char *request_id;      /* X-Request-Id when the request has none */
};

/*
 * rewrite_request_head - the request head as a server gets it: the request
 * line with rw->target, the client's fields less hop-by-hop ones (and less
 * Expect on HTTP/1.0), one X-Forwarded-For (earlier values, then the
 * client), X-Forwarded-Proto, Via (earlier values, then "1.1 strata"),
 * X-Request-Id when absent, and Connection: Upgrade with the client's
 * Upgrade when upgrading.
 */
void rewrite_request_head(struct buf *out, const struct http1_request *req,
			  const struct rewrite_request *rw);

struct rewrite_response {
	const char *cookie_name;     /* Set-Cookie NAME=VALUE; Path=/ (NULL: none) */
	const char *cookie_value;
	bool close_client;           /* Connection: close */
	int client_minor;            /* 0: an HTTP/1.0 client, told of keep-alive and never
				      * sent Transfer-Encoding (RFC 9112 6.1), whose body
				      * goes out decoded */
	const char *extra;           /* more fields, each ending in CRLF (NULL: none) */
	size_t extra_len;
};

/*
 * rewrite_response_head - the response head as the client gets it: the
 * server's status line (`raw` is the head as received), its fields less
 * hop-by-hop ones, "1.1 strata" added to Via, the sticky cookie, and the
 * Connection field strata's decision needs (Upgrade for a 101).
 */
void rewrite_response_head(struct buf *out, const struct http1_response *res, const char *raw,
			   const struct rewrite_response *rw);

/*
 * rewrite_target - check the request target's form (RFC 9112 section 3.2)
 * and set the target to forward: origin-form (/...) as is; absolute-form
 * (http://host/path) becomes origin-form, and its authority must equal the
 * Host field (`host`, NULL when absent) so the two cannot disagree; `*`
 * only with OPTIONS. Returns 0, or 400 to refuse the request with.
 */
int rewrite_target(const struct http1_request *req, const char *host, size_t host_len,
		   const char **target, size_t *target_len);

#endif
