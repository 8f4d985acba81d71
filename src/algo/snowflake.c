#include "algo/snowflake.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"

struct sf_gen {
	_Atomic uint64_t state;          /* last ID's (time << seq_bits) | sequence */
	struct sf_layout l;
	uint64_t dc, worker, tolerance_ms;
	uint64_t seq_mask, time_max;
	sf_clock_fn clock;
	sf_sleep_fn sleep;
	void *arg;
	_Atomic uint64_t behind_ms;
	_Atomic uint64_t ceiling;        /* time (since the epoch) IDs stay below */
};

uint64_t sf_real_clock(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 0 ms: the caller spins on the clock (waiting for the next millisecond). */
static void real_sleep(void *arg, uint64_t ms)
{
	(void)arg;
	if (ms == 0)
		return;
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int sf_layout_check(const struct sf_layout *l, char *err, size_t errlen)
{
	/* Each width first: a huge one would wrap the sum around to 63. */
	if (l->time_bits > 63 || l->dc_bits > 63 || l->worker_bits > 63 || l->seq_bits > 63 ||
	    l->time_bits + l->dc_bits + l->worker_bits + l->seq_bits != 63) {
		snprintf(err, errlen, "the bit widths %u/%u/%u/%u must add up to 63", l->time_bits,
			 l->dc_bits, l->worker_bits, l->seq_bits);
		return ERR_CONFIG;
	}
	if (l->time_bits < 30 || l->seq_bits < 1) {
		snprintf(err, errlen, "the layout needs at least 30 time bits and 1 sequence bit");
		return ERR_CONFIG;
	}
	return 0;
}

uint64_t sf_max_per_ms(const struct sf_layout *l)
{
	return 1ULL << l->seq_bits;
}

int sf_create(const struct sf_config *c, struct sf_gen **out)
{
	char why[96];
	const struct sf_layout *l = &c->layout;
	if (sf_layout_check(l, why, sizeof(why)) < 0 || c->datacenter >> l->dc_bits ||
	    c->worker >> l->worker_bits)
		return ERR_CONFIG;
	struct sf_gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->l = *l;
	g->dc = c->datacenter;
	g->worker = c->worker;
	g->tolerance_ms = c->tolerance_ms;
	g->seq_mask = (1ULL << l->seq_bits) - 1;
	g->time_max = (1ULL << l->time_bits) - 1;
	g->clock = c->clock ? c->clock : sf_real_clock;
	g->sleep = c->sleep ? c->sleep : real_sleep;
	g->arg = c->arg;
	/* The floor's millisecond counts as used up: IDs start after it. */
	uint64_t floor = c->floor_ms > l->epoch_ms ? c->floor_ms - l->epoch_ms : 0;
	atomic_init(&g->state, (floor << l->seq_bits) | g->seq_mask);
	atomic_init(&g->ceiling, UINT64_MAX);
	*out = g;
	return 0;
}

void sf_destroy(struct sf_gen *g)
{
	free(g);
}

static uint64_t compose(const struct sf_gen *g, uint64_t st)
{
	const struct sf_layout *l = &g->l;
	return (st >> l->seq_bits) << (l->dc_bits + l->worker_bits + l->seq_bits) |
	       g->dc << (l->worker_bits + l->seq_bits) | g->worker << l->seq_bits |
	       (st & g->seq_mask);
}

int sf_next(struct sf_gen *g, uint64_t *id)
{
	unsigned seq_bits = g->l.seq_bits;
	uint64_t st = atomic_load_explicit(&g->state, memory_order_acquire);
	for (;;) {
		uint64_t last = st >> seq_bits, now = g->clock(g->arg);
		if (now < g->l.epoch_ms) {
			atomic_store_explicit(&g->behind_ms, g->l.epoch_ms - now, memory_order_relaxed);
			return ERR_CLOCK;
		}
		uint64_t ts = now - g->l.epoch_ms, next;
		if (ts > g->time_max)
			return ERR_LIMIT;
		if (ts > last) {
			next = ts << seq_bits;
		} else if (ts == last && (st & g->seq_mask) < g->seq_mask) {
			next = st + 1;
		} else if (ts == last) {
			g->sleep(g->arg, 0);  /* this millisecond is used up: the next one */
			st = atomic_load_explicit(&g->state, memory_order_acquire);
			continue;
		} else if (last - ts <= g->tolerance_ms) {
			g->sleep(g->arg, last - ts);  /* a small step back: wait it out */
			st = atomic_load_explicit(&g->state, memory_order_acquire);
			continue;
		} else {
			atomic_store_explicit(&g->behind_ms, last - ts, memory_order_relaxed);
			return ERR_CLOCK;
		}
		if (next >> seq_bits >= atomic_load_explicit(&g->ceiling, memory_order_acquire))
			return ERR_LEASE;
		if (atomic_compare_exchange_weak_explicit(&g->state, &st, next, memory_order_acq_rel,
							  memory_order_acquire)) {
			*id = compose(g, next);
			return 0;
		}
	}
}

void sf_set_ceiling(struct sf_gen *g, uint64_t ms)
{
	uint64_t t = ms == UINT64_MAX ? UINT64_MAX : ms > g->l.epoch_ms ? ms - g->l.epoch_ms : 0;
	atomic_store_explicit(&g->ceiling, t, memory_order_release);
}

uint64_t sf_last_ms(const struct sf_gen *g)
{
	uint64_t st = atomic_load_explicit(&((struct sf_gen *)g)->state, memory_order_acquire);
	return (st >> g->l.seq_bits) + g->l.epoch_ms;
}

uint64_t sf_behind_ms(const struct sf_gen *g)
{
	return atomic_load_explicit(&((struct sf_gen *)g)->behind_ms, memory_order_relaxed);
}

void sf_parse(const struct sf_layout *l, uint64_t id, struct sf_parts *out)
{
	unsigned wshift = l->seq_bits, dshift = wshift + l->worker_bits,
		 tshift = dshift + l->dc_bits;
	out->sequence = id & ((1ULL << l->seq_bits) - 1);
	out->worker = (id >> wshift) & ((1ULL << l->worker_bits) - 1);
	out->datacenter = (id >> dshift) & ((1ULL << l->dc_bits) - 1);
	out->unix_ms = (id >> tshift) + l->epoch_ms;
}
