/*
 * loop.h - the event loop: one per thread, over epoll.
 *
 * Descriptors are registered with a `struct loop_io` embedded in their owner;
 * the callback gets the io and the ready events and finds its owner with
 * container_of. Registration is level-triggered unless LOOP_EDGE is given.
 * strata's proxies register connections edge-triggered for reading and
 * writing once and keep their own readiness flags, so that steady-state
 * forwarding needs no epoll_ctl calls; listeners stay level-triggered so a
 * backlog not drained in one pass is reported again.
 *
 * Timers (see timer.h) run on the loop's clock, a monotonic millisecond
 * counter refreshed once per iteration (loop_now).
 *
 * Objects that may still have events pending in the current batch are freed
 * through loop_defer, which runs after the batch.
 *
 * loop_post is the only function that may be called from another thread.
 */
#ifndef STRATA_LOOP_H
#define STRATA_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "core/timer.h"

#define LOOP_READ      EPOLLIN
#define LOOP_WRITE     EPOLLOUT
#define LOOP_RDHUP     EPOLLRDHUP
#define LOOP_HUP       EPOLLHUP
#define LOOP_ERR       EPOLLERR
#define LOOP_EDGE      EPOLLET
#define LOOP_EXCLUSIVE EPOLLEXCLUSIVE  /* wake one of the loops sharing the fd */

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

struct loop;
struct loop_io;
typedef void (*loop_io_fn)(struct loop_io *io, uint32_t events);

struct loop_io {
	int fd;
	loop_io_fn fn;
};

struct loop_deferred {
	struct loop_deferred *next;
	void (*fn)(struct loop_deferred *d);
};

/*
 * loop_create - a new loop with its epoll and wake-up descriptors.
 * Returns 0 and sets *out, or a negative errno. Free with loop_destroy.
 */
int loop_create(struct loop **out);

/* loop_destroy - close the loop's descriptors and free it. Registered
 * descriptors are not closed: they belong to their owners. Pending posts are
 * dropped. */
void loop_destroy(struct loop *l);

/*
 * loop_run - dispatch events and timers until loop_stop is called.
 * Returns 0, or a negative errno if epoll_wait fails for a reason other
 * than EINTR.
 */
int loop_run(struct loop *l);

/* loop_stop - make loop_run return after the current iteration. */
void loop_stop(struct loop *l);

/* Monotonic milliseconds as of the start of this iteration. */
uint64_t loop_now(const struct loop *l);

/* Fresh monotonic clock readings (not cached). */
uint64_t loop_clock_ms(void);
uint64_t loop_clock_ns(void);

/* loop_wall_ms - Unix milliseconds (CLOCK_REALTIME, not cached): for what
 * is stored or shown as a date, never for timeouts. */
uint64_t loop_wall_ms(void);

/*
 * loop_add / loop_mod / loop_del - register, change or remove `io->fd` for
 * `events` (LOOP_* flags). Return 0 or a negative errno. The io struct must
 * stay valid until loop_del or until its fd is closed.
 */
int loop_add(struct loop *l, struct loop_io *io, uint32_t events);
int loop_mod(struct loop *l, struct loop_io *io, uint32_t events);
int loop_del(struct loop *l, struct loop_io *io);

/* Arm `t` to fire `delay_ms` from now; see timer_arm. */
int loop_timer_arm(struct loop *l, struct timer *t, uint64_t delay_ms);
void loop_timer_cancel(struct loop *l, struct timer *t);

/* Run d->fn(d) after the current batch of events (once per call). */
void loop_defer(struct loop *l, struct loop_deferred *d);

/*
 * loop_post - from any thread, ask the loop to call fn(arg) on its own
 * thread. Returns 0 or -ENOMEM. Calls run in the order posted.
 */
int loop_post(struct loop *l, void (*fn)(void *arg), void *arg);

#endif
