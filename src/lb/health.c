#include "lb/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "lb/gen.h"
#include "lb/server.h"
#include "proto/http1.h"

struct check {
	struct health *h;
	struct lb_pool *pool;
	struct lb_server *srv;
	struct loop_io io;
	struct timer timer;
	bool running, sent;
	char buf[512];
	size_t len;
};

struct health {
	struct loop *loop;
	struct loop_deferred free_later;  /* events may still be queued for checks */
	struct lb_gen *gen;
	struct check *checks;
	int nchecks;
};

static void finish(struct check *c, bool ok, const char *why)
{
	struct health *h = c->h;
	if (c->running) {
		close(c->io.fd);  /* also leaves the epoll set */
		c->running = false;
	}
	const struct conf_pool *pc = &c->pool->conf;
	server_report(c->srv, ok, pc->rise, pc->fall, "check", why);
	loop_timer_arm(h->loop, &c->timer, pc->check_interval_ms);
}

static void send_request(struct check *c)
{
	char req[CONF_PATH_MAX + 160];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: strata-health\r\n"
			 "Connection: close\r\n\r\n",
			 c->pool->conf.check_path, c->srv->conf.addr_text);
	if (send(c->io.fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		finish(c, false, "cannot send the request");
		return;
	}
	c->sent = true;
	c->len = 0;
	loop_mod(c->h->loop, &c->io, LOOP_READ);
}

static void read_status(struct check *c)
{
	ssize_t n = read(c->io.fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		finish(c, false, n == 0 ? "closed before a status line" : strerror(errno));
		return;
	}
	c->len += (size_t)n;
	int status;
	int rc = http1_parse_status(c->buf, c->len, &status);
	if (rc == ERR_AGAIN && c->len < sizeof(c->buf) - 1)
		return;
	if (rc < 0) {
		finish(c, false, "malformed status line");
		return;
	}
	char why[32];
	snprintf(why, sizeof(why), "HTTP %d", status);
	int want = c->pool->conf.health_status;
	finish(c, want ? status == want : status >= 200 && status < 400, why);
}

static void on_io(struct loop_io *io, uint32_t events)
{
	struct check *c = container_of(io, struct check, io);
	if (!c->running)
		return;
	if (!c->sent) {
		int rc = sock_error(io->fd);
		if (rc < 0 || (events & (LOOP_ERR | LOOP_HUP))) {
			finish(c, false, err_str(rc < 0 ? rc : -ECONNRESET));
			return;
		}
		if (!(events & LOOP_WRITE))
			return;
		if (c->pool->conf.check == CHECK_TCP)
			finish(c, true, "connected");
		else
			send_request(c);
		return;
	}
	read_status(c);
}

static void on_timer(struct timer *t)
{
	struct check *c = container_of(t, struct check, timer);
	struct health *h = c->h;
	const struct conf_pool *pc = &c->pool->conf;
	if (c->running) {
		finish(c, false, "timed out");
		return;
	}
	int fd = sock_connect(&c->srv->conf.addr);
	if (err_is_shortage(fd)) {
		/* Says nothing about the server: skip this round. */
		loop_timer_arm(h->loop, &c->timer, pc->check_interval_ms);
		return;
	}
	if (fd < 0) {
		finish(c, false, err_str(fd));
		return;
	}
	c->io.fd = fd;
	c->running = true;
	c->sent = false;
	if (loop_add(h->loop, &c->io, LOOP_WRITE) < 0) {
		finish(c, false, "cannot watch the socket");
		return;
	}
	uint64_t limit = pc->connect_timeout_ms < pc->check_interval_ms
		? pc->connect_timeout_ms : pc->check_interval_ms;
	loop_timer_arm(h->loop, &c->timer, limit);
}

int health_start(struct loop *l, struct lb_gen *g, struct health **out)
{
	struct health *h = calloc(1, sizeof(*h));
	int total = 0;
	for (int i = 0; i < g->npools; i++)
		if (g->pools[i].conf.check != CHECK_NONE)
			total += g->pools[i].nservers;
	if (!h || !(h->checks = calloc((size_t)total + 1, sizeof(*h->checks)))) {
		free(h);
		return -ENOMEM;
	}
	h->loop = l;
	h->gen = g;
	gen_ref(g);
	for (int i = 0; i < g->npools; i++) {
		struct lb_pool *p = &g->pools[i];
		if (p->conf.check == CHECK_NONE)
			continue;
		for (int j = 0; j < p->nservers; j++) {
			struct check *c = &h->checks[h->nchecks++];
			c->h = h;
			c->pool = p;
			c->srv = p->servers[j];
			c->io.fn = on_io;
			timer_init(&c->timer, on_timer);
			/* Spread the first checks over the first few milliseconds. */
			loop_timer_arm(l, &c->timer, (uint64_t)(j * 7 % 50));
		}
	}
	*out = h;
	return 0;
}

static void health_free(struct loop_deferred *d)
{
	struct health *h = container_of(d, struct health, free_later);
	gen_unref(h->gen);
	free(h->checks);
	free(h);
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->nchecks; i++) {
		struct check *c = &h->checks[i];
		loop_timer_cancel(h->loop, &c->timer);
		if (c->running) {
			close(c->io.fd);
			c->running = false;
		}
	}
	h->free_later.fn = health_free;
	loop_defer(h->loop, &h->free_later);
}
