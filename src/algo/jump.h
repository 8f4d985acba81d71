/*
 * jump.h - Jump consistent hash (Lamping and Veach, 2014).
 *
 * Maps a 64-bit key to a bucket in [0, buckets) with no memory and a
 * near-perfectly even spread; growing from n to n+1 buckets moves exactly
 * the keys that land in the new bucket (1/(n+1) of them). Buckets can only
 * be added or removed at the end, and all weigh the same.
 */
#ifndef STRATA_JUMP_H
#define STRATA_JUMP_H

#include <stdint.h>

/* jump_hash - the bucket of `key` among `buckets` (>= 1). */
int32_t jump_hash(uint64_t key, int32_t buckets);

#endif
