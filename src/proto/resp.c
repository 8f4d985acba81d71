#include "proto/resp.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

#include "core/err.h"

/* A whole decimal number in p[0..n), as Redis's string2ll: optional '-',
 * no leading zeros, no spaces, within int64. */
static int parse_ll(const char *p, size_t n, int64_t *out)
{
	if (n == 0 || n > 20)
		return ERR_PARSE;
	size_t i = 0;
	bool neg = p[0] == '-';
	if (neg && ++i == n)
		return ERR_PARSE;
	if (p[i] == '0' && n - i > 1)
		return ERR_PARSE;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return ERR_PARSE;
		uint64_t d = (uint64_t)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ERR_PARSE;
		v = v * 10 + d;
	}
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return ERR_PARSE;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int fail(struct resp_command *cmd, const char *msg)
{
	cmd->error = msg;
	return ERR_PARSE;
}

/* The CRLF-ended line at p (inside end); NULL when not complete. */
static const char *crlf(const char *p, const char *end)
{
	const char *r = memchr(p, '\r', (size_t)(end - p));
	if (!r || r + 1 >= end)
		return NULL;
	return r;
}

static int parse_inline(const char *buf, size_t len, struct resp_command *cmd)
{
	const char *nl = memchr(buf, '\n', len);
	if (!nl)
		return len > RESP_INLINE_MAX ? fail(cmd, "ERR Protocol error: too big inline request")
					     : ERR_AGAIN;
	const char *end = nl > buf && nl[-1] == '\r' ? nl - 1 : nl;
	const char *p = buf;
	cmd->argc = 0;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		const char *s = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if (cmd->argc == RESP_MAX_ARGS)
			return fail(cmd, "ERR Protocol error: too many arguments");
		cmd->args[cmd->argc].p = s;
		cmd->args[cmd->argc++].len = (size_t)(p - s);
	}
	cmd->used = (size_t)(nl + 1 - buf);
	return 0;
}

int resp_parse(const char *buf, size_t len, size_t max_bulk, struct resp_command *cmd)
{
	cmd->argc = 0;
	cmd->error = NULL;
	if (len == 0)
		return ERR_AGAIN;
	if (buf[0] != '*')
		return parse_inline(buf, len, cmd);
	const char *end = buf + len;
	const char *r = crlf(buf, end);
	if (!r)
		return len > RESP_INLINE_MAX ? fail(cmd, "ERR Protocol error: too big mbulk count string")
					     : ERR_AGAIN;
	int64_t n;
	if (r[1] != '\n' || parse_ll(buf + 1, (size_t)(r - buf - 1), &n) < 0 || n > 1024 * 1024)
		return fail(cmd, "ERR Protocol error: invalid multibulk length");
	if (n > RESP_MAX_ARGS)
		return fail(cmd, "ERR Protocol error: too many arguments");
	const char *p = r + 2;
	for (int64_t i = 0; i < n; i++) {
		if (p >= end)
			return ERR_AGAIN;
		if (*p != '$') {
			static _Thread_local char msg[64];
			snprintf(msg, sizeof(msg), "ERR Protocol error: expected '$', got '%c'", *p);
			return fail(cmd, msg);
		}
		r = crlf(p, end);
		if (!r)
			return (size_t)(end - p) > RESP_INLINE_MAX ?
			       fail(cmd, "ERR Protocol error: too big bulk count string") : ERR_AGAIN;
		int64_t blen;
		if (r[1] != '\n' || parse_ll(p + 1, (size_t)(r - p - 1), &blen) < 0 || blen < 0 ||
		    (uint64_t)blen > max_bulk)
			return fail(cmd, "ERR Protocol error: invalid bulk length");
		p = r + 2;
		if ((size_t)(end - p) < (size_t)blen + 2)
			return ERR_AGAIN;
		if (p[blen] != '\r' || p[blen + 1] != '\n')
			return fail(cmd, "ERR Protocol error: invalid bulk length");
		cmd->args[cmd->argc].p = p;
		cmd->args[cmd->argc++].len = (size_t)blen;
		p += blen + 2;
	}
	cmd->used = (size_t)(p - buf);
	return 0;
}

/* One value's header at p: its type, its number or text. *next is set past
 * it (past the payload for a bulk string). */
