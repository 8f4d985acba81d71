/*
 * cli.h - shared pieces of the command line: value parsers for flags and
 * config keys, the one-line usage error (exit code 2), and the flags-or-
 * config-file settings of the daemons (cli_settings).
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stddef.h>
#include <stdint.h>

#define STRATA_VERSION "0.1.0"

/* Exit code of a usage or configuration error, as for every strata command. */
#define CLI_EXIT_USAGE 2

/* cli_parse_long - a whole decimal number in [min, max]; 0 or ERR_PARSE. */
int cli_parse_long(const char *s, long min, long max, long *out);

/*
 * cli_parse_ms - a duration: a number with an optional unit ms, s or m
 * ("250", "250ms", "2s", "1m"), in milliseconds, 1 ms to 1 day.
 * Returns 0 or ERR_PARSE.
 */
int cli_parse_ms(const char *s, uint64_t *out_ms);

/*
 * cli_parse_size - a byte count with an optional unit k, m or g (powers of
 * 1024; "32k", "10m", "1g"; a trailing "b" is allowed). 0 or ERR_PARSE.
 */
int cli_parse_size(const char *s, uint64_t *out);

struct option;

/* Apply one setting: 0, or -1 with a one-line reason ("KEY: ...") in err. */
typedef int (*cli_set_fn)(void *arg, const char *key, const char *value, char *err,
			  size_t errlen);

/*
 * cli_settings - parse a daemon's command line where every long option is a
 * setting named as in its config file: each is applied with set(arg, name,
 * value). `-c FILE` / `--config FILE` reads `key = value` lines (at the top
 * or under [section]) through the same set, in order with the flags. -h
 * prints `usage` and exits 0; any error exits 2 with one line naming the
 * flag or FILE:LINE. `shortopts` maps short flags (their option's val).
 */
void cli_settings(const char *cmd, int argc, char **argv, const struct option *longopts,
		  const char *shortopts, const char *usage, const char *section, cli_set_fn set,
		  void *arg);

/*
 * cli_parse_utc - an ISO 8601 UTC date or time, as YYYY-MM-DD or
 * YYYY-MM-DDTHH:MM:SS[.mmm]Z, into Unix milliseconds. 0, or ERR_PARSE
 * (also before 1970).
 */
int cli_parse_utc(const char *s, uint64_t *out_ms);

/*
 * cli_fail - print "strata CMD: MESSAGE" on one line to stderr and exit
 * with CLI_EXIT_USAGE.
 */
void cli_fail(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/*
 * cli_option_fail - the one-line error, exit 2, for what getopt_long
 * returned as `ch` with optstring starting ':' and opterr 0: ':' (an option
 * lacks its value) or anything else (an unknown option). `help` names the
 * command whose --help lists the options ("lb", "ratelimit serve").
 */
void cli_option_fail(const char *cmd, const char *help, int ch, char *const *argv)
	__attribute__((noreturn));

#endif
