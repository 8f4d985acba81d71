/*
 * rlstore.h - shared rate limits over a Redis-protocol store (the notes'
 * distributed rate limiter): the algorithms of algo/ratelimit.h as one Lua
 * script that the store runs atomically, on its own clock.
 *
 * One call decides a request for several rules at once: EVALSHA with one
 * store key per rule (`strata:rl:ALGO:RULE:KEY`) and six arguments per
 * key (algo, limit, period in microseconds, burst, cost, and how many units
 * to take when they are there - more than the cost for a local allowance). The script reads
 * the store's clock (TIME), updates each key's state and sets it to expire
 * when it is as good as new, stopping at the first rule that refuses -
 * the same order and the same "first refusal decides" as local rules. No
 * read-modify-write crosses the network, so instances sharing a store
 * cannot race, and no instance's clock matters.
 *
 * The store computes in microseconds with Lua numbers (doubles), which are
 * exact for whole numbers below 2^53: rlstore_policy_check refuses the
 * policies that could leave that range.
 */
#ifndef STRATA_RLSTORE_H
#define STRATA_RLSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "algo/ratelimit.h"
#include "core/buf.h"
#include "proto/resp.h"

/* The script, as the store runs it (`strata ratelimit script` prints it). */
extern const char rlstore_script[];

/* rlstore_sha - the script's SHA1 in hex (static; "" if it cannot be
 * computed, when every call fails as a store error). */
const char *rlstore_sha(void);

/* rlstore_hello - append SCRIPT LOAD of the script (one reply), to send on
 * every new connection so that EVALSHA finds it. */
void rlstore_hello(struct buf *out);

/* rlstore_policy_check - 0 when the store can decide policy p exactly,
 * else ERR_CONFIG with a one-line reason in err. */
int rlstore_policy_check(const struct rl_policy *p, char *err, size_t errlen);

/* One rule's part of a call: its policy, name and the client's key, and
 * up to how many units to take (>= the cost). */
struct rlstore_ask {
	const struct rl_policy *policy;
	const char *rule;
	const void *key;
	size_t key_len;
	uint64_t want;
};

/* rlstore_command - append the call deciding a request of `cost` units
 * for asks[0..n) (n >= 1) to `out`. */
void rlstore_command(struct buf *out, const struct rlstore_ask *asks, int n, uint64_t cost);

/*
 * rlstore_decided - how many asks of a call the store decided, from its
 * reply: the first ones, up to and including the first refusal. ERR_PARSE
 * when the reply is an error or not the script's.
 */
int rlstore_decided(const struct resp_value *reply);

/* rlstore_result - the decision for ask k < rlstore_decided() (times in
 * ns; the limit taken from the ask's policy `p`); returns the units taken
 * (0 when refused, else between the cost and the ask's want). */
uint64_t rlstore_result(const struct resp_value *reply, int k, const struct rl_policy *p,
			struct rl_result *out);

#endif
