/*
 * srvconn.h - connections from the L7 proxy to servers, and each worker's
 * pool of idle ones (HTTP keep-alive toward the servers).
 *
 * A connection is either in use by one session (`session` set, events to
 * the session's callback) or idle in its worker's pool, kept in buckets by
 * server. An idle connection has nothing to say: any event on it - data, a
 * FIN, an error - means the server is done with it, and it is closed; so is
 * one idle for the pool's server-keepalive-timeout. A pooled connection
 * holds a reference to its server, so a reload that drops the server
 * cannot free it under the pool.
 *
 * Connections are freed after the current batch of events (loop_defer):
 * an event for a closed one may still be queued, and finds `closed` set.
 * Everything here runs on the worker's thread.
 */
#ifndef STRATA_LB_SRVCONN_H
#define STRATA_LB_SRVCONN_H

#include "lb/http-t.h"

/*
 * srvconn_connect - start a non-blocking connect to `srv`, registered
 * edge-triggered with callback `fn`. Returns 0 and sets *out (not yet
 * connected: `fn` sees the outcome), or a negative errno from socket or
 * connect (err_is_shortage tells strata's own shortages apart).
 */
int srvconn_connect(struct lb_worker *w, struct lb_server *srv, loop_io_fn fn,
		    struct srvconn **out);

/*
 * srvconn_take - an idle pooled connection to `srv`, now the caller's with
 * callback `fn` and assumed writable, or NULL when the pool has none.
 */
struct srvconn *srvconn_take(struct lb_worker *w, struct lb_server *srv, loop_io_fn fn);

/*
 * srvconn_put - give back a connection after a complete exchange: pooled
 * for the next request to its server, or closed when the pool holds
 * `pc->server_keepalive` connections to it already, the server is down, or
 * the process is draining.
 */
void srvconn_put(struct srvconn *sc, const struct conf_pool *pc);

/* srvconn_close - close a connection in use. */
void srvconn_close(struct srvconn *sc);

/* srvconn_close_idle - close every idle connection of the worker. */
void srvconn_close_idle(struct lb_worker *w);

#endif
