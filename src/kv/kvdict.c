#include "kv/kvdict.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/rng.h"

#define INITIAL 16

static uint64_t hash(const struct kv_dict *d, const void *key, size_t len)
{
	return XXH3_64bits_withSeed(key, len, d->seed);
}

void kvdict_init(struct kv_dict *d, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->rehash = -1;
	d->seed = seed;
}

void kvdict_clear(struct kv_dict *d, void (*free_entry)(struct kv_entry *e, void *arg), void *arg)
{
	for (int t = 0; t < 2; t++) {
		for (size_t i = 0; i < d->size[t]; i++) {
			struct kv_entry *e = d->t[t][i];
			while (e) {
				struct kv_entry *next = e->next;
				free_entry(e, arg);
				e = next;
			}
		}
		free(d->t[t]);
	}
	kvdict_init(d, d->seed);
}

static bool rehashing(const struct kv_dict *d)
{
	return d->rehash >= 0;
}

/* Move one bucket (and skip up to 10 empty ones) from t[0] to t[1]. */
static void step(struct kv_dict *d)
{
	int empty = 10;
	while (d->rehash < (long)d->size[0] && !d->t[0][d->rehash]) {
		d->rehash++;
		if (--empty == 0)
			return;
	}
	if (d->rehash < (long)d->size[0]) {
		struct kv_entry *e = d->t[0][d->rehash];
		while (e) {
			struct kv_entry *next = e->next;
			size_t b = hash(d, e->data, e->klen) & (d->size[1] - 1);
			e->next = d->t[1][b];
			d->t[1][b] = e;
			d->used[0]--;
			d->used[1]++;
			e = next;
		}
		d->t[0][d->rehash++] = NULL;
	}
	if (d->rehash >= (long)d->size[0]) {
		free(d->t[0]);
		d->t[0] = d->t[1];
		d->size[0] = d->size[1];
		d->used[0] = d->used[1];
		d->t[1] = NULL;
		d->size[1] = d->used[1] = 0;
		d->rehash = -1;
	}
}

