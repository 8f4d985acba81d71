#include "core/cli.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
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
	/* A long option is the argument before optind; a short one is named by
	 * optopt, since inside a group (-xl) optind does not point past it yet. */
	const char *last = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, '\0' };
	bool was_long = strncmp(last, "--", 2) == 0 && (ch == ':' || !optopt);
	const char *name = was_long || !optopt ? last : shortopt;
	if (ch == ':')
		cli_fail(cmd, "%s needs a value", name);
	cli_fail(cmd, "unknown option '%s' (see strata %s --help)", name, help);
}

int cli_parse_utc(const char *s, uint64_t *out_ms)
{
	/* Exact widths: strptime takes "2024-1-1" and spaces, timegm rolls
	 * "02-31" over to March - both refused by reading the fields as fixed
	 * digits and checking the date survives the round trip. */
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
	size_t len = strlen(s);
	if (len < 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return ERR_PARSE;
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : s[i] < '0' || s[i] > '9')
			return ERR_PARSE;
	if (len > 10) {
		const char *t = s + 10;
		bool frac = len == 24;
		if ((len != 20 && len != 24) || t[0] != 'T' || s[len - 1] != 'Z' ||
		    (frac && t[9] != '.'))
			return ERR_PARSE;
		for (int i = 1; i < (frac ? 13 : 9); i++)
			if (i == 3 || i == 6 ? t[i] != ':' : i == 9 ? false : t[i] < '0' || t[i] > '9')
				return ERR_PARSE;
		h = (t[1] - '0') * 10 + (t[2] - '0');
		mi = (t[4] - '0') * 10 + (t[5] - '0');
		sec = (t[7] - '0') * 10 + (t[8] - '0');
		if (frac)
			ms = (t[10] - '0') * 100 + (t[11] - '0') * 10 + (t[12] - '0');
	}
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	time_t t = timegm(&tm);
	struct tm back;
	if (t < 0 || !gmtime_r(&t, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d || back.tm_hour != h || back.tm_min != mi || back.tm_sec != sec)
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
		for (const struct option *o = longopts; o->name && !key; o++)
			if (o->val == ch)
				key = o->name;
		if (!key)
			cli_fail(cmd, "option -%c has no setting", ch);  /* a mistake in longopts */
		if (set(arg, key, optarg, err, sizeof(err)) < 0)
			cli_fail(cmd, "--%s", err);
	}
	if (optind < argc)
		cli_fail(cmd, "unexpected argument '%s'", argv[optind]);
}
