#include "lb/limit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/rltable.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "ratelimit/rlstore.h"

#define STORE_LOG_MS 10000   /* one log line per rule this often while failing */

/* The rule of `prev` whose keys rule `cl` can take over, or NULL. */
static const struct lb_limit *same_rule(const struct lb_gen *prev, const struct conf_limit *cl)
{
	for (int i = 0; prev && i < prev->nlimits; i++) {
		const struct conf_limit *o = prev->limits[i].conf;
		if (strcmp(o->name, cl->name) == 0 && o->shared == cl->shared && o->algo == cl->algo &&
		    o->limit == cl->limit && o->period_ms == cl->period_ms && o->burst == cl->burst &&
		    o->max_keys == cl->max_keys && o->allowance == cl->allowance)
			return &prev->limits[i];
	}
	return NULL;
}

int limit_build(struct lb_gen *g, const struct lb_gen *prev, char *err, size_t errlen)
{
	const struct lb_conf *c = g->conf;
	for (int i = 0; i < c->nlimits; i++) {
		const struct conf_limit *cl = &c->limits[i];
		struct lb_limit *l = &g->limits[i];
		l->conf = cl;
		l->policy = (struct rl_policy){ (enum rl_algo)cl->algo, cl->limit,
						cl->period_ms * 1000000ULL, cl->burst };
		l->pool = -1;
		for (int j = 0; j < g->npools; j++)
			if (cl->match == LIMIT_POOL && strcmp(g->pools[j].conf.name, cl->match_arg) == 0)
				l->pool = j;
		const struct lb_limit *was = same_rule(prev, cl);
		if (was) {
			l->table = was->table ? rl_table_ref(was->table) : NULL;
			l->held = was->held ? rl_table_ref(was->held) : NULL;
			g->nlimits++;
			continue;
		}
		if ((!cl->shared && rl_table_create(&l->policy, (size_t)cl->max_keys, &l->table) < 0) ||
		    (cl->allowance > 1 &&
		     rl_table_create(&l->policy, (size_t)cl->max_keys, &l->held) < 0)) {
			rl_table_unref(l->table);
			snprintf(err, errlen, "ratelimit '%s': out of memory", cl->name);
			return -ENOMEM;
		}
		g->nlimits++;
	}
	return 0;
}

void limit_free(struct lb_gen *g)
{
	for (int i = 0; i < g->nlimits; i++) {
		rl_table_unref(g->limits[i].table);
		rl_table_unref(g->limits[i].held);
	}
	g->nlimits = 0;
}

void limit_sweep(struct lb_gen *g)
{
	uint64_t now = loop_clock_ns();
	for (int i = 0; i < g->nlimits; i++) {
		if (g->limits[i].table)
			rl_table_expire(g->limits[i].table, now);
		if (g->limits[i].held)
			rl_table_expire(g->limits[i].held, now);
	}
}


/* The shared rules of one request, gathered until the call is made. */
struct asks {
	struct rlstore_ask ask[CONF_MAX_LIMITS];
	char host[SOCK_ADDR_STRLEN];      /* the client address as text, once */
};

/* Count one unit under local rule `l`; true when allowed. */
static bool count(struct lb_limit *l, const void *key, size_t len, struct rl_result *res)
{
	rl_table_decide(l->table, key, len, loop_clock_ns(), 1, res);
	atomic_fetch_add_explicit(res->allowed ? &l->allowed : &l->limited, 1, memory_order_relaxed);
	return res->allowed;
}

/* An allowed request's verdict takes in rule l's decision. */
static void fold(struct limit_verdict *v, struct lb_limit *l, const struct rl_result *res)
{
	if (!v->tightest || res->remaining < v->res.remaining) {
		v->tightest = l;
		v->res = *res;
	}
	if (v->shaping && l->conf->delay && res->delay_ns) {
		atomic_fetch_add_explicit(&l->delayed, 1, memory_order_relaxed);
		if (res->delay_ns > v->delay_ns)
			v->delay_ns = res->delay_ns;
	}
}

