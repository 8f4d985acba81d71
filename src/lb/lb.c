#include "lb/lb.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/workers.h"
#include "lb/access.h"
#include "lb/admin.h"
#include "lb/gen.h"
#include "lb/health.h"
#include "lb/http.h"
#include "lb/lb-t.h"
#include "lb/limit.h"
#include "lb/tcp.h"
#include "net/httpd.h"

static const char usage[] =
	"usage: strata lb [--mode http|tcp] --listen ADDR:PORT --server ADDR:PORT[,weight=W][,name=N] ...\n"
	"                 [options]\n"
	"       strata lb -c FILE [--threads N] [--log-level L] [--log-format F] [--access-log W]\n"
	"\n"
	"A load balancer: an HTTP/1.1 reverse proxy (L7, the default) or a TCP proxy (L4),\n"
	"with balancing, active and passive health checks and retries.\n"
	"\n"
	"  -c, --config FILE        read listeners, routes and pools from FILE (docs/CONFIG.md)\n"
	"  -m, --mode MODE          http (default) or tcp\n"
	"  -l, --listen ADDR:PORT   accept clients here\n"
	"  -s, --server SPEC        a backend, ADDR:PORT[,weight=W][,name=NAME]; repeat\n"
	"  -b, --balance ALGO       roundrobin (default), leastconn, source, leasttime, random2,\n"
	"                           hash (http: see --hash-key)\n"
	"  -a, --admin ADDR:PORT    serve /metrics, /stats and /healthz here\n"
	"  -t, --threads N          worker threads (default: number of cores)\n"
	"      --health-check KIND  tcp (default), http:/PATH, or none\n"
	"      --health-status N    http:/PATH checks expect status N (default: any 2xx or 3xx)\n"
	"      --health-interval D  time between checks (default 2s)\n"
	"      --rise N             good checks before a server is up again (default 2)\n"
	"      --fall N             failures before a server is down (default 3)\n"
	"      --connect-timeout D  give up connecting to a server after D (default 3s)\n"
	"      --idle-timeout D     tcp, and http tunnels: close when idle for D (default 5m)\n"
	"      --max-conns N        client connections at once; more are closed (default 10000)\n"
	"      --retries N          other servers to try when a connect fails (default 2)\n"
	"      --hash-balance-factor P  source, hash: bounded loads, no server above P% of the\n"
	"                           mean active connections (101..1000; default 0: off)\n"
	"      --grace D            on SIGTERM/SIGINT, wait up to D for connections (default 10s)\n"
	"      --log-level L        error, warn, info (default), debug\n"
	"      --log-format F       text (default) or json (also the access log's format)\n"
	"\n"
	"http mode:\n"
	"      --cookie NAME        sticky sessions: insert cookie NAME naming the server\n"
	"      --hash-key KEY       balance hash on uri, path, header:NAME or cookie:NAME\n"
	"      --tls CERT[,KEY]     terminate TLS (PEM files); repeat for SNI certificates\n"
	"      --header-timeout D   a request head must arrive within D, else 408 (default 10s)\n"
	"      --keepalive-timeout D  close a client idle between requests for D (default 60s)\n"
	"      --response-timeout D a server silent for D gets the request a 504 (default 60s)\n"
	"      --max-header-size N  larger request heads get 431 (default 32k)\n"
	"      --max-body-size N    larger request bodies get 413 (default 0: unlimited)\n"
	"      --server-keepalive N idle server connections kept per server and thread (default 32)\n"
	"      --server-keepalive-timeout D  close pooled server connections idle for D (default 30s)\n"
	"      --access-log W       stdout (default), stderr, off, or a file to append to\n"
	"\n"
	"rate limiting (docs/RATELIMIT.md; rules by path, header, pool or key in -c FILE):\n"
	"      --rate-limit ALGO:LIMIT/PERIOD[:BURST]  per client address, e.g. token:10/1s:20;\n"
	"                           ALGO token, leaky, fixed, log, sliding or gcra. http: 429 with\n"
	"                           Retry-After and RateLimit fields; tcp: the connection is closed\n"
	"      --rate-limit-store ADDR:PORT  share that limit with every strata lb using this\n"
	"                           Redis-protocol store (one atomic Lua call per decision)\n"
	"      --rate-limit-store-timeout D  longest wait for the store (default 50ms)\n"
	"      --rate-limit-on-store-error open|closed  allow (default) or refuse when the\n"
	"                           store is down or late\n"
	"      --rate-limit-local-allowance N  take up to N units per store call and spend\n"
	"                           them locally (fewer round trips; bounded error)\n"
	"  -h, --help               this help\n"
	"\n"
	"Durations take ms, s or m (500ms, 2s, 1m); sizes k, m or g. SIGHUP reloads -c FILE\n"
	"without dropping connections.\n";

