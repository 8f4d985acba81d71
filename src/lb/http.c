#include "lb/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "lb/access.h"
#include "lb/balance.h"
#include "lb/gen.h"
#include "lb/limit.h"
#include "lb/rewrite.h"
#include "lb/route.h"
#include "lb/server.h"
#include "lb/srvconn.h"
#include "net/tls.h"
#include "lb/http-t.h"
#include "proto/http1.h"

#define IO_CHUNK      (16 * 1024)  /* bytes asked of one read */
#define OUT_HIGH      (64 * 1024)  /* stop filling an output above this */
#define REPLAY_MAX    (16 * 1024)  /* request body kept for a retry */
#define WAKE_BUDGET   16           /* pump rounds before yielding */
#define LINGER_MS     2000         /* reading a refused client's leftovers */
#define BUF_CACHE     64



static void pump(struct http_session *s);
static void session_close(struct http_session *s, bool abort);
static void attach_server(struct http_session *s);
static void limit_passed(struct http_session *s);
static void on_limit_answer(void *arg, int rc, const struct resp_value *reply);

static _Thread_local struct http1_request parsed_req;
static _Thread_local struct http1_response parsed_res;

int http_error_status(enum http_error_slot slot)
{
	static const int codes[] = { 400, 408, 413, 429, 431, 502, 503, 504, 0 };
	return codes[slot];
}

static enum http_error_slot error_slot(int status)
{
	for (int i = 0; i < HTTP_ERR_OTHER; i++)
		if (http_error_status((enum http_error_slot)i) == status)
			return (enum http_error_slot)i;
	return HTTP_ERR_OTHER;
}

/* ---- buffers: 16 KiB blocks cached per worker ---- */

static void buf_take(struct lb_worker *w, struct buf *b)
{
	if (b->data)
		return;
	if (w->nbufs > 0) {
		b->data = w->bufs[--w->nbufs];
		b->cap = IO_CHUNK;
	}
}

static void buf_give(struct lb_worker *w, struct buf *b)
{
	if (!b->data)
		return;
	if (b->cap == IO_CHUNK && w->nbufs < BUF_CACHE)
		w->bufs[w->nbufs++] = b->data;
	else
		free(b->data);
	*b = (struct buf)BUF_INIT;
}

/* Return an empty buffer's storage to the cache. */
static void buf_settle(struct lb_worker *w, struct buf *b)
{
	if (buf_pending(b) == 0)
		buf_give(w, b);
}

/* ---- socket I/O ---- */

/* Read what the socket has (up to IO_CHUNK) after b's data. Returns bytes
 * read, 0 at EOF, ERR_AGAIN, or a negative error. */
