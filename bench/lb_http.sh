#!/usr/bin/env bash
# bench/lb_http.sh - strata lb --mode http side by side with HAProxy and nginx, in front of nginx.
#
#   scripts/install-deps.sh bench && make strata    # haproxy, nginx-light, wrk, gnuplot-nox; openssl
#   bench/lb_http.sh [--threads N] [--rounds N] [--duration S] [--quick]
#   bench/lb_http.sh --report bench/results/lb_http.csv   # redraw table and chart from a CSV
#
# What runs (all on 127.0.0.1, on free ports picked at start):
#   backends: nginx (Debian's, foreground, worker_processes 1) with two server blocks = two
#     backends serving "hello\n" at /, plus a TLS server block (the "nginx direct" TLS baseline)
#     and a stub_status block (to count the connections and requests the backends see);
#   three L7 proxies, each with ONE worker (THREADS), keep-alive on both sides, round robin over
#   the same two backends, no access log:
#     strata  lb --mode http --threads T --listen .. --server B1 --server B2 --access-log off
#             --log-level warn --health-check tcp [--tls cert.pem,key.pem]
#     haproxy -db, nbthread T, mode http, option http-keep-alive, http-reuse safe, no log,
#             servers with check [bind .. ssl crt combined.pem alpn http/1.1]
#     nginx   worker_processes T, upstream with keepalive 32, proxy_http_version 1.1,
#             Connection "", access_log off [listen .. ssl, ssl_protocols TLSv1.2 TLSv1.3: 1.22
#             leaves TLS 1.3 out by default]
#   Every proxy runs one process per scenario (plain and TLS), so that each CPU figure is that of
#   one listener.
# Scenarios, same wrk parameters for every target (wrk -tWRK_THREADS -cCONNS -dDURATION --latency):
#   keepalive  http://  on /: requests/s, p50/p99/p99.9 latency, proxy CPU per request
#   tls        https:// on /: the same, each proxy terminating TLS with the same self-signed
#              certificate (generated with openssl into RESULTS/lb_http-tls/, TLS_KEY=ec|rsa)
# Proxy CPU = utime+stime from /proc/PID/stat (all threads; the nginx proxy's workers) per request.
# "nginx direct" is the baseline without a proxy (wrk against backend 1, over TLS for tls).
# Runs alternate between the proxies (the machine is noisy); the table shows medians and the
# ratios strata/HAProxy and strata/nginx. Each run also records the CPU that processes other than
# the proxy, the backend worker and wrk used (other_cpu_s; "OTHER LOAD" in the progress lines).
# A default run takes about 8 minutes (5 rounds x 2 scenarios x 4 targets x 11 s). Any socket error or non-2xx/3xx response reported by
# wrk stops the benchmark with wrk's output and the proxy's log (KEEP_GOING=1: carry on, exit 1
# at the end).
#
# Environment (flags win over variables):
#   THREADS=1        worker threads/processes of each proxy (strata --threads, haproxy nbthread,
#                    nginx worker_processes)
#   ROUNDS=5         rounds; every round runs every scenario on every target once
#   DURATION=10      seconds per wrk run
#   CONNS=50         wrk connections                            WRK_THREADS=1  wrk -t
#   PAUSE=1          seconds of rest between runs
#   SCENARIOS="keepalive tls"   a subset to run only those
#   TLS_KEY=ec       key of the self-signed certificate: ec (P-256) or rsa (2048 bits)
#   NGINX_KEEPALIVE=32  the nginx proxy's "keepalive" (idle upstream connections per worker, all
#                    servers together; strata's --server-keepalive 32 is per server). Below
#                    CONNS, nginx keeps opening upstream connections (see the backend counts).
#   QUICK=1          smoke test: ROUNDS=1, DURATION=3
#   KEEP_GOING=1     do not stop at the first wrk run with errors (still exits 1 at the end)
#   STRATA=./strata  the binary under test;  RESULTS=bench/results  where results go
#
# Output: a table on stdout (also RESULTS/lb_http.txt), raw rows in RESULTS/lb_http-STAMP.csv
# (copied to RESULTS/lb_http.csv; versions, TLS parameters and settings in lb_http-STAMP.env),
# medians in RESULTS/lb_http_medians.csv, a chart in RESULTS/lb_http.png (requests/s, p99 and
# proxy CPU per target and scenario; when gnuplot is installed), and the generated configs, the
# processes' logs and the output of any failed wrk run in RESULTS/lb_http-logs/.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
WRK_THREADS=${WRK_THREADS:-1}
PAUSE=${PAUSE:-1}
SCENARIOS=${SCENARIOS:-keepalive tls}
TLS_KEY=${TLS_KEY:-ec}
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-32}
KEEP_GOING=${KEEP_GOING:-0}
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
	*) echo "lb_http.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done

for v in THREADS ROUNDS DURATION CONNS WRK_THREADS NGINX_KEEPALIVE; do
	case "${!v}" in
	'' | *[!0-9]* | 0) echo "lb_http.sh: $v must be a positive integer, not '${!v}'" >&2; exit 2 ;;
	esac
done
case "$PAUSE" in '' | *[!0-9]*) echo "lb_http.sh: PAUSE must be an integer, not '$PAUSE'" >&2; exit 2 ;; esac
case "$TLS_KEY" in ec | rsa) ;; *) echo "lb_http.sh: TLS_KEY must be ec or rsa, not '$TLS_KEY'" >&2; exit 2 ;; esac

[ -n "${SCENARIOS// /}" ] || { echo "lb_http.sh: SCENARIOS is empty (keepalive tls)" >&2; exit 2; }
for sc in $SCENARIOS; do
	case "$sc" in
	keepalive | tls) ;;
	*) echo "lb_http.sh: unknown scenario '$sc' in SCENARIOS (keepalive tls)" >&2; exit 2 ;;
	esac
done

