#include "lb/route.h"

#include <string.h>
#include <strings.h>

static bool header_matches(const struct http1_request *req, const struct conf_cond *cd)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];
		if (!http1_name_is(h->name, h->name_len, cd->name))
			continue;
		if (cd->value_len == 0 ||
		    (h->value_len == cd->value_len && memcmp(h->value, cd->value, h->value_len) == 0))
			return true;
	}
	return false;
}

static bool holds(const struct conf_cond *cd, const struct route_request *r)
{
	switch (cd->match) {
	case MATCH_HOST:
		return r->host_len == cd->value_len && strncasecmp(r->host, cd->value, r->host_len) == 0;
	case MATCH_PATH:
		return r->path_len == cd->value_len && memcmp(r->path, cd->value, r->path_len) == 0;
	case MATCH_PREFIX:
		return r->path_len >= cd->value_len && memcmp(r->path, cd->value, cd->value_len) == 0;
	case MATCH_METHOD:
		return r->req->method_len == cd->value_len &&
		       memcmp(r->req->method, cd->value, cd->value_len) == 0;
	case MATCH_HEADER:
		return header_matches(r->req, cd);
	}
	return false;
}

void route_request_init(struct route_request *r, const struct http1_request *req,
			const char *host, size_t host_len, const char *target, size_t target_len)
{
	r->req = req;
	r->path = target;
	const char *q = memchr(target, '?', target_len);
	r->path_len = q ? (size_t)(q - target) : target_len;
	r->host = host ? host : "";
	r->host_len = host ? host_len : 0;
	const char *colon = host ? memchr(host, ':', host_len) : NULL;
	if (colon && host[0] != '[')
		r->host_len = (size_t)(colon - host);
}

int route_select(const struct lb_conf *c, int listener, const struct route_request *r)
{
	for (int i = 0; i < c->nroutes; i++) {
		const struct conf_route *rt = &c->routes[i];
		if (rt->listener != listener)
			continue;
		int k = 0;
		while (k < rt->nconds && holds(&rt->conds[k], r))
			k++;
		if (k == rt->nconds)
			return rt->pool;
	}
	return c->listeners[listener].pool;
}
