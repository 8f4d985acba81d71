#include "algo/rltable.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define STRIPES 64               /* the top 6 bits of a key hash */

struct entry {
	struct entry *chain;              /* next in the hash bucket */
	struct entry *older, *newer;      /* the stripe's LRU list */
	uint64_t hash;
	uint64_t idle_at_ns;              /* from then on the state is a fresh key's */
	struct rl_state st;
	uint8_t len;
	char key[];
};

struct stripe {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets;                  /* a power of two */
	struct entry *oldest, *newest;
	size_t count, max;
} __attribute__((aligned(64)));

struct rl_table {
	_Atomic int refs;
	struct rl_policy policy;
	struct stripe stripes[STRIPES];
	_Atomic size_t keys;              /* the bound is on the whole table */
	size_t max_keys;
};

int rl_table_create(const struct rl_policy *p, size_t max_keys, struct rl_table **out)
{
	struct rl_table *t = aligned_alloc(64, sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	atomic_init(&t->refs, 1);
	t->policy = *p;
	t->max_keys = max_keys;
	size_t per = (max_keys + STRIPES - 1) / STRIPES;
	size_t nb = 16;
	while (nb < per)
		nb *= 2;
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *s = &t->stripes[i];
		pthread_mutex_init(&s->lock, NULL);
		/* Keys do not spread evenly over the stripes: a stripe may hold
		 * twice its share while the table is under max_keys. */
		s->max = 2 * per;
		s->nbuckets = nb;
		s->buckets = calloc(nb, sizeof(*s->buckets));
		if (!s->buckets) {
			rl_table_unref(t);
			return -ENOMEM;
		}
	}
	*out = t;
	return 0;
}

static void unlink_lru(struct stripe *s, struct entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	e->older = e->newer = NULL;
}

static void push_newest(struct stripe *s, struct entry *e)
{
	e->older = s->newest;
	e->newer = NULL;
	if (s->newest)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
}

static void drop(struct rl_table *t, struct stripe *s, struct entry *e)
{
	struct entry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	unlink_lru(s, e);
	rl_state_free(&e->st);
	free(e);
	s->count--;
	atomic_fetch_sub_explicit(&t->keys, 1, memory_order_relaxed);
}

struct rl_table *rl_table_ref(struct rl_table *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void rl_table_unref(struct rl_table *t)
{
	if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *s = &t->stripes[i];
		while (s->oldest)
			drop(t, s, s->oldest);
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

/* On the way: idle keys at the old end of the LRU list go (O(1) when there
 * are none; a key used later but idle sooner waits for the periodic sweep). */
static void sweep(struct rl_table *t, struct stripe *s, uint64_t now_ns)
{
	while (s->oldest && s->oldest->idle_at_ns <= now_ns)
		drop(t, s, s->oldest);
}

void rl_table_expire(struct rl_table *t, uint64_t now_ns)
{
	/* The whole list: with mixed periods (CL.THROTTLE) an idle key can sit
	 * behind a busy one. */
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *s = &t->stripes[i];
		pthread_mutex_lock(&s->lock);
		for (struct entry *e = s->oldest, *next; e; e = next) {
			next = e->newer;
			if (e->idle_at_ns <= now_ns)
				drop(t, s, e);
		}
		pthread_mutex_unlock(&s->lock);
	}
}

int rl_table_apply(struct rl_table *t, const void *key, size_t len, uint64_t now_ns,
		   uint64_t (*fn)(struct rl_state *st, void *arg), void *arg)
{
	if (len > RLT_KEY_MAX)
		len = RLT_KEY_MAX;
	uint64_t h = XXH3_64bits(key, len);
	/* The top bits choose the stripe, the low bits the bucket in it. */
	struct stripe *s = &t->stripes[h >> 58];
	pthread_mutex_lock(&s->lock);
	sweep(t, s, now_ns);
	struct entry *e = s->buckets[h & (s->nbuckets - 1)];
	while (e && !(e->hash == h && e->len == len && memcmp(e->key, key, len) == 0))
		e = e->chain;
	if (!e) {
		if (s->oldest && (s->count >= s->max ||
				  atomic_load_explicit(&t->keys, memory_order_relaxed) >= t->max_keys))
			drop(t, s, s->oldest);
		e = calloc(1, sizeof(*e) + len);
		if (!e) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		e->hash = h;
		e->len = (uint8_t)len;
		memcpy(e->key, key, len);
		struct entry **b = &s->buckets[h & (s->nbuckets - 1)];
		e->chain = *b;
		*b = e;
		s->count++;
		atomic_fetch_add_explicit(&t->keys, 1, memory_order_relaxed);
	} else {
		unlink_lru(s, e);
	}
	push_newest(s, e);
	e->idle_at_ns = fn(&e->st, arg);
	if (e->idle_at_ns <= now_ns)
		e->idle_at_ns = now_ns + 1;  /* never idle before its own decision is over */
	pthread_mutex_unlock(&s->lock);
	return 0;
}

struct decision {
	const struct rl_policy *policy;
	uint64_t now, cost;
	struct rl_result *out;
	int rc;
};

static uint64_t decide(struct rl_state *st, void *arg)
{
	struct decision *d = arg;
	d->rc = rl_decide(d->policy, st, d->now, d->cost, d->out);
	uint64_t reset = d->out->reset_after_ns;
	return reset > UINT64_MAX - d->now ? UINT64_MAX : d->now + reset;
}

int rl_table_decide(struct rl_table *t, const void *key, size_t len, uint64_t now_ns,
		    uint64_t cost, struct rl_result *out)
{
	struct decision d = { &t->policy, now_ns, cost, out, 0 };
	int rc = rl_table_apply(t, key, len, now_ns, decide, &d);
	if (rc == 0)
		rc = d.rc;
	if (rc < 0) {
		/* A limiter short of memory lets the request through. */
		memset(out, 0, sizeof(*out));
		out->allowed = true;
	}
	return rc;
}

size_t rl_table_keys(struct rl_table *t)
{
	return atomic_load_explicit(&t->keys, memory_order_relaxed);
}

size_t rl_table_entry_bytes(const struct rl_table *t)
{
	size_t n = sizeof(struct entry) + 16 /* key, typical IPv4/IPv6 */ + sizeof(void *) /* bucket */;
	if (t->policy.algo == RL_LOG)
		n += t->policy.limit * sizeof(uint64_t);
	return n;
}