static ssize_t end_read(struct lb_worker *w, struct http_end *e, tls_conn *tls, struct buf *b)
{
	buf_take(w, b);
	if (buf_reserve(b, IO_CHUNK / 2) < 0)
		return -ENOMEM;
	size_t room = b->cap - b->len;
	if (room > IO_CHUNK)
		room = IO_CHUNK;
	ssize_t n;
	if (tls) {
		n = tls_read(tls, b->data + b->len, room);
		if (n == ERR_AGAIN)
			e->readable = false;
	} else {
		n = recv(e->io.fd, b->data + b->len, room, 0);
		if (n < 0) {
			n = -errno;
			if (n == -EAGAIN)
				e->readable = false;
			else if (n == -EINTR)
				n = ERR_AGAIN;
		} else if (n > 0 && (size_t)n < room && !e->rdhup) {
			e->readable = false;  /* drained; edge-triggered epoll reports more */
		}
	}
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

/* Write b's pending bytes. Returns bytes written, ERR_AGAIN or an error. */
static ssize_t end_write(struct http_end *e, tls_conn *tls, struct buf *b)
{
	size_t len = buf_pending(b);
	ssize_t n;
	if (tls) {
		n = tls_write(tls, b->data + b->off, len);
		if (n == ERR_AGAIN)
			e->writable = false;
	} else {
		n = send(e->io.fd, b->data + b->off, len, MSG_NOSIGNAL);
		if (n < 0) {
			n = -errno;
			if (n == -EAGAIN)
				e->writable = false;
			else if (n == -EINTR)
				n = ERR_AGAIN;
		} else if ((size_t)n < len) {
			e->writable = false;
		}
	}
	if (n > 0)
		b->off += (size_t)n;
	return n;
}

static void mark_ready(struct http_end *e, uint32_t events)
{
	if (events & (LOOP_READ | LOOP_RDHUP | LOOP_HUP | LOOP_ERR))
		e->readable = true;
	if (events & (LOOP_RDHUP | LOOP_HUP | LOOP_ERR))
		e->rdhup = true;
	if (events & (LOOP_WRITE | LOOP_HUP | LOOP_ERR))
		e->writable = true;
}

/* ---- bodies ---- */

static void body_init(struct http_body *b, enum frame f, uint64_t length)
{
	memset(b, 0, sizeof(*b));
	b->frame = f;
	b->remaining = length;
	http1_chunked_init(&b->chunked);
	b->done = f == FRAME_NONE || (f == FRAME_LENGTH && length == 0);
}

/*
 * Move the body bytes waiting in `in` to `out`, as far as the framing
 * says they belong to the body. Returns 0 (b->done tells whether the body
 * is complete) or ERR_PARSE for malformed chunked coding.
 */
static int body_move(struct http_body *b, struct buf *in, struct buf *out)
{
	size_t avail = buf_pending(in), take = avail;
	if (b->done || avail == 0)
		return 0;
	if (b->frame == FRAME_LENGTH) {
		if (take > b->remaining)
			take = (size_t)b->remaining;
		b->remaining -= take;
		b->data += take;
		b->done = b->remaining == 0;
	} else if (b->frame == FRAME_CHUNKED && b->dechunk) {
		int rc = ERR_AGAIN;
		while (buf_pending(in) && rc == ERR_AGAIN) {
			size_t used, len;
			const char *data;
			rc = http1_chunked_decode(&b->chunked, in->data + in->off, buf_pending(in),
						  &used, &data, &len);
			if (rc == ERR_PARSE)
				return ERR_PARSE;
			buf_append(out, data, len);
			b->data += len;
			buf_consume(in, used);
		}
		b->done = rc == 0;
		return out->oom ? -ENOMEM : 0;
	} else if (b->frame == FRAME_CHUNKED) {
		size_t used = 0, data = 0;
		int rc = http1_chunked_feed(&b->chunked, in->data + in->off, avail, &used, &data);
		if (rc == ERR_PARSE)
			return ERR_PARSE;
		take = used;
		b->data += data;
		b->done = rc == 0;
	} else {
		b->data += take;
	}
	buf_append(out, in->data + in->off, take);
	if (out->oom)
		return -ENOMEM;
	buf_consume(in, take);
	return 0;
}

/* ---- life cycle ---- */

static void session_free(struct loop_deferred *d)
{
	struct http_session *s = container_of(d, struct http_session, free_later);
	gen_unref(s->gen);
	free(s);
}

/* Let the current server go: its connection to the pool when `reusable`,
 * else closed. */
static void release_server(struct http_session *s, bool reusable)
{
	if (s->srv) {
		atomic_fetch_sub_explicit(&s->srv->active, 1, memory_order_relaxed);
		s->srv = NULL;
	}
	struct srvconn *sc = s->sc;
	if (!sc)
		return;
	s->sc = NULL;
	if (reusable && sc->connected)
		srvconn_put(sc, &s->pool->conf);
	else
		srvconn_close(sc);
}

static void session_close(struct http_session *s, bool abort)
{
	if (s->closed)
		return;
	s->closed = true;
	struct lb_worker *w = s->w;
	limit_abandon(&s->limit);
	loop_timer_cancel(w->loop, &s->timeout);
	loop_timer_cancel(w->loop, &s->resume);
	release_server(s, false);
	if (s->tls) {
		if (!abort)
			tls_shutdown(s->tls);
		tls_free(s->tls);
	}
	if (abort) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(s->client.io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(s->client.io.fd);
	buf_give(w, &s->cin);
	buf_give(w, &s->cout);
	buf_give(w, &s->sin);
	buf_give(w, &s->sout);
	atomic_fetch_sub_explicit(&s->lst->active, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&w->sessions, 1, memory_order_relaxed);
	if (s->prev)
		s->prev->next = s->next;
	else
		w->http_list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	loop_defer(w->loop, &s->free_later);
}

static void arm(struct http_session *s, uint64_t ms)
{
	loop_timer_arm(s->w->loop, &s->timeout, ms);
}

static void log_request(struct http_session *s)
{
	if (s->logged || s->w->lb->access_fd < 0)
		return;
	s->logged = true;
	struct access_entry e = {
		.client = &s->peer,
		.method = s->method,
		.target = s->target,
		.minor = s->minor,
		.status = s->status,
		.bytes = s->bytes_out,
		.pool = s->pool ? s->pool->conf.name : NULL,
		.server = NULL,
		.duration_us = (loop_clock_ns() - s->start_ns) / 1000,
		.request_id = s->request_id,
	};
	if (s->ntried && s->pool)
		e.server = s->tried[s->ntried - 1]->conf.name;
	else
		e.pool = NULL;
	access_log_write(s->w, &e);
}

/*
 * Answer the current request with strata's own error and close the
 * connection once it is sent. When part of a response already reached the
 * client, the connection is cut instead.
 */
static void answer_error(struct http_session *s, int status, const struct lb_limit *limit,
			 const struct rl_result *decision)
{
	atomic_fetch_add_explicit(&s->lst->errors[error_slot(status)], 1, memory_order_relaxed);
	release_server(s, false);
	if (s->client_sent) {
		log_request(s);
		session_close(s, true);
		return;
	}
	const char *reason = http1_reason(status);
	char body[64];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, reason);
	buf_take(s->w, &s->cout);
	buf_reset(&s->cout);
	buf_printf(&s->cout,
		   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		   "Connection: close\r\n",
		   status, reason, blen);
	if (limit)
		limit_headers(&s->cout, limit, decision);
	buf_printf(&s->cout, "\r\n%s", body);
	s->status = status;
	s->bytes_out = buf_pending(&s->cout);
	if (s->method[0] || status != 408)
		log_request(s);
	s->state = ST_CLOSING;
	arm(s, s->lconf->idle_timeout_ms < 10000 ? s->lconf->idle_timeout_ms : 10000);
}

static void fail_request(struct http_session *s, int status)
{
	answer_error(s, status, NULL, NULL);
}

/* ---- the request ---- */

static bool is_idempotent(const char *m)
{
	static const char *const safe[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strcmp(m, safe[i]) == 0)
			return true;
	return false;
}

static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void new_request_id(struct http_session *s)
{
	static const char hex[] = "0123456789abcdef";
	for (int half = 0; half < 2; half++) {
		uint64_t r = balance_random(s->w);
		for (int i = 0; i < 16; i++, r >>= 4)
			s->request_id[half * 16 + i] = hex[r & 15];
	}
	s->request_id[32] = '\0';
}

/* The hash-balancing key of the request, if the pool hashes and it has one. */
static void request_key(struct http_session *s, const struct http1_request *req,
			const char *path, size_t path_len, const char *target, size_t target_len)
{
	const struct conf_pool *pc = &s->pool->conf;
	s->has_key = false;
	if (pc->balance == BALANCE_SOURCE) {
		s->key = balance_addr_hash(&s->peer);
		s->has_key = true;
		return;
	}
	if (pc->balance != BALANCE_HASH)
		return;
	const char *k = NULL;
	size_t klen = 0;
	switch (pc->hash_key) {
	case HASH_URI:
		k = target;
		klen = target_len;
		break;
	case HASH_PATH:
		k = path;
		klen = path_len;
		break;
	case HASH_HEADER:
		k = http1_field(req->headers, req->nheaders, pc->hash_name, &klen);
		break;
	case HASH_COOKIE:
		for (size_t i = 0; i < req->nheaders && !k; i++) {
			const struct http1_header *h = &req->headers[i];
			if (http1_name_is(h->name, h->name_len, "cookie"))
				k = http1_cookie_get(h->value, h->value_len, pc->hash_name, &klen);
		}
		break;
	}
	if (k) {
		s->key = ring_hash(k, klen);
		s->has_key = true;
	}
}

/* The up server of the pool that the sticky cookie names, or NULL. */
static struct lb_server *sticky_server(struct http_session *s, const struct http1_request *req)
{
	const char *cookie = s->pool->conf.cookie;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];
		size_t vlen;
		const char *v;
		if (!http1_name_is(h->name, h->name_len, "cookie") ||
		    !(v = http1_cookie_get(h->value, h->value_len, cookie, &vlen)))
			continue;
		for (int k = 0; k < s->pool->nservers; k++) {
			struct lb_server *srv = s->pool->servers[k];
			if (strlen(srv->conf.name) == vlen && memcmp(srv->conf.name, v, vlen) == 0)
				return server_is_up(srv) ? srv : NULL;
		}
	}
	return NULL;
}