need() {
	command -v "$1" >/dev/null 2>&1 || {
		echo "lb_http.sh: '$1' is missing (scripts/install-deps.sh bench installs it)" >&2
		exit 2
	}
}
if [ -z "$REPORT" ]; then
	need nginx
	need haproxy
	need wrk
	need ss
	need curl
	need openssl
	[ -x "$STRATA" ] || { echo "lb_http.sh: $STRATA is not built (make strata)" >&2; exit 2; }
	if ! "$STRATA" lb --help 2>&1 | grep -q -- '--cookie'; then
		echo "lb_http.sh: $STRATA has no http mode (strata lb --help does not mention --cookie)" >&2
		exit 2
	fi
	if [ -n "$(find "$ROOT/src" "$ROOT/Makefile" -newer "$STRATA" -print -quit 2>/dev/null)" ]; then
		echo "lb_http.sh: warning: $STRATA is older than some files in src/ (make strata)" >&2
	fi
fi

log() { printf '%s\n' "$*" >&2; }

PROXIES="strata haproxy nginx"
TARGETS="direct $PROXIES"

# ------------------------------------------------------------- summary ---
# Everything below reads only the CSV (and, after a live run, the proxies'
# /proc/PID/status), so --report FILE can redraw the table and chart later.
# Columns are found by their name in the CSV's header.

# An awk prelude: col(NAME) is a column of the current row; fig(NAME) is a
# figure: a column, or "pnreq" for the CPU of proxy + backend nginx per request
# (nginx alone for the direct baseline). On loopback the kernel runs part of a
# receiver's TCP work in the sender's context, so part of one process's cost
# shows up in the other.
# shellcheck disable=SC2016
FIGURE_AWK='NR == 1 { for (i = 1; i <= NF; i++) C[$i] = i; next }
function col(name) { return (name in C) ? $C[name] : "" }
function fig(name,   r) {
	if (name == "pnreq") { r = col("requests"); return r ? (col("proxy_cpu_s") + col("backend_cpu_s")) * 1e6 / r : "" }
	return col(name)
}'

