#include "kv/kvcmd.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/glob.h"
#include "kv/kvdisk.h"
#include "kv/kvserver.h"
#include "ratelimit/rlcell.h"

#define E_SYNTAX   "ERR syntax error"
#define E_INT      "ERR value is not an integer or out of range"
#define E_FLOAT    "ERR value is not a valid float"
#define E_OVERFLOW "ERR increment or decrement would overflow"
#define E_NOKEY    "ERR no such key"
#define E_OOM      "OOM command not allowed when used memory > 'maxmemory'."
#define E_NOMEM    "ERR out of memory"
#define E_TOOBIG   "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

/* WRITE: changes the keyspace (refused while the lmdb store cannot be
 * written); DENYOOM: may add memory (eviction first, as Redis's flag). */
enum { WRITE = 1, DENYOOM = 2, NOAUTH = 4 };

static const struct resp_arg *arg(const struct kv_ctx *c, size_t i)
{
	return &c->cmd->args[i];
}

static void nil(struct kv_ctx *c)
{
	resp_nil(c->out, c->cl->proto);
}

static void ok(struct kv_ctx *c)
{
	resp_simple(c->out, "OK");
}

static void err(struct kv_ctx *c, const char *msg)
{
	resp_error(c->out, msg);
}

static void value(struct kv_ctx *c, struct kv_entry *e)
{
	resp_bulk(c->out, kv_entry_value(e), e->vlen);
}

static struct kv_entry *find(struct kv_ctx *c, size_t i)
{
	return kvstore_find(c->store, arg(c, i)->p, arg(c, i)->len, true);
}

/* A lookup that is no use of the key (EXISTS, TYPE, TTL...: Redis's
 * LOOKUP_NOTOUCH), so it does not sway LRU or LFU eviction. */
static struct kv_entry *peek(struct kv_ctx *c, size_t i)
{
	return kvstore_find(c->store, arg(c, i)->p, arg(c, i)->len, false);
}

/* A lookup that counts in keyspace_hits / keyspace_misses. */
static struct kv_entry *read_key(struct kv_ctx *c, size_t i)
{
	struct kv_entry *e = find(c, i);
	if (e)
		c->srv->hits++;
	else
		c->srv->misses++;
	return e;
}

/* Can this key be stored? (The lmdb engine bounds key length.) */
static bool key_fits(struct kv_ctx *c, size_t len)
{
	if (!c->srv->max_key || len <= c->srv->max_key)
		return true;
	char msg[96];
	snprintf(msg, sizeof(msg), "ERR key too long for the lmdb engine (at most %zu bytes)",
		 c->srv->max_key);
	err(c, msg);
	return false;
}

static int set_value(struct kv_ctx *c, size_t key, const void *v, size_t vlen, int64_t expire_ms,
		     bool keep_ttl)
{
	const struct resp_arg *k = arg(c, key);
	if (!key_fits(c, k->len))
		return -1;
	if (kvstore_set(c->store, k->p, k->len, v, vlen, expire_ms, keep_ttl, NULL) < 0) {
		err(c, E_NOMEM);
		return -1;
	}
	return 0;
}

/*
 * An expiry argument of `unit_ms` (1000: seconds) as Unix ms: relative to
 * now unless `absolute`. Redis's rules: SET and GETEX want it > 0; any
 * overflow is an invalid expire time. 0, or -1 with the error written.
 */
static int expire_arg(struct kv_ctx *c, const struct resp_arg *a, int64_t unit_ms, bool absolute,
		      bool positive, const char *cmd, int64_t *out)
{
	int64_t v;
	char msg[80];
	if (resp_arg_int(a, &v) < 0) {
		err(c, E_INT);
		return -1;
	}
	snprintf(msg, sizeof(msg), "ERR invalid expire time in '%s' command", cmd);
	if ((positive && v <= 0) || v > INT64_MAX / unit_ms || v < INT64_MIN / unit_ms) {
		err(c, msg);
		return -1;
	}
	v *= unit_ms;
	if (!absolute) {
		if ((v > 0 && c->store->now_ms > INT64_MAX - v) ||
		    (v < 0 && c->store->now_ms < INT64_MIN - v)) {
			err(c, msg);
			return -1;
		}
		v += c->store->now_ms;
	}
	*out = v;
	return 0;
}