enum {
	OPT_CHECK = 256, OPT_INTERVAL, OPT_RISE, OPT_FALL, OPT_CONNECT_TIMEOUT,
	OPT_IDLE_TIMEOUT, OPT_MAX_CONNS, OPT_RETRIES, OPT_HBF, OPT_GRACE, OPT_LOG_LEVEL, OPT_LOG_FORMAT,
	OPT_COOKIE, OPT_HASH_KEY, OPT_TLS, OPT_HEALTH_STATUS, OPT_HEADER_TIMEOUT,
	OPT_KEEPALIVE_TIMEOUT, OPT_RESPONSE_TIMEOUT, OPT_MAX_HEADER, OPT_MAX_BODY,
	OPT_SERVER_KEEPALIVE, OPT_SERVER_KEEPALIVE_TIMEOUT, OPT_ACCESS_LOG, OPT_RATE_LIMIT,
	OPT_STORE, OPT_STORE_TIMEOUT, OPT_STORE_ERROR, OPT_ALLOWANCE,
};

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "mode", required_argument, NULL, 'm' },
	{ "listen", required_argument, NULL, 'l' },
	{ "server", required_argument, NULL, 's' },
	{ "balance", required_argument, NULL, 'b' },
	{ "admin", required_argument, NULL, 'a' },
	{ "threads", required_argument, NULL, 't' },
	{ "health-check", required_argument, NULL, OPT_CHECK },
	{ "health-interval", required_argument, NULL, OPT_INTERVAL },
	{ "rise", required_argument, NULL, OPT_RISE },
	{ "fall", required_argument, NULL, OPT_FALL },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "hash-balance-factor", required_argument, NULL, OPT_HBF },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "cookie", required_argument, NULL, OPT_COOKIE },
	{ "hash-key", required_argument, NULL, OPT_HASH_KEY },
	{ "tls", required_argument, NULL, OPT_TLS },
	{ "health-status", required_argument, NULL, OPT_HEALTH_STATUS },
	{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
	{ "keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE_TIMEOUT },
	{ "response-timeout", required_argument, NULL, OPT_RESPONSE_TIMEOUT },
	{ "max-header-size", required_argument, NULL, OPT_MAX_HEADER },
	{ "max-body-size", required_argument, NULL, OPT_MAX_BODY },
	{ "server-keepalive", required_argument, NULL, OPT_SERVER_KEEPALIVE },
	{ "server-keepalive-timeout", required_argument, NULL, OPT_SERVER_KEEPALIVE_TIMEOUT },
	{ "access-log", required_argument, NULL, OPT_ACCESS_LOG },
	{ "rate-limit", required_argument, NULL, OPT_RATE_LIMIT },
	{ "rate-limit-store", required_argument, NULL, OPT_STORE },
	{ "rate-limit-store-timeout", required_argument, NULL, OPT_STORE_TIMEOUT },
	{ "rate-limit-on-store-error", required_argument, NULL, OPT_STORE_ERROR },
	{ "rate-limit-local-allowance", required_argument, NULL, OPT_ALLOWANCE },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* Flags that map to a key of [global], [pool default] or [listen default]. */
static const struct { int opt; char scope; const char *key; } flag_keys[] = {
	{ 'm', 'l', "mode" }, { 'l', 'l', "bind" }, { 's', 'p', "server" },
	{ 'b', 'p', "balance" }, { 'a', 'g', "admin" }, { 't', 'g', "threads" },
	{ OPT_CHECK, 'p', "health-check" }, { OPT_INTERVAL, 'p', "health-interval" },
	{ OPT_RISE, 'p', "rise" }, { OPT_FALL, 'p', "fall" },
	{ OPT_CONNECT_TIMEOUT, 'p', "connect-timeout" }, { OPT_RETRIES, 'p', "retries" },
	{ OPT_HBF, 'p', "hash-balance-factor" },
	{ OPT_IDLE_TIMEOUT, 'l', "idle-timeout" }, { OPT_MAX_CONNS, 'l', "max-conns" },
	{ OPT_GRACE, 'g', "grace" }, { OPT_LOG_LEVEL, 'g', "log-level" },
	{ OPT_LOG_FORMAT, 'g', "log-format" }, { OPT_ACCESS_LOG, 'g', "access-log" },
	{ OPT_COOKIE, 'p', "cookie" }, { OPT_HASH_KEY, 'p', "hash-key" },
	{ OPT_HEALTH_STATUS, 'p', "health-status" },
	{ OPT_RESPONSE_TIMEOUT, 'p', "response-timeout" },
	{ OPT_SERVER_KEEPALIVE, 'p', "server-keepalive" },
	{ OPT_SERVER_KEEPALIVE_TIMEOUT, 'p', "server-keepalive-timeout" },
	{ OPT_TLS, 'l', "tls" }, { OPT_HEADER_TIMEOUT, 'l', "header-timeout" },
	{ OPT_KEEPALIVE_TIMEOUT, 'l', "keepalive-timeout" },
	{ OPT_MAX_HEADER, 'l', "max-header-size" }, { OPT_MAX_BODY, 'l', "max-body-size" },
	{ OPT_RATE_LIMIT, 'r', "rate" }, { OPT_STORE_ERROR, 'r', "on-store-error" },
	{ OPT_ALLOWANCE, 'r', "local-allowance" },
	{ OPT_STORE, 'g', "ratelimit-store" }, { OPT_STORE_TIMEOUT, 'g', "ratelimit-store-timeout" },
};

/* Exit 2 naming the flag: config messages start with "KEY: ". */
static void flag_fail(int opt, const char *key, const char *err)
	__attribute__((noreturn));

static void flag_fail(int opt, const char *key, const char *err)
{
	const char *flag = key;
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == opt)
			flag = o->name;
	size_t n = strlen(key);
	if (strncmp(err, key, n) == 0 && err[n] == ':')
		err += n + 1;
	while (*err == ' ')
		err++;
	cli_fail("lb", "--%s: %s", flag, err);
}

/* Parse argv into a validated configuration, or exit 2 with one line. */
static struct lb_conf *parse_args(int argc, char **argv, const char **conf_path)
{
	struct lb_conf *c = malloc(sizeof(*c));
	if (!c)
		cli_fail("lb", "out of memory");
	conf_init(c);
	conf_pool_init(&c->pools[0], "default");
	conf_listener_init(&c->listeners[0], "default");
	snprintf(c->listeners[0].pool_name, CONF_NAME_MAX, "default");
	bool has_listen = false, quick = false;
	char err[CONF_ERR_MAX];
	const char *path = NULL;
	int ch;

	/* Global settings from flags override the file: apply them after it. */
	struct { const char *key, *value; } globals[32];
	int nglobals = 0;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":c:m:l:s:b:a:t:h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			exit(0);
		}
		if (ch == ':' || ch == '?')
			cli_option_fail("lb", "lb", ch, argv);
		if (ch == 'c') {
			path = optarg;
			continue;
		}
		for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
			if (flag_keys[i].opt != ch)
				continue;
			const char *key = flag_keys[i].key;
			int rc = 0;
			if (flag_keys[i].scope == 'g') {
				if (nglobals < 32) {
					globals[nglobals].key = key;
					globals[nglobals].value = optarg;
					nglobals++;
				}
				rc = conf_set_global(c, key, optarg, err, sizeof(err));
			} else if (flag_keys[i].scope == 'p') {
				rc = conf_set_pool(&c->pools[0], key, optarg, err, sizeof(err));
			} else if (flag_keys[i].scope == 'r') {
				if (c->nlimits == 0)
					conf_limit_init(&c->limits[c->nlimits++], "default");
				rc = conf_set_limit(&c->limits[0], key, optarg, err, sizeof(err));
			} else {
				rc = conf_set_listener(&c->listeners[0], key, optarg, err, sizeof(err));
			}
			if (rc < 0)
				flag_fail(ch, key, err);
			/* Pool and listener flags describe what only the quick start builds. */
			quick |= flag_keys[i].scope != 'g';
			has_listen |= strcmp(key, "bind") == 0;
		}
	}
	if (optind < argc)
		cli_fail("lb", "unexpected argument '%s'", argv[optind]);

	if (path) {
		if (quick)
			cli_fail("lb", "-c FILE cannot be combined with --listen, --server or other "
				 "pool and listener flags");
		conf_init(c);
		if (conf_load_file(c, path, err, sizeof(err)) < 0)
			cli_fail("lb", "%s", err);
		for (int i = 0; i < nglobals; i++)
			conf_set_global(c, globals[i].key, globals[i].value, err, sizeof(err));
	} else {
		if (!has_listen)
			cli_fail("lb", "--listen ADDR:PORT is required (or -c FILE)");
		if (c->pools[0].nservers == 0)
			cli_fail("lb", "at least one --server ADDR:PORT is required");
		if (c->nlimits)  /* the quick-start rule is the one --rate-limit-store shares */
			c->limits[0].shared = c->has_store;
		c->npools = 1;
		c->nlisteners = 1;
		if (conf_validate(c, err, sizeof(err)) < 0)
			cli_fail("lb", "%s", err);
	}
	if (c->threads == 0)
		c->threads = workers_default_count();
	*conf_path = path;
	return c;
}

