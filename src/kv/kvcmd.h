/*
 * kvcmd.h - the commands of strata kv: the table (name, arity, flags) and
 * the string and keyspace commands, with Redis's replies and error texts.
 * The server's own commands (INFO, CONFIG, HELLO, AUTH, ...) live in
 * kvserver.c and are listed in the same table.
 */
#ifndef STRATA_KVCMD_H
#define STRATA_KVCMD_H

#include <stdbool.h>

#include "kv/kv-t.h"

/*
 * kvcmd_run - run the command in ctx: authentication, arity and the room
 * a write needs are checked first. False when the name is not a kv
 * command (respd then answers PING, ECHO, ... or "unknown command").
 */
bool kvcmd_run(struct kv_ctx *c);

#endif
