#include "lb/conf.h"

#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "algo/ratelimit.h"
#include "core/err.h"
#include "ratelimit/rlstore.h"

static const char *const balance_names[] = {
	"roundrobin", "leastconn", "source", "leasttime", "random2", "hash",
};

static const char *const mode_names[] = { "tcp", "http" };

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ERR_CONFIG;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CONF_NAME_MAX)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!(c == '-' || c == '_' || c == '.' || c == ':' ||
		      (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

void conf_init(struct lb_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->threads = 0;  /* 0: the number of cores */
	c->log_level = LOG_INFO;
	c->log_format = LOG_TEXT;
	c->grace_ms = CONF_DEFAULT_GRACE_MS;
	c->store_timeout_ms = CONF_DEFAULT_STORE_TIMEOUT_MS;
	snprintf(c->access_log, sizeof(c->access_log), "stdout");
}

void conf_pool_init(struct conf_pool *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->balance = BALANCE_ROUNDROBIN;
	p->check = CHECK_TCP;
	p->check_interval_ms = CONF_DEFAULT_INTERVAL_MS;
	p->rise = CONF_DEFAULT_RISE;
	p->fall = CONF_DEFAULT_FALL;
	p->connect_timeout_ms = CONF_DEFAULT_CONNECT_MS;
	p->retries = CONF_DEFAULT_RETRIES;
	p->response_timeout_ms = CONF_DEFAULT_RESPONSE_MS;
	p->server_keepalive = CONF_DEFAULT_SERVER_KEEPALIVE;
	p->server_keepalive_timeout_ms = CONF_DEFAULT_SERVER_KEEPALIVE_MS;
}

void conf_listener_init(struct conf_listener *l, const char *name)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->mode = MODE_HTTP;
	l->pool = -1;
	l->idle_timeout_ms = CONF_DEFAULT_IDLE_MS;
	l->max_conns = CONF_DEFAULT_MAX_CONNS;
	l->header_timeout_ms = CONF_DEFAULT_HEADER_MS;
	l->keepalive_timeout_ms = CONF_DEFAULT_KEEPALIVE_MS;
	l->max_header_size = CONF_DEFAULT_MAX_HEADER;
}

int conf_parse_balance(const char *word, enum conf_balance *out)
{
	for (size_t i = 0; i < sizeof(balance_names) / sizeof(balance_names[0]); i++) {
		if (strcmp(word, balance_names[i]) == 0) {
			*out = (enum conf_balance)i;
			return 0;
		}
	}
	return ERR_CONFIG;
}

const char *conf_balance_name(enum conf_balance b)
{
	return balance_names[b];
}

const char *conf_mode_name(enum conf_mode m)
{
	return mode_names[m];
}

/* A header or cookie name: an RFC 9110 token. */
static bool valid_token(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CONF_NAME_MAX)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

static int parse_hash_key(const char *text, struct conf_pool *p)
{
	if (strcmp(text, "uri") == 0) {
		p->hash_key = HASH_URI;
	} else if (strcmp(text, "path") == 0) {
		p->hash_key = HASH_PATH;
	} else if (strncmp(text, "header:", 7) == 0 && valid_token(text + 7)) {
		p->hash_key = HASH_HEADER;
		snprintf(p->hash_name, sizeof(p->hash_name), "%s", text + 7);
	} else if (strncmp(text, "cookie:", 7) == 0 && valid_token(text + 7)) {
		p->hash_key = HASH_COOKIE;
		snprintf(p->hash_name, sizeof(p->hash_name), "%s", text + 7);
	} else {
		return ERR_CONFIG;
	}
	return 0;
}

/* "CERT[,KEY]" or "CERT KEY". */
static int parse_cert(const char *text, struct conf_listener *l, char *err, size_t errlen)
{
	if (l->ncerts == CONF_MAX_CERTS)
		return fail(err, errlen, "tls: more than %d certificates", CONF_MAX_CERTS);
	struct conf_cert *c = &l->certs[l->ncerts];
	size_t n = strcspn(text, ", \t");
	const char *key = text + n + strspn(text + n, ", \t");
	if (n == 0 || n >= sizeof(c->cert) || strlen(key) >= sizeof(c->key) ||
	    key[strcspn(key, ", \t")])
		return fail(err, errlen, "tls: '%s' is not CERT.pem[,KEY.pem]", text);
	memcpy(c->cert, text, n);
	c->cert[n] = '\0';
	snprintf(c->key, sizeof(c->key), "%s", key);
	l->ncerts++;
	return 0;
}

int conf_parse_check(const char *text, struct conf_pool *p)
{
	if (strcmp(text, "none") == 0) {
		p->check = CHECK_NONE;
	} else if (strcmp(text, "tcp") == 0) {
		p->check = CHECK_TCP;
	} else if (strncmp(text, "http:", 5) == 0 && text[5] == '/' &&
		   strlen(text + 5) < sizeof(p->check_path)) {
		for (const char *q = text + 5; *q; q++)
			if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
				return ERR_CONFIG;
		p->check = CHECK_HTTP;
		snprintf(p->check_path, sizeof(p->check_path), "%s", text + 5);
	} else {
		return ERR_CONFIG;
	}
	return 0;
}

int conf_parse_server(const char *text, struct conf_server *s, char *err, size_t errlen)
{
	char copy[512];
	if (strlen(text) >= sizeof(copy))
		return fail(err, errlen, "'%.40s...' is too long", text);
	snprintf(copy, sizeof(copy), "%s", text);
	memset(s, 0, sizeof(*s));
	s->weight = 1;

	char *save = NULL;
	char *addr = strtok_r(copy, ",", &save);
	if (!addr || sock_addr_parse(addr, &s->addr) < 0)
		return fail(err, errlen, "'%s' is not ADDR:PORT[,weight=W][,name=NAME]", text);
	sock_addr_str(&s->addr, s->addr_text, sizeof(s->addr_text));
	snprintf(s->name, sizeof(s->name), "%s", s->addr_text);

	for (char *opt; (opt = strtok_r(NULL, ",", &save)) != NULL;) {
		long w;
		if (strncmp(opt, "weight=", 7) == 0) {
			if (cli_parse_long(opt + 7, 1, 256, &w) < 0)
				return fail(err, errlen, "'%s': weight must be 1..256", text);
			s->weight = (int)w;
		} else if (strncmp(opt, "name=", 5) == 0) {
			if (!valid_name(opt + 5))
				return fail(err, errlen, "'%s': name must be 1-63 of [A-Za-z0-9._:-]", text);
			snprintf(s->name, sizeof(s->name), "%s", opt + 5);
		} else {
			return fail(err, errlen, "'%s': unknown option '%s'", text, opt);
		}
	}
	return 0;
}

static int parse_count(const char *key, const char *value, long min, long max, long *out,
		       char *err, size_t errlen)
{
	if (cli_parse_long(value, min, max, out) < 0)
		return fail(err, errlen, "%s: '%s' is not a number from %ld to %ld", key, value, min, max);
	return 0;
}

static int parse_duration(const char *key, const char *value, uint64_t *out,
			  char *err, size_t errlen)
{
	if (cli_parse_ms(value, out) < 0)
		return fail(err, errlen, "%s: '%s' is not a duration (like 500ms, 2s, 1m)", key, value);
	return 0;
}

static int parse_addr(const char *key, const char *value, struct sock_addr *addr, char *text,
		      char *err, size_t errlen)
{
	if (sock_addr_parse(value, addr) < 0)
		return fail(err, errlen, "%s: '%s' is not ADDR:PORT", key, value);
	sock_addr_str(addr, text, SOCK_ADDR_STRLEN);
	return 0;
}

int conf_set_global(struct lb_conf *c, const char *key, const char *value,
		    char *err, size_t errlen)
{
	long n;
	int rc = 0;
	if (strcmp(key, "threads") == 0) {
		rc = parse_count(key, value, 1, 256, &n, err, errlen);
		c->threads = (int)n;
	} else if (strcmp(key, "admin") == 0) {
		rc = parse_addr(key, value, &c->admin, c->admin_text, err, errlen);
		c->has_admin = true;
	} else if (strcmp(key, "log-level") == 0) {
		if (log_parse_level(value, &c->log_level) < 0)
			rc = fail(err, errlen, "log-level: '%s' is not error, warn, info or debug", value);
	} else if (strcmp(key, "log-format") == 0) {
		if (log_parse_format(value, &c->log_format) < 0)
			rc = fail(err, errlen, "log-format: '%s' is not text or json", value);
	} else if (strcmp(key, "grace") == 0) {
		rc = parse_duration(key, value, &c->grace_ms, err, errlen);
	} else if (strcmp(key, "ratelimit-store") == 0) {
		rc = parse_addr(key, value, &c->store, c->store_text, err, errlen);
		c->has_store = rc == 0;
	} else if (strcmp(key, "ratelimit-store-timeout") == 0) {
		rc = parse_duration(key, value, &c->store_timeout_ms, err, errlen);
		if (rc == 0 && (c->store_timeout_ms < 1 || c->store_timeout_ms > 60000))
			rc = fail(err, errlen, "%s: '%s' is not between 1ms and 60s", key, value);
	} else if (strcmp(key, "access-log") == 0) {
		if (strlen(value) >= sizeof(c->access_log))
			return fail(err, errlen, "access-log: the path is too long");
		snprintf(c->access_log, sizeof(c->access_log), "%s", value);
	} else {
		rc = fail(err, errlen, "unknown key '%s' in [global]", key);
	}
	return rc;
}

int conf_set_pool(struct conf_pool *p, const char *key, const char *value,
		  char *err, size_t errlen)
{
	long n;
	int rc = 0;
	if (strcmp(key, "server") == 0) {
		if (p->nservers == CONF_MAX_SERVERS)
			return fail(err, errlen, "pool '%s': more than %d servers", p->name, CONF_MAX_SERVERS);
		char why[CONF_ERR_MAX];
		rc = conf_parse_server(value, &p->servers[p->nservers], why, sizeof(why));
		if (rc < 0)
			return fail(err, errlen, "server: %s", why);
		p->nservers++;
	} else if (strcmp(key, "balance") == 0) {
		if (conf_parse_balance(value, &p->balance) < 0)
			rc = fail(err, errlen, "balance: '%s' is not roundrobin, leastconn, source, "
				  "leasttime, random2 or hash", value);
	} else if (strcmp(key, "hash-key") == 0) {
		if (parse_hash_key(value, p) < 0)
			rc = fail(err, errlen, "hash-key: '%s' is not uri, path, header:NAME or cookie:NAME",
				  value);
	} else if (strcmp(key, "cookie") == 0) {
		if (!valid_token(value))
			return fail(err, errlen, "cookie: '%s' is not a cookie name", value);
		snprintf(p->cookie, sizeof(p->cookie), "%s", value);
	} else if (strcmp(key, "health-status") == 0) {
		rc = parse_count(key, value, 100, 599, &n, err, errlen);
		p->health_status = (int)n;
	} else if (strcmp(key, "response-timeout") == 0) {
		rc = parse_duration(key, value, &p->response_timeout_ms, err, errlen);
	} else if (strcmp(key, "server-keepalive") == 0) {
		rc = parse_count(key, value, 0, 10000, &n, err, errlen);
		p->server_keepalive = (int)n;
	} else if (strcmp(key, "server-keepalive-timeout") == 0) {
		rc = parse_duration(key, value, &p->server_keepalive_timeout_ms, err, errlen);
	} else if (strcmp(key, "health-check") == 0) {
		if (conf_parse_check(value, p) < 0)
			rc = fail(err, errlen, "health-check: '%s' is not none, tcp or http:/PATH", value);
	} else if (strcmp(key, "health-interval") == 0) {
		rc = parse_duration(key, value, &p->check_interval_ms, err, errlen);
	} else if (strcmp(key, "rise") == 0) {
		rc = parse_count(key, value, 1, 100, &n, err, errlen);
		p->rise = (int)n;
	} else if (strcmp(key, "fall") == 0) {
		rc = parse_count(key, value, 1, 100, &n, err, errlen);
		p->fall = (int)n;
	} else if (strcmp(key, "connect-timeout") == 0) {
		rc = parse_duration(key, value, &p->connect_timeout_ms, err, errlen);
	} else if (strcmp(key, "hash-balance-factor") == 0) {
		if (cli_parse_long(value, 0, 1000, &n) < 0 || (n != 0 && n <= 100))
			return fail(err, errlen, "hash-balance-factor: '%s' is not 0 (off) or a percentage "
				    "from 101 to 1000", value);
		p->hash_balance_factor = (int)n;
	} else if (strcmp(key, "retries") == 0) {
		rc = parse_count(key, value, 0, CONF_MAX_RETRIES, &n, err, errlen);
		p->retries = (int)n;
	} else {
		rc = fail(err, errlen, "unknown key '%s' in [pool %s]", key, p->name);
	}
	return rc;
}

int conf_set_listener(struct conf_listener *l, const char *key, const char *value,
		      char *err, size_t errlen)
{
	long n;
	int rc = 0;
	if (strcmp(key, "bind") == 0) {
		rc = parse_addr(key, value, &l->addr, l->addr_text, err, errlen);
	} else if (strcmp(key, "mode") == 0) {
		if (strcmp(value, "tcp") == 0)
			l->mode = MODE_TCP;
		else if (strcmp(value, "http") == 0)
			l->mode = MODE_HTTP;
		else
			rc = fail(err, errlen, "mode: '%s' is not http or tcp", value);
	} else if (strcmp(key, "pool") == 0) {
		if (!valid_name(value))
			rc = fail(err, errlen, "pool: '%s' is not a valid pool name", value);
		else
			snprintf(l->pool_name, sizeof(l->pool_name), "%s", value);
	} else if (strcmp(key, "idle-timeout") == 0) {
		rc = parse_duration(key, value, &l->idle_timeout_ms, err, errlen);
	} else if (strcmp(key, "max-conns") == 0) {
		rc = parse_count(key, value, 1, 1000000, &n, err, errlen);
		l->max_conns = n;
	} else if (strcmp(key, "header-timeout") == 0) {
		rc = parse_duration(key, value, &l->header_timeout_ms, err, errlen);
	} else if (strcmp(key, "keepalive-timeout") == 0) {
		rc = parse_duration(key, value, &l->keepalive_timeout_ms, err, errlen);
	} else if (strcmp(key, "max-header-size") == 0) {
		uint64_t v;
		if (cli_parse_size(value, &v) < 0 || v < 1024 || v > 1024 * 1024)
			return fail(err, errlen, "max-header-size: '%s' is not a size from 1k to 1m", value);
		l->max_header_size = (size_t)v;
	} else if (strcmp(key, "max-body-size") == 0) {
		if (cli_parse_size(value, &l->max_body_size) < 0)
			return fail(err, errlen, "max-body-size: '%s' is not a size (like 10m; 0: unlimited)",
				    value);
	} else if (strcmp(key, "tls") == 0) {
		rc = parse_cert(value, l, err, errlen);
	} else {
		rc = fail(err, errlen, "unknown key '%s' in [listen %s]", key, l->name);
	}
	return rc;
}

/* ---- rate-limit rules ---- */

void conf_limit_init(struct conf_limit *l, const char *name)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->match = LIMIT_ALL;
	l->key = LIMIT_KEY_IP;
	l->max_keys = 100000;
	l->allowance = 1;
}

