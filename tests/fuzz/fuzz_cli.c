/* libFuzzer target: the command-line value parsers (numbers, durations,
 * sizes, ISO 8601 UTC times) on arbitrary text. Checks invariants: results
 * inside their documented ranges, and a parsed time printed back in the
 * canonical form parses to the same millisecond. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64];
	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	long n;
	if (cli_parse_long(s, -1000, 1000, &n) == 0 && (n < -1000 || n > 1000))
		abort();
	uint64_t v;
	if (cli_parse_ms(s, &v) == 0 && (v < 1 || v > 86400000ULL))
		abort();
	cli_parse_size(s, &v);
	if (cli_parse_utc(s, &v) == 0) {
		time_t secs = (time_t)(v / 1000);
		struct tm tm;
		char back[64];
		if (!gmtime_r(&secs, &tm))
			abort();
		size_t k = strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(back + k, sizeof(back) - k, ".%03uZ", (unsigned)(v % 1000));
		uint64_t again;
		if (cli_parse_utc(back, &again) != 0 || again != v)
			abort();
	}
	return 0;
}
