/*
 * rng.h - a fast pseudo-random generator for sampling and load balancing
 * (xorshift64*: Vigna, "An experimental exploration of Marsaglia's xorshift
 * generators, scrambled", 2016). Not for anything secret.
 *
 * The state is the caller's, one per thread. Every bit of the output is
 * usable: plain xorshift's low bits are a linear function of the previous
 * state's, so two draws reduced modulo small numbers are correlated; the
 * final multiply scrambles them.
 */
#ifndef STRATA_RNG_H
#define STRATA_RNG_H

#include <stdint.h>

/* rng_next - the next 64 random bits; advances *state (0 is replaced by a
 * fixed non-zero seed, as xorshift must never hold 0). */
static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* rng_unit - a double uniform in [0, 1). */
static inline double rng_unit(uint64_t *state)
{
	return (double)(rng_next(state) >> 11) / (double)(1ULL << 53);
}

#endif
