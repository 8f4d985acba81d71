/* Snowflake IDs on an injected clock: the sequence within a millisecond and
 * its overflow, the clock stepping back (waited out within the tolerance,
 * refused beyond it, then recovered), the persisted floor, the ceiling of
 * a saved lease, layouts, parsing;
 * 10 M IDs from 4 threads without a duplicate; UUIDv7 and ULID monotonic
 * within a millisecond and across a clock step back. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "algo/snowflake.h"
#include "algo/timeid.h"
#include "core/err.h"

#define T0 1700000000000ULL           /* 2023-11-14T22:13:20Z */

struct fake {
	uint64_t now;                     /* Unix ms */
	uint64_t slept, sleeps;           /* total asked, calls */
};

static uint64_t fake_clock(void *arg)
{
	return ((struct fake *)arg)->now;
}

/* Sleeping moves the fake time on: 0 ("the next millisecond") by one. */
static void fake_sleep(void *arg, uint64_t ms)
{
	struct fake *f = arg;
	f->now += ms ? ms : 1;
	f->slept += ms;
	f->sleeps++;
}

static struct sf_gen *fake_gen(struct fake *f, uint64_t floor)
{
	struct sf_config c = { SF_LAYOUT_DEFAULT, 3, 17, 5, floor, fake_clock, fake_sleep, f };
	struct sf_gen *g;
	assert_int_equal(sf_create(&c, &g), 0);
	return g;
}

static void test_sequence_and_overflow(void **state)
{
	(void)state;
	struct fake f = { .now = T0 };
	struct sf_gen *g = fake_gen(&f, 0);
	struct sf_layout l = SF_LAYOUT_DEFAULT;
	uint64_t prev = 0, id;
	for (int i = 0; i < 4096; i++) {
		assert_int_equal(sf_next(g, &id), 0);
		assert_true(id > prev);
		prev = id;
		struct sf_parts p;
		sf_parse(&l, id, &p);
		assert_int_equal(p.unix_ms, T0);
		assert_int_equal(p.sequence, (uint64_t)i);
		assert_int_equal(p.datacenter, 3);
		assert_int_equal(p.worker, 17);
	}
	assert_int_equal(f.sleeps, 0);
	/* The 4097th waits for the next millisecond. */
	assert_int_equal(sf_next(g, &id), 0);
	struct sf_parts p;
	sf_parse(&l, id, &p);
	assert_int_equal(p.unix_ms, T0 + 1);
	assert_int_equal(p.sequence, 0);
	assert_int_equal(f.sleeps, 1);
	assert_int_equal(sf_last_ms(g), T0 + 1);
	assert_int_equal(sf_max_per_ms(&l), 4096);
	sf_destroy(g);
}

static void test_clock_steps_back(void **state)
{
	(void)state;
	struct fake f = { .now = T0 };
	struct sf_gen *g = fake_gen(&f, 0);
	uint64_t prev, id;
	assert_int_equal(sf_next(g, &prev), 0);
	/* 3 ms back, within the 5 ms tolerance: waited out, never smaller. */
	f.now -= 3;
	assert_int_equal(sf_next(g, &id), 0);
	assert_int_equal(f.slept, 3);
	assert_true(id > prev);
	prev = id;
	/* 5 s back: refused until the clock is past the last ID again. */
	f.now -= 5000;
	assert_int_equal(sf_next(g, &id), ERR_CLOCK);
	assert_int_equal(sf_behind_ms(g), 5000);
	f.now += 4000;
	assert_int_equal(sf_next(g, &id), ERR_CLOCK);
	assert_int_equal(sf_behind_ms(g), 1000);
	f.now += 1000;  /* back at the last ID's millisecond */
	assert_int_equal(sf_next(g, &id), 0);
	assert_true(id > prev);
	sf_destroy(g);
}

/* A ceiling (the lease a service has saved) is never crossed: the last
 * millisecond below it is used up, then ERR_LEASE until it is raised. */
