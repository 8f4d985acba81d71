#include "kv/kvserver.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "algo/ratelimit.h"
#include "algo/rltable.h"
#include "core/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/workers.h"
#include "kv/kvcmd.h"
#include "kv/kvdisk.h"

#define CRON_MS 100

static const char usage[] =
	"usage: strata kv [--listen ADDR:PORT] [--maxmemory BYTES] [--maxmemory-policy P]\n"
	"                 [--requirepass PASS] [options]\n"
	"       strata kv -c FILE\n"
	"\n"
	"A Redis-protocol key-value server (strings, TTLs, eviction): redis-cli, redis-benchmark\n"
	"and Redis client libraries work unchanged. See docs/KV.md.\n"
	"\n"
	"  -l, --listen ADDR:PORT        address to serve (default 127.0.0.1:6379)\n"
	"      --engine memory|lmdb      memory (default): a hash table in RAM; lmdb: the same,\n"
	"                                written through to LMDB in --dir, recovered on restart\n"
	"      --dir DIR                 where the lmdb engine keeps its files (default .)\n"
	"      --fsync always|everysec|no  lmdb: acknowledge after the disk has it, sync once a\n"
	"                                second (default), or leave it to the OS\n"
	"      --maxmemory BYTES         bound on the keyspace's memory (0: none; 100mb, 1gb, ...)\n"
	"      --maxmemory-policy P      noeviction (default), allkeys-lru, allkeys-lfu,\n"
	"                                allkeys-fifo, volatile-ttl\n"
	"      --maxmemory-samples N     keys sampled per eviction (default 5)\n"
	"      --requirepass PASS        clients must AUTH first\n"
	"      --protected-mode yes|no   without a password, serve only loopback clients (default yes)\n"
	"      --proto-max-bulk-len N    longest argument or value (default 512mb)\n"
	"      --threads N               threads reading, parsing and answering clients (default 1);\n"
	"                                commands run one at a time, as Redis's I/O threads\n"
	"      --log-level L             error, warn, info (default), debug\n"
	"  -c, --config FILE             the same settings as `key = value` lines\n"
	"  -h, --help                    this help\n";



/* Redis's memtoll: a number with b, k, kb, m, mb, g, gb (k = 1000, kb = 1024). */
static int parse_bytes(const char *v, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (end == v || errno || v[0] == '-')
		return -1;
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1000 }, { "kb", 1024 }, { "m", 1000000 },
		{ "mb", 1048576 }, { "g", 1000000000 }, { "gb", 1073741824 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(end, units[i].unit) == 0) {
			if (n > UINT64_MAX / units[i].mul)
				return -1;
			*out = n * units[i].mul;
			return 0;
		}
	return -1;
}

static int parse_yes_no(const char *v, bool *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "no") == 0) {
		*out = strcasecmp(v, "yes") == 0;
		return 0;
	}
	return -1;
}

