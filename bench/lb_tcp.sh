#!/usr/bin/env bash
# bench/lb_tcp.sh - strata lb --mode tcp side by side with HAProxy, in front of nginx.
#
#   make bench                      # installs haproxy, nginx-light, wrk, gnuplot-nox, builds, runs this
#   bench/lb_tcp.sh [--threads N] [--rounds N] [--duration S] [--quick]
#   bench/lb_tcp.sh --report bench/results/lb_tcp.csv   # redraw table and chart from a CSV
#
# What runs (all on 127.0.0.1, on free ports picked at start):
#   nginx (Debian's, foreground, worker_processes 1) with two server blocks = two backends,
#     serving "hello\n" at / and a BIG_MB MiB static file at /big;
#   strata lb --mode tcp --threads T --server B1 --server B2 --health-check tcp --log-level warn;
#   haproxy -db with nbthread T, mode tcp, balance roundrobin, the same two servers with check.
# Three scenarios are measured with wrk, same parameters for every target:
#   keep-alive  wrk -c CONNS on /: requests/s, p50 and p99 latency
#   bulk        wrk -c BULK_CONNS on /big: Gbit/s through the proxy
#   close       wrk -c CONNS on / with "Connection: close": a new TCP connection per request
# plus the proxy's CPU time (utime+stime from /proc/PID/stat, all threads) per request or per
# GiB. "nginx direct" is the baseline without a proxy (wrk against backend 1).
# Runs alternate between the proxies (the machine is noisy); the table shows medians.
#
# Environment (flags win over variables):
#   THREADS=1        worker threads of both proxies (strata --threads, haproxy nbthread)
#   ROUNDS=5         rounds; every round runs every scenario on every target once
#   DURATION=10      seconds per wrk run
#   CONNS=50         connections for keep-alive and close      WRK_THREADS=1  wrk -t
#   BULK_CONNS=4     connections for bulk                       BIG_MB=10      size of /big
#   PAUSE=1          seconds of rest between runs
#   SCENARIOS="keepalive bulk close"   a subset to run only those
#   QUICK=1          smoke test: ROUNDS=1, DURATION=3
#   HAPROXY_SPLICE=1 add "option splice-auto" to HAProxy (off by default, as HAProxy ships)
#   STRATA=./strata  the binary under test;  RESULTS=bench/results  where results go
#
# Output: a table on stdout (also RESULTS/lb_tcp.txt), raw rows in RESULTS/lb_tcp-STAMP.csv
# (copied to RESULTS/lb_tcp.csv; versions and parameters in lb_tcp-STAMP.env), medians in RESULTS/lb_tcp_medians.csv, a chart in
# RESULTS/lb_tcp.png (when gnuplot is installed), and the processes' logs in RESULTS/lb_tcp-logs/.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
BULK_CONNS=${BULK_CONNS:-4}
WRK_THREADS=${WRK_THREADS:-1}
BIG_MB=${BIG_MB:-10}
PAUSE=${PAUSE:-1}
SCENARIOS=${SCENARIOS:-keepalive bulk close}
HAPROXY_SPLICE=${HAPROXY_SPLICE:-0}
STRATA=${STRATA:-$ROOT/strata}
RESULTS=${RESULTS:-$ROOT/bench/results}
REPORT=""
if [ "${QUICK:-0}" = 1 ]; then
	ROUNDS=1
	DURATION=3
fi

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--threads) THREADS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--quick) ROUNDS=1; DURATION=3; shift ;;
	--report) REPORT=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "lb_tcp.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done

for v in THREADS ROUNDS DURATION CONNS BULK_CONNS WRK_THREADS BIG_MB PAUSE; do
	case "${!v}" in
	'' | *[!0-9]* | 0) echo "lb_tcp.sh: $v must be a positive integer, not '${!v}'" >&2; exit 2 ;;
	esac
done

