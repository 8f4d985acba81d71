/*
 * maglev.h - Maglev hashing (Eisenbud et al., NSDI 2016).
 *
 * A lookup table of M slots (M prime, default 65537) filled by letting each
 * node claim slots in the order of its own permutation (offset and skip
 * from two hashes of its name), round by round; a node of weight w claims w
 * slots per round. Lookup is one table read; balance is within a slot or
 * so of perfect; a change of nodes moves a little more than the ideal share
 * of keys. Memory: 4 bytes per slot.
 */
#ifndef STRATA_MAGLEV_H
#define STRATA_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

#define MAGLEV_DEFAULT_SIZE 65537

struct maglev {
	uint32_t size;      /* M, prime */
	int32_t *table;     /* node index per slot; NULL until built */
};

/*
 * maglev_build - (re)fill the table of size `size` (a prime >= 2) for the
 * `n` nodes named names[i] with weights[i] >= 1 (weights may be NULL).
 * Node i is the value i in the table. Returns 0, -EINVAL or -ENOMEM.
 */
int maglev_build(struct maglev *m, uint32_t size, const char *const *names,
		 const int *weights, int n);

/* maglev_lookup - the node of `hash`, or -1 when there is no node. */
static inline int32_t maglev_lookup(const struct maglev *m, uint64_t hash)
{
	return m->table ? m->table[hash % m->size] : -1;
}

void maglev_free(struct maglev *m);

/* maglev_is_prime - for validating a table size. */
int maglev_is_prime(uint32_t n);

#endif
