#include "lb/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "lb/balance.h"
#include "lb/limit.h"
#include "lb/server.h"
#include "net/tls.h"

#define LISTEN_BACKLOG 4096

static void listener_close(struct lb_listener *l)
{
	int fd = atomic_exchange(&l->fd, -1);
	if (fd >= 0)
		close(fd);
}

static void listener_unref(struct lb_listener *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	listener_close(l);
	free(l);
}

void gen_listener_watch(struct lb_listener *l)
{
	atomic_fetch_add(&l->watchers, 1);
}

void gen_listener_unwatch(struct lb_listener *l)
{
	if (atomic_fetch_sub(&l->watchers, 1) == 1)
		listener_close(l);
}

static bool gen_has(const struct lb_gen *g, const struct lb_listener *l)
{
	for (int i = 0; i < g->nlisteners; i++)
		if (g->listeners[i] == l)
			return true;
	return false;
}

void gen_retire(struct lb_gen *old, struct lb_gen *cur)
{
	for (int i = 0; i < old->nlisteners; i++) {
		struct lb_listener *l = old->listeners[i];
		if (gen_has(cur, l))
			continue;
		int fd = atomic_load(&l->fd);
		if (fd >= 0)
			shutdown(fd, SHUT_RD);
		gen_listener_unwatch(l);
	}
}

static struct lb_listener *find_listener(struct lb_gen *prev, const struct sock_addr *a)
{
	for (int i = 0; prev && i < prev->nlisteners; i++)
		if (sock_addr_equal(&prev->listeners[i]->addr, a))
			return prev->listeners[i];
	return NULL;
}

static struct lb_server *find_server(struct lb_gen *prev, const char *pool,
				     const struct conf_server *cs)
{
	for (int i = 0; prev && i < prev->npools; i++) {
		struct lb_pool *p = &prev->pools[i];
		if (strcmp(p->conf.name, pool) != 0)
			continue;
		for (int j = 0; j < p->nservers; j++) {
			const struct conf_server *o = &p->servers[j]->conf;
			if (strcmp(o->name, cs->name) == 0 && sock_addr_equal(&o->addr, &cs->addr) &&
			    o->weight == cs->weight)
				return p->servers[j];
		}
	}
	return NULL;
}

static int build_listener(struct lb_gen *g, struct lb_gen *prev, const struct conf_listener *cl,
			  char *err, size_t errlen)
{
	struct lb_listener *l = find_listener(prev, &cl->addr);
	if (l) {
		atomic_fetch_add(&l->refs, 1);
	} else {
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		atomic_init(&l->refs, 1);
		atomic_init(&l->watchers, 1);  /* the main thread's hold while current */
		l->addr = cl->addr;
		snprintf(l->addr_text, sizeof(l->addr_text), "%s", cl->addr_text);
		int rc = sock_listen(&cl->addr, LISTEN_BACKLOG);
		/* A listener retired by the previous reload keeps its port until
		 * the last worker lets go of it, a few microseconds later. */
		for (int tries = 0; rc == -EADDRINUSE && prev && tries < 20; tries++) {
			nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
			rc = sock_listen(&cl->addr, LISTEN_BACKLOG);
		}
		atomic_init(&l->fd, rc);
		if (rc < 0) {
			snprintf(err, errlen, "listener '%s': cannot listen on %s: %s",
				 cl->name, cl->addr_text, err_str(rc));
			free(l);
			return rc;
		}
	}
	g->listeners[g->nlisteners++] = l;
	return 0;
}

static int build_pool(struct lb_pool *p, struct lb_gen *prev, const struct conf_pool *cp)
{
	p->conf = *cp;
	pthread_mutex_init(&p->rr_lock, NULL);
	ring_init(&p->ring, RING_DEFAULT_VNODES);
	for (int i = 0; i < cp->nservers; i++) {
		struct lb_server *s = find_server(prev, cp->name, &cp->servers[i]);
		if (s)
			server_ref(s);
		else if (!(s = server_create(cp->name, &cp->servers[i])))
			return -ENOMEM;
		p->servers[p->nservers++] = s;
	}
	return balance_ring_build(p);
}

static void gen_free(struct lb_gen *g)
{
	for (int i = 0; i < g->nlisteners; i++)
		listener_unref(g->listeners[i]);
	for (int i = 0; i < g->npools; i++) {
		struct lb_pool *p = &g->pools[i];
		for (int j = 0; j < p->nservers; j++)
			server_unref(p->servers[j]);
		ring_free(&p->ring);
		pthread_mutex_destroy(&p->rr_lock);
	}
	for (int i = 0; i < CONF_MAX_LISTENERS; i++)
		tls_server_destroy(g->tls[i]);
	limit_free(g);
	free(g->conf);
	free(g);
}

/* The TLS context of listener i, when it has certificates. */
static int build_tls(struct lb_gen *g, int i, char *err, size_t errlen)
{
	const struct conf_listener *cl = &g->conf->listeners[i];
	if (cl->ncerts == 0)
		return 0;
	struct tls_cert_files files[CONF_MAX_CERTS];
	for (int k = 0; k < cl->ncerts; k++) {
		files[k].cert = cl->certs[k].cert;
		files[k].key = cl->certs[k].key;
	}
	char why[CONF_ERR_MAX];
	int rc = tls_server_create(files, cl->ncerts, &g->tls[i], why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "listener '%s': %s", cl->name, why);
	return rc;
}

int gen_create(struct lb_conf *conf, struct lb_gen *prev, struct lb_gen **out,
	       char *err, size_t errlen)
{
	struct lb_gen *g = calloc(1, sizeof(*g));
	if (!g) {
		free(conf);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&g->refs, 1);
	g->conf = conf;
	int rc = 0;
	for (int i = 0; i < conf->npools && rc == 0; i++) {
		rc = build_pool(&g->pools[i], prev, &conf->pools[i]);
		g->npools++;
		if (rc < 0)
			snprintf(err, errlen, "pool '%s': %s", conf->pools[i].name, err_str(rc));
	}
	if (rc == 0)
		rc = limit_build(g, prev, err, errlen);
	for (int i = 0; i < conf->nlisteners && rc == 0; i++)
		rc = build_tls(g, i, err, errlen);
	for (int i = 0; i < conf->nlisteners && rc == 0; i++)
		rc = build_listener(g, prev, &conf->listeners[i], err, errlen);
	if (rc < 0) {
		gen_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void gen_ref(struct lb_gen *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void gen_unref(struct lb_gen *g)
{
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		gen_free(g);
}

int64_t gen_active(const struct lb_gen *g)
{
	int64_t n = 0;
	for (int i = 0; i < g->nlisteners; i++)
		n += atomic_load_explicit(&g->listeners[i]->active, memory_order_relaxed);
	return n;
}