static int parse_value(const char *p, const char *end, size_t max_bulk, struct resp_value *v,
		       const char **next)
{
	if (p >= end)
		return ERR_AGAIN;
	const char *r = crlf(p, end);
	if (!r)
		return (size_t)(end - p) > RESP_INLINE_MAX ? ERR_PARSE : ERR_AGAIN;
	if (r[1] != '\n')
		return ERR_PARSE;
	v->p = p + 1;
	v->len = (size_t)(r - p - 1);
	v->i = 0;
	v->span = 1;
	*next = r + 2;
	switch (*p) {
	case '+':
		v->type = RESP_STATUS;
		return 0;
	case '-':
		v->type = RESP_ERROR;
		return 0;
	case ':':
		v->type = RESP_INT;
		return parse_ll(v->p, v->len, &v->i);
	case '*':
	case '$':
		if (parse_ll(v->p, v->len, &v->i) < 0 || v->i < -1)
			return ERR_PARSE;
		v->type = v->i == -1 ? RESP_NIL : *p == '*' ? RESP_ARRAY : RESP_BULK;
		v->p = NULL;
		v->len = 0;
		if (v->type != RESP_BULK)
			return 0;
		if ((uint64_t)v->i > max_bulk)
			return ERR_LIMIT;
		if ((size_t)(end - *next) < (size_t)v->i + 2)
			return ERR_AGAIN;
		if ((*next)[v->i] != '\r' || (*next)[v->i + 1] != '\n')
			return ERR_PARSE;
		v->p = *next;
		v->len = (size_t)v->i;
		*next += v->i + 2;
		return 0;
	}
	return ERR_PARSE;
}

int resp_parse_reply(const char *buf, size_t len, size_t max_bulk, struct resp_reply *r)
{
	struct { size_t index; int64_t left; } open[RESP_REPLY_MAX_DEPTH];
	int depth = 0;
	const char *p = buf, *end = buf + len;
	r->n = 0;
	for (;;) {
		if (r->n == RESP_REPLY_MAX_VALUES)
			return ERR_LIMIT;
		struct resp_value *v = &r->v[r->n];
		int rc = parse_value(p, end, max_bulk, v, &p);
		if (rc < 0)
			return rc;
		r->n++;
		if (v->type == RESP_ARRAY && v->i > 0) {
			if (depth == RESP_REPLY_MAX_DEPTH)
				return ERR_LIMIT;
			open[depth].index = r->n - 1;
			open[depth++].left = v->i;
			continue;
		}
		/* A value is complete: so is every array it completes. */
		while (depth > 0 && --open[depth - 1].left == 0) {
			depth--;
			r->v[open[depth].index].span = r->n - open[depth].index;
		}
		if (depth == 0)
			break;
	}
	r->used = (size_t)(p - buf);
	return 0;
}

const struct resp_value *resp_value_at(const struct resp_value *a, size_t k)
{
	if (a->type != RESP_ARRAY || a->i < 0 || k >= (uint64_t)a->i)
		return NULL;
	const struct resp_value *v = a + 1;
	while (k--)
		v += v->span;
	return v;
}

void resp_simple(struct buf *out, const char *s)
{
	buf_printf(out, "+%s\r\n", s);
}

void resp_error(struct buf *out, const char *msg)
{
	buf_printf(out, "-%s\r\n", msg);
}

void resp_int(struct buf *out, int64_t v)
{
	buf_printf(out, ":%lld\r\n", (long long)v);
}

void resp_bulk(struct buf *out, const char *p, size_t n)
{
	buf_printf(out, "$%zu\r\n", n);
	buf_append(out, p, n);
	buf_puts(out, "\r\n");
}

void resp_null(struct buf *out)
{
	buf_puts(out, "$-1\r\n");
}

void resp_array(struct buf *out, size_t n)
{
	buf_printf(out, "*%zu\r\n", n);
}

void resp_nil(struct buf *out, int proto)
{
	buf_puts(out, proto == 3 ? "_\r\n" : "$-1\r\n");
}

void resp_map(struct buf *out, size_t pairs, int proto)
{
	buf_printf(out, proto == 3 ? "%%%zu\r\n" : "*%zu\r\n", proto == 3 ? pairs : 2 * pairs);
}

int resp_arg_int(const struct resp_arg *a, int64_t *out)
{
	return parse_ll(a->p, a->len, out);
}

int resp_arg_is(const struct resp_arg *a, const char *word)
{
	return strlen(word) == a->len && strncasecmp(a->p, word, a->len) == 0;
}
