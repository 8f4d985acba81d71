/*
 * echo.h - `strata echo`: a small HTTP/1.1 keep-alive server that answers
 * every request with 200 and the body "NAME\n". The demo's backends, and the
 * servers of the tests and examples.
 */
#ifndef STRATA_ECHO_H
#define STRATA_ECHO_H

/* echo_main - the subcommand; returns the process exit code. */
int echo_main(int argc, char **argv);

#endif