/* ---- strings ---- */

static void cmd_get(struct kv_ctx *c)
{
	struct kv_entry *e = read_key(c, 1);
	if (e)
		value(c, e);
	else
		nil(c);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
static void cmd_set(struct kv_ctx *c)
{
	bool nx = false, xx = false, get = false, keepttl = false, has_expire = false;
	int64_t expire = 0;
	for (size_t i = 3; i < c->cmd->argc; i++) {
		const struct resp_arg *a = arg(c, i);
		static const char *const units[4] = { "ex", "px", "exat", "pxat" };
		int unit = -1;
		for (int u = 0; u < 4; u++)
			if (resp_arg_is(a, units[u]))
				unit = u;
		if (resp_arg_is(a, "nx") && !xx) {
			nx = true;
		} else if (resp_arg_is(a, "xx") && !nx) {
			xx = true;
		} else if (resp_arg_is(a, "get")) {
			get = true;
		} else if (resp_arg_is(a, "keepttl") && !has_expire) {
			keepttl = true;
		} else if (unit >= 0 && !keepttl && !has_expire && i + 1 < c->cmd->argc) {
			if (expire_arg(c, arg(c, ++i), unit % 2 ? 1 : 1000, unit >= 2, true, "set",
				       &expire) < 0)
				return;
			has_expire = true;
		} else {
			err(c, E_SYNTAX);
			return;
		}
	}
	struct kv_entry *old = find(c, 1);
	struct buf prev = BUF_INIT;  /* GET's reply, sent only if the command succeeds */
	if (get && old)
		resp_bulk(&prev, kv_entry_value(old), old->vlen);
	else if (get)
		resp_nil(&prev, c->cl->proto);
	if (!(nx && old) && !(xx && !old) &&
	    set_value(c, 1, arg(c, 2)->p, arg(c, 2)->len, expire, keepttl) < 0) {
		buf_free(&prev);
		return;
	}
	if (get)
		buf_append(c->out, prev.data, prev.len);
	else if ((nx && old) || (xx && !old))
		nil(c);
	else
		ok(c);
	buf_free(&prev);
}

static void cmd_setnx(struct kv_ctx *c)
{
	if (find(c, 1)) {
		resp_int(c->out, 0);
		return;
	}
	if (set_value(c, 1, arg(c, 2)->p, arg(c, 2)->len, 0, false) == 0)
		resp_int(c->out, 1);
}

/* SETEX key seconds value / PSETEX key ms value */
static void setex(struct kv_ctx *c, int64_t unit_ms, const char *name)
{
	int64_t expire;
	if (expire_arg(c, arg(c, 2), unit_ms, false, true, name, &expire) < 0)
		return;
	if (set_value(c, 1, arg(c, 3)->p, arg(c, 3)->len, expire, false) == 0)
		ok(c);
}

static void cmd_setex(struct kv_ctx *c)
{
	setex(c, 1000, "setex");
}

static void cmd_psetex(struct kv_ctx *c)
{
	setex(c, 1, "psetex");
}

static void cmd_getset(struct kv_ctx *c)
{
	struct kv_entry *old = find(c, 1);
	struct buf prev = BUF_INIT;
	if (old)
		resp_bulk(&prev, kv_entry_value(old), old->vlen);
	else
		resp_nil(&prev, c->cl->proto);
	if (set_value(c, 1, arg(c, 2)->p, arg(c, 2)->len, 0, false) == 0)
		buf_append(c->out, prev.data, prev.len);
	buf_free(&prev);
}

static void cmd_getdel(struct kv_ctx *c)
{
	struct kv_entry *e = read_key(c, 1);
	if (!e) {
		nil(c);
		return;
	}
	value(c, e);
	kvstore_del(c->store, arg(c, 1)->p, arg(c, 1)->len);
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] */
static void cmd_getex(struct kv_ctx *c)
{
	int64_t expire = 0;
	bool change = false, persist = false;
	if (c->cmd->argc > 2) {
		static const char *const units[4] = { "ex", "px", "exat", "pxat" };
		const struct resp_arg *a = arg(c, 2);
		int unit = -1;
		for (int u = 0; u < 4; u++)
			if (resp_arg_is(a, units[u]))
				unit = u;
		if (c->cmd->argc == 3 && resp_arg_is(a, "persist")) {
			persist = change = true;
		} else if (unit >= 0 && c->cmd->argc == 4) {
			if (expire_arg(c, arg(c, 3), unit % 2 ? 1 : 1000, unit >= 2, true, "getex",
				       &expire) < 0)
				return;
			change = true;
		} else {
			err(c, E_SYNTAX);
			return;
		}
	}
	struct kv_entry *e = read_key(c, 1);
	if (!e) {
		nil(c);
		return;
	}
	value(c, e);
	if (change)
		kvstore_expire(c->store, e, persist ? 0 : expire);
}

static void cmd_mget(struct kv_ctx *c)
{
	resp_array(c->out, c->cmd->argc - 1);
	for (size_t i = 1; i < c->cmd->argc; i++) {
		struct kv_entry *e = read_key(c, i);
		if (e)
			value(c, e);
		else
			nil(c);
	}
}

/* MSET's and MSETNX's arguments: pairs, every key storable (checked before
 * anything is written, so the command is all or nothing). */
static bool pairs_ok(struct kv_ctx *c)
{
	if (c->cmd->argc % 2 == 0) {
		respd_wrong_arity(c->out, c->cmd);
		return false;
	}
	for (size_t i = 1; i < c->cmd->argc; i += 2)
		if (!key_fits(c, arg(c, i)->len))
			return false;
	return true;
}

/* Set every key/value pair; -1 with the error written. */
static int set_pairs(struct kv_ctx *c)
{
	for (size_t i = 1; i < c->cmd->argc; i += 2)
		if (set_value(c, i, arg(c, i + 1)->p, arg(c, i + 1)->len, 0, false) < 0)
			return -1;
	return 0;
}

static void cmd_mset(struct kv_ctx *c)
{
	if (pairs_ok(c) && set_pairs(c) == 0)
		ok(c);
}

static void cmd_msetnx(struct kv_ctx *c)
{
	if (!pairs_ok(c))
		return;
	for (size_t i = 1; i < c->cmd->argc; i += 2)
		if (find(c, i)) {
			resp_int(c->out, 0);
			return;
		}
	if (set_pairs(c) == 0)
		resp_int(c->out, 1);
}

static void cmd_append(struct kv_ctx *c)
{
	struct kv_entry *e = find(c, 1);
	const struct resp_arg *a = arg(c, 2);
	size_t old = e ? e->vlen : 0;
	if (old + a->len > c->srv->max_bulk) {
		err(c, E_TOOBIG);
		return;
	}
	char *v = malloc(old + a->len + 1);
	if (!v) {
		err(c, E_NOMEM);
		return;
	}
	if (e)
		memcpy(v, kv_entry_value(e), old);
	memcpy(v + old, a->p, a->len);
	if (set_value(c, 1, v, old + a->len, 0, true) == 0)
		resp_int(c->out, (int64_t)(old + a->len));
	free(v);
}

static void cmd_strlen(struct kv_ctx *c)
{
	struct kv_entry *e = find(c, 1);
	resp_int(c->out, e ? e->vlen : 0);
}

/* GETRANGE key start end: negative offsets count from the end. */
static void cmd_getrange(struct kv_ctx *c)
{
	int64_t start, end;
	if (resp_arg_int(arg(c, 2), &start) < 0 || resp_arg_int(arg(c, 3), &end) < 0) {
		err(c, E_INT);
		return;
	}
	struct kv_entry *e = find(c, 1);
	int64_t len = e ? e->vlen : 0;
	if (start < 0 && end < 0 && start > end) {
		resp_bulk(c->out, "", 0);
		return;
	}
	if (start < 0)
		start = len + start;
	if (end < 0)
		end = len + end;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if (end >= len)
		end = len - 1;
	if (!e || start > end || len == 0)
		resp_bulk(c->out, "", 0);
	else
		resp_bulk(c->out, kv_entry_value(e) + start, (size_t)(end - start + 1));
}

static void cmd_setrange(struct kv_ctx *c)
{
	int64_t off;
	const struct resp_arg *a = arg(c, 3);
	if (resp_arg_int(arg(c, 2), &off) < 0 || off < 0) {
		err(c, "ERR offset is out of range");
		return;
	}
	struct kv_entry *e = find(c, 1);
	size_t old = e ? e->vlen : 0;
	if (a->len == 0) {  /* nothing to write: the length, and no key created */
		resp_int(c->out, (int64_t)old);
		return;
	}
	if ((uint64_t)off + a->len > c->srv->max_bulk) {
		err(c, E_TOOBIG);
		return;
	}
	size_t len = (size_t)off + a->len > old ? (size_t)off + a->len : old;
	char *v = calloc(1, len);
	if (!v) {
		err(c, E_NOMEM);
		return;
	}
	if (e)
		memcpy(v, kv_entry_value(e), old);
	memcpy(v + off, a->p, a->len);
	if (set_value(c, 1, v, len, 0, true) == 0)
		resp_int(c->out, (int64_t)len);
	free(v);
}

/* ---- counters ---- */

/* The value of e as a whole number (Redis's string2ll). 0 or -1. */
static int int_value(struct kv_entry *e, int64_t *v)
{
	struct resp_arg a = { kv_entry_value(e), e->vlen };
	return resp_arg_int(&a, v);
}

static void incr_by(struct kv_ctx *c, int64_t by)
{
	struct kv_entry *e = find(c, 1);
	int64_t v = 0;
	if (e && int_value(e, &v) < 0) {
		err(c, E_INT);
		return;
	}
	if ((by > 0 && v > INT64_MAX - by) || (by < 0 && v < INT64_MIN - by)) {
		err(c, E_OVERFLOW);
		return;
	}
	v += by;
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);
	if (set_value(c, 1, num, (size_t)n, 0, true) == 0)
		resp_int(c->out, v);
}