# median TARGET SCENARIO FIGURE
median() {
	awk -F, -v t="$1" -v sc="$2" -v f="$3" "$FIGURE_AWK"'
		col("target") == t && col("scenario") == sc && fig(f) != "" { print fig(f) }' "$CSV" |
		sort -g | awk '{ a[NR] = $1 } END {
			if (NR == 0) print ""
			else if (NR % 2) print a[(NR + 1) / 2]
			else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# paired SCENARIO FIGURE BETTER OTHER: "median-of-per-round-ratios wins/rounds"
# of strata against OTHER. The targets of a round ran within a minute of each
# other, so the ratio within a round is far less exposed to the machine's drift
# than a ratio of medians.
paired() {
	awk -F, -v sc="$1" -v f="$2" -v better="$3" -v o="$4" "$FIGURE_AWK"'
		col("scenario") == sc && fig(f) != "" && (col("target") == "strata" || col("target") == o) {
			v[col("target"), col("round")] = fig(f); r[col("round")] = 1 }
		END {
			for (k in r) if ((("strata", k) in v) && ((o, k) in v) && v[o, k] + 0 != 0) {
				s = v["strata", k]; h = v[o, k]
				print s / h, ((better == "higher") ? (s > h) : (s < h))
			}
		}' "$CSV" | sort -g | awk '{ a[NR] = $1; w += $2 } END {
			if (NR == 0) { print "- -"; exit }
			m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%.2f %d/%d\n", m, w, NR }'
}

ratio() {
	awk -v s="$1" -v h="$2" 'BEGIN { if (s != "" && h != "" && h + 0 != 0) printf "%.2f", s / h; else print "-" }'
}

fmt() {
	awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 1000) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.3f", v }'
}

# figure id | scenario | column | label | better | on the chart
FIGURES="ka_rps|keepalive|rps|keep-alive requests/s|higher|1
ka_p50|keepalive|lat_p50_ms|keep-alive p50 latency, ms|lower|0
ka_p99|keepalive|lat_p99_ms|keep-alive p99 latency, ms|lower|1
ka_p999|keepalive|lat_p999_ms|keep-alive p99.9 latency, ms|lower|0
ka_cpu|keepalive|proxy_cpu_us_per_req|keep-alive proxy CPU, us/request|lower|1
ka_pncpu|keepalive|pnreq|keep-alive proxy+nginx CPU, us/request|lower|0
tls_rps|tls|rps|TLS requests/s|higher|1
tls_p50|tls|lat_p50_ms|TLS p50 latency, ms|lower|0
tls_p99|tls|lat_p99_ms|TLS p99 latency, ms|lower|1
tls_p999|tls|lat_p999_ms|TLS p99.9 latency, ms|lower|0
tls_cpu|tls|proxy_cpu_us_per_req|TLS proxy CPU, us/request|lower|1
tls_pncpu|tls|pnreq|TLS proxy+nginx CPU, us/request|lower|0"

summarize() {
	local med=$RESULTS/lb_http_medians.csv table=$RESULTS/lb_http.txt
	local threads rounds dur conns wthreads present
	read -r threads rounds dur conns wthreads < <(awk -F, "$FIGURE_AWK"'{
		th = col("threads"); if (col("round") > r) r = col("round"); d = col("duration_s"); c = col("conns"); w = col("wrk_threads") }
		END { printf "%s %d %.0f %s %s\n", th, r, d, c, (w == "" ? "?" : w) }' "$CSV")
	present=" $(awk -F, "$FIGURE_AWK"'{ print col("scenario") }' "$CSV" | sort -u | tr '\n' ' ')"
	: >"$TMP/medians.tsv"
	echo "figure,better,nginx_direct,strata,haproxy,nginx,strata_over_haproxy_medians,strata_over_haproxy_paired,strata_ahead_of_haproxy_rounds,strata_over_nginx_medians,strata_over_nginx_paired,strata_ahead_of_nginx_rounds" >"$med"
	local hdr='%-38s %9s %9s %9s %9s | %5s %6s %5s | %5s %6s %5s  %s\n'
	{
		echo "strata lb vs HAProxy vs nginx, L7 (HTTP/1.1, keep-alive both sides), threads=$threads, $rounds rounds x ${dur}s, medians"
		[ -r "${CSV%.csv}.env" ] && grep -E '^(strata|haproxy|nginx|wrk|openssl|machine|tls_.*|load_.*)=' "${CSV%.csv}.env" | sed 's/^/  /'
		echo "wrk -t$wthreads -c$conns --latency on / (6-byte body, \"hello\" and a newline)"
		echo
		# shellcheck disable=SC2059
		printf "$hdr" "" "nginx" "" "" "" "strata / HAProxy" "" "" "strata / nginx" "" "" ""
		# shellcheck disable=SC2059
		printf "$hdr" figure direct strata haproxy nginx med paired ahead med paired ahead better
		# shellcheck disable=SC2059
		printf "$hdr" "$(printf '%.0s-' {1..38})" --------- --------- --------- --------- ----- ------ ----- ----- ------ ----- ------
	} >"$table"
	local id sc col label better chart d s h n rh prh wh rn prn wn
	while IFS='|' read -r id sc col label better chart; do
		case "$present" in *" $sc "*) ;; *) continue ;; esac
		d=$(median direct "$sc" "$col")
		s=$(median strata "$sc" "$col")
		h=$(median haproxy "$sc" "$col")
		n=$(median nginx "$sc" "$col")
		rh=$(ratio "$s" "$h")
		rn=$(ratio "$s" "$n")
		read -r prh wh < <(paired "$sc" "$col" "$better" haproxy)
		read -r prn wn < <(paired "$sc" "$col" "$better" nginx)
		# shellcheck disable=SC2059
		printf "$hdr" "$label" "$(fmt "$d")" "$(fmt "$s")" "$(fmt "$h")" "$(fmt "$n")" \
			"$rh" "$prh" "$wh" "$rn" "$prn" "$wn" "$better" >>"$table"
		echo "$id,$better,$d,$s,$h,$n,$rh,$prh,$wh,$rn,$prn,$wn" >>"$med"
		[ "$chart" = 1 ] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$sc" "$label" "${d:-0}" "${s:-0}" "${h:-0}" "${n:-0}" >>"$TMP/medians.tsv"
	done <<<"$FIGURES"
	local errors leftovers conns_line other
	errors=$(awk -F, "$FIGURE_AWK"'{ e = col("err_connect") + col("err_read") + col("err_write") + col("err_timeout") + col("non2xx")
		if (e > 0) printf "  round %s %s %s: connect %d, read %d, write %d, timeout %d, non-2xx/3xx %d\n", col("round"), col("target"), col("scenario"),
			col("err_connect"), col("err_read"), col("err_write"), col("err_timeout"), col("non2xx") }' "$CSV")
	leftovers=$(awk -F, "$FIGURE_AWK"'col("leftover_sockets") > 0 { printf "  round %s %s %s: %s sockets still open on its port after wrk ended\n", col("round"), col("target"), col("scenario"), col("leftover_sockets") }' "$CSV")
	conns_line=""
	for sc in $SCENARIOS_IN_CSV; do
		local parts="" t m q
		for t in $TARGETS; do
			m=$(median "$t" "$sc" backend_new_conns)
			q=$(median "$t" "$sc" backend_requests)
			[ -n "$m" ] && parts="$parts${parts:+, }$t $(printf '%.0f' "$m") / $(printf '%.0f' "$q")"
		done
		[ -n "$parts" ] && conns_line="$conns_line  $sc: $parts"$'\n'
	done
	other=$(awk -F, "$FIGURE_AWK"'col("other_cpu_s") != "" && col("duration_s") > 0 {
		p = col("other_cpu_s") / col("duration_s") * 100; if (p > m) { m = p; w = col("round") " " col("target") " " col("scenario") } }
		END { if (m >= 5) printf "%.0f%% of a CPU (round %s)", m, w }' "$CSV")
	{
		echo
		echo "med = ratio of the medians; paired = median over rounds of the ratio within each round"
		echo "(less exposed to the machine's drift); ahead = rounds strata won. For higher-is-better"
		echo "figures a ratio above 1 favours strata; for lower-is-better ones (latency, CPU) a ratio"
		echo "below 1 favours strata."
		echo "Proxy CPU = utime+stime of the proxy process (all threads; nginx: its worker) during the"
		echo "run; proxy+nginx adds the backend nginx worker's (nginx alone in the direct column): on"
		echo "loopback the kernel charges part of the receiver's TCP work to the sender and vice versa."
		echo "New connections / requests seen by the backends per run (medians). Keep-alive to the"
		echo "backends means few connections; the counts include the health checks of the idle strata"
		echo "and HAProxy instances (a TCP connect per server every 2 s each) and, for direct, wrk's:"
		printf '%s' "$conns_line"
		if [ -n "$other" ]; then
			echo "Other processes used up to $other during a run (other_cpu_s in the CSV:"
			echo "the machine's user+system time minus that of the proxy, the backend worker and wrk)."
		fi
		if [ -n "$errors" ]; then
			echo "!!! wrk reported ERRORS (socket errors, timeouts or non-2xx/3xx responses):"
			echo "$errors"
		else
			echo "wrk reported no socket errors, timeouts or non-2xx/3xx responses in any run."
		fi
		if [ -n "$leftovers" ]; then
			echo "Sockets left open after runs:"
			echo "$leftovers"
		fi
		local k
		for k in "${!CPUPID[@]}"; do echo "$k"; done | sort | while read -r k; do
			[ -r "/proc/${CPUPID[$k]%% *}/status" ] || continue
			awk -v t="${k/:/ }" '/^VmHWM|^VmRSS|^Threads/ { printf "%s%s %s%s", (n++ ? ", " : t " at the end: "), $1, $2, ($3 ? " " $3 : "") } END { print "" }' "/proc/${CPUPID[$k]%% *}/status"
		done
	} >>"$table"
	echo
	cat "$table"

	command -v gnuplot >/dev/null 2>&1 || return 0
	local plt=$TMP/chart.gp rows
	rows=$((($(wc -l <"$TMP/medians.tsv") + 2) / 3))
	[ "$rows" -gt 0 ] || return 0
	{
		echo "set terminal pngcairo size 1500,$((rows * 340 + 50)) font 'sans,10'"
		echo "set output '$RESULTS/lb_http.png'"
		echo "set multiplot layout $rows,3 title 'strata lb vs HAProxy vs nginx (HTTP/1.1 keep-alive, threads=$threads, wrk -c$conns, medians of $rounds x ${dur}s runs)' font 'sans,13'"
		echo "set style fill solid 0.85 border -1"
		echo "set boxwidth 0.6"
		echo "set yrange [0:*]"
		echo "set offsets 0, 0, graph 0.12, 0"
		echo "unset key"
		echo "set grid ytics"
		echo "set xrange [-0.6:3.6]"
		echo "set format y '%g'"
		while IFS=$'\t' read -r id sc label d s h n; do
			printf '"nginx direct" %s 10066329\nstrata %s 2062260\nhaproxy %s 16744206\n"nginx proxy" %s 2924588\n' "$d" "$s" "$h" "$n" >"$TMP/$id.dat"
			echo "set title '$label'"
			echo "plot '$TMP/$id.dat' using 0:2:3:xtic(1) with boxes lc rgb variable, \
'' using 0:2:(\$2 >= 1000 ? sprintf('%.0f', \$2) : \$2 > 0 ? sprintf('%.4g', \$2) : '') with labels offset 0,0.7"
		done <"$TMP/medians.tsv"
		echo "unset multiplot"
	} >"$plt"
	if gnuplot "$plt" 2>"$TMP/gnuplot.err"; then
		log "chart: $RESULTS/lb_http.png"
	else
		log "gnuplot failed:"
		sed 's/^/    /' "$TMP/gnuplot.err" >&2
	fi
}

