# bench/lib.sh - helpers the benchmark scripts share (sourced, not run).

# A scratch directory, and the processes started (pids+=($!)), both gone at exit.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# port: a free TCP port on 127.0.0.1.
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT: until something listens on 127.0.0.1:PORT (5 s at most, then exit 1).
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

# median N...: the median of the numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# compare MEASURE LABEL=ARG...: ROUNDS rounds of MEASURE ARG for every label, in an order that
# rotates each round; prints each label's median and its ratio to the first label's.
compare() {
	local measure=$1; shift
	local labels=() args=() n=$# r i k
	for x in "$@"; do labels+=("${x%%=*}"); args+=("${x#*=}"); done
	declare -A got=()
	for r in $(seq "$ROUNDS"); do
		local line="round $r/$ROUNDS:"
		for k in $(seq 0 $((n - 1))); do
			i=$(( (k + r) % n ))
			v=$("$measure" "${args[$i]}")
			got[$i]="${got[$i]:-} $v"
			line="$line ${labels[$i]} $v"
		done
		echo "$line" >&2
	done
	local first
	for i in $(seq 0 $((n - 1))); do
		# shellcheck disable=SC2086
		m=$(median ${got[$i]})
		[ "$i" = 0 ] && first=$m
		printf '  %-28s median %12s   ratio %.3f\n' "${labels[$i]}" "$m" "$(echo "$m / $first" | bc -l)"
	done
}


# redis_rps "PORT PIPELINE COMMAND...": redis-benchmark's requests/s for one command line
# (-c CONNS clients, REQUESTS requests, __rand_int__ over 100,000 keys).
redis_rps() {
	local a
	read -r -a a <<< "$1"
	redis-benchmark -p "${a[0]}" -c "$CONNS" -n "${REQUESTS:-500000}" -r 100000 -P "${a[1]}" \
		--csv "${a[@]:2}" | tail -1 | awk -F'"' '{print $4}'
}
