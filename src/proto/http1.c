#include "proto/http1.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"

/* tchar of RFC 9110 section 5.6.2. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value octets: VCHAR, obs-text, SP and HTAB. */
static bool is_vchar_ws(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

bool http1_name_is(const char *name, size_t len, const char *lower)
{
	return eq_nocase(name, len, lower);
}

const char *http1_cookie_get(const char *v, size_t n, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	size_t i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ';'))
			i++;
		size_t start = i;
		while (i < n && v[i] != ';')
			i++;
		const char *pair = v + start, *eq = memchr(pair, '=', i - start);
		if (eq && (size_t)(eq - pair) == nlen && memcmp(pair, name, nlen) == 0) {
			const char *val = eq + 1, *end = v + i;
			while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if (end - val >= 2 && val[0] == '"' && end[-1] == '"') {
				val++;
				end--;
			}
			*len = (size_t)(end - val);
			return val;
		}
	}
	return NULL;
}

/* Does the comma-separated list in v contain `token` (case-insensitive)? */
static bool list_has(const char *v, size_t n, const char *token)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		size_t end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end > start && eq_nocase(v + start, end - start, token))
			return true;
	}
	return false;
}

bool http1_list_has(const char *v, size_t n, const char *token)
{
	return list_has(v, n, token);
}

/* Find the CRLF ending the line that starts at p; NULL if not yet there.
 * A bare CR or LF inside the line makes *bad true. */
static const char *line_end(const char *p, const char *end, bool *bad)
{
	for (const char *q = p; q < end; q++) {
		if (*q == '\n') {
			*bad = true;
			return q;
		}
		if (*q == '\r') {
			if (q + 1 == end)
				return NULL;
			if (q[1] != '\n')
				*bad = true;
			return q;
		}
	}
	return NULL;
}

static int parse_version(const char *p, size_t n, int *minor)
{
	if (n != 8 || memcmp(p, "HTTP/1.", 7) != 0)
		return ERR_PARSE;
	if (p[7] != '0' && p[7] != '1')
		return ERR_PARSE;
	*minor = p[7] - '0';
	return 0;
}

static int parse_request_line(const char *p, const char *eol, struct http1_request *req)
{
	const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1 || sp1 == p)
		return ERR_PARSE;
	for (const char *q = p; q < sp1; q++)
		if (!is_tchar((unsigned char)*q))
			return ERR_PARSE;
	const char *t = sp1 + 1;
	const char *sp2 = memchr(t, ' ', (size_t)(eol - t));
	if (!sp2 || sp2 == t)
		return ERR_PARSE;
	for (const char *q = t; q < sp2; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q == 0x7f)
			return ERR_PARSE;
	req->method = p;
	req->method_len = (size_t)(sp1 - p);
	req->target = t;
	req->target_len = (size_t)(sp2 - t);
	return parse_version(sp2 + 1, (size_t)(eol - sp2 - 1), &req->minor);
}

static int parse_content_length(const char *v, size_t n, uint64_t *out)
{
	if (n == 0 || n > 19)
		return ERR_PARSE;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return ERR_PARSE;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* What the framing and connection fields of a head say. */
struct framing {
	bool has_cl, chunked, close, keep;
	uint64_t content_length;
	int hosts;
};

/* Read the framing fields; ERR_PARSE when they are malformed or repeated
 * (RFC 9112 section 6.3: several Content-Length, a Transfer-Encoding other
 * than "chunked", or both Content-Length and Transfer-Encoding). */
static int scan_framing(const struct http1_header *headers, size_t n, struct framing *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		const struct http1_header *h = &headers[i];
		if (eq_nocase(h->name, h->name_len, "content-length")) {
			if (f->has_cl || parse_content_length(h->value, h->value_len,
							      &f->content_length) < 0)
				return ERR_PARSE;
			f->has_cl = true;
		} else if (eq_nocase(h->name, h->name_len, "transfer-encoding")) {
			if (f->chunked || !eq_nocase(h->value, h->value_len, "chunked"))
				return ERR_PARSE;
			f->chunked = true;
		} else if (eq_nocase(h->name, h->name_len, "host")) {
			f->hosts++;
		} else if (eq_nocase(h->name, h->name_len, "connection")) {
			f->close |= list_has(h->value, h->value_len, "close");
			f->keep |= list_has(h->value, h->value_len, "keep-alive");
		}
	}
	return f->has_cl && f->chunked ? ERR_PARSE : 0;
}

static bool keep_alive(int minor, const struct framing *f)
{
	return minor == 1 ? !f->close : (f->keep && !f->close);
}