/* A setting that CONFIG SET may change too. 0, or -1 with a reason. */
static int set_runtime(struct kv_server *s, const char *key, const char *v, char *err,
		       size_t errlen)
{
	uint64_t n;
	if (strcasecmp(key, "maxmemory") == 0) {
		if (parse_bytes(v, &n) < 0)
			goto bad;
		s->store.maxmemory = n;
	} else if (strcasecmp(key, "maxmemory-policy") == 0) {
		if (kvstore_policy_parse(v, &s->store.policy) < 0) {
			snprintf(err, errlen, "%s: '%s' is not noeviction, allkeys-lru, allkeys-lfu, "
				 "allkeys-fifo or volatile-ttl", key, v);
			return -1;
		}
	} else if (strcasecmp(key, "maxmemory-samples") == 0) {
		long samples;
		if (cli_parse_long(v, 1, KV_MAX_SAMPLES, &samples) < 0)
			goto bad;
		s->store.samples = (int)samples;
	} else if (strcasecmp(key, "requirepass") == 0) {
		if (strlen(v) >= sizeof(s->requirepass))
			goto bad;
		snprintf(s->requirepass, sizeof(s->requirepass), "%s", v);
	} else if (strcasecmp(key, "protected-mode") == 0) {
		if (parse_yes_no(v, &s->protected_mode) < 0)
			goto bad;
	} else if (strcasecmp(key, "proto-max-bulk-len") == 0) {
		if (parse_bytes(v, &n) < 0 || n < 1024 || n > (1ULL << 32) - 1)
			goto bad;
		s->max_bulk = n;
		for (int i = 0; i < s->threads && s->respds[i]; i++)
			respd_set_max_bulk(s->respds[i], n);
	} else {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: '%s' is not valid", key, v);
	return -1;
}

/* Any setting, from a flag or a config line. */
static int set(void *arg, const char *key, const char *v, char *err, size_t errlen)
{
	struct kv_server *s = arg;
	long n;
	if (strcmp(key, "listen") == 0) {
		if (sock_addr_parse(v, &s->listen) < 0)
			goto bad;
		sock_addr_str(&s->listen, s->listen_text, sizeof(s->listen_text));
	} else if (strcmp(key, "engine") == 0) {
		if (strcmp(v, "memory") != 0 && strcmp(v, "lmdb") != 0) {
			snprintf(err, errlen, "%s: '%s' is not memory or lmdb", key, v);
			return -1;
		}
		s->lmdb = strcmp(v, "lmdb") == 0;
	} else if (strcmp(key, "dir") == 0) {
		if (strlen(v) >= sizeof(s->dir))
			goto bad;
		snprintf(s->dir, sizeof(s->dir), "%s", v);
	} else if (strcmp(key, "fsync") == 0) {
		enum kv_fsync f;
		if (kvdisk_fsync_parse(v, &f) < 0) {
			snprintf(err, errlen, "%s: '%s' is not always, everysec or no", key, v);
			return -1;
		}
		s->fsync = (int)f;
	} else if (strcmp(key, "threads") == 0) {
		if (cli_parse_long(v, 1, KV_MAX_THREADS, &n) < 0) {
			snprintf(err, errlen, "%s: '%s' is not a number from 1 to %d", key, v,
				 KV_MAX_THREADS);
			return -1;
		}
		s->threads = (int)n;
	} else if (strcmp(key, "log-level") == 0) {
		enum log_level level;
		if (log_parse_level(v, &level) < 0)
			goto bad;
		log_setup(level, LOG_TEXT);
	} else {
		return set_runtime(s, key, v, err, errlen);
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: '%s' is not valid", key, v);
	return -1;
}

static void parse_args(int argc, char **argv, struct kv_server *s)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "engine", required_argument, NULL, 1 },
		{ "dir", required_argument, NULL, 10 },
		{ "fsync", required_argument, NULL, 11 },
		{ "maxmemory", required_argument, NULL, 2 },
		{ "maxmemory-policy", required_argument, NULL, 3 },
		{ "maxmemory-samples", required_argument, NULL, 4 },
		{ "requirepass", required_argument, NULL, 5 },
		{ "protected-mode", required_argument, NULL, 6 },
		{ "proto-max-bulk-len", required_argument, NULL, 7 },
		{ "threads", required_argument, NULL, 8 },
		{ "log-level", required_argument, NULL, 9 },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	cli_settings("kv", argc, argv, longopts, ":l:c:h", usage, "kv", set, s);
}

/* ---- the server's commands ---- */

static void human(char *out, size_t len, uint64_t bytes)
{
	const char *units = "BKMGT";
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%" PRIu64 "B", bytes);
	else
		snprintf(out, len, "%.2f%c", v, units[u]);
}

static uint64_t rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static bool wants(const struct kv_ctx *c, const char *section)
{
	if (c->cmd->argc == 1)
		return true;
	for (size_t i = 1; i < c->cmd->argc; i++)
		if (resp_arg_is(&c->cmd->args[i], section) || resp_arg_is(&c->cmd->args[i], "all") ||
		    resp_arg_is(&c->cmd->args[i], "everything") ||
		    resp_arg_is(&c->cmd->args[i], "default"))
			return true;
	return false;
}

static uint64_t clients(const struct kv_server *s)
{
	uint64_t n = 0;
	for (int i = 0; i < s->threads; i++)
		n += respd_clients(s->respds[i]);
	return n;
}

