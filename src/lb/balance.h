/*
 * balance.h - choosing a server for a new connection.
 *
 * A server is a candidate when it is up and not in `tried` (the servers a
 * connection already failed to reach). The algorithms, by config name:
 *
 *  roundrobin  smooth weighted round robin (nginx's): each pick adds every
 *              candidate's weight to its current value, takes the largest,
 *              and subtracts the total from it. Weights 5,1,1 give
 *              a a b a c a a: exact proportions, spread out. Equal weights
 *              give plain round robin. One short lock per pick.
 *  leastconn   fewest active connections per unit of weight, (active+1)/w;
 *              ties go round the pool so equal servers share the load.
 *  source      the client's IP address hashed onto the pool's consistent-
 *              hash ring (160 points per unit of weight): a client stays on
 *              one server, and a server that goes down moves only its own
 *              clients (to the next server clockwise). With
 *              hash-balance-factor P (bounded loads), a server at P% of the
 *              mean active connections per weight is skipped the same way.
 *  leasttime   lowest (ewma+1) x (active+1) / weight, where ewma is the
 *              moving average of connect + first-byte time; a server with
 *              no sample yet is tried first.
 *  random2     power of two choices: two distinct random candidates, the
 *              one with fewer (active+1)/weight wins.
 *  hash        (http) a request key - URI, path, a header or a cookie -
 *              on the same ring as source, with the same bounded loads;
 *              a request without the key goes round robin.
 */
#ifndef STRATA_LB_BALANCE_H
#define STRATA_LB_BALANCE_H

#include "lb/lb-t.h"
#include "net/sock.h"

/*
 * balance_pick - the pool's choice for a connection or request, or NULL
 * when no candidate remains. `key` is the hash that source and hash place
 * on the ring (balance_addr_hash of the client, or ring_hash of the
 * request key); NULL when there is none (those two then go round robin).
 * The caller accounts the connection (active++). Called on worker
 * threads; `w` supplies per-thread random state.
 */
struct lb_server *balance_pick(struct lb_pool *p, struct lb_worker *w, const uint64_t *key,
			       struct lb_server *const *tried, int ntried);

/* balance_addr_hash - the ring hash of a client's IP address (not port). */
uint64_t balance_addr_hash(const struct sock_addr *client);

/* balance_random - the worker's next pseudo-random number (rng_next). */
uint64_t balance_random(struct lb_worker *w);

/* balance_ring_build - (re)build the pool's ring from its servers. 0 or -ENOMEM. */
int balance_ring_build(struct lb_pool *p);

#endif
