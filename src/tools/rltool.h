/*
 * rltool.h - `strata ratelimit`: the rate limiter as a tool.
 *
 *   strata ratelimit serve   CL.THROTTLE over the Redis protocol
 *                            (ratelimit/rlserver.h)
 *   strata ratelimit bench   decisions per second of every algorithm,
 *                            in-process: on one key's state, and through
 *                            the shared key table with many keys
 */
#ifndef STRATA_RLTOOL_H
#define STRATA_RLTOOL_H

/* rltool_main - the subcommand; returns the exit code (2: bad arguments). */
int rltool_main(int argc, char **argv);

#endif
