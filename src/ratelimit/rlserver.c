#include "ratelimit/rlserver.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "algo/ratelimit.h"
#include "algo/rltable.h"
#include "core/buf.h"
#include "core/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/signals.h"
#include "net/sock.h"
#include "proto/resp.h"

#define MAX_BULK      (512 * 1024)     /* a key longer than this is no key */
#define MAX_QUERY     (1024 * 1024)    /* unparsed input per connection */
#define OUT_HIGH      (1024 * 1024)    /* stop reading a client that does not read */

static const char usage[] =
	"usage: strata ratelimit serve --listen ADDR:PORT [--max-keys N] [--log-level L]\n"
	"\n"
	"A Redis-protocol rate-limit service: CL.THROTTLE key max_burst count period [quantity]\n"
	"answers like the redis-cell module (limited, limit, remaining, retry_after, reset_after).\n"
	"\n"
	"  -l, --listen ADDR:PORT   address to serve (required)\n"
	"  -k, --max-keys N         keys kept at most, idle ones dropped (default 1000000)\n"
	"      --log-level L        error, warn, info (default), debug\n"
	"  -h, --help               this help\n";

struct conn;

struct server {
	struct loop *loop;
	struct loop_io listener;
	struct rl_table *table;
	struct signals *signals;
	struct timer sweep;               /* drops idle keys every second */
	struct conn *conns;               /* open ones, freed at exit */
	uint64_t commands;
};

struct conn {
	struct loop_io io;
	struct server *srv;
	struct conn *prev, *next;
	struct buf in, out;
	bool closing;                     /* close once `out` is written */
	struct loop_deferred free_later;
};

static _Thread_local struct resp_command cmd;

static void conn_free(struct loop_deferred *d)
{
	struct conn *c = container_of(d, struct conn, free_later);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void conn_close(struct conn *c)
{
	close(c->io.fd);
	c->io.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->free_later.fn = conn_free;
	loop_defer(c->srv->loop, &c->free_later);
}

struct throttle_call {
	uint64_t now;
	int64_t burst, count, period, quantity;
	struct rl_cell_reply reply;
};

static uint64_t throttle(struct rl_state *st, void *arg)
{
	struct throttle_call *t = arg;
	return rl_cell_throttle(st, t->now, t->burst, t->count, t->period, t->quantity, &t->reply);
}

static void wrong_arity(struct buf *out, const struct resp_arg *name)
{
	char msg[96];
	char lower[32];
	size_t n = name->len < sizeof(lower) - 1 ? name->len : sizeof(lower) - 1;
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)(name->p[i] >= 'A' && name->p[i] <= 'Z' ? name->p[i] + 32 : name->p[i]);
	lower[n] = '\0';
	snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", lower);
	resp_error(out, msg);
}

static void cl_throttle(struct server *s, struct buf *out)
{
	struct throttle_call t = { .now = 0, .quantity = 1 };
	if (cmd.argc < 5 || cmd.argc > 6) {
		wrong_arity(out, &cmd.args[0]);
		return;
	}
	if (resp_arg_int(&cmd.args[2], &t.burst) < 0 || resp_arg_int(&cmd.args[3], &t.count) < 0 ||
	    resp_arg_int(&cmd.args[4], &t.period) < 0 ||
	    (cmd.argc == 6 && resp_arg_int(&cmd.args[5], &t.quantity) < 0) ||
	    t.burst < 0 || t.count < 1 || t.period < 1 || t.quantity < 0 ||
	    t.burst > 1000000000 || t.count > 1000000000 || t.period > 100000000 ||
	    t.quantity > 1000000000) {
		resp_error(out, "ERR value is not an integer or out of range");
		return;
	}
	/* redis-cell reads the wall clock; any clock works if it never jumps. */
	t.now = loop_clock_ns();
	if (rl_table_apply(s->table, cmd.args[1].p, cmd.args[1].len, t.now, throttle, &t) < 0) {
		resp_error(out, "ERR out of memory");
		return;
	}
	resp_array(out, 5);
	resp_int(out, t.reply.limited);
	resp_int(out, t.reply.limit);
	resp_int(out, t.reply.remaining);
	resp_int(out, t.reply.retry_after_s);
	resp_int(out, t.reply.reset_after_s);
}

