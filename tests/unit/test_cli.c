/* Command-line values: ISO 8601 UTC times (strata id --epoch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "algo/snowflake.h"
#include "core/cli.h"
#include "core/err.h"

static void test_utc_times(void **state)
{
	(void)state;
	uint64_t ms;
	assert_int_equal(cli_parse_utc("2010-11-04T01:42:54.657Z", &ms), 0);
	assert_int_equal(ms, SF_TWITTER_EPOCH_MS);
	assert_int_equal(cli_parse_utc("2024-01-01", &ms), 0);
	assert_int_equal(ms, 1704067200000ULL);
	assert_int_equal(cli_parse_utc("2024-02-29T23:59:59Z", &ms), 0);
	assert_int_equal(ms, 1709251199000ULL);
	assert_int_equal(cli_parse_utc("1970-01-01T00:00:00.001Z", &ms), 0);
	assert_int_equal(ms, 1);
	const char *bad[] = { "", "yesterday", "2024-01-01T00:00:00", "2024-01-01T00:00Z",
			      "2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.1234Z",
			      "2024-01-01T00:00:00+01:00", "2024-01-01 00:00:00Z", "1969-12-31",
			      "2024-13-01", "2024-01-01Z", "2024-01-01T00:00:00Zx", "2024-02-30",
			      "2023-02-29", "2024-1-1", "2024-01-01T23:59:60Z", "2024-01-01T1:2:3Z",
			      " 2024-01-01", "2024-01-01T00: 0:00Z", "2024-01-01T24:00:00Z" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cli_parse_utc(bad[i], &ms) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utc_times),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
