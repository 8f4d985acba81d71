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
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
STRATA=${STRATA:-$PWD/strata}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

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
a=(); b=()
for r in $(seq "$ROUNDS"); do
	if (( r % 2 )); then x=$(rps $plain); y=$(rps $limited); else y=$(rps $limited); x=$(rps $plain); fi
	a+=("$x"); b+=("$y")
	printf 'round %d/%d: no rule %s req/s, with rule %s req/s\n' "$r" "$ROUNDS" "$x" "$y" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
printf 'median requests/s: no rule %s, with rule %s, ratio %.3f\n' "$ma" "$mb" \
	"$(echo "$mb / $ma" | bc -l)"
