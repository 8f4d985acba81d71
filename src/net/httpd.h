/*
 * httpd.h - a small HTTP/1.1 server on the event loop, for strata's own
 * endpoints: the admin API (/metrics, /stats) and `strata echo`.
 *
 * It owns its connections: keep-alive and pipelining, request bodies read
 * and discarded (Content-Length or chunked), an idle timeout, and the error
 * replies of malformed input (400, 431, 413 then close). The handler only
 * fills in a reply.
 *
 * One httpd serves one listening descriptor on one loop; several loops may
 * share a listening descriptor (each with its own httpd), which is how
 * `strata echo --threads N` spreads connections.
 */
#ifndef STRATA_HTTPD_H
#define STRATA_HTTPD_H

#include "core/buf.h"
#include "core/loop.h"
#include "proto/http1.h"

struct httpd;

struct httpd_reply {
	int status;                 /* default 200 */
	const char *content_type;   /* default "text/plain; charset=utf-8" */
	struct buf body;            /* owned by httpd; the handler appends */
};

/* Called once per complete request head, on the loop's thread. */
typedef void (*httpd_handler)(void *arg, const struct http1_request *req,
			      struct httpd_reply *reply);

/*
 * httpd_create - serve `listen_fd` (not owned: the caller closes it after
 * httpd_destroy) on loop `l`, calling `handler(arg, ...)` per request.
 * `shared` registers the listener with LOOP_EXCLUSIVE, for a descriptor
 * watched by several loops. Returns 0 and sets *out, or a negative errno.
 */
int httpd_create(struct loop *l, int listen_fd, bool shared, httpd_handler handler,
		 void *arg, struct httpd **out);

/* httpd_destroy - stop listening and close every connection now. */
void httpd_destroy(struct httpd *h);

#endif