void kvserver_info(struct kv_ctx *c)
{
	struct kv_server *s = c->srv;
	struct kv_store *st = c->store;
	struct buf b = BUF_INIT;
	char used[32], max[32], rss[32];
	uint64_t rssb = rss_bytes();
	human(used, sizeof(used), kvstore_used(st));
	human(max, sizeof(max), st->maxmemory);
	human(rss, sizeof(rss), rssb);
	if (wants(c, "server"))
		buf_printf(&b, "# Server\r\nstrata_version:%s\r\nredis_version:7.0.0\r\n"
			   "redis_mode:standalone\r\nengine:%s\r\nprocess_id:%d\r\ntcp_port:%s\r\n"
			   "uptime_in_seconds:%" PRIu64 "\r\n\r\n", STRATA_VERSION,
			   s->lmdb ? "lmdb" : "memory", (int)getpid(),
			   strrchr(s->listen_text, ':') + 1, (loop_clock_ms() - s->started_ms) / 1000);
	if (wants(c, "clients"))
		buf_printf(&b, "# Clients\r\nconnected_clients:%" PRIu64 "\r\n\r\n",
			   clients(s));
	if (wants(c, "memory"))
		buf_printf(&b, "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\n"
			   "used_memory_rss:%" PRIu64 "\r\nused_memory_rss_human:%s\r\n"
			   "maxmemory:%" PRIu64 "\r\nmaxmemory_human:%s\r\nmaxmemory_policy:%s\r\n"
			   "maxmemory_samples:%d\r\n\r\n", kvstore_used(st), used, rssb, rss,
			   st->maxmemory, max, kvstore_policy_name(st->policy), st->samples);
	if (wants(c, "persistence"))
		buf_printf(&b, "# Persistence\r\nengine:%s\r\nfsync:%s\r\nlmdb_commits:%" PRIu64
			   "\r\nlmdb_last_error:%s\r\n\r\n", s->lmdb ? "lmdb" : "memory",
			   s->lmdb ? kvdisk_fsync_name((enum kv_fsync)s->fsync) : "-",
			   s->disk ? kvdisk_commits(s->disk) : 0, s->disk ? kvdisk_error(s->disk) : "");
	if (wants(c, "stats"))
		buf_printf(&b, "# Stats\r\ntotal_commands_processed:%" PRIu64 "\r\n"
			   "keyspace_hits:%" PRIu64 "\r\nkeyspace_misses:%" PRIu64 "\r\n"
			   "expired_keys:%" PRIu64 "\r\nevicted_keys:%" PRIu64 "\r\n"
			   "rejected_oom:%" PRIu64 "\r\n\r\n", s->commands, s->hits,
			   s->misses, st->expired, st->evicted, s->rejected_oom);
	if (wants(c, "keyspace")) {
		buf_puts(&b, "# Keyspace\r\n");
		if (kvstore_keys(st))
			buf_printf(&b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", kvstore_keys(st),
				   st->volatile_keys);
	}
	if (b.oom)
		resp_error(c->out, "ERR out of memory");
	else
		resp_bulk(c->out, b.data, b.len);
	buf_free(&b);
}

struct param {
	const char *name;
	char value[4100];
};

static int params(struct kv_server *s, struct param *p)
{
	int n = 0;
	snprintf(p[n].value, sizeof(p[n].value), "%" PRIu64, s->store.maxmemory);
	p[n++].name = "maxmemory";
	snprintf(p[n].value, sizeof(p[n].value), "%s", kvstore_policy_name(s->store.policy));
	p[n++].name = "maxmemory-policy";
	snprintf(p[n].value, sizeof(p[n].value), "%d", s->store.samples);
	p[n++].name = "maxmemory-samples";
	snprintf(p[n].value, sizeof(p[n].value), "%s", s->requirepass);
	p[n++].name = "requirepass";
	snprintf(p[n].value, sizeof(p[n].value), "%s", s->protected_mode ? "yes" : "no");
	p[n++].name = "protected-mode";
	snprintf(p[n].value, sizeof(p[n].value), "%" PRIu64, s->max_bulk);
	p[n++].name = "proto-max-bulk-len";
	snprintf(p[n].value, sizeof(p[n].value), "%s", strrchr(s->listen_text, ':') + 1);
	p[n++].name = "port";
	/* No RDB snapshots or AOF: the lmdb engine is strata's persistence. */
	snprintf(p[n].value, sizeof(p[n].value), "%s", "");
	p[n++].name = "save";
	snprintf(p[n].value, sizeof(p[n].value), "no");
	p[n++].name = "appendonly";
	snprintf(p[n].value, sizeof(p[n].value), "1");
	p[n++].name = "databases";
	snprintf(p[n].value, sizeof(p[n].value), "%s", s->lmdb ? "lmdb" : "memory");
	p[n++].name = "engine";
	snprintf(p[n].value, sizeof(p[n].value), "%s", kvdisk_fsync_name((enum kv_fsync)s->fsync));
	p[n++].name = "fsync";
	snprintf(p[n].value, sizeof(p[n].value), "%s", s->dir);
	p[n++].name = "dir";
	return n;
}