/* ALGO:LIMIT/PERIOD[:BURST], e.g. token:10/1s:20; burst defaults to limit. */
static int parse_rate(const char *text, struct conf_limit *l)
{
	char copy[CONF_NAME_MAX];
	if (strlen(text) >= sizeof(copy))
		return ERR_CONFIG;
	snprintf(copy, sizeof(copy), "%s", text);
	char *colon = strchr(copy, ':'), *slash = strchr(copy, '/');
	if (!colon || !slash || slash < colon)
		return ERR_CONFIG;
	*colon = '\0';
	*slash = '\0';
	char *burst = strchr(slash + 1, ':');
	if (burst)
		*burst++ = '\0';
	enum rl_algo algo;
	long limit, b = 0;
	if (rl_algo_parse(copy, &algo) < 0 || cli_parse_long(colon + 1, 1, 1000000000, &limit) < 0 ||
	    cli_parse_ms(slash + 1, &l->period_ms) < 0 ||
	    (burst && cli_parse_long(burst, 1, 1000000000, &b) < 0))
		return ERR_CONFIG;
	l->algo = (int)algo;
	l->limit = (uint64_t)limit;
	l->burst = burst ? (uint64_t)b : (uint64_t)limit;
	struct rl_policy p = { algo, l->limit, l->period_ms * 1000000ULL, l->burst };
	char why[128];
	if (rl_policy_check(&p, why, sizeof(why)) < 0)
		return ERR_CONFIG;
	snprintf(l->rate_text, sizeof(l->rate_text), "%s", text);
	l->has_rate = true;
	return 0;
}

