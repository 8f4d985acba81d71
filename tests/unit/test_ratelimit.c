/* Rate limiting: exact allow/deny sequences of every algorithm on a fake
 * clock, the fixed window's edge burst, refill rounding, redis-cell's GCRA
 * figures, and the sliding log's guarantee checked by brute force. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "algo/ratelimit.h"
#include "algo/rltable.h"
#include <pthread.h>
#include <stdio.h>
#include "core/err.h"

#define MS 1000000ULL
#define S  1000000000ULL

static struct rl_result decide(const struct rl_policy *p, struct rl_state *st, uint64_t now,
			       uint64_t cost)
{
	struct rl_result r;
	assert_int_equal(rl_decide(p, st, now, cost, &r), 0);
	return r;
}

static void test_token_bucket(void **state)
{
	(void)state;
	struct rl_policy p = { RL_TOKEN, 10, 1 * S, 10 };
	struct rl_state st = { 0 };
	for (int i = 0; i < 10; i++) {
		struct rl_result r = decide(&p, &st, 0, 1);
		assert_true(r.allowed);
		assert_int_equal(r.remaining, 9 - i);
	}
	struct rl_result r = decide(&p, &st, 0, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 100 * MS);   /* one token per 100 ms */
	assert_int_equal(r.reset_after_ns, 1 * S);      /* full again after a second */
	assert_false(decide(&p, &st, 100 * MS - 1, 1).allowed);
	assert_true(decide(&p, &st, 100 * MS, 1).allowed);
	assert_false(decide(&p, &st, 100 * MS, 1).allowed);
	/* A long pause refills to the burst, not beyond. */
	r = decide(&p, &st, 60 * S, 1);
	assert_true(r.allowed);
	assert_int_equal(r.remaining, 9);
	/* A cost above the burst can never pass. */
	r = decide(&p, &st, 61 * S, 11);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, UINT64_MAX);
}

static void test_token_refill_rounding(void **state)
{
	(void)state;
	/* 3 per second: a token every 333,333,333.3 ns, never earlier. */
	struct rl_policy p = { RL_TOKEN, 3, 1 * S, 1 };
	struct rl_state st = { 0 };
	assert_true(decide(&p, &st, 0, 1).allowed);
	struct rl_result r = decide(&p, &st, 0, 1);
	assert_int_equal(r.retry_after_ns, 333333334);
	assert_false(decide(&p, &st, 333333333, 1).allowed);
	assert_true(decide(&p, &st, 333333334, 1).allowed);
	/* No drift: with room for the fractions (burst 3), a bucket emptied at
	 * 0 and polled every microsecond earns exactly 3 tokens in one second,
	 * the last at exactly 1 s. */
	struct rl_policy q = { RL_TOKEN, 3, 1 * S, 3 };
	struct rl_state s3 = { 0 };
	assert_true(decide(&q, &s3, 0, 3).allowed);
	int allowed = 0;
	for (uint64_t t = 1000; t < 1 * S; t += 1000)
		allowed += decide(&q, &s3, t, 1).allowed;
	assert_int_equal(allowed, 2);
	assert_true(decide(&q, &s3, 1 * S, 1).allowed);
}

static void test_leaky_bucket(void **state)
{
	(void)state;
	struct rl_policy p = { RL_LEAKY, 2, 1 * S, 3 };   /* drains 2/s, holds 3 */
	struct rl_state st = { 0 };
	uint64_t delays[3] = { 0, 500 * MS, 1000 * MS };
	for (int i = 0; i < 3; i++) {
		struct rl_result r = decide(&p, &st, 0, 1);
		assert_true(r.allowed);
		assert_int_equal(r.delay_ns, delays[i]);       /* its turn at the constant rate */
	}
	struct rl_result r = decide(&p, &st, 0, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 500 * MS);
	assert_int_equal(r.reset_after_ns, 1500 * MS);
	r = decide(&p, &st, 500 * MS, 1);
	assert_true(r.allowed);
	assert_int_equal(r.delay_ns, 1000 * MS);
	assert_int_equal(r.remaining, 0);
}

