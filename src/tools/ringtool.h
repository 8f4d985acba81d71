/*
 * ringtool.h - `strata ring`: place keys with a consistent-hashing algorithm
 * and report balance, movement on adding or removing nodes, lookup time and
 * memory, as a table, JSON, CSV or a gnuplot chart.
 */
#ifndef STRATA_RINGTOOL_H
#define STRATA_RINGTOOL_H

/* ringtool_main - the subcommand; returns the exit code (2: bad arguments). */
int ringtool_main(int argc, char **argv);

#endif
