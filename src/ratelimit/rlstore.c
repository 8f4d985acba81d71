#include "ratelimit/rlstore.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

#define FIELDS 5                       /* integers per decided key */
#define EXACT (1ULL << 53)             /* doubles hold every whole number below */

/*
 * Each function decides one key and returns allowed (0/1), remaining,
 * retry-after (-1: never), reset-after and delay, in microseconds. They are
 * algo/ratelimit.c's arithmetic on the store's clock: amounts kept
 * multiplied by the period, times rounded up, amounts down; a clock read
 * behind a key's last update counts as the same instant.
 */
const char rlstore_script[] =
"-- strata shared rate limits (docs/RATELIMIT.md). KEYS[i]: one rule's key;\n"
"-- ARGV[6i-5..6i]: algo, limit, period_us, burst, cost, want (>= cost: take up\n"
"-- to that many units when they are there, for a local allowance). Returns\n"
"-- five integers per key (units taken: 0 when refused, else cost..want;\n"
"-- remaining, retry_after_us or -1, reset_after_us, delay_us), stopping after\n"
"-- the first key refused.\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
"local floor, min, max = math.floor, math.min, math.max\n"
"local function up(a, b) return floor((a + b - 1) / b) end\n"
"local function int(v) return string.format('%d', v) end\n"
"local function keep(key, fields, reset)\n"
"  if reset <= 0 then redis.call('DEL', key) return end\n"
"  redis.call('HSET', key, unpack(fields))\n"
"  redis.call('PEXPIRE', key, up(reset, 1000))\n"
"end\n"
"-- Units to take out of `avail`: none unless `cost` fit, then up to `want`.\n"
"local function take(avail, cost, want)\n"
"  if avail < cost then return 0 end\n"
"  return min(avail, want)\n"
"end\n"
"\n"
"local function bucket(key, leaky, limit, P, burst, cost, want)\n"
"  local cap = burst * P\n"
"  local s = redis.call('HMGET', key, 'l', 't')\n"
"  local level, last = tonumber(s[1]), tonumber(s[2])\n"
"  if not level then level, last = (leaky and 0 or cap), now end\n"
"  local at = max(now, last)\n"
"  local flow = cap\n"
"  if at - last < up(cap, limit) then flow = (at - last) * limit end\n"
"  local tokens\n"
"  if leaky then tokens = cap - max(level - flow, 0)\n"
"  else tokens = min(level + flow, cap) end\n"
"  local n, retry, delay = take(floor(tokens / P), cost, want), 0, 0\n"
"  if n > 0 then\n"
"    if leaky then delay = up(cap - tokens, limit) end\n"
"    tokens = tokens - n * P\n"
"  elseif cost * P > cap then retry = -1\n"
"  else retry = up(cost * P - tokens, limit) end\n"
"  local reset = up(cap - tokens, limit)\n"
"  keep(key, {'l', int(leaky and cap - tokens or tokens), 't', int(at)}, reset)\n"
"  return n, floor(tokens / P), retry, reset, delay\n"
"end\n"
"\n"
"local function fixed(key, limit, P, cost, want)\n"
"  local s = redis.call('HMGET', key, 'w', 'n')\n"
"  local w, n = tonumber(s[1]), tonumber(s[2]) or 0\n"
"  local at = max(now, w or 0)\n"
"  local start = at - at % P\n"
"  if start ~= w then n = 0 end\n"
"  local left = start + P - at\n"
"  local got, retry = take(limit - n, cost, want), 0\n"
"  if got > 0 then n = n + got\n"
"  elseif cost > limit then retry = -1\n"
"  else retry = left end\n"
"  local reset = n > 0 and left or 0\n"
"  keep(key, {'w', int(start), 'n', int(n)}, reset)\n"
"  return got, limit - n, retry, reset, 0\n"
"end\n"
"\n"
"local function sliding(key, limit, P, cost, want)\n"
"  local s = redis.call('HMGET', key, 'w', 'n', 'p')\n"
"  local w, n, prev = tonumber(s[1]), tonumber(s[2]) or 0, tonumber(s[3]) or 0\n"
"  local at = max(now, w or 0)\n"
"  local start = at - at % P\n"
"  if not w then n, prev = 0, 0\n"
"  elseif start ~= w then\n"
"    if start - w == P then prev = n else prev = 0 end\n"
"    n = 0\n"
"  end\n"
"  local e, lim = at - start, limit * P\n"
"  local est = prev * (P - e) + n * P\n"
"  local got, retry = 0, 0\n"
"  if est < lim then got = take(floor((lim - est) / P), cost, want) end\n"
"  if got > 0 then n, est = n + got, est + got * P\n"
"  elseif cost > limit then retry = -1\n"
"  elseif n + cost <= limit then\n"
"    local e2 = P - floor((limit - cost - n) * P / prev)\n"
"    retry = e2 > e and e2 - e or 1\n"
"  else\n"
"    local e2 = 0\n"
"    if n > 0 then e2 = P - floor((limit - cost) * P / n) end\n"
"    retry = (P - e) + e2\n"
"  end\n"
"  local remaining = 0\n"
"  if est < lim then remaining = floor((lim - est) / P) end\n"
"  local reset = 0\n"
"  if n > 0 then reset = 2 * P - e elseif prev > 0 then reset = P - e end\n"
"  keep(key, {'w', int(start), 'n', int(n), 'p', int(prev)}, reset)\n"
"  return got, remaining, retry, reset, 0\n"
"end\n"
"\n"
"local function log(key, limit, P, cost, want)\n"
"  local at = max(now, tonumber(redis.call('LINDEX', key, -1)) or 0)\n"
"  while true do\n"
"    local first = tonumber(redis.call('LINDEX', key, 0))\n"
"    if not first or at - first < P then break end\n"
"    redis.call('LPOP', key)\n"
"  end\n"
"  local n = redis.call('LLEN', key)\n"
"  local got, retry = take(limit - n, cost, want), 0\n"
"  if got > 0 then\n"
"    n = n + got\n"
"    for i = 1, got do redis.call('RPUSH', key, int(at)) end\n"
"  elseif cost > limit then retry = -1\n"
"  else retry = tonumber(redis.call('LINDEX', key, n + cost - limit - 1)) + P - at end\n"
"  local reset = 0\n"
"  if n > 0 then\n"
"    reset = tonumber(redis.call('LINDEX', key, -1)) + P - at\n"
"    redis.call('PEXPIRE', key, up(reset, 1000))\n"
"  end\n"
"  return got, limit - n, retry, reset, 0\n"
"end\n"
"\n"
"local function gcra(key, limit, P, burst, cost, want)\n"
"  local T = floor(P / limit)\n"
"  local dvt = T * burst\n"
"  local tat = max(tonumber(redis.call('HGET', key, 'tat')) or 0, now)\n"
"  local got, retry, ttl = take(floor((now + dvt - tat) / T), cost, want), 0, tat - now\n"
"  if got > 0 then\n"
"    ttl = tat + got * T - now\n"
"    keep(key, {'tat', int(tat + got * T)}, ttl)\n"
"  elseif cost * T > dvt then retry = -1\n"
"  else retry = tat + cost * T - dvt - now end\n"
"  local remaining = 0\n"
"  if ttl < dvt then remaining = floor((dvt - ttl) / T) end\n"
"  return got, remaining, retry, ttl, 0\n"
"end\n"
"\n"
"local out = {}\n"
"for i = 1, #KEYS do\n"
"  local b = 6 * (i - 1)\n"
"  local algo, key = ARGV[b + 1], KEYS[i]\n"
"  local limit, P = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])\n"
"  local burst, cost, want = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])\n"
"  local r\n"
"  if algo == 'token' or algo == 'leaky' then\n"
"    r = {bucket(key, algo == 'leaky', limit, P, burst, cost, want)}\n"
"  elseif algo == 'fixed' then r = {fixed(key, limit, P, cost, want)}\n"
"  elseif algo == 'sliding' then r = {sliding(key, limit, P, cost, want)}\n"
"  elseif algo == 'log' then r = {log(key, limit, P, cost, want)}\n"
"  elseif algo == 'gcra' then r = {gcra(key, limit, P, burst, cost, want)}\n"
"  else return redis.error_reply('ERR unknown rate-limit algorithm ' .. tostring(algo)) end\n"
"  for j = 1, 5 do out[#out + 1] = r[j] end\n"
"  if r[1] == 0 then break end\n"
"end\n"
"return out\n";

