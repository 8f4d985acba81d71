/*
 * rlserver.h - `strata ratelimit serve`: the rate limiter as a Redis-
 * protocol service answering CL.THROTTLE exactly as the redis-cell module
 * does, so existing redis-cell clients work unchanged.
 *
 * Commands: CL.THROTTLE key max_burst count period [quantity], PING
 * [message], ECHO message, COMMAND (an empty list, enough for redis-cli),
 * QUIT. Pipelining is supported; a protocol error gets Redis's error text
 * and closes that connection only. One event loop; keys live in a bounded
 * rl_table (idle keys dropped).
 */
#ifndef STRATA_RLSERVER_H
#define STRATA_RLSERVER_H

/* rlserver_main - `strata ratelimit serve ...`; returns the exit code. */
int rlserver_main(int argc, char **argv);

#endif
