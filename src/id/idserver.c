#include "id/idserver.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "algo/snowflake.h"
#include "algo/timeid.h"
#include "core/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/signals.h"
#include "id/idstore.h"
#include "net/httpd.h"
#include "net/respd.h"
#include "net/sock.h"
#include "proto/resp.h"
#include "tools/idtool.h"

static const char usage[] =
	"usage: strata id --listen ADDR:PORT --datacenter D --worker W [options]\n"
	"       strata id -c FILE\n"
	"       strata id bench [--seconds S] [--threads N] [--json]   (see bench --help)\n"
	"\n"
	"A unique-ID service: 64-bit Snowflake IDs (time | datacenter | worker | sequence),\n"
	"UUIDv7 and ULID, over the Redis protocol (redis-cli, redis-benchmark, any client):\n"
	"  ID.NEXT [COUNT]   an ID, or an array of COUNT (at most 100000)\n"
	"  ID.PARSE ID       timestamp_ms, datacenter, worker, sequence\n"
	"  ID.UUID7 [COUNT]  ID.ULID [COUNT]   INFO   PING\n"
	"and HTTP with --http: GET /id, /id?count=N, /id/ID (JSON), /metrics.\n"
	"\n"
	"  -l, --listen ADDR:PORT   Redis-protocol address (required)\n"
	"      --http ADDR:PORT     HTTP API and Prometheus /metrics\n"
	"  -d, --datacenter D       datacenter number (required; 0..31 with the default bits)\n"
	"  -w, --worker W           worker number (required; 0..31 with the default bits)\n"
	"      --epoch ISO8601      time zero of the IDs (default 2010-11-04T01:42:54.657Z, Twitter's)\n"
	"      --bits T/D/W/S       bits of time, datacenter, worker, sequence (default 41/5/5/12)\n"
	"      --tolerance D        a clock step back this small is waited out; larger ones are\n"
	"                           refused until the clock catches up (default 5ms, at most 100ms)\n"
	"      --dir DIR            the lock and last-timestamp files (default .)\n"
	"      --log-level L        error, warn, info (default), debug\n"
	"  -c, --config FILE        the same settings as `key = value` lines (listen, http, ...)\n"
	"  -h, --help               this help\n";

struct opts {
	struct sock_addr listen, http;
	bool has_listen, has_http, has_dc, has_worker;
	uint64_t dc, worker, tolerance_ms;
	struct sf_layout layout;
	char dir[4096];
	enum log_level level;
};

struct server {
	struct opts o;
	struct loop *loop;
	int listen_fd, http_fd;
	struct respd *respd;
	struct httpd *httpd;
	struct signals *signals;
	struct idstore *store;
	struct sf_gen *gen;
	struct tid_gen *uuid7, *ulid;
	struct timer save;                /* the lease, renewed every second */
	int save_error;                   /* why the last renewal failed (0: it did not) */
	_Atomic uint64_t issued[3];       /* snowflake, uuid7, ulid */
	_Atomic uint64_t refusals;        /* ERR_CLOCK answers */
	_Atomic uint64_t lease_refusals;  /* ERR_LEASE answers: the state could not be saved */
	uint64_t started_ms;
};

