#include "lb/tcp.h"

#include "lb/limit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "lb/balance.h"
#include "lb/gen.h"
#include "lb/limit.h"
#include "lb/server.h"

#define PIPE_BYTES    (64 * 1024)  /* a pipe's default capacity */
#define BUF_BYTES     (16 * 1024)  /* copy buffer for small exchanges */
#define WAKE_BUDGET   16           /* transfers per direction before yielding */
#define PIPE_CACHE    64
#define BUF_CACHE     64

struct tcp_end {
	struct loop_io io;
	bool readable, writable;
	bool rdhup;           /* the peer's FIN has arrived: read to the end */
};

/*
 * One direction of the stream. It starts in copy mode: recv into a buffer
 * taken from the worker only while bytes wait in it, so an idle connection
 * holds no buffer, and a short read proves the socket drained (one recv per
 * message instead of two). The first read that fills the buffer marks the
 * stream as bulk, and from then on bytes move with splice() through a pipe
 * and never enter user space.
 */
struct tcp_dir {
	int pipe[2];          /* splice mode when >= 0 */
	char *buf;            /* copy mode: held only while pending */
	size_t off;
	size_t pending;       /* bytes held in pipe or buf */
	bool bulk;            /* switch to splice at the next read */
	bool eof;             /* the source sent FIN */
	bool shut;            /* FIN forwarded to the destination */
	uint64_t bytes;       /* forwarded so far */
};

struct tcp_session {
	struct lb_worker *w;
	struct tcp_session *prev, *next;  /* the worker's session_list */
	struct lb_gen *gen;
	struct lb_listener *lst;          /* these three belong to gen */
	const struct conf_listener *lconf;
	struct lb_pool *pool;
	struct lb_server *srv;          /* current server, counted in its active */
	struct tcp_end client, server;
	struct tcp_dir up, down;        /* client->server, server->client */
	bool connected, first_byte, closed;
	uint64_t connect_start_ns;
	uint64_t peer_hash;              /* source balancing's key */
	struct lb_server *tried[CONF_MAX_RETRIES + 1];
	int ntried;
	struct limit_verdict limit;      /* waiting for the rate-limit store? */
	uint64_t last_active_ms;
	struct timer timeout;           /* connect, then idle */
	struct timer resume;            /* zero-delay: budget used up */
	struct loop_deferred free_later;
};

enum xfer { XFER_DONE, XFER_MORE, XFER_ABORT };

static void session_pump(struct tcp_session *s);
static void session_close(struct tcp_session *s, bool abort);
static void connect_next(struct tcp_session *s);
static void limit_decided(struct tcp_session *s, const struct lb_limit *limit);

/* ---- pipes ---- */

static bool pipe_get(struct lb_worker *w, int p[2])
{
	if (w->npipes > 0) {
		w->npipes--;
		p[0] = w->pipes[w->npipes][0];
		p[1] = w->pipes[w->npipes][1];
		return true;
	}
	return pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0;
}

