/*
 * metrics.h - a metrics registry exported in the Prometheus text format
 * (version 0.0.4).
 *
 * Components keep their numbers where they are updated (plain atomics in
 * their own structs, so the hot path pays one relaxed add) and register a
 * collector that writes them out on demand with the writers below. The
 * registry is process-wide; registration happens at start-up or under the
 * owner's own synchronisation, rendering from the admin endpoint.
 */
#ifndef STRATA_METRICS_H
#define STRATA_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"

/* Latency histogram with fixed bounds, in seconds, from 100 us to 10 s. */
#define METRICS_HIST_BOUNDS 14

struct metrics_hist {
	_Atomic uint64_t buckets[METRICS_HIST_BOUNDS + 1];  /* last: +Inf */
	_Atomic uint64_t sum_us;
	_Atomic uint64_t count;
};

/* Record one observation of `us` microseconds (thread-safe, lock-free). */
void metrics_hist_observe(struct metrics_hist *h, uint64_t us);

/* Upper bound of bucket i in seconds (i < METRICS_HIST_BOUNDS). */
double metrics_hist_bound(int i);

typedef void (*metrics_collect_fn)(struct buf *out, void *arg);

/*
 * metrics_register - add a collector called by metrics_render with `arg`.
 * Returns 0 or -ENOMEM. metrics_unregister removes the first collector
 * registered with the same fn and arg.
 */
int metrics_register(metrics_collect_fn fn, void *arg);
void metrics_unregister(metrics_collect_fn fn, void *arg);

/* metrics_render - every collector's output, in registration order. */
void metrics_render(struct buf *out);

/* Writers for collectors. `labels` is "" or `key="value",...` already
 * escaped (see metrics_label_escape). */
void metrics_family(struct buf *out, const char *name, const char *type, const char *help);
void metrics_sample(struct buf *out, const char *name, const char *labels, uint64_t value);
void metrics_sample_f(struct buf *out, const char *name, const char *labels, double value);
void metrics_hist_write(struct buf *out, const char *name, const char *labels,
			const struct metrics_hist *h);

/* Escape `s` for use inside a label value (\\, \" and \n). */
void metrics_label_escape(struct buf *out, const char *s);

#endif
