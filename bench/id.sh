#!/usr/bin/env bash
# bench/id.sh - how fast strata id hands out unique IDs, next to the notes' alternatives.
#
#   scripts/install-deps.sh bench && make strata
#   bench/id.sh [ROUNDS=5 CONNS=50 REQUESTS=1000000 SECONDS_INPROC=5 STRATA=./strata]
#
# 1. In-process: strata id bench (one Snowflake generator, 1 and 2 threads; UUIDv7, ULID), as
#    a share of the layout's limit (4096 IDs per millisecond: 4,096,000 per second).
# 2. Over the network, one server each, redis-benchmark -c CONNS -n REQUESTS, -P 1 and -P 16,
#    alternating rounds, medians and ratios:
#      strata id ID.NEXT    vs   the ticket server: redis-server INCR on one key.
# 3. Two servers at once (each its own redis-benchmark with CONNS/2 clients), IDs/s summed:
#      two strata id (workers 1 and 2)   vs   multi-master: two redis-servers, INCRBY 2
#      on keys started at 1 and 2 (odd and even tickets, each server stepping by k = 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-50}
REQUESTS=${REQUESTS:-1000000}
SECONDS_INPROC=${SECONDS_INPROC:-5}
STRATA=${STRATA:-$PWD/strata}
. bench/lib.sh

echo "== strata id bench (in-process, ${SECONDS_INPROC} s per generator)"
"$STRATA" id bench --seconds "$SECONDS_INPROC" --threads 1
"$STRATA" id bench --seconds "$SECONDS_INPROC" --threads 2

ids=(); tickets=()
for w in 1 2; do
	p=$(port)
	"$STRATA" id --listen 127.0.0.1:$p --datacenter 1 --worker $w --dir "$work" --log-level warn &
	pids+=($!); ids+=("$p")
	p=$(port)
	redis-server --bind 127.0.0.1 --port "$p" --save "" --appendonly no --loglevel warning \
		> "$work/redis-$w.log" & pids+=($!); tickets+=("$p")
done
for p in "${ids[@]}" "${tickets[@]}"; do wait_port "$p"; done
redis-cli -p "${tickets[0]}" SET ticket 1 > /dev/null
redis-cli -p "${tickets[1]}" SET ticket 2 > /dev/null

for P in 1 16; do
	echo "== one server, redis-benchmark -c $CONNS -n $REQUESTS -P $P ($ROUNDS rounds)"
	compare redis_rps "ticket-server-INCR=${tickets[0]} $P INCR ticket" \
		"strata-id-ID.NEXT=${ids[0]} $P ID.NEXT"
done

# pair "PORT1 PORT2 PIPELINE COMMAND...": both servers at once, half the clients each; the sum.
pair() {
	local a
	read -r -a a <<< "$1"
	local half=$((CONNS / 2)) n=$((REQUESTS / 2))
	CONNS=$half REQUESTS=$n redis_rps "${a[0]} ${a[*]:2}" > "$work/pair1" &
	CONNS=$half REQUESTS=$n redis_rps "${a[1]} ${a[*]:2}" > "$work/pair2"
	wait $!
	echo "$(cat "$work/pair1") + $(cat "$work/pair2")" | bc -l
}
for P in 1 16; do
	echo "== two servers at once, redis-benchmark -c $((CONNS / 2)) each -P $P ($ROUNDS rounds)"
	compare pair "multi-master-INCRBY-2=${tickets[0]} ${tickets[1]} $P INCRBY ticket 2" \
		"two-strata-id=${ids[0]} ${ids[1]} $P ID.NEXT"
done