static void test_ceiling(void **state)
{
	(void)state;
	struct fake f = { .now = T0 };
	struct sf_gen *g = fake_gen(&f, 0);
	struct sf_layout l = SF_LAYOUT_DEFAULT;
	struct sf_parts p;
	uint64_t id, prev = 0;
	sf_set_ceiling(g, T0 + 2);
	for (int i = 0; i < 2 * 4096; i++) {
		assert_int_equal(sf_next(g, &id), 0);
		assert_true(id > prev);
		prev = id;
	}
	sf_parse(&l, prev, &p);
	assert_int_equal(p.unix_ms, T0 + 1);
	assert_int_equal(sf_next(g, &id), ERR_LEASE);  /* T0 + 2 would be next */
	f.now = T0 + 50;
	assert_int_equal(sf_next(g, &id), ERR_LEASE);
	assert_int_equal(sf_last_ms(g), T0 + 1);
	sf_set_ceiling(g, T0 + 1000);
	assert_int_equal(sf_next(g, &id), 0);
	sf_parse(&l, id, &p);
	assert_int_equal(p.unix_ms, T0 + 50);
	assert_true(id > prev);
	sf_set_ceiling(g, UINT64_MAX);
	f.now = T0 + 5000;
	assert_int_equal(sf_next(g, &id), 0);
	sf_destroy(g);
}

static void test_floor_from_a_previous_run(void **state)
{
	(void)state;
	struct fake f = { .now = T0 };
	/* The last run issued IDs up to T0 + 2000: this clock is 2 s behind it. */
	struct sf_gen *g = fake_gen(&f, T0 + 2000);
	uint64_t id;
	assert_int_equal(sf_next(g, &id), ERR_CLOCK);
	assert_int_equal(sf_behind_ms(g), 2000);
	f.now = T0 + 2000;  /* the floor's millisecond itself counts as used */
	assert_int_equal(sf_next(g, &id), 0);
	struct sf_layout l = SF_LAYOUT_DEFAULT;
	struct sf_parts p;
	sf_parse(&l, id, &p);
	assert_int_equal(p.unix_ms, T0 + 2001);
	sf_destroy(g);
	/* A floor within the tolerance is waited out. */
	f.now = T0;
	f.slept = 0;
	g = fake_gen(&f, T0 + 4);
	assert_int_equal(sf_next(g, &id), 0);
	assert_true(f.slept >= 4);
	sf_destroy(g);
}