/* A key with two words: *out is false for `no`, true for `yes`. */
static int parse_either(const char *key, const char *value, const char *no, const char *yes,
			bool *out, char *err, size_t errlen)
{
	if (strcmp(value, no) != 0 && strcmp(value, yes) != 0)
		return fail(err, errlen, "%s: '%s' is not %s or %s", key, value, no, yes);
	*out = strcmp(value, yes) == 0;
	return 0;
}

int conf_set_limit(struct conf_limit *l, const char *key, const char *value,
		   char *err, size_t errlen)
{
	long n;
	if (strcmp(key, "rate") == 0) {
		if (parse_rate(value, l) < 0)
			return fail(err, errlen, "rate: '%s' is not ALGO:LIMIT/PERIOD[:BURST] (like "
				    "token:10/1s:20; ALGO token, leaky, fixed, log, sliding or gcra)", value);
	} else if (strcmp(key, "match") == 0) {
		char word[16] = "", arg[CONF_PATH_MAX] = "";
		int k = sscanf(value, "%15s %255s", word, arg);
		if (k == 1 && strcmp(word, "all") == 0)
			l->match = LIMIT_ALL;
		else if (k == 2 && strcmp(word, "prefix") == 0 && arg[0] == '/')
			l->match = LIMIT_PREFIX;
		else if (k == 2 && strcmp(word, "header") == 0 && valid_token(arg))
			l->match = LIMIT_HEADER;
		else if (k == 2 && strcmp(word, "pool") == 0 && valid_name(arg))
			l->match = LIMIT_POOL;
		else
			return fail(err, errlen, "match: '%s' is not all, prefix /PATH, header NAME or "
				    "pool NAME", value);
		snprintf(l->match_arg, sizeof(l->match_arg), "%s", arg);
	} else if (strcmp(key, "key") == 0) {
		if (strcmp(value, "ip") == 0) {
			l->key = LIMIT_KEY_IP;
		} else if (strncmp(value, "header:", 7) == 0 && valid_token(value + 7)) {
			l->key = LIMIT_KEY_HEADER;
			snprintf(l->key_name, sizeof(l->key_name), "%s", value + 7);
		} else if (strncmp(value, "cookie:", 7) == 0 && valid_token(value + 7)) {
			l->key = LIMIT_KEY_COOKIE;
			snprintf(l->key_name, sizeof(l->key_name), "%s", value + 7);
		} else {
			return fail(err, errlen, "key: '%s' is not ip, header:NAME or cookie:NAME", value);
		}
	} else if (strcmp(key, "max-keys") == 0) {
		if (parse_count(key, value, 1, 100000000, &n, err, errlen) < 0)
			return ERR_CONFIG;
		l->max_keys = n;
	} else if (strcmp(key, "mode") == 0) {
		return parse_either(key, value, "reject", "delay", &l->delay, err, errlen);
	} else if (strcmp(key, "scope") == 0) {
		return parse_either(key, value, "local", "shared", &l->shared, err, errlen);
	} else if (strcmp(key, "on-store-error") == 0) {
		return parse_either(key, value, "open", "closed", &l->fail_closed, err, errlen);
	} else if (strcmp(key, "local-allowance") == 0) {
		return parse_count(key, value, 1, 1000000, &l->allowance, err, errlen);
	} else {
		return fail(err, errlen, "unknown key '%s' in [ratelimit %s]", key, l->name);
	}
	return 0;
}