void kvserver_config(struct kv_ctx *c)
{
	struct kv_server *s = c->srv;
	const struct resp_command *cmd = c->cmd;
	if (resp_arg_is(&cmd->args[1], "get") && cmd->argc >= 3) {
		struct param p[20];
		const char *names[20], *values[20];
		int n = params(s, p);
		for (int i = 0; i < n; i++) {
			names[i] = p[i].name;
			values[i] = p[i].value;
		}
		respd_config_get(c->out, c->cl->proto, &cmd->args[2], cmd->argc - 2, names, values,
				 (size_t)n);
	} else if (resp_arg_is(&cmd->args[1], "set") && cmd->argc >= 4 && cmd->argc % 2 == 0) {
		for (size_t a = 2; a < cmd->argc; a += 2) {
			char key[64], value[600], why[200], msg[400];
			const struct resp_arg *k = &cmd->args[a], *v = &cmd->args[a + 1];
			snprintf(key, sizeof(key), "%.*s", (int)(k->len < 63 ? k->len : 63), k->p);
			snprintf(value, sizeof(value), "%.*s", (int)(v->len < 599 ? v->len : 599), v->p);
			if (set_runtime(s, key, value, why, sizeof(why)) < 0) {
				if (strncmp(why, "unknown key", 11) == 0)
					snprintf(msg, sizeof(msg), "ERR Unknown option or number of arguments "
						 "for CONFIG SET - '%s'", key);
				else
					snprintf(msg, sizeof(msg), "ERR CONFIG SET failed (possibly related to "
						 "argument '%s') - %s", key, why);
				resp_error(c->out, msg);
				return;
			}
		}
		resp_simple(c->out, "OK");
	} else if (resp_arg_is(&cmd->args[1], "resetstat") && cmd->argc == 2) {
		s->hits = s->misses = s->rejected_oom = s->commands = 0;
		s->store.expired = s->store.evicted = 0;
		resp_simple(c->out, "OK");
	} else {
		char msg[128];
		snprintf(msg, sizeof(msg), "ERR unknown subcommand or wrong number of arguments for "
			 "'%.*s'. Try CONFIG HELP.", (int)(cmd->args[1].len < 32 ? cmd->args[1].len : 32),
			 cmd->args[1].p);
		resp_error(c->out, msg);
	}
}

/* Redis's default user: any password opens it while none is configured. */
static bool password_ok(struct kv_server *s, const struct resp_arg *user, const struct resp_arg *pass)
{
	if (user && !resp_arg_is(user, "default"))
		return false;
	return !s->requirepass[0] || (pass->len == strlen(s->requirepass) &&
	       memcmp(pass->p, s->requirepass, pass->len) == 0);
}

void kvserver_auth(struct kv_ctx *c)
{
	const struct resp_command *cmd = c->cmd;
	if (cmd->argc > 3) {
		resp_error(c->out, "ERR syntax error");
		return;
	}
	if (!c->srv->requirepass[0] && cmd->argc == 2) {
		resp_error(c->out, "ERR AUTH <password> called without any password configured for "
			   "the default user. Are you sure your configuration is correct?");
		return;
	}
	if (!password_ok(c->srv, cmd->argc == 3 ? &cmd->args[1] : NULL, &cmd->args[cmd->argc - 1])) {
		resp_error(c->out, "WRONGPASS invalid username-password pair or user is disabled.");
		return;
	}
	c->cl->authed = true;
	resp_simple(c->out, "OK");
}

