#!/usr/bin/env bash
# bench/kv.sh - strata kv next to Redis (Debian's redis-server), one thread each.
#
#   scripts/install-deps.sh bench && make strata
#   bench/kv.sh [ROUNDS=5 CONNS=50 REQUESTS=1000000 KEYS=1000000 STRATA=./strata
#                PARTS="speed durable memory evict"]
#
# 1. redis-benchmark -t set,get -c CONNS -n REQUESTS -r 100000 (3-byte values), -P 1 and -P 16,
#    against strata kv (memory engine) and redis-server (no persistence), alternating rounds:
#    medians of requests/s and their ratio.
# 2. Durable writes: SET with -P 1 and -P 16 (DISK_REQUESTS requests) against strata kv
#    --engine lmdb --fsync MODE and redis-server --appendonly yes --appendfsync MODE, for MODE
#    always, everysec and no.
# 3. Memory per key: KEYS keys (key:00000000 -> 8-byte value) loaded with redis-cli --pipe into
#    a fresh server of each; the growth of its resident memory (RSS) divided by KEYS, and
#    what each reports as used_memory.
# 4. Writes under eviction: SET of 100-byte values to ever new keys (-r 10000000), -P 1 and -P 16,
#    against both with --maxmemory 16mb --maxmemory-policy allkeys-lru, alternating rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-50}
REQUESTS=${REQUESTS:-1000000}
KEYS=${KEYS:-1000000}
DISK_REQUESTS=${DISK_REQUESTS:-200000}
STRATA=${STRATA:-$PWD/strata}
PARTS=${PARTS:-speed durable memory evict}
. bench/lib.sh
part() { [[ " $PARTS " == *" $1 "* ]]; }

# bench_cmd "PORT P TEST [KEYSPACE [SIZE]]": requests/s of one redis-benchmark run of one test
# (set or get).
bench_cmd() {
	local a
	read -r -a a <<< "$1"
	redis-benchmark -p "${a[0]}" -c "$CONNS" -n "$REQUESTS" -r "${a[3]:-100000}" -d "${a[4]:-3}" \
		-P "${a[1]}" -t "${a[2]}" --csv | tail -1 | awk -F'"' '{print $4}'
}

if part speed; then
kv=$(port); rd=$(port)
"$STRATA" kv --listen 127.0.0.1:$kv --log-level warn & pids+=($!)
redis-server --bind 127.0.0.1 --port "$rd" --save "" --appendonly no --loglevel warning \
	> "$work/redis.log" & pids+=($!)
wait_port "$kv"; wait_port "$rd"
for P in 1 16; do
	for t in set get; do
		echo "== $t, redis-benchmark -c $CONNS -n $REQUESTS -r 100000 -P $P ($ROUNDS rounds)"
		compare bench_cmd "redis-server=$rd $P $t" "strata-kv=$kv $P $t"
	done
done
fi

part durable && for mode in always everysec no; do
	dk=$(port); dr=$(port)
	mkdir -p "$work/lmdb-$mode" "$work/aof-$mode"
	"$STRATA" kv --listen 127.0.0.1:$dk --engine lmdb --dir "$work/lmdb-$mode" --fsync "$mode" \
		--log-level warn & pids+=($!)
	redis-server --bind 127.0.0.1 --port "$dr" --save "" --appendonly yes --appendfsync "$mode" \
		--dir "$work/aof-$mode" --loglevel warning > /dev/null & pids+=($!)
	wait_port "$dk"; wait_port "$dr"
	for P in 1 16; do
		echo "== durable SET, fsync $mode, -P $P, $DISK_REQUESTS requests ($ROUNDS rounds)"
		REQUESTS=$DISK_REQUESTS compare bench_cmd "redis-aof-$mode=$dr $P set" \
			"strata-kv-lmdb-$mode=$dk $P set"
	done
done

if part memory; then
echo "== memory for $KEYS keys (key:NNNNNNNN -> 8-byte value)"
/usr/bin/python3 - "$KEYS" > "$work/load.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k = b"key:%08d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\nvalue%03d\r\n" % (len(k), k, i % 1000))
PY
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
for name in redis-server strata-kv; do
	p=$(port)
	if [ "$name" = strata-kv ]; then
		"$STRATA" kv --listen 127.0.0.1:$p --log-level warn & pid=$!
	else
		redis-server --bind 127.0.0.1 --port "$p" --save "" --appendonly no --loglevel warning \
			> /dev/null & pid=$!
	fi
	pids+=($pid)
	wait_port "$p"
	before=$(rss "$pid")
	redis-cli -p "$p" --pipe < "$work/load.resp" > /dev/null
	after=$(rss "$pid")
	used=$(redis-cli -p "$p" INFO memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
	n=$(redis-cli -p "$p" DBSIZE)
	printf '  %-13s keys %s   RSS growth %s bytes = %.1f bytes/key   used_memory %.1f bytes/key\n' \
		"$name" "$n" "$((after - before))" "$(echo "($after - $before) / $n" | bc -l)" \
		"$(echo "$used / $n" | bc -l)"
	kill "$pid"
done
fi

if part evict; then
ek=$(port); er=$(port)
"$STRATA" kv --listen 127.0.0.1:$ek --maxmemory 16mb --maxmemory-policy allkeys-lru \
	--log-level warn & pids+=($!)
redis-server --bind 127.0.0.1 --port "$er" --save "" --appendonly no --maxmemory 16mb \
	--maxmemory-policy allkeys-lru --loglevel warning > /dev/null & pids+=($!)
wait_port "$ek"; wait_port "$er"
for P in 1 16; do
	echo "== SET under eviction (maxmemory 16mb allkeys-lru), -r 10000000 -d 100 -P $P ($ROUNDS rounds)"
	compare bench_cmd "redis-server=$er $P set 10000000 100" "strata-kv=$ek $P set 10000000 100"
done
for p in "$er" "$ek"; do
	printf '  port %s: ' "$p"
	redis-cli -p "$p" INFO | tr -d '\r' | grep -E '^(evicted_keys|used_memory):' | tr '\n' ' '
	echo
done
fi
