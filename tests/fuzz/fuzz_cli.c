/* libFuzzer target: the command-line value parsers (numbers, durations,
 * sizes, ISO 8601 UTC times) and glob patterns on arbitrary text. Checks
 * invariants: results inside their documented ranges, a parsed time printed
 * back in the canonical form parses to the same millisecond, and a pattern
 * (the input's first half) against a string (the rest) ends, with "*"
 * matching anything and a pattern without special bytes matching itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/glob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t half = size / 2;
	glob_match(text, half, text + half, size - half, size & 1);
	if (!glob_match("*", 1, text, size, false))
		abort();
	if (!memchr(text, '*', size) && !memchr(text, '?', size) && !memchr(text, '[', size) &&
	    !memchr(text, '\\', size) && !glob_match(text, size, text, size, false))
		abort();
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
