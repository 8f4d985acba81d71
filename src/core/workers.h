/*
 * workers.h - N threads, each running its own event loop.
 *
 * The loops are created first (workers_create) so the caller can register
 * descriptors and state on each before the threads start; afterwards only
 * loop_post reaches them. Signals are not delivered to worker threads: they
 * inherit the signal mask of the creating thread, which blocks the signals
 * the main loop handles (see signals.h).
 */
#ifndef STRATA_WORKERS_H
#define STRATA_WORKERS_H

#include <pthread.h>

#include "core/loop.h"

struct workers {
	int count;
	struct loop **loops;
	pthread_t *threads;
	int started;
};

/* workers_create - `count` loops (1..256), no threads yet. Returns 0 and sets
 * *out, or a negative errno. */
int workers_create(int count, struct workers **out);

/* workers_start - one thread per loop, running loop_run. Returns 0 or a
 * negative errno (threads already started keep running). */
int workers_start(struct workers *w);

/* workers_stop - ask every loop to stop and join the threads. */
void workers_stop(struct workers *w);

/* workers_destroy - stop if running, then free the loops. */
void workers_destroy(struct workers *w);

/* workers_default_count - the number of online CPUs (at least 1). */
int workers_default_count(void);

#endif