/* Apply a request's framing rules. */
static int interpret_request(struct http1_request *req)
{
	struct framing f;
	if (scan_framing(req->headers, req->nheaders, &f) < 0)
		return ERR_PARSE;
	if (f.chunked && req->minor == 0)
		return ERR_PARSE;
	if (req->minor == 1 ? f.hosts != 1 : f.hosts > 1)
		return ERR_PARSE;
	req->content_length = f.content_length;
	req->chunked = f.chunked;
	req->keep_alive = keep_alive(req->minor, &f);
	return 0;
}

/*
 * The header section starting at p (after the start line) up to its empty
 * line. Fills headers/nheaders and *head_len (from buf). Returns 0,
 * ERR_AGAIN, ERR_PARSE or ERR_LIMIT as the parse functions document.
 */
static int parse_fields(const char *buf, size_t len, size_t max_head, const char *p,
			struct http1_header *headers, size_t *nheaders, size_t *head_len)
{
	const char *end = buf + (len < max_head ? len : max_head);
	bool bad = false;
	*nheaders = 0;
	for (;;) {
		const char *eol = line_end(p, end, &bad);
		if (bad)
			return ERR_PARSE;
		if (!eol)
			return len >= max_head ? ERR_LIMIT : ERR_AGAIN;
		if (eol == p) {
			*head_len = (size_t)(eol + 2 - buf);
			return 0;  /* empty line: end of the head */
		}
		if (*p == ' ' || *p == '\t')
			return ERR_PARSE;  /* obs-fold */
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return ERR_PARSE;
		for (const char *q = p; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return ERR_PARSE;  /* includes whitespace before ':' */
		const char *v = colon + 1, *vend = eol;
		for (const char *q = v; q < vend; q++)
			if (!is_vchar_ws((unsigned char)*q))
				return ERR_PARSE;
		while (v < vend && (*v == ' ' || *v == '\t'))
			v++;
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		if (*nheaders == HTTP1_MAX_HEADERS)
			return ERR_LIMIT;
		struct http1_header *h = &headers[(*nheaders)++];
		h->name = p;
		h->name_len = (size_t)(colon - p);
		h->value = v;
		h->value_len = (size_t)(vend - v);
		p = eol + 2;
	}
}

int http1_parse_request(const char *buf, size_t len, size_t max_head,
			struct http1_request *req)
{
	const char *end = buf + (len < max_head ? len : max_head);
	bool bad = false;

	req->nheaders = 0;
	req->content_length = 0;
	req->chunked = false;

	const char *eol = line_end(buf, end, &bad);
	if (bad)
		return ERR_PARSE;
	if (!eol)
		return len >= max_head ? ERR_LIMIT : ERR_AGAIN;
	int rc = parse_request_line(buf, eol, req);
	if (rc < 0)
		return rc;
	rc = parse_fields(buf, len, max_head, eol + 2, req->headers, &req->nheaders,
			  &req->head_len);
	return rc < 0 ? rc : interpret_request(req);
}

/* "HTTP/1.x NNN[ reason]" in p..eol. */
static int parse_status_line(const char *p, const char *eol, int *minor, int *status)
{
	size_t n = (size_t)(eol - p);
	if (n < 12 || parse_version(p, 8, minor) < 0 || p[8] != ' ')
		return ERR_PARSE;
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return ERR_PARSE;
		code = code * 10 + (p[i] - '0');
	}
	if (code < 100 || (n > 12 && p[12] != ' '))
		return ERR_PARSE;
	for (const char *q = p + 12; q < eol; q++)
		if (!is_vchar_ws((unsigned char)*q))
			return ERR_PARSE;
	*status = code;
	return 0;
}

int http1_parse_status(const char *buf, size_t len, int *status)
{
	bool bad = false;
	const char *eol = line_end(buf, buf + len, &bad);
	if (bad)
		return ERR_PARSE;
	if (!eol)
		return len > 8192 ? ERR_PARSE : ERR_AGAIN;
	int minor;
	return parse_status_line(buf, eol, &minor, status);
}