/* ---- workers ---- */

#define ACCEPT_PAUSE_MS 100

/* Out of descriptors or memory (rc), or shut by a reload (rc 0), the
 * listener would stay readable and the loop would spin on failing accepts:
 * stop watching it for a moment. */
static void pause_accepting(struct lb_accept *a, int rc)
{
	struct loop *l = a->worker->loop;
	if (rc && loop_now(l) >= a->worker->next_fd_warning_ms) {
		log_error("accept on %s: %s; pausing accepts %d ms at a time (logged every 10 s)",
			  a->listener->addr_text, err_str(rc), ACCEPT_PAUSE_MS);
		a->worker->next_fd_warning_ms = loop_now(l) + 10000;
	}
	loop_del(l, &a->io);
	loop_timer_arm(l, &a->resume, ACCEPT_PAUSE_MS);
}

static void resume_accepting(struct timer *t)
{
	struct lb_accept *a = container_of(t, struct lb_accept, resume);
	loop_add(a->worker->loop, &a->io, LOOP_READ | LOOP_EXCLUSIVE);
}

static void on_accept(struct loop_io *io, uint32_t events)
{
	struct lb_accept *a = container_of(io, struct lb_accept, io);
	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sock_addr peer;
		int fd = sock_accept(io->fd, &peer);
		if (fd == ERR_AGAIN)
			return;
		if (fd < 0) {
			if (err_is_shortage(fd))
				pause_accepting(a, fd);
			else if (fd == -EINVAL)  /* retired by a reload: this worker switches soon */
				pause_accepting(a, 0);
			return;
		}
		struct lb_listener *l = a->listener;
		int64_t n = atomic_fetch_add_explicit(&l->active, 1, memory_order_relaxed) + 1;
		if (n > a->conf->max_conns) {
			atomic_fetch_sub_explicit(&l->active, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&l->refused, 1, memory_order_relaxed);
			close(fd);
			continue;
		}
		atomic_fetch_add_explicit(&l->total, 1, memory_order_relaxed);
		if (a->conf->mode == MODE_HTTP)
			http_session_start(a, fd, &peer);
		else
			tcp_session_start(a, fd, &peer);
	}
}

