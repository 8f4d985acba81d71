#include "kv/kvstore.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/loop.h"
#include "core/rng.h"

#define LFU_INIT 5                   /* a new key's counter, as Redis's */
#define LFU_LOG_FACTOR 10

static const char *const policy_names[] = { "noeviction", "allkeys-lru", "allkeys-lfu",
					    "allkeys-fifo", "volatile-ttl" };

int kvstore_policy_parse(const char *name, enum kv_policy *out)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(name, policy_names[i]) == 0) {
			*out = (enum kv_policy)i;
			return 0;
		}
	return -1;
}

const char *kvstore_policy_name(enum kv_policy p)
{
	return policy_names[p];
}

void kvstore_init(struct kv_store *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	kvdict_init(&s->dict, seed);
	s->rng = seed | 1;
	s->samples = 5;
	s->policy = KV_NOEVICTION;
}


static void free_entry(struct kv_entry *e, void *arg)
{
	(void)arg;
	free(e);
}

void kvstore_free(struct kv_store *s)
{
	kvdict_clear(&s->dict, free_entry, NULL);
	s->pool_n = 0;
}

/* An entry about to be freed leaves the eviction pool. */
static void pool_forget(struct kv_store *s, const struct kv_entry *e)
{
	for (int i = 0; i < s->pool_n; i++)
		if (s->pool[i].e == e) {
			s->pool[i] = s->pool[--s->pool_n];
			return;
		}
}

static void changed(struct kv_store *s, const void *key, size_t len)
{
	if (s->changed)
		s->changed(s->changed_arg, key, len);
}

void kvstore_flush(struct kv_store *s)
{
	kvdict_clear(&s->dict, free_entry, NULL);
	s->pool_n = 0;
	s->bytes = 0;
	s->volatile_keys = 0;
	changed(s, NULL, 0);
}

static size_t footprint(struct kv_entry *e)
{
	return malloc_usable_size(e) + 8;
}

/* Unlink and free an entry (its key must be in the table). */
static void drop(struct kv_store *s, struct kv_entry *e)
{
	struct kv_entry *x = kvdict_remove(&s->dict, e->data, e->klen);
	if (!x)
		return;
	if (x->expire_ms)
		s->volatile_keys--;
	s->bytes -= footprint(x);
	changed(s, x->data, x->klen);
	pool_forget(s, x);
	free(x);
}

/* The access clock: milliseconds, in 32 bits (differences wrap correctly
 * for 49 days; a key idle longer may look fresher than it is). */
static uint32_t clock32(const struct kv_store *s)
{
	return (uint32_t)s->now_ms;
}

static uint32_t idle_minutes(const struct kv_store *s, const struct kv_entry *e)
{
	return (uint32_t)(clock32(s) - e->access) / 60000;
}

/* Redis's LFU: the counter first loses a point per idle minute, then gains
 * one with probability 1 / ((counter - 5) x factor + 1). */
static void touch(struct kv_store *s, struct kv_entry *e)
{
	if (s->policy == KV_ALLKEYS_LFU) {
		uint32_t idle_min = idle_minutes(s, e);
		e->lfu = idle_min >= e->lfu ? 0 : (uint8_t)(e->lfu - idle_min);
		if (e->lfu < 255) {
			double base = e->lfu > LFU_INIT ? e->lfu - LFU_INIT : 0;
			double r = rng_unit(&s->rng);
			if (r < 1.0 / (base * LFU_LOG_FACTOR + 1))
				e->lfu++;
		}
	}
	e->access = clock32(s);
}

static bool expired(const struct kv_store *s, const struct kv_entry *e)
{
	return e->expire_ms && e->expire_ms <= s->now_ms;
}

bool kvstore_expired(const struct kv_store *s, const struct kv_entry *e)
{
	return expired(s, e);
}

struct kv_entry *kvstore_peek(struct kv_store *s, const void *key, size_t len)
{
	return kvdict_find(&s->dict, key, len);
}

