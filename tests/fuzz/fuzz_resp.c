/* libFuzzer target: the RESP command parser on arbitrary bytes. Checks
 * invariants: arguments inside the consumed bytes, a verdict that does not
 * change when the input arrives in two pieces, and every command of a
 * pipelined buffer parsed in turn. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/resp.h"

static struct resp_command cmd, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0;
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
