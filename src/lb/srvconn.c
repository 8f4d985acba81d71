#include "lb/srvconn.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "lb/server.h"


static unsigned bucket_of(const struct lb_server *srv)
{
	uintptr_t p = (uintptr_t)srv;
	return (unsigned)((p >> 6) ^ (p >> 12)) % LB_IDLE_BUCKETS;
}

static void idle_unlink(struct srvconn *sc)
{
	struct lb_worker *w = sc->w;
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		w->idle[bucket_of(sc->srv)] = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	sc->next = sc->prev = NULL;
}

static void srvconn_free(struct loop_deferred *d)
{
	free(container_of(d, struct srvconn, free_later));
}

void srvconn_close(struct srvconn *sc)
{
	close(sc->end.io.fd);
	sc->closed = true;
	sc->free_later.fn = srvconn_free;
	loop_defer(sc->w->loop, &sc->free_later);
}

/* Out of the pool, then closed. */
static void close_idle(struct srvconn *sc)
{
	idle_unlink(sc);
	loop_timer_cancel(sc->w->loop, &sc->expire);
	server_unref(sc->srv);
	srvconn_close(sc);
}

static void on_idle_event(struct loop_io *io, uint32_t events)
{
	(void)events;
	struct srvconn *sc = container_of(io, struct srvconn, end.io);
	/* An idle connection has nothing to say: data, FIN or an error all
	 * mean the server is done with it. */
	if (!sc->closed)
		close_idle(sc);
}

static void on_idle_expire(struct timer *t)
{
	close_idle(container_of(t, struct srvconn, expire));
}

void srvconn_put(struct srvconn *sc, const struct conf_pool *pc)
{
	struct lb_worker *w = sc->w;
	unsigned b = bucket_of(sc->srv);
	int same = 0;
	for (struct srvconn *o = w->idle[b]; o; o = o->next)
		same += o->srv == sc->srv;
	if (same >= pc->server_keepalive || !server_is_up(sc->srv) || w->lb->draining) {
		srvconn_close(sc);
		return;
	}
	sc->session = NULL;
	server_ref(sc->srv);
	sc->end.io.fn = on_idle_event;
	sc->prev = NULL;
	sc->next = w->idle[b];
	if (sc->next)
		sc->next->prev = sc;
	w->idle[b] = sc;
	timer_init(&sc->expire, on_idle_expire);
	loop_timer_arm(w->loop, &sc->expire, pc->server_keepalive_timeout_ms);
}

struct srvconn *srvconn_take(struct lb_worker *w, struct lb_server *srv, loop_io_fn fn)
{
	for (struct srvconn *sc = w->idle[bucket_of(srv)]; sc; sc = sc->next) {
		if (sc->srv != srv)
			continue;
		idle_unlink(sc);
		loop_timer_cancel(w->loop, &sc->expire);
		server_unref(sc->srv);
		sc->end.io.fn = fn;
		sc->end.readable = false;
		sc->end.writable = true;
		sc->end.rdhup = false;
		return sc;
	}
	return NULL;
}

int srvconn_connect(struct lb_worker *w, struct lb_server *srv, loop_io_fn fn,
		    struct srvconn **out)
{
	int fd = sock_connect(&srv->conf.addr);
	if (fd < 0)
		return fd;
	struct srvconn *sc = calloc(1, sizeof(*sc));
	if (!sc) {
		close(fd);
		return -ENOMEM;
	}
	sc->w = w;
	sc->srv = srv;
	sc->end.io.fd = fd;
	sc->end.io.fn = fn;
	int rc = loop_add(w->loop, &sc->end.io, LOOP_READ | LOOP_WRITE | LOOP_RDHUP | LOOP_EDGE);
	if (rc < 0) {
		close(fd);
		free(sc);
		return rc;
	}
	*out = sc;
	return 0;
}

void srvconn_close_idle(struct lb_worker *w)
{
	for (int b = 0; b < LB_IDLE_BUCKETS; b++)
		while (w->idle[b])
			close_idle(w->idle[b]);
}
