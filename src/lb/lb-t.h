/*
 * lb-t.h - the load balancer's runtime types, apart from the functions that
 * work on them (as HAProxy's *-t.h headers), so its data structures can be
 * seen at a glance.
 *
 *   struct lb            the process: config path, current generation,
 *                        worker threads, main loop (signals, health, admin)
 *   struct lb_gen        one generation of the configuration: listeners and
 *                        pools, immutable once published, refcounted;
 *                        SIGHUP builds a new one and the old one lives until
 *                        its last connection closes
 *   struct lb_listener   a listening socket and its counters; carried over to
 *                        the next generation when its address stays, closed
 *                        as soon as no generation in use by a worker has it
 *   struct lb_pool       a balancing algorithm over servers (per generation)
 *   struct lb_server     a backend server's health and counters; carried over
 *                        to the next generation when its pool, name and
 *                        address stay
 *   struct lb_worker     one thread's loop, its listener registrations, its
 *                        caches, its pooled idle server connections (http)
 *                        and its access-log buffer
 *
 * Counters shared across threads are relaxed atomics; health transitions take
 * the server's lock. Nothing on the forwarding path takes a lock except the
 * round-robin pick (one short critical section per new connection).
 */
#ifndef STRATA_LB_T_H
#define STRATA_LB_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "algo/ratelimit.h"
#include "algo/ring.h"
#include "core/buf.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "lb/conf.h"

struct lb_server {
	_Atomic int refs;
	char pool_name[CONF_NAME_MAX];
	struct conf_server conf;

	_Atomic bool up;
	_Atomic int64_t active;           /* connections assigned now */
	_Atomic uint64_t total;           /* connections established */
	_Atomic uint64_t bytes_to_server;
	_Atomic uint64_t bytes_from_server;
	_Atomic uint64_t connect_errors;
	_Atomic uint64_t transitions;     /* up<->down changes */
	_Atomic uint64_t requests;        /* http: requests sent to the server */
	_Atomic uint64_t responses[5];    /* http: by class, 1xx..5xx */
	_Atomic uint64_t ewma_us;         /* leasttime: connect + first byte, EWMA */
	_Atomic int fails;                /* consecutive failed checks/connects */
	struct metrics_hist connect_hist;

	pthread_mutex_t lock;             /* health transitions */
	int oks;                          /* consecutive good checks while down */
};

struct lb_pool {
	struct conf_pool conf;            /* copy of the settings */
	struct lb_server *servers[CONF_MAX_SERVERS];
	int nservers;
	struct ring ring;                 /* source: node = server index */
	pthread_mutex_t rr_lock;          /* roundrobin state below */
	int rr_current[CONF_MAX_SERVERS]; /* smooth WRR current weights */
};

struct lb_listener {
	_Atomic int refs;
	struct sock_addr addr;            /* settings live in the generation's conf */
	char addr_text[SOCK_ADDR_STRLEN];
	_Atomic int fd;                   /* -1 once closed */
	_Atomic int watchers;             /* worker loops watching fd, +1 while current */
	_Atomic int64_t active;
	_Atomic uint64_t total;
	_Atomic uint64_t refused;         /* closed at once: over max-conns */
	_Atomic uint64_t requests;        /* http: requests received */
	_Atomic uint64_t errors[10];      /* http: answered by strata itself, see http.h */
};

/* A rate-limit rule at run time: its policy and the state of every key. */
struct lb_limit {
	const struct conf_limit *conf;    /* in the generation's conf */
	struct rl_policy policy;
	struct rl_table *table;           /* local: every key's state */
	struct rl_table *held;            /* shared with local-allowance: units taken
	                                     from the store and not yet spent, by key */
	int pool;                         /* match pool: the pool's index */
	_Atomic uint64_t allowed, limited, delayed;
	_Atomic uint64_t held_allowed;    /* shared: allowed from held units, no call */
	_Atomic uint64_t store_errors;    /* shared: decided by on-store-error */
	_Atomic uint64_t store_logged_ms; /* the last such log line (one per 10 s) */
};

struct rclient;

/* A request's call to the rate-limit store, while it waits for the answer. */
struct limit_call {
	struct rclient *client;           /* NULL: not waiting */
	uint64_t id;
	int nrules;
	uint8_t rules[CONF_MAX_LIMITS];   /* the shared rules asked, in order */
	char *keys;                       /* local-allowance rules' keys (malloc'd) */
};

/* What the rules said of an allowed request: the tightest rule (fewest
 * remaining) for the response's RateLimit fields, and the delay. */
struct limit_verdict {
	const struct lb_limit *tightest;  /* NULL when no rule counted it */
	struct rl_result res;             /* the tightest rule's decision */
	uint64_t delay_ns;                /* mode = delay: hold it this long first */
	bool shaping;                     /* http: delay rules may hold the request */
	struct limit_call call;           /* shared rules still to be decided */
};

struct lb_gen {
	_Atomic int refs;
	struct lb_conf *conf;
	struct lb_listener *listeners[CONF_MAX_LISTENERS];
	struct lb_pool pools[CONF_MAX_POOLS];
	struct tls_server *tls[CONF_MAX_LISTENERS];  /* per listener, NULL: plain */
	struct lb_limit limits[CONF_MAX_LIMITS];
	int nlisteners, npools, nlimits;
};

struct lb;
struct tls_server;
struct http_session;
struct srvconn;

#define LB_IDLE_BUCKETS 64            /* idle server connections, by server */
#define LB_MAX_STORES 4               /* rate-limit store addresses per worker */

/* A worker's registration of one listener in its loop. */
struct lb_accept {
	struct loop_io io;
	struct timer resume;              /* re-listen after running out of fds */
	struct lb_worker *worker;
	struct lb_listener *listener;
	const struct conf_listener *conf;
	int index;                        /* of the listener in the generation */
	struct lb_pool *pool;
};

struct lb_worker {
	struct lb *lb;
	struct loop *loop;
	struct lb_gen *gen;               /* the generation this worker accepts for */
	struct lb_accept accepts[CONF_MAX_LISTENERS];
	int naccepts;
	uint64_t rng;                     /* rng_next state for random2 */
	uint64_t next_fd_warning_ms;      /* rate limit of the fd-shortage log */
	int pipes[64][2];                 /* idle, empty pipes for splice */
	int npipes;
	char *bufs[64];                   /* idle copy buffers */
	int nbufs;
	_Atomic int64_t sessions;         /* open here; read by the main thread */
	struct tcp_session *session_list; /* open here, for closing at exit */
	struct http_session *http_list;   /* the same for http */
	struct srvconn *idle[LB_IDLE_BUCKETS];  /* pooled server connections */
	struct rclient *stores[LB_MAX_STORES];  /* rate-limit store clients, by address */
	int nstores;
	struct buf access_buf;            /* access log lines not yet written */
	struct loop_deferred access_flush;
	bool access_flush_armed;
};

struct lb {
	const char *conf_path;            /* NULL with quick-start flags */
	struct lb_gen *gen;               /* current; owned reference */
	struct loop *loop;                /* main thread */
	struct workers *workers;
	struct lb_worker *worker_state;
	struct signals *signals;
	struct health *health;
	struct httpd *admin;
	int admin_fd;
	int access_fd;                    /* -1: access log off */
	uint64_t started_ms;
	_Atomic bool draining;            /* set by the main thread, read by workers */
	uint64_t drain_deadline_ms;
	struct timer drain_timer;
	struct timer limit_sweep;         /* frees idle rate-limit keys */
};

#endif
