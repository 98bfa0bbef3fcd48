#!/usr/bin/env bash
# Runs brix's benchmarks (build/bench/bench-* and the scripts tests/bench/bench_*.sh), each
# printing its measurements beside a baseline measured in the same run. Builds them first. Extra
# arguments go to every benchmark.
#   scripts/bench.sh                 all benchmarks
#   BENCH=bench-launch scripts/bench.sh --workers 32 --agents 1024
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BRIX_BUILD_DIR:-build}
[ -d "$build" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
status=0
for bench in "$build"/bench/${BENCH:-bench-*}; do
  [ -x "$bench" ] || continue
  echo "== $(basename "$bench")"
  "$bench" "$@" || status=1
done
for script in tests/bench/bench_*.sh; do
  name=$(basename "$script" .sh | tr _ -)
  [[ "$name" == ${BENCH:-bench-*} ]] || continue
  echo "== $name"
  BRIX_BUILD_DIR="$build" bash "$script" "$@" || status=1
done
exit $status
