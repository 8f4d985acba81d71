/*
 * lb.h - `strata lb`: the load balancer process.
 *
 * The main thread owns configuration, signals, health checks and the admin
 * endpoints; worker threads own connections. See docs/LB.md for behaviour
 * and docs/ARCHITECTURE.md for the path of a connection.
 */
#ifndef STRATA_LB_H
#define STRATA_LB_H

/* lb_main - the subcommand; returns the process exit code (2: usage or
 * configuration error, 1: runtime failure such as a port in use). */
int lb_main(int argc, char **argv);

#endif
