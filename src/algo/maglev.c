#include "algo/maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int maglev_is_prime(uint32_t n)
{
	if (n < 2)
		return 0;
	for (uint32_t d = 2; (uint64_t)d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

void maglev_free(struct maglev *m)
{
	free(m->table);
	m->table = NULL;
}

int maglev_build(struct maglev *m, uint32_t size, const char *const *names,
		 const int *weights, int n)
{
	if (!maglev_is_prime(size) || n < 0)
		return -EINVAL;
	maglev_free(m);
	m->size = size;
	if (n == 0)
		return 0;
	int32_t *table = malloc(size * sizeof(*table));
	uint64_t *offset = malloc((size_t)n * sizeof(*offset));
	uint64_t *skip = malloc((size_t)n * sizeof(*skip));
	uint64_t *next = calloc((size_t)n, sizeof(*next));
	if (!table || !offset || !skip || !next) {
		free(table);
		free(offset);
		free(skip);
		free(next);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		offset[i] = XXH64(names[i], len, 0xA5A5) % size;
		skip[i] = XXH64(names[i], len, 0x5A5A) % (size - 1) + 1;
	}
	memset(table, 0xff, size * sizeof(*table));  /* -1: free */
	uint32_t filled = 0;
	while (filled < size) {
		for (int i = 0; i < n && filled < size; i++) {
			int turns = weights ? weights[i] : 1;
			for (int t = 0; t < turns && filled < size; t++) {
				uint64_t slot;
				do {
					slot = (offset[i] + next[i] * skip[i]) % size;
					next[i]++;
				} while (table[slot] >= 0);
				table[slot] = i;
				filled++;
			}
		}
	}
	free(offset);
	free(skip);
	free(next);
	m->table = table;
	return 0;
}
