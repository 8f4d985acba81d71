#include "lb/limit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "algo/rltable.h"
#include "core/loop.h"

int limit_build(struct lb_gen *g, char *err, size_t errlen)
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
		if (rl_table_create(&l->policy, (size_t)cl->max_keys, &l->table) < 0) {
			snprintf(err, errlen, "ratelimit '%s': out of memory", cl->name);
			return -ENOMEM;
		}
		g->nlimits++;
	}
	return 0;
}

void limit_free(struct lb_gen *g)
{
	for (int i = 0; i < g->nlimits; i++)
		rl_table_destroy(g->limits[i].table);
	g->nlimits = 0;
}

void limit_sweep(struct lb_gen *g)
{
	uint64_t now = loop_clock_ns();
	for (int i = 0; i < g->nlimits; i++)
		rl_table_expire(g->limits[i].table, now);
}


/* Count one unit for `key` under rule `l`; true when allowed. */
static bool count(struct lb_limit *l, const void *key, size_t len, struct rl_result *res)
{
	rl_table_decide(l->table, key, len, loop_clock_ns(), 1, res);
	atomic_fetch_add_explicit(res->allowed ? &l->allowed : &l->limited, 1, memory_order_relaxed);
	return res->allowed;
}

const struct lb_limit *limit_tcp(struct lb_gen *g, int pool, const struct sock_addr *peer)
{
	for (int i = 0; i < g->nlimits; i++) {
		struct lb_limit *l = &g->limits[i];
		const struct conf_limit *cl = l->conf;
		if (cl->key != LIMIT_KEY_IP || (cl->match != LIMIT_ALL && cl->match != LIMIT_POOL) ||
		    (cl->match == LIMIT_POOL && l->pool != pool))
			continue;
		size_t len;
		const void *key = sock_addr_bytes(peer, &len);
		struct rl_result res;
		if (!count(l, key, len, &res))
			return l;
	}
	return NULL;
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

const struct lb_limit *limit_http(struct lb_gen *g, int pool, const struct http1_request *req,
				  const char *path, size_t path_len, const struct sock_addr *peer,
				  struct rl_result *res, struct limit_verdict *v)
{
	v->tightest = NULL;
	v->delay_ns = 0;
	for (int i = 0; i < g->nlimits; i++) {
		struct lb_limit *l = &g->limits[i];
		if (!http_matches(l, pool, req, path, path_len))
			continue;
		size_t len;
		const void *key = http_key(l->conf, req, peer, &len);
		if (!key)
			continue;
		if (!count(l, key, len, res))
			return l;
		if (!v->tightest || res->remaining < v->res.remaining) {
			v->tightest = l;
			v->res = *res;
		}
		if (l->conf->delay && res->delay_ns) {
			atomic_fetch_add_explicit(&l->delayed, 1, memory_order_relaxed);
			if (res->delay_ns > v->delay_ns)
				v->delay_ns = res->delay_ns;
		}
	}
	return NULL;
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