static void cmd_incr(struct kv_ctx *c)
{
	incr_by(c, 1);
}

static void cmd_decr(struct kv_ctx *c)
{
	incr_by(c, -1);
}

static void by_arg(struct kv_ctx *c, bool negate)
{
	int64_t by;
	if (resp_arg_int(arg(c, 2), &by) < 0) {
		err(c, E_INT);
		return;
	}
	if (negate && by == INT64_MIN) {
		err(c, "ERR decrement would overflow");
		return;
	}
	incr_by(c, negate ? -by : by);
}

static void cmd_incrby(struct kv_ctx *c)
{
	by_arg(c, false);
}

static void cmd_decrby(struct kv_ctx *c)
{
	by_arg(c, true);
}

/* A float as Redis reads it (string2ld): the whole text, no leading space,
 * not NaN, not out of range (infinity is a float; adding it is refused
 * later). 0 or -1. */
static int parse_float(const char *p, size_t len, long double *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof(buf) || p[0] == ' ' || p[0] == '\t')
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	char *end;
	errno = 0;
	long double v = strtold(buf, &end);
	if (*end || (errno == ERANGE && (isinf(v) || v == 0)) || isnan(v))
		return -1;
	*out = v;
	return 0;
}

/* Redis's human form of a long double: 17 fractional digits, trailing zeros
 * and point removed. */