if [ -n "$REPORT" ]; then
	[ -r "$REPORT" ] || { echo "lb_http.sh: cannot read $REPORT" >&2; exit 2; }
	CSV=$REPORT
	TMP=$(mktemp -d /tmp/strata-bench.XXXXXX)
	trap 'rm -rf "$TMP"' EXIT
	declare -A CPUPID=()
	mkdir -p "$RESULTS"
	SCENARIOS_IN_CSV=$(awk -F, "$FIGURE_AWK"'{ if (!s[col("scenario")]++) print col("scenario") }' "$CSV" | tr '\n' ' ')
	summarize
	exit 0
fi

# ------------------------------------------------------------ processes ---

TMP=$(mktemp -d /tmp/strata-bench.XXXXXX)
chmod 755 "$TMP"  # nginx workers drop to "nobody" when started as root
PIDS=()           # every long-lived process we started
WRK_PID=""
LOGDIR="$RESULTS/lb_http-logs"
TLSDIR="$RESULTS/lb_http-tls"
ANY_ERRORS=0

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
		cp "$TMP"/*.log "$TMP"/*.cfg "$TMP"/*.conf "$TMP"/*.cmd "$LOGDIR"/ 2>/dev/null || true
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
		[ "$tries" -gt 500 ] && { log "lb_http.sh: no free port found"; exit 1; }
		[ -n "${TAKEN[$p]:-}" ] && continue
		[ -n "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] && continue
		echo "$p"
		return
	done
}
new_port() {  # new_port VAR: a free port, remembered as taken
	local p
	p=$(pick_port)
	TAKEN[$p]=1
	printf -v "$1" '%s' "$p"
}

wait_port() {  # wait until something listens on 127.0.0.1:$1 (pid $2 must stay alive)
	local i
	for i in $(seq 100); do
		ss -Hltn "( sport = :$1 )" | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

nginx_workers() {  # MASTER_PID N: the pids of its N workers, once they are all there
	local i w
	for i in $(seq 50); do
		w=$(pgrep -P "$1" | tr '\n' ' ' || true)
		w=${w% }
		if [ "$(wc -w <<<"$w")" -ge "$2" ]; then echo "$w"; return 0; fi
		sleep 0.1
	done
	return 1
}

fail_start() {
	log "lb_http.sh: $1 did not start or does not work; its log:"
	sed 's/^/    /' "$2" >&2 || true
	exit 1
}

new_port B1
new_port B2
new_port B1_TLS
new_port B_STATUS

# The certificate every TLS listener uses (kept in the results directory).
mkdir -p "$TLSDIR"
case "$TLS_KEY" in
ec) keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
rsa) keyopt=(-newkey rsa:2048) ;;
esac
if ! openssl req -x509 "${keyopt[@]}" -nodes -sha256 -days 30 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$TLSDIR/key.pem" -out "$TLSDIR/cert.pem" >"$TMP/openssl.log" 2>&1; then
	fail_start "openssl req (certificate generation)" "$TMP/openssl.log"
fi
cat "$TLSDIR/cert.pem" "$TLSDIR/key.pem" >"$TLSDIR/combined.pem"
chmod 600 "$TLSDIR/key.pem" "$TLSDIR/combined.pem"
CERT=$(cd "$TLSDIR" && pwd)/cert.pem
KEY=${CERT%cert.pem}key.pem
COMBINED=${CERT%cert.pem}combined.pem

nginx_temp_paths() {  # DIR
	mkdir -p "$1/tmp"
	cat <<EOF
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
EOF
}

# Backends: one nginx, two server blocks (= two backends) and, on backend 1's
# content, a TLS block (the direct TLS baseline) and a stub_status block.
backend_block() {  # PORT NAME [ssl]
	cat <<EOF
    server {
        listen 127.0.0.1:$1 backlog=4096${3:+ ssl};
$([ -n "${3:-}" ] && printf '        ssl_certificate %s;\n        ssl_certificate_key %s;\n        ssl_protocols TLSv1.2 TLSv1.3;\n' "$CERT" "$KEY")
        location = / { return 200 "hello\n"; }
        location = /who { return 200 "$2\n"; }
    }
EOF
}
mkdir -p "$TMP/backend"
cat >"$TMP/backend.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $TMP/backend/nginx.pid;
error_log $TMP/backend.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    server_tokens off;
    default_type application/octet-stream;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
$(nginx_temp_paths "$TMP/backend")
$(backend_block "$B1" b1)
$(backend_block "$B2" b2)
$(backend_block "$B1_TLS" b1 ssl)
    server {
        listen 127.0.0.1:$B_STATUS;
        location = /status { stub_status; }
    }
}
EOF
nginx -p "$TMP/backend" -c "$TMP/backend.conf" -g 'daemon off;' >>"$TMP/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
for p in "$B1" "$B2" "$B1_TLS" "$B_STATUS"; do
	wait_port "$p" "$BACKEND_PID" || fail_start "nginx (backends)" "$TMP/backend.log"
done
BACKEND_WORKER=$(nginx_workers "$BACKEND_PID" 1) || fail_start "nginx (backends): no worker process" "$TMP/backend.log"

declare -A PORT=() PID=() CPUPID=() LOGF=()
PORT[direct:keepalive]=$B1
PORT[direct:tls]=$B1_TLS
PID[direct:keepalive]="" PID[direct:tls]=""
CPUPID[direct:keepalive]="" CPUPID[direct:tls]=""

# start_strata SCENARIO
start_strata() {
	local sc=$1 k=strata:$1 port tls=()
	new_port port
	[ "$sc" = tls ] && tls=(--tls "$CERT,$KEY")
	local cmd=("$STRATA" lb --mode http --threads "$THREADS" --listen "127.0.0.1:$port"
		--server "127.0.0.1:$B1" --server "127.0.0.1:$B2" --health-check tcp
		--access-log off --log-level warn "${tls[@]}")
	printf '%q ' "${cmd[@]}" >"$TMP/strata-$sc.cmd"
	echo >>"$TMP/strata-$sc.cmd"
	"${cmd[@]}" >"$TMP/strata-$sc.log" 2>&1 &
	PID[$k]=$!
	CPUPID[$k]=$!
	PIDS+=("$!")
	PORT[$k]=$port
	LOGF[$k]=$TMP/strata-$sc.log
	wait_port "$port" "${PID[$k]}" || fail_start "strata ($sc)" "${LOGF[$k]}"
}

# start_haproxy SCENARIO
start_haproxy() {
	local sc=$1 k=haproxy:$1 port ssl=""
	new_port port
	[ "$sc" = tls ] && ssl=" ssl crt $COMBINED alpn http/1.1"
	cat >"$TMP/haproxy-$sc.cfg" <<EOF
global
    nbthread $THREADS
    maxconn $MAXCONN
    hard-stop-after 3s

defaults
    mode http
    option http-keep-alive
    http-reuse safe
    timeout connect 3s
    timeout client 5m
    timeout server 5m
    timeout http-request 10s
    timeout http-keep-alive 5m
    maxconn $MAXCONN

frontend bench
    bind 127.0.0.1:$port$ssl
    default_backend backends

backend backends
    balance roundrobin
    server b1 127.0.0.1:$B1 check
    server b2 127.0.0.1:$B2 check
EOF
	haproxy -c -q -f "$TMP/haproxy-$sc.cfg" >"$TMP/haproxy-$sc.log" 2>&1 || fail_start "haproxy ($sc)" "$TMP/haproxy-$sc.log"
	haproxy -f "$TMP/haproxy-$sc.cfg" -db >>"$TMP/haproxy-$sc.log" 2>&1 &
	PID[$k]=$!
	CPUPID[$k]=$!
	PIDS+=("$!")
	PORT[$k]=$port
	LOGF[$k]=$TMP/haproxy-$sc.log
	wait_port "$port" "${PID[$k]}" || fail_start "haproxy ($sc)" "${LOGF[$k]}"
}

# start_nginx SCENARIO: nginx as the reverse proxy
start_nginx() {
	local sc=$1 k=nginx:$1 port ssl="" dir=$TMP/nginx-$1
	new_port port
	mkdir -p "$dir"
	[ "$sc" = tls ] && ssl=" ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3"
	cat >"$TMP/nginx-$sc.conf" <<EOF
worker_processes $THREADS;
worker_rlimit_nofile $NOFILE;
pid $dir/nginx.pid;
error_log $TMP/nginx-$sc.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    server_tokens off;
$(nginx_temp_paths "$dir")
    upstream backends {
        server 127.0.0.1:$B1;
        server 127.0.0.1:$B2;
        keepalive $NGINX_KEEPALIVE;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$port backlog=4096$ssl;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
	nginx -t -q -p "$dir" -c "$TMP/nginx-$sc.conf" >"$TMP/nginx-$sc.log" 2>&1 || fail_start "nginx proxy ($sc)" "$TMP/nginx-$sc.log"
	nginx -p "$dir" -c "$TMP/nginx-$sc.conf" -g 'daemon off;' >>"$TMP/nginx-$sc.log" 2>&1 &
	PID[$k]=$!
	PIDS+=("$!")
	PORT[$k]=$port
	LOGF[$k]=$TMP/nginx-$sc.log
	wait_port "$port" "${PID[$k]}" || fail_start "nginx proxy ($sc)" "${LOGF[$k]}"
	CPUPID[$k]=$(nginx_workers "${PID[$k]}" "$THREADS") || fail_start "nginx proxy ($sc): not $THREADS worker processes" "${LOGF[$k]}"
}

for sc in $SCENARIOS; do
	start_strata "$sc"
	start_haproxy "$sc"
	start_nginx "$sc"
done

url() {  # url TARGET SCENARIO [PATH]
	local scheme=http
	[ "$2" = tls ] && scheme=https
	echo "$scheme://127.0.0.1:${PORT[$1:$2]}/${3:-}"
}

# Sanity: every path answers "hello" over HTTP/1.1, and both backends are used.
for sc in $SCENARIOS; do
	for t in $TARGETS; do
		k=$t:$sc
		logf=${LOGF[$k]:-$TMP/backend.log}
		ok=0
		for i in $(seq 50); do
			if [ "$(curl -sk -m 2 "$(url "$t" "$sc")")" = hello ]; then ok=1; break; fi
			sleep 0.1
		done
		[ "$ok" = 1 ] || fail_start "$t $sc (no \"hello\" through it)" "$logf"
		v=$(curl -sk -m 2 -o /dev/null -w '%{http_version} %{http_code}' "$(url "$t" "$sc")" || true)
		[ "$v" = "1.1 200" ] || fail_start "$t $sc (answered '$v', not HTTP/1.1 200)" "$logf"
		[ "$t" = direct ] && continue
		seen=""
		for i in $(seq 8); do seen="$seen $(curl -sk -m 2 "$(url "$t" "$sc" who)" || true)"; done
		case "$seen" in *b1*b2* | *b2*b1*) ;; *) fail_start "$t $sc (does not balance over both backends: got$seen)" "$logf" ;; esac
	done
done

# ----------------------------------------------------------------- runs ---

CLK_TCK=$(getconf CLK_TCK)
cat >"$TMP/report.lua" <<'EOF'
-- Machine-readable summary of a wrk run (latencies in microseconds).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %.0f %.0f %.0f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %d %d %d %d %d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# sched_stats PID: "RUNQ_NS NVCSW" summed over the threads of PID: time spent
# runnable but waiting for a CPU, and involuntary context switches (preemptions).
sched_stats() {  # PIDS (space-separated)
	local f q=0 n=0 b rest k v p
	for p in $1; do for f in /proc/"$p"/task/*; do
		{ read -r _ b rest <"$f/schedstat"; } 2>/dev/null || continue
		q=$((q + b))
		{ while read -r k v; do
			[ "$k" = nonvoluntary_ctxt_switches: ] && n=$((n + v))
		done <"$f/status"; } 2>/dev/null || true
	done; done
	echo "$q $n"
}

# cpu_ticks PIDS: "UTIME STIME" of every thread of the (space-separated) PIDS, in clock
# ticks; cpu_ticks self: those of our reaped children (wrk).
cpu_ticks() {
	local s p u=0 st=0
	for p in $1; do
		s=$(cat "/proc/${p/self/$$}/stat" 2>/dev/null) || continue
		s=${s##*) }
		# shellcheck disable=SC2086
		set -- "$p" $s
		if [ "$1" = self ]; then u=$((u + ${15})); st=$((st + ${16})); else u=$((u + ${13})); st=$((st + ${14})); fi
	done
	echo "$u $st"
}

machine_ticks() {  # user + nice + system time of all CPUs (not softirq: no process is charged for it)
	local _c u n sy rest
	read -r _c u n sy rest </proc/stat
	echo $((u + n + sy))
}

backend_counters() {  # "ACCEPTS REQUESTS" of the backend nginx (this request's own included)
	curl -s -m 2 "http://127.0.0.1:$B_STATUS/status" | awk 'NR == 3 { print $1, $3 }'
}

alive() {  # alive TARGET SCENARIO
	local pid=${PID[$1:$2]} cp=${CPUPID[$1:$2]}
	[ -z "$pid" ] && return 0
	kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
	[ "$cp" = "$pid" ] && return 0
	local p
	for p in $cp; do kill -0 "$p" 2>/dev/null || return 1; done
}

died() {  # died TARGET SCENARIO WHEN
	local k=$1:$2 pid=${PID[$1:$2]} rc=0 how
	log ""
	local state
	state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null || true)
	if [ -z "$state" ] || [ "$state" = Z ]; then
		wait "$pid" 2>/dev/null || rc=$?
		if [ "$rc" -gt 128 ]; then
			how="killed by signal $((rc - 128)) (SIG$(kill -l $((rc - 128)) 2>/dev/null || echo ?))"
		else
			how="exited with status $rc"
			[ "$rc" = 0 ] && [ "$1" = strata ] &&
				how="$how (strata exits 0 after draining on SIGTERM/SIGINT; at --log-level warn it logs nothing then: was it stopped from outside the benchmark?)"
		fi
	else
		how="its worker (pid ${CPUPID[$k]}) is gone"
	fi
	log "lb_http.sh: $1 ($2) is gone $3: $how."
	log "The last lines of its log ($LOGDIR/${LOGF[$k]##*/}):"
	tail -n 40 "${LOGF[$k]}" 2>/dev/null | sed 's/^/    /' >&2 || true
	if [ -s "$TMP/wrk.out" ]; then
		cp "$TMP/wrk.out" "$LOGDIR/wrk-when-$1-$2-died.out"
		log "wrk's output ($LOGDIR/wrk-when-$1-$2-died.out):"
		sed 's/^/    /' "$TMP/wrk.out" >&2
	fi
	exit 1
}

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
CSV=$RESULTS/lb_http-$STAMP.csv

