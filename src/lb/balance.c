#include "lb/balance.h"

#include <math.h>

#include "core/rng.h"
#include "lb/server.h"

static bool candidate(const struct lb_server *s, struct lb_server *const *tried, int ntried)
{
	if (!server_is_up(s))
		return false;
	for (int i = 0; i < ntried; i++)
		if (tried[i] == s)
			return false;
	return true;
}

uint64_t balance_random(struct lb_worker *w)
{
	return rng_next(&w->rng);
}

static int64_t active(const struct lb_server *s)
{
	return atomic_load_explicit(&s->active, memory_order_relaxed);
}

/* Is a less loaded than b per unit of weight? (a.active+1)/a.w < (b.active+1)/b.w */
static bool less_loaded(const struct lb_server *a, const struct lb_server *b)
{
	return (active(a) + 1) * b->conf.weight < (active(b) + 1) * a->conf.weight;
}

static struct lb_server *pick_roundrobin(struct lb_pool *p, struct lb_server *const *tried, int ntried)
{
	int best = -1, total = 0;
	pthread_mutex_lock(&p->rr_lock);
	for (int i = 0; i < p->nservers; i++) {
		if (!candidate(p->servers[i], tried, ntried))
			continue;
		p->rr_current[i] += p->servers[i]->conf.weight;
		total += p->servers[i]->conf.weight;
		if (best < 0 || p->rr_current[i] > p->rr_current[best])
			best = i;
	}
	if (best >= 0)
		p->rr_current[best] -= total;
	pthread_mutex_unlock(&p->rr_lock);
	return best >= 0 ? p->servers[best] : NULL;
}

static struct lb_server *pick_leastconn(struct lb_pool *p, struct lb_worker *w,
					struct lb_server *const *tried, int ntried)
{
	struct lb_server *best = NULL;
	int start = (int)(balance_random(w) % (uint64_t)p->nservers);
	for (int k = 0; k < p->nservers; k++) {
		struct lb_server *s = p->servers[(start + k) % p->nservers];
		if (candidate(s, tried, ntried) && (!best || less_loaded(s, best)))
			best = s;
	}
	return best;
}

static double time_score(const struct lb_server *s)
{
	uint64_t ewma = atomic_load_explicit(&s->ewma_us, memory_order_relaxed);
	return (double)(ewma + 1) * (double)(active(s) + 1) / s->conf.weight;
}

static struct lb_server *pick_leasttime(struct lb_pool *p, struct lb_worker *w,
					struct lb_server *const *tried, int ntried)
{
	struct lb_server *best = NULL;
	double best_score = 0;
	int start = (int)(balance_random(w) % (uint64_t)p->nservers);
	for (int k = 0; k < p->nservers; k++) {
		struct lb_server *s = p->servers[(start + k) % p->nservers];
		if (!candidate(s, tried, ntried))
			continue;
		double score = time_score(s);
		if (!best || score < best_score) {
			best = s;
			best_score = score;
		}
	}
	return best;
}

static struct lb_server *pick_random2(struct lb_pool *p, struct lb_worker *w,
				      struct lb_server *const *tried, int ntried)
{
	struct lb_server *cand[CONF_MAX_SERVERS];
	int n = 0;
	for (int i = 0; i < p->nservers; i++)
		if (candidate(p->servers[i], tried, ntried))
			cand[n++] = p->servers[i];
	if (n <= 1)
		return n ? cand[0] : NULL;
	int a = (int)(balance_random(w) % (uint64_t)n);
	int b = (int)(balance_random(w) % (uint64_t)(n - 1));
	if (b >= a)
		b++;
	return less_loaded(cand[b], cand[a]) ? cand[b] : cand[a];
}

struct ring_filter {
	struct lb_pool *pool;
	struct lb_server *const *tried;
	int ntried;
	double per_weight_cap;   /* bounded loads: active < cap x weight; 0 = none */
};

static bool ring_accept(void *arg, uint32_t node)
{
	struct ring_filter *f = arg;
	struct lb_server *s = f->pool->servers[node];
	if (!candidate(s, f->tried, f->ntried))
		return false;
	return f->per_weight_cap == 0 || (double)active(s) < f->per_weight_cap * s->conf.weight;
}

/* Bounded loads (HAProxy's hash-balance-factor): a server takes a new
 * connection only while below factor% of the mean per unit of weight,
 * counting the new connection; a full server's clients spill clockwise. */
static double bounded_cap(struct lb_pool *p, struct lb_server *const *tried, int ntried)
{
	int64_t total = 1;
	int weights = 0;
	for (int i = 0; i < p->nservers; i++) {
		if (!candidate(p->servers[i], tried, ntried))
			continue;
		total += active(p->servers[i]);
		weights += p->servers[i]->conf.weight;
	}
	if (weights == 0)
		return 0;
	return ceil((double)total * p->conf.hash_balance_factor / 100.0 / weights);
}

uint64_t balance_addr_hash(const struct sock_addr *client)
{
	size_t len;
	const void *bytes = sock_addr_bytes(client, &len);
	return ring_hash(bytes, len);
}

static struct lb_server *pick_ring(struct lb_pool *p, uint64_t h,
				   struct lb_server *const *tried, int ntried)
{
	struct ring_filter f = { p, tried, ntried, 0 };
	if (p->conf.hash_balance_factor)
		f.per_weight_cap = bounded_cap(p, tried, ntried);
	int64_t node = ring_lookup(&p->ring, h, ring_accept, &f);
	return node < 0 ? NULL : p->servers[node];
}

struct lb_server *balance_pick(struct lb_pool *p, struct lb_worker *w, const uint64_t *key,
			       struct lb_server *const *tried, int ntried)
{
	switch (p->conf.balance) {
	case BALANCE_ROUNDROBIN: return pick_roundrobin(p, tried, ntried);
	case BALANCE_LEASTCONN:  return pick_leastconn(p, w, tried, ntried);
	case BALANCE_SOURCE:
	case BALANCE_HASH:
		return key ? pick_ring(p, *key, tried, ntried) : pick_roundrobin(p, tried, ntried);
	case BALANCE_LEASTTIME:  return pick_leasttime(p, w, tried, ntried);
	case BALANCE_RANDOM2:    return pick_random2(p, w, tried, ntried);
	}
	return NULL;
}

int balance_ring_build(struct lb_pool *p)
{
	ring_free(&p->ring);
	ring_init(&p->ring, RING_DEFAULT_VNODES);
	for (int i = 0; i < p->nservers; i++) {
		/* Keyed by name, so a server keeps its points when others change. */
		int rc = ring_add(&p->ring, (uint32_t)i, p->servers[i]->conf.name,
				  p->servers[i]->conf.weight);
		if (rc < 0)
			return rc;
	}
	return 0;
}
