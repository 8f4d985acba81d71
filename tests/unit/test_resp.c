/* The Redis protocol: replies as strata's store client reads them (every
 * type, nesting, incomplete and malformed input), and the shared rate
 * limit's call encoded so that a Redis command parser reads it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "proto/resp.h"
#include "ratelimit/rlstore.h"

static struct resp_reply reply;

static int parse(const char *text)
{
	return resp_parse_reply(text, strlen(text), 1024, &reply);
}

static void test_reply_types(void **state)
{
	(void)state;
	assert_int_equal(parse("+OK\r\n"), 0);
	assert_int_equal(reply.v[0].type, RESP_STATUS);
	assert_int_equal(reply.v[0].len, 2);
	assert_memory_equal(reply.v[0].p, "OK", 2);
	assert_int_equal(parse("-NOSCRIPT No matching script\r\n"), 0);
	assert_int_equal(reply.v[0].type, RESP_ERROR);
	assert_int_equal(reply.v[0].len, 27);
	assert_int_equal(parse(":-42\r\n"), 0);
	assert_int_equal(reply.v[0].type, RESP_INT);
	assert_int_equal(reply.v[0].i, -42);
	assert_int_equal(parse("$5\r\na\r\nbc\r\n"), 0);  /* binary-safe: CRLF inside */
	assert_int_equal(reply.v[0].type, RESP_BULK);
	assert_memory_equal(reply.v[0].p, "a\r\nbc", 5);
	assert_int_equal(reply.used, 11);
	assert_int_equal(parse("$-1\r\n"), 0);
	assert_int_equal(reply.v[0].type, RESP_NIL);
	assert_int_equal(parse("*-1\r\n"), 0);
	assert_int_equal(reply.v[0].type, RESP_NIL);
	assert_int_equal(parse("*0\r\n"), 0);
	assert_int_equal(reply.v[0].type, RESP_ARRAY);
	assert_null(resp_value_at(&reply.v[0], 0));
}

static void test_nested_arrays(void **state)
{
	(void)state;
	/* [1, [2, [], [3]], "x", nil] then the next reply */
	const char *text = "*4\r\n:1\r\n*3\r\n:2\r\n*0\r\n*1\r\n:3\r\n$1\r\nx\r\n$-1\r\n+NEXT\r\n";
	assert_int_equal(parse(text), 0);
	assert_int_equal(reply.n, 9);
	assert_int_equal(reply.used, strlen(text) - strlen("+NEXT\r\n"));
	const struct resp_value *top = &reply.v[0];
	assert_int_equal(top->span, 9);
	assert_int_equal(resp_value_at(top, 0)->i, 1);
	const struct resp_value *inner = resp_value_at(top, 1);
	assert_int_equal(inner->type, RESP_ARRAY);
	assert_int_equal(inner->span, 5);
	assert_int_equal(resp_value_at(inner, 0)->i, 2);
	assert_int_equal(resp_value_at(inner, 1)->i, 0);
	assert_int_equal(resp_value_at(resp_value_at(inner, 2), 0)->i, 3);
	assert_memory_equal(resp_value_at(top, 2)->p, "x", 1);
	assert_int_equal(resp_value_at(top, 3)->type, RESP_NIL);
	assert_null(resp_value_at(top, 4));
	assert_null(resp_value_at(resp_value_at(top, 0), 0));  /* not an array */
}

static void test_incomplete_is_again(void **state)
{
	(void)state;
	const char *text = "*2\r\n$3\r\nfoo\r\n*1\r\n:7\r\n";
	for (size_t cut = 0; cut < strlen(text); cut++)
		if (resp_parse_reply(text, cut, 1024, &reply) != ERR_AGAIN)
			fail_msg("a prefix of %zu bytes was not incomplete", cut);
	assert_int_equal(parse(text), 0);
}

