/*
 * limit.h - rate limiting in the load balancer (docs/RATELIMIT.md): the
 * generation's [ratelimit NAME] rules (or --rate-limit), each a policy of
 * algo/ratelimit.h with a shared key table (algo/rltable.h).
 *
 * Rules are checked in order; every matching rule counts the request, and
 * the first that denies it decides; local rules are decided before the
 * shared ones, which the store decides together. http requests are matched by path
 * prefix, header or pool and keyed by client address, a header or a
 * cookie; tcp connections by pool only and keyed by client address (rules
 * that need HTTP are skipped for them). A request without the key a rule
 * counts by is not counted by it.
 */
#ifndef STRATA_LB_LIMIT_H
#define STRATA_LB_LIMIT_H

#include "core/buf.h"
#include "lb/lb-t.h"
#include "net/rclient.h"
#include "proto/http1.h"

/* limit_build - the generation's rules. A rule whose name, scope, policy
 * and max-keys (and local-allowance) are those of a rule of the previous
 * generation `prev` (NULL at start) shares its keys, so a reload keeps
 * counting; other rules start empty. 0, or -ENOMEM with a message in err.
 * limit_free releases them. */
int limit_build(struct lb_gen *g, const struct lb_gen *prev, char *err, size_t errlen);
void limit_free(struct lb_gen *g);

/*
 * limit_tcp / limit_http - count a new connection from `peer` to pool
 * index `pool` (tcp), or a request routed to pool `pool` with path
 * path[0..path_len) (http), under every rule that matches it.
 *
 * Local rules decide at once. Returns the rule that refuses (with its
 * decision in *res, for the 429), or NULL. When allowed, *v says which rule
 * is closest to refusing and how long `mode = delay` rules want the request
 * held (the leaky bucket's queueing delay, so requests leave at the rule's
 * rate; its burst bounds the queue).
 *
 * Shared rules (scope = shared) that match are asked of the store in one
 * call, made on worker w's client: v->call.client is then set, and the
 * caller holds the request until fn(arg, rc, reply) runs (an rclient_fn),
 * passing what it gets to limit_answer, or until the generation's
 * store_timeout_ms passes, then calling limit_timeout. When the call cannot
 * be made (the store is known to be down) the rules' on-store-error
 * decides at once, with a metric and a log line.
 */
const struct lb_limit *limit_tcp(struct lb_worker *w, struct lb_gen *g, int pool,
				 const struct sock_addr *peer, struct rl_result *res,
				 struct limit_verdict *v, rclient_fn fn, void *arg);
const struct lb_limit *limit_http(struct lb_worker *w, struct lb_gen *g, int pool,
				  const struct http1_request *req, const char *path, size_t path_len,
				  const struct sock_addr *peer, struct rl_result *res,
				  struct limit_verdict *v, rclient_fn fn, void *arg);

/*
 * limit_answer - fold the store's answer (rc and reply, as fn got them)
 * into v: the shared rules' decisions, in order, counted in their metrics.
 * Returns the rule that refuses (decision in *res) or NULL. A failed call
 * or an error reply is decided by each rule's on-store-error.
 */
const struct lb_limit *limit_answer(struct lb_gen *g, struct limit_verdict *v, int rc,
				    const struct resp_value *reply, struct rl_result *res);

/* limit_timeout - the store did not answer within the bounded wait: cancel
 * the call and decide by on-store-error (as limit_answer). */
const struct lb_limit *limit_timeout(struct lb_gen *g, struct limit_verdict *v,
				     struct rl_result *res);

/* limit_abandon - the request is gone: cancel its call, if any. */
void limit_abandon(struct limit_verdict *v);

/* limit_worker_release - close worker w's store clients (at exit). */
void limit_worker_release(struct lb_worker *w);

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
