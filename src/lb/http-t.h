/*
 * http-t.h - the L7 proxy's types, apart from the functions that work on
 * them (lb-t.h holds the load balancer's shared ones):
 *
 *   struct http_end      a socket with the readiness flags the session keeps
 *                        (edge-triggered epoll reports each change once)
 *   struct srvconn       a connection to a server: in use by one session or
 *                        idle in its worker's pool
 *   struct http_body     how a body is framed and how much of it is left
 *   struct http_session  one client connection and the request in flight
 */
#ifndef STRATA_LB_HTTP_T_H
#define STRATA_LB_HTTP_T_H

#include "lb/lb-t.h"
#include "net/tls.h"
#include "proto/http1.h"

#define METHOD_MAX    64           /* copies kept for the access log */
#define TARGET_MAX    512
#define RID_MAX       65

/* A socket as the session sees it: edge-triggered readiness kept here. */
struct http_end {
	struct loop_io io;
	bool readable, writable;
	bool rdhup;           /* the peer's FIN has arrived: read to the end */
};

/* A connection to a server: used by one session, or idle in the worker's
 * pool (then `session` is NULL and `expire` runs). */
struct srvconn {
	struct http_end end;
	struct lb_server *srv;            /* a reference while pooled */
	struct lb_worker *w;
	struct http_session *session;
	struct srvconn *next, *prev;  /* in w->idle[bucket] */
	struct timer expire;
	struct loop_deferred free_later;  /* events may still be queued for it */
	bool connected, closed;
};

enum frame { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

/* Where one body stands: how it is framed and how much is left. */
struct http_body {
	enum frame frame;
	uint64_t remaining;               /* FRAME_LENGTH */
	struct http1_chunked chunked;
	uint64_t data;                    /* body data bytes so far */
	bool dechunk;                     /* FRAME_CHUNKED: pass the data on, not the coding */
	bool done;
};

enum state {
	ST_HANDSHAKE,    /* TLS handshake */
	ST_HEAD,         /* waiting for (the rest of) a request head */
	ST_EXCHANGE,     /* a request and its response in flight */
	ST_TUNNEL,       /* after a 101: bytes both ways */
	ST_CLOSING,      /* sending strata's own response, then close */
	ST_LINGER,       /* response sent: draining the client before close */
};

struct http_session {
	struct lb_worker *w;
	struct http_session *prev, *next; /* w->http_list */
	struct lb_gen *gen;
	struct lb_listener *lst;          /* these belong to gen */
	const struct conf_listener *lconf;
	int listener;
	tls_conn *tls;
	struct http_end client;
	struct sock_addr peer;
	char peer_ip[SOCK_ADDR_STRLEN];
	enum state state;
	bool closed;

	struct buf cin, cout;             /* from and to the client */
	struct buf sin, sout;             /* from and to the server */

	/* the current request */
	uint64_t start_ns;
	bool idle_wait;                   /* ST_HEAD with no byte of a next request */
	char method[METHOD_MAX];
	char target[TARGET_MAX];
	char request_id[RID_MAX];
	int minor;
	bool keep_alive;                  /* the client wants another request */
	bool idempotent, head_request, upgrade, replayable;
	struct http_body req_body;
	struct lb_pool *pool;
	bool has_key;                     /* hash balancing key */
	uint64_t key;
	struct lb_server *sticky;         /* the server the cookie names */
	struct limit_verdict limit;       /* the rate-limit rules' verdict (and call) */
	bool set_cookie;

	/* the server side */
	struct srvconn *sc;
	struct lb_server *srv;            /* counted in its active */
	struct lb_server *tried[CONF_MAX_RETRIES + 2];
	int ntried;
	uint64_t connect_start_ns;
	bool reached;                     /* a server took the request and failed it */
	bool response_started;            /* a byte of the final response head came */
	bool res_head;                    /* the final response head is parsed */
	bool server_reusable;
	bool client_sent;                 /* bytes of the response reached cout */
	int status;
	struct http_body res_body;
	uint64_t bytes_out;
	bool up_eof, down_eof;            /* tunnel: FINs seen */
	bool logged;                      /* the access log has the request */

	uint64_t last_active_ms;
	struct timer timeout;
	struct timer resume;
	struct loop_deferred free_later;
};

#endif
