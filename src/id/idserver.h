/*
 * idserver.h - `strata id`: the unique-ID service of chapter 7.
 *
 * One generator (datacenter, worker) per process, serving Snowflake IDs,
 * UUIDv7 and ULID over the Redis protocol (ID.NEXT [COUNT], ID.PARSE id,
 * ID.UUID7 [COUNT], ID.ULID [COUNT], INFO, PING) and, optionally, HTTP
 * (GET /id, /id?count=N, /id/<id>, /metrics). The (datacenter, worker) is
 * locked on the host and the last timestamp persisted (id/idstore.h). One
 * event loop: a request for COUNT IDs is answered in one go (at most
 * IDSERVER_MAX_COUNT, a few milliseconds of the layout's rate).
 */
#ifndef STRATA_IDSERVER_H
#define STRATA_IDSERVER_H

#define IDSERVER_MAX_COUNT 100000

/* idserver_main - `strata id ...`; returns the exit code. */
int idserver_main(int argc, char **argv);

#endif
