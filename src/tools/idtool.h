/*
 * idtool.h - `strata id bench`: IDs per second in-process, one generator
 * shared by N threads, next to the layout's limit (4,096,000 per second
 * with 12 sequence bits); and UUIDv7 and ULID per second.
 */
#ifndef STRATA_IDTOOL_H
#define STRATA_IDTOOL_H

/* idtool_bench_main - `strata id bench ...` (argv[0] is "bench"). */
int idtool_bench_main(int argc, char **argv);

#endif
