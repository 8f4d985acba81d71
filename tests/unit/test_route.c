/* HTTP routing: route lines parsed from a config and matched against requests;
 * the cookie and size parsers the http mode relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/cli.h"
#include "core/err.h"
#include "lb/conf.h"
#include "lb/route.h"
#include "proto/http1.h"

static const char routed_conf[] =
	"[pool web]\nserver = 127.0.0.1:9001\n"
	"[pool api]\nserver = 127.0.0.1:9002\n"
	"[pool images]\nserver = 127.0.0.1:9003\n"
	"[pool admin]\nserver = 127.0.0.1:9004\n"
	"[pool canary]\nserver = 127.0.0.1:9005\n"
	"[pool exact]\nserver = 127.0.0.1:9006\n"
	"[listen front]\nbind = 127.0.0.1:8080\npool = web\n"
	"route = path /status -> exact\n"
	"route = prefix /api/ -> api\n"
	"route = prefix /images/ -> images\n"
	"route = host admin.example.com method POST -> admin\n"
	"route = header X-Canary=1 -> canary\n"
	"[listen other]\nbind = 127.0.0.1:8090\npool = api\n";

/* The pool name a raw request is routed to on listener `li`. */
static const char *route_of(const struct lb_conf *c, int li, const char *raw)
{
	static struct http1_request req;
	assert_int_equal(http1_parse_request(raw, strlen(raw), 8192, &req), 0);
	size_t hlen = 0;
	const char *host = http1_header_get(&req, "host", &hlen);
	struct route_request r;
	route_request_init(&r, &req, host, hlen, req.target, req.target_len);
	return c->pools[route_select(c, li, &r)].name;
}

static void test_routes_first_match_wins(void **state)
{
	(void)state;
	struct lb_conf *c = malloc(sizeof(*c));
	char err[CONF_ERR_MAX];
	conf_init(c);
	assert_int_equal(conf_load_string(c, routed_conf, err, sizeof(err)), 0);
	assert_int_equal(c->nroutes, 5);
	assert_string_equal(route_of(c, 0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), "web");
	assert_string_equal(route_of(c, 0, "GET /api/users HTTP/1.1\r\nHost: a\r\n\r\n"), "api");
	assert_string_equal(route_of(c, 0, "GET /api HTTP/1.1\r\nHost: a\r\n\r\n"), "web");
	assert_string_equal(route_of(c, 0, "GET /images/a.png?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
			    "images");
	assert_string_equal(route_of(c, 0, "GET /status?full HTTP/1.1\r\nHost: a\r\n\r\n"), "exact");
	assert_string_equal(route_of(c, 0, "GET /status/x HTTP/1.1\r\nHost: a\r\n\r\n"), "web");
	/* Both conditions must hold; the host ignores case and port. */
	assert_string_equal(route_of(c, 0, "POST /x HTTP/1.1\r\nHost: ADMIN.example.com:8080\r\n"
				     "Content-Length: 0\r\n\r\n"), "admin");
	assert_string_equal(route_of(c, 0, "GET /x HTTP/1.1\r\nHost: admin.example.com\r\n\r\n"),
			    "web");
	assert_string_equal(route_of(c, 0, "GET /x HTTP/1.1\r\nHost: a\r\nx-canary: 1\r\n\r\n"),
			    "canary");
	assert_string_equal(route_of(c, 0, "GET /x HTTP/1.1\r\nHost: a\r\nX-Canary: 2\r\n\r\n"), "web");
	/* An earlier route wins over a later one that also matches. */
	assert_string_equal(route_of(c, 0, "GET /api/x HTTP/1.1\r\nHost: a\r\nX-Canary: 1\r\n\r\n"),
			    "api");
	/* Routes belong to their listener. */
	assert_string_equal(route_of(c, 1, "GET /images/a HTTP/1.1\r\nHost: a\r\n\r\n"), "api");
	free(c);
}

static void test_bad_routes_are_named(void **state)
{
	(void)state;
	static const struct { const char *line, *msg; } cases[] = {
		{ "route = prefix /api/ api", "'api' is not host, path, prefix, method or header" },
		{ "route = -> web", "is not COND [COND...] -> POOL" },
		{ "route = prefix /a/ -> web extra", "is not COND [COND...] -> POOL" },
		{ "route = prefix api -> web", "must start with /" },
		{ "route = cookie a -> web", "'cookie' is not host, path, prefix, method or header" },
		{ "route = header -> web", "'header' needs a value" },
		{ "route = header X Y=1 -> web", "'Y=1' is not host" },
		{ "route = method G(T -> web", "'G(T' is not a method" },
		{ "route = prefix /a/ -> nowhere", "route to unknown pool 'nowhere'" },
	};
	struct lb_conf *c = malloc(sizeof(*c));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], err[CONF_ERR_MAX] = "";
		snprintf(text, sizeof(text),
			 "[pool web]\nserver = 127.0.0.1:9001\n[listen f]\nbind = 127.0.0.1:8080\n"
			 "pool = web\n%s\n", cases[i].line);
		conf_init(c);
		assert_int_equal(conf_load_string(c, text, err, sizeof(err)), ERR_CONFIG);
		if (!strstr(err, cases[i].msg))
			fail_msg("%s: '%s' does not contain '%s'", cases[i].line, err, cases[i].msg);
	}
	free(c);
}

static void test_cookie_values(void **state)
{
	(void)state;
	const char *v = "a=1; SRV=web-2;b=\"x y\" ; c=";
	size_t n;
	const char *got = http1_cookie_get(v, strlen(v), "SRV", &n);
	assert_non_null(got);
	assert_int_equal(n, 5);
	assert_memory_equal(got, "web-2", 5);
	got = http1_cookie_get(v, strlen(v), "b", &n);
	assert_int_equal(n, 3);
	assert_memory_equal(got, "x y", 3);
	got = http1_cookie_get(v, strlen(v), "c", &n);
	assert_non_null(got);
	assert_int_equal(n, 0);
	assert_null(http1_cookie_get(v, strlen(v), "srv", &n));   /* names are case-sensitive */
	assert_null(http1_cookie_get(v, strlen(v), "SR", &n));
	assert_null(http1_cookie_get("", 0, "a", &n));
}

static void test_sizes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(cli_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cli_parse_size("32k", &v), 0);
	assert_int_equal(v, 32768);
	assert_int_equal(cli_parse_size("10m", &v), 0);
	assert_int_equal(v, 10485760);
	assert_int_equal(cli_parse_size("1G", &v), 0);
	assert_int_equal(v, 1073741824);
	assert_int_equal(cli_parse_size("2kb", &v), 0);
	assert_int_equal(v, 2048);
	const char *bad[] = { "", "k", "-1", "1.5m", "10x", "10kk", "1000000000000000", "1 k",
			      "999999999999g" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cli_parse_size(bad[i], &v) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_first_match_wins),
		cmocka_unit_test(test_bad_routes_are_named),
		cmocka_unit_test(test_cookie_values),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
