/*
 * access.h - the HTTP access log: one line per request, text or JSON (the
 * global log-format), to stdout, stderr or a file (the global access-log).
 *
 * Lines are gathered in a per-worker buffer and written with one write(2)
 * after each batch of events, so logging costs no system call per request
 * under load; whole lines only, so workers sharing the file never interleave
 * within a line.
 */
#ifndef STRATA_LB_ACCESS_H
#define STRATA_LB_ACCESS_H

#include <stdint.h>

#include "lb/lb-t.h"

struct access_entry {
	const struct sock_addr *client;
	const char *method;          /* NUL-terminated copies, may be truncated */
	const char *target;
	int minor;                   /* HTTP/1.<minor> */
	int status;                  /* 0: none was sent (connection aborted) */
	uint64_t bytes;              /* response bytes sent to the client */
	const char *pool, *server;   /* NULL when no server was involved */
	uint64_t duration_us;
	const char *request_id;
};

/*
 * access_log_open - "off" sets *fd to -1; "stdout" and "stderr" use those;
 * anything else is a file opened for appending (created 0644).
 * Returns 0, or ERR_CONFIG with a one-line message in err.
 */
int access_log_open(const char *where, int *fd, char *err, size_t errlen);

/* access_log_write - queue one line on worker `w` (nothing when the log is
 * off); it reaches the log after the current batch of events. */
void access_log_write(struct lb_worker *w, const struct access_entry *e);

/* access_log_flush - write what `w` has queued now. */
void access_log_flush(struct lb_worker *w);

#endif
