/* Timer heap: ordering, re-arming, cancelling, callbacks that re-arm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/loop.h"
#include "core/timer.h"

struct probe {
	struct timer t;
	int id;
};

static int fired[64];
static int nfired;

static void record(struct timer *t)
{
	fired[nfired++] = container_of(t, struct probe, t)->id;
}

static void test_fires_in_deadline_order(void **state)
{
	(void)state;
	struct timer_heap h = { 0 };
	struct probe p[6];
	uint64_t deadlines[6] = { 50, 10, 40, 20, 60, 30 };
	nfired = 0;
	for (int i = 0; i < 6; i++) {
		p[i].id = i;
		timer_init(&p[i].t, record);
		assert_int_equal(timer_arm(&h, &p[i].t, deadlines[i]), 0);
	}
	assert_int_equal(timer_next(&h), 10);
	assert_int_equal(timer_expire(&h, 35), 3);
	assert_int_equal(nfired, 3);
	assert_int_equal(fired[0], 1);
	assert_int_equal(fired[1], 3);
	assert_int_equal(fired[2], 5);
	assert_false(timer_armed(&p[1].t));
	assert_true(timer_armed(&p[0].t));
	assert_int_equal(timer_expire(&h, 1000), 3);
	assert_int_equal(fired[3], 2);
	assert_int_equal(fired[4], 0);
	assert_int_equal(fired[5], 4);
	assert_int_equal(timer_next(&h), UINT64_MAX);
	timer_heap_free(&h);
}

static void test_rearm_and_cancel(void **state)
{
	(void)state;
	struct timer_heap h = { 0 };
	struct probe p[3];
	nfired = 0;
	for (int i = 0; i < 3; i++) {
		p[i].id = i;
		timer_init(&p[i].t, record);
		timer_arm(&h, &p[i].t, (uint64_t)(10 * (i + 1)));
	}
	timer_arm(&h, &p[0].t, 100);   /* later */
	timer_arm(&h, &p[2].t, 5);     /* earlier */
	timer_cancel(&h, &p[1].t);
	timer_cancel(&h, &p[1].t);     /* idempotent */
	assert_int_equal(h.count, 2);
	timer_expire(&h, 1000);
	assert_int_equal(nfired, 2);
	assert_int_equal(fired[0], 2);
	assert_int_equal(fired[1], 0);
	timer_heap_free(&h);
}

static struct timer_heap *self_heap;
static int self_runs;

static void rearm_self(struct timer *t)
{
	if (++self_runs < 3)
		timer_arm(self_heap, t, t->deadline_ms + 10);
}

static void test_callback_may_rearm_itself(void **state)
{
	(void)state;
	struct timer_heap h = { 0 };
	struct timer t;
	self_heap = &h;
	self_runs = 0;
	timer_init(&t, rearm_self);
	timer_arm(&h, &t, 10);
	timer_expire(&h, 15);
	assert_int_equal(self_runs, 1);
	assert_true(timer_armed(&t));
	/* Re-armed for a time already due, it waits for the next pass: a timer
	 * that keeps re-arming itself cannot hold the loop in timer_expire. */
	assert_int_equal(timer_expire(&h, 100), 1);
	assert_int_equal(self_runs, 2);
	assert_true(timer_armed(&t));
	assert_int_equal(timer_expire(&h, 100), 1);
	assert_int_equal(self_runs, 3);
	assert_false(timer_armed(&t));
	timer_heap_free(&h);
}

static struct timer *forever_t;
static int forever_runs;

static void rearm_forever(struct timer *t)
{
	forever_runs++;
	timer_arm(self_heap, t, 0);
}

static void rearm_other(struct timer *t)
{
	(void)t;
	forever_runs++;
	timer_arm(self_heap, forever_t, 0);
}

static void test_due_rearm_runs_next_pass_in_arming_order(void **state)
{
	(void)state;
	struct timer_heap h = { 0 };
	struct timer a, b, c;
	self_heap = &h;
	forever_runs = 0;
	timer_init(&a, rearm_forever);
	timer_init(&b, rearm_other);
	timer_init(&c, rearm_forever);
	forever_t = &c;
	timer_arm(&h, &a, 0);
	timer_arm(&h, &b, 0);
	/* a and b are due; c, armed by b during the pass, and a's re-arm wait. */
	assert_int_equal(timer_expire(&h, 0), 2);
	assert_int_equal(h.items[0], &a);  /* equal deadlines: first armed first */
	assert_int_equal(timer_expire(&h, 0), 2);
	assert_int_equal(forever_runs, 4);
	timer_cancel(&h, &a);
	timer_cancel(&h, &c);
	assert_int_equal(timer_next(&h), UINT64_MAX);
	timer_heap_free(&h);
}

static void test_many_random_timers_stay_ordered(void **state)
{
	(void)state;
	enum { N = 2000 };
	struct timer_heap h = { 0 };
	struct probe *p = calloc(N, sizeof(*p));
	srand(7);
	for (int i = 0; i < N; i++) {
		timer_init(&p[i].t, record);
		timer_arm(&h, &p[i].t, (uint64_t)(rand() % 100000));
	}
	for (int i = 0; i < N; i += 3)
		timer_cancel(&h, &p[i].t);
	uint64_t last = 0;
	size_t left = h.count;
	while (h.count) {
		uint64_t next = timer_next(&h);
		assert_true(next >= last);
		last = next;
		struct timer *t = h.items[0];
		timer_cancel(&h, t);
		left--;
	}
	assert_int_equal(left, 0);
	free(p);
	timer_heap_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fires_in_deadline_order),
		cmocka_unit_test(test_rearm_and_cancel),
		cmocka_unit_test(test_callback_may_rearm_itself),
		cmocka_unit_test(test_due_rearm_runs_next_pass_in_arming_order),
		cmocka_unit_test(test_many_random_timers_stay_ordered),
	};
	return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