static void worker_unlisten(struct lb_worker *w)
{
	for (int i = 0; i < w->naccepts; i++) {
		struct lb_accept *a = &w->accepts[i];
		if (timer_armed(&a->resume))
			loop_timer_cancel(w->loop, &a->resume);  /* paused: not in epoll */
		else
			loop_del(w->loop, &a->io);
		gen_listener_unwatch(a->listener);
	}
	w->naccepts = 0;
}

/* Switch a worker to generation g (whose reference it takes over). */
static void worker_adopt(struct lb_worker *w, struct lb_gen *g)
{
	worker_unlisten(w);
	if (w->gen)
		gen_unref(w->gen);
	w->gen = g;
	if (w->lb->draining)
		return;
	for (int i = 0; i < g->nlisteners; i++) {
		struct lb_accept *a = &w->accepts[w->naccepts];
		a->io.fd = atomic_load(&g->listeners[i]->fd);
		a->io.fn = on_accept;
		timer_init(&a->resume, resume_accepting);
		a->worker = w;
		a->listener = g->listeners[i];
		a->conf = &g->conf->listeners[i];
		a->index = i;
		a->pool = &g->pools[a->conf->pool];
		if (loop_add(w->loop, &a->io, LOOP_READ | LOOP_EXCLUSIVE) == 0) {
			gen_listener_watch(a->listener);
			w->naccepts++;
		}
	}
}

