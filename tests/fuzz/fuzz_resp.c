/* libFuzzer target: the RESP command and reply parsers on arbitrary bytes.
 * Checks invariants: arguments and values inside the consumed bytes, a
 * verdict that does not change when the input arrives in two pieces, every
 * command of a pipelined buffer parsed in turn, and a reply's values forming
 * one tree (each array's elements inside its span). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/resp.h"

static struct resp_command cmd, again;
static struct resp_reply reply, reply2;

static void check_reply(const char *buf, size_t size)
{
	int rc = resp_parse_reply(buf, size, 1 << 20, &reply);
	if (rc != 0) {
		if (rc != ERR_AGAIN && rc != ERR_PARSE && rc != ERR_LIMIT)
			abort();
		return;
	}
	if (reply.used == 0 || reply.used > size || reply.n == 0 || reply.v[0].span != reply.n)
		abort();
	for (size_t i = 0; i < reply.n; i++) {
		const struct resp_value *v = &reply.v[i];
		if (v->span == 0 || i + v->span > reply.n)
			abort();
		if (v->p && (v->p < buf || v->p + v->len > buf + reply.used))
			abort();
		if (v->type == RESP_ARRAY) {
			/* Its elements, walked by span, end exactly at its span. */
			size_t k = 0, at = i + 1;
			while (resp_value_at(v, k)) {
				at += resp_value_at(v, k)->span;
				k++;
			}
			if (k != (size_t)v->i || at != i + v->span)
				abort();
		}
	}
	/* Any shorter prefix is incomplete. */
	if (resp_parse_reply(buf, reply.used - 1, 1 << 20, &reply2) == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0;
	check_reply(buf, size);
	for (int n = 0; n < 64 && off < size; n++) {
		int rc = resp_parse(buf + off, size - off, 512 * 1024 * 1024, &cmd);
		if (rc == ERR_AGAIN)
			break;
		if (rc == ERR_PARSE) {
			if (!cmd.error || strncmp(cmd.error, "ERR Protocol error: ", 20) != 0)
				abort();
			break;
		}
		if (rc != 0 || cmd.used == 0 || cmd.used > size - off || cmd.argc > RESP_MAX_ARGS)
			abort();
		for (size_t i = 0; i < cmd.argc; i++)
			if (cmd.args[i].p < buf + off ||
			    cmd.args[i].p + cmd.args[i].len > buf + off + cmd.used)
				abort();
		/* Any shorter prefix is incomplete, never a different command. */
		size_t cut = cmd.used / 2;
		int rc2 = resp_parse(buf + off, cut, 512 * 1024 * 1024, &again);
		if (rc2 == 0 && again.used > cut)
			abort();
		if (rc2 == 0 && buf[off] == '*')
			abort();  /* a multibulk command is complete only at its end */
		off += cmd.used;
	}
	return 0;
}
