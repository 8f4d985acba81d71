/*
 * timeid.h - 128-bit identifiers ordered by time, the alternatives to
 * Snowflake the notes compare it with: UUIDv7 (RFC 9562) and ULID.
 *
 *   UUIDv7  48-bit Unix ms | version 7 | 12 bits | variant 10 | 62 bits
 *   ULID    48-bit Unix ms | 80 bits (Crockford base32, 26 characters)
 *
 * The bits after the time are random for the first ID of a millisecond;
 * later IDs of the same millisecond add one to them (RFC 9562's monotonic
 * random, 6.2 method 2; the ULID spec's monotonicity), so the IDs of one
 * generator strictly increase even within a millisecond. A clock that goes
 * backwards reuses the last millisecond, and a counter that would overflow
 * moves on to the next one: never a smaller or equal ID. Unlike Snowflake
 * they need no datacenter or worker: 74 or 80 random bits make a collision
 * between generators improbable, not impossible.
 *
 * A generator is thread-safe (one mutex: these are not the hot path).
 */
#ifndef STRATA_TIMEID_H
#define STRATA_TIMEID_H

#include <stdint.h>

#include "algo/snowflake.h"

enum tid_kind { TID_UUID7, TID_ULID };

struct tid_gen;

/* tid_create - a generator of `kind` on `clock` (NULL: CLOCK_REALTIME; an
 * sf_clock_fn with `arg`). 0 and *out, or -ENOMEM. tid_destroy frees. */
int tid_create(enum tid_kind kind, sf_clock_fn clock, void *arg, struct tid_gen **out);
void tid_destroy(struct tid_gen *g);

/* tid_next - the next ID as 16 big-endian bytes (so byte order is time
 * order). 0, or -EIO when the system's random source fails. */
int tid_next(struct tid_gen *g, uint8_t out[16]);

#define TID_UUID_LEN 36              /* 8-4-4-4-12 lowercase hex */
#define TID_ULID_LEN 26

/* tid_format - the text form of an ID of the generator's kind, with a NUL
 * (out holds at least TID_UUID_LEN + 1 bytes); returns its length. */
size_t tid_format(enum tid_kind kind, const uint8_t id[16], char *out);

/* tid_unix_ms - the millisecond an ID (either kind) was made in. */
uint64_t tid_unix_ms(const uint8_t id[16]);

#endif