static void test_layouts(void **state)
{
	(void)state;
	char err[128];
	struct sf_layout ok = { 42, 0, 10, 11, 0 };
	assert_int_equal(sf_layout_check(&ok, err, sizeof(err)), 0);
	struct sf_layout sum = { 41, 5, 5, 11, 0 }, small = { 29, 10, 12, 12, 0 },
			 noseq = { 43, 10, 10, 0, 0 };
	assert_int_equal(sf_layout_check(&sum, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "63"));
	assert_int_equal(sf_layout_check(&small, err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(sf_layout_check(&noseq, err, sizeof(err)), ERR_CONFIG);
	struct sf_layout wraps = { 4294967295u, 0, 0, 64, 0 };  /* sums to 63 in 32 bits */
	assert_int_equal(sf_layout_check(&wraps, err, sizeof(err)), ERR_CONFIG);
	/* A worker or datacenter that does not fit its bits. */
	struct sf_config c = { SF_LAYOUT_DEFAULT, 32, 0, 5, 0, NULL, NULL, NULL };
	struct sf_gen *g;
	assert_int_equal(sf_create(&c, &g), ERR_CONFIG);
	c.datacenter = 31;
	c.worker = 32;
	assert_int_equal(sf_create(&c, &g), ERR_CONFIG);
	/* Another layout parses back to the same fields; its rate differs. */
	struct fake f = { .now = T0 };
	struct sf_config c2 = { ok, 0, 1023, 5, 0, fake_clock, fake_sleep, &f };
	c2.layout.epoch_ms = T0 - 1000;
	assert_int_equal(sf_create(&c2, &g), 0);
	uint64_t id;
	assert_int_equal(sf_next(g, &id), 0);
	struct sf_parts p;
	sf_parse(&c2.layout, id, &p);
	assert_int_equal(p.unix_ms, T0);
	assert_int_equal(p.worker, 1023);
	assert_int_equal(sf_max_per_ms(&c2.layout), 2048);
	sf_destroy(g);
	/* Before the epoch: refused. */
	f.now = T0 - 2000;
	c2.layout.epoch_ms = T0 - 1000;
	assert_int_equal(sf_create(&c2, &g), 0);
	assert_int_equal(sf_next(g, &id), ERR_CLOCK);
	sf_destroy(g);
}

#define THREADS 4
#define PER_THREAD 2500000

struct worker_arg {
	struct sf_gen *g;
	uint64_t *ids;
	int increasing;
};

static void *take_ids(void *arg)
{
	struct worker_arg *w = arg;
	w->increasing = 1;
	for (size_t i = 0; i < PER_THREAD; i++) {
		if (sf_next(w->g, &w->ids[i]) != 0)
			w->increasing = 0;
		if (i && w->ids[i] <= w->ids[i - 1])
			w->increasing = 0;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_ten_million_from_four_threads(void **state)
{
	(void)state;
	struct sf_config c = { SF_LAYOUT_DEFAULT, 1, 1, 5, 0, NULL, NULL, NULL };
	struct sf_gen *g;
	assert_int_equal(sf_create(&c, &g), 0);
	uint64_t *ids = malloc(sizeof(uint64_t) * THREADS * PER_THREAD);
	assert_non_null(ids);
	pthread_t t[THREADS];
	struct worker_arg w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker_arg){ g, ids + (size_t)i * PER_THREAD, 0 };
		pthread_create(&t[i], NULL, take_ids, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_true(w[i].increasing);
	}
	size_t n = (size_t)THREADS * PER_THREAD;
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (ids[i] == ids[i - 1])
			fail_msg("duplicate ID %llu", (unsigned long long)ids[i]);
	free(ids);
	sf_destroy(g);
}

static void test_uuid7_and_ulid(void **state)
{
	(void)state;
	struct fake f = { .now = T0 };
	for (int kind = TID_UUID7; kind <= TID_ULID; kind++) {
		struct tid_gen *g;
		assert_int_equal(tid_create((enum tid_kind)kind, fake_clock, &f, &g), 0);
		uint8_t prev[16] = { 0 }, id[16];
		for (int i = 0; i < 3000; i++) {
			if (i == 1000)
				f.now -= 50;          /* the clock steps back */
			if (i == 2000)
				f.now += 100;
			assert_int_equal(tid_next(g, id), 0);
			if (memcmp(id, prev, 16) <= 0)
				fail_msg("ID %d is not above the one before", i);
			memcpy(prev, id, 16);
			if (kind == TID_UUID7) {
				assert_int_equal(id[6] >> 4, 7);        /* version */
				assert_int_equal(id[8] >> 6, 2);        /* variant 10 */
			}
		}
		assert_int_equal(tid_unix_ms(id), T0 + 50);
		char text[40];
		size_t n = tid_format((enum tid_kind)kind, id, text);
		if (kind == TID_UUID7) {
			assert_int_equal(n, TID_UUID_LEN);
			assert_true(text[8] == '-' && text[13] == '-' && text[14] == '7');
		} else {
			assert_int_equal(n, TID_ULID_LEN);
			assert_true(text[0] <= '7');      /* 128 bits in 130 */
			assert_null(strpbrk(text, "ILOU"));
		}
		tid_destroy(g);
		f.now = T0;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence_and_overflow),
		cmocka_unit_test(test_clock_steps_back),
		cmocka_unit_test(test_floor_from_a_previous_run),
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_ten_million_from_four_threads),
		cmocka_unit_test(test_uuid7_and_ulid),
	};
	return cmocka_run_group_tests_name("snowflake", tests, NULL, NULL);
}