static void test_malformed_and_limits(void **state)
{
	(void)state;
	const char *bad[] = { "?1\r\n", ":1x\r\n", ":01\r\n", "$-2\r\n", "*-2\r\n", "$3\r\nfoox\r\n",
			      ":1\rx", "$1x\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i]) != ERR_PARSE)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(parse("$2048\r\n"), ERR_LIMIT);  /* over max_bulk */
	char deep[128] = "";
	for (int i = 0; i <= RESP_REPLY_MAX_DEPTH; i++)
		strcat(deep, "*1\r\n");
	strcat(deep, ":1\r\n");
	assert_int_equal(parse(deep), ERR_LIMIT);
	static char wide[8 * RESP_REPLY_MAX_VALUES];
	int n = snprintf(wide, sizeof(wide), "*%d\r\n", RESP_REPLY_MAX_VALUES);
	for (int i = 0; i < RESP_REPLY_MAX_VALUES; i++)
		n += snprintf(wide + n, sizeof(wide) - (size_t)n, ":1\r\n");
	assert_int_equal(parse(wide), ERR_LIMIT);
}

static void test_store_call_reads_back_as_a_command(void **state)
{
	(void)state;
	struct rl_policy token = { RL_TOKEN, 10, 60000000000ULL, 20 };
	struct rl_policy gcra = { RL_GCRA, 5, 1000000000ULL, 5 };
	struct rlstore_ask asks[2] = {
		{ &token, "per-ip", "10.0.0.1", 8, 1 },
		{ &gcra, "api", "k\r\n\0y", 5, 4 },  /* keys are binary-safe */
	};
	struct buf out = BUF_INIT;
	rlstore_command(&out, asks, 2, 1);
	static struct resp_command cmd;
	assert_int_equal(resp_parse(out.data, out.len, 1 << 20, &cmd), 0);
	assert_int_equal(cmd.used, out.len);
	assert_int_equal(cmd.argc, 3 + 2 + 2 * 6);
	assert_true(resp_arg_is(&cmd.args[0], "EVALSHA"));
	assert_int_equal(cmd.args[1].len, 40);
	assert_int_equal(strlen(rlstore_sha()), 40);
	assert_memory_equal(cmd.args[1].p, rlstore_sha(), 40);
	assert_int_equal(strspn(rlstore_sha(), "0123456789abcdef"), 40);
	assert_true(resp_arg_is(&cmd.args[2], "2"));
	assert_true(resp_arg_is(&cmd.args[3], "strata:rl:token:per-ip:10.0.0.1"));
	assert_int_equal(cmd.args[4].len, strlen("strata:rl:gcra:api:") + 5);
	assert_memory_equal(cmd.args[4].p, "strata:rl:gcra:api:k\r\n\0y", cmd.args[4].len);
	const char *want[] = { "token", "10", "60000000", "20", "1", "1",
			       "gcra", "5", "1000000", "5", "1", "4" };
	for (int i = 0; i < 12; i++)
		if (!resp_arg_is(&cmd.args[5 + i], want[i]))
			fail_msg("argument %d is not %s", 5 + i, want[i]);
	buf_free(&out);
}

static void test_store_replies(void **state)
{
	(void)state;
	struct rl_policy p = { RL_FIXED, 10, 60000000000ULL, 10 };
	/* First rule allowed (3 units taken, 7 left), second refused: retry in 1.5 s. */
	assert_int_equal(parse("*10\r\n:3\r\n:7\r\n:0\r\n:30000000\r\n:0\r\n"
			       ":0\r\n:0\r\n:1500000\r\n:2000000\r\n:0\r\n"), 0);
	assert_int_equal(rlstore_decided(&reply.v[0]), 2);
	struct rl_result r;
	assert_int_equal(rlstore_result(&reply.v[0], 0, &p, &r), 3);
	assert_true(r.allowed);
	assert_int_equal(r.remaining, 7);
	assert_int_equal(r.limit, 10);
	assert_int_equal(r.reset_after_ns, 30000000000ULL);
	rlstore_result(&reply.v[0], 1, &p, &r);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after_ns, 1500000000ULL);
	/* -1: the cost can never fit. */
	assert_int_equal(parse("*5\r\n:0\r\n:0\r\n:-1\r\n:0\r\n:0\r\n"), 0);
	rlstore_result(&reply.v[0], 0, &p, &r);
	assert_int_equal(r.retry_after_ns, UINT64_MAX);
	const char *bad[] = { "-NOSCRIPT No matching script\r\n", "*0\r\n", "*4\r\n:1\r\n:1\r\n:1\r\n:1\r\n",
			      "*5\r\n:1\r\n:-1\r\n:0\r\n:0\r\n:0\r\n", "*5\r\n:1\r\n$1\r\n1\r\n:0\r\n:0\r\n:0\r\n",
			      ":1\r\n",
			      /* a refusal followed by another decision */
			      "*10\r\n:0\r\n:0\r\n:1\r\n:1\r\n:0\r\n:1\r\n:0\r\n:0\r\n:0\r\n:0\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i]), 0);
		if (rlstore_decided(&reply.v[0]) != ERR_PARSE)
			fail_msg("took %s as the script's reply", bad[i]);
	}
}

static void test_store_policy_range(void **state)
{
	(void)state;
	char err[160];
	struct rl_policy ok = { RL_TOKEN, 1000, 3600000000000ULL, 1000 };
	assert_int_equal(rlstore_policy_check(&ok, err, sizeof(err)), 0);
	struct rl_policy big = { RL_TOKEN, 100000000, 3600000000000ULL, 100000000 };
	assert_int_equal(rlstore_policy_check(&big, err, sizeof(err)), ERR_CONFIG);
	struct rl_policy fast = { RL_GCRA, 2000, 1000000ULL, 1 };  /* 0.5 us apart */
	assert_int_equal(rlstore_policy_check(&fast, err, sizeof(err)), ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_types),
		cmocka_unit_test(test_nested_arrays),
		cmocka_unit_test(test_incomplete_is_again),
		cmocka_unit_test(test_malformed_and_limits),
		cmocka_unit_test(test_store_call_reads_back_as_a_command),
		cmocka_unit_test(test_store_replies),
		cmocka_unit_test(test_store_policy_range),
	};
	return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