static void test_fixed_window_edge_burst(void **state)
{
	(void)state;
	struct rl_policy p = { RL_FIXED, 5, 1 * S, 0 };
	struct rl_state st = { 0 };
	for (int i = 0; i < 5; i++)
		assert_true(decide(&p, &st, 999 * MS, 1).allowed);
	struct rl_result r = decide(&p, &st, 999 * MS, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 1 * MS);      /* the window ends */
	/* The flaw the notes describe: 10 requests within 2 ms across the edge. */
	for (int i = 0; i < 5; i++)
		assert_true(decide(&p, &st, 1000 * MS, 1).allowed);
	r = decide(&p, &st, 1000 * MS, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 1 * S);
	assert_int_equal(r.remaining, 0);
}

static void test_sliding_log_is_exact(void **state)
{
	(void)state;
	struct rl_policy p = { RL_LOG, 5, 1 * S, 0 };
	struct rl_state st = { 0 };
	for (int i = 0; i < 5; i++)
		assert_true(decide(&p, &st, 999 * MS, 1).allowed);
	/* No edge burst: the 5 stay in the window until 1999 ms. */
	struct rl_result r = decide(&p, &st, 1000 * MS, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 999 * MS);
	assert_false(decide(&p, &st, 1999 * MS - 1, 1).allowed);
	r = decide(&p, &st, 1999 * MS, 3);
	assert_true(r.allowed);
	assert_int_equal(r.remaining, 2);
	rl_state_free(&st);

	/* Brute force: on a random trace, never more than `limit` allowed in any
	 * window of one period. */
	struct rl_policy q = { RL_LOG, 20, 100 * MS, 0 };
	struct rl_state s2 = { 0 };
	uint64_t times[4000];
	int n = 0;
	uint64_t t = 0;
	srand(7);
	for (int i = 0; i < 20000 && n < 4000; i++) {
		t += (uint64_t)(rand() % 3000) * 1000;
		if (decide(&q, &s2, t, 1).allowed)
			times[n++] = t;
	}
	for (int i = 0, j = 0; i < n; i++) {
		while (times[i] - times[j] >= q.period_ns)
			j++;
		assert_true(i - j + 1 <= 20);
	}
	rl_state_free(&s2);
}

static void test_sliding_window_counter(void **state)
{
	(void)state;
	struct rl_policy p = { RL_SLIDING, 10, 1 * S, 0 };
	struct rl_state st = { 0 };
	for (int i = 0; i < 10; i++)
		assert_true(decide(&p, &st, 900 * MS, 1).allowed);
	/* At the start of the next window the previous one still counts fully. */
	struct rl_result r = decide(&p, &st, 1000 * MS, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 100 * MS);    /* 10 x 0.9 + 0 + 1 <= 10 at 1100 ms */
	/* Half way, the previous 10 weigh 5: five more pass, the sixth not. */
	for (int i = 0; i < 5; i++)
		assert_true(decide(&p, &st, 1500 * MS, 1).allowed);
	r = decide(&p, &st, 1500 * MS, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 100 * MS);    /* 10 x 0.4 + 5 + 1 = 10 */
	assert_int_equal(r.reset_after_ns, 1500 * MS);
	/* Two idle windows later nothing is remembered. */
	r = decide(&p, &st, 3500 * MS, 10);
	assert_true(r.allowed);
}

