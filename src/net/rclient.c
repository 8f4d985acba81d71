#include "net/rclient.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define REPLY_MAX_BULK (64 * 1024 * 1024)

enum rclient_state { RC_IDLE, RC_CONNECTING, RC_UP, RC_BACKOFF };

struct pending {
	rclient_fn fn;                   /* NULL once cancelled, or for no one */
	void *arg;
	uint64_t sent_ms;
	bool unowned;                    /* hello or fire-and-forget: log an error */
};

struct rclient {
	struct loop *loop;
	struct loop_io io;
	struct rclient_opts opts;
	struct buf hello;
	enum rclient_state state;
	int last_error;                  /* why the last connection ended */
	uint64_t backoff_ms;
	struct timer timer;              /* connect or reply deadline; backoff */
	uint32_t events;                 /* registered with the loop */
	struct buf out, in;
	struct pending *q;               /* call id -> q[id & (cap - 1)] */
	size_t cap;
	uint64_t head, tail;             /* ids waiting: [head, tail) */
	bool lost;                       /* the store is known to be unreachable */
	char name[SOCK_ADDR_STRLEN];     /* for log lines */
	struct loop_deferred flush_later;
	bool flush_armed;
	struct resp_reply reply;
};

static void on_io(struct loop_io *io, uint32_t events);
static void on_timer(struct timer *t);
static void on_flush(struct loop_deferred *d);

int rclient_create(struct loop *l, const struct rclient_opts *opts, struct rclient **out)
{
	struct rclient *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->opts = *opts;
	c->io.fd = -1;
	c->io.fn = on_io;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->flush_later.fn = on_flush;
	c->head = c->tail = 1024;  /* room below for each connection's hello entries */
	sock_addr_str(&opts->addr, c->name, sizeof(c->name));
	timer_init(&c->timer, on_timer);
	if (opts->hello) {
		buf_append(&c->hello, opts->hello->data + opts->hello->off, buf_pending(opts->hello));
		if (c->hello.oom) {
			free(c);
			return -ENOMEM;
		}
	}
	c->opts.hello = NULL;
	*out = c;
	return 0;
}

