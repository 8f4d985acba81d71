#include "net/httpd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "net/sock.h"

#define HTTPD_MAX_HEAD    (32 * 1024)
#define HTTPD_READ_CHUNK  (16 * 1024)
#define HTTPD_OUT_HIGH    (1024 * 1024)  /* stop reading while this much is unsent */
#define HTTPD_IDLE_MS     60000

#define HTTPD_ACCEPT_PAUSE_MS 100

struct httpd {
	struct loop *loop;
	struct loop_io listener;
	uint32_t listen_events;
	struct timer resume;     /* re-listen after running out of fds */
	uint64_t next_warning_ms; /* rate limit of that log line */
	httpd_handler handler;
	void *arg;
	struct httpd_conn *conns;   /* doubly linked, for destroy */
};

enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

struct httpd_conn {
	struct httpd *srv;
	struct httpd_conn *prev, *next;
	struct loop_io io;
	struct timer idle;
	struct loop_deferred free_later;
	struct buf in, out;
	enum body_mode body;
	uint64_t body_left;
	struct http1_chunked chunk;
	bool readable, closing, close_after_flush;
};

static void conn_free(struct loop_deferred *d)
{
	struct httpd_conn *c = container_of(d, struct httpd_conn, free_later);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void conn_close(struct httpd_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	struct httpd *s = c->srv;
	loop_timer_cancel(s->loop, &c->idle);
	close(c->io.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	loop_defer(s->loop, &c->free_later);
}

/* A reply to HEAD carries the headers of the GET reply without its body. */
static void append_reply(struct httpd_conn *c, int minor, bool keep_alive, bool head,
			 struct httpd_reply *r)
{
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nServer: strata\r\nContent-Type: %s\r\n"
		   "Content-Length: %zu\r\n%s\r\n",
		   r->status, http1_reason(r->status),
		   r->content_type ? r->content_type : "text/plain; charset=utf-8",
		   buf_pending(&r->body),
		   !keep_alive ? "Connection: close\r\n" :
		   minor == 0 ? "Connection: keep-alive\r\n" : "");
	if (!head)
		buf_append(&c->out, r->body.data + r->body.off, buf_pending(&r->body));
}

static void reply_error(struct httpd_conn *c, int status)
{
	struct httpd_reply r = { .status = status, .body = BUF_INIT };
	buf_printf(&r.body, "%d %s\n", status, http1_reason(status));
	append_reply(c, 1, false, false, &r);
	buf_free(&r.body);
	c->close_after_flush = true;
}

/* Skip body bytes at the front of the input; false on a framing error. */
static bool skip_body(struct httpd_conn *c)
{
	size_t avail = buf_pending(&c->in);
	if (c->body == BODY_LENGTH) {
		size_t n = avail < c->body_left ? avail : (size_t)c->body_left;
		buf_consume(&c->in, n);
		c->body_left -= n;
		if (c->body_left == 0)
			c->body = BODY_NONE;
	} else if (c->body == BODY_CHUNKED) {
		size_t used;
		int rc = http1_chunked_feed(&c->chunk, c->in.data + c->in.off, avail, &used, NULL);
		if (rc == ERR_PARSE)
			return false;
		buf_consume(&c->in, used);
		if (rc == 0)
			c->body = BODY_NONE;
	}
	return true;
}

/* Answer the complete requests in the input buffer, until the output holds
 * HTTPD_OUT_HIGH bytes. Returns true when it stopped for that reason with
 * input left to process. */
static bool process(struct httpd_conn *c)
{
	struct http1_request req;
	for (;;) {
		if (c->close_after_flush)
			return false;
		if (buf_pending(&c->out) >= HTTPD_OUT_HIGH)
			return buf_pending(&c->in) > 0;
		if (c->body != BODY_NONE) {
			if (!skip_body(c)) {
				reply_error(c, 400);
				return false;
			}
			if (c->body != BODY_NONE)
				return false;
		}
		if (buf_pending(&c->in) == 0)
			return false;
		int rc = http1_parse_request(c->in.data + c->in.off, buf_pending(&c->in),
					     HTTPD_MAX_HEAD, &req);
		if (rc == ERR_AGAIN)
			return false;
		if (rc < 0) {
			reply_error(c, rc == ERR_LIMIT ? 431 : 400);
			return false;
		}
		struct httpd_reply r = { .status = 200, .body = BUF_INIT };
		c->srv->handler(c->srv->arg, &req, &r);
		bool head = req.method_len == 4 && memcmp(req.method, "HEAD", 4) == 0;
		append_reply(c, req.minor, req.keep_alive, head, &r);
		buf_free(&r.body);
		if (!req.keep_alive)
			c->close_after_flush = true;
		buf_consume(&c->in, req.head_len);
		if (req.chunked) {
			c->body = BODY_CHUNKED;
			http1_chunked_init(&c->chunk);
		} else if (req.content_length) {
			c->body = BODY_LENGTH;
			c->body_left = req.content_length;
		}
	}
}

/* Write what is pending. Returns false when the connection was closed. */
static bool flush(struct httpd_conn *c)
{
	while (buf_pending(&c->out)) {
		ssize_t n = write(c->io.fd, c->out.data + c->out.off, buf_pending(&c->out));
		if (n < 0) {
			if (errno == EAGAIN)
				return true;
			if (errno == EINTR)
				continue;
			conn_close(c);
			return false;
		}
		buf_consume(&c->out, (size_t)n);
	}
	if (c->close_after_flush) {
		conn_close(c);
		return false;
	}
	return true;
}

static void conn_event(struct loop_io *io, uint32_t events)
{
	struct httpd_conn *c = container_of(io, struct httpd_conn, io);
	if (c->closing)
		return;
	if (events & (LOOP_READ | LOOP_HUP | LOOP_ERR | LOOP_RDHUP))
		c->readable = true;

	for (;;) {
		bool more = process(c);
		if (!flush(c))
			return;
		if (c->close_after_flush || buf_pending(&c->out) >= HTTPD_OUT_HIGH)
			break;  /* wait until the peer reads */
		if (more)
			continue;
		if (!c->readable)
			break;
		if (buf_reserve(&c->in, HTTPD_READ_CHUNK) < 0) {
			conn_close(c);
			return;
		}
		ssize_t n = read(io->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->readable = false;
			break;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->in.len += (size_t)n;
	}
	loop_timer_arm(c->srv->loop, &c->idle, HTTPD_IDLE_MS);
}

static void conn_idle(struct timer *t)
{
	conn_close(container_of(t, struct httpd_conn, idle));
}

static void resume_accepting(struct timer *t)
{
	struct httpd *s = container_of(t, struct httpd, resume);
	loop_add(s->loop, &s->listener, s->listen_events);
}

static void on_accept(struct loop_io *io, uint32_t events)
{
	struct httpd *s = container_of(io, struct httpd, listener);
	(void)events;
	for (int i = 0; i < 64; i++) {
		int fd = sock_accept(io->fd, NULL);
		if (fd == ERR_AGAIN)
			return;
		if (fd < 0) {
			if (err_is_shortage(fd)) {
				/* The listener would stay readable: pause it instead of spinning. */
				if (loop_now(s->loop) >= s->next_warning_ms) {
					log_error("accept: %s; pausing accepts %d ms at a time "
						  "(logged every 10 s)", err_str(fd), HTTPD_ACCEPT_PAUSE_MS);
					s->next_warning_ms = loop_now(s->loop) + 10000;
				}
				loop_del(s->loop, &s->listener);
				loop_timer_arm(s->loop, &s->resume, HTTPD_ACCEPT_PAUSE_MS);
			}
			return;
		}
		struct httpd_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->srv = s;
		c->io.fd = fd;
		c->io.fn = conn_event;
		c->free_later.fn = conn_free;
		timer_init(&c->idle, conn_idle);
		if (loop_add(s->loop, &c->io, LOOP_READ | LOOP_WRITE | LOOP_RDHUP | LOOP_EDGE) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		loop_timer_arm(s->loop, &c->idle, HTTPD_IDLE_MS);
	}
}

int httpd_create(struct loop *l, int listen_fd, bool shared, httpd_handler handler,
		 void *arg, struct httpd **out)
{
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = l;
	h->handler = handler;
	h->arg = arg;
	h->listener.fd = listen_fd;
	h->listener.fn = on_accept;
	h->listen_events = LOOP_READ | (shared ? LOOP_EXCLUSIVE : 0);
	timer_init(&h->resume, resume_accepting);
	int rc = loop_add(l, &h->listener, h->listen_events);
	if (rc < 0) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void httpd_destroy(struct httpd *h)
{
	if (!h)
		return;
	if (timer_armed(&h->resume))
		loop_timer_cancel(h->loop, &h->resume);
	else
		loop_del(h->loop, &h->listener);
	while (h->conns)
		conn_close(h->conns);
	free(h);
}