struct adopt_msg {
	struct lb_worker *w;
	struct lb_gen *g;
};

static void adopt_posted(void *arg)
{
	struct adopt_msg *m = arg;
	worker_adopt(m->w, m->g);
	free(m);
}

static void drain_posted(void *arg)
{
	worker_unlisten(arg);
	http_worker_drain(arg);
}

static void publish(struct lb *lb, struct lb_gen *g)
{
	for (int i = 0; i < lb->workers->count; i++) {
		struct adopt_msg *m = malloc(sizeof(*m));
		if (m) {
			m->w = &lb->worker_state[i];
			m->g = g;
			gen_ref(g);
		}
		if (!m || loop_post(lb->workers->loops[i], adopt_posted, m) < 0) {
			/* The worker keeps the old generation; it still works. */
			log_error("reload: worker %d keeps the previous configuration (out of memory)", i);
			if (m)
				gen_unref(g);
			free(m);
		}
	}
}

/* ---- signals: reload and drain ---- */

static void reload(struct lb *lb)
{
	if (!lb->conf_path) {
		log_warn("SIGHUP: nothing to reload (started without -c FILE)");
		return;
	}
	if (lb->draining) {
		log_warn("SIGHUP: not reloading while draining");
		return;
	}
	char err[CONF_ERR_MAX];
	struct lb_conf *c = malloc(sizeof(*c));
	if (!c) {
		log_error("reload: out of memory");
		return;
	}
	conf_init(c);
	if (conf_load_file(c, lb->conf_path, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		free(c);
		return;
	}
	const struct lb_conf *old = lb->gen->conf;
	if (c->threads && c->threads != old->threads)
		log_warn("reload: threads changes only with a restart; keeping %d", old->threads);
	c->threads = old->threads;
	if (c->has_admin != old->has_admin ||
	    (c->has_admin && !sock_addr_equal(&c->admin, &old->admin)))
		log_warn("reload: the admin address changes only with a restart");
	c->has_admin = old->has_admin;
	c->admin = old->admin;
	memcpy(c->admin_text, old->admin_text, sizeof(c->admin_text));
	if (strcmp(c->access_log, old->access_log) != 0)
		log_warn("reload: the access log changes only with a restart");
	memcpy(c->access_log, old->access_log, sizeof(c->access_log));

	struct lb_gen *g;
	if (gen_create(c, lb->gen, &g, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		return;
	}
	log_setup(g->conf->log_level, g->conf->log_format);
	health_stop(lb->health);
	lb->health = NULL;
	if (health_start(lb->loop, g, &lb->health) < 0)
		log_error("reload: health checks could not start (out of memory)");
	publish(lb, g);
	gen_retire(lb->gen, g);
	gen_unref(lb->gen);
	lb->gen = g;
	log_info("reloaded %s: %d listeners, %d pools", lb->conf_path, g->nlisteners, g->npools);
}

static int64_t open_sessions(struct lb *lb)
{
	int64_t n = 0;
	for (int i = 0; i < lb->workers->count; i++)
		n += atomic_load_explicit(&lb->worker_state[i].sessions, memory_order_relaxed);
	return n;
}

static void drain_check(struct timer *t)
{
	struct lb *lb = container_of(t, struct lb, drain_timer);
	int64_t n = open_sessions(lb);
	if (n == 0 || loop_now(lb->loop) >= lb->drain_deadline_ms) {
		if (n)
			log_warn("grace period over: closing %lld connections", (long long)n);
		loop_stop(lb->loop);
		return;
	}
	loop_timer_arm(lb->loop, t, 100);
}

static void drain(struct lb *lb, int signo)
{
	if (lb->draining) {
		log_warn("second %s: stopping now", strsignal(signo));
		loop_stop(lb->loop);
		return;
	}
	lb->draining = true;
	log_info("%s: no longer accepting; draining %lld connections (grace %llu ms)",
		 strsignal(signo), (long long)open_sessions(lb),
		 (unsigned long long)lb->gen->conf->grace_ms);
	for (int i = 0; i < lb->workers->count; i++)
		loop_post(lb->workers->loops[i], drain_posted, &lb->worker_state[i]);
	/* New clients are refused by the kernel, not left in the backlog. */
	for (int i = 0; i < lb->gen->nlisteners; i++)
		shutdown(atomic_load(&lb->gen->listeners[i]->fd), SHUT_RD);
	lb->drain_deadline_ms = loop_now(lb->loop) + lb->gen->conf->grace_ms;
	timer_init(&lb->drain_timer, drain_check);
	loop_timer_arm(lb->loop, &lb->drain_timer, 0);
}

#define LIMIT_SWEEP_MS 1000

static void sweep_limits(struct timer *t)
{
	struct lb *lb = container_of(t, struct lb, limit_sweep);
	limit_sweep(lb->gen);
	loop_timer_arm(lb->loop, t, LIMIT_SWEEP_MS);
}

static void on_signal(void *arg, int signo)
{
	struct lb *lb = arg;
	if (signo == SIGHUP)
		reload(lb);
	else
		drain(lb, signo);
}

/* ---- start-up ---- */

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void announce(const struct lb_gen *g, const struct lb_conf *c)
{
	for (int i = 0; i < g->nlisteners; i++) {
		const struct conf_listener *cl = &c->listeners[i];
		const struct lb_pool *p = &g->pools[cl->pool];
		log_info("listener %s on %s (%s%s) -> pool %s, %s, %d servers", cl->name,
			 cl->addr_text, conf_mode_name(cl->mode), cl->ncerts ? ", tls" : "",
			 p->conf.name, conf_balance_name(p->conf.balance), p->nservers);
	}
	for (int i = 0; i < g->nlimits; i++) {
		const struct conf_limit *l = &c->limits[i];
		if (l->shared)
			log_info("ratelimit %s: %s per client key, shared through store %s (%llu ms wait, "
				 "on-store-error = %s, local-allowance = %ld)", l->name, l->rate_text,
				 c->store_text, (unsigned long long)c->store_timeout_ms,
				 l->fail_closed ? "closed" : "open", l->allowance);
		else
			log_info("ratelimit %s: %s per client key", l->name, l->rate_text);
	}
	if (c->has_admin)
		log_info("admin on http://%s (/metrics, /stats, /healthz)", c->admin_text);
	log_info("strata lb %s running with %d threads", STRATA_VERSION, c->threads);
}

static int start_admin(struct lb *lb)
{
	const struct lb_conf *c = lb->gen->conf;
	lb->admin_fd = -1;
	if (!c->has_admin)
		return 0;
	lb->admin_fd = sock_listen(&c->admin, 128);
	if (lb->admin_fd < 0) {
		log_error("cannot listen on admin address %s: %s", c->admin_text, err_str(lb->admin_fd));
		return lb->admin_fd;
	}
	int rc = httpd_create(lb->loop, lb->admin_fd, false, admin_handle, lb, &lb->admin);
	if (rc == 0)
		rc = metrics_register(admin_collect, lb);
	return rc;
}

int lb_main(int argc, char **argv)
{
	const char *path;
	struct lb_conf *conf = parse_args(argc, argv, &path);
	log_setup(conf->log_level, conf->log_format);
	raise_fd_limit();
	signals_block();

	struct lb lb = { .conf_path = path, .admin_fd = -1 };
	char err[CONF_ERR_MAX];
	if (access_log_open(conf->access_log, &lb.access_fd, err, sizeof(err)) < 0)
		cli_fail("lb", "%s", err);
	int rc = loop_create(&lb.loop);
	if (rc < 0) {
		log_error("lb: %s", err_str(rc));
		free(conf);
		return 1;
	}
	lb.started_ms = loop_now(lb.loop);
	rc = gen_create(conf, NULL, &lb.gen, err, sizeof(err));
	if (rc == ERR_CONFIG)
		cli_fail("lb", "%s", err);  /* a certificate that cannot be used */
	if (rc < 0) {
		log_error("lb: %s", err);
		loop_destroy(lb.loop);
		return 1;
	}
	if ((rc = workers_create(lb.gen->conf->threads, &lb.workers)) < 0 ||
	    !(lb.worker_state = calloc((size_t)lb.workers->count, sizeof(*lb.worker_state))))
		goto fail;
	for (int i = 0; i < lb.workers->count; i++) {
		struct lb_worker *w = &lb.worker_state[i];
		w->lb = &lb;
		w->loop = lb.workers->loops[i];
		w->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1) ^ (uint64_t)getpid();
		gen_ref(lb.gen);
		worker_adopt(w, lb.gen);
	}
	if ((rc = start_admin(&lb)) < 0 ||
	    (rc = health_start(lb.loop, lb.gen, &lb.health)) < 0 ||
	    (rc = signals_create(lb.loop, on_signal, &lb, &lb.signals)) < 0 ||
	    (rc = workers_start(lb.workers)) < 0)
		goto fail;
	timer_init(&lb.limit_sweep, sweep_limits);
	loop_timer_arm(lb.loop, &lb.limit_sweep, LIMIT_SWEEP_MS);
	announce(lb.gen, lb.gen->conf);
	rc = loop_run(lb.loop);
	log_info("stopped");
fail:
	if (rc < 0)
		log_error("lb: %s", err_str(rc));
	if (lb.workers)
		workers_stop(lb.workers);
	if (lb.admin) {
		metrics_unregister(admin_collect, &lb);
		httpd_destroy(lb.admin);
	}
	if (lb.admin_fd >= 0)
		close(lb.admin_fd);
	health_stop(lb.health);
	signals_destroy(lb.signals);
	for (int i = 0; lb.worker_state && i < lb.workers->count; i++) {
		struct lb_worker *w = &lb.worker_state[i];
		http_worker_release(w);
		tcp_worker_release(w);
		limit_worker_release(w);
		if (w->gen)
			gen_unref(w->gen);
	}
	/* Sessions still open at exit are closed by the kernel with the process. */
	workers_destroy(lb.workers);
	free(lb.worker_state);
	loop_destroy(lb.loop);
	gen_unref(lb.gen);
	if (lb.access_fd > STDERR_FILENO)
		close(lb.access_fd);
	return rc < 0 ? 1 : 0;
}
