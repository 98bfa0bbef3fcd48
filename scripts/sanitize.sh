#!/usr/bin/env bash
# The sanitizer build and its tests: brix built by clang with ASan + UBSan (and libFuzzer's
# coverage hooks) into ./build-fuzz, then the unit tests, the CLI tests that fit (the bad-input
# corpus, plans, shards, probes, report datagrams) and every fuzz target (its seed corpus,
# then BRIX_FUZZ_SECONDS of fuzzing) run under the sanitizers. scripts/test.sh runs it after
# the regular build's tests; packages come from scripts/setup.sh.
#   BRIX_FUZZ_BUILD_DIR=dir   build elsewhere
#   BRIX_FUZZ_SECONDS=N       seconds of fuzzing per target (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BRIX_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz -DBRIX_FUZZ=ON \
  -DBRIX_FUZZ_SECONDS="${BRIX_FUZZ_SECONDS:-10}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
cd "$build_dir"
# Every test here is independent (no Slurm, no measured fabric): one per core.
ctest --output-on-failure --timeout 1800 -j "${BRIX_TEST_JOBS:-$(nproc)}"
