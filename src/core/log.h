/*
 * log.h - leveled logging to stderr, as text or as JSON lines.
 *
 * One line per call, written with a single write(2) so lines from several
 * threads never interleave. Messages above the configured level are dropped
 * before formatting.
 */
#ifndef STRATA_LOG_H
#define STRATA_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT, LOG_JSON };

/* Set the process-wide level and format (not thread-safe: call at start-up). */
void log_setup(enum log_level level, enum log_format format);

/*
 * log_parse_level / log_parse_format - map "error|warn|info|debug" and
 * "text|json" to the enums. Return 0, or ERR_PARSE for an unknown word.
 */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);

/* log_msg - format and emit one line if `level` is enabled. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
