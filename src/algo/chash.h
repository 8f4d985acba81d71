/*
 * chash.h - one interface over the consistent-hashing algorithms, so a user
 * (and `strata ring`) can choose and compare:
 *
 *   ring        hash ring with virtual nodes (ring.h): vnodes x weight points
 *               per node, binary-search lookup, minimal movement
 *   bounded     the ring with bounded loads (Mirrokni, Thorup, Zadimoghaddam):
 *               chash_assign gives a key to the first node clockwise whose
 *               load is below a capacity, so no node exceeds it
 *   jump        Jump consistent hash (jump.h): no memory, even spread; nodes
 *               are added and removed only at the end, all of weight 1
 *   maglev      Maglev lookup table (maglev.h), M slots (prime)
 *   rendezvous  highest random weight: every node scores the key, the best
 *               wins; weighted with the logarithmic method; O(nodes) lookup
 *
 * Keys are hashed by the caller (ring_hash, XXH64 seed 0); nodes are named,
 * and names, not insertion order, decide placement, so results are the same
 * across runs and machines. Node ids are dense indices that stay valid until
 * the node is removed. Not thread-safe for writers; lookups may run
 * concurrently once built.
 */
#ifndef STRATA_CHASH_H
#define STRATA_CHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "algo/maglev.h"
#include "algo/ring.h"

#define CHASH_NAME_MAX 64

enum chash_algo { CHASH_RING, CHASH_BOUNDED, CHASH_JUMP, CHASH_MAGLEV, CHASH_RENDEZVOUS };

struct chash_node {
	char name[CHASH_NAME_MAX];
	int weight;
	bool live;
	uint64_t seed;        /* rendezvous: XXH64 of the name */
	uint64_t load;        /* bounded: keys assigned */
};

struct chash {
	enum chash_algo algo;
	int vnodes;               /* ring, bounded */
	uint32_t maglev_size;     /* maglev */
	struct chash_node *nodes; /* indexed by node id */
	int nnodes;               /* ids in use, live or not */
	int cap;
	int live;
	struct ring ring;
	struct maglev maglev;
};

/* chash_parse_algo / chash_algo_name - "ring", "bounded", ... 0 or ERR_PARSE. */
int chash_parse_algo(const char *word, enum chash_algo *out);
const char *chash_algo_name(enum chash_algo a);

/*
 * chash_init - an empty set of nodes. `vnodes` (ring, bounded; 0: 160) and
 * `maglev_size` (0: 65537; must be prime) are ignored by other algorithms.
 * Returns 0 or -EINVAL.
 */
int chash_init(struct chash *c, enum chash_algo algo, int vnodes, uint32_t maglev_size);

/* chash_free - release everything; the struct may be initialised again. */
void chash_free(struct chash *c);

/*
 * chash_add - add a node named `name` (unique) with weight 1..1024 (jump:
 * only 1). Returns its id (>= 0), -EINVAL (bad name or weight, duplicate) or
 * -ENOMEM.
 */
int chash_add(struct chash *c, const char *name, int weight);

/*
 * chash_remove - take node `id` out; its keys move to the others. Jump can
 * remove only its most recently added live node (-EINVAL otherwise).
 * Returns 0 or -EINVAL.
 */
int chash_remove(struct chash *c, int id);

/* chash_lookup - the node id owning `hash`, or -1 with no live node. For
 * bounded this is the plain ring placement, ignoring loads. */
int chash_lookup(const struct chash *c, uint64_t hash);

/*
 * chash_assign - bounded loads: give `hash` to the first live node clockwise
 * whose load is below `capacity`, count it there and return its id; -1 when
 * every node is full. Other algorithms place as chash_lookup and count.
 */
int chash_assign(struct chash *c, uint64_t hash, uint64_t capacity);

/* chash_reset_loads - forget what chash_assign counted. */
void chash_reset_loads(struct chash *c);

/* chash_memory - bytes held by the structure (nodes, points, table). */
size_t chash_memory(const struct chash *c);

#endif
