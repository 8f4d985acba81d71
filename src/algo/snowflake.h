/*
 * snowflake.h - Twitter Snowflake IDs (chapter 7): 64-bit, unique across
 * generators without coordination, sortable by time.
 *
 *   0 | time: ms since the epoch | datacenter | worker | sequence
 *
 * With the default layout (41/5/5/12 bits) a generator issues at most 4096
 * IDs per millisecond for 69 years from its epoch (Twitter's, 2010-11-04,
 * unless configured). IDs of one generator strictly increase; generators
 * with different (datacenter, worker) never collide.
 *
 * The hot path takes no lock: the generator's last (time, sequence) is one
 * atomic word advanced by compare-and-swap, so threads share a generator.
 * When the sequence of a millisecond is used up, sf_next waits for the next
 * millisecond. The clock going backwards never yields a duplicate or a
 * smaller ID: a step back within the tolerance is waited out (sf_next
 * sleeps it off), a larger one makes sf_next fail with ERR_CLOCK until the
 * clock is past the last ID again. A floor (the last timestamp persisted
 * by a previous run) is honoured the same way, so a restart with a clock
 * behind it is detected too; a ceiling (how far the persisted time
 * reaches) keeps a run from issuing IDs a crash would not know of.
 *
 * The clock and the sleep are injectable, so tests can step time exactly.
 */
#ifndef STRATA_SNOWFLAKE_H
#define STRATA_SNOWFLAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_TWITTER_EPOCH_MS 1288834974657ULL   /* 2010-11-04T01:42:54.657Z */

struct sf_layout {
	unsigned time_bits, dc_bits, worker_bits, seq_bits;  /* sum to 63 */
	uint64_t epoch_ms;                                   /* Unix ms */
};

#define SF_LAYOUT_DEFAULT { 41, 5, 5, 12, SF_TWITTER_EPOCH_MS }

/* sf_layout_check - 0 when the bit widths sum to 63 with at least 30 time
 * bits and 1 sequence bit, else ERR_CONFIG with a one-line reason. */
int sf_layout_check(const struct sf_layout *l, char *err, size_t errlen);

/* Injectable time: Unix milliseconds, and a sleep of `ms` milliseconds. */
typedef uint64_t (*sf_clock_fn)(void *arg);
typedef void (*sf_sleep_fn)(void *arg, uint64_t ms);

/* sf_real_clock - the default clock: CLOCK_REALTIME in Unix ms (arg unused). */
uint64_t sf_real_clock(void *arg);

struct sf_config {
	struct sf_layout layout;
	uint64_t datacenter, worker;     /* each within its bits */
	uint64_t tolerance_ms;           /* a step back this small is waited out */
	uint64_t floor_ms;               /* Unix ms: IDs only from the next ms on (0: none) */
	sf_clock_fn clock;               /* NULL: CLOCK_REALTIME */
	sf_sleep_fn sleep;               /* NULL: nanosleep */
	void *arg;                       /* for clock and sleep */
};

struct sf_gen;

/*
 * sf_create - a generator. 0 and *out, ERR_CONFIG for a bad layout or a
 * datacenter/worker that does not fit its bits, -ENOMEM. sf_destroy frees.
 */
int sf_create(const struct sf_config *c, struct sf_gen **out);
void sf_destroy(struct sf_gen *g);

/*
 * sf_next - the next ID. Thread-safe and lock-free. Returns 0 and *id;
 * ERR_CLOCK when the clock is behind the last ID (or the floor) by more
 * than the tolerance (sf_behind_ms says by how much), or before the epoch;
 * ERR_LEASE when the ID's millisecond is at or past the ceiling; ERR_LIMIT
 * when the time bits are used up (the epoch is too old).
 */
int sf_next(struct sf_gen *g, uint64_t *id);

/* sf_set_ceiling - IDs only at Unix ms below `ms` from now on (UINT64_MAX,
 * the default: no bound); past it sf_next fails with ERR_LEASE. A service
 * raises it only after making `ms` durable, so a floor read after a crash
 * is never below an issued ID. Thread-safe. */
void sf_set_ceiling(struct sf_gen *g, uint64_t ms);

/* sf_last_ms - the Unix ms of the last ID issued (or the floor): what to
 * persist so a restart can be checked. */
uint64_t sf_last_ms(const struct sf_gen *g);

/* sf_behind_ms - how far the clock was behind at the last ERR_CLOCK. */
uint64_t sf_behind_ms(const struct sf_gen *g);

/* sf_max_per_ms - IDs one generator can issue per millisecond. */
uint64_t sf_max_per_ms(const struct sf_layout *l);

struct sf_parts {
	uint64_t unix_ms, datacenter, worker, sequence;
};

/* sf_parse - the fields of `id` under layout l. */
void sf_parse(const struct sf_layout *l, uint64_t id, struct sf_parts *out);

#endif
