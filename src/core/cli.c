#include "core/cli.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

int cli_parse_long(const char *s, long min, long max, long *out)
{
	if (!s || !*s || strspn(s, "-0123456789") != strlen(s))
		return ERR_PARSE;
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return ERR_PARSE;
	*out = v;
	return 0;
}

int cli_parse_ms(const char *s, uint64_t *out_ms)
{
	if (!s || !*s)
		return ERR_PARSE;
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 9)
		return ERR_PARSE;
	uint64_t v = strtoull(s, NULL, 10);
	const char *unit = s + digits;
	if (*unit == '\0' || strcmp(unit, "ms") == 0)
		;
	else if (strcmp(unit, "s") == 0)
		v *= 1000;
	else if (strcmp(unit, "m") == 0)
		v *= 60000;
	else
		return ERR_PARSE;
	if (v < 1 || v > 86400000)
		return ERR_PARSE;
	*out_ms = v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return ERR_PARSE;
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 12)
		return ERR_PARSE;
	uint64_t v = strtoull(s, NULL, 10);
	const char *unit = s + digits;
	int shift = 0;
	if (*unit == 'k' || *unit == 'K')
		shift = 10;
	else if (*unit == 'm' || *unit == 'M')
		shift = 20;
	else if (*unit == 'g' || *unit == 'G')
		shift = 30;
	else if (*unit)
		return ERR_PARSE;
	if (*unit && unit[1] && strcmp(unit + 1, "b") != 0 && strcmp(unit + 1, "B") != 0)
		return ERR_PARSE;
	if (v > (UINT64_MAX >> shift))
		return ERR_PARSE;
	*out = v << shift;
	return 0;
}

void cli_fail(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "strata %s: %s\n", cmd, msg);
	exit(CLI_EXIT_USAGE);
}

void cli_option_fail(const char *cmd, const char *help, int ch, char *const *argv)
{
	if (ch == ':')
		cli_fail(cmd, "%s needs a value", argv[optind - 1]);
	cli_fail(cmd, "unknown option '%s' (see strata %s --help)", argv[optind - 1], help);
}

int cli_parse_utc(const char *s, uint64_t *out_ms)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%Y-%m-%d", &tm);
	if (!rest)
		return ERR_PARSE;
	long ms = 0;
	if (*rest == 'T') {
		rest = strptime(rest + 1, "%H:%M:%S", &tm);
		if (!rest)
			return ERR_PARSE;
		if (*rest == '.') {
			int digits = 0;
			for (rest++; *rest >= '0' && *rest <= '9' && digits < 3; rest++, digits++)
				ms = ms * 10 + (*rest - '0');
			if (digits != 3)
				return ERR_PARSE;
		}
		if (*rest++ != 'Z')
			return ERR_PARSE;
	}
	if (*rest)
		return ERR_PARSE;
	time_t t = timegm(&tm);
	if (t < 0)
		return ERR_PARSE;
	*out_ms = (uint64_t)t * 1000 + (uint64_t)ms;
	return 0;
}

struct ini_state {
	const char *section;
	cli_set_fn set;
	void *arg;
	char err[256];
};

static int on_ini(void *user, const char *section, const char *key, const char *value)
{
	struct ini_state *st = user;
	if (section[0] && strcmp(section, st->section) != 0) {
		snprintf(st->err, sizeof(st->err), "section [%s]: expected [%s] or none", section,
			 st->section);
		return 0;
	}
	return st->set(st->arg, key, value, st->err, sizeof(st->err)) == 0;
}

void cli_settings(const char *cmd, int argc, char **argv, const struct option *longopts,
		  const char *shortopts, const char *usage, const char *section, cli_set_fn set,
		  void *arg)
{
	char err[256];
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			exit(0);
		}
		if (ch == ':' || ch == '?')
			cli_option_fail(cmd, cmd, ch, argv);
		if (ch == 'c') {
			struct ini_state st = { section, set, arg, "" };
			int line = ini_parse(optarg, on_ini, &st);
			if (line < 0)
				cli_fail(cmd, "%s: cannot be read", optarg);
			if (line > 0)
				cli_fail(cmd, "%s:%d: %s", optarg, line,
					 st.err[0] ? st.err : "syntax error (expected key = value)");
			continue;
		}
		const char *key = NULL;
		for (const struct option *o = longopts; o->name; o++)
			if (o->val == ch)
				key = o->name;
		if (set(arg, key, optarg, err, sizeof(err)) < 0)
			cli_fail(cmd, "--%s", err);
	}
	if (optind < argc)
		cli_fail(cmd, "unexpected argument '%s'", argv[optind]);
}
