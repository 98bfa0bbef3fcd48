#!/usr/bin/env bash
# Runs brix's benchmarks (build/bench/bench-* and the scripts tests/bench/bench_*.sh), each
# printing its measurements beside a baseline measured in the same run, with the load average
# before and after (on a shared machine, rerun when it is high). Builds them first. Extra
# arguments go to the benchmarks BENCH selects (each has its own options).
#   scripts/bench.sh                                   all benchmarks
#   BENCH=bench-launch scripts/bench.sh --workers 32
#   BENCH=bench-rendezvous scripts/bench.sh --agents 1024,4096
#   BENCH=bench-monitor-scale scripts/bench.sh --nodes 2048 --seconds 30
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ] && [ -z "${BENCH:-}" ]; then
  echo "scripts/bench.sh: options go to one benchmark: BENCH=bench-NAME scripts/bench.sh $*" >&2
  exit 2
fi
build=${BRIX_BUILD_DIR:-build}
[ -d "$build" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
load() { echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"; }
status=0
for bench in "$build"/bench/${BENCH:-bench-*}; do
  [ -x "$bench" ] || continue
  echo "== $(basename "$bench")"
  load
  "$bench" "$@" || status=1
  load
done
for script in tests/bench/bench_*.sh; do
  name=$(basename "$script" .sh | tr _ -)
  [[ "$name" == ${BENCH:-bench-*} ]] || continue
  echo "== $name"
  load
  BRIX_BUILD_DIR="$build" bash "$script" "$@" || status=1
  load
done
exit $status
