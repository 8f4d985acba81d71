/*
 * kvserver.h - `strata kv`: the single-node key-value server (chapter 6's
 * starting point, chapter 1's cache and session tier), speaking the Redis
 * protocol (RESP2, RESP3 after HELLO 3) so Redis clients work unchanged.
 *
 * Worker loops (--threads) read, parse and answer clients; commands run one
 * at a time under the keyspace's lock. The main loop handles signals and a
 * timer that runs active expiry and incremental rehashing (and the lmdb
 * engine's retries and syncs) ten times a second. The server's
 * own commands are here; the data commands are in kvcmd.c.
 */
#ifndef STRATA_KVSERVER_H
#define STRATA_KVSERVER_H

#include "kv/kv-t.h"

/* kvserver_main - `strata kv ...`; returns the exit code. */
int kvserver_main(int argc, char **argv);

/* INFO [section...], CONFIG GET|SET|RESETSTAT, HELLO, AUTH: replies in c. */
void kvserver_info(struct kv_ctx *c);
void kvserver_config(struct kv_ctx *c);
void kvserver_hello(struct kv_ctx *c);
void kvserver_auth(struct kv_ctx *c);

#endif
