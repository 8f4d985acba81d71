/*
 * ring.h - consistent hashing on a hash ring with virtual nodes.
 *
 * Each node owns `vnodes x weight` points on a 64-bit ring; a key belongs to
 * the first point clockwise from its hash. Adding a node moves only the keys
 * that land on its new points; removing one moves only its own keys. Points
 * are XXH64 (seed 0) of "<node key>#<i>", so placement is identical across
 * runs and machines. Lookup is a binary search over the sorted points,
 * narrowed first by an index on the hash's top bits (about one entry per
 * point, at most 65536 = 256 KiB), which keeps it within a cache miss or
 * two at any ring size.
 *
 * Ownership: the ring copies nothing but the node ids and its points; it is
 * not thread-safe for writers, but lookups may run concurrently once
 * building is done.
 */
#ifndef STRATA_RING_H
#define STRATA_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_DEFAULT_VNODES 160   /* points per unit of weight, as Ketama */

struct ring_point {
	uint64_t hash;
	uint32_t node;
};

#define RING_INDEX_MAX_BITS 16

struct ring {
	struct ring_point *points;   /* sorted by hash, then node */
	size_t npoints;
	size_t cap;
	int vnodes;
	/* index[b] = first point whose hash's top index_bits bits are >= b, so
	 * a lookup binary-searches a handful of points instead of all; about
	 * one bucket per point, at most 2^RING_INDEX_MAX_BITS */
	uint32_t *index;
	int index_bits;
};

/* ring_init - an empty ring with `vnodes` points per unit of weight. */
void ring_init(struct ring *r, int vnodes);

/* ring_free - release the points. */
void ring_free(struct ring *r);

/*
 * ring_add - place node `node`, identified on the ring by `key` (a stable
 * name such as "10.0.0.1:80"), with weight 1..1024. Returns 0 or -ENOMEM.
 */
int ring_add(struct ring *r, uint32_t node, const char *key, int weight);

/* ring_remove - take every point of `node` off the ring. */
void ring_remove(struct ring *r, uint32_t node);

/* ring_memory - bytes held by the points and the index. */
size_t ring_memory(const struct ring *r);

/* ring_hash - the ring's hash of arbitrary bytes (XXH64, seed 0). */
uint64_t ring_hash(const void *data, size_t len);

/*
 * ring_lookup - the node owning `hash`: the first point clockwise whose node
 * `accept(arg, node)` approves (accept may be NULL: any node). Skipping
 * nodes this way is how a down server's keys spill to its successors while
 * every other key stays put. Returns the node id, or -1 when the ring is
 * empty or no node is accepted.
 */
int64_t ring_lookup(const struct ring *r, uint64_t hash,
		    bool (*accept)(void *arg, uint32_t node), void *arg);

/*
 * ring_preference - the first `n` distinct nodes clockwise from `hash`
 * (Dynamo's preference list: a key's replicas). With `zone` (may be NULL),
 * a node whose zone(arg, node) was already chosen is skipped, so replicas
 * land in distinct zones while enough zones exist. Writes up to n node ids
 * to out and returns how many (fewer when the ring has fewer eligible nodes).
 */
size_t ring_preference(const struct ring *r, uint64_t hash, size_t n, uint32_t *out,
		       int (*zone)(void *arg, uint32_t node), void *arg);

#endif