/* ---- routes ---- */

static const char *const match_names[] = { "host", "path", "prefix", "method", "header" };

static int parse_cond(char *word, char **save, struct conf_cond *cd, char *err, size_t errlen)
{
	size_t k;
	for (k = 0; k < sizeof(match_names) / sizeof(match_names[0]); k++)
		if (strcmp(word, match_names[k]) == 0)
			break;
	if (k == sizeof(match_names) / sizeof(match_names[0]))
		return fail(err, errlen, "route: '%s' is not host, path, prefix, method or header", word);
	cd->match = (enum conf_match)k;
	char *arg = strtok_r(NULL, " \t", save);
	if (!arg || strcmp(arg, "->") == 0)
		return fail(err, errlen, "route: '%s' needs a value", word);
	if (strlen(arg) >= sizeof(cd->value))
		return fail(err, errlen, "route: '%.40s...' is too long", arg);
	switch (cd->match) {
	case MATCH_PATH:
	case MATCH_PREFIX:
		if (arg[0] != '/')
			return fail(err, errlen, "route: %s '%s' must start with /", word, arg);
		break;
	case MATCH_METHOD:
		if (!valid_token(arg))
			return fail(err, errlen, "route: '%s' is not a method", arg);
		break;
	case MATCH_HEADER: {
		char *eq = strchr(arg, '=');
		if (eq)
			*eq = '\0';
		if (!valid_token(arg))
			return fail(err, errlen, "route: '%s' is not a header name", arg);
		memcpy(cd->name, arg, strlen(arg) + 1);  /* valid_token bounds it */
		arg = eq ? eq + 1 : (char *)"";
		break;
	}
	case MATCH_HOST:
		break;
	}
	snprintf(cd->value, sizeof(cd->value), "%s", arg);
	cd->value_len = strlen(cd->value);
	return 0;
}