static void test_gcra_matches_redis_cell(void **state)
{
	(void)state;
	/* CL.THROTTLE user123 15 30 60 1: burst 15 + 1, 30 per 60 s. */
	struct rl_policy p = { RL_GCRA, 30, 60 * S, 16 };
	struct rl_state st = { 0 };
	uint64_t now = 1000 * S;
	struct rl_result r = decide(&p, &st, now, 1);
	assert_true(r.allowed);
	assert_int_equal(r.limit, 16);
	assert_int_equal(r.remaining, 15);
	assert_int_equal(r.reset_after_ns, 2 * S);
	for (int i = 14; i >= 0; i--) {
		r = decide(&p, &st, now, 1);
		assert_true(r.allowed);
		assert_int_equal(r.remaining, (uint64_t)i);
	}
	r = decide(&p, &st, now, 1);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 2 * S);
	assert_int_equal(r.reset_after_ns, 32 * S);
	assert_true(decide(&p, &st, now + 2 * S, 1).allowed);
	assert_false(decide(&p, &st, now + 2 * S, 1).allowed);
}

static void test_policies_and_names(void **state)
{
	(void)state;
	char err[128];
	struct rl_policy ok = { RL_TOKEN, 10, 1 * S, 20 };
	assert_int_equal(rl_policy_check(&ok, err, sizeof(err)), 0);
	struct rl_policy bad[] = {
		{ RL_TOKEN, 0, 1 * S, 1 }, { RL_FIXED, 1, 0, 0 }, { RL_GCRA, 10, 1 * S, 0 },
		{ RL_LOG, RL_LOG_MAX + 1, 1 * S, 0 }, { RL_GCRA, 10, 5, 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rl_policy_check(&bad[i], err, sizeof(err)), ERR_CONFIG);
	enum rl_algo a;
	for (int i = RL_TOKEN; i <= RL_GCRA; i++) {
		assert_int_equal(rl_algo_parse(rl_algo_name((enum rl_algo)i), &a), 0);
		assert_int_equal(a, i);
	}
	assert_int_equal(rl_algo_parse("bucket", &a), ERR_CONFIG);
}

/* An rl_table_apply callback: the key is idle from *(uint64_t *)arg on. */
static uint64_t idle_at(struct rl_state *st, void *arg)
{
	(void)st;
	return *(uint64_t *)arg;
}

static void test_table_bounds_and_expiry(void **state)
{
	(void)state;
	struct rl_policy p = { RL_TOKEN, 10, 1 * S, 10 };
	struct rl_table *t;
	assert_int_equal(rl_table_create(&p, 1000, &t), 0);
	char key[32];
	struct rl_result r;
	/* Keys are separate: each has its own 10. */
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 10; i++) {
			int n = snprintf(key, sizeof(key), "10.0.0.%d", k);
			assert_int_equal(rl_table_decide(t, key, (size_t)n, 0, 1, &r), 0);
			assert_true(r.allowed);
		}
	assert_false((rl_table_decide(t, "10.0.0.1", 8, 0, 1, &r), r.allowed));
	assert_int_equal(rl_table_keys(t), 3);
	/* Far more keys than the bound: the table never holds more. */
	for (int k = 0; k < 50000; k++) {
		int n = snprintf(key, sizeof(key), "client-%d", k);
		rl_table_decide(t, key, (size_t)n, 1 * MS, 1, &r);
		assert_true(rl_table_keys(t) <= 1000 + 64);
	}
	/* Each took a token at 1 ms: not idle at 50 ms, idle once refilled. */
	rl_table_expire(t, 50 * MS);
	assert_true(rl_table_keys(t) > 900);
	rl_table_expire(t, 101 * MS);
	assert_int_equal(rl_table_keys(t), 0);
	assert_true(rl_table_entry_bytes(t) < 200);
	/* Exactly max_keys keys in use: every one is kept (uneven stripes do
	 * not evict below the bound), so each remembers its spent token. */
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < 1000; k++) {
			int n = snprintf(key, sizeof(key), "user-%d", k);
			rl_table_decide(t, key, (size_t)n, 200 * MS, 1, &r);
			if (r.remaining != (pass ? 8u : 9u))
				fail_msg("key %d forgot its state on pass %d", k, pass);
		}
	assert_int_equal(rl_table_keys(t), 1000);
	/* The sweep drops an idle key even behind one that is still busy
	 * (CL.THROTTLE's keys each have their own period). */
	struct rl_table *mixed;
	assert_int_equal(rl_table_create(&p, 100, &mixed), 0);
	uint64_t day = 86400 * S, second = 1 * S;
	rl_table_apply(mixed, "busy", 4, 0, idle_at, &day);
	rl_table_apply(mixed, "brief", 5, 0, idle_at, &second);
	rl_table_expire(mixed, 2 * S);
	assert_int_equal(rl_table_keys(mixed), 1);
	rl_table_unref(t);
	rl_table_unref(mixed);
}

