/*
 * kvdisk.h - the lmdb engine's durability: the keyspace written through to
 * LMDB (Debian's liblmdb) under a directory, so a restart recovers it.
 *
 * The keys live in memory (kvstore.h) as with the memory engine; every key
 * a command changes is noted, and kvdisk_commit appends the state of all
 * keys noted since the last commit to a write-ahead log (kvlog.h) - one
 * append per batch of loop events, before the batch's replies go out
 * (group commit). About once a second (kvdisk_tick) or when the log passes
 * 64 MB, a checkpoint writes every logged key to LMDB in one transaction
 * and empties the log; at open, LMDB is loaded and the log replayed. A
 * record in LMDB is the key -> 8-byte expiry (Unix ms, 0 none) + the
 * value, so TTLs persist; expired records are dropped when loaded.
 *
 *   always     the log is fdatasynced before any reply, the checkpoint
 *              synced: an acknowledged write survives a crash of the
 *              process or the host
 *   everysec   the log is not synced, the checkpoint is: a host crash
 *              loses at most about the last second
 *   no         nothing is synced by strata: the OS writes back when it
 *              likes (a host crash may lose more, as LMDB's MDB_NOSYNC)
 *
 * A process crash (SIGKILL) loses nothing acknowledged in any mode: the
 * log is in the OS's page cache. The map grows (doubling) when full.
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

/* kvdisk_commit - log every noted key's state (while failing: try the
 * checkpoint again). 0, or a negative code (the replies waiting on it must
 * not be sent; see kvdisk_error). */
int kvdisk_commit(struct kv_disk *d);

/* kvdisk_tick - once a second: the checkpoint. */
void kvdisk_tick(struct kv_disk *d);

/* kvdisk_error - the last commit's failure ("" when none); kvdisk_failed -
 * did it fail (writes are then refused until one succeeds); kvdisk_commits -
 * commits so far. */
const char *kvdisk_error(const struct kv_disk *d);
bool kvdisk_failed(const struct kv_disk *d);
uint64_t kvdisk_commits(const struct kv_disk *d);

/* kvdisk_failures - how many times the store went from working to failing:
 * a batch that began before a change of it may hold writes that were
 * accepted and never logged. */
uint64_t kvdisk_failures(const struct kv_disk *d);

#endif