static void close_fd(struct rclient *c)
{
	if (c->io.fd < 0)
		return;
	loop_del(c->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	c->events = 0;
}

void rclient_destroy(struct rclient *c)
{
	if (!c)
		return;
	close_fd(c);
	loop_timer_cancel(c->loop, &c->timer);
	buf_free(&c->hello);
	buf_free(&c->out);
	buf_free(&c->in);
	free(c->q);
	free(c);
}

bool rclient_idle(const struct rclient *c)
{
	return c->head == c->tail && !c->flush_armed;
}

const struct sock_addr *rclient_addr(const struct rclient *c)
{
	return &c->opts.addr;
}

static struct pending *slot(struct rclient *c, uint64_t id)
{
	return &c->q[id & (c->cap - 1)];
}

/* Register for what the connection waits for: writability while connecting
 * or while output is pending, readability once up. */
static void watch(struct rclient *c)
{
	uint32_t want = c->state == RC_CONNECTING ? LOOP_WRITE
		      : LOOP_READ | (buf_pending(&c->out) ? LOOP_WRITE : 0);
	if (want == c->events)
		return;
	if ((c->events ? loop_mod(c->loop, &c->io, want) : loop_add(c->loop, &c->io, want)) == 0)
		c->events = want;
}

/* Arm the timer for the oldest call's deadline (or the connect's). */
static void arm_deadline(struct rclient *c)
{
	if (c->head == c->tail && c->state != RC_CONNECTING) {
		loop_timer_cancel(c->loop, &c->timer);
		return;
	}
	uint64_t now = loop_now(c->loop), start = c->head < c->tail ? slot(c, c->head)->sent_ms : now;
	uint64_t due = start + c->opts.reply_timeout_ms;
	loop_timer_arm(c->loop, &c->timer, due > now ? due - now : 0);
}

/* The connection is lost (or never made): every waiting call fails with rc,
 * and the client waits before connecting again. */
static void fail(struct rclient *c, int rc)
{
	if (c->state == RC_BACKOFF)
		return;  /* failed already (from inside a callback) */
	if (!c->lost)
		log_warn("store %s: %s: %s", c->name,
			 c->state == RC_UP ? "connection lost" : "cannot connect", err_str(rc));
	c->lost = true;
	close_fd(c);
	buf_reset(&c->out);
	buf_reset(&c->in);
	c->state = RC_BACKOFF;
	c->last_error = rc;
	loop_timer_arm(c->loop, &c->timer, c->backoff_ms);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	/* Callbacks may call again: they fail at once while backing off. */
	while (c->head < c->tail) {
		struct pending p = *slot(c, c->head++);
		if (p.fn)
			p.fn(p.arg, rc, NULL);
	}
}

static int grow(struct rclient *c);

static void connected(struct rclient *c)
{
	c->state = RC_UP;
	c->backoff_ms = BACKOFF_MIN_MS;
	/* The hello goes before the calls queued while connecting, its replies
	 * too: its entries take the ids just below the queue's. */
	while (c->tail - c->head + (size_t)c->opts.nhello > c->cap)
		if (grow(c) < 0) {
			fail(c, -ENOMEM);
			return;
		}
	for (int i = 0; i < c->opts.nhello; i++)
		*slot(c, --c->head) = (struct pending){ NULL, NULL, loop_now(c->loop), true };
	struct buf queued = c->out;
	c->out = (struct buf)BUF_INIT;
	buf_append(&c->out, c->hello.data + c->hello.off, buf_pending(&c->hello));
	buf_append(&c->out, queued.data + queued.off, buf_pending(&queued));
	buf_free(&queued);
	if (c->out.oom) {
		fail(c, -ENOMEM);
		return;
	}
	if (c->lost)
		log_warn("store %s: connected again", c->name);
	c->lost = false;
	arm_deadline(c);
}

static int start_connect(struct rclient *c)
{
	int fd = sock_connect(&c->opts.addr);
	if (fd < 0)
		return fd;
	c->io.fd = fd;
	c->state = RC_CONNECTING;
	watch(c);
	return 0;
}

static int flush(struct rclient *c)
{
	while (buf_pending(&c->out)) {
		ssize_t n = send(c->io.fd, c->out.data + c->out.off, buf_pending(&c->out), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : err_sys();
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/* Hand every complete reply to its call. */
static int dispatch(struct rclient *c)
{
	for (;;) {
		int rc = resp_parse_reply(c->in.data + c->in.off, buf_pending(&c->in), REPLY_MAX_BULK,
					  &c->reply);
		if (rc == ERR_AGAIN)
			return 0;
		if (rc < 0)
			return ERR_PARSE;
		if (c->head < c->tail) {
			struct pending p = *slot(c, c->head++);
			if (p.fn) {
				p.fn(p.arg, 0, &c->reply.v[0]);
				if (c->state != RC_UP)
					return ERR_CLOSED;  /* the callback's own call failed it */
			} else if (p.unowned && c->reply.v[0].type == RESP_ERROR)
				log_warn("store %s: %.*s", c->name, (int)c->reply.v[0].len,
					 c->reply.v[0].p);
		} else {
			return ERR_PARSE;  /* a reply nobody asked for */
		}
		buf_consume(&c->in, c->reply.used);
	}
}

static int read_replies(struct rclient *c)
{
	for (;;) {
		if (buf_reserve(&c->in, 16384) < 0)
			return -ENOMEM;
		ssize_t n = recv(c->io.fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
		if (n == 0)
			return ERR_CLOSED;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : err_sys();
		c->in.len += (size_t)n;
		int rc = dispatch(c);
		if (rc < 0)
			return rc;
		if (c->in.off == c->in.len)
			buf_reset(&c->in);
	}
}

static void on_io(struct loop_io *io, uint32_t events)
{
	struct rclient *c = container_of(io, struct rclient, io);
	int rc = 0;
	if (c->state == RC_CONNECTING) {
		rc = sock_error(io->fd);
		if (rc < 0) {
			fail(c, rc);
			return;
		}
		connected(c);
		if (c->state != RC_UP)
			return;
	}
	if ((events & (LOOP_READ | LOOP_HUP | LOOP_ERR)) && (rc = read_replies(c)) < 0) {
		fail(c, rc);
		return;
	}
	if ((rc = flush(c)) < 0) {
		fail(c, rc);
		return;
	}
	arm_deadline(c);
	watch(c);
}

static void on_timer(struct timer *t)
{
	struct rclient *c = container_of(t, struct rclient, timer);
	if (c->state == RC_BACKOFF) {
		c->state = RC_IDLE;  /* the next call connects */
		return;
	}
	if (c->state == RC_CONNECTING) {
		fail(c, -ETIMEDOUT);
		return;
	}
	if (c->head < c->tail &&
	    loop_now(c->loop) >= slot(c, c->head)->sent_ms + c->opts.reply_timeout_ms) {
		fail(c, -ETIMEDOUT);
		return;
	}
	arm_deadline(c);
}

static int grow(struct rclient *c)
{
	size_t cap = c->cap ? c->cap * 2 : 64;
	struct pending *q = malloc(cap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (uint64_t id = c->head; id < c->tail; id++)
		q[id & (cap - 1)] = *slot(c, id);
	free(c->q);
	c->q = q;
	c->cap = cap;
	return 0;
}

int rclient_call(struct rclient *c, const char *cmd, size_t len, rclient_fn fn, void *arg,
		 uint64_t *id)
{
	if (c->state == RC_BACKOFF)
		return c->last_error ? c->last_error : ERR_CLOSED;
	if (c->tail - c->head >= RCLIENT_MAX_PENDING)
		return -ENOBUFS;
	if (c->tail - c->head == c->cap && grow(c) < 0)
		return -ENOMEM;
	if (c->state == RC_IDLE) {
		int rc = start_connect(c);
		if (rc < 0) {
			fail(c, rc);
			return rc;
		}
	}
	buf_append(&c->out, cmd, len);
	if (c->out.oom) {
		fail(c, -ENOMEM);
		return -ENOMEM;
	}
	*id = c->tail;
	*slot(c, c->tail++) = (struct pending){ fn, arg, loop_now(c->loop), fn == NULL };
	if (!timer_armed(&c->timer))
		arm_deadline(c);
	if (c->state == RC_UP && !c->flush_armed) {
		/* One send for all the calls of this batch of events. */
		c->flush_armed = true;
		loop_defer(c->loop, &c->flush_later);
	}
	return 0;
}

static void on_flush(struct loop_deferred *d)
{
	struct rclient *c = container_of(d, struct rclient, flush_later);
	c->flush_armed = false;
	if (c->state != RC_UP)
		return;
	int rc = flush(c);
	if (rc < 0)
		fail(c, rc);
	else
		watch(c);
}

void rclient_cancel(struct rclient *c, uint64_t id)
{
	if (id >= c->head && id < c->tail)
		slot(c, id)->fn = NULL;
}