/* One setting, from a flag or a config line. 0, or -1 with a message in err. */
static int set(void *arg, const char *key, const char *v, char *err, size_t errlen)
{
	struct opts *o = arg;
	long n;
	if (strcmp(key, "listen") == 0 || strcmp(key, "http") == 0) {
		bool l = key[0] == 'l';
		if (sock_addr_parse(v, l ? &o->listen : &o->http) < 0)
			goto bad;
		*(l ? &o->has_listen : &o->has_http) = true;
	} else if (strcmp(key, "datacenter") == 0 || strcmp(key, "worker") == 0) {
		bool d = key[0] == 'd';
		if (cli_parse_long(v, 0, 1L << 30, &n) < 0)
			goto bad;
		*(d ? &o->dc : &o->worker) = (uint64_t)n;
		*(d ? &o->has_dc : &o->has_worker) = true;
	} else if (strcmp(key, "epoch") == 0) {
		if (cli_parse_utc(v, &o->layout.epoch_ms) < 0) {
			snprintf(err, errlen, "%s: '%s' is not an ISO 8601 UTC time (like "
				 "2024-01-01T00:00:00Z)", key, v);
			return -1;
		}
	} else if (strcmp(key, "bits") == 0) {
		struct sf_layout l = o->layout;
		char end;
		char why[96];
		if (sscanf(v, "%u/%u/%u/%u%c", &l.time_bits, &l.dc_bits, &l.worker_bits, &l.seq_bits,
			   &end) != 4) {
			snprintf(err, errlen, "%s: '%s' is not TIME/DATACENTER/WORKER/SEQUENCE bits "
				 "(like 41/5/5/12)", key, v);
			return -1;
		}
		if (sf_layout_check(&l, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", key, why);
			return -1;
		}
		o->layout = l;
	} else if (strcmp(key, "tolerance") == 0) {
		if (strcmp(v, "0") == 0)
			o->tolerance_ms = 0;
		/* The wait happens on the event loop: every client waits with it. */
		else if (cli_parse_ms(v, &o->tolerance_ms) < 0 || o->tolerance_ms > 100)
			goto bad;
	} else if (strcmp(key, "dir") == 0) {
		if (strlen(v) >= sizeof(o->dir))
			goto bad;
		snprintf(o->dir, sizeof(o->dir), "%s", v);
	} else if (strcmp(key, "log-level") == 0) {
		if (log_parse_level(v, &o->level) < 0)
			goto bad;
	} else {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: '%s' is not valid", key, v);
	return -1;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "http", required_argument, NULL, 'H' },
		{ "datacenter", required_argument, NULL, 'd' },
		{ "worker", required_argument, NULL, 'w' },
		{ "epoch", required_argument, NULL, 'E' },
		{ "bits", required_argument, NULL, 'B' },
		{ "tolerance", required_argument, NULL, 'T' },
		{ "dir", required_argument, NULL, 'D' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (struct opts){ .layout = SF_LAYOUT_DEFAULT, .tolerance_ms = 5, .dir = ".",
			    .level = LOG_INFO };
	cli_settings("id", argc, argv, longopts, ":l:d:w:c:h", usage, "id", set, o);
	if (!o->has_listen)
		cli_fail("id", "--listen ADDR:PORT is required");
	if (!o->has_dc || !o->has_worker)
		cli_fail("id", "--datacenter and --worker are required");
	if (o->dc >> o->layout.dc_bits || o->worker >> o->layout.worker_bits)
		cli_fail("id", "datacenter %" PRIu64 " or worker %" PRIu64 " does not fit the layout's "
			 "%u and %u bits", o->dc, o->worker, o->layout.dc_bits, o->layout.worker_bits);
}

/* ---- the generators ---- */

/* Extend the lease: once IDSTORE_LEASE_MS past now is on disk, IDs may be
 * issued up to it. 0, or the save's error (IDs then stop at the old one). */
static int renew(struct server *s)
{
	uint64_t until = loop_wall_ms() + IDSTORE_LEASE_MS;
	s->save_error = idstore_save(s->store, until, false);
	if (s->save_error == 0)
		sf_set_ceiling(s->gen, until);
	return s->save_error;
}

/* The next Snowflake ID, extending the lease first when the timer has not
 * kept it ahead (a long batch, a slow disk). */
static int next_id(struct server *s, uint64_t *id)
{
	int rc = sf_next(s->gen, id);
	if (rc == ERR_LEASE && renew(s) == 0)
		rc = sf_next(s->gen, id);
	return rc;
}

/* The reply to a refused ID: the clock is behind the last one issued, or
 * the state file cannot be saved. */
static void refusal(struct server *s, int rc, char *msg, size_t len)
{
	if (rc == ERR_CLOCK) {
		atomic_fetch_add_explicit(&s->refusals, 1, memory_order_relaxed);
		snprintf(msg, len, "ERR clock moved backwards: %" PRIu64 " ms behind the last ID; "
			 "refusing IDs until it catches up", sf_behind_ms(s->gen));
	} else if (rc == ERR_LEASE) {
		atomic_fetch_add_explicit(&s->lease_refusals, 1, memory_order_relaxed);
		snprintf(msg, len, "ERR cannot save %s: %s; refusing IDs until it can",
			 idstore_path(s->store), err_str(s->save_error));
	} else {
		snprintf(msg, len, "ERR %s", err_str(rc));
	}
}

/* COUNT from cmd->args[1] (1 when absent). 0, or -1 with the error written. */
static int count_arg(const struct resp_command *cmd, struct buf *out, int64_t *n)
{
	*n = 1;
	if (cmd->argc > 2) {
		respd_wrong_arity(out, cmd);
		return -1;
	}
	if (cmd->argc == 2 && resp_arg_int(&cmd->args[1], n) < 0) {
		resp_error(out, "ERR value is not an integer or out of range");
		return -1;
	}
	if (*n < 1 || *n > IDSERVER_MAX_COUNT) {
		resp_error(out, "ERR COUNT must be between 1 and 100000");
		return -1;
	}
	return 0;
}

static void id_next(struct server *s, const struct resp_command *cmd, struct buf *out)
{
	int64_t n;
	if (count_arg(cmd, out, &n) < 0)
		return;
	size_t mark = out->len;
	if (cmd->argc == 2)
		resp_array(out, (size_t)n);
	for (int64_t i = 0; i < n; i++) {
		uint64_t id;
		int rc = next_id(s, &id);
		if (rc < 0) {
			char msg[4300];
			out->len = mark;  /* no partial array: the whole request is refused */
			refusal(s, rc, msg, sizeof(msg));
			resp_error(out, msg);
			return;
		}
		resp_int(out, (int64_t)id);
	}
	atomic_fetch_add_explicit(&s->issued[0], (uint64_t)n, memory_order_relaxed);
}

static void id_time(struct server *s, enum tid_kind kind, const struct resp_command *cmd,
		    struct buf *out)
{
	int64_t n;
	if (count_arg(cmd, out, &n) < 0)
		return;
	size_t mark = out->len;
	if (cmd->argc == 2)
		resp_array(out, (size_t)n);
	for (int64_t i = 0; i < n; i++) {
		uint8_t id[16];
		char text[TID_UUID_LEN + 1];
		if (tid_next(kind == TID_UUID7 ? s->uuid7 : s->ulid, id) < 0) {
			out->len = mark;
			resp_error(out, "ERR the system's random source failed");
			return;
		}
		size_t len = tid_format(kind, id, text);
		resp_bulk(out, text, len);
	}
	atomic_fetch_add_explicit(&s->issued[kind == TID_UUID7 ? 1 : 2], (uint64_t)n,
				  memory_order_relaxed);
}

/* An ID as text: a whole number below 2^63. 0 or -1. */
static int parse_id(const char *p, size_t len, uint64_t *id)
{
	if (len == 0 || len > 19)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v >> 63)
		return -1;
	*id = v;
	return 0;
}

static void id_parse(struct server *s, const struct resp_command *cmd, struct buf *out)
{
	uint64_t id;
	if (cmd->argc != 2) {
		respd_wrong_arity(out, cmd);
		return;
	}
	if (parse_id(cmd->args[1].p, cmd->args[1].len, &id) < 0) {
		resp_error(out, "ERR invalid ID: expected a whole number from 0 to 2^63-1");
		return;
	}
	struct sf_parts p;
	sf_parse(&s->o.layout, id, &p);
	const char *names[4] = { "timestamp_ms", "datacenter", "worker", "sequence" };
	uint64_t values[4] = { p.unix_ms, p.datacenter, p.worker, p.sequence };
	resp_array(out, 8);
	for (int i = 0; i < 4; i++) {
		resp_bulk(out, names[i], strlen(names[i]));
		resp_int(out, (int64_t)values[i]);
	}
}

static void info(struct server *s, struct buf *out)
{
	struct buf b = BUF_INIT;
	const struct sf_layout *l = &s->o.layout;
	buf_printf(&b, "# Server\r\nstrata_version:%s\r\nprocess_id:%d\r\nuptime_in_seconds:%" PRIu64
		   "\r\n\r\n# Generator\r\ndatacenter:%" PRIu64 "\r\nworker:%" PRIu64
		   "\r\nepoch_ms:%" PRIu64 "\r\nbits:%u/%u/%u/%u\r\nmax_ids_per_ms:%" PRIu64
		   "\r\ntolerance_ms:%" PRIu64 "\r\nlast_ms:%" PRIu64 "\r\nstate_file:%s\r\n\r\n"
		   "# Stats\r\nids_issued:%" PRIu64 "\r\nuuid7_issued:%" PRIu64 "\r\nulid_issued:%"
		   PRIu64 "\r\nclock_refusals:%" PRIu64 "\r\nlease_refusals:%" PRIu64
		   "\r\ncommands_processed:%" PRIu64
		   "\r\nconnected_clients:%" PRIu64 "\r\n",
		   STRATA_VERSION, (int)getpid(), (loop_clock_ms() - s->started_ms) / 1000,
		   s->o.dc, s->o.worker, l->epoch_ms, l->time_bits, l->dc_bits, l->worker_bits,
		   l->seq_bits, sf_max_per_ms(l), s->o.tolerance_ms, sf_last_ms(s->gen),
		   idstore_path(s->store), atomic_load(&s->issued[0]), atomic_load(&s->issued[1]),
		   atomic_load(&s->issued[2]), atomic_load(&s->refusals),
		   atomic_load(&s->lease_refusals), respd_commands(s->respd),
		   respd_clients(s->respd));
	if (b.oom)
		resp_error(out, "ERR out of memory");
	else
		resp_bulk(out, b.data, b.len);
	buf_free(&b);
}

/* CONFIG GET pattern...: the settings as name/value pairs (redis-cli and
 * redis-benchmark ask for some); the service keeps no RDB or AOF, so save
 * is "" and appendonly "no", as in a Redis without persistence. */
static void config(struct server *s, const struct resp_command *cmd, struct buf *out)
{
	if (cmd->argc < 3 || !resp_arg_is(&cmd->args[1], "get")) {
		resp_error(out, "ERR CONFIG: strata id supports only CONFIG GET parameter...");
		return;
	}
	const struct sf_layout *l = &s->o.layout;
	char v[6][64];
	snprintf(v[0], sizeof(v[0]), "%" PRIu64, s->o.dc);
	snprintf(v[1], sizeof(v[1]), "%" PRIu64, s->o.worker);
	snprintf(v[2], sizeof(v[2]), "%" PRIu64, l->epoch_ms);
	snprintf(v[3], sizeof(v[3]), "%u/%u/%u/%u", l->time_bits, l->dc_bits, l->worker_bits,
		 l->seq_bits);
	snprintf(v[4], sizeof(v[4]), "%" PRIu64, s->o.tolerance_ms);
	snprintf(v[5], sizeof(v[5]), "%d", RESPD_MAX_BULK);
	const char *names[] = { "datacenter", "worker", "epoch", "bits", "tolerance",
				"proto-max-bulk-len", "dir", "save", "appendonly" };
	const char *values[] = { v[0], v[1], v[2], v[3], v[4], v[5], s->o.dir, "", "no" };
	respd_config_get(out, 2, &cmd->args[2], cmd->argc - 2, names, values,
			 sizeof(names) / sizeof(names[0]));
}

static bool handle(void *arg, struct respd_client *cl, const struct resp_command *cmd,
		   struct buf *out)
{
	(void)cl;
	struct server *s = arg;
	const struct resp_arg *name = &cmd->args[0];
	if (resp_arg_is(name, "id.next"))
		id_next(s, cmd, out);
	else if (resp_arg_is(name, "id.parse"))
		id_parse(s, cmd, out);
	else if (resp_arg_is(name, "id.uuid7"))
		id_time(s, TID_UUID7, cmd, out);
	else if (resp_arg_is(name, "id.ulid"))
		id_time(s, TID_ULID, cmd, out);
	else if (resp_arg_is(name, "info"))
		info(s, out);
	else if (resp_arg_is(name, "config"))
		config(s, cmd, out);
	else
		return false;
	return true;
}

/* ---- HTTP ---- */

static void json_error(struct httpd_reply *reply, int status, const char *msg)
{
	reply->status = status;
	reply->content_type = "application/json";
	buf_printf(&reply->body, "{\"error\":\"%s\"}\n", msg);
}

/* GET /id and /id?count=N: IDs as JSON strings (JavaScript's numbers hold
 * only 53 bits). */
static void http_ids(struct server *s, const char *query, size_t qlen, struct httpd_reply *reply)
{
	long n = 1;
	bool many = qlen > 0;
	if (many) {
		char num[16];
		if (qlen < 7 || qlen - 6 >= sizeof(num) || memcmp(query, "count=", 6) != 0) {
			json_error(reply, 400, "the only query is count=N");
			return;
		}
		memcpy(num, query + 6, qlen - 6);
		num[qlen - 6] = '\0';
		if (cli_parse_long(num, 1, IDSERVER_MAX_COUNT, &n) < 0) {
			json_error(reply, 400, "count must be between 1 and 100000");
			return;
		}
	}
	reply->content_type = "application/json";
	buf_puts(&reply->body, many ? "{\"ids\":[" : "{\"id\":");
	for (long i = 0; i < n; i++) {
		uint64_t id;
		int rc = next_id(s, &id);
		if (rc < 0) {
			char msg[4300];
			buf_reset(&reply->body);
			refusal(s, rc, msg, sizeof(msg));
			json_error(reply, 503, msg + 4);  /* without "ERR " */
			return;
		}
		buf_printf(&reply->body, "%s\"%" PRIu64 "\"", i ? "," : "", id);
	}
	buf_puts(&reply->body, many ? "]}\n" : "}\n");
	atomic_fetch_add_explicit(&s->issued[0], (uint64_t)n, memory_order_relaxed);
}

static void http_parse(struct server *s, const char *p, size_t len, struct httpd_reply *reply)
{
	uint64_t id;
	if (parse_id(p, len, &id) < 0) {
		json_error(reply, 400, "not an ID: expected a whole number from 0 to 2^63-1");
		return;
	}
	struct sf_parts parts;
	sf_parse(&s->o.layout, id, &parts);
	time_t secs = (time_t)(parts.unix_ms / 1000);
	struct tm tm;
	char when[32];
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	reply->content_type = "application/json";
	buf_printf(&reply->body, "{\"id\":\"%" PRIu64 "\",\"timestamp_ms\":%" PRIu64 ",\"time\":\"%s.%03"
		   PRIu64 "Z\",\"datacenter\":%" PRIu64 ",\"worker\":%" PRIu64 ",\"sequence\":%" PRIu64
		   "}\n", id, parts.unix_ms, when, parts.unix_ms % 1000, parts.datacenter, parts.worker,
		   parts.sequence);
}

static void on_http(void *arg, const struct http1_request *req, struct httpd_reply *reply)
{
	struct server *s = arg;
	const char *t = req->target;
	size_t len = req->target_len;
	const char *q = memchr(t, '?', len);
	size_t path_len = q ? (size_t)(q - t) : len;
	if (!((req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
	      (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0))) {
		reply->status = 405;
		buf_puts(&reply->body, "405 Method Not Allowed\n");
	} else if (path_len == 3 && memcmp(t, "/id", 3) == 0) {
		http_ids(s, q ? q + 1 : "", q ? len - path_len - 1 : 0, reply);
	} else if (path_len > 4 && memcmp(t, "/id/", 4) == 0 && !q) {
		http_parse(s, t + 4, len - 4, reply);
	} else if (path_len == 8 && memcmp(t, "/metrics", 8) == 0) {
		reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(&reply->body);
	} else {
		reply->status = 404;
		buf_puts(&reply->body, "404 Not Found\n");
	}
}

static void collect(struct buf *out, void *arg)
{
	struct server *s = arg;
	static const char *const kinds[3] = { "snowflake", "uuid7", "ulid" };
	metrics_family(out, "strata_id_issued_total", "counter", "IDs handed out, by kind");
	for (int i = 0; i < 3; i++) {
		char labels[32];
		snprintf(labels, sizeof(labels), "kind=\"%s\"", kinds[i]);
		metrics_sample(out, "strata_id_issued_total", labels, atomic_load(&s->issued[i]));
	}
	metrics_family(out, "strata_id_clock_refusals_total", "counter",
		       "requests refused because the clock was behind the last ID");
	metrics_sample(out, "strata_id_clock_refusals_total", "", atomic_load(&s->refusals));
	metrics_family(out, "strata_id_lease_refusals_total", "counter",
		       "requests refused because the state file could not be saved");
	metrics_sample(out, "strata_id_lease_refusals_total", "", atomic_load(&s->lease_refusals));
	metrics_family(out, "strata_id_last_timestamp_ms", "gauge",
		       "Unix ms of the last Snowflake ID issued (or the floor from the last run)");
	metrics_sample(out, "strata_id_last_timestamp_ms", "", sf_last_ms(s->gen));
	metrics_family(out, "strata_id_commands_total", "counter", "Redis-protocol commands run");
	metrics_sample(out, "strata_id_commands_total", "", respd_commands(s->respd));
}

/* ---- the process ---- */

static void save(struct timer *t)
{
	struct server *s = container_of(t, struct server, save);
	if (renew(s) < 0)
		log_warn("cannot save %s: %s; IDs stop when the lease runs out",
			 idstore_path(s->store), err_str(s->save_error));
	loop_timer_arm(s->loop, t, IDSTORE_SAVE_MS);
}

static void on_signal(void *arg, int signo)
{
	struct server *s = arg;
	if (signo != SIGHUP) {
		log_info("%s: stopping", strsignal(signo));
		loop_stop(s->loop);
	}
}

static int listen_on(const struct sock_addr *a, const char *what)
{
	int fd = sock_listen(a, 511);
	if (fd < 0) {
		char text[SOCK_ADDR_STRLEN];
		sock_addr_str(a, text, sizeof(text));
		log_error("id: cannot listen on %s (%s): %s", text, what, err_str(fd));
	}
	return fd;
}

int idserver_main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		return idtool_bench_main(argc - 1, argv + 1);
	struct server s = { .listen_fd = -1, .http_fd = -1 };
	parse_args(argc, argv, &s.o);
	log_setup(s.o.level, LOG_TEXT);
	signals_block();

	char err[512];
	uint64_t floor_ms;
	int rc = idstore_open(s.o.dir, s.o.dc, s.o.worker, &s.store, &floor_ms, err, sizeof(err));
	if (rc == -EEXIST)
		cli_fail("id", "%s", err);
	if (rc < 0) {
		log_error("id: %s", err);
		return 1;
	}
	struct sf_config c = { s.o.layout, s.o.dc, s.o.worker, s.o.tolerance_ms, floor_ms,
			       NULL, NULL, NULL };
	s.started_ms = loop_clock_ms();
	rc = sf_create(&c, &s.gen);
	if (rc == 0)
		rc = tid_create(TID_UUID7, NULL, NULL, &s.uuid7);
	if (rc == 0)
		rc = tid_create(TID_ULID, NULL, NULL, &s.ulid);
	if (rc == 0)
		rc = loop_create(&s.loop);
	if (rc == 0 && (s.listen_fd = listen_on(&s.o.listen, "redis protocol")) < 0)
		rc = s.listen_fd;
	if (rc == 0)
		rc = respd_create(s.loop, s.listen_fd, false, handle, &s, &s.respd);
	if (rc == 0 && s.o.has_http && (s.http_fd = listen_on(&s.o.http, "http")) < 0)
		rc = s.http_fd;
	if (rc == 0 && s.o.has_http)
		rc = httpd_create(s.loop, s.http_fd, false, on_http, &s, &s.httpd);
	if (rc == 0)
		rc = metrics_register(collect, &s);
	if (rc == 0)
		rc = signals_create(s.loop, on_signal, &s, &s.signals);
	if (rc == 0 && (rc = renew(&s)) < 0) {
		log_error("id: cannot save %s: %s", idstore_path(s.store), err_str(rc));
	} else if (rc < 0) {
		log_error("id: %s", err_str(rc));
	} else {
		uint64_t now_ms = loop_wall_ms();
		if (floor_ms > now_ms + s.o.tolerance_ms)
			log_warn("the clock is %" PRIu64 " ms behind the last ID of the previous run "
				 "(%s): refusing IDs until it catches up", floor_ms - now_ms,
				 idstore_path(s.store));
		char text[SOCK_ADDR_STRLEN], http[SOCK_ADDR_STRLEN + 16] = "";
		sock_addr_str(&s.o.listen, text, sizeof(text));
		if (s.o.has_http) {
			strcpy(http, ", http on ");
			sock_addr_str(&s.o.http, http + strlen(http), SOCK_ADDR_STRLEN);
		}
		log_info("strata id %s: datacenter %" PRIu64 " worker %" PRIu64 ", bits %u/%u/%u/%u, "
			 "epoch %" PRIu64 " ms, on %s%s", STRATA_VERSION, s.o.dc, s.o.worker,
			 s.o.layout.time_bits, s.o.layout.dc_bits, s.o.layout.worker_bits,
			 s.o.layout.seq_bits, s.o.layout.epoch_ms, text, http);
		timer_init(&s.save, save);
		loop_timer_arm(s.loop, &s.save, IDSTORE_SAVE_MS);
		if ((rc = loop_run(s.loop)) < 0)
			log_error("id: %s", err_str(rc));
	}
	if (s.gen) {
		int src = idstore_save(s.store, sf_last_ms(s.gen), true);
		if (src < 0)
			log_error("cannot save %s: %s", idstore_path(s.store), err_str(src));
	}
	metrics_unregister(collect, &s);
	respd_destroy(s.respd);
	httpd_destroy(s.httpd);
	signals_destroy(s.signals);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	if (s.http_fd >= 0)
		close(s.http_fd);
	if (s.loop)
		loop_destroy(s.loop);
	tid_destroy(s.uuid7);
	tid_destroy(s.ulid);
	sf_destroy(s.gen);
	idstore_close(s.store);
	return rc < 0 ? 1 : 0;
}