/*
 * Units of a local allowance, per key in l->held: `count` units taken from
 * the store and not yet spent, usable until `t`; `prev` is what the store
 * had left when it gave them and `level` when it said the key resets.
 */
struct held_op {
	uint64_t now;
	uint64_t add, until, remaining, reset_at;  /* held_put */
	bool taken;                                /* held_take */
	struct rl_result res;
};

static uint64_t held_take(struct rl_state *st, void *arg)
{
	struct held_op *op = arg;
	if (st->count && op->now < st->t) {
		st->count--;
		op->taken = true;
		uint64_t reset_at = (uint64_t)st->level;
		op->res.remaining = st->prev + st->count;
		op->res.reset_after_ns = reset_at > op->now ? reset_at - op->now : 0;
	} else {
		st->count = 0;
	}
	return st->count ? st->t : 0;
}

static uint64_t held_put(struct rl_state *st, void *arg)
{
	struct held_op *op = arg;
	if (op->now >= st->t)
		st->count = 0;
	st->count += op->add;
	st->t = op->until;
	st->prev = op->remaining;
	st->level = op->reset_at;
	return st->t;
}

/*
 * Decide rule `l` for `key`: a local rule at once (false when it refuses),
 * a shared one by adding it to the call. The store's keys name clients by
 * their address as text, so people can read them (redis-cli --scan).
 */
static bool decide(struct lb_gen *g, struct lb_limit *l, const void *key, size_t len, bool ip,
		   const struct sock_addr *peer, struct asks *a, struct limit_verdict *v,
		   struct rl_result *res)
{
	if (!l->conf->shared) {
		if (!count(l, key, len, res))
			return false;
		fold(v, l, res);
		return true;
	}
	if (ip) {
		if (!a->host[0])
			sock_addr_host(peer, a->host, sizeof(a->host));
		key = a->host;
		len = strlen(a->host);
	}
	struct held_op op = { .now = l->held ? loop_clock_ns() : 0 };
	if (l->held && rl_table_apply(l->held, key, len, op.now, held_take, &op) == 0 && op.taken) {
		op.res.allowed = true;
		op.res.limit = rl_policy_most(&l->policy);
		atomic_fetch_add_explicit(&l->allowed, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->held_allowed, 1, memory_order_relaxed);
		fold(v, l, &op.res);
		return true;
	}
	int k = v->call.nrules++;
	v->call.rules[k] = (uint8_t)(l - g->limits);
	a->ask[k] = (struct rlstore_ask){ &l->policy, l->conf->name, key, len,
					  (uint64_t)l->conf->allowance };
	return true;
}

/* The keys of the asked rules that hold units, kept for the answer (the
 * request they came from is gone by then): each a size_t length and the
 * bytes, in the order asked. NULL when no rule holds units (or no memory:
 * the extra units are then not asked for). */
static char *keep_keys(struct asks *a, int n)
{
	size_t total = 0;
	for (int k = 0; k < n; k++)
		if (a->ask[k].want > 1)
			total += sizeof(size_t) + a->ask[k].key_len;
	char *keys = total ? malloc(total + n * sizeof(size_t)) : NULL;
	if (!keys) {
		for (int k = 0; k < n; k++)
			a->ask[k].want = 1;
		return NULL;
	}
	char *p = keys;
	for (int k = 0; k < n; k++) {
		size_t len = a->ask[k].want > 1 ? a->ask[k].key_len : 0;
		memcpy(p, &len, sizeof(len));
		memcpy(p + sizeof(len), a->ask[k].key, len);
		p += sizeof(len) + len;
	}
	return keys;
}

/* Rule k of the call was given `units` (one spent on this request): hold
 * the rest for the key's next requests, which res->remaining then counts. */
