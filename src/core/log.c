#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

static enum log_level log_level = LOG_INFO;
static enum log_format log_format = LOG_TEXT;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(enum log_level level, enum log_format format)
{
	log_level = level;
	log_format = format;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return ERR_PARSE;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_JSON;
	else
		return ERR_PARSE;
	return 0;
}

/* Append `s` to `out` as JSON string content; returns the new length. */
static size_t json_escape(char *out, size_t len, size_t cap, const char *s)
{
	for (; *s && len + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[len++] = '\\';
			out[len++] = (char)c;
		} else if (c < 0x20) {
			len += (size_t)snprintf(out + len, cap - len, "\\u%04x", c);
		} else {
			out[len++] = (char)c;
		}
	}
	return len;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_level)
		return;

	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char ts[40];
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	char line[2300];
	size_t len;
	if (log_format == LOG_JSON) {
		len = (size_t)snprintf(line, sizeof(line),
				       "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"",
				       ts, level_names[level]);
		len = json_escape(line, len, sizeof(line) - 4, msg);
		memcpy(line + len, "\"}\n", 3);
		len += 3;
	} else {
		len = (size_t)snprintf(line, sizeof(line), "%s %-5s %s\n",
				       ts, level_names[level], msg);
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
	}
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
