/*
 * conf.h - the load balancer's settings, from quick-start flags or from a
 * config file (INI, read with libinih). Both paths fill the same struct and
 * go through the same validation, so a flag and a config key can never mean
 * different things. See docs/CONFIG.md for the file format.
 */
#ifndef STRATA_LB_CONF_H
#define STRATA_LB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "net/sock.h"

#define CONF_NAME_MAX     64
#define CONF_PATH_MAX     256
#define CONF_MAX_SERVERS  64     /* per pool */
#define CONF_MAX_POOLS    32
#define CONF_MAX_LISTENERS 32
#define CONF_MAX_RETRIES  10
#define CONF_ERR_MAX      320
#define CONF_MAX_ROUTES   64     /* per configuration */
#define CONF_MAX_CONDS    4      /* per route */
#define CONF_MAX_CERTS    8      /* per listener */
#define CONF_MAX_LIMITS   16     /* rate-limit rules */

enum conf_balance {
	BALANCE_ROUNDROBIN,  /* smooth weighted round robin */
	BALANCE_LEASTCONN,   /* weighted least connections */
	BALANCE_SOURCE,      /* client-IP hash on a consistent-hash ring */
	BALANCE_LEASTTIME,   /* EWMA of connect + first-byte time x active */
	BALANCE_RANDOM2,     /* power of two random choices */
	BALANCE_HASH,        /* http: a request key hashed on the ring */
};

/* What `balance = hash` hashes (hash-key). */
enum conf_hash_key { HASH_URI, HASH_PATH, HASH_HEADER, HASH_COOKIE };

enum conf_check { CHECK_NONE, CHECK_TCP, CHECK_HTTP };

enum conf_mode { MODE_TCP, MODE_HTTP };

struct conf_server {
	char name[CONF_NAME_MAX];
	char addr_text[SOCK_ADDR_STRLEN];
	struct sock_addr addr;
	int weight;                  /* 1..256 */
};

struct conf_pool {
	char name[CONF_NAME_MAX];
	enum conf_balance balance;
	struct conf_server servers[CONF_MAX_SERVERS];
	int nservers;
	enum conf_check check;
	char check_path[CONF_PATH_MAX];
	uint64_t check_interval_ms;
	int rise, fall;
	uint64_t connect_timeout_ms;
	int retries;
	int hash_balance_factor;     /* source, hash: bounded loads, percent (0: off) */
	/* http mode */
	enum conf_hash_key hash_key;
	char hash_name[CONF_NAME_MAX];   /* header or cookie name of hash-key */
	char cookie[CONF_NAME_MAX];      /* sticky cookie name; "" = none */
	int health_status;               /* expected check status; 0 = any 2xx/3xx */
	uint64_t response_timeout_ms;
	int server_keepalive;            /* idle connections per server per thread */
	uint64_t server_keepalive_timeout_ms;
};

/* One condition of a route (docs/CONFIG.md, "Routing"). */
enum conf_match { MATCH_HOST, MATCH_PATH, MATCH_PREFIX, MATCH_METHOD, MATCH_HEADER };

struct conf_cond {
	enum conf_match match;
	char name[CONF_NAME_MAX];        /* MATCH_HEADER: the field name */
	char value[CONF_PATH_MAX];       /* "" with MATCH_HEADER: presence only */
	size_t value_len;
};

/* route = COND [COND...] -> POOL, in a listener; all conditions must hold. */
struct conf_route {
	int listener;                    /* index into listeners */
	struct conf_cond conds[CONF_MAX_CONDS];
	int nconds;
	char pool_name[CONF_NAME_MAX];
	int pool;                        /* index into pools, set by validation */
};

/* A rate-limit rule (docs/RATELIMIT.md): what it matches, what it counts
 * by, and the policy. */
enum conf_limit_match { LIMIT_ALL, LIMIT_PREFIX, LIMIT_HEADER, LIMIT_POOL };
enum conf_limit_key { LIMIT_KEY_IP, LIMIT_KEY_HEADER, LIMIT_KEY_COOKIE };

struct conf_limit {
	char name[CONF_NAME_MAX];
	char rate_text[CONF_NAME_MAX];   /* as written: token:10/1s:20 */
	int algo;                        /* enum rl_algo */
	uint64_t limit, period_ms, burst;
	enum conf_limit_match match;
	char match_arg[CONF_PATH_MAX];   /* the prefix, header or pool name */
	enum conf_limit_key key;
	char key_name[CONF_NAME_MAX];    /* header or cookie name */
	long max_keys;
	bool delay;                      /* mode = delay: leaky shaping instead of 429 */
	bool has_rate;
	bool shared;                     /* scope = shared: decided by ratelimit-store */
	bool fail_closed;                /* on-store-error = closed: refuse when it fails */
	long allowance;                  /* local-allowance: units taken per store call */
};

struct conf_cert {
	char cert[CONF_PATH_MAX];
	char key[CONF_PATH_MAX];         /* "" when the key is in the cert file */
};

struct conf_listener {
	char name[CONF_NAME_MAX];
	char addr_text[SOCK_ADDR_STRLEN];
	struct sock_addr addr;
	enum conf_mode mode;
	char pool_name[CONF_NAME_MAX];
	int pool;                    /* index into pools, set by validation */
	uint64_t idle_timeout_ms;
	long max_conns;
	/* http mode */
	uint64_t header_timeout_ms;
	uint64_t keepalive_timeout_ms;
	size_t max_header_size;
	uint64_t max_body_size;          /* 0: unlimited */
	struct conf_cert certs[CONF_MAX_CERTS];  /* TLS when ncerts > 0 */
	int ncerts;
};

