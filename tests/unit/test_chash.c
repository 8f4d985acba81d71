/* The consistent-hashing family behind one interface: balance, minimal
 * movement, weights, bounded loads, preference lists, determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "algo/chash.h"
#include "algo/jump.h"

#define KEYS 100000

static uint64_t key(int k)
{
	char buf[32];
	return ring_hash(buf, (size_t)snprintf(buf, sizeof(buf), "key-%d", k));
}

static void build(struct chash *c, enum chash_algo a, int n)
{
	assert_int_equal(chash_init(c, a, 0, 0), 0);
	char name[32];
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		assert_int_equal(chash_add(c, name, 1), i);
	}
}

static void test_every_algorithm_balances_and_moves_minimally(void **state)
{
	(void)state;
	/* peak/mean over 10 nodes and 100k keys, and movement on removing the last node */
	const struct { enum chash_algo a; double peak; double move; } cases[] = {
		{ CHASH_RING, 1.20, 1.0 },       /* 160 vnodes */
		{ CHASH_JUMP, 1.03, 1.0 },
		{ CHASH_MAGLEV, 1.03, 1.10 },    /* Maglev trades a little movement for balance */
		{ CHASH_RENDEZVOUS, 1.03, 1.0 },
	};
	int *before = malloc(KEYS * sizeof(*before));
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		struct chash c;
		build(&c, cases[t].a, 10);
		int load[10] = { 0 };
		for (int k = 0; k < KEYS; k++) {
			before[k] = chash_lookup(&c, key(k));
			assert_in_range(before[k], 0, 9);
			load[before[k]]++;
		}
		int max = 0;
		for (int i = 0; i < 10; i++)
			max = load[i] > max ? load[i] : max;
		if ((double)max / (KEYS / 10) > cases[t].peak)
			fail_msg("%s: peak/mean %.3f", chash_algo_name(cases[t].a), (double)max / (KEYS / 10));

		assert_int_equal(chash_remove(&c, 9), 0);
		int moved = 0;
		for (int k = 0; k < KEYS; k++) {
			int now = chash_lookup(&c, key(k));
			assert_int_not_equal(now, 9);
			if (now != before[k]) {
				moved++;
				/* ring, jump, rendezvous: only the removed node's keys move */
				if (cases[t].move == 1.0)
					assert_int_equal(before[k], 9);
			}
		}
		if (moved > load[9] * cases[t].move)
			fail_msg("%s: moved %d, node 9 held %d", chash_algo_name(cases[t].a), moved, load[9]);
		chash_free(&c);
	}
	free(before);
}

static void test_adding_moves_keys_only_to_the_new_node(void **state)
{
	(void)state;
	enum chash_algo algos[] = { CHASH_RING, CHASH_JUMP, CHASH_RENDEZVOUS };
	int *before = malloc(KEYS * sizeof(*before));
	for (size_t t = 0; t < 3; t++) {
		struct chash c;
		build(&c, algos[t], 7);
		for (int k = 0; k < KEYS; k++)
			before[k] = chash_lookup(&c, key(k));
		assert_int_equal(chash_add(&c, "node-7", 1), 7);
		int moved = 0;
		for (int k = 0; k < KEYS; k++) {
			int now = chash_lookup(&c, key(k));
			if (now != before[k]) {
				assert_int_equal(now, 7);
				moved++;
			}
		}
		/* ideal K/8 = 12500 */
		assert_in_range(moved, 12500 * 7 / 10, 12500 * 13 / 10);
		chash_free(&c);
	}
	free(before);
}

static void test_weights_are_respected(void **state)
{
	(void)state;
	enum chash_algo algos[] = { CHASH_RING, CHASH_MAGLEV, CHASH_RENDEZVOUS };
	for (size_t t = 0; t < 3; t++) {
		struct chash c;
		assert_int_equal(chash_init(&c, algos[t], 0, 0), 0);
		chash_add(&c, "small", 1);
		chash_add(&c, "big", 3);
		int load[2] = { 0 };
		for (int k = 0; k < KEYS; k++)
			load[chash_lookup(&c, key(k))]++;
		double share = (double)load[1] / KEYS;   /* expected 0.75 */
		if (share < 0.70 || share > 0.80)
			fail_msg("%s: weight-3 node got %.3f", chash_algo_name(algos[t]), share);
		chash_free(&c);
	}
}

static void test_bounded_loads_never_exceed_the_bound(void **state)
{
	(void)state;
	const double eps[] = { 0.05, 0.25, 1.0 };
	for (size_t e = 0; e < 3; e++) {
		struct chash c;
		assert_int_equal(chash_init(&c, CHASH_BOUNDED, 16, 0), 0);
		char name[32];
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "node-%d", i);
			chash_add(&c, name, 1);
		}
		uint64_t cap = (uint64_t)((1 + eps[e]) * KEYS / 10 + 0.999);
		for (int k = 0; k < KEYS; k++)
			assert_int_not_equal(chash_assign(&c, key(k), cap), -1);
		for (int i = 0; i < 10; i++)
			assert_true(c.nodes[i].load <= cap);
		chash_free(&c);
	}
}