tls_params() {  # tls_params PORT: what OpenSSL's defaults (as used by wrk) negotiate
	openssl s_client -connect "127.0.0.1:$1" -servername localhost -alpn http/1.1 </dev/null 2>/dev/null |
		awk '/^New, / { p = $2; c = $NF; sub(/,$/, "", p) } /^ALPN protocol:/ { a = $3 }
			/^Server Temp Key:/ { sub(/^Server Temp Key: */, ""); k = $0 }
			END { printf "%s %s, key exchange %s, alpn %s\n", p, c, k, (a == "" ? "none" : a) }'
}

# What ran where, next to the CSV (lb_http-STAMP.env); --report prints it with the table.
{
	rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	[ -n "$(git -C "$ROOT" status --porcelain -- src Makefile 2>/dev/null)" ] && rev="$rev+uncommitted changes in src"
	stale=""
	[ -n "$(find "$ROOT/src" "$ROOT/Makefile" -newer "$STRATA" -print -quit 2>/dev/null)" ] &&
		stale=" (OLDER than some files in $ROOT/src)"
	echo "strata=$("$STRATA" --version 2>/dev/null | head -1), $STRATA, tree $ROOT at git $rev, binary built $(date -u -r "$STRATA" '+%F %T') UTC$stale"
	echo "haproxy=$(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3), $(haproxy -vv 2>/dev/null | grep -m1 'Running on OpenSSL' | sed 's/^ *//')"
	echo "nginx=$(nginx -v 2>&1 | head -1 | sed 's/^nginx version: //'), $(nginx -V 2>&1 | grep -m1 -o 'built with OpenSSL [^ ]*')"
	echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "openssl=$(openssl version)"
	echo "machine=$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r)"
	if [[ " $SCENARIOS " == *" tls "* ]]; then
		echo "tls_cert=$TLS_KEY ($(openssl x509 -in "$CERT" -noout -text | grep -m1 -E 'Public-Key' | sed 's/^ *//'))"
		for t in $TARGETS; do echo "tls_$t=$(tls_params "${PORT[$t:tls]}")"; done
	fi
	echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "started=$(date -u '+%F %T') UTC"
	echo "params=THREADS=$THREADS ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS WRK_THREADS=$WRK_THREADS PAUSE=$PAUSE TLS_KEY=$TLS_KEY NGINX_KEEPALIVE=$NGINX_KEEPALIVE SCENARIOS='$SCENARIOS'"
} >"${CSV%.csv}.env"
if [ "$(grep -E '^tls_(direct|strata|haproxy|nginx)=' "${CSV%.csv}.env" | cut -d= -f2- | sort -u | wc -l)" -gt 1 ]; then
	log "lb_http.sh: warning: the TLS listeners do not all negotiate the same parameters:"
	grep -E '^tls_(direct|strata|haproxy|nginx)=' "${CSV%.csv}.env" | sed 's/^/    /' >&2