struct lb_conf {
	int threads;
	bool has_admin;
	char admin_text[SOCK_ADDR_STRLEN];
	struct sock_addr admin;
	enum log_level log_level;
	enum log_format log_format;
	uint64_t grace_ms;           /* drain time on SIGTERM/SIGINT */
	struct conf_pool pools[CONF_MAX_POOLS];
	int npools;
	struct conf_listener listeners[CONF_MAX_LISTENERS];
	int nlisteners;
	struct conf_route routes[CONF_MAX_ROUTES];  /* in file order */
	int nroutes;
	struct conf_limit limits[CONF_MAX_LIMITS];  /* in file order */
	int nlimits;
	char access_log[CONF_PATH_MAX];  /* "off", "stdout", "stderr" or a file */
	bool has_store;                  /* ratelimit-store: for shared rules */
	char store_text[SOCK_ADDR_STRLEN];
	struct sock_addr store;
	uint64_t store_timeout_ms;       /* a request's longest wait for the store */
};

/* Defaults, as documented in `strata lb --help` and docs/CONFIG.md. */
#define CONF_DEFAULT_INTERVAL_MS  2000
#define CONF_DEFAULT_RISE         2
#define CONF_DEFAULT_FALL         3
#define CONF_DEFAULT_CONNECT_MS   3000
#define CONF_DEFAULT_IDLE_MS      300000
#define CONF_DEFAULT_MAX_CONNS    10000
#define CONF_DEFAULT_RETRIES      2
#define CONF_DEFAULT_GRACE_MS     10000
#define CONF_DEFAULT_HEADER_MS    10000
#define CONF_DEFAULT_KEEPALIVE_MS 60000
#define CONF_DEFAULT_RESPONSE_MS  60000
#define CONF_DEFAULT_MAX_HEADER   (32 * 1024)
#define CONF_DEFAULT_SERVER_KEEPALIVE 32
#define CONF_DEFAULT_SERVER_KEEPALIVE_MS 30000
#define CONF_DEFAULT_STORE_TIMEOUT_MS 50

/* conf_init - fill `c` with defaults and no pools or listeners. */
void conf_init(struct lb_conf *c);

/* conf_pool_init - a pool named `name` with default settings. */
void conf_pool_init(struct conf_pool *p, const char *name);

/* conf_listener_init - a listener named `name` with default settings. */
void conf_listener_init(struct conf_listener *l, const char *name);

/*
 * conf_parse_server - "ADDR:PORT[,weight=W][,name=NAME]" into `s`; the name
 * defaults to ADDR:PORT. Returns 0, or ERR_CONFIG with a message in err.
 */
int conf_parse_server(const char *text, struct conf_server *s, char *err, size_t errlen);

/* Word <-> enum for the `balance` and `health-check` settings; the parsers
 * return 0 or ERR_CONFIG. conf_parse_check also sets the HTTP path. */
const char *conf_mode_name(enum conf_mode m);
int conf_parse_balance(const char *word, enum conf_balance *out);
const char *conf_balance_name(enum conf_balance b);
int conf_parse_check(const char *text, struct conf_pool *p);

/*
 * conf_set_pool / conf_set_listener / conf_set_global - apply one
 * `key = value` setting, as from a config file section or a flag.
 * Return 0, or ERR_CONFIG with a one-line message naming the key in err.
 */
int conf_set_global(struct lb_conf *c, const char *key, const char *value,
		    char *err, size_t errlen);
int conf_set_pool(struct conf_pool *p, const char *key, const char *value,
		  char *err, size_t errlen);
int conf_set_listener(struct conf_listener *l, const char *key, const char *value,
		      char *err, size_t errlen);

/* conf_limit_init - a rule named `name`: match all, key ip, no rate yet. */
void conf_limit_init(struct conf_limit *l, const char *name);

/*
 * conf_set_limit - one key of a [ratelimit NAME] section (or the
 * --rate-limit flag, key "rate"): rate = ALGO:LIMIT/PERIOD[:BURST],
 * match = all | prefix /P | header NAME | pool NAME,
 * key = ip | header:NAME | cookie:NAME, max-keys = N, mode = reject | delay,
 * scope = local | shared, on-store-error = open | closed, local-allowance = N.
 * 0, or ERR_CONFIG with a message naming the key in err.
 */
int conf_set_limit(struct conf_limit *l, const char *key, const char *value,
		   char *err, size_t errlen);

/*
 * conf_add_route - add "COND [COND...] -> POOL" as the next route of
 * listener index `listener`. 0, or ERR_CONFIG with a message in err.
 */
int conf_add_route(struct lb_conf *c, int listener, const char *text, char *err, size_t errlen);

/*
 * conf_load_file - read a config file into `c` (which conf_init prepared).
 * conf_load_string does the same from memory (tests, fuzzing).
 * Return 0, or ERR_CONFIG with "FILE:LINE: message" in err.
 * Both validate the result (conf_validate).
 */
int conf_load_file(struct lb_conf *c, const char *path, char *err, size_t errlen);
int conf_load_string(struct lb_conf *c, const char *text, char *err, size_t errlen);

/*
 * conf_validate - cross-checks: at least one listener, every listener names
 * an existing pool (resolving `pool`), every pool has a server, names and
 * addresses unique, rise/fall/interval sane. 0 or ERR_CONFIG with err.
 */
int conf_validate(struct lb_conf *c, char *err, size_t errlen);

#endif
