/* libFuzzer target: the lmdb engine's write-ahead log records on arbitrary
 * bytes (kvlog_apply, what a replay at start runs over the file). Checks
 * invariants: the records applied end inside the input, at a boundary that
 * replays the same way on its own, and the store's keys and memory agree
 * with what was applied. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kvlog.h"
#include "kv/kvstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kv_store a, b;
	kvstore_init(&a, 1);
	kvstore_init(&b, 2);
	kvstore_clock(&a, 1700000000000LL);
	kvstore_clock(&b, 1700000000000LL);
	size_t used, again;
	long n = kvlog_apply((const char *)data, size, &a, &used);
	if (n >= 0) {
		if (used > size)
			abort();
		long m = kvlog_apply((const char *)data, used, &b, &again);
		if (m != n || again != used || kvstore_keys(&a) != kvstore_keys(&b) ||
		    kvstore_used(&a) - kvdict_bytes(&a.dict) != kvstore_used(&b) - kvdict_bytes(&b.dict))
			abort();
		if (n == 0 && used != 0)
			abort();
	}
	kvstore_free(&a);
	kvstore_free(&b);
	return 0;
}
