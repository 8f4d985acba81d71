/*
 * server.h - a backend server's shared state: health state machine,
 * connection counters, response-time estimate.
 *
 * Servers are refcounted because a reload hands the same server (same pool,
 * name and address) to the next generation while connections of the old
 * one still update its counters. Every function here is thread-safe.
 */
#ifndef STRATA_LB_SERVER_H
#define STRATA_LB_SERVER_H

#include "lb/lb-t.h"

/* server_create - a new server, up, with one reference. NULL on ENOMEM. */
struct lb_server *server_create(const char *pool_name, const struct conf_server *conf);

void server_ref(struct lb_server *s);
/* server_unref - drop a reference; the last one frees the server. */
void server_unref(struct lb_server *s);

static inline bool server_is_up(const struct lb_server *s)
{
	return atomic_load_explicit(&s->up, memory_order_relaxed);
}

/*
 * server_report - feed one health observation. A down server comes up
 * after `rise` consecutive successes; an up server goes down after `fall`
 * consecutive failures. `source` ("check" or "connect") and `why` are for
 * the log line written on a transition.
 */
void server_report(struct lb_server *s, bool ok, int rise, int fall,
		   const char *source, const char *why);

/*
 * server_observe_time - fold a connect + first-byte time (microseconds)
 * into the EWMA used by leasttime (weight 1/8 for the new sample).
 */
void server_observe_time(struct lb_server *s, uint64_t us);

/*
 * server_connect_failed / server_connected - account the outcome of a
 * proxy's connect to `s` of pool `pc`: counters, the connect-time histogram
 * (`us`, microseconds), and a passive health observation when the pool has
 * health checks. A failure is logged at debug level with its reason `rc`.
 */
void server_connect_failed(struct lb_server *s, const struct conf_pool *pc, int rc);
void server_connected(struct lb_server *s, const struct conf_pool *pc, uint64_t us);

/*
 * server_connect_shortage - a connect to `s` failed for want of strata's
 * own descriptors or memory (rc): not the server's fault, so nothing is
 * counted against it; logged at most every 10 s per worker `w`.
 */
void server_connect_shortage(struct lb_worker *w, struct lb_server *s, int rc);

#endif
