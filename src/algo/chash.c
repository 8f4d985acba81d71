#include "algo/chash.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "algo/jump.h"
#include "core/err.h"

static const char *const algo_names[] = { "ring", "bounded", "jump", "maglev", "rendezvous" };

int chash_parse_algo(const char *word, enum chash_algo *out)
{
	for (size_t i = 0; i < sizeof(algo_names) / sizeof(algo_names[0]); i++) {
		if (strcmp(word, algo_names[i]) == 0) {
			*out = (enum chash_algo)i;
			return 0;
		}
	}
	return ERR_PARSE;
}

const char *chash_algo_name(enum chash_algo a)
{
	return algo_names[a];
}

int chash_init(struct chash *c, enum chash_algo algo, int vnodes, uint32_t maglev_size)
{
	memset(c, 0, sizeof(*c));
	c->algo = algo;
	c->vnodes = vnodes > 0 ? vnodes : RING_DEFAULT_VNODES;
	c->maglev_size = maglev_size ? maglev_size : MAGLEV_DEFAULT_SIZE;
	if (algo == CHASH_MAGLEV && !maglev_is_prime(c->maglev_size))
		return -EINVAL;
	ring_init(&c->ring, c->vnodes);
	return 0;
}

void chash_free(struct chash *c)
{
	ring_free(&c->ring);
	maglev_free(&c->maglev);
	free(c->nodes);
	c->nodes = NULL;
	c->nnodes = c->cap = c->live = 0;
}

/* Maglev's table is rebuilt from the live nodes; slots hold node ids. */
static int rebuild_maglev(struct chash *c)
{
	const char **names = malloc((size_t)(c->live ? c->live : 1) * sizeof(*names));
	int *weights = malloc((size_t)(c->live ? c->live : 1) * sizeof(*weights));
	int *ids = malloc((size_t)(c->live ? c->live : 1) * sizeof(*ids));
	int rc = -ENOMEM;
	if (names && weights && ids) {
		int n = 0;
		for (int i = 0; i < c->nnodes; i++) {
			if (!c->nodes[i].live)
				continue;
			names[n] = c->nodes[i].name;
			weights[n] = c->nodes[i].weight;
			ids[n++] = i;
		}
		rc = maglev_build(&c->maglev, c->maglev_size, names, weights, n);
		for (uint32_t s = 0; rc == 0 && c->maglev.table && s < c->maglev.size; s++)
			c->maglev.table[s] = ids[c->maglev.table[s]];
	}
	free(names);
	free(weights);
	free(ids);
	return rc;
}

int chash_add(struct chash *c, const char *name, int weight)
{
	size_t len = strlen(name);
	if (len == 0 || len >= CHASH_NAME_MAX || weight < 1 || weight > 1024 ||
	    (c->algo == CHASH_JUMP && weight != 1))
		return -EINVAL;
	for (int i = 0; i < c->nnodes; i++)
		if (c->nodes[i].live && strcmp(c->nodes[i].name, name) == 0)
			return -EINVAL;
	if (c->nnodes == c->cap) {
		int cap = c->cap ? c->cap * 2 : 16;
		struct chash_node *nodes = realloc(c->nodes, (size_t)cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		c->nodes = nodes;
		c->cap = cap;
	}
	int id = c->nnodes;
	struct chash_node *n = &c->nodes[id];
	memset(n, 0, sizeof(*n));
	memcpy(n->name, name, len + 1);
	n->weight = weight;
	n->live = true;
	n->seed = XXH64(name, len, 0);
	c->nnodes++;
	c->live++;
	int rc = 0;
	if (c->algo == CHASH_RING || c->algo == CHASH_BOUNDED)
		rc = ring_add(&c->ring, (uint32_t)id, name, weight);
	else if (c->algo == CHASH_MAGLEV)
		rc = rebuild_maglev(c);
	if (rc < 0) {
		c->nnodes--;
		c->live--;
		return rc;
	}
	return id;
}

int chash_remove(struct chash *c, int id)
{
	if (id < 0 || id >= c->nnodes || !c->nodes[id].live)
		return -EINVAL;
	if (c->algo == CHASH_JUMP) {
		/* Jump's buckets are ids 0..live-1: only the last one can go, and
		 * its id is freed so the live ids stay a prefix. */
		if (id != c->nnodes - 1)
			return -EINVAL;
		c->nnodes--;
	}
	c->nodes[id].live = false;
	c->live--;
	if (c->algo == CHASH_RING || c->algo == CHASH_BOUNDED)
		ring_remove(&c->ring, (uint32_t)id);
	else if (c->algo == CHASH_MAGLEV)
		return rebuild_maglev(c);
	return 0;
}

static int rendezvous(const struct chash *c, uint64_t hash)
{
	int best = -1;
	double best_score = 0;
	for (int i = 0; i < c->nnodes; i++) {
		const struct chash_node *n = &c->nodes[i];
		if (!n->live)
			continue;
		/* Logarithmic method: -w / ln(u), u uniform in (0,1), is maximised
		 * by node i with probability w_i / sum(w). */
		uint64_t h = XXH64(&hash, sizeof(hash), n->seed);
		double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0;  /* 2^53 */
		double score = -(double)n->weight / log(u);
		if (best < 0 || score > best_score) {
			best = i;
			best_score = score;
		}
	}
	return best;
}

int chash_lookup(const struct chash *c, uint64_t hash)
{
	if (c->live == 0)
		return -1;
	switch (c->algo) {
	case CHASH_RING:
	case CHASH_BOUNDED:
		return (int)ring_lookup(&c->ring, hash, NULL, NULL);
	case CHASH_JUMP:
		return jump_hash(hash, c->live);
	case CHASH_MAGLEV:
		return maglev_lookup(&c->maglev, hash);
	case CHASH_RENDEZVOUS:
		return rendezvous(c, hash);
	}
	return -1;
}

struct bounded_filter {
	const struct chash *c;
	uint64_t capacity;
};

static bool below_capacity(void *arg, uint32_t node)
{
	const struct bounded_filter *f = arg;
	return f->c->nodes[node].load < f->capacity;
}

int chash_assign(struct chash *c, uint64_t hash, uint64_t capacity)
{
	int id;
	if (c->algo == CHASH_BOUNDED) {
		struct bounded_filter f = { c, capacity };
		id = (int)ring_lookup(&c->ring, hash, below_capacity, &f);
	} else {
		id = chash_lookup(c, hash);
	}
	if (id >= 0)
		c->nodes[id].load++;
	return id;
}

void chash_reset_loads(struct chash *c)
{
	for (int i = 0; i < c->nnodes; i++)
		c->nodes[i].load = 0;
}

size_t chash_memory(const struct chash *c)
{
	size_t bytes = sizeof(*c) + (size_t)c->cap * sizeof(*c->nodes);
	if (c->algo == CHASH_RING || c->algo == CHASH_BOUNDED)
		bytes += ring_memory(&c->ring);
	if (c->algo == CHASH_MAGLEV && c->maglev.table)
		bytes += c->maglev.size * sizeof(*c->maglev.table);
	return bytes;
}