fi
echo "round,target,scenario,threads,conns,wrk_threads,duration_s,requests,bytes,rps,lat_p50_ms,lat_p75_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_mean_ms,lat_max_ms,proxy_cpu_s,proxy_cpu_us_per_req,backend_cpu_s,err_connect,err_read,err_write,err_timeout,non2xx,leftover_sockets,backend_new_conns,backend_requests,proxy_runq_wait_ms,proxy_preemptions,wrk_cpu_s,other_cpu_s" >"$CSV"

declare -A LABEL=([keepalive]="keep-alive" [tls]="TLS")

# wrk_errors FILE: "CONNECT READ WRITE TIMEOUT NON2XX" from wrk's own text lines
wrk_errors() {
	awk '/Socket errors:/ { gsub(/,/, ""); c = $4; r = $6; w = $8; t = $10 }
		/Non-2xx or 3xx responses:/ { n = $NF }
		END { printf "%d %d %d %d %d\n", c, r, w, t, n }' "$1"
}

# run ROUND TARGET SCENARIO [quiet]
run() {
	local round=$1 t=$2 sc=$3 quiet=${4:-} k=$2:$3 u out
	u=$(url "$t" "$sc")
	alive "$t" "$sc" || died "$t" "$sc" "before round $round"
	[ -z "$quiet" ] && printf 'round %d/%d: %-7s %-10s ... ' "$round" "$ROUNDS" "$t" "${LABEL[$sc]}" >&2
	local pid=${CPUPID[$k]} pu0=0 ps0=0 pu1=0 ps1=0 bu0 bs0 bu1 bs1 wu0 ws0 wu1 ws1 m0 m1 q0=0 q1=0 v0=0 v1=0 a0 r0 a1 r1
	read -r a0 r0 < <(backend_counters)
	read -r wu0 ws0 < <(cpu_ticks self)
	m0=$(machine_ticks)
	read -r bu0 bs0 < <(cpu_ticks "$BACKEND_WORKER")
	[ -n "$pid" ] && read -r pu0 ps0 < <(cpu_ticks "$pid") && read -r q0 v0 < <(sched_stats "$pid")
	timeout -k 5 $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
		-s "$TMP/report.lua" "$u" >"$TMP/wrk.out" 2>&1 &
	WRK_PID=$!
	local wrc=0
	wait "$WRK_PID" || wrc=$?
	WRK_PID=""
	[ -n "$pid" ] && read -r pu1 ps1 < <(cpu_ticks "$pid") && read -r q1 v1 < <(sched_stats "$pid")
	read -r bu1 bs1 < <(cpu_ticks "$BACKEND_WORKER")
	m1=$(machine_ticks)
	read -r wu1 ws1 < <(cpu_ticks self)
	read -r a1 r1 < <(backend_counters)
	alive "$t" "$sc" || died "$t" "$sc" "during round $round"
	out=$(grep '^RESULT ' "$TMP/wrk.out" || true)
	if [ "$wrc" != 0 ] || [ -z "$out" ]; then
		log ""
		log "lb_http.sh: wrk failed (exit $wrc) against $t $sc ($u):"
		sed 's/^/    /' "$TMP/wrk.out" >&2
		cp "$TMP/wrk.out" "$LOGDIR/wrk-$round-$t-$sc.out"
		exit 1
	fi
	# shellcheck disable=SC2086
	set -- $out
	local ec=${12} er=${13} ew=${14} es=${15} et=${16} tc tr tw tt tn
	# wrk's text lines too ("Socket errors: ...", "Non-2xx or 3xx responses: N"): the larger count wins
	read -r tc tr tw tt tn < <(wrk_errors "$TMP/wrk.out")
	[ "$tc" -gt "$ec" ] && ec=$tc
	[ "$tr" -gt "$er" ] && er=$tr
	[ "$tw" -gt "$ew" ] && ew=$tw
	[ "$tt" -gt "$et" ] && et=$tt
	[ "$tn" -gt "$es" ] && es=$tn
	local errs=$((ec + er + ew + et + es))
	if [ -n "$quiet" ]; then
		if [ "$errs" -gt 0 ]; then
			log "lb_http.sh: !!! wrk reported errors in the warm-up against $t $sc (connect $ec, read $er, write $ew, timeout $et, non-2xx/3xx $es):"
			sed 's/^/    /' "$TMP/wrk.out" >&2
			cp "$TMP/wrk.out" "$LOGDIR/wrk-warmup-$t-$sc.out"
			ANY_ERRORS=1
			[ "$KEEP_GOING" = 1 ] || exit 1
		fi
		return 0
	fi
	sleep "$PAUSE"
	# Sessions the proxy still holds after the clients have gone (not LISTEN/TIME-WAIT).
	local leftover=0
	if [ "$t" != direct ]; then
		leftover=$(ss -Htan "( sport = :${PORT[$k]} )" | grep -Ecv '^(LISTEN|TIME-WAIT)' || true)
	fi
	local line
	line=$(awk -v round="$round" -v t="$t" -v sc="$sc" -v thr="$THREADS" -v conns="$CONNS" -v wthr="$WRK_THREADS" \
		-v req="$2" -v dur="$3" -v bytes="$4" -v p50="$5" -v p75="$6" -v p90="$7" -v p99="$8" -v p999="$9" \
		-v mean="${10}" -v max="${11}" -v ec="$ec" -v er="$er" -v ew="$ew" -v es="$es" -v et="$et" \
		-v cpu=$((pu1 + ps1 - pu0 - ps0)) -v bcpu=$((bu1 + bs1 - bu0 - bs0)) -v hz="$CLK_TCK" \
		-v runq=$((q1 - q0)) -v nvcsw=$((v1 - v0)) -v proxied="$([ -n "$pid" ] && echo 1 || echo 0)" \
		-v left="$leftover" -v bconns=$((a1 - a0 - 1)) -v breq=$((r1 - r0 - 1)) \
		-v wcpu=$((wu1 + ws1 - wu0 - ws0)) \
		-v other=$(((m1 - m0) - (pu1 + ps1 - pu0 - ps0) - (bu1 + bs1 - bu0 - bs0) - (wu1 + ws1 - wu0 - ws0))) 'BEGIN {
		d = dur / 1e6
		rps = req / d
		cs = cpu / hz
		if (proxied) {
			pcpu = sprintf("%.3f", cs)
			per_req = req ? sprintf("%.2f", cs * 1e6 / req) : ""
			prunq = sprintf("%.1f", runq / 1e6); pnv = nvcsw
		} else { pcpu = ""; per_req = ""; prunq = ""; pnv = "" }
		printf "%d,%s,%s,%d,%d,%d,%.3f,%.0f,%.0f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%s,%s,%.3f,%d,%d,%d,%d,%d,%d,%d,%d,%s,%s,%.3f,%.3f\n",
			round, t, sc, thr, conns, wthr, d, req, bytes, rps, p50/1e3, p75/1e3, p90/1e3, p99/1e3,
			p999/1e3, mean/1e3, max/1e3, pcpu, per_req, bcpu / hz, ec, er, ew, et, es, left,
			bconns, breq, prunq, pnv, wcpu / hz, (other > 0 ? other : 0) / hz
	}')
	echo "$line" >>"$CSV"
	# progress: the headline figures of the run
	awk -F, -v errs="$errs" -v left="$leftover" '{
		s = sprintf("%.0f req/s, p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms", $10, $11, $14, $15)
		if ($19 != "") s = s sprintf(", proxy CPU %s us/req, runnable-not-running %s ms", $19, $29)
		s = s sprintf(", backend conns %d", $27)
		if ($32 / $7 >= 0.1) s = s sprintf(", OTHER LOAD %.0f%% of a CPU", $32 / $7 * 100)
		if (errs > 0) s = s sprintf(", %d ERRORS", errs)
		if (left > 0) s = s sprintf(", %d sockets left open", left)
		print s
	}' <<<"$line" >&2
	if [ "$leftover" -gt 0 ]; then
		ss -Htan "( sport = :${PORT[$k]} )" | grep -Ev '^(LISTEN|TIME-WAIT)' | awk '{print $1}' |
			sort | uniq -c | sed 's/^/    /' >&2
	fi
	if [ "$errs" -gt 0 ]; then
		ANY_ERRORS=1
		cp "$TMP/wrk.out" "$LOGDIR/wrk-$round-$t-$sc.out"
		log ""
		log "lb_http.sh: !!! wrk reported errors against $t ${LABEL[$sc]} in round $round: connect $ec, read $er, write $ew, timeout $et, non-2xx/3xx $es"
		log "wrk's output (kept in $LOGDIR/wrk-$round-$t-$sc.out):"
		sed 's/^/    /' "$TMP/wrk.out" >&2
		if [ -n "${LOGF[$k]:-}" ]; then
			log "the last lines of the $t log (${LOGF[$k]}):"
			tail -n 20 "${LOGF[$k]}" | sed 's/^/    /' >&2
		fi
		if [ "$KEEP_GOING" != 1 ]; then
			log "lb_http.sh: stopping (KEEP_GOING=1 carries on); rows so far in $CSV"
			exit 1
		fi
	fi
}

