#!/usr/bin/env bash
# Runs one fuzz target: every input of its seed corpus first (a regression run: crashes found
# earlier live there), then SECONDS of fuzzing from it. New inputs go to a scratch folder beside
# the binary, never into the tree; a crash, leak, timeout or out-of-memory leaves its input in
# fuzz/findings/ and fails.
#   run_fuzz.sh FUZZ_BINARY SEED_DIR SECONDS [libFuzzer options...]
#   BRIX_FUZZ_SEED=N   libFuzzer's random seed (default 1)
set -euo pipefail
binary=$1 seeds=$2 seconds=$3
shift 3
name=$(basename "$binary")
dir=$(dirname "$binary")
scratch="$dir/scratch/$name"
findings="$dir/findings"
mkdir -p "$scratch" "$findings"
[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || { echo "no seed corpus in $seeds" >&2; exit 1; }
# -timeout: one input may take 10 s; -rss_limit_mb: 2 GiB; -max_len: 64 KiB covers every seed.
# -seed: the same mutations on every run (BRIX_FUZZ_SEED, default 1), so a test run fails only on
# what the code under test does, not on what a random seed happened to try; long runs for new
# findings are started by hand with their own seed (tests/fuzz/README.md).
"$binary" -seed="${BRIX_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$findings/$name-" "$@" "$scratch" "$seeds" 2>"$dir/$name.log" ||
  { tail -60 "$dir/$name.log"; exit 1; }
# libFuzzer's closing figures: how many inputs ran, how many seeds, coverage reached.
grep -E '^(Done|#[0-9]+ +(INITED|DONE))|stat::number_of_executed_units' "$dir/$name.log" | tail -3