/* A complete request head is at the start of cin: route it and send it. */
static void start_request(struct http_session *s, const struct http1_request *req)
{
	const struct lb_conf *conf = s->gen->conf;
	/* Only the access log reads the request's duration. */
	s->start_ns = s->w->lb->access_fd >= 0 ? loop_clock_ns() : 0;
	s->logged = false;
	s->reached = false;
	atomic_fetch_add_explicit(&s->lst->requests, 1, memory_order_relaxed);
	copy_text(s->method, sizeof(s->method), req->method, req->method_len);
	copy_text(s->target, sizeof(s->target), req->target, req->target_len);
	s->minor = req->minor;
	s->keep_alive = req->keep_alive;
	s->idempotent = is_idempotent(s->method);
	s->head_request = strcmp(s->method, "HEAD") == 0;
	size_t rid_len;
	const char *rid = http1_field(req->headers, req->nheaders, "x-request-id", &rid_len);
	if (rid)
		copy_text(s->request_id, sizeof(s->request_id), rid, rid_len);
	else
		new_request_id(s);

	if (strcmp(s->method, "CONNECT") == 0) {
		fail_request(s, 405);  /* a reverse proxy opens no tunnels on request */
		return;
	}
	size_t host_len = 0, len;
	const char *host = http1_field(req->headers, req->nheaders, "host", &host_len);
	const char *target, *v;
	int refuse = rewrite_target(req, host, host_len, &target, &len);
	size_t target_len = len;
	if (refuse) {
		fail_request(s, refuse);
		return;
	}
	if (req->minor == 1 && (v = http1_field(req->headers, req->nheaders, "expect", &len)) &&
	    !(len == 12 && strncasecmp(v, "100-continue", 12) == 0)) {
		fail_request(s, 417);
		return;
	}
	if (req->chunked)
		body_init(&s->req_body, FRAME_CHUNKED, 0);
	else
		body_init(&s->req_body, req->content_length ? FRAME_LENGTH : FRAME_NONE,
			  req->content_length);
	if (s->lconf->max_body_size && req->content_length > s->lconf->max_body_size) {
		fail_request(s, 413);
		return;
	}
	size_t conn_len;
	const char *conn = http1_field(req->headers, req->nheaders, "connection", &conn_len);
	s->upgrade = req->minor == 1 && conn && http1_list_has(conn, conn_len, "upgrade") &&
		     http1_field(req->headers, req->nheaders, "upgrade", &len);

	struct route_request rr;
	route_request_init(&rr, req, host, host_len, target, target_len);
	int pool = route_select(conf, s->listener, &rr);
	s->pool = &s->gen->pools[pool];
	struct rl_result decision;
	const struct lb_limit *limit = NULL;
	if (s->gen->nlimits)
		limit = limit_http(s->w, s->gen, pool, req, rr.path, rr.path_len, &s->peer,
				   &decision, &s->limit, on_limit_answer, s);
	else
		s->limit = (struct limit_verdict){ 0 };
	if (limit) {
		answer_error(s, 429, limit, &decision);  /* it never reaches a server */
		return;
	}
	request_key(s, req, rr.path, rr.path_len, target, target_len);
	s->sticky = s->pool->conf.cookie[0] ? sticky_server(s, req) : NULL;
	s->set_cookie = s->pool->conf.cookie[0] && !s->sticky;

	buf_take(s->w, &s->sout);
	struct rewrite_request rw = {
		.target = target, .target_len = target_len, .client_ip = s->peer_ip,
		.https = s->tls != NULL, .upgrade = s->upgrade, .request_id = s->request_id,
	};
	rewrite_request_head(&s->sout, req, &rw);
	buf_consume(&s->cin, req->head_len);
	if (s->sout.oom) {
		fail_request(s, 503);
		return;
	}
	s->replayable = true;
	s->state = ST_EXCHANGE;
	s->last_active_ms = loop_now(s->w->loop);
	if (s->limit.call.client) {
		/* Shared rules: the store answers (on_limit_answer) or the bounded
		 * wait ends (on_timeout) before a server is chosen. */
		arm(s, s->gen->conf->store_timeout_ms);
		return;
	}
	limit_passed(s);
}

