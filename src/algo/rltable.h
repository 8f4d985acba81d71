/*
 * rltable.h - per-key rate-limit state for one policy, shared by threads.
 *
 * Keys are byte strings (a client address, an API key, a cookie value) of
 * up to RLT_KEY_MAX bytes. The table is split into stripes by key hash,
 * each with its own lock, hash chains and a least-recently-used list, so
 * threads deciding for different keys rarely meet.
 *
 * Memory is bounded: about `max_keys` keys (threads adding keys at once may
 * pass it by a few). A key whose state is back to a fresh key's (its reset
 * time has passed) is idle: dropped when it reaches the old end of its
 * stripe's LRU list, or by the periodic rl_table_expire. When the table is
 * full of keys that are not idle, a new key evicts the least recently used
 * one of its stripe - that key forgets its history, so the bound should be
 * sized above the number of clients active within a period. A stripe holds
 * at most twice its share. Bytes per key: docs/RATELIMIT.md.
 */
#ifndef STRATA_RLTABLE_H
#define STRATA_RLTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "algo/ratelimit.h"

#define RLT_KEY_MAX 128

struct rl_table;

/*
 * rl_table_create - a table for policy `p` (checked by the caller with
 * rl_policy_check) holding at most `max_keys` keys (>= 1).
 * Returns 0 and sets *out (holding the one reference), or -ENOMEM.
 */
int rl_table_create(const struct rl_policy *p, size_t max_keys, struct rl_table **out);

/* rl_table_ref / rl_table_unref - take and drop a reference (thread-safe);
 * the table and its keys are freed with the last. A reloaded strata lb
 * shares an unchanged rule's table between generations this way. unref
 * accepts NULL. */
struct rl_table *rl_table_ref(struct rl_table *t);
void rl_table_unref(struct rl_table *t);

/*
 * rl_table_decide - rl_decide for `key` (len bytes; longer keys are cut
 * to RLT_KEY_MAX) at `now_ns`. Thread-safe. Returns 0, or -ENOMEM when the
 * key cannot be stored (the request is then allowed: a limiter short of
 * memory must not take the service down; out->allowed says so).
 */
int rl_table_decide(struct rl_table *t, const void *key, size_t len, uint64_t now_ns,
		    uint64_t cost, struct rl_result *out);

/*
 * rl_table_apply - run fn(state, arg) on the state of `key` under its
 * stripe's lock (creating the key when new); fn returns the time from which
 * the state is a fresh key's (when it may be dropped). For callers with
 * their own arithmetic on the state, such as CL.THROTTLE. Returns 0 or
 * -ENOMEM (fn not run).
 */
int rl_table_apply(struct rl_table *t, const void *key, size_t len, uint64_t now_ns,
		   uint64_t (*fn)(struct rl_state *st, void *arg), void *arg);

/* rl_table_expire - drop every idle key now: a periodic sweep of the whole
 * table (O(keys)), so idle keys free their memory even when no traffic
 * touches their stripe and whatever their place in the LRU order. */
void rl_table_expire(struct rl_table *t, uint64_t now_ns);

/* rl_table_keys - keys held now (approximate while other threads decide). */
size_t rl_table_keys(struct rl_table *t);

/* rl_table_entry_bytes - memory one key takes with this table's policy. */
size_t rl_table_entry_bytes(const struct rl_table *t);

#endif
