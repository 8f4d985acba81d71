#!/bin/sh
# Runs each libFuzzer binary for a bounded time, seeded with its corpus in
# tests/fuzz/corpus/NAME/ (new finds go to a scratch copy, not the tree).
# A crash prints the reproducer's path and fails the run.
seconds=$1; shift
for f in "$@"; do
  name=$(basename "$f")
  work=$(mktemp -d)
  mkdir -p "$work/corpus"
  if [ -d "tests/fuzz/corpus/$name" ]; then cp -r "tests/fuzz/corpus/$name/." "$work/corpus/"; fi
  echo "fuzz: $name for ${seconds}s"
  "$f" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
  status=$?
  tail -n 8 "$work/log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $status); artifacts:"; ls "$work"
    cat "$work/log" | grep -A30 "ERROR" | head -60
    exit "$status"
  fi
  rm -rf "$work"
done