static int zone_of(void *arg, uint32_t node)
{
	(void)arg;
	return (int)(node % 3);   /* nodes 0,3,6 in zone 0; 1,4,7 in zone 1; ... */
}

static void test_preference_lists(void **state)
{
	(void)state;
	struct ring r;
	ring_init(&r, 64);
	char name[32];
	for (uint32_t i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "node-%u", i);
		ring_add(&r, i, name, 1);
	}
	for (int k = 0; k < 2000; k++) {
		uint32_t out[5];
		assert_int_equal(ring_preference(&r, key(k), 5, out, NULL, NULL), 5);
		assert_int_equal(out[0], ring_lookup(&r, key(k), NULL, NULL));
		for (int a = 0; a < 5; a++)
			for (int b = a + 1; b < 5; b++)
				assert_int_not_equal(out[a], out[b]);
		assert_int_equal(ring_preference(&r, key(k), 3, out, zone_of, NULL), 3);
		assert_int_not_equal(zone_of(NULL, out[0]), zone_of(NULL, out[1]));
		assert_int_not_equal(zone_of(NULL, out[0]), zone_of(NULL, out[2]));
		assert_int_not_equal(zone_of(NULL, out[1]), zone_of(NULL, out[2]));
		/* only three zones: a fourth replica cannot be in a new zone */
		assert_int_equal(ring_preference(&r, key(k), 4, out, zone_of, NULL), 3);
	}
	uint32_t out[20];
	assert_int_equal(ring_preference(&r, 1, 20, out, NULL, NULL), 9);
	ring_free(&r);
}

static void test_identical_across_builds_and_orders(void **state)
{
	(void)state;
	/* Placement depends on names, not on the order nodes were added. */
	struct chash a, b;
	enum chash_algo algos[] = { CHASH_RING, CHASH_MAGLEV, CHASH_RENDEZVOUS };
	for (size_t t = 0; t < 3; t++) {
		chash_init(&a, algos[t], 0, 0);
		chash_init(&b, algos[t], 0, 0);
		chash_add(&a, "x", 1); chash_add(&a, "y", 1); chash_add(&a, "z", 1);
		chash_add(&b, "z", 1); chash_add(&b, "x", 1); chash_add(&b, "y", 1);
		for (int k = 0; k < 10000; k++)
			assert_string_equal(a.nodes[chash_lookup(&a, key(k))].name,
					    b.nodes[chash_lookup(&b, key(k))].name);
		chash_free(&a);
		chash_free(&b);
	}
}

static void test_refusals(void **state)
{
	(void)state;
	struct chash c;
	build(&c, CHASH_JUMP, 3);
	assert_int_equal(chash_add(&c, "heavy", 2), -EINVAL);   /* jump: weight 1 only */
	assert_int_equal(chash_remove(&c, 0), -EINVAL);         /* jump: only the last */
	assert_int_equal(chash_remove(&c, 2), 0);
	assert_int_equal(chash_add(&c, "node-2", 1), 2);        /* the id comes back */
	assert_int_equal(chash_add(&c, "node-2", 1), -EINVAL);  /* duplicate name */
	chash_free(&c);
	assert_int_equal(chash_init(&c, CHASH_MAGLEV, 0, 65536), -EINVAL);  /* not prime */
	assert_int_equal(chash_init(&c, CHASH_RING, 0, 0), 0);
	assert_int_equal(chash_lookup(&c, 1), -1);
	chash_free(&c);
}

static void test_jump_grows_by_moving_keys_only_to_the_new_bucket(void **state)
{
	(void)state;
	for (uint64_t k = 0; k < 20000; k++) {
		uint64_t h = key((int)k);
		assert_int_equal(jump_hash(h, 1), 0);
		for (int32_t n = 1; n < 64; n++) {
			int32_t a = jump_hash(h, n), b = jump_hash(h, n + 1);
			assert_in_range(a, 0, n - 1);
			assert_true(b == a || b == n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_algorithm_balances_and_moves_minimally),
		cmocka_unit_test(test_adding_moves_keys_only_to_the_new_node),
		cmocka_unit_test(test_weights_are_respected),
		cmocka_unit_test(test_bounded_loads_never_exceed_the_bound),
		cmocka_unit_test(test_preference_lists),
		cmocka_unit_test(test_identical_across_builds_and_orders),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_jump_grows_by_moving_keys_only_to_the_new_bucket),
	};
	return cmocka_run_group_tests_name("chash", tests, NULL, NULL);
}
