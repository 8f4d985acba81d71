/* HTTP/1.1 head parser: valid messages, every smuggling ambiguity refused,
 * incremental input, limits, chunked framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "proto/http1.h"

static int parse(const char *text, struct http1_request *req)
{
	return http1_parse_request(text, strlen(text), 32768, req);
}

static void test_simple_get(void **state)
{
	(void)state;
	struct http1_request req;
	const char *m = "GET /a?b=c HTTP/1.1\r\nHost: x\r\nUser-Agent:  curl/8 \r\n\r\nBODY";
	assert_int_equal(parse(m, &req), 0);
	assert_int_equal(req.method_len, 3);
	assert_memory_equal(req.method, "GET", 3);
	assert_int_equal(req.target_len, 6);
	assert_memory_equal(req.target, "/a?b=c", 6);
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.nheaders, 2);
	assert_true(req.keep_alive);
	assert_int_equal(req.head_len, strlen(m) - 4);
	size_t n;
	const char *ua = http1_header_get(&req, "user-agent", &n);
	assert_non_null(ua);
	assert_int_equal(n, 6);
	assert_memory_equal(ua, "curl/8", 6);
}

static void test_keep_alive_rules(void **state)
{
	(void)state;
	struct http1_request req;
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &req), 0);
	assert_false(req.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
	assert_false(req.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req), 0);
	assert_true(req.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", &req), 0);
	assert_false(req.keep_alive);
}

static void test_framing(void **state)
{
	(void)state;
	struct http1_request req;
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 42\r\n\r\n", &req), 0);
	assert_int_equal(req.content_length, 42);
	assert_false(req.chunked);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &req), 0);
	assert_true(req.chunked);
}

/* Each is ambiguous or malformed under RFC 9112 and must be refused. */
static const char *const refused[] = {
	"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",          /* obs-fold */
	"GET / HTTP/1.1\r\nHost : x\r\n\r\n",                      /* space before colon */
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",          /* CTL in value */
	"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",            /* bare CR */
	"GET / HTTP/1.1\nHost: x\n\n",                             /* bare LF */
	"GET / HTTP/1.1\r\n\r\n",                                  /* no Host */
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",            /* two Hosts */
	"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",                       /* bad method */
	"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",                    /* space in target */
	"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.10\r\nHost: x\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
	" GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n",                /* empty name */
	"GET / HTTP/1.1\r\nHost x\r\n\r\n",                        /* no colon */
};

static void test_ambiguities_are_refused(void **state)
{
	(void)state;
	struct http1_request req;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int rc = parse(refused[i], &req);
		if (rc != ERR_PARSE)
			fail_msg("accepted #%zu: %s (rc %d)", i, refused[i], rc);
	}
}

static void test_incomplete_then_complete(void **state)
{
	(void)state;
	struct http1_request req;
	const char *m = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	for (size_t n = 0; n < strlen(m); n++)
		assert_int_equal(http1_parse_request(m, n, 32768, &req), ERR_AGAIN);
	assert_int_equal(http1_parse_request(m, strlen(m), 32768, &req), 0);
}

static void test_limits(void **state)
{
	(void)state;
	struct http1_request req;
	char big[70000];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(http1_parse_request(big, sizeof(big), 32768, &req), ERR_LIMIT);
	char many[8192] = "GET / HTTP/1.1\r\nHost: x\r\n";
	for (int i = 0; i < HTTP1_MAX_HEADERS + 1; i++)
		strcat(many, "A: b\r\n");
	strcat(many, "\r\n");
	assert_int_equal(parse(many, &req), ERR_LIMIT);
}

static void test_status_line(void **state)
{
	(void)state;
	int status;
	assert_int_equal(http1_parse_status("HTTP/1.1 204 No Content\r\n", 25, &status), 0);
	assert_int_equal(status, 204);
	assert_int_equal(http1_parse_status("HTTP/1.0 301\r\n", 14, &status), 0);
	assert_int_equal(status, 301);
	assert_int_equal(http1_parse_status("HTTP/1.1 20", 11, &status), ERR_AGAIN);
	assert_int_equal(http1_parse_status("HTTP/1.1 2x0 OK\r\n", 17, &status), ERR_PARSE);
	assert_int_equal(http1_parse_status("SSH-2.0-OpenSSH\r\n", 17, &status), ERR_PARSE);
	assert_int_equal(http1_parse_status("HTTP/1.1 099 X\r\n", 16, &status), ERR_PARSE);
}

static int chunked(const char *body, size_t *used, size_t *data)
{
	struct http1_chunked c;
	http1_chunked_init(&c);
	return http1_chunked_feed(&c, body, strlen(body), used, data);
}

