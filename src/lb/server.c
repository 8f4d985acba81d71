#include "lb/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

struct lb_server *server_create(const char *pool_name, const struct conf_server *conf)
{
	struct lb_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	snprintf(s->pool_name, sizeof(s->pool_name), "%s", pool_name);
	s->conf = *conf;
	atomic_init(&s->up, true);
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void server_ref(struct lb_server *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void server_unref(struct lb_server *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void server_report(struct lb_server *s, bool ok, int rise, int fall,
		   const char *source, const char *why)
{
	/* The common case, a success with nothing to reset, takes no lock. */
	if (ok && server_is_up(s) && atomic_load_explicit(&s->fails, memory_order_relaxed) == 0)
		return;

	pthread_mutex_lock(&s->lock);
	bool up = server_is_up(s);
	if (ok) {
		atomic_store_explicit(&s->fails, 0, memory_order_relaxed);
		if (!up && ++s->oks >= rise) {
			s->oks = 0;
			atomic_store(&s->up, true);
			atomic_fetch_add(&s->transitions, 1);
			log_warn("server %s/%s is UP (%s: %s)", s->pool_name, s->conf.name, source, why);
		}
	} else {
		s->oks = 0;
		int fails = atomic_fetch_add_explicit(&s->fails, 1, memory_order_relaxed) + 1;
		if (up && fails >= fall) {
			atomic_store(&s->up, false);
			atomic_fetch_add(&s->transitions, 1);
			log_warn("server %s/%s is DOWN (%s: %s)", s->pool_name, s->conf.name, source, why);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void server_observe_time(struct lb_server *s, uint64_t us)
{
	/* A lost update under a race only drops one sample: no CAS loop needed. */
	uint64_t old = atomic_load_explicit(&s->ewma_us, memory_order_relaxed);
	uint64_t next = old == 0 ? us : old - old / 8 + us / 8;
	atomic_store_explicit(&s->ewma_us, next ? next : 1, memory_order_relaxed);
}

void server_connect_failed(struct lb_server *s, const struct conf_pool *pc, int rc)
{
	atomic_fetch_add_explicit(&s->connect_errors, 1, memory_order_relaxed);
	if (pc->check != CHECK_NONE)
		server_report(s, false, pc->rise, pc->fall, "connect", err_str(rc));
	log_debug("connect to %s/%s failed: %s", s->pool_name, s->conf.name, err_str(rc));
}

void server_connected(struct lb_server *s, const struct conf_pool *pc, uint64_t us)
{
	metrics_hist_observe(&s->connect_hist, us);
	atomic_fetch_add_explicit(&s->total, 1, memory_order_relaxed);
	if (pc->check != CHECK_NONE)
		server_report(s, true, pc->rise, pc->fall, "connect", "ok");
}

void server_connect_shortage(struct lb_worker *w, struct lb_server *s, int rc)
{
	uint64_t now = loop_now(w->loop);
	if (now < w->next_fd_warning_ms)
		return;
	log_error("cannot connect to %s/%s: %s (logged every 10 s)", s->pool_name, s->conf.name,
		  err_str(rc));
	w->next_fd_warning_ms = now + 10000;
}
