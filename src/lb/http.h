/*
 * http.h - the L7 proxy session: one client connection carrying HTTP/1.x
 * requests, each routed to a pool, balanced to a server and forwarded over
 * a pooled server connection (docs/HTTP.md).
 *
 * A request head is parsed strictly (proto/http1.h) and rewritten: hop-by-
 * hop fields dropped; X-Forwarded-For, X-Forwarded-Proto, Via and
 * X-Request-Id set. Bodies stream in both directions through bounded
 * buffers (a direction reads only while its output is below 64 KiB), framed
 * by Content-Length, chunked coding or, for responses, the server's close.
 * Requests on one connection are handled one at a time, in order, so
 * pipelined requests wait in the input buffer.
 *
 * A server connection returns to the worker's pool only after a complete,
 * unambiguous exchange that both sides framed and kept alive; anything else
 * closes it. Errors strata answers itself (400, 405, 408, 413, 417, 429,
 * 431, 502, 503, 504) close the client connection after the response.
 *
 * Everything runs on the worker thread that accepted the client.
 */
#ifndef STRATA_LB_HTTP_H
#define STRATA_LB_HTTP_H

#include "lb/lb-t.h"

/* Index of lb_listener.errors for the status codes strata answers with. */
enum http_error_slot {
	HTTP_ERR_400, HTTP_ERR_408, HTTP_ERR_413, HTTP_ERR_429, HTTP_ERR_431,
	HTTP_ERR_502, HTTP_ERR_503, HTTP_ERR_504, HTTP_ERR_OTHER,
};

/*
 * http_session_start - take over accepted client socket `fd` from `peer` on
 * listener `a` (an http listener; TLS when the generation has a context for
 * it). Never fails from the caller's point of view: on any error the socket
 * is closed and the listener's counters are settled.
 */
void http_session_start(struct lb_accept *a, int fd, const struct sock_addr *peer);

/*
 * http_worker_drain - on SIGTERM/SIGINT: close the worker's idle client
 * connections now; the others close after their current response.
 */
void http_worker_drain(struct lb_worker *w);

/* http_worker_release - close every session and pooled server connection
 * of the worker. Only once the worker thread has stopped (at exit). */
void http_worker_release(struct lb_worker *w);

/* http_error_status - the status code of an error slot (for metrics). */
int http_error_status(enum http_error_slot slot);

#endif
