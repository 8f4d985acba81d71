#!/bin/sh
# The local demo of `make run`: strata lb (examples/lb-http.ini) on
# 127.0.0.1:8080 routing to three pools of strata echo backends, the
# unique-ID service strata id and the key-value store strata kv. Runs in the
# foreground; Ctrl-C stops everything.
set -eu
cd "$(dirname "$0")/.."
BIN=./strata
LB=127.0.0.1:8080
ADMIN=127.0.0.1:8081
ID=127.0.0.1:7379
ID_HTTP=127.0.0.1:7380
ID_DIR=${TMPDIR:-/tmp}/strata-demo-id
KV=127.0.0.1:6380
BACKENDS="web-1:9001 web-2:9002 web-3:9003 api-1:9011 api-2:9012 images-1:9021 images-2:9022"

pids=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo stopped"
}
trap cleanup INT TERM EXIT

for b in $BACKENDS; do
  $BIN echo --listen "127.0.0.1:${b#*:}" --name "${b%:*}" --threads 1 &
  pids="$pids $!"
done

mkdir -p "$ID_DIR"
$BIN id --listen "$ID" --http "$ID_HTTP" --datacenter 31 --worker 31 --dir "$ID_DIR" &
pids="$pids $!"

$BIN kv --listen "$KV" --maxmemory 64mb --maxmemory-policy allkeys-lru &
pids="$pids $!"

$BIN lb -c examples/lb-http.ini &
lb_pid=$!
pids="$pids $lb_pid"
sleep 0.3

cat <<INFO

  strata demo - the chapter-1 load balancer, on this machine
  ----------------------------------------------------------
  load balancer (L7 HTTP)         http://$LB/     (config: examples/lb-http.ini)
    /api/...    -> pool api       api-1 :9011, api-2 :9012 (least connections)
    /images/... -> pool images    images-1 :9021, images-2 :9022 (hash of the URI)
    anything else -> pool web     web-1 :9001, web-2 :9002, web-3 :9003 (round robin,
                                  sticky by the cookie SRV)
  admin: metrics, stats, health   http://$ADMIN/metrics  /stats  /healthz
  access log                      below, one line per request
  unique IDs (Snowflake)          redis-cli -p ${ID#*:} ID.NEXT   or   http://$ID_HTTP/id
  key-value store (cache tier)    redis-cli -p ${KV#*:}   (64 MB, allkeys-lru)

  try:  for i in 1 2 3; do curl -s http://$LB/; curl -s http://$LB/api/users; done
        curl -s http://$LB/images/cat.png     (always the same images server)
        curl -si http://$LB/ | grep Set-Cookie; curl -s -b SRV=web-3 http://$LB/
        curl -s http://$ADMIN/stats
        kill one backend and watch it go DOWN, then the others take its requests
        redis-cli -p ${ID#*:} ID.NEXT 5; redis-cli -p ${ID#*:} ID.PARSE \$(redis-cli -p ${ID#*:} ID.NEXT)
        curl -s http://$ID_HTTP/id?count=3; redis-cli -p ${ID#*:} ID.UUID7
        redis-cli -p ${KV#*:} SET session:42 alice EX 60; redis-cli -p ${KV#*:} TTL session:42

  Ctrl-C stops everything.

INFO
wait "$lb_pid"