int conf_add_route(struct lb_conf *c, int listener, const char *text, char *err, size_t errlen)
{
	if (c->nroutes == CONF_MAX_ROUTES)
		return fail(err, errlen, "route: more than %d routes", CONF_MAX_ROUTES);
	char copy[512];
	if (strlen(text) >= sizeof(copy))
		return fail(err, errlen, "route: too long");
	snprintf(copy, sizeof(copy), "%s", text);
	struct conf_route *r = &c->routes[c->nroutes];
	memset(r, 0, sizeof(*r));
	r->listener = listener;
	r->pool = -1;
	char *save = NULL;
	char *word = strtok_r(copy, " \t", &save);
	while (word && strcmp(word, "->") != 0) {
		if (r->nconds == CONF_MAX_CONDS)
			return fail(err, errlen, "route: more than %d conditions", CONF_MAX_CONDS);
		int rc = parse_cond(word, &save, &r->conds[r->nconds++], err, errlen);
		if (rc < 0)
			return rc;
		word = strtok_r(NULL, " \t", &save);
	}
	char *pool = word ? strtok_r(NULL, " \t", &save) : NULL;
	if (!word || r->nconds == 0 || !pool || strtok_r(NULL, " \t", &save))
		return fail(err, errlen, "route: '%s' is not COND [COND...] -> POOL", text);
	if (!valid_name(pool))
		return fail(err, errlen, "route: '%s' is not a valid pool name", pool);
	snprintf(r->pool_name, sizeof(r->pool_name), "%s", pool);
	c->nroutes++;
	return 0;
}

