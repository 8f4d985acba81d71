/*
 * kvlog.h - the write-ahead log of the lmdb engine.
 *
 * An LMDB commit rewrites the B-tree pages of every changed key (and,
 * synced, syncs twice); an append-only log writes only the changed keys
 * (and syncs once). So each batch's changes are appended here before its
 * replies - made durable (fdatasync) with `--fsync always`, left to the
 * page cache otherwise - and applied to LMDB in one transaction about
 * once a second (a checkpoint, synced unless `--fsync no`), after which
 * the log starts again empty. At start, what LMDB holds is loaded and the log
 * replayed on top: every record carries a key's whole state, so applying
 * records twice is harmless.
 *
 * The file is DIR/wal, a sequence of records:
 *
 *   u32 length of the body | u32 XXH32 of the body | body
 *   body: u8 type | u32 key length | i64 expiry (Unix ms, 0: none) | key | value
 *   type: 1 the key is set, 2 the key is gone, 3 every key is gone
 *
 * (in the host's byte order). A record cut short by a crash, or one whose
 * checksum does not match, ends the replay: a batch cut short was not
 * acknowledged. What follows such a record is reported (kvlog_unread) and
 * can be kept aside (kvlog_keep) before the log is reset.
 */
#ifndef STRATA_KVLOG_H
#define STRATA_KVLOG_H

#include <stdbool.h>
#include <stddef.h>

#include "kv/kvstore.h"

struct kv_log;

/*
 * kvlog_open - open (creating) DIR/wal. 0 and *out, or a negative errno
 * with a one-line reason in err. kvlog_close closes it (a batch not yet
 * written is dropped; what was written stays in the file).
 */
int kvlog_open(const char *dir, struct kv_log **out, char *err, size_t errlen);
void kvlog_close(struct kv_log *l);

/*
 * kvlog_replay - apply every whole record of the file to s, in order
 * (keys set, deleted, all deleted; keys already expired by s's clock are
 * deleted), up to the first that is cut short or damaged. Returns the
 * number of records applied, or a negative errno (-ENOMEM, a read error).
 * kvlog_unread - the bytes left after the last record applied.
 * kvlog_keep - a hard link to the file as it is (DIR/wal.damaged-SECONDS),
 * for an operator to look at; returns its name or why there is none.
 */
long kvlog_replay(struct kv_log *l, struct kv_store *s);
size_t kvlog_unread(const struct kv_log *l);

/* kvlog_apply - kvlog_replay on `size` bytes in memory: *used is where the
 * whole records applied end. The number applied, or -ENOMEM. */
long kvlog_apply(const char *data, size_t size, struct kv_store *s, size_t *used);
const char *kvlog_keep(struct kv_log *l);

/* kvlog_set / kvlog_del / kvlog_del_all - append a record to the batch in
 * memory (written by kvlog_write). 0, -EFBIG for a record over 4 GB, or
 * -ENOMEM; after a failure the caller drops the batch (kvlog_discard). */
int kvlog_set(struct kv_log *l, const struct kv_entry *e);
int kvlog_del(struct kv_log *l, const void *key, size_t len);
int kvlog_del_all(struct kv_log *l);

/*
 * kvlog_write - write the batch, and with `sync` fdatasync the file: 0 once
 * it is in the file (on disk, with sync). On failure (a negative errno) the
 * file is cut back to where the batch began, so the next batch does not
 * follow a torn record, and the batch is dropped.
 */
int kvlog_write(struct kv_log *l, bool sync);

/* kvlog_discard - drop the batch not yet written. */
void kvlog_discard(struct kv_log *l);

/* kvlog_size - bytes in the file. */
size_t kvlog_size(const struct kv_log *l);

/*
 * kvlog_reset - start an empty log (once its records are in LMDB, synced):
 * a new empty file renamed over the old one, the directory synced. 0, or a
 * negative errno (the caller stays failed and tries again; the old log,
 * if still in place, holds no acknowledged write LMDB lacks).
 */
int kvlog_reset(struct kv_log *l);

#endif
