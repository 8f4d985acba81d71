#!/usr/bin/env bash
# bench/ratelimit.sh - what rate limiting costs and how fast its algorithms decide.
#
#   scripts/install-deps.sh bench && make strata
#   bench/ratelimit.sh [ROUNDS=5 DURATION=10 CONNS=50 STRATA=./strata]
#
# 1. strata ratelimit bench: decisions per second of every algorithm, alone and through the
#    shared key table (one thread, in-process).
# 2. strata lb --mode http --threads 1 in front of one nginx backend, with and without a rule
#    that never triggers (--rate-limit token:100000000/1s, every request counted for the
#    client's address), measured with wrk -t1 -cCONNS in alternating runs; the table gives
#    median requests/s of each and their ratio (the issue's target: at most 5% lost).
# 3. Shared rules, decided by a Redis from Debian (redis-server, no persistence):
#    a. the store alone: redis-benchmark -c CONNS, -P 1 and -P 16, over 100,000 random keys:
#       INCR (the simplest counter a store can keep) against EVALSHA of strata's script (the
#       token bucket, as strata lb calls it), alternating rounds, medians and their ratio;
#    b. through strata lb: the never-triggering rule local, shared (one store call per request),
#       and shared with --rate-limit-local-allowance 100, alternating wrk runs as in 2.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
STRATA=${STRATA:-$PWD/strata}
. bench/lib.sh

echo "== strata ratelimit bench"
"$STRATA" ratelimit bench

backend=$(port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$backend; location / { return 200 "hello\n"; } } }
CONF
nginx -c "$work/nginx.conf" & pids+=($!)
plain=$(port); limited=$(port)
"$STRATA" lb --threads 1 --listen 127.0.0.1:$plain --server 127.0.0.1:$backend --access-log off \
	--log-level warn --health-check none & pids+=($!)
"$STRATA" lb --threads 1 --listen 127.0.0.1:$limited --server 127.0.0.1:$backend --access-log off \
	--log-level warn --health-check none --rate-limit token:100000000/1s & pids+=($!)
wait_port "$backend"; wait_port "$plain"; wait_port "$limited"

rps() { wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }

echo "== strata lb, no rule vs a rule that never triggers (wrk -t1 -c$CONNS -d$DURATION, $ROUNDS rounds)"
compare rps "no-rule=$plain" "local-rule=$limited"

store=$(port)
redis-server --bind 127.0.0.1 --port "$store" --save "" --appendonly no --loglevel warning \
	> "$work/redis.log" & pids+=($!)
wait_port "$store"
sha=$("$STRATA" ratelimit script | redis-cli -p "$store" -x SCRIPT LOAD)
[ "$sha" = "$("$STRATA" ratelimit script --sha)" ] || { echo "SCRIPT LOAD gave $sha" >&2; exit 1; }

decide="EVALSHA $sha 1 strata:rl:token:bench:__rand_int__ token 100000000 1000000 100000000 1 1"
for P in 1 16; do
	echo "== the store alone: redis-benchmark -c $CONNS -P $P -r 100000 ($ROUNDS rounds)"
	compare redis_rps "INCR=$store $P INCR bench:__rand_int__" "strata-script=$store $P $decide"
done

shared=$(port); allowance=$(port)
for spec in "$shared:" "$allowance:--rate-limit-local-allowance 100"; do
	# shellcheck disable=SC2086
	"$STRATA" lb --threads 1 --listen 127.0.0.1:${spec%%:*} --server 127.0.0.1:$backend \
		--access-log off --log-level warn --health-check none \
		--rate-limit token:100000000/1s --rate-limit-store 127.0.0.1:$store ${spec#*:} & pids+=($!)
	wait_port "${spec%%:*}"
done
echo "== strata lb, the rule local vs shared through the store (wrk -t1 -c$CONNS -d$DURATION, $ROUNDS rounds)"
compare rps "local-rule=$limited" "shared-rule=$shared" "shared+allowance-100=$allowance"
