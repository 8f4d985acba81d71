/*
 * rclient.h - a pipelined Redis-protocol client on one event loop, for
 * strata's own calls to a store (shared rate limits, docs/RATELIMIT.md).
 *
 * One connection per client. The calls of one batch of loop events are
 * written together after the batch (one send) and answered in order; each call's callback runs on the loop's
 * thread with the reply (or with an error if there will be none). The
 * client connects on first use, and after a failure waits before trying
 * again (100 ms, doubling up to 2 s); while it waits, calls fail at once,
 * so a caller never waits for a store that is known to be down. While it
 * connects, calls queue. A caller that stops waiting cancels its call:
 * the reply is then read and dropped.
 *
 * A store that stops answering is noticed by the reply deadline: when the
 * oldest call has waited longer than that, the connection is dropped,
 * every waiting call fails with -ETIMEDOUT and the client reconnects.
 *
 * Not thread-safe: one client belongs to one loop.
 */
#ifndef STRATA_RCLIENT_H
#define STRATA_RCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/loop.h"
#include "net/sock.h"
#include "proto/resp.h"

#define RCLIENT_MAX_PENDING 65536    /* calls waiting for replies */

struct rclient;

/*
 * Called once per call, on the loop's thread: rc is 0 with the parsed reply
 * (valid only during the call; an error reply is a RESP_ERROR value, not a
 * failure), or a negative code with reply NULL: -ECONNREFUSED and other
 * connect errors, ERR_CLOSED (the store closed the connection), -ETIMEDOUT
 * (the reply deadline passed), ERR_PARSE (the store's reply was malformed),
 * -ENOMEM. The callback may make new calls and cancel others.
 */
typedef void (*rclient_fn)(void *arg, int rc, const struct resp_value *reply);

struct rclient_opts {
	struct sock_addr addr;
	uint64_t reply_timeout_ms;       /* oldest call's deadline; also connecting */
	const struct buf *hello;         /* commands sent first on every connection
	                                    (their replies are skipped), or NULL */
	int nhello;                      /* replies the hello commands produce */
};

/*
 * rclient_create - a client of the store at opts->addr on loop `l`; it
 * connects on the first call. The hello bytes are copied. 0 and *out, or
 * -ENOMEM. rclient_destroy closes the connection and drops waiting calls
 * without calling their callbacks; only once the loop has stopped, or when
 * rclient_idle (a write may be scheduled for the end of the current batch).
 */
int rclient_create(struct loop *l, const struct rclient_opts *opts, struct rclient **out);
void rclient_destroy(struct rclient *c);

/*
 * rclient_call - send the encoded command(s) in cmd[0..len) (one command,
 * one reply: use resp_array and resp_bulk to encode it). Returns 0 and a
 * call id in *id for rclient_cancel; or, without calling fn, a negative
 * code when the call cannot be made now: the last connect error (or
 * ERR_CLOSED) while waiting to reconnect, -ENOBUFS with
 * RCLIENT_MAX_PENDING calls waiting, -ENOMEM. With fn NULL nobody waits
 * for the reply (an error reply is logged).
 */
int rclient_call(struct rclient *c, const char *cmd, size_t len, rclient_fn fn, void *arg,
		 uint64_t *id);

/* rclient_cancel - the call `id` no longer wants its reply (no-op when it
 * already had it). */
void rclient_cancel(struct rclient *c, uint64_t id);

/* rclient_idle - no call waits and nothing is scheduled: the client may be
 * destroyed now, even while its loop runs. */
bool rclient_idle(const struct rclient *c);

/* rclient_addr - the store's address, as given. */
const struct sock_addr *rclient_addr(const struct rclient *c);

#endif