for sc in $SCENARIOS; do
	case "$sc" in
	keepalive | bulk | close) ;;
	*) echo "lb_tcp.sh: unknown scenario '$sc' in SCENARIOS (keepalive bulk close)" >&2; exit 2 ;;
	esac
done

need() {
	command -v "$1" >/dev/null 2>&1 || {
		echo "lb_tcp.sh: '$1' is missing (scripts/install-deps.sh bench installs it)" >&2
		exit 2
	}
}
if [ -z "$REPORT" ]; then
	need nginx
	need haproxy
	need wrk
	need ss
	need curl
	[ -x "$STRATA" ] || { echo "lb_tcp.sh: $STRATA is not built (make strata)" >&2; exit 2; }
	if [ -n "$(find "$ROOT/src" "$ROOT/Makefile" -newer "$STRATA" -print -quit 2>/dev/null)" ]; then
		echo "lb_tcp.sh: warning: $STRATA is older than some files in src/ (make strata, or use make bench)" >&2
	fi
fi

log() { printf '%s\n' "$*" >&2; }

# ------------------------------------------------------------- summary ---
# Everything below reads only the CSV (and, after a live run, the proxies'
# /proc/PID/status), so --report FILE can redraw the table and chart later.

# An awk function giving a figure of a CSV row: a column number, or "pnreq" /
# "pngib" for the CPU of proxy + nginx per request / per GiB (for the direct
# baseline, nginx alone). On loopback the receiving side's TCP work often runs
# in the sender's context, so part of one process's cost shows up in the other.
# shellcheck disable=SC2016
FIGURE_AWK='function fig(col,   gib) {
	if (col == "pnreq") return $7 ? ($17 + $20) * 1e6 / $7 : ""
	if (col == "pngib") { gib = $10 * 1e9 / 8 * $6 / 1073741824; return gib ? ($17 + $20) * 1e3 / gib : "" }
	return $col
}'