per_run=$((DURATION + PAUSE))
nsc=$(wc -w <<<"$SCENARIOS")
est=$((ROUNDS * 4 * nsc * per_run + 4 * nsc * 2 + 5))
log "$("$STRATA" --version 2>/dev/null | head -1 || echo "$STRATA"), threads=$THREADS, rounds=$ROUNDS, ${DURATION}s per run, wrk -t$WRK_THREADS -c$CONNS, about $((est / 60)) min $((est % 60)) s"
log "nginx backends :$B1 :$B2 (TLS :$B1_TLS, worker pid $BACKEND_WORKER)"
for sc in $SCENARIOS; do
	log "  $sc: strata :${PORT[strata:$sc]} (pid ${PID[strata:$sc]}), haproxy :${PORT[haproxy:$sc]} (pid ${PID[haproxy:$sc]}), nginx :${PORT[nginx:$sc]} (worker pid ${CPUPID[nginx:$sc]})"
done
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l >= 0.5) }'; then
	log "lb_http.sh: note: load average $load at start; other work on the machine skews the figures"
fi

# Warm-up (not recorded): TLS sessions, pools of backend connections, caches.
DURATION_SAVE=$DURATION
DURATION=2
for sc in $SCENARIOS; do
	for t in $TARGETS; do
		run 0 "$t" "$sc" quiet
	done
done
DURATION=$DURATION_SAVE

read -r -a proxies <<<"$PROXIES"
for ((r = 1; r <= ROUNDS; r++)); do
	# Rotate which proxy goes first, so that none always runs right after the baseline.
	order=()
	for ((i = 0; i < 3; i++)); do order+=("${proxies[(r - 1 + i) % 3]}"); done
	for sc in $SCENARIOS; do
		run "$r" direct "$sc"
		for t in "${order[@]}"; do
			run "$r" "$t" "$sc"
		done
	done
done
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"${CSV%.csv}.env"

cp "$CSV" "$RESULTS/lb_http.csv"
cp "${CSV%.csv}.env" "$RESULTS/lb_http.env"
RAW=$CSV
CSV=$RESULTS/lb_http.csv
SCENARIOS_IN_CSV=$SCENARIOS
summarize
log "raw: $RAW (also $RESULTS/lb_http.csv); medians: $RESULTS/lb_http_medians.csv; table: $RESULTS/lb_http.txt; logs: $LOGDIR/"
if [ "$ANY_ERRORS" = 1 ]; then
	log "lb_http.sh: !!! wrk reported errors in some runs (see above and the table); failing"
	exit 1
fi
