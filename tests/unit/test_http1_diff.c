/* Differential test: strata's request and response parsers against
 * libhttp-parser (Node.js's former parser, Debian's libhttp-parser-dev) over
 * generated corpora of valid messages. Both must read every message the same
 * way: method, target or status, version, fields, framing (including a
 * response read until close) and keep-alive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <http_parser.h>

#include "proto/http1.h"

struct seen {
	char url[256];
	char names[32][64];
	char values[32][128];
	int nfields;
	int complete;
	uint64_t content_length;
	int chunked;
	int keep_alive;
	int needs_eof;           /* responses: the body ends when the server closes */
	int head_request;        /* responses: the request was HEAD */
	int message_done;
};

static void append(char *dst, size_t cap, const char *p, size_t n)
{
	size_t len = strlen(dst);
	if (len + n >= cap)
		n = cap - len - 1;
	memcpy(dst + len, p, n);
	dst[len + n] = '\0';
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct seen *s = p->data;
	append(s->url, sizeof(s->url), at, n);
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
	struct seen *s = p->data;
	if (s->nfields < 32) {
		s->names[s->nfields][0] = s->values[s->nfields][0] = '\0';
		append(s->names[s->nfields++], 64, at, n);
	}
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
	struct seen *s = p->data;
	append(s->values[s->nfields - 1], 128, at, n);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct seen *s = p->data;
	s->complete = 1;
	s->chunked = (p->flags & F_CHUNKED) != 0;
	s->content_length = p->content_length == ULLONG_MAX ? 0 : p->content_length;
	s->keep_alive = http_should_keep_alive(p);
	return 1;  /* stop at the head */
}

/* Responses: read on into the body, which a response to HEAD has none of. */
static int on_response_head(http_parser *p)
{
	struct seen *s = p->data;
	on_headers_complete(p);
	return s->head_request;
}

static int on_message_complete(http_parser *p)
{
	struct seen *s = p->data;
	s->message_done = 1;
	return 0;
}

static void same_fields(const struct seen *s, const struct http1_header *hs, size_t n,
			const char *msg)
{
	assert_int_equal((size_t)s->nfields, n);
	for (int i = 0; i < s->nfields; i++) {
		const struct http1_header *h = &hs[i];
		if (strlen(s->names[i]) != h->name_len || memcmp(s->names[i], h->name, h->name_len) ||
		    strlen(s->values[i]) != h->value_len || memcmp(s->values[i], h->value, h->value_len))
			fail_msg("field %d differs (%s: [%s]): %s", i, s->names[i], s->values[i], msg);
	}
}

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH" };
static const char *const targets[] = { "/", "/a/b/c", "/search?q=x&y=%20z", "/x.png", "/api/v1/users/42" };
static const char *const extras[] = {
	"",
	"User-Agent: curl/8.0\r\n",
	"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n",
	"Cookie: a=1; b=2\r\nX-Forwarded-For: 10.0.0.1\r\n",
	"Connection: close\r\n",
	"Connection: keep-alive\r\n",
	"X-Empty:\r\nX-Tab:\tvalue\r\n",
};
static const char *const bodies[] = { "", "Content-Length: 0\r\n", "Content-Length: 12\r\n",
				      "Transfer-Encoding: chunked\r\n" };

static void compare(const char *msg)
{
	struct http1_request req;
	int rc = http1_parse_request(msg, strlen(msg), 32768, &req);
	if (rc != 0)
		fail_msg("strata refused a valid request: %s", msg);

	struct seen s = { 0 };
	http_parser parser;
	http_parser_settings settings = { 0 };
	settings.on_url = on_url;
	settings.on_header_field = on_field;
	settings.on_header_value = on_value;
	settings.on_headers_complete = on_headers_complete;
	http_parser_init(&parser, HTTP_REQUEST);
	parser.data = &s;
	http_parser_execute(&parser, &settings, msg, req.head_len);
	if (!s.complete)
		fail_msg("http-parser did not complete: %s", msg);

	if (strlen(http_method_str(parser.method)) != req.method_len ||
	    memcmp(http_method_str(parser.method), req.method, req.method_len) != 0)
		fail_msg("method differs: %s", msg);
	if (strlen(s.url) != req.target_len || memcmp(s.url, req.target, req.target_len) != 0)
		fail_msg("target differs: %s", msg);
	assert_int_equal(parser.http_minor, req.minor);
	same_fields(&s, req.headers, req.nheaders, msg);
	assert_int_equal(s.chunked, req.chunked);
	assert_int_equal(s.content_length, req.content_length);
	if (s.keep_alive != (int)req.keep_alive)
		fail_msg("keep-alive differs (http-parser %d): %s", s.keep_alive, msg);
}