static void hold_units(struct lb_limit *l, const struct limit_call *call, int k, uint64_t units,
		       struct rl_result *res)
{
	if (!call->keys || units < 2 || !l->held)
		return;
	const char *p = call->keys;
	size_t len;
	for (int i = 0;; i++) {
		memcpy(&len, p, sizeof(len));
		if (i == k)
			break;
		p += sizeof(len) + len;
	}
	struct held_op op = { .now = loop_clock_ns(), .add = units - 1, .remaining = res->remaining };
	/* Held units last one period at most: the error bound (docs) holds for
	 * any hold up to the period, and units must not outlive their window. */
	op.until = op.now + l->policy.period_ns;
	op.reset_at = op.now + res->reset_after_ns;
	if (rl_table_apply(l->held, p + sizeof(len), len, op.now, held_put, &op) == 0)
		res->remaining += units - 1;
}

/* Rule l could not be decided by the store (rc, or the store's error text):
 * on-store-error decides. True when it allows. */
static bool store_failed(struct lb_gen *g, struct lb_limit *l, int rc, const char *why,
			 size_t why_len, struct rl_result *res)
{
	const struct conf_limit *cl = l->conf;
	atomic_fetch_add_explicit(&l->store_errors, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(cl->fail_closed ? &l->limited : &l->allowed, 1,
				  memory_order_relaxed);
	uint64_t now = loop_clock_ms(), last = atomic_load_explicit(&l->store_logged_ms,
								      memory_order_relaxed);
	if ((last == 0 || now - last >= STORE_LOG_MS) &&
	    atomic_compare_exchange_strong(&l->store_logged_ms, &last, now)) {
		if (!why) {
			why = err_str(rc);
			why_len = strlen(why);
		}
		log_warn("ratelimit '%s': store %s: %.*s; %s (on-store-error = %s)", cl->name,
			 g->conf->store_text, (int)why_len, why,
			 cl->fail_closed ? "refusing" : "allowing", cl->fail_closed ? "closed" : "open");
	}
	/* A refusal without a decision: try again in a second. */
	*res = (struct rl_result){ .allowed = !cl->fail_closed, .limit = rl_policy_most(&l->policy),
				   .retry_after_ns = cl->fail_closed ? 1000000000ULL : 0,
				   .reset_after_ns = 1000000000ULL };
	return res->allowed;
}

/* Every rule of the call from rule index `from` on, by on-store-error. */
static const struct lb_limit *fail_call(struct lb_gen *g, struct limit_verdict *v, int from,
					int rc, const char *why, size_t why_len,
					struct rl_result *res)
{
	for (int k = from; k < v->call.nrules; k++) {
		struct lb_limit *l = &g->limits[v->call.rules[k]];
		if (!store_failed(g, l, rc, why, why_len, res))
			return l;
	}
	return NULL;
}

/* The call is over (answered, abandoned or never made). */
static void call_done(struct limit_call *call)
{
	call->client = NULL;
	free(call->keys);
	call->keys = NULL;
}

static struct rclient *store_client(struct lb_worker *w, const struct lb_conf *c)
{
	for (int i = 0; i < w->nstores; i++)
		if (sock_addr_equal(rclient_addr(w->stores[i]), &c->store))
			return w->stores[i];
	/* A reload may name another store: a client no call waits on goes. */
	for (int i = 0; i < w->nstores && w->nstores == LB_MAX_STORES; i++)
		if (rclient_idle(w->stores[i])) {
			rclient_destroy(w->stores[i]);
			w->stores[i] = w->stores[--w->nstores];
		}
	if (w->nstores == LB_MAX_STORES)
		return NULL;
	struct buf hello = BUF_INIT;
	rlstore_hello(&hello);
	uint64_t deadline = 20 * c->store_timeout_ms;
	struct rclient_opts o = {
		.addr = c->store,
		.reply_timeout_ms = deadline < 1000 ? 1000 : deadline,
		.hello = &hello,
		.nhello = 1,
	};
	struct rclient *rc = NULL;
	if (!hello.oom && rclient_create(w->loop, &o, &rc) == 0)
		w->stores[w->nstores++] = rc;
	buf_free(&hello);
	return rc;
}

/* Make the call for the shared rules gathered in a, if any. */
static const struct lb_limit *ask(struct lb_worker *w, struct lb_gen *g, struct asks *a,
				  struct limit_verdict *v, rclient_fn fn, void *arg,
				  struct rl_result *res)
{
	if (!v->call.nrules)
		return NULL;
	struct rclient *c = store_client(w, g->conf);
	int rc = c ? 0 : -ENOMEM;
	if (c) {
		v->call.keys = keep_keys(a, v->call.nrules);
		struct buf cmd = BUF_INIT;
		rlstore_command(&cmd, a->ask, v->call.nrules, 1);
		rc = cmd.oom ? -ENOMEM : rclient_call(c, cmd.data, cmd.len, fn, arg, &v->call.id);
		buf_free(&cmd);
	}
	if (rc == 0) {
		v->call.client = c;
		return NULL;
	}
	call_done(&v->call);
	return fail_call(g, v, 0, rc, NULL, 0, res);
}

static void verdict_init(struct limit_verdict *v, bool shaping)
{
	v->shaping = shaping;
	v->tightest = NULL;
	v->delay_ns = 0;
	v->call.client = NULL;
	v->call.nrules = 0;
	v->call.keys = NULL;
}

const struct lb_limit *limit_tcp(struct lb_worker *w, struct lb_gen *g, int pool,
				 const struct sock_addr *peer, struct rl_result *res,
				 struct limit_verdict *v, rclient_fn fn, void *arg)
{
	struct asks a;
	a.host[0] = '\0';
	verdict_init(v, false);  /* a connection is never held back */
	for (int i = 0; i < g->nlimits; i++) {
		struct lb_limit *l = &g->limits[i];
		const struct conf_limit *cl = l->conf;
		if (cl->key != LIMIT_KEY_IP || (cl->match != LIMIT_ALL && cl->match != LIMIT_POOL) ||
		    (cl->match == LIMIT_POOL && l->pool != pool))
			continue;
		size_t len;
		const void *key = sock_addr_bytes(peer, &len);
		if (!decide(g, l, key, len, true, peer, &a, v, res))
			return l;
	}
	return ask(w, g, &a, v, fn, arg, res);
}

static bool http_matches(const struct lb_limit *l, int pool, const struct http1_request *req,
			 const char *path, size_t path_len)
{
	const struct conf_limit *cl = l->conf;
	size_t n;
	switch (cl->match) {
	case LIMIT_ALL:
		return true;
	case LIMIT_POOL:
		return l->pool == pool;
	case LIMIT_PREFIX:
		n = strlen(cl->match_arg);
		return path_len >= n && memcmp(path, cl->match_arg, n) == 0;
	case LIMIT_HEADER:
		return http1_header_get(req, cl->match_arg, &n) != NULL;
	}
	return false;
}

/* The bytes rule `cl` counts a request by, or NULL when it has none. */
static const void *http_key(const struct conf_limit *cl, const struct http1_request *req,
			    const struct sock_addr *peer, size_t *len)
{
	if (cl->key == LIMIT_KEY_IP)
		return sock_addr_bytes(peer, len);
	if (cl->key == LIMIT_KEY_HEADER)
		return http1_header_get(req, cl->key_name, len);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];
		const char *v;
		if (http1_name_is(h->name, h->name_len, "cookie") &&
		    (v = http1_cookie_get(h->value, h->value_len, cl->key_name, len)))
			return v;
	}
	return NULL;
}