struct kv_entry *kvstore_find(struct kv_store *s, const void *key, size_t len, bool use)
{
	struct kv_entry *e = kvdict_find(&s->dict, key, len);
	if (e && expired(s, e)) {
		drop(s, e);
		s->expired++;
		return NULL;
	}
	if (e && use)
		touch(s, e);
	return e;
}

int kvstore_set(struct kv_store *s, const void *key, size_t klen, const void *val, size_t vlen,
		int64_t expire_ms, bool keep_ttl, struct kv_entry **out)
{
	struct kv_entry *old = kvdict_find(&s->dict, key, klen);
	if (old && expired(s, old)) {
		drop(s, old);
		s->expired++;
		old = NULL;
	}
	if (keep_ttl && old)
		expire_ms = old->expire_ms;
	struct kv_entry *e = old;
	if (!old || malloc_usable_size(old) < sizeof(*e) + klen + vlen) {
		e = malloc(sizeof(*e) + klen + vlen);
		if (!e)
			return -ENOMEM;
		memcpy(e->data, key, klen);
		e->klen = (uint32_t)klen;
		e->lfu = old ? old->lfu : LFU_INIT;
		e->expire_ms = old ? old->expire_ms : 0;  /* counted below as it changes */
		e->seq = old ? old->seq : ++s->seq;  /* fifo: creation order */
		if (old) {
			kvdict_replace(&s->dict, old, e);
			s->bytes -= footprint(old);
			pool_forget(s, old);
			free(old);
		} else if (kvdict_add(&s->dict, e) < 0) {
			free(e);
			return -ENOMEM;
		}
		s->bytes += footprint(e);
	}
	/* An overwrite that fits reuses the entry: no allocation. */
	memcpy(e->data + klen, val, vlen);
	e->vlen = (uint32_t)vlen;
	if (e->expire_ms && !expire_ms)
		s->volatile_keys--;
	else if (!e->expire_ms && expire_ms)
		s->volatile_keys++;
	e->expire_ms = expire_ms;
	e->access = clock32(s);
	changed(s, key, klen);
	if (out)
		*out = e;
	return 0;
}

bool kvstore_del(struct kv_store *s, const void *key, size_t len)
{
	struct kv_entry *e = kvstore_find(s, key, len, false);
	if (!e)
		return false;
	drop(s, e);
	return true;
}

void kvstore_expire(struct kv_store *s, struct kv_entry *e, int64_t expire_ms)
{
	if (!e->expire_ms && expire_ms)
		s->volatile_keys++;
	else if (e->expire_ms && !expire_ms)
		s->volatile_keys--;
	e->expire_ms = expire_ms;
	changed(s, e->data, e->klen);
}

int kvstore_rename(struct kv_store *s, struct kv_entry *e, const void *to, size_t tolen)
{
	struct kv_entry *n;
	int rc = kvstore_set(s, to, tolen, kv_entry_value(e), e->vlen, e->expire_ms, false, &n);
	if (rc < 0)
		return rc;
	n->lfu = e->lfu;
	n->access = e->access;
	n->seq = e->seq;
	drop(s, e);
	return 0;
}

/* The sampled entry the policy would evict first: larger is worse to keep. */
static uint64_t badness(const struct kv_store *s, const struct kv_entry *e)
{
	switch (s->policy) {
	case KV_ALLKEYS_LRU:
		return (uint32_t)(clock32(s) - e->access);
	case KV_ALLKEYS_LFU: {
		uint32_t idle_min = idle_minutes(s, e);
		uint8_t lfu = idle_min >= e->lfu ? 0 : (uint8_t)(e->lfu - idle_min);
		return 255 - lfu;
	}
	case KV_ALLKEYS_FIFO:
		return UINT64_MAX - e->seq;
	case KV_VOLATILE_TTL:
		return e->expire_ms ? UINT64_MAX - (uint64_t)e->expire_ms : 0;
	case KV_NOEVICTION:
		break;
	}
	return 0;
}

/* How much the policy wants e gone: 0 when it may not evict it at all. */
static uint64_t score(const struct kv_store *s, const struct kv_entry *e)
{
	if (s->policy == KV_VOLATILE_TTL && !e->expire_ms)
		return 0;
	return badness(s, e) + 1;  /* badness is below UINT64_MAX: seq >= 1, expire_ms >= 1 */
}

