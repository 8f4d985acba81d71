/*
 * kvstore.h - the keyspace of the memory engine: keys with string values
 * and optional expiry times, the memory they take, and what makes room.
 *
 * Expiry is lazy (a key past its time is deleted when touched) and active
 * (kvstore_expire_cycle sweeps the table a slice at a time and keeps going
 * while it finds many expired keys). `maxmemory` bounds the bytes of
 * entries and table; kvstore_make_room evicts until under it, choosing by
 * `policy` among `samples` random keys each time plus the best candidates
 * kept from earlier samples (Redis's approximation with its eviction pool):
 *
 *   noeviction     refuse writes (ERR_LIMIT: Redis's OOM error)
 *   allkeys-lru    the least recently used of the sample
 *   allkeys-lfu    the least frequently used (8-bit logarithmic counter,
 *                  decaying by one per minute idle, as Redis's)
 *   allkeys-fifo   the oldest created of the sample
 *   volatile-ttl   the nearest to expiring among sampled keys with a TTL
 *                  (no such key: refuse, as noeviction)
 *
 * Time comes from the caller (kvstore_clock), so one command sees one
 * instant. Not thread-safe: one loop owns a store.
 */
#ifndef STRATA_KVSTORE_H
#define STRATA_KVSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kvdict.h"

#define KV_EVICTION_POOL 16          /* Redis's EVPOOL_SIZE */
#define KV_MAX_SAMPLES 64            /* maxmemory-samples' bound */

enum kv_policy { KV_NOEVICTION, KV_ALLKEYS_LRU, KV_ALLKEYS_LFU, KV_ALLKEYS_FIFO, KV_VOLATILE_TTL };

struct kv_store {
	struct kv_dict dict;
	int64_t now_ms;                  /* Unix ms of the command being run */
	size_t bytes;                    /* entries, as malloc sizes them */
	size_t volatile_keys;            /* keys with a TTL */
	uint64_t maxmemory;              /* 0: no bound */
	enum kv_policy policy;
	int samples;
	/* The worst entries seen by earlier samples, kept as candidates for the
	 * next evictions: with it a few samples per eviction approach the exact
	 * policy. An entry leaves the pool when it is freed. */
	struct kv_candidate {
		struct kv_entry *e;
		uint64_t score;          /* 0: not evictable; larger: evicted first */
	} pool[KV_EVICTION_POOL];
	int pool_n;
	uint64_t seq, rng, expire_cursor;
	uint64_t expired, evicted;       /* stats */
	/* Told of every key whose value or TTL changed or that went away (key
	 * NULL: all of them, by kvstore_flush), for a durable engine to write. */
	void (*changed)(void *arg, const void *key, size_t len);
	void *changed_arg;
};

/* kvstore_init / kvstore_free - an empty store; free releases every key. */
void kvstore_init(struct kv_store *s, uint64_t seed);
void kvstore_free(struct kv_store *s);

/* kvstore_clock - the time commands from now on see. */
static inline void kvstore_clock(struct kv_store *s, int64_t now_ms) { s->now_ms = now_ms; }

/* kvstore_policy_parse / _name - "noeviction", "allkeys-lru", ...; parse
 * returns 0 or -1. */
int kvstore_policy_parse(const char *name, enum kv_policy *out);
const char *kvstore_policy_name(enum kv_policy p);

/* kvstore_peek - the entry of key as stored, expired or not, without side
 * effects (for writing the store out), or NULL. */
struct kv_entry *kvstore_peek(struct kv_store *s, const void *key, size_t len);

/* kvstore_expired - is e past its expiry time? */
bool kvstore_expired(const struct kv_store *s, const struct kv_entry *e);

/* kvstore_find - the live entry of key (an expired one is deleted first),
 * or NULL. `touch` records the access for LRU/LFU. The entry is valid until
 * the next change to the store. */
struct kv_entry *kvstore_find(struct kv_store *s, const void *key, size_t len, bool touch);

/*
 * kvstore_set - key = value (an overwrite that fits reuses the entry), with
 * expire_ms (Unix ms, 0: none) or, with
 * keep_ttl, the old entry's TTL. Returns 0 (the new entry in *out if out
 * is not NULL) or -ENOMEM.
 */
int kvstore_set(struct kv_store *s, const void *key, size_t klen, const void *val, size_t vlen,
		int64_t expire_ms, bool keep_ttl, struct kv_entry **out);

/* kvstore_del - delete key; true when it existed (and had not expired). */
bool kvstore_del(struct kv_store *s, const void *key, size_t len);

/* kvstore_expire - set (ms > 0) or clear (0) the TTL of a live entry. */
void kvstore_expire(struct kv_store *s, struct kv_entry *e, int64_t expire_ms);

/* kvstore_rename - move entry e to key `to` (another key; what was there
 * is replaced), keeping its TTL. 0, or -ENOMEM (nothing changed). */
int kvstore_rename(struct kv_store *s, struct kv_entry *e, const void *to, size_t tolen);

/* kvstore_make_room - evict until under maxmemory. 0, or ERR_LIMIT when
 * the policy cannot free enough (the write is then refused). */
int kvstore_make_room(struct kv_store *s);

/* kvstore_expire_cycle - active expiry: sweep part of the table, at most
 * `budget_us`. Returns the keys it expired. */
size_t kvstore_expire_cycle(struct kv_store *s, uint64_t budget_us);

/* kvstore_flush - delete every key. */
void kvstore_flush(struct kv_store *s);

/* kvstore_random - a live key at random, or NULL. */
struct kv_entry *kvstore_random(struct kv_store *s);

static inline size_t kvstore_keys(const struct kv_store *s) { return kvdict_size(&s->dict); }

/* kvstore_used - the bytes maxmemory bounds: entries and the table. */
static inline size_t kvstore_used(const struct kv_store *s)
{
	return s->bytes + kvdict_bytes(&s->dict);
}


#endif