const struct lb_limit *limit_http(struct lb_worker *w, struct lb_gen *g, int pool,
				  const struct http1_request *req, const char *path, size_t path_len,
				  const struct sock_addr *peer, struct rl_result *res,
				  struct limit_verdict *v, rclient_fn fn, void *arg)
{
	struct asks a;
	a.host[0] = '\0';
	verdict_init(v, true);
	for (int i = 0; i < g->nlimits; i++) {
		struct lb_limit *l = &g->limits[i];
		if (!http_matches(l, pool, req, path, path_len))
			continue;
		size_t len;
		const void *key = http_key(l->conf, req, peer, &len);
		if (key && !decide(g, l, key, len, l->conf->key == LIMIT_KEY_IP, peer, &a, v, res))
			return l;
	}
	return ask(w, g, &a, v, fn, arg, res);
}

/* The store lost the script (SCRIPT FLUSH, a restart behind a proxy): load
 * it again for the calls that follow. */
static void reload_script(struct rclient *c)
{
	struct buf hello = BUF_INIT;
	uint64_t id;
	rlstore_hello(&hello);
	if (!hello.oom)
		rclient_call(c, hello.data, hello.len, NULL, NULL, &id);
	buf_free(&hello);
}

static const struct lb_limit *answer(struct lb_gen *g, struct limit_verdict *v,
				     struct rclient *client, int rc, const struct resp_value *reply,
				     struct rl_result *res)
{
	int decided = rc < 0 ? rc : rlstore_decided(reply);
	if (decided > v->call.nrules)
		decided = ERR_PARSE;
	if (decided < 0) {
		bool text = rc == 0 && reply->type == RESP_ERROR;
		if (text && reply->len >= 8 && memcmp(reply->p, "NOSCRIPT", 8) == 0 && client)
			reload_script(client);
		return fail_call(g, v, 0, decided, text ? reply->p : NULL, text ? reply->len : 0, res);
	}
	for (int k = 0; k < decided; k++) {
		struct lb_limit *l = &g->limits[v->call.rules[k]];
		uint64_t units = rlstore_result(reply, k, &l->policy, res);
		atomic_fetch_add_explicit(res->allowed ? &l->allowed : &l->limited, 1,
					  memory_order_relaxed);
		if (!res->allowed)
			return l;
		hold_units(l, &v->call, k, units, res);
		fold(v, l, res);
	}
	/* The script stops only at a refusal: fewer answers is a broken reply. */
	return decided < v->call.nrules ? fail_call(g, v, decided, ERR_PARSE, NULL, 0, res) : NULL;
}

