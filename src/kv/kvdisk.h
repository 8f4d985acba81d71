/*
 * kvdisk.h - the lmdb engine's durability: the keyspace written through to
 * LMDB (Debian's liblmdb) under a directory, so a restart recovers it.
 *
 * The keys live in memory (kvstore.h) as with the memory engine; every key
 * a command changes is noted, and kvdisk_commit writes all the keys noted
 * since the last commit in one LMDB transaction - one commit per batch of
 * loop events, before the batch's replies go out (group commit). A record
 * is the key -> 8-byte little-endian expiry (Unix ms, 0 none) + the value,
 * so TTLs persist; expired records are dropped when loaded.
 *
 *   always     the batch is on disk before any reply: an acknowledged
 *              write survives a crash of the process or host. The batch
 *              goes to a write-ahead log (kvlog.h, one fdatasync) and to
 *              LMDB in one synced transaction about once a second (a
 *              checkpoint, after which the log starts empty); at open the
 *              log is replayed over what LMDB holds
 *   everysec   as always, but the log is not synced per batch: the
 *              checkpoint (kvdisk_tick) syncs LMDB once a second, and a
 *              host crash loses at most about the last second
 *   no         one LMDB transaction per batch, never synced by strata:
 *              the OS writes back when it likes
 *
 * A process crash (SIGKILL) loses nothing committed in any mode: the data
 * is in the OS's page cache. The map grows (doubling) when full.
 */
#ifndef STRATA_KVDISK_H
#define STRATA_KVDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kvstore.h"

enum kv_fsync { KV_FSYNC_ALWAYS, KV_FSYNC_EVERYSEC, KV_FSYNC_NO };

struct kv_disk;

/* kvdisk_fsync_parse / _name - "always", "everysec", "no"; parse: 0 or -1. */
int kvdisk_fsync_parse(const char *name, enum kv_fsync *out);
const char *kvdisk_fsync_name(enum kv_fsync f);

/*
 * kvdisk_open - open (creating) the store in directory `dir` and load every
 * live key into `s` (whose clock says what has expired), then start noting
 * s's changes. 0 and *out, or a negative code with a one-line reason in
 * err. kvdisk_close commits what is noted and closes.
 */
int kvdisk_open(const char *dir, enum kv_fsync mode, struct kv_store *s, struct kv_disk **out,
		char *err, size_t errlen);
void kvdisk_close(struct kv_disk *d);

/* kvdisk_max_key - the longest key LMDB stores (511 bytes by default). */
size_t kvdisk_max_key(const struct kv_disk *d);

/* kvdisk_commit - write every noted key's state. 0, or a negative code
 * (the replies waiting on it must not be sent; see kvdisk_error). */
int kvdisk_commit(struct kv_disk *d);

/* kvdisk_tick - once a second: sync in everysec mode. */
void kvdisk_tick(struct kv_disk *d);

/* kvdisk_error - the last commit's failure ("" when none); kvdisk_failed -
 * did it fail (writes are then refused until one succeeds); kvdisk_commits -
 * commits so far. */
const char *kvdisk_error(const struct kv_disk *d);
bool kvdisk_failed(const struct kv_disk *d);
uint64_t kvdisk_commits(const struct kv_disk *d);

#endif