/* ---- config files ---- */

struct file_state {
	struct lb_conf *conf;
	const char *label;      /* file name for messages */
	int line;               /* counted by the reader */
	const char *text;       /* conf_load_string's cursor */
	FILE *fp;
	int section;            /* 0 none, 1 global, 2 pool, 3 listen */
	int index;              /* current pool or listener */
	char *err;
	size_t errlen;
	int failed;
	char *phys;             /* the current physical line (getline's buffer) */
	size_t phys_cap;
};

static int start_section(struct file_state *st, const char *section)
{
	struct lb_conf *c = st->conf;
	char kind[16], name[CONF_NAME_MAX + 1] = "", extra[2] = "";
	int n = sscanf(section, "%15s %64s %1s", kind, name, extra);
	if (n == 1 && strcmp(kind, "global") == 0) {
		st->section = 1;
		return 0;
	}
	if (n != 2 || !valid_name(name))
		return fail(st->err, st->errlen, "section [%s]: expected [global], [pool NAME], [listen NAME] or "
			    "[ratelimit NAME]",
			    section);
	if (strcmp(kind, "pool") == 0) {
		for (int i = 0; i < c->npools; i++)
			if (strcmp(c->pools[i].name, name) == 0)
				return fail(st->err, st->errlen, "pool '%s' is defined twice", name);
		if (c->npools == CONF_MAX_POOLS)
			return fail(st->err, st->errlen, "more than %d pools", CONF_MAX_POOLS);
		conf_pool_init(&c->pools[c->npools], name);
		st->index = c->npools++;
		st->section = 2;
	} else if (strcmp(kind, "listen") == 0) {
		for (int i = 0; i < c->nlisteners; i++)
			if (strcmp(c->listeners[i].name, name) == 0)
				return fail(st->err, st->errlen, "listener '%s' is defined twice", name);
		if (c->nlisteners == CONF_MAX_LISTENERS)
			return fail(st->err, st->errlen, "more than %d listeners", CONF_MAX_LISTENERS);
		conf_listener_init(&c->listeners[c->nlisteners], name);
		st->index = c->nlisteners++;
		st->section = 3;
	} else if (strcmp(kind, "ratelimit") == 0) {
		for (int i = 0; i < c->nlimits; i++)
			if (strcmp(c->limits[i].name, name) == 0)
				return fail(st->err, st->errlen, "ratelimit '%s' is defined twice", name);
		if (c->nlimits == CONF_MAX_LIMITS)
			return fail(st->err, st->errlen, "more than %d ratelimit rules", CONF_MAX_LIMITS);
		conf_limit_init(&c->limits[c->nlimits], name);
		st->index = c->nlimits++;
		st->section = 4;
	} else {
		return fail(st->err, st->errlen, "section [%s]: expected [global], [pool NAME], [listen NAME] or "
			    "[ratelimit NAME]",
			    section);
	}
	return 0;
}