static int format_float(long double v, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%.17Lf", v);
	if (n <= 0 || (size_t)n >= len)
		return -1;
	if (strchr(buf, '.')) {
		while (buf[n - 1] == '0')
			n--;
		if (buf[n - 1] == '.')
			n--;
		buf[n] = '\0';
	}
	if (strcmp(buf, "-0") == 0)
		return snprintf(buf, len, "0");
	return n;
}

static void cmd_incrbyfloat(struct kv_ctx *c)
{
	long double by, v = 0;
	if (parse_float(arg(c, 2)->p, arg(c, 2)->len, &by) < 0) {
		err(c, E_FLOAT);
		return;
	}
	struct kv_entry *e = find(c, 1);
	if (e && parse_float(kv_entry_value(e), e->vlen, &v) < 0) {
		err(c, E_FLOAT);
		return;
	}
	v += by;
	char num[400];
	int n;
	if (isnan(v) || isinf(v) || (n = format_float(v, num, sizeof(num))) < 0) {
		err(c, "ERR increment would produce NaN or Infinity");
		return;
	}
	if (set_value(c, 1, num, (size_t)n, 0, true) == 0)
		resp_bulk(c->out, num, (size_t)n);
}

/* ---- keys ---- */

static void cmd_del(struct kv_ctx *c)
{
	int64_t n = 0;
	for (size_t i = 1; i < c->cmd->argc; i++)
		n += kvstore_del(c->store, arg(c, i)->p, arg(c, i)->len);
	resp_int(c->out, n);
}