# median TARGET SCENARIO COLUMN
median() {
	awk -F, -v t="$1" -v sc="$2" -v col="$3" "$FIGURE_AWK"'
		NR > 1 && $2 == t && $3 == sc && fig(col) != "" { print fig(col) }' "$CSV" |
		sort -g | awk '{ a[NR] = $1 } END {
			if (NR == 0) print ""
			else if (NR % 2) print a[(NR + 1) / 2]
			else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# paired SCENARIO COLUMN BETTER: "median-of-per-round-ratios wins/rounds". Both
# proxies of a round ran within a minute of each other, so the ratio within a
# round is far less exposed to the machine's drift than a ratio of medians.
paired() {
	awk -F, -v sc="$1" -v col="$2" -v better="$3" "$FIGURE_AWK"'
		NR > 1 && $3 == sc && fig(col) != "" && ($2 == "strata" || $2 == "haproxy") { v[$2, $1] = fig(col); r[$1] = 1 }
		END {
			for (k in r) if ((("strata", k) in v) && (("haproxy", k) in v) && v["haproxy", k] + 0 != 0) {
				s = v["strata", k]; h = v["haproxy", k]
				print s / h, ((better == "higher") ? (s > h) : (s < h))
			}
		}' "$CSV" | sort -g | awk '{ a[NR] = $1; w += $2 } END {
			if (NR == 0) { print "- -"; exit }
			m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%.2f %d/%d\n", m, w, NR }'
}

fmt() {
	awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 1000) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.3f", v }'
}

# figure id | scenario | column | label | better
FIGURES="ka_rps|keepalive|9|keep-alive requests/s|higher
ka_p50|keepalive|11|keep-alive p50 latency, ms|lower
ka_p99|keepalive|13|keep-alive p99 latency, ms|lower
ka_cpu|keepalive|18|keep-alive proxy CPU, us/request|lower
ka_pncpu|keepalive|pnreq|keep-alive proxy+nginx CPU, us/request|lower
bulk_gbps|bulk|10|bulk throughput (/big), Gbit/s|higher
bulk_cpu|bulk|19|bulk proxy CPU, ms/GiB|lower
bulk_pncpu|bulk|pngib|bulk proxy+nginx CPU, ms/GiB|lower
close_cps|close|9|new connections/s (Connection: close)|higher
close_p99|close|13|close p99 latency, ms|lower
close_cpu|close|18|close proxy CPU, us/connection|lower
close_pncpu|close|pnreq|close proxy+nginx CPU, us/connection|lower"

summarize() {
	local med=$RESULTS/lb_tcp_medians.csv table=$RESULTS/lb_tcp.txt
	local threads rounds dur conns bconns big splice present what
	read -r threads rounds dur conns bconns big splice < <(awk -F, 'NR > 1 {
		th = $4; if ($1 > r) r = $1; d = $6
		if ($3 == "bulk") { b = $5; if ($7) mb = $10 * 1e9 / 8 * $6 / $7 / 1048576 } else c = $5
		sp = (NF >= 27) ? $27 : "?" }
		END { printf "%s %d %.0f %s %s %.0f %s\n", th, r, d, c, b, mb, sp }' "$CSV")
	present=" $(awk -F, 'NR > 1 { print $3 }' "$CSV" | sort -u | tr '\n' ' ')"
	what=""
	case "$present" in *" keepalive "* | *" close "*) what="-c$conns on /" ;; esac
	case "$present" in *" bulk "*) what="$what${what:+, }-c$bconns on /big (${big} MiB)" ;; esac
	[ "$splice" = 1 ] && what="$what, HAProxy with option splice-auto"
	: >"$TMP/medians.tsv"
	echo "figure,better,nginx_direct,strata,haproxy,strata_over_haproxy_medians,strata_over_haproxy_paired,strata_ahead_rounds" >"$med"
	{
		echo "strata lb vs HAProxy, L4 (mode tcp), threads=$threads, $rounds rounds x ${dur}s, medians"
		[ -r "${CSV%.csv}.env" ] && grep -E '^(strata|haproxy|nginx|wrk|machine)=' "${CSV%.csv}.env" | sed 's/^/  /'
		echo "wrk -t$WRK_THREADS: $what"
		echo
		printf '%-40s %12s %10s %10s %6s %7s %7s  %s\n' figure "nginx direct" strata haproxy s/h paired "s ahead" better
		printf '%-40s %12s %10s %10s %6s %7s %7s  %s\n' "$(printf '%.0s-' {1..40})" ------------ ---------- ---------- ------ ------- ------- ------
	} >"$table"
	local id sc col label better d s h ratio pr wins
	while IFS='|' read -r id sc col label better; do
		case "$present" in *" $sc "*) ;; *) continue ;; esac
		d=$(median direct "$sc" "$col")
		s=$(median strata "$sc" "$col")
		h=$(median haproxy "$sc" "$col")
		ratio=$(awk -v s="$s" -v h="$h" 'BEGIN { if (s != "" && h != "" && h + 0 != 0) printf "%.2f", s / h; else print "-" }')
		read -r pr wins < <(paired "$sc" "$col" "$better")
		printf '%-40s %12s %10s %10s %6s %7s %7s  %s\n' "$label" "$(fmt "$d")" "$(fmt "$s")" "$(fmt "$h")" \
			"$ratio" "$pr" "$wins" "$better" >>"$table"
		echo "$id,$better,$d,$s,$h,$ratio,$pr,$wins" >>"$med"
		printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$label" "${d:-0}" "${s:-0}" "${h:-0}" >>"$TMP/medians.tsv"
	done <<<"$FIGURES"
	local errors leftovers
	errors=$(awk -F, 'NR > 1 { n += $21 + $22 + $23 + $24 + $25 } END { print n + 0 }' "$CSV")
	leftovers=$(awk -F, 'NR > 1 && $26 > 0 { printf "  round %s %s %s: %s sockets still open on its port after wrk ended\n", $1, $2, $3, $26 }' "$CSV")
	{
		echo
		echo "s/h = ratio of the medians, strata / haproxy; paired = median over rounds of the ratio"
		echo "within each round (less exposed to the machine's drift); s ahead = rounds strata won."
		echo "For higher-is-better figures a ratio above 1 favours strata; for lower-is-better"
		echo "ones (latency, CPU) a ratio below 1 favours strata."
		echo "Proxy CPU = utime+stime of the whole proxy process (all threads) during the run;"
		echo "proxy+nginx adds the nginx worker's (nginx alone in the direct column): on loopback"
		echo "the kernel charges part of the receiver's TCP work to the sender and vice versa."
		if [ "$errors" -gt 0 ]; then
			echo "wrk reported $errors socket errors or timeouts in total (see the err_* columns of the CSV)."
		fi
		if [ -n "$leftovers" ]; then
			echo "Sockets left open after runs:"
			echo "$leftovers"
		fi
		for t in strata haproxy; do
			if [ -z "${PID[$t]:-}" ] || [ ! -r "/proc/${PID[$t]}/status" ]; then continue; fi
			awk -v t="$t" '/^VmHWM|^VmRSS|^Threads/ { printf "%s%s %s%s", (n++ ? ", " : t " at the end: "), $1, $2, ($3 ? " " $3 : "") } END { print "" }' "/proc/${PID[$t]}/status"
		done
	} >>"$table"
	echo
	cat "$table"

	command -v gnuplot >/dev/null 2>&1 || return 0
	local plt=$TMP/chart.gp rows
	rows=$((($(wc -l <"$TMP/medians.tsv") + 2) / 3))
	{
		echo "set terminal pngcairo size 1500,$((rows * 320 + 40)) font 'sans,10'"
		echo "set output '$RESULTS/lb_tcp.png'"
		echo "set multiplot layout $rows,3 title 'strata lb vs HAProxy (L4, threads=$threads, medians of $rounds x ${dur}s runs)' font 'sans,13'"
		echo "set style fill solid 0.85 border -1"
		echo "set boxwidth 0.6"
		echo "set yrange [0:*]"
		echo "set offsets 0, 0, graph 0.12, 0"
		echo "unset key"
		echo "set grid ytics"
		echo "set xrange [-0.6:2.6]"
		echo "set format y '%g'"
		while IFS=$'\t' read -r id label d s h; do
			printf '"nginx direct" %s 10066329\nstrata %s 2062260\nhaproxy %s 16744206\n' "$d" "$s" "$h" >"$TMP/$id.dat"
			echo "set title '$label'"
			echo "plot '$TMP/$id.dat' using 0:2:3:xtic(1) with boxes lc rgb variable, \
'' using 0:2:(\$2 >= 1000 ? sprintf('%.0f', \$2) : \$2 > 0 ? sprintf('%.4g', \$2) : '') with labels offset 0,0.7"
		done <"$TMP/medians.tsv"
		echo "unset multiplot"
	} >"$plt"
	if gnuplot "$plt" 2>"$TMP/gnuplot.err"; then
		log "chart: $RESULTS/lb_tcp.png"
	else
		log "gnuplot failed:"
		sed 's/^/    /' "$TMP/gnuplot.err" >&2
	fi
}