/* HELLO [protover [AUTH user pass] [SETNAME name]] */
void kvserver_hello(struct kv_ctx *c)
{
	const struct resp_command *cmd = c->cmd;
	int64_t proto = c->cl->proto;
	if (cmd->argc >= 2 && (resp_arg_int(&cmd->args[1], &proto) < 0 || proto < 2 || proto > 3)) {
		resp_error(c->out, "NOPROTO unsupported protocol version");
		return;
	}
	for (size_t i = 2; i < cmd->argc; i++) {
		if (resp_arg_is(&cmd->args[i], "auth") && i + 2 < cmd->argc) {
			if (!password_ok(c->srv, &cmd->args[i + 1], &cmd->args[i + 2])) {
				resp_error(c->out, "WRONGPASS invalid username-password pair or user is "
					   "disabled.");
				return;
			}
			c->cl->authed = true;
			i += 2;
		} else if (resp_arg_is(&cmd->args[i], "setname") && i + 1 < cmd->argc) {
			i++;
		} else {
			resp_error(c->out, "ERR syntax error");
			return;
		}
	}
	if (!c->cl->authed) {
		resp_error(c->out, "NOAUTH HELLO must be called with the client already "
			   "authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can "
			   "be used to authenticate the client and select the RESP protocol version at "
			   "the same time");
		return;
	}
	c->cl->proto = (int)proto;
	struct buf *o = c->out;
	resp_map(o, 7, c->cl->proto);
	resp_bulk(o, "server", 6);
	resp_bulk(o, "strata", 6);
	resp_bulk(o, "version", 7);
	resp_bulk(o, STRATA_VERSION, strlen(STRATA_VERSION));
	resp_bulk(o, "proto", 5);
	resp_int(o, proto);
	resp_bulk(o, "id", 2);
	resp_int(o, (int64_t)c->cl->id);
	resp_bulk(o, "mode", 4);
	resp_bulk(o, "standalone", 10);
	resp_bulk(o, "role", 4);
	resp_bulk(o, "master", 6);
	resp_bulk(o, "modules", 7);
	resp_array(o, 0);
}

/* ---- the process ---- */

/* This thread's batch of events, as the lmdb engine's commit sees it. */
static __thread struct {
	bool open;                        /* a command ran since the last commit */
	uint64_t failures;                /* kvdisk_failures when it began */
} batch;

static bool handle(void *arg, struct respd_client *cl, const struct resp_command *cmd,
		   struct buf *out)
{
	struct kv_server *s = arg;
	pthread_mutex_lock(&s->lock);  /* CONFIG SET may change the settings read here */
	if (!s->requirepass[0])
		cl->authed = true;  /* (a password set later by CONFIG SET applies to new clients) */
	if (!cl->local && s->protected_mode && !s->requirepass[0]) {
		pthread_mutex_unlock(&s->lock);
		resp_error(out, "DENIED strata kv is running in protected mode because no password is "
			   "set: only loopback clients are served. Set --requirepass, or start with "
			   "--protected-mode no if the network is trusted.");
		cl->close = true;
		return true;
	}
	kvstore_clock(&s->store, (int64_t)loop_wall_ms());
	if (s->disk && !batch.open) {
		batch.open = true;
		batch.failures = kvdisk_failures(s->disk);
	}
	struct kv_ctx c = { s, &s->store, cl, cmd, out };
	bool known = kvcmd_run(&c);
	pthread_mutex_unlock(&s->lock);
	return known;
}

/* The batch's writes reach the log before its replies go out (group
 * commit). While the store is failing, writes are refused (MISCONF) and
 * the cron retries: a batch that began in that state holds no accepted
 * write, and its replies (errors, reads) go out at once; one during which
 * the store began to fail (the cron's commit, another thread's) may hold
 * writes never logged, and its clients are disconnected. */