/* The next physical line into st->phys, with its newline. NULL at the end. */
static const char *next_line(struct file_state *st, size_t *len)
{
	if (st->fp) {
		ssize_t n = getline(&st->phys, &st->phys_cap, st->fp);
		if (n < 0)
			return NULL;
		*len = (size_t)n;
		return st->phys;
	}
	if (!*st->text)
		return NULL;
	const char *line = st->text;
	const char *nl = strchr(line, '\n');
	*len = nl ? (size_t)(nl - line + 1) : strlen(line);
	st->text += *len;
	return line;
}

/*
 * libinih's reader. It hands lines to inih one physical line at a time, so
 * the line numbers of messages are the file's: inih's own buffer holds
 * `num` bytes, and a longer line would otherwise be split in two. A longer
 * comment is passed as an empty comment; a longer setting is an error.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct file_state *st = stream;
	size_t len;
	const char *line = next_line(st, &len);
	if (!line)
		return NULL;
	st->line++;
	if (len >= (size_t)num) {
		const char *first = line + strspn(line, " \t");
		if (*first != ';' && *first != '#' && !st->failed) {
			fail(st->err, st->errlen, "line longer than %d characters", num - 2);
			st->failed = st->line;
		}
		snprintf(str, (size_t)num, ";\n");
		return str;
	}
	memcpy(str, line, len);
	str[len] = '\0';
	const char *p = str + strspn(str, " \t");

	/* Sections are started here rather than in on_entry, which inih calls
	 * only for keys: an empty or repeated section must still count. */
	const char *end = strchr(p, ']');
	if (*p == '[' && end && !st->failed) {
		char name[CONF_NAME_MAX + 16];
		size_t n = (size_t)(end - p - 1);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p + 1, n);
		name[n] = '\0';
		if (start_section(st, name) < 0)
			st->failed = st->line;
	}
	return str;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct file_state *st = user;
	if (st->failed)
		return 0;
	int rc;
	if (section[0] == '\0' || st->section == 0)
		rc = fail(st->err, st->errlen, "'%s' outside of any section", key ? key : "");
	else if (!*value)
		rc = fail(st->err, st->errlen, "%s: missing value", key);
	else if (st->section == 1)
		rc = conf_set_global(st->conf, key, value, st->err, st->errlen);
	else if (st->section == 2)
		rc = conf_set_pool(&st->conf->pools[st->index], key, value, st->err, st->errlen);
	else if (st->section == 4)
		rc = conf_set_limit(&st->conf->limits[st->index], key, value, st->err, st->errlen);
	else if (strcmp(key, "route") == 0)
		rc = conf_add_route(st->conf, st->index, value, st->err, st->errlen);
	else
		rc = conf_set_listener(&st->conf->listeners[st->index], key, value,
				       st->err, st->errlen);
	if (rc < 0) {
		st->failed = st->line;
		return 0;
	}
	return 1;
}

static int load(struct file_state *st, struct lb_conf *c)
{
	char msg[CONF_ERR_MAX] = "";
	char *user_err = st->err;
	size_t user_len = st->errlen;
	st->conf = c;
	st->err = msg;
	st->errlen = sizeof(msg);

	int line = ini_parse_stream(read_line, st, on_entry, st);
	free(st->phys);
	if (line > 0 && (!st->failed || line < st->failed))
		return fail(user_err, user_len, "%s:%d: syntax error (expected [section] or key = value)",
			    st->label, line);
	if (st->failed)
		return fail(user_err, user_len, "%s:%d: %s", st->label, st->failed, msg);
	if (line < 0)
		return fail(user_err, user_len, "%s: cannot be read", st->label);
	int rc = conf_validate(c, msg, sizeof(msg));
	if (rc < 0)
		return fail(user_err, user_len, "%s: %s", st->label, msg);
	return 0;
}

int conf_load_file(struct lb_conf *c, const char *path, char *err, size_t errlen)
{
	struct file_state st = { .label = path, .err = err, .errlen = errlen };
	st.fp = fopen(path, "r");
	if (!st.fp)
		return fail(err, errlen, "%s: cannot open: %m", path);
	int rc = load(&st, c);
	fclose(st.fp);
	return rc;
}

