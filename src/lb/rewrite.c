#include "lb/rewrite.h"

#include <string.h>
#include <strings.h>

/* Is field `name` one of the hop-by-hop fields of this message? `conn` is
 * the Connection value (may be NULL), whose tokens name more of them. */
static bool hop_by_hop(const struct http1_header *h, const char *conn, size_t conn_len)
{
	static const char *const fixed[] = {
		"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (http1_name_is(h->name, h->name_len, fixed[i]))
			return true;
	if (!conn)
		return false;
	char name[128];
	if (h->name_len >= sizeof(name))
		return false;
	memcpy(name, h->name, h->name_len);
	name[h->name_len] = '\0';
	/* Framing fields stay: they are not the sender's to drop. */
	if (http1_name_is(name, h->name_len, "content-length") ||
	    http1_name_is(name, h->name_len, "transfer-encoding") ||
	    http1_name_is(name, h->name_len, "host"))
		return false;
	return http1_list_has(conn, conn_len, name);
}

/* Append the values of every field `name` to out as one list. */
static void join_fields(struct buf *out, const struct http1_request *req, const char *name)
{
	bool first = true;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];
		if (!http1_name_is(h->name, h->name_len, name) || h->value_len == 0)
			continue;
		if (!first)
			buf_puts(out, ", ");
		buf_append(out, h->value, h->value_len);
		first = false;
	}
	if (!first)
		buf_puts(out, ", ");
}

void rewrite_request_head(struct buf *o, const struct http1_request *req,
			  const struct rewrite_request *rw)
{
	size_t conn_len = 0, upg_len = 0;
	const char *conn = http1_field(req->headers, req->nheaders, "connection", &conn_len);
	const char *upg = http1_field(req->headers, req->nheaders, "upgrade", &upg_len);
	buf_append(o, req->method, req->method_len);
	buf_puts(o, " ");
	buf_append(o, rw->target, rw->target_len);
	buf_printf(o, " HTTP/1.%d\r\n", req->minor);
	bool has_rid = false;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];
		if (hop_by_hop(h, conn, conn_len) ||
		    http1_name_is(h->name, h->name_len, "x-forwarded-for") ||
		    http1_name_is(h->name, h->name_len, "x-forwarded-proto") ||
		    http1_name_is(h->name, h->name_len, "via"))
			continue;
		if (http1_name_is(h->name, h->name_len, "expect") && req->minor == 0)
			continue;
		has_rid |= http1_name_is(h->name, h->name_len, "x-request-id");
		buf_append(o, h->name, h->name_len);
		buf_puts(o, ": ");
		buf_append(o, h->value, h->value_len);
		buf_puts(o, "\r\n");
	}
	buf_puts(o, "X-Forwarded-For: ");
	join_fields(o, req, "x-forwarded-for");
	buf_printf(o, "%s\r\nX-Forwarded-Proto: %s\r\nVia: ", rw->client_ip, rw->https ? "https" : "http");
	join_fields(o, req, "via");
	buf_puts(o, "1.1 strata\r\n");
	if (!has_rid)
		buf_printf(o, "X-Request-Id: %s\r\n", rw->request_id);
	if (rw->upgrade && upg) {
		buf_puts(o, "Connection: Upgrade\r\nUpgrade: ");
		buf_append(o, upg, upg_len);
		buf_puts(o, "\r\n");
	}
	buf_puts(o, "\r\n");
}

int rewrite_target(const struct http1_request *req, const char *host, size_t host_len,
			const char **target, size_t *target_len)
{
	const char *t = req->target;
	size_t n = req->target_len;
	*target = t;
	*target_len = n;
	if (n == 1 && t[0] == '*')
		return req->method_len == 7 && memcmp(req->method, "OPTIONS", 7) == 0 ? 0 : 400;
	if (t[0] != '/') {
		size_t scheme = n > 7 && strncasecmp(t, "http://", 7) == 0 ? 7
			      : n > 8 && strncasecmp(t, "https://", 8) == 0 ? 8 : 0;
		if (!scheme)
			return 400;
		const char *auth = t + scheme;
		const char *slash = memchr(auth, '/', n - scheme);
		size_t alen = slash ? (size_t)(slash - auth) : n - scheme;
		if (!host || alen != host_len || strncasecmp(auth, host, alen) != 0)
			return 400;
		t = slash ? slash : "/";
		n = slash ? n - scheme - alen : 1;
	}
	*target = t;
	*target_len = n;
	return 0;
}

void rewrite_response_head(struct buf *o, const struct http1_response *res, const char *raw,
			   const struct rewrite_response *rw)
{
	const char *eol = memchr(raw, '\r', res->head_len);
	size_t conn_len = 0, upg_len = 0;
	const char *conn = http1_field(res->headers, res->nheaders, "connection", &conn_len);
	const char *upg = http1_field(res->headers, res->nheaders, "upgrade", &upg_len);
	buf_append(o, raw, (size_t)(eol - raw));
	buf_puts(o, "\r\n");
	bool via = false;
	for (size_t i = 0; i < res->nheaders; i++) {
		const struct http1_header *h = &res->headers[i];
		if (hop_by_hop(h, conn, conn_len) ||
		    (rw->client_minor == 0 && http1_name_is(h->name, h->name_len, "transfer-encoding")))
			continue;
		buf_append(o, h->name, h->name_len);
		buf_puts(o, ": ");
		buf_append(o, h->value, h->value_len);
		if (!via && http1_name_is(h->name, h->name_len, "via")) {
			buf_puts(o, ", 1.1 strata");
			via = true;
		}
		buf_puts(o, "\r\n");
	}
	if (!via)
		buf_puts(o, "Via: 1.1 strata\r\n");
	if (rw->cookie_name)
		buf_printf(o, "Set-Cookie: %s=%s; Path=/\r\n", rw->cookie_name, rw->cookie_value);
	buf_append(o, rw->extra, rw->extra_len);
	if (res->status == 101) {
		buf_puts(o, "Connection: Upgrade\r\nUpgrade: ");
		buf_append(o, upg, upg_len);
		buf_puts(o, "\r\n");
	} else if (rw->close_client) {
		buf_puts(o, "Connection: close\r\n");
	} else if (rw->client_minor == 0) {
		buf_puts(o, "Connection: keep-alive\r\n");
	}
	buf_puts(o, "\r\n");
}

