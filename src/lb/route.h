/*
 * route.h - choosing a pool for an HTTP request: the listener's `route`
 * lines in order, the first whose conditions all hold, else the listener's
 * default pool (docs/CONFIG.md, "Routing").
 */
#ifndef STRATA_LB_ROUTE_H
#define STRATA_LB_ROUTE_H

#include <stddef.h>

#include "lb/conf.h"
#include "proto/http1.h"

/* The parts of a request that routes look at. */
struct route_request {
	const struct http1_request *req;   /* method and header fields */
	const char *path;                  /* the target's path, without query */
	size_t path_len;
	const char *host;                  /* Host without port; may be empty */
	size_t host_len;
};

/*
 * route_request_init - what routes look at in `req`: the target to forward
 * (origin-form, target[0..target_len)) without its query, and the Host
 * field's value (host, NULL when absent) without its port.
 */
void route_request_init(struct route_request *r, const struct http1_request *req,
			const char *host, size_t host_len, const char *target, size_t target_len);

/* route_select - the index in c->pools of the pool for `r` arriving on
 * listener index `listener`. */
int route_select(const struct lb_conf *c, int listener, const struct route_request *r);

#endif
