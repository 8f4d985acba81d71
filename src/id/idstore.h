/*
 * idstore.h - what a Snowflake generator keeps on its host: a lock, so two
 * processes never run as the same (datacenter, worker), and the timestamp
 * of the last ID issued, so a restart with a clock behind it is caught.
 *
 * The lock is host-wide: the name "strata-id/D/W" in the abstract socket
 * namespace (per network namespace), bound while the process lives and
 * released however it ends; `id-D-W.lock` in the directory (flock) guards
 * the state file as well. The state is `id-D-W.state`, one line
 * "LAST_MS clean|running". The state is written every second while running
 * and with "clean" at shutdown (each time to a temporary file, fsynced and
 * renamed over the old one). After a crash the IDs of the last second may
 * be newer than the file says, so the floor is the saved time plus the
 * save interval.
 */
#ifndef STRATA_IDSTORE_H
#define STRATA_IDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDSTORE_SAVE_MS 1000

struct idstore;

/*
 * idstore_open - take the lock of (dc, worker) in `dir` and read its state.
 * 0 with *out and *floor_ms (Unix ms no ID may be at or before; 0 on a first
 * run); -EEXIST when another process holds the lock; ERR_PARSE for a state
 * file that is not strata's; another negative errno when the directory or
 * files cannot be used. On failure a one-line reason is in err.
 * idstore_close releases the lock (without saving).
 */
int idstore_open(const char *dir, uint64_t dc, uint64_t worker, struct idstore **out,
		 uint64_t *floor_ms, char *err, size_t errlen);
void idstore_close(struct idstore *s);

/* idstore_save - record `last_ms` (clean: at shutdown). 0 or a negative errno. */
int idstore_save(struct idstore *s, uint64_t last_ms, bool clean);

/* idstore_path - the state file's path (for log lines). */
const char *idstore_path(const struct idstore *s);

#endif
