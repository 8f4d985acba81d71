#include "net/respd.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/glob.h"
#include "net/sock.h"

#define OUT_HIGH (1024 * 1024)    /* stop reading a client that does not read */

struct conn;

struct respd {
	struct loop *loop;
	struct loop_io listener;
	respd_handler handler;
	void *arg;
	struct conn *conns;               /* open ones, closed by respd_destroy */
	struct conn *pending;             /* with replies of this batch, to write after it */
	struct loop_deferred flush_later;
	bool flush_armed;
	int (*before_write)(void *arg);   /* the service's hook before the batch's replies */
	void *hook_arg;
	_Atomic uint64_t commands, clients;  /* read by other threads (INFO) */
	uint64_t next_id;
	_Atomic size_t max_bulk, max_query;   /* CONFIG SET may change them from another thread */
	struct resp_command *cmd;         /* the one being run (large: kept here) */
};

struct conn {
	struct loop_io io;
	struct respd *d;
	struct conn *prev, *next;
	struct buf in, out;
	struct respd_client client;
	uint32_t events;                  /* registered with the loop */
	struct conn *pending_next;
	bool pending;
	bool closing;                     /* close once `out` is written */
	struct loop_deferred free_later;
};


static void conn_free(struct loop_deferred *dd)
{
	struct conn *c = container_of(dd, struct conn, free_later);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void conn_close(struct conn *c)
{
	if (c->pending) {
		struct conn **p = &c->d->pending;
		while (*p != c)
			p = &(*p)->pending_next;
		*p = c->pending_next;
		c->pending = false;
	}
	loop_del(c->d->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub_explicit(&c->d->clients, 1, memory_order_relaxed);
	c->free_later.fn = conn_free;
	loop_defer(c->d->loop, &c->free_later);
}

void respd_wrong_arity(struct buf *out, const struct resp_command *cmd)
{
	char msg[96];
	char lower[32];
	const struct resp_arg *name = &cmd->args[0];
	size_t n = name->len < sizeof(lower) - 1 ? name->len : sizeof(lower) - 1;
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)(name->p[i] >= 'A' && name->p[i] <= 'Z' ? name->p[i] + 32 : name->p[i]);
	lower[n] = '\0';
	snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", lower);
	resp_error(out, msg);
}

void respd_config_get(struct buf *out, int proto, const struct resp_arg *patterns,
		      size_t npatterns, const char *const *names, const char *const *values,
		      size_t n)
{
	bool hit[64] = { false };
	size_t matched = 0;
	for (size_t a = 0; a < npatterns; a++)
		for (size_t i = 0; i < n && i < 64; i++)
			if (!hit[i] && glob_match(patterns[a].p, patterns[a].len, names[i],
						  strlen(names[i]), true)) {
				hit[i] = true;
				matched++;
			}
	resp_map(out, matched, proto);
	for (size_t i = 0; i < n && i < 64; i++)
		if (hit[i]) {
			resp_bulk(out, names[i], strlen(names[i]));
			resp_bulk(out, values[i], strlen(values[i]));
		}
}

static void unknown(struct buf *out, const struct resp_command *cmd)
{
	struct buf msg = BUF_INIT;
	buf_puts(&msg, "ERR unknown command '");
	buf_append(&msg, cmd->args[0].p, cmd->args[0].len > 128 ? 128 : cmd->args[0].len);
	buf_puts(&msg, "', with args beginning with: ");
	for (size_t i = 1; i < cmd->argc && i < 4; i++) {
		buf_puts(&msg, "'");
		buf_append(&msg, cmd->args[i].p, cmd->args[i].len > 64 ? 64 : cmd->args[i].len);
		buf_puts(&msg, "' ");
	}
	buf_append(&msg, "", 1);
	/* Redis's reply is one line: CR and LF in the echoed bytes become spaces. */
	for (char *p = msg.data; p && *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	resp_error(out, msg.oom ? "ERR unknown command" : msg.data);
	buf_free(&msg);
}

/* Run the parsed command; false when the connection is to close after the reply. */
static bool execute(struct conn *c, const struct resp_command *cmd)
{
	struct buf *out = &c->out;
	const struct resp_arg *name = &cmd->args[0];
	atomic_fetch_add_explicit(&c->d->commands, 1, memory_order_relaxed);
	if (c->d->handler(c->d->arg, &c->client, cmd, out))
		return !c->client.close;
	if (resp_arg_is(name, "ping")) {
		if (cmd->argc == 1)
			resp_simple(out, "PONG");
		else if (cmd->argc == 2)
			resp_bulk(out, cmd->args[1].p, cmd->args[1].len);
		else
			respd_wrong_arity(out, cmd);
	} else if (resp_arg_is(name, "echo")) {
		if (cmd->argc == 2)
			resp_bulk(out, cmd->args[1].p, cmd->args[1].len);
		else
			respd_wrong_arity(out, cmd);
	} else if (resp_arg_is(name, "command")) {
		resp_array(out, 0);
	} else if (resp_arg_is(name, "quit")) {
		resp_simple(out, "OK");
		return false;
	} else {
		unknown(out, cmd);
	}
	return true;
}

/* Register for `events` only when that changes (no epoll_ctl per reply). */
static void watch(struct conn *c, uint32_t events)
{
	if (c->events != events && loop_mod(c->d->loop, &c->io, events) == 0)
		c->events = events;
}

static void flush(struct conn *c)
{
	while (buf_pending(&c->out)) {
		ssize_t n = send(c->io.fd, c->out.data + c->out.off, buf_pending(&c->out), MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* Level-triggered: stop watching input we would not read. */
			bool reading = !c->closing && buf_pending(&c->out) < OUT_HIGH;
			watch(c, LOOP_WRITE | (reading ? LOOP_READ : 0));
			return;
		}
		conn_close(c);
		return;
	}
	if (c->closing) {
		conn_close(c);
		return;
	}
	watch(c, LOOP_READ);
}

static void on_conn(struct loop_io *io, uint32_t events)
{
	struct conn *c = container_of(io, struct conn, io);
	if (io->fd < 0)
		return;
	if ((events & (LOOP_READ | LOOP_HUP | LOOP_ERR)) && !c->closing &&
	    buf_pending(&c->out) < OUT_HIGH) {
		if (buf_reserve(&c->in, 16384) < 0) {
			conn_close(c);
			return;
		}
		ssize_t n = recv(io->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n > 0)
			c->in.len += (size_t)n;
		while (buf_pending(&c->in) && !c->closing) {
			struct resp_command *cmd = c->d->cmd;
			int rc = resp_parse(c->in.data + c->in.off, buf_pending(&c->in), c->d->max_bulk,
					    cmd);
			if (rc == ERR_AGAIN) {
				if (buf_pending(&c->in) > c->d->max_query) {
					resp_error(&c->out, "ERR Protocol error: too big query");
					c->closing = true;
				}
				break;
			}
			if (rc < 0) {
				resp_error(&c->out, cmd->error);
				c->closing = true;
				break;
			}
			if (cmd->argc && !execute(c, cmd))
				c->closing = true;
			buf_consume(&c->in, cmd->used);
		}
		if (c->out.oom) {
			conn_close(c);
			return;
		}
		if (!c->pending && (buf_pending(&c->out) || c->closing)) {
			/* Written after the batch, once the service's hook has run. */
			c->pending = true;
			c->pending_next = c->d->pending;
			c->d->pending = c;
			if (!c->d->flush_armed) {
				c->d->flush_armed = true;
				loop_defer(c->d->loop, &c->d->flush_later);
			}
		}
		if (c->pending)
			return;
	}
	flush(c);
}

static void flush_batch(struct loop_deferred *dd)
{
	struct respd *d = container_of(dd, struct respd, flush_later);
	d->flush_armed = false;
	/* A hook that fails (a group commit that did not reach the disk) means
	 * the replies must not go out: those clients are disconnected. */
	bool drop = d->before_write && d->before_write(d->hook_arg) < 0;
	while (d->pending) {
		struct conn *c = d->pending;
		d->pending = c->pending_next;
		c->pending = false;
		if (drop)
			conn_close(c);
		else
			flush(c);
	}
}

static void on_accept(struct loop_io *io, uint32_t events)
{
	(void)events;
	struct respd *d = container_of(io, struct respd, listener);
	for (int i = 0; i < 64; i++) {
		struct sock_addr peer;
		int fd = sock_accept(io->fd, &peer);
		if (fd < 0)
			return;
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->d = d;
		c->client.proto = 2;
		c->client.id = ++d->next_id;
		c->client.local = sock_addr_is_loopback(&peer);
		c->io.fd = fd;
		c->io.fn = on_conn;
		if (loop_add(d->loop, &c->io, LOOP_READ) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->events = LOOP_READ;
		c->next = d->conns;
		if (c->next)
			c->next->prev = c;
		d->conns = c;
		atomic_fetch_add_explicit(&d->clients, 1, memory_order_relaxed);
	}
}

int respd_create(struct loop *l, int listen_fd, bool shared, respd_handler handler, void *arg,
		 struct respd **out)
{
	struct respd *d = calloc(1, sizeof(*d));
	if (!d || !(d->cmd = malloc(sizeof(*d->cmd)))) {
		free(d);
		return -ENOMEM;
	}
	d->loop = l;
	d->handler = handler;
	d->arg = arg;
	d->flush_later.fn = flush_batch;
	respd_set_max_bulk(d, RESPD_MAX_BULK);
	d->listener.fd = listen_fd;
	d->listener.fn = on_accept;
	int rc = loop_add(l, &d->listener, LOOP_READ | (shared ? LOOP_EXCLUSIVE : 0));
	if (rc < 0) {
		free(d->cmd);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void respd_set_max_bulk(struct respd *d, size_t max_bulk)
{
	d->max_bulk = max_bulk;
	d->max_query = max_bulk + 1024 * 1024;  /* the rest of the command around it */
}

void respd_before_write(struct respd *d, int (*hook)(void *arg), void *arg)
{
	d->before_write = hook;
	d->hook_arg = arg;
}

void respd_destroy(struct respd *d)
{
	if (!d)
		return;
	loop_del(d->loop, &d->listener);
	while (d->conns)
		conn_close(d->conns);
	free(d->cmd);
	free(d);
}

uint64_t respd_commands(const struct respd *d)
{
	return atomic_load_explicit(&((struct respd *)d)->commands, memory_order_relaxed);
}

uint64_t respd_clients(const struct respd *d)
{
	return atomic_load_explicit(&((struct respd *)d)->clients, memory_order_relaxed);
}
