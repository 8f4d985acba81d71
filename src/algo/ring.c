#include "algo/ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void ring_init(struct ring *r, int vnodes)
{
	memset(r, 0, sizeof(*r));
	r->vnodes = vnodes > 0 ? vnodes : RING_DEFAULT_VNODES;
}

void ring_free(struct ring *r)
{
	free(r->points);
	free(r->index);
	r->points = NULL;
	r->index = NULL;
	r->index_bits = 0;
	r->npoints = r->cap = 0;
}

static void fill_index(struct ring *r)
{
	size_t p = 0, buckets = (size_t)1 << r->index_bits;
	for (size_t b = 0; b < buckets; b++) {
		while (p < r->npoints && (r->points[p].hash >> (64 - r->index_bits)) < b)
			p++;
		r->index[b] = (uint32_t)p;
	}
	r->index[buckets] = (uint32_t)r->npoints;
}

/* Size the top-bits index to the points and refill it. An index of any
 * size is correct, so a failed resize keeps the old one: this fails only
 * when there is no index yet. */
static int reindex(struct ring *r)
{
	int bits = 1;
	while (bits < RING_INDEX_MAX_BITS && ((size_t)1 << bits) < r->npoints)
		bits++;
	if (bits != r->index_bits || !r->index) {
		uint32_t *index = realloc(r->index, (((size_t)1 << bits) + 1) * sizeof(*index));
		if (index) {
			r->index = index;
			r->index_bits = bits;
		} else if (!r->index) {
			return -ENOMEM;
		}
	}
	fill_index(r);
	return 0;
}

size_t ring_memory(const struct ring *r)
{
	return r->cap * sizeof(*r->points) +
	       (r->index ? (((size_t)1 << r->index_bits) + 1) * sizeof(*r->index) : 0);
}

uint64_t ring_hash(const void *data, size_t len)
{
	return XXH64(data, len, 0);
}

static int cmp_point(const void *a, const void *b)
{
	const struct ring_point *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

int ring_add(struct ring *r, uint32_t node, const char *key, int weight)
{
	if (weight < 1 || weight > 1024)
		return -EINVAL;
	size_t add = (size_t)r->vnodes * (size_t)weight;
	if (r->npoints + add > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap < r->npoints + add)
			cap *= 2;
		struct ring_point *p = realloc(r->points, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->points = p;
		r->cap = cap;
	}
	char buf[320];
	for (size_t i = 0; i < add; i++) {
		int n = snprintf(buf, sizeof(buf), "%s#%zu", key, i);
		struct ring_point *pt = &r->points[r->npoints++];
		pt->hash = ring_hash(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
		pt->node = node;
	}
	qsort(r->points, r->npoints, sizeof(*r->points), cmp_point);
	return reindex(r);
}

void ring_remove(struct ring *r, uint32_t node)
{
	size_t j = 0;
	for (size_t i = 0; i < r->npoints; i++)
		if (r->points[i].node != node)
			r->points[j++] = r->points[i];
	r->npoints = j;
	if (r->index)
		reindex(r);  /* cannot fail once an index exists */
}

static size_t first_point(const struct ring *r, uint64_t hash)
{
	size_t b = (size_t)(hash >> (64 - r->index_bits));
	size_t lo = r->index[b], hi = r->index[b + 1];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->points[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int64_t ring_lookup(const struct ring *r, uint64_t hash,
		    bool (*accept)(void *arg, uint32_t node), void *arg)
{
	if (r->npoints == 0)
		return -1;
	size_t lo = first_point(r, hash);
	for (size_t k = 0; k < r->npoints; k++) {
		const struct ring_point *p = &r->points[(lo + k) % r->npoints];
		if (!accept || accept(arg, p->node))
			return p->node;
	}
	return -1;
}

size_t ring_preference(const struct ring *r, uint64_t hash, size_t n, uint32_t *out,
		       int (*zone)(void *arg, uint32_t node), void *arg)
{
	size_t got = 0;
	if (r->npoints == 0 || n == 0)
		return 0;
	size_t start = first_point(r, hash);
	int zones[64];
	size_t nzones = 0;
	for (size_t k = 0; k < r->npoints && got < n; k++) {
		uint32_t node = r->points[(start + k) % r->npoints].node;
		bool taken = false;
		for (size_t i = 0; i < got && !taken; i++)
			taken = out[i] == node;
		if (!taken && zone) {
			int z = zone(arg, node);
			for (size_t i = 0; i < nzones && !taken; i++)
				taken = zones[i] == z;
			if (!taken && nzones < sizeof(zones) / sizeof(zones[0]))
				zones[nzones++] = z;
		}
		if (!taken)
			out[got++] = node;
	}
	return got;
}