static void unknown(struct buf *out)
{
	struct buf msg = BUF_INIT;
	buf_puts(&msg, "ERR unknown command '");
	buf_append(&msg, cmd.args[0].p, cmd.args[0].len > 128 ? 128 : cmd.args[0].len);
	buf_puts(&msg, "', with args beginning with: ");
	for (size_t i = 1; i < cmd.argc && i < 4; i++) {
		buf_puts(&msg, "'");
		buf_append(&msg, cmd.args[i].p, cmd.args[i].len > 64 ? 64 : cmd.args[i].len);
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
static bool execute(struct conn *c)
{
	struct buf *out = &c->out;
	const struct resp_arg *name = &cmd.args[0];
	c->srv->commands++;
	if (resp_arg_is(name, "cl.throttle")) {
		cl_throttle(c->srv, out);
	} else if (resp_arg_is(name, "ping")) {
		if (cmd.argc == 1)
			resp_simple(out, "PONG");
		else if (cmd.argc == 2)
			resp_bulk(out, cmd.args[1].p, cmd.args[1].len);
		else
			wrong_arity(out, name);
	} else if (resp_arg_is(name, "echo")) {
		if (cmd.argc == 2)
			resp_bulk(out, cmd.args[1].p, cmd.args[1].len);
		else
			wrong_arity(out, name);
	} else if (resp_arg_is(name, "command")) {
		resp_array(out, 0);
	} else if (resp_arg_is(name, "quit")) {
		resp_simple(out, "OK");
		return false;
	} else {
		unknown(out);
	}
	return true;
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
			loop_mod(c->srv->loop, &c->io, LOOP_WRITE | (reading ? LOOP_READ : 0));
			return;
		}
		conn_close(c);
		return;
	}
	if (c->closing) {
		conn_close(c);
		return;
	}
	loop_mod(c->srv->loop, &c->io, LOOP_READ);
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
			int rc = resp_parse(c->in.data + c->in.off, buf_pending(&c->in), MAX_BULK, &cmd);
			if (rc == ERR_AGAIN) {
				if (buf_pending(&c->in) > MAX_QUERY) {
					resp_error(&c->out, "ERR Protocol error: too big query");
					c->closing = true;
				}
				break;
			}
			if (rc < 0) {
				resp_error(&c->out, cmd.error);
				c->closing = true;
				break;
			}
			if (cmd.argc && !execute(c))
				c->closing = true;
			buf_consume(&c->in, cmd.used);
		}
	}
	flush(c);
}

static void on_accept(struct loop_io *io, uint32_t events)
{
	(void)events;
	struct server *s = container_of(io, struct server, listener);
	for (int i = 0; i < 64; i++) {
		int fd = sock_accept(io->fd, NULL);
		if (fd < 0)
			return;
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = s;
		c->io.fd = fd;
		c->io.fn = on_conn;
		if (loop_add(s->loop, &c->io, LOOP_READ) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (c->next)
			c->next->prev = c;
		s->conns = c;
	}
}

static void on_signal(void *arg, int signo)
{
	struct server *s = arg;
	if (signo != SIGHUP) {
		log_info("%s: stopping", strsignal(signo));
		loop_stop(s->loop);
	}
}

static void sweep(struct timer *t)
{
	struct server *s = container_of(t, struct server, sweep);
	rl_table_expire(s->table, loop_clock_ns());
	loop_timer_arm(s->loop, t, 1000);
}

int rlserver_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "max-keys", required_argument, NULL, 'k' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sock_addr addr;
	bool has_listen = false;
	long max_keys = 1000000;
	enum log_level level = LOG_INFO;
	int ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":l:k:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (sock_addr_parse(optarg, &addr) < 0)
				cli_fail("ratelimit", "--listen: '%s' is not ADDR:PORT", optarg);
			has_listen = true;
			break;
		case 'k':
			if (cli_parse_long(optarg, 1, 1000000000, &max_keys) < 0)
				cli_fail("ratelimit", "--max-keys: '%s' is not a number from 1 to 1000000000",
					 optarg);
			break;
		case 'L':
			if (log_parse_level(optarg, &level) < 0)
				cli_fail("ratelimit", "--log-level: '%s' is not error, warn, info or debug",
					 optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_option_fail("ratelimit", "ratelimit serve", ch, argv);
		}
	}
	if (optind < argc)
		cli_fail("ratelimit", "unexpected argument '%s'", argv[optind]);
	if (!has_listen)
		cli_fail("ratelimit", "--listen ADDR:PORT is required");
	log_setup(level, LOG_TEXT);
	signals_block();

	struct server s = { 0 };
	struct rl_policy any = { RL_GCRA, 1, 1000000000ULL, 1 };
	int rc = loop_create(&s.loop);
	if (rc == 0)
		rc = rl_table_create(&any, (size_t)max_keys, &s.table);
	if (rc == 0) {
		s.listener.fd = sock_listen(&addr, 511);
		if (s.listener.fd < 0) {
			char text[SOCK_ADDR_STRLEN];
			sock_addr_str(&addr, text, sizeof(text));
			log_error("ratelimit: cannot listen on %s: %s", text, err_str(s.listener.fd));
			rc = s.listener.fd;
		}
	}
	if (rc == 0) {
		s.listener.fn = on_accept;
		rc = loop_add(s.loop, &s.listener, LOOP_READ);
	}
	if (rc == 0)
		rc = signals_create(s.loop, on_signal, &s, &s.signals);
	if (rc == 0) {
		char text[SOCK_ADDR_STRLEN];
		sock_addr_str(&addr, text, sizeof(text));
		log_info("strata ratelimit %s serving CL.THROTTLE on %s (max %ld keys)", STRATA_VERSION,
			 text, max_keys);
		timer_init(&s.sweep, sweep);
		loop_timer_arm(s.loop, &s.sweep, 1000);
		rc = loop_run(s.loop);
	}
	if (rc < 0)
		log_error("ratelimit: %s", err_str(rc));
	while (s.conns)
		conn_close(s.conns);
	signals_destroy(s.signals);
	if (s.listener.fd > 0)
		close(s.listener.fd);
	rl_table_unref(s.table);
	if (s.loop)
		loop_destroy(s.loop);  /* also runs the deferred frees */
	return rc < 0 ? 1 : 0;
}
