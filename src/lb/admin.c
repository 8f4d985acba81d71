#include "lb/admin.h"

#include <string.h>

#include "algo/rltable.h"
#include "core/cli.h"
#include "core/loop.h"
#include "lb/gen.h"
#include "lb/http.h"
#include "lb/server.h"

static uint64_t load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static int64_t load_signed(_Atomic int64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void server_labels(struct buf *out, const struct lb_pool *p, const struct lb_server *s)
{
	buf_reset(out);
	buf_puts(out, "pool=\"");
	metrics_label_escape(out, p->conf.name);
	buf_puts(out, "\",server=\"");
	metrics_label_escape(out, s->conf.name);
	buf_puts(out, "\",address=\"");
	metrics_label_escape(out, s->conf.addr_text);
	buf_puts(out, "\"");
	buf_append(out, "", 1);  /* NUL-terminate for use as a C string */
}

enum field { F_UP, F_ACTIVE, F_TOTAL, F_TO, F_FROM, F_ERRORS, F_TRANS, F_REQUESTS, F_COUNT };

static const struct {
	const char *name, *type, *help;
} server_fields[F_COUNT] = {
	{ "strata_lb_server_up", "gauge", "1 when the server is up (receives new connections)" },
	{ "strata_lb_server_active_connections", "gauge", "connections assigned to the server now" },
	{ "strata_lb_server_connections_total", "counter", "connections established to the server" },
	{ "strata_lb_server_sent_bytes_total", "counter", "bytes forwarded from clients to the server" },
	{ "strata_lb_server_received_bytes_total", "counter", "bytes forwarded from the server to clients" },
	{ "strata_lb_server_connect_errors_total", "counter", "failed or timed-out connects to the server" },
	{ "strata_lb_server_health_transitions_total", "counter", "changes between up and down" },
	{ "strata_lb_server_requests_total", "counter", "http: requests sent to the server" },
};

static uint64_t server_field(struct lb_server *s, enum field f)
{
	switch (f) {
	case F_UP:     return server_is_up(s);
	case F_ACTIVE: return (uint64_t)load_signed(&s->active);
	case F_TOTAL:  return load(&s->total);
	case F_TO:     return load(&s->bytes_to_server);
	case F_FROM:   return load(&s->bytes_from_server);
	case F_ERRORS: return load(&s->connect_errors);
	case F_TRANS:  return load(&s->transitions);
	case F_REQUESTS: return load(&s->requests);
	default:       return 0;
	}
}

/* The labels `rule="NAME"` of rule l, NUL-terminated in b. */
static const char *rule_label(struct buf *b, const struct lb_limit *l)
{
	buf_reset(b);
	buf_puts(b, "rule=\"");
	metrics_label_escape(b, l->conf->name);
	buf_puts(b, "\"");
	buf_append(b, "", 1);
	return b->data;
}

void admin_collect(struct buf *out, void *arg)
{
	struct lb *lb = arg;
	struct lb_gen *g = lb->gen;
	struct buf labels = BUF_INIT;

	metrics_family(out, "strata_build_info", "gauge", "strata version");
	metrics_sample(out, "strata_build_info", "version=\"" STRATA_VERSION "\"", 1);
	metrics_family(out, "strata_uptime_seconds", "gauge", "seconds since start");
	metrics_sample(out, "strata_uptime_seconds", "", (loop_now(lb->loop) - lb->started_ms) / 1000);

	for (int f = 0; f < F_COUNT; f++) {
		metrics_family(out, server_fields[f].name, server_fields[f].type, server_fields[f].help);
		for (int i = 0; i < g->npools; i++)
			for (int j = 0; j < g->pools[i].nservers; j++) {
				struct lb_server *s = g->pools[i].servers[j];
				server_labels(&labels, &g->pools[i], s);
				metrics_sample(out, server_fields[f].name, labels.data,
					       server_field(s, (enum field)f));
			}
	}
	metrics_family(out, "strata_lb_server_connect_seconds", "histogram",
		       "time to establish a connection to the server");
	for (int i = 0; i < g->npools; i++)
		for (int j = 0; j < g->pools[i].nservers; j++) {
			struct lb_server *s = g->pools[i].servers[j];
			server_labels(&labels, &g->pools[i], s);
			metrics_hist_write(out, "strata_lb_server_connect_seconds", labels.data,
					   &s->connect_hist);
		}

	metrics_family(out, "strata_lb_server_responses_total", "counter",
		       "http: responses from the server by status class");
	for (int i = 0; i < g->npools; i++)
		for (int j = 0; j < g->pools[i].nservers; j++) {
			struct lb_server *s = g->pools[i].servers[j];
			for (int c = 0; c < 5; c++) {
				server_labels(&labels, &g->pools[i], s);
				labels.len--;  /* reopen the NUL-terminated list */
				buf_printf(&labels, ",code=\"%dxx\"", c + 1);
				buf_append(&labels, "", 1);
				metrics_sample(out, "strata_lb_server_responses_total", labels.data,
					       load(&s->responses[c]));
			}
		}

	static const char *const lnames[3][3] = {
		{ "strata_lb_listener_active_connections", "gauge", "client connections open now" },
		{ "strata_lb_listener_connections_total", "counter", "client connections accepted" },
		{ "strata_lb_listener_refused_total", "counter", "connections closed at once: over max-conns" },
	};
	for (int f = 0; f < 3; f++) {
		metrics_family(out, lnames[f][0], lnames[f][1], lnames[f][2]);
		for (int i = 0; i < g->nlisteners; i++) {
			struct lb_listener *l = g->listeners[i];
			buf_reset(&labels);
			buf_puts(&labels, "listener=\"");
			metrics_label_escape(&labels, g->conf->listeners[i].name);
			buf_puts(&labels, "\",address=\"");
			metrics_label_escape(&labels, l->addr_text);
			buf_puts(&labels, "\"");
			buf_append(&labels, "", 1);
			uint64_t v = f == 0 ? (uint64_t)load_signed(&l->active)
				   : f == 1 ? load(&l->total) : load(&l->refused);
			metrics_sample(out, lnames[f][0], labels.data, v);
		}
	}
	metrics_family(out, "strata_lb_ratelimit_decisions_total", "counter",
		       "requests or connections counted by a rate-limit rule, by result");
	for (int i = 0; i < g->nlimits; i++) {
		static const char *const results[3] = { "allowed", "limited", "delayed" };
		for (int k = 0; k < 3; k++) {
			struct lb_limit *l = &g->limits[i];
			buf_reset(&labels);
			buf_puts(&labels, "rule=\"");
			metrics_label_escape(&labels, l->conf->name);
			buf_printf(&labels, "\",result=\"%s\"", results[k]);
			buf_append(&labels, "", 1);
			metrics_sample(out, "strata_lb_ratelimit_decisions_total", labels.data,
				       load(k == 0 ? &l->allowed : k == 1 ? &l->limited : &l->delayed));
		}
	}
	metrics_family(out, "strata_lb_ratelimit_keys", "gauge",
		       "client keys a local rate-limit rule holds (shared rules keep theirs in the store)");
	for (int i = 0; i < g->nlimits; i++)
		if (!g->limits[i].conf->shared)
			metrics_sample(out, "strata_lb_ratelimit_keys", rule_label(&labels, &g->limits[i]),
				       rl_table_keys(g->limits[i].table));
	metrics_family(out, "strata_lb_ratelimit_store_errors_total", "counter",
		       "shared rules: decisions made by on-store-error (store down, late or failing)");
	for (int i = 0; i < g->nlimits; i++)
		if (g->limits[i].conf->shared)
			metrics_sample(out, "strata_lb_ratelimit_store_errors_total",
				       rule_label(&labels, &g->limits[i]), load(&g->limits[i].store_errors));
	metrics_family(out, "strata_lb_ratelimit_held_allowed_total", "counter",
		       "shared rules: requests allowed from units held locally (local-allowance), "
		       "with no store call");
	for (int i = 0; i < g->nlimits; i++)
		if (g->limits[i].conf->shared)
			metrics_sample(out, "strata_lb_ratelimit_held_allowed_total",
				       rule_label(&labels, &g->limits[i]), load(&g->limits[i].held_allowed));
	metrics_family(out, "strata_lb_listener_requests_total", "counter", "http: requests received");
	metrics_family(out, "strata_lb_listener_errors_total", "counter",
		       "http: requests strata answered itself with an error, by status");
	for (int i = 0; i < g->nlisteners; i++) {
		struct lb_listener *l = g->listeners[i];
		if (g->conf->listeners[i].mode != MODE_HTTP)
			continue;
		buf_reset(&labels);
		buf_puts(&labels, "listener=\"");
		metrics_label_escape(&labels, g->conf->listeners[i].name);
		buf_puts(&labels, "\"");
		buf_append(&labels, "", 1);
		metrics_sample(out, "strata_lb_listener_requests_total", labels.data, load(&l->requests));
		for (int e = 0; e < HTTP_ERR_OTHER; e++) {
			buf_reset(&labels);
			buf_puts(&labels, "listener=\"");
			metrics_label_escape(&labels, g->conf->listeners[i].name);
			buf_printf(&labels, "\",code=\"%d\"", http_error_status((enum http_error_slot)e));
			buf_append(&labels, "", 1);
			metrics_sample(out, "strata_lb_listener_errors_total", labels.data,
				       load(&l->errors[e]));
		}
	}
	buf_free(&labels);
}

static void json_kv_str(struct buf *out, const char *key, const char *value, bool comma)
{
	buf_printf(out, "\"%s\":\"", key);
	buf_json_str(out, value);
	buf_puts(out, comma ? "\"," : "\"");
}

void admin_stats_json(struct lb *lb, struct buf *out)
{
	struct lb_gen *g = lb->gen;
	buf_printf(out, "{\"version\":\"%s\",\"uptime_s\":%llu,\"threads\":%d,\"draining\":%s,",
		   STRATA_VERSION,
		   (unsigned long long)((loop_now(lb->loop) - lb->started_ms) / 1000),
		   g->conf->threads, lb->draining ? "true" : "false");
	buf_puts(out, "\"listeners\":[");
	for (int i = 0; i < g->nlisteners; i++) {
		struct lb_listener *l = g->listeners[i];
		const struct conf_listener *c = &g->conf->listeners[i];
		buf_puts(out, i ? ",{" : "{");
		json_kv_str(out, "name", c->name, true);
		json_kv_str(out, "bind", l->addr_text, true);
		json_kv_str(out, "mode", conf_mode_name(c->mode), true);
		buf_printf(out, "\"tls\":%s,", c->ncerts ? "true" : "false");
		json_kv_str(out, "pool", c->pool_name, true);
		buf_printf(out, "\"max_conns\":%ld,\"active\":%lld,\"total\":%llu,\"refused\":%llu,"
			   "\"requests\":%llu,\"errors\":{",
			   c->max_conns, (long long)load_signed(&l->active),
			   (unsigned long long)load(&l->total), (unsigned long long)load(&l->refused),
			   (unsigned long long)load(&l->requests));
		for (int e = 0; e < HTTP_ERR_OTHER; e++)
			buf_printf(out, "%s\"%d\":%llu", e ? "," : "",
				   http_error_status((enum http_error_slot)e),
				   (unsigned long long)load(&l->errors[e]));
		buf_puts(out, "}}");
	}
	buf_puts(out, "],\"pools\":[");
	for (int i = 0; i < g->npools; i++) {
		struct lb_pool *p = &g->pools[i];
		buf_puts(out, i ? ",{" : "{");
		json_kv_str(out, "name", p->conf.name, true);
		json_kv_str(out, "balance", conf_balance_name(p->conf.balance), true);
		json_kv_str(out, "health_check", p->conf.check == CHECK_NONE ? "none"
			    : p->conf.check == CHECK_TCP ? "tcp" : "http", true);
		buf_puts(out, "\"servers\":[");
		for (int j = 0; j < p->nservers; j++) {
			struct lb_server *s = p->servers[j];
			buf_puts(out, j ? ",{" : "{");
			json_kv_str(out, "name", s->conf.name, true);
			json_kv_str(out, "address", s->conf.addr_text, true);
			json_kv_str(out, "state", server_is_up(s) ? "up" : "down", true);
			buf_printf(out, "\"weight\":%d,\"active\":%lld,\"total\":%llu,"
				   "\"sent_bytes\":%llu,\"received_bytes\":%llu,"
				   "\"connect_errors\":%llu,\"health_transitions\":%llu,"
				   "\"response_time_us\":%llu,\"requests\":%llu,"
				   "\"responses\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,"
				   "\"4xx\":%llu,\"5xx\":%llu}}",
				   s->conf.weight, (long long)load_signed(&s->active),
				   (unsigned long long)load(&s->total),
				   (unsigned long long)load(&s->bytes_to_server),
				   (unsigned long long)load(&s->bytes_from_server),
				   (unsigned long long)load(&s->connect_errors),
				   (unsigned long long)load(&s->transitions),
				   (unsigned long long)load(&s->ewma_us),
				   (unsigned long long)load(&s->requests),
				   (unsigned long long)load(&s->responses[0]),
				   (unsigned long long)load(&s->responses[1]),
				   (unsigned long long)load(&s->responses[2]),
				   (unsigned long long)load(&s->responses[3]),
				   (unsigned long long)load(&s->responses[4]));
		}
		buf_puts(out, "]}");
	}
	buf_puts(out, "],\"ratelimits\":[");
	for (int i = 0; i < g->nlimits; i++) {
		struct lb_limit *l = &g->limits[i];
		buf_puts(out, i ? ",{" : "{");
		json_kv_str(out, "name", l->conf->name, true);
		json_kv_str(out, "rate", l->conf->rate_text, true);
		buf_printf(out, "\"allowed\":%llu,\"limited\":%llu,\"delayed\":%llu,",
			   (unsigned long long)load(&l->allowed), (unsigned long long)load(&l->limited),
			   (unsigned long long)load(&l->delayed));
		if (!l->conf->shared)
			buf_printf(out, "\"scope\":\"local\",\"keys\":%zu}", rl_table_keys(l->table));
		else
			buf_printf(out, "\"scope\":\"shared\",\"store_errors\":%llu,"
				   "\"held_allowed\":%llu}", (unsigned long long)load(&l->store_errors),
				   (unsigned long long)load(&l->held_allowed));
	}
	buf_puts(out, "]}\n");
}

static bool target_is(const struct http1_request *req, const char *path)
{
	size_t n = strlen(path);
	if (req->target_len < n || memcmp(req->target, path, n) != 0)
		return false;
	return req->target_len == n || req->target[n] == '?';
}

void admin_handle(void *arg, const struct http1_request *req, struct httpd_reply *reply)
{
	struct lb *lb = arg;
	bool get = (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
		   (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0);
	if (!get) {
		reply->status = 405;
		buf_puts(&reply->body, "405 Method Not Allowed\n");
	} else if (target_is(req, "/metrics")) {
		reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(&reply->body);
	} else if (target_is(req, "/stats")) {
		reply->content_type = "application/json";
		admin_stats_json(lb, &reply->body);
	} else if (target_is(req, "/healthz")) {
		reply->status = lb->draining ? 503 : 200;
		buf_puts(&reply->body, lb->draining ? "draining\n" : "ok\n");
	} else {
		reply->status = 404;
		buf_puts(&reply->body, "404 Not Found\n");
	}
}
