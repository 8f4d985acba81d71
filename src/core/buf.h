/*
 * buf.h - a growable byte buffer for building output (HTTP responses,
 * metrics, JSON). Also used as a FIFO of bytes waiting to be written:
 * data lives in [off, len).
 *
 * Ownership: the struct is the caller's (stack or embedded); its storage is
 * allocated by buf_* and released by buf_free. An allocation failure is
 * sticky: the buffer is marked `oom`, further appends are dropped, and the
 * owner checks `oom` once at the end instead of after every append.
 */
#ifndef STRATA_BUF_H
#define STRATA_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t off;   /* first unconsumed byte */
	size_t len;   /* end of data */
	size_t cap;
	bool oom;
};

#define BUF_INIT { NULL, 0, 0, 0, false }

/* Release storage and reset to empty; the struct may be reused. */
void buf_free(struct buf *b);

/* Drop all content, keeping storage. */
static inline void buf_reset(struct buf *b) { b->off = b->len = 0; }

/* Bytes waiting in [off, len). */
static inline size_t buf_pending(const struct buf *b) { return b->len - b->off; }

/* Make room for `n` more bytes after len. Returns 0 or -ENOMEM (sets oom). */
int buf_reserve(struct buf *b, size_t n);

void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append `s` as the contents of a JSON string (no surrounding quotes). */
void buf_json_str(struct buf *b, const char *s);

/* Mark `n` bytes from off as consumed; resets to empty when all are. */
void buf_consume(struct buf *b, size_t n);

#endif