static void test_agrees_with_http_parser(void **state)
{
	(void)state;
	char msg[1024];
	int n = 0;
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
			for (int minor = 0; minor <= 1; minor++)
				for (size_t e = 0; e < sizeof(extras) / sizeof(extras[0]); e++)
					for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
						if (minor == 0 && b == 3)
							continue;  /* chunked needs 1.1 */
						snprintf(msg, sizeof(msg), "%s %s HTTP/1.%d\r\n%s%s%s\r\n",
							 methods[m], targets[t], minor,
							 minor ? "Host: example.com\r\n" : "",
							 extras[e], bodies[b]);
						compare(msg);
						n++;
					}
	assert_true(n > 1000);
}

static const int statuses[] = { 200, 201, 204, 301, 304, 404, 500, 503 };
static const char *const res_extras[] = {
	"",
	"Server: nginx\r\nContent-Type: text/html\r\n",
	"Set-Cookie: a=1; Path=/\r\nCache-Control: no-cache\r\n",
	"Connection: close\r\n",
	"Connection: keep-alive\r\n",
	"X-Empty:\r\nVia: 1.1 a, 1.1 b\r\n",
};
static const char *const res_bodies[] = { "", "Content-Length: 0\r\n", "Content-Length: 12\r\n",
					  "Transfer-Encoding: chunked\r\n" };

static void compare_response(const char *msg, bool head_request)
{
	struct http1_response res;
	int rc = http1_parse_response(msg, strlen(msg), 32768, head_request, &res);
	if (rc != 0)
		fail_msg("strata refused a valid response: %s", msg);

	struct seen s = { .head_request = head_request };
	http_parser parser;
	http_parser_settings settings = { 0 };
	settings.on_header_field = on_field;
	settings.on_header_value = on_value;
	settings.on_headers_complete = on_response_head;
	settings.on_message_complete = on_message_complete;
	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = &s;
	http_parser_execute(&parser, &settings, msg, res.head_len);
	if (!s.complete)
		fail_msg("http-parser did not complete: %s", msg);
	/* Asked after the head: in the callback, a response to HEAD is not yet
	 * known to have no body. */
	s.keep_alive = http_should_keep_alive(&parser);
	/* A message still open after its head that the end of the stream
	 * completes is one read until close. */
	if (!s.message_done) {
		http_parser_execute(&parser, &settings, msg, 0);
		s.needs_eof = s.message_done && HTTP_PARSER_ERRNO(&parser) == HPE_OK;
	}

	assert_int_equal(parser.status_code, res.status);
	assert_int_equal(parser.http_minor, res.minor);
	same_fields(&s, res.headers, res.nheaders, msg);
	/* http-parser sees the framing fields even where no body can follow
	 * (HEAD, 204, 304); strata's body field says what is actually framed. */
	bool bodiless = head_request || res.status == 204 || res.status == 304;
	if (!bodiless) {
		assert_int_equal(s.chunked, res.body == HTTP1_BODY_CHUNKED);
		if (res.body == HTTP1_BODY_LENGTH)
			assert_int_equal(s.content_length, res.content_length);
		if (s.needs_eof != (res.body == HTTP1_BODY_UNTIL_CLOSE))
			fail_msg("read-until-close differs (http-parser %d): %s", s.needs_eof, msg);
	} else if (res.body != HTTP1_BODY_NONE) {
		fail_msg("a body framed where none can be: %s", msg);
	}
	if (s.keep_alive != (int)res.keep_alive)
		fail_msg("keep-alive differs (http-parser %d): %s", s.keep_alive, msg);
}

static void test_responses_agree_with_http_parser(void **state)
{
	(void)state;
	char msg[1024];
	int n = 0;
	for (size_t st = 0; st < sizeof(statuses) / sizeof(statuses[0]); st++)
		for (int minor = 0; minor <= 1; minor++)
			for (size_t e = 0; e < sizeof(res_extras) / sizeof(res_extras[0]); e++)
				for (size_t b = 0; b < sizeof(res_bodies) / sizeof(res_bodies[0]); b++)
					for (int head = 0; head <= 1; head++) {
						if ((minor == 0 && b == 3) ||
						    (statuses[st] == 204 && b > 0))
							continue;  /* chunked needs 1.1; a 204 frames nothing (RFC 9110 8.6) */
						snprintf(msg, sizeof(msg), "HTTP/1.%d %d %s\r\n%s%s\r\n",
							 minor, statuses[st], http1_reason(statuses[st]),
							 res_extras[e], res_bodies[b]);
						compare_response(msg, head);
						n++;
					}
	assert_true(n > 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_http_parser),
		cmocka_unit_test(test_responses_agree_with_http_parser),
	};
	return cmocka_run_group_tests_name("http1 vs http-parser", tests, NULL, NULL);
}
