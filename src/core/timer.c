#include "core/timer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static void place(struct timer_heap *h, size_t i, struct timer *t)
{
	h->items[i] = t;
	t->slot = i + 1;
}

/* Heap order: deadline, then arming order. */
static bool before(const struct timer *a, const struct timer *b)
{
	return a->deadline_ms < b->deadline_ms ||
	       (a->deadline_ms == b->deadline_ms && a->seq < b->seq);
}

static void sift_up(struct timer_heap *h, size_t i)
{
	struct timer *t = h->items[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(t, h->items[parent]))
			break;
		place(h, i, h->items[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i)
{
	struct timer *t = h->items[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= h->count)
			break;
		if (child + 1 < h->count && before(h->items[child + 1], h->items[child]))
			child++;
		if (!before(h->items[child], t))
			break;
		place(h, i, h->items[child]);
		i = child;
	}
	place(h, i, t);
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
	if (!t->slot)
		return;
	size_t i = t->slot - 1;
	t->slot = 0;
	struct timer *last = h->items[--h->count];
	if (last == t)
		return;
	place(h, i, last);
	sift_up(h, i);
	sift_down(h, last->slot - 1);
}

int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ms)
{
	if (t->slot) {
		uint64_t old = t->deadline_ms;
		t->deadline_ms = deadline_ms;
		t->seq = ++h->seq;  /* a later key than before unless the deadline moved up */
		if (deadline_ms < old)
			sift_up(h, t->slot - 1);
		else
			sift_down(h, t->slot - 1);
		return 0;
	}
	if (h->count == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct timer **items = realloc(h->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		h->items = items;
		h->cap = cap;
	}
	t->deadline_ms = deadline_ms;
	t->seq = ++h->seq;
	place(h, h->count++, t);
	sift_up(h, h->count - 1);
	return 0;
}

uint64_t timer_next(const struct timer_heap *h)
{
	return h->count ? h->items[0]->deadline_ms : UINT64_MAX;
}

size_t timer_expire(struct timer_heap *h, uint64_t now_ms)
{
	size_t ran = 0;
	uint64_t last = h->seq;
	while (h->count && h->items[0]->deadline_ms <= now_ms && h->items[0]->seq <= last) {
		struct timer *t = h->items[0];
		timer_cancel(h, t);
		t->fn(t);
		ran++;
	}
	return ran;
}

void timer_heap_free(struct timer_heap *h)
{
	free(h->items);
	h->items = NULL;
	h->count = h->cap = 0;
}
