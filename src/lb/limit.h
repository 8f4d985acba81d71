/*
 * limit.h - rate limiting in the load balancer (docs/RATELIMIT.md): the
 * generation's [ratelimit NAME] rules (or --rate-limit), each a policy of
 * algo/ratelimit.h with a shared key table (algo/rltable.h).
 *
 * Rules are checked in order; every matching rule counts the request, and
 * the first that denies it decides. http requests are matched by path
 * prefix, header or pool and keyed by client address, a header or a
 * cookie; tcp connections by pool only and keyed by client address (rules
 * that need HTTP are skipped for them). A request without the key a rule
 * counts by is not counted by it.
 */
#ifndef STRATA_LB_LIMIT_H
#define STRATA_LB_LIMIT_H

#include "core/buf.h"
#include "lb/lb-t.h"
#include "proto/http1.h"

/* limit_build - the generation's rules with empty tables. 0, or -ENOMEM
 * with a message in err. limit_free releases them. */
int limit_build(struct lb_gen *g, char *err, size_t errlen);
void limit_free(struct lb_gen *g);

/*
 * limit_tcp - may a new connection from `peer` to pool index `pool` go on?
 * NULL when it may; else the rule that denies it.
 */
const struct lb_limit *limit_tcp(struct lb_gen *g, int pool, const struct sock_addr *peer);

/* What the rules said of an allowed request: the tightest rule (fewest
 * remaining) for the response's RateLimit fields, and the delay. */
struct limit_verdict {
	const struct lb_limit *tightest;  /* NULL when no rule counted it */
	struct rl_result res;             /* the tightest rule's decision */
	uint64_t delay_ns;                /* mode = delay: hold it this long first */
};

/*
 * limit_http - the same for a request routed to pool `pool` with path
 * path[0..path_len); on a denial *res has the rule's decision (for the 429).
 * When allowed, *v says which rule is closest to refusing and how long
 * `mode = delay` rules want the request held (the leaky bucket's queueing
 * delay, so requests leave at the rule's rate; its burst bounds the queue).
 */
const struct lb_limit *limit_http(struct lb_gen *g, int pool, const struct http1_request *req,
				  const char *path, size_t path_len, const struct sock_addr *peer,
				  struct rl_result *res, struct limit_verdict *v);

/*
 * limit_headers - the rate-limit fields of a 429 from rule `l` (each line
 * ending in CRLF): Retry-After, the IETF draft's RateLimit-Policy and
 * RateLimit, and X-RateLimit-Limit/-Remaining/-Reset for older clients.
 */
void limit_headers(struct buf *out, const struct lb_limit *l, const struct rl_result *res);

/* limit_fields - the same fields without Retry-After, for the responses of
 * allowed requests (so clients can pace themselves before a 429). */
void limit_fields(struct buf *out, const struct lb_limit *l, const struct rl_result *res);

/* limit_sweep - drop idle keys of every rule (main thread, periodically). */
void limit_sweep(struct lb_gen *g);

#endif