static char script_sha[41];
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void compute_sha(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(rlstore_script, strlen(rlstore_script), md, &n, EVP_sha1(), NULL))
		n = 0;  /* EVALSHA then gets NOSCRIPT: every call fails as a store error */
	for (unsigned int i = 0; i < n && i < 20; i++)
		snprintf(script_sha + 2 * i, 3, "%02x", md[i]);
}

const char *rlstore_sha(void)
{
	pthread_once(&sha_once, compute_sha);
	return script_sha;
}

void rlstore_hello(struct buf *out)
{
	resp_array(out, 3);
	resp_bulk(out, "SCRIPT", 6);
	resp_bulk(out, "LOAD", 4);
	resp_bulk(out, rlstore_script, strlen(rlstore_script));
}

int rlstore_policy_check(const struct rl_policy *p, char *err, size_t errlen)
{
	uint64_t us = p->period_ns / 1000;
	if (p->period_ns % 1000000) {
		snprintf(err, errlen, "a shared rule's period must be whole milliseconds");
		return ERR_CONFIG;
	}
	uint64_t amount = p->algo == RL_SLIDING ? 2 * p->limit : p->limit > p->burst ? p->limit : p->burst;
	if (amount > EXACT / us) {
		snprintf(err, errlen, "a shared rule needs limit x period below 2^53 microseconds "
			 "(the store's exact range)");
		return ERR_CONFIG;
	}
	if (p->algo == RL_GCRA && us / p->limit == 0) {
		snprintf(err, errlen, "a shared gcra rule needs at least 1 us between requests");
		return ERR_CONFIG;
	}
	return 0;
}

