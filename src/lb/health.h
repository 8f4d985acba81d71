/*
 * health.h - active health checks, run on the main thread's loop.
 *
 * Every server of every pool whose health-check is not `none` is checked
 * each `health-interval`: `tcp` succeeds when a connection is accepted;
 * `http:/PATH` sends "GET /PATH HTTP/1.1" and succeeds on a 2xx or 3xx
 * status line. A check that takes longer than the pool's connect-timeout
 * (or the interval, if shorter) fails. Results go to server_report, which
 * applies rise and fall; failed proxied connects feed the same counter
 * (passive checks), so a dead server is taken out by whichever notices first.
 */
#ifndef STRATA_LB_HEALTH_H
#define STRATA_LB_HEALTH_H

#include "lb/lb-t.h"

struct health;

/*
 * health_start - check the servers of generation `g` (referenced until
 * health_stop). Returns 0 and sets *out, or -ENOMEM.
 */
int health_start(struct loop *l, struct lb_gen *g, struct health **out);

/* health_stop - cancel every check in flight and free. NULL is a no-op. */
void health_stop(struct health *h);

#endif
