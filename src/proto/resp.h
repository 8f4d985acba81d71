/*
 * resp.h - the Redis protocol (RESP2): a zero-copy parser for commands as
 * clients send them, and writers for replies.
 *
 * A command is either a multibulk array ("*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n")
 * or an inline line ("PING hi\r\n", as typed into telnet). The parser reads
 * one command from the start of the caller's buffer; the argument pointers
 * point into that buffer. Malformed input gets the error text Redis sends,
 * after which the connection is to be closed (the stream cannot be re-synced).
 *
 * For strata's own clients (net/rclient.h) it also reads replies: one reply
 * of any RESP2 type, arrays nested, into a flat list of values.
 */
#ifndef STRATA_RESP_H
#define STRATA_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define RESP_INLINE_MAX   (64 * 1024)     /* Redis's PROTO_INLINE_MAX_SIZE */
#define RESP_MAX_ARGS     65536            /* MSET of 32768 pairs */

struct resp_arg {
	const char *p;
	size_t len;
};

struct resp_command {
	struct resp_arg args[RESP_MAX_ARGS];
	size_t argc;                 /* 0 for an empty inline line (ignored by Redis) */
	size_t used;                 /* bytes of the buffer the command took */
	const char *error;           /* ERR_PARSE / ERR_LIMIT: Redis's message */
};

/*
 * resp_parse - one command from buf[0..len). `max_bulk` bounds a bulk
 * argument's length (Redis's proto-max-bulk-len).
 * Returns 0 (cmd->argc, cmd->args, cmd->used set), ERR_AGAIN when more
 * bytes are needed, or ERR_PARSE with cmd->error set (a protocol error:
 * reply it with resp_error and close).
 */
int resp_parse(const char *buf, size_t len, size_t max_bulk, struct resp_command *cmd);

enum resp_type { RESP_STATUS, RESP_ERROR, RESP_INT, RESP_BULK, RESP_NIL, RESP_ARRAY };

/* One value of a reply. The values of a reply are stored in pre-order: an
 * array's first element follows it, and each element's next sibling is
 * `span` values after it. */
struct resp_value {
	enum resp_type type;
	int64_t i;                   /* RESP_INT: the number; RESP_ARRAY: elements */
	const char *p;               /* STATUS, ERROR, BULK: the text (no NUL) */
	size_t len;
	size_t span;                 /* values in this subtree, itself included */
};

#define RESP_REPLY_MAX_VALUES 256
#define RESP_REPLY_MAX_DEPTH  8

struct resp_reply {
	struct resp_value v[RESP_REPLY_MAX_VALUES];  /* v[0] is the reply */
	size_t n;
	size_t used;                 /* bytes of the buffer the reply took */
};

/*
 * resp_parse_reply - one reply from buf[0..len): simple string, error,
 * integer, bulk string (at most `max_bulk` bytes), nil (bulk or array) or
 * array. The text pointers point into buf. Returns 0 (r->v, r->n, r->used
 * set), ERR_AGAIN when more bytes are needed, ERR_PARSE on malformed input,
 * or ERR_LIMIT when the reply has more than RESP_REPLY_MAX_VALUES values or
 * nests deeper than RESP_REPLY_MAX_DEPTH (either way the stream is lost).
 */
int resp_parse_reply(const char *buf, size_t len, size_t max_bulk, struct resp_reply *r);

/* resp_value_at - element k (from 0) of array value `a` of a parsed reply,
 * or NULL when there is no such element. */
const struct resp_value *resp_value_at(const struct resp_value *a, size_t k);

/* Reply writers, appending to `out`. */
void resp_simple(struct buf *out, const char *s);               /* +s */
void resp_error(struct buf *out, const char *msg);              /* -msg */
void resp_int(struct buf *out, int64_t v);                      /* :v */
void resp_bulk(struct buf *out, const char *p, size_t n);       /* $n p */
void resp_null(struct buf *out);                                /* $-1 */
void resp_array(struct buf *out, size_t n);                     /* *n, then n replies */

/* The types RESP3 (after HELLO 3) writes differently from RESP2. */
void resp_nil(struct buf *out, int proto);                      /* $-1, or _ in RESP3 */
void resp_map(struct buf *out, size_t pairs, int proto);        /* *2n, or %n in RESP3 */

/* resp_arg_int - an argument as a whole signed 64-bit number, as Redis's
 * string2ll reads it. 0, or ERR_PARSE. */
int resp_arg_int(const struct resp_arg *a, int64_t *out);

/* resp_arg_is - is the argument `word`, ASCII case-insensitively? */
int resp_arg_is(const struct resp_arg *a, const char *word);

#endif