int http1_parse_response(const char *buf, size_t len, size_t max_head, bool head_request,
			 struct http1_response *res)
{
	const char *end = buf + (len < max_head ? len : max_head);
	bool bad = false;
	res->nheaders = 0;
	const char *eol = line_end(buf, end, &bad);
	if (bad)
		return ERR_PARSE;
	if (!eol)
		return len >= max_head ? ERR_LIMIT : ERR_AGAIN;
	int rc = parse_status_line(buf, eol, &res->minor, &res->status);
	if (rc < 0)
		return rc;
	res->reason = buf + (eol - buf > 12 ? 13 : 12);
	res->reason_len = (size_t)(eol - res->reason);
	rc = parse_fields(buf, len, max_head, eol + 2, res->headers, &res->nheaders,
			  &res->head_len);
	if (rc < 0)
		return rc;
	struct framing f;
	if (scan_framing(res->headers, res->nheaders, &f) < 0)
		return ERR_PARSE;
	if (f.chunked && res->minor == 0)
		return ERR_PARSE;
	res->keep_alive = keep_alive(res->minor, &f);
	res->content_length = 0;
	res->body = HTTP1_BODY_NONE;
	if (head_request || res->status < 200 || res->status == 204 || res->status == 304) {
		if (res->status == 204 && (f.has_cl || f.chunked))
			return ERR_PARSE;  /* a 204 cannot have a body, nor frame one */
	} else if (f.chunked) {
		res->body = HTTP1_BODY_CHUNKED;
	} else if (f.has_cl) {
		res->content_length = f.content_length;
		res->body = f.content_length ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
	} else {
		res->body = HTTP1_BODY_UNTIL_CLOSE;
		res->keep_alive = false;
	}
	return 0;
}

const char *http1_field(const struct http1_header *hs, size_t n, const char *name, size_t *len)
{
	for (size_t i = 0; i < n; i++) {
		if (eq_nocase(hs[i].name, hs[i].name_len, name)) {
			*len = hs[i].value_len;
			return hs[i].value;
		}
	}
	return NULL;
}

const char *http1_header_get(const struct http1_request *req, const char *name, size_t *len)
{
	return http1_field(req->headers, req->nheaders, name, len);
}

const char *http1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

enum chunk_state {
	CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
	CH_TRAILER, CH_TRAILER_LINE, CH_TRAILER_LF, CH_END_LF, CH_DONE,
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* The framer behind http1_chunked_feed and http1_chunked_decode: with a
 * non-NULL `seg`, it stops after the first run of chunk data and sets *seg
 * to where that run starts. */
static int chunked_run(struct http1_chunked *c, const char *buf, size_t len,
		       size_t *used, size_t *data_bytes, size_t *seg)
{
	size_t i = 0, data = 0;
	int rc = ERR_AGAIN;

	while (i < len && rc == ERR_AGAIN && !(seg && data)) {
		unsigned char ch = (unsigned char)buf[i];
		switch (c->state) {
		case CH_SIZE: {
			int v = hexval(ch);
			if (v >= 0) {
				if (++c->digits > 16)
					goto bad;
				c->remaining = c->remaining * 16 + (uint64_t)v;
				i++;
			} else if (c->digits == 0) {
				goto bad;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = CH_EXT;
			} else if (ch == '\r') {
				c->state = CH_SIZE_LF;
				i++;
			} else {
				goto bad;
			}
			break;
		}
		case CH_EXT:
			if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else if (ch == '\n' || !is_vchar_ws(ch) ||
				   ++c->line > HTTP1_CHUNK_LINE_MAX) {
				goto bad;
			}
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				goto bad;
			i++;
			c->line = 0;
			c->digits = 0;
			c->state = c->remaining ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			if (seg)
				*seg = i;
			c->remaining -= n;
			i += n;
			data += n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				goto bad;
			i++;
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				goto bad;
			i++;
			c->state = CH_SIZE;
			break;
		case CH_TRAILER:  /* at the start of a trailer line */
			i++;
			if (ch == '\r') {
				c->state = CH_END_LF;
			} else if (ch == ' ' || ch == '\t' || ch == '\n') {
				goto bad;
			} else {
				c->line = 1;
				c->state = CH_TRAILER_LINE;
			}
			break;
		case CH_TRAILER_LINE:
			i++;
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (ch == '\n' || !is_vchar_ws(ch) ||
				 ++c->line > HTTP1_CHUNK_LINE_MAX)
				goto bad;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				goto bad;
			i++;
			c->state = CH_TRAILER;
			break;
		case CH_END_LF:
			if (ch != '\n')
				goto bad;
			i++;
			c->state = CH_DONE;
			rc = 0;
			break;
		default:
			rc = 0;
			break;
		}
	}
	if (c->state == CH_DONE)
		rc = 0;
	*used = i;
	if (data_bytes)
		*data_bytes = data;
	return rc;

bad:
	*used = i;
	if (data_bytes)
		*data_bytes = data;
	return ERR_PARSE;
}

int http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len,
		       size_t *used, size_t *data_bytes)
{
	return chunked_run(c, buf, len, used, data_bytes, NULL);
}

int http1_chunked_decode(struct http1_chunked *c, const char *buf, size_t len,
			 size_t *used, const char **data, size_t *data_len)
{
	size_t seg = 0;
	int rc = chunked_run(c, buf, len, used, data_len, &seg);
	*data = buf + seg;
	return rc;
}
