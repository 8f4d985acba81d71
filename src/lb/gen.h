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

/*
 * Listening sockets are closed as soon as nothing accepts on them, not when
 * the last connection of their generation ends: a listener dropped by a
 * reload must refuse clients at once and free its port for a later reload.
 * `watchers` counts the worker loops that have the socket registered, plus
 * one held by the main thread while the listener is in the current
 * generation; whoever brings it to zero closes the socket.
 *
 * gen_listener_watch / gen_listener_unwatch - a worker registers or has
 * deregistered the socket (unwatch after loop_del).
 */
void gen_listener_watch(struct lb_listener *l);
void gen_listener_unwatch(struct lb_listener *l);

/*
 * gen_retire - on the main thread, after `cur` replaced `old`: every
 * listener of `old` that `cur` does not have stops accepting now
 * (shutdown: new clients are refused) and loses the main thread's hold.
 */
void gen_retire(struct lb_gen *old, struct lb_gen *cur);

/* gen_active - connections open on this generation's listeners now. */
int64_t gen_active(const struct lb_gen *g);

#endif