int conf_load_string(struct lb_conf *c, const char *text, char *err, size_t errlen)
{
	struct file_state st = { .label = "config", .err = err, .errlen = errlen, .text = text };
	return load(&st, c);
}

int conf_validate(struct lb_conf *c, char *err, size_t errlen)
{
	if (c->nlisteners == 0)
		return fail(err, errlen, "no listener (give --listen, or a [listen NAME] section)");
	for (int i = 0; i < c->npools; i++) {
		struct conf_pool *p = &c->pools[i];
		if (p->nservers == 0)
			return fail(err, errlen, "pool '%s' has no server", p->name);
		for (int a = 0; a < p->nservers; a++)
			for (int b = a + 1; b < p->nservers; b++) {
				if (strcmp(p->servers[a].name, p->servers[b].name) == 0)
					return fail(err, errlen, "pool '%s': server name '%s' is used twice",
						    p->name, p->servers[a].name);
			}
	}
	for (int i = 0; i < c->nlisteners; i++) {
		struct conf_listener *l = &c->listeners[i];
		if (l->addr.len == 0)
			return fail(err, errlen, "listener '%s' has no bind address", l->name);
		for (int j = 0; j < i; j++)
			if (sock_addr_equal(&c->listeners[j].addr, &l->addr))
				return fail(err, errlen, "listeners '%s' and '%s' bind the same address",
					    c->listeners[j].name, l->name);
		l->pool = -1;
		for (int j = 0; j < c->npools; j++)
			if (strcmp(c->pools[j].name, l->pool_name) == 0)
				l->pool = j;
		if (l->pool < 0)
			return fail(err, errlen, "listener '%s': %s", l->name,
				    l->pool_name[0] ? "unknown pool" : "no pool (pool = NAME)");
		if (l->mode == MODE_TCP && l->ncerts)
			return fail(err, errlen, "listener '%s': tls needs mode http", l->name);
	}
	for (int i = 0; i < c->nroutes; i++) {
		struct conf_route *r = &c->routes[i];
		const struct conf_listener *l = &c->listeners[r->listener];
		if (l->mode != MODE_HTTP)
			return fail(err, errlen, "listener '%s': routes need mode http", l->name);
		r->pool = -1;
		for (int j = 0; j < c->npools; j++)
			if (strcmp(c->pools[j].name, r->pool_name) == 0)
				r->pool = j;
		if (r->pool < 0)
			return fail(err, errlen, "listener '%s': route to unknown pool '%s'", l->name,
				    r->pool_name);
	}
	for (int i = 0; i < c->nlimits; i++) {
		const struct conf_limit *l = &c->limits[i];
		if (!l->has_rate)
			return fail(err, errlen, "ratelimit '%s' has no rate", l->name);
		if (l->delay && l->algo != RL_LEAKY)
			return fail(err, errlen, "ratelimit '%s': mode delay needs a leaky rate "
				    "(leaky:LIMIT/PERIOD[:QUEUE])", l->name);
		if (l->shared && !c->has_store)
			return fail(err, errlen, "ratelimit '%s': scope shared needs ratelimit-store = "
				    "ADDR:PORT in [global]", l->name);
		struct rl_policy p = { (enum rl_algo)l->algo, l->limit, l->period_ms * 1000000ULL,
				       l->burst };
		char why[160];
		if (l->shared && rlstore_policy_check(&p, why, sizeof(why)) < 0)
			return fail(err, errlen, "ratelimit '%s': %s", l->name, why);
		if (l->allowance > 1 && (!l->shared || l->delay))
			return fail(err, errlen, "ratelimit '%s': local-allowance needs scope shared "
				    "(and mode reject)", l->name);
		if (l->match == LIMIT_POOL) {
			int j = 0;
			while (j < c->npools && strcmp(c->pools[j].name, l->match_arg) != 0)
				j++;
			if (j == c->npools)
				return fail(err, errlen, "ratelimit '%s': unknown pool '%s'", l->name,
					    l->match_arg);
		}
	}
	/* A pool's http settings need every listener that reaches it in http mode. */
	for (int i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];
		const struct conf_pool *p = &c->pools[l->pool];
		if (l->mode == MODE_TCP && (p->balance == BALANCE_HASH || p->cookie[0]))
			return fail(err, errlen, "pool '%s': %s needs mode http (listener '%s' is tcp)",
				    p->name, p->cookie[0] ? "cookie" : "balance hash", l->name);
	}
	return 0;
}