/* Offer a sampled entry to the pool: it joins while there is room, or
 * takes the place of the pooled entry best worth keeping if it is worse. */
static void pool_offer(struct kv_store *s, struct kv_entry *e, uint64_t sc)
{
	int keep = 0;
	for (int i = 0; i < s->pool_n; i++) {
		if (s->pool[i].e == e)
			return;
		if (s->pool[i].score < s->pool[keep].score)
			keep = i;
	}
	if (s->pool_n < KV_EVICTION_POOL)
		s->pool[s->pool_n++] = (struct kv_candidate){ e, sc };
	else if (sc > s->pool[keep].score)
		s->pool[keep] = (struct kv_candidate){ e, sc };
}

int kvstore_make_room(struct kv_store *s)
{
	while (s->maxmemory && kvstore_used(s) > s->maxmemory) {
		if (s->policy == KV_NOEVICTION || kvstore_keys(s) == 0 ||
		    (s->policy == KV_VOLATILE_TTL && s->volatile_keys == 0))
			return ERR_LIMIT;
		/* Pooled entries are judged again: they may have been used, had
		 * their TTL changed or the policy may have changed since. */
		for (int i = 0; i < s->pool_n; i++)
			s->pool[i].score = score(s, s->pool[i].e);
		/* A window of buckets may hold no key (or, for volatile-ttl, none
		 * with a TTL): look further, within bounds. */
		int want = s->policy == KV_VOLATILE_TTL ? s->samples : 1, found = 0;
		for (int r = 0; r < 20 && found < want; r++) {
			struct kv_entry *sample[4 * KV_MAX_SAMPLES];
			size_t n = kvdict_sample(&s->dict, &s->rng, (size_t)(s->samples - found), sample,
						 4 * KV_MAX_SAMPLES);
			for (size_t i = 0; i < n; i++) {
				uint64_t sc = score(s, sample[i]);
				if (sc) {
					found++;
					pool_offer(s, sample[i], sc);
				}
			}
		}
		int victim = -1;
		for (int i = 0; i < s->pool_n; i++)
			if (s->pool[i].score && (victim < 0 || s->pool[i].score > s->pool[victim].score))
				victim = i;
		if (victim < 0)
			return ERR_LIMIT;
		drop(s, s->pool[victim].e);
		s->evicted++;
	}
	return 0;
}

struct sweep {
	struct kv_store *s;
	struct kv_entry *dead[64];
	int n, seen;
};

static void collect(struct kv_entry *e, void *arg)
{
	struct sweep *w = arg;
	w->seen++;
	if (expired(w->s, e) && w->n < 64)
		w->dead[w->n++] = e;
}

size_t kvstore_expire_cycle(struct kv_store *s, uint64_t budget_us)
{
	size_t total = 0;
	uint64_t until = loop_clock_ns() / 1000 + budget_us;
	while (s->volatile_keys && loop_clock_ns() / 1000 < until) {
		/* Some buckets (at least 20 keys) per round; go on while a quarter
		 * of what was seen had expired, as Redis's cycle does. */
		struct sweep w = { .s = s };
		do
			s->expire_cursor = kvdict_scan(&s->dict, s->expire_cursor, collect, &w);
		while (w.seen < 20 && w.n < 64 && s->expire_cursor);
		for (int i = 0; i < w.n; i++)
			drop(s, w.dead[i]);
		s->expired += (uint64_t)w.n;
		total += (size_t)w.n;
		if (w.n * 4 < w.seen || !s->expire_cursor)
			break;
	}
	return total;
}

struct kv_entry *kvstore_random(struct kv_store *s)
{
	for (int i = 0; i < 100; i++) {
		struct kv_entry *e = kvdict_random(&s->dict, &s->rng);
		if (!e)
			return NULL;
		if (!expired(s, e))
			return e;
		drop(s, e);
		s->expired++;
	}
	return NULL;
}
