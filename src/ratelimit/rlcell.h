/*
 * rlcell.h - redis-cell's CL.THROTTLE as a Redis-protocol command, for the
 * services that answer it (`strata ratelimit serve`, `strata kv`).
 */
#ifndef STRATA_RLCELL_H
#define STRATA_RLCELL_H

#include <stdint.h>

#include "algo/rltable.h"
#include "core/buf.h"
#include "proto/resp.h"

/*
 * rlcell_command - CL.THROTTLE key max_burst count period [quantity] (cmd,
 * its name included) on the key's state in `table` at `now_ns`, and its
 * reply - redis-cell's five integers, or Redis's error for a wrong arity or
 * a value out of range - appended to `out`. redis-cell reads the wall
 * clock; any clock works if it never jumps, so callers pass loop_clock_ns().
 */
void rlcell_command(struct rl_table *table, const struct resp_command *cmd, uint64_t now_ns,
		    struct buf *out);

#endif