/* Every rule allowed the request: on to a server, at once or, shaped, once
 * its delay has passed (the timeout finds it unattached and attaches it). */
static void limit_passed(struct http_session *s)
{
	if (s->limit.delay_ns)
		arm(s, (s->limit.delay_ns + 999999) / 1000000);
	else
		attach_server(s);
}

/* The shared rules are decided: by the store's answer or by the wait's end. */
static void limit_decided(struct http_session *s, const struct lb_limit *limit,
			  const struct rl_result *decision)
{
	if (limit)
		answer_error(s, 429, limit, decision);
	else
		limit_passed(s);
	pump(s);
}

static void on_limit_answer(void *arg, int rc, const struct resp_value *reply)
{
	struct http_session *s = arg;
	struct rl_result decision;
	const struct lb_limit *limit = limit_answer(s->gen, &s->limit, rc, reply, &decision);
	limit_decided(s, limit, &decision);
}

/* ---- choosing and reaching a server ---- */

static bool tried(const struct http_session *s, const struct lb_server *srv)
{
	for (int i = 0; i < s->ntried; i++)
		if (s->tried[i] == srv)
			return true;
	return false;
}

static struct lb_server *choose(struct http_session *s)
{
	if (s->sticky && !tried(s, s->sticky) && server_is_up(s->sticky))
		return s->sticky;
	if (s->sticky)
		s->set_cookie = true;  /* going elsewhere: the cookie must follow */
	return balance_pick(s->pool, s->w, s->has_key ? &s->key : NULL, s->tried, s->ntried);
}

static void note_connect_failure(struct http_session *s, int rc)
{
	server_connect_failed(s->srv, &s->pool->conf, rc);
	release_server(s, false);
}

static void on_connected(struct http_session *s)
{
	struct srvconn *sc = s->sc;
	sc->connected = true;
	server_connected(s->srv, &s->pool->conf, (loop_clock_ns() - s->connect_start_ns) / 1000);
	s->last_active_ms = loop_now(s->w->loop);
	arm(s, s->pool->conf.response_timeout_ms);
}

static void on_server(struct loop_io *io, uint32_t events)
{
	struct srvconn *sc = container_of(io, struct srvconn, end.io);
	struct http_session *s = sc->session;
	if (sc->closed)
		return;
	mark_ready(&sc->end, events);
	if (!sc->connected) {
		if (events & (LOOP_ERR | LOOP_HUP)) {
			int rc = sock_error(io->fd);
			loop_timer_cancel(s->w->loop, &s->timeout);
			note_connect_failure(s, rc ? rc : -ECONNRESET);
			attach_server(s);
			pump(s);
			return;
		}
		if (!(events & LOOP_WRITE))
			return;
		on_connected(s);
	}
	pump(s);
}

/* Give the request to a server: a pooled connection or a new one, trying
 * other servers while connects fail; 503 when none is left. */
static void attach_server(struct http_session *s)
{
	struct lb_pool *pool = s->pool;
	struct lb_worker *w = s->w;
	struct loop *l = w->loop;
	s->sout.off = 0;  /* (re)send the request from its start */
	while (s->ntried <= pool->conf.retries && s->ntried < (int)(sizeof(s->tried) / sizeof(s->tried[0]))) {
		struct lb_server *srv = choose(s);
		if (!srv)
			break;
		s->tried[s->ntried++] = srv;
		s->srv = srv;
		atomic_fetch_add_explicit(&srv->active, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&srv->requests, 1, memory_order_relaxed);
		s->connect_start_ns = loop_clock_ns();
		struct srvconn *sc = srvconn_take(w, srv, on_server);
		if (sc) {
			sc->session = s;
			s->sc = sc;
			s->last_active_ms = loop_now(l);
			arm(s, pool->conf.response_timeout_ms);
			return;
		}
		int rc = srvconn_connect(w, srv, on_server, &sc);
		if (err_is_shortage(rc)) {
			/* No retry helps: the shortage is ours. */
			server_connect_shortage(w, srv, rc);
			release_server(s, false);
			break;
		}
		if (rc < 0) {
			note_connect_failure(s, rc);
			continue;
		}
		sc->session = s;
		s->sc = sc;
		arm(s, pool->conf.connect_timeout_ms);
		return;
	}
	log_debug("no server could take a request for pool %s", pool->conf.name);
	/* A server that took the request and failed it is a bad gateway;
	 * none reachable at all is unavailability. */
	fail_request(s, s->reached ? 502 : 503);
}

