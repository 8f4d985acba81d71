#include "algo/timeid.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef unsigned __int128 u128;

struct tid_gen {
	pthread_mutex_t lock;
	enum tid_kind kind;
	unsigned bits;                   /* random bits after the time: 74 or 80 */
	sf_clock_fn clock;
	void *arg;
	uint64_t last_ms;
	u128 last_rand;
	uint8_t pool[4096];              /* random bytes, refilled when used up */
	size_t pool_left;
};

int tid_create(enum tid_kind kind, sf_clock_fn clock, void *arg, struct tid_gen **out)
{
	struct tid_gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	g->kind = kind;
	g->bits = kind == TID_UUID7 ? 74 : 80;
	g->clock = clock ? clock : sf_real_clock;
	g->arg = arg;
	*out = g;
	return 0;
}

void tid_destroy(struct tid_gen *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static int random_bits(struct tid_gen *g, u128 *out)
{
	if (g->pool_left < 16) {
		size_t got = 0;
		while (got < sizeof(g->pool)) {
			ssize_t n = getrandom(g->pool + got, sizeof(g->pool) - got, 0);
			if (n < 0 && errno != EINTR)
				return -EIO;
			if (n > 0)
				got += (size_t)n;
		}
		g->pool_left = sizeof(g->pool);
	}
	memcpy(out, g->pool + sizeof(g->pool) - g->pool_left, 16);
	g->pool_left -= 16;
	*out &= ((u128)1 << g->bits) - 1;
	return 0;
}

int tid_next(struct tid_gen *g, uint8_t out[16])
{
	pthread_mutex_lock(&g->lock);
	uint64_t ms = g->clock(g->arg) & ((1ULL << 48) - 1);
	u128 r, max = ((u128)1 << g->bits) - 1;
	int rc = 0;
	if (ms > g->last_ms) {
		rc = random_bits(g, &r);
	} else if (g->last_rand < max) {
		ms = g->last_ms;         /* same millisecond, or the clock went back */
		r = g->last_rand + 1;
	} else {
		ms = g->last_ms + 1;     /* the counter is used up: the next millisecond */
		rc = random_bits(g, &r);
	}
	if (rc == 0) {
		g->last_ms = ms;
		g->last_rand = r;
	}
	pthread_mutex_unlock(&g->lock);
	if (rc < 0)
		return rc;
	u128 v;
	if (g->kind == TID_ULID) {
		v = (u128)ms << 80 | r;
	} else {
		u128 rand_a = r >> 62, rand_b = r & (((u128)1 << 62) - 1);
		v = (u128)ms << 80 | (u128)7 << 76 | rand_a << 64 | (u128)2 << 62 | rand_b;
	}
	for (int i = 15; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
	return 0;
}

size_t tid_format(enum tid_kind kind, const uint8_t id[16], char *out)
{
	if (kind == TID_UUID7) {
		static const char hex[] = "0123456789abcdef";
		size_t n = 0;
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				out[n++] = '-';
			out[n++] = hex[id[i] >> 4];
			out[n++] = hex[id[i] & 15];
		}
		out[n] = '\0';
		return n;
	}
	static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	u128 v = 0;
	for (int i = 0; i < 16; i++)
		v = v << 8 | id[i];
	/* 26 characters of 5 bits hold 130: the first carries the top 3. */
	for (int i = TID_ULID_LEN - 1; i >= 0; i--) {
		out[i] = crockford[v & 31];
		v >>= 5;
	}
	out[TID_ULID_LEN] = '\0';
	return TID_ULID_LEN;
}

uint64_t tid_unix_ms(const uint8_t id[16])
{
	uint64_t ms = 0;
	for (int i = 0; i < 6; i++)
		ms = ms << 8 | id[i];
	return ms;
}
