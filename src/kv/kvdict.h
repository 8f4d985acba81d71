/*
 * kvdict.h - the key-value store's hash table: chained buckets, a power of
 * two of them, grown and shrunk by incremental rehashing (as Redis's dict):
 * while a resize is under way both tables are live, and every operation
 * moves a few buckets, so no single command pays for moving them all.
 *
 * The table stores `struct kv_entry`, which the caller allocates: the key
 * and value bytes live in the entry. Keys are binary-safe. Hashing is
 * XXH3 with a per-process random seed, so clients cannot pick keys that
 * all land in one bucket.
 *
 * SCAN uses Redis's reverse-binary cursor: every key present for the whole
 * scan is returned at least once, even across resizes.
 */
#ifndef STRATA_KVDICT_H
#define STRATA_KVDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_RANDOM_CHAIN 8            /* kvdict_random is uniform up to this chain length */

struct kv_entry {
	struct kv_entry *next;           /* bucket chain */
	int64_t expire_ms;               /* Unix ms; 0: no TTL */
	uint64_t seq;                    /* creation order (fifo eviction) */
	uint32_t access;                 /* lru: the last access, ms (low 32 bits) */
	uint32_t klen, vlen;
	uint8_t lfu;                     /* lfu: logarithmic access counter */
	char data[];                     /* key bytes, then value bytes */
};

static inline const char *kv_entry_key(const struct kv_entry *e) { return e->data; }
static inline char *kv_entry_value(struct kv_entry *e) { return e->data + e->klen; }

struct kv_dict {
	struct kv_entry **t[2];
	size_t size[2];                  /* buckets: 0 or a power of two */
	size_t used[2];
	long rehash;                     /* next bucket of t[0] to move; -1: none */
	uint64_t seed;
};

/* kvdict_init - an empty table. kvdict_clear frees every entry with
 * free_entry and empties it (reusable). */
void kvdict_init(struct kv_dict *d, uint64_t seed);
void kvdict_clear(struct kv_dict *d, void (*free_entry)(struct kv_entry *e, void *arg), void *arg);

static inline size_t kvdict_size(const struct kv_dict *d) { return d->used[0] + d->used[1]; }

/* kvdict_find - the entry of key[0..len), or NULL. */
struct kv_entry *kvdict_find(struct kv_dict *d, const void *key, size_t len);

/* kvdict_add - insert e, whose key is not in the table. 0 (when growing
 * fails the entry still goes in: chains just get longer), or -ENOMEM when
 * the first bucket array cannot be allocated (e is then not in). */
int kvdict_add(struct kv_dict *d, struct kv_entry *e);

/* kvdict_replace - put `e` where `old` (same key) was; old is unlinked and
 * left to the caller. */
void kvdict_replace(struct kv_dict *d, struct kv_entry *old, struct kv_entry *e);

/* kvdict_remove - unlink the entry of key and return it (NULL if none). */
struct kv_entry *kvdict_remove(struct kv_dict *d, const void *key, size_t len);

/* kvdict_random - an entry chosen at random (NULL when empty); rng is the
 * caller's rng_next state. Uniform over the entries of chains up to
 * KV_RANDOM_CHAIN long (nearly all of them); entries of longer chains are
 * picked less often. */
struct kv_entry *kvdict_random(struct kv_dict *d, uint64_t *rng);

/* kvdict_sample - entries for eviction to choose from: those of a run of
 * consecutive buckets, from a random one on, long enough to hold `want`
 * on average (as Redis's dictGetSomeKeys, without its bias). Each entry is
 * as likely as any other to be among them, and the buckets are read in
 * order, so a sample costs one random seek rather than one per key.
 * The window is at most 16 x want buckets (a sparse table yields fewer).
 * Stores at most `cap` in out (a random subset of a window that holds
 * more) and returns how many: 0 when the window is empty. */
size_t kvdict_sample(struct kv_dict *d, uint64_t *rng, size_t want, struct kv_entry **out,
		     size_t cap);

/*
 * kvdict_scan - call fn for the entries of the bucket(s) at `cursor` and
 * return the next cursor (0 when the scan is over). fn may not change the
 * table. Start with cursor 0.
 */
uint64_t kvdict_scan(struct kv_dict *d, uint64_t cursor,
		     void (*fn)(struct kv_entry *e, void *arg), void *arg);

/* kvdict_rehash - move up to `n` buckets of a resize under way; true while
 * one is still under way. Also shrinks a table far larger than its keys. */
bool kvdict_rehash(struct kv_dict *d, int n);

/* kvdict_bytes - memory the bucket arrays take. */
size_t kvdict_bytes(const struct kv_dict *d);

#endif