/* The server closed or failed before a byte of the response: retry the
 * request elsewhere when that cannot run it twice, else 502. */
static void server_gave_up(struct http_session *s, int rc)
{
	log_debug("server %s/%s: %s before a response", s->srv ? s->srv->pool_name : "-",
		  s->srv ? s->srv->conf.name : "-", err_str(rc));
	s->reached = true;
	if (s->idempotent && s->replayable && !s->response_started) {
		release_server(s, false);
		buf_reset(&s->sin);
		attach_server(s);
		return;
	}
	fail_request(s, 502);
}

/* ---- the response ---- */

/* The response head as the client gets it, into s->cout. */
static void answer_head(struct http_session *s, const struct http1_response *res, const char *raw,
			bool close_client)
{
	struct rewrite_response rw = {
		.close_client = close_client,
		.client_minor = s->minor,
	};
	if (s->set_cookie && s->srv && res->status >= 200) {
		rw.cookie_name = s->pool->conf.cookie;
		rw.cookie_value = s->srv->conf.name;
	}
	struct buf fields = BUF_INIT;
	if (s->limit.tightest && res->status >= 200) {
		limit_fields(&fields, s->limit.tightest, &s->limit.res);
		rw.extra = fields.data;
		rw.extra_len = fields.oom ? 0 : fields.len;
	}
	rewrite_response_head(&s->cout, res, raw, &rw);
	buf_free(&fields);
}

/* Parse what sin holds of a response head. Returns true on progress. */
static bool read_response_head(struct http_session *s)
{
	struct http1_response *res = &parsed_res;
	size_t max = s->lconf->max_header_size;
	const char *raw = s->sin.data + s->sin.off;
	int rc = http1_parse_response(raw, buf_pending(&s->sin), max, s->head_request, res);
	if (rc == ERR_AGAIN)
		return false;
	if (rc < 0) {
		log_debug("server %s/%s: malformed response (%s)", s->srv->pool_name,
			  s->srv->conf.name, err_str(rc));
		fail_request(s, 502);
		return true;
	}
	if (res->status == 101 && s->upgrade) {
		s->status = 101;
		answer_head(s, res, raw, false);
		buf_consume(&s->sin, res->head_len);
		s->client_sent = true;
		s->res_head = true;
		s->state = ST_TUNNEL;
		s->up_eof = s->down_eof = false;
		arm(s, s->lconf->idle_timeout_ms);
		return true;
	}
	if (res->status < 200) {
		if (res->status == 101) {
			fail_request(s, 502);  /* a switch nobody asked for */
			return true;
		}
		/* Interim responses (100 Continue, 103) go to HTTP/1.1 clients as is. */
		if (s->minor == 1) {
			buf_take(s->w, &s->cout);
			buf_append(&s->cout, raw, res->head_len);
		}
		buf_consume(&s->sin, res->head_len);
		return true;
	}
	s->status = res->status;
	s->res_head = true;
	if (res->body == HTTP1_BODY_CHUNKED)
		body_init(&s->res_body, FRAME_CHUNKED, 0);
	else if (res->body == HTTP1_BODY_LENGTH)
		body_init(&s->res_body, FRAME_LENGTH, res->content_length);
	else if (res->body == HTTP1_BODY_UNTIL_CLOSE)
		body_init(&s->res_body, FRAME_CLOSE, 0);
	else
		body_init(&s->res_body, FRAME_NONE, 0);
	s->server_reusable = res->keep_alive;
	/* An HTTP/1.0 client cannot read chunked coding (RFC 9112 section 6.1):
	 * it gets the data, ended by the close. */
	s->res_body.dechunk = s->minor == 0 && res->body == HTTP1_BODY_CHUNKED;
	bool close_client = !s->keep_alive || res->body == HTTP1_BODY_UNTIL_CLOSE ||
			    s->res_body.dechunk || s->w->lb->draining;
	s->keep_alive = !close_client;
	unsigned cls = (unsigned)res->status / 100 - 1;
	if (cls < 5)
		atomic_fetch_add_explicit(&s->srv->responses[cls], 1, memory_order_relaxed);
	buf_take(s->w, &s->cout);
	answer_head(s, res, raw, close_client);
	buf_consume(&s->sin, res->head_len);
	s->client_sent = true;
	if (s->cout.oom)
		session_close(s, true);
	return true;
}

/* The response is complete and sent: log it, keep or close the server
 * connection, and wait for the next request or close. */