if [ -n "$REPORT" ]; then
	[ -r "$REPORT" ] || { echo "lb_tcp.sh: cannot read $REPORT" >&2; exit 2; }
	CSV=$REPORT
	TMP=$(mktemp -d /tmp/strata-bench.XXXXXX)
	trap 'rm -rf "$TMP"' EXIT
	declare -A PID=()
	mkdir -p "$RESULTS"
	summarize
	exit 0
fi

# ------------------------------------------------------------ processes ---

TMP=$(mktemp -d /tmp/strata-bench.XXXXXX)
chmod 755 "$TMP"  # nginx workers drop to "nobody" when started as root
PIDS=()           # every long-lived process we started
WRK_PID=""
NGINX_PID="" STRATA_PID="" HAPROXY_PID=""
LOGDIR="$RESULTS/lb_tcp-logs"

stop_pid() {  # TERM, wait up to 3 s, then KILL
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$WRK_PID" ] && stop_pid "$WRK_PID"
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}"
	done
	if [ -d "$TMP" ]; then
		mkdir -p "$LOGDIR"
		cp "$TMP"/*.log "$TMP"/*.cfg "$TMP"/nginx.conf "$LOGDIR"/ 2>/dev/null || true
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=65536
# HAProxy wants 2 descriptors per connection, 2 per pipe (maxpipes = maxconn/4
# when splicing) and some of its own: size maxconn to the limit.
MAXCONN=$(((NOFILE - 1000) / 3))
[ "$MAXCONN" -gt 20000 ] && MAXCONN=20000

# Free ports outside the ephemeral range (so no client socket of the
# benchmark itself can hold one), checked against every socket in any state.
declare -A TAKEN=()
pick_port() {
	local p tries=0
	while :; do
		p=$((20000 + RANDOM % 12000))
		tries=$((tries + 1))
		[ "$tries" -gt 500 ] && { log "lb_tcp.sh: no free port found"; exit 1; }
		[ -n "${TAKEN[$p]:-}" ] && continue
		[ -n "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] && continue
		TAKEN[$p]=1
		echo "$p"
		return
	done
}
B1=$(pick_port); TAKEN[$B1]=1
B2=$(pick_port); TAKEN[$B2]=1
P_STRATA=$(pick_port); TAKEN[$P_STRATA]=1
P_HAPROXY=$(pick_port); TAKEN[$P_HAPROXY]=1

wait_port() {  # wait until something listens on 127.0.0.1:$1 (pid $2 must stay alive)
	local i
	for i in $(seq 100); do
		ss -Hltn "( sport = :$1 )" | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

fail_start() {
	log "lb_tcp.sh: $1 did not start; its log:"
	sed 's/^/    /' "$2" >&2 || true
	exit 1
}

# nginx: two backends in one foreground instance.
mkdir -p "$TMP/www" "$TMP/tmp"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$TMP/www/big"
chmod 755 "$TMP/www"
chmod 644 "$TMP/www/big"
server_block() {
	cat <<EOF
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location = / { return 200 "hello\n"; }
        location = /big { alias $TMP/www/big; }
    }
EOF
}
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $TMP/nginx.pid;
error_log $TMP/nginx.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    server_tokens off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $TMP/tmp/body;
    proxy_temp_path $TMP/tmp/proxy;
    fastcgi_temp_path $TMP/tmp/fastcgi;
    uwsgi_temp_path $TMP/tmp/uwsgi;
    scgi_temp_path $TMP/tmp/scgi;
$(server_block "$B1")
$(server_block "$B2")
}
EOF
nginx -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off;' >>"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
if ! wait_port "$B1" "$NGINX_PID" || ! wait_port "$B2" "$NGINX_PID"; then
	fail_start nginx "$TMP/nginx.log"
fi
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1 || true)

# strata
"$STRATA" lb --mode tcp --threads "$THREADS" --listen "127.0.0.1:$P_STRATA" \
	--server "127.0.0.1:$B1" --server "127.0.0.1:$B2" --health-check tcp --log-level warn \
	>"$TMP/strata.log" 2>&1 &
STRATA_PID=$!
PIDS+=("$STRATA_PID")
wait_port "$P_STRATA" "$STRATA_PID" || fail_start strata "$TMP/strata.log"

# HAProxy
splice=""
[ "$HAPROXY_SPLICE" = 1 ] && splice="    option splice-auto"
cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread $THREADS
    maxconn $MAXCONN
    hard-stop-after 3s

defaults
    mode tcp
    timeout connect 3s
    timeout client 5m
    timeout server 5m
    maxconn $MAXCONN
$splice

frontend bench
    bind 127.0.0.1:$P_HAPROXY
    default_backend backends

backend backends
    balance roundrobin
    server b1 127.0.0.1:$B1 check
    server b2 127.0.0.1:$B2 check
EOF
haproxy -c -q -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 || fail_start haproxy "$TMP/haproxy.log"
haproxy -f "$TMP/haproxy.cfg" -db >>"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$HAPROXY_PID")
wait_port "$P_HAPROXY" "$HAPROXY_PID" || fail_start haproxy "$TMP/haproxy.log"

declare -A PORT=([direct]=$B1 [strata]=$P_STRATA [haproxy]=$P_HAPROXY)
declare -A PID=([direct]="" [strata]=$STRATA_PID [haproxy]=$HAPROXY_PID)
declare -A LOGF=([strata]=$TMP/strata.log [haproxy]=$TMP/haproxy.log)

# Sanity: both paths answer, both backends are used, /big arrives whole.
big_bytes=$((BIG_MB * 1024 * 1024))
for t in strata haproxy; do
	ok=0
	for i in $(seq 50); do
		if [ "$(curl -s -m 2 "http://127.0.0.1:${PORT[$t]}/")" = hello ]; then ok=1; break; fi
		sleep 0.1
	done
	[ "$ok" = 1 ] || fail_start "$t (no answer through it)" "${LOGF[$t]}"
	for i in 1 2; do
		got=$(curl -s -m 10 -o /dev/null -w '%{size_download}' "http://127.0.0.1:${PORT[$t]}/big" || true)
		[ "$got" = "$big_bytes" ] || fail_start "$t (/big came back with $got of $big_bytes bytes)" "${LOGF[$t]}"
	done
done

# ----------------------------------------------------------------- runs ---

CLK_TCK=$(getconf CLK_TCK)
cat >"$TMP/report.lua" <<'EOF'
-- Machine-readable summary of a wrk run (latencies in microseconds).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %.0f %.0f %.0f %.1f %.1f %.1f %.1f %.1f %.1f %d %d %d %d %d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# sched_stats PID: "RUNQ_NS NVCSW" summed over the threads of PID: time spent
# runnable but waiting for a CPU, and involuntary context switches (preemptions).
sched_stats() {
	local f q=0 n=0 b rest k v
	for f in /proc/"$1"/task/*; do
		read -r _ b rest <"$f/schedstat" 2>/dev/null || continue
		q=$((q + b))
		while read -r k v; do
			[ "$k" = nonvoluntary_ctxt_switches: ] && n=$((n + v))
		done <"$f/status"
	done
	echo "$q $n"
}

cpu_ticks() {  # utime+stime of every thread of pid $1, in clock ticks
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}

alive() {
	[ -z "${PID[$1]}" ] && return 0
	kill -0 "${PID[$1]}" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/${PID[$1]}/stat" 2>/dev/null)" != Z ]
}

died() {
	log ""
	log "lb_tcp.sh: $1 is gone ($2). The last lines of its log:"
	tail -n 30 "${LOGF[$1]}" 2>/dev/null | sed 's/^/    /' >&2 || true
	exit 1
}

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"
rm -rf "$LOGDIR"
CSV=$RESULTS/lb_tcp-$STAMP.csv
# What ran where, next to the CSV (lb_tcp-STAMP.env); --report prints it with the table.
{
	rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	[ -n "$(git -C "$ROOT" status --porcelain -- src Makefile 2>/dev/null)" ] && rev="$rev+uncommitted changes in src"
	stale=""
	[ -n "$(find "$ROOT/src" "$ROOT/Makefile" -newer "$STRATA" -print -quit 2>/dev/null)" ] &&
		stale=" (OLDER than some files in src/: not built from this tree)"
	echo "strata=$("$STRATA" --version 2>/dev/null | head -1), git $rev, binary built $(date -u -r "$STRATA" '+%F %T') UTC$stale"
	echo "haproxy=$(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3)"
	echo "nginx=$(nginx -v 2>&1 | head -1 | sed 's/^nginx version: //')"
	echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "machine=$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r)"
	echo "started=$(date -u '+%F %T') UTC"
	echo "params=THREADS=$THREADS ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS BULK_CONNS=$BULK_CONNS BIG_MB=$BIG_MB WRK_THREADS=$WRK_THREADS HAPROXY_SPLICE=$HAPROXY_SPLICE SCENARIOS='$SCENARIOS'"
} >"${CSV%.csv}.env"
echo "round,target,scenario,threads,conns,duration_s,requests,bytes,rps,gbps,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_mean_ms,lat_max_ms,proxy_cpu_s,proxy_cpu_us_per_req,proxy_cpu_ms_per_gib,nginx_cpu_s,err_connect,err_read,err_write,err_status,err_timeout,leftover_sockets,haproxy_splice,proxy_runq_wait_ms,proxy_preemptions" >"$CSV"

declare -A LABEL=([keepalive]="keep-alive" [bulk]="bulk" [close]="close")

# run ROUND TARGET SCENARIO [quiet]
run() {
	local round=$1 t=$2 sc=$3 quiet=${4:-} url conns args=() out
	url="http://127.0.0.1:${PORT[$t]}/"
	conns=$CONNS
	case "$sc" in
	bulk) url="${url}big"; conns=$BULK_CONNS ;;
	close) args=(-H 'Connection: close') ;;
	esac
	alive "$t" || died "$t" "before round $round $sc"
	[ -z "$quiet" ] && printf 'round %d/%d: %-7s %-10s ... ' "$round" "$ROUNDS" "$t" "${LABEL[$sc]}" >&2
	local pid=${PID[$t]} c0=0 c1=0 n0=0 n1=0 q0=0 q1=0 v0=0 v1=0
	[ -n "$pid" ] && c0=$(cpu_ticks "$pid") && read -r q0 v0 < <(sched_stats "$pid")
	[ -n "$NGINX_WORKER" ] && n0=$(cpu_ticks "$NGINX_WORKER")
	timeout -k 5 $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --latency \
		"${args[@]}" -s "$TMP/report.lua" "$url" >"$TMP/wrk.out" 2>&1 &
	WRK_PID=$!
	local wrc=0
	wait "$WRK_PID" || wrc=$?
	WRK_PID=""
	[ -n "$pid" ] && c1=$(cpu_ticks "$pid") && read -r q1 v1 < <(sched_stats "$pid")
	[ -n "$NGINX_WORKER" ] && n1=$(cpu_ticks "$NGINX_WORKER")
	alive "$t" || died "$t" "during round $round $sc"
	out=$(grep '^RESULT ' "$TMP/wrk.out" || true)
	if [ "$wrc" != 0 ] || [ -z "$out" ]; then
		log ""
		log "lb_tcp.sh: wrk failed (exit $wrc) against $t $sc:"
		sed 's/^/    /' "$TMP/wrk.out" >&2
		exit 1
	fi
	[ -n "$quiet" ] && return 0
	sleep "$PAUSE"
	# Sessions the proxy still holds after the clients have gone (not LISTEN/TIME-WAIT).
	local leftover=0
	if [ "$t" != direct ]; then
		leftover=$(ss -Htan "( sport = :${PORT[$t]} )" | grep -Ecv '^(LISTEN|TIME-WAIT)' || true)
	fi
	# shellcheck disable=SC2086
	set -- $out
	local line
	line=$(awk -v round="$round" -v t="$t" -v sc="$sc" -v thr="$THREADS" -v conns="$conns" \
		-v req="$2" -v dur="$3" -v bytes="$4" -v p50="$5" -v p90="$6" -v p99="$7" -v p999="$8" \
		-v mean="$9" -v max="${10}" -v ec="${11}" -v er="${12}" -v ew="${13}" -v es="${14}" \
		-v et="${15}" -v cpu=$((c1 - c0)) -v ncpu=$((n1 - n0)) -v hz="$CLK_TCK" -v runq=$((q1 - q0)) -v nvcsw=$((v1 - v0)) \
		-v proxied="$([ -n "$pid" ] && echo 1 || echo 0)" -v left="$leftover" -v splice="$HAPROXY_SPLICE" 'BEGIN {
		d = dur / 1e6
		rps = req / d; gbps = bytes * 8 / d / 1e9
		cs = cpu / hz
		if (proxied) {
			pcpu = sprintf("%.3f", cs)
			per_req = req ? sprintf("%.2f", cs * 1e6 / req) : ""
			per_gib = bytes ? sprintf("%.1f", cs * 1e3 / (bytes / 1073741824)) : ""
			prunq = sprintf("%.1f", runq / 1e6); pnv = nvcsw
		} else { pcpu = ""; per_req = ""; per_gib = ""; prunq = ""; pnv = "" }
		printf "%d,%s,%s,%d,%d,%.3f,%.0f,%.0f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%s,%s,%s,%.3f,%d,%d,%d,%d,%d,%d,%d,%s,%s\n",
			round, t, sc, thr, conns, d, req, bytes, rps, gbps, p50/1e3, p90/1e3, p99/1e3,
			p999/1e3, mean/1e3, max/1e3, pcpu, per_req, per_gib, ncpu / hz, ec, er, ew, es, et, left, splice, prunq, pnv
	}')
	echo "$line" >>"$CSV"
	local errs=$((${11} + ${12} + ${13} + ${14} + ${15}))
	# progress: the headline figure of the run
	awk -F, -v sc="$sc" -v errs="$errs" -v left="$leftover" '{
		if (sc == "bulk") s = sprintf("%.2f Gbit/s", $10)
		else s = sprintf("%.0f %s/s, p50 %.3f ms, p99 %.3f ms", $9, sc == "close" ? "conn" : "req", $11, $13)
		if ($18 != "") s = s sprintf(", proxy CPU %s, runnable-not-running %s ms", sc == "bulk" ? $19 " ms/GiB" : $18 " us/req", $28)
		if (errs > 0) s = s sprintf(", %d ERRORS", errs)
		if (left > 0) s = s sprintf(", %d sockets left open", left)
		print s
	}' <<<"$line" >&2
	if [ "$leftover" -gt 0 ]; then
		ss -Htan "( sport = :${PORT[$t]} )" | grep -Ev '^(LISTEN|TIME-WAIT)' | awk '{print $1}' |
			sort | uniq -c | sed 's/^/    /' >&2
	fi
}

per_run=$((DURATION + PAUSE))
nsc=$(wc -w <<<"$SCENARIOS")
est=$((ROUNDS * 3 * nsc * per_run + 10))
log "$("$STRATA" --version 2>/dev/null | head -1 || echo "$STRATA"), threads=$THREADS, rounds=$ROUNDS, ${DURATION}s per run, about $((est / 60)) min $((est % 60)) s"
log "nginx backends :$B1 :$B2, strata :$P_STRATA (pid $STRATA_PID), haproxy :$P_HAPROXY (pid $HAPROXY_PID)"

# Warm-up (not recorded): fill buffer/pipe caches and the kernel's socket state.
for t in strata haproxy; do
	DURATION_SAVE=$DURATION
	DURATION=2
	run 0 "$t" keepalive quiet
	run 0 "$t" close quiet
	DURATION=$DURATION_SAVE
done

for ((r = 1; r <= ROUNDS; r++)); do
	# Alternate which proxy goes first, so neither always runs right after the baseline.
	if ((r % 2)); then order=(strata haproxy); else order=(haproxy strata); fi
	for sc in $SCENARIOS; do
		run "$r" direct "$sc"
		for t in "${order[@]}"; do
			run "$r" "$t" "$sc"
		done
	done
done

cp "$CSV" "$RESULTS/lb_tcp.csv"
cp "${CSV%.csv}.env" "$RESULTS/lb_tcp.env"
RAW=$CSV
CSV=$RESULTS/lb_tcp.csv
summarize
log "raw: $RAW (also $RESULTS/lb_tcp.csv); medians: $RESULTS/lb_tcp_medians.csv; table: $RESULTS/lb_tcp.txt"