static void cmd_exists(struct kv_ctx *c)
{
	int64_t n = 0;
	for (size_t i = 1; i < c->cmd->argc; i++)
		n += peek(c, i) != NULL;
	resp_int(c->out, n);
}

static void cmd_type(struct kv_ctx *c)
{
	resp_simple(c->out, peek(c, 1) ? "string" : "none");
}

static void rename_key(struct kv_ctx *c, bool nx)
{
	struct kv_entry *e = find(c, 1);
	if (!e) {
		err(c, E_NOKEY);
		return;
	}
	const struct resp_arg *to = arg(c, 2);
	bool same = to->len == e->klen && memcmp(to->p, kv_entry_key(e), to->len) == 0;
	if (nx && (same || find(c, 2))) {
		resp_int(c->out, 0);
		return;
	}
	if (!key_fits(c, to->len))
		return;
	if (!same && kvstore_rename(c->store, e, to->p, to->len) < 0) {
		err(c, E_NOMEM);
		return;
	}
	if (nx)
		resp_int(c->out, 1);
	else
		ok(c);
}

static void cmd_rename(struct kv_ctx *c)
{
	rename_key(c, false);
}

static void cmd_renamenx(struct kv_ctx *c)
{
	rename_key(c, true);
}

/* EXPIRE key t [NX|XX|GT|LT], in `unit_ms`, relative or absolute. */
static void expire(struct kv_ctx *c, int64_t unit_ms, bool absolute, const char *name)
{
	bool nx = false, xx = false, gt = false, lt = false;
	for (size_t i = 3; i < c->cmd->argc; i++) {
		const struct resp_arg *a = arg(c, i);
		if (resp_arg_is(a, "nx"))
			nx = true;
		else if (resp_arg_is(a, "xx"))
			xx = true;
		else if (resp_arg_is(a, "gt"))
			gt = true;
		else if (resp_arg_is(a, "lt"))
			lt = true;
		else {
			char msg[64];
			snprintf(msg, sizeof(msg), "ERR Unsupported option %.*s", (int)(a->len > 32 ? 32 : a->len),
				 a->p);
			err(c, msg);
			return;
		}
	}
	if (nx && (xx || gt || lt)) {
		err(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
		return;
	}
	if (gt && lt) {
		err(c, "ERR GT and LT options at the same time are not compatible");
		return;
	}
	int64_t when;
	if (expire_arg(c, arg(c, 2), unit_ms, absolute, false, name, &when) < 0)
		return;
	struct kv_entry *e = find(c, 1);
	if (!e) {
		resp_int(c->out, 0);
		return;
	}
	/* No TTL counts as an infinite one: GT never beats it, LT always does. */
	int64_t cur = e->expire_ms;
	if ((nx && cur) || (xx && !cur) || (gt && (!cur || when <= cur)) ||
	    (lt && cur && when >= cur)) {
		resp_int(c->out, 0);
		return;
	}
	if (when <= c->store->now_ms)
		kvstore_del(c->store, arg(c, 1)->p, arg(c, 1)->len);
	else
		kvstore_expire(c->store, e, when);
	resp_int(c->out, 1);
}

static void cmd_expire(struct kv_ctx *c)
{
	expire(c, 1000, false, "expire");
}

static void cmd_pexpire(struct kv_ctx *c)
{
	expire(c, 1, false, "pexpire");
}

static void cmd_expireat(struct kv_ctx *c)
{
	expire(c, 1000, true, "expireat");
}

static void cmd_pexpireat(struct kv_ctx *c)
{
	expire(c, 1, true, "pexpireat");
}

/* TTL family: -2 no key, -1 no TTL; `absolute` gives the Unix time. */
static void ttl(struct kv_ctx *c, bool ms, bool absolute)
{
	struct kv_entry *e = peek(c, 1);
	if (!e || !e->expire_ms) {
		resp_int(c->out, e ? -1 : -2);
		return;
	}
	int64_t t = absolute ? e->expire_ms : e->expire_ms - c->store->now_ms;
	if (!ms)
		t = absolute ? t / 1000 : (t + 500) / 1000;
	resp_int(c->out, t);
}

static void cmd_ttl(struct kv_ctx *c)
{
	ttl(c, false, false);
}

static void cmd_pttl(struct kv_ctx *c)
{
	ttl(c, true, false);
}

static void cmd_expiretime(struct kv_ctx *c)
{
	ttl(c, false, true);
}

static void cmd_pexpiretime(struct kv_ctx *c)
{
	ttl(c, true, true);
}

static void cmd_persist(struct kv_ctx *c)
{
	struct kv_entry *e = find(c, 1);
	if (!e || !e->expire_ms) {
		resp_int(c->out, 0);
		return;
	}
	kvstore_expire(c->store, e, 0);
	resp_int(c->out, 1);
}

struct collect {
	struct kv_store *store;
	const struct resp_arg *pattern;   /* NULL: every key */
	bool strings_only_none;           /* SCAN TYPE other than string: nothing */
	struct buf keys;                  /* reply bulks */
	size_t n;
};

static void collect_key(struct kv_entry *e, void *arg)
{
	struct collect *k = arg;
	if (k->strings_only_none || (e->expire_ms && e->expire_ms <= k->store->now_ms))
		return;
	if (k->pattern && !glob_match(k->pattern->p, k->pattern->len, kv_entry_key(e), e->klen, false))
		return;
	resp_bulk(&k->keys, kv_entry_key(e), e->klen);
	k->n++;
}

static void reply_keys(struct kv_ctx *c, struct collect *k)
{
	resp_array(c->out, k->n);
	buf_append(c->out, k->keys.data, k->keys.len);
	buf_free(&k->keys);
}

static void cmd_keys(struct kv_ctx *c)
{
	struct collect k = { .store = c->store, .pattern = arg(c, 1), .keys = BUF_INIT };
	if (arg(c, 1)->len == 1 && arg(c, 1)->p[0] == '*')
		k.pattern = NULL;
	uint64_t cursor = 0;
	do
		cursor = kvdict_scan(&c->store->dict, cursor, collect_key, &k);
	while (cursor);
	reply_keys(c, &k);
}

/* SCAN cursor [MATCH pattern] [COUNT n] [TYPE t] */
static void cmd_scan(struct kv_ctx *c)
{
	uint64_t cursor;
	int64_t count = 10;
	struct collect k = { .store = c->store, .keys = BUF_INIT };
	char *end;
	char num[24];
	const struct resp_arg *a = arg(c, 1);
	if (a->len == 0 || a->len >= sizeof(num)) {
		err(c, "ERR invalid cursor");
		return;
	}
	memcpy(num, a->p, a->len);
	num[a->len] = '\0';
	errno = 0;
	cursor = strtoull(num, &end, 10);
	if (*end || errno || num[0] == '-') {
		err(c, "ERR invalid cursor");
		return;
	}
	for (size_t i = 2; i < c->cmd->argc; i += 2) {
		if (i + 1 >= c->cmd->argc) {
			err(c, E_SYNTAX);
			return;
		}
		if (resp_arg_is(arg(c, i), "match")) {
			k.pattern = arg(c, i + 1);
		} else if (resp_arg_is(arg(c, i), "count")) {
			if (resp_arg_int(arg(c, i + 1), &count) < 0) {
				err(c, E_INT);
				return;
			}
			if (count < 1) {
				err(c, E_SYNTAX);
				return;
			}
			if (count > INT64_MAX / 10)
				count = INT64_MAX / 10;  /* the bucket bound below must not overflow */
		} else if (resp_arg_is(arg(c, i), "type")) {
			k.strings_only_none = !resp_arg_is(arg(c, i + 1), "string");
		} else {
			err(c, E_SYNTAX);
			return;
		}
	}
	/* Visit buckets until COUNT keys were looked at (Redis's rule), at
	 * most ten times as many buckets as COUNT. */
	int64_t buckets = 0;
	do
		cursor = kvdict_scan(&c->store->dict, cursor, collect_key, &k);
	while (cursor && (int64_t)k.n < count && ++buckets < count * 10);
	resp_array(c->out, 2);
	int n = snprintf(num, sizeof(num), "%" PRIu64, cursor);
	resp_bulk(c->out, num, (size_t)n);
	reply_keys(c, &k);
}

static void cmd_randomkey(struct kv_ctx *c)
{
	struct kv_entry *e = kvstore_random(c->store);
	if (e)
		resp_bulk(c->out, kv_entry_key(e), e->klen);
	else
		nil(c);
}

static void cmd_dbsize(struct kv_ctx *c)
{
	resp_int(c->out, (int64_t)kvstore_keys(c->store));
}

static void cmd_flushall(struct kv_ctx *c)
{
	if (c->cmd->argc > 2 || (c->cmd->argc == 2 && !resp_arg_is(arg(c, 1), "sync") &&
				 !resp_arg_is(arg(c, 1), "async"))) {
		err(c, E_SYNTAX);
		return;
	}
	kvstore_flush(c->store);
	ok(c);
}

static void cmd_select(struct kv_ctx *c)
{
	int64_t db;
	if (resp_arg_int(arg(c, 1), &db) < 0)
		err(c, E_INT);
	else if (db != 0)
		err(c, "ERR DB index is out of range");
	else
		ok(c);
}

static void cmd_function(struct kv_ctx *c)
{
	if (resp_arg_is(arg(c, 1), "flush"))
		ok(c);  /* there are no functions to flush */
	else
		err(c, "ERR strata kv has no functions: only FUNCTION FLUSH is understood");
}

static void cmd_throttle(struct kv_ctx *c)
{
	rlcell_command(c->srv->throttle, c->cmd, loop_clock_ns(), c->out);
}

/* ---- the table ---- */

struct command {
	const char *name;
	int arity;                        /* > 0: exactly; < 0: at least -arity */
	int flags;
	void (*fn)(struct kv_ctx *c);
};

static const struct command commands[] = {
	{ "get", 2, 0, cmd_get },
	{ "set", -3, WRITE | DENYOOM, cmd_set },
	{ "setnx", 3, WRITE | DENYOOM, cmd_setnx },
	{ "setex", 4, WRITE | DENYOOM, cmd_setex },
	{ "psetex", 4, WRITE | DENYOOM, cmd_psetex },
	{ "getset", 3, WRITE | DENYOOM, cmd_getset },
	{ "getdel", 2, WRITE, cmd_getdel },
	{ "getex", -2, WRITE, cmd_getex },
	{ "mget", -2, 0, cmd_mget },
	{ "mset", -3, WRITE | DENYOOM, cmd_mset },
	{ "msetnx", -3, WRITE | DENYOOM, cmd_msetnx },
	{ "append", 3, WRITE | DENYOOM, cmd_append },
	{ "strlen", 2, 0, cmd_strlen },
	{ "getrange", 4, 0, cmd_getrange },
	{ "setrange", 4, WRITE | DENYOOM, cmd_setrange },
	{ "incr", 2, WRITE | DENYOOM, cmd_incr },
	{ "decr", 2, WRITE | DENYOOM, cmd_decr },
	{ "incrby", 3, WRITE | DENYOOM, cmd_incrby },
	{ "decrby", 3, WRITE | DENYOOM, cmd_decrby },
	{ "incrbyfloat", 3, WRITE | DENYOOM, cmd_incrbyfloat },
	{ "del", -2, WRITE, cmd_del },
	{ "unlink", -2, WRITE, cmd_del },
	{ "exists", -2, 0, cmd_exists },
	{ "type", 2, 0, cmd_type },
	{ "rename", 3, WRITE | DENYOOM, cmd_rename },
	{ "renamenx", 3, WRITE | DENYOOM, cmd_renamenx },
	{ "expire", -3, WRITE, cmd_expire },
	{ "pexpire", -3, WRITE, cmd_pexpire },
	{ "expireat", -3, WRITE, cmd_expireat },
	{ "pexpireat", -3, WRITE, cmd_pexpireat },
	{ "ttl", 2, 0, cmd_ttl },
	{ "pttl", 2, 0, cmd_pttl },
	{ "expiretime", 2, 0, cmd_expiretime },
	{ "pexpiretime", 2, 0, cmd_pexpiretime },
	{ "persist", 2, WRITE, cmd_persist },
	{ "keys", 2, 0, cmd_keys },
	{ "scan", -2, 0, cmd_scan },
	{ "randomkey", 1, 0, cmd_randomkey },
	{ "dbsize", 1, 0, cmd_dbsize },
	{ "flushall", -1, WRITE, cmd_flushall },
	{ "flushdb", -1, WRITE, cmd_flushall },
	{ "select", 2, 0, cmd_select },
	{ "function", -2, 0, cmd_function },
	{ "cl.throttle", -5, 0, cmd_throttle },  /* its own bounded table */
	{ "info", -1, 0, kvserver_info },
	{ "config", -2, 0, kvserver_config },
	{ "hello", -1, NOAUTH, kvserver_hello },
	{ "auth", -2, NOAUTH, kvserver_auth },
	{ "quit", -1, NOAUTH, NULL },     /* respd's */
};

bool kvcmd_run(struct kv_ctx *c)
{
	const struct resp_arg *name = arg(c, 0);
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (resp_arg_is(name, commands[i].name)) {
			cmd = &commands[i];
			break;
		}
	if (!c->cl->authed && !(cmd && (cmd->flags & NOAUTH))) {
		err(c, "NOAUTH Authentication required.");
		return true;
	}
	if (!cmd || !cmd->fn)
		return false;
	c->srv->commands++;
	if ((cmd->arity > 0 && c->cmd->argc != (size_t)cmd->arity) ||
	    (cmd->arity < 0 && c->cmd->argc < (size_t)-cmd->arity)) {
		respd_wrong_arity(c->out, c->cmd);
		return true;
	}
	if ((cmd->flags & WRITE) && c->srv->disk && kvdisk_failed(c->srv->disk)) {
		err(c, "MISCONF strata kv cannot write to its lmdb store (see INFO persistence and "
		    "the log): writes are refused until it can");
		return true;
	}
	if ((cmd->flags & DENYOOM) && kvstore_make_room(c->store) < 0) {
		c->srv->rejected_oom++;
		err(c, E_OOM);
		return true;
	}
	cmd->fn(c);
	if (cmd->flags & DENYOOM)
		kvstore_make_room(c->store);  /* what the write added, so the bound holds after it */
	return true;
}