static void finish_exchange(struct http_session *s)
{
	log_request(s);
	/* Bytes or a FIN the server sent after the response (seen as readiness,
	 * since its reads stop at the body's end) make the connection unfit. */
	bool reusable = s->server_reusable && s->req_body.done && buf_pending(&s->sout) == 0 &&
			buf_pending(&s->sin) == 0 && s->res_body.frame != FRAME_CLOSE &&
			s->sc && !s->sc->end.readable && !s->sc->end.rdhup;
	release_server(s, reusable);
	struct lb_worker *w = s->w;
	buf_give(w, &s->sin);
	buf_give(w, &s->sout);
	buf_settle(w, &s->cout);
	if (!s->keep_alive || !s->req_body.done) {
		/* A request body not read to its end leaves no boundary to find
		 * the next request at. */
		session_close(s, false);
		return;
	}
	buf_settle(w, &s->cin);
	s->state = ST_HEAD;
	s->pool = NULL;
	s->ntried = 0;
	s->status = 0;
	s->bytes_out = 0;
	s->method[0] = '\0';
	s->response_started = s->res_head = s->client_sent = false;
	s->idle_wait = buf_pending(&s->cin) == 0;
	if (s->idle_wait) {
		arm(s, s->lconf->keepalive_timeout_ms);
	} else {
		arm(s, s->lconf->header_timeout_ms);
	}
}

/* ---- the pump: move what can move, one state at a time ---- */

static bool step_handshake(struct http_session *s)
{
	int rc = tls_handshake(s->tls);
	if (rc == ERR_AGAIN) {
		/* The handshake waits for either direction: drop both flags,
		 * the next event sets the one that changed. */
		s->client.readable = s->client.writable = false;
		return false;
	}
	if (rc < 0) {
		log_debug("TLS handshake with %s failed", s->peer_ip);
		session_close(s, true);
		return true;
	}
	s->state = ST_HEAD;
	return true;
}

static bool step_head(struct http_session *s)
{
	size_t pending = buf_pending(&s->cin);
	if (pending) {
		int rc = http1_parse_request(s->cin.data + s->cin.off, pending,
					     s->lconf->max_header_size, &parsed_req);
		if (rc == 0) {
			start_request(s, &parsed_req);
			return true;
		}
		if (rc != ERR_AGAIN) {
			s->minor = 1;
			fail_request(s, rc == ERR_LIMIT ? 431 : 400);
			return true;
		}
	}
	if (!s->client.readable)
		return false;
	ssize_t n = end_read(s->w, &s->client, s->tls, &s->cin);
	if (n > 0) {
		if (s->idle_wait) {
			s->idle_wait = false;
			arm(s, s->lconf->header_timeout_ms);
		}
		return true;
	}
	if (n == ERR_AGAIN)
		return false;
	/* EOF or error: a client may close between requests; mid-head it
	 * gets nothing either, as it is no longer listening. */
	session_close(s, n < 0);
	return true;
}

/* Request bytes from client to server. */
static bool forward_request(struct http_session *s)
{
	bool progress = false;
	struct http_body *b = &s->req_body;
	if (!b->done && buf_pending(&s->cin)) {
		/* A buffer with sent bytes makes room by dropping them; while a
		 * retry may need them, it must grow instead. */
		size_t sent = s->sout.off;
		if (s->replayable)
			s->sout.off = 0;
		int rc = body_move(b, &s->cin, &s->sout);
		if (s->replayable)
			s->sout.off = sent;
		if (rc < 0) {
			fail_request(s, rc == ERR_PARSE ? 400 : 503);
			return true;
		}
		if (b->data > REPLAY_MAX)
			s->replayable = false;
		if (s->lconf->max_body_size && b->data > s->lconf->max_body_size) {
			fail_request(s, 413);
			return true;
		}
		progress = true;
	}
	if (!b->done && buf_pending(&s->cin) == 0 && buf_pending(&s->sout) < OUT_HIGH &&
	    s->client.readable) {
		ssize_t n = end_read(s->w, &s->client, s->tls, &s->cin);
		if (n == 0 || (n < 0 && n != ERR_AGAIN)) {
			log_request(s);
			session_close(s, true);  /* the client left mid-body */
			return true;
		}
		progress |= n > 0;
	}
	if (buf_pending(&s->sout) && s->sc->end.writable) {
		ssize_t n = end_write(&s->sc->end, NULL, &s->sout);
		if (n > 0) {
			atomic_fetch_add_explicit(&s->srv->bytes_to_server, (uint64_t)n,
						  memory_order_relaxed);
			if (buf_pending(&s->sout) == 0 && !s->replayable)
				buf_reset(&s->sout);
			progress = true;
		} else if (n != ERR_AGAIN) {
			server_gave_up(s, (int)n);
			return true;
		}
	}
	return progress;
}