/* Start moving to a table of `size` buckets (or just allocate the first). */
static int resize(struct kv_dict *d, size_t size)
{
	struct kv_entry **t = calloc(size, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (!d->t[0]) {
		d->t[0] = t;
		d->size[0] = size;
		return 0;
	}
	d->t[1] = t;
	d->size[1] = size;
	d->rehash = 0;
	return 0;
}

bool kvdict_rehash(struct kv_dict *d, int n)
{
	if (!rehashing(d)) {
		/* Shrink when under a tenth full (never below the initial size). */
		size_t used = kvdict_size(d), want = INITIAL;
		if (d->size[0] > INITIAL && used * 10 < d->size[0]) {
			while (want < used)
				want *= 2;
			resize(d, want);
		}
		if (!rehashing(d))
			return false;
	}
	while (n-- > 0 && rehashing(d))
		step(d);
	return rehashing(d);
}

struct kv_entry *kvdict_find(struct kv_dict *d, const void *key, size_t len)
{
	if (kvdict_size(d) == 0)
		return NULL;
	if (rehashing(d))
		step(d);
	uint64_t h = hash(d, key, len);
	for (int t = 0; t < 2; t++) {
		if (!d->size[t])
			continue;
		for (struct kv_entry *e = d->t[t][h & (d->size[t] - 1)]; e; e = e->next)
			if (e->klen == len && memcmp(e->data, key, len) == 0)
				return e;
		if (!rehashing(d))
			break;
	}
	return NULL;
}

int kvdict_add(struct kv_dict *d, struct kv_entry *e)
{
	int rc = 0;
	if (rehashing(d))
		step(d);
	else if (!d->t[0])
		rc = resize(d, INITIAL);
	else if (d->used[0] >= d->size[0])
		rc = resize(d, d->size[0] * 2);
	if (!d->t[0])
		return rc;
	int t = rehashing(d) ? 1 : 0;  /* new keys go to the new table */
	size_t b = hash(d, e->data, e->klen) & (d->size[t] - 1);
	e->next = d->t[t][b];
	d->t[t][b] = e;
	d->used[t]++;
	return 0;
}

/* The link pointing at the entry of key (NULL if none), and its table. */
static struct kv_entry **link_of(struct kv_dict *d, const void *key, size_t len, int *table)
{
	if (kvdict_size(d) == 0)
		return NULL;
	uint64_t h = hash(d, key, len);
	for (int t = 0; t < 2; t++) {
		if (!d->size[t])
			continue;
		struct kv_entry **p = &d->t[t][h & (d->size[t] - 1)];
		for (; *p; p = &(*p)->next)
			if ((*p)->klen == len && memcmp((*p)->data, key, len) == 0) {
				*table = t;
				return p;
			}
		if (!rehashing(d))
			break;
	}
	return NULL;
}

void kvdict_replace(struct kv_dict *d, struct kv_entry *old, struct kv_entry *e)
{
	int t;
	struct kv_entry **p = link_of(d, old->data, old->klen, &t);
	if (!p)
		return;
	e->next = old->next;
	*p = e;
}

struct kv_entry *kvdict_remove(struct kv_dict *d, const void *key, size_t len)
{
	if (rehashing(d))
		step(d);
	int t;
	struct kv_entry **p = link_of(d, key, len, &t);
	if (!p)
		return NULL;
	struct kv_entry *e = *p;
	*p = e->next;
	d->used[t]--;
	return e;
}


struct kv_entry *kvdict_random(struct kv_dict *d, uint64_t *rng)
{
	if (kvdict_size(d) == 0)
		return NULL;
	/* A random non-empty bucket across both tables, then a random slot of
	 * KV_RANDOM_CHAIN, tried again when the chain is shorter: taking any
	 * link of the bucket would favour keys alone in theirs (Redis's bias,
	 * which lets old keys of crowded buckets outlive eviction). */
	for (int tries = 0; tries < 1000000; tries++) {
		size_t all = d->size[0] + d->size[1];
		size_t i = rng_next(rng) % all;  /* buckets already moved are empty */
		struct kv_entry *e = i < d->size[0] ? d->t[0][i] : d->t[1][i - d->size[0]];
		if (!e)
			continue;
		size_t n = 0;
		for (struct kv_entry *x = e; x; x = x->next)
			n++;
		size_t k = rng_next(rng) % (n > KV_RANDOM_CHAIN ? n : KV_RANDOM_CHAIN);
		if (k >= n)
			continue;
		while (k--)
			e = e->next;
		return e;
	}
	return NULL;
}

size_t kvdict_sample(struct kv_dict *d, uint64_t *rng, size_t want, struct kv_entry **out,
		     size_t cap)
{
	size_t keys = kvdict_size(d), got = 0;
	if (keys == 0 || want == 0 || cap == 0)
		return 0;
	/* The live buckets as one ring: t[0] from the rehash point (those
	 * before it are moved, empty), then t[1]. A window of a fixed number
	 * of buckets, from a start chosen uniformly, holds each key with the
	 * same probability; stopping after `want` keys instead would favour
	 * keys that follow a run of empty buckets, and keeping only `want` of
	 * a crowded window keys with neighbours. */
	size_t from = rehashing(d) ? (size_t)d->rehash : 0;
	size_t ring = d->size[0] - from + d->size[1];
	size_t window = (want * ring + keys - 1) / keys;
	if (window > 16 * want)
		window = 16 * want;  /* a sparse table: fewer keys now, not a long scan */
	if (window > ring)
		window = ring;
	size_t i = rng_next(rng) % ring, inside = 0;
	for (size_t seen = 0; seen < window; seen++, i = i + 1 == ring ? 0 : i + 1) {
		size_t b = from + i;
		struct kv_entry *e = b < d->size[0] ? d->t[0][b] : d->t[1][b - d->size[0]];
		/* More than cap in the window (rare): cap of them at random. */
		for (; e; e = e->next, inside++) {
			if (got < cap)
				out[got++] = e;
			else if (rng_next(rng) % (inside + 1) < cap)
				out[rng_next(rng) % cap] = e;
		}
	}
	return got;
}

static uint64_t rev(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
	v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
	v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
	v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
	v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
	return (v >> 32) | (v << 32);
}

static void visit(struct kv_entry *e, void (*fn)(struct kv_entry *, void *), void *arg)
{
	while (e) {
		struct kv_entry *next = e->next;
		fn(e, arg);
		e = next;
	}
}

/* Redis's dictScan: increment the cursor's reversed bits, so buckets that
 * split or merge in a resize are visited in an order that covers them. */
uint64_t kvdict_scan(struct kv_dict *d, uint64_t v,
		     void (*fn)(struct kv_entry *e, void *arg), void *arg)
{
	if (kvdict_size(d) == 0)
		return 0;
	if (!rehashing(d)) {
		uint64_t m = d->size[0] - 1;
		visit(d->t[0][v & m], fn, arg);
		v |= ~m;
		v = rev(rev(v) + 1);
		return v;
	}
	/* Both tables: the small one's bucket, then every bucket of the large
	 * one that it expands to. */
	int s = d->size[0] <= d->size[1] ? 0 : 1, l = 1 - s;
	uint64_t m0 = d->size[s] - 1, m1 = d->size[l] - 1;
	visit(d->t[s][v & m0], fn, arg);  /* (buckets already moved are empty) */
	do {
		visit(d->t[l][v & m1], fn, arg);
		v |= ~m1;
		v = rev(rev(v) + 1);
	} while (v & (m0 ^ m1));
	return v;
}

size_t kvdict_bytes(const struct kv_dict *d)
{
	return (d->size[0] + d->size[1]) * sizeof(struct kv_entry *);
}
