/*
 * signals.h - SIGINT, SIGTERM and SIGHUP delivered as loop events.
 *
 * signals_block must run in the main thread before any other thread is
 * created, so that every thread inherits the blocked mask and the signals
 * reach only the signalfd watched by the main loop. SIGPIPE is ignored
 * process-wide: a write to a closed peer is an EPIPE to handle, not a death.
 */
#ifndef STRATA_SIGNALS_H
#define STRATA_SIGNALS_H

#include "core/loop.h"

struct signals;

/* Called on the loop's thread with the signal number. */
typedef void (*signals_fn)(void *arg, int signo);

/* signals_block - block INT/TERM/HUP in this thread and ignore SIGPIPE. */
void signals_block(void);

/*
 * signals_create - watch INT/TERM/HUP on `l` through a signalfd and call
 * fn(arg, signo) for each. Returns 0 and sets *out, or a negative errno.
 */
int signals_create(struct loop *l, signals_fn fn, void *arg, struct signals **out);
void signals_destroy(struct signals *s);

#endif
