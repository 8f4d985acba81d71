/* Config files and settings: the accepted format and every error's wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "lb/conf.h"

static struct lb_conf *conf;
static char err[CONF_ERR_MAX];

static int setup(void **state)
{
	(void)state;
	conf = malloc(sizeof(*conf));
	conf_init(conf);
	err[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(conf);
	return 0;
}

static const char good[] =
	"; a comment\n"
	"[global]\n"
	"threads = 2\n"
	"admin = 127.0.0.1:9100\n"
	"log-format = json\n"
	"\n"
	"[pool web]\n"
	"balance = leastconn\n"
	"server = 127.0.0.1:9001,weight=3,name=a\n"
	"server = 127.0.0.1:9002\n"
	"health-check = http:/healthz\n"
	"health-interval = 500ms\n"
	"rise = 1\n"
	"fall = 4\n"
	"connect-timeout = 2s\n"
	"retries = 0\n"
	"\n"
	"[listen front]\n"
	"bind = 127.0.0.1:8080\n"
	"mode = tcp\n"
	"pool = web\n"
	"idle-timeout = 1m\n"
	"max-conns = 500\n";

static void test_full_file(void **state)
{
	(void)state;
	assert_int_equal(conf_load_string(conf, good, err, sizeof(err)), 0);
	assert_int_equal(conf->threads, 2);
	assert_true(conf->has_admin);
	assert_int_equal(conf->log_format, LOG_JSON);
	assert_int_equal(conf->npools, 1);
	struct conf_pool *p = &conf->pools[0];
	assert_string_equal(p->name, "web");
	assert_int_equal(p->balance, BALANCE_LEASTCONN);
	assert_int_equal(p->nservers, 2);
	assert_string_equal(p->servers[0].name, "a");
	assert_int_equal(p->servers[0].weight, 3);
	assert_string_equal(p->servers[1].name, "127.0.0.1:9002");
	assert_int_equal(p->check, CHECK_HTTP);
	assert_string_equal(p->check_path, "/healthz");
	assert_int_equal(p->check_interval_ms, 500);
	assert_int_equal(p->rise, 1);
	assert_int_equal(p->fall, 4);
	assert_int_equal(p->connect_timeout_ms, 2000);
	assert_int_equal(p->retries, 0);
	struct conf_listener *l = &conf->listeners[0];
	assert_string_equal(l->name, "front");
	assert_string_equal(l->addr_text, "127.0.0.1:8080");
	assert_int_equal(l->pool, 0);
	assert_int_equal(l->idle_timeout_ms, 60000);
	assert_int_equal(l->max_conns, 500);
}

struct bad_case {
	const char *text;
	const char *expect;   /* a substring of the one-line message */
};

static const struct bad_case bad[] = {
	{ "[nonsense]\nx = 1\n", "config:1: section [nonsense]" },
	{ "x = 1\n", "config:1: 'x' outside of any section" },
	/* Found by fuzzing: an unclosed section took its ']' from a later line. */
	{ "[pools.1\nserver = 1.2.3.4:5 ]\n", "config:1: syntax error" },
	{ "[global]\nthreads = 0\n", "config:2: threads: '0' is not a number from 1 to 256" },
	{ "[global]\nfoo = 1\n", "config:2: unknown key 'foo' in [global]" },
	{ "[pool a]\nserver = 1.2.3.4\n", "config:2: server: '1.2.3.4' is not ADDR:PORT" },
	{ "[pool a]\nserver = 127.0.0.1:80,weight=0\n", "weight must be 1..256" },
	{ "[pool a]\nserver = 127.0.0.1:80,color=red\n", "unknown option 'color=red'" },
	{ "[pool a]\nbalance = fastest\n", "config:2: balance: 'fastest'" },
	{ "[pool a]\nhealth-check = icmp\n", "health-check: 'icmp'" },
	{ "[pool a]\nhealth-interval = 5h\n", "health-interval: '5h' is not a duration" },
	{ "[pool a]\nretries = 11\n", "retries: '11' is not a number from 0 to 10" },
	{ "[pool a]\nhash-balance-factor = 100\n", "hash-balance-factor: '100'" },
	{ "[pool a]\nserver = 127.0.0.1:1\n[pool a]\n", "pool 'a' is defined twice" },
	{ "[pool a]\nserver = 127.0.0.1:1\n[listen l]\nbind = 127.0.0.1:2\npool = b\n",
	  "listener 'l': unknown pool" },
	{ "[pool a]\nserver = 127.0.0.1:1\n[listen l]\npool = a\n", "listener 'l' has no bind address" },
	{ "[pool a]\nrise = 2\n[listen l]\nbind = 127.0.0.1:2\npool = a\n", "pool 'a' has no server" },
	{ "[pool a]\nserver = 127.0.0.1:1\n", "no listener" },
	{ "[listen l]\nmode = udp\n", "config:2: mode: 'udp' is not http or tcp" },
	{ "[listen l]\nmax-conns = many\n", "max-conns: 'many'" },
	{ "[pool a]\nthis line has no equals sign\n", "config:2: syntax error" },
	{ "[pool a]\nserver =\n", "config:2: server: missing value" },
	{ "[pool a]\nserver = 127.0.0.1:1,name=a\nserver = 127.0.0.1:2,name=a\n"
	  "[listen l]\nbind = 127.0.0.1:3\npool = a\n", "server name 'a' is used twice" },
	{ "[pool a]\nserver = 127.0.0.1:1\n[listen l]\nbind = 127.0.0.1:3\npool = a\n"
	  "[listen m]\nbind = 127.0.0.1:3\npool = a\n", "bind the same address" },
};

