/* Consistent-hash ring: determinism, minimal movement, weights, skipping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <errno.h>

#include "algo/ring.h"

#define KEYS 20000

static uint64_t key_hash(int k)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "key-%d", k);
	return ring_hash(buf, (size_t)n);
}

static void build(struct ring *r, int nodes, const int *weights)
{
	ring_init(r, RING_DEFAULT_VNODES);
	for (int i = 0; i < nodes; i++) {
		char name[32];
		snprintf(name, sizeof(name), "server-%d", i);
		assert_int_equal(ring_add(r, (uint32_t)i, name, weights ? weights[i] : 1), 0);
	}
}

static void test_same_placement_every_time(void **state)
{
	(void)state;
	struct ring a, b;
	build(&a, 5, NULL);
	build(&b, 5, NULL);
	for (int k = 0; k < KEYS; k++)
		assert_int_equal(ring_lookup(&a, key_hash(k), NULL, NULL),
				 ring_lookup(&b, key_hash(k), NULL, NULL));
	ring_free(&a);
	ring_free(&b);
}

static void test_removing_a_node_moves_only_its_keys(void **state)
{
	(void)state;
	struct ring r;
	build(&r, 5, NULL);
	int64_t *before = malloc(KEYS * sizeof(*before));
	for (int k = 0; k < KEYS; k++)
		before[k] = ring_lookup(&r, key_hash(k), NULL, NULL);
	ring_remove(&r, 2);
	int moved = 0;
	for (int k = 0; k < KEYS; k++) {
		int64_t now = ring_lookup(&r, key_hash(k), NULL, NULL);
		assert_int_not_equal(now, 2);
		if (before[k] != 2)
			assert_int_equal(now, before[k]);
		else
			moved++;
	}
	/* About a fifth of the keys were on node 2. */
	assert_in_range(moved, KEYS / 5 * 8 / 10, KEYS / 5 * 12 / 10);
	free(before);
	ring_free(&r);
}

static void test_adding_a_node_moves_keys_only_to_it(void **state)
{
	(void)state;
	struct ring r;
	build(&r, 4, NULL);
	int64_t *before = malloc(KEYS * sizeof(*before));
	for (int k = 0; k < KEYS; k++)
		before[k] = ring_lookup(&r, key_hash(k), NULL, NULL);
	ring_add(&r, 4, "server-4", 1);
	for (int k = 0; k < KEYS; k++) {
		int64_t now = ring_lookup(&r, key_hash(k), NULL, NULL);
		assert_true(now == before[k] || now == 4);
	}
	free(before);
	ring_free(&r);
}

static bool not_node_1(void *arg, uint32_t node)
{
	(void)arg;
	return node != 1;
}

static void test_skipping_a_node_equals_removing_it(void **state)
{
	(void)state;
	struct ring full, removed;
	build(&full, 4, NULL);
	build(&removed, 4, NULL);
	ring_remove(&removed, 1);
	for (int k = 0; k < KEYS; k++)
		assert_int_equal(ring_lookup(&full, key_hash(k), not_node_1, NULL),
				 ring_lookup(&removed, key_hash(k), NULL, NULL));
	ring_free(&full);
	ring_free(&removed);
}

static void test_weights_scale_the_share(void **state)
{
	(void)state;
	int weights[3] = { 1, 2, 4 };
	struct ring r;
	build(&r, 3, weights);
	int count[3] = { 0 };
	for (int k = 0; k < KEYS * 5; k++)
		count[ring_lookup(&r, key_hash(k), NULL, NULL)]++;
	double total = KEYS * 5;
	/* Expected 1/7, 2/7, 4/7; 160 points per weight keeps it within 15%. */
	assert_in_range((int)(count[0] / total * 1000), 121, 164);
	assert_in_range((int)(count[1] / total * 1000), 243, 328);
	assert_in_range((int)(count[2] / total * 1000), 486, 657);
	ring_free(&r);
}

static void test_empty_ring_and_nothing_accepted(void **state)
{
	(void)state;
	struct ring r;
	ring_init(&r, 10);
	assert_int_equal(ring_lookup(&r, 42, NULL, NULL), -1);
	ring_add(&r, 1, "only", 1);
	assert_int_equal(ring_lookup(&r, 42, not_node_1, NULL), -1);
	assert_int_equal(ring_add(&r, 2, "bad", 0), -EINVAL);
	ring_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_placement_every_time),
		cmocka_unit_test(test_removing_a_node_moves_only_its_keys),
		cmocka_unit_test(test_adding_a_node_moves_keys_only_to_it),
		cmocka_unit_test(test_skipping_a_node_equals_removing_it),
		cmocka_unit_test(test_weights_scale_the_share),
		cmocka_unit_test(test_empty_ring_and_nothing_accepted),
	};
	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
