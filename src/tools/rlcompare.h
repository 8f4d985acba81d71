/*
 * rlcompare.h - `strata ratelimit compare`: replay synthetic traces
 * (steady, bursty, many keys, window-edge bursts) through every rate-limit
 * algorithm and count the decisions that differ from the exact sliding
 * log, as a table, JSON or a gnuplot chart.
 */
#ifndef STRATA_RLCOMPARE_H
#define STRATA_RLCOMPARE_H

/* rlcompare_main - `strata ratelimit compare ...`; returns the exit code. */
int rlcompare_main(int argc, char **argv);

#endif