static void test_every_error_names_its_line_and_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_init(conf);
		err[0] = '\0';
		int rc = conf_load_string(conf, bad[i].text, err, sizeof(err));
		if (rc != ERR_CONFIG)
			fail_msg("case %zu accepted: %s", i, bad[i].text);
		if (!strstr(err, bad[i].expect))
			fail_msg("case %zu: '%s' does not contain '%s'", i, err, bad[i].expect);
		assert_null(strchr(err, '\n'));
	}
}

static void test_long_lines_keep_line_numbers(void **state)
{
	(void)state;
	/* Found by the integration tests: libinih splits lines of 200 bytes or
	 * more, which shifted every later line number. */
	char text[2048];
	char comment[400];
	memset(comment, 'x', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = '\0';
	snprintf(text, sizeof(text), "; %s\n[pool a]\nserver = 127.0.0.1:1\nbogus = 1\n", comment);
	assert_int_equal(conf_load_string(conf, text, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "config:4: unknown key 'bogus'"));

	conf_init(conf);
	snprintf(text, sizeof(text), "[pool a]\nhealth-check = http:/%s\n", comment);
	assert_int_equal(conf_load_string(conf, text, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "config:2: line longer than 198 characters"));

	/* The first problem in the file is the one reported. */
	conf_init(conf);
	assert_int_equal(conf_load_string(conf, "[pool a]\nno equals here\nbogus = 1\n",
					  err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "config:2: syntax error"));
}

static void test_durations(void **state)
{
	(void)state;
	struct conf_pool p;
	conf_pool_init(&p, "p");
	const char *ok[][2] = { { "250", "250" }, { "250ms", "250" }, { "3s", "3000" }, { "2m", "120000" } };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(conf_set_pool(&p, "connect-timeout", ok[i][0], err, sizeof(err)), 0);
		assert_int_equal(p.connect_timeout_ms, strtoull(ok[i][1], NULL, 10));
	}
	const char *no[] = { "", "0", "-1", "1.5s", "s", "10 s", "9999999999", "1h" };
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(conf_set_pool(&p, "connect-timeout", no[i], err, sizeof(err)), ERR_CONFIG);
}

static void test_addresses(void **state)
{
	(void)state;
	struct conf_server s;
	assert_int_equal(conf_parse_server("[::1]:80", &s, err, sizeof(err)), 0);
	assert_string_equal(s.addr_text, "[::1]:80");
	assert_int_equal(conf_parse_server("localhost:80", &s, err, sizeof(err)), 0);
	const char *no[] = { "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:abc",
			     ":80", "::1:80", "1.2.3:80", "127.0.0.1:80x", "[::1]80" };
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (conf_parse_server(no[i], &s, err, sizeof(err)) != ERR_CONFIG)
			fail_msg("accepted %s", no[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_error_names_its_line_and_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines_keep_line_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addresses, setup, teardown),
	};
	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