static void test_chunked_bodies(void **state)
{
	(void)state;
	size_t used, data;
	const char *b = "5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	assert_int_equal(chunked(b, &used, &data), 0);
	assert_int_equal(used, strlen(b) - 4);
	assert_int_equal(data, 6);

	/* Byte by byte gives the same result. */
	struct http1_chunked c;
	http1_chunked_init(&c);
	size_t total = 0;
	int rc = ERR_AGAIN;
	for (size_t i = 0; rc == ERR_AGAIN && i < strlen(b); i++) {
		rc = http1_chunked_feed(&c, b + i, 1, &used, NULL);
		total += used;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(total, strlen(b) - 4);

	assert_int_equal(chunked("5\r\nhel", &used, &data), ERR_AGAIN);
	assert_int_equal(chunked("x\r\n", &used, &data), ERR_PARSE);
	assert_int_equal(chunked("\r\n", &used, &data), ERR_PARSE);
	assert_int_equal(chunked("5\r\nhelloXX", &used, &data), ERR_PARSE);
	assert_int_equal(chunked("11111111111111111\r\n", &used, &data), ERR_PARSE);
	assert_int_equal(chunked("5\nhello\r\n", &used, &data), ERR_PARSE);

	/* Found by fuzzing: *used must be set on errors too. */
	used = (size_t)-1;
	assert_int_equal(chunked("GET / HTTP/1.1\r\n", &used, &data), ERR_PARSE);
	assert_int_equal(used, 0);
	assert_int_equal(chunked("3\r\nabcX", &used, &data), ERR_PARSE);
	assert_int_equal(used, 6);
	assert_int_equal(data, 3);
}

static int response(const char *text, bool head, struct http1_response *res)
{
	return http1_parse_response(text, strlen(text), 32768, head, res);
}

static void test_response_framing(void **state)
{
	(void)state;
	struct http1_response res;
	assert_int_equal(response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, &res), 0);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.reason_len, 2);
	assert_memory_equal(res.reason, "OK", 2);
	assert_int_equal(res.body, HTTP1_BODY_LENGTH);
	assert_int_equal(res.content_length, 5);
	assert_true(res.keep_alive);
	assert_int_equal(res.head_len, strlen("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"));

	assert_int_equal(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, &res), 0);
	assert_int_equal(res.body, HTTP1_BODY_CHUNKED);
	assert_int_equal(response("HTTP/1.1 200 OK\r\n\r\n", false, &res), 0);
	assert_int_equal(res.body, HTTP1_BODY_UNTIL_CLOSE);
	assert_false(res.keep_alive);
	/* no body whatever the fields say: HEAD, 1xx, 304 */
	assert_int_equal(response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, &res), 0);
	assert_int_equal(res.body, HTTP1_BODY_NONE);
	assert_int_equal(response("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false, &res), 0);
	assert_int_equal(res.body, HTTP1_BODY_NONE);
	assert_int_equal(response("HTTP/1.1 100 Continue\r\n\r\n", false, &res), 0);
	assert_int_equal(res.body, HTTP1_BODY_NONE);
	assert_int_equal(response("HTTP/1.1 204\r\n\r\n", false, &res), 0);
	assert_int_equal(res.reason_len, 0);
	assert_int_equal(res.body, HTTP1_BODY_NONE);
	assert_int_equal(response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, &res), 0);
	assert_false(res.keep_alive);
	assert_int_equal(response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
				  false, &res), 0);
	assert_false(res.keep_alive);
	assert_int_equal(response("HTTP/1.1 200 OK\r\nContent-Le", false, &res), ERR_AGAIN);
}

static const char *const refused_responses[] = {
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
	"HTTP/1.1 200 O\x01K\r\n\r\n",
	"HTTP/1.1 20 OK\r\n\r\n",
	"HTTP/2 200 OK\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
};

static void test_response_ambiguities_are_refused(void **state)
{
	(void)state;
	struct http1_response res;
	for (size_t i = 0; i < sizeof(refused_responses) / sizeof(refused_responses[0]); i++)
		if (response(refused_responses[i], false, &res) != ERR_PARSE)
			fail_msg("accepted response #%zu: %s", i, refused_responses[i]);
}

/* Decoding yields the chunk data without the framing, across any split. */
static void test_chunked_decode(void **state)
{
	(void)state;
	const char body[] = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	size_t body_len = sizeof(body) - 1 - 4;
	for (size_t cut = 0; cut <= body_len; cut++) {
		struct http1_chunked c;
		http1_chunked_init(&c);
		char out[64];
		size_t n = 0, pos = 0, used, len;
		const char *data;
		int rc = ERR_AGAIN;
		/* First the bytes before the cut, then the rest. */
		size_t ends[2] = { cut, sizeof(body) - 1 };
		for (int part = 0; part < 2 && rc == ERR_AGAIN; part++) {
			while (pos < ends[part] && rc == ERR_AGAIN) {
				rc = http1_chunked_decode(&c, body + pos, ends[part] - pos, &used, &data, &len);
				assert_true(rc != ERR_PARSE);
				memcpy(out + n, data, len);
				n += len;
				pos += used;
			}
		}
		assert_int_equal(rc, 0);
		assert_int_equal(pos, body_len);  /* NEXT is not the body's */
		assert_int_equal(n, 11);
		assert_memory_equal(out, "hello world", 11);
	}
	struct http1_chunked c;
	size_t used, len;
	const char *data;
	http1_chunked_init(&c);
	assert_int_equal(http1_chunked_decode(&c, "5\r\nhelloX", 10, &used, &data, &len), ERR_AGAIN);
	assert_int_equal(len, 5);
	assert_int_equal(http1_chunked_decode(&c, "X", 1, &used, &data, &len), ERR_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_keep_alive_rules),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_ambiguities_are_refused),
		cmocka_unit_test(test_incomplete_then_complete),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_chunked_bodies),
		cmocka_unit_test(test_chunked_decode),
		cmocka_unit_test(test_response_framing),
		cmocka_unit_test(test_response_ambiguities_are_refused),
	};
	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
