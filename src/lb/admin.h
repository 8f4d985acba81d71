/*
 * admin.h - the load balancer's admin endpoints, served by httpd on the
 * main thread:
 *
 *   GET /metrics   Prometheus text: per-server state, active and total
 *                  connections, bytes each way, connect errors, health
 *                  transitions, connect-latency histogram; per-listener
 *                  active, total and refused connections
 *   GET /stats     the same as one JSON object (see docs/LB.md)
 *   GET /healthz   200 "ok" while running, 503 while draining
 *
 * Anything else is 404; a method other than GET or HEAD is 405.
 */
#ifndef STRATA_LB_ADMIN_H
#define STRATA_LB_ADMIN_H

#include "lb/lb-t.h"
#include "net/httpd.h"

/* admin_handle - the httpd handler; `arg` is the struct lb. */
void admin_handle(void *arg, const struct http1_request *req, struct httpd_reply *reply);

/* admin_collect - the metrics collector; `arg` is the struct lb. */
void admin_collect(struct buf *out, void *arg);

/* admin_stats_json - the /stats document for the current generation. */
void admin_stats_json(struct lb *lb, struct buf *out);

#endif
