#include "core/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

static const double hist_bounds[METRICS_HIST_BOUNDS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 10,
};

struct collector {
	struct collector *next;
	metrics_collect_fn fn;
	void *arg;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct collector *registry;

double metrics_hist_bound(int i)
{
	return hist_bounds[i];
}

void metrics_hist_observe(struct metrics_hist *h, uint64_t us)
{
	int i = 0;
	while (i < METRICS_HIST_BOUNDS && (double)us > hist_bounds[i] * 1e6)
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

int metrics_register(metrics_collect_fn fn, void *arg)
{
	struct collector *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	c->next = NULL;
	pthread_mutex_lock(&registry_lock);
	struct collector **pp = &registry;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	pthread_mutex_unlock(&registry_lock);
	return 0;
}

void metrics_unregister(metrics_collect_fn fn, void *arg)
{
	pthread_mutex_lock(&registry_lock);
	for (struct collector **pp = &registry; *pp; pp = &(*pp)->next) {
		if ((*pp)->fn == fn && (*pp)->arg == arg) {
			struct collector *c = *pp;
			*pp = c->next;
			free(c);
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
}

void metrics_render(struct buf *out)
{
	pthread_mutex_lock(&registry_lock);
	for (struct collector *c = registry; c; c = c->next)
		c->fn(out, c->arg);
	pthread_mutex_unlock(&registry_lock);
}

void metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(struct buf *out, const char *name, const char *labels, uint64_t value)
{
	if (labels[0])
		buf_printf(out, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
	else
		buf_printf(out, "%s %llu\n", name, (unsigned long long)value);
}

void metrics_sample_f(struct buf *out, const char *name, const char *labels, double value)
{
	if (labels[0])
		buf_printf(out, "%s{%s} %.6g\n", name, labels, value);
	else
		buf_printf(out, "%s %.6g\n", name, value);
}

void metrics_hist_write(struct buf *out, const char *name, const char *labels,
			const struct metrics_hist *h)
{
	const char *sep = labels[0] ? "," : "";
	uint64_t cumulative = 0;
	for (int i = 0; i <= METRICS_HIST_BOUNDS; i++) {
		cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
		if (i < METRICS_HIST_BOUNDS)
			buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
				   hist_bounds[i], (unsigned long long)cumulative);
		else
			buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				   (unsigned long long)cumulative);
	}
	uint64_t sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
	if (labels[0]) {
		buf_printf(out, "%s_sum{%s} %.6f\n", name, labels, (double)sum_us / 1e6);
		buf_printf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
	} else {
		buf_printf(out, "%s_sum %.6f\n", name, (double)sum_us / 1e6);
		buf_printf(out, "%s_count %llu\n", name, (unsigned long long)count);
	}
}

void metrics_label_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_append(out, "\\", 1);
		if (*s == '\n') {
			buf_puts(out, "\\n");
			continue;
		}
		buf_append(out, s, 1);
	}
}
