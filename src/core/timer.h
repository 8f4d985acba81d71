/*
 * timer.h - timers ordered in a binary min-heap, with the node embedded in
 * the object that owns the timer (as nginx embeds its rbtree node in the
 * event). Arming, re-arming and cancelling are O(log n) and allocate only
 * when the heap's pointer array grows.
 *
 * A timer is owned by its embedding object; the heap only points to it, so
 * an object must cancel its timers before it is freed.
 */
#ifndef STRATA_TIMER_H
#define STRATA_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t);

struct timer {
	uint64_t deadline_ms;  /* monotonic milliseconds */
	uint64_t seq;          /* arming order: equal deadlines fire first-armed first */
	size_t slot;           /* index in the heap + 1; 0 = not armed */
	timer_fn fn;
};

struct timer_heap {
	struct timer **items;
	size_t count;
	size_t cap;
	uint64_t seq;          /* the last arming's sequence number */
};

/* Set the callback once; the timer starts unarmed. */
static inline void timer_init(struct timer *t, timer_fn fn)
{
	t->deadline_ms = 0;
	t->seq = 0;
	t->slot = 0;
	t->fn = fn;
}

static inline bool timer_armed(const struct timer *t) { return t->slot != 0; }

/*
 * timer_arm - (re)arm `t` to fire at `deadline_ms`. An armed timer is moved.
 * Returns 0, or -ENOMEM when the heap cannot grow (the timer stays unarmed).
 */
int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ms);

/* timer_cancel - disarm `t`; a no-op when it is not armed. */
void timer_cancel(struct timer_heap *h, struct timer *t);

/* Deadline of the earliest timer, or UINT64_MAX when none is armed. */
uint64_t timer_next(const struct timer_heap *h);

/*
 * timer_expire - disarm and run, in deadline order, every timer due at
 * `now_ms` that was armed before this call. A callback may arm or cancel
 * any timer, itself included; one it arms for a deadline already due runs
 * at the next call, so a callback that re-arms itself with no delay (to
 * yield) lets the loop look at I/O in between instead of spinning here.
 * Returns the number of callbacks run.
 */
size_t timer_expire(struct timer_heap *h, uint64_t now_ms);

/* Free the heap's array (the timers themselves belong to their owners). */
void timer_heap_free(struct timer_heap *h);

#endif