const struct lb_limit *limit_answer(struct lb_gen *g, struct limit_verdict *v, int rc,
				    const struct resp_value *reply, struct rl_result *res)
{
	struct rclient *client = v->call.client;
	v->call.client = NULL;
	const struct lb_limit *refused = answer(g, v, client, rc, reply, res);
	call_done(&v->call);
	return refused;
}

const struct lb_limit *limit_timeout(struct lb_gen *g, struct limit_verdict *v,
				     struct rl_result *res)
{
	limit_abandon(v);
	return fail_call(g, v, 0, -ETIMEDOUT, NULL, 0, res);
}

void limit_abandon(struct limit_verdict *v)
{
	if (v->call.client)
		rclient_cancel(v->call.client, v->call.id);
	call_done(&v->call);
}

void limit_worker_release(struct lb_worker *w)
{
	for (int i = 0; i < w->nstores; i++)
		rclient_destroy(w->stores[i]);
	w->nstores = 0;
}

static uint64_t seconds_up(uint64_t ns)
{
	return ns == UINT64_MAX ? UINT64_MAX / 1000000000ULL : (ns + 999999999ULL) / 1000000000ULL;
}

void limit_fields(struct buf *out, const struct lb_limit *l, const struct rl_result *res)
{
	uint64_t window = (l->policy.period_ns + 999999999ULL) / 1000000000ULL;
	unsigned long long reset = seconds_up(res->reset_after_ns);
	buf_printf(out,
		   "RateLimit-Policy: \"%s\";q=%llu;w=%llu\r\n"
		   "RateLimit: \"%s\";r=%llu;t=%llu\r\n"
		   "X-RateLimit-Limit: %llu\r\n"
		   "X-RateLimit-Remaining: %llu\r\n"
		   "X-RateLimit-Reset: %llu\r\n",
		   l->conf->name, (unsigned long long)l->policy.limit, (unsigned long long)window,
		   l->conf->name, (unsigned long long)res->remaining, reset,
		   (unsigned long long)l->policy.limit, (unsigned long long)res->remaining, reset);
}

void limit_headers(struct buf *out, const struct lb_limit *l, const struct rl_result *res)
{
	buf_printf(out, "Retry-After: %llu\r\n", (unsigned long long)seconds_up(res->retry_after_ns));
	limit_fields(out, l, res);
}