static int commit(void *arg)
{
	struct kv_server *s = arg;
	pthread_mutex_lock(&s->lock);
	bool began = batch.open;
	batch.open = false;
	int rc;
	if (!kvdisk_failed(s->disk))
		rc = kvdisk_commit(s->disk);
	else
		rc = began && kvdisk_failures(s->disk) != batch.failures ? ERR_CONFIG : 0;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void cron(struct timer *t)
{
	struct kv_server *s = container_of(t, struct kv_server, cron);
	pthread_mutex_lock(&s->lock);
	kvstore_clock(&s->store, (int64_t)loop_wall_ms());
	kvstore_expire_cycle(&s->store, 25000);  /* at most a quarter of the interval */
	kvdict_rehash(&s->store.dict, 1000);
	if (s->disk) {
		/* What expiry removed; after a failure, the retry that lifts MISCONF. */
		kvdisk_commit(s->disk);
		if (++s->ticks % (1000 / CRON_MS) == 0)
			kvdisk_tick(s->disk);
	}
	rl_table_expire(s->throttle, (uint64_t)s->store.now_ms * 1000000ULL);
	pthread_mutex_unlock(&s->lock);
	loop_timer_arm(s->loop, t, CRON_MS);
}

static void on_signal(void *arg, int signo)
{
	struct kv_server *s = arg;
	if (signo != SIGHUP) {
		log_info("%s: stopping", strsignal(signo));
		loop_stop(s->loop);
	}
}

int kvserver_main(int argc, char **argv)
{
	static struct kv_server s;

	s.listen_fd = -1;
	s.protected_mode = true;
	s.max_bulk = 512ULL * 1024 * 1024;
	s.fsync = KV_FSYNC_EVERYSEC;
	s.threads = 1;
	pthread_mutex_init(&s.lock, NULL);
	snprintf(s.dir, sizeof(s.dir), ".");
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = loop_wall_ms() ^ (uint64_t)getpid() << 32;
	kvstore_init(&s.store, seed);
	sock_addr_parse("127.0.0.1:6379", &s.listen);
	sock_addr_str(&s.listen, s.listen_text, sizeof(s.listen_text));
	log_setup(LOG_INFO, LOG_TEXT);
	parse_args(argc, argv, &s);
	signals_block();

	struct rl_policy any = { RL_GCRA, 1, 1000000000ULL, 1 };
	int rc = 0;
	if (s.lmdb) {
		char err[256];
		kvstore_clock(&s.store, (int64_t)loop_wall_ms());
		rc = kvdisk_open(s.dir, (enum kv_fsync)s.fsync, &s.store, &s.disk, err, sizeof(err));
		if (rc < 0) {
			log_error("kv: %s", err);
			kvstore_free(&s.store);
			return 1;
		}
		s.max_key = kvdisk_max_key(s.disk);
		log_info("kv: lmdb store in %s: %zu keys loaded, fsync %s", s.dir,
			 kvstore_keys(&s.store), kvdisk_fsync_name((enum kv_fsync)s.fsync));
	}
	if (rc == 0)
		rc = loop_create(&s.loop);
	if (rc == 0)
		rc = rl_table_create(&any, 1000000, &s.throttle);
	if (rc == 0 && (s.listen_fd = sock_listen(&s.listen, 511)) < 0) {
		log_error("kv: cannot listen on %s: %s", s.listen_text, err_str(s.listen_fd));
		rc = s.listen_fd;
	}
	if (rc == 0)
		rc = workers_create(s.threads, &s.workers);
	for (int i = 0; rc == 0 && i < s.threads; i++) {
		rc = respd_create(s.workers->loops[i], s.listen_fd, s.threads > 1, handle, &s,
				  &s.respds[i]);
		if (rc == 0) {
			respd_set_max_bulk(s.respds[i], s.max_bulk);
			if (s.disk)
				respd_before_write(s.respds[i], commit, &s);
		}
	}
	if (rc == 0)
		rc = signals_create(s.loop, on_signal, &s, &s.signals);
	s.started_ms = loop_clock_ms();
	if (rc == 0)
		rc = workers_start(s.workers);
	if (rc == 0) {
		char max[32];
		human(max, sizeof(max), s.store.maxmemory);
		log_info("strata kv %s: %s engine on %s, maxmemory %s (%s), %d thread%s%s",
			 STRATA_VERSION, s.lmdb ? "lmdb" : "memory", s.listen_text,
			 s.store.maxmemory ? max : "unbounded", kvstore_policy_name(s.store.policy),
			 s.threads, s.threads == 1 ? "" : "s", s.requirepass[0] ? ", password set" : "");
		timer_init(&s.cron, cron);
		loop_timer_arm(s.loop, &s.cron, CRON_MS);
		rc = loop_run(s.loop);
	}
	if (rc < 0)
		log_error("kv: %s", err_str(rc));
	if (s.workers)
		workers_stop(s.workers);
	for (int i = 0; i < s.threads; i++)
		respd_destroy(s.respds[i]);
	workers_destroy(s.workers);
	signals_destroy(s.signals);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	if (s.loop)
		loop_destroy(s.loop);
	rl_table_unref(s.throttle);
	kvdisk_close(s.disk);
	kvstore_free(&s.store);
	return rc < 0 ? 1 : 0;
}
