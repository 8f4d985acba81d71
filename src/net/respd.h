/*
 * respd.h - a Redis-protocol server on the event loop, for strata's RESP
 * services (`strata ratelimit serve`, `strata id`): what httpd is to HTTP.
 *
 * It owns its connections: reading, parsing commands (multibulk and inline,
 * pipelined), writing replies in order, the limits on a query and a bulk
 * argument, and Redis's protocol-error replies (after which that connection
 * alone is closed). A client that does not read its replies is not read
 * either (its output is bounded). The handler only writes replies; PING,
 * ECHO, COMMAND (an empty list, enough for redis-cli), QUIT and Redis's
 * error for an unknown command are answered here unless the handler does.
 *
 * One respd serves one listening descriptor on one loop (or one of several
 * loops sharing it); level-triggered.
 * The replies of one batch of events are written after it, together.
 */
#ifndef STRATA_RESPD_H
#define STRATA_RESPD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/loop.h"
#include "proto/resp.h"

#define RESPD_MAX_BULK  (512 * 1024)     /* default: a longer argument is a protocol error */

struct respd;

/* What a service may keep per connection: the protocol it speaks (2, or 3
 * after HELLO 3), whether it has authenticated, its number. */
struct respd_client {
	int proto;
	bool authed;
	bool local;                      /* the peer is on a loopback address */
	bool close;                      /* set by the handler: close after this reply */
	uint64_t id;
};

/*
 * Called once per command (argc >= 1), on the loop's thread: append the
 * reply to `out` and return true, or return false to leave the command to
 * respd (the common commands above, else "unknown command").
 */
typedef bool (*respd_handler)(void *arg, struct respd_client *cl, const struct resp_command *cmd,
			      struct buf *out);

/*
 * respd_create - serve `listen_fd` (not owned: the caller closes it after
 * respd_destroy) on loop `l`; `shared` when several loops serve the same
 * descriptor (each with its own respd; one is woken per connection).
 * Returns 0 and sets *out, or a negative errno.
 */
int respd_create(struct loop *l, int listen_fd, bool shared, respd_handler handler, void *arg,
		 struct respd **out);

/* respd_set_max_bulk - the longest bulk argument accepted (Redis's
 * proto-max-bulk-len); a command may then take that much input buffer. */
void respd_set_max_bulk(struct respd *d, size_t max_bulk);

/*
 * respd_before_write - replies are written once per batch of loop events,
 * after the commands of the batch; `hook(arg)` runs first (a durable
 * service commits its writes there: group commit). When it returns a
 * negative code the batch's replies are not sent and those clients are
 * disconnected, so nothing is acknowledged that the hook could not keep.
 */
void respd_before_write(struct respd *d, int (*hook)(void *arg), void *arg);

/* respd_destroy - stop listening and close every connection now. */
void respd_destroy(struct respd *d);

/* respd_commands - commands executed so far; respd_clients - open now.
 * Safe from any thread. */
uint64_t respd_commands(const struct respd *d);
uint64_t respd_clients(const struct respd *d);

/*
 * respd_config_get - the reply to CONFIG GET pattern...: the settings
 * names[i] = values[i] (i < n <= 64) whose name matches any of the glob
 * patterns (case-insensitive), as name/value pairs - a map in RESP3.
 */
void respd_config_get(struct buf *out, int proto, const struct resp_arg *patterns,
		      size_t npatterns, const char *const *names, const char *const *values,
		      size_t n);

/* respd_wrong_arity - Redis's reply to a command with the wrong number of
 * arguments: "ERR wrong number of arguments for 'name' command". */
void respd_wrong_arity(struct buf *out, const struct resp_command *cmd);

#endif
