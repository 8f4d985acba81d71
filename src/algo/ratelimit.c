#include "algo/ratelimit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef unsigned __int128 u128;

static const char *const algo_names[] = { "token", "leaky", "fixed", "log", "sliding", "gcra" };

const char *rl_algo_name(enum rl_algo a)
{
	return algo_names[a];
}

int rl_algo_parse(const char *name, enum rl_algo *out)
{
	for (size_t i = 0; i < sizeof(algo_names) / sizeof(algo_names[0]); i++)
		if (strcmp(name, algo_names[i]) == 0) {
			*out = (enum rl_algo)i;
			return 0;
		}
	return ERR_CONFIG;
}

int rl_policy_check(const struct rl_policy *p, char *err, size_t errlen)
{
	if (p->limit < 1 || p->period_ns < 1) {
		snprintf(err, errlen, "the limit and the period must be at least 1");
		return ERR_CONFIG;
	}
	if ((p->algo == RL_TOKEN || p->algo == RL_LEAKY || p->algo == RL_GCRA) && p->burst < 1) {
		snprintf(err, errlen, "%s needs a burst of at least 1", algo_names[p->algo]);
		return ERR_CONFIG;
	}
	if (p->algo == RL_LOG && p->limit > RL_LOG_MAX) {
		snprintf(err, errlen, "the sliding log keeps at most %d requests per key", RL_LOG_MAX);
		return ERR_CONFIG;
	}
	if (p->algo == RL_GCRA && p->period_ns / p->limit == 0) {
		snprintf(err, errlen, "gcra needs at least 1 ns between requests (period / limit)");
		return ERR_CONFIG;
	}
	return 0;
}

