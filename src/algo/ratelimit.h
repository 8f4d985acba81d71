/*
 * ratelimit.h - the rate-limiting algorithms of chapter 4 (and GCRA) behind
 * one decision function, on a clock the caller passes in (so tests are
 * exact and a distributed store can supply its own time).
 *
 * A policy allows `limit` units per `period_ns`, with bursts up to `burst`
 * units where the algorithm has a notion of burst. Each key has a struct
 * rl_state the caller keeps (in a table, a store, ...); rl_decide reads and
 * updates it. Costs and counts are whole units; times are nanoseconds.
 *
 *   token     token bucket: capacity `burst`, refilled at limit/period;
 *             a request takes `cost` tokens if there are that many.
 *   leaky     leaky bucket (as a meter, nginx limit_req): a bucket of
 *             capacity `burst` drains at limit/period; a request fits if
 *             its cost still fits, and `delay_ns` says how long it would
 *             wait in the queue to leave at the constant rate.
 *   fixed     fixed window counter: at most `limit` per aligned window of
 *             `period`; allows 2 x limit across a window edge.
 *   log       sliding window log: the times of the allowed units of the
 *             last `period`; exact; memory per key grows with `limit`
 *             (capped at RL_LOG_MAX).
 *   sliding   sliding window counter: the current window's count plus the
 *             previous window's, weighted by how much of it the sliding
 *             window still covers (Cloudflare's approximation).
 *   gcra      generic cell rate algorithm (redis-cell's): one timestamp
 *             per key, the theoretical arrival time; bursts of `burst`.
 *
 * Exact integer arithmetic throughout (128-bit where products need it), so
 * refills never drift: with limit 3 per second, the 4th token is back after
 * exactly 333,333,334 ns (times round up; amounts round down).
 */
#ifndef STRATA_RATELIMIT_H
#define STRATA_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_LOG_MAX 4096          /* sliding log: largest limit */

enum rl_algo { RL_TOKEN, RL_LEAKY, RL_FIXED, RL_LOG, RL_SLIDING, RL_GCRA };

struct rl_policy {
	enum rl_algo algo;
	uint64_t limit;              /* units per period, >= 1 */
	uint64_t period_ns;          /* >= 1 */
	uint64_t burst;              /* token, leaky, gcra: >= 1 (often = limit) */
};

/* Per-key state. Zero-initialised state is a fresh key (full bucket, empty
 * windows); `log` holds RL_LOG's timestamps and is the caller's to free
 * with rl_state_free. */
struct rl_state {
	unsigned __int128 level;     /* token: tokens x period; leaky: water x period */
	uint64_t t;                  /* last update, window start, or TAT */
	uint64_t count, prev;        /* fixed, sliding: this and the previous window */
	uint64_t *log;               /* log: ring of allowed unit times */
	uint32_t head, len;
	bool used;                   /* token, leaky: `level` is set */
};

struct rl_result {
	bool allowed;
	uint64_t limit;              /* the most a client may send at once */
	uint64_t remaining;          /* units allowed right after this decision */
	uint64_t retry_after_ns;     /* denied: when the same cost would pass (0 if allowed) */
	uint64_t reset_after_ns;     /* when the state is back to a fresh key's */
	uint64_t delay_ns;           /* leaky: the queueing delay of an allowed request */
};

/*
 * rl_policy_check - 0 when the policy is usable, else ERR_CONFIG with a
 * one-line reason in err.
 */
int rl_policy_check(const struct rl_policy *p, char *err, size_t errlen);

/* rl_policy_most - the most a client may send at once (rl_result.limit):
 * the burst for token, leaky and gcra, the limit for the windows. */
uint64_t rl_policy_most(const struct rl_policy *p);

/*
 * rl_decide - decide a request of `cost` units (>= 1) for the key whose
 * state is `st` at time `now_ns` (monotonic, never earlier than the key's
 * previous decision; an earlier time is treated as the same instant).
 * Updates the state only when the request is allowed, except for the
 * bookkeeping of elapsed time. Returns 0, or -ENOMEM when RL_LOG cannot
 * allocate its log (the request is then denied).
 */
int rl_decide(const struct rl_policy *p, struct rl_state *st, uint64_t now_ns, uint64_t cost,
	      struct rl_result *out);

/* What CL.THROTTLE answers (redis-cell's five integers). */
struct rl_cell_reply {
	int64_t limited;             /* 1 when refused */
	int64_t limit;               /* max_burst + 1 */
	int64_t remaining;
	int64_t retry_after_s;       /* -1 when allowed (or never possible) */
	int64_t reset_after_s;
};

/*
 * rl_cell_throttle - CL.THROTTLE key max_burst count period quantity on the
 * key's state, with redis-cell's arithmetic to the nanosecond: GCRA with an
 * emission interval of period/count (truncated to whole ns), tolerance
 * interval x (max_burst + 1), a refusal only when the request is at least a
 * whole second early, and durations reported in whole seconds (truncated).
 * Arguments: max_burst >= 0, count >= 1, period_s >= 1, quantity >= 0
 * (0 peeks). Returns the time from which the key is idle (its TAT).
 */
uint64_t rl_cell_throttle(struct rl_state *st, uint64_t now_ns, int64_t max_burst, int64_t count,
			  int64_t period_s, int64_t quantity, struct rl_cell_reply *out);

/* rl_state_free - release what a state holds (RL_LOG's log). */
void rl_state_free(struct rl_state *st);

/* rl_algo_name / rl_algo_parse - "token", "leaky", "fixed", "log",
 * "sliding", "gcra"; parse returns 0 or ERR_CONFIG. */
const char *rl_algo_name(enum rl_algo a);
int rl_algo_parse(const char *name, enum rl_algo *out);

#endif