/* Response bytes from server to client. */
static bool forward_response(struct http_session *s)
{
	bool progress = false;
	struct srvconn *sc = s->sc;
	bool want = s->res_head ? !s->res_body.done && buf_pending(&s->sin) == 0 &&
				  buf_pending(&s->cout) < OUT_HIGH
				: buf_pending(&s->sin) < s->lconf->max_header_size;
	if (want && sc->end.readable) {
		ssize_t n = end_read(s->w, &sc->end, NULL, &s->sin);
		if (n > 0) {
			if (!s->response_started) {
				s->response_started = true;
				s->replayable = false;
				server_observe_time(s->srv, (loop_clock_ns() - s->connect_start_ns) / 1000);
			}
			atomic_fetch_add_explicit(&s->srv->bytes_from_server, (uint64_t)n,
						  memory_order_relaxed);
			progress = true;
		} else if (n == 0 && s->res_head && s->res_body.frame == FRAME_CLOSE) {
			s->res_body.done = true;
			s->server_reusable = false;
			progress = true;
		} else if (n != ERR_AGAIN) {
			if (!s->response_started) {
				server_gave_up(s, n == 0 ? ERR_CLOSED : (int)n);
			} else {
				log_debug("server %s/%s closed mid-response", s->srv->pool_name,
					  s->srv->conf.name);
				fail_request(s, 502);
			}
			return true;
		}
	}
	while (!s->res_head && buf_pending(&s->sin) && s->state == ST_EXCHANGE) {
		size_t before = buf_pending(&s->sin);
		if (!read_response_head(s))
			break;
		if (s->closed || s->state != ST_EXCHANGE)
			return true;
		progress |= buf_pending(&s->sin) != before || s->res_head;
	}
	if (s->res_head && !s->res_body.done && buf_pending(&s->sin) &&
	    buf_pending(&s->cout) < OUT_HIGH) {
		buf_take(s->w, &s->cout);
		if (body_move(&s->res_body, &s->sin, &s->cout) < 0) {
			fail_request(s, 502);
			return true;
		}
		progress = true;
	}
	if (s->res_body.done && buf_pending(&s->sin)) {
		/* Bytes after the framed end: the connection is not to be trusted. */
		s->server_reusable = false;
		buf_reset(&s->sin);
	}
	return progress;
}

static bool flush_client(struct http_session *s)
{
	if (!buf_pending(&s->cout) || !s->client.writable)
		return false;
	ssize_t n = end_write(&s->client, s->tls, &s->cout);
	if (n > 0) {
		s->bytes_out += (uint64_t)n;
		if (buf_pending(&s->cout) == 0)
			buf_reset(&s->cout);
		return true;
	}
	if (n != ERR_AGAIN) {
		log_request(s);
		session_close(s, true);
		return true;
	}
	return false;
}

static bool step_exchange(struct http_session *s)
{
	if (!s->sc || !s->sc->connected)
		return false;
	bool progress = forward_request(s);
	if (s->closed || s->state != ST_EXCHANGE || !s->sc)
		return true;
	progress |= forward_response(s);
	if (s->closed || s->state != ST_EXCHANGE)
		return true;
	progress |= flush_client(s);
	if (s->closed)
		return true;
	if (s->res_head && s->res_body.done && buf_pending(&s->cout) == 0) {
		finish_exchange(s);
		return true;
	}
	return progress;
}

/* One direction of a tunnel: in -> out through the session's buffers. */
static bool tunnel_dir(struct http_session *s, struct http_end *src, tls_conn *src_tls,
		       struct buf *in, struct http_end *dst, tls_conn *dst_tls, bool *eof)
{
	bool progress = false;
	if (!*eof && buf_pending(in) == 0 && src->readable) {
		ssize_t n = end_read(s->w, src, src_tls, in);
		if (n == 0) {
			*eof = true;
			progress = true;
		} else if (n < 0 && n != ERR_AGAIN) {
			session_close(s, true);
			return true;
		}
		progress |= n > 0;
	}
	if (buf_pending(in) && dst->writable) {
		ssize_t n = end_write(dst, dst_tls, in);
		if (n > 0) {
			if (dst == &s->client)
				s->bytes_out += (uint64_t)n;
			if (buf_pending(in) == 0)
				buf_reset(in);
			progress = true;
		} else if (n != ERR_AGAIN) {
			session_close(s, true);
			return true;
		}
	}
	return progress;
}

static bool step_tunnel(struct http_session *s)
{
	struct http_end *srv = &s->sc->end;
	/* What the client sent after its request, and the server after its
	 * 101, already waits in cin and sin. */
	if (buf_pending(&s->cout) && !flush_client(s))
		return false;
	if (s->closed)
		return true;
	bool was_up = s->up_eof, was_down = s->down_eof;
	bool progress = tunnel_dir(s, &s->client, s->tls, &s->cin, srv, NULL, &s->up_eof);
	if (s->closed)
		return true;
	progress |= tunnel_dir(s, srv, NULL, &s->sin, &s->client, s->tls, &s->down_eof);
	if (s->closed)
		return true;
	if (s->up_eof && !was_up)
		shutdown(srv->io.fd, SHUT_WR);
	if (s->down_eof && !was_down) {
		if (s->tls)
			tls_shutdown(s->tls);
		shutdown(s->client.io.fd, SHUT_WR);
	}
	if (s->up_eof && s->down_eof && !buf_pending(&s->cin) && !buf_pending(&s->sin)) {
		log_request(s);
		session_close(s, false);
		return true;
	}
	return progress;
}

static bool step_closing(struct http_session *s)
{
	if (flush_client(s))
		return true;
	if (s->closed || buf_pending(&s->cout))
		return false;
	/* Closing with unread input would reset the connection and could
	 * destroy the response in flight: stop writing, read the rest away. */
	if (s->tls)
		tls_shutdown(s->tls);
	shutdown(s->client.io.fd, SHUT_WR);
	s->state = ST_LINGER;
	arm(s, LINGER_MS);
	return true;
}

