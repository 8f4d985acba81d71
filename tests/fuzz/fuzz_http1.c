/* libFuzzer target: the HTTP/1.1 request-head, response-head, status-line
 * and chunked parsers on arbitrary bytes, and the proxy's head rewriting.
 * Checks invariants, not just absence of crashes: among them, that what the
 * proxy forwards parses again with the same framing (it cannot be read two
 * ways by the next hop). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "lb/rewrite.h"
#include "proto/http1.h"

static void check_forwarded_request(const struct http1_request *req)
{
	size_t hlen = 0;
	const char *host = http1_header_get(req, "host", &hlen);
	const char *target;
	size_t tlen;
	/* The proxy adds up to four fields; a head already near the field
	 * limit would only be refused by the next hop's own limit. */
	if (rewrite_target(req, host, hlen, &target, &tlen) != 0 ||
	    req->nheaders > HTTP1_MAX_HEADERS - 4)
		return;
	struct rewrite_request rw = { .target = target, .target_len = tlen, .client_ip = "10.0.0.1",
				      .request_id = "0123456789abcdef0123456789abcdef" };
	struct buf out = BUF_INIT;
	rewrite_request_head(&out, req, &rw);
	static struct http1_request again;
	if (out.oom || http1_parse_request(out.data, out.len, 1 << 20, &again) != 0 ||
	    again.head_len != out.len || again.chunked != req->chunked ||
	    again.content_length != req->content_length || again.minor != req->minor ||
	    !http1_header_get(&again, "x-forwarded-for", &hlen))
		abort();
	buf_free(&out);
}

static void check_forwarded_response(const struct http1_response *res, const char *raw)
{
	if (res->nheaders > HTTP1_MAX_HEADERS - 4)
		return;
	struct rewrite_response rw = { .cookie_name = "SRV", .cookie_value = "web-1",
				       .close_client = res->status & 1, .client_minor = 1 };
	struct buf out = BUF_INIT;
	rewrite_response_head(&out, res, raw, &rw);
	static struct http1_response again;
	if (out.oom || http1_parse_response(out.data, out.len, 1 << 20, false, &again) != 0 ||
	    again.head_len != out.len || again.status != res->status)
		abort();
	if (res->status >= 200 && res->status != 204 && res->status != 304 &&
	    (again.body != res->body || again.content_length != res->content_length))
		abort();
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http1_request req;
	int rc = http1_parse_request(buf, size, 4096, &req);
	if (rc == 0) {
		if (req.head_len > size || req.head_len > 4096)
			abort();
		if (req.method < buf || req.method + req.method_len > buf + req.head_len)
			abort();
		if (req.chunked && req.content_length)
			abort();
		for (size_t i = 0; i < req.nheaders; i++) {
			const struct http1_header *h = &req.headers[i];
			if (h->name_len == 0 || h->value + h->value_len > buf + req.head_len)
				abort();
			for (size_t j = 0; j < h->value_len; j++)
				if (h->value[j] == '\r' || h->value[j] == '\n' || h->value[j] == '\0')
					abort();
		}
		check_forwarded_request(&req);
		/* The same bytes split anywhere give the same verdict. */
		for (size_t cut = 0; cut < req.head_len; cut += 1 + req.head_len / 8)
			if (http1_parse_request(buf, cut, 4096, &req) != ERR_AGAIN)
				abort();
	} else if (rc != ERR_AGAIN && rc != ERR_PARSE && rc != ERR_LIMIT) {
		abort();
	}

	int status;
	rc = http1_parse_status(buf, size, &status);
	if (rc == 0 && (status < 100 || status > 999))
		abort();

	struct http1_response res;
	rc = http1_parse_response(buf, size, 4096, size & 1, &res);
	if (rc == 0) {
		if (res.head_len > size || res.status != status)
			abort();
		if (res.body == HTTP1_BODY_UNTIL_CLOSE && res.keep_alive)
			abort();
		if ((size & 1) && res.body != HTTP1_BODY_NONE)
			abort();  /* a response to HEAD has no body */
		if (res.reason + res.reason_len > buf + res.head_len)
			abort();
		if (!(size & 1))
			check_forwarded_response(&res, buf);
	} else if (rc != ERR_AGAIN && rc != ERR_PARSE && rc != ERR_LIMIT) {
		abort();
	}

	/* Chunked framing fed in two pieces must equal one piece. */
	struct http1_chunked a, b;
	size_t used_a, used_b1, used_b2 = 0, data_a, data_b1, data_b2 = 0;
	http1_chunked_init(&a);
	http1_chunked_init(&b);
	int ra = http1_chunked_feed(&a, buf, size, &used_a, &data_a);
	size_t half = size / 2;
	int rb = http1_chunked_feed(&b, buf, half, &used_b1, &data_b1);
	if (rb == ERR_AGAIN && used_b1 == half)
		rb = http1_chunked_feed(&b, buf + half, size - half, &used_b2, &data_b2);
	if (used_a > size)
		abort();
	if (ra != ERR_PARSE && rb != ERR_PARSE &&
	    (ra != rb || used_a != used_b1 + used_b2 || data_a != data_b1 + data_b2))
		abort();

	/* Decoding run by run agrees with framing in one go. */
	struct http1_chunked d;
	http1_chunked_init(&d);
	size_t pos = 0, decoded = 0;
	int rd = ERR_AGAIN;
	while (pos < size && rd == ERR_AGAIN) {
		size_t used, len;
		const char *run;
		rd = http1_chunked_decode(&d, buf + pos, size - pos, &used, &run, &len);
		if (run < buf + pos || run + len > buf + pos + used)
			abort();
		pos += used;
		decoded += len;
	}
	if (ra != ERR_PARSE && (rd != ra || pos != used_a || decoded != data_a))
		abort();
	return 0;
}
