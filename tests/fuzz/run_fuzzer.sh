#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from a copy of its seed corpus (the checked-in
# corpus is never written to). usage: run_fuzzer.sh FUZZER SEED_DIR SECONDS [EXTRA_SEED_FILE...]
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp -r "$seeds"/. "$work/corpus/"
for extra in "$@"; do
  cp "$extra" "$work/corpus/"
done
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" && exit 0
status=$?
# Keep what crashed it, in the test's working directory, to reproduce: FUZZER FILE
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
  [ -f "$f" ] && cp "$f" . && echo "kept $(basename "$f")"
done
exit "$status"
