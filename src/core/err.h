/*
 * err.h - the one return convention of strata.
 *
 * Every function that can fail returns an int: 0 on success, a negative code
 * on failure. System errors are the negated errno value (-ECONNREFUSED, ...);
 * strata's own codes lie below ERR_BASE so the two never overlap.
 *
 * ERR_AGAIN is not a failure: it means "nothing can be done now, try again
 * when the event loop says the descriptor is ready" (nginx's NGX_AGAIN).
 * Callers are expected to handle it as a normal outcome.
 */
#ifndef STRATA_ERR_H
#define STRATA_ERR_H

#include <errno.h>

#define ERR_OK     0
#define ERR_AGAIN  (-EAGAIN)   /* would block: wait for readiness */

#define ERR_BASE   (-4096)
#define ERR_PARSE  (ERR_BASE - 1)  /* malformed input */
#define ERR_LIMIT  (ERR_BASE - 2)  /* input exceeds a configured limit */
#define ERR_CONFIG (ERR_BASE - 3)  /* invalid configuration */
#define ERR_NOSERV (ERR_BASE - 4)  /* no server available */
#define ERR_CLOSED (ERR_BASE - 5)  /* the peer closed the connection */
#define ERR_TLS    (ERR_BASE - 6)  /* TLS handshake or record failure */
#define ERR_CLOCK  (ERR_BASE - 7)  /* the clock is behind what was already issued */
#define ERR_LEASE  (ERR_BASE - 8)  /* past a bound not yet made durable: extend it, try again */

/* Negated errno of the last system call, for `return err_sys();`. */
#define err_sys() (-errno)

/*
 * err_is_shortage - the process or the system ran out of a resource
 * (descriptors, socket buffers, memory): a local condition that says
 * nothing about the peer, and that waiting may cure.
 */
static inline int err_is_shortage(int rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM;
}

/*
 * err_str - a static, human-readable description of a return code.
 * Never returns NULL; the string lives for the whole program.
 */
const char *err_str(int rc);

#endif
