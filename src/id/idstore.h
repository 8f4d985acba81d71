/*
 * idstore.h - what a Snowflake generator keeps on its host: a lock, so two
 * processes never run as the same (datacenter, worker), and the timestamp
 * of the last ID issued, so a restart with a clock behind it is caught.
 *
 * The lock is host-wide: the name "strata-id/D/W" in the abstract socket
 * namespace (per network namespace), bound while the process lives and
 * released however it ends; `id-D-W.lock` in the directory (flock) guards
 * the state file as well. The state is `id-D-W.state`, one line "MS how":
 *
 *   MS running   a lease: every ID issued has a millisecond below MS
 *   MS clean     written at shutdown: MS is the last ID's millisecond
 *
 * While running, the service renews the lease every IDSTORE_SAVE_MS to
 * IDSTORE_LEASE_MS ahead of the clock and issues no ID past it until the
 * renewal is on disk (sf_set_ceiling), so even after a crash - or while
 * the disk fails - the file is never behind an issued ID. Each write goes
 * to a temporary file, fsynced, renamed over the old one, and the
 * directory fsynced.
 */
#ifndef STRATA_IDSTORE_H
#define STRATA_IDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDSTORE_SAVE_MS 1000
#define IDSTORE_LEASE_MS 1500        /* ahead of the clock at each renewal */

struct idstore;

/*
 * idstore_open - take the lock of (dc, worker) in `dir` and read its state.
 * 0 with *out and *floor_ms (Unix ms no ID may be at or before: the file's
 * MS, clean or not; 0 on a first run); -EEXIST when another process holds the lock; ERR_PARSE for a state
 * file that is not strata's; another negative errno when the directory or
 * files cannot be used. On failure a one-line reason is in err.
 * idstore_close releases the lock (without saving).
 */
int idstore_open(const char *dir, uint64_t dc, uint64_t worker, struct idstore **out,
		 uint64_t *floor_ms, char *err, size_t errlen);
void idstore_close(struct idstore *s);

/* idstore_save - record `ms` durably: a lease (no ID at or after ms will be
 * issued before the next save) or, clean, the last ID's millisecond at
 * shutdown. 0 once it is on disk, or a negative errno (the old state is
 * then intact). */
int idstore_save(struct idstore *s, uint64_t ms, bool clean);

/* idstore_path - the state file's path (for log lines). */
const char *idstore_path(const struct idstore *s);

#endif