void rlstore_command(struct buf *out, const struct rlstore_ask *asks, int n, uint64_t cost)
{
	resp_array(out, 3 + (size_t)n * 7);
	resp_bulk(out, "EVALSHA", 7);
	resp_bulk(out, rlstore_sha(), 40);
	char num[24];
	int len = snprintf(num, sizeof(num), "%d", n);
	resp_bulk(out, num, (size_t)len);
	for (int i = 0; i < n; i++) {
		const char *algo = rl_algo_name(asks[i].policy->algo);
		buf_printf(out, "$%zu\r\nstrata:rl:%s:%s:",
			   strlen("strata:rl:::") + strlen(algo) + strlen(asks[i].rule) + asks[i].key_len,
			   algo, asks[i].rule);
		buf_append(out, asks[i].key, asks[i].key_len);
		buf_puts(out, "\r\n");
	}
	for (int i = 0; i < n; i++) {
		const struct rl_policy *p = asks[i].policy;
		const char *algo = rl_algo_name(p->algo);
		resp_bulk(out, algo, strlen(algo));
		uint64_t want = asks[i].want > cost ? asks[i].want : cost;
		uint64_t v[5] = { p->limit, p->period_ns / 1000, p->burst, cost, want };
		for (int j = 0; j < 5; j++) {
			len = snprintf(num, sizeof(num), "%llu", (unsigned long long)v[j]);
			resp_bulk(out, num, (size_t)len);
		}
	}
}

int rlstore_decided(const struct resp_value *reply)
{
	if (reply->type != RESP_ARRAY || reply->i < FIELDS || reply->i % FIELDS)
		return ERR_PARSE;
	for (int64_t k = 0; k < reply->i; k++) {
		const struct resp_value *v = resp_value_at(reply, (size_t)k);
		if (v->type != RESP_INT || (k % FIELDS != 2 && v->i < 0))
			return ERR_PARSE;
		if (k % FIELDS == 0 && v->i == 0 && k + FIELDS < reply->i)
			return ERR_PARSE;  /* the script stops at the first refusal */
	}
	return (int)(reply->i / FIELDS);
}

static uint64_t ns(int64_t us)
{
	return us < 0 || (uint64_t)us > UINT64_MAX / 1000 ? UINT64_MAX : (uint64_t)us * 1000;
}

uint64_t rlstore_result(const struct resp_value *reply, int k, const struct rl_policy *p,
			struct rl_result *out)
{
	int64_t f[FIELDS];
	for (int j = 0; j < FIELDS; j++)
		f[j] = resp_value_at(reply, (size_t)(k * FIELDS + j))->i;
	*out = (struct rl_result){
		.allowed = f[0] != 0,
		.limit = rl_policy_most(p),
		.remaining = (uint64_t)f[1],
		.retry_after_ns = f[0] ? 0 : ns(f[2]),
		.reset_after_ns = ns(f[3]),
		.delay_ns = ns(f[4]),
	};
	return (uint64_t)f[0];
}
