/*
 * kv-t.h - the key-value server's runtime types, apart from the functions
 * (as lb/lb-t.h):
 *
 *   struct kv_server   the process: settings, loop, RESP server, the
 *                      keyspace (memory engine), counters
 *   struct kv_ctx      one command being run: its server, client, arguments
 *                      and where the reply goes
 */
#ifndef STRATA_KV_T_H
#define STRATA_KV_T_H

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
	/* runtime */
	struct loop *loop;
	int listen_fd;
	struct respd *respd;
	struct signals *signals;
	struct timer cron;                /* active expiry, rehashing: 10 times a second */
	struct kv_store store;
	struct kv_disk *disk;             /* lmdb engine */
	size_t max_key;                   /* 0: any length; lmdb: its key limit */
	bool disk_failed;                 /* the last commit failed: writes refused */
	unsigned ticks;
	struct rl_table *throttle;        /* CL.THROTTLE's keys */
	uint64_t started_ms;
	uint64_t hits, misses, commands, rejected_oom;
};

struct kv_ctx {
	struct kv_server *srv;
	struct kv_store *store;
	struct respd_client *cl;
	const struct resp_command *cmd;
	struct buf *out;
};

#endif
