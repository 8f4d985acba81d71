/*
 * kv-t.h - the key-value server's runtime types, apart from the functions
 * (as lb/lb-t.h):
 *
 *   struct kv_server   the process: settings, the main loop (signals, cron),
 *                      the worker loops with their RESP servers (clients
 *                      are read, parsed and answered in parallel; commands
 *                      run one at a time under the keyspace's lock, as
 *                      Redis's I/O threads), the keyspace, counters
 *   struct kv_ctx      one command being run: its server, client, arguments
 *                      and where the reply goes
 */
#ifndef STRATA_KV_T_H
#define STRATA_KV_T_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/loop.h"
#include "kv/kvstore.h"
#include "net/respd.h"
#include "net/sock.h"
#include "proto/resp.h"

struct rl_table;
struct signals;
struct kv_disk;
struct workers;

#define KV_MAX_THREADS 64

struct kv_server {
	/* settings (flags, -c FILE, CONFIG SET) */
	struct sock_addr listen;
	char listen_text[SOCK_ADDR_STRLEN];
	char requirepass[512];            /* "": none */
	bool protected_mode;
	uint64_t max_bulk;                /* proto-max-bulk-len */
	bool lmdb;                        /* --engine lmdb: written through to --dir */
	char dir[4096];
	int fsync;                        /* enum kv_fsync */
	int threads;                      /* loops serving clients */
	/* runtime */
	struct loop *loop;                /* main thread: signals, cron */
	struct workers *workers;          /* one loop per thread, each with a respd */
	struct respd *respds[KV_MAX_THREADS];
	pthread_mutex_t lock;             /* the keyspace: one command at a time */
	int listen_fd;
	struct signals *signals;
	struct timer cron;                /* active expiry, rehashing: 10 times a second */
	struct kv_store store;
	struct kv_disk *disk;             /* lmdb engine */
	size_t max_key;                   /* 0: any length; lmdb: its key limit */
	unsigned ticks;
	struct rl_table *throttle;        /* CL.THROTTLE's keys */
	uint64_t started_ms;
	uint64_t hits, misses, commands, rejected_oom;  /* INFO stats, reset by RESETSTAT */
};

struct kv_ctx {
	struct kv_server *srv;
	struct kv_store *store;           /* &srv->store, the one a command works on */
	struct respd_client *cl;
	const struct resp_command *cmd;
	struct buf *out;
};

#endif
