/*
 * gen.h - building, sharing and retiring generations of the configuration.
 *
 * A generation is built on the main thread from a validated lb_conf. Its
 * listeners and servers are taken over from the previous generation where
 * they match (same listener address; same pool, server name, address and
 * weight), so a reload keeps their sockets, health and counters; everything
 * else is new. Each connection holds a reference to the generation it was
 * accepted in, so a retired generation lives until its last connection ends.
 */
#ifndef STRATA_LB_GEN_H
#define STRATA_LB_GEN_H

#include "lb/lb-t.h"

/*
 * gen_create - build a generation from `conf` (ownership passes to the
 * generation, also on failure) reusing objects of `prev` (may be NULL).
 * Opens new listening sockets. Returns 0 and sets *out (one reference), or
 * a negative code with a one-line message in err.
 */
int gen_create(struct lb_conf *conf, struct lb_gen *prev, struct lb_gen **out,
	       char *err, size_t errlen);

void gen_ref(struct lb_gen *g);
/* gen_unref - drop a reference; the last one frees the generation and
 * releases its listeners (closing sockets no generation uses) and servers. */
void gen_unref(struct lb_gen *g);

/* gen_active - connections open on this generation's listeners now. */
int64_t gen_active(const struct lb_gen *g);

#endif
