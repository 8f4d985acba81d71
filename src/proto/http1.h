/*
 * http1.h - a strict, zero-copy HTTP/1.1 message-head parser (RFC 9112).
 *
 * The parser reads a request or response head (start line and header
 * section) straight from the caller's buffer: every pointer in the result
 * points into that buffer and is valid as long as it is.
 *
 * Strict where leniency enables request smuggling: only CRLF line endings;
 * no whitespace before a header colon; no obs-fold; no CTL other than HTAB
 * in a field value; Content-Length must be digits, and may appear once;
 * Content-Length with Transfer-Encoding, Transfer-Encoding on HTTP/1.0, or
 * a Transfer-Encoding other than "chunked" are refused; HTTP/1.1 requires
 * exactly one Host.
 */
#ifndef STRATA_HTTP1_H
#define STRATA_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_HEADERS 100

struct http1_header {
	const char *name;
	size_t name_len;
	const char *value;   /* without surrounding whitespace */
	size_t value_len;
};

struct http1_request {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	int minor;                   /* HTTP/1.<minor>: 0 or 1 */
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t nheaders;
	uint64_t content_length;     /* 0 when absent */
	bool chunked;                /* Transfer-Encoding: chunked */
	bool keep_alive;             /* version default, adjusted by Connection */
	size_t head_len;             /* bytes of the head, final CRLF included */
};

/*
 * http1_parse_request - parse the request head at the start of buf[0..len).
 * `max_head` bounds the head's size.
 * Returns:
 *   0           a complete head; req->head_len tells where the body starts
 *   ERR_AGAIN   incomplete: read more and call again with the whole buffer
 *   ERR_PARSE   malformed or ambiguous: answer 400 and close
 *   ERR_LIMIT   head larger than max_head, or more than HTTP1_MAX_HEADERS
 *               fields: answer 431 and close
 */
int http1_parse_request(const char *buf, size_t len, size_t max_head,
			struct http1_request *req);

/*
 * http1_parse_status - parse a response status line ("HTTP/1.x NNN ...\r\n")
 * at the start of buf[0..len) and set *status (100..999).
 * Returns 0, ERR_AGAIN when the line is not complete, or ERR_PARSE.
 */
int http1_parse_status(const char *buf, size_t len, int *status);

enum http1_body {
	HTTP1_BODY_NONE,         /* no body: HEAD, 1xx, 204, 304, or Content-Length 0 */
	HTTP1_BODY_LENGTH,       /* content_length bytes */
	HTTP1_BODY_CHUNKED,      /* chunked: frame with http1_chunked_feed */
	HTTP1_BODY_UNTIL_CLOSE,  /* neither: the body ends when the server closes */
};

struct http1_response {
	int minor;
	int status;                  /* 100..999 */
	const char *reason;          /* may be empty */
	size_t reason_len;
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t nheaders;
	enum http1_body body;
	uint64_t content_length;     /* with HTTP1_BODY_LENGTH */
	bool keep_alive;             /* the connection may carry another exchange */
	size_t head_len;
};

/*
 * http1_parse_response - parse a response head at the start of buf[0..len),
 * with the same strictness and return codes as http1_parse_request, and
 * decide how its body is framed (RFC 9112 section 6.3): none for a response
 * to HEAD (`head_request`), a 1xx, 204 or 304; chunked; Content-Length; or
 * until the server closes (then keep_alive is false). A 204 that frames a
 * body is refused.
 */
int http1_parse_response(const char *buf, size_t len, size_t max_head, bool head_request,
			 struct http1_response *res);

/*
 * http1_field - among fields hs[0..n), the value of the first field named
 * `name` (case-insensitive), or NULL; its length goes to *len.
 * http1_header_get does the same for a request's fields.
 */
const char *http1_field(const struct http1_header *hs, size_t n, const char *name, size_t *len);
const char *http1_header_get(const struct http1_request *req, const char *name, size_t *len);

/* http1_name_is - is the field name[0..len) equal to `lower` (ASCII
 * case-insensitive)? */
bool http1_name_is(const char *name, size_t len, const char *lower);

/* http1_list_has - does the comma-separated list v[0..n) hold `token`
 * (case-insensitive), as in Connection: keep-alive, Upgrade? */
bool http1_list_has(const char *v, size_t n, const char *token);

/*
 * http1_cookie_get - in a Cookie field value v[0..n) ("a=1; b=2"), the
 * value of cookie `name` (case-sensitive, surrounding quotes removed), or
 * NULL; its length goes to *len. Points into v.
 */
const char *http1_cookie_get(const char *v, size_t n, const char *name, size_t *len);

/* A short reason phrase for a status code ("OK", "Not Found", ...). */
const char *http1_reason(int status);


/*
 * Chunked body decoding (RFC 9112 section 7.1), incremental. The decoder
 * only frames the body: it tells how many input bytes belong to it and
 * where the data of each chunk is, so a server can skip a body and a proxy
 * can forward it unchanged. Chunk extensions and trailers are accepted
 * (bounded by HTTP1_CHUNK_LINE_MAX) and skipped.
 */
#define HTTP1_CHUNK_LINE_MAX 4096

struct http1_chunked {
	int state;
	uint64_t remaining;  /* data bytes left in the current chunk */
	size_t line;         /* bytes of the current size or trailer line */
	int digits;
};

static inline void http1_chunked_init(struct http1_chunked *c)
{
	c->state = 0;
	c->remaining = 0;
	c->line = 0;
	c->digits = 0;
}

/*
 * http1_chunked_feed - consume body bytes from buf[0..len); *used is set to
 * how many belong to the body (all of them unless the body ends inside).
 * *data_bytes (may be NULL) gets how many of them are chunk data.
 * Returns 0 when the last chunk and trailers are complete, ERR_AGAIN when
 * more input is needed, ERR_PARSE for a malformed or overflowing size line.
 */
int http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len,
		       size_t *used, size_t *data_bytes);

/*
 * http1_chunked_decode - like http1_chunked_feed, but stops after the first
 * run of chunk data, which it points to with *data and *data_len (0 when
 * the bytes consumed hold framing only). Call again with the rest of the
 * input for the next run: a decoder passes the runs on without the framing.
 */
int http1_chunked_decode(struct http1_chunked *c, const char *buf, size_t len,
			 size_t *used, const char **data, size_t *data_len);

#endif