static void pipe_put(struct lb_worker *w, struct tcp_dir *d)
{
	if (d->pipe[0] < 0)
		return;
	if (d->pending == 0 && w->npipes < PIPE_CACHE) {
		w->pipes[w->npipes][0] = d->pipe[0];
		w->pipes[w->npipes][1] = d->pipe[1];
		w->npipes++;
	} else {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
}

static char *buf_get(struct lb_worker *w)
{
	return w->nbufs > 0 ? w->bufs[--w->nbufs] : malloc(BUF_BYTES);
}

static void buf_put(struct lb_worker *w, struct tcp_dir *d)
{
	if (!d->buf)
		return;
	if (w->nbufs < BUF_CACHE)
		w->bufs[w->nbufs++] = d->buf;
	else
		free(d->buf);
	d->buf = NULL;
}

void tcp_worker_release(struct lb_worker *w)
{
	while (w->session_list)
		session_close(w->session_list, false);
	while (w->npipes > 0) {
		w->npipes--;
		close(w->pipes[w->npipes][0]);
		close(w->pipes[w->npipes][1]);
	}
	while (w->nbufs > 0)
		free(w->bufs[--w->nbufs]);
}

/* ---- life cycle ---- */

static void session_free(struct loop_deferred *d)
{
	struct tcp_session *s = container_of(d, struct tcp_session, free_later);
	gen_unref(s->gen);
	free(s);
}

static void release_server(struct tcp_session *s)
{
	if (s->srv) {
		atomic_fetch_sub_explicit(&s->srv->active, 1, memory_order_relaxed);
		s->srv = NULL;
	}
	if (s->server.io.fd >= 0) {
		close(s->server.io.fd);
		s->server.io.fd = -1;
	}
}

static void reset_on_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* End the session; `abort` resets both sides instead of closing cleanly. */
static void session_close(struct tcp_session *s, bool abort)
{
	if (s->closed)
		return;
	s->closed = true;
	struct loop *l = s->w->loop;
	limit_abandon(&s->limit);
	loop_timer_cancel(l, &s->timeout);
	loop_timer_cancel(l, &s->resume);
	if (abort) {
		reset_on_close(s->client.io.fd);
		if (s->server.io.fd >= 0)
			reset_on_close(s->server.io.fd);
	}
	close(s->client.io.fd);
	release_server(s);
	pipe_put(s->w, &s->up);
	pipe_put(s->w, &s->down);
	buf_put(s->w, &s->up);
	buf_put(s->w, &s->down);
	atomic_fetch_sub_explicit(&s->lst->active, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&s->w->sessions, 1, memory_order_relaxed);
	if (s->prev)
		s->prev->next = s->next;
	else
		s->w->session_list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	loop_defer(l, &s->free_later);
}

/* ---- forwarding ---- */

/* Move bytes from `src` into the direction's pipe or buffer (pending is 0). */
static ssize_t fill(struct tcp_session *s, struct tcp_dir *d, struct tcp_end *src)
{
	if (d->bulk && d->pipe[0] < 0 && !pipe_get(s->w, d->pipe)) {
		d->pipe[0] = d->pipe[1] = -1;
		d->bulk = false;  /* no pipe to be had: stay in copy mode */
	}
	if (d->pipe[0] >= 0)
		return splice(src->io.fd, NULL, d->pipe[1], NULL, PIPE_BYTES,
			      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (!d->buf && !(d->buf = buf_get(s->w))) {
		errno = ENOMEM;
		return -1;
	}
	d->off = 0;
	ssize_t n = recv(src->io.fd, d->buf, BUF_BYTES, 0);
	if (n == BUF_BYTES)
		d->bulk = true;
	else if (n > 0 && !src->rdhup)
		src->readable = false;  /* drained; edge-triggered epoll reports more */
	if (n <= 0)
		buf_put(s->w, d);
	return n;
}

static ssize_t drain(struct tcp_session *s, struct tcp_dir *d, struct tcp_end *dst)
{
	if (!d->buf)
		return splice(d->pipe[0], NULL, dst->io.fd, NULL, d->pending,
			      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	ssize_t n = send(dst->io.fd, d->buf + d->off, d->pending, MSG_NOSIGNAL);
	if (n > 0 && (size_t)n < d->pending)
		dst->writable = false;  /* the socket buffer is full */
	else if ((size_t)n == d->pending)
		buf_put(s->w, d);
	return n;
}

/*
 * Forward what can be forwarded from src to dst without blocking.
 * Returns XFER_MORE when the budget ran out with work left.
 */
static enum xfer transfer(struct tcp_session *s, struct tcp_dir *d, const struct tcp_dir *other,
			  struct tcp_end *src, struct tcp_end *dst, bool *progress)
{
	for (int budget = WAKE_BUDGET; budget > 0; budget--) {
		if (d->pending && dst->writable) {
			ssize_t n = drain(s, d, dst);
			if (n > 0) {
				d->pending -= (size_t)n;
				d->off += (size_t)n;
				d->bytes += (uint64_t)n;
				*progress = true;
				continue;
			}
			if (n < 0 && errno == EAGAIN)
				dst->writable = false;
			else if (n < 0 && errno != EINTR)
				return XFER_ABORT;
		}
		if (d->pending == 0 && d->eof && !d->shut) {
			/* When the other way is over too, the close that follows
			 * sends this FIN. */
			if (!other->shut)
				shutdown(dst->io.fd, SHUT_WR);
			d->shut = true;
			*progress = true;
		}
		if (d->pending || d->eof || !src->readable)
			return XFER_DONE;
		ssize_t n = fill(s, d, src);
		if (n > 0) {
			d->pending = (size_t)n;
			*progress = true;
		} else if (n == 0) {
			d->eof = true;
		} else if (errno == EAGAIN) {
			src->readable = false;
		} else if (errno != EINTR) {
			return XFER_ABORT;
		}
	}
	return XFER_MORE;
}

static void note_first_byte(struct tcp_session *s)
{
	s->first_byte = true;
	uint64_t us = (loop_clock_ns() - s->connect_start_ns) / 1000;
	server_observe_time(s->srv, us);
}

static void session_pump(struct tcp_session *s)
{
	bool progress = false;
	uint64_t up_before = s->up.bytes, down_before = s->down.bytes;

	enum xfer a = transfer(s, &s->up, &s->down, &s->client, &s->server, &progress);
	if (a == XFER_ABORT) {
		session_close(s, true);
		return;
	}
	uint64_t down_pending_before = s->down.pending;
	enum xfer b = transfer(s, &s->down, &s->up, &s->server, &s->client, &progress);
	if (b == XFER_ABORT) {
		session_close(s, true);
		return;
	}
	if (!s->first_byte && (s->down.bytes > down_before || s->down.pending > down_pending_before ||
			       s->down.eof))
		note_first_byte(s);

	struct lb_server *srv = s->srv;
	if (s->up.bytes != up_before)
		atomic_fetch_add_explicit(&srv->bytes_to_server, s->up.bytes - up_before,
					  memory_order_relaxed);
	if (s->down.bytes != down_before)
		atomic_fetch_add_explicit(&srv->bytes_from_server, s->down.bytes - down_before,
					  memory_order_relaxed);
	if (progress)
		s->last_active_ms = loop_now(s->w->loop);

	if (s->up.shut && s->down.shut) {
		session_close(s, false);
		return;
	}
	if (a == XFER_MORE || b == XFER_MORE)
		loop_timer_arm(s->w->loop, &s->resume, 0);
}

static void on_resume(struct timer *t)
{
	session_pump(container_of(t, struct tcp_session, resume));
}

static void mark_ready(struct tcp_end *e, uint32_t events)
{
	if (events & (LOOP_READ | LOOP_RDHUP | LOOP_HUP | LOOP_ERR))
		e->readable = true;
	if (events & (LOOP_RDHUP | LOOP_HUP | LOOP_ERR))
		e->rdhup = true;
	if (events & (LOOP_WRITE | LOOP_HUP | LOOP_ERR))
		e->writable = true;
}

static void on_client(struct loop_io *io, uint32_t events)
{
	struct tcp_session *s = container_of(io, struct tcp_session, client.io);
	if (s->closed)
		return;
	mark_ready(&s->client, events);
	if (s->connected) {
		session_pump(s);
	} else if (events & (LOOP_HUP | LOOP_ERR)) {
		session_close(s, true);  /* client gone before the server answered */
	}
}

/* ---- connecting ---- */

/* Account a failed connect to the current server and let it go. */
static void note_connect_failure(struct tcp_session *s, int rc)
{
	server_connect_failed(s->srv, &s->pool->conf, rc);
	release_server(s);
}

static void connect_failed(struct tcp_session *s, int rc)
{
	loop_timer_cancel(s->w->loop, &s->timeout);
	note_connect_failure(s, rc);
	connect_next(s);
}

static void on_connected(struct tcp_session *s)
{
	struct loop *l = s->w->loop;
	s->connected = true;
	server_connected(s->srv, &s->pool->conf, (loop_clock_ns() - s->connect_start_ns) / 1000);
	s->last_active_ms = loop_now(l);
	loop_timer_arm(l, &s->timeout, s->lconf->idle_timeout_ms);
	session_pump(s);
}

static void on_server(struct loop_io *io, uint32_t events)
{
	struct tcp_session *s = container_of(io, struct tcp_session, server.io);
	if (s->closed)
		return;
	mark_ready(&s->server, events);
	if (s->connected) {
		session_pump(s);
		return;
	}
	/* Writable without error means connected; only a failure needs
	 * getsockopt, for the reason it logs. */
	if (events & (LOOP_ERR | LOOP_HUP)) {
		int rc = sock_error(io->fd);
		connect_failed(s, rc ? rc : -ECONNRESET);
	} else if (events & LOOP_WRITE) {
		on_connected(s);
	}
}

static void on_timeout(struct timer *t)
{
	struct tcp_session *s = container_of(t, struct tcp_session, timeout);
	struct loop *l = s->w->loop;
	if (s->limit.call.client) {
		struct rl_result res;
		limit_decided(s, limit_timeout(s->gen, &s->limit, &res));
		return;
	}
	if (!s->connected) {
		connect_failed(s, -ETIMEDOUT);
		return;
	}
	uint64_t idle = s->lconf->idle_timeout_ms;
	uint64_t due = s->last_active_ms + idle;
	if (loop_now(l) >= due) {
		log_debug("idle timeout on a connection to %s", s->srv->conf.name);
		session_close(s, false);
	} else {
		loop_timer_arm(l, &s->timeout, due - loop_now(l));
	}
}

static void connect_next(struct tcp_session *s)
{
	struct lb_pool *pool = s->pool;
	struct loop *l = s->w->loop;
	while (s->ntried <= pool->conf.retries) {
		struct lb_server *srv = balance_pick(pool, s->w, &s->peer_hash, s->tried, s->ntried);
		if (!srv)
			break;
		s->tried[s->ntried++] = srv;
		s->srv = srv;
		atomic_fetch_add_explicit(&srv->active, 1, memory_order_relaxed);
		s->connect_start_ns = loop_clock_ns();
		int fd = sock_connect(&srv->conf.addr);
		if (fd < 0) {
			s->server.io.fd = -1;
			if (err_is_shortage(fd)) {
				/* No retry helps: the shortage is ours. */
				server_connect_shortage(s->w, srv, fd);
				release_server(s);
				break;
			}
			note_connect_failure(s, fd);
			continue;
		}
		s->server.io.fd = fd;
		s->server.readable = s->server.writable = false;
		if (loop_add(l, &s->server.io, LOOP_READ | LOOP_WRITE | LOOP_RDHUP | LOOP_EDGE) < 0) {
			release_server(s);
			continue;
		}
		loop_timer_arm(l, &s->timeout, pool->conf.connect_timeout_ms);
		return;
	}
	log_debug("no server could take a connection for pool %s", pool->conf.name);
	session_close(s, true);
}

/* The shared rate-limit rules are decided: a refused connection is closed
 * at once, no server involved. */
static void limit_decided(struct tcp_session *s, const struct lb_limit *limit)
{
	if (limit)
		session_close(s, false);
	else
		connect_next(s);
}

static void on_limit_answer(void *arg, int rc, const struct resp_value *reply)
{
	struct tcp_session *s = arg;
	struct rl_result res;
	limit_decided(s, limit_answer(s->gen, &s->limit, rc, reply, &res));
}

void tcp_session_start(struct lb_accept *a, int fd, const struct sock_addr *peer)
{
	struct lb_worker *w = a->worker;
	struct tcp_session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		atomic_fetch_sub_explicit(&a->listener->active, 1, memory_order_relaxed);
		return;
	}
	s->w = w;
	s->gen = w->gen;
	gen_ref(s->gen);
	s->lst = a->listener;
	s->lconf = a->conf;
	s->pool = a->pool;
	s->peer_hash = balance_addr_hash(peer);
	s->client.io.fd = fd;
	s->client.io.fn = on_client;
	s->server.io.fd = -1;
	s->server.io.fn = on_server;
	s->up.pipe[0] = s->up.pipe[1] = -1;
	s->down.pipe[0] = s->down.pipe[1] = -1;
	s->free_later.fn = session_free;
	atomic_fetch_add_explicit(&w->sessions, 1, memory_order_relaxed);
	s->next = w->session_list;
	if (s->next)
		s->next->prev = s;
	w->session_list = s;
	timer_init(&s->timeout, on_timeout);
	timer_init(&s->resume, on_resume);
	if (loop_add(w->loop, &s->client.io, LOOP_READ | LOOP_WRITE | LOOP_RDHUP | LOOP_EDGE) < 0) {
		session_close(s, true);
		return;
	}
	if (s->gen->nlimits) {
		struct rl_result res;
		const struct lb_limit *limit = limit_tcp(w, s->gen, a->conf->pool, peer, &res,
							 &s->limit, on_limit_answer, s);
		if (limit || !s->limit.call.client) {
			limit_decided(s, limit);
			return;
		}
		loop_timer_arm(w->loop, &s->timeout, s->gen->conf->store_timeout_ms);
		return;
	}
	connect_next(s);
}