static bool step_linger(struct http_session *s)
{
	for (int i = 0; i < 4 && s->client.readable; i++) {
		buf_reset(&s->cin);
		ssize_t n = end_read(s->w, &s->client, s->tls, &s->cin);
		if (n == ERR_AGAIN)
			return false;
		if (n <= 0) {
			session_close(s, false);
			return true;
		}
	}
	buf_reset(&s->cin);
	return false;
}

static void pump(struct http_session *s)
{
	if (s->closed)
		return;
	for (int round = 0; round < WAKE_BUDGET; round++) {
		bool progress = false;
		switch (s->state) {
		case ST_HANDSHAKE: progress = step_handshake(s); break;
		case ST_HEAD:      progress = step_head(s); break;
		case ST_EXCHANGE:  progress = step_exchange(s); break;
		case ST_TUNNEL:    progress = step_tunnel(s); break;
		case ST_CLOSING:   progress = step_closing(s); break;
		case ST_LINGER:    progress = step_linger(s); break;
		}
		if (s->closed || !progress)
			return;
		s->last_active_ms = loop_now(s->w->loop);
	}
	loop_timer_arm(s->w->loop, &s->resume, 0);
}

/* ---- events and timers ---- */

static void on_client(struct loop_io *io, uint32_t events)
{
	struct http_session *s = container_of(io, struct http_session, client.io);
	if (s->closed)
		return;
	mark_ready(&s->client, events);
	pump(s);
}

static void on_resume(struct timer *t)
{
	pump(container_of(t, struct http_session, resume));
}

static void on_timeout(struct timer *t)
{
	struct http_session *s = container_of(t, struct http_session, timeout);
	uint64_t now = loop_now(s->w->loop);
	switch (s->state) {
	case ST_HANDSHAKE:
	case ST_LINGER:
		session_close(s, false);
		return;
	case ST_HEAD:
		if (s->idle_wait)
			session_close(s, false);
		else
			fail_request(s, 408);
		pump(s);
		return;
	case ST_CLOSING:
		session_close(s, true);
		return;
	case ST_TUNNEL: {
		uint64_t due = s->last_active_ms + s->lconf->idle_timeout_ms;
		if (now >= due)
			session_close(s, false);
		else
			arm(s, due - now);
		return;
	}
	case ST_EXCHANGE:
		break;
	}
	if (s->limit.call.client) {
		struct rl_result decision;
		limit_decided(s, limit_timeout(s->gen, &s->limit, &decision), &decision);
		return;
	}
	if (!s->sc || !s->sc->connected) {
		if (s->sc)
			note_connect_failure(s, -ETIMEDOUT);
		attach_server(s);
		pump(s);
		return;
	}
	uint64_t due = s->last_active_ms + s->pool->conf.response_timeout_ms;
	if (now < due) {
		arm(s, due - now);
		return;
	}
	if (s->res_head) {
		log_request(s);
		session_close(s, true);
		return;
	}
	log_debug("server %s/%s: no response in %llu ms", s->srv->pool_name, s->srv->conf.name,
		  (unsigned long long)s->pool->conf.response_timeout_ms);
	fail_request(s, 504);
	pump(s);
}

/* ---- the worker's side ---- */

void http_session_start(struct lb_accept *a, int fd, const struct sock_addr *peer)
{
	struct lb_worker *w = a->worker;
	struct http_session *s = calloc(1, sizeof(*s));
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
	s->listener = a->index;
	s->peer = *peer;
	sock_addr_host(peer, s->peer_ip, sizeof(s->peer_ip));
	s->client.io.fd = fd;
	s->client.io.fn = on_client;
	s->free_later.fn = session_free;
	timer_init(&s->timeout, on_timeout);
	timer_init(&s->resume, on_resume);
	atomic_fetch_add_explicit(&w->sessions, 1, memory_order_relaxed);
	s->next = w->http_list;
	if (s->next)
		s->next->prev = s;
	w->http_list = s;
	s->state = ST_HEAD;
	struct tls_server *tls = s->gen->tls[a->index];
	if (tls) {
		if (tls_accept(tls, fd, &s->tls) < 0) {
			s->tls = NULL;
			session_close(s, true);
			return;
		}
		s->state = ST_HANDSHAKE;
	}
	arm(s, s->lconf->header_timeout_ms);
	if (loop_add(w->loop, &s->client.io, LOOP_READ | LOOP_WRITE | LOOP_RDHUP | LOOP_EDGE) < 0) {
		session_close(s, true);
		return;
	}
	/* Clients usually send at once: try to read before epoll says so. */
	s->client.readable = s->client.writable = true;
	pump(s);
}

void http_worker_drain(struct lb_worker *w)
{
	struct http_session *s = w->http_list;
	while (s) {
		struct http_session *next = s->next;
		if (s->state == ST_HEAD && s->idle_wait)
			session_close(s, false);
		s = next;
	}
	srvconn_close_idle(w);
}

void http_worker_release(struct lb_worker *w)
{
	while (w->http_list)
		session_close(w->http_list, false);
	srvconn_close_idle(w);
	if (w->lb->access_fd >= 0)
		access_log_flush(w);
	buf_free(&w->access_buf);
}
