#include "core/loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

#define LOOP_BATCH 256

struct post {
	struct post *next;
	void (*fn)(void *arg);
	void *arg;
};

struct loop {
	int epfd;
	bool stopping;
	uint64_t now_ms;
	struct timer_heap timers;
	struct loop_deferred *deferred;

	struct loop_io wake;          /* eventfd signalled by loop_post */
	pthread_mutex_t post_lock;
	struct post *post_head, *post_tail;
};

uint64_t loop_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t loop_clock_ms(void)
{
	return loop_clock_ns() / 1000000u;
}

uint64_t loop_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void run_posts(struct loop_io *io, uint32_t events)
{
	struct loop *l = container_of(io, struct loop, wake);
	(void)events;
	uint64_t n;
	ssize_t r = read(l->wake.fd, &n, sizeof(n));
	(void)r;

	pthread_mutex_lock(&l->post_lock);
	struct post *p = l->post_head;
	l->post_head = l->post_tail = NULL;
	pthread_mutex_unlock(&l->post_lock);

	while (p) {
		struct post *next = p->next;
		p->fn(p->arg);
		free(p);
		p = next;
	}
}

static void run_deferred(struct loop *l)
{
	while (l->deferred) {
		struct loop_deferred *d = l->deferred;
		l->deferred = d->next;
		d->fn(d);
	}
}

int loop_create(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	int rc;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		rc = err_sys();
		goto fail_alloc;
	}
	l->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake.fd < 0) {
		rc = err_sys();
		goto fail_epoll;
	}
	l->wake.fn = run_posts;
	pthread_mutex_init(&l->post_lock, NULL);
	rc = loop_add(l, &l->wake, LOOP_READ);
	if (rc < 0)
		goto fail_wake;
	l->now_ms = loop_clock_ms();
	*out = l;
	return 0;

fail_wake:
	pthread_mutex_destroy(&l->post_lock);
	close(l->wake.fd);
fail_epoll:
	close(l->epfd);
fail_alloc:
	free(l);
	return rc;
}

void loop_destroy(struct loop *l)
{
	if (!l)
		return;
	run_deferred(l);
	struct post *p = l->post_head;
	while (p) {
		struct post *next = p->next;
		free(p);
		p = next;
	}
	timer_heap_free(&l->timers);
	pthread_mutex_destroy(&l->post_lock);
	close(l->wake.fd);
	close(l->epfd);
	free(l);
}

uint64_t loop_now(const struct loop *l)
{
	return l->now_ms;
}

int loop_add(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? err_sys() : 0;
}

int loop_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? err_sys() : 0;
}

int loop_del(struct loop *l, struct loop_io *io)
{
	return epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 ? err_sys() : 0;
}

int loop_timer_arm(struct loop *l, struct timer *t, uint64_t delay_ms)
{
	return timer_arm(&l->timers, t, l->now_ms + delay_ms);
}

void loop_timer_cancel(struct loop *l, struct timer *t)
{
	timer_cancel(&l->timers, t);
}

void loop_defer(struct loop *l, struct loop_deferred *d)
{
	d->next = l->deferred;
	l->deferred = d;
}

int loop_post(struct loop *l, void (*fn)(void *arg), void *arg)
{
	struct post *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&l->post_lock);
	if (l->post_tail)
		l->post_tail->next = p;
	else
		l->post_head = p;
	l->post_tail = p;
	pthread_mutex_unlock(&l->post_lock);
	uint64_t one = 1;
	ssize_t w = write(l->wake.fd, &one, sizeof(one));
	(void)w;  /* EAGAIN means a wake-up is already pending */
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stopping = true;
}

int loop_run(struct loop *l)
{
	struct epoll_event events[LOOP_BATCH];
	l->stopping = false;
	while (!l->stopping) {
		uint64_t next = timer_next(&l->timers);
		int timeout = -1;
		if (next != UINT64_MAX)
			timeout = next <= l->now_ms ? 0
				: next - l->now_ms > INT_MAX ? INT_MAX : (int)(next - l->now_ms);
		int n = epoll_wait(l->epfd, events, LOOP_BATCH, timeout);
		if (n < 0 && errno != EINTR)
			return err_sys();
		l->now_ms = loop_clock_ms();
		for (int i = 0; i < n; i++) {
			struct loop_io *io = events[i].data.ptr;
			io->fn(io, events[i].events);
		}
		run_deferred(l);
		timer_expire(&l->timers, l->now_ms);
		run_deferred(l);
	}
	return 0;
}
