/* The kv hash table: keys found across incremental resizes both ways;
 * SCAN returns every key present for the whole scan at least once while
 * the table grows and shrinks under it; random picks and eviction samples
 * are uniform over the keys, resizing or not;
 * glob patterns as Redis matches them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/glob.h"
#include "kv/kvdict.h"

static struct kv_entry *entry(int i)
{
	char key[32];
	int n = snprintf(key, sizeof(key), "key:%d", i);
	struct kv_entry *e = calloc(1, sizeof(*e) + (size_t)n);
	memcpy(e->data, key, (size_t)n);
	e->klen = (uint32_t)n;
	return e;
}

static struct kv_entry *lookup(struct kv_dict *d, int i)
{
	char key[32];
	int n = snprintf(key, sizeof(key), "key:%d", i);
	return kvdict_find(d, key, (size_t)n);
}

static void free_entry(struct kv_entry *e, void *arg)
{
	(void)arg;
	free(e);
}

static void test_grow_and_shrink(void **state)
{
	(void)state;
	struct kv_dict d;
	kvdict_init(&d, 42);
	for (int i = 0; i < 50000; i++) {
		assert_int_equal(kvdict_add(&d, entry(i)), 0);
		if (i % 997 == 0)  /* lookups while a resize is under way */
			for (int k = 0; k <= i; k += 331)
				assert_non_null(lookup(&d, k));
	}
	assert_int_equal(kvdict_size(&d), 50000);
	for (int i = 0; i < 50000; i++)
		assert_non_null(lookup(&d, i));
	assert_null(lookup(&d, 50000));
	for (int i = 0; i < 49990; i++)
		free(kvdict_remove(&d, lookup(&d, i)->data, lookup(&d, i)->klen));
	while (kvdict_rehash(&d, 100))
		;
	assert_true(d.size[0] <= 64);  /* shrunk */
	for (int i = 49990; i < 50000; i++)
		assert_non_null(lookup(&d, i));
	kvdict_clear(&d, free_entry, NULL);
	assert_int_equal(kvdict_size(&d), 0);
}

struct seen {
	unsigned char *hit;
};

static void mark(struct kv_entry *e, void *arg)
{
	struct seen *s = arg;
	s->hit[atoi(e->data + 4)] = 1;
}

static void test_scan_across_resizes(void **state)
{
	(void)state;
	struct kv_dict d;
	kvdict_init(&d, 7);
	for (int i = 0; i < 1000; i++)
		kvdict_add(&d, entry(i));
	struct seen s = { calloc(20000, 1) };
	uint64_t cursor = 0;
	int steps = 0;
	do {
		cursor = kvdict_scan(&d, cursor, mark, &s);
		/* The table grows under the scan, then shrinks. */
		if (steps < 200)
			for (int k = 0; k < 50; k++)
				kvdict_add(&d, entry(1000 + steps * 50 + k));
		else if (steps == 200)
			for (int i = 1000; i < 11000; i++)
				free(kvdict_remove(&d, lookup(&d, i)->data, lookup(&d, i)->klen));
		kvdict_rehash(&d, 1);
		steps++;
	} while (cursor);
	for (int i = 0; i < 1000; i++)
		if (!s.hit[i])
			fail_msg("key:%d was present all along but not returned", i);
	free(s.hit);
	kvdict_clear(&d, free_entry, NULL);
}

/* How often each of n keys turns up in random picks (or samples of about
 * 5) lies within 25% of the mean: no key is favoured for being alone in
 * its bucket, which would let old keys in crowded buckets outlive eviction. */
static void assert_uniform(struct kv_dict *d, int n, bool sample, const char *when)
{
	static unsigned hits[4096];
	memset(hits, 0, sizeof(hits));
	uint64_t rng = 12345, total = 0;
	while (total < (uint64_t)n * 400) {
		struct kv_entry *got[20];
		size_t k = sample ? kvdict_sample(d, &rng, 5, got, 20) : 1;
		if (!sample)
			got[0] = kvdict_random(d, &rng);
		for (size_t i = 0; i < k; i++, total++)
			hits[atoi(got[i]->data + 4)]++;
	}
	unsigned lo = UINT32_MAX, hi = 0;
	for (int i = 0; i < n; i++) {
		lo = hits[i] < lo ? hits[i] : lo;
		hi = hits[i] > hi ? hits[i] : hi;
	}
	if (lo < 300 || hi > 500)
		fail_msg("%s %s: hits per key from %u to %u, mean 400", sample ? "sample" : "random",
			 when, lo, hi);
}

static void test_random_and_sample_are_uniform(void **state)
{
	(void)state;
	struct kv_dict d;
	kvdict_init(&d, 9);
	int n = 0;
	while (n < 1536)  /* a load of 0.75: a third of keys share their bucket */
		kvdict_add(&d, entry(n++));
	assert_uniform(&d, n, false, "at rest");
	assert_uniform(&d, n, true, "at rest");
	while (d.rehash < 0)
		kvdict_add(&d, entry(n++));
	assert_uniform(&d, n, false, "while resizing");
	assert_uniform(&d, n, true, "while resizing");
	kvdict_clear(&d, free_entry, NULL);
	uint64_t rng = 1;
	struct kv_entry *none[1];
	assert_null(kvdict_random(&d, &rng));
	assert_int_equal(kvdict_sample(&d, &rng, 1, none, 1), 0);
}

static void test_glob(void **state)
{
	(void)state;
	struct { const char *p, *s; bool match; } cases[] = {
		{ "*", "", true }, { "*", "anything", true }, { "h?llo", "hello", true },
		{ "h?llo", "hllo", false }, { "h*llo", "heeeello", true }, { "h[ae]llo", "hallo", true },
		{ "h[ae]llo", "hillo", false }, { "h[^e]llo", "hallo", true }, { "h[^e]llo", "hello", false },
		{ "h[a-b]llo", "hbllo", true }, { "h[b-a]llo", "hallo", true }, { "h\\*llo", "h*llo", true },
		{ "h\\*llo", "hello", false }, { "a*b*c", "aXXbYYc", true }, { "a*b*c", "aXXbYY", false },
		{ "*a", "bbba", true }, { "user:*", "user:42", true }, { "user:*", "use", false },
		{ "[", "[", false }, { "a[", "a", false }, { "**x", "yx", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (glob_match(cases[i].p, strlen(cases[i].p), cases[i].s, strlen(cases[i].s), false) !=
		    cases[i].match)
			fail_msg("'%s' against '%s'", cases[i].p, cases[i].s);
	assert_true(glob_match("MAX*", 4, "maxmemory", 9, true));
	assert_true(glob_match("k\0*", 3, "k\0zz", 4, false));  /* binary-safe */
	/* Many stars on a long string stay fast (bounded backtracking). */
	char s[4001];
	memset(s, 'a', 4000);
	s[4000] = '\0';
	assert_false(glob_match("*a*a*a*a*a*a*a*a*b", 18, s, 4000, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_shrink),
		cmocka_unit_test(test_scan_across_resizes),
		cmocka_unit_test(test_random_and_sample_are_uniform),
		cmocka_unit_test(test_glob),
	};
	return cmocka_run_group_tests_name("kvdict", tests, NULL, NULL);
}
