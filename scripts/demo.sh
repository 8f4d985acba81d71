#!/bin/sh
# The local demo of `make run`: strata lb on 127.0.0.1:8080 in front of three
# strata echo backends. Runs in the foreground; Ctrl-C stops everything.
set -eu
cd "$(dirname "$0")/.."
BIN=./strata
LB=127.0.0.1:8080
ADMIN=127.0.0.1:8081
BACKENDS="127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003"

pids=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo stopped"
}
trap cleanup INT TERM EXIT

servers=""
n=1
for addr in $BACKENDS; do
  $BIN echo --listen "$addr" --name "web-$n" &
  pids="$pids $!"
  servers="$servers --server $addr,name=web-$n"
  n=$((n + 1))
done

# shellcheck disable=SC2086
$BIN lb --mode tcp --listen "$LB" --admin "$ADMIN" --balance roundrobin \
  --health-interval 1s $servers &
lb_pid=$!
pids="$pids $lb_pid"
sleep 0.3

cat <<INFO

  strata demo - the chapter-1 load balancer, on this machine
  ----------------------------------------------------------
  load balancer (L4, roundrobin)  http://$LB/
  admin: metrics, stats, health   http://$ADMIN/metrics  /stats  /healthz
  backends (strata echo)          web-1 127.0.0.1:9001, web-2 127.0.0.1:9002, web-3 127.0.0.1:9003

  try:  for i in 1 2 3 4 5 6; do curl -s http://$LB/; done
        curl -s http://$ADMIN/stats
        kill one backend and watch it go DOWN, then the others take its clients

  Ctrl-C stops everything.

INFO
wait "$lb_pid"