/* ceil(a / b) for b > 0, saturated to 64 bits. */
static uint64_t div_up(u128 a, u128 b)
{
	u128 q = (a + b - 1) / b;
	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

static uint64_t saturate(u128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/*
 * Token and leaky bucket share their arithmetic: amounts are kept
 * multiplied by the period, so a refill of elapsed x limit is exact.
 * For the token bucket `level` is the tokens left; for the leaky bucket the
 * water in it, i.e. the capacity minus that.
 */
static void bucket(const struct rl_policy *p, struct rl_state *st, uint64_t now, uint64_t cost,
		   struct rl_result *r)
{
	u128 P = p->period_ns, cap = (u128)p->burst * P, need = (u128)cost * P;
	bool leaky = p->algo == RL_LEAKY;
	if (!st->used) {
		st->level = leaky ? 0 : cap;
		st->t = now;
		st->used = true;
	}
	u128 flow = (u128)(now > st->t ? now - st->t : 0) * p->limit;
	st->t = now > st->t ? now : st->t;
	u128 tokens = leaky ? cap - (flow >= st->level ? 0 : st->level - flow)
			    : (st->level + flow > cap ? cap : st->level + flow);
	r->limit = p->burst;
	r->allowed = tokens >= need;
	if (r->allowed) {
		r->delay_ns = leaky ? div_up(cap - tokens, p->limit) : 0;
		tokens -= need;
	} else {
		r->retry_after_ns = need > cap ? UINT64_MAX : div_up(need - tokens, p->limit);
	}
	st->level = leaky ? cap - tokens : tokens;
	r->remaining = saturate(tokens / P);
	r->reset_after_ns = div_up(cap - tokens, p->limit);
}

static void fixed_window(const struct rl_policy *p, struct rl_state *st, uint64_t now,
			 uint64_t cost, struct rl_result *r)
{
	if (st->used && now < st->t)
		now = st->t;  /* a clock read behind the window: the same instant */
	uint64_t start = now - now % p->period_ns;
	if (start != st->t || !st->used) {
		st->t = start;
		st->count = 0;
		st->used = true;
	}
	uint64_t left = start + p->period_ns - now;
	r->limit = p->limit;
	r->allowed = st->count + cost <= p->limit && cost <= p->limit;
	if (r->allowed)
		st->count += cost;
	else
		r->retry_after_ns = cost > p->limit ? UINT64_MAX : left;
	r->remaining = p->limit - st->count;
	r->reset_after_ns = st->count ? left : 0;
}

/*
 * Sliding window counter: the estimate at `e` ns into the current window is
 * prev x (P - e) / P + count, kept multiplied by P to stay exact.
 */
static void sliding_window(const struct rl_policy *p, struct rl_state *st, uint64_t now,
			   uint64_t cost, struct rl_result *r)
{
	if (st->used && now < st->t)
		now = st->t;
	uint64_t P = p->period_ns, start = now - now % P;
	if (!st->used) {
		st->t = start;
		st->count = st->prev = 0;
		st->used = true;
	} else if (start != st->t) {
		st->prev = start - st->t == P ? st->count : 0;
		st->count = 0;
		st->t = start;
	}
	uint64_t e = now - start;
	u128 limit = (u128)p->limit * P;
	u128 est = (u128)st->prev * (P - e) + (u128)st->count * P;
	r->limit = p->limit;
	r->allowed = est + (u128)cost * P <= limit;
	if (r->allowed) {
		st->count += cost;
		est += (u128)cost * P;
	} else if (cost > p->limit) {
		r->retry_after_ns = UINT64_MAX;
	} else if (st->count + cost <= p->limit) {
		/* Later in this window, once the previous one weighs little enough:
		 * prev x (P - e') <= (limit - cost - count) x P. */
		u128 room = (u128)(p->limit - cost - st->count) * P;
		uint64_t e2 = P - saturate(room / st->prev);
		r->retry_after_ns = e2 > e ? e2 - e : 1;
	} else {
		/* In the next window, where this window's count is the previous one. */
		u128 room = (u128)(p->limit - cost) * P;
		uint64_t e2 = st->count ? P - saturate(room / st->count) : 0;
		r->retry_after_ns = (P - e) + e2;
	}
	r->remaining = est >= limit ? 0 : saturate((limit - est) / P);
	r->reset_after_ns = st->count ? 2 * P - e : st->prev ? P - e : 0;
}

static int sliding_log(const struct rl_policy *p, struct rl_state *st, uint64_t now, uint64_t cost,
		       struct rl_result *r)
{
	uint32_t cap = (uint32_t)p->limit;
	r->limit = p->limit;
	if (!st->log) {
		st->log = malloc(cap * sizeof(*st->log));
		if (!st->log) {
			r->allowed = false;
			return -ENOMEM;
		}
		st->head = st->len = 0;
	}
	if (st->len && now < st->log[(st->head + st->len - 1) % cap])
		now = st->log[(st->head + st->len - 1) % cap];
	/* Forget what left the window: entries at or before now - period. */
	while (st->len && now - st->log[st->head] >= p->period_ns) {
		st->head = (st->head + 1) % cap;
		st->len--;
	}
	r->allowed = st->len + cost <= p->limit;
	if (r->allowed) {
		for (uint64_t i = 0; i < cost; i++)
			st->log[(st->head + st->len++) % cap] = now;
	} else if (cost > p->limit) {
		r->retry_after_ns = UINT64_MAX;
	} else {
		/* The oldest len + cost - limit entries must leave first. */
		uint64_t k = st->len + cost - p->limit;
		r->retry_after_ns = st->log[(st->head + k - 1) % cap] + p->period_ns - now;
	}
	r->remaining = p->limit - st->len;
	r->reset_after_ns = st->len ? st->log[(st->head + st->len - 1) % cap] + p->period_ns - now : 0;
	return 0;
}

/*
 * GCRA as redis-cell computes it: emission interval T = period / limit,
 * tolerance T x burst; the key's theoretical arrival time (TAT) moves on by
 * T x cost per allowed request.
 */
static void gcra(const struct rl_policy *p, struct rl_state *st, uint64_t now, uint64_t cost,
		 struct rl_result *r)
{
	u128 T = p->period_ns / p->limit, dvt = T * p->burst, inc = T * cost;
	u128 tat = st->t > now ? st->t : now;
	u128 new_tat = tat + inc;
	u128 ttl;
	r->limit = p->burst;
	r->allowed = new_tat <= now + dvt;
	if (r->allowed) {
		st->t = saturate(new_tat);
		ttl = new_tat - now;
	} else {
		r->retry_after_ns = inc > dvt ? UINT64_MAX : saturate(new_tat - dvt - now);
		ttl = tat - now;
	}
	r->remaining = ttl >= dvt ? 0 : saturate((dvt - ttl) / T);
	r->reset_after_ns = saturate(ttl);
}

uint64_t rl_policy_most(const struct rl_policy *p)
{
	return p->algo == RL_TOKEN || p->algo == RL_LEAKY || p->algo == RL_GCRA ? p->burst : p->limit;
}

int rl_decide(const struct rl_policy *p, struct rl_state *st, uint64_t now_ns, uint64_t cost,
	      struct rl_result *out)
{
	memset(out, 0, sizeof(*out));
	switch (p->algo) {
	case RL_TOKEN:
	case RL_LEAKY:
		bucket(p, st, now_ns, cost, out);
		return 0;
	case RL_FIXED:
		fixed_window(p, st, now_ns, cost, out);
		return 0;
	case RL_SLIDING:
		sliding_window(p, st, now_ns, cost, out);
		return 0;
	case RL_LOG:
		return sliding_log(p, st, now_ns, cost, out);
	case RL_GCRA:
		gcra(p, st, now_ns, cost, out);
		return 0;
	}
	return 0;
}

void rl_state_free(struct rl_state *st)
{
	free(st->log);
	st->log = NULL;
	st->head = st->len = 0;
}

/* Whole seconds of a signed duration, truncated toward zero. */
static int64_t whole_seconds(__int128 ns)
{
	return (int64_t)(ns / 1000000000);
}

uint64_t rl_cell_throttle(struct rl_state *st, uint64_t now_ns, int64_t max_burst, int64_t count,
			  int64_t period_s, int64_t quantity, struct rl_cell_reply *out)
{
	__int128 now = now_ns, T = (__int128)period_s * 1000000000 / count;
	__int128 dvt = T * (max_burst + 1), inc = T * quantity;
	__int128 tat = st->used ? (__int128)st->t : now;
	__int128 new_tat = (now > tat ? now : tat) + inc;
	__int128 diff = now - (new_tat - dvt), ttl;
	out->limit = max_burst + 1;
	out->retry_after_s = -1;
	if (whole_seconds(diff) < 0) {
		out->limited = 1;
		if (inc <= dvt)
			out->retry_after_s = whole_seconds(-diff);
		ttl = tat - now;
	} else {
		out->limited = 0;
		st->t = saturate((u128)new_tat);  /* a TAT past 2^64 ns stays the furthest one */
		st->used = true;
		ttl = new_tat - now;
	}
	__int128 next = dvt - ttl;
	/* redis-cell divides microseconds as floating point and truncates, and
	 * Rust's cast saturates: x / 0.0 (an interval under 1 us) is the
	 * largest number, or 0 for 0 / 0. */
	double q = T / 1000 ? (double)(next / 1000) / (double)(T / 1000)
			    : next / 1000 > 0 ? (double)INT64_MAX : 0.0;
	out->remaining = next <= -T ? 0 : q >= (double)INT64_MAX ? INT64_MAX : (int64_t)q;
	out->reset_after_s = whole_seconds(ttl);
	tat = st->used ? (__int128)st->t : now;
	return tat > now ? (uint64_t)tat : now_ns + 1;
}