struct race {
	struct rl_table *t;
	int allowed;
};

static void *hammer(void *arg)
{
	struct race *r = arg;
	struct rl_result res;
	for (int i = 0; i < 20000; i++) {
		rl_table_decide(r->t, "shared", 6, 0, 1, &res);
		r->allowed += res.allowed;
	}
	return NULL;
}

static void test_table_threads_share_one_limit(void **state)
{
	(void)state;
	struct rl_policy p = { RL_GCRA, 1000, 1 * S, 500 };
	struct rl_table *t;
	assert_int_equal(rl_table_create(&p, 100, &t), 0);
	struct race races[4] = { { t, 0 }, { t, 0 }, { t, 0 }, { t, 0 } };
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, &races[i]);
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += races[i].allowed;
	}
	assert_int_equal(total, 500);   /* the burst, exactly, at one instant */
	rl_table_unref(t);
}

/* redis-cell's own test table (max_burst 4, 1 per second): every figure of
 * CL.THROTTLE's reply, including its whole-second truncations. */
static void test_cell_throttle_matches_redis_cell(void **state)
{
	(void)state;
	static const struct {
		uint64_t at_ms;
		int64_t quantity, limited, remaining, retry_s, reset_s;
	} cases[] = {
		{ 0, 6, 1, 5, -1, 0 },          /* never more than the maximum */
		{ 0, 1, 0, 4, -1, 1 },
		{ 0, 1, 0, 3, -1, 2 },
		{ 0, 1, 0, 2, -1, 3 },
		{ 0, 1, 0, 1, -1, 4 },
		{ 0, 1, 0, 0, -1, 5 },
		{ 0, 1, 1, 0, 1, 5 },
		{ 3000, 1, 0, 2, -1, 3 },
		{ 3100, 1, 0, 1, -1, 3 },       /* 3.9 s, truncated */
		{ 4000, 1, 0, 1, -1, 4 },
		{ 8000, 1, 0, 4, -1, 1 },
		{ 9500, 1, 0, 4, -1, 1 },
		{ 9500, 0, 0, 4, -1, 1 },       /* quantity 0 peeks */
		{ 9500, 2, 0, 2, -1, 3 },
		{ 9500, 5, 1, 2, 3, 3 },
	};
	struct rl_state st = { 0 };
	uint64_t start = 1700000000ULL * S;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rl_cell_reply r;
		rl_cell_throttle(&st, start + cases[i].at_ms * MS, 4, 1, 1, cases[i].quantity, &r);
		if (r.limited != cases[i].limited || r.limit != 5 || r.remaining != cases[i].remaining ||
		    r.retry_after_s != cases[i].retry_s || r.reset_after_s != cases[i].reset_s)
			fail_msg("case %zu: got %lld %lld %lld %lld %lld", i, (long long)r.limited,
				 (long long)r.limit, (long long)r.remaining, (long long)r.retry_after_s,
				 (long long)r.reset_after_s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_token_refill_rounding),
		cmocka_unit_test(test_leaky_bucket),
		cmocka_unit_test(test_fixed_window_edge_burst),
		cmocka_unit_test(test_sliding_log_is_exact),
		cmocka_unit_test(test_sliding_window_counter),
		cmocka_unit_test(test_gcra_matches_redis_cell),
		cmocka_unit_test(test_policies_and_names),
		cmocka_unit_test(test_cell_throttle_matches_redis_cell),
		cmocka_unit_test(test_table_bounds_and_expiry),
		cmocka_unit_test(test_table_threads_share_one_limit),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
