#!/usr/bin/env bash
# bench/ring.sh - consistent hashing measured with `strata ring`:
#   1. balance (peak-to-mean, stddev) against vnodes per node for N=10 and N=100
#   2. every algorithm: balance, keys moved on adding and on removing a node
#      against the ideal, lookup time, memory
# Results: a Markdown table on stdout and in bench/results/ring.md, CSV in
# bench/results/ring-*.csv, a chart in bench/results/ring_vnodes.png (gnuplot).
#
#   bench/ring.sh            1 M keys (about a minute)
#   KEYS=100000 bench/ring.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STRATA=${STRATA:-./strata}
KEYS=${KEYS:-1000000}
RESULTS=${RESULTS:-bench/results}
mkdir -p "$RESULTS"

field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }

out="$RESULTS/ring.md"
{
echo "### Balance against virtual nodes (ring, $KEYS keys)"
echo
echo "| nodes | vnodes | peak/mean | stddev / mean | lookup ns | memory |"
echo "|---:|---:|---:|---:|---:|---:|"
} >"$out"
echo "nodes,vnodes,peak_to_mean,stddev,mean,lookup_ns,memory_bytes" >"$RESULTS/ring-vnodes.csv"
for n in 10 100; do
	for v in 1 16 64 160 256 1024; do
		echo "ring.sh: vnodes $v, nodes $n" >&2
		j=$("$STRATA" ring --algo ring --nodes "$n" --vnodes "$v" --keys "$KEYS" --json)
		p=$(field "$j" peak_to_mean); s=$(field "$j" stddev); m=$(field "$j" mean)
		l=$(field "$j" lookup_ns); b=$(field "$j" memory_bytes)
		echo "$n,$v,$p,$s,$m,$l,$b" >>"$RESULTS/ring-vnodes.csv"
		printf '| %s | %s | %s | %.4f | %s | %s |\n' "$n" "$v" "$p" \
			"$(awk -v s="$s" -v m="$m" 'BEGIN{print s/m}')" "$l" "$b" >>"$out"
	done
done

{
echo
echo "### Every algorithm (N = 100 nodes, $KEYS keys; ring and bounded with 256 vnodes, bounded epsilon 0.25)"
echo
echo "| algorithm | peak/mean | moved on add 1 / ideal | moved on remove 1 / ideal | lookup ns | memory |"
echo "|---|---:|---:|---:|---:|---:|"
} >>"$out"
echo "algo,peak_to_mean,add_moved,add_ideal,remove_moved,remove_ideal,lookup_ns,memory_bytes" \
	>"$RESULTS/ring-algos.csv"
for a in ring bounded jump maglev rendezvous; do
	echo "ring.sh: $a" >&2
	vn=(); [[ $a == ring || $a == bounded ]] && vn=(--vnodes 256)
	add=$("$STRATA" ring --algo "$a" --nodes 100 "${vn[@]}" --keys "$KEYS" --add 1 --json)
	rem=$("$STRATA" ring --algo "$a" --nodes 100 "${vn[@]}" --keys "$KEYS" --remove 1 --json)
	am=$(field "$add" moved); ai=$(field "$add" ideal_moved)
	rm_=$(field "$rem" moved); ri=$(field "$rem" ideal_moved)
	echo "$a,$(field "$add" peak_to_mean),$am,$ai,$rm_,$ri,$(field "$add" lookup_ns),$(field "$add" memory_bytes)" \
		>>"$RESULTS/ring-algos.csv"
	printf '| %s | %s | %s / %s (%.3fx) | %s / %s (%.3fx) | %s | %s |\n' "$a" \
		"$(field "$add" peak_to_mean)" "$am" "$ai" "$(awk -v a="$am" -v b="$ai" 'BEGIN{print a/b}')" \
		"$rm_" "$ri" "$(awk -v a="$rm_" -v b="$ri" 'BEGIN{print a/b}')" \
		"$(field "$add" lookup_ns)" "$(field "$add" memory_bytes)" >>"$out"
done
cat "$out"

if command -v gnuplot >/dev/null 2>&1; then
	gnuplot <<GP
set terminal pngcairo size 900,500
set output '$RESULTS/ring_vnodes.png'
set title 'Hash ring balance against virtual nodes ($KEYS keys)'
set logscale x 2
set xlabel 'virtual nodes per node'
set ylabel 'peak-to-mean load'
set datafile separator ','
set key top right
plot '< grep "^10," $RESULTS/ring-vnodes.csv' using 2:3 with linespoints lw 2 title 'N = 10', \
     '< grep "^100," $RESULTS/ring-vnodes.csv' using 2:3 with linespoints lw 2 title 'N = 100', \
     1.10 with lines dt 2 title 'target 1.10'
GP
	echo "chart: $RESULTS/ring_vnodes.png"
else
	echo "gnuplot is not installed (apt-get install gnuplot-nox): no chart" >&2
fi
